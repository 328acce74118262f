"""How far a prediction reaches beyond the data it rests on.

A law fitted on runs up to 1e21 FLOPs says little about 1e25 FLOPs, however small its residuals.
Every prediction and plan can report the distance in decades past the largest run, per input and in
compute, and say whether the point lies outside the range the data cover.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from scalelaw.errors import FitError
from scalelaw.fitting.result import FitResult, predict_values
from scalelaw.laws.law import Law
from scalelaw.laws.schedule_laws import schedule_law

#: Default warning threshold: predictions more than this many decades of compute beyond the largest
#: run get an ``ExtrapolationWarning``.
DEFAULT_MAX_DECADES = 1.5


class ExtrapolationWarning(UserWarning):
    """A prediction reaches far beyond the data."""


def unlearned(result: FitResult) -> str | None:
    """Why ``result``'s law has no error beyond the data to learn along one axis (an LR-schedule law, whose
    distance beyond the data is a schedule, not a number), or None when it has one; callers say what their
    interval falls back to after this clause."""
    if schedule_law(result.law) is None:
        return None
    return f"law {result.law.name!r} reads LR schedules: its error beyond the data is not learned along one axis"


def compute_of(law: Law, columns: Mapping[str, Any], k: float = 6.0) -> np.ndarray | None:
    """Training compute at the rows of ``columns``, by the law's roles (docs/laws.md §0): the input playing C,
    else ``k N D`` from the inputs playing N and D; None when the law (or ``columns``) has neither."""
    c = law.input_for("C")
    if c is not None and c in columns:
        return np.asarray(columns[c], dtype=np.float64)
    n, d = law.input_for("N"), law.input_for("D")
    if n is not None and d is not None and n in columns and d in columns:
        return k * np.asarray(columns[n], dtype=np.float64) * np.asarray(columns[d], dtype=np.float64)
    return None


def distance(result: FitResult, points: Mapping[str, Any] | pd.DataFrame, k: float = 6.0) -> pd.DataFrame:
    """Decades beyond the data for each point.

    Parameters
    ----------
    result : FitResult
        A fit carrying its data.
    points : mapping or DataFrame
        Inputs of the law (e.g. ``params`` and ``tokens``), scalars or arrays.

    Returns
    -------
    DataFrame
        One row per point: ``decades_<input>`` (log10 of the value over the largest observed value; negative
        inside the range), ``decades_compute`` (the same for compute, 6ND when not given), ``outside_<input>``
        (beyond either end of the observed range) and ``outside_range`` (any input outside).

    Examples
    --------
    >>> import scalelaw, warnings
    >>> warnings.simplefilter("ignore")
    >>> fit = scalelaw.fit("chinchilla", "dataset:gadre2024_rpj")
    >>> d = distance(fit, {"params": 7e10, "tokens": 1.4e12})
    >>> round(float(d["decades_params"].iloc[0]), 2)
    1.01
    """
    if result.data is None:
        raise FitError("this fit carries no data, so the distance to it is unknown")
    data = result.data.columns
    cols = {
        name: np.atleast_1d(np.asarray(points[name], dtype=np.float64)) for name in result.law.inputs if name in points
    }
    if not cols:
        raise FitError(f"points give none of the law's inputs ({', '.join(result.law.inputs)})")
    cols = dict(zip(cols, np.broadcast_arrays(*cols.values()), strict=True))
    out: dict[str, Any] = {}
    outside = np.zeros(len(next(iter(cols.values()))), dtype=bool)
    for name, values in cols.items():
        seen = np.asarray(data[name])
        with np.errstate(divide="ignore", invalid="ignore"):
            out[f"decades_{name}"] = np.log10(values / seen.max())
        beyond = (values > seen.max()) | (values < seen.min())
        out[f"outside_{name}"] = beyond
        outside |= beyond
    c_points, c_data = compute_of(result.law, cols, k), compute_of(result.law, data, k)
    if c_points is not None and c_data is not None:
        out["decades_compute"] = np.log10(c_points / c_data.max())
    out["outside_range"] = outside
    return pd.DataFrame(out)


def warn_if_far(table: pd.DataFrame, max_decades: float = DEFAULT_MAX_DECADES) -> list[str]:
    """Warn (``ExtrapolationWarning``) for points beyond ``max_decades`` of compute (or of any input)."""
    column = "decades_compute" if "decades_compute" in table else None
    worst = (
        float(table[column].max()) if column else max(float(table[c].max()) for c in table if c.startswith("decades_"))
    )
    messages = []
    if math.isfinite(worst) and worst > max_decades:
        what = "compute" if column else "scale"
        messages.append(
            f"the prediction reaches {worst:.1f} decades of {what} beyond the largest run (threshold {max_decades:g}); "
            "treat it with the interval, and add larger runs if the decision depends on it"
        )
    for message in messages:
        warnings.warn(message, ExtrapolationWarning, stacklevel=2)
    return messages


def extrapolation_records(
    result: FitResult, points: Mapping[str, Any] | pd.DataFrame, max_decades: float = DEFAULT_MAX_DECADES
) -> list[dict[str, float | bool]] | None:
    """:func:`distance` of each point as JSON-ready records, warning (:func:`warn_if_far`) past ``max_decades``.

    Returns
    -------
    list of dict or None
        One dict per point, ``decades_*`` as floats and ``outside_*`` as bools; None for a fit saved without its
        data (the distance is then unknown).

    Examples
    --------
    >>> import scalelaw, warnings
    >>> warnings.simplefilter("ignore")
    >>> fit = scalelaw.fit("chinchilla", "dataset:gadre2024_rpj")
    >>> rec = extrapolation_records(fit, {"params": [7e10], "tokens": [1.4e12]})[0]
    >>> rec["outside_range"], round(rec["decades_params"], 2)
    (True, 1.01)
    """
    if result.data is None:
        return None
    table = distance(result, points)
    warn_if_far(table, max_decades)
    return [
        {k: (bool(v) if k.startswith("outside") else float(v)) for k, v in rec.items()}
        for rec in table.to_dict(orient="records")
    ]


def prediction_records(
    result: FitResult,
    points: Sequence[Mapping[str, float]],
    boot: Any = None,
    level: float = 0.9,
    observation: bool = False,
    max_decades: float = DEFAULT_MAX_DECADES,
    kind: str = "total",
) -> list[dict[str, Any]]:
    """Predictions at ``points`` with how far each reaches beyond the data and, given ``boot``, an interval.

    What ``scalelaw predict --json`` prints: one record per point, ``at`` (the point), ``value``,
    ``extrapolation`` (:func:`extrapolation_records`; absent for a fit without its data) and, with a bootstrap,
    ``low``, ``high``, ``level``, ``method`` (of :meth:`~scalelaw.trust.bootstrap.Bootstrap.predict`) and
    ``interval_kind``. A fit of ``law="auto"`` adds ``averaged``, the weighted geometric mean of its
    candidates' predictions (:meth:`~scalelaw.fitting.choice.LawChoice.averaged`; ``value`` is the chosen
    law's). A total interval (:func:`scalelaw.trust.total.with_kind`, as
    :meth:`~scalelaw.FitResult.predict_interval` makes it) adds ``decades``, ``parameter_low``,
    ``parameter_high``, ``extrapolation_halfwidth``, ``extrapolation_drift``, ``law_choice_halfwidth`` and
    ``beyond_checked``.

    Parameters
    ----------
    result : FitResult
    points : sequence of mapping
        Inputs of the law, one mapping per point, e.g. ``[{"params": 7e10, "tokens": 1.4e12}]``.
    boot : Bootstrap or callable, optional
        Replicates of ``result`` for the interval (none without it), or a function that draws them, called
        after the point predictions (so that a caller can show its progress).
    level, observation
        Interval level, and whether it is for a new measurement rather than the law's value.
    max_decades : float
        Warn (:class:`ExtrapolationWarning`) for points further beyond the largest run.
    kind : {"total", "parameter"}
        The interval's kind: the bootstrap band widened by the law's own error beyond the data and the choice
        of law (``"total"``), or the bootstrap band alone (``"parameter"``).

    Examples
    --------
    >>> import scalelaw, warnings
    >>> warnings.simplefilter("ignore")
    >>> fit = scalelaw.fit("chinchilla", "dataset:gadre2024_rpj")
    >>> rec = prediction_records(fit, [{"params": 7e10, "tokens": 1.4e12}])[0]
    >>> sorted(rec), round(rec["value"], 3)
    (['at', 'extrapolation', 'value'], 2.109)
    """
    frame = {name: [p[name] for p in points] for name in result.law.inputs}
    rows = [{"at": p, "value": float(v)} for p, v in zip(points, predict_values(result, frame), strict=True)]
    from scalelaw.trust.total import candidate_inputs, check_kind, with_kind  # total.py reads this module

    # Inputs only other candidates of an auto fit read (unique_tokens), when every point gives them.
    shared = set.intersection(*(set(p) for p in points)) if points else set()
    candidate_only = candidate_inputs(result, {n: [p[n] for p in points] for n in shared})
    choice = result.law_choice
    if choice is not None and not choice.unreadable({**frame, **candidate_only}):  # beside the chosen law's
        for row, v in zip(rows, choice.averaged({**frame, **candidate_only}), strict=True):
            row["averaged"] = float(v)
    extrapolation = extrapolation_records(result, frame, max_decades)
    for row, rec in zip(rows, extrapolation or [], strict=False):
        row["extrapolation"] = rec
    if boot is not None:
        check_kind(kind)
        band = (boot() if callable(boot) else boot).predict(frame, level=level, observation=observation)
        table = with_kind(result, band, level, kind, candidate_only)
        method = str(table["method"].iloc[0])
        extra = [c for c in _TOTAL_COLUMNS if c in table.columns]
        for row, rec in zip(rows, table.to_dict("records"), strict=True):
            row.update(low=float(rec["low"]), high=float(rec["high"]), level=level, method=method)
            row["interval_kind"] = str(rec["interval_kind"])
            row.update({c: bool(rec[c]) if c == "beyond_checked" else float(rec[c]) for c in extra})
    return rows


#: What a total interval adds to a prediction record (:func:`scalelaw.trust.total.with_kind`).
_TOTAL_COLUMNS = (
    "decades",
    "parameter_low",
    "parameter_high",
    "extrapolation_halfwidth",
    "extrapolation_drift",
    "law_choice_halfwidth",
    "beyond_checked",
)
