"""The use cases over the fakes: sign-in, refresh (single flight), who-am-I with one retry, sign-out."""

from __future__ import annotations

import threading
from datetime import timedelta

import attrs
import pytest

from hyperframes_auth.domain.credentials import CredentialsDocument, OAuthTokens, UserProfile
from hyperframes_auth.domain.errors import (
    ApiError,
    DeviceAuthFailed,
    InvalidApiKey,
    InvalidStore,
    NoRefreshToken,
    RefreshFailed,
    TransportError,
    Unauthenticated,
)
from hyperframes_auth.domain.flow import Remark
from hyperframes_auth.domain.ports import BrowserOpening, CallbackIgnored, WaitingForCallback
from hyperframes_auth.domain.primitives import format_instant
from hyperframes_auth.domain.resolve import OAuthCredential
from hyperframes_auth.domain.service import check_api_key
from tests.fakes import T0, World, json_response


def signed_in_world(**kwargs) -> World:
    world = World(**kwargs)
    world.service.login_browser()
    return world


def test_browser_login_stores_tokens_and_profile_and_keeps_the_api_key():
    world = World(CredentialsDocument(api_key="hg_keepme12", extra={"future": 1}))
    result = world.service.login_browser()
    assert result.user is not None
    assert result.user.identity == "alice@example.test"
    doc = world.store.doc
    assert doc.api_key == "hg_keepme12"
    assert doc.extra == {"future": 1}
    assert doc.oauth is not None
    assert world.server.access_token_valid(doc.oauth.access_token)
    assert doc.user == UserProfile(email="alice@example.test", username="alice")
    assert world.listener.closed
    kinds = [type(n) for n in world.notices]
    assert kinds[:2] == [BrowserOpening, WaitingForCallback]


def test_login_failure_closes_the_listener_and_stores_nothing():
    world = World(user_approves=False)
    with pytest.raises(Exception, match="access_denied"):
        world.service.login_browser()
    assert world.listener.closed
    assert world.store.writes == 0


def test_ignored_callbacks_are_reported():
    world = World()
    world.listener.deliver({"state": "forged", "code": "x"})
    world.service.login_browser()
    assert any(isinstance(n, CallbackIgnored) for n in world.notices)


def test_login_over_a_corrupt_file_keeps_a_copy():
    world = World()
    world.store.broken = "invalid JSON"
    world.service.login_browser()
    assert world.store.quarantined == ["invalid JSON"]
    assert any(isinstance(n, Remark) and "kept" in n.message for n in world.notices)


def test_refresh_never_overwrites_a_corrupt_file():
    world = signed_in_world()
    world.store.broken = "invalid JSON"
    with pytest.raises(InvalidStore):
        world.service.refresh()
    assert world.store.quarantined == []


def test_identity_failure_after_login_is_not_fatal():
    world = World()
    original = world.server._userinfo
    world.server._userinfo = lambda r: json_response(503, {"message": "down"})  # type: ignore[method-assign]
    result = world.service.login_browser()
    assert result.user is None
    assert isinstance(result.identity_error, ApiError)
    assert world.store.doc.oauth is not None
    world.server._userinfo = original  # type: ignore[method-assign]


def test_stale_token_is_refreshed_once_and_rotation_is_stored():
    world = signed_in_world()
    old = world.store.doc.oauth
    world.clock.advance(3600)
    credential = world.service.credential()
    new = world.store.doc.oauth
    assert credential.secret == new.access_token != old.access_token
    assert new.refresh_token != old.refresh_token
    assert world.server.replays == 0


def test_refresh_is_skipped_when_another_process_already_rotated():
    world = signed_in_world()
    stale = world.store.doc.oauth.access_token
    world.clock.advance(3600)
    world.service.refresh()  # "the other process"
    requests = len(world.server.token_requests)
    tokens = world.service.refresh(stale_access_token=stale)
    assert len(world.server.token_requests) == requests
    assert tokens == world.store.doc.oauth


def test_invalid_grant_rereads_the_store_once():
    world = signed_in_world()
    mine = world.store.doc.oauth

    def rotate_behind_our_back(request):
        world.store.doc = attrs.evolve(
            world.store.doc, oauth=OAuthTokens("at-other", "rt-other", format_instant(T0 + timedelta(hours=2)))
        )
        return json_response(400, {"error": "invalid_grant"})

    server_send = world.server.send
    calls = []

    class Racing:
        def send(self, request):
            calls.append(request)
            if request.url.endswith("/token"):
                return rotate_behind_our_back(request)
            return server_send(request)

    from hyperframes_auth.domain.service import AuthService
    from tests.fakes import API, CONFIG

    service = AuthService(CONFIG, world.ports_with(Racing()), {}, f"{API}/v3/users/me")
    tokens = service.refresh(stale_access_token=mine.access_token)
    assert tokens.access_token == "at-other"
    assert len(calls) == 1


def test_failed_proactive_refresh_uses_the_still_valid_token_until_it_expires():
    world = signed_in_world()
    held = world.store.doc.oauth
    world.clock.advance(3600 - 30)  # inside the 60 s leeway, not yet expired
    world.server.fail_with = TransportError("auth.test", "timed out")
    assert world.service.credential().secret == held.access_token
    world.clock.advance(60)  # now expired
    with pytest.raises(TransportError):
        world.service.credential()


def test_whoami_refreshes_once_and_retries_once_on_401():
    world = signed_in_world()
    token = world.store.doc.oauth.access_token
    world.server.access[token]["expires"] = T0  # the server expired it early; our clock says fresh
    user = world.service.whoami(world.service.resolved())
    assert user.identity == "alice@example.test"
    assert len([f for f in world.server.token_requests if f["grant_type"] == "refresh_token"]) == 1


def test_whoami_gives_up_after_one_refresh():
    world = signed_in_world()
    world.server._userinfo = lambda r: json_response(401, {"error": "invalid_token"})  # type: ignore[method-assign]
    with pytest.raises(Unauthenticated):
        world.service.whoami(world.service.resolved())
    assert len([f for f in world.server.token_requests if f["grant_type"] == "refresh_token"]) == 1


def test_whoami_with_refused_refresh_reports_the_original_401():
    world = signed_in_world()
    world.server._userinfo = lambda r: json_response(401, {"message": "token revoked"})  # type: ignore[method-assign]
    world.server.scripted.append(json_response(400, {"error": "invalid_grant"}))
    with pytest.raises(Unauthenticated, match="token revoked"):
        world.service.whoami(world.service.resolved())


def test_api_keys_are_never_retried():
    world = World()
    with pytest.raises(Unauthenticated):
        world.service.login_api_key("hg_wrong_key_0")
    assert [r.url for r in world.server.requests].count("https://api.test/v3/users/me") == 1


def test_api_key_login_success_keeps_oauth():
    world = signed_in_world()
    oauth = world.store.doc.oauth
    result = world.service.login_api_key("hg_valid_key_1234")
    assert result.user.identity == "keys@example.test"
    assert world.store.doc.api_key == "hg_valid_key_1234"
    # The key belongs to another person than the OAuth session: a second account, now active; nothing is lost.
    (alice,) = world.store.doc.others
    assert (alice.identity, alice.oauth) == ("alice@example.test", oauth)
    assert [a.identity for a in world.service.accounts()] == ["keys@example.test", "alice@example.test"]


def test_an_api_key_of_the_same_person_joins_their_account_and_keeps_its_oauth():
    world = signed_in_world()
    oauth = world.store.doc.oauth
    world.server.api_keys.add("hg_alices_key_1")
    original = world.server._userinfo

    def as_alice(request):
        if request.headers.get("x-api-key") == "hg_alices_key_1":
            return json_response(200, {"data": {"email": "alice@example.test", "username": "alice"}})
        return original(request)

    world.server._userinfo = as_alice
    world.service.login_api_key("hg_alices_key_1")
    assert (world.store.doc.api_key, world.store.doc.oauth) == ("hg_alices_key_1", oauth)
    assert world.store.doc.others == ()


def test_rejected_api_key_restores_the_previous_state_or_removes_the_file():
    world = World(CredentialsDocument(api_key="hg_previous1", extra={"x": 1}))
    with pytest.raises(Unauthenticated) as info:
        world.service.login_api_key("hg_wrong_key_0")
    assert world.store.doc.api_key == "hg_previous1"
    assert world.store.doc.extra == {"x": 1}
    assert info.value.rollback == "Rolled back to the previous credential."
    world = World()
    with pytest.raises(Unauthenticated) as info:
        world.service.login_api_key("hg_wrong_key_0")
    assert world.store.deleted == 1
    assert info.value.rollback == "Removed the rejected credential."


def test_api_key_kept_on_a_transient_failure():
    world = World()
    world.server.fail_with = TransportError("api.test", "timed out")
    with pytest.raises(TransportError):
        world.service.login_api_key("hg_some_key_1")
    assert world.store.doc.api_key == "hg_some_key_1"


@pytest.mark.parametrize(
    ("key", "text"),
    [
        ("", "No API key"),
        ("abc\r\nX-Evil: 1", "control"),
        ("abc def ghi", "spaces"),
        ("kéyvalue12", "non-ASCII"),
        ("short", r"too short \(got 5 chars\)"),
    ],
)
def test_api_key_validation(key, text):
    with pytest.raises(InvalidApiKey, match=text):
        check_api_key(key)


def test_device_login_stores_only_verified_tokens():
    world = World()

    def approve_on_first_sleep(seconds):
        for device in world.server.devices.values():
            device["approved"] = True
        world.clock.advance(seconds)

    world.clock.sleep = approve_on_first_sleep  # type: ignore[method-assign]
    result = world.service.login_device()
    assert result.user.identity == "alice@example.test"
    assert world.store.doc.oauth is not None


def test_device_tokens_refused_by_the_api_are_revoked_not_stored():
    world = World()
    world.server._userinfo = lambda r: json_response(401, {"error": "nope"})  # type: ignore[method-assign]
    world.server.scripted.extend([json_response(200, {"access_token": "at-d", "refresh_token": "rt-d"})])
    with pytest.raises(Unauthenticated):
        world.service.login_device()
    assert world.store.writes == 0
    revoked = [r.form()["token"] for r in world.server.requests if r.url.endswith("/revoke")]
    assert revoked == ["rt-d", "at-d"]


def test_device_denied():
    world = World()

    def deny(seconds):
        for device in world.server.devices.values():
            device["approved"] = False
        world.clock.advance(seconds)

    world.clock.sleep = deny  # type: ignore[method-assign]
    with pytest.raises(DeviceAuthFailed, match="denied"):
        world.service.login_device()


def test_logout_revokes_then_wipes_and_old_tokens_are_dead():
    world = signed_in_world()
    oauth = world.store.doc.oauth
    result = world.service.logout()
    assert result.revoked
    assert world.store.doc == CredentialsDocument()
    assert not world.server.access_token_valid(oauth.access_token)
    assert oauth.refresh_token not in world.server.refresh


def test_logout_keep_api_key_and_wipe_despite_network_failure():
    world = signed_in_world(doc=CredentialsDocument(api_key="hg_keepme12"))
    world.server.fail_with = TransportError("auth.test", "down")
    result = world.service.logout(keep_api_key=True)
    assert len(result.remarks) == 2
    assert world.store.doc.api_key == "hg_keepme12"
    assert world.store.doc.oauth is None


def test_logout_of_a_corrupt_store_still_works():
    world = World()
    world.store.broken = "garbage"
    result = world.service.logout()
    assert not result.revoked
    assert world.store.deleted == 1


def test_forced_refresh_without_refresh_token():
    world = World(CredentialsDocument(api_key="hg_keepme12"))
    with pytest.raises(NoRefreshToken) as info:
        world.service.refresh()
    assert info.value.message == "No OAuth refresh token to use."
    assert isinstance(info.value, RefreshFailed)


def test_threads_refresh_once():
    world = signed_in_world()
    world.clock.advance(3600)
    results = []
    threads = [threading.Thread(target=lambda: results.append(world.service.credential().secret)) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(results)) == 1
    assert len([f for f in world.server.token_requests if f["grant_type"] == "refresh_token"]) == 1
    assert isinstance(world.service.resolved(), OAuthCredential)
