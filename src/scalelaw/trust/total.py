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


def with_kind(result: FitResult, band: pd.DataFrame, level: float, kind: str) -> pd.DataFrame:
    """``band`` (a bootstrap prediction table: inputs, ``value``, ``low``, ``high``) as an interval of ``kind``.

    For ``kind="total"`` the band is widened by the law's error at each row's distance beyond the data and by
    the law-choice spread, and columns say how (see :meth:`scalelaw.FitResult.predict_interval`).
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
    columns = {name: out[name].to_numpy() for name in result.law.inputs}
    model = result.extrapolation_error()
    decades = distances(result, columns)
    extrapolation = model.halfwidth(decades, level)
    choice = np.zeros(len(out))
    if result.law_choice is not None:
        choice = model.multiplier(level) * result.law_choice.spread(columns)
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
