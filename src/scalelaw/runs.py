"""Runs: the validated long table of observations every fit starts from.

One row is one observation (a final loss, or a checkpoint of a run). Canonical column names let
laws bind to data by name; ``mapping`` renames a file's own column names onto them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

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

        Raises
        ------
        DataError
            With the column and rows at fault.
        """
        if not isinstance(frame, pd.DataFrame):
            raise DataError(f"expected a pandas DataFrame, got {type(frame).__name__}")
        table = frame.copy()
        table.columns = [str(c).strip() for c in table.columns]
        rename = parse_mapping(mapping)
        missing = [old for old in rename if old not in table.columns]
        if missing:
            raise DataError(
                f"--map names column(s) {', '.join(repr(m) for m in missing)} that {source} does not have; "
                f"its columns are: {', '.join(map(repr, table.columns))}"
            )
        table = table.rename(columns=rename)
        dupes = sorted({c for c in table.columns if list(table.columns).count(c) > 1})
        if dupes:
            raise DataError(f"column name(s) {', '.join(map(repr, dupes))} appear more than once after mapping")
        if len(table) == 0:
            raise DataError(f"{source} has no rows; a fit needs observations")
        notes: list[str] = []
        for col in _NUMERIC:
            if col in table.columns:
                table[col] = _as_numeric(table[col], col)
                # Empty cells are allowed until a law or analysis reads the column (Runs.require names them then):
                # a table may lack N* for a few budgets that a law on flops never looks at.
                _check_finite(table[col], col, allow_missing=True)
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
            table["flops"] = 6.0 * table["params"] * table["tokens"]
            notes.append("flops derived as 6 * params * tokens (no 'flops' column in the data)")
        if "run" in table.columns:
            if table["run"].isna().any():
                bad = table.index[table["run"].isna().to_numpy()]
                raise DataError(f"column 'run' is empty in {format_rows(bad)}; give every row a run id")
            table["run"] = table["run"].astype(str)
        _check_duplicates(table)
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
        absent = [c for c in columns if c not in self.table.columns]
        if absent:
            reason = f" ({why})" if why else ""
            raise DataError(
                f"{self.source} has no column {', '.join(map(repr, absent))}{reason}; available: "
                f"{', '.join(map(repr, self.table.columns))}. Rename with --map 'YOUR NAME={absent[0]}'"
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


def _as_numeric(series: pd.Series, col: str) -> pd.Series:
    if pd.api.types.is_bool_dtype(series):
        return series.astype(np.float64)
    if pd.api.types.is_numeric_dtype(series):
        return series.astype(np.float64)
    converted = pd.to_numeric(series, errors="coerce")
    bad = series.index[(converted.isna() & series.notna()).to_numpy()]
    if len(bad):
        example = series.loc[bad[0]]
        raise DataError(
            f"column '{col}' has non-numeric text ({format_rows(bad)}, e.g. {example!r}); "
            "write plain numbers such as 7e10"
        )
    return converted.astype(np.float64)


def _check_finite(series: pd.Series, col: str, allow_missing: bool = False) -> None:
    values = series.to_numpy(dtype=np.float64)
    bad_mask = np.isinf(values) if allow_missing else ~np.isfinite(values)
    bad = series.index[bad_mask]
    if len(bad):
        kinds = sorted({"NaN/empty" if np.isnan(v) else "inf" for v in values[bad_mask]})
        raise DataError(
            f"column '{col}' has {len(bad)} {'/'.join(kinds)} value(s) ({format_rows(bad)}); "
            "drop or fill those rows first"
        )


def _check_duplicates(table: pd.DataFrame) -> None:
    dup = table.duplicated(keep="first")
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
