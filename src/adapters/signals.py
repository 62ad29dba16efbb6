"""``SignalShield``: the ``Shield`` port on POSIX signals.

While a guard is armed (a refresh token is being spent, a code exchanged, until the new tokens are saved), SIGINT,
SIGTERM and SIGHUP are held back: the first Ctrl-C prints what is happening and that a second one abandons the
save (and what that costs); a second Ctrl-C raises ``KeyboardInterrupt`` at once. When the guard is disarmed (the
tokens are durable, or the answer brought none), a held-back SIGINT is raised as ``KeyboardInterrupt`` and a
held-back SIGTERM or SIGHUP is re-delivered with its previous disposition, so the process ends as it would have. A
signal the process was started ignoring (a script's background job ignores SIGINT) stays ignored.

Signal handlers can only be installed from the main thread; elsewhere (a library used from a worker thread) the
guard does nothing, and signals behave as they always do there.

A signal that cannot be caught (SIGKILL: ``kill -9``, the out-of-memory killer) would still end a refresh between
the server's answer and the rename that saves it, and with refresh-token rotation the grant is then lost. So the
CLI's shield is made with ``split=True``: when armed, the command's process forks, the child carries on (sends the
request, saves the answer, prints the result) and the parent, the process the shell and any killer know, waits for
it and ends as it ends (a child killed alone takes the parent with it). If the parent is killed, the child still
finishes the save: it holds the store's lock and its reserved temp file through descriptors inherited across the
fork; it then ends at once, printing nothing (a device sign-in stops polling).

* Without a controlling terminal (scripts, CI jobs, cron) the child starts a session of its own, so a kill of the
  command's process group (``timeout``, a job's teardown) does not reach it either; the parent passes every
  SIGINT, SIGTERM and SIGHUP it gets on to the child, whose guard holds them back like its own.
* On a terminal the child stays in the terminal's foreground group, so that Ctrl-C and any prompt keep working; a
  Ctrl-C reaches it directly, and the parent passes on only SIGTERM and SIGHUP (see ``_wait_and_mirror``).
* No split when a relayed signal is already pending at the fork (it would reach neither process), without ``fork``
  and ``sigwaitinfo``, on macOS (where forking without ``exec`` is unsafe once system frameworks are loaded), or
  when another thread is running (a fork copies only the calling thread, and locks the others hold would stay
  locked in the child). The library never splits.

Killing every process at once (a container or cgroup torn down) after the server rotated the token and before the
new tokens are written to the reserved temp file still loses it (once written, the next lock finishes the save:
``files.py``); that window is measured by ``bench/kill_rounds.py --cgroup``.
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

EXIT_ORPHANED = 128 + 9  # a split-off child that ends because its command was killed: as if killed with it
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
        self._parent: int | None = None  # in a split-off child: the command's process, which waits for it

    def arm(self) -> None:
        if self._armed or threading.current_thread() is not threading.main_thread():
            return
        for number in _SIGNALS:
            previous = signal.getsignal(number)
            if previous == signal.SIG_IGN:  # started ignoring it (a script's background job): it stays ignored
                continue
            self._previous[number] = previous
            signal.signal(number, self._hold)
        self._armed = True
        if self._split:
            self._split = False  # once: a child that arms again carries on itself
            self._parent = _continue_in_child(tuple(self._previous))

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
        if self._parent is not None and os.getppid() != self._parent:
            # A split-off child whose command is gone (killed with its job): what was spent is saved by now (the
            # guard is disarmed only after the save, or after an answer that brought no tokens), and nobody waits
            # for the rest: a device sign-in would otherwise poll on, unwatched, until its code expired.
            os._exit(EXIT_ORPHANED)
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


def _continue_in_child(relayed: tuple[int, ...]) -> int | None:
    """Fork: in the child, return the parent's pid and carry on; in the parent, wait for the child and end as it
    ends. ``None`` when there is no split (the save goes on here).

    ``relayed`` are the signals the guard holds back (an ignored one stays ignored, and is not relayed). They are
    blocked from just before the fork, so none is lost between the fork and the parent's wait; the child unblocks
    them at once (its guard's handlers, inherited, hold them back). One already pending then (a Ctrl-C typed at
    that very moment) was sent to this process alone: no split, and the guard here takes it.
    """
    if not can_split():
        return None
    for stream in (sys.stdout, sys.stderr):  # flushed now, or both processes would write what is buffered
        with contextlib.suppress(Exception):
            stream.flush()
    watched = {*relayed, signal.SIGCHLD}
    own_session = not _has_terminal()
    previous_chld = signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # ignored SIGCHLD would reap the child for us
    previous_mask = signal.pthread_sigmask(signal.SIG_BLOCK, watched)
    child = -1
    if not signal.sigpending() & set(relayed):
        with contextlib.suppress(OSError):  # no room for a process: the save still happens, here
            child = os.fork()
    if child != 0:
        if child > 0:
            _wait_and_mirror(child, watched, own_session)
        signal.pthread_sigmask(signal.SIG_SETMASK, previous_mask)
        signal.signal(signal.SIGCHLD, previous_chld)
        return None
    parent = os.getppid()
    if own_session:
        with contextlib.suppress(OSError):
            os.setsid()
    signal.pthread_sigmask(signal.SIG_SETMASK, previous_mask)
    signal.signal(signal.SIGCHLD, previous_chld)
    return parent


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
    the terminal's foreground group, where prompts and Ctrl-C keep working; a Ctrl-C (the terminal's, or ``kill
    -INT`` of the job) then reaches the child directly, and passing it on would count it twice, and a second
    Ctrl-C abandons the save. So on a terminal SIGINT is never passed on: one sent to this process alone is
    dropped, which lets the command finish (saved) instead of ending with 130. SIGTERM and SIGHUP are always
    passed on: the child holds each back and acts on the first, so a duplicate changes nothing.

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
        if own_session or info.si_signo != signal.SIGINT:
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
