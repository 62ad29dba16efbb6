"""``KeyringDataKey``: a random 256-bit key kept in the OS keyring, for the encrypted credentials store.

Only the key goes to the keyring, never the tokens (Windows caps a credential blob at 2560 bytes). The keyring is
optional (``pip install keyring``) and often missing or locked on headless Linux, in containers and over SSH.

* **Only OS secret stores are trusted.** ``keyring`` picks whatever backend is installed: with ``keyrings.alt`` and
  no Secret Service it picks ``PlaintextKeyring`` (the key in base64 in a file beside the ciphertext), and
  ``PYTHON_KEYRING_BACKEND`` can name the ``null`` keyring, which stores nothing. So the backend keyring would use
  is judged against :data:`TRUSTED_BACKENDS` (exact classes, never subclasses: macOS Keychain, Windows Credential
  Locker, Secret Service, KWallet); a ``ChainerBackend`` is judged by the backend it would write to, and that backend
  is then used directly. Any other backend is refused with the reason (``KeyringRefused``), and the caller offers a
  passphrase instead. A new key is read back and compared before anything is encrypted under it.
* **Two time limits.** Finding the backend (a D-Bus round trip that hangs when the daemon is dead) is bounded by a
  short ``probe_timeout`` (3 s); storing, reading and removing a key may show an unlock prompt to a person, so those
  calls get a long ``timeout`` (60 s). An unanswered or failing call counts as unavailable.
* There is never a fallback to plaintext.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os
import threading
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from ..domain.errors import KeyringRefused, KeyUnavailable

SERVICE = "hyperframes-auth"
PROBE_TIMEOUT = 3.0
PROMPT_TIMEOUT = 60.0
KEY_BYTES = 32

TRUSTED_BACKENDS: Mapping[str, str] = {
    "keyring.backends.macOS.Keyring": "macOS Keychain",
    "keyring.backends.Windows.WinVaultKeyring": "Windows Credential Locker",
    "keyring.backends.SecretService.Keyring": "Secret Service",
    "keyring.backends.libsecret.Keyring": "Secret Service",
    "keyring.backends.kwallet.DBusKeyring": "KWallet",
    "keyring.backends.kwallet.DBusKeyringKWallet4": "KWallet",
}
"""Backends that keep secrets in an OS facility, by exact class (``module.QualifiedName``) -> a name for people."""

_REASONS = {
    "keyring.backends.fail.Keyring": "no OS keyring was found",
    "keyring.backends.null.Keyring": "the configured keyring backend (null) stores nothing",
    "keyring.backends.chainer.ChainerBackend": "no OS keyring was found",
}

T = TypeVar("T")


def class_name(obj: object) -> str:
    """``module.QualifiedName`` of ``obj``'s exact class: what :data:`TRUSTED_BACKENDS` is keyed by."""
    kind = type(obj)
    return f"{kind.__module__}.{kind.__qualname__}"


def _within(seconds: float, call: Callable[[], T], what: str = "the keyring") -> T:
    """Run ``call`` on a helper thread; raise ``KeyUnavailable`` if it fails or takes longer than ``seconds``."""
    box: list[T] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            box.append(call())
        except BaseException as exc:
            errors.append(exc)

    worker = threading.Thread(target=run, name="hf-keyring", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise KeyUnavailable(f"{what} did not answer within {seconds:g} s")
    if errors:
        raise KeyUnavailable(f"{what} failed ({type(errors[0]).__name__})")
    return box[0]


class KeyringDataKey:
    """Creates, loads and deletes 256-bit keys in a trusted OS keyring under the service ``hyperframes-auth``.

    Args:
        account: names the store the keys belong to (its path), so two config directories never share a key.
        probe_timeout: seconds finding and judging the backend may take (a dead D-Bus daemon hangs).
        timeout: seconds storing, reading or removing a key may take (the OS may ask a person to unlock).
        trusted: the allow-list, exact backend class name -> name for people. The default is the only one the
            package ever uses; tests extend it with their in-memory backend (a seam code must pass explicitly,
            so no environment variable or config file can widen it).
    """

    def __init__(
        self,
        account: str,
        probe_timeout: float = PROBE_TIMEOUT,
        timeout: float = PROMPT_TIMEOUT,
        trusted: Mapping[str, str] = TRUSTED_BACKENDS,
    ) -> None:
        self.account = account
        self.probe_timeout = probe_timeout
        self.timeout = timeout
        self.trusted = trusted
        self._judged: tuple[Any, str] | None = None

    def _name(self, key_id: bytes) -> str:
        return f"{self.account}#{key_id.hex()}"

    # ------------------------------------------------------------------------------------------ trust

    def judge(self) -> tuple[Any, str]:
        """The backend keys would be written to, and its name for people, when it is a trusted OS secret store.

        Raises:
            KeyringRefused: no ``keyring`` package, no backend, an untrusted backend, or one that does not answer.
        """
        if self._judged is not None:
            return self._judged
        try:
            import keyring
        except ImportError:
            raise KeyringRefused("the `keyring` package is not installed") from None
        try:
            backend = _within(self.probe_timeout, lambda: _effective(keyring.get_keyring()))
        except KeyUnavailable as exc:
            raise KeyringRefused(exc.detail) from None
        name = class_name(backend)
        label = self.trusted.get(name)
        if label is None:
            raise KeyringRefused(_REASONS.get(name) or f"{name} is not an OS secret store (it may keep keys in a file)")
        try:
            # A backend named explicitly (PYTHON_KEYRING_BACKEND) is never asked whether it is viable: ask now.
            # Secret Service answers this by checking the daemon over D-Bus; macOS and Windows by the platform.
            _within(self.probe_timeout, lambda: type(backend).priority)
        except KeyUnavailable as exc:
            raise KeyringRefused(f"the {label} is not available ({exc.detail})") from None
        self._judged = (backend, label)
        return self._judged

    def refusal(self) -> str | None:
        """Why new keys cannot go to the keyring, or ``None`` when they can."""
        try:
            self.judge()
        except KeyringRefused as exc:
            return exc.detail
        return None

    def available(self) -> bool:
        """True when a trusted OS keyring answers in time."""
        return self.refusal() is None

    # ------------------------------------------------------------------------------------------ keys

    def create(self, key_id: bytes) -> bytes:
        """Draw a new key, keep it in the trusted keyring under ``key_id``, read it back, and return it.

        Raises:
            KeyringRefused: the backend is not trusted, or it did not give back the key it was given.
            KeyUnavailable: the keyring failed or did not answer.
        """
        backend, label = self.judge()
        key = os.urandom(KEY_BYTES)
        name = self._name(key_id)
        _within(self.timeout, lambda: backend.set_password(SERVICE, name, _encode(key)))
        try:
            echoed = _within(self.timeout, lambda: backend.get_password(SERVICE, name))
        except KeyUnavailable:
            echoed = None
        if not (
            isinstance(echoed, str) and hmac.compare_digest(echoed.encode("ascii", "replace"), _encode(key).encode())
        ):
            self._forget(backend, name)
            raise KeyringRefused(f"the {label} did not give back the key it was just given")
        return key

    def load(self, key_id: bytes) -> bytes:
        """The key stored under ``key_id`` (looked up through the configured keyring, whatever it is).

        Raises:
            KeyUnavailable: no keyring, no answer, no such key, or a value that is not a 32-byte base64 key.
        """
        try:
            import keyring
        except ImportError:
            raise KeyUnavailable("the `keyring` package is not installed") from None
        name = self._name(key_id)
        encoded = _within(self.timeout, lambda: keyring.get_keyring().get_password(SERVICE, name))
        if not encoded:
            raise KeyUnavailable("no key is stored for this file")
        return _decode(encoded)

    def delete(self, key_id: bytes) -> None:
        """Remove the key (best effort: a keyring that does not answer keeps it)."""
        try:
            import keyring
        except ImportError:
            return
        try:
            backend = _within(self.probe_timeout, keyring.get_keyring)
        except KeyUnavailable:
            return
        self._forget(backend, self._name(key_id))

    def _forget(self, backend: Any, name: str) -> None:
        try:  # PasswordDeleteError (no such item) arrives as KeyUnavailable too: either way there is nothing to do
            _within(self.timeout, lambda: backend.delete_password(SERVICE, name))
        except KeyUnavailable:
            return


def _effective(backend: Any) -> Any:
    """The backend that would store a new key: a ``ChainerBackend`` writes to the first of its backends."""
    from keyring.backends.chainer import ChainerBackend

    if isinstance(backend, ChainerBackend):
        chain = list(backend.backends)
        return chain[0] if chain else backend
    return backend


def _encode(key: bytes) -> str:
    return base64.b64encode(key).decode("ascii")


def _decode(encoded: object) -> bytes:
    """A stored value back to its 32 bytes; anything else is unusable (never a partial or padded key)."""
    if not isinstance(encoded, str):
        raise KeyUnavailable("the keyring's value for this file is not text")
    try:
        key = base64.b64decode(encoded.strip().encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError, binascii.Error):
        raise KeyUnavailable("the keyring's value for this file is not a base64 key") from None
    if len(key) != KEY_BYTES:
        raise KeyUnavailable(f"the keyring's value for this file is not a {KEY_BYTES}-byte key")
    return key
