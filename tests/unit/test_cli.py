"""Every command and its error paths through typer's CliRunner (and ``main`` for the argv shims), over fakes."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from typer.testing import CliRunner

from hyperframes_auth.domain.credentials import CredentialsDocument, OAuthTokens, UserProfile
from hyperframes_auth.domain.http import HttpResponse
from hyperframes_auth.domain.primitives import format_instant
from hyperframes_auth.entrypoints.cli import app
from hyperframes_auth.entrypoints.main import bare_api_key
from hyperframes_auth.entrypoints.main import main as real_main
from hyperframes_auth.entrypoints.terminal import Terminal
from tests.fakes import ENV, T0, World, json_response

runner = CliRunner()
_TERMINAL: list[Terminal] = []


class _WorldEnv(dict):
    """The environment commands see: the fake server's endpoints plus whatever a test puts in ``world.env``."""

    def __init__(self, world: World) -> None:
        super().__init__()
        self.world = world

    def _all(self) -> dict[str, str]:
        return {**ENV, **self.world.env}

    def get(self, key, default=None):
        return self._all().get(key, default)

    def __getitem__(self, key):
        return self._all()[key]

    def __contains__(self, key):
        return key in self._all()

    def __iter__(self):
        return iter(self._all())

    def __len__(self):
        return len(self._all())


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch):
    """Route every command to a fake world: server, store, clock, listener and a browser whose user approves."""
    w = World()
    w.env = {}
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    _TERMINAL[:] = [Terminal(env=_WorldEnv(w), adapters=w.adapters())]
    yield w
    _TERMINAL.clear()


def invoke(*args: str, stdin: str | None = None):
    return runner.invoke(app, list(args), input=stdin, obj=_TERMINAL[0] if _TERMINAL else None)


def main(args: list[str]) -> int:
    return real_main(args, _TERMINAL[0] if _TERMINAL else None)


def test_auth_without_a_subcommand_prints_help(world):
    result = invoke("auth")
    assert result.exit_code == 0
    for text in (
        "login",
        "status",
        "refresh",
        "logout",
        "token",
        "HEYGEN_API_KEY",
        "~/.heygen/credentials",
        "Exit codes",
    ):
        assert text in result.output


def test_help_lists_env_vars_and_exit_codes():
    result = invoke("auth", "--help")
    assert result.exit_code == 0
    assert "HYPERFRAMES_OAUTH_TOKEN_URL" in result.output
    assert "Exit codes" in result.output
    assert "Exit codes" in invoke("auth", "token", "--help").output


def test_browser_login(world):
    result = invoke("auth", "login")
    assert result.exit_code == 0, result.output
    assert "Opening browser to https://auth.test/oauth/authorize ..." in result.stdout
    assert "Waiting for callback on http://127.0.0.1:4567/oauth/callback ..." in result.stdout
    assert "✓ Signed in as alice@example.test." in result.stdout
    assert world.store.doc.oauth is not None


def test_browser_login_denied(world):
    world.browser.user = lambda url: world.listener.deliver(world.server.deny(url))
    result = invoke("auth", "login")
    assert result.exit_code == 1
    assert (
        result.stderr.splitlines()[0]
        == "Sign-in failed: The authorization server returned access_denied: End-User aborted interaction"
    )
    assert result.stderr.splitlines()[1] == "Run `hyperframes auth login` to try again."


def test_server_text_is_neutralised_on_the_terminal(world):
    def hostile(url: str) -> None:
        query = world.server.deny(url)
        query["error_description"] = "ok\x1b[2K\rFAKE SUCCESS\x1b]52;c;ZXZpbA==\x07"
        world.listener.deliver(query)

    world.browser.user = hostile
    result = invoke("auth", "login")
    assert "\x1b" not in result.stderr
    assert "\x07" not in result.stderr
    assert "\\x1b[2K" in result.stderr


def test_login_timeout_message(world):
    world.browser.user = None
    result = invoke("auth", "login")
    assert result.exit_code == 1
    assert "Timed out after 120 s" in result.stderr
    assert "--device" in result.stderr


def test_device_and_api_key_together_is_a_usage_error(world):
    result = invoke("auth", "login", "--device", "--api-key=abc")
    assert result.exit_code == 2
    assert "Choose either --device or --api-key, not both." in result.stderr


def test_device_login(world):
    def approve_when_polled(seconds: float) -> None:
        for device in world.server.devices.values():
            device["approved"] = True
        world.clock.advance(seconds)

    world.clock.sleep = approve_when_polled  # type: ignore[method-assign]
    result = invoke("auth", "login", "--device")
    assert result.exit_code == 0, result.output
    assert "To sign in, open https://auth.test/device and enter the code: WXYZ-" in result.stdout
    assert "✓ Signed in as alice@example.test." in result.stdout


def test_api_key_from_stdin(world, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("hg_valid_key_1234\n"))
    assert main(["auth", "login", "--api-key"]) == 0
    assert world.store.doc.api_key == "hg_valid_key_1234"


def test_api_key_rejected_is_rolled_back(world):
    world.store.doc = CredentialsDocument(api_key="hg_previous_ok1")
    result = invoke("auth", "login", "--api-key=hg_wrong_value1")
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert "visible to other users" in lines[0]
    assert lines[1:] == [
        "HeyGen rejected the API key.",
        '  HeyGen rejected the credential: {"message": "invalid api key"}',
        "Run hyperframes auth login --api-key again with a valid key.",
        "Rolled back to the previous credential.",
    ]
    assert world.store.doc.api_key == "hg_previous_ok1"


@pytest.mark.parametrize(
    ("key", "message"), [("", "No API key provided."), ("short", "API key looks too short (got 5 chars).")]
)
def test_api_key_validation(world, monkeypatch, capsys, key, message):
    monkeypatch.setattr("sys.stdin", io.StringIO(key))
    assert main(["auth", "login", "--api-key"]) == 1
    assert capsys.readouterr().err.splitlines()[0] == message
    assert world.store.writes == 0


def test_bare_api_key_flag_becomes_an_empty_value():
    assert bare_api_key(["auth", "login", "--api-key"]) == ["auth", "login", "--api-key="]
    assert bare_api_key(["auth", "login", "--api-key", "--verbose"]) == ["auth", "login", "--api-key=", "--verbose"]
    assert bare_api_key(["auth", "login", "--api-key", "hg_x"]) == ["auth", "login", "--api-key", "hg_x"]


def signed_in(world: World) -> OAuthTokens:
    world.service.login_browser()
    assert world.store.doc.oauth is not None
    return world.store.doc.oauth


def test_status_json_and_human(world):
    signed_in(world)
    result = invoke("auth", "status", "--json")
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert list(report) == [
        "configured",
        "source",
        "type",
        "user",
        "api_error",
        "expires_at",
        "refreshable",
        "scope",
        "storage",
        "persisted_user",
        "accounts",
    ]
    assert report["accounts"] == [{"identity": "alice@example.test", "type": "oauth", "active": True}]
    assert report["persisted_user"]["display_name"] == "alice@example.test"
    human = invoke("auth", "status")
    assert human.stdout.splitlines()[:2] == ["Source: file (memory://credentials)", "Type:   oauth"]
    assert "Expires: 2026-05-28T07:00:00.000Z (valid)" in human.stdout
    assert "Account: alice@example.test" in human.stdout


def test_status_with_a_failing_api_shows_the_cached_account(world):
    signed_in(world)
    world.server._userinfo = lambda r: json_response(503, {"message": "maintenance"})  # type: ignore[method-assign]
    result = invoke("auth", "status")
    assert result.exit_code == 1
    assert "API check failed: HeyGen API error (503)" in result.stdout
    assert "Account: alice@example.test (cached)" in result.stdout


def test_status_not_signed_in(world):
    result = invoke("auth", "status")
    assert result.exit_code == 1
    assert result.stdout.startswith("Not signed in to HeyGen.")
    assert json.loads(invoke("auth", "status", "--json").stdout) == {
        "configured": False,
        "interactive": False,
        "recommended_action": "hyperframes auth login",
    }


def test_status_with_a_broken_store(world):
    world.store.broken = "invalid JSON: Expecting value"
    result = invoke("auth", "status", "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout) == {
        "configured": False,
        "error": "Credential file is unreadable: invalid JSON: Expecting value",
        "code": "INVALID_STORE",
        "message": "Credential file is unreadable: invalid JSON: Expecting value",
        "hint": "Run `hyperframes auth login` to sign in again (the unreadable file is moved aside).",
    }
    human = invoke("auth", "status")
    assert human.stderr.splitlines() == [
        "Credential file is unreadable: invalid JSON: Expecting value",
        "Run `hyperframes auth login` to sign in again (the unreadable file is moved aside).",
    ]


def test_expired_token_is_shown_as_refreshable(world):
    world.store.doc = CredentialsDocument(
        oauth=OAuthTokens("at-old", "rt-unknown", format_instant(T0 - timedelta(minutes=5)))
    )
    result = invoke("auth", "status")
    assert "(expired) · refreshable" in result.stdout
    assert "API check failed" in result.stdout


def test_refresh(world):
    old = signed_in(world)
    result = invoke("auth", "refresh")
    assert result.exit_code == 0
    assert result.stdout == "✓ Refreshed OAuth access token.\n"
    assert world.store.doc.oauth.access_token != old.access_token


def test_refresh_without_a_refresh_token(world):
    world.store.doc = CredentialsDocument(api_key="hg_valid_key_1234")
    result = invoke("auth", "refresh")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == ["No OAuth refresh token to use.", "Run `hyperframes auth login` first."]


def test_refresh_rejected_never_leaks_the_body_secrets(world):
    signed_in(world)
    world.server.scripted.append(
        HttpResponse(400, {}, b'{"error":"invalid_grant","error_description":"refresh_token=rt-SECRET-1 is revoked"}')
    )
    result = invoke("auth", "refresh")
    assert result.exit_code == 1
    assert "rt-SECRET-1" not in result.output
    assert "Failed to refresh OAuth tokens: invalid_grant" in result.stderr
    assert "Traceback" not in result.output


def test_logout(world):
    signed_in(world)
    result = invoke("auth", "logout", "--yes")
    assert result.exit_code == 0
    assert result.stdout == "✓ Signed out. Removed memory://credentials.\n"
    assert world.store.doc == CredentialsDocument()


def test_logout_keep_api_key_and_revocation_notes(world):
    world.store.doc = CredentialsDocument(api_key="hg_valid_key_1234")
    signed_in(world)
    world.server.scripted.clear()
    original = world.server._revoke
    world.server._revoke = lambda r: HttpResponse(500)  # type: ignore[method-assign]
    result = invoke("auth", "logout", "--yes", "--keep-api-key")
    world.server._revoke = original  # type: ignore[method-assign]
    assert result.exit_code == 0
    assert result.stdout == "✓ OAuth session removed. API key retained.\n"
    assert result.stderr.count("Note: token revoke returned HTTP 500; local credentials cleared anyway.") == 2
    assert result.stderr.count("token revoke returned HTTP 500") == 2  # each said once, not also logged
    assert world.store.doc.api_key == "hg_valid_key_1234"


def test_logout_confirmation(world):
    signed_in(world)
    result = invoke("auth", "logout", stdin="n\n")
    assert result.exit_code == 1
    assert "Aborted." in result.stdout
    assert world.store.doc.oauth is not None


def test_token(world):
    tokens = signed_in(world)
    result = invoke("auth", "token")
    assert (result.exit_code, result.stdout) == (0, tokens.access_token + "\n")
    payload = json.loads(invoke("auth", "token", "--json").stdout)
    assert payload == {
        "token": tokens.access_token,
        "type": "oauth",
        "source": "file_json",
        "expires_at": tokens.expires_at,
    }


def test_token_refreshes_a_stale_token_first(world):
    tokens = signed_in(world)
    world.clock.advance(3600)
    result = invoke("auth", "token")
    assert result.stdout.strip() == world.store.doc.oauth.access_token != tokens.access_token


def test_token_not_signed_in(world):
    result = invoke("auth", "token")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == ["No HeyGen credentials found", "Run `hyperframes auth login` to sign in."]


def test_env_key_wins_and_is_labelled(world):
    world.env = {"HEYGEN_API_KEY": "hg_valid_key_1234"}
    world.store.doc = CredentialsDocument(user=UserProfile(email="cached@x"))
    result = invoke("auth", "status")
    assert "Source: env (HEYGEN_API_KEY)" in result.stdout
    assert "Account: keys@example.test" in result.stdout


def test_fast_path_and_typer_agree(world, capsys):
    tokens = signed_in(world)
    assert main(["auth", "token"]) == 0
    assert capsys.readouterr().out == tokens.access_token + "\n"
    assert main(["auth", "token", "--json", "--json"]) == 0  # not the fast path's shape: typer handles it
    assert json.loads(capsys.readouterr().out)["token"] == tokens.access_token


def test_unknown_commands_are_usage_errors(world, capsys):
    assert main(["auth", "bogus"]) == 2
    assert "No such command" in capsys.readouterr().err


def test_colour_only_on_a_tty_and_never_with_no_color():
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert Terminal(out=Tty(), env={}).out_colour
    assert not Terminal(out=Tty(), env={"NO_COLOR": "1"}).out_colour
    assert Terminal(out=Tty(), env={"NO_COLOR": ""}).out_colour  # set but empty counts as unset (no-color.org)
    assert not Terminal(out=io.StringIO(), env={}).out_colour


def test_a_bug_is_one_line_not_a_traceback(world, capsys, monkeypatch):
    def broken(*_args, **_kwargs):
        raise ZeroDivisionError("rt-SECRET-in-a-message")

    monkeypatch.setattr(world.store, "read", broken)
    monkeypatch.setattr(world.store, "lock", broken)
    monkeypatch.delenv("HYPERFRAMES_DEBUG", raising=False)
    assert main(["auth", "token"]) == 1
    assert main(["auth", "refresh"]) == 1
    err = capsys.readouterr().err
    assert "Internal error (ZeroDivisionError)" in err
    assert "Traceback" not in err
    assert "rt-SECRET" not in err


def test_an_env_key_works_even_when_the_file_is_broken(world):
    world.env = {"HEYGEN_API_KEY": "hg_valid_key_1234"}
    world.store.broken = "invalid JSON"
    assert invoke("auth", "token").stdout == "hg_valid_key_1234\n"
    result = invoke("auth", "status")
    assert result.exit_code == 0
    assert "Source: env (HEYGEN_API_KEY)" in result.stdout
