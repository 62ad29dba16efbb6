"""PKCE (RFC 7636) and the ``state`` parameter.

* The verifier is 64 random bytes as unpadded base64url: 86 characters from ``[A-Za-z0-9_-]``, 512 bits
  (RFC 7636 §4.1 asks for 43-128 characters and §7.1 for at least 256 bits).
* The challenge is ``BASE64URL(SHA256(ASCII(verifier)))`` without padding, method ``S256`` only: ``plain`` is
  never sent, and never fallen back to (RFC 7636 §4.2, §7.2; RFC 9700 §2.1.1).
* ``state`` is 32 random bytes (256 bits, RFC 6749 §10.10 asks for 128), compared in constant time.

Entropy is passed in (the ``secrets`` module's ``token_bytes`` in production), so tests are deterministic and the domain never
reads a random source itself.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable

Entropy = Callable[[int], bytes]
"""A source of cryptographically strong random bytes: ``entropy(n)`` returns ``n`` bytes."""

VERIFIER_BYTES = 64
STATE_BYTES = 32
METHOD = "S256"


def b64url(data: bytes) -> str:
    """Unpadded base64url (RFC 7636 Appendix A)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def make_verifier(entropy: Entropy) -> str:
    """A fresh code verifier: 86 characters of base64url."""
    return b64url(entropy(VERIFIER_BYTES))


def s256(verifier: str) -> str:
    """The S256 code challenge of ``verifier``."""
    return b64url(hashlib.sha256(verifier.encode("ascii")).digest())


def make_state(entropy: Entropy) -> str:
    """A fresh ``state`` value: 43 characters of base64url."""
    return b64url(entropy(STATE_BYTES))


def same_secret(expected: str, received: str) -> bool:
    """Constant-time comparison of two secrets (``state``); different lengths simply fail."""
    return hmac.compare_digest(expected.encode("utf-8"), received.encode("utf-8"))
