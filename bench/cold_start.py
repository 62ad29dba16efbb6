"""Cold-start benchmark of the CLI, measured with hyperfine when it is installed.

    .venv/bin/python bench/cold_start.py

Prints the medians of: `python -c pass`, `hyperframes auth token` (fresh token in the file, no network),
`gh auth status` side by side (when Debian's gh is installed), `hyperframes auth status` against the local
authorization server, and `hyperframes --help` / `hyperframes auth --help`; then the ratio token / gh.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _common import ROOT, bench_install, clean_env, median_ms

from hyperframes_auth.domain.primitives import format_instant
from tests.contract.conftest import AuthServer
from tests.contract.people import sign_in

GOALS = {"auth token": 70.0, "auth status": 200.0, "--help": 150.0, "auth --help": 150.0}


def main() -> int:
    hyperframes = str(bench_install())
    python = str(Path(hyperframes).with_name("python"))
    home = Path(tempfile.mkdtemp(prefix="hf-bench-"))
    rows: dict[str, float] = {}

    config = home / "token-config"
    config.mkdir()
    expires = format_instant(datetime.now(UTC) + timedelta(hours=6))
    (config / "credentials").write_text(
        json.dumps({"oauth": {"access_token": "at_bench_token", "refresh_token": "rt", "expires_at": expires}})
    )
    (config / "credentials").chmod(0o600)
    offline = clean_env(HEYGEN_CONFIG_DIR=str(config), HOME=str(home))

    rows["python -c pass"] = median_ms([python, "-c", "pass"], offline)
    rows["auth token"] = median_ms([hyperframes, "auth", "token"], offline)
    if shutil.which("gh"):
        rows["gh auth status"] = median_ms(["gh", "auth", "status"], offline)
    rows["--help"] = median_ms([hyperframes, "--help"], offline)
    rows["auth --help"] = median_ms([hyperframes, "auth", "--help"], offline)

    server = AuthServer()
    try:
        env = sign_in(server, home)
        rows["auth status"] = median_ms([hyperframes, "auth", "status", "--json"], clean_env(**env, HOME=str(home)))
    finally:
        server.stop()

    print(f"{'command':<22} {'median':>9}   goal")
    for name, value in rows.items():
        goal = GOALS.get(name)
        verdict = "" if goal is None else f"<= {goal:.0f} ms {'ok' if value <= goal else 'MISSED'}"
        print(f"{name:<22} {value:7.1f} ms   {verdict}")
    if "gh auth status" in rows:
        ratio = rows["auth token"] / rows["gh auth status"]
        print(f"auth token / gh auth status = {ratio:.2f} (goal <= 1.30 {'ok' if ratio <= 1.3 else 'MISSED'})")
    (ROOT / "bench" / "results").mkdir(exist_ok=True)
    (ROOT / "bench" / "results" / "cold_start.json").write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
