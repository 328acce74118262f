"""Repeated sampling: unbiased pass@k, coverage curves, the coverage law and the verifier ceiling.

Draw ``n`` samples per problem, count the ``c`` correct ones, and ask how the fraction of problems
solved by at least one of ``k`` samples (coverage, Brown et al. 2024) grows with ``k``:

- :func:`pass_at_k` is Chen et al. 2021's unbiased estimator ``1 - C(n-c, k) / C(n, k)``, evaluated as a
  product of ratios (never binomials), vectorized over problems.
- :func:`coverage_curve` averages it over problems at each ``k`` with a bootstrap interval over problems.
- :func:`fit_coverage` fits the exponentiated power law ``exp(-A k^(-b))`` (law ``coverage``) or the same
  with a plateau (``coverage_ceiling``) and bootstraps problems for intervals;
  :func:`samples_for_coverage` inverts the fit: how many samples reach a target coverage.
- :func:`verifier_success` is the success rate when one answer must be picked from the ``k`` samples,
  by the best verifier score or by majority vote. It levels off below coverage; fitting
  ``coverage_ceiling`` to it (``fit_coverage(..., metric="best_of")``) estimates that ceiling.

Two table layouts are read. Per problem: columns ``n_samples`` and ``n_correct`` (optional ``problem``).
Per sample: one row per sample with ``problem`` and ``correct`` (0/1), plus ``score`` (verifier score,
higher is better) for ``best_of`` or ``answer`` (the final answer, for voting) for ``majority``.

Formulas and oracles: ``docs/laws.md`` §7.3 and §15.10.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from scalelaw._result import Result, jsonable
from scalelaw._validation import check_level
from scalelaw.data.io import read_table
from scalelaw.data.runs import parse_mapping
from scalelaw.errors import DataError, IdentifiabilityWarning, format_rows
from scalelaw.fitting.engine import Problem, levenberg_marquardt
from scalelaw.fitting.fit import fit as _fit
from scalelaw.fitting.result import FitResult

Metric = Literal["coverage", "best_of", "majority"]
Weighting = Literal["bootstrap", "binomial", "none"]

#: k should span at least this many decades for A and b to be pinned down (laws.md §7.3, §14).
MIN_DECADES = 2.0
#: Entries per block of the pass@k product (bounds memory for many problems times large k).
_BLOCK = 1 << 20
#: Replicates refitted together in one batch of the optimizer.
_REFIT_CHUNK = 64


# ---------------------------------------------------------------------------------------------- pass@k


def pass_at_k(n: Any, c: Any, k: Any) -> float | np.ndarray:
    """Unbiased pass@k from ``n`` samples of which ``c`` are correct (Chen et al. 2021).

    ``1 - C(n - c, k) / C(n, k)``, the probability that a random ``k``-subset of the ``n`` samples
    holds a correct one, evaluated as the product ``prod_{i=n-c+1..n} (1 - k/i)`` of human-eval's
    ``estimate_pass_at_k`` (or the equivalent product over ``k`` factors, whichever is shorter), summed
    in log space. It is 1 when ``n - c < k``. Arguments broadcast against each other.

    Parameters
    ----------
    n, c, k : int or array_like of int
        Samples drawn, correct samples (``0 <= c <= n``) and the budget (``1 <= k <= n``).

    Returns
    -------
    float or ndarray
        A float when every argument is a scalar.

    Raises
    ------
    DataError
        Non-integer or negative counts, ``c > n``, ``k > n`` or ``k < 1`` (naming the entries).

    Examples
    --------
    >>> round(pass_at_k(10, 3, 1), 6), round(pass_at_k(10, 3, 2), 6), round(pass_at_k(100, 1, 10), 6)
    (0.3, 0.533333, 0.1)
    >>> pass_at_k([10, 10, 10], [0, 3, 10], 5)
    array([0.        , 0.91666667, 1.        ])
    """
    scalar = all(np.ndim(v) == 0 for v in (n, c, k))
    n_, c_, k_ = (_as_counts(v, name) for v, name in ((n, "n"), (c, "c"), (k, "k")))
    try:
        n_, c_, k_ = np.broadcast_arrays(n_, c_, k_)
    except ValueError as exc:
        raise DataError(f"pass_at_k: n, c and k have incompatible shapes: {exc}") from None
    _require(c_ <= n_, "c (correct samples) must not exceed n (samples drawn)", c_, n_, "c", "n")
    _require(k_ >= 1, "k must be at least 1", k_, n_, "k", "n")
    _require(k_ <= n_, "k must not exceed n: pass@k needs at least k samples per problem", k_, n_, "k", "n")
    out = _pass_at_k(n_.ravel(), c_.ravel(), k_.ravel()).reshape(n_.shape)
    return float(out) if scalar else out


def _as_counts(values: Any, name: str) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError(f"pass_at_k: {name} must be whole numbers, got {values!r}") from None
    bad = ~np.isfinite(arr) | (arr != np.round(arr)) | (arr < 0)
    if bad.any():
        where = np.flatnonzero(np.ravel(bad))
        example = np.ravel(arr)[where[0]]
        raise DataError(
            f"pass_at_k: {name} must be non-negative whole numbers; {where.size} entr"
            f"{'y is' if where.size == 1 else 'ies are'} not (index {', '.join(map(str, where[:8]))}, e.g. {example})"
        )
    return arr.astype(np.int64)


def _require(ok: np.ndarray, message: str, left: np.ndarray, right: np.ndarray, lname: str, rname: str) -> None:
    if np.all(ok):
        return
    where = np.flatnonzero(~np.ravel(ok))
    i = where[0]
    raise DataError(
        f"pass_at_k: {message}; {where.size} entr{'y' if where.size == 1 else 'ies'} fail "
        f"(index {', '.join(map(str, where[:8]))}, e.g. {lname}={np.ravel(left)[i]}, {rname}={np.ravel(right)[i]})"
    )


def _pass_at_k(n: np.ndarray, c: np.ndarray, k: np.ndarray) -> np.ndarray:
    """pass@k for valid 1-D integer arrays: ``1 - prod_{j<L} (1 - m / (n - j))``, ``L = min(c, k)``, ``m = max``."""
    length = np.minimum(c, k)
    m = np.maximum(c, k).astype(np.float64)
    certain = n - c < k
    length = np.where(certain, 0, length)
    log_miss = np.zeros(n.shape, dtype=np.float64)
    top = int(length.max()) if length.size else 0
    # Blocks of j so that (entries x block) stays bounded; each block is one array operation.
    width = max(1, min(top, _BLOCK // max(1, n.size)))
    for start in range(0, top, width):
        j = np.arange(start, min(start + width, top))[None, :]
        live = j < length[:, None]
        ratio = np.where(live, m[:, None] / np.where(live, n[:, None] - j, 1.0), 0.0)
        log_miss += np.log1p(-ratio).sum(axis=1)
    return np.where(certain, 1.0, 0.0 - np.expm1(log_miss))


# ---------------------------------------------------------------------------------------------- tables


def _frame(table: Any, mapping: Any) -> pd.DataFrame:
    if isinstance(table, pd.DataFrame):
        frame = table.copy()
    elif isinstance(table, Mapping):
        try:
            frame = pd.DataFrame({k: np.ravel(np.asarray(v)) for k, v in table.items()})
        except ValueError as exc:
            raise DataError(f"columns given as a dict must have equal lengths: {exc}") from None
    elif isinstance(table, (str, os.PathLike)):
        frame = read_table(table)
    else:
        raise DataError(f"expected a DataFrame, a dict of columns or a path, got {type(table).__name__}")
    frame.columns = [str(col).strip() for col in frame.columns]
    rename = parse_mapping(mapping)
    missing = [old for old in rename if old not in frame.columns]
    if missing:
        raise DataError(f"mapping names column(s) {', '.join(map(repr, missing))} that the table does not have")
    frame = frame.rename(columns=rename)
    if len(frame) == 0:
        raise DataError("the sample table has no rows")
    return frame


def _layout(frame: pd.DataFrame) -> str:
    cols = set(frame.columns)
    if {"n_samples", "n_correct"} <= cols:
        return "problems"
    if {"problem", "correct"} <= cols:
        return "samples"
    if "samples" in cols and len(cols & {"coverage", "success"}) == 1:
        return "curve"
    raise DataError(
        "cannot read the sample table: give one row per problem with columns 'n_samples' and 'n_correct', or one "
        "row per sample with 'problem' and 'correct' (0/1) [+ 'score' or 'answer'], or a curve with 'samples' and "
        f"'coverage'; the table has columns {', '.join(map(repr, frame.columns))} (rename with mapping='OLD=new')"
    )


def _numeric(frame: pd.DataFrame, col: str, whole: bool = False) -> np.ndarray:
    series = frame[col]
    values = pd.to_numeric(series.astype(np.float64) if series.dtype == bool else series, errors="coerce")
    arr = values.to_numpy(dtype=np.float64)
    bad = ~np.isfinite(arr) | (arr < 0)
    if whole:
        bad |= arr != np.round(arr)
    if bad.any():
        kind = "non-negative whole numbers" if whole else "finite non-negative numbers"
        raise DataError(f"column '{col}' must hold {kind}; {format_rows(frame.index[bad])} do not")
    return arr


def per_problem(table: Any, mapping: Any = None) -> pd.DataFrame:
    """Samples drawn and correct per problem, from either table layout.

    Returns
    -------
    DataFrame
        ``problem, n_samples, n_correct`` (integers), one row per problem.

    Examples
    --------
    >>> per_problem({"problem": ["a", "a", "b"], "correct": [1, 0, 0]})
      problem  n_samples  n_correct
    0       a          2          1
    1       b          1          0
    """
    frame = _frame(table, mapping)
    layout = _layout(frame)
    if layout == "curve":
        raise DataError("a coverage curve has no per-problem counts; give per-problem or per-sample rows")
    if layout == "samples":
        correct = _correctness(frame)
        counts = pd.DataFrame({"problem": frame["problem"].to_numpy(), "correct": correct})
        grouped = counts.groupby("problem", sort=False)["correct"]
        out = pd.DataFrame({"n_samples": grouped.size(), "n_correct": grouped.sum()}).reset_index()
        return out.astype({"n_samples": np.int64, "n_correct": np.int64})
    n = _numeric(frame, "n_samples", whole=True)
    c = _numeric(frame, "n_correct", whole=True)
    over = c > n
    if over.any():
        raise DataError(f"'n_correct' exceeds 'n_samples' in {format_rows(frame.index[over])}")
    empty = n < 1
    if empty.any():
        raise DataError(f"'n_samples' is 0 in {format_rows(frame.index[empty])}; every problem needs samples")
    problem = frame["problem"].to_numpy() if "problem" in frame.columns else np.arange(len(frame))
    return pd.DataFrame({"problem": problem, "n_samples": n.astype(np.int64), "n_correct": c.astype(np.int64)})


def _correctness(frame: pd.DataFrame) -> np.ndarray:
    if frame["problem"].isna().any():
        raise DataError(f"column 'problem' is empty in {format_rows(frame.index[frame['problem'].isna().to_numpy()])}")
    correct = _numeric(frame, "correct")
    bad = (correct != 0) & (correct != 1)
    if bad.any():
        raise DataError(f"column 'correct' must be 0/1 (or true/false); {format_rows(frame.index[bad])} are not")
    return correct


def _ks(ks: Any, n_min: int) -> np.ndarray:
    arr = _as_counts(ks, "ks").ravel() if np.size(ks) else np.zeros(0, np.int64)
    if arr.size == 0:
        raise DataError("give at least one sample budget k (e.g. ks=[1, 10, 100])")
    if np.any(arr < 1):
        raise DataError(f"sample budgets k must be >= 1, got {arr[arr < 1][:8].tolist()}")
    if np.any(arr > n_min):
        raise DataError(
            f"k = {int(arr.max())} exceeds the {n_min} sample(s) of the smallest problem: pass@k needs k <= n for "
            "every problem; lower k or draw more samples (or drop problems with few samples)"
        )
    return np.unique(arr)


def default_ks(n_min: int, points: int = 25) -> np.ndarray:
    """Sample budgets spread evenly on a log scale from 1 to ``n_min`` (distinct integers).

    Examples
    --------
    >>> default_ks(100, points=5).tolist()
    [1, 3, 10, 32, 100]
    """
    return np.unique(np.round(np.logspace(0, math.log10(max(n_min, 1)), points)).astype(np.int64))


# ---------------------------------------------------------------------------------------------- per-problem matrices


def _matrix(frame: pd.DataFrame, ks: Any, metric: Metric, seed: int, n_draws: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-problem success at each k, shape (n_problems, n_ks), and the ks used."""
    if metric not in ("coverage", "best_of", "majority"):
        raise DataError(f"metric must be 'coverage', 'best_of' or 'majority', not {metric!r}")
    counts = per_problem(frame)
    n_min = int(counts["n_samples"].min())
    k = _ks(default_ks(n_min) if ks is None else ks, n_min)
    if metric == "coverage":
        n = counts["n_samples"].to_numpy()[:, None]
        c = counts["n_correct"].to_numpy()[:, None]
        return _pass_at_k(*(np.broadcast_to(a, (n.shape[0], k.size)).ravel() for a in (n, c, k[None, :]))).reshape(
            n.shape[0], k.size
        ), k
    if _layout(frame) != "samples":
        raise DataError(f"metric {metric!r} needs one row per sample (columns 'problem', 'correct' and more)")
    if metric == "best_of":
        return _best_of(frame, k), k
    return _majority(frame, k, seed, n_draws), k


def _best_of(frame: pd.DataFrame, ks: np.ndarray) -> np.ndarray:
    """Expected correctness of the best-scored of k samples drawn without replacement, exactly.

    With samples ranked by score (best first), the one at rank r is picked when it is drawn and the other
    k - 1 come from the n - 1 - r below it: ``C(n-1-r, k-1) / C(n, k)``, a running product over r. Tied
    scores are broken at random, which in expectation gives every tied sample its group's mean correctness.
    """
    if "score" not in frame.columns:
        raise DataError("method 'best_of' needs a 'score' column (the verifier's score; higher is better)")
    score = pd.to_numeric(frame["score"], errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(score)
    if bad.any():
        raise DataError(f"column 'score' must be finite numbers; {format_rows(frame.index[bad])} are not")
    samples = pd.DataFrame({"problem": frame["problem"].to_numpy(), "correct": _correctness(frame), "score": score})
    samples["tied"] = samples.groupby(["problem", "score"], sort=False)["correct"].transform("mean")
    order = {p: i for i, p in enumerate(pd.unique(samples["problem"]))}
    samples["order"] = samples["problem"].map(order)
    samples = samples.sort_values(["order", "score"], ascending=[True, False], kind="stable")
    sizes = samples.groupby("order", sort=True).size().to_numpy()
    tied = samples["tied"].to_numpy()
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    out = np.empty((sizes.size, ks.size))
    for n in np.unique(sizes):
        which = np.flatnonzero(sizes == n)
        rows = (offsets[which][:, None] + np.arange(n)[None, :]).ravel()
        out[which] = tied[rows].reshape(which.size, n) @ _pick_weights(int(n), ks).T
    return out


def _pick_weights(n: int, ks: np.ndarray) -> np.ndarray:
    """``C(n-1-r, k-1) / C(n, k)`` for every k (rows) and rank r (columns)."""
    r = np.arange(1, n)[None, :]
    k = ks[:, None].astype(np.float64)
    ratio = np.clip((n - k - r + 1) / (n - r), 0.0, None)
    return np.concatenate([k / n, (k / n) * np.cumprod(ratio, axis=1)], axis=1)


def _majority(frame: pd.DataFrame, ks: np.ndarray, seed: int, n_draws: int) -> np.ndarray:
    """Majority-vote success at each k by Monte Carlo over ``n_draws`` random k-subsets per problem.

    Each draw is a random order of the problem's samples; its first k samples are the k-subset, so votes
    grow incrementally from one budget to the next. Ties are split at random, in expectation (the share of
    correct answers among the tied leaders).
    """
    if "answer" not in frame.columns:
        raise DataError("method 'majority' needs an 'answer' column (each sample's final answer)")
    if frame["answer"].isna().any():
        raise DataError(f"column 'answer' is empty in {format_rows(frame.index[frame['answer'].isna().to_numpy()])}")
    if n_draws < 1:
        raise DataError(f"n_draws must be >= 1, got {n_draws}")
    correct = _correctness(frame)
    problem_order = pd.factorize(frame["problem"].to_numpy())[0]
    samples = pd.DataFrame({"order": problem_order, "answer": frame["answer"].astype(str).to_numpy()})
    samples["correct"] = correct
    by_answer = samples.groupby(["order", "answer"], sort=True)["correct"]
    mixed = (by_answer.transform("min") != by_answer.transform("max")).to_numpy()
    if mixed.any():
        row = int(np.flatnonzero(mixed)[0])
        raise DataError(
            f"answer {frame['answer'].iloc[row]!r} of problem {frame['problem'].iloc[row]!r} is marked both correct "
            "and incorrect; voting needs one verdict per answer"
        )
    pair = by_answer.ngroup().to_numpy()  # answer id, numbered problem by problem
    verdict_of_pair = by_answer.first().to_numpy()
    samples["pair"] = pair
    samples = samples.sort_values("order", kind="stable")
    first_pair = samples.groupby("order")["pair"].min().to_numpy()
    n_answers = samples.groupby("order")["pair"].max().to_numpy() - first_pair + 1
    sizes = samples.groupby("order").size().to_numpy()
    local = samples["pair"].to_numpy() - np.repeat(first_pair, sizes)
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    rng = np.random.default_rng(seed)
    out = np.empty((sizes.size, ks.size))
    for n in np.unique(sizes):
        which = np.flatnonzero(sizes == n)
        chunk = max(1, 4_000_000 // (n_draws * int(n)))
        for start in range(0, which.size, chunk):
            idx = which[start : start + chunk]
            codes = local[(offsets[idx][:, None] + np.arange(n)[None, :])]
            g_max = int(n_answers[idx].max())
            verdict = np.zeros((idx.size, g_max))
            j = np.arange(g_max)[None, :]
            has = j < n_answers[idx][:, None]
            verdict[has] = verdict_of_pair[(first_pair[idx][:, None] + j)[has]]
            out[idx] = _vote(codes, verdict, ks, n_draws, rng)
    return out


def _vote(codes: np.ndarray, verdict: np.ndarray, ks: np.ndarray, n_draws: int, rng) -> np.ndarray:
    """Mean majority-vote success over random orders of each row of ``codes``, at each (sorted) k."""
    n_rows, g_max = verdict.shape
    draws = rng.permuted(np.repeat(codes[:, None, :], n_draws, axis=1), axis=2).reshape(n_rows * n_draws, -1)
    base = np.arange(n_rows * n_draws)[:, None] * g_max
    votes = np.zeros((n_rows * n_draws, g_max), dtype=np.int64)
    verdict_rows = np.repeat(verdict, n_draws, axis=0)
    out = np.empty((n_rows, ks.size))
    prev = 0
    for i, k in enumerate(ks):
        new = (base + draws[:, prev:k]).ravel()
        votes += np.bincount(new, minlength=votes.size).reshape(votes.shape)
        prev = int(k)
        top = votes == votes.max(axis=1, keepdims=True)
        share = (top * verdict_rows).sum(axis=1) / top.sum(axis=1)
        out[:, i] = share.reshape(n_rows, n_draws).mean(axis=1)
    return out


def _bootstrap_means(matrix: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """Means over problems of ``n_boot`` resamples of the problems, shape (n_boot, n_ks)."""
    n_problems = matrix.shape[0]
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(n_problems, np.full(n_problems, 1.0 / n_problems), size=n_boot)
    return counts @ matrix / n_problems


def _summary(matrix: np.ndarray, ks: np.ndarray, level: float, n_boot: int, seed: int, name: str) -> pd.DataFrame:
    check_level(level)
    if n_boot < 10:
        raise DataError(f"n_boot must be at least 10 (got {n_boot}); 1000 is a good default")
    reps = _bootstrap_means(matrix, n_boot, seed)
    alpha = (1.0 - level) / 2.0
    return pd.DataFrame(
        {
            "samples": ks,
            name: matrix.mean(axis=0),
            "low": np.quantile(reps, alpha, axis=0),
            "high": np.quantile(reps, 1.0 - alpha, axis=0),
            "std_error": reps.std(axis=0, ddof=1),
            "level": level,
            "n_problems": matrix.shape[0],
        }
    )


def coverage_curve(
    table: Any,
    ks: Sequence[int] | np.ndarray | None = None,
    level: float = 0.9,
    n_boot: int = 1000,
    seed: int = 0,
    mapping: Any = None,
) -> pd.DataFrame:
    """Coverage (mean unbiased pass@k over problems) at each ``k``, with a bootstrap interval over problems.

    Parameters
    ----------
    table : DataFrame, dict of columns or path
        Per-problem counts (``n_samples``, ``n_correct``) or per-sample rows (``problem``, ``correct``).
    ks : sequence of int, optional
        Sample budgets, each at most the smallest problem's ``n_samples``; default 25 log-spaced values.
    level : float
        Coverage of the percentile interval.
    n_boot : int
        Bootstrap resamples of the problems.
    seed : int
    mapping : str or mapping, optional
        Column renames, e.g. ``"task_id=problem,passed=correct"``.

    Returns
    -------
    DataFrame
        ``samples, coverage, low, high, std_error, level, n_problems``.

    Examples
    --------
    >>> curve = coverage_curve({"n_samples": [10, 10, 10, 10], "n_correct": [0, 1, 3, 10]}, ks=[1, 10], n_boot=200)
    >>> curve[["samples", "coverage"]].round(4).to_dict("list")
    {'samples': [1, 10], 'coverage': [0.35, 0.75]}
    """
    frame = _frame(table, mapping)
    matrix, k = _matrix(frame, ks, "coverage", seed, 1)
    return _summary(matrix, k, level, n_boot, seed, "coverage")


def verifier_success(
    table: Any,
    ks: Sequence[int] | np.ndarray | None = None,
    method: Literal["best_of", "majority"] = "best_of",
    level: float = 0.9,
    n_boot: int = 1000,
    seed: int = 0,
    n_draws: int = 200,
    mapping: Any = None,
) -> pd.DataFrame:
    """Success rate when one of ``k`` samples is submitted, next to coverage (a perfect verifier).

    ``best_of``: the sample with the highest ``score`` is submitted; the expectation over random
    ``k``-subsets of the ``n`` samples is exact (ties broken at random). ``majority``: the most frequent
    ``answer`` is submitted (ties at random); its expectation is estimated from ``n_draws`` random
    subsets per problem (seeded). Both level off below coverage; :func:`fit_coverage` with
    ``law="coverage_ceiling"`` and ``metric=method`` estimates the plateau.

    Returns
    -------
    DataFrame
        ``samples, success, low, high, std_error, level, n_problems, coverage, method``.

    Examples
    --------
    >>> table = {"problem": [1, 1, 2, 2], "correct": [1, 0, 0, 1], "score": [0.9, 0.1, 0.8, 0.2]}
    >>> verifier_success(table, ks=[1, 2], n_boot=100)[["samples", "success", "coverage"]].to_dict("list")
    {'samples': [1, 2], 'success': [0.5, 0.5], 'coverage': [0.5, 1.0]}
    """
    if method not in ("best_of", "majority"):
        raise DataError(f"method must be 'best_of' or 'majority', not {method!r}")
    frame = _frame(table, mapping)
    matrix, k = _matrix(frame, ks, method, seed, n_draws)
    out = _summary(matrix, k, level, n_boot, seed, "success")
    out["coverage"] = _matrix(frame, k, "coverage", seed, 1)[0].mean(axis=0)
    out["method"] = method
    return out


# ---------------------------------------------------------------------------------------------- the law fit


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
        alpha = (1.0 - level) / 2.0
        # Unreachable targets give inf replicates; between two infs the interpolated quantile is inf, not NaN.
        with np.errstate(invalid="ignore"):
            low, high = np.quantile(values, alpha, axis=0), np.quantile(values, 1.0 - alpha, axis=0)
        has_inf = np.any(np.isinf(values), axis=0)
        return np.where(np.isnan(low) & has_inf, np.inf, low), np.where(np.isnan(high) & has_inf, np.inf, high)

    def interval(self, level: float | None = None) -> pd.DataFrame:
        """Percentile intervals of the parameters, of the ceiling and of the paper's ``a, b``.

        Returns
        -------
        DataFrame
            ``quantity, estimate, low, high, level, method``.
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
            }
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
    check_level(level)
    if n_boot != 0 and n_boot < 10:
        raise DataError(f"n_boot must be 0 or at least 10 (got {n_boot})")
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
    alpha = (1.0 - level) / 2.0
    curve = pd.DataFrame(
        {
            "samples": k,
            "value": value,
            "low": np.quantile(reps, alpha, axis=0),
            "high": np.quantile(reps, 1.0 - alpha, axis=0),
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
class CoverageStudy:
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
        return {"curve": self.curve.to_dict("records"), "fit": fit, "targets": targets}


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
