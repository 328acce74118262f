"""Runs: the validated long table of observations every fit starts from.

One row is one observation (a final loss, or a checkpoint of a run). Canonical column names let
laws bind to data by name; ``mapping`` renames a file's own column names onto them.
"""

from __future__ import annotations

import datetime
import decimal
import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from scalelaw.data.rows import drop_unobserved, warn_if_runs_unmarked, where_mask
from scalelaw.errors import DataError, format_rows

#: Canonical columns and what they hold. Other columns (metrics, labels) pass through untouched.
CANONICAL_COLUMNS: dict[str, str] = {
    "run": "run id; groups the checkpoints of one training run (bootstrap and backtests resample runs)",
    "params": "parameter count N (say in your notes whether it includes embeddings)",
    "tokens": "training tokens D seen so far (repeats counted)",
    "unique_tokens": "unique tokens U_D available (data-constrained laws)",
    "flops": "training compute C in FLOPs (derived as 6*params*tokens when absent)",
    "step": "optimizer step of the checkpoint",
    "lr": "learning rate at the step",
    "batch_size": "batch size in tokens",
    "loss": "held-out cross-entropy in nats/token",
    "seed": "random seed of the run",
}

_POSITIVE = ("params", "tokens", "unique_tokens", "flops", "batch_size")
_NON_NEGATIVE = ("step", "lr")
_NUMERIC = (*_POSITIVE, *_NON_NEGATIVE, "loss")

#: Columns of these kinds are refused where a number is read: what they hold, and what to do instead.
_NOT_NUMBERS: dict[str, tuple[str, str]] = {
    "boolean": ("true/false values", "write 0/1 if it really is a count, or point the law at a numeric column"),
    "datetime": ("dates/times", "convert it to a number such as the tokens or steps seen at that time"),
    "timedelta": ("durations", "convert it to a number such as the tokens or steps it stands for"),
    "complex": ("complex numbers", "keep the real part (e.g. .real) if the imaginary part is an artifact"),
}
#: Pandas' inferred kinds of an object column that ``pd.to_numeric`` reads as plain numbers or text.
_PLAIN_KINDS = frozenset({"integer", "floating", "mixed-integer-float", "decimal", "string", "empty"})
#: Columns compared first when looking for repeated rows in a wide table (see _repeated_rows_hashed).
_KEY_COLUMNS = 16


def parse_mapping(spec: str | Mapping[str, str] | Iterable[str] | None) -> dict[str, str]:
    """Parse ``"Model Size=params,Tokens=tokens"`` (or a list of such strings) into ``{old: new}``."""
    if spec is None:
        return {}
    if isinstance(spec, Mapping):
        return {str(k): str(v) for k, v in spec.items()}
    items = [spec] if isinstance(spec, str) else list(spec)
    mapping: dict[str, str] = {}
    for item in items:
        for part in item.split(","):
            if not part.strip():
                continue
            if "=" not in part:
                raise DataError(
                    f"cannot read column mapping {part.strip()!r}: write it as 'SOURCE=canonical', "
                    "for example 'Model Size=params'"
                )
            old, new = (s.strip() for s in part.split("=", 1))
            if not old or not new:
                raise DataError(f"column mapping {part.strip()!r} has an empty side; write 'SOURCE=canonical'")
            mapping[old] = new
    return mapping


@dataclass(frozen=True, eq=False)
class Runs:
    """A validated table of training observations.

    Build one with :meth:`Runs.from_frame` or :func:`scalelaw.load_runs`; the constructor does not
    validate. The table is copied on the way in, so the caller's data is never modified.

    Attributes
    ----------
    table : pandas.DataFrame
        Observations in canonical column names. The index holds the row labels used in error
        messages (data-row numbers counted from 1 for files, the original index for DataFrames).
    source : str
        Where the data came from (a path, ``dataset:NAME`` or ``DataFrame``).
    notes : tuple of str
        What loading did to the data, e.g. that ``flops`` was derived as 6ND.
    """

    table: pd.DataFrame
    source: str = "DataFrame"
    notes: tuple[str, ...] = field(default=())

    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        mapping: str | Mapping[str, str] | Iterable[str] | None = None,
        source: str = "DataFrame",
        derive_flops: bool = True,
        *,
        where: str | Sequence[str] | None = None,
        target: str | None = None,
    ) -> Runs:
        """Validate ``frame`` and return :class:`Runs`.

        Parameters
        ----------
        frame : pandas.DataFrame
            One row per observation. Not modified.
        mapping : str or mapping, optional
            Renames, e.g. ``"Model Size=params"`` or ``{"Model Size": "params"}``.
        source : str
            Label used in messages.
        derive_flops : bool
            Add ``flops = 6 * params * tokens`` when ``flops`` is absent (recorded in ``notes``).
        where : str or sequence of str, optional
            Keep only the rows these pandas query strings select (after ``mapping``), e.g. ``"params > 1e8"``
            (:func:`scalelaw.data.rows.where_mask`); filtered before validation, so it can drop bad rows.
        target : str, optional
            The column to be fitted: rows where it is empty are dropped, with a note and a
            :class:`~scalelaw.errors.DataWarning`. Without it only rows with no ``loss`` and a non-positive
            scale (a tracker's step-0 rows) are dropped so.

        Raises
        ------
        DataError
            With the column and rows at fault; the message says whether rows are data rows of a file
            (counted from 1, header excluded) or index labels of a DataFrame.
        """
        try:
            return cls._validated(frame, mapping, source, derive_flops, where, target)
        except DataError as exc:
            raise DataError(_with_row_legend(str(exc), source)) from None

    @classmethod
    def _validated(cls, frame, mapping, source, derive_flops, where, target) -> Runs:
        if not isinstance(frame, pd.DataFrame):
            raise DataError(f"expected a pandas DataFrame, got {type(frame).__name__}")
        table = frame.copy()
        table.columns = [str(c).strip() for c in table.columns]
        rename = parse_mapping(mapping)
        missing = [old for old in rename if old not in table.columns]
        if missing:
            raise DataError(
                f"--map names column(s) {', '.join(repr(m) for m in missing)} that {source} does not have; "
                f"its columns are: {_names(table.columns)}"
            )
        table = table.rename(columns=rename)
        # One hashed pass (Index.duplicated), not a count per column: wide tables have thousands of metrics.
        dupes = sorted(set(table.columns[table.columns.duplicated()]))
        if dupes:
            raise DataError(f"column name(s) {', '.join(map(repr, dupes))} appear more than once after mapping")
        if len(table) == 0:
            raise DataError(f"{source} has no rows; a fit needs observations")
        notes: list[str] = []
        if where:
            table = table.loc[where_mask(table, where, source)]
            notes.append(f"kept {len(table)} of {len(frame)} row(s) where {' and '.join(_listed(where))}")
        for col in dict.fromkeys([*_NUMERIC, *([target] if target in table.columns else [])]):
            if col in table.columns:
                table[col] = _as_numeric(table[col], col)
                # Empty cells are allowed until a law or analysis reads the column (Runs.require names them then):
                # a table may lack N* for a few budgets that a law on flops never looks at.
                _check_finite(table[col], col, allow_missing=True)
        table, dropped = drop_unobserved(table, target, _POSITIVE)
        notes += [dropped] if dropped else []
        for col in _NUMERIC:
            if col in table.columns:
                n_missing = int(table[col].isna().sum())
                if n_missing:
                    notes.append(f"column '{col}' has {n_missing} empty value(s); analyses reading it refuse them")
        for col in _POSITIVE:
            if col in table.columns:
                bad = table.index[(table[col] <= 0).to_numpy()]
                if len(bad):
                    raise DataError(
                        f"column '{col}' has {len(bad)} non-positive value(s) ({format_rows(bad)}); "
                        f"scaling laws need {col} > 0"
                    )
        for col in _NON_NEGATIVE:
            if col in table.columns:
                bad = table.index[(table[col] < 0).to_numpy()]
                if len(bad):
                    raise DataError(f"column '{col}' has negative value(s) ({format_rows(bad)}); {col} must be >= 0")
        if derive_flops and "flops" not in table.columns and {"params", "tokens"} <= set(table.columns):
            table["flops"] = _derived_flops(table)
            notes.append("flops derived as 6 * params * tokens (no 'flops' column in the data)")
        if "run" in table.columns:
            if table["run"].isna().any():
                bad = table.index[table["run"].isna().to_numpy()]
                raise DataError(f"column 'run' is empty in {format_rows(bad)}; give every row a run id")
            table["run"] = table["run"].astype(str)
        _check_duplicates(table)
        warn_if_runs_unmarked(table, source)
        return cls(table=table, source=source, notes=tuple(notes))

    def __len__(self) -> int:
        return len(self.table)

    def __repr__(self) -> str:
        cols = ", ".join(self.table.columns[:8]) + (", ..." if self.table.shape[1] > 8 else "")
        return f"Runs({len(self)} rows, {self.n_runs} runs, columns: {cols}; source={self.source!r})"

    @property
    def columns(self) -> list[str]:
        return list(self.table.columns)

    @property
    def run_ids(self) -> np.ndarray:
        """Run id of every row; each row is its own run when the data has no ``run`` column."""
        if "run" in self.table.columns:
            return self.table["run"].to_numpy(dtype=str)
        return np.array([f"row{label}" for label in self.table.index], dtype=str)

    @property
    def n_runs(self) -> int:
        return len(np.unique(self.run_ids))

    def require(self, columns: Sequence[str], positive: Sequence[str] = (), why: str = "") -> None:
        """Check that ``columns`` exist, are numeric and finite; ``positive`` ones must be > 0."""
        try:
            self._require(columns, positive, why)
        except DataError as exc:
            raise DataError(_with_row_legend(str(exc), self.source)) from None

    def _require(self, columns: Sequence[str], positive: Sequence[str], why: str) -> None:
        absent = [c for c in columns if c not in self.table.columns]
        if absent:
            reason = f" ({why})" if why else ""
            raise DataError(
                f"{self.source} has no column {', '.join(map(repr, absent))}{reason}; available: "
                f"{_names(self.table.columns)}. Rename with --map 'YOUR NAME={absent[0]}'"
            )
        for col in columns:
            values = _as_numeric(self.table[col], col)
            _check_finite(values, col)
            if col in positive:
                bad = self.table.index[(values <= 0).to_numpy()]
                if len(bad):
                    raise DataError(
                        f"column '{col}' has {len(bad)} non-positive value(s) ({format_rows(bad)}); "
                        f"it is fitted on a log scale, so it must be > 0"
                    )

    def with_target(self, target: str) -> Runs:
        """These runs without the rows whose ``target`` is empty (noted, with a :class:`~scalelaw.errors.DataWarning`).

        The same object when no row lacks it or the column is absent (:meth:`require` then says so).
        """
        if target not in self.table.columns or not self.table[target].isna().any():
            return self
        table, note = drop_unobserved(self.table, target, _POSITIVE)
        return Runs(table=table, source=self.source, notes=(*self.notes, *([note] if note else [])))

    def array(self, column: str) -> np.ndarray:
        """Column as a float64 array (after :meth:`require`)."""
        return _as_numeric(self.table[column], column).to_numpy(dtype=np.float64)

    def subset(self, mask: np.ndarray | pd.Series, note: str | None = None) -> Runs:
        """Rows where ``mask`` is true, as new :class:`Runs` (validation already holds)."""
        mask = np.asarray(mask, dtype=bool)
        notes = (*self.notes, note) if note else self.notes
        return Runs(table=self.table.loc[mask], source=self.source, notes=notes)

    def fingerprint(self, columns: Sequence[str]) -> str:
        """SHA-256 of the values in ``columns`` (float64 bytes, in order): identifies the data of a fit.

        The run ids count too when the table has a ``run`` column (see :func:`data_fingerprint`).
        """
        run_ids = self.run_ids if "run" in self.table.columns else None
        return data_fingerprint([(col, self.array(col)) for col in columns], run_ids)


def data_fingerprint(columns: Iterable[tuple[str, Any]], run_ids: Sequence[str] | None = None) -> str:
    """``sha256:HEX`` of named columns (name, then float64 bytes, in order) and, if given, the run ids.

    The one definition of a fit's ``data_hash``: :meth:`Runs.fingerprint` computes it when fitting and
    :attr:`scalelaw.FitResult.data_matches_hash` recomputes it from a saved fit's data, so the two agree.

    Examples
    --------
    >>> runs = Runs.from_frame(pd.DataFrame({"flops": [1e18, 1e19], "loss": [3.0, 2.5]}))
    >>> runs.fingerprint(["flops", "loss"]) == data_fingerprint([("flops", [1e18, 1e19]), ("loss", [3.0, 2.5])])
    True
    """
    digest = hashlib.sha256()
    for name, values in columns:
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(values, dtype=np.float64).tobytes())
    if run_ids is not None:
        digest.update("\x00".join(run_ids).encode())
    return "sha256:" + digest.hexdigest()


#: Sources whose row labels are a DataFrame's own index, not data-row numbers of a file.
_INDEX_SOURCES = ("DataFrame", "dict of arrays")
_MENTIONS_ROWS = re.compile(r"\brows? -?[0-9]")


def _with_row_legend(message: str, source: str) -> str:
    """``message`` saying what its row labels are: data rows of a file or index labels of a DataFrame."""
    if not _MENTIONS_ROWS.search(message) or "1-based" in message or "index label" in message:
        return message
    if source in _INDEX_SOURCES or source.startswith("seed means"):
        return f"{message} (rows are index labels of the DataFrame)"
    return f"{message} (rows are data rows of {source}, 1-based, header excluded)"


def _listed(where: str | Sequence[str]) -> list[str]:
    return [where] if isinstance(where, str) else list(where)


def _names(columns: Iterable[object], limit: int = 20) -> str:
    """Quoted column names for a message, truncated past ``limit`` (wide tables have thousands)."""
    names = [repr(str(c)) for c in columns]
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def _as_numeric(series: pd.Series, col: str) -> pd.Series:
    """``series`` as float64, or a DataError naming the column, the rows and a fix.

    Refused: booleans, dates, durations and complex numbers (whole columns or single cells), text that
    is not a number, and numbers that overflow float64 (e.g. a 400-digit integer), which would
    otherwise become inf or raise OverflowError. Empty cells become NaN (callers decide about them).
    """
    if isinstance(series.dtype, pd.CategoricalDtype):
        series = series.astype(object)
    kind = _dtype_kind(series.dtype)
    if kind is not None:
        what, fix = _NOT_NUMBERS[kind]
        raise DataError(f"column '{col}' holds {what} (dtype {series.dtype}) where a number is needed; {fix}")
    if pd.api.types.is_numeric_dtype(series.dtype):
        with np.errstate(over="ignore", invalid="ignore"):  # overflow (e.g. float128) is reported below
            values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        converted = pd.Series(values, index=series.index, name=series.name)
    else:
        converted = _object_as_numeric(series, col)
    _check_overflow(series, converted, col)
    return converted


def _dtype_kind(dtype) -> str | None:
    """The :data:`_NOT_NUMBERS` kind of a whole column's dtype, or None for numbers and objects."""
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_datetime64_any_dtype(dtype) or isinstance(dtype, pd.PeriodDtype):
        return "datetime"
    if pd.api.types.is_timedelta64_dtype(dtype):
        return "timedelta"
    if pd.api.types.is_complex_dtype(dtype):
        return "complex"
    return None


def _element_kind(value: object) -> str | None:
    """The :data:`_NOT_NUMBERS` kind of one cell of an object column, or None."""
    if isinstance(value, bool | np.bool_):
        return "boolean"
    if isinstance(value, complex | np.complexfloating):
        return "complex"
    if isinstance(value, datetime.timedelta | np.timedelta64):  # pd.Timedelta is a timedelta
        return "timedelta"
    if isinstance(value, datetime.date | datetime.time | np.datetime64 | pd.Period):  # pd.Timestamp is a date
        return "datetime"
    return None


def _is_missing(value: object) -> bool:
    return value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and value != value)


def _object_as_numeric(series: pd.Series, col: str) -> pd.Series:
    """Convert an object or string column: plain numbers and numeric text fast, anything else cell by cell."""
    if pd.api.types.infer_dtype(series, skipna=True) in _PLAIN_KINDS:
        try:
            converted = pd.to_numeric(series, errors="coerce")
        except (OverflowError, TypeError, ValueError):
            converted = None  # e.g. a Python int beyond float range: find the cells one by one
        if converted is not None and not pd.api.types.is_complex_dtype(converted.dtype):
            _check_text(series, converted, col)
            return converted.astype(np.float64)
    values = series.to_numpy(dtype=object)
    out = np.full(len(values), np.nan)
    kinds: dict[str, list[int]] = {}
    for i, value in enumerate(values):
        if _is_missing(value):
            continue
        kind = _element_kind(value)
        if kind is not None:
            kinds.setdefault(kind, []).append(i)
        elif isinstance(value, str):
            out[i] = pd.to_numeric(pd.Series([value]), errors="coerce").iloc[0]
        else:
            out[i] = _number_or_nan(value)
    for kind, positions in kinds.items():
        what, fix = _NOT_NUMBERS[kind]
        rows = series.index[positions]
        example = values[positions[0]]
        raise DataError(
            f"column '{col}' has {len(rows)} cell(s) holding {what} ({format_rows(rows)}, e.g. {_short(example)}) "
            f"where a number is needed; {fix}"
        )
    converted = pd.Series(out, index=series.index, name=series.name)
    _check_text(series, converted, col)
    return converted


def _number_or_nan(value: object) -> float:
    """``float(value)`` for a number; inf when it overflows (reported by the caller); NaN when not a number."""
    try:
        return float(value)  # type: ignore[arg-type]
    except OverflowError:
        return np.inf
    except (TypeError, ValueError):
        return np.nan


def _check_text(series: pd.Series, converted: pd.Series, col: str) -> None:
    """Refuse cells that were there but did not read as numbers."""
    bad = series.index[(converted.isna() & series.notna()).to_numpy()]
    if len(bad):
        example = series.loc[bad[0]]
        what = "non-numeric text" if isinstance(example, str) else "non-numeric value(s)"
        raise DataError(
            f"column '{col}' has {what} ({format_rows(bad)}, e.g. {_short(example)}); write plain numbers such as 7e10"
        )


def _check_overflow(series: pd.Series, converted: pd.Series, col: str) -> None:
    """Refuse finite inputs that became inf as float64 (an inf written as such is left to _check_finite)."""
    inf_at = np.flatnonzero(np.isinf(converted.to_numpy(dtype=np.float64)))
    if not len(inf_at):
        return
    original = series.to_numpy(dtype=object)
    over = [i for i in inf_at if not _spells_infinity(original[i])]
    if over:
        rows = series.index[over]
        raise DataError(
            f"column '{col}' has {len(over)} value(s) beyond the float range ({format_rows(rows)}, e.g. "
            f"{_short(original[over[0]])}); numbers must lie within ±1.8e308: check for a unit or "
            "logging error"
        )


def _spells_infinity(value: object) -> bool:
    """True when ``value`` is an infinity as given (float inf, 'inf' text), not a finite number too large."""
    if isinstance(value, str):
        return value.strip().lower().lstrip("+-") in ("inf", "infinity")
    if isinstance(value, decimal.Decimal):
        return value.is_infinite()
    if isinstance(value, float | np.floating):
        return bool(np.isinf(value))
    return False


def _short(value: object, limit: int = 40) -> str:
    """``repr(value)`` cut to ``limit`` characters (a 400-digit integer would swamp the message)."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 1]}… ({len(text)} characters)"


def _derived_flops(table: pd.DataFrame) -> pd.Series:
    """``6 * params * tokens``, refusing rows where the product overflows float64."""
    with np.errstate(over="ignore"):
        flops = 6.0 * table["params"] * table["tokens"]
    given = np.isfinite(table["params"].to_numpy()) & np.isfinite(table["tokens"].to_numpy())
    over = np.isinf(flops.to_numpy()) & given
    if over.any():
        rows = table.index[over]
        raise DataError(
            f"flops = 6 * params * tokens overflows float64 in {format_rows(rows)}; params and tokens must be in raw "
            "units (e.g. params=7e10), so their product stays below ~1e308"
        )
    return flops


def _check_finite(series: pd.Series, col: str, allow_missing: bool = False) -> None:
    values = series.to_numpy(dtype=np.float64)
    bad_mask = np.isinf(values) if allow_missing else ~np.isfinite(values)
    bad = series.index[bad_mask]
    if len(bad):
        kinds = sorted({"NaN/empty" if np.isnan(v) else "inf" for v in values[bad_mask]})
        hint = " (a file's numbers beyond ±1.8e308 read as inf)" if "inf" in kinds else ""
        raise DataError(
            f"column '{col}' has {len(bad)} {'/'.join(kinds)} value(s) ({format_rows(bad)}); "
            f"drop or fill those rows first{hint}"
        )


def _repeated_rows(table: pd.DataFrame) -> pd.Series:
    """``table.duplicated(keep="first")``; cells pandas cannot hash (lists from nested JSON) compare by their text."""
    try:
        return _repeated_rows_hashed(table)
    except TypeError:
        hashable = table.copy(deep=False)
        objects = [pd.api.types.is_object_dtype(dtype) for dtype in table.dtypes]
        for position in np.flatnonzero(objects):
            hashable.isetitem(position, table.iloc[:, position].map(_hashable))
        return _repeated_rows_hashed(hashable)


def _hashable(value: object) -> object:
    try:
        hash(value)
    except TypeError:
        return f"{type(value).__name__}:{value!r}"
    return value


def _repeated_rows_hashed(table: pd.DataFrame) -> pd.Series:
    """``table.duplicated(keep="first")``, in time linear in the columns with a small constant.

    Rows that repeat exactly also repeat on any subset of the columns, so a check on a few columns
    finds every candidate; only those rows are then compared on all columns. Pandas' own check over
    tens of thousands of metric columns costs ~0.2 ms per column even when no row repeats.
    """
    if table.shape[1] <= _KEY_COLUMNS:
        return table.duplicated(keep="first")
    canonical = [c for c in CANONICAL_COLUMNS if c in table.columns]
    others = [c for c in table.columns[:_KEY_COLUMNS] if c not in canonical]
    # Select the key columns first: duplicated(subset=...) still walks every column of the frame.
    candidates = table[[*canonical, *others]].duplicated(keep=False).to_numpy()
    repeated = pd.Series(False, index=table.index)
    if candidates.any():
        repeated[candidates] = table.loc[candidates].duplicated(keep="first").to_numpy()
    return repeated


def _check_duplicates(table: pd.DataFrame) -> None:
    dup = _repeated_rows(table)
    if dup.any():
        bad = table.index[dup.to_numpy()]
        raise DataError(
            f"{int(dup.sum())} row(s) repeat an earlier row exactly ({format_rows(bad)}); "
            "drop the copies (a repeated row would count twice in the fit)"
        )
    if "run" in table.columns:
        # A checkpoint is identified by its step (or tokens or compute so far); without any, a run is one row.
        key = ["run", *[c for c in ("step", "tokens", "flops") if c in table.columns][:1]]
        dup = table.duplicated(subset=key, keep="first")
        if dup.any():
            bad = table.index[dup.to_numpy()]
            per = key[1] if len(key) == 2 else "run"
            raise DataError(
                f"{int(dup.sum())} row(s) repeat the key ({', '.join(key)}) of an earlier row "
                f"({format_rows(bad)}); each run has one row per {per}"
            )
