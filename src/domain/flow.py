"""The vocabulary of the sign-in machine: its states, the events it reacts to, and the effects it asks for.

Everything here is a frozen value; secrets are left out of every repr. The machine that connects them is in
``machine.py``; the OAuth messages it builds and reads are in ``messages.py``; the driver that performs effects
through the ports is in ``driver.py``. See ``docs/ARCHITECTURE.md`` for the diagram.
"""

from __future__ import annotations

from datetime import datetime

import attrs

from .credentials import OAuthTokens
from .errors import AuthError
from .http import HttpRequest, HttpResponse
from .value import Identity, Value

# ---------------------------------------------------------------------------------------------- flow values


@attrs.frozen(kw_only=True, repr=False, eq=False)
class AuthCodeFlow(Value):
    """One authorization-code attempt: its secrets, its redirect URI, and the URL to send the browser to.

    Made fresh for every attempt (RFC 9700 §2.1.1); the verifier and state never leave memory.
    """

    state: str = attrs.field(repr=False)
    verifier: str = attrs.field(repr=False)
    redirect_uri: str
    authorize_url: str = attrs.field(repr=False)

    def secrets(self) -> tuple[str, ...]:
        return (self.state, self.verifier)


@attrs.frozen(kw_only=True, repr=False, eq=False)
class DeviceAuthorization(Value):
    """A device authorization response (RFC 8628 §3.2), validated; ``user_code`` and the URIs are safe to show."""

    device_code: str = attrs.field(repr=False)
    user_code: str
    verification_uri: str
    verification_uri_complete: str | None
    expires_in: float
    interval: float


# ---------------------------------------------------------------------------------------------- states


@attrs.frozen(repr=False, eq=False)
class Idle(Value):
    """Nothing started yet."""


@attrs.frozen(repr=False, eq=False)
class AwaitingCallback(Value):
    """The browser was sent to the authorization endpoint; waiting for the redirect."""

    flow: AuthCodeFlow


@attrs.frozen(repr=False, eq=False)
class ExchangingCode(Value):
    """The code was sent to the token endpoint; waiting for its answer (``attempt`` counts retries)."""

    flow: AuthCodeFlow
    request: HttpRequest = attrs.field(repr=False)
    deadline: datetime
    attempt: int = 1


@attrs.frozen(repr=False, eq=False)
class RequestingDeviceCode(Value):
    """The device authorization request is on its way."""

    request: HttpRequest = attrs.field(repr=False)
    deadline: datetime
    attempt: int = 1


@attrs.frozen(repr=False, eq=False)
class PollingDevice(Value):
    """Polling the token endpoint until the person approves the device code (or it expires)."""

    device: DeviceAuthorization
    interval: float
    deadline: datetime


@attrs.frozen(repr=False, eq=False)
class Refreshing(Value):
    """A refresh-token grant is on its way (``attempt`` counts retries the server invited)."""

    refresh_token: str = attrs.field(repr=False)
    request: HttpRequest = attrs.field(repr=False)
    deadline: datetime
    attempt: int = 1


@attrs.frozen(repr=False, eq=False)
class Revoking(Value):
    """Revoking tokens one by one (RFC 7009), refresh token first; failures only become remarks."""

    current: tuple[str, str | None] = attrs.field(repr=False)
    pending: tuple[tuple[str, str | None], ...] = attrs.field(repr=False)
    deadline: datetime
    remarks: tuple[str, ...] = ()
    attempt: int = 1


@attrs.frozen(repr=False, eq=False)
class SignedIn(Value):
    """Terminal: the flow produced tokens (a login or a refresh)."""

    tokens: OAuthTokens


@attrs.frozen(repr=False, eq=False)
class Revoked(Value):
    """Terminal: every revocation was attempted; ``remarks`` says what did not go through."""

    remarks: tuple[str, ...] = ()


@attrs.frozen(eq=False, repr=False)
class Failed(Identity):
    """Terminal: the flow failed with ``error``."""

    error: AuthError


State = (
    Idle
    | AwaitingCallback
    | ExchangingCode
    | RequestingDeviceCode
    | PollingDevice
    | Refreshing
    | Revoking
    | SignedIn
    | Revoked
    | Failed
)
STATES: tuple[type[State], ...] = (
    Idle,
    AwaitingCallback,
    ExchangingCode,
    RequestingDeviceCode,
    PollingDevice,
    Refreshing,
    Revoking,
    SignedIn,
    Revoked,
    Failed,
)
TERMINAL: tuple[type[State], ...] = (SignedIn, Revoked, Failed)


# ---------------------------------------------------------------------------------------------- events


@attrs.frozen(repr=False, eq=False)
class StartBrowserLogin(Value):
    flow: AuthCodeFlow


@attrs.frozen(repr=False, eq=False)
class CallbackAccepted(Value):
    code: str = attrs.field(repr=False)
    iss: str | None = None


@attrs.frozen(repr=False, eq=False)
class CallbackErrored(Value):
    error: str
    description: str | None = None


@attrs.frozen(repr=False, eq=False)
class CallbackTimedOut(Value):
    seconds: float


@attrs.frozen(repr=False, eq=False)
class HttpAnswered(Value):
    """The server answered; ``secrets`` are what the request carried (redacted from any text quoted back)."""

    response: HttpResponse
    secrets: tuple[str, ...] = attrs.field(default=(), repr=False)


@attrs.frozen(eq=False, repr=False)
class HttpFailed(Identity):
    """No answer; ``sent`` says whether the request may have reached the server."""

    error: AuthError
    sent: bool = True


@attrs.frozen(repr=False, eq=False)
class StartDeviceLogin(Value):
    deadline: datetime


@attrs.frozen(repr=False, eq=False)
class Waited(Value):
    pass


@attrs.frozen(repr=False, eq=False)
class StartRefresh(Value):
    refresh_token: str = attrs.field(repr=False)
    deadline: datetime


@attrs.frozen(repr=False, eq=False)
class StartRevoke(Value):
    """Revoke these ``(token, token_type_hint)`` pairs in order."""

    tokens: tuple[tuple[str, str | None], ...] = attrs.field(repr=False)
    deadline: datetime


Event = (
    StartBrowserLogin
    | CallbackAccepted
    | CallbackErrored
    | CallbackTimedOut
    | HttpAnswered
    | HttpFailed
    | StartDeviceLogin
    | Waited
    | StartRefresh
    | StartRevoke
)
EVENTS: tuple[type[Event], ...] = (
    StartBrowserLogin,
    CallbackAccepted,
    CallbackErrored,
    CallbackTimedOut,
    HttpAnswered,
    HttpFailed,
    StartDeviceLogin,
    Waited,
    StartRefresh,
    StartRevoke,
)


# ---------------------------------------------------------------------------------------------- effects


@attrs.frozen(repr=False, eq=False)
class OpenBrowser(Value):
    url: str = attrs.field(repr=False)


@attrs.frozen(repr=False, eq=False)
class AwaitCallback(Value):
    """Wait for the redirect; produces CallbackAccepted, CallbackErrored or CallbackTimedOut."""

    flow: AuthCodeFlow
    timeout: float


@attrs.frozen(repr=False, eq=False)
class SendHttp(Value):
    """Send one request; produces HttpAnswered or HttpFailed.

    ``spends`` marks a request whose answer changes what the server holds (a code exchange, a refresh, a device
    poll that may return tokens): from sending it until its result is saved, interruptions are deferred.
    """

    request: HttpRequest
    spends: bool = False


@attrs.frozen(repr=False, eq=False)
class ShowDeviceCode(Value):
    device: DeviceAuthorization


@attrs.frozen(repr=False, eq=False)
class Wait(Value):
    """Sleep, then produce Waited. ``jitter`` lets the driver shorten it by a random part (retry backoff)."""

    seconds: float
    jitter: bool = False


@attrs.frozen(repr=False, eq=False)
class Remark(Value):
    """Tell the person something that does not change the outcome (e.g. a revocation that failed)."""

    message: str


Effect = OpenBrowser | AwaitCallback | SendHttp | ShowDeviceCode | Wait | Remark
