"""Contention benchmark of the single-flight refresh: N processes start with an expired access token
against the local authorization server with refresh-token rotation on.

    .venv/bin/python bench/contention.py

For N = 1, 4, 16, 32 it prints the token requests that reached the server, invalid_grant answers, callers that
failed, and the wall time, with the cross-process lock (the product) and without it (what the lock prevents).
"""

from __future__ import annotations

import json
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT

from tests.contract.conftest import AuthServer
from tests.contract.contenders import process_worker
from tests.contract.people import expire_stored_token, sign_in

FORK = multiprocessing.get_context("fork")


def run(server: AuthServer, n: int, locked: bool) -> dict[str, float]:
    home = Path(tempfile.mkdtemp(prefix=f"hf-contention-{n}-"))
    env = sign_in(server, home)
    expire_stored_token(home)
    server.reset()
    start, results = FORK.Event(), FORK.Queue()
    barrier = None if locked else FORK.Barrier(n)
    workers = [FORK.Process(target=process_worker, args=(env, str(home), start, results, barrier)) for _ in range(n)]
    for worker in workers:
        worker.start()
    began = time.perf_counter()
    start.set()
    outcomes = [results.get(timeout=120) for _ in workers]
    wall = time.perf_counter() - began
    for worker in workers:
        worker.join(30)
    stats = server.stats()
    return {
        "token_requests": stats["token"].get("refresh_token", 0),
        "invalid_grant": stats["invalid_grant"],
        "failed": sum(1 for o in outcomes if o[0] != "ok"),
        "wall_ms": wall * 1000,
    }


def main() -> int:
    server = AuthServer()
    rows = []
    try:
        for n in (1, 4, 16, 32):
            for locked in (True, False):
                rows.append({"n": n, "lock": locked, **run(server, n, locked)})
    finally:
        server.stop()
    print(f"{'N':>3} {'lock':>5} {'token requests':>15} {'invalid_grant':>14} {'failed':>7} {'wall':>9}")
    for row in rows:
        print(
            f"{row['n']:>3} {('on' if row['lock'] else 'off'):>5} {row['token_requests']:>15} {row['invalid_grant']:>14} {row['failed']:>7} {row['wall_ms']:>7.0f} ms"
        )
    (ROOT / "bench" / "results").mkdir(exist_ok=True)
    (ROOT / "bench" / "results" / "contention.json").write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
