"""Both CLIs on one credentials file: ours with several accounts, HeyGen's released TypeScript CLI beside it.

The file keeps the TypeScript CLI's layout (``domain/accounts.py``): its top-level ``api_key`` / ``oauth`` / ``user``
hold the active account of the environment we used last, and everything else sits under our one key, which it
keeps when it rewrites the file. So it always works on the account ours calls active, and ours keeps every account
through its writes.

What the TypeScript CLI does that we cannot prevent (it knows one account only; pinned by the tests below so this
list stays true):

* ``auth logout --yes`` deletes the whole file: every other account of ours goes with it, without being revoked
  at the server (their tokens stay valid until they expire).
* ``auth login`` (browser or device) replaces the top-level ``oauth`` block: the account that was there is lost
  locally, not revoked. Its ``auth login --api-key`` writes the ``user`` block wholesale; ours then names the
  top-level account after the person that block describes.
* It takes no lock (``credentials.lock``), so a write of its own racing one of ours can lose one of them.

Skipped with the reason when the reference CLI is not installed (``scripts/setup-reference``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hyperframes_auth import HeyGenAuth
from hyperframes_auth.entrypoints.settings import Settings

from .conftest import API_KEY, AuthServer
from .people import person_behind, stored_accounts
from .reference_cli import reference_cli, run_reference
from .test_cli_e2e import cli_env, hf

pytestmark = pytest.mark.contract

ALICE, BOB, CAROL = (f"{name}@example.test" for name in ("alice", "bob", "carol"))
KEY_USER = "api-key-user@example.test"


@pytest.fixture(autouse=True)
def _reference_installed() -> None:
    reference_cli()  # skips with the reason when it is not installed


def ours(env: dict[str, str], *args: str) -> str:
    done = hf(env, "auth", *args)
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done.stdout


def theirs(server: AuthServer, config: Path, *args: str) -> str:
    code, out, err = run_reference(["auth", *args], server.env(config), config)
    assert code == 0, (args, out, err)
    return out


def our_accounts(env: dict[str, str]) -> list[tuple[str, bool]]:
    report = json.loads(ours(env, "status", "--json"))
    return [(a["identity"], a["active"]) for a in report["accounts"]]


def their_user(server: AuthServer, config: Path) -> tuple[str, str]:
    """Whom the TypeScript CLI's ``auth status --json`` names: from the API, and from the file's ``user`` block."""
    report = json.loads(theirs(server, config, "status", "--json"))
    return report["user"]["email"], report["persisted_user"]["email"]


def signed_in_three_then_two(server: AuthServer, tmp_path: Path) -> dict[str, str]:
    """alice, bob and carol sign in with our CLI; alice is switched to, bob signs out: alice active, carol aside.
    After each step the TypeScript CLI works on the account ours calls active."""
    env = cli_env(server, tmp_path)
    config = tmp_path / "config"
    for person in ("alice", "bob", "carol"):
        ours({**env, "STANDIN_LOGIN": person}, "login")
    assert their_user(server, config) == (CAROL, CAROL)
    ours(env, "switch", "--user", ALICE)
    assert their_user(server, config) == (ALICE, ALICE)
    ours(env, "logout", "--yes", "--user", BOB)
    assert their_user(server, config) == (ALICE, ALICE)
    return env


def test_the_typescript_cli_works_on_our_active_account_and_ours_keeps_every_account(
    auth_server: AuthServer, tmp_path: Path
) -> None:
    env = signed_in_three_then_two(auth_server, tmp_path)
    config = tmp_path / "config"
    file = config / "credentials"
    assert our_accounts(env) == [(ALICE, True), (CAROL, False)]
    ours(env, "logout", "--yes", "--user", CAROL)  # the active account stays; so does their view of it
    assert their_user(auth_server, config) == (ALICE, ALICE)
    ours({**env, "STANDIN_LOGIN": "carol"}, "login")
    ours(env, "switch", "--user", ALICE)

    before = stored_accounts(file)
    auth_server.reset()
    assert "Refreshed" in theirs(auth_server, config, "refresh")
    assert auth_server.stats()["token"] == {"refresh_token": 1}
    after = stored_accounts(file)
    assert after[ALICE]["oauth"] != before[ALICE]["oauth"]  # it rotated the top-level tokens...
    assert after[CAROL] == before[CAROL]  # ...and kept our key, with carol in it

    assert our_accounts(env) == [(ALICE, True), (CAROL, False)]
    rotated = after[ALICE]["oauth"]
    assert isinstance(rotated, dict)
    assert ours(env, "token").strip() == rotated["access_token"]
    ours(env, "refresh")  # spends the refresh token it rotated to, not the one it replaced
    assert person_behind(auth_server, ours(env, "token").strip()) == ALICE
    assert person_behind(auth_server, ours(env, "token", "--user", CAROL).strip()) == CAROL
    assert auth_server.stats()["invalid_grant"] == 0
    with HeyGenAuth(Settings.from_env(env, str(tmp_path)), env=env) as auth:
        assert [(a.identity, a.active) for a in auth.accounts()] == [(ALICE, True), (CAROL, False)]


def test_an_api_key_sign_in_of_theirs_renames_the_top_level_account(auth_server: AuthServer, tmp_path: Path) -> None:
    env = signed_in_three_then_two(auth_server, tmp_path)
    config = tmp_path / "config"
    file = config / "credentials"
    assert "Authenticated as api-key-user@example.test" in theirs(auth_server, config, "login", "--api-key", API_KEY)
    assert json.loads(file.read_text())["user"]["email"] == KEY_USER  # its user block, written wholesale

    ours(env, "status")
    stored = json.loads(file.read_text())["hyperframes_auth"]
    assert stored["top"]["identity"] == KEY_USER
    assert stored["active"] == {auth_server.url: KEY_USER}
    accounts = stored_accounts(file)
    # Their key sign-in kept alice's OAuth session in the slot: the key is the new person's account, and alice keeps
    # her session (split by the key's fingerprint), so nobody is signed in as someone else.
    assert set(accounts) == {KEY_USER, ALICE, CAROL}
    assert accounts[KEY_USER]["api_key"] == API_KEY
    assert accounts[KEY_USER]["oauth"] is None
    assert accounts[ALICE]["oauth"] is not None
    assert sorted(our_accounts(env)) == [(ALICE, False), (KEY_USER, True), (CAROL, False)]


def test_their_logout_deletes_every_account_of_ours(auth_server: AuthServer, tmp_path: Path) -> None:
    """Pinned so the module's warning stays true: their sign-out knows one account, and removes the whole file."""
    env = signed_in_three_then_two(auth_server, tmp_path)
    config = tmp_path / "config"
    carols = stored_accounts(config / "credentials")[CAROL]["oauth"]
    assert isinstance(carols, dict)
    theirs(auth_server, config, "logout", "--yes")
    assert not (config / "credentials").exists()
    assert person_behind(auth_server, str(carols["access_token"])) == CAROL  # lost locally, still valid
    assert hf(env, "auth", "status").returncode == 1


def test_the_account_named_after_their_api_key_signs_in_as_that_person(auth_server: AuthServer, tmp_path: Path) -> None:
    env = signed_in_three_then_two(auth_server, tmp_path)
    theirs(auth_server, tmp_path / "config", "login", "--api-key", API_KEY)
    report = json.loads(ours(env, "status", "--json"))
    assert [a["identity"] for a in report["accounts"] if a["active"]] == [KEY_USER]
    assert report["user"]["email"] == KEY_USER
