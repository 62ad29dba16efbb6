"""The CredentialStore contract, run on the fake and on both real stores, plus what only files can get wrong."""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path

import attrs
import pytest

from hyperframes_auth.adapters.credentials_file import CredentialsFile
from hyperframes_auth.adapters.encrypted_file import EncryptedCredentialsFile
from hyperframes_auth.domain.credentials import CredentialsDocument, OAuthTokens, UserProfile
from hyperframes_auth.domain.errors import CorruptStore, InvalidStore, StoreLocked
from tests.fakes import FakeStore

DOC = CredentialsDocument(
    api_key="hg_store_test_key",
    oauth=OAuthTokens("at_store", "rt_store", "2026-05-28T07:00:00.000Z", "openid", "Bearer", {"future": 1}),
    user=UserProfile(email="a@b.c", extra={"avatar": "x"}),
    extra={"top_future": [1, 2]},
)
PASSPHRASE = "correct horse battery staple"


def make_store(kind: str, tmp_path: Path) -> FakeStore | CredentialsFile | EncryptedCredentialsFile:
    if kind == "fake":
        return FakeStore()
    if kind == "file":
        return CredentialsFile(str(tmp_path / "cfg" / "credentials"), lock_timeout=0.5)
    return EncryptedCredentialsFile(str(tmp_path / "cfg" / "credentials.enc"), lambda: PASSPHRASE, lock_timeout=0.5)


@pytest.fixture(params=["fake", "file", "encrypted"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> FakeStore | CredentialsFile | EncryptedCredentialsFile:
    return make_store(request.param, tmp_path)


@pytest.fixture(params=["file", "encrypted"])
def file_store(request: pytest.FixtureRequest, tmp_path: Path) -> CredentialsFile | EncryptedCredentialsFile:
    return make_store(request.param, tmp_path)  # type: ignore[return-value]


def break_store(store: object) -> None:
    if isinstance(store, FakeStore):
        store.broken = "invalid JSON"
        return
    path = Path(store.location)  # type: ignore[attr-defined]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"{ this is not a credentials file")


def test_an_absent_store_reads_as_empty(store):
    assert store.read().content() == CredentialsDocument().content()


def test_what_is_written_is_read_back_unknown_fields_included(store):
    store.write(DOC)
    assert store.read().content() == DOC.content()


def test_delete_is_idempotent(store):
    store.write(DOC)
    store.delete()
    store.delete()
    assert not store.read().is_worth_keeping()


def test_the_lock_excludes_a_second_holder(store):
    entered = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with store.lock():
            entered.set()
            release.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    assert entered.wait(5)
    store.lock_timeout = 0.3
    try:
        with pytest.raises(StoreLocked) as info, store.lock():
            pass
        assert "locked" in info.value.message
    finally:
        release.set()
        holder.join()
    with store.lock():
        pass


def test_an_unreadable_store_is_reported_then_quarantined(store):
    store.write(DOC)
    break_store(store)
    with pytest.raises((InvalidStore, CorruptStore)):
        store.read()
    kept = store.quarantine()
    assert kept is not None
    assert not store.read().is_worth_keeping()
    if not isinstance(store, FakeStore):
        assert stat.S_IMODE(os.stat(kept).st_mode) == 0o600
        assert Path(kept).read_bytes().startswith(b"{ this is not")


def test_plain_file_matches_the_typescript_format(tmp_path: Path) -> None:
    path = tmp_path / "cfg" / "credentials"
    path.parent.mkdir()
    ts_written = (
        json.dumps(
            {
                "api_key": "hg_ts_key_123",
                "oauth": {
                    "access_token": "at",
                    "refresh_token": "rt",
                    "expires_at": "2026-05-28T06:00:00.000Z",
                    "scope": "openid profile email",
                    "token_type": "Bearer",
                },
            },
            indent=2,
        )
        + "\n"
    )
    path.write_text(ts_written)
    store = CredentialsFile(str(path))
    store.write(store.read())
    assert path.read_text() == ts_written


def test_a_reserved_save_commits_a_document_on_both_file_stores(file_store):
    file_store.write(DOC)
    updated = attrs.evolve(DOC, api_key="hg_store_test_key_2")
    with file_store.lock():
        assert file_store.read().content() == DOC.content()
        with file_store.reserve() as pending:
            pending.commit(updated)
    assert file_store.read().content() == updated.content()
    directory = Path(file_store.location).parent
    name = Path(file_store.location).name
    assert sorted(p.name for p in directory.iterdir()) == [name, f"{name}.lock"]


def test_an_abandoned_reservation_changes_nothing_on_both_file_stores(file_store):
    file_store.write(DOC)
    before = Path(file_store.location).read_bytes()
    with file_store.lock(), file_store.reserve():
        pass
    assert Path(file_store.location).read_bytes() == before
    assert file_store.read().content() == DOC.content()


def test_signing_out_leaves_no_lock_file_on_both_file_stores(file_store):
    file_store.write(DOC)
    with file_store.lock():
        file_store.read()
        file_store.delete()
    assert list(Path(file_store.location).parent.iterdir()) == []
