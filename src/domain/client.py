"""The OAuth client as the core sees it (who we are, where the endpoints are, how long things may take), and the
rules every endpoint must follow.

Every endpoint must be https, except on loopback hosts (127.0.0.1, ::1, localhost) so that a local test server
works and nothing else can be downgraded (RFC 7009 §2, RFC 9700 §4.12). Where the values come from (environment
variables, arguments) is the entry points' business (``entrypoints/settings.py``).
"""

from __future__ import annotations

from urllib.parse import urlsplit

import attrs

from .errors import ConfigError
from .redact import has_control_chars

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})

LOGIN_TIMEOUT = 120.0  # how long a browser sign-in waits for the person
REQUEST_TIMEOUT = 15.0  # one request, connect to last byte
REVOKE_TIMEOUT = 5.0  # revocation is best effort and must not hold up a sign-out
NETWORK_DEADLINE = 30.0  # everything one command (or library call) sends, retries included
DEVICE_MIN_INTERVAL = 5.0  # RFC 8628 §3.2's default polling interval
MAX_ATTEMPTS = 3  # tries of one request when the server invites a retry


def is_loopback_host(host: str | None) -> bool:
    """True for the three loopback names we accept plain http for."""
    return (host or "").lower() in LOOPBACK_HOSTS


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of a URL, lower-cased (what credentials are bound to)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def check_endpoint(name: str, url: str) -> str:
    """Validate one configured endpoint URL and return it with any trailing ``/`` removed.

    Raises:
        ConfigError: whitespace or control characters, userinfo, no host, or a non-https scheme on a
            non-loopback host.
    """
    if url != url.strip() or has_control_chars(url) or "\\" in url or not url.isascii():
        raise ConfigError(f"{name} contains whitespace, control characters, backslashes or non-ASCII characters")
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
        raise ConfigError(f"{name} must use https (plain http is accepted only for 127.0.0.1, ::1 and localhost)")
    return url.rstrip("/")


@attrs.frozen(kw_only=True)
class ClientConfig:
    """The OAuth client: its id, its endpoints, what it asks for, and its time limits."""

    client_id: str
    authorize_url: str
    token_url: str
    revoke_url: str
    device_url: str
    scope: str
    issuer: str | None = None
    login_timeout: float = LOGIN_TIMEOUT
    request_timeout: float = REQUEST_TIMEOUT
    revoke_timeout: float = REVOKE_TIMEOUT
    deadline: float = NETWORK_DEADLINE
    device_min_interval: float = DEVICE_MIN_INTERVAL  # lower only for a test server that expects faster polling
    max_attempts: int = MAX_ATTEMPTS
