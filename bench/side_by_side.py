"""Side-by-side cold start: our CLI against HeyGen's released TypeScript CLI, with hyperfine.

    .venv/bin/python bench/side_by_side.py [--runs 30] [--warmup 3]

Ours is a clean (non-editable) install in .venv-bench/ (as bench/cold_start.py does); theirs is npm `hyperframes`
on Node 22 (scripts/setup-reference). Both run against one local authorization server and one credentials file,
with the same environment (the TypeScript CLI's update check and telemetry switched off; HOME and the working
directory a fresh temporary directory). Rows:

* `--version`, `auth --help`;
* `auth status --json` with a stored, fresh OAuth access token (one request to /v3/users/me each);
* `auth refresh`: the server runs with ROTATE=0 so that every run holds a valid refresh token. With rotation on,
  a `--prepare` that restores a saved file cannot work (the restored refresh token is already spent, and the
  server answers reuse by revoking the whole grant); a prepare that refreshes through the server first would
  add a request per run for nothing. Without rotation each run does the same work (one token request, one
  atomic write of the file); the server's refresh counter is checked afterwards to prove that every run did;
* our `auth token` (a fresh token in the file, no network) against gh. `gh auth status` with a stored token is
  not local: it checks the token against api.github.com. Its local-only form is signed out (an empty
  GH_CONFIG_DIR: "You are not logged into any GitHub hosts", exit 1), which is the row the goal uses, as
  bench/cold_start.py does; `gh auth token` with a fake hosts.yml (reads the file, no socket at all) is the
  like-for-like row.

Prints a markdown table of medians and ratios (ours / theirs; goal <= 1.00) and writes the raw hyperfine JSON
to bench/results/side_by_side.json and bench/results/side_by_side_gh_status.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from _common import RESULTS, bench_install, ensure_tools, hyperfine, reference_argv

from tests.contract.conftest import AuthServer
from tests.contract.people import sign_in
from tests.contract.reference_cli import reference_env

GH_HOSTS = """github.com:
    user: bench-user
    oauth_token: gho_bench0000000000000000000000000000000000
    git_protocol: https
"""
# (row, our argv tail, their name, their argv tail or None for gh): their argv is the TS CLI unless named gh.
ROWS = [
    ("--version", ["--version"], "ts --version", ["--version"]),
    ("auth --help", ["auth", "--help"], "ts auth --help", ["auth", "--help"]),
    ("auth status --json", ["auth", "status", "--json"], "ts auth status --json", ["auth", "status", "--json"]),
    ("auth refresh", ["auth", "refresh"], "ts auth refresh", ["auth", "refresh"]),
]
EXPECTED_FAILURES = {"gh auth status": 1}


def environment(server: AuthServer, home: Path, gh_config: Path) -> dict[str, str]:
    config = home / "config"
    env = reference_env(server.env(config), config, home)
    env.update({"GH_CONFIG_DIR": str(gh_config), "GH_NO_UPDATE_NOTIFIER": "1", "GH_PROMPT_DISABLED": "1"})
    return env


def median_ms(result: dict) -> float:
    return float(result["median"]) * 1000


def check_exit_codes(results: dict[str, dict]) -> list[str]:
    notes = []
    for name, result in results.items():
        codes = set(result.get("exit_codes", []))
        expected = {EXPECTED_FAILURES.get(name, 0)}
        if codes and codes != expected:
            notes.append(f"{name}: exit codes {sorted(codes)} (expected {sorted(expected)})")
    return notes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    options = parser.parse_args()

    ensure_tools("hyperfine", "gh")
    theirs = reference_argv()
    ours = [str(bench_install())]
    home = Path(tempfile.mkdtemp(prefix="hf-side-"))
    (home / "gh-signed-in").mkdir()
    (home / "gh-signed-in" / "hosts.yml").write_text(GH_HOSTS)
    (home / "gh-signed-out").mkdir()

    server = AuthServer(ROTATE="0")
    try:
        sign_in(server, home)
        commands: dict[str, list[str]] = {}
        for row, our_tail, their_name, their_tail in ROWS:
            commands[f"ours {row}"] = [*ours, *our_tail]
            commands[their_name] = [*theirs, *their_tail]
        commands["ours auth token"] = [*ours, "auth", "token"]
        commands["gh auth token"] = ["gh", "auth", "token"]
        server.reset()
        main_results = hyperfine(
            commands,
            environment(server, home, home / "gh-signed-in"),
            home,
            RESULTS / "side_by_side.json",
            options.runs,
            options.warmup,
        )
        refreshes = server.refresh_requests()
        gh_results = hyperfine(
            {"ours auth token (2)": [*ours, "auth", "token"], "gh auth status": ["gh", "auth", "status"]},
            environment(server, home, home / "gh-signed-out"),
            home,
            RESULTS / "side_by_side_gh_status.json",
            options.runs,
            options.warmup,
        )
    finally:
        server.stop()

    pairs = [(f"ours {row}", their_name, row) for row, _, their_name, _ in ROWS]
    pairs.append(("ours auth token", "gh auth token", "auth token vs gh auth token"))
    print("| command | ours (ms) | theirs (ms) | ours / theirs | goal <= 1.00 |")
    print("| --- | ---: | ---: | ---: | --- |")
    for our_name, their_name, label in pairs:
        mine, other = median_ms(main_results[our_name]), median_ms(main_results[their_name])
        verdict = "ok" if mine <= other else "MISSED"
        print(f"| {label} | {mine:.1f} | {other:.1f} | {mine / other:.2f} | {verdict} |")
    mine, other = median_ms(gh_results["ours auth token (2)"]), median_ms(gh_results["gh auth status"])
    verdict = "ok" if mine <= other else "MISSED"
    print(f"| auth token vs gh auth status | {mine:.1f} | {other:.1f} | {mine / other:.2f} | {verdict} |")

    expected_refreshes = 2 * (options.runs + options.warmup)
    notes = check_exit_codes(main_results) + check_exit_codes(gh_results)
    if refreshes != expected_refreshes:
        notes.append(f"the server saw {refreshes} refresh requests, expected {expected_refreshes}")
    for note in notes:
        print(f"NOTE: {note}")
    (RESULTS / "side_by_side_summary.json").write_text(
        json.dumps(
            {name: median_ms(result) for results in (main_results, gh_results) for name, result in results.items()},
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
