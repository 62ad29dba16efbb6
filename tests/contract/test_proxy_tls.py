"""Both transports on a corporate network: a proxy from the environment, a private CA from SSL_CERT_FILE.

The HTTPS server's certificate comes from a CA made here (``tls.make_pki``), as a TLS-inspecting proxy's would;
the proxy is ``tls.ForwardProxy`` on 127.0.0.1. Each transport gets its environment as the ``env`` argument.
"""

from __future__ import annotations

import base64
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from hyperframes_auth.adapters.http_httpx import HttpxTransport
from hyperframes_auth.adapters.http_stdlib import StdlibTransport
from hyperframes_auth.domain.errors import CertificateError, ProxyError, TransportError
from hyperframes_auth.domain.http import HttpRequest, form_post

from .tls import ForwardProxy, Pki, TlsHttpServer, make_pki

USER, PASSWORD = "corp-user", "pa:ss@w0rd/secret"
QUOTED_PASSWORD = "pa%3Ass%40w0rd%2Fsecret"


class Echo(BaseHTTPRequestHandler):
    """Answers every request with what it received (method, path, headers) as JSON."""

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def _echo(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        payload = {
            "method": self.command,
            "path": self.path,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": body.decode(),
        }
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _echo  # noqa: N815 - the stdlib names its handlers so


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def https(pki: Pki) -> Iterator[TlsHttpServer]:
    server = TlsHttpServer(Echo, pki).serve()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def plain() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def proxy() -> Iterator[ForwardProxy]:
    server = ForwardProxy()
    yield server
    server.close()


@pytest.fixture
def guarded() -> Iterator[ForwardProxy]:
    server = ForwardProxy(credentials=(USER, PASSWORD))
    yield server
    server.close()


Transport = HttpxTransport | StdlibTransport
_made: list[HttpxTransport] = []


@pytest.fixture(autouse=True)
def _close_transports() -> Iterator[None]:
    yield
    while _made:
        _made.pop().close()


def make(kind: str, env: dict[str, str], trace: list[str] | None = None) -> Transport:
    append = trace.append if trace is not None else None
    if kind == "stdlib":
        return StdlibTransport(append, env)
    transport = HttpxTransport(trace=append, env=env)
    _made.append(transport)
    return transport


def get(url: str, **kw: object) -> HttpRequest:
    return HttpRequest("GET", url, {}, None, follow_redirects=True, **kw)  # type: ignore[arg-type]


def refused_port() -> tuple[socket.socket, int]:
    """A port on 127.0.0.1 that refuses connections while the returned socket stays open (bound, not listening)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock, sock.getsockname()[1]


KINDS = pytest.mark.parametrize("kind", ["httpx", "stdlib"])


@KINDS
@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
def test_https_through_a_connect_tunnel_trusting_the_ca_in_ssl_cert_file(kind, host, pki, https, proxy):
    env = {"HTTPS_PROXY": proxy.url(), "SSL_CERT_FILE": str(pki.ca)}
    response = make(kind, env).send(get(f"https://{host}:{https.port}/echo?x=1"))
    assert response.status == 200
    assert json.loads(response.body)["path"] == "/echo?x=1"
    assert [(s.method, s.target) for s in proxy.seen] == [("CONNECT", f"{host}:{https.port}")]


def _hashed_dir(pki: Pki, directory: Path) -> Path:
    """A directory as ``SSL_CERT_DIR`` expects it: the CA under ``<subject hash>.0`` (what ``openssl rehash`` does)."""
    import shutil
    import subprocess

    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command names a CA in a hashed directory; it is not installed")
    out = subprocess.run(
        [openssl, "x509", "-noout", "-subject_hash", "-in", str(pki.ca)], capture_output=True, check=True, timeout=10
    )
    directory.mkdir()
    (directory / f"{out.stdout.decode().strip()}.0").write_bytes(pki.ca.read_bytes())
    return directory


@KINDS
def test_ssl_cert_dir_is_trusted_too(kind, pki, https, tmp_path):
    env = {"SSL_CERT_DIR": str(_hashed_dir(pki, tmp_path / "certs"))}
    assert make(kind, env).send(get(f"https://localhost:{https.port}/echo")).status == 200


@KINDS
@pytest.mark.parametrize("through_proxy", [True, False])
def test_without_the_ca_the_failure_says_which_variable_fixes_it(kind, through_proxy, https, proxy):
    env = {"HTTPS_PROXY": proxy.url()} if through_proxy else {}
    with pytest.raises(CertificateError) as info:
        make(kind, env).send(form_post(f"https://localhost:{https.port}/v1/oauth/token", {"refresh_token": "rt"}))
    error = info.value
    assert error.message.startswith(f"Could not verify the TLS certificate of localhost:{https.port}")
    assert "\n" not in error.message
    assert error.hint == "If a proxy inspects TLS, set SSL_CERT_FILE to its CA bundle (a PEM file)."
    assert (error.code, error.sent) == ("TLS_CERTIFICATE", False)


@KINDS
def test_an_unreadable_ssl_cert_file_is_named(kind, https, tmp_path):
    missing = tmp_path / "missing.pem"
    with pytest.raises(CertificateError, match=r"SSL_CERT_FILE \(.*missing\.pem\) is not a readable CA bundle"):
        make(kind, {"SSL_CERT_FILE": str(missing)}).send(get(f"https://localhost:{https.port}/echo"))


@KINDS
def test_proxy_credentials_reach_the_proxy_and_nothing_else(kind, pki, https, guarded):
    trace: list[str] = []
    env = {"https_proxy": guarded.url(USER, QUOTED_PASSWORD), "SSL_CERT_FILE": str(pki.ca)}
    response = make(kind, env, trace).send(get(f"https://localhost:{https.port}/echo"))
    assert response.status == 200
    expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    assert [s.authorization for s in guarded.seen] == [expected]
    assert "proxy-authorization" not in json.loads(response.body)["headers"]  # inside the tunnel: never sent on
    assert trace == [trace[0]]
    assert trace[0].endswith(f" via proxy 127.0.0.1:{guarded.port}")
    for secret in (PASSWORD, QUOTED_PASSWORD, USER, expected.split()[1]):
        assert secret not in trace[0]


@KINDS
def test_a_proxy_refusing_the_credentials_is_named_without_them(kind, pki, https, guarded):
    trace: list[str] = []
    env = {"HTTPS_PROXY": guarded.url(USER, "wrong-password"), "SSL_CERT_FILE": str(pki.ca)}
    with pytest.raises(ProxyError) as info:
        make(kind, env, trace).send(form_post(f"https://localhost:{https.port}/v1/oauth/token", {"x": "y"}))
    error = info.value
    assert error.message == f"The proxy 127.0.0.1:{guarded.port} (from HTTPS_PROXY) refused the user and password (407)"
    assert (error.code, error.sent, error.variable) == ("PROXY_ERROR", False, "HTTPS_PROXY")
    for text in (error.message, error.hint or "", repr(error), *trace):
        assert "wrong-password" not in text
        assert USER not in text


@KINDS
def test_plain_http_goes_through_the_proxy_in_absolute_form(kind, plain, guarded):
    port = plain.server_address[1]
    env = {"http_proxy": guarded.url(USER, QUOTED_PASSWORD), "HTTPS_PROXY": "http://127.0.0.1:9"}
    response = make(kind, env).send(get(f"http://127.0.0.1:{port}/echo?q=1"))
    assert response.status == 200
    seen = guarded.seen[0]
    assert (seen.method, seen.target) == ("GET", f"http://127.0.0.1:{port}/echo?q=1")
    assert seen.authorization is not None
    assert "proxy-authorization" not in json.loads(response.body)["headers"]  # the proxy takes it off


@KINDS
def test_a_proxy_asking_for_credentials_on_plain_http_is_a_proxy_error(kind, plain, guarded):
    env = {"HTTP_PROXY": guarded.url()}
    with pytest.raises(ProxyError, match=r"asks for a user and password \(407\)"):
        make(kind, env).send(get(f"http://127.0.0.1:{plain.server_address[1]}/echo"))


@KINDS
@pytest.mark.parametrize("no_proxy", ["localhost", ".localhost", "*", "example.com, localhost:{port}", "LOCALHOST"])
def test_no_proxy_goes_direct(kind, no_proxy, pki, https, proxy):
    env = {"HTTPS_PROXY": proxy.url(), "NO_PROXY": no_proxy.format(port=https.port), "SSL_CERT_FILE": str(pki.ca)}
    assert make(kind, env).send(get(f"https://localhost:{https.port}/echo")).status == 200
    assert proxy.seen == []


@KINDS
@pytest.mark.parametrize("no_proxy", ["localhost:1", "example.com", "127.0.0.1"])
def test_no_proxy_entries_that_do_not_match_keep_the_proxy(kind, no_proxy, pki, https, proxy):
    env = {"HTTPS_PROXY": proxy.url(), "NO_PROXY": no_proxy, "SSL_CERT_FILE": str(pki.ca)}
    assert make(kind, env).send(get(f"https://localhost:{https.port}/echo")).status == 200
    assert len(proxy.seen) == 1


@KINDS
def test_the_lower_case_variable_wins(kind, pki, https, proxy):
    holder, dead = refused_port()
    with holder:
        env = {"https_proxy": proxy.url(), "HTTPS_PROXY": f"http://127.0.0.1:{dead}", "SSL_CERT_FILE": str(pki.ca)}
        assert make(kind, env).send(get(f"https://localhost:{https.port}/echo")).status == 200
    assert len(proxy.seen) == 1


@KINDS
def test_an_unreachable_proxy_is_named_and_nothing_was_sent(kind, https):
    holder, dead = refused_port()
    with holder, pytest.raises(ProxyError) as info:
        make(kind, {"ALL_PROXY": f"http://{USER}:{QUOTED_PASSWORD}@127.0.0.1:{dead}"}).send(
            form_post(f"https://localhost:{https.port}/v1/oauth/token", {"refresh_token": "rt"})
        )
    assert info.value.message.startswith(f"The proxy 127.0.0.1:{dead} (from ALL_PROXY) could not be reached")
    assert info.value.sent is False
    assert PASSWORD not in info.value.message
    assert QUOTED_PASSWORD not in info.value.message


@KINDS
@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("socks5://127.0.0.1:1080", "The proxy 127.0.0.1:1080 (from HTTPS_PROXY) uses socks5://"),
        (
            f"https://{USER}:{QUOTED_PASSWORD}@proxy.example:8443",
            "The proxy proxy.example:8443 (from HTTPS_PROXY) uses https://",
        ),
        (f"http://{USER}:{QUOTED_PASSWORD}@proxy.example:99999", "The proxy in HTTPS_PROXY is not a valid proxy URL"),
    ],
)
def test_an_unusable_proxy_setting_is_refused_before_connecting(kind, value, message):
    with pytest.raises(ProxyError) as info:
        make(kind, {"HTTPS_PROXY": value}).send(get("https://api.example/v3/users/me"))
    assert info.value.message.startswith(message)
    assert PASSWORD not in info.value.message
    assert QUOTED_PASSWORD not in info.value.message
    assert info.value.sent is False


@KINDS
def test_a_certificate_failure_after_a_redirect_still_counts_as_sent(kind, pki, https, plain, tmp_path: Path):
    """A hop that reached a server already happened: the operation may have had an effect."""

    class Redirect(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

        def do_GET(self) -> None:
            self.send_response(302)
            self.send_header("Location", f"https://localhost:{https.port}/echo")
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        with pytest.raises(TransportError) as info:
            make(kind, {}).send(get(f"http://127.0.0.1:{server.server_address[1]}/go"))
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    assert isinstance(info.value, CertificateError)
    assert info.value.sent is True


@KINDS
def test_a_proxy_refusing_the_tunnel_is_named(kind, proxy):
    with pytest.raises(ProxyError) as info:
        make(kind, {"HTTPS_PROXY": proxy.url()}).send(get("https://api.example/v3/users/me"))
    assert info.value.message == (
        f"The proxy 127.0.0.1:{proxy.port} (from HTTPS_PROXY) refused to open a tunnel to api.example:443 (502)"
    )
    assert info.value.sent is False
    assert [(s.method, s.target) for s in proxy.seen] == [("CONNECT", "api.example:443")]
