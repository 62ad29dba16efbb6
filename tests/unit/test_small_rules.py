"""The small rules the rest stands on: endpoints, instants, names, redaction by value, terminal escapes, callback
verdicts, the ``/v3/users/me`` request and answers, and the credential merge rules, each with its exact output."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hyperframes_auth.domain.api import RESOURCE_BODY_LIMIT, check_answer, json_payload, userinfo_request
from hyperframes_auth.domain.callback import Verdict, judge
from hyperframes_auth.domain.checks import is_refresh_token
from hyperframes_auth.domain.credentials import (
    CredentialsDocument,
    OAuthTokens,
    UserProfile,
    with_refresh,
    with_user,
    without_oauth,
)
from hyperframes_auth.domain.errors import ApiError, ConfigError, InvalidStore
from hyperframes_auth.domain.http import HttpRequest, HttpResponse, form_post
from hyperframes_auth.domain.primitives import (
    EARLIEST,
    check_endpoint,
    display_name,
    format_instant,
    is_expired,
    is_loopback_host,
    is_stale,
    origin_of,
    parse_instant,
)
from hyperframes_auth.domain.redact import has_control_chars, neutralize, redact_values, scrub
from hyperframes_auth.domain.resolve import ApiKeyCredential, OAuthCredential, env_credential, resolve
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


# ---------------------------------------------------------------------------------------------- instants


@pytest.fixture
def new_york(monkeypatch):
    """Local time five hours behind UTC (a POSIX TZ rule: no time zone database needed)."""
    import time

    monkeypatch.setenv("TZ", "EST+05")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_instants_are_utc_whatever_the_local_time_zone(new_york):
    assert parse_instant("2026-05-28T06:00:00") == T0  # naive: taken as UTC, not as local time
    aware = parse_instant("2026-05-28T08:00:00+02:00")
    assert aware == T0
    assert aware.utcoffset() == timedelta(0)
    assert format_instant(T0) == "2026-05-28T06:00:00.000Z"


def test_instants_at_the_edges_of_the_calendar_count_as_expired():
    assert parse_instant(5) is None
    assert parse_instant("") is None
    assert parse_instant("9000-01-01T00:00:00Z") == EARLIEST
    assert parse_instant("8999-12-31T23:59:59Z") == datetime(8999, 12, 31, 23, 59, 59, tzinfo=UTC)
    assert format_instant(T0 + timedelta(microseconds=1000)) == "2026-05-28T06:00:00.001Z"
    assert format_instant(T0 + timedelta(microseconds=999999)) == "2026-05-28T06:00:00.999Z"


def test_staleness_at_its_edges():
    at = format_instant
    assert is_stale(at(T0 + timedelta(seconds=60)), None, T0)  # exactly at the leeway: stale
    assert not is_stale(at(T0 + timedelta(seconds=61)), None, T0)
    assert is_stale(at(T0 + timedelta(seconds=30)), at(T0 + timedelta(seconds=30)), T0)  # no lifetime: full leeway
    assert not is_stale(at(T0 + timedelta(seconds=2)), at(T0 + timedelta(seconds=1)), T0)  # 1 s life: 0.5 s leeway
    assert is_stale(at(T0 + timedelta(seconds=40)), at(T0 - timedelta(seconds=60)), T0)  # 100 s life: 50 s leeway
    assert has_control_chars("a\x7fb")
    assert not has_control_chars("a\x80b")


# ---------------------------------------------------------------------------------------------- HTTP values


def test_a_url_crossing_the_port_is_visible_ascii():
    assert HttpRequest("GET", "https://a.test/!x~").url == "https://a.test/!x~"
    assert HttpRequest("GET", "https://a.test/a b").url == "https://a.test/a%20b"
    assert HttpRequest("GET", "https://a.test/\x7f\u00e9\ud800").url == "https://a.test/%7F%C3%A9%ED%A0%80"
    assert HttpRequest("GET", "https://a.test/\x1b[2J").url == "https://a.test/%1B[2J"


def test_a_form_keeps_blank_fields_and_a_bodyless_request_has_none():
    assert HttpRequest("POST", "https://a.test", body=b"a=&b=1").form() == {"a": "", "b": "1"}
    assert HttpRequest("GET", "https://a.test").form() == {}


def test_the_secrets_a_request_carries():
    form = {"content-type": "application/x-www-form-urlencoded"}
    both = HttpRequest("POST", "https://a.test", {"Authorization": "Bearer a b", **form}, b"refresh_token=rt-1&x=y")
    assert both.secrets() == ("a b", "rt-1")
    json_body = HttpRequest("POST", "https://a.test", {"content-type": "application/json"}, b"code=abcd")
    assert json_body.secrets() == ()
    assert HttpRequest("POST", "https://a.test", {}, b"code=abcd").secrets() == ()
    assert HttpRequest("GET", "https://a.test", {"x-api-key": "hg_key_1"}).secrets() == ("hg_key_1",)


def test_an_oauth_form_post_never_follows_redirects_and_asks_for_json():
    request = form_post("https://auth.test/token", {"grant_type": "refresh_token"})
    assert request.headers == {"content-type": "application/x-www-form-urlencoded", "accept": "application/json"}
    assert request.follow_redirects is False
    assert request.body == b"grant_type=refresh_token"


# ---------------------------------------------------------------------------------------------- resolution


def test_an_access_token_from_the_environment_is_used_as_given():
    credential = env_credential({"HEYGEN_ACCESS_TOKEN": "at-from-host"})
    assert credential == OAuthCredential(OAuthTokens("at-from-host"), "env_oauth")
    assert (credential.secret, credential.from_env, credential.refreshable) == ("at-from-host", True, False)


@pytest.mark.parametrize(
    ("env", "message", "hint"),
    [
        (
            {"HEYGEN_ACCESS_TOKEN": "a b"},
            "HEYGEN_ACCESS_TOKEN is not a usable credential: it must be an access token of visible ASCII characters",
            "Fix or unset HEYGEN_ACCESS_TOKEN.",
        ),
        (
            {"HYPERFRAMES_API_KEY": "bad key"},
            "HYPERFRAMES_API_KEY is not a usable credential: it contains spaces or non-ASCII characters",
            "Fix or unset HYPERFRAMES_API_KEY.",
        ),
    ],
)
def test_an_unusable_variable_is_named_with_what_to_do(env, message, hint):
    with pytest.raises(InvalidStore) as caught:
        env_credential(env)
    assert (caught.value.message, caught.value.hint) == (message, hint)


def test_resolution_uses_the_callers_leeway_and_a_last_stale_token_is_used_while_it_lasts():
    tokens = OAuthTokens("at", "rt", format_instant(T0 + timedelta(seconds=200)))
    doc = CredentialsDocument(oauth=tokens, source="file_json")
    assert resolve({}, doc, T0, leeway=300).stale
    assert not resolve({}, doc, T0).stale
    last = CredentialsDocument(oauth=OAuthTokens("at", None, tokens.expires_at), source="file_json")
    assert resolve({}, last, T0, leeway=300) == OAuthCredential(last.oauth, "file_json", stale=True, refreshable=False)


@pytest.mark.parametrize(
    ("status", "kind"),
    [(429, "SERVER_UNAVAILABLE"), (500, "SERVER_UNAVAILABLE"), (501, "SERVER_UNAVAILABLE"), (404, "API_ERROR")],
)
def test_a_users_me_failure_is_the_servers_trouble_or_an_api_error(status, kind):
    with pytest.raises(ApiError) as caught:
        check_answer(HttpResponse(status, {}, b"nope"))
    assert (caught.value.code, caught.value.status) == (kind, status)


def test_what_a_document_and_a_profile_hold():
    from hyperframes_auth.domain.credentials import Account, Environment

    assert CredentialsDocument(others=(Account(Environment("https://api.test"), api_key="k"),)).is_worth_keeping()
    assert not CredentialsDocument(user=UserProfile(email="a@x")).is_worth_keeping()
    assert not UserProfile(first_name="Ann").is_empty()
    assert UserProfile().is_empty()
    assert is_refresh_token("a~b")
    assert origin_of("https:///v3") == "https://"
