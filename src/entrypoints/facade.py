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
from ..domain.value import Value
from .bootstrap import Adapters, build
from .settings import Settings

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..domain.api import UserInfo
    from ..domain.service import AuthService, LoginResult, LogoutResult
    from .httpx_auth import HeyGenHttpxAuth
    from .terminal import LoginConsole


@attrs.frozen(kw_only=True, repr=False, eq=False)
class AccountSummary(Value):
    """One account signed in to the configured environment (no secret in it).

    Attributes:
        identity: who it belongs to (email, else "first last", else username), or ``None`` while unknown.
        kinds: the credentials it holds: ``("oauth",)``, ``("api_key",)`` or both.
        active: whether commands use it by default.
    """

    identity: str | None
    kinds: tuple[str, ...]
    active: bool


@attrs.frozen(kw_only=True, repr=False, eq=False)
class Status(Value):
    """What ``auth status`` reports.

    Attributes:
        credential: the credential in effect (as resolved, before any refresh).
        user: the profile from ``/v3/users/me``, or ``None`` when the check failed.
        api_error: why the check failed, or ``None``.
        backend, location: which store holds the credentials, and where.
        persisted_user: the cached profile from the file (``None`` for credentials from the environment).
        accounts: every account signed in to this environment, the active one first.
        keeper: who holds the encrypted store's key (``None`` for the plain file).
        plain_leftover: a plain credentials file found beside the encrypted one, if any.
    """

    credential: Credential
    user: UserInfo | None
    api_error: AuthError | None
    backend: str
    location: str
    persisted_user: UserProfile | None
    accounts: tuple[AccountSummary, ...] = ()
    keeper: str | None = None
    plain_leftover: str | None = None


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
        self._console: LoginConsole | None = None
        if interactive and (adapters is None or adapters.notify is None):
            # A person is there (the caller said so): show them the sign-in as the CLI does, including the
            # pasted-URL fallback when no browser can be opened.
            from .terminal import LoginConsole, Terminal

            console = LoginConsole(Terminal(env=self.env), remote=self.settings.remote or self.settings.no_browser)
            adapters = attrs.evolve(adapters or Adapters(), notify=console)
            self._console = console
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
        from .terminal import truthy

        if truthy(self.env.get("CI")):
            raise InteractionRequired(message=f"CI is set: no one is here to finish the sign-in ({what.lower()})")

    def login_browser(self, scopes: str | None = None) -> LoginResult:
        """Browser sign-in (authorization code + PKCE, loopback redirect). Needs ``interactive=True``.

        Args:
            scopes: the scopes to ask for, space-separated (``settings.scope`` by default).
        """
        self._require_interaction("Signing in")
        try:
            return self._with_scope(scopes).login_browser()
        finally:
            self._finished()

    def login_device(self, scopes: str | None = None) -> LoginResult:
        """Device-code sign-in (RFC 8628) for headless machines. Needs ``interactive=True``."""
        self._require_interaction("Signing in with a device code")
        try:
            return self._with_scope(scopes).login_device()
        finally:
            self._finished()

    def _finished(self) -> None:
        """A sign-in shown on the terminal is over: its live line goes (it would otherwise tick on)."""
        if self._console is not None:
            self._console.finished()

    def _with_scope(self, scopes: str | None) -> AuthService:
        if not scopes:
            return self.service
        from ..domain.errors import ConfigError
        from ..domain.redact import has_control_chars

        if has_control_chars(scopes) or not scopes.strip():
            raise ConfigError("Scopes must be space-separated names without control characters")
        self.service.config = attrs.evolve(self.service.config, scope=" ".join(scopes.split()))
        return self.service

    def login_api_key(self, key: str) -> LoginResult:
        """Store a long-lived API key after ``/v3/users/me`` accepts it (rolled back if it is refused)."""
        return self.service.login_api_key(key.strip())

    # ------------------------------------------------------------------------------------------ use

    def credential(self, user: str | None = None) -> Credential:
        """The credential in effect (or ``user``'s account's), refreshed first when it is a stale OAuth token.

        Raises:
            NotConfigured: nothing to use; the hint names ``hyperframes auth login``.
            EnvironmentMismatch: signed in elsewhere only; nothing was sent here.
            UnknownAccount: ``user`` is not signed in to this environment.
            LoginExpired: the stored sign-in expired and cannot be refreshed.
            RefreshFailed: the refresh token was refused and the access token has expired.
        """
        return self.service.credential(user=user)

    def token(self, user: str | None = None) -> str:
        """A valid access token (or the API key in effect), for your own HTTP requests."""
        return self.credential(user).secret

    def headers(self, user: str | None = None) -> dict[str, str]:
        """The headers that authenticate a request to HeyGen's API with the credential in effect, refreshed
        first when stale: ``Authorization: Bearer …`` and ``X-HeyGen-Source: cli`` for OAuth, ``x-api-key`` for an
        API key, ``X-HeyGen-Client-Source: hyperframes`` for both.

        For programs that do not use httpx (``httpx_auth()`` does all of this for them): send these only to
        ``settings.api_url``'s origin, never follow a redirect to another origin with them, and on a 401 with an
        OAuth credential call :meth:`refresh_after_401` once and repeat the request once with the new headers.
        """
        from ..domain.api import auth_headers

        return auth_headers(self.credential(user))

    def refresh_after_401(self, refused_headers: dict[str, str]) -> dict[str, str] | None:
        """New headers after the ones given were refused with a 401, or ``None`` when a retry cannot help (an API
        key, an environment token, tokens of no account here, or a refresh token the server refused). Concurrent
        callers share one refresh; the account is the one whose access token was refused."""
        from ..domain.api import auth_headers
        from ..domain.resolve import OAuthCredential

        bearer = {k.lower(): v for k, v in refused_headers.items()}.get("authorization", "")
        if not bearer.lower().startswith("bearer ") or env_credential(self.env) is not None:
            return None
        refused = bearer[7:]
        try:
            holder = next(
                (a for a in self.service.accounts() if a.oauth is not None and a.oauth.access_token == refused), None
            )
            if holder is None:
                return None
            tokens = self.service.refresh(stale_access_token=refused, user=holder.identity)
        except AuthError:
            return None
        return auth_headers(OAuthCredential(tokens, "file_json", identity=holder.identity))

    def whoami(self, user: str | None = None) -> UserInfo:
        """``GET /v3/users/me`` with the credential in effect (one refresh-and-retry on a 401 for OAuth)."""
        return self.service.whoami(self.credential(user))

    # ------------------------------------------------------------------------------------------ accounts

    def accounts(self) -> list[AccountSummary]:
        """Every account signed in to this environment, the active one first (no network)."""
        active = self.service.active_identity()
        return [
            AccountSummary(
                identity=a.identity,
                kinds=tuple(k for k, held in (("oauth", a.oauth), ("api_key", a.api_key)) if held),
                active=(a.identity or "") == (active or "") and i == 0,
            )
            for i, a in enumerate(self.service.accounts())
        ]

    def switch(self, user: str) -> AccountSummary:
        """Make ``user``'s account the active one of this environment.

        Raises:
            UnknownAccount: no such account here.
        """
        self.service.switch(user)
        return next(a for a in self.accounts() if a.active)

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
        persisted = None
        if doc is not None and not resolved.from_env:
            account = next((a for a in self.service.accounts() if a.identity == resolved.identity), None)
            persisted = account.user if account else doc.user
        leftover = getattr(store, "plain_leftover", None)
        return Status(
            credential=resolved,
            user=user,
            api_error=api_error,
            backend=store.backend,
            location=store.location,
            persisted_user=persisted,
            accounts=tuple(self.accounts()) if doc is not None else (),
            keeper=getattr(store, "keeper", None),
            plain_leftover=leftover() if callable(leftover) else None,
        )

    def refresh(self) -> OAuthTokens:
        """Spend the stored refresh token now (``hyperframes auth refresh``) and store the new tokens."""
        return self.service.refresh()

    def stored(self) -> CredentialsDocument:
        """The stored credentials document as it is (no refresh, no network)."""
        return self.service.stored()

    # ------------------------------------------------------------------------------------------ sign out

    def logout(self, keep_api_key: bool = False, user: str | None = None, everyone: bool = False) -> LogoutResult:
        """Revoke the OAuth tokens (best effort, RFC 7009), then remove them locally.

        Args:
            keep_api_key: remove only the OAuth session and keep the account's API key.
            user: the account to sign out (the active one by default).
            everyone: sign out every account of this environment.
        """
        return self.service.logout(keep_api_key, user=user, everyone=everyone)

    def rekey(self, to: str) -> str:
        """Give the encrypted store's key a new keeper without signing out: ``"passphrase"`` (a new one, asked
        twice on a terminal, or ``HYPERFRAMES_CREDENTIALS_PASSPHRASE``) or ``"keyring"`` (the OS keyring). Returns
        the new keeper's description.

        Raises:
            ConfigError: the store in use is not the encrypted one.
            KeyringRefused, StoreChanged, NotConfigured: see the encrypted store.
        """
        from ..domain.errors import ConfigError

        rekey = getattr(self.service.ports.store, "rekey", None)
        if not callable(rekey):
            raise ConfigError(
                "Only the encrypted credentials store has a key to change",
                "Set HYPERFRAMES_CREDENTIALS_STORE=encrypted (your credentials move into it on the next sign-in).",
            )
        return str(rekey(to))

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
