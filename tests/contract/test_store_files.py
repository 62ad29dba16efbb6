"""What only real files can get wrong: modes, symlinks, FIFOs, sizes, atomicity under SIGKILL, lost updates,
and the encrypted store's tamper detection. Checklist items 54-60, 63-65, 69-74, 77, 79."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import random
import signal
import stat
import struct
from pathlib import Path

import pytest

from hyperframes_auth.adapters.credentials_file import CredentialsFile
from hyperframes_auth.adapters.encrypted_file import EncryptedCredentialsFile
from hyperframes_auth.domain.config import Settings
from hyperframes_auth.domain.credentials import CredentialsDocument, OAuthTokens
from hyperframes_auth.domain.errors import ConfigError, CorruptStore, InvalidStore, WrongPassphrase
from hyperframes_auth.entrypoints.bootstrap import make_store

FORK = multiprocessing.get_context("fork")
OLD = CredentialsDocument(api_key="hg_old_key_123", oauth=OAuthTokens("at_old" * 200, "rt_old"))
NEW = CredentialsDocument(api_key="hg_new_key_456", oauth=OAuthTokens("at_new" * 300, "rt_new"))


@contextlib.contextmanager
def umask(value: int):
    old = os.umask(value)
    try:
        yield
    finally:
        os.umask(old)


def test_modes_are_right_at_creation_whatever_the_umask(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "cfg" / "credentials"
    with umask(0):
        CredentialsFile(str(path)).write(OLD)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_an_existing_wide_file_and_directory_are_tightened(tmp_path: Path) -> None:
    path = tmp_path / "cfg" / "credentials"
    path.parent.mkdir(mode=0o755)
    path.write_text('{"api_key": "hg_wide_key_1"}')
    path.chmod(0o644)
    CredentialsFile(str(path)).write(NEW)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_a_symlink_is_refused_and_its_target_untouched(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious")
    path = tmp_path / "credentials"
    path.symlink_to(victim)
    store = CredentialsFile(str(path))
    with pytest.raises(InvalidStore, match="symbolic link"):
        store.read()
    with pytest.raises(InvalidStore, match="symbolic link"):
        store.write(NEW)
    assert victim.read_text() == "precious"


def test_a_fifo_a_directory_and_an_oversized_file_are_refused_without_hanging(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(InvalidStore, match="not a regular file"):
        CredentialsFile(str(fifo)).read()
    (tmp_path / "dir").mkdir()
    with pytest.raises(InvalidStore, match="not a regular file"):
        CredentialsFile(str(tmp_path / "dir")).read()
    big = tmp_path / "big"
    with big.open("wb") as handle:
        handle.truncate(100 * 1024 * 1024)  # sparse: refused from its size, never read
    with pytest.raises(InvalidStore, match="larger than 1 MiB"):
        CredentialsFile(str(big)).read()


def test_a_failed_replace_leaves_the_old_file_and_no_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "credentials"
    store = CredentialsFile(str(path))
    store.write(OLD)

    def broken_replace(*_args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(InvalidStore, match="No space left"):
        store.write(NEW)
    monkeypatch.undo()
    assert store.read().content() == OLD.content()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["credentials"]


def _save_forever(path: str, ready: object) -> None:
    store = CredentialsFile(path)
    ready.set()  # type: ignore[attr-defined]
    while True:
        store.write(NEW)
        store.write(OLD)


def test_sigkill_during_saves_never_leaves_a_torn_file(tmp_path: Path) -> None:
    path = tmp_path / "credentials"
    CredentialsFile(str(path)).write(OLD)
    rng = random.Random(1234)
    outcomes = set()
    for _ in range(200):
        ready = FORK.Event()
        child = FORK.Process(target=_save_forever, args=(str(path), ready))
        child.start()
        assert ready.wait(10)
        os.sched_yield()
        # let it write for a random moment: the kill must land at arbitrary points of the save
        for _ in range(rng.randrange(0, 300_000)):
            pass
        os.kill(child.pid, signal.SIGKILL)
        child.join()
        content = CredentialsFile(str(path)).read().content()
        assert content in (OLD.content(), NEW.content())
        outcomes.add(content == NEW.content())
    assert outcomes == {True, False}
    leftovers = [p for p in tmp_path.iterdir() if p.name != "credentials"]
    assert all(p.name.startswith(".credentials.") and p.name.endswith(".tmp") for p in leftovers)
    for stale in leftovers:  # temp files of killed writers: the next save sweeps the stale ones
        os.utime(stale, (0, 0))
    CredentialsFile(str(path)).write(NEW)
    assert [p.name for p in tmp_path.iterdir()] == ["credentials"]


def _increment(path: str, times: int) -> None:
    store = CredentialsFile(path, lock_timeout=60)
    for _ in range(times):
        with store.lock():
            doc = store.read()
            count = int(doc.extra.get("counter", 0))  # type: ignore[call-overload]
            store.write(doc.replace(extra={"counter": count + 1}))


def test_eight_processes_lose_no_update_under_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "credentials"
    CredentialsFile(str(path)).write(CredentialsDocument(api_key="hg_counter_key1"))
    workers = [FORK.Process(target=_increment, args=(str(path), 25)) for _ in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    doc = CredentialsFile(str(path)).read()
    assert doc.extra["counter"] == 200
    assert doc.api_key == "hg_counter_key1"


def _hold_lock_then_die(path: str, ready: object) -> None:
    with CredentialsFile(path).lock():
        ready.set()  # type: ignore[attr-defined]
        signal.pause()


def test_a_killed_lock_holder_does_not_wedge_the_others(tmp_path: Path) -> None:
    path = str(tmp_path / "credentials")
    ready = FORK.Event()
    holder = FORK.Process(target=_hold_lock_then_die, args=(path, ready))
    holder.start()
    assert ready.wait(10)
    os.kill(holder.pid, signal.SIGKILL)
    holder.join()
    with CredentialsFile(path, lock_timeout=2).lock():
        pass


# ---------------------------------------------------------------------------------------------- encrypted

PASS = "s3cret passphrase"


def encrypted(tmp_path: Path, passphrase: str = PASS) -> EncryptedCredentialsFile:
    return EncryptedCredentialsFile(str(tmp_path / "credentials.enc"), lambda: passphrase)


def test_encrypted_store_never_writes_plaintext(tmp_path: Path) -> None:
    encrypted(tmp_path).write(NEW)
    for file in tmp_path.rglob("*"):
        if file.is_file():
            assert b"at_new" not in file.read_bytes()
            assert b"hg_new_key" not in file.read_bytes()
    assert encrypted(tmp_path).read().content() == NEW.content()


def test_each_write_uses_a_fresh_nonce(tmp_path: Path) -> None:
    store = encrypted(tmp_path)
    blobs = set()
    for _ in range(20):
        store.write(NEW)
        blobs.add((tmp_path / "credentials.enc").read_bytes())
    assert len(blobs) == 20


def test_a_wrong_passphrase_is_not_a_corrupt_file_and_changes_nothing(tmp_path: Path) -> None:
    encrypted(tmp_path).write(NEW)
    before = (tmp_path / "credentials.enc").read_bytes()
    with pytest.raises(WrongPassphrase):
        encrypted(tmp_path, "wrong").read()
    assert (tmp_path / "credentials.enc").read_bytes() == before


def test_every_tampered_byte_is_detected_as_corruption(tmp_path: Path) -> None:
    store = encrypted(tmp_path)
    store.write(NEW)
    path = tmp_path / "credentials.enc"
    original = path.read_bytes()
    positions = list(range(80)) + sorted(random.Random(7).sample(range(80, len(original)), 40))
    reader = encrypted(tmp_path)
    reader.read()  # derive and cache the key once; tampering the salt or parameters forces a new derivation
    for position in positions:
        damaged = bytearray(original)
        damaged[position] ^= 0x01
        path.write_bytes(bytes(damaged))
        with pytest.raises(CorruptStore):
            reader.read()
    for size in (0, 10, 60, len(original) - 1):
        path.write_bytes(original[:size])
        if size == 0:
            assert not reader.read().is_worth_keeping()
            continue
        with pytest.raises(CorruptStore):
            reader.read()


def test_unknown_versions_and_weak_parameters_are_refused(tmp_path: Path) -> None:
    import hashlib

    store = encrypted(tmp_path)
    store.write(NEW)
    path = tmp_path / "credentials.enc"
    data = bytearray(path.read_bytes())
    header_size = struct.calcsize(">6sBBIII16s12s16s")
    for offset, value in ((6, 99), (8, 1024)):  # format version 99; memory 1 MiB (below the OWASP minimum)
        tampered = bytearray(data)
        if offset == 6:
            tampered[6] = value
        else:
            tampered[8:12] = struct.pack(">I", value)
        tampered[header_size : header_size + 8] = hashlib.sha256(bytes(tampered[:header_size])).digest()[:8]
        path.write_bytes(bytes(tampered))
        with pytest.raises(CorruptStore):
            encrypted(tmp_path).read()
    with pytest.raises(CorruptStore):
        EncryptedCredentialsFile(str(path), lambda: PASS, params=(1024, 1, 1))


def test_no_silent_fallback_to_the_plain_file(tmp_path: Path) -> None:
    env = {"HYPERFRAMES_CREDENTIALS_STORE": "encrypted", "HEYGEN_CONFIG_DIR": str(tmp_path)}
    store = make_store(Settings.from_env(env, str(tmp_path)), env, passphrase_prompt=False)
    assert store.backend == "encrypted"
    with pytest.raises(ConfigError, match="No passphrase"):
        store.write(NEW)
    assert list(tmp_path.iterdir()) == []
