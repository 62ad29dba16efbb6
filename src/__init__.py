"""hyperframes-auth: sign in to HeyGen's API from a terminal or from Python.

The public API is re-exported here lazily, so that importing the package (which the ``hyperframes`` command
does first) costs nothing until a name is used::

    from hyperframes_auth import HeyGenAuth, HeyGenHttpxAuth

See the README for the CLI, the facade and the ``httpx`` integration.
"""

from __future__ import annotations

TYPE_CHECKING = False  # keep `typing` out of the CLI's cold start; type checkers know this name
if TYPE_CHECKING:
    from .domain.errors import (
        AuthError,
        InteractionRequired,
        NotConfigured,
        RefreshFailed,
        Unauthenticated,
    )
    from .entrypoints.facade import HeyGenAuth, Status
    from .entrypoints.httpx_auth import HeyGenHttpxAuth

__all__ = [
    "AuthError",
    "HeyGenAuth",
    "HeyGenHttpxAuth",
    "InteractionRequired",
    "NotConfigured",
    "RefreshFailed",
    "Status",
    "Unauthenticated",
]

_WHERE = {
    "AuthError": "domain.errors",
    "InteractionRequired": "domain.errors",
    "NotConfigured": "domain.errors",
    "RefreshFailed": "domain.errors",
    "Unauthenticated": "domain.errors",
    "HeyGenAuth": "entrypoints.facade",
    "Status": "entrypoints.facade",
    "HeyGenHttpxAuth": "entrypoints.httpx_auth",
}


def __getattr__(name: str) -> object:
    if name not in _WHERE:
        raise AttributeError(f"module 'hyperframes_auth' has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f".{_WHERE[name]}", __name__), name)
