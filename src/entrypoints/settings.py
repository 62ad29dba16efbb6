"""Settings: every knob of hyperframes-auth in one frozen value, read from an environment mapping passed in.

Configuration comes from the environment and from explicit arguments only. Unlike the TypeScript CLI we never
read a ``.env`` file from the working directory: a ``.env`` in a cloned repository could point ``HEYGEN_API_URL``
at another host and receive the person's tokens.

Build it with :meth:`Settings.from_env` (what the CLI does) or directly (what a program embedding us may do);
either way every endpoint is checked (https, except on loopback hosts) when the value is made.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any, Literal

import attrs

from ..domain.client import (
    DEVICE_MIN_INTERVAL,
    LOGIN_TIMEOUT,
    NETWORK_DEADLINE,
    REQUEST_TIMEOUT,
    ClientConfig,
)
from ..domain.errors import ConfigError
from ..domain.primitives import DEFAULT_LEEWAY, check_endpoint
from ..domain.redact import has_control_chars
from ..domain.value import Value
from .environment import (
    DEFAULT_API_URL,
    DEFAULT_AUTHORIZE_URL,
    DEFAULT_CLIENT_ID,
    DEFAULT_DEVICE_URL,
    DEFAULT_REVOKE_URL,
    DEFAULT_SCOPE,
    DEFAULT_TOKEN_URL,
    REMOTE_VARIABLES,
    STORE_KINDS,
    config_dir,
    remembered_store,
)

StoreKind = Literal["file", "encrypted"]
TransportKind = Literal["httpx", "stdlib"]
Validator = Callable[[Any, "attrs.Attribute[Any]", Any], None]


def _endpoint(name: str) -> Validator:
    """A validator for an endpoint field (``name`` is what errors call it)."""

    def check(_instance: object, _attribute: attrs.Attribute[Any], value: object) -> None:
        if not isinstance(value, str):
            raise ConfigError(f"{name} must be a string")
        check_endpoint(name, value)

    return check


def _no_trailing_slash(url: str) -> str:
    """Typed ``str`` so that type checkers refuse a URL of another type; at run time anything else passes through
    to the validator, which says what is wrong (``ConfigError``)."""
    return url.rstrip("/") if isinstance(url, str) else url


def _seconds(_instance: object, attribute: attrs.Attribute[float], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 10**7:
        raise ConfigError(f"{attribute.name} must be a number of seconds, zero or more")


def _positive(instance: object, attribute: attrs.Attribute[float], value: object) -> None:
    _seconds(instance, attribute, value)
    if not value:
        raise ConfigError(f"{attribute.name} must be a positive number of seconds")


def _one_of(*choices: str) -> Validator:
    def check(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if value not in choices:
            raise ConfigError(f"{attribute.name} must be one of {', '.join(choices)}")

    return check


def _text(_instance: object, attribute: attrs.Attribute[str], value: object) -> None:
    if not isinstance(value, str) or not value or has_control_chars(value):
        raise ConfigError(f"{attribute.name} must be a non-empty string without control characters")


@attrs.frozen(kw_only=True, repr=False, eq=False)
class Settings(Value):
    """Everything a command or a library call needs to know, resolved once.

    Attributes:
        api_url: HeyGen's API base URL; credentials are sent only to its origin.
        authorize_url, token_url, revoke_url, device_url: the OAuth endpoints.
        client_id, scope, issuer: the OAuth client, the scopes to ask for, the expected RFC 9207 issuer.
        config_dir: the directory of the credentials file.
        store: ``file`` (the plain file shared with the TypeScript CLI) or ``encrypted``.
        verbose: show the ``hyperframes_auth`` logger (the redacted HTTP trace among it) on stderr (the CLI).
        trace: log each request on ``hyperframes_auth.http`` at DEBUG (method, URL without query, status, time).
        no_browser: never try to open a browser (``BROWSER=none``, ``HF_NO_BROWSER=1``).
        remote: the terminal is remote (SSH): offer the pasted-URL path rather than a browser.
        leeway: refresh this many seconds before the access token expires.
        login_timeout: how long a browser sign-in waits for the person.
        request_timeout: one request's time limit, connect to last byte.
        deadline: everything one operation sends, retries included.
        device_min_interval: the shortest device-flow poll interval (RFC 8628's 5 s; lower only for a test server).
        transport: ``httpx`` (the library's default) or ``stdlib`` (the CLI's: faster to start).
    """

    api_url: str = attrs.field(
        default=DEFAULT_API_URL, converter=_no_trailing_slash, validator=_endpoint("HEYGEN_API_URL")
    )
    authorize_url: str = attrs.field(
        default=DEFAULT_AUTHORIZE_URL,
        converter=_no_trailing_slash,
        validator=_endpoint("HYPERFRAMES_OAUTH_AUTHORIZE_URL"),
    )
    token_url: str = attrs.field(
        default=DEFAULT_TOKEN_URL, converter=_no_trailing_slash, validator=_endpoint("HYPERFRAMES_OAUTH_TOKEN_URL")
    )
    revoke_url: str = attrs.field(
        default=DEFAULT_REVOKE_URL, converter=_no_trailing_slash, validator=_endpoint("HYPERFRAMES_OAUTH_REVOKE_URL")
    )
    device_url: str = attrs.field(
        default=DEFAULT_DEVICE_URL, converter=_no_trailing_slash, validator=_endpoint("HYPERFRAMES_OAUTH_DEVICE_URL")
    )
    client_id: str = attrs.field(default=DEFAULT_CLIENT_ID, validator=_text)
    scope: str = attrs.field(default=DEFAULT_SCOPE, validator=_text)
    issuer: str | None = attrs.field(default=None, validator=attrs.validators.optional(_text))
    config_dir: str = attrs.field(factory=lambda: config_dir(os.environ), validator=_text)
    store: StoreKind = attrs.field(default="file", validator=_one_of(*STORE_KINDS))
    verbose: bool = False
    trace: bool = True
    no_browser: bool = False
    remote: bool = False
    leeway: float = attrs.field(default=DEFAULT_LEEWAY, validator=_seconds)
    login_timeout: float = attrs.field(default=LOGIN_TIMEOUT, validator=_positive)
    request_timeout: float = attrs.field(default=REQUEST_TIMEOUT, validator=_positive)
    deadline: float = attrs.field(default=NETWORK_DEADLINE, validator=_positive)
    device_min_interval: float = attrs.field(default=DEVICE_MIN_INTERVAL, validator=_positive)
    transport: TransportKind = attrs.field(default="httpx", validator=_one_of("httpx", "stdlib"))

    @classmethod
    def from_env(cls, env: Mapping[str, str], home: str | None = None) -> Settings:
        """Read settings from ``env`` (the process environment, or any mapping).

        Args:
            home: the home directory that ``~`` and the default ``~/.heygen`` stand for (``HOME`` by default).

        Raises:
            ConfigError: an endpoint, the config directory or the store kind is unacceptable.
        """
        directory = config_dir(env, home)
        store = (env.get("HYPERFRAMES_CREDENTIALS_STORE") or remembered_store(directory)).lower()
        if store not in STORE_KINDS:
            raise ConfigError(f"HYPERFRAMES_CREDENTIALS_STORE must be one of {', '.join(STORE_KINDS)}")
        kind: StoreKind = "encrypted" if store == "encrypted" else "file"
        return cls(
            api_url=env.get("HEYGEN_API_URL") or DEFAULT_API_URL,
            authorize_url=env.get("HYPERFRAMES_OAUTH_AUTHORIZE_URL") or DEFAULT_AUTHORIZE_URL,
            token_url=env.get("HYPERFRAMES_OAUTH_TOKEN_URL") or DEFAULT_TOKEN_URL,
            revoke_url=env.get("HYPERFRAMES_OAUTH_REVOKE_URL") or DEFAULT_REVOKE_URL,
            device_url=env.get("HYPERFRAMES_OAUTH_DEVICE_URL") or DEFAULT_DEVICE_URL,
            client_id=env.get("HYPERFRAMES_OAUTH_CLIENT_ID") or DEFAULT_CLIENT_ID,
            scope=env.get("HYPERFRAMES_OAUTH_SCOPE") or DEFAULT_SCOPE,
            issuer=env.get("HYPERFRAMES_OAUTH_ISSUER") or None,
            config_dir=directory,
            store=kind,
            verbose=env.get("HYPERFRAMES_VERBOSE", "") not in ("", "0"),
            no_browser=env.get("BROWSER") == "none" or env.get("HF_NO_BROWSER") == "1",
            remote=any(env.get(name) for name in REMOTE_VARIABLES),
        )

    def client(self) -> ClientConfig:
        """The core's view of the OAuth client."""
        return ClientConfig(
            client_id=self.client_id,
            authorize_url=self.authorize_url,
            token_url=self.token_url,
            revoke_url=self.revoke_url,
            device_url=self.device_url,
            scope=self.scope,
            issuer=self.issuer,
            login_timeout=self.login_timeout,
            request_timeout=self.request_timeout,
            deadline=self.deadline,
            device_min_interval=self.device_min_interval,
        )

    @property
    def credentials_path(self) -> str:
        return os.path.join(self.config_dir, "credentials")

    @property
    def userinfo_url(self) -> str:
        return f"{self.api_url}/v3/users/me"
