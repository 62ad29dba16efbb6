"""Which credential is in effect (reference §3.4).

Precedence, first non-empty wins:

1. ``HEYGEN_API_KEY`` (source ``env``), 2. ``HYPERFRAMES_API_KEY`` (``env_alias``), 3. the credentials file:
   a fresh OAuth credential beats a stored API key; an OAuth credential within ``leeway`` (60 s) of expiry is
   *stale*: usable after a refresh when it has a refresh token (``refreshable``), skipped otherwise.

Environment values come in as data (a mapping); ``now`` comes in as an argument.
"""

from __future__ import annotations

from .credentials import CredentialsDocument, OAuthTokens, _Value
from .errors import InvalidStore, NotConfigured
from .redact import has_control_chars

TYPE_CHECKING = False  # `typing` costs start-up time on the CLI's hot path; type checkers know this name
if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime

ENV_KEYS = (("HEYGEN_API_KEY", "env"), ("HYPERFRAMES_API_KEY", "env_alias"))
STALE_LEEWAY = 60.0


class ApiKeyCredential(_Value):
    """A long-lived API key, sent as ``x-api-key``; never refreshed, never retried on 401."""

    __slots__ = ("key", "source")
    _secret = ("key",)
    kind = "api_key"

    key: str
    source: str

    def __init__(self, key: str, source: str) -> None:
        self._set(key=key, source=source)

    @property
    def secret(self) -> str:
        return self.key

    @property
    def from_env(self) -> bool:
        return self.source in ("env", "env_alias")


class OAuthCredential(_Value):
    """An OAuth access token as resolved: the stored tokens, where they came from, and whether they are stale.

    Attributes:
        tokens: the stored OAuth block.
        source: ``file_json`` (OAuth is only ever stored as JSON).
        stale: the access token expires within the leeway (or has expired).
        refreshable: stale and a refresh token is at hand.
    """

    __slots__ = ("refreshable", "source", "stale", "tokens")
    kind = "oauth"
    from_env = False

    tokens: OAuthTokens
    source: str
    stale: bool
    refreshable: bool

    def __init__(self, tokens: OAuthTokens, source: str, stale: bool, refreshable: bool) -> None:
        self._set(tokens=tokens, source=source, stale=stale, refreshable=refreshable)

    @property
    def secret(self) -> str:
        return self.tokens.access_token


Credential = ApiKeyCredential | OAuthCredential


def env_key(env: Mapping[str, str]) -> ApiKeyCredential | None:
    """The API key from the environment, if one is set.

    Raises:
        InvalidStore: the variable holds control characters (they would inject headers).
    """
    for name, source in ENV_KEYS:
        value = env.get(name, "")
        if value:
            if has_control_chars(value):
                raise InvalidStore(f"{name} contains control characters", f"Fix or unset {name}.")
            return ApiKeyCredential(value, source)
    return None


def resolve(
    env: Mapping[str, str],
    doc: CredentialsDocument,
    now: datetime,
    leeway: float = STALE_LEEWAY,
) -> Credential:
    """Pick the credential in effect.

    Raises:
        NotConfigured: nothing usable anywhere.
        InvalidStore: an env key with control characters.
    """
    from_env = env_key(env)
    if from_env is not None:
        return from_env
    if doc.oauth is not None:
        stale = doc.oauth.is_stale(now, leeway)
        has_rt = doc.oauth.refresh_token is not None
        if not stale or has_rt:
            return OAuthCredential(doc.oauth, doc.source, stale, stale and has_rt)
    if doc.api_key:
        return ApiKeyCredential(doc.api_key, doc.source)
    raise NotConfigured
