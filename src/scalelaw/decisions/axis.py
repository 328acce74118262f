"""The axis along which fits are compared: compute for laws of N and D, else the one input a law reads.

``compare`` (and its plot) reads each fit's best value along one shared axis: a law of N and D along compute
(``C = 6 N D``, its compute-optimal frontier), a law of one input along that input, whatever it is called
(``flops``, ``hours``, ``samples``, ``tokens``). A one-input law whose input plays compute (role C) is on the
compute axis whatever its column's name. Two fits are comparable when their axes are the same.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from scalelaw.errors import LawError
from scalelaw.fitting.result import FitResult
from scalelaw.laws.law import Law

#: The name of the compute axis (laws of N and D, and one-input laws of compute).
COMPUTE = "flops"
#: Range searched for crossovers along the compute axis, in FLOPs.
COMPUTE_SEARCH = (1e15, 1e30)
#: Decades below and above the fits' data searched along any other axis.
SEARCH_DECADES = (2.0, 6.0)


def axis_of(law: Law) -> tuple[str, bool]:
    """The axis ``law``'s best value is read along, and whether it is compute.

    A law of one input: that input, whatever its name (compute when it plays C); a law of N and D: compute,
    :data:`COMPUTE`. Any other law has no single axis: a :class:`LawError` says what to do instead.

    Examples
    --------
    >>> from scalelaw import get_law
    >>> axis_of(get_law("chinchilla")), axis_of(get_law("power", x="hours")), axis_of(get_law("power"))
    (('flops', True), ('hours', False), ('flops', True))
    """
    if len(law.inputs) == 1:
        (name,) = law.inputs
        return name, law.roles.get(name) == "C"
    if law.input_for("N") is not None and law.input_for("D") is not None:
        return COMPUTE, True
    roles = ", ".join(f"{n} ({r or 'no role'})" for n, r in law.roles.items())
    raise LawError(
        f"law {law.name!r} reads {roles}: compare needs a law of one input (compute, hours, samples, tokens, ...: "
        "compared along it) or of parameters and tokens (compared along compute C = 6ND, at the compute-optimal "
        "split); this law is neither. Compare it along one input with the others fixed by solving each fit for "
        "a target instead (FitResult.solve(target, for_=..., at=...), docs/axes.md)"
    )


def shared_axis(*fits: FitResult) -> str:
    """The axis all ``fits`` are compared along: their one input's name when they share it, :data:`COMPUTE` when
    all are laws of compute (of N and D, or of one input playing C); a :class:`LawError` otherwise."""
    axes = [axis_of(f.law) for f in fits]
    names = {name for name, _ in axes}
    if len(names) == 1:
        return names.pop()
    if all(compute for _, compute in axes):
        return COMPUTE
    shown = "; ".join(
        f"{'AB'[k] if len(fits) == 2 else f'fit {k + 1}'} along {name} "
        f"(law {f.law.name!r} of {', '.join(f.law.inputs)})"
        for k, (f, (name, _)) in enumerate(zip(fits, axes, strict=True))
    )
    raise LawError(
        f"the fits lie on different axes: {shown}; compare fits of one axis, e.g. two laws of hours, or laws of "
        "compute and of parameters and tokens (a column that is compute under another name: declare it, "
        "law.with_roles(COLUMN='C') or --role COLUMN=C)"
    )


def default_search(fits: Sequence[FitResult], axis: str) -> tuple[float, float]:
    """The range searched for crossovers: :data:`COMPUTE_SEARCH` along compute, else the fits' data widened by
    :data:`SEARCH_DECADES`."""
    if axis == COMPUTE:
        return COMPUTE_SEARCH
    seen = [
        np.asarray(f.data.columns[axis], dtype=np.float64)
        for f in fits
        if f.data is not None and axis in f.data.columns
    ]
    values = np.concatenate(seen) if seen else np.array([])
    values = values[np.isfinite(values) & (values > 0)]
    if not values.size:
        raise LawError(f"these fits carry no data along {axis}: give the range to search, search=(low, high)")
    low, high = float(values.min()), float(values.max())
    return low / 10 ** SEARCH_DECADES[0], high * 10 ** SEARCH_DECADES[1]


def axis_words(axis: str) -> str:
    """How text names values along ``axis``: ``FLOPs`` for compute, the column's name otherwise."""
    return "FLOPs" if axis == COMPUTE else axis


def midpoint(search: tuple[float, float]) -> float:
    """The geometric middle of a search range (the default point of a comparison)."""
    return math.sqrt(search[0] * search[1])
