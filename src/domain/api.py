"""HeyGen's resource API as pure functions: the ``/v3/users/me`` request and the parsing of its answer.

``/v3/users/me`` answers either ``{"code":…, "message":…, "data": {…}}`` or the profile at the top level
(reference §2); both are read. Errors: 401 → ``UNAUTHENTICATED``, other non-2xx → ``API_ERROR``, a 2xx that is
not JSON → ``API_ERROR`` naming what came instead. Bodies reach messages only cut and scrubbed.
"""

from __future__ import annotations

import json

from .credentials import UserProfile, _Value
from .errors import ApiError, Unauthenticated
from .http import HttpRequest, HttpResponse
from .redact import scrub_body

TYPE_CHECKING = False  # `typing` costs start-up time on the CLI's hot path; type checkers know this name
if TYPE_CHECKING:
    from .resolve import Credential

CLIENT_SOURCE = "hyperframes"
RESOURCE_TIMEOUT = 15.0
RESOURCE_BODY_LIMIT = 1024 * 1024
_STRING_FIELDS = ("username", "email", "first_name", "last_name", "billing_type")
_OBJECT_FIELDS = ("wallet", "subscription", "usage_based")


class UserInfo(_Value):
    """Who a credential belongs to, as ``/v3/users/me`` describes them; unknown or mistyped fields are dropped."""

    __slots__ = (*_STRING_FIELDS, *_OBJECT_FIELDS)

    username: str | None
    email: str | None
    first_name: str | None
    last_name: str | None
    billing_type: str | None
    wallet: dict[str, object] | None
    subscription: dict[str, object] | None
    usage_based: dict[str, object] | None

    def __init__(self, **fields: object) -> None:
        self._set(**{name: fields.get(name) for name in self.__slots__})

    @property
    def identity(self) -> str:
        """email ?? username ?? "(unknown user)", as the reference prints it."""
        if self.email is not None:
            return self.email
        return self.username if self.username is not None else "(unknown user)"

    def as_profile(self) -> UserProfile:
        return UserProfile(self.email, self.first_name, self.last_name, self.username)

    def as_json(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in self.__slots__ if getattr(self, name) is not None}


def auth_headers(credential: Credential) -> dict[str, str]:
    """The headers that carry ``credential`` (lower-case names, reference §2 and §9 #2027/#2368)."""
    if credential.kind == "oauth":
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


def _detail(response: HttpResponse) -> str:
    return scrub_body(response.body) or f"HTTP {response.status}"


def parse_userinfo(payload: object) -> UserInfo:
    """Read the profile from a ``/v3/users/me`` payload, wrapped in ``data`` or not."""
    if not isinstance(payload, dict):
        return UserInfo()
    data = payload.get("data")
    source = data if isinstance(data, dict) else payload
    if "data" in payload and isinstance(data, list):
        source = {}
    fields: dict[str, object] = {}
    for name in _STRING_FIELDS:
        if isinstance(source.get(name), str):
            fields[name] = source[name]
    for name in _OBJECT_FIELDS:
        if isinstance(source.get(name), dict):
            fields[name] = source[name]
    return UserInfo(**fields)


def json_payload(response: HttpResponse) -> object:
    """Decode a 2xx body as JSON.

    Raises:
        ApiError: the body is not JSON (an HTML page from a proxy, say); the message says what it was.
    """
    try:
        return json.loads(response.body)
    except (ValueError, RecursionError):
        kind = response.headers.get("content-type", "unknown content type").split(";")[0]
        raise ApiError(response.status, f"non-JSON body ({kind}): {_detail(response)[:120]}") from None


def check_userinfo(response: HttpResponse) -> UserInfo:
    """Turn a ``/v3/users/me`` response into a profile or our error.

    Raises:
        Unauthenticated: HTTP 401.
        ApiError: any other non-2xx (a 403 ``insufficient_scope`` says to sign in again: it needs consent, not a
            refresh), or a 2xx that is not JSON.
    """
    if response.status == 401:
        raise Unauthenticated(_detail(response))
    if is_insufficient_scope(response):
        raise ApiError(403, "insufficient_scope", "Run `hyperframes auth login` to grant the missing permission.")
    if not response.ok:
        raise ApiError(response.status, _detail(response))
    return parse_userinfo(json_payload(response))


def is_insufficient_scope(response: HttpResponse) -> bool:
    """A 403 whose ``WWW-Authenticate`` says ``insufficient_scope`` needs consent, not a refresh (RFC 6750 §3.1)."""
    return response.status == 403 and "insufficient_scope" in response.headers.get("www-authenticate", "")
