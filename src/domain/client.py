"""The OAuth client as the core sees it: who we are, where the endpoints are, how long things may take.

The rules every endpoint must follow are in ``primitives.py`` (``check_endpoint``). Where the values come from
(environment variables, arguments) is the entry points' business (``entrypoints/settings.py``).
"""

from __future__ import annotations

import attrs

from .value import Value

LOGIN_TIMEOUT = 120.0  # how long a browser sign-in waits for the person
REQUEST_TIMEOUT = 15.0  # one request, connect to last byte
REVOKE_TIMEOUT = 5.0  # revocation is best effort and must not hold up a sign-out
NETWORK_DEADLINE = 30.0  # everything one command (or library call) sends, retries included
DEVICE_MIN_INTERVAL = 5.0  # RFC 8628 §3.2's default polling interval
MAX_ATTEMPTS = 3  # tries of one request when the server invites a retry


@attrs.frozen(kw_only=True, repr=False, eq=False)
class ClientConfig(Value):
    """The OAuth client: its id, its endpoints, what it asks for, and its time limits."""

    client_id: str
    authorize_url: str
    token_url: str
    revoke_url: str
    device_url: str
    scope: str
    issuer: str | None = None
    login_timeout: float = LOGIN_TIMEOUT
    request_timeout: float = REQUEST_TIMEOUT
    revoke_timeout: float = REVOKE_TIMEOUT
    deadline: float = NETWORK_DEADLINE
    device_min_interval: float = DEVICE_MIN_INTERVAL  # lower only for a test server that expects faster polling
    max_attempts: int = MAX_ATTEMPTS
