"""The small rules the rest stands on: endpoints, instants, names, redaction by value, terminal escapes, callback
verdicts, the ``/v3/users/me`` request and answers, and the credential merge rules, each with its exact output."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hyperframes_auth.domain.api import RESOURCE_BODY_LIMIT, check_answer, json_payload, userinfo_request
from hyperframes_auth.domain.callback import Verdict, judge
from hyperframes_auth.domain.credentials import (
    CredentialsDocument,
    OAuthTokens,
    UserProfile,
    with_refresh,
    with_user,
    without_oauth,
)
from hyperframes_auth.domain.errors import ApiError, ConfigError
from hyperframes_auth.domain.http import HttpResponse
from hyperframes_auth.domain.primitives import check_endpoint, display_name, is_expired, is_loopback_host
from hyperframes_auth.domain.redact import neutralize, redact_values, scrub
from hyperframes_auth.domain.resolve import ApiKeyCredential
from tests.fakes import T0

# ---------------------------------------------------------------------------------------------- endpoints

CHARACTERS = "HEYGEN_API_URL contains whitespace, control characters, backslashes or non-ASCII characters"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (" https://api.test", CHARACTERS),
        ("https://api.test\\x", CHARACTERS),
        ("https://\u00e4pi.test", CHARACTERS),
        ("https://[::1", "HEYGEN_API_URL is not a valid URL"),
        ("https://api.test:99999", "HEYGEN_API_URL is not a valid URL"),
        ("https:///v3", "HEYGEN_API_URL has no host"),
        ("https://user@api.test", "HEYGEN_API_URL must not carry a user name or password"),
        ("https://:pw@api.test", "HEYGEN_API_URL must not carry a user name or password"),
        (
            "http://api.test",
            "HEYGEN_API_URL must use https (plain http is accepted only for 127.0.0.1, ::1 and localhost)",
        ),
    ],
)
def test_an_endpoint_is_refused_saying_why(url, message):
    with pytest.raises(ConfigError) as caught:
        check_endpoint("HEYGEN_API_URL", url)
    assert caught.value.message == message


def test_an_endpoint_loses_only_its_trailing_slashes():
    assert check_endpoint("X", "http://127.0.0.1:8080/") == "http://127.0.0.1:8080"
    assert check_endpoint("X", "https://api.test/v1//") == "https://api.test/v1"
    assert check_endpoint("X", "https://api.test/X") == "https://api.test/X"
    assert check_endpoint("X", "http://localhost/X/") == "http://localhost/X"


def test_loopback_and_expiry_edges():
    assert not is_loopback_host(None)
    assert is_loopback_host("LOCALHOST")
    assert is_expired("2026-05-28T06:00:00Z", T0)  # at the instant itself it has expired
    assert not is_expired("2026-05-28T06:00:01Z", T0)
    assert display_name(5, "Ann", None, 7) == "Ann"


# ---------------------------------------------------------------------------------------------- redaction


def test_a_secret_is_redacted_in_each_of_its_spellings():
    assert redact_values("echo ab%20c%2Fd here", ["ab c/d"]) == "echo <redacted> here"  # path-style encoding
    assert redact_values('echo ab\\"cd here', ['ab"cd']) == "echo <redacted> here"  # JSON-escaped
    assert redact_values("a full result", ['ab"cd']) == "a full result"
    assert redact_values("x abcd y", ["abcd"]) == "x <redacted> y"  # four characters are enough
    assert redact_values("x abc y", ["abc"]) == "x abc y"


def test_the_longest_secret_goes_first_so_no_piece_of_it_is_left():
    assert redact_values("x azzzzb y", ["zzzz", "azzzzb"]) == "x <redacted> y"
    # Runs of a secret (here spelled with an HTML entity no pattern knows) too, longest first.
    assert redact_values("x azzzzzzzzb&#47; y", ["zzzzzzzz/", "azzzzzzzzb/"]) == "x <redacted>&#47; y"


def test_the_last_code_points_of_each_escape_width():
    assert neutralize("\x85") == "\\x85"
    assert neutralize("\uffff") == "\\uffff"
    assert neutralize("\U000e0001") == "\\U000e0001"


def test_scrub_applies_the_patterns_after_the_values():
    assert scrub("Authorization: Bearer abc.def") == "Authorization: <redacted>"


# ---------------------------------------------------------------------------------------------- callbacks

STATE = "s" * 43


def test_why_a_callback_was_ignored():
    assert judge(STATE, {"state": [STATE], "code": ["a", "b"]}).reason == "ignored a callback with repeated parameters"
    assert judge(STATE, {"code": ["a"]}).reason == "ignored a callback without a state parameter"


def test_an_error_callback_keeps_the_issuer_and_cuts_the_servers_texts():
    verdict = judge(
        STATE,
        {"state": [STATE], "iss": ["https://auth.test"], "error": ["e" * 150], "error_description": ["d" * 400]},
    )
    assert verdict == Verdict(kind="errored", iss="https://auth.test", error="e" * 100, description="d" * 300)


def test_a_callback_without_a_code_is_an_error_naming_what_is_missing():
    verdict = judge(STATE, {"state": [STATE], "iss": ["https://auth.test"]})
    assert verdict == Verdict(
        kind="errored", iss="https://auth.test", error="missing_code", description="the redirect had no code"
    )


# ---------------------------------------------------------------------------------------------- /v3/users/me


def test_the_users_me_request():
    request = userinfo_request("https://api.test/v3/users/me", ApiKeyCredential("hg_key_12345678", "env"), 9.0)
    assert (request.method, request.timeout, request.follow_redirects) == ("GET", 9.0, True)
    assert request.max_bytes == RESOURCE_BODY_LIMIT == 1024 * 1024
    assert request.headers == {
        "accept": "application/json",
        "x-api-key": "hg_key_12345678",
        "x-heygen-client-source": "hyperframes",
    }


@pytest.mark.parametrize(
    ("headers", "kind"),
    [
        ({"content-type": "text/html; charset=utf-8"}, "text/html"),
        ({}, "unknown content type"),
        ({"content-type": "x/" + "y" * 100}, "x/" + "y" * 78),
    ],
)
def test_a_2xx_that_is_not_json_says_what_came_instead(headers, kind):
    body = b"<html>" + b"p" * 300
    with pytest.raises(ApiError) as caught:
        json_payload(HttpResponse(203, headers, body))
    assert caught.value.status == 203
    assert (
        caught.value.message == f"HeyGen API error (203): non-JSON body ({kind}): {(b'<html>' + b'p' * 114).decode()}"
    )


def test_a_missing_scope_asks_for_consent():
    response = HttpResponse(403, {"www-authenticate": 'Bearer error="insufficient_scope"'})
    with pytest.raises(ApiError) as caught:
        check_answer(response)
    assert caught.value.message == "HeyGen API error (403): insufficient_scope"
    assert caught.value.hint == "Run `hyperframes auth login` to grant the missing permission."


# ---------------------------------------------------------------------------------------------- merge rules


def test_the_merge_rules_without_a_previous_block():
    tokens = OAuthTokens("at", "rt", "2026-05-28T07:00:00.000Z")
    assert with_refresh(CredentialsDocument(), tokens).oauth == tokens
    assert tokens.expiry() == T0 + timedelta(hours=1)
    profile = UserProfile(email="a@x", extra={"plan": "pro"})
    assert with_user(CredentialsDocument(), profile).user == profile
    with_key = CredentialsDocument(api_key="hg_key_12345678", oauth=tokens, user=profile)
    assert (without_oauth(with_key).oauth, without_oauth(with_key).user) == (None, profile)
    alone = CredentialsDocument(oauth=tokens, user=profile)
    assert (without_oauth(alone).oauth, without_oauth(alone).user) == (None, None)
