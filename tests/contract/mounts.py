"""File systems of a test's own, for the failure paths of saving: a tiny tmpfs to fill up, a read-only bind mount.

Both need root (CI runs as root) and the permission to mount; where either is missing the test is skipped, with
the reason. Every mount is undone (lazily, so an open file cannot keep it) when its block ends.
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)


def _mount(what: str, *args: str) -> None:
    done = run("mount", *args)
    if done.returncode:
        pytest.skip(f"{what} is not permitted here: {done.stderr.strip()}")


@contextlib.contextmanager
def small_tmpfs(parent: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs of our own at ``parent/disk``, to fill up without touching the real disk."""
    if not ROOT:
        pytest.skip("mounting a small tmpfs needs root (CI runs as root)")
    mount = parent / "disk"
    mount.mkdir(mode=0o700)
    _mount("a tmpfs mount", "-t", "tmpfs", "-o", "size=256k,mode=0700", "tmpfs", str(mount))
    try:
        yield mount
    finally:
        run("umount", "-l", str(mount))


@contextlib.contextmanager
def read_only(directory: Path) -> Iterator[None]:
    """``directory`` made read-only by a bind mount onto itself (chmod does not stop root)."""
    if not ROOT:
        pytest.skip("a read-only bind mount needs root (CI runs as root)")
    _mount("a bind mount", "--bind", str(directory), str(directory))
    try:
        _mount("a read-only remount", "-o", "remount,ro,bind", str(directory))
        yield
    finally:
        run("umount", "-l", str(directory))


def fill(disk: Path) -> Path:
    """Write zeros to ``disk/filler`` until the disk says it is full; return the filler."""
    filler = disk / "filler"
    with filler.open("ab", buffering=0) as handle:
        for _ in range(1024):  # 4 MiB at most: the disk is 256 KiB
            try:
                handle.write(bytes(4096))
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                return filler
    pytest.fail("the disk never filled up")
