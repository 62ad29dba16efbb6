"""The use cases in the cases ``test_service.py`` leaves out: the guard around spending requests, saves that fail
after the server acted, the browser page's outcome, switching, and who is signed out (and how) by each logout."""

from __future__ import annotations

import errno
from contextlib import contextmanager

import attrs
import pytest

from hyperframes_auth.domain.accounts import with_account
from hyperframes_auth.domain.credentials import (
    Account,
    CredentialsDocument,
    Environment,
    Label,
    OAuthTokens,
    UserProfile,
)
from hyperframes_auth.domain.errors import (
    EnvironmentMismatch,
    StoreWriteFailed,
    TransportError,
    Unauthenticated,
    UnknownAccount,
)
from hyperframes_auth.domain.flow import Remark
from tests.fakes import API, CONFIG, FakeStore, World

HERE = Environment(API, CONFIG.token_url, CONFIG.client_id)
FULL = OSError(errno.ENOSPC, "No space left on device")


class Guarded:
    """A ``Shield`` that records what its guards were told."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    @contextmanager
    def __call__(self):
        outer = self

        class Guard:
            def arm(self) -> None:
                outer.calls.append("arm")

            def disarm(self) -> None:
                outer.calls.append("disarm")

        yield Guard()


class FullStore(FakeStore):
    """A store whose reserved write (``commit``) or plain write fails as on a full disk."""

    def __init__(self, doc: CredentialsDocument | None = None, *, fail_commit: bool = True) -> None:
        super().__init__(doc)
        self.fail_commit = fail_commit

    def commit(self, doc: CredentialsDocument) -> None:
        if self.fail_commit:
            raise StoreWriteFailed(self.location, FULL)
        super().commit(doc)

    def write(self, doc: CredentialsDocument) -> None:
        if not self.fail_commit:
            raise StoreWriteFailed(self.location, FULL)
        super().write(doc)


def world_with(doc: CredentialsDocument | None = None, *, store: FakeStore | None = None, **ports) -> World:
    world = World(doc)
    if store is not None:
        world.store = store
        ports["store"] = store
    world.ports = attrs.evolve(world.ports, **ports)
    world.service.ports = world.ports
    return world


def signed_in(world: World) -> OAuthTokens:
    world.service.login_browser()
    assert world.store.doc.oauth is not None
    return world.store.doc.oauth


# ---------------------------------------------------------------------------------------------- sign in


def test_a_browser_sign_in_defers_interruptions_from_the_exchange_and_saves_through_the_reserved_write():
    shield = Guarded()
    world = world_with(shield=shield)
    world.service.login_browser()
    assert shield.calls[:1] == ["arm"]
    assert world.store.commits == 1
    assert world.listener.outcome == (True, None)


def test_a_failed_browser_sign_in_tells_the_browser_why():
    world = World(user_approves=False)
    with pytest.raises(Exception, match="access_denied"):
        world.service.login_browser()
    assert world.listener.outcome == (
        False,
        "The authorization server returned access_denied: End-User aborted interaction",
    )


def test_tokens_that_cannot_be_saved_after_a_sign_in_say_so():
    world = world_with(store=FullStore())
    with pytest.raises(StoreWriteFailed) as caught:
        world.service.login_browser()
    assert caught.value.message == (
        "The sign-in succeeded, but could not save the credentials to memory://credentials: the disk is full; "
        "the new tokens are lost"
    )
    assert caught.value.hint == (
        "Free some space on the disk that holds memory:/, then try again. "
        "Then run `hyperframes auth login` to sign in again."
    )


def test_a_device_sign_in_is_guarded_saved_through_the_reserved_write_and_named():
    shield = Guarded()
    world = world_with(shield=shield)
    world.browser.user = None

    def approve(notice):
        world.notices.append(notice)
        device = getattr(notice, "device", None)
        if device is not None:
            world.server.approve_device(device.user_code)

    world.ports = attrs.evolve(world.ports, notify=approve)
    world.service.ports = world.ports
    world.service.login_device()
    assert "arm" in shield.calls
    assert world.store.commits == 1
    assert world.server.requests[0].timeout == CONFIG.request_timeout  # the code request had its whole time limit
    doc = world.store.doc
    assert doc.label.identity == "alice@example.test"
    assert doc.user == UserProfile(email="alice@example.test", username="alice")
    failing = world_with(store=FullStore())
    failing.ports = attrs.evolve(
        failing.ports, notify=lambda n: getattr(n, "device", None) and failing.server.approve_device(n.device.user_code)
    )
    failing.service.ports = failing.ports
    with pytest.raises(StoreWriteFailed) as caught:
        failing.service.login_device()
    assert caught.value.message.startswith("The sign-in succeeded, but could not save the credentials")


def test_a_refused_api_key_restores_an_oauth_only_file():
    tokens = OAuthTokens("at-kept", "rt-kept")
    world = World(CredentialsDocument(oauth=tokens))
    with pytest.raises(Unauthenticated) as caught:
        world.service.login_api_key("hg_refused_key_1")
    assert caught.value.rollback == "Rolled back to the previous credential."
    assert world.store.doc.oauth == tokens


# ---------------------------------------------------------------------------------------------- switching


def two_people() -> World:
    bob = Account(HERE, "bob@example.test", api_key="hg_valid_key_1234")
    doc = CredentialsDocument(
        oauth=OAuthTokens("at-alice", "rt-alice"),
        label=Label(HERE, "alice@example.test"),
        others=(bob,),
        active={API: "alice@example.test"},
        source="file_json",
    )
    return World(doc)


def test_switching_makes_the_account_active_and_puts_it_on_top():
    world = two_people()
    chosen = world.service.switch("BOB@example.test")
    assert chosen.identity == "bob@example.test"
    assert world.store.doc.active == {API: "bob@example.test"}
    assert world.store.doc.api_key == "hg_valid_key_1234"
    assert world.service.active_identity() == "bob@example.test"
    assert [a.identity for a in world.service.accounts()] == ["bob@example.test", "alice@example.test"]


def test_switching_to_nobody_names_who_is_here():
    world = two_people()
    with pytest.raises(UnknownAccount) as caught:
        world.service.switch("carol@example.test")
    assert caught.value.message == "No account 'carol@example.test' is signed in to api.test"
    assert caught.value.hint == "Accounts signed in here: alice@example.test, bob@example.test. Pick one with --user."
    assert world.store.writes == 0


def test_a_file_written_before_accounts_existed_lists_its_one_account():
    world = World(CredentialsDocument(api_key="hg_valid_key_1234", source="file_json"))
    assert [(a.identity, a.api_key) for a in world.service.accounts()] == [(None, "hg_valid_key_1234")]
    assert world.service.active_identity() is None
    assert World().service.accounts() == []
    assert World().service.active_identity() is None


# ---------------------------------------------------------------------------------------------- refresh


def test_a_refresh_token_is_never_sent_to_another_token_endpoint_or_client():
    elsewhere = Environment(API, "https://auth.other.test/v1/oauth/token", CONFIG.client_id)
    world = World(CredentialsDocument(oauth=OAuthTokens("at", "rt"), label=Label(elsewhere), source="file_json"))
    with pytest.raises(EnvironmentMismatch) as caught:
        world.service.refresh()
    assert caught.value.message == "Signed in to auth.other.test; a refresh would go to auth.test"
    other_client = Environment(API, CONFIG.token_url, "another-client")
    world = World(CredentialsDocument(oauth=OAuthTokens("at", "rt"), label=Label(other_client), source="file_json"))
    with pytest.raises(EnvironmentMismatch) as caught:
        world.service.refresh()
    assert caught.value.message == (
        "Signed in to auth.test as client another-client; a refresh would go to auth.test as client test-client"
    )
    assert world.server.requests == []


def test_a_refreshed_credential_is_the_accounts_and_from_the_file():
    world = World()
    signed_in(world)
    world.clock.advance(3600)
    credential = world.service.credential()
    assert (credential.source, credential.identity) == ("file_json", "alice@example.test")
    assert credential.secret == world.store.doc.oauth.access_token


def test_a_refresh_that_cannot_be_saved_says_the_tokens_are_lost():
    world = World()
    signed_in(world)
    world.store = FullStore(world.store.doc)
    world.service.ports = world.ports = attrs.evolve(world.ports, store=world.store)
    with pytest.raises(StoreWriteFailed) as caught:
        world.service.refresh()
    assert caught.value.message == (
        "The refresh succeeded at the server, but could not save the credentials to memory://credentials: "
        "the disk is full; the new tokens are lost"
    )


# ---------------------------------------------------------------------------------------------- sign out


def revocations(world: World) -> list[tuple[str, str | None]]:
    forms = [r.form() for r in world.server.requests if r.url.endswith("/revoke")]
    return [(f["token"], f.get("token_type_hint")) for f in forms]


def test_logout_revokes_refresh_then_access_token_and_by_default_removes_the_api_key_too():
    world = World(CredentialsDocument(api_key="hg_valid_key_1234", source="file_json"))
    tokens = signed_in(world)
    result = world.service.logout()
    assert revocations(world) == [(tokens.refresh_token, "refresh_token"), (tokens.access_token, "access_token")]
    assert (result.revoked, result.accounts, result.file_removed) == (True, ("alice@example.test",), True)
    assert world.store.doc == CredentialsDocument()


def test_logout_keeping_the_api_key_keeps_the_profile_it_describes():
    world = World(CredentialsDocument(api_key="hg_valid_key_1234", source="file_json"))
    signed_in(world)
    result = world.service.logout(keep_api_key=True)
    doc = world.store.doc
    assert (doc.api_key, doc.oauth, doc.user) == (
        "hg_valid_key_1234",
        None,
        UserProfile(email="alice@example.test", username="alice"),
    )
    assert result.file_removed is False


def test_logout_signs_out_the_active_account_the_named_one_or_everyone_here():
    world = two_people()
    result = world.service.logout()
    assert result.accounts == ("alice@example.test",)
    assert [a.identity for a in world.service.accounts()] == ["bob@example.test"]
    world = two_people()
    assert world.service.logout(user="bob@example.test").accounts == ("bob@example.test",)
    assert [a.identity for a in world.service.accounts()] == ["alice@example.test"]
    world = two_people()
    result = world.service.logout(everyone=True)
    assert result.accounts == ("alice@example.test", "bob@example.test")
    assert world.store.doc == CredentialsDocument()


def test_everyone_includes_accounts_after_one_without_oauth_and_unnamed_ones():
    doc = CredentialsDocument(
        api_key="hg_valid_key_1234",
        label=Label(HERE, "keys@example.test"),
        others=(Account(HERE, None, oauth=OAuthTokens("at-unnamed", "rt-unnamed")),),
        active={API: "keys@example.test"},
        source="file_json",
    )
    world = World(doc)
    result = world.service.logout(everyone=True)
    assert revocations(world) == [("rt-unnamed", "refresh_token"), ("at-unnamed", "access_token")]
    assert result.accounts == ("keys@example.test", "(unknown user)")
    assert result.revoked is True


def test_tokens_issued_elsewhere_are_not_revoked_here_and_the_remarks_add_up():
    elsewhere = Environment(API, "https://auth.other.test/v1/oauth/token", CONFIG.client_id)
    doc = CredentialsDocument(
        oauth=OAuthTokens("at-far", "rt-far"),
        label=Label(elsewhere, "far@example.test"),
        others=(Account(elsewhere, "far2@example.test", oauth=OAuthTokens("at-far2")),),
        active={API: "far@example.test"},
        source="file_json",
    )
    world = World(doc)
    result = world.service.logout(everyone=True)
    remark = "the OAuth tokens were not revoked: they were issued by auth.other.test, not this configuration's server."
    assert result.remarks == (remark, remark)
    assert [n for n in world.notices if isinstance(n, Remark)] == [Remark(remark), Remark(remark)]
    assert world.server.requests == []


def test_a_logout_whose_local_removal_fails_says_the_tokens_were_revoked():
    world = two_people()
    store = FullStore(world.store.doc, fail_commit=False)
    world = world_with(world.store.doc, store=store)
    with pytest.raises(StoreWriteFailed) as caught:
        world.service.logout()
    assert caught.value.message == (
        "Could not save the credentials to memory://credentials: the disk is full "
        "(the tokens were already revoked at the server)"
    )
    with pytest.raises(StoreWriteFailed) as caught:
        world.service.logout(user="bob@example.test")  # an API key only: nothing was revoked
    assert caught.value.message == "Could not save the credentials to memory://credentials: the disk is full"


def test_logging_out_of_an_unreadable_file_removes_it():
    world = World()
    world.store.broken = "not JSON"
    result = world.service.logout()
    assert (result.revoked, result.accounts, result.file_removed) == (False, (), True)
    assert world.store.deleted == 1


def _alice_beside_an_unnamed_key() -> CredentialsDocument:
    """Alice on top and active, with an API key of nobody in particular beside her."""
    return CredentialsDocument(
        oauth=OAuthTokens("at-alice", "rt-alice"),
        label=Label(HERE, "alice@example.test"),
        others=(Account(HERE, None, api_key="hg_valid_key_1234"),),
        active={API: "alice@example.test"},
        source="file_json",
    )


def test_switching_to_the_unnamed_account():
    world = World(_alice_beside_an_unnamed_key())
    assert world.service.switch("").identity is None
    assert world.store.doc.active == {API: ""}
    assert world.store.doc.api_key == "hg_valid_key_1234"


def test_logging_out_one_account_leaves_an_unnamed_one_alone():
    world = World(_alice_beside_an_unnamed_key())
    world.service.logout(user="alice@example.test")
    assert [(a.identity, a.api_key) for a in world.service.accounts()] == [(None, "hg_valid_key_1234")]


def test_every_revocation_that_failed_is_remarked():
    world = two_people()
    world.store.doc = attrs.evolve(
        world.store.doc, others=(Account(HERE, "bob@example.test", oauth=OAuthTokens("at-bob", "rt-bob")),)
    )
    world.server.fail_with = TransportError("auth.test", "connection refused")
    result = world.service.logout(everyone=True)
    assert len(result.remarks) == 4  # refresh and access token of each of the two accounts


def test_a_sign_in_does_not_name_tokens_another_sign_in_put_on_top_meanwhile():
    world = World()
    other = OAuthTokens("at-other-process")

    class Racing:
        """The server, but another process signs someone in while /v3/users/me is being asked."""

        def send(self, request):
            if request.url.endswith("/v3/users/me") and world.store.doc.oauth != other:
                world.store.doc = with_account(world.store.doc, Account(HERE, None, oauth=other))
            return world.server.send(request)

    world.service.ports = attrs.evolve(world.ports, http=Racing())
    world.service.login_browser()
    named = {a.oauth.access_token: a.identity for a in world.service.accounts()}
    assert named["at-other-process"] is None
    assert sorted(v for v in named.values() if v) == ["alice@example.test"]
