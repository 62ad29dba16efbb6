"""Redaction by value: a server that echoes a secret back, in a shape no pattern knows, never gets it printed.

The fake server answers chosen endpoints with a function of the request, so it can echo what it was sent:
``code: X, code_verifier: Y``, ``Invalid API key <key>``, ``RT was <rt>``, in every spelling an upstream may use
(raw, form- and path-URL-encoded with upper- or lower-case hex, JSON-escaped with or without ``\\/``). The secrets
hold the characters those spellings change (``/ + = ~ . " \\``) around a distinctive core; neither the secret in
any spelling nor its core may appear in an error's message or hint, a notice, or anything the CLI prints.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from datetime import timedelta
from urllib.parse import quote, quote_plus, urlsplit

import attrs
import pytest

from hyperframes_auth.domain.credentials import CredentialsDocument, OAuthTokens
from hyperframes_auth.domain.errors import (
    ApiError,
    AuthError,
    AuthorizationDenied,
    CodeRejected,
    DeviceAuthFailed,
    RefreshFailed,
    ServerUnavailable,
    Unauthenticated,
)
from hyperframes_auth.domain.http import HttpRequest, HttpResponse
from hyperframes_auth.domain.primitives import format_instant
from hyperframes_auth.domain.resolve import ApiKeyCredential, OAuthCredential
from hyperframes_auth.entrypoints.main import main
from hyperframes_auth.entrypoints.terminal import Terminal
from tests.fakes import ENV, T0, FakeAuthServer, World, json_response

CORES = {"code": "CodeCore7731", "refresh": "RefreshCore5512", "access": "AccessCore2290", "key": "KeyCore6408"}
CODE = f'Zc/+=~."\\{CORES["code"]}/x'
REFRESH = f'Zr/+=~."\\{CORES["refresh"]}+y'
ACCESS = f"Za/+=~.{CORES['access']}-z"  # an access token cannot hold a quote or a backslash in a header
API_KEY = f"Zk/+=~.{CORES['key']}_w"
DEVICE = 'Zd/+=~."\\DeviceCore3341=v'
CORES["device"] = "DeviceCore3341"

ENCODINGS: dict[str, Callable[[str], str]] = {
    "raw": lambda s: s,
    "form": quote_plus,
    "path": lambda s: quote(s, safe=""),
    "lower-hex": lambda s: re.sub("%[0-9A-F]{2}", lambda m: m.group(0).lower(), quote(s, safe="")),
    "json": lambda s: json.dumps(s)[1:-1],
    "json-slash": lambda s: json.dumps(s)[1:-1].replace("/", "\\/"),
}


def text_of(error: AuthError) -> str:
    return f"{error.message}\n{error.hint}\n{error!r}\n{error}"


def assert_clean(text: str, *secrets: str) -> None:
    for secret in secrets:
        for name, spell in ENCODINGS.items():
            assert spell(secret) not in text, (name, text)
    for core in CORES.values():
        assert core not in text, text


class EchoServer(FakeAuthServer):
    """The fake authorization server and API, except that ``echo[path]`` answers that path (it sees the request)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.echo: dict[str, Callable[[HttpRequest], HttpResponse]] = {}

    def _answer(self, request: HttpRequest) -> HttpResponse:
        handler = self.echo.get(urlsplit(request.url).path)
        if handler is None:
            return super()._answer(request)
        self.requests.append(request)
        return handler(request)


def echo_world(doc: CredentialsDocument | None = None, **kw: object) -> World:
    world = World(doc, **kw)  # type: ignore[arg-type]
    server = EchoServer(world.clock)
    world.server = server
    world.ports = world.ports_with(server)
    world.service = type(world.service)(world.service.config, world.ports, world.service.env, world.service.api_url)
    return world


def text(status: int, body: str) -> HttpResponse:
    return HttpResponse(status, {"content-type": "text/plain"}, body.encode())


STORED = CredentialsDocument(
    api_key=API_KEY,
    oauth=OAuthTokens(ACCESS, REFRESH, format_instant(T0 + timedelta(hours=1))),
)

# ---------------------------------------------------------------------------------------------- the code exchange


@pytest.mark.parametrize("spelling", ENCODINGS)
@pytest.mark.parametrize("shape", ["text", "oauth-json", "other-json"])
def test_a_code_exchange_echoing_the_code_and_verifier(spelling: str, shape: str) -> None:
    world = echo_world()
    spell = ENCODINGS[spelling]

    def answer(request: HttpRequest) -> HttpResponse:
        form = request.form()
        said = f"code: {spell(form['code'])}, code_verifier: {spell(form['code_verifier'])}"
        if shape == "oauth-json":
            return json_response(400, {"error": "invalid_grant", "error_description": said})
        if shape == "other-json":
            return HttpResponse(400, {"content-type": "application/json"}, f'{{"message":"{said}"}}'.encode())
        return text(400, said)

    world.server.echo["/v1/oauth/token"] = answer
    world.browser.user = lambda url: world.listener.deliver({**world.server.approve(url), "code": CODE})
    with pytest.raises(CodeRejected) as info:
        world.service.login_browser()
    verifier = world.server.requests[-1].form()["code_verifier"]
    assert_clean(text_of(info.value), CODE, verifier)
    assert "code: " in info.value.message  # the body was quoted, with the secrets cut out
    assert_clean(repr(world.notices), CODE, verifier)


# ---------------------------------------------------------------------------------------------- refresh


@pytest.mark.parametrize("spelling", ENCODINGS)
@pytest.mark.parametrize("shape", ["text", "oauth-json", "other-json", "server-error"])
def test_a_refresh_echoing_the_refresh_token_the_access_token_and_the_api_key(spelling: str, shape: str) -> None:
    world = echo_world(STORED)
    spell = ENCODINGS[spelling]
    said = f"RT was {spell(REFRESH)}; Invalid API key {spell(API_KEY)}; token {spell(ACCESS)}"
    world.server.echo["/v1/oauth/token"] = {
        "text": lambda _r: text(400, said),
        "oauth-json": lambda _r: json_response(400, {"error": "invalid_grant", "error_description": said}),
        "other-json": lambda _r: HttpResponse(400, {}, json.dumps({"message": said}).encode()),
        "server-error": lambda _r: text(500, said),
    }[shape]
    with pytest.raises((RefreshFailed, ApiError)) as info:
        world.service.refresh()
    assert_clean(text_of(info.value), REFRESH, API_KEY, ACCESS)
    assert "RT was" in info.value.message


# ---------------------------------------------------------------------------------------------- device polling


@pytest.mark.parametrize("spelling", ENCODINGS)
def test_a_device_poll_echoing_the_device_code(spelling: str) -> None:
    world = echo_world()
    spell = ENCODINGS[spelling]
    world.server.echo["/v1/oauth/device_authorization"] = lambda _r: json_response(
        200,
        {
            "device_code": DEVICE,
            "user_code": "WXYZ-1234",
            "verification_uri": "https://auth.test/device",
            "expires_in": 600,
            "interval": 5,
        },
    )
    world.server.echo["/v1/oauth/token"] = lambda r: json_response(
        400, {"error": "unexpected", "error_description": f"device_code {spell(r.form()['device_code'])} unknown"}
    )
    with pytest.raises(DeviceAuthFailed) as info:
        world.service.login_device()
    assert_clean(text_of(info.value), DEVICE)
    assert "device_code" in info.value.message


# ---------------------------------------------------------------------------------------------- /v3/users/me


@pytest.mark.parametrize("spelling", ENCODINGS)
@pytest.mark.parametrize(("status", "error"), [(401, Unauthenticated), (403, ApiError), (503, ServerUnavailable)])
@pytest.mark.parametrize("kind", ["api_key", "oauth"])
def test_the_identity_check_echoing_the_credential(spelling: str, status: int, error: type, kind: str) -> None:
    world = echo_world()
    secret = API_KEY if kind == "api_key" else ACCESS
    world.server.echo["/v3/users/me"] = lambda _r: text(status, f"Invalid API key {ENCODINGS[spelling](secret)}")
    credential = (
        ApiKeyCredential(API_KEY, "env")
        if kind == "api_key"
        else OAuthCredential(OAuthTokens(ACCESS), "env_oauth")  # no refresh token: no retry
    )
    with pytest.raises(error) as info:
        world.service.whoami(credential)
    assert_clean(text_of(info.value), secret)
    assert "Invalid API key" in info.value.message


@pytest.mark.parametrize("spelling", ["raw", "form"])
def test_a_2xx_non_json_identity_answer_echoing_the_api_key(spelling: str) -> None:
    world = echo_world()
    world.server.echo["/v3/users/me"] = lambda _r: HttpResponse(
        200, {"content-type": "text/html"}, f"<p>Invalid API key {ENCODINGS[spelling](API_KEY)}</p>".encode()
    )
    with pytest.raises(ApiError) as info:
        world.service.whoami(ApiKeyCredential(API_KEY, "env"))
    assert_clean(text_of(info.value), API_KEY)


# ---------------------------------------------------------------------------------------------- revocation


@pytest.mark.parametrize("spelling", ENCODINGS)
@pytest.mark.parametrize("status", [400, 503])
def test_a_revocation_echoing_the_tokens(spelling: str, status: int) -> None:
    world = echo_world(STORED)
    spell = ENCODINGS[spelling]
    world.server.echo["/v1/oauth/revoke"] = lambda r: text(status, f"cannot revoke {spell(r.form()['token'])}")
    result = world.service.logout()
    assert result.revoked
    assert len(result.remarks) == 2
    assert_clean(repr(result) + repr(world.notices) + "\n".join(result.remarks), REFRESH, ACCESS, API_KEY)


# ---------------------------------------------------------------------------------------------- the callback


@pytest.mark.parametrize("spelling", ENCODINGS)
def test_a_callback_error_description_echoing_the_state(spelling: str) -> None:
    world = echo_world()
    seen: list[str] = []

    def deny(url: str) -> None:
        query = world.server.deny(url)
        seen.append(query["state"])
        query["error_description"] = f"state {ENCODINGS[spelling](query['state'])} was refused"
        query["error"] = f"access_denied:{query['state']}"
        world.listener.deliver(query)

    world.browser.user = deny
    with pytest.raises(AuthorizationDenied) as info:
        world.service.login_browser()
    (state,) = seen
    assert_clean(text_of(info.value) + str(info.value.description), state)
    assert state not in repr(world.listener.outcome)
    assert "was refused" in info.value.message


# ---------------------------------------------------------------------------------------------- what the CLI prints


class _Env(dict):  # the world's endpoints, plus a test's variables
    pass


def run_cli(world: World, *args: str, **env: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    terminal = Terminal(out=out, err=err, stdin=io.StringIO(""), env=_Env({**ENV, **env}), adapters=world.adapters())
    code = main(list(args), terminal)
    return code, out.getvalue() + err.getvalue()


def echo_what_was_sent(world: World, spell: Callable[[str], str]) -> None:
    """Every endpoint answers with an error that quotes the secret its request carried."""

    def token(request: HttpRequest) -> HttpResponse:
        said = f"RT was {spell(request.form().get('refresh_token', ''))}"
        return json_response(400, {"error": "invalid_grant", "error_description": said})

    def me(request: HttpRequest) -> HttpResponse:
        sent = request.headers.get("x-api-key") or request.headers.get("authorization", "").removeprefix("Bearer ")
        return text(401, f"Invalid API key {spell(sent)}")

    world.server.echo["/v1/oauth/token"] = token
    world.server.echo["/v3/users/me"] = me
    world.server.echo["/v1/oauth/revoke"] = lambda r: text(400, f"cannot revoke {spell(r.form()['token'])}")


@pytest.mark.parametrize("spelling", ENCODINGS)
def test_the_cli_never_prints_an_echoed_secret(spelling: str) -> None:
    world = echo_world(attrs.evolve(STORED, api_key=None))
    echo_what_was_sent(world, ENCODINGS[spelling])
    printed = [
        (args, *run_cli(world, *args))
        for args in (["auth", "refresh"], ["auth", "status"], ["auth", "status", "--json"], ["auth", "logout", "--yes"])
    ]
    assert [(a, c) for a, c, _ in printed] == [
        (["auth", "refresh"], 1),
        (["auth", "status"], 1),
        (["auth", "status", "--json"], 1),
        (["auth", "logout", "--yes"], 0),
    ]
    env_key = run_cli(world, "auth", "status", HEYGEN_API_KEY=API_KEY)
    assert env_key[0] == 1
    assert "RT was" in printed[0][2]
    assert "Invalid API key" in printed[1][2]
    assert "Invalid API key" in env_key[1]
    assert_clean("\n".join(o for _, _, o in printed) + env_key[1], REFRESH, API_KEY, ACCESS)
