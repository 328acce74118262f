"""Resampling with an imperfect verifier: accuracy, false positives and reward vs k, and the best k.

The policy of Stroebl et al. 2024 (arXiv:2411.17501): draw samples until one passes the verifier (unit tests),
at most ``k``, and submit it; abstain when none passes. With ``n`` samples of a problem of which ``m`` passed the
verifier and ``c`` of those are correct, the chance that a random ``k``-subset holds a passing sample is the
unbiased pass@k ``1 - C(n-m, k)/C(n, k)`` (:func:`.sampling.pass_at_k` with ``m``), and the first passing sample
is then equally likely to be any of the ``m`` (the order is random), so exactly, for ``k <= n``:

    accuracy_i(k) = pass@k(n, m, k) * c / m,    false_positive_i(k) = pass@k(n, m, k) * (m - c) / m,

and the reward is ``accuracy - cost * false_positive`` (a correct answer earns 1, a false positive costs
``cost``, abstaining 0). Averaged over problems these are the curves; :func:`fit_verifier` fits the coverage law
with a ceiling to the accuracy and to the false-positive curve (bootstrapping problems, the two curves of a
replicate from the same resample), combines them into the reward law ``verifier_reward``
(:mod:`scalelaw.laws.verifier`), and reads off the best ``k`` with its interval.

This is the exact expectation of the authors' Monte Carlo (github.com/benediktstroebl/inference-scaling-limits,
``evalplus/scaling_curves.ipynb``: shuffle a problem's samples, take the first that passes, score it with
``reward_map``).

Tables: one row per sample with ``problem``, ``correct`` (0/1, the ground truth: hidden tests) and ``passed``
(0/1, the verifier's verdict); or one row per problem with ``n_samples``, ``n_passed`` and ``n_correct_passed``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from scalelaw._result import Result, jsonable
from scalelaw._validation import check_level
from scalelaw.errors import DataError, format_rows
from scalelaw.fitting.engine import Problem, levenberg_marquardt
from scalelaw.fitting.result import FitResult
from scalelaw.laws.verifier import PARAMS, reward, verifier_reward
from scalelaw.topics.coverage_law import _fit_law, _weights
from scalelaw.topics.sampling import (
    _bootstrap_means,
    _check_resampling,
    _correctness,
    _frame,
    _ks,
    _numeric,
    _pass_at_k,
    _percentiles,
    default_ks,
)

#: Budgets searched for the best k: every integer up to this, then a log grid.
_DENSE_K = 200
#: Points of the log grid of budgets above ``_DENSE_K``.
_LOG_POINTS = 400
#: A plateau at or above this is at its bound of 1 (not levelled off in the data).
_AT_ONE = 0.999
#: Bootstrap curves refitted together in one batch of the optimizer.
_CHUNK = 64


# ---------------------------------------------------------------------------------------------- counts and curves


def verifier_counts(table: Any, mapping: Any = None) -> pd.DataFrame:
    """Samples, verifier passes and correct passes per problem, from either table layout.

    Returns
    -------
    DataFrame
        ``problem, n_samples, n_passed, n_correct_passed`` (integers), one row per problem.

    Examples
    --------
    >>> verifier_counts({"problem": [1, 1, 2], "correct": [1, 0, 0], "passed": [1, 1, 0]})
       problem  n_samples  n_passed  n_correct_passed
    0        1          2         2                 1
    1        2          1         0                 0
    """
    frame = _frame(table, mapping)
    cols = set(frame.columns)
    if {"problem", "correct", "passed"} <= cols:
        correct = _correctness(frame)
        passed = _numeric(frame, "passed")
        bad = (passed != 0) & (passed != 1)
        if bad.any():
            raise DataError(
                f"column 'passed' must be 0/1 (the verifier's verdict); {format_rows(frame.index[bad])} are not"
            )
        rows = pd.DataFrame({"problem": frame["problem"].to_numpy(), "p": passed, "cp": passed * correct})
        grouped = rows.groupby("problem", sort=False)
        out = pd.DataFrame(
            {"n_samples": grouped.size(), "n_passed": grouped["p"].sum(), "n_correct_passed": grouped["cp"].sum()}
        )
        return out.reset_index().astype({"n_samples": np.int64, "n_passed": np.int64, "n_correct_passed": np.int64})
    if {"n_samples", "n_passed", "n_correct_passed"} <= cols:
        n, m, c = (_numeric(frame, col, whole=True) for col in ("n_samples", "n_passed", "n_correct_passed"))
        for bad, what in (
            (m > n, "'n_passed' exceeds 'n_samples'"),
            (c > m, "'n_correct_passed' exceeds 'n_passed'"),
            (n < 1, "'n_samples' is 0"),
        ):
            if bad.any():
                raise DataError(f"{what} in {format_rows(frame.index[bad])}")
        problem = frame["problem"].to_numpy() if "problem" in cols else np.arange(len(frame))
        data = {"problem": problem, "n_samples": n, "n_passed": m, "n_correct_passed": c}
        return pd.DataFrame(data).astype({"n_samples": np.int64, "n_passed": np.int64, "n_correct_passed": np.int64})
    raise DataError(
        "cannot read the verifier table: give one row per sample with columns 'problem', 'correct' (0/1, ground "
        "truth) and 'passed' (0/1, the verifier's verdict), or one row per problem with 'n_samples', 'n_passed' and "
        f"'n_correct_passed'; the table has columns {', '.join(map(repr, frame.columns))} (rename: mapping='OLD=new')"
    )


def _matrices(counts: pd.DataFrame, ks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-problem accuracy and false-positive share at each k, each of shape (n_problems, n_ks)."""
    n, m, c = (counts[col].to_numpy()[:, None] for col in ("n_samples", "n_passed", "n_correct_passed"))
    shape = (n.shape[0], ks.size)
    any_pass = _pass_at_k(*(np.broadcast_to(a, shape).ravel() for a in (n, m, ks[None, :]))).reshape(shape)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(m > 0, c / np.maximum(m, 1), 0.0)
    return any_pass * share, any_pass * np.where(m > 0, 1.0 - share, 0.0)


def verifier_curve(
    table: Any,
    ks: Sequence[int] | np.ndarray | None = None,
    cost: float = 1.0,
    level: float = 0.9,
    n_boot: int = 1000,
    seed: int = 0,
    mapping: Any = None,
) -> pd.DataFrame:
    """Accuracy, false-positive share, abstentions and reward at each budget ``k``, unbiased, with intervals.

    Parameters
    ----------
    table : DataFrame, dict of columns or path
        Per-sample rows (``problem, correct, passed``) or per-problem counts (``n_samples, n_passed,
        n_correct_passed``).
    ks : sequence of int, optional
        Budgets, each at most the smallest problem's ``n_samples``; default 25 log-spaced.
    cost : float
        Cost of a false positive (a correct answer earns 1).
    level, n_boot, seed
        Percentile interval of the reward over ``n_boot`` resamples of the problems.

    Returns
    -------
    DataFrame
        ``samples, accuracy, false_positive, abstain, reward, low, high, level, n_problems``.

    Examples
    --------
    >>> table = {"n_samples": [4, 4], "n_passed": [2, 4], "n_correct_passed": [2, 0]}
    >>> verifier_curve(table, ks=[1, 4], n_boot=20)[["samples", "accuracy", "false_positive", "reward"]]
       samples  accuracy  false_positive  reward
    0        1      0.25             0.5   -0.25
    1        4      0.50             0.5    0.00
    """
    _check_cost(cost)
    _check_resampling(level, n_boot)
    counts = verifier_counts(table, mapping)
    n_min = int(counts["n_samples"].min())
    k = _ks(default_ks(n_min) if ks is None else ks, n_min)
    acc, fp = _matrices(counts, k)
    low, high = _percentiles(_bootstrap_means(acc - cost * fp, n_boot, seed), level)
    return pd.DataFrame(
        {
            "samples": k,
            "accuracy": acc.mean(axis=0),
            "false_positive": fp.mean(axis=0),
            "abstain": 1.0 - acc.mean(axis=0) - fp.mean(axis=0),
            "reward": (acc - cost * fp).mean(axis=0),
            "low": low,
            "high": high,
            "level": level,
            "n_problems": acc.shape[0],
        }
    )


def _check_cost(cost: float) -> None:
    if not (np.isfinite(cost) and cost >= 0):
        raise DataError(
            f"cost must be a finite number >= 0 (a false positive's price; a correct answer is worth 1), got {cost!r}"
        )


# ---------------------------------------------------------------------------------------------- the fitted law


@dataclass(frozen=True, eq=False)
class VerifierFit(Result):
    """The reward law fitted to resampling with a verifier, the best budget ``k`` and their intervals.

    Attributes
    ----------
    accuracy, false_positive : FitResult or None
        ``coverage_ceiling`` fitted to each curve (``false_positive`` is None when no sample was a false positive).
    theta : ndarray, shape (6,)
        The reward law's parameters (:data:`scalelaw.laws.verifier.PARAMS`).
    replicates : ndarray, shape (n_ok, 6)
        Parameters refitted on resamples of the problems (both curves of a replicate from the same resample).
    curve : DataFrame
        The unbiased curve fitted (:func:`verifier_curve`).
    cost, level : float
    k_max : int
        Largest budget searched for the best ``k``.
    """

    accuracy: FitResult
    false_positive: FitResult | None
    theta: np.ndarray
    replicates: np.ndarray
    curve: pd.DataFrame
    cost: float
    level: float = 0.9
    k_max: int = 10_000

    @property
    def law(self):
        """The catalog law ``verifier_reward`` at this fit's cost."""
        return verifier_reward(cost=self.cost)

    @property
    def params(self) -> dict[str, float]:
        return dict(zip(PARAMS, map(float, self.theta), strict=True))

    def reward(self, samples: Any) -> np.ndarray:
        """The fitted law's reward at the budgets ``samples`` (signed)."""
        return reward(self.theta, samples, self.cost)

    def _grid(self) -> np.ndarray:
        dense = np.arange(1, min(self.k_max, _DENSE_K) + 1)
        sparse = np.geomspace(max(_DENSE_K, 1), max(self.k_max, _DENSE_K), _LOG_POINTS) if self.k_max > _DENSE_K else []
        return np.unique(np.concatenate([dense, np.round(sparse)])).astype(np.float64)

    def _interval(self, values: np.ndarray, level: float | None) -> tuple[float, float]:
        level = self.level if level is None else level
        check_level(level)
        if values.size < 2:
            return float("nan"), float("nan")
        alpha = (1.0 - level) / 2.0
        return float(np.quantile(values, alpha)), float(np.quantile(values, 1.0 - alpha))

    def optimum(self, level: float | None = None) -> pd.DataFrame:
        """The best budget ``k`` (most reward, at most :attr:`k_max`), the reward there and the limit, with intervals.

        When every budget's reward is negative, not answering (``k = 0``, reward 0) is best, as in Stroebl et al.'s
        code. The interval of ``k_opt`` is rounded outwards to whole samples.

        Returns
        -------
        DataFrame
            Rows ``k_opt``, ``reward_at_opt``, ``reward_at_k_max``, ``limit`` (``C_max - cost F_max``, as ``k``
            grows without bound) and ``drop`` (the highest reward minus the reward at ``k_max``: how far it falls);
            columns ``quantity, estimate, low, high, level, method``.
        """
        grid = self._grid()
        sets = np.vstack([self.theta[None, :], self.replicates]) if self.replicates.size else self.theta[None, :]
        values = reward(sets, grid, self.cost)
        best = np.argmax(values, axis=1)
        peak = values[np.arange(len(best)), best]
        table = {
            "k_opt": np.where(peak > 0, grid[best], 0.0),
            "reward_at_opt": np.maximum(peak, 0.0),
            "reward_at_k_max": values[:, -1],
            "limit": sets[:, 0] - self.cost * sets[:, 3],
            "drop": peak - values[:, -1],
        }
        rows = []
        for name, column in table.items():
            low, high = self._interval(column[1:], level)
            if name == "k_opt":
                low, high = float(np.floor(low)), float(np.ceil(high))
            rows.append((name, float(column[0]), low, high))
        frame = pd.DataFrame(rows, columns=["quantity", "estimate", "low", "high"], index=[r[0] for r in rows])
        frame["level"] = self.level if level is None else level
        frame["method"] = f"bootstrap-percentile (by problem, n={self.replicates.shape[0]})"
        return frame

    @property
    def k_opt(self) -> float:
        """The best budget ``k`` of the point estimate."""
        return float(self.optimum().loc["k_opt", "estimate"])

    @property
    def plateaus_reached(self) -> bool:
        """Whether both fitted plateaus (``C_max``, ``F_max``) lie inside their bounds; a plateau at 1 means the
        curve was still climbing at the data's largest k, so the limit ``C_max - cost F_max`` is not pinned down."""
        return bool(self.theta[0] < _AT_ONE and self.theta[3] < _AT_ONE)

    @property
    def falls(self) -> float:
        """Share of bootstrap replicates whose reward peaks before :attr:`k_max` and then falls (by > 0.001)."""
        if not self.replicates.size:
            return float("nan")
        values = reward(self.replicates, self._grid(), self.cost)
        return float(np.mean(values.max(axis=1) - values[:, -1] > 1e-3))

    def to_frame(self) -> pd.DataFrame:
        """The optimum's table (:meth:`optimum`); the curve fitted is :attr:`curve`."""
        return self.optimum()

    def to_dict(self) -> dict[str, Any]:
        """Law, parameters, optimum with intervals, the share of replicates that fall, and the curve."""
        return jsonable(
            {
                "law": self.law.name,
                "formula": self.law.formula(),
                "cost": self.cost,
                "params": self.params,
                "k_max": self.k_max,
                "k_max_observed": int(self.curve["samples"].max()),
                "falls": self.falls,
                "plateaus_reached": self.plateaus_reached,
                "level": self.level,
                "n_boot": int(self.replicates.shape[0]),
                "optimum": self.optimum(),
                "curve": self.curve,
            }
        )

    def summary(self) -> str:
        """The best k and the reward there on the first line, then the limit and whether the curve falls."""
        opt = self.optimum()
        k, r = opt.loc["k_opt"], opt.loc["reward_at_opt"]
        limit, drop = opt.loc["limit"], opt.loc["drop"]
        abstain = "" if k.estimate > 0 else ": abstain, every budget's reward is below 0"
        lines = [
            f"best k = {k.estimate:.4g} {k.level:.0%} [{k.low:.4g}, {k.high:.4g}] with reward {r.estimate:.4g} "
            f"[{r.low:.4g}, {r.high:.4g}] (false positive cost {self.cost:g}, k searched up to {self.k_max}){abstain}",
            f"reward as k grows without bound: {limit.estimate:.4g} [{limit.low:.4g}, {limit.high:.4g}]; "
            f"falls by {drop.estimate:.4g} [{drop.low:.4g}, {drop.high:.4g}] from the peak to k = {self.k_max} "
            f"(in {self.falls:.0%} of replicates)",
        ]
        observed = int(self.curve["samples"].max())
        if not self.plateaus_reached:
            lines.append(
                "warning: a plateau (C_max or F_max) sits at its bound 1: that curve still climbs at the largest k, so "
                "the limit is not pinned down; draw more samples per problem to see it level off"
            )
        if self.k_max > observed:
            lines.append(f"note: budgets above k = {observed} (the data's largest) are extrapolated by the law")
        return "\n".join(lines)


def fit_verifier(
    table: Any,
    cost: float = 1.0,
    ks: Sequence[int] | np.ndarray | None = None,
    k_max: int | None = None,
    n_boot: int = 200,
    level: float = 0.9,
    seed: int = 0,
    mapping: Any = None,
) -> VerifierFit:
    """Fit the reward law of resampling with an imperfect verifier and find the best sample budget.

    Parameters
    ----------
    table : DataFrame, dict of columns or path
        Per-sample rows (``problem, correct, passed``) or per-problem counts (see :func:`verifier_counts`).
    cost : float
        Cost of a false positive relative to a correct answer's value 1 (Stroebl et al. 2024 use 0 to a few).
    ks : sequence of int, optional
        Budgets fitted (each at most the smallest ``n_samples``); default 25 log-spaced from 1.
    k_max : int, optional
        Largest budget searched for the best ``k``; default the largest fitted budget (no extrapolation).
    n_boot : int
        Resamples of the problems refitted for the intervals (0 for none, else >= 10).
    level : float
    seed : int
    mapping : str or mapping, optional
        Column renames.

    Returns
    -------
    VerifierFit

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> p_pass = rng.beta(0.5, 2.0, 300)
    >>> n_passed = rng.binomial(200, p_pass)
    >>> precision = np.where(rng.random(300) < 0.6, 0.95, 0.1)
    >>> table = {"n_samples": np.full(300, 200), "n_passed": n_passed,
    ...          "n_correct_passed": rng.binomial(n_passed, precision)}
    >>> vf = fit_verifier(table, cost=2.0, n_boot=20)
    >>> bool(vf.k_opt < 200), vf.falls > 0.5
    (True, True)
    """
    _check_cost(cost)
    _check_resampling(level, n_boot, optional=True)
    counts = verifier_counts(table, mapping).sort_values("problem", kind="stable", key=_sort_key)
    n_min = int(counts["n_samples"].min())
    k = _ks(default_ks(n_min) if ks is None else ks, n_min)
    if k.size < 4:
        raise DataError(
            f"fit_verifier needs at least 4 budgets k to fit the law, got {k.size}: draw more samples per problem"
        )
    acc, fp = _matrices(counts, k)
    if acc.mean(axis=0)[0] <= 0:
        raise DataError(
            "no problem was answered correctly at k = 1 on average: the accuracy curve has no signal to fit"
        )
    curve = verifier_curve(counts, k, cost, level, max(n_boot, 10), seed)
    n_reps = max(n_boot, 200)
    (fit_acc, fit_fp, theta), replicates = _fit_both(k, acc, fp, n_reps, n_boot, seed)
    return VerifierFit(
        accuracy=fit_acc,
        false_positive=fit_fp,
        theta=theta,
        replicates=replicates,
        curve=curve,
        cost=float(cost),
        level=level,
        k_max=int(k.max() if k_max is None else k_max),
    )


def _sort_key(values: pd.Series) -> pd.Series:
    return values.astype(str)


def _fit_curve(
    k: np.ndarray, matrix: np.ndarray, n_reps: int, seed: int, column: str
) -> tuple[FitResult, np.ndarray, np.ndarray]:
    """``coverage_ceiling`` fitted to the mean of ``matrix``, weighted by the inverse bootstrap variance of its log;
    the fit, the resampled curves (same seed for every curve: the same problems in each replicate) and the weights."""
    reps = _bootstrap_means(matrix, n_reps, seed)
    value = matrix.mean(axis=0)
    w = _weights((reps.std(axis=0, ddof=1) / value) ** 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = _fit_law("coverage_ceiling", k, value, column, w)
    return result, reps, w


def _fit_both(
    k: np.ndarray, acc: np.ndarray, fp: np.ndarray, n_reps: int, n_boot: int, seed: int
) -> tuple[tuple[FitResult, FitResult | None, np.ndarray], np.ndarray]:
    """Both curves' fits, the reward law's parameters, and the paired replicates (same problem resamples)."""
    keep = acc.mean(axis=0) > 0
    fit_acc, reps_acc, w_acc = _fit_curve(k[keep], acc[:, keep], n_reps, seed, "accuracy")
    keep_fp = fp.mean(axis=0) > 0
    has_fp = int(keep_fp.sum()) >= 3
    if keep_fp.any() and not has_fp:
        warnings.warn(
            f"false positives appear at only {int(keep_fp.sum())} of the {k.size} budgets, too few to fit their curve: "
            "they are left out of the law (its reward never falls); fit more budgets (ks=) or draw more samples",
            UserWarning,
            stacklevel=3,
        )
    fit_fp, reps_fp, w_fp = (
        _fit_curve(k[keep_fp], fp[:, keep_fp], n_reps, seed, "false_positive") if has_fp else (None, None, None)
    )
    # A law parameter set per fit: (C_max, A, b) of the accuracy, (F_max, A_f, b_f) of the false positives.
    none_fp = np.array([0.0, 1.0, 0.5])
    theta = np.concatenate(
        [_ceiling_params(fit_acc.values), none_fp if fit_fp is None else _ceiling_params(fit_fp.values)]
    )
    if not n_boot:
        return (fit_acc, fit_fp, theta), np.zeros((0, 6))
    rep_acc, ok_acc = _refit_rows(fit_acc, k[keep], reps_acc[:n_boot], w_acc)
    if fit_fp is None:
        rep_fp, ok_fp = np.tile(none_fp, (n_boot, 1)), np.ones(n_boot, bool)
    else:
        rep_fp, ok_fp = _refit_rows(fit_fp, k[keep_fp], reps_fp[:n_boot], w_fp)
    both = ok_acc & ok_fp  # a replicate is kept only when both of its curves refitted
    return (fit_acc, fit_fp, theta), np.column_stack([rep_acc[both], rep_fp[both]])


def _ceiling_params(values: Sequence[float]) -> np.ndarray:
    """``coverage_ceiling``'s ``(A, b, C_max)`` reordered as the reward law's ``(C_max, A, b)``."""
    A, b, c_max = values
    return np.array([c_max, A, b])


def _refit_rows(result: FitResult, k: np.ndarray, curves: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Refit every resampled curve from the point estimate, in batches of :data:`_CHUNK`, rows aligned with
    ``curves`` (the reward law's order; NaN where a curve has a zero or the refit failed) and which succeeded."""
    law = result.law
    out = np.full((curves.shape[0], 3), np.nan)
    usable = np.flatnonzero(np.all(curves > 0, axis=1))
    z_hat = law.to_internal(np.array([result.values]))[0]
    for start in range(0, usable.size, _CHUNK):
        rows = usable[start : start + _CHUNK]
        m = rows.size
        X = {law.inputs[0]: np.tile(k.astype(np.float64), m)}
        problem = Problem(law, X, np.log(curves[rows]).ravel(), loss="squared", weights=np.kron(np.eye(m), w[None, :]))
        z, f, _, _ = levenberg_marquardt(problem, np.repeat(z_hat[None, :], m, axis=0), max_iter=500, sets=np.arange(m))
        fitted = law.from_internal(z)
        fine = np.isfinite(f)
        out[rows[fine]] = np.array([_ceiling_params(v) for v in fitted[fine]]).reshape(-1, 3)
    return out, np.all(np.isfinite(out), axis=1)


__all__ = ["VerifierFit", "fit_verifier", "verifier_counts", "verifier_curve"]
