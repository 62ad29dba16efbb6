"""The encrypted store against a real Secret Service: gnome-keyring's daemon in a private D-Bus session, started
headless (unlocked with a throwaway password), as the package runs on a Linux desktop. No test seam: the package's
own allow-list judges the backend keyring picks (a ChainerBackend over Secret Service and keyrings.alt's
PlaintextKeyring, which must write to Secret Service). Skipped, with the reason, where the daemon is not installed
(``scripts/setup --browser`` installs Debian's ``gnome-keyring``)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MISSING = [tool for tool in ("dbus-run-session", "gnome-keyring-daemon") if shutil.which(tool) is None]


@pytest.mark.skipif(bool(MISSING), reason=f"no Secret Service here ({', '.join(MISSING)} missing)")
def test_a_real_secret_service_keeps_the_key_and_logout_removes_it(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / "data"),  # gnome-keyring's files, and where PlaintextKeyring would write
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_RUNTIME_DIR": str(tmp_path),
        "PYTHONPATH": str(ROOT),
    }
    script = (
        "printf throwaway | gnome-keyring-daemon --unlock --components=secrets >/dev/null && "
        f'exec "{sys.executable}" -m tests.contract.secret_service_child "{tmp_path}"'
    )
    # dbus-run-session ends the bus when the child exits, and the daemon leaves with it.
    done = subprocess.run(
        ["dbus-run-session", "--", "sh", "-c", script],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["chosen"] == "keyring.backends.chainer.ChainerBackend"
    assert seen["kind"] == 2
    assert seen["keeper"] == "OS keyring (Secret Service)"
    assert seen["api_key"] == "hg_secret_service_key"
    assert seen["item_is_a_key"]
    assert seen["item_after_logout"] is None
    assert not list((home / "data").glob("python_keyring*"))  # nothing went to the plaintext keyring
