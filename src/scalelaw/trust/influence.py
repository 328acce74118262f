"""Influence: which runs move the extrapolated prediction most.

A robust loss protects against outliers in the residuals, not against high-leverage points: one run at
the small end can tilt an exponent and move a prediction two decades away while fitting perfectly.
So influence is measured where it matters, on the prediction at an extrapolation target, by refitting
without each run (leave-one-run-out, all refits in one batch). For the LR-schedule laws the target is a
step of one run's schedule, and the refits rebuild the schedule features from the fit's schedules.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from scalelaw._result import Result, jsonable
from scalelaw.errors import FitError
from scalelaw.fitting.engine import Problem
from scalelaw.fitting.objective import rho_psi_weight
from scalelaw.fitting.refit import (
    base_weights,
    bind_inputs,
    curve_ids,
    fit_inputs,
    fit_problem,
    predict_sets,
    refit_weighted,
    with_schedule,
)
from scalelaw.fitting.result import FitResult
from scalelaw.laws.schedule_laws import schedule_law

#: A run is flagged when its removal moves the target prediction by more than this many robust
#: standard deviations of all runs' influences, and by more than ``MIN_SHIFT`` relative.
FLAG_SIGMAS = 4.0
MIN_SHIFT = 1e-3
#: Fewest runs for flagging: the robust spread of fewer influences is meaningless (with 3 runs, the
#: median absolute deviation is set by one run), so smaller fits report shifts without flags.
MIN_FLAG_RUNS = 6


@dataclass(frozen=True)
class Influence(Result):
    """Leave-one-run-out influence of every run on the prediction at ``target``."""

    target: dict[str, Any]
    prediction: float
    table: pd.DataFrame  # run, n_rows, shift (relative change of the target prediction), max_abs_residual, flagged

    @property
    def flagged(self) -> list[str]:
        return list(self.table.loc[self.table["flagged"], "run"])

    def to_frame(self) -> pd.DataFrame:
        """A copy of :attr:`table`.

        Returns
        -------
        pandas.DataFrame
            One row per run, largest shift first: ``run, n_rows, shift, exact, max_abs_residual, flagged``.
        """
        return self.table.copy()

    def to_dict(self) -> dict[str, Any]:
        """The target, its prediction, the flagged runs and the table as records."""
        return jsonable(
            {"target": self.target, "prediction": self.prediction, "flagged": self.flagged, "runs": self.table}
        )

    def summary(self) -> str:
        """The target and its prediction, the most influential run, and the flagged runs."""
        at = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in self.target.items())
        lines = [f"influence of {len(self.table)} runs on the prediction {self.prediction:.6g} at {at}"]
        if len(self.table):
            top = self.table.iloc[0]
            lines.append(f"largest: run {top['run']} moves it by {top['shift']:+.3%} when left out")
        if self.flagged:
            lines.append(f"flagged (far beyond the others): {', '.join(map(str, self.flagged))}")
        return "\n".join(lines)


def default_target(result: FitResult, factor: float = 10.0) -> dict[str, Any]:
    """Every input at ``factor`` times its largest value in the data (one decade beyond, by default).

    LR-schedule laws: the last step of the longest schedule of the fit (its furthest point along
    training), and any other input (``params`` with ``by_size``) at ``factor`` times its largest value.
    """
    if result.data is None:
        raise FitError("this fit carries no data; refit it to measure influence")
    target: dict[str, Any] = {name: float(np.max(result.data.columns[name]) * factor) for name in result.law.inputs}
    inner = schedule_law(result.law)
    if inner is not None:
        if result.schedule is None:
            fit_inputs(result)  # raises the error that asks for schedule=
        runs = list(result.schedule)
        last = [result.schedule.steps(r)[1] for r in runs]
        k = int(np.argmax(last))
        target = {"run": runs[k], **target, inner.inputs[0]: float(last[k])}
    return target


def influence(
    result: FitResult,
    target: Mapping[str, Any] | None = None,
    exact: int = 400,
    max_iter: int = 1000,
    schedule: Any = None,
) -> Influence:
    """How far the prediction at ``target`` moves when each run is left out.

    Up to ``exact`` runs are refitted without that run, all in one batch (a few seconds for a few
    hundred runs). Beyond that, shifts are first estimated by one Newton step from the optimum and
    only the ``exact`` largest are refitted; with a Huber loss the one-step estimate ranks runs only
    roughly, so keep ``exact`` large when it matters.

    Parameters
    ----------
    result : FitResult
    target : mapping, optional
        Inputs of the prediction to protect, e.g. ``{"params": 7e10, "tokens": 1.4e12}``, or for an
        LR-schedule law a run and step, ``{"run": "cosine", "step": 24000}``; defaults to
        :func:`default_target`.
    exact : int
        How many of the most influential runs to refit exactly.
    schedule : Schedules, table, path or array, optional
        LR-schedule laws: schedules for a fit loaded from JSON (which keeps none), or with the runs of a
        target the fit's schedules lack.

    Returns
    -------
    Influence
        ``table`` sorted by absolute shift, largest first, with a column saying whether the shift was
        refitted (``exact``) or estimated; ``flagged`` lists the outlying runs (none with fewer than
        ``MIN_FLAG_RUNS`` runs).
    """
    if result.data is None:
        raise FitError("this fit carries no data; refit it to measure influence")
    if result.schedule is None:
        result = with_schedule(result, schedule)
    target = dict(target) if target is not None else default_target(result)
    law = result.law
    runs, groups = np.unique(curve_ids(result), return_inverse=True)
    if len(runs) < 3:
        raise FitError(f"influence needs at least 3 runs, this fit has {len(runs)}")
    problem = fit_problem(result, base_weights(result))  # the fit's own problem, weights included
    X, log_y = problem.X, problem.log_y
    T = bind_inputs(result, target, schedule)
    if T[law.inputs[0]].size != 1:
        raise FitError(f"the influence target must be one point; got {T[law.inputs[0]].size} rows from {target}")
    z_hat = law.to_internal(np.array([result.values]))[0]
    point = float(predict_sets(result, np.array([result.values]), T)[0, 0])
    shift = _one_step_shifts(result, problem, groups, len(runs), z_hat, T)
    refit = np.argsort(-np.abs(shift))[: min(exact, len(runs))]
    leave_out = (1.0 - np.eye(len(runs))[refit])[:, groups]  # refit i drops run refit[i]
    samples, ok, _ = refit_weighted(result, leave_out, max_iter=max_iter, problem=problem)
    without = predict_sets(result, samples, T)[:, 0]
    shift[refit] = np.where(ok, without / point - 1.0, np.nan)
    is_exact = np.zeros(len(runs), dtype=bool)
    is_exact[refit] = True
    resid = np.abs(log_y - np.log(predict_sets(result, np.array([result.values]), X)[0]))
    max_resid = np.zeros(len(runs))
    np.maximum.at(max_resid, groups, resid)
    centre = np.nanmedian(shift)
    spread = 1.4826 * np.nanmedian(np.abs(shift - centre))
    flagged = is_exact & (np.abs(shift - centre) > FLAG_SIGMAS * spread) & (np.abs(shift) > MIN_SHIFT)
    flagged &= len(runs) >= MIN_FLAG_RUNS
    table = pd.DataFrame(
        {
            "run": runs,
            "n_rows": np.bincount(groups, minlength=len(runs)),
            "shift": shift,
            "exact": is_exact,
            "max_abs_residual": max_resid,
            "flagged": flagged,
        }
    )
    table = table.reindex(table["shift"].abs().sort_values(ascending=False).index).reset_index(drop=True)
    return Influence(target=target, prediction=point, table=table)


def _one_step_shifts(result, problem: Problem, groups, n_runs, z_hat, T) -> np.ndarray:
    """Relative change of the target prediction after one Newton step without each run."""
    law, X, log_y, base = result.law, problem.X, problem.log_y, problem.weights
    _, _, H = problem.objective_grad_hess(z_hat[None, :])
    theta = law.from_internal(z_hat[None, :])
    log_pred, J = law.internal_jacobian(theta, X)
    J = J[0]  # (n_params, n_rows), internal space
    _, psi, _ = rho_psi_weight(log_pred[0] - log_y, result.loss, result.delta)
    per_row = J * (psi * base)[None, :]  # gradient contribution of each row
    g_run = np.zeros((n_runs, law.n_params))
    np.add.at(g_run, groups, per_row.T)
    step = np.linalg.lstsq(H[0], g_run.T, rcond=None)[0].T  # (n_runs, n_params)
    _, Jt = law.internal_jacobian(theta, T)
    grad_target = Jt[0, :, 0]
    return np.expm1(step @ grad_target)
