"""``KeyringDataKey``: a random 256-bit data key kept in the OS keyring, for the encrypted credentials store.

Only the key goes to the keyring, never the tokens (Windows caps a credential blob at 2560 bytes). The keyring is
optional (``pip install keyring``) and often missing or locked on headless Linux, in containers and over SSH, where
a D-Bus call can hang: every call here runs with a time limit (3 s by default) and an unanswered or failing
backend counts as unavailable. There is never a fallback to plaintext.
"""

from __future__ import annotations

import base64
import os
import threading
from collections.abc import Callable
from typing import TypeVar

from ..domain.errors import KeyUnavailable

SERVICE = "hyperframes-auth"
T = TypeVar("T")


def _within(seconds: float, call: Callable[[], T]) -> T:
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
        raise KeyUnavailable(f"the keyring did not answer within {seconds:g} s")
    if errors:
        raise KeyUnavailable(type(errors[0]).__name__)
    return box[0]


class KeyringDataKey:
    """Creates, loads and deletes data keys in the OS keyring under ``hyperframes-auth``.

    Args:
        account: names the store the keys belong to (its path), so two config directories never share a key.
        timeout: seconds any keyring call may take.
    """

    def __init__(self, account: str, timeout: float = 3.0) -> None:
        self.account = account
        self.timeout = timeout

    def _name(self, key_id: bytes) -> str:
        return f"{self.account}#{key_id.hex()}"

    def available(self) -> bool:
        """True when the keyring package is installed and a real backend answers in time."""
        try:
            import keyring
            from keyring.backends import fail
        except ImportError:
            return False
        try:
            backend = _within(self.timeout, keyring.get_keyring)
            if isinstance(backend, fail.Keyring):
                return False
            _within(self.timeout, lambda: keyring.get_password(SERVICE, f"{self.account}#probe"))
        except KeyUnavailable:
            return False
        return True

    def create(self, key_id: bytes) -> bytes:
        """Draw a new data key, keep it in the keyring under ``key_id``, and return it."""
        import keyring

        key = os.urandom(32)
        encoded = base64.b64encode(key).decode("ascii")
        _within(self.timeout, lambda: keyring.set_password(SERVICE, self._name(key_id), encoded))
        return key

    def load(self, key_id: bytes) -> bytes:
        """The data key stored under ``key_id``.

        Raises:
            KeyUnavailable: no keyring, no answer, or no such key.
        """
        try:
            import keyring
        except ImportError:
            raise KeyUnavailable("the `keyring` package is not installed") from None
        encoded = _within(self.timeout, lambda: keyring.get_password(SERVICE, self._name(key_id)))
        if not encoded:
            raise KeyUnavailable("no key is stored for this file")
        return base64.b64decode(encoded)

    def delete(self, key_id: bytes) -> None:
        """Remove the key (best effort: a keyring that does not answer keeps it)."""
        try:
            import keyring
            from keyring.errors import PasswordDeleteError
        except ImportError:
            return
        try:
            _within(self.timeout, lambda: keyring.delete_password(SERVICE, self._name(key_id)))
        except (KeyUnavailable, PasswordDeleteError):
            return
