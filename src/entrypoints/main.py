"""The ``hyperframes`` console script.

``--version``, ``auth token``, ``auth status`` and ``auth refresh`` are what scripts and prompts call over and
over, so their cold start is a measured goal: when the command line is exactly one of them (with ``--json`` / ``--verbose``), they run
without loading typer. Everything else, ``--help`` and shell completion included, goes through the typer
application in ``cli.py``, which calls the very same functions, so the fast path and the full parser cannot
disagree.

Every way out is orderly: a reader that goes away (``auth token | head -c 10``) ends the command quietly with
exit 141, as for any Unix tool; Ctrl-C exits 130 with ``Aborted.``; a bug is one line, never a traceback (unless
``HYPERFRAMES_DEBUG=1``), because a traceback could show a token.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .terminal import Terminal

FAST = {"token", "status", "refresh"}
FAST_FLAGS = {"--json", "--verbose", "-v"}
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a writer whose reader left
# A standard output that cannot take what is written: the command's own work is done; only its report is lost.
_OUTPUT_ERRORS = {errno.ENOSPC, errno.EFBIG, errno.EIO, getattr(errno, "EDQUOT", errno.ENOSPC)}


def _fast(argv: list[str], terminal: Terminal | None, own_process: bool) -> int | None:
    if argv in (["--version"], ["-V"]):
        from .. import __version__

        print(f"hyperframes-auth {__version__}")
        return 0
    if len(argv) < 2 or argv[0] != "auth" or argv[1] not in FAST or not set(argv[2:]) <= FAST_FLAGS:
        return None
    if argv[1] == "refresh" and "--json" in argv:
        return None  # not an option of refresh: typer says so
    if len(set(argv[2:])) != len(argv[2:]):
        return None
    if own_process:
        import gc

        # A short command (its network deadline is 30 s): the cyclic collector would only walk, several times over,
        # the objects that importing creates, a tenth of a cold start. Reference counting still frees the rest.
        gc.disable()
    from .terminal import Terminal

    terminal = terminal or Terminal(own_process=own_process)
    as_json, verbose = "--json" in argv, bool({"--verbose", "-v"} & set(argv))
    if argv[1] == "token":
        from .commands.token import token

        return token(terminal, as_json=as_json, verbose=verbose)
    if argv[1] == "refresh":
        from .commands.refresh import refresh

        return refresh(terminal, verbose=verbose)
    from .commands.status import status

    return status(terminal, as_json=as_json, verbose=verbose)


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


def _quiet_exit_on_broken_pipe() -> int:
    """The reader went away: stop writing, and keep the interpreter from complaining at exit."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return EXIT_BROKEN_PIPE


def main(argv: list[str] | None = None, terminal: Terminal | None = None) -> int:
    """Run the command line; return the exit code.

    Called without arguments (the console script, ``python -m hyperframes_auth``), it ends the process itself once
    its output is flushed: see ``_end``.

    Args:
        terminal: the streams, environment and adapters to run with (tests pass fakes); the real ones by default.
    """
    own_process = argv is None and terminal is None  # the console script, not a test or an embedding program
    code = _main(sys.argv[1:] if argv is None else argv, terminal, own_process)
    if own_process:
        _end(code)
    return code


def _end(code: int) -> None:
    """End the process now, without the interpreter's teardown (about 10 ms, a tenth of a command's run).

    Nothing of ours needs it: every file and lock is closed, and every temporary file removed, before the command
    returns; only the standard streams may still hold output, so they are flushed first.
    """
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        code = _quiet_exit_on_broken_pipe()
    except OSError as exc:
        code = _output_failed(exc)
    with contextlib.suppress(Exception):
        sys.stderr.flush()
    os._exit(code)


def _output_failed(exc: OSError) -> int:
    """Standard output cannot be written (a full disk, ``> /dev/full``, a device error): say so; exit 1."""
    with contextlib.suppress(OSError, ValueError):  # what is still buffered has nowhere to go
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    print(f"Could not write the output: {exc.strerror or type(exc).__name__}.", file=sys.stderr)
    print("Check where standard output goes (a full disk, a closed file).", file=sys.stderr)
    return 1


def _main(argv: list[str], terminal: Terminal | None, own_process: bool) -> int:
    args = bare_api_key(argv)
    try:
        code = _fast(args, terminal, own_process)
        code = code if code is not None else _typer(args, terminal, own_process)
        sys.stdout.flush()
    except BrokenPipeError:
        return _quiet_exit_on_broken_pipe()
    except KeyboardInterrupt:
        print("Aborted.", file=sys.stderr)
        return 130
    except OSError as exc:
        if exc.errno not in _OUTPUT_ERRORS:
            return _internal_error(exc)
        return _output_failed(exc)
    except Exception as exc:
        return _internal_error(exc)
    return code


def _internal_error(exc: Exception) -> int:
    """A bug of ours: say so in one line. Its text could quote data, so only its type is shown; the traceback
    (which never includes local variables) is printed only when asked for."""
    if os.environ.get("HYPERFRAMES_DEBUG") == "1":
        raise exc
    print(f"Internal error ({type(exc).__name__}); this is a bug in hyperframes-auth.", file=sys.stderr)
    print("Set HYPERFRAMES_DEBUG=1 to see the traceback, and report it.", file=sys.stderr)
    return 1


def _typer(args: list[str], terminal: Terminal | None, own_process: bool) -> int:
    from .cli import app

    if terminal is None and own_process:
        from .terminal import Terminal

        terminal = Terminal(own_process=True)

    if "_HYPERFRAMES_COMPLETE" in os.environ:  # a completion script is asking (see commands/completion.py)
        from typer._completion_classes import completion_init

        completion_init()

    streams = sys.stdout, sys.stderr
    try:
        app(args=args, prog_name="hyperframes", obj=terminal)  # standalone: usage errors exit 2
    except SystemExit as exc:
        if sys.stdout is not streams[0]:
            # click met EPIPE (its own help text, or a command's output): it then wraps both streams to keep
            # later flushes quiet and exits 1. Same streams back, and the exit every other way out gives.
            sys.stdout, sys.stderr = streams
            return _quiet_exit_on_broken_pipe()
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0
