"""How wrong the law itself is beyond the data: a model-discrepancy term for experiment design.

A design criterion that trusts the law picks runs that pin down its parameters, often far from the
target, and its intervals then miss wherever the law bends away from the truth (laws.md §12: fits that
look perfect in range can extrapolate badly). Here the log loss is ``log f(theta, x) + delta(x) + noise``
with ``delta`` a smooth random function of (log10 N, log10 D): Gaussian bumps of width ``length``
decades on a grid, so runs within about a decade of each other share their misfit and runs near the
target tell about the misfit there (Kennedy and O'Hagan's calibration model, in a finite basis so the
design's rank-one updates still apply). Its size ``scale`` (sd of ``delta`` in log loss) is measured by
a backtest of the current fit: refit on the runs of smaller compute and compare the held-out error with
what noise and parameter uncertainty explain.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from scalelaw.errors import FitError
from scalelaw.fitting.diagnostics import prediction_variance
from scalelaw.fitting.fit import fit
from scalelaw.fitting.result import FitResult


@dataclass(frozen=True)
class Misfit:
    """A model-discrepancy term: sd ``scale`` of log loss, correlated over ``length`` decades.

    Attributes
    ----------
    scale : float
        Prior sd of the law's misfit at any point, on the log-loss scale (0: the law is exact).
    length : float
        Width, in decades of N and D, of the bumps the misfit is built from; misfits at two runs a
        distance ``d`` apart have correlation about ``exp(-d**2 / (4 * length**2))``.
    source : str
        How ``scale`` was obtained (said in the suggestion's notes).
    """

    scale: float
    length: float = 0.5
    source: str = "given"

    def features(self, log_nd: np.ndarray, centers: np.ndarray) -> np.ndarray:
        """Basis of the misfit at points ``log_nd`` (n, 2): (n, n_centers), each row of norm ``scale``.

        Rows are normalized so the prior variance of the misfit is ``scale**2`` everywhere, also at the
        edges of the grid.

        Examples
        --------
        >>> m = Misfit(0.01, length=0.5)
        >>> phi = m.features(np.array([[8.0, 9.0]]), grid_centers(np.array([[7.0, 8.0], [9.0, 10.0]]), 0.5))
        >>> round(float(np.sum(phi**2)), 12)
        0.0001
        """
        d2 = np.sum((log_nd[:, None, :] - centers[None, :, :]) ** 2, axis=2)
        phi = np.exp(-d2 / (2 * self.length**2))
        norm = np.sqrt(np.sum(phi**2, axis=1, keepdims=True))
        return self.scale * phi / np.maximum(norm, 1e-300)


def grid_centers(log_nd: np.ndarray, length: float) -> np.ndarray:
    """Centers of the misfit's bumps: a square grid of spacing ``length`` over the points' box, one beyond."""
    lo = log_nd.min(axis=0) - length
    hi = log_nd.max(axis=0) + length
    axes = [np.arange(a, b + length / 2, length) for a, b in zip(lo, hi, strict=True)]
    mesh = np.meshgrid(*axes, indexing="ij")
    return np.column_stack([m.ravel() for m in mesh])


def estimate_misfit(
    result: FitResult,
    n_d: tuple[str, str],
    length: float = 0.5,
    holdout: float = 0.25,
    k: float = 6.0,
    significance: float = 2.0,
) -> Misfit:
    """Misfit scale from a backtest: refit without the largest-compute runs and compare errors.

    The runs whose compute (``k N D`` at their last row) is in the top ``holdout`` fraction are held
    out; the law is refitted on the rest (same loss and options); the held-out log errors ``e`` are
    compared with what the refit explains: its residual variance ``s2`` plus the linearized variance
    ``v`` of its prediction there: ``scale**2 = mean(e**2 - v) - s2`` when the rms error exceeds
    ``significance`` times ``sqrt(s2 + mean(v))``, else 0 (the held-out errors share one parameter
    error, so their mean square is almost a single draw; at 2, about 1 in 6 exact-law ladders of 20
    runs still reads a small misfit). With fewer than 6 runs, or when the refit fails, the scale is 0
    and ``source`` says why.

    Parameters
    ----------
    result : FitResult
        The current fit (its data are used).
    n_d : (str, str)
        Names of the law's parameter-count and token-count inputs.
    length : float
        Width of the misfit's bumps in decades (see :class:`Misfit`).
    holdout : float
        Fraction of runs (largest compute) held out.
    k : float
        FLOPs per parameter per token.
    significance : float
        How many times the explained rms error the held-out rms error must exceed to count as misfit.

    Returns
    -------
    Misfit

    Examples
    --------
    >>> import scalelaw, numpy as np
    >>> rng = np.random.default_rng(0)
    >>> N = np.repeat([1e7, 2e7, 5e7, 1e8], 4); D = N * np.tile([10, 20, 40, 80], 4)
    >>> law = scalelaw.get_law("chinchilla")
    >>> truth = {"E": 1.8, "A": 480, "B": 2000, "alpha": 0.35, "beta": 0.37}
    >>> y = law.predict(truth, params=N, tokens=D) * np.exp(rng.normal(0, 0.005, N.size))
    >>> fit = scalelaw.fit(law, {"run": range(16), "params": N, "tokens": D, "loss": y})
    >>> estimate_misfit(fit, ("params", "tokens")).scale < 0.01  # the law is exact here
    True
    """
    if result.data is None:
        return Misfit(0.0, length, "no data kept with the fit: misfit not estimated")
    result.check_data_hash()  # the backtest refits the stored data
    frame = result.data.frame()
    n_name, d_name = n_d
    compute = k * frame[n_name].to_numpy() * frame[d_name].to_numpy()
    per_run = frame.assign(_c=compute).groupby("run")["_c"].max().sort_values()
    n_runs = len(per_run)
    n_out = max(2, round(holdout * n_runs))
    if n_runs < 6 or n_runs - n_out < max(4, result.law.n_params):
        return Misfit(0.0, length, f"only {n_runs} runs: too few to backtest, misfit not estimated")
    held = frame["run"].isin(per_run.index[-n_out:]).to_numpy()
    law = result.law
    columns = [*law.inputs, result.y]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            weights = frame.loc[~held, "weight"].to_numpy() if "weight" in frame else None  # the fit's own
            train_rows = frame.loc[~held, ["run", *columns]]
            sub = fit(law, train_rows, y=result.y, loss=result.loss, delta=result.delta, weights=weights)
    except FitError as exc:
        return Misfit(0.0, length, f"backtest refit failed ({exc}); misfit not estimated")
    theta = np.array(sub.values, dtype=float)[None, :]
    test = {n: frame.loc[held, n].to_numpy(dtype=float) for n in law.inputs}
    train = {n: frame.loc[~held, n].to_numpy(dtype=float) for n in law.inputs}
    with np.errstate(all="ignore"):
        err = np.log(frame.loc[held, result.y].to_numpy(dtype=float)) - np.log(law.predict(theta, **test)[0])
    s2 = noise_variance(sub)
    v = prediction_variance(law, theta, train, test, s2)
    excess = float(np.mean(err**2 - v)) - s2
    if not math.isfinite(excess):
        return Misfit(0.0, length, "backtest errors not finite; misfit not estimated")
    rms = float(np.sqrt(np.mean(err**2)))
    explained = math.sqrt(s2 + float(np.mean(v)))
    # The held-out errors share one parameter error, so their mean square is nearly a single draw:
    # only an error well beyond what noise and parameters explain is read as misfit.
    scale = math.sqrt(max(excess, 0.0)) if rms > significance * explained else 0.0
    return Misfit(
        scale,
        length,
        f"backtest holding out the {n_out} largest-compute of {n_runs} runs: rms log error {rms:.3g} against "
        f"{explained:.3g} from noise and parameters",
    )


def noise_variance(result: FitResult) -> float:
    """Noise variance of log loss that makes a linearized variance honest for the fit's loss.

    For squared loss it is ``sum r**2 / (n - p)``. For the Huber loss (threshold ``delta``) it is the
    M-estimator's sandwich scale ``mean(psi(r)**2) / mean(psi'(r))**2``, with ``psi`` the clipped
    residual; an outlier counts as ``delta``, not its square. The fit's own ``residual_scale`` (1.4826
    MAD) understates both: a Huber fit with a small ``delta`` acts like least absolute deviations
    and leaves many residuals near zero. The ``p`` residuals such a fit interpolates are not counted
    as inside the threshold.

    Examples
    --------
    >>> import scalelaw, numpy as np
    >>> rng = np.random.default_rng(1)
    >>> x = np.geomspace(1e17, 1e21, 200)
    >>> y = scalelaw.get_law("power").predict({"E": 1.7, "A": 2e3, "alpha": 0.15}, flops=x).ravel()
    >>> fit = scalelaw.fit("power", {"flops": x, "loss": y * np.exp(rng.normal(0, 0.01, x.size))})
    >>> 0.010 < float(np.sqrt(noise_variance(fit))) < 0.016  # L1-like efficiency: sqrt(pi / 2) * 0.01
    True
    """
    if result.data is None:
        return max(result.residual_scale, 1e-4) ** 2
    law = result.law
    cols = {n: result.data.columns[n] for n in law.inputs}
    with np.errstate(all="ignore"):
        pred = law.predict(np.array(result.values, dtype=float)[None, :], **cols)[0]
        r = np.log(result.data.columns[result.y]) - np.log(pred)
    r = r[np.isfinite(r)]
    dof = max(r.size - law.n_params, 1)
    if result.loss != "huber":
        return max(float(np.sum(r**2) / dof), 1e-10)
    d = result.delta
    # mean psi' = P(|r| <= delta): counted in a window at least a kernel bandwidth wide, so that a tiny
    # delta does not leave a handful of residuals to count (the density near 0 is taken as flat).
    mad = 1.4826 * float(np.median(np.abs(r - np.median(r))))
    h = max(d, 1.06 * mad * r.size ** (-0.2))
    inside = max(int(np.sum(np.abs(r) <= h)) - law.n_params, 1) / dof * min(1.0, d / h)
    return max(float(np.sum(np.clip(r, -d, d) ** 2) / dof) / inside**2, 1e-10)
