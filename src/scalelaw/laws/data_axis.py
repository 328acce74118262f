"""Data-axis laws: exponential decay of error with kept data (Sorscher 2022) and repeated-pool utility (Goyal 2024).

- ``exponential``: ``E + A exp(-x / scale)``, the fast regime that data pruning can reach (Sorscher et al. 2022,
  "Beyond neural scaling laws: beating power law scaling via data pruning"; ``docs/laws.md`` §9.3). Compared
  against ``power`` by :mod:`scalelaw.topics.pruning`.
- ``repetition_utility``: Goyal et al. 2024 ("Scaling Laws for Data Filtering -- Data Curation cannot be Compute
  Agnostic", CVPR 2024): a pool of quality ``b`` (its utility, the exponent of ``y = (a n)^b``) loses utility
  each time it is repeated, with a half-life of ``tau`` epochs. Used by :mod:`scalelaw.topics.data_pools`.

Raw example counts (1e3 to 1e9) need no rescaling by the user: every parameter keeps its natural unit (``scale``
is a count of examples, ``A`` an excess error), the optimizer works on their logarithms, where a count's unit is
only an offset, and the start grids are built from the data's own counts.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from scalelaw.errors import LawError
from scalelaw.laws.law import Law, Parameter, log_sum_exp_terms

#: Goyal et al.'s released code divides samples by this before the power (``normalizer=100_000`` in
#: locuslab/scaling_laws_data_filtering, objective.py); published ``a`` values are on this scale.
GOYAL_NORMALIZER = 1e5
#: Most epochs a row of ``repetition_utility`` may span (each epoch is one term of the law's product).
MAX_EPOCHS = 100_000


@dataclass(frozen=True, eq=False)
class ExponentialLaw(Law):
    """``y = E + A exp(-x / scale)`` on one input ``x`` (Sorscher et al. 2022's fast regime)."""

    def log_predict_jac(self, theta, X, jac=True):
        x = np.asarray(X[self.inputs[0]], dtype=np.float64)[None, :]
        E, A, scale = (theta[:, k, None] for k in range(3))
        with np.errstate(divide="ignore"):
            log_E = np.log(E)
        log_pred, shares = log_sum_exp_terms([log_E, np.log(A) - x / scale], weights=jac)
        if not jac:
            return log_pred, None
        w_A = np.broadcast_to(shares[1], log_pred.shape)
        J = np.stack([np.exp(-log_pred), w_A / A, w_A * x / scale**2], axis=1)
        return log_pred, J

    def start_grid(self, X, y):
        # The e-folding scale on the data's own counts (so raw counts 1e3..1e9 start where the curve bends),
        # E on fractions of the smallest error, log A by least squares given (E, scale).
        x = np.asarray(X[self.inputs[0]], dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        y_min = float(np.min(y))
        floor = max(1e-12 * y_min, np.finfo(np.float64).tiny)
        spots = np.quantile(x, [0.1, 0.5, 0.9])
        starts = []
        for spot, mult, frac in itertools.product(spots, (0.3, 1.0, 3.0), (0.01, 0.5, 0.8, 0.95)):
            scale = max(float(spot) * mult, 1e-300)
            E = frac * y_min
            log_A = float(np.mean(np.log(np.maximum(y - E, floor)) + x / scale))
            starts.append((E, math.exp(min(log_A, 700.0)), scale))
        return self.clip(np.array(starts))


def exponential(x: str = "examples", role: str | None = "D") -> ExponentialLaw:
    """Exponential decay plus constant on input ``x``: ``E + A exp(-x / scale)``.

    ``scale`` is the number of examples over which the excess error ``y - E`` falls by a factor ``e`` (its rate
    is ``1 / scale`` per example); ``A`` is the excess error at ``x = 0``. ``role`` is what ``x`` stands for
    (``"D"``, training data, for kept examples; None for an input of no role).

    Examples
    --------
    >>> law = exponential()
    >>> float(law.predict({"E": 0.05, "A": 0.5, "scale": 1e6}, examples=[2e6])[0])  # doctest: +ELLIPSIS
    0.1176...
    """
    return ExponentialLaw(
        name="exponential",
        inputs=(x,),
        parameters=(
            Parameter("E", 0.0, 1e6, "log", description="irreducible error (floor)"),
            Parameter("A", 1e-12, 1e12, "log", description=f"excess error at {x} = 0"),
            Parameter("scale", 1e-6, 1e18, "log", description=f"{x} per e-fold of the excess error (1 / rate)"),
        ),
        description=f"E + A * exp(-{x} / scale)",
        reference="Sorscher et al. 2022, Beyond neural scaling laws: beating power law scaling via data pruning",
        options={"x": x, "role": role},
        roles={x: role},
    )


def epoch_growth(samples: np.ndarray, pool: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """First-epoch samples, epoch numbers ``k = 1..K`` and the log growth ``log(n_k / n_(k-1))`` of each epoch.

    As Goyal et al.'s code: epoch ``k`` ends at ``min(S (k + 1), n)`` samples and starts at ``S k`` (``S`` the
    pool size); a row's entries past its last epoch have log growth 0 (they add nothing).
    """
    n_epochs = np.floor(samples / pool)
    top = int(n_epochs.max(initial=0.0))
    if top > MAX_EPOCHS:
        raise LawError(f"repetition_utility: a row spans {top} epochs of its pool; at most {MAX_EPOCHS} are supported")
    k = np.arange(1, top + 1, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        end = np.minimum(pool[:, None] * (k[None, :] + 1.0), samples[:, None])
        growth = np.where(k[None, :] <= n_epochs[:, None], np.log(end / (pool[:, None] * k[None, :])), 0.0)
    return np.minimum(samples, pool), k, growth


@dataclass(frozen=True, eq=False)
class RepetitionUtilityLaw(Law):
    """Goyal et al. 2024's error of a pool seen ``n`` times over: utility ``b`` halves every ``tau`` epochs.

    ``y_0 = d + (a n_0 / norm)^b`` after the first epoch (``n_0 = min(n, S)``), then each epoch ``k`` multiplies
    it by ``(n_k / n_(k-1))^(b_k)`` with ``b_k = b 2^(-k / tau)``, as in the authors' released code.
    """

    @property
    def norm(self) -> float:
        return float(self.options.get("norm", GOYAL_NORMALIZER))

    def log_predict_jac(self, theta, X, jac=True):
        samples = np.asarray(X[self.inputs[0]], dtype=np.float64)
        pool = np.asarray(X[self.inputs[1]], dtype=np.float64)
        first, k, growth = epoch_growth(samples, pool)
        a, b, tau, d = (theta[:, j, None] for j in range(4))
        log_x0 = np.log(a) + np.log(first / self.norm)[None, :]
        log_first, shares = log_sum_exp_terms([np.log(d), b * log_x0], weights=jac)
        decay = np.exp2(-k[None, :] / theta[:, 2, None])  # (n_sets, K)
        repeated = decay @ growth.T  # sum_k 2^(-k/tau) log(n_k / n_(k-1)), (n_sets, n_rows)
        log_pred = log_first + b * repeated
        if not jac:
            return log_pred, None
        w_d, w_x = np.broadcast_arrays(*shares)
        d_tau = b * ((decay * k[None, :] * math.log(2.0)) @ growth.T) / tau**2
        cols = [w_x * b / a, w_x * log_x0 + repeated, np.broadcast_to(d_tau, log_pred.shape), w_d / d]
        return log_pred, np.stack(np.broadcast_arrays(*cols), axis=1)

    def start_grid(self, X, y):
        # Utility and half-life on a grid; a from the first-epoch rows given (b, d) by least squares in log.
        samples = np.asarray(X[self.inputs[0]], dtype=np.float64)
        pool = np.asarray(X[self.inputs[1]], dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        y_min = float(np.min(y))
        first = samples <= pool
        rows = first if first.any() else np.ones_like(first)
        log_n = np.log(np.minimum(samples, pool)[rows] / self.norm)
        starts = []
        for b, tau, frac in itertools.product((-0.05, -0.15, -0.4), (1.0, 5.0, 20.0), (0.0, 0.5, 0.9)):
            d = max(frac * y_min, 1e-6)
            excess = np.maximum(y[rows] - d, 1e-12 * y_min)
            log_a = float(np.mean(np.log(excess) / b - log_n))
            starts.append((math.exp(float(np.clip(log_a, -700, 700))), b, tau, d))
        return self.clip(np.array(starts))


def repetition_utility(
    samples: str = "samples", pool_size: str = "pool_size", norm: float = GOYAL_NORMALIZER
) -> RepetitionUtilityLaw:
    """Goyal et al. 2024's law of a data pool repeated over epochs: error vs samples seen and pool size.

    Parameters are the paper's: ``a`` (scale of samples), ``b`` (the pool's utility, negative: more negative is
    better data), ``tau`` (half-life of the utility, in epochs) and ``d`` (irreducible error). ``norm`` divides
    the samples as the authors' code does, so published ``a`` values plug in unchanged.

    Examples
    --------
    >>> law = repetition_utility()
    >>> p = {"a": 0.025, "b": -0.16, "tau": 6.73, "d": 0.1}
    >>> round(float(law.predict(p, samples=[12.8e6], pool_size=[12.8e6])[0]), 4)  # one epoch: d + (a n / 1e5)^b
    0.9302
    """
    if not (math.isfinite(norm) and norm > 0):
        raise LawError(f"repetition_utility: norm must be a positive number, not {norm!r}")
    return RepetitionUtilityLaw(
        name="repetition_utility",
        inputs=(samples, pool_size),
        parameters=(
            Parameter("a", 1e-9, 1e9, "log", description=f"scale of {samples} (before dividing by norm)"),
            Parameter(
                "b", -5.0, -1e-6, "identity", description="utility of the pool (exponent, < 0: more negative is better)"
            ),
            Parameter("tau", 1e-3, 1e6, "log", description="half-life of the utility, in epochs of the pool"),
            Parameter("d", 1e-9, 1e3, "log", description="irreducible error"),
        ),
        description=(
            f"(d + (a min({samples}, {pool_size}) / norm)^b) * prod_k (n_k / n_(k-1))^(b 2^(-k / tau)), "
            f"n_k = min({pool_size} (k + 1), {samples})"
        ),
        reference="Goyal et al. 2024, Scaling Laws for Data Filtering -- Data Curation cannot be Compute Agnostic",
        options={"samples": samples, "pool_size": pool_size, "norm": float(norm)},
        roles={samples: "D", pool_size: None},
    )


CATALOG = {"exponential": exponential, "repetition_utility": repetition_utility}
