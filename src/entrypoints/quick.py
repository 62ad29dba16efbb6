"""The quick composition of ``auth token``: the plain credentials file, read through its safe adapter, judged by
``domain/quick.py``; nothing else is imported.

A second, minimal composition root (``bootstrap.py`` is the full one): it reads the same variables (through
``environment.py``), refuses the same settings, opens the file with the same trust checks (``adapters/files.py``),
and when anything is not plainly in order it answers ``None`` and the full path takes over with its messages.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from ..adapters.files import SecureFile
from ..domain.errors import AuthError
from ..domain.primitives import check_endpoint, origin_of
from ..domain.quick import quick_credential
from ..domain.redact import has_control_chars
from .environment import DEFAULT_API_URL, ENDPOINT_VARIABLES, config_dir, remembered_store

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

CREDENTIAL_VARIABLES = ("HEYGEN_API_KEY", "HYPERFRAMES_API_KEY", "HEYGEN_ACCESS_TOKEN")
TEXT_VARIABLES = ("HYPERFRAMES_OAUTH_CLIENT_ID", "HYPERFRAMES_OAUTH_SCOPE", "HYPERFRAMES_OAUTH_ISSUER")


def _configured_api_origin(env: Mapping[str, str]) -> str | None:
    """The API origin, when every setting the full path checks is in order (else the full path explains)."""
    try:
        for name in ENDPOINT_VARIABLES:
            if env.get(name):
                check_endpoint(name, env[name])
    except AuthError:
        return None
    if any(has_control_chars(env.get(name, "")) for name in TEXT_VARIABLES):
        return None
    return origin_of(env.get("HEYGEN_API_URL") or DEFAULT_API_URL)


def quick_token(env: Mapping[str, str]) -> tuple[str, str, str | None] | None:
    """``(secret, kind, expires_at)`` for ``auth token`` from the plain file, or ``None`` to take the full path."""
    if any(env.get(name) for name in CREDENTIAL_VARIABLES):
        return None
    api_origin = _configured_api_origin(env)
    if api_origin is None:
        return None
    try:
        directory = config_dir(env)
    except AuthError:
        return None
    if (env.get("HYPERFRAMES_CREDENTIALS_STORE") or remembered_store(directory)).lower() != "file":
        return None
    try:
        data = SecureFile(f"{directory}/credentials").read_bytes()
        root = json.loads(data.decode("utf-8"), parse_constant=_no_constants) if data else None
    except (AuthError, ValueError, RecursionError):
        return None
    return quick_credential(root, api_origin, datetime.now(UTC))


def _no_constants(name: str) -> object:
    raise ValueError(name)
