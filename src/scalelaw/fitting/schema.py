"""The schema of a saved fit (``scalelaw fit --out``), checked before any of it is used.

A fit file is untrusted input: it may have been edited by hand, truncated, or written by someone
else. :func:`check_fit` checks it in two passes and raises :class:`~scalelaw.errors.FitFileError`
(a :class:`~scalelaw.errors.DataError`) naming the file and the JSON path of the first fault, e.g.
``fit.json: params.alpha must be a finite number, got "x"``:

1. structure: :data:`FIT_SCHEMA` (types, required keys, the schema version, finite numbers where a
   number must be finite, list lengths, string lengths) and the law definition's own schema;
2. consistency, once the law is rebuilt: parameter names, the correlation matrix's size, the data
   columns the law reads and their common length.

What reading costs is bounded first (:mod:`scalelaw._schema`): file size and nesting depth.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from scalelaw._schema import (
    MAX_NAME,
    Any_,
    Bool,
    Either,
    Invalid,
    List,
    Map,
    Name,
    Null,
    Num,
    Obj,
    OneOf,
    Text,
    path,
    shown,
)
from scalelaw.errors import FitFileError, LawError
from scalelaw.fitting.objective import LOSSES
from scalelaw.fitting.uncertainty import UNCERTAINTY_SCHEMA, check_uncertainty, fingerprint, fit_settings
from scalelaw.laws.catalog import check_law_definition, law_from_dict
from scalelaw.laws.law import Law

#: Bump when the JSON layout changes; readers refuse newer schemas than they know.
SCHEMA_VERSION = 1
#: Counts of points, runs and starts above this are not from a real fit.
MAX_COUNT = 10**12

#: How to fix any fault: the file is damaged or was not written by scalelaw.
REFIT = "write the fit again with scalelaw fit --out"

_COUNT = Num(integer=True, low=0, high=MAX_COUNT)
# Standard errors and correlations are NaN for a parameter on a bound; strict JSON writes NaN and inf as null.
_MAYBE_NAN = Either(Null(), Num(finite=False))
_MAYBE_NAN_OPTIONAL = Either(Null(), Num(finite=False), optional=True)

#: Every key of a fit file, with its type and whether it is required (as :meth:`FitResult.to_dict` writes it).
FIT_SCHEMA = Obj(
    {
        "schema": OneOf("scalelaw.fit"),
        "schema_version": OneOf(*range(1, SCHEMA_VERSION + 1)),
        "package_version": Text(MAX_NAME, optional=True),
        "law": Text(MAX_NAME, optional=True),
        "formula": Text(optional=True),
        "law_definition": Any_(),  # checked by scalelaw.laws.catalog.check_law_definition
        "params": Map(Num(), key=Name()),
        "objective": Num(low=0),
        "n_points": _COUNT,
        "n_runs": _COUNT,
        "n_starts": _COUNT,
        "status": Obj(
            {
                "converged": Bool(),
                "at_bound": List(Name(), optional=True),
                "not_identifiable": Bool(optional=True),
                "tradeoffs": List(List(Either(Name(), Null(), Num()), length=3), optional=True),
                "sloppy": List(Name(), optional=True),
                "condition_number": Either(Null(), Num(finite=False), optional=True),
                "n_at_best": Num(integer=True, low=0, high=MAX_COUNT, optional=True),
                "no_signal": Bool(optional=True),
                "outliers": List(Num(integer=True, low=0, high=MAX_COUNT), optional=True),
                "outlier_rows": List(Text(MAX_NAME * 5), optional=True),
                "outlier_threshold": _MAYBE_NAN_OPTIONAL,
            }
        ),
        "std_errors": Map(_MAYBE_NAN, key=Name(), optional=True),
        "correlations": List(List(_MAYBE_NAN), optional=True),
        "residual_scale": Either(Null(), Num(finite=False), optional=True),
        "y": Text(MAX_NAME, empty=False, optional=True),
        "loss": OneOf(*LOSSES, optional=True),
        "delta": Num(low=0, optional=True),
        "seed": Num(integer=True, low=0, high=2**64 - 1, optional=True),
        "fit_seconds": Num(low=0, optional=True),
        "data": Obj(
            {
                "hash": Text(MAX_NAME, optional=True),
                "source": Text(optional=True),
                "notes": List(Text(), high=1_000, optional=True),
                "columns": Map(List(Num()), high=64, optional=True),
                "run": List(Text(MAX_NAME * 5), optional=True),
                "weights": Either(Null(), List(Num(low=0)), optional=True),
            }
        ),
        "law_choice": Obj(
            {
                "chosen": Name(),
                "fractions": List(Num(low=0, high=1), high=100, optional=True),
                "candidates": List(
                    Obj(
                        {
                            "law": Name(),
                            "score": Either(Null(), Num(low=0, finite=False)),
                            "weight": Num(low=0, high=1),
                            "n_cuts": Num(integer=True, low=0, high=100),
                            "error": Text(),
                        }
                    ),
                    high=64,
                ),
                "fits": Map(Obj({"law_definition": Any_(), "params": Map(Num(), key=Name())}), key=Name(), high=64),
            },
            optional=True,
        ),
        "schedule": Obj(
            {
                "fingerprint": Text(MAX_NAME, optional=True),
                "runs": Map(List(Num(integer=True, low=0)), key=Text(MAX_NAME * 5), optional=True),
                "source": Text(MAX_NAME, optional=True),
            },
            optional=True,
        ),
        "uncertainty": UNCERTAINTY_SCHEMA,  # saved bootstrap and law-error model (scalelaw.fitting.uncertainty)
    }
)


def check_fit(data: Any, source: str = "fit JSON") -> tuple[dict[str, Any], Law]:
    """Check a parsed fit file against :data:`FIT_SCHEMA` and rebuild its law.

    Parameters
    ----------
    data : any
        The parsed JSON.
    source : str
        What to call the file in messages (its path, or "fit JSON").

    Returns
    -------
    checked : dict
        The checked entries (numbers as floats, counts as ints); unknown keys are dropped.
    law : Law
        The law the fit is of.

    Raises
    ------
    FitFileError
        ``{source}: {JSON path} {what was wrong}``.
    """
    try:
        checked = _structure(data)
        law = _law(data["law_definition"])
        _consistency(checked, law)
        if "law_choice" in checked:
            _law_choice(checked["law_choice"], data["law_choice"]["fits"])
        if "uncertainty" in checked:
            check_uncertainty(checked["uncertainty"], law, fit_fingerprint(checked, law))
    except Invalid as exc:
        where = f"{source}: " if exc.where else f"{source} "
        raise FitFileError(f"{where}{exc}; {REFIT}") from None
    return checked, law


def fit_fingerprint(checked: Mapping[str, Any], law: Law) -> str:
    """The :func:`~scalelaw.fitting.uncertainty.fingerprint` of a checked fit file (as of the fit it describes)."""
    settings = fit_settings(
        checked["data"].get("hash", ""),
        checked.get("y", "loss"),
        checked.get("loss", "huber"),
        checked.get("delta", 1e-3),
    )
    return fingerprint(law.to_dict(), checked["params"], settings)


def _structure(data: Any) -> dict[str, Any]:
    if not isinstance(data, Mapping):
        raise Invalid("", f"is not a scalelaw fit: expected a JSON object, got {shown(data)}")
    if data.get("schema") != "scalelaw.fit":
        raise Invalid("", 'is not a scalelaw fit (it lacks "schema": "scalelaw.fit")')
    version = data.get("schema_version")
    if isinstance(version, int) and not isinstance(version, bool) and version > SCHEMA_VERSION:
        raise Invalid(
            "schema_version",
            f"is {version}, newer than this scalelaw understands ({SCHEMA_VERSION}); upgrade scalelaw",
        )
    return FIT_SCHEMA(data, "")


def _law(definition: Any) -> Law:
    check_law_definition(definition, "law_definition")
    try:
        return law_from_dict(definition)
    except LawError as exc:
        raise Invalid("law_definition", f"does not define a usable law: {exc}") from None


def _law_choice(checked: dict[str, Any], fits: Mapping[str, Any]) -> None:
    """Every candidate's law is a usable law with its parameters, and the chosen one is among them."""
    if checked["chosen"] not in checked["fits"]:
        raise Invalid("law_choice.chosen", f"names {shown(checked['chosen'])}, which law_choice.fits lacks")
    for name, entry in fits.items():
        where = path(path("law_choice.fits", name), "law_definition")
        check_law_definition(entry["law_definition"], where)
        try:
            law = law_from_dict(entry["law_definition"])
        except LawError as exc:
            raise Invalid(where, f"does not define a usable law: {exc}") from None
        if set(checked["fits"][name]["params"]) != set(law.param_names):
            raise Invalid(path(path("law_choice.fits", name), "params"), f"must name {', '.join(law.param_names)}")


def _consistency(checked: dict[str, Any], law: Law) -> None:
    """Rules across entries, once the law (its parameter names and inputs) is known."""
    names = law.param_names
    if set(checked["params"]) != set(names):
        raise Invalid(
            "params",
            f"has {', '.join(map(shown, checked['params'])) or 'no entries'}; the law needs exactly {', '.join(names)}",
        )
    for p in law.parameters:  # the optimizer never leaves the bounds (slack of a rounding: exp(log(upper)))
        value = checked["params"][p.name]
        if not p.lower - 1e-9 * abs(p.lower) <= value <= p.upper + 1e-9 * abs(p.upper):
            raise Invalid(path("params", p.name), f"= {value!r} lies outside its bounds [{p.lower:g}, {p.upper:g}]")
    extra = sorted(set(checked.get("std_errors", {})) - set(names))
    if extra:
        raise Invalid(path("std_errors", extra[0]), f"is not a parameter of the law ({', '.join(names)})")
    rows = checked.get("correlations", [])
    if rows and (len(rows) != len(names) or any(len(r) != len(names) for r in rows)):
        raise Invalid("correlations", f"must be a {len(names)} x {len(names)} matrix (one row per parameter)")
    for i, row in enumerate(rows):
        for j, value in enumerate(row):
            if value is not None and math.isfinite(value) and abs(value) > 1 + 1e-9:
                raise Invalid(path(path("correlations", i), j), f"must be a correlation in [-1, 1], got {value!r}")
    data = checked["data"]
    columns = data.get("columns")
    if columns is None:
        return
    y = checked.get("y", "loss")
    missing = [c for c in (*law.inputs, y) if c not in columns]
    if missing:
        raise Invalid(path("data", "columns"), f"lacks {', '.join(map(shown, missing))}, which the fit reads")
    if "run" not in data:
        raise Invalid(path("data", "run"), "is missing; it gives the run of every row of data.columns")
    n = len(data["run"])
    for name, values in columns.items():
        if len(values) != n:
            where = path(path("data", "columns"), name)
            raise Invalid(where, f"has {len(values)} values for {n} rows (data.run has {n})")
    weights = data.get("weights")
    if weights is not None and len(weights) != n:
        raise Invalid(path("data", "weights"), f"has {len(weights)} values for {n} rows (data.run)")
