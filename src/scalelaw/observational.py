"""Observational scaling: capability factors of public models and predictions from them.

After Ruan, Maddison & Hashimoto 2024, *Observational Scaling Laws and the Predictability of Language
Model Performance* (NeurIPS 2024, arXiv:2405.10938, repo ``ryoungj/ObsScaling``). Instead of training a
ladder, use the benchmark scores of many public models:

1. **Capabilities.** PCA of the model × benchmark score matrix (standardized, missing cells imputed by
   iterating a low-rank reconstruction) gives a low-dimensional capability vector ``S_m`` per model.
2. **Compute.** Within a model family ``f`` capabilities are linear in log-compute,
   ``S_m ≈ θ_f · log10 C_m + ν_f`` (:func:`fit_family_compute`).
3. **Link.** A downstream metric follows a sigmoid of a linear function of the capabilities,
   ``Y ≈ floor + (ceiling − floor) · σ(βᵀS + α)`` (:func:`fit_link`; the paper's default
   ``sigmoid-parametric`` fixes ceiling = 1 and fits floor in [0, 0.2]).

:func:`holdout_by_flops` is the paper's default backtest (train on models ≤ 8.4e22 FLOPs, predict the
larger ones from their other benchmarks); :func:`predict_family` predicts the largest models of a family
from compute alone; :func:`equivalent_flops` expresses a capability as the compute a reference family
would need to reach it.

>>> from scalelaw import datasets
>>> caps = capabilities(datasets.load("ruan2024"), n_components=3)
>>> caps.scores.shape
(148, 3)
>>> bool(caps.explained_variance_ratio.sum() > 0.8)
True
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import least_squares

from scalelaw._validation import check_level
from scalelaw.errors import ConvergenceWarning, DataError, FitError

__all__ = [
    "DEFAULT_BENCHMARKS",
    "PAPER_CUTOFF_FLOPS",
    "Capabilities",
    "FamilyCompute",
    "FamilyPrediction",
    "Link",
    "ObservationalBacktest",
    "capabilities",
    "equivalent_flops",
    "fit_family_compute",
    "fit_link",
    "holdout_by_flops",
    "predict_family",
]

#: The repo README's default PCA metrics (ObsScaling README, "Minimal Code for Fitting Scaling Laws").
DEFAULT_BENCHMARKS: tuple[str, ...] = (
    "mmlu",
    "arc_c",
    "hellaswag",
    "winograd",
    "truthfulqa",
    "gsm8k",
    "xwinograd",
    "humaneval",
)
#: Range of a bounded metric for clipping: "auto", None, one (low, high), or per metric (see predict_family).
Bounds = str | tuple[float, float] | Mapping[str, tuple[float, float] | None] | None

#: The README's default split: ``cutoff_by_FLOPs (1E21)`` at 84, i.e. Llama-2-7B's 8.4e22 FLOPs.
PAPER_CUTOFF_FLOPS = 8.4e22


# ---------------------------------------------------------------------------------------------- PCA


@dataclass(frozen=True)
class Capabilities:
    """Principal capability factors of a model × benchmark score matrix.

    Attributes
    ----------
    benchmarks : tuple of str
        Score columns used, in order.
    mean, scale : numpy.ndarray
        Per-benchmark centre and scale (standard deviation of the observed scores; ones when not
        standardized) in the scores' own units: ``z = (score − mean) / scale``.
    loadings : numpy.ndarray
        Shape (n_components, n_benchmarks), orthonormal rows; each row's signs are chosen so that its
        loadings sum to a positive number (higher scores → higher capability).
    explained_variance_ratio : numpy.ndarray
        Share of the total variance of the completed (imputed) standardized matrix per component.
    scores : pandas.DataFrame
        Capability vector per model (columns ``PC1``…), indexed by model.
    completed : pandas.DataFrame
        The score matrix with missing cells imputed, in the scores' own units.
    n_missing, n_iter : int
        Imputed cells and imputation iterations.
    """

    benchmarks: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    loadings: np.ndarray
    explained_variance_ratio: np.ndarray
    scores: pd.DataFrame = field(repr=False)
    completed: pd.DataFrame = field(repr=False)
    n_missing: int = 0
    n_iter: int = 0

    @property
    def n_components(self) -> int:
        return self.loadings.shape[0]

    @property
    def component_names(self) -> list[str]:
        return [f"PC{i + 1}" for i in range(self.n_components)]

    def loadings_frame(self) -> pd.DataFrame:
        """Loadings as a table: one row per component, one column per benchmark."""
        return pd.DataFrame(self.loadings, index=self.component_names, columns=list(self.benchmarks))

    def transform(self, frame: pd.DataFrame, index: str = "model") -> pd.DataFrame:
        """Capability vectors of (new) models; missing scores are handled by least squares on the observed ones.

        This is the fixed point of iterating "fill missing cells with the reconstruction" with the loadings
        held fixed; for the fitted models it reproduces ``scores`` when ``impute_rank == n_components``.
        """
        z = (_score_matrix(frame, self.benchmarks) - self.mean) / self.scale
        labels = _labels(frame, index)
        out = np.empty((len(z), self.n_components))
        for i, row in enumerate(z):
            seen = np.isfinite(row)
            if seen.sum() < self.n_components:
                raise DataError(
                    f"model {labels[i]!r} has {seen.sum()} of {len(self.benchmarks)} benchmark scores; "
                    f"{self.n_components} capability factors need at least {self.n_components}"
                )
            out[i] = np.linalg.lstsq(self.loadings[:, seen].T, row[seen], rcond=None)[0]
        return pd.DataFrame(out, index=labels, columns=self.component_names)

    def reconstruct(self, capability_scores: Any) -> pd.DataFrame:
        """Benchmark scores (own units) implied by capability vectors: ``mean + scale · (S @ loadings)``."""
        s = _as_2d(capability_scores, "capability_scores", self.n_components)
        index = capability_scores.index if isinstance(capability_scores, pd.DataFrame) else None
        values = self.mean + self.scale * (s @ self.loadings)
        return pd.DataFrame(values, columns=list(self.benchmarks), index=index)


def capabilities(
    scores: pd.DataFrame,
    benchmarks: Sequence[str] = DEFAULT_BENCHMARKS,
    n_components: int = 3,
    *,
    standardize: bool = True,
    impute_rank: int = 1,
    index: str = "model",
    max_iter: int = 2000,
    tol: float = 1e-6,
) -> Capabilities:
    """PCA of benchmark scores with iterative low-rank imputation of missing cells.

    Missing cells start at the column mean (in standardized units) and are replaced, until they stop
    moving, by the rank-``impute_rank`` SVD reconstruction of the centred matrix (the "PCA imputation" of
    the ObsScaling repo). The components are then the top right singular vectors of the completed matrix.

    Parameters
    ----------
    scores : pandas.DataFrame
        One row per model; the ``benchmarks`` columns hold scores (NaN = not evaluated).
    benchmarks : sequence of str
        Columns to factor (default: the paper's 8 standard benchmarks).
    n_components : int
        Number of capability factors kept.
    standardize : bool
        Divide each benchmark by its standard deviation first (the paper's PCA step works on raw
        accuracies; its imputation step standardizes). Variance shares depend on this choice.
    impute_rank : int
        Rank of the imputation model. 1 (the repo's default, ``imputation_kwargs={'n_components': 1}``)
        converges in tens of iterations; higher ranks fit the missing cells more flexibly but converge
        slowly on the real data (thousands of iterations at rank 3).
    index : str
        Column naming the models (used as the index of ``scores``); the frame index when absent.
    max_iter, tol : int, float
        Imputation stops when no imputed cell moves by more than ``tol`` (standardized units).

    Returns
    -------
    Capabilities

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> latent = rng.normal(size=(40, 2))
    >>> table = pd.DataFrame(latent @ rng.normal(size=(2, 5)), columns=list("abcde"))
    >>> caps = capabilities(table, benchmarks=list("abcde"), n_components=2)
    >>> round(float(caps.explained_variance_ratio.sum()), 6)
    1.0
    """
    bench = _benchmark_list(benchmarks)
    x = _score_matrix(scores, bench)
    labels = _labels(scores, index)
    rank = int(impute_rank)
    n, p = x.shape
    if not 1 <= n_components <= min(n - 1, p):
        raise DataError(f"n_components must be between 1 and min(models - 1, benchmarks) = {min(n - 1, p)}")
    if not 1 <= rank <= min(n - 1, p):
        raise DataError(f"impute_rank must be between 1 and {min(n - 1, p)}, got {rank}")
    seen = np.isfinite(x)
    empty_rows = np.flatnonzero(~seen.any(axis=1))
    if len(empty_rows):
        raise DataError(
            f"{len(empty_rows)} model(s) have no score on any of {', '.join(bench)} "
            f"(e.g. {labels[empty_rows[0]]!r}); drop them before extracting capabilities"
        )
    counts = seen.sum(axis=0)
    sparse_cols = [b for b, c in zip(bench, counts, strict=True) if c < 2]
    if sparse_cols:
        raise DataError(f"benchmark column(s) {', '.join(sparse_cols)} have fewer than 2 scores; drop them")
    mean = np.nanmean(x, axis=0)
    scale = np.nanstd(x, axis=0) if standardize else np.ones(p)
    flat = [b for b, s in zip(bench, scale, strict=True) if not s > 0]
    if flat:
        raise DataError(f"benchmark column(s) {', '.join(flat)} are constant; they carry no capability signal")
    z = np.where(seen, (x - mean) / scale, 0.0)
    missing = ~seen
    n_iter = 0
    if missing.any():
        for n_iter in range(1, max_iter + 1):  # noqa: B007 - n_iter is reported
            centre = z.mean(axis=0)
            u, s, vt = np.linalg.svd(z - centre, full_matrices=False)
            recon = centre + (u[:, :rank] * s[:rank]) @ vt[:rank]
            step = np.max(np.abs(recon[missing] - z[missing]))
            z[missing] = recon[missing]
            if step < tol:
                break
        else:
            warnings.warn(
                f"PCA imputation did not converge in {max_iter} iterations (last change {step:.2e}); "
                "the imputed cells may be inaccurate",
                ConvergenceWarning,
                stacklevel=2,
            )
    centre = z.mean(axis=0)
    _, s, vt = np.linalg.svd(z - centre, full_matrices=False)
    loadings = vt[:n_components] * np.sign(vt[:n_components].sum(axis=1, keepdims=True) + 1e-300)
    share = s**2 / np.sum(s**2)
    pcs = (z - centre) @ loadings.T
    names = [f"PC{i + 1}" for i in range(n_components)]
    return Capabilities(
        benchmarks=tuple(bench),
        mean=mean + scale * centre,
        scale=scale,
        loadings=loadings,
        explained_variance_ratio=share[:n_components],
        scores=pd.DataFrame(pcs, index=labels, columns=names),
        completed=pd.DataFrame(mean + scale * z, index=labels, columns=bench),
        n_missing=int(missing.sum()),
        n_iter=n_iter,
    )


# ---------------------------------------------------------------------------------------------- compute


@dataclass(frozen=True)
class FamilyCompute:
    """Per-family linear fits ``S ≈ slope_f · log10(flops) + intercept_f`` (one column per factor).

    Attributes
    ----------
    families : tuple of str
    slope, intercept : numpy.ndarray
        Shape (n_families, n_components); with ``shared_slope`` every row of ``slope`` is the same.
    n_models : numpy.ndarray
        Models per family used in the fit.
    residual_sd : numpy.ndarray
        Root-mean-square residual per factor over all fitted models.
    shared_slope : bool
    """

    families: tuple[str, ...]
    slope: np.ndarray
    intercept: np.ndarray
    n_models: np.ndarray
    residual_sd: np.ndarray
    shared_slope: bool

    def predict(self, family: str | Sequence[str], flops: Any) -> np.ndarray:
        """Capability vectors, shape (n, n_components), of models of ``family`` at ``flops``."""
        c = np.atleast_1d(np.asarray(flops, dtype=np.float64))
        fams = [family] * len(c) if isinstance(family, str) else _list_of_str(family)
        if len(fams) != len(c):
            raise DataError(f"got {len(fams)} families for {len(c)} compute values")
        if not np.all(np.isfinite(c) & (c > 0)):
            raise DataError("flops must be finite and > 0")
        unknown = sorted(set(fams) - set(self.families))
        if unknown:
            raise DataError(
                f"no compute fit for family {unknown[0]!r}; fitted families: {', '.join(self.families)} "
                "(a family needs 2 models at distinct compute, or 1 with shared_slope=True)"
            )
        rows = np.array([self.families.index(f) for f in fams])
        return self.slope[rows] * np.log10(c)[:, None] + self.intercept[rows]


def fit_family_compute(
    capability_scores: Any,
    flops: Any,
    family: Any,
    *,
    shared_slope: bool = False,
) -> FamilyCompute:
    """Fit capabilities against log10 compute within each family.

    Parameters
    ----------
    capability_scores : array-like, shape (n_models, n_components)
        For example ``Capabilities.scores``.
    flops : array-like
        Training compute of each model (FLOPs > 0).
    family : array-like of str
        Family label of each model.
    shared_slope : bool
        One slope θ for all families (estimated from within-family variation) and one intercept per
        family, which then needs only one model. Otherwise each family gets its own θ_f and needs two
        models at distinct compute; families that cannot be fitted are left out.

    Examples
    --------
    >>> logc = np.array([21.0, 22.0, 23.0, 21.5, 22.5])
    >>> s = np.c_[0.5 * logc - 10 + np.array([0, 0, 0, 1, 1])]
    >>> fit = fit_family_compute(s, 10**logc, ["a", "a", "a", "b", "b"], shared_slope=True)
    >>> np.round(fit.slope[:, 0], 6).tolist(), np.round(fit.intercept[:, 0], 6).tolist()
    ([0.5, 0.5], [-10.0, -9.0])
    """
    s = _as_2d(capability_scores, "capability_scores")
    c = np.asarray(flops, dtype=np.float64).ravel()
    fam = np.asarray(_list_of_str(family), dtype=object)
    if not len(s) == len(c) == len(fam):
        raise DataError(f"capability_scores ({len(s)}), flops ({len(c)}) and family ({len(fam)}) lengths differ")
    bad = np.flatnonzero(~(np.isfinite(c) & (c > 0)))
    if len(bad):
        raise DataError(f"flops has {len(bad)} missing or non-positive value(s) (rows {bad[:5].tolist()}); drop them")
    if not np.all(np.isfinite(s)):
        raise DataError("capability_scores has missing values")
    x = np.log10(c)
    names = sorted(set(fam.tolist()))
    groups = {f: np.flatnonzero(fam == f) for f in names}
    spread = {f: np.ptp(x[i]) > 1e-9 for f, i in groups.items()}
    if shared_slope:
        dx = np.concatenate([x[i] - x[i].mean() for i in groups.values()])
        ds = np.concatenate([s[i] - s[i].mean(axis=0) for i in groups.values()])
        if not np.sum(dx**2) > 0:
            raise DataError("no family has two models at different compute; a shared slope needs at least one")
        theta = dx @ ds / np.sum(dx**2)
        keep = names
        slope = np.tile(theta, (len(keep), 1))
        intercept = np.array([s[groups[f]].mean(axis=0) - theta * x[groups[f]].mean() for f in keep])
    else:
        keep = [f for f in names if spread[f]]
        if not keep:
            raise DataError("no family has two models at different compute; use shared_slope=True or more models")
        slope, intercept = [], []
        for f in keep:
            i = groups[f]
            dx = x[i] - x[i].mean()
            th = dx @ (s[i] - s[i].mean(axis=0)) / np.sum(dx**2)
            slope.append(th)
            intercept.append(s[i].mean(axis=0) - th * x[i].mean())
        slope, intercept = np.array(slope), np.array(intercept)
    used = np.concatenate([groups[f] for f in keep])
    rows = np.array([keep.index(f) for f in fam[used]])
    resid = s[used] - (slope[rows] * x[used, None] + intercept[rows])
    return FamilyCompute(
        families=tuple(keep),
        slope=slope,
        intercept=intercept,
        n_models=np.array([len(groups[f]) for f in keep]),
        residual_sd=np.sqrt(np.mean(resid**2, axis=0)),
        shared_slope=shared_slope,
    )


def equivalent_flops(capability_scores: Any, reference_scores: Any, reference_flops: Any, weights: Any = None) -> Any:
    """Compute a reference family would need to reach each capability level.

    The aggregate ``a = wᵀS`` (``w`` = the link's weights, or PC1 when ``None``) is regressed on
    log10 compute within the reference family (ordinary least squares) and the line inverted:
    ``log10 C_equiv = (a − b) / slope``. The repo plots its predictions against this axis.

    Examples
    --------
    >>> ref = np.array([[1.0], [2.0], [3.0]])
    >>> equivalent_flops(np.array([[2.5]]), ref, [1e21, 1e22, 1e23]).round(-20).tolist()
    [3.16e+22]
    """
    s = _as_2d(capability_scores, "capability_scores")
    r = _as_2d(reference_scores, "reference_scores", s.shape[1])
    c = np.asarray(reference_flops, dtype=np.float64).ravel()
    if len(c) != len(r) or len(c) < 2 or not np.all(np.isfinite(c) & (c > 0)):
        raise DataError("reference_flops needs one finite value > 0 per reference model, and at least 2 models")
    w = np.eye(s.shape[1])[0] if weights is None else np.asarray(weights, dtype=np.float64).ravel()
    a_ref, x = r @ w, np.log10(c)
    slope, intercept = np.polyfit(x, a_ref, 1)
    if not abs(slope) > 1e-12:
        raise DataError("the reference family's capability does not change with compute; pick another reference")
    return 10.0 ** ((s @ w - intercept) / slope)


# ---------------------------------------------------------------------------------------------- link


@dataclass(frozen=True)
class Link:
    """Sigmoid link ``Y = floor + (ceiling − floor) · σ(weightsᵀS + bias)``.

    Attributes
    ----------
    weights : numpy.ndarray
        β, one per capability factor (or per predictor column).
    bias : float
        α.
    floor, ceiling : float
        Fitted or fixed asymptotes of the metric.
    rmse : float
        Root-mean-square residual on the fitted models.
    n_models : int
    at_bound : tuple of str
        Parameters that ended on a bound (e.g. ``"floor"``); reported, not an error.
    """

    weights: np.ndarray
    bias: float
    floor: float
    ceiling: float
    rmse: float
    n_models: int
    at_bound: tuple[str, ...] = ()

    def aggregate(self, capability_scores: Any) -> np.ndarray:
        """The linear predictor ``βᵀS + α`` (the link's logit)."""
        return _as_2d(capability_scores, "capability_scores", len(self.weights)) @ self.weights + self.bias

    def predict(self, capability_scores: Any) -> np.ndarray:
        """Predicted metric for each row of ``capability_scores``."""
        return self.floor + (self.ceiling - self.floor) * _sigmoid(self.aggregate(capability_scores))


def fit_link(
    capability_scores: Any,
    y: Any,
    *,
    floor: float | tuple[float, float] = (0.0, 0.2),
    ceiling: float | tuple[float, float] = 1.0,
    max_slope: float = 30.0,
    start: Link | None = None,
) -> Link:
    """Least-squares fit of a sigmoid of a linear function of capabilities.

    Parameters
    ----------
    capability_scores : array-like, shape (n_models, k)
        Predictors (capability factors, or e.g. log10 FLOPs as one column for a compute-only baseline).
    y : array-like
        Observed metric (e.g. accuracy in [0, 1]).
    floor, ceiling : float or (low, high)
        A number fixes the asymptote; a pair fits it within those bounds. The defaults are the repo's
        ``sigmoid-parametric`` setting (``sigmoid_param_fix_height=True``: ceiling 1, floor in [0, 0.2]).
    max_slope : float
        Bound on ``|β_j| · sd(S_j)``: a sigmoid steeper than this over one standard deviation is a step,
        which the data cannot pin down; the bound keeps the problem well-posed.
    start : Link, optional
        Start from this fit only (bootstrap refits), instead of the logit-regression starts.

    Examples
    --------
    >>> s = np.linspace(-3, 3, 30)[:, None]
    >>> link = fit_link(s, 0.1 + 0.9 / (1 + np.exp(-(1.5 * s[:, 0] - 0.5))))
    >>> round(link.floor, 4), round(float(link.weights[0]), 4), round(link.bias, 4)
    (0.1, 1.5, -0.5)
    """
    s = _as_2d(capability_scores, "capability_scores")
    t = np.asarray(y, dtype=np.float64).ravel()
    if len(t) != len(s):
        raise DataError(f"y has {len(t)} values for {len(s)} rows of capability_scores")
    bad = np.flatnonzero(~np.isfinite(t))
    if len(bad) or not np.all(np.isfinite(s)):
        raise DataError(f"y or capability_scores has missing/non-finite values (y rows {bad[:5].tolist()}); drop them")
    f_lo, f_hi, f_free = _bound_pair(floor, "floor")
    c_lo, c_hi, c_free = _bound_pair(ceiling, "ceiling")
    if not f_hi < c_lo:
        raise DataError(f"floor bound {f_hi} must be below ceiling bound {c_lo}")
    k = s.shape[1]
    n_par = 1 + k + f_free + c_free
    if len(t) < n_par + 1:
        raise DataError(f"fit_link needs more than {n_par} models for {n_par} parameters, got {len(t)}")
    sd = s.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    beta_max = max_slope / sd
    alpha_max = max_slope * (1.0 + np.abs(s / sd).max()) * k

    def unpack(p: np.ndarray) -> tuple[np.ndarray, float, float, float]:
        fl = p[1 + k] if f_free else f_lo
        ce = p[1 + k + f_free] if c_free else c_lo
        return p[1 : 1 + k], p[0], fl, ce

    def residual(p: np.ndarray) -> np.ndarray:
        beta, alpha, fl, ce = unpack(p)
        return fl + (ce - fl) * _sigmoid(s @ beta + alpha) - t

    def jacobian(p: np.ndarray) -> np.ndarray:
        beta, alpha, fl, ce = unpack(p)
        sig = _sigmoid(s @ beta + alpha)
        g = (ce - fl) * sig * (1.0 - sig)
        cols = [g[:, None], g[:, None] * s]
        if f_free:
            cols.append((1.0 - sig)[:, None])
        if c_free:
            cols.append(sig[:, None])
        return np.hstack(cols)

    lower = np.r_[-alpha_max, -beta_max, [f_lo] * f_free, [c_lo] * c_free]
    upper = np.r_[alpha_max, beta_max, [f_hi] * f_free, [c_hi] * c_free]
    best = None
    if start is not None and len(start.weights) == k:
        starts = [np.r_[start.bias, start.weights, [start.floor] * f_free, [start.ceiling] * c_free]]
    else:
        starts = _link_starts(s, t, f_lo, f_hi, c_lo, c_hi, f_free, c_free)
    for p0 in starts:
        p0 = np.clip(p0, lower + 1e-9 * (upper - lower), upper - 1e-9 * (upper - lower))
        sol = least_squares(residual, p0, jac=jacobian, bounds=(lower, upper), method="trf", x_scale="jac")
        if best is None or sol.cost < best.cost:
            best = sol
    assert best is not None
    if not np.all(np.isfinite(best.x)):
        raise FitError("the sigmoid link fit failed (non-finite parameters); check the data's range")
    beta, alpha, fl, ce = unpack(best.x)
    names = ["bias", *[f"weights[{j}]" for j in range(k)], *["floor"] * f_free, *["ceiling"] * c_free]
    width = upper - lower
    hit = [n for n, v, lo, hi in zip(names, best.x, lower, upper, strict=True) if min(v - lo, hi - v) < 1e-6 * width[0]]
    return Link(
        weights=np.asarray(beta, dtype=np.float64).copy(),
        bias=float(alpha),
        floor=float(fl),
        ceiling=float(ce),
        rmse=float(np.sqrt(np.mean(best.fun**2))),
        n_models=len(t),
        at_bound=tuple(hit),
    )


def _link_starts(s, t, f_lo, f_hi, c_lo, c_hi, f_free, c_free) -> list[np.ndarray]:
    """Starts from a linear fit of the empirical logit, for a few floor values."""
    starts = []
    ce = c_hi if c_free else c_lo
    floors = np.unique([f_lo, 0.5 * (f_lo + f_hi), f_hi]) if f_free else [f_lo]
    design = np.c_[np.ones(len(s)), s]
    for fl in floors:
        frac = np.clip((t - fl) / (ce - fl), 0.02, 0.98)
        coef = np.linalg.lstsq(design, np.log(frac / (1 - frac)), rcond=None)[0]
        starts.append(np.r_[coef, [fl] * f_free, [ce] * c_free])
    return starts


def _bound_pair(value: float | tuple[float, float], name: str) -> tuple[float, float, int]:
    if np.ndim(value) == 0:
        v = float(value)  # type: ignore[arg-type]
        if not np.isfinite(v):
            raise DataError(f"{name} must be finite, got {value}")
        return v, v, 0
    lo, hi = (float(v) for v in value)  # type: ignore[union-attr]
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise DataError(f"{name} bounds must be finite with low < high, got {value}")
    return lo, hi, 1


# ---------------------------------------------------------------------------------------------- backtests


class _Errors:
    """Mean absolute error of the PCA route and of the log-compute baseline over a result's ``table``."""

    table: pd.DataFrame

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

    def summary(self) -> dict[str, float | int | str]:
        """Headline numbers as a JSON-able dict."""
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


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # overflow-free logistic


def _benchmark_list(benchmarks: Sequence[str]) -> list[str]:
    bench = [benchmarks] if isinstance(benchmarks, str) else [str(b) for b in benchmarks]
    if not bench or len(set(bench)) != len(bench):
        raise DataError(f"benchmarks must be a non-empty list of distinct column names, got {benchmarks!r}")
    return bench


def _score_matrix(frame: pd.DataFrame, benchmarks: Sequence[str]) -> np.ndarray:
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"scores must be a pandas DataFrame with one row per model, got {type(frame).__name__}")
    absent = [b for b in benchmarks if b not in frame.columns]
    if absent:
        raise DataError(
            f"no benchmark column(s) {', '.join(map(repr, absent))}; available: {', '.join(map(str, frame.columns))}"
        )
    try:
        x = frame[list(benchmarks)].apply(pd.to_numeric, errors="raise").to_numpy(dtype=np.float64)
    except (ValueError, TypeError) as exc:
        raise DataError(f"benchmark scores must be numbers (empty = missing): {exc}") from None
    if np.isinf(x).any():
        raise DataError("benchmark scores contain infinite values; use NaN (empty) for missing scores")
    return x


def _labels(frame: pd.DataFrame, index: str) -> list[str]:
    if index in frame.columns:
        return frame[index].astype(str).tolist()
    return [str(i) for i in frame.index]


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


def _as_2d(values: Any, name: str, n_cols: int | None = None) -> np.ndarray:
    arr = np.asarray(values.to_numpy() if isinstance(values, pd.DataFrame | pd.Series) else values, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None] if n_cols in (None, 1) or len(arr) != n_cols else arr[None, :]
    if arr.ndim != 2 or (n_cols is not None and arr.shape[1] != n_cols):
        raise DataError(f"{name} must have shape (n_models, {n_cols or 'k'}), got {arr.shape}")
    return arr


def _list_of_str(values: Any) -> list[str]:
    return [str(v) for v in (values.tolist() if hasattr(values, "tolist") else list(values))]
