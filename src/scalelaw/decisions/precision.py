"""Decisions from a fitted precision law (Kumar et al. 2024; laws.md §8.1).

* :func:`effective_params` — the effective parameter count ``N_eff = N prod_i (1 - exp(-P_i/gamma_i))``.
* :func:`optimal_precision` — the training precision, size and tokens that minimize the loss at a compute
  budget when compute grows with bits: ``C = k N D cost(P)``, by default ``cost(P) = P/16`` (16-bit
  training costs ``k N D``; 8-bit half of that).
* :func:`critical_tokens` — the over-training point beyond which more data *raises* the loss of a
  post-training-quantized model (``dL/dD = 0``).
* :func:`ptq_degradation` — the loss added by post-training quantization.

From a fitted ``fp_quant`` law (Sun et al. 2025, floating-point quantization training; laws.md §8.2), or from
published constants (``scalelaw.laws.precision.SUN2025``):

* :func:`critical_data_size` — the training tokens beyond which more data *raises* the loss of a model trained
  in a given floating-point format (Sun et al. Eq. 21).
* :func:`optimal_float_layout` — the exponent/mantissa split of a total bit width that minimizes the
  quantization loss (Sun et al. Eq. 19), continuous and on integers.

Every function evaluates the point estimate and, with ``level=0.9``, the same quantity on by-run bootstrap
replicates (:meth:`FitResult.bootstrap`), giving percentile intervals in ``*_low``/``*_high`` columns of a
:class:`scalelaw.decisions.plan.Plan`. Pass ``boot=`` to reuse one bootstrap across several decisions.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from scalelaw.decisions.plan import Plan, replicate_sets
from scalelaw.errors import DataError, LawError
from scalelaw.fitting.result import FitResult
from scalelaw.laws.fixed import FixedLaw
from scalelaw.laws.precision import FpQuantLaw, PrecisionLaw, check_bits, check_fp_format, fp_quant
from scalelaw.trust.bootstrap import SAVED_WORDS, Bootstrap

#: Grid points of the search over training bit-widths (refined by a parabola through the best three).
_BITS_GRID = 2001


def linear_bit_cost(bits: np.ndarray) -> np.ndarray:
    """Default cost model: compute per parameter-token relative to 16-bit training, ``bits / 16``.

    Examples
    --------
    >>> float(linear_bit_cost(np.array(8.0)))
    0.5
    """
    return np.asarray(bits, dtype=np.float64) / 16.0


def _law(result: FitResult) -> PrecisionLaw:
    law = result.law
    if not isinstance(law, PrecisionLaw):
        raise LawError(
            f"this decision needs a fit of the 'precision' law; got law {law.name!r}. Fit it with "
            "scalelaw.fit('precision', runs, law_options={'bits': ['bits_w']})"
        )
    return law


def _params(law: PrecisionLaw, theta: np.ndarray) -> dict[str, np.ndarray]:
    """Parameter name -> column vector (n_sets, 1), ready to broadcast against rows."""
    return {name: theta[:, k, None] for k, name in enumerate(law.param_names)}


def _rows(**columns: Any) -> dict[str, np.ndarray]:
    try:
        arrays = np.broadcast_arrays(*(np.atleast_1d(np.asarray(v, dtype=np.float64)) for v in columns.values()))
    except ValueError as exc:
        raise DataError(f"inputs {', '.join(columns)} have incompatible shapes: {exc}") from None
    return {k: np.ravel(a) for k, a in zip(columns, arrays, strict=True)}


def _check_positive(columns: Mapping[str, np.ndarray], names: Sequence[str]) -> None:
    for name in names:
        v = columns[name]
        if not np.all(np.isfinite(v) & (v > 0)):
            raise DataError(f"{name} must be finite and > 0, got {v[~(np.isfinite(v) & (v > 0))][:3].tolist()}")


def _training_bits(law: PrecisionLaw, bits: Mapping[str, Any], what: str) -> dict[str, Any]:
    unknown = sorted(set(bits) - set(law.bits))
    if unknown:
        raise LawError(f"{what}: law reads training precision from {', '.join(law.bits)}; unknown {unknown}")
    missing = [c for c in law.bits if c not in bits]
    if missing:
        raise LawError(f"{what} needs the training bit-width of {', '.join(missing)}, e.g. {missing[0]}=16")
    return {c: bits[c] for c in law.bits}


def _log_factor(law: PrecisionLaw, p: Mapping[str, np.ndarray], bits: Mapping[str, np.ndarray]) -> np.ndarray:
    """``log(N_eff/N)`` per set and row for training bit-widths of shape (rows,) or (sets, rows)."""
    total = np.zeros((1, 1))
    for c, g in zip(law.bits, law.gamma_names, strict=True):
        b = np.asarray(bits[c], dtype=np.float64)
        total = total + np.log(-np.expm1(-np.atleast_2d(b) / p[g]))
    return total


def _table(given: Mapping[str, np.ndarray], named: Mapping[str, np.ndarray], level: float | None) -> pd.DataFrame:
    """Given columns, then each estimated quantity from set 0 with a percentile interval over the other sets."""
    out: dict[str, np.ndarray] = dict(given)
    a = None if level is None else (1.0 - level) / 2.0
    for name, values in named.items():
        values = np.atleast_2d(values)
        out[name] = values[0]
        if a is not None and values.shape[0] > 1:
            reps = np.where(np.isfinite(values[1:]), values[1:], np.nan)
            with np.errstate(all="ignore"):
                out[f"{name}_low"] = np.nanquantile(reps, a, axis=0)
                out[f"{name}_high"] = np.nanquantile(reps, 1.0 - a, axis=0)
    return pd.DataFrame(out)


def _method(theta: np.ndarray, level: float | None, saved: bool = False) -> str:
    if level is None:
        return "point estimate"
    return f"bootstrap by run (n={theta.shape[0] - 1}{SAVED_WORDS if saved else ''}), percentile"


def effective_params(
    result: FitResult,
    params: float | np.ndarray,
    level: float | None = None,
    n_boot: int | None = None,
    seed: int = 0,
    boot: Bootstrap | None = None,
    **bits: float | np.ndarray,
) -> Plan:
    """Effective parameter count of models trained at the given bit-widths.

    Parameters
    ----------
    result : FitResult
        A fit of the ``precision`` law.
    params : float or array
        Parameter counts ``N``.
    level : float, optional
        Add by-run bootstrap intervals at this level.
    **bits : float or array
        Training bit-width of every precision column of the law, e.g. ``bits_w=4``.

    Returns
    -------
    Plan
        Columns ``params, <bits...>, params_eff, params_eff_ratio`` (``N_eff/N``), with intervals.

    Examples
    --------
    >>> import warnings, numpy as np, scalelaw
    >>> from scalelaw.laws.precision import precision
    >>> warnings.simplefilter("ignore")
    >>> law = precision()
    >>> N, D, P = (a.ravel() for a in np.meshgrid(np.logspace(7.5, 9.5, 5), [10, 30, 100, 300], [3, 4, 6, 8, 16]))
    >>> truth = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28, "gamma_w": 2.5}
    >>> runs = {"params": N, "tokens": N * D, "bits_w": P, "loss": law.predict(truth, params=N, tokens=N * D, bits_w=P)}
    >>> fit = scalelaw.fit(law, runs)
    >>> plan = effective_params(fit, 1e9, bits_w=[4, 8])
    >>> np.round(plan.table["params_eff_ratio"].to_numpy(), 3)
    array([0.798, 0.959])
    """
    law = _law(result)
    cols = _rows(params=params, **_training_bits(law, bits, "effective_params"))
    _check_positive(cols, ["params"])
    check_bits(cols, law.bits)
    theta, saved = replicate_sets(result, level, n_boot, seed, boot)
    ratio = np.exp(_log_factor(law, _params(law, theta), cols))
    named = {"params_eff": cols["params"][None, :] * ratio, "params_eff_ratio": ratio}
    return Plan(_table(cols, named, level), level, _method(theta, level, saved), inputs=tuple(cols))


def ptq_degradation(
    result: FitResult,
    params: float | np.ndarray,
    tokens: float | np.ndarray,
    bits_post: float | np.ndarray,
    level: float | None = None,
    n_boot: int | None = None,
    seed: int = 0,
    boot: Bootstrap | None = None,
) -> Plan:
    """Loss added by post-training quantization, ``C_T exp(-P_post/gamma_post) D^gamma_D / N^gamma_N``.

    Returns
    -------
    Plan
        Columns ``params, tokens, bits_post, ptq_loss`` (nats/token when the loss is), with intervals.
    """
    law = _law(result)
    if not law.ptq:
        raise LawError("the fit has no post-training-quantization term; fit law_options={'ptq': True}")
    cols = _rows(params=params, tokens=tokens, bits_post=bits_post)
    _check_positive(cols, ["params", "tokens"])
    check_bits(cols, ["bits_post"])
    theta, saved = replicate_sets(result, level, n_boot, seed, boot)
    named = {"ptq_loss": _ptq(_params(law, theta), cols)}
    return Plan(_table(cols, named, level), level, _method(theta, level, saved), inputs=tuple(cols))


def _ptq(p: Mapping[str, np.ndarray], cols: Mapping[str, np.ndarray]) -> np.ndarray:
    log_N, log_D = np.log(cols["params"])[None, :], np.log(cols["tokens"])[None, :]
    return p["C_T"] * np.exp(
        -cols["bits_post"][None, :] / p["gamma_post"] + p["gamma_D"] * log_D - p["gamma_N"] * log_N
    )


def critical_tokens(
    result: FitResult,
    params: float | np.ndarray,
    bits_post: float | np.ndarray,
    level: float | None = None,
    n_boot: int | None = None,
    seed: int = 0,
    boot: Bootstrap | None = None,
    **bits: float | np.ndarray,
) -> Plan:
    """Training tokens beyond which more data raises the loss of a model post-quantized to ``bits_post``.

    At fixed ``N`` and precisions, ``L(D) = const + B D^-beta + K D^gamma_D`` with
    ``K = C_T exp(-P_post/gamma_post) N^-gamma_N``; ``dL/dD = 0`` gives the minimum

        D* = (beta B / (gamma_D K))^(1 / (beta + gamma_D)).

    Returns
    -------
    Plan
        Columns ``params, bits_post, <bits...>, tokens_crit, tokens_per_param_crit, loss_crit`` (the
        post-quantization loss at ``D*``), with intervals. ``tokens_crit`` is ``inf`` where ``gamma_D = 0``.
    """
    law = _law(result)
    if not law.ptq:
        raise LawError("critical_tokens needs the post-training-quantization term; fit law_options={'ptq': True}")
    cols = _rows(params=params, bits_post=bits_post, **_training_bits(law, bits, "critical_tokens"))
    _check_positive(cols, ["params"])
    check_bits(cols, ["bits_post", *law.bits])
    theta, saved = replicate_sets(result, level, n_boot, seed, boot)
    p = _params(law, theta)
    log_N = np.log(cols["params"])[None, :]
    log_K = np.log(p["C_T"]) - cols["bits_post"][None, :] / p["gamma_post"] - p["gamma_N"] * log_N
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        log_D = (np.log(p["beta"] * p["B"]) - np.log(p["gamma_D"]) - log_K) / (p["beta"] + p["gamma_D"])
        D = np.exp(log_D)
        loss = (
            p["E"]
            + p["A"] * np.exp(-p["alpha"] * (log_N + _log_factor(law, p, cols)))
            + p["B"] * np.exp(-p["beta"] * log_D)
            + np.exp(log_K + p["gamma_D"] * log_D)
        )
    named = {"tokens_crit": D, "tokens_per_param_crit": D / cols["params"][None, :], "loss_crit": loss}
    return Plan(_table(cols, named, level), level, _method(theta, level, saved), inputs=tuple(cols))


def optimal_precision(
    result: FitResult,
    flops: float | np.ndarray,
    k: float = 6.0,
    cost: Callable[[np.ndarray], np.ndarray] = linear_bit_cost,
    bits_range: tuple[float, float] = (1.0, 32.0),
    vary: Sequence[str] | None = None,
    fixed: Mapping[str, float] | None = None,
    reference_bits: float | None = 16.0,
    level: float | None = None,
    n_boot: int | None = None,
    seed: int = 0,
    boot: Bootstrap | None = None,
) -> Plan:
    """Compute-optimal training precision, size and tokens at each budget.

    Cost model: ``C = k N D cost(P)`` FLOP-equivalents, where ``P`` is the bit-width shared by the ``vary``
    columns (default: every training-precision column of the law) and ``cost(16) = 1`` by default
    (:func:`linear_bit_cost`). For each ``P`` the law is Chinchilla's in ``N_eff`` and ``D`` with
    ``N_eff D = C g(P) / (k cost(P))``, ``g = N_eff/N``, so ``N_eff, D`` have the closed form of laws.md §3.2;
    ``P`` is then found on a fine grid over ``bits_range`` refined by a parabola. The post-training
    quantization term, if the law has one, is left out: this is the loss of the trained model.

    With linear cost and ``m`` tied columns the optimum ``P* = x_m gamma`` solves ``m x = e^x - 1`` whatever
    the budget (``x_2 = 1.256``, ``x_3 = 1.903``); with one column ``g(P)/P`` falls with ``P`` and the
    optimum sits on the low end of ``bits_range`` (reported in ``notes``).

    Parameters
    ----------
    result : FitResult
        A fit of the ``precision`` law.
    flops : float or array
        Budgets in FLOP-equivalents of 16-bit training.
    k : float
        FLOPs per parameter per token at 16 bits (6 for forward + backward).
    cost : callable
        ``cost(bits) -> relative cost per parameter-token``; must be positive on ``bits_range``.
    bits_range : (float, float)
        Bit-widths searched.
    vary : sequence of str, optional
        Precision columns set to ``P``; the others take their value from ``fixed``.
    fixed : mapping, optional
        Bit-widths of the precision columns not in ``vary``.
    reference_bits : float, optional
        Also report the compute-optimal size and loss when training at this precision (``*_ref``).

    Returns
    -------
    Plan
        Columns ``flops, bits_opt, params_opt, tokens_opt, params_eff_opt, loss_opt`` [and
        ``params_ref, tokens_ref, loss_ref``], with intervals.
    """
    law = _law(result)
    vary = list(law.bits if vary is None else vary)
    fixed = dict(fixed or {})
    unknown = sorted((set(vary) | set(fixed)) - set(law.bits))
    if unknown or not vary or set(vary) & set(fixed) or set(vary) | set(fixed) != set(law.bits):
        raise LawError(
            f"vary and fixed must split the law's precision columns {list(law.bits)} (vary={vary}, "
            f"fixed={sorted(fixed)}); every column is either varied or given a fixed bit-width"
        )
    lo, hi = (float(b) for b in bits_range)
    if not (0 < lo < hi and math.isfinite(hi)):
        raise DataError(f"bits_range must be two finite bit-widths 0 < low < high, got {bits_range}")
    budgets = np.atleast_1d(np.asarray(flops, dtype=np.float64))
    _check_positive({"flops": budgets}, ["flops"])
    check_bits({c: np.atleast_1d(v) for c, v in fixed.items()}, list(fixed))
    grid = np.linspace(lo, hi, _BITS_GRID)
    c_grid = np.asarray(cost(grid), dtype=np.float64)
    if c_grid.shape != grid.shape or not np.all(np.isfinite(c_grid) & (c_grid > 0)):
        raise DataError("cost(bits) must return one finite positive cost per bit-width on bits_range")
    theta, saved = replicate_sets(result, level, n_boot, seed, boot)
    p = _params(law, theta)
    notes: list[str] = []
    rows = []
    for C in budgets:
        # The budget only shifts log(N_eff D) = log(C/k) + log(g(P)/cost(P)), so P* (the maximizer of
        # g/cost) is the same at every budget; N and D still move with it.
        def at(bits_values: np.ndarray, cost_values: np.ndarray, C: float = float(C)) -> dict[str, np.ndarray]:
            return _optimum_at(law, p, C, k, vary, fixed, bits_values, cost_values)

        P_opt, on_edge = _argmin_bits(at, grid[None, :], cost, lo, hi)
        if on_edge[0]:
            notes.append(f"at {C:.3g} FLOPs the optimum is on the edge of bits_range {bits_range}")
        # Zoom: a fine grid one coarse step either side of each set's optimum.
        h = grid[1] - grid[0]
        local = np.clip(P_opt[:, None] + h * np.linspace(-1.0, 1.0, 201)[None, :], lo, hi)
        P_opt = np.where(on_edge, P_opt, _argmin_bits(at, local, cost, lo, hi)[0])
        opt = {name: values[:, 0] for name, values in at(P_opt[:, None], _cost(cost, P_opt[:, None])).items()}
        named = {
            "bits_opt": P_opt,
            "params_opt": opt["params"],
            "tokens_opt": opt["tokens"],
            "params_eff_opt": opt["params_eff"],
            "loss_opt": opt["loss"],
        }
        if reference_bits is not None:
            ref_bits = np.array([float(reference_bits)])
            ref = at(ref_bits, _cost(cost, ref_bits))
            named.update(params_ref=ref["params"][:, 0], tokens_ref=ref["tokens"][:, 0], loss_ref=ref["loss"][:, 0])
        rows.append(_table({"flops": np.array([C])}, {n: v[:, None] for n, v in named.items()}, level))
    table = pd.concat(rows, ignore_index=True)
    return Plan(table, level, _method(theta, level, saved), notes=tuple(dict.fromkeys(notes)), inputs=("flops",))


def _optimum_at(
    law: PrecisionLaw,
    p: Mapping[str, np.ndarray],
    C: float,
    k: float,
    vary: Sequence[str],
    fixed: Mapping[str, float],
    bits_values: np.ndarray,
    cost_values: np.ndarray,
) -> dict[str, np.ndarray]:
    """Compute-optimal N, D, N_eff and loss at budget C for each set (rows) and training bit-width (columns)."""
    columns = {c: np.asarray(bits_values, dtype=np.float64) for c in vary}
    columns.update({c: np.full(np.shape(bits_values), float(v)) for c, v in fixed.items()})
    log_g = _log_factor(law, p, columns)
    return _chinchilla_optimum(p, np.log(C / k) + log_g - np.atleast_2d(np.log(cost_values)), log_g)


def _chinchilla_optimum(p: Mapping[str, np.ndarray], log_M: np.ndarray, log_g: np.ndarray) -> dict[str, np.ndarray]:
    """Minimum of ``E + A Ne^-alpha + B D^-beta`` subject to ``Ne D = M`` (laws.md §3.2), per set and column."""
    A, B, E, a, b = p["A"], p["B"], p["E"], p["alpha"], p["beta"]
    log_G = (np.log(a * A) - np.log(b * B)) / (a + b)
    log_Ne = log_G + b / (a + b) * log_M
    log_D = log_M - log_Ne
    loss = E + A * np.exp(-a * log_Ne) + B * np.exp(-b * log_D)
    return {"params": np.exp(log_Ne - log_g), "tokens": np.exp(log_D), "params_eff": np.exp(log_Ne), "loss": loss}


def _cost(cost: Callable[[np.ndarray], np.ndarray], bits: np.ndarray) -> np.ndarray:
    return np.asarray(cost(bits), dtype=np.float64)


def _argmin_bits(at: Callable, grid: np.ndarray, cost: Callable, lo: float, hi: float) -> tuple[np.ndarray, np.ndarray]:
    """Per set: bit-width minimizing the optimal loss on ``grid`` (shared (1, G) or per set (S, G)), refined
    by the vertex of the parabola through the best point and its neighbours; and whether it hit an edge."""
    loss = at(grid, _cost(cost, grid))["loss"]
    grid = np.broadcast_to(grid, loss.shape)
    best = np.nanargmin(loss, axis=1)
    rows = np.arange(loss.shape[0])
    i = np.clip(best, 1, loss.shape[1] - 2)
    y0, y1, y2 = loss[rows, i - 1], loss[rows, i], loss[rows, i + 1]
    h = grid[rows, i + 1] - grid[rows, i]
    denom = y0 - 2 * y1 + y2
    with np.errstate(divide="ignore", invalid="ignore"):
        shift = np.where(denom > 0, 0.5 * h * (y0 - y2) / denom, 0.0)
    refined = np.clip(grid[rows, i] + np.clip(shift, -h, h), lo, hi)
    on_edge = (best == 0) | (best == loss.shape[1] - 1)
    return np.where(on_edge, grid[rows, best], refined), on_edge


# --------------------------------------------------------------------------------------------------------------
# Floating-point quantization training (Sun et al. 2025, fp_quant law)


def _fp_sets(
    result: FitResult | Mapping[str, float],
    level: float | None,
    n_boot: int | None,
    seed: int,
    boot: Bootstrap | None,
    law: FpQuantLaw | None,
) -> tuple[FpQuantLaw, np.ndarray, bool]:
    """The fp_quant law, its full parameter sets (point estimate first), from a fit or from constants, and whether
    the replicates are those saved with the fit.

    A fit of ``law.fix(...)`` (e.g. ``delta``, ``nu`` held at the paper's values) is unwrapped to the full law.
    """
    if isinstance(result, Mapping):
        if level is not None:
            raise LawError("intervals need a FitResult (bootstrap by run); published constants give a point estimate")
        law = fp_quant() if law is None else law
        return law, law.theta(result), False
    if law is not None:
        raise LawError("law= is only for constants; a FitResult carries its own law")
    fitted = result.law
    theta, saved = replicate_sets(result, level, n_boot, seed, boot)
    if isinstance(fitted, FixedLaw) and isinstance(fitted.base, FpQuantLaw):
        return fitted.base, fitted._full(theta), saved
    if not isinstance(fitted, FpQuantLaw):
        raise LawError(
            f"this decision needs a fit of the 'fp_quant' law; got law {fitted.name!r}. Fit it with "
            "scalelaw.fit('fp_quant', runs) (columns params, tokens, exp_bits, man_bits, block)"
        )
    return fitted, theta, saved


def _fp_format(law: FpQuantLaw, what: str, **given: Any) -> dict[str, Any]:
    """Values of exp_bits, man_bits and block: given, or the law's fixed value (a different value is an error)."""
    out = {}
    for name, value in given.items():
        fixed = law.factor(name)
        if isinstance(fixed, str):
            if value is None:
                example = {"exp_bits": 4, "man_bits": 3, "block": 128}[name]
                raise LawError(
                    f"{what} needs {name}= (the law reads it from column {law.column(name)!r}), e.g. {name}={example}"
                )
            out[name] = value
        elif value is None or np.all(np.asarray(value, dtype=np.float64) == fixed):
            out[name] = fixed
        else:
            raise LawError(
                f"{what}: the law was fitted with {name} fixed at {fixed:g}, so it cannot predict {name}={value}; "
                f"fit with a {name} column that varies"
            )
    return out


def _fp_columns(law: FpQuantLaw, cols: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The decision's columns under the law's own input names (what ``log_quant_factor`` reads)."""
    X = {law.inputs[0]: cols["params"]}
    X.update({law.column(f): cols[f] for f in ("exp_bits", "man_bits", "block") if law.column(f) is not None})
    return X


def critical_data_size(
    result: FitResult | Mapping[str, float],
    params: float | np.ndarray,
    exp_bits: float | np.ndarray | None = None,
    man_bits: float | np.ndarray | None = None,
    block: float | np.ndarray | None = None,
    level: float | None = None,
    n_boot: int | None = None,
    seed: int = 0,
    boot: Bootstrap | None = None,
    law: FpQuantLaw | None = None,
) -> Plan:
    """Training tokens beyond which more data raises the loss of training in a floating-point format.

    At fixed ``N``, ``E``, ``M``, ``B`` the ``fp_quant`` law is ``const + d D^-beta + D^beta Q / K`` with
    ``K = gamma (E+.5)^delta (M+.5)^nu`` and ``Q = N^-alpha log2 B``; ``dL/dD = 0`` gives (Sun et al. Eq. 21)

        D_crit = (d K / Q)^(1/(2 beta)),   L(D_crit) = n N^-alpha + eps + 2 d D_crit^-beta.

    Parameters
    ----------
    result : FitResult or mapping
        A fit of ``fp_quant`` (or of ``fp_quant().fix(...)``), or constants such as
        :data:`scalelaw.laws.precision.SUN2025` (point estimate only).
    params : float or array
        Parameter counts ``N``.
    exp_bits, man_bits, block : float or array
        Exponent bits, mantissa bits and block size; may be omitted where the law fixed them.
    level : float, optional
        Add by-run bootstrap intervals at this level.
    law : FpQuantLaw, optional
        The law the constants belong to (default ``fp_quant()``); only with a mapping.

    Returns
    -------
    Plan
        Columns ``params, exp_bits, man_bits, block, tokens_crit, tokens_per_param_crit, loss_crit``.
        ``tokens_crit`` is ``inf`` where ``block = 1`` (no quantization loss).

    Examples
    --------
    Sun et al., sec. 4.3: a 1B model at block size 128 has ``D_crit`` of about 1730T tokens in BF16 (E8M7), 27T in
    FP8-E4M3 and 0.4T in FP4-E2M1:

    >>> from scalelaw.laws.precision import SUN2025
    >>> plan = critical_data_size(SUN2025, 1e9, exp_bits=[8, 4, 2], man_bits=[7, 3, 1], block=128)
    >>> [round(float(t) / 1e12, 2) for t in plan.table["tokens_crit"]]
    [1729.55, 27.33, 0.39]
    """
    law, theta, saved = _fp_sets(result, level, n_boot, seed, boot, law)
    fmt = _fp_format(law, "critical_data_size", exp_bits=exp_bits, man_bits=man_bits, block=block)
    cols = _rows(params=params, **fmt)
    _check_positive(cols, ["params"])
    check_fp_format(cols, "exp_bits", "man_bits", "block")
    p = _params(law, theta)
    log_N = np.log(cols["params"])[None, :]
    # log(Q / K) per set and row: -inf where log2 B = 0, which sends D_crit to inf.
    log_q = law.log_quant_factor(theta, _fp_columns(law, cols)) - p["alpha"] * log_N
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        log_D = (np.log(p["d"]) - log_q) / (2.0 * p["beta"])
        D = np.exp(log_D)
        loss = p["n"] * np.exp(-p["alpha"] * log_N) + p["eps"] + 2.0 * p["d"] * np.exp(-p["beta"] * log_D)
    named = {"tokens_crit": D, "tokens_per_param_crit": D / cols["params"][None, :], "loss_crit": loss}
    return Plan(_table(cols, named, level), level, _method(theta, level, saved), inputs=tuple(cols))


def optimal_float_layout(
    result: FitResult | Mapping[str, float],
    bits: int | Sequence[int] | np.ndarray,
    level: float | None = None,
    n_boot: int | None = None,
    seed: int = 0,
    boot: Bootstrap | None = None,
    law: FpQuantLaw | None = None,
) -> Plan:
    """Exponent/mantissa split of a total bit width ``P = E + M + 1`` that minimizes the quantization loss.

    The quantization term is proportional to ``1/((E+.5)^delta (M+.5)^nu)`` whatever ``N``, ``D`` and ``B``,
    so the best split depends on ``delta`` and ``nu`` only. With ``E + M = P - 1`` the continuous optimum is
    (Sun et al. Eq. 19)

        M_opt = nu P / (delta + nu) - 0.5,   E_opt = delta P / (delta + nu) - 0.5;

    the integer layout is the best of the ``P`` integer splits (``E = 0..P-1``).

    Parameters
    ----------
    result : FitResult or mapping
        A fit of ``fp_quant`` with both ``exp_bits`` and ``man_bits`` varying (so ``delta`` and ``nu`` exist),
        or constants such as :data:`scalelaw.laws.precision.SUN2025`.
    bits : int or sequence of int
        Total bit widths ``P >= 1`` (sign bit included).
    level : float, optional
        Add by-run bootstrap intervals at this level.

    Returns
    -------
    Plan
        Columns ``bits, exp_bits_opt, man_bits_opt`` (continuous), ``exp_bits_int, man_bits_int`` (integer
        layout) and ``exponent_share`` (``delta / (delta + nu)``), with intervals.

    Examples
    --------
    Sun et al., sec. 4.2: the optimal FP4, FP8 and FP16 layouts are E2M1, E4M3 and E8M7 (BF16):

    >>> from scalelaw.laws.precision import SUN2025
    >>> table = optimal_float_layout(SUN2025, [4, 8, 16]).table
    >>> [f"E{e:.0f}M{m:.0f}" for e, m in zip(table["exp_bits_int"], table["man_bits_int"])]
    ['E2M1', 'E4M3', 'E8M7']
    """
    law, theta, saved = _fp_sets(result, level, n_boot, seed, boot, law)
    fixed = [f"{col}={law.factor(col):g}" for col in ("exp_bits", "man_bits") if law.column(col) is None]
    if fixed:
        raise LawError(
            f"optimal_float_layout needs delta and nu, but the law was built with {', '.join(fixed)} fixed; "
            "fit fp_quant with exp_bits and man_bits columns that vary"
        )
    P = np.atleast_1d(np.asarray(bits, dtype=np.float64)).ravel()
    if not np.all(np.isfinite(P) & (P >= 1) & (P == np.round(P))):
        bad = P[~(np.isfinite(P) & (P >= 1) & (P == np.round(P)))]
        raise DataError(f"bits must be whole total bit widths >= 1 (sign + exponent + mantissa), got {bad.tolist()}")
    p = _params(law, theta)
    delta, nu = p["delta"], p["nu"]
    with np.errstate(divide="ignore", invalid="ignore"):
        share = delta / (delta + nu)
    E_opt = share * P[None, :] - 0.5
    # Integer splits: score every E = 0..P-1 (masked beyond P-1) and keep the best per set and width.
    E = np.arange(int(P.max()))[None, None, :]
    M = P[None, :, None] - 1 - E
    score = delta[:, :, None] * np.log(E + 0.5) + nu[:, :, None] * np.log(np.where(M >= 0, M, 0) + 0.5)
    score = np.where(M >= 0, score, -np.inf)
    E_int = np.argmax(score, axis=2).astype(np.float64)
    named = {
        "exp_bits_opt": E_opt,
        "man_bits_opt": P[None, :] - 1 - E_opt,
        "exp_bits_int": E_int,
        "man_bits_int": P[None, :] - 1 - E_int,
        "exponent_share": np.broadcast_to(share, E_opt.shape),
    }
    return Plan(_table({"bits": P}, named, level), level, _method(theta, level, saved), inputs=("bits",))
