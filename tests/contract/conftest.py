"""Fixtures of the contract harness: the real authorization server on 127.0.0.1, and clients pointed at it.

The server is oidc-provider (npm, pinned in server/package-lock.json), started by our server/server.mjs on an
ephemeral port; readiness is the single ``READY <url>`` line it prints. Its stderr (the real reasons behind
generic OAuth error descriptions) is attached to the report of any failing test.

Against HeyGen's dev API instead: set HYPERFRAMES_CONTRACT_TARGET=dev plus the variables in the README; the
scenarios that need the local server's test controls or a person in a browser are then skipped with the reason.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

SERVER_DIR = Path(__file__).parent / "server"
CLIENT_ID = "hyperframes-cli-test"
API_KEY = "hg_contract_test_key_0001"
DEV = os.environ.get("HYPERFRAMES_CONTRACT_TARGET") == "dev"
_running: list[AuthServer] = []


class AuthServer:
    """A running oidc-provider: its URL, its counters, its canned-response queue, its stderr."""

    def __init__(self, **env: str) -> None:
        node = shutil.which("node")
        if node is None:
            pytest.fail("node is required for the contract tests (scripts/setup installs the server's packages)")
        if not (SERVER_DIR / "node_modules" / "oidc-provider").is_dir():
            pytest.fail("the contract server is not installed: run scripts/setup")
        self.stderr_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"oidc-{os.getpid()}-{time.monotonic_ns()}.log"
        self._stderr = self.stderr_path.open("wb")
        self.process = subprocess.Popen(
            [node, "server.mjs"],
            cwd=SERVER_DIR,
            env={**os.environ, "PORT": "0", "CLIENT_ID": CLIENT_ID, "API_KEYS": API_KEY, **env},
            stdout=subprocess.PIPE,
            stderr=self._stderr,
        )
        self.url = self._wait_ready()
        self.http = httpx.Client(base_url=self.url, timeout=10.0, trust_env=False)
        _running.append(self)

    def _wait_ready(self, timeout: float = 20.0) -> str:
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        line = self.process.stdout.readline().decode() if ready else ""
        if not line.startswith("READY "):
            self.stop()
            pytest.fail(f"the authorization server did not start: {line!r}\n{self.stderr_text()}")
        return line.split()[1].strip()

    def stats(self) -> dict[str, Any]:
        return self.http.get("/_test/stats").json()  # type: ignore[no-any-return]

    def refresh_requests(self) -> int:
        return int(self.stats()["token"].get("refresh_token", 0))

    def reset(self) -> None:
        self.http.post("/_test/reset")

    def script(self, path: str, *responses: dict[str, Any]) -> None:
        self.http.post("/_test/script", content=json.dumps({"path": path, "responses": list(responses)}))

    def stderr_text(self) -> str:
        self._stderr.flush()
        return self.stderr_path.read_text(errors="replace")[-4000:]

    def env(self, config_dir: Path | str, **extra: str) -> dict[str, str]:
        """The environment a user would set to point the CLI or the facade at this server."""
        return {
            "HEYGEN_API_URL": self.url,
            "HYPERFRAMES_OAUTH_AUTHORIZE_URL": f"{self.url}/oauth/authorize",
            "HYPERFRAMES_OAUTH_TOKEN_URL": f"{self.url}/v1/oauth/token",
            "HYPERFRAMES_OAUTH_REVOKE_URL": f"{self.url}/v1/oauth/revoke",
            "HYPERFRAMES_OAUTH_DEVICE_URL": f"{self.url}/v1/oauth/device_authorization",
            "HYPERFRAMES_OAUTH_CLIENT_ID": CLIENT_ID,
            "HYPERFRAMES_OAUTH_ISSUER": self.url,
            "HEYGEN_CONFIG_DIR": str(config_dir),
            **extra,
        }

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self._stderr.close()
        if self.process.stdout is not None:
            self.process.stdout.close()
        if hasattr(self, "http"):
            self.http.close()
        if self in _running:
            _running.remove(self)


@pytest.fixture(scope="session")
def auth_server() -> Iterator[AuthServer]:
    """One server for the session (rotation on, long TTLs); tests reset its counters when they count."""
    if DEV:
        pytest.skip("HYPERFRAMES_CONTRACT_TARGET=dev: the local authorization server is not used")
    server = AuthServer()
    yield server
    server.stop()


@pytest.fixture
def server_factory() -> Iterator[Any]:
    """Start extra servers with their own settings (short TTLs, rotation off); stopped after the test."""
    if DEV:
        pytest.skip("HYPERFRAMES_CONTRACT_TARGET=dev: needs the local server's TTL controls")
    started: list[AuthServer] = []

    def start(**env: str) -> AuthServer:
        server = AuthServer(**env)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs of our own, to fill up without touching the real disk (root only; see ``mounts.py``)."""
    from .mounts import small_tmpfs

    with small_tmpfs(tmp_path) as disk:
        yield disk


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.failed and _running:
        for index, server in enumerate(_running):
            report.sections.append((f"authorization server {index} stderr", server.stderr_text()))


PYTHON = sys.executable
STANDIN = str(Path(__file__).parent / "browser_standin.py")
