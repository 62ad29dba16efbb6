"""Token responses (RFC 6749 §5.1/§5.2): what is accepted, what is refused, and how errors are read."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hyperframes_auth.domain.errors import InvalidTokenResponse
from hyperframes_auth.domain.http import HttpResponse
from hyperframes_auth.domain.messages import classify, parse_expires_in, parse_token_response, read_oauth_error
from hyperframes_auth.domain.primitives import parse_instant
from tests.fakes import T0


def test_parses_a_full_response():
    tokens = parse_token_response(
        {
            "access_token": "at",
            "refresh_token": "rt",
            "expires_in": 3600,
            "scope": "openid",
            "token_type": "Bearer",
            "id_token": "x",
        },
        T0,
    )
    assert (tokens.access_token, tokens.refresh_token, tokens.scope, tokens.token_type) == (
        "at",
        "rt",
        "openid",
        "Bearer",
    )
    assert parse_instant(tokens.expires_at) == T0 + timedelta(seconds=3600)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (3600, 3600),
        ("1800", 1800),
        ("1800abc", 1800),
        (3600.5, 3600.5),
        (0, 30),
        (-100, 30),
        (10**12, 366 * 86400),
        ("abc", None),
        ("NaN", None),
        (None, None),
        (True, None),
        (float("inf"), 366 * 86400),
        (10**400, 366 * 86400),  # too large for a float
        (-(10**400), 30),
        ("1e400", 366 * 86400),
        ("\u0663\u0666\u0660\u0660", None),  # Arabic-Indic digits: not ASCII, not a number here
        ("\u00b2", None),
    ],
)
def test_expires_in_is_lenient_and_clamped(value, seconds):
    assert parse_expires_in(value) == seconds


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("7", 7.0), ("\u00b2", None), ("\u0663", None), ("9" * 400, 3600.0), ("-1", None), ("1.5", None), ("", None)],
)
def test_retry_after_accepts_ascii_digits_only_and_is_capped(header, seconds):
    from hyperframes_auth.domain.messages import parse_retry_after

    assert parse_retry_after(HttpResponse(503, {"retry-after": header})) == seconds


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (None, "non-object"),
        ([], "non-object"),
        ("x", "non-object"),
        ({}, "did not return an access_token"),
        ({"access_token": ""}, "did not return an access_token"),
        ({"access_token": 5}, "non-string access_token"),
        ({"access_token": "a\r\nb"}, "access_token holds characters a token may not contain"),
        ({"access_token": "a", "refresh_token": "r\nt"}, "refresh_token holds characters a token may not contain"),
        ({"access_token": "a b"}, "access_token holds characters"),
        ({"access_token": "t\u00e9"}, "access_token holds characters"),
        ({"access_token": "ok", "refresh_token": "r\u2028t"}, "refresh_token holds characters"),
        ({"access_token": "a", "token_type": "mac"}, "other than Bearer"),
        ({"access_token": "a", "token_type": 7}, "other than Bearer"),
    ],
)
def test_shape_failures_are_invalid_token_responses(payload, message):
    with pytest.raises(InvalidTokenResponse, match=message) as info:
        parse_token_response(payload, T0)
    assert info.value.code == "INVALID_TOKEN_RESPONSE"


def test_bearer_is_case_insensitive_and_missing_type_is_accepted():
    assert parse_token_response({"access_token": "a", "token_type": "bEAreR"}, T0).token_type == "bEAreR"
    assert parse_token_response({"access_token": "a"}, T0).expires_at is None


def test_error_bodies_are_data_and_scrubbed():
    error = read_oauth_error(
        {
            "error": "invalid_grant",
            "error_description": "bad refresh_token=abc123",
            "error_uri": "javascript:x",
        }
    )
    assert error is not None
    assert error.error == "invalid_grant"
    assert "abc123" not in (error.description or "")
    assert read_oauth_error({"error": ""}) is None
    assert read_oauth_error({"error": 5}) is None


def test_a_200_with_error_is_an_error_and_html_is_named():
    reply = classify(HttpResponse(200, {}, json.dumps({"error": "server_error"}).encode()))
    assert not reply.ok
    assert reply.error is not None
    html = classify(HttpResponse(200, {"content-type": "text/html; charset=utf-8"}, b"<html>proxy</html>"))
    assert not html.ok
    assert "text/html" in html.detail


@pytest.mark.parametrize(
    "code",
    [
        "invalid_request",
        "invalid_client",
        "invalid_grant",
        "unauthorized_client",
        "unsupported_grant_type",
        "invalid_scope",
        "access_denied",
        "server_error",
        "temporarily_unavailable",
        "brand_new_code",
    ],
)
def test_every_rfc6749_error_code_is_data(code):
    reply = classify(HttpResponse(400, {}, json.dumps({"error": code}).encode()))
    assert reply.error is not None
    assert reply.error.error == code


json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
    max_leaves=10,
)
token_like = st.fixed_dictionaries(
    {},
    optional={
        "access_token": json_values,
        "refresh_token": json_values,
        "expires_in": json_values,
        "token_type": st.sampled_from(["Bearer", "bearer", "mac", ""]) | json_values,
        "scope": json_values,
    },
)


@given(token_like | json_values)
def test_any_json_gives_credentials_or_our_typed_error(payload):
    try:
        tokens = parse_token_response(payload, T0)
    except InvalidTokenResponse:
        return
    assert tokens.access_token


@given(st.binary(max_size=300), st.integers(min_value=100, max_value=599))
def test_classify_never_raises_on_any_body(body, status):
    reply = classify(HttpResponse(status, {}, body))
    assert reply.ok == (reply.payload is not None)
