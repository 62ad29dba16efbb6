"""Rules both HTTP transports share: which URLs may be used, how redirects are followed, and the trace line.

* https is required except for loopback hosts (127.0.0.1, ::1, localhost).
* A request with ``follow_redirects=False`` (token, revocation and device endpoints) never follows one: a 307
  would replay the refresh token to the new location (RFC 9700 §4.12). The 3xx is returned as it is.
* Resource requests follow at most ``MAX_REDIRECTS`` hops; ``authorization`` and ``x-api-key`` survive only
  same-origin hops (whatwg/fetch#1544), and an https → http downgrade is refused.
* The ``--verbose`` trace shows method, URL without its query, status and time: never a header or a body.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from urllib.parse import urljoin, urlsplit

from ..domain.client import is_loopback_host
from ..domain.errors import TransportError
from ..domain.http import HttpRequest, HttpResponse

MAX_REDIRECTS = 5
REDIRECTS = frozenset({301, 302, 303, 307, 308})
CREDENTIAL_HEADERS = ("authorization", "x-api-key")

Trace = Callable[[str], None]


def stderr_trace(line: str) -> None:
    """A ``Trace`` that writes to standard error."""
    print(line, file=sys.stderr)


def host_of(url: str) -> str:
    try:
        return urlsplit(url).netloc or url
    except ValueError:
        return "the server"


def check_url(url: str) -> None:
    """Refuse anything but https, or plain http to a loopback host.

    Raises:
        TransportError: the URL is not acceptable.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        raise TransportError(host_of(url), "not a valid URL") from None
    if parts.scheme == "https" and host:
        return
    if parts.scheme == "http" and is_loopback_host(host):
        return
    raise TransportError(host_of(url), "refusing a non-https URL (http is allowed only for loopback hosts)")


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc.lower()


def next_hop(request: HttpRequest, response: HttpResponse, hops: int) -> HttpRequest | None:
    """The request to send after ``response``, or ``None`` to return ``response`` as it is.

    Raises:
        TransportError: too many redirects, or a redirect to an unacceptable URL.
    """
    location = response.headers.get("location")
    if not request.follow_redirects or response.status not in REDIRECTS or not location:
        return None
    if hops >= MAX_REDIRECTS:
        raise TransportError(host_of(request.url), f"more than {MAX_REDIRECTS} redirects")
    target = urljoin(request.url, location)
    check_url(target)
    headers = dict(request.headers)
    if _origin(target) != _origin(request.url):
        for name in CREDENTIAL_HEADERS:
            headers.pop(name, None)
    method, body = request.method, request.body
    if response.status == 303 or (response.status in (301, 302) and method == "POST"):
        method, body = "GET", None
        headers.pop("content-type", None)
    return HttpRequest(method, target, headers, body, request.timeout, True, request.max_bytes)


def send_following(
    send_once: Callable[[HttpRequest, float], HttpResponse], request: HttpRequest, deadline_factor: float
) -> HttpResponse:
    """Send ``request`` with ``send_once(request, deadline)``, following redirects as ``next_hop`` allows.

    The whole operation, redirects included, must finish within ``request.timeout * deadline_factor`` seconds.
    """
    deadline = time.monotonic() + request.timeout * deadline_factor
    hops = 0
    while True:
        response = send_once(request, deadline)
        following = next_hop(request, response, hops)
        if following is None:
            return response
        request, hops = following, hops + 1


def trace_line(request: HttpRequest, status: int | str, seconds: float) -> str:
    parts = urlsplit(request.url)
    return f"[http] {request.method} {parts.scheme}://{parts.netloc}{parts.path} -> {status} ({seconds * 1000:.0f} ms)"
