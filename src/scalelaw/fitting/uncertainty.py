"""Uncertainty saved with a fit: bootstrap replicates and the law's error model, under the fit file's
``uncertainty`` key (``scalelaw fit DATA --bootstrap N --out fit.json``, :meth:`FitResult.with_uncertainty`).

A by-run bootstrap is a thousand refits and the law-error model (:mod:`scalelaw.trust.extrapolation_error`)
five rolling-backtest refits: seconds of work that ``predict``, ``plan``, ``compare``, ``suggest`` and the report
would otherwise repeat on every call. A fit file that carries them answers them without refitting
(:func:`scalelaw.trust.bootstrap.replicates_for`). What is saved
does not depend on the interval's level: the replicates themselves (parameter sets), what was resampled, the
seed and the counts, and the fitted variances of the law-error model with its backtest points.

Layout (every key checked by :data:`UNCERTAINTY_SCHEMA`, then against the fit by :func:`check_uncertainty`)::

    "uncertainty": {
      "fit": "<fingerprint of the law, its parameters and the data hash>",
      "bootstrap": {"by", "seed", "n_requested", "n_failed", "n_unconverged", "blocks", "samples", "jackknife"},
      "extrapolation_error": {"law", "axis", "noise_sd", "floor_var", "slope_var", "n_cuts", "max_decades",
                              "prior": {"slope_per_decade", "cuts"}, "drift": {"at_edge", "per_decade"},
                              "points": {column: [values]}}
    }

``jackknife`` (the BCa acceleration's leave-one-run-out refits) is empty unless a BCa interval had computed it
before saving: it is a refit per run, and a restored bootstrap rebuilds its weights from the seed when BCa asks.

A store belongs to one fit: ``fit`` fingerprints the law definition, the parameter values, the data hash and
the objective's settings, so replicates copied from another fit, or left behind after the parameters were
edited, are refused rather than reused.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from scalelaw._schema import MAX_NAME, Either, Invalid, List, Map, Null, Num, Obj, OneOf, Text, path, shown
from scalelaw.laws.law import Law

#: Most replicates a saved bootstrap may hold (a file over it was not written by scalelaw).
MAX_SAVED_REPLICATES = 100_000
#: Backtest points kept with a saved law-error model (one per held-out row of every cut).
MAX_SAVED_POINTS = 10_000_000

#: The columns of the law-error model's backtest points, as saved (``run`` as text, the rest numbers).
POINT_COLUMNS = ("cut", "row", "run", "decades", "log_error", "explained_var", "origin")

_REPLICATES = List(List(Num()), high=MAX_SAVED_REPLICATES)
_POINTS = Obj(
    {
        "cut": List(Num(low=0, high=1), high=MAX_SAVED_POINTS),
        "row": List(Num(integer=True, low=0, high=10**12), high=MAX_SAVED_POINTS),
        "run": List(Text(MAX_NAME * 5), high=MAX_SAVED_POINTS),
        "decades": List(Num(), high=MAX_SAVED_POINTS),
        "log_error": List(Num(), high=MAX_SAVED_POINTS),
        "explained_var": List(Num(low=0), high=MAX_SAVED_POINTS),
        # Optional: files saved before the cuts' origins were kept lack them.
        "origin": List(Either(Num(), Null()), high=MAX_SAVED_POINTS, optional=True),
    }
)

#: The ``uncertainty`` entry of a fit file (``scalelaw.fitting.schema.FIT_SCHEMA`` holds it).
UNCERTAINTY_SCHEMA = Obj(
    {
        "fit": Text(64, empty=False),
        "bootstrap": Obj(
            {
                "by": OneOf("run", "row", "block"),
                "seed": Num(integer=True, low=0, high=2**64 - 1),
                "n_requested": Num(integer=True, low=1, high=MAX_SAVED_REPLICATES),
                "n_failed": Num(integer=True, low=0, high=MAX_SAVED_REPLICATES),
                "n_unconverged": Num(integer=True, low=0, high=MAX_SAVED_REPLICATES),
                "blocks": Either(Null(), Map(Num(integer=True, low=1, high=10**12), key=Text(MAX_NAME * 5))),
                "samples": _REPLICATES,
                "jackknife": _REPLICATES,
            },
            optional=True,
        ),
        "extrapolation_error": Obj(
            {
                "law": Text(MAX_NAME, empty=False),
                "axis": Text(MAX_NAME, empty=False),
                "noise_sd": Num(low=0),
                "floor_var": Num(low=0),
                "slope_var": Num(low=0),
                "n_cuts": Num(integer=True, low=0, high=100),
                "max_decades": Num(),
                "prior": Obj({"slope_per_decade": Num(low=0), "cuts": Num(low=0, high=1e6)}),
                "drift": Obj({"at_edge": Num(), "per_decade": Num()}, optional=True),
                "points": Either(Null(), _POINTS, optional=True),
            },
            optional=True,
        ),
    },
    optional=True,
)


@dataclass(frozen=True, eq=False)
class SavedBootstrap:
    """Bootstrap replicates as saved: what :class:`scalelaw.trust.bootstrap.Bootstrap` holds, less the fit."""

    by: str
    seed: int
    n_requested: int
    n_failed: int
    n_unconverged: int
    blocks: Mapping[str, int] | None
    samples: np.ndarray
    jackknife: np.ndarray

    @classmethod
    def of(cls, boot: Any) -> SavedBootstrap:
        """The replicates of a :class:`~scalelaw.trust.bootstrap.Bootstrap` (read by attribute)."""
        return cls(
            by=str(boot.by),
            seed=int(boot.seed),
            n_requested=int(boot.n_requested),
            n_failed=int(boot.n_failed),
            n_unconverged=int(boot.n_unconverged),
            blocks=dict(boot.blocks) if boot.blocks is not None else None,
            samples=np.asarray(boot.samples, dtype=np.float64),
            jackknife=_computed_jackknife(boot),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "by": self.by,
            "seed": self.seed,
            "n_requested": self.n_requested,
            "n_failed": self.n_failed,
            "n_unconverged": self.n_unconverged,
            "blocks": dict(self.blocks) if self.blocks is not None else None,
            "samples": self.samples.tolist(),
            "jackknife": self.jackknife.tolist(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], n_params: int) -> SavedBootstrap:
        def matrix(rows: list) -> np.ndarray:
            return np.asarray(rows, dtype=np.float64).reshape(len(rows), n_params)

        return cls(
            by=data["by"],
            seed=data["seed"],
            n_requested=data["n_requested"],
            n_failed=data["n_failed"],
            n_unconverged=data["n_unconverged"],
            blocks=data["blocks"],
            samples=matrix(data["samples"]),
            jackknife=matrix(data["jackknife"]),
        )


def _computed_jackknife(boot: Any) -> np.ndarray:
    """The jackknife of ``boot`` if it was already refitted (a BCa interval asked for it), else no rows: it is a
    refit per run, paid only for BCa, and a saved bootstrap without it rebuilds its weights from the seed."""
    if not getattr(boot, "jackknife_computed", True):
        return np.empty((0, np.asarray(boot.samples).shape[1]))
    return np.asarray(boot.jackknife, dtype=np.float64)


@dataclass(frozen=True, eq=False)
class SavedUncertainty:
    """What a fit file keeps of a fit's uncertainty.

    Attributes
    ----------
    fit : str
        :func:`fingerprint` of the fit the store belongs to.
    bootstrap : SavedBootstrap or None
        The bootstrap replicates.
    extrapolation : mapping or None
        The law-error model's fields (:class:`~scalelaw.trust.extrapolation_error.ExtrapolationError` without
        ``points``) and ``points``: its backtest points by column, or None.
    """

    fit: str
    bootstrap: SavedBootstrap | None = None
    extrapolation: Mapping[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"fit": self.fit}
        if self.bootstrap is not None:
            out["bootstrap"] = self.bootstrap.to_dict()
        if self.extrapolation is not None:
            out["extrapolation_error"] = dict(self.extrapolation)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], n_params: int) -> SavedUncertainty:
        boot = data.get("bootstrap")
        return cls(
            fit=data["fit"],
            bootstrap=SavedBootstrap.from_dict(boot, n_params) if boot is not None else None,
            extrapolation=data.get("extrapolation_error"),
        )


def extrapolation_record(model: Any) -> dict[str, Any]:
    """The saved form of an :class:`~scalelaw.trust.extrapolation_error.ExtrapolationError` (read by attribute)."""
    points = model.points
    return {
        "law": model.law,
        "axis": model.axis,
        "noise_sd": float(model.noise_sd),
        "floor_var": float(model.floor_var),
        "slope_var": float(model.slope_var),
        "n_cuts": int(model.n_cuts),
        "max_decades": float(model.max_decades),
        "prior": {"slope_per_decade": float(model.prior_slope), "cuts": float(model.prior_cuts)},
        "drift": {"at_edge": float(model.drift_at_edge), "per_decade": float(model.drift_per_decade)},
        "points": {name: _saved_column(name, points[name]) for name in POINT_COLUMNS},
    }


def _saved_column(name: str, values: Any) -> list[Any]:
    if name == "run":
        return [str(v) for v in values]
    if name == "origin":  # strict JSON: a missing origin (a model read from an older file) is null, not NaN
        return [v if np.isfinite(v) else None for v in np.asarray(values, dtype=np.float64).tolist()]
    return np.asarray(values).tolist()


def fingerprint(law_definition: Mapping[str, Any], params: Mapping[str, float], settings: Mapping[str, Any]) -> str:
    """A short hash naming one fit: its law definition, parameter values and ``settings`` (data hash, y, loss,
    delta). Saved uncertainty carries it; a store whose fingerprint differs from its fit's is stale."""
    text = json.dumps([law_definition, dict(params), dict(settings)], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def fit_settings(data_hash: str, y: str, loss: str, delta: float) -> dict[str, Any]:
    """What besides the law and its parameters makes a fit (for :func:`fingerprint`)."""
    return {"data": data_hash, "y": y, "loss": loss, "delta": float(delta)}


def check_uncertainty(checked: Mapping[str, Any], law: Law, expected: str) -> None:
    """Rules of a checked ``uncertainty`` entry against its fit; raises :class:`~scalelaw._schema.Invalid`.

    ``expected`` is the fit's own :func:`fingerprint`.
    """
    if checked["fit"] != expected:
        raise Invalid(
            "uncertainty.fit",
            "names another fit (the law, its parameters or the data changed after the uncertainty was saved): "
            "the saved replicates are stale",
        )
    boot = checked.get("bootstrap")
    if boot is not None:
        _check_bootstrap(boot, law)
    model = checked.get("extrapolation_error")
    if model is not None:
        _check_model(model, law)


def _check_bootstrap(boot: Mapping[str, Any], law: Law) -> None:
    where = "uncertainty.bootstrap"
    n = len(boot["samples"])
    if n < 2:
        raise Invalid(path(where, "samples"), f"holds {n} replicate(s); an interval needs at least 2")
    if boot["n_failed"] + n != boot["n_requested"]:
        raise Invalid(
            path(where, "n_requested"),
            f"is {boot['n_requested']}, but {n} replicates were kept and {boot['n_failed']} failed",
        )
    if boot["n_unconverged"] > n:
        raise Invalid(path(where, "n_unconverged"), f"is {boot['n_unconverged']}, more than the {n} replicates kept")
    if (boot["blocks"] is None) == (boot["by"] == "block"):
        raise Invalid(path(where, "blocks"), "gives the block lengths of by block, and only of it")
    lower = np.array([p.lower for p in law.parameters])
    upper = np.array([p.upper for p in law.parameters])
    for key in ("samples", "jackknife"):
        for i, row in enumerate(boot[key]):
            if len(row) != law.n_params:
                raise Invalid(
                    path(path(where, key), i), f"has {len(row)} values; the law has {law.n_params} parameters"
                )
        rows = np.asarray(boot[key], dtype=np.float64).reshape(-1, law.n_params)
        outside = (rows < lower - 1e-9 * np.abs(lower)) | (rows > upper + 1e-9 * np.abs(upper))
        if outside.any():
            i, j = (int(k) for k in np.argwhere(outside)[0])
            raise Invalid(
                path(path(path(where, key), i), j),
                f"= {rows[i, j]!r} lies outside the bounds of {law.param_names[j]} [{lower[j]:g}, {upper[j]:g}]",
            )


def _check_model(model: Mapping[str, Any], law: Law) -> None:
    where = "uncertainty.extrapolation_error"
    if model["law"] != law.name:
        raise Invalid(path(where, "law"), f"is {shown(model['law'])}, not the fit's law {shown(law.name)}")
    if model["axis"] not in ("compute", *law.inputs):
        raise Invalid(path(where, "axis"), f"must be compute or an input of the law, got {shown(model['axis'])}")
    if model["n_cuts"] + model["prior"]["cuts"] <= 0:
        raise Invalid(path(where, "n_cuts"), "and prior.cuts are both 0: the error model has no degrees of freedom")
    points = model.get("points")
    if points is not None:
        n = len(points["cut"])
        for name in POINT_COLUMNS:
            if name in points and len(points[name]) != n:
                raise Invalid(path(path(where, "points"), name), f"has {len(points[name])} values for {n} points")
