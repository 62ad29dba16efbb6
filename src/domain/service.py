"""The use cases that change who is signed in: sign in (browser, device, API key), switch accounts, sign out.

:class:`AuthService` is a :class:`~.session.Session` (which keeps the person signed in) that can also sign them in
and out. The CLI and the programmatic facade are thin layers over it, so no behaviour lives only in one of them.

A code exchange and a device grant follow the refresh's transaction discipline (``session.py``): the write is
reserved before the browser opens or polling starts, interruptions are deferred from the spending request until
the tokens are durable, and the account is then named after ``/v3/users/me``'s answer. A sign-out revokes under
the store's lock, so no other process can pick up tokens that are being revoked.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

import attrs

from .accounts import (
    UNKNOWN,
    accounts_in,
    active_account,
    find,
    identified,
    labelled,
    may_refresh,
    replaced,
    switched,
    with_account,
)
from .checks import check_api_key
from .credentials import Account, CredentialsDocument, Environment, OAuthTokens
from .errors import (
    AuthError,
    Unauthenticated,
)
from .resolve import ApiKeyCredential, Credential
from .session import Session, as_credential, tokens_of
from .value import Value

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from .api import UserInfo
    from .flow import Remark

# The machine (flow, driver, messages) and the HTTP answer rules (api, retry) are imported where a flow runs or a
# request is sent: `hyperframes auth token` with a fresh token needs neither, and its cold start is a measured goal.


def _remark(message: str) -> Remark:
    from .flow import Remark

    return Remark(message)


@attrs.frozen(repr=False, eq=False)
class LoginResult(Value):
    """A finished sign-in: the profile when ``/v3/users/me`` answered, else the error it gave (not fatal)."""

    user: UserInfo | None
    identity_error: AuthError | None = None


@attrs.frozen(repr=False, eq=False)
class LogoutResult(Value):
    """What sign-out did: whether tokens were revoked, remarks on revocations that failed, the store, the accounts
    signed out, and whether the credentials file was removed (it stays while other accounts are in it)."""

    revoked: bool
    remarks: tuple[str, ...]
    location: str
    accounts: tuple[str, ...] = ()
    file_removed: bool = True


class AuthService(Session):
    """Sign-in, switching and sign-out, on top of a :class:`~.session.Session`."""

    def _identify(self, credential: Credential) -> LoginResult:
        try:
            return LoginResult(self.ports.read_user(self._me(credential)))
        except AuthError as exc:
            return LoginResult(None, exc)

    def _name(self, holds: Callable[[Account], bool], user: UserInfo) -> None:
        """Name the account that holds the new credential after the person ``/v3/users/me`` describes (unless
        another sign-in replaced that credential meanwhile: the identity in the file always belongs to the
        credential beside it)."""
        target = self.environment
        self._update(lambda doc: identified(doc, target, holds, user.identity, user.as_profile()))

    def login_browser(self) -> LoginResult:
        """Authorization code + PKCE in the system browser, redirect caught on 127.0.0.1 (RFC 8252).

        The write is prepared before the browser opens; from the code exchange until the tokens are saved,
        interruptions are deferred. The account is then named after the identity ``/v3/users/me`` gives; signing in
        again as the same person replaces that account's tokens.
        """
        from .flow import StartBrowserLogin
        from .messages import start_auth_code_flow

        listener = self.ports.listen()
        fresh = Account(self.environment, None)
        try:
            with self.ports.store.reserve() as pending, self.ports.shield() as guard:
                flow = start_auth_code_flow(self.config, listener.redirect_uri, self.ports.entropy)
                tokens = tokens_of(self._run(StartBrowserLogin(flow), listener, guard=guard))
                new = attrs.evolve(fresh, oauth=tokens)
                self._update(lambda doc: with_account(doc, new), pending, "The sign-in succeeded")
        except AuthError as exc:
            listener.finish(ok=False, message=exc.message)
            raise
        else:
            listener.finish(ok=True)
        finally:
            listener.close()
        result = self._identify(as_credential(tokens))
        if result.user is not None:
            self._name(_holding_tokens(tokens), result.user)
        return result

    def login_device(self) -> LoginResult:
        """The device grant (RFC 8628). Tokens are stored only once ``/v3/users/me`` accepts them; tokens it
        refuses are revoked and the sign-in fails."""
        from .flow import StartDeviceLogin

        with self.ports.store.reserve() as pending, self.ports.shield() as guard:
            deadline = self.ports.clock.now() + timedelta(days=1)  # the code's own expiry bounds the polling
            tokens = tokens_of(self._run(StartDeviceLogin(deadline), guard=guard))
            try:
                user = self.ports.read_user(self._me(as_credential(tokens)))
            except AuthError:
                self._revoke(tokens)
                raise
            new = Account(self.environment, user.identity, oauth=tokens, user=user.as_profile())
            self._update(lambda doc: with_account(doc, new), pending, "The sign-in succeeded")
        return LoginResult(user)

    def login_api_key(self, key: str) -> LoginResult:
        """Store an API key, then verify it with ``/v3/users/me`` and name its account.

        On a 401 the previous credentials are restored exactly (or the file removed when there were none) and
        :class:`Unauthenticated` is raised; on other errors the key stays stored (a transient failure must not
        cost a good key) and the error is raised.
        """
        check_api_key(key)
        before: list[CredentialsDocument] = []
        new = Account(Environment(self.environment.api), None, api_key=key)

        def store_key(doc: CredentialsDocument) -> CredentialsDocument:
            before.append(doc)
            return with_account(doc, new)

        self._update(store_key)
        try:
            user = self.ports.read_user(self._me(ApiKeyCredential(key, "file_json")))
        except Unauthenticated as exc:
            previous = before[0]
            restore = bool(previous.api_key or previous.oauth or previous.others)
            self._update(lambda _doc: previous)  # exactly as before; an empty document deletes the file
            exc.rollback = "Rolled back to the previous credential." if restore else "Removed the rejected credential."
            raise
        self._name(lambda account: account.api_key == key, user)
        return LoginResult(user)

    def switch(self, user: str) -> Account:
        """Make ``user`` the active account of this environment.

        Raises:
            UnknownAccount: no such account here.
        """
        target = self.environment
        chosen = self._account(self.stored(), user)
        self._update(lambda doc: switched(doc, target, chosen.identity or ""))
        return chosen

    # ------------------------------------------------------------------------------------------ sign out

    def _revoke(self, tokens: OAuthTokens) -> tuple[str, ...]:
        from .flow import Revoked, StartRevoke

        pairs: list[tuple[str, str | None]] = []
        if tokens.refresh_token:
            pairs.append((tokens.refresh_token, "refresh_token"))
        pairs.append((tokens.access_token, "access_token"))
        state = self._run(StartRevoke(tuple(pairs), self._deadline()))
        return state.remarks if isinstance(state, Revoked) else ()

    def logout(self, keep_api_key: bool = False, user: str | None = None, everyone: bool = False) -> LogoutResult:
        """RFC 7009 revocation (refresh token, then access token) under the store's lock, then the local removal.

        Args:
            keep_api_key: remove only the OAuth session and keep the account's API key.
            user: the account to sign out (the environment's active one by default).
            everyone: sign out every account of this environment.

        Revocation is best effort: each request has a short limit and its failures become remarks. If the local
        removal then fails, the error says that the tokens are already revoked at the server.
        """
        store = self.ports.store
        target = self.environment
        with store.lock():
            try:
                doc = labelled(store.read(), target)
            except AuthError:
                doc = None
            if doc is None:
                chosen: list[Account] = []
            elif everyone:
                chosen = accounts_in(doc, target)
            else:
                one = self._account(doc, user) if user is not None else active_account(doc, target)
                chosen = [one] if one is not None else []
            remarks: tuple[str, ...] = ()
            for account in chosen:
                if account.oauth is None:
                    continue
                if account.environment is None or may_refresh(account.environment, target):
                    remarks += self._revoke(account.oauth)
                else:  # its tokens go only to the server that issued them, never to this configuration's
                    issuer = urlsplit(account.environment.token_url or account.environment.api).netloc
                    remark = f"the OAuth tokens were not revoked: they were issued by {issuer}, not this configuration's server."
                    self.ports.notify(_remark(remark))
                    remarks += (remark,)
            try:
                removed = self._remove_locked(doc, chosen, keep_api_key)
            except AuthError as exc:
                if any(a.oauth for a in chosen):
                    exc.message = f"{exc.message} (the tokens were already revoked at the server)"
                raise
        revoked = any(a.oauth is not None for a in chosen)
        return LogoutResult(revoked, remarks, store.location, tuple(a.identity or UNKNOWN for a in chosen), removed)

    def _remove_locked(self, doc: CredentialsDocument | None, chosen: list[Account], keep_api_key: bool) -> bool:
        """Take ``chosen`` out of the document (or only their OAuth sessions); ``True`` when the file went with them."""
        store = self.ports.store
        if doc is None:  # an unreadable file: signing out removes it
            store.delete()
            return True
        for account in chosen:
            current = find(doc, self.environment, account.identity) or account
            kept = (
                attrs.evolve(current, oauth=None, user=current.user if current.api_key else None)
                if keep_api_key
                else None
            )
            doc = replaced(doc, current, kept)
        if doc.is_worth_keeping():
            store.write(doc)
            return False
        store.delete()
        return True


def _holding_tokens(tokens: OAuthTokens) -> Callable[[Account], bool]:
    return lambda account: account.oauth is not None and account.oauth.access_token == tokens.access_token
