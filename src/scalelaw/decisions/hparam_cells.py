"""Per-cell optimal learning rate and batch size: a quadratic bowl of the loss over ln lr × ln bs.

A *cell* is one (N, D) pair: the runs of one model size trained on one token budget, spread over a grid of
learning rates and batch sizes. :func:`cell_optima` finds each cell's optimum (lr*, bs*) and its by-run
bootstrap interval; :mod:`scalelaw.decisions.hparams` fits power laws across the cells.

Choices, and why:

* **The bowl.** ``L ≈ c0 + c1 x + c2 y + c3 x² + c4 y² + c5 x y`` with ``x = ln lr`` and ``y = ln bs`` (Li et
  al. 2025 show the landscape is convex in both at fixed N and D). Its stationary point solves ``H (x, y) =
  −(c1, c2)`` with ``H = [[2 c3, c5], [c5, 2 c4]]``. A cell whose grid holds one value of an axis (a single
  batch size, say) is fitted as a parabola in the other axis alone, and that axis's optimum is left empty.
* **Which points.** A quadratic only describes the loss near its minimum: far from it the loss rises steeply
  (divergence at large lr) or flattens. Each cell is fitted on the runs whose loss is within ``band``
  (relative, default 2%, the span of Li et al.'s Figure 1 contours) of the cell's best loss, and on at least
  ``min_points`` distinct grid points (9 for a 2-D bowl, a 3×3 neighbourhood; 5 for a parabola), taken in
  order of loss, with at least three distinct values of every fitted axis. Li et al.'s own fitting keeps the
  runs within 0.25% of the best and regresses on all of them; a bowl needs a few more points around the
  minimum. Measured on an asymmetric landscape (the loss rising as ``0.1 (e^u − 1 − u)`` in ``u = ln(lr/lr*)``,
  steeper above the optimum, on a 9 × 7 grid with lr steps of ×2): lr* comes out 7% low at ``band`` ≤ 0.02
  (the 3×3 neighbourhood), 26% low at 0.05 and 50% low at 0.2, while the exponents across cells move by < 0.02.
* **Flags.** A cell is refused (its optimum is not used across cells) when the bowl is not convex (``H`` not
  positive definite) or when an axis's optimum falls outside the cell's grid on that axis (the minimum is
  not bracketed: extend the grid). The ``flag`` column says why.
* **Bootstrap.** Runs are resampled with replacement within each cell (rows of one ``run`` id go together),
  and selection and bowl are redone; a replicate whose bowl is not convex or whose optimum leaves the grid
  counts as failed (``boot_ok`` is the fraction that succeeded) and the interval is the percentile interval
  of the others. Cells are resampled independently, so replicate ``b`` of every cell together is one
  replicate of the whole design (:mod:`scalelaw.decisions.hparams` refits the power laws on each).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from scalelaw.data.io import load_runs
from scalelaw.data.runs import Runs
from scalelaw.errors import DataError

__all__ = ["DEFAULT_BAND", "CellOptima", "cell_optima", "span"]

#: Default loss band, relative to a cell's best loss, of the runs fitted by the bowl.
DEFAULT_BAND = 0.02
_AXES = ("lr", "batch_size")


@dataclass(frozen=True)
class _Cell:
    params: float
    tokens: float
    flops: float
    z: np.ndarray  # (n, 2): ln lr, ln bs
    loss: np.ndarray
    group: np.ndarray  # run index within the cell (rows of one run resample together)
    codes: np.ndarray  # (n, 3): grid point, lr level, batch-size level
    axes: tuple[bool, bool]  # which axes the grid varies


@dataclass(frozen=True, eq=False)
class CellOptima:
    """Per-cell optima and their bootstrap replicates (what :func:`cell_optima` returns).

    Attributes
    ----------
    table : DataFrame
        One row per cell, by increasing params then tokens: ``params, tokens, flops, n_runs, n_used, lr_opt,
        lr_low, lr_high, batch_size_opt, batch_size_low, batch_size_high, loss_opt, lr_ok, batch_size_ok,
        boot_ok, flag``.
    replicates : ndarray
        ``(n_cells, n_boot, 2)``: ln lr* and ln bs* of every bootstrap replicate (NaN where it failed or the
        axis is not fitted).
    varied : dict
        ``{"lr": bool, "batch_size": bool}``: whether any cell's grid has three or more values of it.
    """

    table: pd.DataFrame
    replicates: np.ndarray
    varied: dict[str, bool]


def _runs_table(runs: Any, lr: str, batch: str, loss: str) -> tuple[Runs, np.ndarray, np.ndarray]:
    """The runs with their (params, tokens, flops) resolved; names the missing column when one is absent."""
    table = runs if isinstance(runs, Runs) else load_runs(runs)
    for name in ("params", lr, batch, loss):
        if name not in table.columns:
            raise DataError(
                f"hyperparameter scaling needs a {name!r} column (one row per run: params, tokens or flops, "
                f"{lr}, {batch}, {loss}); {table.source} has: {', '.join(map(str, table.columns))}. "
                f"Rename with --map 'YOUR NAME={name}'"
            )
    if "tokens" not in table.columns and "flops" not in table.columns:
        raise DataError(f"hyperparameter scaling needs a 'tokens' (or 'flops') column; {table.source} has neither")
    table.require(["params", lr, batch, loss], positive=["params", lr, batch, loss], why="hyperparameter scaling")
    n = table.array("params")
    if "tokens" in table.columns:
        table.require(["tokens"], positive=["tokens"], why="hyperparameter scaling")
        d = table.array("tokens")
    else:
        table.require(["flops"], positive=["flops"], why="hyperparameter scaling")
        d = table.array("flops") / (6.0 * n)  # tokens from C = 6 N D
    return table, n, d


def _cells(runs: Any, lr: str, batch: str, loss: str) -> list[_Cell]:
    table, n, d = _runs_table(runs, lr, batch, loss)
    c = table.array("flops") if "flops" in table.columns else 6.0 * n * d
    z = np.column_stack([np.log(table.array(lr)), np.log(table.array(batch))])
    y = table.array(loss)
    run_ids = table.run_ids
    # Cells are equal (N, D) up to float noise (a D recomputed as C / 6N): keys are logs rounded to 1e-6.
    key = np.round(np.column_stack([np.log(n), np.log(d)]), 6)
    _, inverse = np.unique(key, axis=0, return_inverse=True)
    out = []
    for g in range(int(inverse.max()) + 1):
        idx = np.flatnonzero(inverse == g)
        ids, group, counts = np.unique(run_ids[idx], return_inverse=True, return_counts=True)
        if counts.max() > 1:
            raise DataError(
                f"run {str(ids[counts.argmax()])!r} has {counts.max()} rows in the cell params={n[idx[0]]:.3g}, "
                f"tokens={d[idx[0]]:.3g}: hyperparameter scaling needs one row per run (its final loss); keep the "
                "last checkpoint of each run (e.g. --where 'step == 1000') or give each run its own id"
            )
        rounded = np.round(z[idx], 9)
        codes = np.column_stack(
            [np.unique(rounded, axis=0, return_inverse=True)[1].ravel()]
            + [np.unique(rounded[:, j], return_inverse=True)[1].ravel() for j in range(2)]
        )
        axes = tuple(bool(codes[:, 1 + j].max() >= 2) for j in range(2))
        out.append(
            _Cell(float(n[idx[0]]), float(d[idx[0]]), float(np.median(c[idx])), z[idx], y[idx], group, codes, axes)
        )
    return sorted(out, key=lambda cell: (cell.params, cell.tokens))


def _distinct_prefix(ids: np.ndarray) -> np.ndarray:
    """Number of distinct values among the first ``i + 1`` entries of ``ids``, for every ``i``."""
    _, first = np.unique(ids, return_index=True)
    new = np.zeros(ids.size, dtype=np.int64)
    new[first] = 1
    return np.cumsum(new)


def _select(codes: np.ndarray, loss: np.ndarray, axes: tuple[bool, bool], band: float, min_points: int) -> np.ndarray:
    """Indices of the runs the bowl is fitted on: within ``band`` of the best loss, and at least ``min_points``
    distinct grid points (by increasing loss) with three distinct values on every fitted axis.

    ``codes`` is ``(n, 3)``: the grid point, lr level and batch-size level of every run. Distinct points, not
    rows, count: a bootstrap resample repeats runs, and repeats add no information.
    """
    order = np.argsort(loss, kind="stable")
    n_band = int(np.sum(loss <= loss[order[0]] * (1.0 + band)))
    enough = _distinct_prefix(codes[order, 0]) >= min_points
    for j, fit in enumerate(axes):
        if fit:
            enough &= _distinct_prefix(codes[order, 1 + j]) >= 3
    enough &= np.arange(1, loss.size + 1) >= n_band
    k = int(np.argmax(enough)) + 1 if enough.any() else loss.size
    return order[:k]


def _bowl(z: np.ndarray, loss: np.ndarray, axes: tuple[bool, bool]) -> tuple[np.ndarray, float, bool]:
    """Stationary point (ln lr*, ln bs*) of the quadratic fitted to ``loss``, its loss, and whether it is a minimum.

    Axes not fitted are NaN in the optimum. Coordinates are centred first, for a well-conditioned fit.
    """
    used = [j for j in range(2) if axes[j]]
    centre = z[:, used].mean(axis=0)
    u = z[:, used] - centre
    k = len(used)
    columns = [np.ones(len(loss)), *(u[:, i] for i in range(k)), *(u[:, i] ** 2 for i in range(k))]
    if k == 2:
        columns.append(u[:, 0] * u[:, 1])
    design = np.column_stack(columns)
    if np.linalg.matrix_rank(design) < design.shape[1]:
        return np.full(2, math.nan), math.nan, False
    coef = np.linalg.lstsq(design, loss, rcond=None)[0]
    grad = coef[1 : 1 + k]
    hess = np.diag(2.0 * coef[1 + k : 1 + 2 * k])
    if k == 2:
        hess[0, 1] = hess[1, 0] = coef[5]
    convex = bool(np.all(np.linalg.eigvalsh(hess) > 0))
    if not convex:
        return np.full(2, math.nan), math.nan, False
    step = np.linalg.solve(hess, -grad)
    opt = np.full(2, math.nan)
    opt[used] = centre + step
    return opt, float(coef[0] + grad @ step + 0.5 * step @ hess @ step), True


def _optimum(cell: _Cell, rows: np.ndarray, band: float, min_points: int) -> tuple[np.ndarray, float, int, str]:
    """The optimum of ``cell`` from its runs ``rows``: (ln lr*, ln bs*) with NaN on failed axes, its loss, the
    number of runs fitted and a flag (empty when every fitted axis is usable)."""
    z, loss = cell.z[rows], cell.loss[rows]
    keep = _select(cell.codes[rows], loss, cell.axes, band, min_points)
    opt, loss_opt, convex = _bowl(z[keep], loss[keep], cell.axes)
    if not convex:
        return np.full(2, math.nan), math.nan, keep.size, "bowl not convex (no minimum inside the fitted runs)"
    flags = []
    for j, name in enumerate(_AXES):
        if cell.axes[j]:
            low, high = cell.z[:, j].min(), cell.z[:, j].max()  # the cell's whole grid, also for a replicate
            if not low - 1e-9 <= opt[j] <= high + 1e-9:
                flags.append(
                    f"{name} optimum {math.exp(opt[j]):.3g} outside the grid [{math.exp(low):.3g}, "
                    f"{math.exp(high):.3g}]: extend it"
                )
                opt[j] = math.nan
    return opt, loss_opt, keep.size, "; ".join(flags)


def span(reps: np.ndarray, point: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval of ``reps`` (replicates × quantities) at ``level``, stretched to hold ``point``.

    Resampling a coarse grid can shift every replicate to one side of the estimate (a resample with repeated
    runs picks a different neighbourhood of the minimum); an interval that misses its own estimate would
    only confuse, so it is extended to it (rare: one exponent interval in 60 in 30 simulated 7 × 7 sweeps).
    """
    q = (1 - level) / 2
    low, high = np.quantile(reps, [q, 1 - q], axis=0)
    return np.minimum(low, point), np.maximum(high, point)


def _replicates(cell: _Cell, band: float, min_points: int, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """``(n_boot, 2)`` bootstrap optima: runs resampled with replacement within the cell."""
    n_groups = int(cell.group.max()) + 1
    members = [np.flatnonzero(cell.group == g) for g in range(n_groups)]
    out = np.full((n_boot, 2), math.nan)
    for b in range(n_boot):
        rows = np.concatenate([members[g] for g in rng.integers(0, n_groups, n_groups)])
        out[b] = _optimum(cell, rows, band, min_points)[0]
    return out


def cell_optima(
    runs: Runs | pd.DataFrame | dict[str, Any] | str,
    *,
    band: float = DEFAULT_BAND,
    min_points: int | None = None,
    level: float | None = 0.9,
    n_boot: int = 500,
    seed: int = 0,
    lr: str = "lr",
    batch: str = "batch_size",
    loss: str = "loss",
) -> CellOptima:
    """The optimal learning rate and batch size of every (N, D) cell, with by-run bootstrap intervals.

    Parameters
    ----------
    runs : Runs, DataFrame, dict of arrays, path or ``"dataset:NAME"``
        One row per run (its final loss) with ``params``, ``tokens`` (or ``flops``, then ``D = C / 6N``), the
        learning rate, the batch size (in tokens for the published laws) and the loss.
    band : float
        Fit each cell's bowl on the runs within this fraction of its best loss (see the module notes).
    min_points : int, optional
        Fewest runs a bowl is fitted on (default 9 for two axes, 5 for one).
    level : float or None
        Bootstrap interval level; ``None`` for none (no replicates).
    n_boot : int
        Bootstrap replicates per cell.
    seed : int
        Seed of the bootstrap.
    lr, batch, loss : str
        Column names.

    Returns
    -------
    CellOptima
        The per-cell table and the bootstrap replicates.

    Raises
    ------
    DataError
        When a column is missing, a value is not positive, or no cell varies the lr or the batch size.
    """
    if not band >= 0:
        raise DataError(f"band must be >= 0 (a fraction of the best loss, e.g. 0.02), got {band}")
    if min_points is not None and min_points < 3:
        raise DataError(f"min_points must be >= 3 (a parabola has 3 coefficients), got {min_points}")
    cells = _cells(runs, lr, batch, loss)
    if not any(any(cell.axes) for cell in cells):
        raise DataError(
            f"no (params, tokens) cell has 3 or more distinct values of {lr!r} or {batch!r}: an optimum needs a grid "
            "around it"
        )
    rng = np.random.default_rng(seed)
    varied = {name: any(cell.axes[j] for cell in cells) for j, name in enumerate(_AXES)}
    rows, reps = [], []
    for cell in cells:
        k = min_points or (9 if all(cell.axes) else 5)
        every = np.arange(cell.loss.size)
        if not any(cell.axes):
            opt, loss_opt, used = np.full(2, math.nan), math.nan, 0
            flag = f"fewer than 3 values of {lr} and of {batch}: nothing to fit"
        else:
            opt, loss_opt, used, flag = _optimum(cell, every, band, k)
        rep = np.full((n_boot if level is not None else 0, 2), math.nan)
        if level is not None and any(cell.axes):
            rep = _replicates(cell, band, k, n_boot, rng)
        if any(cell.axes) and not all(cell.axes) and varied[_AXES[cell.axes.index(False)]]:
            # Only worth a flag when other cells vary that axis (a sweep of one batch size is no fault).
            still = f"{_AXES[cell.axes.index(False)]} not varied (fewer than 3 values)"
            flag = f"{flag}; {still}" if flag else still
        reps.append(rep)
        row: dict[str, Any] = dict(params=cell.params, tokens=cell.tokens, flops=cell.flops)
        row.update(n_runs=int(cell.group.max()) + 1, n_used=used)
        for j, name in enumerate(_AXES):
            low = high = math.nan
            finite = rep[:, j][np.isfinite(rep[:, j])]
            if level is not None and finite.size and math.isfinite(opt[j]):
                low, high = (math.exp(float(v[0])) for v in span(finite[:, None], np.array([opt[j]]), level))
            row.update({f"{name}_opt": math.exp(opt[j]) if math.isfinite(opt[j]) else math.nan})
            row.update({f"{name}_low": low, f"{name}_high": high})
        row["loss_opt"] = loss_opt
        row.update({f"{name}_ok": bool(math.isfinite(opt[j])) for j, name in enumerate(_AXES)})
        fitted = [j for j in range(2) if cell.axes[j]]
        row["boot_ok"] = (
            float(np.mean(np.all(np.isfinite(rep[:, fitted]), axis=1))) if len(rep) and fitted else math.nan
        )
        row["flag"] = flag
        rows.append(row)
    replicates = np.stack(reps) if level is not None else np.full((len(cells), 0, 2), np.nan)
    return CellOptima(pd.DataFrame(rows), replicates, varied)
