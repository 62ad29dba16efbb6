"""``auth logout``: revoke the OAuth tokens (best effort) and remove the local credentials."""

from __future__ import annotations

from ...domain.errors import AuthError
from ...domain.redact import neutralize
from ...domain.resolve import ENV_SOURCES
from ..terminal import EXIT_FAIL, EXIT_OK, Terminal
from .common import guarded, home_path, make_auth, settings_of


def _environment_warning(terminal: Terminal) -> None:
    names = [name for name in ENV_SOURCES.values() if terminal.env.get(name)]
    if names:
        terminal.say(f"An env-var credential is active. Unset {' / '.join(names)} to remove it.")


def logout(terminal: Terminal, keep_api_key: bool = False, yes: bool = False, verbose: bool = False) -> int:
    def act() -> int:
        _environment_warning(terminal)
        settings = settings_of(terminal, verbose)
        auth = make_auth(terminal, settings)
        where = home_path(settings.config_dir)
        scope = "any active OAuth session" if keep_api_key else "HeyGen"
        question = f"This will sign out of {scope} on this machine (~/.heygen lives at {where}). Continue? [y/N] "
        if not yes and not terminal.confirm(question):
            terminal.say("Aborted.")
            return EXIT_FAIL
        try:
            had = auth.stored().is_worth_keeping()
        except AuthError:  # an unreadable store is still removed below
            had = True
        result = auth.logout(keep_api_key)
        for remark in result.remarks:
            terminal.warn(terminal.paint(f"Note: {neutralize(remark)}", "2"))
        if keep_api_key:
            terminal.ok("OAuth session removed. API key retained." if result.revoked else "No OAuth session to remove.")
        elif had:
            terminal.ok(f"Signed out. Removed {home_path(result.location)}.")
        else:
            terminal.ok(f"Not signed in: nothing stored at {home_path(result.location)}.")
        return EXIT_OK

    return guarded(terminal, act)
