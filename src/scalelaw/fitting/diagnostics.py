"""What the curvature at the optimum says: standard errors, correlations, identifiability; and the
linearization that experiment design and the misfit estimate build on.

Uses the Gauss-Newton information ``J^T J`` of the log residuals (unweighted, as for Gaussian noise on
log loss), scaled by the residual variance, with ``J`` in the optimizer's coordinates
(:meth:`Law.internal_jacobian <scalelaw.laws.law.Law.internal_jacobian>`). These are local, approximate
figures: bootstrap and profile intervals (:mod:`scalelaw.trust`) are the honest ones for extrapolation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from scalelaw.fitting.engine import Problem
from scalelaw.laws.law import Law

#: Beyond this condition number of the column-scaled information matrix, some direction in parameter
#: space is not determined by the data. Calibrated on power laws: 2 decades of data give ~1e5 to 1e6
#: (E off by 20%), 4 decades ~4e4; Chinchilla fits on real IsoFLOP data ~1e4.
MAX_CONDITION = 1e5
#: Parameters loading at least this much on the sloppiest direction are the ones that trade off.
SLOPPY_LOADING = 0.3
#: Pairs of those parameters correlating beyond this are named in warnings.
TRADEOFF_CORRELATION = 0.99
#: A fitted column whose log values span at most this (log units, i.e. a relative spread of y) has no
#: signal. Measured losses carry at most ~7 meaningful digits (their own evaluation noise is ~1e-4 or
#: more), float64 rounding sits near 1e-16: a spread below 1e-9 can only be a constant written
#: with rounding error, never a trend a law could describe.
NO_SIGNAL_SPREAD = 1e-9
#: A row is a gross outlier when its log residual lies beyond this many robust noise scales
#: (1.4826 * MAD) from the median residual ...
OUTLIER_SCALES = 8.0
#: ... and beyond this many log units (~8%). Under Gaussian noise an 8-sigma residual has probability
#: ~1e-15 per row: 1-2% lognormal noise on 240 points never reaches it (the threshold is then 0.08-0.16).
#: The floor keeps very clean ladders (0.1% noise) from flagging an ordinary few-percent wobble. A point
#: 15% off among 1% noise sits at 0.14 +- 0.01, well past 0.08 +- 0.005 (10 sigmas would put the
#: threshold at 0.10 +- 0.005 and miss ~1% of such points); a loss of 1e300 sits 689 log units off.
OUTLIER_FLOOR = 0.08


@dataclass(frozen=True)
class Curvature:
    std_errors: tuple[float, ...]  # natural units, NaN for parameters pinned at a bound
    correlations: tuple[tuple[float, ...], ...]
    condition_number: float
    tradeoffs: tuple[tuple[str, str, float], ...]
    sloppy: tuple[str, ...]  # parameters moving together along the least-determined direction
    residual_scale: float  # robust sd of log residuals (1.4826 * MAD)
    residuals: np.ndarray  # log prediction - log y at every row


def curvature(problem: Problem, z_best: np.ndarray, free: np.ndarray) -> Curvature:
    """Approximate standard errors and correlations at ``z_best`` (internal space).

    ``free`` marks parameters not pinned at a bound; pinned ones get NaN and no correlations.
    """
    return curvatures(problem.law, problem.X, problem.log_y[None, :], z_best[None, :], free[None, :])[0]


def curvatures(
    law: Law, X: Mapping[str, np.ndarray], log_y: np.ndarray, z: np.ndarray, free: np.ndarray
) -> list[Curvature]:
    """:func:`curvature` of many fits on the same rows at once: target ``t`` has log values ``log_y[t]``
    (shape ``(n_targets, n_rows)``), its optimum ``z[t]`` and free parameters ``free[t]``.

    The matrix work runs stacked over the targets that share their free parameters (NumPy's stacked linear
    algebra gives each matrix the numbers it gets alone).
    """
    theta = law.from_internal(z)
    log_pred, J3 = law.internal_jacobian(theta, X)
    return curvatures_at(law, theta, J3, log_pred - log_y, free)


def curvatures_at(law: Law, theta: np.ndarray, J3: np.ndarray, resid: np.ndarray, free: np.ndarray) -> list[Curvature]:
    """:func:`curvatures` from the Jacobians ``J3`` (internal space, ``(n_targets, n_params, n_rows)``, as
    :meth:`Law.internal_jacobian <scalelaw.laws.law.Law.internal_jacobian>` returns them) and log residuals
    ``resid`` ``(n_targets, n_rows)`` at ``theta`` (natural units)."""
    J = np.swapaxes(J3, 1, 2)  # (n_targets, n_rows, n_params), internal space
    T, n, p = J.shape
    mad = np.median(np.abs(resid - np.median(resid, axis=1)[:, None]), axis=1)
    names = law.param_names
    out: list[Curvature | None] = [None] * T
    for pattern in np.unique(free, axis=0):
        ts = np.flatnonzero((free == pattern).all(axis=1))
        idx = np.flatnonzero(pattern)
        n_free = idx.size
        Jf = J[ts][:, :, pattern]
        ok = np.isfinite(Jf).all(axis=(1, 2)) if n_free else np.zeros(ts.size, dtype=bool)
        # Every target's numbers at once (element by element, as one target at a time would get them); only the
        # conversion to Python objects runs per target.
        sigma2 = [float(resid[t] @ resid[t]) / max(n - n_free, 1) for t in ts]
        K = int(np.count_nonzero(ok))
        if K:
            norms = np.linalg.norm(Jf[ok], axis=1)
            norms = np.where(norms > 0, norms, 1.0)
            Js = Jf[ok] / norms[:, None, :]
            info = np.swapaxes(Js, 1, 2) @ Js
            eig, vec = np.linalg.eigh(info)
            pinv = np.linalg.pinv(info, rcond=1e-15, hermitian=True)
            s2 = np.array(sigma2)[ok]
            cov = pinv * s2[:, None, None] / (norms[:, :, None] * norms[:, None, :])
            sd_int = np.sqrt(np.clip(np.diagonal(cov, axis1=1, axis2=2), 0.0, None))
            with np.errstate(invalid="ignore", divide="ignore"):
                c = cov / (sd_int[:, :, None] * sd_int[:, None, :])
                conds = np.where(eig[:, 0] > 0, eig[:, -1] / eig[:, 0], np.inf).tolist()
            corr_ok = np.full((K, p, p), np.nan)
            corr_ok[:, idx[:, None], idx[None, :]] = c
            se_ok = np.full((K, p), np.nan)
            # Back to natural units: d theta = theta * d z for log-transformed parameters.
            se_ok[:, idx] = sd_int * np.abs(law.internal_scale(theta[ts[ok]])[:, idx])
            sloppy_ok = (np.abs(vec[:, :, 0]) >= SLOPPY_LOADING).tolist()
            # An amplitude and its exponent correlate strongly whenever the data sit far from x = 1 (a matter of
            # parameterization), so pairs are only reported; the condition number decides.
            pairs = [(a, b) for a in range(n_free) for b in range(a + 1, n_free)]
            strong = (np.abs(c) >= TRADEOFF_CORRELATION).tolist()
            c_list = c.tolist()
            se_list, corr_list = se_ok.tolist(), corr_ok.tolist()
        nan_se, nan_corr = (float("nan"),) * p, ((float("nan"),) * p,) * p
        k = 0
        for j, t in enumerate(ts):
            if ok[j]:
                tradeoffs = [(names[idx[a]], names[idx[b]], c_list[k][a][b]) for a, b in pairs if strong[k][a][b]]
                tradeoffs.sort(key=lambda tr: -abs(tr[2]))
                se, corr = tuple(se_list[k]), tuple(tuple(row) for row in corr_list[k])
                cond, sloppy = conds[k], tuple(names[idx[a]] for a in range(n_free) if sloppy_ok[k][a])
                k += 1
            else:
                se, corr, cond, tradeoffs, sloppy = nan_se, nan_corr, np.inf, [], ()
            out[t] = Curvature(
                std_errors=se,
                correlations=corr,
                condition_number=cond,
                tradeoffs=tuple(tradeoffs),
                sloppy=sloppy,
                residual_scale=1.4826 * float(mad[t]),
                residuals=resid[t],
            )
    return out  # type: ignore[return-value]


def gross_outliers(
    residuals: np.ndarray, used: np.ndarray | None = None, n_params: int = 0
) -> tuple[np.ndarray, float]:
    """Rows whose log residual is far beyond the robust noise scale of the others.

    Parameters
    ----------
    residuals : ndarray, shape (n_rows,)
        Log residuals at the best fit.
    used : ndarray of bool, optional
        Rows the fit used (positive weight); others are never flagged and do not set the scale.
    n_params : int
        Parameters of the fitted law. A near-L1 fit passes exactly through about that many rows; their
        zero residuals are left out of the scale, else a 12-point ladder would get a MAD near 0 and
        flag ordinary noise.

    Returns
    -------
    positions : ndarray of int
        Row positions (0-based) with ``|r - median(r)| > threshold``.
    threshold : float
        ``max(OUTLIER_SCALES * 1.4826 * MAD, OUTLIER_FLOOR)``, in log units.
    """
    used = np.ones(residuals.shape, dtype=bool) if used is None else np.asarray(used, dtype=bool)
    flagged, threshold = outlier_masks(residuals[None, :], used[None, :], np.array([n_params]))
    return np.flatnonzero(flagged[0]), float(threshold[0])


def outlier_masks(residuals: np.ndarray, used: np.ndarray, n_params: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`gross_outliers` of many fits at once: rows ``(n_fits, n_rows)``, ``used`` of the same shape and
    ``n_params`` per fit. Returns the mask of flagged rows and each fit's threshold."""
    scale = robust_scales(residuals, used, n_params)
    deviation = np.abs(residuals - _medians(residuals, used)[:, None])
    threshold = np.where(used.any(axis=1), np.maximum(OUTLIER_SCALES * scale, OUTLIER_FLOOR), OUTLIER_FLOOR)
    return used & (deviation > threshold[:, None]), threshold


def robust_scale(residuals: np.ndarray, used: np.ndarray | None = None, n_params: int = 0) -> float:
    """The noise scale of log residuals that :func:`gross_outliers` measures against: 1.4826 * MAD of the
    ``used`` rows, leaving out the ``n_params`` smallest deviations (rows a near-L1 fit passes through).

    Examples
    --------
    >>> round(robust_scale(np.array([0.0, 0.0, 0.01, -0.01, 0.02, -0.02, 0.5]), n_params=2), 4)
    0.0297
    """
    used = np.ones(residuals.shape, dtype=bool) if used is None else np.asarray(used, dtype=bool)
    return float(robust_scales(residuals[None, :], used[None, :], np.array([n_params]))[0])


def robust_scales(residuals: np.ndarray, used: np.ndarray, n_params: np.ndarray) -> np.ndarray:
    """:func:`robust_scale` of many fits at once (rows ``(n_fits, n_rows)``); NaN for a fit with no row used."""
    deviation = np.where(used, np.abs(residuals - _medians(residuals, used)[:, None]), np.inf)
    count = used.sum(axis=1)
    first = np.minimum(n_params, np.maximum(count - 1, 0))  # the smallest deviations left out
    return 1.4826 * _medians(np.sort(deviation, axis=1), None, first, count)


def _medians(
    values: np.ndarray, used: np.ndarray | None, first: np.ndarray | None = None, count: np.ndarray | None = None
) -> np.ndarray:
    """Median of each row's ``used`` values (NaN where none), as :func:`numpy.median` gives it: the middle value,
    or the mean of the two middle ones. With ``used`` None, ``values`` are sorted rows and the median is taken
    over positions ``first`` to ``count - 1``."""
    if used is not None:
        values = np.sort(np.where(used, values, np.inf), axis=1)
        count = used.sum(axis=1)
        first = np.zeros_like(count)
    assert first is not None and count is not None
    m = count - first
    rows = np.arange(values.shape[0])
    lo = values[rows, np.maximum(first + (m - 1) // 2, 0)]
    hi = values[rows, np.maximum(first + m // 2, 0) if values.shape[1] else 0]
    with np.errstate(invalid="ignore"):
        mid = np.where(m % 2 == 1, lo, (lo + hi) / 2)
    return np.where(m > 0, mid, np.nan)


def no_signal(log_y: np.ndarray, used: np.ndarray | None = None) -> tuple[bool, np.ndarray]:
    """Whether the fitted values are one constant, apart from gross outliers from that constant.

    Judged on the data alone, not on the fit: a law that cannot reach the data (say a loss of 1e-300)
    leaves residuals that vary with its inputs, yet the target still carries no signal. Rows further
    than :func:`gross_outliers` allows from the median log value are set aside (the noise scale of a
    constant is 0, so the floor applies); the rest must span at most :data:`NO_SIGNAL_SPREAD`.

    Returns
    -------
    flat : bool
        No signal.
    off : ndarray of int
        Positions of the rows set aside (the outliers from the constant level when ``flat``).

    Examples
    --------
    >>> no_signal(np.log([3.0, 3.0, 3.0 * (1 + 1e-12), 3.0, 30.0]))
    (True, array([4]))
    >>> no_signal(np.log([3.0, 2.9, 2.8]))[0]
    False
    """
    used = np.ones(log_y.shape, dtype=bool) if used is None else np.asarray(used, dtype=bool)
    flat, off = no_signal_masks(log_y[None, :], used[None, :])
    return bool(flat[0]), np.flatnonzero(off[0])


def no_signal_masks(log_y: np.ndarray, used: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`no_signal` of many targets at once (rows ``(n_targets, n_rows)``): whether each is flat, and the
    mask of the rows set aside."""
    off, _ = outlier_masks(log_y, used, np.zeros(log_y.shape[0], dtype=int))
    keep = used & ~off
    spread = np.where(keep, log_y, -np.inf).max(axis=1, initial=-np.inf) - np.where(keep, log_y, np.inf).min(
        axis=1, initial=np.inf
    )
    return keep.any(axis=1) & (spread <= NO_SIGNAL_SPREAD), off


# ---------------------------------------------------------------------------------------------- linearization


def row_jacobians(law: Law, thetas: np.ndarray, columns: Mapping[str, np.ndarray]) -> np.ndarray:
    """``d log prediction / d z`` (optimizer space) at the rows ``columns`` for every parameter set in
    ``thetas``, rows first: ``(n_sets, n_rows, n_params)``."""
    with np.errstate(all="ignore"):
        _, J = law.internal_jacobian(thetas, law.bind(columns))
    return np.transpose(J, (0, 2, 1))


def information(J: np.ndarray, s2: float) -> np.ndarray:
    """Gauss-Newton information ``J^T J / s2`` of every set, (n_sets, P, P), with a weak ridge that keeps
    directions no run informs finite (their variance stays large, not infinite).

    ``J`` is :func:`row_jacobians`' ``(n_sets, n_rows, n_params)``; ``s2`` the noise variance of log loss.
    """
    info = np.einsum("snp,snq->spq", J, J) / s2
    P = J.shape[2]
    return info + 1e-8 * np.einsum("spp->s", info)[:, None, None] / P * np.eye(P)


def prediction_variance(
    law: Law, theta: np.ndarray, train: Mapping[str, np.ndarray], test: Mapping[str, np.ndarray], s2: float
) -> np.ndarray:
    """Linearized variance of the log prediction at the rows ``test`` of a fit on the rows ``train`` (per row).

    ``theta`` is one parameter set ``(1, n_params)`` and ``s2`` the noise variance of log loss that makes the
    linearization honest for the fit's loss (:func:`scalelaw.trust.misfit.noise_variance`).
    """
    s2 = max(s2, 1e-10)
    Jt = row_jacobians(law, theta, test)[0]
    cov = np.linalg.pinv(information(row_jacobians(law, theta, train), s2)[0])
    v = np.einsum("np,pq,nq->n", Jt, cov, Jt)
    return np.where(np.isfinite(v), v, 0.0)
