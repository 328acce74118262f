"""FitResult: the frozen outcome of a fit, and its versioned JSON form."""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from scalelaw._progress import ProgressLike
from scalelaw._result import REPR_LIMIT, Result, clip, jsonable
from scalelaw._schema import Invalid, parse_json, read_limited
from scalelaw._version import __version__
from scalelaw.data.io import strict_json, write_text_atomic
from scalelaw.data.runs import data_fingerprint
from scalelaw.errors import (
    BoundWarning,
    ConvergenceWarning,
    DataError,
    FitError,
    FitFileError,
    IdentifiabilityWarning,
    NoSignalWarning,
    OutlierWarning,
    format_rows,
)
from scalelaw.fitting.choice import LawChoice
from scalelaw.fitting.refit import bind_inputs, with_schedule
from scalelaw.fitting.schema import REFIT, SCHEMA_VERSION, check_fit
from scalelaw.fitting.uncertainty import (
    SavedBootstrap,
    SavedUncertainty,
    extrapolation_record,
    fingerprint,
    fit_settings,
)
from scalelaw.laws.law import Law
from scalelaw.laws.schedule_laws import schedule_law


@dataclass(frozen=True)
class FitStatus(Result):
    """Validity flags of a fit, one question each (rather than one overall boolean).

    Attributes
    ----------
    converged : bool
        The best start met the optimizer's stopping rule (gradient or objective change tiny).
    at_bound : tuple of str
        Parameters whose best value sits on a bound.
    not_identifiable : bool
        Some parameters are not pinned down by the data (see ``tradeoffs``, ``condition_number``).
    tradeoffs : tuple of (str, str, float)
        Pairs of parameters on the least-determined direction with ``|correlation| >= 0.99``.
    sloppy : tuple of str
        Parameters that move together along the least-determined direction (set when not identifiable).
    condition_number : float
        Of the scaled Gauss-Newton information matrix at the optimum.
    n_at_best : int
        How many starts reached the best objective (within 1e-6 relative): more is reassuring.
    no_signal : bool
        The fitted values (gross outliers from their level aside) are all equal to within 1e-9 relative:
        only the law's constant level is determined, every other parameter is arbitrary.
    outliers : tuple of int
        Positions (0-based, in the fit's data) of rows whose log residual is a gross outlier, beyond
        ``outlier_threshold`` from the median residual (with ``no_signal``: rows off the constant level).
    outlier_rows : tuple of str
        The same rows by their labels in the data (file rows counted from 1, or the DataFrame index).
    outlier_threshold : float
        ``max(8 * robust noise scale, 0.08)`` in log units (see ``scalelaw.fitting.diagnostics``).
    """

    converged: bool
    at_bound: tuple[str, ...] = ()
    not_identifiable: bool = False
    tradeoffs: tuple[tuple[str, str, float], ...] = ()
    sloppy: tuple[str, ...] = ()
    condition_number: float = math.nan
    n_at_best: int = 1
    no_signal: bool = False
    outliers: tuple[int, ...] = ()
    outlier_rows: tuple[str, ...] = ()
    outlier_threshold: float = math.nan

    @property
    def ok(self) -> bool:
        """True when no flag is raised: converged, nothing at a bound, identifiable, a signal, no outlier."""
        return (
            self.converged
            and not self.at_bound
            and not self.not_identifiable
            and not self.no_signal
            and not self.outliers
        )

    def messages(self) -> list[str]:
        """Human-readable warnings, empty when all is well."""
        return [message for _, message in self.issues()]

    def issues(self) -> list[tuple[type[Warning], str]]:
        """Each raised flag as (warning category, message); :func:`scalelaw.fit` warns with these."""
        out: list[tuple[type[Warning], str]] = []
        if self.no_signal:
            out.append(
                (
                    NoSignalWarning,
                    "no signal in the fitted column: its values are all equal (to within 1e-9 relative"
                    f"{', gross outliers aside' if self.outliers else ''}), so the law can only match that constant "
                    "level; every other parameter is arbitrary and predictions at other scales mean nothing. Check "
                    "that the fitted column (y) is the one you meant",
                )
            )
        if self.outliers:
            rows = format_rows(self.outlier_rows or self.outliers)
            out.append(
                (
                    OutlierWarning,
                    f"{len(self.outliers)} gross outlier(s) ({rows}): their log residual is beyond "
                    f"{self.outlier_threshold:.3g} (8 robust noise scales, at least 0.08) from the others. Check "
                    "them (a unit or logging error, a diverged run, or a regime the law does not describe), then fix "
                    "or drop them: the default Huber loss limits their pull on the fit, a squared loss does not",
                )
            )
        if not self.converged:
            out.append(
                (ConvergenceWarning, "the optimizer did not converge from the best start; results may be inaccurate")
            )
        if self.at_bound:
            out.append(
                (
                    BoundWarning,
                    f"parameter(s) {', '.join(self.at_bound)} ended on a bound: the bound, not the data, set "
                    "them; widen the bound (Law.with_bounds) or fix the parameter (Law.fix)",
                )
            )
        if self.not_identifiable:
            pairs = "; ".join(f"{a} and {b} (correlation {c:+.4f})" for a, b, c in self.tradeoffs)
            if pairs:
                detail = f": {pairs} trade off"
            elif self.sloppy:
                detail = f": {', '.join(self.sloppy)} move together without changing the fit"
            else:
                detail = ""
            out.append(
                (
                    IdentifiabilityWarning,
                    f"parameters are not identifiable from this data (condition number "
                    f"{self.condition_number:.2g}){detail}. Predictions inside the data range are fine; derived "
                    "quantities and extrapolations need the intervals from bootstrap or profile",
                )
            )
        return out

    def flags(self) -> list[str]:
        """Short labels of the raised flags (e.g. ``["no signal", "outliers: rows 3, 9"]``), empty when ok."""
        out = [] if self.converged else ["not converged"]
        out += [f"at bound: {', '.join(self.at_bound)}"] if self.at_bound else []
        out += ["not identifiable"] if self.not_identifiable else []
        out += ["no signal: constant target, parameters beyond its level are arbitrary"] if self.no_signal else []
        out += [f"outliers: {format_rows(self.outlier_rows or self.outliers)}"] if self.outliers else []
        return out

    def to_frame(self) -> pd.DataFrame:
        """One row per check: ``check, ok, detail``.

        Returns
        -------
        pandas.DataFrame
            Rows ``converged``, ``within bounds``, ``identifiable``, ``signal`` and ``no outliers``; ``ok`` is
            False where the flag is raised, ``detail`` names the parameters, pairs or rows involved.
        """
        pairs = "; ".join(f"{a} and {b} ({c:+.4f})" for a, b, c in self.tradeoffs) or ", ".join(self.sloppy)
        pairs = f"; trade-offs: {pairs}" if pairs else ""
        rows = [
            ("converged", self.converged, f"{self.n_at_best} start(s) at the best objective"),
            ("within bounds", not self.at_bound, ", ".join(self.at_bound)),
            ("identifiable", not self.not_identifiable, f"condition number {self.condition_number:.3g}{pairs}"),
            ("signal", not self.no_signal, "the fitted values are all equal" if self.no_signal else ""),
            (
                "no outliers",
                not self.outliers,
                format_rows(self.outlier_rows or self.outliers) if self.outliers else "",
            ),
        ]
        return pd.DataFrame(rows, columns=["check", "ok", "detail"])

    def summary(self) -> str:
        """``ok`` or the raised flags on the first line, then one line per warning message."""
        if self.ok:
            return (
                f"ok: converged ({self.n_at_best} start(s) at the best objective), nothing at a bound, identifiable "
                f"(condition number {self.condition_number:.3g}), no outlier"
            )
        return "\n".join([f"{len(self.flags())} flag(s): {'; '.join(self.flags())}", *self.messages()])

    def to_dict(self) -> dict[str, Any]:
        """The flags as JSON-ready data (an infinite condition number is ``None``, read back as infinity)."""
        return jsonable(self._payload())

    def _payload(self) -> dict[str, Any]:
        return {
            "converged": self.converged,
            "at_bound": list(self.at_bound),
            "not_identifiable": self.not_identifiable,
            "tradeoffs": [list(t) for t in self.tradeoffs],
            "sloppy": list(self.sloppy),
            "condition_number": self.condition_number,
            "n_at_best": self.n_at_best,
            "no_signal": self.no_signal,
            "outliers": list(self.outliers),
            "outlier_rows": list(self.outlier_rows),
            "outlier_threshold": self.outlier_threshold,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FitStatus:
        return cls(
            converged=bool(data["converged"]),
            at_bound=tuple(data.get("at_bound", ())),
            not_identifiable=bool(data.get("not_identifiable", False)),
            tradeoffs=tuple((str(a), str(b), _number(c)) for a, b, c in data.get("tradeoffs", ())),
            sloppy=tuple(data.get("sloppy", ())),
            # null: infinite, the one non-finite value a fit computes (a singular information matrix)
            condition_number=_number(data.get("condition_number", math.nan), null=math.inf),
            n_at_best=int(data.get("n_at_best", 1)),
            # Fits saved before these flags existed load as unflagged (their JSON has no such keys).
            no_signal=bool(data.get("no_signal", False)),
            outliers=tuple(int(i) for i in data.get("outliers", ())),
            outlier_rows=tuple(str(r) for r in data.get("outlier_rows", ())),
            outlier_threshold=_number(data.get("outlier_threshold", math.nan)),
        )


def _by_name(law: Law, std_errors: Mapping[str, float] | Any) -> dict[str, float]:
    """Standard errors as a dict in ``law.param_names`` order, from a mapping or a sequence in that order."""
    names = law.param_names
    if isinstance(std_errors, Mapping):
        missing = [n for n in names if n not in std_errors]
        if missing or len(std_errors) != len(names):
            raise FitError(
                f"std_errors must name the parameters {', '.join(names)}; got {', '.join(std_errors)} (replacing a "
                "fit's law? pass std_errors= for the new law too, NaN where unknown)"
            )
        return {n: float(std_errors[n]) for n in names}
    values = [float(v) for v in std_errors]
    if len(values) != len(names):
        raise FitError(f"{len(values)} standard errors for law {law.name!r} with {len(names)} parameters")
    return dict(zip(names, values, strict=True))


def _number(value: Any, null: float = math.nan) -> float:
    """A float of the fit JSON: JSON null (strict JSON's NaN or infinity) reads as the ``null`` argument."""
    return null if value is None else float(value)


@dataclass(frozen=True, eq=False)
class FitData:
    """The observations a fit used, kept with the result so it can be re-checked, resampled and plotted.

    Attributes
    ----------
    columns : mapping of str to ndarray
        The law's input columns and the fitted column, float64, read-only.
    run : ndarray of str
        Run id of every row (bootstrap resamples whole runs).
    weights : ndarray or None
        Row weights used in the fit.
    """

    columns: Mapping[str, np.ndarray]
    run: np.ndarray
    weights: np.ndarray | None = None

    def __post_init__(self) -> None:
        cols = {k: _frozen(np.asarray(v, dtype=np.float64)) for k, v in self.columns.items()}
        object.__setattr__(self, "columns", cols)
        object.__setattr__(self, "run", _frozen(np.asarray(self.run, dtype=str)))
        if self.weights is not None:
            object.__setattr__(self, "weights", _frozen(np.asarray(self.weights, dtype=np.float64)))

    def __len__(self) -> int:
        return len(self.run)

    def frame(self) -> pd.DataFrame:
        """The data as a DataFrame (a copy), with a ``run`` column."""
        out = pd.DataFrame({k: v.copy() for k, v in self.columns.items()})
        out.insert(0, "run", self.run.copy())
        if self.weights is not None:
            out["weight"] = self.weights.copy()
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "columns": {k: v.tolist() for k, v in self.columns.items()},
            "run": self.run.tolist(),
            "weights": None if self.weights is None else self.weights.tolist(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FitData:
        weights = data.get("weights")
        return cls(
            columns={k: np.array(v, dtype=np.float64) for k, v in data["columns"].items()},
            run=np.array(data["run"], dtype=str),
            weights=None if weights is None else np.array(weights, dtype=np.float64),
        )


def _frozen(a: np.ndarray) -> np.ndarray:
    a = a.copy()
    a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False)
class FitResult(Result):
    """The outcome of :func:`scalelaw.fit`. Frozen: derive new results, never edit one.

    Attributes
    ----------
    law : Law
        The law fitted (inputs bound to the data columns used).
    values : tuple of float
        Best parameter values in natural units, in ``law.param_names`` order (``params`` gives a dict).
    objective : float
        Summed loss of log residuals at the optimum.
    n_points, n_runs : int
        Observations and distinct runs fitted.
    n_starts : int
        Starts in the multi-start search.
    status : FitStatus
        Convergence, bounds and identifiability flags.
    std_errors : dict of str to float
        Approximate (Gauss-Newton) standard errors by parameter name, natural units (NaN for a parameter on a
        bound); a sequence in ``law.param_names`` order is accepted when constructing.
    correlations : tuple of tuple of float
        Parameter correlation matrix from the same approximation.
    residual_scale : float
        Robust standard deviation of log residuals (noise level of the data around the law).
    y : str
        Column fitted.
    loss, delta : str, float
        Objective used.
    fit_seconds : float
        Time spent in the optimizer (no I/O, no start-up); saved, but not compared by ``==``.
    data_hash, data_source : str
        Fingerprint and origin of the data; ``notes`` say what loading did to it.
    data : FitData or None
        The observations themselves (saved in the JSON too), for intervals, backtests and plots.
    schedule_info : mapping or None
        LR-schedule laws: fingerprint and step range of the schedules the fit used (saved in the JSON).
    schedule : Schedules or None
        LR-schedule laws: the schedules themselves, kept in memory only (not in the JSON, where they
        would be large); after loading a fit from JSON, pass ``schedule=`` to :meth:`predict`.
    loaded_from : str
        The file :meth:`load` read this fit from ("" otherwise), to name it in messages; not saved, not compared.
    uncertainty : SavedUncertainty or None
        Bootstrap replicates and the law-error model kept with the fit (:meth:`with_uncertainty`), saved in the
        JSON under ``uncertainty`` and reused by :meth:`bootstrap` and :meth:`extrapolation_error`; not compared.
    """

    law: Law
    values: tuple[float, ...]
    objective: float
    n_points: int
    n_runs: int
    n_starts: int
    status: FitStatus
    std_errors: Mapping[str, float]
    correlations: tuple[tuple[float, ...], ...]
    residual_scale: float
    y: str = "loss"
    loss: str = "huber"
    delta: float = 1e-3
    seed: int = 0
    fit_seconds: float = 0.0
    data_hash: str = ""
    data_source: str = ""
    notes: tuple[str, ...] = ()
    data: FitData | None = None
    package_version: str = field(default="")
    schedule_info: Mapping[str, Any] | None = None
    schedule: Any = field(default=None, repr=False)
    loaded_from: str = field(default="", repr=False)
    law_choice: LawChoice | None = field(default=None, repr=False)
    #: The law's error beyond the data once learned (:meth:`extrapolation_error`); not saved, not compared.
    extrapolation: Any = field(default=None, repr=False, compare=False)
    uncertainty: SavedUncertainty | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.values) != self.law.n_params:
            raise FitError(f"{len(self.values)} values for law {self.law.name!r} with {self.law.n_params} parameters")
        object.__setattr__(self, "std_errors", _by_name(self.law, self.std_errors))
        if not self.package_version:
            object.__setattr__(self, "package_version", __version__)

    @property
    def params(self) -> dict[str, float]:
        """Best parameter values by name (a fresh dict)."""
        return dict(zip(self.law.param_names, self.values, strict=True))

    @property
    def inputs(self) -> tuple[str, ...]:
        return self.law.inputs

    def predict(
        self, frame: pd.DataFrame | Mapping[str, Any] | None = None, /, schedule: Any = None, **inputs: Any
    ) -> float | np.ndarray | pd.Series:
        """Predict ``y`` at new inputs: ``fit.predict(params=70e9, tokens=1.4e12)`` or a DataFrame.

        LR-schedule laws (``lr_annealing``, ``multi_power``) also read each row's ``run`` and need the
        runs' per-step LR ``schedule`` (a ``run, step, lr`` table, path, ``Schedules`` or one LR array);
        it defaults to the schedules of the fit when they cover the runs asked for, else to a ``lr``
        column with a row at every step.

        Returns
        -------
        float, ndarray or pandas.Series
            A float for one point given as scalars (keywords or a mapping of scalars); a Series named ``y``
            with the frame's index for a DataFrame; an ndarray of shape (n_rows,) for array inputs.
            :func:`predict_values` always gives the array.

        Examples
        --------
        >>> import pandas as pd, scalelaw
        >>> fit = scalelaw.fit("power", {"flops": [1e18, 1e19, 1e20, 1e21], "loss": [3.0, 2.8, 2.7, 2.65]})
        >>> round(fit.predict(flops=1e22), 3)
        2.625
        >>> fit.predict(pd.DataFrame({"flops": [1e22, 1e23]}, index=["a", "b"])).round(3).to_dict()
        {'a': 2.625, 'b': 2.613}
        """
        values = predict_values(self, frame, schedule=schedule, **inputs)
        return prediction_like(values, frame, inputs, self.y, (*self.law.inputs, "run", "step"))

    def bootstrap(self, n: int | None = None, by: str | None = None, seed: int | None = None, **kwargs: Any):
        """Refit on ``n`` resamples of whole runs; see :func:`scalelaw.trust.bootstrap.bootstrap`.

        Left out, ``n``, ``by`` and ``seed`` are those of the replicates saved with the fit (:meth:`with_uncertainty`),
        which are then returned without a refit; a fit without them draws 1000 by run with seed 0.

        ``progress=True`` draws a progress bar (rich; in a notebook too), as for :func:`scalelaw.backtest` and
        :func:`scalelaw.decisions.design.suggest`.
        """
        from scalelaw import trust  # a convenience above this layer (listed in the layer contract)

        return trust.bootstrap.bootstrap(self, n=n, by=by, seed=seed, **kwargs)  # type: ignore[arg-type]

    def profile(self, parameters: str | list[str] | None = None, level: float = 0.9) -> pd.DataFrame:
        """Profile-likelihood intervals; see :func:`scalelaw.trust.profile.profile`."""
        from scalelaw import trust

        return trust.profile.profile(self, parameters, level=level)

    def influence(self, target: Mapping[str, Any] | None = None, **kwargs: Any):
        """Runs whose removal moves the prediction at ``target`` most; see :func:`scalelaw.trust.influence.influence`.

        Keyword arguments (``exact``, ``max_iter``, ``schedule``) go to that function.
        """
        from scalelaw import trust

        return trust.influence.influence(self, target, **kwargs)

    def predict_interval(
        self,
        frame: pd.DataFrame | Mapping[str, Any] | None = None,
        /,
        level: float = 0.9,
        observation: bool | None = None,
        n_boot: int | None = None,
        seed: int | None = None,
        by: str | None = None,
        schedule: Any = None,
        kind: str = "total",
        progress: ProgressLike = False,
        point: str = "chosen",
        **inputs: Any,
    ) -> pd.DataFrame:
        """Prediction with an interval: columns ``value, low, high, level, interval_kind, method`` and more.

        ``kind="total"`` (the default) is the honest interval for extrapolation: the by-run bootstrap of the
        parameters, widened in quadrature by the law's own error at that distance beyond the data, learned
        from rolling backtests inside the data (:meth:`extrapolation_error`), and, for a fit of
        ``law="auto"``, by the spread between the candidate laws. Extra columns say how: ``decades``
        (beyond the largest run along the backtests' axis), ``parameter_low``/``parameter_high`` (the
        bootstrap alone), ``extrapolation_halfwidth`` and ``law_choice_halfwidth`` (log units),
        ``extrapolation_drift`` (the law's expected log error, predicted over observed, where the backtests'
        errors drift with scale: it moves the end it points to) and ``beyond_checked`` (further than any
        backtest reached). ``kind="parameter"`` is the bootstrap alone.

        ``point="averaged"`` (a fit of ``law="auto"`` only) makes ``value`` the averaged prediction, the
        weighted geometric mean of the candidate laws' predictions (:meth:`.LawChoice.averaged`, weights from
        their rolling backtests), with the chosen law's own in ``chosen_value``; ``low`` and ``high`` stay the
        total interval, which holds the averaged value at levels of 0.69 and above (its law-choice part is at least
        their distance, times a multiplier >= 1 there), and a ``point`` column says ``"averaged"``. It
        has no parameter interval: with ``kind="parameter"`` it raises :class:`~scalelaw.errors.DataError`.

        ``observation`` (default: True for the total interval, False for the parameter one) widens the interval
        for a new measurement by the data's noise around the law. ``by`` says what the bootstrap resamples
        (``"run"``, ``"row"`` or ``"block"``); by default whole runs, or blocks of each curve for an LR-schedule
        fit with fewer than 8 runs (:func:`scalelaw.trust.bootstrap.default_by`). LR-schedule laws: ``schedule``
        gives the schedules of a fit loaded from JSON, or of new runs the fit's schedules lack (as for
        :meth:`predict`); their law error is not learned along one axis, so their total interval is the parameter
        one, with a warning.

        The table has one row per point, under the index of a DataFrame ``frame`` (else 0, 1, ...); ``low`` and
        ``high`` come before the long ``method`` text, which is last. For one point, ``band.iloc[0]`` is its row
        (a Series: ``row["low"]``). ``progress=True`` draws a progress bar of the bootstrap refits. ``n_boot``,
        ``seed`` and ``by`` left out reuse the replicates saved with the fit (:meth:`with_uncertainty`; ``method``
        then says "saved with the fit"), else draw 1000 by-run replicates with seed 0.

        Examples
        --------
        >>> import scalelaw, warnings
        >>> warnings.simplefilter("ignore")
        >>> fit = scalelaw.fit("chinchilla", "dataset:gadre2024_rpj")
        >>> band = fit.predict_interval(params=7e10, tokens=1.4e12, n_boot=50)  # 1.9 decades beyond the data
        >>> bool(band["low"].iloc[0] < band["parameter_low"].iloc[0] < band["value"].iloc[0] < band["high"].iloc[0])
        True
        >>> band["interval_kind"].iloc[0]
        'total'
        """
        from scalelaw import trust  # a convenience above this layer (listed in the layer contract)

        kind = trust.total.check_kind(kind)
        point = trust.total.check_point(self, kind, point)  # before the bootstrap: a refusal costs nothing
        if observation is None:
            observation = kind == "total"
        result = with_schedule(self, schedule) if self.schedule is None else self
        kept = self.saved_uncertainty()
        if by is None and (kept is None or kept.bootstrap is None or n_boot is not None):
            by = trust.default_by(result)  # else the saved replicates' (read by bootstrap)
        boot = result.bootstrap(n=n_boot, by=by, seed=seed, progress=progress)
        band = boot.predict(frame, level=level, observation=observation, schedule=schedule, **inputs)
        points = {**({} if frame is None else {k: frame[k] for k in frame.keys()}), **inputs}
        extra = trust.total.candidate_inputs(result, points)
        band = trust.total.with_kind(result, band, level, kind, extra)
        if point == "averaged":
            band = trust.total.with_averaged(result, band, extra)
        band = band[[c for c in band.columns if c != "method"] + ["method"]]  # the long text last: low, high first
        if isinstance(frame, pd.DataFrame):
            band.index = frame.index  # one row per row of the frame, under its labels
        return band

    def solve(
        self,
        target: float | Any,
        for_: str | None = None,
        at: Mapping[str, float] | None = None,
        level: float | None = 0.9,
        n_boot: int | None = None,
        seed: int = 0,
        kind: str = "total",
        **kwargs: Any,
    ):
        """Where along input ``for_`` the law reaches ``target`` (the others held at ``at``), with an interval.

        Inverts any one-variable law (``for_`` defaults to its input, whatever its name: flops, hours, samples),
        and any law along one input with the others fixed. The interval solves every bootstrap replicate, shifted
        by the law's error beyond the data for ``kind="total"``; a target the law never reaches (a loss below its
        floor) raises :class:`~scalelaw.errors.DataError`. See :func:`scalelaw.decisions.solve.solve` (``boot``,
        ``search``) and docs/axes.md.

        Returns
        -------
        scalelaw.decisions.plan.Plan
            One row per target: ``target_<y>``, the fixed inputs, ``<for_>`` and its ``_low``/``_high``.

        Examples
        --------
        >>> import numpy as np, scalelaw
        >>> hours = np.logspace(1, 3, 8)
        >>> fit = scalelaw.fit("power", {"hours": hours, "loss": 2.0 + 3 * hours**-0.3}, x="hours")
        >>> round(float(fit.solve(2.3, level=None).table["hours"].iloc[0]))
        2154
        """
        from scalelaw.decisions.solve import solve  # a convenience above this layer (listed in the layer contract)

        return solve(self, target, for_, at, level=level, n_boot=n_boot, seed=seed, kind=kind, **kwargs)

    def extrapolation_error(self):
        """The law's error beyond the data, learned from rolling backtests inside this fit's data (computed once;
        read from :attr:`uncertainty` when the fit file saved it).

        Returns
        -------
        scalelaw.trust.extrapolation_error.ExtrapolationError
        """
        if self.extrapolation is None:
            from scalelaw import trust  # a convenience above this layer (listed in the layer contract)

            ee = trust.extrapolation_error
            saved = self.saved_uncertainty()
            if saved is not None and saved.extrapolation is not None:
                self.check_data_hash()
                model = ee.from_record(saved.extrapolation)
            else:
                model = ee.learn(self)
            object.__setattr__(self, "extrapolation", model)  # a cache, not state
        return self.extrapolation

    @property
    def fingerprint(self) -> str:
        """A short hash of the law, its parameters, the data hash and the objective: what saved uncertainty
        belongs to (:mod:`scalelaw.fitting.uncertainty`)."""
        settings = fit_settings(self.data_hash, self.y, self.loss, self.delta)
        return fingerprint(self.law.to_dict(), self.params, settings)

    def saved_uncertainty(self) -> SavedUncertainty | None:
        """:attr:`uncertainty` if it belongs to this fit (a result with other parameters drops it), else None."""
        if self.uncertainty is None or self.uncertainty.fit != self.fingerprint:
            return None
        return self.uncertainty

    def with_uncertainty(
        self, boot: Any = None, n_boot: int = 1000, by: str | None = None, seed: int = 0, extrapolation: bool = True
    ) -> FitResult:
        """A copy that keeps bootstrap replicates and the law-error model, so that :meth:`save` writes them and
        intervals of the saved fit (``scalelaw predict --interval``, :meth:`predict_interval`) refit nothing.

        Parameters
        ----------
        boot : Bootstrap, optional
            Replicates of this fit to keep; default: :meth:`bootstrap` with ``n_boot``, ``by`` (default
            :func:`scalelaw.trust.bootstrap.default_by`) and ``seed``.
        extrapolation : bool
            Keep the law-error model too (:meth:`extrapolation_error`; not for LR-schedule laws, whose total
            interval is the parameter one).

        Examples
        --------
        >>> import scalelaw, warnings
        >>> warnings.simplefilter("ignore")
        >>> fit = scalelaw.fit("chinchilla", "dataset:gadre2024_rpj").with_uncertainty(n_boot=50)
        >>> again = scalelaw.FitResult.from_json(fit.to_json())
        >>> again.bootstrap(n=50).samples.shape, again.extrapolation_error().n_cuts
        ((50, 5), 5)
        """
        from scalelaw import trust  # a convenience above this layer (listed in the layer contract)

        if boot is None:
            boot = self.bootstrap(n=n_boot, by=by or trust.default_by(self), seed=seed)
        elif boot.result.fingerprint != self.fingerprint:
            raise FitError("this bootstrap is of another fit (other law, parameters or data); bootstrap this fit")
        model = None
        if extrapolation and schedule_law(self.law) is None and self.data is not None:
            model = extrapolation_record(self.extrapolation_error())
        saved = SavedUncertainty(self.fingerprint, SavedBootstrap.of(boot), model)
        return dataclasses.replace(self, uncertainty=saved, extrapolation=self.extrapolation)

    def report(self, path: str | os.PathLike, **kwargs: Any):
        """Write the self-contained HTML report of this fit to ``path`` and return the path.

        Keyword arguments go to :func:`scalelaw.views.report.build_report`: ``runs``, ``backtest``, ``plan`` (a
        Plan, or compute budgets in FLOPs), ``command``, ``boot`` (a Bootstrap) or ``n_boot`` (replicates to
        draw; default: those saved with the fit, else 500; 0 for none), ``level``, ``split`` and ``split_results``,
        ``title``.
        """
        from scalelaw.views.report import write_report  # a convenience above this layer (listed in the layer contract)

        return write_report(path, self, **kwargs)

    def table(self) -> pd.DataFrame:
        """Parameters with approximate standard errors, one row each: the same as :meth:`to_frame`."""
        return self.to_frame()

    def to_frame(self) -> pd.DataFrame:
        """Parameters with approximate standard errors, one row each.

        Returns
        -------
        pandas.DataFrame
            Columns ``parameter, value, std_error, lower_bound, upper_bound, at_bound``.
        """
        return pd.DataFrame(
            {
                "parameter": self.law.param_names,
                "value": self.values,
                "std_error": list(self.std_errors.values()),
                "lower_bound": [p.lower for p in self.law.parameters],
                "upper_bound": [p.upper for p in self.law.parameters],
                "at_bound": [n in self.status.at_bound for n in self.law.param_names],
            }
        )

    def summary(self) -> str:
        """The law and data on the first line, then the formula, the parameters, the objective and any warnings."""
        se = self.std_errors
        values = ", ".join(
            f"{n} = {v:.6g}" + (f" ± {se[n]:.2g}" if math.isfinite(se[n]) else "") for n, v in self.params.items()
        )
        lines = [
            f"{self.law.name} fit of {self.y} on {self.n_points} points ({self.n_runs} runs): "
            + ("ok" if self.status.ok else "; ".join(self.status.flags())),
            f"{self.y} = {self.law.formula()}",
            values,
            f"objective {self.objective:.4g} ({self.loss}), residual scale {self.residual_scale:.3g} (log)",
        ]
        lines += [self.law_choice.summary()] if self.law_choice is not None else []
        return "\n".join([*lines, *(f"warning: {m}" for m in self.status.messages())])

    # ------------------------------------------------------------------ JSON
    def to_dict(self) -> dict[str, Any]:
        """The fit file's content as JSON-ready data (NaN and infinities are ``None``); :meth:`from_dict` reads it."""
        return jsonable(self._payload())

    def _payload(self) -> dict[str, Any]:
        """:meth:`to_dict` before non-finite numbers become ``None`` (``==`` tells NaN from infinity)."""
        return {
            "schema": "scalelaw.fit",
            "schema_version": SCHEMA_VERSION,
            "package_version": self.package_version,
            "law": self.law.name,
            "formula": self.law.formula(),
            "law_definition": self.law.to_dict(),
            "params": self.params,
            "objective": self.objective,
            "n_points": self.n_points,
            "n_runs": self.n_runs,
            "n_starts": self.n_starts,
            "status": self.status._payload(),
            "std_errors": dict(self.std_errors),
            "correlations": [list(r) for r in self.correlations],
            "residual_scale": self.residual_scale,
            "y": self.y,
            "loss": self.loss,
            "delta": self.delta,
            "seed": self.seed,
            "fit_seconds": self.fit_seconds,
            "data": {
                "hash": self.data_hash,
                "source": self.data_source,
                "notes": list(self.notes),
                **(self.data.to_dict() if self.data is not None else {}),
            },
            **({"schedule": dict(self.schedule_info)} if self.schedule_info is not None else {}),
            **({"law_choice": self.law_choice.to_dict()} if self.law_choice is not None else {}),
            **({"uncertainty": saved.to_dict()} if (saved := self.saved_uncertainty()) is not None else {}),
        }

    def to_json(self, indent: int | None = 2) -> str:
        """Strict JSON text (NaN and infinities as ``null``); :meth:`from_json` gives back an equal result.

        Finite floats round-trip exactly; ``null`` reads back as NaN, or as infinity for the condition number.
        """
        return strict_json(self.to_dict(), indent=indent)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "fit JSON") -> FitResult:
        """Rebuild a fit from :meth:`to_dict` output, after checking it against the fit schema.

        Raises
        ------
        FitFileError
            A :class:`DataError` naming ``source`` and the JSON path of the first fault
            (:mod:`scalelaw.fitting.schema` lists what is checked).
        """
        data, law = check_fit(data, source)
        params = data["params"]
        std = data.get("std_errors", {})
        status = data["status"]
        saved = data["data"]
        return cls(
            law=law,
            values=tuple(params[n] for n in law.param_names),
            objective=data["objective"],
            n_points=data["n_points"],
            n_runs=data["n_runs"],
            n_starts=data["n_starts"],
            status=FitStatus.from_dict(status),
            std_errors={n: _number(std.get(n)) for n in law.param_names},
            correlations=tuple(tuple(_number(v) for v in row) for row in data.get("correlations", ())),
            residual_scale=_number(data.get("residual_scale")),
            y=data.get("y", "loss"),
            loss=data.get("loss", "huber"),
            delta=data.get("delta", 1e-3),
            seed=data.get("seed", 0),
            fit_seconds=data.get("fit_seconds", 0.0),
            data_hash=saved.get("hash", ""),
            data_source=saved.get("source", ""),
            notes=tuple(saved.get("notes", ())),
            data=FitData.from_dict(saved) if "columns" in saved else None,
            package_version=data.get("package_version", ""),
            schedule_info=data.get("schedule"),
            law_choice=LawChoice.from_dict(data["law_choice"]) if "law_choice" in data else None,
            uncertainty=SavedUncertainty.from_dict(data["uncertainty"], law.n_params)
            if "uncertainty" in data
            else None,
        )

    @classmethod
    def from_json(cls, text: str | bytes, source: str = "fit JSON") -> FitResult:
        """Parse and check fit JSON (nesting depth limited); errors are :class:`FitFileError` naming ``source``."""
        try:
            data = parse_json(text)
        except Invalid as exc:
            raise FitFileError(f"{source} {exc.problem}; {REFIT}") from None
        return cls.from_dict(data, source)

    def save(self, path: str | os.PathLike) -> None:
        """Write the JSON atomically."""
        write_text_atomic(path, self.to_json() + "\n")

    @classmethod
    def load(cls, path: str | os.PathLike) -> FitResult:
        """Read a fit file written by :meth:`save`; everything in it is checked before use.

        Raises
        ------
        FitFileError
            Missing, not a regular readable file, over the size limit, not UTF-8 JSON, nested too
            deeply, or not following the fit schema; the message names the file and the fault.
        """
        from pathlib import Path

        p = Path(path)
        if not p.exists():
            raise FitFileError(f"no such fit file: {p}")
        try:
            text = read_limited(p)
        except Invalid as exc:
            raise FitFileError(f"{p} {exc.problem}; give a fit file written by scalelaw fit --out") from None
        result = dataclasses.replace(cls.from_json(text, source=str(p)), loaded_from=str(p))
        if not result.data_matches_hash:
            # Point predictions only read the parameters, which nobody claims were edited: allow them, loudly.
            message = result._hash_mismatch("point predictions use its parameters, refits are refused")
            warnings.warn(message, UserWarning, stacklevel=2)
        return result

    @functools.cached_property
    def data_matches_hash(self) -> bool:
        """Whether the stored data still gives the stored ``data_hash`` (False: edited after the fit was saved).

        True when there is nothing to compare (no data kept, or no hash). Intervals, bootstrap, profile,
        influence and backtest refits of a fit whose data does not match are refused
        (:meth:`check_data_hash`): they would describe data the parameters were never fitted to.
        """
        if self.data is None or not self.data_hash:
            return True
        names = (*self.law.inputs, self.y)
        if any(name not in self.data.columns for name in names):
            return False
        columns = [(name, self.data.columns[name]) for name in names]
        # Run ids enter the hash only when the data had a run column (else they are made up, row1, row2, ...),
        # and a saved fit does not record which it was: either form matching is a match.
        return self.data_hash in (data_fingerprint(columns, self.data.run), data_fingerprint(columns))

    def check_data_hash(self) -> None:
        """Raise :class:`~scalelaw.errors.DataError` unless :attr:`data_matches_hash`; called before every refit."""
        if not self.data_matches_hash:
            raise DataError(self._hash_mismatch("intervals and refits would describe other data"))

    def _hash_mismatch(self, consequence: str) -> str:
        return (
            f"{self.loaded_from or 'this fit'}: its stored data does not match its data hash (edited after "
            f"saving?); {consequence}: refit it from the data (scalelaw fit DATA --out FILE)"
        )

    def __eq__(self, other: object) -> bool:
        # Compare the serialized form: NaN standard errors (parameters on a bound) compare equal there.
        return isinstance(other, FitResult) and self._identity() == other._identity()

    def __hash__(self) -> int:
        return hash(self._identity())

    def _identity(self) -> str:
        """What ``==`` and ``hash`` compare: the JSON without wall-clock time, so refitting the same data is equal."""
        data = self._payload()
        del data["fit_seconds"]
        data.pop("uncertainty", None)  # what was saved about the fit, not the fit
        return json.dumps(data, allow_nan=True)  # never written anywhere; NaN and inf stay distinct here

    def __repr__(self) -> str:
        vals = ", ".join(f"{n}={v:.6g}" for n, v in self.params.items())
        flag = "ok" if self.status.ok else "; ".join(m.split(":")[0] for m in self.status.messages())
        tail = f"; objective={self.objective:.6g}; n={self.n_points}; {flag})"
        vals = clip(vals, max(REPR_LIMIT - len(self.law.name) - len(tail) - 12, 40))  # many parameters: cut
        return clip(f"FitResult({self.law.name}: {vals}{tail}", REPR_LIMIT)


def predict_values(
    result: FitResult, frame: pd.DataFrame | Mapping[str, Any] | None = None, /, schedule: Any = None, **inputs: Any
) -> np.ndarray:
    """:meth:`FitResult.predict` as an array, whatever the input: what code that computes with predictions calls.

    Returns
    -------
    ndarray, shape (n_rows,)
        One scalar point gives one row.

    Raises
    ------
    DataError
        A fit with non-finite parameters (a NaN would flow through as a prediction).

    Examples
    --------
    >>> import scalelaw
    >>> fit = scalelaw.fit("power", {"flops": [1e18, 1e19, 1e20, 1e21], "loss": [3.0, 2.8, 2.7, 2.65]})
    >>> predict_values(fit, flops=1e22).round(3).tolist()
    [2.625]
    """
    bad = [n for n, v in result.params.items() if not math.isfinite(v)]
    if bad:
        raise DataError(
            f"a fit with non-finite parameters cannot predict: {', '.join(bad)} "
            f"{'is' if len(bad) == 1 else 'are'} not finite; refit the data"
        )
    columns: dict[str, Any] = {}
    extra = ("run", "lr") if schedule_law(result.law) is not None else ()
    if frame is not None:
        columns.update({name: np.asarray(frame[name]) for name in (*result.law.inputs, *extra) if name in frame})
    columns.update(inputs)
    X = bind_inputs(result, columns, schedule)
    log_pred, _ = result.law.log_predict_jac(result.law.theta(result.params), X, jac=False)
    return np.exp(log_pred[0])


def prediction_like(
    values: np.ndarray,
    frame: pd.DataFrame | Mapping[str, Any] | None,
    inputs: Mapping[str, Any],
    name: str,
    names: tuple[str, ...],
) -> float | np.ndarray | pd.Series:
    """Predictions ``values`` in the form of the inputs they are of (the rule of :meth:`FitResult.predict`).

    A Series named ``name`` with the index of a DataFrame ``frame``; a float when every input named in ``names``
    (in ``frame`` or ``inputs``) is a scalar and there is one value; else the array itself.
    """
    if isinstance(frame, pd.DataFrame):
        return pd.Series(values, index=frame.index, name=name)
    given = [frame[n] for n in names if frame is not None and n in frame]
    given += [inputs[n] for n in names if n in inputs]
    if given and all(np.ndim(v) == 0 for v in given) and np.shape(values) == (1,):
        return float(values[0])
    return values
