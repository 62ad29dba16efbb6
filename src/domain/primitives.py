"""Rules on plain values: instants, staleness, origins, endpoints, how a person is named.

Standard library only. The attrs values (``credentials.py``, ``accounts.py``) apply these rules, and so does the
quick read of ``auth token`` (``quick.py``), which must answer before attrs and cattrs could even be imported: one
rule, one home, two callers.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from .errors import ConfigError
from .redact import has_control_chars

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})

DEFAULT_LEEWAY = 60.0
"""Seconds before expiry at which an access token counts as stale and is refreshed first."""

# Instants outside this range are treated as already expired: a stored year 1 or year 9999 (or an offset that
# pushes it past the calendar) is damage, not a promise that the token lasts for ever.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


def parse_instant(text: object) -> datetime | None:
    """Read an ISO-8601 instant as an aware UTC datetime.

    Naive values are taken as UTC. Anything unreadable (or not a string) gives ``None``: no known expiry. A value
    at the edges of the calendar, or one whose offset cannot be applied, gives an instant in the past (expired).
    """
    if not isinstance(text, str) or not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except (ValueError, OverflowError):
        return None
    try:
        value = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        return EARLIEST
    return value if EARLIEST <= value < LATEST else EARLIEST


def format_instant(value: datetime) -> str:
    """Write an instant the way the TypeScript CLI does: ``2026-05-28T06:00:00.000Z``."""
    utc = value.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def is_stale(expires_at: object, obtained_at: object, now: datetime, leeway: float = DEFAULT_LEEWAY) -> bool:
    """An access token that expires within the leeway of ``now`` (or already has) is stale.

    The leeway never exceeds half the token's lifetime (``obtained_at`` to ``expires_at``, when both are known): a
    server that issues 60-second tokens must not make every use refresh first. No known expiry: never stale.
    """
    expiry = parse_instant(expires_at)
    if expiry is None:
        return False
    obtained = parse_instant(obtained_at)
    if obtained is not None:
        lifetime = (expiry - obtained).total_seconds()
        if lifetime > 0:
            leeway = min(leeway, lifetime / 2)
    return expiry <= now + timedelta(seconds=leeway)


def is_expired(expires_at: object, now: datetime) -> bool:
    """The access token's expiry has passed (no leeway); no known expiry: not expired."""
    expiry = parse_instant(expires_at)
    return expiry is not None and expiry <= now


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of a URL, lower-cased, default ports dropped (what credentials are bound to)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    default = {"https": 443, "http": 80}.get(parts.scheme)
    port = f":{parts.port}" if parts.port is not None and parts.port != default else ""
    return f"{parts.scheme.lower()}://{host}{port}"


# ---------------------------------------------------------------------------------------------- endpoints
# Every endpoint must be https, except on loopback hosts (127.0.0.1, ::1, localhost) so that a local test server
# works and nothing else can be downgraded (RFC 7009 §2, RFC 9700 §4.12).


def is_loopback_host(host: str | None) -> bool:
    """True for the three loopback names we accept plain http for."""
    return (host or "").lower() in LOOPBACK_HOSTS


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


# ---------------------------------------------------------------------------------------------- people


def display_name(email: object, first: object, last: object, username: object) -> str | None:
    """How a person is named in messages: the email, else "first last", else the username (non-strings ignored)."""

    def text(value: object) -> str:
        return value if isinstance(value, str) else ""

    full = " ".join(p for p in (text(first), text(last)) if p)
    return text(email) or full or text(username) or None
