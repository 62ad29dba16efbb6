"""Accounts and environments, end to end: several people signed in side by side, each credential only ever sent
to the place it came from (``domain/accounts.py``).

Two real authorization servers stand for two environments (A: the session's server, B: one started for this
module). Every scenario runs twice: through the installed ``hyperframes`` command (in subprocesses; the browser
stand-in signs in as ``STANDIN_LOGIN``) and through the facade (``HeyGenAuth`` with ``Settings.from_env`` of each
server's variables). What reached which server is read from its ``/_test/stats`` counters, and whose a token is
from its ``/v3/users/me``.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from hyperframes_auth import HeyGenAuth
from hyperframes_auth.domain.errors import EnvironmentMismatch, NoRefreshToken, Unauthenticated, UnknownAccount
from hyperframes_auth.entrypoints.settings import Settings

from .conftest import API_KEY, CLIENT_ID, DEV, AuthServer
from .people import expire_every_token, person_behind, sign_in_as, stored_accounts
from .test_cli_e2e import cli_env, hf

pytestmark = pytest.mark.contract

ALICE, BOB, CAROL, DAVE, ERIN = (f"{name}@example.test" for name in ("alice", "bob", "carol", "dave", "erin"))
QUIET = {"token": {}, "invalid_grant": 0, "revocations": 0, "userinfo": 0, "grants_revoked": 0}
"""A server's counters when nothing at all reached it (no token, userinfo or revocation request)."""


@pytest.fixture(scope="module")
def other_server() -> Iterator[AuthServer]:
    """Environment B: a second authorization server with its own origin, token endpoint and tokens."""
    if DEV:
        pytest.skip("HYPERFRAMES_CONTRACT_TARGET=dev: needs two local authorization servers")
    server = AuthServer()
    yield server
    server.stop()


def host(server: AuthServer) -> str:
    return urlsplit(server.url).netloc


def mismatch(held: AuthServer, target: AuthServer, what: str = "this command targets") -> str:
    return f"Signed in to {host(held)}; {what} {host(target)}"


def login(env: dict[str, str], person: str) -> None:
    """``hyperframes auth login`` in the browser, the stand-in signing in as ``person`` (``alice``...)."""
    done = hf({**env, "STANDIN_LOGIN": person}, "auth", "login")
    assert done.returncode == 0, done.stderr
    assert f"Signed in as {person}@example.test." in done.stdout


def status_json(env: dict[str, str]) -> dict[str, Any]:
    done = hf(env, "auth", "status", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def token_of(env: dict[str, str], *args: str) -> str:
    done = hf(env, "auth", "token", *args)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def facade_for(env: dict[str, str], home: Path) -> HeyGenAuth:
    return HeyGenAuth(Settings.from_env(env, str(home)), env=env)


def oauth_of(path: Path, identity: str) -> dict[str, object]:
    block = stored_accounts(path)[identity]["oauth"]
    assert isinstance(block, dict)
    return block


# ---------------------------------------------------------------------------------------------- two people, one server


def test_switch_on_a_terminal_offers_a_numbered_choice(auth_server: AuthServer, tmp_path: Path) -> None:
    """With two other accounts, `auth switch` on a terminal lists them; an answer that is not one of the numbers
    (a superscript digit is a digit to Python) changes nothing, a listed number switches."""
    from .test_cli_e2e import finish, on_a_terminal, transcript

    env = cli_env(auth_server, tmp_path)
    for person in ("alice", "bob", "carol"):
        login(env, person)
    with on_a_terminal(env, "auth", "switch") as child:
        child.expect_exact("Switch to which account? ")
        child.sendline("\u00b2")
        assert finish(child) == 1
        said = transcript(child)
    assert "Several accounts are signed in here; say which" in said
    assert "Internal error" not in said
    assert [a["identity"] for a in status_json(env)["accounts"] if a["active"]] == [CAROL]
    with on_a_terminal(env, "auth", "switch") as child:
        child.expect(r"  1\. (\S+)\r\n  2\. (\S+)\r\n")
        listed = [child.match.group(1), child.match.group(2)]
        assert sorted(listed) == [ALICE, BOB]
        child.expect_exact("Switch to which account? ")
        child.sendline("2")
        child.expect_exact(f"Switched to {listed[1]}.")
        assert finish(child) == 0
    assert [a["identity"] for a in status_json(env)["accounts"] if a["active"]] == [listed[1]]


def test_cli_two_people_on_one_server(auth_server: AuthServer, tmp_path: Path) -> None:
    env = cli_env(auth_server, tmp_path)
    file = tmp_path / "config" / "credentials"
    login(env, "alice")
    login(env, "bob")

    report = status_json(env)
    assert report["accounts"] == [
        {"identity": BOB, "type": "oauth", "active": True},
        {"identity": ALICE, "type": "oauth", "active": False},
    ]
    assert report["user"] == {"email": BOB}
    human = hf(env, "auth", "status").stdout
    assert "Accounts:\n  * bob@example.test (oauth, active)\n    alice@example.test (oauth)\n" in human

    switched = hf(env, "auth", "switch")
    assert switched.returncode == 0, switched.stderr
    assert switched.stdout.strip() == f"✓ Switched to {ALICE}."
    assert [a["identity"] for a in status_json(env)["accounts"] if a["active"]] == [ALICE]
    assert person_behind(auth_server, token_of(env)) == ALICE
    assert person_behind(auth_server, token_of(env, "--user", BOB)) == BOB
    assert stored_accounts(file)[ALICE]["top"] is True  # the TypeScript CLI's slot holds the active account
    unknown = hf(env, "auth", "token", "--user", "nobody@example.test")
    assert unknown.returncode == 1
    assert unknown.stdout == ""
    assert f"Accounts signed in here: {ALICE}, {BOB}." in unknown.stderr

    expire_every_token(file)
    bob_before, alice_before = oauth_of(file, BOB), oauth_of(file, ALICE)
    auth_server.reset()
    refreshed = hf(env, "auth", "refresh")
    assert refreshed.returncode == 0, refreshed.stderr
    assert auth_server.stats()["token"] == {"refresh_token": 1}
    assert oauth_of(file, BOB) == bob_before  # the other account's tokens: untouched
    alice_after = oauth_of(file, ALICE)
    assert alice_after["refresh_token"] != alice_before["refresh_token"]
    assert person_behind(auth_server, str(alice_after["access_token"])) == ALICE

    auth_server.reset()
    out = hf(env, "auth", "logout", "--yes", "--user", BOB)
    assert out.returncode == 0, out.stderr
    assert out.stdout == f"✓ Signed out {BOB}.\nActive account now: {ALICE}.\n"
    assert auth_server.stats()["revocations"] == 2  # bob's refresh token, then his access token (RFC 7009)
    assert person_behind(auth_server, str(bob_before["access_token"])) is None
    assert person_behind(auth_server, token_of(env)) == ALICE
    assert list(stored_accounts(file)) == [ALICE]

    login(env, "bob")
    alice_then = oauth_of(file, ALICE)
    login(env, "alice")  # the same person again: her account's tokens are replaced, no second account
    assert [(a["identity"], a["active"]) for a in status_json(env)["accounts"]] == [(ALICE, True), (BOB, False)]
    assert oauth_of(file, ALICE)["refresh_token"] != alice_then["refresh_token"]
    tokens = [token_of(env, "--user", who) for who in (ALICE, BOB)]
    auth_server.reset()
    everyone = hf(env, "auth", "logout", "--yes", "--all")
    assert everyone.returncode == 0, everyone.stderr
    assert auth_server.stats()["revocations"] == 4
    assert [person_behind(auth_server, t) for t in tokens] == [None, None]
    assert not file.exists()


def test_facade_two_people_on_one_server(auth_server: AuthServer, tmp_path: Path) -> None:
    env = sign_in_as(auth_server, tmp_path, "alice")
    sign_in_as(auth_server, tmp_path, "bob")
    file = tmp_path / "config" / "credentials"
    with facade_for(env, tmp_path) as auth:
        assert [(a.identity, a.kinds, a.active) for a in auth.accounts()] == [
            (BOB, ("oauth",), True),
            (ALICE, ("oauth",), False),
        ]
        assert auth.status().user.email == BOB
        assert auth.switch(ALICE).identity == ALICE
        assert [a.identity for a in auth.accounts() if a.active] == [ALICE]
        assert person_behind(auth_server, auth.token()) == ALICE
        assert person_behind(auth_server, auth.token(user=BOB)) == BOB
        assert auth.credential(user=BOB).identity == BOB
        assert auth.headers()["authorization"] == f"Bearer {auth.token()}"
        with pytest.raises(UnknownAccount):
            auth.switch("nobody@example.test")

        expire_every_token(file)
        bob_before, alice_before = oauth_of(file, BOB), oauth_of(file, ALICE)
        auth_server.reset()
        auth.refresh()
        assert auth_server.stats()["token"] == {"refresh_token": 1}
        assert oauth_of(file, BOB) == bob_before
        assert oauth_of(file, ALICE)["refresh_token"] != alice_before["refresh_token"]

        auth_server.reset()
        result = auth.logout(user=BOB)
        assert (result.accounts, result.file_removed) == ((BOB,), False)
        assert auth_server.stats()["revocations"] == 2
        assert person_behind(auth_server, str(bob_before["access_token"])) is None
        assert person_behind(auth_server, auth.token()) == ALICE

    sign_in_as(auth_server, tmp_path, "bob")
    with facade_for(env, tmp_path) as auth:
        tokens = [auth.token(user=who) for who in (ALICE, BOB)]
        auth_server.reset()
        result = auth.logout(everyone=True)
        assert sorted(result.accounts) == [ALICE, BOB]
        assert result.file_removed
        assert auth_server.stats()["revocations"] == 4
        assert [person_behind(auth_server, t) for t in tokens] == [None, None]


def test_facade_refresh_after_401_keeps_the_person_of_the_refused_headers(
    auth_server: AuthServer, tmp_path: Path
) -> None:
    env = sign_in_as(auth_server, tmp_path, "alice")
    sign_in_as(auth_server, tmp_path, "bob")  # bob is active
    with facade_for(env, tmp_path) as auth:
        refused = auth.headers(user=ALICE)
        again = auth.refresh_after_401(refused)
        assert again is not None
        assert person_behind(auth_server, again["authorization"][len("Bearer ") :]) == ALICE


def test_a_sign_in_whose_identity_check_failed_is_kept_beside_the_next(auth_server: AuthServer, tmp_path: Path) -> None:
    auth_server.script("/v3/users/me", {"status": 500, "body": "{}"})  # one failure: not retried (500)
    sign_in_as(auth_server, tmp_path, "alice")
    file = tmp_path / "config" / "credentials"
    (alices,) = stored_accounts(file).values()
    assert isinstance(alices["oauth"], dict)
    sign_in_as(auth_server, tmp_path, "bob")
    held = [a["oauth"]["access_token"] for a in stored_accounts(file).values() if isinstance(a["oauth"], dict)]
    assert alices["oauth"]["access_token"] in held


# ---------------------------------------------------------------------------------------------- two environments


def test_cli_never_sends_a_credential_to_another_environment(
    auth_server: AuthServer, other_server: AuthServer, tmp_path: Path
) -> None:
    env_a, env_b = cli_env(auth_server, tmp_path), cli_env(other_server, tmp_path)
    file = tmp_path / "config" / "credentials"
    login(env_a, "alice")
    before = file.read_bytes()
    auth_server.reset()
    other_server.reset()

    for args in (("status",), ("token",), ("refresh",)):
        refused = hf(env_b, "auth", *args)
        assert refused.returncode == 1, (args, refused.stdout, refused.stderr)
        assert refused.stdout == ""
    for args in (("status",), ("token",)):
        refused = hf(env_b, "auth", *args)
        assert refused.stderr.splitlines()[0] == mismatch(auth_server, other_server)
        assert "Traceback" not in refused.stderr
    as_json = json.loads(hf(env_b, "auth", "status", "--json").stdout)
    assert (as_json["configured"], as_json["code"]) == (False, "ENVIRONMENT_MISMATCH")
    assert as_json["message"] == mismatch(auth_server, other_server)
    assert json.loads(hf(env_b, "auth", "token", "--json").stdout)["code"] == "ENVIRONMENT_MISMATCH"
    assert hf(env_b, "auth", "switch", "--user", ALICE).returncode == 1
    assert hf(env_b, "auth", "token", "--user", ALICE).returncode == 1
    assert hf(env_b, "auth", "logout", "--yes").returncode == 0  # nobody signed in there: nothing to sign out
    assert other_server.stats() == QUIET
    assert auth_server.stats() == QUIET
    assert file.read_bytes() == before  # A's account untouched by everything aimed at B

    login(env_b, "carol")
    assert [a["identity"] for a in status_json(env_a)["accounts"]] == [ALICE]
    assert [a["identity"] for a in status_json(env_b)["accounts"]] == [CAROL]
    assert {k: v["api"] for k, v in stored_accounts(file).items()} == {CAROL: other_server.url, ALICE: auth_server.url}
    assert person_behind(auth_server, token_of(env_a)) == ALICE
    assert person_behind(other_server, token_of(env_b)) == CAROL

    auth_server.reset()
    other_server.reset()
    assert status_json(env_a)["user"] == {"email": ALICE}
    assert (auth_server.stats()["userinfo"], other_server.stats()["userinfo"]) == (1, 0)
    carol_before = oauth_of(file, CAROL)
    assert hf(env_a, "auth", "refresh").returncode == 0
    assert (auth_server.stats()["token"], other_server.stats()) == ({"refresh_token": 1}, QUIET)
    assert oauth_of(file, CAROL) == carol_before

    auth_server.reset()
    assert hf(env_b, "auth", "logout", "--yes", "--all").returncode == 0
    assert (auth_server.stats()["revocations"], other_server.stats()["revocations"]) == (0, 2)
    assert list(stored_accounts(file)) == [ALICE]
    assert person_behind(auth_server, token_of(env_a)) == ALICE


def test_refresh_in_another_environment_names_both(
    auth_server: AuthServer, other_server: AuthServer, tmp_path: Path
) -> None:
    login(cli_env(auth_server, tmp_path), "alice")
    env_b = cli_env(other_server, tmp_path)
    with facade_for(env_b, tmp_path) as elsewhere, pytest.raises(EnvironmentMismatch):
        elsewhere.refresh()
    refused = hf(env_b, "auth", "refresh")
    assert refused.returncode == 1
    assert refused.stderr.splitlines()[0] == mismatch(auth_server, other_server)


def test_facade_never_sends_a_credential_to_another_environment(
    auth_server: AuthServer, other_server: AuthServer, tmp_path: Path
) -> None:
    env_a = sign_in_as(auth_server, tmp_path, "alice")
    env_b = other_server.env(tmp_path / "config")
    file = tmp_path / "config" / "credentials"
    before = file.read_bytes()
    auth_server.reset()
    other_server.reset()
    with facade_for(env_b, tmp_path) as elsewhere:
        for use in (elsewhere.token, elsewhere.credential, elsewhere.headers, elsewhere.whoami, elsewhere.status):
            with pytest.raises(EnvironmentMismatch) as refused:
                use()
            assert refused.value.message == mismatch(auth_server, other_server)
        with pytest.raises((EnvironmentMismatch, NoRefreshToken)):
            elsewhere.refresh()
        with pytest.raises(UnknownAccount):
            elsewhere.token(user=ALICE)
        with pytest.raises(UnknownAccount):
            elsewhere.switch(ALICE)
        assert elsewhere.accounts() == []
        with contextlib.suppress(EnvironmentMismatch):  # None, or the same refusal: either way nothing is sent
            assert elsewhere.refresh_after_401({"authorization": "Bearer anything"}) is None
        assert elsewhere.logout().accounts == ()
    assert other_server.stats() == QUIET
    assert auth_server.stats() == QUIET
    assert file.read_bytes() == before

    sign_in_as(other_server, tmp_path, "carol")
    with facade_for(env_a, tmp_path) as here, facade_for(env_b, tmp_path) as there:
        assert [a.identity for a in here.accounts()] == [ALICE]
        assert [a.identity for a in there.accounts()] == [CAROL]
        auth_server.reset()
        other_server.reset()
        assert here.whoami().email == ALICE
        assert there.whoami().email == CAROL
        assert (auth_server.stats()["userinfo"], other_server.stats()["userinfo"]) == (1, 1)
        carol_before = oauth_of(file, CAROL)
        here.refresh()
        assert (auth_server.stats()["token"], other_server.stats()["token"]) == ({"refresh_token": 1}, {})
        assert oauth_of(file, CAROL) == carol_before
        assert there.logout(everyone=True).accounts == (CAROL,)
        assert [a.identity for a in here.accounts()] == [ALICE]
        assert auth_server.stats()["revocations"] == 0


# ---------------------------------------------------------------------------------------------- another token endpoint


def test_a_refresh_token_never_goes_to_another_token_endpoint(
    auth_server: AuthServer, other_server: AuthServer, tmp_path: Path
) -> None:
    env = cli_env(auth_server, tmp_path)
    login(env, "alice")
    moved = {**env, "HYPERFRAMES_OAUTH_TOKEN_URL": other_server.env(tmp_path)["HYPERFRAMES_OAUTH_TOKEN_URL"]}
    file = tmp_path / "config" / "credentials"
    said = mismatch(auth_server, other_server, "a refresh would go to")
    auth_server.reset()
    other_server.reset()

    refused = hf(moved, "auth", "refresh")
    assert refused.returncode == 1
    assert refused.stderr.splitlines()[0] == said
    expire_every_token(file)
    stale = hf(moved, "auth", "token")
    assert stale.returncode == 1
    assert stale.stdout == ""
    assert stale.stderr.splitlines()[0] == said
    with facade_for(moved, tmp_path) as auth:
        for use in (auth.refresh, auth.token, auth.headers):
            with pytest.raises(EnvironmentMismatch) as raised:
                use()
            assert raised.value.message == said
    assert other_server.stats() == QUIET
    assert auth_server.stats()["token"] == {}


def test_a_sign_out_that_cannot_revoke_says_so(
    auth_server: AuthServer, other_server: AuthServer, tmp_path: Path
) -> None:
    env = cli_env(auth_server, tmp_path)
    login(env, "alice")
    moved = {**env, "HYPERFRAMES_OAUTH_TOKEN_URL": other_server.env(tmp_path)["HYPERFRAMES_OAUTH_TOKEN_URL"]}
    auth_server.reset()
    other_server.reset()
    out = hf(moved, "auth", "logout", "--yes")
    assert other_server.stats() == QUIET
    assert auth_server.stats()["revocations"] == 0
    assert (out.stdout + out.stderr).lower().count("not revoked") == 1, out.stderr  # said once, not also logged


def test_another_client_id_is_named_in_the_refusal(auth_server: AuthServer, tmp_path: Path) -> None:
    env = cli_env(auth_server, tmp_path)
    login(env, "alice")
    auth_server.reset()
    refused = hf({**env, "HYPERFRAMES_OAUTH_CLIENT_ID": "another-client"}, "auth", "refresh")
    assert refused.returncode == 1
    assert auth_server.stats()["token"] == {}
    assert "another-client" in refused.stderr or CLIENT_ID in refused.stderr


# ---------------------------------------------------------------------------------------------- HEYGEN_ACCESS_TOKEN


@pytest.fixture
def daves_token(auth_server: AuthServer, tmp_path: Path) -> str:
    """An access token of dave's, signed in elsewhere (its own config directory), as a CI job would be given."""
    sign_in_as(auth_server, tmp_path / "dave", "dave")
    return str(json.loads((tmp_path / "dave" / "config" / "credentials").read_text())["oauth"]["access_token"])


def test_cli_environment_token_is_used_as_given_never_refreshed_never_saved(
    auth_server: AuthServer, tmp_path: Path, daves_token: str
) -> None:
    env = cli_env(auth_server, tmp_path)
    login(env, "alice")
    file = tmp_path / "config" / "credentials"
    before = file.read_bytes()
    with_token = {**env, "HEYGEN_ACCESS_TOKEN": daves_token}
    auth_server.reset()

    report = status_json(with_token)
    assert (report["source"], report["type"], report["user"]) == ("env_oauth", "oauth", {"email": DAVE})
    assert (report["persisted_user"], report["refreshable"], report["expires_at"]) == (None, False, None)
    assert auth_server.stats()["userinfo"] == 1  # the server saw dave's token, not alice's
    assert token_of(with_token) == daves_token
    assert json.loads(token_of(with_token, "--json"))["source"] == "env_oauth"
    assert token_of(with_token, "--user", ALICE) != daves_token  # --user asks for a stored account
    assert "Source: env (HEYGEN_ACCESS_TOKEN)" in hf(with_token, "auth", "status").stdout
    assert status_json({**with_token, "HEYGEN_API_KEY": API_KEY})["source"] == "env"
    assert status_json({**with_token, "HYPERFRAMES_API_KEY": API_KEY})["source"] == "env_alias"

    revoked = auth_server.http.post("/v1/oauth/revoke", data={"token": daves_token, "client_id": CLIENT_ID})
    assert revoked.status_code == 200
    auth_server.reset()
    rejected = hf(with_token, "auth", "status", "--json")
    assert rejected.returncode == 1
    report = json.loads(rejected.stdout)
    assert (report["source"], report["user"]) == ("env_oauth", None)
    assert report["api_error"].startswith("HeyGen rejected the credential")
    assert auth_server.stats()["token"] == {}  # a 401 is final: no refresh, not even of the stored account
    assert auth_server.stats()["userinfo"] == 1
    assert file.read_bytes() == before

    fresh = cli_env(auth_server, tmp_path / "empty", HEYGEN_ACCESS_TOKEN=daves_token)
    assert hf(fresh, "auth", "status").returncode == 1
    assert not (tmp_path / "empty" / "config" / "credentials").exists()


def test_facade_environment_token_is_used_as_given_never_refreshed_never_saved(
    auth_server: AuthServer, tmp_path: Path, daves_token: str
) -> None:
    env = {**sign_in_as(auth_server, tmp_path, "alice"), "HEYGEN_ACCESS_TOKEN": daves_token}
    file = tmp_path / "config" / "credentials"
    before = file.read_bytes()
    with facade_for(env, tmp_path) as auth:
        assert auth.whoami().email == DAVE
        assert (auth.credential().source, auth.token()) == ("env_oauth", daves_token)
        assert auth.status().persisted_user is None
        assert auth.credential(user=ALICE).source == "file_json"
        auth_server.http.post("/v1/oauth/revoke", data={"token": daves_token, "client_id": CLIENT_ID})
        auth_server.reset()
        with pytest.raises(Unauthenticated):
            auth.whoami()
        assert auth.refresh_after_401(auth.headers()) is None
        assert auth_server.stats()["token"] == {}
    assert file.read_bytes() == before
    with facade_for({**env, "HEYGEN_API_KEY": API_KEY}, tmp_path) as keyed:
        assert keyed.credential().source == "env"


# ---------------------------------------------------------------------------------------------- a file from before


def write_typescript_file(path: Path, document: dict[str, object]) -> None:
    """A credentials file as the TypeScript CLI writes it (2-space JSON, a newline, 0600 in a 0700 directory)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.parent.chmod(stat.S_IRWXU)
    path.write_text(json.dumps(document, indent=2) + "\n")
    path.chmod(stat.S_IRUSR | stat.S_IWUSR)


def signed_in_before_accounts(server: AuthServer, tmp_path: Path, login_name: str) -> dict[str, object]:
    """A sign-in of ``login_name``'s as a file written before accounts existed: only the TypeScript CLI's keys."""
    sign_in_as(server, tmp_path / "elsewhere", login_name)
    stored = json.loads((tmp_path / "elsewhere" / "config" / "credentials").read_text())
    fields = ("access_token", "refresh_token", "expires_at", "scope", "token_type")
    return {"oauth": {k: stored["oauth"][k] for k in fields}, "user": {"email": f"{login_name}@example.test"}}


def test_cli_file_from_before_is_labelled_on_first_use_then_refuses_elsewhere(
    auth_server: AuthServer, other_server: AuthServer, tmp_path: Path
) -> None:
    file = tmp_path / "config" / "credentials"
    document = signed_in_before_accounts(auth_server, tmp_path, "erin")
    write_typescript_file(file, document)
    env_a, env_b = cli_env(auth_server, tmp_path), cli_env(other_server, tmp_path)

    assert status_json(env_a)["user"] == {"email": ERIN}
    stored = json.loads(file.read_text())
    assert stored["hyperframes_auth"]["top"] == {
        "environment": {
            "api": auth_server.url,
            "token_url": f"{auth_server.url}/v1/oauth/token",
            "client_id": CLIENT_ID,
        },
        "identity": ERIN,
    }
    assert stored["hyperframes_auth"]["active"] == {auth_server.url: ERIN}
    assert (stored["oauth"], stored["user"]) == (document["oauth"], document["user"])  # its slot: as it was

    other_server.reset()
    for args in (("status",), ("token",)):
        refused = hf(env_b, "auth", *args)
        assert refused.returncode == 1
        assert refused.stderr.splitlines()[0] == mismatch(auth_server, other_server)
    assert other_server.stats() == QUIET


def test_facade_file_from_before_is_labelled_on_first_use_then_refuses_elsewhere(
    auth_server: AuthServer, other_server: AuthServer, tmp_path: Path
) -> None:
    file = tmp_path / "config" / "credentials"
    write_typescript_file(file, signed_in_before_accounts(auth_server, tmp_path, "erin"))
    env_a, env_b = auth_server.env(tmp_path / "config"), other_server.env(tmp_path / "config")
    with facade_for(env_a, tmp_path) as here:
        assert person_behind(auth_server, here.token()) == ERIN
    assert json.loads(file.read_text())["hyperframes_auth"]["top"]["environment"]["api"] == auth_server.url
    other_server.reset()
    with facade_for(env_b, tmp_path) as elsewhere, pytest.raises(EnvironmentMismatch):
        elsewhere.token()
    assert other_server.stats() == QUIET


def test_an_api_key_from_before_goes_only_to_its_api_origin(
    auth_server: AuthServer, other_server: AuthServer, tmp_path: Path
) -> None:
    file = tmp_path / "config" / "credentials"
    write_typescript_file(file, {"api_key": API_KEY, "user": {"email": "api-key-user@example.test"}})
    env_a, env_b = cli_env(auth_server, tmp_path), cli_env(other_server, tmp_path)
    assert status_json(env_a)["type"] == "api_key"
    assert json.loads(file.read_text())["hyperframes_auth"]["top"]["environment"] == {"api": auth_server.url}
    other_server.reset()
    refused = hf(env_b, "auth", "status")
    assert refused.returncode == 1
    assert refused.stderr.splitlines()[0] == mismatch(auth_server, other_server)
    assert other_server.stats() == QUIET


# ---------------------------------------------------------------------------------------------- the encrypted store


def test_cli_encrypted_store_keeps_the_accounts_and_is_remembered(auth_server: AuthServer, tmp_path: Path) -> None:
    env = cli_env(auth_server, tmp_path, HYPERFRAMES_CREDENTIALS_PASSPHRASE="two people, one store")
    login({**env, "HYPERFRAMES_CREDENTIALS_STORE": "encrypted"}, "alice")
    login(env, "bob")  # no store variable from here on: credentials.enc is there, so it is used
    config = tmp_path / "config"
    assert sorted(os.listdir(config)) == ["credentials.enc", "credentials.enc.lock"]

    report = status_json(env)
    assert report["storage"]["backend"] == "encrypted"
    assert [(a["identity"], a["active"]) for a in report["accounts"]] == [(BOB, True), (ALICE, False)]
    assert hf(env, "auth", "switch").returncode == 0
    assert person_behind(auth_server, token_of(env)) == ALICE
    auth_server.reset()
    assert hf(env, "auth", "logout", "--yes", "--user", ALICE).returncode == 0
    assert auth_server.stats()["revocations"] == 2
    report = status_json(env)
    assert [(a["identity"], a["active"]) for a in report["accounts"]] == [(BOB, True)]
    assert person_behind(auth_server, token_of(env)) == BOB
    assert not (config / "credentials").exists()


def test_facade_encrypted_store_keeps_the_accounts_and_is_remembered(auth_server: AuthServer, tmp_path: Path) -> None:
    secret = {"HYPERFRAMES_CREDENTIALS_PASSPHRASE": "two people, one store"}
    sign_in_as(auth_server, tmp_path, "alice", HYPERFRAMES_CREDENTIALS_STORE="encrypted", **secret)
    env = sign_in_as(auth_server, tmp_path, "bob", **secret)
    assert Settings.from_env(env, str(tmp_path)).store == "encrypted"
    with facade_for(env, tmp_path) as auth:
        assert [(a.identity, a.active) for a in auth.accounts()] == [(BOB, True), (ALICE, False)]
        auth.switch(ALICE)
        assert person_behind(auth_server, auth.token()) == ALICE
        assert auth.logout(user=BOB).accounts == (BOB,)
        assert [(a.identity, a.active) for a in auth.accounts()] == [(ALICE, True)]
    assert not (tmp_path / "config" / "credentials").exists()
