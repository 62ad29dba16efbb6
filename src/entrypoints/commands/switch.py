"""``auth switch [--user IDENTITY]``: choose which account of this environment commands use.

With one other account it switches to it; otherwise ``--user`` names one, or (on a terminal) a numbered choice
picks one. The TypeScript CLI sees the chosen account from then on (it sits in the file's top-level slot).
"""

from __future__ import annotations

from ...domain.errors import UnknownAccount
from ...domain.redact import neutralize
from ..terminal import EXIT_OK, Terminal
from .common import guarded, make_auth, settings_of

UNKNOWN = "(unknown user)"


def _choose(terminal: Terminal, names: list[str]) -> str | None:
    """A numbered choice on a terminal; ``None`` when there is no terminal or the answer is not a number listed."""
    if not terminal.interactive():
        return None
    for number, name in enumerate(names, 1):
        terminal.say(f"  {number}. {neutralize(name)}")
    print("Switch to which account? ", end="", file=terminal.out, flush=True)
    answer = terminal.stdin.readline().strip()
    listed = answer.isascii() and answer.isdigit() and 1 <= int(answer) <= len(names)  # "²" is a digit to Python
    return names[int(answer) - 1] if listed else None


def switch(terminal: Terminal, user: str | None = None, verbose: bool = False) -> int:
    def act() -> int:
        auth = make_auth(terminal, settings_of(terminal, verbose))
        accounts = auth.accounts()
        others = [a.identity or UNKNOWN for a in accounts if not a.active]
        if user is None:
            if not others:
                names = [a.identity or UNKNOWN for a in accounts]
                raise UnknownAccount("There is no other account to switch to", names)
            chosen = others[0] if len(others) == 1 else _choose(terminal, others)
            if chosen is None:
                raise UnknownAccount("Several accounts are signed in here; say which", others)
        else:
            chosen = user
        now = auth.switch(chosen)
        terminal.ok(f"Switched to {neutralize(now.identity or UNKNOWN)}.")
        return EXIT_OK

    return guarded(terminal, act)
