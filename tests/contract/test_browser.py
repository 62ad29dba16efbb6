"""SystemBrowser: only safe URLs reach a browser, BROWSER=none opens nothing, secrets stay out of its environment.
Checklist items 25, 41, 48."""

from __future__ import annotations

import json
import sys
import time
import webbrowser
from pathlib import Path

import pytest

from hyperframes_auth.adapters.browser import SystemBrowser, is_safe_browser_url

SPY = """
import json, os, sys
with open(sys.argv[1], "w") as out:
    json.dump({"argv": sys.argv[2:], "env": sorted(k for k in os.environ if "KEY" in k or "PASSPHRASE" in k)}, out)
"""


@pytest.mark.parametrize(
    "url",
    [
        "--renderer-cmd-prefix=calc",
        "-https://x",
        "file:///etc/passwd",
        "javascript:alert(1)",
        'https://x/"&calc&"',
        "https://x/\n",
        "https:///nohost",
        "",
    ],
)
def test_unsafe_urls_are_refused(url):
    assert not is_safe_browser_url(url)


def test_safe_urls_pass():
    assert is_safe_browser_url("https://app.heygen.com/oauth/authorize?state=a&x=1")
    assert is_safe_browser_url("http://127.0.0.1:4000/oauth/authorize")


@pytest.fixture
def spy_browser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    script = tmp_path / "spy.py"
    script.write_text(SPY)
    out = tmp_path / "opened.json"
    monkeypatch.setenv("BROWSER", f"{sys.executable} {script} {out} %s")
    monkeypatch.setattr(webbrowser, "_tryorder", None)  # let webbrowser read BROWSER again
    monkeypatch.setattr(webbrowser, "_browsers", {})
    return out


def wait_for(path: Path) -> dict[str, object]:
    for _ in range(100):
        if path.exists() and path.stat().st_size:
            return json.loads(path.read_text())  # type: ignore[no-any-return]
        time.sleep(0.05)
    raise AssertionError("the browser command did not run")


def test_the_browser_gets_the_url_but_not_our_secrets(spy_browser: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEYGEN_API_KEY", "hg_secret_env_key")
    monkeypatch.setenv("HYPERFRAMES_CREDENTIALS_PASSPHRASE", "pass")
    import os

    assert SystemBrowser(env=os.environ)("https://auth.example/oauth/authorize?x=1")
    seen = wait_for(spy_browser)
    assert seen["argv"] == ["https://auth.example/oauth/authorize?x=1"]
    assert seen["env"] == []
    assert os.environ["HEYGEN_API_KEY"] == "hg_secret_env_key"  # restored for us


def test_unsafe_urls_never_spawn_anything(spy_browser: Path) -> None:
    import os

    assert not SystemBrowser(env=os.environ)("--renderer-cmd-prefix=calc")
    time.sleep(0.2)
    assert not spy_browser.exists()


def test_browser_none_and_hf_no_browser_open_nothing(spy_browser: Path) -> None:
    assert not SystemBrowser(env={"BROWSER": "none"})("https://auth.example/")
    assert not SystemBrowser(env={"HF_NO_BROWSER": "1"})("https://auth.example/")
    assert not SystemBrowser(enabled=False)("https://auth.example/")
    time.sleep(0.2)
    assert not spy_browser.exists()
