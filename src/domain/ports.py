"""The ports: everything the core needs from the outside world, bundled in :class:`Ports`, and the notices it
sends to whoever shows progress to a person.

Adapters in ``hyperframes_auth.adapters`` implement the ports with real technology and ``entrypoints/bootstrap.py``
wires them; ``tests/fakes.py`` implements them in memory; the same contract suites (``tests/contract/test_port_*``)
run on both.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Protocol

import attrs

from .value import Value

TYPE_CHECKING = False  # the names below are only annotations here: `auth token` must not pay for importing them
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from datetime import datetime

    from .api import UserInfo
    from .callback import Verdict
    from .credentials import CredentialsDocument
    from .flow import DeviceAuthorization, Remark
    from .http import HttpRequest, HttpResponse
    from .pkce import Entropy


class Clock(Protocol):
    """Port: the current time (aware, UTC) and the passing of it."""

    def now(self) -> datetime: ...

    def sleep(self, seconds: float) -> None: ...


class HttpTransport(Protocol):
    """Port: sends one request and returns the response.

    Implementations enforce ``request.timeout`` (one deadline for the whole request), ``request.max_bytes`` and
    ``request.follow_redirects`` (credential headers only to the same origin), and raise only ``TransportError``
    (whose ``sent`` says whether the request may have reached the server).
    """

    def send(self, request: HttpRequest) -> HttpResponse: ...


class CallbackListener(Protocol):
    """Port: a loopback endpoint that catches the authorization redirect.

    The redirect URI is fixed when the listener is opened and never changes. ``wait`` returns the first verdict
    that ends the flow (accepted or errored), or a ``timeout`` verdict; ignored callbacks get an error page and the
    wait goes on. ``submit`` judges a query that arrived another way (a redirect URL pasted at the terminal).
    ``close`` is idempotent.
    """

    @property
    def redirect_uri(self) -> str: ...

    def wait(self, judge: CallbackJudge, timeout: float) -> Verdict: ...

    def submit(self, query: dict[str, list[str]]) -> Verdict: ...

    def finish(self, ok: bool, message: str | None = None) -> None:
        """Tell the browser how the sign-in ended (the page after the redirect shows it)."""

    def close(self) -> None: ...


class PendingWrite(Protocol):
    """A write whose room is already reserved: ``commit`` makes ``doc`` durable in as few steps as possible."""

    def commit(self, doc: CredentialsDocument) -> None: ...


class CredentialStore(Protocol):
    """Port: where the credentials document lives.

    ``read`` and ``write`` are each atomic; a read-modify-write holds ``lock()``, an exclusive lock shared with
    every other process using the same store, acquired within a bounded wait (else ``StoreLocked``). Before a
    server-side change whose result must be saved (a refresh, a code exchange), ``reserve()`` (under the lock)
    checks that the write can happen and sets aside the room for it, so a full disk or a read-only directory is
    found before anything is spent.
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

    def reserve(self) -> AbstractContextManager[PendingWrite]: ...


class Guard(Protocol):
    """Defers interruptions while armed: a server-side change (a spent refresh token, an exchanged code) must be
    saved before the process may stop."""

    def arm(self) -> None:
        """From now on, Ctrl-C, SIGTERM and SIGHUP are held back (a second Ctrl-C may still abandon)."""

    def disarm(self) -> None:
        """Deliver any interruption held back, now."""


# ---------------------------------------------------------------------------------------------- notices


@attrs.frozen(repr=False, eq=False)
class BrowserOpening(Value):
    """About to send the browser to ``endpoint`` (the authorization endpoint without its query)."""

    endpoint: str
    url: str = attrs.field(repr=False)


@attrs.frozen(repr=False, eq=False)
class BrowserUnavailable(Value):
    """No browser could be opened: the person must open ``url`` by hand (or paste the redirect back)."""

    url: str = attrs.field(repr=False)


@attrs.frozen(repr=False, eq=False)
class WaitingForCallback(Value):
    """The listener is up; ``submit`` takes a redirect URL pasted at the terminal (judged like a callback)."""

    redirect_uri: str
    timeout: float
    submit: Callable[[str], Verdict] = attrs.field(repr=False, eq=False)


@attrs.frozen(repr=False, eq=False)
class CallbackIgnored(Value):
    reason: str


@attrs.frozen(repr=False, eq=False)
class DeviceCodeIssued(Value):
    device: DeviceAuthorization


def _ignore(_notice: Notice) -> None:
    """A ``Notify`` for callers that show nothing."""


class _NoGuard:
    def arm(self) -> None:
        """Nothing to hold back: no signals are handled here."""

    def disarm(self) -> None:
        """Nothing was held back."""


def _no_shield() -> AbstractContextManager[Guard]:
    return nullcontext(_NoGuard())


@attrs.frozen(kw_only=True, repr=False, eq=False)
class Ports(Value):
    """Everything the core talks to, bundled by the composition root (``entrypoints/bootstrap.py``)."""

    clock: Clock
    http: HttpTransport
    browser: Browser
    listen: ListenerFactory
    store: CredentialStore
    entropy: Entropy
    read_user: ReadUser
    notify: Notify = _ignore
    shield: Shield = _no_shield


# ---------------------------------------------------------------------------------------------- single-call ports

if TYPE_CHECKING:  # aliases for annotations; nothing at run time needs them
    Browser = Callable[[str], bool]
    """Port: open a URL in the person's browser; ``False`` when no browser could be opened."""

    CallbackJudge = Callable[[Mapping[str, list[str]]], Verdict]
    """Decides what one callback query means (see ``callback.judge``)."""

    ListenerFactory = Callable[[], CallbackListener]
    """Port: open a listener (bind a port) when a browser sign-in starts, never before."""

    Shield = Callable[[], AbstractContextManager[Guard]]
    """Port: a guard for one operation; leaving its context disarms it."""

    ReadUser = Callable[[object], UserInfo]
    """Port: read a ``/v3/users/me`` JSON payload into a profile (the lenient rules live at the JSON edge)."""

    Notice = BrowserOpening | BrowserUnavailable | WaitingForCallback | CallbackIgnored | DeviceCodeIssued | Remark
    Notify = Callable[[Notice], None]
