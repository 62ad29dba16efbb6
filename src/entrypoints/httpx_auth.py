"""``HeyGenHttpxAuth``: an ``httpx.Auth`` that keeps requests to HeyGen authenticated.

    import httpx
    from hyperframes_auth import HeyGenAuth

    auth = HeyGenAuth.from_env()
    with httpx.Client(base_url=auth.settings.api_url, auth=auth.httpx_auth()) as client:
        print(client.get("/v3/users/me").json())

* Sends ``Authorization: Bearer …`` for OAuth or ``x-api-key`` for API keys, and only to the configured HeyGen
  API origin (scheme, host and port): a request to any other origin goes out without them.
* Credentials never follow a redirect to another origin, whatever the client's redirect settings. httpx follows
  redirects inside one step of an auth flow and strips only ``Authorization`` on the way; so every request we
  authenticate carries a ``trace`` callback (httpx's request extension, kept on each redirected request), which
  removes credential headers just before headers are written to any origin but HeyGen's. An https -> http
  downgrade on the same host is another origin. A ``next_request`` that still carries our credentials is stripped
  too when it is sent through this auth.
* Refreshes before sending when the access token is within the leeway of expiry; if that refresh fails while the
  old token is still valid, the request goes out with the old token.
* On a 401 with OAuth it refreshes once and retries once, and only when the body can be replayed (bytes, not a
  generator). API keys and ``HEYGEN_ACCESS_TOKEN`` are never retried; a 403 (``insufficient_scope`` included)
  never refreshes.
* Single flight: threads and asyncio tasks that find the token stale at the same moment cause one refresh; the
  store's cross-process lock extends that to other processes. The async flow runs the (blocking) store and token
  calls in a worker thread, so the event loop never blocks on them.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncGenerator, Callable, Generator
from typing import Any
from urllib.parse import urlsplit

import httpx

from ..domain.api import auth_headers
from ..domain.errors import AuthError
from ..domain.resolve import Credential, OAuthCredential
from ..domain.service import AuthService

CREDENTIAL_HEADERS = (b"authorization", b"x-api-key")
_HEADERS_WRITTEN = ("http11.send_request_headers.started", "http2.send_request_headers.started")


def _origin(scheme: str, host: str, port: int | None) -> tuple[str, str, int]:
    default = 443 if scheme == "https" else 80
    return scheme.lower(), host.lower().strip("[]"), port or default


def _origin_of_url(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    return _origin(parts.scheme, parts.hostname or "", parts.port)


def _origin_of_core(url: Any) -> tuple[str, str, int]:
    """The origin of an ``httpcore.URL`` (bytes fields)."""
    return _origin(url.scheme.decode("ascii"), url.host.decode("ascii"), url.port)


class HeyGenHttpxAuth(httpx.Auth):
    """Authenticates ``httpx`` requests to HeyGen with the credential in effect.

    Args:
        service: the core whose credentials are used and refreshed (its leeway says how early to refresh).
        api_url: HeyGen's API base URL: credentials go to its origin only.
    """

    def __init__(self, service: AuthService, api_url: str) -> None:
        self._service = service
        self._origin = _origin_of_url(api_url)
        self._lock = threading.Lock()
        self._sent_values: set[bytes] = set()

    # ------------------------------------------------------------------------------------------ blocking parts

    def current(self) -> Credential:
        """The credential to send now; refreshes it first when stale (one refresh for all waiting callers)."""
        with self._lock:
            return self._service.credential()

    def after_unauthorized(self, refused: str) -> Credential | None:
        """A new access token after ``refused`` got a 401, or ``None`` when there is none to be had."""
        with self._lock:
            try:
                return OAuthCredential(self._service.refresh(stale_access_token=refused), "file_json")
            except AuthError:
                return None

    # ------------------------------------------------------------------------------------------ origins

    def _ours(self, request: httpx.Request) -> bool:
        url = request.url
        return _origin(url.scheme, url.host, url.port) == self._origin

    def _strip_ours(self, request: httpx.Request) -> None:
        """A request to another origin must not carry a credential we put on an earlier request."""
        for name in ("authorization", "x-api-key"):
            value = request.headers.get(name)
            if value is not None and value.encode("latin-1") in self._sent_values:
                del request.headers[name]

    def _guard_core_request(self, core_request: Any) -> None:
        """Remove our credential headers from an httpcore request about to go to another origin."""
        if _origin_of_core(core_request.url) == self._origin:
            return
        headers: list[tuple[bytes, bytes]] = core_request.headers
        headers[:] = [(k, v) for k, v in headers if k.lower() not in CREDENTIAL_HEADERS]

    def _sync_trace(self, request: httpx.Request) -> None:
        previous: Callable[[str, dict[str, Any]], None] | None = request.extensions.get("trace")

        def trace(name: str, info: dict[str, Any]) -> None:
            if name in _HEADERS_WRITTEN and "request" in info:
                self._guard_core_request(info["request"])
            if previous is not None:
                previous(name, info)

        request.extensions["trace"] = trace

    def _async_trace(self, request: httpx.Request) -> None:
        previous: Callable[[str, dict[str, Any]], Any] | None = request.extensions.get("trace")

        async def trace(name: str, info: dict[str, Any]) -> None:
            if name in _HEADERS_WRITTEN and "request" in info:
                self._guard_core_request(info["request"])
            if previous is not None:
                await previous(name, info)

        request.extensions["trace"] = trace

    # ------------------------------------------------------------------------------------------ helpers

    def _apply(self, request: httpx.Request, credential: Credential) -> None:
        request.headers.pop("authorization", None)
        request.headers.pop("x-api-key", None)
        headers = auth_headers(credential)
        request.headers.update(headers)
        for name in ("authorization", "x-api-key"):
            if name in headers:
                self._sent_values.add(headers[name].encode("latin-1"))

    @staticmethod
    def _should_retry(response: httpx.Response, credential: Credential) -> bool:
        replayable = isinstance(response.request.stream, httpx.ByteStream)
        refreshable = isinstance(credential, OAuthCredential) and not credential.from_env
        return response.status_code == 401 and replayable and refreshable

    # ------------------------------------------------------------------------------------------ flows

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if not self._ours(request):
            self._strip_ours(request)
            yield request
            return
        credential = self.current()
        self._apply(request, credential)
        self._sync_trace(request)
        response = yield request
        if not self._should_retry(response, credential):
            return
        response.read()
        renewed = self.after_unauthorized(credential.secret)
        if renewed is not None:
            self._apply(request, renewed)
            yield request

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        from anyio import to_thread

        if not self._ours(request):
            self._strip_ours(request)
            yield request
            return
        credential = await to_thread.run_sync(self.current)
        self._apply(request, credential)
        self._async_trace(request)
        response = yield request
        if not self._should_retry(response, credential):
            return
        await response.aread()
        renewed = await to_thread.run_sync(self.after_unauthorized, credential.secret)
        if renewed is not None:
            self._apply(request, renewed)
            yield request

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """The generic flow httpx documents; kept equal to the sync flow for callers that drive it by hand."""
        yield from self.sync_auth_flow(request)
