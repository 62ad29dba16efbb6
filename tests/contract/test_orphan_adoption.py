"""A save whose writer was killed after writing the new bytes, before its rename (every process of a container torn
down at once): the next lock finishes it, or removes what is not a whole newer file (``SecureFile._settle_orphans``).

Writers are real processes (fork) killed with SIGKILL at the step under test, or temp files laid out as a killed
writer leaves them (nobody holds them: the kernel dropped the hold with the process).
"""

from __future__ import annotations

import contextlib
import fcntl
import multiprocessing
import os
import signal
import stat
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from hyperframes_auth.adapters import files
from hyperframes_auth.adapters.credentials_file import CredentialsFile
from hyperframes_auth.adapters.encrypted_file import MIN_ITERATIONS, MIN_MEMORY_KIB, EncryptedCredentialsFile
from hyperframes_auth.adapters.files import SecureFile
from hyperframes_auth.domain.credentials import CredentialsDocument, OAuthTokens
from hyperframes_auth.domain.errors import StoreLocked, UnsafeStore, WrongPassphrase

FORK = multiprocessing.get_context("fork")
OLD = CredentialsDocument(oauth=OAuthTokens("at_old" * 200, "rt_old_spent"))
NEW = CredentialsDocument(oauth=OAuthTokens("at_new" * 200, "rt_new_rotated"))
NEWER = CredentialsDocument(oauth=OAuthTokens("at_newer" * 200, "rt_newer_rotated"))
PASS = "s3cret passphrase"
FAST = (MIN_MEMORY_KIB, MIN_ITERATIONS, 1)
SECOND = 10**9


def plain(directory: Path) -> CredentialsFile:
    return CredentialsFile(str(directory / "credentials"))


def encrypted(directory: Path, passphrase: str = PASS) -> EncryptedCredentialsFile:
    return EncryptedCredentialsFile(str(directory / "credentials.enc"), lambda: passphrase, params=FAST)


def names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def temps(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.name.endswith(".tmp"))


def changed(path: Path) -> int:
    """When ``path`` last changed, as the adoption judges it: the later of its mtime and ctime."""
    info = path.lstat()
    return max(info.st_mtime_ns, info.st_ctime_ns)


def until_the_clock_passes(path: Path) -> None:
    """Let the file system's clock move past ``path``'s last change: coarse timestamps repeat for a few ms, and a
    save written in the same tick as the file's last change is not newer than it."""
    last = changed(path)
    probe = path.parent / "clock-probe"
    probe.touch()
    while probe.stat().st_mtime_ns <= last:
        os.utime(probe)
    probe.unlink()


def orphan(store: SecureFile, data: bytes, after: float | None = None) -> Path:
    """A temp file as a writer killed mid-save leaves it: written now, after the store's file last changed, or
    dated ``after`` seconds after that change (negative: before it)."""
    target = Path(store.path)
    if after is None and target.exists():
        until_the_clock_passes(target)
    temp = target.parent / f".{target.name}.{os.urandom(6).hex()}.tmp"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    if after is not None:
        when = changed(target if target.exists() else temp) + int(after * SECOND)
        os.utime(temp, ns=(when, when))
    return temp


# ---------------------------------------------------------------------------------------------- killed writers


def _hang(ready: object) -> None:
    ready.set()  # type: ignore[attr-defined]
    threading.Event().wait()  # until the SIGKILL


def _save_and_stop(
    make: Callable[[], SecureFile], doc: CredentialsDocument, step: str, ready: object, locked: bool
) -> None:
    """In a child: a refresh's save (lock, read, reserve, commit) that stops for good at ``step``: ``fsync`` (the
    new bytes written and truncated, not yet durable nor renamed) or ``truncate`` (written, not yet truncated)."""
    if step == "fsync":
        files._full_fsync = lambda _fd: _hang(ready)  # type: ignore[assignment]
    else:
        write_at = files._write_at

        def written(fd: int, data: bytes, offset: int) -> None:
            write_at(fd, data, offset)
            if any(data):  # the new content, not the reservation's zeros
                _hang(ready)

        files._write_at = written  # type: ignore[assignment]
    store = make()
    with store.lock() if locked else contextlib.nullcontext():
        store.read()  # type: ignore[attr-defined]
        with store.reserve() as pending:
            pending.commit(doc)


def stopped_at(
    make: Callable[[], SecureFile], doc: CredentialsDocument, step: str, *, locked: bool = True
) -> multiprocessing.process.BaseProcess:
    """Run ``_save_and_stop`` in a real process; return it once it stopped at ``step`` (alive, holding its temp
    file, and the store's lock when ``locked``)."""
    until_the_clock_passes(Path(make().path))
    ready = FORK.Event()
    child = FORK.Process(target=_save_and_stop, args=(make, doc, step, ready, locked))
    child.start()
    assert ready.wait(30)
    return child


def kill(child: multiprocessing.process.BaseProcess) -> None:
    """SIGKILL, as a container torn down kills every process in it."""
    assert child.pid is not None
    os.kill(child.pid, signal.SIGKILL)
    child.join(30)
    assert child.exitcode == -signal.SIGKILL


def killed_at(make: Callable[[], SecureFile], doc: CredentialsDocument, step: str) -> None:
    kill(stopped_at(make, doc, step))


def test_a_save_killed_in_its_fsync_is_finished_by_the_next_lock_before_anyone_reads(tmp_path: Path) -> None:
    config = tmp_path / "cfg"
    plain(config).write(OLD)
    killed_at(lambda: plain(config), NEW, "fsync")
    [temp] = temps(config)
    assert plain(config).read().content() == OLD.content()  # a read without the lock adopts nothing
    store = plain(config)
    with store.lock():
        assert store.read().content() == NEW.content()  # what a refresh reads right after taking the lock
        assert names(config) == ["credentials", "credentials.lock"]
    assert stat.S_IMODE((config / "credentials").stat().st_mode) == 0o600
    assert not temp.exists()


def test_a_save_killed_before_it_truncated_is_removed_not_adopted(tmp_path: Path) -> None:
    """What remains of the window: the new bytes written, followed by the reservation's zeros."""
    config = tmp_path / "cfg"
    plain(config).write(OLD)
    killed_at(lambda: plain(config), NEW, "truncate")
    [temp] = temps(config)
    assert temp.read_bytes().startswith(plain(config).encode(NEW))
    assert temp.read_bytes().endswith(b"\0")
    store = plain(config)
    with store.lock():
        assert store.read().content() == OLD.content()
        assert names(config) == ["credentials", "credentials.lock"]


@pytest.mark.parametrize("age", ["newer", "older"])
def test_a_live_writer_stopped_in_its_fsync_is_left_alone(tmp_path: Path, age: str) -> None:
    """Its temp file holds the whole new content, but its writer is alive and holds it: no lock adopts it, no save
    removes it (here the writer saves without the lock, which ours never do, so that the lock can be taken)."""
    config = tmp_path / "cfg"
    store = plain(config)
    store.write(OLD)
    writer = stopped_at(lambda: plain(config), NEW, "fsync", locked=False)
    try:
        [temp] = temps(config)
        if age == "older":
            os.utime(temp, ns=(0, 0))
        with store.lock():
            assert store.read().content() == OLD.content()
            assert temp.exists()
            store.write(OLD)
        assert temp.exists()
    finally:
        kill(writer)


# ---------------------------------------------------------------------------------------------- what is adopted


def test_a_whole_newer_orphan_is_adopted_and_every_other_removed(tmp_path: Path) -> None:
    store = plain(tmp_path)
    store.write(OLD)
    orphan(store, store.encode(NEW), after=1)
    orphan(store, store.encode(NEWER), after=2)  # the newest wins
    orphan(store, store.encode(OLD)[:100] + bytes(4096), after=3)  # newer still, but not whole
    orphan(store, b"", after=4)
    with store.lock():
        assert store.read().content() == NEWER.content()
        assert names(tmp_path) == ["credentials", "credentials.lock"]


def test_a_store_that_cannot_judge_its_bytes_never_adopts(tmp_path: Path) -> None:
    """``SecureFile`` alone does not know what its bytes mean (``complete`` is ``False``): orphans are removed."""
    store = plain(tmp_path)
    store.write(OLD)
    orphan(store, store.encode(NEW))
    with SecureFile(store.path).lock():
        assert names(tmp_path) == ["credentials", "credentials.lock"]
    assert store.read().content() == OLD.content()


CUT_SHORT: dict[str, Callable[[bytes], bytes]] = {
    "followed by the reservation's zeros": lambda whole: whole + bytes(64 * 1024 - len(whole)),
    "cut short": lambda whole: whole[: len(whole) // 2],
    "cut short, then zeros": lambda whole: whole[: len(whole) // 2] + bytes(64 * 1024),
    "the closing brace missing": lambda whole: whole.rstrip()[:-1],
    "zeros only": lambda _whole: bytes(64 * 1024),
    "empty (read as no credentials)": lambda _whole: b"",
    "blank (read as no credentials)": lambda _whole: b"\n  \n",
    "a bare key (read as a legacy file)": lambda _whole: b"hg_new_key_456\n",
    "not UTF-8": lambda whole: whole.replace(b"at_new", b"at_\xffew", 1),
    "a JSON array": lambda _whole: b"[]\n",
    "JSON that is no credentials document": lambda _whole: b'{"oauth": {"access_token": ""}}\n',
}


@pytest.mark.parametrize("how", list(CUT_SHORT))
def test_what_is_not_a_whole_document_is_removed_never_adopted(tmp_path: Path, how: str) -> None:
    store = plain(tmp_path)
    store.write(OLD)
    orphan(store, CUT_SHORT[how](store.encode(NEW)))
    with store.lock():
        assert store.read().content() == OLD.content()
        assert names(tmp_path) == ["credentials", "credentials.lock"]


@pytest.mark.parametrize("after", [-1.0, 0.0])
def test_an_orphan_not_newer_than_the_file_is_removed(tmp_path: Path, after: float) -> None:
    """The file was written after it (the TypeScript CLI takes no lock): adopting would roll that save back."""
    store = plain(tmp_path)
    store.write(OLD)
    orphan(store, store.encode(NEW), after=after)
    with store.lock():
        assert store.read().content() == OLD.content()
        assert names(tmp_path) == ["credentials", "credentials.lock"]


def test_an_orphan_older_than_a_restored_file_is_removed(tmp_path: Path) -> None:
    """A file put back by hand (``mv``, or ``cp -p`` keeping an old mtime) changed after the orphan: it stays."""
    config = tmp_path / "cfg"
    store = plain(config)
    store.write(OLD)
    temp = orphan(store, store.encode(NEW))
    backup = tmp_path / "backup"
    backup.write_bytes(store.encode(NEWER))
    os.utime(backup, ns=(0, 0))  # an old mtime, as `cp -p` keeps it
    until_the_clock_passes(temp)
    backup.rename(config / "credentials")  # the rename sets its ctime
    with store.lock():
        assert store.read().content() == NEWER.content()
    assert not temp.exists()


def test_with_no_file_an_orphan_is_removed_so_a_sign_out_is_not_undone(tmp_path: Path) -> None:
    store = plain(tmp_path)
    store.write(OLD)
    orphan(store, store.encode(NEW))
    (tmp_path / "credentials").unlink()  # signed out outside our lock (the TypeScript CLI, or by hand)
    with store.lock():
        assert store.read().content() == CredentialsDocument().content()
    assert names(tmp_path) == []


@pytest.mark.parametrize("how", ["hard-linked", "group-writable"])
def test_a_temp_file_that_is_not_safely_ours_is_never_adopted(tmp_path: Path, how: str) -> None:
    config = tmp_path / "cfg"
    store = plain(config)
    store.write(OLD)
    temp = orphan(store, store.encode(NEW))
    if how == "hard-linked":
        os.link(temp, tmp_path / "elsewhere")  # whoever holds the other name could change the file later
    else:
        temp.chmod(0o620)
    with store.lock():
        assert store.read().content() == OLD.content()
        assert names(config) == ["credentials", "credentials.lock"]


def test_nothing_is_adopted_over_a_file_that_cannot_be_trusted(tmp_path: Path) -> None:
    store = plain(tmp_path)
    store.write(OLD)
    (tmp_path / "credentials").chmod(0o620)
    temp = orphan(store, store.encode(NEW))
    with store.lock(), pytest.raises(UnsafeStore):
        store.read()
    assert temp.exists()
    assert (tmp_path / "credentials").read_bytes() == store.encode(OLD)


def test_a_reservation_settles_orphans_only_under_the_lock(tmp_path: Path) -> None:
    """A browser sign-in reserves before it takes the lock (it waits for a person): when the lock is free, the
    reservation takes it for a moment and settles the orphans under it; when it is held (a refresh reserves under
    its own lock), the holder settled them when it took it, and the reservation leaves them alone."""
    store = plain(tmp_path)
    store.write(OLD)
    with store.lock():
        whole = orphan(store, store.encode(NEW))
        cut = orphan(store, store.encode(NEWER)[:50])
        with store.reserve():
            assert whole.exists()
            assert cut.exists()
        assert store.read().content() == OLD.content()
    with store.reserve():
        assert store.read().content() == NEW.content()
        assert not whole.exists()
        assert not cut.exists()


def _reserve_stuck_judging(path: str, ready: object) -> None:
    def stuck(_store: CredentialsFile, _data: bytes) -> bool:
        _hang(ready)
        return False

    CredentialsFile.complete = stuck  # type: ignore[method-assign]
    with CredentialsFile(path).reserve():
        pass


def test_a_lock_holder_never_reads_around_an_orphan_someone_else_is_judging(tmp_path: Path) -> None:
    """Judging an orphan takes its hold; if that could happen outside the lock, a process taking the lock then would
    find the orphan held, skip it as a live writer's, and read the file without the save it holds."""
    store = plain(tmp_path)
    store.write(OLD)
    orphan(store, store.encode(NEW))
    ready = FORK.Event()
    judge = FORK.Process(target=_reserve_stuck_judging, args=(store.path, ready))
    judge.start()
    try:
        assert ready.wait(30)
        impatient = CredentialsFile(store.path, lock_timeout=0)
        with pytest.raises(StoreLocked), impatient.lock():
            impatient.read()
    finally:
        kill(judge)
    with store.lock():
        assert store.read().content() == NEW.content()


def test_the_plain_store_leaves_the_encrypted_stores_temp_files_alone(tmp_path: Path) -> None:
    """``.credentials.`` also begins ``.credentials.enc.<random>.tmp``: those are the encrypted store's to judge."""
    store = plain(tmp_path)
    store.write(OLD)
    theirs = orphan(encrypted(tmp_path), b"HFAENC\x02 not for the plain store")
    with store.lock():
        store.write(NEW)
    assert theirs.exists()


def test_a_writer_removes_its_temp_file_before_it_lets_go_of_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A save given up (a failed commit leaves the whole new content in its temp file) must not look like a killed
    writer's to a lock taken in between: the name goes while the hold is still the writer's."""
    store = plain(tmp_path)
    store.write(OLD)
    held: list[bool] = []
    real_unlink = files._Directory.unlink

    def unlink(directory: files._Directory, name: str) -> None:
        if name.endswith(".tmp"):
            fd = os.open(tmp_path / name, os.O_RDONLY)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                held.append(True)
            else:
                held.append(False)
            finally:
                os.close(fd)
        real_unlink(directory, name)

    monkeypatch.setattr(files._Directory, "unlink", unlink)
    with store.reserve():
        pass
    assert held == [True]
    assert names(tmp_path) == ["credentials"]


# ---------------------------------------------------------------------------------------------- the encrypted store


def test_an_encrypted_save_killed_in_its_fsync_is_finished_by_the_next_lock(tmp_path: Path) -> None:
    """The key is in hand at lock time (``lock()`` opens the file on disk first): the orphan is decrypted to judge it."""
    config = tmp_path / "cfg"
    encrypted(config).write(OLD)
    killed_at(lambda: encrypted(config), NEW, "fsync")
    assert len(temps(config)) == 1
    store = encrypted(config)  # a new process: no key cached
    with store.lock():
        assert store.read().content() == NEW.content()
        assert names(config) == ["credentials.enc", "credentials.enc.lock"]


def test_an_encrypted_orphan_is_kept_while_its_key_is_not_in_hand(tmp_path: Path) -> None:
    config = tmp_path / "cfg"
    encrypted(config).write(OLD)
    killed_at(lambda: encrypted(config), NEW, "fsync")
    [temp] = temps(config)
    mistyped = encrypted(config, "a wrong passphrase")
    with mistyped.lock(), pytest.raises(WrongPassphrase):
        mistyped.read()
    with encrypted(config).reserve():  # a sign-in's reservation: it settles under the lock, with no key in hand
        pass
    assert temp.exists()
    store = encrypted(config)
    with store.lock():
        assert store.read().content() == NEW.content()
    assert not temp.exists()


def test_an_encrypted_save_killed_before_it_truncated_is_removed(tmp_path: Path) -> None:
    config = tmp_path / "cfg"
    encrypted(config).write(OLD)
    killed_at(lambda: encrypted(config), NEW, "truncate")
    assert len(temps(config)) == 1
    store = encrypted(config)
    with store.lock():
        assert store.read().content() == OLD.content()
        assert names(config) == ["credentials.enc", "credentials.enc.lock"]


def test_an_encrypted_orphan_under_other_keys_waits_until_a_newer_save_makes_it_moot(tmp_path: Path) -> None:
    config = tmp_path / "cfg"
    elsewhere = encrypted(tmp_path / "other", "another passphrase")
    elsewhere.write(NEW)
    store = encrypted(config)
    store.write(OLD)
    sealed = (tmp_path / "other" / "credentials.enc").read_bytes()  # a whole file, but not under this file's keys
    temp = orphan(store, sealed)
    damaged = orphan(store, sealed[:20] + bytes(120) + sealed[140:])  # its header's digest fails: not whole
    with store.lock():
        assert store.read().content() == OLD.content()
        assert temp.exists()
        assert not damaged.exists()
        until_the_clock_passes(temp)
        store.write(NEWER)
    with store.lock():
        assert store.read().content() == NEWER.content()
    assert names(config) == ["credentials.enc", "credentials.enc.lock"]


# ---------------------------------------------------------------------------------------------- a writer dying


def _dies_lock_first(make: Callable[[], SecureFile], doc: CredentialsDocument, ready: object, tried: object) -> None:
    """In a child: a refresh's save killed in its fsync, as the kernel tears the process down: its descriptors are
    closed in ascending order, so the store's lock (taken first: the lower one) is let go, and the temp file holding
    the whole new save only a moment later (here: once the next lock holder has found it held)."""

    def lock_let_go_first(_fd: int) -> None:
        lock = os.stat(f"{make().path}.lock")
        for fd in range(3, 1024):
            with contextlib.suppress(OSError):
                info = os.fstat(fd)
                if (info.st_dev, info.st_ino) == (lock.st_dev, lock.st_ino):
                    os.close(fd)
        ready.set()  # type: ignore[attr-defined]
        tried.wait(30)  # type: ignore[attr-defined]
        os._exit(0)  # the temp file's descriptor is closed now

    files._full_fsync = lock_let_go_first  # type: ignore[assignment]
    store = make()
    with store.lock():
        store.read()  # type: ignore[attr-defined]
        with store.reserve() as pending:
            pending.commit(doc)


def test_a_dying_writers_temp_file_still_held_just_after_its_lock_is_free_is_adopted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The next lock holder finds the temp file held for a moment after the lock was let go: it waits for the hold
    to go (``HELD_TEMP_GRACE``) instead of skipping the save as a live writer's and reading the spent token."""
    config = tmp_path / "cfg"
    plain(config).write(OLD)
    until_the_clock_passes(config / "credentials")
    ready, tried = FORK.Event(), FORK.Event()
    child = FORK.Process(target=_dies_lock_first, args=(lambda: plain(config), NEW, ready, tried))
    child.start()
    try:
        assert ready.wait(30)
        [temp] = temps(config)
        held = temp.stat()
        real_flock = fcntl.flock

        def flock(fd: int, operation: int) -> None:
            try:
                real_flock(fd, operation)
            except BlockingIOError:
                info = os.fstat(fd)
                if (info.st_dev, info.st_ino) == (held.st_dev, held.st_ino):
                    tried.set()  # found held: the writer finishes dying now
                raise

        monkeypatch.setattr(fcntl, "flock", flock)
        monkeypatch.setattr(files, "HELD_TEMP_GRACE", 30.0, raising=False)  # however slow the child is to exit
        store = plain(config)
        with store.lock():
            assert tried.is_set()
            assert store.read().content() == NEW.content()
            assert names(config) == ["credentials", "credentials.lock"]
    finally:
        tried.set()
        child.join(30)
    assert child.exitcode == 0


def test_reads_and_locks_of_ours_never_change_the_files_ctime(tmp_path: Path) -> None:
    """A whole newer save counts as older once the file's ctime passes it (a ``chmod``, even to the same mode, an
    xattr): stat cannot tell that from a restore in place that keeps an old mtime (``cp -p`` over the file), so the
    rule stays. Our own code must then never cause it between a kill and the next lock: reading, locking and
    reserving leave a file of ours (0600) as it is."""
    for store in (plain(tmp_path / "plain"), encrypted(tmp_path / "enc")):
        store.write(OLD)
        path = Path(store.path)
        before = changed(path)
        until_the_clock_passes(path)
        store.read()  # type: ignore[attr-defined]
        with store.lock():
            store.read()  # type: ignore[attr-defined]
            with store.reserve():
                pass
        with store.reserve():
            pass
        assert changed(path) == before
