"""HeyGenHttpxAuth: driven by hand (no client, no network), then through httpx.MockTransport (sync and async)."""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta

import attrs
import httpx
import pytest

from hyperframes_auth import HeyGenAuth
from hyperframes_auth.domain.credentials import CredentialsDocument, OAuthTokens
from hyperframes_auth.domain.primitives import format_instant
from tests.fakes import API, ENV, SETTINGS, T0, FakeAuthServer, FakeClock, FakeStore, facade

FRESH = format_instant(T0 + timedelta(hours=1))
STALE = format_instant(T0 + timedelta(seconds=30))
EXPIRED = format_instant(T0 - timedelta(seconds=1))


class Setup:
    def __init__(self, doc: CredentialsDocument, leeway: float = 60.0) -> None:
        self.clock = FakeClock()
        self.server = FakeAuthServer(self.clock)
        self.store = FakeStore(doc)
        self.auth = facade(SETTINGS, env={}, http=self.server, store=self.store, clock=self.clock, leeway=leeway)
        self.httpx_auth = self.auth.httpx_auth()

    def live_tokens(self, expires_at: str = FRESH) -> OAuthTokens:
        """Tokens the fake server really issued (so refresh works), stored with the given expiry."""
        response = self.server._issue("grant-1", "alice")
        body = httpx.Response(200, content=response.body).json()
        tokens = OAuthTokens(body["access_token"], body["refresh_token"], expires_at)
        self.store.doc = attrs.evolve(self.store.doc, oauth=tokens)
        return tokens

    def refreshes(self) -> int:
        return sum(1 for f in self.server.token_requests if f.get("grant_type") == "refresh_token")


def oauth_setup(expires_at: str = FRESH, **kw: object) -> tuple[Setup, OAuthTokens]:
    setup = Setup(CredentialsDocument(), **kw)  # type: ignore[arg-type]
    return setup, setup.live_tokens(expires_at)


def test_by_hand_a_fresh_token_is_sent_once():
    setup, tokens = oauth_setup()
    flow = setup.httpx_auth.sync_auth_flow(httpx.Request("GET", f"{API}/v3/users/me"))
    request = next(flow)
    assert request.headers["authorization"] == f"Bearer {tokens.access_token}"
    assert request.headers["x-heygen-source"] == "cli"
    with pytest.raises(StopIteration):
        flow.send(httpx.Response(200, request=request))
    assert setup.refreshes() == 0


def test_by_hand_a_401_refreshes_once_and_retries_once():
    setup, tokens = oauth_setup()
    flow = setup.httpx_auth.sync_auth_flow(httpx.Request("GET", f"{API}/v3/users/me"))
    first = next(flow)
    retry = flow.send(httpx.Response(401, request=first))
    assert retry.headers["authorization"] != f"Bearer {tokens.access_token}"
    assert retry.headers["authorization"] == f"Bearer {setup.store.doc.oauth.access_token}"
    with pytest.raises(StopIteration):
        flow.send(httpx.Response(401, request=retry))  # a second 401 is returned to the caller, no loop
    assert setup.refreshes() == 1


def test_by_hand_a_stale_token_is_refreshed_before_sending():
    setup, tokens = oauth_setup(STALE)
    request = next(setup.httpx_auth.sync_auth_flow(httpx.Request("GET", f"{API}/x")))
    assert request.headers["authorization"] != f"Bearer {tokens.access_token}"
    assert setup.refreshes() == 1


def test_by_hand_a_failed_early_refresh_sends_the_still_valid_token():
    setup, tokens = oauth_setup(STALE)
    setup.server.scripted.extend([httpx_response_503()] * 3)  # still down after every retry it invites
    request = next(setup.httpx_auth.sync_auth_flow(httpx.Request("GET", f"{API}/x")))
    assert request.headers["authorization"] == f"Bearer {tokens.access_token}"


def httpx_response_503():
    from hyperframes_auth.domain.http import HttpResponse

    return HttpResponse(503, {}, b"down")


def test_by_hand_api_keys_use_x_api_key_and_never_retry():
    setup = Setup(CredentialsDocument(api_key="hg_valid_key_1234"))
    flow = setup.httpx_auth.sync_auth_flow(httpx.Request("GET", f"{API}/x"))
    request = next(flow)
    assert request.headers["x-api-key"] == "hg_valid_key_1234"
    assert "authorization" not in request.headers
    with pytest.raises(StopIteration):
        flow.send(httpx.Response(401, request=request))


def test_by_hand_403_insufficient_scope_does_not_refresh():
    setup, _ = oauth_setup()
    flow = setup.httpx_auth.sync_auth_flow(httpx.Request("GET", f"{API}/x"))
    request = next(flow)
    with pytest.raises(StopIteration):
        flow.send(
            httpx.Response(403, headers={"www-authenticate": 'Bearer error="insufficient_scope"'}, request=request)
        )
    assert setup.refreshes() == 0


def test_by_hand_other_origins_get_no_credentials():
    setup, _ = oauth_setup()
    for url in ("https://evil.example/x", "https://api.test.evil.example/x", "http://api.test/x"):
        request = next(
            setup.httpx_auth.sync_auth_flow(httpx.Request("GET", url, headers={"authorization": "keep-mine"}))
        )
        assert request.headers.get("authorization") == "keep-mine"
        assert "x-api-key" not in request.headers


def test_by_hand_a_streaming_body_is_not_replayed():
    setup, _ = oauth_setup()

    def chunks():
        yield b"part"

    flow = setup.httpx_auth.sync_auth_flow(httpx.Request("POST", f"{API}/x", content=chunks()))
    request = next(flow)
    with pytest.raises(StopIteration):
        flow.send(httpx.Response(401, request=request))
    assert setup.refreshes() == 0


def mock_api(setup: Setup) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if setup.server.access_token_valid(token) or request.headers.get("x-api-key") == "hg_valid_key_1234":
            return httpx.Response(200, json={"ok": True, "body": request.content.decode()})
        return httpx.Response(401, json={"error": "invalid_token"})

    return httpx.MockTransport(handler)


def test_through_a_client_a_server_side_expiry_is_recovered():
    setup, tokens = oauth_setup()
    setup.server.access[tokens.access_token]["expires"] = T0  # the server expired it; our clock says fresh
    with httpx.Client(base_url=API, transport=mock_api(setup), auth=setup.httpx_auth) as client:
        response = client.post("/v3/videos", json={"a": 1})
    assert response.status_code == 200
    assert response.json()["body"] == '{"a":1}'  # the replayed body is intact
    assert setup.refreshes() == 1


def test_through_a_client_threads_share_one_refresh():
    setup, _ = oauth_setup(EXPIRED)
    results: list[int] = []
    with httpx.Client(base_url=API, transport=mock_api(setup), auth=setup.httpx_auth) as client:
        threads = [
            threading.Thread(target=lambda: results.append(client.get("/v3/users/me").status_code)) for _ in range(16)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert results == [200] * 16
    assert setup.refreshes() == 1


def test_through_an_async_client_tasks_share_one_refresh():
    setup, _ = oauth_setup(EXPIRED)

    async def main() -> list[int]:
        async with httpx.AsyncClient(base_url=API, transport=mock_api(setup), auth=setup.httpx_auth) as client:
            responses = await asyncio.gather(*(client.get("/v3/users/me") for _ in range(16)))
        return [r.status_code for r in responses]

    assert asyncio.run(main()) == [200] * 16
    assert setup.refreshes() == 1


def test_non_interactive_callers_never_get_a_browser():
    from hyperframes_auth import InteractionRequired

    setup = Setup(CredentialsDocument())
    with pytest.raises(InteractionRequired) as info:
        setup.auth.login_browser()
    assert "hyperframes auth login" in (info.value.hint or "")
    with pytest.raises(InteractionRequired):
        setup.auth.login_device()


def test_from_env_reads_the_same_variables_as_the_cli(tmp_path):
    env = {**ENV, "HEYGEN_CONFIG_DIR": str(tmp_path), "HEYGEN_API_KEY": "hg_env_key_123"}
    with HeyGenAuth.from_env(env) as auth:
        assert auth.settings.api_url == API
        assert auth.token() == "hg_env_key_123"


def test_an_explicit_timeout_reaches_every_token_and_api_request_but_not_revocation():
    setup = Setup(CredentialsDocument())
    setup.live_tokens(STALE)
    auth = facade(SETTINGS, env={}, http=setup.server, store=setup.store, clock=setup.clock, timeout=3.0)
    auth.whoami()
    auth.logout()
    timeouts = {(r.url.rsplit("/", 1)[-1], r.timeout) for r in setup.server.requests}
    assert timeouts == {("token", 3.0), ("me", 3.0), ("revoke", 5.0)}


def _core_request(url: str, headers: list[tuple[bytes, bytes]]):  # type: ignore[no-untyped-def]
    import httpcore

    return httpcore.Request("GET", url, headers=headers)


CORE_HEADERS = [(b"x-api-key", b"hg_valid_key_1234"), (b"Authorization", b"Bearer at"), (b"accept", b"*/*")]


def test_by_hand_the_trace_hook_strips_credentials_written_to_any_other_origin():
    setup = Setup(CredentialsDocument(api_key="hg_valid_key_1234"))
    request = next(setup.httpx_auth.sync_auth_flow(httpx.Request("GET", f"{API}/x")))
    trace = request.extensions["trace"]
    for elsewhere in (
        "https://evil.example/x",
        "http://api.test/x",
        "https://api.test:8443/x",
        "https://API.test.:443/",
    ):
        core = _core_request(elsewhere, list(CORE_HEADERS))
        trace("http11.send_request_headers.started", {"request": core})
        assert core.headers == [(b"accept", b"*/*")], elsewhere
    for same in (f"{API}/y", "https://API.test:443/y"):  # the same origin, however spelled, keeps them
        ours = _core_request(same, list(CORE_HEADERS))
        trace("http11.send_request_headers.started", {"request": ours})
        assert ours.headers == CORE_HEADERS, same


def test_by_hand_the_async_trace_hook_strips_them_too_and_calls_the_callers_hook():
    setup = Setup(CredentialsDocument(api_key="hg_valid_key_1234"))
    seen: list[str] = []

    async def mine(name: str, _info: dict) -> None:
        seen.append(name)

    async def main() -> list[tuple[bytes, bytes]]:
        flow = setup.httpx_auth.async_auth_flow(httpx.Request("GET", f"{API}/x", extensions={"trace": mine}))
        request = await flow.__anext__()
        core = _core_request("https://evil.example/x", list(CORE_HEADERS))
        await request.extensions["trace"]("http11.send_request_headers.started", {"request": core})
        await flow.aclose()
        return core.headers

    assert asyncio.run(main()) == [(b"accept", b"*/*")]
    assert seen == ["http11.send_request_headers.started"]
