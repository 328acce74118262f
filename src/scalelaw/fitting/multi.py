"""Many targets at once: one law fitted to many metric columns in one batch.

``scalelaw.fit(law, data, y=["mmlu", "arc_c", ...])`` (or ``y="all-metrics"``) fits the same law to every
column. Every start of every target is a row of one batch: the optimizer already moves many parameter sets
together, and here each set also picks its target (its row of log values and row weights, through the
engine's ``sets``), so the per-call overhead that dominates a small fit is paid once per step, not once per
target.

The batch runs its own, cheaper search (:func:`multistart_targets`), not the single-target search start by
start: it steps from each target's best grid start and, for a law with a profile along its exponent, the
profile's best local minima (a law without one: its ``keep`` best starts), places a start on the bound a crawling
start heads for, and stops slow and crawling starts below a converged one. So a target's answer can differ from
fitting it alone:

* where the lone fit converges, the batch ends at most 1e-9 (relative) above it on nearly every target, and
  sometimes lower (another optimum); ``benchmarks/many_targets.py --study`` counts the exceptions (2 of 1,576,
  benchmarks/README.md, "Many targets at once");
* where the lone fit runs out of iterations crawling along a valley, the batch usually reaches the valley's
  end (a bound) and reports it converged, lower;
* a target whose batched best did not converge is searched alone as well, and the lower answer is kept.

The start grids and the diagnostics (curvature, outliers, no signal) are computed for many targets at once, each
on its own rows, with the same numbers as a single fit.

A row whose value is missing (NaN) in one target is left out of that target's fit only; the rows are shared
otherwise, so the law's inputs are bound once for the union of the targets' rows.
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_numeric_dtype

from scalelaw._result import Result, jsonable, records
from scalelaw._validation import column_names
from scalelaw.data.io import load_runs
from scalelaw.data.runs import Runs, data_fingerprint
from scalelaw.errors import DataError, FitError, LawError, format_rows
from scalelaw.fitting.diagnostics import OUTLIER_FLOOR, curvatures_at, no_signal_masks, outlier_masks
from scalelaw.fitting.engine import (
    _FUSED_MAX,
    _LOSER_GAP,
    _LOSER_PACE,
    _MERGE_EVERY,
    _MERGE_TOL,
    _POLISH,
    _POLISH_FTOL,
    _TIE_RTOL,
    BatchResult,
    GroupWeights,
    Problem,
    levenberg_marquardt,
)
from scalelaw.fitting.fit import (
    SCALE_COLUMNS,
    Y_MAGNITUDE,
    Diagnosis,
    _check_magnitude,
    _starts,
    finish,
    projector,
)
from scalelaw.fitting.large import search
from scalelaw.fitting.lean import lean_levenberg_marquardt
from scalelaw.fitting.objective import LOSSES
from scalelaw.fitting.refit import REFIT_OUTER_CURVATURE
from scalelaw.fitting.result import FitResult
from scalelaw.laws.catalog import get_law
from scalelaw.laws.law import Law
from scalelaw.laws.schedule_laws import schedule_law

__all__ = ["ALL_METRICS", "NOT_METRICS", "MultiFit", "fit_targets", "metric_columns"]

#: ``y=ALL_METRICS`` fits every metric column (:func:`metric_columns`).
ALL_METRICS = "all-metrics"
#: Columns that are never metrics: run ids, the scale and configuration columns, step, seed and lr.
NOT_METRICS = frozenset({"run", "step", "seed", "lr", *SCALE_COLUMNS})
#: Starts of each target's grid that take optimizer steps: the best by the objective where they stand ...
SCREEN = 1
#: ... with the best local minima of its profile along the law's exponent (Law.profile_starts), when it has one.
PROFILE_MINIMA = 3
#: A start that is not converged and gains between CRAWL_FLOOR and CRAWL_BELOW (relative) over a round of
#: ``_MERGE_EVERY`` steps, at least CRAWL_STEADY times its previous round's gain, crawls (see multistart_targets).
CRAWL_FLOOR, CRAWL_BELOW, CRAWL_STEADY = 1e-9, 1e-4, 0.1
#: A start that is not converged and gains less than SLOW_BELOW (relative) over a round stops once a converged
#: start of its target is lower and it would need more than ``_LOSER_PACE`` rounds at its pace to reach it.
SLOW_BELOW = 1e-3
#: Only optima within POLISH_GAP (relative) of their target's best are polished: the polish settles which of
#: nearly equal optima wins; one more than twice the best would have to leave its basin to win.
POLISH_GAP = 1.0
#: A polish round that gains less than this (relative) ends that optimum's polish.
POLISH_CRAWL_RTOL = 1e-10


def metric_columns(runs: Runs | pd.DataFrame | Mapping[str, Any] | str, law: str | Law | None = None) -> list[str]:
    """The columns ``y="all-metrics"`` fits: every numeric column that is not an input or a bookkeeping column.

    Left out: the law's inputs; ``run``, ``step``, ``seed`` and ``lr``; the scale columns (``params``,
    ``tokens``, ``flops``, ``unique_tokens``, ``batch_size``) even when the law does not read them; true/false
    columns. A numeric metadata column of your own (``params_billion``) is a metric by this rule: name the
    targets instead, or drop it first.

    Examples
    --------
    >>> metric_columns({"params": [1e8, 1e9], "seed": [0, 1], "mmlu": [0.3, 0.4], "name": ["a", "b"]})
    ['mmlu']
    """
    runs = load_runs(runs)
    inputs = set(get_law(law).inputs) if law is not None else set()
    table = runs.table
    return [
        str(c)
        for c in table.columns
        if c not in NOT_METRICS
        and c not in inputs
        and is_numeric_dtype(table[c].dtype)
        and not is_bool_dtype(table[c].dtype)
    ]


# ---------------------------------------------------------------------------------------------- result


@dataclass(frozen=True)
class MultiFit(Result):
    """One law fitted to many targets: a :class:`FitResult` per target, in the order asked for.

    ``multi["mmlu"]`` is the fit of one target (a full :class:`FitResult`: status, intervals, predictions);
    ``to_frame()`` has one row per target: the rows used, the objective, the status flags and the parameters
    as columns.

    Attributes
    ----------
    fits : dict of str to FitResult
    fit_seconds : float
        Wall time of the search (all targets together). Each fit's own ``fit_seconds`` is its share.
    backend : str
        ``"one batch"``, or ``"ray (ADDRESS): N tasks"`` when the targets were spread over Ray.
    """

    fits: dict[str, FitResult]
    fit_seconds: float = 0.0
    backend: str = "one batch"

    @property
    def targets(self) -> list[str]:
        """The fitted columns, in the order asked for."""
        return list(self.fits)

    @property
    def law(self) -> Law:
        """The law every target was fitted with."""
        return next(iter(self.fits.values())).law

    def __getitem__(self, target: str) -> FitResult:
        try:
            return self.fits[target]
        except KeyError:
            raise KeyError(f"no target {target!r}; fitted: {', '.join(self.fits)}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self.fits)

    def __len__(self) -> int:
        return len(self.fits)

    def params_frame(self) -> pd.DataFrame:
        """Parameter values only: one row per target (the index), one column per parameter."""
        names = self.law.param_names
        return pd.DataFrame(
            [f.values for f in self.fits.values()], index=pd.Index(self.targets, name="target"), columns=list(names)
        )

    def to_frame(self) -> pd.DataFrame:
        """One row per target: ``target, n_points, objective, ok, flags`` and the parameters as columns."""
        rows = [
            {
                "target": t,
                "n_points": f.n_points,
                "objective": f.objective,
                "ok": f.status.ok,
                "flags": "; ".join(f.status.flags()),
                **f.params,
            }
            for t, f in self.fits.items()
        ]
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        """Law, search time, backend and :meth:`to_frame`'s rows (each target's full fit: ``multi[t].to_dict()``)."""
        return jsonable(
            {
                "law": self.law.name,
                "formula": self.law.formula(),
                "params": list(self.law.param_names),
                "n_targets": len(self.fits),
                "fit_seconds": self.fit_seconds,
                "backend": self.backend,
                "targets": records(self.to_frame()),
            }
        )

    def summary(self) -> str:
        """How many targets, how long, and the targets whose status raised flags."""
        flagged = {t: f.status.flags() for t, f in self.fits.items() if not f.status.ok}
        head = (
            f"law {self.law.name!r} fitted to {len(self.fits)} target(s) ({self.backend}, {self.fit_seconds:.3g} s): "
            f"{len(self.fits) - len(flagged)} ok, {len(flagged)} flagged"
        )
        lines = [head, f"formula: {self.law.formula()}"]
        lines += [f"  {t}: {'; '.join(flags)}" for t, flags in flagged.items()]
        return "\n".join(lines)

    @classmethod
    def combine(cls, parts: Sequence[MultiFit], backend: str | None = None) -> MultiFit:
        """One :class:`MultiFit` from parts fitted apart (Ray tasks, say); ``fit_seconds`` is the slowest part's."""
        if not parts:
            raise FitError("no parts to combine")
        fits: dict[str, FitResult] = {}
        for part in parts:
            fits.update(part.fits)
        seconds = max(p.fit_seconds for p in parts)
        return cls(fits=fits, fit_seconds=seconds, backend=backend or parts[0].backend)


# ---------------------------------------------------------------------------------------------- search


def _group_order(f: np.ndarray, grp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Order grouping by target, then by objective (stable, as ``np.argsort(kind="stable")`` per target), and
    each element's rank inside its target in that order."""
    order = np.lexsort((f, grp))
    g = grp[order]
    first = np.searchsorted(g, g, side="left")
    return order, np.arange(order.size) - first


def _group_best(f: np.ndarray, grp: np.ndarray, n_keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`scalelaw.fitting.engine._best` in every target at once.

    Returns the order of the elements (by target, then objective) and a mask, in that order, of those kept:
    the ``n_keep[target]`` best and every start tied with the last one kept.
    """
    order, rank = _group_order(f, grp)
    fs, g = f[order], grp[order]
    size = np.bincount(g, minlength=n_keep.size)[g]
    nk = np.minimum(n_keep[g], size)
    if order.size == 0:
        return order, np.zeros(0, dtype=bool)
    cutoff = fs[np.arange(order.size) - rank + nk - 1]  # each target's last kept objective
    tied = (n_keep[g] < size) & np.isfinite(cutoff) & (fs <= cutoff + _TIE_RTOL * np.abs(cutoff))
    return order, (rank < nk) | tied


def _group_merge(z: np.ndarray, f: np.ndarray, grp: np.ndarray, mult: np.ndarray, merge: np.ndarray) -> np.ndarray:
    """:func:`scalelaw.fitting.engine._merge_duplicates` in every target at once (where ``merge`` is true).

    A start close to a better start kept in its target is merged into it (its count added to the kept one's);
    starts with a non-finite objective are dropped. Returns the mask of starts to keep; ``mult`` is updated.
    The loop runs over positions in a target (at most ``keep`` and its ties), every target at once.
    """
    keep = np.ones(f.size, dtype=bool)
    sel = np.flatnonzero(merge)
    if sel.size:  # only targets with two starts or more can merge
        sel = sel[np.bincount(grp[sel], minlength=int(grp.max()) + 1)[grp[sel]] > 1]
    if sel.size == 0:
        return keep
    order, rank = _group_order(f[sel], grp[sel])
    members = sel[order]
    _, row = np.unique(grp[members], return_inverse=True)
    n_rows, width = int(row.max()) + 1, int(rank.max()) + 1
    slot = np.full((n_rows, width), -1)
    slot[row, rank] = members
    valid = slot >= 0
    Z = np.where(valid[:, :, None], z[np.maximum(slot, 0)], np.nan)
    F = np.where(valid, f[np.maximum(slot, 0)], np.inf)
    M = np.where(valid, mult[np.maximum(slot, 0)], 0)
    scale = 1.0 + np.abs(Z)
    # Every pair of a target's starts at once (NaN placeholders are never near); the visit below is then cheap.
    near_all = np.all(
        np.abs(Z[:, :, None, :] - Z[:, None, :, :])
        <= _MERGE_TOL * np.maximum(scale[:, :, None, :], scale[:, None, :, :]),
        axis=3,
    )
    candidate = valid & np.isfinite(F)
    kept = candidate.copy()
    rows = np.arange(n_rows)
    # Only positions near an earlier start can merge; visit those in order (a merge depends on what was kept).
    for j in np.flatnonzero(np.tril(near_all, -1).any(axis=(0, 2))):
        near = near_all[:, j, :j] & kept[:, :j]
        has = near.any(axis=1)
        into = candidate[:, j] & has
        kept[:, j] = candidate[:, j] & ~has
        if into.any():
            np.add.at(M, (rows[into], np.argmax(near[into], axis=1)), M[into, j])
    mult[slot[valid]] = M[valid]
    keep[slot[valid]] = kept[valid]
    return keep


class _Derivs:
    """Objective, gradient and Hessian where each start stands, carried from one optimizer call to the next (as
    :func:`scalelaw.fitting.engine.multistart` does): a start's are evaluated once, when first needed."""

    def __init__(self, problem: Problem, n: int) -> None:
        p = problem.law.n_params
        self.problem = problem
        self.f, self.g, self.H = np.empty(n), np.empty((n, p)), np.empty((n, p, p))
        self.known = np.zeros(n, dtype=bool)

    def at(self, z: np.ndarray, grp: np.ndarray, sel: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Derivatives of starts ``sel`` (evaluating those not known yet)."""
        new = sel[~self.known[sel]]
        if new.size:
            self.f[new], self.g[new], self.H[new] = self.problem.objective_grad_hess(z[new], grp[new])
            self.known[new] = True
        return self.f[sel], self.g[sel], self.H[sel]

    def put(self, sel: np.ndarray, fgh: Sequence[np.ndarray]) -> None:
        self.f[sel], self.g[sel], self.H[sel] = fgh
        self.known[sel] = True

    def take(self, keep: np.ndarray) -> None:
        self.f, self.g, self.H, self.known = self.f[keep], self.g[keep], self.H[keep], self.known[keep]

    def extend(self, k: int) -> None:
        """Room for ``k`` new starts, their derivatives not known yet."""
        self.f = np.concatenate([self.f, np.empty(k)])
        self.g = np.concatenate([self.g, np.empty((k, self.g.shape[1]))])
        self.H = np.concatenate([self.H, np.empty((k, *self.H.shape[1:]))])
        self.known = np.concatenate([self.known, np.zeros(k, dtype=bool)])


def _lm(
    problem: Problem, z: np.ndarray, grp: np.ndarray, sel: np.ndarray, d: _Derivs, **options: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Levenberg-Marquardt from starts ``sel``, their derivatives carried in and out through ``d``: a batch small
    enough for derivatives at every trial point takes the lean path (the same numbers, less overhead per step)."""
    if (
        sel.size * problem.n_rows <= _FUSED_MAX
        and problem.log_y.ndim == 2
        and not isinstance(problem.weights, GroupWeights)
    ):
        z_s, f_s, conv, it, (g_s, H_s) = lean_levenberg_marquardt(
            problem, z[sel], d.at(z, grp, sel), grp[sel], **options
        )
        d.put(sel, (f_s, g_s, H_s))
        return z_s, f_s, conv, it
    out: list[np.ndarray] = []
    result = levenberg_marquardt(problem, z[sel], sets=grp[sel], derivs=d.at(z, grp, sel), derivs_out=out, **options)
    d.put(sel, out)
    return result


def multistart_targets(
    problem: Problem,
    starts: Sequence[np.ndarray],
    keep: int = 32,
    max_iter: int = 300,
    ftol: float = 1e-12,
    screen: int = SCREEN,
    profile: np.ndarray | None = None,
) -> list[BatchResult]:
    """The batch's own multi-start search, every target at once: ``starts[t]`` are target t's starts.

    ``problem.log_y`` holds one row per target; the starts of all targets sit in one array, grouped by target.

    1. **Screen**: one evaluation of every start; only each target's best (and every start tied with the
       last one) take optimizer steps: with a ``profile`` (:meth:`~scalelaw.laws.law.Law.profile_starts`,
       internal space, shape (targets, exponents, params)), its best ``min(screen, keep)`` starts and the best
       ``PROFILE_MINIMA`` local minima of its objective along the profile (start indices ``n_starts + k``);
       without one, its best ``keep`` starts.
    2. **Rounds** of ``_MERGE_EVERY`` Levenberg-Marquardt steps at the tolerance ``ftol``, as in
       :func:`scalelaw.fitting.engine.multistart`: starts that meet merge, starts left behind stop. A Huber
       objective's rounds use the bootstrap refits' lighter curvature beyond ``delta``
       (:data:`~scalelaw.fitting.refit.REFIT_OUTER_CURVATURE`): with the IRLS curvature an almost-L1 objective
       makes Levenberg-Marquardt crawl, and on the benchmark's ladder the batch took twice the time. A slow
       start (gaining less than ``SLOW_BELOW`` over a round) also stops once a converged start of its target
       is lower and it would need more than ``_LOSER_PACE`` rounds at its pace to reach it, or it crawls (3).
    3. **Crawls**: a start that keeps gaining between ``CRAWL_FLOOR`` and ``CRAWL_BELOW`` (relative) per round,
       round after round (each gain at least ``CRAWL_STEADY`` times the one before), crawls along a valley the
       data barely determine. After two such rounds it spawns one new start per parameter it moves towards a
       bound, placed on that bound and held there for one round (the valley often ends there; alone, such a
       start takes hundreds of steps to get there, or runs out of them).
    4. **Polish**: the best few converged optima of every target within ``POLISH_GAP`` of its best (and its
       best start if not converged) restart from a fresh damping at ``ftol / 100`` with the objective's own
       curvature, in rounds; a converged optimum's polish stops when a round gains less than
       ``POLISH_CRAWL_RTOL``.

    A target whose starts have all stopped drops out of the batch. No answer is promised to equal the lone
    search's (:func:`scalelaw.fitting.engine.multistart`): ``benchmarks/many_targets.py --study`` measures how
    they compare.
    """
    lo, hi = problem.lo, problem.hi
    T = len(starts)
    sizes = np.array([s.shape[0] for s in starts])
    z = np.clip(np.concatenate([np.asarray(s, dtype=np.float64) for s in starts]), lo, hi)
    grp = np.repeat(np.arange(T), sizes)
    idx = np.concatenate([np.arange(n) for n in sizes])
    f0 = problem.objective(z, grp)
    finite = np.isfinite(f0)
    n_finite = np.bincount(grp[finite], minlength=T)
    z, f0, grp, idx = z[finite], f0[finite], grp[finite], idx[finite]
    # Without a profile the screen is the only guide: as many starts as the single-target search keeps.
    n_screen = min(screen, keep) if profile is not None else keep
    order, kept = _group_best(f0, grp, np.full(T, max(1, n_screen)))
    take = order[kept]
    if profile is not None:
        z_p, f_p, grp_p, idx_p = _profile_minima(problem, profile, sizes, min(PROFILE_MINIMA, keep))
        z, f0, grp, idx = (np.concatenate([a[take], b]) for a, b in ((z, z_p), (f0, f_p), (grp, grp_p), (idx, idx_p)))
        take = np.lexsort((f0, grp))  # by target, then objective
    n = take.size
    s = _State(
        z=z[take],
        grp=grp[take],
        idx=idx[take],
        f=f0[take],
        used=np.zeros(n, dtype=int),
        mult=np.ones(n, dtype=int),
        conv=np.zeros(n, dtype=bool),
        behind=np.zeros(n, dtype=bool),  # left behind: stopped, as in the single-target search
        crawled=np.zeros(n, dtype=bool),  # slow, stopped below a converged start (not converged)
        lam=np.full(n, 1e-3),
        gain=np.full(n, np.inf),  # last round's relative gain
        n_crawl=np.zeros(n, dtype=int),  # rounds crawled in a row
        probe=np.zeros(n, dtype=bool),  # a start placed on a bound (spawns no probes itself)
        probed=np.zeros(n, dtype=bool),
        frozen=np.zeros((n, z.shape[1]), dtype=bool),  # held for a probe's first round
    )
    full = problem
    if problem.loss == "huber":  # the rounds with the refits' lighter curvature: the polish checks with the full one
        problem = dataclasses.replace(problem, outer_curvature=REFIT_OUTER_CURVATURE)
    d = _Derivs(problem, n)
    d.put(np.arange(n), problem.objective_grad_hess(s.z, s.grp))
    s.f = d.f.copy()
    remaining = max_iter
    while remaining > 0 and not (s.conv | s.behind | s.crawled).all():
        todo = np.flatnonzero(~(s.conv | s.behind | s.crawled))
        running = np.zeros(T, dtype=bool)
        running[s.grp[todo]] = True
        step = min(_MERGE_EVERY, remaining)
        lam_t = np.empty(todo.size)
        f_before, z_before = s.f[todo], s.z[todo]
        frozen = s.frozen[todo] if s.frozen[todo].any() else None
        s.z[todo], f_t, conv_t, it = _lm(
            problem, s.z, s.grp, todo, d, max_iter=step, ftol=ftol, lam0=s.lam[todo], lam_out=lam_t, frozen=frozen
        )
        s.frozen[todo] = False
        s.f[todo], s.conv[todo], s.lam[todo] = f_t, conv_t, lam_t
        s.used[todo] += it
        remaining -= step
        _leave_behind(s.f, s.grp, s.conv, s.behind, todo, f_before, T)
        probes = _crawl(s, todo, f_before, z_before, T, lo, hi)
        m = _group_merge(s.z, s.f, s.grp, s.mult, running[s.grp])
        if not m.all():  # most rounds merge nothing: no copies then
            s.take(m)
            d.take(m)
        if probes is not None:
            d.extend(probes.z.shape[0])
            s.append(probes)
    # Polish the best few optima of every target (not those left behind or stopped crawling) from a fresh damping.
    # A converged optimum's polish stops at a tiny gain; a target's best that is not converged (it ran out of
    # iterations) is polished as alone, to convergence or ``max_iter``, with the objective's own curvature.
    order, rank = _group_order(np.where(s.behind | s.crawled, np.inf, s.f), s.grp)
    # Optima more than POLISH_GAP above their target's best are not polished (a converged bound probe far above
    # it took ~7 rounds of polish on the benchmark's ladder, for nothing).
    f_best = np.full(T, np.inf)
    np.minimum.at(f_best, s.grp, np.where(s.behind | s.crawled, np.inf, s.f))
    f_o, best_o = s.f[order], f_best[s.grp[order]]
    near = ~(f_o > best_o + POLISH_GAP * np.abs(best_o))
    pick = (rank < _POLISH) & ~(s.behind | s.crawled)[order] & ((s.conv[order] & near) | (rank == 0))
    _polish(full, _Derivs(full, s.z.shape[0]), s, order[pick], ftol * _POLISH_FTOL, max_iter)
    order, _ = _group_order(s.f, s.grp)
    s.take(order)
    bounds = np.searchsorted(s.grp, np.arange(T + 1))
    return [
        BatchResult(
            z=s.z[bounds[t] : bounds[t + 1]],
            objective=s.f[bounds[t] : bounds[t + 1]],
            converged=s.conv[bounds[t] : bounds[t + 1]],
            n_iter=s.used[bounds[t] : bounds[t + 1]],
            start_index=s.idx[bounds[t] : bounds[t + 1]],
            multiplicity=s.mult[bounds[t] : bounds[t + 1]],
            n_starts=int(sizes[t]),
            n_finite_starts=int(n_finite[t]),
        )
        for t in range(T)
    ]


def _polish(problem: Problem, d: _Derivs, s: _State, top: np.ndarray, ftol: float, max_iter: int) -> None:
    """Rounds of Levenberg-Marquardt from a fresh damping on starts ``top`` (updated in ``s``); a start converged
    before stops when a round gains less than ``POLISH_CRAWL_RTOL``."""
    may_stop = s.conv[top].copy()
    lam_p = np.full(top.size, 1e-3)
    live = np.ones(top.size, dtype=bool)
    remaining = max_iter
    while remaining > 0 and live.any():
        sel = top[live]
        step = min(_MERGE_EVERY, remaining)
        lam_t = np.empty(sel.size)
        f_before = s.f[sel]
        s.z[sel], s.f[sel], conv_p, it = _lm(
            problem, s.z, s.grp, sel, d, max_iter=step, ftol=ftol, lam0=lam_p[live], lam_out=lam_t
        )  # Levenberg-Marquardt only ever moves to a lower objective
        lam_p[live] = lam_t
        s.conv[sel] |= conv_p
        s.used[sel] += it
        remaining -= step
        live[np.flatnonzero(live)] = ~conv_p & ~(may_stop[live] & _crawling(f_before, s.f[sel], POLISH_CRAWL_RTOL))


def _profile_minima(
    problem: Problem, profile: np.ndarray, sizes: np.ndarray, n_keep: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The local minima of every target's objective along its profile (:meth:`Law.profile_starts`, internal
    space, shape (targets, exponents, params)), the best ``n_keep`` of each target (ties kept): their points,
    objectives, targets and start indices (``n_starts + k`` for the k-th exponent)."""
    T, K, p = profile.shape
    z = np.clip(profile.reshape(-1, p), problem.lo, problem.hi)
    f = problem.objective(z, np.repeat(np.arange(T), K)).reshape(T, K)
    pad = np.pad(f, ((0, 0), (1, 1)), constant_values=np.inf)
    minimum = np.isfinite(f) & (f < pad[:, :-2]) & (f <= pad[:, 2:])  # a plateau counts once, at its start
    t, k = np.nonzero(minimum)
    order, kept = _group_best(f[t, k], t, np.full(T, max(1, n_keep)))
    t, k = t[order[kept]], k[order[kept]]
    return z.reshape(T, K, p)[t, k], f[t, k], t, sizes[t] + k


class _State:
    """The batch's starts: one entry per start in each array (all taken, appended and reordered together)."""

    def __init__(self, **arrays: np.ndarray) -> None:
        self.__dict__.update(arrays)
        self.names = list(arrays)

    def take(self, keep: np.ndarray) -> None:
        for name in self.names:
            setattr(self, name, getattr(self, name)[keep])

    def append(self, other: _State) -> None:
        for name in self.names:
            setattr(self, name, np.concatenate([getattr(self, name), getattr(other, name)]))


def _crawl(
    s: _State, todo: np.ndarray, f_before: np.ndarray, z_before: np.ndarray, T: int, lo: np.ndarray, hi: np.ndarray
) -> _State | None:
    """Count crawling rounds, stop slow starts below a converged one and return the bound probes to add (see
    :func:`multistart_targets`, steps 2 and 3); ``s`` is updated in place."""
    with np.errstate(invalid="ignore", divide="ignore"):
        gain = (f_before - s.f[todo]) / np.abs(s.f[todo])
    steady = ~s.conv[todo] & (gain > CRAWL_FLOOR) & (gain < CRAWL_BELOW) & (gain >= CRAWL_STEADY * s.gain[todo])
    s.n_crawl[todo] = np.where(steady, s.n_crawl[todo] + 1, 0)
    s.gain[todo] = gain
    crawling = todo[s.n_crawl[todo] >= 2]
    # A slow start stops once a converged start of its target is lower and it would need more than _LOSER_PACE
    # rounds at its pace to reach it (the single-target search's rule for starts left behind, without its gap),
    # or it crawls.
    slow = ~s.conv[todo] & (gain < SLOW_BELOW)
    if slow.any():
        f_conv = np.full(T, np.inf)
        np.minimum.at(f_conv, s.grp[s.conv], s.f[s.conv])
        sel = todo[slow]
        ref = f_conv[s.grp[sel]]
        with np.errstate(invalid="ignore"):
            gap = (s.f[sel] - ref) / np.abs(ref)
        # A crawling start stops below a converged one whatever its pace: on the ladder it crept ~7 rounds more
        # to the converged start's own point, one round at a time (the bound probe it spawned had got there).
        s.crawled[sel] = np.isfinite(ref) & (gap >= 0) & ((gap > _LOSER_PACE * gain[slow]) | (s.n_crawl[sel] >= 2))
    spawn = crawling[~s.probed[crawling] & ~s.probe[crawling]]
    if spawn.size == 0:
        return None
    s.probed[spawn] = True
    move = s.z[spawn] - z_before[np.searchsorted(todo, spawn)]
    down = (move < 0) & np.isfinite(lo) & (s.z[spawn] > lo)
    up = (move > 0) & np.isfinite(hi) & (s.z[spawn] < hi)
    rows, cols = np.nonzero(down | up)
    if rows.size == 0:
        return None
    z = s.z[spawn][rows].copy()
    z[np.arange(rows.size), cols] = np.where(down[rows, cols], lo[cols], hi[cols])
    origin = spawn[rows]
    k = rows.size
    frozen = np.zeros(z.shape, dtype=bool)
    frozen[np.arange(k), cols] = True
    return _State(
        z=z,
        grp=s.grp[origin],
        idx=s.idx[origin],
        f=np.full(k, np.inf),  # set when its derivatives are first evaluated
        used=s.used[origin],
        mult=np.ones(k, dtype=int),
        conv=np.zeros(k, dtype=bool),
        behind=np.zeros(k, dtype=bool),
        crawled=np.zeros(k, dtype=bool),
        lam=np.full(k, 1e-3),
        gain=np.full(k, np.inf),
        n_crawl=np.zeros(k, dtype=int),
        probe=np.ones(k, dtype=bool),
        probed=np.ones(k, dtype=bool),
        frozen=frozen,
    )


def _crawling(f_before: np.ndarray, f_after: np.ndarray, rtol: float) -> np.ndarray:
    """Starts whose objective fell, but by less than ``rtol`` (relative) over a round."""
    with np.errstate(invalid="ignore", divide="ignore"):
        gain = (f_before - f_after) / np.abs(f_after)
    return (gain > 0) & (gain < rtol)


def _leave_behind(
    f: np.ndarray, grp: np.ndarray, conv: np.ndarray, behind: np.ndarray, todo: np.ndarray, f_before: np.ndarray, T: int
) -> None:
    """The single-target search's starts left behind, target by target: in a target where some start has
    converged, a start still running more than ``_LOSER_GAP`` worse that would need more than ``_LOSER_PACE``
    further rounds at its last round's pace even to reach it stops (``behind`` is updated in place)."""
    f_conv = np.full(T, np.inf)
    np.minimum.at(f_conv, grp[conv], f[conv])
    g = grp[todo]
    has = np.isfinite(f_conv[g])  # a target with no converged start leaves its starts as they were
    if not has.any():
        return
    f_t, ref = f[todo][has], f_conv[g][has]
    with np.errstate(invalid="ignore", divide="ignore"):
        gap = (f_t - ref) / np.abs(ref)
        pace = (f_before[has] - f_t) / np.abs(f_t)
    behind[todo[has]] = ~conv[todo[has]] & (gap > _LOSER_GAP) & (gap > _LOSER_PACE * pace)


# ---------------------------------------------------------------------------------------------- fit


def _diagnoses(
    law: Law,
    X: Mapping[str, np.ndarray],
    Y: np.ndarray,
    at: np.ndarray,
    weights: np.ndarray | None,
    batches: Sequence[BatchResult],
    problem: Problem,
) -> list[Diagnosis | None]:
    """:func:`scalelaw.fitting.fit.diagnose` at every target's best optimum (each target on its own rows only,
    as fitted alone); None for a target without a finite optimum.

    The Jacobians and residuals are computed on the shared rows for all targets at once (a row's values depend
    on that row alone); the curvature of all targets with as many rows at once, each on its own rows gathered in
    order (so its sums over rows are a lone fit's); no signal and outliers for all targets at once, each on its
    own rows (medians and thresholds pick values, they do not sum them, so rows left out change no number).
    """
    T = len(batches)
    out: list[Diagnosis | None] = [None] * T
    found = np.flatnonzero([b.objective.size > 0 and bool(np.isfinite(b.objective[0])) for b in batches])
    if found.size == 0:
        return out
    lo, hi = problem.lo, problem.hi
    z = np.array([batches[t].z[0] for t in found])
    span = np.where(np.isfinite(hi - lo), hi - lo, 1.0)
    pinned = (np.isfinite(lo) & (z <= lo + 1e-9 * span)) | (np.isfinite(hi) & (z >= hi - 1e-9 * span))
    rows = at[:, found].T  # (found targets, shared rows)
    used = rows if weights is None else rows & (weights > 0)
    log_y = np.log(np.where(rows, Y[:, found].T, 1.0))
    theta = law.from_internal(z)
    log_pred, J3 = law.internal_jacobian(theta, X)  # on every shared row: a row's values are its own
    residuals = np.where(rows, log_pred - log_y, 0.0)
    curvs: list[Any] = [None] * found.size
    count = rows.sum(axis=1)
    for n in np.unique(count):  # targets with as many rows: each target's rows gathered, in order
        ks = np.flatnonzero(count == n)
        pos = np.argsort(~rows[ks], axis=1, kind="stable")[:, :n]
        J_k = np.take_along_axis(J3[ks], pos[:, None, :], axis=2)
        r_k = np.take_along_axis(residuals[ks], pos, axis=1)
        for j, curv in zip(ks, curvatures_at(law, theta[ks], J_k, r_k, ~pinned[ks]), strict=True):
            curvs[j] = curv
    flat, off_level = no_signal_masks(log_y, used)
    flagged, threshold = outlier_masks(residuals, used, (~pinned).sum(axis=1))
    for j, t in enumerate(found):
        at_bound = tuple(n for n, b in zip(law.param_names, pinned[j], strict=True) if b)
        mine = rows[j]
        if flat[j]:  # the outliers are the rows off the constant level, whatever the law made of them
            out[t] = (curvs[j], at_bound, True, np.flatnonzero(off_level[j][mine]), OUTLIER_FLOOR)
        else:
            out[t] = (curvs[j], at_bound, False, np.flatnonzero(flagged[j][mine]), float(threshold[j]))
    return out


def _grid_starts(law: Law, X: Mapping[str, np.ndarray], Y: np.ndarray, at: np.ndarray) -> list[np.ndarray] | None:
    """Every target's start grid (optimizer space), as :func:`scalelaw.fitting.fit._starts` gives it alone: the
    targets with as many rows at once (:meth:`Law.start_grids`), each on its own rows gathered in order. None
    for a law whose inputs are not one value per row."""
    n_rows = at.shape[0]
    if not all(np.ndim(X[name]) == 1 and np.shape(X[name])[0] == n_rows for name in law.inputs):
        return None
    out: list[np.ndarray] = [np.empty(0)] * at.shape[1]
    count = at.sum(axis=0)
    for n in np.unique(count):
        ts = np.flatnonzero(count == n)
        pos = np.argsort(~at[:, ts].T, axis=1, kind="stable")[:, :n]  # each target's rows, in order
        grids = law.start_grids({name: X[name][pos] for name in law.inputs}, np.take_along_axis(Y[:, ts].T, pos, 1))
        for t, grid in zip(ts, law.to_internal(law.clip(grids)), strict=True):
            out[t] = grid
    return out


def resolve_targets(runs: Runs, y: str | Sequence[str], law: Law) -> list[str]:
    """The target columns of ``y``: a list of names, ``"a,b,c"`` or ``"all-metrics"``; each must exist."""
    if isinstance(y, str):
        names = (
            metric_columns(runs, law) if y.strip() == ALL_METRICS else [n.strip() for n in y.split(",") if n.strip()]
        )
        if not names and y.strip() == ALL_METRICS:
            raise DataError(
                f"{runs.source} has no metric column for y='all-metrics' (numeric columns other than the law's "
                f"inputs and {', '.join(sorted(NOT_METRICS))}); its columns are: {', '.join(runs.columns)}"
            )
    else:
        names = [str(n) for n in y]
    if not names:
        raise DataError("y names no target column")
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise DataError(f"target column(s) {', '.join(map(repr, dupes))} named more than once in y")
    have = set(runs.columns)
    absent = [n for n in names if n not in have]
    if absent:
        raise DataError(
            f"{runs.source} has no target column {', '.join(map(repr, absent))}; its columns are: "
            f"{', '.join(runs.columns)}"
        )
    return names


def _target_values(runs: Runs, targets: Sequence[str], law: Law) -> np.ndarray:
    """The targets as a (n_rows, n_targets) float array, NaN where missing; a bad column raises, naming it."""
    table = runs.table
    dtypes = table.dtypes[list(targets)]
    if all(isinstance(d, np.dtype) and d.kind in "fiu" for d in dtypes):  # plain NumPy numbers: one copy
        Y = table[list(targets)].to_numpy(dtype=np.float64)
    else:
        columns = []
        for t in targets:
            series = table[t]
            if not is_numeric_dtype(series.dtype) or is_bool_dtype(series.dtype):
                try:
                    runs.subset(series.notna().to_numpy()).require([t])  # names what is wrong (text, dates, ...)
                except DataError as exc:
                    raise DataError(f"target '{t}': {exc}") from None
                series = pd.to_numeric(series)
            columns.append(series.to_numpy(dtype=np.float64))
        Y = np.column_stack(columns)
    finite_all = np.isfinite(Y)
    with np.errstate(invalid="ignore"):
        suspect = np.isinf(Y).any(axis=0) | (finite_all & (Y <= 0)).any(axis=0)
    suspect |= finite_all.sum(axis=0) < law.n_params
    with warnings.catch_warnings():  # a column without any value: its own check below says so
        warnings.simplefilter("ignore", RuntimeWarning)
        medians = np.nanmedian(np.where(finite_all, Y, np.nan), axis=0)
    suspect |= ~((Y_MAGNITUDE[0] <= medians) & (medians <= Y_MAGNITUDE[1]))
    for i in np.flatnonzero(suspect):  # only a column some check may fail is looked at closely (it names the rows)
        t = targets[i]
        values = Y[:, i]
        finite = np.isfinite(values)
        bad = table.index[np.isinf(values)]
        if len(bad):
            raise DataError(f"target '{t}' has {len(bad)} infinite value(s) ({format_rows(bad)}); drop or fill them")
        bad = table.index[finite & (values <= 0)]
        if len(bad):
            raise DataError(
                f"target '{t}' has {len(bad)} non-positive value(s) ({format_rows(bad)}); it is fitted on a log "
                "scale, so it must be > 0 (leave a missing value empty: that row is then left out of this target)"
            )
        if finite.sum() < law.n_params:
            raise DataError(
                f"target '{t}' has {int(finite.sum())} row(s) with a value, but law {law.name!r} has {law.n_params} "
                f"parameters ({', '.join(law.param_names)}); a fit needs at least {law.n_params} points"
            )
        try:
            _check_magnitude(values[finite], t)
        except DataError as exc:
            raise DataError(f"target '{t}': {exc}") from None
    return Y


def fit_targets(
    law: str | Law,
    runs: Runs | pd.DataFrame | Mapping[str, Any] | str,
    y: str | Sequence[str],
    x: str | Sequence[str] | None = None,
    loss: str = "huber",
    delta: float = 1e-3,
    starts: int | np.ndarray | None = None,
    seed: int = 0,
    weights: np.ndarray | None = None,
    keep: int = 32,
    max_iter: int = 500,
    law_options: Mapping[str, Any] | None = None,
) -> MultiFit:
    """Fit one law to many target columns in one batch (what ``scalelaw.fit(law, runs, y=[...])`` calls).

    Parameters
    ----------
    law, runs, x, loss, delta, starts, seed, weights, keep, max_iter, law_options
        As for :func:`scalelaw.fit`; every target gets the same settings (and the same seed). The batch's
        search is its own (see the module docstring): a target's fit has the data, data hash and diagnostics
        of ``scalelaw.fit(law, rows_with_that_target, y=target)``, but its optimum can differ from that fit's
        (where the lone fit converges, nearly always by at most 1e-9 relative, or lower).
    y : str or sequence of str
        Target columns: a list, ``"a,b,c"``, or ``"all-metrics"`` (:func:`metric_columns`). A row whose
        target value is missing (NaN) is left out of that target's fit only.

    Returns
    -------
    MultiFit

    Raises
    ------
    DataError
        A target column that is absent, named twice, not numeric, not positive (log scale) or with fewer
        usable rows than the law has parameters (the message names it).
    LawError
        An LR-schedule law or ``"auto"``: fit those target by target with :func:`scalelaw.fit`.

    Examples
    --------
    >>> import numpy as np
    >>> flops = np.logspace(18, 22, 8)
    >>> data = {"flops": flops, "a": 2 + 50 * flops**-0.1, "b": 1 + 9 * flops**-0.05}
    >>> multi = fit_targets("power", data, y=["a", "b"])
    >>> multi.to_frame()["target"].tolist()
    ['a', 'b']
    """
    if isinstance(law, str) and law.strip() == "auto":
        raise LawError("law='auto' chooses a law for one target; give the law to fit to many targets")
    law = get_law(law, **dict(law_options or {}))
    x = column_names(x)
    if x is not None:
        law = law.with_inputs(*x)
    if schedule_law(law) is not None:
        raise LawError(f"law {law.name!r} reads LR schedules; fit its targets one by one with scalelaw.fit")
    if loss not in LOSSES:
        raise FitError(f"unknown loss {loss!r}; choose one of {', '.join(LOSSES)}")
    if not delta > 0:
        raise FitError(f"delta must be > 0, got {delta}")
    runs = load_runs(runs)
    targets = resolve_targets(runs, y, law)
    Y = _target_values(runs, targets, law)
    masks = np.isfinite(Y)  # (n_rows, n_targets): a row missing a target is left out of that target's fit
    if weights is not None:
        weights = np.asarray(weights, dtype=np.float64)
        if weights.shape != (len(runs),) or not np.all(np.isfinite(weights)) or np.any(weights < 0):
            raise DataError(f"weights must be {len(runs)} finite non-negative numbers, one per row")
    union = masks.any(axis=1)
    shared = runs.subset(union) if not union.all() else runs
    shared.require(
        list(law.inputs),
        positive=[c for c in law.inputs if c in SCALE_COLUMNS],
        why=f"law {law.name!r} reads {', '.join(law.inputs)}",
    )
    X = {name: shared.array(name) for name in law.inputs}
    at = masks[union]  # each target's rows among the shared ones
    log_y = np.where(at, np.log(np.where(at, Y[union], 1.0)), 0.0).T
    W = at.T * (1.0 if weights is None else weights[union])
    # One problem, one target row per parameter set; weights only where some row is left out or weighted.
    problem = Problem(law=law, X=X, log_y=log_y, loss=loss, delta=delta, weights=None if np.all(W == 1.0) else W)
    run_ids = runs.run_ids if "run" in runs.columns else None
    prepared = []
    for i, t in enumerate(targets):
        rows = at[:, i]
        X_t = {name: X[name][rows] for name in law.inputs}
        y_t = Y[masks[:, i], i]
        w_t = None if weights is None else weights[masks[:, i]]
        n_out = int(len(runs) - rows.sum())
        sub = runs.subset(masks[:, i], note=f"{n_out} row(s) without '{t}' left out of its fit") if n_out else runs
        ids = None if run_ids is None else run_ids[masks[:, i]]
        digest = data_fingerprint([*X_t.items(), (t, y_t)], ids)
        prepared.append((X_t, y_t, w_t, sub, digest))
    z_starts = _grid_starts(law, X, Y[union], at) if starts is None else None
    if z_starts is None:
        z_starts = [_starts(law, X_t, y_t, starts, seed) for X_t, y_t, *_ in prepared]

    t0 = time.perf_counter()
    profile = None
    if starts is None:  # explicit starts are searched as given
        theta = law.profile_starts(X, np.where(at, Y[union], 1.0).T, W)
        if theta is not None:
            profile = law.to_internal(theta.reshape(-1, law.n_params)).reshape(theta.shape)
    batches = multistart_targets(problem, z_starts, keep=keep, max_iter=max_iter, profile=profile)
    for i, batch in enumerate(batches):
        if batch.objective.size and np.isfinite(batch.objective[0]) and not batch.converged[0]:
            # The batch's best did not converge (it crawled to max_iter): the target is searched alone too, and
            # the lower of the two answers is kept.
            X_t, y_t, w_t, *_ = prepared[i]
            single = Problem(law=law, X=X_t, log_y=np.log(y_t), loss=loss, delta=delta, weights=w_t)
            alone = search(
                single, z_starts[i], keep=keep, max_iter=max_iter, projected=projector(law, X_t, y_t, starts, w_t)
            )
            if alone.objective[0] < batch.objective[0]:
                batches[i] = alone
    seconds = time.perf_counter() - t0
    diagnoses = _diagnoses(law, X, Y[union], at, None if weights is None else weights[union], batches, problem)
    all_ids = runs.run_ids
    # Distinct runs among each target's rows, every target at once (a count per run of the rows it uses).
    _, run_code = np.unique(all_ids, return_inverse=True)
    per_run = np.zeros((int(run_code.max(initial=-1)) + 1, masks.shape[1]), dtype=int)
    np.add.at(per_run, run_code.ravel(), masks)
    n_runs = (per_run > 0).sum(axis=0)
    fits: dict[str, FitResult] = {}
    issues: dict[type[Warning], list[tuple[str, str]]] = {}
    for i, (t, (X_t, y_t, w_t, sub, digest), batch, z) in enumerate(
        zip(targets, prepared, batches, z_starts, strict=True)
    ):
        single = Problem(law=law, X=X_t, log_y=np.log(y_t), loss=loss, delta=delta, weights=w_t)
        try:
            fits[t] = finish(
                single,
                batch,
                sub,
                y=t,
                y_values=y_t,
                n_starts=int(z.shape[0]),
                seed=seed,
                fit_seconds=seconds / len(targets),
                data_hash=digest,
                run_ids=all_ids[masks[:, i]],
                diagnosis=diagnoses[i],
                n_runs=int(n_runs[i]),
            )
        except FitError as exc:
            raise FitError(f"target '{t}': {exc}") from None
        for category, message in fits[t].status.issues():
            issues.setdefault(category, []).append((t, message))
    for category, found in issues.items():  # one warning per kind of flag, not one per target
        names = [t for t, _ in found]
        shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
        warnings.warn(
            f"{len(names)} target(s) raised {category.__name__} ({shown}); for {names[0]}: {found[0][1]} "
            "(MultiFit.summary() lists every flag)",
            category,
            stacklevel=3,
        )
    return MultiFit(fits=fits, fit_seconds=seconds)
