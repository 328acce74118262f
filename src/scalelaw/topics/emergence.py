"""Emergence: is a jump in a benchmark score real, or an artefact of the metric?

Two tools (laws.md §7.1, §7.2):

- **Metric comparison** (Schaeffer, Miranda, Koyejo 2023, "Are Emergent Abilities of Large Language Models a
  Mirage?"). From per-token log-probabilities of the reference answer, :func:`metrics_from_token_logprobs`
  computes a discontinuous metric (exact match) beside continuous ones (token edit distance, Brier,
  log-likelihood, per-token accuracy). :func:`compare_metrics` measures, per metric, how much of its change
  across scale sits in one step, fits a smooth law to each and says whether the jump survives a change of
  metric.
- **PassUntil** (Hu et al. 2024, "Unlock Predictable Scaling from Emergent Abilities"). Sample each instance
  until it passes ``r`` times; :func:`pass_rates` turns the sample counts into unbiased pass-rate estimates
  (with unbiased variances), :func:`fit_passuntil` fits ``PU(N) = exp(-c N^-alpha)`` in ``log(-log PU)`` space
  with delta-method weights, both on the instance average and per instance (IPU).

Everything is vectorized with pandas/numpy group-bys; nothing loops over rows.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from scalelaw._result import Result, TableResult, jsonable
from scalelaw.errors import DataError, format_rows
from scalelaw.fitting.fit import fit
from scalelaw.fitting.result import FitResult, predict_values
from scalelaw.laws.basic import power
from scalelaw.laws.emergence import passuntil
from scalelaw.topics._tables import numeric as _numeric
from scalelaw.topics._tables import positive_scale as _positive_scale
from scalelaw.topics._tables import require_columns as _require_columns
from scalelaw.topics.trend import MIN_SCALES, trend_shape

__all__ = [
    "MetricComparison",
    "PassUntilFit",
    "compare_metrics",
    "fit_passuntil",
    "metrics_from_token_logprobs",
    "pass_rates",
    "sample_until",
]

MetricKind = Literal["score", "loss", "loglik"]

#: How each metric of :func:`metrics_from_token_logprobs` is read: its kind and whether it is continuous.
#: ``score``: higher is better, in [0, 1], judged on a linear axis (as emergence plots show it);
#: ``loss``: lower is better, > 0, judged on a log axis (a power law spreads evenly there);
#: ``loglik``: higher is better, <= 0, judged as ``log(-value)``.
KNOWN_METRICS: dict[str, tuple[MetricKind, bool]] = {
    "exact_match": ("score", False),
    "greedy_exact_match": ("score", False),
    "token_accuracy": ("score", True),
    "greedy_token_accuracy": ("score", False),
    "token_edit_distance": ("loss", True),
    "brier": ("loss", True),
    "log_likelihood": ("loglik", True),
}
#: Known chance levels (an open-ended answer is almost never exact by chance).
KNOWN_CHANCE: dict[str, float] = {"exact_match": 0.0, "greedy_exact_match": 0.0}


# ------------------------------------------------------------------------------------------ metrics


def metrics_from_token_logprobs(
    table: pd.DataFrame,
    scale: str = "params",
    example: str = "example",
    logprob: str = "logprob",
    correct: str | None = None,
) -> pd.DataFrame:
    """Per-scale metrics from the log-probability each model gives each reference-answer token.

    Parameters
    ----------
    table : DataFrame
        Long table, one row per (scale, example, token): the model's scale (e.g. ``params``), the example id
        and the natural-log probability of the reference token given the reference prefix (teacher forcing).
        A token-position column may be present; it is not needed.
    scale, example, logprob : str
        Column names.
    correct : str, optional
        Column of 0/1 flags "greedy decoding produced this token". Adds the observed (not expected)
        ``greedy_exact_match`` and ``greedy_token_accuracy``.

    Returns
    -------
    DataFrame
        One row per scale, sorted by scale, with ``n_examples``, ``n_tokens`` and, with ``p_t = exp(logprob)``:

        - ``exact_match``: mean over examples of ``prod_t p_t`` (expected exact match when sampling);
        - ``token_edit_distance``: mean over examples of ``sum_t (1 - p_t)`` (expected number of wrong tokens,
          the Hamming form of the edit distance for a fixed-length answer);
        - ``log_likelihood``: mean over examples of ``sum_t log p_t``;
        - ``brier``: mean over tokens of ``(1 - p_t)^2``, the reference-token part of the Brier score (a lower
          bound of the full multi-class Brier score, which needs the whole distribution);
        - ``token_accuracy``: mean over tokens of ``p_t`` (expected per-token accuracy).

    Raises
    ------
    DataError
        Missing columns, non-finite values, or log-probabilities above 0.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"params": [1e8, 1e8, 1e9, 1e9], "example": [0, 0, 0, 0],
    ...                   "logprob": [-0.7, -0.7, -0.1, -0.1]})
    >>> m = metrics_from_token_logprobs(t)
    >>> [round(v, 4) for v in m["exact_match"]]  # exp(-1.4), exp(-0.2)
    [0.2466, 0.8187]
    """
    _require_columns(table, [scale, example, logprob] + ([correct] if correct else []), "metrics_from_token_logprobs")
    x = _positive_scale(table, scale)
    lp = _numeric(table, logprob)
    # Rounding in the caller's softmax can give +1e-7; anything clearly positive is a sign or unit error.
    bad = table.index[lp > 1e-6]
    if len(bad):
        raise DataError(
            f"column {logprob!r} has {len(bad)} positive log-probabilities ({format_rows(bad)}); give natural-log "
            "probabilities of the reference token (<= 0), not losses or probabilities"
        )
    lp = np.minimum(lp, 0.0)
    p = np.exp(lp)
    frame = pd.DataFrame(
        {"scale": x, "example": table[example].to_numpy(), "lp": lp, "p": p, "miss": 1.0 - p, "sq": (1.0 - p) ** 2}
    )
    aggs: dict[str, tuple[str, str]] = {
        "ll": ("lp", "sum"),
        "ed": ("miss", "sum"),
        "sq": ("sq", "sum"),
        "p": ("p", "sum"),
        "n": ("lp", "size"),
    }
    if correct:
        flags = _numeric(table, correct)
        if not np.isin(flags, (0.0, 1.0)).all():
            raise DataError(f"column {correct!r} must hold 0/1 (or False/True) flags")
        frame["ok"] = flags
        aggs["ok"] = ("ok", "sum")
    per_example = frame.groupby(["scale", "example"], sort=False).agg(**aggs)
    per_example["em"] = np.exp(per_example["ll"])
    out_aggs: dict[str, tuple[str, str]] = {
        "n_examples": ("n", "size"),
        "n_tokens": ("n", "sum"),
        "exact_match": ("em", "mean"),
        "token_edit_distance": ("ed", "mean"),
        "log_likelihood": ("ll", "mean"),
        "sq": ("sq", "sum"),
        "p": ("p", "sum"),
    }
    if correct:
        per_example["all_ok"] = (per_example["ok"] == per_example["n"]).astype(float)
        out_aggs.update(greedy_exact_match=("all_ok", "mean"), ok=("ok", "sum"))
    out = per_example.groupby(level="scale").agg(**out_aggs)
    out["brier"] = out.pop("sq") / out["n_tokens"]
    out["token_accuracy"] = out.pop("p") / out["n_tokens"]
    if correct:
        out["greedy_token_accuracy"] = out.pop("ok") / out["n_tokens"]
    out = out.sort_index().reset_index().rename(columns={"scale": scale})
    return out


# --------------------------------------------------------------------------------- metric comparison


@dataclass(frozen=True)
class MetricComparison(TableResult):
    """Outcome of :func:`compare_metrics`.

    Attributes
    ----------
    table : DataFrame
        One row per metric: ``kind``, ``continuous``, ``n_scales``, ``jump_share`` (the largest step's share of
        the metric's total change, judged on the metric's axis), ``gap_share`` (that step's share of the
        log-scale range), ``excess`` (the largest ``share - gap_share`` over steps: 0 when change is spread in
        proportion to log scale, near 1 when it all happens in one step), ``jump_from``/``jump_to`` (scales
        around that step), ``jumps``, ``at_chance`` (points within ``chance_tol`` of chance, when chance is
        known), ``fit_alpha`` and ``rms_log_residual``/``max_abs_log_residual`` of a power law plus constant
        fitted to the metric in its lower-is-better form; ``trend`` (the shape against log scale, one of
        :data:`scalelaw.topics.trend.SHAPES`, from :func:`~scalelaw.topics.trend.trend_shape`; with only 3 scales,
        ``improving``, ``worsening`` or ``turning`` from the signs of the two steps), ``direction``
        (that shape in words of better and worse) and ``worsens`` (the metric gets worse with scale somewhere).
    diagnosis : {"artefact", "real", "smooth", "inverse", "non-monotone", "unclear"}
        ``inverse``/``non-monotone``: no metric jumps, but some metric worsens with scale, or turns.
    verdict : str
        One paragraph saying what the numbers mean.
    threshold : float
        ``excess`` at or above which a metric counts as jumping.
    """

    table: pd.DataFrame
    diagnosis: str
    verdict: str
    threshold: float
    scale: str = "params"
    notes: tuple[str, ...] = field(default=())

    def __str__(self) -> str:
        cols = ["kind", "continuous", "jump_share", "excess", "jump_from", "jump_to", "at_chance", "rms_log_residual"]
        cols.append("trend")
        with pd.option_context("display.width", 120, "display.precision", 3):
            body = self.table.set_index("metric")[cols].to_string()
        return f"{body}\n\n{self.verdict}"

    def to_dict(self) -> dict[str, Any]:
        """The diagnosis, the verdict, the threshold, the scale, the notes and the table as records."""
        return jsonable(
            {
                "diagnosis": self.diagnosis,
                "verdict": self.verdict,
                "threshold": self.threshold,
                "scale": self.scale,
                "notes": self.notes,
                "table": self.table,
            }
        )

    def summary(self) -> str:
        """The diagnosis on the first line, then :attr:`verdict` and the notes (``str()`` adds the table)."""
        head = f"{self.diagnosis}: {len(self.table)} metric(s) compared across {self.scale}"
        notes = [f"note: {note}" for note in self.notes if note not in self.verdict]
        return "\n".join([head, self.verdict, *notes])


def _loss_form(values: np.ndarray, kind: MetricKind) -> np.ndarray:
    """The metric as a lower-is-better quantity (what a power law plus constant describes)."""
    if kind == "score":
        return 1.0 - values
    if kind == "loglik":
        return -values
    return values


def _axis(values: np.ndarray, kind: MetricKind) -> np.ndarray | None:
    """The metric on the axis its smoothness is judged on, or None when that axis is undefined."""
    if kind == "score":
        return values
    lossy = _loss_form(values, kind)
    if np.any(lossy <= 0):
        return None
    return np.log(lossy)


def _jump_stats(log_x: np.ndarray, m: np.ndarray) -> dict[str, float | int]:
    steps = np.abs(np.diff(m))
    gaps = np.diff(log_x)
    total = steps.sum()
    if total <= 0:
        return {"jump_share": 0.0, "gap_share": math.nan, "excess": 0.0, "step": -1}
    share = steps / total
    gap_share = gaps / gaps.sum()
    excess = share - gap_share
    j = int(np.argmax(excess))
    return {"jump_share": float(share.max()), "gap_share": float(gap_share[j]), "excess": float(excess[j]), "step": j}


def _smooth_fit(scale: str, x: np.ndarray, lossy: np.ndarray) -> tuple[float, float, float]:
    """Power law plus constant on the lower-is-better form: (alpha, rms and max |log residual|)."""
    if np.any(lossy <= 0) or len(x) < 4:
        return math.nan, math.nan, math.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = fit(power(x=scale), {scale: x, "loss": lossy}, loss="squared")
    r = np.log(predict_values(result, **{scale: x})) - np.log(lossy)
    return result.params["alpha"], float(np.sqrt(np.mean(r * r))), float(np.max(np.abs(r)))


def compare_metrics(
    table: pd.DataFrame,
    metrics: Sequence[str] | None = None,
    scale: str = "params",
    kinds: Mapping[str, MetricKind] | None = None,
    continuous: Sequence[str] | None = None,
    chance: Mapping[str, float] | None = None,
    chance_tol: float = 0.01,
    threshold: float = 0.3,
) -> MetricComparison:
    """Compare how sharply several metrics of the same models change with scale.

    A metric "jumps" when one step between adjacent scales holds far more of its change than of the log-scale
    range: ``excess = max_i(|dm_i| / sum|dm| - dlog x_i / sum dlog x) >= threshold``. Scores in [0, 1] are judged
    on a linear axis (as emergence plots show them), losses and negative log-likelihoods on a log axis (where a
    power law spreads evenly). If a discontinuous metric jumps while every continuous one is smooth, the jump
    is a metric artefact (Schaeffer et al. 2023); if continuous metrics jump too, the model really changed.

    Parameters
    ----------
    table : DataFrame
        One row per scale (e.g. the output of :func:`metrics_from_token_logprobs`) with a ``scale`` column and
        one column per metric.
    metrics : sequence of str, optional
        Metric columns; default: the known metric columns present (``exact_match``, ``token_edit_distance``, ...).
    scale : str
        Scale column (params, flops, ...).
    kinds : mapping, optional
        ``{"column": "score" | "loss" | "loglik"}`` for columns not in :data:`KNOWN_METRICS`.
    continuous : sequence of str, optional
        Columns that are continuous in the model's probabilities. Default: the known ones, plus every ``loss``
        and ``loglik`` column; other scores count as discontinuous.
    chance : mapping, optional
        Chance level per metric (default 0 for exact match); points within ``chance_tol`` of it are counted.
    chance_tol : float
        Absolute tolerance for "at chance".
    threshold : float
        ``excess`` at or above which a metric jumps.

    Returns
    -------
    MetricComparison

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> N = np.logspace(7, 11, 9)
    >>> loss = (N / 1e8) ** -0.5                       # smooth per-token loss
    >>> t = pd.DataFrame({"params": N, "exact_match": np.exp(-50 * loss), "log_likelihood": -50 * loss})
    >>> compare_metrics(t).diagnosis
    'artefact'
    """
    _require_columns(table, [scale], "compare_metrics")
    kinds = dict(kinds or {})
    if metrics is None:
        metrics = [m for m in KNOWN_METRICS if m in table.columns] + [m for m in kinds if m not in KNOWN_METRICS]
        if not metrics:
            raise DataError(
                f"compare_metrics found no metric columns; name them with metrics=[...] and kinds={{...}} "
                f"(known: {', '.join(KNOWN_METRICS)})"
            )
    _require_columns(table, list(metrics), "compare_metrics")
    unknown = [m for m in metrics if m not in kinds and m not in KNOWN_METRICS]
    if unknown:
        raise DataError(
            f"say how to read metric(s) {', '.join(map(repr, unknown))}: pass kinds={{name: 'score' | 'loss' | "
            "'loglik'}} (score: higher is better, in [0, 1]; loss: lower is better, > 0; loglik: <= 0)"
        )
    bad_kind = {m: k for m, k in kinds.items() if k not in ("score", "loss", "loglik")}
    if bad_kind:
        raise DataError(f"kinds must be 'score', 'loss' or 'loglik'; got {bad_kind}")
    if not 0 < threshold < 1:
        raise DataError(f"threshold must lie in (0, 1), got {threshold}")
    x = _positive_scale(table, scale)
    if len(np.unique(x)) != len(x):
        raise DataError(
            f"compare_metrics needs one row per scale; column {scale!r} repeats values. Average repeated "
            "evaluations (seeds, checkpoints) first"
        )
    if len(x) < 3:
        raise DataError(f"compare_metrics needs at least 3 scales to see a jump, got {len(x)}")
    order = np.argsort(x)
    x = x[order]
    log_x = np.log(x)
    chance = {**KNOWN_CHANCE, **dict(chance or {})}
    rows = []
    notes = []
    for name in metrics:
        kind = kinds.get(name) or KNOWN_METRICS[name][0]
        if continuous is not None:
            is_cont = name in continuous
        elif name in KNOWN_METRICS and name not in kinds:
            is_cont = KNOWN_METRICS[name][1]
        else:
            is_cont = kind != "score"
        values = _numeric(table, name)[order]
        axis = _axis(values, kind)
        if axis is None:
            raise DataError(
                f"metric {name!r} read as {kind!r} must be {'> 0' if kind == 'loss' else '< 0'} everywhere; "
                "pass kinds= to read it differently"
            )
        stats = _jump_stats(log_x, axis)
        j = int(stats.pop("step"))
        alpha, rms, worst = _smooth_fit(scale, x, _loss_form(values, kind))
        at_chance = int(np.sum(np.abs(values - chance[name]) <= chance_tol)) if name in chance else None
        rows.append(
            {
                "metric": name,
                "kind": kind,
                "continuous": is_cont,
                "n_scales": len(x),
                **stats,
                "jump_from": float(x[j]) if j >= 0 else math.nan,
                "jump_to": float(x[j + 1]) if j >= 0 else math.nan,
                "jumps": bool(stats["excess"] >= threshold),
                "at_chance": at_chance,
                "fit_alpha": alpha,
                "rms_log_residual": rms,
                "max_abs_log_residual": worst,
            }
        )
    out = pd.DataFrame(rows)
    out["trend"], out["direction"], out["worsens"] = zip(*(_trend(x, table, order, row) for row in rows), strict=True)
    if len(x) < 5:
        notes.append(f"only {len(x)} scales: one noisy point can make or hide a jump")
    diagnosis, verdict = _verdict(out, scale, notes)
    return MetricComparison(
        table=out, diagnosis=diagnosis, verdict=verdict, threshold=threshold, scale=scale, notes=tuple(notes)
    )


def _trend(x: np.ndarray, table: pd.DataFrame, order: np.ndarray, row: dict[str, Any]) -> tuple[str, str, bool]:
    """The metric's shape against log scale (:func:`scalelaw.topics.trend.trend_shape`, a bootstrap over the
    scales), in words of better and worse, and whether it worsens anywhere at the large end or throughout."""
    name, kind = row["metric"], row["kind"]
    values = _numeric(table, name)[order]
    if len(x) >= MIN_SCALES:
        frame = pd.DataFrame({"scale": x, "value": values})
        shape = trend_shape(frame, ["value"], "scale", lower=["value"] if kind == "loss" else [], n_boot=1000)
        found = shape.table.iloc[0]
        return str(found["shape"]), str(found["direction"]), bool(found["inverse"] or found["non_monotone"])
    # Three scales: no bootstrap, only the signs of the two steps.
    steps = np.sign(np.diff(values)) * (-1.0 if kind == "loss" else 1.0)
    if (steps > 0).all():
        return "improving", "improves", False
    if (steps < 0).all():
        return "worsening", "worsens (inverse scaling)", True
    return "turning", "changes direction", True


def _names(frame: pd.DataFrame) -> str:
    return ", ".join(frame["metric"])


def _verdict(table: pd.DataFrame, scale: str, notes: list[str]) -> tuple[str, str]:
    cont, disc = table[table["continuous"]], table[~table["continuous"]]
    jumping = table[table["jumps"]]
    chance_rows = table.dropna(subset=["at_chance"])
    for _, row in chance_rows.iterrows():
        if row["at_chance"] * 2 > row["n_scales"]:
            notes.append(
                f"{row['metric']} sits at chance for {int(row['at_chance'])} of {row['n_scales']} scales: "
                "its rise rests on the few points above chance"
            )
    tail = (" Caution: " + "; ".join(notes) + ".") if notes else ""
    if cont.empty:
        return "unclear", (
            f"No continuous metric given, so a jump cannot be told from a metric artefact: add the log-likelihood "
            f"of the reference answer or a per-token metric.{tail}"
        )
    turning = table[table["worsens"]]
    trend_note = (
        " Not every metric improves with scale: "
        + "; ".join(f"{r.metric} {r.direction}" for r in turning.itertuples())
        + " (`scalelaw trend` tests the shape)."
        if not turning.empty
        else ""
    )
    if jumping.empty:
        if not turning.empty:
            monotone = turning["trend"].isin(["falling", "rising", "worsening"]).all()
            return ("inverse" if monotone else "non-monotone"), f"No metric jumps.{trend_note}{tail}"
        flat = table[table["trend"] == "flat"]
        if not flat.empty:
            return "smooth", (
                f"No metric jumps; {_names(flat)} {'shows' if len(flat) == 1 else 'show'} no clear trend with "
                f"{scale}, the other metrics improve steadily.{tail}"
            )
        return "smooth", f"No metric jumps: every metric improves steadily with log {scale}.{tail}"
    tail = trend_note + tail
    cont_jump = cont[cont["jumps"]]
    if not cont_jump.empty:
        same_step = set(cont_jump["jump_from"]) & set(disc[disc["jumps"]]["jump_from"]) if not disc.empty else set()
        where = (
            f" between {scale} {min(same_step):.3g} and the next scale, where the discontinuous metrics jump too"
            if same_step
            else ""
        )
        smooth = cont[~cont["jumps"]]
        also = f" ({_names(smooth)} do not)" if not smooth.empty else ""
        word = "all metrics jump" if len(jumping) == len(table) else f"continuous metric(s) {_names(cont_jump)} jump"
        return "real", (
            f"{word.capitalize()}{where}{also}: the model's probabilities of the answer change abruptly, so this "
            f"is a real transition, not an artefact of the metric.{tail}"
        )
    return "artefact", (
        f"{_names(jumping)} jump{'s' if len(jumping) == 1 else ''} but {_names(cont)} "
        f"{'is' if len(cont) == 1 else 'are'} smooth: the jump is a metric artefact (Schaeffer et al. 2023); "
        f"extrapolate the continuous metric and map it to the discontinuous one.{tail}"
    )


# ---------------------------------------------------------------------------------------- PassUntil


def sample_until(
    pass_rate: float | np.ndarray,
    r: int,
    max_samples: int | None = None,
    seed: int | np.random.Generator = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Simulate PassUntil evaluation: sample each instance until ``r`` passes or ``max_samples`` samples.

    Parameters
    ----------
    pass_rate : float or ndarray
        True pass probability of each instance (one draw per entry), in (0, 1].
    r : int
        Passes to wait for (>= 1).
    max_samples : int, optional
        Sample budget per instance; by default sampling always goes on to ``r`` passes.
    seed : int or Generator

    Returns
    -------
    samples, passes : ndarray of int
        Samples drawn and passes seen per instance (``passes == r`` unless the budget ran out).

    Examples
    --------
    >>> samples, passes = sample_until([0.5, 0.01], r=3, seed=0)
    >>> passes.tolist()
    [3, 3]
    """
    p = np.atleast_1d(np.asarray(pass_rate, dtype=np.float64))
    if not np.all((p > 0) & (p <= 1)):
        raise DataError("sample_until: pass rates must lie in (0, 1]")
    if int(r) != r or r < 1:
        raise DataError(f"sample_until: r must be a positive integer, got {r}")
    r = int(r)
    rng = np.random.default_rng(seed)
    # Samples up to the r-th pass: r passes plus a negative-binomial count of failures.
    samples = r + rng.negative_binomial(r, p)
    passes = np.full(p.shape, r)
    if max_samples is not None:
        if max_samples < r:
            raise DataError(f"sample_until: max_samples ({max_samples}) must be at least r ({r})")
        over = samples > max_samples
        if over.any():
            # Given that the r-th pass came after the budget, passes in the budget are Binomial(K, p) below r.
            k = np.arange(r)
            from scipy.stats import binom

            pmf = binom.pmf(k[None, :], max_samples, p[over, None])
            cdf = np.cumsum(pmf, axis=1)
            u = rng.random(int(over.sum()))[:, None] * cdf[:, -1:]
            passes[over] = np.minimum((u > cdf).sum(axis=1), r - 1)
            samples[over] = max_samples
    return samples.astype(np.int64), passes.astype(np.int64)


def pass_rates(
    table: pd.DataFrame,
    r: int | None = None,
    samples: str = "samples",
    passes: str = "passes",
) -> pd.DataFrame:
    """Unbiased pass-rate estimates, with unbiased variance estimates, from sample counts.

    With ``r`` (PassUntil sampling: draw until ``r`` passes, or until a budget runs out), a row that reached
    ``r`` passes after ``K`` samples gets the negative-binomial estimate ``(r - 1) / (K - 1)`` with variance
    ``p(1 - p) / (K - 2)`` (Haldane 1945; Finney 1949); a row that ran out of budget with ``c < r`` passes in
    ``K`` samples gets ``c / K`` with variance ``p(1 - p) / (K - 1)``. Together these are the
    Girshick-Mosteller-Savage unbiased estimator for "stop at r passes or K samples". Without ``r``, every row is
    a fixed number of samples and gets ``c / K``.

    Parameters
    ----------
    table : DataFrame
        One row per (scale, instance) with sample and pass counts. Other columns are kept.
    r : int, optional
        Passes PassUntil waited for (>= 2: with ``r = 1`` the unbiased estimate is 0 or 1).
    samples, passes : str
        Column names.

    Returns
    -------
    DataFrame
        A copy of ``table`` with ``pass_rate``, ``pass_rate_var`` and ``estimator`` (``"until"``/``"fixed"``).

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"samples": [41, 100], "passes": [5, 2]})
    >>> pass_rates(t, r=5)["pass_rate"].tolist()  # (5-1)/(41-1); budget of 100 ran out: 2/100
    [0.1, 0.02]
    """
    _require_columns(table, [samples, passes], "pass_rates")
    K = _numeric(table, samples)
    c = _numeric(table, passes)
    bad = table.index[(K < 1) | (c < 0) | (c > K) | (K != np.round(K)) | (c != np.round(c))]
    if len(bad):
        raise DataError(
            f"{samples!r}/{passes!r} must be whole counts with 0 <= passes <= samples and samples >= 1 "
            f"({format_rows(bad)})"
        )
    if r is not None and (int(r) != r or r < 2):
        raise DataError(
            f"r must be an integer >= 2, got {r}: sampling until the first pass gives no usable unbiased estimate "
            "(it is 1 when the first sample passes, else 0)"
        )
    out = table.copy()
    until = np.zeros(len(K), dtype=bool)
    if r is not None:
        over = table.index[c > r]
        if len(over):
            raise DataError(f"{len(over)} row(s) have more than r={r} passes ({format_rows(over)}); check r")
        until = c == r
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(until, (c - 1) / np.maximum(K - 1, 1), c / K)
        denom = np.where(until, K - 2, K - 1)
        var = np.where(denom > 0, p * (1 - p) / np.maximum(denom, 1), 0.0)
    out["pass_rate"] = p
    out["pass_rate_var"] = var
    out["estimator"] = np.where(until, "until", "fixed")
    return out


@dataclass(frozen=True)
class PassUntilFit(Result):
    """PassUntil fits: the instance-average law, and one law per instance (IPU).

    Attributes
    ----------
    result : FitResult
        ``passuntil`` with ``target="neg_log_pass_rate"``, fitted to ``-log`` of the mean pass rate per scale
        by weighted least squares in ``log(-log PU)`` space.
    by_scale : DataFrame
        Per scale: ``n_instances``, ``pass_rate`` (mean over instances), ``pass_rate_var``, ``log_neg_log``
        (``log(-log PU)``), ``log_neg_log_var`` (delta method) and ``used`` (0 < PU < 1).
    instances : DataFrame
        Per instance: ``c``, ``alpha`` (weighted straight line of ``log(-log p)`` on ``log x``) and ``n_scales``
        used; instances with fewer than two usable scales have NaN.
    scale : str
    """

    result: FitResult
    by_scale: pd.DataFrame
    instances: pd.DataFrame
    scale: str = "params"

    @property
    def params(self) -> dict[str, float]:
        """``c`` and ``alpha`` of the instance-average law."""
        return self.result.params

    def predict(self, x: float | np.ndarray) -> np.ndarray:
        """Pass rate of the instance-average law at scale ``x``."""
        return np.exp(-predict_values(self.result, **{self.scale: x}))

    def predict_ipu(self, x: float | np.ndarray) -> np.ndarray:
        """Mean over instances of each instance's fitted pass rate (IPU), at scale ``x``.

        Instances without a fit (fewer than two scales with 0 < p < 1) are left out of the mean.
        """
        fitted = self.instances.dropna(subset=["c", "alpha"])
        log_x = np.log(np.atleast_1d(np.asarray(x, dtype=np.float64)))
        c = fitted["c"].to_numpy()[:, None]
        alpha = fitted["alpha"].to_numpy()[:, None]
        with np.errstate(over="ignore"):
            return np.exp(-c * np.exp(-alpha * log_x[None, :])).mean(axis=0)

    def to_frame(self) -> pd.DataFrame:
        """A copy of :attr:`by_scale`: the instance-average pass rate per scale, as fitted.

        Returns
        -------
        pandas.DataFrame
            One row per scale: the scale, ``n_instances, pass_rate, pass_rate_var, log_neg_log, log_neg_log_var,
            used`` (the per-instance fits are :attr:`instances`).
        """
        return self.by_scale.copy()

    def to_dict(self) -> dict[str, Any]:
        """The scale column, the parameters of the instance-average law, and both tables as records."""
        return jsonable(
            {
                "scale": self.scale,
                "params": self.params,
                "std_errors": dict(self.result.std_errors),
                "by_scale": self.by_scale,
                "instances": self.instances,
            }
        )

    def summary(self) -> str:
        """The instance-average law's parameters, and how many instances have their own fit."""
        values = ", ".join(f"{n} = {v:.4g}" for n, v in self.params.items())
        fitted = int(self.instances[["c", "alpha"]].notna().all(axis=1).sum())
        lines = [
            f"PassUntil fit over {len(self.by_scale)} scales of {self.scale}: {values}",
            f"{fitted} of {len(self.instances)} instances have their own fit (two or more scales with 0 < p < 1)",
        ]
        return "\n".join([*lines, *(f"warning: {m}" for m in self.result.status.messages())])


def _log_neg_log(p: np.ndarray, var: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``log(-log p)`` and its delta-method variance ``var / (p log p)^2`` (NaN outside 0 < p < 1)."""
    ok = (p > 0) & (p < 1)
    safe = np.where(ok, p, 0.5)
    value = np.where(ok, np.log(-np.log(safe)), np.nan)
    v = np.where(ok, var / (safe * np.log(safe)) ** 2, np.nan)
    return value, v


def fit_passuntil(
    table: pd.DataFrame,
    r: int | None = None,
    scale: str = "params",
    instance: str = "instance",
    samples: str = "samples",
    passes: str = "passes",
) -> PassUntilFit:
    """Fit Hu et al.'s ``PU(N) = exp(-c N^-alpha)`` to PassUntil sample counts.

    Pass rates come from :func:`pass_rates`. The instance average at each scale (its variance is the mean of
    the instances' variances over the number of instances: the error of measuring this instance set) is fitted
    with the engine in ``log(-log PU)`` space, weighted by the inverse delta-method variance. Each instance is also
    fitted on its own by the same weighted straight line (closed form, all instances at once); the mean of their
    predictions is the IPU estimate the paper recommends.

    Parameters
    ----------
    table : DataFrame
        One row per (scale, instance): scale, instance id, samples drawn, passes seen.
    r : int, optional
        Passes PassUntil waited for; without it the counts are read as a fixed number of samples.
    scale, instance, samples, passes : str
        Column names.

    Returns
    -------
    PassUntilFit

    Raises
    ------
    DataError
        Bad counts, or fewer than two scales whose mean pass rate lies strictly between 0 and 1.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> N = np.repeat(np.logspace(7, 10, 4), 50)
    >>> true = np.exp(-800 * N ** -0.3)
    >>> K, c = sample_until(true, r=20, seed=1)
    >>> f = fit_passuntil(pd.DataFrame({"params": N, "instance": np.tile(np.arange(50), 4),
    ...                                 "samples": K, "passes": c}), r=20)
    >>> round(f.params["alpha"], 2)
    0.3
    """
    _require_columns(table, [scale, instance, samples, passes], "fit_passuntil")
    x = _positive_scale(table, scale)
    est = pass_rates(table, r=r, samples=samples, passes=passes)
    frame = pd.DataFrame(
        {
            "scale": x,
            "instance": table[instance].to_numpy(),
            "p": est["pass_rate"].to_numpy(),
            "var": est["pass_rate_var"].to_numpy(),
            "K": est[samples].to_numpy(dtype=np.float64),
        }
    )
    if frame.duplicated(["scale", "instance"]).any():
        dup = table.index[frame.duplicated(["scale", "instance"], keep=False).to_numpy()]
        raise DataError(f"instances repeat at the same scale ({format_rows(dup)}); give one row per (scale, instance)")
    agg = frame.groupby("scale").agg(
        n_instances=("p", "size"), pass_rate=("p", "mean"), var=("var", "sum"), K=("K", "sum")
    )
    agg["pass_rate_var"] = agg.pop("var") / agg["n_instances"] ** 2
    # A zero variance (every instance at 0 or 1) would get infinite weight: use the pooled binomial variance.
    pooled = agg["pass_rate"] * (1 - agg["pass_rate"]) / agg.pop("K")
    agg["pass_rate_var"] = agg["pass_rate_var"].where(agg["pass_rate_var"] > 0, pooled)
    agg["log_neg_log"], agg["log_neg_log_var"] = _log_neg_log(
        agg["pass_rate"].to_numpy(), agg["pass_rate_var"].to_numpy()
    )
    agg["used"] = np.isfinite(agg["log_neg_log"]) & (agg["log_neg_log_var"] > 0)
    used = agg[agg["used"]]
    if len(used) < 2:
        raise DataError(
            f"fit_passuntil needs at least two scales whose mean pass rate is strictly between 0 and 1; "
            f"got {len(used)} of {len(agg)}. Sample more (a larger r or budget) at the smallest scales"
        )
    weights = 1.0 / used["log_neg_log_var"].to_numpy()
    data = {scale: used.index.to_numpy(dtype=np.float64), "neg_log_pass_rate": -np.log(used["pass_rate"].to_numpy())}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # two parameters on few points: the status flags carry any problem
        result = fit(
            passuntil(x=scale, target="neg_log_pass_rate"),
            data,
            loss="squared",
            weights=weights / weights.mean(),
        )
    by_scale = agg.reset_index().rename(columns={"scale": scale})
    return PassUntilFit(result=result, by_scale=by_scale, instances=_instance_fits(frame), scale=scale)


def _instance_fits(frame: pd.DataFrame) -> pd.DataFrame:
    """Weighted straight line of ``log(-log p)`` on ``log x`` for every instance at once (group-by sums)."""
    y, v = _log_neg_log(frame["p"].to_numpy(), frame["var"].to_numpy())
    ok = np.isfinite(y) & (v > 0)
    w = np.where(ok, 1.0 / np.where(ok, v, 1.0), 0.0)
    lx = np.log(frame["scale"].to_numpy())
    y = np.where(ok, y, 0.0)
    sums = (
        pd.DataFrame(
            {
                "instance": frame["instance"].to_numpy(),
                "w": w,
                "wx": w * lx,
                "wy": w * y,
                "wxx": w * lx * lx,
                "wxy": w * lx * y,
                "n": ok.astype(int),
            }
        )
        .groupby("instance", sort=True)
        .sum()
    )
    det = sums["w"] * sums["wxx"] - sums["wx"] ** 2
    fittable = (sums["n"] >= 2) & (det > 1e-12 * sums["w"] ** 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = (sums["w"] * sums["wxy"] - sums["wx"] * sums["wy"]) / det
        intercept = (sums["wy"] - slope * sums["wx"]) / sums["w"]
    out = pd.DataFrame(
        {
            "c": np.where(fittable, np.exp(intercept), np.nan),
            "alpha": np.where(fittable, -slope, np.nan),
            "n_scales": sums["n"].to_numpy(),
        },
        index=sums.index,
    )
    return out.reset_index()
