"""Property: whatever table comes in, load_runs, fit and ``scalelaw fit`` refuse it cleanly or tell the truth.

The tables come from tests/fuzz_tables.py (shared with benchmarks/fuzz.py, which runs 10,000 of them):
clean ladders for ``power`` and ``chinchilla`` with, at random, constant losses, planted gross outliers,
broken cells (10**400, '1e400', NaN, inf, dates, durations, complex numbers, booleans, lists), columns
of other kinds, thousands of extra columns, repeated rows and columns, 0 or 1 rows, written as CSV, TSV,
Parquet, JSON lines or JSON records in UTF-8, UTF-8 with a BOM or latin-1. Every outcome must be a
DataError naming a column, rows or a file-level reason (exit 2 and one stderr line for the CLI), or a
finite fit whose status flags a constant target and names every planted outlier. Never another
exception, a traceback, NaN parameters, or a modified input.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzz_tables import HypothesisSource, cli_command, judge_cli, make_case, run_api, run_file, write_case

FUZZ = settings(
    deadline=None,
    derandomize=True,  # the same cases on every run and machine: a failure here is reproducible
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)


def _explain(case, verdict) -> str:
    return f"{verdict.outcome}: {verdict.detail}\nleaked warnings: {verdict.leaked}\ncase: {case.describe()}"


@settings(FUZZ, max_examples=150)
@given(st.data())
def test_load_runs_and_fit_refuse_cleanly_or_tell_the_truth(data):
    case = make_case(HypothesisSource(data), max_extra=2000)
    verdict = run_api(case)
    assert verdict.outcome in ("data_error", "truthful_fit"), _explain(case, verdict)
    assert not verdict.leaked, _explain(case, verdict)


@settings(FUZZ, max_examples=60)
@given(st.data())
def test_files_in_every_format_and_encoding_refuse_cleanly_or_tell_the_truth(data):
    case = make_case(HypothesisSource(data), file_case=True, max_extra=300)
    with tempfile.TemporaryDirectory() as tmp:
        verdict = run_file(case, write_case(case, Path(tmp), "runs"))
    assert verdict.outcome in ("data_error", "truthful_fit"), _explain(case, verdict)
    assert not verdict.leaked, _explain(case, verdict)


@settings(FUZZ, max_examples=16)
@given(st.data())
def test_cli_fit_exits_2_with_one_line_or_prints_a_truthful_fit(data):
    case = make_case(HypothesisSource(data), file_case=True, max_extra=40)
    with tempfile.TemporaryDirectory() as tmp:
        path = write_case(case, Path(tmp), "runs")
        proc = subprocess.run(
            [sys.executable, *cli_command(path, case.law)], capture_output=True, text=True, timeout=300
        )
    verdict = judge_cli(case, proc.returncode, proc.stdout, proc.stderr)
    assert verdict.outcome in ("data_error", "truthful_fit"), _explain(case, verdict)
