"""How a backtest scores one law's intervals for the held-out runs: coverage, interval score and width.

:func:`scalelaw.trust.backtest.backtest` fits each law on the training part and, with ``level``, asks that fit
for a prediction interval at every held-out row (:meth:`scalelaw.FitResult.predict_interval`, of the kind
asked: the total interval, learned from the training part's own rolling backtests, or the parameter one).
Three numbers then say how good the intervals were:

- ``coverage``: the share of held-out observations inside their interval (ideally ``level``);
- ``interval_score``: the mean interval (Winkler) score on the log scale, ``(log u - log l) +
  (2/alpha) max(log l - log y, 0) + (2/alpha) max(log y - log u, 0)`` with ``alpha = 1 - level``: the width,
  plus a penalty for every miss in proportion to how far it missed (smaller is better; it rewards neither
  an interval too narrow to cover nor one wider than it needs to be);
- ``mean_rel_width``: the mean of ``(high - low) / prediction``.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pandas as pd

from scalelaw.errors import DataError
from scalelaw.trust.extrapolation import unlearned

__all__ = ["interval_scores", "rmse_log", "winkler_log"]

#: What a backtest row says about its intervals (NaN, or "", when not computed).
INTERVAL_COLUMNS = ("interval_kind", "coverage", "interval_score", "mean_rel_width")


def winkler_log(observed: Any, low: Any, high: Any, level: float) -> np.ndarray:
    """Interval (Winkler) score of each observation on the log scale; smaller is better.

    Parameters
    ----------
    observed, low, high : array-like
        Positive observations and the bounds of their intervals.
    level : float
        The intervals' level, in (0, 1); misses cost ``2 / (1 - level)`` times their log distance.

    Returns
    -------
    ndarray

    Examples
    --------
    >>> winkler_log([1.0, 4.0], [0.5, 0.5], [2.0, 2.0], 0.9).round(3).tolist()  # inside; then 0.69 above
    [1.386, 15.249]
    """
    if not 0 < level < 1:
        raise DataError(f"level must lie in (0, 1), got {level!r}")
    y, lo, hi = (np.log(np.asarray(a, dtype=np.float64)) for a in (observed, low, high))
    penalty = 2.0 / (1.0 - level)
    return (hi - lo) + penalty * np.maximum(lo - y, 0.0) + penalty * np.maximum(y - hi, 0.0)


def interval_scores(observed: Any, predicted: Any, low: Any, high: Any, level: float) -> dict[str, float]:
    """``coverage``, ``interval_score`` (mean :func:`winkler_log`) and ``mean_rel_width`` of held-out intervals.

    Examples
    --------
    >>> s = interval_scores([1.0, 4.0], [1.0, 1.0], [0.5, 0.5], [2.0, 2.0], 0.9)
    >>> s["coverage"], round(s["interval_score"], 3), s["mean_rel_width"]
    (0.5, 8.318, 1.5)
    """
    y, value = np.asarray(observed, dtype=np.float64), np.asarray(predicted, dtype=np.float64)
    lo, hi = np.asarray(low, dtype=np.float64), np.asarray(high, dtype=np.float64)
    with np.errstate(all="ignore"):
        return {
            "coverage": float(np.mean((y >= lo) & (y <= hi))),
            "interval_score": float(np.mean(winkler_log(y, lo, hi, level))),
            "mean_rel_width": float(np.mean((hi - lo) / value)),
        }


def rmse_log(predicted: np.ndarray, observed: np.ndarray) -> float:
    """Root mean square of ``log(predicted / observed)``; inf when any prediction is not positive and finite.

    Examples
    --------
    >>> round(rmse_log(np.array([1.1, 0.9]), np.array([1.0, 1.0])), 4)
    0.1005
    """
    with np.errstate(all="ignore"):
        value = float(np.sqrt(np.mean(np.log(predicted / observed) ** 2)))
    return value if math.isfinite(value) else math.inf


def held_out_band(result: Any, test: pd.DataFrame, level: float, n_boot: int, kind: str) -> pd.DataFrame | None:
    """Interval of ``kind`` for a new observation at each held-out row, or None (with a warning) when the law
    has none; a total interval's law error is learned from ``result``'s own (training-part) rolling backtests."""
    if kind == "total" and unlearned(result) is not None:
        kind = "parameter"  # no law error along one axis for schedule laws: the row's interval_kind says so
    try:  # predict_interval resamples blocks of each curve for an LR-schedule fit of a few runs
        return result.predict_interval(test, level=level, observation=True, n_boot=n_boot, kind=kind)
    except Exception as exc:  # intervals are an extra: a law without them still gets its errors
        warnings.warn(f"no prediction interval for law {result.law.name!r}: {exc}", UserWarning, stacklevel=6)
        return None


def score_intervals(
    result: Any,
    test: pd.DataFrame,
    held_out: pd.DataFrame,
    level: float,
    n_boot: int,
    kind: str,
    band: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """Add ``low``, ``high`` and ``covered`` to ``held_out`` (in place); the row's :data:`INTERVAL_COLUMNS`.

    ``band`` is :func:`held_out_band`'s table when the caller already has it (``auto`` and ``averaged`` in one
    backtest share one training fit and so one band); widths are relative to ``held_out["predicted"]``.
    """
    if band is None:
        band = held_out_band(result, test, level, n_boot, kind)
    if band is None:
        held_out["low"] = held_out["high"] = math.nan
        held_out["covered"] = None
        return {"interval_kind": kind, "coverage": math.nan, "interval_score": math.nan, "mean_rel_width": math.nan}
    low, high = band["low"].to_numpy(dtype=np.float64), band["high"].to_numpy(dtype=np.float64)
    observed = held_out["observed"].to_numpy(dtype=np.float64)
    held_out["low"], held_out["high"] = low, high
    held_out["covered"] = (observed >= low) & (observed <= high)
    scores = interval_scores(observed, held_out["predicted"], low, high, level)
    return {"interval_kind": str(band["interval_kind"].iloc[0]), **scores}
