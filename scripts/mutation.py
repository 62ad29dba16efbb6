"""Mutation testing of src/domain with mutmut, checked by plain runs; see scripts/mutation and docs/MUTATION.md.

Runs inside .venv-mutation/ (scripts/mutation sets it up from uv.lock). Everything it writes is under
test-output/mutation/:

* ``work/``: the copy mutmut runs in: src/, the unit tests and their fakes, pyproject.toml, docs/ARCHITECTURE.md
  (a unit test compares it with the machine), a ``hyperframes_auth -> src`` link and mutmut's setup.cfg.
  mutmut names each mutant after its file's path and puts ``work/mutants/`` first on ``sys.path``; through the
  link the files it mutates are ``hyperframes_auth/domain/*.py``, the very modules the tests import. Without the
  link it would mutate ``src/domain/*.py`` as a package named ``domain`` that no test imports, and find nothing.
* ``plain-N/``: clean copies (one per job) for the plain runs. mutmut imports the tests once and forks a process
  per mutant, so whatever was built at import time (module-level samples, settings and parametrize lists in the
  tests, caches) was built by the original code; a mutant that only changes such a value looks like a survivor.
  Each survivor is therefore written into a plain copy as a real source change and the whole unit suite runs on
  it with plain pytest in a new process. Only a mutant that survives that too is reported.
* ``mutmut.log``, ``results.json`` (every mutant: module, function, status), ``survivors.txt`` (each remaining
  survivor's diff).

Commands (``scripts/mutation --help``):
  run [--jobs N] [--no-verify] [MUTANT...]   the whole thing: mutmut, the plain runs, the report
  report                                     the report of the last run again
  show MUTANT...                             a mutant's diff
  check MUTANT...                            apply each mutant to a plain copy and run the unit suite on it
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "test-output" / "mutation"
WORK = OUT / "work"
PACKAGE = "hyperframes_auth"
MUTATED = f"{PACKAGE}/domain"
TESTS = "tests/unit"
# What the unit suite needs, copied into every working copy (the contract tests and their node_modules are not).
COPIED = ("src", "pyproject.toml", "tests/__init__.py", "tests/conftest.py", "tests/fakes.py", TESTS)
DOCS = ("docs/ARCHITECTURE.md",)
SETUP_CFG = f"""\
[mutmut]
source_paths = {PACKAGE}
only_mutate = {MUTATED}/*
also_copy =
    docs
pytest_add_cli_args_test_selection = {TESTS}
pytest_add_cli_args =
    -pno:cacheprovider
"""
KILLED = ("killed", "timeout")  # mutmut counts a timeout as a kill: the mutant made the tests hang


def _env() -> dict[str, str]:
    # Hypothesis as in CI (fixed examples), no byte code (a plain run rewrites a source file in the same second,
    # with the same size, as the one before: a cached .pyc could then be used for the new source).
    return {**os.environ, "HYPOTHESIS_PROFILE": "ci", "PYTHONDONTWRITEBYTECODE": "1"}


def _copy(names: tuple[str, ...], target: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".hypothesis")
    for name in names:
        source, dest = ROOT / name, target / name
        if dest.is_dir():
            shutil.rmtree(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, dest, ignore=ignore)
        else:
            shutil.copy2(source, dest)


def _copy_tree(target: Path) -> None:
    if target.exists():
        shutil.rmtree(target)
    _copy((*COPIED, *DOCS), target)
    (target / PACKAGE).symlink_to("src", target_is_directory=True)


# ---------------------------------------------------------------------------------------------- names


def _module_path(name: str) -> str:
    """``hyperframes_auth.domain.flow.xǁAuthCodeFlowǁsecrets__mutmut_1`` -> ``hyperframes_auth/domain/flow.py``."""
    from mutmut.utils.format_utils import get_module_from_key

    return get_module_from_key(name).replace(".", "/") + ".py"


def _short(name: str) -> str:
    """``flow.AuthCodeFlow.secrets#1``: module, class, function and number, readable."""
    from mutmut.utils.format_utils import get_module_from_key, orig_function_and_class_names_from_key

    module = get_module_from_key(name).rpartition(".")[2]
    function, klass = orig_function_and_class_names_from_key(name)
    number = name.rpartition("__mutmut_")[2]
    return f"{module}.{klass + '.' if klass else ''}{function}#{number}"


# ---------------------------------------------------------------------------------------------- mutants


def _functions(name: str) -> tuple[object, object]:
    """The original and the mutated function of ``name`` (libcst nodes, named as in the source). Run in WORK."""
    from mutmut.mutation.diff_apply import read_functions_from_index

    functions = read_functions_from_index(name, _module_path(name))
    if functions is None:
        raise SystemExit(f"mutation: no index for {name}; run `scripts/mutation run` first")
    return functions


def diff(name: str) -> str:
    from mutmut.mutation.diff_apply import get_diff_for_mutant

    return get_diff_for_mutant(name, path=_module_path(name))


def mutated_source(name: str, original: str) -> str:
    """``original`` (the module's source) with the mutant's function in place of the original one.

    The function is found by its class too: two classes may have methods of the same name (``secret``).
    """
    import libcst as cst
    from mutmut.utils.format_utils import orig_function_and_class_names_from_key

    function, klass = orig_function_and_class_names_from_key(name)
    _orig, mutant = _functions(name)
    module = cst.parse_module(original)
    found = None
    for node in module.body:
        if klass is None and isinstance(node, cst.FunctionDef) and node.name.value == function:
            found = node
        elif isinstance(node, cst.ClassDef) and node.name.value == klass and isinstance(node.body, cst.IndentedBlock):
            found = next(
                (m for m in node.body.body if isinstance(m, cst.FunctionDef) and m.name.value == function), None
            )
        if found is not None:
            break
    if found is None:
        raise SystemExit(f"mutation: {function} not found in {_module_path(name)}")
    # The mutant keeps the original's decorators and comments: only its body and signature were mutated.
    mutant = mutant.with_changes(decorators=found.decorators, leading_lines=found.leading_lines)  # type: ignore[attr-defined]
    return module.deep_replace(found, mutant).code  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------- plain runs


def _pytest(copy: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", *args]
    return subprocess.run(command, cwd=copy, env=_env(), capture_output=True, text=True, check=False)


def _plain_copy(index: int) -> Path:
    """A clean copy for plain runs, proven to import its own src/: the suite passes, and fails on a broken module."""
    copy = OUT / f"plain-{index}"
    _copy_tree(copy)
    first = _pytest(copy, TESTS)
    if first.returncode != 0:
        raise SystemExit(f"mutation: the unit suite fails on a clean copy:\n{first.stdout[-3000:]}")
    probe = copy / "src" / "domain" / "retry.py"
    text = probe.read_text(encoding="utf-8")
    probe.write_text(text + '\nraise ImportError("mutation: the plain copy is imported")\n', encoding="utf-8")
    try:
        if _pytest(copy, f"{TESTS}/test_machine.py").returncode == 0:
            raise SystemExit(f"mutation: the tests in {copy} do not import its src/ (a broken module went unseen)")
    finally:
        probe.write_text(text, encoding="utf-8")
    return copy


def _target(copy: Path, name: str) -> Path:
    return copy / "src" / Path(_module_path(name)).relative_to(PACKAGE)


def plain_run(copy: Path, name: str, mutated: str) -> tuple[bool, str]:
    """Write ``mutated`` (``name``'s module) into ``copy``, run the unit suite, restore. ``(killed, output)``."""
    target = _target(copy, name)
    original = target.read_text(encoding="utf-8")
    target.write_text(mutated, encoding="utf-8")
    try:
        result = _pytest(copy, TESTS)
    finally:
        target.write_text(original, encoding="utf-8")
    tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
    return result.returncode != 0, tail


def verify(names: list[str], jobs: int) -> dict[str, bool]:
    """Plain runs of ``names``, ``jobs`` at a time; mutant -> killed."""
    if not names:
        return {}
    copies = [_plain_copy(i) for i in range(min(jobs, len(names)))]
    os.chdir(WORK)  # mutmut's index of the mutants is read relative to it
    sources = {name: mutated_source(name, _target(copies[0], name).read_text(encoding="utf-8")) for name in names}
    free = list(copies)
    verdicts: dict[str, bool] = {}
    started = time.monotonic()

    def one(name: str) -> tuple[str, bool]:
        copy = free.pop()
        try:
            return name, plain_run(copy, name, sources[name])[0]
        finally:
            free.append(copy)

    with concurrent.futures.ThreadPoolExecutor(len(copies)) as pool:
        for done, (name, killed) in enumerate(pool.map(one, names), 1):
            verdicts[name] = killed
            if done % 10 == 0 or done == len(names):
                print(f"    plain runs: {done}/{len(names)} ({time.monotonic() - started:.0f} s)", flush=True)
    return verdicts


# ---------------------------------------------------------------------------------------------- results


def mutmut_statuses() -> dict[str, str]:
    """Every mutant's status as mutmut left it (``killed``, ``survived``, ``no tests``, ``timeout``...)."""
    from mutmut.stats import status_by_exit_code

    statuses: dict[str, str] = {}
    for meta in sorted((WORK / "mutants" / MUTATED).glob("*.py.meta")):
        codes = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
        statuses.update({name: status_by_exit_code[code] for name, code in codes.items()})
    return statuses


def report(results: dict[str, dict[str, str]]) -> int:
    """Print the score per module and overall, and the survivors; write survivors.txt. Exit 1 below 90 %."""
    modules: dict[str, list[str]] = {}
    for result in results.values():
        modules.setdefault(result["module"], []).append(result["status"])
    print(f"\n{'module':<14} {'mutants':>8} {'killed':>8} {'score':>7}")
    total = killed = 0
    for module in sorted(modules):
        statuses = modules[module]
        done = sum(s in KILLED or s == "killed on a plain run" for s in statuses)
        total, killed = total + len(statuses), killed + done
        print(f"{module:<14} {len(statuses):>8} {done:>8} {100 * done / len(statuses):>6.1f}%")
    score = 100 * killed / total if total else 0.0
    print(f"{'overall':<14} {total:>8} {killed:>8} {score:>6.1f}%")
    plain = sorted(n for n, r in results.items() if r["status"] == "killed on a plain run")
    if plain:
        print(f"({len(plain)} of the kills were mutants mutmut reported as survivors, killed on a plain run)")
    survivors = sorted(
        (n for n, r in results.items() if r["status"] not in (*KILLED, "killed on a plain run")), key=_short
    )
    lines = []
    os.chdir(WORK)
    for name in survivors:
        changed = [line for line in diff(name).splitlines()[2:] if line[:1] in "+-"]
        lines.append(f"{_short(name)}  [{results[name]['status']}]  {name}")
        lines += [f"    {line}" for line in changed]
    (OUT / "survivors.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"\n{len(survivors)} survivors (diffs in {(OUT / 'survivors.txt').relative_to(ROOT)}):")
    for name in survivors:
        print(f"  {_short(name)}  [{results[name]['status']}]")
    return 0 if score >= 90 else 1


def _results_with(statuses: dict[str, str], verdicts: dict[str, bool]) -> dict[str, dict[str, str]]:
    from mutmut.utils.format_utils import get_module_from_key, orig_function_and_class_names_from_key

    results = {}
    for name, status in statuses.items():
        function, klass = orig_function_and_class_names_from_key(name)
        results[name] = {
            "module": get_module_from_key(name).rpartition(".")[2],
            "function": f"{klass}.{function}" if klass else function,
            "status": "killed on a plain run" if verdicts.get(name) else status,
        }
    return results


def run(jobs: int, names: list[str], plain: bool) -> int:
    started = time.monotonic()
    OUT.mkdir(parents=True, exist_ok=True)
    if not names or not (WORK / "mutants").exists():
        _copy_tree(WORK)
        (WORK / "setup.cfg").write_text(SETUP_CFG, encoding="utf-8")
    else:
        # Some mutants again, after a full run: with the tests as they are now (mutmut re-mutates any function of
        # src/ that changed since, by its hash, so src/ is left as mutmut knows it).
        _copy(tuple(name for name in COPIED if name.startswith("tests")), WORK)
    log = OUT / "mutmut.log"
    print(f"== mutmut run ({jobs} jobs; its output goes to {log.relative_to(ROOT)})", flush=True)
    with log.open("w", encoding="utf-8") as out:
        code = subprocess.run(
            [str(Path(sys.executable).parent / "mutmut"), "run", "--max-children", str(jobs), *names],
            cwd=WORK,
            env=_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
        ).returncode
    if code != 0:
        print(log.read_text(encoding="utf-8", errors="replace")[-3000:])
        print(f"mutation: mutmut failed (exit {code})", file=sys.stderr)
        return 2
    statuses = mutmut_statuses()
    if names:
        from fnmatch import fnmatch

        statuses = {n: s for n, s in statuses.items() if any(n == p or fnmatch(n, p) for p in names)}
    print(f"    mutmut: {len(statuses)} mutants in {time.monotonic() - started:.0f} s", flush=True)
    doubtful = [n for n, s in statuses.items() if s not in KILLED]
    verdicts: dict[str, bool] = {}
    if plain and doubtful:
        print(f"== plain runs of the {len(doubtful)} mutants mutmut did not kill ({jobs} at a time)", flush=True)
        verdicts = verify(doubtful, jobs)
    results = _results_with(statuses, verdicts)
    if names and (OUT / "results.json").exists():  # the other mutants keep the verdicts of the last run
        results = {**json.loads((OUT / "results.json").read_text(encoding="utf-8")), **results}
    (OUT / "results.json").write_text(json.dumps(results, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    code = report(results)
    print(f"\nmutation testing took {(time.monotonic() - started) / 60:.1f} minutes")
    return code


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="scripts/mutation", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_run = sub.add_parser("run", help="mutate src/domain, run the unit suite on every mutant, report")
    p_run.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    p_run.add_argument("--no-verify", action="store_true", help="skip the plain runs of mutmut's survivors")
    p_run.add_argument("mutants", nargs="*", help="only these mutants (globs: 'hyperframes_auth.domain.retry.*')")
    sub.add_parser("report", help="the last run's report again")
    p_show = sub.add_parser("show", help="print mutants' diffs")
    p_show.add_argument("mutants", nargs="+")
    p_check = sub.add_parser("check", help="apply each mutant to a clean copy and run the unit suite (plain pytest)")
    p_check.add_argument("mutants", nargs="+")
    args = parser.parse_args(argv)

    if args.command == "run":
        return run(args.jobs, args.mutants, plain=not args.no_verify)
    if not (WORK / "mutants").exists():
        print("mutation: no mutants yet; run `scripts/mutation run` first", file=sys.stderr)
        return 2
    if args.command == "report":
        return report(json.loads((OUT / "results.json").read_text(encoding="utf-8")))
    os.chdir(WORK)
    if args.command == "show":
        for name in args.mutants:
            print(f"# {_short(name)}\n{diff(name)}\n")
        return 0
    copy = _plain_copy(0)
    os.chdir(WORK)
    survived = 0
    for name in args.mutants:
        killed, tail = plain_run(copy, name, mutated_source(name, _target(copy, name).read_text(encoding="utf-8")))
        survived += not killed
        print(f"# {_short(name)}: {'killed' if killed else 'SURVIVED'}\n{diff(name)}\n{tail}\n")
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
