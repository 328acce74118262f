"""IsoFLOP analysis: compute-optimal exponents from per-budget parabolas (Approach 2) and from a
parametric fit (Approach 3), and where the two disagree (laws.md §3.2–3.3).

Approach 2 (Hoffmann et al. 2022): group the runs by compute budget C, fit a parabola in ln N to the
final loss of each budget, ``L ≈ p0 + p1 ln N + p2 (ln N)²``, take its vertex ``ln N_opt = −p1 / (2 p2)``,
and regress ``ln N_opt`` on ``ln C``: ``N_opt ∝ C^a`` and, since ``D_opt = C / (k N_opt)``, ``D_opt ∝ C^b``
with ``b = 1 − a`` exactly. Approach 3 reads the same exponents off a fitted ``L(N, D)``: for Chinchilla's
law ``a = β / (α + β)`` (closed form, §3.2), for any other law the slope of ``ln N_opt`` against ``ln C``
over the budgets (``plan.optimum``).

Choices, measured rather than assumed:

* **Budgets** are groups of equal ``flops`` up to a relative tolerance (``rtol=1e-6``: sorted budgets
  whose logs differ by at most ``ln(1 + rtol)`` are one group), so ``C = 6 N D`` recomputed in floating
  point still groups; the group's budget is the median of its members.
* **Window** (default ``0.75`` decades). A parabola in ln N is only a local approximation of the true
  IsoFLOP profile, which is asymmetric and, far from the optimum, bends sharply (Porian et al.'s sweeps
  run down to D/N < 0.1, where the loss explodes). Each budget is therefore fitted on the sizes within
  ``window`` decades of its empirical best size, and on at least the ``min_points`` sizes nearest to it.
  On the 15 bundled Porian et al. 2024 configurations the mean |a − published a| is 0.025 with no
  window (7 of 15 inside the published 95% CI), 0.013 at 1.0, 0.012 at 0.75 (11 of 15 inside), and
  0.012–0.014 anywhere in 0.3–0.9 (where most budgets fall back to their 5 nearest sizes).
  ``window=None`` fits every point.
* **Regression**: unweighted least squares of ln N_opt on ln C by default, as Porian et al.'s ``basic``
  fit; ``weighted=True`` weights each budget by the inverse delta-method variance of its ln N_opt.
* **Bootstrap** (``by="budgets"``, the default): resample whole budgets (a cluster bootstrap: each
  budget's runs go together) and refit the line. It reflects how the minima actually scatter about the
  power law, whatever the cause; on ``porian2024`` they scatter twice as much (residual sd 0.096 in
  ln N) as their within-budget delta-method std (0.051) implies. In simulations (Epoch law, 0.5% loss
  noise, 12 budgets) its nominal 90% interval covers 87–88%, but only ~80% with 6 budgets (a note says
  so below 8). ``by="points"`` resamples the runs within every budget and redoes window and parabolas
  (the package's by-run bootstrap): it covers 93–96% in the same simulations (conservative, as
  resampled small designs lose distinct sizes) yet is blind to between-budget scatter, so on real
  sweeps it can be the narrower one (porian2024: 0.486–0.523 vs 0.480–0.544 at 95%).
* **Flags**: ``convex`` (p2 > 0) and ``bracketed`` (vertex inside the fitted sizes); budgets failing
  either, or with fewer than ``min_points`` runs, are dropped from the regression and listed with the
  reason.

Coarse grids bias the exponent when they drift relative to the optimum: :mod:`scalelaw.decisions.isoflop_bias`
simulates IsoFLOP sweeps from a known law and measures it.

>>> from scalelaw import datasets
>>> runs = datasets.load("porian2024")
>>> fit2 = approach2(runs, level=None)
>>> round(fit2.a, 3)
0.51
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from scalelaw._result import Result, Text, jsonable
from scalelaw._validation import check_level, check_replicates
from scalelaw.data.io import load_runs
from scalelaw.data.runs import Runs
from scalelaw.decisions.plan import optimum
from scalelaw.errors import DataError, FitError
from scalelaw.fitting.fit import fit as fit_law
from scalelaw.fitting.result import FitResult
from scalelaw.laws.law import Law

__all__ = [
    "DEFAULT_WINDOW",
    "ApproachComparison",
    "Exponents",
    "approach2",
    "approach3",
    "compare_approaches",
    "exponents_from_optima",
    "isoflop_minima",
]

#: Default half-width, in decades of N, of the window fitted around each budget's best size.
DEFAULT_WINDOW = 0.75
_LN10 = math.log(10.0)


# ------------------------------------------------------------------------------------------ per budget


@dataclass(frozen=True)
class _Budget:
    flops: float
    x: np.ndarray  # ln N of every run of the budget
    y: np.ndarray  # loss


def _budgets(runs: Any, flops: str, params: str, loss: str, rtol: float) -> list[_Budget]:
    """Runs grouped into budgets of equal flops (relative tolerance ``rtol``), in increasing order."""
    table = runs if isinstance(runs, Runs) else load_runs(runs)
    table.require([flops, params, loss], positive=[flops, params], why="IsoFLOP analysis")
    c, n, y = table.array(flops), table.array(params), table.array(loss)
    if not rtol >= 0:
        raise DataError(f"rtol must be >= 0, got {rtol}")
    order = np.argsort(c, kind="stable")
    logc = np.log(c[order])
    group = np.concatenate([[0], np.cumsum(np.diff(logc) > math.log1p(rtol))])
    out = []
    for g in range(int(group[-1]) + 1):
        idx = order[group == g]
        out.append(_Budget(float(np.median(c[idx])), np.log(n[idx]), y[idx]))
    return out


def _check_options(min_points: int, window: float | None) -> None:
    if min_points < 3:
        raise DataError(f"min_points must be >= 3 (a parabola has 3 coefficients), got {min_points}")
    if window is not None and not window > 0:
        raise DataError(f"window must be > 0 decades (or None for every point), got {window}")


def _parabolas(b: _Budget, counts: np.ndarray, min_points: int, window: float | None) -> dict[str, np.ndarray]:
    """Windowed parabola fits of one budget for every row of ``counts`` (replicates, points), at once.

    ``counts`` are the multiplicities of the budget's points (ones for the data itself). Per row: the
    best present point, the points within ``window`` decades of it plus always the ``min_points``
    nearest present points, then weighted least squares in centred ln N.
    """
    x, y = b.x, b.y
    present = counts > 0
    ybest = np.where(present, y, np.inf)
    best = np.argmin(ybest, axis=1)
    dist = np.abs(x[None, :] - x[best][:, None])
    dist = np.where(present, dist, np.inf)
    ranks = np.argsort(np.argsort(dist, axis=1, kind="stable"), axis=1, kind="stable")
    if window is None:
        keep = present
    else:
        keep = present & ((ranks < min_points) | (dist <= window * _LN10 * (1 + 1e-12)))
    w = counts * keep
    xc = x.mean()
    u = x - xc
    m = np.stack([w @ u**j for j in range(5)], axis=1)  # moments sum w u^j, (R, 5)
    t = np.stack([w @ (u**j * y) for j in range(3)], axis=1)
    M = np.stack([m[:, 0:3], m[:, 1:4], m[:, 2:5]], axis=1)  # normal matrix, (R, 3, 3)
    solvable = _distinct(x, keep) >= 3
    coef = np.full((counts.shape[0], 3), np.nan)
    if solvable.any():
        coef[solvable] = np.linalg.solve(M[solvable], t[solvable][..., None])[..., 0]
    _, c1, c2 = coef.T
    with np.errstate(divide="ignore", invalid="ignore"):
        vertex = -c1 / (2 * c2)
    lo = np.where(keep, u[None, :], np.inf).min(axis=1)
    hi = np.where(keep, u[None, :], -np.inf).max(axis=1)
    convex = c2 > 0
    bracketed = (vertex >= lo) & (vertex <= hi)
    return {
        "coef": coef,
        "vertex": vertex + xc,
        "convex": convex & solvable,
        "bracketed": bracketed & solvable,
        "solvable": solvable,
        "keep": keep,
        "weights": w,
        "M": M,
        "xc": np.full(counts.shape[0], xc),
        "lo": lo + xc,
        "hi": hi + xc,
        "best": best,
    }


def _distinct(x: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Number of distinct sizes kept per row (vectorized for many rows)."""
    _, inverse = np.unique(x, return_inverse=True)
    onehot = np.zeros((x.size, int(inverse.max()) + 1))
    onehot[np.arange(x.size), inverse] = 1.0
    return ((keep.astype(float) @ onehot) > 0).sum(axis=1)


def _minimum_row(b: _Budget, min_points: int, window: float | None, k: float) -> dict[str, Any]:
    """The table row of one budget: vertex, coefficients, flags and delta-method std of ln N_opt."""
    n = b.x.size
    row: dict[str, Any] = {"flops": b.flops, "n_points": n}
    if n < min_points:
        nan = math.nan
        row.update(
            n_used=0,
            params_min=float(np.exp(b.x.min())),
            params_max=float(np.exp(b.x.max())),
            params_best=float(np.exp(b.x[np.argmin(b.y)])),
            params_opt=nan,
            tokens_opt=nan,
            loss_opt=nan,
            p0=nan,
            p1=nan,
            p2=nan,
            curvature=nan,
            log_params_opt_std=nan,
            resid_std=nan,
            bracketed=False,
            convex=False,
            ok=False,
            reason=f"only {n} run(s) at this budget; a parabola needs min_points={min_points}",
        )
        return row
    fit = _parabolas(b, np.ones((1, n)), min_points, window)
    keep = fit["keep"][0]
    xc = float(fit["xc"][0])
    c0, c1, c2 = fit["coef"][0]
    vertex = float(fit["vertex"][0])
    u = b.x[keep] - xc
    resid = b.y[keep] - (c0 + c1 * u + c2 * u**2)
    dof = int(keep.sum()) - 3
    std = math.nan
    resid_std = math.nan
    if dof > 0 and bool(fit["solvable"][0]) and c2 != 0:
        s2 = float(resid @ resid) / dof
        resid_std = math.sqrt(s2)
        cov = s2 * np.linalg.inv(fit["M"][0])
        grad = np.array([0.0, -1.0 / (2 * c2), c1 / (2 * c2**2)])
        std = math.sqrt(max(float(grad @ cov @ grad), 0.0))
    convex, bracketed = bool(fit["convex"][0]), bool(fit["bracketed"][0])
    reason = ""
    if not fit["solvable"][0]:
        reason = "fewer than 3 distinct model sizes in the window"
    elif not convex:
        reason = "parabola opens downward (p2 <= 0): the sizes do not show a minimum"
    elif not bracketed:
        side = "below the smallest" if vertex < fit["lo"][0] else "above the largest"
        reason = f"minimum extrapolated {side} fitted size; add sizes on that side"
    with np.errstate(over="ignore", under="ignore", divide="ignore"):
        N = np.exp(vertex) if convex else np.float64(math.nan)  # a concave parabola's vertex is a maximum
        tokens = b.flops / (k * N)
    # Coefficients in raw ln N: p0 + p1 ln N + p2 (ln N)^2.
    row.update(
        n_used=int(keep.sum()),
        params_min=float(np.exp(fit["lo"][0])),
        params_max=float(np.exp(fit["hi"][0])),
        params_best=float(np.exp(b.x[fit["best"][0]])),
        params_opt=float(N),
        tokens_opt=float(tokens),
        loss_opt=float(c0 - c1**2 / (4 * c2)) if convex else math.nan,
        p0=float(c0 - c1 * xc + c2 * xc**2),
        p1=float(c1 - 2 * c2 * xc),
        p2=float(c2),
        curvature=float(2 * c2),
        log_params_opt_std=std,
        resid_std=resid_std,
        bracketed=bracketed,
        convex=convex,
        ok=not reason,
        reason=reason,
    )
    return row


def isoflop_minima(
    runs: Runs | pd.DataFrame | Mapping[str, Any] | str,
    flops: str = "flops",
    params: str = "params",
    loss: str = "loss",
    min_points: int = 5,
    window: float | None = DEFAULT_WINDOW,
    k: float = 6.0,
    rtol: float = 1e-6,
) -> pd.DataFrame:
    """Per-budget IsoFLOP minima from parabolas in ln N.

    Parameters
    ----------
    runs : Runs, DataFrame, dict of arrays, path or ``"dataset:NAME"``
        One row per run (final loss), with a compute budget, a model size and a loss column.
    flops, params, loss : str
        Column names.
    min_points : int
        Fewest runs a budget needs (laws.md §3.3: 5); also the fewest sizes fitted around the minimum.
    window : float or None
        Fit the sizes within this many decades of the budget's best size (and at least the
        ``min_points`` nearest); ``None`` fits every size. See the module notes for the default.
    k : float
        FLOPs per parameter per token: ``tokens_opt = flops / (k params_opt)``.
    rtol : float
        Relative tolerance within which ``flops`` values are one budget.

    Returns
    -------
    DataFrame
        One row per budget, by increasing compute: ``flops, n_points, n_used, params_min, params_max``
        (sizes fitted), ``params_best`` (best run), ``params_opt, tokens_opt, loss_opt`` (vertex),
        ``p0, p1, p2`` (``L = p0 + p1 ln N + p2 (ln N)²``), ``curvature`` (``d²L/d(ln N)² = 2 p2``),
        ``log_params_opt_std`` (delta-method std of ln N_opt; NaN with 3 fitted sizes), ``resid_std``,
        flags ``bracketed, convex, ok`` and ``reason`` (why a budget is not usable; empty if it is).

    Examples
    --------
    >>> table = isoflop_minima("dataset:porian2024")
    >>> len(table), bool(table["ok"].all())
    (12, True)
    """
    _check_options(min_points, window)
    budgets = _budgets(runs, flops, params, loss, rtol)
    return pd.DataFrame([_minimum_row(b, min_points, window, k) for b in budgets])


# ------------------------------------------------------------------------------------------ results


@dataclass(frozen=True, eq=False)
class Exponents(Result):
    """Compute-optimal exponents ``N_opt = n_coef · C^a`` and ``D_opt = d_coef · C^b``, with intervals.

    Attributes
    ----------
    approach : int
        2 (IsoFLOP parabolas) or 3 (parametric fit).
    a, b : float
        Exponents; ``b = 1 − a`` because ``D_opt = C / (k N_opt)``.
    a_low, a_high, b_low, b_high : float
        Percentile bootstrap interval at ``level`` (NaN without an interval).
    n_coef, d_coef : float
        Coefficients in FLOPs: ``N_opt = n_coef C^a``, ``D_opt = d_coef C^b``.
    r2 : float
        R² of the regression of ln N_opt on ln C (Approach 2; 1 for Chinchilla's closed form).
    a_std_error : float
        Standard error of a (regression formula for Approach 2, bootstrap std for Approach 3).
    table : DataFrame
        Per budget: Approach 2's minima (``isoflop_minima`` plus ``params_opt_low/high`` from the
        delta method); Approach 3's ``params_opt``, ``tokens_opt``, ``loss_opt`` with intervals.
    dropped : tuple of (flops, reason)
        Budgets left out of the regression and why.
    level, method, notes
        Interval level, a description of how the numbers were made, remarks.
    samples : ndarray
        Bootstrap replicates of a (empty without an interval).
    """

    approach: int
    a: float
    b: float
    n_coef: float
    d_coef: float
    r2: float
    a_std_error: float
    a_low: float
    a_high: float
    b_low: float
    b_high: float
    level: float | None
    method: str
    table: pd.DataFrame
    dropped: tuple[tuple[float, str], ...] = ()
    notes: tuple[str, ...] = ()
    samples: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False)

    def params_opt(self, flops: float | np.ndarray) -> np.ndarray:
        """Compute-optimal N at ``flops`` from the fitted power law."""
        return self.n_coef * np.asarray(flops, dtype=np.float64) ** self.a

    def tokens_opt(self, flops: float | np.ndarray) -> np.ndarray:
        """Compute-optimal D at ``flops`` from the fitted power law."""
        return self.d_coef * np.asarray(flops, dtype=np.float64) ** self.b

    def summary(self) -> str:
        """One line: ``a = 0.497 [0.490, 0.505] (90%), b = ...``."""
        what = "IsoFLOP parabolas" if self.approach == 2 else "parametric fit"
        return f"Approach {self.approach} ({what}): a = {_ci(self.a, self.a_low, self.a_high, self.level)}, " + (
            f"b = {_ci(self.b, self.b_low, self.b_high, self.level)}"
        )

    def to_frame(self) -> pd.DataFrame:
        """A copy of :attr:`table`.

        Returns
        -------
        pandas.DataFrame
            One row per budget: Approach 2's IsoFLOP minima, or Approach 3's compute-optimal
            ``params_opt``, ``tokens_opt`` and ``loss_opt`` (with intervals).
        """
        return self.table.copy()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: exponents as ``{"value", "low", "high"}``, the table as records."""

        def q(v, lo, hi):
            out = {"value": _num(v)}
            if self.level is not None:
                out.update(low=_num(lo), high=_num(hi))
            return out

        out = {
            "approach": self.approach,
            "method": self.method,
            "level": self.level,
            "a": q(self.a, self.a_low, self.a_high),
            "b": q(self.b, self.b_low, self.b_high),
            "n_coef": _num(self.n_coef),
            "d_coef": _num(self.d_coef),
            "r2": _num(self.r2),
            "a_std_error": _num(self.a_std_error),
            "budgets": [{k: _num(v) for k, v in rec.items()} for rec in self.table.to_dict(orient="records")],
            "dropped": [{"flops": f, "reason": r} for f, r in self.dropped],
            "notes": list(self.notes),
        }
        return jsonable(out)


def _num(v: Any) -> Any:
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return float(v)
    return v


def _ci(value: float, low: float, high: float, level: float | None) -> str:
    if level is None or not (math.isfinite(low) and math.isfinite(high)):
        return f"{value:.4f}"
    return f"{value:.4f} [{low:.4f}, {high:.4f}] ({level:.0%})"


def _check_interval(level: float | None, n_boot: int) -> None:
    if level is not None:
        check_level(level)
        check_replicates(n_boot)


def _percentiles(reps: np.ndarray, level: float) -> tuple[float, float]:
    reps = reps[np.isfinite(reps)]
    if reps.size == 0:
        return math.nan, math.nan
    q = (1 - level) / 2
    return float(np.quantile(reps, q)), float(np.quantile(reps, 1 - q))


# ------------------------------------------------------------------------------------------ Approach 2


def _slopes(x: np.ndarray, Y: np.ndarray, W: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted least-squares slope and intercept of each row of ``Y`` on ``x`` (rows = replicates)."""
    Y = np.where(W > 0, Y, 0.0)
    sw = W.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        xm = (W @ x) / sw
        ym = (W * Y).sum(axis=1) / sw
        dx = x[None, :] - xm[:, None]
        sxx = (W * dx**2).sum(axis=1)
        slope = (W * dx * (Y - ym[:, None])).sum(axis=1) / sxx
    return slope, ym - slope * xm


def _power_law(logc: np.ndarray, logn: np.ndarray, w: np.ndarray) -> tuple[float, float, float, float]:
    """Slope, intercept, R² and slope standard error of the (weighted) regression of ln N on ln C."""
    slope, intercept = _slopes(logc, logn[None, :], w[None, :])
    a, icpt = float(slope[0]), float(intercept[0])
    resid = logn - (icpt + a * logc)
    ybar = float(np.average(logn, weights=w))
    ss_tot = float(w @ (logn - ybar) ** 2)
    r2 = 1.0 - float(w @ resid**2) / ss_tot if ss_tot > 0 else math.nan
    se = math.nan
    if logc.size > 2:
        xm = float(np.average(logc, weights=w))
        se = math.sqrt(float(w @ resid**2) / (logc.size - 2) / float(w @ (logc - xm) ** 2))
    return a, icpt, r2, se


def _budget_bootstrap(logc: np.ndarray, logn: np.ndarray, w: np.ndarray, n_boot: int, rng) -> np.ndarray:
    """Slopes on ``n_boot`` resamples of the budgets (replicates with < 3 distinct budgets are NaN)."""
    m = logc.size
    counts = rng.multinomial(m, np.full(m, 1.0 / m), size=n_boot).astype(np.float64)
    reps, _ = _slopes(logc, np.broadcast_to(logn, (n_boot, m)), counts * w[None, :])
    return np.where((counts > 0).sum(axis=1) >= 3, reps, np.nan)


def _exponents(
    table: pd.DataFrame,
    logc: np.ndarray,
    logn: np.ndarray,
    w: np.ndarray,
    reps: np.ndarray | None,
    level: float | None,
    k: float,
    method: str,
    dropped: tuple[tuple[float, str], ...],
    notes: list[str],
) -> Exponents:
    a, icpt, r2, se = _power_law(logc, logn, w)
    a_low = a_high = math.nan
    samples = np.empty(0)
    if reps is not None and level is not None:
        failed = int(np.sum(~np.isfinite(reps)))
        samples = reps[np.isfinite(reps)]
        a_low, a_high = _percentiles(samples, level)
        if failed:
            notes.append(f"{failed} of {reps.size} bootstrap replicates had fewer than 3 usable budgets; dropped")
    if dropped:
        notes.append(f"{len(dropped)} budget(s) dropped: " + "; ".join(f"{f:.3g} FLOPs: {r}" for f, r in dropped))
    n_coef = math.exp(icpt)
    return Exponents(
        approach=2,
        a=a,
        b=1.0 - a,
        n_coef=n_coef,
        d_coef=1.0 / (k * n_coef),
        r2=r2,
        a_std_error=se,
        a_low=a_low,
        a_high=a_high,
        b_low=1.0 - a_high,
        b_high=1.0 - a_low,
        level=level,
        method=method,
        table=table,
        dropped=dropped,
        notes=tuple(notes),
        samples=samples,
    )


def exponents_from_optima(
    flops: Sequence[float] | np.ndarray,
    params_opt: Sequence[float] | np.ndarray,
    *,
    weights: Sequence[float] | np.ndarray | None = None,
    level: float | None = 0.9,
    n_boot: int = 1000,
    seed: int = 0,
    k: float = 6.0,
) -> Exponents:
    """The regression step of Approach 2 on given per-budget optima (e.g. a paper's optimal pairs).

    Least squares of ``ln params_opt`` on ``ln flops`` (weighted by ``weights`` if given, e.g.
    ``1 / var(ln N_opt)``), with a percentile bootstrap over budgets. Rows with a missing optimum are
    skipped.

    >>> fit = exponents_from_optima([1e18, 1e19, 1e20], [1e8, 3e8, 1e9], level=None)
    >>> round(fit.a, 3)
    0.5
    """
    _check_interval(level, n_boot)
    c = np.asarray(flops, dtype=np.float64).ravel()
    n = np.asarray(params_opt, dtype=np.float64).ravel()
    w = np.ones_like(c) if weights is None else np.asarray(weights, dtype=np.float64).ravel()
    if not (c.shape == n.shape == w.shape):
        raise DataError(f"flops, params_opt and weights need equal lengths, got {c.size}, {n.size}, {w.size}")
    good = np.isfinite(c) & np.isfinite(n) & (c > 0) & (n > 0)
    if not np.all(np.isfinite(w[good]) & (w[good] > 0)):
        raise DataError("weights must be finite and > 0")
    if good.sum() < 3:
        raise DataError(f"fitting N_opt ∝ C^a needs at least 3 budgets with an optimum, got {int(good.sum())}")
    logc, logn, w = np.log(c[good]), np.log(n[good]), w[good]
    table = pd.DataFrame({"flops": c[good], "params_opt": n[good], "tokens_opt": c[good] / (k * n[good])})
    reps = None
    if level is not None:
        reps = _budget_bootstrap(logc, logn, w, n_boot, np.random.default_rng(seed))
    weighting = "weighted" if weights is not None else "unweighted"
    method = f"{weighting} least squares of ln N_opt on ln C" + (
        f"; bootstrap over budgets (n={n_boot})" if level is not None else ""
    )
    return _exponents(table, logc, logn, w, reps, level, k, method, (), [])


def approach2(
    runs: Runs | pd.DataFrame | Mapping[str, Any] | str,
    flops: str = "flops",
    params: str = "params",
    loss: str = "loss",
    *,
    min_points: int = 5,
    window: float | None = DEFAULT_WINDOW,
    weighted: bool = False,
    level: float | None = 0.9,
    n_boot: int = 1000,
    by: Literal["budgets", "points"] = "budgets",
    seed: int = 0,
    k: float = 6.0,
    rtol: float = 1e-6,
) -> Exponents:
    """Hoffmann et al.'s Approach 2: per-budget parabola minima, then ``N_opt ∝ C^a``, ``D_opt ∝ C^b``.

    Parameters
    ----------
    runs, flops, params, loss, min_points, window, k, rtol
        As in :func:`isoflop_minima`.
    weighted : bool
        Weight each budget by ``1 / var(ln N_opt)`` (delta method). Default unweighted, like Porian et
        al.'s ``basic`` fit; their published ``bs_median_weighted`` uses inverse-variance weights.
    level : float or None
        Level of the percentile bootstrap interval of a and b (``None``: no bootstrap).
    n_boot : int
        Bootstrap replicates.
    by : {"budgets", "points"}
        Resample whole budgets (default), or the runs within every budget (redoing window and
        parabolas); see the module notes for why.
    seed : int
        Seed of the bootstrap.

    Returns
    -------
    Exponents
        ``table`` is :func:`isoflop_minima`'s, plus ``params_opt_low/high`` (delta method, at
        ``level`` or 90%).

    Raises
    ------
    DataError
        Fewer than 3 usable budgets, or ``weighted`` with a budget whose variance is unknown.

    Examples
    --------
    >>> fit = approach2("dataset:porian2024", n_boot=200)
    >>> bool(fit.a_low < fit.a < fit.a_high), round(fit.a + fit.b, 12)
    (True, 1.0)
    """
    _check_options(min_points, window)
    _check_interval(level, n_boot)
    if by not in ("points", "budgets"):
        raise FitError(f"by must be 'budgets' or 'points', not {by!r}")
    budgets = _budgets(runs, flops, params, loss, rtol)
    table = pd.DataFrame([_minimum_row(b, min_points, window, k) for b in budgets])
    ok = table["ok"].to_numpy(dtype=bool)
    dropped = tuple((float(f), str(r)) for f, r in zip(table["flops"][~ok], table["reason"][~ok], strict=True))
    if ok.sum() < 3:
        detail = "; ".join(f"{f:.3g}: {r}" for f, r in dropped)
        raise DataError(
            f"only {int(ok.sum())} of {len(table)} budget(s) give a usable IsoFLOP minimum; fitting N_opt ∝ C^a "
            f"needs at least 3{f' (dropped — {detail})' if detail else ''}"
        )
    logc = np.log(table["flops"].to_numpy()[ok])
    logn = np.log(table["params_opt"].to_numpy()[ok])
    var = table["log_params_opt_std"].to_numpy()[ok] ** 2
    if weighted and not np.all(np.isfinite(var) & (var > 0)):
        raise DataError(
            "weighted=True needs a variance of ln N_opt at every budget, but some budgets fit exactly 3 sizes "
            "(no residual degrees of freedom); use weighted=False or min_points >= 4"
        )
    w = 1.0 / var if weighted else np.ones_like(logc)
    z = stats.norm.ppf(0.5 + (level or 0.9) / 2)
    std = table["log_params_opt_std"].to_numpy()
    with np.errstate(over="ignore", invalid="ignore"):
        table["params_opt_low"] = table["params_opt"] * np.exp(-z * std)
        table["params_opt_high"] = table["params_opt"] * np.exp(z * std)
    notes: list[str] = []
    weighting = "inverse-variance weighted" if weighted else "unweighted"
    span = "all sizes" if window is None else f"sizes within {window:g} decades of the best"
    method = f"parabola in ln N per budget ({span}), {weighting} least squares of ln N_opt on ln C"
    reps = None
    if level is not None:
        rng = np.random.default_rng(seed)
        if by == "budgets":
            reps = _budget_bootstrap(logc, logn, w, n_boot, rng)
            method += f"; bootstrap over budgets (n={n_boot})"
            if logc.size < 8:
                notes.append(
                    f"only {logc.size} budgets: a bootstrap over budgets undercovers with so few (about 80% "
                    "coverage for a nominal 90% interval at 6 budgets); consider by='points'"
                )
        else:
            used = [b for b, keep in zip(budgets, ok, strict=True) if keep]
            Y = np.full((n_boot, logc.size), np.nan)
            for j, b in enumerate(used):
                counts = rng.multinomial(b.x.size, np.full(b.x.size, 1.0 / b.x.size), size=n_boot)
                fit = _parabolas(b, counts.astype(np.float64), min_points, window)
                Y[:, j] = np.where(fit["convex"] & fit["bracketed"], fit["vertex"], np.nan)
            W = np.where(np.isfinite(Y), w[None, :], 0.0)
            reps, _ = _slopes(logc, Y, W)
            reps = np.where((W > 0).sum(axis=1) >= 3, reps, np.nan)
            method += f"; bootstrap over runs within each budget (n={n_boot})"
    return _exponents(table, logc, logn, w, reps, level, k, method, dropped, notes)


# ------------------------------------------------------------------------------------------ Approach 3


def _default_budgets(result: FitResult, k: float) -> np.ndarray:
    if result.data is None:
        raise FitError("this fit carries no data; give the budgets to evaluate Approach 3 at")
    n_name, d_name = result.law.inputs_for("N", "D", purpose="Approach 3")
    c = k * result.data.columns[n_name] * result.data.columns[d_name]
    return np.geomspace(float(c.min()), float(c.max()), 9)


def approach3(
    result: FitResult,
    budgets: Sequence[float] | np.ndarray | None = None,
    *,
    level: float | None = 0.9,
    n_boot: int = 1000,
    seed: int = 0,
    k: float = 6.0,
    fixed: Mapping[str, float] | None = None,
) -> Exponents:
    """Hoffmann et al.'s Approach 3: compute-optimal exponents from a fitted ``L(N, D)``.

    For Chinchilla's law ``a = β / (α + β)`` and ``b = α / (α + β)`` (closed form, laws.md §3.2), and the
    budgets only set the rows of the table; for any other law of N and D, ``a`` is the least-squares
    slope of ``ln N_opt`` on ``ln C`` over ``budgets`` (``plan.optimum``), so it can depend on them.
    Intervals come from the by-run bootstrap of the fit (``result.bootstrap``).

    Parameters
    ----------
    result : FitResult
        A fit of a law of parameters and tokens, e.g. ``scalelaw.fit("chinchilla", runs)``.
    budgets : sequence of float, optional
        Budgets in FLOPs; default 9 log-spaced budgets over the fit data's ``k N D`` range.
    level, n_boot, seed
        Bootstrap level, replicates and seed (``level=None``: no bootstrap).
    k : float
        FLOPs per parameter per token.
    fixed : mapping, optional
        Values of the law's other inputs, e.g. ``{"unique_tokens": 1e11}`` (as in ``plan.compute_optimal``).
    """
    _check_interval(level, n_boot)
    result.law.inputs_for("N", "D", purpose="Approach 3")
    grid = _default_budgets(result, k) if budgets is None else np.asarray(budgets, dtype=np.float64).ravel()
    if grid.size == 0 or not np.all(np.isfinite(grid) & (grid > 0)):
        raise DataError("budgets must be finite positive FLOP counts")
    theta = np.array([result.values])
    notes: list[str] = []
    if level is not None:
        boot = result.bootstrap(n=n_boot, seed=seed)
        theta = np.vstack([theta, boot.samples])
        if boot.n_failed:
            notes.append(f"{boot.n_failed} of {n_boot} bootstrap refits failed and were dropped")
    logc = np.log(grid)
    opt = [optimum(result.law, theta, float(c), k, fixed) for c in grid]
    logn = np.column_stack([np.log(o["params"]) for o in opt])  # (sets, budgets)
    exponent = None if fixed else result.law.closed_form("allocation_exponent")
    if exponent is not None:
        a_sets = exponent(theta)
        icpt = logn[:, 0] - a_sets * logc[0]
        r2 = 1.0
        how = "closed form a = beta/(alpha+beta)"
    else:
        if grid.size < 2:
            raise DataError(f"law {result.law.name!r} has no closed form; give at least 2 budgets for the slope")
        a_sets, icpt = _slopes(logc, logn, np.ones_like(logn))
        fitted = icpt[0] + a_sets[0] * logc
        ss = float(((logn[0] - logn[0].mean()) ** 2).sum())
        r2 = 1.0 - float(((logn[0] - fitted) ** 2).sum()) / ss if ss > 0 else math.nan
        how = f"slope of ln N_opt on ln C over {grid.size} budgets {grid.min():.3g}-{grid.max():.3g} FLOPs"
    a = float(a_sets[0])
    n_coef = math.exp(float(icpt[0]))
    rows = []
    for j, c in enumerate(grid):
        row: dict[str, Any] = {"flops": float(c)}
        for name, values in (
            ("params_opt", opt[j]["params"]),
            ("tokens_opt", opt[j]["tokens"]),
            ("loss_opt", opt[j]["loss"]),
        ):
            row[name] = float(values[0])
            if level is not None:
                row[f"{name}_low"], row[f"{name}_high"] = _percentiles(values[1:], level)
        rows.append(row)
    samples = a_sets[1:][np.isfinite(a_sets[1:])] if level is not None else np.empty(0)
    a_low, a_high = _percentiles(samples, level) if level is not None else (math.nan, math.nan)
    method = f"{result.law.name} fit, {how}"
    if level is not None:
        method += f"; by-run bootstrap of the fit (n={samples.size})"
    return Exponents(
        approach=3,
        a=a,
        b=1.0 - a,
        n_coef=n_coef,
        d_coef=1.0 / (k * n_coef),
        r2=r2,
        a_std_error=float(np.std(samples, ddof=1)) if samples.size > 1 else math.nan,
        a_low=a_low,
        a_high=a_high,
        b_low=1.0 - a_high,
        b_high=1.0 - a_low,
        level=level,
        method=method,
        table=pd.DataFrame(rows),
        notes=tuple(notes),
        samples=samples,
    )


# ------------------------------------------------------------------------------------------ comparison


@dataclass(frozen=True, eq=False)
class ApproachComparison(Result):
    """Approach 2 against Approach 3 on the same runs.

    ``summary`` is the sentence saying whether they agree: read it as ``summary()`` (every result's method) or,
    as before that method existed, as the attribute ``summary`` (a str).
    """

    approach2: Exponents
    approach3: Exponents
    fit: FitResult
    difference: float  # a (Approach 3) − a (Approach 2)
    overlap: bool | None  # do the two intervals overlap (None without intervals)
    summary: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "summary", Text(self.summary))  # a str that also answers summary()

    def to_frame(self) -> pd.DataFrame:
        """One row per approach: ``approach, a, a_low, a_high, b, b_low, b_high, n_coef, d_coef, method``.

        Returns
        -------
        pandas.DataFrame
        """
        names = ["a", "a_low", "a_high", "b", "b_low", "b_high", "n_coef", "d_coef", "method"]
        rows = [{"approach": e.approach, **{n: getattr(e, n) for n in names}} for e in (self.approach2, self.approach3)]
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        """Both approaches' :meth:`Exponents.to_dict`, the law, the difference in ``a`` and the verdict."""
        out = {
            "approach2": self.approach2.to_dict(),
            "approach3": self.approach3.to_dict(),
            "law": self.fit.law.name,
            "difference": self.difference,
            "overlap": self.overlap,
            "summary": self.summary,
        }
        return jsonable(out)


def compare_approaches(
    runs: Runs | pd.DataFrame | Mapping[str, Any] | str,
    flops: str = "flops",
    params: str = "params",
    loss: str = "loss",
    *,
    law: str | Law = "chinchilla",
    result: FitResult | None = None,
    min_points: int = 5,
    window: float | None = DEFAULT_WINDOW,
    weighted: bool = False,
    level: float | None = 0.9,
    n_boot: int = 1000,
    by: Literal["budgets", "points"] = "budgets",
    seed: int = 0,
    k: float = 6.0,
    rtol: float = 1e-6,
) -> ApproachComparison:
    """Approaches 2 and 3 on the same runs, and a sentence on whether they agree.

    Approach 3 fits ``law`` to every run (``scalelaw.fit``; pass ``result`` to reuse a fit) and is
    evaluated at Approach 2's usable budgets. Note that Approach 2 sees only the sizes near each
    budget's minimum while the parametric fit sees every run, including far-off ones.
    """
    table = runs if isinstance(runs, Runs) else load_runs(runs)
    two = approach2(
        table,
        flops,
        params,
        loss,
        min_points=min_points,
        window=window,
        weighted=weighted,
        level=level,
        n_boot=n_boot,
        by=by,
        seed=seed,
        k=k,
        rtol=rtol,
    )
    if result is None:
        frame = table.table.copy()
        if "tokens" not in frame.columns:
            frame["tokens"] = frame[flops] / (k * frame[params])
        result = fit_law(law, frame, y=loss, x=None if params == "params" else [params, "tokens"])
    budgets = two.table.loc[two.table["ok"], "flops"].to_numpy()
    three = approach3(result, budgets, level=level, n_boot=n_boot, seed=seed, k=k)
    diff = three.a - two.a
    overlap: bool | None = None
    text = (
        f"Approach 2 gives a = {_ci(two.a, two.a_low, two.a_high, two.level)}; Approach 3 ({result.law.name}) "
        f"gives a = {_ci(three.a, three.a_low, three.a_high, three.level)}; they differ by {abs(diff):.4f}"
    )
    if level is not None and all(map(math.isfinite, (two.a_low, two.a_high, three.a_low, three.a_high))):
        overlap = bool(two.a_low <= three.a_high and three.a_low <= two.a_high)
        half = max(two.a_high - two.a_low, three.a_high - three.a_low) / 2
        scale = f" ({abs(diff) / half:.1f}× the wider half-width)" if half > 0 else ""
        verdict = "overlap" if overlap else "do not overlap: the approaches disagree"
        text += f"{scale}, and the intervals {verdict}."
    else:
        text += "."
    return ApproachComparison(two, three, result, float(diff), overlap, text)
