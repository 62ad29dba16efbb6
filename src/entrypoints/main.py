"""The ``hyperframes`` console script.

``auth token`` and ``auth status`` are what scripts and prompts call over and over, so their cold start is a
measured goal: when the command line is exactly one of them (with ``--json`` / ``--verbose``), they run without
loading typer. Everything else, ``--help`` included, goes through the typer application in ``cli.py``, which
calls the very same functions, so the fast path and the full parser cannot disagree.
"""

from __future__ import annotations

import os
import sys

FAST = {"token", "status"}
FAST_FLAGS = {"--json", "--verbose", "-v"}


def _fast(argv: list[str]) -> int | None:
    if len(argv) < 2 or argv[0] != "auth" or argv[1] not in FAST or not set(argv[2:]) <= FAST_FLAGS:
        return None
    if len(set(argv[2:])) != len(argv[2:]):
        return None
    from . import commands

    run = commands.token if argv[1] == "token" else commands.status
    return run(commands.Io(), as_json="--json" in argv, verbose=bool({"--verbose", "-v"} & set(argv)))


def bare_api_key(args: list[str]) -> list[str]:
    """Let ``--api-key`` stand alone (read the key from stdin or a prompt), as in the TypeScript CLI.

    Click options take a value or none, never both; a bare ``--api-key`` (last, or followed by another
    option) becomes ``--api-key=``, the empty value that means "ask for it".
    """
    out = list(args)
    for i, arg in enumerate(out):
        if arg == "--api-key" and (i + 1 == len(out) or out[i + 1].startswith("-")):
            out[i] = "--api-key="
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    args = bare_api_key(sys.argv[1:] if argv is None else argv)
    try:
        code = _fast(args)
        return code if code is not None else _typer(args)
    except KeyboardInterrupt:
        print("Aborted.", file=sys.stderr)
        return 1
    except Exception as exc:
        # A bug of ours: say so in one line. Its text could quote data, so only its type is shown; the
        # traceback (which never includes local variables) is printed only when asked for.
        if os.environ.get("HYPERFRAMES_DEBUG") == "1":
            raise
        print(f"Internal error ({type(exc).__name__}); this is a bug in hyperframes-auth.", file=sys.stderr)
        print("Set HYPERFRAMES_DEBUG=1 to see the traceback, and report it.", file=sys.stderr)
        return 1


def _typer(args: list[str]) -> int:
    from .cli import app

    try:
        app(args=args, prog_name="hyperframes")  # standalone: click prints usage errors and exits 2
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0
