"""The encrypted store's file format on real files: no plaintext on disk, fresh nonces, a wrong passphrase told apart
from a damaged or edited file, every tampered byte detected, header parameters held between floor and ceiling
before any work is done, passphrases prepared as RFC 8265 OpaqueStrings, no silent fallback to the plain file."""

from __future__ import annotations

import hashlib
import os
import random
import struct
from pathlib import Path

import pytest

from hyperframes_auth.adapters.encrypted_file import (
    DEFAULT_PARAMS,
    KDF_ARGON2ID,
    KDF_KEYRING,
    MAX_ITERATIONS,
    MAX_LANES,
    MAX_MEMORY_KIB,
    MIN_ITERATIONS,
    MIN_MEMORY_KIB,
    EncryptedCredentialsFile,
    PassphrasePrompt,
)
from hyperframes_auth.domain.credentials import CredentialsDocument, OAuthTokens
from hyperframes_auth.domain.errors import (
    ConfigError,
    CorruptStore,
    InvalidPassphrase,
    KeyringRefused,
    WrongPassphrase,
)
from hyperframes_auth.entrypoints.bootstrap import make_store
from hyperframes_auth.entrypoints.settings import Settings

NEW = CredentialsDocument(api_key="hg_new_key_456", oauth=OAuthTokens("at_new" * 300, "rt_new"))
PASS = "s3cret passphrase"
FAST = (MIN_MEMORY_KIB, MIN_ITERATIONS, 1)  # the floor: keeps the suite quick; the default is tested on its own
HEADER = struct.Struct(">6sBBIII16s16s12s48s12s")  # version 2, as the module docstring lays it out
DIGEST = 16


class Counting:
    """A passphrase source that counts how often it was asked (each ask is one Argon2id derivation)."""

    def __init__(self, value: str = PASS) -> None:
        self.value = value
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        return self.value


def encrypted(tmp_path: Path, passphrase: str = PASS, params: tuple[int, int, int] = FAST) -> EncryptedCredentialsFile:
    return EncryptedCredentialsFile(str(tmp_path / "credentials.enc"), lambda: passphrase, params=params)


def reseal_header(data: bytes, **fields: int) -> bytes:
    """``data`` with header fields changed and the (unkeyed) digest recomputed, as a careful editor would."""
    names = (
        "magic",
        "version",
        "kind",
        "memory",
        "iterations",
        "lanes",
        "ident",
        "check",
        "wnonce",
        "wrapped",
        "nonce",
    )
    values = dict(zip(names, HEADER.unpack(data[: HEADER.size]), strict=True))
    values.update(fields)
    header = HEADER.pack(*values.values())
    return header + hashlib.sha256(header).digest()[:DIGEST] + data[HEADER.size + DIGEST :]


def test_encrypted_store_never_writes_plaintext(tmp_path: Path) -> None:
    encrypted(tmp_path).write(NEW)
    for file in tmp_path.rglob("*"):
        if file.is_file():
            assert b"at_new" not in file.read_bytes()
            assert b"hg_new_key" not in file.read_bytes()
    assert encrypted(tmp_path).read().content() == NEW.content()


def test_the_header_is_laid_out_as_documented(tmp_path: Path) -> None:
    encrypted(tmp_path).write(NEW)
    data = (tmp_path / "credentials.enc").read_bytes()
    magic, version, kind, memory, iterations, lanes, *_ = HEADER.unpack(data[: HEADER.size])
    assert (magic, version, kind, (memory, iterations, lanes)) == (b"HFAENC", 2, KDF_ARGON2ID, FAST)
    assert data[HEADER.size : HEADER.size + DIGEST] == hashlib.sha256(data[: HEADER.size]).digest()[:DIGEST]


def test_an_independent_reader_following_the_documented_format_decrypts_the_file(tmp_path: Path) -> None:
    """The module docstring's recipe, implemented from scratch: labels, HKDF subkeys, Argon2id context, AAD."""
    import hmac

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    def hkdf(key: bytes, info: bytes) -> bytes:
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(key)

    encrypted(tmp_path, "cafe\u0301 na\u00efve").write(NEW)  # stored as NFC: "caf\u00e9 na\u00efve"
    data = (tmp_path / "credentials.enc").read_bytes()
    _, _, _, memory, iterations, lanes, salt, check, wrap_nonce, wrapped, nonce = HEADER.unpack(data[: HEADER.size])
    kek = Argon2id(
        salt=salt,
        length=32,
        iterations=iterations,
        lanes=lanes,
        memory_cost=memory,
        ad=b"hyperframes-auth v2 passphrase",
    ).derive("caf\u00e9 na\u00efve".encode())
    label = b"hyperframes-auth key check v2"
    assert hmac.new(hkdf(kek, b"hyperframes-auth v2 key check"), label, "sha256").digest()[:16] == check
    dek = AESGCM(hkdf(kek, b"hyperframes-auth v2 key wrap")).decrypt(wrap_nonce, wrapped, data[:52])
    body = AESGCM(hkdf(dek, b"hyperframes-auth v2 body")).decrypt(nonce, data[HEADER.size + DIGEST :], data[:124])
    assert b'"api_key": "hg_new_key_456"' in body


def test_each_write_uses_a_fresh_nonce(tmp_path: Path) -> None:
    store = encrypted(tmp_path)
    blobs = set()
    for _ in range(20):
        store.write(NEW)
        blobs.add((tmp_path / "credentials.enc").read_bytes())
    assert len(blobs) == 20
    assert len({blob[HEADER.size - 12 : HEADER.size] for blob in blobs}) == 20


def test_a_wrong_passphrase_is_not_a_corrupt_file_and_changes_nothing(tmp_path: Path) -> None:
    encrypted(tmp_path).write(NEW)
    before = (tmp_path / "credentials.enc").read_bytes()
    with pytest.raises(WrongPassphrase):
        encrypted(tmp_path, "wrong").read()
    with pytest.raises(WrongPassphrase):
        encrypted(tmp_path, "wrong").write(NEW)  # never replaced under another passphrase
    assert (tmp_path / "credentials.enc").read_bytes() == before


def test_every_tampered_byte_is_detected_as_corruption(tmp_path: Path) -> None:
    store = encrypted(tmp_path)
    store.write(NEW)
    path = tmp_path / "credentials.enc"
    original = path.read_bytes()
    positions = list(range(HEADER.size + DIGEST)) + sorted(random.Random(7).sample(range(140, len(original)), 40))
    reader = encrypted(tmp_path)
    reader.read()  # the key is cached; tampering with the keeper's bytes forces a new unlock
    for position in positions:
        damaged = bytearray(original)
        damaged[position] ^= 0x01
        path.write_bytes(bytes(damaged))
        with pytest.raises(CorruptStore):
            reader.read()
    for size in (0, 10, 60, 139, len(original) - 1):
        path.write_bytes(original[:size])
        if size == 0:
            assert not reader.read().is_worth_keeping()
            continue
        with pytest.raises(CorruptStore):
            reader.read()


def test_an_edited_header_is_corrupt_not_a_wrong_passphrase_even_for_a_fresh_reader(tmp_path: Path) -> None:
    encrypted(tmp_path).write(NEW)
    path = tmp_path / "credentials.enc"
    original = path.read_bytes()
    for position in range(7, HEADER.size + DIGEST):
        damaged = bytearray(original)
        damaged[position] ^= 0x80
        path.write_bytes(bytes(damaged))
        asked = Counting()
        with pytest.raises(CorruptStore):
            EncryptedCredentialsFile(str(path), asked, params=FAST).read()
        assert asked.calls == 0  # found before any key derivation
    # A digest recomputed over an edited wrapped key: the passphrase is right, so the key check passes; the
    # unwrap then fails, and that is damage, not a wrong passphrase.
    header = HEADER.unpack(original[: HEADER.size])
    path.write_bytes(reseal_header(original, wrapped=bytes(48 - 1) + bytes([header[9][-1] ^ 1])))
    with pytest.raises(CorruptStore, match="wrapped data key"):
        encrypted(tmp_path).read()
    path.write_bytes(reseal_header(original, nonce=os.urandom(12)))
    with pytest.raises(CorruptStore, match="contents"):
        encrypted(tmp_path).read()


@pytest.mark.parametrize(
    "fields",
    [
        {"version": 99},
        {"version": 0},
        {"kind": 7},
        {"memory": 1024},  # below the floor
        {"iterations": 1},
        {"lanes": 0},
        {"memory": MAX_MEMORY_KIB + 1},  # above the ceiling: 1 GiB
        {"memory": 0xFFFFFFFF},
        {"iterations": MAX_ITERATIONS + 1},
        {"iterations": 0xFFFFFFFF},
        {"lanes": MAX_LANES + 1},
        {"memory": MAX_MEMORY_KIB, "iterations": 5},  # each within its ceiling, the work above it
        {"memory": MIN_MEMORY_KIB * 8, "iterations": MAX_ITERATIONS},
        {"kind": KDF_KEYRING},  # a keyring keeper with Argon2id parameters: inconsistent
    ],
)
def test_header_values_out_of_range_are_corrupt_before_any_work(tmp_path: Path, fields: dict[str, int]) -> None:
    encrypted(tmp_path).write(NEW)
    path = tmp_path / "credentials.enc"
    path.write_bytes(reseal_header(path.read_bytes(), **fields))
    asked = Counting()
    with pytest.raises(CorruptStore):
        EncryptedCredentialsFile(str(path), asked, params=FAST).read()
    assert asked.calls == 0


def test_parameters_outside_the_range_are_refused_for_new_files(tmp_path: Path) -> None:
    for params in ((1024, 1, 1), (MIN_MEMORY_KIB, 1, 1), (MAX_MEMORY_KIB * 2, 3, 4), (65536, 3, 17)):
        with pytest.raises(ConfigError):
            EncryptedCredentialsFile(str(tmp_path / "credentials.enc"), lambda: PASS, params=params)
    assert EncryptedCredentialsFile(str(tmp_path / "x.enc"), None)._params == DEFAULT_PARAMS == (65536, 3, 4)


def test_new_files_use_the_default_parameters(tmp_path: Path) -> None:
    EncryptedCredentialsFile(str(tmp_path / "credentials.enc"), lambda: PASS).write(NEW)
    store = EncryptedCredentialsFile(str(tmp_path / "credentials.enc"), lambda: PASS)
    assert store.keeper == "passphrase (Argon2id, 64 MiB, t=3, p=4)"
    assert store.read().content() == NEW.content()


# ---------------------------------------------------------------------------------------------- passphrases


def test_a_passphrase_opens_its_file_in_either_unicode_normal_form(tmp_path: Path) -> None:
    composed, decomposed = "caf\u00e9 cr\u00e8me br\u00fbl\u00e9e", "cafe\u0301 cre\u0300me bru\u0302le\u0301e"
    assert composed != decomposed
    encrypted(tmp_path, composed).write(NEW)
    assert encrypted(tmp_path, decomposed).read().content() == NEW.content()
    encrypted(tmp_path, decomposed).write(NEW)
    assert encrypted(tmp_path, composed).read().content() == NEW.content()
    assert encrypted(tmp_path, "caf\u00e9\u00a0cr\u00e8me br\u00fbl\u00e9e").read().content() == NEW.content()
    with pytest.raises(WrongPassphrase):
        encrypted(tmp_path, "cafe creme brulee").read()


def test_a_passphrase_that_is_not_utf8_is_a_typed_error(tmp_path: Path) -> None:
    not_utf8 = os.fsdecode(b"caf\xe9 latin-1 passphrase")  # how the environment hands over undecodable bytes
    assert "\udce9" in not_utf8
    with pytest.raises(InvalidPassphrase, match="not UTF-8"):
        encrypted(tmp_path, not_utf8).write(NEW)
    assert not (tmp_path / "credentials.enc").exists()
    encrypted(tmp_path).write(NEW)
    with pytest.raises(InvalidPassphrase) as info:
        encrypted(tmp_path, not_utf8).read()
    assert info.value.code == "INVALID_PASSPHRASE"
    from_env = PassphrasePrompt({"HYPERFRAMES_CREDENTIALS_PASSPHRASE": not_utf8}, prompt=False)
    with pytest.raises(InvalidPassphrase):
        EncryptedCredentialsFile(str(tmp_path / "credentials.enc"), from_env, params=FAST).read()


def test_no_silent_fallback_to_the_plain_file(tmp_path: Path) -> None:
    env = {"HYPERFRAMES_CREDENTIALS_STORE": "encrypted", "HEYGEN_CONFIG_DIR": str(tmp_path)}
    store = make_store(Settings.from_env(env, str(tmp_path)), env, passphrase_prompt=False)
    assert store.backend == "encrypted"
    # No passphrase to be had: "No passphrase", or, where the machine's keyring is not an OS secret store (this
    # test environment has keyrings.alt), why the keyring was not used instead.
    with pytest.raises((ConfigError, KeyringRefused), match=r"No passphrase|keyring cannot keep the key"):
        store.write(NEW)
    assert list(tmp_path.iterdir()) == []


def test_a_migration_whose_save_fails_keeps_the_plain_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Moving a plain file into the encrypted store removes the plain one only after the encrypted one is durable:
    a save that fails at the last step (here every try of the rename) leaves the plain file as it was."""
    import errno

    from hyperframes_auth.adapters import files
    from hyperframes_auth.adapters.credentials_file import CredentialsFile
    from hyperframes_auth.domain.errors import StoreWriteFailed

    plain = CredentialsFile(str(tmp_path / "credentials"))
    plain.write(CredentialsDocument(api_key="hg_plain_key_789"))
    before = (tmp_path / "credentials").read_bytes()
    store = EncryptedCredentialsFile(str(tmp_path / "credentials.enc"), lambda: PASS, params=FAST, migrate_from=plain)
    with store.lock():
        doc = store.read()
        assert store.read_from_plain

        def full(*_args: object) -> None:
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(files._Directory, "replace", full)
        monkeypatch.setattr(files, "WRITE_RETRY_DELAYS", ())
        with pytest.raises(StoreWriteFailed), store.reserve() as pending:
            pending.commit(doc)
        monkeypatch.undo()
    assert (tmp_path / "credentials").read_bytes() == before
    assert not (tmp_path / "credentials.enc").exists()
    store.write(doc)  # once the disk has room, the migration completes
    assert not (tmp_path / "credentials").exists()
    assert store.plain_removed == str(tmp_path / "credentials")
    assert (
        EncryptedCredentialsFile(str(tmp_path / "credentials.enc"), lambda: PASS).read().api_key == "hg_plain_key_789"
    )
