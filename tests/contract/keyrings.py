"""Keyring backends for the tests, and the one seam that lets the store trust them.

A box without a desktop has no Secret Service, so the tests keep keys in ``MemoryKeyring``. Its trust comes from the
same allow-list the package uses (``KeyringDataKey(trusted=...)``), extended explicitly by the test code: no
environment variable or config file can do that, so the seam cannot widen trust outside the tests. Every backend
here is removed from keyring's automatic choice and is only ever set explicitly.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import keyring
import keyring.backend
import pytest
from keyring.backends.chainer import ChainerBackend
from keyring.compat import properties
from keyring.errors import PasswordDeleteError

from hyperframes_auth.adapters.encrypted_file import EncryptedCredentialsFile
from hyperframes_auth.adapters.keyring_key import TRUSTED_BACKENDS, KeyringDataKey, class_name


class MemoryKeyring(keyring.backend.KeyringBackend):
    """Keeps passwords in a dict; ``gate``, when set, holds every ``get_password`` until it is opened (a person
    answering an unlock prompt); ``started`` tells when one is waiting."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[tuple[str, str], str] = {}
        self.gate: threading.Event | None = None
        self.started = threading.Event()

    def get_password(self, service: str, username: str) -> str | None:
        self.started.set()
        if self.gate is not None:
            self.gate.wait(30)
        return self.items.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.items[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if (service, username) not in self.items:
            raise PasswordDeleteError(username)
        del self.items[(service, username)]


class ForgetfulKeyring(MemoryKeyring):
    """Accepts every key and gives back something else (a backend that stores nothing, or mangles values)."""

    def set_password(self, service: str, username: str, password: str) -> None:
        super().set_password(service, username, password[::-1])


DEAD_DAEMON = threading.Event()


class DeadDaemonKeyring(MemoryKeyring):
    """Like Secret Service with a daemon that never answers: asking whether it is viable hangs."""

    @properties.classproperty
    def priority(cls) -> float:  # noqa: N805 - a class property
        DEAD_DAEMON.wait(30)
        return 1


class FixedChain(ChainerBackend):
    """A ChainerBackend over a given list (keyring's own discovers installed backends)."""

    chain: list[keyring.backend.KeyringBackend] = []  # noqa: RUF012 - set per test

    @properties.classproperty
    def backends(cls) -> list[keyring.backend.KeyringBackend]:  # noqa: N805 - a class property
        return cls.chain


for _test_backend in (MemoryKeyring, ForgetfulKeyring, DeadDaemonKeyring, FixedChain):
    keyring.backend.KeyringBackend._classes.discard(_test_backend)  # type: ignore[attr-defined]

TEST_TRUSTED = {
    **TRUSTED_BACKENDS,
    class_name(MemoryKeyring()): "test keyring",
    class_name(ForgetfulKeyring()): "forgetful test keyring",
    "tests.contract.keyrings.DeadDaemonKeyring": "dead test keyring",
}


@pytest.fixture
def ring() -> Iterator[MemoryKeyring]:
    """A trusted in-memory keyring, set as keyring's backend for the test."""
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    if backend.gate is not None:
        backend.gate.set()
    keyring.set_keyring(previous)


def keyring_key(path: str, probe_timeout: float = 3.0, timeout: float = 10.0) -> KeyringDataKey:
    return KeyringDataKey(path, probe_timeout=probe_timeout, timeout=timeout, trusted=TEST_TRUSTED)


def keyring_store(
    path: str,
    passphrase: str | None = None,
    prefer_keyring: bool = True,
    probe_timeout: float = 3.0,
    timeout: float = 10.0,
    params: tuple[int, int, int] = (19 * 1024, 2, 1),
) -> EncryptedCredentialsFile:
    return EncryptedCredentialsFile(
        path,
        (lambda: passphrase) if passphrase else None,  # type: ignore[arg-type,return-value]
        params=params,
        keyring_key=keyring_key(path, probe_timeout, timeout),
        prefer_keyring=prefer_keyring,
    )
