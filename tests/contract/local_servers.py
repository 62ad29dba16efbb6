"""Small servers of our own for the hardening tests: a recording HTTP(S) server and a holding relay (the private CA
for https is ``tls.make_pki``).

All of them listen on 127.0.0.1 on an ephemeral port, serve from daemon threads, give every connection a socket
timeout, and stop when their ``with`` block ends, so a failing test never leaves one behind.

* :class:`TinyServer` records every request it gets (method, path, every header) and answers with a function of
  the request. Given a TLS context it serves https; it then tells TLS from plain http by the connection's first
  byte, so ``https://127.0.0.1:<port>`` and ``http://127.0.0.1:<port>`` are the same socket: the sharpest
  scheme downgrade there is.
* :class:`HoldingRelay` forwards TCP connections to an upstream server and holds back the answers a predicate
  picks until the test releases them, signalling when one is held: the request has reached the server and the
  server has acted on it, and the client is still waiting for the answer. That is the moment a signal is worst.
"""

from __future__ import annotations

import contextlib
import socket
import socketserver
import ssl
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from typing import Self

import attrs

TIMEOUT = 10.0  # every socket of ours gives up after this long without progress


@attrs.frozen
class Seen:
    """One request as a server received it."""

    method: str
    path: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    tls: bool

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    @property
    def names(self) -> set[str]:
        return {k.lower() for k, _ in self.headers}


Reply = tuple[int, dict[str, str], bytes]
Answer = Callable[[Seen], Reply]


class _Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, handler: type[BaseHTTPRequestHandler], tls: ssl.SSLContext | None) -> None:
        self.tls = tls
        self.errors: list[BaseException] = []
        super().__init__(("127.0.0.1", 0), handler)

    def finish_request(self, request: socket.socket, client_address: object) -> None:  # type: ignore[override]
        request.settimeout(TIMEOUT)
        if self.tls is not None and request.recv(1, socket.MSG_PEEK) == b"\x16":  # a TLS ClientHello
            with self.tls.wrap_socket(request, server_side=True) as wrapped:
                super().finish_request(wrapped, client_address)  # type: ignore[arg-type]
            return
        super().finish_request(request, client_address)  # type: ignore[arg-type]

    def handle_error(self, request: object, client_address: object) -> None:
        import sys

        self.errors.append(sys.exc_info()[1] or RuntimeError("unknown"))


class TinyServer:
    """A recording HTTP/1.1 server (https too, on the same port, when given a TLS context).

    Args:
        answer: what to answer to a request (status, headers, body); ``Content-Length`` and ``Connection: close``
            are added.
        tls: the server's TLS context, to serve https alongside http.
    """

    def __init__(self, answer: Answer, tls: ssl.SSLContext | None = None) -> None:
        self.answer = answer
        self.seen: list[Seen] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args: object) -> None:
                return

            def _handle(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                seen = Seen(
                    self.command,
                    self.path,
                    tuple(self.headers.items()),
                    body,
                    isinstance(self.connection, ssl.SSLSocket),
                )
                owner.seen.append(seen)
                status, headers, payload = owner.answer(seen)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(payload)
                self.close_connection = True

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle  # noqa: N815 - http.server's names

        self._server = _Server(Handler, tls)
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.01,), daemon=True)
        self._thread.start()

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def https(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(TIMEOUT)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


# ---------------------------------------------------------------------------------------------- the relay


def _read_response(sock: socket.socket) -> bytes:
    """One whole HTTP/1.1 response from ``sock``: by Content-Length, else until the peer closes."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    length = next(
        (
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")[1:]
            if line.lower().startswith(b"content-length:")
        ),
        None,
    )
    while length is None or len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return head + b"\r\n\r\n" + rest


class HoldingRelay:
    """A TCP relay to ``upstream`` that holds back the answers ``hold(request_head, response)`` picks.

    Each connection carries one request (our CLI's transport sends ``Connection: close``). When an answer is held,
    ``held`` is set; it goes out on ``release()`` (or after ``max_hold`` seconds, a safety bound only).
    """

    def __init__(self, upstream: str, hold: Callable[[bytes, bytes], bool], max_hold: float = 20.0) -> None:
        host_port = upstream.split("//", 1)[1]
        host, port = host_port.rsplit(":", 1)
        self._upstream = (host, int(port))
        self._hold = hold
        self._max_hold = max_hold
        self.held = threading.Event()
        self._released = threading.Event()
        self.held_count = 0
        self.requests: list[bytes] = []
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.05)
        self.port = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def release(self) -> None:
        self._released.set()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with client, socket.create_connection(self._upstream, timeout=TIMEOUT) as upstream:
            client.settimeout(TIMEOUT)
            request = b""
            while b"\r\n\r\n" not in request:
                chunk = client.recv(65536)
                if not chunk:
                    return
                request += chunk
            head, _, body = request.partition(b"\r\n\r\n")
            length = next(
                (int(v.split(b":", 1)[1]) for v in head.split(b"\r\n") if v.lower().startswith(b"content-length:")),
                0,
            )
            while len(body) < length:
                chunk = client.recv(65536)
                if not chunk:
                    return
                body += chunk
            self.requests.append(head)
            upstream.sendall(head + b"\r\n\r\n" + body)
            response = _read_response(upstream)
            if self._hold(head, response):
                self.held_count += 1
                self.held.set()
                self._released.wait(self._max_hold)
            with contextlib.suppress(OSError):
                client.sendall(response)

    def stop(self) -> None:
        self._stop.set()
        self._released.set()
        self._sock.close()
        self._thread.join(TIMEOUT)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def holds_tokens(_head: bytes, response: bytes) -> bool:
    """Hold a token endpoint's answer that carries tokens (a code exchange, a refresh, an approved device poll)."""
    return response.startswith(b"HTTP/1.1 200") and b'"access_token"' in response


@contextlib.contextmanager
def relay_to(upstream: str, hold: Callable[[bytes, bytes], bool] = holds_tokens) -> Iterator[HoldingRelay]:
    relay = HoldingRelay(upstream, hold)
    try:
        yield relay
    finally:
        relay.stop()
