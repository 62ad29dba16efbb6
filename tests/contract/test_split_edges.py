"""The split save (``adapters/signals.py``) at its edges: signals sent to the whole job on a terminal, a Ctrl-C
typed just before the fork, a fork that fails, a SIGINT the command was started ignoring, and a device sign-in whose
job was killed. Each case once lost a grant, abandoned a save, or left a process behind."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from hyperframes_auth.adapters.credentials_file import CredentialsFile
from hyperframes_auth.adapters.encrypted_file import MIN_ITERATIONS, MIN_MEMORY_KIB
from hyperframes_auth.adapters.signals import FIRST_INTERRUPT
from hyperframes_auth.domain.credentials import CredentialsDocument, OAuthTokens

from .conftest import AuthServer
from .local_servers import HoldingRelay, holds_tokens, relay_to
from .people import forget_environment, sign_in
from .split_saver import NEW as SAVED
from .test_cli_e2e import HYPERFRAMES, Lines, cli_env, kill_with_descendants, on_a_terminal
from .test_refresh_transaction import credentials, refresh_works

pytestmark = pytest.mark.contract
SPLITS = pytest.mark.skipif(
    not hasattr(os, "fork") or sys.platform == "darwin", reason="the split needs fork (and is off on macOS)"
)
ROOT = Path(__file__).resolve().parents[2]
SAVING = "Saving your new sign-in first"
OLD = CredentialsDocument(oauth=OAuthTokens("at_old" * 50, "rt_old_spent"))
NEW = CredentialsDocument(oauth=OAuthTokens("at_new" * 50, "rt_new_rotated"))
PASS = "s3cret passphrase"
FLOOR = (MIN_MEMORY_KIB, MIN_ITERATIONS, 1)


def _signed_in_through_relay(server: AuthServer, tmp_path: Path) -> tuple[Path, str]:
    """A signed-in config, presented so that the CLI may go through a relay; its refresh token."""
    sign_in(server, tmp_path)
    config = tmp_path / "config"
    forget_environment(tmp_path)
    return config, credentials(config)["oauth"]["refresh_token"]


@contextlib.contextmanager
def _relayed_env(server: AuthServer, tmp_path: Path) -> Iterator[tuple[dict[str, str], HoldingRelay]]:
    with relay_to(server.url, holds_tokens) as relay:
        yield cli_env(server, tmp_path, HYPERFRAMES_OAUTH_TOKEN_URL=f"{relay.url}/v1/oauth/token"), relay


# ---------------------------------------------------------------------------------------------- the split


@SPLITS
def test_a_ctrl_c_sent_to_the_job_on_a_terminal_is_not_counted_twice(auth_server: AuthServer, tmp_path: Path) -> None:
    """``kill -INT %1`` (bash sends it to the job's process group), an IDE's stop button or a supervisor that
    signals a process group: one SIGINT, sent by a process, reaches the command and its split-off child. The parent
    passes on every signal a process sent (``si_code`` <= 0), so the child sees two SIGINTs: the second one abandons
    the save, and the rotated refresh token is lost, although only one interrupt was ever sent."""
    import pexpect

    config, spent = _signed_in_through_relay(auth_server, tmp_path)
    auth_server.reset()
    with _relayed_env(auth_server, tmp_path) as (env, relay), on_a_terminal(env, "auth", "refresh") as child:
        assert relay.held.wait(30), "the refresh never reached the server"
        os.killpg(os.getpgid(child.pid), signal.SIGINT)  # one interrupt, to the job
        child.expect_exact(SAVING)
        relay.release()
        child.expect(pexpect.EOF)
    assert credentials(config)["oauth"]["refresh_token"] != spent, "the save was abandoned after one SIGINT"
    assert refresh_works(auth_server, tmp_path, config)


# A stand-in (``split_saver``) in which a Ctrl-C lands right after the shield blocked the signals it relays, just
# before it would fork: the signal is then pending in this process alone (a child would never see it).
PENDING_AT_THE_FORK = """
import os, signal, sys
real_mask = signal.pthread_sigmask
def mask(how, numbers):
    old = real_mask(how, numbers)
    if how == signal.SIG_BLOCK:
        os.kill(os.getpid(), signal.SIGINT)
    return old
signal.pthread_sigmask = mask
from tests.contract.split_saver import main
sys.exit(main())
"""


@SPLITS
def test_a_ctrl_c_pending_when_the_shield_would_fork_is_taken_here(tmp_path: Path) -> None:
    """Signals pending at the fork are not inherited: a Ctrl-C that arrived just before it would reach neither the
    child (which did not exist) nor, on a terminal, be passed on by the parent (it cannot tell it from one the
    child got too). So with a relayed signal pending there is no split: the guard here holds it, the save is made,
    then the Ctrl-C ends the command."""
    import pexpect

    path = tmp_path / "credentials"
    CredentialsFile(str(path)).write(OLD)
    child = pexpect.spawn(
        sys.executable, ["-c", PENDING_AT_THE_FORK, str(path)], cwd=str(ROOT), encoding="utf-8", timeout=20
    )
    try:
        child.expect_exact("warned: " + FIRST_INTERRUPT)
        child.expect(r"armed (\d+) (\d+)")
        assert int(child.match.group(1)) == child.pid  # no split
        child.sendline("answer")
        child.expect_exact("saved")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert CredentialsFile(str(path)).read().content() == SAVED.content()
    assert child.signalstatus == signal.SIGINT, (child.exitstatus, child.signalstatus)


# A stand-in whose fork fails (no room for another process), started off a terminal and not as a process group
# leader (as under `sh -c '...; ...'`); it prints its session before and after the shield armed.
FAILED_FORK = """
import errno, os, sys
def fork():
    raise OSError(errno.EAGAIN, "Resource temporarily unavailable")
os.fork = fork
from hyperframes_auth.adapters.signals import SignalShield
before = os.getsid(0)
with SignalShield(lambda _text: None, split=True)() as guard:
    guard.arm()
    print(before, os.getsid(0), flush=True)
"""


@SPLITS
def test_a_fork_that_fails_leaves_the_command_in_its_session(tmp_path: Path) -> None:
    """When ``fork`` fails the save goes on in the command's own process, which then also runs the child's half:
    off a terminal it calls ``setsid``. The command leaves its job's process group and session, so a teardown
    that signals the group (a CI runner, ``kill -- -PGID``) no longer reaches it, though no child was split off."""
    done = subprocess.run(
        ["/bin/sh", "-c", f'"{sys.executable}" -c "$0"; true', FAILED_FORK],
        cwd=ROOT,
        capture_output=True,
        text=True,
        start_new_session=True,  # no controlling terminal; the stand-in is not the group's leader (sh is)
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    before, after = done.stdout.split()
    assert after == before, "the command moved itself into a session of its own"


# ---------------------------------------------------------------------------------------------- SIGINT ignored


IGNORED_SIGINT = """
import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_IGN)  # as a shell starts a background job, or `nohup`-like wrappers
from hyperframes_auth.adapters.signals import SignalShield
said = []
try:
    with SignalShield(said.append)() as guard:
        guard.arm()
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGINT)
        sum(range(1000))
        print("saved")
except KeyboardInterrupt:
    print("abandoned")
print("warned" if said else "quiet", signal.getsignal(signal.SIGINT) is signal.SIG_IGN)
"""


def test_an_ignored_sigint_stays_ignored_while_the_guard_is_armed() -> None:
    """A process started with SIGINT ignored (a shell's ``cmd &`` in a script, CI runners: see ``WITH_DEFAULT_SIGINT``
    in test_cli_e2e.py) must not be interrupted by it. The guard replaces the ignored disposition with its own
    handler: a SIGINT meant for the foreground job now warns, ends the command with 130 after the save, and two of
    them abandon the save (the rotated refresh token is lost). SIGTERM and SIGHUP are re-delivered with their
    previous disposition; SIGINT is raised as ``KeyboardInterrupt`` whatever it was."""
    done = subprocess.run(
        [sys.executable, "-c", IGNORED_SIGINT], cwd=ROOT, capture_output=True, text=True, timeout=30, check=False
    )
    assert done.stdout.split() == ["saved", "quiet", "True"], done.stdout + done.stderr


def _is_python(pid: int) -> bool:
    """Whether ``pid`` runs Python (a split-off child does; a zombie or another program does not)."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"python" in command


def _pending(pid: int, number: int) -> bool:
    """Whether signal ``number`` is pending for process ``pid`` (thread or process-wide), from /proc."""
    bit = 1 << (number - 1)
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return False
    masks = [int(line.split()[1], 16) for line in lines if line.startswith(("SigPnd:", "ShdPnd:"))]
    return any(mask & bit for mask in masks)


IGNORING_SIGINT = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_IGN); os.execv(sys.argv[1], sys.argv[1:])"
)


def test_the_command_started_with_sigint_ignored_finishes_its_refresh(auth_server: AuthServer, tmp_path: Path) -> None:
    """The same through the CLI: ``hyperframes auth refresh &`` in a script, then Ctrl-C at the terminal (or any
    SIGINT) while the refresh is in flight. The command should carry on and print its result; it ends 130 with
    no result instead (and a second SIGINT would abandon the save)."""
    from .test_cli_e2e import descendants

    config, spent = _signed_in_through_relay(auth_server, tmp_path)
    auth_server.reset()
    with _relayed_env(auth_server, tmp_path) as (env, relay):
        process = subprocess.Popen(
            [sys.executable, "-c", IGNORING_SIGINT, HYPERFRAMES, "auth", "refresh"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            out, err = Lines(process.stdout), Lines(process.stderr)  # type: ignore[arg-type]
            assert relay.held.wait(30), "the refresh never reached the server"
            process.send_signal(signal.SIGINT)
            for _ in range(5000):  # until the signal was taken (ignored: never pending); bounded
                if not any(_pending(pid, signal.SIGINT) for pid in [process.pid, *descendants(process.pid)]):
                    break
            relay.release()
            code = process.wait(30)
        finally:
            if process.poll() is None:
                kill_with_descendants(process.pid)
                process.wait(10)
    assert code == 0, (code, err.seen)
    out.wait_for("Refreshed")
    assert credentials(config)["oauth"]["refresh_token"] != spent


# ---------------------------------------------------------------------------------------------- the device grant


@SPLITS
@pytest.mark.slow
def test_a_device_sign_in_killed_with_its_job_stops_polling(auth_server: AuthServer, tmp_path: Path) -> None:
    """Off a terminal a device sign-in splits at its first poll (a poll is a spend: its answer may carry tokens),
    and the child, in a session of its own, then runs the whole rest of the polling. When the job is torn down
    (``timeout -s KILL``, a CI job cancelled: SIGKILL to the process group) before anyone approved, nothing was
    spent, yet the child polls on until the device code expires (10 minutes here) holding the job's stdout, so a
    ``$(hyperframes auth login --device)`` hangs that long, and an approval given later signs in a command that was
    killed. The child should give up at its next poll that brings no tokens once its parent is gone."""
    import threading
    import time

    from .test_cli_e2e import descendants

    env = cli_env(auth_server, tmp_path)
    auth_server.reset()  # its counters tell when the first poll came
    process = subprocess.Popen(
        [HYPERFRAMES, "auth", "login", "--device"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    ended = threading.Event()
    assert process.stdout is not None
    stdout = process.stdout

    def read_to_the_end() -> None:
        for _line in stdout:
            pass
        ended.set()

    threading.Thread(target=read_to_the_end, daemon=True).start()
    children: list[int] = []
    try:
        deadline = time.monotonic() + 30
        while not auth_server.stats()["token"] and time.monotonic() < deadline:  # the split is at the first poll
            time.sleep(0.05)
        children = [pid for pid in descendants(process.pid) if _is_python(pid)]
        assert children, "the device sign-in never split"
        os.killpg(process.pid, signal.SIGKILL)  # the job's teardown
        assert process.wait(10) == -signal.SIGKILL
        assert ended.wait(20), "the split-off child still polls (and holds stdout) after its job was killed"
    finally:
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if process.poll() is None:
            kill_with_descendants(process.pid)
        process.wait(10)
        stdout.close()
