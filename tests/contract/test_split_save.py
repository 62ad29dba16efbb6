"""The CLI's shield splits at the spend: the save survives a SIGKILL of the command's own process.

Each test runs ``split_saver`` (a refresh's reserve / arm / commit, with the server's answer replaced by a line on
stdin) as a real process and kills or signals it at the moment a refresh is most exposed: the request is out and
the answer not yet saved.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from hyperframes_auth.adapters.credentials_file import CredentialsFile
from hyperframes_auth.adapters.signals import FIRST_INTERRUPT
from hyperframes_auth.domain.credentials import CredentialsDocument, OAuthTokens

from .split_saver import NEW

pytestmark = pytest.mark.skipif(
    not hasattr(os, "fork") or sys.platform == "darwin", reason="the split needs fork (and is off on macOS)"
)
ROOT = Path(__file__).resolve().parents[2]
OLD = CredentialsDocument(oauth=OAuthTokens("at_before_split", "rt_before_split"))


def _start(path: Path, *extra: str) -> tuple[subprocess.Popen[str], int]:
    """Start the saver in a new session (so without a controlling terminal, as in CI) and wait until it is armed."""
    CredentialsFile(str(path)).write(OLD)
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.contract.split_saver", str(path), *extra],
        cwd=ROOT,
        start_new_session=True,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    words = process.stdout.readline().split()
    assert words[:1] == ["armed"], words
    return process, int(words[1])


def _answer_and_collect(process: subprocess.Popen[str]) -> tuple[str, str]:
    """Send the 'server's answer' and read both streams to their end (the end of every process holding them)."""
    assert process.stdin is not None
    assert process.stdout is not None
    assert process.stderr is not None
    process.stdin.write("answer\n")
    process.stdin.close()
    return process.stdout.read(), process.stderr.read()


def test_a_sigkill_of_the_command_after_the_spend_does_not_lose_the_save(tmp_path: Path) -> None:
    path = tmp_path / "credentials"
    process, worker = _start(path)
    assert worker != process.pid  # the work goes on in a child
    process.kill()
    assert process.wait(10) == -signal.SIGKILL
    out, _ = _answer_and_collect(process)  # the orphaned child gets the answer, saves, and ends
    assert out == "saved\n"
    assert CredentialsFile(str(path)).read().content() == NEW.content()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["credentials", "credentials.lock"]


def test_off_a_terminal_a_kill_of_the_whole_process_group_does_not_reach_the_child(tmp_path: Path) -> None:
    """`timeout` and many job runners kill the command's process group: the child runs in a session of its own."""
    path = tmp_path / "credentials"
    process, worker = _start(path)
    assert os.getsid(worker) == worker != os.getsid(process.pid)
    os.killpg(process.pid, signal.SIGKILL)
    assert process.wait(10) == -signal.SIGKILL
    out, _ = _answer_and_collect(process)
    assert out == "saved\n"
    assert CredentialsFile(str(path)).read().content() == NEW.content()


def test_the_store_stays_locked_until_the_orphaned_child_has_saved(tmp_path: Path) -> None:
    """Another command must not read the old refresh token while the child still saves the new one."""
    from hyperframes_auth.domain.errors import StoreLocked

    path = tmp_path / "credentials"
    process, _ = _start(path)
    process.kill()
    process.wait(10)
    with pytest.raises(StoreLocked), CredentialsFile(str(path), lock_timeout=0.2).lock():
        pass
    _answer_and_collect(process)
    with CredentialsFile(str(path), lock_timeout=10).lock():
        assert CredentialsFile(str(path)).read().content() == NEW.content()


def test_sigterm_to_the_command_is_passed_on_held_back_until_saved_then_obeyed(tmp_path: Path) -> None:
    path = tmp_path / "credentials"
    process, _ = _start(path)
    process.send_signal(signal.SIGTERM)
    assert process.stderr is not None
    assert process.stderr.readline() == f"warned: {FIRST_INTERRUPT}\n"  # the child held it back
    out, _ = _answer_and_collect(process)
    assert out == "saved\n"
    assert process.wait(10) == -signal.SIGTERM  # then ended by it, as the command would have been
    assert CredentialsFile(str(path)).read().content() == NEW.content()


def test_the_command_ends_with_its_childs_exit_code_and_output(tmp_path: Path) -> None:
    path = tmp_path / "credentials"
    process, _ = _start(path)
    out, err = _answer_and_collect(process)
    assert (process.wait(10), out, err) == (0, "saved\n", "")


def test_no_split_while_another_thread_runs(tmp_path: Path) -> None:
    path = tmp_path / "credentials"
    process, worker = _start(path, "--thread")
    assert worker == process.pid
    out, _ = _answer_and_collect(process)
    assert (process.wait(10), out) == (0, "saved\n")
    assert CredentialsFile(str(path)).read().content() == NEW.content()


def test_sigint_sent_to_the_command_by_another_process_is_passed_on(tmp_path: Path) -> None:
    path = tmp_path / "credentials"
    process, _ = _start(path)
    process.send_signal(signal.SIGINT)
    assert process.stderr is not None
    assert process.stderr.readline() == f"warned: {FIRST_INTERRUPT}\n"
    out, err = _answer_and_collect(process)
    assert out == "saved\n"
    assert "KeyboardInterrupt" in err  # raised once the save is done, as an unguarded Ctrl-C would have been
    assert process.wait(10) == -signal.SIGINT
    assert CredentialsFile(str(path)).read().content() == NEW.content()


def test_a_terminal_ctrl_c_reaches_the_child_once(tmp_path: Path) -> None:
    """The terminal sends Ctrl-C to both processes; the parent must not pass it on as a second one (which would
    abandon the save)."""
    import pexpect

    path = tmp_path / "credentials"
    CredentialsFile(str(path)).write(OLD)
    child = pexpect.spawn(
        sys.executable, ["-m", "tests.contract.split_saver", str(path)], cwd=str(ROOT), encoding="utf-8", timeout=20
    )
    try:
        child.expect(r"armed (\d+) (\d+)")
        worker = int(child.match.group(1))
        assert worker != child.pid
        assert os.getpgid(worker) == os.getpgid(child.pid)  # on a terminal: in its foreground group
        child.sendintr()
        child.expect_exact("warned: " + FIRST_INTERRUPT)
        child.sendline("answer")
        child.expect_exact("saved")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.signalstatus == signal.SIGINT
    assert CredentialsFile(str(path)).read().content() == NEW.content()


def test_a_ctrl_c_landing_during_the_first_ones_warning_is_the_second_one() -> None:
    """Python runs a signal handler between any two bytecodes, the first Ctrl-C's own handler included: a second
    Ctrl-C while the first one's warning is being written must abandon, not warn again."""
    from hyperframes_auth.adapters.signals import SignalShield

    said: list[str] = []

    def warn(text: str) -> None:
        said.append(text)
        if len(said) == 1:
            os.kill(os.getpid(), signal.SIGINT)  # the second Ctrl-C, while this warning is written
            sum(range(1000))  # bytecodes, where Python runs the handler

    def ctrl_c_during_a_save() -> None:
        with SignalShield(warn)() as guard:
            guard.arm()
            os.kill(os.getpid(), signal.SIGINT)
            sum(range(1000))

    with pytest.raises(KeyboardInterrupt):
        ctrl_c_during_a_save()
    assert said == [FIRST_INTERRUPT]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the shield let go


def test_when_the_child_alone_is_killed_the_command_dies_the_same_way_and_leaves_its_save(tmp_path: Path) -> None:
    """The out-of-memory killer may pick the child: the command then ends as killed too, without running its
    clean-up a second time (which would remove the reservation the child's save may already be in)."""
    path = tmp_path / "credentials"
    process, worker = _start(path)
    [reservation] = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    os.kill(worker, signal.SIGKILL)
    assert process.wait(10) == -signal.SIGKILL
    assert process.stderr is not None
    assert process.stderr.read() == ""  # no "Internal error", no traceback
    assert reservation.exists()  # left for the next lock to judge (here: never written, so removed then)
    with CredentialsFile(str(path)).lock():
        assert CredentialsFile(str(path)).read().content() == OLD.content()
    assert not reservation.exists()
