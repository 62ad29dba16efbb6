"""What the frequent commands load: start-up time is mostly imports, so each one kept off a path is a measured
saving (bench/side_by_side.py). These tests pin the modules a command must not need; they count nothing in time.

Each command runs in a fresh interpreter against the local authorization server, as ``hyperframes`` would, and
reports the modules it ended with.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from .people import sign_in

if TYPE_CHECKING:
    from .conftest import AuthServer

REPORT = """
import json, sys
from hyperframes_auth.entrypoints.main import main
code = main(sys.argv[1:])
sys.stdout.flush()
print(json.dumps({"code": code, "modules": sorted(sys.modules)}), file=sys.stderr)
"""

# A sign-in's machinery (PKCE and its hashes, the callback judge, the listener), the full command-line parser and
# the browser launcher: none of them is needed to read, refresh or check a stored sign-in.
SIGN_IN_ONLY = {
    "hyperframes_auth.domain.pkce",
    "hyperframes_auth.domain.callback",
    "hyperframes_auth.adapters.listener",
    "hyperframes_auth.adapters.browser",
    "hyperframes_auth.entrypoints.cli",
    "typer",
    "click",
    "webbrowser",
    "encodings.idna",  # socket.getaddrinfo loads it for a str host name, even "127.0.0.1"
}
# `auth status` sends one GET: the state machine (which runs grants) stays unloaded.
MACHINE = {"hyperframes_auth.domain.flow", "hyperframes_auth.domain.machine", "hyperframes_auth.domain.driver"}
# `auth token` with a fresh token reads one file: no HTTP client, no attrs classes, no cattrs converter.
NETWORK_AND_CODEC = {"http.client", "ssl", "attrs", "cattrs", "hyperframes_auth.adapters.codec"}


def _loaded(env: dict[str, str], *args: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", REPORT, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    report = json.loads(done.stderr.strip().splitlines()[-1])
    assert report["code"] == 0, done.stdout + done.stderr
    return set(report["modules"])


@pytest.fixture
def signed_in(auth_server: AuthServer, tmp_path: Path) -> dict[str, str]:
    import os

    env = sign_in(auth_server, tmp_path)
    return {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), **env}


def test_auth_status_loads_neither_the_sign_in_machinery_nor_the_state_machine(signed_in: dict[str, str]) -> None:
    loaded = _loaded(signed_in, "auth", "status", "--json")
    assert "http.client" in loaded  # the check did reach the server
    assert loaded.isdisjoint(SIGN_IN_ONLY | MACHINE), sorted(loaded & (SIGN_IN_ONLY | MACHINE))


def test_auth_refresh_runs_the_machine_without_the_sign_in_machinery(signed_in: dict[str, str]) -> None:
    loaded = _loaded(signed_in, "auth", "refresh")
    assert loaded >= MACHINE  # a refresh is a grant: the state machine runs it
    assert loaded.isdisjoint(SIGN_IN_ONLY), sorted(loaded & SIGN_IN_ONLY)


def test_auth_token_with_a_fresh_token_reads_one_file_and_nothing_more(signed_in: dict[str, str]) -> None:
    loaded = _loaded(signed_in, "auth", "token")
    assert loaded.isdisjoint(SIGN_IN_ONLY | MACHINE | NETWORK_AND_CODEC), sorted(
        loaded & (SIGN_IN_ONLY | MACHINE | NETWORK_AND_CODEC)
    )
