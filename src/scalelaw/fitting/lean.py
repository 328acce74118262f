"""Levenberg-Marquardt with less bookkeeping per step, for the many-targets batch.

:func:`scalelaw.fitting.engine.levenberg_marquardt` picks the running starts out of the full arrays at every
step and writes the accepted ones back. The many-targets batch (:mod:`scalelaw.fitting.multi`) runs ~160
steps, most of them on a few dozen starts or fewer, where those ~40 small NumPy calls per step cost more than the
arithmetic. :func:`lean_levenberg_marquardt` keeps the running starts in compact arrays, moves accepted steps
in with ``np.where`` and compacts only when a start stops. Every number is the engine's, bit for bit (the same
operations in the same order); only the indexing differs. It covers the case the batch uses (derivatives at
every trial point, no model tolerance); the engine stays the reference for everything else.
"""

from __future__ import annotations

import numpy as np

from scalelaw.fitting.engine import Problem, lm_bounds, lm_step, lm_verdict


def _derivatives(
    problem: Problem, z: np.ndarray, log_y: np.ndarray, weights: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``problem.objective_grad_hess(z, sets)`` for a batch that is one block of sets and rows, with the sets'
    log targets and weights picked beforehand: the same sums; the non-finite check is one test unless it fails."""
    fb, gb, Hb = problem.block_derivatives(problem.law.from_internal(z), problem.X, log_y, weights)
    # 0.0 + (the engine accumulates into zeros: a sum of -0.0 becomes 0.0 there too)
    f, g, H = 0.0 + fb, 0.0 + gb, 0.0 + Hb
    if not np.isfinite(f.sum() + g.sum() + H.sum()):  # some start is not finite (or the test overflowed)
        bad = ~(np.isfinite(f) & np.isfinite(g).all(axis=1) & np.isfinite(H).all(axis=(1, 2)))
        f[bad] = np.inf
        g[bad] = 0.0
        H[bad] = 0.0
    return f, g, H


def _set_weights(problem: Problem, sets: np.ndarray) -> np.ndarray | None:
    """The row weights of parameter sets ``sets`` (a plain array of weights: shared or one row per set); None when
    they are all 1 (the batch weighs a target's missing rows 0 and the others 1: a product by 1 changes nothing)."""
    w = problem.weights
    if w is not None and w.ndim == 2:
        w = np.asarray(w)[sets]
    return None if w is None or bool(np.all(w == 1.0)) else w


def lean_levenberg_marquardt(
    problem: Problem,
    z0: np.ndarray,
    derivs: tuple[np.ndarray, np.ndarray, np.ndarray],
    sets: np.ndarray,
    max_iter: int,
    ftol: float,
    lam0: np.ndarray,
    lam_out: np.ndarray,
    frozen: np.ndarray | None = None,
    gtol: float = 1e-10,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """:func:`~scalelaw.fitting.engine.levenberg_marquardt` with ``fused=True`` and ``derivs`` given (``z0`` inside
    the bounds): the same final ``z``, objective, converged flags and iterations, and the gradient and Hessian
    at the end (its ``derivs_out[1:]``); ``lam_out`` receives the final dampings."""
    lo, hi = problem.lo, problem.hi
    z = np.minimum(np.maximum(np.array(z0, dtype=np.float64), lo), hi)  # np.clip's definition, with less overhead
    n_sets = z.shape[0]
    f, g, H = (np.array(a, dtype=np.float64) for a in derivs)
    lam = np.array(lam0, dtype=np.float64)
    converged = np.zeros(n_sets, dtype=bool)
    n_iter = np.zeros(n_sets, dtype=int)
    bounds = lm_bounds(lo, hi)
    # The running starts, compact: act indexes the full arrays; written back when some stop and at the end.
    act = np.flatnonzero(np.isfinite(f))
    za, fa, ga, Ha, la, sa = z[act], f[act], g[act], H[act], lam[act], sets[act]
    # Each running start's log targets and weights, picked once (again only when starts stop).
    log_ya, wa = problem.log_y[sa], _set_weights(problem, sa)
    fz = None if frozen is None else frozen[act]
    it = np.zeros(act.size, dtype=int)
    with np.errstate(all="ignore"):  # as the engine's derivative passes; the numbers do not change
        for _ in range(max_iter):
            if act.size == 0:
                break
            z_new, grad_small, _, _ = lm_step(za, fa, ga, Ha, la, bounds, fz, gtol)
            f_new, g_new, H_new = _derivatives(problem, z_new, log_ya, wa)
            accept, la, stop = lm_verdict(fa, f_new, la, grad_small, ftol)
            it += 1
            za = np.where(accept[:, None], z_new, za)
            fa = np.where(accept, f_new, fa)
            ga = np.where(accept[:, None], g_new, ga)
            Ha = np.where(accept[:, None, None], H_new, Ha)
            if stop.any():
                done = act[stop]
                z[done], f[done], g[done], H[done], lam[done], n_iter[done] = (
                    a[stop] for a in (za, fa, ga, Ha, la, it)
                )
                converged[done] = True
                go = ~stop
                act, za, fa, ga, Ha, la, it, log_ya = (a[go] for a in (act, za, fa, ga, Ha, la, it, log_ya))
                wa = None if wa is None or wa.ndim == 1 else wa[go]
                fz = None if fz is None else fz[go]
    z[act], f[act], g[act], H[act], lam[act], n_iter[act] = za, fa, ga, Ha, la, it
    lam_out[:] = lam
    return z, f, converged, n_iter, (g, H)
