"""Which credential is in effect.

Precedence, first non-empty wins:

1. ``HEYGEN_API_KEY`` (source ``env``), 2. ``HYPERFRAMES_API_KEY`` (``env_alias``), 3. ``HEYGEN_ACCESS_TOKEN``
   (``env_oauth``: an OAuth access token handed over by a host application, used as given, never refreshed or
   saved), 4. the credentials file: a fresh OAuth credential beats a stored API key; an OAuth credential within
   the leeway of its expiry is *stale*, usable after a refresh when it has a refresh token (``refreshable``);
   an expired one without a refresh token falls through to the stored API key, and with no key it is
   ``LOGIN_EXPIRED``.

Environment values come in as data (a mapping); ``now`` comes in as an argument.
"""

from __future__ import annotations

import attrs

from .checks import api_key_problem, is_access_token
from .credentials import CredentialsDocument, OAuthTokens
from .errors import InvalidEnvironmentCredential, LoginExpired, NotConfigured
from .primitives import DEFAULT_LEEWAY
from .value import Value

TYPE_CHECKING = False  # `typing` costs start-up time on the CLI's hot path; type checkers know this name
if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime

ENV_KEYS = (("HEYGEN_API_KEY", "env"), ("HYPERFRAMES_API_KEY", "env_alias"))
ENV_TOKEN = ("HEYGEN_ACCESS_TOKEN", "env_oauth")
ENV_SOURCES = {source: name for name, source in (*ENV_KEYS, ENV_TOKEN)}
"""Source label -> the variable it came from."""


@attrs.frozen(repr=False, eq=False)
class ApiKeyCredential(Value):
    """A long-lived API key, sent as ``x-api-key``; never refreshed, never retried on 401."""

    key: str = attrs.field(repr=False)
    source: str
    identity: str | None = None
    kind = "api_key"

    @property
    def secret(self) -> str:
        return self.key

    @property
    def from_env(self) -> bool:
        return self.source in ENV_SOURCES


@attrs.frozen(repr=False, eq=False)
class OAuthCredential(Value):
    """An OAuth access token as resolved: the stored tokens, where they came from, and whether they are stale.

    Attributes:
        tokens: the OAuth block.
        source: ``file_json``, or ``env_oauth`` for ``HEYGEN_ACCESS_TOKEN``.
        stale: the access token expires within the leeway (or has expired).
        refreshable: stale and a refresh token is at hand.
        identity: the account it belongs to (``None`` for the environment's token, or while unknown).
    """

    tokens: OAuthTokens
    source: str
    stale: bool = False
    refreshable: bool = False
    identity: str | None = None
    kind = "oauth"

    @property
    def secret(self) -> str:
        return self.tokens.access_token

    @property
    def from_env(self) -> bool:
        return self.source in ENV_SOURCES


Credential = ApiKeyCredential | OAuthCredential


def env_credential(env: Mapping[str, str]) -> Credential | None:
    """The credential the environment sets, if any (the API keys first, then ``HEYGEN_ACCESS_TOKEN``).

    Raises:
        InvalidEnvironmentCredential: the variable holds something that cannot be sent in a header.
    """
    for name, source in ENV_KEYS:
        value = env.get(name, "")
        if value:
            problem = api_key_problem(value)
            if problem is not None:
                raise InvalidEnvironmentCredential(name, problem)
            return ApiKeyCredential(value, source)
    name, source = ENV_TOKEN
    value = env.get(name, "")
    if value:
        if not is_access_token(value):
            raise InvalidEnvironmentCredential(name, "must be an access token of visible ASCII characters")
        return OAuthCredential(OAuthTokens(value), source)
    return None


def resolve(
    env: Mapping[str, str],
    doc: CredentialsDocument,
    now: datetime,
    leeway: float = DEFAULT_LEEWAY,
) -> Credential:
    """Pick the credential in effect.

    Raises:
        NotConfigured: nothing usable anywhere.
        LoginExpired: only an expired OAuth sign-in without a refresh token is stored.
        InvalidEnvironmentCredential: an environment variable that cannot be used.
    """
    from_env = env_credential(env)
    if from_env is not None:
        return from_env
    if doc.oauth is not None:
        stale = doc.oauth.is_stale(now, leeway)
        has_rt = doc.oauth.refresh_token is not None
        if not stale or has_rt:
            return OAuthCredential(doc.oauth, doc.source, stale, stale and has_rt)
    if doc.api_key:
        return ApiKeyCredential(doc.api_key, doc.source)
    if doc.oauth is not None and doc.oauth.is_expired(now):
        raise LoginExpired
    if doc.oauth is not None:
        # Stale (within the leeway) but not yet expired, and nothing to refresh it with: use it while it lasts.
        return OAuthCredential(doc.oauth, doc.source, stale=True, refreshable=False)
    raise NotConfigured
