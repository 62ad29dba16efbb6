"""Shared helpers of the benchmark scripts: a clean (non-editable) install, the local server, a signed-in store."""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
BENCH_VENV = ROOT / ".venv-bench"


def bench_install() -> Path:
    """A venv with hyperframes-auth installed as a user gets it (a wheel, not editable).

    An editable install adds a path finder that costs ~20 ms at every interpreter start, which users never pay.
    """
    python = BENCH_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(BENCH_VENV)], check=True)
    subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--force-reinstall",
            "--no-deps",
            str(ROOT),
        ],
        check=True,
    )
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(ROOT)],
        check=True,
    )
    return BENCH_VENV / "bin" / "hyperframes"


def median_ms(command: list[str], env: dict[str, str], runs: int = 30, warmup: int = 3) -> float:
    """Median wall time of ``command``: hyperfine when installed (Debian's package), else a Python loop."""
    if shutil.which("hyperfine"):
        out = ROOT / "bench" / "results" / "hyperfine.json"
        out.parent.mkdir(exist_ok=True)
        subprocess.run(
            [
                "hyperfine",
                "-N",
                "-i",
                "--style",
                "none",
                "--warmup",
                str(warmup),
                "--runs",
                str(runs),
                "--export-json",
                str(out),
                " ".join(command),
            ],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        return float(json.loads(out.read_text())["results"][0]["median"]) * 1000
    times = []
    for i in range(warmup + runs):
        start = time.perf_counter()
        subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HEYGEN_", "HYPERFRAMES_"))}
    env.update(extra)
    return env


RESULTS = ROOT / "bench" / "results"


def ensure_tools(*packages: str) -> None:
    """Install missing Debian packages (hyperfine, gh) when running as root with apt-get; else stop with a hint."""
    missing = [name for name in packages if shutil.which(name) is None]
    if not missing:
        return
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print(f"installing {' '.join(missing)} with apt-get ...", file=sys.stderr)
        quiet = {"stdout": subprocess.DEVNULL, "stdin": subprocess.DEVNULL}
        subprocess.run(["apt-get", "update", "-qq"], check=True, **quiet)
        apt_env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=True, env=apt_env, **quiet)
    still = [name for name in missing if shutil.which(name) is None]
    if still:
        sys.exit(f"this benchmark needs {' '.join(still)} (Debian packages): apt-get install {' '.join(still)}")


def reference_argv() -> list[str]:
    """The released TypeScript CLI (node 22 + its entry point), or exit with how to install it."""
    from tests.contract.reference_cli import ENTRY, NODE, reference_missing

    reason = reference_missing()
    if reason is not None:
        sys.exit(reason)
    return [str(NODE), str(ENTRY)]


def hyperfine(
    commands: dict[str, list[str]],
    env: dict[str, str],
    cwd: Path,
    export: Path,
    runs: int = 30,
    warmup: int = 3,
) -> dict[str, dict]:
    """Run hyperfine once over ``commands`` (name -> argv, no shell); return its results by name.

    A failing command does not stop hyperfine (``-i``): each result carries its ``exit_codes``, so the caller can
    tell a command that fails on purpose (``gh auth status`` signed out) from one that broke.
    """
    export.parent.mkdir(parents=True, exist_ok=True)
    argv = ["hyperfine", "-N", "-i", "--style", "none", "--warmup", str(warmup), "--runs", str(runs)]
    argv += ["--export-json", str(export)]
    for name, command in commands.items():
        argv += ["--command-name", name, " ".join(command)]
    subprocess.run(argv, env=env, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    results = json.loads(export.read_text())["results"]
    return {result["command"]: result for result in results}
