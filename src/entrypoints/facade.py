"""The programmatic facade: ``HeyGenAuth``, one object for everything a Python program needs.

    from hyperframes_auth import HeyGenAuth

    auth = HeyGenAuth.from_env()          # same env vars as the CLI
    print(auth.whoami().identity)         # refreshes first when the token is stale
    token = auth.token()                  # a valid access token (or API key) for your own requests

Interactive sign-in (``login``, ``login_device``) needs ``interactive=True``: a library never opens a browser
or prompts by surprise; without it they raise :class:`InteractionRequired`, which names the command to run.
The CLI is a thin layer over this class.
"""

from __future__ import annotations

import os

from ..domain.config import Settings
from ..domain.credentials import CredentialsDocument, OAuthTokens, UserProfile, _Value
from ..domain.errors import AuthError, InteractionRequired
from ..domain.resolve import env_key
from .bootstrap import build

TYPE_CHECKING = False  # keep `typing` off the CLI's fast paths; type checkers know this name
if TYPE_CHECKING:
    from collections.abc import Mapping

    from ..domain.api import UserInfo
    from ..domain.driver import Notify
    from ..domain.pkce import Entropy
    from ..domain.ports import Browser, Clock, CredentialStore, HttpTransport, ListenerFactory
    from ..domain.resolve import Credential
    from ..domain.service import AuthService, LoginResult, LogoutResult
    from .httpx_auth import HeyGenHttpxAuth


class Status(_Value):
    """What ``auth status`` reports.

    Attributes:
        credential: the credential in effect (as resolved, before any refresh).
        user: the profile from ``/v3/users/me``, or ``None`` when the check failed.
        api_error: why the check failed, or ``None``.
        backend, location: which store holds the credentials, and where.
        persisted_user: the cached profile from the file (shown when the API check fails).
    """

    __slots__ = ("api_error", "backend", "credential", "location", "persisted_user", "user")

    credential: Credential
    user: UserInfo | None
    api_error: AuthError | None
    backend: str
    location: str
    persisted_user: UserProfile | None

    def __init__(self, **fields: object) -> None:
        self._set(**fields)


class HeyGenAuth:
    """Sign in to HeyGen, stay signed in, sign out: the whole product as a Python object.

    Args:
        settings: endpoints, client id, scope, config dir, store kind; ``Settings.from_env`` by default.
        env: the environment credential resolution reads (``HEYGEN_API_KEY``...); ``os.environ`` by default.
        interactive: allow ``login`` / ``login_device`` to open a browser or print a code.
        passphrase_prompt: let the encrypted store ask for its passphrase on a TTY (the CLI does).
        transport: ``"httpx"`` (default) or ``"stdlib"``; or pass ``http`` to supply a transport.
        clock, http, browser, listen, store, entropy, notify: replace a port (tests pass fakes here).
        leeway: refresh this many seconds before the access token expires (60 by default).
        login_timeout: how long the browser sign-in waits for the callback (120 s by default).
        timeout: connect and read timeout of each token and API request (15 s by default; revocation keeps 5 s).
        device_min_interval: the shortest device-flow poll interval (5 s, RFC 8628); lower it only for a test
            server that expects faster polling.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        env: Mapping[str, str] | None = None,
        interactive: bool = False,
        passphrase_prompt: bool = False,
        transport: str = "httpx",
        clock: Clock | None = None,
        http: HttpTransport | None = None,
        browser: Browser | None = None,
        listen: ListenerFactory | None = None,
        store: CredentialStore | None = None,
        entropy: Entropy | None = None,
        notify: Notify | None = None,
        open_browser: bool = True,
        leeway: float = 60.0,
        login_timeout: float | None = None,
        device_min_interval: float | None = None,
        timeout: float | None = None,
    ) -> None:
        self.env: Mapping[str, str] = os.environ if env is None else env
        self.settings = settings or Settings.from_env(self.env, os.path.expanduser("~"))
        self.interactive = interactive
        self.service: AuthService = build(
            self.settings,
            self.env,
            clock=clock,
            http=http,
            transport=transport,
            browser=browser,
            listen=listen,
            store=store,
            entropy=entropy,
            notify=notify,
            passphrase_prompt=passphrase_prompt,
            open_browser=open_browser,
            leeway=leeway,
            login_timeout=login_timeout,
            device_min_interval=device_min_interval,
            timeout=timeout,
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **options: object) -> HeyGenAuth:
        """Configure from environment variables, exactly as the ``hyperframes`` CLI does."""
        env = os.environ if env is None else env
        return cls(Settings.from_env(env, os.path.expanduser("~")), env=env, **options)  # type: ignore[arg-type]

    # ------------------------------------------------------------------------------------------ sign in

    def _require_interaction(self, what: str) -> None:
        if not self.interactive:
            raise InteractionRequired(f"{what} needs a person at a browser")

    def login(self) -> LoginResult:
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
            RefreshFailed: the refresh token was refused and the access token has expired.
        """
        return self.service.fresh_credential()

    def token(self) -> str:
        """A valid access token (or the API key in effect), for your own HTTP requests."""
        return self.credential().secret

    def whoami(self) -> UserInfo:
        """``GET /v3/users/me`` with the credential in effect (one refresh-and-retry on a 401 for OAuth)."""
        return self.service.whoami(self.credential())

    def status(self) -> Status:
        """Which credential is in effect, where it lives, and whether HeyGen accepts it.

        Raises:
            NotConfigured, InvalidStore: nothing to report on (the CLI exits 1).
        """
        doc = None if env_key(self.env) else self.service.read()  # read once: resolution and the cached user
        resolved = self.service.credential(doc)
        user: UserInfo | None = None
        api_error: AuthError | None = None
        try:
            user = self.service.whoami(self.service.fresh_credential(resolved))
        except AuthError as exc:
            api_error = exc
        persisted = doc.user if doc is not None else None
        store = self.service.ports.store
        return Status(
            credential=resolved,
            user=user,
            api_error=api_error,
            backend=store.backend,
            location=store.location,
            persisted_user=persisted,
        )

    def refresh(self) -> OAuthTokens:
        """Spend the stored refresh token now (``hyperframes auth refresh``) and store the new tokens."""
        return self.service.refresh()

    def stored(self) -> CredentialsDocument:
        """The stored credentials document as it is (no refresh, no network)."""
        return self.service.read()

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
        """An ``httpx.Auth`` for ``httpx.Client`` and ``httpx.AsyncClient`` (see ``HeyGenHttpxAuth``); it refreshes
        ``leeway`` seconds (given to this object, 60 by default) before the access token expires."""
        from .httpx_auth import HeyGenHttpxAuth

        return HeyGenHttpxAuth(self)
