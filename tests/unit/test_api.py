"""/v3/users/me requests and answers: the request and status rules (domain) and the body (the JSON codec)."""

from __future__ import annotations

import json

import pytest

from hyperframes_auth.adapters.codec import read_user_info as parse_userinfo
from hyperframes_auth.adapters.codec import to_plain
from hyperframes_auth.domain.api import (
    UserInfo,
    auth_headers,
    check_answer,
    is_insufficient_scope,
    userinfo_request,
)
from hyperframes_auth.domain.credentials import OAuthTokens
from hyperframes_auth.domain.errors import ApiError, Unauthenticated
from hyperframes_auth.domain.http import HttpResponse
from hyperframes_auth.domain.resolve import ApiKeyCredential, OAuthCredential

OAUTH = OAuthCredential(OAuthTokens("at_123"), "file_json", stale=False, refreshable=False)


def check_userinfo(response: HttpResponse) -> UserInfo:
    return parse_userinfo(check_answer(response))


def as_json(user: UserInfo) -> object:
    return {k: v for k, v in to_plain(user).items() if v is not None}  # type: ignore[attr-defined]


KEY = ApiKeyCredential("hg_key_12345", "env")


def test_headers_per_credential_type():
    assert auth_headers(OAUTH) == {
        "authorization": "Bearer at_123",
        "x-heygen-source": "cli",
        "x-heygen-client-source": "hyperframes",
    }
    assert auth_headers(KEY) == {"x-api-key": "hg_key_12345", "x-heygen-client-source": "hyperframes"}
    request = userinfo_request("https://api.test/v3/users/me", OAUTH)
    assert (request.method, request.url, request.follow_redirects) == ("GET", "https://api.test/v3/users/me", True)
    assert "at_123" not in repr(request)


def test_wrapped_and_unwrapped_payloads_with_nested_credits():
    wrapped = {
        "code": 100,
        "message": "Success",
        "data": {
            "email": "a@b.c",
            "username": "ab",
            "billing_type": "subscription",
            "subscription": {
                "plan": "pro",
                "credits": {"premium_credits": {"remaining": 5, "resets_at": "2026-06-01T00:00:00Z"}},
            },
            "wallet": "not an object",
            "first_name": 7,
        },
    }
    user = parse_userinfo(wrapped)
    assert (user.email, user.username, user.billing_type) == ("a@b.c", "ab", "subscription")
    assert user.subscription == wrapped["data"]["subscription"]  # type: ignore[index]
    assert user.wallet is None
    assert user.first_name is None
    assert parse_userinfo({"email": "top@level"}).email == "top@level"


def test_odd_payloads():
    assert as_json(parse_userinfo({"data": [1, 2]})) == {}
    assert as_json(parse_userinfo([1, 2])) == {}
    assert parse_userinfo(None).identity == "(unknown user)"
    assert parse_userinfo({"email": "", "username": "u"}).identity == "u"  # an empty email is skipped
    assert parse_userinfo({"username": "u"}).identity == "u"


def test_the_name_shown_is_the_email_else_first_and_last_else_the_username():
    assert parse_userinfo({"email": "e@x", "first_name": "Ada", "username": "u"}).identity == "e@x"
    assert parse_userinfo({"first_name": "Ada", "last_name": "Lovelace", "username": "u"}).identity == "Ada Lovelace"
    assert parse_userinfo({"last_name": "Lovelace", "username": "u"}).identity == "Lovelace"
    assert parse_userinfo({"username": "u"}).identity == "u"


def test_a_401_is_unauthenticated_and_scrubbed():
    body = b"Authorization: Bearer sekret-token-value\nbad key hg_abcdefghijk"
    with pytest.raises(Unauthenticated) as info:
        check_userinfo(HttpResponse(401, {}, body))
    assert "sekret-token-value" not in info.value.message
    assert "hg_abcdefghijk" not in info.value.message
    assert "<redacted>" in info.value.message
    with pytest.raises(Unauthenticated, match="HTTP 401"):
        check_userinfo(HttpResponse(401, {}, b""))


def test_other_failures_are_api_errors():
    with pytest.raises(ApiError, match=r"HeyGen API error \(503\): down"):
        check_userinfo(HttpResponse(503, {}, b"down"))
    with pytest.raises(ApiError, match=r"non-JSON body \(text/html\)"):
        check_userinfo(HttpResponse(200, {"content-type": "text/html"}, b"<html>"))


def test_a_good_answer():
    response = HttpResponse(200, {"content-type": "application/json"}, json.dumps({"data": {"email": "x@y"}}).encode())
    assert check_userinfo(response).identity == "x@y"


def test_insufficient_scope_asks_for_consent_not_a_refresh():
    with pytest.raises(ApiError) as info:
        check_userinfo(HttpResponse(403, {"www-authenticate": 'Bearer error="insufficient_scope"'}, b""))
    assert info.value.status == 403
    assert "hyperframes auth login" in (info.value.hint or "")


def test_insufficient_scope_is_recognised():
    assert is_insufficient_scope(
        HttpResponse(403, {"www-authenticate": 'Bearer error="insufficient_scope", scope="x"'})
    )
    assert not is_insufficient_scope(HttpResponse(401, {"www-authenticate": 'Bearer error="invalid_token"'}))
