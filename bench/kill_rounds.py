"""Kill rounds: SIGKILL `hyperframes auth refresh` at a random moment and count the grants that do not survive.

    .venv/bin/python bench/kill_rounds.py [--rounds 500] [--parallel 2] [--group | --cgroup] [--reference] [--seed N]

Against the local authorization server with refresh-token rotation on. First the typical run time T of an
uninterrupted `auth refresh` is measured (the median of a few runs at the same parallelism). Then each round
starts `auth refresh`, sends it SIGKILL at a moment drawn uniformly from [0, T), waits until no process holds the
store's lock any more (a child that finishes the save after its parent was killed, see adapters/signals.py),
checks that the credentials file is still valid JSON, and runs `auth refresh` again, uninterrupted: success means
the grant survived; `invalid_grant` means it was lost (the killed process had spent the refresh token, the server
had rotated it, and the new one never reached the file). After that second run, no temporary file may be left in
the directory (the next lock finishes or removes those of killed writers). A round continues from the state the last one left;
after a loss the worker signs in again (a new grant). Rounds are spread over `--parallel` workers, each with its
own credentials directory and grant.

By default the kill goes to the command's process (`kill -9 PID`, as the out-of-memory killer does). `--group`
kills its whole process group at once (`kill -9 -PGID`, as `timeout` or a job runner does). `--cgroup` runs each
command in a cgroup of its own and kills every process in it at once (`cgroup.kill`, as tearing down a container
does): the CLI's split-off child (adapters/signals.py) cannot help there, so this mode measures the window that
remains. It needs root and cgroup v2 (at /sys/fs/cgroup/unified here).

Our CLI is the clean install in .venv-bench/ (as bench/cold_start.py); `--reference` runs the released
TypeScript CLI instead (scripts/setup-reference). Prints the counts and the loss rate; the per-round outcomes
go to bench/results/kill_rounds.json.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from _common import RESULTS, bench_install, reference_argv

from tests.contract.conftest import AuthServer
from tests.contract.people import sign_in
from tests.contract.reference_cli import reference_env

TIMING_RUNS = 8
RUN_TIMEOUT = 60.0
KEEP = {"credentials", "credentials.lock"}
CGROUPS = (
    Path("/sys/fs/cgroup/unified") if Path("/sys/fs/cgroup/unified/cgroup.procs").exists() else Path("/sys/fs/cgroup")
)


class Worker:
    """One credentials directory with its own grant; plays rounds one after another."""

    def __init__(
        self, server: AuthServer, cli: list[str], home: Path, sign_in_lock: threading.Lock, kill: str = "process"
    ) -> None:
        self.server = server
        self.cli = cli
        self.kill = kill
        self.cgroup = CGROUPS / f"hf-kill-{os.getpid()}-{home.name}"
        if kill == "cgroup":
            make_cgroup(self.cgroup)
        self.home = home
        self.config = home / "config"
        self.sign_in_lock = sign_in_lock
        self.env = reference_env(server.env(self.config), self.config, home)
        self.seen_leftovers: set[str] = set()
        self.sign_in()

    def sign_in(self) -> None:
        with self.sign_in_lock:  # the scripted browser sign-in runs in this process: one at a time
            sign_in(self.server, self.home)

    def refresh(self) -> tuple[int, str, float]:
        began = time.perf_counter()
        done = subprocess.run(
            [*self.cli, "auth", "refresh"],
            env=self.env,
            cwd=self.home,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
            check=False,
            stdin=subprocess.DEVNULL,
        )
        return done.returncode, done.stdout + done.stderr, time.perf_counter() - began

    def killed_refresh(self, delay: float) -> bool:
        """Start `auth refresh`, SIGKILL it after ``delay`` s; True when it had already exited by then."""
        argv = [*self.cli, "auth", "refresh"]
        if self.kill == "cgroup":  # the command and all it starts live in the worker's own cgroup
            argv = ["/bin/sh", "-c", f'echo $$ > {self.cgroup}/cgroup.procs && exec "$@"', "sh", *argv]
        process = subprocess.Popen(
            argv,
            env=self.env,
            cwd=self.home,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=self.kill != "process",  # its own process group, to be killed as one
        )
        time.sleep(delay)
        finished = process.poll() is not None
        if not finished:
            if self.kill == "cgroup":
                (self.cgroup / "cgroup.kill").write_text("1")
            elif self.kill == "group":
                os.killpg(process.pid, signal.SIGKILL)
            else:
                os.kill(process.pid, signal.SIGKILL)
        process.wait(RUN_TIMEOUT)
        return finished

    def wait_for_the_store(self) -> None:
        """Wait until no process holds the store's lock (at most RUN_TIMEOUT)."""
        lock = self.config / "credentials.lock"
        try:
            fd = os.open(lock, os.O_RDWR)
        except FileNotFoundError:
            return
        try:
            deadline = time.monotonic() + RUN_TIMEOUT
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.005)
        finally:
            os.close(fd)

    def file_problem(self) -> str | None:
        path = self.config / "credentials"
        try:
            json.loads(path.read_text())
        except FileNotFoundError:
            return "credentials file missing"
        except (ValueError, UnicodeDecodeError):
            return "credentials file is not valid JSON"
        return None

    def leftovers(self) -> str | None:
        names = {p.name for p in self.config.iterdir()} - KEEP
        new = sorted(names - self.seen_leftovers)  # a leftover stays: count it in the round that left it
        self.seen_leftovers |= names
        return f"left behind a file ({', '.join(new)})" if new else None

    def play(self, delay: float) -> dict[str, object]:
        finished = self.killed_refresh(delay)
        self.wait_for_the_store()
        problem = self.file_problem()
        code, output, _ = self.refresh()
        problem = problem or self.leftovers()
        if code == 0:
            outcome = "survived"
        elif "invalid_grant" in output:
            outcome = "lost"
        else:
            outcome = "other"
        if outcome != "survived":
            self.sign_in()
        first_line = next((line for line in output.splitlines() if line.strip()), "")
        return {
            "delay_ms": round(delay * 1000, 1),
            "finished_before_kill": finished,
            "file_problem": problem,
            "outcome": outcome,
            "message": "" if code == 0 else first_line[:200],
        }


def make_cgroup(path: Path) -> None:
    """A cgroup v2 of our own (needs root, and a cgroup2 mount at CGROUPS: as on this project's machine kind)."""
    if not (CGROUPS / "cgroup.procs").exists() or os.geteuid() != 0:
        sys.exit(f"--cgroup needs root and a cgroup v2 hierarchy at {CGROUPS}")
    path.mkdir(exist_ok=True)


def typical_run_time(workers: list[Worker]) -> float:
    """Median wall time of an uninterrupted `auth refresh`, measured with all workers running at once."""
    times: list[float] = []
    lock = threading.Lock()

    def measure(worker: Worker) -> None:
        for _ in range(TIMING_RUNS):
            code, output, seconds = worker.refresh()
            if code != 0:
                raise RuntimeError(f"an uninterrupted refresh failed: {output.strip()[:300]}")
            with lock:
                times.append(seconds)

    threads = [threading.Thread(target=measure, args=(worker,)) for worker in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if len(times) != TIMING_RUNS * len(workers):
        sys.exit("measuring the typical run time failed (see the traceback above)")
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=500)
    parser.add_argument("--parallel", type=int, default=2)
    kinds = parser.add_mutually_exclusive_group()
    kinds.add_argument("--group", action="store_true", help="kill the command's whole process group")
    kinds.add_argument("--cgroup", action="store_true", help="kill the command and every process it started")
    parser.add_argument("--reference", action="store_true", help="kill the released TypeScript CLI instead")
    parser.add_argument("--seed", type=int, default=None)
    options = parser.parse_args()
    rng = random.Random(options.seed)
    cli = reference_argv() if options.reference else [str(bench_install())]
    kill = "cgroup" if options.cgroup else "group" if options.group else "process"

    server = AuthServer()
    results: list[dict[str, object]] = []
    results_lock = threading.Lock()
    began = time.perf_counter()
    workers: list[Worker] = []
    try:
        root = Path(tempfile.mkdtemp(prefix="hf-kill-"))
        sign_in_lock = threading.Lock()
        workers = [Worker(server, cli, root / f"w{i}", sign_in_lock, kill) for i in range(options.parallel)]
        typical = typical_run_time(workers)
        delays = [rng.uniform(0, typical) for _ in range(options.rounds)]
        shares = [delays[i :: options.parallel] for i in range(options.parallel)]

        def play_all(worker: Worker, mine: list[float]) -> None:
            for delay in mine:
                outcome = worker.play(delay)
                with results_lock:
                    results.append(outcome)

        threads = [threading.Thread(target=play_all, args=pair) for pair in zip(workers, shares, strict=True)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        server.stop()
        for worker in workers if kill == "cgroup" else []:
            with contextlib.suppress(OSError):
                worker.cgroup.rmdir()

    wall = time.perf_counter() - began
    report(results, typical, wall, options.parallel, kill, reference=options.reference)
    return 0


KILLED = {"process": "process", "group": "process group", "cgroup": "cgroup (the command and all it started)"}


def report(
    results: list[dict[str, object]], typical: float, wall: float, parallel: int, kill: str, *, reference: bool
) -> None:
    """Print the counts and write the per-round outcomes to bench/results/."""
    counts = Counter(str(r["outcome"]) for r in results)
    finished = sum(1 for r in results if r["finished_before_kill"])
    problems = Counter(str(r["file_problem"]).split(" (")[0] for r in results if r["file_problem"])
    others = Counter(str(r["message"]) for r in results if r["outcome"] == "other")
    lost = counts["lost"]
    print(f"CLI: {'released TypeScript CLI' if reference else 'ours (.venv-bench)'}")
    print(f"kill: SIGKILL to the {KILLED[kill]}")
    print(f"typical `auth refresh` run time (median of {TIMING_RUNS * parallel}): {typical * 1000:.0f} ms")
    print(f"rounds: {len(results)} (parallel {parallel}, {wall:.0f} s); exited before the kill: {finished}")
    print(f"survived: {counts['survived']}  lost (invalid_grant): {lost}  other failures: {counts['other']}")
    rate = lost / len(results) if results else 0.0
    print(f"loss rate: {rate:.2%}" + (f" (1 in {len(results) / lost:.1f})" if lost else ""))
    for problem, n in problems.items():
        print(f"file problem after a kill: {problem} x{n}")
    for message, n in others.items():
        print(f"other failure: {message} x{n}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = f"kill_rounds{'_reference' if reference else ''}{'' if kill == 'process' else '_' + kill}.json"
    (RESULTS / name).write_text(json.dumps({"typical_ms": typical * 1000, "rounds": results}, indent=2))


if __name__ == "__main__":
    sys.exit(main())
