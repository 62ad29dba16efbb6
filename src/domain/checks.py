"""What a secret may look like before we store it or put it in a header.

A token or key ends up in an HTTP header (``Authorization: Bearer …``, ``x-api-key: …``) or a form body, so a
character outside visible ASCII could split a header or smuggle another one. These rules are applied wherever a
secret enters: the token endpoint's answer, the stored file, the environment, the command line and the prompt.

* Access tokens: RFC 6749 Appendix A allows ``1*VSCHAR`` (0x20-0x7E); since an access token is sent as
  ``Bearer <token>`` (RFC 6750 §2.1) a space would split it, so we accept 0x21-0x7E.
* Refresh tokens: ``1*VSCHAR`` (0x20-0x7E); they only travel form-encoded.
* API keys: visible ASCII (0x21-0x7E), at least 8 characters (as the TypeScript CLI requires), at most
  ``MAX_API_KEY_LENGTH``.
"""

from __future__ import annotations

from .errors import InvalidApiKey

MIN_API_KEY_LENGTH = 8
MAX_API_KEY_LENGTH = 4096
MAX_TOKEN_LENGTH = 64 * 1024


def is_visible_ascii(value: str) -> bool:
    """True when every character is printable ASCII other than space (0x21-0x7E)."""
    return all("!" <= ch <= "~" for ch in value)


def is_access_token(value: object) -> bool:
    """A non-empty string that can be sent as ``Bearer <value>``."""
    return isinstance(value, str) and 0 < len(value) <= MAX_TOKEN_LENGTH and is_visible_ascii(value)


def is_refresh_token(value: object) -> bool:
    """A non-empty string of VSCHARs (RFC 6749 Appendix A)."""
    return isinstance(value, str) and 0 < len(value) <= MAX_TOKEN_LENGTH and all(" " <= ch <= "~" for ch in value)


def api_key_problem(key: str) -> str | None:
    """What makes ``key`` unusable in a header (control characters, spaces, non-ASCII, length), or ``None``."""
    if len(key) > MAX_API_KEY_LENGTH:
        return f"is too long (got {len(key)} chars, at most {MAX_API_KEY_LENGTH})"
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in key):
        return "contains control characters"
    if not is_visible_ascii(key):
        return "contains spaces or non-ASCII characters"
    return None


def check_api_key(key: str) -> str:
    """Validate an API key given to ``login --api-key`` (flag, prompt or stdin).

    Raises:
        InvalidApiKey: empty, control characters, spaces or non-ASCII, too short or too long.
    """
    if not key:
        raise InvalidApiKey("No API key provided.", "Pipe the key on stdin or type it at the prompt.")
    if len(key) > MAX_API_KEY_LENGTH:
        raise InvalidApiKey(
            f"API key is too long (got {len(key)} chars, at most {MAX_API_KEY_LENGTH}).", "Check what you pasted."
        )
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in key):
        raise InvalidApiKey("API key must not contain newline or control characters.", "Check what you pasted.")
    if not is_visible_ascii(key):
        raise InvalidApiKey("API key must not contain spaces or non-ASCII characters.", "Check what you pasted.")
    if len(key) < MIN_API_KEY_LENGTH:
        raise InvalidApiKey(f"API key looks too short (got {len(key)} chars).", "Check what you pasted.")
    return key
