"""Profile-likelihood intervals whose ends are found, not read off a fixed grid.

For one parameter ``k`` held at a value ``x`` (the others refitted), the statistic is
``n_eff * log(objective(x) / best objective)``: the objective is read as a Gaussian likelihood with its
scale profiled out, and ``n_eff`` is the number of runs (checkpoints of one run are correlated, so they
are not independent evidence). The interval at level ``q`` is where the statistic stays below the
chi-square(1) quantile.

The ends are located in three vectorized stages, each one batch of constrained refits
(:func:`scalelaw.fitting.engine.levenberg_marquardt` with the profiled coordinate frozen) over every
parameter and side at once:

1. a grid of ``n_grid`` values around the estimate (the curve), warm-started from the estimate;
2. geometric expansion: a side whose statistic has not crossed the highest threshold yet gets a point
   twice as far out (in the optimizer's coordinate, clipped to the parameter's bound), warm-started from
   the optimum of its outermost point, until it crosses or the bound is reached;
3. refinement of every crossing: the signed root of the statistic is close to linear in the coordinate
   (exactly so for a quadratic profile), so each bracket gets the point where ``sqrt(statistic)``
   interpolates to ``sqrt(threshold)`` and a second point just past it, warm-started from the inner end,
   until a point lies on the threshold to 0.1 % (in root units: 0.1 % of the half-width).

A side is *open* only when the bound is reached (or, for an unbounded coordinate, 40 doublings pass)
without a crossing; its end is then the bound itself (``inf`` for an unbounded side) and it is flagged.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from scalelaw._result import Result, jsonable
from scalelaw._validation import check_level
from scalelaw.errors import FitError
from scalelaw.fitting.engine import Problem, levenberg_marquardt
from scalelaw.fitting.refit import base_weights, fit_problem
from scalelaw.fitting.result import FitResult

#: Doublings of the distance from the estimate before an unbounded side is declared open.
MAX_EXPANSIONS = 40
#: Refinement rounds per crossing (each adds two refits).
MAX_REFINE = 12
#: A crossing is located when a refitted point has sqrt(statistic) within this fraction of sqrt(threshold).
ROOT_TOL = 1e-3
#: ... or when its bracket is this narrow relative to its distance from the estimate.
X_TOL = 1e-7
#: The second point of a refinement round sits this fraction of the bracket past the interpolated root.
_STRADDLE = 0.01


@dataclass(frozen=True, eq=False)
class Profile(Result):
    """Profile-likelihood curve and interval of one parameter.

    Attributes
    ----------
    parameter : str
    estimate : float
        The fit's value.
    low, high : float
        Interval ends at ``level``. An open side (``open_low`` / ``open_high``) ends at the parameter's
        bound, which is ``-inf`` / ``inf`` for an unbounded side.
    level : float
    grid : ndarray
        Every value at which the others were refitted (natural units, ascending, the estimate included).
    statistic : ndarray
        The likelihood-ratio statistic at ``grid`` (``inf`` where the refit had no finite objective).
    open_low, open_high : bool
        The statistic stayed below the threshold all the way to the bound on that side: the data do
        not bound the parameter there.
    bounds : (float, float)
        The parameter's bounds (natural units).
    log_scale : bool
        The optimizer moves the parameter on a log scale (ends are interpolated there).
    levels : tuple of float
        Levels whose crossings were located; :meth:`interval` reads any level up to the largest.
    n_refits : int
        Constrained refits spent on this curve.
    """

    parameter: str
    estimate: float
    low: float
    high: float
    level: float
    grid: np.ndarray
    statistic: np.ndarray
    open_low: bool = False
    open_high: bool = False
    bounds: tuple[float, float] = (-math.inf, math.inf)
    log_scale: bool = False
    levels: tuple[float, ...] = field(default=())
    n_refits: int = 0

    def interval(self, level: float | None = None) -> tuple[float, float, bool, bool]:
        """``(low, high, open_low, open_high)`` at ``level`` (default: the curve's own level).

        Read from the refitted points with the same rule that set ``low`` and ``high``. Levels above the
        largest in ``levels`` are refused: the curve was not extended far enough to say. The example of
        :func:`profile_curves` reads an 80% interval from a 90% curve.
        """
        level = self.level if level is None else level
        check_level(level)
        if self.levels and level > max(self.levels) + 1e-12:
            raise FitError(
                f"this profile of {self.parameter} was extended only to level {max(self.levels)}; compute it "
                f"with profile_curves(..., levels=[{level}]) to read level {level}"
            )
        threshold = float(stats.chi2.ppf(level, 1))
        x = np.log(self.grid) if self.log_scale else np.asarray(self.grid, dtype=np.float64)
        centre = int(np.argmin(np.abs(self.grid - self.estimate)))
        ends = []
        for side in (-1, 1):
            inner, outer = _bracket(self.statistic, centre, side, threshold)
            if outer is None:
                ends.append(None)
            else:
                ends.append(_root(x[inner], x[outer], self.statistic[inner], self.statistic[outer], threshold))
        low = self.bounds[0] if ends[0] is None else self._natural(ends[0])
        high = self.bounds[1] if ends[1] is None else self._natural(ends[1])
        return low, high, ends[0] is None, ends[1] is None

    def _natural(self, x: float) -> float:
        return float(math.exp(x)) if self.log_scale else float(x)

    def to_frame(self) -> pd.DataFrame:
        """The profile curve: one row per refitted value of the parameter.

        Returns
        -------
        pandas.DataFrame
            Columns ``parameter, value, statistic, inside`` (``inside``: the statistic is below the
            chi-square threshold of :attr:`level`, so the value is in the interval).
        """
        threshold = float(stats.chi2.ppf(self.level, 1))
        return pd.DataFrame(
            {
                "parameter": self.parameter,
                "value": np.array(self.grid, dtype=np.float64),
                "statistic": np.array(self.statistic, dtype=np.float64),
                "inside": np.asarray(self.statistic) <= threshold,
            }
        )

    def to_dict(self) -> dict[str, Any]:
        """The interval, its open sides, the bounds and the curve (``value``, ``statistic``)."""
        return jsonable(
            {
                "parameter": self.parameter,
                "estimate": self.estimate,
                "low": self.low,
                "high": self.high,
                "level": self.level,
                "open_low": self.open_low,
                "open_high": self.open_high,
                "bounds": self.bounds,
                "log_scale": self.log_scale,
                "levels": self.levels,
                "n_refits": self.n_refits,
                "curve": {"value": self.grid, "statistic": self.statistic},
            }
        )

    def summary(self) -> str:
        """The interval on the first line; a second line when a side is open (the data do not bound it)."""
        head = (
            f"profile of {self.parameter}: {self.estimate:.6g}, {self.level:.0%} interval [{self.low:.6g}, "
            f"{self.high:.6g}] ({len(self.grid)} points, {self.n_refits} refits)"
        )
        open_sides = [side for side, is_open in (("low", self.open_low), ("high", self.open_high)) if is_open]
        if not open_sides:
            return head
        return f"{head}\nopen {' and '.join(open_sides)} side: the data do not bound {self.parameter} there"


def profile(
    result: FitResult,
    parameters: str | list[str] | None = None,
    level: float = 0.9,
    n_grid: int = 21,
    max_iter: int = 200,
) -> pd.DataFrame:
    """Profile-likelihood intervals, one row per parameter.

    For each parameter the others are refitted with it held fixed, and its interval is where the
    statistic ``n_runs * log(objective / best objective)`` stays below the chi-square(1) quantile (the
    objective read as a Gaussian likelihood with its scale profiled out; runs, not rows, counted as
    independent evidence). The ends are searched for until they are found (see :mod:`scalelaw.trust.profile`):
    an interval is open on a side only when the parameter's bound is reached first, and then it ends at
    the bound with ``open_low`` / ``open_high`` set. ``benchmarks/coverage.py`` measures the coverage;
    prefer the by-run bootstrap for derived quantities and predictions.

    Parameters
    ----------
    result : FitResult
        A fit carrying its data.
    parameters : str or list of str, optional
        Default: every parameter.
    level : float
        Coverage, e.g. 0.9.
    n_grid : int
        Points of the initial grid (the curve); the ends are refined beyond it.
    max_iter : int
        Iteration cap of each constrained refit.

    Returns
    -------
    DataFrame
        ``quantity, estimate, low, high, level, open_low, open_high, method``, indexed by parameter name.

    Examples
    --------
    >>> import numpy as np, scalelaw, warnings
    >>> warnings.simplefilter("ignore")
    >>> flops = np.logspace(17, 21, 12)
    >>> fit = scalelaw.fit("power", {"flops": flops, "loss": 1.7 + 2e3 * flops**-0.15 * (1 + 0.01 * np.sin(flops))})
    >>> table = profile(fit, "alpha", level=0.9)
    >>> row = table.iloc[0]
    >>> bool(row["low"] < row["estimate"] < row["high"]), bool(row["open_low"] or row["open_high"])
    (True, False)
    """
    check_level(level)
    if parameters is None:
        names = list(result.law.param_names)
    else:
        names = [parameters] if isinstance(parameters, str) else list(parameters)
    curves = profile_curves(result, names, level, n_grid, max_iter)
    return pd.DataFrame(
        {
            "quantity": [c.parameter for c in curves],
            "estimate": [c.estimate for c in curves],
            "low": [c.low for c in curves],
            "high": [c.high for c in curves],
            "level": level,
            "open_low": [c.open_low for c in curves],
            "open_high": [c.open_high for c in curves],
            "method": "profile likelihood",
        },
        index=[c.parameter for c in curves],  # table["low"] is a Series by parameter: table.loc["alpha", "low"]
    )


def profile_curves(
    result: FitResult,
    names: list[str],
    level: float = 0.9,
    n_grid: int = 21,
    max_iter: int = 200,
    levels: Sequence[float] = (),
) -> list[Profile]:
    """The profile curves behind :func:`profile`, with their ends located at ``level`` and at ``levels``.

    Parameters
    ----------
    result : FitResult
    names : list of str
        Parameters to profile.
    level : float
        Level of each curve's ``low`` / ``high``.
    n_grid : int
        Points of the initial grid, at least 2.
    max_iter : int
        Iteration cap of each constrained refit.
    levels : sequence of float
        Further levels whose crossings are located too (read them with :meth:`Profile.interval`); the
        curves are extended to the highest of all levels.

    Examples
    --------
    >>> import numpy as np, scalelaw, warnings
    >>> warnings.simplefilter("ignore")
    >>> flops = np.logspace(17, 21, 12)
    >>> fit = scalelaw.fit("power", {"flops": flops, "loss": 1.7 + 2e3 * flops**-0.15 * (1 + 0.01 * np.sin(flops))})
    >>> curves = profile_curves(fit, ["E", "alpha"], level=0.9, levels=(0.8,))
    >>> [c.parameter for c in curves]
    ['E', 'alpha']
    >>> alpha = curves[1]
    >>> lo80, hi80, _, _ = alpha.interval(0.8)  # read at a further level: inside the 90% interval
    >>> bool(alpha.low < lo80 < alpha.estimate < hi80 < alpha.high)
    True
    """
    check_level(level)
    for extra in levels:
        check_level(extra)
    if int(n_grid) != n_grid or n_grid < 2:
        raise FitError(f"n_grid must be a whole number >= 2, got {n_grid!r}")
    all_levels = tuple(sorted({float(level), *(float(q) for q in levels)}))
    thresholds = [float(stats.chi2.ppf(q, 1)) for q in all_levels]
    problem = fit_problem(result, base_weights(result) if result.data and result.data.weights is not None else None)
    law = result.law
    ks = [law.param_names.index(law.parameter(name).name) for name in names]
    search = _Search(problem, result, max_iter)
    curves = [search.start(k) for k in ks]
    se = _internal_se(result) * math.sqrt(max(1.0, (result.n_points or 1) / max(result.n_runs, 1)))
    search.grid(curves, se, n_grid, math.sqrt(thresholds[-1]))
    search.locate(curves, thresholds)
    out = []
    for name, c in zip(names, curves, strict=True):
        p = law.parameters[c.k]
        x, stat = c.sorted()
        log_scale = p.transform == "log"
        curve = Profile(
            parameter=name,
            estimate=result.values[c.k],
            low=math.nan,
            high=math.nan,
            level=level,
            grid=np.exp(x) if log_scale else x,
            statistic=stat,
            bounds=(float(p.lower), float(p.upper)),
            log_scale=log_scale,
            levels=all_levels,
            n_refits=c.n_refits,
        )
        low, high, open_low, open_high = curve.interval(level)
        out.append(replace(curve, low=low, high=high, open_low=open_low, open_high=open_high))
    return out


# ---------------------------------------------------------------------------------------------- search


@dataclass
class _Curve:
    """Refitted points of one parameter's profile: coordinate (internal), objective, optimum of the others.

    ``warm`` marks points refitted from the optimum of a point nearer the estimate; grid points start from
    the estimate itself and, far out, may stop short of their optimum, so they are refitted warm before
    an end of the interval rests on them.
    """

    k: int
    x: list[float]
    f: list[float]
    z: list[np.ndarray]
    warm: list[bool]
    statistic: Callable[[np.ndarray], np.ndarray]
    n_refits: int = 0
    expansions: dict[int, int] = field(default_factory=lambda: {-1: 0, 1: 0})
    refinements: dict[tuple[int, float], int] = field(default_factory=dict)

    @property
    def stat(self) -> np.ndarray:
        return self.statistic(np.asarray(self.f))

    def sorted(self) -> tuple[np.ndarray, np.ndarray]:
        order = np.argsort(self.x, kind="stable")
        return np.asarray(self.x)[order], self.stat[order]

    def record(self, x: float, f: float, z: np.ndarray, warm: bool) -> None:
        """Add a refitted point; a value refitted again keeps the lower objective (a better constrained optimum)."""
        self.n_refits += 1
        if x in self.x:
            i = self.x.index(x)
            if f < self.f[i] or not np.isfinite(self.f[i]):
                self.f[i], self.z[i] = f, z
            self.warm[i] = self.warm[i] or warm
            return
        self.x.append(x)
        self.f.append(f)
        self.z.append(z)
        self.warm.append(warm)


class _Search:
    """Batched constrained refits shared by every curve of one profile call."""

    def __init__(self, problem: Problem, result: FitResult, max_iter: int) -> None:
        self.problem = problem
        self.max_iter = max_iter
        self.z_hat = result.law.to_internal(np.array([result.values]))[0]
        self.best = float(result.objective)
        self.n_eff = float(result.n_runs)

    def statistic(self, f: np.ndarray) -> np.ndarray:
        """Likelihood-ratio statistic of objectives ``f`` (``inf`` where not finite)."""
        f = np.asarray(f, dtype=np.float64)
        if not self.best > 0:  # an exact fit: any loss above it is infinitely unlikely
            return np.where(f <= self.best, 0.0, np.inf)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            stat = self.n_eff * np.log(np.maximum(f, self.best) / self.best)
        return np.where(np.isfinite(stat), stat, np.inf)

    def start(self, k: int) -> _Curve:
        z = self.z_hat.copy()
        return _Curve(k=k, x=[float(z[k])], f=[self.best], z=[z], warm=[True], statistic=self.statistic)

    def refit(self, requests: list[tuple[_Curve, float, np.ndarray, bool]]) -> None:
        """Refit every ``(curve, value, warm start, warm?)`` in one batch and record the points."""
        if not requests:
            return
        z0 = np.array([w for _, _, w, _ in requests], dtype=np.float64)
        frozen = np.zeros_like(z0, dtype=bool)
        for i, (curve, x, _, _) in enumerate(requests):
            z0[i, curve.k] = x
            frozen[i, curve.k] = True
        z, f, _, _ = levenberg_marquardt(self.problem, z0, max_iter=self.max_iter, frozen=frozen)
        for i, (curve, x, _, warm) in enumerate(requests):
            curve.record(float(x), float(f[i]), z[i], warm)

    def grid(self, curves: list[_Curve], se: np.ndarray, n_grid: int, root_max: float) -> None:
        """The initial grid: twice the half-width a quadratic profile with these standard errors would have."""
        lo, hi = self.problem.lo, self.problem.hi
        requests = []
        for c in curves:
            zk = self.z_hat[c.k]
            width = max(2.0 * root_max * se[c.k], 0.05 * max(1.0, abs(zk)))
            values = np.unique(np.clip(zk + np.linspace(-width, width, n_grid), lo[c.k], hi[c.k]))
            requests += [(c, float(v), self.z_hat, False) for v in values if v != zk]
        self.refit(requests)

    def locate(self, curves: list[_Curve], thresholds: list[float]) -> None:
        """Rounds of one batch each until every end is found or its side is open.

        Per curve, side and threshold: no crossing yet -> a point twice as far out (up to the bound); a
        crossing resting on a cold grid point -> refit that point warm; otherwise, until located, the
        sqrt-linear root of the bracket and a point just past it.
        """
        while True:
            requests: list[tuple[_Curve, float, np.ndarray, bool]] = []
            for c in curves:
                requests += self._requests(c, thresholds)
            if not requests:
                return
            self.refit(requests)

    def _requests(self, c: _Curve, thresholds: list[float]) -> list[tuple[_Curve, float, np.ndarray, bool]]:
        lo, hi = self.problem.lo[c.k], self.problem.hi[c.k]
        order = np.argsort(c.x, kind="stable")
        x, stat = np.asarray(c.x)[order], c.stat[order]
        warm = np.asarray(c.warm)[order]
        centre = int(np.flatnonzero(order == 0)[0])  # the estimate is the curve's first point
        zk = x[centre]
        out: dict[float, np.ndarray] = {}
        for side in (-1, 1):
            bound = lo if side < 0 else hi
            for threshold in thresholds:
                inner, outer = _bracket(stat, centre, side, threshold)
                if outer is None:
                    # No crossing yet (and so none at higher thresholds): extend the side, unless at its bound.
                    if x[inner] != bound and c.expansions[side] < MAX_EXPANSIONS:
                        distance = abs(x[inner] - zk) or 0.05 * max(1.0, abs(zk))
                        c.expansions[side] += 1
                        out.setdefault(float(np.clip(zk + side * 2.0 * distance, lo, hi)), c.z[order[inner]])
                    break
                cold = [i for i in (inner, outer) if not warm[i]]
                if cold:
                    for i in cold:  # refit from the optimum of the point next to it, towards the estimate
                        out.setdefault(float(x[i]), c.z[order[i - side]])
                    continue
                key = (side, threshold)
                if _located(x, stat, inner, outer, threshold, zk) or c.refinements.get(key, 0) >= MAX_REFINE:
                    continue
                c.refinements[key] = c.refinements.get(key, 0) + 1
                root = _root(x[inner], x[outer], stat[inner], stat[outer], threshold)
                past = root + _STRADDLE * (x[outer] - x[inner])
                for v in (root, past):
                    if min(x[inner], x[outer]) < v < max(x[inner], x[outer]):
                        out.setdefault(float(v), c.z[order[inner]])
        return [(c, v, z, True) for v, z in out.items()]


def _bracket(stat: np.ndarray, centre: int, side: int, threshold: float) -> tuple[int, int | None]:
    """Walking from ``centre`` towards ``side``: the last point below ``threshold`` and the first at or above it."""
    inner = centre
    stop = -1 if side < 0 else stat.size
    for i in range(centre + side, stop, side):
        if stat[i] >= threshold:
            return inner, i
        inner = i
    return inner, None


def _root(x0: float, x1: float, s0: float, s1: float, threshold: float) -> float:
    """Where ``sqrt(statistic)``, linear between the points, reaches ``sqrt(threshold)`` (midpoint if ``s1 = inf``)."""
    if not math.isfinite(s1):
        return float(0.5 * (x0 + x1))
    r0, r1, rt = math.sqrt(max(s0, 0.0)), math.sqrt(s1), math.sqrt(threshold)
    t = (rt - r0) / (r1 - r0) if r1 > r0 else 1.0
    return float(x0 + min(max(t, 0.0), 1.0) * (x1 - x0))


def _located(x: np.ndarray, stat: np.ndarray, inner: int, outer: int, threshold: float, centre: float) -> bool:
    """A bracket is done when one end lies on the threshold (in root units) or it is too narrow to split."""
    rt = math.sqrt(threshold)
    on = any(math.isfinite(stat[i]) and abs(math.sqrt(stat[i]) - rt) <= ROOT_TOL * rt for i in (inner, outer))
    narrow = abs(x[outer] - x[inner]) <= X_TOL * max(abs(x[outer] - centre), 1e-300)
    return on or narrow


def _internal_se(result: FitResult) -> np.ndarray:
    """Local standard errors in the optimizer's coordinates (0.1 where the fit has none)."""
    se = np.array(list(result.std_errors.values()), dtype=np.float64)
    vals = np.array(result.values, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        se_int = se / np.abs(result.law.internal_scale(vals))  # d z = d theta / (d theta / d z)
    return np.where(np.isfinite(se_int) & (se_int > 0), se_int, 0.1)
