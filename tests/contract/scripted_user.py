"""A scripted person at a browser: logs in and consents through oidc-provider's own pages.

It is an httpx client with a cookie jar that follows the server's redirects by hand and posts whatever form
each page holds (``devInteractions`` accepts any login name), until the server redirects to our loopback
callback. It can then deliver that redirect to the listener, or hand the URL back (for the pasted-URL path).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Self
from urllib.parse import urljoin, urlsplit

import httpx

MAX_STEPS = 20


class _Forms(HTMLParser):
    """Collects forms (action, method, inputs) and links from a page."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, object]] = []
        self.links: list[str] = []
        self._current: dict[str, object] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._current = {
                "action": a.get("action", ""),
                "method": a.get("method", "get").lower(),
                "id": a.get("id", ""),
                "inputs": {},
            }
            self.forms.append(self._current)
        elif tag == "input" and self._current is not None and a.get("name"):
            self._current["inputs"][a["name"]] = a.get("value", "")  # type: ignore[index]
        elif tag == "a" and a.get("href"):
            self.links.append(a["href"])

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._current = None


def _parse(html: str) -> _Forms:
    parser = _Forms()
    parser.feed(html)
    return parser


class ScriptedUser:
    """Plays the person. ``login`` names the account (the email becomes ``<login>@example.test``)."""

    def __init__(self, login: str = "alice") -> None:
        self.login = login
        self.client = httpx.Client(follow_redirects=False, timeout=10.0, trust_env=False)
        self.pages: list[str] = []

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _submit(self, base: str, form: dict[str, object], extra: dict[str, str] | None = None) -> httpx.Response:
        fields = dict(form["inputs"])  # type: ignore[arg-type]
        if "login" in fields:
            fields["login"] = self.login
        if "password" in fields:
            fields["password"] = "any-password"
        fields.update(extra or {})
        return self.client.post(urljoin(base, str(form["action"])), data=fields)

    def authorize(self, url: str, deny: bool = False) -> str:
        """Walk from the authorization URL to the redirect back to the client; return that redirect URL."""
        response = self.client.get(url)
        for _ in range(MAX_STEPS):
            if response.is_redirect:
                location = urljoin(str(response.url), response.headers["location"])
                if urlsplit(location).path == "/oauth/callback":
                    return location
                response = self.client.get(location)
                continue
            page = _parse(response.text)
            self.pages.append(response.text)
            if deny:
                abort = next((link for link in page.links if link.endswith("/abort")), None)
                if abort is not None:
                    response = self.client.get(urljoin(str(response.url), abort))
                    continue
            if not page.forms:
                raise AssertionError(f"stuck on a page without a form: {response.status_code} {response.text[:300]}")
            response = self._submit(str(response.url), page.forms[0])
        raise AssertionError("too many steps without reaching the callback")

    def deliver(self, callback_url: str) -> httpx.Response:
        """Follow the redirect to our listener like a browser would (and the 303 to the done page)."""
        response = self.client.get(callback_url)
        if response.is_redirect:
            return self.client.get(urljoin(callback_url, response.headers["location"]))
        return response

    def approve_device(self, verification_uri_complete: str, deny: bool = False) -> str:
        """Confirm a device code, log in and consent; return the last page's text."""
        response = self.client.get(verification_uri_complete)
        for _ in range(MAX_STEPS):
            if response.is_redirect:
                response = self.client.get(urljoin(str(response.url), response.headers["location"]))
                continue
            page = _parse(response.text)
            if not page.forms:
                return response.text
            form = next((f for f in page.forms if f["id"] == "op.deviceConfirmForm"), page.forms[0])
            if deny and form["id"] == "op.deviceConfirmForm":
                return self._submit(str(response.url), form, {"abort": "yes"}).text
            response = self._submit(str(response.url), form)
        raise AssertionError("too many steps approving the device code")


def callback_for(url: str, login: str = "alice") -> str:
    """Sign in as ``login`` at an authorization URL; the address the browser is then sent to (not followed: the
    person copies it from the address bar)."""
    with ScriptedUser(login) as user:
        return user.authorize(url)


def sign_in_at(url: str, login: str = "alice") -> None:
    """Sign in as ``login`` at an authorization URL and follow the redirect to the client's listener, as a browser."""
    with ScriptedUser(login) as user:
        user.deliver(user.authorize(url))


def code_of(callback_url: str) -> str:
    match = re.search(r"[?&]code=([^&]+)", callback_url)
    assert match, callback_url
    return match.group(1)
