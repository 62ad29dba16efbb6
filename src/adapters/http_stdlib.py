"""``StdlibTransport``: the ``HttpTransport`` port on ``http.client``, for the CLI's cold-start paths.

Importing httpx costs about 180 ms on this machine kind, more than the whole budget of ``hyperframes auth
status``; ``http.client`` costs a fraction of that, and ``ssl`` is imported only for https URLs (``base64`` and
``ipaddress`` only when a proxy is set). The same port contract suite runs on this transport and on
``HttpxTransport``, so both behave alike: one deadline, same body cap, same redirect and proxy rules
(``http_policy``), same trusted roots, same errors.

The deadline: this module opens the socket itself (through the proxy's CONNECT tunnel and TLS when needed) and
hands ``http.client`` a ``_DeadlineSocket``, which gives every blocking call only the time left. A server that
drips its headers or body a byte at a time therefore cannot outlast ``request.timeout``.
"""

from __future__ import annotations

import io
import os
import sys
import time
from urllib.parse import urlsplit

from ..domain.errors import (
    CertificateError,
    ProxyError,
    RequestTimedOut,
    ResponseTruncated,
    TransportError,
)
from ..domain.http import HttpRequest, HttpResponse
from .http_policy import (
    PROXY_HEAD_LIMIT,
    Proxy,
    Trace,
    certificate_reason,
    check_complete,
    check_url,
    connect_request,
    expected_length,
    header_text,
    host_header,
    host_of,
    port_of,
    proxy_refusal,
    proxy_reply_status,
    read_capped,
    remaining,
    request_target,
    select_proxy,
    send_following,
    tls_context,
    trace_line,
    tunnel_target,
)

TYPE_CHECKING = False  # keep `typing`, `socket` and `ssl` off the import path until a request is sent
if TYPE_CHECKING:
    import socket
    import ssl
    from collections.abc import Mapping

USER_AGENT = "hyperframes-auth (python)"
_CHUNK = 64 * 1024


class StdlibTransport:
    """Implements ``HttpTransport`` with ``http.client``.

    Args:
        trace: where to write the redacted ``--verbose`` trace, or ``None``.
        env: where proxy (``HTTPS_PROXY``, ``NO_PROXY``...) and CA (``SSL_CERT_FILE``, ``SSL_CERT_DIR``) settings
            are read; ``os.environ`` by default.
    """

    def __init__(self, trace: Trace | None = None, env: Mapping[str, str] | None = None) -> None:
        self._trace = trace
        self._env: Mapping[str, str] = os.environ if env is None else env
        self._tls: ssl.SSLContext | None = None

    def send(self, request: HttpRequest) -> HttpResponse:
        return send_following(self._send_once, request)

    def _send_once(self, request: HttpRequest, deadline: float) -> HttpResponse:
        started = time.monotonic()
        try:
            check_url(request.url)
            proxy = select_proxy(request.url, self._env)
        except TransportError:
            self._log(request, "refused", started, None)
            raise
        exchange = _Exchange(request, proxy, deadline, self._context)
        try:
            response = exchange.run()
        except TransportError as exc:
            self._log(request, _outcome(exc), started, proxy)
            raise
        finally:
            exchange.close()
        self._log(request, response.status, started, proxy)
        return response

    def _context(self, host: str) -> ssl.SSLContext:
        if self._tls is None:
            self._tls = tls_context(self._env, host)
        return self._tls

    def _log(self, request: HttpRequest, status: int | str, started: float, proxy: Proxy | None) -> None:
        if self._trace is not None:
            self._trace(trace_line(request, status, time.monotonic() - started, proxy))


def _outcome(exc: TransportError) -> str:
    return "timeout" if isinstance(exc, RequestTimedOut) else "error"


class _Exchange:
    """One request on one connection: connect, tunnel, TLS, send, receive; errors become ours.

    ``phase`` says how far it got, which decides ``sent`` (the request may have reached the server only once
    it was fully written) and whom to blame (the proxy before the tunnel is open, the server after).
    """

    def __init__(self, request: HttpRequest, proxy: Proxy | None, deadline: float, context: _Context) -> None:
        self.request = request
        self.proxy = proxy
        self.deadline = deadline
        self.context = context
        self.parts = urlsplit(request.url)
        self.host = host_of(request.url)
        self.phase = "connect"
        self.sockets: list[socket.socket] = []

    @property
    def sent(self) -> bool:
        return self.phase == "receive"

    def close(self) -> None:
        for sock in self.sockets:
            sock.close()

    def run(self) -> HttpResponse:
        import http.client

        try:
            return self._run()
        except TransportError:
            raise
        except TimeoutError:
            raise RequestTimedOut(self.host, self.request.timeout, self.sent) from None
        except http.client.IncompleteRead:
            raise ResponseTruncated(self.host) from None
        except (OSError, http.client.HTTPException, ValueError) as exc:
            raise self._translate(exc) from None

    def _translate(self, exc: Exception) -> TransportError:
        ssl = sys.modules.get("ssl")  # an ssl error can only happen once ssl was imported for an https URL
        if ssl is not None and isinstance(exc, ssl.SSLCertVerificationError):
            return CertificateError(self.host, certificate_reason(exc))
        if self.proxy is not None and self.phase in ("connect", "tunnel"):
            what = "could not be reached" if self.phase == "connect" else "closed the connection during CONNECT"
            return ProxyError(self.proxy.display, self.proxy.variable, f"{what} ({type(exc).__name__})")
        if ssl is not None and isinstance(exc, ssl.SSLError) and self.phase == "tls":
            return TransportError(self.host, f"TLS handshake failed ({exc.reason or type(exc).__name__})", sent=False)
        return TransportError(self.host, type(exc).__name__, sent=self.sent)

    def _run(self) -> HttpResponse:
        import http.client

        request, parts, proxy = self.request, self.parts, self.proxy
        https = parts.scheme == "https"
        hostname, port = parts.hostname or "", port_of(parts)
        remaining(self.deadline, self.host, request.timeout)
        sock = _connect((proxy.host, proxy.port) if proxy else (hostname, port), self.deadline, self.sockets)
        if proxy is not None and https:
            self.phase = "tunnel"
            _tunnel(_DeadlineSocket(sock, self.deadline), tunnel_target(request.url), proxy)
        if https:
            self.phase = "tls"
            context = self.context(self.host)
            sock = context.wrap_socket(sock, server_hostname=hostname, do_handshake_on_connect=False)
            self.sockets.append(sock)
            sock.settimeout(_left(self.deadline))
            sock.do_handshake()  # one call: CPython bounds the whole handshake by the timeout
        self.phase = "send"
        connection = http.client.HTTPConnection(hostname, port)  # never connects: it is handed the socket
        connection.sock = _DeadlineSocket(sock, self.deadline)
        headers = {"user-agent": USER_AGENT, "connection": "close", "host": host_header(request.url)}
        if proxy is not None and not https and proxy.authorization:
            headers["proxy-authorization"] = proxy.authorization
        headers.update(request.headers)
        absolute = proxy is not None and not https
        connection.request(request.method, request_target(request.url, absolute), request.body, headers)
        self.phase = "receive"
        raw = connection.getresponse()
        if absolute and proxy is not None and raw.status == 407:
            raise proxy_refusal(proxy, raw.status, self.host)
        response_headers = {k.lower(): header_text(v) for k, v in raw.getheaders()}
        body = read_capped(
            iter(lambda: raw.read(_CHUNK), b""), request.max_bytes, self.host, self.deadline, request.timeout
        )
        check_complete(self.host, len(body), expected_length(request.method, raw.status, response_headers))
        return HttpResponse(raw.status, response_headers, body, request.url)


if TYPE_CHECKING:
    from collections.abc import Callable

    _Context = Callable[[str], ssl.SSLContext]


def _left(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError
    return left


def _connect(address: tuple[str, int], deadline: float, opened: list[socket.socket]) -> socket.socket:
    """A TCP connection to ``address``, trying each resolved address within the time left."""
    import socket

    host, port = address
    # An ASCII name goes as bytes: given a str, getaddrinfo loads the IDNA codec (~4 ms) even for "127.0.0.1".
    name: str | bytes = host.encode("ascii") if host.isascii() else host
    last: OSError | None = None
    for family, kind, proto, _, target in socket.getaddrinfo(name, port, type=socket.SOCK_STREAM):
        sock = socket.socket(family, kind, proto)
        opened.append(sock)
        try:
            sock.settimeout(_left(deadline))
            sock.connect(target)
        except TimeoutError:
            raise
        except OSError as exc:
            last = exc
            continue
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock
    raise last or OSError("no address")


class _DeadlineSocket:
    """The socket ``http.client`` reads and writes through: each blocking call gets only the time left.

    ``close`` does nothing: the exchange owns (and closes) the real socket.
    """

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self._sock = sock
        self._deadline = deadline

    def _arm(self) -> None:
        self._sock.settimeout(_left(self._deadline))

    def sendall(self, data: bytes) -> None:
        view = memoryview(data).cast("B")
        while view:
            self._arm()
            view = view[self._sock.send(view) :]

    def recv(self, size: int) -> bytes:
        self._arm()
        return self._sock.recv(size)

    def recv_into(self, buffer: memoryview | bytearray) -> int:
        self._arm()
        return self._sock.recv_into(buffer)

    def makefile(self, *_args: object, **_kw: object) -> io.BufferedReader:
        """What ``HTTPResponse`` reads from (it asks for ``"rb"``, the only mode this offers)."""
        return io.BufferedReader(_Reader(self))

    def close(self) -> None:
        pass


class _Reader(io.RawIOBase):
    def __init__(self, sock: _DeadlineSocket) -> None:
        super().__init__()
        self._sock = sock

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        return self._sock.recv_into(buffer)


def _tunnel(sock: _DeadlineSocket, target: str, proxy: Proxy) -> None:
    """Open a CONNECT tunnel to ``target`` and check the proxy's answer (RFC 9110 §9.3.6)."""
    sock.sendall(connect_request(target, proxy))
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk or len(head) + len(chunk) > PROXY_HEAD_LIMIT:
            raise ProxyError(proxy.display, proxy.variable, "did not answer the CONNECT request")
        head += chunk
    status = proxy_reply_status(head)
    if status is None:
        raise ProxyError(proxy.display, proxy.variable, "answered the CONNECT request with non-HTTP")
    if not 200 <= status < 300:
        raise proxy_refusal(proxy, status, target)
    if not head.endswith(b"\r\n\r\n"):  # the server speaks only after our TLS hello: nothing may follow yet
        raise ProxyError(proxy.display, proxy.variable, "sent data before the tunnel was open")
