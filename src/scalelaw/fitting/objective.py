"""Losses on log residuals, summed over points (never averaged: laws.md §12.1).

Averaging shrinks the objective by the number of points and makes optimizers stop on their
tolerance before the optimum; that is how Hoffmann et al.'s fit went wrong (Besiroglu et al. 2024).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

LossName = Literal["huber", "squared"]
LOSSES: tuple[str, ...] = ("huber", "squared")


def rho_psi_weight(
    r: np.ndarray, loss: LossName = "huber", delta: float = 1e-3, outer: float = 1.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Loss per residual, its derivative and the IRLS weight ``psi(r) / r``.

    Huber: ``r^2/2`` for ``|r| <= delta``, else ``delta * (|r| - delta/2)``.
    Squared: ``r^2/2``.

    ``outer`` scales the weight of Huber residuals beyond ``delta``: 1 gives the IRLS weight (a curvature that
    majorizes the loss, safe far from the optimum but slow near an almost-L1 optimum), 0 the loss's own
    second derivative there (Newton-like, fast near the optimum). Bootstrap refits start at an optimum and use
    a small value (:data:`scalelaw.fitting.refit.REFIT_OUTER_CURVATURE`).
    """
    if loss == "squared":
        return 0.5 * r * r, r, np.ones_like(r)
    # With m = min(|r|, delta): rho = m (|r| - m/2), psi = sign(r) m, weight = delta / max(|r|, delta). Inside,
    # |r| - |r|/2 is exact, so rho is bit for bit r^2/2 there; outside it is delta (|r| - delta/2) as written.
    abs_r = np.abs(r)
    m = np.minimum(abs_r, delta)
    rho = m * (abs_r - 0.5 * m)
    psi = np.copysign(m, r)
    weight = delta / np.maximum(abs_r, delta)
    if outer != 1.0:  # only bootstrap refits scale the outer curvature; ordinary fits skip this pass
        weight = np.where(abs_r > delta, outer * weight, weight)
    return rho, psi, weight


def rho(r: np.ndarray, loss: LossName = "huber", delta: float = 1e-3) -> np.ndarray:
    """Loss per residual only (the cheap path used when no derivatives are needed)."""
    if loss == "squared":
        return 0.5 * r * r
    abs_r = np.abs(r)
    m = np.minimum(abs_r, delta)
    return m * (abs_r - 0.5 * m)


def objective(
    log_pred: np.ndarray,
    log_y: np.ndarray,
    loss: LossName = "huber",
    delta: float = 1e-3,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """Summed loss of log residuals for each parameter set: shape ``log_pred.shape[:-1]``.

    Non-finite predictions give ``inf`` so that optimizers reject them.
    """
    per_point = rho(log_pred - log_y, loss, delta)
    if weights is not None:
        per_point = per_point * weights
    total = per_point.sum(axis=-1)
    return np.where(np.isfinite(total), total, np.inf)
