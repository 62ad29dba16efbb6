"""The typer application: ``hyperframes auth login | status | refresh | logout | token`` and ``completion``.

Argument parsing and help only; what each command does is in ``commands/``. Pretty tracebacks are off: they would
print local variables, tokens among them. Tests hand fake adapters in through the click context object
(``CliRunner.invoke(app, args, obj=Terminal(...))``).
"""

from __future__ import annotations

from typing import Annotated

import typer

from .environment import ENV_VARS
from .terminal import Terminal

EXIT_CODES = (
    "Exit codes: 0 success; 1 failure (not signed in, rejected, network...); 2 usage or configuration error; "
    "130 interrupted."
)
HELP = {"help_option_names": ["-h", "--help"]}

AUTH_HELP = f"""Sign in to HeyGen's API, stay signed in, sign out.

Credentials live in ~/.heygen/credentials (or $HEYGEN_CONFIG_DIR/credentials), a JSON file shared with the
TypeScript hyperframes CLI and heygen-cli; with HYPERFRAMES_CREDENTIALS_STORE=encrypted they are kept encrypted
in credentials.enc beside it.

\b
Environment:
{chr(10).join(f"  {name:<36} {text}" for name, text in ENV_VARS.items())}

{EXIT_CODES}
"""

app = typer.Typer(
    name="hyperframes",
    help="HeyGen's hyperframes command line (the `auth` commands).",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings=HELP,
)
auth = typer.Typer(
    help=AUTH_HELP,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings=HELP,
)
app.add_typer(auth, name="auth")

Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="Print a redacted HTTP trace to stderr.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON on stdout (see docs/JSON.md).")]


def _terminal(ctx: typer.Context) -> Terminal:
    """The terminal to run in: the one a test handed in as the context object, else the real one."""
    found = ctx.find_object(Terminal)
    return found if found is not None else Terminal()


def _run(code: int) -> None:
    if code:
        raise typer.Exit(code)


def _version(value: bool) -> None:
    if value:
        from .. import __version__

        print(f"hyperframes-auth {__version__}")
        raise typer.Exit(0)


@app.callback()
def root(
    _version_flag: Annotated[
        bool,
        typer.Option("--version", "-V", help="Print the version and exit.", callback=_version, is_eager=True),
    ] = False,
) -> None:
    """HeyGen's hyperframes command line (the `auth` commands)."""


@auth.callback(invoke_without_command=True)
def auth_root(ctx: typer.Context) -> None:
    """Sign in to HeyGen's API, stay signed in, sign out."""
    if ctx.invoked_subcommand is None:  # `hyperframes auth` alone: its help, and success (as the TypeScript CLI)
        print(ctx.get_help())
        raise typer.Exit(0)


@auth.command(epilog=EXIT_CODES, context_settings=HELP)
def login(
    ctx: typer.Context,
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key",
            show_default=False,
            help="Store a long-lived API key instead: piped on stdin, or typed at a hidden prompt. "
            "(--api-key=VALUE works but is visible to other users of the machine.)",
        ),
    ] = None,
    device: Annotated[
        bool,
        typer.Option("--device", help="Sign in with a device code (RFC 8628): for SSH and headless machines."),
    ] = False,
    no_browser: Annotated[
        bool,
        typer.Option("--no-browser", help="Do not open a browser: print the URL and accept a pasted redirect URL."),
    ] = False,
    scopes: Annotated[
        str | None,
        typer.Option(
            "--scopes", show_default=False, help="Scopes to ask for, space-separated (default: openid profile email)."
        ),
    ] = None,
    verbose: Verbose = False,
) -> None:
    """Sign in: browser (OAuth 2.0 + PKCE) by default, --device, or --api-key."""
    from .commands.login import login as run

    _run(run(_terminal(ctx), api_key, device, no_browser, verbose, scopes))


@auth.command(epilog=EXIT_CODES, context_settings=HELP)
def status(ctx: typer.Context, as_json: AsJson = False, verbose: Verbose = False) -> None:
    """Show which credential is in effect and whether HeyGen accepts it (exit 1 when it does not)."""
    from .commands.status import status as run

    _run(run(_terminal(ctx), as_json, verbose))


@auth.command(epilog=EXIT_CODES, context_settings=HELP)
def refresh(ctx: typer.Context, verbose: Verbose = False) -> None:
    """Refresh the OAuth access token now, with the stored refresh token."""
    from .commands.refresh import refresh as run

    _run(run(_terminal(ctx), verbose))


User = Annotated[
    str | None,
    typer.Option("--user", "-u", show_default=False, help="The account (its email or name), if not the active one."),
]


@auth.command(epilog=EXIT_CODES, context_settings=HELP)
def logout(
    ctx: typer.Context,
    keep_api_key: Annotated[bool, typer.Option("--keep-api-key", help="Remove only the OAuth session.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    user: User = None,
    everyone: Annotated[bool, typer.Option("--all", help="Sign out every account of this environment.")] = False,
    verbose: Verbose = False,
) -> None:
    """Revoke the OAuth tokens (best effort) and remove the local credentials of the active account."""
    from .commands.logout import logout as run

    _run(run(_terminal(ctx), keep_api_key, yes, verbose, user, everyone))


@auth.command(epilog=EXIT_CODES, context_settings=HELP)
def token(ctx: typer.Context, as_json: AsJson = False, user: User = None, verbose: Verbose = False) -> None:
    """Print a valid access token (or the API key in effect) for scripts; refreshes first when needed."""
    from .commands.token import token as run

    _run(run(_terminal(ctx), as_json, verbose, user))


@auth.command(epilog=EXIT_CODES, context_settings=HELP)
def switch(ctx: typer.Context, user: User = None, verbose: Verbose = False) -> None:
    """Choose the active account of this environment (with one other account, switch to it)."""
    from .commands.switch import switch as run

    _run(run(_terminal(ctx), user, verbose))


@auth.command(epilog=EXIT_CODES, context_settings=HELP)
def rekey(
    ctx: typer.Context,
    to: Annotated[str, typer.Option("--to", help="passphrase (a new one) or keyring (the OS keyring).")],
    verbose: Verbose = False,
) -> None:
    """Give the encrypted store's key a new keeper (a new passphrase, or the OS keyring) without signing out."""
    from .commands.rekey import rekey as run

    _run(run(_terminal(ctx), to, verbose))


@app.command(context_settings=HELP)
def completion(
    shell: Annotated[str, typer.Argument(help="bash, zsh or fish.", show_default=False)],
) -> None:
    """Print the shell completion script (e.g. `hyperframes completion bash >> ~/.bashrc`)."""
    from .commands.completion import script

    _run(script(Terminal(), shell))
