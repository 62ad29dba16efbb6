"""The programmatic facade: ``HeyGenAuth``, one object for everything a Python program needs.

    from hyperframes_auth import HeyGenAuth

    auth = HeyGenAuth.from_env()          # the same environment variables as the CLI
    print(auth.whoami().identity)         # refreshes first when the token is stale
    token = auth.token()                  # a valid access token (or API key) for your own requests

Interactive sign-in (``login_browser``, ``login_device``) needs ``interactive=True``: a library never opens a
browser or prompts by surprise; without it they raise :class:`InteractionRequired`, which names the command to
run. The CLI is a thin layer over this class.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import attrs

from ..domain.credentials import CredentialsDocument, OAuthTokens, UserProfile
from ..domain.errors import AuthError, InteractionRequired
from ..domain.resolve import Credential, env_credential
from .bootstrap import Adapters, build
from .settings import Settings

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..domain.api import UserInfo
    from ..domain.service import AuthService, LoginResult, LogoutResult
    from .httpx_auth import HeyGenHttpxAuth


@attrs.frozen(kw_only=True)
class Status:
    """What ``auth status`` reports.

    Attributes:
        credential: the credential in effect (as resolved, before any refresh).
        user: the profile from ``/v3/users/me``, or ``None`` when the check failed.
        api_error: why the check failed, or ``None``.
        backend, location: which store holds the credentials, and where.
        persisted_user: the cached profile from the file (``None`` for credentials from the environment).
    """

    credential: Credential
    user: UserInfo | None
    api_error: AuthError | None
    backend: str
    location: str
    persisted_user: UserProfile | None


class HeyGenAuth:
    """Sign in to HeyGen, stay signed in, sign out: the whole product as a Python object.

    Args:
        settings: endpoints, client id, scope, config dir, store kind, time limits; ``Settings.from_env`` by
            default.
        env: the environment credential resolution reads (``HEYGEN_API_KEY``...); ``os.environ`` by default.
        interactive: allow ``login_browser`` / ``login_device`` to open a browser or print a code.
        adapters: replacements for the real adapters (a transport, a store, a clock...); tests pass fakes.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        env: Mapping[str, str] | None = None,
        interactive: bool = False,
        adapters: Adapters | None = None,
    ) -> None:
        self.env: Mapping[str, str] = os.environ if env is None else env
        self.settings = settings or Settings.from_env(self.env)
        self.interactive = interactive
        self.service: AuthService = build(self.settings, self.env, adapters)

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str] | None = None,
        *,
        interactive: bool = False,
        adapters: Adapters | None = None,
    ) -> HeyGenAuth:
        """Configure from environment variables, exactly as the ``hyperframes`` CLI does."""
        env = os.environ if env is None else env
        return cls(Settings.from_env(env), env=env, interactive=interactive, adapters=adapters)

    # ------------------------------------------------------------------------------------------ sign in

    def _require_interaction(self, what: str) -> None:
        if not self.interactive:
            raise InteractionRequired(f"{what} needs a person at a browser")

    def login_browser(self) -> LoginResult:
        """Browser sign-in (authorization code + PKCE, loopback redirect). Needs ``interactive=True``."""
        self._require_interaction("Signing in")
        return self.service.login_browser()

    def login_device(self) -> LoginResult:
        """Device-code sign-in (RFC 8628) for headless machines. Needs ``interactive=True``."""
        self._require_interaction("Signing in with a device code")
        return self.service.login_device()

    def login_api_key(self, key: str) -> LoginResult:
        """Store a long-lived API key after ``/v3/users/me`` accepts it (rolled back if it is refused)."""
        return self.service.login_api_key(key.strip())

    # ------------------------------------------------------------------------------------------ use

    def credential(self) -> Credential:
        """The credential in effect, refreshed first when it is a stale OAuth token.

        Raises:
            NotConfigured: nothing to use; the hint names ``hyperframes auth login``.
            LoginExpired: the stored sign-in expired and cannot be refreshed.
            RefreshFailed: the refresh token was refused and the access token has expired.
        """
        return self.service.credential()

    def token(self) -> str:
        """A valid access token (or the API key in effect), for your own HTTP requests."""
        return self.credential().secret

    def whoami(self) -> UserInfo:
        """``GET /v3/users/me`` with the credential in effect (one refresh-and-retry on a 401 for OAuth)."""
        return self.service.whoami(self.credential())

    def status(self) -> Status:
        """Which credential is in effect, where it lives, and whether HeyGen accepts it.

        Raises:
            NotConfigured, LoginExpired, InvalidStore: nothing to report on (the CLI exits 1).
        """
        doc = None if env_credential(self.env) else self.service.stored()  # read once: resolution and profile
        resolved = self.service.resolved(doc)
        user: UserInfo | None = None
        api_error: AuthError | None = None
        try:
            user = self.service.whoami(self.service.credential(resolved))
        except AuthError as exc:
            api_error = exc
        store = self.service.ports.store
        return Status(
            credential=resolved,
            user=user,
            api_error=api_error,
            backend=store.backend,
            location=store.location,
            persisted_user=doc.user if doc is not None else None,
        )

    def refresh(self) -> OAuthTokens:
        """Spend the stored refresh token now (``hyperframes auth refresh``) and store the new tokens."""
        return self.service.refresh()

    def stored(self) -> CredentialsDocument:
        """The stored credentials document as it is (no refresh, no network)."""
        return self.service.stored()

    # ------------------------------------------------------------------------------------------ sign out

    def logout(self, keep_api_key: bool = False) -> LogoutResult:
        """Revoke the OAuth tokens (best effort, RFC 7009), then remove them locally.

        Args:
            keep_api_key: remove only the OAuth session and keep a stored API key.
        """
        return self.service.logout(keep_api_key)

    # ------------------------------------------------------------------------------------------ lifetime

    def close(self) -> None:
        """Release the HTTP connections this object holds (the httpx transport's pool)."""
        close = getattr(self.service.ports.http, "close", None)
        if callable(close):
            close()

    def __enter__(self) -> HeyGenAuth:  # noqa: PYI034 - `typing.Self` would cost start-up time
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------------------------------ httpx

    def httpx_auth(self) -> HeyGenHttpxAuth:
        """An ``httpx.Auth`` for ``httpx.Client`` and ``httpx.AsyncClient`` (see ``HeyGenHttpxAuth``)."""
        from .httpx_auth import HeyGenHttpxAuth

        return HeyGenHttpxAuth(self.service, self.settings.api_url)
