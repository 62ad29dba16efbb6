"""The demo behind scripts/demo: a real sign-in against the local authorization server (tests/contract/server)."""

from __future__ import annotations

import os
import select
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / ".venv" / "bin"


def start_server() -> tuple[subprocess.Popen[bytes], str]:
    server = subprocess.Popen(
        ["node", "server.mjs"],
        cwd=ROOT / "tests" / "contract" / "server",
        env={**os.environ, "PORT": "0", "CLIENT_ID": "hyperframes-cli-test"},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert server.stdout is not None
    ready, _, _ = select.select([server.stdout], [], [], 20)
    line = server.stdout.readline().decode() if ready else ""
    if not line.startswith("READY "):
        server.kill()
        sys.exit("the local authorization server did not start (run scripts/setup)")
    return server, line.split()[1]


def main(argv: list[str]) -> int:
    server, url = start_server()
    config = tempfile.mkdtemp(prefix="hyperframes-demo-")
    standin = (
        f"{shlex.quote(str(BIN / 'python'))} {shlex.quote(str(ROOT / 'tests' / 'contract' / 'browser_standin.py'))} %s"
    )
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("HEYGEN_", "HYPERFRAMES_"))},
        "HEYGEN_API_URL": url,
        "HYPERFRAMES_OAUTH_AUTHORIZE_URL": f"{url}/oauth/authorize",
        "HYPERFRAMES_OAUTH_TOKEN_URL": f"{url}/v1/oauth/token",
        "HYPERFRAMES_OAUTH_REVOKE_URL": f"{url}/v1/oauth/revoke",
        "HYPERFRAMES_OAUTH_DEVICE_URL": f"{url}/v1/oauth/device_authorization",
        "HYPERFRAMES_OAUTH_CLIENT_ID": "hyperframes-cli-test",
        "HYPERFRAMES_OAUTH_ISSUER": url,
        "HEYGEN_CONFIG_DIR": config,
    }
    if "--browser" not in argv:
        env["BROWSER"] = standin
    print(f"Local authorization server: {url} (oidc-provider); credentials in {config}\n")
    code = 0
    try:
        for args in (
            ["login"],
            ["status"],
            ["token", "--json"],
            ["refresh"],
            ["status", "--json"],
            ["logout", "--yes"],
        ):
            print(f"$ hyperframes auth {' '.join(args)}", flush=True)
            result = subprocess.run([str(BIN / "hyperframes"), "auth", *args], env=env, check=False)
            print(flush=True)
            if result.returncode != 0:
                code = result.returncode
                break
    finally:
        server.terminate()
        server.wait(5)
    print(
        "Demo finished: signed in, checked, refreshed and signed out." if code == 0 else f"Demo stopped (exit {code})."
    )
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
