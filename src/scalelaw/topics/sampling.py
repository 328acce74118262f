"""Repeated sampling: unbiased pass@k, coverage curves, the coverage law and the verifier ceiling.

Draw ``n`` samples per problem, count the ``c`` correct ones, and ask how the fraction of problems
solved by at least one of ``k`` samples (coverage, Brown et al. 2024) grows with ``k``:

- :func:`pass_at_k` is Chen et al. 2021's unbiased estimator ``1 - C(n-c, k) / C(n, k)``, evaluated as a
  product of ratios (never binomials), vectorized over problems.
- :func:`coverage_curve` averages it over problems at each ``k`` with a bootstrap interval over problems.
- :mod:`.coverage_law` fits the exponentiated power law ``exp(-A k^(-b))`` (law ``coverage``) or the same
  with a plateau (``coverage_ceiling``) to these curves, and inverts it: how many samples reach a target.
- :func:`verifier_success` is the success rate when one answer must be picked from the ``k`` samples,
  by the best verifier score or by majority vote. It levels off below coverage; fitting
  ``coverage_ceiling`` to it (``coverage_law.fit_coverage(..., metric="best_of")``) estimates that ceiling.

Two table layouts are read. Per problem: columns ``n_samples`` and ``n_correct`` (optional ``problem``).
Per sample: one row per sample with ``problem`` and ``correct`` (0/1), plus ``score`` (verifier score,
higher is better) for ``best_of`` or ``answer`` (the final answer, for voting) for ``majority``.

Formulas and oracles: ``docs/laws.md`` §7.3 and §15.10.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from scalelaw._validation import check_level
from scalelaw.data.io import read_table
from scalelaw.data.runs import parse_mapping
from scalelaw.errors import DataError, format_rows
from scalelaw.trust.bootstrap import quantile_interval

Metric = Literal["coverage", "best_of", "majority"]

#: k should span at least this many decades for A and b to be pinned down (laws.md §7.3, §14).
MIN_DECADES = 2.0
#: Entries per block of the pass@k product (bounds memory for many problems times large k).
_BLOCK = 1 << 20


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


def _check_resampling(level: float, n_boot: int, optional: bool = False) -> None:
    """The interval level and the count of problem resamples: at least 10 (or 0, no intervals, when ``optional``)."""
    check_level(level)
    if optional and n_boot != 0 and n_boot < 10:
        raise DataError(f"n_boot must be 0 or at least 10 (got {n_boot})")
    if not optional and n_boot < 10:
        raise DataError(f"n_boot must be at least 10 (got {n_boot}); 1000 is a good default")


def _percentiles(reps: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval at ``level`` of each column of the replicates ``reps`` (one row per resample)."""
    return quantile_interval(reps, None, None, level, "percentile")


def _summary(matrix: np.ndarray, ks: np.ndarray, level: float, n_boot: int, seed: int, name: str) -> pd.DataFrame:
    _check_resampling(level, n_boot)
    reps = _bootstrap_means(matrix, n_boot, seed)
    low, high = _percentiles(reps, level)
    return pd.DataFrame(
        {
            "samples": ks,
            name: matrix.mean(axis=0),
            "low": low,
            "high": high,
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
    subsets per problem (seeded). Both level off below coverage; :func:`.coverage_law.fit_coverage` with
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
