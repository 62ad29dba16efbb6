"""When a failed request may be sent again, and after how long. Pure: the driver sleeps, with jitter.

* A request is retried only when the server cannot have acted on it: the connection failed before the request was
  sent, or the server said so (429 Too Many Requests, 503 Service Unavailable, the OAuth error
  ``temporarily_unavailable``, RFC 6749 §5.2). Requests that are safe to repeat (``/v3/users/me``, revocation,
  device authorization) are also retried on 502 and 504, which a proxy sends when it does not know what the server
  did. A refresh or a code exchange that may have reached the server is never repeated: with refresh-token rotation
  a second spend of the same token makes the server revoke the whole grant (RFC 9700 §4.14.2).
* Delays grow exponentially (``BASE`` doubled per attempt, at most ``CAP``), shortened at random by the driver
  (jitter) so that many clients do not retry in step; a server's ``Retry-After`` is honoured instead, and a retry
  that could not finish before the command's deadline is not attempted.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .http import HttpResponse

BASE = 0.5
CAP = 8.0
DID_NOT_ACT = frozenset({429, 503})
GATEWAY = frozenset({502, 504})
MAX_RETRY_AFTER = 3600.0


def parse_retry_after(response: HttpResponse) -> float | None:
    """``Retry-After`` in delta-seconds (ASCII digits only), capped at an hour; an HTTP-date is not used."""
    value = response.headers.get("retry-after", "").strip()
    if not value or not value.isascii() or not value.isdigit():
        return None
    return min(float(value[:8]), MAX_RETRY_AFTER)


def server_did_not_act(status: int, oauth_error: str | None = None) -> bool:
    """The answer says the request was not acted on (so sending it again spends nothing)."""
    return status in DID_NOT_ACT or oauth_error == "temporarily_unavailable"


def may_retry(*, status: int | None, oauth_error: str | None, sent: bool, idempotent: bool) -> bool:
    """Whether this outcome of a request allows sending it again.

    Args:
        status: the HTTP status, or ``None`` when no answer came.
        oauth_error: the RFC 6749 §5.2 ``error`` of the answer, if any.
        sent: whether the request may have reached the server (only meaningful without an answer).
        idempotent: whether sending the request twice has the same effect as once.
    """
    if status is None:
        return not sent
    return server_did_not_act(status, oauth_error) or (idempotent and status in GATEWAY)


def delay(attempt: int, retry_after: float | None) -> float:
    """Seconds to wait before attempt ``attempt + 1``; the server's ``Retry-After`` wins when it gave one."""
    if retry_after is not None:
        return retry_after
    return min(CAP, BASE * 2.0 ** (attempt - 1))


def jitter(seconds: float, random_bytes: bytes) -> float:
    """ "Equal jitter": between half and all of ``seconds``, chosen by ``random_bytes`` (so retries spread out)."""
    fraction = int.from_bytes(random_bytes, "big") / float(256 ** len(random_bytes))
    return seconds * (0.5 + fraction / 2)
