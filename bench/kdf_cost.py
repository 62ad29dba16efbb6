"""What one passphrase guess costs: Argon2id as the encrypted store runs it, per derivation, on this machine.

    .venv/bin/python bench/kdf_cost.py [repetitions]

Prints the median and the spread of one derivation (the cost paid once per process that opens a passphrase file,
and by anyone guessing offline, per guess) for the parameters new files get, version 1's old default, and the
ceiling a header may ask for. Also the whole cost of opening a file (derivation + key check + unwrap + decrypt).
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time

from _common import ROOT

from hyperframes_auth.adapters.encrypted_file import (
    DEFAULT_PARAMS,
    MAX_LANES,
    MAX_MEMORY_KIB,
    MAX_WORK,
    EncryptedCredentialsFile,
    _argon2id,
)
from hyperframes_auth.domain.credentials import CredentialsDocument, OAuthTokens

CASES = {
    "new files (RFC 9106 second option)": DEFAULT_PARAMS,
    "version 1 default (OWASP floor)": (19 * 1024, 2, 1),
}


def timed(call: object, repetitions: int) -> list[float]:
    times = []
    for _ in range(repetitions):
        start = time.perf_counter()
        call()  # type: ignore[operator]
        times.append((time.perf_counter() - start) * 1000)
    return times


def line(label: str, times: list[float]) -> str:
    return f"{label:<44} median {statistics.median(times):7.1f} ms   min {min(times):7.1f}   max {max(times):7.1f}"


def main() -> None:
    repetitions = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    print(f"cpus: {os.cpu_count()}   repetitions: {repetitions}   ({ROOT.name})")
    for label, params in CASES.items():
        times = timed(lambda p=params: _argon2id(b"a passphrase", os.urandom(16), p), repetitions)
        print(line(f"{label} {params}", times))
    ceiling = (MAX_MEMORY_KIB, MAX_WORK // MAX_MEMORY_KIB, MAX_LANES)  # the most work a header may ask for
    print(line(f"header ceiling {ceiling}, once", timed(lambda: _argon2id(b"x", os.urandom(16), ceiling), 1)))
    with tempfile.TemporaryDirectory() as home:
        path = os.path.join(home, "credentials.enc")
        doc = CredentialsDocument(api_key="hg_bench", oauth=OAuthTokens("at" * 400, "rt" * 40))
        EncryptedCredentialsFile(path, lambda: "a passphrase").write(doc)
        opening = timed(lambda: EncryptedCredentialsFile(path, lambda: "a passphrase").read(), repetitions)
        print(line("open a file at the new parameters", opening))


if __name__ == "__main__":
    main()
