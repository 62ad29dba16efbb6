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


def sign_in_as(server: AuthServer, home: Path, login: str, **extra_env: str) -> dict[str, str]:
    """Sign in through the facade's real browser flow as ``login`` (``<login>@example.test``); return the
    environment used (``server.env(home / "config")`` plus ``extra_env``)."""
    from hyperframes_auth.entrypoints.settings import Settings
    from tests.fakes import facade

    env = server.env(home / "config", **extra_env)
    person = Person(login=login)
    with facade(Settings.from_env(env, str(home)), env=env, interactive=True, browser=person, login_timeout=20) as auth:
        auth.login_browser()
    person.join()
    return env


def stored_accounts(path: Path) -> dict[str, dict[str, object]]:
    """Every account in a credentials file, by identity: the top-level slot's (named by our label, else by its
    ``user`` block) and the ones kept under our key. Each is ``{"api": origin | None, "oauth": {...} | None,
    "api_key": ... | None, "top": bool}``."""
    stored = json.loads(path.read_text())
    ours = stored.get("hyperframes_auth") or {}
    found: dict[str, dict[str, object]] = {}
    if stored.get("oauth") or stored.get("api_key"):
        label = ours.get("top") or {}
        user = stored.get("user") or {}
        name = label.get("identity") or user.get("email") or "(unknown user)"
        api = (label.get("environment") or {}).get("api")
        found[name] = {"api": api, "oauth": stored.get("oauth"), "api_key": stored.get("api_key"), "top": True}
    for account in ours.get("accounts", []):
        name = account.get("identity") or "(unknown user)"
        assert name not in found, f"two accounts named {name} in {path}"
        found[name] = {
            "api": account["environment"]["api"],
            "oauth": account.get("oauth"),
            "api_key": account.get("api_key"),
            "top": False,
        }
    return found


def expire_every_token(path: Path) -> None:
    """Make every stored access token (top-level slot and other accounts) look expired to the client; the server
    still honours them."""
    stored = json.loads(path.read_text())
    blocks = [stored.get("oauth")] + [
        a.get("oauth") for a in (stored.get("hyperframes_auth") or {}).get("accounts", [])
    ]
    for block in blocks:
        if block:
            block["expires_at"] = "2000-01-01T00:00:00.000Z"
    path.write_text(json.dumps(stored))


def person_behind(server: AuthServer, access_token: str) -> str | None:
    """Who the server says an access token belongs to (``/v3/users/me``), or ``None`` when it refuses it."""
    answer = server.http.get("/v3/users/me", headers={"authorization": f"Bearer {access_token}"})
    return answer.json().get("email") if answer.status_code == 200 else None
