"""The state machine's table, checked exhaustively, and each flow driven through the fakes."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from hyperframes_auth.domain import flow as f
from hyperframes_auth.domain import machine as m
from hyperframes_auth.domain.credentials import OAuthTokens
from hyperframes_auth.domain.driver import run
from hyperframes_auth.domain.errors import (
    ApiError,
    AuthorizationDenied,
    CodeRejected,
    DeviceAuthFailed,
    InvalidTransition,
    IssuerMismatch,
    LoginTimedOut,
    RefreshFailed,
    TransportError,
)
from hyperframes_auth.domain.http import HttpResponse
from hyperframes_auth.domain.messages import parse_device_authorization, refresh_request, start_auth_code_flow
from tests.fakes import CONFIG, T0, World, counter_entropy, json_response

FLOW = start_auth_code_flow(CONFIG, "http://127.0.0.1:4567/oauth/callback", counter_entropy())
LATER = T0 + timedelta(seconds=30)
REFRESH = refresh_request(CONFIG, "rt", 15.0)
DEVICE = f.DeviceAuthorization(
    device_code="dc",
    user_code="ABCD",
    verification_uri="https://auth.test/device",
    verification_uri_complete=None,
    expires_in=600,
    interval=5,
)
OK_TOKENS = json_response(200, {"access_token": "at", "refresh_token": "rt", "expires_in": 3600})

STATES = [
    f.Idle(),
    f.AwaitingCallback(FLOW),
    f.ExchangingCode(FLOW, REFRESH, LATER),
    f.RequestingDeviceCode(REFRESH, LATER),
    f.PollingDevice(DEVICE, 5, T0 + timedelta(minutes=10)),
    f.Refreshing("rt", REFRESH, LATER),
    f.Revoking(("rt", "refresh_token"), (("at", "access_token"),), LATER),
    f.SignedIn(OAuthTokens("at")),
    f.Revoked(),
    f.Failed(RefreshFailed()),
]
EVENTS = [
    f.StartBrowserLogin(FLOW),
    f.CallbackAccepted("code", None),
    f.CallbackErrored("access_denied"),
    f.CallbackTimedOut(120),
    f.HttpAnswered(OK_TOKENS),
    f.HttpAnswered(json_response(400, {"error": "invalid_grant"})),
    f.HttpFailed(TransportError("auth.test", "timed out")),
    f.StartDeviceLogin(LATER),
    f.Waited(),
    f.StartRefresh("rt", LATER),
    f.StartRevoke((("rt", "refresh_token"),), LATER),
]


def test_every_state_and_event_type_is_covered_by_the_samples():
    assert {type(s) for s in STATES} == set(f.State.__args__)  # type: ignore[attr-defined]
    assert {type(e) for e in EVENTS} == set(f.Event.__args__)  # type: ignore[attr-defined]


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("state", STATES, ids=lambda s: type(s).__name__)
def test_every_pair_transitions_per_the_table_or_raises_and_keeps_the_state(state, event):
    before = repr(state)
    if (type(state), type(event)) not in m.TRANSITIONS:
        with pytest.raises(InvalidTransition):
            m.step(CONFIG, state, event, T0)
        assert repr(state) == before
        return
    nxt, effects = m.step(CONFIG, state, event, T0)
    assert type(nxt) in f.State.__args__  # type: ignore[attr-defined]
    assert type(nxt) in m.TRANSITIONS[type(state), type(event)][1]
    assert sum(isinstance(e, f.AwaitCallback | f.SendHttp | f.Wait) for e in effects) <= 1
    if m.is_terminal(nxt):
        assert not any(isinstance(e, f.SendHttp | f.AwaitCallback | f.Wait) for e in effects)


def test_the_samples_cover_every_state_and_event():
    assert len(STATES) * len(EVENTS) == 110  # every pair of the product is checked above


def test_a_handler_that_leads_outside_its_row_is_refused_and_the_state_kept(monkeypatch):
    row = m.TRANSITIONS[f.Idle, f.StartRefresh]
    monkeypatch.setitem(m.TRANSITIONS, (f.Idle, f.StartRefresh), (lambda *_a: (f.Revoked(), ()), row[1]))
    with pytest.raises(InvalidTransition, match="to Revoked"):
        m.step(CONFIG, f.Idle(), f.StartRefresh("rt", LATER), T0)


def test_terminal_states_accept_no_event():
    for state in STATES:
        if m.is_terminal(state):
            assert not [k for k in m.TRANSITIONS if k[0] is type(state)]


def test_browser_login_exchanges_the_code_once_with_the_same_redirect_uri():
    world = World()
    state = run(CONFIG, world.ports, f.StartBrowserLogin(FLOW), world.listener)
    assert isinstance(state, f.SignedIn)
    (exchange,) = world.server.token_requests
    assert exchange["redirect_uri"] == FLOW.redirect_uri
    assert exchange["code_verifier"] == FLOW.verifier
    assert exchange["client_id"] == CONFIG.client_id
    assert "client_secret" not in exchange


def test_a_wrong_state_then_a_valid_callback_still_signs_in():
    world = World(user_approves=False)
    world.browser.user = None
    world.listener.deliver({"state": "forged", "code": "evil"})
    world.listener.deliver({"error": "access_denied"})  # no state: ignored
    world.listener.deliver(world.server.approve(FLOW.authorize_url))
    state = run(CONFIG, world.ports, f.StartBrowserLogin(FLOW), world.listener)
    assert isinstance(state, f.SignedIn)
    assert len(world.server.token_requests) == 1
    assert [v.kind for v in world.listener.verdicts] == ["ignored", "ignored", "accepted"]


def test_denied_timed_out_and_mixed_up_logins_never_reach_the_token_endpoint():
    for setup, error in (
        (lambda w: w.listener.deliver(w.server.deny(FLOW.authorize_url)), AuthorizationDenied),
        (lambda w: None, LoginTimedOut),
        (
            lambda w: w.listener.deliver({**w.server.approve(FLOW.authorize_url), "iss": "https://evil.test"}),
            IssuerMismatch,
        ),
        (
            lambda w: w.listener.deliver({**w.server.approve(FLOW.authorize_url), "iss": "https://auth.test/"}),
            IssuerMismatch,
        ),
    ):
        world = World()
        world.browser.user = None
        setup(world)
        state = run(CONFIG, world.ports, f.StartBrowserLogin(FLOW), world.listener)
        assert isinstance(state, f.Failed)
        assert isinstance(state.error, error)
        assert world.server.token_requests == []


def test_absent_iss_is_accepted():
    world = World()
    world.browser.user = None
    query = world.server.approve(FLOW.authorize_url)
    del query["iss"]
    world.listener.deliver(query)
    assert isinstance(run(CONFIG, world.ports, f.StartBrowserLogin(FLOW), world.listener), f.SignedIn)


def test_rejected_code_says_run_login_again():
    world = World()
    world.server.scripted.append(json_response(400, {"error": "invalid_grant", "error_description": "code expired"}))
    state = run(CONFIG, world.ports, f.StartBrowserLogin(FLOW), world.listener)
    assert isinstance(state, f.Failed)
    assert isinstance(state.error, CodeRejected)
    assert "hyperframes auth login" in (state.error.hint or "")
    assert "expired or already used" in state.error.message


def test_token_endpoint_5xx_html_and_redirect_are_api_errors():
    for response in (
        HttpResponse(503, {}, b"upstream down"),
        HttpResponse(200, {"content-type": "text/html"}, b"<html>captive portal</html>"),
        HttpResponse(307, {"location": "https://evil.test/token"}, b""),
    ):
        world = World()
        world.server.scripted.append(response)
        state = run(CONFIG, world.ports, f.StartRefresh("rt-x", LATER))
        assert isinstance(state, f.Failed)
        assert isinstance(state.error, ApiError | RefreshFailed)


def test_refresh_keeps_the_old_refresh_token_when_none_is_returned():
    world = World()
    world.server.scripted.append(json_response(200, {"access_token": "at2", "expires_in": 60}))
    state = run(CONFIG, world.ports, f.StartRefresh("rt-old", LATER))
    assert isinstance(state, f.SignedIn)
    assert state.tokens.refresh_token == "rt-old"


def test_refresh_invalid_grant_is_refresh_failed_with_the_oauth_code():
    world = World()
    state = run(CONFIG, world.ports, f.StartRefresh("unknown", LATER))
    assert isinstance(state, f.Failed)
    assert isinstance(state.error, RefreshFailed)
    assert state.error.oauth_error == "invalid_grant"


def device_world(*responses: HttpResponse) -> World:
    world = World()
    world.server.scripted.extend(responses)
    return world


def test_device_flow_pending_slow_down_then_approved():
    world = device_world(
        json_response(400, {"error": "authorization_pending"}),
        json_response(400, {"error": "slow_down"}),
        json_response(400, {"error": "authorization_pending"}),
        OK_TOKENS,
    )
    state = run(CONFIG, world.ports, f.StartDeviceLogin(T0 + timedelta(days=1)))
    assert isinstance(state, f.SignedIn)
    assert world.clock.sleeps == [5, 5, 10, 10]


def test_device_429_counts_as_slow_down_and_network_errors_back_off():
    world = device_world(json_response(429, {}, {"retry-after": "12"}), OK_TOKENS)
    assert isinstance(run(CONFIG, world.ports, f.StartDeviceLogin(T0 + timedelta(days=1))), f.SignedIn)
    assert world.clock.sleeps == [5, 12]


@pytest.mark.parametrize(
    ("answer", "text"),
    [("access_denied", "denied"), ("expired_token", "expired"), ("invalid_client", "invalid_client")],
)
def test_device_flow_stops_on_terminal_errors(answer, text):
    world = device_world(json_response(400, {"error": answer}))
    state = run(CONFIG, world.ports, f.StartDeviceLogin(T0 + timedelta(days=1)))
    assert isinstance(state, f.Failed)
    assert isinstance(state.error, DeviceAuthFailed)
    assert text in state.error.message
    assert "--device" in (state.error.hint or "")


def test_device_flow_gives_up_at_its_deadline():
    world = World()
    world.server.scripted.extend([json_response(400, {"error": "authorization_pending"})] * 200)
    state = run(CONFIG, world.ports, f.StartDeviceLogin(T0 + timedelta(days=1)))
    assert isinstance(state, f.Failed)
    assert "expired" in state.error.message
    assert sum(world.clock.sleeps) >= 600
    assert len(world.server.token_requests) < 200


@pytest.mark.parametrize(
    ("payload", "ok"),
    [
        (
            {"device_code": "d", "user_code": "U\x1b[2JX", "verification_uri": "https://a/d", "interval": 0},
            True,
        ),
        ({"device_code": "d", "user_code": "U", "verification_uri": "http://evil.test/d"}, False),
        ({"device_code": "d", "user_code": "U", "verification_uri": "javascript:alert(1)"}, False),
        ({"user_code": "U", "verification_uri": "https://a/d"}, False),
        (
            {
                "device_code": "d",
                "user_code": "U",
                "verification_uri": "https://a/d",
                "interval": "5",
                "expires_in": 10**9,
            },
            True,
        ),
    ],
)
def test_device_authorization_is_validated(payload, ok):
    if ok:
        device = parse_device_authorization(payload, 5.0)
        assert 5 <= device.interval <= 60
        assert device.expires_in <= 1800
        assert "\x1b" not in device.user_code
    else:
        with pytest.raises(DeviceAuthFailed):
            parse_device_authorization(payload, 5.0)


def test_revoke_sends_refresh_then_access_and_notes_failures():
    world = World()
    world.server.scripted.clear()
    state = run(CONFIG, world.ports, f.StartRevoke((("rt", "refresh_token"), ("at", "access_token")), LATER))
    assert isinstance(state, f.Revoked)
    forms = [r.form() for r in world.server.requests]
    assert [(f["token"], f["token_type_hint"]) for f in forms] == [
        ("rt", "refresh_token"),
        ("at", "access_token"),
    ]
    assert all(r.timeout == 5.0 for r in world.server.requests)
    world = World()
    world.server.fail_with = TransportError("auth.test", "timed out")
    state = run(CONFIG, world.ports, f.StartRevoke((("rt", "refresh_token"), ("at", "access_token")), LATER))
    assert isinstance(state, f.Revoked)
    assert len(state.remarks) == 2


def test_revoke_retries_without_hint_on_unsupported_token_type():
    class Picky:
        def __init__(self):
            self.forms = []

        def send(self, request):
            form = request.form()
            self.forms.append(form)
            if "token_type_hint" in form:
                return json_response(400, {"error": "unsupported_token_type"})
            return HttpResponse(200)

    picky = Picky()
    state = run(CONFIG, World().ports_with(picky), f.StartRevoke((("rt", "refresh_token"),), LATER))
    assert isinstance(state, f.Revoked)
    assert state.remarks == ()
    assert [("token_type_hint" in f) for f in picky.forms] == [True, False]


def test_revoke_503_is_noted():
    class Down:
        def send(self, _request):
            return HttpResponse(503, {"retry-after": "30"}, b"")

    state = run(CONFIG, World().ports_with(Down()), f.StartRevoke((("rt", "refresh_token"),), LATER))
    assert isinstance(state, f.Revoked)
    assert "503" in state.remarks[0]


def test_requests_never_carry_secrets_in_urls():
    world = World()
    run(CONFIG, world.ports, f.StartBrowserLogin(FLOW), world.listener)
    for request in world.server.requests:
        assert "?" not in request.url
    assert json.loads(OK_TOKENS.body)["access_token"] == "at"
