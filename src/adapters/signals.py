"""``SignalShield``: the ``Shield`` port on POSIX signals.

While a guard is armed (a refresh token is being spent, a code exchanged, until the new tokens are saved), SIGINT,
SIGTERM and SIGHUP are held back: the first Ctrl-C prints what is happening and that a second one abandons the
save (and what that costs); a second Ctrl-C raises ``KeyboardInterrupt`` at once. When the guard is disarmed (the
tokens are durable, or the answer brought none), a held-back SIGINT is raised as ``KeyboardInterrupt`` and a held-back
SIGTERM or SIGHUP is re-delivered with its previous disposition, so the process ends as it would have.

Signal handlers can only be installed from the main thread; elsewhere (a library used from a worker thread) the
guard does nothing, and signals behave as they always do there.

A signal that cannot be caught (SIGKILL: ``kill -9``, the out-of-memory killer) would still end a refresh between the
server's answer and the rename that saves it, and with refresh-token rotation the grant is then lost. So the CLI's
shield is made with ``split=True``: when armed, the command's process forks, the child carries on (sends the
request, saves the answer, prints the result) and the parent, the process the shell and any killer know, waits for
it and ends as it ends. If the parent is killed, the child still finishes the save: it holds the store's lock and
its reserved temp file through descriptors inherited across the fork. The parent passes SIGINT, SIGTERM and SIGHUP
on to the child, whose guard holds them back like its own. Without a controlling terminal (scripts, CI jobs, cron)
the child also starts a session of its own, so a kill of the command's process group (``timeout``, a job's
teardown) does not reach it either; on a terminal it stays in the terminal's foreground group, so that Ctrl-C and
any prompt keep working. Killing every process at once (a container or cgroup torn down) after the server rotated
the token and before the new tokens are written to the reserved temp file still loses it (once written, the next
lock finishes the save: ``files.py``); that window is measured by ``bench/kill_rounds.py --cgroup``. There is no split without ``fork`` and
``sigwaitinfo``, on macOS (where forking without ``exec`` is unsafe once system frameworks are loaded), or when
another thread is running (a fork copies only the calling thread, and locks the others hold would stay locked in
the child); the library never splits.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from types import FrameType

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NoReturn

_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))

FIRST_INTERRUPT = (
    "Saving your new sign-in first, so it is not lost. Press Ctrl-C again to abandon it "
    "(you may then have to sign in again)."
)

Handler = Callable[[int, FrameType | None], object] | int | signal.Handlers | None


class _Guard:
    def __init__(self, warn: Callable[[str], None], split: bool) -> None:
        self._warn = warn
        self._split = split
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
        if self._split:
            self._split = False  # once: a child that arms again carries on itself
            _continue_in_child()

    def _hold(self, number: int, _frame: FrameType | None) -> None:
        # A handler can be interrupted by the next signal (Python runs handlers between any two bytecodes), so the
        # signal is recorded before anything else: a Ctrl-C that lands while the first one's warning is being
        # written is then the second one, as the person meant, and the warning is never written twice.
        if number == signal.SIGINT and signal.SIGINT in self._held:
            self._restore()
            raise KeyboardInterrupt
        first = not self._held
        self._held.append(number)
        if first:
            with contextlib.suppress(Exception):  # e.g. stderr busy with a write this signal interrupted
                self._warn(FIRST_INTERRUPT)

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


def can_split() -> bool:
    """Whether ``_continue_in_child`` would fork here and now."""
    return (
        hasattr(os, "fork")
        and hasattr(signal, "sigwaitinfo")
        and sys.platform != "darwin"
        and threading.active_count() == 1
    )


def _continue_in_child() -> None:
    """Fork: return in the child, which carries on; in the parent, wait for the child and end as it ends.

    The signals the parent relays are blocked from just before the fork, so none is lost between the fork and the
    parent's wait; the child unblocks them at once (its guard's handlers, inherited, hold them back).
    """
    if not can_split():
        return
    for stream in (sys.stdout, sys.stderr):  # flushed now, or both processes would write what is buffered
        with contextlib.suppress(Exception):
            stream.flush()
    watched = {*_SIGNALS, signal.SIGCHLD}
    own_session = not _has_terminal()
    previous_chld = signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # ignored SIGCHLD would reap the child for us
    previous_mask = signal.pthread_sigmask(signal.SIG_BLOCK, watched)
    try:
        child = os.fork()
    except OSError:
        child = 0  # no room for a process: the save still happens, here
    if child == 0:
        if own_session:
            with contextlib.suppress(OSError):
                os.setsid()
        signal.pthread_sigmask(signal.SIG_SETMASK, previous_mask)
        signal.signal(signal.SIGCHLD, previous_chld)
        return
    _wait_and_mirror(child, watched, own_session)


def _has_terminal() -> bool:
    """Whether this process has a controlling terminal (a person may type Ctrl-C, or a passphrase, at it)."""
    try:
        fd = os.open("/dev/tty", os.O_RDONLY | getattr(os, "O_NOCTTY", 0))
    except OSError:
        return False
    os.close(fd)
    return True


def _wait_and_mirror(child: int, watched: set[int], own_session: bool) -> NoReturn:
    """The parent's side: relay signals, wait for ``child``, end with its status (never returns).

    Without a terminal the child runs in a session of its own, so only this process gets signals meant for the
    command (a kill of its process group included), and each one is passed on. On a terminal the child stays in
    the terminal's foreground group, where prompts and Ctrl-C keep working: a signal another process sent
    (``kill``: ``si_code`` <= 0) is passed on, but one the kernel sent on the terminal's behalf (Ctrl-C, a
    hang-up: ``si_code`` > 0) reached the child too, and passing it on would count it twice (a second Ctrl-C
    abandons the save).

    Whatever happens here, this process ends here: an exception unwinding into the caller would run the command's
    clean-up (removing the reservation the child may have written its save into) a second time.
    """
    code = 1
    try:
        code = _mirror(child, watched, own_session)
    finally:
        os._exit(code)


def _mirror(child: int, watched: set[int], own_session: bool) -> int:
    """Relay signals until ``child`` ends; its exit code, or die of the signal it died of."""
    while True:
        info = signal.sigwaitinfo(watched)
        if info.si_signo == signal.SIGCHLD:
            try:
                done, status = os.waitpid(child, os.WNOHANG)
            except ChildProcessError:  # cannot happen for our own child; end as a failure rather than hang
                return 1
            if done == child:
                break
            continue  # stopped or continued, not ended
        if own_session or info.si_code <= 0:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, info.si_signo)
    code = os.waitstatus_to_exitcode(status)
    if code < 0:  # the child died of a signal: die of the same one, so the shell reports what happened
        number = -code
        if number not in (signal.SIGKILL, signal.SIGSTOP):  # those two cannot be given a handler, nor blocked
            signal.signal(number, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {number})
        os.kill(os.getpid(), number)
        code = 128 + number
    return code


class SignalShield:
    """Implements ``Shield``.

    Args:
        warn: how to tell the person what a first Ctrl-C does (the CLI writes to stderr).
        split: when armed, continue in a child process that outlives a kill of this one (the CLI's own process
            only: see the module's documentation).
    """

    def __init__(self, warn: Callable[[str], None], split: bool = False) -> None:
        self._warn = warn
        self._split = split

    @contextlib.contextmanager
    def __call__(self) -> Iterator[_Guard]:
        guard = _Guard(self._warn, self._split)
        try:
            yield guard
        finally:
            guard.disarm()
