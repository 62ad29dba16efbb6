"""The encrypted store with its key in the OS keyring: only OS secret stores are trusted (the plaintext and null
backends are refused with the passphrase offered), a new key is read back before use, a keyring that prompts gets
time to answer, bad values and stale cached keys are caught, and logout removes the item. A trusted in-memory
backend stands in for the OS one (see ``keyrings.py``)."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from pathlib import Path

import keyring
import keyring.core
import pytest
from keyring.backends import fail

from hyperframes_auth.adapters.encrypted_file import KDF_ARGON2ID, KDF_KEYRING, PassphrasePrompt
from hyperframes_auth.adapters.keyring_key import SERVICE, KeyringDataKey
from hyperframes_auth.domain.credentials import CredentialsDocument, OAuthTokens
from hyperframes_auth.domain.errors import InvalidStore, KeyringRefused, KeyUnavailable
from tests.contract.keyrings import (
    DEAD_DAEMON,
    DeadDaemonKeyring,
    FixedChain,
    ForgetfulKeyring,
    MemoryKeyring,
    keyring_store,
    ring,
)

__all__ = ["ring"]  # the fixture

DOC = CredentialsDocument(api_key="hg_keyring_key_1", oauth=OAuthTokens("at_keyring_secret", "rt_keyring_secret"))


def store_at(tmp_path: Path, **options: object):  # type: ignore[no-untyped-def]
    return keyring_store(str(tmp_path / "credentials.enc"), **options)  # type: ignore[arg-type]


def kdf_of(tmp_path: Path) -> int:
    return (tmp_path / "credentials.enc").read_bytes()[7]


@pytest.fixture
def backend_from_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[pytest.MonkeyPatch]:
    """Lets a test choose keyring's backend through PYTHON_KEYRING_BACKEND, as a user would; restores it after."""
    previous = keyring.get_keyring()
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))  # where keyrings.alt would write its file
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    yield monkeypatch
    keyring.set_keyring(previous)


# ---------------------------------------------------------------------------------------------- trusted keeper


def test_a_new_file_keeps_only_its_key_in_the_keyring(ring: MemoryKeyring, tmp_path: Path) -> None:
    store_at(tmp_path).write(DOC)
    assert kdf_of(tmp_path) == KDF_KEYRING
    assert [service for service, _ in ring.items] == [SERVICE]
    (stored,) = ring.items.values()
    assert "secret" not in stored  # a base64 32-byte key, never the tokens
    assert len(base64.b64decode(stored)) == 32
    assert b"at_keyring_secret" not in (tmp_path / "credentials.enc").read_bytes()
    assert store_at(tmp_path).read().content() == DOC.content()
    assert store_at(tmp_path).keeper == "OS keyring (test keyring)"


def test_an_explicit_passphrase_wins_over_the_keyring(ring: MemoryKeyring, tmp_path: Path) -> None:
    store_at(tmp_path, passphrase="pass phrase", prefer_keyring=False).write(DOC)
    assert kdf_of(tmp_path) == KDF_ARGON2ID
    assert ring.items == {}
    assert store_at(tmp_path).keeper == "passphrase (Argon2id, 19 MiB, t=2, p=1)"


@pytest.mark.parametrize(
    ("backend", "reason"),
    [
        ("keyrings.alt.file.PlaintextKeyring", "keyrings.alt.file.PlaintextKeyring is not an OS secret store"),
        ("keyring.backends.null.Keyring", "stores nothing"),
        ("keyring.backends.fail.Keyring", "no OS keyring was found"),
    ],
)
def test_untrusted_backends_from_the_environment_are_refused_with_the_passphrase_offered(
    backend_from_env: pytest.MonkeyPatch, tmp_path: Path, backend: str, reason: str
) -> None:
    backend_from_env.setenv("PYTHON_KEYRING_BACKEND", backend)
    keyring.core.init_backend()  # what a new process does with that variable
    assert f"{type(keyring.get_keyring()).__module__}.{type(keyring.get_keyring()).__name__}" == backend
    with pytest.raises(KeyringRefused) as refused:
        store_at(tmp_path).write(DOC)
    assert reason in refused.value.message
    assert "HYPERFRAMES_CREDENTIALS_PASSPHRASE" in (refused.value.hint or "")
    assert list(tmp_path.rglob("*credentials.enc")) == []
    assert not (tmp_path / "xdg-data").exists()  # nothing went to the plaintext keyring's file

    # Where a passphrase can be asked for, it is, and the person is told why the keyring is not used.
    said: list[str] = []
    answers = iter(["a long enough passphrase"] * 2)
    prompt = PassphrasePrompt({}, prompt=True, ask=lambda _question: next(answers), say=said.append)
    from hyperframes_auth.adapters.encrypted_file import EncryptedCredentialsFile
    from tests.contract.keyrings import keyring_key

    path = str(tmp_path / "credentials.enc")
    EncryptedCredentialsFile(
        path, prompt, params=(19 * 1024, 2, 1), keyring_key=keyring_key(path), prefer_keyring=True
    ).write(DOC)
    assert kdf_of(tmp_path) == KDF_ARGON2ID
    assert said
    assert reason in said[0]
    assert not (tmp_path / "xdg-data").exists()


def test_a_subclass_of_a_trusted_backend_is_not_trusted(tmp_path: Path) -> None:
    class Sneaky(MemoryKeyring):
        pass

    keyring.backend.KeyringBackend._classes.discard(Sneaky)  # type: ignore[attr-defined]
    previous = keyring.get_keyring()
    keyring.set_keyring(Sneaky())
    try:
        with pytest.raises(KeyringRefused, match="Sneaky is not an OS secret store"):
            store_at(tmp_path).write(DOC)
    finally:
        keyring.set_keyring(previous)


def test_a_chain_is_judged_by_the_backend_it_would_write_to(tmp_path: Path) -> None:
    from keyrings.alt.file import PlaintextKeyring

    trusted, plain = MemoryKeyring(), PlaintextKeyring()
    plain.file_path = str(tmp_path / "plain-keyring.cfg")  # type: ignore[misc]
    previous = keyring.get_keyring()
    try:
        FixedChain.chain = [plain, trusted]
        keyring.set_keyring(FixedChain())
        with pytest.raises(KeyringRefused, match="PlaintextKeyring"):
            store_at(tmp_path).write(DOC)
        FixedChain.chain = [trusted, plain]
        store_at(tmp_path).write(DOC)
        assert len(trusted.items) == 1
        assert not (tmp_path / "plain-keyring.cfg").exists()
        assert store_at(tmp_path).read().content() == DOC.content()
    finally:
        FixedChain.chain = []
        keyring.set_keyring(previous)


def test_a_key_that_does_not_read_back_is_refused_before_the_file_is_written(tmp_path: Path) -> None:
    previous = keyring.get_keyring()
    forgetful = ForgetfulKeyring()
    keyring.set_keyring(forgetful)
    try:
        with pytest.raises(KeyringRefused, match="did not give back the key"):
            store_at(tmp_path).write(DOC)
        assert not (tmp_path / "credentials.enc").exists()
        assert forgetful.items == {}  # the useless item was removed
    finally:
        keyring.set_keyring(previous)


def test_a_dead_daemon_is_found_out_by_the_short_probe(tmp_path: Path) -> None:
    previous = keyring.get_keyring()
    keyring.set_keyring(DeadDaemonKeyring())
    try:
        with pytest.raises(KeyringRefused, match=r"did not answer within 0\.2 s"):
            store_at(tmp_path, probe_timeout=0.2).write(DOC)
        assert not (tmp_path / "credentials.enc").exists()
        store_at(tmp_path, passphrase="fallback phrase", probe_timeout=0.2).write(DOC)  # never plaintext
        assert kdf_of(tmp_path) == KDF_ARGON2ID
    finally:
        DEAD_DAEMON.set()
        keyring.set_keyring(previous)


def test_a_get_that_waits_for_a_person_gets_the_long_timeout(ring: MemoryKeyring, tmp_path: Path) -> None:
    store_at(tmp_path).write(DOC)
    ring.gate = threading.Event()
    ring.started.clear()
    results: list[object] = []
    reader = threading.Thread(
        target=lambda: results.append(store_at(tmp_path, probe_timeout=0.01, timeout=20).read()), daemon=True
    )
    reader.start()
    assert ring.started.wait(5)
    threading.Event().wait(0.3)  # the person takes longer than the probe's limit to unlock
    ring.gate.set()
    reader.join(10)
    assert results
    assert results[0].content() == DOC.content()  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------------------------- stored values


def test_a_missing_key_is_its_own_error_and_changes_nothing(ring: MemoryKeyring, tmp_path: Path) -> None:
    store_at(tmp_path).write(DOC)
    before = (tmp_path / "credentials.enc").read_bytes()
    ring.items.clear()
    with pytest.raises(KeyUnavailable) as info:
        store_at(tmp_path).read()
    assert "keyring" in info.value.message
    hint = info.value.hint or ""
    assert hint.startswith("Unlock the OS keyring")
    assert "logout" not in hint
    assert (tmp_path / "credentials.enc").read_bytes() == before


@pytest.mark.parametrize(
    "value",
    [
        "not base64 at all!",
        base64.b64encode(b"k" * 16).decode(),
        base64.b64encode(b"k" * 33).decode(),
        base64.b64encode(b"k" * 32).decode()[:-4] + "====",
        "\u00e9" * 44,
    ],
)
def test_a_keyring_value_that_is_not_a_32_byte_key_is_unavailable(
    ring: MemoryKeyring, tmp_path: Path, value: str
) -> None:
    store_at(tmp_path).write(DOC)
    ((name, _),) = ring.items.items()
    ring.items[name] = value
    with pytest.raises(KeyUnavailable) as info:
        store_at(tmp_path).read()
    assert info.value.detail in (
        "the keyring's value for this file is not a base64 key",
        "the keyring's value for this file is not a 32-byte key",
    )


def test_a_different_key_in_the_keyring_is_unavailable_not_corrupt(ring: MemoryKeyring, tmp_path: Path) -> None:
    store_at(tmp_path).write(DOC)
    ((name, _),) = ring.items.items()
    ring.items[name] = base64.b64encode(b"x" * 32).decode()
    with pytest.raises(KeyUnavailable, match="different key"):
        store_at(tmp_path).read()


def test_a_cached_key_is_not_reused_after_another_process_signed_out_and_in(
    ring: MemoryKeyring, tmp_path: Path
) -> None:
    long_running = store_at(tmp_path)
    long_running.write(DOC)
    assert long_running.read().content() == DOC.content()  # its key is cached now
    other = store_at(tmp_path)  # another process: logout (file and keyring item go), then login
    other.delete()
    assert ring.items == {}
    other.write(DOC)
    with long_running.lock():
        long_running.write(CredentialsDocument(api_key="hg_after_relogin"))
    assert store_at(tmp_path).read().api_key == "hg_after_relogin"
    assert len(ring.items) == 1

    # and without the lock, after a logout that left no file at all
    other.delete()
    long_running.write(DOC)
    assert store_at(tmp_path).read().content() == DOC.content()


def test_a_write_that_fails_leaves_no_keyring_item_behind(ring: MemoryKeyring, tmp_path: Path) -> None:
    (tmp_path / "credentials.enc").mkdir()  # the write fails after the key was made
    with pytest.raises(InvalidStore):
        store_at(tmp_path).write(DOC)
    assert ring.items == {}


def test_logout_removes_the_keyring_item_and_the_file(ring: MemoryKeyring, tmp_path: Path) -> None:
    store_at(tmp_path).write(DOC)
    assert ring.items
    store_at(tmp_path).delete()
    assert ring.items == {}
    assert not (tmp_path / "credentials.enc").exists()


def test_without_a_keyring_backend_new_files_need_a_passphrase(tmp_path: Path) -> None:
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        with pytest.raises(KeyringRefused, match="no OS keyring was found"):
            store_at(tmp_path).write(DOC)
        store_at(tmp_path, passphrase="p").write(DOC)
        assert kdf_of(tmp_path) == KDF_ARGON2ID
    finally:
        keyring.set_keyring(previous)


def test_the_keeper_names_an_untrusted_backend_holding_an_old_key(ring: MemoryKeyring, tmp_path: Path) -> None:
    store_at(tmp_path).write(DOC)
    path = str(tmp_path / "credentials.enc")
    from hyperframes_auth.adapters.encrypted_file import EncryptedCredentialsFile

    plain_trust = EncryptedCredentialsFile(path, None, keyring_key=KeyringDataKey(path))  # the package's own list
    assert plain_trust.keeper == (
        "keyring (tests.contract.keyrings.MemoryKeyring is not an OS secret store (it may keep keys in a file))"
    )
    assert plain_trust.read().content() == DOC.content()  # reading an existing key still works
