"""Backtests and predictions from capability factors: the paper's hold-out of the largest models by compute
(:func:`holdout_by_flops`) and a family's largest models predicted from compute alone (:func:`predict_family`)."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from scalelaw._result import TableResult, jsonable
from scalelaw._validation import check_level
from scalelaw.errors import ConvergenceWarning, DataError, FitError
from scalelaw.topics.observational.factors import (
    DEFAULT_BENCHMARKS,
    Capabilities,
    FamilyCompute,
    Link,
    _benchmark_list,
    _list_of_str,
    capabilities,
    fit_family_compute,
    fit_link,
)

__all__ = ["PAPER_CUTOFF_FLOPS", "FamilyPrediction", "ObservationalBacktest", "holdout_by_flops", "predict_family"]

#: Range of a bounded metric for clipping: "auto", None, one (low, high), or per metric (see predict_family).
Bounds = str | tuple[float, float] | Mapping[str, tuple[float, float] | None] | None

#: The README's default split: ``cutoff_by_FLOPs (1E21)`` at 84, i.e. Llama-2-7B's 8.4e22 FLOPs.
PAPER_CUTOFF_FLOPS = 8.4e22


# ---------------------------------------------------------------------------------------------- backtests


class _Errors(TableResult):
    """Mean absolute error of the PCA route and of the log-compute baseline over a result's ``table``."""

    @property
    def mae(self) -> float:
        return float(self.table["abs_error"].mean())

    @property
    def baseline_mae(self) -> float:
        return float(self.table["baseline_abs_error"].mean())


@dataclass(frozen=True)
class ObservationalBacktest(_Errors):
    """Result of :func:`holdout_by_flops`.

    ``table`` has one row per held-out model: observed and predicted target, the bootstrap prediction
    interval, absolute error and whether the interval covers the observation, for the capability route and
    for the compute-only baseline (the same sigmoid link on log10 FLOPs). ``bounds`` maps the target to the
    range its predictions and interval ends were clipped to (``None``: not clipped).
    """

    target: str
    cutoff_flops: float
    table: pd.DataFrame = field(repr=False)
    capabilities: Capabilities = field(repr=False)
    link: Link = field(repr=False)
    baseline_link: Link = field(repr=False)
    level: float = 0.9
    n_train: int = 0
    bounds: dict[str, tuple[float, float] | None] = field(default_factory=dict, repr=False)

    @property
    def coverage(self) -> float:
        return float(self.table["covered"].mean())

    @property
    def baseline_coverage(self) -> float:
        return float(self.table["baseline_covered"].mean())

    def summary(self) -> str:
        """The split, then the errors and interval coverage of the capability route against the baseline."""
        m = self.metrics()
        return (
            f"{self.target}: trained on {m['n_train']} models <= {self.cutoff_flops:.3g} FLOPs, predicted "
            f"{m['n_test']} larger ones; the factors hold {m['variance_share']:.1%} of the variance\n"
            f"mean absolute error {m['mae']:.3g} (log-FLOPs baseline {m['baseline_mae']:.3g}); {self.level:.0%} "
            f"intervals cover {m['coverage']:.0%} (baseline {m['baseline_coverage']:.0%})"
        )

    def to_dict(self) -> dict[str, Any]:
        """:meth:`metrics` and the held-out models as records (``models``): what ``scalelaw observe --json`` prints."""
        return jsonable({**self.metrics(), "models": self.table})

    def metrics(self) -> dict[str, float | int | str]:
        """Headline numbers as a JSON-able dict (what ``summary()`` returned before it became text)."""
        return {
            "target": self.target,
            "cutoff_flops": self.cutoff_flops,
            "n_train": self.n_train,
            "n_test": len(self.table),
            "mae": self.mae,
            "baseline_mae": self.baseline_mae,
            "coverage": self.coverage,
            "baseline_coverage": self.baseline_coverage,
            "level": self.level,
            "variance_share": float(self.capabilities.explained_variance_ratio.sum()),
        }


def holdout_by_flops(
    frame: pd.DataFrame,
    target: str,
    *,
    cutoff: float = PAPER_CUTOFF_FLOPS,
    benchmarks: Sequence[str] = DEFAULT_BENCHMARKS,
    n_components: int = 3,
    standardize: bool = True,
    floor: float | tuple[float, float] = (0.0, 0.2),
    ceiling: float | tuple[float, float] = 1.0,
    n_boot: int = 200,
    level: float = 0.9,
    seed: int = 0,
    bounds: Bounds = "auto",
) -> ObservationalBacktest:
    """The paper's default backtest: fit on models at or below ``cutoff`` FLOPs, predict the larger ones.

    The capabilities are extracted from the training models only, from every benchmark except ``target``
    (the repo asserts the predicted metric is not among the PCA metrics); held-out models are projected
    onto those factors from their own observed benchmark scores, then the link predicts ``target``. The
    compute-only baseline fits the same link to log10 FLOPs. Models without FLOPs are dropped.

    Intervals are bootstrap *prediction* intervals: training models are resampled with replacement, the
    PCA and link are refitted, and one resampled training residual is added to each replicate prediction.
    The link's own prediction stays within its floor and ceiling, but an added residual can carry an
    interval end out of the metric's range; ends are clipped to ``bounds`` (see :func:`predict_family`).

    Examples
    --------
    >>> from scalelaw import datasets
    >>> bt = holdout_by_flops(datasets.load("ruan2024"), "gsm8k", n_boot=20)
    >>> bt.n_train, len(bt.table)
    (77, 46)
    """
    check_level(level)
    data = _model_frame(frame, [target, *benchmarks], need_flops=True)
    data = data[np.isfinite(data[target].to_numpy(dtype=float))]
    bench = [b for b in _benchmark_list(benchmarks) if b != target]
    train = data[data["flops"] <= cutoff]
    test = data[data["flops"] > cutoff]
    if len(train) < n_components + 4 or len(test) == 0:
        raise DataError(
            f"the cutoff {cutoff:.3g} FLOPs leaves {len(train)} training and {len(test)} test models with "
            f"'{target}'; choose a cutoff inside the data's range ({data['flops'].min():.3g}-"
            f"{data['flops'].max():.3g})"
        )
    ranges = _metric_bounds(bounds, [target], train)
    y_train = train[target].to_numpy(dtype=float)
    x_train, x_test = np.log10(train["flops"].to_numpy()), np.log10(test["flops"].to_numpy())

    def pipeline(
        rows: np.ndarray, warm: tuple[Link, Link] | None = None
    ) -> tuple[Capabilities, Link, Link, np.ndarray, np.ndarray, np.ndarray]:
        part = train.iloc[rows]
        caps = capabilities(part, bench, n_components, standardize=standardize)
        if warm is not None:  # keep PC signs aligned with the full fit so the warm start is meaningful
            caps = _align_signs(caps, full_caps)
        link = fit_link(caps.scores.to_numpy(), y_train[rows], floor=floor, ceiling=ceiling, start=warm and warm[0])
        base = fit_link(x_train[rows, None], y_train[rows], floor=floor, ceiling=ceiling, start=warm and warm[1])
        pred = link.predict(caps.transform(test).to_numpy())
        res = y_train[rows] - link.predict(caps.scores.to_numpy())
        base_res = y_train[rows] - base.predict(x_train[rows, None])
        return caps, link, base, pred, res, base_res

    n = len(train)
    full_caps: Capabilities | None = None
    caps, link, base, pred, _, _ = pipeline(np.arange(n))
    full_caps = caps
    base_pred = base.predict(x_test[:, None])
    rng = np.random.default_rng(seed)
    reps, base_reps = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for _ in range(n_boot):
            rows = rng.integers(0, n, n)
            try:
                _, _, b_link, b_pred, res, b_res = pipeline(rows, (link, base))
            except DataError:  # a resample with a constant column: skip it
                continue
            reps.append(b_pred + rng.choice(res, len(b_pred)))
            base_reps.append(b_link.predict(x_test[:, None]) + rng.choice(b_res, len(b_pred)))
    table = test[["model", *(["model_family"] if "model_family" in test else []), "flops"]].copy()
    observed = test[target].to_numpy(dtype=float)
    table["observed"] = observed
    limits = _row_limits(ranges, [target], len(table))
    _add_prediction(table, "", pred, reps, observed, level, limits)
    _add_prediction(table, "baseline_", base_pred, base_reps, observed, level, limits)
    return ObservationalBacktest(
        target=target,
        cutoff_flops=float(cutoff),
        table=table.reset_index(drop=True),
        capabilities=caps,
        link=link,
        baseline_link=base,
        level=level,
        n_train=n,
        bounds=ranges,
    )


@dataclass(frozen=True)
class FamilyPrediction(_Errors):
    """Result of :func:`predict_family`.

    ``table`` is long: one row per (held-out model, metric) with the observed value (NaN when unknown),
    the prediction from compute, a bootstrap prediction interval and the absolute error. Metrics are the
    PCA benchmarks (reconstructed from the predicted capabilities) and ``target`` (through the link).
    ``baseline_predicted`` regresses each metric on log10 compute directly, with the same slope/intercept
    design as the capabilities (no PCA, no link). ``bounds`` maps each metric to the range its predictions
    and interval ends were clipped to (``None``: not clipped).
    """

    family: str
    target: str | None
    table: pd.DataFrame = field(repr=False)
    family_compute: FamilyCompute = field(repr=False)
    capabilities: Capabilities = field(repr=False)
    link: Link | None = field(repr=False, default=None)
    level: float = 0.9
    bounds: dict[str, tuple[float, float] | None] = field(default_factory=dict, repr=False)

    @property
    def coverage(self) -> float:
        seen = self.table["observed"].notna()
        return float(self.table.loc[seen, "covered"].mean())

    def to_dict(self) -> dict[str, Any]:
        """The family, the target, the errors, the coverage and the table as records."""
        return jsonable(
            {
                "family": self.family,
                "target": self.target,
                "level": self.level,
                "mae": self.mae,
                "baseline_mae": self.baseline_mae,
                "coverage": self.coverage,
                "table": self.table,
            }
        )

    def summary(self) -> str:
        """What was predicted, then the errors and the interval coverage against the baseline."""
        models = self.table["model"].nunique() if "model" in self.table else len(self.table)
        return (
            f"{self.family}: {models} held-out model(s) predicted from compute ({len(self.table)} model-metric rows)\n"
            f"mean absolute error {self.mae:.3g} (log-compute baseline {self.baseline_mae:.3g}); {self.level:.0%} "
            f"intervals cover {self.coverage:.0%} of the observed values"
        )


def predict_family(
    frame: pd.DataFrame,
    family: str,
    target: str | None = None,
    *,
    holdout: int | Sequence[str] = 1,
    benchmarks: Sequence[str] = DEFAULT_BENCHMARKS,
    n_components: int = 3,
    standardize: bool = True,
    shared_slope: bool = True,
    floor: float | tuple[float, float] = (0.0, 0.2),
    ceiling: float | tuple[float, float] = 1.0,
    n_boot: int = 200,
    level: float = 0.9,
    seed: int = 0,
    bounds: Bounds = "auto",
) -> FamilyPrediction:
    """Predict the benchmark scores of a family's held-out (largest) models from their compute alone.

    Everything is fitted without the held-out models: capabilities (PCA, on all other models, excluding
    ``target`` from the factors), the capability-vs-log-compute lines (``shared_slope=True``: one slope
    from within-family variation of all families, the family's own intercept from its remaining smaller
    models; ``False``: the family's own slope, which needs two smaller models), and the link for ``target``.
    The held-out models' capabilities are predicted at their FLOPs; benchmark scores follow by
    reconstruction (PCA metrics) or the link (``target``).

    Intervals: the known models are resampled (the family's remaining models within the family, so that it
    keeps its intercept), everything refitted, and one resampled training residual of the whole
    compute → score pipeline added per replicate.

    Bounded metrics: reconstructed scores are a linear map of the capabilities and the baseline is a line
    in log compute, so both can leave a metric's range (the link's prediction cannot, but its interval
    ends can). Predictions, interval ends and baseline predictions are clipped to ``bounds``: ``"auto"``
    (default) treats a metric whose known scores all lie in [0, 1] as an accuracy with range [0, 1] and
    leaves other metrics unclipped; ``(low, high)`` is one range for every metric; a mapping gives ranges
    per metric (``None``: unclipped; metrics not named follow ``"auto"``), e.g. ``{"bleu": (0, 100)}``;
    ``None`` clips nothing.

    Examples
    --------
    >>> from scalelaw import datasets
    >>> pred = predict_family(datasets.load("ruan2024"), "Llama-2", n_boot=10)
    >>> sorted(pred.table["model"].unique())
    ['meta-llama/Llama-2-70b-hf']
    """
    check_level(level)
    data = _model_frame(frame, [*([target] if target else []), *benchmarks], need_flops=False)
    if "model_family" not in data:
        raise DataError("predict_family needs a 'model_family' column")
    bench = [b for b in _benchmark_list(benchmarks) if b != target]
    fam_rows = data[(data["model_family"] == family) & np.isfinite(data["flops"].to_numpy(dtype=float))]
    if fam_rows.empty:
        raise DataError(f"no model of family {family!r} has FLOPs; families: {sorted(data['model_family'].unique())}")
    if isinstance(holdout, int):
        if not 1 <= holdout < len(fam_rows):
            raise DataError(f"family {family!r} has {len(fam_rows)} models with FLOPs; hold out 1-{len(fam_rows) - 1}")
        held = fam_rows.sort_values("flops").index[-holdout:]
    else:
        names = _list_of_str(holdout)
        held = fam_rows.index[fam_rows["model"].isin(names)]
        if len(held) != len(set(names)) or len(held) == len(fam_rows):
            raise DataError(f"holdout must name some (not all) models of family {family!r} that have FLOPs")
    known = data.drop(index=held)
    test = data.loc[held]
    own = known.index[(known["model_family"] == family).to_numpy() & np.isfinite(known["flops"].to_numpy(float))]
    if not shared_slope and known.loc[own, "flops"].nunique() < 2:
        raise DataError(f"family {family!r} keeps fewer than 2 models at distinct compute; use shared_slope=True")
    test_flops = test["flops"].to_numpy(dtype=float)
    metrics = [*bench, *([target] if target else [])]
    ranges = _metric_bounds(bounds, metrics, known)

    def pipeline(
        rows: pd.Index, warm: Link | None = None, reference: Capabilities | None = None
    ) -> tuple[Capabilities, FamilyCompute, Link | None, np.ndarray, np.ndarray]:
        part = known.loc[rows]
        caps = _align_signs(capabilities(part, bench, n_components, standardize=standardize), reference)
        pcs = caps.scores.to_numpy()
        with_c = np.isfinite(part["flops"].to_numpy(dtype=float))
        fam_fit = fit_family_compute(
            pcs[with_c], part["flops"].to_numpy()[with_c], part["model_family"].to_numpy()[with_c],
            shared_slope=shared_slope,
        )  # fmt: skip
        link = None
        if target:
            y = part[target].to_numpy(dtype=float)
            ok = np.isfinite(y)
            link = fit_link(pcs[ok], y[ok], floor=floor, ceiling=ceiling, start=warm)
        s_test = fam_fit.predict(family, test_flops)
        pred = _metrics(caps, link, s_test)
        # In-sample residuals of the whole compute -> score pipeline, for the prediction interval.
        fitted = part.loc[with_c]
        fitted = fitted[fitted["model_family"].isin(fam_fit.families)]
        s_fit = fam_fit.predict(fitted["model_family"].tolist(), fitted["flops"].to_numpy(dtype=float))
        obs = fitted[metrics].to_numpy(dtype=float)
        return caps, fam_fit, link, pred, obs - _metrics(caps, link, s_fit)

    caps, fam_fit, link, pred, _ = pipeline(known.index)
    rng = np.random.default_rng(seed)
    others = known.index.difference(own)
    reps = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for _ in range(n_boot):
            rows = others[rng.integers(0, len(others), len(others))].append(_resample_family(own, known, rng))
            try:
                *_, b_pred, res = pipeline(rows, link, caps)
            except DataError:  # degenerate resample (e.g. the family lost its compute spread)
                continue
            draw = res[rng.integers(0, len(res), len(b_pred))]
            reps.append(b_pred + np.where(np.isfinite(draw), draw, 0.0))
    table = pd.DataFrame(
        [{"model": m, "flops": c, "metric": b} for m, c in zip(test["model"], test_flops, strict=True) for b in metrics]
    )
    observed = test[metrics].to_numpy(dtype=float).ravel()
    table["observed"] = observed
    flat_reps = [r.ravel() for r in reps]
    limits = _row_limits(ranges, metrics, len(test))  # rows are model-major: every metric of model 1, ...
    _add_prediction(table, "", pred.ravel(), flat_reps, observed, level, limits)
    baseline = _direct_family_fit(known, family, metrics, test_flops, shared_slope).ravel()
    table["baseline_predicted"] = np.clip(baseline, *limits)
    table["baseline_abs_error"] = np.abs(table["baseline_predicted"] - observed)
    return FamilyPrediction(
        family=family,
        target=target,
        table=table,
        family_compute=fam_fit,
        capabilities=caps,
        link=link,
        level=level,
        bounds=ranges,
    )


def _resample_family(own: pd.Index, known: pd.DataFrame, rng: np.random.Generator) -> pd.Index:
    """Resample the family's own models, redrawing resamples that lose its compute spread (at most 50 tries)."""
    for _ in range(50):
        rows = own[rng.integers(0, len(own), len(own))]
        if known.loc[rows, "flops"].nunique() > 1 or len(set(known.loc[own, "flops"])) < 2:
            return rows
    return own


def _direct_family_fit(
    known: pd.DataFrame, family: str, metrics: Sequence[str], flops: np.ndarray, shared_slope: bool
) -> np.ndarray:
    """Baseline without capabilities: each metric regressed on log10 compute like the factors are."""
    out = np.full((len(flops), len(metrics)), np.nan)
    for j, metric in enumerate(metrics):
        y = known[metric].to_numpy(dtype=float)
        c = known["flops"].to_numpy(dtype=float)
        ok = np.isfinite(y) & np.isfinite(c)
        fams = known["model_family"].to_numpy()[ok]
        if family not in set(fams):
            continue
        try:
            fit = fit_family_compute(y[ok], c[ok], fams, shared_slope=shared_slope)
            out[:, j] = fit.predict(family, flops)[:, 0]
        except DataError:  # the family lacks the data for this metric
            continue
    return out


def _align_signs(caps: Capabilities, reference: Capabilities | None) -> Capabilities:
    """Flip components whose loadings point away from ``reference``'s (bootstrap replicates)."""
    if reference is None:
        return caps
    flip = np.where(np.sum(caps.loadings * reference.loadings, axis=1) < 0, -1.0, 1.0)
    if np.all(flip > 0):
        return caps
    return replace(caps, loadings=caps.loadings * flip[:, None], scores=caps.scores * flip)


def _metrics(caps: Capabilities, link: Link | None, s: np.ndarray) -> np.ndarray:
    out = caps.reconstruct(s).to_numpy()
    if link is not None:
        out = np.c_[out, link.predict(s)]
    return out


def _add_prediction(
    table: pd.DataFrame,
    prefix: str,
    pred: np.ndarray,
    reps: list[np.ndarray],
    observed: np.ndarray,
    level: float,
    limits: tuple[np.ndarray, np.ndarray],
) -> None:
    """Prediction, percentile interval (both clipped to the per-row ``limits``), error and coverage columns."""
    if len(reps) < 10:
        raise FitError(f"only {len(reps)} bootstrap replicates succeeded; increase n_boot (at least 10 needed)")
    stack = np.vstack(reps)
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(stack, alpha, axis=0), np.quantile(stack, 1.0 - alpha, axis=0)
    pred, low, high = (np.clip(v, *limits) for v in (pred, low, high))
    table[f"{prefix}predicted"] = pred
    table[f"{prefix}low"] = low
    table[f"{prefix}high"] = high
    table[f"{prefix}abs_error"] = np.abs(pred - observed)
    covered = (observed >= low) & (observed <= high)
    table[f"{prefix}covered"] = np.where(np.isfinite(observed), covered, np.nan)


# ---------------------------------------------------------------------------------------------- helpers


def _metric_bounds(
    bounds: Bounds, metrics: Sequence[str], known: pd.DataFrame
) -> dict[str, tuple[float, float] | None]:
    """Range of each metric (``None``: unbounded) from ``bounds``; ``"auto"`` reads [0, 1] off the known scores."""

    def auto(metric: str) -> tuple[float, float] | None:
        seen = pd.to_numeric(known[metric], errors="coerce").to_numpy(dtype=float)
        seen = seen[np.isfinite(seen)]
        return (0.0, 1.0) if seen.size and seen.min() >= 0.0 and seen.max() <= 1.0 else None

    if bounds is None:
        return dict.fromkeys(metrics)
    if isinstance(bounds, str):
        if bounds != "auto":
            raise DataError(
                f"bounds must be 'auto', None, (low, high) or a mapping metric -> (low, high), not {bounds!r}"
            )
        return {m: auto(m) for m in metrics}
    if isinstance(bounds, Mapping):
        unknown = sorted(set(bounds) - set(metrics))
        if unknown:
            raise DataError(
                f"bounds name {', '.join(map(repr, unknown))}, which are not predicted ({', '.join(metrics)})"
            )
        return {m: _range(bounds[m], m) if m in bounds else auto(m) for m in metrics}
    return dict.fromkeys(metrics, _range(bounds, "bounds"))


def _range(value: Any, what: str) -> tuple[float, float] | None:
    if value is None:
        return None
    try:
        low, high = (float(v) for v in value)
    except (TypeError, ValueError):
        raise DataError(f"the range of {what} must be (low, high), got {value!r}") from None
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise DataError(f"the range of {what} must be finite with low < high, got {value!r}")
    return low, high


def _row_limits(
    ranges: Mapping[str, tuple[float, float] | None], metrics: Sequence[str], n_models: int
) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper clip limits per table row (model-major, one row per metric), ±inf where unbounded."""
    low = np.array([-np.inf if ranges[m] is None else ranges[m][0] for m in metrics])
    high = np.array([np.inf if ranges[m] is None else ranges[m][1] for m in metrics])
    return np.tile(low, n_models), np.tile(high, n_models)


def _model_frame(frame: pd.DataFrame, columns: Sequence[str], need_flops: bool) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"expected a DataFrame of models, got {type(frame).__name__}")
    need = ["model", "flops", *columns]
    absent = [c for c in dict.fromkeys(need) if c not in frame.columns]
    if absent:
        raise DataError(
            f"the model table has no column(s) {', '.join(map(repr, absent))}; "
            f"available: {', '.join(map(str, frame.columns))}"
        )
    data = frame.copy()
    data["flops"] = pd.to_numeric(data["flops"], errors="coerce")
    if need_flops:
        data = data[np.isfinite(data["flops"].to_numpy(dtype=float))]
    bad = data.index[(data["flops"] <= 0).to_numpy()]
    if len(bad):
        raise DataError(f"column 'flops' has non-positive values for models {data.loc[bad, 'model'].tolist()[:5]}")
    return data
