"""Staying signed in without hammering the server, and credentials only where the person said: the installed CLI.

* Leeway: a server issuing 30-second access tokens, with the default 60 s leeway, does not make every ``auth
  token`` refresh first (the leeway never exceeds half the token's lifetime).
* ``HEYGEN_CONFIG_DIR`` is used literally: only a leading ``~`` (or ``~user``) is expanded, never one inside.
* No usable home (``HOME`` empty or relative, no ``HEYGEN_CONFIG_DIR``) is a clear error (exit 2), and no file is
  written anywhere: credentials must never land in the working directory or in ``/``.
* Every message and hint names the path in use, never the default ``~/.heygen``.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from .conftest import API_KEY, AuthServer
from .people import sign_in
from .test_cli_e2e import HYPERFRAMES, cli_env, hf

pytestmark = pytest.mark.contract


def test_thirty_second_tokens_are_not_refreshed_on_every_use(server_factory: Any, tmp_path: Path) -> None:
    server: AuthServer = server_factory(TTL_ACCESS="30")
    sign_in(server, tmp_path)
    stored = json.loads((tmp_path / "config" / "credentials").read_text())["oauth"]
    server.reset()
    env = cli_env(server, tmp_path)
    printed = [hf(env, "auth", "token") for _ in range(5)]
    assert [p.returncode for p in printed] == [0] * 5
    assert {p.stdout.strip() for p in printed} == {stored["access_token"]}
    assert server.refresh_requests() == 0


def files_under(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def test_a_tilde_inside_the_config_dir_is_taken_literally(auth_server: AuthServer, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    literal = tmp_path / "a~b" / "c~" / "~d"
    env = cli_env(auth_server, tmp_path, HEYGEN_CONFIG_DIR=str(literal), HOME=str(home))
    assert hf(env, "auth", "login", "--api-key", stdin=f"{API_KEY}\n").returncode == 0
    status = hf(env, "auth", "status", "--json")
    assert json.loads(status.stdout)["storage"]["path"] == str(literal / "credentials")
    assert (literal / "credentials").is_file()
    assert files_under(home) == set()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a~b", "home"]


def test_only_a_leading_tilde_is_the_home_directory(auth_server: AuthServer, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = cli_env(auth_server, tmp_path, HEYGEN_CONFIG_DIR="~/cfg~x", HOME=str(home))
    assert hf(env, "auth", "login", "--api-key", stdin=f"{API_KEY}\n").returncode == 0
    assert (home / "cfg~x" / "credentials").is_file()
    assert files_under(home) - {"cfg~x/credentials.lock"} == {"cfg~x", "cfg~x/credentials"}


def run_in(cwd: Path, env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [HYPERFRAMES, *args], env=env, cwd=cwd, input=stdin, capture_output=True, text=True, timeout=60, check=False
    )


def homeless_env(server: AuthServer, tmp_path: Path, home: str) -> dict[str, str]:
    env = cli_env(server, tmp_path, HOME=home)
    env.pop("HEYGEN_CONFIG_DIR")
    return env


@pytest.mark.parametrize("home", ["relative/home", "~", "."])
def test_a_relative_home_is_a_configuration_error_and_nothing_is_written(
    auth_server: AuthServer, tmp_path: Path, home: str
) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    env = homeless_env(auth_server, tmp_path, home)
    for args, stdin in (
        (["auth", "login", "--api-key"], f"{API_KEY}\n"),
        (["auth", "status"], ""),
        (["auth", "token"], ""),
    ):
        result = run_in(cwd, env, *args, stdin=stdin)
        assert result.returncode == 2, (args, result.stderr)
        assert result.stderr.splitlines() == [
            "The home directory is not set to an absolute path, so there is no safe place for credentials",
            "Set HOME to your home directory, or HEYGEN_CONFIG_DIR to an absolute path.",
        ]
    assert files_under(cwd) == set()


def test_an_empty_home_is_a_configuration_error(auth_server: AuthServer, tmp_path: Path) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    env = homeless_env(auth_server, tmp_path, "")
    for args in (["auth", "status"], ["auth", "token"]):  # read-only commands: nothing is written to / if it fails
        result = run_in(cwd, env, *args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert "The home directory is not set to an absolute path" in result.stderr


# ---------------------------------------------------------------------------------------------- the path in use


def messages_with_a_custom_dir(server: AuthServer, tmp_path: Path) -> tuple[Path, list[str]]:
    """Everything the CLI says about the store, in each state it can find it, under a custom HEYGEN_CONFIG_DIR."""
    config = tmp_path / "custom" / "place"
    env = cli_env(server, tmp_path, HEYGEN_CONFIG_DIR=str(config))
    said: list[str] = []

    def record(*args: str, stdin: str | None = None) -> None:
        result = hf(env, *args, stdin=stdin)
        said.append(result.stdout + result.stderr)

    record("auth", "status")  # nothing stored
    record("auth", "login", "--api-key", stdin=f"{API_KEY}\n")
    record("auth", "status")
    (config / "credentials").write_text("{ not json")
    record("auth", "status")
    record("auth", "token")
    (config / "credentials").write_text(json.dumps({"api_key": API_KEY}))
    (config / "credentials").chmod(0o666)
    record("auth", "status")
    (config / "credentials").chmod(0o600)
    config.chmod(0o777)
    record("auth", "token")
    config.chmod(0o700)
    record("auth", "logout", "--yes")
    record("auth", "logout", "--yes")
    return config, said


def test_every_message_names_the_path_in_use(auth_server: AuthServer, tmp_path: Path) -> None:
    config, said = messages_with_a_custom_dir(auth_server, tmp_path)
    text = "\n".join(said)
    assert "~/.heygen" not in text
    assert ".heygen" not in text
    path = config / "credentials"
    assert f"Storage: file ({path})" in said[2]
    for unreadable in (said[3], said[4]):
        assert unreadable.startswith(f"Credential file is unreadable: {path}: invalid JSON")
        assert f"Run `hyperframes auth login`: it moves {path} aside and signs you in again." in unreadable
    assert said[5].startswith(f"Refusing to use {path}: it is writable by group and others")
    assert f"Run `chmod 600 {path}`" in said[5]
    assert said[6].startswith(f"Refusing to use {config}: it is writable by group and others")
    assert f"Run `chmod 700 {config}`" in said[6]
    assert f"Signed out. Removed {path}." in said[7]
    assert f"nothing stored at {path}" in said[8]


def test_the_logout_question_names_the_path_in_use(auth_server: AuthServer, tmp_path: Path) -> None:
    import pexpect

    config = tmp_path / "custom" / "place"
    env = cli_env(auth_server, tmp_path, HEYGEN_CONFIG_DIR=str(config))
    assert hf(env, "auth", "login", "--api-key", stdin=f"{API_KEY}\n").returncode == 0
    child = pexpect.spawn(HYPERFRAMES, ["auth", "logout"], env=env, encoding="utf-8", timeout=30)
    try:
        child.expect(r"Continue\? \[y/N\] ")
        question = (child.before or "") + (child.after or "")
        child.sendline("n")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert str(config) in question
    assert "~/.heygen" not in question
