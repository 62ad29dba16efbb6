"""A real browser: headless Chromium signs in against the local server and lands on our loopback listener."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from hyperframes_auth.entrypoints.settings import Settings
from tests.fakes import facade

from .conftest import SERVER_DIR, AuthServer

pytestmark = [pytest.mark.contract, pytest.mark.browser]
OUTPUT = Path(__file__).resolve().parents[2] / "test-output"


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.skip("Debian's chromium is not installed and scripts/setup could not install it (needs root and apt)")
    if not (SERVER_DIR / "node_modules" / "playwright-core").is_dir():
        pytest.skip("playwright-core is not installed in tests/contract/server (run scripts/setup)")
    return path


def test_headless_chromium_signs_in_and_sees_our_success_page(auth_server: AuthServer, tmp_path: Path) -> None:
    executable = chromium()
    OUTPUT.mkdir(exist_ok=True)
    screenshot = OUTPUT / "real-browser-success.png"
    results: list[subprocess.CompletedProcess[str]] = []

    def open_in_chromium(url: str) -> bool:
        def drive() -> None:
            results.append(
                subprocess.run(
                    ["node", "browser_login.mjs", url, str(screenshot)],
                    cwd=SERVER_DIR,
                    env={"PATH": "/usr/bin:/bin", "CHROMIUM_PATH": executable, "HOME": str(tmp_path)},
                    capture_output=True,
                    text=True,
                    timeout=90,
                    check=False,
                )
            )

        threading.Thread(target=drive, daemon=True).start()
        return True

    env = auth_server.env(tmp_path / "config")
    with facade(
        Settings.from_env(env, str(tmp_path)), env=env, interactive=True, browser=open_in_chromium, login_timeout=60
    ) as auth:
        result = auth.login_browser()
    for _ in range(100):
        if results:
            break
        threading.Event().wait(0.1)
    assert results, "the browser driver did not finish"
    run = results[0]
    assert run.returncode == 0, run.stderr[-2000:]
    landed = json.loads(run.stdout.strip().splitlines()[-1])
    assert landed["heading"] == "You're signed in."
    assert landed["url"].startswith("http://127.0.0.1:")
    assert "code=" not in landed["url"]  # the 303 left the code out of the address bar and history
    assert result.user is not None
    assert result.user.identity == "chromium-user@example.test"
    assert screenshot.stat().st_size > 1000
