"""Single-flight refresh against the real server with rotation on: 16 processes, 16 threads, 16 asyncio tasks
start with an expired access token; exactly one refresh request reaches the server, every caller succeeds, and
the grant is still alive afterwards. The same run without the lock shows what it prevents."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from .conftest import AuthServer
from .contenders import make_auth, process_worker, task_calls, thread_calls
from .people import expire_stored_token, sign_in

pytestmark = [pytest.mark.contract, pytest.mark.slow]
FORK = multiprocessing.get_context("fork")
N = 16


def signed_in_with_expired_token(server: AuthServer, tmp_path: Path) -> dict[str, str]:
    env = sign_in(server, tmp_path)
    expire_stored_token(tmp_path)
    server.reset()
    return env


def run_processes(env: dict[str, str], home: str, unlocked: bool) -> list[tuple[str, str, int]]:
    start, results = FORK.Event(), FORK.Queue()
    barrier = FORK.Barrier(N) if unlocked else None
    workers = [FORK.Process(target=process_worker, args=(env, home, start, results, barrier)) for _ in range(N)]
    for worker in workers:
        worker.start()
    start.set()
    outcomes = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(30)
    return outcomes


def grant_is_alive(env: dict[str, str], home: str) -> bool:
    with make_auth(env, home) as auth:
        auth.refresh()
        return auth.whoami().identity == "alice@example.test"


def test_sixteen_processes_refresh_once(auth_server: AuthServer, tmp_path: Path) -> None:
    env = signed_in_with_expired_token(auth_server, tmp_path)
    outcomes = run_processes(env, str(tmp_path), unlocked=False)
    assert [o[0] for o in outcomes] == ["ok"] * N
    stats = auth_server.stats()
    assert stats["token"].get("refresh_token", 0) == 1
    assert stats["invalid_grant"] == 0
    assert grant_is_alive(env, str(tmp_path))


def test_without_the_lock_the_rotation_race_kills_the_grant(auth_server: AuthServer, tmp_path: Path) -> None:
    env = signed_in_with_expired_token(auth_server, tmp_path)
    outcomes = run_processes(env, str(tmp_path), unlocked=True)
    stats = auth_server.stats()
    failures = sum(1 for o in outcomes if o[0] == "error")
    print(
        f"without the lock: {stats['token'].get('refresh_token', 0)} refresh requests, {stats['invalid_grant']} invalid_grant, {failures}/{N} callers failed"
    )
    assert stats["token"]["refresh_token"] >= N  # every process spent the same refresh token
    assert stats["invalid_grant"] >= N - 1
    assert stats["grants_revoked"] >= 1  # the replay made the server revoke the whole grant
    assert failures >= N - 1


def test_sixteen_threads_refresh_once(auth_server: AuthServer, tmp_path: Path) -> None:
    env = signed_in_with_expired_token(auth_server, tmp_path)
    with make_auth(env, str(tmp_path)) as auth:
        assert thread_calls(auth, N) == [200] * N
    assert auth_server.refresh_requests() == 1
    assert grant_is_alive(env, str(tmp_path))


def test_sixteen_asyncio_tasks_refresh_once(auth_server: AuthServer, tmp_path: Path) -> None:
    env = signed_in_with_expired_token(auth_server, tmp_path)
    with make_auth(env, str(tmp_path)) as auth:
        assert task_calls(auth, N) == [200] * N
    assert auth_server.refresh_requests() == 1
    assert grant_is_alive(env, str(tmp_path))
