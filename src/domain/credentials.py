"""Credentials as values: the OAuth tokens, the cached profile, and the credentials document both CLIs share.

The document is what ``~/.heygen/credentials`` holds (its JSON form is written and read by the store adapters
through ``adapters/codec.py``; see ``docs/ARCHITECTURE.md`` for the file format)::

    {"api_key": "...",
     "oauth": {"access_token": "...", "refresh_token": "...", "expires_at": "2026-05-28T06:00:00.000Z",
               "scope": "...", "token_type": "Bearer"},
     "user": {"email": "...", "first_name": "...", "last_name": "...", "username": "..."}}

Unknown keys at the top level and inside ``oauth`` and ``user`` are kept in ``extra`` and survive every rewrite,
so fields written by the TypeScript CLI (or by its later versions) are never lost.

The merge rules at the end are pure functions from one document to the next; the stores apply them under their
lock. Nothing here touches a file or reads the clock.
"""

from __future__ import annotations

from datetime import datetime

import attrs

from .primitives import DEFAULT_LEEWAY, display_name, is_expired, is_stale, parse_instant
from .value import Value

OAUTH_FIELDS = ("access_token", "refresh_token", "expires_at", "scope", "token_type")
USER_FIELDS = ("email", "first_name", "last_name", "username")


def _none_if_empty(value: str | None) -> str | None:
    return value or None


def _copy(value: dict[str, object] | None) -> dict[str, object]:
    return dict(value or {})


def _copy_names(value: dict[str, str] | None) -> dict[str, str]:
    return dict(value or {})


@attrs.frozen(repr=False, eq=False)
class OAuthTokens(Value):
    """The OAuth block as stored: the token strings, the absolute expiry, scope, type, and unknown fields.

    ``expires_at`` is kept as the stored ISO-8601 text (the TypeScript CLI writes milliseconds and ``Z``) so a
    rewrite never changes what we did not change; :meth:`expiry` reads it.
    """

    access_token: str = attrs.field(repr=False)
    refresh_token: str | None = attrs.field(default=None, repr=False, converter=_none_if_empty)
    expires_at: str | None = attrs.field(default=None, converter=_none_if_empty)
    scope: str | None = attrs.field(default=None, converter=_none_if_empty)
    token_type: str | None = attrs.field(default=None, converter=_none_if_empty)
    extra: dict[str, object] = attrs.field(factory=dict, converter=_copy)

    def expiry(self) -> datetime | None:
        """The expiry as an aware UTC datetime; ``None`` when absent or unreadable (no known expiry)."""
        return parse_instant(self.expires_at)

    def is_stale(self, now: datetime, leeway: float = DEFAULT_LEEWAY) -> bool:
        """True when the access token expires within the leeway of ``now`` (or already has); the leeway never
        exceeds half the token's lifetime, known from ``obtained_at`` (``primitives.is_stale``)."""
        return is_stale(self.expires_at, self.extra.get("obtained_at"), now, leeway)

    def is_expired(self, now: datetime) -> bool:
        """True when the access token has expired (no leeway)."""
        return is_expired(self.expires_at, now)


@attrs.frozen(repr=False, eq=False)
class UserProfile(Value):
    """The cached ``user`` block: who the stored credential belongs to, for display only."""

    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    username: str | None = None
    extra: dict[str, object] = attrs.field(factory=dict, converter=_copy)

    def is_empty(self) -> bool:
        return not (self.email or self.first_name or self.last_name or self.username or self.extra)

    def display_name(self) -> str | None:
        """How a person is named in messages: the email, else "first last", else the username."""
        return display_name(self.email, self.first_name, self.last_name, self.username)


@attrs.frozen(repr=False, eq=False)
class Environment(Value):
    """Where a credential came from (``domain/accounts.py``).

    Attributes:
        api: the origin of HeyGen's API it was obtained for (``https://api.heygen.com``).
        token_url, client_id: for OAuth, the token endpoint and client that issued it (``None`` for API keys).
    """

    api: str
    token_url: str | None = None
    client_id: str | None = None


@attrs.frozen(repr=False, eq=False)
class Label(Value):
    """Whose credential the top-level slot holds: its environment and identity (``None`` while unknown), and a
    fingerprint of the slot's API key when it was written (to tell, after the TypeScript CLI signed someone into
    that slot, whether the key or the OAuth session is the new person's)."""

    environment: Environment
    identity: str | None = None
    api_key_print: str | None = None


def fingerprint(secret: str) -> str:
    """A short one-way fingerprint of a secret (the first 16 hex digits of its SHA-256); it names, never reveals."""
    import hashlib  # here: reading credentials (``auth token``) never needs it

    return hashlib.sha256(secret.encode("utf-8")).hexdigest()[:16]


@attrs.frozen(repr=False, eq=False)
class Account(Value):
    """One person's credentials in one environment.

    Attributes:
        environment: where they came from (``None`` only for a top-level slot written before accounts existed).
        identity: who ``/v3/users/me`` says they belong to (email, else "first last", else username), if known.
        api_key, oauth, user: as in the top-level slot.
        extra: unknown fields of a stored account, kept verbatim.
    """

    environment: Environment | None
    identity: str | None = None
    api_key: str | None = attrs.field(default=None, repr=False)
    oauth: OAuthTokens | None = None
    user: UserProfile | None = None
    extra: dict[str, object] = attrs.field(factory=dict, converter=_copy, eq=False)


@attrs.frozen(repr=False, eq=False)
class CredentialsDocument(Value):
    """The whole credentials file as data.

    The top-level ``api_key`` / ``oauth`` / ``user`` are the TypeScript CLI's slot: one account, described by
    ``label``. The other accounts, and which account is active in each environment, are ours (``accounts.py``).

    Attributes:
        api_key: a long-lived HeyGen API key, or ``None``.
        oauth: the OAuth block, or ``None``.
        user: the cached profile, or ``None``.
        extra: unknown top-level keys, kept verbatim.
        source: how it was read: ``absent``, ``file_json`` or ``file_legacy`` (a file holding a bare key).
        label: the top-level slot's environment and identity; ``None`` in a file written before accounts existed.
        others: the accounts not in the top-level slot.
        active: environment (API origin) -> identity of its active account.
        namespace_extra: unknown keys inside our own key, kept verbatim.
    """

    api_key: str | None = attrs.field(default=None, repr=False)
    oauth: OAuthTokens | None = None
    user: UserProfile | None = None
    extra: dict[str, object] = attrs.field(factory=dict, converter=_copy)
    source: str = "absent"
    label: Label | None = None
    others: tuple[Account, ...] = ()
    active: dict[str, str] = attrs.field(factory=dict, converter=_copy_names)
    namespace_extra: dict[str, object] = attrs.field(factory=dict, converter=_copy)

    def is_worth_keeping(self) -> bool:
        """False when nothing would be left to write: the file is then deleted instead.

        A ``user`` block alone is not worth keeping: it only describes a credential that is gone.
        """
        return bool(self.api_key or self.oauth or self.extra or self.others)

    def content(self) -> tuple[object, ...]:
        """What the document holds, ignoring how it was read (for comparisons across a re-read)."""
        return (self.api_key, self.oauth, self.user, self.extra, self.label, self.others, self.active)


# ---------------------------------------------------------------------------------------------- merge rules


def with_login(doc: CredentialsDocument, tokens: OAuthTokens) -> CredentialsDocument:
    """A fresh sign-in: the OAuth block is replaced (no old refresh token is inherited); the API key, the
    ``user`` block and unknown keys stay."""
    return attrs.evolve(doc, oauth=tokens)


def refreshed(old: OAuthTokens, new: OAuthTokens) -> OAuthTokens:
    """A refresh's tokens: new values win; a refresh token, scope, token type or expiry the response omitted is
    kept from before, and so are unknown fields (RFC 6749 §6: keep the old refresh token when no new one is
    issued)."""
    return OAuthTokens(
        new.access_token,
        new.refresh_token or old.refresh_token,
        new.expires_at or old.expires_at,
        new.scope or old.scope,
        new.token_type or old.token_type,
        {**old.extra, **new.extra},
    )


def with_refresh(doc: CredentialsDocument, tokens: OAuthTokens) -> CredentialsDocument:
    """A refresh of the top-level slot (see :func:`refreshed`)."""
    return attrs.evolve(doc, oauth=tokens if doc.oauth is None else refreshed(doc.oauth, tokens))


def with_api_key(doc: CredentialsDocument, key: str) -> CredentialsDocument:
    """An API-key sign-in keeps the OAuth block and everything else."""
    return attrs.evolve(doc, api_key=key)


def without_oauth(doc: CredentialsDocument) -> CredentialsDocument:
    """``logout --keep-api-key``: drop the OAuth block (and the profile, when no API key is left to describe)."""
    return attrs.evolve(doc, oauth=None, user=doc.user if doc.api_key else None)


def with_user(doc: CredentialsDocument, user: UserProfile | None) -> CredentialsDocument:
    """Cache (or, with ``None``, clear) the profile, keeping unknown ``user`` fields we already had."""
    if user is None or user.is_empty():
        return attrs.evolve(doc, user=None)
    kept = doc.user.extra if doc.user else {}
    return attrs.evolve(doc, user=attrs.evolve(user, extra={**kept, **user.extra}))
