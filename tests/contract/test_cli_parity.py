"""What users of HeyGen's released TypeScript CLI rely on, and the conventions of a good command line, proven
through the installed ``hyperframes`` command (subprocesses, pseudo-terminals) and the public API against the local
authorization server. Where the released CLI is installed (``scripts/setup-reference``), the ``--json`` shapes and
exit codes are compared with its own on the same file.

Every wait is bounded: pexpect waits at most ``EXPECT_SECONDS``, subprocesses at most their ``timeout``. A live line
is seen redrawn by waiting for its next drawing (it is redrawn every second), never by sleeping.
"""

from __future__ import annotations

import concurrent.futures
import json
import logging
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from hyperframes_auth import HeyGenAuth, __version__
from hyperframes_auth.domain.errors import InteractionRequired
from hyperframes_auth.entrypoints.cli import app
from hyperframes_auth.entrypoints.settings import Settings
from tests.fakes import facade

from .conftest import API_KEY, AuthServer
from .people import Person, expire_stored_token, sign_in
from .reference_cli import reference_missing, run_reference
from .scripted_user import callback_for, sign_in_at
from .test_cli_e2e import HYPERFRAMES, cli_env, finish, hf, on_a_terminal, spawn, transcript

pytestmark = pytest.mark.contract

EXPECT_SECONDS = 15
SSH = "10.0.0.1 5000 10.0.0.2 22"
WITH_HYPERFRAMES_ON_PATH = f"{Path(HYPERFRAMES).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}"
EXPIRED_LOGIN = {"oauth": {"access_token": "at_parity_expired_0001", "expires_at": "2020-01-01T00:00:00Z"}}
LOGIN_EXPIRED_TEXT = "Your HeyGen login expired\nRun `hyperframes auth login` to sign in again.\n"
COUNTDOWN = r"\(\d+:\d\d left\)"
CLEAR_LINE = "\r\x1b[2K"
RED_FAILURE = "\x1b[31mNo HeyGen credentials found\x1b[0m"


# ---------------------------------------------------------------------------------------------- helpers


@pytest.fixture
def server(auth_server: AuthServer) -> Iterator[AuthServer]:
    """The session's server; canned answers a test queued and did not use are dropped after it."""
    yield auth_server
    auth_server.reset()


def write_credentials(config: Path, document: dict[str, object]) -> Path:
    config.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = config / "credentials"
    path.write_text(json.dumps(document))
    path.chmod(0o600)
    return path


def opened_url(tmp_path: Path) -> str:
    """The address the browser stand-in was asked to open (it logs it before the CLI hears back)."""
    opened = re.search(r"^opened (\S+)$", (tmp_path / "standin.log").read_text(), flags=re.MULTILINE)
    assert opened is not None
    return opened.group(1)


def scope_asked(url: str) -> str:
    return parse_qs(urlsplit(url).query)["scope"][0]


def userinfo(server: AuthServer, **fields: str) -> None:
    """Make the next ``/v3/users/me`` answer describe a person by these fields only."""
    body = json.dumps({"code": 100, "message": "Success", "data": fields})
    server.script("/v3/users/me", {"status": 200, "headers": {"content-type": "application/json"}, "body": body})


def run_with_ptys(env: dict[str, str], *args: str, out_tty: bool, err_tty: bool) -> tuple[int, str, str]:
    """Run with stdout and/or stderr on a pseudo-terminal of its own (the other a pipe). For short outputs: a
    pseudo-terminal holds a few KiB until it is read, after the command ends."""
    masters: dict[str, int] = {}
    slaves: dict[str, int] = {}
    for name, wanted in (("out", out_tty), ("err", err_tty)):
        if wanted:
            masters[name], slaves[name] = os.openpty()
    done = subprocess.run(
        [HYPERFRAMES, *args],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=slaves.get("out", subprocess.PIPE),
        stderr=slaves.get("err", subprocess.PIPE),
        timeout=30,
        check=False,
    )
    texts = {"out": (done.stdout or b"").decode(), "err": (done.stderr or b"").decode()}
    for name, slave in slaves.items():
        os.close(slave)
        texts[name] = _drain(masters[name])
    return done.returncode, texts["out"], texts["err"]


def _drain(master: int) -> str:
    data = b""
    try:
        while chunk := os.read(master, 65536):
            data += chunk
    except OSError:  # EIO: every writer is gone
        pass
    os.close(master)
    return data.decode()


def colour_env(server: AuthServer, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = cli_env(server, tmp_path, **{"TERM": "xterm", **extra})
    if "NO_COLOR" not in extra:
        del env["NO_COLOR"]
    return env


# ---------------------------------------------------------------------------------------------- CI and terminals


@pytest.mark.parametrize("ci", ["true", "1", "yes"])
def test_in_ci_browser_and_device_sign_in_fail_at_once(server: AuthServer, tmp_path: Path, ci: str) -> None:
    env = cli_env(server, tmp_path, CI=ci)
    for how in ([], ["--device"]):
        done = hf(env, "auth", "login", *how, timeout=15)  # nothing waits: a listener or a poll would time out here
        assert done.returncode == 1, (how, done.stderr)
        assert done.stderr.startswith("Sign-in failed: CI is set"), done.stderr
        assert "HEYGEN_API_KEY" in done.stderr
        assert "HEYGEN_ACCESS_TOKEN" in done.stderr
        assert done.stdout == ""
    assert not (tmp_path / "standin.log").exists()  # no browser was opened
    assert not (tmp_path / "config").exists()


def test_the_library_refuses_an_interactive_sign_in_in_ci(server: AuthServer, tmp_path: Path) -> None:
    env = server.env(tmp_path / "config", CI="true")
    person = Person()
    with facade(Settings.from_env(env, str(tmp_path)), env=env, interactive=True, browser=person) as auth:
        for login in (auth.login_browser, auth.login_device):
            with pytest.raises(InteractionRequired) as refused:
                login()
            assert "CI is set" in refused.value.message
            assert "HEYGEN_ACCESS_TOKEN" in (refused.value.hint or "")
    assert person.opened == []


def test_an_unopenable_browser_falls_back_to_the_pasted_url(server: AuthServer, tmp_path: Path) -> None:
    env = cli_env(server, tmp_path, BROWSER="false")  # a browser command that fails; no SSH variable
    with spawn(env, "auth", "login") as (process, out, err):
        url = err.wait_for(r"Could not open a browser\. Open this URL in a browser to continue:\n  (\S+)").group(1)
        err.wait_for(r"paste it here")
        err.wait_for(r"hyperframes auth login --device")
        assert process.stdin is not None
        process.stdin.write(callback_for(url) + "\n")
        process.stdin.flush()
        assert process.wait(30) == 0, err.seen
        out.wait_for(r"✓ Signed in as alice@example\.test\.")


# ---------------------------------------------------------------------------------------------- an expired login


def test_an_expired_login_without_refresh_token_is_login_expired(server: AuthServer, tmp_path: Path) -> None:
    write_credentials(tmp_path / "config", EXPIRED_LOGIN)
    env = cli_env(server, tmp_path)
    documents = {}
    for command in ("status", "token"):
        human = hf(env, "auth", command)
        assert (human.returncode, human.stdout, human.stderr) == (1, "", LOGIN_EXPIRED_TEXT)
        as_json = hf(env, "auth", command, "--json")
        assert as_json.returncode == 1
        documents[command] = document = json.loads(as_json.stdout)
        assert (document["code"], document["message"]) == ("LOGIN_EXPIRED", "Your HeyGen login expired")
        assert "sign in again" in document["hint"]
    # The released CLI's shape, which scripts read, with our code, message and hint.
    assert (documents["status"]["configured"], documents["status"]["error"]) == (False, "Your HeyGen login expired")
    if reference_missing() is None:
        theirs = tmp_path / "theirs"
        write_credentials(theirs, EXPIRED_LOGIN)
        code, out, _ = run_reference(["auth", "status", "--json"], server.env(theirs), theirs)
        released = json.loads(out)
        assert code == 1
        assert {k: documents["status"][k] for k in released} == released  # configured, error, hint


def test_json_failures_are_an_error_object_with_the_exit_code(server: AuthServer, tmp_path: Path) -> None:
    env = cli_env(server, tmp_path, HEYGEN_CONFIG_DIR="relative/dir")
    for command in ("status", "token"):
        done = hf(env, "auth", command, "--json")
        assert done.returncode == 2, done.stderr
        document = json.loads(done.stdout)
        assert document["code"] == "CONFIG_ERROR"
        assert document["message"] == "HEYGEN_CONFIG_DIR must be an absolute path"
        assert document["hint"]
    not_signed_in = hf(cli_env(server, tmp_path), "auth", "token", "--json")
    assert not_signed_in.returncode == 1
    assert json.loads(not_signed_in.stdout)["code"] == "NOT_CONFIGURED"


# ---------------------------------------------------------------------------------------------- names


def test_a_person_is_named_by_email_else_full_name_else_username(server: AuthServer, tmp_path: Path) -> None:
    env = cli_env(server, tmp_path)
    ada = {"email": "ada@example.test", "first_name": "Ada", "last_name": "Lovelace", "username": "ada"}
    cases = [
        (ada, "ada@example.test"),
        ({k: v for k, v in ada.items() if k != "email"}, "Ada Lovelace"),
        ({"username": "ada_l"}, "ada_l"),
    ]
    for fields, name in cases:
        userinfo(server, **fields)
        done = hf(env, "auth", "login", "--api-key", stdin=f"{API_KEY}\n")
        assert (done.returncode, done.stdout) == (0, f"✓ API key saved. Authenticated as {name}.\n"), done.stderr
    userinfo(server, first_name="Ada", last_name="Lovelace", username="ada")
    browser = hf(env, "auth", "login")
    assert browser.returncode == 0, browser.stderr
    assert "✓ Signed in as Ada Lovelace.\n" in browser.stdout


# ---------------------------------------------------------------------------------------------- the API-key prompt


def test_a_typed_api_key_that_cannot_be_a_key_is_asked_for_again(server: AuthServer, tmp_path: Path) -> None:
    env = cli_env(server, tmp_path)
    with on_a_terminal(env, "auth", "login", "--api-key", timeout=EXPECT_SECONDS) as child:
        child.expect_exact("Enter HeyGen API key: ")
        child.sendline("short")
        child.expect_exact("API key looks too short (got 5 chars).")
        child.expect_exact("Enter HeyGen API key: ")
        child.sendline(API_KEY)
        child.expect_exact("✓ API key saved. Authenticated as api-key-user@example.test.")
        assert finish(child) == 0
    piped = hf(env, "auth", "login", "--api-key", stdin="short\n")
    assert piped.returncode == 1
    assert piped.stderr.splitlines()[0] == "API key looks too short (got 5 chars)."
    assert "Enter HeyGen API key" not in piped.stdout + piped.stderr


# ---------------------------------------------------------------------------------------------- logout


def test_logout_names_only_the_environment_credentials_that_are_set(server: AuthServer, tmp_path: Path) -> None:
    token = "at_from_a_host_app_0001"
    warnings = {
        "An env-var credential is active. Unset HEYGEN_ACCESS_TOKEN to remove it.": {"HEYGEN_ACCESS_TOKEN": token},
        "An env-var credential is active. Unset HYPERFRAMES_API_KEY / HEYGEN_ACCESS_TOKEN to remove it.": {
            "HYPERFRAMES_API_KEY": API_KEY,
            "HEYGEN_ACCESS_TOKEN": token,
        },
        "An env-var credential is active. Unset HEYGEN_API_KEY to remove it.": {"HEYGEN_API_KEY": API_KEY},
    }
    for warning, variables in warnings.items():
        done = hf(cli_env(server, tmp_path, **variables), "auth", "logout", "--yes")
        assert done.returncode == 0
        assert done.stdout.splitlines()[0] == warning
    assert "env-var" not in hf(cli_env(server, tmp_path), "auth", "logout", "--yes").stdout


def test_logout_keep_api_key_without_a_key_removes_the_file_and_its_lock(server: AuthServer, tmp_path: Path) -> None:
    env = cli_env(server, tmp_path)
    assert hf(env, "auth", "login").returncode == 0
    config = tmp_path / "config"
    assert json.loads((config / "credentials").read_text())["user"]["email"] == "alice@example.test"
    done = hf(env, "auth", "logout", "--keep-api-key", "--yes")
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"✓ OAuth session removed. No API key was stored, so {config / 'credentials'} was removed.\n"
    assert list(config.iterdir()) == []  # no `user` block left alone, and no lock file
    for person in ("alice", "bob"):  # two accounts: the file stays for the other one
        assert hf({**env, "STANDIN_LOGIN": person}, "auth", "login").returncode == 0
    bobs = hf(env, "auth", "logout", "--keep-api-key", "--yes", "--user", "bob@example.test")
    assert bobs.stdout == "✓ OAuth session removed (no API key was stored).\n"
    assert (config / "credentials").exists()


def test_logout_with_nothing_stored_says_so(server: AuthServer, tmp_path: Path) -> None:
    done = hf(cli_env(server, tmp_path), "auth", "logout", "--yes")
    assert done.returncode == 0
    assert done.stdout == f"✓ Not signed in: nothing stored at {tmp_path / 'config' / 'credentials'}.\n"


# ---------------------------------------------------------------------------------------------- usage errors


def test_usage_errors_exit_2(server: AuthServer, tmp_path: Path) -> None:
    env = cli_env(server, tmp_path)
    for args in (["auth", "bogus"], ["auth", "status", "--bogus"], ["auth", "token", "--json", "--bogus"]):
        done = hf(env, *args)
        assert (done.returncode, done.stdout) == (2, ""), args
        assert "Traceback" not in done.stderr
    both = hf(env, "auth", "login", "--device", f"--api-key={API_KEY}")
    assert both.returncode == 2
    assert both.stderr.startswith("Choose either --device or --api-key")
    if reference_missing() is None:  # the released CLI exits 1 here; ours keeps 1 for failures, 2 for usage
        theirs = tmp_path / "theirs"
        code, _, err = run_reference(["auth", "status", "--bogus"], server.env(theirs), theirs)
        assert code == 1, err


# ---------------------------------------------------------------------------------------------- status --json

PAT = {"email": "pat@example.test", "first_name": "Pat"}
PATS_PROFILE = {**PAT, "last_name": None, "username": None, "display_name": "pat@example.test"}
STATUS_CASES: dict[str, tuple[dict[str, object] | None, dict[str, str], dict[str, object]]] = {
    "unreadable expiry": (
        {"oauth": {"access_token": "at_parity_0001", "expires_at": "garbage"}, "user": PAT},
        {},
        {"source": "file_json", "expires_at": None, "refreshable": False, "persisted_user": PATS_PROFILE},
    ),
    "offset expiry": (
        {"oauth": {"access_token": "at_parity_0002", "expires_at": "2099-01-01T02:00:00+02:00"}, "user": PAT},
        {},
        {"expires_at": "2099-01-01T00:00:00.000Z", "refreshable": False, "persisted_user": PATS_PROFILE},
    ),
    "environment key": (
        None,
        {"HEYGEN_API_KEY": API_KEY},
        {"source": "env", "type": "api_key", "persisted_user": None},
    ),
    "environment token": (
        None,
        {"HEYGEN_ACCESS_TOKEN": "at_parity_from_a_host_app"},
        {"source": "env_oauth", "persisted_user": None, "expires_at": None, "refreshable": False, "scope": None},
    ),
    "not configured": (
        None,
        {},
        {"configured": False, "interactive": False, "recommended_action": "hyperframes auth login"},
    ),
}


@pytest.mark.parametrize("case", STATUS_CASES)
def test_status_json_fields_and_their_types(server: AuthServer, tmp_path: Path, case: str) -> None:
    stored, extra, expected = STATUS_CASES[case]
    if stored is not None:
        write_credentials(tmp_path / "config", stored)
    done = hf(cli_env(server, tmp_path, **extra), "auth", "status", "--json")
    ours = json.loads(done.stdout)
    assert {key: ours[key] for key in expected} == expected
    assert "garbage" not in done.stdout  # an unreadable expiry is null, never the stored text
    if case == "not configured":
        assert done.returncode == 1
        assert set(ours) == set(expected)
    else:
        assert "persisted_user" in ours
    if reference_missing() is not None:
        return
    theirs = tmp_path / "theirs"
    if stored is not None:
        write_credentials(theirs, stored)
    code, out, err = run_reference(["auth", "status", "--json"], {**server.env(theirs), **extra}, theirs)
    released = json.loads(out)
    assert code == done.returncode, err
    for key in set(released) - {"fallback", "offline_engines"}:  # the released CLI's offer of local engines
        assert type(ours.get(key)) is type(released[key]), (key, ours.get(key), released[key])
        if isinstance(released[key], dict):
            assert set(released[key]) <= set(ours[key]), key
        if key in ("configured", "source", "type", "expires_at", "refreshable", "scope", "persisted_user"):
            assert ours[key] == released[key], key


# ---------------------------------------------------------------------------------------------- headers for programs


def test_headers_are_fresh_and_refresh_after_401_replaces_them(server: AuthServer, tmp_path: Path) -> None:
    env = sign_in(server, tmp_path)
    with HeyGenAuth(Settings.from_env(env, str(tmp_path)), env=env) as auth:
        first = auth.headers()
        assert set(first) == {"authorization", "x-heygen-source", "x-heygen-client-source"}
        assert (first["x-heygen-source"], first["x-heygen-client-source"]) == ("cli", "hyperframes")
        assert server.http.get("/v3/users/me", headers=first).status_code == 200
        expire_stored_token(tmp_path)
        fresh = auth.headers()  # stale: refreshed before they are handed out
        assert fresh["authorization"] != first["authorization"]
        assert server.http.get("/v3/users/me", headers=fresh).status_code == 200
        retried = auth.refresh_after_401(fresh)
        assert retried is not None
        assert retried["authorization"] not in (first["authorization"], fresh["authorization"])
        assert server.http.get("/v3/users/me", headers=retried).status_code == 200
        assert auth.headers() == retried  # the stored tokens are the new ones
        assert auth.refresh_after_401({"Authorization": "Bearer at_of_no_account_here"}) is None
    key_env = {**server.env(tmp_path / "other"), "HEYGEN_API_KEY": API_KEY}
    with HeyGenAuth(Settings.from_env(key_env, str(tmp_path)), env=key_env) as auth:
        headers = auth.headers()
        assert headers == {"x-api-key": API_KEY, "x-heygen-client-source": "hyperframes"}
        assert auth.refresh_after_401(headers) is None  # an API key is never retried


# ---------------------------------------------------------------------------------------------- conventions


def test_version_long_and_short(server: AuthServer, tmp_path: Path) -> None:
    env = cli_env(server, tmp_path)
    for flag in ("--version", "-V"):
        done = hf(env, flag)
        assert (done.returncode, done.stdout, done.stderr) == (0, f"hyperframes-auth {__version__}\n", "")


def command_paths() -> list[list[str]]:
    """Every command and group of the application, as the words that name it (``[]`` is ``hyperframes``)."""
    import typer.main

    paths: list[list[str]] = []

    def walk(command: object, path: list[str]) -> None:
        paths.append(path)
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return paths


def test_every_command_takes_h_and_help(server: AuthServer, tmp_path: Path) -> None:
    env = cli_env(server, tmp_path)
    paths = command_paths()
    assert ["auth", "login"] in paths
    assert ["completion"] in paths
    runs = [(path, flag) for path in paths for flag in ("-h", "--help")]
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda run: hf(env, *run[0], run[1]), runs))
    for (path, flag), done in zip(runs, results, strict=True):
        assert done.returncode == 0, (path, flag, done.stderr)
        assert done.stdout.startswith(f"Usage: {' '.join(['hyperframes', *path])} "), (path, flag, done.stdout)


def test_auth_help_lists_each_command_once(server: AuthServer, tmp_path: Path) -> None:
    done = hf(cli_env(server, tmp_path), "auth", "--help")
    listed = re.findall(r"^  (\w+)  ", done.stdout.split("Commands:", 1)[1], flags=re.MULTILINE)
    assert listed == [path[1] for path in command_paths() if len(path) == 2 and path[0] == "auth"]
    assert len(set(listed)) == len(listed)


def test_a_reader_that_goes_away_ends_the_command_quietly(server: AuthServer, tmp_path: Path) -> None:
    env = cli_env(server, tmp_path, HEYGEN_API_KEY=API_KEY, PATH=WITH_HYPERFRAMES_ON_PATH)
    shell = subprocess.run(
        ["bash", "-o", "pipefail", "-c", "hyperframes auth token | head -c 10"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert (shell.returncode in (0, 141), shell.stdout, shell.stderr) == (True, API_KEY[:10], "")
    # The reader gone before the first write: every command, fast path or full parser, exits 141 and says nothing.
    for args in (["auth", "token"], ["auth", "status", "--json"], ["auth", "logout", "--yes"], ["auth", "--help"]):
        read, write = os.pipe()
        os.close(read)
        with os.fdopen(write, "wb") as gone:
            done = subprocess.run(
                [HYPERFRAMES, *args], env=env, stdout=gone, stderr=subprocess.PIPE, timeout=30, check=False
            )
        assert (done.returncode, done.stderr) == (141, b""), args


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")
def test_a_standard_output_that_cannot_be_written_is_a_clear_error(server: AuthServer, tmp_path: Path) -> None:
    """``> /dev/full`` (or a full disk): the command says its output could not be written, exit 1, no bug report."""
    env = cli_env(server, tmp_path, HEYGEN_API_KEY=API_KEY)
    for args in (["auth", "token"], ["auth", "status", "--json"], ["auth", "--help"], ["--version"]):
        with open("/dev/full", "wb") as full:
            done = subprocess.run(
                [HYPERFRAMES, *args], env=env, stdout=full, stderr=subprocess.PIPE, timeout=30, check=False
            )
        said = done.stderr.decode()
        assert done.returncode == 1, (args, said)
        assert said.startswith("Could not write the output: No space left on device.\n"), (args, said)
        assert "Internal error" not in said
        assert API_KEY not in said


def test_colour_is_decided_for_each_stream(server: AuthServer, tmp_path: Path) -> None:
    env = colour_env(server, tmp_path)
    code, out, err = run_with_ptys(env, "auth", "token", out_tty=False, err_tty=True)  # stdout redirected
    assert (code, out) == (1, "")
    assert err.startswith(RED_FAILURE)
    _, _, err = run_with_ptys(env, "auth", "token", out_tty=True, err_tty=False)
    assert err.startswith("No HeyGen credentials found\n")  # stderr is a pipe: plain, though stdout is a terminal
    _, out, _ = run_with_ptys(env, "auth", "logout", "--yes", out_tty=True, err_tty=False)
    assert out.startswith("\x1b[32m✓\x1b[0m Not signed in")
    _, out, _ = run_with_ptys(env, "auth", "logout", "--yes", out_tty=False, err_tty=True)
    assert out.startswith("✓ Not signed in")
    for off in ({"NO_COLOR": "1"}, {"FORCE_COLOR": "0"}, {"TERM": "dumb"}):
        _, _, err = run_with_ptys(colour_env(server, tmp_path, **off), "auth", "token", out_tty=False, err_tty=True)
        assert err.startswith("No HeyGen credentials found\r\n"), off
    _, _, err = run_with_ptys(colour_env(server, tmp_path, NO_COLOR=""), "auth", "token", out_tty=False, err_tty=True)
    assert err.startswith(RED_FAILURE)  # an empty NO_COLOR is not set (no-color.org)
    forced = hf(colour_env(server, tmp_path, FORCE_COLOR="1"), "auth", "token")
    assert forced.stderr.startswith(RED_FAILURE)


BASH_COMPLETES = (
    'eval "$(hyperframes completion bash)"; COMP_WORDS=(hyperframes auth st); COMP_CWORD=2; '
    '_hyperframes_completion hyperframes; printf "%s\\n" "${COMPREPLY[@]}"'
)


def test_completion_scripts_and_requests(server: AuthServer, tmp_path: Path) -> None:
    env = cli_env(server, tmp_path, PATH=WITH_HYPERFRAMES_ON_PATH)
    scripts = {shell: hf(env, "completion", shell) for shell in ("bash", "zsh", "fish")}
    assert all(done.returncode == 0 for done in scripts.values())
    assert "complete -o default -F _hyperframes_completion hyperframes" in scripts["bash"].stdout
    assert scripts["zsh"].stdout.startswith("#compdef hyperframes")
    assert "complete --command hyperframes" in scripts["fish"].stdout
    request = {"_HYPERFRAMES_COMPLETE": "complete_bash", "COMP_WORDS": "hyperframes auth lo", "COMP_CWORD": "2"}
    assert hf({**env, **request}).stdout.split() == ["login", "logout"]
    in_bash = subprocess.run(
        ["bash", "-c", BASH_COMPLETES], env=env, capture_output=True, text=True, timeout=30, check=False
    )
    assert in_bash.stdout.split() == ["status"], in_bash.stderr
    unknown = hf(env, "completion", "tcsh")
    assert unknown.returncode == 2
    assert "bash, zsh, fish" in unknown.stderr


# ---------------------------------------------------------------------------------------------- live lines


def wait_for_a_redrawn_line(child: object, label: str) -> None:
    """See the live line drawn, cleared in place, and drawn again with less time left."""
    child.expect(rf"{label} \((\d+:\d\d) left\)")  # type: ignore[attr-defined]
    first = child.match.group(1)  # type: ignore[attr-defined]
    child.expect_exact(CLEAR_LINE)  # type: ignore[attr-defined]
    child.expect(rf"{label} \((\d+:\d\d) left\)")  # type: ignore[attr-defined]
    assert child.match.group(1) != first  # type: ignore[attr-defined]


def test_browser_sign_in_on_a_terminal_shows_one_live_line(server: AuthServer, tmp_path: Path) -> None:
    env = cli_env(server, tmp_path, STANDIN_MODE="ignore")  # the browser opens; the test plays the person
    with on_a_terminal(env, "auth", "login", timeout=EXPECT_SECONDS) as child:
        wait_for_a_redrawn_line(child, "Waiting for the browser")
        sign_in_at(opened_url(tmp_path))
        child.expect_exact("✓ Signed in as alice@example.test.")
        assert CLEAR_LINE in child.before  # the live line was cleared before the result
        assert finish(child) == 0
    assert not re.search(COUNTDOWN + r"\r?\n", transcript(child))  # never left behind on a line of its own


def test_a_pasted_address_is_not_drawn_over(server: AuthServer, tmp_path: Path) -> None:
    with on_a_terminal(cli_env(server, tmp_path, SSH_CONNECTION=SSH), "auth", "login", timeout=EXPECT_SECONDS) as child:
        child.expect(r"(http://127\.0\.0\.1:\d+/oauth/authorize\?\S+)")
        url = child.match.group(1)
        child.expect(r"\(This sign-in waits \d+:\d\d for the address\.\)")  # said once: the person types here
        child.sendline(callback_for(url))
        child.expect_exact("✓ Signed in as alice@example.test.")
        assert finish(child) == 0
    assert "left)" not in transcript(child)
    assert CLEAR_LINE not in transcript(child)


def test_device_sign_in_on_a_terminal_offers_the_browser_and_shows_one_live_line(
    server: AuthServer, tmp_path: Path
) -> None:
    env = cli_env(server, tmp_path, STANDIN_MODE="device")  # the stand-in approves the page it is asked to open
    with on_a_terminal(env, "auth", "login", "--device", timeout=EXPECT_SECONDS) as child:
        child.expect_exact("Press Enter to open it in your browser.")
        child.sendline("")
        wait_for_a_redrawn_line(child, "Waiting for approval")  # the first poll is due after 5 s
        child.expect_exact("✓ Signed in as alice@example.test.")
        assert CLEAR_LINE in child.before
        assert finish(child) == 0
    assert not re.search(COUNTDOWN + r"\r?\n", transcript(child))  # the Enter did not push a copy up
    assert opened_url(tmp_path).startswith(f"{server.url}/device")
    remote = {**env, "SSH_CONNECTION": SSH}
    with on_a_terminal(remote, "auth", "login", "--device", timeout=EXPECT_SECONDS) as child:
        child.expect_exact("Waiting for approval ...")
        assert "Press Enter" not in child.before  # the browser would open on the wrong machine
    with on_a_terminal({**env, "BROWSER": "false"}, "auth", "login", "--device", timeout=EXPECT_SECONDS) as child:
        child.expect_exact("Press Enter to open it in your browser.")
        child.sendline("")
        child.expect_exact("Could not open a browser: open the address above yourself.")


LIBRARY_SIGN_IN = """
import threading
from hyperframes_auth import HeyGenAuth
print("Signed in as", HeyGenAuth.from_env(interactive=True).login_browser().user.email, flush=True)
ticking = [t for t in threading.enumerate() if t.name == "hf-countdown"]
for t in ticking:
    t.join(5)
print("ticking" if any(t.is_alive() for t in ticking) else "stopped", flush=True)
"""


def test_the_library_clears_its_live_line_when_the_sign_in_ends(server: AuthServer, tmp_path: Path) -> None:
    env = cli_env(server, tmp_path, STANDIN_MODE="ignore")
    with on_a_terminal(env, "-c", LIBRARY_SIGN_IN, command=sys.executable, timeout=EXPECT_SECONDS) as child:
        child.expect(r"Waiting for the browser " + COUNTDOWN)
        sign_in_at(opened_url(tmp_path))
        child.expect_exact("Signed in as alice@example.test")
        assert CLEAR_LINE in child.before
        child.expect(r"ticking|stopped")
        assert child.after == "stopped"
        assert finish(child) == 0


# ---------------------------------------------------------------------------------------------- scopes and logs


def test_login_asks_for_exactly_the_scopes_given(server: AuthServer, tmp_path: Path) -> None:
    done = hf(cli_env(server, tmp_path), "auth", "login", "--scopes", "openid email")
    assert done.returncode == 0, done.stderr
    assert scope_asked(opened_url(tmp_path)) == "openid email"
    env = server.env(tmp_path / "library")
    person = Person()
    with facade(Settings.from_env(env, str(tmp_path)), env=env, interactive=True, browser=person) as auth:
        auth.login_browser(scopes="openid   profile")
    person.join()
    assert [scope_asked(url) for url in person.opened] == ["openid profile"]


def test_the_library_logs_requests_without_secrets(
    server: AuthServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    env = {**server.env(tmp_path / "config"), "HEYGEN_API_KEY": API_KEY}
    caplog.set_level(logging.DEBUG, logger="hyperframes_auth")
    with HeyGenAuth(Settings.from_env(env, str(tmp_path)), env=env) as auth:
        assert auth.whoami().email == "api-key-user@example.test"
    traces = [r for r in caplog.records if r.name == "hyperframes_auth.http" and r.levelno == logging.DEBUG]
    assert any(re.search(rf"GET {re.escape(server.url)}/v3/users/me -> 200", r.getMessage()) for r in traces)
    assert all(API_KEY not in r.getMessage() for r in caplog.records)


# ---------------------------------------------------------------------------------------------- encrypted store


def encrypted_env(server: AuthServer, tmp_path: Path, **extra: str) -> dict[str, str]:
    """The encrypted store with no keyring at all: a passphrase keeps the key, whatever this machine has."""
    return cli_env(
        server,
        tmp_path,
        HYPERFRAMES_CREDENTIALS_STORE="encrypted",
        PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
        **extra,
    )


def with_passphrase(env: dict[str, str], passphrase: str) -> dict[str, str]:
    return {**env, "HYPERFRAMES_CREDENTIALS_PASSPHRASE": passphrase}


def test_a_new_encrypted_store_asks_twice_and_warns_on_a_short_passphrase(server: AuthServer, tmp_path: Path) -> None:
    env = encrypted_env(server, tmp_path)
    with on_a_terminal(env, "auth", "login", "--api-key", timeout=EXPECT_SECONDS) as child:
        child.expect_exact("Enter HeyGen API key: ")
        child.sendline(API_KEY)
        child.expect_exact("New passphrase for the encrypted credentials: ")
        child.sendline("short one")
        child.expect_exact("Warning: a passphrase shorter than 12 characters")
        child.expect_exact("Repeat the passphrase: ")
        child.sendline("short one")
        child.expect_exact("✓ API key saved.")
        assert finish(child) == 0
    opened = hf(with_passphrase(env, "short one"), "auth", "status")
    assert opened.returncode == 0, opened.stderr
    assert "Key:     passphrase" in opened.stdout


@pytest.mark.parametrize(
    ("backend", "why"),
    [
        ("keyring.backends.null.Keyring", "stores nothing"),
        ("keyring.backends.fail.Keyring", "no OS keyring"),
        ("keyrings.alt.file.PlaintextKeyring", "not an OS secret store"),
    ],
)
def test_off_a_terminal_a_refused_keyring_says_why_and_how_to_use_a_passphrase(
    server: AuthServer, tmp_path: Path, backend: str, why: str
) -> None:
    """With nobody to ask for a passphrase, the refusal of the keyring is the whole story: say why it was refused."""
    env = {**encrypted_env(server, tmp_path), "PYTHON_KEYRING_BACKEND": backend}
    out = hf(env, "auth", "login", "--api-key", stdin=f"{API_KEY}\n")
    assert out.returncode == 1
    message, hint = out.stderr.splitlines()
    assert message.startswith("The keyring cannot keep the key of the encrypted credentials: ")
    assert why in message
    assert hint.startswith("Use a passphrase instead: set HYPERFRAMES_CREDENTIALS_PASSPHRASE")
    assert not (tmp_path / "config" / "credentials.enc").exists()


def test_status_and_logout_name_the_keeper_and_a_plain_file_beside(server: AuthServer, tmp_path: Path) -> None:
    env = with_passphrase(encrypted_env(server, tmp_path), "a passphrase for the test")
    assert hf(env, "auth", "login", "--api-key", stdin=f"{API_KEY}\n").returncode == 0
    config = tmp_path / "config"
    plain = write_credentials(config, {"api_key": "hg_left_in_the_plain_file"})
    status = hf(env, "auth", "status")
    assert status.returncode == 0, status.stderr
    assert re.search(r"^Key:     passphrase \(Argon2id", status.stdout, flags=re.MULTILINE)
    assert f"Note: a plain credentials file is still at {plain}" in status.stderr
    storage = json.loads(hf(env, "auth", "status", "--json").stdout)["storage"]
    assert (storage["backend"], storage["plain_leftover"]) == ("encrypted", str(plain))
    assert storage["keeper"].startswith("passphrase")
    out = hf(env, "auth", "logout", "--yes")
    assert out.returncode == 0
    assert f"Signed out. Removed {config / 'credentials.enc'}." in out.stdout
    assert f"Note: a plain credentials file was also found at {plain}; it was removed too." in out.stderr
    assert not plain.exists()
    assert not (config / "credentials.enc").exists()


def test_status_under_the_encrypted_store_before_its_first_save_names_the_plain_file_it_read(
    server: AuthServer, tmp_path: Path
) -> None:
    env = encrypted_env(server, tmp_path)
    config = tmp_path / "config"
    plain = write_credentials(config, {"api_key": API_KEY})
    status = hf(env, "auth", "status")
    assert status.returncode == 0, status.stderr
    assert f"Source: file ({plain})" in status.stdout
    assert f"Storage: encrypted ({config / 'credentials.enc'})" in status.stdout
    assert not (config / "credentials.enc").exists()


def test_logout_with_only_a_plain_file_under_the_encrypted_store_names_what_it_removed(
    server: AuthServer, tmp_path: Path
) -> None:
    """Opted in to the encrypted store, never written to it: the plain file is all there is to sign out of. The
    report names that file, not an encrypted one that never existed, and does not contradict itself."""
    env = with_passphrase(encrypted_env(server, tmp_path), "a passphrase for the test")
    config = tmp_path / "config"
    plain = write_credentials(config, {"api_key": "hg_left_in_the_plain_file"})
    out = hf(env, "auth", "logout", "--yes")
    assert out.returncode == 0, out.stderr
    assert f"Signed out. Removed {plain}." in out.stdout
    assert "credentials.enc" not in out.stdout + out.stderr
    assert "remains" not in out.stderr
    assert not plain.exists()


def test_rekey_to_a_new_passphrase_on_a_terminal(server: AuthServer, tmp_path: Path) -> None:
    env = encrypted_env(server, tmp_path)
    first, second = "the first passphrase", "the second passphrase"
    assert hf(with_passphrase(env, first), "auth", "login", "--api-key", stdin=f"{API_KEY}\n").returncode == 0
    with on_a_terminal(env, "auth", "rekey", "--to", "passphrase", timeout=EXPECT_SECONDS) as child:
        for prompt, answer in (
            ("Passphrase for the encrypted credentials: ", first),
            ("New passphrase for the encrypted credentials: ", second),
            ("Repeat the passphrase: ", second),
        ):
            child.expect_exact(prompt)
            child.sendline(answer)
        child.expect_exact("✓ The encrypted credentials are now unlocked by: passphrase")
        assert finish(child) == 0
    assert hf(with_passphrase(env, first), "auth", "token").returncode == 1
    assert hf(with_passphrase(env, second), "auth", "token").stdout == f"{API_KEY}\n"


SECRET_SERVICE_MISSING = [tool for tool in ("dbus-run-session", "gnome-keyring-daemon") if not shutil.which(tool)]


@pytest.mark.skipif(bool(SECRET_SERVICE_MISSING), reason=f"no Secret Service here ({SECRET_SERVICE_MISSING} missing)")
def test_rekey_to_a_real_secret_service_and_back(server: AuthServer, tmp_path: Path) -> None:
    """gnome-keyring's Secret Service in a private D-Bus session (as in test_secret_service.py), the installed CLI
    inside it."""
    home = tmp_path / "home"
    home.mkdir()
    env = {
        "PATH": WITH_HYPERFRAMES_ON_PATH,
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_RUNTIME_DIR": str(tmp_path),
        "NO_COLOR": "1",
        "HYPERFRAMES_CREDENTIALS_STORE": "encrypted",
        **server.env(tmp_path / "config"),
    }
    passphrase = 'HYPERFRAMES_CREDENTIALS_PASSPHRASE="the passphrase of the test"'
    steps = [
        f"echo {API_KEY} | {passphrase} hyperframes auth login --api-key",
        f"{passphrase} hyperframes auth rekey --to keyring </dev/null",
        "hyperframes auth status </dev/null",  # no passphrase: the keyring opens it
        f"{passphrase} hyperframes auth rekey --to passphrase </dev/null",
        f"{passphrase} hyperframes auth status </dev/null",
        "hyperframes auth token </dev/null",  # the keyring no longer opens it
    ]
    script = "printf throwaway | gnome-keyring-daemon --unlock --components=secrets >/dev/null && " + " ; ".join(
        f'{step}; echo "[exit $?]"' for step in steps
    )
    # dbus-run-session ends the bus when the script exits, and the daemon leaves with it.
    done = subprocess.run(
        ["dbus-run-session", "--", "sh", "-c", script], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    exits = re.findall(r"\[exit (\d+)\]", done.stdout)
    assert exits == ["0", "0", "0", "0", "0", "2"], done.stdout + done.stderr[-2000:]
    assert "✓ The encrypted credentials are now unlocked by: OS keyring (Secret Service)." in done.stdout
    assert "Key:     OS keyring (Secret Service)" in done.stdout
    assert re.search(r"Key:     passphrase \(Argon2id", done.stdout)
    assert "No passphrase for the encrypted credentials store" in done.stderr
