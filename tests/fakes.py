"""One fake per port, shared by the unit tests and the port contract tests, plus an in-memory authorization server.

The fakes record state (what was sent, what was stored) so tests assert on outcomes, never on call order; the
contract suites in tests/contract/test_port_*.py run the same checks on these fakes and on the real adapters, so
the fakes are proven to behave like the real thing.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import attrs

from hyperframes_auth.adapters.codec import read_user_info
from hyperframes_auth.domain.callback import Verdict
from hyperframes_auth.domain.client import ClientConfig
from hyperframes_auth.domain.credentials import CredentialsDocument
from hyperframes_auth.domain.errors import InvalidStore, StoreLocked, TransportError
from hyperframes_auth.domain.http import HttpRequest, HttpResponse
from hyperframes_auth.domain.ports import Ports
from hyperframes_auth.domain.service import AuthService
from hyperframes_auth.entrypoints.bootstrap import Adapters
from hyperframes_auth.entrypoints.settings import Settings

TYPE_CHECKING = False
if TYPE_CHECKING:
    from hyperframes_auth.domain.ports import CallbackJudge

AUTH = "https://auth.test"
API = "https://api.test"
ISSUER = AUTH
CLIENT_ID = "test-client"
T0 = datetime(2026, 5, 28, 6, 0, 0, tzinfo=UTC)

ENV = {
    "HEYGEN_API_URL": API,
    "HYPERFRAMES_OAUTH_AUTHORIZE_URL": f"{AUTH}/oauth/authorize",
    "HYPERFRAMES_OAUTH_TOKEN_URL": f"{AUTH}/v1/oauth/token",
    "HYPERFRAMES_OAUTH_REVOKE_URL": f"{AUTH}/v1/oauth/revoke",
    "HYPERFRAMES_OAUTH_DEVICE_URL": f"{AUTH}/v1/oauth/device_authorization",
    "HYPERFRAMES_OAUTH_CLIENT_ID": CLIENT_ID,
    "HYPERFRAMES_OAUTH_ISSUER": ISSUER,
    "HEYGEN_CONFIG_DIR": "/nonexistent/fake-store",
}
SETTINGS = Settings.from_env(ENV, "/home/test")
CONFIG: ClientConfig = SETTINGS.client()


# ---------------------------------------------------------------------------------------------- clock


class FakeClock:
    """A clock that only moves when told to (or when someone sleeps on it)."""

    def __init__(self, now: datetime = T0) -> None:
        self._now = now
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self._now += timedelta(seconds=seconds)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += timedelta(seconds=seconds)


def counter_entropy() -> object:
    """Deterministic 'random' bytes: each call returns a different, predictable block."""
    counter = itertools.count()

    def entropy(n: int) -> bytes:
        seed = next(counter).to_bytes(8, "big")
        out = b""
        while len(out) < n:
            out += hashlib.sha256(seed + len(out).to_bytes(4, "big")).digest()
        return out[:n]

    return entropy


# ---------------------------------------------------------------------------------------------- store


class FakeStore:
    """An in-memory ``CredentialStore``: one document, a real lock, and a record of what happened."""

    backend = "memory"
    location = "memory://credentials"

    def __init__(self, doc: CredentialsDocument | None = None, *, broken: str | None = None) -> None:
        self.doc = doc or CredentialsDocument()
        self.broken = broken  # when set, read() raises InvalidStore(broken) until the store is rewritten
        self.writes = 0
        self.quarantined: list[str] = []
        self.deleted = 0
        self.commits = 0
        self.full: Exception | None = None  # when set, reserve() raises it (a full disk, a read-only directory)
        self._lock = threading.Lock()
        self.lock_timeout = 5.0

    def read(self) -> CredentialsDocument:
        if self.broken:
            raise InvalidStore(self.broken)
        return self.doc

    def write(self, doc: CredentialsDocument) -> None:
        self.broken = None
        self.doc = attrs.evolve(doc, source="file_json")
        self.writes += 1

    @contextmanager
    def reserve(self) -> Iterator[FakeStore]:
        """Room for one write is always there in memory; ``commit`` is ``write``."""
        if self.full:
            raise self.full
        yield self

    def commit(self, doc: CredentialsDocument) -> None:
        self.commits += 1
        self.write(doc)

    def delete(self) -> None:
        self.broken = None
        self.doc = CredentialsDocument()
        self.deleted += 1

    def quarantine(self) -> str | None:
        if not self.broken:
            return None
        self.quarantined.append(self.broken)
        self.broken = None
        self.doc = CredentialsDocument()
        return "memory://credentials.corrupt"

    @contextmanager
    def lock(self) -> Iterator[None]:
        if not self._lock.acquire(timeout=self.lock_timeout):
            raise StoreLocked(self.location, self.lock_timeout)
        try:
            yield
        finally:
            self._lock.release()


# ---------------------------------------------------------------------------------------------- listener & browser


class FakeListener:
    """A ``CallbackListener`` that delivers queued callback queries to the judge, in order."""

    def __init__(self, redirect_uri: str = "http://127.0.0.1:4567/oauth/callback") -> None:
        self._redirect_uri = redirect_uri
        self.queue: list[Mapping[str, list[str]]] = []
        self.verdicts: list[Verdict] = []
        self.closed = False
        self.waits = 0
        self.outcome: tuple[bool, str | None] | None = None

    @property
    def redirect_uri(self) -> str:
        return self._redirect_uri

    def deliver(self, query: Mapping[str, str | list[str]]) -> None:
        self.queue.append({k: v if isinstance(v, list) else [v] for k, v in query.items()})

    def wait(self, judge: CallbackJudge, timeout: float) -> Verdict:
        self.waits += 1
        while self.queue:
            verdict = judge(self.queue.pop(0))
            self.verdicts.append(verdict)
            if verdict.ends_flow:
                return verdict
        return Verdict(kind="timeout")

    def submit(self, query: dict[str, list[str]]) -> Verdict:
        self.deliver(query)
        return Verdict(kind="ignored", reason="queued")

    def finish(self, ok: bool, message: str | None = None) -> None:
        self.outcome = (ok, message)

    def close(self) -> None:
        self.closed = True


class FakeBrowser:
    """A ``Browser`` that records URLs; with ``user`` set, it plays the person (``user(url)``)."""

    def __init__(self, opens: bool = True, user: object = None) -> None:
        self.opens = opens
        self.urls: list[str] = []
        self.user = user

    def __call__(self, url: str) -> bool:
        self.urls.append(url)
        if self.opens and self.user is not None:
            self.user(url)  # type: ignore[operator]
        return self.opens


# ---------------------------------------------------------------------------------------------- authorization server


class FakeAuthServer:
    """An in-memory OAuth 2.0 authorization server and HeyGen ``/v3/users/me``, behind the ``HttpTransport`` port.

    It issues codes (PKCE S256 checked), access and refresh tokens, rotates refresh tokens (and, like
    oidc-provider, revokes the whole grant when a rotated-out refresh token is presented), revokes tokens
    (RFC 7009), runs a device flow, and answers any scripted response for the next token request.
    """

    def __init__(self, clock: FakeClock, *, rotate: bool = True, access_ttl: int = 3600) -> None:
        self.clock = clock
        self.rotate = rotate
        self.access_ttl = access_ttl
        self.requests: list[HttpRequest] = []
        self.answers: list[tuple[HttpRequest, HttpResponse]] = []
        self.codes: dict[str, dict[str, object]] = {}
        self.access: dict[str, dict[str, object]] = {}
        self.refresh: dict[str, str] = {}  # live refresh token -> grant id
        self.spent_refresh: dict[str, str] = {}  # rotated-out refresh token -> its grant
        self.revoked_grants: set[str] = set()
        self.devices: dict[str, dict[str, object]] = {}
        self.scripted: list[HttpResponse] = []
        self.api_keys = {"hg_valid_key_1234"}
        self.fail_with: TransportError | None = None
        self.replays = 0  # rotated-out refresh tokens presented again
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    # -------------------------------------------------------------------------------- the person's side

    def approve(self, authorize_url: str, user: str = "alice") -> dict[str, str]:
        """What the browser is redirected back with after the person approves."""
        query = {k: v[0] for k, v in parse_qs(urlsplit(authorize_url).query).items()}
        code = f"code-{next(self._ids)}"
        self.codes[code] = {
            "challenge": query["code_challenge"],
            "redirect_uri": query["redirect_uri"],
            "user": user,
            "expires": self.clock.now() + timedelta(seconds=60),
        }
        return {"code": code, "state": query["state"], "iss": ISSUER}

    def deny(self, authorize_url: str) -> dict[str, str]:
        state = parse_qs(urlsplit(authorize_url).query)["state"][0]
        return {"error": "access_denied", "error_description": "End-User aborted interaction", "state": state}

    def approve_device(self, user_code: str, approved: bool = True) -> None:
        for device in self.devices.values():
            if device["user_code"] == user_code:
                device["approved"] = approved

    # -------------------------------------------------------------------------------- HTTP

    @property
    def token_requests(self) -> list[dict[str, str]]:
        return [r.form() for r in self.requests if r.url.endswith("/v1/oauth/token")]

    @property
    def spending_token_requests(self) -> list[dict[str, str]]:
        """Token requests the server may have acted on (not those it answered "try again": 429, 503,
        ``temporarily_unavailable``), i.e. the ones that spent a code or a refresh token."""
        from hyperframes_auth.domain.messages import classify
        from hyperframes_auth.domain.retry import server_did_not_act

        spent = []
        for request, response in self.answers:
            if request.url.endswith("/v1/oauth/token"):
                reply = classify(response)
                if not server_did_not_act(response.status, reply.oauth_error):
                    spent.append(request.form())
        return spent

    def send(self, request: HttpRequest) -> HttpResponse:
        response = self._answer(request)
        self.answers.append((request, response))
        return response

    def _answer(self, request: HttpRequest) -> HttpResponse:
        with self._lock:
            self.requests.append(request)
            if self.fail_with is not None:
                raise self.fail_with
            path = urlsplit(request.url).path
            if path == "/v1/oauth/token" and self.scripted:
                return self.scripted.pop(0)
            handler = {
                "/v1/oauth/token": self._token,
                "/v1/oauth/revoke": self._revoke,
                "/v1/oauth/device_authorization": self._device_authorization,
                "/v3/users/me": self._userinfo,
            }.get(path)
            if handler is None:
                return _json(404, {"error": "not_found"})
            return handler(request)

    def _issue(self, grant: str, user: str, refresh: bool = True) -> HttpResponse:
        access = f"at-{next(self._ids)}"
        self.access[access] = {
            "grant": grant,
            "user": user,
            "expires": self.clock.now() + timedelta(seconds=self.access_ttl),
        }
        body: dict[str, object] = {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": self.access_ttl,
            "scope": "openid profile email",
        }
        if refresh:
            rt = f"rt-{next(self._ids)}"
            self.refresh[rt] = grant
            body["refresh_token"] = rt
        return _json(200, body)

    def _token(self, request: HttpRequest) -> HttpResponse:
        form = request.form()
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            return self._code_grant(form)
        if grant_type == "refresh_token":
            return self._refresh_grant(form)
        if grant_type == "urn:ietf:params:oauth:grant-type:device_code":
            return self._device_grant(form)
        return _json(400, {"error": "unsupported_grant_type"})

    def _code_grant(self, form: dict[str, str]) -> HttpResponse:
        code = self.codes.pop(form.get("code", ""), None)
        if code is None or code["expires"] <= self.clock.now():  # type: ignore[operator]
            return _json(400, {"error": "invalid_grant", "error_description": "grant request is invalid"})
        challenge = base64.urlsafe_b64encode(hashlib.sha256(form.get("code_verifier", "").encode()).digest()).rstrip(
            b"="
        )
        if challenge.decode() != code["challenge"] or form.get("redirect_uri") != code["redirect_uri"]:
            return _json(400, {"error": "invalid_grant", "error_description": "grant request is invalid"})
        return self._issue(f"grant-{next(self._ids)}", str(code["user"]))

    def _refresh_grant(self, form: dict[str, str]) -> HttpResponse:
        rt = form.get("refresh_token", "")
        if rt in self.spent_refresh:
            self.replays += 1
            self._revoke_grant(self.spent_refresh[rt])  # replay of a rotated-out token kills the grant
            return _json(400, {"error": "invalid_grant", "error_description": "grant request is invalid"})
        grant = self.refresh.get(rt)
        if grant is None or grant in self.revoked_grants:
            return _json(400, {"error": "invalid_grant", "error_description": "grant request is invalid"})
        if not self.rotate:
            return self._issue(grant, "alice", refresh=False)
        del self.refresh[rt]
        self.spent_refresh[rt] = grant
        return self._issue(grant, "alice")

    def _revoke_grant(self, grant: str) -> None:
        self.revoked_grants.add(grant)
        for token in [t for t, g in self.refresh.items() if g == grant]:
            del self.refresh[token]

    def _device_authorization(self, request: HttpRequest) -> HttpResponse:
        device_code = f"dc-{next(self._ids)}"
        user_code = f"WXYZ-{next(self._ids):04d}"
        self.devices[device_code] = {
            "user_code": user_code,
            "approved": None,
            "expires": self.clock.now() + timedelta(seconds=600),
        }
        return _json(
            200,
            {
                "device_code": device_code,
                "user_code": user_code,
                "verification_uri": f"{AUTH}/device",
                "verification_uri_complete": f"{AUTH}/device?user_code={user_code}",
                "expires_in": 600,
                "interval": 5,
            },
        )

    def _device_grant(self, form: dict[str, str]) -> HttpResponse:
        device = self.devices.get(form.get("device_code", ""))
        if device is None:
            return _json(400, {"error": "invalid_grant"})
        if device["expires"] <= self.clock.now():  # type: ignore[operator]
            return _json(400, {"error": "expired_token"})
        if device["approved"] is None:
            return _json(400, {"error": "authorization_pending"})
        if device["approved"] is False:
            return _json(400, {"error": "access_denied"})
        del self.devices[form["device_code"]]
        return self._issue(f"grant-{next(self._ids)}", "alice")

    def _revoke(self, request: HttpRequest) -> HttpResponse:
        token = request.form().get("token", "")
        if token in self.refresh:
            self._revoke_grant(self.refresh[token])
        self.access.pop(token, None)
        return HttpResponse(200)

    def _userinfo(self, request: HttpRequest) -> HttpResponse:
        key = request.headers.get("x-api-key")
        if key is not None:
            if key in self.api_keys:
                return _json(200, {"code": 100, "data": {"username": "keyholder", "email": "keys@example.test"}})
            return _json(401, {"message": "invalid api key"})
        auth = request.headers.get("authorization", "")
        token = auth.removeprefix("Bearer ")
        info = self.access.get(token)
        if info is None or info["grant"] in self.revoked_grants or info["expires"] <= self.clock.now():  # type: ignore[operator]
            return HttpResponse(401, {"www-authenticate": 'Bearer error="invalid_token"'}, b'{"error":"invalid_token"}')
        return _json(200, {"code": 100, "data": {"email": f"{info['user']}@example.test", "username": info["user"]}})

    def access_token_valid(self, token: str) -> bool:
        info = self.access.get(token)
        return info is not None and info["grant"] not in self.revoked_grants and info["expires"] > self.clock.now()  # type: ignore[operator]


def _json(status: int, body: object) -> HttpResponse:
    return HttpResponse(status, {"content-type": "application/json"}, json.dumps(body).encode())


def json_response(status: int, body: object, headers: dict[str, str] | None = None) -> HttpResponse:
    response = _json(status, body)
    return HttpResponse(status, {**response.headers, **(headers or {})}, response.body)


# ---------------------------------------------------------------------------------------------- wiring


class World:
    """A whole fake world: clock, server, store, listener, browser (whose user approves), and the service."""

    def __init__(
        self,
        doc: CredentialsDocument | None = None,
        *,
        env: Mapping[str, str] | None = None,
        rotate: bool = True,
        user_approves: bool = True,
        config: ClientConfig = CONFIG,
    ) -> None:
        self.clock = FakeClock()
        self.server = FakeAuthServer(self.clock, rotate=rotate)
        self.store = FakeStore(doc)
        self.listener = FakeListener()
        self.notices: list[object] = []

        def person(url: str) -> None:
            self.listener.deliver(self.server.approve(url) if user_approves else self.server.deny(url))

        self.browser = FakeBrowser(user=person)
        self.ports = Ports(
            clock=self.clock,
            http=self.server,
            browser=self.browser,
            listen=lambda: self.listener,
            store=self.store,
            entropy=counter_entropy(),  # type: ignore[arg-type]
            read_user=read_user_info,
            notify=self.notices.append,
        )
        self.service = AuthService(config, self.ports, env or {}, API)

    def ports_with(self, http: object) -> Ports:
        """The same ports with another HTTP transport."""
        return Ports(
            clock=self.clock,
            http=http,  # type: ignore[arg-type]
            browser=self.browser,
            listen=lambda: self.listener,
            store=self.store,
            entropy=counter_entropy(),  # type: ignore[arg-type]
            read_user=read_user_info,
            notify=self.notices.append,
        )

    def adapters(self, **overrides: object) -> Adapters:
        """The world's fakes as the facade's and the CLI's ``Adapters``."""
        given: dict[str, object] = {
            "clock": self.clock,
            "http": self.server,
            "browser": self.browser,
            "listen": lambda: self.listener,
            "store": self.store,
            "entropy": counter_entropy(),
        }
        given.update(overrides)
        return Adapters(**given)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------- the facade, for tests

_SETTING_NAMES = {
    "leeway": "leeway",
    "timeout": "request_timeout",
    "login_timeout": "login_timeout",
    "device_min_interval": "device_min_interval",
    "transport": "transport",
}


def facade(settings: Settings, *, env: Mapping[str, str] | None = None, interactive: bool = False, **options: object):
    """A ``HeyGenAuth`` with some settings changed and some adapters replaced, named as keywords."""
    from hyperframes_auth import HeyGenAuth

    changes = {_SETTING_NAMES[k]: v for k, v in options.items() if k in _SETTING_NAMES and v is not None}
    ports = {k: v for k, v in options.items() if k not in _SETTING_NAMES}
    return HeyGenAuth(
        attrs.evolve(settings, **changes),
        env=env,
        interactive=interactive,
        adapters=Adapters(**ports),  # type: ignore[arg-type]
    )
