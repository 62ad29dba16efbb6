"""Hostile answers never crash and never corrupt the store: Hypothesis properties over the public facade.

The store is the real plain-file store (``CredentialsFile``: the codec, its decoding and encoding) with its bytes
kept in memory; the server is the in-memory authorization server answering whatever Hypothesis draws: any
token-endpoint body (numbers huge, negative, NaN, infinite or in non-ASCII digits; tokens of any code point), any
``/v3/users/me`` body, any ``Retry-After``; and any stored file (timestamps at the calendar's edges, offsets that
overflow, fields of every type). Every public call (``credential``, ``token``, ``whoami``, ``status``,
``refresh``, ``logout``; the sign-ins where an answer feeds them) either succeeds or raises an ``AuthError``:
never ``OverflowError``, ``ValueError``, ``UnicodeError``, ``KeyError`` or ``TypeError``. Afterwards the store
reads back (or still holds exactly what it held, or was moved aside), and every byte string ever written parses.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from hyperframes_auth.adapters.codec import read_document
from hyperframes_auth.adapters.credentials_file import CredentialsFile
from hyperframes_auth.domain.credentials import CredentialsDocument, OAuthTokens
from hyperframes_auth.domain.errors import AuthError
from hyperframes_auth.domain.http import HttpRequest, HttpResponse, visible_url
from hyperframes_auth.domain.primitives import format_instant
from tests.fakes import SETTINGS, T0, FakeAuthServer, FakeBrowser, FakeClock, FakeListener, facade

# ---------------------------------------------------------------------------------------------- an in-memory file


class MemoryFile(CredentialsFile):
    """``CredentialsFile`` (its real decoding, encoding and error messages) over bytes held in memory."""

    def __init__(self, data: bytes | None) -> None:
        super().__init__("/nonexistent/hostile/credentials")
        self.original = self.data = data
        self.written: list[bytes] = []
        self.moved_aside: list[bytes] = []
        self._mutex = threading.Lock()

    def read_bytes(self) -> bytes | None:
        return self.data

    def write_bytes(self, data: bytes) -> None:
        self.data = data
        self.written.append(data)

    @contextlib.contextmanager
    def reserve(self) -> Iterator[MemoryFile]:
        yield self

    def commit(self, doc: CredentialsDocument) -> None:
        self.write_bytes(self.encode(doc))

    def delete(self) -> None:
        self.data = None

    def quarantine(self) -> str | None:
        if self.data is None:
            return None
        self.moved_aside.append(self.data)
        self.data = None
        return "memory://credentials.corrupt"

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        with self._mutex:
            yield

    def check(self) -> None:
        """Never half-written: what we wrote parses, and what we hold is readable unless it is the original."""
        for data in self.written:
            read_document(data.decode("utf-8"))
        if self.data is not None and self.data != self.original:
            self.read()
        for data in self.moved_aside:
            assert data == self.original


# ---------------------------------------------------------------------------------------------- a hostile server


class Hostile(FakeAuthServer):
    """The in-memory server, except that the paths in ``answers`` always give the drawn answer."""

    def __init__(self, clock: FakeClock, answers: dict[str, HttpResponse]) -> None:
        super().__init__(clock)
        self.answers_for = answers

    def _answer(self, request: HttpRequest) -> HttpResponse:
        from urllib.parse import urlsplit

        answer = self.answers_for.get(urlsplit(request.url).path)
        if answer is None:
            return super()._answer(request)
        self.requests.append(request)
        return answer


# ---------------------------------------------------------------------------------------------- strategies

NASTY = '\x00\x1b\x7f\x9b\u202e\u2028\ufeff\ue000\U0010ffff\ud800\udc9b\udfff"\\é١9 '
ANY_TEXT = st.text(  # any code point, lone surrogates included, with the nastiest ones drawn often
    alphabet=st.one_of(st.sampled_from(NASTY), st.characters(exclude_categories=())), max_size=40
)
VISIBLE = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=40)
NUMBERS = st.one_of(
    st.integers(min_value=-(10**40), max_value=10**40),
    st.sampled_from([10**4000, -(10**4000), 2**63, -1, 0, 29, 31]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["3600", "١٢٣", "٣٦٠٠", "1e309", "-1e309", "NaN", "Infinity", " 60", "0x10", "60s", "", "１２"]),
    ANY_TEXT,
)
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, ANY_TEXT)
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(ANY_TEXT, inner, max_size=3))
TOKENS = st.one_of(VISIBLE, ANY_TEXT, SCALARS, st.lists(SCALARS, max_size=2))
INSTANTS = st.one_of(
    st.sampled_from(
        [
            "0001-01-01T00:00:00Z",
            "0001-01-01T00:00:00+23:59",
            "0001-01-01T00:00:00.000-23:59",
            "9999-12-31T23:59:59.999Z",
            "9999-12-31T23:59:59-23:59",
            "9999-12-31T23:59:59+23:59",
            "+275760-09-13T00:00:00.000Z",
            "1969-12-31T23:59:59Z",
            "2026-05-28T06:00:30.000Z",
            "2026-05-28T06:00:30",
            "2026-13-45T25:61:61Z",
            "2026-05-28T06:00:30+99:99",
            "",
        ]
    ),
    ANY_TEXT,
    SCALARS,
)


def dumps(value: object) -> bytes:
    """JSON as a server may send it (non-finite numbers as JS literals); unencodable text is escaped."""
    return json.dumps(value, allow_nan=True).encode()


TOKEN_BODIES = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "access_token": TOKENS,
            "refresh_token": TOKENS,
            "expires_in": NUMBERS,
            "token_type": st.one_of(st.sampled_from(["Bearer", "bEARER", "mac", "", "DPoP"]), SCALARS),
            "scope": SCALARS,
            "error": SCALARS,
            "error_description": SCALARS,
            "error_uri": SCALARS,
            "interval": NUMBERS,
        },
    ).map(dumps),
    JSON.map(dumps),
    st.binary(max_size=60),
    st.sampled_from([b"1" * 5000, b"[" * 5000, b'{"access_token": "a", "expires_in": ' + b"9" * 5000 + b"}"]),
)
PROFILE_FIELDS = ("email", "username", "first_name", "last_name", "billing_type", "wallet", "subscription")
PROFILE = st.fixed_dictionaries(dict.fromkeys(PROFILE_FIELDS, st.one_of(ANY_TEXT, JSON)))
IDENTITY_BODIES = st.one_of(
    st.fixed_dictionaries({"data": PROFILE}).map(dumps),  # HeyGen's shape, with any value in any field
    PROFILE.map(dumps),  # the profile at the top level
    st.fixed_dictionaries({}, optional={"data": JSON, "code": JSON, "email": JSON}).map(dumps),
    JSON.map(dumps),
    st.binary(max_size=60),
)
STATUSES = st.one_of(st.just(200), st.sampled_from([201, 204, 302, 400, 401, 403, 429, 500, 502, 503, 504]))
RETRY_AFTER = st.one_of(
    st.none(),
    ANY_TEXT,
    st.sampled_from(["1", "99999999999999999999", "-1", "1.5", "٣", "Wed, 21 Oct 2015 07:28:00 GMT", "0"]),
)


def response(status: int, body: bytes, retry_after: str | None) -> HttpResponse:
    headers = {"content-type": "application/json"}
    if retry_after is not None:
        headers["retry-after"] = retry_after
    return HttpResponse(status, headers, body)


STORED_TEXTS = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "api_key": TOKENS,
            "oauth": st.one_of(
                st.fixed_dictionaries(
                    {"access_token": st.one_of(VISIBLE, TOKENS)},
                    optional={
                        "refresh_token": TOKENS,
                        "expires_at": INSTANTS,
                        "obtained_at": INSTANTS,
                        "scope": SCALARS,
                        "token_type": SCALARS,
                    },
                ),
                JSON,
            ),
            "user": JSON,
            "future": JSON,
        },
    ).map(dumps),
    JSON.map(dumps),
    ANY_TEXT.map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.binary(max_size=80),
)

# ---------------------------------------------------------------------------------------------- the calls

CALLS: dict[str, Callable[[object], object]] = {
    "credential": lambda auth: auth.credential(),  # type: ignore[attr-defined]
    "token": lambda auth: auth.token(),  # type: ignore[attr-defined]
    "whoami": lambda auth: auth.whoami(),  # type: ignore[attr-defined]
    "status": lambda auth: auth.status(),  # type: ignore[attr-defined]
    "refresh": lambda auth: auth.refresh(),  # type: ignore[attr-defined]
    "logout": lambda auth: auth.logout(),  # type: ignore[attr-defined]
}


def every_call(store: MemoryFile, server: Hostile, clock: FakeClock, env: dict[str, str] | None = None) -> None:
    """Each public call succeeds or raises an AuthError, and leaves the store sound."""
    for name, call in CALLS.items():
        auth = facade(SETTINGS, env=env or {}, http=server, store=store, clock=clock)
        try:
            call(auth)
        except AuthError:
            pass
        except Exception as exc:  # the property: nothing else may escape
            raise AssertionError(f"{name} raised {type(exc).__name__}: {exc!r}") from exc
        store.check()


def signed_in_stale() -> bytes:
    tokens = OAuthTokens("at-live", "rt-live", format_instant(T0 + timedelta(seconds=10)))
    return CredentialsFile("/nonexistent/x").encode(CredentialsDocument(api_key="hg_kept_key_1", oauth=tokens))


PROPERTY = settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large], deadline=None)


@PROPERTY
@given(status=STATUSES, body=TOKEN_BODIES, retry_after=RETRY_AFTER)
@example(status=200, body=b'{"access_token": "a", "expires_in": 1e999, "refresh_token": "\\ud800"}', retry_after=None)
@example(
    status=200, body=b'{"access_token": "a", "expires_in": "\\u0661\\u0662", "token_type": "bEaReR"}', retry_after="1"
)
@example(status=200, body=b'{"access_token": "a", "expires_in": -1e308}', retry_after=None)
@example(status=200, body=b'{"access_token": "a", "expires_in": ' + b"9" * 400 + b"}", retry_after=None)
@example(status=200, body=b'{"access_token": "a", "expires_in": NaN}', retry_after=None)
@example(status=429, body=b'{"error": "slow_down"}', retry_after="99999999999999999999")
@example(status=400, body=b'{"error": "invalid_grant", "error_description": "\\udc9b\\u001b"}', retry_after=None)
def test_any_token_endpoint_answer(status: int, body: bytes, retry_after: str | None) -> None:
    clock = FakeClock()
    server = Hostile(clock, {"/v1/oauth/token": response(status, body, retry_after)})
    every_call(MemoryFile(signed_in_stale()), server, clock)


@PROPERTY
@given(status=STATUSES, body=IDENTITY_BODIES, retry_after=RETRY_AFTER)
@example(status=200, body=b'{"data": {"email": "a\\udc9b@example.test", "first_name": "\\ud800"}}', retry_after=None)
@example(status=200, body=b'{"data": {"email": ["x"], "wallet": "\\u001b", "username": 1e999}}', retry_after=None)
@example(status=503, body=b"", retry_after="99999999999999999999")
def test_any_identity_answer(status: int, body: bytes, retry_after: str | None) -> None:
    clock = FakeClock()
    server = Hostile(clock, {"/v3/users/me": response(status, body, retry_after)})
    store = MemoryFile(signed_in_stale())
    every_call(store, server, clock)
    # ... and the sign-ins that cache what it says next to the new credential
    listener = FakeListener()
    browser = FakeBrowser(user=lambda url: listener.deliver(server.approve(url)))
    _device_approved_at_once(server)
    for sign_in in ("login_api_key", "login_browser", "login_device"):
        auth = facade(
            SETTINGS,
            env={},
            http=server,
            store=store,
            clock=clock,
            browser=browser,
            listen=lambda: listener,
            interactive=True,
        )
        try:
            if sign_in == "login_api_key":
                auth.login_api_key("hg_valid_key_1234")
            else:
                getattr(auth, sign_in)()
        except AuthError:
            pass
        store.check()


def _device_approved_at_once(server: Hostile) -> None:
    original = server._device_authorization

    def authorize(request: HttpRequest) -> HttpResponse:
        answer = original(request)
        for device in server.devices.values():
            device["approved"] = True
        return answer

    server._device_authorization = authorize  # type: ignore[method-assign]


@PROPERTY
@given(stored=STORED_TEXTS, status=st.sampled_from([200, 400, 401, 503]))
@example(
    stored=b'{"oauth": {"access_token": "a", "refresh_token": "r", "expires_at": "9999-12-31T23:59:59-23:59"}}',
    status=401,
)
@example(
    stored=b'{"oauth": {"access_token": "a", "expires_at": "0001-01-01T00:00:00+23:59", "obtained_at": "9999-12-31T23:59:59Z"}}',
    status=200,
)
@example(
    stored=b'{"oauth": {"access_token": "a", "refresh_token": "r", "expires_at": "+275760-09-13T00:00:00.000Z"}}',
    status=200,
)
@example(stored=b'{"api_key": "hg_kept_key_1", "user": {"email": "\\udc9b"}, "future": [1e400]}', status=200)
@example(stored=b"\xff\xfe{}", status=200)
def test_any_stored_file(stored: bytes, status: int) -> None:
    clock = FakeClock()
    answers = {} if status == 200 else {"/v3/users/me": response(status, b'{"error":"x"}', None)}
    store = MemoryFile(stored)
    every_call(store, Hostile(clock, answers), clock)


@PROPERTY
@given(stored=STORED_TEXTS)
def test_a_sign_in_over_any_stored_file_keeps_it_or_moves_it_aside(stored: bytes) -> None:
    clock = FakeClock()
    store = MemoryFile(stored)
    auth = facade(SETTINGS, env={}, http=Hostile(clock, {}), store=store, clock=clock)
    auth.login_api_key("hg_valid_key_1234")  # whatever was stored: nothing to refuse, nothing to lose
    store.check()
    doc = store.read()
    assert doc.api_key == "hg_valid_key_1234"
    if store.moved_aside:
        assert store.moved_aside == [stored]  # an unreadable file is kept aside as it was, never overwritten


def test_a_lone_surrogate_in_the_identity_is_saved_and_read_back_the_same() -> None:
    clock = FakeClock()
    body = json.dumps({"data": {"email": "a\udc9b@example.test", "first_name": "\ud800x"}}).encode()
    server = Hostile(clock, {"/v3/users/me": HttpResponse(200, {}, body)})
    store = MemoryFile(None)
    auth = facade(SETTINGS, env={}, http=server, store=store, clock=clock)
    auth.login_api_key("hg_valid_key_1234")
    stored = store.read()
    assert stored.user is not None
    assert stored.user.email == "a\udc9b@example.test"
    assert stored.user.first_name == "\ud800x"
    assert b"\\udc9b" in (store.data or b"")


# ---------------------------------------------------------------------------------------------- what we send


@given(url=st.text(alphabet=st.characters(exclude_categories=()), max_size=60))
def test_every_url_we_hand_a_transport_is_visible_ascii(url: str) -> None:
    sent = HttpRequest("GET", f"https://api.test/{url}").url
    assert sent.isascii()
    assert sent.isprintable()
    assert " " not in sent
    assert visible_url(sent) == sent


def test_our_own_urls_are_left_as_they_are() -> None:
    for url in ("https://api.test/v3/users/me", "http://127.0.0.1:8080/oauth/callback?a=%20b&c=d~e"):
        assert HttpRequest("GET", url).url == url


class Sendable(Hostile):
    """The in-memory server, refusing (as a real client library does) a header value outside visible ASCII."""

    def _answer(self, request: HttpRequest) -> HttpResponse:
        for name, value in request.headers.items():
            assert all(" " <= ch <= "~" for ch in value), f"{name} cannot be sent: {value!r}"
        return super()._answer(request)


@settings(max_examples=20)
@given(key=st.text(alphabet=st.characters(min_codepoint=0x80, exclude_categories=("Cs",)), min_size=8, max_size=12))
def test_a_stored_api_key_that_cannot_be_sent_is_an_auth_error_not_a_request(key: str) -> None:
    clock = FakeClock()
    store = MemoryFile(json.dumps({"api_key": key}, ensure_ascii=False).encode())
    auth = facade(SETTINGS, env={}, http=Sendable(clock, {}), store=store, clock=clock)
    with contextlib.suppress(AuthError):
        auth.whoami()
