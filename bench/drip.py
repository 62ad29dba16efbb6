"""Drip: how long each command takes to give up on a server that answers one byte every half second.

    .venv/bin/python bench/drip.py [--bound 200] [--interval 0.5] [--reference]

A local server on 127.0.0.1 answers every OAuth and API path (token, revoke, device authorization,
/v3/users/me) slowly, in two variants:

* headers: the status line and then an endless header, one byte per interval (the response never completes);
* body: complete headers at once (200, JSON, a large Content-Length), then the body one byte per interval.

Every byte arrives well within any per-read timeout, so only an overall deadline ends the wait. Each command runs
in its own process against a server of its own, all at once, each killed at `--bound` seconds (reported as
"> bound"); the give-up time is given from the process's start and from its first request's arrival at the server
(what a deadline can bound: the start of a process, with sixteen starting at once on two cores, is not): `auth status` (a fresh
stored OAuth token: one API request), `auth refresh`, `auth logout --yes` (revocation), `auth token` with a stale
access token (a refresh first) and the library's `HeyGenAuth().whoami()`. Ours is the clean install in
.venv-bench/; `--reference` adds the released TypeScript CLI's `auth status`, `auth refresh` and `auth logout
--yes`. Prints a table (command, variant, give-up seconds, exit code, the message's first line); the rows go to
bench/results/drip.json. The server stops dripping at the bound and stops with the script.
"""

from __future__ import annotations

import argparse
import json
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _common import RESULTS, bench_install, reference_argv

from hyperframes_auth.domain.primitives import format_instant
from tests.contract.conftest import CLIENT_ID
from tests.contract.reference_cli import reference_env

WHOAMI = "from hyperframes_auth import HeyGenAuth\nprint(HeyGenAuth().whoami())"


class DripServer(socketserver.ThreadingTCPServer):
    """Answers any request one byte per ``interval``; ``variant`` is ``headers`` or ``body``."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, variant: str, interval: float, bound: float) -> None:
        super().__init__(("127.0.0.1", 0), DripHandler)
        self.variant = variant
        self.interval = interval
        self.deadline = time.monotonic() + bound + 5  # drips stop by themselves after the bound
        self.stopping = threading.Event()
        self.requests: list[str] = []
        self.first_request: float | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class DripHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        server: DripServer = self.server  # type: ignore[assignment]
        sock: socket.socket = self.request
        head = self._read_head(sock)
        if not head:
            return
        server.requests.append(head.split("\r\n", 1)[0])
        if server.first_request is None:
            server.first_request = time.monotonic()
        if server.variant == "headers":
            sock.sendall(b"H")
            endless = b"TTP/1.1 200 OK\r\nX-Drip: " + b"a" * 100_000
        else:
            sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
            endless = b'{"access_token": "' + b"a" * 100_000
        for byte in endless:
            if server.stopping.wait(server.interval) or time.monotonic() > server.deadline:
                return
            try:
                sock.sendall(bytes([byte]))
            except OSError:  # the client gave up and closed the connection
                return

    @staticmethod
    def _read_head(sock: socket.socket) -> str:
        sock.settimeout(10)
        data = b""
        try:
            while b"\r\n\r\n" not in data and len(data) < 65536:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
        except OSError:
            return ""
        return data.split(b"\r\n\r\n", 1)[0].decode("latin-1")


def prepare(home: Path, server: DripServer, stale: bool) -> dict[str, str]:
    """A credentials directory with a stored OAuth session (a stale access token when asked), and its env."""
    config = home / "config"
    config.mkdir(parents=True)
    expires = datetime.now(UTC) + (timedelta(hours=-1) if stale else timedelta(hours=6))
    document = {"oauth": {"access_token": "at_drip", "refresh_token": "rt_drip", "expires_at": format_instant(expires)}}
    (config / "credentials").write_text(json.dumps(document))
    (config / "credentials").chmod(0o600)
    url = server.url
    env = {
        "HEYGEN_API_URL": url,
        "HYPERFRAMES_OAUTH_AUTHORIZE_URL": f"{url}/oauth/authorize",
        "HYPERFRAMES_OAUTH_TOKEN_URL": f"{url}/v1/oauth/token",
        "HYPERFRAMES_OAUTH_REVOKE_URL": f"{url}/v1/oauth/revoke",
        "HYPERFRAMES_OAUTH_DEVICE_URL": f"{url}/v1/oauth/device_authorization",
        "HYPERFRAMES_OAUTH_CLIENT_ID": CLIENT_ID,
    }
    return reference_env(env, config, home)


def run(
    name: str, argv: list[str], env: dict[str, str], cwd: Path, bound: float, server: DripServer
) -> dict[str, object]:
    began = time.monotonic()
    try:
        done = subprocess.run(
            argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=bound, check=False, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired:
        return {"command": name, "seconds": None, "after_request": None, "exit": None, "message": ""}
    ended = time.monotonic()
    output = done.stderr if done.stderr.strip() else done.stdout
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    # a library call that raised: its last line names the exception
    message = (lines[-1] if lines[0].startswith("Traceback") else lines[0]) if lines else ""
    first = server.first_request
    return {
        "command": name,
        "seconds": ended - began,
        "after_request": None if first is None else ended - first,
        "exit": done.returncode,
        "message": message[:110],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bound", type=float, default=200.0, help="hard timeout of each run, in seconds")
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between two bytes")
    parser.add_argument("--reference", action="store_true", help="also run the released TypeScript CLI")
    options = parser.parse_args()
    hyperframes = str(bench_install())
    python = str(Path(hyperframes).with_name("python"))
    theirs = reference_argv() if options.reference else None

    root = Path(tempfile.mkdtemp(prefix="hf-drip-"))
    servers: list[DripServer] = []
    jobs = []
    for variant in ("headers", "body"):
        cases = [
            ("auth status", [hyperframes, "auth", "status"], False),
            ("auth refresh", [hyperframes, "auth", "refresh"], False),
            ("auth logout --yes", [hyperframes, "auth", "logout", "--yes"], False),
            ("auth token (stale)", [hyperframes, "auth", "token"], True),
            ("HeyGenAuth().whoami()", [python, "-c", WHOAMI], False),
        ]
        if theirs is not None:
            cases += [
                ("ts auth status", [*theirs, "auth", "status"], False),
                ("ts auth refresh", [*theirs, "auth", "refresh"], False),
                ("ts auth logout --yes", [*theirs, "auth", "logout", "--yes"], False),
            ]
        for index, (name, argv, stale) in enumerate(cases):
            home = root / f"{variant}-{index}"
            server = DripServer(variant, options.interval, options.bound)
            threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()
            servers.append(server)
            jobs.append((variant, name, argv, prepare(home, server, stale), home, server))
    try:
        with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
            futures = [
                (variant, pool.submit(run, name, argv, env, home, options.bound, server))
                for variant, name, argv, env, home, server in jobs
            ]
            rows = [{"variant": variant, **future.result()} for variant, future in futures]
    finally:
        for server in servers:
            server.stopping.set()
            server.shutdown()
            server.server_close()

    print(f"one byte every {options.interval} s; each run bounded at {options.bound:.0f} s")
    print(f"requests received: {sum(len(server.requests) for server in servers)}")
    print()
    print("| command | variant | gives up after (from start) | (from its first request) | exit | message |")
    print("| --- | --- | ---: | ---: | ---: | --- |")
    for row in rows:
        seconds = f"> {options.bound:.0f} s" if row["seconds"] is None else f"{row['seconds']:.1f} s"
        after = "" if row["after_request"] is None else f"{row['after_request']:.1f} s"
        code = "killed" if row["exit"] is None else str(row["exit"])
        message = str(row["message"]).replace("|", "/")
        print(f"| {row['command']} | {row['variant']} | {seconds} | {after} | {code} | {message} |")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "drip.json").write_text(json.dumps({"bound": options.bound, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
