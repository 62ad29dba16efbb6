"""What both HTTP transports share: which URLs may be used, redirects, proxies, deadlines, bodies, the trace line.

Everything here is pure (values in, values or our errors out; the clock is a parameter) except ``tls_context``,
which reads the CA files the environment names. The transports keep only the I/O.

* https is required except for loopback hosts (127.0.0.1, ::1, localhost); a URL with a user or password in it
  is refused.
* One deadline per ``send``: ``request.timeout`` seconds cover connect, proxy tunnel, TLS, headers and body,
  redirects included (``send_following``); past it the transport raises ``RequestTimedOut``.
* A request with ``follow_redirects=False`` (token, revocation and device endpoints) never follows one: a 307
  would replay the refresh token to the new location (RFC 9700 §4.12). The 3xx is returned as it is.
* Resource requests follow at most ``MAX_REDIRECTS`` hops; ``authorization`` and ``x-api-key`` survive only
  same-origin hops (as the Fetch standard and browsers do). A hop to plain http is refused unless it goes to a
  loopback host (the rule above), and credentials never follow it there: it is another origin.
* Proxies come from ``https_proxy`` / ``HTTPS_PROXY`` (``http_proxy`` / ``HTTP_PROXY`` for plain http), then
  ``all_proxy`` / ``ALL_PROXY``, lower case first, as curl and urllib read them; ``NO_PROXY`` bypasses them
  (``select_proxy``). Only ``http://`` proxies are supported: https goes through a CONNECT tunnel (RFC 9110
  §9.3.6), plain http in absolute form (RFC 9112 §3.2.2).
* A body shorter than its ``Content-Length`` (RFC 9112 §6.3) is ``ResponseTruncated``, never a short success.
* The ``--verbose`` trace shows method, URL without its query, status, time and the proxy's ``host:port``, with
  control and bidi characters escaped: never a header, a body, a query or a proxy's credentials.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from urllib.parse import unquote, urljoin, urlsplit

from ..domain.errors import ProxyError, RequestTimedOut, ResponseTruncated, TransportError
from ..domain.http import HttpRequest, HttpResponse
from ..domain.primitives import is_loopback_host

TYPE_CHECKING = False  # keep `typing` and `ssl` off the CLI's import path; type checkers know this name
if TYPE_CHECKING:
    import ssl
    from urllib.parse import SplitResult

MAX_REDIRECTS = 5
REDIRECTS = frozenset({301, 302, 303, 307, 308})
CREDENTIAL_HEADERS = ("authorization", "x-api-key")
DEFAULT_PORTS = {"http": 80, "https": 443}
PROXY_HEAD_LIMIT = 16 * 1024

Trace = Callable[[str], None]
Clock = Callable[[], float]


# ---------------------------------------------------------------------------------------------- URLs


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _ascii_host(host: str) -> str:
    return host if host.isascii() else host.encode("idna").decode("ascii")


def authority(parts: SplitResult) -> str:
    """``host[:port]`` of a split URL, without any user or password (IPv6 in brackets).

    Raises:
        ValueError: the port is not a number in range.
    """
    host = _bracketed(parts.hostname or "")
    return host if parts.port is None else f"{host}:{parts.port}"


def host_of(url: str) -> str:
    """``host[:port]`` for messages: never a user name or password (even of a URL whose port is impossible)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "the server"
    try:
        return authority(parts) or "the server"
    except ValueError:
        shown = parts.netloc.rpartition("@")[2]  # the port is out of range: show it as written, without userinfo
        return shown if shown.isascii() and shown.isprintable() else "the server"


def port_of(parts: SplitResult) -> int:
    return parts.port or DEFAULT_PORTS.get(parts.scheme, 443)


def host_header(url: str) -> str:
    """The ``Host`` header for ``url`` (RFC 9110 §7.2): the port only when it is not the scheme's default."""
    parts = urlsplit(url)
    host = _bracketed(_ascii_host(parts.hostname or ""))
    return host if port_of(parts) == DEFAULT_PORTS.get(parts.scheme) else f"{host}:{port_of(parts)}"


def tunnel_target(url: str) -> str:
    """``host:port`` to open a CONNECT tunnel to (RFC 9110 §9.3.6: the port is always given)."""
    parts = urlsplit(url)
    return f"{_bracketed(_ascii_host(parts.hostname or ''))}:{port_of(parts)}"


def request_target(url: str, absolute: bool) -> str:
    """The request line's target: origin form, or absolute form for a plain-http proxy (RFC 9112 §3.2)."""
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return f"{parts.scheme}://{host_header(url)}{target}" if absolute else target


def _unsafe(url: str) -> bool:
    """Spaces, controls or non-ASCII: what a request line cannot carry as it is (both transports refuse it)."""
    return not url.isascii() or any(ord(ch) <= 0x20 or ord(ch) == 0x7F for ch in url)


def check_url(url: str) -> None:
    """Refuse anything but https, or plain http to a loopback host; refuse a user or password in the URL.

    Raises:
        TransportError: the URL is not acceptable (``sent`` is ``False``).
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname
        _ = parts.port
    except ValueError:
        raise TransportError(host_of(url), "not a valid URL", sent=False) from None
    if _unsafe(url):
        raise TransportError(host_of(url), "refusing a URL with spaces, control or non-ASCII characters", sent=False)
    if parts.username is not None or parts.password is not None:
        raise TransportError(host_of(url), "refusing a URL with a user name or password in it", sent=False)
    if parts.scheme == "https" and host:
        return
    if parts.scheme == "http" and is_loopback_host(host):
        return
    raise TransportError(host_of(url), "refusing a non-https URL (http is allowed only for loopback hosts)", sent=False)


# ---------------------------------------------------------------------------------------------- redirects


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc.lower()


def next_hop(request: HttpRequest, response: HttpResponse, hops: int) -> HttpRequest | None:
    """The request to send after ``response``, or ``None`` to return ``response`` as it is.

    The URL it returns is not checked yet: the transport checks (and traces) it as the next hop.

    Raises:
        TransportError: too many redirects.
    """
    location = response.headers.get("location")
    if not request.follow_redirects or response.status not in REDIRECTS or not location:
        return None
    if hops >= MAX_REDIRECTS:
        raise TransportError(host_of(request.url), f"more than {MAX_REDIRECTS} redirects")
    try:
        target = urljoin(request.url, location)
    except ValueError:
        raise TransportError(host_of(request.url), "redirected to an invalid URL") from None
    headers = dict(request.headers)
    if _origin(target) != _origin(request.url):
        for name in CREDENTIAL_HEADERS:
            headers.pop(name, None)
    method, body = request.method, request.body
    if response.status == 303 or (response.status in (301, 302) and method == "POST"):
        method, body = "GET", None
        headers.pop("content-type", None)
    return HttpRequest(
        method, target, headers, body, request.timeout, follow_redirects=True, max_bytes=request.max_bytes
    )


def send_following(
    send_once: Callable[[HttpRequest, float], HttpResponse], request: HttpRequest, clock: Clock = time.monotonic
) -> HttpResponse:
    """Send ``request`` with ``send_once(request, deadline)``, following redirects as ``next_hop`` allows.

    ``deadline`` is one instant on ``clock`` for the whole operation: ``request.timeout`` seconds from now,
    redirects included. A failure after the first hop has ``sent`` set: an earlier hop reached a server.
    """
    deadline = clock() + request.timeout
    hops = 0
    while True:
        try:
            response = send_once(request, deadline)
            following = next_hop(request, response, hops)
        except TransportError as exc:
            exc.sent = exc.sent or hops > 0
            raise
        if following is None:
            return response
        request, hops = following, hops + 1


# ---------------------------------------------------------------------------------------------- deadline, body


def remaining(deadline: float, host: str, seconds: float, sent: bool = False, clock: Clock = time.monotonic) -> float:
    """Seconds left before ``deadline``.

    Raises:
        RequestTimedOut: none are left.
    """
    left = deadline - clock()
    if left <= 0:
        raise RequestTimedOut(host, seconds, sent)
    return left


def read_capped(
    chunks: Iterable[bytes],
    limit: int,
    host: str,
    deadline: float,
    seconds: float,
    clock: Clock = time.monotonic,
) -> bytes:
    """Join ``chunks`` into the body, refusing more than ``limit`` bytes or a chunk that came after ``deadline``.

    Raises:
        TransportError: the body is larger than ``limit``.
        RequestTimedOut: the deadline passed while the body was arriving.
    """
    parts: list[bytes] = []
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise TransportError(host, f"response larger than {limit} bytes")
        remaining(deadline, host, seconds, sent=True, clock=clock)
        parts.append(chunk)
    return b"".join(parts)


def expected_length(method: str, status: int, headers: Mapping[str, str]) -> int | None:
    """The body length the headers promise (RFC 9112 §6.3), or ``None`` when the body runs to the close.

    ``headers`` have lower-case names. A HEAD answer, 1xx, 204 and 304 have no body; a ``Transfer-Encoding``
    overrides ``Content-Length``; an unusable ``Content-Length`` promises nothing.
    """
    if method == "HEAD" or 100 <= status < 200 or status in (204, 304):
        return 0
    if "transfer-encoding" in headers:
        return None
    value = headers.get("content-length", "").strip()
    return int(value) if value.isascii() and value.isdigit() else None


def check_complete(host: str, received: int, expected: int | None) -> None:
    """Raise ``ResponseTruncated`` when fewer bytes arrived than the headers promised."""
    if expected is not None and received < expected:
        raise ResponseTruncated(host)


def header_text(value: str) -> str:
    """A header value as httpx decodes it: ``http.client`` hands over bytes read as latin-1; UTF-8 bytes are
    read as UTF-8, so both transports see (and the trace escapes) the same characters."""
    if value.isascii():
        return value
    try:
        return value.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return value


def find_cause(exc: BaseException, kind: type[BaseException]) -> BaseException | None:
    """The first exception of ``kind`` in ``exc``'s cause/context chain (``exc`` itself included)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


# ---------------------------------------------------------------------------------------------- proxies


class Proxy:
    """The http:// proxy a request goes through, as the environment named it.

    Attributes:
        host, port: where the proxy listens.
        authorization: the ``Proxy-Authorization`` value (Basic, RFC 7617) built from the URL's user and
            password, or ``None``. A secret: never printed, never in ``repr``.
        variable: which environment variable named it (for messages).
    """

    __slots__ = ("authorization", "host", "port", "variable")

    def __init__(self, host: str, port: int, authorization: str | None, variable: str) -> None:
        self.host = host
        self.port = port
        self.authorization = authorization
        self.variable = variable

    @property
    def display(self) -> str:
        """``host:port``: what messages and the trace show."""
        return f"{_bracketed(self.host)}:{self.port}"

    @property
    def url(self) -> str:
        """The proxy's URL without credentials."""
        return f"http://{self.display}"

    @property
    def key(self) -> tuple[str, int, str | None]:
        return self.host, self.port, self.authorization

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Proxy) and (self.key, self.variable) == (other.key, other.variable)

    def __hash__(self) -> int:
        return hash(self.key)

    def __repr__(self) -> str:
        auth = ", with credentials" if self.authorization else ""
        return f"Proxy({self.display} from {self.variable}{auth})"


def _lookup(env: Mapping[str, str], names: tuple[str, str], httpoxy: bool = False) -> tuple[str, str] | None:
    """The first of ``names`` (lower case first) that is present: ``(name, value)``; a present but empty
    variable hides the ones after it, as in curl and urllib."""
    for name in names:
        if httpoxy and name.isupper() and "REQUEST_METHOD" in env:
            continue  # a CGI environment: HTTP_PROXY may come from a request's Proxy header ("httpoxy")
        if name in env:
            return name, env[name].strip()
    return None


def _proxy_setting(scheme: str, env: Mapping[str, str]) -> tuple[str, str] | None:
    found = _lookup(env, (f"{scheme}_proxy", f"{scheme.upper()}_PROXY"), httpoxy=scheme == "http")
    if found is None:
        found = _lookup(env, ("all_proxy", "ALL_PROXY"))
    if found is None or not found[1]:
        return None
    return found


def parse_proxy(value: str, variable: str) -> Proxy:
    """Read one proxy URL (``http://[user[:password]@]host[:port]``; no scheme means http, no port means 80).

    Raises:
        ProxyError: not a URL, or a scheme other than http (the message never repeats the value, which may
            hold a password).
    """
    import base64

    text = value if "://" in value else f"http://{value}"
    try:
        parts = urlsplit(text)
        host = parts.hostname
        port = parts.port
    except ValueError:
        raise ProxyError("", variable, "is not a valid proxy URL") from None
    if not host or _unsafe(text):
        raise ProxyError("", variable, "is not a valid proxy URL")
    scheme = parts.scheme.lower()
    if scheme != "http":
        raise ProxyError(
            authority(parts),
            variable,
            f"uses {scheme}://, which hyperframes-auth does not support (set an http:// proxy)",
        )
    authorization = None
    if parts.username is not None:
        user, password = unquote(parts.username), unquote(parts.password or "")
        authorization = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return Proxy(_ascii_host(host), port or 80, authorization, variable)


def _split_port(entry: str) -> tuple[str, int | None] | None:
    """``(name, port)`` of a NO_PROXY entry (``host``, ``host:port``, ``[v6]``, ``[v6]:port``, bare ``v6``)."""
    if entry.startswith("["):
        name, _, rest = entry[1:].partition("]")
        port = rest.removeprefix(":")
    elif entry.count(":") == 1:
        name, _, port = entry.partition(":")
    else:
        name, port = entry, ""
    if not port:
        return name, None
    return (name, int(port)) if port.isascii() and port.isdigit() else None


def _ip(text: str) -> object | None:
    import ipaddress

    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _in_network(address: object, network: str) -> bool:
    import ipaddress

    try:
        return address in ipaddress.ip_network(network, strict=False)
    except (ValueError, TypeError):
        return False


def bypasses_proxy(host: str, port: int, no_proxy: str) -> bool:
    """Whether ``NO_PROXY`` exempts ``host:port`` from the proxy, with curl's rules.

    Entries are separated by commas (or spaces); ``*`` matches every host; a name matches itself and its
    subdomains (a leading dot changes nothing: ``.example.com`` and ``example.com`` both match
    ``api.example.com`` and ``example.com``); an IP literal matches that address only, a CIDR block
    (``10.0.0.0/8``) the addresses in it; ``:port`` limits an entry to one port. Case-insensitive.
    """
    host = host.lower().strip("[]").rstrip(".")
    address = _ip(host) if host[:1].isdigit() or ":" in host else None
    for raw in no_proxy.replace(" ", ",").split(","):
        entry = raw.strip().lower()
        if entry == "*":
            return True
        split = _split_port(entry) if entry else None
        if split is None or (split[1] is not None and split[1] != port):
            continue
        name = split[0].strip(".")
        if not name:
            continue
        if "/" in name:
            if address is not None and _in_network(address, name):
                return True
            continue
        entry_address = _ip(name) if name[:1].isdigit() or ":" in name else None
        if address is not None or entry_address is not None:
            if address is not None and address == entry_address:
                return True
            continue
        if host == name or host.endswith(f".{name}"):
            return True
    return False


def select_proxy(url: str, env: Mapping[str, str]) -> Proxy | None:
    """The proxy ``url`` goes through according to ``env``, or ``None`` to connect directly.

    Raises:
        ProxyError: the variable in effect names something other than an http:// proxy.
    """
    parts = urlsplit(url)
    setting = _proxy_setting(parts.scheme, env)
    if setting is None:
        return None
    no_proxy = _lookup(env, ("no_proxy", "NO_PROXY"))
    if no_proxy and no_proxy[1] and bypasses_proxy(parts.hostname or "", port_of(parts), no_proxy[1]):
        return None
    return parse_proxy(setting[1], setting[0])


def connect_request(target: str, proxy: Proxy) -> bytes:
    """The CONNECT request that opens a tunnel to ``target`` (``host:port``) through ``proxy`` (RFC 9110 §9.3.6)."""
    lines = [f"CONNECT {target} HTTP/1.1", f"Host: {target}"]
    if proxy.authorization:
        lines.append(f"Proxy-Authorization: {proxy.authorization}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")


def proxy_reply_status(head: bytes) -> int | None:
    """The status code of a proxy's reply head (``HTTP/1.x NNN reason``), or ``None`` if it is not HTTP."""
    line = head.split(b"\r\n", 1)[0].split(None, 2)
    if len(line) < 2 or not line[0].startswith(b"HTTP/1.") or not (line[1].isdigit() and len(line[1]) == 3):
        return None
    return int(line[1])


def proxy_refusal(proxy: Proxy, status: int, target: str) -> ProxyError:
    """The error for a proxy that answered ``status`` instead of opening a tunnel (or forwarding)."""
    if status == 407:
        detail = "refused the user and password" if proxy.authorization else "asks for a user and password"
        return ProxyError(proxy.display, proxy.variable, f"{detail} (407)")
    return ProxyError(proxy.display, proxy.variable, f"refused to open a tunnel to {target} ({status})")


# ---------------------------------------------------------------------------------------------- TLS


def tls_context(env: Mapping[str, str], host: str) -> ssl.SSLContext:
    """The TLS context both transports verify servers with: the system's trusted roots
    (``ssl.create_default_context``), plus the PEM bundle ``SSL_CERT_FILE`` and the directory ``SSL_CERT_DIR``
    name, if set (how a TLS-inspecting proxy's CA is added).

    Raises:
        CertificateError: a file those variables name cannot be loaded.
    """
    import ssl

    from ..domain.errors import CertificateError

    context = ssl.create_default_context()
    for variable, keyword in (("SSL_CERT_FILE", "cafile"), ("SSL_CERT_DIR", "capath")):
        location = env.get(variable, "")
        if not location:
            continue
        try:
            context.load_verify_locations(**{keyword: location})
        except (OSError, ssl.SSLError):
            raise CertificateError(host, f"{variable} ({location}) is not a readable CA bundle") from None
    return context


def certificate_reason(exc: BaseException) -> str | None:
    """OpenSSL's one-line reason for a failed verification (``unable to get local issuer certificate``...)."""
    reason = getattr(exc, "verify_message", None)
    return reason if isinstance(reason, str) and reason else None


# ---------------------------------------------------------------------------------------------- trace


def trace_line(request: HttpRequest, status: int | str, seconds: float, proxy: Proxy | None = None) -> str:
    """One ``--verbose`` line: never a header, a body, a query or credentials; control characters escaped."""
    from ..domain.redact import neutralize

    try:
        parts = urlsplit(request.url)
        shown = f"{parts.scheme}://{authority(parts)}{parts.path}"
    except ValueError:
        shown = "(invalid URL)"
    via = f" via proxy {proxy.display}" if proxy is not None else ""
    return neutralize(f"[http] {request.method} {shown} -> {status} ({seconds * 1000:.0f} ms){via}")
