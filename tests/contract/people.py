"""Ways a scripted person reacts when the client 'opens the browser', for the facade-level contract tests."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from .scripted_user import ScriptedUser

if TYPE_CHECKING:
    from .conftest import AuthServer


class Person:
    """A ``Browser`` stand-in: on ``open(url)`` it signs in on a thread (as a real browser would, concurrently).

    Args:
        mode: ``approve`` (deliver the callback), ``deny`` (abort at the login page), ``capture`` (sign in but
            keep the callback URL instead of delivering it), ``forged-first`` (hit the listener with a wrong state
            before the real callback).
    """

    def __init__(
        self, mode: str = "approve", login: str = "alice", before_deliver: Callable[[str], None] | None = None
    ) -> None:
        self.mode = mode
        self.login = login
        self.before_deliver = before_deliver
        self.callback_urls: list[str] = []
        self.errors: list[BaseException] = []
        self.opened: list[str] = []
        self._threads: list[threading.Thread] = []

    def __call__(self, url: str) -> bool:
        self.opened.append(url)
        thread = threading.Thread(target=self._run, args=(url,), daemon=True)
        self._threads.append(thread)
        thread.start()
        return True

    def _run(self, url: str) -> None:
        user = ScriptedUser(self.login)
        try:
            callback = user.authorize(url, deny=self.mode == "deny")
            self.callback_urls.append(callback)
            if self.mode == "capture":
                return
            if self.before_deliver is not None:
                self.before_deliver(callback)
            if self.mode == "forged-first":
                user.deliver(callback.replace("state=", "state=forged"))
            user.deliver(callback)
        except BaseException as exc:
            self.errors.append(exc)
        finally:
            user.close()

    def join(self) -> None:
        for thread in self._threads:
            thread.join(30)
        if self.errors:
            raise self.errors[0]


def sign_in(server: AuthServer, home: Path) -> dict[str, str]:
    """Sign in through the real browser flow (a scripted person approves); return the environment used."""
    from hyperframes_auth.entrypoints.settings import Settings
    from tests.fakes import facade

    env = server.env(home / "config")
    person = Person()
    with facade(Settings.from_env(env, str(home)), env=env, interactive=True, browser=person, login_timeout=20) as auth:
        auth.login_browser()
    person.join()
    return env


def expire_stored_token(home: Path) -> None:
    """Make the stored access token look expired to the client (the server still honours it)."""
    from hyperframes_auth.domain.primitives import format_instant, parse_instant

    path = home / "config" / "credentials"
    stored = json.loads(path.read_text())
    expiry = parse_instant(stored["oauth"]["expires_at"])
    assert expiry is not None
    stored["oauth"]["expires_at"] = format_instant(expiry.replace(year=2000))
    path.write_text(json.dumps(stored))


def forget_environment(home: Path) -> None:
    """Make the stored sign-in look written before accounts existed (no environment recorded): the next command
    labels it with the environment it is used with (here: the same server reached another way)."""
    path = home / "config" / "credentials"
    stored = json.loads(path.read_text())
    stored.pop("hyperframes_auth", None)
    path.write_text(json.dumps(stored))
