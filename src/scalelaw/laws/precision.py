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

The module also holds ``fp_quant``, the floating-point quantization-training law of Sun et al. 2025
(laws.md §8.2; see :class:`FpQuantLaw`), whose form *and* fitted constants were read from the paper.
"""

from __future__ import annotations

import itertools
import math
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
        roles={**dict.fromkeys(inputs), n: "N", d: "D"},  # bit-widths play no role
    )


# --------------------------------------------------------------------------------------------------------------
# Sun et al. 2025: floating-point quantization training ("Capybara" law)

#: Sun et al. 2025 (arXiv:2501.02423v3, ICML 2025), Appendix B, Table 2: constants of Eq. (26), fitted on 358
#: runs (41M-679M parameters, 10B-100B tokens, Dolma v1.7). Loss in nats/token on their data and tokenizer.
SUN2025 = {
    "n": 69.2343,
    "alpha": 0.2368,
    "d": 68973.0621,
    "beta": 0.5162,
    "eps": 1.9061,
    "gamma": 11334.5197,
    "delta": 3.1926,
    "nu": 2.9543,
}
#: Sun et al. 2025, sec. 3.6: channel-wise scaling behaves like one block of ``log2 B ~= 13.1567`` (B ~= 9130).
CHANNEL_LOG2_BLOCK = 13.1567

_FP_FACTORS = ("exp_bits", "man_bits", "block")
_FP_GRID = {"alpha": (0.15, 0.3, 0.5), "beta": (0.15, 0.3, 0.5), "shape": (1.0, 3.0)}


def check_fp_format(X: Mapping[str, np.ndarray], exp_bits: str | None, man_bits: str | None, block: str | None) -> None:
    """Raise :class:`DataError` unless exponent/mantissa bits are finite and >= 0 and block sizes finite and >= 1.

    Arguments name the columns to check (``None``: not a column).

    Examples
    --------
    >>> check_fp_format({"e": np.array([4.0, -1.0])}, "e", None, None)
    Traceback (most recent call last):
    ...
    scalelaw.errors.DataError: column 'e' holds exponent bits, which must be finite and >= 0; rows 1 are not (e.g. -1.0)
    """
    checks = ((exp_bits, 0.0, "exponent bits"), (man_bits, 0.0, "mantissa bits"), (block, 1.0, "block sizes"))
    for column, low, what in checks:
        if column is None:
            continue
        values = np.asarray(X[column], dtype=np.float64)
        bad = ~(np.isfinite(values) & (values >= low))
        if bad.any():
            rows = np.flatnonzero(bad)
            shown = ", ".join(str(int(r)) for r in rows[:8]) + (f" (+{rows.size - 8} more)" if rows.size > 8 else "")
            hint = " (elements sharing one scaling factor; 1 = no quantization loss)" if column == block else ""
            raise DataError(
                f"column {column!r} holds {what}, which must be finite and >= {low:g}{hint}; rows {shown} are not "
                f"(e.g. {float(values[rows[0]])!r})"
            )


@dataclass(frozen=True, eq=False, repr=False)
class FpQuantLaw(Law):
    """Sun et al.'s law: ``n/N^a + d/D^b + eps + (D^b/N^a) log2(B) / (gamma (E+.5)^delta (M+.5)^nu)``.

    Exponent bits ``E``, mantissa bits ``M`` and block size ``B`` are each a data column or, when constant,
    a number in ``options`` (see :func:`fp_quant`). A constant ``E`` (``M``) makes ``delta`` (``nu``)
    unidentifiable: it is dropped and ``gamma`` absorbs ``(E+.5)^delta`` (``(M+.5)^nu``).
    """

    def factor(self, name: str) -> str | float:
        """Column name (str) or fixed value (float) of ``exp_bits``, ``man_bits`` or ``block``."""
        return self.options[name]

    def column(self, name: str) -> str | None:
        """Input column of a factor (``None`` when fixed), by position so :meth:`with_inputs` renames it."""
        if not isinstance(self.factor(name), str):
            return None
        before = _FP_FACTORS[: _FP_FACTORS.index(name)]
        return self.inputs[2 + sum(isinstance(self.factor(f), str) for f in before)]

    def values_of(self, name: str, X: Mapping[str, np.ndarray]) -> np.ndarray:
        """Row vector (1, n_rows) of a factor, from its column or its fixed value."""
        column = self.column(name)
        if column is not None:
            return np.asarray(X[column], dtype=np.float64)[None, :]
        return np.full((1, len(X[self.inputs[0]])), float(self.factor(name)))

    def check(self, X: Mapping[str, np.ndarray]) -> None:
        for column in self.inputs[:2]:
            values = np.asarray(X[column], dtype=np.float64)
            bad = ~(np.isfinite(values) & (values > 0))
            if bad.any():
                raise DataError(
                    f"column {column!r} must be finite and > 0; rows {np.flatnonzero(bad)[:8].tolist()} are not"
                )
        check_fp_format(X, *(self.column(f) for f in _FP_FACTORS))

    def log_quant_factor(self, theta: np.ndarray, X: Mapping[str, np.ndarray]) -> np.ndarray:
        """``log(log2 B / (gamma (E+.5)^delta (M+.5)^nu))`` per set and row (``-inf`` where ``B = 1``)."""
        names = self.param_names
        out = -np.log(theta[:, names.index("gamma"), None])
        with np.errstate(divide="ignore"):
            out = out + np.log(np.log2(self.values_of("block", X)))
        if "delta" in names:
            out = out - theta[:, names.index("delta"), None] * np.log(self.values_of("exp_bits", X) + 0.5)
        if "nu" in names:
            out = out - theta[:, names.index("nu"), None] * np.log(self.values_of("man_bits", X) + 0.5)
        return out

    def log_predict_jac(self, theta, X, jac=True):
        self.check(X)
        names = self.param_names
        p = {name: theta[:, k, None] for k, name in enumerate(names)}
        log_N = np.log(X[self.inputs[0]])[None, :]
        log_D = np.log(X[self.inputs[1]])[None, :]
        terms = [
            np.log(p["n"]) - p["alpha"] * log_N,
            np.log(p["d"]) - p["beta"] * log_D,
            np.log(p["eps"]),
            p["beta"] * log_D - p["alpha"] * log_N + self.log_quant_factor(theta, X),
        ]
        log_pred, shares = log_sum_exp_terms(terms, weights=jac)
        if not jac:
            return log_pred, None
        w_n, w_d, w_e, w_q = np.broadcast_arrays(*shares)
        cols = {
            "n": w_n / p["n"],
            "alpha": -(w_n + w_q) * log_N,
            "d": w_d / p["d"],
            "beta": (w_q - w_d) * log_D,
            "eps": w_e / p["eps"],
            "gamma": -w_q / p["gamma"],
        }
        if "delta" in names:
            cols["delta"] = -w_q * np.log(self.values_of("exp_bits", X) + 0.5)
        if "nu" in names:
            cols["nu"] = -w_q * np.log(self.values_of("man_bits", X) + 0.5)
        J = np.stack(np.broadcast_arrays(*(cols[n] for n in names)), axis=1)
        return log_pred, J

    def start_grid(self, X, y):
        # eps on fractions of min L, exponents (alpha, beta, delta, nu) on grids, and the three amplitudes
        # (n, d, 1/gamma) by non-negative least squares of the relative residual given the rest.
        self.check(X)
        names = self.param_names
        y = np.asarray(y, dtype=np.float64)
        shapes = [n for n in ("delta", "nu") if n in names]
        axes = [_E_FRACS, _FP_GRID["alpha"], _FP_GRID["beta"], *([_FP_GRID["shape"]] * len(shapes))]
        combos = np.array(list(itertools.product(*axes)))
        values = {"eps": combos[:, 0] * float(np.min(y)), "alpha": combos[:, 1], "beta": combos[:, 2]}
        values.update({n: combos[:, 3 + k] for k, n in enumerate(shapes)})
        probe = np.column_stack([values.get(n, np.ones(len(combos))) for n in names])  # gamma = 1 here
        log_N = np.log(X[self.inputs[0]])[None, :]
        log_D = np.log(X[self.inputs[1]])[None, :]
        a, b = values["alpha"][:, None], values["beta"][:, None]
        with np.errstate(over="ignore"):
            features = [
                np.exp(-a * log_N),
                np.exp(-b * log_D),
                np.exp(b * log_D - a * log_N + self.log_quant_factor(probe, X)),
            ]
        coef = _nnls(np.stack([f / y for f in features], axis=1), 1.0 - values["eps"][:, None] / y)
        coef = np.maximum(coef, 1e-9)
        values.update(n=coef[:, 0], d=coef[:, 1], gamma=1.0 / coef[:, 2])
        return self.clip(np.column_stack([values[n] for n in names]))

    def bind(self, inputs: Mapping[str, Any]) -> dict[str, np.ndarray]:
        X = super().bind(inputs)
        self.check(X)
        return X


def _fp_factor(name: str, value: str | float) -> str | float:
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise LawError(f"fp_quant: {name} must be a column name or a number, got {value!r}")
    low = 1.0 if name == "block" else 0.0
    if not (math.isfinite(value) and value >= low):
        raise LawError(f"fp_quant: a fixed {name} must be finite and >= {low:g}, got {value!r}")
    if name == "block" and value == 1:
        raise LawError(
            "fp_quant: block=1 keeps a full-precision scale per element (no quantization term); fit chinchilla"
        )
    return float(value)


def fp_quant(
    n: str = "params",
    d: str = "tokens",
    exp_bits: str | float = "exp_bits",
    man_bits: str | float = "man_bits",
    block: str | float = "block",
) -> FpQuantLaw:
    """Sun et al. 2025's floating-point quantization-training law ("Capybara", laws.md §8.2).

        L = n/N^alpha + d/D^beta + eps + (D^beta / N^alpha) * log2(B) / (gamma (E+0.5)^delta (M+0.5)^nu)

    ``E``/``M`` are the exponent/mantissa bits of the quantized GEMM inputs (sign bit excluded, so
    ``P = E + M + 1``) and ``B`` the block size: elements sharing one high-precision scaling factor
    (``B = 1``: no quantization loss; channel-wise scaling acts like ``log2 B = 13.1567``,
    :data:`CHANNEL_LOG2_BLOCK`). The quantization term grows with ``D``, so at fixed ``N`` the loss has
    a minimum: the critical data size (:func:`scalelaw.decisions.precision.critical_data_size`).

    Parameters
    ----------
    n, d : str
        Columns of parameters and training tokens.
    exp_bits, man_bits, block : str or float
        Column name, or a fixed value when every run shares it. A fixed ``exp_bits`` drops ``delta``,
        a fixed ``man_bits`` drops ``nu`` (``gamma`` then absorbs their constant factor).

    Examples
    --------
    >>> law = fp_quant()
    >>> law.inputs, law.param_names
    (('params', 'tokens', 'exp_bits', 'man_bits', 'block'), ('n', 'alpha', 'd', 'beta', 'eps', 'gamma', 'delta', 'nu'))
    >>> loss = law.predict(SUN2025, params=1e9, tokens=1e11, exp_bits=[2, 4, 8], man_bits=[1, 3, 7], block=128)
    >>> [round(float(x), 4) for x in loss]
    [2.5979, 2.5631, 2.5626]
    >>> fp_quant(exp_bits=4, man_bits=3).param_names
    ('n', 'alpha', 'd', 'beta', 'eps', 'gamma')
    """
    factors = {
        name: _fp_factor(name, value) for name, value in zip(_FP_FACTORS, (exp_bits, man_bits, block), strict=True)
    }
    columns = tuple(v for v in factors.values() if isinstance(v, str))
    inputs = (n, d, *columns)
    if len(set(inputs)) != len(inputs):
        raise LawError(f"fp_quant inputs must be distinct columns, got {', '.join(inputs)}")
    params = [
        Parameter("n", 1e-12, 1e30, "log", description=f"amplitude of the {n} term"),
        Parameter("alpha", 0.0, 3.0, "identity", description=f"exponent of {n}"),
        Parameter("d", 1e-12, 1e30, "log", description=f"amplitude of the {d} term"),
        Parameter("beta", 0.0, 3.0, "identity", description=f"exponent of {d}"),
        Parameter("eps", 1e-6, 1e3, "log", description="irreducible loss"),
        Parameter("gamma", 1e-12, 1e30, "log", description="inverse amplitude of the quantization term"),
    ]
    if isinstance(factors["exp_bits"], str):
        params.append(Parameter("delta", 0.0, 20.0, "identity", description="power of (exponent bits + 0.5)"))
    if isinstance(factors["man_bits"], str):
        params.append(Parameter("nu", 0.0, 20.0, "identity", description="power of (mantissa bits + 0.5)"))
    E, M, B = (v if isinstance(v, str) else f"{v:g}" for v in factors.values())
    names = [p.name for p in params]
    denominator = " * ".join(
        ["gamma"] + [f"({E} + 0.5)^delta"] * ("delta" in names) + [f"({M} + 0.5)^nu"] * ("nu" in names)
    )
    return FpQuantLaw(
        name="fp_quant",
        inputs=inputs,
        parameters=tuple(params),
        description=f"n / {n}^alpha + d / {d}^beta + eps + {d}^beta / {n}^alpha * log2({B}) / ({denominator})",
        reference=(
            "Sun et al. 2025, Scaling Laws for Floating-Point Quantization Training (ICML 2025), arXiv:2501.02423v3: "
            "form Eq. (1)/(18)/(26), constants Appendix B Table 2 (scalelaw.laws.precision.SUN2025)"
        ),
        options={"n": n, "d": d, **factors},
        roles={**dict.fromkeys(inputs), n: "N", d: "D"},  # exponent, mantissa and block columns play no role
    )


CATALOG = {"precision": precision, "fp_quant": fp_quant}
