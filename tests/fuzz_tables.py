"""Generated run tables and the judge of what scalelaw did with them (tests/test_fuzz.py, benchmarks/fuzz.py).

A case is drawn from a :class:`Source`: hypothesis' ``data.draw`` in the tests (so a failure shrinks to a
small table), a seeded numpy Generator in the benchmark (so 10,000 cases are reproducible). The structure
and every corruption come from the source; bulk values (the clean ladder) from a numpy seed it draws.

The property judged by :func:`run_api`, :func:`run_file` and :func:`judge_cli`: every outcome is a clean ``DataError``
(exit code 2 with one line on stderr for the CLI) naming a column, rows or a file-level reason, or a
finite fit whose status tells the truth: a constant target is flagged ``no_signal``, planted gross
outliers are flagged with their rows. Anything else is a crash (another exception, exit 1, a traceback)
or silently wrong (NaN parameters, a constant or outlier not flagged). The judges read the status
defensively, so they also classify code older than those flags (the benchmark's "before").
"""

from __future__ import annotations

import datetime
import json
import math
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np
import pandas as pd

T = TypeVar("T")

#: Outcome classes, in the order reports list them.
OUTCOMES = ("data_error", "truthful_fit", "crash", "silently_wrong")
#: Formats and encodings files are written in (read_table picks the reader by extension).
FORMATS = ("csv", "tsv", "parquet", "jsonl", "json")
ENCODINGS = ("utf-8", "utf-8-sig", "latin-1")
#: A clean DataError says where: a column, rows, or what is wrong with the file as a whole.
_WHERE = re.compile(r"column|row|cannot read|is empty|JSON|--map")
EPOCH = {"E": 1.8172, "A": 482.01, "B": 2085.43, "alpha": 0.3478, "beta": 0.3658}
POWER = {"E": 1.7, "A": 2e3, "alpha": 0.15}


class Source(Protocol):
    """Where a case's choices come from. Options are listed benign first: hypothesis shrinks toward them."""

    def integer(self, lo: int, hi: int) -> int: ...

    def choice(self, options: Sequence[T]) -> T: ...

    def chance(self, p: float) -> bool: ...


class RngSource:
    """Choices from a seeded numpy Generator (the benchmark)."""

    def __init__(self, seed: int | Sequence[int]) -> None:
        self.rng = np.random.default_rng(seed)

    def integer(self, lo: int, hi: int) -> int:
        return int(self.rng.integers(lo, hi + 1))

    def choice(self, options: Sequence[T]) -> T:
        return options[int(self.rng.integers(len(options)))]

    def chance(self, p: float) -> bool:
        return bool(self.rng.random() < p)


class HypothesisSource:
    """Choices from hypothesis' ``data.draw`` (the tests); shrinks toward the first option and toward False."""

    def __init__(self, data: Any) -> None:
        from hypothesis import strategies as st

        self.data, self.st = data, st

    def integer(self, lo: int, hi: int) -> int:
        return self.data.draw(self.st.integers(lo, hi))

    def choice(self, options: Sequence[T]) -> T:
        return self.data.draw(self.st.sampled_from(list(options)))

    def chance(self, p: float) -> bool:
        # sampled_from draws near-uniformly (integers() favours small values) and shrinks toward False.
        hits = max(1, round(20 * p))
        return self.data.draw(self.st.sampled_from([False] * (20 - hits) + [True] * hits))


@dataclass
class Case:
    """One generated table and what a truthful fit of it must report.

    Attributes
    ----------
    frame : DataFrame
        The table (RangeIndex: row position = label; files label rows from 1).
    law : str
        ``"power"`` or ``"chinchilla"``.
    constant_target : bool
        The loss column was planted constant: a fit must set ``no_signal``.
    outliers : tuple of int
        Row positions planted as gross outliers (x2 or /2 or beyond, noise <= 2%): a fit must flag each.
    notes : list of str
        What the generator did, for failure messages.
    clean : bool
        The law's columns hold the clean ladder (extra columns and row order aside): flags are false alarms.
    must_refuse : str
        Why the table must end in a DataError ("" when it may fit): a date, duration, complex number,
        boolean, overflowing number or text where a number is read, a repeated row, a missing column.
    fmt, encoding : str
        File format and text encoding, for cases written to disk.
    """

    frame: pd.DataFrame
    law: str
    constant_target: bool = False
    outliers: tuple[int, ...] = ()
    notes: list[str] = field(default_factory=list)
    clean: bool = True
    must_refuse: str = ""
    fmt: str = "csv"
    encoding: str = "utf-8"

    def describe(self) -> str:
        return f"{self.law} on {self.frame.shape[0]}x{self.frame.shape[1]} ({self.fmt}, {self.encoding}): " + (
            "; ".join(self.notes) or "clean"
        )


# ----------------------------------------------------------------------------------------------- generation
#: Cell values every format still carries as something other than a positive number: refused wherever
#: they stand in a numeric column.
_REFUSED_CELLS: tuple[Any, ...] = (
    0.0,
    -1.0,
    10**400,
    -(10**400),
    "1e400",
    "abc",
    True,
    pd.Timestamp("2021-01-01"),
    datetime.timedelta(days=1),
    1 + 2j,
    [1, 2],
)
#: Cell values that break a column, each a different way. The ones not above are refused only in a
#: column the law reads (inf and NaN may come back from JSON as null, an empty cell) or are numbers.
_BAD_CELLS: tuple[Any, ...] = (
    math.nan,
    math.inf,
    -math.inf,
    10**20,
    "",
    " 7e10 ",
    None,
    1e308,
    5e-324,
    *_REFUSED_CELLS,
)
#: Whole-column changes of kind: some are still numbers (and must work), some are refused.
_REFUSED_KINDS = ("datetime", "timedelta", "complex", "bool")
_COLUMN_KINDS = (
    "text",
    "python_int",
    "float32",
    "category",
    "nullable_int",
    "datetime",
    "timedelta",
    "complex",
    "bool",
)


def make_case(src: Source, file_case: bool = False, max_extra: int = 2000) -> Case:
    """Draw one case: a clean ladder for the law, then zero or more corruptions and plants.

    ``file_case`` also draws a format and an encoding; ``max_extra`` caps the extra metric columns.
    """
    law = src.choice(["power", "chinchilla", "power"])  # chinchilla fits cost 3-5x more
    n = src.choice([30, 12, 240, 60, 5, 3, 2, 1, 0])
    rng = np.random.default_rng(src.integer(0, 2**31 - 1))
    sigma = src.choice([0.01, 0.0, 0.02, 0.005])
    frame = ladder(law, n, sigma, rng, with_flops=src.chance(0.5), with_run=src.chance(0.5))
    case = Case(frame=frame, law=law, notes=[f"noise {sigma:g}"] if sigma else ["no noise"])
    if src.chance(0.12):
        _plant_constant(case, src, rng)
    if src.chance(0.2):
        _plant_outliers(case, src, sigma)
    n_extra = src.choice([4, 40, max_extra]) if src.chance(0.3) else 0
    if n_extra:
        _add_extra_columns(case, n_extra, src, rng)
    if src.chance(0.3):
        _corrupt_cell(case, src)
    if src.chance(0.12):
        _change_column_kind(case, src)
    if src.chance(0.05):
        _repeat_row(case, src)
    if src.chance(0.05):
        _repeat_column(case, src, file_case)
    if src.chance(0.04):
        _drop_needed_column(case, src)
    if src.chance(0.15) and len(case.frame) > 1:
        order = rng.permutation(len(case.frame))
        inverse = np.argsort(order)
        case.frame = case.frame.iloc[order].reset_index(drop=True)
        case.outliers = tuple(sorted(int(inverse[i]) for i in case.outliers))
        case.notes.append("rows shuffled")
    if file_case:
        case.fmt = src.choice(FORMATS)
        case.encoding = src.choice(ENCODINGS)
        if case.encoding == "latin-1":
            case.frame = case.frame.assign(**{"café": "naïve"})  # a non-ASCII byte that is not UTF-8
    return case


def ladder(law: str, n: int, sigma: float, rng: np.random.Generator, with_flops: bool, with_run: bool):
    """A clean ladder: params and tokens log-uniform, loss from the law times log-normal noise."""
    params = np.exp(rng.uniform(np.log(7e7), np.log(1.6e10), n))
    tokens = np.exp(rng.uniform(np.log(5e9), np.log(5e11), n))
    flops = 6.0 * params * tokens
    if law == "power":
        clean = POWER["E"] + POWER["A"] * flops ** -POWER["alpha"]
    else:
        clean = EPOCH["E"] + EPOCH["A"] * params ** -EPOCH["alpha"] + EPOCH["B"] * tokens ** -EPOCH["beta"]
    columns: dict[str, Any] = {}
    if with_run:
        columns["run"] = [f"r{i}" for i in range(n)]
    columns.update(params=params, tokens=tokens)
    if with_flops:  # else load_runs derives it as 6ND
        columns["flops"] = flops
    columns["loss"] = clean * np.exp(rng.normal(0.0, sigma, n))
    return pd.DataFrame(columns)


def _plant_constant(case: Case, src: Source, rng: np.random.Generator) -> None:
    value = src.choice([3.0, 2.5, 1e300, 1e-300, 5e-324])
    loss = np.full(len(case.frame), value)
    if src.chance(0.3) and value > 1e-300:  # a constant written with rounding error is still a constant
        loss = loss * (1.0 + 1e-13 * rng.standard_normal(len(loss)))
    case.frame["loss"] = loss
    case.constant_target, case.clean = True, False
    case.notes.append(f"constant loss {value:g}")


def _plant_outliers(case: Case, src: Source, sigma: float) -> None:
    """Gross outliers only where a robust fit must see them: 30 rows or more, at most 1 in 30 of them, x2 or more.

    On a 12-point ladder a near-L1 fit may bend the law through an outlier at the end of the range (a
    leverage point) and flag its neighbours instead: the first 10,000-case run found 2 such misses.
    """
    n = len(case.frame)
    need = 30
    if n < need or sigma > 0.02:
        return
    count = src.choice([1, 2]) if n >= 2 * need else 1
    planted = []
    for row in sorted({src.integer(0, n - 1) for _ in range(count)}):
        how = src.choice(["1e300", "x3", "/4", "x2", "1e-300", "x1e10"])
        old = float(case.frame.at[row, "loss"])
        new = {"1e300": 1e300, "1e-300": 1e-300, "x3": 3 * old, "/4": old / 4, "x2": 2 * old, "x1e10": 1e10 * old}[how]
        with np.errstate(all="ignore"):
            gross = 0 < new < math.inf and abs(math.log(new) - math.log(old)) >= math.log(2) - 1e-9
        case.frame.at[row, "loss"] = new
        case.clean = False
        case.notes.append(f"row {row} loss {how}" + ("" if gross else " (not a gross outlier: not expected)"))
        if gross:
            planted.append(row)
    case.outliers = tuple(planted)


def _add_extra_columns(case: Case, count: int, src: Source, rng: np.random.Generator) -> None:
    """Metric and label columns no law reads: they must pass through untouched, whatever they hold."""
    n = len(case.frame)
    kind = src.choice(["float", "mixed", "int_labels"])
    block = pd.DataFrame(rng.random((n, count)), columns=[f"m{i}" for i in range(count)])
    if kind == "mixed" and count >= 4:
        block["m0"] = [f"label {i}" for i in range(n)]
        block["m1"] = pd.date_range("2024-01-01", periods=n)
        block["m2"] = [i % 2 == 0 for i in range(n)]
        block["m3"] = [[i, "tag"] for i in range(n)]  # JSON records often nest lists: unhashable cells
    if kind == "int_labels":
        block.columns = range(100, 100 + count)  # non-string column labels
    case.frame = pd.concat([case.frame, block], axis=1)
    case.notes.append(f"{count} extra {kind} column(s)")


def _corrupt_cell(case: Case, src: Source) -> None:
    if len(case.frame) == 0:
        return
    column = src.choice([c for c in ("loss", "params", "tokens", "flops", "run") if c in case.frame.columns])
    row = src.integer(0, len(case.frame) - 1)
    value = src.choice(_BAD_CELLS)
    series = case.frame[column]
    if not (isinstance(value, float) and series.dtype == np.float64):
        series = series.astype(object)
    series = series.copy()
    series.iat[row] = value
    case.frame[column] = series
    case.clean = False
    empty = value is None or value == "" or (isinstance(value, float) and not math.isfinite(value))
    # An empty loss is an observation not made: its row is left out with a warning (a W&B row between evaluations).
    unobserved = column == "loss" and (value is None or value == "" or (isinstance(value, float) and math.isnan(value)))
    if (
        column != "run"
        and not unobserved
        and (any(value is v for v in _REFUSED_CELLS) or (empty and column in _law_reads(case)))
    ):
        case.must_refuse = case.must_refuse or f"{column} row {row} is {value!r:.30}"
    if column == "loss":  # the loss no longer is what was planted: only the generic checks apply
        case.constant_target, case.outliers = False, ()
    elif column in _law_reads(case):  # an input like 5e-324 is a leverage point the fit may chase:
        case.outliers = ()  # it can hide a planted outlier from any check on residuals
    case.notes.append(f"{column} row {row} set to {value!r:.30}")


def _change_column_kind(case: Case, src: Source) -> None:
    column = src.choice([c for c in ("loss", "params", "tokens", "flops") if c in case.frame.columns])
    kind = src.choice(_COLUMN_KINDS)
    if case.frame[column].dtype != np.float64:
        return  # a broken cell is there: converting through float64 would launder it (True -> 1.0)
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            case.frame[column] = _as_kind(case.frame[column].to_numpy(dtype=np.float64), kind)
    except (TypeError, ValueError, OverflowError):
        return  # e.g. a corrupted cell, or 1e300 as Int64: this table cannot take that kind
    case.clean = False
    if kind in _REFUSED_KINDS:
        case.must_refuse = case.must_refuse or f"{column} holds {kind} values"
    if column == "loss":
        case.constant_target, case.outliers = False, ()
    case.notes.append(f"{column} as {kind}")


def _as_kind(values: np.ndarray, kind: str) -> Any:
    n = len(values)
    if kind == "text":
        return [repr(float(v)) for v in values]
    if kind == "python_int":
        return pd.Series([int(v) for v in values], dtype=object)
    if kind == "float32":
        return values.astype(np.float32)
    if kind == "category":
        return pd.Series(values).astype("category")
    if kind == "nullable_int":
        return pd.Series(np.round(values), dtype="Int64")
    if kind == "datetime":
        return pd.date_range("2024-01-01", periods=n, freq="h")
    if kind == "timedelta":
        return pd.to_timedelta(np.arange(1, n + 1), unit="s")
    if kind == "complex":
        return values + 1j
    return values > np.median(values) if n else values.astype(bool)


def _repeat_row(case: Case, src: Source) -> None:
    if len(case.frame) == 0:
        return
    row = src.integer(0, len(case.frame) - 1)
    case.frame = pd.concat([case.frame, case.frame.iloc[[row]]], ignore_index=True)
    case.clean = False
    loss = case.frame["loss"].iloc[row] if "loss" in case.frame.columns else 1.0
    if not (loss is None or (isinstance(loss, str) and loss == "") or (isinstance(loss, float) and math.isnan(loss))):
        case.must_refuse = case.must_refuse or f"row {row} repeated"  # unless it is left out for its empty loss
    case.notes.append(f"row {row} repeated")


def _law_reads(case: Case) -> set[str]:
    """Columns the law reads: flops is derived from params and tokens when the table has none."""
    if case.law == "chinchilla":
        return {"params", "tokens", "loss"}
    return {"flops", "loss"} if "flops" in case.frame.columns else {"params", "tokens", "loss"}


def _repeat_column(case: Case, src: Source, file_case: bool) -> None:
    name = src.choice(["loss", " loss ", "tokens\t"])  # names are stripped: ' loss ' is 'loss' again
    source = "loss" if "loss" in case.frame.columns else case.frame.columns[0]
    extra = case.frame[[source]].copy()
    extra.columns = [name]
    case.frame = pd.concat([case.frame, extra], axis=1)
    case.clean = False
    if not file_case:  # a CSV reader renames a repeated header ('loss.1'); a frame keeps both
        case.must_refuse = case.must_refuse or f"column {name!r} twice"
    case.notes.append(f"column {name!r} added twice")


def _drop_needed_column(case: Case, src: Source) -> None:
    needed = ["loss"] if case.law == "power" else ["loss", "params", "tokens"]  # power derives flops as 6ND
    column = src.choice([c for c in needed if c in case.frame.columns] or ["loss"])
    if column in case.frame.columns:  # also its padded copies (' loss '), which load_runs reads as it
        case.frame = case.frame.loc[:, [str(c).strip() != column for c in case.frame.columns]]
        case.clean = False
        case.must_refuse = case.must_refuse or f"no {column} column"
        case.notes.append(f"column {column} dropped")


# ----------------------------------------------------------------------------------------------------- files
def write_case(case: Case, directory: Path, name: str) -> Path:
    """Write ``case.frame`` in its format and encoding; fall back to CSV when the format cannot hold it.

    Parquet refuses mixed object columns and non-string labels, JSON refuses duplicate labels: those
    tables go to CSV (and ``case.fmt`` says so).
    """
    directory.mkdir(parents=True, exist_ok=True)
    try:
        return _write(case.frame, directory / f"{name}.{case.fmt}", case.fmt, case.encoding)
    except Exception:
        case.notes.append(f"{case.fmt} could not hold it: written as csv")
        case.fmt = "csv"
        return _write(case.frame, directory / f"{name}.csv", "csv", case.encoding)


def _write(frame: pd.DataFrame, path: Path, fmt: str, encoding: str) -> Path:
    if fmt in ("csv", "tsv"):
        frame.to_csv(path, index=False, sep="," if fmt == "csv" else "\t", encoding=encoding)
    elif fmt == "parquet":
        mixed = [c for c in frame.columns if frame[c].dtype == object and frame[c].dropna().map(type).nunique() > 1]
        if mixed:  # pyarrow would store [2.5, True] as [2.5, 1.0]: the file would not hold the planted cell
            raise ValueError(f"mixed object column(s) {mixed}")
        frame.to_parquet(path, index=False)
    else:
        text = frame.to_json(orient="records", lines=fmt == "jsonl", date_format="iso", double_precision=15)
        path.write_text(text, encoding=encoding)
    return path


# ----------------------------------------------------------------------------------------------------- judge
@dataclass
class Verdict:
    """What happened to one case: one of :data:`OUTCOMES` and why, and numpy warnings that leaked out of scalelaw."""

    outcome: str
    detail: str = ""
    leaked: list[str] = field(default_factory=list)


def run_api(case: Case, fit_kwargs: dict[str, Any] | None = None) -> Verdict:
    """``load_runs`` then ``fit`` on the in-memory table; judge the outcome and that the input is untouched."""
    from scalelaw import DataError, fit, load_runs

    before = case.frame.copy(deep=True)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")  # the status is judged, not scalelaw's own warnings
            result = fit(case.law, load_runs(case.frame), **(fit_kwargs or {}))
    except DataError as exc:
        verdict = _judge_error(str(exc))
    except Exception as exc:
        verdict = Verdict("crash", f"{type(exc).__name__}: {str(exc)[:300]}")
    else:
        params = np.array(result.values, dtype=float)
        y = np.asarray(result.data.columns[result.y]) if result.data is not None else None
        verdict = judge_fit(case, params, float(result.objective), _status_dict(result.status), y)
    if not _same_frame(case.frame, before):
        return Verdict("silently_wrong", "input frame modified")
    verdict.leaked = _leaked(caught)
    return verdict


def _same_frame(frame: pd.DataFrame, before: pd.DataFrame) -> bool:
    """Labels, dtypes and values equal (NaN equal to NaN): DataFrame.equals, 100x faster than assert_frame_equal."""
    return frame.columns.equals(before.columns) and frame.index.equals(before.index) and frame.equals(before)


def run_file(case: Case, path: Path) -> Verdict:
    """``load_runs`` then ``fit`` on a file written by :func:`write_case`; the file must be untouched."""
    from scalelaw import DataError, fit, load_runs

    before = path.read_bytes()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = fit(case.law, load_runs(path))
    except DataError as exc:
        verdict = _judge_error(str(exc))
    except Exception as exc:
        verdict = Verdict("crash", f"{type(exc).__name__}: {str(exc)[:300]}")
    else:
        params = np.array(result.values, dtype=float)
        y = np.asarray(result.data.columns[result.y]) if result.data is not None else None
        verdict = judge_fit(case, params, float(result.objective), _status_dict(result.status), y)
    if path.read_bytes() != before:
        return Verdict("silently_wrong", "input file modified")
    verdict.leaked = _leaked(caught)
    return verdict


def _leaked(caught: list[warnings.WarningMessage]) -> list[str]:
    """NumPy or pandas RuntimeWarnings raised inside scalelaw (its UserWarnings are the status, on purpose)."""
    return [
        f"{w.category.__name__}: {w.message} ({Path(w.filename).name}:{w.lineno})"
        for w in caught
        if issubclass(w.category, RuntimeWarning) and "scalelaw" in w.filename
    ]


def cli_command(path: Path, law: str) -> list[str]:
    """The command :func:`judge_cli` judges (run with ``sys.executable`` prepended)."""
    return ["-m", "scalelaw", "fit", str(path), "--law", law, "--json"]


def judge_cli(case: Case, returncode: int, stdout: str, stderr: str) -> Verdict:
    """Judge ``scalelaw fit FILE --law LAW --json``: exit 2 with one ``error:`` line, or exit 0 with a truthful fit."""
    if "Traceback" in stderr or "internal error" in stderr:
        return Verdict("crash", f"exit {returncode}: {stderr.strip()[-300:]}")
    if returncode == 2:
        lines = stderr.strip().splitlines()
        if len(lines) != 1 or not lines[0].startswith("error: "):
            return Verdict("crash", f"exit 2 but stderr is not one error line: {stderr[:300]!r}")
        return _judge_error(lines[0][len("error: ") :])
    if returncode != 0:
        return Verdict("crash", f"exit {returncode}: {stderr.strip()[-300:]}")
    try:
        data = json.loads(stdout)
    except ValueError:
        return Verdict("crash", f"exit 0 without JSON on stdout: {stdout[:200]!r}")
    params = np.array([float(v) for v in data["params"].values()])
    columns = data.get("data", {}).get("columns", {})  # fit --json names the columns; older code gave the values
    y_column = columns.get(data.get("y", "loss")) if isinstance(columns, dict) else None
    y = None if y_column is None else np.array(y_column, dtype=float)
    return judge_fit(case, params, float(data["objective"]), data["status"], y)


def judge_fit(case: Case, params: np.ndarray, objective: float, status: dict, y: np.ndarray | None) -> Verdict:
    """A fit is truthful when allowed at all, finite, a constant target is flagged and every planted outlier named.

    ``status`` is ``FitStatus.to_dict()`` (or the CLI's JSON); fields missing in older code read as unflagged.
    """
    if case.must_refuse:
        return Verdict("silently_wrong", f"fitted although {case.must_refuse}")
    if not (np.all(np.isfinite(params)) and math.isfinite(objective)):
        return Verdict("silently_wrong", f"non-finite fit: params {params.tolist()}, objective {objective}")
    flagged = set(status.get("outliers", ()))
    constant = case.constant_target or (y is not None and y.size > 0 and np.ptp(np.log(y)) == 0.0)
    if constant and not status.get("no_signal", False):
        return Verdict("silently_wrong", "constant target not flagged no_signal")
    missed = [row for row in case.outliers if row not in flagged]
    if missed:
        return Verdict("silently_wrong", f"planted outlier row(s) {missed} not flagged (flagged: {sorted(flagged)})")
    return Verdict("truthful_fit", "flagged: " + ", ".join(_flags(status)) if _flags(status) else "ok")


def _judge_error(message: str) -> Verdict:
    if "\n" in message.strip() or not _WHERE.search(message):
        return Verdict("crash", f"DataError without a column, rows or file reason: {message[:300]!r}")
    return Verdict("data_error", message)


def _status_dict(status: Any) -> dict:
    return status.to_dict() if hasattr(status, "to_dict") else {}


def _flags(status: dict) -> list[str]:
    flags = ["no_signal"] if status.get("no_signal") else []
    flags += ["outliers"] if status.get("outliers") else []
    flags += [] if status.get("converged", True) else ["not converged"]
    flags += ["at_bound"] if status.get("at_bound") else []
    flags += ["not_identifiable"] if status.get("not_identifiable") else []
    return flags


def error_kind(message: str) -> str:
    """A DataError message with numbers, names and quoted values blanked: groups messages by template."""
    text = re.sub(r"'[^']*'", "'…'", message)
    text = re.sub(r"\(rows? [^)]*\)", "(rows …)", text)
    text = re.sub(r"available: .*?\. Rename", "available: …. Rename", text)
    text = re.sub(r"(?<![\w/])/\S+", "PATH", text)
    return re.sub(r"\d+(\.\d+)?(e[+-]?\d+)?", "N", text)[:140]
