"""``EncryptedCredentialsFile``: the same credentials document, encrypted at rest (opt-in).

Chosen with ``HYPERFRAMES_CREDENTIALS_STORE=encrypted``; lives beside the plain file as ``credentials.enc``.

Format, version 2 (written by this version; all integers big-endian, sizes in bytes)::

    offset size  field
         0    6  magic "HFAENC"
         6    1  version = 2
         7    1  keeper: 1 = passphrase (Argon2id), 2 = OS keyring
         8    4  Argon2id memory in KiB     (0 for the keyring)
        12    4  Argon2id iterations        (0 for the keyring)
        16    4  Argon2id lanes             (0 for the keyring)
        20   16  salt (passphrase) or key id (keyring), random per keeper
        36   16  key check  = HMAC-SHA256(HKDF(KEK, "hyperframes-auth v2 key check"), "hyperframes-auth key check v2")[:16]
        52   12  wrap nonce, random
        64   48  wrapped DEK = AES-256-GCM(HKDF(KEK, "hyperframes-auth v2 key wrap"), wrap nonce, DEK,
                                           associated data = bytes 0..51)
       112   12  body nonce, random per write
       124   16  SHA-256(bytes 0..123)[:16]  (the header digest)
       140    -  AES-256-GCM(HKDF(DEK, "hyperframes-auth v2 body"), body nonce, document,
                             associated data = bytes 0..123)  (ciphertext, then the 16-byte tag)

* **Keys.** The document is encrypted under a random 256-bit data key (DEK), itself wrapped under a key-encryption
  key (KEK), as age's recipient stanzas wrap a file key. The KEK is either Argon2id(passphrase, salt, parameters,
  associated data = "hyperframes-auth v2 passphrase") or a random 256-bit key kept in the OS keyring under
  ``hyperframes-auth`` / ``<path of this file>#<key id in hex>`` (only trusted OS secret stores are used: see
  ``keyring_key``). Separate subkeys come from HKDF-SHA256 (RFC 5869): one checks the KEK, one wraps the DEK, one
  encrypts the body. The passphrase is prepared as an RFC 8265 OpaqueString (non-ASCII spaces mapped to U+0020, then
  Unicode NFC), so "é" typed precomposed or decomposed opens the same file.
* **Argon2id parameters** for new files and rewraps: 64 MiB, 3 iterations, 4 lanes (RFC 9106 §4, the second
  recommended option). Files are read with anything from the floor (19 MiB, 2 iterations, 1 lane: OWASP's minimum)
  to the ceiling (1 GiB, 64 iterations, 16 lanes, and memory x iterations at most 1 GiB x 4: about 3 s on a
  2-core machine, where 1 GiB x 64 took 56 s); outside that range the header is ``CorruptStore`` before any work,
  so a tampered header cannot demand minutes of CPU or gigabytes of memory. A file below the current parameters is
  rewrapped under them after its next save, while its passphrase is at hand.
* **Upgrades are writes of their own.** A save is sealed under the keys of the file in place, as they are (version 1
  included); a file due for an upgrade (version 1, or parameters below the current ones) is then rewritten under new
  keys, as a second write that spends nothing (``_upgrade``). A save may follow a spent refresh token: if its writer
  is killed before the rename, the next process adopts the temp file only if it decrypts it with the keys of the file
  in place, which a save sealed under upgraded keys would defeat (``SecureFile._settle_orphans``).
* **Errors.** The digest is checked first: a damaged or edited header is ``CorruptStore`` (an editor who also
  recomputes the unkeyed digest and changes the salt or parameters is, by construction, indistinguishable from a
  wrong passphrase). Then the key check: a different passphrase is ``WrongPassphrase``; a keyring whose value does not
  match, or is not 32 bytes of base64, is ``KeyUnavailable``. A wrapped key or body that then fails to decrypt is
  ``CorruptStore``. None of these changes the file.
* **Version 1** (``HFAENC`` | 1 | keeper | memory | iterations | lanes | salt or key id (16) | nonce (12) | check (16),
  then SHA-256 of those 64 bytes [:8], then AES-256-GCM under the KEK itself with that header as associated data;
  check = HMAC-SHA256(KEK, "hyperframes-auth key check v1")[:16]; no KDF context label) is still read; a save to it
  is written as version 1 under its key, then the file is rewritten as version 2: a keyring-kept key becomes the KEK
  of the new file, a passphrase is re-derived with a fresh salt at the current parameters.
* **Lifecycle.** ``rekey`` moves the file to a new passphrase or between passphrase and keyring without signing out
  (a new DEK, the body re-encrypted, the old keyring item removed only after the new file is durable). A key cached
  by a long-running process is used only while the file on disk still carries the keeper it was unlocked from; a
  file that another process removed or re-created is unlocked again, never overwritten under a deleted key.
* **Locking.** No one waits on a person typing: ``lock()`` obtains the key of the file on disk (asking for its
  passphrase) *before* taking the cross-process lock, and errors found then are raised by the ``read``/``write``
  that needs the key. A new file's passphrase is typed (twice) only when ``write`` needs it, with the lock let go
  meanwhile; the store must then still be as it was read, else ``StoreChanged`` and nothing is written.
* **Migration from the plain file.** Given the plain ``credentials`` store, ``read`` shows its content while no
  encrypted file exists (``read_from_plain``), and the first ``write`` encrypts it durably, then removes the plain
  file (unless it changed meanwhile); ``delete`` removes a plain file beside it too. A save prepared under the lock
  (``reserve``: a refresh, which spends a refresh token) migrates first, by a write of its own that spends nothing
  (``_migrate_first``): its own temp file, killed before its rename, is then judged against an encrypted file in
  place like any other save. Removing a file is not secure erasure: its blocks may survive on the disk (journals, copy-on-write file systems,
  SSD wear levelling, backups).
* Plaintext is never written to disk: only the encrypted bytes go through the atomic write. There is never a
  silent fallback to the plain store.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import struct
import sys
import threading
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace

from ..domain.credentials import CredentialsDocument
from ..domain.errors import (
    AuthError,
    ConfigError,
    CorruptStore,
    InvalidPassphrase,
    InvalidStore,
    KeyringRefused,
    KeyUnavailable,
    NotConfigured,
    StoreChanged,
    WrongPassphrase,
)
from .codec import encode_document
from .codec import read_document as parse_document
from .credentials_file import CredentialsFile
from .files import LOCK_TIMEOUT, PendingWrite, SecureFile
from .keyring_key import KeyringDataKey

MAGIC = b"HFAENC"
VERSION = 2
VERSION_1 = 1
KDF_ARGON2ID = 1
KDF_KEYRING = 2
MIN_MEMORY_KIB, MIN_ITERATIONS, MIN_LANES = 19 * 1024, 2, 1  # OWASP Password Storage Cheat Sheet's floor
MAX_MEMORY_KIB, MAX_ITERATIONS, MAX_LANES = 1024 * 1024, 64, 16  # what a header may demand of us
MAX_WORK = 4 * 1024 * 1024  # memory KiB x iterations: 1 GiB x 4 passes, ~3 s here (1 GiB x 64 would take ~56 s)
DEFAULT_PARAMS = (64 * 1024, 3, 4)  # RFC 9106 §4, second recommended option
MIN_PASSPHRASE_CHARS = 12
PASSPHRASE_ENV = "HYPERFRAMES_CREDENTIALS_PASSPHRASE"  # noqa: S105 - the variable's name

_V2 = struct.Struct(">6sBBIII16s16s12s48s12s")
_V2_SLOT_AAD = 52  # magic .. key check: what the wrapped DEK is bound to
_V2_SLOT = 112  # everything but the body nonce: what a keeper contributes, reused across writes
_V2_DIGEST = 16
_V1 = struct.Struct(">6sBBIII16s12s16s")
_V1_DIGEST = 8
_TAG = 16
_ARGON2_CONTEXT = b"hyperframes-auth v2 passphrase"
_HKDF_CHECK = b"hyperframes-auth v2 key check"
_HKDF_WRAP = b"hyperframes-auth v2 key wrap"
_HKDF_BODY = b"hyperframes-auth v2 body"
_CHECK_LABEL = b"hyperframes-auth key check v2"
_V1_CHECK_LABEL = b"hyperframes-auth key check v1"

Params = tuple[int, int, int]
Passphrase = Callable[[], str]
"""Returns the passphrase of an existing file (an env var or a hidden prompt); raises an ``AuthError`` if none."""
NewPassphrase = Callable[[str | None], str]
"""Returns a passphrase for a new keeper (asked twice at a prompt); the argument is a note to show first, or None."""

_NO_PASSPHRASE = "No passphrase for the encrypted credentials store"  # noqa: S105 - a message
_NO_PASSPHRASE_HINT = f"Set {PASSPHRASE_ENV}, or run the command in a terminal to be asked for it."


class _NoPassphrase(ConfigError):
    """No passphrase can be had here: none in the environment and nobody to ask (no terminal)."""

    def __init__(self) -> None:
        super().__init__(_NO_PASSPHRASE, _NO_PASSPHRASE_HINT)


@dataclass(frozen=True)
class _Keys:
    """What unlocks one file: its keeper (kind, salt or key id, parameters), the KEK and the data key."""

    version: int
    kind: int
    ident: bytes
    params: Params
    kek: bytes
    dek: bytes  # version 1: the file key itself
    fingerprint: bytes  # the header bytes that name the keeper and the wrapped key; equal bytes -> same keys
    secret: bytes | None = None  # the prepared passphrase, kept only while the file awaits an upgrade


@dataclass(frozen=True)
class _Fresh:
    """A keeper chosen for a file about to be created: a passphrase KEK already derived, or the keyring."""

    kind: int
    ident: bytes = b""
    params: Params = (0, 0, 0)
    kek: bytes = b""


class EncryptedCredentialsFile(SecureFile):
    """Implements ``CredentialStore`` on an AES-256-GCM file whose data key a passphrase or the OS keyring keeps.

    A new file uses the keyring when ``prefer_keyring`` is set (or there is no passphrase source) and a trusted OS
    keyring answers; else a passphrase (asked twice at a prompt); with neither it refuses, saying why (never a silent
    plaintext fallback).

    Args:
        path: the encrypted file (``<config dir>/credentials.enc``).
        passphrase: the passphrase of an existing file, called when the file must be unlocked.
        params: Argon2id (memory KiB, iterations, lanes) for new keepers; within the floor and ceiling.
        keyring_key: where keyring-held keys live, or ``None`` (no keyring support).
        prefer_keyring: new files use the keyring even when a passphrase could be asked for.
        migrate_from: the plain store whose content moves into this file on its first write.
        new_passphrase: a passphrase for a new keeper; by default ``passphrase.new`` for a ``PassphrasePrompt``,
            else ``passphrase`` itself.
    """

    backend = "encrypted"

    def __init__(
        self,
        path: str,
        passphrase: Passphrase | None,
        params: Params = DEFAULT_PARAMS,
        lock_timeout: float = LOCK_TIMEOUT,
        keyring_key: KeyringDataKey | None = None,
        prefer_keyring: bool = False,
        migrate_from: CredentialsFile | None = None,
        new_passphrase: NewPassphrase | None = None,
    ) -> None:
        super().__init__(path, lock_timeout)
        if not _params_ok(params):
            raise ConfigError(f"Argon2id parameters {params} are outside the accepted range")
        self._passphrase = passphrase
        if new_passphrase is None and passphrase is not None:
            new_passphrase = passphrase.new if isinstance(passphrase, PassphrasePrompt) else _ignore_note(passphrase)
        self._new_passphrase = new_passphrase
        self._params = params
        self._keyring = keyring_key
        self._prefer_keyring = prefer_keyring
        self._plain = migrate_from
        self._keys: _Keys | None = None
        # Per thread: inside lock()?, a prepared new keeper, a deferred error, and what this thread's last read
        # found (another thread's unlocked read must not change what this thread's save migrates).
        self._local = threading.local()
        self.plain_removed: str | None = None
        """The plain file's path once a ``write`` (migration) or ``delete`` removed it."""

    @property
    def read_from_plain(self) -> bool:
        """True when this thread's last ``read`` found no encrypted file and returned the plain file's content."""
        return bool(getattr(self._local, "read_from_plain", False))

    @read_from_plain.setter
    def read_from_plain(self, value: bool) -> None:
        self._local.read_from_plain = value

    @property
    def _plain_seen(self) -> bytes | None:
        """The plain file's bytes as this thread's last ``read`` returned them (what a migration moves)."""
        seen: bytes | None = getattr(self._local, "plain_seen", None)
        return seen

    @_plain_seen.setter
    def _plain_seen(self, value: bytes | None) -> None:
        self._local.plain_seen = value

    # ------------------------------------------------------------------------------------------ for the CLI

    @property
    def keeper(self) -> str | None:
        """Who keeps the key of the file on disk, for ``auth status``; ``None`` when there is no file.

        E.g. ``OS keyring (Secret Service)`` or ``passphrase (Argon2id, 64 MiB, t=3, p=4)``.
        """
        header = self._peek()
        if header is None:
            return None
        kind, _, params = header
        if kind == KDF_ARGON2ID:
            return _passphrase_keeper(params)
        if kind != KDF_KEYRING:
            return "unknown (the file is damaged, or from a newer version)"
        if self._keyring is None:
            return "OS keyring (keyring support is not installed)"
        refusal = self._keyring.refusal()
        return f"OS keyring ({self._keyring.judge()[1]})" if refusal is None else f"keyring ({refusal})"

    def plain_leftover(self) -> str | None:
        """The plain credentials file's path when one exists beside this store (status and logout mention it)."""
        if self._plain is None:
            return None
        return self._plain.path if os.path.lexists(self._plain.path) else None

    def rekey(self, to: str, new_passphrase: NewPassphrase | None = None) -> str:
        """Give the stored credentials a new keeper without signing out; returns the new ``keeper``.

        ``to`` is ``"passphrase"`` (a new passphrase, from ``new_passphrase`` or the store's own source: asked twice)
        or ``"keyring"``. The current key is obtained and the new one prepared before the lock is taken; under it the
        document is re-encrypted under a new data key and written atomically; a keyring item the file no longer
        needs is removed only after that.

        Raises:
            NotConfigured: there is no encrypted file.
            KeyringRefused: ``keyring`` was asked for and no trusted OS keyring can keep the key.
            StoreChanged: another process replaced the file meanwhile (nothing was changed).
        """
        if to not in ("passphrase", "keyring"):
            raise ConfigError(f"Unknown key keeper {to!r}", "Use `passphrase` or `keyring`.")
        data = self.read_bytes()
        if not data:
            raise NotConfigured
        old = self._unlock(data)
        fresh = self._fresh_keyring() if to == "keyring" else self._fresh_passphrase(new_passphrase, None)
        created = fresh.kind == KDF_KEYRING
        try:
            with SecureFile.lock(self):
                current = self.read_bytes()
                if not current or _fingerprint(current) != old.fingerprint:
                    raise StoreChanged
                plaintext = self._decrypt(current, old)
                new = _new_keys(fresh)
                self.write_bytes(_seal(plaintext, new))
                created = False
        finally:
            if created and self._keyring is not None:
                self._keyring.delete(fresh.ident)
        self._keys = new
        if old.kind == KDF_KEYRING and self._keyring is not None and old.ident != new.ident:
            self._keyring.delete(old.ident)
        return self._keeper_of(new)

    # ------------------------------------------------------------------------------------------ port

    def read(self) -> CredentialsDocument:
        """Decrypt and parse the store; absent gives the plain file's content (to migrate) or an empty document.

        Raises:
            WrongPassphrase: the passphrase does not open this file.
            KeyUnavailable: the file's key lives in the OS keyring, which did not give it.
            CorruptStore: truncated, tampered with, or of an unknown format.
            InvalidPassphrase: the passphrase is not UTF-8 text.
        """
        self.read_from_plain = False
        data = self.read_bytes()
        if not data:
            return self._read_plain()
        plaintext = self._decrypt(data, self._keys_of(data))
        try:
            return parse_document(plaintext.decode("utf-8"))
        except (UnicodeDecodeError, InvalidStore) as exc:
            raise CorruptStore(f"decrypted content is not a credentials document ({type(exc).__name__})") from None

    def encode(self, doc: CredentialsDocument) -> bytes:
        """``doc`` sealed under the keys of the file on disk, as they are (or new ones, for a new file); nothing is
        changed on disk yet: the plain file a migration comes from is removed by ``after_save``, once these bytes
        are durable, and a file due for an upgrade is upgraded there too, by a write of its own."""
        keys, created = self._keys_for_write()
        plaintext = encode_document(doc)
        try:
            data = _seal(plaintext, keys)
        except BaseException:
            self._forget_new_key(keys, created)
            raise
        self._local.sealing = (keys, created, plaintext, data)
        return data

    def after_save(self, *, saved: bool) -> None:
        """Once the last ``encode``'s bytes are in place: finish a migration, then upgrade the file's keys if they are
        due (``_upgrade``); or, if they could not be put in place, forget a keyring item made for them."""
        keys, created, plaintext, data = self._local.__dict__.pop("sealing", (None, False, b"", b""))
        if keys is None:
            return
        if not saved:
            self._forget_new_key(keys, created)
            return
        self._keys = keys
        self._local.fresh = None
        self._finish_migration()
        if self._needs_upgrade(keys):
            self._upgrade(keys, plaintext, data)
        else:
            self._keys = replace(keys, secret=None)

    @contextlib.contextmanager
    def reserve(self) -> Iterator[PendingWrite]:
        """``SecureFile.reserve``, after finishing a migration from the plain file first (``_migrate_first``)."""
        self._migrate_first()
        with SecureFile.reserve(self) as pending:
            yield pending

    def _migrate_first(self) -> None:
        """Under the lock, with the plain file's content just read (no encrypted file yet): write it encrypted now,
        by a save of its own, before the caller spends anything.

        Why not in the caller's save, as a sign-in's does: that save may follow a spent refresh token, and if its
        writer is killed before the rename, the next process adopts its temp file only when it is newer than an
        encrypted file in place; with none, a left-over temp file counts as older than a sign-out and is removed,
        and the plain file, still there, holds the refresh token the server rotated away. Migrated first, the
        caller's save has a file to be judged against, under keys the next process unlocks. Killed in this write,
        nothing is lost: nothing was spent, and the plain file is still there. A failure here (a full disk, a
        passphrase not given) fails the command before anything is spent.
        """
        if not getattr(self._local, "held", False) or self._plain_seen is None or not self.read_from_plain:
            return
        if self._safe_bytes():
            return  # written meanwhile (impossible under our lock, unless by hand): the caller's save replaces it
        doc = parse_document(self._plain_seen.decode("utf-8"))
        with SecureFile.reserve(self) as pending:
            pending.commit(doc)  # then ``after_save`` removes the plain file, unless it changed meanwhile

    def _upgrade(self, keys: _Keys, plaintext: bytes, saved: bytes) -> None:
        """Rewrite the file just saved (``saved``, holding ``plaintext``) under upgraded keys: version 2 at the
        current Argon2id parameters (``_upgraded``).

        Why a write of its own, after the save, rather than sealing the save itself under the new keys: a save may
        follow a spent refresh token, and if its writer is killed before the rename, the next process adopts its
        temp file only if it can decrypt it (``complete``) with the keys of the file in place, which are the old
        ones. Here nothing new is at stake: killed, this write leaves the file as saved, and its temp file (which
        nobody can judge) waits until a newer save makes it moot. Nor is it made before the save: a file changed
        just before a save can share its timestamp on a coarse clock, and then that save's temp file would not count
        as newer. A failure leaves the upgrade to the next save, the passphrase still in hand.
        """
        try:
            if self.read_bytes() != saved:
                return  # saved over since (possible only without the lock): the next save upgrades
            new = self._upgraded(keys)
            self.write_bytes(_seal(plaintext, new))
        except (AuthError, OSError):
            return
        self._keys = replace(new, secret=None)

    def complete(self, data: bytes) -> bool | None:
        """A left-over temp file is whole when it decrypts, with the keys already in hand, to a credentials document.

        ``lock()`` unlocks the file on disk before it takes the lock, so its keys are in hand when the lock's
        holder looks at left-over temp files; every save of ours seals under those same keys, version 1 included
        (an upgrade is a write of its own, after the save: ``_upgrade``; a migration from the plain file, one before
        it: ``_migrate_first``). AES-GCM authenticates every byte and the
        length: a write cut short, or the content followed by the reservation's zeros, fails. Nothing is asked for
        here (no prompt, no keyring): a damaged header (the digest) or no header at all is ``False``; a header sealed
        under other keys than those in hand, or none in hand (a wrong passphrase, a locked keyring, a sign-in's
        ``reserve()`` before it opened the file, an upgrade's own write), cannot be told: ``None`` keeps it for a
        later ``lock()`` (a newer save makes it moot).
        """
        if not _sound(data):
            return False  # what is left of a write cut short (zeros), a damaged header, or nothing we write
        keys = self._keys
        if keys is None or _fingerprint(data) != keys.fingerprint:
            return None
        try:
            parse_document(self._decrypt(data, keys).decode("utf-8"))
        except (CorruptStore, UnicodeDecodeError, InvalidStore):
            return False
        return True

    def _forget_new_key(self, keys: _Keys, created: bool) -> None:
        if created and self._keyring is not None:
            self._keyring.delete(keys.ident)  # no file refers to the new keyring item

    def delete(self) -> None:
        """Remove the file, its key from the keyring when it had one, and a plain credentials file beside it."""
        header = self._peek()
        super().delete()
        self._keys = None
        self._local.fresh = None
        if header is not None and header[0] == KDF_KEYRING and self._keyring is not None:
            self._keyring.delete(header[1])
        if self._plain is not None and os.path.lexists(self._plain.path):
            self._plain.delete()
            self.plain_removed = self._plain.path
        self._plain_seen = None

    def quarantine(self) -> str | None:
        """Move the unreadable file aside: the encrypted one, or (before migration) the plain one, never deleted."""
        if os.path.lexists(self.path):
            kept = super().quarantine()
            keys, self._keys = self._keys, None
            if keys is not None and getattr(self._local, "fresh", None) is None:
                # The replacement is written under this lock: keep a keeper we already hold (no prompt under lock).
                self._local.fresh = (
                    _Fresh(KDF_KEYRING)
                    if keys.kind == KDF_KEYRING
                    else _Fresh(keys.kind, keys.ident, keys.params, keys.kek)
                )
            return kept
        if self._plain is not None:
            self._plain_seen = None
            return self._plain.quarantine()
        return None

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """The cross-process lock; a passphrase prompt never runs while it is held.

        The key of the file on disk is obtained first (prompting if need be); if the file changes before the lock
        is held, that is done again (up to three times). Errors met then are kept and raised by the ``read`` or
        ``write`` that needs the key, so ``delete`` works even without the passphrase. With no file, nothing is
        asked here (``logout`` or ``refresh`` with nothing stored ask nothing): a keyring or an environment
        passphrase is settled now, and a passphrase that must be typed is asked by ``write`` with the lock let go
        meanwhile and taken again after, when the store must still be as it was read (else ``StoreChanged``).
        A plain file beside the store is locked too (always after this one), so a migration cannot race a
        plain-store writer.
        """
        for attempt in range(3):
            self._prepare_key()
            taken = self._take_locks()
            if attempt == 2 or self._prepared_for(self._safe_bytes()):
                break
            taken.close()
        self._local.taken = taken
        self._local.held = True
        try:
            yield
        finally:
            self._local.taken.close()
            self._local.held = False
            self._local.fresh = None
            self._local.deferred = None

    def _take_locks(self) -> contextlib.ExitStack:
        taken = contextlib.ExitStack()
        taken.enter_context(SecureFile.lock(self))
        if self._plain is not None and os.path.lexists(self._plain.path):
            try:
                taken.enter_context(self._plain.lock())
            except BaseException:
                taken.close()
                raise
        return taken

    def _outside_the_lock(self, ask: Callable[[], _Fresh]) -> _Fresh:
        """Run ``ask`` (a prompt) with the lock let go, when it is held; then the store must be as it was read."""
        if not getattr(self._local, "held", False):
            return ask()
        self._local.taken.close()
        try:
            fresh = ask()
        finally:
            self._local.taken = self._take_locks()
        plain_now = self._plain.read_bytes() if self._plain is not None and self._plain_seen is not None else None
        if self._safe_bytes() or plain_now != self._plain_seen:
            raise StoreChanged
        return fresh

    # ------------------------------------------------------------------------------------------ preparing

    def _prepare_key(self) -> None:
        """Outside the lock: unlock the file on disk, or settle a new file's keeper if nobody must be asked."""
        self._local.deferred = None
        data = self._safe_bytes()
        if data:
            if self._keys is not None and _fingerprint(data) == self._keys.fingerprint:
                return
            try:
                self._keys = self._unlock(data)
            except CorruptStore as exc:
                self._local.deferred = exc
                self._prepare_fresh()  # an unreadable file is moved aside and replaced: have its successor's key
            except AuthError as exc:
                self._local.deferred = exc
            return
        self._prepare_fresh()

    def _prepare_fresh(self) -> None:
        if getattr(self._local, "fresh", None) is not None or self._asks_a_person():
            return
        with contextlib.suppress(AuthError):  # met again, and raised, by the write that needs it
            self._local.fresh = self._choose_fresh()

    def _prepared_for(self, data: bytes | None) -> bool:
        if not data or getattr(self._local, "deferred", None) is not None:
            return True
        return self._keys is not None and _fingerprint(data) == self._keys.fingerprint

    def _held_error(self) -> AuthError | None:
        """Inside ``lock()``, the error met while preparing: raised instead of prompting under the lock."""
        if getattr(self._local, "held", False):
            return getattr(self._local, "deferred", None)
        return None

    def _asks_a_person(self) -> bool:
        """Whether a new keeper's passphrase would be typed at a prompt (rather than taken from the environment)."""
        prompt = self._passphrase
        return isinstance(prompt, PassphrasePrompt) and self._new_passphrase == prompt.new and prompt.would_ask()

    # ------------------------------------------------------------------------------------------ new keepers

    def _keyring_refusal(self) -> str | None:
        return "keyring support is not installed" if self._keyring is None else self._keyring.refusal()

    def _choose_fresh(self) -> _Fresh:
        """The keeper of a new file: the keyring (its item is made at write time), else a derived passphrase KEK."""
        note = None
        if self._keyring is not None and (self._prefer_keyring or self._new_passphrase is None):
            refusal = self._keyring_refusal()
            if refusal is None:
                return _Fresh(KDF_KEYRING)
            if self._new_passphrase is None:
                raise KeyringRefused(refusal)
            note = f"The OS keyring is not used ({refusal}); choose a passphrase for the encrypted credentials."
            try:
                return self._fresh_passphrase(None, note)
            except _NoPassphrase:
                raise KeyringRefused(refusal) from None  # nobody to ask: say why the keyring was not used
        return self._fresh_passphrase(None, note)

    def _fresh_passphrase(self, source: NewPassphrase | None, note: str | None) -> _Fresh:
        source = source or self._new_passphrase
        if source is None:
            raise _NoPassphrase
        secret = prepare_passphrase(source(note))
        salt = os.urandom(16)
        return _Fresh(KDF_ARGON2ID, salt, self._params, _argon2id(secret, salt, self._params))

    def _fresh_keyring(self) -> _Fresh:
        if self._keyring is None:
            raise KeyringRefused("keyring support is not installed (pip install keyring)")
        key_id = os.urandom(16)
        return _Fresh(KDF_KEYRING, key_id, (0, 0, 0), self._keyring.create(key_id))

    # ------------------------------------------------------------------------------------------ keys

    def _keys_of(self, data: bytes) -> _Keys:
        """The keys of ``data``: cached while the file still names the same keeper, else unlocked afresh."""
        if self._keys is not None and _fingerprint(data) == self._keys.fingerprint:
            return self._keys
        error = self._held_error()
        if error is not None:
            raise error
        self._keys = self._unlock(data)
        return self._keys

    def _keys_for_write(self) -> tuple[_Keys, bool]:
        """The keys to write under, and whether a keyring item was created for them just now: the file's own, even
        when they are due for an upgrade (made after the save: ``_upgrade``), else new ones for a new file."""
        data = self._safe_bytes()
        if data and _fingerprint(data) is not None:
            try:
                keys = self._keys_of(data)
            except CorruptStore:
                keys = None  # the caller replaces a damaged file (the service moves it aside first)
            if keys is not None:
                return keys, False
        # No file (or one being replaced): never reuse keys cached from a file that is gone, since another process
        # may have signed out and deleted its keyring item.
        fresh = getattr(self._local, "fresh", None)
        if fresh is None:
            fresh = self._outside_the_lock(self._choose_fresh) if self._asks_a_person() else self._choose_fresh()
        if fresh.kind == KDF_KEYRING and not fresh.kek:
            return _new_keys(self._fresh_keyring()), True
        return _new_keys(fresh), False

    def _needs_upgrade(self, keys: _Keys) -> bool:
        if keys.version != VERSION:
            return True
        memory, iterations, _ = keys.params
        return (
            keys.kind == KDF_ARGON2ID
            and keys.secret is not None
            and (memory < self._params[0] or iterations < self._params[1])
        )

    def _upgraded(self, keys: _Keys) -> _Keys:
        """Version 2 keys at the current parameters for a file being rewritten (its passphrase is at hand)."""
        if keys.kind == KDF_KEYRING:
            return _new_keys(_Fresh(KDF_KEYRING, keys.ident, (0, 0, 0), keys.kek))
        if keys.secret is None:  # pragma: no cover - a passphrase upgrade is only planned while the secret is kept
            return keys
        salt = os.urandom(16)
        return _new_keys(_Fresh(KDF_ARGON2ID, salt, self._params, _argon2id(keys.secret, salt, self._params)))

    def _unlock(self, data: bytes) -> _Keys:
        """Obtain the keys the header of ``data`` names (may prompt or ask the keyring); the body is not read."""
        if len(data) < len(MAGIC) + 1 or data[: len(MAGIC)] != MAGIC:
            raise CorruptStore("not an encrypted hyperframes credentials file")
        version = data[len(MAGIC)]
        if version == VERSION:
            return self._unlock_v2(data)
        if version == VERSION_1:
            return self._unlock_v1(data)
        raise CorruptStore(f"unknown format version {version}", "Upgrade hyperframes-auth to read this file.")

    def _unlock_v2(self, data: bytes) -> _Keys:
        header = _checked_header(data, _V2.size, _V2_DIGEST)
        _, _, kind, memory, iterations, lanes, ident, check, wrap_nonce, wrapped, _ = _V2.unpack(header)
        params = _checked_params(kind, (memory, iterations, lanes))
        cached = self._keys
        secret = None
        if cached is not None and (cached.kind, cached.ident, cached.params) == (kind, ident, params):
            kek = cached.kek  # the same keeper, e.g. after another process rewrote the body: no prompt again
        elif kind == KDF_KEYRING:
            kek = self._keyring_key(ident)
        else:
            secret = prepare_passphrase(self._ask())
            kek = _argon2id(secret, ident, params)
        if not hmac.compare_digest(_check(kek), check):
            if kind == KDF_KEYRING:
                raise KeyUnavailable("the keyring holds a different key for this file")
            raise WrongPassphrase
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        try:
            dek = AESGCM(_hkdf(kek, _HKDF_WRAP)).decrypt(wrap_nonce, wrapped, header[:_V2_SLOT_AAD])
        except InvalidTag:
            raise CorruptStore("the wrapped data key is damaged or was tampered with") from None
        weaker = kind == KDF_ARGON2ID and (params[0] < self._params[0] or params[1] < self._params[1])
        return _Keys(VERSION, kind, ident, params, kek, dek, header[:_V2_SLOT], secret if weaker else None)

    def _unlock_v1(self, data: bytes) -> _Keys:
        header = _checked_header(data, _V1.size, _V1_DIGEST)
        _, _, kind, memory, iterations, lanes, ident, _, check = _V1.unpack(header)
        params = _checked_params(kind, (memory, iterations, lanes))
        if kind == KDF_KEYRING:
            key = self._keyring_key(ident)
            if not hmac.compare_digest(_v1_check(key), check):
                raise KeyUnavailable("the keyring holds a different key for this file")
            return _Keys(VERSION_1, kind, ident, params, key, key, _v1_fingerprint(header))
        raw = self._ask()
        secret = prepare_passphrase(raw)
        # Version 1 encoded the passphrase as typed, in whichever normal form the keyboard produced: try the forms
        # that differ (at most three derivations, at version 1's parameters, once; the file is then upgraded).
        decomposed = unicodedata.normalize("NFD", secret.decode("utf-8")).encode("utf-8")
        for candidate in dict.fromkeys((secret, raw.encode("utf-8"), decomposed)):
            key = _argon2id(candidate, ident, params, context=None)
            if hmac.compare_digest(_v1_check(key), check):
                return _Keys(VERSION_1, kind, ident, params, key, key, _v1_fingerprint(header), secret)
        raise WrongPassphrase

    def _keyring_key(self, ident: bytes) -> bytes:
        if self._keyring is None:
            raise KeyUnavailable("keyring support is not installed (pip install keyring)")
        return self._keyring.load(ident)

    def _ask(self) -> str:
        if self._passphrase is None:
            raise ConfigError("This encrypted credentials file needs a passphrase", f"Set {PASSPHRASE_ENV}.")
        return self._passphrase()

    def _decrypt(self, data: bytes, keys: _Keys) -> bytes:
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        # The digest is checked again: with a cached key, unlocking (which checks it first) was skipped.
        if keys.version == VERSION_1:
            header, sealed = _checked_header(data, _V1.size, _V1_DIGEST), data[_V1.size + _V1_DIGEST :]
            nonce, key = _V1.unpack(header)[7], keys.dek
        else:
            header, sealed = _checked_header(data, _V2.size, _V2_DIGEST), data[_V2.size + _V2_DIGEST :]
            nonce, key = header[_V2_SLOT:], _hkdf(keys.dek, _HKDF_BODY)
        try:
            return AESGCM(key).decrypt(nonce, sealed, header)
        except InvalidTag:
            raise CorruptStore("the contents are damaged or were tampered with") from None

    def _keeper_of(self, keys: _Keys) -> str:
        if keys.kind == KDF_ARGON2ID:
            return _passphrase_keeper(keys.params)
        return f"OS keyring ({self._keyring.judge()[1]})" if self._keyring is not None else "OS keyring"

    # ------------------------------------------------------------------------------------------ files

    def _safe_bytes(self) -> bytes | None:
        try:
            return self.read_bytes()
        except InvalidStore:
            return None

    def _peek(self) -> tuple[int, bytes, Params] | None:
        """(keeper kind, salt or key id, parameters) from the header on disk, unverified; ``None`` if unreadable."""
        data = self._safe_bytes()
        if not data or _fingerprint(data) is None:
            return None
        layout = _V2 if data[len(MAGIC)] == VERSION else _V1
        fields = layout.unpack(data[: layout.size])
        return fields[2], fields[6], (fields[3], fields[4], fields[5])

    def _read_plain(self) -> CredentialsDocument:
        self._plain_seen = None
        if self._plain is None:
            return CredentialsDocument()
        data = self._plain.read_bytes()
        if data is None:
            return CredentialsDocument()
        try:
            doc = parse_document(data.decode("utf-8"))
        except UnicodeDecodeError:
            raise InvalidStore(f"{self._plain.path} is not UTF-8 text") from None
        self._plain_seen = data
        self.read_from_plain = doc.is_worth_keeping()
        return doc

    def _finish_migration(self) -> None:
        """After the encrypted file is durable: remove the plain file it was made from, if that is unchanged."""
        seen, self._plain_seen = self._plain_seen, None
        if self._plain is None or seen is None:
            return
        try:
            current = self._plain.read_bytes()
        except InvalidStore:
            return
        if current == seen:
            self._plain.delete()
            self.plain_removed = self._plain.path


# ---------------------------------------------------------------------------------------------- format


def _fingerprint(data: bytes) -> bytes | None:
    """The bytes that name a file's keeper and wrapped key (version 2) or keeper (version 1); ``None`` if neither."""
    if data[: len(MAGIC)] != MAGIC or len(data) <= len(MAGIC):
        return None
    version = data[len(MAGIC)]
    if version == VERSION and len(data) >= _V2.size:
        return data[:_V2_SLOT]
    if version == VERSION_1 and len(data) >= _V1.size:
        return _v1_fingerprint(data[: _V1.size])
    return None


def _v1_fingerprint(header: bytes) -> bytes:
    return header[:36] + header[48:64]  # all but the nonce


def _sound(data: bytes) -> bool:
    """Whether ``data`` begins with a header of a version we read (1 or 2) whose digest holds."""
    if data[: len(MAGIC)] != MAGIC or len(data) <= len(MAGIC) or data[len(MAGIC)] not in (VERSION, VERSION_1):
        return False
    layout, digest_size = (_V2, _V2_DIGEST) if data[len(MAGIC)] == VERSION else (_V1, _V1_DIGEST)
    try:
        _checked_header(data, layout.size, digest_size)
    except CorruptStore:
        return False
    return True


def _checked_header(data: bytes, size: int, digest_size: int) -> bytes:
    if len(data) < size + digest_size + _TAG:
        raise CorruptStore("the file is truncated")
    header, digest = data[:size], data[size : size + digest_size]
    if not hmac.compare_digest(hashlib.sha256(header).digest()[:digest_size], digest):
        raise CorruptStore("the header is damaged or was edited")
    return header


def _params_ok(params: Params) -> bool:
    memory, iterations, lanes = params
    return (
        MIN_MEMORY_KIB <= memory <= MAX_MEMORY_KIB
        and MIN_ITERATIONS <= iterations <= MAX_ITERATIONS
        and MIN_LANES <= lanes <= MAX_LANES
        and memory * iterations <= MAX_WORK
    )


def _checked_params(kind: int, params: Params) -> Params:
    """The header's parameters, refused (before any work) outside the floor and ceiling, or for an unknown keeper."""
    if kind == KDF_KEYRING:
        if params != (0, 0, 0):
            raise CorruptStore("the header is inconsistent (parameters for a keyring-kept key)")
        return params
    if kind != KDF_ARGON2ID:
        raise CorruptStore(f"unknown key keeper {kind}", "Upgrade hyperframes-auth to read this file.")
    if not _params_ok(params):
        raise CorruptStore("the key-derivation parameters are outside the accepted range")
    return params


def _new_keys(fresh: _Fresh) -> _Keys:
    """Version 2 keys under ``fresh``'s KEK: a new random data key, wrapped, with the header's keeper bytes."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    dek = os.urandom(32)
    slot = struct.pack(">6sBBIII16s16s", MAGIC, VERSION, fresh.kind, *fresh.params, fresh.ident, _check(fresh.kek))
    wrap_nonce = os.urandom(12)
    slot += wrap_nonce + AESGCM(_hkdf(fresh.kek, _HKDF_WRAP)).encrypt(wrap_nonce, dek, slot)
    return _Keys(VERSION, fresh.kind, fresh.ident, fresh.params, fresh.kek, dek, slot)


def _seal(plaintext: bytes, keys: _Keys) -> bytes:
    """A whole file holding ``plaintext`` under ``keys``, in their version's format, with a new body nonce."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    if keys.version == VERSION_1:
        return _seal_v1(plaintext, keys)
    header = keys.fingerprint + os.urandom(12)
    sealed = AESGCM(_hkdf(keys.dek, _HKDF_BODY)).encrypt(header[_V2_SLOT:], plaintext, header)
    return header + hashlib.sha256(header).digest()[:_V2_DIGEST] + sealed


def _seal_v1(plaintext: bytes, keys: _Keys) -> bytes:
    """A version 1 file under a version 1 file's key: a save to such a file, made before its upgrade (``_upgrade``).

    The header is the file's own (its fingerprint is all of it but the nonce) with a new nonce; the body is sealed
    under the key itself, with the header as associated data, as version 1 did.
    """
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = os.urandom(12)
    header = keys.fingerprint[:36] + nonce + keys.fingerprint[36:]
    sealed = AESGCM(keys.dek).encrypt(nonce, plaintext, header)
    return header + hashlib.sha256(header).digest()[:_V1_DIGEST] + sealed


def _hkdf(key: bytes, info: bytes) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(key)


def _check(kek: bytes) -> bytes:
    return hmac.new(_hkdf(kek, _HKDF_CHECK), _CHECK_LABEL, hashlib.sha256).digest()[:16]


def _v1_check(key: bytes) -> bytes:
    return hmac.new(key, _V1_CHECK_LABEL, hashlib.sha256).digest()[:16]


def _argon2id(secret: bytes, salt: bytes, params: Params, context: bytes | None = _ARGON2_CONTEXT) -> bytes:
    from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

    memory, iterations, lanes = params
    return Argon2id(salt=salt, length=32, iterations=iterations, lanes=lanes, memory_cost=memory, ad=context).derive(
        secret
    )


def _passphrase_keeper(params: Params) -> str:
    memory, iterations, lanes = params
    return f"passphrase (Argon2id, {memory // 1024} MiB, t={iterations}, p={lanes})"


def _ignore_note(passphrase: Passphrase) -> NewPassphrase:
    return lambda _note: passphrase()


# ---------------------------------------------------------------------------------------------- passphrases


def prepare_passphrase(text: str) -> bytes:
    """The bytes a passphrase stands for: RFC 8265 OpaqueString (non-ASCII spaces -> U+0020, then NFC), UTF-8.

    Raises:
        InvalidPassphrase: empty, or not text (bytes that were not UTF-8 arrive from the environment or a terminal
            as lone surrogates).
    """
    if any("\ud800" <= char <= "\udfff" for char in text):
        raise InvalidPassphrase("it holds bytes that are not UTF-8 text")
    mapped = "".join(" " if char != " " and unicodedata.category(char) == "Zs" else char for char in text)
    prepared = unicodedata.normalize("NFC", mapped)
    if not prepared:
        raise InvalidPassphrase("it is empty")
    return prepared.encode("utf-8")


def _new_passphrase_problem(text: str) -> str | None:
    """Why a new passphrase is refused (RFC 8265 OpaqueString disallows control characters), or ``None``."""
    prepare_passphrase(text)
    if any(unicodedata.category(char) == "Cc" for char in text):
        return "A passphrase cannot hold control characters."
    return None


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class PassphrasePrompt:
    """The passphrase source the CLI and facade use: ``HYPERFRAMES_CREDENTIALS_PASSPHRASE`` as given, else a hidden
    prompt on a terminal (``prompt``), else ``ConfigError``.

    Calling it asks once (to open a file); :meth:`new` asks twice for a new keeper, asks again on a mismatch, and
    warns about passphrases shorter than ``MIN_PASSPHRASE_CHARS`` characters.

    Args:
        env: the environment to read the variable from.
        prompt: whether a person may be asked (a TTY).
        ask: reads one hidden line (``getpass.getpass`` by default).
        say: shows a line to the person (stderr by default).
        attempts: how many mismatched pairs before giving up.
    """

    def __init__(
        self,
        env: Mapping[str, str],
        prompt: bool,
        ask: Callable[[str], str] | None = None,
        say: Callable[[str], None] = _stderr,
        attempts: int = 3,
    ) -> None:
        self.env = env
        self.prompt = prompt
        self._ask = ask
        self._say = say
        self.attempts = attempts

    def _read(self, question: str) -> str:
        if self._ask is not None:
            return self._ask(question)
        import getpass

        try:
            return getpass.getpass(question)
        except UnicodeDecodeError:
            raise InvalidPassphrase("the terminal sent bytes that are not UTF-8 text") from None
        except EOFError:
            return ""

    def would_ask(self) -> bool:
        """True when a passphrase would be typed at the prompt (none in the environment, and a person to ask)."""
        return self.prompt and not self.env.get(PASSPHRASE_ENV, "")

    def _given(self) -> str | None:
        value = self.env.get(PASSPHRASE_ENV, "")
        if value:
            return value
        if not self.prompt:
            raise _NoPassphrase
        return None

    def __call__(self) -> str:
        given = self._given()
        if given is not None:
            return given
        entered = self._read("Passphrase for the encrypted credentials: ")
        if entered:
            return entered
        raise _NoPassphrase

    def new(self, note: str | None = None) -> str:
        """A passphrase for a new keeper: the env var as given, else typed twice (the note is shown first)."""
        given = self._given()
        if given is not None:
            return given
        if note:
            self._say(note)
        for _ in range(self.attempts):
            first = self._read("New passphrase for the encrypted credentials: ")
            if not first:
                self._say("The passphrase cannot be empty.")
                continue
            problem = _new_passphrase_problem(first)
            if problem:
                self._say(problem)
                continue
            if len(unicodedata.normalize("NFC", first)) < MIN_PASSPHRASE_CHARS:
                self._say(
                    f"Warning: a passphrase shorter than {MIN_PASSPHRASE_CHARS} characters can be guessed by anyone "
                    "who copies the file; a few unrelated words are stronger."
                )
            again = self._read("Repeat the passphrase: ")
            if prepare_passphrase(again or " ") == prepare_passphrase(first):
                return first
            self._say("The passphrases do not match; try again.")
        raise ConfigError("The passphrases did not match", "Run the command again and type the same passphrase twice.")


def env_or_prompt_passphrase(env: Mapping[str, str], prompt: bool) -> PassphrasePrompt:
    """The passphrase source the CLI and facade use (see :class:`PassphrasePrompt`)."""
    return PassphrasePrompt(env, prompt)
