"""How wrong the law gets beyond the data, learned from the fit's own rolling backtests.

A by-run bootstrap measures how much the parameters move when the runs are resampled. It says nothing
about the error of the law itself, which grows with the distance of the extrapolation: on held-out large
runs of real ladders, 90% parameter intervals covered 40-70%. This module measures that error where it
can be measured, inside the data (``docs/extrapolation.md``):

1. **Rolling-origin backtests.** For each cut (the top 10%, 20%, ... 50% of the runs along the axis, whole
   runs held out) the law is refitted on the runs below the cut and predicts the runs above it. Each
   held-out row gives a log error ``e`` at a distance ``d``: decades beyond the cut's largest training
   value along the axis (compute ``6ND`` for laws of parameters and tokens, else the law's input).
2. **A scale model.** ``e ~ N(0, o + s_b^2 + k^2 d^2)``. ``o`` is what the noise and the cut's own
   parameter uncertainty explain (linearized); ``s_b`` is the law's error just beyond the data and ``k``
   its growth per decade. Both are fitted by maximum likelihood, each cut weighing the same.
3. **Honest about few cuts.** ``K`` cuts are ``K`` draws, not hundreds of rows: the rows of one cut share
   one refit. The estimates are shrunk towards a prior (``k0`` per decade, worth ``nu0`` cuts), and the
   multiplier is Student's t with ``nu0 + K`` degrees of freedom, so a ladder with two usable cuts gets a
   wide interval, and one with none gets the prior alone.
4. **A drifting bias.** When the law is wrong in a way that grows with scale, the cuts' mean errors trend
   with their origin (the largest training value): each cut nearer the top misses further, in the same
   direction. Their least-squares line, extrapolated to the point's own scale, is the law's expected bias
   there. It is used only when its slope is clear of noise (at least :data:`DRIFT_MIN_CUTS` cuts, slope at
   least :data:`DRIFT_T` standard errors), and it moves one end of the interval: the one it points to.

:func:`widen` adds the law-error half-width to a bootstrap band in quadrature, side by side, on the log
scale (independent errors add in variance), then reaches out by the drift on its side.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from scalelaw._result import Result, jsonable
from scalelaw.data.runs import Runs
from scalelaw.errors import LawError
from scalelaw.fitting.diagnostics import prediction_variance
from scalelaw.fitting.fit import fit
from scalelaw.fitting.result import FitResult
from scalelaw.laws.law import Law
from scalelaw.laws.schedule_laws import schedule_law
from scalelaw.trust._student_t import t_quantile
from scalelaw.trust.extrapolation import compute_of
from scalelaw.trust.holdout import HoldoutSpec, split_runs
from scalelaw.trust.misfit import noise_variance

#: Cuts of the rolling backtest: hold out the top 10%, 20%, ... 50% of the runs along the axis.
DEFAULT_FRACTIONS = (0.1, 0.2, 0.3, 0.4, 0.5)
#: Prior growth of the law's error (log units per decade) and its weight in cuts. Chosen on the tuning half
#: of the calibration study (``benchmarks/calibration.py``): best interval score at 85-95% coverage.
PRIOR_SLOPE = 0.02
PRIOR_CUTS = 1.5
#: A drift of the cuts' bias needs this many cuts, and a slope this many standard errors from 0.
DRIFT_MIN_CUTS = 3
DRIFT_T = 2.0

_POINT_COLUMNS = ["cut", "row", "run", "decades", "log_error", "explained_var", "origin"]


@dataclass(frozen=True)
class ExtrapolationError(Result):
    """The law's error beyond the data as a function of distance, learned from rolling backtests.

    Attributes
    ----------
    law : str
        Name of the law backtested.
    axis : str
        What the distance is measured along: ``"compute"`` (6ND), the law's compute input (``"flops"``) or
        its first input.
    points : DataFrame
        One row per held-out row of every cut: ``cut`` (share of runs held out), ``row`` (index in the fit's
        data), ``run``, ``decades`` (beyond the cut's largest training value), ``log_error`` (log of
        predicted over observed), ``explained_var`` (noise plus the cut's linearized parameter variance) and
        ``origin`` (log10 of the cut's largest training value along the axis; NaN in fits saved before it was kept).
    noise_sd : float
        Robust sd (1.4826 MAD) of the fit's log residuals.
    floor_var, slope_var : float
        Maximum-likelihood ``s_b^2`` and ``k^2``, before shrinking towards the prior.
    n_cuts : int
        Cuts that could be fitted and scored (``K``).
    max_decades : float
        Largest distance a cut checked; beyond it the error model itself extrapolates.
    prior_slope, prior_cuts : float
        The prior ``k0`` and its weight ``nu0`` in cuts.
    drift_at_edge, drift_per_decade : float
        The cuts' bias trend (log predicted over observed), at the data's edge and its change per decade of
        origin; both 0 when the cuts show no clear trend (:func:`fit_drift`).

    Examples
    --------
    >>> import scalelaw, warnings
    >>> warnings.simplefilter("ignore")
    >>> model = learn(scalelaw.fit("chinchilla", "dataset:gadre2024_rpj"))
    >>> model.n_cuts, model.axis
    (5, 'compute')
    >>> bool(model.halfwidth(2.0) > model.halfwidth(1.0) > 0 == model.halfwidth(-0.5))
    True
    """

    law: str
    axis: str
    points: pd.DataFrame = field(repr=False, compare=False)
    noise_sd: float
    floor_var: float
    slope_var: float
    n_cuts: int
    max_decades: float
    prior_slope: float = PRIOR_SLOPE
    prior_cuts: float = PRIOR_CUTS
    drift_at_edge: float = 0.0
    drift_per_decade: float = 0.0

    @property
    def df(self) -> float:
        """Degrees of freedom of the multiplier: the prior's cuts plus the cuts measured."""
        return self.prior_cuts + self.n_cuts

    def variances(self) -> tuple[float, float]:
        """``(s_b^2, k^2)`` shrunk towards the prior ``(0, k0^2)``, the prior worth ``nu0`` cuts."""
        K, nu0 = self.n_cuts, self.prior_cuts
        floor = K * self.floor_var / (nu0 + K)
        slope = (nu0 * self.prior_slope**2 + K * self.slope_var) / (nu0 + K)
        return floor, slope

    def scale(self, decades: Any) -> np.ndarray:
        """Sd of the law's log error at ``decades`` beyond the data (0 inside it)."""
        d = np.asarray(decades, dtype=np.float64)
        floor, slope = self.variances()
        return np.where(d > 0, np.sqrt(floor + slope * np.maximum(d, 0.0) ** 2), 0.0)

    def drift(self, decades: Any) -> np.ndarray:
        """Expected log error (predicted over observed) of the law at ``decades`` beyond the data (0 inside it)."""
        d = np.asarray(decades, dtype=np.float64)
        return np.where(d > 0, self.drift_at_edge + self.drift_per_decade * np.maximum(d, 0.0), 0.0)

    def multiplier(self, level: float) -> float:
        """Student's t quantile of a two-sided ``level`` interval with :attr:`df` degrees of freedom."""
        return t_quantile(0.5 + level / 2, self.df)  # not scipy's: importing it costs more than a saved prediction

    def halfwidth(self, decades: Any, level: float = 0.9) -> np.ndarray:
        """Half-width (log units) of the law-error part of a two-sided ``level`` interval at ``decades``."""
        return self.multiplier(level) * self.scale(decades)

    def expected_error(self, decades: Any) -> np.ndarray:
        """Expected absolute relative error of a new measurement at ``decades``: noise, law error and drift
        together (their root mean square, as a normal's mean absolute value)."""
        s = np.sqrt(self.noise_sd**2 + self.scale(decades) ** 2 + self.drift(decades) ** 2)
        return np.expm1(np.sqrt(2.0 / np.pi) * s)

    def reach(self, error: float) -> float:
        """Decades beyond the data at which the expected error passes ``error`` (0.01 = 1%); ``inf`` if never."""
        floor, slope = self.variances()
        a, g = self.drift_at_edge, self.drift_per_decade
        budget = (math.log1p(error) / math.sqrt(2.0 / math.pi)) ** 2 - self.noise_sd**2
        # floor + slope d^2 + (a + g d)^2 = budget, for the smallest d > 0
        qa, qb, qc = slope + g * g, 2.0 * a * g, floor + a * a - budget
        if qc >= 0:
            return 0.0
        if qa <= 0:
            return math.inf if qb <= 0 else -qc / qb
        return (-qb + math.sqrt(qb * qb - 4.0 * qa * qc)) / (2.0 * qa)

    def to_frame(self) -> pd.DataFrame:
        """The backtest points: one row per held-out row of every cut."""
        return self.points.copy()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary of the model (the points stay in :meth:`to_frame`)."""
        floor, slope = self.variances()
        out = {
            "law": self.law,
            "axis": self.axis,
            "n_cuts": self.n_cuts,
            "checked_decades": self.max_decades,
            "noise_sd": self.noise_sd,
            "floor_sd": math.sqrt(floor),
            "slope_per_decade": math.sqrt(slope),
            "df": self.df,
            "prior": {"slope_per_decade": self.prior_slope, "cuts": self.prior_cuts},
            "drift": {"at_edge": self.drift_at_edge, "per_decade": self.drift_per_decade},
            "reach_1pct_decades": _finite_or_none(self.reach(0.01)),
            "reach_2pct_decades": _finite_or_none(self.reach(0.02)),
        }
        return jsonable(out)

    def summary(self) -> str:
        """One paragraph: the cuts, the fitted growth, and how far the data supports extrapolating."""
        d = self.to_dict()
        return (
            f"law error of {self.law} beyond the data, from {self.n_cuts} rolling backtests along {self.axis} "
            f"(checked up to {self.max_decades:.2f} decades): sd {d['floor_sd']:.4f} + "
            f"{d['slope_per_decade']:.4f} per decade ({self.df:g} degrees of freedom).{self.drift_words()} The "
            f"expected error passes 1% {_decades(self.reach(0.01))} and 2% {_decades(self.reach(0.02))}."
        )

    def drift_words(self) -> str:
        """A sentence on the cuts' bias trend (leading space), or ``""`` when they show none."""
        if self.drift_at_edge == 0 and self.drift_per_decade == 0:
            return ""
        edge = self.drift_at_edge
        way = "over" if edge > 0 else "under"
        return (
            f" The backtests' errors drift with scale: each cut nearer the top misses further, so the law is "
            f"expected to {way}-predict by {abs(math.expm1(edge)):.1%} at the data's edge, changing by "
            f"{self.drift_per_decade:+.4f} log units per decade; the interval reaches out on that side."
        )

    def __repr__(self) -> str:
        return f"ExtrapolationError(law={self.law!r}, axis={self.axis!r}, n_cuts={self.n_cuts}, df={self.df:g})"


def _finite_or_none(x: float) -> float | None:
    return x if math.isfinite(x) else None


def _decades(d: float) -> str:
    if math.isinf(d):
        return "at no distance"
    return "already at the edge of the data" if d == 0 else f"at {d:.2f} decades beyond the data"


def axis_values(law: Law, columns: Mapping[str, Any]) -> tuple[str, np.ndarray]:
    """The axis distances are measured along, and its value at every row of ``columns``.

    By the law's roles (docs/laws.md §0): its compute input when it reads one (``flops``); compute ``6ND``
    for a law of N and D; else the law's first input.
    """
    c = law.input_for("C")
    if c is not None:
        return c, np.asarray(columns[c], dtype=np.float64)
    compute = compute_of(law, columns)
    if compute is not None:
        return "compute", compute
    return law.inputs[0], np.asarray(columns[law.inputs[0]], dtype=np.float64)


def distances(result: FitResult, columns: Mapping[str, Any]) -> np.ndarray:
    """Decades beyond the fit's largest value along its axis (:func:`axis_values`) at new rows ``columns``."""
    if result.data is None:
        raise LawError("this fit carries no data, so how far a point lies beyond it is unknown")
    _, seen = axis_values(result.law, result.data.columns)
    _, new = axis_values(result.law, columns)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log10(new / seen.max())


def widen(
    value: np.ndarray, low: np.ndarray, high: np.ndarray, halfwidth: np.ndarray, drift: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Widen the band ``[low, high]`` around ``value`` by ``halfwidth`` (log units) in quadrature, per side,
    then move the end ``drift`` points to (the law's expected log error, predicted over observed) by ``|drift|``:
    a positive drift (the law over-predicts) lowers ``low``, a negative one raises ``high``.

    Examples
    --------
    >>> low, high = widen(np.array([2.0]), np.array([1.9]), np.array([2.2]), np.array([0.0]))
    >>> low.tolist(), high.tolist()
    ([1.9], [2.2])
    """
    lv = np.log(value)
    down = np.maximum(lv - np.log(low), 0.0)
    up = np.maximum(np.log(high) - lv, 0.0)
    shift = np.zeros_like(lv) if drift is None else np.asarray(drift, dtype=np.float64)
    down = np.hypot(down, halfwidth) + np.maximum(shift, 0.0)
    up = np.hypot(up, halfwidth) + np.maximum(-shift, 0.0)
    # Never narrower than the band it widens: the round trip through logs may move an unwidened end by an ulp.
    return np.minimum(low, np.exp(lv - down)), np.maximum(high, np.exp(lv + up))


def fit_scale(points: pd.DataFrame) -> tuple[float, float]:
    """Maximum-likelihood ``(s_b^2, k^2)`` of ``log_error ~ N(0, explained_var + s_b^2 + k^2 d^2)``.

    Each cut weighs the same (its rows share one refit), distances below 0 count as 0. A coarse grid over
    both variances (the likelihood can be flat along one of them) is polished by Nelder-Mead.
    """
    from scipy.optimize import minimize  # only when learning: a saved model is read without it

    if points.empty:
        return 0.0, 0.0
    d2 = np.maximum(points["decades"].to_numpy(dtype=np.float64), 0.0) ** 2
    e2 = points["log_error"].to_numpy(dtype=np.float64) ** 2
    explained = points["explained_var"].to_numpy(dtype=np.float64)
    weight = 1.0 / points.groupby("cut")["cut"].transform("size").to_numpy(dtype=np.float64)

    def nll(p: np.ndarray) -> float:
        v = explained + math.exp(p[0]) + math.exp(p[1]) * d2
        return float(np.sum(weight * (np.log(v) + e2 / v)))

    grid = np.log(np.logspace(-12, 0, 25))
    start = min(((a, b) for a in grid for b in grid), key=lambda ab: nll(np.array(ab)))
    best = minimize(nll, np.array(start), method="Nelder-Mead", options={"xatol": 1e-8, "fatol": 1e-12})
    a, b = best.x if best.fun <= nll(np.array(start)) else start
    return math.exp(a), math.exp(b)


def fit_drift(points: pd.DataFrame, edge: float) -> tuple[float, float]:
    """The cuts' bias trend: ``(bias at the data's edge, change per decade of origin)``, or ``(0, 0)``.

    Each cut's mean log error is regressed on its origin (log10 of its largest training value) by least
    squares; ``edge`` is the full data's origin. The trend counts only with at least :data:`DRIFT_MIN_CUTS`
    cuts and a slope at least :data:`DRIFT_T` standard errors from 0: cuts share most of their training
    runs, so a line through a few of them is easily drawn by noise.
    """
    if points.empty or "origin" not in points or points["origin"].isna().any():
        return 0.0, 0.0
    cuts = points.groupby("cut").agg(origin=("origin", "first"), bias=("log_error", "mean"))
    if len(cuts) < DRIFT_MIN_CUTS:
        return 0.0, 0.0
    from scipy.stats import linregress  # only when learning, as in fit_scale

    x = cuts["origin"].to_numpy(dtype=np.float64) - edge
    if np.ptp(x) == 0:  # every cut at one origin: no trend to read
        return 0.0, 0.0
    line = linregress(x, cuts["bias"].to_numpy(dtype=np.float64))
    if not abs(line.slope) >= DRIFT_T * line.stderr:
        return 0.0, 0.0
    return float(line.intercept), float(line.slope)  # x is 0 at the data's edge


def rolling_errors(result: FitResult, fractions: Sequence[float] = DEFAULT_FRACTIONS) -> pd.DataFrame:
    """Rolling-origin backtests of ``result``'s law inside its own data (see the module docstring).

    Returns the points of :attr:`ExtrapolationError.points`. A cut is skipped when it holds out the same
    runs as an earlier one, leaves fewer than twice the law's parameters in rows (or not more runs than
    parameters) to fit, or cannot be fitted.
    """
    if result.data is None:
        raise LawError("this fit carries no data, so its law cannot be backtested inside it")
    if schedule_law(result.law) is not None:
        raise LawError(
            f"law {result.law.name!r} reads LR schedules: its error is learned across schedules, not along one "
            "axis of final losses; use backtests on held-out schedules (docs/schedule_uncertainty.md)"
        )
    result.check_data_hash()
    law, y = result.law, result.y
    columns = {name: np.asarray(result.data.columns[name]) for name in (*law.inputs, y)}
    _, axis = axis_values(law, columns)
    table = pd.DataFrame({"run": np.asarray(result.data.run), **columns, "_axis": axis})
    if result.data.weights is not None:
        table["_weight"] = np.asarray(result.data.weights)
    runs = Runs(table, source="the fit's data")
    noise = _noise_sd(result) ** 2
    parts, seen = [], set()
    for fraction in fractions:
        split = split_runs(runs, HoldoutSpec("top", float(fraction), "_axis"))
        held = frozenset(split.test.run_ids)
        train, test = split.train.table, split.test.table
        if held in seen or len(train) < 2 * law.n_params or split.train.n_runs <= law.n_params:
            continue
        seen.add(held)
        part = _one_cut(result, float(fraction), train, test, noise)
        if part is not None:
            parts.append(part)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=_POINT_COLUMNS)


def _one_cut(result: FitResult, fraction: float, train: pd.DataFrame, test: pd.DataFrame, noise: float):
    law, y = result.law, result.y
    weights = train["_weight"].to_numpy() if "_weight" in train else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            inner = fit(law, train[["run", *law.inputs, y]], y=y, loss=result.loss, delta=result.delta, weights=weights)
        except Exception:  # a cut too small or too flat to fit says nothing about the law
            return None
    theta = np.array([inner.values])
    test_columns = {name: test[name].to_numpy() for name in law.inputs}
    with np.errstate(all="ignore"):
        log_error = np.log(law.predict(theta, **test_columns)[0]) - np.log(test[y].to_numpy())
    if not np.all(np.isfinite(log_error)):
        return None
    train_columns = {name: train[name].to_numpy() for name in law.inputs}
    pvar = prediction_variance(law, theta, train_columns, test_columns, noise_variance(inner))
    return pd.DataFrame(
        {
            "cut": fraction,
            "row": test.index.to_numpy(),
            "run": test["run"].to_numpy(),
            "decades": np.log10(test["_axis"].to_numpy() / train["_axis"].max()),
            "log_error": log_error,
            "explained_var": noise + pvar,
            "origin": math.log10(train["_axis"].max()),
        }
    )


def _noise_sd(result: FitResult) -> float:
    """Robust sd (1.4826 MAD) of the fit's log residuals: a few gross misfits do not inflate it."""
    columns = {name: result.data.columns[name] for name in result.law.inputs}
    with np.errstate(all="ignore"):
        r = np.log(result.data.columns[result.y]) - np.log(result.law.predict(np.array([result.values]), **columns)[0])
    r = r[np.isfinite(r)]
    return 1.4826 * float(np.median(np.abs(r - np.median(r)))) if r.size else 0.0


def learn(
    result: FitResult,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    prior_slope: float = PRIOR_SLOPE,
    prior_cuts: float = PRIOR_CUTS,
) -> ExtrapolationError:
    """The law's error beyond the data, learned from rolling backtests inside ``result``'s own data.

    Parameters
    ----------
    result : FitResult
        A fit that carries its data (every fit from :func:`scalelaw.fit` does).
    fractions : sequence of float
        Cuts: shares of the runs (the top ones along the axis) held out in turn.
    prior_slope, prior_cuts : float
        Prior growth of the law's error per decade (log units) and its weight in cuts; with no usable cut
        the model is the prior alone.

    Returns
    -------
    ExtrapolationError

    Raises
    ------
    LawError
        A fit without data, or of an LR-schedule law.
    """
    points = rolling_errors(result, fractions)
    floor, slope = fit_scale(points)
    axis, values = axis_values(result.law, result.data.columns)
    at_edge, per_decade = fit_drift(points, math.log10(float(np.max(values))))
    return ExtrapolationError(
        law=result.law.name,
        axis=axis,
        points=points,
        noise_sd=_noise_sd(result),
        floor_var=floor,
        slope_var=slope,
        n_cuts=int(points["cut"].nunique()) if len(points) else 0,
        max_decades=float(points["decades"].max()) if len(points) else 0.0,
        prior_slope=prior_slope,
        prior_cuts=prior_cuts,
        drift_at_edge=at_edge,
        drift_per_decade=per_decade,
    )


def from_record(record: Mapping[str, Any]) -> ExtrapolationError:
    """The model saved with a fit (:func:`scalelaw.fitting.uncertainty.extrapolation_record`), no refit.

    Examples
    --------
    >>> import scalelaw, warnings
    >>> from scalelaw.fitting.uncertainty import extrapolation_record
    >>> warnings.simplefilter("ignore")
    >>> model = learn(scalelaw.fit("chinchilla", "dataset:gadre2024_rpj"))
    >>> again = from_record(extrapolation_record(model))
    >>> again.to_dict() == model.to_dict(), len(again.points) == len(model.points)
    (True, True)
    """
    saved = record.get("points")
    if saved is None:
        points = pd.DataFrame({name: [] for name in _POINT_COLUMNS})
    else:  # files saved before the cuts' origins were kept lack them
        n = len(saved["cut"])
        columns = {name: saved.get(name) or [math.nan] * n for name in _POINT_COLUMNS}
        columns["origin"] = [math.nan if v is None else v for v in columns["origin"]]
        points = pd.DataFrame(columns)
    drift = record.get("drift") or {}
    return ExtrapolationError(
        law=record["law"],
        axis=record["axis"],
        points=points,
        noise_sd=float(record["noise_sd"]),
        floor_var=float(record["floor_var"]),
        slope_var=float(record["slope_var"]),
        n_cuts=int(record["n_cuts"]),
        max_decades=float(record["max_decades"]),
        prior_slope=float(record["prior"]["slope_per_decade"]),
        prior_cuts=float(record["prior"]["cuts"]),
        drift_at_edge=float(drift.get("at_edge", 0.0)),
        drift_per_decade=float(drift.get("per_decade", 0.0)),
    )
