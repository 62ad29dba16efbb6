"""The API contract: our client against a real OAuth 2.0 server (oidc-provider) on 127.0.0.1.

Every scenario goes through the real code paths: the facade, the state machine and driver, HttpxTransport, the
real loopback listener over sockets, and the credentials file in a temporary HEYGEN_CONFIG_DIR. Only the person is
scripted (tests/contract/scripted_user.py posts the server's own login and consent forms).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from hyperframes_auth import HeyGenAuth
from hyperframes_auth.domain import flow as m
from hyperframes_auth.domain import messages as messages_module
from hyperframes_auth.domain.driver import run
from hyperframes_auth.domain.errors import (
    ApiError,
    AuthorizationDenied,
    CodeRejected,
    DeviceAuthFailed,
    IssuerMismatch,
    NotConfigured,
    RefreshFailed,
    Unauthenticated,
)
from hyperframes_auth.domain.messages import start_auth_code_flow
from hyperframes_auth.domain.ports import DeviceCodeIssued
from hyperframes_auth.domain.resolve import OAuthCredential
from hyperframes_auth.entrypoints.settings import Settings
from tests.fakes import FakeListener
from tests.fakes import facade as configured

from .conftest import API_KEY, CLIENT_ID, AuthServer
from .people import Person
from .scripted_user import ScriptedUser, code_of

pytestmark = pytest.mark.contract


_open: list[HeyGenAuth] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while _open:
        _open.pop().close()


def facade(server: AuthServer, tmp_path: Path, person: Person | None = None, **options: object) -> HeyGenAuth:
    env = server.env(tmp_path / "config")
    return track(
        configured(
            Settings.from_env(env, str(tmp_path)),
            env=env,
            interactive=True,
            browser=person or Person(),
            login_timeout=20,
            **options,  # type: ignore[arg-type]
        )
    )


def track(auth: HeyGenAuth) -> HeyGenAuth:
    _open.append(auth)
    return auth


def raw_refresh(server: AuthServer, refresh_token: str) -> httpx.Response:
    data = {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": CLIENT_ID}
    return server.http.post("/v1/oauth/token", data=data)


def test_full_login_status_token_refresh_logout(auth_server: AuthServer, tmp_path: Path) -> None:
    person = Person()
    auth = facade(auth_server, tmp_path, person)
    result = auth.login_browser()
    person.join()
    assert result.user is not None
    assert result.user.identity == "alice@example.test"
    stored = auth.stored()
    assert stored.oauth is not None
    assert stored.user is not None
    assert stored.user.email == "alice@example.test"
    assert (tmp_path / "config" / "credentials").stat().st_mode & 0o777 == 0o600

    status = auth.status()
    assert status.api_error is None
    assert status.user is not None
    assert status.backend == "file"
    assert auth.token() == stored.oauth.access_token

    first = stored.oauth
    rotated = auth.refresh()
    assert rotated.access_token != first.access_token
    assert rotated.refresh_token != first.refresh_token  # rotation on
    assert auth.whoami().identity == "alice@example.test"

    outcome = auth.logout()
    assert outcome.revoked
    assert outcome.remarks == ()
    assert not (tmp_path / "config" / "credentials").exists()
    assert raw_refresh(auth_server, rotated.refresh_token or "").json()["error"] == "invalid_grant"
    me = auth_server.http.get("/v3/users/me", headers={"authorization": f"Bearer {rotated.access_token}"})
    assert me.status_code == 401
    with pytest.raises(NotConfigured):
        auth.token()


def test_stray_callbacks_do_not_end_the_login(auth_server: AuthServer, tmp_path: Path) -> None:
    person = Person(mode="forged-first")
    auth = facade(auth_server, tmp_path, person)
    assert auth.login_browser().user is not None
    person.join()


def test_a_reused_code_is_rejected_with_the_login_again_hint(auth_server: AuthServer, tmp_path: Path) -> None:
    person = Person()
    auth = facade(auth_server, tmp_path, person)
    captured: dict[str, m.AuthCodeFlow] = {}

    def remember(*args: object, **kwargs: object) -> m.AuthCodeFlow:
        captured["flow"] = start_auth_code_flow(*args, **kwargs)  # type: ignore[arg-type]
        return captured["flow"]

    messages_module.start_auth_code_flow = remember  # type: ignore[assignment]
    try:
        auth.login_browser()
    finally:
        messages_module.start_auth_code_flow = start_auth_code_flow
    person.join()
    flow = captured["flow"]
    listener = FakeListener(flow.redirect_uri)
    listener.deliver({"code": code_of(person.callback_urls[0]), "state": flow.state})
    state = run(auth.service.config, auth.service.ports, m.StartBrowserLogin(flow), listener)
    assert isinstance(state, m.Failed)
    assert isinstance(state.error, CodeRejected)
    assert state.error.oauth_error == "invalid_grant"
    assert state.error.hint == "Run `hyperframes auth login` again."


def _flow_and_code(server: AuthServer, auth: HeyGenAuth, verifier: str | None = None) -> tuple[m.AuthCodeFlow, str]:
    flow = start_auth_code_flow(
        auth.service.config, "http://127.0.0.1:9/oauth/callback", __import__("secrets").token_bytes
    )
    user = ScriptedUser()
    try:
        callback = user.authorize(flow.authorize_url)
    finally:
        user.close()
    if verifier is not None:
        flow = m.AuthCodeFlow(
            state=flow.state, verifier=verifier, redirect_uri=flow.redirect_uri, authorize_url=flow.authorize_url
        )
    return flow, code_of(callback)


def _exchange(auth: HeyGenAuth, flow: m.AuthCodeFlow, code: str) -> m.State:
    listener = FakeListener(flow.redirect_uri)
    listener.deliver({"code": code, "state": flow.state})
    return run(auth.service.config, auth.service.ports, m.StartBrowserLogin(flow), listener)


def test_an_expired_code_says_run_login_again(server_factory: object, tmp_path: Path) -> None:
    server = server_factory(TTL_CODE="1")  # type: ignore[operator]
    auth = facade(server, tmp_path)
    flow, code = _flow_and_code(server, auth)
    time.sleep(1.2)  # the server's own clock must pass the code's lifetime; nothing else can stand in for it
    state = _exchange(auth, flow, code)
    assert isinstance(state, m.Failed)
    assert isinstance(state.error, CodeRejected)
    assert "run `hyperframes auth login` again" in (state.error.hint or "").lower()


def test_a_wrong_pkce_verifier_is_rejected(auth_server: AuthServer, tmp_path: Path) -> None:
    auth = facade(auth_server, tmp_path)
    flow, code = _flow_and_code(auth_server, auth, verifier="x" * 86)
    state = _exchange(auth, flow, code)
    assert isinstance(state, m.Failed)
    assert isinstance(state.error, CodeRejected)


def test_the_server_refuses_a_request_without_a_challenge(auth_server: AuthServer, tmp_path: Path) -> None:
    auth = facade(auth_server, tmp_path)
    flow = start_auth_code_flow(
        auth.service.config, "http://127.0.0.1:9/oauth/callback", __import__("secrets").token_bytes
    )
    stripped = flow.authorize_url.split("&code_challenge=")[0]
    user = ScriptedUser()
    try:
        callback = user.authorize(stripped)
    finally:
        user.close()
    listener = FakeListener(flow.redirect_uri)
    listener.deliver(dict(httpx.URL(callback).params.multi_items()))
    state = run(auth.service.config, auth.service.ports, m.StartBrowserLogin(flow), listener)
    assert isinstance(state, m.Failed)
    assert isinstance(state.error, AuthorizationDenied)
    assert state.error.oauth_error == "invalid_request"


def test_access_denied_at_the_consent_page(auth_server: AuthServer, tmp_path: Path) -> None:
    person = Person(mode="deny")
    auth = facade(auth_server, tmp_path, person)
    with pytest.raises(AuthorizationDenied) as info:
        auth.login_browser()
    person.join()
    assert info.value.oauth_error == "access_denied"
    assert not (tmp_path / "config" / "credentials").exists()


def test_a_wrong_issuer_is_refused_before_any_token_request(auth_server: AuthServer, tmp_path: Path) -> None:
    env = auth_server.env(tmp_path / "config", HYPERFRAMES_OAUTH_ISSUER="https://other-issuer.test")
    person = Person()
    auth = track(
        configured(Settings.from_env(env, str(tmp_path)), env=env, interactive=True, browser=person, login_timeout=20)
    )
    auth_server.reset()
    with pytest.raises(IssuerMismatch):
        auth.login_browser()
    person.join()
    assert auth_server.stats()["token"].get("authorization_code", 0) == 0


def login(auth: HeyGenAuth) -> None:
    person = auth.service.ports.browser
    auth.login_browser()
    person.join()  # type: ignore[attr-defined]


def test_expired_access_token_gets_one_refresh_and_one_retry(server_factory: object, tmp_path: Path) -> None:
    server = server_factory(TTL_ACCESS="2")  # type: ignore[operator]
    auth = facade(server, tmp_path, leeway=0)  # trust our clock (the token looks valid for 30 s) and meet the 401
    login(auth)
    time.sleep(2.1)  # let the server's own clock expire the access token
    server.reset()
    assert auth.whoami().identity == "alice@example.test"
    assert server.refresh_requests() == 1
    assert server.stats()["userinfo"] == 2


def test_expired_refresh_token_is_refresh_failed_with_the_login_hint(server_factory: object, tmp_path: Path) -> None:
    server = server_factory(TTL_REFRESH="1")  # type: ignore[operator]
    auth = facade(server, tmp_path)
    login(auth)
    time.sleep(1.2)
    with pytest.raises(RefreshFailed) as info:
        auth.refresh()
    assert info.value.oauth_error == "invalid_grant"
    assert "hyperframes auth login" in (info.value.hint or "")


def test_revoked_refresh_token_is_refresh_failed(auth_server: AuthServer, tmp_path: Path) -> None:
    auth = facade(auth_server, tmp_path)
    login(auth)
    oauth = auth.stored().oauth
    assert oauth is not None
    auth_server.http.post("/v1/oauth/revoke", data={"token": oauth.refresh_token, "client_id": CLIENT_ID})
    with pytest.raises(RefreshFailed):
        auth.refresh()
    with pytest.raises(Unauthenticated):
        auth.whoami()


def test_a_rotated_out_refresh_token_is_never_sent_again(auth_server: AuthServer, tmp_path: Path) -> None:
    auth = facade(auth_server, tmp_path)
    login(auth)
    spent = auth.stored().oauth.refresh_token  # type: ignore[union-attr]
    auth_server.reset()
    for _ in range(3):
        auth.refresh()
    assert auth_server.stats()["invalid_grant"] == 0
    # What the rule protects: replaying the rotated-out token makes the server revoke the whole grant.
    assert raw_refresh(auth_server, spent or "").json()["error"] == "invalid_grant"
    with pytest.raises(RefreshFailed):
        auth.refresh()


def test_no_rotation_keeps_the_refresh_token(server_factory: object, tmp_path: Path) -> None:
    server = server_factory(ROTATE="0")  # type: ignore[operator]
    auth = facade(server, tmp_path)
    login(auth)
    before = auth.stored().oauth.refresh_token  # type: ignore[union-attr]
    after = auth.refresh()
    assert after.refresh_token == before


def _device_auth(server: AuthServer, tmp_path: Path, approve: str | None, before: object = None) -> HeyGenAuth:
    def on_notice(notice: object) -> None:
        if isinstance(notice, DeviceCodeIssued) and approve is not None:
            uri = notice.device.verification_uri_complete or notice.device.verification_uri

            def act() -> None:
                if callable(before):
                    before()
                user = ScriptedUser()
                try:
                    user.approve_device(uri, deny=approve == "deny")
                finally:
                    user.close()

            threading.Thread(target=act, daemon=True).start()

    return facade(server, tmp_path, notify=on_notice, device_min_interval=0.2)


DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def test_device_grant_pending_slow_down_then_approved(auth_server: AuthServer, tmp_path: Path) -> None:
    auth_server.reset()

    def after_one_pending_poll_ask_to_slow_down() -> None:
        deadline = time.monotonic() + 10
        while auth_server.stats()["token"].get(DEVICE_GRANT, 0) < 1:  # the server answered authorization_pending
            assert time.monotonic() < deadline
            time.sleep(0.05)
        auth_server.script("/v1/oauth/token", {"status": 400, "body": {"error": "slow_down"}})

    auth = _device_auth(auth_server, tmp_path, approve="approve", before=after_one_pending_poll_ask_to_slow_down)
    started = time.monotonic()
    result = auth.login_device()
    assert result.user is not None
    assert result.user.identity == "alice@example.test"
    assert auth.stored().oauth is not None
    assert auth_server.stats()["token"][DEVICE_GRANT] >= 2  # at least one pending, then the success
    assert time.monotonic() - started >= 5  # slow_down added 5 s to the interval


def test_device_grant_denied(auth_server: AuthServer, tmp_path: Path) -> None:
    auth = _device_auth(auth_server, tmp_path, approve="deny")
    with pytest.raises(DeviceAuthFailed) as info:
        auth.login_device()
    assert info.value.oauth_error == "access_denied"
    assert not (tmp_path / "config" / "credentials").exists()


def test_device_grant_expired(server_factory: object, tmp_path: Path) -> None:
    server = server_factory(TTL_DEVICE="1")  # type: ignore[operator]
    auth = _device_auth(server, tmp_path, approve=None)
    with pytest.raises(DeviceAuthFailed, match="expired"):
        auth.login_device()


def test_api_key_accepted_and_rejected(auth_server: AuthServer, tmp_path: Path) -> None:
    auth = facade(auth_server, tmp_path)
    result = auth.login_api_key(API_KEY)
    assert result.user is not None
    assert result.user.identity == "api-key-user@example.test"
    assert auth.token() == API_KEY
    with pytest.raises(Unauthenticated) as info:
        auth.login_api_key("hg_not_a_valid_key_000")
    assert info.value.rollback == "Rolled back to the previous credential."
    assert auth.stored().api_key == API_KEY


def test_env_key_is_sent_as_x_api_key(auth_server: AuthServer, tmp_path: Path) -> None:
    env = auth_server.env(tmp_path / "config", HEYGEN_API_KEY=API_KEY)
    auth = track(configured(Settings.from_env(env, str(tmp_path)), env=env))
    assert auth.status().user.identity == "api-key-user@example.test"  # type: ignore[union-attr]


def test_token_endpoint_redirect_is_not_followed(auth_server: AuthServer, tmp_path: Path) -> None:
    auth = facade(auth_server, tmp_path)
    login(auth)
    auth_server.reset()
    auth_server.script("/v1/oauth/token", {"status": 307, "headers": {"location": f"{auth_server.url}/elsewhere"}})
    with pytest.raises(ApiError) as info:
        auth.refresh()
    assert info.value.status == 307
    assert auth_server.refresh_requests() == 0  # the 307 was ours; the refresh token never went anywhere


def test_status_reports_stale_tokens_and_refreshes_first(auth_server: AuthServer, tmp_path: Path) -> None:
    auth = facade(auth_server, tmp_path, leeway=7200)  # every token of unknown lifetime counts as stale
    login(auth)
    path = tmp_path / "config" / "credentials"
    stored = json.loads(path.read_text())
    del stored["oauth"]["obtained_at"]  # as the TypeScript CLI writes it: no lifetime to adapt the leeway to
    path.write_text(json.dumps(stored))
    auth_server.reset()
    report = auth.status()
    assert isinstance(report.credential, OAuthCredential)
    assert report.credential.refreshable
    assert report.api_error is None
    assert auth_server.refresh_requests() == 1


def test_no_secret_reaches_any_log_at_debug_level(
    auth_server: AuthServer, tmp_path: Path, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    import http.client
    import logging

    caplog.set_level(logging.DEBUG)
    http.client.HTTPConnection.debuglevel = 1
    try:
        auth = facade(auth_server, tmp_path)
        login(auth)
        first = auth.stored().oauth
        rotated = auth.refresh()
        auth.whoami()
        auth.logout()
    finally:
        http.client.HTTPConnection.debuglevel = 0
    assert first is not None
    logs = caplog.text + "".join(capfd.readouterr())
    for secret in (first.access_token, first.refresh_token, rotated.access_token, rotated.refresh_token):
        assert secret
        assert secret not in logs
    for record in caplog.records:
        assert "code_verifier" not in record.getMessage()
