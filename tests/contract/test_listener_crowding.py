"""The loopback listener under crowding: local connections that trickle bytes and never finish a request must not
keep the browser's callback out, keep a worker forever, or hold up ``close``.

Tricklers are bounded (a byte per interval, stopping by themselves) and everything waits on readiness (an answer,
a drop seen by the peer); the few time figures are safety bounds far above what the listener needs.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import httpx
import pytest

from hyperframes_auth.adapters import listener as listener_module
from hyperframes_auth.adapters.listener import LoopbackCallbackListener
from hyperframes_auth.domain.callback import Verdict, judge
from tests.contract.tricklers import Tricklers

STATE = "S" * 43


def judged(query) -> Verdict:
    return judge(STATE, query)


def waiting(listener: LoopbackCallbackListener, timeout: float = 20) -> tuple[threading.Thread, list[Verdict]]:
    box: list[Verdict] = []
    thread = threading.Thread(target=lambda: box.append(listener.wait(judged, timeout)), daemon=True)
    thread.start()
    return thread, box


def url(listener: LoopbackCallbackListener, path: str) -> str:
    return listener.redirect_uri.replace("/oauth/callback", path)


def listener_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if (t.name or "").startswith("hf-callback") and t.is_alive()}


@pytest.fixture
def patient() -> Iterator[LoopbackCallbackListener]:
    """A listener whose total limit (30 s) outlasts every trickler here: only shedding can make room."""
    listener = LoopbackCallbackListener(read_timeout=30.0, linger=0.2, done_wait=10.0)
    yield listener
    listener.close()


def test_fifty_tricklers_do_not_keep_the_real_callback_out(patient):
    thread, box = waiting(patient)
    with Tricklers(patient.address, 50, interval=1.0, lasting=20.0), httpx.Client(trust_env=False, timeout=10) as web:
        try:
            answer = web.get(patient.redirect_uri, params={"state": STATE, "code": "the-real-one"})
        except httpx.TransportError as exc:
            pytest.fail(f"the browser's callback was refused while tricklers held the listener: {exc!r}")
        assert answer.status_code == 303
        thread.join(20)
        assert box, "wait did not return"
        assert (box[0].kind, box[0].code) == ("accepted", "the-real-one")
        # The sign-in goes on to the done page, still in the crowd.
        patient.finish(ok=True)
        done = web.get(url(patient, "/oauth/done"))
    assert "Signed in to HeyGen" in done.text


def test_a_connection_that_never_stops_sending_is_dropped_at_the_total_limit():
    with (
        LoopbackCallbackListener(read_timeout=1.0, linger=0.1) as listener,
        Tricklers(listener.address, 1, interval=0.2, lasting=15.0) as slow,
    ):
        # It sends a byte every 0.2 s, far within any per-receive timeout; only a total limit can end it.
        assert slow.wait_dropped({0}, timeout=12), "the server never closed a connection that kept trickling"
        assert slow.dropped[0] < slow.lasting  # closed by the server while the peer was still sending
        assert slow.sent[0] >= 3  # it was sending all along, a byte every 0.2 s
        assert slow.answers[0].startswith(b"HTTP/1.1 408 ")


def test_close_does_not_wait_for_stuck_peers(patient):
    before = listener_threads()
    with Tricklers(patient.address, 8, interval=0.3, lasting=30.0) as stuck:
        # Connections are accepted in order: once a later request is answered, the stuck ones are in.
        assert httpx.get(url(patient, "/favicon.ico"), timeout=10).status_code == 404
        patient.close()
        assert not (listener_threads() - before), "a listener thread outlived close()"
        assert stuck.wait_dropped(set(range(8)), timeout=10), "close() left stuck peers connected"
        assert max(stuck.dropped.values()) < stuck.lasting / 2  # the listener ended them, not their own give-up


def test_when_full_the_oldest_incomplete_connection_makes_room(monkeypatch):
    monkeypatch.setattr(listener_module, "MAX_CONNECTIONS", 4)
    with (
        LoopbackCallbackListener(read_timeout=30.0, linger=0.1) as listener,
        Tricklers(listener.address, 4, interval=0.3, lasting=20.0) as crowd,
    ):
        try:
            answer = httpx.get(url(listener, "/favicon.ico"), timeout=10)
        except httpx.TransportError as exc:
            pytest.fail(f"the newest connection was refused instead of the oldest: {exc!r}")
        assert answer.status_code == 404
        assert crowd.wait_dropped({0}, timeout=10), "the oldest incomplete connection was not dropped"
        assert set(crowd.dropped) == {0}  # checked in the same turn: the three younger ones are still connected


def test_the_done_page_waiting_for_the_outcome_blocks_no_one(patient):
    thread, box = waiting(patient)
    with httpx.Client(trust_env=False, timeout=10) as web:
        assert web.get(patient.redirect_uri, params={"state": STATE, "code": "c"}).status_code == 303
        thread.join(20)
        assert box[0].kind == "accepted"
        done: list[httpx.Response] = []
        fetch = threading.Thread(target=lambda: done.append(web.get(url(patient, "/oauth/done"))), daemon=True)
        fetch.start()
        # While the done page waits for the outcome, other requests are answered.
        for _ in range(3):
            assert httpx.get(url(patient, "/favicon.ico"), timeout=5).status_code == 404
        assert not done
        patient.finish(ok=False, message="The code was rejected")
        fetch.join(10)
    assert "The code was rejected" in done[0].text


def test_a_callback_before_wait_is_held_for_the_judge_without_blocking_others():
    with LoopbackCallbackListener(linger=0.1) as listener, httpx.Client(trust_env=False, timeout=10) as web:
        early: list[httpx.Response] = []
        sender = threading.Thread(
            target=lambda: early.append(web.get(listener.redirect_uri, params={"state": STATE, "code": "early"})),
            daemon=True,
        )
        sender.start()
        assert httpx.get(url(listener, "/favicon.ico"), timeout=5).status_code == 404
        assert listener.wait(judged, 10).code == "early"
        sender.join(10)
    assert early[0].status_code == 303


def test_a_silent_connection_is_dropped_and_the_port_stays_usable():
    with LoopbackCallbackListener(read_timeout=0.5, linger=0.1) as listener:
        silent = socket.create_connection(listener.address, timeout=10)
        try:
            assert silent.recv(1) == b""  # closed without a word: it never sent a byte
        finally:
            silent.close()
        assert httpx.get(url(listener, "/favicon.ico"), timeout=5).status_code == 404
