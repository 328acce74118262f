"""Holdouts: which runs a backtest leaves out, as whole runs, at the large end of a sweep.

Holdouts always keep whole runs together: the checkpoints of one run are all in the training set or
all held out, never split between them.

Holdout specifications
----------------------
``"top:FRACTION:COLUMN"``
    Take each run's largest value of ``COLUMN`` (its last checkpoint for ``tokens`` or ``flops``;
    the model size for ``params``). Of the ``m`` distinct such values, hold out the runs whose value
    is among the top ``ceil(FRACTION * m)``: the fewest top values that make up at least that
    fraction. ``top:0.2:flops`` on 35 runs of distinct compute holds out the 7 largest-compute runs.
``"largest:K:COLUMN"``
    Hold out every run whose value is among the ``K`` largest distinct values: ``largest:2:params``
    leaves out all runs of the two largest model sizes.
``COLUMN`` defaults to ``flops`` (``"top:0.2"``). In Python, a holdout may also be a boolean row
mask (``True`` = held out) or a callable taking the runs' table (a DataFrame) and returning one; a
mask that splits a run is refused.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from scalelaw._result import Result, jsonable
from scalelaw.data.io import load_runs
from scalelaw.data.runs import Runs
from scalelaw.errors import DataError
from scalelaw.fitting.fit import SCALE_COLUMNS

__all__ = ["DEFAULT_COLUMN", "Holdout", "HoldoutSpec", "Split", "parse_holdout", "split_runs"]

#: Column that splits and measures extrapolation when a holdout spec names none.
DEFAULT_COLUMN = "flops"

RunsLike = Runs | pd.DataFrame | Mapping[str, Any] | str | os.PathLike

_SPEC_HELP = "write 'top:FRACTION:COLUMN' (e.g. 'top:0.2:flops') or 'largest:K:COLUMN' (e.g. 'largest:2:params')"


# ------------------------------------------------------------------------------------------ holdout specs
@dataclass(frozen=True)
class HoldoutSpec:
    """A parsed holdout: ``top`` fraction or ``largest`` count of the distinct per-run values of a column.

    Attributes
    ----------
    kind : {"top", "largest"}
        How ``amount`` is read.
    amount : float
        Fraction in (0, 1) for ``top``; whole number >= 1 for ``largest``.
    column : str
        Column whose per-run maximum orders the runs.
    """

    kind: Literal["top", "largest"]
    amount: float
    column: str = DEFAULT_COLUMN

    def __post_init__(self) -> None:
        if self.kind == "top":
            if not 0 < self.amount < 1:
                raise DataError(
                    f"holdout 'top' needs a fraction between 0 and 1 (exclusive), got {self.amount!r}; {_SPEC_HELP}"
                )
        elif self.kind == "largest":
            if not (self.amount >= 1 and float(self.amount).is_integer()):
                raise DataError(
                    f"holdout 'largest' needs a whole number of sizes >= 1, got {self.amount!r}; {_SPEC_HELP}"
                )
        else:
            raise DataError(f"unknown holdout kind {self.kind!r}; {_SPEC_HELP}")
        if not self.column:
            raise DataError(f"holdout needs a column name; {_SPEC_HELP}")

    def __str__(self) -> str:
        amount = f"{self.amount:g}" if self.kind == "top" else str(int(self.amount))
        return f"{self.kind}:{amount}:{self.column}"

    def n_held_out(self, n_distinct: int) -> int:
        """How many of ``n_distinct`` sorted distinct values this spec holds out."""
        if self.kind == "largest":
            return int(self.amount)
        # The small tolerance keeps 0.2 * 35 = 7.000000000000001 at 7.
        return max(1, math.ceil(self.amount * n_distinct - 1e-9))


def parse_holdout(spec: str | HoldoutSpec) -> HoldoutSpec:
    """Parse ``"top:0.2:flops"`` or ``"largest:2:params"`` into a :class:`HoldoutSpec`.

    Parameters
    ----------
    spec : str or HoldoutSpec
        ``KIND:AMOUNT[:COLUMN]``; the column defaults to ``flops``.

    Returns
    -------
    HoldoutSpec

    Raises
    ------
    DataError
        Unknown kind, amount out of range or not a number, wrong number of parts.

    Examples
    --------
    >>> parse_holdout("top:0.2:flops")
    HoldoutSpec(kind='top', amount=0.2, column='flops')
    >>> str(parse_holdout("largest:2:params"))
    'largest:2:params'
    """
    if isinstance(spec, HoldoutSpec):
        return spec
    if not isinstance(spec, str):
        raise DataError(f"a holdout spec is a string, got {type(spec).__name__}; {_SPEC_HELP}")
    parts = [p.strip() for p in spec.strip().split(":")]
    if len(parts) not in (2, 3) or not all(parts):
        raise DataError(f"cannot read holdout {spec!r}; {_SPEC_HELP}")
    kind, amount_text = parts[0].lower(), parts[1]
    column = parts[2] if len(parts) == 3 else DEFAULT_COLUMN
    if kind not in ("top", "largest"):
        raise DataError(f"unknown holdout kind {parts[0]!r} in {spec!r}; {_SPEC_HELP}")
    try:
        amount = float(amount_text)
    except ValueError:
        raise DataError(f"holdout {spec!r}: {amount_text!r} is not a number; {_SPEC_HELP}") from None
    return HoldoutSpec(kind, amount, column)  # type: ignore[arg-type]


#: What a holdout may be: a spec string or object, a boolean row mask, or a callable returning one.
Holdout = str | HoldoutSpec | np.ndarray | pd.Series | Sequence[bool] | Callable[[pd.DataFrame], Any]


# ------------------------------------------------------------------------------------------ splitting
@dataclass(frozen=True, eq=False)
class Split(Result):
    """Runs divided into a training part and a held-out part, whole runs on each side.

    Attributes
    ----------
    train, test : Runs
        Training rows and held-out rows.
    held_out : ndarray of bool
        Row mask on the original runs, ``True`` for held-out rows.
    description : str
        The spec (``"top:0.2:flops"``), ``"mask"`` or ``"callable NAME"``.
    column : str or None
        Column the extrapolation distance is measured in: the spec's column, else ``flops`` when
        the data has it.
    """

    train: Runs
    test: Runs
    held_out: np.ndarray
    description: str
    column: str | None

    @property
    def n_train_runs(self) -> int:
        return self.train.n_runs

    @property
    def n_test_runs(self) -> int:
        return self.test.n_runs

    @property
    def max_train(self) -> float:
        """Largest training value of :attr:`column` (NaN without one)."""
        return float(np.max(self.train.array(self.column))) if self.column else math.nan

    @property
    def max_test(self) -> float:
        """Largest held-out value of :attr:`column` (NaN without one)."""
        return float(np.max(self.test.array(self.column))) if self.column else math.nan

    @property
    def extrapolation_decades(self) -> float:
        """``log10(max_test / max_train)``: how far beyond the training data the holdout reaches."""
        lo, hi = self.max_train, self.max_test
        return math.log10(hi / lo) if lo > 0 and hi > 0 else math.nan

    def __repr__(self) -> str:
        return (
            f"Split({self.description}: train {len(self.train)} rows / {self.n_train_runs} runs, "
            f"test {len(self.test)} rows / {self.n_test_runs} runs)"
        )

    def to_frame(self) -> pd.DataFrame:
        """One row per run: which side it is on and how many rows it has.

        Returns
        -------
        pandas.DataFrame
            Columns ``part`` (``"train"`` or ``"test"``), ``run``, ``n_rows`` and, with a :attr:`column`,
            ``max_<column>`` (the run's largest value of it).
        """
        parts = []
        for part, runs in (("train", self.train), ("test", self.test)):
            rows = pd.DataFrame({"part": part, "run": runs.run_ids})
            if self.column:
                rows[f"max_{self.column}"] = runs.array(self.column)
            groups = rows.groupby(["part", "run"], sort=False)
            table = groups.size().rename("n_rows").reset_index()
            if self.column:
                table[f"max_{self.column}"] = groups[f"max_{self.column}"].max().to_numpy()
            parts.append(table)
        return pd.concat(parts, ignore_index=True)

    def to_dict(self) -> dict[str, Any]:
        """The spec, the sizes of both sides, how far the holdout reaches and the runs of each side."""
        runs = self.to_frame()
        return jsonable(
            {
                "description": self.description,
                "column": self.column,
                "n_train_rows": len(self.train),
                "n_test_rows": len(self.test),
                "max_train": self.max_train,
                "max_test": self.max_test,
                "extrapolation_decades": self.extrapolation_decades,
                "train_runs": runs.loc[runs["part"] == "train", "run"],
                "test_runs": runs.loc[runs["part"] == "test", "run"],
            }
        )

    def summary(self) -> str:
        """The split on the first line, then how far beyond the training data the held-out runs reach."""
        head = (
            f"split {self.description}: train {len(self.train)} rows / {self.n_train_runs} runs, "
            f"test {len(self.test)} rows / {self.n_test_runs} runs"
        )
        if not self.column:
            return head
        return (
            f"{head}\nlargest {self.column}: {self.max_train:.3g} in training, {self.max_test:.3g} held out "
            f"({self.extrapolation_decades:.2g} decades beyond)"
        )


def split_runs(runs: RunsLike, holdout: Holdout = "top:0.2:flops") -> Split:
    """Split runs into a training part and a held-out large end, keeping whole runs together.

    Parameters
    ----------
    runs : Runs, DataFrame, dict of arrays, path or ``"dataset:NAME"``
        The observations; the ``run`` column groups checkpoints (each row is its own run without it).
    holdout : str, HoldoutSpec, boolean mask or callable
        ``"top:FRACTION:COLUMN"``, ``"largest:K:COLUMN"`` (see the module docstring), a boolean row
        mask (``True`` = held out) or a callable ``table -> mask``.

    Returns
    -------
    Split

    Raises
    ------
    DataError
        Bad spec or column, a mask of the wrong length or type, a mask that splits a run, an empty
        holdout, or a holdout that leaves nothing to train on.

    Examples
    --------
    >>> split = split_runs("dataset:gadre2024_rpj", "largest:2:params")
    >>> split
    Split(largest:2:params: train 32 rows / 32 runs, test 3 rows / 3 runs)
    >>> round(split.extrapolation_decades, 2)
    1.22
    """
    runs = load_runs(runs)
    run_ids = runs.run_ids
    if isinstance(holdout, (str, HoldoutSpec)):
        spec = parse_holdout(holdout)
        held_out = _spec_mask(runs, spec)
        description, column = str(spec), spec.column
    else:
        if callable(holdout):
            description = f"callable {getattr(holdout, '__name__', type(holdout).__name__)}"
            mask = holdout(runs.table.copy())
        else:
            description, mask = "mask", holdout
        held_out = _as_mask(runs, mask, description)
        column = DEFAULT_COLUMN if DEFAULT_COLUMN in runs.table.columns else None
        straddle = sorted(set(run_ids[held_out]) & set(run_ids[~held_out]))
        if straddle:
            shown = ", ".join(map(repr, straddle[:5])) + (f" and {len(straddle) - 5} more" if len(straddle) > 5 else "")
            raise DataError(
                f"holdout {description} splits run(s) {shown} between training and held-out rows; a backtest "
                "holds out whole runs (select rows by a per-run value such as the run's model size)"
            )
    if not held_out.any():
        raise DataError(f"holdout {description} selects no rows of {runs.source}; nothing would be predicted")
    if held_out.all():
        raise DataError(f"holdout {description} selects every row of {runs.source}; nothing would be left to fit")
    return Split(
        train=runs.subset(~held_out, f"backtest training rows ({description})"),
        test=runs.subset(held_out, f"backtest held-out rows ({description})"),
        held_out=held_out,
        description=description,
        column=column,
    )


def _spec_mask(runs: Runs, spec: HoldoutSpec) -> np.ndarray:
    positive = [spec.column] if spec.column in SCALE_COLUMNS else []
    runs.require([spec.column], positive=positive, why=f"holdout {spec} orders runs by it")
    run_max = pd.Series(runs.array(spec.column)).groupby(runs.run_ids).transform("max").to_numpy()
    distinct = np.unique(run_max)
    k = spec.n_held_out(len(distinct))
    if k >= len(distinct):
        raise DataError(
            f"holdout {spec} would hold out all {len(distinct)} distinct per-run value(s) of {spec.column!r}, "
            "leaving nothing to fit; hold out fewer"
        )
    return run_max >= distinct[-k]


def _as_mask(runs: Runs, mask: Any, description: str) -> np.ndarray:
    if isinstance(mask, pd.Series):
        if not mask.index.equals(runs.table.index):
            raise DataError(f"holdout {description}: the Series' index does not match the runs' rows")
        mask = mask.to_numpy()
    arr = np.asarray(mask)
    if arr.shape != (len(runs),) or arr.dtype != bool:
        raise DataError(
            f"holdout {description} must be {len(runs)} booleans, one per row (True = held out); "
            f"got {arr.dtype} of shape {arr.shape}"
        )
    return arr.copy()
