"""The environment the product reads: variable names, their defaults, and where the credentials live.

Standard library only: ``settings.py`` builds the frozen ``Settings`` from these, and the quick read of
``auth token`` (``quick.py``) uses them before attrs could even be imported.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from ..domain.errors import ConfigError
from ..domain.redact import has_control_chars

DEFAULT_API_URL = "https://api.heygen.com"
DEFAULT_AUTHORIZE_URL = "https://app.heygen.com/oauth/authorize"
DEFAULT_TOKEN_URL = "https://api2.heygen.com/v1/oauth/token"  # noqa: S105 - a URL, not a secret
DEFAULT_REVOKE_URL = "https://api2.heygen.com/v1/oauth/revoke"
DEFAULT_DEVICE_URL = "https://api2.heygen.com/v1/oauth/device_authorization"
DEFAULT_CLIENT_ID = "q2A2QRSke2LrFTPJhoDbHtXh"  # HeyGen's public PKCE client, the same as the TypeScript CLI's
DEFAULT_SCOPE = "openid profile email"

STORE_KINDS = ("file", "encrypted")
ENDPOINT_VARIABLES = (
    "HEYGEN_API_URL",
    "HYPERFRAMES_OAUTH_AUTHORIZE_URL",
    "HYPERFRAMES_OAUTH_TOKEN_URL",
    "HYPERFRAMES_OAUTH_REVOKE_URL",
    "HYPERFRAMES_OAUTH_DEVICE_URL",
)
REMOTE_VARIABLES = ("SSH_CONNECTION", "SSH_CLIENT", "SSH_TTY")

# The environment variables we read; documented in the README and in `hyperframes auth --help`.
ENV_VARS = {
    "HEYGEN_API_KEY": "API key to use instead of the stored credential",
    "HYPERFRAMES_API_KEY": "alias of HEYGEN_API_KEY (checked second)",
    "HEYGEN_ACCESS_TOKEN": "OAuth access token from a host app; used after the API keys, never refreshed or saved",
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
    "HTTPS_PROXY / NO_PROXY": "proxies, as for curl; SSL_CERT_FILE / SSL_CERT_DIR add trusted CAs",
    "NO_COLOR / FORCE_COLOR": "turn colour off, or on when not writing to a terminal",
}


def remembered_store(directory: str) -> str:
    """The store chosen before: once someone signed in with the encrypted store (``credentials.enc`` exists), later
    commands use it without being told again."""
    return "encrypted" if os.path.exists(os.path.join(directory, "credentials.enc")) else "file"


def _home(env: Mapping[str, str], home: str | None) -> str:
    """The home directory, refusing an empty or relative one (credentials must never land in the working dir)."""
    if home is not None:
        value = home
    elif "HOME" in env:
        value = env["HOME"]  # set but empty or relative is a mistake to report, not a reason to guess
    else:
        value = os.path.expanduser("~")  # no HOME at all: the password database's entry
    if not value or not os.path.isabs(value):
        raise ConfigError(
            "The home directory is not set to an absolute path, so there is no safe place for credentials",
            "Set HOME to your home directory, or HEYGEN_CONFIG_DIR to an absolute path.",
        )
    return value


def config_dir(env: Mapping[str, str], home: str | None = None) -> str:
    """``HEYGEN_CONFIG_DIR`` (a leading ``~`` or ``~user`` expanded, nothing else), else ``~/.heygen``.

    Raises:
        ConfigError: a relative path, control characters, or no usable home directory.
    """
    value = env.get("HEYGEN_CONFIG_DIR") or ""
    if not value:
        return os.path.join(_home(env, home), ".heygen")
    if has_control_chars(value):
        raise ConfigError("HEYGEN_CONFIG_DIR must not contain control characters")
    if value == "~" or value.startswith(("~/", "~" + os.sep)):
        value = _home(env, home) + value[1:]
    elif value.startswith("~"):
        expanded = os.path.expanduser(value)  # ~user/...
        if expanded == value:
            raise ConfigError(f"HEYGEN_CONFIG_DIR names an unknown user ({value.split(os.sep, 1)[0]})")
        value = expanded
    if not os.path.isabs(value):
        raise ConfigError("HEYGEN_CONFIG_DIR must be an absolute path", "For example: HEYGEN_CONFIG_DIR=$HOME/.heygen")
    return os.path.normpath(value)
