"""The installed ``hyperframes`` command, end to end, in subprocesses, against the real authorization server."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import pytest

from .conftest import API_KEY, PYTHON, STANDIN, AuthServer
from .scripted_user import ScriptedUser, callback_for

if TYPE_CHECKING:
    import pexpect

pytestmark = pytest.mark.contract
HYPERFRAMES = str(Path(sys.executable).with_name("hyperframes"))


def cli_env(server: AuthServer, tmp_path: Path, **extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("HEYGEN_", "HYPERFRAMES_", "SSH_")) and k != "CI"}
    base.pop("BROWSER", None)
    base.pop("HF_NO_BROWSER", None)
    return {
        **base,
        **server.env(tmp_path / "config"),
        "BROWSER": f"{PYTHON} {STANDIN} %s",
        "STANDIN_LOG": str(tmp_path / "standin.log"),
        "NO_COLOR": "1",
        **extra,
    }


def hf(
    env: dict[str, str], *args: str, stdin: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [HYPERFRAMES, *args],
        env=env,
        input=stdin,
        stdin=subprocess.DEVNULL if stdin is None else None,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@contextlib.contextmanager
def on_a_terminal(
    env: dict[str, str], *args: str, timeout: float = 30, command: str = HYPERFRAMES
) -> Iterator[pexpect.spawn]:
    """``hyperframes <args>`` (or another ``command``) with stdin, stdout and stderr on one pseudo-terminal, closed
    (killed if it still runs) when the block ends; everything it wrote is kept for :func:`transcript`."""
    import pexpect

    child = pexpect.spawn(command, list(args), env=env, encoding="utf-8", timeout=timeout, dimensions=(24, 200))
    child.logfile_read = io.StringIO()
    try:
        yield child
    finally:
        child.close(force=True)


def finish(child: pexpect.spawn) -> int:
    """Wait for the end of a command on a terminal; its exit code."""
    import pexpect

    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus is not None, f"ended by signal {child.signalstatus}"
    return int(child.exitstatus)


def transcript(child: pexpect.spawn) -> str:
    return str(child.logfile_read.getvalue())


def test_login_status_token_refresh_logout(auth_server: AuthServer, tmp_path: Path) -> None:
    env = cli_env(auth_server, tmp_path)
    login = hf(env, "auth", "login")
    assert login.returncode == 0, login.stderr + (tmp_path / "standin.log").read_text(errors="replace")
    assert f"Opening browser to {auth_server.url}/oauth/authorize ..." in login.stdout
    assert re.search(r"Waiting for callback on http://127\.0\.0\.1:\d+/oauth/callback \.\.\.", login.stdout)
    assert "✓ Signed in as alice@example.test." in login.stdout
    assert "code=" not in login.stdout + login.stderr  # the full URL (state, challenge) is never printed here

    status = hf(env, "auth", "status", "--json")
    assert status.returncode == 0, status.stderr
    report = json.loads(status.stdout)
    assert report["configured"] is True
    assert report["type"] == "oauth"
    assert report["source"] == "file_json"
    assert report["user"]["email"] == "alice@example.test"
    assert report["api_error"] is None
    assert report["storage"] == {"backend": "file", "path": str(tmp_path / "config" / "credentials")}
    assert list(report)[:5] == ["configured", "source", "type", "user", "api_error"]

    human = hf(env, "auth", "status")
    assert "Type:   oauth" in human.stdout
    assert "Account: alice@example.test" in human.stdout

    token = hf(env, "auth", "token")
    assert token.returncode == 0
    stored = json.loads((tmp_path / "config" / "credentials").read_text())
    assert token.stdout == stored["oauth"]["access_token"] + "\n"
    assert token.stderr == ""
    in_ci = hf({**env, "CI": "true"}, "auth", "token", "--json")
    assert json.loads(in_ci.stdout)["token"] == stored["oauth"]["access_token"]
    assert "make sure your logs mask it" in in_ci.stderr

    refreshed = hf(env, "auth", "refresh")
    assert refreshed.returncode == 0
    assert refreshed.stdout.strip() == "✓ Refreshed OAuth access token."
    rotated = json.loads((tmp_path / "config" / "credentials").read_text())["oauth"]
    assert rotated["refresh_token"] != stored["oauth"]["refresh_token"]

    out = hf(env, "auth", "logout", "--yes")
    assert out.returncode == 0
    assert out.stdout.strip() == f"✓ Signed out. Removed {tmp_path / 'config' / 'credentials'}."
    assert not (tmp_path / "config" / "credentials").exists()
    gone = auth_server.http.get("/v3/users/me", headers={"authorization": f"Bearer {rotated['access_token']}"})
    assert gone.status_code == 401

    after = hf(env, "auth", "token")
    assert after.returncode == 1
    assert after.stdout == ""
    assert "hyperframes auth login" in after.stderr


def test_denied_login_fails_cleanly(auth_server: AuthServer, tmp_path: Path) -> None:
    result = hf(cli_env(auth_server, tmp_path, STANDIN_MODE="deny"), "auth", "login")
    assert result.returncode == 1
    assert result.stderr.startswith("Sign-in failed: The authorization server returned access_denied")
    assert "Traceback" not in result.stderr


def test_forged_callback_only_warns(auth_server: AuthServer, tmp_path: Path) -> None:
    result = hf(cli_env(auth_server, tmp_path, STANDIN_MODE="forged-first"), "auth", "login")
    assert result.returncode == 0, result.stderr
    assert "Warning: ignored a callback whose state does not match this sign-in." in result.stderr


class Lines:
    """Collects a child's output lines on a thread, so a test can wait for one without blocking on a pipe."""

    def __init__(self, stream: TextIO) -> None:
        self.seen = ""
        self._changed = threading.Condition()
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream: TextIO) -> None:
        for line in stream:
            with self._changed:
                self.seen += line
                self._changed.notify_all()

    def wait_for(self, pattern: str, timeout: float = 30) -> re.Match[str]:
        with self._changed:
            if not self._changed.wait_for(lambda: re.search(pattern, self.seen) is not None, timeout):
                raise AssertionError(f"did not see {pattern!r} in:\n{self.seen}")
            match = re.search(pattern, self.seen)
            assert match is not None
            return match


# A CI runner may start us with SIGINT ignored (a background job of a shell), and an ignored signal stays
# ignored across exec; a person's terminal delivers Ctrl-C to a command with the default disposition.
WITH_DEFAULT_SIGINT = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execv(sys.argv[1], sys.argv[1:])"
)


def descendants(pid: int) -> list[int]:
    """The processes below ``pid`` (Linux's /proc/<pid>/task/*/children): a command's split-off child, say."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError, ValueError):
            for child in (task / "children").read_text().split():
                found += [int(child), *descendants(int(child))]
    return found


def kill_with_descendants(pid: int) -> None:
    """SIGKILL a command and what it started: a test that gives up on a command must not leave its child holding
    the test's pipes and files (the child of a split save outlives a kill of its parent, by design)."""
    for target in [*descendants(pid), pid]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(target, signal.SIGKILL)


@contextlib.contextmanager
def spawn(env: dict[str, str], *args: str) -> Iterator[tuple[subprocess.Popen[str], Lines, Lines]]:
    process = subprocess.Popen(
        [sys.executable, "-c", WITH_DEFAULT_SIGINT, HYPERFRAMES, *args],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stderr is not None
    try:
        yield process, Lines(process.stdout), Lines(process.stderr)
    finally:
        if process.poll() is None:
            kill_with_descendants(process.pid)
        process.wait(10)
        for stream in (process.stdin, process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def test_remote_terminal_accepts_the_pasted_redirect_url(auth_server: AuthServer, tmp_path: Path) -> None:
    env = cli_env(auth_server, tmp_path, SSH_CONNECTION="10.0.0.1 5000 10.0.0.2 22")
    with spawn(env, "auth", "login") as (process, out, err):
        url = err.wait_for(r"(http://127\.0\.0\.1:\d+/oauth/authorize\?\S+)").group(1)
        err.wait_for(r"paste it here")
        callback = callback_for(url)  # the browser "cannot reach" the remote listener: keep the URL
        assert process.stdin is not None
        for line in ("just-a-bare-code", callback.replace("state=", "state=wrong"), callback):
            process.stdin.write(line + "\n")
            process.stdin.flush()
        assert process.wait(30) == 0, err.seen
        out.wait_for(r"Signed in as alice@example.test")
    assert "Paste the whole address" in err.seen
    assert "ignored a callback whose state does not match" in err.seen
    assert "--device" in err.seen


def test_device_login_through_the_cli(auth_server: AuthServer, tmp_path: Path) -> None:
    env = cli_env(auth_server, tmp_path)
    with spawn(env, "auth", "login", "--device") as (process, out, err):
        complete = out.wait_for(r"\(or open (\S+)\)").group(1)
        with ScriptedUser() as user:
            user.approve_device(complete)
        assert process.wait(40) == 0, err.seen
        out.wait_for(r"✓ Signed in as alice@example.test\.")
    assert "left)" not in err.seen  # off a terminal: plain lines, no live countdown
    assert "\r" not in out.seen + err.seen
    assert json.loads((tmp_path / "config" / "credentials").read_text())["oauth"]["access_token"]


def test_api_key_from_stdin_and_rejection_rollback(auth_server: AuthServer, tmp_path: Path) -> None:
    env = cli_env(auth_server, tmp_path)
    ok = hf(env, "auth", "login", "--api-key", stdin=f"{API_KEY}\n")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == "✓ API key saved. Authenticated as api-key-user@example.test."
    bad = hf(env, "auth", "login", "--api-key", stdin="hg_this_key_is_wrong\n")
    assert bad.returncode == 1
    assert bad.stderr.splitlines()[0] == "HeyGen rejected the API key."
    assert "Rolled back to the previous credential." in bad.stderr
    assert json.loads((tmp_path / "config" / "credentials").read_text())["api_key"] == API_KEY
    inline = hf(env, "auth", "login", f"--api-key={API_KEY}")
    assert inline.returncode == 0
    assert "visible to other users" in inline.stderr
    status = hf(env, "auth", "status")
    assert status.returncode == 0
    assert "Type:   api_key" in status.stdout
    assert "Account: api-key-user@example.test" in status.stdout


def test_status_and_token_without_credentials(auth_server: AuthServer, tmp_path: Path) -> None:
    env = cli_env(auth_server, tmp_path)
    status = hf(env, "auth", "status", "--json")
    assert status.returncode == 1
    assert json.loads(status.stdout)["configured"] is False
    human = hf(env, "auth", "status")
    assert human.stdout.startswith("Not signed in to HeyGen.")


def test_env_key_is_reported_and_logout_mentions_it(auth_server: AuthServer, tmp_path: Path) -> None:
    env = cli_env(auth_server, tmp_path, HEYGEN_API_KEY=API_KEY)
    status = hf(env, "auth", "status")
    assert "Source: env (HEYGEN_API_KEY)" in status.stdout
    out = hf(env, "auth", "logout", "--yes")
    assert "An env-var credential is active." in out.stdout


def test_logout_without_a_tty_and_without_yes_aborts(auth_server: AuthServer, tmp_path: Path) -> None:
    env = cli_env(auth_server, tmp_path)
    hf(env, "auth", "login", "--api-key", stdin=f"{API_KEY}\n")
    out = hf(env, "auth", "logout")
    assert out.returncode == 1
    assert out.stdout.strip().endswith("Aborted.")
    assert (tmp_path / "config" / "credentials").exists()


def test_verbose_trace_shows_requests_but_never_a_secret(auth_server: AuthServer, tmp_path: Path) -> None:
    env = cli_env(auth_server, tmp_path)
    login = hf(env, "auth", "login", "--verbose")
    assert login.returncode == 0, login.stderr
    stored = json.loads((tmp_path / "config" / "credentials").read_text())["oauth"]
    status = hf({**env, "HYPERFRAMES_VERBOSE": "1"}, "auth", "status")
    refresh = hf(env, "auth", "refresh", "-v")
    rotated = json.loads((tmp_path / "config" / "credentials").read_text())["oauth"]
    trace = login.stderr + status.stderr + refresh.stderr
    assert re.search(rf"\[http\] POST {re.escape(auth_server.url)}/v1/oauth/token -> 200 \(\d+ ms\)", trace)
    assert re.search(rf"\[http\] GET {re.escape(auth_server.url)}/v3/users/me -> 200", trace)
    for secret in (stored["access_token"], stored["refresh_token"], rotated["access_token"], rotated["refresh_token"]):
        assert secret not in trace
        assert secret not in login.stdout + status.stdout + refresh.stdout
    assert "code=" not in trace
    assert "code_verifier" not in trace


def test_a_dotenv_file_in_the_working_directory_is_ignored(auth_server: AuthServer, tmp_path: Path) -> None:
    env = cli_env(auth_server, tmp_path)
    hf(env, "auth", "login", "--api-key", stdin=f"{API_KEY}\n")
    workdir = tmp_path / "cloned-repo"
    workdir.mkdir()
    (workdir / ".env").write_text("HEYGEN_API_URL=http://127.0.0.1:9\nHEYGEN_CONFIG_DIR=/tmp/elsewhere\n")
    result = subprocess.run(
        [HYPERFRAMES, "auth", "status", "--json"],
        env=env,
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["user"]["email"] == "api-key-user@example.test"


def test_python_dash_m_runs_the_same_cli(auth_server: AuthServer, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "hyperframes_auth", "auth", "status", "--json"],
        env=cli_env(auth_server, tmp_path),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 1
    assert json.loads(result.stdout)["configured"] is False


def test_the_encrypted_store_end_to_end(auth_server: AuthServer, tmp_path: Path) -> None:
    env = cli_env(
        auth_server,
        tmp_path,
        HYPERFRAMES_CREDENTIALS_STORE="encrypted",
        HYPERFRAMES_CREDENTIALS_PASSPHRASE="demo passphrase",
    )
    login = hf(env, "auth", "login")
    assert login.returncode == 0, login.stderr
    encrypted = tmp_path / "config" / "credentials.enc"
    assert encrypted.exists()
    assert not (tmp_path / "config" / "credentials").exists()
    assert b"access_token" not in encrypted.read_bytes()
    status = hf(env, "auth", "status")
    assert f"Storage: encrypted ({encrypted})" in status.stdout
    wrong = hf({**env, "HYPERFRAMES_CREDENTIALS_PASSPHRASE": "wrong"}, "auth", "token")
    assert wrong.returncode == 1
    assert wrong.stderr.splitlines()[0] == "The passphrase does not open the encrypted credentials file"
    missing = hf({k: v for k, v in env.items() if k != "HYPERFRAMES_CREDENTIALS_PASSPHRASE"}, "auth", "token")
    assert missing.returncode == 2
    assert "No passphrase for the encrypted credentials store" in missing.stderr
    assert hf(env, "auth", "logout", "--yes").returncode == 0
    assert not encrypted.exists()


def test_hidden_prompt_and_confirmation_on_a_real_terminal(auth_server: AuthServer, tmp_path: Path) -> None:
    env = cli_env(auth_server, tmp_path)
    with on_a_terminal(env, "auth", "login", "--api-key") as child:
        child.expect("Enter HeyGen API key: ")
        child.sendline(API_KEY)
        child.expect("API key saved. Authenticated as api-key-user@example.test.")
        assert finish(child) == 0
    assert API_KEY not in transcript(child)  # the prompt did not echo the key
    with on_a_terminal(env, "auth", "logout") as child:
        child.expect(r"Continue\? \[y/N\] ")
        child.sendline("yes")
        child.expect("Signed out.")
        assert finish(child) == 0
    assert not (tmp_path / "config" / "credentials").exists()


def test_ctrl_c_during_login_closes_the_port_and_says_aborted(auth_server: AuthServer, tmp_path: Path) -> None:
    import signal
    import socket

    env = cli_env(auth_server, tmp_path, STANDIN_MODE="ignore")
    with spawn(env, "auth", "login") as (process, out, err):
        port = int(out.wait_for(r"Waiting for callback on http://127\.0\.0\.1:(\d+)/oauth/callback").group(1))
        socket.create_connection(("127.0.0.1", port), timeout=2).close()  # listening
        process.send_signal(signal.SIGINT)
        try:
            code = process.wait(10)
        except subprocess.TimeoutExpired:
            code = None
        assert code == 130, f"out={out.seen!r} err={err.seen!r}"  # 128 + SIGINT, as every Unix tool
        err.wait_for("Aborted.")
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2)
    assert "Traceback" not in err.seen
