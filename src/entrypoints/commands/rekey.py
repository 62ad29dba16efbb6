"""``auth rekey --to passphrase|keyring``: give the encrypted store's key a new keeper without signing out."""

from __future__ import annotations

from ...domain.redact import neutralize
from ..terminal import EXIT_OK, Terminal
from .common import guarded, make_auth, settings_of


def rekey(terminal: Terminal, to: str, verbose: bool = False) -> int:
    def act() -> int:
        keeper = make_auth(terminal, settings_of(terminal, verbose)).rekey(to)
        terminal.ok(f"The encrypted credentials are now unlocked by: {neutralize(keeper)}.")
        return EXIT_OK

    return guarded(terminal, act)
