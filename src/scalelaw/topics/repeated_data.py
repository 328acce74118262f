"""Partially repeated data (Hernandez et al. 2022): how much model size does repeating a few tokens cost?

Hernandez et al., "Scaling Laws and Interpretability of Learning from Repeated Data" (Anthropic, 2022,
arXiv:2205.10487), train models on mostly unique tokens plus a small fraction repeated many times, and state the
damage as an *effective model size*: "performance of an 800M parameter model can be degraded to that of a 2x
smaller model (400M params) by repeating 0.1% of the data 100 times, despite the other 90% of the training tokens
remaining unique" (abstract). :func:`repeated_damage` measures that on your runs: it fits the power law
``L(N) = E + A N^-alpha`` (law ``power`` on ``params``) to the runs on unique data (``repeated_fraction == 0``),
inverts it at each repeated-data run's loss, ``N_eff = (A / (L - E))^(1 / alpha)``, and reports ``N_eff`` and the
size ratio ``N_eff / N`` with by-run bootstrap intervals from the baseline fit. A ratio of 0.5 is the paper's
"2x smaller model".
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from scalelaw._result import TableResult, jsonable
from scalelaw._validation import check_level
from scalelaw.data.io import read_table
from scalelaw.errors import DataError
from scalelaw.fitting.fit import fit
from scalelaw.fitting.result import FitResult
from scalelaw.laws.catalog import get_law
from scalelaw.trust.bootstrap import MIN_RUNS

#: Fewest distinct model sizes among the unique-data runs to fit the baseline's three parameters.
MIN_SIZES = 4


def effective_params(loss: Any, E: Any, A: Any, alpha: Any) -> np.ndarray:
    """The model size at which ``E + A N^-alpha`` equals ``loss`` (inf where ``loss <= E``); arguments broadcast.

    Examples
    --------
    >>> round(float(effective_params(2.0 + 1e3 * 4e8 ** -0.3, 2.0, 1e3, 0.3)) / 1e8, 6)  # a 4e8 model's loss
    4.0
    """
    loss, E, A, alpha = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (loss, E, A, alpha)))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        value = np.exp((np.log(A) - np.log(loss - E)) / alpha)
    return np.where(loss > E, value, np.inf)


@dataclass(frozen=True, eq=False)
class RepeatDamage(TableResult):
    """Effective model size of runs trained on partially repeated data, against a unique-data baseline.

    Attributes
    ----------
    table : DataFrame
        One row per repeated-data run: the run's columns (``params``, ``repeated_fraction``, ``repeats`` when
        given, the loss), ``params_effective`` with ``params_effective_low/high`` and ``size_ratio``
        (``params_effective / params``) with ``size_ratio_low/high``.
    baseline : FitResult
        ``power`` in ``params`` fitted to the unique-data runs.
    level : float
        Interval level.
    n_boot : int
        By-run bootstrap refits of the baseline behind the intervals.
    """

    table: pd.DataFrame
    baseline: FitResult
    level: float
    n_boot: int

    def to_dict(self) -> dict[str, Any]:
        """The baseline law and its parameters, the interval settings and one record per repeated-data run."""
        return jsonable(
            {
                "baseline": {"law": self.baseline.law.formula(), "params": self.baseline.params},
                "level": self.level,
                "n_boot": self.n_boot,
                "runs": self.table,
            }
        )

    def summary(self) -> str:
        """The worst size ratio first, then one line per repeated-data run."""
        worst = self.table.loc[self.table["size_ratio"].idxmin()]
        lines = [
            f"Repeated data: worst run performs like a {worst['size_ratio']:.3g}x model "
            f"[{worst['size_ratio_low']:.3g}, {worst['size_ratio_high']:.3g}] ({self.level:.0%}) of its size"
        ]
        for _, r in self.table.iterrows():
            lines.append(
                f"  {r['params']:.3g} params, {r['repeated_fraction']:.3g} of tokens repeated: performs like "
                f"{r['params_effective']:.3g} params (ratio {r['size_ratio']:.3g} "
                f"[{r['size_ratio_low']:.3g}, {r['size_ratio_high']:.3g}])"
            )
        return "\n".join(lines)


def _frame(data: Any, columns: list[str]) -> pd.DataFrame:
    if isinstance(data, pd.DataFrame):
        frame = data.copy()
    elif isinstance(data, Mapping):
        frame = pd.DataFrame({k: np.ravel(v) if np.ndim(v) else v for k, v in data.items()})
    elif isinstance(data, (str, os.PathLike)):
        frame = read_table(data)
    else:
        raise DataError(f"expected a DataFrame, a dict of columns or a path, got {type(data).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(
            f"repeated-data runs need column(s) {', '.join(map(repr, missing))}; they have "
            f"{', '.join(map(str, frame.columns))}. Unique-data (baseline) runs have repeated_fraction 0."
        )
    return frame


def repeated_damage(
    data: Any,
    params: str = "params",
    y: str = "loss",
    repeated: str = "repeated_fraction",
    n_boot: int = 200,
    level: float = 0.9,
    seed: int = 0,
) -> RepeatDamage:
    """Effective model size of each run on partially repeated data (Hernandez et al. 2022).

    Parameters
    ----------
    data : DataFrame, dict of columns or path
        One row per run: model size ``params``, final loss ``y`` and the fraction of training tokens that are
        repeats ``repeated`` (0 for the unique-data baseline runs; other columns such as ``repeats`` are kept).
    params, y, repeated : str
        Column names.
    n_boot : int
        By-run bootstrap refits of the baseline (0: no intervals).
    level : float
        Interval level.
    seed : int
        Seed of the fit and the bootstrap.

    Returns
    -------
    RepeatDamage

    Raises
    ------
    DataError
        Missing columns, no repeated-data runs, or fewer than 4 model sizes on unique data.
    """
    level = check_level(level)
    frame = _frame(data, [params, y, repeated])
    for col in (params, y, repeated):
        frame[col] = pd.to_numeric(frame[col], errors="coerce")
    if frame[[params, y, repeated]].isna().any().any() or (frame[[params, y]] <= 0).any().any():
        raise DataError(f"columns {params!r} and {y!r} must be positive numbers and {repeated!r} a number")
    base = frame[frame[repeated] == 0]
    runs = frame[frame[repeated] > 0]
    if base[params].nunique() < MIN_SIZES:
        raise DataError(
            f"the baseline needs unique-data runs ({repeated} = 0) at {MIN_SIZES}+ model sizes; "
            f"found {base[params].nunique()}"
        )
    if runs.empty:
        raise DataError(f"no repeated-data runs: every row has {repeated} = 0")
    if n_boot and len(base) < MIN_RUNS:
        raise DataError(
            f"the baseline's bootstrap intervals need {MIN_RUNS}+ unique-data runs, found {len(base)}: add runs, "
            "or pass n_boot=0 (CLI: --n-boot 0) for point estimates"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        baseline = fit(get_law("power", x=params), base[[params, y]].reset_index(drop=True), y=y, seed=seed)
        boot = baseline.bootstrap(n=n_boot, seed=seed) if n_boot else None
    loss = runs[y].to_numpy()
    point = effective_params(loss, *(baseline.params[p] for p in ("E", "A", "alpha")))
    table = runs.reset_index(drop=True).copy()
    table["params_effective"] = point
    table["size_ratio"] = point / table[params].to_numpy()
    half = (1 - level) / 2
    if boot is not None:
        draws = effective_params(loss[None, :], *(boot.values(p)[:, None] for p in ("E", "A", "alpha")))
        low, high = np.quantile(draws, [half, 1 - half], axis=0)
    else:
        low = high = np.full(len(table), np.nan)
    table["params_effective_low"], table["params_effective_high"] = low, high
    table["size_ratio_low"] = low / table[params].to_numpy()
    table["size_ratio_high"] = high / table[params].to_numpy()
    if params != "params":
        table = table.rename(columns={params: "params"})
    if repeated != "repeated_fraction":
        table = table.rename(columns={repeated: "repeated_fraction"})
    return RepeatDamage(table, baseline, level, 0 if boot is None else boot.n)
