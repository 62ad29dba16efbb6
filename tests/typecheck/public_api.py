"""What a type checker must accept and refuse in the public API; ``scripts/test`` runs mypy --strict on this file.

Each line that must be refused carries ``# type: ignore[<code>]``: ``--strict`` includes ``warn_unused_ignores``, so
a line that stops being an error (a signature gone loose, a name the package root no longer types) fails the check.
Nothing here runs.
"""

import hyperframes_auth
from hyperframes_auth import (
    AuthError,
    EnvironmentMismatch,
    HeyGenAuth,
    ProxyError,
    Settings,
    StoreIsMountPoint,
    StoreWriteFailed,
    UnknownAccount,
)

_ = hyperframes_auth.NoSuchName  # type: ignore[attr-defined]
Settings(api_url=1)  # type: ignore[arg-type]
Settings(token_url=None)  # type: ignore[arg-type]
Settings(api_urll="https://api.heygen.com")  # type: ignore[call-arg]
HeyGenAuth.from_env(interactiv=True)  # type: ignore[call-arg]
HeyGenAuth(Settings(), interactive="yes")  # type: ignore[arg-type]


def accepted() -> list[type[AuthError]]:
    """Every error the package raises can be caught by its name from the package root."""
    HeyGenAuth(Settings(api_url="https://api.heygen.com"), interactive=False)
    HeyGenAuth.from_env(interactive=False)
    return [EnvironmentMismatch, UnknownAccount, StoreWriteFailed, StoreIsMountPoint, ProxyError]
