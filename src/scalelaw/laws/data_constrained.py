"""Muennighoff et al.'s data-constrained law: Chinchilla's form on effective (repeat-discounted) N and D.

Formulas and provenance: ``docs/laws.md`` §4 and §15.5; ``docs/ORACLES.md`` §2 (the
reference notebook's ``D_to_N`` for the compute-optimal parameter count of the unique data).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from scalelaw.laws.law import Law, Parameter, log_sum_exp_terms


def _decayed_repeats(R: np.ndarray, R_star: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``q = R* (1 - exp(-R/R*))`` with ``dq/dR`` and ``dq/dR*``."""
    rho = R / R_star
    decay = np.exp(-rho)
    q = -R_star * np.expm1(-rho)
    return q, decay, -np.expm1(-rho) - rho * decay


def effective_data(tokens, unique_tokens, R_D_star):
    """Effective data ``D' = U_D + U_D R_D* (1 - exp(-R_D / R_D*))`` with ``R_D = max(D / U_D - 1, 0)``.

    Repeated tokens are worth less and less: ``D'`` saturates at ``U_D (1 + R_D*)``
    (Muennighoff et al. 2023, eq. 5; laws.md §4).

    Examples
    --------
    >>> float(effective_data(4e11, 1e11, 15.387756))  # 4 epochs  # doctest: +ELLIPSIS
    372567...
    """
    tokens, unique_tokens = np.asarray(tokens, dtype=np.float64), np.asarray(unique_tokens, dtype=np.float64)
    R_D = np.maximum(tokens / unique_tokens - 1.0, 0.0)
    q, _, _ = _decayed_repeats(R_D, np.asarray(R_D_star, dtype=np.float64))
    return unique_tokens * (1.0 + q)


def effective_params(params, unique_params, R_N_star):
    """Effective parameters ``N' = U_N + U_N R_N* (1 - exp(-R_N / R_N*))``.

    ``U_N = min(N, unique_params)`` and ``R_N = N / U_N - 1``: parameters beyond ``unique_params``
    (in the law, the compute-optimal size for the unique data, :func:`compute_optimal_params`)
    are worth less and less, up to ``U_N (1 + R_N*)``.
    """
    params = np.asarray(params, dtype=np.float64)
    U_N = np.minimum(params, np.asarray(unique_params, dtype=np.float64))
    R_N = np.maximum(params / U_N - 1.0, 0.0)
    q, _, _ = _decayed_repeats(R_N, np.asarray(R_N_star, dtype=np.float64))
    return U_N * (1.0 + q)


def compute_optimal_params(unique_tokens, A, B, alpha, beta):
    """Compute-optimal parameter count for ``unique_tokens`` of data under ``E + A/N^alpha + B/D^beta``.

    As in the reference notebook (ORACLES.md §2, ``D_to_N``):
    ``G = (alpha A / (beta B))^(1 / (alpha + beta))`` and ``N_opt = (U_D G)^(beta / alpha) G``.
    """
    log_G = (np.log(alpha * A) - np.log(beta * B)) / (alpha + beta)
    return np.exp((beta / alpha) * (np.log(unique_tokens) + log_G) + log_G)


@dataclass(frozen=True, eq=False)
class DataConstrainedLaw(Law):
    """``L = E + A / N'^alpha + B / D'^beta`` on effective parameters and data (Muennighoff et al. 2023).

    ``U_N = min(N, N_opt(U_D))`` depends on the parameters through ``N_opt``; the Jacobian follows the
    branch that is active (the law is continuously differentiable across the kink: ``N'`` has zero
    derivative in ``U_N`` at ``U_N = N``). With ``tied`` the law has one exponent ``alpha`` for both terms.
    """

    @property
    def tied(self) -> bool:
        return bool(self.options.get("tied", False))

    def _untied(self, theta: np.ndarray) -> np.ndarray:
        if not self.tied:
            return theta
        return np.column_stack([theta[:, :4], theta[:, 3], theta[:, 4:]])

    def log_predict_jac(self, theta, X, jac=True):
        N = X[self.inputs[0]][None, :]
        D = X[self.inputs[1]][None, :]
        U = X[self.inputs[2]][None, :]
        E, A, B, alpha, beta, R_D_star, R_N_star = (self._untied(theta)[:, [k]] for k in range(7))
        log_U = np.log(U)
        # Effective data.
        R_D = np.maximum(D / U - 1.0, 0.0)
        q_D, _, dq_D_dstar = _decayed_repeats(R_D, R_D_star)
        log_Dp = log_U + np.log1p(q_D)
        # Effective parameters: U_N = min(N, N_opt(U_D)), N_opt from the law's own constants.
        log_G = (np.log(alpha) + np.log(A) - np.log(beta) - np.log(B)) / (alpha + beta)
        ratio = beta / alpha
        log_N_opt = ratio * (log_U + log_G) + log_G
        log_N = np.log(N)
        active = log_N_opt < log_N  # the model is larger than compute-optimal for its unique data
        log_UN = np.where(active, log_N_opt, log_N)
        R_N = np.where(active, np.exp(log_N - log_UN) - 1.0, 0.0)
        q_N, dq_N_dR, dq_N_dstar = _decayed_repeats(R_N, R_N_star)
        log_Np = log_UN + np.log1p(q_N)
        log_pred, shares = log_sum_exp_terms(
            [np.log(E), np.log(A) - alpha * log_Np, np.log(B) - beta * log_Dp], weights=jac
        )
        if not jac:
            return log_pred, None
        w_E, w_A, w_B = np.broadcast_arrays(*shares)
        # d log N' / d log U_N on the active branch (R_N = N / U_N - 1), zero elsewhere.
        dlogNp_dlogUN = np.where(active, 1.0 - dq_N_dR * (1.0 + R_N) / (1.0 + q_N), 0.0)
        # d log N_opt / d(A, B, alpha, beta).
        s = alpha + beta
        dG_dA, dG_dB = 1.0 / (A * s), -1.0 / (B * s)
        dG_dalpha = (1.0 / alpha - log_G) / s
        dG_dbeta = (-1.0 / beta - log_G) / s
        k = ratio + 1.0
        dNopt = [
            k * dG_dA,
            k * dG_dB,
            -(beta / alpha**2) * (log_U + log_G) + k * dG_dalpha,
            (log_U + log_G) / alpha + k * dG_dbeta,
        ]
        # Each parameter's effect through N' enters as -alpha * w_A * d log N'.
        via_N = -alpha * w_A * dlogNp_dlogUN
        cols = [
            w_E / E,
            w_A / A + via_N * dNopt[0],
            w_B / B + via_N * dNopt[1],
            -w_A * log_Np + via_N * dNopt[2],
            -w_B * log_Dp + via_N * dNopt[3],
            -beta * w_B * dq_D_dstar / (1.0 + q_D),
            -alpha * w_A * dq_N_dstar / (1.0 + q_N),
        ]
        if self.tied:
            cols = [*cols[:3], cols[3] + cols[4], *cols[5:]]
        J = np.stack(np.broadcast_arrays(*cols), axis=1)
        return log_pred, J

    def start_grid(self, X, y):
        # laws.md §13: R_D* in {2, 5, 10, 20, 50}, R_N* in {1, 3, 10, 30}, crossed with a small Chinchilla
        # grid: E on fractions of min L, exponents on a grid, and A, B by non-negative least squares of the
        # relative residual (y - E - A N'^-alpha - B D'^-beta) / y given the rest (U_N = N for that solve).
        N, D, U = (np.asarray(X[c], dtype=np.float64) for c in self.inputs)
        y = np.asarray(y, dtype=np.float64)
        y_min = float(np.min(y))
        exps = (0.15, 0.3, 0.5)
        pairs = [(a, a) for a in exps] if self.tied else list(itertools.product(exps, exps))
        grid = np.array(
            [
                (frac * y_min, a, b, rd, rn)
                for frac, (a, b), rd, rn in itertools.product(
                    (0.3, 0.6, 0.85), pairs, (2.0, 5.0, 10.0, 20.0, 50.0), (1.0, 3.0, 10.0, 30.0)
                )
            ]
        )
        E, alpha, beta, rd, rn = (grid[:, [k]] for k in range(5))
        Dp = effective_data(D[None, :], U[None, :], rd)
        u = N[None, :] ** -alpha / y
        v = Dp**-beta / y
        r = 1.0 - E / y
        A, B = _nnls2(u, v, r)
        A = np.maximum(A, 1e-6)
        B = np.maximum(B, 1e-6)
        cols = [E[:, 0], A, B, alpha[:, 0]]
        if not self.tied:
            cols.append(beta[:, 0])
        cols += [rd[:, 0], rn[:, 0]]
        return self.clip(np.column_stack(cols))


def _nnls2(u: np.ndarray, v: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise ``min ||A u + B v - r||`` over ``A, B >= 0`` (two columns: check the four active sets)."""
    uu, vv, uv = (u * u).sum(1), (v * v).sum(1), (u * v).sum(1)
    ur, vr = (u * r).sum(1), (v * r).sum(1)
    det = uu * vv - uv * uv
    with np.errstate(divide="ignore", invalid="ignore"):
        A2 = (vv * ur - uv * vr) / det
        B2 = (uu * vr - uv * ur) / det
        A1 = np.maximum(ur / uu, 0.0)
        B1 = np.maximum(vr / vv, 0.0)
    both = np.isfinite(A2) & np.isfinite(B2) & (A2 >= 0) & (B2 >= 0)
    rr = (r * r).sum(1)
    sse_a = rr - 2 * A1 * ur + A1 * A1 * uu
    sse_b = rr - 2 * B1 * vr + B1 * B1 * vv
    only_a = sse_a <= sse_b
    A = np.where(both, A2, np.where(only_a, A1, 0.0))
    B = np.where(both, B2, np.where(only_a, 0.0, B1))
    return A, B


def data_constrained(
    n: str = "params", d: str = "tokens", u: str = "unique_tokens", tied: bool = False
) -> DataConstrainedLaw:
    """Muennighoff et al.'s data-constrained law on ``params``, ``tokens`` and ``unique_tokens``.

    ``D' = U_D (1 + R_D* (1 - exp(-R_D/R_D*)))`` with ``R_D = max(D/U_D - 1, 0)``;
    ``N' = U_N (1 + R_N* (1 - exp(-R_N/R_N*)))`` with ``U_N = min(N, N_opt(U_D))``, ``R_N = N/U_N - 1`` and
    ``N_opt`` the compute-optimal size for ``U_D`` under the law's own ``A, B, alpha, beta``
    (:func:`compute_optimal_params`). ``tied=True`` uses one exponent ``alpha`` for both terms, as the
    published fit does. The paper fits in two stages: the Chinchilla constants on single-epoch runs,
    then ``R_D*, R_N*`` with those fixed (``law.fix(E=..., A=..., B=..., alpha=...)``).
    """
    if tied:
        shared = f"shared exponent of effective {n} and {d}"
        exps = [Parameter("alpha", 1e-3, 3.0, "identity", description=shared)]
    else:
        exps = [
            Parameter("alpha", 1e-3, 3.0, "identity", description=f"exponent of effective {n}"),
            Parameter("beta", 1e-3, 3.0, "identity", description=f"exponent of effective {d}"),
        ]
    b_exp = "alpha" if tied else "beta"
    return DataConstrainedLaw(
        name="data_constrained",
        inputs=(n, d, u),
        roles={n: "N", d: "D", u: None},
        parameters=(
            Parameter("E", 1e-6, 1e3, "log", description="irreducible loss"),
            Parameter("A", 1e-12, 1e30, "log", description="amplitude of the parameter term"),
            Parameter("B", 1e-12, 1e30, "log", description="amplitude of the data term"),
            *exps,
            Parameter("R_D_star", 1e-3, 1e6, "log", description="decay constant of repeated data (epochs)"),
            Parameter("R_N_star", 1e-3, 1e6, "log", description="decay constant of excess parameters"),
        ),
        description=(
            f"E + A / N'^alpha + B / D'^{b_exp}; D' = {u} (1 + R_D_star (1 - exp(-R_D/R_D_star))), "
            f"R_D = max({d}/{u} - 1, 0); N' = U_N (1 + R_N_star (1 - exp(-R_N/R_N_star))), "
            f"U_N = min({n}, N_opt({u})), R_N = {n}/U_N - 1"
        ),
        reference="Muennighoff et al. 2023, Scaling Data-Constrained Language Models",
        options={"n": n, "d": d, "u": u, "tied": tied},
    )


CATALOG = {"data_constrained": data_constrained}
