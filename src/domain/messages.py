"""The OAuth messages, sans I/O: the requests we send and how we read what the authorization server answers.

Requests (the body bytes are built here, so every transport sends exactly the same thing):

* the authorization request (RFC 6749 §4.1.1, RFC 7636 §4.3): a fresh verifier and state for every attempt;
* the code exchange (RFC 6749 §4.1.3, RFC 7636 §4.5) and the refresh (§6): public client, ``client_id`` in the
  body, no secret;
* revocation (RFC 7009 §2.1), device authorization (RFC 8628 §3.1) and device polling (§3.4).

Answers are read defensively, since a server (or whatever answers in its place) may send anything:

* a token response (RFC 6749 §5.1) must be a JSON object with an ``access_token`` that can be sent in a header and
  an optional ``refresh_token`` of VSCHARs (``checks.py``); ``token_type`` other than Bearer is refused (§7.1);
  ``expires_in`` may be a number or a numeric string of ASCII digits, is clamped to 30 s .. one year, and a
  number too large for a float counts as the maximum;
* an error response (§5.2) is data (:class:`OAuthErrorBody`) whatever its code; a 200 that carries ``error`` is
  an error; its texts are scrubbed (patterns and the request's own secrets) and cut;
* ``Retry-After`` and the device ``interval`` accept ASCII digits only and are capped.
"""

from __future__ import annotations

import json
import math
import re
from datetime import datetime, timedelta
from urllib.parse import urlencode, urlsplit

import attrs

from .checks import is_access_token, is_refresh_token
from .client import ClientConfig
from .credentials import OAuthTokens
from .errors import DeviceAuthFailed, InvalidTokenResponse
from .flow import AuthCodeFlow, DeviceAuthorization
from .http import HttpRequest, HttpResponse, form_post
from .primitives import format_instant, is_loopback_host
from .redact import neutralize, scrub_body
from .retry import parse_retry_after
from .value import Value

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .pkce import Entropy

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
DEVICE_MAX_INTERVAL = 60.0
DEVICE_SLOW_DOWN_STEP = 5.0
DEVICE_MAX_SECONDS = 30 * 60.0
DEVICE_BODY_LIMIT = 64 * 1024
MIN_EXPIRES_IN = 30.0
MAX_EXPIRES_IN = 366 * 24 * 3600.0
DESCRIPTION_LIMIT = 300
_NUMBER = re.compile(r"[ \t]*[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


# ---------------------------------------------------------------------------------------------- requests


def start_auth_code_flow(config: ClientConfig, redirect_uri: str, entropy: Entropy) -> AuthCodeFlow:
    """Draw a verifier and a state and build the authorization URL (query order as the TypeScript CLI's)."""
    from .pkce import METHOD, make_state, make_verifier, s256  # hashlib: only a sign-in needs it

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
    return AuthCodeFlow(
        state=state,
        verifier=verifier,
        redirect_uri=redirect_uri,
        authorize_url=f"{config.authorize_url}?{query}",
    )


def code_request(config: ClientConfig, code: str, flow: AuthCodeFlow, timeout: float) -> HttpRequest:
    """RFC 6749 §4.1.3 + RFC 7636 §4.5; ``redirect_uri`` is the flow's, byte for byte."""
    fields = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": flow.redirect_uri,
        "client_id": config.client_id,
        "code_verifier": flow.verifier,
    }
    return form_post(config.token_url, fields, timeout)


def refresh_request(config: ClientConfig, refresh_token: str, timeout: float) -> HttpRequest:
    fields = {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": config.client_id}
    return form_post(config.token_url, fields, timeout)


def revoke_request(config: ClientConfig, token: str, hint: str | None, timeout: float) -> HttpRequest:
    fields = {"token": token, "client_id": config.client_id}
    if hint:
        fields["token_type_hint"] = hint
    return form_post(config.revoke_url, fields, timeout)


def device_request(config: ClientConfig, timeout: float) -> HttpRequest:
    fields = {"client_id": config.client_id, "scope": config.scope}
    return form_post(config.device_url, fields, timeout, DEVICE_BODY_LIMIT)


def device_poll_request(config: ClientConfig, device_code: str, timeout: float) -> HttpRequest:
    fields = {"grant_type": DEVICE_GRANT, "device_code": device_code, "client_id": config.client_id}
    return form_post(config.token_url, fields, timeout, DEVICE_BODY_LIMIT)


# ---------------------------------------------------------------------------------------------- numbers


def read_number(value: object) -> float | None:
    """A number from JSON: an int, a float, or a string of ASCII digits (its numeric prefix, like ``parseFloat``).

    ``None`` when absent, not a number, or NaN; a value too large for a float is ``inf``.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        try:
            return float(value)
        except OverflowError:
            return math.inf if value > 0 else -math.inf
    if isinstance(value, float):
        number = value
    elif isinstance(value, str) and (match := _NUMBER.match(value)):
        number = float(match.group(0))  # float() of ASCII digits never raises; too large gives inf
    else:
        return None
    return None if math.isnan(number) else number


def parse_expires_in(value: object) -> float | None:
    """``expires_in`` as seconds, clamped to 30 s .. one year; ``None`` when absent or not a number."""
    number = read_number(value)
    if number is None:
        return None
    return min(max(number, MIN_EXPIRES_IN), MAX_EXPIRES_IN)


# ---------------------------------------------------------------------------------------------- token responses


def _token_string(payload: dict[str, object], name: str, required: bool) -> str | None:
    value = payload.get(name)
    if value is None or value == "":
        if required:
            raise InvalidTokenResponse(f"the token endpoint did not return an {name}")
        return None
    if not isinstance(value, str):
        raise InvalidTokenResponse(f"the token endpoint returned a non-string {name}")
    valid = is_access_token(value) if name == "access_token" else is_refresh_token(value)
    if not valid:
        raise InvalidTokenResponse(f"the {name} holds characters a token may not contain")
    return value


def parse_token_response(payload: object, now: datetime) -> OAuthTokens:
    """Turn a successful token response into the OAuth block we store.

    Raises:
        InvalidTokenResponse: the payload is not a usable token response.
    """
    if not isinstance(payload, dict):
        raise InvalidTokenResponse("the token endpoint returned a non-object payload")
    access = _token_string(payload, "access_token", required=True)
    refresh = _token_string(payload, "refresh_token", required=False)
    token_type = payload.get("token_type")
    if token_type is not None and (not isinstance(token_type, str) or token_type.lower() != "bearer"):
        raise InvalidTokenResponse("the token endpoint returned a token type other than Bearer")
    seconds = parse_expires_in(payload.get("expires_in"))
    expires_at = format_instant(now + timedelta(seconds=seconds)) if seconds is not None else None
    scope = payload.get("scope")
    return OAuthTokens(
        str(access),
        refresh,
        expires_at,
        scope if isinstance(scope, str) else None,
        token_type if isinstance(token_type, str) else None,
        _obtained(now) if expires_at else {},
    )


def _obtained(now: datetime) -> dict[str, object]:
    """When the tokens arrived: with the expiry it gives their lifetime (see ``OAuthTokens.is_stale``)."""
    return {"obtained_at": format_instant(now)}


@attrs.frozen(repr=False, eq=False)
class OAuthErrorBody(Value):
    """An RFC 6749 §5.2 error: ``error``, plus the optional description and URI, scrubbed and cut."""

    error: str
    description: str | None = None
    uri: str | None = None

    def detail(self) -> str:
        return f"{self.error}: {self.description}" if self.description else self.error


@attrs.frozen(repr=False, eq=False)
class TokenReply(Value):
    """A token-endpoint (or device, or revocation) response sorted into what the flows need.

    ``payload`` is set for a 2xx JSON object without ``error``; otherwise ``error`` holds the parsed §5.2 body
    when the server sent one, and ``detail`` a scrubbed text fit for a message.
    """

    status: int
    payload: dict[str, object] | None = attrs.field(default=None, repr=False)
    error: OAuthErrorBody | None = None
    detail: str = ""
    retry_after: float | None = None

    @property
    def ok(self) -> bool:
        return self.payload is not None

    @property
    def oauth_error(self) -> str | None:
        return self.error.error if self.error else None


def read_oauth_error(payload: object, secrets: tuple[str, ...] = ()) -> OAuthErrorBody | None:
    """The §5.2 error in ``payload``, if it carries a string ``error``; texts are scrubbed and cut."""
    if not isinstance(payload, dict) or not isinstance(payload.get("error"), str) or not payload["error"]:
        return None
    description, uri = payload.get("error_description"), payload.get("error_uri")
    return OAuthErrorBody(
        scrub_body(payload["error"], 100, secrets),
        scrub_body(description, DESCRIPTION_LIMIT, secrets) if isinstance(description, str) else None,
        scrub_body(uri, DESCRIPTION_LIMIT, secrets) if isinstance(uri, str) else None,
    )


def classify(response: HttpResponse, secrets: tuple[str, ...] = ()) -> TokenReply:
    """Sort a response into success or failure, never raising; ``secrets`` are redacted from any quoted text."""
    try:
        payload: object = json.loads(response.body) if response.body else None
    except (ValueError, RecursionError):
        payload = None
    error = read_oauth_error(payload, secrets)
    retry_after = parse_retry_after(response)
    if response.ok and error is None and isinstance(payload, dict):
        return TokenReply(response.status, payload=payload)
    if error is not None:
        return TokenReply(response.status, error=error, detail=error.detail(), retry_after=retry_after)
    if response.ok:
        kind = response.headers.get("content-type", "unknown content type").split(";")[0]
        return TokenReply(response.status, detail=f"non-JSON body ({scrub_body(kind, 80)})", retry_after=retry_after)
    detail = scrub_body(response.body, secrets=secrets) or f"HTTP {response.status}"
    return TokenReply(response.status, detail=detail, retry_after=retry_after)


# ---------------------------------------------------------------------------------------------- device responses


def _is_acceptable_uri(value: object) -> bool:
    if not isinstance(value, str) or not value or neutralize(value) != value or not value.isascii():
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme == "https" or (parts.scheme == "http" and is_loopback_host(parts.hostname))


def _bounded(value: object, default: float, low: float, high: float) -> float:
    number = read_number(value)
    if number is None or number <= 0:
        return default
    return min(max(number, low), high)


def parse_device_authorization(payload: dict[str, object], min_interval: float) -> DeviceAuthorization:
    """Validate an RFC 8628 §3.2 response.

    Raises:
        DeviceAuthFailed: a field is missing, or ``verification_uri`` is not https (loopback excepted).
    """
    device_code, user_code = payload.get("device_code"), payload.get("user_code")
    if not is_refresh_token(device_code) or not isinstance(user_code, str) or not user_code:
        raise DeviceAuthFailed("the server's answer has no usable device_code or user_code")
    uri = payload.get("verification_uri")
    if not _is_acceptable_uri(uri):
        raise DeviceAuthFailed("the server's verification_uri is missing or not https")
    complete = payload.get("verification_uri_complete")
    return DeviceAuthorization(
        device_code=str(device_code),
        user_code=neutralize(user_code[:64]),
        verification_uri=str(uri),
        verification_uri_complete=complete if isinstance(complete, str) and _is_acceptable_uri(complete) else None,
        expires_in=_bounded(payload.get("expires_in"), DEVICE_MAX_SECONDS, 1.0, DEVICE_MAX_SECONDS),
        interval=_bounded(payload.get("interval"), min_interval, min_interval, DEVICE_MAX_INTERVAL),
    )
