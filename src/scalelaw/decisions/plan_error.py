"""The total interval of a plan: bootstrap replicates, the law's own error beyond the data, and the choice of law.

A plan's interval is the percentile band of its bootstrap replicates (:mod:`scalelaw.decisions.plan`). For
``kind="total"`` two more sources of error join it, as for :meth:`scalelaw.FitResult.predict_interval`
(``docs/extrapolation.md``):

- **extrapolation**: every replicate gets one seeded Student's t draw ``z`` (``df`` of the fit's
  :class:`~scalelaw.trust.extrapolation_error.ExtrapolationError`); its loss at a distance ``d`` beyond the data
  is multiplied by ``exp(z · scale(d))``. Quantities read off the loss curve (compute for a target loss,
  crossovers) are solved on the shifted curve, so the interval stays a set of percentiles of replicates;
- **law choice**: for a fit of ``law="auto"``, every weighted candidate law's point plan is evaluated, and the
  weighted rms of their log distance from the chosen law's plan, times the t multiplier, widens the band in
  quadrature on the log scale (:func:`scalelaw.trust.extrapolation_error.widen`).

Laws that read LR schedules, and fits without data, have no error model: their plans fall back to the
parameter interval and say so in their notes.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from scalelaw.errors import FitError, LawError
from scalelaw.fitting.result import FitResult
from scalelaw.laws.law import Law
from scalelaw.trust.extrapolation import unlearned
from scalelaw.trust.extrapolation_error import ExtrapolationError, distances, widen
from scalelaw.trust.total import check_kind

#: Separates the extrapolation draws' random stream from the bootstrap's (which uses ``seed`` alone).
_DRAW_STREAM = 0x5CA1E


@dataclass
class PlanError:
    """The interval a plan makes: its kind (after any fallback), the error model and the draws per replicate.

    Attributes
    ----------
    kind : str or None
        ``"total"`` or ``"parameter"``; None for a plan without intervals.
    model : ExtrapolationError or None
        The fit's law error beyond the data (None for the parameter interval).
    draws : ndarray or None
        One Student's t draw per parameter set (0 for the point estimate in row 0).
    reach : ndarray or None
        One uniform draw in [0, 1) per parameter set (0 for the point estimate): how much of the law's
        drifting bias (:meth:`ExtrapolationError.drift`) the set's truth carries.
    level : float or None
        Interval level.
    notes : list of str
        Fallbacks and distances beyond what the backtests checked, for the plan's notes.
    choice : bool
        Whether the fit chose its law among weighted candidates (``law="auto"``), whose spread then joins.
    """

    kind: str | None
    model: ExtrapolationError | None = None
    draws: np.ndarray | None = None
    reach: np.ndarray | None = None
    level: float | None = None
    notes: list[str] = field(default_factory=list)
    choice: bool = False

    @property
    def total(self) -> bool:
        """Whether the law's error and the law choice join the bootstrap."""
        return self.model is not None

    def sets(self, rows: Any) -> PlanError:
        """The same interval over the parameter sets ``rows`` only (their draws, nothing redrawn)."""
        if self.model is None:
            return self
        return PlanError(self.kind, self.model, self.draws[rows], self.reach[rows], self.level, self.notes, self.choice)

    def log_shift(self, decades: Any, rows: Any = slice(None), ndim: int = 1) -> np.ndarray:
        """Each set's draw of the law's log error at ``decades``: ``z · scale(d) − u · drift(d)``.

        ``rows`` picks sets (``decades`` then holds one distance per picked set, or one for all); with
        ``ndim > 1`` the draws are shaped ``(sets, 1, ...)`` to broadcast over a table of that many axes. A
        value ``L`` of a set becomes ``L · exp(log_shift)``: the truth the set stands for.
        """
        shape = (-1,) + (1,) * (ndim - 1)
        z, u = self.draws[rows].reshape(shape), self.reach[rows].reshape(shape)
        return z * self.model.scale(decades) - u * self.model.drift(decades)

    def shift(self, values: np.ndarray, decades: np.ndarray) -> np.ndarray:
        """``values`` (sets, ...) times each set's ``exp(log_shift(decades))``."""
        if self.model is None:
            return values
        return values * np.exp(self.log_shift(decades, ndim=np.ndim(values)))

    def check_reach(self, what: str, decades: float) -> None:
        """Note (once) when ``what`` lies further beyond the data than any backtest checked."""
        if self.model is None or not (math.isfinite(decades) and decades > max(self.model.max_decades, 0.0)):
            return
        note = (
            f"{what} is {decades:.1f} decades beyond the data; the backtests checked up to "
            f"{self.model.max_decades:.1f}, so the law-error part of the interval extrapolates too"
        )
        if note not in self.notes:
            self.notes.append(note)


def plan_error(result: FitResult, kind: str, level: float | None, n_sets: int, seed: int, stream: int = 0) -> PlanError:
    """The interval settings of a plan of ``result`` over ``n_sets`` parameter sets (point estimate first).

    Parameters
    ----------
    result : FitResult
        The fit the plan is made from.
    kind : str
        ``"total"`` or ``"parameter"`` (:data:`scalelaw.trust.total.KINDS`).
    level : float or None
        Interval level; None for a point plan.
    n_sets : int
        Parameter sets of the plan: the point estimate and its bootstrap replicates.
    seed, stream : int
        Seed of the plan's bootstrap, and which of its fits (``compare`` draws for two) the draws belong to.

    Returns
    -------
    PlanError
        ``kind="parameter"`` with a note when the law has no error model (LR-schedule laws, fits without data).
    """
    kind = check_kind(kind)
    if level is None:
        return PlanError(None)
    if kind == "parameter":
        return PlanError("parameter", level=level)
    reason = unlearned(result)
    if reason is not None:
        notes = [f"{reason}, so these intervals are parameter intervals (docs/schedule_uncertainty.md)"]
        return PlanError("parameter", level=level, notes=notes)
    try:
        model = result.extrapolation_error()
    except LawError as exc:
        return PlanError("parameter", level=level, notes=[f"no error model of the law ({exc}): parameter intervals"])
    rng = np.random.default_rng([seed, _DRAW_STREAM, stream])
    draws = rng.standard_t(model.df, size=n_sets)
    reach = rng.uniform(size=n_sets)  # after the t draws: they stay what they were before the drift
    draws[0] = reach[0] = 0.0  # the point estimate stays the point estimate
    return PlanError("total", model, draws, reach, level, choice=result.law_choice is not None)


def decades_at(result: FitResult, law: Law, columns: Mapping[str, Any]) -> np.ndarray:
    """Decades beyond ``result``'s data of rows ``columns`` of ``law``'s inputs (compute for N, D laws)."""
    with np.errstate(all="ignore"):
        return np.asarray(distances(result, {name: columns[name] for name in law.inputs if name in columns}))


def choice_halfwidths(
    result: FitResult,
    err: PlanError,
    point: Callable[[Law, np.ndarray], Mapping[str, np.ndarray]],
    center: Mapping[str, float],
) -> dict[str, float]:
    """Law-choice half-width (log units) of every quantity in ``center``, the chosen law's point plan.

    ``point(law, theta)`` is the plan of one candidate (``theta`` of shape (1, params)); the half-width is the
    t multiplier times the weighted rms of the candidates' log distance from ``center``. Candidates that cannot
    make this plan are left out, with a note. Empty unless the interval is total and the fit chose its law.
    """
    choice = result.law_choice
    if not err.total or choice is None:
        return {}
    weights, logs, failed = choice.weights, {}, []
    for name, (law, values) in choice.candidates.items():
        w = weights.get(name, 0.0)
        if w <= 0:
            continue
        if name == choice.chosen:
            logs[name] = {q: math.log(v) for q, v in center.items()}
            continue
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                plan = point(law, np.array([values], dtype=np.float64))
        except (LawError, FitError, KeyError, TypeError, ValueError):
            failed.append(name)
            continue
        logs[name] = {q: math.log(float(np.asarray(plan[q]).ravel()[0])) for q in center}
    if failed:
        err.notes.append(
            f"law choice: {', '.join(sorted(failed))} cannot make this plan and are left out of its spread"
        )
    t = err.model.multiplier(err.level)
    out = {}
    for q, c in center.items():
        pairs = [(weights[n], v[q] - math.log(c)) for n, v in logs.items() if math.isfinite(v[q])]
        total = sum(w for w, _ in pairs)
        out[q] = t * math.sqrt(sum(w * e * e for w, e in pairs) / total) if total > 0 else 0.0
    return out


def widen_row(row: dict[str, Any], halfwidths: Mapping[str, float]) -> dict[str, Any]:
    """``row`` (``X``, ``X_low``, ``X_high``) with every ``X`` in ``halfwidths`` widened in quadrature."""
    for q, h in halfwidths.items():
        if h > 0 and f"{q}_low" in row and row[q] > 0:
            low, high = widen(
                np.array([row[q]]), np.array([row[f"{q}_low"]]), np.array([row[f"{q}_high"]]), np.array([h])
            )
            row[f"{q}_low"], row[f"{q}_high"] = float(low[0]), float(high[0])
    return row
