"""``SystemBrowser``: the ``Browser`` port on Python's ``webbrowser`` (which honours ``BROWSER``).

* Only ``http(s)`` URLs without a leading ``-`` and without control or space characters are ever handed to a
  browser (CVE-2026-4519 class: a URL starting with ``-`` becomes an option of the browser command).
* ``BROWSER=none`` or ``HF_NO_BROWSER=1`` (or ``enabled=False``) opens nothing and returns ``False``; the
  caller prints the URL and keeps waiting.
* Our credential variables (``HEYGEN_API_KEY``, ``HYPERFRAMES_API_KEY``, ``HEYGEN_ACCESS_TOKEN``, the encrypted
  store's passphrase) are removed from the environment the browser process inherits (CVE-2024-53859 class).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from urllib.parse import urlsplit

SECRET_ENV = ("HEYGEN_API_KEY", "HYPERFRAMES_API_KEY", "HEYGEN_ACCESS_TOKEN", "HYPERFRAMES_CREDENTIALS_PASSPHRASE")
_ENV_LOCK = threading.Lock()


_NEVER_IN_A_URL = frozenset("\"'`<>\\{}|^")  # characters a properly encoded URL never holds (RFC 3986)


def is_safe_browser_url(url: str) -> bool:
    """True for an http(s) URL with a host, no leading dash, and no whitespace, control or quoting characters."""
    if not url or url.startswith("-"):
        return False
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F or ch in _NEVER_IN_A_URL for ch in url):
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


@contextmanager
def _without(env: MutableMapping[str, str], names: tuple[str, ...]) -> Iterator[None]:
    """Temporarily remove ``names`` from ``env`` (the browser child inherits ``os.environ``)."""
    with _ENV_LOCK:
        saved = {name: env.pop(name) for name in names if name in env}
        try:
            yield
        finally:
            env.update(saved)


class SystemBrowser:
    """Implements ``Browser``.

    Args:
        enabled: ``False`` never opens anything (``--no-browser``, remote terminals).
        env: the environment to read ``BROWSER`` / ``HF_NO_BROWSER`` from and to scrub (``os.environ``).
    """

    def __init__(self, enabled: bool = True, env: MutableMapping[str, str] | None = None) -> None:
        self._env = os.environ if env is None else env
        self._enabled = enabled and self._env.get("BROWSER") != "none" and self._env.get("HF_NO_BROWSER") != "1"

    def __call__(self, url: str) -> bool:
        if not self._enabled or not is_safe_browser_url(url):
            return False
        import webbrowser

        try:
            with _without(self._env, SECRET_ENV):
                return bool(webbrowser.open(url, new=2))
        except Exception:
            return False
