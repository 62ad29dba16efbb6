"""Keeping secrets out of messages, and terminals safe from server-supplied text.

``scrub_body`` is applied to every upstream body before it can reach an error message. It cuts the text to
``BODY_LIMIT`` characters, then:

1. replaces, by value, every secret the caller knows the text could echo (the request's token, code, verifier,
   API key; the flow's state), in its raw, URL-encoded and JSON-escaped spellings; then every run of at least
   ``MIN_RUN`` URL-unreserved characters (letters, digits, ``-._~``) of a secret, wherever it appears. Encodings
   only rewrite the other characters (``%2F`` or ``%2f``, ``\\/``, ``\\"``, ``&#47;``, escaped twice...), so the
   runs, which are nearly all of a random token, are caught in any spelling, even one no pattern anticipated;
2. replaces, by pattern, whatever looks like a credential (:data:`PATTERNS`, applied in that order): inline keys
   (``hg_…``, ``sk_…``), ``authorization`` / ``x-api-key`` header lines, JWTs, ``Bearer`` values, form fields and
   JSON fields named like secrets. Word boundaries keep ``grant_type=refresh_token`` and ``error_code=42``.

``neutralize`` makes server-controlled text (error descriptions, identity fields, device codes and URIs, trace
lines) inert on a terminal: every control character (C0, DEL, C1), format character (bidi marks and overrides,
zero-width characters), lone surrogate (which Python would write to a terminal as a raw byte, a C1 control among
them), private-use or unassigned code point, and line or paragraph separator is shown as a ``\\x``/``\\u``
escape, so no ANSI/OSC sequence can run and no text can be reordered.
"""

from __future__ import annotations

import re

BODY_LIMIT = 500
MIN_SECRET_LENGTH = 4  # shorter values would redact ordinary words
MIN_RUN = 8  # a run of a secret this long is the secret's (about 48 bits of a random token), never an ordinary word
REDACTED = "<redacted>"

_SECRET_FIELDS = r"(?:access_token|refresh_token|code_verifier|client_secret|id_token|device_code|token|code)"  # noqa: S105

PATTERNS = (
    "inline_key",
    "header_line",
    "jwt",
    "bearer",
    "form_field",
    "json_field",
)
"""The redaction patterns, in the order :func:`scrub` applies them."""

_COMPILED: dict[str, re.Pattern[str]] = {}
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def _pattern(name: str) -> re.Pattern[str]:
    """Compile the patterns on first use: ``auth token`` imports this module but never scrubs anything."""
    if not _COMPILED:
        _COMPILED.update(
            inline_key=re.compile(r"\b(hg|sk)_[A-Za-z0-9_-]{4,}"),
            header_line=re.compile(r"(?i)\b(authorization|x-api-key)[ \t]*[:=][ \t]*[^\r\n]*"),
            jwt=re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+"),
            bearer=re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]+"),
            form_field=re.compile(rf"(?i)(?<![\w-])({_SECRET_FIELDS})=[^&\s\"']+"),
            json_field=re.compile(rf"(?i)\"({_SECRET_FIELDS})\"\s*:\s*\"(?:[^\"\\]|\\.)*\""),
        )
    return _COMPILED[name]


_REPLACEMENTS = {
    "inline_key": lambda m: f"{m.group(1)}_{REDACTED}",
    "header_line": lambda m: f"{m.group(1)}: {REDACTED}",
    "jwt": lambda _m: "<jwt-redacted>",
    "bearer": lambda _m: f"Bearer {REDACTED}",
    "form_field": lambda m: f"{m.group(1)}={REDACTED}",
    "json_field": lambda m: f'"{m.group(1)}":"{REDACTED}"',
}


def _spellings(secret: str) -> set[str]:
    """The ways a server could echo ``secret``: as is, URL-encoded (form or path style), JSON-escaped."""
    import json
    from urllib.parse import quote, quote_plus

    return {secret, quote_plus(secret), quote(secret, safe=""), json.dumps(secret)[1:-1]}


def _runs(secret: str) -> set[str]:
    """The runs of URL-unreserved characters of ``secret`` long enough to be told apart from ordinary text."""
    return {run for run in re.findall(r"[A-Za-z0-9._~-]+", secret) if len(run) >= MIN_RUN}


def redact_values(text: str, secrets: tuple[str, ...] | list[str]) -> str:
    """Replace every occurrence of each secret (in any spelling), then of each of its long runs, by ``<redacted>``,
    longest first."""
    kept = [secret for secret in secrets if len(secret) >= MIN_SECRET_LENGTH]
    if not kept:
        return text
    spellings = {s for secret in kept for s in _spellings(secret)}
    for spelling in sorted(spellings, key=len, reverse=True):
        text = text.replace(spelling, REDACTED)
    for run in sorted({r for secret in kept for r in _runs(secret)}, key=len, reverse=True):
        text = text.replace(run, REDACTED)
    return text


def scrub(text: str, secrets: tuple[str, ...] | list[str] = ()) -> str:
    """Return ``text`` with the given secrets, and anything that looks like a credential, redacted."""
    text = redact_values(text, secrets)
    for name in PATTERNS:
        text = _pattern(name).sub(_REPLACEMENTS[name], text)
    return text


def scrub_body(body: bytes | str, limit: int = BODY_LIMIT, secrets: tuple[str, ...] | list[str] = ()) -> str:
    """Decode an upstream body leniently, redact the secrets it could echo, cut it, and scrub it."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    # Redact by value before cutting, so a secret that straddles the cut cannot survive as a fragment.
    return scrub(redact_values(text[: limit * 4], secrets)[:limit].strip())


def _escape(ch: str) -> str:
    code = ord(ch)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def neutralize(text: str) -> str:
    r"""Make server-supplied text safe to print: unsafe code points become ``\xNN`` / ``\uNNNN`` escapes."""
    import unicodedata

    category = unicodedata.category
    if text.isascii() and text.isprintable():
        return text
    return "".join(_escape(ch) if category(ch) in _UNSAFE_CATEGORIES else ch for ch in text)


def has_control_chars(value: str) -> bool:
    """True when ``value`` holds a C0 control or DEL (what a header or a stored key must never contain)."""
    return any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value)
