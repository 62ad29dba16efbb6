"""``HttpxTransport``: the ``HttpTransport`` port on httpx (what the facade and the ``httpx.Auth`` use).

Redirects are followed by hand (see ``http_policy``), bodies are read in chunks up to ``request.max_bytes``,
every request has connect and read timeouts, and one overall deadline bounds the whole operation, redirects
included. No httpx exception leaves this module.
"""

from __future__ import annotations

import time

import httpx

from ..domain.errors import TransportError
from ..domain.http import HttpRequest, HttpResponse
from .http_policy import Trace, check_url, host_of, send_following, trace_line


class HttpxTransport:
    """Implements ``HttpTransport`` with an ``httpx.Client``.

    Args:
        client: an httpx client to reuse (its own redirect setting is ignored); one is made when omitted.
        trace: where to write the redacted ``--verbose`` trace, or ``None``.
        deadline_factor: the whole operation may take ``request.timeout * deadline_factor`` seconds.
    """

    def __init__(
        self, client: httpx.Client | None = None, trace: Trace | None = None, deadline_factor: float = 2.0
    ) -> None:
        self._client = client or httpx.Client(trust_env=False)
        self._trace = trace
        self._deadline_factor = deadline_factor

    def close(self) -> None:
        self._client.close()

    def send(self, request: HttpRequest) -> HttpResponse:
        return send_following(self._send_once, request, self._deadline_factor)

    def _send_once(self, request: HttpRequest, deadline: float) -> HttpResponse:
        check_url(request.url)
        host = host_of(request.url)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TransportError(host, "the operation's deadline passed")
        timeout = httpx.Timeout(min(request.timeout, remaining))
        started = time.monotonic()
        try:
            with self._client.stream(
                request.method,
                request.url,
                headers=request.headers,
                content=request.body,
                timeout=timeout,
                follow_redirects=False,
            ) as streamed:
                body = self._read_capped(streamed, request.max_bytes, host, deadline)
                response = HttpResponse(streamed.status_code, dict(streamed.headers), body, request.url)
        except httpx.TimeoutException:
            self._log(request, "timeout", started)
            raise TransportError(host, f"timed out after {request.timeout:g} s") from None
        except httpx.HTTPError as exc:
            self._log(request, "error", started)
            raise TransportError(host, type(exc).__name__) from None
        self._log(request, response.status, started)
        return response

    @staticmethod
    def _read_capped(streamed: httpx.Response, limit: int, host: str, deadline: float) -> bytes:
        chunks: list[bytes] = []
        size = 0
        for chunk in streamed.iter_bytes():
            size += len(chunk)
            if size > limit:
                raise TransportError(host, f"response larger than {limit} bytes")
            if time.monotonic() > deadline:
                raise TransportError(host, "the operation's deadline passed")
            chunks.append(chunk)
        return b"".join(chunks)

    def _log(self, request: HttpRequest, status: int | str, started: float) -> None:
        if self._trace is not None:
            self._trace(trace_line(request, status, time.monotonic() - started))
