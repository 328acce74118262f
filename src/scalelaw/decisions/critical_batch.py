"""The critical batch size: how many steps and how much data a loss costs at each batch size.

McCandlish et al. 2018 ("An Empirical Model of Large-Batch Training") and Kaplan et al. 2020 (sec. 5.1): to
reach a loss ``L``, runs at batch size ``B`` need ``S`` steps and ``E = B·S`` examples (or tokens) on the
hyperbola

    (S / S_min - 1) (E / E_min - 1) = 1                        (Kaplan eq. 5.1)

so ``S = S_min + E_min / B``: a straight line in ``1/B``. ``S_min`` is the fewest steps (at a huge batch),
``E_min`` the fewest examples (at a tiny batch) and ``B_crit(L) = E_min / S_min`` (eq. 5.2) the batch that
costs twice each. Across losses the critical batch follows ``B_crit(L) = B_* / L^(1/alpha_B)`` (eq. 5.3;
Kaplan: ``B_* ≈ 2e8`` tokens, ``alpha_B ≈ 0.21``), and any run converts to its minimum steps and data,
``S_min = S / (1 + B_crit/B)`` and ``E_min = E / (1 + B/B_crit)`` (eqs. 5.4-5.5).

:func:`fit_critical_batch` reads loss curves at several batch sizes, finds the steps each run needs to reach
each target loss (interpolated on log loss), fits the line per target and the power law across targets, and
bootstraps whole runs for the intervals. Formulas: ``docs/laws.md`` §2.3; oracles: laws.md §15.4.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from scalelaw._result import TableResult, jsonable
from scalelaw._validation import check_level, check_replicates
from scalelaw.data.io import load_runs
from scalelaw.errors import DataError
from scalelaw.trust.bootstrap import MIN_RUNS, quantile_interval

__all__ = [
    "KAPLAN_ALPHA_B",
    "KAPLAN_B_STAR",
    "CriticalBatch",
    "critical_batch_size",
    "fit_critical_batch",
    "minimum_steps_and_data",
    "simulate_batch_sweep",
    "steps_to_target",
]

#: Kaplan et al. 2020, eqs. 1.4 and 5.3: ``B_crit(L) = B_* / L^(1/alpha_B)`` with ``B_* ≈ 2e8`` tokens (Appendix
#: A, Table 5, prints the less rounded 2.1e8) and ``alpha_B ≈ 0.21``; L in nats per token.
KAPLAN_B_STAR = 2e8
KAPLAN_ALPHA_B = 0.21

#: Fewest distinct batch sizes that must reach a target loss for its hyperbola to be fitted.
MIN_BATCHES = 3
#: Reweighting passes of the per-target line (relative errors, as a fit on log steps would weigh them).
_REWEIGHT = 3


# ------------------------------------------------------------------------------------------ closed forms


def critical_batch_size(
    loss: float | np.ndarray, B_star: float = KAPLAN_B_STAR, alpha_B: float = KAPLAN_ALPHA_B
) -> np.ndarray:
    """``B_crit(L) = B_* / L^(1/alpha_B)`` (Kaplan et al. 2020, eq. 5.3), Kaplan's constants by default.

    Examples
    --------
    >>> [float(f"{b:.5g}") for b in critical_batch_size([4.0, 3.0, 2.0])]  # laws.md §15.4, in tokens
    [271690.0, 1069100.0, 7371500.0]
    """
    return B_star / np.asarray(loss, dtype=np.float64) ** (1.0 / alpha_B)


def minimum_steps_and_data(
    steps: float | np.ndarray, batch_size: float | np.ndarray, b_crit: float | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``S_min = S / (1 + B_crit/B)`` and ``E_min = E / (1 + B/B_crit)`` with ``E = B·S`` (Kaplan eqs. 5.4-5.5).

    ``batch_size`` and ``b_crit`` share a unit (tokens or examples), which ``E_min`` is counted in.

    Examples
    --------
    >>> s_min, e_min = minimum_steps_and_data(1e5, 2**19, critical_batch_size(3.0))  # laws.md §15.4
    >>> f"{float(s_min):.5g} steps, {float(e_min):.5g} tokens"
    '32904 steps, 3.5178e+10 tokens'
    """
    S, B, Bc = (np.asarray(v, dtype=np.float64) for v in (steps, batch_size, b_crit))
    return S / (1.0 + Bc / B), B * S / (1.0 + B / Bc)


# ------------------------------------------------------------------------------------------ steps to a loss


@dataclass(frozen=True)
class _Columns:
    run: str = "run"
    step: str = "step"
    batch: str = "batch_size"
    loss: str = "loss"
    tokens: str | None = None


def _curves(runs: Any, cols: _Columns) -> pd.DataFrame:
    table = load_runs(runs)
    need = [cols.step, cols.batch, cols.loss, *([cols.tokens] if cols.tokens else [])]
    table.require(need, positive=[cols.batch, cols.loss], why="the critical batch size")
    frame = table.table.assign(**{cols.run: table.run_ids})
    per_run = frame.groupby(cols.run, sort=False)[cols.batch].nunique()
    if (per_run > 1).any():
        bad = ", ".join(map(str, per_run.index[per_run > 1][:5]))
        raise DataError(f"runs {bad} change {cols.batch!r} along the curve; give each batch size its own run id")
    return frame.sort_values([cols.run, cols.step], kind="stable")


def _crossings(step: np.ndarray, value: np.ndarray, loss: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Where the running minimum of ``loss`` first reaches each target: ``value`` (steps or tokens) linearly
    interpolated on log loss between the checkpoints around the crossing; NaN when the curve never gets there
    or is already below the target at its first checkpoint (when it got there is then unknown)."""
    best = np.minimum.accumulate(loss)
    i = np.searchsorted(-best, -targets, side="left")  # first checkpoint at or below each target
    ok = (i > 0) & (i < best.size)
    j = np.clip(i, 1, best.size - 1)
    lo, hi = np.log(best[j - 1]), np.log(best[j])
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(lo > hi, (lo - np.log(targets)) / (lo - hi), 1.0)
    out = value[j - 1] + frac * (value[j] - value[j - 1])
    return np.where(ok, out, np.nan)


def steps_to_target(
    runs: Any,
    targets: float | np.ndarray,
    *,
    step: str = "step",
    batch: str = "batch_size",
    loss: str = "loss",
    tokens: str | None = None,
) -> pd.DataFrame:
    """Steps ``S`` and examples ``E`` each run needs to reach each target loss.

    Parameters
    ----------
    runs : DataFrame, path or Runs
        Loss curves: ``run, step, batch_size, loss`` (one batch size per run), optionally a tokens column.
    targets : float or array
        Target losses.
    step, batch, loss : str
        Column names.
    tokens : str, optional
        Column of tokens seen so far: ``E`` is read from it (so ``B`` is in tokens per step); without it
        ``E = B·S`` in the unit of ``batch``.

    Returns
    -------
    DataFrame
        One row per run and target: ``run, batch_size, target, steps, examples`` (NaN where the run never
        reaches the target, or starts below it).
    """
    cols = _Columns(step=step, batch=batch, loss=loss, tokens=tokens)
    frame = _curves(runs, cols)
    goals = np.atleast_1d(np.asarray(targets, dtype=np.float64))
    rows = []
    for run_id, curve in frame.groupby(cols.run, sort=False):
        s, y = curve[step].to_numpy(np.float64), curve[loss].to_numpy(np.float64)
        B = float(curve[batch].iloc[0])
        S = _crossings(s, s, y, goals)
        E = _crossings(s, curve[tokens].to_numpy(np.float64), y, goals) if tokens else B * S
        rows.append(pd.DataFrame({"run": run_id, "batch_size": B, "target": goals, "steps": S, "examples": E}))
    return pd.concat(rows, ignore_index=True)


def _default_targets(frame: pd.DataFrame, cols: _Columns, n: int) -> np.ndarray:
    """``n`` log-spaced losses in the lower half (in log) of the range every run starts above and at least
    :data:`MIN_BATCHES` batch sizes reach: past the early transient, where Kaplan fits (sec. 5.2)."""
    first = frame.groupby(cols.run, sort=False)[cols.loss].first().min()
    best = np.sort(frame.groupby(cols.batch)[cols.loss].min().to_numpy())
    if best.size < MIN_BATCHES:
        raise DataError(
            f"the critical batch size needs runs at >= {MIN_BATCHES} batch sizes; the data has {best.size} "
            f"distinct values of {cols.batch!r}"
        )
    low = best[MIN_BATCHES - 1]
    if not low < first:
        raise DataError(
            f"no loss is reached by {MIN_BATCHES} batch sizes after every run's first checkpoint (first loss "
            f"{first:.4g}, the {MIN_BATCHES}rd best batch size ends at {low:.4g}); log earlier checkpoints or pass "
            "targets=[...]"
        )
    return np.geomspace(math.sqrt(low * first), low, n + 2)[1:-1]


# ------------------------------------------------------------------------------------------ the fits


def _lines(x: np.ndarray, y: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``y = a + b x`` per target and replicate by least squares on relative errors (reweighted by the fit).

    ``x`` (1/B) and ``y`` (steps) have shape ``(n_runs, n_targets)`` with NaN where a run misses a target;
    ``counts`` ``(n_sets, n_runs)``. Returns ``a`` (S_min) and ``b`` (E_min), each ``(n_sets, n_targets)``.
    """
    ok = np.isfinite(y)
    x0, y0 = np.where(ok, x, 0.0), np.where(ok, y, 1.0)
    base = counts[:, :, None] * ok[None]  # (n_sets, n_runs, n_targets)
    scale = np.broadcast_to(y0, base.shape)
    for _ in range(_REWEIGHT):
        w = base / scale**2
        s0, s1, s2 = w.sum(1), (w * x0).sum(1), (w * x0**2).sum(1)
        t0, t1 = (w * y0).sum(1), (w * x0 * y0).sum(1)
        with np.errstate(divide="ignore", invalid="ignore"):
            det = s0 * s2 - s1**2
            a, b = (s2 * t0 - s1 * t1) / det, (s0 * t1 - s1 * t0) / det
            fitted = a[:, None, :] + b[:, None, :] * x0[None]
        scale = np.where(np.isfinite(fitted) & (fitted > 0), fitted, y0[None])
    return a, b


def _distinct_batches(batch: np.ndarray, reached: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Distinct batch sizes among the drawn runs that reach each target, ``(n_sets, n_targets)``."""
    _, group = np.unique(batch, return_inverse=True)
    onehot = np.eye(group.max() + 1)[group]  # (n_runs, n_groups)
    present = np.einsum("sr,rg,rt->sgt", counts, onehot, reached.astype(np.float64)) > 0
    return present.sum(axis=1)


def _masked_lines(x: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares slope and intercept of each row of ``Y`` on ``x`` over its finite entries (NaN with < 2)."""
    ok = np.isfinite(Y)
    n = ok.sum(1)
    xm = np.where(ok, x, 0.0).sum(1) / np.maximum(n, 1)
    ym = np.where(ok, Y, 0.0).sum(1) / np.maximum(n, 1)
    dx = np.where(ok, x - xm[:, None], 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = (dx * np.where(ok, Y - ym[:, None], 0.0)).sum(1) / (dx**2).sum(1)
    slope = np.where(n >= 2, slope, np.nan)
    return slope, ym - slope * xm


def _power_law(log_loss: np.ndarray, b_crit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``log B_crit = log B_* - (1/alpha_B) log L`` per replicate (rows of ``b_crit``) over its valid targets."""
    slope, intercept = _masked_lines(log_loss, np.log(np.where(b_crit > 0, b_crit, np.nan)))
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha = np.where(slope < 0, -1.0 / slope, np.nan)
    return np.where(np.isfinite(alpha), np.exp(intercept), np.nan), alpha


def _estimates(x, y, batch, log_loss, counts) -> dict[str, np.ndarray]:
    a, b = _lines(x, y, counts)
    enough = _distinct_batches(batch, np.isfinite(y), counts) >= MIN_BATCHES
    valid = enough & (a > 0) & (b > 0)
    b_crit = np.where(valid, b / np.where(valid, a, 1.0), np.nan)
    B_star, alpha = _power_law(log_loss, b_crit)
    return {"s_min": np.where(valid, a, np.nan), "e_min": np.where(valid, b, np.nan), "b_crit": b_crit,
            "B_star": B_star, "alpha_B": alpha}  # fmt: skip


def _interval(reps: np.ndarray, point: float, level: float | None) -> tuple[float, float]:
    """Percentile interval of the finite replicates ``reps`` (NaN without a level or with < 2 of them)."""
    reps = reps[np.isfinite(reps)]
    if level is None or reps.size < 2 or not math.isfinite(point):
        return math.nan, math.nan
    low, high = quantile_interval(reps[:, None], np.array([point]), None, level, "percentile")
    return float(low[0]), float(high[0])


@dataclass(frozen=True, eq=False)
class CriticalBatch(TableResult):
    """``B_crit(L) = B_star / L^(1/alpha_B)`` fitted to runs at several batch sizes, with intervals.

    Attributes
    ----------
    B_star, alpha_B : float
        The power law across target losses (``B_star`` in :attr:`unit`).
    B_star_low, B_star_high, alpha_B_low, alpha_B_high : float
        Percentile intervals at :attr:`level` from the by-run bootstrap (NaN without one).
    table : DataFrame
        Per target loss: ``target, s_min, e_min, b_crit`` with ``low``/``high`` columns, ``n_batches`` (batch
        sizes reaching it) and ``used`` (whether its hyperbola entered the power law).
    steps : DataFrame
        :func:`steps_to_target`'s table: steps and examples of every run at every target.
    unit : str
        What batch sizes, ``E_min``, ``B_crit`` and ``B_star`` count: ``"tokens"`` or the batch column's unit.
    level, n_boot, n_runs, seed, columns, notes
        Interval level (None: no interval), replicates, runs, seed, the columns read, remarks.
    samples : ndarray
        Bootstrap replicates of ``(B_star, alpha_B)``, shape ``(n_ok, 2)``.
    """

    B_star: float
    alpha_B: float
    B_star_low: float
    B_star_high: float
    alpha_B_low: float
    alpha_B_high: float
    table: pd.DataFrame
    steps: pd.DataFrame
    unit: str
    level: float | None
    n_boot: int
    n_runs: int
    seed: int
    columns: dict[str, str | None] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    samples: np.ndarray = field(default_factory=lambda: np.empty((0, 2)), repr=False)

    def b_crit(self, loss: float | np.ndarray) -> np.ndarray:
        """The fitted critical batch size at ``loss``."""
        return critical_batch_size(loss, self.B_star, self.alpha_B)

    def b_crit_interval(self, loss: float | np.ndarray) -> pd.DataFrame:
        """``B_crit`` at each loss with its bootstrap interval: columns ``loss, b_crit, low, high``."""
        losses = np.atleast_1d(np.asarray(loss, dtype=np.float64))
        point = self.b_crit(losses)
        out = pd.DataFrame({"loss": losses, "b_crit": point, "low": np.nan, "high": np.nan})
        if self.level is not None and len(self.samples) >= 2:
            reps = self.samples[:, [0]] / losses[None, :] ** (1.0 / self.samples[:, [1]])
            out["low"], out["high"] = quantile_interval(reps, point, None, self.level, "percentile")
        return out

    def minimum(self, runs: Any) -> pd.DataFrame:
        """Runs converted to minimum steps and data: ``s_min`` and ``e_min`` columns (with ``_low``/``_high``).

        Each row's critical batch is the fitted ``B_crit`` at its own loss; ``E`` is its tokens column when the
        fit read one, else ``batch_size * step``. The result feeds :func:`scalelaw.laws.steps.kaplan_steps`.
        """
        cols = _Columns(**self.columns)  # type: ignore[arg-type]
        table = load_runs(runs)
        table.require([cols.step, cols.batch, cols.loss], positive=[cols.batch, cols.loss], why="S_min and E_min")
        frame = table.table.copy()
        S, y = frame[cols.step].to_numpy(np.float64), frame[cols.loss].to_numpy(np.float64)
        E = frame[cols.tokens].to_numpy(np.float64) if cols.tokens else frame[cols.batch].to_numpy(np.float64) * S
        with np.errstate(divide="ignore", invalid="ignore"):
            B = E / S
        band = self.b_crit_interval(y)
        frame["s_min"], frame["e_min"] = minimum_steps_and_data(S, B, band["b_crit"].to_numpy())
        # S_min falls and E_min grows with B_crit: the low end of B_crit gives the high end of S_min.
        frame["s_min_high"], frame["e_min_low"] = minimum_steps_and_data(S, B, band["low"].to_numpy())
        frame["s_min_low"], frame["e_min_high"] = minimum_steps_and_data(S, B, band["high"].to_numpy())
        return frame

    def summary(self) -> str:
        """One line with ``B_star`` and ``alpha_B`` and their intervals, then the notes."""
        if self.level is None:
            head = f"B_crit(L) = {self.B_star:.4g} / L^(1/{self.alpha_B:.4f}) {self.unit}"
        else:
            head = (
                f"B_crit(L) = B_* / L^(1/alpha_B): B_* = {self.B_star:.4g} [{self.B_star_low:.4g}, "
                f"{self.B_star_high:.4g}] {self.unit}, alpha_B = {self.alpha_B:.4f} [{self.alpha_B_low:.4f}, "
                f"{self.alpha_B_high:.4f}] ({self.level:.0%}, {self.n_boot} by-run resamples of {self.n_runs} runs)"
            )
        return "\n".join([head, *self.notes])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``B_star`` and ``alpha_B`` as ``{"value", "low", "high"}``, the per-target table."""
        return jsonable(
            {
                "B_star": {"value": self.B_star, "low": self.B_star_low, "high": self.B_star_high},
                "alpha_B": {"value": self.alpha_B, "low": self.alpha_B_low, "high": self.alpha_B_high},
                "unit": self.unit,
                "level": self.level,
                "method": "percentile bootstrap over runs" if self.level is not None else "point estimate",
                "n_boot": self.n_boot,
                "n_runs": self.n_runs,
                "seed": self.seed,
                "targets": self.table,
                "notes": list(self.notes),
            }
        )


def _steps_by_group(
    frame: pd.DataFrame, cols: _Columns, group: str | None, targets: Any, n_targets: int
) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Steps to the targets of each model (``group``): the table with a ``column`` index per (model, target)
    hyperbola, the keys of those columns, and notes on models left out."""
    parts, notes = [], []
    groups = frame.groupby(group, sort=True) if group else [(None, frame)]
    for value, sub in groups:
        try:
            goals = _default_targets(sub, cols, n_targets) if targets is None else np.atleast_1d(targets).astype(float)
        except DataError as exc:
            if group is None:
                raise
            notes.append(f"{group} = {value} left out: {exc}")
            continue
        if goals.size < 2 or not np.all(goals > 0):
            raise DataError(f"the critical batch size needs >= 2 positive target losses, got {goals.tolist()}")
        part = steps_to_target(sub, goals, step=cols.step, batch=cols.batch, loss=cols.loss, tokens=cols.tokens)
        parts.append(part.assign(**({group: value} if group else {})))
    if not parts:
        raise DataError(f"no model has runs at >= {MIN_BATCHES} batch sizes reaching common losses: {'; '.join(notes)}")
    steps = pd.concat(parts, ignore_index=True)
    key_cols = [group, "target"] if group else ["target"]
    steps["column"] = steps.groupby(key_cols, sort=False).ngroup()
    keys = steps.drop_duplicates("column").sort_values("column")[key_cols].reset_index(drop=True)
    return steps, keys, notes


def fit_critical_batch(
    runs: Any,
    targets: float | np.ndarray | None = None,
    *,
    n_targets: int = 8,
    step: str = "step",
    batch: str = "batch_size",
    loss: str = "loss",
    tokens: str | None = None,
    by: str | None = "params",
    n_boot: int = 1000,
    level: float | None = 0.9,
    seed: int = 0,
) -> CriticalBatch:
    """Fit ``B_crit(L) = B_* / L^(1/alpha_B)`` to loss curves at several batch sizes (Kaplan 2020 sec. 5.1).

    Parameters
    ----------
    runs : DataFrame, path or Runs
        Loss curves: ``run, step, batch_size, loss``, one batch size per run, at >= 3 batch sizes.
    targets : float or array, optional
        Target losses. By default ``n_targets`` log-spaced losses in the lower half (in log) of the range
        that every run starts above and at least 3 batch sizes reach.
    n_targets : int
        Number of default targets.
    step, batch, loss : str
        Column names.
    tokens : str, optional
        Column of tokens seen: ``E`` and ``B_crit`` are then in tokens; otherwise in the unit of ``batch``.
    by : str or None
        Column that tells models apart (default ``params``, when the data has it): each model reaches a loss
        in its own steps, so each gets its own hyperbola per target (and its own default targets), while
        ``B_crit(L)`` is one law of the loss for all of them (Kaplan sec. 5.1, Fig. 10). None: one model.
    n_boot : int
        By-run bootstrap replicates (whole curves are resampled).
    level : float or None
        Interval level; None for point estimates only.
    seed : int
        Seed of the bootstrap.

    Returns
    -------
    CriticalBatch

    Examples
    --------
    >>> fitted = fit_critical_batch(simulate_batch_sweep(), n_boot=100)
    >>> round(fitted.alpha_B, 2), f"{fitted.B_star:.1e}"
    (0.21, '2.0e+08')
    """
    if level is not None:
        check_level(level)
        check_replicates(n_boot)
    cols = _Columns(step=step, batch=batch, loss=loss, tokens=tokens)
    frame = _curves(runs, cols)
    group = by if by is not None and by in frame.columns else None
    steps, keys, notes = _steps_by_group(frame, cols, group, targets, n_targets)
    run_ids, run_row = np.unique(steps["run"].to_numpy(), return_inverse=True)
    n_runs, col = run_ids.size, steps["column"].to_numpy()
    S, E = np.full((n_runs, len(keys)), np.nan), np.full((n_runs, len(keys)), np.nan)
    S[run_row, col], E[run_row, col] = steps["steps"].to_numpy(), steps["examples"].to_numpy()
    batch_of_run = np.zeros(n_runs)
    batch_of_run[run_row] = steps["batch_size"].to_numpy()
    goals = keys["target"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        x = S / E  # 1 / B, in tokens per step when a tokens column gives E
    point = _estimates(x, S, batch_of_run, np.log(goals), np.ones((1, n_runs)))
    if not np.isfinite(point["alpha_B"][0]):
        raise DataError(
            "B_crit could not be fitted: fewer than 2 target losses are reached by "
            f">= {MIN_BATCHES} batch sizes with a hyperbola S = S_min + E_min/B that has S_min, E_min > 0, or "
            "B_crit does not fall with the loss. Pass targets=[...] inside the range the runs reach, and "
            "cover batch sizes on both sides of the critical batch"
        )
    reps = {k: np.empty((0, goals.size if v.ndim == 2 else 1)) for k, v in point.items()}
    if level is not None and n_runs < MIN_RUNS:
        notes.append(f"only {n_runs} runs: no bootstrap interval (a by-run bootstrap needs >= {MIN_RUNS})")
        level = None
    if level is not None:
        rng = np.random.default_rng(seed)
        counts = rng.multinomial(n_runs, np.full(n_runs, 1.0 / n_runs), size=n_boot).astype(np.float64)
        reps = _estimates(x, S, batch_of_run, np.log(goals), counts)
    table = pd.concat([keys, _target_table(goals, point, reps, level, S, batch_of_run).drop(columns="target")], axis=1)
    if (~table["used"]).any():
        notes.append(f"{int((~table['used']).sum())} target loss(es) left out: fewer than {MIN_BATCHES} batch "
                     "sizes reach them, or their hyperbola has no positive S_min and E_min")  # fmt: skip
    B_lo, B_hi = _interval(reps["B_star"], point["B_star"][0], level)
    a_lo, a_hi = _interval(reps["alpha_B"], point["alpha_B"][0], level)
    ok = np.isfinite(reps["B_star"]) & np.isfinite(reps["alpha_B"])
    return CriticalBatch(
        B_star=float(point["B_star"][0]),
        alpha_B=float(point["alpha_B"][0]),
        B_star_low=B_lo,
        B_star_high=B_hi,
        alpha_B_low=a_lo,
        alpha_B_high=a_hi,
        table=table,
        steps=steps,
        unit="tokens" if tokens else batch,
        level=level,
        n_boot=n_boot if level is not None else 0,
        n_runs=n_runs,
        seed=seed,
        columns={"step": step, "batch": batch, "loss": loss, "tokens": tokens},
        notes=tuple(notes),
        samples=np.column_stack([reps["B_star"][ok], reps["alpha_B"][ok]]) if ok.any() else np.empty((0, 2)),
    )


def _target_table(goals, point, reps, level, S, batch) -> pd.DataFrame:
    table = pd.DataFrame({"target": goals})
    for name in ("s_min", "e_min", "b_crit"):  # one column of S per hyperbola: a (group, target) pair
        table[name] = point[name][0]
        bounds = [_interval(reps[name][:, k], point[name][0, k], level) for k in range(goals.size)]
        table[f"{name}_low"], table[f"{name}_high"] = np.array(bounds).reshape(-1, 2).T
    table["n_batches"] = _distinct_batches(batch, np.isfinite(S), np.ones((1, batch.size)))[0]
    table["used"] = np.isfinite(table["b_crit"].to_numpy())
    return table


# ------------------------------------------------------------------------------------------ synthetic data


def simulate_batch_sweep(
    batch_sizes: np.ndarray | None = None,
    *,
    B_star: float = KAPLAN_B_STAR,
    alpha_B: float = KAPLAN_ALPHA_B,
    loss_floor: float = 2.8,
    S_c: float = 2.1e3,
    alpha_S: float = 0.76,
    initial_loss: float = math.log(50257),
    n_checkpoints: int = 200,
    max_steps: float = 1e6,
    noise: float = 0.0,
    seed: int = 0,
) -> pd.DataFrame:
    """Loss curves at several batch sizes drawn from McCandlish et al.'s model with a known ``B_crit(L)``.

    The steps to reach loss ``L`` at batch ``B`` are ``S_min(L) (1 + B_crit(L)/B)`` with
    ``B_crit(L) = B_star / L^(1/alpha_B)`` and Kaplan's learning curve ``S_min(L) = S_c / (L - loss_floor)^(1/alpha_S)``
    (eq. 1.6 at one model size); the loss never exceeds ``initial_loss`` (ln of GPT-2's vocabulary).

    Parameters
    ----------
    batch_sizes : array, optional
        Batch sizes in tokens (default ``2^14 ... 2^23``), one run each.
    B_star, alpha_B, loss_floor, S_c, alpha_S, initial_loss
        The model's constants (Kaplan's by default; ``loss_floor`` is ``(N_c/N)^alpha_N`` for N near 1e8).
    n_checkpoints, max_steps : int, float
        Log-spaced checkpoints from step 10 to ``max_steps``.
    noise : float
        Standard deviation of log-normal noise on every loss.
    seed : int
        Seed of the noise.

    Returns
    -------
    DataFrame
        ``run, step, batch_size, tokens, loss``.
    """
    sizes = np.asarray(2.0 ** np.arange(14, 24) if batch_sizes is None else batch_sizes, dtype=np.float64)
    grid = loss_floor + np.geomspace(initial_loss - loss_floor, 1e-4, 4000)  # decreasing losses
    steps = np.unique(np.round(np.geomspace(10, max_steps, n_checkpoints)))
    rng = np.random.default_rng(seed)
    frames = []
    for B in sizes:
        need = S_c / (grid - loss_floor) ** (1.0 / alpha_S) * (1.0 + critical_batch_size(grid, B_star, alpha_B) / B)
        curve = np.interp(np.log(steps), np.log(need), np.log(grid), left=math.log(initial_loss))
        y = np.exp(curve + rng.normal(0.0, noise, steps.size)) if noise > 0 else np.exp(curve)
        frames.append(
            pd.DataFrame({"run": f"B{int(B)}", "step": steps, "batch_size": B, "tokens": B * steps, "loss": y})
        )
    return pd.concat(frames, ignore_index=True)
