"""The ports: everything the domain needs from the outside world, as protocols and callable aliases.

Adapters in ``hyperframes_auth.adapters`` implement them with real technology; ``tests/fakes.py`` implements
them in memory; the same contract suites (``tests/contract/test_port_*.py``) run on both.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Protocol

from .callback import Verdict
from .credentials import CredentialsDocument
from .http import HttpRequest, HttpResponse


class Clock(Protocol):
    """Port: the current time (aware, UTC) and the passing of it."""

    def now(self) -> datetime: ...

    def sleep(self, seconds: float) -> None: ...


class HttpTransport(Protocol):
    """Port: sends one request and returns the response.

    Implementations enforce ``request.timeout``, ``request.max_bytes`` and ``request.follow_redirects`` (with
    ``Authorization`` kept only on same-origin hops), and raise only :class:`TransportError`.
    """

    def send(self, request: HttpRequest) -> HttpResponse: ...


Browser = Callable[[str], bool]
"""Port: open a URL in the person's browser; ``False`` when no browser could be opened."""

CallbackJudge = Callable[[Mapping[str, list[str]]], Verdict]
"""Decides what one callback query means (see ``callback.judge``)."""


class CallbackListener(Protocol):
    """Port: a loopback endpoint that catches the authorization redirect.

    The redirect URI is fixed when the listener is opened and never changes. ``wait`` returns the first
    verdict that ends the flow (accepted or errored), or a ``timeout`` verdict; ignored callbacks get an
    error page and the wait goes on. ``close`` is idempotent.
    """

    @property
    def redirect_uri(self) -> str: ...

    def wait(self, judge: CallbackJudge, timeout: float) -> Verdict: ...

    def finish(self, ok: bool, message: str | None = None) -> None:
        """Tell the browser how the sign-in ended (the page after the redirect shows it)."""

    def close(self) -> None: ...


ListenerFactory = Callable[[], CallbackListener]
"""Port: open a listener (bind a port) when a browser sign-in starts, never before."""


class CredentialStore(Protocol):
    """Port: where the credentials document lives.

    ``read`` and ``write`` are each atomic; a read-modify-write holds ``lock()``, an exclusive lock shared
    with every other process using the same store, acquired within a bounded wait (else ``StoreLocked``).
    """

    @property
    def location(self) -> str:
        """A path or name for messages (never a secret)."""

    @property
    def backend(self) -> str:
        """``file`` or ``encrypted``."""

    def read(self) -> CredentialsDocument: ...

    def write(self, doc: CredentialsDocument) -> None: ...

    def delete(self) -> None: ...

    def quarantine(self) -> str | None:
        """Move an unreadable store aside (``<name>.corrupt-<timestamp>``, 0600); return its new path."""

    def lock(self) -> AbstractContextManager[None]: ...
