#!/usr/bin/env python
"""Fuzz load_runs, fit and ``scalelaw fit``: generated run tables, and what became of each.

Every case comes from the generators of ``tests/fuzz_tables.py`` (the same ones tests/test_fuzz.py
draws through hypothesis), here from a numpy Generator seeded with ``(seed, part, index)``, so a run is
reproducible case by case. A case is a clean ladder of runs for ``power`` or ``chinchilla`` (0 to 240
rows, 0-2% log-normal noise), then, at random: a constant loss, planted gross outliers (x2 or /2 or
beyond, 1e300, 1e-300), up to ``--max-extra`` (300) extra columns of any kind, a broken cell (NaN, inf, 0, -1, 10**400,
'1e400', text, None, True, a date, a duration, 1+2j, 1e308, 5e-324, a list), a column turned into
text, Python ints, float32, categories, nullable ints, dates, durations, complex numbers or booleans,
a repeated row or column, a missing column, shuffled rows.

Parts:

* ``api``: ``fit(law, load_runs(table))`` with default settings, in memory; every 5th case is written to a
  file (CSV, TSV, Parquet, JSON lines or JSON records; UTF-8, UTF-8 with BOM, or latin-1) and loaded
  from there. The input (frame or file) must come back unmodified.
* ``cli``: ``python -m scalelaw fit FILE --law LAW --json`` in a subprocess, on files written the same way.
* ``calibration`` (with ``--calibration N``): how often the outlier flag fires on clean data (240 points,
  1% and 2% noise) and whether it catches one point 15% off among 1% noise, N datasets each per law.

Each case is judged by ``fuzz_tables.run_api`` / ``run_file`` / ``judge_cli``: ``data_error`` (a DataError, or exit 2
with one ``error:`` line, naming a column, rows or a file-level reason), ``truthful_fit`` (finite, and a
constant target flagged ``no_signal``, planted outliers flagged with their rows), ``crash`` (any other
exception, exit 1, a traceback) or ``silently_wrong`` (NaN parameters, a flag missing, input modified).
The judges read the status defensively, so the same script measures code that predates those flags:
point ``PYTHONPATH`` at the code to measure (e.g. a worktree at the commit before the change).

Usage::

    python benchmarks/fuzz.py                                   # 10,000 api cases + 300 cli files, 2 workers
    python benchmarks/fuzz.py --quick                           # 300 + 20, a smoke run
    python benchmarks/fuzz.py --cases 10000 --files 300 --calibration 100 --json benchmarks/results/fuzz.json
    python benchmarks/fuzz.py --cases 0 --files 0 --wide 8000,50000  # load_runs on wide tables, timed once
    PYTHONPATH=/tmp/fuzz-base/src python benchmarks/fuzz.py ... # the same cases against other code

See benchmarks/README.md ("Fuzzing load_runs, fit and the CLI") for measured counts.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from _common import REPO, THREAD_VARS, environment, git

# One BLAS thread per worker process (set before NumPy is imported).
for _var in THREAD_VARS:
    os.environ.setdefault(_var, "1")
sys.path.insert(0, str(REPO / "tests"))  # the generators and judges shared with tests/test_fuzz.py

import argparse  # noqa: E402
import collections  # noqa: E402
import json  # noqa: E402
import multiprocessing  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

import fuzz_tables as ft  # noqa: E402

API, CLI = 1, 2  # part numbers in the seeds
FILE_EVERY = 5  # every 5th api case goes through a file
EXAMPLES = 20  # cases kept per outcome and part in the JSON, for reproduction


def api_case(job: tuple[int, int, str, int]) -> dict[str, Any]:
    """Generate and judge api case ``index`` (in a worker process)."""
    seed, index, tmp, max_extra = job
    case = ft.make_case(ft.RngSource([seed, API, index]), file_case=index % FILE_EVERY == 0, max_extra=max_extra)
    t0 = time.perf_counter()
    if index % FILE_EVERY == 0:
        path = ft.write_case(case, Path(tmp), f"api{index}")
        verdict = ft.run_file(case, path)
        path.unlink()
        via = case.fmt
    else:
        verdict = ft.run_api(case)
        via = "frame"
    return _record(index, case, verdict, via, time.perf_counter() - t0)


def cli_case(seed: int, index: int, tmp: Path, max_extra: int) -> dict[str, Any]:
    """Generate a file for cli case ``index``, run ``scalelaw fit`` on it in a subprocess and judge it."""
    case = ft.make_case(ft.RngSource([seed, CLI, index]), file_case=True, max_extra=max_extra)
    path = ft.write_case(case, tmp, f"cli{index}")
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            [sys.executable, *ft.cli_command(path, case.law)], capture_output=True, text=True, timeout=600
        )
        verdict = ft.judge_cli(case, proc.returncode, proc.stdout, proc.stderr)
    except subprocess.TimeoutExpired:
        verdict = ft.Verdict("crash", "timed out after 600 s")
    path.unlink()
    return _record(index, case, verdict, case.fmt, time.perf_counter() - t0)


def _record(index: int, case: ft.Case, verdict: ft.Verdict, via: str, seconds: float) -> dict[str, Any]:
    return {
        "index": index,
        "law": case.law,
        "via": via,
        "encoding": case.encoding,
        "rows": int(case.frame.shape[0]),
        "columns": int(case.frame.shape[1]),
        "outcome": verdict.outcome,
        "detail": verdict.detail[:400],
        "case": case.describe()[:400],
        "clean": case.clean,
        "constant": case.constant_target,
        "planted": len(case.outliers),
        "must_refuse": bool(case.must_refuse),
        "leaked": verdict.leaked[:3],
        "seconds": seconds,
    }


def calibration_case(job: tuple[int, str, str, int]) -> dict[str, Any]:
    """One clean 240-point dataset (1% or 2% noise), or one with a point 15% off among 1% noise."""
    from scalelaw import fit

    seed, law, kind, index = job
    rng = np.random.default_rng(
        [seed, 3, ["power", "chinchilla"].index(law), ["1%", "2%", "15% off"].index(kind), index]
    )
    frame = ft.ladder(law, 240, 0.02 if kind == "2%" else 0.01, rng, with_flops=True, with_run=False)
    row = int(rng.integers(240))
    if kind == "15% off":
        frame.loc[row, "loss"] *= 1.15 if rng.random() < 0.5 else 1 / 1.15
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        status = fit(law, frame).status
    flagged = list(getattr(status, "outliers", ()))
    return {
        "law": law,
        "kind": kind,
        "flagged": flagged,
        "hit": row in flagged,
        "threshold": status.to_dict().get("outlier_threshold"),
    }


def time_wide(n_columns: int) -> float:
    """Seconds for one ``load_runs`` of a 10-row table with ``n_columns`` columns (3 canonical + metrics)."""
    import pandas as pd

    from scalelaw import load_runs

    rng = np.random.default_rng(0)
    ladder = ft.ladder("power", 10, 0.01, rng, with_flops=False, with_run=False)
    metrics = pd.DataFrame(rng.random((10, n_columns - 3)), columns=[f"m{i}" for i in range(n_columns - 3)])
    frame = pd.concat([ladder, metrics], axis=1)
    load_runs(frame.iloc[:, :50])  # warm-up: imports and first-call costs
    t0 = time.perf_counter()
    load_runs(frame)
    return time.perf_counter() - t0


def summarize(records: list[dict[str, Any]]) -> dict[str, Any]:
    counts = collections.Counter(r["outcome"] for r in records)
    by_via = collections.defaultdict(collections.Counter)
    for r in records:
        by_via[r["via"]][r["outcome"]] += 1
    errors = collections.Counter(ft.error_kind(r["detail"]) for r in records if r["outcome"] == "data_error")
    problems = collections.Counter(
        f"{r['outcome']}: {ft.error_kind(r['detail'])}" for r in records if r["outcome"] in ("crash", "silently_wrong")
    )
    clean_fits = [r for r in records if r["clean"] and r["outcome"] == "truthful_fit"]
    false_alarms = [r for r in clean_fits if "no_signal" in r["detail"] or "outliers" in r["detail"]]
    leaked = collections.Counter(w for r in records for w in r["leaked"])
    examples = {
        outcome: [{k: r[k] for k in ("index", "via", "detail", "case")} for r in records if r["outcome"] == outcome][
            :EXAMPLES
        ]
        for outcome in ft.OUTCOMES
    }
    return {
        "cases": len(records),
        "counts": {o: counts.get(o, 0) for o in ft.OUTCOMES},
        "by_via": {via: {o: c.get(o, 0) for o in ft.OUTCOMES} for via, c in sorted(by_via.items())},
        "clean_fits": len(clean_fits),
        # What the truthful fits had to get right (a DataError for other reasons is fine too).
        "fits_of_a_constant_target": sum(r["constant"] for r in records if r["outcome"] != "data_error"),
        "fits_with_planted_outliers": sum(bool(r["planted"]) for r in records if r["outcome"] != "data_error"),
        "planted_outlier_rows_in_fits": sum(r["planted"] for r in records if r["outcome"] != "data_error"),
        "cases_that_must_be_refused": sum(r["must_refuse"] for r in records),
        "clean_fits_flagged_outlier_or_no_signal": len(false_alarms),
        "problems": problems.most_common(),
        "cases_leaking_runtime_warnings": sum(bool(r["leaked"]) for r in records),
        "leaked_runtime_warnings": leaked.most_common(20),
        "data_error_kinds": errors.most_common(40),
        "examples": examples,
        "seconds_total_in_cases": sum(r["seconds"] for r in records),
    }


def print_summary(name: str, summary: dict[str, Any]) -> None:
    c = summary["counts"]
    print(
        f"\n== {name}: {summary['cases']} cases: {c['data_error']} clean DataError, {c['truthful_fit']} truthful fits, "
        f"{c['crash']} crashes, {c['silently_wrong']} silently wrong",
        flush=True,
    )
    for via, counts in summary["by_via"].items():
        print(f"   {via:8s} " + ", ".join(f"{o} {n}" for o, n in counts.items()))
    print(
        f"   clean ladders fitted: {summary['clean_fits']}, of which flagged outlier/no_signal: "
        f"{summary['clean_fits_flagged_outlier_or_no_signal']}"
    )
    print(
        f"   to get right: {summary['fits_of_a_constant_target']} fits of a constant target, "
        f"{summary['fits_with_planted_outliers']} fits with {summary['planted_outlier_rows_in_fits']} planted "
        f"outlier rows, {summary['cases_that_must_be_refused']} cases that must end in a DataError"
    )
    for problem, n in summary["problems"][:15]:
        print(f"   {n:5d} x {problem}")
    print(f"   cases leaking numpy/pandas RuntimeWarnings from scalelaw: {summary['cases_leaking_runtime_warnings']}")
    for warning, n in summary["leaked_runtime_warnings"][:5]:
        print(f"   {n:5d} x {warning}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", type=int, default=10_000, help="api cases (load_runs + fit in process)")
    ap.add_argument("--files", type=int, default=300, help="cli cases (a file through `scalelaw fit` each)")
    ap.add_argument("--calibration", type=int, default=0, help="datasets per law and kind for the outlier flag")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--max-extra",
        type=int,
        default=300,
        help="widest block of extra columns a case gets (tests/test_fuzz.py uses 2000; before the fix a "
        "2000-column table cost ~10 s, which would stretch a 'before' run to hours: --wide times width)",
    )
    ap.add_argument("--workers", type=int, default=2, help="processes for api cases, parallel subprocesses for cli")
    ap.add_argument("--quick", action="store_true", help="300 api cases, 20 files: a smoke run, not a result")
    ap.add_argument("--json", type=Path, help="write counts, problems and examples here")
    ap.add_argument("--wide", default="", help="also time load_runs on 10-row tables of these widths, e.g. 8000,50000")
    args = ap.parse_args()
    if args.quick:
        args.cases, args.files = min(args.cases, 300), min(args.files, 20)

    import scalelaw

    source = Path(scalelaw.__file__).resolve().parent
    env = environment(
        workers=args.workers,
        seed=args.seed,
        scalelaw_source=str(source),
        scalelaw_source_commit=_source_commit(source),
    )
    print(f"# {json.dumps(env)}", flush=True)
    payload: dict[str, Any] = {"environment": env, "args": {k: str(v) for k, v in vars(args).items()}}
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="scalelaw-fuzz-") as tmp:
        t0 = time.perf_counter()
        jobs = [(args.seed, i, tmp, args.max_extra) for i in range(args.cases)]
        with multiprocessing.Pool(args.workers) as pool:
            api = list(pool.imap(api_case, jobs, chunksize=16))
        payload["api"] = summarize(api)
        payload["api"]["wall_seconds"] = time.perf_counter() - t0
        print_summary(f"api ({payload['api']['wall_seconds']:.0f} s)", payload["api"])

        t0 = time.perf_counter()
        with ThreadPoolExecutor(args.workers) as threads:
            cli = list(threads.map(lambda i: cli_case(args.seed, i, Path(tmp), args.max_extra), range(args.files)))
        payload["cli"] = summarize(cli)
        payload["cli"]["wall_seconds"] = time.perf_counter() - t0
        print_summary(f"cli ({payload['cli']['wall_seconds']:.0f} s)", payload["cli"])

    if args.wide:
        payload["wide"] = {}
        for width in (int(w) for w in args.wide.split(",")):
            payload["wide"][width] = seconds = time_wide(width)
            print(f"load_runs on 10 rows x {width} columns: {seconds:.3f} s", flush=True)
    if args.calibration:
        t0 = time.perf_counter()
        jobs = [
            (args.seed, law, kind, i)
            for law in ("power", "chinchilla")
            for kind in ("1%", "2%", "15% off")
            for i in range(args.calibration)
        ]
        with multiprocessing.Pool(args.workers) as pool:
            rows = pool.map(calibration_case, jobs, chunksize=8)
        table: dict[str, dict[str, int]] = {}
        for r in rows:
            cell = table.setdefault(f"{r['law']} {r['kind']}", {"datasets": 0, "flagged": 0, "planted_found": 0})
            cell["datasets"] += 1
            cell["flagged"] += bool(r["flagged"])
            cell["planted_found"] += r["hit"]
        payload["calibration"] = table
        print(f"\n== calibration ({time.perf_counter() - t0:.0f} s): datasets with any outlier flag / planted found")
        for key, cell in table.items():
            print(f"   {key:22s} {cell}")
    payload["wall_seconds"] = time.perf_counter() - t_start
    print(f"\ntotal {payload['wall_seconds']:.0f} s", flush=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(payload, indent=1, default=str) + "\n")


def _source_commit(source: Path) -> str:
    """Commit of the checkout that holds the measured scalelaw (may differ from this script's)."""
    try:
        out = subprocess.run(
            ["git", "-C", str(source), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10
        )
        dirty = subprocess.run(
            ["git", "-C", str(source), "status", "--porcelain", "--", "."], capture_output=True, text=True, timeout=10
        )
        return out.stdout.strip() + (" (dirty)" if dirty.stdout.strip() else "")
    except Exception:
        return git("rev-parse", "--short", "HEAD")


if __name__ == "__main__":
    main()
