"""The start search on long tables: screen the start grid on a subsample of rows, finish on every row.

The multi-start search costs (starts x rows): Epoch AI's 4,500-start chinchilla grid on a million checkpoints
is 4.5e9 evaluations before the pruning rounds' Jacobians, minutes of work to tell basins apart that a few
thousand rows already tell apart. Tables longer than :data:`SCREEN_ROWS` rows therefore run the whole
search (:func:`~scalelaw.fitting.engine.multistart`: grid cut, pruning rounds, merging, polish) on a seeded
uniform subsample of :data:`SCREEN_ROWS` rows, and the best :data:`FINISH` distinct optima it found (ranked
by their objective on every row) are then refined to convergence on every row. The optimum reported is
the full table's: the subsample only chooses where the final descent starts. Shorter tables are searched
exactly as before (the subsample path is never taken on them).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from scalelaw.fitting.engine import BatchResult, Problem, levenberg_marquardt, multistart

#: Tables with more rows than this screen their starts on a subsample of this many rows.
SCREEN_ROWS = 20_000
#: Distinct optima of the screen refined on every row.
FINISH = 2


#: Variable-projection starts of the rows searched (None: every row), or None when the law has none.
Projector = Callable[[np.ndarray | None], np.ndarray | None]


def screen_index(total: int, n: int, seed: int = 0) -> np.ndarray:
    """``n`` of ``total`` row indices drawn uniformly without replacement (seeded), in table order."""
    return np.sort(np.random.default_rng(seed).choice(total, size=n, replace=False))


def take_rows(X: dict, rows: np.ndarray, total: int) -> dict:
    """The columns of ``X`` at ``rows``; entries that are not per-row arrays (scalar options) as they are."""
    return {k: v[rows] if np.ndim(v) >= 1 and np.shape(v)[0] == total else v for k, v in X.items()}


def subsample(problem: Problem, n: int, seed: int = 0) -> Problem:
    """The problem restricted to ``n`` rows drawn uniformly without replacement (seeded), in table order."""
    rows = screen_index(problem.n_rows, n, seed)
    X = take_rows(problem.X, rows, problem.n_rows)
    weights = problem.weights
    if weights is not None:
        if weights.ndim != 1:
            raise ValueError("a subsample screen takes one weight per row shared by every start")
        weights = weights[rows]
    return Problem(problem.law, X, problem.log_y[rows], problem.loss, problem.delta, weights=weights)


def search(
    problem: Problem,
    starts: np.ndarray,
    keep: int = 32,
    max_iter: int = 300,
    ftol: float = 1e-12,
    screen_rows: int | None = None,
    finish: int = FINISH,
    projected: Projector | None = None,
) -> BatchResult:
    """:func:`~scalelaw.fitting.engine.multistart` on tables of at most ``screen_rows`` rows; on longer ones,
    screen on a subsample and finish the best ``finish`` distinct optima on every row (module docstring).
    ``projected`` gives the variable-projection starts (see :func:`~scalelaw.fitting.engine.multistart`) of the
    rows searched: on a long table, of the subsample's rows only, since their design matrices hold every row
    of every exponent pair (a million rows took 3.9 GB). ``screen_rows`` defaults to :data:`SCREEN_ROWS`."""
    screen_rows = SCREEN_ROWS if screen_rows is None else screen_rows
    if problem.n_rows <= screen_rows:
        z_projected = None if projected is None else projected(None)
        return multistart(problem, starts, keep=keep, max_iter=max_iter, ftol=ftol, projected=z_projected)
    z_projected = None if projected is None else projected(screen_index(problem.n_rows, screen_rows))
    screen = multistart(
        subsample(problem, screen_rows), starts, keep=keep, max_iter=max_iter, ftol=ftol, projected=z_projected
    )
    if screen.z.shape[0] == 0:
        return screen
    f_all = problem.objective(screen.z)
    pick = np.argsort(f_all, kind="stable")[:finish]
    z, f, conv, it = levenberg_marquardt(problem, screen.z[pick], max_iter=max_iter, ftol=ftol)
    order = np.argsort(f, kind="stable")
    pick = pick[order]
    multiplicity = None if screen.multiplicity is None else screen.multiplicity[pick]
    return BatchResult(
        z=z[order],
        objective=f[order],
        converged=conv[order],
        n_iter=screen.n_iter[pick] + it[order],
        start_index=screen.start_index[pick],
        n_starts=screen.n_starts,
        n_finite_starts=screen.n_finite_starts,
        multiplicity=multiplicity,
    )
