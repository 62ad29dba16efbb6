"""The account rules one case at a time: who merges with whom, who becomes active, what stays where.

``test_accounts.py`` checks invariants over random sequences; these are the specific cases behind them, each with
the whole resulting document spelled out.
"""

from __future__ import annotations

import pytest

from hyperframes_auth.domain.accounts import (
    accounts_in,
    active_account,
    all_accounts,
    identified,
    labelled,
    merge,
    other_environments,
    promoted,
    replaced,
    switched,
    top_account,
    with_account,
)
from hyperframes_auth.domain.credentials import (
    Account,
    CredentialsDocument,
    Environment,
    Label,
    OAuthTokens,
    UserProfile,
    fingerprint,
)

HERE = Environment("https://api.a.test", "https://auth.a.test/token", "cli")
THERE = Environment("https://api.b.test", "https://auth.b.test/token", "cli")
T_ALICE = OAuthTokens("at-alice", "rt-alice")
T_BOB = OAuthTokens("at-bob", "rt-bob")
T_NEW = OAuthTokens("at-new", "rt-new")


def doc_of(top: Account, *others: Account, active: dict[str, str] | None = None) -> CredentialsDocument:
    label = Label(top.environment, top.identity, fingerprint(top.api_key) if top.api_key else None)
    return CredentialsDocument(
        api_key=top.api_key,
        oauth=top.oauth,
        user=top.user,
        label=label if top.environment else None,
        others=others,
        active=active if active is not None else {top.environment.api: top.identity or ""},
        source="file_json",
    )


def names(doc: CredentialsDocument) -> list[tuple[str, str | None]]:
    return [(a.environment.api if a.environment else "-", a.identity) for a in all_accounts(doc)]


def test_other_environments_lists_each_other_api_once_in_order():
    doc = doc_of(
        Account(HERE, "alice", oauth=T_ALICE),
        Account(THERE, "bob", oauth=T_BOB),
        Account(THERE, "carol", api_key="key-carol-1"),
        Account(HERE, "dave", api_key="key-dave-1"),
    )
    assert other_environments(doc, HERE) == [THERE.api]
    assert other_environments(doc, THERE) == [HERE.api]
    unlabelled = CredentialsDocument(oauth=T_ALICE)
    assert other_environments(unlabelled, THERE) == []


def test_a_new_account_must_name_its_environment():
    with pytest.raises(ValueError, match=r"^a new account names its environment$"):
        with_account(CredentialsDocument(), Account(None, "alice", oauth=T_ALICE))


def test_a_named_sign_in_never_joins_an_unnamed_account():
    doc = doc_of(Account(HERE, None, api_key="key-unnamed-1"))
    after = with_account(doc, Account(HERE, "alice", oauth=T_ALICE))
    assert names(after) == [(HERE.api, "alice"), (HERE.api, None)]
    assert (after.oauth, after.api_key) == (T_ALICE, None)
    assert after.others[0].api_key == "key-unnamed-1"
    assert after.active == {HERE.api: "alice"}


def test_an_unnamed_sign_in_joins_the_unnamed_account_it_replaces_nothing_of():
    doc = doc_of(Account(HERE, None, api_key="key-unnamed-1"))
    after = with_account(doc, Account(HERE, None, oauth=T_NEW))
    assert names(after) == [(HERE.api, None)]
    assert (after.api_key, after.oauth) == ("key-unnamed-1", T_NEW)
    assert after.active == {HERE.api: ""}


def test_merging_keeps_what_the_new_sign_in_did_not_bring():
    old = Account(
        THERE,
        "alice",
        api_key="key-alice-1",
        oauth=T_ALICE,
        user=UserProfile(email="alice@x", extra={"plan": "pro", "seen": 1}),
        extra={"note": "old", "kept": True},
    )
    new = Account(
        HERE,
        "alice",
        api_key="key-alice-2",
        user=UserProfile(email="alice@y", extra={"seen": 2}),
        extra={"note": "new"},
    )
    merged = merge(old, new)
    assert merged.environment == THERE  # the OAuth tokens are the old ones: the account stays where they came from
    assert (merged.api_key, merged.oauth, merged.identity) == ("key-alice-2", T_ALICE, "alice")
    assert merged.user == UserProfile(email="alice@y", extra={"plan": "pro", "seen": 2})
    assert merged.extra == {"note": "new", "kept": True}
    assert merge(old, Account(HERE, "alice", oauth=T_NEW)).environment == HERE
    assert merge(old, Account(HERE, "alice", oauth=T_NEW)).user == old.user
    keys_only = merge(Account(THERE, "alice", api_key="k1"), Account(HERE, "alice", api_key="k2"))
    assert keys_only.environment == HERE


def test_naming_an_account_that_is_not_on_top_moves_it_there_and_keeps_the_one_that_was():
    doc = doc_of(
        Account(HERE, "alice", oauth=T_ALICE),
        Account(HERE, None, oauth=T_NEW),
        Account(THERE, "carol", oauth=T_BOB),
        active={HERE.api: "alice", THERE.api: "carol"},
    )
    after = identified(doc, HERE, lambda a: a.oauth == T_NEW, "bob", UserProfile(email="bob@x"))
    assert names(after) == [(HERE.api, "bob"), (HERE.api, "alice"), (THERE.api, "carol")]
    assert (after.oauth, after.user) == (T_NEW, UserProfile(email="bob@x"))
    assert after.others[0].oauth == T_ALICE
    assert after.active == {HERE.api: "bob", THERE.api: "carol"}


def test_naming_keeps_the_profile_when_the_answer_had_none_and_changes_nothing_when_the_tokens_are_gone():
    doc = doc_of(
        Account(HERE, None, oauth=T_NEW, user=UserProfile(username="cached")),
        Account(THERE, "carol", oauth=T_BOB),
        active={HERE.api: "", THERE.api: "carol"},
    )
    after = identified(doc, HERE, lambda a: a.oauth == T_NEW, "bob", UserProfile())
    assert (after.label.identity, after.user) == ("bob", UserProfile(username="cached"))
    assert after.active == {HERE.api: "bob", THERE.api: "carol"}
    assert identified(doc, HERE, lambda a: False, "bob", UserProfile(email="bob@x")) == doc


def test_naming_labels_a_file_written_before_accounts_existed():
    legacy = CredentialsDocument(oauth=T_NEW, source="file_json")
    after = identified(legacy, HERE, lambda a: a.oauth == T_NEW, "bob", UserProfile(email="bob@x"))
    assert after.label == Label(HERE, "bob", None)
    assert after.active == {HERE.api: "bob"}


def test_the_next_account_of_the_same_environment_takes_the_place_of_one_removed():
    doc = doc_of(
        Account(HERE, "alice", oauth=T_ALICE),
        Account(THERE, "bob", oauth=T_BOB),
        Account(HERE, "carol", api_key="key-carol-1"),
    )
    after = replaced(doc, top_account(doc), None)
    assert names(after) == [(HERE.api, "carol"), (THERE.api, "bob")]
    assert after.active == {HERE.api: "carol"}
    assert after.api_key == "key-carol-1"


def test_switching_to_the_unnamed_account():
    doc = doc_of(Account(HERE, "alice", oauth=T_ALICE), Account(HERE, None, api_key="key-unnamed-1"))
    after = switched(doc, HERE, "")
    assert after.active == {HERE.api: ""}
    assert (after.api_key, after.oauth) == ("key-unnamed-1", None)
    assert names(after) == [(HERE.api, None), (HERE.api, "alice")]


def test_relabelling_after_the_typescript_cli_signed_someone_else_in_touches_no_other_environment():
    # The TypeScript CLI replaced the OAuth session and the profile in its slot (the label still says alice).
    doc = CredentialsDocument(
        oauth=T_BOB,
        user=UserProfile(email="bob"),
        label=Label(HERE, "alice", None),
        others=(Account(THERE, "bob", oauth=OAuthTokens("at-bob-there")), Account(HERE, "carol", api_key="key-c-1")),
        active={HERE.api: "alice", THERE.api: "bob"},
        source="file_json",
    )
    after = labelled(doc, HERE)
    assert names(after) == [(HERE.api, "bob"), (THERE.api, "bob"), (HERE.api, "carol")]
    assert after.others[0].oauth == OAuthTokens("at-bob-there")
    assert after.active == {HERE.api: "bob", THERE.api: "bob"}
    assert [a.identity for a in accounts_in(after, THERE)] == ["bob"]


def test_after_the_typescript_cli_signed_in_with_another_api_key_the_key_is_the_new_persons():
    doc = CredentialsDocument(
        api_key="key-bob-1",
        oauth=T_ALICE,
        user=UserProfile(email="bob"),
        label=Label(HERE, "alice", fingerprint("key-alice-1")),
        active={HERE.api: "alice"},
        source="file_json",
    )
    after = labelled(doc, HERE)
    assert (after.api_key, after.oauth, after.user) == ("key-bob-1", None, UserProfile(email="bob"))
    assert after.label == Label(Environment(HERE.api), "bob", fingerprint("key-bob-1"))
    assert after.others == (Account(HERE, "alice", oauth=T_ALICE),)
    assert after.active == {HERE.api: "bob"}


def test_after_the_typescript_cli_signed_in_by_browser_the_oauth_session_is_the_new_persons():
    doc = CredentialsDocument(
        api_key="key-alice-1",
        oauth=T_BOB,
        user=UserProfile(email="bob"),
        label=Label(HERE, "alice", fingerprint("key-alice-1")),
        active={HERE.api: "alice"},
        source="file_json",
    )
    after = labelled(doc, HERE)
    assert (after.api_key, after.oauth, after.label) == (None, T_BOB, Label(HERE, "bob", None))
    assert after.others == (Account(Environment(HERE.api), "alice", api_key="key-alice-1"),)


def test_which_account_is_active_when_the_file_names_none():
    b1, b2 = Account(HERE, "b1", api_key="key-b1-1"), Account(HERE, "b2", api_key="key-b2-1")
    elsewhere_on_top = doc_of(Account(THERE, "t", oauth=T_ALICE), b1, b2, active={})
    assert active_account(elsewhere_on_top, HERE) == b1
    no_top = CredentialsDocument(others=(b1, b2), source="file_json")
    assert active_account(no_top, HERE) == b1
    unknown = doc_of(Account(HERE, "top", api_key="key-top-1"), b1, active={HERE.api: "gone"})
    assert active_account(unknown, HERE).identity == "top"


def test_promoting_a_named_account_or_nobody():
    doc = doc_of(Account(HERE, "alice", oauth=T_ALICE), Account(HERE, "bob", api_key="key-bob-1"))
    after = promoted(doc, HERE, "bob")
    assert names(after) == [(HERE.api, "bob"), (HERE.api, "alice")]
    assert promoted(doc, HERE, "nobody") == doc
    assert promoted(doc, HERE) == doc


def test_removing_the_active_account_from_beside_the_top_one_makes_the_top_one_active():
    doc = doc_of(
        Account(HERE, "alice", oauth=T_ALICE), Account(HERE, "bob", api_key="key-bob-1"), active={HERE.api: "bob"}
    )
    after = replaced(doc, doc.others[0], None)
    assert after.active == {HERE.api: "alice"}
    assert replaced(doc, doc.others[0], Account(HERE, "bob")) == after  # nothing left in it: removed


def test_removing_unnamed_accounts_keeps_active_right():
    unnamed_active = doc_of(Account(HERE, None, api_key="key-u-1"), Account(HERE, "bob", api_key="key-bob-1"))
    assert replaced(unnamed_active, top_account(unnamed_active), None).active == {HERE.api: "bob"}
    named_active = doc_of(Account(HERE, "bob", api_key="key-bob-1"), Account(HERE, None, api_key="key-u-1"))
    assert replaced(named_active, top_account(named_active), None).active == {HERE.api: ""}
    alone = doc_of(Account(HERE, None, api_key="key-u-1"), active={})
    assert replaced(alone, top_account(alone), None).active == {}


def test_a_person_the_typescript_cli_signed_in_again_gets_their_account_back_merged():
    doc = CredentialsDocument(
        oauth=T_BOB,
        user=UserProfile(email="bob"),
        label=Label(HERE, "alice", None),
        others=(Account(HERE, "bob", api_key="key-bob-1"),),
        active={HERE.api: "alice"},
        source="file_json",
    )
    after = labelled(doc, HERE)
    assert (after.api_key, after.oauth, after.label.identity) == ("key-bob-1", T_BOB, "bob")
    assert after.others == ()


def test_a_file_written_before_accounts_existed_is_labelled_for_where_it_is_first_used():
    keys = labelled(CredentialsDocument(api_key="key-1", source="file_json"), HERE)
    assert keys.label == Label(Environment(HERE.api), None, fingerprint("key-1"))  # a key: the API only
    assert keys.active == {HERE.api: ""}
    tokens = labelled(CredentialsDocument(oauth=T_ALICE, user=UserProfile(email="a@x"), source="file_json"), HERE)
    assert tokens.label == Label(HERE, "a@x", None)  # tokens: the token endpoint and client too
    assert tokens.active == {HERE.api: "a@x"}
    assert len(fingerprint("key-1")) == 16


def test_an_unlabelled_top_account_is_the_active_one_anywhere():
    legacy = CredentialsDocument(api_key="key-1", source="file_json")
    assert active_account(legacy, HERE) == Account(None, api_key="key-1")
