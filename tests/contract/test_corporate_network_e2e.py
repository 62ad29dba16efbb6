"""The installed CLI and the facade on a corporate network, end to end.

The real authorization server sits behind ``TlsReverseProxy`` (https, a certificate from a CA made here), and
every request goes through ``ForwardProxy`` (a CONNECT proxy that wants a user and password), as behind a
TLS-inspecting company proxy. The CLI runs as a subprocess with HTTPS_PROXY and SSL_CERT_FILE set; the facade
gets the same variables as its ``env``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from hyperframes_auth import HeyGenAuth
from hyperframes_auth.entrypoints.settings import Settings

from .conftest import AuthServer
from .people import expire_stored_token, forget_environment, sign_in
from .test_cli_e2e import cli_env, hf
from .tls import ForwardProxy, Pki, TlsReverseProxy, make_pki

pytestmark = pytest.mark.contract

USER, PASSWORD = "corp", "proxy-pass-\u00e9-7731"
QUOTED = "proxy-pass-%C3%A9-7731"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"), "Example Corp TLS inspection CA")


@pytest.fixture
def front(auth_server: AuthServer, pki: Pki) -> Iterator[TlsReverseProxy]:
    server = TlsReverseProxy(auth_server.url, pki).serve()
    yield server
    server.stop()


@pytest.fixture
def proxy() -> Iterator[ForwardProxy]:
    server = ForwardProxy(credentials=(USER, PASSWORD))
    yield server
    server.close()


def behind_the_proxy(front: TlsReverseProxy, proxy: ForwardProxy, pki: Pki | None) -> dict[str, str]:
    """The endpoints as https URLs of the TLS front, reached through the proxy; trusting ``pki`` when given."""
    base = front.base()
    env = {
        "HEYGEN_API_URL": base,
        "HYPERFRAMES_OAUTH_TOKEN_URL": f"{base}/v1/oauth/token",
        "HYPERFRAMES_OAUTH_REVOKE_URL": f"{base}/v1/oauth/revoke",
        "HYPERFRAMES_OAUTH_DEVICE_URL": f"{base}/v1/oauth/device_authorization",
        "HTTPS_PROXY": proxy.url(USER, QUOTED),
        "NO_PROXY": "example.com",
        # The system store only (the process may have SSL_CERT_FILE set to it): the private CA is not in it.
        "SSL_CERT_FILE": str(pki.ca) if pki is not None else "/etc/ssl/certs/ca-certificates.crt",
    }
    if pki is None and not Path(env["SSL_CERT_FILE"]).exists():
        env.pop("SSL_CERT_FILE")
    return env


def tunnels(proxy: ForwardProxy, front: TlsReverseProxy) -> list[str | None]:
    """The Proxy-Authorization of every CONNECT to the front (anything else through the proxy fails the test)."""
    assert {(s.method, s.target) for s in proxy.seen} == {("CONNECT", f"localhost:{front.port}")}, proxy.seen
    return [s.authorization for s in proxy.seen]


BASIC = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()


def test_status_and_refresh_through_a_tls_inspecting_proxy(
    auth_server: AuthServer, front: TlsReverseProxy, proxy: ForwardProxy, pki: Pki, tmp_path: Path
) -> None:
    sign_in(auth_server, tmp_path)
    forget_environment(tmp_path)  # signed in directly; used through the front from now on
    env = cli_env(auth_server, tmp_path, **behind_the_proxy(front, proxy, pki))
    status = hf(env, "auth", "status", "--json")
    assert status.returncode == 0, status.stderr
    report = json.loads(status.stdout)
    assert report["user"]["email"] == "alice@example.test"
    assert report["api_error"] is None
    assert tunnels(proxy, front) == [BASIC]

    stored = json.loads((tmp_path / "config" / "credentials").read_text())["oauth"]
    expire_stored_token(tmp_path)
    refreshed = hf(env, "auth", "refresh", "--verbose")
    assert refreshed.returncode == 0, refreshed.stderr
    assert refreshed.stdout.strip() == "✓ Refreshed OAuth access token."
    rotated = json.loads((tmp_path / "config" / "credentials").read_text())["oauth"]
    assert rotated["refresh_token"] != stored["refresh_token"]
    assert f"[http] POST {front.base()}/v1/oauth/token -> 200" in refreshed.stderr
    assert f"via proxy 127.0.0.1:{proxy.port}" in refreshed.stderr
    for secret in (PASSWORD, QUOTED, BASIC.split()[1], stored["refresh_token"], rotated["refresh_token"]):
        assert secret not in refreshed.stderr + refreshed.stdout + status.stderr + status.stdout
    assert tunnels(proxy, front) == [BASIC, BASIC]


def test_without_the_proxy_ca_the_cli_says_which_variable_to_set(
    auth_server: AuthServer, front: TlsReverseProxy, proxy: ForwardProxy, tmp_path: Path
) -> None:
    sign_in(auth_server, tmp_path)
    forget_environment(tmp_path)
    env = cli_env(auth_server, tmp_path, **behind_the_proxy(front, proxy, None))
    before = (tmp_path / "config" / "credentials").read_bytes()
    expire_stored_token(tmp_path)
    expired = (tmp_path / "config" / "credentials").read_bytes()
    refresh = hf(env, "auth", "refresh")
    assert refresh.returncode == 1
    lines = refresh.stderr.splitlines()
    assert lines[0].startswith(f"Could not verify the TLS certificate of localhost:{front.port}"), refresh.stderr
    assert "If a proxy inspects TLS, set SSL_CERT_FILE to its CA bundle" in refresh.stderr
    assert "Traceback" not in refresh.stderr
    assert "SSLCertVerificationError" not in refresh.stderr
    assert (tmp_path / "config" / "credentials").read_bytes() == expired != before  # nothing lost, nothing spent

    status = hf(env, "auth", "status", "--json")
    assert status.returncode == 1
    assert json.loads(status.stdout)["api_error"].startswith(
        f"Could not verify the TLS certificate of localhost:{front.port}"
    )
    assert PASSWORD not in refresh.stderr + status.stdout + status.stderr


def test_the_facade_whoami_through_the_proxy(
    auth_server: AuthServer, front: TlsReverseProxy, proxy: ForwardProxy, pki: Pki, tmp_path: Path
) -> None:
    env = {**sign_in(auth_server, tmp_path), **behind_the_proxy(front, proxy, pki)}
    forget_environment(tmp_path)
    expire_stored_token(tmp_path)
    with HeyGenAuth(Settings.from_env(env, str(tmp_path)), env=env) as auth:
        assert auth.whoami().email == "alice@example.test"
    assert tunnels(proxy, front) == [BASIC, BASIC]  # the refresh, then /v3/users/me
