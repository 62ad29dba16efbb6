"""A credential never follows a redirect to another origin: ``HeyGenHttpxAuth`` on real httpx clients, real sockets.

The API (our :class:`TinyServer`) answers 301/302/303/307/308 to another origin; the client follows redirects
(``follow_redirects=True``), sync and async, with an API key (``x-api-key``) and with OAuth (``Authorization``).
Whatever arrives anywhere but the API's origin is recorded header by header and must hold neither. Another origin
is another port, another host name for the same socket (``localhost``), and an https -> http downgrade on the
same host: to another port, and to the very same port (the server speaks both).

httpx itself drops ``Authorization`` on a cross-origin hop, but it copies every other header: ``x-api-key`` is kept
off other origins only by the auth's ``trace`` hook, which strips credential headers just before they are written
to a connection. A ``next_request`` sent again through the auth, or a request rebuilt from its headers, is
stripped by the auth flow itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import attrs
import httpx
import pytest

from hyperframes_auth.domain.credentials import CredentialsDocument, OAuthTokens
from hyperframes_auth.domain.primitives import format_instant
from tests.fakes import SETTINGS, T0, FakeClock, FakeStore, facade

from .local_servers import Reply, Seen, TinyServer
from .tls import Pki, make_pki

pytestmark = pytest.mark.contract

API_KEY = "hg_redirect_test_key_0001"
ACCESS = "at-redirect-test-0001"
REDIRECTS = (301, 302, 303, 307, 308)
CREDENTIALS = {"authorization", "x-api-key"}


def stored(kind: str) -> CredentialsDocument:
    if kind == "api_key":
        return CredentialsDocument(api_key=API_KEY)
    fresh = format_instant(T0 + timedelta(hours=1))
    return CredentialsDocument(oauth=OAuthTokens(ACCESS, "rt-redirect-test", fresh))


def expected(kind: str) -> tuple[str, str]:
    return ("x-api-key", API_KEY) if kind == "api_key" else ("authorization", f"Bearer {ACCESS}")


def leaked(seen: list[Seen]) -> list[tuple[str, str]]:
    """Every credential header (and every header carrying a credential's value) that reached a server."""
    return [
        (name, value)
        for request in seen
        for name, value in request.headers
        if name.lower() in CREDENTIALS or API_KEY in value or ACCESS in value
    ]


class Api:
    """The API server: ``/go/<status>?to=<url>`` redirects there; anything else is a plain 200."""

    def __init__(self, tls: Pki | None = None) -> None:
        self.server = TinyServer(self.answer, tls.server_context() if tls else None)
        self.targets: dict[str, str] = {}

    def answer(self, seen: Seen) -> Reply:
        if seen.path.startswith("/go/"):
            status = int(seen.path.split("/")[2].split("?")[0])
            return status, {"Location": self.targets[seen.path]}, b""
        return 200, {"Content-Type": "text/plain"}, b"api"

    def redirect(self, status: int, target: str) -> str:
        path = f"/go/{status}?n={len(self.targets)}"
        self.targets[path] = target
        return path


@pytest.fixture
def other() -> Iterator[TinyServer]:
    with TinyServer(lambda _seen: (200, {"Content-Type": "text/plain"}, b"other")) as server:
        yield server


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(Path(tmp_path_factory.mktemp("ca")))


def make_auth(api_url: str, kind: str):  # type: ignore[no-untyped-def]
    settings = attrs.evolve(SETTINGS, api_url=api_url)
    return facade(settings, env={}, store=FakeStore(stored(kind)), clock=FakeClock())


def get_sync(auth_url: str, kind: str, url: str, verify: object = True, follow: bool = True) -> httpx.Response:
    with httpx.Client(
        auth=make_auth(auth_url, kind).httpx_auth(), follow_redirects=follow, verify=verify, trust_env=False
    ) as client:
        return client.get(url)


def get_async(auth_url: str, kind: str, url: str, verify: object = True) -> httpx.Response:
    async def go() -> httpx.Response:
        async with httpx.AsyncClient(
            auth=make_auth(auth_url, kind).httpx_auth(), follow_redirects=True, verify=verify, trust_env=False
        ) as client:
            return await client.get(url)

    return asyncio.run(go())


GETTERS = {"sync": get_sync, "async": get_async}


def through_redirect(
    client: str, kind: str, status: int, target: Callable[[TinyServer], str], tls: Pki | None = None
) -> tuple[Api, httpx.Response]:
    """Ask the API (over https when ``tls`` is given) for a path it redirects with ``status`` to ``target`` (of the
    API's own server); the answer, and the API whose server has stopped, with what it saw."""
    api = Api(tls)
    with api.server:
        path = api.redirect(status, target(api.server))
        base = api.server.https if tls else api.server.http
        verify = (tls.client_context(),) if tls else ()
        response = GETTERS[client](base, kind, f"{base}{path}", *verify)
    return api, response


def only_the_first_carried_it(api: Api, kind: str) -> tuple[Seen, Seen]:
    """The API's socket got two requests, the redirecting one and the landing on another origin: the credential
    went with the first only."""
    first, landing = api.server.seen
    assert leaked([landing]) == []
    name, value = expected(kind)
    assert first.header(name) == value
    return first, landing


@pytest.mark.parametrize("client", ["sync", "async"])
@pytest.mark.parametrize("kind", ["api_key", "oauth"])
@pytest.mark.parametrize("status", REDIRECTS)
def test_no_credential_reaches_another_port(other: TinyServer, client: str, kind: str, status: int) -> None:
    api, response = through_redirect(client, kind, status, lambda _api: f"{other.http}/landing")
    assert response.status_code == 200
    assert response.text == "other"
    assert [s.path for s in other.seen] == ["/landing"]
    assert leaked(other.seen) == []
    name, value = expected(kind)
    assert api.server.seen[0].header(name) == value  # the API itself got the credential


@pytest.mark.parametrize("client", ["sync", "async"])
@pytest.mark.parametrize("kind", ["api_key", "oauth"])
@pytest.mark.parametrize("status", REDIRECTS)
def test_no_credential_reaches_another_host_name_on_the_same_socket(client: str, kind: str, status: int) -> None:
    api, response = through_redirect(client, kind, status, lambda server: f"http://localhost:{server.port}/landing")
    assert response.text == "api"
    _, landing = only_the_first_carried_it(api, kind)
    assert landing.header("host") == f"localhost:{api.server.port}"


@pytest.mark.parametrize("client", ["sync", "async"])
@pytest.mark.parametrize("kind", ["api_key", "oauth"])
@pytest.mark.parametrize("status", REDIRECTS)
def test_a_same_origin_redirect_keeps_the_credential(client: str, kind: str, status: int) -> None:
    api, response = through_redirect(client, kind, status, lambda _api: "/landing")
    assert response.text == "api"
    name, value = expected(kind)
    path = next(iter(api.targets))
    assert [(s.path, s.header(name)) for s in api.server.seen] == [(path, value), ("/landing", value)]


@pytest.mark.parametrize("client", ["sync", "async"])
@pytest.mark.parametrize("kind", ["api_key", "oauth"])
@pytest.mark.parametrize("status", REDIRECTS)
def test_an_https_to_http_downgrade_on_the_same_host_and_port_carries_no_credential(
    tls: Pki, client: str, kind: str, status: int
) -> None:
    # The same host, the same port, plain http.
    api, response = through_redirect(client, kind, status, lambda server: f"{server.http}/landing", tls)
    assert response.text == "api"
    first, landing = only_the_first_carried_it(api, kind)
    assert (first.tls, landing.tls) == (True, False)


@pytest.mark.parametrize("client", ["sync", "async"])
@pytest.mark.parametrize("kind", ["api_key", "oauth"])
@pytest.mark.parametrize("status", REDIRECTS)
def test_an_https_to_http_downgrade_to_another_port_carries_no_credential(
    tls: Pki, other: TinyServer, client: str, kind: str, status: int
) -> None:
    api, response = through_redirect(client, kind, status, lambda _api: f"{other.http}/landing", tls)
    assert response.text == "other"
    assert leaked(other.seen) == []
    assert api.server.seen[0].tls


@pytest.mark.parametrize("kind", ["api_key", "oauth"])
@pytest.mark.parametrize("status", REDIRECTS)
def test_a_next_request_sent_again_through_the_auth_carries_no_credential(
    other: TinyServer, kind: str, status: int
) -> None:
    api = Api()
    with api.server:
        path = api.redirect(status, f"{other.http}/landing")
        auth = make_auth(api.server.http, kind).httpx_auth()
        with httpx.Client(auth=auth, follow_redirects=False, trust_env=False) as client:
            first = client.get(f"{api.server.http}{path}")
            assert first.status_code == status
            following = first.next_request
            assert following is not None
            assert client.send(following).text == "other"
            # The same request rebuilt by hand from its headers (no trace hook on it): the flow strips it too.
            rebuilt = httpx.Request(following.method, following.url, headers=following.headers)
            assert client.send(rebuilt).text == "other"
    assert [s.path for s in other.seen] == ["/landing", "/landing"]
    assert leaked(other.seen) == []


def test_a_callers_own_trace_hook_still_runs(other: TinyServer) -> None:
    api = Api()
    events: list[str] = []
    with api.server:
        path = api.redirect(302, f"{other.http}/landing")
        auth = make_auth(api.server.http, "api_key").httpx_auth()
        with httpx.Client(auth=auth, follow_redirects=True, trust_env=False) as client:
            response = client.get(
                f"{api.server.http}{path}", extensions={"trace": lambda name, _info: events.append(name)}
            )
    assert response.text == "other"
    assert events.count("http11.send_request_headers.started") == 2
    assert leaked(other.seen) == []
