"""How long a refresh's new tokens are at risk: from "answer in hand" to "rename done".

    .venv/bin/python bench/commit_window.py [runs] [directory]

Under refresh-token rotation, a grant that reached us but never reached the disk is lost for good. The store now
prepares the save before the request (``reserve()``: temp file created, space held) so that after the answer
only ``PendingWrite.commit(doc)`` remains: encode, write into the reserved file, truncate, fsync, rename,
directory fsync. For each store (plain JSON, encrypted) it prints the median and p99 of:

* ``to rename``: the window, from the call to ``commit()`` (the answer in hand) to the rename's return;
* ``commit()``: the same plus the directory fsync that makes the rename durable;
* ``write()``: the same save without a reservation (temp file created and sized after the answer), for comparison;
* ``reserve()``: what the reservation costs, paid before the request.

The directory defaults to one under $HOME (a real disk, not a tmpfs); fsync dominates, so the file system matters.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT  # noqa: F401 - puts the checkout on sys.path

from hyperframes_auth.adapters import files
from hyperframes_auth.adapters.credentials_file import CredentialsFile
from hyperframes_auth.adapters.encrypted_file import EncryptedCredentialsFile
from hyperframes_auth.adapters.files import SecureFile
from hyperframes_auth.domain.credentials import CredentialsDocument, OAuthTokens


def document(i: int) -> CredentialsDocument:
    """A realistic document: a ~1 KB JWT-sized access token, a rotated refresh token."""
    return CredentialsDocument(
        oauth=OAuthTokens(f"at_{i:06d}_" + "x" * 1000, f"rt_{i:06d}_" + "y" * 40, "2026-05-28T07:00:00.000Z", "openid")
    )


def file_system_of(path: Path) -> str:
    """The file system type holding ``path`` (Linux's /proc/mounts), for the report."""
    best, kind = "", "?"
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return kind
    for line in mounts:
        fields = line.split()
        if len(fields) > 2 and str(path).startswith(fields[1]) and len(fields[1]) > len(best):
            best, kind = fields[1], fields[2]
    return kind


def percentiles(samples: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return statistics.median(samples) * 1000, cuts[98] * 1000


RENAMED: list[float] = []


def timed_replace(directory: files._Directory, source: str, target: str) -> None:
    REAL_REPLACE(directory, source, target)
    RENAMED.append(time.perf_counter())


REAL_REPLACE = files._Directory.replace
files._Directory.replace = timed_replace  # type: ignore[method-assign]


def measure(store: SecureFile, runs: int) -> dict[str, tuple[float, float]]:
    store.write(document(0))
    commit, renamed, write, reserve = [], [], [], []
    for i in range(1, runs + 1):
        with store.lock():
            store.read()  # type: ignore[attr-defined]
            began = time.perf_counter()
            with store.reserve() as pending:
                reserve.append(time.perf_counter() - began)
                new = document(i)  # the answer, in hand
                began = time.perf_counter()
                pending.commit(new)
                commit.append(time.perf_counter() - began)
                renamed.append(RENAMED[-1] - began)
        with store.lock():
            began = time.perf_counter()
            store.write(document(-i))  # type: ignore[attr-defined]
            write.append(time.perf_counter() - began)
    return {
        "to rename": percentiles(renamed),
        "commit()": percentiles(commit),
        "write()": percentiles(write),
        "reserve()": percentiles(reserve),
    }


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    parent = Path(sys.argv[2]) if len(sys.argv) > 2 else Path.home()
    home = Path(tempfile.mkdtemp(prefix="hf-commit-", dir=parent))
    print(f"{runs} runs in {home} ({file_system_of(home)})")
    stores: dict[str, SecureFile] = {
        "plain": CredentialsFile(str(home / "plain" / "credentials")),
        "encrypted": EncryptedCredentialsFile(str(home / "enc" / "credentials.enc"), lambda: "bench passphrase"),
    }
    print(f"{'store':<10} {'step':<10} {'median ms':>10} {'p99 ms':>8}")
    for name, store in stores.items():
        for step, (median, p99) in measure(store, runs).items():
            print(f"{name:<10} {step:<10} {median:>10.3f} {p99:>8.3f}")
        store.delete()
    for leftover in sorted(home.rglob("*"), reverse=True):
        leftover.rmdir() if leftover.is_dir() else leftover.unlink()
    home.rmdir()
    os.sync()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
