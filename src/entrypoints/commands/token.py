"""``auth token``: print a valid credential for scripts, and nothing else, on stdout."""

from __future__ import annotations

from ...domain.credentials import parse_instant
from ...domain.resolve import OAuthCredential
from ..bootstrap import json_document
from ..terminal import EXIT_OK, Terminal, isatty
from .common import guarded, make_auth, settings_of


def token(terminal: Terminal, as_json: bool = False, verbose: bool = False, user: str | None = None) -> int:
    def act() -> int:
        credential = make_auth(terminal, settings_of(terminal, verbose)).credential(user)
        if terminal.in_ci() and not isatty(terminal.out):
            terminal.warn("Warning: printing a HeyGen credential in CI; make sure your logs mask it.")
        if not as_json:
            terminal.say(credential.secret)
            return EXIT_OK
        payload: dict[str, object] = {"token": credential.secret, "type": credential.kind, "source": credential.source}
        if isinstance(credential, OAuthCredential):
            payload["expires_at"] = normalised_expiry(credential.tokens.expires_at)
        terminal.say(json_document(payload))
        return EXIT_OK

    return guarded(terminal, act, as_json=as_json)


def normalised_expiry(stored: str | None) -> str | None:
    """The stored expiry as UTC ISO 8601 (``2026-05-28T06:00:00.000Z``), or ``None`` when absent or unreadable.

    An instant at the edges of the calendar reads as long expired, and is shown as such.
    """
    from ...domain.credentials import format_instant

    instant = parse_instant(stored)
    return format_instant(instant) if instant is not None else None
