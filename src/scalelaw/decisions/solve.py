"""Invert a fitted law: where along one input it reaches a target value (:meth:`scalelaw.FitResult.solve`).

"What compute reaches loss 3.0", "how many GPU-hours until loss 2.5", "how large a datastore for 40 % error at a
fixed model size": every one-variable law answers such a question by solving ``f(x) = target`` for ``x``, and a
law of several inputs does so along one of them with the others held at given values (``at=``). No input needs
a role (N, D or C): the axis is any column the law reads.

The solution is the first crossing of the target from the small end of a log grid of the axis (covering the
data, six decades below it and fifteen above), refined by bisection on ``log x``. A law that is not monotone can
cross a target more than once: the smallest ``x`` is reported, with a note. Its interval is the percentile band of
the same solution for every by-run bootstrap replicate; with ``kind="total"`` each replicate's curve is first
shifted by its own draw of the law's error at that distance beyond the data (the machinery of
:mod:`scalelaw.decisions.plan_error`, as ``compute_for_loss`` does), and for a fit of ``law="auto"`` the candidate
laws' solutions widen it (in quadrature, by the weighted spread of their point solutions). The parameter band
(the unshifted replicates) always stays inside the total one. Replicates that never reach the target enter the
band as ``compute_for_loss``'s do and are counted in a note.
A target the fitted law itself never reaches (a loss below its irreducible floor, an accuracy above its ceiling)
is a :class:`~scalelaw.errors.DataError` that says what the law reaches instead.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from scalelaw.decisions.plan import Plan, _plan, _predict_paired, _with_interval, replicate_sets
from scalelaw.decisions.plan_error import PlanError, choice_halfwidths, decades_at, plan_error, widen_row
from scalelaw.errors import DataError, LawError
from scalelaw.fitting.result import FitResult
from scalelaw.laws.law import Law
from scalelaw.laws.schedule_laws import schedule_law

#: Decades searched below the smallest and above the largest value of the axis in the fit's data.
SEARCH_DECADES = (6.0, 15.0)
#: Search range of an axis the fit carries no data of.
DEFAULT_SEARCH = (1e-6, 1e40)
_GRID = 801
_BISECTIONS = 60


def solve(
    result: FitResult,
    target: float | Sequence[float] | np.ndarray,
    for_: str | None = None,
    at: Mapping[str, float] | None = None,
    level: float | None = 0.9,
    n_boot: int | None = None,
    seed: int = 0,
    boot: Any = None,
    kind: str = "total",
    search: tuple[float, float] | None = None,
) -> Plan:
    """The value of input ``for_`` at which the fitted law reaches ``target``, with an interval.

    Parameters
    ----------
    result : FitResult
        A fit of any law.
    target : float or sequence of float
        Value(s) of the fitted column to reach (a loss, an error rate, ...); one row per target.
    for_ : str, optional
        The input to solve for; defaults to the law's only input.
    at : mapping of str to float, optional
        Values of the law's other inputs, held fixed (every one of them is needed).
    level : float or None
        Interval level (90 % by default); None for the point estimate alone.
    n_boot, seed, boot, kind
        Bootstrap replicates, seed (also of the law-error draws), a :class:`~scalelaw.trust.bootstrap.Bootstrap`
        of ``result`` to reuse, and ``"total"`` or ``"parameter"`` intervals, as for
        :func:`scalelaw.decisions.plan.compute_for_loss`.
    search : (float, float), optional
        Range of ``for_`` searched; by default the data's range widened by :data:`SEARCH_DECADES`.

    Returns
    -------
    Plan
        One row per target: ``target_<y>``, the fixed inputs, and ``<for_>`` with ``_low``/``_high`` columns.

    Raises
    ------
    LawError
        ``for_`` or ``at`` do not match the law's inputs.
    DataError
        A target the fitted law never reaches in the searched range (the message says what it reaches).

    Examples
    --------
    >>> import numpy as np, scalelaw
    >>> flops = np.logspace(18, 22, 9)
    >>> fit = scalelaw.fit("power", {"flops": flops, "loss": 2.0 + 300 * flops**-0.15})
    >>> plan = solve(fit, 2.2, level=None)  # exactly (300 / 0.2) ** (1 / 0.15) = 1.49e21
    >>> f"{plan.table['flops'].iloc[0]:.3g}"
    '1.49e+21'
    """
    law = result.law
    for_, fixed = _axis(law, for_, at)
    targets = np.atleast_1d(np.asarray(target, dtype=np.float64))
    bad = [t for t in targets if not (math.isfinite(t) and t > 0)]
    if bad or targets.size == 0:
        raise DataError(f"targets must be finite and > 0 (the law predicts on a log scale), got {bad or 'none'}")
    grid = _search_grid(result, for_, search)
    theta, saved = replicate_sets(result, level, n_boot, seed, boot)
    err = plan_error(result, kind, level, theta.shape[0], seed)
    y = result.y or law.output
    rows, notes = [], []
    for t in targets:
        x, crossings = _solutions(result, law, theta, err, for_, fixed, grid, float(t))
        if not np.isfinite(x[0]):
            raise DataError(_unreached(law, theta[0], for_, fixed, grid, float(t), y))
        if crossings > 1:
            notes.append(
                f"the law crosses {y} = {t:g} {crossings} times along {for_} (it is not monotone there): the "
                "smallest is reported"
            )
        if err.total:
            point_decades = decades_at(result, law, {for_: x[:1], **{k: np.array([v]) for k, v in fixed.items()}})
            err.check_reach(f"{for_} = {x[0]:.3g} (for {y} = {t:g})", float(point_decades[0]))
        # The unshifted replicates' band stays inside the total one (as in every plan): noise added to a skewed
        # bootstrap can pull a percentile inward, and a total interval is never narrower than its parameter one.
        unshifted = None
        if err.total and theta.shape[0] > 1:
            unshifted = {for_: _solutions(result, law, theta, PlanError(None), for_, fixed, grid, float(t))[0]}
        row = {f"target_{y}": float(t), **fixed, **_with_interval({for_: x}, level, unshifted)}

        def point(cand: Law, th: np.ndarray, t: float = float(t)) -> dict[str, np.ndarray]:
            return {for_: _solutions(result, cand, th, PlanError(None), for_, fixed, grid, t)[0]}

        rows.append(widen_row(row, choice_halfwidths(result, err, point, {for_: row[for_]})))
        if level is not None:
            missed = float(np.mean(~np.isfinite(x[1:])))
            if missed > 0:
                notes.append(f"{missed:.1%} of bootstrap replicates never reach {y} = {t:g} in the searched range")
    return _plan(pd.DataFrame(rows), err, theta.shape[0] - 1, notes, inputs=(f"target_{y}", *fixed), saved=saved)


def _axis(law: Law, for_: str | None, at: Mapping[str, float] | None) -> tuple[str, dict[str, float]]:
    """The input solved for and the checked values of the others."""
    if schedule_law(law) is not None:
        raise LawError(f"law {law.name!r} reads per-step LR schedules; it cannot be solved along one input")
    if for_ is None:
        if len(law.inputs) != 1:
            raise LawError(
                f"law {law.name!r} has inputs {', '.join(law.inputs)}: say which to solve for (for_='{law.inputs[0]}'; "
                f"--for {law.inputs[0]} on the command line) and hold the others fixed "
                f"(at={{'{law.inputs[-1]}': ...}}; --at {law.inputs[-1]}=...)"
            )
        for_ = law.inputs[0]
    if for_ not in law.inputs:
        raise LawError(f"law {law.name!r} has no input {for_!r}; it reads {', '.join(law.inputs)}")
    fixed = {str(k): float(v) for k, v in (at or {}).items()}
    others = [n for n in law.inputs if n != for_]
    missing = [n for n in others if n not in fixed]
    extra = [n for n in fixed if n not in others]
    if missing or extra:
        wrong = f"{', '.join(extra)} {'is' if len(extra) == 1 else 'are'} not among them" if extra else ""
        need = f"give {', '.join(missing)}" if missing else ""
        raise LawError(
            f"solving law {law.name!r} for {for_} holds its other inputs ({', '.join(others) or 'none'}) at given "
            f"values: {'; '.join(p for p in (need, wrong) if p)}, "
            f"e.g. at={{{', '.join(f'{n!r}: ...' for n in others)}}}"
        )
    bad = [f"{k}={v:g}" for k, v in fixed.items() if not math.isfinite(v)]
    if bad:
        raise DataError(f"at= values must be finite, got {', '.join(bad)}")
    return for_, fixed


def _search_grid(result: FitResult, for_: str, search: tuple[float, float] | None) -> np.ndarray:
    """A log grid of the axis: ``search``, or the data's range widened by :data:`SEARCH_DECADES`."""
    if search is None:
        seen = None if result.data is None else np.asarray(result.data.columns.get(for_, ()), dtype=np.float64)
        seen = None if seen is None else seen[np.isfinite(seen) & (seen > 0)]
        if seen is None or not seen.size:
            search = DEFAULT_SEARCH
        else:
            search = (seen.min() / 10 ** SEARCH_DECADES[0], seen.max() * 10 ** SEARCH_DECADES[1])
    lo, hi = (float(v) for v in search)
    if not (0 < lo < hi and math.isfinite(hi)):
        raise DataError(f"search must be a range 0 < low < high, got {search}")
    return np.geomspace(lo, hi, _GRID)


def _curves(result, law, theta, err, for_, fixed, x: np.ndarray, paired: bool) -> np.ndarray:
    """Log of each set's law (shifted by its law-error draw when the interval is total) at ``x``.

    ``paired``: ``x`` holds one value per set; else every set is evaluated on all of ``x`` (sets, len(x)).
    """
    cols = {for_: x, **{k: np.full(x.shape, v) for k, v in fixed.items()}}
    with np.errstate(all="ignore"):
        values = _predict_paired(law, theta, cols) if paired else law.predict(theta, **cols)
        out = np.log(values)
        if err.total:
            decades = decades_at(result, law, cols)
            out = out + (err.log_shift(decades) if paired else err.log_shift(decades[None, :], ndim=2))
    return np.where(np.isfinite(out), out, np.nan)


def _solutions(result, law, theta, err, for_, fixed, grid, target: float) -> tuple[np.ndarray, int]:
    """Every set's smallest ``x`` with law(x) = target (inf when never), and how often set 0's curve crosses it."""
    gap = _curves(result, law, theta, err, for_, fixed, grid, paired=False) - math.log(target)
    sign = np.sign(gap)
    crossing = (sign[:, :-1] * sign[:, 1:] <= 0) & np.isfinite(gap[:, :-1]) & np.isfinite(gap[:, 1:])
    crossing &= (sign[:, :-1] != 0) | (np.arange(grid.size - 1) == 0)  # a zero counts once, at its first segment
    found = crossing.any(axis=1)
    j = np.argmax(crossing, axis=1)
    x = np.full(theta.shape[0], np.inf)
    rows = np.flatnonzero(found)
    if rows.size:
        logs = np.log(grid)
        lo, hi = logs[j[rows]], logs[j[rows] + 1]
        s_lo = sign[rows, j[rows]]
        sets = err.sets(rows) if err.total else err
        for _ in range(_BISECTIONS):  # vectorized over sets: each keeps the half where its sign changes
            mid = 0.5 * (lo + hi)
            s_mid = np.sign(
                _curves(result, law, theta[rows], sets, for_, fixed, np.exp(mid), paired=True) - math.log(target)
            )
            same = s_mid == s_lo
            lo, hi = np.where(same, mid, lo), np.where(same, hi, mid)
        x[rows] = np.exp(0.5 * (lo + hi))
    return x, int(crossing[0].sum())


def _unreached(law: Law, theta: np.ndarray, for_: str, fixed: Mapping[str, float], grid, target: float, y: str) -> str:
    """Why the fitted law never reaches ``target``: what it reaches along the searched range instead."""
    cols = {for_: grid, **{k: np.full(grid.shape, v) for k, v in fixed.items()}}
    with np.errstate(all="ignore"):
        values = law.predict(theta, **cols)
    values = values[np.isfinite(values)]
    where = f" at {', '.join(f'{k}={v:g}' for k, v in fixed.items())}" if fixed else ""
    if not values.size:
        return f"the fitted law gives no finite {y} along {for_} between {grid[0]:.3g} and {grid[-1]:.3g}{where}"
    low, high = float(values.min()), float(values.max())
    side = "below the lowest" if target < low else "above the highest"
    bound = "floor: its irreducible value" if target < low else "ceiling"
    return (
        f"the fitted law never reaches {y} = {target:g} along {for_}{where}: between {for_} = {grid[0]:.3g} and "
        f"{grid[-1]:.3g} it runs from {float(values[0]):.4g} to "
        f"{float(values[-1]):.4g}, and the target is {side} value it reaches ({low if target < low else high:.4g}; "
        f"the law's {bound}). Ask for a target inside that range"
    )
