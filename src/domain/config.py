"""Settings: every knob of hyperframes-auth, read from an environment mapping that is passed in.

Configuration comes from the environment and from explicit arguments only. Unlike the TypeScript CLI we never
read a ``.env`` file from the working directory: a ``.env`` in a cloned repository could point
``HEYGEN_API_URL`` at another host and receive the user's tokens.

Every endpoint must be https, except on loopback hosts (127.0.0.1, ::1, localhost) so that a local test server
works and nothing else can be downgraded (RFC 7009 §2, RFC 9700 §4.12).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from .credentials import _Value
from .errors import ConfigError
from .redact import has_control_chars

TYPE_CHECKING = False  # `typing` costs start-up time on the CLI's hot path; type checkers know this name
if TYPE_CHECKING:
    from collections.abc import Mapping

DEFAULT_API_URL = "https://api.heygen.com"
DEFAULT_AUTHORIZE_URL = "https://app.heygen.com/oauth/authorize"
DEFAULT_TOKEN_URL = "https://api2.heygen.com/v1/oauth/token"  # noqa: S105 - a URL, not a secret
DEFAULT_REVOKE_URL = "https://api2.heygen.com/v1/oauth/revoke"
DEFAULT_DEVICE_URL = "https://api2.heygen.com/v1/oauth/device_authorization"
DEFAULT_CLIENT_ID = "q2A2QRSke2LrFTPJhoDbHtXh"  # HeyGen's public PKCE client (reference §8)
DEFAULT_SCOPE = "openid profile email"

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
STORE_KINDS = ("file", "encrypted")

# The environment variables we read; documented in the README and in `hyperframes auth --help`.
ENV_VARS = {
    "HEYGEN_API_KEY": "API key to use instead of the stored credential",
    "HYPERFRAMES_API_KEY": "alias of HEYGEN_API_KEY (checked second)",
    "HEYGEN_API_URL": f"HeyGen API base URL (default {DEFAULT_API_URL})",
    "HEYGEN_CONFIG_DIR": "where the credentials file lives (default ~/.heygen)",
    "HYPERFRAMES_OAUTH_CLIENT_ID": "OAuth client id (default: HeyGen's public CLI client)",
    "HYPERFRAMES_OAUTH_AUTHORIZE_URL": f"authorization endpoint (default {DEFAULT_AUTHORIZE_URL})",
    "HYPERFRAMES_OAUTH_TOKEN_URL": f"token endpoint (default {DEFAULT_TOKEN_URL})",
    "HYPERFRAMES_OAUTH_REVOKE_URL": f"revocation endpoint (default {DEFAULT_REVOKE_URL})",
    "HYPERFRAMES_OAUTH_DEVICE_URL": f"device authorization endpoint (default {DEFAULT_DEVICE_URL})",
    "HYPERFRAMES_OAUTH_ISSUER": "expected issuer; when set, a callback's `iss` must equal it (RFC 9207)",
    "HYPERFRAMES_OAUTH_SCOPE": f"scopes to request (default '{DEFAULT_SCOPE}')",
    "HYPERFRAMES_CREDENTIALS_STORE": "'file' (default) or 'encrypted'",
    "HYPERFRAMES_CREDENTIALS_PASSPHRASE": "passphrase of the encrypted store (else a hidden prompt)",
    "HYPERFRAMES_VERBOSE": "1 prints a redacted HTTP trace to stderr",
    "HYPERFRAMES_DEBUG": "1 shows the traceback of an internal error (never shown otherwise)",
    "BROWSER / HF_NO_BROWSER": "BROWSER=none or HF_NO_BROWSER=1 prints the sign-in URL instead of opening it",
}


def is_loopback_host(host: str | None) -> bool:
    """True for the three loopback names we accept plain http for."""
    return (host or "").lower() in LOOPBACK_HOSTS


def check_endpoint(name: str, url: str) -> str:
    """Validate one configured endpoint URL and return it with any trailing ``/`` removed.

    Raises:
        ConfigError: whitespace or control characters, userinfo, no host, or a non-https scheme on a
            non-loopback host.
    """
    if url != url.strip() or has_control_chars(url) or "\\" in url:
        raise ConfigError(f"{name} contains whitespace, control characters or backslashes")
    try:
        parts = urlsplit(url)
        host = parts.hostname
        _ = parts.port
    except ValueError:
        raise ConfigError(f"{name} is not a valid URL") from None
    if not host:
        raise ConfigError(f"{name} has no host")
    if parts.username is not None or parts.password is not None:
        raise ConfigError(f"{name} must not carry a user name or password")
    if parts.scheme == "http" and is_loopback_host(host):
        return url.rstrip("/")
    if parts.scheme != "https":
        raise ConfigError(
            f"{name} must use https (plain http is accepted only for 127.0.0.1, ::1 and localhost)",
        )
    return url.rstrip("/")


def _get(env: Mapping[str, str], name: str, default: str) -> str:
    value = env.get(name, "")
    return value or default


class Settings(_Value):
    """Everything a command needs to know, resolved once.

    Build it with :meth:`from_env` (what the CLI does) or directly (what a program embedding us may do).
    """

    __slots__ = (
        "api_url",
        "authorize_url",
        "client_id",
        "config_dir",
        "device_url",
        "issuer",
        "no_browser",
        "remote",
        "revoke_url",
        "scope",
        "store",
        "token_url",
        "verbose",
    )

    api_url: str
    authorize_url: str
    token_url: str
    revoke_url: str
    device_url: str
    client_id: str
    scope: str
    issuer: str | None
    config_dir: str
    store: str
    verbose: bool
    no_browser: bool
    remote: bool

    def __init__(self, **fields: object) -> None:
        self._set(**fields)

    @classmethod
    def from_env(cls, env: Mapping[str, str], home: str) -> Settings:
        """Read settings from ``env`` (the process environment, or any mapping) with ``home`` as the home directory.

        Raises:
            ConfigError: an endpoint, the config directory or the store kind is unacceptable.
        """
        config_dir = _get(env, "HEYGEN_CONFIG_DIR", "")
        if config_dir and (has_control_chars(config_dir) or not config_dir.startswith(("/", "~"))):
            raise ConfigError("HEYGEN_CONFIG_DIR must be an absolute path without control characters")
        store = _get(env, "HYPERFRAMES_CREDENTIALS_STORE", "file").lower()
        if store not in STORE_KINDS:
            raise ConfigError(f"HYPERFRAMES_CREDENTIALS_STORE must be one of {', '.join(STORE_KINDS)}")
        issuer = env.get("HYPERFRAMES_OAUTH_ISSUER") or None
        return cls(
            api_url=check_endpoint("HEYGEN_API_URL", _get(env, "HEYGEN_API_URL", DEFAULT_API_URL)),
            authorize_url=_endpoint(env, "HYPERFRAMES_OAUTH_AUTHORIZE_URL", DEFAULT_AUTHORIZE_URL),
            token_url=_endpoint(env, "HYPERFRAMES_OAUTH_TOKEN_URL", DEFAULT_TOKEN_URL),
            revoke_url=_endpoint(env, "HYPERFRAMES_OAUTH_REVOKE_URL", DEFAULT_REVOKE_URL),
            device_url=_endpoint(env, "HYPERFRAMES_OAUTH_DEVICE_URL", DEFAULT_DEVICE_URL),
            client_id=env.get("HYPERFRAMES_OAUTH_CLIENT_ID") or DEFAULT_CLIENT_ID,
            scope=_get(env, "HYPERFRAMES_OAUTH_SCOPE", DEFAULT_SCOPE),
            issuer=issuer,
            config_dir=(config_dir or f"{home}/.heygen").replace("~", home, 1),
            store=store,
            verbose=env.get("HYPERFRAMES_VERBOSE", "") not in ("", "0"),
            no_browser=env.get("BROWSER") == "none" or env.get("HF_NO_BROWSER") == "1",
            remote=any(env.get(v) for v in ("SSH_CONNECTION", "SSH_CLIENT", "SSH_TTY")),
        )

    def replace(self, **changes: object) -> Settings:
        fields = {name: getattr(self, name) for name in self.__slots__}
        fields.update(changes)
        return Settings(**fields)

    @property
    def credentials_path(self) -> str:
        return f"{self.config_dir.rstrip('/')}/credentials"

    @property
    def userinfo_url(self) -> str:
        return f"{self.api_url}/v3/users/me"


def _endpoint(env: Mapping[str, str], name: str, default: str) -> str:
    return check_endpoint(name, _get(env, name, default))
