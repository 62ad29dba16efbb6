"""Keeping secrets out of messages, and terminals safe from server-supplied text.

``scrub_body`` is applied to every upstream body before it can reach an error message: it cuts the text to
500 characters, then replaces, in this order (reference §6 "Scrubbing"):

1. inline keys (``hg_…``, ``sk_…``),
2. ``authorization`` / ``x-api-key`` header lines, whole value included,
3. JWTs,
4. form fields named like secrets (``refresh_token=…``, ``code=…``),
5. JSON fields named like secrets (``"access_token": "…"``).

Word boundaries keep ``grant_type=refresh_token`` and ``error_code=42`` intact.

``neutralize`` makes server-controlled text (error descriptions, user codes) inert on a terminal: C0/C1
controls, DEL and bidi overrides are shown as ``\\xNN`` escapes, so ANSI/OSC sequences cannot run.
"""

from __future__ import annotations

import re

BODY_LIMIT = 500

_SECRET_FIELDS = r"(?:access_token|refresh_token|code_verifier|client_secret|id_token|device_code|token|code)"  # noqa: S105

_PATTERNS: dict[str, re.Pattern[str]] = {}


def _pattern(name: str) -> re.Pattern[str]:
    """Compile the patterns on first use: ``auth token`` imports this module but never scrubs anything."""
    if not _PATTERNS:
        _PATTERNS.update(
            inline_key=re.compile(r"\b(hg|sk)_[A-Za-z0-9_-]{4,}"),
            header_line=re.compile(r"(?i)\b(authorization|x-api-key)[ \t]*[:=][ \t]*[^\r\n]*"),
            jwt=re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+"),
            form_field=re.compile(rf"(?i)(?<![\w-])({_SECRET_FIELDS})=[^&\s\"']+"),
            json_field=re.compile(rf"(?i)\"({_SECRET_FIELDS})\"\s*:\s*\"(?:[^\"\\]|\\.)*\""),
            bearer=re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]+"),
            # C0 controls, DEL, C1 controls, and the Unicode bidi controls (U+202A-U+202E, U+2066-U+2069).
            unsafe=re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]"),
        )
    return _PATTERNS[name]


def scrub(text: str) -> str:
    """Return ``text`` with anything that looks like a credential replaced by a ``<redacted>`` marker."""
    text = _pattern("inline_key").sub(lambda m: f"{m.group(1)}_<redacted>", text)
    text = _pattern("header_line").sub(lambda m: f"{m.group(1)}: <redacted>", text)
    text = _pattern("jwt").sub("<jwt-redacted>", text)
    text = _pattern("bearer").sub("Bearer <redacted>", text)
    text = _pattern("form_field").sub(lambda m: f"{m.group(1)}=<redacted>", text)
    return _pattern("json_field").sub(lambda m: f'"{m.group(1)}":"<redacted>"', text)


def scrub_body(body: bytes | str, limit: int = BODY_LIMIT) -> str:
    """Cut an upstream body to ``limit`` characters, decode it leniently, and scrub it."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    return scrub(text[:limit].strip())


def neutralize(text: str) -> str:
    r"""Make server-supplied text safe to print: every control or bidi character becomes ``\xNN``/``\uNNNN``."""
    return _pattern("unsafe").sub(lambda m: m.group(0).encode("unicode_escape").decode("ascii"), text)


def has_control_chars(value: str) -> bool:
    """True when ``value`` holds a C0 control or DEL (what the reference rejects in tokens and keys)."""
    return any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value)
