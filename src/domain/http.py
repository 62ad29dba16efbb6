"""Our own HTTP request and response values: what crosses the ``HttpTransport`` port.

No library types cross a port: the domain builds requests down to the body bytes, so every transport sends exactly
the same thing, and reads responses from ``(status, headers, body)``.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

import attrs

from .value import Value

DEFAULT_TIMEOUT = 15.0
TOKEN_BODY_LIMIT = 1024 * 1024
CREDENTIAL_HEADERS = ("authorization", "x-api-key")
SECRET_FORM_FIELDS = frozenset({"code", "code_verifier", "refresh_token", "token", "device_code", "client_secret"})


def _lower_keys(headers: dict[str, str] | None) -> dict[str, str]:
    return {k.lower(): v for k, v in (headers or {}).items()}


def visible_url(url: str) -> str:
    """``url`` with every character outside visible ASCII percent-encoded (as UTF-8, lone surrogates included).

    Our own URLs are checked when configured, but a redirect target comes from a server's ``Location`` header,
    which may hold control characters (an ESC that would drive the terminal showing the ``--verbose`` trace, a
    CR/LF that would split the request line), spaces or non-ASCII text (bidi overrides). Browsers percent-encode
    such characters (the WHATWG URL standard); so do we, so a URL that crosses the port is inert wherever it goes.
    """
    if url.isascii() and url.isprintable() and " " not in url:
        return url
    return "".join(
        ch if "!" <= ch <= "~" else "".join(f"%{byte:02X}" for byte in ch.encode("utf-8", "surrogatepass"))
        for ch in url
    )


@attrs.frozen(repr=False, eq=False)
class HttpRequest(Value):
    """One HTTP request, fully built.

    Attributes:
        method, url: what to send where (the URL never carries a secret in its query; any character outside
            visible ASCII is percent-encoded, see :func:`visible_url`).
        headers: header names in lower case.
        body: the encoded body, or ``None``.
        timeout: the one deadline of a ``send``, in seconds: connect, proxy tunnel, TLS handshake, headers and
            body, and every redirect followed, all together (a server sending a byte at a time cannot stretch
            it); past it the transport raises ``RequestTimedOut``.
        follow_redirects: ``False`` for token, revocation and device endpoints (a 307 would replay a refresh
            token, RFC 9700 §4.12); resource requests may follow redirects, credentials only to the same origin.
        max_bytes: the largest body the transport may read before giving up.
    """

    method: str
    url: str = attrs.field(converter=visible_url)
    headers: dict[str, str] = attrs.field(factory=dict, converter=_lower_keys, repr=False)
    body: bytes | None = attrs.field(default=None, repr=False)
    timeout: float = DEFAULT_TIMEOUT
    follow_redirects: bool = False
    max_bytes: int = TOKEN_BODY_LIMIT

    def form(self) -> dict[str, str]:
        """The form fields of a form-encoded body."""
        return dict(parse_qsl((self.body or b"").decode("ascii"), keep_blank_values=True))

    def secrets(self) -> tuple[str, ...]:
        """Every secret this request carries (credential headers, secret form fields), for redaction by value."""
        found = [self.headers[name].split(" ", 1)[-1] for name in CREDENTIAL_HEADERS if name in self.headers]
        if self.body and self.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            found += [value for name, value in self.form().items() if name in SECRET_FORM_FIELDS]
        return tuple(value for value in found if value)


@attrs.frozen(repr=False, eq=False)
class HttpResponse(Value):
    """One HTTP response: status, lower-cased headers, the body bytes, and the final URL."""

    status: int
    headers: dict[str, str] = attrs.field(factory=dict, converter=_lower_keys)
    body: bytes = attrs.field(default=b"", repr=False)
    url: str = ""

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
