"""Staying signed in: which credential is in effect, refreshing it as a transaction, and asking who it belongs to.

Everything here talks to the world only through :class:`~.ports.Ports`. :class:`Session` is the half of the use
cases that keeps a person signed in; :class:`~.service.AuthService` adds signing in and out.

Two promises shape this module (``docs/SECURITY.md``):

* A refresh is a transaction. It takes the store's exclusive lock, re-reads the store, and skips the request when
  another process already replaced the access token it found stale, so a rotating refresh token is spent once
  (RFC 9700 §4.14.2). Before spending it, the write is prepared (``store.reserve()``: the directory is writable,
  the room is set aside), so a full disk or a read-only directory fails the command with nothing spent; from the
  request until the new tokens are durable, interruptions are deferred (``ports.shield``).
* A credential is only ever sent where it came from (``accounts.py``): the environment's active account is used,
  a refresh token only goes to the token endpoint that issued it, and every operation has a deadline
  (``ClientConfig.deadline``) that cuts each request's time limit.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta
from urllib.parse import urlsplit

import attrs

from .accounts import (
    UNKNOWN,
    accounts_in,
    active_account,
    environment,
    find,
    host_of,
    labelled,
    may_refresh,
    other_environments,
    promoted,
    replaced,
)
from .client import ClientConfig
from .credentials import Account, CredentialsDocument, Environment, OAuthTokens, refreshed
from .errors import (
    AuthError,
    CorruptStore,
    EnvironmentMismatch,
    InvalidStore,
    NoRefreshToken,
    NotConfigured,
    RefreshFailed,
    StoreWriteFailed,
    TransportError,
    Unauthenticated,
    UnknownAccount,
)
from .primitives import DEFAULT_LEEWAY
from .resolve import Credential, OAuthCredential, env_credential, resolve

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from datetime import datetime

    from .api import UserInfo
    from .flow import Event
    from .http import HttpResponse
    from .ports import CallbackListener, Guard, PendingWrite, Ports

# The machine (flow, driver, messages) and the HTTP answer rules (api, retry) are imported where a flow runs or a
# request is sent: `hyperframes auth token` with a fresh token needs neither, and its cold start is a measured goal.


def _refresh_elsewhere(issued: Environment, target: Environment) -> EnvironmentMismatch:
    """Where a refresh token came from and where this configuration would send it (they differ: nothing is sent)."""
    came, goes = urlsplit(issued.token_url or issued.api).netloc, urlsplit(target.token_url or "").netloc
    if came == goes:  # the same token endpoint, another OAuth client
        came, goes = f"{came} as client {issued.client_id}", f"{goes} as client {target.client_id}"
    return EnvironmentMismatch([came], goes, "a refresh would go to")


def tokens_of(state: object) -> OAuthTokens:
    """The tokens a finished flow produced, or its error raised."""
    from .flow import Failed, SignedIn

    if isinstance(state, SignedIn):
        return state.tokens
    if isinstance(state, Failed):
        raise state.error
    raise AuthError(f"Internal error: the sign-in ended in {type(state).__name__}")


def as_credential(tokens: OAuthTokens, identity: str | None = None) -> OAuthCredential:
    """Fresh tokens as the credential of the account ``identity``."""
    return OAuthCredential(tokens, "file_json", identity=identity)


def commit_spent(pending: PendingWrite, doc: CredentialsDocument, what: str) -> None:
    """Save the result of a server-side change; if that fails (after the store's own retries), say what was lost."""
    try:
        pending.commit(doc)
    except StoreWriteFailed as exc:
        exc.message = f"{what}, but {exc.message[0].lower()}{exc.message[1:]}; the new tokens are lost"
        exc.hint = f"{exc.hint} Then run `hyperframes auth login` to sign in again."
        raise


def _secrets(doc: CredentialsDocument) -> tuple[str, ...]:
    """The secrets a stored document holds (redacted from any server text shown while they are in use)."""
    found = (doc.api_key, *((doc.oauth.access_token, doc.oauth.refresh_token) if doc.oauth else ()))
    return tuple(secret for secret in found if secret)


class Session:
    """The credential in effect, kept fresh, over the ports.

    Args:
        config: the OAuth client (endpoints, client id, scope, issuer, time limits).
        ports: clock, HTTP, browser, listener factory, store, entropy, notices, signal shield.
        env: the environment credential resolution reads (``HEYGEN_API_KEY``...).
        api_url: HeyGen's API base URL (``/v3/users/me`` lives there).
        leeway: seconds before expiry at which an access token counts as stale.
    """

    def __init__(
        self,
        config: ClientConfig,
        ports: Ports,
        env: Mapping[str, str],
        api_url: str,
        leeway: float = DEFAULT_LEEWAY,
    ) -> None:
        self.config = config
        self.ports = ports
        self.env = env
        self.api_url = api_url
        self.leeway = leeway
        self.environment = environment(api_url, config.token_url, config.client_id)

    def _deadline(self) -> datetime:
        return self.ports.clock.now() + timedelta(seconds=self.config.deadline)

    def _run(
        self,
        event: Event,
        listener: CallbackListener | None = None,
        secrets: tuple[str, ...] = (),
        guard: Guard | None = None,
    ) -> object:
        from .driver import run

        return run(self.config, self.ports, event, listener, secrets, guard)

    # ------------------------------------------------------------------------------------------ accounts

    def accounts(self) -> list[Account]:
        """The accounts signed in to this environment (the active one first); no network."""
        doc = labelled(self.stored(), self.environment)
        active = active_account(doc, self.environment)
        rest = [a for a in accounts_in(doc, self.environment) if a != active]
        return ([active] if active else []) + rest

    def active_identity(self) -> str | None:
        active = active_account(labelled(self.stored(), self.environment), self.environment)
        return active.identity if active else None

    def _account(self, doc: CredentialsDocument, user: str | None) -> Account:
        """The account a command uses: ``user``'s, or the environment's active one (moved to the top level, so the
        TypeScript CLI sees it too: one write, only when it moves).

        Raises:
            UnknownAccount: ``user`` is not signed in here.
            EnvironmentMismatch: nothing here, but accounts elsewhere (nothing is sent to this environment).
            NotConfigured: nothing anywhere.
        """
        target = self.environment
        if user is not None:
            found = find(labelled(doc, target), target, user)
            if found is None:
                names = [a.identity or UNKNOWN for a in accounts_in(labelled(doc, target), target)]
                raise UnknownAccount(f"No account {user!r} is signed in to {host_of(target.api)}", names)
            return found
        moved = promoted(doc, target)
        if moved.content() != doc.content():
            with contextlib.suppress(AuthError):  # a read-only store still answers; the move waits for a write
                moved = self._update(lambda fresh: promoted(fresh, target))
        account = active_account(moved, target)
        if account is not None:
            return account
        elsewhere = other_environments(moved, target)
        if elsewhere:
            raise EnvironmentMismatch([host_of(api) for api in elsewhere], host_of(target.api))
        raise NotConfigured

    # ------------------------------------------------------------------------------------------ reading

    def stored(self) -> CredentialsDocument:
        """The stored document (empty when there is none); no network."""
        return self.ports.store.read()

    def resolved(self, doc: CredentialsDocument | None = None, user: str | None = None) -> Credential:
        """The credential in effect as it stands, without any network call (see ``resolve``).

        A credential in the environment wins before the store is even read (unless ``user`` asks for a stored
        account), so a broken credentials file does not stand in its way. ``doc`` is the stored document when the
        caller has already read it.
        """
        from_env = env_credential(self.env) if user is None else None
        if from_env is not None:
            return from_env
        doc = self.stored() if doc is None else doc
        account = self._account(doc, user)
        view = CredentialsDocument(api_key=account.api_key, oauth=account.oauth, user=account.user, source=doc.source)
        credential = resolve({}, view, self.ports.clock.now(), self.leeway)
        return attrs.evolve(credential, identity=account.identity)

    def credential(self, resolved: Credential | None = None, user: str | None = None) -> Credential:
        """The credential in effect (or ``resolved``, or ``user``'s), refreshed first when it is a stale OAuth token.

        If that refresh fails while the old access token has not yet expired, the old one is returned; once it
        has expired the refresh error is raised.
        """
        credential = resolved or self.resolved(user=user)
        if not (isinstance(credential, OAuthCredential) and credential.refreshable):
            return credential
        try:
            tokens = self.refresh(stale_access_token=credential.secret, user=credential.identity)
        except AuthError:
            if not credential.tokens.is_expired(self.ports.clock.now()):
                return credential
            raise
        return as_credential(tokens, credential.identity)

    # ------------------------------------------------------------------------------------------ refresh

    def refresh(self, stale_access_token: str | None = None, user: str | None = None) -> OAuthTokens:
        """Spend an account's refresh token once, as a transaction, and store the result.

        Args:
            stale_access_token: the access token the caller found stale or was refused with. When the store
                already holds a different, fresh one (another process refreshed), it is returned and no request
                is made. ``None`` forces a refresh (``hyperframes auth refresh``).
            user: the account (the environment's active one by default).

        Raises:
            RefreshFailed: no refresh token, or the server refused it (after one re-read of the store).
            EnvironmentMismatch: the refresh token was issued by another token endpoint or client; nothing sent.
            StoreWriteFailed: the new tokens could not be saved (the message says where and why).
        """
        store = self.ports.store
        target = self.environment
        with store.lock():
            doc = labelled(store.read(), target)
            account = self._account(doc, user) if user is not None else active_account(doc, target)
            if account is None and other_environments(doc, target):
                elsewhere = [host_of(api) for api in other_environments(doc, target)]
                raise EnvironmentMismatch(elsewhere, host_of(target.api))
            held = account.oauth if account else None
            if account is None or held is None or held.refresh_token is None:
                raise NoRefreshToken
            if account.environment is not None and not may_refresh(account.environment, target):
                raise _refresh_elsewhere(account.environment, target)
            now = self.ports.clock.now()
            if (
                stale_access_token is not None
                and held.access_token != stale_access_token
                and not held.is_stale(now, self.leeway)
            ):
                return held
            from .flow import Failed, StartRefresh

            with store.reserve() as pending, self.ports.shield() as guard:
                guard.arm()
                state = self._run(
                    StartRefresh(held.refresh_token, self._deadline()), secrets=_secrets(doc), guard=guard
                )
                if isinstance(state, Failed) and getattr(state.error, "oauth_error", None) == "invalid_grant":
                    again = find(labelled(store.read(), target), target, account.identity)
                    if (
                        again is not None
                        and again.oauth is not None
                        and again.oauth.refresh_token != held.refresh_token
                    ):
                        return again.oauth  # a process outside our lock rotated it meanwhile
                merged = refreshed(held, tokens_of(state))
                updated = replaced(doc, account, attrs.evolve(account, oauth=merged))
                commit_spent(pending, updated, "The refresh succeeded at the server")
            return merged

    # ------------------------------------------------------------------------------------------ who am I

    def _me(self, credential: Credential) -> object:
        """``/v3/users/me`` with ``credential``: its JSON payload, or our error.

        A GET is safe to repeat, so it is sent again (with backoff, within the operation's deadline) when the
        connection failed before sending or the server answered 429, 502, 503 or 504 (``retry.py``).
        """
        from . import retry
        from .api import check_answer, userinfo_request

        deadline = self._deadline()
        request = userinfo_request(f"{self.api_url}/v3/users/me", credential, self.config.request_timeout)
        attempt = 1
        while True:
            left = (deadline - self.ports.clock.now()).total_seconds()
            outcome: HttpResponse | TransportError
            try:
                response = self.ports.http.send(attrs.evolve(request, timeout=max(0.0, min(left, request.timeout))))
                outcome, status, sent, after = response, response.status, True, retry.parse_retry_after(response)
            except TransportError as exc:
                outcome, status, sent, after = exc, None, bool(getattr(exc, "sent", True)), None
            pause = retry.delay(attempt, after)
            if (
                attempt >= self.config.max_attempts
                or not retry.may_retry(status=status, oauth_error=None, sent=sent, idempotent=True)
                or pause >= (deadline - self.ports.clock.now()).total_seconds()
            ):
                if isinstance(outcome, TransportError):
                    raise outcome
                return check_answer(outcome, request.secrets())
            self.ports.clock.sleep(retry.jitter(pause, self.ports.entropy(2)) if after is None else pause)
            attempt += 1

    def whoami(self, credential: Credential) -> UserInfo:
        """``GET /v3/users/me`` with ``credential``; for a stored OAuth token, one refresh and one retry on a 401.

        Raises:
            Unauthenticated: 401 (after the one retry, or at once for API keys and environment tokens).
            ApiError, TransportError: anything else that went wrong.
        """
        try:
            return self.ports.read_user(self._me(credential))
        except Unauthenticated as refusal:
            if not (isinstance(credential, OAuthCredential) and credential.tokens.refresh_token):
                raise
            try:
                tokens = self.refresh(stale_access_token=credential.secret, user=credential.identity)
            except RefreshFailed:
                raise refusal from None
        return self.ports.read_user(self._me(as_credential(tokens, credential.identity)))

    # ------------------------------------------------------------------------------------------ sign in

    def _read_or_quarantine(self) -> CredentialsDocument:
        """The stored document; an unreadable one is moved aside first (never overwritten) and reads as empty."""
        store = self.ports.store
        try:
            return store.read()
        except (InvalidStore, CorruptStore):
            from .flow import Remark

            kept = store.quarantine()
            if kept:
                self.ports.notify(Remark(f"The unreadable credentials file was kept as {kept}."))
            return CredentialsDocument()

    def _update(
        self,
        change: Callable[[CredentialsDocument], CredentialsDocument],
        pending: PendingWrite | None = None,
        spent: str = "",
    ) -> CredentialsDocument:
        """Read-modify-write under the lock, for sign-in and sign-out; through ``pending`` when the room for the
        write was reserved before a server-side change. A document with nothing worth keeping deletes the file."""
        store = self.ports.store
        with store.lock():
            updated = change(self._read_or_quarantine())
            if pending is not None:
                commit_spent(pending, updated, spent)
            elif updated.is_worth_keeping():
                store.write(updated)
            else:
                store.delete()
            return updated
