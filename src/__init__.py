"""hyperframes-auth: sign in to HeyGen's API from a terminal or from Python.

The public API is re-exported here lazily, so that importing the package (which the ``hyperframes`` command
does first) costs nothing until a name is used::

    from hyperframes_auth import HeyGenAuth, HeyGenHttpxAuth, Settings

See the README for the CLI, the facade and the ``httpx`` integration.
"""

from __future__ import annotations

__version__ = "0.2.0"

TYPE_CHECKING = False  # keep `typing` out of the CLI's cold start; type checkers know this name
if TYPE_CHECKING:
    from .domain.api import UserInfo
    from .domain.errors import (
        Aborted,
        ApiError,
        AuthError,
        AuthorizationDenied,
        CertificateError,
        CodeRejected,
        ConfigError,
        CorruptStore,
        DeviceAuthFailed,
        EnvironmentMismatch,
        InteractionRequired,
        InvalidApiKey,
        InvalidEnvironmentCredential,
        InvalidPassphrase,
        InvalidStore,
        InvalidTokenResponse,
        IssuerMismatch,
        KeyringRefused,
        KeyUnavailable,
        LoginExpired,
        LoginTimedOut,
        NoRefreshToken,
        NotConfigured,
        ProxyError,
        RefreshFailed,
        RequestTimedOut,
        ResponseTruncated,
        ServerUnavailable,
        StoreChanged,
        StoreIsMountPoint,
        StoreLocked,
        StoreWriteFailed,
        TransportError,
        Unauthenticated,
        UnknownAccount,
        UnsafeStore,
        UsageError,
        WrongPassphrase,
    )
    from .domain.service import LoginResult, LogoutResult
    from .entrypoints.bootstrap import Adapters
    from .entrypoints.facade import HeyGenAuth, Status
    from .entrypoints.httpx_auth import HeyGenHttpxAuth
    from .entrypoints.settings import Settings

_ERRORS = (
    "Aborted",
    "ApiError",
    "AuthError",
    "AuthorizationDenied",
    "CertificateError",
    "CodeRejected",
    "ConfigError",
    "CorruptStore",
    "DeviceAuthFailed",
    "EnvironmentMismatch",
    "InteractionRequired",
    "InvalidApiKey",
    "InvalidEnvironmentCredential",
    "InvalidPassphrase",
    "InvalidStore",
    "InvalidTokenResponse",
    "IssuerMismatch",
    "KeyUnavailable",
    "KeyringRefused",
    "LoginExpired",
    "LoginTimedOut",
    "NoRefreshToken",
    "NotConfigured",
    "ProxyError",
    "RefreshFailed",
    "RequestTimedOut",
    "ResponseTruncated",
    "ServerUnavailable",
    "StoreChanged",
    "StoreIsMountPoint",
    "StoreLocked",
    "StoreWriteFailed",
    "TransportError",
    "Unauthenticated",
    "UnknownAccount",
    "UnsafeStore",
    "UsageError",
    "WrongPassphrase",
)
_WHERE = {
    **dict.fromkeys(_ERRORS, "domain.errors"),
    "UserInfo": "domain.api",
    "LoginResult": "domain.service",
    "LogoutResult": "domain.service",
    "Adapters": "entrypoints.bootstrap",
    "HeyGenAuth": "entrypoints.facade",
    "Status": "entrypoints.facade",
    "HeyGenHttpxAuth": "entrypoints.httpx_auth",
    "Settings": "entrypoints.settings",
}
__all__ = [
    "Aborted",
    "Adapters",
    "ApiError",
    "AuthError",
    "AuthorizationDenied",
    "CertificateError",
    "CodeRejected",
    "ConfigError",
    "CorruptStore",
    "DeviceAuthFailed",
    "EnvironmentMismatch",
    "HeyGenAuth",
    "HeyGenHttpxAuth",
    "InteractionRequired",
    "InvalidApiKey",
    "InvalidEnvironmentCredential",
    "InvalidPassphrase",
    "InvalidStore",
    "InvalidTokenResponse",
    "IssuerMismatch",
    "KeyUnavailable",
    "KeyringRefused",
    "LoginExpired",
    "LoginResult",
    "LoginTimedOut",
    "LogoutResult",
    "NoRefreshToken",
    "NotConfigured",
    "ProxyError",
    "RefreshFailed",
    "RequestTimedOut",
    "ResponseTruncated",
    "ServerUnavailable",
    "Settings",
    "Status",
    "StoreChanged",
    "StoreIsMountPoint",
    "StoreLocked",
    "StoreWriteFailed",
    "TransportError",
    "Unauthenticated",
    "UnknownAccount",
    "UnsafeStore",
    "UsageError",
    "UserInfo",
    "WrongPassphrase",
    "__version__",
]


if not TYPE_CHECKING:  # hidden from type checkers, so that a misspelt name is an error there too

    def __getattr__(name: str) -> object:
        if name not in _WHERE:
            raise AttributeError(f"module 'hyperframes_auth' has no attribute {name!r}")
        from importlib import import_module

        return getattr(import_module(f".{_WHERE[name]}", __name__), name)
