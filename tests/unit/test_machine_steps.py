"""One step of the machine at a time: where each answer leads, what is sent, waited for, and said.

``test_machine.py`` drives whole flows through the fakes; here each handler of the table is given one event and
its next state and effects are checked exactly: the retry rules (``retry.py``: only what the server cannot have
acted on, within the attempts and the deadline), each request's time limit cut to the operation's deadline, and
the error (class, code, message) every failure ends in.
"""

from __future__ import annotations

from datetime import timedelta

import attrs
import pytest

from hyperframes_auth.domain import flow as f
from hyperframes_auth.domain import machine as m
from hyperframes_auth.domain.credentials import OAuthTokens
from hyperframes_auth.domain.driver import run
from hyperframes_auth.domain.errors import (
    ApiError,
    CodeRejected,
    DeviceAuthFailed,
    InvalidTokenResponse,
    InvalidTransition,
    RefreshFailed,
    ServerUnavailable,
    TransportError,
)
from hyperframes_auth.domain.http import HttpResponse
from hyperframes_auth.domain.messages import (
    code_request,
    device_request,
    refresh_request,
    revoke_request,
    start_auth_code_flow,
)
from tests.fakes import CONFIG, T0, World, counter_entropy, json_response

REDIRECT = "http://127.0.0.1:4567/oauth/callback"
DEADLINE = T0 + timedelta(seconds=30)
TOKENS = json_response(200, {"access_token": "at-new", "refresh_token": "rt-new", "expires_in": 3600})
SECRET = "s3cret-refresh-token-value"


def flow() -> f.AuthCodeFlow:
    return start_auth_code_flow(CONFIG, REDIRECT, counter_entropy())


def exchanging(attempt: int = 1, deadline=DEADLINE) -> f.ExchangingCode:
    current = flow()
    return f.ExchangingCode(current, code_request(CONFIG, "the-code", current, 15.0), deadline, attempt)


def refreshing(attempt: int = 1, deadline=DEADLINE, spent: str = "rt-old") -> f.Refreshing:
    return f.Refreshing(spent, refresh_request(CONFIG, spent, 15.0), deadline, attempt)


def requesting(attempt: int = 1, deadline=DEADLINE) -> f.RequestingDeviceCode:
    return f.RequestingDeviceCode(device_request(CONFIG, 15.0), deadline, attempt)


def device(interval: float = 5.0) -> f.DeviceAuthorization:
    return f.DeviceAuthorization(
        device_code="dc-1",
        user_code="ABCD-EFGH",
        verification_uri="https://auth.test/device",
        verification_uri_complete=None,
        expires_in=600,
        interval=interval,
    )


def polling(interval: float = 5.0, deadline=T0 + timedelta(minutes=10)) -> f.PollingDevice:
    return f.PollingDevice(device(interval), interval, deadline)


def answered(status: int, body: object = None, headers: dict[str, str] | None = None, secrets=()) -> f.HttpAnswered:
    response = HttpResponse(status, headers or {}) if body is None else json_response(status, body, headers)
    return f.HttpAnswered(response, secrets)


def failed(sent: bool) -> f.HttpFailed:
    return f.HttpFailed(TransportError("auth.test", "connection refused", sent=sent), sent=sent)


def step(state, event, now=T0, config=CONFIG):
    return m.step(config, state, event, now)


def error_of(state) -> Exception:
    assert isinstance(state, f.Failed), state
    return state.error


# ---------------------------------------------------------------------------------------------- browser login


def test_an_accepted_callback_sends_the_exchange_once_within_the_operations_deadline():
    current = flow()
    state, effects = step(f.AwaitingCallback(current), f.CallbackAccepted("the-code", "https://auth.test"))
    assert isinstance(state, f.ExchangingCode)
    assert state.deadline == T0 + timedelta(seconds=CONFIG.deadline)
    assert state.attempt == 1
    assert state.request.timeout == CONFIG.request_timeout
    assert state.request.form()["code"] == "the-code"
    (send,) = effects
    assert send == f.SendHttp(state.request, spends=True)


def test_the_exchange_gets_what_is_left_of_a_short_deadline():
    short = attrs.evolve(CONFIG, deadline=4.0)
    state, (send,) = step(f.AwaitingCallback(flow()), f.CallbackAccepted("c"), config=short)
    assert state.deadline == T0 + timedelta(seconds=4)
    assert send.request.timeout == 4.0
    assert send.spends is True


def test_a_callback_from_another_issuer_fails_before_anything_is_sent():
    state, effects = step(f.AwaitingCallback(flow()), f.CallbackAccepted("c", "https://evil.test"))
    assert error_of(state).code == "ISSUER_MISMATCH"
    assert effects == ()


def test_tokens_end_the_exchange_and_a_malformed_answer_is_an_invalid_token_response():
    state, effects = step(exchanging(), f.HttpAnswered(TOKENS))
    assert isinstance(state, f.SignedIn)
    assert (state.tokens.access_token, state.tokens.refresh_token) == ("at-new", "rt-new")
    assert effects == ()
    state, _ = step(exchanging(), answered(200, {"access_token": ""}))
    assert type(error_of(state)) is InvalidTokenResponse
    assert error_of(state).message.endswith("the token endpoint did not return an access_token")


@pytest.mark.parametrize(
    ("answer", "wait"),
    [
        (answered(503), f.Wait(0.5, jitter=True)),
        (answered(429, headers={"retry-after": "7"}), f.Wait(7.0, jitter=False)),
        (answered(400, {"error": "temporarily_unavailable"}), f.Wait(0.5, jitter=True)),
    ],
    ids=["503", "429-retry-after", "temporarily_unavailable"],
)
def test_an_exchange_the_server_did_not_act_on_is_sent_again_after_a_wait(answer, wait):
    state = exchanging()
    nxt, effects = step(state, answer)
    assert nxt == state
    assert effects == (wait,)


def test_the_wait_doubles_with_each_attempt_and_stops_at_the_last():
    assert step(exchanging(attempt=2), answered(503))[1] == (f.Wait(1.0, jitter=True),)
    state, effects = step(exchanging(attempt=3), answered(503))
    assert type(error_of(state)) is ServerUnavailable
    assert error_of(state).status == 503
    assert error_of(state).message == "HeyGen API error (503): HTTP 503"
    assert effects == ()


def test_no_wait_is_started_that_would_end_at_or_after_the_deadline():
    # The first wait is 0.5 s: with exactly 0.5 s left there is no time to send again.
    state, _ = step(exchanging(deadline=T0 + timedelta(seconds=0.5)), answered(503))
    assert type(error_of(state)) is ServerUnavailable
    assert step(exchanging(deadline=T0 + timedelta(seconds=0.6)), answered(503))[1] == (f.Wait(0.5, jitter=True),)
    state, _ = step(exchanging(), answered(503, headers={"retry-after": "30"}))
    assert type(error_of(state)) is ServerUnavailable


@pytest.mark.parametrize(
    ("answer", "kind", "message", "oauth_error"),
    [
        (
            answered(400, {"error": "invalid_grant", "error_description": "code expired"}),
            CodeRejected,
            "The authorization code was rejected (expired or already used): invalid_grant: code expired",
            "invalid_grant",
        ),
        (answered(401), CodeRejected, "The authorization code was rejected (expired or already used): HTTP 401", None),
        (answered(400), CodeRejected, "The authorization code was rejected (expired or already used): HTTP 400", None),
        (answered(402), ApiError, "HeyGen API error (402): HTTP 402", None),
        (answered(500), ServerUnavailable, "HeyGen API error (500): HTTP 500", None),
        (answered(502), ServerUnavailable, "HeyGen API error (502): HTTP 502", None),
    ],
    ids=["invalid_grant", "401", "400", "402", "500", "502"],
)
def test_how_a_refused_exchange_ends(answer, kind, message, oauth_error):
    state, effects = step(exchanging(), answer)
    error = error_of(state)
    assert type(error) is kind
    assert error.message == message
    assert getattr(error, "oauth_error", None) == oauth_error
    if isinstance(error, ApiError):
        assert error.status == answer.response.status
    assert effects == ()


def test_an_exchange_that_still_says_temporarily_unavailable_at_the_last_attempt_is_the_servers_trouble():
    state, _ = step(exchanging(attempt=3), answered(400, {"error": "temporarily_unavailable"}))
    assert type(error_of(state)) is CodeRejected  # the server sent an OAuth error: the code is spent
    state, _ = step(exchanging(attempt=3), answered(429))
    assert type(error_of(state)) is ServerUnavailable
    assert error_of(state).status == 429


def test_an_exchange_that_may_have_reached_the_server_is_never_sent_again():
    sent = failed(sent=True)
    state, effects = step(exchanging(), sent)
    assert error_of(state) is sent.error
    assert effects == ()


def test_an_exchange_that_never_left_is_sent_again_after_a_wait_within_the_attempts():
    state = exchanging()
    assert step(state, failed(sent=False)) == (state, (f.Wait(0.5, jitter=True),))
    assert step(exchanging(attempt=2), failed(sent=False))[1] == (f.Wait(1.0, jitter=True),)
    last = failed(sent=False)
    assert error_of(step(exchanging(attempt=3), last)[0]) is last.error
    assert error_of(step(exchanging(deadline=T0 + timedelta(seconds=0.5)), last)[0]) is last.error


def test_after_the_wait_the_exchange_is_resent_with_what_is_left_of_the_deadline():
    state = exchanging()
    nxt, (send,) = step(state, f.Waited(), now=T0 + timedelta(seconds=20))
    assert nxt == attrs.evolve(state, attempt=2)
    assert send.request.timeout == 10.0
    assert send.request.body == state.request.body
    assert send.spends is True
    _, (send,) = step(state, f.Waited(), now=T0 + timedelta(seconds=29.5))
    assert send.request.timeout == 0.5


def test_a_resend_at_the_deadline_gives_up_naming_the_host():
    state, effects = step(exchanging(), f.Waited(), now=DEADLINE)
    error = error_of(state)
    assert type(error) is TransportError
    assert error.message == "Could not reach auth.test: gave up: the operation's time limit was reached"
    assert effects == ()


# ---------------------------------------------------------------------------------------------- device login


def test_a_device_login_asks_for_a_code_within_its_deadline_without_spending_anything():
    deadline = T0 + timedelta(seconds=10)
    state, (send,) = step(f.Idle(), f.StartDeviceLogin(deadline))
    assert state == f.RequestingDeviceCode(device_request(CONFIG, CONFIG.request_timeout), deadline)
    assert send == f.SendHttp(attrs.evolve(state.request, timeout=10.0), spends=False)


def test_the_device_code_is_shown_and_polling_waits_the_interval():
    answer = answered(
        200,
        {
            "device_code": "dc",
            "user_code": "WXYZ",
            "verification_uri": "https://auth.test/d",
            "expires_in": 300,
            "interval": 7,
        },
    )
    state, effects = step(requesting(), answer)
    assert isinstance(state, f.PollingDevice)
    assert (state.interval, state.deadline) == (7.0, T0 + timedelta(seconds=300))
    assert effects == (f.ShowDeviceCode(state.device), f.Wait(7.0))
    state, effects = step(requesting(), answered(200, {"device_code": "dc", "user_code": "WXYZ"}))
    error = error_of(state)
    assert type(error) is DeviceAuthFailed
    assert error.message == "Device authorization failed: the server's verification_uri is missing or not https"


@pytest.mark.parametrize(
    ("answer", "wait"),
    [
        (answered(502), f.Wait(0.5, jitter=True)),  # asking for a code is safe to repeat: a gateway error too
        (answered(503, headers={"retry-after": "3"}), f.Wait(3.0, jitter=False)),
        (answered(400, {"error": "temporarily_unavailable"}), f.Wait(0.5, jitter=True)),
    ],
    ids=["502", "503-retry-after", "temporarily_unavailable"],
)
def test_a_device_code_request_is_repeated_when_the_server_did_not_give_one(answer, wait):
    state = requesting()
    assert step(state, answer) == (state, (wait,))
    assert step(requesting(attempt=2), answered(502))[1] == (f.Wait(1.0, jitter=True),)


def test_how_a_refused_device_code_request_ends():
    state, _ = step(requesting(), answered(400, {"error": "invalid_client", "error_description": "who?"}))
    error = error_of(state)
    assert type(error) is DeviceAuthFailed
    assert (error.message, error.oauth_error) == ("Device authorization failed: invalid_client: who?", "invalid_client")
    state, _ = step(requesting(attempt=3), answered(502))
    assert type(error_of(state)) is ServerUnavailable
    assert error_of(state).status == 502
    state, _ = step(requesting(deadline=T0 + timedelta(seconds=0.5)), answered(502))
    assert type(error_of(state)) is ServerUnavailable


def test_a_refused_device_code_request_does_not_echo_the_requests_secrets():
    body = {"error": "invalid_request", "error_description": f"bad client {SECRET}"}
    state, _ = step(requesting(), answered(400, body, secrets=(SECRET,)))
    assert SECRET not in error_of(state).message
    assert error_of(state).message == "Device authorization failed: invalid_request: bad client <redacted>"


def test_a_device_code_request_is_resent_only_when_it_never_left():
    state = requesting()
    assert step(state, failed(sent=False)) == (state, (f.Wait(0.5, jitter=True),))
    sent = failed(sent=True)
    assert error_of(step(state, sent)[0]) is sent.error
    nxt, (send,) = step(state, f.Waited(), now=T0 + timedelta(seconds=25))
    assert nxt.attempt == 2
    assert send == f.SendHttp(attrs.evolve(state.request, timeout=5.0), spends=False)


def test_polling_sends_the_device_code_with_what_is_left_of_the_codes_life():
    state = polling(deadline=T0 + timedelta(seconds=10))
    nxt, (send,) = step(state, f.Waited())
    assert nxt == state
    assert send.spends is True
    assert send.request.form()["device_code"] == "dc-1"
    assert send.request.timeout == 10.0
    assert step(polling(), f.Waited())[1][0].request.timeout == CONFIG.request_timeout


def test_polling_stops_when_the_code_expires():
    state, effects = step(polling(deadline=T0), f.Waited())
    error = error_of(state)
    assert (error.message, error.oauth_error) == (
        "Device authorization failed: the code expired before it was approved",
        "expired_token",
    )
    assert effects == ()


@pytest.mark.parametrize(
    ("answer", "interval"),
    [
        (answered(400, {"error": "authorization_pending"}), 8.0),
        (answered(400, {"error": "slow_down"}), 13.0),
        (answered(429), 13.0),
        (answered(429, headers={"retry-after": "20"}), 20.0),
        (answered(400, {"error": "server_error"}), 16.0),
        (answered(503, {"error": "temporarily_unavailable"}), 16.0),
        (answered(500), 16.0),
    ],
    ids=["pending", "slow_down", "429", "429-retry-after", "server_error", "temporarily_unavailable", "500"],
)
def test_polling_goes_on_at_the_interval_the_answer_calls_for(answer, interval):
    state, effects = step(polling(8.0), answer)
    assert state == attrs.evolve(polling(8.0), interval=interval)
    assert effects == (f.Wait(interval),)


def test_polling_backs_off_on_network_errors_and_never_waits_more_than_a_minute():
    state, effects = step(polling(8.0), failed(sent=True))
    assert (state.interval, effects) == (16.0, (f.Wait(16.0),))
    state, effects = step(polling(40.0), answered(500))
    assert (state.interval, effects) == (60.0, (f.Wait(60.0),))


@pytest.mark.parametrize(
    ("answer", "message", "oauth_error"),
    [
        (answered(400, {"error": "access_denied"}), "the request was denied", "access_denied"),
        (answered(400, {"error": "expired_token"}), "the code expired before it was approved", "expired_token"),
        (answered(400, {"error": "invalid_grant", "error_description": "no"}), "invalid_grant: no", "invalid_grant"),
        (answered(500, {"error": "invalid_client"}), "invalid_client", "invalid_client"),
        (answered(400), "HTTP 400", None),
    ],
    ids=["denied", "expired", "invalid_grant", "500-with-code", "400"],
)
def test_how_polling_ends_without_tokens(answer, message, oauth_error):
    state, effects = step(polling(), answer)
    error = error_of(state)
    assert type(error) is DeviceAuthFailed
    assert (error.message, error.oauth_error) == (f"Device authorization failed: {message}", oauth_error)
    assert effects == ()


def test_polling_ends_with_the_tokens_or_with_a_device_error_about_their_shape():
    state, _ = step(polling(), f.HttpAnswered(TOKENS))
    assert isinstance(state, f.SignedIn)
    state, _ = step(polling(), answered(200, {"access_token": "at", "token_type": "mac"}))
    error = error_of(state)
    assert type(error) is DeviceAuthFailed
    assert error.message == "Device authorization failed: the token endpoint returned a token type other than Bearer"


# ---------------------------------------------------------------------------------------------- refresh


def test_a_refresh_spends_the_token_once_within_the_deadline():
    deadline = T0 + timedelta(seconds=9)
    state, (send,) = step(f.Idle(), f.StartRefresh("rt-1", deadline))
    assert state == f.Refreshing("rt-1", refresh_request(CONFIG, "rt-1", CONFIG.request_timeout), deadline)
    assert send == f.SendHttp(attrs.evolve(state.request, timeout=9.0), spends=True)


def test_a_refresh_answer_without_a_refresh_token_keeps_the_one_spent():
    state, _ = step(refreshing(spent="rt-kept"), answered(200, {"access_token": "at2"}))
    assert state == f.SignedIn(OAuthTokens("at2", "rt-kept"))
    state, _ = step(refreshing(), f.HttpAnswered(TOKENS))
    assert state.tokens.refresh_token == "rt-new"


@pytest.mark.parametrize(
    ("answer", "kind", "message", "oauth_error"),
    [
        (
            answered(400, {"error": "invalid_grant", "error_description": "revoked"}),
            RefreshFailed,
            "Failed to refresh OAuth tokens: invalid_grant: revoked",
            "invalid_grant",
        ),
        (answered(401), RefreshFailed, "Failed to refresh OAuth tokens: HTTP 401", None),
        (answered(403), ApiError, "HeyGen API error (403): HTTP 403", None),
        (answered(500), ServerUnavailable, "HeyGen API error (500): HTTP 500", None),
        (
            answered(200, {"access_token": "a b"}),
            RefreshFailed,
            "Failed to refresh OAuth tokens: the access_token holds characters a token may not contain",
            None,
        ),
    ],
    ids=["invalid_grant", "401", "403", "500", "bad-token"],
)
def test_how_a_refused_refresh_ends(answer, kind, message, oauth_error):
    state, effects = step(refreshing(), answer)
    error = error_of(state)
    assert type(error) is kind
    assert error.message == message
    assert getattr(error, "oauth_error", None) == oauth_error
    assert effects == ()


def test_a_refresh_the_server_did_not_act_on_is_retried_and_then_is_the_servers_trouble():
    state = refreshing()
    assert step(state, answered(503)) == (state, (f.Wait(0.5, jitter=True),))
    assert step(state, answered(400, {"error": "temporarily_unavailable"})) == (state, (f.Wait(0.5, jitter=True),))
    last, _ = step(refreshing(attempt=3), answered(400, {"error": "temporarily_unavailable"}))
    assert type(error_of(last)) is ServerUnavailable
    assert error_of(last).status == 400


def test_a_refused_refresh_does_not_echo_the_refresh_token():
    body = {"error": "invalid_grant", "error_description": f"unknown token {SECRET}"}
    state, _ = step(refreshing(spent=SECRET), answered(400, body))
    assert error_of(state).message == "Failed to refresh OAuth tokens: invalid_grant: unknown token <redacted>"


def test_a_refresh_is_resent_only_when_it_never_left():
    state = refreshing()
    assert step(state, failed(sent=False)) == (state, (f.Wait(0.5, jitter=True),))
    sent = failed(sent=True)
    assert error_of(step(state, sent)[0]) is sent.error
    nxt, (send,) = step(state, f.Waited(), now=T0 + timedelta(seconds=1))
    assert nxt.attempt == 2
    assert send == f.SendHttp(attrs.evolve(state.request, timeout=15.0), spends=True)


# ---------------------------------------------------------------------------------------------- revoke


def revoking(attempt: int = 1, hint: str | None = "refresh_token") -> f.Revoking:
    return f.Revoking(("rt", hint), (("at", "access_token"),), DEADLINE, (), attempt)


def test_revocation_starts_with_the_first_token_and_nothing_to_revoke_is_done_at_once():
    state, (send,) = step(f.Idle(), f.StartRevoke((("rt", "refresh_token"), ("at", "access_token")), DEADLINE))
    assert state == f.Revoking(("rt", "refresh_token"), (("at", "access_token"),), DEADLINE)
    assert send == f.SendHttp(revoke_request(CONFIG, "rt", "refresh_token", CONFIG.revoke_timeout), spends=False)
    assert step(f.Idle(), f.StartRevoke((), DEADLINE)) == (f.Revoked(), ())


def test_each_revocation_gets_the_revoke_limit_cut_to_the_deadline():
    _, (send,) = step(f.Idle(), f.StartRevoke((("rt", None),), T0 + timedelta(seconds=2)))
    assert send.request.timeout == 2.0
    assert "token_type_hint" not in send.request.form()


def test_a_revoked_token_moves_on_to_the_next_then_ends():
    state, (send,) = step(revoking(), answered(200))
    assert state == f.Revoking(("at", "access_token"), (), DEADLINE)
    assert send.request.form()["token"] == "at"
    assert step(state, answered(204)) == (f.Revoked(), ())


def test_an_unknown_hint_is_dropped_once():
    state, (send,) = step(revoking(), answered(400, {"error": "unsupported_token_type"}))
    assert state.current == ("rt", None)
    assert "token_type_hint" not in send.request.form()
    state, effects = step(state, answered(400, {"error": "unsupported_token_type"}))
    remark = "token revoke returned HTTP 400; local credentials cleared anyway."
    assert state.remarks == (remark,)
    assert effects[0] == f.Remark(remark)


def test_a_revocation_the_server_did_not_act_on_is_retried_then_remarked():
    state = revoking()
    assert step(state, answered(503)) == (state, (f.Wait(0.5, jitter=True),))
    assert step(state, answered(502)) == (state, (f.Wait(0.5, jitter=True),))
    nxt, (send,) = step(state, f.Waited())
    assert nxt == attrs.evolve(state, attempt=2)
    assert send.request.form()["token"] == "rt"
    state, effects = step(revoking(attempt=3), answered(503))
    remark = "token revocation is temporarily unavailable (HTTP 503); local credentials cleared anyway."
    assert state.remarks == (remark,)
    assert effects[0] == f.Remark(remark)
    state, _ = step(revoking(attempt=3), answered(500))
    assert state.remarks == ("token revoke returned HTTP 500; local credentials cleared anyway.",)


def test_a_revocation_that_got_no_answer_is_remarked_and_the_next_one_sent():
    state, effects = step(revoking(), failed(sent=True))
    remark = "token revoke did not complete (Could not reach auth.test: connection refused); local credentials cleared anyway."
    assert state == f.Revoking(("at", "access_token"), (), DEADLINE, (remark,))
    assert effects[0] == f.Remark(remark)
    assert isinstance(effects[1], f.SendHttp)


def test_a_revocation_is_tried_three_times_in_all():
    class Down:
        def __init__(self):
            self.sent = 0

        def send(self, _request):
            self.sent += 1
            return HttpResponse(503)

    down = Down()
    state = run(CONFIG, World().ports_with(down), f.StartRevoke((("rt", "refresh_token"),), DEADLINE))
    assert isinstance(state, f.Revoked)
    assert down.sent == CONFIG.max_attempts


def test_the_table_lists_its_destinations_as_sets_of_states():
    assert m.TRANSITIONS[f.Idle, f.StartRevoke][1] == frozenset({f.Revoking, f.Revoked})
    assert all(isinstance(allowed, frozenset) and allowed for _handler, allowed in m.TRANSITIONS.values())


def test_revocation_answers_at_the_edges():
    state, _effects = step(revoking(), answered(300))
    assert state.remarks == ("token revoke returned HTTP 300; local credentials cleared anyway.",)
    assert step(revoking(), answered(400, {"error": "temporarily_unavailable"}))[1] == (f.Wait(0.5, jitter=True),)
    assert step(revoking(), answered(503, headers={"retry-after": "3"}))[1] == (f.Wait(3.0, jitter=False),)
    _, (send,) = step(f.Idle(), f.StartRevoke((("rt", "refresh_token"),), DEADLINE))
    assert send.request.form() == {"token": "rt", "client_id": CONFIG.client_id, "token_type_hint": "refresh_token"}


def test_a_refresh_waits_as_long_as_the_server_asks():
    assert step(refreshing(), answered(503, headers={"retry-after": "7"}))[1] == (f.Wait(7.0, jitter=False),)


def test_an_event_the_state_has_no_row_for_is_named_in_the_error():
    with pytest.raises(InvalidTransition) as caught:
        step(f.Idle(), f.Waited())
    assert caught.value.message == "Internal error: no transition from Idle on Waited"
    row = m.TRANSITIONS[f.Idle, f.StartRefresh]
    try:
        m.TRANSITIONS[f.Idle, f.StartRefresh] = (lambda *_a: (f.Revoked(), ()), row[1])
        with pytest.raises(InvalidTransition) as caught:
            step(f.Idle(), f.StartRefresh("rt", DEADLINE))
    finally:
        m.TRANSITIONS[f.Idle, f.StartRefresh] = row
    assert caught.value.message == "Internal error: no transition from Idle on StartRefresh to Revoked"
