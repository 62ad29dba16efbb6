"""``auth refresh``: spend the stored refresh token now."""

from __future__ import annotations

from ..terminal import EXIT_OK, Terminal
from .common import guarded, make_auth, settings_of


def refresh(terminal: Terminal, verbose: bool = False) -> int:
    def act() -> int:
        make_auth(terminal, settings_of(terminal, verbose)).refresh()
        terminal.ok("Refreshed OAuth access token.")
        return EXIT_OK

    return guarded(terminal, act)
