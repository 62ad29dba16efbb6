"""PKCE and state (RFC 7636): verifier length and alphabet, S256 only, the appendix B vector, fresh values each time."""

from __future__ import annotations

import random
import re
import secrets
from urllib.parse import parse_qs, urlsplit

from hypothesis import given
from hypothesis import strategies as st

from hyperframes_auth.domain.messages import start_auth_code_flow
from hyperframes_auth.domain.pkce import b64url, make_state, make_verifier, s256, same_secret
from tests.fakes import CONFIG, counter_entropy

URLSAFE = re.compile(r"^[A-Za-z0-9_-]+$")


def test_rfc7636_appendix_b_vector():
    assert s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


@given(st.binary(min_size=64, max_size=64))
def test_verifier_is_86_urlsafe_chars_and_challenge_is_unpadded_s256(raw):
    verifier = make_verifier(lambda n: raw[:n])
    assert len(verifier) == 86
    assert URLSAFE.match(verifier)
    challenge = s256(verifier)
    assert len(challenge) == 43
    assert URLSAFE.match(challenge)
    assert "=" not in challenge


@given(st.binary(min_size=1, max_size=200))
def test_b64url_has_no_padding_and_only_urlsafe_chars(data):
    encoded = b64url(data)
    assert URLSAFE.match(encoded)


def test_state_has_256_bits_and_verifiers_are_unique_with_real_entropy():
    states = {make_state(secrets.token_bytes) for _ in range(2000)}
    verifiers = {make_verifier(secrets.token_bytes) for _ in range(2000)}
    assert len(states) == 2000
    assert len(verifiers) == 2000
    assert all(len(s) == 43 for s in states)


def test_seeding_random_does_not_make_output_predictable():
    random.seed(0)
    first = make_verifier(secrets.token_bytes)
    random.seed(0)
    assert make_verifier(secrets.token_bytes) != first


def test_same_secret_compares_exactly():
    assert same_secret("abc", "abc")
    assert not same_secret("abc", "abd")
    assert not same_secret("abc", "ab")
    assert not same_secret("abc", "ABC")


def test_authorization_url_uses_s256_and_the_reference_query_order():
    flow = start_auth_code_flow(CONFIG, "http://127.0.0.1:5555/oauth/callback", counter_entropy())
    parts = urlsplit(flow.authorize_url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == CONFIG.authorize_url
    keys = [pair.split("=")[0] for pair in parts.query.split("&")]
    assert keys == [
        "response_type",
        "client_id",
        "redirect_uri",
        "scope",
        "state",
        "code_challenge",
        "code_challenge_method",
    ]
    query = parse_qs(parts.query)
    assert query["code_challenge_method"] == ["S256"]
    assert query["code_challenge"] == [s256(flow.verifier)]
    assert query["scope"] == ["openid profile email"]
    assert "+" in parts.query  # form encoding: spaces as '+', like URLSearchParams
    assert "plain" not in flow.authorize_url


def test_each_flow_draws_new_secrets_and_hides_them_from_repr():
    entropy = counter_entropy()
    one = start_auth_code_flow(CONFIG, "http://127.0.0.1:1/oauth/callback", entropy)
    two = start_auth_code_flow(CONFIG, "http://127.0.0.1:1/oauth/callback", entropy)
    assert one.state != two.state
    assert one.verifier != two.verifier
    assert one.verifier not in repr(one)
    assert one.state not in repr(one)
