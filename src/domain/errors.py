"""The one error hierarchy of hyperframes-auth.

Every error has a stable ``code`` (what scripts branch on), a ``message`` and a ``hint`` (what a person reads),
and an ``exit_code`` for the CLI. No error ever carries a secret: upstream text reaches a message only through
:func:`hyperframes_auth.domain.redact.scrub_body`, and our own messages never interpolate tokens, codes,
verifiers or keys.

The codes and wording of the first six follow the TypeScript CLI (reference §6) so both tools read alike.

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
    """The credentials file (or an env key) cannot be used as it is."""

    code = "INVALID_STORE"

    def __init__(self, detail: str, hint: str | None = None) -> None:
        super().__init__(
            f"Credential file is unreadable: {detail}",
            hint or "Delete ~/.heygen/credentials and run `hyperframes auth login` to re-create it.",
        )


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


class OAuthNotConfigured(AuthError):
    """The OAuth client id resolved to nothing."""

    code = "OAUTH_NOT_CONFIGURED"

    def __init__(self) -> None:
        super().__init__(
            "OAuth client is not configured",
            "Set HYPERFRAMES_OAUTH_CLIENT_ID, or run `hyperframes auth login --api-key`.",
        )


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
    """The authorization server sent the user back with an error (RFC 6749 §4.1.2.1).

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


class OAuthError(AuthError):
    """An RFC 6749 §5.2 error response that no more specific error covers (unknown codes included).

    Attributes:
        oauth_error, description, uri: the response's ``error``, ``error_description`` and ``error_uri``
            (scrubbed; never opened, never trusted as markup).
        status: the HTTP status it came with.
    """

    code = "OAUTH_ERROR"

    def __init__(self, status: int, oauth_error: str, description: str | None, uri: str | None) -> None:
        super().__init__(
            _with_detail(f"The authorization server answered {oauth_error} ({status})", description),
            "Run `hyperframes auth login` again; if it persists, the server may be misconfigured.",
        )
        self.status = status
        self.oauth_error = oauth_error
        self.description = description
        self.uri = uri


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
    """The encrypted store's key lives in the OS keyring, and the keyring did not give it."""

    code = "KEY_UNAVAILABLE"

    def __init__(self, detail: str) -> None:
        super().__init__(
            f"The key of the encrypted credentials is not available from the OS keyring: {detail}",
            "Unlock the keyring (or sign in to the desktop session) and try again, "
            "or run `hyperframes auth logout --yes` and sign in again.",
        )


class InteractionRequired(AuthError):
    """A sign-in is needed, but the caller did not allow opening a browser or prompting."""

    code = "INTERACTION_REQUIRED"

    def __init__(self, detail: str = "No usable HeyGen credential") -> None:
        super().__init__(
            f"{detail}, and this caller may not start an interactive sign-in",
            "Run `hyperframes auth login` in a terminal (or set HEYGEN_API_KEY), then try again.",
        )


class InvalidTransition(AuthError):
    """The sign-in state machine was given an event its current state has no transition for.

    This is a programming error on our side (or a misbehaving adapter); the state is left unchanged.
    """

    code = "INVALID_TRANSITION"

    def __init__(self, state: str, event: str) -> None:
        super().__init__(f"Internal error: no transition from {state} on {event}", None)
        self.state = state
        self.event = event


def _transport(error: TransportError, host: str, sent: bool, message: str, hint: str) -> None:
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
            sent,
            f"{host} was too slow to answer (gave up after {seconds:g} s)",
            "Try again; if it keeps happening, check your network connection and proxy settings (HTTPS_PROXY, NO_PROXY).",
        )
        self.seconds = seconds


class ResponseTruncated(TransportError):
    """The connection closed before the whole body arrived (short of its Content-Length, or a chunk missing)."""

    code = "TRUNCATED_RESPONSE"

    def __init__(self, host: str) -> None:
        _transport(
            self,
            host,
            True,
            f"The answer from {host} was cut short (the connection closed before the whole body arrived)",
            "Try again; if it keeps happening, a proxy or the network may be cutting connections.",
        )


class CertificateError(TransportError):
    """The server's TLS certificate could not be verified against the trusted roots (the system's store, plus
    ``SSL_CERT_FILE`` / ``SSL_CERT_DIR``), or those files could not be loaded. Nothing was sent."""

    code = "TLS_CERTIFICATE"

    def __init__(self, host: str, reason: str | None = None) -> None:
        _transport(
            self,
            host,
            False,
            _with_detail(f"Could not verify the TLS certificate of {host}", reason),
            "If a proxy inspects TLS, set SSL_CERT_FILE to its CA bundle (a PEM file).",
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
            False,
            f"The proxy {proxy} (from {variable}) {detail}" if proxy else f"The proxy in {variable} {detail}",
            f"Check {variable} (its host, port, user and password) and NO_PROXY, or unset it to connect directly.",
        )
        self.variable = variable
