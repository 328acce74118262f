"""Vectorized multi-start optimizer.

Every start is a row of one array and moves together with all the others: a batched
Levenberg-Marquardt on the robust (Huber) objective, with IRLS weights giving a Gauss-Newton
Hessian that majorizes the Huber loss. Each start keeps its own damping and stops on its own.
Bounds are handled by projection (an active set of parameters pinned at a bound).

Many starts on a large grid land in the same few basins, so the search runs in rounds: all
starts take a few steps, the better half carries on, and so on until ``keep`` starts remain, which
run to convergence (laws.md §12.3: "prune starts after a few iterations").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from scalelaw.fitting.objective import LossName, rho, rho_psi_weight
from scalelaw.laws.law import Law

# Derivatives run in blocks of about this many (set, row) entries (times n_params for the Jacobian), so that
# their temporaries stay in cache.
_JAC_BLOCK = 1 << 14
# Objective-only evaluations run in blocks of about this many (set, row) entries, for the same reason (a
# 4,500-start grid on 240 rows is 1.1 million entries; one pass over it misses the cache).
_OBJ_BLOCK = 1 << 14
# Longer tables are evaluated in slices of this many rows whose sums are accumulated: exact up to the order
# of floating-point summation (shorter tables are summed in one piece), so memory does not grow with the data.
_ROW_CHUNK = 65_536
# In the final phase, look for starts that have met every this many iterations.
_MERGE_EVERY = 8
# Starts closer than this (relative, in the optimizer's space) are on the same path.
_MERGE_TOL = 1e-4
# Objectives this close (relative) are tied: rounding, not the law, tells them apart.
_TIE_RTOL = 1e-9
# Batches of at most this many (start, row) entries evaluate derivatives at every trial point of an LM step.
_FUSED_MAX = 1 << 14
# Final phase: a start more than this (relative) worse than a converged one (twice its objective) ...
_LOSER_GAP = 1.0
# ... that would need more than this many rounds of _MERGE_EVERY steps at its last round's pace to reach it stops.
_LOSER_PACE = 10.0
# With variable-projection starts, the grid's first cut keeps 1 in this many grid starts (no floor).
_PROJECTED_CUT = 32
# The best few distinct optima are polished once more from a fresh damping before the winner is named.
_POLISH = 4
# ... to this fraction of the search's ftol: the basin's bottom then does not depend, beyond ~1e-14 relative, on the
# path that reached it (which survivors of the pruning rounds got there first).
_POLISH_FTOL = 1e-2


def _best(f: np.ndarray, n: int) -> np.ndarray:
    """Indices of the ``n`` smallest objectives, ascending, plus every start tied with the last one kept.

    Starts whose objectives differ by rounding alone must not be told apart by their position in the
    batch: which of them a plain cut keeps would then depend on the CPU's floating-point details.
    """
    order = np.argsort(f, kind="stable")
    if n >= f.size:
        return order
    cutoff = f[order[n - 1]]
    if not np.isfinite(cutoff):
        return order[:n]
    tied = np.count_nonzero(f[order] <= cutoff + _TIE_RTOL * abs(cutoff))
    return order[: max(n, tied)]


def _merge_duplicates(z: np.ndarray, f: np.ndarray, multiplicity: np.ndarray) -> np.ndarray:
    """Mask of starts to keep: each start close to a better one is merged into it (its count added).

    Starts are visited best first; each one joins the first kept start (in the order they were kept) that
    lies within ``_MERGE_TOL`` of it, or is kept itself. Closeness of every pair is computed at once.
    """
    order = np.argsort(f, kind="stable")
    scale = 1.0 + np.abs(z)
    tol = _MERGE_TOL * np.maximum(scale[:, None, :], scale[None, :, :])
    close = np.all(np.abs(z[:, None, :] - z[None, :, :]) <= tol, axis=2).tolist()
    finite = np.isfinite(f).tolist()
    keep = np.zeros(z.shape[0], dtype=bool)
    kept: list[int] = []
    for i in order.tolist():
        if not finite[i]:
            continue
        row = close[i]
        match = next((k for k in kept if row[k]), None)
        if match is None:
            kept.append(i)
            keep[i] = True
        else:
            multiplicity[match] += multiplicity[i]
    return keep


@dataclass(frozen=True, eq=False)
class GroupWeights:
    """Row weights of many parameter sets, stored as counts per group of rows (a by-run bootstrap replicate).

    Row ``i`` of set ``s`` has weight ``counts[s, group[i]] * base[i]``. A (sets x rows) matrix of 200
    replicates of a million rows would take 1.6 GB; this takes (sets x groups) and the engine builds only the
    block of rows it is working on.
    """

    counts: np.ndarray  # (n_sets, n_groups)
    group: np.ndarray  # (n_rows,) integer group of each row
    base: np.ndarray | None = None  # (n_rows,) row weights every set shares

    ndim = 2

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.counts.shape[0]), int(self.group.shape[0]))

    def take(self, sets: np.ndarray, rows: slice) -> np.ndarray:
        """Weights of sets ``sets`` at rows ``rows``: shape (len(sets), n_rows in the slice)."""
        w = self.counts[sets][:, self.group[rows]]
        return w if self.base is None else w * self.base[rows]

    def dense(self) -> np.ndarray:
        """The full (sets x rows) matrix (small problems and tests only)."""
        return self.take(np.arange(self.counts.shape[0]), slice(None))


@dataclass
class Problem:
    """A law, its data and the objective: everything the optimizer needs, in its internal space."""

    law: Law
    X: Mapping[str, np.ndarray]
    #: Log targets: shape (n_rows,) shared by all sets, or (n_targets, n_rows) where each parameter set fits its
    #: own target, picked through ``sets`` (many metric columns at once, :mod:`scalelaw.fitting.multi`).
    log_y: np.ndarray
    loss: LossName = "huber"
    delta: float = 1e-3
    #: Row weights: shape (n_rows,) shared by all sets, or (n_weight_sets, n_rows) where each parameter
    #: set picks its row of weights through ``sets`` (one bootstrap replicate per row, say), or
    #: :class:`GroupWeights` holding the latter as counts per group of rows.
    weights: np.ndarray | GroupWeights | None = None
    #: Weight of Huber residuals beyond ``delta`` in the Gauss-Newton Hessian, relative to IRLS (see
    #: :func:`~scalelaw.fitting.objective.rho_psi_weight`); 1 for fits, less for refits that start at an optimum.
    outer_curvature: float = 1.0
    #: Rows per slice of a long table (default ``_ROW_CHUNK``; tiny slices check that chunking is exact).
    row_chunk: int | None = None

    def __post_init__(self) -> None:
        self.lo, self.hi = self.law.internal_bounds()
        self._block_cache: dict[tuple[int, int], tuple[list[slice], list[slice]]] = {}

    @property
    def n_rows(self) -> int:
        return int(self.log_y.shape[-1])

    def _blocks(self, n_sets: int, block: int = _JAC_BLOCK) -> tuple[list[slice], list[slice]]:
        """Slices of parameter sets and of rows: each (sets x rows) block holds about ``block`` entries, and rows
        are sliced only for tables longer than the row chunk (remembered per batch size: the optimizer asks for
        the same few sizes again and again)."""
        key = (n_sets, block)
        if key not in self._block_cache:
            self._block_cache[key] = self._make_blocks(n_sets, block)
        return self._block_cache[key]

    def _make_blocks(self, n_sets: int, block: int) -> tuple[list[slice], list[slice]]:
        n_rows = self.n_rows
        chunk = _ROW_CHUNK if self.row_chunk is None else self.row_chunk
        step = n_rows if n_rows <= chunk else max(1, chunk)
        rows = [slice(i, min(i + step, n_rows)) for i in range(0, n_rows, step)] or [slice(0, 0)]
        per = max(1, block // max(1, step))
        return [slice(i, min(i + per, n_sets)) for i in range(0, n_sets, per)], rows

    def _inputs(self, rows: slice) -> Mapping[str, np.ndarray]:
        """The law's inputs at a slice of rows (the whole mapping when the slice is every row)."""
        if rows.start == 0 and rows.stop == self.n_rows:
            return self.X
        n = self.n_rows
        return {k: v[rows] if np.ndim(v) >= 1 and np.shape(v)[0] == n else v for k, v in self.X.items()}

    def _log_y(self, sets: np.ndarray | None, sl: slice, rows: slice) -> np.ndarray:
        if self.log_y.ndim == 1:
            return self.log_y[rows]
        if sets is None:
            raise ValueError("per-set targets need `sets`, the target of every parameter set")
        return self.log_y[sets[sl], rows]

    def _weights(self, sets: np.ndarray | None, sl: slice, rows: slice) -> np.ndarray | None:
        if self.weights is None:
            return None
        if self.weights.ndim == 1:
            return self.weights[rows]
        if sets is None:
            raise ValueError("per-set weights need `sets`, the weight row of every parameter set")
        if isinstance(self.weights, GroupWeights):
            return self.weights.take(sets[sl], rows)
        return self.weights[sets[sl], rows]

    def objective(self, z: np.ndarray, sets: np.ndarray | None = None) -> np.ndarray:
        """Summed loss for each row of ``z`` (internal space); ``inf`` where not finite."""
        out = np.empty(z.shape[0])
        set_blocks, row_blocks = self._blocks(z.shape[0], _OBJ_BLOCK)
        for sl in set_blocks:
            with np.errstate(all="ignore"):
                theta = self.law.from_internal(z[sl])
                total = np.zeros(theta.shape[0])
                for rows in row_blocks:
                    log_pred, _ = self.law.log_predict_jac(theta, self._inputs(rows), jac=False)
                    per_point = rho(log_pred - self._log_y(sets, sl, rows), self.loss, self.delta)
                    weights = self._weights(sets, sl, rows)
                    if weights is not None:
                        per_point = per_point * weights
                    total += per_point.sum(axis=1)
            out[sl] = np.where(np.isfinite(total), total, np.inf)
        return out

    def block_derivatives(
        self, theta: np.ndarray, X: Mapping[str, np.ndarray], log_y: np.ndarray, weights: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Objective, gradient and Hessian sums of parameter sets ``theta`` (natural units) over one block of rows
        (inputs ``X``, log targets and row weights already picked for those sets and rows); not checked for finite."""
        log_pred, J = self.law.internal_jacobian(theta, X)
        per_point, psi, w = rho_psi_weight(log_pred - log_y, self.loss, self.delta, self.outer_curvature)
        if weights is not None:
            per_point, psi, w = per_point * weights, psi * weights, w * weights
        g = np.matmul(J, psi[:, :, None])[:, :, 0]
        return per_point.sum(axis=1), g, np.matmul(J * w[:, None, :], np.swapaxes(J, 1, 2))

    def objective_grad_hess(
        self, z: np.ndarray, sets: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Objective, exact gradient and Gauss-Newton (IRLS) Hessian in internal space."""
        n_sets, n_par = z.shape
        f = np.zeros(n_sets)
        g = np.zeros((n_sets, n_par))
        H = np.zeros((n_sets, n_par, n_par))
        set_blocks, row_blocks = self._blocks(n_sets, _JAC_BLOCK)
        with np.errstate(all="ignore"):
            for sl in set_blocks:
                theta = self.law.from_internal(z[sl])
                for rows in row_blocks:
                    fb, gb, Hb = self.block_derivatives(
                        theta, self._inputs(rows), self._log_y(sets, sl, rows), self._weights(sets, sl, rows)
                    )
                    f[sl] += fb
                    g[sl] += gb
                    H[sl] += Hb
        bad = ~(np.isfinite(f) & np.isfinite(g).all(axis=1) & np.isfinite(H).all(axis=(1, 2)))
        f[bad] = np.inf
        g[bad] = 0.0
        H[bad] = 0.0
        return f, g, H


@dataclass(frozen=True)
class BatchResult:
    """Where a batch of starts ended.

    Attributes
    ----------
    z : ndarray (n, n_params)
        Final points (internal space) of the starts carried to the end, best first.
    objective : ndarray (n,)
        Their objectives, ascending.
    converged : ndarray (n,) of bool
    n_iter : ndarray (n,) of int
    start_index : ndarray (n,) of int
        Index into the original start array.
    multiplicity : ndarray (n,) of int
        How many survivors of the pruning rounds ended at this point (merged when they met).
    n_starts : int
        Starts given (including those with a non-finite objective).
    n_finite_starts : int
    """

    z: np.ndarray
    objective: np.ndarray
    converged: np.ndarray
    n_iter: np.ndarray
    start_index: np.ndarray
    n_starts: int
    n_finite_starts: int
    multiplicity: np.ndarray | None = None


def lm_bounds(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``lo, hi`` and the thresholds ``on_lo, on_hi`` at which a coordinate is on them (:func:`lm_step`'s
    ``bounds``; computed once per call: the loop's overhead is what small batches pay)."""
    on_lo = lo + 1e-12 * (1.0 + np.abs(np.where(np.isfinite(lo), lo, 0.0)))
    on_hi = hi - 1e-12 * (1.0 + np.abs(np.where(np.isfinite(hi), hi, 0.0)))
    return lo, hi, on_lo, on_hi


def lm_verdict(
    f: np.ndarray, f_new: np.ndarray, lam: np.ndarray, grad_small: np.ndarray, ftol: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Whether each trial point is accepted (lower objective), the new damping (x0.3 on acceptance, x10 on
    rejection) and whether the start stops: its gradient was already small, the damping passed 1e10, or an
    accepted step gained at most ``ftol`` (relative)."""
    accept = f_new < f
    rel_gain = np.where(accept, (f - f_new) / np.maximum(f, 1e-300), 0.0)
    lam_new = np.where(accept, np.maximum(lam * 0.3, 1e-12), lam * 10.0)
    return accept, lam_new, grad_small | (lam_new > 1e10) | (accept & (rel_gain <= ftol))


def lm_step(
    z: np.ndarray,
    f: np.ndarray,
    g: np.ndarray,
    H: np.ndarray,
    lam: np.ndarray,
    bounds: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    frozen: np.ndarray | None,
    gtol: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One Levenberg-Marquardt proposal from starts at ``z`` (objective ``f``, gradient ``g``, Hessian ``H``,
    damping ``lam``); ``bounds`` are ``lo, hi`` and the thresholds ``on_lo, on_hi`` at which a coordinate is on
    them. Returns the trial point, whether the (projected) gradient is already small, the projected gradient and
    the Hessian with pinned coordinates masked."""
    lo, hi, on_lo, on_hi = bounds
    # Active set: a parameter on a bound whose gradient pushes outward stays put this step.
    pinned = ((z <= on_lo) & (g > 0)) | ((z >= on_hi) & (g < 0))
    if frozen is not None:
        pinned |= frozen
    # Mostly nothing is pinned: the masking below is then skipped (it would change no number).
    any_pinned = bool(pinned.any())
    gp = np.where(pinned, 0.0, g) if any_pinned else g
    grad_small = np.max(np.abs(gp), axis=1) <= gtol * (1.0 + f)
    free = ~pinned
    Hm = H * (free[:, :, None] & free[:, None, :]) if any_pinned else H
    diag = np.diagonal(Hm, axis1=1, axis2=2)
    scale = np.maximum(diag, 1e-12 * (1.0 + diag.max(axis=1, keepdims=True)))
    eye = np.eye(z.shape[1])
    A = Hm + (lam[:, None] * scale)[:, :, None] * eye
    if any_pinned:
        A += pinned[:, :, None] * eye
    try:
        step = -np.linalg.solve(A, gp[:, :, None])[:, :, 0]
    except np.linalg.LinAlgError:
        step = -gp / np.maximum(np.diagonal(A, axis1=1, axis2=2), 1e-300)
    if any_pinned:
        step = np.where(free, step, 0.0)
    # np.clip's definition (maximum, then minimum), without its overhead per call
    return np.minimum(np.maximum(z + step, lo), hi), grad_small, gp, Hm


def levenberg_marquardt(
    problem: Problem,
    z0: np.ndarray,
    max_iter: int = 200,
    ftol: float = 1e-12,
    gtol: float = 1e-10,
    lam0: float | np.ndarray = 1e-3,
    sets: np.ndarray | None = None,
    frozen: np.ndarray | None = None,
    lam_out: np.ndarray | None = None,
    derivs: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    derivs_out: list[np.ndarray] | None = None,
    fused: bool | None = None,
    model_ftol: float | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Run batched, bounded Levenberg-Marquardt from every row of ``z0``.

    ``sets`` gives each start's row of per-set weights (see :class:`Problem`); ``frozen`` (same shape
    as ``z0``) marks coordinates held at their start value (profile likelihood). ``lam0`` may give each
    start's initial damping and ``lam_out`` receives the final ones, so a search can resume; ``derivs``
    may give the objective, gradient and Hessian at ``z0`` (which must then lie inside the bounds) as an
    earlier call left them in ``derivs_out``, so resuming does not evaluate them again. ``fused`` evaluates
    derivatives at every trial point (True) or only at accepted ones (False); by default only small batches
    do. Either way the numbers are the same: it only moves work. With ``model_ftol``, a start whose next step
    its quadratic model promises to lower the objective by at most ``model_ftol`` times its value stops where
    it is (converged) without trying the step: at an optimum the step would gain at most rounding noise, or be
    rejected while the damping climbs to 1e10 one evaluation at a time (refits, which start at or next to
    their optimum, use it; fits do not).

    Returns final ``z``, objective, converged flags and iterations used, per start.
    """
    lo, hi = problem.lo, problem.hi
    z = np.clip(np.array(z0, dtype=np.float64), lo, hi)
    n_sets = z.shape[0]
    sets = None if sets is None else np.asarray(sets)
    if derivs is None:
        f, g, H = problem.objective_grad_hess(z, sets)
    else:
        f, g, H = (np.array(a, dtype=np.float64) for a in derivs)
    lam = np.broadcast_to(np.asarray(lam0, dtype=np.float64), (n_sets,)).copy()
    done = ~np.isfinite(f)
    converged = np.zeros(n_sets, dtype=bool)
    n_iter = np.zeros(n_sets, dtype=int)
    bounds = lm_bounds(lo, hi)
    for _ in range(max_iter):
        act = np.flatnonzero(~done)
        if act.size == 0:
            break
        za, fa, ga, Ha, la = z[act], f[act], g[act], H[act], lam[act]
        z_new, grad_small, gp, Hm = lm_step(za, fa, ga, Ha, la, bounds, None if frozen is None else frozen[act], gtol)
        if model_ftol is not None:
            moved = z_new - za  # the step as taken (clipped at the bounds)
            promised = -(np.einsum("ij,ij->i", gp, moved) + 0.5 * np.einsum("ij,ijk,ik->i", moved, Hm, moved))
            # |promised|: a clipped step the model expects to lose by more is left to the damping, as usual.
            settled = np.abs(promised) <= model_ftol * np.abs(fa)
            if settled.any():  # nothing worth an evaluation is left for these: converged where they stand
                converged[act[settled]] = done[act[settled]] = True
                keep = ~settled
                act, za, fa, la, z_new, grad_small = (a[keep] for a in (act, za, fa, la, z_new, grad_small))
                if act.size == 0:
                    continue
        sets_a = None if sets is None else sets[act]
        # Small batches cost mostly per-call overhead: derivatives at every trial point in one pass beat an
        # objective pass followed by a second pass at the accepted points. Large batches are arithmetic-bound
        # and pay for derivatives only where the step is accepted. Both give the same numbers.
        fused_now = act.size * problem.n_rows <= _FUSED_MAX if fused is None else fused
        if fused_now:
            f_new, g_new, H_new = problem.objective_grad_hess(z_new, sets_a)
        else:
            f_new = problem.objective(z_new, sets_a)
        accept, lam[act], stop = lm_verdict(fa, f_new, la, grad_small, ftol)
        n_iter[act] += 1
        acc_idx = act[accept]
        if acc_idx.size:
            z[acc_idx] = z_new[accept]
            if fused_now:
                f[acc_idx], g[acc_idx], H[acc_idx] = f_new[accept], g_new[accept], H_new[accept]
            else:
                f2, g2, H2 = problem.objective_grad_hess(z[acc_idx], None if sets is None else sets[acc_idx])
                f[acc_idx], g[acc_idx], H[acc_idx] = f2, g2, H2
        converged[act[stop]] = True
        done[act[stop]] = True
    if lam_out is not None:
        lam_out[:] = lam
    if derivs_out is not None:
        derivs_out[:] = [f, g, H]
    return z, f, converged, n_iter


def multistart(
    problem: Problem,
    starts: np.ndarray,
    keep: int = 32,
    rounds_iter: int = 2,
    prune: int = 4,
    first_cut: int = 8,
    first_cut_floor: int = 512,
    max_iter: int = 300,
    ftol: float = 1e-12,
    projected: np.ndarray | None = None,
    projected_cut: int = _PROJECTED_CUT,
) -> BatchResult:
    """Optimize from every start (internal space) and return the survivors, best first.

    Successive pruning: the best ``1/first_cut`` of the starts by their own objective (a grid search),
    but at least ``first_cut_floor`` of them, take ``rounds_iter`` steps; the best ``1/prune`` of those
    continue; this repeats until at most ``keep`` starts remain, which run to convergence (a start more than
    twice as bad as a converged one that could not reach it in ten more rounds at its pace is left behind). With
    ``keep >= n_starts`` every start runs to convergence. On 30 hard and real datasets
    (``benchmarks/fit_speed.py``) a first cut of 1/64 still found the best optimum every time; 1/8 leaves
    a wide margin. Grids of at most ``first_cut_floor`` starts are not cut: on 8-9 point envelopes of
    porian2024_optimal, cutting m4's 256 and bnsl's 675 starts lost the best optimum.

    ``projected`` (internal space) are starts whose amplitudes were solved for their exponents (variable
    projection, :meth:`~scalelaw.laws.law.Law.projected_starts`): they all take the pruning rounds' steps
    (indices ``n_starts + j``), and the grid's first cut keeps only its best ``1/projected_cut``, no floor.
    """
    z = np.clip(np.asarray(starts, dtype=np.float64), problem.lo, problem.hi)
    n_starts = z.shape[0]
    n_proj = 0
    if projected is not None:
        n_proj = projected.shape[0]
        z = np.concatenate([z, np.clip(np.asarray(projected, dtype=np.float64), problem.lo, problem.hi)])
    f0 = problem.objective(z)
    idx = np.flatnonzero(np.isfinite(f0))
    n_finite = idx.size
    if n_finite == 0:
        return BatchResult(
            z=z[:0],
            objective=f0[:0],
            converged=np.zeros(0, bool),
            n_iter=np.zeros(0, int),
            start_index=idx,
            multiplicity=np.zeros(0, int),
            n_starts=n_starts,
            n_finite_starts=0,
        )
    # The first cut uses the objective at the starts themselves (a grid search), later cuts the
    # objective after a few optimizer steps.
    if n_proj:
        # The projected starts stand in for the grid's amplitudes: only the grid's best few join them.
        grid = idx[idx < n_starts]
        grid = grid[_best(f0[grid], max(1, grid.size // projected_cut))]
        idx = np.concatenate([idx[idx >= n_starts], grid])
        order = np.argsort(f0[idx], kind="stable")
    else:
        # Small grids (m4, bnsl on a handful of points) are cheap to run whole, and cutting them to 1/8 by the
        # grid objective lost their best optimum on sparse real curves; only large grids get the first cut.
        order = _best(f0[idx], max(keep, min(idx.size, first_cut_floor), idx.size // first_cut))
    idx = idx[order]
    z = z[idx]
    used = np.zeros(idx.size, dtype=int)
    # Objective, gradient and Hessian where each start stands, carried from one call to the next.
    fgh: list[np.ndarray] = []
    while idx.size > keep:
        z, f, _, it = levenberg_marquardt(
            problem, z, max_iter=rounds_iter, ftol=ftol, derivs=tuple(fgh) if fgh else None, derivs_out=fgh
        )
        used += it
        order = _best(f, max(keep, idx.size // prune))
        if order.size >= idx.size:
            break  # everything left is tied: no cut is possible without choosing by order
        idx, z, used = idx[order], z[order], used[order]
        fgh = [a[order] for a in fgh]
    # Survivors often share a basin: every few steps, starts that have come together are merged (the
    # better one carries on and counts for both), so the end costs one path per distinct optimum.
    multiplicity = np.ones(idx.size, dtype=int)
    conv = np.zeros(idx.size, dtype=bool)
    # Starts left behind: once some start has converged, a start still more than _LOSER_GAP worse that would need
    # more than _LOSER_PACE further rounds at its last round's pace even to reach it stops where it is.
    behind = np.zeros(idx.size, dtype=bool)
    lam = np.full(idx.size, 1e-3)
    if not fgh:
        fgh = list(problem.objective_grad_hess(z))
    f, g, H = fgh
    remaining = max_iter
    while remaining > 0 and not (conv | behind).all():
        todo = np.flatnonzero(~(conv | behind))
        step = min(_MERGE_EVERY, remaining)
        lam_t = np.empty(todo.size)
        f_before = f[todo]
        fgh_t: list[np.ndarray] = []
        z_t, f_t, conv_t, it = levenberg_marquardt(
            problem,
            z[todo],
            max_iter=step,
            ftol=ftol,
            lam0=lam[todo],
            lam_out=lam_t,
            derivs=(f[todo], g[todo], H[todo]),
            derivs_out=fgh_t,
        )
        z[todo], f[todo], conv[todo], lam[todo] = z_t, f_t, conv_t, lam_t
        g[todo], H[todo] = fgh_t[1], fgh_t[2]
        used[todo] += it
        remaining -= step
        if conv.any():
            f_conv = np.min(f[conv])
            with np.errstate(invalid="ignore"):
                gap = (f_t - f_conv) / abs(f_conv)
                pace = (f_before - f_t) / np.abs(f_t)
            behind[todo] = ~conv_t & (gap > _LOSER_GAP) & (gap > _LOSER_PACE * pace)
        keep_mask = _merge_duplicates(z, f, multiplicity)
        z, f, g, H, conv, behind, used, idx, multiplicity, lam = (
            a[keep_mask] for a in (z, f, g, H, conv, behind, used, idx, multiplicity, lam)
        )
    # Polish: a final phase can stop early on a near-L1 objective (a tiny gain or a stalled damping), so
    # the best few distinct optima restart from a fresh damping; the winner is then chosen among them.
    # Starts left behind are not polished: they were stopped because they could not catch up.
    top = np.argsort(np.where(behind, np.inf, f), kind="stable")[: min(_POLISH, int(np.sum(~behind)))]
    z_p, f_p, conv_p, it = levenberg_marquardt(
        problem, z[top], max_iter=max_iter, ftol=ftol * _POLISH_FTOL, derivs=(f[top], g[top], H[top])
    )
    better = f_p < f[top]
    z[top[better]], f[top[better]] = z_p[better], f_p[better]
    conv[top] |= conv_p
    used[top] += it
    order = np.argsort(f, kind="stable")
    return BatchResult(
        z=z[order],
        objective=f[order],
        converged=conv[order],
        n_iter=used[order],
        start_index=idx[order],
        multiplicity=multiplicity[order],
        n_starts=n_starts,
        n_finite_starts=n_finite,
    )
