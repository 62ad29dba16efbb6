"""``auth login``: in the browser (authorization code + PKCE), with a device code, or with an API key.

Nobody is there in CI: when ``CI`` is set, the browser and device sign-ins fail at once (exit 1) and say how to
authenticate without a person (``HEYGEN_API_KEY``, ``HEYGEN_ACCESS_TOKEN``). Elsewhere, a remote terminal (SSH,
``--no-browser``) gets the pasted-URL path, and without a terminal the device code is still printed, so an agent
can relay it to a person.
"""

from __future__ import annotations

import attrs

from ...domain.checks import check_api_key
from ...domain.errors import AuthError, InteractionRequired, InvalidApiKey, Unauthenticated, UsageError
from ...domain.redact import neutralize
from ..terminal import EXIT_FAIL, EXIT_INTERRUPTED, EXIT_OK, LoginConsole, Terminal, isatty
from .common import guarded, identity, make_auth, settings_of

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ...domain.service import LoginResult

STDIN_TIMEOUT = 30.0
MAX_KEY_PROMPTS = 3


def _report(terminal: Terminal, result: LoginResult) -> None:
    if result.user is not None:
        terminal.ok(f"Signed in as {identity(result.user)}.")
        return
    problem = result.identity_error.message if result.identity_error else "unknown"
    terminal.warn(f"Signed in. Identity check failed (transient): {neutralize(problem)}")


def _refuse_in_ci(terminal: Terminal, how: str) -> None:
    if terminal.in_ci():
        raise InteractionRequired(message=f"CI is set: no one is here to finish a {how} sign-in")


# ---------------------------------------------------------------------------------------------- browser


def login_browser(
    terminal: Terminal, no_browser: bool = False, verbose: bool = False, scopes: str | None = None
) -> int:
    """Authorization code + PKCE in the browser, redirect caught on 127.0.0.1."""
    console: list[LoginConsole] = []

    def act() -> int:
        _refuse_in_ci(terminal, "browser")
        settings = settings_of(terminal, verbose)
        remote = no_browser or settings.remote or settings.no_browser
        settings = attrs.evolve(settings, no_browser=remote)
        console.append(LoginConsole(terminal, remote=remote))
        auth = make_auth(terminal, settings, interactive=True, notify=console[0])
        try:
            result = auth.login_browser(scopes)
        finally:
            console[0].finished()
        _report(terminal, result)
        return EXIT_OK

    return guarded(terminal, act, prefix="Sign-in failed: ")


# ---------------------------------------------------------------------------------------------- device


def login_device(terminal: Terminal, verbose: bool = False, scopes: str | None = None) -> int:
    """The device grant (RFC 8628), for SSH and headless machines."""

    def act() -> int:
        _refuse_in_ci(terminal, "device-code")
        settings = settings_of(terminal, verbose)
        can_open = not (settings.remote or settings.no_browser)
        console = LoginConsole(terminal, remote=not can_open)
        auth = make_auth(terminal, settings, interactive=True, notify=console)
        if can_open:
            console.offer_browser = auth.service.ports.browser
        try:
            result = auth.login_device(scopes)
        finally:
            console.finished()
        _report(terminal, result)
        return EXIT_OK

    return guarded(terminal, act, prefix="Sign-in failed: ")


# ---------------------------------------------------------------------------------------------- API key


def _read_stdin(terminal: Terminal, timeout: float = STDIN_TIMEOUT) -> str:
    from ..bootstrap import background

    box: list[str] = []
    reader = background(lambda: box.append(terminal.stdin.read(64 * 1024)), name="hf-stdin")
    reader.join(timeout)
    if reader.is_alive() or not box:
        raise AuthError(
            f"Timed out waiting for stdin ({int(timeout * 1000)}ms). Pipe the key explicitly.",
            "echo $HEYGEN_API_KEY | hyperframes auth login --api-key",
        )
    return box[0]


def _prompt_key(terminal: Terminal) -> str:
    """A hidden prompt that asks again (up to three times) while the key cannot be a key."""
    import getpass

    for attempt in range(MAX_KEY_PROMPTS):
        key = getpass.getpass("Enter HeyGen API key: ").strip()
        try:
            return check_api_key(key)
        except InvalidApiKey as exc:
            if attempt == MAX_KEY_PROMPTS - 1:
                raise
            terminal.warn(exc.message)
    raise AssertionError("unreachable")  # pragma: no cover


def _collect_key(terminal: Terminal, inline: str) -> str:
    if inline:
        terminal.warn(
            "Warning: a key given on the command line is visible to other users of this machine and in your "
            "shell history; pipe it on stdin instead.",
        )
        return inline.strip()
    if not isatty(terminal.stdin):
        return _read_stdin(terminal).strip()
    return _prompt_key(terminal)


def login_api_key(terminal: Terminal, inline: str, verbose: bool = False) -> int:
    def act() -> int:
        key = _collect_key(terminal, inline)
        auth = make_auth(terminal, settings_of(terminal, verbose))
        try:
            result = auth.login_api_key(key)
        except Unauthenticated as exc:
            terminal.warn("HeyGen rejected the API key.")
            terminal.warn(f"  {neutralize(exc.message)}")
            terminal.warn("Run hyperframes auth login --api-key again with a valid key.")
            if exc.rollback:
                terminal.warn(exc.rollback)
            return EXIT_FAIL
        terminal.ok(f"API key saved. Authenticated as {identity(result.user)}.")
        return EXIT_OK

    try:
        return guarded(terminal, act)
    except EOFError:
        terminal.warn("Aborted.")
        return EXIT_INTERRUPTED


# ---------------------------------------------------------------------------------------------- the command


def login(
    terminal: Terminal,
    api_key: str | None = None,
    device: bool = False,
    no_browser: bool = False,
    verbose: bool = False,
    scopes: str | None = None,
) -> int:
    """``auth login`` with its three ways in."""
    if device and api_key is not None:
        return terminal.fail(
            UsageError("Choose either --device or --api-key, not both.", "Run `hyperframes auth --help`.")
        )
    if api_key is not None:
        return login_api_key(terminal, api_key, verbose)
    if device:
        return login_device(terminal, verbose, scopes)
    return login_browser(terminal, no_browser, verbose, scopes)
