"""The credentials document shared with the TypeScript CLI: its format (docs/FILE-FORMAT.md), the merge rules of a
sign-in, and unknown keys and the cached ``user`` block surviving every rewrite."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hyperframes_auth.adapters.codec import read_document as parse_document
from hyperframes_auth.adapters.codec import write_document as render_document
from hyperframes_auth.domain.credentials import (
    CredentialsDocument,
    OAuthTokens,
    UserProfile,
    with_api_key,
    with_login,
    with_refresh,
    with_user,
    without_oauth,
)
from hyperframes_auth.domain.errors import InvalidStore
from hyperframes_auth.domain.primitives import format_instant, parse_instant
from tests.fakes import T0

FULL = OAuthTokens("at_1", "rt_1", "2026-05-28T07:00:00.000Z", "openid profile", "Bearer")


def roundtrip(doc: CredentialsDocument) -> CredentialsDocument:
    return parse_document(render_document(doc))


@pytest.mark.parametrize(
    "doc",
    [
        CredentialsDocument(api_key="hg_abcdefgh"),
        CredentialsDocument(oauth=FULL),
        CredentialsDocument(api_key="hg_abcdefgh", oauth=FULL),
    ],
)
def test_round_trips(doc):
    assert roundtrip(doc).content() == doc.content()


def test_absent_and_empty_are_absent():
    assert parse_document("").source == "absent"
    assert parse_document("  \n").source == "absent"


def test_legacy_plaintext_key_is_read_and_upgraded_on_write():
    doc = parse_document("hg_legacy_key\n")
    assert (doc.api_key, doc.source) == ("hg_legacy_key", "file_legacy")
    assert json.loads(render_document(doc)) == {"api_key": "hg_legacy_key"}
    assert parse_document("sk_V2_abcdefghijkl").api_key == "sk_V2_abcdefghijkl"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "invalid JSON"),
        ("line one\nline two", "not JSON and does not look like a plain API key"),
        ("has a space", "not JSON"),
        ("tiny", "not JSON"),
        ("[1, 2]", "not JSON"),
        ('{"api_key": ""}', "api_key must be a non-empty string"),
        ('{"api_key": 5}', "api_key must be a non-empty string"),
        ('{"api_key": "abc\\r\\ndef"}', "control characters"),
        ('{"oauth": []}', "oauth must be a JSON object"),
        ('{"oauth": {"refresh_token": "x"}}', "oauth.access_token"),
        ('{"oauth": {"access_token": "a\\nb"}}', "oauth.access_token"),
        ('{"api_key": NaN}', "invalid JSON"),
        ("{" * 5000 + "}" * 5000, "invalid JSON"),
    ],
)
def test_invalid_files_raise_invalid_store(text, message):
    with pytest.raises(InvalidStore, match=message) as info:
        parse_document(text)
    assert info.value.code == "INVALID_STORE"


def test_json_root_must_be_an_object():
    with pytest.raises(InvalidStore, match="invalid JSON"):
        parse_document('{"api_key": null}x')
    assert parse_document('{"api_key": null, "oauth": null}').content() == CredentialsDocument().content()


def test_refresh_token_with_control_characters_is_dropped_but_access_token_kept():
    doc = parse_document('{"oauth": {"access_token": "at", "refresh_token": "r\\nt"}}')
    assert doc.oauth is not None
    assert doc.oauth.access_token == "at"
    assert doc.oauth.refresh_token is None


def test_unknown_keys_survive_a_rewrite_at_every_level():
    text = json.dumps(
        {
            "api_key": "hg_abcdefgh",
            "oauth": {"access_token": "at", "future_oauth": {"x": 1}},
            "user": {"email": "a@b.c", "avatar": "u.png"},
            "future_field": [1, 2],
        },
    )
    doc = with_refresh(parse_document(text), OAuthTokens("at2"))
    out = json.loads(render_document(doc))
    assert out["future_field"] == [1, 2]
    assert out["oauth"]["future_oauth"] == {"x": 1}
    assert out["oauth"]["access_token"] == "at2"
    assert out["user"] == {"email": "a@b.c", "avatar": "u.png"}


def test_render_order_and_format():
    text = render_document(CredentialsDocument(api_key="hg_abcdefgh", oauth=FULL))
    assert text.endswith("\n")
    assert list(json.loads(text)) == ["api_key", "oauth"]
    assert list(json.loads(text)["oauth"]) == [
        "access_token",
        "refresh_token",
        "expires_at",
        "scope",
        "token_type",
    ]
    assert text.startswith('{\n  "api_key"')


def test_malformed_user_block_is_skipped_not_fatal():
    doc = parse_document('{"api_key": "hg_abcdefgh", "user": "not an object"}')
    assert doc.user is None
    doc = parse_document('{"api_key": "hg_abcdefgh", "user": {"email": 5, "username": "u"}}')
    assert doc.user == UserProfile(username="u")


def test_fresh_login_replaces_oauth_and_keeps_the_rest():
    before = parse_document(
        json.dumps(
            {
                "api_key": "hg_abcdefgh",
                "oauth": {"access_token": "old", "refresh_token": "old_rt"},
                "user": {"email": "a@b.c"},
                "x": 1,
            }
        )
    )
    after = with_login(before, OAuthTokens("new"))
    assert after.oauth == OAuthTokens("new")
    assert after.oauth.refresh_token is None  # never inherited on a fresh login
    assert (after.api_key, after.user, after.extra) == (before.api_key, before.user, before.extra)


def test_refresh_keeps_what_the_response_omitted():
    before = CredentialsDocument(api_key="hg_abcdefgh", oauth=FULL)
    after = with_refresh(before, OAuthTokens("at_2"))
    assert after.oauth == OAuthTokens("at_2", "rt_1", FULL.expires_at, FULL.scope, "Bearer")
    assert after.api_key == "hg_abcdefgh"
    rotated = with_refresh(before, OAuthTokens("at_3", "rt_3", "2026-05-28T08:00:00.000Z"))
    assert rotated.oauth is not None
    assert rotated.oauth.refresh_token == "rt_3"


def test_api_key_login_keeps_oauth_and_logout_keep_api_key_drops_only_oauth():
    doc = with_api_key(CredentialsDocument(oauth=FULL), "hg_newkey1")
    assert doc.oauth == FULL
    assert doc.api_key == "hg_newkey1"
    assert without_oauth(doc) == CredentialsDocument(api_key="hg_newkey1")
    assert not without_oauth(CredentialsDocument(oauth=FULL)).is_worth_keeping()


def test_user_cache_keeps_unknown_user_fields():
    doc = parse_document('{"api_key": "hg_abcdefgh", "user": {"email": "old@x", "avatar": "a"}}')
    doc = with_user(doc, UserProfile(email="new@x"))
    assert doc.user == UserProfile(email="new@x", extra={"avatar": "a"})
    assert with_user(doc, None).user is None


def test_display_name_priority():
    assert UserProfile(email="e", first_name="F", username="u").display_name() == "e"
    assert UserProfile(first_name="F", last_name="L", username="u").display_name() == "F L"
    assert UserProfile(last_name="L").display_name() == "L"
    assert UserProfile(username="u").display_name() == "u"


def test_secrets_never_in_repr():
    doc = CredentialsDocument(api_key="hg_secret_key", oauth=OAuthTokens("at_secret", "rt_secret"))
    text = repr(doc)
    assert "hg_secret_key" not in text
    assert "at_secret" not in text
    assert "rt_secret" not in text


def test_instants_match_the_typescript_format_and_parse_leniently():
    assert format_instant(T0) == "2026-05-28T06:00:00.000Z"
    assert parse_instant("2026-05-28T06:00:00.000Z") == T0
    assert parse_instant("2026-05-28T06:00:00") == T0
    assert parse_instant("not a date") is None
    assert parse_instant(None) is None


def test_staleness_uses_the_leeway():
    tokens = OAuthTokens("at", expires_at=format_instant(T0))
    from datetime import timedelta

    assert tokens.is_stale(T0 - timedelta(seconds=59))
    assert not tokens.is_stale(T0 - timedelta(seconds=61))
    assert not OAuthTokens("at").is_stale(T0)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)


@given(st.dictionaries(st.sampled_from(["api_key", "oauth", "user", "other"]), json_values, max_size=4))
def test_any_json_object_parses_or_raises_invalid_store(root):
    try:
        doc = parse_document(json.dumps(root))
    except InvalidStore:
        return
    assert roundtrip(doc).content() == doc.content()


@given(st.text(max_size=200))
def test_any_text_parses_or_raises_invalid_store(text):
    with contextlib.suppress(InvalidStore):
        parse_document(text)
