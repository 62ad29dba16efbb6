"""``StdlibTransport``: the ``HttpTransport`` port on ``http.client``, for the CLI's cold-start paths.

Importing httpx costs about 180 ms on this machine kind, more than the whole budget of ``hyperframes auth
status``; ``http.client`` costs a fraction of that, and ``ssl`` is imported only for https URLs. The same port
contract suite runs on this transport and on ``HttpxTransport``, so both behave alike: same timeouts, same
body cap, same redirect policy (``http_policy``), same errors.
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit

from ..domain.errors import TransportError
from ..domain.http import HttpRequest, HttpResponse
from .http_policy import Trace, check_url, host_of, send_following, trace_line

TYPE_CHECKING = False  # keep `typing` and `http.client` off the import path until a request is sent
if TYPE_CHECKING:
    import http.client

USER_AGENT = "hyperframes-auth (python)"
_CHUNK = 64 * 1024


class StdlibTransport:
    """Implements ``HttpTransport`` with ``http.client`` (TLS verified with the system's default context)."""

    def __init__(self, trace: Trace | None = None, deadline_factor: float = 2.0) -> None:
        self._trace = trace
        self._deadline_factor = deadline_factor

    def send(self, request: HttpRequest) -> HttpResponse:
        return send_following(self._send_once, request, self._deadline_factor)

    def _send_once(self, request: HttpRequest, deadline: float) -> HttpResponse:
        import http.client

        check_url(request.url)
        host = host_of(request.url)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TransportError(host, "the operation's deadline passed")
        started = time.monotonic()
        connection = _connect(request.url, min(request.timeout, remaining))
        try:
            parts = urlsplit(request.url)
            target = parts.path or "/"
            if parts.query:
                target += f"?{parts.query}"
            headers = {"user-agent": USER_AGENT, "connection": "close", **request.headers}
            connection.request(request.method, target, body=request.body, headers=headers)
            raw = connection.getresponse()
            body = _read_capped(raw, request.max_bytes, host, deadline)
            response = HttpResponse(raw.status, {k.lower(): v for k, v in raw.getheaders()}, body, request.url)
        except TimeoutError:
            self._log(request, "timeout", started)
            raise TransportError(host, f"timed out after {request.timeout:g} s") from None
        except (OSError, http.client.HTTPException) as exc:
            self._log(request, "error", started)
            raise TransportError(host, type(exc).__name__) from None
        finally:
            connection.close()
        self._log(request, response.status, started)
        return response

    def _log(self, request: HttpRequest, status: int | str, started: float) -> None:
        if self._trace is not None:
            self._trace(trace_line(request, status, time.monotonic() - started))


def _connect(url: str, timeout: float) -> http.client.HTTPConnection:
    import http.client

    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme == "https":
        import ssl

        return http.client.HTTPSConnection(host, parts.port, timeout=timeout, context=ssl.create_default_context())
    return http.client.HTTPConnection(host, parts.port, timeout=timeout)


def _read_capped(raw: http.client.HTTPResponse, limit: int, host: str, deadline: float) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while chunk := raw.read(_CHUNK):
        size += len(chunk)
        if size > limit:
            raise TransportError(host, f"response larger than {limit} bytes")
        if time.monotonic() > deadline:
            raise TransportError(host, "the operation's deadline passed")
        chunks.append(chunk)
    return b"".join(chunks)
