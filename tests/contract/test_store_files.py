"""What only real files can get wrong: trust (owners, modes, symlinks, hard links), FIFOs, sizes, reserved saves on
a full disk or a read-only directory, atomicity under SIGKILL, lost updates, and the lock file's life."""

from __future__ import annotations

import contextlib
import errno
import multiprocessing
import os
import random
import signal
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

from hyperframes_auth.adapters.credentials_file import CredentialsFile
from hyperframes_auth.domain.credentials import CredentialsDocument, OAuthTokens
from hyperframes_auth.domain.errors import InvalidStore, StoreLocked, StoreWriteFailed, UnsafeStore

from .mounts import ROOT, fill, read_only

FORK = multiprocessing.get_context("fork")
STRANGER = 54321  # a uid that owns nothing here
OLD = CredentialsDocument(api_key="hg_old_key_123", oauth=OAuthTokens("at_old" * 200, "rt_old"))
NEW = CredentialsDocument(api_key="hg_new_key_456", oauth=OAuthTokens("at_new" * 300, "rt_new"))


@contextlib.contextmanager
def umask(value: int):
    old = os.umask(value)
    try:
        yield
    finally:
        os.umask(old)


@pytest.mark.parametrize("mask", [0o000, 0o277])
def test_every_missing_directory_is_created_0700_whatever_the_umask(tmp_path: Path, mask: int) -> None:
    path = tmp_path / "deep" / "er" / "cfg" / "credentials"
    with umask(mask):
        CredentialsFile(str(path)).write(OLD)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for level in (tmp_path / "deep", tmp_path / "deep" / "er", path.parent):
        assert stat.S_IMODE(level.stat().st_mode) == 0o700, level


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


def signed_in_dir(tmp_path: Path, mode: int = 0o700) -> tuple[Path, CredentialsFile]:
    """A config directory holding OLD, then set to ``mode``."""
    path = tmp_path / "cfg" / "credentials"
    store = CredentialsFile(str(path))
    store.write(OLD)
    path.parent.chmod(mode)
    return path, store


def assert_refused_everywhere(store: CredentialsFile, match: str) -> UnsafeStore:
    """Read, save, lock, reserve and quarantine all refuse; returns the read's error."""
    with pytest.raises(UnsafeStore, match=match) as info:
        store.read()
    for action in (
        lambda: store.write(NEW),
        lambda: store.lock().__enter__(),
        lambda: store.reserve().__enter__(),
        store.quarantine,
        store.delete,
    ):
        with pytest.raises(UnsafeStore, match=match):
            action()
    return info.value


def test_a_symlinked_directory_is_refused_never_followed_nor_chmodded(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real_path, _ = signed_in_dir(real, 0o755)
    link = tmp_path / "link"
    link.symlink_to(real_path.parent)
    store = CredentialsFile(str(link / "credentials"))
    error = assert_refused_everywhere(store, "symbolic link")
    assert error.message == f"Refusing to use {link}: it is a symbolic link"
    assert str(link) in (error.hint or "")
    assert "HEYGEN_CONFIG_DIR" in (error.hint or "")
    assert stat.S_IMODE(real_path.parent.stat().st_mode) == 0o755
    assert sorted(p.name for p in real_path.parent.iterdir()) == ["credentials"]
    assert CredentialsFile(str(real_path)).read().content() == OLD.content()


@pytest.mark.parametrize("mode", [0o770, 0o707, 0o777, 0o720])
def test_a_directory_writable_by_others_is_refused_with_the_fix(tmp_path: Path, mode: int) -> None:
    path, store = signed_in_dir(tmp_path, mode)
    error = assert_refused_everywhere(store, "writable by")
    assert error.hint == f"Run `chmod 700 {path.parent}` (and check nobody else changed its content)."
    assert stat.S_IMODE(path.parent.stat().st_mode) == mode  # refused, not silently "fixed"
    path.parent.chmod(0o700)
    assert store.read().content() == OLD.content()


@pytest.mark.parametrize("mode", [0o660, 0o606, 0o620])
def test_a_file_writable_by_others_is_refused_with_the_fix(tmp_path: Path, mode: int) -> None:
    path, store = signed_in_dir(tmp_path)
    path.chmod(mode)
    with pytest.raises(UnsafeStore, match="writable by") as info:
        store.read()
    assert info.value.hint == f"Run `chmod 600 {path}` (or remove it and sign in again)."
    with pytest.raises(UnsafeStore, match="writable by"):
        store.write(NEW)
    assert stat.S_IMODE(path.stat().st_mode) == mode
    path.chmod(0o600)
    assert store.read().content() == OLD.content()


def test_what_is_only_readable_by_others_is_tightened_on_read(tmp_path: Path) -> None:
    path, store = signed_in_dir(tmp_path, 0o755)
    path.chmod(0o644)
    assert store.read().content() == OLD.content()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_a_hard_linked_file_is_refused_on_read_and_on_write(tmp_path: Path) -> None:
    path, store = signed_in_dir(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    os.link(path, elsewhere)
    with pytest.raises(UnsafeStore, match="2 hard links") as info:
        store.read()
    assert info.value.hint == f"Remove {path} (`rm {path}`) and sign in again."
    with pytest.raises(UnsafeStore, match="hard links"):
        store.write(NEW)
    assert elsewhere.read_bytes() == path.read_bytes() == CredentialsFile(str(path)).encode(OLD)
    elsewhere.unlink()
    assert store.read().content() == OLD.content()


@pytest.mark.skipif(not ROOT, reason="giving a file to another uid needs root (CI runs as root)")
def test_a_directory_owned_by_someone_else_is_refused(tmp_path: Path) -> None:
    path, store = signed_in_dir(tmp_path)
    os.chown(path.parent, STRANGER, STRANGER)
    error = assert_refused_everywhere(store, f"owned by uid {STRANGER}")
    assert f"chown -R 0 {path.parent}" in (error.hint or "")
    assert path.parent.stat().st_uid == STRANGER
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


@pytest.mark.skipif(not ROOT, reason="giving a file to another uid needs root (CI runs as root)")
def test_a_file_owned_by_someone_else_is_refused(tmp_path: Path) -> None:
    path, store = signed_in_dir(tmp_path)
    path.chmod(0o644)
    os.chown(path, STRANGER, STRANGER)
    with pytest.raises(UnsafeStore, match=f"owned by uid {STRANGER}") as info:
        store.read()
    assert f"chown 0 {path}" in (info.value.hint or "")
    with pytest.raises(UnsafeStore, match="owned by"):
        store.write(NEW)
    with pytest.raises(UnsafeStore, match="owned by"):
        store.quarantine()
    assert (path.stat().st_uid, stat.S_IMODE(path.stat().st_mode)) == (STRANGER, 0o644)


def test_quarantine_is_not_redirected_by_a_swapped_symlink(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path, store = signed_in_dir(tmp_path)
    path.write_bytes(b"{ damaged")
    victim = tmp_path / "victim"
    victim.write_text("precious")
    victim.chmod(0o644)
    swapped: list[bool] = []

    def swap() -> None:
        """Between our first look at the file and what we do with it, the name becomes a symlink to the victim."""
        if not swapped:
            swapped.append(True)
            os.rename(path, tmp_path / "original")
            os.symlink(victim, path)

    def spied(real):  # type: ignore[no-untyped-def]
        def call(target, *args, **kwargs):  # type: ignore[no-untyped-def]
            result = real(target, *args, **kwargs)
            if os.path.basename(str(target)) == "credentials":
                swap()
            return result

        return call

    for name in ("lstat", "stat", "open"):
        monkeypatch.setattr(os, name, spied(getattr(os, name)))
    with contextlib.suppress(InvalidStore):
        store.quarantine()
    monkeypatch.undo()
    assert swapped
    assert stat.S_IMODE(victim.stat().st_mode) == 0o644
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


def test_a_failed_save_is_retried_then_reported_with_the_cause_and_the_old_file_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "credentials"
    store = CredentialsFile(str(path))
    store.write(OLD)
    calls = []

    def full_disk(*args: object, **kwargs: object) -> None:
        calls.append(args)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(StoreWriteFailed) as info:
        store.write(NEW)
    monkeypatch.undo()
    assert len(calls) == 4  # bounded: one try and three retries
    assert info.value.code == "STORE_WRITE_FAILED"
    assert info.value.message == f"Could not save the credentials to {path}: the disk is full"
    assert info.value.hint == f"Free some space on the disk that holds {tmp_path}, then try again."
    assert store.read().content() == OLD.content()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["credentials"]


def test_a_save_that_fails_once_succeeds_on_the_retry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "credentials"
    store = CredentialsFile(str(path))
    store.write(OLD)
    real_replace = os.replace
    failures = [OSError(errno.EIO, "Input/output error")]

    def flaky(*args: object, **kwargs: object) -> None:
        if failures:
            raise failures.pop()
        real_replace(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "replace", flaky)
    store.write(NEW)
    monkeypatch.undo()
    assert store.read().content() == NEW.content()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["credentials"]


@pytest.mark.parametrize(
    ("code", "reason", "fix"),
    [
        (errno.ENOSPC, "the disk is full", "Free some space on the disk that holds /srv/cfg"),
        (errno.EACCES, "permission denied", "Make /srv/cfg writable by you (`chmod 700 /srv/cfg`)"),
        (errno.EPERM, "permission denied", "Make /srv/cfg writable by you (`chmod 700 /srv/cfg`)"),
        (errno.EROFS, "the file system is read-only", "Remount the file system that holds /srv/cfg read-write"),
        (errno.EDQUOT, "the disk quota is exceeded", "Free some space within your disk quota for /srv/cfg"),
        (errno.EIO, "Input/output error", "Check the disk and the permissions of /srv/cfg"),
    ],
)
def test_a_failed_save_names_the_path_in_use_and_the_cause_in_words(code: int, reason: str, fix: str) -> None:
    error = StoreWriteFailed("/srv/cfg/credentials", OSError(code, os.strerror(code)))
    assert error.message == f"Could not save the credentials to /srv/cfg/credentials: {reason}"
    assert error.hint is not None
    assert error.hint.startswith(fix)
    assert error.hint.endswith(", then try again.")
    assert "~/.heygen" not in error.hint


def test_an_unreadable_file_names_the_path_in_use_not_a_default(tmp_path: Path) -> None:
    path = tmp_path / "custom" / "credentials"
    path.parent.mkdir(mode=0o700)
    path.write_text("{ not json")
    with pytest.raises(InvalidStore) as info:
        CredentialsFile(str(path)).read()
    assert str(path) in info.value.message
    assert info.value.hint is not None
    assert str(path) in info.value.hint
    assert "~/.heygen" not in info.value.hint


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
    leftovers = [p for p in tmp_path.iterdir() if p.name not in ("credentials", "credentials.lock")]
    assert all(p.name.startswith(".credentials.") and p.name.endswith(".tmp") for p in leftovers)
    # The temp files of killed writers (no live process holds them): the next lock finishes the newest whole save
    # newer than the file, if there is one, and removes the rest at once
    store = CredentialsFile(str(path))
    with store.lock():
        assert store.read().content() in (OLD.content(), NEW.content())
        assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
        store.write(NEW)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["credentials", "credentials.lock"]


def _reserve_and_wait(path: str, ready: object, go: object) -> None:
    store = CredentialsFile(path)
    with store.reserve() as pending:
        ready.set()  # type: ignore[attr-defined]
        assert go.wait(30)  # type: ignore[attr-defined]
        pending.commit(NEW)


def test_a_save_never_sweeps_the_reservation_of_a_live_writer(tmp_path: Path) -> None:
    """A browser sign-in holds its reservation for minutes without the store's lock; saves meanwhile leave it."""
    path = tmp_path / "credentials"
    CredentialsFile(str(path)).write(OLD)
    ready, go = FORK.Event(), FORK.Event()
    writer = FORK.Process(target=_reserve_and_wait, args=(str(path), ready, go))
    writer.start()
    assert ready.wait(10)
    [temp] = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    os.utime(temp, (0, 0))  # even an old-looking one: its writer holds it
    for _ in range(3):
        CredentialsFile(str(path)).write(OLD)
    assert temp.exists()
    go.set()
    writer.join(30)
    assert writer.exitcode == 0
    assert CredentialsFile(str(path)).read().content() == NEW.content()
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


# ---------------------------------------------------------------------------------------------- reserved saves


def test_reserve_fails_on_a_full_disk_before_anything_is_spent(small_disk: Path) -> None:
    path = small_disk / "cfg" / "credentials"
    store = CredentialsFile(str(path))
    store.write(OLD)
    fill(small_disk)
    spent = []
    with pytest.raises(StoreWriteFailed) as info, store.lock(), store.reserve():
        spent.append("the refresh request")
    assert spent == []
    assert info.value.message == f"Could not save the credentials to {path}: the disk is full"
    assert str(path.parent) in (info.value.hint or "")
    assert sorted(p.name for p in path.parent.iterdir()) == ["credentials", "credentials.lock"]
    assert store.read().content() == OLD.content()


def test_commit_succeeds_into_the_reserved_space_when_the_disk_fills_meanwhile(small_disk: Path) -> None:
    path = small_disk / "cfg" / "credentials"
    store = CredentialsFile(str(path))
    store.write(OLD)
    with store.lock():
        assert store.read().content() == OLD.content()
        with store.reserve() as pending:
            fill(small_disk)  # the disk fills up while the refresh request is in flight
            with pytest.raises(StoreWriteFailed, match="the disk is full"):
                CredentialsFile(str(path)).write(NEW)  # an unreserved save fails now
            pending.commit(NEW)
        assert pending.committed
    assert store.read().content() == NEW.content()
    assert sorted(p.name for p in path.parent.iterdir()) == ["credentials", "credentials.lock"]  # no temp file


@pytest.fixture
def read_only_store(tmp_path: Path) -> Iterator[CredentialsFile]:
    """A signed-in store whose directory cannot be written: a read-only bind mount as root (chmod does not stop
    root), else mode 0500."""
    path, store = signed_in_dir(tmp_path)
    if not ROOT:
        path.parent.chmod(0o500)
        try:
            yield store
        finally:
            path.parent.chmod(0o700)
        return
    with read_only(path.parent):
        yield store


def test_reserve_fails_on_a_directory_that_cannot_be_written_before_anything_is_spent(
    read_only_store: CredentialsFile,
) -> None:
    spent = []
    with pytest.raises(StoreWriteFailed) as info, read_only_store.reserve():
        spent.append("the refresh request")
    assert spent == []
    reason = "the file system is read-only" if ROOT else "permission denied"
    assert info.value.message == f"Could not save the credentials to {read_only_store.path}: {reason}"
    assert os.path.dirname(read_only_store.path) in (info.value.hint or "")
    assert read_only_store.read().content() == OLD.content()
    assert sorted(os.listdir(os.path.dirname(read_only_store.path))) == ["credentials"]


@pytest.mark.parametrize("how", ["left", "raised"])
def test_an_abandoned_reservation_leaves_no_temp_file(tmp_path: Path, how: str) -> None:
    path, store = signed_in_dir(tmp_path)
    with contextlib.suppress(RuntimeError), store.reserve() as pending:
        assert sorted(p.name for p in path.parent.iterdir()) != ["credentials"]  # the reserved temp file
        if how == "raised":
            raise RuntimeError("the refresh request failed")
    assert not pending.committed
    assert sorted(p.name for p in path.parent.iterdir()) == ["credentials"]
    assert store.read().content() == OLD.content()
    with pytest.raises(RuntimeError, match="already committed or discarded"):
        pending.commit(NEW)


# ---------------------------------------------------------------------------------------------- the lock file


def test_the_lock_file_is_removed_when_the_store_is_deleted_and_nothing_else_is_left(tmp_path: Path) -> None:
    path, store = signed_in_dir(tmp_path)
    with store.lock():
        assert (path.parent / "credentials.lock").exists()
    assert (path.parent / "credentials.lock").exists()  # kept while there is a file to guard
    with store.lock():
        store.delete()
    assert list(path.parent.iterdir()) == []


def test_a_symlinked_lock_file_is_refused_and_its_target_untouched(tmp_path: Path) -> None:
    path, store = signed_in_dir(tmp_path)
    victim = tmp_path / "victim"
    victim.write_text("precious")
    (path.parent / "credentials.lock").symlink_to(victim)
    with pytest.raises(UnsafeStore, match="symbolic link"), store.lock():
        pass
    assert victim.read_text() == "precious"


def _lock_and_report(path: str, timeout: float, results: object, go: object = None) -> None:
    if go is not None:
        assert go.wait(10)  # type: ignore[attr-defined]
    try:
        with CredentialsFile(path, lock_timeout=timeout).lock():
            results.put("acquired")  # type: ignore[attr-defined]
    except StoreLocked:
        results.put("timed out")  # type: ignore[attr-defined]


def _has_open(pid: int, target: str) -> bool:
    fds = f"/proc/{pid}/fd"
    with contextlib.suppress(OSError):
        for name in os.listdir(fds):
            with contextlib.suppress(OSError):
                if os.readlink(f"{fds}/{name}") == target:
                    return True
    return False


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc to see the waiter open the lock file")
def test_a_waiter_on_a_lock_file_unlinked_meanwhile_does_not_take_a_lock_someone_else_holds(tmp_path: Path) -> None:
    path, _ = signed_in_dir(tmp_path)
    lock_path = f"{path}.lock"
    results = FORK.Queue()
    newcomer_holds, newcomer_may_go = threading.Event(), threading.Event()

    def newcomer() -> None:
        with CredentialsFile(str(path)).lock():
            newcomer_holds.set()
            newcomer_may_go.wait(20)

    other = threading.Thread(target=newcomer)
    go = FORK.Event()
    # Forked before we open the lock file, so the only lock file it can have open is the one it opens itself.
    waiter = FORK.Process(target=_lock_and_report, args=(str(path), 2.0, results, go))
    waiter.start()
    with CredentialsFile(str(path)).lock():
        go.set()
        deadline = time.monotonic() + 10
        while not _has_open(waiter.pid, lock_path):  # readiness: the waiter has the old lock file open
            assert time.monotonic() < deadline, "the waiter never opened the lock file"
            time.sleep(0.002)
        os.unlink(lock_path)  # as a holder leaving does: the name no longer leads to the inode being waited on
        other.start()
        assert newcomer_holds.wait(10)  # the newcomer created and locked a new lock file
    # The old inode is free now: the waiter gets it, sees the name leads elsewhere, and waits for the newcomer.
    try:
        assert results.get(timeout=20) == "timed out"
    finally:
        newcomer_may_go.set()
        other.join(10)
        waiter.join(10)
    _lock_and_report(str(path), 2.0, results)
    assert results.get(timeout=5) == "acquired"


def _bracket(path: str, times: int) -> None:
    store = CredentialsFile(path, lock_timeout=60)
    marker = f"{path}.inside"
    for _ in range(times):
        with store.lock():
            fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)  # fails if another holder is inside
            os.sched_yield()
            os.close(fd)
            os.unlink(marker)


def test_holders_exclude_each_other_while_every_one_removes_the_lock_file(tmp_path: Path) -> None:
    path = str(tmp_path / "credentials")  # no store file: every release removes the lock file
    workers = [FORK.Process(target=_bracket, args=(path, 40)) for _ in range(6)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    assert list(tmp_path.iterdir()) == []


def test_a_temp_file_swept_before_its_writer_held_it_is_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between creating its temp file and holding it, a writer can lose it to another process's sweep: it must
    notice (the file it holds has no name) and make another, or its save would fail after the refresh was spent."""
    from hyperframes_auth.adapters import files

    path = tmp_path / "credentials"
    CredentialsFile(str(path)).write(OLD)
    real_hold = files._hold
    swept: list[str] = []

    def sweep_first(fd: int) -> None:
        if not swept:  # another process's save sweeps the new, not yet held, temp file
            [temp] = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
            swept.append(temp.name)
            CredentialsFile(str(path)).write(OLD)
            assert not temp.exists()
        real_hold(fd)

    monkeypatch.setattr(files, "_hold", sweep_first)
    store = CredentialsFile(str(path))
    with store.reserve() as pending:
        monkeypatch.setattr(files, "_hold", real_hold)
        pending.commit(NEW)
    assert swept
    assert store.read().content() == NEW.content()
    assert [p.name for p in tmp_path.iterdir()] == ["credentials"]
