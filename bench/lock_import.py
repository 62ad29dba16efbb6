"""What the cross-process lock costs at start-up: our ``adapters.lock`` against the ``filelock`` package it replaced.

    .venv/bin/python bench/lock_import.py [runs] [other-python]

Runs ``python -X importtime -c "import <module>"`` ``runs`` times per module and prints the median cumulative
import time (what the module and everything it pulls in add to a cold start). ``filelock`` is no longer a
dependency: pass a Python that has it (e.g. a scratch venv with ``pip install filelock``) as the second argument
to measure it too; the modules our lock module needs (``fcntl``, ``os``, ``stat``, ``time``) are loaded anyway.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys

from _common import ROOT


def cumulative_us(python: str, module: str) -> int | None:
    """The module's cumulative import time, without its parent packages (the CLI imports those anyway)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}  # measure with .pyc, as users run
    done = subprocess.run(
        [python, "-X", "importtime", "-c", f"import {module}"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        env=env,
    )
    if done.returncode:
        return None
    rows = [line.split("|") for line in done.stderr.splitlines() if line.startswith("import time:")]
    parents = {module.rsplit(".", depth)[0] for depth in range(1, module.count(".") + 1)}
    # Rows are "import time: self | cumulative | name"; the last is the module asked for, whose cumulative time
    # includes the parent packages imported first.
    total = int(rows[-1][1])
    direct = [row for row in rows if len(row[2]) - len(row[2].lstrip()) == 3]  # imported by the module itself
    return total - sum(int(row[1]) for row in direct if row[2].strip() in parents)


def median_ms(python: str, module: str, runs: int) -> float | None:
    cumulative_us(python, module)  # warm-up: writes the .pyc files
    samples = [cumulative_us(python, module) for _ in range(runs)]
    if any(sample is None for sample in samples):
        return None
    return statistics.median(s for s in samples if s is not None) / 1000


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    other = sys.argv[2] if len(sys.argv) > 2 else sys.executable
    rows = {
        "hyperframes_auth.adapters.lock": median_ms(sys.executable, "hyperframes_auth.adapters.lock", runs),
        "filelock": median_ms(other, "filelock", runs),
    }
    print(f"{'module':<34} {'median import ms':>16}  ({runs} runs, python -X importtime, cumulative)")
    for module, value in rows.items():
        print(f"{module:<34} {'not installed' if value is None else f'{value:.2f}':>16}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
