"""Power laws over one or two scale variables: power + constant, Chinchilla, Kaplan.

Formulas, grids and provenance: ``docs/laws.md`` §1.1 (power), §2.2 (Kaplan), §3 (Chinchilla).
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from scalelaw.laws.law import CANONICAL_ROLES, Law, Parameter, log_sum_exp_terms, nonnegative_least_squares


@dataclass(frozen=True, eq=False)
class PowerLaw(Law):
    """``y = E + A * x^(-alpha)`` on one input ``x`` (Henighan 2020; Hestness 2017)."""

    def log_predict_jac(self, theta, X, jac=True):
        x = np.log(X[self.inputs[0]])[None, :]
        E, A, alpha = (theta[:, k, None] for k in range(3))
        with np.errstate(divide="ignore"):
            log_E = np.log(E)
        log_pred, shares = log_sum_exp_terms([log_E, np.log(A) - alpha * x], weights=jac)
        if not jac:
            return log_pred, None
        w_A = shares[1]
        J = np.stack([np.exp(-log_pred), w_A / A, -w_A * x], axis=1)
        return log_pred, J

    def internal_jacobian(self, theta, X):
        # d log_pred / d z directly (z = E, log A, alpha): the derivative in log A is the A term's share, so the
        # natural-units Jacobian's divide by A and the chain rule's multiply back are skipped (as chinchilla's).
        x = np.log(X[self.inputs[0]])
        E, A, alpha = (theta[:, k, None] for k in range(3))
        with np.errstate(divide="ignore"):
            log_E = np.log(E)
        log_pred, (_, w_A) = log_sum_exp_terms([log_E, np.log(A) - alpha * x], weights=True)
        J = np.empty((theta.shape[0], 3, x.size))
        np.exp(-log_pred, out=J[:, 0])
        J[:, 1] = w_A
        np.multiply(w_A, -x, out=J[:, 2])
        return log_pred, J

    def start_grid(self, X, y):
        # laws.md §1.1: alpha and E on a grid, log A by least squares given (alpha, E); all 30 pairs at once
        # (the same numbers as one pair at a time: each row's mean is summed alone).
        x = np.log(X[self.inputs[0]])
        y = np.asarray(y, dtype=np.float64)
        y_min = float(np.min(y))
        floor = max(1e-12 * y_min, np.finfo(np.float64).tiny)  # 1e-12 * 5e-324 would be 0, and log(0) warns
        alpha, frac = np.array(list(itertools.product(_POWER_ALPHAS, _POWER_FLOOR_FRACTIONS))).T
        E = frac * y_min
        log_A = np.mean(np.log(np.maximum(y[None, :] - E[:, None], floor)) + alpha[:, None] * x[None, :], axis=1)
        with np.errstate(over="ignore"):  # a loss near 1e300 asks for A = inf: clip() takes it to its bound
            return self.clip(np.column_stack([E, np.exp(log_A), alpha]))

    def start_grids(self, X, Y):
        # start_grid of every target at once, the same numbers (each row's mean is still summed alone).
        x = np.log(X[self.inputs[0]])  # (T, n)
        Y = np.asarray(Y, dtype=np.float64)
        y_min = np.min(Y, axis=1)
        floor = np.maximum(1e-12 * y_min, np.finfo(np.float64).tiny)
        alpha, frac = _POWER_GRID
        E = frac[None, :] * y_min[:, None]  # (T, S)
        terms = (
            np.log(np.maximum(Y[:, None, :] - E[:, :, None], floor[:, None, None])) + alpha[None, :, None] * x[:, None]
        )
        log_A = np.mean(terms, axis=2)
        with np.errstate(over="ignore"):
            theta = np.stack([E, np.exp(log_A), np.broadcast_to(alpha, E.shape)], axis=-1)
        return self.clip(theta)

    def profile_starts(self, X, Y, weights=None):
        # Variable projection: for each exponent, E and A solve a 2-column non-negative least-squares problem on
        # relative residuals, min sum w (E/y + A x^-alpha/y - 1)^2, in closed form for every target at once; then
        # a few reweighted passes (weights 1 / max(|residual|, 1e-3)) move it towards the near-L1 fit the default
        # Huber loss makes, so that the profile's minima sit near the objective's basins.
        x = np.log(X[self.inputs[0]])
        Y = np.atleast_2d(np.asarray(Y, dtype=np.float64))
        w0 = np.ones(Y.shape) if weights is None else np.atleast_2d(np.asarray(weights, dtype=np.float64))
        alpha = _POWER_PROFILE_ALPHAS
        with np.errstate(all="ignore"):
            u = np.where(w0 > 0, 1.0 / Y, 0.0)[:, None, :]  # (T, 1, n)
            b = np.exp(-alpha[:, None] * x[None, :])  # (K, n)
            basis = (b, b * b)  # the sums' factors besides w u and w u^2
            wu = np.empty((Y.shape[0], alpha.size, x.size))  # reused: arrays this size cost page faults when fresh
            E, A = _nonnegative_pair(np.multiply(w0[:, None, :], u, out=wu), u, basis)
            for _ in range(_POWER_PROFILE_IRLS):
                r = wu  # |relative residual| (E u + A b u - 1), then the weights w u it gives
                np.multiply(A[..., None], b, out=r)
                r += E[..., None]
                r *= u
                r -= 1.0
                np.abs(r, out=r)
                np.maximum(r, 1e-3, out=r)
                np.divide(w0[:, None, :], r, out=r)
                E, A = _nonnegative_pair(np.multiply(r, u, out=wu), u, basis)
            theta = np.stack([E, A, np.broadcast_to(alpha, A.shape)], axis=-1)
        return self.clip(theta.reshape(-1, 3)).reshape(theta.shape)


def _nonnegative_pair(
    wu: np.ndarray, u: np.ndarray, basis: tuple[np.ndarray, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """``E, A >= 0`` minimizing ``sum w (E u + A b u - 1)^2`` over the last axis: the exact two-column NNLS answer
    (both free when both come out non-negative, else the better of one column alone). ``wu`` is ``w u``
    (targets, exponents, rows; overwritten with ``w u^2``), ``basis`` is ``b, b^2`` (exponents, rows each)."""
    b, b2 = basis
    r1, r2 = wu.sum(axis=-1), np.einsum("tkn,kn->tk", wu, b)
    wu *= u
    s11, s12, s22 = wu.sum(axis=-1), np.einsum("tkn,kn->tk", wu, b), np.einsum("tkn,kn->tk", wu, b2)
    det = s11 * s22 - s12 * s12
    E = (s22 * r1 - s12 * r2) / det
    A = (s11 * r2 - s12 * r1) / det
    both = np.isfinite(E) & np.isfinite(A) & (E >= 0) & (A >= 0)
    E1, A2 = np.maximum(r1 / s11, 0.0), np.maximum(r2 / s22, 0.0)
    sse_E = E1 * E1 * s11 - 2 * E1 * r1
    sse_A = A2 * A2 * s22 - 2 * A2 * r2
    only_E = sse_E <= np.where(np.isfinite(sse_A), sse_A, np.inf)
    E = np.where(both, E, np.where(only_E, E1, 0.0))
    A = np.where(both, A, np.where(only_E, 0.0, A2))
    return np.nan_to_num(E, nan=0.0), np.nan_to_num(A, nan=0.0)


# The power law's start grid (laws.md §1.1): exponents, and the floor E as fractions of the smallest target.
_POWER_ALPHAS = (0.05, 0.1, 0.2, 0.35, 0.5, 0.8)
_POWER_FLOOR_FRACTIONS = (0.0, 0.25, 0.5, 0.75, 0.9)
_POWER_GRID = np.array(list(itertools.product(_POWER_ALPHAS, _POWER_FLOOR_FRACTIONS))).T  # alpha, E fraction
# The exponents of the power law's profile (many targets at once): 0 and 48 from 0.002 to 5, evenly in log.
_POWER_PROFILE_ALPHAS = np.concatenate([[0.0], np.geomspace(0.002, 5.0, 48)])
# Reweighted passes of the profile towards a near-L1 fit.
_POWER_PROFILE_IRLS = 6


def power(x: str = "flops") -> PowerLaw:
    """Power law plus constant on input ``x`` (``params``, ``tokens``, ``flops``, ...)."""
    return PowerLaw(
        name="power",
        inputs=(x,),
        parameters=(
            Parameter("E", 0.0, 1e6, "identity", description="irreducible loss (floor)"),
            Parameter("A", 1e-30, 1e60, "log", description="amplitude of the reducible term"),
            Parameter("alpha", 0.0, 5.0, "identity", description=f"exponent of {x}"),
        ),
        description=f"E + A * {x}^(-alpha)",
        reference="Henighan et al. 2020, Scaling Laws for Autoregressive Generative Modeling",
        options={"x": x},
        roles={x: CANONICAL_ROLES.get(x)},  # a law of N, D or C as x names params, tokens or flops
    )


# Epoch AI's 4,500-start grid (Besiroglu et al. 2024, "Chinchilla Scaling: A replication attempt",
# laws.md §3.4): alpha, beta in {0, .5, 1, 1.5, 2}; e in {-1, -.5, 0, .5, 1}; a, b in {0, 5, ..., 25}
# with A = exp(a), B = exp(b), E = exp(e).
_EPOCH_LOG_AB = (0.0, 5.0, 10.0, 15.0, 20.0, 25.0)
_EPOCH_E = (-1.0, -0.5, 0.0, 0.5, 1.0)
_EPOCH_EXP = (0.0, 0.5, 1.0, 1.5, 2.0)


@functools.cache
def _epoch_grid() -> np.ndarray:
    """Epoch AI's 4,500 starts in natural units, built once (callers get copies)."""
    grid = itertools.product(_EPOCH_E, _EPOCH_LOG_AB, _EPOCH_LOG_AB, _EPOCH_EXP, _EPOCH_EXP)
    z = np.array(list(grid))
    return np.column_stack([np.exp(z[:, 0]), np.exp(z[:, 1]), np.exp(z[:, 2]), z[:, 3], z[:, 4]])


@dataclass(frozen=True, eq=False)
class ChinchillaLaw(Law):
    """``L = E + A / N^alpha + B / D^beta`` (Hoffmann et al. 2022, Approach 3)."""

    def log_predict_jac(self, theta, X, jac=True):
        log_N = np.log(X[self.inputs[0]])[None, :]
        log_D = np.log(X[self.inputs[1]])[None, :]
        E, A, B, alpha, beta = (theta[:, k, None] for k in range(5))
        log_pred, shares = log_sum_exp_terms(
            [np.log(E), np.log(A) - alpha * log_N, np.log(B) - beta * log_D], weights=jac
        )
        if not jac:
            return log_pred, None
        w_E, w_A, w_B = np.broadcast_arrays(*shares)
        J = np.stack([w_E / E, w_A / A, w_B / B, -w_A * log_N, -w_B * log_D], axis=1)
        return log_pred, J

    def internal_jacobian(self, theta, X):
        # d log_pred / d z directly: for z = log E, log A, log B the derivatives are the terms' shares, so the
        # natural-units Jacobian's divide by E, A, B and the chain rule's multiply back are skipped.
        log_N = np.log(X[self.inputs[0]])
        log_D = np.log(X[self.inputs[1]])
        E, A, B, alpha, beta = (theta[:, k, None] for k in range(5))
        log_pred, (w_E, w_A, w_B) = log_sum_exp_terms(
            [np.log(E), np.log(A) - alpha * log_N, np.log(B) - beta * log_D], weights=True
        )
        J = np.empty((theta.shape[0], 5, log_N.size))
        J[:, 0] = w_E
        J[:, 1] = w_A
        J[:, 2] = w_B
        np.multiply(w_A, -log_N, out=J[:, 3])
        np.multiply(w_B, -log_D, out=J[:, 4])
        return log_pred, J

    def start_grid(self, X, y):
        return _epoch_grid().copy()

    def projected_starts(self, X, y, weights=None):
        # Variable projection: for fixed exponents the amplitudes enter linearly, so each of the
        # grid's 25 exponent pairs gets its best amplitudes by non-negative least squares on relative residuals.
        exps = np.array(list(itertools.product(_EPOCH_EXP, _EPOCH_EXP)))
        log_N = np.log(np.asarray(X[self.inputs[0]], dtype=np.float64))
        log_D = np.log(np.asarray(X[self.inputs[1]], dtype=np.float64))
        basis = np.stack(
            [np.ones((exps.shape[0], log_N.size)), np.exp(-exps[:, :1] * log_N), np.exp(-exps[:, 1:] * log_D)],
            axis=2,
        )
        amplitudes = nonnegative_least_squares(basis, np.asarray(y, dtype=np.float64), weights)
        return np.column_stack([amplitudes, exps])

    def closed_form(self, decision: str) -> Callable[..., Any] | None:
        """Every decision of :data:`~scalelaw.laws.law.CLOSED_FORMS` (docs/laws.md §3.2), while the first input
        is the model size N and the second the data D (as the catalog declares them)."""
        super().closed_form(decision)
        if tuple(self.roles.values()) != ("N", "D"):
            return None
        return _CHINCHILLA_CLOSED_FORMS[decision]


# Closed forms of Chinchilla's law, on parameter sets theta = (E, A, B, alpha, beta) per row, for compute
# C = k N D (docs/laws.md §3.2 and its corollaries).
def _compute_optimal(theta: np.ndarray, flops: float, k: float) -> tuple[np.ndarray, np.ndarray]:
    """``ln N_opt`` and the loss there at budget ``flops``, per set."""
    E, A, B, alpha, beta = theta.T
    G = (alpha * A / (beta * B)) ** (1.0 / (alpha + beta))
    N = G * (flops / k) ** (beta / (alpha + beta))
    D = (flops / k) / N
    return np.log(N), E + A / N**alpha + B / D**beta


def _compute_for_loss(theta: np.ndarray, target: float, k: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Least compute reaching loss ``target`` and its N, D per set (inf where the floor E is not below it):
    at the optimum ``A N^-alpha = (l - E) beta/(alpha+beta)`` and ``B D^-beta = (l - E) alpha/(alpha+beta)``."""
    E, A, B, alpha, beta = theta.T
    gap = target - E
    with np.errstate(all="ignore"):
        N = (A / (gap * beta / (alpha + beta))) ** (1.0 / alpha)
        D = (B / (gap * alpha / (alpha + beta))) ** (1.0 / beta)
    ok = gap > 0
    N, D = np.where(ok, N, np.inf), np.where(ok, D, np.inf)
    return k * N * D, N, D


def _tokens_for_loss(theta: np.ndarray, params: np.ndarray, target: float) -> np.ndarray:
    """Tokens D with ``L(N, D) = target`` at each model size in ``params``, for one parameter set (inf where
    no amount of data reaches the target)."""
    E, A, B, alpha, beta = theta[0]
    with np.errstate(all="ignore"):
        rem = target - E - A / params**alpha
        return np.where(rem > 0, (B / rem) ** (1.0 / beta), np.inf)


def _allocation_exponent(theta: np.ndarray) -> np.ndarray:
    """``a`` in ``N_opt ∝ C^a``, ``beta / (alpha + beta)``, per set."""
    alpha, beta = theta[:, 3], theta[:, 4]
    return beta / (alpha + beta)


_CHINCHILLA_CLOSED_FORMS: dict[str, Callable[..., Any]] = {
    "compute_optimal": _compute_optimal,
    "compute_for_loss": _compute_for_loss,
    "tokens_for_loss": _tokens_for_loss,
    "allocation_exponent": _allocation_exponent,
}


def chinchilla(n: str = "params", d: str = "tokens") -> ChinchillaLaw:
    """Chinchilla's parametric law ``E + A/N^alpha + B/D^beta`` with Epoch AI's 4,500-start grid."""
    return ChinchillaLaw(
        name="chinchilla",
        inputs=(n, d),
        parameters=(
            Parameter("E", 1e-6, 1e3, "log", description="irreducible loss"),
            Parameter("A", 1e-12, 1e30, "log", description="amplitude of the parameter term"),
            Parameter("B", 1e-12, 1e30, "log", description="amplitude of the data term"),
            Parameter("alpha", 0.0, 3.0, "identity", description=f"exponent of {n}"),
            Parameter("beta", 0.0, 3.0, "identity", description=f"exponent of {d}"),
        ),
        description=f"E + A / {n}^alpha + B / {d}^beta",
        reference="Hoffmann et al. 2022, Training Compute-Optimal Large Language Models (Approach 3); "
        "start grid of Besiroglu et al. 2024",
        options={"n": n, "d": d},
        roles={n: "N", d: "D"},
    )


@dataclass(frozen=True, eq=False)
class KaplanLaw(Law):
    """``L = [(N_c/N)^(alpha_N/alpha_D) + D_c/D]^alpha_D`` (Kaplan et al. 2020, eq. 1.5)."""

    def log_predict_jac(self, theta, X, jac=True):
        log_N = np.log(X[self.inputs[0]])[None, :]
        log_D = np.log(X[self.inputs[1]])[None, :]
        N_c, D_c, a_N, a_D = (theta[:, k, None] for k in range(4))
        u = (a_N / a_D) * (np.log(N_c) - log_N)
        v = np.log(D_c) - log_D
        S, shares = log_sum_exp_terms([u, v], weights=jac)
        log_pred = a_D * S
        if not jac:
            return log_pred, None
        w_u, w_v = shares
        J = np.stack([a_N * w_u / N_c, a_D * w_v / D_c, w_u * (np.log(N_c) - log_N), S - w_u * u], axis=1)
        return log_pred, J


def kaplan(n: str = "params", d: str = "tokens") -> KaplanLaw:
    """Kaplan's joint law L(N, D); N is non-embedding parameters in the paper."""
    return KaplanLaw(
        name="kaplan",
        inputs=(n, d),
        parameters=(
            Parameter("N_c", 1.0, 1e40, "log", tuple(np.exp([25.0, 30.0, 35.0])), "parameter scale"),
            Parameter("D_c", 1.0, 1e40, "log", tuple(np.exp([25.0, 30.0, 35.0])), "data scale"),
            Parameter("alpha_N", 1e-4, 2.0, "identity", (0.05, 0.08, 0.12), "parameter exponent"),
            Parameter("alpha_D", 1e-4, 2.0, "identity", (0.08, 0.1, 0.15), "data exponent"),
        ),
        description=f"((N_c/{n})^(alpha_N/alpha_D) + D_c/{d})^alpha_D",
        reference="Kaplan et al. 2020, Scaling Laws for Neural Language Models, eq. 1.5",
        options={"n": n, "d": d},
        roles={n: "N", d: "D"},
    )


@dataclass(frozen=True, eq=False)
class OvertrainLaw(Law):
    """``L = E + A / N^alpha + B / D^alpha``: Chinchilla with one shared exponent (Gadre et al. 2024)."""

    def log_predict_jac(self, theta, X, jac=True):
        log_N = np.log(X[self.inputs[0]])[None, :]
        log_D = np.log(X[self.inputs[1]])[None, :]
        E, A, B, alpha = (theta[:, k, None] for k in range(4))
        log_pred, shares = log_sum_exp_terms(
            [np.log(E), np.log(A) - alpha * log_N, np.log(B) - alpha * log_D], weights=jac
        )
        if not jac:
            return log_pred, None
        w_E, w_A, w_B = np.broadcast_arrays(*shares)
        J = np.stack([w_E / E, w_A / A, w_B / B, -w_A * log_N - w_B * log_D], axis=1)
        return log_pred, J

    def start_grid(self, X, y):
        # The Epoch grid restricted to alpha = beta (laws.md §3.4, §6).
        grid = itertools.product(_EPOCH_E, _EPOCH_LOG_AB, _EPOCH_LOG_AB, (0.1, 0.25, 0.5, 1.0, 1.5))
        z = np.array(list(grid))
        return np.column_stack([np.exp(z[:, 0]), np.exp(z[:, 1]), np.exp(z[:, 2]), z[:, 3]])


def overtrain(n: str = "params", d: str = "tokens") -> OvertrainLaw:
    """Gadre et al.'s over-training law: Chinchilla's form with alpha = beta.

    In the paper's notation ``L(C, M) = E + (a M^eta + b M^-eta) C^-eta`` with token multiplier
    ``M = D/N`` and ``C = 6ND``: ``eta = alpha/2``, ``a = A 6^eta``, ``b = B 6^eta`` (laws.md §6).
    At fixed M the reducible loss is a power law in C with the same exponent for every M.
    """
    return OvertrainLaw(
        name="overtrain",
        inputs=(n, d),
        parameters=(
            Parameter("E", 1e-6, 1e3, "log", description="irreducible loss"),
            Parameter("A", 1e-12, 1e30, "log", description="amplitude of the parameter term"),
            Parameter("B", 1e-12, 1e30, "log", description="amplitude of the data term"),
            Parameter("alpha", 0.0, 3.0, "identity", description=f"shared exponent of {n} and {d}"),
        ),
        description=f"E + A / {n}^alpha + B / {d}^alpha",
        reference="Gadre et al. 2024, Language models scale reliably with over-training and on downstream tasks",
        options={"n": n, "d": d},
        roles={n: "N", d: "D"},
    )
