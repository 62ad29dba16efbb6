"""Ways a scripted person reacts when the client 'opens the browser', for the facade-level contract tests."""

from __future__ import annotations

import threading
from collections.abc import Callable

from .scripted_user import ScriptedUser


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
