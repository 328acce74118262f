"""The total interval: parameters, the law's own error beyond the data, and the choice of law, in one band.

Three independent sources of error, added in variance on the log scale, per side of the band:

- **parameters**: the by-run bootstrap band (with the data's noise for a new measurement);
- **extrapolation**: the law's own error at that distance beyond the data, learned from rolling backtests
  (:mod:`.extrapolation_error`), zero inside the data;
- **law choice**: for a fit of ``law="auto"``, the weighted spread of the candidate laws' predictions
  around the chosen one, scaled by the same Student's t multiplier.

When the rolling backtests show the law's bias drifting with scale, the end of the band that the drift points
to then reaches out by it (:meth:`.ExtrapolationError.drift`).

``docs/extrapolation.md`` states the method and its calibration on held-out large runs.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from scalelaw.errors import DataError
from scalelaw.fitting.result import FitResult
from scalelaw.trust.extrapolation import unlearned
from scalelaw.trust.extrapolation_error import distances, widen

#: What an interval can be made of.
KINDS = ("total", "parameter")


def check_kind(kind: str) -> str:
    """``kind`` if it names an interval kind, else a :class:`~scalelaw.errors.DataError` that lists them."""
    if kind not in KINDS:
        raise DataError(f"interval kind must be one of {', '.join(KINDS)}, got {kind!r}")
    return kind


def candidate_inputs(result: FitResult, points: Any) -> dict[str, np.ndarray]:
    """The inputs that an auto fit's other candidates read and its chosen law does not (``unique_tokens`` when
    ``data_constrained`` is a candidate beside ``chinchilla``), taken from ``points`` (a DataFrame or a mapping)
    where it has them: the averaged prediction and the law-choice spread need every weighted candidate's."""
    if result.law_choice is None or points is None:
        return {}
    names = result.law_choice.inputs - set(result.law.inputs)
    return {n: np.atleast_1d(np.asarray(points[n], dtype=np.float64)) for n in sorted(names) if n in points}


def _columns(result: FitResult, band: pd.DataFrame, extra: Mapping[str, np.ndarray] | None) -> dict[str, np.ndarray]:
    """The band's law inputs, with ``extra`` (:func:`candidate_inputs`) broadcast to its rows."""
    columns = {name: band[name].to_numpy() for name in result.law.inputs}
    for name, values in (extra or {}).items():
        if values.ndim != 1 or values.size not in (1, len(band)):
            raise DataError(
                f"{name} has {values.size} values in shape {values.shape} for {len(band)} points: give one, or one "
                "per point"
            )
        columns[name] = np.broadcast_to(values, (len(band),))
    return columns


def with_kind(
    result: FitResult,
    band: pd.DataFrame,
    level: float,
    kind: str,
    extra: Mapping[str, np.ndarray] | None = None,
    omit_unreadable: bool = False,
) -> pd.DataFrame:
    """``band`` (a bootstrap prediction table: inputs, ``value``, ``low``, ``high``) as an interval of ``kind``.

    For ``kind="total"`` the band is widened by the law's error at each row's distance beyond the data and by
    the law-choice spread, and columns say how (see :meth:`scalelaw.FitResult.predict_interval`). ``extra``
    holds the inputs only other candidates of an auto fit read (:func:`candidate_inputs`); without them such a
    candidate is an error, or is left out of the law-choice part with ``omit_unreadable`` (for a caller that says
    so, as the report does).
    """
    out = band.copy()
    reason = unlearned(result) if kind == "total" else None
    if reason is not None:
        warnings.warn(
            f"{reason}, so this interval is the parameter interval (docs/schedule_uncertainty.md)",
            UserWarning,
            stacklevel=3,
        )
        kind = "parameter"
    out["interval_kind"] = kind
    if kind == "parameter":
        return out
    columns = _columns(result, out, extra)
    model = result.extrapolation_error()
    decades = distances(result, columns)
    extrapolation = model.halfwidth(decades, level)
    choice = np.zeros(len(out))
    if result.law_choice is not None:
        choice = model.multiplier(level) * result.law_choice.spread(columns, omit_unreadable=omit_unreadable)
    value = out["value"].to_numpy()
    out["parameter_low"], out["parameter_high"] = out["low"], out["high"]
    drift = model.drift(decades)
    out["low"], out["high"] = widen(
        value, out["low"].to_numpy(), out["high"].to_numpy(), np.hypot(extrapolation, choice), drift
    )
    out["decades"] = decades
    out["extrapolation_halfwidth"] = extrapolation
    out["extrapolation_drift"] = drift
    out["law_choice_halfwidth"] = choice
    out["beyond_checked"] = decades > max(model.max_decades, 0.0)
    return out


#: What the ``value`` of an interval can be: the fitted (chosen) law's prediction, or auto's averaged one.
POINTS = ("chosen", "averaged")


def check_point(result: FitResult, kind: str, point: str) -> str:
    """``point`` if ``result`` can centre an interval of ``kind`` on it.

    Parameters
    ----------
    result : FitResult
        The fit asked for an interval.
    kind : {"total", "parameter"}
        The interval's kind (checked by :func:`check_kind`).
    point : {"chosen", "averaged"}
        The interval's ``value``: the fitted law's prediction, or (a fit of ``law="auto"``) the averaged one.

    Returns
    -------
    str
        ``point``.

    Raises
    ------
    DataError
        An unknown ``point``; ``"averaged"`` for a fit without a law choice, or with ``kind="parameter"`` (the
        bootstrap is the chosen law's alone: the averaged prediction has none of its own).
    """
    if point not in POINTS:
        raise DataError(f"point must be one of {', '.join(POINTS)}, got {point!r}")
    if point == "chosen":
        return point
    if result.law_choice is None:
        raise DataError(
            f"point='averaged' is the averaged prediction of the candidate laws of a fit of law='auto'; this fit of "
            f"law {result.law.name!r} has no candidates. Fit with scalelaw.fit('auto', runs) (--law auto)"
        )
    if kind != "total":
        raise DataError(
            f"point='averaged' has only a total interval: a parameter interval is the bootstrap of the chosen law "
            f"({result.law_choice.chosen}) alone, centred on its prediction, and the averaged prediction has no "
            "bootstrap of its own. Use kind='total', or point='chosen' for the parameter interval"
        )
    return point


def with_averaged(result: FitResult, band: pd.DataFrame, extra: Mapping[str, np.ndarray] | None = None) -> pd.DataFrame:
    """``band`` (a total interval of an auto fit, :func:`with_kind`) with the averaged prediction as its ``value``.

    Parameters
    ----------
    result : FitResult
        A fit of ``law="auto"`` (:func:`check_point` says so first).
    band : DataFrame
        Its total interval: the law's inputs, ``value``, ``low``, ``high`` and the rest of :func:`with_kind`.

    Returns
    -------
    DataFrame
        ``band`` with ``value`` the averaged prediction (:meth:`.LawChoice.averaged`), ``chosen_value`` (the
        chosen law's) after it and a ``point`` column (``"averaged"``).

    Notes
    -----
    ``low`` and ``high`` stay the total interval, centred on the chosen law: its law-choice part is the multiplier
    times the weighted rms spread of the candidates' log predictions around the chosen law's, which (Jensen) is at
    least the distance from the chosen law to their weighted mean, the log of the averaged prediction. So the
    interval holds the averaged value whenever the multiplier is >= 1 (a level of 0.69 or more).
    """
    out = band.copy()
    columns = _columns(result, out, extra)
    position = out.columns.get_loc("value")
    out.insert(position + 1, "chosen_value", out["value"].to_numpy())
    out["value"] = result.law_choice.averaged(columns)
    out["point"] = "averaged"
    return out
