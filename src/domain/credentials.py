"""Credentials as values, and the credentials document that both CLIs share (reference §3.2, §3.3, §9 #1741).

The document is the JSON in ``~/.heygen/credentials``::

    {"api_key": "...",
     "oauth": {"access_token": "...", "refresh_token": "...", "expires_at": "2026-05-28T06:00:00.000Z",
               "scope": "...", "token_type": "Bearer"},
     "user": {"email": "...", "first_name": "...", "last_name": "...", "username": "..."}}

Unknown keys at the top level and inside ``oauth`` and ``user`` are kept on every rewrite, so the TypeScript
CLI's and heygen-cli's future fields survive us. A legacy file holding a bare API key is read too, and upgraded
to JSON on the next write.

The merge rules are pure functions from a document to the next document; the store adapters apply them under
their lock. Nothing here touches a file.

Kept free of attrs and of runtime ``typing`` imports: ``hyperframes auth token`` imports this module, and its
cold start is a measured goal (attrs alone costs more than the whole budget left after the interpreter starts).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from .errors import InvalidStore
from .redact import has_control_chars

OAUTH_FIELDS = ("access_token", "refresh_token", "expires_at", "scope", "token_type")
USER_FIELDS = ("email", "first_name", "last_name", "username")
SECRET_MASK = "***"  # noqa: S105 - what a repr shows instead of a secret


class _Value:
    """A small immutable value: equality by fields, and a repr that never shows the fields in ``_secret``."""

    __slots__: tuple[str, ...] = ()
    _secret: tuple[str, ...] = ()

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def _set(self, **fields: object) -> None:
        for name, value in fields.items():
            object.__setattr__(self, name, value)

    def _fields(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Value) and type(other) is type(self) and self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash((type(self), *(repr(f) for f in self._fields())))

    def __repr__(self) -> str:
        shown = (
            f"{n}={SECRET_MASK if n in self._secret and getattr(self, n) else repr(getattr(self, n))}"
            for n in self.__slots__
        )
        return f"{type(self).__name__}({', '.join(shown)})"


class OAuthTokens(_Value):
    """OAuth credentials as stored: the token strings, the absolute expiry, scope, type, and unknown fields.

    ``expires_at`` is kept as the stored ISO-8601 text (the TypeScript CLI writes milliseconds and ``Z``) so a
    rewrite never changes what we did not change; :meth:`expiry` parses it.
    """

    __slots__ = ("access_token", "expires_at", "extra", "refresh_token", "scope", "token_type")
    _secret = ("access_token", "refresh_token")

    access_token: str
    refresh_token: str | None
    expires_at: str | None
    scope: str | None
    token_type: str | None
    extra: dict[str, object]

    def __init__(
        self,
        access_token: str,
        refresh_token: str | None = None,
        expires_at: str | None = None,
        scope: str | None = None,
        token_type: str | None = None,
        extra: dict[str, object] | None = None,
    ) -> None:
        self._set(
            access_token=access_token,
            refresh_token=refresh_token or None,
            expires_at=expires_at or None,
            scope=scope or None,
            token_type=token_type or None,
            extra=dict(extra or {}),
        )

    def expiry(self) -> datetime | None:
        """The expiry as an aware UTC datetime; ``None`` when absent or unparseable (treated as no expiry)."""
        return parse_instant(self.expires_at)

    def is_stale(self, now: datetime, leeway: float = 60.0) -> bool:
        """True when the access token expires within ``leeway`` seconds of ``now`` (or already has)."""
        expiry = self.expiry()
        return expiry is not None and expiry - timedelta(seconds=leeway) < now

    def replace(self, **changes: object) -> OAuthTokens:
        fields = {name: getattr(self, name) for name in self.__slots__}
        fields.update(changes)
        return OAuthTokens(**fields)


class UserProfile(_Value):
    """The cached ``user`` block (#1741): who the stored credential belongs to, for display only."""

    __slots__ = ("email", "extra", "first_name", "last_name", "username")

    email: str | None
    first_name: str | None
    last_name: str | None
    username: str | None
    extra: dict[str, object]

    def __init__(
        self,
        email: str | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
        username: str | None = None,
        extra: dict[str, object] | None = None,
    ) -> None:
        self._set(
            email=email,
            first_name=first_name,
            last_name=last_name,
            username=username,
            extra=dict(extra or {}),
        )

    def is_empty(self) -> bool:
        return not (self.email or self.first_name or self.last_name or self.username or self.extra)

    def display_name(self) -> str | None:
        """email > "first last" > first > last > username (reference §9 #1741)."""
        full = " ".join(p for p in (self.first_name, self.last_name) if p)
        return self.email or full or self.username or None


class CredentialsDocument(_Value):
    """The whole credentials file as data.

    Attributes:
        api_key: a long-lived HeyGen API key, or ``None``.
        oauth: the OAuth block, or ``None``.
        user: the cached profile, or ``None``.
        extra: unknown top-level keys, kept verbatim.
        source: how it was read: ``absent``, ``file_json`` or ``file_legacy``.
    """

    __slots__ = ("api_key", "extra", "oauth", "source", "user")
    _secret = ("api_key",)

    api_key: str | None
    oauth: OAuthTokens | None
    user: UserProfile | None
    extra: dict[str, object]
    source: str

    def __init__(
        self,
        api_key: str | None = None,
        oauth: OAuthTokens | None = None,
        user: UserProfile | None = None,
        extra: dict[str, object] | None = None,
        source: str = "absent",
    ) -> None:
        self._set(api_key=api_key, oauth=oauth, user=user, extra=dict(extra or {}), source=source)

    def replace(self, **changes: object) -> CredentialsDocument:
        fields = {name: getattr(self, name) for name in self.__slots__}
        fields.update(changes)
        return CredentialsDocument(**fields)

    def is_worth_keeping(self) -> bool:
        """False when nothing would be left to write: then the file is deleted instead (reference §9 #1741)."""
        return bool(self.api_key or self.oauth or (self.user and not self.user.is_empty()) or self.extra)

    def content(self) -> tuple[object, ...]:
        """What the document holds, ignoring how it was read (for comparisons across a re-read)."""
        return (self.api_key, self.oauth, self.user, self.extra)


# ---------------------------------------------------------------------------------------------- instants


def parse_instant(text: str | None) -> datetime | None:
    """Parse an ISO-8601 instant; naive values are taken as UTC; anything unparseable gives ``None``."""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def format_instant(value: datetime) -> str:
    """Write an instant the way the TypeScript CLI does: ``2026-05-28T06:00:00.000Z``."""
    utc = value.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


# ---------------------------------------------------------------------------------------------- parsing


def _nonempty_str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _parse_oauth(raw: object) -> OAuthTokens | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise InvalidStore("oauth must be a JSON object")
    access = raw.get("access_token")
    if not isinstance(access, str) or not access or has_control_chars(access):
        raise InvalidStore("oauth.access_token must be a non-empty string with no control chars")
    refresh = _nonempty_str(raw.get("refresh_token"))
    if refresh and has_control_chars(refresh):
        refresh = None  # the reference drops it silently; the access token stays usable
    known = {name: _nonempty_str(raw.get(name)) for name in ("expires_at", "scope", "token_type")}
    extra = {k: v for k, v in raw.items() if k not in OAUTH_FIELDS}
    return OAuthTokens(access, refresh, extra=extra, **known)


def _parse_user(raw: object) -> UserProfile | None:
    if not isinstance(raw, dict):
        return None  # a malformed user block is skipped, never fatal
    known = {name: _nonempty_str(raw.get(name)) for name in USER_FIELDS}
    extra = {k: v for k, v in raw.items() if k not in USER_FIELDS}
    profile = UserProfile(extra=extra, **known)
    return None if profile.is_empty() else profile


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not valid JSON")


def _parse_json(text: str) -> CredentialsDocument:
    try:
        root = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise InvalidStore(f"invalid JSON: {str(exc)[:120]}") from None
    if not isinstance(root, dict):
        raise InvalidStore("credential file root must be a JSON object")
    api_key = root.get("api_key")
    if api_key is not None:
        if not isinstance(api_key, str) or not api_key:
            raise InvalidStore("api_key must be a non-empty string")
        if has_control_chars(api_key):
            raise InvalidStore("api_key must not contain control characters")
    extra = {k: v for k, v in root.items() if k not in ("api_key", "oauth", "user")}
    user = _parse_user(root.get("user"))
    return CredentialsDocument(api_key, _parse_oauth(root.get("oauth")), user, extra, "file_json")


def _looks_like_plain_key(text: str) -> bool:
    return len(text) >= 8 and all("!" <= ch <= "~" for ch in text)


def parse_document(text: str) -> CredentialsDocument:
    """Read the credentials file's text (reference §3.2).

    Raises:
        InvalidStore: the text is neither valid credentials JSON nor a legacy plain key.
    """
    text = text.strip()
    if not text:
        return CredentialsDocument()
    if text.startswith("{"):
        return _parse_json(text)
    if _looks_like_plain_key(text):
        return CredentialsDocument(api_key=text, source="file_legacy")
    raise InvalidStore("file is not JSON and does not look like a plain API key")


def render_document(doc: CredentialsDocument) -> str:
    """The file's text for ``doc``: fixed key order, empty values omitted, 2-space JSON and a newline."""
    out: dict[str, object] = {}
    if doc.api_key:
        out["api_key"] = doc.api_key
    if doc.oauth:
        block: dict[str, object] = {n: getattr(doc.oauth, n) for n in OAUTH_FIELDS if getattr(doc.oauth, n)}
        block.update(doc.oauth.extra)
        out["oauth"] = block
    if doc.user and not doc.user.is_empty():
        user: dict[str, object] = {n: getattr(doc.user, n) for n in USER_FIELDS if getattr(doc.user, n)}
        user.update(doc.user.extra)
        out["user"] = user
    out.update(doc.extra)
    return json.dumps(out, indent=2, ensure_ascii=False) + "\n"


# ---------------------------------------------------------------------------------------------- merge rules


def with_login(doc: CredentialsDocument, tokens: OAuthTokens) -> CredentialsDocument:
    """A fresh sign-in: the OAuth block is replaced (no old refresh token is inherited); the API key, the
    ``user`` block and unknown keys stay (reference §3.3, §9 #1741)."""
    return doc.replace(oauth=tokens)


def with_refresh(doc: CredentialsDocument, tokens: OAuthTokens) -> CredentialsDocument:
    """A refresh: new values win; a refresh token, scope, token type or expiry the response omitted is kept
    from before, and so are unknown ``oauth`` fields (reference §3.3)."""
    old = doc.oauth
    if old is None:
        return doc.replace(oauth=tokens)
    merged = OAuthTokens(
        tokens.access_token,
        tokens.refresh_token or old.refresh_token,
        tokens.expires_at or old.expires_at,
        tokens.scope or old.scope,
        tokens.token_type or old.token_type,
        {**old.extra, **tokens.extra},
    )
    return doc.replace(oauth=merged)


def with_api_key(doc: CredentialsDocument, key: str) -> CredentialsDocument:
    """An API-key sign-in keeps the OAuth block and everything else (reference §1.3)."""
    return doc.replace(api_key=key)


def without_oauth(doc: CredentialsDocument) -> CredentialsDocument:
    """``logout --keep-api-key``: drop the OAuth block only."""
    return doc.replace(oauth=None)


def with_user(doc: CredentialsDocument, user: UserProfile | None) -> CredentialsDocument:
    """Cache (or, with ``None``, clear) the profile, keeping unknown ``user`` fields we already had."""
    if user is None:
        return doc.replace(user=None)
    kept = doc.user.extra if doc.user else {}
    return doc.replace(user=UserProfile(user.email, user.first_name, user.last_name, user.username, kept))
