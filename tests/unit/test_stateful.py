"""A Hypothesis state machine over the real driver and service, against the in-memory authorization server.

While the server rotates, rejects, expires and revokes, these invariants must hold after every step:

* an authorization code is exchanged at most once (likewise, a retry the server invited is not an exchange);
* the token request's redirect_uri is the one the authorization request carried;
* a rotated-out refresh token is never sent again (the fake server counts replays);
* at most one refresh per 401 (a retry the server invited, with 429, 503 or ``temporarily_unavailable``, spends
  nothing and is not counted);
* an OAuth write never loses the API key or unknown fields.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from urllib.parse import parse_qs, urlsplit

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from hyperframes_auth.domain.credentials import CredentialsDocument
from hyperframes_auth.domain.errors import AuthError
from hyperframes_auth.domain.http import HttpResponse
from tests.fakes import World, json_response


class SignInMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.world = World(CredentialsDocument(api_key="hg_keep_this_1", extra={"future": {"k": 1}}))
        self.world.browser.user = self._person
        self.approve = True
        self.extra_callbacks: list[str] = []
        self.refreshes_per_401: list[int] = []

    def _person(self, url: str) -> None:
        server, listener = self.world.server, self.world.listener
        state = parse_qs(urlsplit(url).query)["state"][0]
        for kind in self.extra_callbacks:
            listener.deliver({"state": "forged", "code": "evil"} if kind == "forged" else {"error": "access_denied"})
        if self.approve:
            reply = server.approve(url)
            listener.deliver(reply)
            listener.deliver(reply)  # a double-click: the same callback twice
        else:
            listener.deliver(server.deny(url) | {"state": state})

    @property
    def refresh_requests(self) -> int:
        return sum(1 for f in self.world.server.spending_token_requests if f.get("grant_type") == "refresh_token")

    # -------------------------------------------------------------------------------- rules

    @rule(approve=st.booleans(), noise=st.lists(st.sampled_from(["forged", "error-without-state"]), max_size=2))
    def login(self, approve: bool, noise: list[str]) -> None:
        self.approve, self.extra_callbacks = approve, noise
        sabotaged = bool(self.world.server.scripted)  # a scripted token-endpoint failure is pending
        try:
            self.world.service.login_browser()
        except AuthError:
            assert not approve or sabotaged

    @rule(seconds=st.sampled_from([10, 1800, 3590, 3600, 7200]))
    def time_passes(self, seconds: int) -> None:
        self.world.clock.advance(seconds)

    @precondition(lambda self: self.world.store.doc.oauth is not None)
    @rule()
    def use_the_token(self) -> None:
        with contextlib.suppress(AuthError):
            self.world.service.credential()

    @precondition(lambda self: self.world.store.doc.oauth is not None)
    @rule()
    def who_am_i(self) -> None:
        before = self.refresh_requests
        try:
            credential = self.world.service.resolved()
            self.world.service.whoami(credential)
        except AuthError:
            pass
        self.refreshes_per_401.append(self.refresh_requests - before)

    @precondition(lambda self: self.world.store.doc.oauth is not None)
    @rule()
    def server_revokes_the_grant(self) -> None:
        oauth = self.world.store.doc.oauth
        if oauth and oauth.refresh_token in self.world.server.refresh:
            self.world.server._revoke_grant(self.world.server.refresh[oauth.refresh_token])

    @rule(error=st.sampled_from(["invalid_grant", "server_error", "temporarily_unavailable", "invalid_request"]))
    def server_rejects_next_token_request(self, error: str) -> None:
        status = 500 if error == "server_error" else 400
        self.world.server.scripted.append(json_response(status, {"error": error}))

    @rule()
    def server_answers_garbage_next(self) -> None:
        self.world.server.scripted.append(HttpResponse(200, {"content-type": "text/html"}, b"<html>"))

    @precondition(lambda self: self.world.store.doc.oauth is not None)
    @rule()
    def forced_refresh(self) -> None:
        with contextlib.suppress(AuthError):
            self.world.service.refresh()

    @rule(keep=st.booleans())
    def logout(self, keep: bool) -> None:
        self.world.service.logout(keep_api_key=keep)
        if not keep:
            self.world.store.doc = CredentialsDocument(api_key="hg_keep_this_1", extra={"future": {"k": 1}})

    # -------------------------------------------------------------------------------- invariants

    @invariant()
    def codes_are_exchanged_at_most_once(self) -> None:
        codes = Counter(
            f["code"] for f in self.world.server.spending_token_requests if f.get("grant_type") == "authorization_code"
        )
        assert all(n == 1 for n in codes.values())

    @invariant()
    def redirect_uri_is_byte_identical(self) -> None:
        sent = {f["redirect_uri"] for f in self.world.server.token_requests if "redirect_uri" in f}
        assert sent <= {self.world.listener.redirect_uri}

    @invariant()
    def rotated_out_refresh_tokens_are_never_sent_again(self) -> None:
        assert self.world.server.replays == 0

    @invariant()
    def at_most_one_refresh_per_401(self) -> None:
        assert all(n <= 1 for n in self.refreshes_per_401)

    @invariant()
    def oauth_writes_keep_the_api_key_and_unknown_fields(self) -> None:
        doc = self.world.store.doc
        assert doc.api_key == "hg_keep_this_1"
        assert doc.extra == {"future": {"k": 1}}


SignInMachine.TestCase.settings = settings(SignInMachine.TestCase.settings, stateful_step_count=25)
TestSignIn = SignInMachine.TestCase
