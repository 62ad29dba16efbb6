"""The OAuth requests byte for byte, and the device authorization answer field by field (RFC 6749, 7636, 8628).

``test_messages.py`` covers token answers; here: what each request carries (fields, time limit, body limit), how a
device authorization answer is bounded and which URIs it may send a person to, and the small encodings the flows
rest on (unpadded base64url, strict callback queries).
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from hyperframes_auth.domain.callback import parse_query
from hyperframes_auth.domain.errors import DeviceAuthFailed, InvalidTokenResponse
from hyperframes_auth.domain.http import HttpResponse
from hyperframes_auth.domain.messages import (
    DEVICE_BODY_LIMIT,
    DEVICE_GRANT,
    OAuthErrorBody,
    classify,
    code_request,
    device_poll_request,
    device_request,
    parse_device_authorization,
    parse_token_response,
    refresh_request,
    revoke_request,
    start_auth_code_flow,
)
from hyperframes_auth.domain.pkce import b64url
from tests.fakes import CONFIG, T0, counter_entropy, json_response

REDIRECT = "http://127.0.0.1:4567/oauth/callback"


def test_the_authorization_url_asks_for_a_code_with_every_parameter():
    flow = start_auth_code_flow(CONFIG, REDIRECT, counter_entropy())
    url = urlsplit(flow.authorize_url)
    assert f"{url.scheme}://{url.netloc}{url.path}" == CONFIG.authorize_url
    assert parse_qs(url.query) == {
        "response_type": ["code"],
        "client_id": [CONFIG.client_id],
        "redirect_uri": [REDIRECT],
        "scope": [CONFIG.scope],
        "state": [flow.state],
        "code_challenge": [parse_qs(url.query)["code_challenge"][0]],
        "code_challenge_method": ["S256"],
    }


def test_the_token_requests_carry_their_time_limit():
    flow = start_auth_code_flow(CONFIG, REDIRECT, counter_entropy())
    assert code_request(CONFIG, "c", flow, 7.0).timeout == 7.0
    assert refresh_request(CONFIG, "rt", 6.0).timeout == 6.0
    assert revoke_request(CONFIG, "t", None, 4.0).timeout == 4.0


def test_the_device_requests_carry_the_client_their_limits_and_nothing_else():
    ask = device_request(CONFIG, 9.0)
    assert (ask.method, ask.url, ask.timeout, ask.max_bytes) == ("POST", CONFIG.device_url, 9.0, DEVICE_BODY_LIMIT)
    assert ask.form() == {"client_id": CONFIG.client_id, "scope": CONFIG.scope}
    poll = device_poll_request(CONFIG, "dc-1", 8.0)
    assert (poll.method, poll.url, poll.timeout, poll.max_bytes) == ("POST", CONFIG.token_url, 8.0, DEVICE_BODY_LIMIT)
    assert poll.form() == {"grant_type": DEVICE_GRANT, "device_code": "dc-1", "client_id": CONFIG.client_id}
    assert DEVICE_GRANT == "urn:ietf:params:oauth:grant-type:device_code"
    assert DEVICE_BODY_LIMIT == 64 * 1024


# ---------------------------------------------------------------------------------------------- token answers


def test_a_refresh_token_may_hold_a_space_an_access_token_may_not():
    # RFC 6749 Appendix A: a refresh token is 1*VSCHAR (space included); an access token travels as `Bearer x`.
    tokens = parse_token_response({"access_token": "at", "refresh_token": "r t"}, T0)
    assert tokens.refresh_token == "r t"
    with pytest.raises(InvalidTokenResponse, match="the access_token holds characters a token may not contain"):
        parse_token_response({"access_token": "a t"}, T0)


def test_the_exact_complaints_about_a_token_answer():
    with pytest.raises(InvalidTokenResponse) as caught:
        parse_token_response([], T0)
    assert caught.value.detail == "the token endpoint returned a non-object payload"
    with pytest.raises(InvalidTokenResponse) as caught:
        parse_token_response({"access_token": "a", "token_type": "MAC"}, T0)
    assert caught.value.detail == "the token endpoint returned a token type other than Bearer"


def test_the_moment_tokens_arrived_is_kept_only_with_an_expiry():
    timed = parse_token_response({"access_token": "a", "expires_in": 60, "scope": 5}, T0)
    assert timed.extra == {"obtained_at": "2026-05-28T06:00:00.000Z"}
    assert timed.expires_at == "2026-05-28T06:01:00.000Z"
    assert timed.scope is None  # not a string: dropped
    untimed = parse_token_response({"access_token": "a", "scope": "openid"}, T0)
    assert (untimed.extra, untimed.expires_at, untimed.scope) == ({}, None, "openid")


# ---------------------------------------------------------------------------------------------- device answers


def device(**fields: object):
    payload = {"device_code": "dc", "user_code": "ABCD", "verification_uri": "https://auth.test/device", **fields}
    return parse_device_authorization(payload, 5.0)


def refused(**fields: object) -> str:
    with pytest.raises(DeviceAuthFailed) as caught:
        device(**fields)
    return caught.value.message


def test_a_device_answer_needs_both_codes():
    no_codes = "Device authorization failed: the server's answer has no usable device_code or user_code"
    assert refused(user_code="") == no_codes
    assert refused(user_code=7) == no_codes
    assert refused(device_code="d\x00c") == no_codes


@pytest.mark.parametrize(
    "uri",
    [
        "http://auth.test/device",
        "ftp://127.0.0.1/device",
        "https://auth.test/d\u00e9vice",
        "https://auth.test/\u202edevice",
        "https://[::1/device",
        "",
        5,
    ],
    ids=["http", "ftp-loopback", "non-ascii", "bidi", "bad-ipv6", "empty", "number"],
)
def test_a_person_is_only_sent_to_an_https_or_loopback_page(uri):
    assert refused(verification_uri=uri) == (
        "Device authorization failed: the server's verification_uri is missing or not https"
    )


def test_loopback_http_pages_are_accepted_for_local_servers():
    assert device(verification_uri="http://127.0.0.1:3000/device").verification_uri == "http://127.0.0.1:3000/device"
    assert device(verification_uri="http://localhost/d").verification_uri == "http://localhost/d"


def test_the_complete_uri_is_kept_only_when_it_may_be_shown():
    complete = "https://auth.test/device?user_code=ABCD"
    assert device(verification_uri_complete=complete).verification_uri_complete == complete
    assert device(verification_uri_complete="http://evil.test/d").verification_uri_complete is None
    assert device(verification_uri_complete=["x"]).verification_uri_complete is None
    assert device().verification_uri_complete is None


def test_the_user_code_is_cut_and_made_inert():
    assert device(user_code="A" * 100).user_code == "A" * 64
    assert device(user_code="AB\x1b[2J").user_code == "AB\\x1b[2J"


@pytest.mark.parametrize(
    ("given", "seconds"),
    [(None, 1800.0), (0, 1800.0), (-5, 1800.0), (0.5, 1.0), (1, 1.0), (300, 300.0), ("600", 600.0), (10**6, 1800.0)],
)
def test_the_codes_life_is_bounded_to_half_an_hour(given, seconds):
    assert device(expires_in=given).expires_in == seconds


@pytest.mark.parametrize(
    ("given", "seconds"),
    [(None, 5.0), (0, 5.0), (1, 5.0), ("7", 7.0), (7.5, 7.5), (600, 60.0)],
)
def test_the_polling_interval_is_at_least_the_minimum_and_at_most_a_minute(given, seconds):
    assert device(interval=given).interval == seconds


# ---------------------------------------------------------------------------------------------- encodings


def test_base64url_drops_only_the_padding():
    assert b64url(b"\x00\x00\x17") == "AAAX"  # a trailing letter stays
    assert b64url(b"\xff") == "_w"
    assert b64url(b"\xfb\xff") == "-_8"


def test_a_callback_query_keeps_blank_values_and_refuses_a_flood_of_fields():
    assert parse_query("state=&code=x") == {"state": [""], "code": ["x"]}
    assert len(parse_query("&".join(f"p{i}=v" for i in range(64)))) == 64
    with pytest.raises(ValueError):  # noqa: PT011 (the wording is the standard library's, per version)
        parse_query("&".join(f"p{i}=v" for i in range(65)))


def test_the_refresh_request_carries_the_grant_the_token_and_the_client():
    assert refresh_request(CONFIG, "rt-1", 5.0).form() == {
        "grant_type": "refresh_token",
        "refresh_token": "rt-1",
        "client_id": CONFIG.client_id,
    }


def test_an_oauth_error_keeps_its_uri_and_redacts_the_requests_secrets_everywhere():
    body = {"error": "invalid_grant rt-secret-1", "error_description": "bad", "error_uri": "https://x.test/rt-secret-1"}
    reply = classify(json_response(400, body), ("rt-secret-1",))
    assert reply.error == OAuthErrorBody("invalid_grant <redacted>", "bad", "https://x.test/<redacted>")
    assert classify(json_response(400, {"error": "e", "error_uri": 5})).error.uri is None
    assert classify(json_response(400, {"error": "e" * 150})).error.error == "e" * 100


def test_what_a_classified_answer_keeps():
    assert classify(json_response(201, {"access_token": "at"})).status == 201
    limited = classify(json_response(429, {"error": "slow_down"}, {"retry-after": "7"}))
    assert (limited.status, limited.retry_after, limited.detail) == (429, 7.0, "slow_down")
    html = classify(HttpResponse(200, {"content-type": "text/html; charset=utf-8", "retry-after": "3"}, b"<p>"))
    assert (html.detail, html.retry_after) == ("non-JSON body (text/html)", 3.0)
    assert classify(HttpResponse(200, {}, b"<p>")).detail == "non-JSON body (unknown content type)"
    long_type = classify(HttpResponse(200, {"content-type": "x/" + "y" * 100}, b"<p>"))
    assert long_type.detail == f"non-JSON body (x/{'y' * 78})"
