"""Credential resolution precedence: the environment's API keys, then HEYGEN_ACCESS_TOKEN, then the stored file (the
same order as the TypeScript CLI)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hyperframes_auth.adapters.codec import read_document as parse_document
from hyperframes_auth.domain.credentials import CredentialsDocument, OAuthTokens
from hyperframes_auth.domain.errors import InvalidStore, NotConfigured
from hyperframes_auth.domain.primitives import format_instant
from hyperframes_auth.domain.resolve import ApiKeyCredential, OAuthCredential, resolve
from tests.fakes import T0

LATER = format_instant(T0 + timedelta(hours=1))
EARLIER = format_instant(T0 - timedelta(hours=1))


def test_heygen_api_key_wins_over_everything():
    doc = CredentialsDocument(api_key="hg_filekey1", oauth=OAuthTokens("at", expires_at=LATER))
    env = {"HEYGEN_API_KEY": "env-key", "HYPERFRAMES_API_KEY": "alias-key"}
    assert resolve(env, doc, T0) == ApiKeyCredential("env-key", "env")


def test_alias_is_checked_second_and_file_key_third():
    assert resolve({"HYPERFRAMES_API_KEY": "alias-key"}, CredentialsDocument(), T0) == ApiKeyCredential(
        "alias-key", "env_alias"
    )
    assert resolve({}, CredentialsDocument(api_key="hg_filekey1", source="file_json"), T0) == ApiKeyCredential(
        "hg_filekey1", "file_json"
    )
    assert resolve({}, parse_document("hg_legacy_key"), T0).source == "file_legacy"


def test_fresh_oauth_beats_a_stored_api_key():
    doc = CredentialsDocument(api_key="hg_filekey1", oauth=OAuthTokens("at", "rt", LATER), source="file_json")
    credential = resolve({}, doc, T0)
    assert isinstance(credential, OAuthCredential)
    assert (credential.secret, credential.stale, credential.refreshable) == ("at", False, False)


def test_oauth_without_expiry_counts_as_fresh():
    credential = resolve({}, CredentialsDocument(oauth=OAuthTokens("at")), T0)
    assert isinstance(credential, OAuthCredential)
    assert not credential.refreshable


def test_stale_with_refresh_token_is_refreshable_and_without_falls_through():
    stale = CredentialsDocument(api_key="hg_filekey1", oauth=OAuthTokens("at", "rt", EARLIER))
    credential = resolve({}, stale, T0)
    assert isinstance(credential, OAuthCredential)
    assert credential.refreshable
    no_rt = CredentialsDocument(api_key="hg_filekey1", oauth=OAuthTokens("at", None, EARLIER))
    assert resolve({}, no_rt, T0) == ApiKeyCredential("hg_filekey1", "absent")


def test_within_sixty_seconds_of_expiry_is_stale():
    doc = CredentialsDocument(oauth=OAuthTokens("at", "rt", format_instant(T0 + timedelta(seconds=30))))
    assert resolve({}, doc, T0).refreshable  # type: ignore[union-attr]
    assert not resolve({}, doc, T0 - timedelta(seconds=60)).refreshable  # type: ignore[union-attr]


def test_env_key_with_control_characters_is_refused():
    with pytest.raises(InvalidStore, match="HEYGEN_API_KEY is not a usable credential: it contains control") as caught:
        resolve({"HEYGEN_API_KEY": "abc\r\nX-Evil: 1"}, CredentialsDocument(), T0)
    assert "file" not in caught.value.message  # a variable, not a file
    assert (caught.value.code, caught.value.hint) == ("INVALID_STORE", "Fix or unset HEYGEN_API_KEY.")


def test_nothing_configured():
    with pytest.raises(NotConfigured) as info:
        resolve({}, CredentialsDocument(), T0)
    assert "hyperframes auth login" in (info.value.hint or "")
    with pytest.raises(NotConfigured):
        resolve({"HEYGEN_API_KEY": ""}, parse_document("{}"), T0)


def test_secrets_hidden_in_repr():
    assert "env-key" not in repr(ApiKeyCredential("env-key", "env"))
    assert "at_secret" not in repr(resolve({}, CredentialsDocument(oauth=OAuthTokens("at_secret")), T0))
