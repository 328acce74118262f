"""Regressions from the hardening audit (#14): each reproducer, through the API and the real CLI.

The audit fuzzed 5,000 tables and 330 files and found: OverflowError on integers beyond float range;
dates, durations, complex numbers and booleans used silently as numbers; a constant loss reported as a
good fit; a loss of 1e300 ignored by the robust loss without a word; load_runs quadratic in the columns.
"""

from __future__ import annotations

import decimal
import json
import subprocess
import sys
import warnings
from unittest import mock

import numpy as np
import pandas as pd
import pytest

from scalelaw import (
    BoundWarning,
    ConvergenceWarning,
    DataError,
    DataWarning,
    FitResult,
    FitStatus,
    IdentifiabilityWarning,
    NoSignalWarning,
    OutlierWarning,
    fit,
    get_law,
    load_runs,
)
from scalelaw.data.runs import _KEY_COLUMNS, CANONICAL_COLUMNS
from scalelaw.fitting.diagnostics import OUTLIER_FLOOR, gross_outliers, no_signal

POWER = {"E": 1.7, "A": 2e3, "alpha": 0.15}
EPOCH = {"E": 1.8172, "A": 482.01, "B": 2085.43, "alpha": 0.3478, "beta": 0.3658}


def ladder(n: int = 40, noise: float = 0.01, seed: int = 0) -> pd.DataFrame:
    """A power-law ladder in flops (and params, tokens) with log-normal noise of sd ``noise``."""
    rng = np.random.default_rng(seed)
    params = np.exp(rng.uniform(np.log(7e7), np.log(1.6e10), n))
    tokens = np.exp(rng.uniform(np.log(5e9), np.log(5e11), n))
    flops = 6 * params * tokens
    loss = get_law("power").predict(POWER, flops=flops) * np.exp(rng.normal(0, noise, n))
    return pd.DataFrame({"params": params, "tokens": tokens, "flops": flops, "loss": loss})


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "scalelaw", *args], capture_output=True, text=True, timeout=300)


def assert_one_error_line(proc: subprocess.CompletedProcess, *fragments: str) -> None:
    """Exit 2, nothing on stdout, one ``error:`` line on stderr holding every fragment, no traceback."""
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def quiet_fit(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit(*args, **kwargs)


# ---------------------------------------------------------------------------------- numbers beyond float range
@pytest.mark.parametrize("value", [10**400, -(10**400), "1" + "0" * 400, "1e400", decimal.Decimal("1e400")])
def test_a_number_beyond_float_range_is_a_data_error_naming_column_and_row(value):
    df = ladder(6)
    df["loss"] = df["loss"].astype(object)
    df.loc[3, "loss"] = value
    with pytest.raises(DataError, match=r"column 'loss' has 1 value\(s\) beyond the float range \(row 3, e\.g\. "):
        load_runs(df)


def test_a_column_only_the_fit_reads_is_checked_for_overflow_too():
    df = ladder(6).rename(columns={"loss": "val_loss"})
    df["val_loss"] = df["val_loss"].astype(object)
    df.loc[2, "val_loss"] = 10**400
    runs = load_runs(df)  # not a canonical column: loading leaves it alone
    with pytest.raises(DataError, match=r"column 'val_loss' has 1 value\(s\) beyond the float range \(row 2"):
        fit("power", runs, y="val_loss")


def test_derived_flops_that_overflow_are_a_data_error():
    df = ladder(4).drop(columns="flops")
    df.loc[1, ["params", "tokens"]] = [1e200, 1e200]
    with pytest.raises(DataError, match=r"flops = 6 \* params \* tokens overflows float64 in row 1"):
        load_runs(df)


def test_cli_a_400_digit_integer_exits_2_naming_column_and_row(tmp_path):
    path = tmp_path / "runs.csv"
    df = ladder(5)
    df["tokens"] = df["tokens"].astype(object)
    df.loc[1, "tokens"] = 10**400
    df.to_csv(path, index=False)
    # The CSV reader turns the digits into inf before scalelaw sees them; the message says that may be why.
    proc = cli("fit", str(path), "--law", "power", "--json")
    assert_one_error_line(proc, "column 'tokens'", "(row 2)", "beyond ±1.8e308")


# ---------------------------------------------------------------------- dates, durations, complex, booleans
KINDS = {
    "datetime": (lambda n: pd.date_range("2024-01-01", periods=n, freq="D"), "dates/times", "tokens or steps"),
    "timedelta": (lambda n: pd.to_timedelta(np.arange(1, n + 1), unit="s"), "durations", "tokens or steps"),
    "complex": (lambda n: np.linspace(3.0, 2.5, n) + 1j, "complex numbers", "real part"),
    "bool": (lambda n: np.arange(n) % 2 == 0, "true/false values", "0/1"),
}


@pytest.mark.parametrize("column", ["params", "tokens", "flops", "loss"])
@pytest.mark.parametrize("kind", list(KINDS))
def test_a_column_of_another_kind_is_refused_saying_what_it_is_and_what_to_do(kind, column):
    make, what, fix = KINDS[kind]
    df = ladder(6).assign(**{column: make(6)})
    with pytest.raises(DataError, match=rf"column '{column}' holds {what} \(dtype [^)]+\) where a number is needed"):
        load_runs(df)
    with pytest.raises(DataError, match=fix):
        load_runs(df)


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_column_of_another_kind_is_refused_when_a_law_reads_it_by_name(kind):
    make, what, _ = KINDS[kind]
    df = ladder(6).assign(compute=make(6))
    runs = load_runs(df)  # a pass-through column may hold anything
    with pytest.raises(DataError, match=rf"column 'compute' holds {what}"):
        fit("power", runs, x=["compute"])


@pytest.mark.parametrize(
    ("value", "what"),
    [
        (True, "true/false values"),
        (pd.Timestamp("2024-01-01"), "dates/times"),
        (pd.Timedelta(days=1), "durations"),
        (3 + 1j, "complex numbers"),
    ],
)
def test_one_cell_of_another_kind_is_refused_with_its_row(value, what):
    df = ladder(6)
    df["loss"] = df["loss"].astype(object)
    df.loc[4, "loss"] = value
    with pytest.raises(DataError, match=rf"column 'loss' has 1 cell\(s\) holding {what} \(row 4, e\.g\. "):
        load_runs(df)


def _parquet(df, path):
    df.to_parquet(path, index=False)


@pytest.mark.parametrize(
    ("kind", "suffix", "column", "expected"),
    [
        ("datetime", ".parquet", "tokens", "holds dates/times"),
        ("timedelta", ".parquet", "tokens", "holds durations"),
        ("bool", ".jsonl", "loss", "holds true/false values"),
        ("complex", ".csv", "loss", "non-numeric text (rows 1, 2,"),  # a CSV carries '(3+1j)' as text
    ],
)
def test_cli_a_column_of_another_kind_exits_2_with_one_line(tmp_path, kind, suffix, column, expected):
    df = ladder(6).assign(**{column: KINDS[kind][0](6)})
    path = tmp_path / f"runs{suffix}"
    if suffix == ".parquet":
        _parquet(df, path)
    elif suffix == ".jsonl":
        df.to_json(path, orient="records", lines=True)
    else:
        df.to_csv(path, index=False)
    assert_one_error_line(cli("fit", str(path), "--law", "power", "--json"), f"column '{column}'", expected)


def test_numbers_in_other_numeric_kinds_still_load():
    df = ladder(6)
    df["params"] = pd.Series([int(v) for v in df["params"]], dtype=object)  # Python ints
    df["tokens"] = df["tokens"].astype(np.float32)
    df["loss"] = df["loss"].astype("category")
    runs = load_runs(df)
    np.testing.assert_allclose(runs.array("params"), np.round(ladder(6)["params"]))
    np.testing.assert_allclose(runs.array("loss"), ladder(6)["loss"])


# ------------------------------------------------------------------------------------------ wide tables
def _wide(n_columns: int) -> pd.DataFrame:
    extra = pd.DataFrame(np.random.default_rng(0).random((10, n_columns)), columns=[f"m{i}" for i in range(n_columns)])
    return pd.concat([ladder(10), extra], axis=1)


def _full_width_passes(frame: pd.DataFrame) -> int:
    """How often load_runs walks the whole list of column labels (once per column was the quadratic bug)."""
    widths = []
    original = pd.Index.__iter__

    def spy(self):
        widths.append(len(self))
        return original(self)

    with mock.patch.object(pd.Index, "__iter__", spy):
        load_runs(frame)
    return sum(width >= frame.shape[1] for width in widths)


def test_load_runs_walks_the_column_labels_a_fixed_number_of_times_whatever_the_width():
    narrow, wide = _full_width_passes(_wide(100)), _full_width_passes(_wide(8000))
    assert wide == narrow <= 5


def test_repeated_rows_in_a_wide_table_are_looked_for_on_a_few_columns_first():
    seen = []
    original = pd.DataFrame.duplicated

    def spy(self, *args, **kwargs):
        seen.append(self.shape[1])
        return original(self, *args, **kwargs)

    with mock.patch.object(pd.DataFrame, "duplicated", spy):
        load_runs(_wide(8000))
    assert seen and max(seen) <= _KEY_COLUMNS + len(CANONICAL_COLUMNS)


def test_repeated_rows_in_a_wide_table_are_still_found_exactly():
    df = _wide(3000)
    df = pd.concat([df, df.iloc[[2]], df.iloc[[5]].assign(m2999=-1.0)], ignore_index=True)
    with pytest.raises(DataError, match=r"1 row\(s\) repeat an earlier row exactly \(row 10\)"):
        load_runs(df)  # row 11 differs from row 5 only in the last column: not a repeat


def test_repeated_column_names_in_a_wide_table_are_named():
    df = _wide(3000)
    df.columns = [*df.columns[:-1], " m7 "]  # stripped, it repeats m7
    with pytest.raises(DataError, match=r"column name\(s\) 'm7' appear more than once"):
        load_runs(df)


def test_cells_pandas_cannot_hash_pass_through_and_repeats_are_still_found(tmp_path):
    rows = [{**row, "tags": [i, "nested"]} for i, row in enumerate(ladder(8).to_dict(orient="records"))]
    path = tmp_path / "runs.json"
    path.write_text(json.dumps(rows))
    result = quiet_fit("power", load_runs(path))
    assert np.all(np.isfinite(result.values))
    path.write_text(json.dumps([*rows, rows[3]]))
    with pytest.raises(DataError, match=r"1 row\(s\) repeat an earlier row exactly \(row 9\)"):
        load_runs(path)


# ---------------------------------------------------------------------------------------- constant target
@pytest.mark.parametrize("value", [3.0, 0.01, 1e4])
def test_a_constant_loss_is_flagged_no_signal_and_not_ok(value):
    df = ladder(20).assign(loss=value)
    with pytest.warns(NoSignalWarning, match="no signal in the fitted column: its values are all equal"):
        result = fit("power", df)
    assert result.status.no_signal and not result.status.ok
    assert any(flag.startswith("no signal") for flag in result.status.flags())
    assert "every other parameter is arbitrary" in result.status.messages()[0]
    assert issubclass(NoSignalWarning, DataWarning)


@pytest.mark.parametrize("value", [1e-300, 5e-324, 1e300])
def test_a_loss_far_beyond_what_a_log_scale_fit_handles_is_a_data_error(tmp_path, value):
    df = ladder(20).assign(loss=value)
    with pytest.raises(DataError, match=r"column 'loss' has values around \S+ \(median\), beyond what a log-scale"):
        fit("power", df)
    path = tmp_path / "runs.csv"
    df.to_csv(path, index=False)  # was a fit on its bounds, or exit 1 ("no start gave a finite objective")
    assert_one_error_line(cli("fit", str(path), "--law", "power", "--json"), "column 'loss' has values around")


def test_a_constant_written_with_rounding_error_is_still_a_constant_and_a_small_real_spread_is_not():
    rng = np.random.default_rng(0)
    rounded = ladder(20).assign(loss=3.0 * (1 + 1e-13 * rng.standard_normal(20)))
    assert quiet_fit("power", rounded).status.no_signal
    tiny_trend = ladder(20).sort_values("flops").assign(loss=3.0 * (1 - 1e-6 * np.arange(20)))
    assert not quiet_fit("power", tiny_trend).status.no_signal


def test_a_constant_loss_with_one_garbage_row_has_no_signal_and_names_the_row():
    df = ladder(20).assign(loss=3.0)
    df.loc[7, "loss"] = 1e300
    result = quiet_fit("chinchilla", df)
    assert result.status.no_signal
    assert result.status.outliers == (7,) and result.status.outlier_rows == ("7",)
    assert "gross outliers aside" in result.status.messages()[0]


def test_cli_a_constant_loss_is_flagged_in_json_on_stderr_and_under_the_table(tmp_path):
    path = tmp_path / "runs.csv"
    ladder(12).assign(loss=2.5).to_csv(path, index=False)
    proc = cli("fit", str(path), "--law", "power", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["status"]["no_signal"] is True
    assert "warning: no signal in the fitted column" in proc.stderr and "Traceback" not in proc.stderr
    human = cli("fit", str(path), "--law", "power")
    assert "status: " in human.stdout and "no signal: constant target" in human.stdout
    assert "status: converged, no parameter at a bound, identifiable" not in human.stdout


# ----------------------------------------------------------------------------------------- gross outliers
def test_a_loss_of_1e300_is_flagged_with_its_row_label():
    df = ladder(40).set_index(pd.Index([f"run-{i}" for i in range(40)]))
    df.loc["run-12", "loss"] = 1e300
    with pytest.warns(OutlierWarning, match=r"1 gross outlier\(s\) \(row run-12\)"):
        result = fit("power", df)
    assert result.status.outliers == (12,) and result.status.outlier_rows == ("run-12",)
    assert not result.status.ok and result.status.outlier_threshold >= OUTLIER_FLOOR
    assert "outliers: row run-12" in result.status.flags()


@pytest.mark.parametrize("law", ["power", "chinchilla"])
@pytest.mark.parametrize("factor", [1.15, 1 / 1.15])
def test_a_point_15_percent_off_among_1_percent_noise_is_flagged(law, factor):
    df = ladder(240, noise=0.01, seed=3)
    if law == "chinchilla":
        clean = get_law("chinchilla").predict(EPOCH, params=df["params"], tokens=df["tokens"])
        df["loss"] = clean * np.exp(np.random.default_rng(3).normal(0, 0.01, 240))
    df.loc[100, "loss"] *= factor
    result = quiet_fit(law, df)
    assert result.status.outliers == (100,)


@pytest.mark.parametrize("noise", [0.01, 0.02])
@pytest.mark.parametrize("seed", range(4))
def test_ordinary_noise_on_240_points_is_not_flagged(noise, seed):
    result = quiet_fit("power", ladder(240, noise=noise, seed=seed))
    assert result.status.outliers == () and not result.status.no_signal


def test_cli_a_loss_of_1e300_is_flagged_with_its_data_row(tmp_path):
    path = tmp_path / "runs.csv"
    df = ladder(30)
    df.loc[3, "loss"] = 1e300
    df.to_csv(path, index=False)
    proc = cli("fit", str(path), "--law", "power", "--json")
    assert proc.returncode == 0, proc.stderr
    status = json.loads(proc.stdout)["status"]
    assert status["outliers"] == [3] and status["outlier_rows"] == ["4"]  # data rows count from 1
    assert "warning: 1 gross outlier(s) (row 4)" in proc.stderr and "Traceback" not in proc.stderr
    assert "status: outliers: row 4" in cli("fit", str(path), "--law", "power").stdout


def test_outlier_and_no_signal_helpers_on_their_own():
    residuals = np.array([0.0, 0.01, 0.0, -0.01, 0.0, 5.0])
    rows, threshold = gross_outliers(residuals)
    assert rows.tolist() == [5] and threshold == OUTLIER_FLOOR  # the MAD is 0: the floor decides
    noisy = np.array([0.05, -0.05, 0.1, -0.1, 0.0, 0.8])  # median 0.025, MAD 0.075
    rows, threshold = gross_outliers(noisy)
    assert rows.tolist() == [] and threshold == pytest.approx(8 * 1.4826 * 0.075)  # 0.8 is within 8 scales
    rows, _ = gross_outliers(residuals, used=np.array([True] * 5 + [False]))
    assert rows.tolist() == []  # a row the fit did not use is never flagged
    flat, off = no_signal(np.log([2.0, 2.0, 2.0, 9.0]))
    assert flat and off.tolist() == [3]


# ------------------------------------------------------------------------------ status: JSON and warnings
def test_the_new_status_fields_round_trip_through_json_and_old_files_still_load():
    df = ladder(30).assign(loss=3.0)
    df.loc[4, "loss"] = 30.0
    result = quiet_fit("power", df)
    again = FitResult.from_json(result.to_json())
    assert again.status == result.status and again.status.no_signal and again.status.outlier_rows == ("4",)
    old = json.loads(result.to_json())
    for key in ("no_signal", "outliers", "outlier_rows", "outlier_threshold"):
        del old["status"][key]
    loaded = FitResult.from_dict(old)
    assert not loaded.status.no_signal and loaded.status.outliers == () and np.isnan(loaded.status.outlier_threshold)


def test_each_flag_warns_with_its_own_category():
    status = FitStatus(
        converged=False,
        at_bound=("E",),
        not_identifiable=True,
        condition_number=1e9,
        no_signal=True,
        outliers=(2,),
        outlier_rows=("3",),
        outlier_threshold=0.08,
    )
    categories = [category for category, _ in status.issues()]
    assert categories == [NoSignalWarning, OutlierWarning, ConvergenceWarning, BoundWarning, IdentifiabilityWarning]
    assert status.messages() == [message for _, message in status.issues()]
    assert status.flags() == [
        "not converged",
        "at bound: E",
        "not identifiable",
        "no signal: constant target, parameters beyond its level are arbitrary",
        "outliers: row 3",
    ]
    assert FitStatus(converged=True).flags() == [] and FitStatus(converged=True).ok


# --------------------------------------------------------------------------------------------- files
def test_json_with_a_byte_order_mark_loads(tmp_path):
    rows = ladder(5).to_dict(orient="records")
    (tmp_path / "a.json").write_text(json.dumps(rows), encoding="utf-8-sig")
    (tmp_path / "b.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8-sig")
    assert len(load_runs(tmp_path / "a.json")) == 5 and len(load_runs(tmp_path / "b.jsonl")) == 5


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[1, 2, 3]", "element 1 is not a row object but a JSON int"),
        ('[{"flops": 1e18, "loss": 3}, null]', "element 2 is not a row object but a JSON null"),
        ('{"flops": 1e18, "loss": 3}', "one JSON object of single values"),
    ],
)
def test_json_that_is_not_a_table_is_a_data_error(tmp_path, text, expected):
    path = tmp_path / "runs.json"
    path.write_text(text)
    with pytest.raises(DataError, match=expected):
        load_runs(path)


def test_cli_a_latin_1_file_exits_2_asking_for_utf_8(tmp_path):
    path = tmp_path / "runs.csv"
    ladder(5).assign(**{"modèle": "é"}).to_csv(path, index=False, encoding="latin-1")
    assert_one_error_line(cli("fit", str(path), "--law", "power", "--json"), "not UTF-8 text", "0xe8")


def test_a_true_in_a_json_lines_number_column_is_refused_not_read_as_1(tmp_path):
    path = tmp_path / "runs.jsonl"
    rows = ladder(5).to_dict(orient="records")
    rows[2]["loss"] = True  # pandas' JSON lines reader would store 1.0
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n")
    with pytest.raises(DataError, match=r"column 'loss' has 1 cell\(s\) holding true/false values \(row 3, "):
        load_runs(path)
    path.write_text('{"flops": 1e18, "loss": 3.0}\n[1, 2]\n')
    with pytest.raises(DataError, match="line 2 is a JSON list, not a row object"):
        load_runs(path)


def test_rows_a_fit_passes_through_do_not_shrink_the_noise_scale():
    # A near-L1 fit of 5 parameters to 10 points leaves about 5 residuals at 0 (here 6): their MAD is 0.
    residuals = np.array([0.0] * 6 + [0.02, -0.02, 0.03, 0.09])
    assert gross_outliers(residuals)[0].tolist() == [9]  # 0.09 > the 0.08 floor: a false alarm
    rows, threshold = gross_outliers(residuals, n_params=5)
    assert rows.tolist() == [] and threshold == pytest.approx(8 * 1.4826 * 0.02)
