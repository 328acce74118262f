"""The coverage law fitted to repeated-sampling curves, its inversion, and the study across models.

:func:`fit_coverage` fits ``exp(-A k^(-b))`` (law ``coverage``) or the same with a plateau
(``coverage_ceiling``) to a coverage or verifier-success curve from :mod:`.sampling`, bootstrapping
problems for intervals; :func:`samples_for_coverage` inverts the fit (how many samples reach a target);
:func:`coverage_study` fits several models' curves and compares them.

Formulas and oracles: ``docs/laws.md`` §7.3 and §15.10.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from scalelaw._result import Result, jsonable
from scalelaw._validation import check_level
from scalelaw.errors import DataError, IdentifiabilityWarning
from scalelaw.fitting.engine import Problem, levenberg_marquardt
from scalelaw.fitting.fit import fit as _fit
from scalelaw.fitting.result import FitResult
from scalelaw.topics.sampling import (
    MIN_DECADES,
    Metric,
    _bootstrap_means,
    _check_resampling,
    _frame,
    _layout,
    _matrix,
    _numeric,
    _percentiles,
    coverage_curve,
    default_ks,
    pass_at_k,
    per_problem,
    verifier_success,
)
from scalelaw.trust.bootstrap import unbounded_percentiles

Weighting = Literal["bootstrap", "binomial", "none"]
#: Replicates refitted together in one batch of the optimizer.
_REFIT_CHUNK = 64


@dataclass(frozen=True, eq=False)
class CoverageFit(Result):
    """A coverage (or verifier-success) law fitted to a curve, with bootstrap replicates.

    Attributes
    ----------
    result : FitResult
        The weighted least-squares fit on log values (``result.params`` are ``A, b`` [, ``C_max``]).
    curve : DataFrame
        The points fitted: ``samples, value, std_error, weight`` (and ``low, high`` when bootstrapped).
    replicates : ndarray, shape (n_ok, n_params)
        Parameters refitted on bootstrap resamples: of problems when the fit had per-problem data,
        of curve points otherwise (see ``resampled``).
    resampled : {"problems", "points", "none"}
    metric : str
        ``coverage``, ``best_of`` or ``majority``.
    n_problems : int
        Problems behind the curve (0 when a curve was given directly).
    decades : float
        ``log10(max k / min k)`` of the fitted points; below :data:`MIN_DECADES` ``A`` and ``b`` are poorly
        determined (laws.md §7.3).
    level : float
        Default interval level.
    n_failed : int
        Replicates dropped (a resampled curve with a zero, or a refit without a finite objective).
    """

    result: FitResult
    curve: pd.DataFrame
    replicates: np.ndarray
    resampled: str
    metric: str
    n_problems: int
    decades: float
    level: float = 0.9
    n_failed: int = 0

    @property
    def params(self) -> dict[str, float]:
        return self.result.params

    @property
    def identifiable(self) -> bool:
        """Whether the fitted ``k`` span at least :data:`MIN_DECADES` decades."""
        return self.decades >= MIN_DECADES

    @property
    def ceiling(self) -> float:
        """Plateau of the law: ``C_max``, or 1 for plain coverage."""
        return float(self.params.get("C_max", 1.0))

    @property
    def paper_params(self) -> dict[str, float]:
        """Brown et al.'s ``exp(a k^b)`` constants: ``a = -A``, ``b = -b``."""
        return {"a": -self.params["A"], "b": -self.params["b"]}

    def predict(self, samples: Any) -> np.ndarray:
        """Law value at the sample budgets ``samples``."""
        return self.result.law.predict(self.result.params, **{self.result.law.inputs[0]: samples})

    def _quantiles(self, values: np.ndarray, level: float | None) -> tuple[np.ndarray, np.ndarray]:
        level = self.level if level is None else level
        check_level(level)
        if values.shape[0] < 2:
            nan = np.full(values.shape[1:], np.nan)
            return nan, nan
        return unbounded_percentiles(values, level)  # unreachable targets give +inf replicates

    def interval(self, level: float | None = None) -> pd.DataFrame:
        """Percentile intervals of the parameters, of the ceiling and of the paper's ``a, b``.

        Returns
        -------
        DataFrame
            ``quantity, estimate, low, high, level, method``, indexed by the quantity's name.
        """
        names = list(self.result.law.param_names)
        est = np.array(self.result.values)
        reps = self.replicates
        derived_est = np.array([-est[0], -est[1]])
        derived = np.column_stack([-reps[:, 0], -reps[:, 1]]) if reps.size else np.zeros((0, 2))
        low, high = self._quantiles(np.column_stack([reps, derived]) if reps.size else np.zeros((0, 0)), level)
        n = len(names) + 2
        low = np.broadcast_to(low, (n,)) if np.ndim(low) == 0 else low
        high = np.broadcast_to(high, (n,)) if np.ndim(high) == 0 else high
        return pd.DataFrame(
            {
                "quantity": [*names, "a (paper)", "b (paper)"],
                "estimate": np.concatenate([est, derived_est]),
                "low": low,
                "high": high,
                "level": self.level if level is None else level,
                "method": f"bootstrap-percentile (by {self.resampled}, n={reps.shape[0]})",
            },
            index=[*names, "a (paper)", "b (paper)"],
        )

    def predict_interval(self, samples: Any, level: float | None = None) -> pd.DataFrame:
        """Law value with a bootstrap interval at each sample budget: ``samples, value, low, high, level``."""
        k = np.atleast_1d(np.asarray(samples, dtype=np.float64))
        name = self.result.law.inputs[0]
        reps = self.result.law.predict(self.replicates, **{name: k}) if self.replicates.size else np.zeros((0, k.size))
        low, high = self._quantiles(np.atleast_2d(reps) if reps.size else np.zeros((0, k.size)), level)
        return pd.DataFrame(
            {
                "samples": k,
                "value": self.predict(k),
                "low": low,
                "high": high,
                "level": self.level if level is None else level,
            }
        )

    def __repr__(self) -> str:
        vals = ", ".join(f"{n}={v:.4g}" for n, v in self.params.items())
        flag = "" if self.identifiable else f"; k spans only {self.decades:.2g} decades"
        return f"CoverageFit({self.result.law.name} on {self.metric}: {vals}; n_boot={len(self.replicates)}{flag})"

    def to_frame(self) -> pd.DataFrame:
        """The parameters' intervals: :meth:`interval` at :attr:`level`.

        Returns
        -------
        pandas.DataFrame
            Columns ``quantity, estimate, low, high, level, method``: the law's parameters, then the paper's
            ``a`` and ``b``. The points fitted are :attr:`curve`.
        """
        return self.interval()

    def to_dict(self) -> dict[str, Any]:
        """The law, the parameters with their intervals, how it was resampled, and the curve fitted."""
        return jsonable(
            {
                "law": self.result.law.name,
                "metric": self.metric,
                "params": self.params,
                "ceiling": self.ceiling,
                "identifiable": self.identifiable,
                "decades": self.decades,
                "resampled": self.resampled,
                "n_boot": len(self.replicates),
                "n_failed": self.n_failed,
                "n_problems": self.n_problems,
                "level": self.level,
                "intervals": self.to_frame(),
                "curve": self.curve,
            }
        )

    def summary(self) -> str:
        """The fit on the first line, then the intervals, then a warning when ``k`` spans too few decades."""
        values = ", ".join(f"{n} = {v:.4g}" for n, v in self.params.items())
        lines = [f"{self.result.law.name} law fitted to {self.metric} over {self.decades:.2g} decades of k: {values}"]
        lines += [
            f"{r.quantity}: {r.estimate:.4g}, {r.level:.0%} [{r.low:.4g}, {r.high:.4g}]"
            for r in self.to_frame().itertuples()
        ]
        if not self.identifiable:
            lines.append(f"warning: k spans fewer than {MIN_DECADES} decades: A and b are poorly determined")
        return "\n".join(lines)


def fit_coverage(
    table: Any,
    ks: Sequence[int] | np.ndarray | None = None,
    law: Literal["coverage", "coverage_ceiling"] = "coverage",
    metric: Metric = "coverage",
    weights: Weighting = "bootstrap",
    n_boot: int = 200,
    level: float = 0.9,
    seed: int = 0,
    n_draws: int = 200,
    mapping: Any = None,
) -> CoverageFit:
    """Fit ``exp(-A k^(-b))`` (or ``C_max exp(-A k^(-b))``) to coverage or verifier success vs ``k``.

    The curve is computed at ``ks`` from per-problem or per-sample data (or read as given from a
    ``samples, coverage`` table), fitted by weighted least squares on log values with the scalelaw engine,
    and refitted on ``n_boot`` resamples of the problems (all replicates in one batch): the points of one
    curve share their problems, so intervals come from resampling problems, not points.

    Parameters
    ----------
    table : DataFrame, dict of columns or path
        Per-problem counts, per-sample rows, or a curve (``samples`` and ``coverage``/``success``, with an
        optional ``std_error``).
    ks : sequence of int, optional
        Budgets to fit at; default 25 log-spaced values from 1 to the smallest problem's ``n_samples``.
        Points where the curve is 0 are dropped (log scale).
    law : {"coverage", "coverage_ceiling"}
        Without or with a plateau ``C_max``.
    metric : {"coverage", "best_of", "majority"}
        What to fit: coverage, or the success of a verifier (see :func:`verifier_success`).
    weights : {"bootstrap", "binomial", "none"}
        Point weights ``1 / var(log value)``: the variance from the problem bootstrap, or the binomial
        ``(1 - c) / (c * n_problems)``; a given curve uses its ``std_error`` column when present.
    n_boot : int
        Bootstrap replicates refitted for intervals (0 for none).
    level : float
        Default interval level of the result.
    seed : int
    n_draws : int
        Monte Carlo subsets per problem for ``majority``.
    mapping : str or mapping, optional
        Column renames.

    Returns
    -------
    CoverageFit

    Warns
    -----
    IdentifiabilityWarning
        When the fitted ``k`` span fewer than two decades.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> p = rng.beta(0.3, 3.0, size=300)
    >>> table = {"n_samples": np.full(300, 1000), "n_correct": rng.binomial(1000, p)}
    >>> cf = fit_coverage(table, n_boot=50)
    >>> cf.identifiable, bool(abs(cf.predict(100)[0] - coverage_curve(table, [100])["coverage"][0]) < 0.02)
    (True, True)
    """
    if law not in ("coverage", "coverage_ceiling"):
        raise DataError(f"law must be 'coverage' or 'coverage_ceiling', not {law!r}")
    if weights not in ("bootstrap", "binomial", "none"):
        raise DataError(f"weights must be 'bootstrap', 'binomial' or 'none', not {weights!r}")
    _check_resampling(level, n_boot, optional=True)
    frame = _frame(table, mapping)
    column = "coverage" if metric == "coverage" else "success"
    if _layout(frame) == "curve":
        return _fit_curve(frame, ks, law, metric, weights, n_boot, level, seed)
    matrix, k = _matrix(frame, ks, metric, seed, n_draws)
    value = matrix.mean(axis=0)
    keep = value > 0
    if keep.sum() < 3:
        raise DataError(
            f"the {column} is 0 at all but {int(keep.sum())} of the {k.size} budgets; the law is fitted on a log "
            "scale and needs at least 3 positive points: use larger k"
        )
    if not keep.all():
        warnings.warn(
            f"dropped k = {', '.join(map(str, k[~keep][:8]))}, where the {column} is 0 (log scale)",
            UserWarning,
            stacklevel=2,
        )
    matrix, k, value = matrix[:, keep], k[keep], value[keep]
    n_problems = matrix.shape[0]
    reps = _bootstrap_means(matrix, max(n_boot, 200), seed)
    std_error = reps.std(axis=0, ddof=1)
    if weights == "bootstrap":
        var_log = (std_error / value) ** 2
    elif weights == "binomial":
        smoothed = (value * n_problems + 0.5) / (n_problems + 1.0)
        var_log = (1.0 - smoothed) / (smoothed * n_problems)
    else:
        var_log = np.ones_like(value)
    w = _weights(var_log)
    result = _fit_law(law, k, value, column, w)
    replicates, n_failed = _refit(result, k, reps[:n_boot], w) if n_boot else (np.zeros((0, result.law.n_params)), 0)
    low, high = _percentiles(reps, level)
    curve = pd.DataFrame(
        {
            "samples": k,
            "value": value,
            "low": low,
            "high": high,
            "std_error": std_error,
            "weight": w,
        }
    )
    return _finish(result, curve, replicates, "problems" if n_boot else "none", metric, n_problems, level, n_failed)


def _weights(var_log: np.ndarray) -> np.ndarray:
    """Inverse variances scaled to mean 1; a zero variance (a point known exactly) gets 1e6 x the smallest weight."""
    positive = var_log[var_log > 0]
    floor = positive.min() * 1e-6 if positive.size else 1.0
    w = 1.0 / np.maximum(var_log, floor)
    return w / w.mean()


def _fit_law(law: str, k: np.ndarray, value: np.ndarray, column: str, w: np.ndarray) -> FitResult:
    data = {"samples": k.astype(np.float64), column: value}
    return _fit(law, data, loss="squared", weights=w, law_options={"x": "samples", "output": column})


def _refit(result: FitResult, k: np.ndarray, curves: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, int]:
    """Refit the law to every row of ``curves`` from the point estimate, ``_REFIT_CHUNK`` curves per batch.

    The curves of one chunk are stacked into one long data set; each parameter set weights only its own
    block of rows, so one call of the engine fits them all.
    """
    law = result.law
    ok_rows = np.all(curves > 0, axis=1)
    curves = curves[ok_rows]
    z_hat = law.to_internal(np.array([result.values]))[0]
    out = []
    for start in range(0, curves.shape[0], _REFIT_CHUNK):
        block = curves[start : start + _REFIT_CHUNK]
        m = block.shape[0]
        X = {law.inputs[0]: np.tile(k.astype(np.float64), m)}
        weights = np.kron(np.eye(m), w[None, :])
        problem = Problem(law, X, np.log(block).ravel(), loss="squared", weights=weights)
        z, f, _, _ = levenberg_marquardt(problem, np.repeat(z_hat[None, :], m, axis=0), max_iter=500, sets=np.arange(m))
        out.append(law.from_internal(z[np.isfinite(f)]))
    replicates = np.concatenate(out) if out else np.zeros((0, law.n_params))
    return replicates, int(len(ok_rows) - replicates.shape[0])


def _fit_curve(
    frame: pd.DataFrame, ks: Any, law: str, metric: str, weights: str, n_boot: int, level: float, seed: int
) -> CoverageFit:
    column = "coverage" if "coverage" in frame.columns else "success"
    k = _numeric(frame, "samples")
    value = _numeric(frame, column)
    keep = (k >= 1) & (value > 0)
    if ks is not None:
        keep &= np.isin(k, np.asarray(ks, dtype=np.float64))
    if keep.sum() < 3:
        raise DataError(f"a curve needs at least 3 points with samples >= 1 and {column} > 0")
    k, value = k[keep], value[keep]
    if "std_error" in frame.columns and weights != "none":
        se = _numeric(frame, "std_error")[keep]
        w = _weights((se / value) ** 2)
    else:
        w = np.ones_like(value)
    result = _fit_law(law, k, value, column, w)
    replicates = np.zeros((0, result.law.n_params))
    resampled = "none"
    if n_boot and len(k) >= 8:
        replicates = result.bootstrap(n=n_boot, by="row", seed=seed).samples
        resampled = "points"
    curve = pd.DataFrame({"samples": k, "value": value, "std_error": np.nan, "weight": w})
    return _finish(result, curve, replicates, resampled, column if metric == "coverage" else metric, 0, level, 0)


def _finish(
    result: FitResult,
    curve: pd.DataFrame,
    replicates: np.ndarray,
    resampled: str,
    metric: str,
    n_problems: int,
    level: float,
    n_failed: int,
) -> CoverageFit:
    k = curve["samples"].to_numpy()
    decades = float(np.log10(k.max() / k.min()))
    if decades < MIN_DECADES:
        warnings.warn(
            f"k spans only {decades:.2g} decade(s) ({int(k.min())} to {int(k.max())}); A and b of the coverage law "
            f"are pinned down only over >= {MIN_DECADES:g} decades (laws.md §7.3): trust predictions inside the "
            "range, not extrapolations",
            IdentifiabilityWarning,
            stacklevel=3,
        )
    return CoverageFit(
        result=result,
        curve=curve,
        replicates=replicates,
        resampled=resampled,
        metric=metric,
        n_problems=n_problems,
        decades=decades,
        level=level,
        n_failed=n_failed,
    )


def samples_for_coverage(fit: CoverageFit, target: float | Sequence[float], level: float | None = None) -> pd.DataFrame:
    """Samples per problem needed to reach ``target`` coverage (or success), with a bootstrap interval.

    Inverts ``C_max exp(-A k^(-b)) = target``: ``k = (A / log(C_max / target))^(1/b)``. A target at or above
    the ceiling is never reached (``inf``); ``reachable`` is the share of bootstrap replicates that reach it.

    Returns
    -------
    DataFrame
        ``target, samples, low, high, level, reachable, extrapolation_decades`` (decades beyond the largest
        fitted ``k``; 0 inside the data).

    Examples
    --------
    >>> import numpy as np
    >>> from scalelaw import get_law
    >>> law = get_law("coverage")
    >>> k = np.unique(np.round(np.logspace(0, 3, 20)))
    >>> curve = {"samples": k, "coverage": law.predict({"A": 2.0, "b": 0.5}, samples=k)}
    >>> cf = fit_coverage(curve, n_boot=0)
    >>> round(float(samples_for_coverage(cf, 0.9)["samples"][0]), 1)  # (2 / -log 0.9)^2
    360.3
    """
    targets = np.atleast_1d(np.asarray(target, dtype=np.float64))
    if np.any(~np.isfinite(targets) | (targets <= 0) | (targets >= 1)):
        raise DataError(f"target coverage must lie strictly between 0 and 1, got {targets.tolist()}")
    level = fit.level if level is None else level
    estimate = _invert(np.array([fit.result.values]), targets)[0]
    if fit.replicates.shape[0] >= 2:
        reps = _invert(fit.replicates, targets)
        low, high = fit._quantiles(reps, level)
        reachable = np.mean(np.isfinite(reps), axis=0)
    else:
        low = high = np.full(targets.shape, np.nan)
        reachable = np.full(targets.shape, np.nan)
    k_max = float(fit.curve["samples"].max())
    with np.errstate(divide="ignore", invalid="ignore"):
        beyond = np.where(np.isfinite(estimate), np.maximum(np.log10(estimate / k_max), 0.0), np.inf)
    return pd.DataFrame(
        {
            "target": targets,
            "samples": estimate,
            "low": low,
            "high": high,
            "level": level,
            "reachable": reachable,
            "extrapolation_decades": beyond,
        }
    )


@dataclass(frozen=True)
class CoverageStudy(Result):
    """A coverage (or verifier-success) curve, the law fitted to it and the samples needed for targets.

    ``fit`` is None with fewer than three budgets, ``targets`` without target coverages (or without a fit).
    """

    curve: pd.DataFrame
    fit: CoverageFit | None = None
    targets: pd.DataFrame | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``curve`` and ``targets`` as records, ``fit`` as law, params, paper constants, decades,
        identifiability and parameter intervals (what ``scalelaw passk --json`` prints)."""
        f = self.fit
        fit = None
        if f is not None:
            fit = {"law": f.result.law.name, "params": f.params, "paper": f.paper_params, "decades": f.decades}
            fit.update(identifiable=f.identifiable, interval=f.interval().to_dict("records"))
        targets = None if self.targets is None else self.targets.to_dict("records")
        return jsonable({"curve": self.curve.to_dict("records"), "fit": fit, "targets": targets})

    def to_frame(self) -> pd.DataFrame:
        """The curve: one row per number of samples ``k``."""
        return self.curve.copy()

    def summary(self) -> str:
        """The curve's extent, the fitted law and its parameters, and the samples needed for each target."""
        k = self.curve["k"] if "k" in self.curve else self.curve.iloc[:, 0]
        lines = [f"coverage study: {len(self.curve)} budgets from k={k.min():g} to k={k.max():g}"]
        if self.fit is None:
            lines.append("no law fitted (fewer than three budgets)")
        else:
            lines.append(self.fit.summary().splitlines()[0])
        if self.targets is not None:
            for row in self.targets.to_dict("records"):
                lines.append(
                    ", ".join(
                        f"{key}={value:.4g}" if isinstance(value, float) else f"{key}={value}"
                        for key, value in row.items()
                    )
                )
        return "\n".join(lines)


def coverage_study(
    table: Any,
    ks: Sequence[int] | np.ndarray | None = None,
    method: Metric = "coverage",
    law: Literal["coverage", "coverage_ceiling"] = "coverage",
    targets: Sequence[float] | None = None,
    n_boot: int = 200,
    level: float = 0.9,
    seed: int = 0,
    mapping: Any = None,
) -> CoverageStudy:
    """:func:`coverage_curve` (or :func:`verifier_success` for ``best_of``/``majority``), :func:`fit_coverage`
    when the curve has three budgets or more, and :func:`samples_for_coverage` at ``targets``.

    The curve's interval resamples problems ``max(n_boot, 10)`` times; the fit's, ``n_boot`` times.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> table = {"n_samples": np.full(200, 1000), "n_correct": rng.binomial(1000, rng.beta(0.3, 3, 200))}
    >>> study = coverage_study(table, [1, 10, 100, 1000], targets=[0.9], n_boot=20)
    >>> len(study.curve), study.fit.result.law.name, len(study.targets)
    (4, 'coverage', 1)
    """
    boot = max(n_boot, 10)
    common = dict(level=level, n_boot=boot, seed=seed, mapping=mapping)
    if method == "coverage":
        curve = coverage_curve(table, ks, **common)  # type: ignore[arg-type]
    else:
        curve = verifier_success(table, ks, method=method, **common)  # type: ignore[arg-type]
    if len(curve) < 3:
        return CoverageStudy(curve)
    fitted = fit_coverage(table, ks, law=law, metric=method, n_boot=n_boot, level=level, seed=seed, mapping=mapping)
    need = samples_for_coverage(fitted, targets) if targets else None
    return CoverageStudy(curve, fitted, need)


def _invert(theta: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """k reaching each target for each parameter set (rows): ``inf`` where the target is at or above the ceiling."""
    A, b = theta[:, [0]], theta[:, [1]]
    c_max = theta[:, [2]] if theta.shape[1] == 3 else np.ones_like(A)
    gap = np.log(c_max) - np.log(targets)[None, :]
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        k = np.exp((np.log(A) - np.log(gap)) / b)
    return np.where(gap > 0, k, np.inf)


__all__ = [
    "MIN_DECADES",
    "CoverageFit",
    "CoverageStudy",
    "coverage_curve",
    "coverage_study",
    "default_ks",
    "fit_coverage",
    "pass_at_k",
    "per_problem",
    "samples_for_coverage",
    "verifier_success",
]
