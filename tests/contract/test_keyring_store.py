"""The encrypted store with its data key in the OS keyring (an in-memory keyring backend stands in for the OS one).
Checklist items 71, 72, 75."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import keyring
import keyring.backend
import pytest
from keyring.errors import PasswordDeleteError

from hyperframes_auth.adapters.encrypted_file import KDF_ARGON2ID, KDF_KEYRING, EncryptedCredentialsFile
from hyperframes_auth.adapters.keyring_key import SERVICE, KeyringDataKey
from hyperframes_auth.domain.credentials import CredentialsDocument, OAuthTokens
from hyperframes_auth.domain.errors import ConfigError, KeyUnavailable

DOC = CredentialsDocument(api_key="hg_keyring_key_1", oauth=OAuthTokens("at_keyring_secret", "rt_keyring_secret"))


class MemoryKeyring(keyring.backend.KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[tuple[str, str], str] = {}
        self.hang = threading.Event()

    def get_password(self, service: str, username: str) -> str | None:
        if self.hang.is_set():
            threading.Event().wait(5)  # a locked keyring behind D-Bus: no answer
        return self.items.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.items[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if (service, username) not in self.items:
            raise PasswordDeleteError(username)
        del self.items[(service, username)]


# Defining a backend class registers it for keyring's automatic choice; this one is only ever set explicitly.
keyring.backend.KeyringBackend._classes.discard(MemoryKeyring)  # type: ignore[attr-defined]


@pytest.fixture
def ring() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


def store(
    tmp_path: Path, passphrase: str | None = None, prefer_keyring: bool = True, timeout: float = 3.0
) -> EncryptedCredentialsFile:
    path = str(tmp_path / "credentials.enc")
    return EncryptedCredentialsFile(
        path,
        (lambda: passphrase) if passphrase else None,  # type: ignore[arg-type,return-value]
        keyring_key=KeyringDataKey(path, timeout=timeout),
        prefer_keyring=prefer_keyring,
    )


def kdf_of(tmp_path: Path) -> int:
    return (tmp_path / "credentials.enc").read_bytes()[7]


def test_a_new_file_keeps_only_its_key_in_the_keyring(ring: MemoryKeyring, tmp_path: Path) -> None:
    store(tmp_path).write(DOC)
    assert kdf_of(tmp_path) == KDF_KEYRING
    assert [service for service, _ in ring.items] == [SERVICE]
    (stored,) = ring.items.values()
    assert "secret" not in stored  # a base64 32-byte key, never the tokens
    assert len(stored) == 44
    assert b"at_keyring_secret" not in (tmp_path / "credentials.enc").read_bytes()
    assert store(tmp_path).read().content() == DOC.content()


def test_an_explicit_passphrase_wins_over_the_keyring(ring: MemoryKeyring, tmp_path: Path) -> None:
    store(tmp_path, passphrase="pass phrase", prefer_keyring=False).write(DOC)
    assert kdf_of(tmp_path) == KDF_ARGON2ID
    assert ring.items == {}


def test_a_missing_key_is_its_own_error_and_changes_nothing(ring: MemoryKeyring, tmp_path: Path) -> None:
    store(tmp_path).write(DOC)
    before = (tmp_path / "credentials.enc").read_bytes()
    ring.items.clear()
    with pytest.raises(KeyUnavailable) as info:
        store(tmp_path).read()
    assert "keyring" in info.value.message
    assert (tmp_path / "credentials.enc").read_bytes() == before


def test_a_keyring_that_does_not_answer_is_unavailable_never_plaintext(ring: MemoryKeyring, tmp_path: Path) -> None:
    ring.hang.set()
    with pytest.raises(ConfigError, match="No passphrase and no OS keyring"):
        store(tmp_path, timeout=0.2).write(DOC)
    assert not (tmp_path / "credentials.enc").exists()
    assert not (tmp_path / "credentials").exists()
    store(tmp_path, passphrase="fallback phrase", timeout=0.2).write(DOC)  # the passphrase, never plaintext
    assert kdf_of(tmp_path) == KDF_ARGON2ID


def test_logout_removes_the_keyring_item_and_the_file(ring: MemoryKeyring, tmp_path: Path) -> None:
    store(tmp_path).write(DOC)
    assert ring.items
    store(tmp_path).delete()
    assert ring.items == {}
    assert not (tmp_path / "credentials.enc").exists()


def test_without_a_keyring_backend_new_files_need_a_passphrase(tmp_path: Path) -> None:
    from keyring.backends import fail

    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        with pytest.raises(ConfigError):
            store(tmp_path).write(DOC)
        store(tmp_path, passphrase="p").write(DOC)
        assert kdf_of(tmp_path) == KDF_ARGON2ID
    finally:
        keyring.set_keyring(previous)
