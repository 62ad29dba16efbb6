"""Scrubbing (reference §6, scrub.test.ts) and terminal neutralisation (checklist items 21, 50, 98)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from hyperframes_auth.domain.redact import neutralize, scrub, scrub_body


def test_inline_keys():
    assert scrub("key hg_abcdef123 and sk_V2_xyz987 here") == "key hg_<redacted> and sk_<redacted> here"


def test_header_lines_lose_their_whole_value():
    text = scrub("Authorization: Bearer abc.def\nx-api-key=hg_zzzzzz\nnext line")
    assert "abc.def" not in text
    assert "zzzzzz" not in text
    assert text.endswith("next line")


def test_bearer_value_and_jwts():
    assert "secretvalue" not in scrub("got Bearer secretvalue from you")
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJl"
    assert scrub(f"token {jwt} end") == "token <jwt-redacted> end"


def test_form_and_json_secrets_but_not_lookalikes():
    text = scrub("grant_type=refresh_token&refresh_token=rt_123&code=abc&code_verifier=vvv error_code=42")
    assert "rt_123" not in text
    assert "code=<redacted>" in text
    assert "vvv" not in text
    assert "grant_type=refresh_token" in text
    assert "error_code=42" in text
    assert scrub('{"access_token": "at_1", "ok": "yes"}') == '{"access_token":"<redacted>", "ok": "yes"}'


def test_no_over_redaction():
    assert scrub("error_code=42 happened at step 3") == "error_code=42 happened at step 3"


def test_body_is_cut_to_500():
    assert len(scrub_body("x" * 2000)) == 500
    assert scrub_body(b"\xff\xfe refresh_token=abc") == "\ufffd\ufffd refresh_token=<redacted>"


def test_neutralize_makes_escapes_inert():
    text = neutralize("ok\x1b[2K\rFAKE SUCCESS\x1b]52;c;ZXZpbA==\x07 \u202egnp.exe")
    assert "\x1b" not in text
    assert "\r" not in text
    assert "\x07" not in text
    assert "\u202e" not in text
    assert "FAKE SUCCESS" in text


@given(st.text(max_size=300))
def test_neutralized_text_has_no_controls(text):
    out = neutralize(text)
    assert not any(ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F for ch in out)


@given(st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=8, max_size=40))
def test_scrub_removes_any_form_encoded_refresh_token(secret):
    secret = secret.replace("&", "a").replace('"', "a").replace("'", "a")
    assert f"refresh_token={secret}" not in scrub(f"refresh_token={secret}")
