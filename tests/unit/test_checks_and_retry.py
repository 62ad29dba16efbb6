"""What an API key may look like (checks.py), and when and how long to wait before sending again (retry.py)."""

from __future__ import annotations

import pytest

from hyperframes_auth.domain.checks import (
    MAX_API_KEY_LENGTH,
    MIN_API_KEY_LENGTH,
    api_key_problem,
    check_api_key,
    is_access_token,
    is_refresh_token,
)
from hyperframes_auth.domain.errors import InvalidApiKey
from hyperframes_auth.domain.retry import delay, jitter, may_retry, server_did_not_act

PASTED = "Check what you pasted."


@pytest.mark.parametrize(
    ("key", "message", "hint"),
    [
        ("", "No API key provided.", "Pipe the key on stdin or type it at the prompt."),
        ("k" * (MAX_API_KEY_LENGTH + 1), "API key is too long (got 4097 chars, at most 4096).", PASTED),
        ("hg_key\nwith-newline", "API key must not contain newline or control characters.", PASTED),
        ("hg_key\x7fdel", "API key must not contain newline or control characters.", PASTED),
        ("hg_key with-space", "API key must not contain spaces or non-ASCII characters.", PASTED),
        ("hg_k\u00e9y-value", "API key must not contain spaces or non-ASCII characters.", PASTED),
        ("hg_1234", "API key looks too short (got 7 chars).", PASTED),
    ],
    ids=["empty", "too-long", "newline", "del", "space", "non-ascii", "short"],
)
def test_an_unusable_api_key_is_refused_saying_why(key, message, hint):
    with pytest.raises(InvalidApiKey) as caught:
        check_api_key(key)
    assert (caught.value.message, caught.value.hint) == (message, hint)


def test_the_shortest_and_longest_keys_allowed():
    assert check_api_key("k" * MIN_API_KEY_LENGTH) == "k" * MIN_API_KEY_LENGTH
    assert check_api_key("k" * MAX_API_KEY_LENGTH) == "k" * MAX_API_KEY_LENGTH
    assert (MIN_API_KEY_LENGTH, MAX_API_KEY_LENGTH) == (8, 4096)


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("k" * 4097, "is too long (got 4097 chars, at most 4096)"),
        ("key\x00", "contains control characters"),
        ("key\x7f", "contains control characters"),
        ("key value", "contains spaces or non-ASCII characters"),
        ("k" * 4096, None),
        ("short", None),  # length below the minimum is the sign-in's rule, not the header's
    ],
)
def test_what_keeps_a_key_out_of_a_header(key, problem):
    assert api_key_problem(key) == problem


def test_tokens_are_visible_ascii_and_a_refresh_token_may_hold_spaces():
    assert is_access_token("!~")
    assert not is_access_token("a b")
    assert not is_access_token("")
    assert not is_access_token(None)
    assert is_refresh_token("a b")
    assert not is_refresh_token("a\tb")
    assert not is_refresh_token("")
    assert is_access_token("t" * 65536)
    assert not is_access_token("t" * 65537)
    assert is_refresh_token("t" * 65536)
    assert not is_refresh_token("t" * 65537)


# ---------------------------------------------------------------------------------------------- retry


@pytest.mark.parametrize(
    ("status", "oauth_error", "sent", "idempotent", "allowed"),
    [
        (None, None, False, False, True),  # never left: always safe
        (None, None, True, True, False),  # may have reached the server: the caller decides by the answer
        (429, None, True, False, True),
        (503, None, True, False, True),
        (400, "temporarily_unavailable", True, False, True),
        (502, None, True, False, False),  # a gateway does not know whether the server acted
        (502, None, True, True, True),
        (504, None, True, True, True),
        (500, None, True, True, False),
        (400, "invalid_grant", True, True, False),
    ],
)
def test_which_outcomes_allow_sending_again(status, oauth_error, sent, idempotent, allowed):
    assert may_retry(status=status, oauth_error=oauth_error, sent=sent, idempotent=idempotent) is allowed


def test_server_did_not_act_reads_the_status_or_the_oauth_error():
    assert server_did_not_act(503)
    assert server_did_not_act(200, "temporarily_unavailable")
    assert not server_did_not_act(500, "server_error")


def test_the_backoff_doubles_up_to_eight_seconds_unless_the_server_says_how_long():
    assert [delay(attempt, None) for attempt in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
    assert delay(1, 42.0) == 42.0
    assert delay(5, 0.0) == 0.0


def test_jitter_keeps_between_half_and_all_of_the_wait():
    assert jitter(8.0, b"\x00\x00") == 4.0
    assert jitter(8.0, b"\x80\x00") == 6.0
    assert jitter(8.0, b"\xff\xff") == 8.0 * (0.5 + (65535 / 65536) / 2)
    assert jitter(8.0, b"\x01") == 8.0 * (0.5 + (1 / 256) / 2)
