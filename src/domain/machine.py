"""The sign-in state machine: login by code + PKCE, login by device grant, refresh, revoke. No I/O.

Theory of operation (the h11 shape):

* :func:`step` is a pure function ``(config, state, event, now) -> (next state, effects)``. It looks the pair
  ``(type(state), type(event))`` up in :data:`TRANSITIONS`; a pair that is not there raises
  :class:`InvalidTransition`, and because states are frozen values the caller's state is still valid.
* Effects are requests to the outside world (open a browser, await the callback, send an HTTP request, show a
  device code, wait). The driver (``driver.py``) performs them through the ports and feeds the resulting
  events back in. At most one effect of a step produces an event.
* Terminal states are :class:`SignedIn`, :class:`Revoked` and :class:`Failed`; no event leaves them.

Guarantees that follow from the table (and are checked by a Hypothesis state machine in tests/unit):

* an authorization code is exchanged at most once: only ``AwaitingCallback`` accepts a callback, and it
  leaves that state as it sends the exchange;
* the token request's ``redirect_uri`` is the flow's, byte for byte;
* a callback with a wrong or missing state, or with ``error=``, never leads to a token request (the judge in
  ``callback.py`` turns those into ``ignored``/``errored`` verdicts before an event exists);
* a refresh sends exactly one request, with the refresh token it was started with.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime, timedelta
from urllib.parse import urlencode

import attrs

from .config import Settings, is_loopback_host
from .credentials import OAuthTokens
from .errors import (
    ApiError,
    AuthError,
    AuthorizationDenied,
    CodeRejected,
    DeviceAuthFailed,
    InvalidTransition,
    IssuerMismatch,
    LoginTimedOut,
    RefreshFailed,
)
from .http import HttpRequest, HttpResponse, form_post
from .pkce import METHOD, Entropy, make_state, make_verifier, s256
from .redact import neutralize
from .tokens import TokenReply, classify, parse_token_response

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
DEVICE_MIN_INTERVAL = 5.0
DEVICE_MAX_INTERVAL = 60.0
DEVICE_SLOW_DOWN_STEP = 5.0
DEVICE_MAX_SECONDS = 30 * 60.0
DEVICE_REQUEST_TIMEOUT = 15.0
DEVICE_BODY_LIMIT = 64 * 1024
REVOKE_TIMEOUT = 5.0
TOKEN_TIMEOUT = 15.0
LOGIN_TIMEOUT = 120.0


# ---------------------------------------------------------------------------------------------- configuration


@attrs.frozen(kw_only=True)
class ClientConfig:
    """The OAuth client as the machine sees it: who we are and where the endpoints are."""

    client_id: str
    authorize_url: str
    token_url: str
    revoke_url: str
    device_url: str
    scope: str
    issuer: str | None = None
    login_timeout: float = LOGIN_TIMEOUT
    token_timeout: float = TOKEN_TIMEOUT
    revoke_timeout: float = REVOKE_TIMEOUT
    device_min_interval: float = DEVICE_MIN_INTERVAL  # RFC 8628 §3.2 default; lower only for test servers

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: float) -> ClientConfig:
        return cls(
            client_id=settings.client_id,
            authorize_url=settings.authorize_url,
            token_url=settings.token_url,
            revoke_url=settings.revoke_url,
            device_url=settings.device_url,
            scope=settings.scope,
            issuer=settings.issuer,
            **overrides,
        )


@attrs.frozen(kw_only=True)
class AuthCodeFlow:
    """One authorization-code attempt: its secrets, its redirect URI, and the URL to send the browser to.

    Made fresh for every attempt (RFC 9700 §2.1.1); the verifier and state never leave memory.
    """

    state: str = attrs.field(repr=False)
    verifier: str = attrs.field(repr=False)
    redirect_uri: str
    authorize_url: str = attrs.field(repr=False)

    @classmethod
    def start(cls, config: ClientConfig, redirect_uri: str, entropy: Entropy) -> AuthCodeFlow:
        """Draw a verifier and a state and build the authorization URL (query order as the reference)."""
        state, verifier = make_state(entropy), make_verifier(entropy)
        query = urlencode(
            {
                "response_type": "code",
                "client_id": config.client_id,
                "redirect_uri": redirect_uri,
                "scope": config.scope,
                "state": state,
                "code_challenge": s256(verifier),
                "code_challenge_method": METHOD,
            },
        )
        return cls(
            state=state,
            verifier=verifier,
            redirect_uri=redirect_uri,
            authorize_url=f"{config.authorize_url}?{query}",
        )


@attrs.frozen(kw_only=True)
class DeviceAuthorization:
    """A device authorization response (RFC 8628 §3.2), validated; ``user_code`` is safe to print."""

    device_code: str = attrs.field(repr=False)
    user_code: str
    verification_uri: str
    verification_uri_complete: str | None
    expires_in: float
    interval: float


# ---------------------------------------------------------------------------------------------- states


@attrs.frozen
class Idle:
    """Nothing started yet."""


@attrs.frozen
class AwaitingCallback:
    """The browser was sent to the authorization endpoint; waiting for the redirect."""

    flow: AuthCodeFlow


@attrs.frozen
class ExchangingCode:
    """The code was sent to the token endpoint; waiting for its answer."""

    flow: AuthCodeFlow


@attrs.frozen
class RequestingDeviceCode:
    """The device authorization request is on its way."""


@attrs.frozen
class PollingDevice:
    """Polling the token endpoint until the person approves the device code (or it expires)."""

    device: DeviceAuthorization
    interval: float
    deadline: datetime


@attrs.frozen
class Refreshing:
    """A refresh-token grant is on its way."""

    refresh_token: str = attrs.field(repr=False)


@attrs.frozen
class Revoking:
    """Revoking tokens one by one (RFC 7009), refresh token first; failures are only noted."""

    current: tuple[str, str | None] = attrs.field(repr=False)
    pending: tuple[tuple[str, str | None], ...] = attrs.field(repr=False)
    notes: tuple[str, ...] = ()


@attrs.frozen
class SignedIn:
    """Terminal: the flow produced tokens (a login or a refresh)."""

    tokens: OAuthTokens


@attrs.frozen
class Revoked:
    """Terminal: every revocation was attempted; ``notes`` says what did not go through."""

    notes: tuple[str, ...] = ()


@attrs.frozen(eq=False)
class Failed:
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
TERMINAL = (SignedIn, Revoked, Failed)


# ---------------------------------------------------------------------------------------------- events


@attrs.frozen
class StartBrowserLogin:
    flow: AuthCodeFlow


@attrs.frozen
class CallbackAccepted:
    code: str = attrs.field(repr=False)
    iss: str | None = None


@attrs.frozen
class CallbackErrored:
    error: str
    description: str | None = None


@attrs.frozen
class CallbackTimedOut:
    seconds: float


@attrs.frozen
class HttpAnswered:
    response: HttpResponse


@attrs.frozen(eq=False)
class HttpFailed:
    error: AuthError


@attrs.frozen
class StartDeviceLogin:
    pass


@attrs.frozen
class Waited:
    pass


@attrs.frozen
class StartRefresh:
    refresh_token: str = attrs.field(repr=False)


@attrs.frozen
class StartRevoke:
    """Revoke these ``(token, token_type_hint)`` pairs in order."""

    tokens: tuple[tuple[str, str | None], ...] = attrs.field(repr=False)


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


# ---------------------------------------------------------------------------------------------- effects


@attrs.frozen
class OpenBrowser:
    url: str = attrs.field(repr=False)


@attrs.frozen
class AwaitCallback:
    """Wait for the redirect; produces CallbackAccepted, CallbackErrored or CallbackTimedOut."""

    flow: AuthCodeFlow
    timeout: float


@attrs.frozen
class SendHttp:
    """Send one request; produces HttpAnswered or HttpFailed."""

    request: HttpRequest


@attrs.frozen
class ShowDeviceCode:
    device: DeviceAuthorization


@attrs.frozen
class Wait:
    """Sleep; produces Waited."""

    seconds: float


@attrs.frozen
class Note:
    """Tell the person something that does not change the outcome (e.g. a revocation that failed)."""

    message: str


Effect = OpenBrowser | AwaitCallback | SendHttp | ShowDeviceCode | Wait | Note
Transition = tuple[State, tuple[Effect, ...]]


# ---------------------------------------------------------------------------------------------- requests


def code_request(config: ClientConfig, code: str, flow: AuthCodeFlow) -> HttpRequest:
    """RFC 6749 §4.1.3 + RFC 7636 §4.5: public client, so ``client_id`` in the body and no secret."""
    fields = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": flow.redirect_uri,
        "client_id": config.client_id,
        "code_verifier": flow.verifier,
    }
    return form_post(config.token_url, fields, config.token_timeout)


def refresh_request(config: ClientConfig, refresh_token: str) -> HttpRequest:
    fields = {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": config.client_id}
    return form_post(config.token_url, fields, config.token_timeout)


def revoke_request(config: ClientConfig, token: str, hint: str | None) -> HttpRequest:
    fields = {"token": token, "client_id": config.client_id}
    if hint:
        fields["token_type_hint"] = hint
    return form_post(config.revoke_url, fields, config.revoke_timeout)


def device_request(config: ClientConfig) -> HttpRequest:
    fields = {"client_id": config.client_id, "scope": config.scope}
    return form_post(config.device_url, fields, DEVICE_REQUEST_TIMEOUT, DEVICE_BODY_LIMIT)


def device_poll_request(config: ClientConfig, device_code: str) -> HttpRequest:
    fields = {"grant_type": DEVICE_GRANT, "device_code": device_code, "client_id": config.client_id}
    return form_post(config.token_url, fields, DEVICE_REQUEST_TIMEOUT, DEVICE_BODY_LIMIT)


# ---------------------------------------------------------------------------------------------- parsing helpers


def _is_acceptable_uri(value: object) -> bool:
    from urllib.parse import urlsplit

    if not isinstance(value, str) or not value or neutralize(value) != value:
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme == "https" or (parts.scheme == "http" and is_loopback_host(parts.hostname))


def _seconds(value: object, default: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return default
    try:
        number = float(value)
    except ValueError:
        return default
    return number if not math.isnan(number) and number > 0 else default


def parse_device_authorization(
    payload: dict[str, object], min_interval: float = DEVICE_MIN_INTERVAL
) -> DeviceAuthorization:
    """Validate an RFC 8628 §3.2 response.

    Raises:
        DeviceAuthFailed: a field is missing, or ``verification_uri`` is not https (loopback excepted).
    """
    device_code, user_code = payload.get("device_code"), payload.get("user_code")
    if not isinstance(device_code, str) or not device_code or not isinstance(user_code, str) or not user_code:
        raise DeviceAuthFailed("the server's answer has no device_code or user_code")
    uri = payload.get("verification_uri")
    if not _is_acceptable_uri(uri):
        raise DeviceAuthFailed("the server's verification_uri is missing or not https")
    complete = payload.get("verification_uri_complete")
    interval = min(max(_seconds(payload.get("interval"), min_interval), min_interval), DEVICE_MAX_INTERVAL)
    return DeviceAuthorization(
        device_code=device_code,
        user_code="".join(ch for ch in user_code if ch.isprintable()),
        verification_uri=str(uri),
        verification_uri_complete=complete if _is_acceptable_uri(complete) else None,  # type: ignore[arg-type]
        expires_in=min(_seconds(payload.get("expires_in"), DEVICE_MAX_SECONDS), DEVICE_MAX_SECONDS),
        interval=interval,
    )


def _tokens_or_failure(reply: TokenReply, now: datetime, on_reject: Callable[[TokenReply], AuthError]) -> State:
    """Common handling of a token-endpoint reply for code exchange and refresh."""
    if reply.payload is not None:
        try:
            return SignedIn(parse_token_response(reply.payload, now))
        except AuthError as exc:
            return Failed(exc)
    if reply.error is not None or reply.status in (400, 401):
        return Failed(on_reject(reply))
    return Failed(ApiError(reply.status, reply.detail))


# ---------------------------------------------------------------------------------------------- transitions


def _start_browser(config: ClientConfig, _s: Idle, ev: StartBrowserLogin, _now: datetime) -> Transition:
    return AwaitingCallback(ev.flow), (
        OpenBrowser(ev.flow.authorize_url),
        AwaitCallback(ev.flow, config.login_timeout),
    )


def _callback_accepted(config: ClientConfig, s: AwaitingCallback, ev: CallbackAccepted, _now: datetime) -> Transition:
    # RFC 9207 §2.4: compare by simple string equality; an absent `iss` is accepted.
    if config.issuer is not None and ev.iss is not None and ev.iss != config.issuer:
        return Failed(IssuerMismatch()), ()
    return ExchangingCode(s.flow), (SendHttp(code_request(config, ev.code, s.flow)),)


def _callback_errored(_c: ClientConfig, _s: AwaitingCallback, ev: CallbackErrored, _now: datetime) -> Transition:
    return Failed(AuthorizationDenied(ev.error, ev.description)), ()


def _callback_timed_out(_c: ClientConfig, _s: AwaitingCallback, ev: CallbackTimedOut, _now: datetime) -> Transition:
    return Failed(LoginTimedOut(ev.seconds)), ()


def _code_answered(_c: ClientConfig, _s: ExchangingCode, ev: HttpAnswered, now: datetime) -> Transition:
    reply = classify(ev.response)
    return _tokens_or_failure(reply, now, lambda r: CodeRejected(r.detail, r.error.error if r.error else None)), ()


def _http_failed(_c: ClientConfig, _s: State, ev: HttpFailed, _now: datetime) -> Transition:
    return Failed(ev.error), ()


def _start_device(config: ClientConfig, _s: Idle, _ev: StartDeviceLogin, _now: datetime) -> Transition:
    return RequestingDeviceCode(), (SendHttp(device_request(config)),)


def _device_answered(config: ClientConfig, _s: RequestingDeviceCode, ev: HttpAnswered, now: datetime) -> Transition:
    reply = classify(ev.response)
    if reply.payload is None:
        return Failed(DeviceAuthFailed(reply.detail, reply.error.error if reply.error else None)), ()
    try:
        device = parse_device_authorization(reply.payload, config.device_min_interval)
    except DeviceAuthFailed as exc:
        return Failed(exc), ()
    deadline = now + timedelta(seconds=device.expires_in)
    return PollingDevice(device, device.interval, deadline), (ShowDeviceCode(device), Wait(device.interval))


def _device_waited(config: ClientConfig, s: PollingDevice, _ev: Waited, now: datetime) -> Transition:
    if now >= s.deadline:
        return Failed(DeviceAuthFailed("the code expired before it was approved", "expired_token")), ()
    return s, (SendHttp(device_poll_request(config, s.device.device_code)),)


def _poll_again(s: PollingDevice, interval: float) -> Transition:
    interval = min(interval, DEVICE_MAX_INTERVAL)
    return attrs.evolve(s, interval=interval), (Wait(interval),)


def _device_polled(_c: ClientConfig, s: PollingDevice, ev: HttpAnswered, now: datetime) -> Transition:
    reply = classify(ev.response)
    if reply.payload is not None:
        return _tokens_or_failure(reply, now, lambda r: DeviceAuthFailed(r.detail)), ()
    code = reply.error.error if reply.error else None
    if code == "authorization_pending":
        return _poll_again(s, s.interval)
    if code == "slow_down" or reply.status == 429:
        # RFC 8628 §3.5: slow_down adds 5 s to this and every later interval; a 429 counts as slow_down.
        return _poll_again(s, max(s.interval + DEVICE_SLOW_DOWN_STEP, reply.retry_after or 0.0))
    if code in ("server_error", "temporarily_unavailable") or (code is None and reply.status >= 500):
        return _poll_again(s, s.interval * 2)
    if code == "access_denied":
        return Failed(DeviceAuthFailed("the request was denied", code)), ()
    if code == "expired_token":
        return Failed(DeviceAuthFailed("the code expired before it was approved", code)), ()
    return Failed(DeviceAuthFailed(reply.detail, code)), ()


def _device_poll_failed(_c: ClientConfig, s: PollingDevice, _ev: HttpFailed, _now: datetime) -> Transition:
    return _poll_again(s, s.interval * 2)  # RFC 8628 §3.5: back off on connection timeouts


def _start_refresh(config: ClientConfig, _s: Idle, ev: StartRefresh, _now: datetime) -> Transition:
    return Refreshing(ev.refresh_token), (SendHttp(refresh_request(config, ev.refresh_token)),)


def _refresh_answered(_c: ClientConfig, s: Refreshing, ev: HttpAnswered, now: datetime) -> Transition:
    reply = classify(ev.response)
    state = _tokens_or_failure(reply, now, lambda r: RefreshFailed(r.detail, r.error.error if r.error else None))
    if isinstance(state, SignedIn) and state.tokens.refresh_token is None:
        state = SignedIn(state.tokens.replace(refresh_token=s.refresh_token))  # RFC 6749 §6: keep the old RT
    return state, ()


def _start_revoke(config: ClientConfig, _s: Idle, ev: StartRevoke, _now: datetime) -> Transition:
    if not ev.tokens:
        return Revoked(), ()
    first, *rest = ev.tokens
    return Revoking(first, tuple(rest)), (SendHttp(revoke_request(config, *first)),)


def _revoke_next(config: ClientConfig, s: Revoking, note: str | None) -> Transition:
    notes = (*s.notes, note) if note else s.notes
    if not s.pending:
        return Revoked(notes), ((Note(note),) if note else ())
    nxt, *rest = s.pending
    effects: tuple[Effect, ...] = (SendHttp(revoke_request(config, *nxt)),)
    return Revoking(nxt, tuple(rest), notes), ((Note(note), *effects) if note else effects)


def _revoke_answered(config: ClientConfig, s: Revoking, ev: HttpAnswered, _now: datetime) -> Transition:
    status = ev.response.status
    if 200 <= status < 300:
        return _revoke_next(config, s, None)
    reply = classify(ev.response)
    token, hint = s.current
    if hint and reply.error and reply.error.error == "unsupported_token_type":
        # RFC 7009 §2.2.1: the server does not know the hint; try once more without it.
        retry = attrs.evolve(s, current=(token, None))
        return retry, (SendHttp(revoke_request(config, token, None)),)
    if status == 503:
        return _revoke_next(
            config,
            s,
            "token revocation is temporarily unavailable (HTTP 503); local credentials cleared anyway.",
        )
    return _revoke_next(config, s, f"token revoke returned HTTP {status}; local credentials cleared anyway.")


def _revoke_failed(config: ClientConfig, s: Revoking, ev: HttpFailed, _now: datetime) -> Transition:
    return _revoke_next(
        config, s, f"token revoke did not complete ({ev.error.message}); local credentials cleared anyway."
    )


Handler = Callable[..., Transition]  # (config, state, event, now) with the pair's own types

TRANSITIONS: dict[tuple[type, type], Handler] = {
    (Idle, StartBrowserLogin): _start_browser,
    (AwaitingCallback, CallbackAccepted): _callback_accepted,
    (AwaitingCallback, CallbackErrored): _callback_errored,
    (AwaitingCallback, CallbackTimedOut): _callback_timed_out,
    (ExchangingCode, HttpAnswered): _code_answered,
    (ExchangingCode, HttpFailed): _http_failed,
    (Idle, StartDeviceLogin): _start_device,
    (RequestingDeviceCode, HttpAnswered): _device_answered,
    (RequestingDeviceCode, HttpFailed): _http_failed,
    (PollingDevice, Waited): _device_waited,
    (PollingDevice, HttpAnswered): _device_polled,
    (PollingDevice, HttpFailed): _device_poll_failed,
    (Idle, StartRefresh): _start_refresh,
    (Refreshing, HttpAnswered): _refresh_answered,
    (Refreshing, HttpFailed): _http_failed,
    (Idle, StartRevoke): _start_revoke,
    (Revoking, HttpAnswered): _revoke_answered,
    (Revoking, HttpFailed): _revoke_failed,
}
"""The whole machine: ``(state type, event type) -> handler``. A pair that is not here is not allowed."""


def step(config: ClientConfig, state: State, event: Event, now: datetime) -> Transition:
    """Apply ``event`` to ``state`` at time ``now``.

    Raises:
        InvalidTransition: the table has no entry for this pair; ``state`` remains the current state.
    """
    handler = TRANSITIONS.get((type(state), type(event)))
    if handler is None:
        raise InvalidTransition(type(state).__name__, type(event).__name__)
    return handler(config, state, event, now)


def is_terminal(state: State) -> bool:
    return isinstance(state, TERMINAL)
