"""Our own HTTP request and response values: what crosses the ``HttpTransport`` port.

No library types cross a port (the gidgethub shape): the domain builds requests down to the body bytes, so every
transport sends exactly the same thing, and parses responses from ``(status, headers, body)``.

Plain classes rather than attrs because ``auth status`` builds one on its hot path.
"""

from __future__ import annotations

from urllib.parse import urlencode

from .credentials import _Value

DEFAULT_TIMEOUT = 15.0
TOKEN_BODY_LIMIT = 1024 * 1024


class HttpRequest(_Value):
    """One HTTP request, fully built.

    Attributes:
        method, url: what to send where (the URL never carries a secret in its query).
        headers: header names in lower case.
        body: the encoded body, or ``None``.
        timeout: the one deadline of a ``send``, in seconds: connect, proxy tunnel, TLS handshake, headers and
            body, and every redirect followed, all together (a server sending a byte at a time cannot stretch
            it); past it the transport raises ``RequestTimedOut``.
        follow_redirects: ``False`` for token, revocation and device endpoints (a 307 would replay a refresh
            token, RFC 9700 §4.12); resource requests may follow same-origin redirects.
        max_bytes: the largest body the transport may read before giving up.
    """

    __slots__ = ("body", "follow_redirects", "headers", "max_bytes", "method", "timeout", "url")
    _secret = ("headers", "body")

    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None
    timeout: float
    follow_redirects: bool
    max_bytes: int

    def __init__(
        self,
        method: str,
        url: str,
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        follow_redirects: bool = False,
        max_bytes: int = TOKEN_BODY_LIMIT,
    ) -> None:
        self._set(
            method=method,
            url=url,
            headers={k.lower(): v for k, v in (headers or {}).items()},
            body=body,
            timeout=timeout,
            follow_redirects=follow_redirects,
            max_bytes=max_bytes,
        )

    def form(self) -> dict[str, str]:
        """The form fields of a form-encoded body (for fakes and tests)."""
        from urllib.parse import parse_qsl

        return dict(parse_qsl((self.body or b"").decode("ascii"), keep_blank_values=True))


class HttpResponse(_Value):
    """One HTTP response: status, lower-cased headers, the body bytes, and the final URL."""

    __slots__ = ("body", "headers", "status", "url")
    _secret = ("body",)

    status: int
    headers: dict[str, str]
    body: bytes
    url: str

    def __init__(self, status: int, headers: dict[str, str] | None = None, body: bytes = b"", url: str = "") -> None:
        self._set(status=status, headers={k.lower(): v for k, v in (headers or {}).items()}, body=body, url=url)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def form_post(
    url: str,
    fields: dict[str, str],
    timeout: float = DEFAULT_TIMEOUT,
    max_bytes: int = TOKEN_BODY_LIMIT,
) -> HttpRequest:
    """A form-encoded POST to an OAuth endpoint: JSON accepted, redirects never followed."""
    return HttpRequest(
        "POST",
        url,
        {"content-type": "application/x-www-form-urlencoded", "accept": "application/json"},
        urlencode(fields).encode("ascii"),
        timeout,
        follow_redirects=False,
        max_bytes=max_bytes,
    )
