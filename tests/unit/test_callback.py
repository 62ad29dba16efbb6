"""Judging callbacks: the state compared in constant time, an ``error`` only with the right state, the RFC 9207
``iss`` check, pasted redirect URLs held to the same rules, and a bare code refused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hyperframes_auth.domain.callback import judge, parse_query, pasted_query

STATE = "s" * 43


def q(**values: str | list[str]) -> dict[str, list[str]]:
    return {k: v if isinstance(v, list) else [v] for k, v in values.items()}


def test_the_right_state_and_a_code_is_accepted():
    verdict = judge(STATE, q(state=STATE, code="c1", iss="https://as"))
    assert (verdict.kind, verdict.code, verdict.iss) == ("accepted", "c1", "https://as")
    assert "c1" not in repr(verdict)


def test_wrong_missing_prefix_case_and_duplicated_states_are_ignored():
    for query in (
        q(code="c"),
        q(state="", code="c"),
        q(state="wrong", code="c"),
        q(state=STATE[:-1], code="c"),
        q(state=STATE.upper(), code="c"),
        q(state=[STATE, STATE], code="c"),
        q(state=STATE, code=["a", "b"]),
    ):
        verdict = judge(STATE, query)
        assert verdict.kind == "ignored", query
        assert not verdict.ends_flow


def test_an_error_counts_only_with_the_right_state():
    assert judge(STATE, q(error="access_denied")).kind == "ignored"
    assert judge(STATE, q(error="access_denied", state="nope")).kind == "ignored"
    verdict = judge(STATE, q(error="access_denied", error_description="no <b>way</b>", state=STATE))
    assert (verdict.kind, verdict.error, verdict.description) == ("errored", "access_denied", "no <b>way</b>")


def test_a_matching_state_without_code_fails_the_flow():
    assert judge(STATE, q(state=STATE)).kind == "errored"


def test_front_channel_tokens_are_never_returned():
    verdict = judge(STATE, q(state=STATE, error="x", access_token="fake"))
    assert "fake" not in repr(verdict)
    assert not hasattr(verdict, "access_token")


OURS = "http://127.0.0.1:5000/oauth/callback"


def test_pasted_bare_code_yields_nothing_and_full_url_yields_its_query():
    assert pasted_query("EVIL_CODE", OURS) == {}
    assert judge(STATE, pasted_query("EVIL_CODE", OURS)).kind == "ignored"
    url = f"http://127.0.0.1:5000/oauth/callback?code=abc&state={STATE}"
    assert judge(STATE, pasted_query(f"  {url}\n", OURS)).kind == "accepted"
    assert judge(STATE, pasted_query(url.replace(STATE, "wrong"), OURS)).kind == "ignored"


@pytest.mark.parametrize(
    "elsewhere",
    [
        "https://127.0.0.1:5000/oauth/callback",  # scheme
        "http://evil.test:5000/oauth/callback",  # host
        "http://localhost:5000/oauth/callback",  # another name for the host is still another host
        "http://127.0.0.1:5001/oauth/callback",  # port
        "http://127.0.0.1:5000/other/callback",  # path
        "http://127.0.0.1:5000/oauth/callback/",  # path, by one byte
        "http://127.0.0.1/oauth/callback",  # no port
    ],
)
def test_a_pasted_url_must_point_at_our_listener_not_only_carry_the_state(elsewhere):
    assert pasted_query(f"{elsewhere}?code=abc&state={STATE}", OURS) == {}


def test_plus_and_percent_encoding_in_state():
    state = "a+b c"
    assert judge(state, parse_query("state=a%2Bb+c&code=x")).kind == "accepted"
    assert judge(state, parse_query("state=a+b+c&code=x")).kind == "ignored"


@given(st.text(max_size=200))
def test_any_query_string_gives_a_verdict(raw):
    try:
        query = parse_query(raw)
    except ValueError:
        return
    assert judge(STATE, query).kind in ("accepted", "errored", "ignored")
