"""The CallbackListener contract on the fake and on the real loopback listener (over real sockets), and the
real listener's hardening: loopback bind, strict routing, escaped pages, hostile bytes (RFC 8252 §7.3, §8.3).
Crowding (tricklers, shedding, close) is in test_listener_crowding.py."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hyperframes_auth.adapters.listener import LoopbackCallbackListener
from hyperframes_auth.domain.callback import Verdict, judge
from hyperframes_auth.domain.errors import AuthError
from tests.fakes import FakeListener

STATE = "S" * 43


def judged(query: Any) -> Verdict:
    return judge(STATE, query)


class FakeSide:
    def __init__(self) -> None:
        self.listener = FakeListener()

    def send_all(self, queries: list[dict[str, str]]) -> None:
        for query in queries:
            self.listener.deliver(query)

    def close(self) -> None:
        self.listener.close()


class RealSide:
    def __init__(self) -> None:
        self.listener = LoopbackCallbackListener(read_timeout=1.0, linger=0.2)
        self.client = httpx.Client(trust_env=False, timeout=5)
        self.sender: threading.Thread | None = None

    def send_all(self, queries: list[dict[str, str]]) -> None:
        def send() -> None:
            for query in queries:
                self.client.get(self.listener.redirect_uri, params=query)

        self.sender = threading.Thread(target=send, daemon=True)
        self.sender.start()

    def close(self) -> None:
        if self.sender is not None:
            self.sender.join(10)  # every request answered before the listener goes away
        self.listener.close()
        self.client.close()


@pytest.fixture(params=["fake", "real"])
def side(request: pytest.FixtureRequest) -> Iterator[FakeSide | RealSide]:
    impl = FakeSide() if request.param == "fake" else RealSide()
    yield impl
    impl.close()


def test_redirect_uri_is_a_loopback_literal(side):
    assert side.listener.redirect_uri.startswith(("http://127.0.0.1:", "http://[::1]:"))
    assert side.listener.redirect_uri.endswith("/oauth/callback")


def test_a_valid_callback_is_accepted(side):
    side.send_all([{"state": STATE, "code": "the-code"}])
    verdict = side.listener.wait(judged, 5)
    assert (verdict.kind, verdict.code) == ("accepted", "the-code")


def test_stray_callbacks_do_not_end_the_flow(side):
    side.send_all(
        [{"state": "wrong", "code": "x"}, {"code": "x"}, {"error": "access_denied"}, {"state": STATE, "code": "real"}]
    )
    verdict = side.listener.wait(judged, 5)
    assert (verdict.kind, verdict.code) == ("accepted", "real")


def test_an_error_with_the_right_state_ends_the_flow(side):
    side.send_all([{"state": STATE, "error": "access_denied", "error_description": "no"}])
    verdict = side.listener.wait(judged, 5)
    assert (verdict.kind, verdict.error) == ("errored", "access_denied")


def test_no_callback_is_a_timeout(side):
    assert side.listener.wait(judged, 0.2).kind == "timeout"


# ---------------------------------------------------------------------------------------------- real only


@pytest.fixture
def real() -> Iterator[LoopbackCallbackListener]:
    listener = LoopbackCallbackListener(read_timeout=1.0, linger=0.2)
    yield listener
    listener.close()


def waiting(listener: LoopbackCallbackListener, timeout: float = 10) -> Callable[[], Verdict]:
    box: list[Verdict] = []
    thread = threading.Thread(target=lambda: box.append(listener.wait(judged, timeout)), daemon=True)
    thread.start()

    def result() -> Verdict:
        thread.join(timeout + 1)
        return box[0]

    return result


def raw(listener: LoopbackCallbackListener, payload: bytes, read: bool = True) -> bytes:
    host, port = listener.address
    with socket.create_connection((host, port), timeout=3) as sock:
        sock.sendall(payload)
        if not read:
            return b""
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except (TimeoutError, ConnectionResetError):
            pass
        return b"".join(chunks)


def get(listener: LoopbackCallbackListener, path: str, **kwargs: Any) -> httpx.Response:
    with httpx.Client(trust_env=False, timeout=5) as client:
        return client.get(listener.redirect_uri.replace("/oauth/callback", path), **kwargs)


def test_only_get_on_the_callback_path_counts(real):
    result = waiting(real)
    with httpx.Client(trust_env=False, timeout=5) as client:
        assert client.post(real.redirect_uri, params={"state": STATE, "code": "x"}).status_code == 405
        assert client.get(real.redirect_uri.replace("/oauth/callback", "/favicon.ico")).status_code == 404
        assert (
            client.get(
                real.redirect_uri, params={"state": STATE, "code": "x"}, headers={"host": "evil.example"}
            ).status_code
            == 421
        )
        assert not real.completed
        answer = client.get(real.redirect_uri, params={"state": STATE, "code": "good"})
    assert answer.status_code == 303
    assert answer.headers["location"] == "/oauth/done"
    assert result().code == "good"


def test_hostile_bytes_and_slow_clients_do_not_block_the_real_callback(real):
    result = waiting(real)
    host, port = real.address
    slow = socket.create_connection((host, port))
    slow.sendall(b"GET /oauth/call")  # slowloris: half a request line, then silence
    try:
        _noise_then_callback(real, result)
    finally:
        slow.close()


def _noise_then_callback(real: LoopbackCallbackListener, result: Callable[[], Verdict]) -> None:
    port = real.address[1]
    for payload in (
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(256)),  # a TLS ClientHello
        b"GET /\r\n",  # HTTP/0.9
        b"GET /oauth/callback?state=%zz&code=%00%0d%0a HTTP/1.1\r\nHost: 127.0.0.1:" + str(port).encode() + b"\r\n\r\n",
        b"GET /oauth/callback HTTP/1.1\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n",
        b"\x00" * 1000,
    ):
        answer = raw(real, payload)
        assert not answer.startswith(b"HTTP/1.1 5")
    assert not real.completed
    answer = get(real, "/oauth/callback", params={"state": STATE, "code": "after-the-noise"})
    assert answer.status_code == 303
    assert result().code == "after-the-noise"


def test_pages_escape_reflected_text_and_carry_the_security_headers(real):
    result = waiting(real)
    answer = get(
        real,
        "/oauth/callback",
        params={
            "state": STATE,
            "error": "<script>alert(1)</script>",
            "error_description": '<img src=x onerror="alert(2)">',
        },
    )
    assert answer.status_code == 400
    assert "<script" not in answer.text
    assert "<img" not in answer.text
    assert "&lt;img" in answer.text
    headers = answer.headers
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert headers["cache-control"] == "no-store"
    assert headers["x-content-type-options"] == "nosniff"
    assert "default-src 'none'" in headers["content-security-policy"]
    assert "script-src" not in headers["content-security-policy"]
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["connection"] == "close"
    assert result().kind == "errored"


def test_first_valid_callback_wins_and_the_done_page_shows_the_outcome(real):
    result = waiting(real)
    with httpx.Client(trust_env=False, timeout=5) as client:
        first = client.get(real.redirect_uri, params={"state": STATE, "code": "one", "next": "https://evil.example"})
        assert first.status_code == 303
        assert first.headers["location"] == "/oauth/done"  # fixed, code-free, never derived from input
        second = client.get(real.redirect_uri, params={"state": STATE, "code": "two"})
        assert "already complete" in second.text
        assert result().code == "one"
        real.finish(ok=False, message="The authorization code was rejected <b>")
        done = client.get(real.redirect_uri.replace("/oauth/callback", "/oauth/done"))
    assert "Sign-in failed" in done.text
    assert "&lt;b&gt;" in done.text


def test_the_port_is_closed_after_close(real):
    host, port = real.address
    real.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((host, port), timeout=2)


def test_ipv6_fallback_when_ipv4_loopback_is_unavailable():
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    try:
        listener = LoopbackCallbackListener(bind_ipv4=False)
    except AuthError:
        pytest.skip("::1 is not configured on this machine")
    try:
        assert listener.redirect_uri.startswith("http://[::1]:")
        assert listener.address[0] == "::1"
    finally:
        listener.close()


def test_a_taken_fixed_port_gives_a_clear_error(real):
    with pytest.raises(AuthError, match="in use") as info:
        LoopbackCallbackListener(port=real.address[1])
    assert "--device" in (info.value.hint or "")


def test_binds_loopback_only(real):
    assert real.address[0] in ("127.0.0.1", "::1")


@settings(max_examples=25, deadline=None)
@given(st.binary(max_size=2048))
def test_any_bytes_get_an_answer_or_a_close_never_a_crash(payload):
    with LoopbackCallbackListener(read_timeout=0.3, linger=0.1) as listener:
        result = waiting(listener, 5)
        answer = raw(listener, payload + b"\r\n\r\n")
        assert not answer.startswith(b"HTTP/1.1 5")
        assert get(listener, "/oauth/callback", params={"state": STATE, "code": "ok"}).status_code == 303
        assert result().code == "ok"
