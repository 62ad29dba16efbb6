"""Safe file handling shared by both credential stores: careful reads, atomic writes, a cross-process lock.

* Reads ``lstat`` first and refuse symlinks, FIFOs, directories and files over 1 MiB; the open uses
  ``O_NOFOLLOW | O_NONBLOCK`` so a swapped-in FIFO cannot hang us (checklist items 60, 79).
* Writes never truncate in place: a temporary file in the same directory (``mkstemp``: ``O_EXCL``, 0600),
  written, fsynced, ``os.replace``d over the target, then the directory fsynced (checklist items 54-58). A kill
  at any instant leaves the old or the new content, never a mix.
* The directory is created 0700 and tightened to 0700 if it was wider; files are created 0600 whatever the
  umask (umask can only narrow those modes).
* ``lock()`` is an exclusive kernel lock (``flock`` through filelock) on ``<file>.lock`` with a bounded wait;
  the kernel releases it when a process dies, so a crashed holder never wedges the others.
"""

from __future__ import annotations

import contextlib
import os
import stat
import time
from collections.abc import Iterator
from datetime import UTC, datetime

from ..domain.errors import AuthError, InvalidStore, StoreLocked

MAX_FILE_BYTES = 1024 * 1024
STALE_TEMP_SECONDS = 60.0
LOCK_TIMEOUT = 45.0  # longer than one refresh may take under the lock (15 s per request, 30 s deadline)


class SecureFile:
    """One credentials file on disk, handled safely. Subclasses decide what its bytes mean.

    Args:
        path: the file.
        lock_timeout: how long ``lock()`` waits for another process before raising ``StoreLocked``.
    """

    backend = "file"

    def __init__(self, path: str, lock_timeout: float = LOCK_TIMEOUT) -> None:
        self.path = os.path.abspath(os.path.expanduser(path))
        self.lock_timeout = lock_timeout

    @property
    def location(self) -> str:
        return self.path

    # ------------------------------------------------------------------------------------------ reading

    def read_bytes(self) -> bytes | None:
        """The file's bytes, or ``None`` when there is no file.

        Raises:
            InvalidStore: not a regular file, too large, or unreadable.
        """
        try:
            info = os.lstat(self.path)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise InvalidStore(f"unable to read {self.path}: {exc.strerror}") from None
        self._check_kind(info)
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(self.path, flags)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise InvalidStore(f"unable to read {self.path}: {exc.strerror}") from None
        with os.fdopen(fd, "rb") as handle:
            self._check_kind(os.fstat(handle.fileno()))
            data = handle.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            raise InvalidStore(f"{self.path} is larger than 1 MiB")
        return data

    def _check_kind(self, info: os.stat_result) -> None:
        if stat.S_ISLNK(info.st_mode):
            raise InvalidStore(
                f"{self.path} is a symbolic link; refusing to follow it",
                f"Replace {self.path} with a regular file (or remove it) and sign in again.",
            )
        if not stat.S_ISREG(info.st_mode):
            raise InvalidStore(
                f"{self.path} is not a regular file",
                f"Move {self.path} out of the way and sign in again.",
            )
        if info.st_size > MAX_FILE_BYTES:
            raise InvalidStore(f"{self.path} is larger than 1 MiB")

    # ------------------------------------------------------------------------------------------ writing

    def ensure_directory(self) -> None:
        directory = os.path.dirname(self.path)
        try:
            os.makedirs(directory, mode=0o700, exist_ok=True)
        except FileExistsError:
            raise InvalidStore(f"{directory} exists and is not a directory") from None
        except OSError as exc:
            raise InvalidStore(f"unable to create {directory}: {exc.strerror}") from None
        if not os.path.isdir(directory):
            raise InvalidStore(f"{directory} exists and is not a directory")
        with contextlib.suppress(OSError):
            if stat.S_IMODE(os.stat(directory).st_mode) & 0o077:
                os.chmod(directory, 0o700)

    def write_bytes(self, data: bytes) -> None:
        """Replace the file's content atomically with ``data`` (mode 0600).

        Raises:
            InvalidStore: the target is a symlink or special file, or the write failed (old content intact).
        """
        self.ensure_directory()
        with contextlib.suppress(FileNotFoundError):
            self._check_kind(os.lstat(self.path))
        import tempfile  # imported here: the read-only `auth token` path never pays for it

        directory = os.path.dirname(self.path)
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(self.path)}.", suffix=".tmp", dir=directory)
        except OSError as exc:
            raise InvalidStore(f"unable to write {self.path}: {exc.strerror}") from None
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise InvalidStore(f"unable to write {self.path}: {exc.strerror}") from None
        _fsync_directory(directory)
        self._sweep_stale_temps(directory)

    def _sweep_stale_temps(self, directory: str) -> None:
        """Remove temp files left by writers that were killed mid-save (older than any live save can be)."""
        prefix = f".{os.path.basename(self.path)}."
        cutoff = time.time() - STALE_TEMP_SECONDS
        with contextlib.suppress(OSError), os.scandir(directory) as entries:
            for entry in entries:
                if (
                    entry.name.startswith(prefix)
                    and entry.name.endswith(".tmp")
                    and entry.is_file(follow_symlinks=False)
                ):
                    with contextlib.suppress(OSError):
                        if entry.stat(follow_symlinks=False).st_mtime < cutoff:
                            os.unlink(entry.path)

    def delete(self) -> None:
        """Remove the file (a symlink at the path is removed, never followed); absent is fine."""
        try:
            info = os.lstat(self.path)
        except FileNotFoundError:
            return
        if stat.S_ISDIR(info.st_mode):
            raise InvalidStore(f"{self.path} is a directory", f"Remove {self.path} by hand.")
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise InvalidStore(f"unable to remove {self.path}: {exc.strerror}") from None
        _fsync_directory(os.path.dirname(self.path))

    def quarantine(self) -> str | None:
        """Move an unreadable file aside as ``<name>.corrupt-<UTC timestamp>`` (0600) and return that path."""
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        target = f"{self.path}.corrupt-{stamp}"
        try:
            info = os.lstat(self.path)
        except FileNotFoundError:
            return None
        if not stat.S_ISREG(info.st_mode):
            return None  # a symlink or special file is refused, never moved or followed
        try:
            os.chmod(self.path, 0o600)
            os.replace(self.path, target)
        except OSError as exc:
            raise InvalidStore(f"unable to move {self.path} aside: {exc.strerror}") from None
        return target

    @contextlib.contextmanager
    def reserve(self) -> Iterator[SecureFile]:
        """Check that the directory can take a write before a server-side change; ``commit`` then writes."""
        self.ensure_directory()
        if not os.access(os.path.dirname(self.path), os.W_OK):
            raise InvalidStore(f"unable to write {self.path}: the directory is not writable")
        yield self

    def commit(self, doc: object) -> None:
        self.write(doc)  # type: ignore[attr-defined]

    # ------------------------------------------------------------------------------------------ locking

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the exclusive cross-process lock on ``<file>.lock``.

        Raises:
            StoreLocked: another process held it for longer than ``lock_timeout``.
        """
        import filelock

        self.ensure_directory()
        guard = filelock.FileLock(f"{self.path}.lock", timeout=self.lock_timeout, mode=0o600, thread_local=False)
        try:
            guard.acquire()
        except filelock.Timeout:
            raise StoreLocked(self.path, self.lock_timeout) from None
        except OSError as exc:
            raise AuthError(
                f"Could not lock {self.path}.lock: {exc.strerror}", "Check the directory's permissions."
            ) from None
        try:
            yield
        finally:
            guard.release()


def _fsync_directory(directory: str) -> None:
    """Make a rename durable (POSIX); a no-op where directories cannot be opened (Windows)."""
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
