"""``fit(law, runs)``: bind a law to data, search all starts at once, report honestly."""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, overload

import numpy as np
import pandas as pd

from scalelaw._validation import column_names
from scalelaw.data.checkpoints import checkpoint_weights
from scalelaw.data.io import load_runs
from scalelaw.data.runs import Runs
from scalelaw.data.schedules import load_schedules
from scalelaw.errors import DataError, FitError, LawError
from scalelaw.fitting.diagnostics import (
    MAX_CONDITION,
    OUTLIER_FLOOR,
    Curvature,
    curvatures,
    no_signal,
    no_signal_masks,
    outlier_masks,
)
from scalelaw.fitting.engine import BatchResult, Problem
from scalelaw.fitting.large import Projector, search, take_rows
from scalelaw.fitting.objective import LOSSES
from scalelaw.fitting.result import FitData, FitResult, FitStatus
from scalelaw.laws.catalog import get_law
from scalelaw.laws.law import Law
from scalelaw.laws.schedule_laws import as_schedules, schedule_law

if TYPE_CHECKING:
    from scalelaw.fitting.multi import MultiFit

#: Inputs read on a log scale: they must be strictly positive.
SCALE_COLUMNS = frozenset({"params", "tokens", "flops", "unique_tokens", "batch_size"})
#: Range of the fitted column's median that a log-scale fit handles in float64 (see _check_magnitude).
Y_MAGNITUDE = (1e-150, 1e150)


@overload
def fit(
    law: str | Law,
    runs: Runs | pd.DataFrame | Mapping[str, Any] | str,
    y: Literal["all-metrics"] | list[str] | tuple[str, ...],
    x: str | Sequence[str] | None = None,
    loss: str = "huber",
    delta: float = 1e-3,
    starts: int | np.ndarray | None = None,
    seed: int = 0,
    weights: np.ndarray | str | None = None,
    keep: int = 32,
    max_iter: int = 500,
    law_options: Mapping[str, Any] | None = None,
    schedule: Any = None,
    candidates: Sequence[str] | None = None,
    mapping: str | Mapping[str, str] | Sequence[str] | None = None,
    where: str | Sequence[str] | None = None,
    roles: Mapping[str, str | None] | None = None,
) -> MultiFit: ...


@overload
def fit(
    law: str | Law,
    runs: Runs | pd.DataFrame | Mapping[str, Any] | str,
    y: str | None = None,
    x: str | Sequence[str] | None = None,
    loss: str = "huber",
    delta: float = 1e-3,
    starts: int | np.ndarray | None = None,
    seed: int = 0,
    weights: np.ndarray | str | None = None,
    keep: int = 32,
    max_iter: int = 500,
    law_options: Mapping[str, Any] | None = None,
    schedule: Any = None,
    candidates: Sequence[str] | None = None,
    mapping: str | Mapping[str, str] | Sequence[str] | None = None,
    where: str | Sequence[str] | None = None,
    roles: Mapping[str, str | None] | None = None,
) -> FitResult: ...


def fit(
    law: str | Law,
    runs: Runs | pd.DataFrame | Mapping[str, Any] | str,
    y: str | Sequence[str] | None = None,
    x: str | Sequence[str] | None = None,
    loss: str = "huber",
    delta: float = 1e-3,
    starts: int | np.ndarray | None = None,
    seed: int = 0,
    weights: np.ndarray | str | None = None,
    keep: int = 32,
    max_iter: int = 500,
    law_options: Mapping[str, Any] | None = None,
    schedule: Any = None,
    candidates: Sequence[str] | None = None,
    mapping: str | Mapping[str, str] | Sequence[str] | None = None,
    where: str | Sequence[str] | None = None,
    roles: Mapping[str, str | None] | None = None,
) -> FitResult | MultiFit:
    """Fit a scaling law to runs.

    The objective is the sum over points of a robust loss of log residuals,
    ``sum_i huber_delta(log f(x_i) - log y_i)`` (laws.md §12.1). All starts are optimized together
    as one vectorized batch; the survivors of a few pruning rounds run to convergence.

    Parameters
    ----------
    law : str or Law
        Catalog name (``"chinchilla"``, ``"power"``, ...), a :class:`Law`, or ``"auto"``: every law of
        ``candidates`` is fitted and backtested at the same rolling cuts inside the data, and the fit of the
        best extrapolator is returned with the choice in :attr:`FitResult.law_choice`
        (:func:`scalelaw.trust.law_choice.fit_auto`).
    runs : Runs, DataFrame, dict of arrays, path or ``"dataset:NAME"``
        The observations.
    y : str or list of str, optional
        Column to fit; defaults to the law's output (``"loss"``). A list of columns, or ``"all-metrics"``
        (every numeric column but the law's inputs, ``run``, ``step``, ``seed``, ``lr`` and the scale
        columns: :func:`scalelaw.fitting.multi.metric_columns`), fits the law to each of them in one batch
        and returns a :class:`~scalelaw.fitting.multi.MultiFit`; a row missing one target is left out of
        that target's fit only.
    x : str or sequence of str, optional
        Data columns for the law's inputs, in order (e.g. ``["N_ne", "tokens"]``, or ``"tokens"`` for a law of
        one input); defaults to the law's own input names.
    loss : {"huber", "squared"}
        Loss on log residuals. Huber with ``delta=1e-3`` is nearly an L1 fit, robust to outliers.
    delta : float
        Huber threshold, in log units.
    starts : int or ndarray, optional
        ``None``: the law's start grid (4,500 points for ``chinchilla``). An int draws that many
        seeded random starts inside the grid's range; an array (n_starts, n_params) is used as given.
    seed : int
        Seed for random starts; results are bit-for-bit reproducible on one machine.
    weights : ndarray or "per_run", optional
        Non-negative weight per row, or ``"per_run"``: every run weighs the same however many checkpoints it
        has (:func:`scalelaw.data.checkpoints.checkpoint_weights`, computed after ``where`` and the rows
        without a target are dropped).
    keep : int
        Starts that survive pruning and run to convergence.
    max_iter : int
        Iteration cap per start.
    law_options : mapping, optional
        Options for a catalog law given by name, e.g. ``{"x": "tokens"}`` for ``power``.
    roles : mapping, optional
        What inputs stand for (``"N"``, ``"D"``, ``"C"`` or None), e.g. ``{"N_ne": "N"}`` with
        ``x=["N_ne", "tokens"]``: a column renamed by ``x`` takes its role from its name (``params`` N, ``tokens``
        D, ``flops`` C), never from its position, and any other name has none until declared here
        (:attr:`Law.roles`; ``--role`` on the command line). Plans that need N and D refuse a law without them.
    schedule : Schedules, table, path or array, optional
        Per-step LR schedule of every run, for the LR-schedule laws (``lr_annealing``, ``multi_power``):
        a ``run, step, lr`` table (its ``run`` matching the data's run ids), a path or ``dataset:NAME``,
        ``{run: LRs}``, or one LR array for a single run. Without it those laws read the data's own ``lr``
        column, which must then have a row at every step. Kept on the result for ``predict``.

    candidates : sequence of str, optional
        ``law="auto"`` only: the catalog laws to choose from (by default those the data's columns allow,
        :func:`scalelaw.trust.law_choice.default_candidates`).
    mapping : str or mapping, optional
        Column renames applied when ``runs`` is read, e.g. ``{"Name": "run", "eval/loss": "loss"}``
        (as :func:`scalelaw.load_runs`).
    where : str or sequence of str, optional
        Pandas query strings selecting the rows to fit, e.g. ``"params > 1e8"`` (after ``mapping``). Rows
        whose fitted column is empty (a tracker's steps between evaluations) are left out too, with a
        :class:`~scalelaw.errors.DataWarning` that counts them; the result's data holds the rows fitted.

    Returns
    -------
    FitResult
        Or :class:`~scalelaw.fitting.multi.MultiFit` (one ``FitResult`` per target) for many targets.

    Raises
    ------
    DataError
        Missing, non-numeric, non-finite or non-positive columns; fewer points than parameters; a fitted
        column whose median lies beyond 1e-150 .. 1e150 (see ``Y_MAGNITUDE``).

    Examples
    --------
    >>> import scalelaw
    >>> result = scalelaw.fit("chinchilla", "dataset:porian2024")
    >>> sorted(result.params)
    ['A', 'B', 'E', 'alpha', 'beta']
    """
    if mapping is not None or where is not None:
        runs = load_runs(runs, mapping, where=where)
    if (y is not None and not isinstance(y, str)) or (isinstance(y, str) and y.strip() == "all-metrics"):
        if schedule is not None or candidates is not None:
            raise LawError("schedule= and candidates= fit one target; fit many targets with a plain law")
        from scalelaw.fitting.multi import fit_targets  # imports this module

        if isinstance(weights, str):
            runs = load_runs(runs)
            weights = checkpoint_weights(runs, weights)
        kwargs = dict(x=x, loss=loss, delta=delta, starts=starts, seed=seed, weights=weights, keep=keep)
        return fit_targets(law, runs, y, max_iter=max_iter, law_options=law_options, **kwargs)
    if roles and ((isinstance(law, str) and law.strip() == "auto") or not isinstance(y, str | None)):
        raise LawError("roles= declares the inputs of one law fitted to one target: give the law, and one y")
    if isinstance(law, str) and law.strip() == "auto":
        from scalelaw.trust.law_choice import fit_auto  # the one call down the layers (listed in the contract)

        kwargs = dict(y=y, x=x, loss=loss, delta=delta, starts=starts, seed=seed, weights=weights, keep=keep)
        return fit_auto(runs, candidates, max_iter=max_iter, law_options=law_options, **kwargs)
    if candidates is not None:
        raise LawError(f"candidates= is for law='auto'; law {law!r} is one law")
    law = get_law(law, **dict(law_options or {}))
    x = column_names(x)  # x="tokens" is one column, not six
    if x is not None:
        law = law.with_inputs(*x)
    if roles:
        law = law.with_roles(**roles)
    y = y or law.output
    runs = load_runs(runs, target=y)
    if isinstance(weights, str):
        weights = checkpoint_weights(runs, weights)
    if loss not in LOSSES:
        raise FitError(f"unknown loss {loss!r}; choose one of {', '.join(LOSSES)}")
    if not delta > 0:
        raise FitError(f"delta must be > 0, got {delta}")
    X, y_values, weights, schedules, schedule_info = prepare(law, runs, y, weights, schedule)
    problem = Problem(law=law, X=X, log_y=np.log(y_values), loss=loss, delta=delta, weights=weights)
    z_starts = _starts(law, X, y_values, starts, seed)

    t0 = time.perf_counter()
    # Long tables screen a subsample first.
    batch = search(
        problem, z_starts, keep=keep, max_iter=max_iter, projected=projector(law, X, y_values, starts, weights)
    )
    fit_seconds = time.perf_counter() - t0
    result = finish(
        problem,
        batch,
        runs,
        y=y,
        y_values=y_values,
        n_starts=int(z_starts.shape[0]),
        seed=seed,
        fit_seconds=fit_seconds,
        schedules=schedules,
        schedule_info=schedule_info,
    )
    _warn(result.status)
    return result


def prepare(
    law: Law, runs: Runs, y: str, weights: np.ndarray | None = None, schedule: Any = None
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray | None, Any, dict[str, Any] | None]:
    """Check ``runs`` for a fit of ``law`` to column ``y`` and bind the law's inputs.

    Returns
    -------
    X : dict of ndarray
        The law's inputs (schedule features included for the LR-schedule laws).
    y_values : ndarray
        The fitted column.
    weights : ndarray or None
        The checked row weights.
    schedules, schedule_info
        The LR schedules and their JSON summary (``None`` for the other laws).

    Raises
    ------
    DataError, LawError
        As :func:`fit` says.
    """
    runs.require(
        [*law.inputs, y],
        positive=[c for c in law.inputs if c in SCALE_COLUMNS] + [y],
        why=f"law {law.name!r} reads {', '.join(law.inputs)} and fits {y}",
    )
    X = {name: runs.array(name) for name in law.inputs}
    schedules, schedule_info = None, None
    inner = schedule_law(law)
    if inner is not None:
        schedules, schedule_info = _bind_schedule(inner, runs, X, schedule)
    elif schedule is not None:
        raise LawError(f"law {law.name!r} does not read an LR schedule; schedule= is for lr_annealing and multi_power")
    y_values = runs.array(y)
    n_points = len(y_values)
    if n_points < law.n_params:
        raise DataError(
            f"law {law.name!r} has {law.n_params} parameters ({', '.join(law.param_names)}) but the data has "
            f"only {n_points} row(s); a fit needs at least {law.n_params} points, and many more to be trusted"
        )
    if weights is not None:
        weights = np.asarray(weights, dtype=np.float64)
        if weights.shape != (n_points,) or not np.all(np.isfinite(weights)) or np.any(weights < 0):
            raise DataError(f"weights must be {n_points} finite non-negative numbers, one per row")
    _check_magnitude(y_values, y)
    return X, y_values, weights, schedules, schedule_info


def finish(
    problem: Problem,
    batch: BatchResult,
    runs: Runs,
    y: str,
    y_values: np.ndarray,
    n_starts: int,
    seed: int,
    fit_seconds: float,
    schedules: Any = None,
    schedule_info: dict[str, Any] | None = None,
    data_hash: str | None = None,
    run_ids: np.ndarray | None = None,
    diagnosis: Diagnosis | None = None,
    n_runs: int | None = None,
) -> FitResult:
    """The :class:`FitResult` of a finished search: the best optimum, its curvature, status and data.

    ``data_hash`` is the fingerprint of the fitted columns, ``run_ids`` the run of every row, ``n_runs`` the
    number of distinct runs among them and ``diagnosis`` :func:`diagnose`'s answer for the best optimum, when
    the caller has them (else computed here).

    Raises
    ------
    FitError
        No start gave a finite objective.
    """
    law, X, weights, loss, delta = problem.law, problem.X, problem.weights, problem.loss, problem.delta
    log_y = problem.log_y
    n_points = len(y_values)
    if batch.objective.size == 0 or not np.isfinite(batch.objective[0]):
        raise FitError(
            f"no start gave a finite objective for law {law.name!r}: its predictions were not positive and "
            f"finite at any start. Check that the inputs are in raw units (e.g. params=7e10, not 70)"
        )
    z_best = batch.z[0]
    best = float(batch.objective[0])
    at_best = batch.objective <= best + 1e-6 * max(abs(best), 1e-12)
    n_at_best = int(np.sum(batch.multiplicity[at_best])) if batch.multiplicity is not None else int(at_best.sum())
    if diagnosis is None:
        w = None if weights is None else np.asarray(weights)[None, :]
        diagnosis = diagnose(law, X, log_y[None, :], w, problem.lo, problem.hi, z_best[None, :])[0]
    curv, at_bound, flat, outliers, outlier_threshold = diagnosis
    not_identifiable = not curv.condition_number < MAX_CONDITION
    status = FitStatus(
        converged=bool(batch.converged[0]),
        at_bound=at_bound,
        not_identifiable=not_identifiable,
        tradeoffs=curv.tradeoffs if not_identifiable else (),
        sloppy=curv.sloppy if not_identifiable else (),
        condition_number=curv.condition_number,
        n_at_best=n_at_best,
        no_signal=flat,
        outliers=tuple(int(i) for i in outliers),
        outlier_rows=tuple(str(label) for label in runs.table.index[outliers]) if len(outliers) else (),
        outlier_threshold=outlier_threshold,
    )
    result = FitResult(
        law=law,
        values=tuple(float(v) for v in law.from_internal(z_best)),
        objective=best,
        n_points=n_points,
        n_runs=n_runs if n_runs is not None else runs.n_runs if run_ids is None else len(np.unique(run_ids)),
        n_starts=n_starts,
        status=status,
        std_errors=curv.std_errors,
        correlations=curv.correlations,
        residual_scale=curv.residual_scale,
        y=y,
        loss=loss,
        delta=delta,
        seed=seed,
        fit_seconds=fit_seconds,
        data_hash=data_hash or runs.fingerprint([*law.inputs, y]),
        data_source=runs.source,
        notes=runs.notes,
        data=FitData(
            columns={**{n: X[n] for n in law.inputs}, y: y_values},
            run=runs.run_ids if run_ids is None else run_ids,
            weights=weights,
        ),
        schedule_info=schedule_info,
        schedule=schedules,
    )
    return result


#: What :func:`diagnose` finds at an optimum: curvature, parameters at a bound, no signal, outlier rows, threshold.
Diagnosis = tuple[Curvature, tuple[str, ...], bool, np.ndarray, float]


def diagnose(
    law: Law,
    X: Mapping[str, np.ndarray],
    log_y: np.ndarray,
    weights: np.ndarray | None,
    lo: np.ndarray,
    hi: np.ndarray,
    z: np.ndarray,
) -> list[Diagnosis]:
    """The diagnostics of many fits on the same rows at once (one fit: ``n_fits = 1``).

    Fit ``t`` has log values ``log_y[t]`` (shape ``(n_fits, n_rows)``), row weights ``weights[t]`` (rows of
    weight 0 are not used; ``None``: every row) and its optimum ``z[t]`` (internal space, bounds ``lo``, ``hi``).
    Returns, per fit, its :class:`~scalelaw.fitting.diagnostics.Curvature`, the parameters at a bound, whether
    the data have no signal, the outlier rows and the outlier threshold.
    """
    span = np.where(np.isfinite(hi - lo), hi - lo, 1.0)
    pinned = (np.isfinite(lo) & (z <= lo + 1e-9 * span)) | (np.isfinite(hi) & (z >= hi - 1e-9 * span))
    curvs = curvatures(law, X, log_y, z, ~pinned)
    used = np.ones(log_y.shape, dtype=bool) if weights is None else weights > 0
    flat, off_level = no_signal_masks(log_y, used)
    residuals = np.array([c.residuals for c in curvs])
    n_free = (~pinned).sum(axis=1)
    flagged, threshold = outlier_masks(residuals, used, n_free)
    out = []
    for t, curv in enumerate(curvs):
        at_bound = tuple(n for n, b in zip(law.param_names, pinned[t], strict=True) if b)
        if flat[t]:  # the outliers are the rows off the constant level, whatever the law made of them
            out.append((curv, at_bound, True, np.flatnonzero(off_level[t]), OUTLIER_FLOOR))
        else:
            out.append((curv, at_bound, False, np.flatnonzero(flagged[t]), float(threshold[t])))
    return out


def _check_magnitude(y_values: np.ndarray, y: str) -> None:
    """Refuse a fitted column whose typical value is beyond what a log-scale fit can handle in float64.

    The Gauss-Newton curvature holds squares of ``d log f / d theta``, about ``1 / f`` for an additive
    constant: around ``f ~ 1e-154`` they overflow and every start of the optimizer fails. No loss or
    metric lives near 1e-150 or 1e150; such values are units or logging gone wrong. Single rows that far
    off are left to the outlier flag.
    """
    typical = float(np.median(y_values))
    if not Y_MAGNITUDE[0] <= typical <= Y_MAGNITUDE[1]:
        raise DataError(
            f"column '{y}' has values around {typical:.3g} (median), beyond what a log-scale fit can handle "
            f"({Y_MAGNITUDE[0]:g} to {Y_MAGNITUDE[1]:g}); check the column and its units"
        )


def _bind_schedule(inner, runs: Runs, X: dict[str, np.ndarray], schedule: Any):
    """Attach the schedule arrays of an LR-schedule law to ``X``; return the schedules and their JSON summary."""
    run = runs.run_ids if "run" in runs.columns else None
    step = X[inner.inputs[0]]
    if schedule is not None:
        schedules = load_schedules(schedule)
    else:
        lr = runs.array("lr") if "lr" in runs.columns else None
        schedules = as_schedules(None, run, step, lr, law=inner.name)
    X.update(inner.schedule_features(schedules, run, step))
    used = sorted(set(run)) if run is not None else list(schedules.runs)
    info = {
        "fingerprint": schedules.fingerprint(),
        "runs": {r: list(schedules.steps(r)) for r in used},
        "source": "schedule" if schedule is not None else "data lr column",
    }
    return schedules, info


def _starts(law: Law, X: Mapping[str, np.ndarray], y: np.ndarray, starts: Any, seed: int) -> np.ndarray:
    """Start points in the optimizer's space."""
    if starts is None:
        return law.to_internal(law.clip(law.start_grid(X, y)))
    if isinstance(starts, (int, np.integer)):
        if starts < 1:
            raise FitError(f"starts must be >= 1, got {starts}")
        grid = law.to_internal(law.clip(law.start_grid(X, y)))
        lo, hi = grid.min(axis=0), grid.max(axis=0)
        rng = np.random.default_rng(seed)
        return lo + (hi - lo) * rng.random((int(starts), law.n_params))
    arr = law.theta(starts)
    return law.to_internal(law.clip(arr))


def projector(law: Law, X: Mapping[str, np.ndarray], y: np.ndarray, starts: Any, weights: Any) -> Projector:
    """The variable-projection starts (optimizer's space) of some rows, that join the law's own grid.

    The returned function takes the rows the search runs on (None: all of them) and gives None for a law
    without such starts, explicit starts, per-set weights, and a target without signal (a constant: every
    amplitude but the floor's is zero, and the plain grid search is kept for it)."""

    def project(rows: np.ndarray | None) -> np.ndarray | None:
        if starts is not None or (weights is not None and np.ndim(weights) != 1):
            return None
        X_rows, y_rows, w_rows = X, y, weights
        if rows is not None:
            X_rows, y_rows = take_rows(dict(X), rows, len(y)), y[rows]
            w_rows = None if weights is None else np.asarray(weights)[rows]
        if no_signal(np.log(y_rows), None if w_rows is None else np.asarray(w_rows) > 0)[0]:
            return None
        theta = law.projected_starts(X_rows, y_rows, w_rows)
        return None if theta is None else law.to_internal(law.clip(theta))

    return project


def _warn(status: FitStatus) -> None:
    for category, message in status.issues():
        warnings.warn(message, category, stacklevel=3)
