"""The one error hierarchy of hyperframes-auth.

Every error has a stable ``code`` (what scripts branch on), a ``message`` and a ``hint`` (what a person reads),
and an ``exit_code`` for the CLI. No error ever carries a secret: upstream text reaches a message only through
:func:`hyperframes_auth.domain.redact.scrub_body`, and our own messages never interpolate tokens, codes,
verifiers or keys.

The codes and wording of ``NOT_CONFIGURED``, ``INVALID_STORE``, ``UNAUTHENTICATED``, ``API_ERROR``,
``REFRESH_FAILED`` and ``LOGIN_EXPIRED`` are the TypeScript CLI's, so scripts written for either tool read both.
Who is at fault shows in the class: :class:`UsageError` and :class:`ConfigError` are the caller's (exit 2),
:class:`TransportError`, :class:`ApiError` and the OAuth errors come from the network or a server (exit 1),
:class:`InvalidTransition` is a bug of ours.

This module is imported on the CLI's hot path (`auth token`), so it uses nothing beyond builtins.
"""

from __future__ import annotations

LOGIN_AGAIN = "Run `hyperframes auth login` to re-authenticate."


class AuthError(Exception):
    """Base class of every error this package raises on purpose.

    Attributes:
        code: a stable, upper-case identifier such as ``REFRESH_FAILED``.
        message: one line for a person; never contains a secret.
        hint: one line saying what to do next, or ``None``.
        exit_code: what the CLI exits with (1 for failures, 2 for usage errors).
    """

    code = "AUTH_ERROR"
    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"


def _with_detail(head: str, detail: str | None) -> str:
    return f"{head}: {detail}" if detail else head


class NotConfigured(AuthError):
    """No credential anywhere: no env key, no credentials file (or an empty one)."""

    code = "NOT_CONFIGURED"

    def __init__(self) -> None:
        super().__init__("No HeyGen credentials found", "Run `hyperframes auth login` to sign in.")


class InvalidStore(AuthError):
    """The credentials file (or an env key) cannot be read or used as it is; a failed write is ``StoreWriteFailed``.

    Attributes:
        detail: what is wrong, without the fixed prefix.
        path: the file in use when known (hints name it, never a default location).
    """

    code = "INVALID_STORE"

    def __init__(self, detail: str, hint: str | None = None, path: str | None = None) -> None:
        default = (
            f"Run `hyperframes auth login`: it moves {path} aside and signs you in again."
            if path
            else "Run `hyperframes auth login` to sign in again (the unreadable file is moved aside)."
        )
        super().__init__(f"Credential file is unreadable: {detail}", hint or default)
        self.detail = detail
        self.path = path


class Unauthenticated(AuthError):
    """HeyGen answered 401 to the credential we sent."""

    code = "UNAUTHENTICATED"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(_with_detail("HeyGen rejected the credential", detail), LOGIN_AGAIN)
        self.rollback: str | None = None  # set by an API-key sign-in: what happened to the stored credentials


class ApiError(AuthError):
    """An unexpected HTTP status or body from HeyGen or the authorization server."""

    code = "API_ERROR"

    def __init__(self, status: int, detail: str, hint: str | None = None) -> None:
        super().__init__(f"HeyGen API error ({status}): {detail}", hint)
        self.status = status


class RefreshFailed(AuthError):
    """The refresh token was refused, or the token endpoint answered something unusable.

    Attributes:
        oauth_error: the RFC 6749 §5.2 ``error`` code when the server sent one (``invalid_grant``...).
    """

    code = "REFRESH_FAILED"

    def __init__(self, detail: str | None = None, oauth_error: str | None = None) -> None:
        super().__init__(_with_detail("Failed to refresh OAuth tokens", detail), LOGIN_AGAIN)
        self.oauth_error = oauth_error


class NoRefreshToken(RefreshFailed):
    """``auth refresh`` (or a 401 retry) found no stored refresh token."""

    code = "REFRESH_FAILED"

    def __init__(self) -> None:
        AuthError.__init__(self, "No OAuth refresh token to use.", "Run `hyperframes auth login` first.")
        self.oauth_error = None


class CodeRejected(AuthError):
    """The authorization code was refused at the token endpoint: expired, already used, or a wrong verifier."""

    code = "CODE_REJECTED"

    def __init__(self, detail: str | None = None, oauth_error: str | None = None) -> None:
        super().__init__(
            _with_detail("The authorization code was rejected (expired or already used)", detail),
            "Run `hyperframes auth login` again.",
        )
        self.oauth_error = oauth_error


class LoginTimedOut(AuthError):
    """No valid callback reached the loopback listener in time."""

    code = "LOGIN_TIMEOUT"

    def __init__(self, seconds: float) -> None:
        super().__init__(
            f"Timed out after {seconds:g} s waiting for the browser to finish signing in",
            "Run `hyperframes auth login` again, or `hyperframes auth login --device` on a remote machine.",
        )


class AuthorizationDenied(AuthError):
    """The authorization server sent the person back with an error (RFC 6749 §4.1.2.1).

    Attributes:
        oauth_error: the server's ``error`` code, e.g. ``access_denied``.
        description: the server's ``error_description``, scrubbed; print it through ``neutralize``.
    """

    code = "AUTHORIZATION_DENIED"

    def __init__(self, oauth_error: str, description: str | None = None) -> None:
        text = f"The authorization server returned {oauth_error}"
        super().__init__(
            f"{text}: {description}" if description else text,
            "Run `hyperframes auth login` to try again.",
        )
        self.oauth_error = oauth_error
        self.description = description


class IssuerMismatch(AuthError):
    """RFC 9207: the callback's ``iss`` is not the issuer we sent the user to (a mix-up attack)."""

    code = "ISSUER_MISMATCH"

    def __init__(self) -> None:
        super().__init__(
            "The sign-in response came from an unexpected authorization server; no token was requested",
            "Check HYPERFRAMES_OAUTH_* settings, then run `hyperframes auth login` again.",
        )


class DeviceAuthFailed(AuthError):
    """The device grant (RFC 8628) ended without tokens."""

    code = "DEVICE_AUTH_FAILED"

    def __init__(self, detail: str, oauth_error: str | None = None) -> None:
        super().__init__(
            f"Device authorization failed: {detail}",
            "Run `hyperframes auth login --device` to start a new code.",
        )
        self.oauth_error = oauth_error


class TransportError(AuthError):
    """The request never got an HTTP answer: DNS, connect, TLS, timeout, or an oversized body.

    Attributes:
        host: ``host[:port]`` of the server (never a user or password).
        sent: ``False`` only when the request surely did not reach the server (DNS failure, connection refused,
            TLS failure, a proxy that would not connect, a reset before the request was fully written): only
            then may a refresh be retried without replaying a refresh token the server may have rotated.
    """

    code = "NETWORK_ERROR"

    def __init__(self, host: str, detail: str, sent: bool = True) -> None:
        super().__init__(
            f"Could not reach {host}: {detail}",
            "Check your network connection and HEYGEN_API_URL / HYPERFRAMES_OAUTH_* settings.",
        )
        self.host = host
        self.sent = sent


class ConfigError(AuthError):
    """A setting (env var, option) has a value we refuse, e.g. an http URL for a non-loopback host."""

    code = "CONFIG_ERROR"
    exit_code = 2

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message, hint or "Fix the setting named above and try again.")


class InvalidApiKey(AuthError):
    """The API key given to ``login --api-key`` cannot be a key: empty, too short, or with forbidden characters."""

    code = "INVALID_API_KEY"


class UsageError(AuthError):
    """The command line itself is wrong (exit code 2)."""

    code = "USAGE"
    exit_code = 2


class StoreLocked(AuthError):
    """Another process held the credentials lock for longer than we wait."""

    code = "STORE_LOCKED"

    def __init__(self, path: str, seconds: float) -> None:
        super().__init__(
            f"Another hyperframes process kept {path} locked for more than {seconds:g} s",
            "Wait for it to finish and try again; if none is running, try again (the lock frees itself).",
        )


class CorruptStore(AuthError):
    """An encrypted credentials file was truncated, tampered with, or is of an unknown format."""

    code = "CORRUPT_STORE"

    def __init__(self, detail: str, hint: str | None = None) -> None:
        super().__init__(
            f"The encrypted credentials file cannot be used: {detail}",
            hint or "Run `hyperframes auth logout --yes` to remove it, then `hyperframes auth login`.",
        )


class WrongPassphrase(AuthError):
    """The passphrase does not open the encrypted credentials file (the file is left untouched)."""

    code = "WRONG_PASSPHRASE"

    def __init__(self) -> None:
        super().__init__(
            "The passphrase does not open the encrypted credentials file",
            "Check HYPERFRAMES_CREDENTIALS_PASSPHRASE (or the passphrase you typed) and try again.",
        )


class KeyUnavailable(AuthError):
    """The encrypted store's key lives in the OS keyring, and the keyring did not give it.

    Attributes:
        detail: what went wrong, without the sentence around it.
    """

    code = "KEY_UNAVAILABLE"

    def __init__(self, detail: str) -> None:
        super().__init__(
            f"The key of the encrypted credentials is not available from the OS keyring: {detail}",
            "Unlock the OS keyring (or sign in to the desktop session) and try again; if the file was moved to a "
            "passphrase, set HYPERFRAMES_CREDENTIALS_PASSPHRASE. Only if the key is lost, remove the file and sign in.",
        )
        self.detail = detail


class InteractionRequired(AuthError):
    """A sign-in is needed, but nobody may be asked: the caller did not allow it, or this is CI."""

    code = "INTERACTION_REQUIRED"

    def __init__(self, detail: str = "No usable HeyGen credential", *, message: str | None = None) -> None:
        super().__init__(
            message or f"{detail}, and this caller may not start an interactive sign-in",
            "Run `hyperframes auth login` in a terminal, or set HEYGEN_API_KEY (or HEYGEN_ACCESS_TOKEN).",
        )


class InvalidTransition(AuthError):
    """The sign-in state machine was given an event its current state has no transition for, or a handler led
    somewhere its row of the table does not allow.

    This is a programming error on our side (or a misbehaving adapter); the state is left unchanged.
    """

    code = "INVALID_TRANSITION"

    def __init__(self, state: str, event: str, target: str | None = None) -> None:
        where = f"{state} on {event}" + (f" to {target}" if target else "")
        super().__init__(f"Internal error: no transition from {where}", None)
        self.state = state
        self.event = event
        self.target = target


class LoginExpired(AuthError):
    """The stored OAuth sign-in has expired and there is no refresh token (and no API key) to fall back on."""

    code = "LOGIN_EXPIRED"

    def __init__(self) -> None:
        super().__init__("Your HeyGen login expired", "Run `hyperframes auth login` to sign in again.")


class InvalidTokenResponse(AuthError):
    """The token endpoint answered 2xx with something that is not a usable token response (RFC 6749 §5.1)."""

    code = "INVALID_TOKEN_RESPONSE"

    def __init__(self, detail: str) -> None:
        super().__init__(
            f"The authorization server's token response cannot be used: {detail}",
            "Try again; if it keeps happening, the server or a proxy in between is misbehaving.",
        )
        self.detail = detail


class ServerUnavailable(ApiError):
    """The server said it could not act now (HTTP 429 or 5xx, or ``temporarily_unavailable``): nothing was lost."""

    code = "SERVER_UNAVAILABLE"

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(
            status,
            detail,
            "This is on the server's side and your sign-in is unaffected: try again in a few minutes.",
        )


class Aborted(AuthError):
    """The person interrupted the command (Ctrl-C, SIGTERM, SIGHUP)."""

    code = "ABORTED"
    exit_code = 130

    def __init__(self, detail: str | None = None) -> None:
        super().__init__("Aborted.", detail)


class UnsafeStore(AuthError):
    """The credentials directory or file is not safe to trust: a symlink, owned by someone else, writable by others,
    or hard-linked elsewhere. It is refused, never followed, changed or read; the hint says how to fix it.

    Attributes:
        path: the directory or file refused.
    """

    code = "UNSAFE_STORE"

    def __init__(self, path: str, problem: str, fix: str) -> None:
        super().__init__(f"Refusing to use {path}: {problem}", fix)
        self.path = path


_WRITE_CAUSES = {
    # errno name: (the cause in words, what to do about it)
    "ENOSPC": ("the disk is full", "Free some space on the disk that holds {dir}"),
    "EDQUOT": ("the disk quota is exceeded", "Free some space within your disk quota for {dir}"),
    "EACCES": ("permission denied", "Make {dir} writable by you (`chmod 700 {dir}`)"),
    "EPERM": ("permission denied", "Make {dir} writable by you (`chmod 700 {dir}`)"),
    "EROFS": (
        "the file system is read-only",
        "Remount the file system that holds {dir} read-write, or set HEYGEN_CONFIG_DIR to a writable directory",
    ),
}


class StoreWriteFailed(AuthError):
    """Saving the credentials failed (the disk is full, the directory is read-only...); the old file is intact.

    Attributes:
        path: the file that could not be written.
        errno: the operating system's error number, or ``None``.
        reason: the cause in words (``the disk is full``).
    """

    code = "STORE_WRITE_FAILED"

    def __init__(self, path: str, cause: OSError) -> None:
        import errno as codes  # a builtin module: no import cost on the hot path

        name = codes.errorcode.get(cause.errno or 0, "")
        reason, fix = _WRITE_CAUSES.get(
            name, (cause.strerror or type(cause).__name__, "Check the disk and the permissions of {dir}")
        )
        cut = max(path.rfind("/"), path.rfind("\\"))  # the directory, POSIX or Windows, without os.path
        directory = path[:cut] if cut > 0 else path
        super().__init__(
            f"Could not save the credentials to {path}: {reason}", f"{fix.format(dir=directory)}, then try again."
        )
        self.path = path
        self.errno = cause.errno
        self.reason = reason


class KeyringRefused(AuthError):
    """The keyring cannot keep the encrypted store's key: none found, or one that is not an OS secret store.

    Attributes:
        detail: why, e.g. the backend class that would have been used.
    """

    code = "KEYRING_REFUSED"

    def __init__(self, detail: str) -> None:
        super().__init__(
            f"The keyring cannot keep the key of the encrypted credentials: {detail}",
            "Use a passphrase instead: set HYPERFRAMES_CREDENTIALS_PASSPHRASE, or run the command in a terminal "
            "to be asked for one (or unlock an OS keyring: Keychain, Credential Locker, Secret Service, KWallet).",
        )
        self.detail = detail


class InvalidPassphrase(AuthError):
    """A passphrase that cannot be used: not valid UTF-8 text, empty, or holding control characters."""

    code = "INVALID_PASSPHRASE"

    def __init__(self, detail: str) -> None:
        super().__init__(
            f"The passphrase cannot be used: {detail}",
            "Type it in a UTF-8 terminal, or set HYPERFRAMES_CREDENTIALS_PASSPHRASE in a UTF-8 locale, and try again.",
        )


class StoreChanged(AuthError):
    """The encrypted credentials file was replaced by another process while it was being re-keyed."""

    code = "STORE_CHANGED"

    def __init__(self) -> None:
        super().__init__(
            "The encrypted credentials file changed while its key was being replaced; nothing was changed",
            "Run the command again.",
        )


class EnvironmentMismatch(AuthError):
    """The stored credentials belong to another environment than the one this command targets; nothing was sent.

    Attributes:
        signed_in: the hosts (API or token endpoint) the stored credentials were obtained for.
        target: the host this command would have sent them to.
    """

    code = "ENVIRONMENT_MISMATCH"

    def __init__(self, signed_in: list[str], target: str, what: str = "this command targets") -> None:
        super().__init__(
            f"Signed in to {', '.join(signed_in)}; {what} {target}",
            "Run `hyperframes auth login` to sign in there (credentials never leave the place they came from).",
        )
        self.signed_in = signed_in
        self.target = target


class UnknownAccount(AuthError):
    """``--user`` names no account of this environment, or several accounts could be meant."""

    code = "UNKNOWN_ACCOUNT"

    def __init__(self, message: str, accounts: list[str]) -> None:
        names = ", ".join(accounts) if accounts else "none"
        super().__init__(message, f"Accounts signed in here: {names}. Pick one with --user.")
        self.accounts = accounts


def _transport(error: TransportError, host: str, *, sent: bool, message: str, hint: str) -> None:
    AuthError.__init__(error, message, hint)
    error.host = host
    error.sent = sent


class RequestTimedOut(TransportError):
    """The request's one deadline (connect, TLS, headers and body, redirects included) passed.

    Attributes:
        seconds: the deadline it had (``HttpRequest.timeout``).
    """

    code = "TIMEOUT"

    def __init__(self, host: str, seconds: float, sent: bool = True) -> None:
        _transport(
            self,
            host,
            sent=sent,
            message=f"{host} was too slow to answer (gave up after {seconds:g} s)",
            hint="Try again; if it keeps happening, check your network connection and proxy settings (HTTPS_PROXY, NO_PROXY).",
        )
        self.seconds = seconds


class ResponseTruncated(TransportError):
    """The connection closed before the whole body arrived (short of its Content-Length, or a chunk missing)."""

    code = "TRUNCATED_RESPONSE"

    def __init__(self, host: str) -> None:
        _transport(
            self,
            host,
            sent=True,
            message=f"The answer from {host} was cut short (the connection closed before the whole body arrived)",
            hint="Try again; if it keeps happening, a proxy or the network may be cutting connections.",
        )


class CertificateError(TransportError):
    """The server's TLS certificate could not be verified against the trusted roots (the system's store, plus
    ``SSL_CERT_FILE`` / ``SSL_CERT_DIR``), or those files could not be loaded. Nothing was sent."""

    code = "TLS_CERTIFICATE"

    def __init__(self, host: str, reason: str | None = None) -> None:
        _transport(
            self,
            host,
            sent=False,
            message=_with_detail(f"Could not verify the TLS certificate of {host}", reason),
            hint="If a proxy inspects TLS, set SSL_CERT_FILE to its CA bundle (a PEM file).",
        )


class ProxyError(TransportError):
    """The proxy named by ``HTTPS_PROXY`` / ``HTTP_PROXY`` / ``ALL_PROXY`` could not be used: unreachable, refused
    the tunnel, or not a proxy URL we support. Nothing reached the server.

    Attributes:
        host: the proxy's ``host:port`` (never its user or password).
        variable: the environment variable that named the proxy.
    """

    code = "PROXY_ERROR"

    def __init__(self, proxy: str, variable: str, detail: str) -> None:
        _transport(
            self,
            proxy,
            sent=False,
            message=f"The proxy {proxy} (from {variable}) {detail}" if proxy else f"The proxy in {variable} {detail}",
            hint=f"Check {variable} (its host, port, user and password) and NO_PROXY, or unset it to connect directly.",
        )
        self.variable = variable


class StoreIsMountPoint(StoreWriteFailed):
    """The credentials file is a mount point of its own (one file bind-mounted into a container, a Kubernetes
    ``subPath``): no rename can replace it (``EBUSY``), so no save there can be atomic. Raised when a save is
    prepared, before anything is spent; reading the file still works. Its ``code`` is ``STORE_WRITE_FAILED``.
    """

    def __init__(self, path: str) -> None:
        import errno as codes  # a builtin module: no import cost on the hot path

        cut = max(path.rfind("/"), path.rfind("\\"))
        directory = path[:cut] if cut > 0 else path
        reason = "it is a mount point of its own, which cannot be replaced atomically"
        AuthError.__init__(
            self,
            f"Could not save the credentials to {path}: {reason}",
            f"Mount its directory ({directory}) instead of the file, or set HEYGEN_CONFIG_DIR to a writable directory.",
        )
        self.path = path
        self.errno = codes.EBUSY
        self.reason = reason


class InvalidEnvironmentCredential(InvalidStore):
    """A credential variable (``HEYGEN_API_KEY``, ``HYPERFRAMES_API_KEY``, ``HEYGEN_ACCESS_TOKEN``) holds something
    that cannot be sent in a header. No file is involved: the message names the variable, the hint says to fix or
    unset it. Its ``code`` stays ``INVALID_STORE`` (what scripts already match on); ``variable`` names it."""

    def __init__(self, variable: str, problem: str) -> None:
        AuthError.__init__(self, f"{variable} is not a usable credential: it {problem}", f"Fix or unset {variable}.")
        self.detail = f"{variable} {problem}"
        self.path = None
        self.variable = variable
