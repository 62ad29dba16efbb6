"""Tricklers: local connections that crowd a server by sending a request one byte at a time, never finishing it.

Bounded: each connection sends at most one byte per ``interval`` and everything stops by itself after ``lasting``
seconds (or at ``stop()``). A connection counts as dropped when the server answers or closes it (readable, or a
send fails) while the trickler still meant to send; ``answers`` keeps what the server said before closing.
"""

from __future__ import annotations

import select
import socket
import threading
import time
from typing import Self

PREFIX = b"GET /oauth/callback?state="


class Tricklers:
    """``count`` connections to ``address``, all connected and past their first byte when the constructor returns."""

    def __init__(self, address: tuple[str, int], count: int, interval: float = 1.0, lasting: float = 20.0) -> None:
        self.interval = interval
        self.lasting = lasting
        self.socks = [socket.create_connection(address, timeout=5) for _ in range(count)]
        for sock in self.socks:
            sock.sendall(PREFIX[:1])
        self.sent = dict.fromkeys(range(count), 1)
        self.dropped: dict[int, float] = {}  # index -> seconds after the start
        self.answers: dict[int, bytes] = {}
        self.started = time.monotonic()
        self._stop = threading.Event()
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="tricklers", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.interval) and time.monotonic() - self.started < self.lasting:
                live = [i for i in range(len(self.socks)) if i not in self.dropped]
                if not live:
                    return
                readable, _, _ = select.select([self.socks[i] for i in live], [], [], 0)
                gone = [i for i in live if self.socks[i] in readable or not self._send_next(i)]
                answers = {i: self._answer(i) for i in gone}
                with self._changed:  # a whole turn at once: a waiter sees every drop this turn found
                    now = time.monotonic() - self.started
                    self.answers.update(answers)
                    self.dropped.update(dict.fromkeys(gone, now))
                    self._changed.notify_all()
        finally:
            for sock in self.socks:
                sock.close()
            with self._changed:
                self._changed.notify_all()

    def _send_next(self, i: int) -> bool:
        sent = self.sent[i]
        byte = PREFIX[sent : sent + 1] or b"a"  # the query value grows forever: the head never ends
        try:
            self.socks[i].sendall(byte)
        except OSError:
            return False
        self.sent[i] = sent + 1
        return True

    def _answer(self, i: int) -> bytes:
        """What the server said before closing (a 408 page, or nothing)."""
        sock = self.socks[i]
        chunks = []
        sock.settimeout(5)
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except OSError:
            pass
        return b"".join(chunks)

    def wait_dropped(self, indexes: set[int], timeout: float) -> bool:
        """Until every one of ``indexes`` was dropped by the server (readiness, not a sleep); False on timeout."""
        with self._changed:
            return (
                self._changed.wait_for(lambda: indexes <= self.dropped.keys() or not self._thread.is_alive(), timeout)
                and indexes <= self.dropped.keys()
            )

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(self.interval + 10)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()
