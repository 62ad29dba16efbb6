"""The quick read of ``auth token`` never disagrees with the full path.

Over generated credentials files (well-formed and not, labelled for this environment or another or not at all,
fresh, stale, expired or garbage expiries, several accounts, profiles naming someone else), whenever
``quick_credential`` answers, the full path (the codec's reader, then ``Session.resolved``) gives the same
credential without needing a refresh. When the quick read declines, nothing is asserted: the full path decides.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hyperframes_auth.adapters.codec import read_document
from hyperframes_auth.domain.errors import AuthError
from hyperframes_auth.domain.primitives import format_instant, origin_of
from hyperframes_auth.domain.quick import quick_credential
from hyperframes_auth.domain.resolve import OAuthCredential
from tests.fakes import API, CONFIG, T0, FakeStore, World

HERE = origin_of(API)
ELSEWHERE = "https://api.elsewhere.test"
PEOPLE = ["alice@example.test", "bob@example.test", "ALICE@example.test", ""]

instants = st.sampled_from(
    [
        None,
        "garbage",
        "0001-01-01T00:00:00Z",
        "9999-12-31T23:00:00-05:00",
        format_instant(T0 - timedelta(hours=1)),
        format_instant(T0 + timedelta(seconds=30)),
        format_instant(T0 + timedelta(seconds=90)),
        format_instant(T0 + timedelta(hours=1)),
        5,
    ]
)


def _base(identity: str, *, with_oauth: bool, expires_at: object) -> dict[str, object]:
    """A file as our own writer leaves it after a sign-in in this environment."""
    root: dict[str, object] = {"user": {"email": identity}} if identity else {}
    if with_oauth:
        root["oauth"] = {"access_token": "at_fresh_1", "refresh_token": "rt_1", "expires_at": expires_at}
    else:
        root["api_key"] = "hg_key_12345"
    root["hyperframes_auth"] = {
        "version": 1,
        "top": {"environment": {"api": HERE, "token_url": CONFIG.token_url, "client_id": CONFIG.client_id}},
        "active": {HERE: identity},
    }
    if identity:
        root["hyperframes_auth"]["top"]["identity"] = identity  # type: ignore[index]
    return root


def _set(path: tuple[str, ...], value: object) -> object:
    def damage(root: dict[str, object]) -> None:
        node: object = root
        for key in path[:-1]:
            if not isinstance(node, dict) or not isinstance(node.get(key), dict):
                return
            node = node[key]
        if isinstance(node, dict):
            node[path[-1]] = value

    return damage


DAMAGES = [
    _set(("hyperframes_auth", "version"), 2),
    _set(("hyperframes_auth",), "x"),
    _set(("hyperframes_auth", "top", "environment"), {"api": ELSEWHERE}),
    _set(("hyperframes_auth", "top", "environment"), {"api": HERE}),
    _set(("hyperframes_auth", "top", "environment"), "x"),
    _set(("hyperframes_auth", "top", "identity"), "bob@example.test"),
    _set(("hyperframes_auth", "active"), {HERE: "bob@example.test"}),
    _set(("hyperframes_auth", "active"), {HERE: "ALICE@example.test"}),
    _set(("hyperframes_auth", "active"), {}),
    _set(("hyperframes_auth", "active"), "x"),
    _set(("hyperframes_auth", "accounts"), [{"environment": {"api": HERE}, "identity": "bob@example.test"}]),
    _set(
        ("hyperframes_auth", "accounts"),
        [{"environment": {"api": HERE}, "identity": "bob@example.test", "api_key": "hg_bobs_key_1"}],
    ),
    _set(("hyperframes_auth", "accounts"), [{"environment": {"api": HERE}, "api_key": "bad\nkey"}]),
    _set(("hyperframes_auth", "accounts"), [{"environment": "x"}]),
    _set(("hyperframes_auth", "accounts"), "x"),
    _set(("user",), {"email": "bob@example.test"}),
    _set(("user",), {"email": 5, "username": "alice@example.test"}),
    _set(("user",), "x"),
    _set(("oauth", "access_token"), "a b"),
    _set(("oauth", "access_token"), ""),
    _set(("oauth", "refresh_token"), "r\nt"),
    _set(("oauth", "expires_at"), "garbage"),
    _set(("oauth", "expires_at"), 5),
    _set(("oauth", "obtained_at"), format_instant(T0 + timedelta(minutes=59))),
    _set(("oauth",), ["x"]),
    _set(("api_key",), "hg_key_67890"),
    _set(("api_key",), ""),
    _set(("api_key",), "bad\nkey"),
    _set(("extra_field",), {"kept": True}),
]


@st.composite
def files(draw: st.DrawFn) -> object:
    """A well-formed file (as our writer leaves it), then zero or more damages of the kinds the full reader judges."""
    root = _base(draw(st.sampled_from(PEOPLE)), with_oauth=draw(st.booleans()), expires_at=draw(instants))
    for damage in draw(st.lists(st.sampled_from(DAMAGES), max_size=3)):
        damage(root)
    return root


def _agrees(root: object, now: datetime) -> None:
    quick = quick_credential(root, HERE, now)
    if quick is None:
        return
    world = World()
    world.clock.advance((now - T0).total_seconds())
    try:
        world.store.doc = read_document(json.dumps(root))
        credential = world.service.resolved()
    except AuthError as exc:
        pytest.fail(f"the quick read answered {quick[1]} but the full path raised {exc!r}")
    secret, kind, _expires = quick
    assert (credential.secret, credential.kind) == (secret, kind)
    assert not (isinstance(credential, OAuthCredential) and credential.refreshable)  # no refresh was needed
    assert world.server.requests == []  # and nothing was sent


BASES = [("alice@example.test", True), ("alice@example.test", False), ("", True), ("", False)]
PAIRS = [(a, b) for a in range(len(DAMAGES)) for b in range(a, len(DAMAGES))]


@pytest.mark.parametrize(("identity", "with_oauth"), BASES)
def test_every_single_damage_and_every_pair_agree(identity, with_oauth):
    for first, second in PAIRS:
        root = _base(identity, with_oauth=with_oauth, expires_at=format_instant(T0 + timedelta(hours=1)))
        DAMAGES[first](root)
        DAMAGES[second](root)
        _agrees(root, T0)


@settings(max_examples=300)
@given(files(), st.sampled_from([T0, T0 + timedelta(minutes=59, seconds=30), T0 + timedelta(hours=2)]))
def test_whenever_the_quick_read_answers_the_full_path_gives_the_same_credential(root, now):
    _agrees(root, now)


def test_the_generated_files_include_ones_the_quick_read_answers_for():
    from hypothesis import find

    assert find(files(), lambda root: (quick_credential(root, HERE, T0) or ("", ""))[1] == "oauth")
    assert find(files(), lambda root: (quick_credential(root, HERE, T0) or ("", ""))[1] == "api_key")


def test_the_quick_read_answers_for_a_plain_fresh_sign_in():
    world = World()
    world.service.login_browser()
    root = json.loads(json.dumps(_tree(world.store)))
    secret, kind, expires = quick_credential(root, HERE, T0) or ("", "", None)
    assert (secret, kind) == (world.store.doc.oauth.access_token, "oauth")
    assert expires == world.store.doc.oauth.expires_at
    assert quick_credential(root, ELSEWHERE, T0) is None  # another environment: the full path explains
    assert quick_credential(root, HERE, T0 + timedelta(hours=1)) is None  # stale: the full path refreshes


def _tree(store: FakeStore) -> object:
    from hyperframes_auth.adapters.codec import document_tree

    return document_tree(store.doc)


# ---------------------------------------------------------------------------------------------- when it answers
# Declining is always safe, so the agreement tests above cannot tell a quick read that declines too often. Its
# purpose is to answer `auth token` without importing attrs: these are files it must answer for, and files where
# only the full path can decide. Every answer is also checked against the full path.

FRESH = format_instant(T0 + timedelta(hours=1))


def _answer(root: dict[str, object], now: datetime = T0, leeway: float = 60.0) -> tuple[str, str, str | None] | None:
    answer = quick_credential(root, HERE, now, leeway)
    if answer is not None and leeway == 60.0:
        _agrees(root, now)
    return answer


def _with(root: dict[str, object], *damages: object) -> dict[str, object]:
    for damage in damages:
        damage(root)  # type: ignore[operator]
    return root


def test_it_answers_for_an_oauth_sign_in_an_api_key_and_an_unnamed_sign_in():
    assert _answer(_base("alice@example.test", with_oauth=True, expires_at=FRESH)) == ("at_fresh_1", "oauth", FRESH)
    assert _answer(_base("alice@example.test", with_oauth=False, expires_at=None)) == ("hg_key_12345", "api_key", None)
    assert _answer(_base("", with_oauth=True, expires_at=FRESH)) == ("at_fresh_1", "oauth", FRESH)
    assert _answer(_base("", with_oauth=True, expires_at=None)) == ("at_fresh_1", "oauth", None)
    assert _answer(_base("", with_oauth=True, expires_at="2026-05-28T07:00:00+00:00")) == (
        "at_fresh_1",
        "oauth",
        "2026-05-28T07:00:00.000Z",
    )


def test_it_answers_when_the_optional_parts_of_our_key_are_absent_or_valid():
    root = _base("alice@example.test", with_oauth=True, expires_at=FRESH)
    del root["hyperframes_auth"]["active"]  # type: ignore[attr-defined]
    assert _answer(root) is not None
    other = {"environment": {"api": ELSEWHERE}, "identity": "bob@example.test", "oauth": {"access_token": "at_b"}}
    assert _answer(
        _with(
            _base("alice@example.test", with_oauth=True, expires_at=FRESH),
            _set(("hyperframes_auth", "accounts"), [other]),
        )
    )


@pytest.mark.parametrize(
    "damage",
    [
        _set(("hyperframes_auth", "top"), "x"),
        _set(("hyperframes_auth", "accounts"), [{"environment": {"api": HERE}, "oauth": {"access_token": "a b"}}]),
        _set(("hyperframes_auth", "accounts"), [{"oauth": {"access_token": "at"}}]),
        _set(("user",), {"first_name": "Bob", "username": "alice@example.test"}),
        _set(("user",), {"last_name": "Bob", "username": "alice@example.test"}),
        _set(("user",), {"username": "bob"}),
        _set(("hyperframes_auth", "top", "identity"), 5),
    ],
    ids=[
        "top-not-an-object",
        "other-bad-token",
        "other-no-environment",
        "first-name",
        "last-name",
        "username",
        "identity-not-text",
    ],
)
def test_it_declines_what_only_the_full_path_can_judge(damage):
    assert _answer(_with(_base("alice@example.test", with_oauth=True, expires_at=FRESH), damage)) is None


def test_the_leeway_is_the_callers_and_at_most_half_the_tokens_life():
    near = format_instant(T0 + timedelta(seconds=50))
    assert (
        _answer(_base("alice@example.test", with_oauth=True, expires_at=near)) is None
    )  # within the default 60 s: stale
    assert (
        quick_credential(_base("alice@example.test", with_oauth=True, expires_at=near), HERE, T0, leeway=10.0)
        is not None
    )
    short_lived = _with(
        _base("alice@example.test", with_oauth=True, expires_at=near),
        _set(("oauth", "obtained_at"), format_instant(T0 - timedelta(seconds=30))),
    )
    assert _answer(short_lived) == ("at_fresh_1", "oauth", near)  # an 80 s token: stale only in its last 40 s
