"""A stand-in for the CLI's refresh, run as its own process by test_split_save.py.

    python -m tests.contract.split_saver <credentials path> [--thread]

Under the store's lock it reserves the save, arms a splitting ``SignalShield`` (the spend would be sent now),
prints ``armed <pid> <parent pid>`` and waits for a line on stdin (the server's answer), then commits the new
document, prints ``saved`` and exits 0. ``--thread`` keeps a second thread running, so the shield must not fork.
"""

from __future__ import annotations

import sys
import threading

from hyperframes_auth.adapters.credentials_file import CredentialsFile
from hyperframes_auth.adapters.signals import SignalShield
from hyperframes_auth.domain.credentials import CredentialsDocument, OAuthTokens

NEW = CredentialsDocument(oauth=OAuthTokens("at_after_split", "rt_after_split"))


def main() -> int:
    import os

    if "--thread" in sys.argv:
        stop = threading.Event()
        threading.Thread(target=stop.wait, daemon=True).start()
    store = CredentialsFile(sys.argv[1])
    shield = SignalShield(lambda text: print(f"warned: {text}", file=sys.stderr, flush=True), split=True)
    with store.lock(), store.reserve() as pending, shield() as guard:
        guard.arm()
        print(f"armed {os.getpid()} {os.getppid()}", flush=True)
        sys.stdin.readline()
        pending.commit(NEW)
        print("saved", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
