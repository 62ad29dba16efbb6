"""Background threads that leave Ctrl-C to the main thread.

The kernel delivers a process-directed signal to any thread that does not block it. If SIGINT lands on a helper
thread, CPython's main thread stays blocked in its wait (a lock or an event) and Ctrl-C seems to do nothing. Our
helper threads therefore block SIGINT and SIGTERM, so those signals always reach the main thread.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable

_BLOCKED = {signal.SIGINT, signal.SIGTERM}


def start_daemon(target: Callable[..., object], *args: object, name: str | None = None) -> threading.Thread:
    """Start ``target(*args)`` on a daemon thread that never receives SIGINT or SIGTERM."""

    def run() -> None:
        if hasattr(signal, "pthread_sigmask"):
            signal.pthread_sigmask(signal.SIG_BLOCK, _BLOCKED)
        target(*args)

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    return thread
