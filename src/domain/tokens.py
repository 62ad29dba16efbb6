"""Token-endpoint answers: successful token responses (RFC 6749 §5.1) and error responses (§5.2).

``parse_token_response`` follows the TypeScript CLI's ``parseTokenResponse`` (reference §2), so both CLIs accept
and refuse the same servers:

* the payload must be a JSON object;
* ``access_token`` a non-empty string without control characters; ``refresh_token`` optional, same rule;
* ``expires_in`` a number or a numeric string (its numeric prefix, like ``parseFloat``), clamped to at least
  30 s and at most a year; absent or non-numeric means no expiry;
* a ``token_type`` other than Bearer (any case) is refused (RFC 6749 §7.1); a missing one is accepted.

An error response is data (:class:`OAuthErrorBody`) whatever its code; a 200 that carries ``error`` is an error.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta

import attrs

from .credentials import OAuthTokens, format_instant
from .errors import RefreshFailed
from .http import HttpResponse
from .redact import has_control_chars, scrub_body

MIN_EXPIRES_IN = 30.0
MAX_EXPIRES_IN = 366 * 24 * 3600.0
_NUMERIC_PREFIX = re.compile(r"\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
DESCRIPTION_LIMIT = 300


@attrs.frozen
class OAuthErrorBody:
    """An RFC 6749 §5.2 error: ``error``, plus the optional description and URI, scrubbed and cut."""

    error: str
    description: str | None = None
    uri: str | None = None

    def detail(self) -> str:
        return f"{self.error}: {self.description}" if self.description else self.error


@attrs.frozen
class TokenReply:
    """A token-endpoint response sorted into what the flows need.

    Exactly one of ``payload`` (a 2xx JSON object without ``error``) and ``failure`` is set; ``error`` is the
    parsed §5.2 body when the server sent one, ``detail`` a scrubbed text fit for a message.
    """

    status: int
    payload: dict[str, object] | None = attrs.field(default=None, repr=False)
    error: OAuthErrorBody | None = None
    detail: str = ""
    retry_after: float | None = None

    @property
    def ok(self) -> bool:
        return self.payload is not None


def parse_expires_in(value: object) -> float | None:
    """``expires_in`` as seconds, or ``None`` when it is absent or not a finite number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str) and (match := _NUMERIC_PREFIX.match(value)):
        number = float(match.group(0))
    else:
        return None
    if math.isnan(number):
        return None
    return min(max(number, MIN_EXPIRES_IN), MAX_EXPIRES_IN)


def _token_string(payload: dict[str, object], name: str, required: bool) -> str | None:
    value = payload.get(name)
    if value is None or value == "":
        if required:
            raise RefreshFailed(f"token endpoint did not return an {name}")
        return None
    if not isinstance(value, str):
        raise RefreshFailed(f"token endpoint returned a non-string {name}")
    if has_control_chars(value):
        raise RefreshFailed(f"{name} contains control characters")
    return value


def parse_token_response(payload: object, now: datetime) -> OAuthTokens:
    """Turn a successful token response into the OAuth block we store.

    Raises:
        RefreshFailed: the payload is not a usable token response (the reference's code for shape failures).
    """
    if not isinstance(payload, dict):
        raise RefreshFailed("token endpoint returned a non-object payload")
    access = _token_string(payload, "access_token", required=True)
    refresh = _token_string(payload, "refresh_token", required=False)
    token_type = payload.get("token_type")
    if token_type is not None and (not isinstance(token_type, str) or token_type.lower() != "bearer"):
        raise RefreshFailed("token endpoint returned a token type other than Bearer")
    seconds = parse_expires_in(payload.get("expires_in"))
    expires_at = format_instant(now + timedelta(seconds=seconds)) if seconds is not None else None
    scope = payload.get("scope") if isinstance(payload.get("scope"), str) else None
    assert access is not None
    return OAuthTokens(access, refresh, expires_at, scope, token_type if isinstance(token_type, str) else None)


def read_oauth_error(payload: object) -> OAuthErrorBody | None:
    """The §5.2 error in ``payload``, if it carries a string ``error``; texts are scrubbed and cut."""
    if not isinstance(payload, dict) or not isinstance(payload.get("error"), str) or not payload["error"]:
        return None
    description = payload.get("error_description")
    uri = payload.get("error_uri")
    return OAuthErrorBody(
        scrub_body(payload["error"], 100),
        scrub_body(description, DESCRIPTION_LIMIT) if isinstance(description, str) else None,
        scrub_body(uri, DESCRIPTION_LIMIT) if isinstance(uri, str) else None,
    )


def _retry_after(response: HttpResponse) -> float | None:
    value = response.headers.get("retry-after", "").strip()
    if value.isdigit():
        return min(float(value), 3600.0)
    return None


def classify(response: HttpResponse) -> TokenReply:
    """Sort a token-endpoint (or device, or revocation) response into success or failure, never raising."""
    import json

    try:
        payload: object = json.loads(response.body) if response.body else None
    except (ValueError, RecursionError):
        payload = None
    error = read_oauth_error(payload)
    retry_after = _retry_after(response)
    if response.ok and error is None and isinstance(payload, dict):
        return TokenReply(response.status, payload=payload)
    if error is not None:
        return TokenReply(response.status, error=error, detail=error.detail(), retry_after=retry_after)
    if response.ok:
        kind = response.headers.get("content-type", "unknown content type").split(";")[0]
        return TokenReply(response.status, detail=f"non-JSON body ({kind})", retry_after=retry_after)
    return TokenReply(
        response.status,
        detail=scrub_body(response.body) or f"HTTP {response.status}",
        retry_after=retry_after,
    )
