"""The ``hyperframes auth`` commands: what each prints, where, and with which exit code.

Every command is a plain function ``(Io, options…) -> exit code`` over :class:`HeyGenAuth`; ``cli.py`` (typer)
and ``main.py`` (the fast path for ``auth token`` and ``auth status``) only parse arguments and call these.

Conventions (the TypeScript CLI's, reference §1): results on stdout, diagnostics on stderr; a failure prints one
line of message and one line of hint to stderr and exits 1, a usage error exits 2; nothing a server sent is
printed without being neutralised; no secret is ever printed except by ``auth token``, whose job it is.
"""

from __future__ import annotations

import json
import os
import sys

from ..domain.errors import AuthError, NotConfigured, Unauthenticated, UsageError
from ..domain.redact import neutralize
from ..domain.resolve import OAuthCredential

TYPE_CHECKING = False  # keep `typing` off the CLI's fast paths; type checkers know this name
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import TextIO

    from ..domain.api import UserInfo
    from ..domain.config import Settings
    from ..domain.credentials import UserProfile
    from ..domain.driver import Notice
    from ..domain.service import LoginResult
    from .facade import HeyGenAuth, Status

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2
STDIN_TIMEOUT = 30.0


class Io:
    """The terminal: output streams, input, environment, and whether colour is allowed (TTY, ``NO_COLOR``)."""

    def __init__(
        self,
        out: TextIO | None = None,
        err: TextIO | None = None,
        stdin: TextIO | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.stdin = stdin or sys.stdin
        self.env = os.environ if env is None else env
        self.color = _isatty(self.out) and "NO_COLOR" not in self.env and self.env.get("FORCE_COLOR") != "0"

    def say(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    def warn(self, text: str) -> None:
        print(text, file=self.err, flush=True)

    def paint(self, text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.color else text

    def ok(self, text: str) -> None:
        self.say(f"{self.paint('✓', '32')} {text}")

    def fail(self, error: AuthError, prefix: str = "") -> int:
        """Print an error as one line of message and one of hint; return its exit code."""
        self.warn(self.paint(f"{prefix}{neutralize(error.message)}", "31"))
        if error.hint:
            self.warn(error.hint)
        return error.exit_code

    def interactive(self) -> bool:
        return _isatty(self.stdin) and _isatty(self.out)


def _isatty(stream: object) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:
        return False


def settings_of(io: Io, verbose: bool = False) -> Settings:
    """The settings the environment describes (``--verbose`` turns the trace on too)."""
    from ..domain.config import Settings

    settings = Settings.from_env(io.env, os.path.expanduser("~"))
    return settings.replace(verbose=True) if verbose else settings


def make_auth(
    io: Io,
    verbose: bool = False,
    interactive: bool = True,
    settings: Settings | None = None,
    **options: object,
) -> HeyGenAuth:
    """The facade the commands use: configured from the environment, stdlib HTTP (fast to start)."""
    from .facade import HeyGenAuth

    settings = settings or settings_of(io, verbose)
    return HeyGenAuth(
        settings,
        env=io.env,
        interactive=interactive,
        passphrase_prompt=True,
        transport="stdlib",
        **options,  # type: ignore[arg-type]
    )


def _home_path(path: str) -> str:
    home = os.path.expanduser("~")
    return "~" + path[len(home) :] if home and home != "/" and path.startswith(home + "/") else path


def _identity(user: UserInfo | None) -> str:
    return neutralize(user.identity) if user else "(unknown user)"


# ---------------------------------------------------------------------------------------------- token


def token(io: Io, as_json: bool = False, verbose: bool = False) -> int:
    """``auth token``: print a valid credential for scripts, and nothing else, on stdout."""
    try:
        credential = make_auth(io, verbose, interactive=False).credential()
    except AuthError as exc:
        return io.fail(exc)
    if io.env.get("CI") and not _isatty(io.out):
        io.warn("Warning: printing a HeyGen credential in CI; make sure your logs mask it.")
    if not as_json:
        io.say(credential.secret)
        return EXIT_OK
    payload: dict[str, object] = {
        "token": credential.secret,
        "type": credential.kind,
        "source": credential.source,
    }
    if credential.kind == "oauth":
        payload["expires_at"] = credential.tokens.expires_at  # type: ignore[union-attr]
    io.say(json.dumps(payload))
    return EXIT_OK


# ---------------------------------------------------------------------------------------------- status

SOURCE_VAR = {"env": "HEYGEN_API_KEY", "env_alias": "HYPERFRAMES_API_KEY"}


def _source_label(source: str, location: str) -> str:
    if source in SOURCE_VAR:
        return f"env ({SOURCE_VAR[source]})"
    if source == "file_legacy":
        return f"file ({_home_path(location)} — legacy plaintext)"
    return f"file ({_home_path(location)})"


def _profile_json(profile: UserProfile | None) -> dict[str, object] | None:
    if profile is None:
        return None
    return {
        "email": profile.email,
        "first_name": profile.first_name,
        "last_name": profile.last_name,
        "username": profile.username,
        "display_name": profile.display_name(),
    }


def _status_json(status: Status) -> str:
    credential = status.credential
    payload: dict[str, object] = {
        "configured": True,
        "source": credential.source,
        "type": credential.kind,
        "user": status.user.as_json() if status.user else None,
        "api_error": neutralize(status.api_error.message) if status.api_error else None,
    }
    if isinstance(credential, OAuthCredential):
        tokens = credential.tokens
        payload |= {"expires_at": tokens.expires_at, "refreshable": credential.refreshable, "scope": tokens.scope}
    payload["storage"] = {"backend": status.backend, "path": status.location}
    if not credential.from_env:
        payload["persisted_user"] = _profile_json(status.persisted_user)
    return json.dumps(payload, indent=2)


def _money(value: object) -> str:
    return f"{value}" if value is not None else "?"


def _status_rows(io: Io, status: Status, now: object) -> None:
    credential = status.credential
    io.say(f"Source: {_source_label(credential.source, status.location)}")
    io.say(f"Type:   {credential.kind}")
    if credential.kind == "oauth":
        tokens = credential.tokens  # type: ignore[union-attr]
        expiry = tokens.expiry()
        if expiry is not None:
            state = "valid" if expiry > now else "expired"  # type: ignore[operator]
            suffix = " · refreshable" if credential.refreshable else ""  # type: ignore[union-attr]
            io.say(f"Expires: {tokens.expires_at} ({state}){suffix}")
        if tokens.scope:
            io.say(f"Scope:  {neutralize(tokens.scope)}")
    io.say(f"Storage: {status.backend} ({_home_path(status.location)})")
    if status.api_error is not None:
        io.say(f"API check failed: {neutralize(status.api_error.message)}")
        cached = status.persisted_user.display_name() if status.persisted_user else None
        if cached:
            io.say(f"Account: {neutralize(cached)} (cached)")
        return
    _account_rows(io, status.user)


def _account_rows(io: Io, user: UserInfo | None) -> None:
    io.say(f"Account: {_identity(user)}")
    if user is None:
        return
    if user.billing_type:
        io.say(f"Billing: {neutralize(user.billing_type)}")
    wallet = user.wallet or {}
    if wallet.get("remaining_balance") is not None:
        currency = f" {wallet['currency']}" if wallet.get("currency") else ""
        io.say(neutralize(f"Wallet:  {wallet['remaining_balance']}{currency}"))
    subscription = user.subscription or {}
    if subscription.get("plan"):
        io.say(neutralize(f"Plan:    {subscription['plan']}"))
    buckets = subscription.get("credits") if isinstance(subscription.get("credits"), dict) else {}
    for label, key in (("Premium credits:", "premium_credits"), ("Add-on credits: ", "add_on_credits")):
        entry = buckets.get(key) if isinstance(buckets, dict) else None
        if isinstance(entry, dict) and entry.get("remaining") is not None:
            resets = f" (resets {str(entry['resets_at'])[:10]})" if entry.get("resets_at") else ""
            io.say(neutralize(f"{label} {entry['remaining']}{resets}"))
    usage = user.usage_based or {}
    if usage.get("spending_current_usd") is not None:
        cap = f" / ${_money(usage['spending_cap_usd'])}" if usage.get("spending_cap_usd") is not None else ""
        io.say(neutralize(f"Usage:   ${_money(usage['spending_current_usd'])}{cap}"))


def status(io: Io, as_json: bool = False, verbose: bool = False) -> int:
    """``auth status``: which credential is in effect and whether HeyGen accepts it (exit 1 when not)."""
    try:
        auth = make_auth(io, verbose, interactive=False)
        report = auth.status()
    except NotConfigured:
        if as_json:
            io.say(json.dumps({"configured": False, "recommended_action": "hyperframes auth login"}))
        else:
            io.say("Not signed in to HeyGen.")
            io.say("Run `hyperframes auth login` to sign in (or `hyperframes auth login --api-key`).")
        return EXIT_FAIL
    except AuthError as exc:
        if as_json:
            io.say(json.dumps({"configured": False, "error": neutralize(exc.message), "hint": exc.hint}))
            return exc.exit_code
        return io.fail(exc)
    if as_json:
        io.say(_status_json(report))
    else:
        _status_rows(io, report, auth.service.ports.clock.now())
    return EXIT_FAIL if report.api_error else EXIT_OK


# ---------------------------------------------------------------------------------------------- refresh


def refresh(io: Io, verbose: bool = False) -> int:
    """``auth refresh``: spend the stored refresh token now."""
    try:
        make_auth(io, verbose, interactive=False).refresh()
    except AuthError as exc:
        return io.fail(exc)
    io.ok("Refreshed OAuth access token.")
    return EXIT_OK


# ---------------------------------------------------------------------------------------------- logout


def _confirm(io: Io, question: str) -> bool:
    if not _isatty(io.stdin):
        return False
    print(question, end="", file=io.out, flush=True)
    try:
        answer = io.stdin.readline()
    except (EOFError, KeyboardInterrupt):
        return False
    return answer.strip().lower() in ("y", "yes")


def logout(io: Io, keep_api_key: bool = False, yes: bool = False, verbose: bool = False) -> int:
    """``auth logout``: best-effort revocation, then the local wipe."""
    from ..domain.resolve import ENV_KEYS

    if any(io.env.get(name) for name, _ in ENV_KEYS):
        io.say("An env-var credential is active. Unset HEYGEN_API_KEY / HYPERFRAMES_API_KEY to remove it.")
    try:
        auth = make_auth(io, verbose, interactive=False)
    except AuthError as exc:
        return io.fail(exc)
    where = _home_path(auth.settings.config_dir)
    scope = "any active OAuth session" if keep_api_key else "HeyGen"
    question = f"This will sign out of {scope} on this machine (~/.heygen lives at {where}). Continue? [y/N] "
    if not yes and not _confirm(io, question):
        io.say("Aborted.")
        return EXIT_FAIL
    try:
        result = auth.logout(keep_api_key)
    except AuthError as exc:
        return io.fail(exc)
    for note in result.notes:
        io.warn(io.paint(f"Note: {neutralize(note)}", "2"))
    if keep_api_key:
        io.ok("OAuth session removed. API key retained.")
    else:
        io.ok(f"Signed out. Removed {_home_path(result.location)}.")
    return EXIT_OK


# ---------------------------------------------------------------------------------------------- login


def _read_stdin(io: Io, timeout: float = STDIN_TIMEOUT) -> str:
    from ..adapters.threads import start_daemon

    box: list[str] = []
    reader = start_daemon(lambda: box.append(io.stdin.read()), name="hf-stdin")
    reader.join(timeout)
    if reader.is_alive() or not box:
        raise AuthError(
            f"Timed out waiting for stdin ({int(timeout * 1000)}ms). Pipe the key explicitly.",
            "echo $HEYGEN_API_KEY | hyperframes auth login --api-key",
        )
    return box[0]


def _collect_key(io: Io, inline: str) -> str:
    if inline:
        io.warn(
            "Warning: a key given on the command line is visible to other users of this machine and in your "
            "shell history; pipe it on stdin instead.",
        )
        return inline.strip()
    if not _isatty(io.stdin):
        return _read_stdin(io).strip()
    import getpass

    return getpass.getpass("Enter HeyGen API key: ").strip()


def login_api_key(io: Io, inline: str, verbose: bool = False) -> int:
    try:
        key = _collect_key(io, inline)
        auth = make_auth(io, verbose, interactive=False)
        result = auth.login_api_key(key)
    except (KeyboardInterrupt, EOFError):
        io.warn("Aborted.")
        return EXIT_FAIL
    except Unauthenticated as exc:
        io.warn("HeyGen rejected the API key.")
        io.warn(f"  {neutralize(exc.message)}")
        io.warn("Run hyperframes auth login --api-key again with a valid key.")
        rollback = getattr(exc, "rollback", None)
        if rollback:
            io.warn(rollback)
        return EXIT_FAIL
    except AuthError as exc:
        return io.fail(exc)
    io.ok(f"API key saved. Authenticated as {_identity(result.user)}.")
    return EXIT_OK


class _LoginPrinter:
    """Turns the core's notices into the login command's lines (and starts the paste prompt when remote)."""

    def __init__(self, io: Io, remote: bool, offer: Callable[[str], None]) -> None:
        self.io = io
        self.remote = remote
        self.offer = offer

    def __call__(self, notice: Notice) -> None:
        from ..domain import driver

        io = self.io
        if isinstance(notice, driver.BrowserOpening):
            if not self.remote:
                io.say(f"Opening browser to {notice.endpoint} ...")
        elif isinstance(notice, driver.BrowserUnavailable):
            io.warn("Open this URL in a browser to continue:" if self.remote else "Could not open a browser.")
            io.warn(f"  {notice.url}")
        elif isinstance(notice, driver.WaitingForCallback):
            io.say(f"Waiting for callback on {notice.redirect_uri} ...")
            if self.remote:
                self._start_paste_prompt(notice.redirect_uri)
        elif isinstance(notice, driver.CallbackIgnored):
            io.warn(io.paint(f"Warning: {notice.reason}.", "33"))
        elif isinstance(notice, driver.DeviceCodeIssued):
            device = notice.device
            uri, code = neutralize(device.verification_uri), neutralize(device.user_code)
            io.say(f"To sign in, open {uri} and enter the code: {code}")
            if device.verification_uri_complete:
                io.say(f"  (or open {neutralize(device.verification_uri_complete)})")
            io.say("Waiting for approval ...")
        elif isinstance(notice, driver.Remark):
            io.warn(io.paint(f"Note: {neutralize(notice.message)}", "2"))

    def _start_paste_prompt(self, redirect_uri: str) -> None:
        from ..adapters.threads import start_daemon

        port = redirect_uri.split(":")[2].split("/", maxsplit=1)[0]
        self.io.warn(
            "This terminal looks remote or headless. After you sign in, the browser is sent to the address above.\n"
            f"  - If that page cannot load (the browser is on another machine), copy the whole address from the\n"
            f"    browser's address bar and paste it here, then press Enter.\n"
            f"  - Or forward the port first: ssh -L {port}:127.0.0.1:{port} <this host>\n"
            "  - Or run `hyperframes auth login --device` instead.",
        )
        start_daemon(self._read_pastes, name="hf-paste")

    def _read_pastes(self) -> None:
        for line in self.io.stdin:
            text = line.strip()
            if not text:
                continue
            if "?" not in text:
                self.io.warn("Paste the whole address from the address bar: it holds the state as well as the code.")
                continue
            self.offer(text)


def login_browser(io: Io, no_browser: bool = False, verbose: bool = False, timeout: float | None = None) -> int:
    """``auth login``: authorization code + PKCE in the browser, redirect caught on 127.0.0.1."""
    from ..domain.callback import pasted_query

    holder: list[object] = []

    def listen() -> object:
        from ..adapters.listener import LoopbackCallbackListener

        listener = LoopbackCallbackListener()
        holder.append(listener)
        return listener

    def offer(text: str) -> None:
        if holder:
            holder[0].offer(pasted_query(text))  # type: ignore[attr-defined]

    try:
        settings = settings_of(io, verbose)
        remote = no_browser or settings.remote or settings.no_browser
        auth = make_auth(
            io,
            verbose,
            interactive=True,
            settings=settings,
            notify=_LoginPrinter(io, remote, offer),
            listen=listen,
            open_browser=not remote,
            login_timeout=timeout,
        )
        result = auth.login()
    except KeyboardInterrupt:
        io.warn("Aborted.")
        return EXIT_FAIL
    except AuthError as exc:
        return io.fail(exc, "Sign-in failed: ")
    _report_login(io, result)
    return EXIT_OK


def _report_login(io: Io, result: LoginResult) -> None:
    if result.user is not None:
        io.ok(f"Signed in as {_identity(result.user)}.")
        return
    problem = result.identity_error.message if result.identity_error else "unknown"
    io.warn(f"Signed in. Identity check failed (transient): {neutralize(problem)}")


def login_device(io: Io, verbose: bool = False) -> int:
    """``auth login --device``: the device grant (RFC 8628), for SSH and headless machines."""
    try:
        printer = _LoginPrinter(io, remote=True, offer=lambda _text: None)
        auth = make_auth(io, verbose, interactive=True, notify=printer)
        result = auth.login_device()
    except KeyboardInterrupt:
        io.warn("Aborted.")
        return EXIT_FAIL
    except AuthError as exc:
        return io.fail(exc, "Sign-in failed: ")
    _report_login(io, result)
    return EXIT_OK


def login(
    io: Io,
    api_key: str | None = None,
    device: bool = False,
    no_browser: bool = False,
    verbose: bool = False,
) -> int:
    """``auth login`` with its three ways in."""
    if device and api_key is not None:
        return io.fail(UsageError("Choose either --device or --api-key, not both.", "Run `hyperframes auth --help`."))
    if api_key is not None:
        return login_api_key(io, api_key, verbose)
    if device:
        return login_device(io, verbose)
    return login_browser(io, no_browser, verbose)
