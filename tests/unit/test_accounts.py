"""``domain/accounts.py``: random sequences of sign-ins, switches, removals, moves and labels keep the file's promises.

Every credential generated here names where it came from (``at-<env>-<n>`` for OAuth tokens issued in ``ENVS[env]``,
``key-<api>-<n>`` for API keys of ``APIS[api]``, ``legacy-...`` for a file written before accounts existed), so the
checks can tell whether a credential ever ends up under another environment's label, is lost, or is duplicated.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hyperframes_auth.adapters.codec import read_document, write_document
from hyperframes_auth.domain.accounts import (
    accounts_in,
    active_account,
    all_accounts,
    environment,
    find,
    labelled,
    may_refresh,
    origin_of,
    promoted,
    replaced,
    same_place,
    switched,
    top_account,
    with_account,
)
from hyperframes_auth.domain.credentials import Account, CredentialsDocument, Environment, OAuthTokens, UserProfile

APIS = ("https://api.a.test", "https://api.b.test")
ENVS = (
    Environment(APIS[0], "https://auth.a.test/v1/oauth/token", "cli"),
    Environment(APIS[0], "https://auth2.a.test/v1/oauth/token", "cli"),  # same API, another token endpoint
    Environment(APIS[1], "https://auth.b.test/v1/oauth/token", "cli"),
)
IDENTITIES = (None, "alice@x.test", "ALICE@x.test", "bob@x.test", "Carol Jones")


def _lower(identity: str | None) -> str:
    return (identity or "").lower()


def _profile(identity: str | None) -> UserProfile | None:
    if identity is None:
        return None
    if "@" in identity:
        return UserProfile(email=identity)
    first, last = identity.split(" ")
    return UserProfile(first_name=first, last_name=last)


class Minter:
    """Fresh, self-describing credentials."""

    def __init__(self) -> None:
        self._numbers = itertools.count()

    def oauth(self, env_index: int | None) -> OAuthTokens:
        n = next(self._numbers)
        where = "legacy" if env_index is None else str(env_index)
        return OAuthTokens(f"at-{where}-{n}", f"rt-{where}-{n}", "2026-05-28T07:00:00.000Z", "openid", "Bearer")

    def key(self, api_index: int | None) -> str:
        n = next(self._numbers)
        return f"key-{'legacy' if api_index is None else api_index}-{n}"


def secrets(account: Account | None) -> list[str]:
    if account is None:
        return []
    found = [account.api_key] if account.api_key else []
    if account.oauth is not None:
        found += [account.oauth.access_token, account.oauth.refresh_token or ""]
    return found


def held(doc: CredentialsDocument) -> Counter[str]:
    return Counter(s for a in all_accounts(doc) for s in secrets(a))


# ---------------------------------------------------------------------------------------------- the invariants


def check(doc: CredentialsDocument) -> None:
    accounts = all_accounts(doc)
    labelled_ones = [a for a in accounts if a.environment is not None]
    # At most one account per (environment, identity).
    names = Counter((a.environment.api, _lower(a.identity)) for a in labelled_ones if a.environment)
    assert all(n == 1 for n in names.values()), names
    # Only the top-level slot may be unlabelled (a file written before accounts existed), and then it is alone.
    assert all(a.environment is not None for a in doc.others)
    if top_account(doc) is not None and doc.label is None:
        assert not doc.others
    # Every credential sits under the environment it came from: the top-level slot's label included.
    for account in labelled_ones:
        assert account.environment is not None
        if account.oauth is not None and not account.oauth.access_token.startswith("at-legacy"):
            assert ENVS[int(account.oauth.access_token.split("-")[1])] == account.environment, account
        if account.api_key and not account.api_key.startswith("key-legacy"):
            assert APIS[int(account.api_key.split("-")[1])] == account.environment.api, account
    # Every active entry names an account of that environment.
    for api, identity in doc.active.items():
        assert any(
            a.environment and a.environment.api == api and _lower(a.identity) == _lower(identity) for a in accounts
        )
    # The codec gives back an equal document.
    assert read_document(write_document(doc)).content() == doc.content()


# ---------------------------------------------------------------------------------------------- the operations

LOGIN = st.tuples(
    st.just("login"),
    st.integers(0, len(ENVS) - 1),
    st.sampled_from(IDENTITIES[1:]),  # a sign-in whose identity is unknown
    st.sampled_from(("oauth", "api_key", "both")),
)
SWITCH = st.tuples(st.just("switch"), st.integers(0, len(ENVS) - 1), st.sampled_from(IDENTITIES))
REPLACE = st.tuples(st.just("replace"), st.integers(0, 20), st.booleans())
PROMOTE = st.tuples(st.just("promote"), st.integers(0, len(ENVS) - 1), st.sampled_from((*IDENTITIES, "-")))
LABEL = st.tuples(st.just("label"), st.integers(0, len(ENVS) - 1))
OPERATIONS = st.lists(st.one_of(LOGIN, SWITCH, REPLACE, PROMOTE, LABEL), max_size=14)
STARTS = st.sampled_from(("empty", "legacy-oauth", "legacy-key", "legacy-both", "legacy-anonymous"))


def start(kind: str, mint: Minter) -> CredentialsDocument:
    if kind == "empty":
        return CredentialsDocument()
    oauth = mint.oauth(None) if kind in ("legacy-oauth", "legacy-both", "legacy-anonymous") else None
    key = mint.key(None) if kind in ("legacy-key", "legacy-both") else None
    user = None if kind == "legacy-anonymous" else UserProfile(email="alice@x.test")
    return CredentialsDocument(api_key=key, oauth=oauth, user=user, source="file_json")


def _existing(doc: CredentialsDocument, target: Environment, identity: str | None) -> Account | None:
    """The same person's account in ``target``'s place, found without ``accounts.find``."""
    same = [
        a
        for a in all_accounts(labelled(doc, target))
        if a.environment is not None and same_place(a.environment, target) and _lower(a.identity) == _lower(identity)
    ]
    assert len(same) <= 1
    return same[0] if same else None


def step(doc: CredentialsDocument, operation: tuple[object, ...], mint: Minter) -> CredentialsDocument:
    """Apply one operation, checking what it may do to the credentials held."""
    before = held(doc)
    kind = operation[0]
    if kind == "login":
        _, env_index, identity, what = operation
        assert isinstance(env_index, int)
        assert identity is None or isinstance(identity, str)
        env = ENVS[env_index]
        oauth = mint.oauth(env_index) if what in ("oauth", "both") else None
        key = mint.key(APIS.index(env.api)) if what in ("api_key", "both") else None
        new = Account(env if oauth else Environment(env.api), identity, key, oauth, _profile(identity))
        old = _existing(doc, env, identity)
        after = with_account(doc, new)
        # A new sign-in replaces only the same person's credential of the same kind there.
        expected = before + Counter(secrets(new))
        if old is not None and old.oauth is not None and oauth is not None:
            expected -= Counter(secrets(attrs.evolve(old, api_key=None)))
        if old is not None and old.api_key and key:
            expected -= Counter([old.api_key])
        assert held(after) == expected
        assert active_account(after, env) == top_account(after)
        assert _lower(top_account(after).identity) == _lower(identity)
        return after
    if kind == "replace":
        _, index, remove = operation
        accounts = all_accounts(doc)
        if not accounts:
            return doc
        assert isinstance(index, int)
        old = accounts[index % len(accounts)]
        env_index = ENVS.index(old.environment) if old.environment in ENVS else None
        api_index = APIS.index(old.environment.api) if old.environment else None
        new = (
            None
            if remove
            else attrs.evolve(
                old,
                oauth=mint.oauth(env_index) if old.oauth else None,
                api_key=mint.key(api_index) if old.api_key else None,
            )
        )
        after = replaced(doc, old, new)
        assert held(after) == before - Counter(secrets(old)) + Counter(secrets(new))
        return after
    if kind == "switch":
        _, env_index, identity = operation
        assert isinstance(env_index, int)
        assert isinstance(identity, str | None)
        env = ENVS[env_index]
        # As the service calls it: with the identity of an account found in the labelled document.
        chosen = find(labelled(doc, env), env, identity)
        after = switched(doc, env, chosen.identity or "") if chosen is not None else switched(doc, env, identity or "-")
        if chosen is not None and (doc.label is not None or top_account(doc) is None):
            assert _lower(active_account(after, env).identity) == _lower(identity)
            assert top_account(after) == active_account(after, env)
    elif kind == "promote":
        _, env_index, identity = operation
        assert isinstance(env_index, int)
        assert isinstance(identity, str | None)
        after = promoted(doc, ENVS[env_index], None if identity == "-" else identity)
        if identity == "-" and active_account(after, ENVS[env_index]) is not None:
            # What every command does first: the TypeScript CLI then sees the account ours uses there.
            assert top_account(after) == active_account(after, ENVS[env_index])
    else:
        _, env_index = operation
        assert isinstance(env_index, int)
        after = labelled(doc, ENVS[env_index])
    assert held(after) == before  # moving, switching and labelling never add, drop or copy a credential
    return after


@given(STARTS, OPERATIONS)
def test_random_sequences_keep_the_invariants(kind: str, operations: list[tuple[object, ...]]) -> None:
    mint = Minter()
    doc = start(kind, mint)
    check(doc)
    for operation in operations:
        doc = step(doc, operation, mint)
        check(doc)


# ---------------------------------------------------------------------------------------------- examples


def documents() -> Iterator[CredentialsDocument]:
    mint = Minter()
    alice = Account(ENVS[0], "alice@x.test", oauth=mint.oauth(0), user=_profile("alice@x.test"))
    bob = Account(ENVS[0], "bob@x.test", oauth=mint.oauth(0), user=_profile("bob@x.test"))
    carol = Account(ENVS[2], "Carol Jones", api_key=mint.key(1), user=_profile("Carol Jones"))
    yield with_account(with_account(with_account(CredentialsDocument(), alice), bob), carol)


def test_an_account_of_one_environment_is_invisible_in_another() -> None:
    doc = next(documents())
    assert [a.identity for a in accounts_in(doc, ENVS[0])] == ["bob@x.test", "alice@x.test"]
    assert [a.identity for a in accounts_in(doc, ENVS[2])] == ["Carol Jones"]
    assert active_account(doc, Environment("https://api.c.test", "https://auth.c.test/token", "cli")) is None
    assert find(doc, ENVS[2], "alice@x.test") is None


def test_a_refresh_token_may_go_only_where_it_was_issued() -> None:
    assert may_refresh(ENVS[0], ENVS[0])
    assert same_place(ENVS[0], ENVS[1])
    assert not may_refresh(ENVS[0], ENVS[1])  # same API, another token endpoint
    assert not may_refresh(ENVS[0], attrs.evolve(ENVS[0], client_id="other"))
    assert not may_refresh(ENVS[0], ENVS[2])


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://API.HeyGen.com/", "https://api.heygen.com"),
        ("https://api.heygen.com:443/v3", "https://api.heygen.com"),
        ("http://127.0.0.1:8080/x", "http://127.0.0.1:8080"),
        ("http://[::1]:80/", "http://[::1]"),
    ],
)
def test_origins_are_what_credentials_are_bound_to(url: str, origin: str) -> None:
    assert origin_of(url) == origin
    assert environment(url, "https://t/token", "c").api == origin


def test_a_person_the_typescript_cli_signed_in_again_stays_one_account() -> None:
    mint = Minter()
    alice = Account(ENVS[0], "alice@x.test", oauth=mint.oauth(0), user=_profile("alice@x.test"))
    carol = Account(ENVS[0], "carol@x.test", oauth=mint.oauth(0), user=_profile("carol@x.test"))
    doc = with_account(with_account(CredentialsDocument(), carol), alice)  # alice on top, carol aside
    # The TypeScript CLI signs carol in again: it replaces the top-level oauth and user blocks wholesale.
    theirs = attrs.evolve(doc, oauth=mint.oauth(0), user=_profile("carol@x.test"))
    names = [a.identity for a in all_accounts(labelled(theirs, ENVS[0]))]
    assert names.count("carol@x.test") == 1, names


def test_switching_in_a_file_from_before_labels_it_and_marks_its_account_active() -> None:
    doc = start("legacy-oauth", Minter())  # a slot without a label; its user block names alice
    after = switched(doc, ENVS[0], "alice@x.test")
    assert after.label is not None
    assert after.active == {ENVS[0].api: "alice@x.test"}
    assert active_account(after, ENVS[0]) == top_account(after)
    for api, identity in after.active.items():
        assert find(after, Environment(api), identity) is not None, after.active


def test_a_sign_in_of_unknown_identity_never_replaces_another_one() -> None:
    mint = Minter()
    first = Account(ENVS[0], None, oauth=mint.oauth(0))  # /v3/users/me failed after this sign-in
    second = Account(ENVS[0], None, oauth=mint.oauth(0))
    doc = with_account(with_account(CredentialsDocument(), first), second)
    assert held(doc) == Counter(secrets(first) + secrets(second))
