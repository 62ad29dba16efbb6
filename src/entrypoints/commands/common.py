"""What the commands share: the facade they use, how paths and people are named, how a sign-in's end is told."""

from __future__ import annotations

import os

import attrs

from ...domain.errors import AuthError
from ...domain.redact import neutralize
from ..bootstrap import Adapters, json_document
from ..facade import HeyGenAuth
from ..settings import Settings
from ..terminal import EXIT_INTERRUPTED, Terminal

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from ...domain.api import UserInfo
    from ...domain.ports import Notify


def settings_of(terminal: Terminal, verbose: bool = False) -> Settings:
    """The settings the environment describes, for the CLI (``--verbose`` turns the trace on too)."""
    settings = Settings.from_env(terminal.env)
    verbose = settings.verbose or verbose
    if verbose:
        from ..bootstrap import show_log_on_stderr

        show_log_on_stderr()
    # The CLI logs requests only when asked: a program that embeds the library configures logging itself.
    return attrs.evolve(settings, verbose=verbose, trace=verbose, transport="stdlib")


def make_auth(
    terminal: Terminal,
    settings: Settings,
    *,
    interactive: bool = False,
    notify: Notify | None = None,
) -> HeyGenAuth:
    """The facade a command uses: the terminal's adapters (fakes in tests), a passphrase prompt on a TTY."""
    given = terminal.adapters or Adapters(split=terminal.own_process)
    adapters = attrs.evolve(
        given,
        notify=notify or given.notify,
        passphrase_prompt=True,
        warn=given.warn or terminal.warn,
    )
    return HeyGenAuth(settings, env=terminal.env, interactive=interactive, adapters=adapters)


def home_path(path: str) -> str:
    """``path`` with the home directory shown as ``~``."""
    home = os.path.expanduser("~")
    return "~" + path[len(home) :] if home and home != "/" and path.startswith(home + os.sep) else path


def identity(user: UserInfo | None) -> str:
    return neutralize(user.identity) if user else "(unknown user)"


def fail_json(terminal: Terminal, failure: AuthError, **fields: object) -> int:
    """Under ``--json``: the error as a JSON object on stdout (``code``, ``message``, ``hint``); its exit code."""
    document = {**fields, "code": failure.code, "message": neutralize(failure.message), "hint": failure.hint}
    terminal.say(json_document(document))
    return failure.exit_code


def guarded(terminal: Terminal, action: Callable[[], int], prefix: str = "", as_json: bool = False) -> int:
    """Run a command's action: an ``AuthError`` becomes its message and hint, Ctrl-C becomes ``Aborted.`` (130)."""
    try:
        return action()
    except KeyboardInterrupt:
        terminal.warn("Aborted.")
        return EXIT_INTERRUPTED
    except AuthError as exc:
        if as_json:
            return fail_json(terminal, exc)
        return terminal.fail(exc, prefix)
