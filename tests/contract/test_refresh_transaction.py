"""A refresh (and a sign-in, and a sign-out) is a transaction: against the real server with rotation on, through
the installed CLI and the facade.

* Nothing is spent that cannot be saved: on a full disk (a small tmpfs of ours) or a read-only directory (a
  read-only bind mount), ``auth refresh`` fails naming the real path and the cause, and the server's counters show
  no refresh request; once the disk has room again, the same grant refreshes.
* A signal at the worst moment (the server has rotated the refresh token, the answer is on its way) does not lose
  the grant: a relay of ours holds the token response and says when it holds it; then Ctrl-C, SIGTERM or SIGHUP
  arrives. The first Ctrl-C says the save is in progress; the command saves, then exits 130 (a held SIGTERM or
  SIGHUP is delivered again, so the process ends by it); the stored refresh token still works at the server. A
  second Ctrl-C abandons at once (exit 130). The same for ``auth login`` (code exchange) and ``--device``. A
  SIGKILL of the command at that moment does not lose the grant either: the CLI split off a child when it spent
  the token, and the child saves.
* ``auth logout`` revokes under the store's lock: while another process holds it, nothing is revoked; and a local
  removal that fails after the revocation says the tokens are already revoked at the server.
* Two people signing in at once: the cached ``user`` block always describes the tokens next to it.
* Ctrl-C ends every command with ``Aborted.`` and exit 130.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hyperframes_auth.adapters.credentials_file import CredentialsFile
from hyperframes_auth.domain.errors import StoreLocked, StoreWriteFailed
from hyperframes_auth.entrypoints.settings import Settings
from tests.fakes import facade

from .conftest import API_KEY, AuthServer
from .local_servers import HoldingRelay, holds_tokens, relay_to
from .mounts import fill, read_only, run
from .people import forget_environment, person_behind, sign_in, stored_accounts
from .scripted_user import ScriptedUser
from .test_cli_e2e import Lines, cli_env, finish, hf, kill_with_descendants, on_a_terminal, spawn, transcript

pytestmark = [pytest.mark.contract, pytest.mark.slow]
SAVING = "Saving your new sign-in first"


def credentials(config: Path) -> dict[str, dict[str, str]]:
    return json.loads((config / "credentials").read_text())  # type: ignore[no-any-return]


def refresh_works(server: AuthServer, tmp_path: Path, config: Path) -> bool:
    """The stored refresh token is still good at the server (spending it once more through the CLI, directly: the
    relay that stood in front of the token endpoint is gone, so the sign-in is presented as one written before
    environments were recorded, which the next command labels with the direct configuration)."""
    forget_environment(config.parent)
    result = hf(cli_env(server, tmp_path, HEYGEN_CONFIG_DIR=str(config)), "auth", "refresh")
    return result.returncode == 0 and server.stats()["invalid_grant"] == 0


def signed_in_config(server: AuthServer, tmp_path: Path) -> Path:
    sign_in(server, tmp_path)
    return tmp_path / "config"


# ---------------------------------------------------------------------------------------------- nothing spent


def test_a_full_disk_fails_the_refresh_before_anything_is_spent(
    auth_server: AuthServer, tmp_path: Path, small_disk: Path
) -> None:
    home = signed_in_config(auth_server, tmp_path)
    config = small_disk / "config"
    config.mkdir(mode=0o700)
    shutil.copy2(home / "credentials", config / "credentials")
    before = (config / "credentials").read_bytes()
    filler = fill(small_disk)
    auth_server.reset()
    env = cli_env(auth_server, tmp_path, HEYGEN_CONFIG_DIR=str(config))

    result = hf(env, "auth", "refresh")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"Could not save the credentials to {config / 'credentials'}: the disk is full",
        f"Free some space on the disk that holds {config}, then try again.",
    ]
    with pytest.raises(StoreWriteFailed, match="the disk is full"):
        facade(Settings.from_env(env), env=env).refresh()
    assert auth_server.refresh_requests() == 0  # nothing was spent
    assert (config / "credentials").read_bytes() == before

    filler.unlink()
    assert refresh_works(auth_server, tmp_path, config)
    assert auth_server.refresh_requests() == 1
    assert credentials(config)["oauth"]["refresh_token"] != json.loads(before)["oauth"]["refresh_token"]


@pytest.fixture
def read_only_config(auth_server: AuthServer, tmp_path: Path) -> Iterator[Path]:
    """A signed-in config directory made read-only by a bind mount (chmod does not stop root)."""
    config = signed_in_config(auth_server, tmp_path)
    with read_only(config):
        yield config


def test_a_read_only_directory_fails_the_refresh_before_anything_is_spent(
    auth_server: AuthServer, tmp_path: Path, read_only_config: Path
) -> None:
    config = read_only_config
    before = (config / "credentials").read_bytes()
    auth_server.reset()
    env = cli_env(auth_server, tmp_path)
    result = hf(env, "auth", "refresh")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"Could not save the credentials to {config / 'credentials'}: the file system is read-only",
        (
            f"Remount the file system that holds {config} read-write, or set HEYGEN_CONFIG_DIR to a writable "
            "directory, then try again."
        ),
    ]
    with pytest.raises(StoreWriteFailed, match="read-only"):
        facade(Settings.from_env(env), env=env).refresh()
    assert auth_server.refresh_requests() == 0
    assert (config / "credentials").read_bytes() == before
    run("umount", "-l", str(config))
    assert refresh_works(auth_server, tmp_path, config)


# ---------------------------------------------------------------------------------------------- signals in flight


@contextlib.contextmanager
def cli_through_relay(
    server: AuthServer, tmp_path: Path, *args: str, **extra: str
) -> Iterator[tuple[subprocess.Popen[str], Lines, Lines, HoldingRelay]]:
    """Run the CLI with its token endpoint behind a relay that holds answers carrying tokens (a sign-in made
    directly is presented as one written before environments were recorded, so it may go through the relay)."""
    if (tmp_path / "config" / "credentials").exists():
        forget_environment(tmp_path)
    with relay_to(server.url, holds_tokens) as relay:
        env = cli_env(server, tmp_path, HYPERFRAMES_OAUTH_TOKEN_URL=f"{relay.url}/v1/oauth/token", **extra)
        with spawn(env, *args) as (process, out, err):
            yield process, out, err, relay


def wait_exit(process: subprocess.Popen[str], seconds: float = 30) -> int:
    try:
        return process.wait(seconds)
    except subprocess.TimeoutExpired:
        kill_with_descendants(process.pid)
        raise


@pytest.mark.parametrize("number", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=["SIGINT", "SIGTERM", "SIGHUP"])
def test_a_signal_while_the_refresh_is_in_flight_saves_first(
    auth_server: AuthServer, tmp_path: Path, number: signal.Signals
) -> None:
    config = signed_in_config(auth_server, tmp_path)
    spent = credentials(config)["oauth"]["refresh_token"]
    auth_server.reset()
    with cli_through_relay(auth_server, tmp_path, "auth", "refresh") as (process, out, err, relay):
        assert relay.held.wait(30), "the refresh never reached the server"
        process.send_signal(number)
        err.wait_for(SAVING)
        relay.release()
        code = wait_exit(process)
    assert code == (130 if number == signal.SIGINT else -number)
    if number == signal.SIGINT:
        err.wait_for("Aborted.")
    assert "Refreshed" not in out.seen
    assert "Traceback" not in err.seen
    saved = credentials(config)["oauth"]["refresh_token"]
    assert saved != spent  # the rotated token was saved before the process ended
    assert auth_server.refresh_requests() == 1
    assert refresh_works(auth_server, tmp_path, config)


@pytest.mark.skipif(sys.platform == "darwin", reason="the CLI does not split on macOS (see adapters/signals.py)")
def test_a_sigkill_while_the_refresh_is_in_flight_does_not_lose_the_grant(
    auth_server: AuthServer, tmp_path: Path
) -> None:
    """SIGKILL cannot be held back: the command's process dies. The save goes on in the child it split off when the
    refresh token was spent, which holds the store's lock until the rotated token is on disk."""
    config = signed_in_config(auth_server, tmp_path)
    spent = credentials(config)["oauth"]["refresh_token"]
    auth_server.reset()
    with cli_through_relay(auth_server, tmp_path, "auth", "refresh") as (process, out, _err, relay):
        assert relay.held.wait(30), "the refresh never reached the server"
        process.kill()
        assert wait_exit(process) == -signal.SIGKILL
        relay.release()
        with CredentialsFile(str(config / "credentials"), lock_timeout=30).lock():  # until the child lets go
            saved = credentials(config)["oauth"]["refresh_token"]
    assert "Refreshed" not in out.seen  # the orphaned child saves, then ends without a word: nobody is listening
    assert saved != spent
    assert auth_server.refresh_requests() == 1
    assert refresh_works(auth_server, tmp_path, config)


def test_a_second_ctrl_c_abandons_the_save_at_once(auth_server: AuthServer, tmp_path: Path) -> None:
    config = signed_in_config(auth_server, tmp_path)
    forget_environment(tmp_path)  # as cli_through_relay does, so that "before" is what the refresh starts from
    before = (config / "credentials").read_bytes()
    with cli_through_relay(auth_server, tmp_path, "auth", "refresh") as (process, _out, err, relay):
        assert relay.held.wait(30)
        process.send_signal(signal.SIGINT)
        err.wait_for(SAVING)
        process.send_signal(signal.SIGINT)
        code = wait_exit(process, 10)  # the answer is still held: only the second Ctrl-C can end it
        relay.release()
    assert code == 130
    err.wait_for("Aborted.")
    assert (config / "credentials").read_bytes() == before  # abandoned, as the first Ctrl-C warned


def test_ctrl_c_during_the_code_exchange_saves_the_sign_in(auth_server: AuthServer, tmp_path: Path) -> None:
    config = tmp_path / "config"
    with cli_through_relay(auth_server, tmp_path, "auth", "login") as (process, out, err, relay):
        assert relay.held.wait(30), (tmp_path / "standin.log").read_text(errors="replace")
        process.send_signal(signal.SIGINT)
        err.wait_for(SAVING)
        relay.release()
        assert wait_exit(process) == 130
        err.wait_for("Aborted.")
    assert "Signed in" not in out.seen
    assert credentials(config)["oauth"]["access_token"]
    auth_server.reset()
    assert refresh_works(auth_server, tmp_path, config)


def test_ctrl_c_as_the_device_grant_succeeds_saves_the_sign_in(auth_server: AuthServer, tmp_path: Path) -> None:
    config = tmp_path / "config"
    with cli_through_relay(auth_server, tmp_path, "auth", "login", "--device") as (process, out, err, relay):
        complete = out.wait_for(r"\(or open (\S+)\)").group(1)
        with ScriptedUser() as user:
            user.approve_device(complete)
        assert relay.held.wait(40), "the approved poll never came"
        process.send_signal(signal.SIGINT)
        err.wait_for(SAVING)
        relay.release()
        assert wait_exit(process) == 130
    assert credentials(config)["oauth"]["access_token"]
    auth_server.reset()
    assert refresh_works(auth_server, tmp_path, config)


# ---------------------------------------------------------------------------------------------- sign-out


LOCK_HOLDER = """
import sys
from hyperframes_auth.adapters.credentials_file import CredentialsFile
with CredentialsFile(sys.argv[1]).lock():
    print("LOCKED", flush=True)
    sys.stdin.readline()
"""


@contextlib.contextmanager
def lock_held(path: Path) -> Iterator[subprocess.Popen[str]]:
    holder = subprocess.Popen(
        [sys.executable, "-c", LOCK_HOLDER, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "LOCKED"
        yield holder
    finally:
        if holder.poll() is None:
            assert holder.stdin is not None
            holder.stdin.close()
            holder.wait(10)


def opened(pid: int, path: Path) -> bool:
    """``pid`` has ``path`` open (it is waiting on that lock file)."""
    with contextlib.suppress(OSError):
        fds = Path(f"/proc/{pid}/fd")
        return any(os.readlink(fd) == str(path) for fd in fds.iterdir())
    return False


def test_logout_revokes_nothing_while_another_process_holds_the_lock(auth_server: AuthServer, tmp_path: Path) -> None:
    config = signed_in_config(auth_server, tmp_path)
    stored = credentials(config)["oauth"]
    auth_server.reset()
    env = cli_env(auth_server, tmp_path)
    with lock_held(config / "credentials") as holder:
        # The facade with a short lock wait: STORE_LOCKED, and nothing revoked.
        store = CredentialsFile(str(config / "credentials"), lock_timeout=0.3)
        with pytest.raises(StoreLocked):
            facade(Settings.from_env(env), env=env, store=store).logout()
        # The CLI waits on the lock; until it gets it, nothing is revoked.
        with spawn(env, "auth", "logout", "--yes") as (process, out, _err):
            if not Path("/proc/self/fd").is_dir():
                pytest.skip("no /proc to see the waiting process")
            deadline = time.monotonic() + 30
            while not opened(process.pid, config / "credentials.lock"):  # a readiness check: it waits on the lock
                assert process.poll() is None
                assert time.monotonic() < deadline, "logout never reached the lock"
                time.sleep(0.005)
            assert auth_server.stats()["revocations"] == 0
            assert process.poll() is None
            assert holder.stdin is not None
            holder.stdin.close()
            assert wait_exit(process) == 0
            out.wait_for("Signed out.")
    assert auth_server.stats()["revocations"] == 2
    gone = auth_server.http.get("/v3/users/me", headers={"authorization": f"Bearer {stored['access_token']}"})
    assert gone.status_code == 401


def test_a_failed_local_removal_says_the_tokens_are_already_revoked(auth_server: AuthServer, tmp_path: Path) -> None:
    if shutil.which("chattr") is None:
        pytest.skip("chattr is not installed")
    config = signed_in_config(auth_server, tmp_path)
    made = run("chattr", "+i", str(config / "credentials"))  # immutable: even root cannot remove it
    if made.returncode:
        pytest.skip(f"this file system has no immutable flag: {made.stderr.strip()}")
    try:
        auth_server.reset()
        result = hf(cli_env(auth_server, tmp_path), "auth", "logout", "--yes")
    finally:
        run("chattr", "-i", str(config / "credentials"))
    assert result.returncode == 1
    first = result.stderr.splitlines()[0]
    assert first.startswith(f"Credential file is unreadable: unable to remove {config / 'credentials'}")
    assert first.endswith("(the tokens were already revoked at the server)")
    assert auth_server.stats()["revocations"] == 2


# ---------------------------------------------------------------------------------------------- two people


def identity_check(head: bytes, _response: bytes) -> bool:
    return head.startswith(b"GET /v3/users/me")


def test_two_people_signing_in_at_once_never_mix_tokens_and_identity(auth_server: AuthServer, tmp_path: Path) -> None:
    config = tmp_path / "config"
    with relay_to(auth_server.url, identity_check) as relay:
        slow = cli_env(auth_server, tmp_path, STANDIN_LOGIN="alice", HEYGEN_API_URL=relay.url)
        with spawn(slow, "auth", "login") as (alice, alice_out, _err):
            assert relay.held.wait(30), "alice's identity check never came"
            # Alice's tokens are saved; her /v3/users/me answer is held. Bob signs in, start to end.
            bob = hf(cli_env(auth_server, tmp_path, STANDIN_LOGIN="bob"), "auth", "login")
            assert bob.returncode == 0, bob.stderr
            assert "Signed in as bob@example.test" in bob.stdout
            relay.release()
            assert wait_exit(alice) == 0
            alice_out.wait_for("Signed in as alice@example.test")
    # Alice signed in through the relay (another API origin: another environment), bob directly: two accounts, and
    # each one's cached identity is the person its own tokens belong to.
    accounts = stored_accounts(config / "credentials")
    assert set(accounts) == {"alice@example.test", "bob@example.test"}
    for identity, account in accounts.items():
        oauth = account["oauth"]
        assert isinstance(oauth, dict)
        assert person_behind(auth_server, str(oauth["access_token"])) == identity
    stored = credentials(config)
    top_owner = person_behind(auth_server, stored["oauth"]["access_token"])
    assert stored["user"]["email"] == top_owner == stored["hyperframes_auth"]["top"]["identity"]


# ---------------------------------------------------------------------------------------------- Ctrl-C everywhere


def test_ctrl_c_while_device_polling(auth_server: AuthServer, tmp_path: Path) -> None:
    with spawn(cli_env(auth_server, tmp_path), "auth", "login", "--device") as (process, out, err):
        out.wait_for("Waiting for approval")
        process.send_signal(signal.SIGINT)
        assert wait_exit(process, 10) == 130
        err.wait_for("Aborted.")
    assert "Traceback" not in err.seen


def test_ctrl_c_while_status_waits_for_the_api(auth_server: AuthServer, tmp_path: Path) -> None:
    env = cli_env(auth_server, tmp_path)
    assert hf(env, "auth", "login", "--api-key", stdin=f"{API_KEY}\n").returncode == 0
    forget_environment(tmp_path)  # the key is used through the relay from now on (labelled with it on first use)
    with relay_to(auth_server.url, identity_check) as relay:
        with spawn({**env, "HEYGEN_API_URL": relay.url}, "auth", "status") as (process, out, err):
            assert relay.held.wait(30)
            process.send_signal(signal.SIGINT)
            assert wait_exit(process, 10) == 130
            err.wait_for("Aborted.")
        relay.release()
    assert out.seen == ""
    assert "Traceback" not in err.seen


def test_ctrl_c_while_token_refreshes_saves_then_aborts(auth_server: AuthServer, tmp_path: Path) -> None:
    from .people import expire_stored_token

    config = signed_in_config(auth_server, tmp_path)
    expire_stored_token(tmp_path)
    with cli_through_relay(auth_server, tmp_path, "auth", "token") as (process, out, err, relay):
        assert relay.held.wait(30)
        process.send_signal(signal.SIGINT)
        err.wait_for(SAVING)
        relay.release()
        assert wait_exit(process) == 130
        err.wait_for("Aborted.")
    assert out.seen == ""
    auth_server.reset()
    assert refresh_works(auth_server, tmp_path, config)


def test_ctrl_c_at_the_api_key_prompt(auth_server: AuthServer, tmp_path: Path) -> None:
    with on_a_terminal(cli_env(auth_server, tmp_path), "auth", "login", "--api-key") as child:
        child.expect("Enter HeyGen API key: ")
        child.sendintr()
        child.expect("Aborted.")
        assert finish(child) == 130
    assert not (tmp_path / "config" / "credentials").exists()


def test_ctrl_c_at_the_logout_confirmation(auth_server: AuthServer, tmp_path: Path) -> None:
    env = cli_env(auth_server, tmp_path)
    assert hf(env, "auth", "login", "--api-key", stdin=f"{API_KEY}\n").returncode == 0
    with on_a_terminal(env, "auth", "logout") as child:
        child.expect(r"Continue\? \[y/N\] ")
        child.sendintr()
        assert finish(child) == 130, transcript(child)
    assert transcript(child).strip().endswith("Aborted.")
    assert (tmp_path / "config" / "credentials").exists()
