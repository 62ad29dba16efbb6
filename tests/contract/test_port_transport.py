"""The HttpTransport contract on both real transports (httpx and http.client) against a local HTTP server,
plus the in-memory server the unit tests use. Checklist items 44, 49, 80, 88, 89, 91."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from hyperframes_auth.adapters.http_httpx import HttpxTransport
from hyperframes_auth.adapters.http_stdlib import StdlibTransport
from hyperframes_auth.domain.api import check_answer as check_userinfo
from hyperframes_auth.domain.errors import ApiError, TransportError
from hyperframes_auth.domain.http import HttpRequest, form_post
from tests.fakes import FakeAuthServer, FakeClock

SECRET = "sentinel-secret-value-123"


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
    with pytest.raises(TransportError, match="timed out") as info:
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
