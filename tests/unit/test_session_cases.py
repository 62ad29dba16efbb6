"""Staying signed in, case by case: whose token a refresh spends, when ``/v3/users/me`` is asked again, and what
the person is told when nothing here can be used."""

from __future__ import annotations

import attrs
import pytest

from hyperframes_auth.domain.credentials import Account, CredentialsDocument, Environment, Label, OAuthTokens
from hyperframes_auth.domain.errors import (
    AuthError,
    EnvironmentMismatch,
    RefreshFailed,
    ServerUnavailable,
    TransportError,
    UnknownAccount,
)
from hyperframes_auth.domain.flow import Revoked
from hyperframes_auth.domain.http import HttpResponse
from hyperframes_auth.domain.resolve import ApiKeyCredential, OAuthCredential
from hyperframes_auth.domain.retry import jitter
from hyperframes_auth.domain.service import AuthService
from hyperframes_auth.domain.session import tokens_of
from tests.fakes import API, CONFIG, World, json_response

from .test_service_cases import FullStore, Guarded, signed_in, two_people, world_with

HERE = Environment(API, CONFIG.token_url, CONFIG.client_id)
KEY = "hg_valid_key_1234"
ME = {"code": 100, "data": {"email": "keys@example.test"}}


def sign_in(world: World, user: str) -> OAuthTokens:
    """A browser sign-in as ``user`` through the fake server; returns the tokens stored for them."""
    world.browser.user = lambda url: world.listener.deliver(world.server.approve(url, user=user))
    world.service.login_browser()
    return world.store.doc.oauth


def alice_and_bob() -> tuple[World, OAuthTokens, OAuthTokens]:
    world = World()
    bob = sign_in(world, "bob")
    alice = sign_in(world, "alice")
    assert world.service.active_identity() == "alice@example.test"
    return world, alice, bob


def spent(world: World) -> list[str]:
    return [form["refresh_token"] for form in world.server.token_requests if "refresh_token" in form]


# ---------------------------------------------------------------------------------------------- refresh


def test_a_refresh_for_a_named_account_spends_that_accounts_refresh_token():
    world, _alice, bob = alice_and_bob()
    world.service.refresh(user="bob@example.test")
    assert spent(world) == [bob.refresh_token]
    assert world.service.active_identity() == "alice@example.test"


def test_a_refresh_of_an_account_beside_an_api_key_on_top():
    doc = CredentialsDocument(
        api_key=KEY,
        label=Label(HERE, "keys@example.test"),
        others=(Account(HERE, "bob@example.test", oauth=OAuthTokens("at-b", "rt-unknown")),),
        active={API: "keys@example.test"},
        source="file_json",
    )
    world = World(doc)
    with pytest.raises(RefreshFailed):
        world.service.refresh(user="bob@example.test")
    assert spent(world) == ["rt-unknown"]


def test_a_refresh_with_nothing_here_names_where_the_person_is_signed_in():
    elsewhere = Environment("https://api.b.test", "https://auth.b.test/token", "cli")
    world = World(CredentialsDocument(oauth=OAuthTokens("at", "rt"), label=Label(elsewhere, "x"), source="file_json"))
    with pytest.raises(EnvironmentMismatch) as caught:
        world.service.refresh()
    assert caught.value.message == "Signed in to api.b.test; this command targets api.test"
    assert world.server.requests == []


def test_the_stale_token_check_uses_the_sessions_leeway():
    world = World()
    tokens = sign_in(world, "alice")
    patient = AuthService(CONFIG, world.ports, {}, API, leeway=3000.0)
    # 1500 s left: fresh by the default leeway (60 s), stale by this session's (capped at half the life: 1800 s)
    world.clock.advance(3600 - 1500)
    patient.refresh(stale_access_token="an-older-token")
    assert spent(world) == [tokens.refresh_token]


def test_a_refused_refresh_releases_the_interruptions_it_held_back():
    world = World(CredentialsDocument(oauth=OAuthTokens("at", "rt-unknown"), source="file_json"))
    shield = Guarded()
    world.service.ports = attrs.evolve(world.ports, shield=shield)
    with pytest.raises(RefreshFailed):
        world.service.refresh()
    assert shield.calls[0] == "arm"
    assert "disarm" in shield.calls


def test_a_credential_for_a_named_account_is_that_account_refreshed():
    world, _alice, bob = alice_and_bob()
    world.clock.advance(3600)
    credential = world.service.credential(user="bob@example.test")
    assert spent(world) == [bob.refresh_token]
    assert credential.identity == "bob@example.test"


def test_a_credential_already_refreshed_by_another_process_is_not_refreshed_again():
    world = World()
    old = sign_in(world, "alice")
    world.clock.advance(3600)
    stale = world.service.resolved()  # stale now, with the old token
    world.service.refresh()  # another process refreshes first
    before = len(world.server.token_requests)
    credential = world.service.credential(stale)
    assert len(world.server.token_requests) == before
    assert credential.secret == world.store.doc.oauth.access_token != old.access_token


def test_who_am_i_after_a_401_refreshes_the_credentials_own_account():
    world, _alice, bob = alice_and_bob()
    bob_credential = OAuthCredential(bob, "file_json", identity="bob@example.test")
    del world.server.access[bob.access_token]  # the server no longer accepts it
    world.service.whoami(bob_credential)
    assert spent(world) == [bob.refresh_token]


def test_who_am_i_after_a_401_uses_a_token_another_process_already_refreshed():
    world = World()
    old = sign_in(world, "alice")
    world.service.refresh()
    del world.server.access[old.access_token]
    before = len(world.server.token_requests)
    info = world.service.whoami(OAuthCredential(old, "file_json", identity="alice@example.test"))
    assert info.identity == "alice@example.test"
    assert len(world.server.token_requests) == before


# ---------------------------------------------------------------------------------------------- /v3/users/me


class Answers:
    """A transport that answers ``/v3/users/me`` from a list (a response, or an error to raise)."""

    def __init__(self, *outcomes: object) -> None:
        self.outcomes = list(outcomes)
        self.requests = []

    def send(self, request):
        self.requests.append(request)
        outcome = self.outcomes.pop(0) if len(self.outcomes) > 1 else self.outcomes[0]
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


def asking(*outcomes: object, config=CONFIG) -> tuple[World, Answers, AuthService]:
    world = World()
    http = Answers(*outcomes)
    ports = attrs.evolve(world.ports_with(http), entropy=lambda n: bytes(range(1, n + 1)))
    return world, http, AuthService(config, ports, {}, API)


def test_who_am_i_is_asked_again_after_a_server_trouble_with_backoff():
    world, http, service = asking(HttpResponse(503), HttpResponse(502), json_response(200, ME))
    assert service.whoami(ApiKeyCredential(KEY, "file_json")).identity == "keys@example.test"
    assert len(http.requests) == 3
    assert world.clock.sleeps == [jitter(0.5, b"\x01\x02"), jitter(1.0, b"\x01\x02")]


def test_who_am_i_waits_as_long_as_the_server_asks():
    world, _http, service = asking(HttpResponse(429, {"retry-after": "2"}), json_response(200, ME))
    service.whoami(ApiKeyCredential(KEY, "file_json"))
    assert world.clock.sleeps == [2.0]


def test_who_am_i_gives_up_after_three_tries():
    _world, http, service = asking(HttpResponse(503))
    with pytest.raises(ServerUnavailable):
        service.whoami(ApiKeyCredential(KEY, "file_json"))
    assert len(http.requests) == CONFIG.max_attempts


def test_who_am_i_retries_a_request_that_never_left_but_not_one_that_may_have():
    never = TransportError("api.test", "connection refused", sent=False)
    _world, http, service = asking(never, json_response(200, ME))
    service.whoami(ApiKeyCredential(KEY, "file_json"))
    assert len(http.requests) == 2
    maybe = TransportError("api.test", "reset after sending", sent=True)
    _world, http, service = asking(maybe, json_response(200, ME))
    with pytest.raises(TransportError) as caught:
        service.whoami(ApiKeyCredential(KEY, "file_json"))
    assert caught.value is maybe
    assert len(http.requests) == 1


def test_who_am_i_stays_within_the_operations_deadline():
    _world, http, service = asking(HttpResponse(503), config=attrs.evolve(CONFIG, deadline=10.0))
    with pytest.raises(ServerUnavailable):
        service.whoami(ApiKeyCredential(KEY, "file_json"))
    assert http.requests[0].timeout == 10.0
    _world, http, service = asking(HttpResponse(503), config=attrs.evolve(CONFIG, deadline=0.5))
    with pytest.raises(ServerUnavailable):
        service.whoami(ApiKeyCredential(KEY, "file_json"))
    assert [r.timeout for r in http.requests] == [0.5]  # a 0.5 s wait would leave nothing: no second try


# ---------------------------------------------------------------------------------------------- the rest


def _bob_active_under_alice() -> CredentialsDocument:
    """Alice on top of the file, Bob (an API key) beside her and the active account."""
    return CredentialsDocument(
        oauth=OAuthTokens("at-a"),
        label=Label(HERE, "alice@example.test"),
        others=(Account(HERE, "bob@example.test", api_key=KEY),),
        active={API: "bob@example.test"},
        source="file_json",
    )


def test_the_active_account_is_listed_first_even_when_not_on_top():
    world = World(_bob_active_under_alice())
    assert [a.identity for a in world.service.accounts()] == ["bob@example.test", "alice@example.test"]


def test_a_flow_that_ended_without_tokens_is_an_internal_error():
    with pytest.raises(AuthError) as caught:
        tokens_of(Revoked())
    assert caught.value.message == "Internal error: the sign-in ended in Revoked"


def test_with_accounts_only_elsewhere_nothing_is_used_and_the_person_is_told_where():
    elsewhere = Environment("https://api.b.test", "https://auth.b.test/token", "cli")
    world = World(CredentialsDocument(api_key=KEY, label=Label(elsewhere, "x"), source="file_json"))
    with pytest.raises(EnvironmentMismatch) as caught:
        world.service.resolved()
    assert caught.value.message == "Signed in to api.b.test; this command targets api.test"


def test_a_named_account_is_found_in_a_file_written_before_accounts_existed():
    world = World(CredentialsDocument(api_key=KEY, source="file_json"))
    assert world.service.resolved(user="").secret == KEY
    with pytest.raises(UnknownAccount) as caught:
        world.service.resolved(user="nobody")
    assert caught.value.accounts == ["(unknown user)"]


def test_the_active_account_is_moved_on_top_once_and_a_read_only_store_still_answers():
    doc = _bob_active_under_alice()
    world = World(doc)
    assert world.service.resolved().secret == KEY
    assert (world.store.writes, world.store.doc.api_key) == (1, KEY)
    assert world.service.resolved().secret == KEY
    assert world.store.writes == 1  # already on top: nothing to write
    read_only = world_with(doc, store=FullStore(doc, fail_commit=False))
    assert read_only.service.resolved().secret == KEY


def test_a_named_account_wins_over_the_environment_and_a_given_document_is_used():
    world = two_people()
    world.service.env = {"HEYGEN_API_KEY": "hg_env_key_12345"}
    assert world.service.resolved().secret == "hg_env_key_12345"
    assert world.service.resolved(user="bob@example.test").secret == KEY
    given = world.store.doc
    world.store.doc = CredentialsDocument()
    world.service.env = {}
    assert world.service.resolved(doc=given).secret == "at-alice"


def test_resolution_in_a_session_uses_its_leeway():
    world = World()
    signed_in(world)
    world.clock.advance(3600 - 1500)
    patient = AuthService(CONFIG, world.ports, {}, API, leeway=3000.0)
    assert patient.resolved().stale
    assert not world.service.resolved().stale


def test_a_refresh_here_works_while_accounts_elsewhere_exist():
    world = World()
    tokens = signed_in(world)
    elsewhere = Account(Environment("https://api.b.test", "https://auth.b.test/token", "cli"), "x", api_key=KEY)
    world.store.doc = attrs.evolve(world.store.doc, others=(*world.store.doc.others, elsewhere))
    assert world.service.refresh().access_token != tokens.access_token
