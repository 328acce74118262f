"""Laws that bend: Alabdulmohsin's M4 (saturating at both ends) and Broken Neural Scaling Laws.

Formulas, grids and provenance: ``docs/laws.md`` §1.3 (M4), §1.4 (BNSL), §13 (start grids),
§15.7 (oracles).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from scalelaw.errors import LawError
from scalelaw.laws.law import CANONICAL_ROLES, Law, Parameter, log_sum_exp_terms


def _softplus(t: np.ndarray) -> np.ndarray:
    """``log(1 + exp(t))`` without overflow."""
    return np.maximum(t, 0.0) + np.log1p(np.exp(-np.abs(t)))


def _sigmoid(t: np.ndarray) -> np.ndarray:
    """``1 / (1 + exp(-t))`` without overflow."""
    e = np.exp(-np.abs(t))
    return np.where(t >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


# ---------------------------------------------------------------------------------------------- M4

#: The logit of the M4 root is kept in [-_T_MAX, _T_MAX]; beyond about 750 the prediction no longer
#: changes in double precision (it sits exactly on L0, or on L_inf when L_inf > 0).
_T_MAX = 1e6
_NEWTON_MAX_ITER = 100


def _solve_m4_logit(s: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Root ``t`` of ``alpha * softplus(t) - softplus(-t) = s`` for every entry at once.

    With ``u = sigmoid(t)`` this is ``log u - alpha * log(1 - u) = s``. The left side is increasing,
    with slope ``1 - u + alpha * u`` between ``min(1, alpha)`` and ``max(1, alpha)``; it is convex
    for ``alpha > 1`` and concave for ``alpha < 1``, so Newton's iterates are monotone after the first
    step. A bracket kept alongside (bisection whenever Newton leaves it) makes the iteration safe
    anyway. Typically converges to machine precision in under 15 steps.
    """
    s, alpha = np.broadcast_arrays(s, alpha)
    # Start on the asymptotes: phi(t) ~ t for t << 0 and ~ alpha * t for t >> 0.
    t = np.where(s > 0, s / np.maximum(alpha, 1e-300), s)
    t = np.clip(t, -_T_MAX, _T_MAX)
    lo = np.full(t.shape, -_T_MAX)
    hi = np.full(t.shape, _T_MAX)
    for _ in range(_NEWTON_MAX_ITER):
        r = s - (alpha * _softplus(t) - _softplus(-t))
        lo = np.where(r >= 0, np.maximum(lo, t), lo)
        hi = np.where(r <= 0, np.minimum(hi, t), hi)
        t_new = t + r / (_sigmoid(-t) + alpha * _sigmoid(t))
        t_new = np.where((t_new < lo) | (t_new > hi) | ~np.isfinite(t_new), 0.5 * (lo + hi), t_new)
        done = np.abs(t_new - t) <= 1e-14 * (1.0 + np.abs(t))
        t = t_new
        if done.all():
            break
    return t


@dataclass(frozen=True, eq=False)
class M4Law(Law):
    """``(L - L_inf) / (L0 - L)^alpha = beta * x^c`` solved for ``L`` in ``(L_inf, L0)``.

    ``c <= 0`` is stored with its sign, as in the paper and its reference code (laws.md §1.3).
    The root is found for every (set, row) at once by safeguarded Newton on the logit
    ``t = log(w / (G - w))`` of the relative position ``w / G`` of ``L`` between the ends
    (``w = L - L_inf``, ``G = L0 - L_inf``); the Jacobian follows from the implicit function theorem.
    Parameter sets with ``L0 <= L_inf`` have no prediction (NaN, which the optimizer treats as an
    infinite objective). At ``alpha = 0`` the law is the alpha -> 0+ limit ``L_inf + min(f, G)``,
    i.e. M2 ``L_inf + beta * x^c`` below L0.
    """

    def log_predict_jac(self, theta, X, jac=True):
        log_x = np.log(X[self.inputs[0]])[None, :]
        L_inf, L0, beta, c, alpha = (theta[:, [k]] for k in range(5))
        with np.errstate(all="ignore"):
            G = L0 - L_inf
            valid = G > 0
            log_G = np.log(np.where(valid, G, 1.0))
            # log u - alpha log(1 - u) = log(beta x^c) + (alpha - 1) log G, with u = (L - L_inf) / G.
            s = np.log(beta) + c * log_x + (alpha - 1.0) * log_G
            s = np.where(np.isfinite(s), s, 0.0)
            t = _solve_m4_logit(s, alpha)
            sp_pos, sp_neg = _softplus(t), _softplus(-t)  # -log(1 - u), -log(u)
            # L = (1 - u) L_inf + u L0, summed in log space.
            log_pred, _ = log_sum_exp_terms([np.log(L_inf) - sp_pos, np.log(L0) - sp_neg], weights=False)
            log_pred = np.where(valid, log_pred, np.nan)
            if not jac:
                return log_pred, None
            one_minus_u_over_L = np.exp(-sp_pos - log_pred)
            u_over_L = np.exp(-sp_neg - log_pred)
            # K = (d log L / d t) / (d phi / d t) = G u (1 - u) / L / (1 - u + alpha u); it is 0 where the
            # root is saturated (u == 1 in double precision), including alpha = 0 above L0 (where 0/0).
            top = G * np.exp(-sp_pos - sp_neg - log_pred)
            K = np.where(top > 0, top / (np.exp(-sp_pos) + alpha * np.exp(-sp_neg)), 0.0)
            J = np.stack(
                np.broadcast_arrays(
                    one_minus_u_over_L - K * (alpha - 1.0) / G,
                    u_over_L + K * (alpha - 1.0) / G,
                    K / beta,
                    K * log_x,
                    K * (log_G - sp_pos),
                ),
                axis=1,
            )
        return log_pred, J

    def start_grid(self, X, y):
        # laws.md §13, a little wider: L_inf in {0, .5, .8, .95} min L, c in {-.1, -.2, -.5, -1},
        # alpha in {0, .5, 1, 2}, L0 at the chance loss when known (option L0), else four values above
        # max L; log beta by least squares of log(L - L_inf) - alpha log(L0 - L) - c log x given the rest.
        log_x = np.log(X[self.inputs[0]])
        y = np.asarray(y, dtype=np.float64)
        y_min, y_max = float(np.min(y)), float(np.max(y))
        span = max(y_max - y_min, 1e-3 * y_max)
        known = self.options.get("L0")
        if known is not None and known > y_max:
            L0s: tuple[float, ...] = (float(known),)
        else:
            L0s = tuple(y_max + k * span for k in (0.02, 0.1, 0.5, 2.0))
        starts = []
        for L0, frac, c, alpha in itertools.product(
            L0s, (0.0, 0.5, 0.8, 0.95), (-0.1, -0.2, -0.5, -1.0), (0.0, 0.5, 1.0, 2.0)
        ):
            L_inf = frac * y_min
            target = np.log(y - L_inf) - alpha * np.log(L0 - y) - c * log_x
            starts.append((L_inf, L0, float(np.exp(np.mean(target))), c, alpha))
        # At alpha = 0 the law is L_inf + min(beta x^c, L0 - L_inf): with L0 on the largest loss, that point
        # is fitted by the cap and the power law serves the rest. That basin is narrow (on 9-point envelopes
        # about 1 start in 256 reached it, and which one depended on rounding), so it gets starts of its own.
        if known is None or known <= y_max:
            for frac, c in itertools.product((0.0, 0.5, 0.8, 0.95), (-0.1, -0.2, -0.5, -1.0)):
                L_inf = frac * y_min
                starts.append((L_inf, y_max, float(np.exp(np.mean(np.log(y - L_inf) - c * log_x))), c, 0.0))
        return self.clip(np.array(starts))


_M4_REFERENCE = "Alabdulmohsin, Neyshabur, Zhai 2022, Revisiting Neural Scaling Laws in Language and Vision"


def m4(x: str = "flops", L0: float | None = None) -> M4Law:
    """Alabdulmohsin et al.'s M4 on input ``x``: saturates at ``L0`` for small ``x`` and ``L_inf`` for large.

    Parameters
    ----------
    x : str
        Input column (data size, ``tokens``, ``flops``, ...).
    L0 : float, optional
        Known loss at the small-``x`` end (the random-guess loss, e.g. ``log(vocab_size)`` for a language
        model, ``log K`` for K-way classification). It is used as the start value of the parameter
        ``L0``, which stays free; hold it fixed with ``.fix``::

            law = get_law("m4", x="tokens", L0=np.log(50257)).fix(L0=np.log(50257))

    Notes
    -----
    The exponent ``c`` is stored negative (the reference code's sign convention): the reducible
    loss falls like ``x^c``.
    """
    if L0 is not None:
        L0 = float(L0)
        if not 0.0 < L0 < 1e6:
            raise LawError(f"m4: L0 must lie in (0, 1e6), got {L0}")
    return M4Law(
        name="m4",
        inputs=(x,),
        roles={x: CANONICAL_ROLES.get(x)},
        parameters=(
            Parameter("L_inf", 0.0, 1e6, "identity", description="loss floor at large x (L_inf < L0)"),
            Parameter("L0", 0.0, 1e6, "identity", description="loss at small x (random-guess loss)"),
            Parameter("beta", 1e-30, 1e60, "log", description="amplitude of the power term"),
            Parameter("c", -5.0, 0.0, "identity", description=f"exponent of {x} (negative)"),
            Parameter("alpha", 0.0, 5.0, "identity", description="shape exponent of the small-x saturation"),
        ),
        description=f"L solving (L - L_inf) / (L0 - L)^alpha = beta * {x}^c",
        reference=_M4_REFERENCE,
        options={"x": x, "L0": L0},
    )


# -------------------------------------------------------------------------------------------- BNSL


@dataclass(frozen=True, eq=False)
class BNSLLaw(Law):
    """``y = a + b x^(-c0) prod_i (1 + (x/d_i)^(1/f_i))^(-c_i f_i)`` (Caballero et al. 2023).

    The reducible term is evaluated in log space,
    ``log b - c0 log x - sum_i c_i f_i softplus((log x - log d_i) / f_i)``, so no break overflows.
    Parameters: ``a, b, c0`` then ``c_i, d_i, f_i`` for each break.
    """

    @property
    def n_breaks(self) -> int:
        return (self.n_params - 3) // 3

    def log_predict_jac(self, theta, X, jac=True):
        log_x = np.log(X[self.inputs[0]])[None, :]
        a, b, c0 = theta[:, [0]], theta[:, [1]], theta[:, [2]]
        log_r = np.log(b) - c0 * log_x
        parts = []
        for i in range(self.n_breaks):
            c, d, f = (theta[:, [3 + 3 * i + k]] for k in range(3))
            z = (log_x - np.log(d)) / f
            sp = _softplus(z)
            log_r = log_r - c * f * sp
            parts.append((c, d, f, z, sp))
        with np.errstate(divide="ignore", invalid="ignore"):
            log_a = np.log(a)  # -inf for a = 0; NaN (no prediction) below the bound
        log_pred, shares = log_sum_exp_terms([log_a, log_r], weights=jac)
        if not jac:
            return log_pred, None
        w = shares[1]  # d log y / d log r
        cols = [np.exp(-log_pred), w / b, -w * log_x]
        for c, d, f, z, sp in parts:
            sig = _sigmoid(z)
            # d/df of f softplus(z) is softplus(z) - z sigmoid(z) = softplus(-|z|) + |z| sigmoid(-|z|):
            # the second form has no cancellation far from the break.
            g = _softplus(-np.abs(z)) + np.abs(z) * _sigmoid(-np.abs(z))
            cols += [-w * f * sp, w * c * sig / d, -w * c * g]
        J = np.stack(np.broadcast_arrays(*cols), axis=1)
        return log_pred, J

    def start_grid(self, X, y):
        # laws.md §1.4: log d_i on observed log x quantiles, c0 in {.05, .2, .5},
        # c_i in {-.5, -.1, .1, .5, 1}, f_i in {.1, .5, 2}, a in {0, .5 min y} (plus .9 min y),
        # log b by least squares given the rest.
        # Two breaks: ordered pairs of quantiles, a shared f, coarser c0 and c_i grids (2,880 starts).
        log_x = np.log(X[self.inputs[0]])
        y = np.asarray(y, dtype=np.float64)
        y_min = float(np.min(y))
        log_q = np.quantile(log_x, (0.1, 0.3, 0.5, 0.7, 0.9))
        n = self.n_breaks
        c0s, fracs = (0.05, 0.2, 0.5), (0.0, 0.5, 0.9)
        if n == 0:
            c0s, fracs = (0.05, 0.1, 0.2, 0.35, 0.5, 0.8), (0.0, 0.25, 0.5, 0.75, 0.9)
            breaks: list[tuple[tuple[float, float, float], ...]] = [()]
        elif n == 1:
            cs, fs = (-0.5, -0.1, 0.1, 0.5, 1.0), (0.1, 0.5, 2.0)
            breaks = [((c, ld, f),) for ld, c, f in itertools.product(log_q, cs, fs)]
        else:
            c0s, cs = (0.05, 0.3), (-0.5, -0.1, 0.2, 1.0)
            breaks = [
                tuple((c, ld, f) for c, ld in zip(cc, pair, strict=True))
                for pair, cc, f in itertools.product(
                    itertools.combinations(log_q, 2), itertools.product(cs, repeat=n), (0.1, 0.5, 2.0)
                )
            ]
        starts = []
        for frac, c0, brk in itertools.product(fracs, c0s, breaks):
            a = frac * y_min
            rest = -c0 * log_x
            flat = []
            for c, ld, f in brk:
                rest = rest - c * f * _softplus((log_x - ld) / f)
                flat += [c, float(np.exp(ld)), f]
            log_b = float(np.mean(np.log(y - a) - rest))
            starts.append([a, np.exp(log_b), c0, *flat])
        return self.clip(np.array(starts, dtype=np.float64))


def bnsl(x: str = "flops", breaks: int = 1) -> BNSLLaw:
    """Broken neural scaling law on input ``x`` with ``breaks`` (0, 1 or 2) breaks.

    ``breaks=0`` is the power law plus constant. Each break adds a change of slope ``c_i`` (the
    log-log slope of ``y - a`` goes from ``-c0`` to ``-(c0 + c_1 + ... + c_i)``), its location
    ``d_i`` (in units of ``x``) and sharpness ``f_i`` (smaller is sharper). A break outside the data
    cannot be identified: every break should have several points on each side.
    """
    if breaks not in (0, 1, 2):
        raise LawError(f"bnsl: breaks must be 0, 1 or 2, got {breaks!r}")
    params = [
        Parameter("a", 0.0, 1e6, "identity", description="limit value at large x (floor)"),
        Parameter("b", 1e-30, 1e60, "log", description="amplitude of the reducible term"),
        Parameter("c0", -5.0, 5.0, "identity", description=f"initial log-log slope (exponent of {x})"),
    ]
    factors = []
    for i in range(1, breaks + 1):
        params += [
            Parameter(f"c{i}", -5.0, 5.0, "identity", description=f"change of slope at break {i}"),
            Parameter(f"d{i}", 1e-30, 1e60, "log", description=f"location of break {i}, in units of {x}"),
            Parameter(f"f{i}", 0.01, 10.0, "log", description=f"sharpness of break {i} (smaller is sharper)"),
        ]
        factors.append(f" * (1 + ({x}/d{i})^(1/f{i}))^(-c{i}*f{i})")
    return BNSLLaw(
        name="bnsl",
        inputs=(x,),
        roles={x: CANONICAL_ROLES.get(x)},
        parameters=tuple(params),
        description=f"a + b * {x}^(-c0)" + "".join(factors),
        reference="Caballero, Gupta, Rish, Krueger 2023, Broken Neural Scaling Laws",
        options={"x": x, "breaks": breaks},
    )


CATALOG = {"m4": m4, "bnsl": bnsl}
