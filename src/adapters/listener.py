"""``LoopbackCallbackListener``: catches the authorization redirect on 127.0.0.1 (RFC 8252 §7.3, §8.3).

* Binds ``127.0.0.1`` on port 0 (``[::1]`` when IPv4 loopback is unavailable) when a sign-in starts; the redirect
  URI is built once from the bound port and never changes.
* Only ``GET /oauth/callback`` counts. Other methods get 405, other paths 404, a foreign ``Host`` header 421
  (DNS rebinding); none of them ends the flow.
* Every callback query goes to the domain's judge. Ignored ones (wrong or missing state...) get an error page
  and the flow goes on; the first accepted or errored one ends it, and later requests get "already completed".
* An accepted callback is answered with ``303 See Other`` to ``/oauth/done``, so the code does not stay in the
  browser's address bar or history (OAuth 2.1 §2.3.6).
* Pages are static and escaped, with ``no-store``, ``nosniff``, a CSP allowing no scripts and no external
  resources, ``no-referrer`` and ``Connection: close`` (browser keep-alive once hung the reference listener).
* The ``/oauth/done`` page waits for the sign-in's real outcome (code exchanged and stored, or not), so the browser
  never says "signed in" while the exchange fails (a flaw of the reference CLI).

Crowding. Any local process can connect to the port, so a few dozen connections that each send a byte every few
seconds must not keep the browser out. One thread runs a ``select`` loop over the listening socket, a wake-up
socket and every connection (no polling, and no thread a peer can hold):

* A connection must deliver its whole request head within ``read_timeout`` of its first byte (a total, not per
  receive: trickling does not extend it), and a silent one is dropped after as long; heads are capped in size.
* At capacity, a new connection makes room by dropping the OLDEST one, never itself: connections already answered
  first, then incomplete requests, then complete ones still waiting (those get a page rather than a reset). The
  browser's callback is the newest connection and arrives whole, so no number of older tricklers shuts it out.
* Requests that must wait (the done page for the outcome, a callback that arrives before ``wait``) are parked
  without blocking the loop. ``close`` ends the loop and closes every connection: it never waits on a peer.
"""

from __future__ import annotations

import contextlib
import errno
import html
import io
import re
import selectors
import socket
import threading
import time
from collections.abc import Callable
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import Literal
from urllib.parse import urlsplit

from ..domain.callback import Verdict, parse_query
from ..domain.errors import AuthError
from .threads import start_daemon

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..domain.ports import CallbackJudge

CALLBACK_PATH = "/oauth/callback"
DONE_PATH = "/oauth/done"
MAX_CONNECTIONS = 32  # open connections at once; read when a listener is created
MAX_HEAD_BYTES = 64 * 1024  # a request line plus headers (cookies for 127.0.0.1 included) fit with room to spare
JUDGE_WAIT = 10.0  # a callback may beat the flow to `wait`: it is held this long for the judge
DRAIN_TIME = 1.0  # after answering, how long we read and discard what a peer still sends before closing
DRAIN_BYTES = 64 * 1024
_JOIN_TIME = 5.0  # a safety bound only: the loop never blocks on a peer, so it ends within one turn

SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "Connection": "close",
}

_STYLE = (
    "body{font-family:system-ui,sans-serif;background:#0b0d12;color:#e6e8ee;display:flex;align-items:center;"
    "justify-content:center;height:100vh;margin:0}main{max-width:32rem;text-align:center}"
    "h1{color:#3CE6AC}code{color:#ff8a80}"
)


def page(title: str, heading: str, *paragraphs: str, code: str | None = None) -> bytes:
    """A static HTML page; every piece of text is HTML-escaped."""
    esc = html.escape
    body = "".join(f"<p>{esc(p)}</p>" for p in paragraphs)
    code_html = f"<p><code>{esc(code)}</code></p>" if code else ""
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>'
        f"<style>{_STYLE}</style></head><body><main><h1>{esc(heading)}</h1>{code_html}{body}</main></body></html>"
    ).encode()


DONE_PAGE = page(
    "Signed in to HeyGen",
    "You're signed in.",
    "You can close this tab and return to your terminal.",
)
RETURN_PAGE = page("Sign-in received", "Sign-in received.", "Return to your terminal to see the result.")
ALREADY_PAGE = page("Sign-in already completed", "This sign-in is already complete.", "You can close this tab.")
IGNORED_PAGE = page(
    "Sign-in link not recognised",
    "This link does not belong to the sign-in in progress.",
    "It was ignored. Finish signing in from the tab your terminal opened.",
)
BUSY_PAGE = page("Sign-in busy", "Too many connections at once.", "Reload this page to try again.")


def failed_page(error: str | None, description: str | None) -> bytes:
    return page("Sign-in failed", "Sign-in failed", description or "", code=error)


def response(status: int, body: bytes, content_type: str, extra: dict[str, str] | None = None) -> bytes:
    """One complete HTTP/1.1 response with the security headers; the connection closes after it."""
    head = [
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}",
        "Server: hyperframes-auth",
        f"Date: {formatdate(usegmt=True)}",
        f"Content-Type: {content_type}",
        f"Content-Length: {len(body)}",
        *(f"{name}: {value}" for name, value in {**SECURITY_HEADERS, **(extra or {})}.items()),
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


def _html(status: int, body: bytes) -> bytes:
    return response(status, body, "text/html; charset=utf-8")


def _text(status: int, extra: dict[str, str] | None = None) -> bytes:
    """A plain-text error: the status line again, never any of the request (it may carry the code)."""
    return response(status, f"{status} {HTTPStatus(status).phrase}\n".encode(), "text/plain; charset=utf-8", extra)


Stage = Literal["reading", "held", "writing", "draining"]
_SHED_ORDER: dict[Stage, int] = {"writing": 0, "draining": 0, "reading": 1, "held": 2}


class _Connection:
    """One accepted socket and where its single request stands; only the loop thread touches it."""

    def __init__(self, sock: socket.socket, now: float, limit: float) -> None:
        self.sock = sock
        self.deadline = now + limit  # silent until the first byte; then reset once, never extended
        self.head = _Head()
        self.stage: Stage = "reading"
        self.waits_for: Literal["judge", "outcome"] | None = None
        self.query: dict[str, list[str]] = {}
        self.out = b""
        self.done_page = False  # once sent, `close` need not linger for the browser any more
        self.drained = 0
        self.watching = 0
        self.closed = False


class LoopbackCallbackListener:
    """Implements the ``CallbackListener`` port on a loopback socket.

    A background thread serves every connection from the moment the port is bound until ``close`` (see the module
    docstring for how it stays available under crowding). ``wait`` only waits for the first verdict that ends the
    flow.

    Args:
        port: 0 for an ephemeral port (the default), or a fixed port (e.g. for ``ssh -L``).
        read_timeout: seconds a connection has to deliver its whole request, counted from its first byte; a
            connection that sends nothing is dropped after as long.
        bind_ipv4: try 127.0.0.1 first (tests turn it off to check the [::1] fallback).
        done_wait: how long the ``/oauth/done`` page waits for the sign-in's outcome before it answers.
        linger: after a redirect to ``/oauth/done``, how long ``close`` waits for the browser to fetch it.
    """

    def __init__(
        self,
        port: int = 0,
        read_timeout: float = 5.0,
        bind_ipv4: bool = True,
        done_wait: float = 15.0,
        linger: float = 2.0,
    ) -> None:
        self._sock = _bind(port, bind_ipv4)
        self._read_timeout = read_timeout
        self._done_wait = done_wait
        self._linger = linger
        self._capacity = MAX_CONNECTIONS
        bound_port = self._sock.getsockname()[1]
        host = "127.0.0.1" if self._sock.family == socket.AF_INET else "[::1]"
        self._redirect_uri = f"http://{host}:{bound_port}{CALLBACK_PATH}"
        self._hosts = {f"127.0.0.1:{bound_port}", f"[::1]:{bound_port}", f"localhost:{bound_port}"}
        self._lock = threading.Lock()
        self._judge: CallbackJudge | None = None
        self._judge_ready = threading.Event()
        self._final: Verdict | None = None
        self._ended = threading.Event()
        self._outcome: tuple[bool, str | None] | None = None
        self._redirected = threading.Event()  # we answered the callback with a 303 to the done page
        self._done_served = threading.Event()
        self._wake_r, self._wake_w = socket.socketpair()
        for sock in (self._sock, self._wake_r, self._wake_w):
            sock.setblocking(False)  # noqa: FBT003 - positional-only in the standard library
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._sock, selectors.EVENT_READ)
        self._selector.register(self._wake_r, selectors.EVENT_READ)
        self._connections: list[_Connection] = []  # oldest first
        self._closed = False
        self._loop = start_daemon(self._run, name="hf-callback-listener")

    @property
    def redirect_uri(self) -> str:
        return self._redirect_uri

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._sock.getsockname()[:2]
        return host, port

    # -------------------------------------------------------------------------------- the flow's side

    def wait(self, judge: CallbackJudge, timeout: float) -> Verdict:
        """Wait until a callback ends the flow, or ``timeout`` seconds pass (a ``timeout`` verdict)."""
        if self._closed:
            raise AuthError("Internal error: the callback listener is already closed")
        self._judge = judge
        self._judge_ready.set()
        self._wake()  # callbacks that came early are waiting for the judge
        if not self._ended.wait(timeout):
            return Verdict(kind="timeout")
        with self._lock:
            final = self._final
        if final is None:  # _ended is set only after _final: cannot happen
            raise RuntimeError("the listener ended without a verdict")
        return final

    def submit(self, query: dict[str, list[str]]) -> Verdict:
        """Judge a query that arrived another way (a redirect URL pasted at the terminal), thread-safely."""
        return self.decide(query)

    def offer(self, query: dict[str, list[str]]) -> Verdict:
        """Judge a query that arrived another way (a redirect URL pasted at the terminal), thread-safely."""
        return self.decide(query)

    def decide(self, query: dict[str, list[str]]) -> Verdict:
        """Judge one callback, waiting a moment for ``wait`` to bring the judge; the first verdict that ends the
        flow is kept and wakes ``wait``."""
        self._judge_ready.wait(JUDGE_WAIT)
        return self._decide_now(query)

    def finish(self, ok: bool, message: str | None = None) -> None:
        """Tell the browser how the sign-in ended: the ``/oauth/done`` page waits for this."""
        with self._lock:
            if self._outcome is None:
                self._outcome = (ok, message)
        self._wake()

    def close(self) -> None:
        """Stop listening and drop every connection; idempotent. It never waits on a peer: only, after a redirect
        to the done page, up to ``linger`` seconds for the browser to fetch it."""
        if self._closed:
            return
        self.finish(ok=False, message=None)
        if self._redirected.is_set():
            self._done_served.wait(self._linger)  # the browser is on its way to the done page: let it land
        self._closed = True
        self._wake()
        self._loop.join(_JOIN_TIME)
        for sock in (self._sock, self._wake_r, self._wake_w):
            sock.close()

    def __enter__(self) -> LoopbackCallbackListener:  # noqa: PYI034 - final class in practice
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @property
    def completed(self) -> bool:
        with self._lock:
            return self._final is not None

    def _decide_now(self, query: dict[str, list[str]]) -> Verdict:
        with self._lock:
            if self._final is not None:
                return Verdict(kind="ignored", reason="already completed")
            judge = self._judge
            if judge is None:
                return Verdict(kind="ignored", reason="no sign-in in progress")
            verdict = judge(query)
            if verdict.ends_flow:
                self._final = verdict
                self._ended.set()
        return verdict

    def _wake(self) -> None:
        with contextlib.suppress(OSError):  # closed, or a wake-up is already pending: either way nothing to add
            self._wake_w.send(b"x")

    # -------------------------------------------------------------------------------- the loop's side

    def _run(self) -> None:
        try:
            while not self._closed:
                for key, _events in self._selector.select(self._until_next_deadline()):
                    if key.fileobj is self._sock:
                        self._accept()
                    elif key.fileobj is self._wake_r:
                        with contextlib.suppress(OSError):
                            self._wake_r.recv(4096)
                    else:
                        self._guarded(self._on_ready, key.data)
                for conn in list(self._connections):
                    self._guarded(self._on_time, conn)
        finally:
            for conn in self._connections:
                with contextlib.suppress(OSError):
                    if conn.out:
                        conn.sock.send(conn.out)  # a last chance for a page already on its way
                conn.sock.close()
            self._connections.clear()
            self._selector.close()

    def _guarded(self, step: Callable[[_Connection], None], conn: _Connection) -> None:
        if conn.closed:  # dropped earlier in this turn (shed to make room, say)
            return
        try:
            step(conn)
        except Exception:  # a broken peer (or a page we failed to build) must never take the listener down
            self._drop(conn)

    def _until_next_deadline(self) -> float | None:
        if not self._connections:
            return None
        return max(0.0, min(conn.deadline for conn in self._connections) - time.monotonic())

    def _accept(self) -> None:
        # One connection per turn of the loop: what the others sent is read in between, so a flood of new
        # connections cannot push out a request that has already arrived whole.
        try:
            sock, _addr = self._sock.accept()
        except OSError:  # the peer gave up before we got to it
            return
        sock.setblocking(False)  # noqa: FBT003 - positional-only in the standard library
        if len(self._connections) >= self._capacity:
            self._shed()
        conn = _Connection(sock, time.monotonic(), self._read_timeout)
        self._connections.append(conn)
        self._guarded(lambda new: self._watch(new, selectors.EVENT_READ), conn)

    def _shed(self) -> None:
        """Make room for a new connection by dropping the oldest, never the newest (the likeliest to be the
        browser): answered ones first, then incomplete requests, then complete ones still waiting."""
        victim = min(self._connections, key=lambda conn: _SHED_ORDER[conn.stage])  # stable: the oldest of a rank
        if victim.stage == "held":
            with contextlib.suppress(OSError):  # best effort: a page, not a reset
                victim.sock.send(self._held_answer(victim, shed=True))
        self._drop(victim)

    def _on_ready(self, conn: _Connection) -> None:
        if conn.stage == "reading":
            self._read(conn)
        elif conn.stage == "writing":
            self._write(conn)
        elif conn.stage == "draining":
            self._drain(conn)

    def _on_time(self, conn: _Connection) -> None:
        if conn.stage == "held" and self._can_answer(conn):
            self._respond(conn, self._held_answer(conn))
        elif time.monotonic() < conn.deadline:
            return
        elif conn.stage == "reading" and conn.head.data:
            self._respond(conn, _text(408))  # RFC 9110 §15.5.9: too slow, even if it kept sending
        elif conn.stage == "held":
            self._respond(conn, self._held_answer(conn))
        else:
            self._drop(conn)

    def _read(self, conn: _Connection) -> None:
        try:
            chunk = conn.sock.recv(MAX_HEAD_BYTES + 1 - len(conn.head.data))
        except BlockingIOError:
            return
        if not chunk:
            self._drop(conn)  # gone before its request was complete
            return
        if not conn.head.data:
            conn.deadline = time.monotonic() + self._read_timeout  # the total limit starts at the first byte
        conn.head.feed(chunk)
        if conn.head.complete:
            self._handle(conn)
        elif len(conn.head.data) > MAX_HEAD_BYTES:
            self._respond(conn, _text(431 if conn.head.lines else 414))

    def _handle(self, conn: _Connection) -> None:
        route = _route(bytes(conn.head.data), self._hosts)
        if isinstance(route, bytes):
            self._respond(conn, route)
        elif route is None:  # the done page
            if not self.completed:
                self._respond(conn, _html(200, IGNORED_PAGE))
                return
            conn.done_page = True
            if self._outcome is None:
                self._hold(conn, "outcome", self._done_wait)
            else:
                self._respond(conn, self._done_answer())
        elif self.completed:
            self._respond(conn, _html(200, ALREADY_PAGE))
        else:
            conn.query = route
            if self._judge_ready.is_set():
                self._respond(conn, self._held_answer(conn))
            else:
                self._hold(conn, "judge", JUDGE_WAIT)

    def _hold(self, conn: _Connection, waits_for: Literal["judge", "outcome"], limit: float) -> None:
        conn.stage, conn.waits_for, conn.out = "held", waits_for, b""
        conn.deadline = time.monotonic() + limit
        self._watch(conn, 0)  # nothing to read until we answer

    def _can_answer(self, conn: _Connection) -> bool:
        if conn.waits_for == "judge":
            return self._judge_ready.is_set()
        return self._outcome is not None

    def _held_answer(self, conn: _Connection, shed: bool = False) -> bytes:
        if conn.waits_for == "outcome":
            return self._done_answer()
        if shed:
            return _html(503, BUSY_PAGE)
        verdict = self._decide_now(conn.query)
        if verdict.kind == "accepted":
            self._redirected.set()
            return response(303, b"", "text/plain; charset=utf-8", {"Location": DONE_PATH})
        if verdict.kind == "errored":
            return _html(400, failed_page(verdict.error, verdict.description))
        return _html(400, ALREADY_PAGE if verdict.reason == "already completed" else IGNORED_PAGE)

    def _done_answer(self) -> bytes:
        outcome = self._outcome
        if outcome is None or outcome == (False, None):
            return _html(200, RETURN_PAGE)
        if outcome[0]:
            return _html(200, DONE_PAGE)
        return _html(200, failed_page(None, outcome[1]))

    def _respond(self, conn: _Connection, data: bytes) -> None:
        conn.stage, conn.out = "writing", data
        conn.deadline = time.monotonic() + self._read_timeout
        self._write(conn)

    def _write(self, conn: _Connection) -> None:
        try:
            sent = conn.sock.send(conn.out)
        except BlockingIOError:
            sent = 0
        conn.out = conn.out[sent:]
        if conn.out:
            self._watch(conn, selectors.EVENT_WRITE)
            return
        if conn.done_page:
            self._done_served.set()
        # Close gently: stop sending, then read what the peer still sends until it closes. Closing with unread
        # bytes would reset the connection, and a reset can destroy the page before the browser reads it.
        with contextlib.suppress(OSError):
            conn.sock.shutdown(socket.SHUT_WR)
        conn.stage = "draining"
        conn.deadline = time.monotonic() + DRAIN_TIME
        self._watch(conn, selectors.EVENT_READ)

    def _drain(self, conn: _Connection) -> None:
        try:
            chunk = conn.sock.recv(DRAIN_BYTES)
        except BlockingIOError:
            return
        conn.drained += len(chunk)
        if not chunk or conn.drained > DRAIN_BYTES:
            self._drop(conn)

    def _watch(self, conn: _Connection, events: int) -> None:
        if events == conn.watching:
            return
        if not conn.watching:
            self._selector.register(conn.sock, events, conn)
        elif not events:
            self._selector.unregister(conn.sock)
        else:
            self._selector.modify(conn.sock, events, conn)
        conn.watching = events

    def _drop(self, conn: _Connection) -> None:
        if conn.closed:
            return
        conn.closed = True
        self._connections.remove(conn)
        if conn.watching:
            with contextlib.suppress(KeyError, ValueError, OSError):
                self._selector.unregister(conn.sock)
            conn.watching = 0
        conn.sock.close()


_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # no request line holds these (RFC 9112 §3)


class _Head:
    """The bytes of one request head, scanned as they arrive (each byte once, however they trickle in).

    Complete at the empty line that ends the header section (RFC 9112 §2.1), or as soon as the request line
    cannot start an HTTP/1.x request with headers (garbage, a TLS hello, HTTP/0.9): those are answered at once.
    """

    def __init__(self) -> None:
        self.data = bytearray()
        self.lines = 0
        self.complete = False
        self._line_start = 0

    def feed(self, chunk: bytes) -> None:
        scan = len(self.data)
        self.data += chunk
        if not self.lines and _CONTROL.search(self.data, scan):
            self.complete = True
            return
        while not self.complete:
            end = self.data.find(b"\n", scan)
            if end < 0:
                return
            line = bytes(self.data[self._line_start : end + 1])
            self._line_start = scan = end + 1
            self.lines += 1
            if self.lines == 1:
                words = line.decode("latin-1").split()
                self.complete = len(words) != 3 or not words[2].startswith("HTTP/")
            else:
                self.complete = line in {b"\r\n", b"\n"}


def _route(head: bytes, hosts: set[str]) -> bytes | dict[str, list[str]] | None:
    """What a complete request asks for: an answer now, a callback query to judge, or ``None`` for the done page."""
    request = _Request(head)
    if not request.parsed:
        return _text(request.error or 400)
    if request.command != "GET":
        return _text(405, {"Allow": "GET"})
    host = request.headers.get_all("Host") or []
    if len(host) > 1:
        return _text(400)  # RFC 9112 §3.2: more than one Host field
    if not host or host[0].lower() not in hosts:
        return _text(421)
    parts = urlsplit(request.path)
    if parts.path == DONE_PATH:
        return None
    if parts.path != CALLBACK_PATH:
        return _text(404)
    try:
        return parse_query(parts.query)
    except ValueError:
        return {}


class _Request(BaseHTTPRequestHandler):
    """The standard library's request parser, run on bytes already read: no socket, no answer, no logging
    (request lines carry the authorization code)."""

    protocol_version = "HTTP/1.1"

    def __init__(self, head: bytes) -> None:  # no super().__init__(): that would serve a socket
        self.rfile = io.BytesIO(head)
        self.wfile = io.BytesIO()
        self.error: int | None = None
        self.raw_requestline = self.rfile.readline(MAX_HEAD_BYTES + 1)
        self.parsed = self.parse_request()

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        del message, explain  # they quote the request: never echoed
        self.error = code

    def handle_expect_100(self) -> bool:
        return True  # a GET has no body to invite; other methods get 405 anyway

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the stdlib's signature
        """Never log: request lines carry the authorization code."""


def _bind(port: int, bind_ipv4: bool) -> socket.socket:
    attempts = [(socket.AF_INET, "127.0.0.1")] if bind_ipv4 else []
    attempts.append((socket.AF_INET6, "::1"))
    last: OSError | None = None
    for family, host in attempts:
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            if hasattr(socket, "SO_EXCLUSIVEADDRUSE"):  # Windows: no other process may bind our port alongside us
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_EXCLUSIVEADDRUSE, 1)
            sock.bind((host, port))
            sock.listen(MAX_CONNECTIONS * 2)
        except OSError as exc:
            sock.close()
            last = exc
            if exc.errno == errno.EADDRINUSE:
                break  # the port is taken: another address family would only hide that
            continue
        return sock
    detail = f"port {port} is in use or loopback is unavailable" if port else "loopback is unavailable"
    raise AuthError(
        f"Could not listen on 127.0.0.1 or [::1] for the sign-in callback ({detail}: {last})",
        "Free the port, or run `hyperframes auth login --device` instead.",
    )
