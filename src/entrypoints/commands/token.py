"""``auth token``: print a valid credential for scripts, and nothing else, on stdout.

Scripts and shell prompts call it over and over, so a plain ``auth token`` first tries the quick read
(``entrypoints/quick.py``): when the plain file plainly holds a fresh credential for this environment, it is
printed without loading the rest of the product. In every other case (and with ``--json``, ``--user`` or
``--verbose``) the full path answers, refreshing first when needed.
"""

from __future__ import annotations

from ..terminal import EXIT_OK, Terminal, isatty


def _warn_in_ci(terminal: Terminal) -> None:
    if terminal.in_ci() and not isatty(terminal.out):
        terminal.warn("Warning: printing a HeyGen credential in CI; make sure your logs mask it.")


def token(terminal: Terminal, as_json: bool = False, verbose: bool = False, user: str | None = None) -> int:
    if not (as_json or verbose or user) and terminal.adapters is None:
        from ..quick import quick_token

        found = quick_token(terminal.env)
        if found is not None:
            _warn_in_ci(terminal)
            terminal.say(found[0])
            return EXIT_OK
    return _full(terminal, as_json, verbose, user)


def _full(terminal: Terminal, as_json: bool, verbose: bool, user: str | None) -> int:
    from ...domain.resolve import OAuthCredential
    from ..bootstrap import json_document
    from .common import guarded, make_auth, settings_of

    def act() -> int:
        credential = make_auth(terminal, settings_of(terminal, verbose)).credential(user)
        _warn_in_ci(terminal)
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
    from ...domain.primitives import format_instant, parse_instant

    instant = parse_instant(stored)
    return format_instant(instant) if instant is not None else None
