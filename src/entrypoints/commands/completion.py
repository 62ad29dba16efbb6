"""``hyperframes completion bash|zsh|fish``: print the shell completion script.

The script asks ``hyperframes`` itself for completions (click's protocol, through ``_HYPERFRAMES_COMPLETE``), so it
never goes stale; other commands pay nothing for it.
"""

from __future__ import annotations

from ...domain.errors import UsageError
from ..terminal import EXIT_OK, Terminal

SHELLS = ("bash", "zsh", "fish")
COMPLETE_VAR = "_HYPERFRAMES_COMPLETE"


def script(terminal: Terminal, shell: str) -> int:
    if shell not in SHELLS:
        return terminal.fail(UsageError(f"Unknown shell {shell!r}.", f"Choose one of: {', '.join(SHELLS)}."))
    from typer._completion_classes import completion_init
    from typer._completion_shared import get_completion_script

    completion_init()  # typer's completion classes, which speak the protocol its application answers
    terminal.say(get_completion_script(prog_name="hyperframes", complete_var=COMPLETE_VAR, shell=shell))
    return EXIT_OK
