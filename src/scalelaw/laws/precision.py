"""Precision-aware scaling law (Kumar et al. 2024, "Scaling Laws for Precision"; laws.md §8.1).

Training in low precision lowers a model's *effective* parameter count,

    N_eff = N * prod_i (1 - exp(-P_i / gamma_i)),

one factor per quantized part (weights ``bits_w``, activations ``bits_a``, KV cache ``bits_kv``), and the
loss is Chinchilla's form in ``N_eff``:

    L = E + A * N_eff^-alpha + B * D^-beta  [+ C_T * exp(-P_post/gamma_post) * D^gamma_D / N^gamma_N].

The optional last term is the degradation from post-training quantization (PTQ) to ``P_post`` bits,
which grows with the training tokens ``D`` at fixed ``N``.

Provenance: the paper's abstract (arxiv.org/abs/2411.04330) confirms the ingredients (an effective
parameter count lowered by training precision; PTQ degradation growing with data). The exact expressions
above are those of laws.md §8.1 [P*] and of an independent summary of the paper; the paper's fitted
constants (gamma_w, gamma_a, gamma_kv, C_T, gamma_post, gamma_D, gamma_N) were *not* found in any source
we could read, so none are shipped. The paper's unified form also lets training precision change the PTQ
term (N_eff in place of N and a robustness factor); that refinement is not implemented here.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from scalelaw.errors import DataError, LawError
from scalelaw.laws.law import Law, Parameter, log_sum_exp_terms

#: Start values of every sensitivity gamma (bits); the factor 1 - exp(-P/gamma) is ~1 at P = 16 for all.
_GAMMA_GRID = (1.0, 2.0, 3.5, 6.0)
_EXP_GRID = (0.15, 0.3, 0.5)
_E_FRACS = (0.3, 0.6, 0.85)
_PTQ_GRID = {"gamma_post": (1.0, 3.0), "gamma_D": (0.2, 0.6), "gamma_N": (0.2, 0.6)}


def gamma_name(column: str) -> str:
    """Name of the sensitivity parameter of a precision column: ``bits_w`` -> ``gamma_w``.

    Examples
    --------
    >>> gamma_name("bits_kv"), gamma_name("act_bits")
    ('gamma_kv', 'gamma_act_bits')
    """
    suffix = column[len("bits_") :] if column.startswith("bits_") and len(column) > len("bits_") else column
    return f"gamma_{suffix}"


def check_bits(X: Mapping[str, np.ndarray], columns: Sequence[str]) -> None:
    """Raise :class:`DataError` unless every bit-width in ``columns`` is finite and > 0."""
    for column in columns:
        values = np.asarray(X[column], dtype=np.float64)
        bad = ~(np.isfinite(values) & (values > 0))
        if bad.any():
            rows = np.flatnonzero(bad)
            shown = ", ".join(str(int(r)) for r in rows[:8]) + (f" (+{rows.size - 8} more)" if rows.size > 8 else "")
            raise DataError(
                f"column {column!r} holds bit-widths, which must be finite and > 0; rows {shown} are not "
                f"(e.g. {values[rows[0]]!r}). Use 16 for bfloat16/float16 and 32 for float32"
            )


@dataclass(frozen=True, eq=False)
class PrecisionLaw(Law):
    """``E + A N_eff^-alpha + B D^-beta`` with ``N_eff = N prod_i (1 - exp(-P_i/gamma_i))`` [+ PTQ term]."""

    @property
    def bits(self) -> tuple[str, ...]:
        """Training-precision columns (inputs after ``params`` and ``tokens``, before ``bits_post``)."""
        end = len(self.inputs) - (1 if self.ptq else 0)
        return tuple(self.inputs[2:end])

    @property
    def ptq(self) -> bool:
        return bool(self.options.get("ptq", False))

    @property
    def tied(self) -> bool:
        return bool(self.options.get("tied", False))

    @property
    def gamma_names(self) -> tuple[str, ...]:
        """Parameter used by each training-precision column, in column order."""
        if self.tied:
            return ("gamma",) * len(self.bits)
        return tuple(gamma_name(c) for c in self.options["bits"])

    def log_effective_factor(self, theta: np.ndarray, X: Mapping[str, np.ndarray]) -> np.ndarray:
        """``log(N_eff / N)`` for each parameter set and row, shape (n_sets, n_rows)."""
        total = np.zeros((theta.shape[0], len(X[self.inputs[0]])))
        for column, gname in zip(self.bits, self.gamma_names, strict=True):
            gamma = theta[:, self.param_names.index(gname), None]
            total = total + np.log(-np.expm1(-X[column][None, :] / gamma))
        return total

    def log_predict_jac(self, theta, X, jac=True):
        check_bits(X, self.inputs[2:])
        names = self.param_names
        log_N = np.log(X[self.inputs[0]])[None, :]
        log_D = np.log(X[self.inputs[1]])[None, :]
        E, A, B, alpha, beta = (theta[:, k, None] for k in range(5))
        log_Neff = log_N + self.log_effective_factor(theta, X)
        terms = [np.log(E), np.log(A) - alpha * log_Neff, np.log(B) - beta * log_D]
        if self.ptq:
            C, g_post, g_D, g_N = (theta[:, names.index(n), None] for n in ("C_T", "gamma_post", "gamma_D", "gamma_N"))
            P_post = X[self.inputs[-1]][None, :]
            terms.append(np.log(C) - P_post / g_post + g_D * log_D - g_N * log_N)
        log_pred, shares = log_sum_exp_terms(terms, weights=jac)
        if not jac:
            return log_pred, None
        shares = np.broadcast_arrays(*shares)
        w_E, w_A, w_B = shares[:3]
        cols: dict[str, np.ndarray] = {
            "E": w_E / E,
            "A": w_A / A,
            "B": w_B / B,
            "alpha": -w_A * log_Neff,
            "beta": -w_B * log_D,
        }
        for column, gname in zip(self.bits, self.gamma_names, strict=True):
            # d/dgamma log(1 - exp(-P/gamma)) = -(P/gamma^2) / expm1(P/gamma); times -alpha * w_A.
            gamma = theta[:, names.index(gname), None]
            P = X[column][None, :]
            with np.errstate(over="ignore"):
                d = alpha * w_A * (P / gamma**2) / np.expm1(P / gamma)
            cols[gname] = cols.get(gname, 0.0) + d
        if self.ptq:
            w_C = shares[3]
            cols.update(
                C_T=w_C / C,
                gamma_post=w_C * P_post / g_post**2,
                gamma_D=w_C * log_D,
                gamma_N=-w_C * log_N,
            )
        J = np.stack(np.broadcast_arrays(*(cols[n] for n in names)), axis=1)
        return log_pred, J

    def start_grid(self, X, y):
        # Data-dependent starts (laws.md §13 style): E on fractions of min L, exponents and every gamma on a
        # grid (all gammas share one start value), and the amplitudes A, B (and C_T) by non-negative least
        # squares of the relative residual given the rest.
        check_bits(X, self.inputs[2:])
        N, D = (np.asarray(X[c], dtype=np.float64) for c in self.inputs[:2])
        y = np.asarray(y, dtype=np.float64)
        y_min = float(np.min(y))
        ptq_grid = list(itertools.product(*_PTQ_GRID.values())) if self.ptq else [()]
        combos = list(itertools.product(_E_FRACS, _EXP_GRID, _EXP_GRID, _GAMMA_GRID, ptq_grid))
        E = np.array([f * y_min for f, *_ in combos])[:, None]
        alpha = np.array([c[1] for c in combos])[:, None]
        beta = np.array([c[2] for c in combos])[:, None]
        gamma = np.array([c[3] for c in combos])[:, None]
        log_factor = sum(np.log(-np.expm1(-X[c][None, :] / gamma)) for c in self.bits)
        features = [np.exp(-alpha * (np.log(N)[None, :] + log_factor)), D[None, :] ** -beta]
        if self.ptq:
            g_post, g_D, g_N = (np.array([c[4][k] for c in combos])[:, None] for k in range(3))
            P_post = X[self.inputs[-1]][None, :]
            features.append(np.exp(-P_post / g_post + g_D * np.log(D)[None, :] - g_N * np.log(N)[None, :]))
        coef = _nnls(np.stack([f / y for f in features], axis=1), 1.0 - E / y)
        coef = np.maximum(coef, 1e-6)
        values: dict[str, np.ndarray] = {"E": E[:, 0], "A": coef[:, 0], "B": coef[:, 1]}
        values.update(alpha=alpha[:, 0], beta=beta[:, 0])
        for gname in set(self.gamma_names):
            values[gname] = gamma[:, 0]
        if self.ptq:
            values.update(C_T=coef[:, 2], gamma_post=g_post[:, 0], gamma_D=g_D[:, 0], gamma_N=g_N[:, 0])
        return self.clip(np.column_stack([values[n] for n in self.param_names]))

    def bind(self, inputs: Mapping[str, Any]) -> dict[str, np.ndarray]:
        X = super().bind(inputs)
        check_bits(X, self.inputs[2:])
        return X


def _nnls(F: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Row-wise ``min ||F_s^T c - r_s||`` over ``c >= 0``, ``F`` (sets, k, rows), k small: every active set."""
    n_sets, k, _ = F.shape
    G = np.einsum("skn,sjn->skj", F, F)
    h = np.einsum("skn,sn->sk", F, r)
    rr = np.einsum("sn,sn->s", r, r)
    best = np.zeros((n_sets, k))
    best_sse = rr.copy()
    for size in range(1, k + 1):
        for subset in itertools.combinations(range(k), size):
            idx = list(subset)
            Gs = G[:, idx][:, :, idx] + 1e-12 * np.eye(size) * np.trace(G, axis1=1, axis2=2)[:, None, None]
            try:
                c = np.linalg.solve(Gs, h[:, idx, None])[:, :, 0]
            except np.linalg.LinAlgError:
                continue
            sse = rr - 2 * np.einsum("sk,sk->s", c, h[:, idx]) + np.einsum("sk,skj,sj->s", c, G[:, idx][:, :, idx], c)
            ok = np.all(c >= 0, axis=1) & np.isfinite(sse) & (sse < best_sse)
            full = np.zeros((n_sets, k))
            full[:, idx] = c
            best = np.where(ok[:, None], full, best)
            best_sse = np.where(ok, sse, best_sse)
    return best


def precision(
    n: str = "params",
    d: str = "tokens",
    bits: str | Sequence[str] = ("bits_w",),
    tied: bool = False,
    ptq: bool = False,
    post: str = "bits_post",
) -> PrecisionLaw:
    """Kumar et al.'s precision-aware law: Chinchilla in the effective parameter count.

    Parameters
    ----------
    n, d : str
        Columns of parameters and training tokens.
    bits : str or sequence of str
        Training-precision columns (bits), each with its own sensitivity ``gamma_<suffix>``
        (``bits_w`` -> ``gamma_w``, ``bits_a`` -> ``gamma_a``, ``bits_kv`` -> ``gamma_kv``).
        Default: weights only.
    tied : bool
        One sensitivity ``gamma`` shared by every precision column.
    ptq : bool
        Add the post-training quantization term ``C_T exp(-P_post/gamma_post) D^gamma_D / N^gamma_N``,
        reading the post-training bit-width from column ``post``.

    Examples
    --------
    >>> law = precision(bits=["bits_w", "bits_a"], ptq=True)
    >>> law.param_names
    ('E', 'A', 'B', 'alpha', 'beta', 'gamma_w', 'gamma_a', 'C_T', 'gamma_post', 'gamma_D', 'gamma_N')
    >>> truth = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28, "gamma_w": 2.5, "gamma_a": 2.5,
    ...          "C_T": 1e-3, "gamma_post": 2.0, "gamma_D": 0.5, "gamma_N": 0.5}
    >>> bool(law.predict(truth, params=1e8, tokens=2e9, bits_w=4, bits_a=4, bits_post=16)[0]
    ...      > law.predict(truth, params=1e8, tokens=2e9, bits_w=16, bits_a=16, bits_post=16)[0])
    True
    """
    columns = [bits] if isinstance(bits, str) else list(bits)
    if not columns:
        raise LawError("precision law needs at least one training-precision column, e.g. bits='bits_w'")
    inputs = (n, d, *columns, *((post,) if ptq else ()))
    if len(set(inputs)) != len(inputs):
        raise LawError(f"precision law inputs must be distinct columns, got {', '.join(inputs)}")
    gammas = ["gamma"] if tied else [gamma_name(c) for c in columns]
    if len(set(gammas)) != len(gammas):
        raise LawError(f"precision columns {columns} give repeated parameter names {gammas}; rename the columns")
    params = [
        Parameter("E", 1e-6, 1e3, "log", description="irreducible loss"),
        Parameter("A", 1e-12, 1e30, "log", description="amplitude of the effective-parameter term"),
        Parameter("B", 1e-12, 1e30, "log", description="amplitude of the data term"),
        Parameter("alpha", 0.0, 3.0, "identity", description=f"exponent of the effective {n}"),
        Parameter("beta", 0.0, 3.0, "identity", description=f"exponent of {d}"),
    ]
    for g, c in zip(gammas, columns, strict=False):
        what = "every precision column" if tied else c
        params.append(Parameter(g, 0.05, 100.0, "log", description=f"sensitivity (bits) of {what}"))
    per_column = ["gamma"] * len(columns) if tied else gammas
    factor = " * ".join(f"(1 - exp(-{c}/{g}))" for c, g in zip(columns, per_column, strict=True))
    description = f"E + A * ({n} * {factor})^(-alpha) + B / {d}^beta"
    if ptq:
        params += [
            Parameter("C_T", 1e-30, 1e30, "log", description="amplitude of the post-training-quantization term"),
            Parameter("gamma_post", 0.05, 100.0, "log", description=f"sensitivity (bits) of {post}"),
            Parameter("gamma_D", 0.0, 3.0, "identity", description=f"growth exponent of PTQ loss in {d}"),
            Parameter("gamma_N", 0.0, 3.0, "identity", description=f"decay exponent of PTQ loss in {n}"),
        ]
        description += f" + C_T * exp(-{post}/gamma_post) * {d}^gamma_D / {n}^gamma_N"
    return PrecisionLaw(
        name="precision",
        inputs=inputs,
        parameters=tuple(params),
        description=description,
        reference="Kumar et al. 2024, Scaling Laws for Precision (ICLR 2025), arXiv:2411.04330",
        options={"n": n, "d": d, "bits": columns, "tied": bool(tied), "ptq": bool(ptq), "post": post},
    )


CATALOG = {"precision": precision}
