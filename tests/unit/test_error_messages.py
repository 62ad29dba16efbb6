"""Every error's code, exit code, message and hint, word for word: they are the product's interface.

Scripts branch on the codes (``NOT_CONFIGURED``... are the TypeScript CLI's too), people read the message and the
hint, and the CLI exits with the exit code. The errors are built inside the test (a factory per case) so that the
code under test runs while the test runs.
"""

from __future__ import annotations

import errno

import pytest

from hyperframes_auth.domain import errors as e

LOGIN_AGAIN = "Run `hyperframes auth login` to re-authenticate."
STORE = "/home/u/.heygen/credentials"
NETWORK_HINT = "Check your network connection and HEYGEN_API_URL / HYPERFRAMES_OAUTH_* settings."
TIMEOUT_HINT = (
    "Try again; if it keeps happening, check your network connection and proxy settings (HTTPS_PROXY, NO_PROXY)."
)

CASES = [
    (
        e.NotConfigured,
        "NOT_CONFIGURED",
        "No HeyGen credentials found",
        "Run `hyperframes auth login` to sign in.",
    ),
    (
        lambda: e.InvalidStore("bad json"),
        "INVALID_STORE",
        "Credential file is unreadable: bad json",
        "Run `hyperframes auth login` to sign in again (the unreadable file is moved aside).",
    ),
    (
        lambda: e.InvalidStore("bad json", path=STORE),
        "INVALID_STORE",
        "Credential file is unreadable: bad json",
        f"Run `hyperframes auth login`: it moves {STORE} aside and signs you in again.",
    ),
    (
        lambda: e.InvalidStore("bad json", "Fix it.", "/p"),
        "INVALID_STORE",
        "Credential file is unreadable: bad json",
        "Fix it.",
    ),
    (e.Unauthenticated, "UNAUTHENTICATED", "HeyGen rejected the credential", LOGIN_AGAIN),
    (lambda: e.Unauthenticated("nope"), "UNAUTHENTICATED", "HeyGen rejected the credential: nope", LOGIN_AGAIN),
    (lambda: e.ApiError(502, "bad gateway"), "API_ERROR", "HeyGen API error (502): bad gateway", None),
    (
        lambda: e.ApiError(403, "insufficient_scope", "Grant it."),
        "API_ERROR",
        "HeyGen API error (403): insufficient_scope",
        "Grant it.",
    ),
    (e.RefreshFailed, "REFRESH_FAILED", "Failed to refresh OAuth tokens", LOGIN_AGAIN),
    (
        lambda: e.RefreshFailed("invalid_grant: gone", "invalid_grant"),
        "REFRESH_FAILED",
        "Failed to refresh OAuth tokens: invalid_grant: gone",
        LOGIN_AGAIN,
    ),
    (
        e.NoRefreshToken,
        "REFRESH_FAILED",
        "No OAuth refresh token to use.",
        "Run `hyperframes auth login` first.",
    ),
    (
        e.CodeRejected,
        "CODE_REJECTED",
        "The authorization code was rejected (expired or already used)",
        "Run `hyperframes auth login` again.",
    ),
    (
        lambda: e.CodeRejected("invalid_grant", "invalid_grant"),
        "CODE_REJECTED",
        "The authorization code was rejected (expired or already used): invalid_grant",
        "Run `hyperframes auth login` again.",
    ),
    (
        lambda: e.LoginTimedOut(120.0),
        "LOGIN_TIMEOUT",
        "Timed out after 120 s waiting for the browser to finish signing in",
        "Run `hyperframes auth login` again, or `hyperframes auth login --device` on a remote machine.",
    ),
    (
        lambda: e.LoginTimedOut(0.5),
        "LOGIN_TIMEOUT",
        "Timed out after 0.5 s waiting for the browser to finish signing in",
        "Run `hyperframes auth login` again, or `hyperframes auth login --device` on a remote machine.",
    ),
    (
        lambda: e.AuthorizationDenied("access_denied"),
        "AUTHORIZATION_DENIED",
        "The authorization server returned access_denied",
        "Run `hyperframes auth login` to try again.",
    ),
    (
        lambda: e.AuthorizationDenied("access_denied", "the person said no"),
        "AUTHORIZATION_DENIED",
        "The authorization server returned access_denied: the person said no",
        "Run `hyperframes auth login` to try again.",
    ),
    (
        e.IssuerMismatch,
        "ISSUER_MISMATCH",
        "The sign-in response came from an unexpected authorization server; no token was requested",
        "Check HYPERFRAMES_OAUTH_* settings, then run `hyperframes auth login` again.",
    ),
    (
        lambda: e.DeviceAuthFailed("the request was denied", "access_denied"),
        "DEVICE_AUTH_FAILED",
        "Device authorization failed: the request was denied",
        "Run `hyperframes auth login --device` to start a new code.",
    ),
    (
        lambda: e.TransportError("api.test:8443", "connection refused", sent=False),
        "NETWORK_ERROR",
        "Could not reach api.test:8443: connection refused",
        NETWORK_HINT,
    ),
    (
        lambda: e.ConfigError("HEYGEN_API_URL must use https"),
        "CONFIG_ERROR",
        "HEYGEN_API_URL must use https",
        "Fix the setting named above and try again.",
    ),
    (lambda: e.ConfigError("x", "Set it."), "CONFIG_ERROR", "x", "Set it."),
    (
        lambda: e.InvalidApiKey("No API key provided.", "Pipe it."),
        "INVALID_API_KEY",
        "No API key provided.",
        "Pipe it.",
    ),
    (lambda: e.UsageError("bad flag"), "USAGE", "bad flag", None),
    (
        lambda: e.StoreLocked(STORE, 10.0),
        "STORE_LOCKED",
        f"Another hyperframes process kept {STORE} locked for more than 10 s",
        "Wait for it to finish and try again; if none is running, try again (the lock frees itself).",
    ),
    (
        lambda: e.CorruptStore("truncated"),
        "CORRUPT_STORE",
        "The encrypted credentials file cannot be used: truncated",
        "Run `hyperframes auth logout --yes` to remove it, then `hyperframes auth login`.",
    ),
    (
        lambda: e.CorruptStore("truncated", "Restore it."),
        "CORRUPT_STORE",
        "The encrypted credentials file cannot be used: truncated",
        "Restore it.",
    ),
    (
        e.WrongPassphrase,
        "WRONG_PASSPHRASE",
        "The passphrase does not open the encrypted credentials file",
        "Check HYPERFRAMES_CREDENTIALS_PASSPHRASE (or the passphrase you typed) and try again.",
    ),
    (
        lambda: e.KeyUnavailable("locked"),
        "KEY_UNAVAILABLE",
        "The key of the encrypted credentials is not available from the OS keyring: locked",
        (
            "Unlock the OS keyring (or sign in to the desktop session) and try again; if the file was moved to a "
            "passphrase, set HYPERFRAMES_CREDENTIALS_PASSPHRASE. Only if the key is lost, remove the file and sign in."
        ),
    ),
    (
        e.InteractionRequired,
        "INTERACTION_REQUIRED",
        "No usable HeyGen credential, and this caller may not start an interactive sign-in",
        "Run `hyperframes auth login` in a terminal, or set HEYGEN_API_KEY (or HEYGEN_ACCESS_TOKEN).",
    ),
    (
        lambda: e.InteractionRequired("No stored credential"),
        "INTERACTION_REQUIRED",
        "No stored credential, and this caller may not start an interactive sign-in",
        "Run `hyperframes auth login` in a terminal, or set HEYGEN_API_KEY (or HEYGEN_ACCESS_TOKEN).",
    ),
    (
        lambda: e.InteractionRequired(message="Sign-in needed"),
        "INTERACTION_REQUIRED",
        "Sign-in needed",
        "Run `hyperframes auth login` in a terminal, or set HEYGEN_API_KEY (or HEYGEN_ACCESS_TOKEN).",
    ),
    (
        lambda: e.InvalidTransition("Idle", "Waited"),
        "INVALID_TRANSITION",
        "Internal error: no transition from Idle on Waited",
        None,
    ),
    (
        lambda: e.InvalidTransition("Idle", "StartRefresh", "Revoked"),
        "INVALID_TRANSITION",
        "Internal error: no transition from Idle on StartRefresh to Revoked",
        None,
    ),
    (
        e.LoginExpired,
        "LOGIN_EXPIRED",
        "Your HeyGen login expired",
        "Run `hyperframes auth login` to sign in again.",
    ),
    (
        lambda: e.InvalidTokenResponse("no access_token"),
        "INVALID_TOKEN_RESPONSE",
        "The authorization server's token response cannot be used: no access_token",
        "Try again; if it keeps happening, the server or a proxy in between is misbehaving.",
    ),
    (
        lambda: e.ServerUnavailable(503, "maintenance"),
        "SERVER_UNAVAILABLE",
        "HeyGen API error (503): maintenance",
        "This is on the server's side and your sign-in is unaffected: try again in a few minutes.",
    ),
    (e.Aborted, "ABORTED", "Aborted.", None),
    (lambda: e.Aborted("interrupted by SIGTERM"), "ABORTED", "Aborted.", "interrupted by SIGTERM"),
    (
        lambda: e.UnsafeStore("/home/u/.heygen", "it is a symlink", "Remove the link."),
        "UNSAFE_STORE",
        "Refusing to use /home/u/.heygen: it is a symlink",
        "Remove the link.",
    ),
    (
        lambda: e.KeyringRefused("PlaintextKeyring"),
        "KEYRING_REFUSED",
        "The keyring cannot keep the key of the encrypted credentials: PlaintextKeyring",
        (
            "Use a passphrase instead: set HYPERFRAMES_CREDENTIALS_PASSPHRASE, or run the command in a terminal "
            "to be asked for one (or unlock an OS keyring: Keychain, Credential Locker, Secret Service, KWallet)."
        ),
    ),
    (
        lambda: e.InvalidPassphrase("it is empty"),
        "INVALID_PASSPHRASE",
        "The passphrase cannot be used: it is empty",
        "Type it in a UTF-8 terminal, or set HYPERFRAMES_CREDENTIALS_PASSPHRASE in a UTF-8 locale, and try again.",
    ),
    (
        e.StoreChanged,
        "STORE_CHANGED",
        "The encrypted credentials file changed while its key was being replaced; nothing was changed",
        "Run the command again.",
    ),
    (
        lambda: e.EnvironmentMismatch(["api.heygen.com", "api.dev.test"], "api.test"),
        "ENVIRONMENT_MISMATCH",
        "Signed in to api.heygen.com, api.dev.test; this command targets api.test",
        "Run `hyperframes auth login` to sign in there (credentials never leave the place they came from).",
    ),
    (
        lambda: e.EnvironmentMismatch(["auth.one"], "auth.two", "a refresh would go to"),
        "ENVIRONMENT_MISMATCH",
        "Signed in to auth.one; a refresh would go to auth.two",
        "Run `hyperframes auth login` to sign in there (credentials never leave the place they came from).",
    ),
    (
        lambda: e.UnknownAccount("No account 'x' is signed in to api.test", ["a@b.c", "(unknown user)"]),
        "UNKNOWN_ACCOUNT",
        "No account 'x' is signed in to api.test",
        "Accounts signed in here: a@b.c, (unknown user). Pick one with --user.",
    ),
    (
        lambda: e.UnknownAccount("No account 'x' is signed in to api.test", []),
        "UNKNOWN_ACCOUNT",
        "No account 'x' is signed in to api.test",
        "Accounts signed in here: none. Pick one with --user.",
    ),
    (
        lambda: e.RequestTimedOut("api.test", 15.0),
        "TIMEOUT",
        "api.test was too slow to answer (gave up after 15 s)",
        TIMEOUT_HINT,
    ),
    (
        lambda: e.ResponseTruncated("api.test"),
        "TRUNCATED_RESPONSE",
        "The answer from api.test was cut short (the connection closed before the whole body arrived)",
        "Try again; if it keeps happening, a proxy or the network may be cutting connections.",
    ),
    (
        lambda: e.CertificateError("api.test"),
        "TLS_CERTIFICATE",
        "Could not verify the TLS certificate of api.test",
        "If a proxy inspects TLS, set SSL_CERT_FILE to its CA bundle (a PEM file).",
    ),
    (
        lambda: e.CertificateError("api.test", "self-signed certificate"),
        "TLS_CERTIFICATE",
        "Could not verify the TLS certificate of api.test: self-signed certificate",
        "If a proxy inspects TLS, set SSL_CERT_FILE to its CA bundle (a PEM file).",
    ),
    (
        lambda: e.ProxyError("proxy.test:3128", "HTTPS_PROXY", "refused the tunnel"),
        "PROXY_ERROR",
        "The proxy proxy.test:3128 (from HTTPS_PROXY) refused the tunnel",
        "Check HTTPS_PROXY (its host, port, user and password) and NO_PROXY, or unset it to connect directly.",
    ),
    (
        lambda: e.ProxyError("", "ALL_PROXY", "is not a URL we support"),
        "PROXY_ERROR",
        "The proxy in ALL_PROXY is not a URL we support",
        "Check ALL_PROXY (its host, port, user and password) and NO_PROXY, or unset it to connect directly.",
    ),
]

USAGE_ERRORS = {"CONFIG_ERROR", "USAGE"}


@pytest.mark.parametrize(("make", "code", "message", "hint"), CASES, ids=[case[1] for case in CASES])
def test_each_error_says_exactly_this(make, code, message, hint):
    error = make()
    assert (error.code, error.message, error.hint) == (code, message, hint)
    assert str(error) == message
    expected_exit = 2 if code in USAGE_ERRORS else 130 if code == "ABORTED" else 1
    assert error.exit_code == expected_exit
    assert repr(error) == f"{type(error).__name__}(code={code!r}, message={message!r})"


def test_the_errors_keep_what_callers_read_from_them():
    assert e.Unauthenticated().rollback is None
    assert e.ApiError(418, "teapot").status == 418
    assert e.ServerUnavailable(503, "down").status == 503
    assert e.RefreshFailed("x", "invalid_grant").oauth_error == "invalid_grant"
    assert e.RefreshFailed().oauth_error is None
    assert e.NoRefreshToken().oauth_error is None
    assert isinstance(e.NoRefreshToken(), e.RefreshFailed)
    assert e.CodeRejected("x", "invalid_grant").oauth_error == "invalid_grant"
    denied = e.AuthorizationDenied("access_denied", "no")
    assert (denied.oauth_error, denied.description) == ("access_denied", "no")
    assert e.DeviceAuthFailed("x", "expired_token").oauth_error == "expired_token"
    assert e.DeviceAuthFailed("x").oauth_error is None
    invalid = e.InvalidStore("bad", path=STORE)
    assert (invalid.detail, invalid.path) == ("bad", STORE)
    assert e.InvalidStore("bad").path is None
    assert e.KeyUnavailable("locked").detail == "locked"
    assert e.KeyringRefused("plain").detail == "plain"
    assert e.InvalidTokenResponse("shape").detail == "shape"
    transition = e.InvalidTransition("Idle", "Waited", "Failed")
    assert (transition.state, transition.event, transition.target) == ("Idle", "Waited", "Failed")
    assert e.InvalidTransition("Idle", "Waited").target is None
    assert e.UnsafeStore("/d", "p", "f").path == "/d"
    mismatch = e.EnvironmentMismatch(["a", "b"], "c")
    assert (mismatch.signed_in, mismatch.target) == (["a", "b"], "c")
    assert e.UnknownAccount("m", ["a"]).accounts == ["a"]
    assert e.ProxyError("p:1", "HTTPS_PROXY", "d").variable == "HTTPS_PROXY"


@pytest.mark.parametrize(
    ("make", "host", "sent"),
    [
        (lambda: e.TransportError("h:1", "refused"), "h:1", True),
        (lambda: e.TransportError("h:1", "refused", sent=False), "h:1", False),
        (lambda: e.RequestTimedOut("h:2", 1.0), "h:2", True),
        (lambda: e.RequestTimedOut("h:2", 1.0, sent=False), "h:2", False),
        (lambda: e.ResponseTruncated("h:3"), "h:3", True),
        (lambda: e.CertificateError("h:4"), "h:4", False),
        (lambda: e.ProxyError("p:5", "HTTPS_PROXY", "refused"), "p:5", False),
    ],
)
def test_network_errors_say_where_and_whether_the_request_may_have_been_sent(make, host, sent):
    # `sent` decides whether a refresh may be retried (retry.py): True unless the request surely never left.
    error = make()
    assert isinstance(error, e.TransportError)
    assert (error.code != "", error.host, error.sent) == (True, host, sent)


def test_a_timeout_keeps_its_seconds():
    assert e.RequestTimedOut("h", 2.5).seconds == 2.5
    assert e.RequestTimedOut("h", 2.5).message == "h was too slow to answer (gave up after 2.5 s)"


@pytest.mark.parametrize(
    ("number", "reason", "fix"),
    [
        (errno.ENOSPC, "the disk is full", "Free some space on the disk that holds /home/u/.heygen"),
        (errno.EDQUOT, "the disk quota is exceeded", "Free some space within your disk quota for /home/u/.heygen"),
        (errno.EACCES, "permission denied", "Make /home/u/.heygen writable by you (`chmod 700 /home/u/.heygen`)"),
        (errno.EPERM, "permission denied", "Make /home/u/.heygen writable by you (`chmod 700 /home/u/.heygen`)"),
        (
            errno.EROFS,
            "the file system is read-only",
            (
                "Remount the file system that holds /home/u/.heygen read-write, or set HEYGEN_CONFIG_DIR to a writable "
                "directory"
            ),
        ),
        (errno.EIO, "Input/output error", "Check the disk and the permissions of /home/u/.heygen"),
    ],
)
def test_a_failed_write_names_the_cause_and_the_fix(number, reason, fix):
    error = e.StoreWriteFailed(STORE, OSError(number, "Input/output error"))
    assert error.code == "STORE_WRITE_FAILED"
    assert error.message == f"Could not save the credentials to {STORE}: {reason}"
    assert error.hint == f"{fix}, then try again."
    assert (error.path, error.errno, error.reason) == (STORE, number, reason)


def test_a_failed_write_without_an_errno_or_on_windows_still_names_the_directory():
    bare = e.StoreWriteFailed("credentials", OSError("weird"))
    assert bare.message == "Could not save the credentials to credentials: OSError"
    assert bare.hint == "Check the disk and the permissions of credentials, then try again."
    assert bare.errno is None
    windows = e.StoreWriteFailed(r"C:\Users\u\.heygen\credentials", OSError(errno.ENOSPC, "full"))
    assert windows.hint == r"Free some space on the disk that holds C:\Users\u\.heygen, then try again."


def test_a_failed_write_to_a_relative_path_names_its_directory():
    error = e.StoreWriteFailed("h/credentials", OSError(errno.ENOSPC, "full"))
    assert error.hint == "Free some space on the disk that holds h, then try again."


@pytest.mark.parametrize(
    ("path", "directory"),
    [
        (STORE, "/home/u/.heygen"),
        (r"C:\Users\u\.heygen\credentials", r"C:\Users\u\.heygen"),
        ("h/credentials", "h"),
        ("credentials", "credentials"),
        ("/credentials", "/credentials"),
    ],
)
def test_a_file_mounted_on_its_own_says_to_mount_its_directory(path, directory):
    error = e.StoreIsMountPoint(path)
    assert isinstance(error, e.StoreWriteFailed)
    assert error.code == "STORE_WRITE_FAILED"
    reason = "it is a mount point of its own, which cannot be replaced atomically"
    assert error.message == f"Could not save the credentials to {path}: {reason}"
    assert error.hint == (
        f"Mount its directory ({directory}) instead of the file, or set HEYGEN_CONFIG_DIR to a writable directory."
    )
    assert (error.path, error.errno, error.reason) == (path, errno.EBUSY, reason)


def test_a_bad_credential_variable_is_named_as_a_variable():
    error = e.InvalidEnvironmentCredential("HEYGEN_API_KEY", "contains control characters")
    assert isinstance(error, e.InvalidStore)
    assert error.code == "INVALID_STORE"
    assert error.message == "HEYGEN_API_KEY is not a usable credential: it contains control characters"
    assert error.hint == "Fix or unset HEYGEN_API_KEY."
    assert (error.detail, error.path, error.variable) == (
        "HEYGEN_API_KEY contains control characters",
        None,
        "HEYGEN_API_KEY",
    )
