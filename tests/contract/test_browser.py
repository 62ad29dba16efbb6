"""SystemBrowser: only safe URLs reach a browser (a leading ``-`` would become a browser option), BROWSER=none opens
nothing, and no credential variable reaches the browser's environment."""

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
    json.dump({"argv": sys.argv[2:], "env": sorted(k for k in os.environ if k.startswith("SECRET_") or os.environ[k].startswith("secret-"))}, out)
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


# Every variable that can hold a credential of ours, as the README's table lists them.
CREDENTIAL_VARIABLES = (
    "HEYGEN_API_KEY",
    "HYPERFRAMES_API_KEY",
    "HEYGEN_ACCESS_TOKEN",
    "HYPERFRAMES_CREDENTIALS_PASSPHRASE",
)


def test_the_browser_gets_the_url_but_not_our_secrets(spy_browser: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in CREDENTIAL_VARIABLES:
        monkeypatch.setenv(name, f"secret-{name.lower()}")
    assert SystemBrowser(env=os.environ)("https://auth.example/oauth/authorize?x=1")
    seen = wait_for(spy_browser)
    assert seen["argv"] == ["https://auth.example/oauth/authorize?x=1"]
    assert seen["env"] == []
    assert os.environ["HEYGEN_API_KEY"] == "secret-heygen_api_key"  # restored for us


def test_every_credential_variable_is_kept_from_the_browser() -> None:
    """Whatever variable credential resolution reads a credential from is in the scrub list, and so is the
    encrypted store's passphrase."""
    from hyperframes_auth.adapters.browser import SECRET_ENV
    from hyperframes_auth.adapters.encrypted_file import PASSPHRASE_ENV
    from hyperframes_auth.domain.resolve import ENV_KEYS, ENV_TOKEN

    read = {name for name, _source in (*ENV_KEYS, ENV_TOKEN)} | {PASSPHRASE_ENV}
    assert read == set(CREDENTIAL_VARIABLES) == set(SECRET_ENV)


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every URL handed to ``webbrowser.open`` (which would start a browser), recorded instead."""
    calls: list[str] = []

    def record(url: str, new: int = 0, autoraise: bool = True) -> bool:
        calls.append(url)
        return True

    monkeypatch.setattr(webbrowser, "open", record)
    return calls


@pytest.mark.parametrize("url", ["-remote=evil", "file:///etc/passwd", "https://x/\n", 'https://x/"&calc&"'])
def test_unsafe_urls_never_spawn_anything(opened: list[str], url: str) -> None:
    assert not SystemBrowser(env={})(url)
    assert opened == []
    assert SystemBrowser(env={})("https://auth.example/ok")  # the recorder does see a safe URL
    assert opened == ["https://auth.example/ok"]


@pytest.mark.parametrize(
    ("env", "enabled"),
    [({"BROWSER": "none"}, True), ({"HF_NO_BROWSER": "1"}, True), ({}, False)],
    ids=["BROWSER=none", "HF_NO_BROWSER=1", "--no-browser"],
)
def test_browser_none_and_hf_no_browser_open_nothing(opened: list[str], env: dict[str, str], enabled: bool) -> None:
    assert not SystemBrowser(enabled=enabled, env=dict(env))("https://auth.example/oauth/authorize?x=1")
    assert opened == []
