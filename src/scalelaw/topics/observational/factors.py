"""Capability factors of public models (PCA of their benchmark scores), their linear trend in log-compute
within a family, and the sigmoid link from factors to a downstream metric (Ruan et al. 2024)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import least_squares

from scalelaw._result import Result, jsonable
from scalelaw.errors import ConvergenceWarning, DataError, FitError

__all__ = [
    "DEFAULT_BENCHMARKS",
    "Capabilities",
    "FamilyCompute",
    "Link",
    "capabilities",
    "equivalent_flops",
    "fit_family_compute",
    "fit_link",
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

# ---------------------------------------------------------------------------------------------- PCA


@dataclass(frozen=True)
class Capabilities(Result):
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

    def to_frame(self) -> pd.DataFrame:
        """One row per component: its share of the variance and its loadings (:meth:`loadings_frame` as columns).

        Returns
        -------
        pandas.DataFrame
            Columns ``component``, ``explained_variance_ratio``, then one per benchmark; the models' capability
            vectors are :attr:`scores`.
        """
        out = self.loadings_frame().reset_index(drop=True)
        out.insert(0, "explained_variance_ratio", self.explained_variance_ratio)
        out.insert(0, "component", self.component_names)
        return out

    def to_dict(self) -> dict[str, Any]:
        """Benchmarks, centre and scale, loadings, variance shares, imputation counts and every model's scores."""
        return jsonable(
            {
                "benchmarks": self.benchmarks,
                "mean": self.mean,
                "scale": self.scale,
                "loadings": self.loadings,
                "explained_variance_ratio": self.explained_variance_ratio,
                "n_missing": self.n_missing,
                "n_iter": self.n_iter,
                "scores": {
                    str(model): row for model, row in zip(self.scores.index, self.scores.to_numpy(), strict=True)
                },
            }
        )

    def summary(self) -> str:
        """How much variance the factors hold, then each factor's largest loadings."""
        share = float(np.sum(self.explained_variance_ratio))
        lines = [
            f"{self.n_components} capability factors of {len(self.benchmarks)} benchmarks over {len(self.scores)} "
            f"models hold {share:.1%} of the variance ({self.n_missing} missing scores imputed)"
        ]
        for name, ratio, row in zip(self.component_names, self.explained_variance_ratio, self.loadings, strict=True):
            top = np.argsort(-np.abs(row))[:3]
            lines.append(f"{name} ({ratio:.1%}): " + ", ".join(f"{self.benchmarks[j]} {row[j]:+.2f}" for j in top))
        return "\n".join(lines)

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
class FamilyCompute(Result):
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

    def to_frame(self) -> pd.DataFrame:
        """One row per family: ``family, n_models``, then ``slope_PC<k>`` and ``intercept_PC<k>`` per factor.

        Returns
        -------
        pandas.DataFrame
        """
        out = pd.DataFrame({"family": list(self.families), "n_models": self.n_models})
        for k in range(self.slope.shape[1]):
            out[f"slope_PC{k + 1}"] = self.slope[:, k]
            out[f"intercept_PC{k + 1}"] = self.intercept[:, k]
        return out

    def to_dict(self) -> dict[str, Any]:
        """Families, slopes, intercepts, model counts, residual sd per factor and whether the slope is shared."""
        return jsonable(
            {
                "families": self.families,
                "slope": self.slope,
                "intercept": self.intercept,
                "n_models": self.n_models,
                "residual_sd": self.residual_sd,
                "shared_slope": self.shared_slope,
            }
        )

    def summary(self) -> str:
        """The fit on one line, then the residual sd per factor."""
        shared = "one shared slope" if self.shared_slope else "a slope per family"
        return (
            f"capabilities on log10 FLOPs for {len(self.families)} families ({int(np.sum(self.n_models))} models), "
            f"{shared}\nresidual sd per factor: " + ", ".join(f"{v:.3g}" for v in self.residual_sd)
        )


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
class Link(Result):
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

    def to_frame(self) -> pd.DataFrame:
        """One row per parameter (``weight_1``, ..., ``bias``, ``floor``, ``ceiling``): ``parameter, value, at_bound``.

        Returns
        -------
        pandas.DataFrame
        """
        names = [*(f"weight_{k + 1}" for k in range(len(self.weights))), "bias", "floor", "ceiling"]
        values = [*np.asarray(self.weights, dtype=np.float64), self.bias, self.floor, self.ceiling]
        return pd.DataFrame({"parameter": names, "value": values, "at_bound": [n in self.at_bound for n in names]})

    def to_dict(self) -> dict[str, Any]:
        """Every field."""
        return jsonable(
            {
                "weights": self.weights,
                "bias": self.bias,
                "floor": self.floor,
                "ceiling": self.ceiling,
                "rmse": self.rmse,
                "n_models": self.n_models,
                "at_bound": self.at_bound,
            }
        )

    def summary(self) -> str:
        """The link's range and fit, then any parameter on a bound."""
        text = (
            f"sigmoid link on {len(self.weights)} predictor(s) from {self.floor:.3g} to {self.ceiling:.3g}, "
            f"rmse {self.rmse:.3g} over {self.n_models} models"
        )
        return text + (f"\non a bound: {', '.join(self.at_bound)}" if self.at_bound else "")


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


# ---------------------------------------------------------------------------------------------- helpers


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


def _as_2d(values: Any, name: str, n_cols: int | None = None) -> np.ndarray:
    arr = np.asarray(values.to_numpy() if isinstance(values, pd.DataFrame | pd.Series) else values, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None] if n_cols in (None, 1) or len(arr) != n_cols else arr[None, :]
    if arr.ndim != 2 or (n_cols is not None and arr.shape[1] != n_cols):
        raise DataError(f"{name} must have shape (n_models, {n_cols or 'k'}), got {arr.shape}")
    return arr


def _list_of_str(values: Any) -> list[str]:
    return [str(v) for v in (values.tolist() if hasattr(values, "tolist") else list(values))]
