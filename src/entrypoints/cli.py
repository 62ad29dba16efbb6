"""The typer application: ``hyperframes auth login | status | refresh | logout | token``.

Argument parsing and help only; what each command does is in ``commands.py``. Pretty tracebacks are off: they
would print local variables, tokens among them.
"""

from __future__ import annotations

from typing import Annotated

import typer

from ..domain.config import ENV_VARS
from . import commands

EXIT_CODES = "Exit codes: 0 success; 1 failure (not signed in, rejected, network...); 2 usage or configuration error."

AUTH_HELP = f"""Sign in to HeyGen's API, stay signed in, sign out.

Credentials live in ~/.heygen/credentials (or $HEYGEN_CONFIG_DIR/credentials), a JSON file shared with the
TypeScript hyperframes CLI and heygen-cli; with HYPERFRAMES_CREDENTIALS_STORE=encrypted they are kept encrypted
in credentials.enc beside it.

\b
Commands:
  login            sign in in the browser (OAuth + PKCE); --device on SSH/headless machines; --api-key for a key
  status           show who is signed in and whether HeyGen accepts the credential (--json)
  refresh          refresh the OAuth access token now
  logout           revoke the OAuth tokens and remove local credentials (--keep-api-key, --yes)
  token            print a valid access token (or API key) for scripts (--json)

\b
Environment:
{chr(10).join(f"  {name:<36} {text}" for name, text in ENV_VARS.items())}

{EXIT_CODES}
"""


def _plain(text: str) -> str:
    """AUTH_HELP without click's no-rewrap markers, for printing it ourselves."""
    return text.replace("\b\n", "")


app = typer.Typer(
    name="hyperframes",
    help="HeyGen's hyperframes command line (the `auth` commands).",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
auth = typer.Typer(help=AUTH_HELP, rich_markup_mode=None, pretty_exceptions_enable=False)
app.add_typer(auth, name="auth")

Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="Print a redacted HTTP trace to stderr.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]


def _run(code: int) -> None:
    if code:
        raise typer.Exit(code)


@app.callback()
def root(
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    """HeyGen's hyperframes command line (the `auth` commands)."""
    if version:
        from importlib.metadata import version as dist_version

        print(f"hyperframes-auth {dist_version('hyperframes-auth')}")
        raise typer.Exit(0)


@auth.callback(invoke_without_command=True)
def auth_root(ctx: typer.Context) -> None:
    """Sign in to HeyGen's API, stay signed in, sign out."""
    if ctx.invoked_subcommand is None:
        print(_plain(AUTH_HELP).rstrip())
        raise typer.Exit(0)


@auth.command(epilog=EXIT_CODES)
def login(
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
    verbose: Verbose = False,
) -> None:
    """Sign in: browser (OAuth 2.0 + PKCE) by default, --device, or --api-key."""
    _run(commands.login(commands.Io(), api_key, device, no_browser, verbose))


@auth.command(epilog=EXIT_CODES)
def status(as_json: AsJson = False, verbose: Verbose = False) -> None:
    """Show which credential is in effect and whether HeyGen accepts it (exit 1 when it does not)."""
    _run(commands.status(commands.Io(), as_json, verbose))


@auth.command(epilog=EXIT_CODES)
def refresh(verbose: Verbose = False) -> None:
    """Refresh the OAuth access token now, with the stored refresh token."""
    _run(commands.refresh(commands.Io(), verbose))


@auth.command(epilog=EXIT_CODES)
def logout(
    keep_api_key: Annotated[bool, typer.Option("--keep-api-key", help="Remove only the OAuth session.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    verbose: Verbose = False,
) -> None:
    """Revoke the OAuth tokens (best effort) and remove the local credentials."""
    _run(commands.logout(commands.Io(), keep_api_key, yes, verbose))


@auth.command(epilog=EXIT_CODES)
def token(as_json: AsJson = False, verbose: Verbose = False) -> None:
    """Print a valid access token (or the API key in effect) for scripts; refreshes first when needed."""
    _run(commands.token(commands.Io(), as_json, verbose))
