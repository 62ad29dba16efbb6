"""Scrubbing of upstream text (patterns, and secrets by value) and terminal neutralisation of server-supplied text."""

from __future__ import annotations

import json
from urllib.parse import quote, quote_plus

import pytest
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


# ---------------------------------------------------------------------------------------------- every unsafe code point

UNSAFE_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}
BIDI = [0x200E, 0x200F, 0x061C, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
NAMED = {
    "C0": list(range(0x20)),
    "DEL": [0x7F],
    "C1": list(range(0x80, 0xA0)),
    "surrogates": [*range(0xD800, 0xE000, 7), 0xDBFF, 0xDC00, 0xDC1B, 0xDC9B, 0xDFFF],
    "bidi": BIDI,
    "other Cf": [0x00AD, 0x200B, 0x200C, 0x200D, 0x2060, 0x2064, 0xFEFF, 0xFFF9, 0xFFFB, 0xE0001, 0xE0020, 0xE007F],
    "Zl/Zp": [0x2028, 0x2029],
    "private use": [0xE000, 0xF8FF, 0xF0000, 0xFFFFD, 0x100000, 0x10FFFD],
    "unassigned": [0x0378, 0x0530, 0xFFFE, 0xFFFF, 0x1FFFE, 0xE0080, 0x10FFFF],
}


def assert_terminal_safe(out: str) -> None:
    """What reaches a terminal: no unsafe code point left, and no ESC or C1 byte once encoded (any encoding
    the process may have: UTF-8 with ``surrogateescape`` writes a lone surrogate U+DC9B as the raw byte 0x9B)."""
    import unicodedata

    assert not [ch for ch in out if unicodedata.category(ch) in UNSAFE_CATEGORIES]
    raw = out.encode("utf-8", "surrogateescape")
    assert b"\x1b" not in raw
    assert not [ch for ch in raw.decode("utf-8", "surrogateescape") if 0x80 <= ord(ch) <= 0x9F]


def test_every_named_class_is_escaped_one_code_point_at_a_time():
    for name, points in NAMED.items():
        for code in points:
            out = neutralize(f"a{chr(code)}b")
            assert out.isascii(), (name, hex(code), out)
            assert out.isprintable(), (name, hex(code), out)
            assert out.startswith("a\\"), (name, hex(code), out)
            assert out.endswith("b"), (name, hex(code), out)
            assert int(out[3:-1], 16) == code, (name, hex(code), out)
            assert_terminal_safe(out)


def test_every_unsafe_code_point_in_the_whole_range_is_escaped():
    import unicodedata

    unsafe = "".join(chr(c) for c in range(0x110000) if unicodedata.category(chr(c)) in UNSAFE_CATEGORIES)
    assert len(unsafe) > 900_000  # every C*, Zl and Zp code point, surrogates and unassigned ones included
    out = neutralize(unsafe)
    assert out.isascii()
    assert out.isprintable()
    raw = out.encode("ascii")
    assert b"\x1b" not in raw
    assert not [b for b in raw if b >= 0x80]


def test_safe_text_is_kept_as_it_is():
    for text in ("alice@example.test", "José Ñandú", "日本語のテキスト", "✓ done", "Ünïcödé — dash", "emoji 🙂"):
        assert neutralize(text) == text


def test_an_attack_string_comes_out_inert_and_readable():
    attack = (
        "\x1b]0;owned\x07\x1b[2J\x9b31m\x1bP+q\x1b\\\u202eexe.txt\u2066hidden\u2069\u200b\ufeff\udc9b\udc1b"
        "\u2028\u2029\ue000\U0010ffff"
    )
    out = neutralize(attack)
    assert_terminal_safe(out)
    assert out.isascii()
    assert "owned" in out
    assert "exe.txt" in out
    assert "\\x1b" in out
    assert "\\u202e" in out
    assert "\\x9b" in out
    assert "\\udc9b" in out
    assert "\\U0010ffff" in out


@given(st.text(alphabet=st.characters(exclude_categories=()), max_size=200))  # surrogates included
def test_any_text_whatever_its_code_points_comes_out_terminal_safe(text):
    assert_terminal_safe(neutralize(text))


@given(st.lists(st.sampled_from([chr(c) for points in NAMED.values() for c in points] + list("ab é✓")), max_size=60))
def test_any_mix_of_unsafe_and_safe_characters_keeps_the_safe_ones_in_order(chars):
    text = "".join(chars)
    out = neutralize(text)
    assert_terminal_safe(out)
    kept = [ch for ch in text if ch in "ab é✓"]
    assert [ch for ch in out if ch in "é✓ "] == [ch for ch in kept if ch in "é✓ "]


# ---------------------------------------------------------------------------------------------- secrets by value

TOKEN = 'k9Z/u+Wq7mNv2Lx8/Rt5Yp3Hs6Jd=="\\tail0042'


@pytest.mark.parametrize(
    "spelled",
    [
        TOKEN,
        quote_plus(TOKEN),
        quote(TOKEN, safe=""),
        quote(TOKEN, safe="").lower(),
        json.dumps(TOKEN)[1:-1],
        json.dumps(TOKEN)[1:-1].replace("/", "\\/"),
        json.dumps(json.dumps(TOKEN))[1:-1],  # a JSON text quoted inside another JSON string
        TOKEN.replace("/", "&#47;").replace("+", "&#43;"),  # HTML entities
    ],
)
def test_a_known_secret_is_redacted_in_any_spelling_that_keeps_its_letters(spelled):
    out = scrub_body(f"the server says: {spelled} was wrong", secrets=(TOKEN,))
    assert out.startswith("the server says: ")
    assert out.endswith(" was wrong")
    for run in ("Wq7mNv2Lx8", "Rt5Yp3Hs6Jd", "tail0042"):  # every run of 8 or more URL-unreserved characters
        assert run not in out


def test_short_secrets_and_ordinary_words_are_left_alone():
    assert scrub_body("the code is wrong", secrets=("abc", "wrong")) == "the code is <redacted>"
    assert scrub_body("refresh failed at the gateway", secrets=("zz/refresh/zz",)) == "refresh failed at the gateway"
