"""``auth logout``: revoke the OAuth tokens (best effort) and remove the local credentials."""

from __future__ import annotations

import os

from ...domain.accounts import UNKNOWN
from ...domain.errors import AuthError
from ...domain.redact import neutralize
from ...domain.resolve import ENV_SOURCES
from ..terminal import EXIT_FAIL, EXIT_OK, Terminal
from .common import guarded, home_path, make_auth, settings_of

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ...domain.service import LogoutResult
    from ..facade import HeyGenAuth


def _environment_warning(terminal: Terminal) -> None:
    names = [name for name in ENV_SOURCES.values() if terminal.env.get(name)]
    if names:
        terminal.say(f"An env-var credential is active. Unset {' / '.join(names)} to remove it.")


def _plain_leftover(auth: HeyGenAuth) -> str | None:
    """A plain credentials file beside the encrypted one (the encrypted store removes it on sign-out)."""
    leftover = getattr(auth.service.ports.store, "plain_leftover", None)
    return leftover() if callable(leftover) else None


def _leftover_note(terminal: Terminal, leftover: str, alone: bool) -> None:
    """What became of a plain credentials file found beside the encrypted store. ``alone``: there was no encrypted
    file, so the plain file was all there was to sign out of (the report already named it)."""
    if os.path.lexists(leftover):
        terminal.warn(
            f"Note: a plain credentials file remains at {home_path(leftover)}; the encrypted store does not read it."
        )
    elif not alone:
        terminal.warn(f"Note: a plain credentials file was also found at {home_path(leftover)}; it was removed too.")


def _kept_key_outcome(auth: HeyGenAuth, result: LogoutResult) -> str:
    """What ``--keep-api-key`` did: it claims a retained key only when one was there to keep."""
    if not result.revoked:
        return "No OAuth session to remove."
    if result.file_removed:  # nothing but the person's profile would have stayed
        return f"OAuth session removed. No API key was stored, so {home_path(result.location)} was removed."
    kept = {(a.identity or UNKNOWN) for a in auth.accounts() if "api_key" in a.kinds}
    if kept & set(result.accounts):
        return "OAuth session removed. API key retained."
    return "OAuth session removed (no API key was stored)."


def _question(keep_api_key: bool, user: str | None, everyone: bool, where: str) -> str:
    """The confirmation asked before signing out: what goes, and where the credentials are."""
    scope = "any active OAuth session" if keep_api_key else "HeyGen"
    if everyone:
        scope = "every HeyGen account" if not keep_api_key else "every account's OAuth session"
    elif user is not None:
        scope = f"{neutralize(user)}'s " + ("OAuth session" if keep_api_key else "HeyGen account")
    return f"This will sign out of {scope} on this machine (credentials in {where}). Continue? [y/N] "


def _report(
    terminal: Terminal, auth: HeyGenAuth, result: LogoutResult, keep_api_key: bool, had: bool, removed: str
) -> None:
    """Say what the sign-out did (``removed``: the file that held the credentials, when it is gone)."""
    if keep_api_key:
        terminal.ok(_kept_key_outcome(auth, result))
    elif not had:
        terminal.ok(f"Not signed in: nothing stored at {home_path(result.location)}.")
    elif result.file_removed:
        terminal.ok(f"Signed out. Removed {home_path(removed)}.")
    elif not result.accounts:
        terminal.ok(f"Not signed in here: nothing to sign out of ({home_path(result.location)} keeps other accounts).")
    else:
        terminal.ok(f"Signed out {', '.join(neutralize(a) for a in result.accounts)}.")
        active = next((a for a in auth.accounts() if a.active), None)
        if active is not None:
            terminal.say(f"Active account now: {neutralize(active.identity or '(unknown user)')}.")


def logout(
    terminal: Terminal,
    keep_api_key: bool = False,
    yes: bool = False,
    verbose: bool = False,
    user: str | None = None,
    everyone: bool = False,
) -> int:
    def act() -> int:
        _environment_warning(terminal)
        settings = settings_of(terminal, verbose)
        auth = make_auth(terminal, settings)
        question = _question(keep_api_key, user, everyone, home_path(settings.config_dir))
        if not yes and not terminal.confirm(question):
            terminal.say("Aborted.")
            return EXIT_FAIL
        try:
            had = auth.stored().is_worth_keeping()
        except AuthError:  # an unreadable store is still removed below
            had = True
        leftover = _plain_leftover(auth)
        store_path = getattr(auth.service.ports.store, "path", None)
        alone = leftover is not None and isinstance(store_path, str) and not os.path.lexists(store_path)
        result = auth.logout(keep_api_key, user=user, everyone=everyone)
        for remark in result.remarks:
            terminal.warn(terminal.paint(f"Note: {neutralize(remark)}", "2"))
        _report(terminal, auth, result, keep_api_key, had, leftover if alone and leftover else result.location)
        if leftover:
            _leftover_note(terminal, leftover, alone)
        return EXIT_OK

    return guarded(terminal, act)
