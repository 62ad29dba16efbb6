"""``SignalShield``: the ``Shield`` port on POSIX signals.

While a guard is armed (a refresh token is being spent, a code exchanged, until the new tokens are saved), SIGINT,
SIGTERM and SIGHUP are held back: the first Ctrl-C prints what is happening and that a second one abandons the
save (and what that costs); a second Ctrl-C raises ``KeyboardInterrupt`` at once. When the guard is disarmed (the
tokens are durable, or the answer brought none), a held-back SIGINT is raised as ``KeyboardInterrupt`` and a held-back
SIGTERM or SIGHUP is re-delivered with its previous disposition, so the process ends as it would have.

Signal handlers can only be installed from the main thread; elsewhere (a library used from a worker thread) the
guard does nothing, and signals behave as they always do there.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType

_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))

FIRST_INTERRUPT = (
    "Saving your new sign-in first, so it is not lost. Press Ctrl-C again to abandon it "
    "(you may then have to sign in again)."
)

Handler = Callable[[int, FrameType | None], object] | int | signal.Handlers | None


class _Guard:
    def __init__(self, warn: Callable[[str], None]) -> None:
        self._warn = warn
        self._armed = False
        self._held: list[int] = []
        self._previous: dict[int, Handler] = {}

    def arm(self) -> None:
        if self._armed or threading.current_thread() is not threading.main_thread():
            return
        for number in _SIGNALS:
            self._previous[number] = signal.getsignal(number)
            signal.signal(number, self._hold)
        self._armed = True

    def _hold(self, number: int, _frame: FrameType | None) -> None:
        if number == signal.SIGINT and signal.SIGINT in self._held:
            self._restore()
            raise KeyboardInterrupt
        if not self._held:
            self._warn(FIRST_INTERRUPT)
        self._held.append(number)

    def _restore(self) -> None:
        for number, previous in self._previous.items():
            signal.signal(number, previous if previous is not None else signal.SIG_DFL)
        self._previous.clear()
        self._armed = False

    def disarm(self) -> None:
        if not self._armed:
            return
        self._restore()
        held, self._held = self._held, []
        if not held:
            return
        first = held[0]
        if first == signal.SIGINT:
            raise KeyboardInterrupt
        os.kill(os.getpid(), first)  # delivered now with the disposition the process had before


class SignalShield:
    """Implements ``Shield``.

    Args:
        warn: how to tell the person what a first Ctrl-C does (the CLI writes to stderr).
    """

    def __init__(self, warn: Callable[[str], None]) -> None:
        self._warn = warn

    @contextlib.contextmanager
    def __call__(self) -> Iterator[_Guard]:
        guard = _Guard(self._warn)
        try:
            yield guard
        finally:
            guard.disarm()
