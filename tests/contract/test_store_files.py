"""What only real files can get wrong: modes, symlinks, FIFOs, sizes, atomicity under SIGKILL, lost updates."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import random
import signal
import stat
from pathlib import Path

import attrs
import pytest

from hyperframes_auth.adapters.credentials_file import CredentialsFile
from hyperframes_auth.domain.credentials import CredentialsDocument, OAuthTokens
from hyperframes_auth.domain.errors import InvalidStore

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
            store.write(attrs.evolve(doc, extra={"counter": count + 1}))


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
