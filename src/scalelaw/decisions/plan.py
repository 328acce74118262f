"""Decisions from a fitted law: compute-optimal allocation, compute for a target loss,
inference-aware over-training, data-limited epochs, crossovers and effective compute.

Every function works on arrays of parameter sets, so the same call evaluated on bootstrap
replicates gives the interval (``level=0.9``). Compute is ``C = k N D`` with ``k = 6`` FLOPs per
parameter per token unless given.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from scalelaw._result import Result, jsonable
from scalelaw._validation import check_level
from scalelaw.decisions.axis import axis_words, default_search, midpoint, shared_axis
from scalelaw.decisions.plan_error import PlanError, choice_halfwidths, decades_at, plan_error, widen_row
from scalelaw.errors import FitError, LawError
from scalelaw.fitting.result import FitResult
from scalelaw.laws.law import Law
from scalelaw.trust.bootstrap import DEFAULT_REPLICATES, SAVED_WORDS, replicates_for, unbounded_percentiles
from scalelaw.trust.extrapolation import DEFAULT_MAX_DECADES, extrapolation_records

#: Search range of log N for numeric allocation (parameters between 1e2 and 1e16).
_LOG_N_RANGE = (math.log(1e2), math.log(1e16))
_COARSE = 241
_FINE = 1025
#: Replicates per fit that :func:`compare` draws for a fit that saved none.
COMPARE_REPLICATES = 500


def _predict_paired(law: Law, theta: np.ndarray, columns: Mapping[str, np.ndarray]) -> np.ndarray:
    """Prediction of set s at row s (the diagonal of the (sets, rows) product), in blocks."""
    n = theta.shape[0]
    out = np.empty(n)
    block = 256
    for i in range(0, n, block):
        sl = slice(i, min(i + block, n))
        cols = {k: np.asarray(v)[sl] for k, v in columns.items()}
        out[sl] = np.diagonal(law.predict(theta[sl], **cols))
    return out


def _columns(law: Law, N: np.ndarray, D: np.ndarray, fixed: Mapping[str, float]) -> dict[str, np.ndarray]:
    """Input columns for N and D plus fixed inputs. ``unique_tokens`` means tokens *available*: a run
    that trains on fewer tokens than exist sees only D unique ones (the law's U_D is unique tokens seen)."""
    n_name, d_name = law.inputs_for("N", "D", purpose="compute-optimal allocation")
    unset = [f"{n} ({law.roles[n] or 'no role'})" for n in law.inputs if n not in (n_name, d_name, *fixed)]
    if unset:  # an input left to chance would be a silent guess: say which values are needed
        raise LawError(
            f"law {law.name!r} reads N from {n_name!r} and D from {d_name!r}; its other input(s) {', '.join(unset)} "
            f"need a value: pass fixed={{{unset[0].split()[0]!r}: ...}}"
        )
    cols = {n_name: N, d_name: D}
    for name, value in fixed.items():
        cols[name] = np.minimum(value, D) if name == "unique_tokens" else np.full(N.shape, value)
    return cols


def _loss_on_grid(law: Law, theta: np.ndarray, log_n: np.ndarray, flops: float, k: float, fixed) -> np.ndarray:
    """Loss of every parameter set on a shared grid of log N at compute ``flops``: (sets, grid)."""
    N = np.exp(log_n)
    cols = _columns(law, N, flops / (k * N), fixed)
    with np.errstate(all="ignore"):
        loss = law.predict(theta, **cols)
    return np.where(np.isfinite(loss), loss, np.inf)


def _argmin_parabolic(grid: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-row minimum of ``values`` over ``grid`` with parabolic refinement between neighbours."""
    idx = np.argmin(values, axis=1)
    i = np.clip(idx, 1, len(grid) - 2)
    rows = np.arange(values.shape[0])
    y0, y1, y2 = values[rows, i - 1], values[rows, i], values[rows, i + 1]
    h = grid[1] - grid[0]
    denom = y0 - 2 * y1 + y2
    with np.errstate(all="ignore"):
        shift = np.where((denom > 0) & np.isfinite(denom), 0.5 * h * (y0 - y2) / denom, 0.0)
    shift = np.clip(shift, -h, h)
    x = grid[i] + shift
    on_edge = (idx == 0) | (idx == len(grid) - 1)
    x = np.where(on_edge, grid[idx], x)
    fmin = np.where(on_edge, values[rows, idx], y1 - 0.25 * (y0 - y2) * shift / h)
    return x, fmin


def _numeric_optimum(law: Law, theta: np.ndarray, flops: float, k: float, fixed) -> tuple[np.ndarray, np.ndarray]:
    """log N_opt and loss for every parameter set (coarse shared grid, fine shared window, parabola)."""
    coarse = np.linspace(*_LOG_N_RANGE, _COARSE)
    # Allocations must leave at least one token per parameter... or a tiny model; keep D >= 1.
    coarse = coarse[np.exp(coarse) * np.exp(coarse) * k <= flops * 1e6]
    if coarse.size < 3:
        raise FitError(f"compute budget {flops:g} FLOPs is too small to allocate")
    loss = _loss_on_grid(law, theta, coarse, flops, k, fixed)
    best = coarse[np.argmin(loss, axis=1)]
    step = coarse[1] - coarse[0]
    lo, hi = best.min() - 2 * step, best.max() + 2 * step
    fine = np.linspace(lo, hi, _FINE)
    x, _ = _argmin_parabolic(fine, _loss_on_grid(law, theta, fine, flops, k, fixed))
    N = np.exp(x)
    return x, _predict_paired(law, theta, _columns(law, N, flops / (k * N), fixed))


def optimum(
    law: Law, theta: np.ndarray, flops: float, k: float = 6.0, fixed: Mapping[str, float] | None = None
) -> dict[str, np.ndarray]:
    """Compute-optimal N, D and loss at ``flops`` for each parameter set in ``theta`` (sets, params).

    The law's closed form when it has one (``law.closed_form("compute_optimal")``, e.g. Chinchilla's:
    laws.md §3.2); otherwise a shared-grid search with parabolic refinement (relative accuracy ~1e-7 in N)
    for any law with inputs playing N and D (``law.roles``).
    """
    fixed = dict(fixed or {})
    solve = None if fixed else law.closed_form("compute_optimal")
    if solve is not None:
        log_n, loss = solve(theta, flops, k)
    else:
        log_n, loss = _numeric_optimum(law, theta, flops, k, fixed)
    N = np.exp(log_n)
    D = flops / (k * N)
    return {"params": N, "tokens": D, "tokens_per_param": D / N, "loss": loss}


@dataclass(frozen=True)
class Plan(Result):
    """A table of decisions with optional intervals (columns ``X``, ``X_low``, ``X_high``).

    ``interval_kind`` says what the intervals hold: ``"total"`` (the bootstrap, the law's error beyond the data
    and the law choice: :mod:`scalelaw.decisions.plan_error`), ``"parameter"`` (the bootstrap alone), or None
    without intervals.
    """

    table: pd.DataFrame
    level: float | None
    method: str
    notes: tuple[str, ...] = ()
    #: Columns that were given (budget, target, ...); every other column is an estimated quantity.
    inputs: tuple[str, ...] = ("flops", "target_loss", "inference_tokens", "unique_tokens")
    interval_kind: str | None = None

    def to_records(self) -> list[dict[str, Any]]:
        """One dict per row: given inputs as numbers, estimated quantities as ``{"value"[, "low", "high"]}``."""
        records = []
        for _, row in self.table.iterrows():
            rec: dict[str, Any] = {}
            for col in self.table.columns:
                if col.endswith(("_low", "_high")):
                    continue
                value = float(row[col])
                if f"{col}_low" in self.table.columns:
                    rec[col] = {"value": value, "low": float(row[f"{col}_low"]), "high": float(row[f"{col}_high"])}
                elif col in self.inputs:
                    rec[col] = value
                else:
                    rec[col] = {"value": value}
            records.append(rec)
        return records

    def to_frame(self) -> pd.DataFrame:
        """A copy of :attr:`table`.

        Returns
        -------
        pandas.DataFrame
            One row per decision (budget, target, ...): the given inputs, the estimated quantities and, with
            intervals, their ``_low`` and ``_high`` columns.
        """
        return self.table.copy()

    def to_dict(self) -> dict[str, Any]:
        """``level``, ``interval_kind``, ``method``, ``notes``, ``inputs`` and the table as flat records
        (:meth:`to_records` nests)."""
        return jsonable(
            {
                "level": self.level,
                "interval_kind": self.interval_kind,
                "method": self.method,
                "notes": self.notes,
                "inputs": self.inputs,
                "table": self.table,
            }
        )

    def summary(self) -> str:
        """How the numbers were made, then one line per row (the first five) with any intervals, then the notes."""
        kind = f" {self.interval_kind}" if self.interval_kind else ""
        level = f", {self.level:.0%}{kind} intervals" if self.level is not None else ""
        lines = [f"plan of {len(self.table)} row(s): {self.method}{level}"]
        columns = list(self.table.columns)
        for _, row in self.table.head(5).iterrows():
            parts = []
            for col in columns:
                if col.endswith(("_low", "_high")):
                    continue
                text = f"{col}={float(row[col]):.4g}"
                if f"{col}_low" in columns:
                    text += f" [{float(row[f'{col}_low']):.4g}, {float(row[f'{col}_high']):.4g}]"
                parts.append(text)
            lines.append(", ".join(parts))
        if len(self.table) > 5:
            lines.append(f"... and {len(self.table) - 5} more row(s)")
        return "\n".join([*lines, *(f"note: {note}" for note in self.notes)])


def parameter_sets(
    result: FitResult, level: float | None, n_boot: int | None = None, seed: int = 0, boot: Any = None
) -> np.ndarray:
    """The point estimate in row 0 and, when ``level`` is set, bootstrap replicates below it.

    ``boot`` reuses a :class:`~scalelaw.trust.bootstrap.Bootstrap` of this fit (one bootstrap, many decisions);
    otherwise ``n_boot`` by-run replicates are drawn with ``seed``, and with ``n_boot=None`` the replicates saved
    with the fit (``scalelaw fit --bootstrap N --out``) are reused when it has them, else 1000 are drawn.
    """
    return replicate_sets(result, level, n_boot, seed, boot)[0]


def replicate_sets(
    result: FitResult,
    level: float | None,
    n_boot: int | None = None,
    seed: int = 0,
    boot: Any = None,
    default: int = DEFAULT_REPLICATES,
) -> tuple[np.ndarray, bool]:
    """:func:`parameter_sets` (``default`` replicates when ``n_boot`` is None and the fit saved none), and
    whether its replicates are those saved with the fit (the plan's ``method`` says so)."""
    point = np.array([result.values])
    if level is None:
        return point, False
    check_level(level)
    if boot is None:
        boot = replicates_for(result, n_boot, seed, default)
    elif boot.result is not result and boot.result.values != result.values:
        raise FitError("boot= is a bootstrap of another fit; pass the Bootstrap of this FitResult")
    return np.vstack([point, boot.samples]), bool(getattr(boot, "saved", False))


def _with_interval(
    table: dict[str, np.ndarray], level: float | None, contain: Mapping[str, np.ndarray] | None = None
) -> dict[str, Any]:
    """Point estimate from set 0, percentile interval from the rest.

    ``contain`` holds the unshifted sets of quantities that a total interval shifted by draws of the law's
    error: their parameter interval stays inside the total one (noise added to a skewed bootstrap can pull a
    percentile inward; a total interval is never narrower than its parameter interval, as in ``predict``).
    """
    out: dict[str, Any] = {}
    for name, values in table.items():
        out[name] = float(values[0])
        if level is not None and values.size > 1:
            low, high = _percentiles(values[1:], level)
            if contain is not None and name in contain:
                p_low, p_high = _percentiles(contain[name][1:], level)
                low, high = min(low, p_low), max(high, p_high)
            out[f"{name}_low"], out[f"{name}_high"] = low, high
    return out


def _percentiles(reps: np.ndarray, level: float) -> tuple[float, float]:
    """Central ``level`` percentiles of replicates.

    +inf (a replicate that never reaches its target: its compute is unbounded) counts, so a band of the
    survivors never hides it. NaN (no answer) is left out while it could not move an end: when more than
    ``(1 - level) / 2`` of the replicates have none, the band is unknown (NaN), not a band of the rest.
    """
    a = (1 - level) / 2
    missing = np.isnan(reps)
    if not reps.size or missing.mean() > a:
        return math.nan, math.nan
    low, high = unbounded_percentiles(reps[~missing], level)
    return float(low), float(high)


def require_minimized(law: Law, what: str) -> None:
    """Refuse a law whose output a plan cannot minimise (:attr:`~scalelaw.laws.law.Law.goal`): a score to
    maximise, or a fitted hyperparameter, would otherwise be "optimised" the wrong way without a word."""
    if law.goal == "minimize":
        return
    kind = "a score to maximise" if law.goal == "maximize" else "a fitted setting, not an objective"
    raise LawError(
        f"law {law.name!r} predicts {law.output!r}, {kind}; {what} minimises a loss or error, so it does not "
        "apply. Use FitResult.predict for its value at given inputs, or FitResult.solve for the input that "
        "reaches a target value"
    )


def compute_optimal(
    result: FitResult,
    flops: float | list[float] | np.ndarray,
    k: float = 6.0,
    fixed: Mapping[str, float] | None = None,
    level: float | None = None,
    n_boot: int | None = None,
    seed: int = 0,
    boot: Any = None,
    kind: str = "total",
) -> Plan:
    """Compute-optimal parameters, tokens, tokens per parameter and loss at each budget.

    Parameters
    ----------
    result : FitResult
        A fit of a law of parameters and tokens (chinchilla, kaplan, overtrain, data_constrained,
        or an expression of ``params`` and ``tokens``).
    flops : float or array
        Training compute budgets in FLOPs.
    k : float
        FLOPs per parameter per token (6 for forward + backward).
    fixed : mapping, optional
        Values of other inputs, e.g. ``{"unique_tokens": 1e11}`` for the data-constrained law.
    level : float, optional
        Add intervals at this level (``*_low``/``*_high`` columns).
    n_boot, seed : int
        Bootstrap replicates and seed behind ``level`` (the seed also draws the law's error). ``n_boot=None``
        (default): the replicates saved with the fit (``scalelaw fit --bootstrap N --out``) when it has them
        (``method`` then says "saved with the fit"), else 1000 drawn with ``seed``.
    boot : Bootstrap, optional
        A bootstrap of ``result`` to reuse instead (every decision in this module takes one).
    kind : str
        ``"total"``: the by-run bootstrap, the law's error beyond the data on the loss, and for a fit of
        ``law="auto"`` the spread of the candidate laws' plans (:mod:`scalelaw.decisions.plan_error`);
        ``"parameter"``: the bootstrap alone.

    Examples
    --------
    >>> import scalelaw, warnings
    >>> warnings.simplefilter("ignore")
    >>> fit = scalelaw.fit("chinchilla", "dataset:gadre2024_rpj")
    >>> plan = compute_optimal(fit, 5.76e23)
    >>> sorted(plan.table.columns)
    ['flops', 'loss_opt', 'params_opt', 'tokens_opt', 'tokens_per_param']
    """
    require_minimized(result.law, "a compute-optimal plan")
    theta, saved = replicate_sets(result, level, n_boot, seed, boot)
    err = plan_error(result, kind, level, theta.shape[0], seed)
    law = result.law
    rows = []
    for c in np.atleast_1d(np.asarray(flops, dtype=np.float64)):
        if not (math.isfinite(c) and c > 0):
            raise FitError(f"compute budgets must be finite and > 0, got {c}")
        opt = optimum(law, theta, float(c), k, fixed)
        loss = opt["loss"]
        if err.total:
            # The law's error joins the loss only: the error model is learned on losses and says nothing about
            # where the optimum sits, so N* and D* widen by the law choice alone.
            decades = decades_at(result, law, _columns(law, opt["params"], opt["tokens"], dict(fixed or {})))
            loss = err.shift(loss, decades)
            err.check_reach(f"{c:.3g} FLOPs", float(decades[0]))
        named = {
            "params_opt": opt["params"],
            "tokens_opt": opt["tokens"],
            "tokens_per_param": opt["tokens_per_param"],
            "loss_opt": loss,
        }
        row = {"flops": float(c), **_with_interval(named, level, {"loss_opt": opt["loss"]} if err.total else None)}

        def point(cand: Law, th: np.ndarray, c: float = float(c)) -> dict[str, np.ndarray]:
            o = optimum(cand, th, c, k, fixed)
            return {"params_opt": o["params"], "tokens_opt": o["tokens"], "loss_opt": o["loss"]}

        center = {q: row[q] for q in ("params_opt", "tokens_opt", "loss_opt")}
        rows.append(widen_row(row, choice_halfwidths(result, err, point, center)))
    return _plan(pd.DataFrame(rows), err, theta.shape[0] - 1, saved=saved)


def _method(level: float | None, n_replicates: int, err: PlanError | None = None, saved: bool = False) -> str:
    """How a plan's intervals were made; ``n_replicates`` is the bootstrap actually used, not the one asked for,
    and ``saved`` says it is the one saved with the fit."""
    if level is None:
        return "point estimate"
    text = f"bootstrap by run (n={n_replicates}{SAVED_WORDS if saved else ''}), percentile"
    if err is not None and err.total:
        text += ", with the law's error beyond the data"
        text += " and the choice of law" if err.choice else ""
    return text


def _plan(
    table: pd.DataFrame,
    err: PlanError,
    n_replicates: int,
    notes=(),
    inputs: tuple[str, ...] | None = None,
    saved: bool = False,
) -> Plan:
    """A Plan of ``table`` that records how its intervals were made (``n_replicates``: the rows of the
    bootstrap behind them, which a given ``boot=`` sets, not ``n_boot``; ``saved``: those saved with the fit)."""
    extra = {} if inputs is None else {"inputs": inputs}
    notes = tuple(dict.fromkeys([*notes, *err.notes]))
    method = _method(err.level, n_replicates, err, saved)
    return Plan(table, err.level, method, notes, interval_kind=err.kind, **extra)


def compute_for_loss(
    result: FitResult,
    target_loss: float,
    k: float = 6.0,
    fixed: Mapping[str, float] | None = None,
    level: float | None = None,
    n_boot: int | None = None,
    seed: int = 0,
    boot: Any = None,
    kind: str = "total",
) -> Plan:
    """Smallest compute (and its compute-optimal N and D) that reaches ``target_loss``.

    The law's closed form when it has one (Chinchilla's: laws.md §3.2 corollary,
    ``A N^-alpha = (l - E) beta/(alpha+beta)``, ``B D^-beta = (l - E) alpha/(alpha+beta)``); otherwise
    bisection on log C of the compute-optimal loss for the point estimate, and interpolation on a grid of
    budgets for bootstrap replicates.
    Replicates whose floor lies above the target never reach it; their share is reported in ``notes``.

    With ``kind="total"`` (and ``level``) every replicate's compute-optimal loss curve is shifted by its own
    draw of the law's error at each budget's distance beyond the data, and solved for the target on the
    shifted curve (:func:`_compute_on_shifted`); for a fit of ``law="auto"`` the candidate laws' answers widen
    the band too (:mod:`scalelaw.decisions.plan_error`). ``kind="parameter"``: the bootstrap alone.
    """
    require_minimized(result.law, "the compute for a target loss")
    if not math.isfinite(target_loss) or target_loss <= 0:
        raise FitError(f"target loss must be finite and > 0, got {target_loss}")
    fixed = dict(fixed or {})
    theta, saved = replicate_sets(result, level, n_boot, seed, boot)
    err = plan_error(result, kind, level, theta.shape[0], seed)
    C, N, D = _solve_for_loss(result.law, theta, target_loss, k, fixed)
    if not np.isfinite(C[0]):
        raise FitError(
            f"the fitted law never reaches loss {target_loss:g}: its compute-optimal loss stays above it "
            "at any budget (the target is below the law's floor)"
        )
    unshifted = {"flops": C.copy(), "params_opt": N.copy(), "tokens_opt": D.copy()} if err.total else None
    if err.total and theta.shape[0] > 1:
        C[1:], N[1:], D[1:] = _compute_on_shifted(result, theta[1:], err.sets(slice(1, None)), target_loss, k, fixed)
        columns = _columns(result.law, N[:1], D[:1], fixed)
        err.check_reach(
            f"{C[0]:.3g} FLOPs (for loss {target_loss:g})", float(decades_at(result, result.law, columns)[0])
        )
    named = {"flops": C, "params_opt": N, "tokens_opt": D}
    row = {"target_loss": target_loss, **_with_interval(named, level, unshifted)}

    def point(cand: Law, th: np.ndarray) -> dict[str, np.ndarray]:
        c, n, d = _solve_for_loss(cand, th, target_loss, k, fixed)
        return {"flops": c, "params_opt": n, "tokens_opt": d}

    row = widen_row(row, choice_halfwidths(result, err, point, {q: row[q] for q in named}))
    notes: tuple[str, ...] = ()
    if level is not None:
        notes = _unreached_note(float(np.mean(~np.isfinite(C[1:]))), level)
    return _plan(pd.DataFrame([row]), err, theta.shape[0] - 1, notes, inputs=("target_loss",), saved=saved)


def _solve_for_loss(law: Law, theta: np.ndarray, target_loss: float, k: float, fixed) -> tuple[np.ndarray, ...]:
    """Compute, N and D reaching ``target_loss`` for every set: row 0 exactly, the rest on a grid of budgets."""
    solve = None if fixed else law.closed_form("compute_for_loss")
    if solve is not None:
        return solve(theta, target_loss, k)
    C = np.full(theta.shape[0], np.inf)
    C[0] = _bisect_compute(law, theta[[0]], target_loss, k, fixed)
    if theta.shape[0] > 1:
        C[1:] = _interpolate_compute(law, theta[1:], target_loss, k, fixed)
    N = np.full(theta.shape[0], np.inf)
    for s in np.flatnonzero(np.isfinite(C)):
        N[s] = optimum(law, theta[[s]], float(C[s]), k, fixed)["params"][0]
    D = np.where(np.isfinite(C), C / (k * N), np.inf)
    return C, N, D


def _compute_on_shifted(
    result: FitResult, theta: np.ndarray, err: PlanError, target: float, k: float, fixed
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Least compute at which each replicate's compute-optimal loss, shifted by its draw of the law's error at
    that budget's distance beyond the data, reaches ``target``; and N, D there. ``err`` holds the draws of
    exactly the sets of ``theta``.

    The first crossing is bracketed on a shared grid of budgets (the shifted curve need not fall monotonically:
    the error grows with distance), then refined by vectorized bisection on log C for laws with a closed-form
    optimum, by log-log interpolation otherwise. Replicates that never reach the target get ``inf``.
    """
    law = result.law
    grid = np.linspace(*_BUDGET_RANGE, 181)
    exact = None if fixed else law.closed_form("compute_optimal")

    def shifted(log_c: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Shifted loss and N of sets ``rows`` at per-set budgets ``exp(log_c)`` (closed form only)."""
        log_n, loss = exact(theta[rows], np.exp(log_c), k)
        n = np.exp(log_n)
        decades = decades_at(result, law, _columns(law, n, np.exp(log_c) / (k * n), fixed))
        return loss * np.exp(err.log_shift(decades, rows)), n

    curve = np.empty((theta.shape[0], grid.size))
    for j, c in enumerate(grid):
        opt = optimum(law, theta, math.exp(c), k, fixed)
        decades = decades_at(result, law, _columns(law, opt["params"], opt["tokens"], fixed))
        curve[:, j] = opt["loss"] * np.exp(err.log_shift(decades))
    below = curve <= target
    first = np.argmax(below, axis=1)
    C = np.full(theta.shape[0], np.inf)
    C[below[:, 0]] = math.exp(grid[0])
    rows = np.flatnonzero(below.any(axis=1) & (first > 0))
    j = first[rows]
    if exact is not None and rows.size:
        lo, hi = grid[j - 1].copy(), grid[j].copy()
        for _ in range(50):
            mid = 0.5 * (lo + hi)
            above = shifted(mid, rows)[0] > target
            lo, hi = np.where(above, mid, lo), np.where(above, hi, mid)
        C[rows] = np.exp(0.5 * (lo + hi))
    elif rows.size:
        l0, l1 = np.log(curve[rows, j - 1]), np.log(curve[rows, j])
        t = (l0 - math.log(target)) / (l0 - l1)
        C[rows] = np.exp(grid[j - 1] + t * (grid[j] - grid[j - 1]))
    N = np.full(theta.shape[0], np.inf)
    ok = np.flatnonzero(np.isfinite(C))
    if exact is not None and ok.size:
        N[ok] = np.exp(exact(theta[ok], C[ok], k)[0])
    else:
        for s in ok:
            N[s] = optimum(law, theta[[s]], float(C[s]), k, fixed)["params"][0]
    with np.errstate(invalid="ignore"):
        return C, N, np.where(np.isfinite(C), C / (k * N), np.inf)


_BUDGET_RANGE = (math.log(1e10), math.log(1e40))


def _bisect_compute(law: Law, theta: np.ndarray, target: float, k: float, fixed) -> float:
    lo, hi = _BUDGET_RANGE
    if optimum(law, theta, math.exp(hi), k, fixed)["loss"][0] > target:
        return math.inf
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if optimum(law, theta, math.exp(mid), k, fixed)["loss"][0] > target:
            lo = mid
        else:
            hi = mid
    return math.exp(0.5 * (lo + hi))


def _interpolate_compute(law: Law, theta: np.ndarray, target: float, k: float, fixed) -> np.ndarray:
    """Budget where each set's compute-optimal loss crosses ``target``, from a shared grid of budgets."""
    grid = np.linspace(*_BUDGET_RANGE, 91)
    curve = np.column_stack([optimum(law, theta, math.exp(c), k, fixed)["loss"] for c in grid])  # (sets, budgets)
    below = curve <= target
    first = np.argmax(below, axis=1)
    reach = below.any(axis=1) & (first > 0)
    out = np.full(theta.shape[0], np.inf)
    rows = np.flatnonzero(reach)
    j = first[rows]
    l0, l1 = np.log(curve[rows, j - 1]), np.log(curve[rows, j])
    t = (l0 - math.log(target)) / (l0 - l1)
    out[rows] = np.exp(grid[j - 1] + t * (grid[j] - grid[j - 1]))
    out[below[:, 0]] = math.exp(grid[0])
    return out


def _unreached_note(share: float, level: float) -> tuple[str, ...]:
    """The note on replicates whose floor lies above the target (they count as needing unbounded compute)."""
    if share <= 0:
        return ()
    note = f"{share:.1%} of bootstrap replicates never reach the target (their floor is above it)"
    if share > (1 - level) / 2:
        note += ", so the upper ends of the intervals are unbounded"
    return (note,)


# ----------------------------------------------------------------------------------------- data-limited


def data_limited(
    result: FitResult,
    flops: float,
    unique_tokens: float,
    k: float = 6.0,
    level: float | None = None,
    n_boot: int | None = None,
    seed: int = 0,
    boot: Any = None,
    kind: str = "total",
) -> Plan:
    """Best model size and number of epochs for a budget when only ``unique_tokens`` exist.

    Needs a law with a ``unique_tokens`` input (``data_constrained``). Reports the loss had the same
    tokens all been fresh, and ``half_value_epochs``: the epoch count at which one more repeated token
    is worth half a fresh one, ``1 + R_D* ln 2`` (Muennighoff et al. 2023) — past a few times that,
    more epochs stop paying.

    With ``kind="total"`` the two losses carry the law's error at the plan's distance beyond the data, and for a
    fit of ``law="auto"`` the candidate laws' plans widen N, D, epochs and the losses
    (:mod:`scalelaw.decisions.plan_error`).
    """
    require_minimized(result.law, "a data-limited plan")
    if "unique_tokens" not in result.law.inputs:
        raise LawError(
            f"law {result.law.name!r} has no 'unique_tokens' input; fit the data_constrained law to plan with "
            "repeated data"
        )
    if not (unique_tokens > 0 and flops > 0):
        raise FitError("flops and unique_tokens must be > 0")
    theta, saved = replicate_sets(result, level, n_boot, seed, boot)
    err = plan_error(result, kind, level, theta.shape[0], seed)
    opt, fresh = _data_limited_point(result.law, theta, flops, unique_tokens, k)
    loss, fresh = opt["loss"], np.maximum(fresh, 0)
    unshifted = {"loss_opt": loss, "loss_if_fresh": fresh} if err.total else None
    if err.total:  # the error model speaks of losses, not of where the optimum sits (as in compute_optimal)
        columns = _columns(result.law, opt["params"], opt["tokens"], {"unique_tokens": unique_tokens})
        decades = decades_at(result, result.law, columns)
        loss, fresh = err.shift(loss, decades), err.shift(fresh, decades)
        err.check_reach(f"{flops:.3g} FLOPs", float(decades[0]))
    named = {
        "params_opt": opt["params"],
        "tokens_opt": opt["tokens"],
        "epochs": opt["tokens"] / unique_tokens,
        "loss_opt": loss,
        "loss_if_fresh": fresh,
    }
    if "R_D_star" in result.law.param_names:
        r_d = theta[:, result.law.param_names.index("R_D_star")]
        named["half_value_epochs"] = 1.0 + r_d * math.log(2.0)
    row = {"flops": flops, "unique_tokens": unique_tokens, **_with_interval(named, level, unshifted)}

    def point(cand: Law, th: np.ndarray) -> dict[str, np.ndarray]:
        o, f = _data_limited_point(cand, th, flops, unique_tokens, k)
        return {"params_opt": o["params"], "tokens_opt": o["tokens"], "loss_opt": o["loss"], "loss_if_fresh": f}

    center = {q: row[q] for q in ("params_opt", "tokens_opt", "loss_opt", "loss_if_fresh")}
    halfwidths = choice_halfwidths(result, err, point, center)
    if "params_opt" in halfwidths:  # epochs are tokens over a given number
        halfwidths["epochs"] = halfwidths["tokens_opt"]
    return _plan(pd.DataFrame([widen_row(row, halfwidths)]), err, theta.shape[0] - 1, saved=saved)


def _data_limited_point(law: Law, theta: np.ndarray, flops: float, unique_tokens: float, k: float):
    """Optimum with ``unique_tokens`` available, and the loss had its tokens all been fresh."""
    if "unique_tokens" not in law.inputs:
        raise LawError(f"law {law.name!r} has no 'unique_tokens' input")
    opt = optimum(law, theta, flops, k, fixed={"unique_tokens": unique_tokens})
    fresh = _predict_paired(law, theta, _columns(law, opt["params"], opt["tokens"], {"unique_tokens": np.inf}))
    return opt, fresh


#: (size, tokens) columns of a plan's table, by kind of plan: the runs it proposes.
PLAN_SIZE_COLUMNS = (("params_opt", "tokens_opt"), ("params", "tokens_crit"))


def plan_records(result: FitResult, plan: Plan, max_decades: float = DEFAULT_MAX_DECADES) -> list[dict[str, Any]]:
    """:meth:`Plan.to_records`, each with how far its run lies beyond the data (``extrapolation``).

    The run a plan proposes is its size and tokens (``params_opt, tokens_opt``, or ``params, tokens_crit`` for
    critical tokens) as the inputs of ``result``'s law playing N and D; :func:`scalelaw.trust.extrapolation.distance`
    measures it and warns past ``max_decades`` of compute. Plans without such columns, and fits saved without
    their data, get no ``extrapolation``.

    Examples
    --------
    >>> import scalelaw, warnings
    >>> warnings.simplefilter("ignore")
    >>> fit = scalelaw.fit("chinchilla", "dataset:gadre2024_rpj")
    >>> rec = plan_records(fit, compute_optimal(fit, 1e22))[0]
    >>> sorted(rec)[:3], rec["extrapolation"]["decades_compute"] > 0
    (['extrapolation', 'flops', 'loss_opt'], True)
    """
    records = plan.to_records()
    columns = set(plan.table.columns)
    sizes = next((pair for pair in PLAN_SIZE_COLUMNS if set(pair) <= columns), None)
    if sizes is not None and {"N", "D"} <= set(result.law.roles.values()):
        names = result.law.inputs_for("N", "D")  # by role, not position: inputs may come in any order
        frame = {names[0]: plan.table[sizes[0]].to_numpy(), names[1]: plan.table[sizes[1]].to_numpy()}
        for rec, extra in zip(records, extrapolation_records(result, frame, max_decades) or [], strict=False):
            rec["extrapolation"] = extra
    return records


# ------------------------------------------------------------------------- crossover and effective compute


def frontier(result: FitResult, flops: np.ndarray, theta: np.ndarray | None = None) -> np.ndarray:
    """Best loss reachable at each budget: (sets, budgets).

    For a law of one input (compute, or any other axis: :func:`scalelaw.decisions.axis.axis_of`) that is the
    law itself along that input; for a law of N and D it is the compute-optimal loss.
    """
    theta = np.array([result.values]) if theta is None else theta
    return _frontier(result.law, theta, flops)


def _frontier(law: Law, theta: np.ndarray, flops: Any) -> np.ndarray:
    flops = np.atleast_1d(np.asarray(flops, dtype=np.float64))
    if len(law.inputs) == 1:  # a law of one axis: compute, hours, samples, ...
        return law.predict(theta, **{law.inputs[0]: flops})
    return np.column_stack([optimum(law, theta, float(c))["loss"] for c in flops])


def _frontier_decades(result: FitResult, flops: np.ndarray) -> np.ndarray:
    """Decades beyond ``result``'s data of the frontier at ``flops``: along the law's compute axis, which for a
    law of N and D is ``6 N D`` = the budget (``frontier`` allocates with k = 6), whatever the split."""
    law = result.law
    if len(law.inputs) == 1:
        return decades_at(result, law, {law.inputs[0]: flops})
    n, d = law.inputs_for("N", "D", purpose="the compute frontier")
    N = np.sqrt(flops / 6.0)
    return decades_at(result, law, {n: N, d: flops / (6.0 * N)})


def _shifted_frontier(result: FitResult, flops: np.ndarray, curves: np.ndarray, err: PlanError) -> np.ndarray:
    """The :func:`frontier` ``curves`` at ``flops``, every replicate shifted by its draw of the law's error
    (total intervals; unchanged otherwise)."""
    return err.shift(curves, _frontier_decades(result, flops)[None, :]) if err.total else curves


@dataclass(frozen=True)
class Comparison(Result):
    """Method B against method A along the compute frontier, or any other axis both fits share (``axis``)."""

    crossovers: tuple[float, ...]  # budgets where B's best loss crosses A's (point estimates)
    crossover_interval: tuple[float, float] | None  # of the first crossover, over bootstrap pairs
    crossover_share: float | None  # share of bootstrap pairs that cross inside the searched range
    table: pd.DataFrame  # per budget: loss_a, loss_b, multiplier (+ _low/_high)
    level: float | None
    notes: tuple[str, ...] = ()
    interval_kind: str | None = None  # "total", "parameter", or None without intervals
    axis: str = "flops"  # the shared axis (decisions/axis.py): the table's first column, in the texts

    def to_frame(self) -> pd.DataFrame:
        """A copy of :attr:`table`.

        Returns
        -------
        pandas.DataFrame
            One row per point of the axis: ``flops`` (or the axis's name), ``loss_a, loss_b, multiplier`` (and
            ``_low``/``_high`` with intervals).
        """
        return self.table.copy()

    def to_dict(self) -> dict[str, Any]:
        """The crossovers, their interval and share, the level, the notes and the table as records."""
        return jsonable(
            {
                "axis": self.axis,
                "crossovers": self.crossovers,
                "crossover_interval": self.crossover_interval,
                "crossover_share": self.crossover_share,
                "level": self.level,
                "interval_kind": self.interval_kind,
                "notes": self.notes,
                "table": self.table,
            }
        )

    def summary(self) -> str:
        """Where B overtakes A, then B's effective-compute multiplier at each budget (first five), then the notes."""
        words = axis_words(self.axis)
        if self.crossovers:
            head = "B's best loss crosses A's at " + ", ".join(f"{c:.3g}" for c in self.crossovers) + f" {words}"
            if self.crossover_interval is not None:
                low, high = self.crossover_interval
                head += f" (first crossover {low:.3g} to {high:.3g}, {self.level:.0%} {self.interval_kind} interval)"
        else:
            head = "no crossover in the searched range"
        rows = [
            f"at {x:.3g} {words} B is worth {m:.3g}× A's {'compute' if words == 'FLOPs' else words}"
            for x, m in zip(self.table[self.axis].head(5), self.table["multiplier"].head(5), strict=True)
        ]
        return "\n".join([head, *rows, *(f"note: {note}" for note in self.notes)])


def compare(
    a: FitResult,
    b: FitResult,
    flops: float | list[float] | np.ndarray | None = None,
    search: tuple[float, float] | None = None,
    level: float | None = None,
    n_boot: int | None = None,
    seed: int = 0,
    kind: str = "total",
) -> Comparison:
    """Where method B overtakes method A, and B's effective-compute multiplier over A.

    Along compute for laws of compute or of N and D (``flops`` are budgets, ``search`` defaults to 1e15..1e30);
    along any other axis the two fits share, for laws of one input such as ``hours`` or ``samples`` (``flops``
    are then points of that axis, ``search`` defaults to the fits' data widened; the multiplier is in that axis's
    units): :mod:`scalelaw.decisions.axis`. ``flops`` defaults to the middle of ``search``.

    The multiplier at budget C is ``C_A(L_B(C)) / C``: how much more compute A would need to reach the
    loss B reaches with C (> 1 means B is better). Intervals pair bootstrap replicates of the two fits
    (independent resamples of their runs).

    With ``kind="total"`` every replicate of each fit is shifted by its own draw of that fit's law error beyond
    its data (:mod:`scalelaw.decisions.plan_error`), so the crossovers, losses and multipliers are read off
    shifted curves, the two errors acting on the loss difference; for fits of ``law="auto"`` the candidate
    laws' first crossovers and losses widen those bands too. ``kind="parameter"``: the bootstraps alone.

    ``n_boot=None`` (default) reuses the replicates saved with each fit (``scalelaw fit --bootstrap N --out``)
    and draws 500 for a fit without them; the pairs are as many as the smaller set (a note says which were saved).
    """
    for fit_ in (a, b):
        require_minimized(fit_.law, "a comparison of methods (lower is better)")
    axis = shared_axis(a, b)
    search = default_search((a, b), axis) if search is None else search
    budgets = np.atleast_1d(np.asarray(midpoint(search) if flops is None else flops, dtype=np.float64))
    ta, saved_a = replicate_sets(a, level, n_boot, seed, default=COMPARE_REPLICATES)
    tb, saved_b = replicate_sets(b, level, n_boot, seed + 1, default=COMPARE_REPLICATES)
    if saved_b and tb.shape[0] > 2:
        # Saved replicates of two fits drawn with one seed over as many runs resample the same run positions, pair
        # by pair; B's are paired in a seeded random order so that the pairs stay independent.
        tb = tb[np.r_[0, 1 + np.random.default_rng([seed, 1]).permutation(tb.shape[0] - 1)]]
    n = min(ta.shape[0], tb.shape[0])
    ta_all, tb_all = ta, tb
    ta, tb = ta[:n], tb[:n]
    err_a, err_b = plan_error(a, kind, level, n, seed, stream=1), plan_error(b, kind, level, n, seed, stream=2)
    grid = np.geomspace(search[0], search[1], 301)
    wide = np.geomspace(search[0] / 1e3, search[1] * 1e3, 481)  # A's frontier inverted at B's loss
    # Each frontier once, unshifted; the total interval shifts them, and its band must contain theirs.
    plain_a = {"grid": frontier(a, grid, ta), "wide": frontier(a, wide, ta), "at": frontier(a, budgets, ta)}
    plain_b = {"grid": frontier(b, grid, tb), "at": frontier(b, budgets, tb)}
    la, la_wide, la_at = (
        _shifted_frontier(a, x, plain_a[key], err_a) for key, x in (("grid", grid), ("wide", wide), ("at", budgets))
    )
    lb, lb_at = (_shifted_frontier(b, x, plain_b[key], err_b) for key, x in (("grid", grid), ("at", budgets)))
    cross = _crossings(grid, lb - la)
    plain = _unshifted_comparison(plain_a, plain_b, grid, wide, budgets) if err_a.total or err_b.total else None
    crossovers = tuple(float(c) for c in cross[0])
    firsts = np.array([c[0] if c else np.nan for c in cross[1:]])
    share = float(np.mean(np.isfinite(firsts))) if n > 1 else None
    cross_interval = None
    if n > 1 and np.isfinite(firsts).any():
        q = (1 - level) / 2 if level else 0.05
        cross_interval = (float(np.nanquantile(firsts, q)), float(np.nanquantile(firsts, 1 - q)))
        if plain is not None and np.isfinite(plain["first"]).any():  # never inside the parameter band
            p_low, p_high = np.nanquantile(plain["first"], q), np.nanquantile(plain["first"], 1 - q)
            cross_interval = (min(cross_interval[0], float(p_low)), max(cross_interval[1], float(p_high)))
        if crossovers:
            points = plain_a["grid"][:1], plain_b["grid"][:1]  # the point estimates' frontiers
            cross_interval = _widen_crossover(a, b, grid, points, crossovers[0], cross_interval, err_a, err_b)
    # Effective compute: invert A's frontier at B's loss, per set, on the shared grid.
    rows, unreached = [], []
    for j, c in enumerate(budgets):
        c_a = _invert_monotone(wide, la_wide, lb_at[:, j])
        if n > 1 and np.mean(~np.isfinite(c_a[1:])) > 0:
            unreached.append(f"{np.mean(~np.isfinite(c_a[1:])):.1%} at {c:.3g} {axis_words(axis)}")
        named = {"loss_a": la_at[:, j], "loss_b": lb_at[:, j], "multiplier": c_a / c}
        row = {axis: float(c), **_with_interval(named, level, None if plain is None else plain["at"][j])}
        for name, fit_, err in (("loss_a", a, err_a), ("loss_b", b, err_b)):
            err.check_reach(f"{c:.3g} {axis_words(axis)}", float(_frontier_decades(fit_, np.array([c]))[0]))

            def point(cand: Law, th: np.ndarray, name: str = name, c: float = float(c)) -> dict[str, np.ndarray]:
                return {name: _frontier(cand, th, [c])[:, 0]}

            row = widen_row(row, choice_halfwidths(fit_, err, point, {name: row[name]}))
        rows.append(row)
    notes = []
    if not crossovers:
        better = "B" if lb[0, len(grid) // 2] < la[0, len(grid) // 2] else "A"
        between = f"{search[0]:.0e} and {search[1]:.0e} {axis_words(axis)}"
        notes.append(f"no crossover between {between}: {better} is better throughout")
    if unreached:
        notes.append(
            "share of bootstrap pairs where A never reaches B's loss in the searched range, counted as an unbounded "
            f"multiplier in its interval: {', '.join(unreached)}"
        )
    notes += [f"A: {note}" for note in err_a.notes] + [f"B: {note}" for note in err_b.notes]
    notes += [
        f"{name}: the {len(sets) - 1} bootstrap replicates saved with the fit were reused (no refit)"
        for name, sets, saved in (("A", ta_all, saved_a), ("B", tb_all, saved_b))
        if saved
    ]
    table = pd.DataFrame(rows)
    notes_ = tuple(dict.fromkeys(notes))
    return Comparison(crossovers, cross_interval, share, table, level, notes_, err_a.kind, axis)


def _unshifted_comparison(
    plain_a: Mapping[str, np.ndarray],
    plain_b: Mapping[str, np.ndarray],
    grid: np.ndarray,
    wide: np.ndarray,
    budgets: np.ndarray,
) -> dict[str, Any]:
    """The parameter-only answers of :func:`compare`, from the unshifted frontiers of A (at ``grid``, ``wide``
    and the budgets ``at``) and B (at ``grid`` and ``at``), which a total band must contain: each replicate's
    first crossover (``first``, NaN where none) and, per budget, ``loss_a``, ``loss_b`` and ``multiplier``."""
    first = np.array([c[0] if c else np.nan for c in _crossings(grid, plain_b["grid"] - plain_a["grid"])])
    la_at, lb_at = plain_a["at"], plain_b["at"]
    at = [
        {
            "loss_a": la_at[:, j],
            "loss_b": lb_at[:, j],
            "multiplier": _invert_monotone(wide, plain_a["wide"], lb_at[:, j]) / c,
        }
        for j, c in enumerate(budgets)
    ]
    return {"first": first[1:], "at": at}


def _widen_crossover(
    a: FitResult,
    b: FitResult,
    grid: np.ndarray,
    points: tuple[np.ndarray, np.ndarray],
    first: float,
    interval: tuple[float, float],
    err_a: PlanError,
    err_b: PlanError,
) -> tuple[float, float]:
    """The first crossover's band widened by the law choice of each fit: the candidates' first crossovers
    against the other fit's point frontier (``points``: A's and B's on ``grid``), their weighted spread in
    quadrature on the log scale."""
    la0, lb0 = points

    def first_crossing(diff: np.ndarray) -> np.ndarray:
        found = _crossings(grid, diff)[0]
        if not found:
            raise FitError("no crossover")
        return np.array([found[0]])

    h_a = choice_halfwidths(
        a, err_a, lambda cand, th: {"x": first_crossing(lb0 - _frontier(cand, th, grid))}, {"x": first}
    )
    h_b = choice_halfwidths(
        b, err_b, lambda cand, th: {"x": first_crossing(_frontier(cand, th, grid) - la0)}, {"x": first}
    )
    h = math.hypot(h_a.get("x", 0.0), h_b.get("x", 0.0))
    row = widen_row({"x": first, "x_low": interval[0], "x_high": interval[1]}, {"x": h})
    return row["x_low"], row["x_high"]


def _crossings(grid: np.ndarray, diff: np.ndarray) -> list[list[float]]:
    out = []
    logs = np.log(grid)
    for row in diff:
        found = []
        sign = np.sign(row)
        idx = np.flatnonzero((sign[:-1] * sign[1:] < 0) & np.isfinite(row[:-1]) & np.isfinite(row[1:]))
        for i in idx:
            t = row[i] / (row[i] - row[i + 1])
            found.append(float(np.exp(logs[i] + t * (logs[i + 1] - logs[i]))))
        # A crossing exactly on a grid point: zero there, opposite signs on either side (no strict sign change).
        found += [float(grid[i + 1]) for i in np.flatnonzero((sign[1:-1] == 0) & (sign[:-2] * sign[2:] < 0))]
        out.append(sorted(found))
    return out


def _invert_monotone(grid: np.ndarray, curves: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Per row, the budget where a decreasing curve first reaches its target (log-log interpolation)."""
    out = np.full(curves.shape[0], np.nan)
    logs = np.log(grid)
    for s in range(curves.shape[0]):
        below = curves[s] <= targets[s]
        if not below.any():
            out[s] = np.inf
            continue
        j = int(np.argmax(below))
        if j == 0:
            out[s] = grid[0]
            continue
        l0, l1 = math.log(curves[s, j - 1]), math.log(curves[s, j])
        t = (l0 - math.log(targets[s])) / (l0 - l1)
        out[s] = math.exp(logs[j - 1] + t * (logs[j] - logs[j - 1]))
    return out
