"""HeyGen's resource API, sans I/O: the ``/v3/users/me`` request, the credential headers, and the answer's status.

``/v3/users/me`` tells who a credential belongs to. Its body is read into :class:`UserInfo` at the JSON edge
(``adapters/codec.py``, through the ``read_user`` port); here we only decide what the status means: 401 is
``UNAUTHENTICATED``, a 403 ``insufficient_scope`` needs a new consent, any other non-2xx is ``API_ERROR``, and a
2xx that is not JSON is ``API_ERROR`` naming what came instead. Bodies reach messages only cut and scrubbed.
"""

from __future__ import annotations

import json

import attrs

from .credentials import UserProfile
from .errors import ApiError, ServerUnavailable, Unauthenticated
from .http import HttpRequest, HttpResponse
from .redact import scrub_body
from .value import Value

TYPE_CHECKING = False  # `typing` costs start-up time on the CLI's hot path; type checkers know this name
if TYPE_CHECKING:
    from .resolve import Credential

CLIENT_SOURCE = "hyperframes"
RESOURCE_TIMEOUT = 15.0
RESOURCE_BODY_LIMIT = 1024 * 1024
UNKNOWN_USER = "(unknown user)"


@attrs.frozen(repr=False, eq=False)
class UserInfo(Value):
    """Who a credential belongs to, as ``/v3/users/me`` describes them (unknown or mistyped fields dropped)."""

    username: str | None = None
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    billing_type: str | None = None
    wallet: dict[str, object] | None = None
    subscription: dict[str, object] | None = None
    usage_based: dict[str, object] | None = None

    def as_profile(self) -> UserProfile:
        return UserProfile(self.email, self.first_name, self.last_name, self.username)

    @property
    def identity(self) -> str:
        """How the person is named: the email, else "first last", else the username, else ``(unknown user)``."""
        return self.as_profile().display_name() or UNKNOWN_USER


def auth_headers(credential: Credential) -> dict[str, str]:
    """The headers that carry ``credential`` (lower-case names).

    OAuth sends ``Authorization: Bearer`` and ``X-HeyGen-Source: cli``; API keys send ``x-api-key``; both name the
    client with ``X-HeyGen-Client-Source``.
    """
    from .resolve import OAuthCredential

    if isinstance(credential, OAuthCredential):
        return {
            "authorization": f"Bearer {credential.secret}",
            "x-heygen-source": "cli",
            "x-heygen-client-source": CLIENT_SOURCE,
        }
    return {"x-api-key": credential.secret, "x-heygen-client-source": CLIENT_SOURCE}


def userinfo_request(url: str, credential: Credential, timeout: float = RESOURCE_TIMEOUT) -> HttpRequest:
    """``GET /v3/users/me`` with the credential's headers; same-origin redirects only."""
    headers = {"accept": "application/json", **auth_headers(credential)}
    return HttpRequest("GET", url, headers, None, timeout, follow_redirects=True, max_bytes=RESOURCE_BODY_LIMIT)


def _detail(response: HttpResponse, secrets: tuple[str, ...] = ()) -> str:
    return scrub_body(response.body, secrets=secrets) or f"HTTP {response.status}"


def json_payload(response: HttpResponse, secrets: tuple[str, ...] = ()) -> object:
    """Decode a 2xx body as JSON.

    Raises:
        ApiError: the body is not JSON (an HTML page from a proxy, say); the message says what it was, with the
            request's ``secrets`` redacted from anything quoted.
    """
    try:
        return json.loads(response.body)
    except (ValueError, RecursionError):
        kind = response.headers.get("content-type", "unknown content type").split(";")[0]
        detail = _detail(response, secrets)[:120]
        raise ApiError(response.status, f"non-JSON body ({scrub_body(kind, 80)}): {detail}") from None


def check_answer(response: HttpResponse, secrets: tuple[str, ...] = ()) -> object:
    """Turn a ``/v3/users/me`` response into its JSON payload, or our error.

    Args:
        secrets: values the request carried (its credential); redacted from any text quoted from the body.

    Raises:
        Unauthenticated: HTTP 401.
        ServerUnavailable: 429 or 5xx: the server's trouble, not the credential's (try again later).
        ApiError: any other non-2xx (a 403 ``insufficient_scope`` says to sign in again: it needs consent, not a
            refresh), or a 2xx that is not JSON.
    """
    if response.status == 401:
        raise Unauthenticated(_detail(response, secrets))
    if is_insufficient_scope(response):
        raise ApiError(403, "insufficient_scope", "Run `hyperframes auth login` to grant the missing permission.")
    if response.status == 429 or response.status >= 500:
        raise ServerUnavailable(response.status, _detail(response, secrets))
    if not response.ok:
        raise ApiError(response.status, _detail(response, secrets))
    return json_payload(response, secrets)


def is_insufficient_scope(response: HttpResponse) -> bool:
    """A 403 whose ``WWW-Authenticate`` says ``insufficient_scope`` needs consent, not a refresh (RFC 6750 §3.1)."""
    return response.status == 403 and "insufficient_scope" in response.headers.get("www-authenticate", "")
