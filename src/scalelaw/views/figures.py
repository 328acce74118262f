"""What the figures show, as plain arrays: data groups, fitted curves along 1-D paths, bands, IsoFLOP parabolas.

:mod:`scalelaw.views.plot` (matplotlib) and :mod:`scalelaw.views.report` (plotly) both draw from these views, so a
static figure and the interactive report always show the same curves. Nothing here imports a plotting
library or prints.

A law of two inputs (N and D) has no single curve against one axis, so the data is split into groups
along which the law *is* a curve: one model size N when the axis is compute or tokens, one
tokens-per-parameter ratio D/N or one compute budget when the axis is N. Inside a group the other
inputs follow the group's own log-linear trend against the axis (exact for the usual sweeps: N fixed,
D = C/6N, or D = rN), and the curve continues ``extrapolate`` times past the group's largest value.
Against compute, the compute-optimal frontier (lowest loss at each budget) is drawn as well.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from scalelaw._validation import check_level
from scalelaw.data.io import load_runs
from scalelaw.decisions.plan import compute_optimal, optimum
from scalelaw.errors import DataError, FitError, LawError
from scalelaw.fitting.result import FitResult, predict_values

__all__ = [
    "AXIS_LABELS",
    "OKABE_ITO",
    "Curve",
    "FitView",
    "Group",
    "Histogram",
    "IsoflopView",
    "axis_label",
    "backtest_view",
    "data_frame",
    "fit_view",
    "format_si",
    "frontier_view",
    "group_positions",
    "histogram",
    "isoflop_view",
    "log_bins",
    "nd_inputs",
    "results_by_label",
    "symbol",
]

#: Okabe & Ito (2008), "Color Universal Design": distinguishable with every common colour-vision deficiency.
#: Ordered so the first colours contrast most on white (yellow last).
OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000", "#F0E442")

#: Axis titles with units, for the canonical columns.
AXIS_LABELS = {
    "flops": "training compute C (FLOPs)",
    "params": "model size N (parameters)",
    "tokens": "training data D (tokens)",
    "unique_tokens": "unique data U (tokens)",
    "step": "training step",
    "lr": "learning rate",
    "batch_size": "batch size (sequences)",
    "loss": "loss (nats/token)",
}
_SYMBOLS = {"flops": "C", "params": "N", "tokens": "D", "unique_tokens": "U", "loss": "L", "step": "t"}
_SINGULAR = {"params": "parameter", "tokens": "token", "flops": "FLOP", "unique_tokens": "unique token"}
#: At most this many groups: more would not be told apart by colour.
MAX_GROUPS = 20
#: Training FLOPs per parameter per token when compute has to be derived (forward + backward).
FLOPS_PER_TOKEN = 6.0


def axis_label(name: str) -> str:
    """``"training compute C (FLOPs)"`` for ``"flops"``; unknown columns are returned as they are."""
    return AXIS_LABELS.get(name, name)


def symbol(name: str) -> str:
    """Short symbol of a column for legends (``N`` for ``params``), else the name."""
    return _SYMBOLS.get(name, name)


def format_si(value: float, kind: str = "count") -> str:
    """Compact number for legends: ``10.6M``, ``1.44B``, ``2T`` (counts) or ``3.4e18`` (``kind="flops"``).

    >>> format_si(1.0569312e7), format_si(6.889e9), format_si(20.0), format_si(3.35e18, "flops")
    ('10.6M', '6.89B', '20', '3.35e18')
    """
    if not math.isfinite(value):
        return str(value)
    if kind == "flops":
        mantissa, exponent = f"{value:.3g}".split("e") if "e" in f"{value:.3g}" else (f"{value:.3g}", "")
        return f"{mantissa}e{int(exponent)}" if exponent else mantissa
    for size, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(value) >= size:
            return f"{value / size:.3g}{suffix}"
    return f"{value:.3g}"


def _format_value(column: str, value: float) -> str:
    return format_si(value, "flops" if column == "flops" else "count")


# ------------------------------------------------------------------------------------------------ data
def nd_inputs(law) -> tuple[str, str] | None:
    """The law's model-size and data inputs (:meth:`~scalelaw.laws.law.Law.inputs_for`: those its roles declare
    N and D), or None when it has no such pair: then no figure shows compute or a compute-optimal frontier."""
    try:
        return law.inputs_for("N", "D")
    except LawError:
        return None


def data_frame(result: FitResult) -> pd.DataFrame:
    """The fit's observations with ``fitted`` and ``residual`` (ln observed/fitted) columns, plus ``flops``
    (as 6ND) when the law reads N and D but not compute."""
    if result.data is None:
        raise FitError(
            "this fit carries no data (it was saved without it), so there is nothing to plot; refit it with "
            "scalelaw.fit"
        )
    frame = result.data.frame()
    nd = nd_inputs(result.law)
    if "flops" not in frame.columns and nd is not None:
        frame["flops"] = FLOPS_PER_TOKEN * frame[nd[0]] * frame[nd[1]]
    with np.errstate(all="ignore"):
        frame["fitted"] = predict_values(result, frame)
        frame["residual"] = np.log(frame[result.y] / frame["fitted"])
    return frame


def _default_x(result: FitResult, frame: pd.DataFrame) -> str:
    if "flops" in result.law.inputs or "flops" in frame.columns:
        return "flops"
    return result.law.inputs[0]


def _check_x(result: FitResult, frame: pd.DataFrame, x: str) -> None:
    if x not in result.law.inputs and x != "flops":
        raise DataError(
            f"x={x!r} is not an input of law {result.law.name!r}; plot against one of "
            f"{', '.join(map(repr, result.law.inputs))}" + (" or 'flops' (6·N·D)" if "flops" in frame.columns else "")
        )
    if x not in frame.columns:
        raise DataError(f"x={x!r} needs N and D to derive compute; law {result.law.name!r} reads only {x}")


# ------------------------------------------------------------------------------------------------ groups
@dataclass(frozen=True, eq=False)
class Group:
    """Rows drawn in one colour, with the curve of the law along them.

    ``value`` is the group's numeric key (a model size, a ratio, a budget) or NaN for labels such as run ids.
    """

    label: str
    value: float
    rows: np.ndarray


def group_positions(groups: Sequence[Group]) -> np.ndarray:
    """Where each numeric group sits on a sequential colour scale, 0 to 1 (log scale for positive values)."""
    values = np.array([g.value for g in groups], dtype=float)
    if len(values) < 2 or not np.all(np.isfinite(values)):
        return np.zeros(len(values))
    if np.all(values > 0):
        values = np.log(values)
    span = values.max() - values.min()
    return (values - values.min()) / span if span > 0 else np.zeros(len(values))


def _log_key(values: np.ndarray, decimals: int) -> np.ndarray:
    with np.errstate(all="ignore"):
        return np.round(np.log10(values), decimals)


def _choose_grouping(frame: pd.DataFrame, law_inputs: Sequence[str], x: str) -> tuple[str, str, np.ndarray] | None:
    """``(kind, column, key per row)`` of the grouping with fewest groups (2..MAX_GROUPS), or None.

    Preference: another input held fixed (N when the axis is C or D), then compute (IsoFLOP sweeps),
    then a ratio of another input to the axis (D/N when the axis is N).
    """
    others = [c for c in law_inputs if c != x]
    tiers: list[list[tuple[str, str, np.ndarray]]] = [
        [("column", c, _log_key(frame[c].to_numpy(), 3)) for c in others],
        [("column", "flops", _log_key(frame["flops"].to_numpy(), 3))] if x != "flops" and "flops" in frame else [],
        [("ratio", c, _log_key(frame[c].to_numpy() / frame[x].to_numpy(), 2)) for c in others],
    ]
    for tier in tiers:
        counts = [(len(np.unique(item[2])), item) for item in tier]
        usable = [(count, item) for count, item in counts if 2 <= count <= MAX_GROUPS]
        if usable:
            return min(usable, key=lambda t: t[0])[1]
    return None


def _groups(
    frame: pd.DataFrame, law_inputs: Sequence[str], x: str, group: str | Sequence[Any] | np.ndarray | None
) -> tuple[list[Group], str, bool]:
    """Groups, their title (legend or colour-bar) and whether they are numeric (ordered by value)."""
    n = len(frame)
    if group is None:
        if len(law_inputs) >= 2:
            chosen = _choose_grouping(frame, law_inputs, x)
            if chosen is not None:
                kind, column, key = chosen
                values = frame[column].to_numpy(dtype=float)
                if kind == "ratio":
                    values = values / frame[x].to_numpy(dtype=float)
                groups = []
                for k in np.unique(key):
                    rows = np.flatnonzero(key == k)
                    value = float(np.exp(np.mean(np.log(values[rows]))))
                    if kind == "column":
                        label = f"{symbol(column)} = {_format_value(column, value)}"
                    else:
                        label = f"{symbol(column)}/{symbol(x)} = {value:.3g}"
                    groups.append(Group(label, value, rows))
                if kind == "column":
                    title = axis_label(column)
                else:
                    title = f"{symbol(column)}/{symbol(x)} ({column} per {_SINGULAR.get(x, x)})"
                return groups, title, True
            return [Group("data", math.nan, np.arange(n))], "", False
        runs = frame["run"].to_numpy()
        if len(np.unique(runs)) < n:  # checkpoints: colour and join each run's points
            return _label_groups(runs, frame[x].to_numpy()), "run", False
        return [Group("data", math.nan, np.arange(n))], "", False
    if isinstance(group, str):
        if group not in frame.columns:
            raise DataError(f"group={group!r} is not a column of the fit's data ({', '.join(frame.columns)})")
        values = frame[group].to_numpy()
        if group != "run" and np.issubdtype(values.dtype, np.number):
            key = _log_key(values.astype(float), 3) if np.all(values > 0) else np.round(values.astype(float), 6)
            uniq = np.unique(key)
            positive = np.all(values > 0)
            return (
                [
                    Group(
                        f"{symbol(group)} = {_format_value(group, 10**k if positive else k)}",
                        float(10**k if positive else k),
                        np.flatnonzero(key == k),
                    )
                    for k in uniq
                ],
                axis_label(group),
                True,
            )
        return _label_groups(values.astype(str), frame[x].to_numpy()), group, False
    labels = np.asarray(group)
    if labels.shape != (n,):
        raise DataError(f"group must be a column name or one label per data row ({n}), got shape {labels.shape}")
    return _label_groups(labels.astype(str), frame[x].to_numpy()), "group", False


def _label_groups(labels: np.ndarray, order_by: np.ndarray) -> list[Group]:
    """Categorical groups ordered by their largest ``order_by`` value (small runs first)."""
    uniq = np.unique(labels)
    top = np.array([order_by[labels == u].max() for u in uniq])
    return [Group(str(u), math.nan, np.flatnonzero(labels == u)) for u in uniq[np.argsort(top, kind="stable")]]


# ------------------------------------------------------------------------------------------------ curves
@dataclass(frozen=True, eq=False)
class Curve:
    """The law (or the compute-optimal frontier) along one path.

    ``x <= data_max`` is inside the data (drawn solid), beyond it is extrapolation (dashed). ``low`` and
    ``high`` bound the band at the view's level when a bootstrap was given, else they are None.
    """

    x: np.ndarray
    y: np.ndarray
    data_max: float
    kind: str  # "group", "law" or "frontier"
    group: int | None = None
    label: str = ""
    low: np.ndarray | None = None
    high: np.ndarray | None = None
    columns: Mapping[str, np.ndarray] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class FitView:
    """Everything a loss-versus-x figure of one fit shows.

    Attributes
    ----------
    result : FitResult
    x, y : str
        Axis columns (``y`` is the fitted column).
    frame : DataFrame
        Observations with ``run``, the inputs, ``flops`` when derivable, ``fitted`` and ``residual``.
    groups : list of Group
    group_title : str
        Legend or colour-bar title of the groups ("" when there is one group).
    numeric_groups : bool
        Groups are ordered values (sizes, ratios, budgets): colour them on a sequential scale.
    curves : list of Curve
        One per group with a path, then the headline curve (``law`` or ``frontier``) if any.
    level : float or None
        Band level (None without a bootstrap).
    pointwise : tuple of int
        Groups whose inputs lie on no single path along x (a law of three inputs, say): no curve, the
        fitted value is shown at each of their points instead.
    """

    result: FitResult
    x: str
    y: str
    frame: pd.DataFrame
    groups: list[Group]
    group_title: str
    numeric_groups: bool
    curves: list[Curve]
    level: float | None
    pointwise: tuple[int, ...] = ()

    @property
    def headline(self) -> Curve | None:
        return next((c for c in self.curves if c.kind in ("law", "frontier")), None)

    @property
    def data_max(self) -> float:
        return float(self.frame[self.x].max())


def _resolve_boot(result: FitResult, boot: Any):
    """A Bootstrap from ``boot``: a Bootstrap, a number of replicates to draw now, or None."""
    if boot is None:
        return None
    if isinstance(boot, (int, np.integer)) and not isinstance(boot, bool):
        return result.bootstrap(n=int(boot))
    if not hasattr(boot, "samples") or not hasattr(boot, "result"):
        raise DataError(f"boot must be a Bootstrap (result.bootstrap()) or a number of replicates, not {boot!r}")
    if boot.result.law.param_names != result.law.param_names:
        raise DataError("boot belongs to a fit of another law; pass result.bootstrap() of this fit")
    return boot


def _band(samples: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    a = (1.0 - level) / 2.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns far outside the data
        return np.nanquantile(samples, a, axis=0), np.nanquantile(samples, 1.0 - a, axis=0)


#: A group's curve is drawn only when its other inputs follow x to within this (log units, about 2%):
#: otherwise no single path through the group exists, and the fit is shown at each point instead.
PATH_TOLERANCE = 0.02


def _path_columns(
    frame: pd.DataFrame,
    rows: np.ndarray,
    law_inputs: Sequence[str],
    x: str,
    xs: np.ndarray,
    slopes: Mapping[str, float],
    nd: tuple[str, str] | None,
) -> dict[str, np.ndarray] | None:
    """Law inputs along ``xs`` for one group (each other input follows its log-linear trend in the group),
    or None when the group's inputs do not lie on such a path."""
    cols: dict[str, np.ndarray] = {}
    lx = np.log(frame[x].to_numpy()[rows])
    derived = nd if x == "flops" and "flops" not in law_inputs else None
    for name in law_inputs:
        if name == x:
            cols[name] = xs
            continue
        if derived is not None and name == derived[1]:
            continue  # D = C / 6N keeps the path on the compute axis exactly
        lv = np.log(frame[name].to_numpy()[rows])
        if len(np.unique(np.round(lx, 9))) >= 2:
            slope, icept = np.polyfit(lx, lv, 1)
            if np.max(np.abs(lv - (icept + slope * lx))) > PATH_TOLERANCE:
                return None
        else:  # one point: borrow the typical slope of the other groups (0 or 1 for the usual sweeps)
            slope = slopes.get(name, 0.0)
            icept = lv.mean() - slope * lx.mean()
        cols[name] = np.exp(icept + slope * np.log(xs))
    if derived is not None:
        cols[derived[1]] = xs / (FLOPS_PER_TOKEN * cols[derived[0]])
    return cols


def _typical_slopes(frame: pd.DataFrame, groups: list[Group], law_inputs: Sequence[str], x: str) -> dict[str, float]:
    slopes: dict[str, list[float]] = {}
    for g in groups:
        lx = np.log(frame[x].to_numpy()[g.rows])
        if len(np.unique(np.round(lx, 9))) < 2:
            continue
        for name in law_inputs:
            if name != x:
                slopes.setdefault(name, []).append(np.polyfit(lx, np.log(frame[name].to_numpy()[g.rows]), 1)[0])
    return {k: float(np.median(v)) for k, v in slopes.items()}


def _logspace(lo: float, hi: float, n: int) -> np.ndarray:
    return np.logspace(math.log10(lo), math.log10(hi), n)


def fit_view(
    result: FitResult,
    x: str | None = None,
    group: str | Sequence[Any] | np.ndarray | None = None,
    extrapolate: float = 10.0,
    boot: Any = None,
    level: float | None = 0.9,
    n_points: int = 80,
) -> FitView:
    """Data groups, fitted curves and bands of ``result`` against ``x`` (see the module docstring).

    Parameters
    ----------
    result : FitResult
        A fit that carries its data.
    x : str, optional
        Axis column: an input of the law, or ``"flops"`` (6ND for laws of N and D). Default: compute.
    group : str or array, optional
        Column of the fit's data (``"run"``, ``"params"``, ...) or one label per row; chosen
        automatically by default.
    extrapolate : float
        Curves continue to this multiple of the largest x they were fitted on (1: no extrapolation).
    boot : Bootstrap or int, optional
        Replicates for the bands (an int draws that many now). No band without it.
    level : float, optional
        Band level.
    """
    frame = data_frame(result)
    x = x or _default_x(result, frame)
    _check_x(result, frame, x)
    if extrapolate < 1:
        raise DataError(f"extrapolate is a factor >= 1 (1: no extrapolation), got {extrapolate}")
    if level is not None:
        check_level(level)
    law_inputs = result.law.inputs
    groups, title, numeric = _groups(frame, law_inputs, x, group)
    boot = _resolve_boot(result, boot) if level is not None else None
    if boot is None:
        level = None  # no band without replicates
    xv = frame[x].to_numpy()
    curves: list[Curve] = []
    pointwise: list[int] = []
    frontier_ok = x == "flops" and "flops" not in law_inputs and len(law_inputs) == 2
    single = len(law_inputs) == 1
    if single:
        lo, hi = float(xv.min()), float(xv.max())
        xs = _logspace(lo, hi * extrapolate, n_points)
        curves.append(_law_curve(result, {law_inputs[0]: xs}, xs, hi, "law", None, "fit", boot, level))
    else:
        slopes = _typical_slopes(frame, groups, law_inputs, x)
        for k, g in enumerate(groups):
            gx = xv[g.rows]
            lo, hi = float(gx.min()), float(gx.max())
            if frontier_ok:  # the frontier carries the extrapolation; groups stay on their data
                if hi <= lo:
                    continue
                xs = _logspace(lo, hi, n_points // 2)
            else:
                xs = _logspace(lo, hi * extrapolate, n_points)
            cols = _path_columns(frame, g.rows, law_inputs, x, xs, slopes, nd_inputs(result.law))
            if cols is None:
                pointwise.append(k)
                continue
            band_boot = None if frontier_ok else boot
            curves.append(_law_curve(result, cols, xs, hi, "group", k, g.label, band_boot, level))
        if frontier_ok:
            curves.append(_frontier_curve(result, float(xv.min()), float(xv.max()), extrapolate, n_points, boot, level))
    return FitView(result, x, result.y, frame, groups, title, numeric, curves, level, tuple(pointwise))


def _law_curve(result, cols, xs, data_max, kind, group, label, boot, level) -> Curve:
    with np.errstate(all="ignore"):
        y = result.law.predict(result.params, **cols)
    low = high = None
    if boot is not None and level is not None:
        with np.errstate(all="ignore"):
            reps = result.law.predict(boot.samples, **cols)
        low, high = _band(np.where(np.isfinite(reps), reps, np.nan), level)
    return Curve(xs, y, data_max, kind, group, label, low, high, cols)


def _frontier_curve(result, lo, hi, extrapolate, n_points, boot, level) -> Curve:
    budgets = _logspace(lo, hi * extrapolate, n_points)
    table = compute_optimal(result, budgets).table
    nd = nd_inputs(result.law)
    assert nd is not None
    cols = {nd[0]: table["params_opt"].to_numpy(), nd[1]: table["tokens_opt"].to_numpy()}
    low = high = None
    if boot is not None and level is not None:
        reps = np.column_stack([optimum(result.law, boot.samples, float(c))["loss"] for c in budgets])
        low, high = _band(np.where(np.isfinite(reps), reps, np.nan), level)
    return Curve(budgets, table["loss_opt"].to_numpy(), hi, "frontier", None, "compute-optimal", low, high, cols)


# ------------------------------------------------------------------------------------------------ frontier
def frontier_view(
    result: FitResult,
    flops_range: tuple[float, float] | None = None,
    extrapolate: float = 100.0,
    boot: Any = None,
    level: float | None = 0.9,
    n_points: int = 60,
) -> pd.DataFrame:
    """Compute-optimal N, D and loss along a range of budgets (:func:`scalelaw.decisions.plan.compute_optimal`).

    The range defaults to the data's compute up to ``extrapolate`` times its largest value. With a
    bootstrap (a Bootstrap, or an int: replicates drawn now) the table has ``*_low``/``*_high`` columns at
    level ``level``.
    """
    frame = data_frame(result)
    if nd_inputs(result.law) is None or len(result.law.inputs) != 2 or "flops" in result.law.inputs:
        raise DataError(
            f"law {result.law.name!r} reads {', '.join(result.law.inputs)}; a compute-optimal frontier needs a law "
            "of parameters and tokens only, such as chinchilla"
        )
    if flops_range is None:
        lo, hi = float(frame["flops"].min()), float(frame["flops"].max()) * extrapolate
    else:
        lo, hi = (float(v) for v in flops_range)
        if not (0 < lo < hi and math.isfinite(hi)):
            raise DataError(f"flops_range must be (low, high) with 0 < low < high, got {flops_range}")
    budgets = _logspace(lo, hi, n_points)
    table = compute_optimal(result, budgets).table
    if level is not None:
        check_level(level)
    boot = _resolve_boot(result, boot) if level is not None else None
    if boot is not None:
        opt = [optimum(result.law, boot.samples, float(c)) for c in budgets]
        for key, col in (("params", "params_opt"), ("tokens", "tokens_opt"), ("loss", "loss_opt")):
            reps = np.column_stack([o[key] for o in opt])
            low, high = _band(np.where(np.isfinite(reps), reps, np.nan), level)
            table[f"{col}_low"], table[f"{col}_high"] = low, high
    table.attrs["level"] = level if boot is not None else None
    table.attrs["data_max"] = float(frame["flops"].max())
    return table


# ------------------------------------------------------------------------------------------------ isoflop
@dataclass(frozen=True, eq=False)
class IsoflopView:
    """Points of each compute budget, the parabola in log x fitted to each, and the minima.

    ``minima`` has columns ``flops``, ``x`` (the argmin), ``y`` (the minimum) and ``source``
    (``"parabola"`` or ``"given"``); ``parabolas`` maps a budget to ``(xs, ys)``.
    """

    frame: pd.DataFrame
    x: str
    y: str
    budgets: np.ndarray
    key: np.ndarray
    parabolas: dict[float, tuple[np.ndarray, np.ndarray]]
    minima: pd.DataFrame


def isoflop_view(
    runs: Any, x: str = "params", y: str = "loss", minima: pd.DataFrame | None = None, n_points: int = 60
) -> IsoflopView:
    """Group runs by compute budget and fit ``y = a (log10 x)^2 + b log10 x + c`` to each (numpy.polyfit).

    Budgets with fewer than 3 distinct sizes, or whose parabola opens downwards, get no minimum. With
    ``minima`` (columns ``flops``, ``params``/``params_opt`` and ``loss``/``loss_opt``) those are shown
    instead and no parabola is fitted.
    """
    runs = load_runs(runs)
    runs.require(["flops", x, y], positive=["flops", x], why="an IsoFLOP plot needs compute, size and loss")
    frame = runs.table[[c for c in ("run", "flops", x, y) if c in runs.table.columns]].copy()
    key = _log_key(frame["flops"].to_numpy(dtype=float), 3)
    uniq = np.unique(key)
    if len(uniq) > 40:
        raise DataError(
            f"{runs.source} has {len(uniq)} distinct compute budgets; an IsoFLOP plot needs runs that share a few "
            "budgets (e.g. dataset:porian2024)"
        )
    budgets = np.array([float(np.median(frame["flops"].to_numpy()[key == k])) for k in uniq])
    parabolas: dict[float, tuple[np.ndarray, np.ndarray]] = {}
    rows = []
    if minima is None:
        for k, budget in zip(uniq, budgets, strict=True):
            sel = key == k
            lx = np.log10(frame[x].to_numpy(dtype=float)[sel])
            ly = frame[y].to_numpy(dtype=float)[sel]
            if len(np.unique(lx)) < 3:
                continue
            a, b, c = np.polyfit(lx, ly, 2)
            pad = 0.1 * (lx.max() - lx.min())
            grid = np.linspace(lx.min() - pad, lx.max() + pad, n_points)
            parabolas[float(budget)] = (10**grid, np.polyval([a, b, c], grid))
            if a > 0:
                x_opt = -b / (2 * a)
                rows.append({"flops": float(budget), "x": 10**x_opt, "y": float(np.polyval([a, b, c], x_opt))})
        table = pd.DataFrame(rows, columns=["flops", "x", "y"])
        table["source"] = "parabola"
    else:
        table = _given_minima(minima, x, y)
    return IsoflopView(frame, x, y, budgets, key, parabolas, table)


def _given_minima(minima: pd.DataFrame, x: str, y: str) -> pd.DataFrame:
    def pick(*names: str) -> str:
        found = next((n for n in names if n in minima.columns), None)
        if found is None:
            raise DataError(f"minima needs one of the columns {', '.join(names)}; it has {', '.join(minima.columns)}")
        return found

    return pd.DataFrame(
        {
            "flops": minima[pick("flops")].to_numpy(dtype=float),
            "x": minima[pick(f"{x}_opt", x)].to_numpy(dtype=float),
            "y": minima[pick(f"{y}_opt", y)].to_numpy(dtype=float),
            "source": "given",
        }
    )


# ------------------------------------------------------------------------------------------------ backtest
def results_by_label(results: FitResult | Mapping[str, FitResult] | Sequence[FitResult]) -> dict[str, FitResult]:
    """Fits keyed by a label: a mapping as given, else the law names (``kaplan#2`` for repeats)."""
    if isinstance(results, FitResult):
        return {results.law.name: results}
    if isinstance(results, Mapping):
        out = dict(results)
    else:
        out = {}
        for r in results:
            name, k = r.law.name, 1
            while (name if k == 1 else f"{name}#{k}") in out:
                k += 1
            out[name if k == 1 else f"{name}#{k}"] = r
    if not out:
        raise DataError("no fits given; pass a FitResult, a list of them or a dict label -> FitResult")
    bad = [k for k, v in out.items() if not isinstance(v, FitResult)]
    if bad:
        raise DataError(f"not a FitResult: {', '.join(map(str, bad))}")
    return out


def backtest_view(split: Any, results: FitResult | Mapping[str, FitResult] | Sequence[FitResult]) -> pd.DataFrame:
    """Observed and predicted ``y`` of every row of a :class:`scalelaw.trust.holdout.Split`, per fit.

    ``results`` are fits on ``split.train``. Columns: ``law``, ``run``, ``held_out``, the split column
    (``flops`` by default) when known, ``observed``, ``predicted``, ``rel_error``.
    """
    fits = results_by_label(results)
    parts = []
    for label, result in fits.items():
        for part, held_out in ((split.train, False), (split.test, True)):
            table = part.table
            with np.errstate(all="ignore"):
                predicted = predict_values(result, table)
            observed = part.array(result.y)
            frame = pd.DataFrame(
                {
                    "law": label,
                    "run": part.run_ids,
                    "held_out": held_out,
                    "observed": observed,
                    "predicted": predicted,
                    "rel_error": (predicted - observed) / observed,
                }
            )
            if split.column and split.column in table.columns:
                frame.insert(3, split.column, part.array(split.column))
            parts.append(frame)
    return pd.concat(parts, ignore_index=True)


#: A histogram's range reaches this many interquartile ranges beyond the quartiles (never beyond the values): a
#: normal sample's tail to 4.7 sd stays in, replicates far beyond the bulk do not, however few or many they are.
HISTOGRAM_IQRS = 3.0
#: A positive parameter whose replicates span more than this factor is binned on a log scale (by default; the
#: report bins every amplitude, a parameter with a log transform, on a log scale once it spans a factor 2).
LOG_SPAN = 10.0


@dataclass(frozen=True)
class Histogram:
    """Counts of values in bins over a robust range.

    Attributes
    ----------
    edges : ndarray
        ``bins + 1`` bin edges, equally spaced in log when ``log``.
    counts : ndarray of int
        Values in each bin.
    log : bool
        Bins (and the axis they are drawn on) are logarithmic.
    below, above : int
        Finite values left of the first edge and right of the last one: far-out replicates that would
        otherwise squeeze the others into one bar.
    """

    edges: np.ndarray
    counts: np.ndarray
    log: bool
    below: int
    above: int

    @property
    def outside(self) -> int:
        """Values beyond the range, on either side."""
        return self.below + self.above


def histogram(
    values: np.ndarray,
    *,
    log: bool | None = None,
    bins: int = 30,
    include: Sequence[float] = (),
) -> Histogram:
    """A histogram over the robust range of ``values``: the quartiles widened by ``HISTOGRAM_IQRS``
    interquartile ranges on each side (never beyond the values), stretched to cover ``include`` (the estimate,
    an interval's ends). Values beyond it are counted in ``below`` and ``above``.

    Parameters
    ----------
    values : array
        The values (non-finite ones are ignored).
    log : bool, optional
        Bin in log space (values <= 0 are then ignored); by default when every value is positive and they span
        more than ``LOG_SPAN``.
    bins : int
        Number of bins.
    include : sequence of float
        Values the range must contain.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> skewed = np.concatenate([rng.lognormal(np.log(400), 0.2, 497), [4e5, 8e5, 1e6]])
    >>> h = histogram(skewed)
    >>> h.log, h.above, int((h.counts > 0).sum()) > 10  # the 3 far-out replicates lie beyond the range
    (True, 3, True)
    """
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    keep = np.asarray([x for x in include if np.isfinite(x)], dtype=np.float64)
    if log is None:
        log = bool(v.size and v.min() > 0 and v.max() / v.min() > LOG_SPAN)
    if log:
        v, keep = np.log(v[v > 0]), np.log(keep[keep > 0])
    if v.size == 0:
        return Histogram(np.array([0.0, 1.0]), np.zeros(1, dtype=int), False, 0, 0)
    q1, q3 = (float(q) for q in np.quantile(v, [0.25, 0.75]))
    pad = HISTOGRAM_IQRS * (q3 - q1)
    lo, hi = max(q1 - pad, float(v.min())), min(q3 + pad, float(v.max()))
    lo, hi = min(lo, *keep, float("inf")), max(hi, *keep, float("-inf"))
    if hi <= lo:  # all replicates equal: one bin around them
        half = abs(lo) * 1e-6 or 1e-6
        lo, hi = lo - half, hi + half
    edges = np.linspace(lo, hi, bins + 1)
    counts, _ = np.histogram(v, edges)
    below, above = int((v < lo).sum()), int((v > hi).sum())
    return Histogram(np.exp(edges) if log else edges, counts, log, below, above)


#: An amplitude's replicates are binned on a log scale once they span more than this factor.
AMPLITUDE_LOG_SPAN = 2.0


def log_bins(law: Any, index: int, values: np.ndarray) -> bool | None:
    """Whether to bin parameter ``index`` of ``law`` on a log scale: yes for an amplitude (a parameter the
    optimizer moves in log) whose positive replicates span more than ``AMPLITUDE_LOG_SPAN``; otherwise None,
    which leaves :func:`histogram` its default."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if law.parameters[index].transform == "log" and v.size and v.min() > 0 and v.max() / v.min() > AMPLITUDE_LOG_SPAN:
        return True
    return None
