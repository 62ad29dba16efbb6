"""Crowding benchmark of the loopback callback listener: 50 local connections each send a byte a second and never
finish their request; then the browser's real callback arrives.

    .venv/bin/python bench/listener_crowd.py [runs]

For each run (a fresh listener with the product's defaults) it measures, from the moment the callback request is
sent: its answer (the 303), ``wait`` returning the verdict, and the ``/oauth/done`` page once the flow calls
``finish``. It prints the median and the worst over the runs, and how many callbacks were refused. The goal: the
sign-in completes within 5 s of the real callback.
"""

from __future__ import annotations

import json
import statistics
import sys
import threading
import time

import httpx
from _common import ROOT

from hyperframes_auth.adapters.listener import LoopbackCallbackListener
from hyperframes_auth.domain.callback import Verdict, judge
from tests.contract.tricklers import Tricklers

STATE = "S" * 43
TRICKLERS = 50
SAFETY = 20.0  # seconds: a bound on waiting, not a target


def run_once() -> dict[str, float] | None:
    """One sign-in through the crowd: seconds from the callback to each milestone, or None if it was refused."""
    with LoopbackCallbackListener() as listener:
        verdicts: list[tuple[Verdict, float]] = []

        def wait() -> None:
            verdict = listener.wait(lambda query: judge(STATE, query), SAFETY)
            verdicts.append((verdict, time.perf_counter()))

        waiter = threading.Thread(target=wait, daemon=True)
        waiter.start()
        with (
            Tricklers(listener.address, TRICKLERS, interval=1.0, lasting=SAFETY),
            httpx.Client(trust_env=False, timeout=SAFETY) as browser,
        ):
            start = time.perf_counter()
            try:
                answer = browser.get(listener.redirect_uri, params={"state": STATE, "code": "bench"})
            except httpx.TransportError:
                return None
            answered = time.perf_counter()
            waiter.join(SAFETY)
            if not verdicts or verdicts[0][0].kind != "accepted" or answer.status_code != 303:
                return None
            listener.finish(ok=True)
            done = browser.get(listener.redirect_uri.replace("/oauth/callback", "/oauth/done"))
            finished = time.perf_counter()
            if done.status_code != 200 or "Signed in" not in done.text:
                return None
    return {
        "answer_ms": (answered - start) * 1000,
        "verdict_ms": (verdicts[0][1] - start) * 1000,
        "done_page_ms": (finished - start) * 1000,
    }


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    results = [run_once() for _ in range(runs)]
    completed = [r for r in results if r is not None]
    print(f"{TRICKLERS} tricklers, {runs} runs: {runs - len(completed)} callbacks refused or lost")
    summary: dict[str, dict[str, float]] = {}
    for key in ("answer_ms", "verdict_ms", "done_page_ms"):
        values = [r[key] for r in completed]
        if values:
            summary[key] = {"median": statistics.median(values), "max": max(values)}
            print(f"  callback -> {key[:-3]:<10} median {summary[key]['median']:8.1f} ms   worst {max(values):8.1f} ms")
    (ROOT / "bench" / "results").mkdir(exist_ok=True)
    out = {"tricklers": TRICKLERS, "runs": runs, "refused": runs - len(completed), "summary": summary}
    (ROOT / "bench" / "results" / "listener_crowd.json").write_text(json.dumps(out, indent=2))
    return 0 if len(completed) == runs else 1


if __name__ == "__main__":
    sys.exit(main())
