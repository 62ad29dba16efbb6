"""The quick read: the credential ``auth token`` prints, decided from the credentials file's JSON as it is.

``auth token`` is what scripts and shell prompts call over and over; importing attrs and cattrs alone would cost it
more than the whole run of ``gh auth status``. So it first tries this read, which uses only the standard library
and the same rules as the full path (``primitives.py``, ``checks.py``), and answers only when the answer is
certain: a file in this environment's top-level slot, labelled for it, the active account, and either a fresh
access token or an API key. Anything else (no file, a file written before accounts existed, another environment,
a stale token that needs a refresh, an account named with ``--user``, any field the full reader would refuse)
returns ``None`` and the full path (``session.py``) decides, with its messages.

A Hypothesis test (``tests/unit/test_quick.py``) checks, over generated files and configurations, that whenever
this read answers, the full path gives the very same credential.
"""

from __future__ import annotations

from datetime import datetime

from .checks import is_access_token
from .primitives import DEFAULT_LEEWAY, display_name, format_instant, is_stale, parse_instant
from .redact import has_control_chars

NAMESPACE = "hyperframes_auth"
NAMESPACE_VERSION = 1


def _text(value: object) -> str | None:
    """A string field as the full reader keeps it: non-empty strings only."""
    return value if isinstance(value, str) and value else None


def _api_key_ok(value: object) -> bool:
    return value is None or (isinstance(value, str) and bool(value) and not has_control_chars(value))


def _oauth_ok(value: object) -> bool:
    return value is None or (isinstance(value, dict) and is_access_token(value.get("access_token")))


def _environment_ok(value: object) -> bool:
    return isinstance(value, dict) and isinstance(value.get("api"), str) and bool(value["api"])


def _account_ok(value: object) -> bool:
    """An entry of the other accounts that the full reader would accept."""
    return (
        isinstance(value, dict)
        and _environment_ok(value.get("environment"))
        and _api_key_ok(value.get("api_key"))
        and _oauth_ok(value.get("oauth"))
    )


def _namespace(root: dict[str, object]) -> dict[str, object] | None:
    space = root.get(NAMESPACE)
    if not isinstance(space, dict) or space.get("version") != NAMESPACE_VERSION:
        return None
    accounts, active = space.get("accounts", []), space.get("active", {})
    if not isinstance(accounts, list) or not all(_account_ok(a) for a in accounts) or not isinstance(active, dict):
        return None
    return space


def _top_identity(space: dict[str, object], api_origin: str) -> tuple[bool, str | None]:
    """Whether the top-level slot is labelled for ``api_origin``, and the identity it is labelled with."""
    top = space.get("top")
    if not isinstance(top, dict) or not _environment_ok(top.get("environment")):
        return False, None
    environment = top["environment"]
    return isinstance(environment, dict) and environment.get("api") == api_origin, _text(top.get("identity"))


def _is_the_active_one(space: dict[str, object], api_origin: str, identity: str | None) -> bool:
    active = space.get("active")
    named = active.get(api_origin) if isinstance(active, dict) else None
    return named is None or (isinstance(named, str) and named.lower() == (identity or "").lower())


def _shown_name_agrees(user: object, identity: str | None) -> bool:
    """The top-level profile names the labelled person (else the full path relabels first)."""
    if not isinstance(user, dict) or identity is None:
        return True
    shown = display_name(
        _text(user.get("email")),
        _text(user.get("first_name")),
        _text(user.get("last_name")),
        _text(user.get("username")),
    )
    return not shown or shown.lower() == identity.lower()


def quick_credential(
    root: object, api_origin: str, now: datetime, leeway: float = DEFAULT_LEEWAY
) -> tuple[str, str, str | None] | None:
    """``(secret, kind, expires_at)`` of the credential in effect, or ``None`` when only the full path can say.

    Args:
        root: the credentials file's JSON.
        api_origin: the origin of the configured API (``primitives.origin_of``).
        now, leeway: when an access token counts as stale (it then needs a refresh: ``None``).

    ``kind`` is ``oauth`` or ``api_key``; ``expires_at`` is the normalised expiry of an access token, or ``None``.
    """
    if not isinstance(root, dict) or not _api_key_ok(root.get("api_key")) or not _oauth_ok(root.get("oauth")):
        return None
    space = _namespace(root)
    if space is None:
        return None
    labelled_here, identity = _top_identity(space, api_origin)
    if not labelled_here or not _is_the_active_one(space, api_origin, identity):
        return None
    if not _shown_name_agrees(root.get("user"), identity):
        return None
    oauth = root.get("oauth")
    if isinstance(oauth, dict):
        access = oauth["access_token"]
        expires_at, obtained_at = _text(oauth.get("expires_at")), oauth.get("obtained_at")
        if is_stale(expires_at, obtained_at, now, leeway) or not isinstance(access, str):
            return None  # a refresh (or a fallback to the API key) is the full path's call
        expiry = parse_instant(expires_at)
        return access, "oauth", format_instant(expiry) if expiry is not None else None
    api_key = root.get("api_key")
    if isinstance(api_key, str):
        return api_key, "api_key", None
    return None
