"""Settings from the environment: defaults, overrides, endpoint rules, the config directory, the store kind."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hyperframes_auth.domain.client import check_endpoint
from hyperframes_auth.domain.errors import ConfigError
from hyperframes_auth.entrypoints.settings import DEFAULT_CLIENT_ID, Settings


def test_defaults_are_heygens_hosts():
    s = Settings.from_env({}, "/home/u")
    assert s.api_url == "https://api.heygen.com"
    assert s.authorize_url == "https://app.heygen.com/oauth/authorize"
    assert s.token_url == "https://api2.heygen.com/v1/oauth/token"
    assert s.revoke_url == "https://api2.heygen.com/v1/oauth/revoke"
    assert s.device_url == "https://api2.heygen.com/v1/oauth/device_authorization"
    assert s.client_id == DEFAULT_CLIENT_ID
    assert s.scope == "openid profile email"
    assert s.credentials_path == "/home/u/.heygen/credentials"
    assert s.userinfo_url == "https://api.heygen.com/v3/users/me"


def test_overrides_and_empty_values_count_as_unset():
    env = {
        "HEYGEN_API_URL": "https://api.dev.example/",
        "HEYGEN_CONFIG_DIR": "",
        "HYPERFRAMES_OAUTH_CLIENT_ID": "",
    }
    s = Settings.from_env(env, "/home/u")
    assert s.api_url == "https://api.dev.example"
    assert s.config_dir == "/home/u/.heygen"
    assert s.client_id == DEFAULT_CLIENT_ID
    assert Settings.from_env({"HEYGEN_CONFIG_DIR": "/x/y"}, "/home/u").credentials_path == "/x/y/credentials"


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080/t", "http://localhost/t", "http://[::1]:9/t", "https://example.com/t"]
)
def test_https_or_loopback_http_is_accepted(url):
    assert check_endpoint("X", url) == url


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/t",
        "http://127.0.0.1.evil.test/t",
        "ftp://example.com",
        "javascript:alert(1)",
        " https://example.com",
        "https://example.com\n",
        "https://user:pw@example.com",
        "https://example.com\\@evil",
        "https:///nohost",
        "http://[::ffff:127.0.0.1]/t",
    ],
)
def test_everything_else_is_refused(url):
    with pytest.raises(ConfigError) as info:
        check_endpoint("HEYGEN_API_URL", url)
    assert info.value.exit_code == 2


def test_relative_or_control_char_config_dir_is_refused():
    with pytest.raises(ConfigError):
        Settings.from_env({"HEYGEN_CONFIG_DIR": "rel/dir"}, "/home/u")
    with pytest.raises(ConfigError):
        Settings.from_env({"HEYGEN_CONFIG_DIR": "/a\nb"}, "/home/u")


def test_store_kind_and_remote_detection():
    assert Settings.from_env({"HYPERFRAMES_CREDENTIALS_STORE": "encrypted"}, "/h").store == "encrypted"
    with pytest.raises(ConfigError):
        Settings.from_env({"HYPERFRAMES_CREDENTIALS_STORE": "keychain"}, "/h")
    assert Settings.from_env({"SSH_CONNECTION": "1 2 3 4"}, "/h").remote
    assert Settings.from_env({"BROWSER": "none"}, "/h").no_browser
    assert Settings.from_env({"HF_NO_BROWSER": "1"}, "/h").no_browser


@given(st.text(max_size=80))
def test_any_url_is_accepted_or_refused_with_our_error(url):
    with contextlib.suppress(ConfigError):
        check_endpoint("X", url)


def test_the_encrypted_store_is_remembered_once_chosen(tmp_path):
    env = {"HEYGEN_CONFIG_DIR": str(tmp_path)}
    assert Settings.from_env(env).store == "file"
    (tmp_path / "credentials.enc").write_bytes(b"x")
    assert Settings.from_env(env).store == "encrypted"
    assert (
        Settings.from_env({**env, "HYPERFRAMES_CREDENTIALS_STORE": "file"}).store == "file"
    )  # an explicit choice wins
