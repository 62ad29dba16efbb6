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
* Each connection is handled on its own thread with a read timeout, so a silent or half-open connection cannot
  block the real callback. Accepting is a ``select`` on the listening socket and a wake-up pipe: no polling.
"""

from __future__ import annotations

import contextlib
import errno
import html
import selectors
import socket
import threading
from http.server import BaseHTTPRequestHandler
from typing import ClassVar
from urllib.parse import urlsplit

from ..domain.callback import Verdict, parse_query
from ..domain.errors import AuthError
from ..domain.ports import CallbackJudge
from .threads import start_daemon

CALLBACK_PATH = "/oauth/callback"
DONE_PATH = "/oauth/done"
MAX_CONNECTIONS = 32

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


def failed_page(error: str | None, description: str | None) -> bytes:
    return page("Sign-in failed", "Sign-in failed", description or "", code=error)


class LoopbackCallbackListener:
    """Implements the ``CallbackListener`` port on a loopback socket.

    A background thread accepts connections from the moment the port is bound until ``close``; each connection is
    served on its own thread. ``wait`` only waits for the first verdict that ends the flow.

    Args:
        port: 0 for an ephemeral port (the default), or a fixed port (e.g. for ``ssh -L``).
        read_timeout: seconds a connection may stay silent before it is dropped.
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
        self._outcome_known = threading.Event()
        self._redirected = threading.Event()  # we answered the callback with a 303 to the done page
        self._done_served = threading.Event()
        self._wake_r, self._wake_w = socket.socketpair()
        self._active = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self._workers: set[threading.Thread] = set()
        self._closed = False
        self._acceptor = start_daemon(self._accept_loop, name="hf-callback-listener")

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
        if not self._ended.wait(timeout):
            return Verdict(kind="timeout")
        with self._lock:
            assert self._final is not None
            return self._final

    def submit(self, query: dict[str, list[str]]) -> Verdict:
        """Judge a query that arrived another way (a redirect URL pasted at the terminal), thread-safely."""
        return self.decide(query)

    def offer(self, query: dict[str, list[str]]) -> Verdict:
        """Judge a query that arrived another way (a redirect URL pasted at the terminal), thread-safely."""
        return self.decide(query)

    def finish(self, ok: bool, message: str | None = None) -> None:
        """Tell the browser how the sign-in ended: the ``/oauth/done`` page waits for this."""
        if self._outcome is None:
            self._outcome = (ok, message)
            self._outcome_known.set()

    def close(self) -> None:
        """Stop listening; idempotent. Pages being served are given a moment to finish."""
        if self._closed:
            return
        self.finish(False, None)
        if self._redirected.is_set():
            self._done_served.wait(self._linger)  # the browser is on its way to the done page: let it land
        self._closed = True
        self._wake()
        self._acceptor.join(2.0)
        with self._lock:
            workers = list(self._workers)
        for worker in workers:
            worker.join(2.0)
        for sock in (self._sock, self._wake_r, self._wake_w):
            sock.close()

    def __enter__(self) -> LoopbackCallbackListener:  # noqa: PYI034 - final class in practice
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -------------------------------------------------------------------------------- the handlers' side

    def decide(self, query: dict[str, list[str]]) -> Verdict:
        """Judge one callback; the first verdict that ends the flow is kept and wakes ``wait``."""
        self._judge_ready.wait(10.0)  # the browser may be faster than the flow reaching `wait`
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

    @property
    def completed(self) -> bool:
        with self._lock:
            return self._final is not None

    def outcome(self) -> tuple[bool, str | None] | None:
        """How the sign-in ended, waiting up to ``done_wait`` seconds for it."""
        self._outcome_known.wait(self._done_wait)
        return self._outcome

    def redirected(self) -> None:
        self._redirected.set()

    def done_served(self) -> None:
        self._done_served.set()

    def host_allowed(self, host: str | None) -> bool:
        return (host or "").lower() in self._hosts

    def _wake(self) -> None:
        with contextlib.suppress(OSError):  # closed: nobody is waiting any more
            self._wake_w.send(b"x")

    def _accept_loop(self) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(self._sock, selectors.EVENT_READ)
            selector.register(self._wake_r, selectors.EVENT_READ)
            while not self._closed:
                for key, _ in selector.select():
                    if key.fileobj is self._sock and not self._closed:
                        self._accept()
                    elif key.fileobj is self._wake_r:
                        with contextlib.suppress(OSError):
                            self._wake_r.recv(64)

    def _accept(self) -> None:
        try:
            conn, _addr = self._sock.accept()
        except OSError:
            return
        if not self._active.acquire(blocking=False):
            conn.close()  # too many open connections: shed load rather than block the real callback
            return
        with self._lock:
            self._workers.add(start_daemon(self._serve, conn, name="hf-callback-connection"))

    def _serve(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(self._read_timeout)
            _Handler(conn, ("127.0.0.1", 0), self)  # type: ignore[arg-type]  # we are its "server"
        except Exception:  # noqa: S110 - a broken client must never take the listener down
            pass
        finally:
            conn.close()
            self._active.release()
            with self._lock:
                self._workers.discard(threading.current_thread())


def _bind(port: int, bind_ipv4: bool) -> socket.socket:
    attempts = [(socket.AF_INET, "127.0.0.1")] if bind_ipv4 else []
    attempts.append((socket.AF_INET6, "::1"))
    last: OSError | None = None
    for family, host in attempts:
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            if hasattr(socket, "SO_EXCLUSIVEADDRUSE"):  # Windows: no port sharing (checklist item 31)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_EXCLUSIVEADDRUSE, 1)
            sock.bind((host, port))
            sock.listen(16)
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


class _Handler(BaseHTTPRequestHandler):
    """One connection: parse one request with the standard library's parser, answer, close."""

    server: LoopbackCallbackListener  # type: ignore[assignment]
    protocol_version = "HTTP/1.1"
    server_version = "hyperframes-auth"
    sys_version = ""
    error_content_type = "text/plain; charset=utf-8"
    error_message_format = "%(code)d %(message)s\n"
    _METHODS: ClassVar[tuple[str, ...]] = (
        "POST",
        "PUT",
        "DELETE",
        "PATCH",
        "HEAD",
        "OPTIONS",
        "TRACE",
        "CONNECT",
    )

    def setup(self) -> None:
        super().setup()
        self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the stdlib's signature
        """Never log: request lines carry the authorization code."""

    def __getattr__(self, name: str) -> object:
        if name.startswith("do_"):
            return self._not_allowed
        raise AttributeError(name)

    def _not_allowed(self) -> None:
        self._send(405, b"Method Not Allowed\n", "text/plain; charset=utf-8", {"Allow": "GET"})

    def do_GET(self) -> None:
        self.close_connection = True
        listener = self.server
        if not listener.host_allowed(self.headers.get("Host")):
            self._send(421, b"Misdirected Request\n", "text/plain; charset=utf-8")
            return
        parts = urlsplit(self.path)
        if parts.path == DONE_PATH:
            self._done(listener)
            return
        if parts.path != CALLBACK_PATH:
            self._send(404, b"Not Found\n", "text/plain; charset=utf-8")
            return
        if listener.completed:
            self._html(200, ALREADY_PAGE)
            return
        try:
            query = parse_query(parts.query)
        except ValueError:
            query = {}
        verdict = listener.decide(query)
        if verdict.kind == "accepted":
            listener.redirected()
            self._send(303, b"", "text/plain; charset=utf-8", {"Location": DONE_PATH})
        elif verdict.kind == "errored":
            self._html(400, failed_page(verdict.error, verdict.description))
        else:
            self._html(400, ALREADY_PAGE if verdict.reason == "already completed" else IGNORED_PAGE)

    def _done(self, listener: LoopbackCallbackListener) -> None:
        if not listener.completed:
            self._html(200, IGNORED_PAGE)
            return
        outcome = listener.outcome()
        if outcome is None or outcome == (False, None):
            self._html(200, RETURN_PAGE)
        elif outcome[0]:
            self._html(200, DONE_PAGE)
        else:
            self._html(200, failed_page(None, outcome[1]))
        listener.done_served()

    def _html(self, status: int, body: bytes) -> None:
        self._send(status, body, "text/html; charset=utf-8")

    def _send(self, status: int, body: bytes, content_type: str, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in {**SECURITY_HEADERS, **(extra or {})}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)
