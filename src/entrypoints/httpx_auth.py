"""``HeyGenHttpxAuth``: an ``httpx.Auth`` that keeps requests to HeyGen authenticated.

    import httpx
    from hyperframes_auth import HeyGenAuth

    auth = HeyGenAuth.from_env()
    with httpx.Client(base_url=auth.settings.api_url, auth=auth.httpx_auth()) as client:
        print(client.get("/v3/users/me").json())

* Sends ``Authorization: Bearer …`` for OAuth or ``x-api-key`` for API keys, and only to the configured HeyGen
  API origin; a request to any other origin goes out without credentials.
* Refreshes before sending when the access token is within ``leeway`` seconds of expiry; if that refresh fails
  while the old token is still valid, the request goes out with the old token.
* On a 401 with OAuth it refreshes once and retries once, and only when the body can be replayed (bytes, not a
  generator). API keys are never retried; a 403 (``insufficient_scope`` included) never refreshes.
* Single flight: threads and asyncio tasks that find the token stale at the same moment cause one refresh; the
  store's cross-process lock extends that to other processes (see ``AuthService.refresh``). The async flow runs
  the (blocking) store and token calls in a worker thread, so the event loop never blocks on them.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncGenerator, Generator
from urllib.parse import urlsplit

import httpx

from ..domain.api import auth_headers
from ..domain.errors import AuthError
from ..domain.resolve import Credential, OAuthCredential
from .facade import HeyGenAuth


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc.lower()


class HeyGenHttpxAuth(httpx.Auth):
    """Authenticates ``httpx`` requests to HeyGen with the credential in effect.

    Args:
        auth: the facade whose credentials are used and refreshed; its ``leeway`` says how early to refresh.
    """

    def __init__(self, auth: HeyGenAuth) -> None:
        self._auth = auth
        self._service = auth.service
        self._origins = {_origin(auth.settings.api_url)}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------------------------------ blocking parts

    def current(self) -> Credential:
        """The credential to send now; refreshes it first when stale (one refresh for all waiting callers)."""
        with self._lock:
            return self._service.fresh_credential()

    def after_unauthorized(self, refused: str) -> Credential | None:
        """A new access token after ``refused`` got a 401, or ``None`` when there is none to be had."""
        with self._lock:
            try:
                return OAuthCredential(self._service.refresh(stale_access_token=refused), "file_json", False, False)
            except AuthError:
                return None

    # ------------------------------------------------------------------------------------------ helpers

    def _ours(self, request: httpx.Request) -> bool:
        return _origin(str(request.url)) in self._origins

    @staticmethod
    def _apply(request: httpx.Request, credential: Credential) -> None:
        request.headers.pop("authorization", None)
        request.headers.pop("x-api-key", None)
        request.headers.update(auth_headers(credential))

    @staticmethod
    def _should_retry(response: httpx.Response, credential: Credential) -> bool:
        replayable = isinstance(response.request.stream, httpx.ByteStream)
        has_rt = isinstance(credential, OAuthCredential) and credential.tokens.refresh_token is not None
        return response.status_code == 401 and replayable and (has_rt or isinstance(credential, OAuthCredential))

    # ------------------------------------------------------------------------------------------ flows

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if not self._ours(request):
            yield request
            return
        credential = self.current()
        self._apply(request, credential)
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
            yield request
            return
        credential = await to_thread.run_sync(self.current)
        self._apply(request, credential)
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
