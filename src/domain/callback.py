"""Judging what arrives at the redirect URI (RFC 6749 §4.1.2, RFC 9700 §4.7, RFC 8252 §8.9).

The listener (and the pasted-URL prompt) hand every candidate query to :func:`judge`, which decides, purely:

* ``ignored``: wrong, missing or duplicated ``state``, or duplicated parameters. The flow goes on: a stray
  tab or a hostile page that found the port must not be able to cancel a sign-in.
* ``errored``: the authorization server sent ``error=`` with the right state; the sign-in fails with it.
* ``accepted``: the right state and a code; the code is exchanged exactly once.

Tokens in the front channel (``access_token`` in the query) are never looked at (RFC 9700 §2.1.2).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal
from urllib.parse import parse_qs, urlsplit

import attrs

from .pkce import same_secret
from .redact import scrub_body
from .value import Value

VerdictKind = Literal["accepted", "errored", "ignored", "timeout"]
_SINGLE = ("state", "code", "error", "error_description", "iss")


@attrs.frozen(kw_only=True, repr=False, eq=False)
class Verdict(Value):
    """What to make of one callback.

    Attributes:
        kind: accepted, errored, ignored, or timeout (no callback in time).
        code: the authorization code (accepted only; never shown).
        iss: the RFC 9207 issuer parameter, if the server sent one.
        error, description: the server's error (errored only), scrubbed.
        reason: why a callback was ignored, one line for a warning.
    """

    kind: VerdictKind
    code: str | None = attrs.field(default=None, repr=False)
    iss: str | None = None
    error: str | None = None
    description: str | None = None
    reason: str | None = None

    @property
    def ends_flow(self) -> bool:
        return self.kind != "ignored"


def _first(query: Mapping[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[0] if values else None


def judge(expected_state: str, query: Mapping[str, list[str]]) -> Verdict:
    """Decide what a callback query means for the flow whose state is ``expected_state``."""
    if any(len(query.get(name, ())) > 1 for name in _SINGLE):
        return Verdict(kind="ignored", reason="ignored a callback with repeated parameters")
    state = _first(query, "state")
    if not state:
        return Verdict(kind="ignored", reason="ignored a callback without a state parameter")
    if not same_secret(expected_state, state):
        return Verdict(kind="ignored", reason="ignored a callback whose state does not match this sign-in")
    iss = _first(query, "iss")
    error = _first(query, "error")
    if error:
        description = _first(query, "error_description")
        return Verdict(
            kind="errored",
            iss=iss,
            error=scrub_body(error, 100, (expected_state,)),
            description=scrub_body(description, 300, (expected_state,)) if description else None,
        )
    code = _first(query, "code")
    if not code:
        return Verdict(kind="errored", iss=iss, error="missing_code", description="the redirect had no code")
    return Verdict(kind="accepted", code=code, iss=iss)


def parse_query(raw: str) -> dict[str, list[str]]:
    """Parse a query string strictly enough for :func:`judge` (blank values kept, bad escapes tolerated)."""
    return parse_qs(raw, keep_blank_values=True, max_num_fields=64)


def pasted_query(text: str, redirect_uri: str) -> dict[str, list[str]]:
    """The query of a redirect URL pasted back by a person on a remote terminal.

    The URL must point at our listener: the same scheme, host, port and path as ``redirect_uri``. Anything else,
    and a bare code (no ``?`` and no ``state``), yields an empty query, which :func:`judge` ignores: the state is
    never invented for the person, and a URL meant for another program is never taken for ours.
    """
    text = text.strip()
    if "?" not in text:
        return {}
    try:
        pasted, ours = urlsplit(text), urlsplit(redirect_uri)
        same = (pasted.scheme, pasted.hostname, pasted.port, pasted.path) == (
            ours.scheme,
            ours.hostname,
            ours.port,
            ours.path,
        )
        return parse_query(pasted.query) if same else {}
    except ValueError:
        return {}
