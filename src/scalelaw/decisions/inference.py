"""Inference-aware over-training: the cheapest model that reaches a loss when it will also serve many tokens.

Sardana & Frankle 2023 (laws.md §10): a model that serves ``D_inf`` tokens after training costs
``k_train N D + k_inference N D_inf``; for a target loss the optimum is smaller and trained longer than
Chinchilla's.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from scalelaw.decisions.plan import (
    Plan,
    _argmin_parabolic,
    _columns,
    _plan,
    _unreached_note,
    _with_interval,
    optimum,
    replicate_sets,
    require_minimized,
)
from scalelaw.decisions.plan_error import choice_halfwidths, decades_at, plan_error, widen_row
from scalelaw.errors import FitError
from scalelaw.fitting.result import FitResult
from scalelaw.laws.law import Law


def inference_optimal(
    result: FitResult,
    inference_tokens: float,
    target_loss: float | None = None,
    flops: float | None = None,
    k_train: float = 6.0,
    k_inference: float = 2.0,
    level: float | None = None,
    n_boot: int | None = None,
    seed: int = 0,
    boot: Any = None,
    kind: str = "total",
) -> Plan:
    """Cheapest model that reaches a loss when it will also serve ``inference_tokens`` tokens.

    Minimizes ``k_train N D + k_inference N D_inf`` subject to ``L(N, D) = target`` (Sardana & Frankle
    2023; laws.md §10): a 1-D search in log N with ``D(N)`` solved from the law. Give the target loss,
    or ``flops`` to use the compute-optimal loss at that budget as the target (laws.md §15.9 does so).

    With ``kind="total"`` every replicate's loss is shifted by its draw of the law's error at the point plan's
    distance beyond the data (so it aims at ``target · exp(-z · scale(d))``), and for a fit of ``law="auto"``
    the candidate laws' plans widen the band (:mod:`scalelaw.decisions.plan_error`).
    """
    if inference_tokens < 0 or not math.isfinite(inference_tokens):
        raise FitError(f"inference tokens must be finite and >= 0, got {inference_tokens}")
    if (target_loss is None) == (flops is None):
        raise FitError("give exactly one of target_loss or flops (whose compute-optimal loss becomes the target)")
    require_minimized(result.law, "an inference-aware plan")
    theta, saved = replicate_sets(result, level, n_boot, seed, boot)
    err = plan_error(result, kind, level, theta.shape[0], seed)
    law = result.law
    if target_loss is None:
        target_loss = float(optimum(law, theta[[0]], float(flops), k_train)["loss"][0])
    targets = np.full(theta.shape[0], target_loss)
    if err.total:
        n0, d0 = _inference_optimum_one(law, theta[[0]], target_loss, inference_tokens, k_train, k_inference)
        decades = float(decades_at(result, law, _columns(law, np.array([n0]), np.array([d0]), {}))[0])
        err.check_reach(f"the run that reaches loss {target_loss:g} ({k_train * n0 * d0:.3g} FLOPs)", decades)
        targets = target_loss * np.exp(-err.log_shift(decades))  # L·exp(shift) = target
    named = _inference_sets(law, theta, targets, inference_tokens, k_train, k_inference)
    # The unshifted replicates: their parameter band stays inside the total one (as in compute_for_loss).
    unshifted = (
        _inference_sets(law, theta, np.full(theta.shape[0], target_loss), inference_tokens, k_train, k_inference)
        if err.total
        else None
    )
    row = {"target_loss": target_loss, "inference_tokens": inference_tokens, **_with_interval(named, level, unshifted)}

    def point(cand: Law, th: np.ndarray) -> dict[str, np.ndarray]:
        n, d = _inference_optimum_one(cand, th, target_loss, inference_tokens, k_train, k_inference)
        train = k_train * n * d
        return {
            "params_opt": np.array([n]),
            "tokens_opt": np.array([d]),
            "train_flops": np.array([train]),
            "total_flops": np.array([train + k_inference * n * inference_tokens]),
        }

    center = {q: row[q] for q in ("params_opt", "tokens_opt", "train_flops", "total_flops")}
    row = widen_row(row, choice_halfwidths(result, err, point, center))
    missed = float(np.mean(np.isinf(named["params_opt"][1:]))) if theta.shape[0] > 1 else 0.0
    notes = _unreached_note(missed, level) if level is not None else ()
    return _plan(pd.DataFrame([row]), err, theta.shape[0] - 1, notes, saved=saved)


def _tokens_for_loss(law: Law, theta: np.ndarray, N: np.ndarray, target: float) -> np.ndarray:
    """Training tokens D with L(N, D) = target for one parameter set and many N (bisection in log D)."""
    n_name, d_name = law.inputs_for("N", "D", purpose="inference-aware allocation")
    lo = np.full(N.shape, math.log(1.0))
    hi = np.full(N.shape, math.log(1e30))
    with np.errstate(all="ignore"):
        reach = law.predict(theta, **{n_name: N, d_name: np.exp(hi)})[0] <= target
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        with np.errstate(all="ignore"):
            above = law.predict(theta, **{n_name: N, d_name: np.exp(mid)})[0] > target
        lo = np.where(above, mid, lo)
        hi = np.where(above, hi, mid)
    return np.where(reach, np.exp(0.5 * (lo + hi)), np.inf)


def _inference_sets(
    law: Law, theta: np.ndarray, targets: np.ndarray, d_inf: float, k_train: float, k_inf: float
) -> dict[str, np.ndarray]:
    """The inference-aware optimum of every parameter set, each aiming at its own target loss.

    A replicate whose floor lies above its target needs unbounded compute: +inf, so the percentiles count
    it (its tokens per parameter has no value: NaN). The point estimate (set 0) must reach its target.
    """
    rows = {name: np.full(theta.shape[0], np.inf) for name in ("params", "tokens")}
    for s in range(theta.shape[0]):
        try:
            rows["params"][s], rows["tokens"][s] = _inference_optimum_one(
                law, theta[[s]], float(targets[s]), d_inf, k_train, k_inf
            )
        except FitError:
            if s == 0:
                raise
    N, D = rows["params"], rows["tokens"]
    reached = np.isfinite(N)
    n, d = np.where(reached, N, 1.0), np.where(reached, D, 1.0)  # inf * 0 inference tokens would be NaN
    return {
        "params_opt": N,
        "tokens_opt": D,
        "tokens_per_param": np.where(reached, d / n, np.nan),
        "train_flops": np.where(reached, k_train * n * d, np.inf),
        "total_flops": np.where(reached, k_train * n * d + k_inf * n * d_inf, np.inf),
    }


def _inference_optimum_one(law, theta, target, d_inf, k_train, k_inf) -> tuple[float, float]:
    exact = law.closed_form("tokens_for_loss")

    def tokens(N):
        return exact(theta, N, target) if exact is not None else _tokens_for_loss(law, theta, N, target)

    grid = np.linspace(math.log(1e3), math.log(1e16), 801)
    for _ in range(3):  # zoom in: coarse grid, then finer windows around the minimum
        N = np.exp(grid)
        with np.errstate(all="ignore"):
            cost = np.log(k_train * N * tokens(N) + k_inf * N * d_inf)
        cost = np.where(np.isfinite(cost), cost, np.inf)
        if not np.isfinite(cost).any():
            raise FitError(f"no model size reaches loss {target:g} under this law")
        x, _ = _argmin_parabolic(grid, cost[None, :])
        step = grid[1] - grid[0]
        grid = np.linspace(x[0] - 3 * step, x[0] + 3 * step, 201)
    N_opt = float(np.exp(x[0]))
    return N_opt, float(tokens(np.array([N_opt]))[0])
