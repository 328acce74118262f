"""Learning-rate sensitivity: how much loss a model gives up away from its best learning rate.

Wortsman et al. 2023, "Small-scale proxies for large-scale Transformer training instabilities" (sec. 2.2),
summarise a learning-rate sweep by

    LR sensitivity = E_eta [ min(L(eta), L0) - L* ]

the expected gap to the best loss ``L*`` of the sweep when the learning rate ``eta`` is drawn log-uniformly from
a range ``[a, b]``; ``L0`` is the loss at initialization, so a run that diverges costs ``L0 - L*`` and no more.
A model whose loss stays near ``L*`` over orders of magnitude of learning rate has a small sensitivity; the
paper tracks how it grows with model size as a proxy for instabilities at scale.

:func:`lr_sensitivity` computes it per model size with the trapezoid rule on log learning rate (the exact
expectation of the piecewise-linear curve through the sweep; ``method="grid"`` averages the grid points, as
the paper does on its log-spaced grid), a by-run bootstrap interval (the basic interval, which takes off the
upward bias that the least of noisy losses gives ``L*``), and its trend with model size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from scalelaw._result import TableResult, jsonable
from scalelaw._validation import check_level, check_replicates
from scalelaw.data.io import load_runs
from scalelaw.decisions.critical_batch import _interval, _masked_lines
from scalelaw.errors import DataError

__all__ = ["LRSensitivity", "expected_gap", "lr_sensitivity"]

Method = Literal["trapezoid", "grid"]


def expected_gap(
    lr: np.ndarray,
    loss: np.ndarray,
    initial_loss: float = math.inf,
    lr_range: tuple[float, float] | None = None,
    method: Method = "trapezoid",
) -> float:
    """``E_eta[min(L(eta), L0) - L*]`` for ``eta`` log-uniform on ``lr_range`` (Wortsman et al. 2023, sec. 2.2).

    Parameters
    ----------
    lr, loss : array
        The sweep: one loss per learning rate (NaN losses, e.g. diverged runs, count as ``initial_loss``).
    initial_loss : float
        ``L0``, the loss at initialization: the cap of each point's loss.
    lr_range : (float, float), optional
        ``[a, b]``; default the sweep's own range. The curve is held flat beyond the sweep's ends.
    method : {"trapezoid", "grid"}
        Trapezoid rule on log lr over ``[a, b]``, or the plain mean of the sweep's points inside ``[a, b]``.

    Examples
    --------
    A loss quadratic in log lr, ``L = 3 + 0.1 u^2`` with ``u = ln(lr / 1e-2)`` over ``u`` in ``[-3, 3]``: the
    expectation is ``0.1 * 3^2 / 3 = 0.3``.

    >>> u = np.linspace(-3, 3, 601)
    >>> round(expected_gap(1e-2 * np.exp(u), 3 + 0.1 * u**2), 4)
    0.3
    """
    lr, loss = np.asarray(lr, dtype=np.float64), np.asarray(loss, dtype=np.float64)
    order = np.argsort(lr)
    y = np.minimum(np.where(np.isfinite(loss[order]), loss[order], initial_loss), initial_loss)
    return float(_gaps(np.log(lr[order]), y[None, :], lr_range, method)[0])


def _gaps(u: np.ndarray, Y: np.ndarray, lr_range: tuple[float, float] | None, method: Method) -> np.ndarray:
    """:func:`expected_gap` of each row of ``Y`` (capped losses at the sorted log learning rates ``u``).

    The curve's values at the trapezoid's knots are a fixed linear map of the grid's values, so all rows (the
    bootstrap's replicates) are one matrix product.
    """
    lo, hi = (u[0], u[-1]) if lr_range is None else (math.log(lr_range[0]), math.log(lr_range[1]))
    inside = (u >= lo) & (u <= hi)
    if not inside.any() or not hi > lo:
        return np.full(Y.shape[0], np.nan)
    best = Y[:, inside].min(axis=1, keepdims=True)
    if method == "grid":
        return np.mean(Y[:, inside] - best, axis=1)
    if method != "trapezoid":
        raise DataError(f"method must be 'trapezoid' or 'grid', got {method!r}")
    knots = np.concatenate([[lo], u[inside & (u > lo) & (u < hi)], [hi]])
    to_knots = np.stack([np.interp(knots, u, e) for e in np.eye(u.size)], axis=1)  # (n_knots, n_cells)
    weights = np.diff(knots, prepend=knots[0]) / 2.0 + np.diff(knots, append=knots[-1]) / 2.0
    with np.errstate(invalid="ignore"):  # an uncapped infinite loss makes the gap infinite, not NaN
        return ((Y @ to_knots.T - best) @ weights) / (hi - lo)


@dataclass(frozen=True, eq=False)
class LRSensitivity(TableResult):
    """Learning-rate sensitivity per model size (Wortsman et al. 2023), with intervals and its trend.

    Attributes
    ----------
    table : DataFrame
        One row per model size: ``<size>, sensitivity, low, high, best_lr, best_loss, initial_loss, lr_min,
        lr_max, n_lrs, n_runs``.
    slope, slope_low, slope_high : float
        Change of the sensitivity per decade of model size (least squares across sizes), with its interval.
    size : str
        The model-size column.
    level, method, n_boot, seed, notes
        Interval level (None: none), how the numbers were made, replicates, seed and remarks.
    """

    table: pd.DataFrame
    slope: float
    slope_low: float
    slope_high: float
    size: str
    level: float | None
    method: str
    n_boot: int
    seed: int
    notes: tuple[str, ...] = ()
    samples: np.ndarray = field(default_factory=lambda: np.empty((0, 0)), repr=False)

    def summary(self) -> str:
        """One line with the trend, then one line per model size."""
        lvl = f" ({self.level:.0%})" if self.level is not None else ""
        head = (
            f"LR sensitivity over {len(self.table)} model sizes: {self.slope:+.4g} per decade of {self.size} "
            f"[{self.slope_low:.4g}, {self.slope_high:.4g}]{lvl}"
        )
        rows = [
            f"{self.size} = {r[self.size]:.4g}: {r['sensitivity']:.4g} [{r['low']:.4g}, {r['high']:.4g}], best lr "
            f"{r['best_lr']:.3g} (loss {r['best_loss']:.4g})"
            for r in self.table.to_dict(orient="records")
        ]
        return "\n".join([head, *rows, *self.notes])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the per-size table and the trend, each estimate with its interval."""
        return jsonable(
            {
                "size": self.size,
                "level": self.level,
                "method": self.method,
                "n_boot": self.n_boot,
                "seed": self.seed,
                "sizes": self.table,
                "slope_per_decade": {"value": self.slope, "low": self.slope_low, "high": self.slope_high},
                "notes": list(self.notes),
            }
        )


def _cells(lrs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    cells, index = np.unique(lrs, return_inverse=True)
    return cells, np.eye(cells.size)[index]  # (n_runs, n_cells)


def _counts(onehot: np.ndarray, n_boot: int, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """By-run resample counts ``(n_boot, n_runs)``: within each learning rate when some have several runs
    (seeds), else over the sweep's runs (the grid's points)."""
    per_cell = onehot.sum(0)
    if per_cell.max() > 1:
        counts = np.zeros((n_boot, onehot.shape[0]))
        for k in range(onehot.shape[1]):
            runs = np.flatnonzero(onehot[:, k])
            counts[:, runs] = rng.multinomial(runs.size, np.full(runs.size, 1.0 / runs.size), size=n_boot)
        return counts, "runs resampled within each learning rate"
    n = onehot.shape[0]
    return rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot).astype(np.float64), "runs of the sweep resampled"


def _replicates(cells, onehot, y, counts, L0, lr_range, method) -> np.ndarray:
    drawn = counts @ onehot  # (n_boot, n_cells): runs drawn at each learning rate
    y = np.where(np.isfinite(y), np.minimum(y, L0), L0)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = (counts @ (onehot * y[:, None])) / drawn
    u = np.log(cells)
    if (drawn > 0).all():  # resampled within each learning rate: every replicate has the whole grid
        return _gaps(u, means, lr_range, method)
    out = np.full(counts.shape[0], np.nan)
    for i, row in enumerate(means):
        keep = drawn[i] > 0
        if keep.sum() >= 2:
            out[i] = _gaps(u[keep], row[None, keep], lr_range, method)[0]
    return out


def _basic_interval(reps: np.ndarray, point: float, level: float | None) -> tuple[float, float]:
    """The basic (reverse-percentile) bootstrap interval ``[2 theta - q_high, 2 theta - q_low]``.

    ``L*`` is the least of noisy losses, so the sensitivity is biased up by about the noise; each resample's
    ``L*`` is biased the same way again, and reflecting the percentiles about the estimate takes that off (in
    simulations with 4 seeds per learning rate it covers 80% where the percentile interval covers 50-70%).
    """
    low, high = _interval(reps, point, level)
    return 2 * point - high, 2 * point - low


def lr_sensitivity(
    runs: Any,
    *,
    lr: str = "lr",
    loss: str = "loss",
    size: str = "params",
    initial_loss: float | None = None,
    lr_range: tuple[float, float] | None = None,
    method: Method = "trapezoid",
    n_boot: int = 1000,
    level: float | None = 0.9,
    seed: int = 0,
) -> LRSensitivity:
    """Wortsman et al.'s learning-rate sensitivity per model size, with a by-run bootstrap and its trend.

    Parameters
    ----------
    runs : DataFrame, path or Runs
        One row per run (final loss): columns ``lr``, ``loss`` and the model size; several runs at one
        ``(size, lr)`` (seeds) are averaged, and then resampled within their learning rate.
    lr, loss, size : str
        Column names.
    initial_loss : float, optional
        ``L0``, the loss at initialization (``ln(vocabulary)`` for a language model); losses above it count as
        ``L0``, and runs without a loss (diverged) count as ``L0``. Without it losses are not capped.
    lr_range : (float, float), optional
        The range ``eta`` is drawn from; default the range every model size's sweep covers, so sizes compare
        on the same learning rates.
    method : {"trapezoid", "grid"}
        See :func:`expected_gap`.
    n_boot, level, seed
        By-run bootstrap replicates, interval level (None: no interval) and seed.

    Returns
    -------
    LRSensitivity
    """
    if level is not None:
        check_level(level)
        check_replicates(n_boot)
    table = load_runs(runs)
    table.require([lr, size], positive=[lr, size], why="the learning-rate sensitivity")
    frame = table.table
    L0 = math.inf if initial_loss is None else float(initial_loss)
    if loss not in frame.columns or not pd.api.types.is_numeric_dtype(frame[loss]):
        raise DataError(f"the learning-rate sensitivity needs a numeric {loss!r} column; the data has {list(frame)}")
    diverged = int(frame[loss].isna().sum())
    if diverged and initial_loss is None:
        raise DataError(
            f"{diverged} run(s) have no {loss!r} (diverged?): pass initial_loss=L0 (e.g. ln of the vocabulary) so "
            "they count as the loss at initialization, or drop them"
        )
    groups = sorted(frame.groupby(size), key=lambda kv: kv[0])
    if lr_range is None:
        lr_range = (max(g[lr].min() for _, g in groups), min(g[lr].max() for _, g in groups))
    if not 0 < lr_range[0] < lr_range[1]:
        raise DataError(
            f"the learning-rate range must be two increasing positive numbers, got {lr_range}; the sweeps of the "
            f"model sizes may not overlap: pass lr_range=(low, high)"
        )
    rng = np.random.default_rng(seed)
    rows, reps, how = [], [], ""
    for value, group in groups:
        cells, onehot = _cells(group[lr].to_numpy(np.float64))
        y = np.nan_to_num(group[loss].to_numpy(np.float64), nan=L0)  # a diverged run costs L0
        means = (onehot * y[:, None]).sum(0) / onehot.sum(0)
        inside = (cells >= lr_range[0]) & (cells <= lr_range[1])
        if inside.sum() < 2:
            raise DataError(
                f"{size} = {value:g} has {int(inside.sum())} learning rate(s) inside {lr_range}; the sensitivity "
                "needs at least 2 (widen lr_range or add runs)"
            )
        capped = np.minimum(means, L0)
        best = int(np.argmin(np.where(inside, capped, np.inf)))
        point = expected_gap(cells, means, L0, lr_range, method)
        rows.append({size: float(value), "sensitivity": point, "best_lr": cells[best], "best_loss": capped[best],
                     "initial_loss": L0, "lr_min": lr_range[0], "lr_max": lr_range[1],
                     "n_lrs": int(inside.sum()), "n_runs": len(group)})  # fmt: skip
        if level is not None:
            counts, how = _counts(onehot, n_boot, rng)
            reps.append(_replicates(cells, onehot, y, counts, L0, lr_range, method))
    out = pd.DataFrame(rows)
    samples = np.column_stack(reps) if reps else np.empty((0, len(rows)))
    bounds = [_basic_interval(samples[:, k] if reps else samples, r["sensitivity"], level) for k, r in enumerate(rows)]
    out.insert(2, "low", [b[0] for b in bounds])
    out.insert(3, "high", [b[1] for b in bounds])
    log_size = np.log10(out[size].to_numpy())
    slope = float(_masked_lines(log_size, out["sensitivity"].to_numpy()[None])[0][0])
    slope_low, slope_high = _basic_interval(_masked_lines(log_size, samples)[0] if reps else samples, slope, level)
    notes = ("one model size: no trend with size",) if len(rows) < 2 else ()
    if diverged:
        notes += (f"{diverged} run(s) without a loss (diverged) count as the initial loss {L0:.4g}",)
    if level is not None and how.startswith("runs of the sweep"):
        notes += (
            "no learning rate has repeated runs (seeds): the interval resamples the sweep's points, so it reflects "
            "the grid more than seed noise; run seeds at each learning rate for an interval of the noise",
        )
    if initial_loss is None:
        notes += ("no initial_loss given: losses are not capped at the loss at initialization",)
    kind = "trapezoid on log lr" if method == "trapezoid" else "mean over the grid"
    return LRSensitivity(
        table=out,
        slope=slope,
        slope_low=slope_low,
        slope_high=slope_high,
        size=size,
        level=level,
        method=f"{kind}; basic bootstrap, {how}" if level is not None else kind,
        n_boot=n_boot if level is not None else 0,
        seed=seed,
        notes=notes,
        samples=samples,
    )
