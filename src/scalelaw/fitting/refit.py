"""Refits in one batch: the public toolkit that bootstrap, profile, influence, two-stage chains and
seed-noise intervals build on.

A fit keeps its data, so it can be refitted with new row weights (a bootstrap replicate, a run left out)
from its own estimate, every refit a row of one batch (:func:`refit_weighted`). Everything a refit reads
starts at :func:`fit_inputs`, which checks the data against the fit's hash; for the LR-schedule laws it
rebuilds each row's schedule features from the fit's schedules, so refits see exactly what
:func:`scalelaw.fit` saw. :func:`bind_inputs` and :func:`prediction_inputs` bind new rows the same way
(what :meth:`FitResult.predict` reads), and :func:`predict_sets` evaluates many parameter sets there.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from scalelaw.data.schedules import load_schedules
from scalelaw.errors import FitError, LawError
from scalelaw.fitting.engine import GroupWeights, Problem, levenberg_marquardt
from scalelaw.laws.schedule_laws import schedule_law

if TYPE_CHECKING:
    from scalelaw.fitting.result import FitResult

__all__ = [
    "base_weights",
    "bind_inputs",
    "curve_ids",
    "fit_inputs",
    "fit_problem",
    "log_residuals",
    "predict_sets",
    "prediction_inputs",
    "refit_weighted",
    "schedule_run_ids",
    "with_schedule",
]


# ---------------------------------------------------------------------------------------------- inputs


def with_schedule(result: FitResult, schedule: Any = None) -> FitResult:
    """``result`` carrying the LR schedules ``schedule`` (for a fit loaded from JSON, which keeps none).

    Without ``schedule`` the result is returned as it is. Only LR-schedule laws take one.

    Examples
    --------
    >>> import scalelaw
    >>> fit = scalelaw.fit("power", {"flops": [1e18, 1e19, 1e20, 1e21], "loss": [3.0, 2.8, 2.7, 2.65]})
    >>> with_schedule(fit) is fit
    True
    """
    if schedule is None:
        return result
    if schedule_law(result.law) is None:
        raise LawError(f"law {result.law.name!r} does not read an LR schedule; drop schedule=")
    return dataclasses.replace(result, schedule=load_schedules(schedule))


def schedule_run_ids(result: FitResult) -> np.ndarray | None:
    """Each fitted row's run in the fit's schedules, or ``None`` when one schedule serves rows without run ids.

    Raises
    ------
    LawError
        The fit reads LR schedules but has none in memory (a fit loaded from JSON): pass ``schedule=``.
    """
    schedules = _fit_schedules(result)
    assert result.data is not None
    run = result.data.run
    if set(np.unique(run)) <= set(schedules):
        return run
    if len(schedules) == 1:
        return None  # the fit's data had no run column: its one schedule serves every row
    return run  # let Schedules.index name the runs without a schedule


def curve_ids(result: FitResult) -> np.ndarray:
    """Run of every fitted row; one run for an LR-schedule fit whose rows had no run ids (one schedule, one curve).

    Without a ``run`` column every row is its own run, which is right for one final loss per run but not
    for the checkpoints of the single curve an LR-schedule fit reads from one schedule.
    """
    assert result.data is not None
    if schedule_law(result.law) is not None and schedule_run_ids(result) is None:
        return np.full(len(result.data), next(iter(_fit_schedules(result))))
    return result.data.run


def fit_inputs(result: FitResult) -> dict[str, np.ndarray]:
    """The law's inputs at the fit's own rows, ready for ``log_predict_jac`` and refits with new row weights.

    For the LR-schedule laws the schedule features of every row are rebuilt from ``result.schedule`` and
    the rows' run and step, so bootstrap, profile and influence refits see exactly what :func:`fit` saw.

    Raises
    ------
    FitError
        The fit carries no data.
    DataError
        Its data does not match its ``data_hash`` (a fit file edited after saving).
    LawError
        An LR-schedule fit without schedules in memory (loaded from JSON): use :func:`with_schedule`.

    Examples
    --------
    >>> import scalelaw
    >>> fit = scalelaw.fit("power", {"flops": [1e18, 1e19, 1e20, 1e21], "loss": [3.0, 2.8, 2.7, 2.65]})
    >>> fit_inputs(fit)["flops"].tolist()
    [1e+18, 1e+19, 1e+20, 1e+21]
    """
    if result.data is None:
        raise FitError(
            "this fit carries no data (it was saved without it), so it cannot be refitted or resampled; refit it "
            "with scalelaw.fit"
        )
    result.check_data_hash()  # every refit and resample starts here: refuse data edited after the fit
    columns = {name: result.data.columns[name] for name in result.law.inputs}
    inner = schedule_law(result.law)
    if inner is None:
        return columns
    return inner.bind({**columns, "run": schedule_run_ids(result), "schedule": _fit_schedules(result)})


def bind_inputs(result: FitResult, columns: Mapping[str, Any], schedule: Any = None) -> dict[str, np.ndarray]:
    """The law's inputs at new rows ``columns``, ready for ``log_predict_jac`` (what :meth:`FitResult.predict` reads).

    For the LR-schedule laws ``columns`` also holds each row's ``run`` (and may hold ``lr``); the schedule is
    ``schedule`` if given, else the fit's schedules when they cover the runs asked for, else the rows' own
    ``lr`` column with a row at every step.

    Examples
    --------
    >>> import scalelaw
    >>> fit = scalelaw.fit("power", {"flops": [1e18, 1e19, 1e20, 1e21], "loss": [3.0, 2.8, 2.7, 2.65]})
    >>> bind_inputs(fit, {"flops": 1e22})["flops"].tolist()
    [1e+22]
    """
    inner = schedule_law(result.law)
    if inner is None:
        if schedule is not None:
            raise LawError(f"law {result.law.name!r} does not read an LR schedule; drop schedule=")
        return result.law.bind(columns)
    columns = dict(columns)
    if schedule is not None:
        schedule = load_schedules(schedule)
    elif result.schedule is not None:
        runs = set(np.unique(np.asarray(columns["run"]).astype(str))) if "run" in columns else None
        if (runs is None and len(result.schedule) == 1) or (runs is not None and runs <= set(result.schedule)):
            schedule = result.schedule
    if schedule is not None:
        columns.pop("lr", None)
        columns["schedule"] = schedule
    return inner.bind(columns)


def _fit_schedules(result: FitResult):
    if result.schedule is None:
        raise LawError(
            f"law {result.law.name!r} reads each run's LR schedule, and this fit has none in memory (a fit loaded "
            "from JSON keeps only their fingerprint): pass schedule=... (the run, step, lr table it was fitted "
            "with) to bootstrap / influence, or scalelaw.fitting.refit.with_schedule(result, schedule)"
        )
    return result.schedule


def prediction_inputs(
    result: FitResult, frame: Any, inputs: Mapping[str, Any], schedule: Any = None
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """What the law reads at new rows (schedule features included), and the input columns to show.

    The rows are ``frame``'s columns (the law's inputs, and ``run`` and ``lr`` for an LR-schedule law)
    updated by ``inputs``; see :func:`bind_inputs` for ``schedule``.

    Examples
    --------
    >>> import scalelaw
    >>> fit = scalelaw.fit("power", {"flops": [1e18, 1e19, 1e20, 1e21], "loss": [3.0, 2.8, 2.7, 2.65]})
    >>> X, shown = prediction_inputs(fit, None, {"flops": [1e22, 1e23]})
    >>> shown["flops"].tolist()
    [1e+22, 1e+23]
    """
    extra = ("run", "lr") if schedule_law(result.law) is not None else ()
    columns: dict[str, Any] = {}
    if frame is not None:
        columns.update({n: np.asarray(frame[n]) for n in (*result.law.inputs, *extra) if n in frame})
    columns.update(inputs)
    X = bind_inputs(result, columns, schedule)
    shown = {n: X[n] for n in result.law.inputs}
    if extra and "run" in columns:
        run = np.atleast_1d(np.asarray(columns["run"]).astype(str)).ravel()
        shown = {"run": np.broadcast_to(run, X[result.law.inputs[0]].shape).copy(), **shown}
    return X, shown


# ---------------------------------------------------------------------------------------------- refits


def fit_problem(result: FitResult, weights: np.ndarray | None = None) -> Problem:
    """The fit's optimization problem (its law, inputs, log data and loss), with new row ``weights``: what
    every refit hands to :func:`~scalelaw.fitting.engine.levenberg_marquardt`."""
    X = fit_inputs(result)  # raises FitError for a fit without data
    assert result.data is not None
    return Problem(
        law=result.law,
        X=X,
        log_y=np.log(result.data.columns[result.y]),
        loss=result.loss,  # type: ignore[arg-type]
        delta=result.delta,
        weights=weights,
    )


def base_weights(result: FitResult) -> np.ndarray:
    """The fit's own row weights (ones when it had none): refits multiply their weights by these."""
    assert result.data is not None
    n = len(result.data)
    return np.ones(n) if result.data.weights is None else np.asarray(result.data.weights, dtype=np.float64)


def refit_weighted(
    result: FitResult,
    weights: np.ndarray,
    max_iter: int = 1000,
    progress: Callable[[int, int], None] | None = None,
    problem: Problem | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Refit ``result`` once per row of ``weights``, all in one batch, each starting from its estimate.

    The building block of every resampling scheme here (by run, by row, by block, a two-stage chain):
    row ``i`` of ``weights`` multiplies the fit's own row weights for refit ``i``.

    Parameters
    ----------
    result : FitResult
        A fit that keeps its data.
    weights : ndarray, shape (n_refits, n_rows), or GroupWeights
        Non-negative row weights per refit (e.g. how often each row's run was drawn), or the same as counts per
        group of rows (:class:`~scalelaw.fitting.engine.GroupWeights`), which keeps memory flat on long tables.
    max_iter : int
        Iteration cap of each refit.
    progress : callable, optional
        Called as ``progress(done, total)`` after each chunk of refits.
    problem : Problem, optional
        The fit's problem, when the caller has already built it.

    Returns
    -------
    samples : ndarray, shape (n_refits, n_params)
        Natural parameter values.
    finite : ndarray of bool
        Refits whose objective is finite.
    converged : ndarray of bool
        Refits that converged before ``max_iter``.

    Examples
    --------
    >>> import scalelaw, numpy as np
    >>> fit = scalelaw.fit("chinchilla", "dataset:gadre2024_rpj")
    >>> same, ok, _ = refit_weighted(fit, np.ones((2, len(fit.data))))
    >>> bool(ok.all() and np.allclose(same, fit.values, rtol=1e-4))
    True
    """
    if not isinstance(weights, GroupWeights):
        weights = np.atleast_2d(np.asarray(weights, dtype=np.float64))
    if result.data is None or weights.shape[1] != len(result.data):
        n_rows = "no data" if result.data is None else f"{len(result.data)} rows"
        raise FitError(f"weights must have one column per row of the fit ({n_rows}), got shape {weights.shape}")
    problem = fit_problem(result) if problem is None else problem
    z_hat = result.law.to_internal(np.array([result.values]))[0]
    if isinstance(weights, GroupWeights):  # counts per group of rows: the engine maps them to rows block by block
        base = base_weights(result) if weights.base is None else weights.base * base_weights(result)
        weights = dataclasses.replace(weights, base=base)
    else:
        weights = weights * base_weights(result)
    return _refit_weighted(problem, weights, z_hat, max_iter, progress)


#: Weight of Huber residuals beyond ``delta`` in the Hessian of a refit's first phase, relative to IRLS
#: (:func:`~scalelaw.fitting.objective.rho_psi_weight`). A refit starts at the fit's optimum, where the
#: IRLS curvature of an almost-L1 Huber objective makes Levenberg-Marquardt crawl (a median 70 and up to
#: 1,000+ iterations per porian2024 bootstrap replicate); 0.1 needs a median 33 there and 11 instead of 31
#: on 240 synthetic runs, ending at the same optima (``benchmarks/README.md``, bootstrap speed).
REFIT_OUTER_CURVATURE = 0.1

#: The checking phase stops a refit whose next step its model promises to gain at most this fraction of its
#: objective (the engine's ``ftol``) without trying it: the step would gain rounding noise, or be rejected while
#: the damping climbs to 1e10 (a fifth of the bootstrap's time on 240 runs went there).
REFIT_MODEL_FTOL = 1e-12

#: Refits per batch: about this many (refit, row) entries, so that 1,000 replicates of a few hundred rows
#: run as one batch (a batch's per-step overhead is paid once) ...
REFIT_CHUNK_ENTRIES = 250_000
#: ... and at least this many refits per batch on long tables.
REFIT_MIN_CHUNK = 250
#: Tables up to this many rows evaluate derivatives at every trial step of a refit (``fused``).
REFIT_FUSED_ROWS = 4096


def _refit_weighted(
    problem: Problem,
    weights: np.ndarray | GroupWeights,
    z_hat: np.ndarray,
    max_iter: int,
    progress: Callable[[int, int], None] | None,
    chunk: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Refit once per row of ``weights`` from ``z_hat``: natural parameters, finite mask, converged mask.

    Huber refits run in two phases, each capped at ``max_iter`` iterations: Levenberg-Marquardt with the
    lighter curvature :data:`REFIT_OUTER_CURVATURE` (fast near the optimum it starts from), then the fit's
    own IRLS curvature from a fresh damping, which checks and finishes every refit (no step where the first
    phase converged and the IRLS model promises no gain beyond :data:`REFIT_MODEL_FTOL`, a few where it does;
    a restart for one that hit the cap). Converged means the second phase stopped on its own tolerance. Every
    step of either phase lowers the objective, so no refit ends worse than the first phase left it.

    Refits run in chunks of about :data:`REFIT_CHUNK_ENTRIES` (refit, row) entries (at least
    :data:`REFIT_MIN_CHUNK` refits), each chunk one batch. A refit's numbers do not depend on its chunk.
    """
    total = weights.shape[0]
    if chunk is None:
        chunk = max(REFIT_MIN_CHUNK, REFIT_CHUNK_ENTRIES // max(1, problem.n_rows))
    out = np.empty((total, z_hat.size))
    ok = np.zeros(total, dtype=bool)
    converged = np.zeros(total, dtype=bool)
    weighted = Problem(problem.law, problem.X, problem.log_y, problem.loss, problem.delta, weights=weights)
    fast = None
    if problem.loss == "huber":
        fast = dataclasses.replace(weighted, outer_curvature=REFIT_OUTER_CURVATURE)
    # Refits start at an optimum, so nearly every step is accepted: derivatives at every trial point then
    # cost less than an objective pass followed by derivatives at the accepted ones (same numbers either way).
    fused = True if problem.n_rows <= REFIT_FUSED_ROWS else None
    for start in range(0, total, chunk):
        idx = np.arange(start, min(start + chunk, total))
        z = np.repeat(z_hat[None, :], idx.size, axis=0)
        if fast is not None:
            z, _, _, _ = levenberg_marquardt(fast, z, max_iter=max_iter, sets=idx, fused=fused)
        z, f, conv, _ = levenberg_marquardt(
            weighted, z, max_iter=max_iter, sets=idx, fused=fused, model_ftol=REFIT_MODEL_FTOL
        )
        out[idx] = problem.law.from_internal(z)
        ok[idx] = np.isfinite(f)
        converged[idx] = conv
        if progress is not None:
            progress(int(idx[-1]) + 1, total)
    return out, ok, converged


# ---------------------------------------------------------------------------------------------- predictions


def predict_sets(result: FitResult, theta: np.ndarray, X: Mapping[str, np.ndarray]) -> np.ndarray:
    """Predictions of parameter sets ``theta`` (n_sets, n_params) at bound inputs ``X``: (n_sets, n_rows)."""
    log_pred, _ = result.law.log_predict_jac(theta, X, jac=False)
    return np.exp(log_pred)


def log_residuals(result: FitResult) -> np.ndarray:
    """Log residuals ``log y - log f(x)`` of the fit at its own rows (the noise a new observation adds)."""
    assert result.data is not None
    pred = predict_sets(result, np.array([result.values]), fit_inputs(result))[0]
    return np.log(result.data.columns[result.y]) - np.log(pred)
