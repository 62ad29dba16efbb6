"""Nothing a hostile server sends can drive the terminal: the installed CLI against a server of ours that answers
every endpoint with escape sequences, C1 controls, bidi overrides and lone surrogates.

Every byte the CLI writes to stdout and stderr is checked: no ESC, no C1 control (in any decoding), no bidi or
other format character, no lone surrogate (which Python writes as a raw byte under ``surrogateescape``). Each
test also checks the hostile text did arrive, escaped, so the path it guards was really taken.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from hyperframes_auth.adapters.credentials_file import CredentialsFile
from hyperframes_auth.domain.credentials import CredentialsDocument, OAuthTokens

from .local_servers import Reply, Seen, TinyServer
from .test_cli_e2e import HYPERFRAMES, spawn

pytestmark = pytest.mark.contract

ATTACK = "\x1b]0;owned\x07\x1b[2J\x9b31m\u202eexe.txt\u2066\u200b\udc9b\udc1b\u2028end"
API_KEY = "hg_hostile_test_key_0001"
UNSAFE = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


def assert_inert(stream: bytes) -> str:
    """The bytes a command wrote can drive no terminal; returns them decoded (for further checks)."""
    assert b"\x1b" not in stream
    text = stream.decode("utf-8", "surrogateescape")
    bad = [f"U+{ord(ch):04X}" for ch in text if unicodedata.category(ch) in UNSAFE and ch != "\n"]
    assert bad == [], bad
    return text


def hostile_json(status: int, body: object, headers: dict[str, str] | None = None) -> Reply:
    # ensure_ascii: the escapes (\u001b, \u202e, \udc9b) are what arrives; the client decodes them into the text.
    return status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(body).encode()


class Hostile:
    """A server answering at every endpoint; ``routes`` maps ``METHOD path`` to an answer."""

    def __init__(self) -> None:
        self.routes: dict[str, Callable[[Seen], Reply]] = {}
        self.server = TinyServer(self.answer)

    def answer(self, seen: Seen) -> Reply:
        route = self.routes.get(f"{seen.method} {urlsplit(seen.path).path}")
        if route is None:
            return hostile_json(404, {"error": "not_found"})
        return route(seen)

    @property
    def url(self) -> str:
        return self.server.http


@pytest.fixture
def hostile() -> Iterator[Hostile]:
    server = Hostile()
    with server.server:
        yield server


def env_for(server: Hostile, tmp_path: Path, **extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("HEYGEN_", "HYPERFRAMES_", "SSH_")) and k != "CI"}
    base.pop("BROWSER", None)
    return {
        **base,
        "HEYGEN_API_URL": server.url,
        "HYPERFRAMES_OAUTH_AUTHORIZE_URL": f"{server.url}/oauth/authorize",
        "HYPERFRAMES_OAUTH_TOKEN_URL": f"{server.url}/v1/oauth/token",
        "HYPERFRAMES_OAUTH_REVOKE_URL": f"{server.url}/v1/oauth/revoke",
        "HYPERFRAMES_OAUTH_DEVICE_URL": f"{server.url}/v1/oauth/device_authorization",
        "HYPERFRAMES_OAUTH_CLIENT_ID": "hostile-test",
        "HEYGEN_CONFIG_DIR": str(tmp_path / "config"),
        "HF_NO_BROWSER": "1",
        "NO_COLOR": "1",
        **extra,
    }


def run(env: dict[str, str], *args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([HYPERFRAMES, *args], env=env, input=stdin, capture_output=True, timeout=60, check=False)


def signed_in(tmp_path: Path) -> OAuthTokens:
    tokens = OAuthTokens("at-hostile-0001", "rt-hostile-0001", "2000-01-01T00:00:00.000Z")
    CredentialsFile(str(tmp_path / "config" / "credentials")).write(CredentialsDocument(oauth=tokens))
    return tokens


IDENTITY = {
    "data": {
        "email": f"\u202emoc.elpmaxe@ecila{ATTACK}",
        "username": ATTACK,
        "first_name": ATTACK,
        "billing_type": ATTACK,
        "wallet": {"remaining_balance": ATTACK, "currency": ATTACK},
        "subscription": {
            "plan": ATTACK,
            "credits": {"premium_credits": {"remaining": ATTACK, "resets_at": ATTACK}},
        },
        "usage_based": {"spending_current_usd": ATTACK, "spending_cap_usd": ATTACK},
    }
}


def test_a_refresh_error_and_its_description_are_printed_inert(hostile: Hostile, tmp_path: Path) -> None:
    hostile.routes["POST /v1/oauth/token"] = lambda _s: hostile_json(
        400, {"error": f"invalid_grant{ATTACK}", "error_description": ATTACK, "error_uri": ATTACK}
    )
    signed_in(tmp_path)
    result = run(env_for(hostile, tmp_path), "auth", "refresh")
    assert result.returncode == 1
    err = assert_inert(result.stderr)
    assert_inert(result.stdout)
    assert err.startswith("Failed to refresh OAuth tokens: invalid_grant\\x1b]0;owned")
    assert "\\u202eexe.txt" in err
    assert "Traceback" not in err


def test_identity_fields_are_printed_inert_by_status_and_api_key_login(hostile: Hostile, tmp_path: Path) -> None:
    hostile.routes["GET /v3/users/me"] = lambda _s: hostile_json(200, IDENTITY)
    env = env_for(hostile, tmp_path)
    login = run(env, "auth", "login", "--api-key", stdin=f"{API_KEY}\n".encode())
    assert login.returncode == 0, login.stderr
    assert "Authenticated as \\u202emoc.elpmaxe@ecila\\x1b]0;owned" in assert_inert(login.stdout)
    assert_inert(login.stderr)
    status = run(env, "auth", "status")
    assert status.returncode == 0, status.stderr
    out = assert_inert(status.stdout)
    assert_inert(status.stderr)
    for row in ("Account:", "Billing:", "Wallet:", "Plan:", "Premium credits:", "Usage:"):
        assert re.search(rf"^{row}.*\\x1b", out, re.MULTILINE), (row, out)


def test_status_json_is_inert_and_still_json(hostile: Hostile, tmp_path: Path) -> None:
    hostile.routes["GET /v3/users/me"] = lambda _s: hostile_json(200, IDENTITY)
    env = env_for(hostile, tmp_path, HEYGEN_API_KEY=API_KEY)
    result = run(env, "auth", "status", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(assert_inert(result.stdout))["user"]["first_name"] == ATTACK


def test_lone_surrogates_in_the_identity_neither_crash_the_output_nor_go_out_as_raw_bytes(
    hostile: Hostile, tmp_path: Path
) -> None:
    # U+DC9B would be the raw byte 0x9B (CSI) under surrogateescape; U+DC1B cannot be written at all.
    email = "alice\udc9b\udc1b\ud800@example.test"
    hostile.routes["GET /v3/users/me"] = lambda _s: hostile_json(200, {"data": {"email": email}})
    env = env_for(hostile, tmp_path, HEYGEN_API_KEY=API_KEY)
    as_json = run(env, "auth", "status", "--json")
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(assert_inert(as_json.stdout))["user"]["email"] == email  # valid JSON, the same value
    human = run(env, "auth", "status")
    assert human.returncode == 0, human.stderr
    assert "Account: alice\\udc9b\\udc1b\\ud800@example.test" in assert_inert(human.stdout)


def test_a_terminal_that_cannot_show_a_character_gets_its_escape_not_a_crash(hostile: Hostile, tmp_path: Path) -> None:
    hostile.routes["GET /v3/users/me"] = lambda _s: hostile_json(200, {"data": {"email": "josé@example.test"}})
    env = env_for(hostile, tmp_path, PYTHONIOENCODING="ascii")
    login = run(env, "auth", "login", "--api-key", stdin=f"{API_KEY}\n".encode())
    assert login.returncode == 0, login.stderr
    assert login.stdout == b"\\u2713 API key saved. Authenticated as jos\\xe9@example.test.\n"


def test_a_verbose_trace_of_a_hostile_redirect_is_inert(hostile: Hostile, tmp_path: Path) -> None:
    # On the wire: ESC sequences, a C1 CSI byte, and the UTF-8 bytes of U+202E (read back as latin-1 text).
    location = "/v3/users/me/next\x1b]0;owned\x07\x1b[2J\x9b31m" + "\u202e".encode().decode("latin-1") + "exe"

    def answer(seen: Seen) -> Reply:
        if seen.path.startswith("/v3/users/me/next"):
            return hostile_json(200, {"data": {"email": "alice@example.test"}})
        return 302, {"Location": location}, b""

    hostile.server.answer = answer
    env = env_for(hostile, tmp_path, HEYGEN_API_KEY=API_KEY)
    result = run(env, "auth", "status", "--verbose")
    err = assert_inert(result.stderr)
    assert_inert(result.stdout)
    assert result.returncode == 0, err
    assert re.search(r"\[http\] GET http://127\.0\.0\.1:\d+/v3/users/me/next%1B\]0;owned%07%1B\[2J%C2%9B31m", err), err
    assert "Account: alice@example.test" in result.stdout.decode()
    assert [s.path.split("%", 1)[0] for s in hostile.server.seen] == ["/v3/users/me", "/v3/users/me/next"]


def test_a_pasted_callback_error_description_is_printed_inert(hostile: Hostile, tmp_path: Path) -> None:
    env = env_for(hostile, tmp_path, SSH_CONNECTION="10.0.0.1 5000 10.0.0.2 22")
    with spawn(env, "auth", "login") as (process, out, err):
        url = err.wait_for(r"(http://127\.0\.0\.1:\d+/oauth/authorize\?\S+)").group(1)
        err.wait_for(r"paste it here")
        query = parse_qs(urlsplit(url).query)
        redirect, state = query["redirect_uri"][0], query["state"][0]
        pasted = (
            f"{redirect}?state={state}&error=access_denied&error_description={quote(ATTACK, errors='surrogatepass')}"
        )
        assert process.stdin is not None
        process.stdin.write(pasted + "\n")
        process.stdin.flush()
        assert process.wait(30) == 1
        err.wait_for("Sign-in failed")
    for text in (out.seen, err.seen):
        assert_inert(text.encode("utf-8", "surrogateescape"))
    assert "The authorization server returned access_denied: \\x1b]0;owned" in err.seen
    assert [s.path for s in hostile.server.seen] == []  # nothing was exchanged


def test_a_device_code_and_the_identity_behind_it_are_printed_inert(hostile: Hostile, tmp_path: Path) -> None:
    base = hostile.url
    hostile.routes["POST /v1/oauth/device_authorization"] = lambda _s: hostile_json(
        200,
        {
            "device_code": "dc-hostile-0001",
            "user_code": f"WDJB-MJHT{ATTACK}",
            "verification_uri": f"{base}/device",
            "verification_uri_complete": f"{base}/device?user_code=\x1b[2J",  # refused: never shown
            "expires_in": 600,
            "interval": 1,
        },
    )
    hostile.routes["POST /v1/oauth/token"] = lambda _s: hostile_json(
        200, {"access_token": "at-hostile-device", "refresh_token": "rt-hostile-device", "token_type": "Bearer"}
    )
    hostile.routes["GET /v3/users/me"] = lambda _s: hostile_json(200, IDENTITY)
    result = run(env_for(hostile, tmp_path), "auth", "login", "--device")
    out = assert_inert(result.stdout)
    assert_inert(result.stderr)
    assert result.returncode == 0, result.stderr
    assert f"open {base}/device and enter the code: WDJB-MJHT\\x1b]0;owned" in out
    assert "(or open" not in out
    assert "Signed in as \\u202emoc.elpmaxe@ecila" in out


def test_a_redirect_to_an_impossible_port_is_a_network_error(hostile: Hostile, tmp_path: Path) -> None:
    hostile.server.answer = lambda _seen: (302, {"Location": "http://127.0.0.1:99999/v3/users/me"}, b"")
    result = run(env_for(hostile, tmp_path, HEYGEN_API_KEY=API_KEY), "auth", "status")
    assert b"Internal error" not in result.stderr + result.stdout
    assert b"Could not reach 127.0.0.1:99999" in result.stdout
