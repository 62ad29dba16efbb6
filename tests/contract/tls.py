"""Test infrastructure for corporate networks: a private CA, HTTPS servers with its certificates, a forward proxy.

* ``make_pki`` makes a CA and a leaf certificate for 127.0.0.1 and localhost (cryptography's x509 builder) and
  writes them as PEM files; ``ca`` is what ``SSL_CERT_FILE`` points at.
* ``TlsHttpServer`` serves HTTPS with that leaf (the handshake runs on the handler thread, so a client that
  gives up mid-handshake blocks nobody).
* ``ForwardProxy`` is an HTTP proxy: CONNECT tunnels and absolute-form plain http, optionally demanding Basic
  credentials (407 otherwise), and it records what it was asked. It connects only to 127.0.0.1/localhost.
* ``TlsReverseProxy`` terminates TLS in front of a plain-http server (the local authorization server).

Every server listens on 127.0.0.1 only, on an ephemeral port, and stops by itself: connections are bounded in
count and in time.
"""

from __future__ import annotations

import base64
import http.client
import ipaddress
import select
import socket
import ssl
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

LOCAL_HOSTS = {"127.0.0.1", "localhost"}
RELAY_SECONDS = 30.0


class Pki:
    """PEM files of a private CA and of a server certificate it signed (for 127.0.0.1 and localhost)."""

    def __init__(self, ca: Path, cert: Path, key: Path) -> None:
        self.ca = ca
        self.cert = cert
        self.key = key

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, self.key)
        return context

    def client_context(self) -> ssl.SSLContext:
        """A client context that trusts this CA only."""
        return ssl.create_default_context(cafile=self.ca)


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def make_pki(directory: Path, ca_name: str = "hyperframes test CA") -> Pki:
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(_name(ca_name))
        .issuer_name(_name(ca_name))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name("localhost"))
        .issuer_name(ca_cert.subject)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    pki = Pki(directory / "ca.pem", directory / "leaf.pem", directory / "leaf.key")
    pki.ca.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    pki.cert.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    pki.key.write_bytes(
        leaf_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return pki


class TlsHttpServer(ThreadingHTTPServer):
    """An HTTPS server on 127.0.0.1 with ``pki``'s leaf certificate; ``serve()`` runs it on a daemon thread."""

    daemon_threads = True

    def __init__(self, handler: type[BaseHTTPRequestHandler], pki: Pki) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.context = pki.server_context()
        self.thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def get_request(self) -> tuple[socket.socket, tuple[str, int]]:
        sock, address = self.socket.accept()
        sock.settimeout(10)
        return self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), address

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that refuses our certificate is what some tests want

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def serve(self) -> TlsHttpServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        self.thread.join(5)


def read_head(sock: socket.socket, limit: int = 64 * 1024) -> tuple[bytes, bytes]:
    """Read up to the blank line that ends an HTTP head: ``(head, bytes after it)``."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk or len(data) > limit:
            raise ConnectionError("no complete head")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return head + b"\r\n\r\n", rest


def relay(one: socket.socket, other: socket.socket, stop: threading.Event, seconds: float = RELAY_SECONDS) -> None:
    """Copy bytes both ways until either side closes, ``stop`` is set, or ``seconds`` pass."""
    ends = time.monotonic() + seconds
    pair = {one: other, other: one}
    while not stop.is_set() and time.monotonic() < ends:
        readable, _, _ = select.select(list(pair), [], [], 0.1)
        for sock in readable:
            try:
                data = sock.recv(65536)
            except OSError:
                return
            if not data:
                return
            try:
                pair[sock].sendall(data)
            except OSError:
                return


class Seen:
    """One request a proxy received: its method, target and the Proxy-Authorization header (or ``None``)."""

    def __init__(self, method: str, target: str, authorization: str | None) -> None:
        self.method = method
        self.target = target
        self.authorization = authorization

    def __repr__(self) -> str:
        return f"Seen({self.method} {self.target})"


class ForwardProxy:
    """A forward HTTP proxy on 127.0.0.1 (CONNECT and absolute-form), optionally demanding Basic credentials."""

    def __init__(self, credentials: tuple[str, str] | None = None, max_connections: int = 64) -> None:
        self.credentials = credentials
        self.seen: list[Seen] = []
        self._stop = threading.Event()
        self._budget = max_connections
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self._threads: list[threading.Thread] = []
        self._accepting = threading.Thread(target=self._accept, daemon=True)
        self._accepting.start()

    @property
    def port(self) -> int:
        return int(self._listener.getsockname()[1])

    def url(self, user: str | None = None, password: str | None = None) -> str:
        login = f"{user}:{password}@" if user is not None else ""
        return f"http://{login}127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self._stop.is_set() and self._budget > 0:
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._budget -= 1
            thread = threading.Thread(target=self._serve, args=(client,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _authorized(self, header: str | None) -> bool:
        if self.credentials is None:
            return True
        expected = base64.b64encode(":".join(self.credentials).encode()).decode()
        return header == f"Basic {expected}"

    def _serve(self, client: socket.socket) -> None:
        with client:
            client.settimeout(10)
            try:
                head, rest = read_head(client)
            except OSError:
                return
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
            authorization = headers.get("proxy-authorization")
            self.seen.append(Seen(method, target, authorization))
            if not self._authorized(authorization):
                client.sendall(
                    b'HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="test"\r\n'
                    b"Content-Length: 0\r\nConnection: close\r\n\r\n"
                )
                return
            if method == "CONNECT":
                self._tunnel(client, target)
            else:
                self._forward(client, target, lines, rest)

    def _upstream(self, host: str, port: int) -> socket.socket | None:
        if host.strip("[]") not in LOCAL_HOSTS:
            return None
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=10)
        except OSError:
            return None

    def _tunnel(self, client: socket.socket, target: str) -> None:
        host, _, port = target.rpartition(":")
        upstream = self._upstream(host, int(port))
        if upstream is None:
            client.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            return
        with upstream:
            client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            relay(client, upstream, self._stop)

    def _forward(self, client: socket.socket, target: str, lines: list[str], rest: bytes) -> None:
        parts = urlsplit(target)
        upstream = self._upstream(parts.hostname or "", parts.port or 80) if parts.scheme == "http" else None
        if upstream is None:
            client.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            return
        origin_form = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        method = lines[0].split(" ", 1)[0]
        kept = [line for line in lines[1:] if line and not line.lower().startswith("proxy-")]
        with upstream:
            upstream.sendall(("\r\n".join([f"{method} {origin_form} HTTP/1.1", *kept]) + "\r\n\r\n").encode("latin-1"))
            if rest:
                upstream.sendall(rest)
            relay(client, upstream, self._stop)

    def close(self) -> None:
        self._stop.set()
        self._listener.close()
        self._accepting.join(5)
        for thread in self._threads:
            thread.join(5)


HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "upgrade", "proxy-authorization", "host"}


class _ReverseHandler(BaseHTTPRequestHandler):
    server: TlsReverseProxy  # type: ignore[assignment]
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def _forward(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        upstream = http.client.HTTPConnection("127.0.0.1", self.server.upstream_port, timeout=10)
        try:
            upstream.request(self.command, self.path, body, headers)
            answer = upstream.getresponse()
            data = answer.read()
            self.send_response(answer.status, answer.reason)
            for name, value in answer.getheaders():
                if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                    self.send_header(name, value)
        finally:
            upstream.close()
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)
        self.close_connection = True

    do_GET = do_POST = do_DELETE = do_PUT = _forward  # noqa: N815 - the stdlib names its handlers so


class TlsReverseProxy(TlsHttpServer):
    """Terminates TLS (``pki``'s leaf) in front of the plain-http server at ``upstream`` (``http://127.0.0.1:N``)."""

    def __init__(self, upstream: str, pki: Pki) -> None:
        super().__init__(_ReverseHandler, pki)
        port = urlsplit(upstream).port
        assert port is not None
        self.upstream_port = port

    def base(self, host: str = "localhost") -> str:
        return f"https://{host}:{self.port}"
