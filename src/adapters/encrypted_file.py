"""``EncryptedCredentialsFile``: the same credentials document, encrypted at rest (opt-in).

Chosen with ``HYPERFRAMES_CREDENTIALS_STORE=encrypted``; lives beside the plain file as ``credentials.enc``.

File layout (all integers big-endian)::

    header = "HFAENC" | version (1 byte) | kdf id (1 byte) | memory KiB (4) | iterations (4) | lanes (4)
             | salt (16) | nonce (12) | key check (16)
    file   = header | sha256(header)[:8] | AES-256-GCM(key, nonce, plaintext, associated data = header)

* The key comes from a passphrase through Argon2id at OWASP's minimum or better (m=19 MiB, t=2, p=1;
  parameters below that minimum are refused), or is a random data key kept in the OS keyring (kdf id 2; the salt
  field then names the key). The salt is random per file, the nonce random per write.
* The header is bound as associated data, so changing any byte of it, of the nonce, of the ciphertext or of
  the tag is detected. A wrong passphrase is told apart from a damaged file by the key check (an HMAC of a fixed
  label under the derived key) and by the header digest: ``WrongPassphrase`` versus ``CorruptStore``. Neither
  error changes the file.
* Plaintext is never written to disk: only the encrypted bytes go through the atomic write. There is never a
  silent fallback to the plain store.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import struct
from collections.abc import Callable, Mapping

from ..domain.credentials import CredentialsDocument
from ..domain.errors import ConfigError, CorruptStore, InvalidStore, KeyUnavailable, WrongPassphrase
from .codec import read_document as parse_document
from .codec import write_document as render_document
from .files import LOCK_TIMEOUT, SecureFile
from .keyring_key import KeyringDataKey

MAGIC = b"HFAENC"
VERSION = 1
KDF_ARGON2ID = 1
KDF_KEYRING = 2
MIN_MEMORY_KIB = 19 * 1024
MIN_ITERATIONS = 2
DEFAULT_PARAMS = (MIN_MEMORY_KIB, MIN_ITERATIONS, 1)
_HEADER = struct.Struct(">6sBBIII16s12s16s")
_DIGEST_BYTES = 8
_TAG_BYTES = 16
_KEY_CHECK_LABEL = b"hyperframes-auth key check v1"

Passphrase = Callable[[], str]
"""Returns the passphrase (from an env var or a hidden prompt); raises an ``AuthError`` when there is none."""

_Material = tuple[int, bytes, tuple[int, int, int], bytes]  # (kdf id, salt or key id, KDF parameters, key)


class EncryptedCredentialsFile(SecureFile):
    """Implements ``CredentialStore`` on an AES-256-GCM file.

    The key of an existing file comes from what its header names: a passphrase through Argon2id, or a random data
    key kept in the OS keyring. A new file uses the keyring when ``prefer_keyring`` is set and a keyring answers,
    else the passphrase, else the keyring; with neither it refuses (never a silent plaintext fallback).

    Args:
        path: the encrypted file (``<config dir>/credentials.enc``).
        passphrase: called at most once, when the file must be opened or first written.
        keyring_key: where keyring-held data keys live, or ``None`` (no keyring support).
        prefer_keyring: new files use the keyring even when a passphrase could be asked for.
        params: Argon2id (memory KiB, iterations, lanes) for new files; never below the minimum.
    """

    backend = "encrypted"

    def __init__(
        self,
        path: str,
        passphrase: Passphrase | None,
        params: tuple[int, int, int] = DEFAULT_PARAMS,
        lock_timeout: float = LOCK_TIMEOUT,
        keyring_key: KeyringDataKey | None = None,
        prefer_keyring: bool = False,
    ) -> None:
        super().__init__(path, lock_timeout)
        _check_params(params)
        self._passphrase = passphrase
        self._params = params
        self._keyring = keyring_key
        self._prefer_keyring = prefer_keyring
        self._material: _Material | None = None

    # ------------------------------------------------------------------------------------------ keys

    def _key_for(self, kdf: int, salt: bytes, params: tuple[int, int, int]) -> bytes:
        cached = self._material
        if cached is not None and cached[:3] == (kdf, salt, params):
            return cached[3]
        if kdf == KDF_KEYRING:
            if self._keyring is None:
                raise KeyUnavailable("keyring support is not installed (pip install keyring)")
            key = self._keyring.load(salt)
        else:
            key = self._derive(salt, params)
        self._material = (kdf, salt, params, key)
        return key

    def _derive(self, salt: bytes, params: tuple[int, int, int]) -> bytes:
        if self._passphrase is None:
            raise ConfigError(
                "This encrypted credentials file needs a passphrase", "Set HYPERFRAMES_CREDENTIALS_PASSPHRASE."
            )
        from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

        memory, iterations, lanes = params
        secret = self._passphrase().encode("utf-8")
        return Argon2id(salt=salt, length=32, iterations=iterations, lanes=lanes, memory_cost=memory).derive(secret)

    def _new_material(self) -> _Material:
        """Key material for a new file: the keyring or the passphrase, as configured."""
        keyring_ok = (
            self._keyring is not None
            and (self._prefer_keyring or self._passphrase is None)
            and self._keyring.available()
        )
        salt = os.urandom(16)
        if keyring_ok and self._keyring is not None:
            return (KDF_KEYRING, salt, (0, 0, 0), self._keyring.create(salt))
        if self._passphrase is None:
            raise ConfigError(
                "No passphrase and no OS keyring for the encrypted credentials store",
                "Set HYPERFRAMES_CREDENTIALS_PASSPHRASE, or install and unlock a keyring.",
            )
        return (KDF_ARGON2ID, salt, self._params, self._derive(salt, self._params))

    def _current_material(self) -> _Material:
        """Keep the existing file's key (so it stays cached and the keyring is asked once), else make one."""
        if self._material is not None:
            return self._material
        try:
            data = self.read_bytes()
        except InvalidStore:
            data = None
        if data:
            # Opening it proves we hold its key, and caches it; a file we cannot open gets a fresh key (the caller
            # chose to replace it).
            with contextlib.suppress(CorruptStore, KeyUnavailable, WrongPassphrase):
                self._open(data)
            if self._material is not None:
                return self._material
        self._material = self._new_material()
        return self._material

    def _header_of(self, data: bytes) -> tuple[int, bytes] | None:
        try:
            fields = _HEADER.unpack(data[: _HEADER.size])
        except struct.error:
            return None
        return (fields[2], fields[6]) if fields[0] == MAGIC else None

    # ------------------------------------------------------------------------------------------ port

    def read(self) -> CredentialsDocument:
        """Decrypt and parse the store; absent gives an empty document.

        Raises:
            WrongPassphrase: the passphrase does not open this file.
            KeyUnavailable: the file's key lives in the OS keyring, which did not give it.
            CorruptStore: truncated, tampered with, or of an unknown format.
        """
        data = self.read_bytes()
        if not data:
            return CredentialsDocument()
        plaintext = self._open(data)
        try:
            return parse_document(plaintext.decode("utf-8"))
        except (UnicodeDecodeError, InvalidStore) as exc:
            raise CorruptStore(f"decrypted content is not a credentials document ({type(exc).__name__})") from None

    def write(self, doc: CredentialsDocument) -> None:
        kdf, salt, params, key = self._current_material()
        nonce = os.urandom(12)
        header = _HEADER.pack(MAGIC, VERSION, kdf, *params, salt, nonce, _key_check(key))
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        sealed = AESGCM(key).encrypt(nonce, render_document(doc).encode("utf-8"), header)
        self.write_bytes(header + hashlib.sha256(header).digest()[:_DIGEST_BYTES] + sealed)

    def delete(self) -> None:
        """Remove the file, and its data key from the keyring when it had one (checklist item 75)."""
        try:
            data = self.read_bytes()
        except InvalidStore:
            data = None
        header = self._header_of(data) if data else None
        super().delete()
        self._material = None
        if header is not None and header[0] == KDF_KEYRING and self._keyring is not None:
            self._keyring.delete(header[1])

    def _open(self, data: bytes) -> bytes:
        size = _HEADER.size + _DIGEST_BYTES
        if len(data) < size + _TAG_BYTES:
            raise CorruptStore("the file is truncated")
        header, digest, sealed = data[: _HEADER.size], data[_HEADER.size : size], data[size:]
        magic, version, kdf, memory, iterations, lanes, salt, nonce, check = _HEADER.unpack(header)
        if magic != MAGIC:
            raise CorruptStore("not an encrypted hyperframes credentials file")
        if not hmac.compare_digest(hashlib.sha256(header).digest()[:_DIGEST_BYTES], digest):
            raise CorruptStore("the header is damaged or was tampered with")
        if version != VERSION or kdf not in (KDF_ARGON2ID, KDF_KEYRING):
            raise CorruptStore(f"unknown format version {version}/{kdf}", "Upgrade hyperframes-auth to read this file.")
        params = (memory, iterations, lanes)
        if kdf == KDF_ARGON2ID:
            _check_params(params)
        key = self._key_for(kdf, salt, params)
        if not hmac.compare_digest(_key_check(key), check):
            self._material = None
            raise WrongPassphrase
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        try:
            return AESGCM(key).decrypt(nonce, sealed, header)
        except InvalidTag:
            raise CorruptStore("the contents are damaged or were tampered with") from None


def _key_check(key: bytes) -> bytes:
    return hmac.new(key, _KEY_CHECK_LABEL, hashlib.sha256).digest()[:16]


def _check_params(params: tuple[int, int, int]) -> None:
    memory, iterations, lanes = params
    if (
        memory < MIN_MEMORY_KIB
        or iterations < MIN_ITERATIONS
        or lanes < 1
        or memory > 4 * 1024 * 1024
        or iterations > 100
    ):
        raise CorruptStore("the key-derivation parameters are outside the accepted range")


def env_or_prompt_passphrase(env: Mapping[str, str], prompt: bool) -> Passphrase:
    """The passphrase source the CLI and facade use: the env var, else a hidden prompt on a TTY."""

    def get() -> str:
        value = env.get("HYPERFRAMES_CREDENTIALS_PASSPHRASE", "")
        if value:
            return value
        if prompt:
            import getpass

            entered = getpass.getpass("Passphrase for the encrypted credentials: ")
            if entered:
                return entered
        raise ConfigError(
            "No passphrase for the encrypted credentials store",
            "Set HYPERFRAMES_CREDENTIALS_PASSPHRASE, or run the command in a terminal to be asked for it.",
        )

    return get
