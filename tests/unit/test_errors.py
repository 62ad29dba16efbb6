"""The error hierarchy: stable codes, messages, hints, exit codes, no secrets."""

from __future__ import annotations

import traceback

import pytest

from hyperframes_auth.domain import errors as e

SECRET = "rt_SECRET_value_123"


def test_the_reference_codes_and_wording():
    assert (e.NotConfigured().code, e.NotConfigured().message) == ("NOT_CONFIGURED", "No HeyGen credentials found")
    assert "hyperframes auth login" in (e.NotConfigured().hint or "")
    assert e.InvalidStore("bad").message == "Credential file is unreadable: bad"
    assert e.Unauthenticated("nope").message == "HeyGen rejected the credential: nope"
    assert e.Unauthenticated().message == "HeyGen rejected the credential"
    assert e.ApiError(503, "down").message == "HeyGen API error (503): down"
    assert e.ApiError(503, "down").hint is None
    assert (e.LoginExpired().code, e.LoginExpired().message) == ("LOGIN_EXPIRED", "Your HeyGen login expired")
    assert e.RefreshFailed("x").message == "Failed to refresh OAuth tokens: x"
    assert e.RefreshFailed().message == "Failed to refresh OAuth tokens"
    assert e.DeviceAuthFailed("denied").hint == "Run `hyperframes auth login --device` to start a new code."


@pytest.mark.parametrize(
    "error",
    [
        e.NotConfigured(),
        e.InvalidStore("d"),
        e.Unauthenticated("d"),
        e.ApiError(500, "d"),
        e.LoginExpired(),
        e.InvalidTokenResponse("d"),
        e.ServerUnavailable(503, "d"),
        e.Aborted(),
        e.RefreshFailed("d", "invalid_grant"),
        e.NoRefreshToken(),
        e.CodeRejected("d", "invalid_grant"),
        e.LoginTimedOut(120),
        e.AuthorizationDenied("access_denied", "d"),
        e.IssuerMismatch(),
        e.DeviceAuthFailed("d"),
        e.TransportError("host", "d"),
        e.ConfigError("d"),
        e.StoreLocked("/p", 1),
        e.CorruptStore("d"),
        e.WrongPassphrase(),
        e.InteractionRequired(),
        e.InvalidApiKey("d", "h"),
    ],
)
def test_every_error_has_a_stable_code_a_message_and_a_hint(error):
    assert isinstance(error, e.AuthError)
    assert error.code.isupper()
    assert error.message
    assert error.exit_code in (1, 2, 130)
    assert error.code in repr(error)


def test_login_errors_say_what_to_run():
    assert e.CodeRejected().hint == "Run `hyperframes auth login` again."
    assert "--device" in (e.LoginTimedOut(120).hint or "")
    assert e.ConfigError("x").exit_code == 2
    assert e.UsageError("x").exit_code == 2


def test_no_error_carries_a_secret_it_was_not_given():
    try:
        raise e.RefreshFailed("invalid_grant")
    except e.AuthError:
        text = traceback.format_exc()
    assert SECRET not in text
