"""A ``BROWSER`` stand-in for end-to-end tests of the real ``hyperframes auth login``.

Use it as ``BROWSER="<python> tests/contract/browser_standin.py %s"``. Python's ``webbrowser`` waits for the
browser command to exit, so the first process detaches a child (new session) and exits at once; the child plays the
person: it logs in and consents through the authorization server's own pages, then follows the redirect to the
CLI's loopback listener, as a browser would.

STANDIN_MODE: ``approve`` (default), ``deny`` (abort at the login page), ``forged-first`` (hit the listener with a
wrong state first), ``ignore`` (never sign in), ``device`` (the page opened is a device code's verification page:
confirm the code and approve). STANDIN_LOG: a file the stand-in appends to: the address it was asked to open
(``opened <url>``, written before the CLI learns the browser opened), then the child's progress and errors.
"""

from __future__ import annotations

import os
import subprocess
import sys
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _log(text: str) -> None:
    path = os.environ.get("STANDIN_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(text + "\n")


def child(url: str) -> int:
    sys.path.insert(0, str(ROOT))
    from tests.contract.scripted_user import ScriptedUser

    mode = os.environ.get("STANDIN_MODE", "approve")
    if mode == "ignore":
        return 0  # a person who never signs in
    user = ScriptedUser(os.environ.get("STANDIN_LOGIN", "alice"))
    try:
        if mode == "device":
            user.approve_device(url)
            _log("approved the device code")
            return 0
        callback = user.authorize(url, deny=mode == "deny")
        _log(f"redirected to {callback.split('?')[0]}")
        if mode == "forged-first":
            user.deliver(callback.replace("state=", "state=forged"))
        page = user.deliver(callback)
        _log(f"landed: {page.status_code} {page.text[:80]!r}")
    except Exception:
        _log(traceback.format_exc())
        return 1
    finally:
        user.close()
    return 0


def main(argv: list[str]) -> int:
    if len(argv) >= 3 and argv[1] == "--child":
        return child(argv[2])
    _log(f"opened {argv[1]}")  # before the CLI is told the browser opened
    subprocess.Popen(
        [sys.executable, __file__, "--child", argv[1]],
        start_new_session=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
