"""The HttpTransport contract on both real transports (httpx and http.client) against a local HTTP server,
plus the in-memory server the unit tests use.

``RawServer`` is hand-written for what ``http.server`` will not do: drip an answer one byte per half second,
cut a body short, close or reset a connection at a chosen moment. Every connection it serves ends by itself.
"""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from hyperframes_auth.adapters.http_httpx import HttpxTransport
from hyperframes_auth.adapters.http_stdlib import StdlibTransport
from hyperframes_auth.domain.api import check_answer as check_userinfo
from hyperframes_auth.domain.errors import (
    ApiError,
    ProxyError,
    RequestTimedOut,
    ResponseTruncated,
    TransportError,
)
from hyperframes_auth.domain.http import HttpRequest, form_post
from tests.fakes import FakeAuthServer, FakeClock

from .tls import read_head

SECRET = "sentinel-secret-value-123"
HOSTILE_LOCATIONS = {  # raw bytes a server may put in a Location header
    "/escape-redirect": b"/echo\x1b]0;owned\x07?token=leak",  # an OSC sequence (h11 refuses it outright)
    "/bidi-redirect": b"/echo\xe2\x80\xae?token=leak",  # U+202E RIGHT-TO-LEFT OVERRIDE in UTF-8
}


class Handler(BaseHTTPRequestHandler):
    server: Server  # type: ignore[assignment]

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def _reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _route(self) -> None:
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.seen.append((self.command, parts.path, dict(self.headers.items()), body))
        if parts.path == "/echo":
            payload = {
                "method": self.command,
                "path": parts.path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body.decode(),
            }
            self._reply(200, json.dumps(payload).encode(), {"Content-Type": "application/json"})
        elif parts.path == "/redirect":
            self._reply(int(query.get("status", "302")), headers={"Location": query["to"]})
        elif parts.path == "/loop":
            self._reply(302, headers={"Location": "/loop"})
        elif parts.path == "/big":
            self._reply(200, b"x" * (2 * 1024 * 1024), {"Content-Type": "application/octet-stream"})
        elif parts.path == "/slow":
            self.server.release.wait(5)
            self._reply(200, b"{}")
        elif parts.path == "/pause-redirect":
            self.server.release.wait(0.3)  # a slow hop; the test's deadline covers about three of them
            self._reply(302, headers={"Location": "/pause-redirect"})
        elif parts.path in HOSTILE_LOCATIONS:
            self.send_response(302)
            self.send_header("Content-Length", "0")
            self._headers_buffer.append(b"Location: " + HOSTILE_LOCATIONS[parts.path] + b"\r\n")  # type: ignore[attr-defined]
            self.end_headers()
        elif parts.path == "/html":
            self._reply(200, b"<html><body>proxy login</body></html>", {"Content-Type": "text/html; charset=utf-8"})
        else:
            self._reply(404, b"")

    do_GET = do_POST = _route  # noqa: N815 - the stdlib names its handlers so


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.seen: list[tuple[str, str, dict[str, str], bytes]] = []
        self.release = threading.Event()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    @property
    def other_origin(self) -> str:
        return f"http://localhost:{self.server_address[1]}"


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    srv = Server()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield srv
    srv.release.set()
    srv.shutdown()
    srv.server_close()


@pytest.fixture(params=["httpx", "stdlib"])
def transport(request: pytest.FixtureRequest) -> Iterator[HttpxTransport | StdlibTransport]:
    if request.param == "httpx":
        impl = HttpxTransport()
        yield impl
        impl.close()
    else:
        yield StdlibTransport()


def get(url: str, headers: dict[str, str] | None = None, **kw: object) -> HttpRequest:
    return HttpRequest("GET", url, headers or {}, None, follow_redirects=True, **kw)  # type: ignore[arg-type]


def test_a_form_post_arrives_exactly_and_the_answer_comes_back(server, transport):
    response = transport.send(
        form_post(f"{server.base}/echo", {"grant_type": "refresh_token", "refresh_token": "a b&c"})
    )
    assert response.status == 200
    echoed = json.loads(response.body)
    assert echoed["method"] == "POST"
    assert echoed["body"] == "grant_type=refresh_token&refresh_token=a+b%26c"
    assert echoed["headers"]["content-type"] == "application/x-www-form-urlencoded"
    assert echoed["headers"]["accept"] == "application/json"
    assert response.headers["content-type"] == "application/json"


def test_token_endpoints_never_follow_redirects(server, transport):
    server.seen.clear()
    target = f"{server.base}/echo"
    response = transport.send(form_post(f"{server.base}/redirect?status=307&to={target}", {"refresh_token": SECRET}))
    assert response.status == 307
    assert [path for _, path, _, _ in server.seen] == ["/redirect"]


def test_resource_redirects_keep_credentials_on_the_same_origin_only(server, transport):
    creds = {"authorization": f"Bearer {SECRET}", "x-api-key": SECRET}
    same = transport.send(get(f"{server.base}/redirect?to=/echo", creds))
    assert json.loads(same.body)["headers"]["authorization"] == f"Bearer {SECRET}"
    cross = transport.send(get(f"{server.base}/redirect?to={server.other_origin}/echo", creds))
    headers = json.loads(cross.body)["headers"]
    assert "authorization" not in headers
    assert "x-api-key" not in headers


def test_a_303_after_post_becomes_a_get_without_body(server, transport):
    request = HttpRequest(
        "POST",
        f"{server.base}/redirect?status=303&to=/echo",
        {"content-type": "text/plain"},
        b"payload",
        follow_redirects=True,
    )
    echoed = json.loads(transport.send(request).body)
    assert (echoed["method"], echoed["body"]) == ("GET", "")


def test_redirect_loops_are_cut(server, transport):
    with pytest.raises(TransportError, match="more than 5 redirects"):
        transport.send(get(f"{server.base}/loop"))


def test_bodies_are_capped(server, transport):
    with pytest.raises(TransportError, match="larger than 1048576 bytes"):
        transport.send(get(f"{server.base}/big", max_bytes=1024 * 1024))


def test_a_silent_server_times_out(server, transport):
    with pytest.raises(RequestTimedOut, match="was too slow to answer") as info:
        transport.send(get(f"{server.base}/slow", timeout=0.3))
    assert info.value.host == server.base.removeprefix("http://")


@pytest.mark.parametrize("url", ["http://example.com/token", "ftp://127.0.0.1/x", "file:///etc/passwd"])
def test_only_https_or_loopback_http_is_contacted(transport, url):
    with pytest.raises(TransportError, match=r"non-https|not a valid"):
        transport.send(form_post(url, {"refresh_token": SECRET}))


def test_failures_name_the_host_and_never_a_secret(transport):
    with pytest.raises(TransportError) as info:
        transport.send(form_post("http://127.0.0.1:9/v1/oauth/token", {"refresh_token": SECRET}))
    assert "127.0.0.1:9" in info.value.message
    assert SECRET not in info.value.message
    assert SECRET not in repr(info.value)


def test_an_html_page_is_reported_as_such(server, transport):
    response = transport.send(get(f"{server.base}/html"))
    with pytest.raises(ApiError, match=r"non-JSON body \(text/html\)"):
        check_userinfo(response)


def test_the_in_memory_server_speaks_the_same_values():
    fake = FakeAuthServer(FakeClock())
    response = fake.send(
        form_post("https://auth.test/v1/oauth/token", {"grant_type": "refresh_token", "refresh_token": "nope"})
    )
    assert response.status == 400
    assert json.loads(response.body)["error"] == "invalid_grant"
    assert response.headers["content-type"] == "application/json"


# ---------------------------------------------------------------------------------------------- hostile servers

DRIP_INTERVAL = 0.5
DRIP_BYTES = 60  # a drip lasts 30 s unless the client gives up
HEADERS_OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"

Behaviour = Callable[["RawServer", socket.socket], None]
BAD_PROXY_REPLIES = {
    "mute.example:443": b"",  # closes without answering the CONNECT
    "ssh.example:443": b"SSH-2.0-OpenSSH_9.6\r\n\r\n",  # not HTTP at all
    "eager.example:443": b"HTTP/1.1 200 OK\r\n\r\n\x16\x03\x03garbage",  # speaks before our TLS hello
}


class RawServer:
    """A hand-written HTTP/1.1 server: ``behaviour(server, connection)`` decides what each connection gets.

    Bounded: at most 32 connections, each with 10 s socket timeouts; a drip stops when the client goes away
    or the server is closed.
    """

    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.stopping = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)
        self.threads: list[threading.Thread] = []
        self.accepting = threading.Thread(target=self._accept, daemon=True)
        self.accepting.start()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.listener.getsockname()[1]}"

    @property
    def base(self) -> str:
        return f"http://{self.host}"

    def _accept(self) -> None:
        for _ in range(32):
            while not self.stopping.is_set():
                try:
                    conn, _ = self.listener.accept()
                    break
                except TimeoutError:
                    continue
                except OSError:
                    return
            else:
                return
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self.threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(10)
            with contextlib.suppress(OSError):  # the client went away: what most of these tests make it do
                self.behaviour(self, conn)

    def drip(self, conn: socket.socket, prefix: bytes, payload: bytes) -> None:
        conn.sendall(prefix)
        for byte in payload:
            if self.stopping.wait(DRIP_INTERVAL):
                return
            conn.sendall(bytes([byte]))

    def close(self) -> None:
        self.stopping.set()
        self.listener.close()
        self.accepting.join(5)
        for thread in self.threads:
            thread.join(5)


def read_request(conn: socket.socket) -> str:
    """Read one whole request (head and Content-Length body); return its path."""
    head, rest = read_head(conn)
    length = 0
    for line in head.decode("latin-1").split("\r\n")[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    while len(rest) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        rest += chunk
    return head.split(b" ", 2)[1].decode()


def by_path(server: RawServer, conn: socket.socket) -> None:
    path = read_request(conn)
    if path == "/drip-headers":
        server.drip(conn, HEADERS_OK, b"X-Slow: " + b"a" * DRIP_BYTES)
    elif path == "/drip-body":
        server.drip(conn, HEADERS_OK + b"Content-Length: %d\r\n\r\n" % DRIP_BYTES, b"b" * DRIP_BYTES)
    elif path == "/cut-length":
        conn.sendall(HEADERS_OK + b"Content-Length: 100\r\n\r\n" + b"c" * 10)
    elif path == "/cut-chunked":
        conn.sendall(HEADERS_OK + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
    elif path == "/chunked":
        conn.sendall(HEADERS_OK + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
    elif path in BAD_PROXY_REPLIES:  # a CONNECT: this server plays a proxy that misbehaves
        conn.sendall(BAD_PROXY_REPLIES[path])
    elif path.endswith(":443"):  # a CONNECT: this server plays a proxy that drips its reply
        server.drip(conn, b"", b"HTTP/1.1 200 Connection established\r\nX-Slow: " + b"a" * DRIP_BYTES)
    elif path == "/reset-after-reading":
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close() sends a RST
    # "/close-after-reading" and anything else: close without an answer


def close_before_reading(server: RawServer, conn: socket.socket) -> None:
    """Read nothing: closing with the request unread makes the kernel answer it with a reset."""


def silent(server: RawServer, conn: socket.socket) -> None:
    """Accept, then say nothing (not even the TLS server hello) until the test ends."""
    server.stopping.wait(30)


@pytest.fixture
def raw() -> Iterator[RawServer]:
    srv = RawServer(by_path)
    yield srv
    srv.close()


def test_a_server_dripping_its_headers_cannot_outlast_the_deadline(raw, transport):
    started = time.monotonic()
    with pytest.raises(RequestTimedOut) as info:
        transport.send(get(f"{raw.base}/drip-headers", timeout=2.0))
    assert time.monotonic() - started < 15, "safety bound only: the drip would have lasted 30 s"
    assert info.value.message == f"{raw.host} was too slow to answer (gave up after 2 s)"
    assert info.value.code == "TIMEOUT"
    assert info.value.sent is True
    assert "proxy" in (info.value.hint or "")


def test_a_server_dripping_its_body_cannot_outlast_the_deadline(raw, transport):
    started = time.monotonic()
    with pytest.raises(RequestTimedOut):
        transport.send(get(f"{raw.base}/drip-body", timeout=2.0))
    assert time.monotonic() - started < 15, "safety bound only: the drip would have lasted 30 s"


def test_a_proxy_dripping_its_connect_reply_cannot_outlast_the_deadline(raw, transport):
    impl = type(transport)(env={"HTTPS_PROXY": raw.base})
    started = time.monotonic()
    try:
        with pytest.raises(RequestTimedOut) as info:
            impl.send(form_post("https://api.example/v1/oauth/token", {"refresh_token": SECRET}, timeout=2.0))
    finally:
        getattr(impl, "close", lambda: None)()
    assert time.monotonic() - started < 15, "safety bound only: the drip would have lasted 30 s"
    assert info.value.sent is False
    assert info.value.message == "api.example was too slow to answer (gave up after 2 s)"


@pytest.mark.parametrize("target", sorted(BAD_PROXY_REPLIES))
def test_a_proxy_that_will_not_tunnel_is_blamed_and_nothing_was_sent(raw, transport, target):
    impl = type(transport)(env={"HTTPS_PROXY": raw.base})
    try:
        with pytest.raises(TransportError) as info:
            impl.send(form_post(f"https://{target.removesuffix(':443')}/v1/oauth/token", {"refresh_token": SECRET}))
    finally:
        getattr(impl, "close", lambda: None)()
    assert info.value.sent is False
    if target != "eager.example:443":  # httpx reads the early bytes as the server's TLS answer
        assert isinstance(info.value, ProxyError), info.value
        assert info.value.message.startswith(f"The proxy {raw.host} (from HTTPS_PROXY) ")


def test_a_server_silent_during_the_tls_handshake_times_out_unsent(transport):
    srv = RawServer(silent)
    try:
        with pytest.raises(RequestTimedOut) as info:
            transport.send(form_post(f"https://{srv.host}/v1/oauth/token", {"refresh_token": SECRET}, timeout=1.0))
    finally:
        srv.close()
    assert info.value.sent is False


def test_one_deadline_covers_every_redirect(server, transport):
    server.seen.clear()
    with pytest.raises(RequestTimedOut) as info:
        transport.send(get(f"{server.base}/pause-redirect", timeout=1.0))
    assert info.value.sent is True
    assert len(server.seen) < 5  # each hop takes 0.3 s: the 1 s deadline ends the chain, not the redirect cap


def test_a_refused_connection_was_not_sent(transport):
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))  # bound, never listening: connecting to it is refused
        port = unused.getsockname()[1]
        with pytest.raises(TransportError) as info:
            transport.send(form_post(f"http://127.0.0.1:{port}/v1/oauth/token", {"refresh_token": SECRET}))
    assert info.value.sent is False
    assert not isinstance(info.value, RequestTimedOut)


def test_a_server_that_closes_before_reading_was_not_sent(transport):
    srv = RawServer(close_before_reading)
    try:
        body = b"x" * (32 * 1024 * 1024)  # more than loopback buffers hold: the write cannot complete
        request = HttpRequest("POST", f"{srv.base}/v1/oauth/token", {"content-type": "text/plain"}, body, 10.0)
        with pytest.raises(TransportError) as info:
            transport.send(request)
    finally:
        srv.close()
    assert info.value.sent is False


@pytest.mark.parametrize("path", ["/reset-after-reading", "/close-after-reading"])
def test_a_server_that_read_the_request_may_have_acted_on_it(raw, transport, path):
    with pytest.raises(TransportError) as info:
        transport.send(form_post(f"{raw.base}{path}", {"refresh_token": SECRET}))
    assert info.value.sent is True
    assert not isinstance(info.value, ResponseTruncated)
    assert SECRET not in repr(info.value)


@pytest.mark.parametrize("path", ["/cut-length", "/cut-chunked"])
def test_a_body_cut_short_says_so(raw, transport, path):
    with pytest.raises(ResponseTruncated) as info:
        transport.send(get(f"{raw.base}{path}"))
    assert (
        info.value.message
        == f"The answer from {raw.host} was cut short (the connection closed before the whole body arrived)"
    )
    assert info.value.sent is True


def test_a_whole_chunked_body_arrives(raw, transport):
    assert transport.send(get(f"{raw.base}/chunked")).body == b"hello world"


@pytest.mark.parametrize("path", sorted(HOSTILE_LOCATIONS))
def test_the_trace_escapes_what_the_server_chose_and_shows_no_query(server, path):
    for kind in ("httpx", "stdlib"):
        lines: list[str] = []
        impl = HttpxTransport(trace=lines.append, env={}) if kind == "httpx" else StdlibTransport(lines.append, {})
        # The redirect's target is percent-encoded as a browser would (HttpRequest keeps only visible ASCII in a
        # URL), so it may be followed; what the trace shows of it is that encoded form, never the raw bytes.
        with contextlib.suppress(TransportError):
            impl.send(get(f"{server.base}{path}?token={SECRET}"))
        text = "\n".join(lines)
        assert lines[0].startswith(f"[http] GET {server.base}{path} -> "), (kind, lines)
        if len(lines) > 1:
            assert lines[1].startswith(f"[http] GET {server.base}/echo%"), (kind, lines)
        for unsafe in ("\x1b", "\x07", "\u202e", "\x80", SECRET, "token=", "leak"):
            assert unsafe not in text, (kind, unsafe, lines)
