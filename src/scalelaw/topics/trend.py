"""Trend shape: does a metric improve, worsen (inverse scaling) or turn (U-shaped) as scale grows?

Most scaling analyses assume a metric improves steadily with scale. The Inverse Scaling Prize (McKenzie et al.
2023, "Inverse Scaling: When Bigger Isn't Better") collected tasks where larger models do worse, and Wei et al.
(2022, "Inverse scaling can become U-shaped") found that several of them turn around at larger scale.
:func:`trend_shape` reads the shape of each metric against ``log10(scale)``:

- a straight line gives the overall direction (its slope per decade);
- a quadratic gives the curvature, the slopes at the smallest and the largest scale, and the turning point;
- a bootstrap by run (or model, or question) gives intervals for all of them and the tests: the slope's sign,
  and the turn against every monotone alternative by an intersection-union test: a U needs a significant fall
  *and* a significant rise. The decisive version is Simonsohn's (2018, "Two lines: a valid alternative to the
  invalid testing of U-shaped relationships with quadratic regressions") two lines, split at the observed scale
  nearest the quadratic's extremum; the quadratic's own end slopes (Lind and Mehlum 2010, "With or without U?")
  are reported beside it, but alone they call a curve that merely flattens (a saturating accuracy) a turn;
- an isotonic-regression test rejects every monotone curve when the per-scale means stray from the best
  monotone fit by more than the resampled noise would make them (a curve with more than one turn).

Every replicate is one weighted least-squares solve, and all replicates are solved at once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from scalelaw._result import TableResult, jsonable
from scalelaw._validation import check_level, check_replicates
from scalelaw.errors import DataError, format_rows
from scalelaw.topics._tables import positive_scale, require_columns
from scalelaw.trust.bootstrap import quantile_interval

__all__ = ["SHAPES", "TrendShape", "lower_is_better", "trend_shape"]

#: The shapes :func:`trend_shape` reports, as the metric's values move when scale grows.
SHAPES = ("rising", "falling", "U-shaped", "inverted-U", "non-monotone", "flat")
#: Columns that are scales or settings, never metrics (left out when ``metrics`` is not given).
NOT_METRICS = ("params", "tokens", "flops", "step", "seed", "lr", "batch_size", "compute")
#: Name parts of metrics where lower is better (losses, errors, perplexities, Brier scores).
LOWER_IS_BETTER_HINTS = ("loss", "error", "err", "perplexity", "ppl", "brier", "entropy", "distance", "nll")
#: Fewest distinct scales a shape is read from (a quadratic through 3 points has no residual).
MIN_SCALES = 4


def lower_is_better(name: str) -> bool:
    """Whether a metric named ``name`` reads as lower-is-better (a loss, error, perplexity or Brier score).

    Examples
    --------
    >>> lower_is_better("val_loss"), lower_is_better("accuracy")
    (True, False)
    """
    parts = name.lower().replace("-", "_").split("_")
    return any(hint in parts or name.lower().endswith(hint) for hint in LOWER_IS_BETTER_HINTS)


@dataclass(frozen=True)
class TrendShape(TableResult):
    """Outcome of :func:`trend_shape`: one row per metric.

    Attributes
    ----------
    table : DataFrame
        One row per metric: ``better`` ("higher"/"lower"), ``n_rows``, ``n_scales``, ``n_groups``, ``shape`` (one
        of :data:`SHAPES`), ``direction`` (the shape in words of better and worse), ``inverse`` (the metric worsens
        at the large end: a falling score, or the second half of an inverted U), ``non_monotone`` (U or inverted U),
        ``first``/``last`` (the fitted quadratic at the smallest and largest scale), ``slope`` (linear fit, per
        decade of scale) with ``slope_low``/``slope_high`` and ``p_slope`` (two-sided bootstrap p-value of its
        sign), ``curvature`` (quadratic coefficient per decade squared) with ``curvature_low``/``curvature_high``
        and ``p_curvature``, ``slope_start``/``slope_end`` (the quadratic's slope at the smallest and largest
        scale) with intervals, ``p_quadratic`` (Lind-Mehlum p-value of the turn the curvature points to),
        ``split`` (the observed scale where the two lines meet), ``slope_before``/``slope_after`` (their slopes),
        ``p_u`` (the two lines' p-value of that turn against every monotone shape: the larger of the shares of
        replicates where either line has the wrong sign), ``turning``/``turning_low``/``turning_high`` (scale of
        the quadratic's extremum and its interval, NaN when the curve has no turn in the data), ``turning_share``
        (share of replicates with a turn of the same kind inside the scale range), ``p_monotone`` (bootstrap
        p-value of "some monotone curve": the misfit of the best isotonic fit to the per-scale means against its
        distribution under the fitted monotone curve; NaN unless every scale has 2 rows or more),
        ``r2_linear``/``r2_quadratic`` and ``n_valid`` (replicates with at least 3 distinct scales).
    scale : str
    by : str or None
        Column resampled as a unit (``None``: each row).
    level : float
    n_boot : int
    notes : tuple of str
    """

    table: pd.DataFrame
    scale: str = "params"
    by: str | None = None
    level: float = 0.9
    n_boot: int = 1000
    notes: tuple[str, ...] = field(default=())

    def row(self, metric: str) -> pd.Series:
        """The table's row of ``metric``."""
        found = self.table[self.table["metric"] == metric]
        if found.empty:
            raise DataError(f"no metric {metric!r}; the analysis has {', '.join(self.table['metric'])}")
        return found.iloc[0]

    def to_dict(self) -> dict[str, Any]:
        """The scale, the resampling unit, the level, the replicates, the notes and the metrics as records."""
        return jsonable(
            {
                "scale": self.scale,
                "by": self.by,
                "level": self.level,
                "n_boot": self.n_boot,
                "notes": self.notes,
                "metrics": self.table,
            }
        )

    def summary(self) -> str:
        """One line per metric: its shape in words, the slope and, for a turn, the turning point."""
        unit = self.by or "row"
        head = (
            f"trend of {len(self.table)} metric(s) across {self.scale}: "
            + "; ".join(f"{r.metric} {r.shape}" for r in self.table.itertuples())
            + f" ({self.level:.0%} intervals, bootstrap by {unit})"
        )
        return "\n".join([head, *(describe(r, self.scale, self.level) for r in self.table.itertuples())])


def describe(row: Any, scale: str, level: float) -> str:
    """One sentence on a row of :attr:`TrendShape.table` (a named tuple or Series)."""
    text = (
        f"{row.metric} ({row.better} is better) {row.direction}: {row.first:.4g} at the smallest {scale}, "
        f"{row.last:.4g} at the largest; slope {row.slope:+.3g} per decade [{row.slope_low:+.3g}, "
        f"{row.slope_high:+.3g}]"
    )
    if math.isfinite(row.turning):
        text += (
            f"; the quadratic turns at {scale} {row.turning:.3g} [{row.turning_low:.3g}, {row.turning_high:.3g}], "
            f"two-lines p = {row.p_u:.3g} for a real turn"
        )
    if math.isfinite(row.p_monotone) and row.p_monotone < 0.5:
        text += f"; isotonic p = {row.p_monotone:.3g} for some monotone curve"
    return text + "."


def trend_shape(
    table: pd.DataFrame,
    metrics: Sequence[str] | None = None,
    scale: str = "params",
    by: str | None = None,
    lower: Sequence[str] | None = None,
    level: float = 0.9,
    n_boot: int = 1000,
    seed: int = 0,
) -> TrendShape:
    """Read the shape of each metric against ``log10(scale)`` and test it with a bootstrap.

    A metric is **U-shaped** (or an **inverted U**) when the quadratic curves up (down) and two straight lines,
    split at the observed scale nearest the quadratic's extremum, fall then rise (rise then fall), each with
    bootstrap probability of the wrong sign under ``(1 - level) / 2`` (Simonsohn's two lines). Otherwise it is
    **non-monotone** when the isotonic test rejects every monotone curve at ``(1 - level) / 2`` (more than
    one turn, or a zigzag beyond noise), **rising** or **falling** when the ``level`` interval of the straight
    line's slope excludes zero, else **flat**. A metric **worsens** (inverse scaling) when it falls and higher is
    better, or rises and lower is.

    Parameters
    ----------
    table : DataFrame
        One row per model (or run), or one row per (model, question) with a 0/1 or graded score: the scale
        column and one column per metric.
    metrics : sequence of str, optional
        Metric columns; default: every numeric column except the scale, ``by`` and the canonical scale and
        setting columns (params, tokens, flops, step, seed, lr, batch_size).
    scale : str
        Scale column (params, flops, ...), > 0; the trend is read against its log10.
    by : str, optional
        Column whose values are resampled as units: ``run`` or ``model`` when each row is a model, ``question``
        when rows are (model, question) scores (then every model keeps all its questions' weights and the
        bootstrap measures the test set's noise). Default: ``run`` if present, else ``model``, else each row.
    lower : sequence of str, optional
        Metrics where lower is better; default: those whose name says so (loss, error, perplexity, brier, ...;
        :func:`lower_is_better`).
    level : float
        Interval level; the slope's sign is tested at ``1 - level`` (two-sided), each side of a turn and the
        monotone test at ``(1 - level) / 2``.
    n_boot : int
        Bootstrap replicates.
    seed : int

    Returns
    -------
    TrendShape

    Raises
    ------
    DataError
        Missing or non-numeric columns, non-positive scales, fewer than 4 distinct scales for a metric, or no
        metric column.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> params = np.logspace(8, 12, 9)
    >>> x = np.log10(params)
    >>> t = pd.DataFrame({"params": params, "acc": 0.5 + 0.04 * (x - 10) ** 2, "loss": 3 - 0.2 * x})
    >>> shape = trend_shape(t, n_boot=200)
    >>> shape.row("acc")["shape"], shape.row("loss")["shape"], round(shape.row("acc")["turning"])
    ('U-shaped', 'falling', 10000000000)
    """
    level = check_level(level)
    check_replicates(n_boot)
    require_columns(table, [scale], "trend_shape")
    if by is None:
        by = next((c for c in ("run", "model") if c in table.columns), None)
    elif by not in table.columns:
        raise DataError(f"by={by!r} is not a column; the table has {', '.join(map(repr, table.columns))}")
    metrics = _metric_columns(table, metrics, scale, by)
    require_columns(table, list(metrics), "trend_shape")
    lower_set = set(lower) if lower is not None else {m for m in metrics if lower_is_better(m)}
    unknown = lower_set - set(metrics)
    if unknown:
        raise DataError(f"lower names column(s) that are not analysed metrics: {', '.join(sorted(unknown))}")
    x = np.log10(positive_scale(table, scale))
    groups = pd.factorize(table[by] if by else pd.RangeIndex(len(table)))[0]
    # One set of resampling counts for every metric: the shapes of several metrics are read on the same draws.
    rng = np.random.default_rng(seed)
    n_groups = int(groups.max()) + 1
    counts = rng.multinomial(n_groups, np.full(n_groups, 1.0 / n_groups), size=n_boot).astype(np.float64)
    rows, notes = [], []
    for name in metrics:
        y = pd.to_numeric(table[name], errors="coerce").to_numpy(dtype=np.float64)
        garbled = table.index[~np.isfinite(y) & table[name].notna().to_numpy()]
        if len(garbled):
            raise DataError(f"metric {name!r} has non-numeric value(s) ({format_rows(garbled)})")
        keep = np.isfinite(y)
        if not keep.all():
            notes.append(f"{name}: {int((~keep).sum())} row(s) without a value left out")
        row = _shape(x[keep], y[keep], groups[keep], counts, level)
        row = {"metric": name, "better": "lower" if name in lower_set else "higher", **row}
        rows.append(_words(row))
        if row["n_groups"] < 10:
            notes.append(
                f"only {row['n_groups']} resampled units ({by or 'rows'}): a bootstrap over so few is rough "
                "(resample questions with by= when the table has per-question scores)"
            )
    return TrendShape(
        table=pd.DataFrame(rows), scale=scale, by=by, level=level, n_boot=n_boot, notes=tuple(dict.fromkeys(notes))
    )


def _metric_columns(table: pd.DataFrame, metrics: Sequence[str] | None, scale: str, by: str | None) -> list[str]:
    if isinstance(metrics, str):
        metrics = [metrics]
    if metrics is not None:
        return list(metrics)
    skip = {scale, by, *NOT_METRICS}
    found = [c for c in table.columns if c not in skip and pd.api.types.is_numeric_dtype(table[c])]
    if not found:
        raise DataError(
            f"trend_shape found no metric column beside {scale!r}; name the metrics with metrics=[...] "
            "(or --metrics on the command line)"
        )
    return found


def _group_sums(groups: np.ndarray, n_groups: int, columns: np.ndarray) -> np.ndarray:
    """Per-group sums of each column of ``columns`` (n_rows, k): (n_groups, k)."""
    return np.stack([np.bincount(groups, col, n_groups) for col in columns.T], axis=1)


def _moments(u: np.ndarray, y: np.ndarray, groups: np.ndarray, n_groups: int, rows: np.ndarray | None = None):
    """Per-group sums of ``u^0..u^4`` and ``y u^0..u^2``: every weighted least-squares fit of a replicate is then
    ``counts @ sums`` (memory n_sets x n_groups, never n_sets x n_rows)."""
    keep = np.ones_like(u) if rows is None else rows.astype(np.float64)
    powers = u[:, None] ** np.arange(5)[None, :] * keep[:, None]
    return _group_sums(groups, n_groups, np.column_stack([powers, powers[:, :3] * y[:, None]]))


def _solve(sums: np.ndarray, degree: int) -> np.ndarray:
    """Least-squares polynomial coefficients (n_sets, degree + 1) from weighted moment sums (n_sets, 8)."""
    k = degree + 1
    index = np.arange(k)[:, None] + np.arange(k)[None, :]
    return np.linalg.solve(sums[:, index], sums[:, 5 : 5 + k, None])[..., 0]


def _r2(X: np.ndarray, y: np.ndarray, coef: np.ndarray) -> float:
    total = float(np.sum((y - y.mean()) ** 2))
    return 1.0 - float(np.sum((y - X @ coef) ** 2)) / total if total > 0 else math.nan


def _shape(x: np.ndarray, y: np.ndarray, groups: np.ndarray, counts: np.ndarray, level: float) -> dict[str, Any]:
    """Point estimates, replicates, intervals and tests of one metric's linear and quadratic trend."""
    scales, codes = np.unique(x, return_inverse=True)
    if len(scales) < MIN_SCALES:
        raise DataError(
            f"a trend's shape needs at least {MIN_SCALES} distinct scales, got {len(scales)}: a quadratic through "
            "3 points always fits exactly"
        )
    center = 0.5 * (scales[0] + scales[-1])
    u = x - center
    lo, hi = scales[0] - center, scales[-1] - center
    X = np.column_stack([np.ones_like(u), u, u * u])
    n_groups = counts.shape[1]
    incidence = _group_sums(groups, n_groups, (codes[:, None] == np.arange(len(scales))[None, :]).astype(float))
    # A replicate needs 3 distinct scales for its quadratic; one that drew fewer is left out (reported).
    valid = ((counts @ incidence) > 0).sum(axis=1) >= 3
    sets = np.vstack([np.ones((1, n_groups)), counts[valid]])  # the data itself first, then the replicates
    moments = sets @ _moments(u, y, groups, n_groups)
    quad = _solve(moments, 2)
    line = _solve(moments, 1)
    slope, curv = line[:, 1], quad[:, 2]
    start, end = quad[:, 1] + 2 * quad[:, 2] * lo, quad[:, 1] + 2 * quad[:, 2] * hi
    with np.errstate(divide="ignore", invalid="ignore"):
        turn = -quad[:, 1] / (2 * quad[:, 2])
    alpha = 1.0 - level
    stats = np.column_stack([slope, curv, start, end])
    low, high = quantile_interval(stats[1:], stats[0], None, level, "percentile")
    sign = 1.0 if curv[0] > 0 else -1.0
    # Lind-Mehlum on the quadratic: the turn the curvature points to needs both end slopes on their side of 0.
    p_quadratic = max(np.mean(sign * start[1:] >= 0), np.mean(sign * end[1:] <= 0))
    # Two lines (Simonsohn 2018) split at the observed scale nearest the quadratic's extremum: a curve that only
    # flattens has a flat second line, which the quadratic alone would bend into a turn.
    split = int(np.clip(np.argmin(np.abs(scales - center - turn[0])), 1, len(scales) - 2))
    left = _segment_slope(u, y, groups, sets, incidence, codes, np.arange(len(scales)) <= split)
    right = _segment_slope(u, y, groups, sets, incidence, codes, np.arange(len(scales)) >= split)
    p_two = max(np.mean(~(sign * left[1:] < 0)), np.mean(~(sign * right[1:] > 0)))
    p_monotone = _monotone_test(codes, len(scales), y, groups, counts)
    if p_two < alpha / 2:
        shape = "U-shaped" if sign > 0 else "inverted-U"
    elif p_monotone < alpha / 2:
        shape = "non-monotone"
    elif high[0] < 0 or low[0] > 0:
        shape = "rising" if slope[0] > 0 else "falling"
    else:
        shape = "flat"
    same = np.sign(curv[1:]) == sign
    inside = same & (turn[1:] > lo) & (turn[1:] < hi)
    has_turn = bool(lo < turn[0] < hi)
    t_low, t_high = np.quantile(turn[1:][same], [alpha / 2, 1 - alpha / 2]) if same.sum() >= 10 else (math.nan,) * 2
    return {
        "n_rows": len(y),
        "n_scales": len(scales),
        "n_groups": len(np.unique(groups)),
        "shape": shape,
        "first": float(quad[0, 0] + quad[0, 1] * lo + quad[0, 2] * lo * lo),
        "last": float(quad[0, 0] + quad[0, 1] * hi + quad[0, 2] * hi * hi),
        "slope": float(slope[0]),
        "slope_low": float(low[0]),
        "slope_high": float(high[0]),
        "p_slope": _two_sided(slope[1:]),
        "curvature": float(curv[0]),
        "curvature_low": float(low[1]),
        "curvature_high": float(high[1]),
        "p_curvature": _two_sided(curv[1:]),
        "slope_start": float(start[0]),
        "slope_start_low": float(low[2]),
        "slope_start_high": float(high[2]),
        "slope_end": float(end[0]),
        "slope_end_low": float(low[3]),
        "slope_end_high": float(high[3]),
        "split": float(10 ** scales[split]),
        "slope_before": float(left[0]),
        "slope_after": float(right[0]),
        "p_u": float(p_two),
        "p_quadratic": float(p_quadratic),
        "turning": float(10 ** (turn[0] + center)) if has_turn else math.nan,
        "turning_low": float(10 ** (t_low + center)) if has_turn else math.nan,
        "turning_high": float(10 ** (t_high + center)) if has_turn else math.nan,
        "turning_share": float(inside.mean()) if len(inside) else math.nan,
        "p_monotone": p_monotone,
        "r2_linear": _r2(X[:, :2], y, line[0]),
        "r2_quadratic": _r2(X, y, quad[0]),
        "n_valid": int(valid.sum()),
    }


def _isotonic(means: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted increasing isotonic fits of every row of ``means`` (n_sets, n) at once, by the min-max formula
    ``fit_i = max_{j <= i} min_{k >= i} mean(j..k)`` (n is the number of scales: small, so n^2 per set is cheap)."""
    n = means.shape[1]
    zero = np.zeros((len(means), 1))
    cw = np.concatenate([zero, np.cumsum(weights, axis=1)], axis=1)
    cwy = np.concatenate([zero, np.cumsum(weights * means, axis=1)], axis=1)
    j, k = np.triu_indices(n)
    block = np.full((len(means), n, n), np.inf)  # block[:, j, k]: weighted mean of scales j..k
    block[:, j, k] = (cwy[:, k + 1] - cwy[:, j]) / (cw[:, k + 1] - cw[:, j])
    upper = np.minimum.accumulate(block[:, :, ::-1], axis=2)[:, :, ::-1]  # min over k >= i
    upper[:, np.tril_indices(n, -1)[0], np.tril_indices(n, -1)[1]] = -np.inf  # only j <= i
    return upper.max(axis=1)


def _isotonic_rss(means: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted misfit of the best monotone (rising or falling) fit to each row of per-scale means, and the fit."""
    rising = _isotonic(means, weights)
    falling = -_isotonic(-means, weights)
    rss_up = np.sum(weights * (means - rising) ** 2, axis=1)
    rss_down = np.sum(weights * (means - falling) ** 2, axis=1)
    best = np.where((rss_up <= rss_down)[:, None], rising, falling)
    return np.minimum(rss_up, rss_down), best


def _monotone_test(codes: np.ndarray, n_scales: int, y: np.ndarray, groups: np.ndarray, counts: np.ndarray) -> float:
    """Bootstrap p-value of "the per-scale means follow some monotone curve" (NaN without 2 rows at every scale).

    The statistic is the weighted misfit of the best isotonic fit to the per-scale means. Its null distribution
    comes from the fitted monotone curve plus the deviations from the per-scale means of resampled units (a
    question keeps its deviations at every scale), so the test keeps the data's own noise and correlation.
    """
    n_rows = np.bincount(codes, minlength=n_scales).astype(np.float64)
    if (n_rows < 2).any():
        return math.nan
    means = np.bincount(codes, y, n_scales) / n_rows
    observed, fitted = _isotonic_rss(means[None, :], n_rows[None, :])
    fitted = fitted[0]
    n_groups = counts.shape[1]
    residual = np.zeros((n_groups, n_scales))
    present = np.zeros((n_groups, n_scales))
    np.add.at(residual, (groups, codes), y - means[codes])  # deviations from each scale's mean: the noise alone
    np.add.at(present, (groups, codes), 1.0)
    num, den = counts @ residual, counts @ present
    usable = (den > 0).all(axis=1)
    if not usable.any():
        return math.nan
    stats, _ = _isotonic_rss(fitted + num[usable] / den[usable], den[usable])
    return float((1 + np.sum(stats >= observed[0] * (1 - 1e-9))) / (1 + len(stats)))


def _segment_slope(
    u: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    sets: np.ndarray,
    incidence: np.ndarray,
    codes: np.ndarray,
    segment: np.ndarray,
) -> np.ndarray:
    """Slope of a straight line through the scales in ``segment`` for every set of group weights; NaN (support for
    no sign) where a set drew fewer than two distinct scales of the segment."""
    ok = ((sets @ incidence[:, segment]) > 0).sum(axis=1) >= 2
    out = np.full(len(sets), np.nan)
    if ok.any():
        moments = sets[ok] @ _moments(u, y, groups, sets.shape[1], segment[codes])
        out[ok] = _solve(moments, 1)[:, 1]
    return out


def _two_sided(reps: np.ndarray) -> float:
    """Bootstrap p-value of a sign: twice the smaller share of replicates on either side of zero (at most 1)."""
    if len(reps) == 0:
        return math.nan
    return float(min(1.0, 2 * min(np.mean(reps <= 0), np.mean(reps >= 0))))


def _words(row: dict[str, Any]) -> dict[str, Any]:
    """Add ``direction``, ``inverse`` and ``non_monotone``: the shape in words of better and worse."""
    higher = row["better"] == "higher"
    better, worse = "improves", "worsens"
    phrases = {
        "rising": better if higher else f"{worse} (inverse scaling)",
        "falling": f"{worse} (inverse scaling)" if higher else better,
        "U-shaped": f"{worse}, then {better} (U-shaped scaling)" if higher else f"{better}, then {worse}",
        "inverted-U": f"{better}, then {worse}" if higher else f"{worse}, then {better} (U-shaped scaling)",
        "non-monotone": "goes up and down with scale (no monotone trend, no single turn)",
        "flat": "shows no clear trend",
    }
    shape = row["shape"]
    worsening_end = {"falling", "inverted-U"} if higher else {"rising", "U-shaped"}
    return {
        "metric": row.pop("metric"),
        "better": row.pop("better"),
        "shape": row.pop("shape"),
        "direction": phrases[shape],
        "inverse": shape in worsening_end,
        "non_monotone": shape in ("U-shaped", "inverted-U", "non-monotone"),
        **row,
    }
