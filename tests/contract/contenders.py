"""Work done by the contending processes, threads and tasks of the single-flight tests and the benchmark."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Iterator
from typing import Any

import httpx

from hyperframes_auth import HeyGenAuth
from hyperframes_auth.adapters.credentials_file import CredentialsFile
from hyperframes_auth.domain.credentials import CredentialsDocument
from hyperframes_auth.domain.errors import AuthError
from hyperframes_auth.entrypoints.settings import Settings
from tests.fakes import facade


class UnlockedFile(CredentialsFile):
    """The credentials file without its cross-process lock, to show what the lock prevents.

    ``barrier`` makes every contender read the store before any of them refreshes: the worst interleaving, made
    deterministic instead of left to timing.
    """

    def __init__(self, path: str, barrier: Any) -> None:
        super().__init__(path)
        self._barrier = barrier
        self._waited = False

    def read(self) -> CredentialsDocument:
        doc = super().read()
        if not self._waited:
            self._waited = True
            self._barrier.wait(30)
        return doc

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        yield


def make_auth(env: dict[str, str], home: str, unlocked_barrier: Any = None) -> HeyGenAuth:
    settings = Settings.from_env(env, home)
    store = UnlockedFile(settings.credentials_path, unlocked_barrier) if unlocked_barrier is not None else None
    return facade(settings, env=env, store=store)


def process_worker(env: dict[str, str], home: str, start: Any, results: Any, unlocked_barrier: Any = None) -> None:
    """One process: wait for the start signal, then make one authenticated call (refreshing as needed)."""
    with make_auth(env, home, unlocked_barrier) as auth:
        start.wait(30)
        try:
            results.put(("ok", auth.whoami().identity, os.getpid()))
        except AuthError as exc:
            results.put(("error", exc.code, os.getpid()))


def thread_calls(auth: HeyGenAuth, count: int) -> list[int]:
    """``count`` threads, one shared httpx client and auth, one GET each; returns the statuses."""
    import threading

    statuses: list[int] = []
    barrier = threading.Barrier(count)
    with httpx.Client(base_url=auth.settings.api_url, auth=auth.httpx_auth(), trust_env=False) as client:

        def call() -> None:
            barrier.wait(30)
            statuses.append(client.get("/v3/users/me").status_code)

        threads = [threading.Thread(target=call) for _ in range(count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    return statuses


def task_calls(auth: HeyGenAuth, count: int) -> list[int]:
    """``count`` asyncio tasks on one AsyncClient; returns the statuses."""

    async def main() -> list[int]:
        async with httpx.AsyncClient(base_url=auth.settings.api_url, auth=auth.httpx_auth(), trust_env=False) as client:
            responses = await asyncio.gather(*(client.get("/v3/users/me") for _ in range(count)))
        return [r.status_code for r in responses]

    return asyncio.run(main())
