"""A cross-process exclusive lock on a lock file, released by the kernel when its holder dies.

Why not a library: ``filelock`` imports ``asyncio`` and costs ~24 ms of start-up, on a CLI whose ``auth refresh``
must start fast. This module imports nothing beyond the standard library's small builtins.

* POSIX: ``fcntl.flock(LOCK_EX | LOCK_NB)`` polled with a short backoff until a deadline. ``flock`` locks belong
  to the open file description, so two threads of one process exclude each other too (unlike ``fcntl`` record
  locks, which are per process and drop when any descriptor of the file closes). The kernel drops the lock when the
  holder's last descriptor closes, a SIGKILL included, so a crashed holder never wedges the others.
* Windows: ``msvcrt.locking(LK_NBLCK)`` on the first byte, polled the same way; also dropped when the process dies.
* The lock file is opened relative to the directory's descriptor with ``O_NOFOLLOW`` (never through a symlink),
  created 0600, and must be a regular file.
* After the lock is taken, the name must still lead to the inode we locked (``fstat`` of our descriptor against
  ``lstat`` of the name); otherwise the holder before us removed the lock file on its way out, and we start again
  on whatever the name holds now. That is what makes removing the lock file safe: a holder may unlink it just
  before it unlocks (``HeldLock.release(remove=True)``), and whoever was waiting on the old inode notices.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import time

FIRST_POLL = 0.001  # seconds; doubled after each failed try up to MAX_POLL
MAX_POLL = 0.02


class NotALockFile(Exception):
    """The lock file's name holds something other than a regular file (a symlink, FIFO, directory...)."""


if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _try_lock(fd: int) -> bool:
        os.lseek(fd, 0, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # EAGAIN / EWOULDBLOCK: someone holds it
            return False
        except PermissionError:  # EACCES: how some file systems (NFS's emulation) say the same
            return False
        return True

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


_OPEN_FLAGS = (
    os.O_RDWR
    | os.O_CREAT
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_NOINHERIT", 0)
)


class HeldLock:
    """A lock we hold; ``release`` it exactly once.

    Attributes:
        name: the lock file's name (relative to ``dir_fd`` when that is set, else a full path).
    """

    def __init__(self, fd: int, name: str, dir_fd: int | None) -> None:
        self._fd = fd
        self.name = name
        self._dir_fd = dir_fd

    def release(self, remove: bool = False) -> None:
        """Unlock; with ``remove``, first unlink the lock file while still holding it (when it is still ours)."""
        try:
            if remove and os.name != "nt":
                self._unlink_if_ours()
        finally:
            try:
                _unlock(self._fd)
            finally:
                os.close(self._fd)
        if remove and os.name == "nt":  # pragma: no cover - Windows cannot unlink an open file
            # Once we closed it, deleting fails while anyone else has it open, which is what we want.
            with contextlib.suppress(OSError):
                os.unlink(self.name)

    def _unlink_if_ours(self) -> None:
        with contextlib.suppress(OSError):
            if _same_file(os.fstat(self._fd), _lstat(self.name, self._dir_fd)):
                os.unlink(self.name, dir_fd=self._dir_fd)


def acquire(name: str, timeout: float, dir_fd: int | None = None) -> HeldLock | None:
    """Take the exclusive lock on ``name``, waiting up to ``timeout`` seconds; ``None`` when it stayed taken.

    Args:
        name: the lock file, relative to ``dir_fd`` when given (the trusted directory's descriptor).
        timeout: the longest wait, in seconds.
        dir_fd: a descriptor of the directory, so a swapped path cannot redirect us; ``None`` on Windows.

    Raises:
        NotALockFile: the name holds a symlink, a FIFO or anything else than a regular file.
        OSError: the lock file cannot be opened or created (permissions, read-only file system...).
    """
    deadline = time.monotonic() + timeout
    delay = FIRST_POLL
    while True:
        fd = _open(name, dir_fd)
        try:
            while not _try_lock(fd):
                left = deadline - time.monotonic()
                if left <= 0:
                    os.close(fd)
                    return None
                time.sleep(min(delay, left))
                delay = min(delay * 2, MAX_POLL)
            if _still_named(fd, name, dir_fd):
                return HeldLock(fd, name, dir_fd)
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)  # the file we locked was unlinked or replaced meanwhile: lock what the name holds now


def _open(name: str, dir_fd: int | None) -> int:
    try:
        fd = os.open(name, _OPEN_FLAGS, 0o600, dir_fd=dir_fd)
    except IsADirectoryError:
        raise NotALockFile("a directory") from None
    except OSError as exc:
        if _is_symlink(name, dir_fd):
            raise NotALockFile("a symbolic link") from None
        raise exc from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise NotALockFile("not a regular file")
    return fd


def _still_named(fd: int, name: str, dir_fd: int | None) -> bool:
    try:
        return _same_file(os.fstat(fd), _lstat(name, dir_fd))
    except FileNotFoundError:
        return False


def _same_file(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _lstat(name: str, dir_fd: int | None) -> os.stat_result:
    return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)


def _is_symlink(name: str, dir_fd: int | None) -> bool:
    try:
        return stat.S_ISLNK(_lstat(name, dir_fd).st_mode)
    except OSError:
        return False
