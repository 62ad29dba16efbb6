"""The use cases: sign in (browser, device, API key), keep signed in (refresh, 401 retry), sign out.

Everything here talks to the world only through :class:`Ports`; the CLI and the programmatic facade are thin
layers over :class:`AuthService`, so no behaviour lives only in one of them.

Cross-process single-flight refresh (RFC 9700 §4.14.2, checklist item 19): a refresh takes the store's
exclusive lock, re-reads the store, and skips the request when another process has already replaced the access
token it found stale. With rotation on, a second process that spent the old refresh token would make the server
revoke the whole grant; the lock makes sure only one process spends it.
"""

from __future__ import annotations

from .api import RESOURCE_TIMEOUT, UserInfo, check_userinfo, userinfo_request
from .credentials import (
    CredentialsDocument,
    OAuthTokens,
    _Value,
    with_api_key,
    with_login,
    with_refresh,
    with_user,
    without_oauth,
)
from .errors import (
    AuthError,
    CorruptStore,
    InvalidApiKey,
    InvalidStore,
    NoRefreshToken,
    RefreshFailed,
    Unauthenticated,
)
from .redact import has_control_chars, scrub_body
from .resolve import STALE_LEEWAY, ApiKeyCredential, Credential, OAuthCredential, env_key, resolve

TYPE_CHECKING = False  # `typing`, attrs and the state machine stay off the CLI's fast paths (imported lazily)
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from .driver import Notify
    from .http import HttpResponse
    from .machine import ClientConfig, State
    from .pkce import Entropy
    from .ports import Browser, Clock, CredentialStore, HttpTransport, ListenerFactory

MIN_API_KEY_LENGTH = 8


class Ports(_Value):
    """Everything the core talks to, bundled by the composition root (``entrypoints/bootstrap.py``)."""

    __slots__ = ("browser", "clock", "entropy", "http", "listen", "notify", "store")

    clock: Clock
    http: HttpTransport
    browser: Browser
    listen: ListenerFactory
    store: CredentialStore
    entropy: Entropy
    notify: Notify

    def __init__(
        self,
        *,
        clock: Clock,
        http: HttpTransport,
        browser: Browser,
        listen: ListenerFactory,
        store: CredentialStore,
        entropy: Entropy,
        notify: Notify | None = None,
    ) -> None:
        self._set(
            clock=clock,
            http=http,
            browser=browser,
            listen=listen,
            store=store,
            entropy=entropy,
            notify=notify or _ignore,
        )


def _ignore(_notice: object) -> None:
    """A ``Notify`` for callers that show nothing."""


class LoginResult(_Value):
    """A finished sign-in: the profile when ``/v3/users/me`` answered, else the error it gave (not fatal)."""

    __slots__ = ("identity_error", "user")

    user: UserInfo | None
    identity_error: AuthError | None

    def __init__(self, user: UserInfo | None, identity_error: AuthError | None = None) -> None:
        self._set(user=user, identity_error=identity_error)


class LogoutResult(_Value):
    """What sign-out did: whether tokens were revoked, notes on revocations that failed, and the store."""

    __slots__ = ("location", "notes", "revoked")

    revoked: bool
    notes: tuple[str, ...]
    location: str

    def __init__(self, revoked: bool, notes: tuple[str, ...], location: str) -> None:
        self._set(revoked=revoked, notes=notes, location=location)


def check_api_key(key: str) -> str:
    """Validate an API key the way the reference does, plus whitespace and non-ASCII (header injection).

    Raises:
        InvalidApiKey: empty, control characters, whitespace or non-ASCII, or shorter than 8 characters.
    """
    if not key:
        raise InvalidApiKey("No API key provided.", "Pipe the key on stdin or type it at the prompt.")
    if has_control_chars(key):
        raise InvalidApiKey("API key must not contain newline or control characters.", "Check what you pasted.")
    if not all("!" <= ch <= "~" for ch in key):
        raise InvalidApiKey("API key must not contain spaces or non-ASCII characters.", "Check what you pasted.")
    if len(key) < MIN_API_KEY_LENGTH:
        raise InvalidApiKey(f"API key looks too short (got {len(key)} chars).", "Check what you pasted.")
    return key


def _outcome(state: State) -> OAuthTokens:
    from .machine import Failed, SignedIn

    if isinstance(state, SignedIn):
        return state.tokens
    if isinstance(state, Failed):
        raise state.error
    raise AuthError(f"Internal error: the sign-in ended in {type(state).__name__}")


class AuthService:
    """Sign-in, refresh and sign-out over the ports.

    Args:
        config: the OAuth client (endpoints, client id, scope, issuer, timeouts), or a function building it.
        ports: clock, HTTP, browser, listener factory, store, entropy and a notice sink.
        env: the environment mapping credential resolution reads (``HEYGEN_API_KEY``...).
        userinfo_url: ``{HEYGEN_API_URL}/v3/users/me``.
        leeway: seconds before expiry at which an access token counts as stale.
        timeout: connect and read timeout of each ``/v3/users/me`` request.
    """

    def __init__(
        self,
        config: ClientConfig | Callable[[], ClientConfig],
        ports: Ports,
        env: Mapping[str, str],
        userinfo_url: str,
        leeway: float = STALE_LEEWAY,
        timeout: float = RESOURCE_TIMEOUT,
    ) -> None:
        self._config = config
        self.ports = ports
        self.env = env
        self.userinfo_url = userinfo_url
        self.leeway = leeway
        self.timeout = timeout

    @property
    def config(self) -> ClientConfig:
        """The OAuth client; built on first use (the CLI's read-only commands never need it)."""
        if callable(self._config):
            self._config = self._config()
        return self._config

    # ------------------------------------------------------------------------------------------ reading

    def read(self) -> CredentialsDocument:
        """The stored document (empty when there is none)."""
        return self.ports.store.read()

    def credential(self, doc: CredentialsDocument | None = None) -> Credential:
        """The credential in effect, without any network call (see ``resolve``).

        An API key in the environment wins before the store is even read, so a broken credentials file does not
        stand in its way. ``doc`` is the stored document when the caller has already read it.
        """
        from_env = env_key(self.env)
        if from_env is not None:
            return from_env
        return resolve(self.env, self.read() if doc is None else doc, self.ports.clock.now(), self.leeway)

    def fresh_credential(self, credential: Credential | None = None) -> Credential:
        """The credential in effect (or ``credential``), refreshed first when it is a stale OAuth token.

        If that refresh fails while the old access token has not yet expired, the old one is returned
        (checklist item 85); once it has expired the refresh error is raised.
        """
        credential = credential or self.credential()
        if not (isinstance(credential, OAuthCredential) and credential.refreshable):
            return credential
        try:
            return self._oauth(self.refresh(stale_access_token=credential.secret))
        except AuthError:
            expiry = credential.tokens.expiry()
            if expiry is not None and expiry > self.ports.clock.now():
                return credential
            raise

    def _oauth(self, tokens: OAuthTokens) -> OAuthCredential:
        return OAuthCredential(tokens, "file_json", stale=False, refreshable=False)

    # ------------------------------------------------------------------------------------------ refresh

    def refresh(self, stale_access_token: str | None = None) -> OAuthTokens:
        """Spend the stored refresh token once, under the store's lock, and store the result.

        Args:
            stale_access_token: the access token the caller found stale or was refused with. When the store
                already holds a different, fresh one (another process refreshed), it is returned and no request
                is made. ``None`` forces a refresh (``hyperframes auth refresh``).

        Raises:
            RefreshFailed: no refresh token, or the server refused it (after one re-read of the store).
        """
        store = self.ports.store
        with store.lock():
            doc = store.read()
            held = doc.oauth
            if held is None or held.refresh_token is None:
                raise NoRefreshToken
            now = self.ports.clock.now()
            if (
                stale_access_token is not None
                and held.access_token != stale_access_token
                and not held.is_stale(now, self.leeway)
            ):
                return held
            from .driver import run
            from .machine import Failed, StartRefresh

            state = run(self.config, self.ports, StartRefresh(held.refresh_token))
            if isinstance(state, Failed) and getattr(state.error, "oauth_error", None) == "invalid_grant":
                again = store.read().oauth  # a process outside our lock may have rotated it meanwhile
                if again is not None and again.refresh_token != held.refresh_token:
                    return again
            tokens = _outcome(state)
            updated = with_refresh(doc, tokens)
            store.write(updated)
            assert updated.oauth is not None
            return updated.oauth

    # ------------------------------------------------------------------------------------------ who am I

    def _me(self, credential: Credential) -> HttpResponse:
        return self.ports.http.send(userinfo_request(self.userinfo_url, credential, self.timeout))

    def whoami(self, credential: Credential) -> UserInfo:
        """``GET /v3/users/me`` with ``credential``; for OAuth, one refresh and one retry on a 401.

        Raises:
            Unauthenticated: 401 (after the one retry, or at once for API keys).
            ApiError, TransportError: anything else that went wrong.
        """
        response = self._me(credential)
        if response.status != 401 or not isinstance(credential, OAuthCredential) or not credential.tokens.refresh_token:
            return check_userinfo(response)
        refusal = Unauthenticated(scrub_body(response.body) or "HTTP 401")
        try:
            tokens = self.refresh(stale_access_token=credential.secret)
        except RefreshFailed:
            raise refusal from None
        return check_userinfo(self._me(self._oauth(tokens)))

    # ------------------------------------------------------------------------------------------ sign in

    def _update(self, change: Callable[[CredentialsDocument], CredentialsDocument]) -> CredentialsDocument:
        """Read-modify-write under the lock, for sign-in and sign-out (a refresh never replaces an unreadable store).

        An unreadable store is moved aside first (``quarantine``), never overwritten; a document with nothing worth
        keeping deletes the file.
        """
        store = self.ports.store
        with store.lock():
            try:
                doc = store.read()
            except (InvalidStore, CorruptStore):
                kept = store.quarantine()
                if kept:
                    from .driver import Remark

                    self.ports.notify(Remark(f"The unreadable credentials file was kept as {kept}."))
                doc = CredentialsDocument()
            updated = change(doc)
            if updated.is_worth_keeping():
                store.write(updated)
            else:
                store.delete()
            return updated

    def _cache_user(self, user: UserInfo | None) -> None:
        profile = user.as_profile() if user else None
        self._update(lambda doc: with_user(doc, profile if profile and not profile.is_empty() else None))

    def login_browser(self) -> LoginResult:
        """Authorization code + PKCE in the system browser, redirect caught on 127.0.0.1 (RFC 8252)."""
        from .driver import run
        from .machine import AuthCodeFlow, StartBrowserLogin

        listener = self.ports.listen()
        try:
            flow = AuthCodeFlow.start(self.config, listener.redirect_uri, self.ports.entropy)
            tokens = _outcome(run(self.config, self.ports, StartBrowserLogin(flow), listener))
            self._update(lambda doc: with_login(doc, tokens))
        except AuthError as exc:
            listener.finish(ok=False, message=exc.message)
            raise
        else:
            listener.finish(ok=True)
        finally:
            listener.close()
        try:
            user = self.whoami(self._oauth(tokens))
        except AuthError as exc:
            self._cache_user(None)
            return LoginResult(None, exc)
        self._cache_user(user)
        return LoginResult(user)

    def login_device(self) -> LoginResult:
        """The device grant (RFC 8628). Tokens are stored only once ``/v3/users/me`` accepts them; tokens it
        refuses are revoked and the sign-in fails."""
        from .driver import run
        from .machine import StartDeviceLogin

        tokens = _outcome(run(self.config, self.ports, StartDeviceLogin()))
        try:
            user = check_userinfo(self._me(self._oauth(tokens)))
        except AuthError:
            self._revoke(tokens)
            raise
        self._update(lambda doc: with_user(with_login(doc, tokens), user.as_profile()))
        return LoginResult(user)

    def login_api_key(self, key: str) -> LoginResult:
        """Store an API key, then verify it with ``/v3/users/me``.

        On a 401 the previous credentials are restored exactly (or the file removed when there were none) and
        :class:`Unauthenticated` is raised; on other errors the key stays stored (a transient blip) and the
        error is raised (reference §1.3).
        """
        check_api_key(key)
        before: list[CredentialsDocument] = []

        def store_key(doc: CredentialsDocument) -> CredentialsDocument:
            before.append(doc)
            return with_api_key(doc, key)

        self._update(store_key)
        try:
            user = check_userinfo(self._me(ApiKeyCredential(key, "file_json")))
        except Unauthenticated as exc:
            previous = before[0]
            restore = bool(previous.api_key or previous.oauth)
            self._update(lambda _doc: previous)  # exactly as before; an empty document deletes the file
            exc.rollback = "Rolled back to the previous credential." if restore else "Removed the rejected credential."
            raise
        self._cache_user(user)
        return LoginResult(user)

    # ------------------------------------------------------------------------------------------ sign out

    def _revoke(self, tokens: OAuthTokens) -> tuple[str, ...]:
        pairs: list[tuple[str, str | None]] = []
        if tokens.refresh_token:
            pairs.append((tokens.refresh_token, "refresh_token"))
        pairs.append((tokens.access_token, "access_token"))
        from .driver import run
        from .machine import Revoked, StartRevoke

        state = run(self.config, self.ports, StartRevoke(tuple(pairs)))
        return state.notes if isinstance(state, Revoked) else ()

    def logout(self, keep_api_key: bool = False) -> LogoutResult:
        """Best-effort RFC 7009 revocation (refresh token, then access token), then the local wipe.

        Revocation never blocks the wipe: each request has a 5 s limit and its failures become notes.
        """
        try:
            oauth = self.read().oauth
        except AuthError:
            oauth = None
        notes = self._revoke(oauth) if oauth else ()
        if keep_api_key:
            self._update(without_oauth)
        else:
            with self.ports.store.lock():
                self.ports.store.delete()
        return LogoutResult(oauth is not None, notes, self.ports.store.location)
