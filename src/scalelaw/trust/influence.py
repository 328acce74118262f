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
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from scalelaw._result import Result, jsonable
from scalelaw.data.io import load_runs
from scalelaw.data.runs import Runs
from scalelaw.errors import FitError
from scalelaw.fitting.diagnostics import robust_scale
from scalelaw.fitting.engine import Problem
from scalelaw.fitting.fit import fit
from scalelaw.fitting.objective import rho_psi_weight
from scalelaw.fitting.refit import (
    base_weights,
    bind_inputs,
    curve_ids,
    fit_inputs,
    fit_problem,
    log_residuals,
    predict_sets,
    refit_weighted,
    with_schedule,
)
from scalelaw.fitting.result import FitResult, predict_values
from scalelaw.laws.law import Law
from scalelaw.laws.schedule_laws import schedule_law

#: A run is flagged when its removal moves the target prediction by more than this many robust
#: standard deviations of all runs' influences, and by more than ``MIN_SHIFT`` relative.
FLAG_SIGMAS = 4.0
MIN_SHIFT = 1e-3
#: Fewest runs for flagging: the robust spread of fewer influences is meaningless (with 3 runs, the
#: median absolute deviation is set by one run), so smaller fits report shifts without flags.
MIN_FLAG_RUNS = 6
#: A run is off the law when its largest log residual, against the fit or against the refit without it (a far-off
#: run can pull a flexible fit onto itself), exceeds this many robust noise scales of the fit ...
OFF_LAW_SCALES = 6.0
#: ... and this many log units (3%): on a very clean ladder (0.1% noise) a 1% wobble is no reason to stop. Clean
#: synthetic Chinchilla ladders (25 runs, 0.5% noise) reach up to ~6.4 scales and 2.1%; a run 15% off sits at
#: 0.14, 9 to 30 scales, even when the fit bends onto it.
OFF_LAW_FLOOR = 0.03


@dataclass(frozen=True)
class Influence(Result):
    """Leave-one-run-out influence of every run on the prediction at ``target``."""

    target: dict[str, Any]
    prediction: float
    table: pd.DataFrame  # run, n_rows, shift (relative change of the target prediction), exact, max_abs_residual,
    # loo_abs_residual (the same against the refit without the run), flagged

    @property
    def flagged(self) -> list[str]:
        return list(self.table.loc[self.table["flagged"], "run"])

    @property
    def target_text(self) -> str:
        """The target as text, e.g. ``params=1e+10, tokens=8e+11`` (or ``run=cos, step=2.4e+04``)."""
        return ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in self.target.items())

    def to_frame(self) -> pd.DataFrame:
        """A copy of :attr:`table`.

        Returns
        -------
        pandas.DataFrame
            One row per run, largest shift first: ``run, n_rows, shift, exact, max_abs_residual,
            loo_abs_residual, flagged``; ``loo_abs_residual`` is the run's largest absolute log residual
            against the refit without it (NaN when that refit was not made).
        """
        return self.table.copy()

    def to_dict(self) -> dict[str, Any]:
        """The target, its prediction, the flagged runs and the table as records."""
        return jsonable(
            {"target": self.target, "prediction": self.prediction, "flagged": self.flagged, "runs": self.table}
        )

    def summary(self) -> str:
        """The target and its prediction, the most influential run, and the flagged runs."""
        lines = [f"influence of {len(self.table)} runs on the prediction {self.prediction:.6g} at {self.target_text}"]
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
    # The deleted residual: a run far off the law can pull a flexible fit onto itself (a small run whose whole
    # curve is 15% off can leave a 2% in-fit residual); against the refit without it, it shows its true distance.
    loo_resid = np.full(len(runs), np.nan)
    loo_resid[refit] = np.where(ok, _deleted_residuals(result, samples, X, log_y, groups, refit), np.nan)
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
            "loo_abs_residual": loo_resid,
            "flagged": flagged,
        }
    )
    table = table.reindex(table["shift"].abs().sort_values(ascending=False).index).reset_index(drop=True)
    return Influence(target=target, prediction=point, table=table)


@dataclass(frozen=True)
class InfluenceCheck(Result):
    """A fit's :class:`Influence` and, when its flagged runs were dropped, the refit without them.

    Attributes
    ----------
    influence : Influence
        Of ``result``.
    result : FitResult
        The fit on all runs.
    refit : FitResult or None
        The fit without ``influence.flagged`` (:func:`refit_without_flagged`); None when nothing was dropped.
    """

    influence: Influence
    result: FitResult
    refit: FitResult | None = None

    @property
    def final(self) -> FitResult:
        """The refit when there is one, else the fit on all runs."""
        return self.refit if self.refit is not None else self.result

    @property
    def prediction_after(self) -> float | None:
        """The refit's prediction at the influence target (None without a refit)."""
        return None if self.refit is None else float(predict_values(self.refit, **self.influence.target)[0])

    @property
    def relative_change(self) -> float | None:
        """How far dropping the flagged runs moved the target prediction, relative (None without a refit)."""
        after = self.prediction_after
        return None if after is None else after / self.influence.prediction - 1.0

    @cached_property
    def off_law_table(self) -> pd.DataFrame:
        """:func:`off_law`'s table of ``result`` and ``influence`` (``attrs``: ``scale``, ``threshold``)."""
        return off_law(self.result, self.influence)

    @property
    def off_law(self) -> list[dict[str, Any]]:
        """The runs off the law (:func:`off_law`), each as :func:`off_law_runs` writes it: ``run``,
        ``max_abs_log_residual``, ``scales`` (it over the fit's robust noise scale) and ``shift`` (the relative
        change of the prediction at the influence target when the run is left out)."""
        return off_law_runs(self.off_law_table)

    @property
    def off_law_threshold(self) -> float:
        """The log residual beyond which a run is off the law (:func:`off_law`)."""
        return float(self.off_law_table.attrs["threshold"])

    def to_dict(self, top: int = 10) -> dict[str, Any]:
        """JSON-ready: target, prediction, the ``top`` most influential runs, the flagged ones, the runs off the
        law (``off_law``, :attr:`off_law`) and its ``off_law_threshold``; with a refit also ``dropped``,
        ``prediction_after_drop``, ``relative_change`` and ``params_before``."""
        infl = self.influence
        runs = [
            {
                "run": r.run,
                "shift": float(r.shift),
                "max_abs_residual": float(r.max_abs_residual),
                "flagged": bool(r.flagged),
            }
            for r in infl.table.head(top).itertuples(index=False)
        ]
        data: dict[str, Any] = {"target": infl.target, "prediction": infl.prediction, "runs": runs}
        data["flagged"] = infl.flagged
        data["off_law"] = self.off_law
        data["off_law_threshold"] = self.off_law_threshold
        if self.refit is not None:
            data["dropped"] = infl.flagged
            data["prediction_after_drop"] = self.prediction_after
            data["relative_change"] = self.relative_change
            data["params_before"] = self.result.params
        return jsonable(data)

    def to_frame(self) -> pd.DataFrame:
        """The influence table: one row per run, largest shift first (:meth:`Influence.to_frame`)."""
        return self.influence.to_frame()

    def off_law_lines(self) -> list[str]:
        """One line per run off the law, with its residual and its leverage on the target prediction, or one
        line saying that no run is off the law."""
        threshold, scale = self.off_law_threshold, float(self.off_law_table.attrs["scale"])
        if not self.off_law:
            rule = f"the larger of {OFF_LAW_SCALES:g}x the noise scale {scale:.2%} and {OFF_LAW_FLOOR:.0%}"
            return [f"no run off the law (threshold: log residual {threshold:.1%}, {rule})"]
        lines = [f"{len(self.off_law)} run(s) off the law (log residual beyond {threshold:.1%}):"]
        for r in self.off_law:
            ok = np.isfinite(r["shift"])
            moves = f"moves the prediction by {r['shift']:+.2%} when left out" if ok else "its refit without it failed"
            noise = f" ({r['scales']:.0f}x the noise scale)" if np.isfinite(r["scales"]) else ""
            lines.append(f"  {r['run']}: {r['max_abs_log_residual']:.1%} off{noise}, {moves}")
        return lines

    def summary(self) -> str:
        """The influence summary, the runs off the law, then what dropping the flagged runs did to the target
        prediction."""
        text = "\n".join([self.influence.summary(), *self.off_law_lines()])
        if self.refit is None:
            return text
        return (
            f"{text}\nwithout {', '.join(self.influence.flagged)}: prediction {self.prediction_after:.6g} "
            f"({self.relative_change:+.2%})"
        )


def refit_without_flagged(
    influence: Influence, law: str | Law, runs: Runs | pd.DataFrame | Mapping[str, Any] | str, **fit_kwargs: Any
) -> FitResult | None:
    """Refit ``law`` on ``runs`` without the runs ``influence`` flagged; None when it flagged none.

    The check before trusting a prediction that rests on a few runs: how far does it move without them?
    Runs at the largest scales are often influential because they are the most informative, so look at
    them before dropping them for good.

    Parameters
    ----------
    influence : Influence
        Of a fit of ``law`` to ``runs`` (:func:`influence` or ``result.influence()``).
    law, runs
        As given to :func:`scalelaw.fit` for that fit.
    **fit_kwargs
        The same options as that fit; ``weights``, one per row of ``runs``, is cut to the rows kept.

    Returns
    -------
    FitResult or None
        Its notes say which runs were dropped.

    Examples
    --------
    >>> import numpy as np, warnings
    >>> import scalelaw
    >>> warnings.simplefilter("ignore")
    >>> flops = np.logspace(17, 21, 15)
    >>> loss = (1.7 + 2e3 * flops**-0.15) * np.exp(np.random.default_rng(3).normal(0, 0.002, 15))
    >>> loss[0] *= 1.08  # the smallest run is off: it tilts the exponent
    >>> runs = {"run": [f"r{i}" for i in range(15)], "flops": flops, "loss": loss}
    >>> result = scalelaw.fit("power", runs, loss="squared")
    >>> refit = refit_without_flagged(result.influence(), "power", runs, loss="squared")
    >>> refit.notes[-1], round(refit.params["alpha"], 3)
    ('dropped 2 influential run(s): r0, r14', 0.147)
    """
    if not influence.flagged:
        return None
    runs = load_runs(runs)
    keep = ~np.isin(runs.run_ids, influence.flagged)
    note = f"dropped {len(influence.flagged)} influential run(s): {', '.join(influence.flagged)}"
    if fit_kwargs.get("weights") is not None:
        fit_kwargs["weights"] = np.asarray(fit_kwargs["weights"])[keep]
    return fit(law, runs.subset(keep, note), **fit_kwargs)


def off_law(
    result: FitResult, infl: Influence, scales: float = OFF_LAW_SCALES, floor: float = OFF_LAW_FLOOR
) -> pd.DataFrame:
    """Which runs sit off the law, and how far each moves the extrapolation of :func:`influence`.

    Parameters
    ----------
    result : FitResult
        The fit ``infl`` measured.
    infl : Influence
        Its leave-one-run-out influence (:func:`influence`).
    scales, floor : float
        A run is off the law when its largest absolute log residual, in the fit or against the refit without it
        (the deleted residual), exceeds ``max(scales * robust scale, floor)``; the robust scale is the one
        :func:`scalelaw.fitting.diagnostics.gross_outliers` measures against.

    Returns
    -------
    pandas.DataFrame
        ``infl``'s table with ``residual`` (the larger of the two residuals), ``scales`` (it over the robust
        scale) and ``off_law``, off-law runs first, then by absolute shift; ``attrs`` holds ``scale`` and
        ``threshold`` (log units).

    Examples
    --------
    >>> import numpy as np, scalelaw, warnings
    >>> warnings.simplefilter("ignore")
    >>> compute = np.logspace(18, 22, 12)
    >>> noise = np.random.default_rng(5).normal(0, 0.004, compute.size)
    >>> runs = {"run": [f"r{i}" for i in range(12)], "flops": compute, "loss": 2 + 900 * compute**-0.12 * np.exp(noise)}
    >>> runs["loss"][7] *= 1.15  # one run 15% off the law
    >>> fit = scalelaw.fit("power", runs)
    >>> table = off_law(fit, influence(fit))
    >>> list(table.loc[table["off_law"], "run"])
    ['r7']
    """
    n_free = result.law.n_params - len(result.status.at_bound)
    scale = robust_scale(log_residuals(result), n_params=n_free)
    threshold = max(scales * scale, floor) if np.isfinite(scale) else floor
    table = infl.to_frame()
    table["residual"] = np.fmax(table["max_abs_residual"], table["loo_abs_residual"])
    with np.errstate(all="ignore"):
        table["scales"] = table["residual"] / scale
    table["off_law"] = table["residual"] > threshold
    order = np.lexsort((-table["shift"].abs().fillna(0.0).to_numpy(), ~table["off_law"].to_numpy()))
    table = table.iloc[order].reset_index(drop=True)
    table.attrs.update(scale=scale, threshold=threshold)
    return table


def off_law_runs(table: pd.DataFrame) -> list[dict[str, Any]]:
    """The off-law runs of an :func:`off_law` table, in its order, as plain records.

    Returns
    -------
    list of dict
        ``run``, ``max_abs_log_residual`` (the larger of the in-fit and deleted residuals, log units), ``scales``
        (it over the fit's robust noise scale) and ``shift`` (the relative change of the influence target's
        prediction when the run is left out; NaN when its refit failed).
    """
    return [
        {
            "run": r["run"],
            "max_abs_log_residual": float(r["residual"]),
            "scales": float(r["scales"]),
            "shift": float(r["shift"]),
        }
        for r in table[table["off_law"]].to_dict(orient="records")
    ]


def _deleted_residuals(result, samples, X, log_y, groups, refit, chunk: int = 64) -> np.ndarray:
    """Largest absolute log residual of run ``refit[i]``'s rows under ``samples[i]``, the refit without it
    (in chunks of refits, so memory stays at ``chunk`` rows of predictions)."""
    out = np.empty(len(refit))
    with np.errstate(all="ignore"):
        for start in range(0, len(refit), chunk):
            part = slice(start, start + chunk)
            log_err = np.abs(log_y[None, :] - np.log(predict_sets(result, samples[part], X)))
            own = groups[None, :] == refit[part, None]
            out[part] = np.where(own, log_err, -np.inf).max(axis=1)
    return out


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
