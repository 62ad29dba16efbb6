"""Safe file handling shared by both credential stores: trusted directories, careful reads, reserved atomic writes,
a cross-process lock.

Trust (what OpenSSH asks of ``~/.ssh``), checked on descriptors so a path swapped between a check and an action
cannot redirect the action:

* The directory is opened once with ``O_DIRECTORY | O_NOFOLLOW`` and checked with ``fstat``; every entry in it is
  then reached relative to that descriptor (``openat``, ``renameat``, ``unlinkat``, ``fstatat`` through
  ``dir_fd``). A directory that is a symbolic link, is owned by another user, or is writable by group or others is
  refused (``UnsafeStore``, whose hint names the path and the fix, e.g. ``chmod 700 <dir>``). Ownership means the
  effective uid, root included; a root-owned directory is refused for anyone else (``sudo chown`` fixes it).
* The credentials file is opened with ``O_NOFOLLOW | O_NONBLOCK`` (a swapped-in FIFO cannot hang us) and checked
  with ``fstat``: symlinks, FIFOs, directories and files over 1 MiB are refused (``InvalidStore``); a file owned
  by another user, writable by group or others, or with more than one hard link is refused (``UnsafeStore``), on
  read and on write.
* What is merely readable by others (a 0755 directory, a 0644 file) and is ours is tightened to 0700 / 0600 with
  ``fchmod`` on its descriptor rather than refused: the TypeScript CLI and older versions may have created it so,
  and refusing would lock people out for something we can repair safely.
* Missing directories are created one level at a time, each ``mkdir(0700)`` then set to exactly 0700 whatever
  the umask (not ``makedirs``, which gives intermediate levels the umask's mode). The directory's own parents are
  resolved like any path (macOS's ``/var`` is a symlink) and are not checked.
* Windows: there are no POSIX owners or mode bits (NTFS uses ACLs, and the profile directory's ACL is what keeps
  others out), no ``O_NOFOLLOW`` and no ``dir_fd``. There we check only what ``lstat`` shows: symlinks, special
  files, size and hard links; entries are reached by path.

Writes never truncate in place. ``reserve()`` prepares a save before anything is spent (a refresh whose answer
cannot be stored is lost for good under refresh-token rotation): it creates the temp file in the same directory
(``O_EXCL``, 0600) and reserves space for it (``posix_fallocate``, else zeros), so a full disk, a read-only or
non-writable directory shows up as ``StoreWriteFailed`` before the request; so does a file that is a mount point of
its own (one file bind-mounted into a container), which no rename can replace (``StoreIsMountPoint``: Linux compares
mount ids from ``/proc/self/fdinfo``, elsewhere ``st_dev``). ``commit`` then writes into space already held,
truncates, fsyncs (``F_FULLFSYNC`` on macOS), renames over the target and fsyncs the directory, with a few short
retries. A kill at any instant leaves the old or the new content, never a mix. On copy-on-write file systems (btrfs,
ZFS, APFS) overwriting reserved blocks can still need new ones: there the reservation lowers the risk without
removing it.

Each temp file is held with ``flock`` by the process writing it, for as long as it lives (a child the CLI forks to
finish a save inherits the hold): from before anything is written into it until after it is renamed or removed. A
temp file whose hold is free was left by a writer that died (``_settle_orphans``). If it holds a whole save newer
than the file (the writer was killed between writing the new bytes and the rename: they were in the page cache,
which outlives the process), the next ``lock()`` finishes that save (fsync, rename, directory fsync) before anyone
reads: killing every process at once after a refresh token was spent no longer loses the grant unless it lands
before the new bytes are written. Whether the bytes are whole is the subclass's call (``complete``; by default
never). Every other orphan is removed. Orphans are handled only under the store's lock: by ``lock()``, and by
``reserve()`` when the lock is free at that instant. A temp file found held is watched for ``HELD_TEMP_GRACE``
before it counts as a live writer's: a dying writer lets go of the lock a moment before its temp file. Where
``flock`` is missing (Windows, which cannot remove an open file anyway), nothing is adopted and only temp files
older than ``STALE_TEMP_SECONDS`` are swept.

``lock()`` is an exclusive kernel lock on ``<file>.lock`` (``adapters.lock``), with a bounded wait; the kernel
releases it when a process dies, so a crashed holder never wedges the others. When the lock is released and the
store's file is gone with no save of ours in flight, the lock file is removed too (while still held), so signing
out leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime

from ..domain.errors import InvalidStore, StoreIsMountPoint, StoreLocked, StoreWriteFailed, UnsafeStore

TYPE_CHECKING = False  # keep `typing` off the CLI's fast paths; type checkers know this name
if TYPE_CHECKING:
    from ..domain.credentials import CredentialsDocument
    from .lock import HeldLock

MAX_FILE_BYTES = 1024 * 1024
# A temp file is swept when no live process holds it (see _settle_orphans). Age decides only where that cannot be
# told, without flock (Windows); so this is longer than any reservation lives: a device sign-in's spans its
# polling, up to the code's 30 minutes.
STALE_TEMP_SECONDS = 2 * 3600.0
LOCK_TIMEOUT = 45.0  # longer than one refresh may take under the lock (15 s per request, 30 s deadline)
MIN_RESERVATION = 64 * 1024
WRITE_RETRY_DELAYS = (0.01, 0.03, 0.1)  # seconds before the 2nd, 3rd and 4th try of a failed commit
# A dying process's descriptors are closed one by one, in ascending order: the store's lock (opened first) is free
# a moment before the temp file it was writing. Under the lock, a held temp file is watched this long (seconds)
# before it counts as a live writer's (``_take_orphan``).
HELD_TEMP_GRACE = 0.05
# The longest a reservation waits for the file system's clock to pass the file's last change (``_wait_until_newer``):
# one tick of the coarsest clock in use (FAT and ext4 with small inodes stamp whole seconds; FAT's mtime, 2 s).
CLOCK_TICK_WAIT = 2.5

_POSIX = os.name == "posix"
# os.replace takes dir_fds wherever os.rename does (both are renameat), though only rename is listed.
_DIR_FDS = _POSIX and {os.open, os.stat, os.unlink, os.mkdir, os.rename} <= os.supports_dir_fd
_CLOEXEC = getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOINHERIT", 0) | getattr(os, "O_BINARY", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_READ_FLAGS = os.O_RDONLY | _NOFOLLOW | getattr(os, "O_NONBLOCK", 0) | _CLOEXEC
_TEMP_FLAGS = os.O_RDWR | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC
_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _NOFOLLOW | _CLOEXEC


class _Directory:
    """The store's directory, opened once and checked; its entries are reached through its descriptor (POSIX)."""

    def __init__(self, path: str, fd: int | None) -> None:
        self.path = path
        self.fd = fd

    def open(self, name: str, flags: int, mode: int = 0o600) -> int:
        if self.fd is None:
            return os.open(os.path.join(self.path, name), flags, mode)
        return os.open(name, flags, mode, dir_fd=self.fd)

    def lstat(self, name: str) -> os.stat_result:
        if self.fd is None:
            return os.lstat(os.path.join(self.path, name))
        return os.stat(name, dir_fd=self.fd, follow_symlinks=False)

    def replace(self, source: str, target: str) -> None:
        if self.fd is None:
            os.replace(os.path.join(self.path, source), os.path.join(self.path, target))
        else:
            os.replace(source, target, src_dir_fd=self.fd, dst_dir_fd=self.fd)

    def unlink(self, name: str) -> None:
        if self.fd is None:
            os.unlink(os.path.join(self.path, name))
        else:
            os.unlink(name, dir_fd=self.fd)

    def names(self) -> list[str]:
        return os.listdir(self.path if self.fd is None else self.fd)

    def fsync(self) -> None:
        """Make renames and unlinks durable (POSIX); a failure leaves them done, only perhaps not yet on disk."""
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.fsync(self.fd)

    def close(self) -> None:
        if self.fd is not None and self.fd >= 0:
            os.close(self.fd)
            self.fd = -1  # any later use fails (EBADF) instead of falling back to paths


class SecureFile:
    """One credentials file on disk, handled safely. Subclasses decide what its bytes mean (``write``, ``encode``).

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

    @property
    def _name(self) -> str:
        return os.path.basename(self.path)

    # ------------------------------------------------------------------------------------------ the directory

    def ensure_directory(self) -> None:
        """Create the directory (each missing level 0700) and check it can be trusted.

        Raises:
            UnsafeStore: it is a symlink, someone else's, or writable by group or others.
            InvalidStore: it exists and is not a directory.
            StoreWriteFailed: it cannot be created.
        """
        self._open_directory(create=True).close()

    def _open_directory(self, create: bool) -> _Directory:
        directory = os.path.dirname(self.path)
        if create:
            _make_directories(directory)
        if not _DIR_FDS:
            return _directory_by_path(directory)
        try:
            fd = os.open(directory, _DIR_FLAGS)
        except FileNotFoundError:
            if create:
                raise StoreWriteFailed(self.path, FileNotFoundError(2, "the directory vanished")) from None
            raise
        except OSError as exc:
            _refuse_directory(directory)
            if create:
                raise StoreWriteFailed(self.path, exc) from None
            raise _unreadable(self.path, exc) from None
        try:
            _trust_directory(directory, os.fstat(fd), fd)
        except BaseException:
            os.close(fd)
            raise
        return _Directory(directory, fd)

    # ------------------------------------------------------------------------------------------ reading

    def read_bytes(self) -> bytes | None:
        """The file's bytes, or ``None`` when there is no file (or no directory).

        Raises:
            InvalidStore: not a regular file, too large, or unreadable.
            UnsafeStore: the directory or the file cannot be trusted (see the module's docstring).
        """
        try:
            directory = self._open_directory(create=False)
        except FileNotFoundError:
            return None
        try:
            return self._read_in(directory)
        finally:
            directory.close()

    def _read_in(self, directory: _Directory) -> bytes | None:
        try:
            self._check_kind(directory.lstat(self._name))
            fd = directory.open(self._name, _READ_FLAGS)
        except FileNotFoundError:
            return None
        except OSError as exc:
            self._refuse_if_symlink(directory)
            raise _unreadable(self.path, exc) from None
        try:
            info = os.fstat(fd)
            self._check_kind(info)
            self._trust_file(info, fd)
            data = _read_up_to(fd, MAX_FILE_BYTES + 1)
        except OSError as exc:
            raise _unreadable(self.path, exc) from None
        finally:
            os.close(fd)
        if len(data) > MAX_FILE_BYTES:
            raise InvalidStore(f"{self.path} is larger than 1 MiB", path=self.path)
        return data

    def _check_kind(self, info: os.stat_result) -> None:
        if stat.S_ISLNK(info.st_mode):
            raise InvalidStore(
                f"{self.path} is a symbolic link; refusing to follow it",
                f"Replace {self.path} with a regular file (or remove it) and sign in again.",
                path=self.path,
            )
        if not stat.S_ISREG(info.st_mode):
            raise InvalidStore(
                f"{self.path} is not a regular file",
                f"Move {self.path} out of the way and sign in again.",
                path=self.path,
            )
        if info.st_size > MAX_FILE_BYTES:
            raise InvalidStore(f"{self.path} is larger than 1 MiB", path=self.path)

    def _refuse_if_symlink(self, directory: _Directory) -> None:
        """A name swapped for a symlink between our ``lstat`` and our ``open`` (``ELOOP``) is told as a symlink."""
        with contextlib.suppress(OSError):
            self._check_kind(directory.lstat(self._name))

    def _trust_file(self, info: os.stat_result, fd: int | None) -> None:
        """Refuse a file someone else could have written or can still reach; tighten one that is only readable."""
        path = self.path
        if info.st_nlink > 1:
            raise UnsafeStore(
                path,
                f"it has {info.st_nlink} hard links, so another name shares its content",
                f"Remove {path} (`rm {path}`) and sign in again.",
            )
        if not _POSIX:
            return
        uid = os.geteuid()
        if info.st_uid != uid:
            raise UnsafeStore(
                path,
                f"it is owned by uid {info.st_uid}, not by you (uid {uid})",
                f"Make it yours (`sudo chown {uid} {path}`) or remove it, then try again.",
            )
        mode = stat.S_IMODE(info.st_mode)
        if mode & 0o022:
            raise UnsafeStore(
                path,
                f"it is writable by {_who(mode)} (mode {mode:04o})",
                f"Run `chmod 600 {path}` (or remove it and sign in again).",
            )
        if mode & 0o077 and fd is not None and hasattr(os, "fchmod"):
            with contextlib.suppress(OSError):  # a read-only file system: still ours, still not writable by others
                os.fchmod(fd, 0o600)

    # ------------------------------------------------------------------------------------------ writing

    def write(self, doc: CredentialsDocument) -> None:
        """Store ``doc`` atomically (``encode``, then a reserved save).

        Raises:
            StoreWriteFailed, UnsafeStore, InvalidStore: as ``write_bytes``; the old content is intact.
        """
        with self.reserve() as pending:
            pending.commit(doc)

    def encode(self, doc: CredentialsDocument) -> bytes:
        """The bytes that store ``doc``: subclasses define it, with no effect outside memory (``after_save`` is where
        a save's consequences go, once it is durable). Each store defines it (``CredentialsFile``: JSON;
        ``EncryptedCredentialsFile``: sealed); this base class has no format of its own."""
        raise NotImplementedError(f"{type(self).__name__} does not define how a document is encoded")

    def after_save(self, *, saved: bool) -> None:
        """Called once the bytes of the last ``encode`` were put in place (``saved``) or could not be. Nothing by
        default; the encrypted store finishes a migration here, or forgets a key it made for a file never written."""

    def complete(self, data: bytes) -> bool | None:
        """Whether ``data``, the content of a temp file its writer left (it died), is a whole file of this store:
        ``True`` lets the next ``lock()`` finish that save (``_settle_orphans``); ``False`` (the default: never
        adopt) lets it be removed; ``None`` means it cannot be told now (e.g. no key in hand), and it is kept until
        it can, or until a newer save makes it moot. Must not raise, prompt or touch the disk.

        A writer writes the whole content at offset 0 into space already reserved, then truncates to its length: a
        kill in between leaves a prefix, or the content followed by zeros, or zeros alone.
        """
        del data
        return False

    def write_bytes(self, data: bytes) -> None:
        """Replace the file's content atomically with ``data`` (mode 0600).

        Raises:
            InvalidStore: the target is a symlink or special file.
            UnsafeStore: the directory or the file cannot be trusted.
            StoreWriteFailed: the write failed (disk full, read-only...); the old content is intact.
        """
        with self.reserve() as pending:
            pending.commit_bytes(data)

    @contextlib.contextmanager
    def reserve(self) -> Iterator[PendingWrite]:
        """Prepare a save before anything is spent; the block ``commit``s it or leaves nothing behind.

        Checks the directory and the current file can be trusted and written, creates the temp file beside the
        target and reserves ``max(64 KiB, 4 x the current size)`` bytes for it. A refresh reserves under
        ``lock()``::

            with store.lock():
                doc = store.read()
                with store.reserve() as pending:  # a full disk or a read-only directory fails here
                    ...  # send the refresh
                    pending.commit(new_doc)

        A sign-in reserves before its wait (which may last minutes) without the lock, and commits under it; the
        reservation is held (``_hold``) meanwhile, so no other save sweeps it. Temp files left by killed writers
        are settled first, if the lock is free at that instant (``_settle_if_free``).

        Raises:
            StoreWriteFailed: the directory is not writable, or the disk has no room for the reservation.
            StoreIsMountPoint: the current file is a mount point of its own, which no rename can replace.
            UnsafeStore, InvalidStore: the directory or the current file cannot be trusted or replaced.
        """
        directory = self._open_directory(create=True)
        try:
            self._settle_if_free(directory)
            pending = self._open_reservation(directory)
            try:
                yield pending
            finally:
                pending.discard()
        finally:
            directory.close()

    def _open_reservation(self, directory: _Directory) -> PendingWrite:
        current: os.stat_result | None = None
        try:
            current = directory.lstat(self._name)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise StoreWriteFailed(self.path, exc) from None
        else:
            self._check_kind(current)
            self._trust_file(current, None)
            if _mounted_apart(directory, self._name, current):
                raise StoreIsMountPoint(self.path)  # no rename can replace it: the spend would be lost after it
        temp, fd = self._held_temp(directory)
        try:
            if hasattr(os, "fchmod"):
                os.fchmod(fd, 0o600)  # the umask may have narrowed it (0400 would still be writable through fd)
            _allocate(fd, max(MIN_RESERVATION, 4 * (current.st_size if current else 0)))
            if current is not None:
                _wait_until_newer(fd, current)
        except OSError as exc:
            _let_go(directory, temp, fd)
            raise StoreWriteFailed(self.path, exc) from None
        return PendingWrite(self, directory, temp, fd)

    def _held_temp(self, directory: _Directory) -> tuple[str, int]:
        """A new temp file beside the target, held (``_hold``): its name and descriptor.

        Between its creation and its hold, another process's sweep may find it unheld and remove it; then the file
        we hold has no name any more (``st_nlink`` 0), and another is made.
        """
        for _ in range(3):
            temp = f".{self._name}.{os.urandom(6).hex()}.tmp"
            try:
                fd = directory.open(temp, _TEMP_FLAGS, 0o600)
            except OSError as exc:
                raise StoreWriteFailed(self.path, exc) from None
            try:
                _hold(fd)
                if os.fstat(fd).st_nlink > 0:
                    return temp, fd
            except OSError as exc:
                _let_go(directory, temp, fd)
                raise StoreWriteFailed(self.path, exc) from None
            os.close(fd)
        raise StoreWriteFailed(self.path, OSError("every temp file made was removed by another process at once"))

    def _settle_orphans(self, directory: _Directory) -> None:
        """Decide what becomes of the temp files no live writer holds (their writer died). Only under the store's
        lock: right after ``lock()`` takes it, before anyone reads, and in ``reserve()`` when it is free
        (``_settle_if_free``).

        Each temp file is opened and its hold taken, trying again for up to ``HELD_TEMP_GRACE`` while it is held (a
        dying writer lets go of its lock a moment before its temp file: ``_take_orphan``); one still held then is a
        live writer's, left alone. Then, for those we now hold:

        * **older** than the file: its last data change (``st_mtime``) is not after the file's last change (the
          later of its ``st_mtime`` and ``st_ctime``; the rename that put it in place, a restore with ``cp -p`` or
          ``mv``, a ``chmod`` change the ctime, which no one can set back). It would roll back a later save, e.g. the
          TypeScript CLI's, which takes no lock: removed. A change of the file's metadata alone (a ``chmod``, even
          to the same mode, an xattr) also counts: stat cannot tell it from a restore in place that keeps an old
          mtime (``cp -p`` over the file, ``touch -d``), and rolling that back would be worse than losing a save;
          our own reads, locks and reservations never change a 0600 file's metadata, and the tightening of a wider
          one happens in the read made under the lock before any save. With no file at all, every orphan counts as
          older: the file was removed after it (a sign-out outside our lock, or by hand) and is not brought back; a
          first save killed at its commit is lost, which costs a sign-in, never a grant held before (the encrypted
          store makes its migration from the plain file a write of its own, before anything is spent).
        * otherwise the store judges its bytes (``complete``): not whole (``False``, and any temp file not ours: not
          0600-safe, hard-linked, too large): removed; cannot be told now (``None``): kept; whole: a candidate.
        * The newest candidate is adopted when it is whole (``_adopt``), and then every other orphan is older than
          the file: removed. When the newest cannot be told, or the file cannot be trusted, or the adoption fails,
          the candidates stay for a later ``lock()``.

        Interleavings (a writer holds its temp file from ``_held_temp`` until after its rename or unlink; adoption
        needs the store's lock, which every writer of whole content holds, and the orphan's hold):

        * A writer alive but not yet holding its new temp file: the file is empty, so it is removed (never adopted);
          the writer then holds a file with no name (``st_nlink`` 0) and makes another (``_held_temp``).
        * A writer alive and holding: skipped, whatever it has written; it renames or removes the file before it
          lets go (``_let_go`` removes before it closes), so a live writer's temp is never seen unheld with content.
        * A writer killed after ``_write_at`` and ``ftruncate``, during or before its fsync: whole, newer: adopted by
          the next ``lock()``; the refresh that then reads the store sees the rotated token. Killed between the two:
          the content followed by the reservation's zeros is not whole: removed (the grant is lost; the window is
          the time of those two calls).
        * A writer dying with the lock and its temp file: the kernel closes its descriptors in ascending order, the
          lock's (taken first) usually before the temp file's, so the next holder may take the lock while the temp
          file is still held, for microseconds: it waits that out (``HELD_TEMP_GRACE``) instead of reading around
          the save.
        * Settling needs the store's lock, so no two processes settle at once, and a hold the settler cannot take
          within the grace is a live writer's. A name that no longer leads to the inode we hold (removed meanwhile
          by a writer that lost it to a sweep before it held it) is skipped. The adopter killed mid-way leaves the
          orphan unheld again (before the rename) or the save done (after): the next ``lock()`` carries on.
        * The adopted bytes are fsynced before the rename and the directory after it, as in ``PendingWrite``.
        """
        try:
            names = self._temp_names(directory)
        except OSError:
            return
        if not names:
            return
        if not _POSIX:
            cutoff = time.time() - STALE_TEMP_SECONDS
            for name in names:
                with contextlib.suppress(OSError):
                    _remove_if_old(directory, name, cutoff)
            return
        try:
            target: os.stat_result | None = directory.lstat(self._name)
        except FileNotFoundError:
            target = None
        except OSError:
            return  # nothing can be judged against a file we cannot see; the read that follows will say why
        # With nothing to judge against, every orphan goes: no need to wait for a dying writer's to be let go.
        deadline = time.monotonic() + (HELD_TEMP_GRACE if target is not None else 0.0)
        taken: list[_Orphan] = []
        try:
            for name in names:
                with contextlib.suppress(OSError):
                    orphan = _take_orphan(directory, name, deadline)
                    if orphan is not None:
                        taken.append(orphan)
            self._settle(directory, taken, target)
        finally:
            for orphan in taken:
                os.close(orphan.fd)

    def _settle(self, directory: _Directory, orphans: list[_Orphan], target: os.stat_result | None) -> None:
        judged = [(orphan, self._judge(orphan, target)) for orphan in orphans]
        candidates = sorted(
            ((orphan, whole) for orphan, whole in judged if whole is not False),
            key=lambda pair: pair[0].info.st_mtime_ns,
            reverse=True,
        )
        kept = {orphan.name for orphan, _ in candidates}
        if candidates and candidates[0][1] and target is not None:
            newest = candidates[0][0]
            if self._adopt(directory, newest, target):
                kept = {newest.name}  # renamed into place: the others are older than the file now
        for orphan, _ in judged:
            if orphan.name not in kept:
                with contextlib.suppress(OSError):
                    directory.unlink(orphan.name)

    def _judge(self, orphan: _Orphan, target: os.stat_result | None) -> bool | None:
        """``True``: a whole save newer than the file; ``False``: never to be adopted; ``None``: cannot be told."""
        info = orphan.info
        if target is None or info.st_mtime_ns <= max(target.st_mtime_ns, target.st_ctime_ns):
            return False
        if info.st_nlink != 1 or info.st_uid != os.geteuid() or info.st_mode & 0o022 or info.st_size > MAX_FILE_BYTES:
            return False
        return self.complete(_read_up_to(orphan.fd, MAX_FILE_BYTES + 1))

    def _adopt(self, directory: _Directory, orphan: _Orphan, target: os.stat_result) -> bool:
        """Finish the save ``orphan`` holds: fsync it, rename it over the file, fsync the directory. The file must
        be one we would replace ourselves (``_open_reservation``'s checks); else nothing is done (``False``)."""
        try:
            self._check_kind(target)
            self._trust_file(target, None)
        except (InvalidStore, UnsafeStore):
            return False
        try:
            _full_fsync(orphan.fd)
            if hasattr(os, "fchmod"):
                os.fchmod(orphan.fd, 0o600)
            directory.replace(orphan.name, self._name)
        except OSError:
            return False
        directory.fsync()
        return True

    def _temp_names(self, directory: _Directory) -> list[str]:
        """Our temp files' names: ``.<name>.<random>.tmp``, the random part without a dot (so the plain store's
        ``.credentials.`` does not also take the encrypted store's ``.credentials.enc.<random>.tmp``)."""
        prefix = f".{self._name}."
        return [
            name
            for name in directory.names()
            if name.startswith(prefix) and name.endswith(".tmp") and "." not in name[len(prefix) : -len(".tmp")]
        ]

    def delete(self) -> None:
        """Remove the file (a symlink at the path is removed, never followed); absent is fine.

        Raises:
            InvalidStore: the path is a directory, or cannot be removed.
            UnsafeStore: the directory cannot be trusted.
        """
        try:
            directory = self._open_directory(create=False)
        except FileNotFoundError:
            return
        try:
            try:
                info = directory.lstat(self._name)
            except FileNotFoundError:
                return
            if stat.S_ISDIR(info.st_mode):
                raise InvalidStore(f"{self.path} is a directory", f"Remove {self.path} by hand.", path=self.path)
            try:
                directory.unlink(self._name)
            except FileNotFoundError:
                return
            except OSError as exc:
                raise InvalidStore(
                    f"unable to remove {self.path}: {exc.strerror}",
                    f"Remove {self.path} by hand (check the permissions of {directory.path}).",
                    path=self.path,
                ) from None
            directory.fsync()
        finally:
            directory.close()

    def quarantine(self) -> str | None:
        """Move an unreadable file aside as ``<name>.corrupt-<UTC timestamp>`` (0600) and return that path.

        The file is opened without following links and set to 0600 through its descriptor; the rename happens in
        the directory we opened, and what was renamed must be the inode we opened. A symlink or special file is
        refused (``None``), never moved or followed.

        Raises:
            InvalidStore: the file could not be moved, or was swapped while being moved.
            UnsafeStore: the directory or the file cannot be trusted.
        """
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        target = f"{self._name}.corrupt-{stamp}"
        try:
            directory = self._open_directory(create=False)
        except FileNotFoundError:
            return None
        try:
            return self._quarantine_in(directory, target)
        finally:
            directory.close()

    def _quarantine_in(self, directory: _Directory, target: str) -> str | None:
        try:
            fd = directory.open(self._name, _READ_FLAGS)
        except PermissionError:
            return self._quarantine_unopenable(directory, target)
        except OSError:
            return None  # absent, or a symlink (ELOOP): nothing we may move or follow
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                return None
            self._trust_file(info, None)
            if hasattr(os, "fchmod"):
                os.fchmod(fd, 0o600)
            directory.replace(self._name, target)
            moved = directory.lstat(target)
        except OSError as exc:
            raise self._not_moved(exc) from None
        finally:
            os.close(fd)
        return self._check_moved(directory, target, info, moved)

    def _quarantine_unopenable(self, directory: _Directory, target: str) -> str | None:
        """A file of ours we may not even open (mode 000): rename it first, then set 0600 without following links."""
        try:
            info = directory.lstat(self._name)
            if not stat.S_ISREG(info.st_mode):
                return None
            self._trust_file(info, None)
            directory.replace(self._name, target)
            moved = directory.lstat(target)
            if stat.S_ISREG(moved.st_mode) and directory.fd is not None:
                with contextlib.suppress(NotImplementedError, OSError):
                    os.chmod(target, 0o600, dir_fd=directory.fd, follow_symlinks=False)
        except OSError as exc:
            raise self._not_moved(exc) from None
        return self._check_moved(directory, target, info, moved)

    def _not_moved(self, exc: OSError) -> InvalidStore:
        return InvalidStore(
            f"unable to move {self.path} aside: {exc.strerror}",
            f"Move {self.path} out of the way by hand and sign in again.",
            path=self.path,
        )

    def _check_moved(
        self, directory: _Directory, target: str, info: os.stat_result, moved: os.stat_result
    ) -> str | None:
        """What the rename moved must be what we checked; else the name was swapped under us (never followed)."""
        if (moved.st_dev, moved.st_ino) != (info.st_dev, info.st_ino):
            raise InvalidStore(
                f"{self.path} was replaced while being moved aside",
                f"Check who else writes to {directory.path}, then sign in again.",
                path=self.path,
            )
        directory.fsync()
        return os.path.join(directory.path, target)

    # ------------------------------------------------------------------------------------------ locking

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the exclusive cross-process lock on ``<file>.lock``.

        On the way out, if the store's file is gone and no temp file of ours is left, the lock file is removed
        (while still held: a process waiting on it notices and locks the new one, see ``adapters.lock``).

        Raises:
            StoreLocked: another process held it for longer than ``lock_timeout``.
            UnsafeStore: the directory or the lock file cannot be trusted.
            StoreWriteFailed: the lock file cannot be created.
        """
        from .lock import NotALockFile

        directory = self._open_directory(create=True)
        try:
            try:
                held = self._acquire(directory, self.lock_timeout)
            except NotALockFile as exc:
                lock_path = os.path.join(directory.path, f"{self._name}.lock")
                raise UnsafeStore(lock_path, f"it is {exc}", f"Remove {lock_path} and try again.") from None
            except OSError as exc:
                raise StoreWriteFailed(self.path, exc) from None  # e.g. a read-only directory
            if held is None:
                raise StoreLocked(self.path, self.lock_timeout)
            try:
                self._settle_orphans(directory)  # before anyone reads: a refresh sees an adopted save
                yield
            finally:
                held.release(remove=self._nothing_left(directory))
        finally:
            directory.close()

    def _acquire(self, directory: _Directory, timeout: float) -> HeldLock | None:
        from .lock import acquire

        lock_name = f"{self._name}.lock"
        return acquire(
            lock_name if directory.fd is not None else os.path.join(directory.path, lock_name), timeout, directory.fd
        )

    def _settle_if_free(self, directory: _Directory) -> None:
        """Settle the orphans (``_settle_orphans``) if the store's lock is free at this instant, under it.

        ``reserve()`` runs without the lock (a sign-in reserves before it waits for a person) or under it (a refresh,
        whose ``lock()`` settled them already). Orphans are only ever handled under the lock, so a lock holder
        never finds one held by someone merely judging it, and then reads around a save it should have finished.
        When the lock is taken (by us, or another process), its holder settled them when it took it.
        """
        from .lock import NotALockFile

        try:
            directory.lstat(f"{self._name}.lock")
        except FileNotFoundError:
            made = True  # a save made without the lock: leave no lock file behind (``adapters.lock`` allows it)
        except OSError:
            return
        else:
            made = False
        try:
            held = self._acquire(directory, 0.0)
        except (NotALockFile, OSError):
            return  # the lock file is odd, or cannot be made: ``lock()`` says so when it is needed
        if held is None:
            return
        try:
            self._settle_orphans(directory)
        finally:
            held.release(remove=made or self._nothing_left(directory))

    def _nothing_left(self, directory: _Directory) -> bool:
        """True when neither the store's file nor a temp file of ours is in the directory (the lock can go)."""
        try:
            directory.lstat(self._name)
        except FileNotFoundError:
            pass
        except OSError:
            return False
        else:
            return False
        try:
            return not self._temp_names(directory)
        except OSError:
            return False


class PendingWrite:
    """A save prepared by ``SecureFile.reserve()``: a temp file beside the target with its space already held.

    ``commit`` (or ``commit_bytes``) at most once; leaving the ``reserve()`` block without it removes the temp file.

    Attributes:
        committed: the new content replaced the file.
    """

    def __init__(self, store: SecureFile, directory: _Directory, temp: str, fd: int) -> None:
        self._store = store
        self._directory = directory
        self._temp = temp
        self._fd = fd
        self.committed = False
        self._open = True

    def commit(self, doc: CredentialsDocument) -> None:
        """Store ``doc`` (encoded by the store's ``encode``) into the reserved file and put it in place.

        Raises:
            StoreWriteFailed: every try failed; the old file is intact.
        """
        data = self._store.encode(doc)
        try:
            self.commit_bytes(data)
        except BaseException:
            self._store.after_save(saved=False)
            raise
        self._store.after_save(saved=True)

    def commit_bytes(self, data: bytes) -> None:
        """Write ``data`` into the reserved file, truncate, fsync, rename it over the target, fsync the directory.

        A failed try is repeated a few times after short pauses (``WRITE_RETRY_DELAYS``: a disk can free up, a
        Windows reader can let go of the target).

        Raises:
            StoreWriteFailed: every try failed; the old file is intact.
        """
        if not self._open:
            raise RuntimeError("this reservation was already committed or discarded")
        failure: OSError | None = None
        for delay in (0.0, *WRITE_RETRY_DELAYS):
            if delay:
                time.sleep(delay)
            try:
                self._put(data)
            except OSError as exc:
                failure = exc
                continue
            self.committed = True
            self._directory.fsync()
            self.discard()
            return
        raise StoreWriteFailed(self._store.path, failure or OSError("the save failed"))

    def _put(self, data: bytes) -> None:
        if self._fd < 0:  # closed by a try that failed at the rename (Windows)
            self._fd = self._directory.open(self._temp, os.O_RDWR | _NOFOLLOW | _CLOEXEC)
        fd = self._fd
        _write_at(fd, data, 0)
        os.ftruncate(fd, len(data))
        _full_fsync(fd)
        if not _POSIX:  # Windows cannot rename a file that is open
            self._fd = -1
            os.close(fd)
        self._directory.replace(self._temp, self._store._name)

    def discard(self) -> None:
        """Close the reserved file and, unless committed, remove it (idempotent)."""
        if not self._open:
            return
        self._open = False
        fd, self._fd = self._fd, -1
        _let_go(self._directory, None if self.committed else self._temp, fd)


# ---------------------------------------------------------------------------------------------- helpers


def _who(mode: int) -> str:
    return " and ".join(who for who, bit in (("group", 0o020), ("others", 0o002)) if mode & bit)


def _unreadable(path: str, exc: OSError) -> InvalidStore:
    hint = (
        f"Check the permissions of {path} and of its directory."
        if isinstance(exc, PermissionError)
        else f"Check the disk that holds {path}."
    )
    return InvalidStore(f"unable to read {path}: {exc.strerror}", hint, path=path)


def _refuse_directory(directory: str) -> None:
    """Raise the precise error for a directory that did not open: a symlink, or not a directory at all."""
    try:
        info = os.lstat(directory)
    except OSError:
        return
    if stat.S_ISLNK(info.st_mode):
        raise UnsafeStore(
            directory,
            "it is a symbolic link",
            f"Set HEYGEN_CONFIG_DIR to the directory it points to, or replace the link with a real directory "
            f"(`rm {directory} && mkdir -m 700 {directory}`).",
        )
    if not stat.S_ISDIR(info.st_mode):
        raise InvalidStore(
            f"{directory} exists and is not a directory",
            f"Move {directory} out of the way, or set HEYGEN_CONFIG_DIR to another directory.",
            path=directory,
        )


def _trust_directory(directory: str, info: os.stat_result, fd: int | None) -> None:
    if not stat.S_ISDIR(info.st_mode):
        _refuse_directory(directory)
    if not _POSIX:
        return
    uid = os.geteuid()
    if info.st_uid != uid:
        raise UnsafeStore(
            directory,
            f"it is owned by uid {info.st_uid}, not by you (uid {uid})",
            f"Make it yours (`sudo chown -R {uid} {directory}`) or set HEYGEN_CONFIG_DIR to a directory of yours.",
        )
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o022:
        raise UnsafeStore(
            directory,
            f"it is writable by {_who(mode)} (mode {mode:04o})",
            f"Run `chmod 700 {directory}` (and check nobody else changed its content).",
        )
    if mode & 0o077 and fd is not None:
        with contextlib.suppress(OSError):  # read-only file system: nobody else can write it either
            os.fchmod(fd, 0o700)


def _directory_by_path(directory: str) -> _Directory:
    """Windows (no ``dir_fd``): check what ``lstat`` shows and reach entries by path."""
    info = os.lstat(directory)  # FileNotFoundError: no directory (callers that create made it just before)
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        _refuse_directory(directory)
    return _Directory(directory, None)


def _make_directories(directory: str) -> None:
    """Create every missing level of ``directory``, each exactly 0700 whatever the umask.

    The deepest existing ancestor is opened (through symlinks, like any path: macOS's ``/var`` is one), then each
    new level is made relative to its parent's descriptor and opened without following links before its mode is
    set, so a level swapped for a symlink meanwhile is never chmodded through.

    Raises:
        StoreWriteFailed: a level cannot be created.
    """
    here, missing = _missing_levels(directory)
    if not missing:
        return
    if not _DIR_FDS:
        try:
            os.makedirs(directory, 0o700, exist_ok=True)  # Windows: the profile's ACL protects it, not modes
        except OSError as exc:
            raise StoreWriteFailed(directory, exc) from None
        return
    level = here
    try:
        parent_fd = os.open(here, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _CLOEXEC)
    except OSError as exc:
        raise StoreWriteFailed(directory, exc) from None
    try:
        for name in reversed(missing):
            level = os.path.join(level, name)
            fd = _make_one(parent_fd, name)
            os.close(parent_fd)
            parent_fd = fd
    except OSError as exc:
        raise StoreWriteFailed(level, exc) from None
    finally:
        os.close(parent_fd)


def _missing_levels(directory: str) -> tuple[str, list[str]]:
    """The deepest existing ancestor of ``directory`` and the names below it that are missing (deepest first).

    Nothing is missing when the whole path exists, or when the search stops at something we cannot look into (a
    parent we cannot search, a file, a missing root): opening the directory then reports the problem precisely.
    """
    missing: list[str] = []
    here = directory
    while True:
        try:
            os.lstat(here)
        except FileNotFoundError:
            missing.append(os.path.basename(here))
            parent = os.path.dirname(here)
            if parent == here:
                return here, []
            here = parent
            continue
        except OSError:
            return here, []
        return here, missing


def _make_one(parent_fd: int, name: str) -> int:
    """``mkdir name`` (0700) in ``parent_fd`` and return it opened; a level someone made meanwhile is kept as is."""
    try:
        os.mkdir(name, 0o700, dir_fd=parent_fd)
    except FileExistsError:
        return os.open(name, _DIR_FLAGS, dir_fd=parent_fd)  # the trust checks on the final directory still apply
    if stat.S_IMODE(os.stat(name, dir_fd=parent_fd, follow_symlinks=False).st_mode) != 0o700:
        # The umask narrowed it, perhaps below what we may open (0500 under umask 0277).
        with contextlib.suppress(NotImplementedError, OSError):
            os.chmod(name, 0o700, dir_fd=parent_fd, follow_symlinks=False)
    fd = os.open(name, _DIR_FLAGS, dir_fd=parent_fd)
    try:
        os.fchmod(fd, 0o700)
    except OSError:
        os.close(fd)
        raise
    return fd


def _read_up_to(fd: int, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        chunk = os.read(fd, limit - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _write_at(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    done = 0
    while done < len(view):
        if hasattr(os, "pwrite"):
            done += os.pwrite(fd, view[done:], offset + done)
        else:  # Windows
            os.lseek(fd, offset + done, os.SEEK_SET)
            done += os.write(fd, view[done:])


def _hold(fd: int) -> None:
    """Mark a temp file as being written: an exclusive ``flock``, released when its last descriptor closes."""
    if _POSIX:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_EX)


def _let_go(directory: _Directory, name: str | None, fd: int) -> None:
    """Close a temp file's descriptor, removing the file first when ``name`` is given.

    On POSIX the name goes while the hold is still ours: nobody finds the temp file of a live writer unheld (and
    adopts a save it gave up). Windows cannot remove an open file, and has no hold.
    """
    if not _POSIX and fd >= 0:
        os.close(fd)
    if name is not None:
        with contextlib.suppress(OSError):
            directory.unlink(name)
    if _POSIX and fd >= 0:
        os.close(fd)


class _Orphan:
    """A temp file whose hold we took (its writer is gone): its name, our descriptor, its ``fstat`` once held."""

    def __init__(self, name: str, fd: int, info: os.stat_result) -> None:
        self.name = name
        self.fd = fd
        self.info = info


def _take_orphan(directory: _Directory, name: str, deadline: float) -> _Orphan | None:
    """Open the temp file ``name`` and take its hold, trying again until ``deadline`` (``time.monotonic``) while it
    is held (POSIX).

    ``None`` when a live writer holds it (``_hold``) past the deadline, when it is not a regular file, or when the
    name no longer leads to the file we hold (another process adopted or removed it between our open and our hold).
    While we hold it, nobody else removes or renames it: every process that does holds it first.

    Why the wait (``HELD_TEMP_GRACE``): a process that dies has its descriptors closed in ascending order, and the
    store's lock, taken before the reservation, usually has the lower one. For a moment after the lock is free, the
    dead writer's temp file is still held; taken as a live writer's, it would be skipped, and the lock's new holder
    would read (and spend) the refresh token the save it holds replaced. A live writer holding a temp file while we
    hold the lock is a sign-in waiting for a person: it costs one wait of the grace per ``lock()`` meanwhile.
    """
    fd = directory.open(name, _READ_FLAGS)
    try:
        if stat.S_ISREG(os.fstat(fd).st_mode) and _hold_within(fd, deadline):
            info, named = os.fstat(fd), directory.lstat(name)
            if (named.st_dev, named.st_ino) == (info.st_dev, info.st_ino):
                return _Orphan(name, fd, info)
    except BaseException:
        os.close(fd)
        raise
    os.close(fd)
    return None


def _wait_until_newer(fd: int, current: os.stat_result) -> None:
    """Make sure the temp file ``fd`` counts as newer than ``current``, the file it will replace (POSIX).

    A temp file left by a writer killed before its rename is finished by the next process only when its last data
    change is after the file's last change (``_judge``). File systems stamp times from a coarse clock (a kernel tick;
    a whole second on some), so a save reserved right after the file changed (the encrypted store's migration, a
    second save in one command) can share its timestamp and would be thrown away. So the temp file's time is set to
    now, again, until it is past the file's; the writes of the commit only move it further. Usually the first look
    suffices (the file changed long before); at worst this waits one tick of the file system's clock, bounded by
    ``CLOCK_TICK_WAIT``, and not at all for a file stamped further ahead than that.
    """
    if os.utime not in os.supports_fd:
        return
    changed = max(current.st_mtime_ns, current.st_ctime_ns)
    if changed - os.fstat(fd).st_mtime_ns > CLOCK_TICK_WAIT * 1e9:
        return  # stamped further ahead than a tick (a clock set back, ``touch -d``): no wait can help
    deadline = time.monotonic() + CLOCK_TICK_WAIT
    while os.fstat(fd).st_mtime_ns <= changed and time.monotonic() < deadline:
        time.sleep(0.001)
        os.utime(fd)


def _hold_within(fd: int, deadline: float) -> bool:
    """Take ``fd``'s hold (an exclusive ``flock``) without blocking, polling every millisecond until ``deadline``."""
    import fcntl

    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except (BlockingIOError, PermissionError):  # EACCES: how NFS's emulation says "held"
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.001)
        else:
            return True


def _mounted_apart(directory: _Directory, name: str, info: os.stat_result) -> bool:
    """Whether the entry ``name`` of ``directory`` (``info``: its ``lstat``) is a mount point of its own: no rename
    can replace it (``EBUSY``; ``EXDEV`` from another file system).

    Linux: its mount is not its directory's (``mnt_id`` in ``/proc/self/fdinfo``), which also tells a bind mount
    from the same file system (``docker -v``, a Kubernetes ``subPath``), where ``st_dev`` is the same, and is not
    fooled by overlayfs, which may give a file another ``st_dev`` than its directory without any mount. Elsewhere,
    or without ``/proc``: another file system (``st_dev``). Windows (no ``dir_fd``): never said.
    """
    if directory.fd is None:
        return False
    theirs = _mount_id(directory.fd) if sys.platform.startswith("linux") else None
    if theirs is None:
        return info.st_dev != os.fstat(directory.fd).st_dev
    try:
        fd = directory.open(name, getattr(os, "O_PATH", os.O_RDONLY) | _NOFOLLOW | _CLOEXEC)
    except OSError:
        return False  # gone or swapped meanwhile: the save's own checks say what it is
    try:
        if os.fstat(fd).st_ino != info.st_ino:
            return False
        mine = _mount_id(fd)
    finally:
        os.close(fd)
    return mine is not None and mine != theirs


def _mount_id(fd: int) -> int | None:
    """The id of the mount ``fd`` is on: the ``mnt_id`` line of ``/proc/self/fdinfo/<fd>`` (Linux 3.15 and later),
    or ``None`` when it cannot be read."""
    try:
        proc = os.open(f"/proc/self/fdinfo/{fd}", os.O_RDONLY | _CLOEXEC)
    except OSError:
        return None
    try:
        text = _read_up_to(proc, 64 * 1024)
    except OSError:
        return None
    finally:
        os.close(proc)
    for line in text.splitlines():
        key, _, value = line.partition(b":")
        if key == b"mnt_id":
            return int(value) if value.strip().isdigit() else None
    return None


def _remove_if_old(directory: _Directory, name: str, cutoff: float) -> None:
    """Without ``flock`` (Windows), remove the temp file ``name`` if it is older than ``cutoff``."""
    info = directory.lstat(name)
    if stat.S_ISREG(info.st_mode) and info.st_mtime < cutoff:
        directory.unlink(name)


def _allocate(fd: int, size: int) -> None:
    """Hold ``size`` bytes of disk for ``fd`` now, so a later write into them cannot meet a full disk."""
    if hasattr(os, "posix_fallocate"):
        import errno

        try:
            os.posix_fallocate(fd, 0, size)
        except OSError as exc:
            if exc.errno not in (errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
                raise
        else:
            return
    _write_at(fd, bytes(size), 0)  # macOS, Windows, or a file system without fallocate: real zeros


def _full_fsync(fd: int) -> None:
    """``fsync``; on macOS ``F_FULLFSYNC``, which also flushes the drive's cache (plain fsync does not there)."""
    if sys.platform == "darwin":
        import fcntl

        with contextlib.suppress(OSError):
            fcntl.fcntl(fd, fcntl.F_FULLFSYNC)
            return
    os.fsync(fd)
