"""``HttpxTransport``: the ``HttpTransport`` port on httpx (what the facade and the ``httpx.Auth`` use).

Redirects, proxies, trusted roots, the body cap and the trace line follow ``http_policy``, exactly as in
``StdlibTransport``. httpx is built with ``trust_env=False`` (it would read ``~/.netrc`` and add Authorization
headers): the proxy is chosen here, per URL, from the ``env`` given, and verification uses ``tls_context``.

The deadline: httpx's timeouts bound each phase and each read, so a server that drips one byte at a time never
trips them. Each request therefore runs under a ``_Watchdog``: httpcore's ``trace`` extension tells it every
socket the request opens, and when the deadline passes it shuts them down, which ends whatever read or write is
waiting. Connections are not kept alive, so every request's sockets are its own. The same trace tells whether
the request was fully written (``sent``). No httpx exception leaves this module.
"""

from __future__ import annotations

import contextlib
import os
import socket
import ssl
import threading
import time
from collections.abc import Mapping
from typing import Any

import httpx

from ..domain.errors import (
    CertificateError,
    ProxyError,
    RequestTimedOut,
    ResponseTruncated,
    TransportError,
)
from ..domain.http import HttpRequest, HttpResponse
from .http_policy import (
    Proxy,
    Trace,
    certificate_reason,
    check_url,
    find_cause,
    host_of,
    proxy_refusal,
    read_capped,
    remaining,
    select_proxy,
    send_following,
    tls_context,
    trace_line,
    tunnel_target,
)


class HttpxTransport:
    """Implements ``HttpTransport`` with ``httpx.Client`` (one per proxy in use, made on first use).

    Args:
        client: an httpx client to use for every request as it is (its own redirect setting is ignored, and the
            proxy and CA variables in ``env`` are not applied to it); by default this transport makes its own.
        trace: where to write the redacted ``--verbose`` trace, or ``None``.
        env: where proxy (``HTTPS_PROXY``, ``NO_PROXY``...) and CA (``SSL_CERT_FILE``, ``SSL_CERT_DIR``) settings
            are read; ``os.environ`` by default.
    """

    def __init__(
        self,
        client: httpx.Client | None = None,
        trace: Trace | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self._given = client
        self._trace = trace
        self._env: Mapping[str, str] = os.environ if env is None else env
        self._clients: dict[tuple[str, int, str | None] | None, httpx.Client] = {}
        self._tls: ssl.SSLContext | None = None
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            clients = list(self._clients.values())
            self._clients.clear()
        if self._given is not None:
            clients.append(self._given)
        for client in clients:
            client.close()

    def send(self, request: HttpRequest) -> HttpResponse:
        return send_following(self._send_once, request)

    def _client(self, proxy: Proxy | None, host: str) -> httpx.Client:
        if self._given is not None:
            return self._given
        key = None if proxy is None else proxy.key
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                if self._tls is None:
                    self._tls = tls_context(self._env, host)
                via = None
                if proxy is not None:
                    headers = {"proxy-authorization": proxy.authorization} if proxy.authorization else None
                    via = httpx.Proxy(proxy.url, headers=headers)
                client = httpx.Client(
                    trust_env=False,
                    verify=self._tls,
                    proxy=via,
                    limits=httpx.Limits(max_keepalive_connections=0),  # the watchdog must see every socket
                )
                self._clients[key] = client
        return client

    def _send_once(self, request: HttpRequest, deadline: float) -> HttpResponse:
        started = time.monotonic()
        try:
            check_url(request.url)
            proxy = select_proxy(request.url, self._env)
        except TransportError:
            self._log(request, "refused", started, None)
            raise
        try:
            response = self._exchange(request, proxy, deadline)
        except TransportError as exc:
            self._log(request, "timeout" if isinstance(exc, RequestTimedOut) else "error", started, proxy)
            raise
        self._log(request, response.status, started, proxy)
        return response

    def _exchange(self, request: HttpRequest, proxy: Proxy | None, deadline: float) -> HttpResponse:
        host = host_of(request.url)
        left = remaining(deadline, host, request.timeout)
        client = self._client(proxy, host)
        watchdog = _Watchdog(left)
        receiving = False
        try:
            with client.stream(
                request.method,
                request.url,
                headers=request.headers,
                content=request.body,
                timeout=httpx.Timeout(left),
                follow_redirects=False,
                extensions={"trace": watchdog.trace},
            ) as streamed:
                receiving = True
                if proxy is not None and request.url.startswith("http:") and streamed.status_code == 407:
                    raise proxy_refusal(proxy, 407, host)
                body = read_capped(streamed.iter_bytes(), request.max_bytes, host, deadline, request.timeout)
                watchdog.disarm()
                # A body short of its Content-Length (or a chunk missing) raised RemoteProtocolError in h11.
                return HttpResponse(streamed.status_code, dict(streamed.headers), body, request.url)
        except TransportError:
            raise
        except httpx.HTTPError as exc:
            raise _translate(exc, request, proxy, watchdog, receiving) from None
        except (httpx.InvalidURL, ValueError) as exc:  # what httpx refuses to send (http.client alike)
            raise TransportError(host, type(exc).__name__, sent=watchdog.sent) from None
        finally:
            watchdog.disarm()

    def _log(self, request: HttpRequest, status: int | str, started: float, proxy: Proxy | None) -> None:
        if self._trace is not None:
            self._trace(trace_line(request, status, time.monotonic() - started, proxy))


def _translate(
    exc: httpx.HTTPError, request: HttpRequest, proxy: Proxy | None, watchdog: _Watchdog, receiving: bool
) -> TransportError:
    host = host_of(request.url)
    if watchdog.fired or isinstance(exc, httpx.TimeoutException):
        return RequestTimedOut(host, request.timeout, watchdog.sent)
    failure = find_cause(exc, ssl.SSLCertVerificationError)
    if failure is not None:
        return CertificateError(host, certificate_reason(failure))
    if proxy is not None and isinstance(exc, httpx.ProxyError):
        status = str(exc).split(" ", 1)[0]
        if status.isascii() and status.isdigit():
            return proxy_refusal(proxy, int(status), tunnel_target(request.url))
        return ProxyError(proxy.display, proxy.variable, "did not open a tunnel")
    if proxy is not None and watchdog.tunnelling:
        return ProxyError(proxy.display, proxy.variable, f"did not open a tunnel ({type(exc).__name__})")
    if proxy is not None and not watchdog.connected:
        return ProxyError(proxy.display, proxy.variable, f"could not be reached ({type(exc).__name__})")
    if receiving and isinstance(exc, httpx.RemoteProtocolError):
        return ResponseTruncated(host)
    tls = find_cause(exc, ssl.SSLError)
    if tls is not None and not watchdog.sent:
        reason = getattr(tls, "reason", None) or type(tls).__name__
        return TransportError(host, f"TLS handshake failed ({reason})", sent=False)
    return TransportError(host, type(exc).__name__, sent=watchdog.sent)


class _Watchdog:
    """Ends a request at its deadline by shutting down the sockets it opened; records how far it got.

    ``trace`` is httpcore's ``trace`` extension hook (events such as ``connection.connect_tcp.complete``,
    ``http11.send_request_body.complete``); the timer fires on its own thread, so state changes hold a lock.
    """

    def __init__(self, seconds: float) -> None:
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._done = False
        self.fired = False
        self.connected = False
        self.sent = False
        self.tunnelling = False
        self._writing = b""
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True
        self._timer.start()

    def trace(self, event: str, info: dict[str, Any]) -> None:
        if event.endswith((".connect_tcp.complete", ".start_tls.complete")):
            stream = info.get("return_value")
            sock = stream.get_extra_info("socket") if stream is not None else None
            if isinstance(sock, socket.socket):
                with self._lock:
                    self.connected = True
                    self._sockets.append(sock)
                    if self.fired:
                        _shutdown(sock)
        elif event == "http11.send_request_headers.started":
            self.tunnelling = getattr(info.get("request"), "method", b"") == b"CONNECT"
        elif event == "proxy.start_tls.started":
            self.tunnelling = False  # the proxy said yes: what follows is between us and the server
        elif event == "http11.send_request_body.started":
            self._writing = getattr(info.get("request"), "method", b"CONNECT")
        elif event == "http11.send_request_body.complete" and self._writing != b"CONNECT":
            self.sent = True  # all of our request was written (a proxy's CONNECT request is not ours)

    def _fire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.fired = True
            for sock in self._sockets:
                _shutdown(sock)

    def disarm(self) -> None:
        with self._lock:
            self._done = True
        self._timer.cancel()


def _shutdown(sock: socket.socket) -> None:
    """Wake whatever waits on ``sock`` (another thread) without closing the descriptor under it.

    ``socket.socket.shutdown`` is called directly so that an ``SSLSocket`` keeps its TLS state (its own
    ``shutdown`` drops it while the reading thread may still use it).
    """
    with contextlib.suppress(OSError):  # already closed: the request is over
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
