"""Publication figures with matplotlib, imported lazily (``import scalelaw`` does not load matplotlib).

Every function returns a :class:`matplotlib.figure.Figure`. Figures are built directly (not through
``pyplot``), so nothing here changes the global backend, opens a window or keeps figures alive:
``fig.savefig("loss.pdf")`` renders with Agg/PDF, and in Jupyter the returned figure displays itself.
Pass ``ax=`` to draw into an axes of your own figure instead.

Defaults are for a paper: one column wide (3.5 in), 7-8 pt text, the Okabe-Ito colour-blind-safe
palette for categories, viridis (truncated before its pale yellow end) for ordered groups such as model
sizes, solid lines inside the data and dashed lines where a curve extrapolates, bands at the requested
bootstrap level.

>>> import scalelaw, warnings
>>> warnings.simplefilter("ignore")
>>> fit = scalelaw.fit("chinchilla", "dataset:gadre2024_rpj")
>>> fig = fit_plot(fit, x="flops")
>>> fig.axes[0].get_xlabel()
'training compute C (FLOPs)'
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from functools import wraps
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from scalelaw._validation import check_level
from scalelaw.decisions.axis import shared_axis
from scalelaw.decisions.plan import frontier
from scalelaw.errors import DataError
from scalelaw.fitting.result import FitResult
from scalelaw.views import figures

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "COLUMN_WIDTH",
    "OKABE_ITO",
    "backtest_plot",
    "bootstrap_plot",
    "compare_plot",
    "corner_plot",
    "correlation_plot",
    "fit_plot",
    "frontier_plot",
    "isoflop_plot",
    "residuals_plot",
]

#: Colour-blind-safe palette for categories (see :data:`scalelaw.views.figures.OKABE_ITO`).
OKABE_ITO = figures.OKABE_ITO
#: Width of one column of a two-column paper, inches.
COLUMN_WIDTH = 3.5
_HEIGHT = 2.6
_DPI = 200
_BAND_ALPHA = 0.2
_GREY = "#7f7f7f"
_RC = {
    "font.size": 8,
    "axes.labelsize": 8,
    "axes.titlesize": 8,
    "legend.fontsize": 6.5,
    "legend.title_fontsize": 6.5,
    "legend.frameon": False,
    "legend.handlelength": 1.8,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "xtick.major.size": 3.0,
    "ytick.major.size": 3.0,
    "xtick.minor.size": 1.8,
    "ytick.minor.size": 1.8,
    "xtick.major.width": 0.6,
    "ytick.major.width": 0.6,
    "xtick.minor.width": 0.4,
    "ytick.minor.width": 0.4,
    "axes.linewidth": 0.6,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "lines.linewidth": 1.2,
    "lines.markersize": 3.5,
    "pdf.fonttype": 42,  # editable text in PDF/PS
    "ps.fonttype": 42,
    "svg.fonttype": "none",
    "mathtext.default": "regular",
}
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<")


def _styled(func):
    """Run a plotting function with the paper style (rcParams restored afterwards)."""

    @wraps(func)
    def wrapper(*args, **kwargs):
        import matplotlib

        with matplotlib.rc_context(_RC):
            fig = func(*args, **kwargs)
            for ax in fig.axes:
                # Ticks are created lazily at draw time, after this context ends: create them now, in style.
                for axis in (ax.xaxis, ax.yaxis):
                    axis.get_major_ticks()
                    axis.get_minor_ticks()
        return fig

    return wrapper


def _figure(ax: Axes | None, size: tuple[float, float] | None = None, **subplots: Any) -> tuple[Figure, Any]:
    """A new constrained-layout figure (not registered with pyplot) or the given axes' figure."""
    if ax is not None:
        return ax.figure, ax
    from matplotlib.figure import Figure

    fig = Figure(figsize=size or (COLUMN_WIDTH, _HEIGHT), dpi=_DPI, layout="constrained")
    return fig, fig.subplots(**subplots) if subplots else fig.add_subplot()


def _sequential_cmap():
    from matplotlib import colormaps
    from matplotlib.colors import ListedColormap

    return ListedColormap(colormaps["viridis"](np.linspace(0.0, 0.85, 256)), name="viridis_dark")


def _group_colors(view_groups: Sequence[figures.Group], numeric: bool):
    """Colour per group and, for ordered groups, the (norm, cmap) of a colour bar."""
    from matplotlib.colors import LogNorm, Normalize

    if numeric and len(view_groups) > 1:
        values = np.array([g.value for g in view_groups])
        cmap = _sequential_cmap()
        positive = np.all(values > 0)
        lo, hi = values.min(), values.max()
        norm = LogNorm(lo, hi) if positive else Normalize(lo, hi)
        return [cmap(norm(v)) for v in values], (norm, cmap)
    if len(view_groups) == 1:
        return [OKABE_ITO[0]], None
    if len(view_groups) <= len(OKABE_ITO):
        return [OKABE_ITO[k] for k in range(len(view_groups))], None
    cmap = _sequential_cmap()  # many runs: order them by size instead of cycling colours
    return [cmap(t) for t in np.linspace(0, 1, len(view_groups))], None


def _colorbar(fig: Figure, ax: Axes, scale, label: str) -> None:
    from matplotlib.cm import ScalarMappable

    norm, cmap = scale
    bar = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, pad=0.02, aspect=30)
    bar.set_label(label, fontsize=_RC["axes.labelsize"] - 1)
    bar.ax.tick_params(labelsize=_RC["xtick.labelsize"] - 1, width=0.5, length=2)
    bar.ax.tick_params(which="minor", length=1.2, width=0.4)
    bar.outline.set_linewidth(0.5)


def _log_y(ax: Axes, values: np.ndarray) -> None:
    """Log y axis whose labels read as plain numbers (2, 3, 4 ...) when the range is under two decades."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values) & (values > 0)]
    ax.set_yscale("log")
    ratio = values.max() / values.min() if values.size else math.inf
    if ratio < 100:
        if ratio < 2:
            subs: tuple[float, ...] = (1.0, 1.2, 1.4, 1.6, 1.8, 2.0, 2.5, 3.0, 3.5, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0)
        elif ratio < 10:
            subs = (1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0)
        else:
            subs = (1.0, 2.0, 5.0)
        ax.yaxis.set_major_locator(LogLocator(base=10, subs=subs))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_locator(LogLocator(base=10, subs=np.arange(1.0, 10.0, 0.5)))
        ax.yaxis.set_minor_formatter(NullFormatter())


def _draw_curve(ax: Axes, curve: figures.Curve, color, lw: float = 1.1, zorder: float = 2) -> None:
    """Solid inside the data, dashed beyond it, with the band if the curve has one."""
    inside = curve.x <= curve.data_max * (1 + 1e-9)
    if curve.low is not None and curve.high is not None:
        ok = np.isfinite(curve.low) & np.isfinite(curve.high)
        ax.fill_between(curve.x[ok], curve.low[ok], curve.high[ok], color=color, alpha=_BAND_ALPHA, lw=0, zorder=1)
    ax.plot(curve.x[inside], curve.y[inside], color=color, lw=lw, zorder=zorder, solid_capstyle="butt")
    if (~inside).any():
        start = max(int(np.argmax(~inside)) - 1, 0)
        ax.plot(curve.x[start:], curve.y[start:], color=color, lw=lw, ls=(0, (3.5, 2)), zorder=zorder)


def _legend_handles(view: figures.FitView, colors, has_band: bool):
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles = []
    if view.group_title and not view.numeric_groups and len(view.groups) <= len(OKABE_ITO):
        handles += [
            Line2D([], [], color=c, marker="o", ms=3.5, ls="-", lw=0.8, label=g.label)
            for g, c in zip(view.groups, colors, strict=True)
        ]
    else:
        handles.append(Line2D([], [], color=_GREY, marker="o", ms=3.5, ls="none", label="runs"))
        if len(view.pointwise) < len(view.groups):
            handles.append(Line2D([], [], color=_GREY, lw=1.1, label="fit"))
    if view.pointwise:
        handles.append(Line2D([], [], color=_GREY, marker="_", ms=5, mew=1.0, ls="none", label="fit at each run"))
    headline = view.headline
    if headline is not None and headline.kind == "frontier":
        handles.append(Line2D([], [], color="black", lw=1.4, label="compute-optimal"))
    if any((c.x > c.data_max * (1 + 1e-9)).any() for c in view.curves):
        handles.append(Line2D([], [], color=_GREY, lw=1.1, ls=(0, (3.5, 2)), label="extrapolation"))
    if has_band and view.level is not None:
        handles.append(Patch(color=_GREY, alpha=0.35, lw=0, label=f"{view.level:.0%} interval"))
    return handles


@_styled
def fit_plot(
    result: FitResult,
    x: str | None = None,
    level: float | None = 0.9,
    extrapolate: float = 10.0,
    boot: Any = None,
    group: str | Sequence[Any] | np.ndarray | None = None,
    ax: Axes | None = None,
    legend: bool = True,
) -> Figure:
    """Loss against compute, parameters or tokens: the data, the fitted law and its extrapolation.

    Parameters
    ----------
    result : FitResult
        A fit that carries its data.
    x : str, optional
        ``"flops"`` (default when computable: 6ND for laws of N and D), ``"params"``, ``"tokens"`` or any
        input of the law.
    level : float, optional
        Level of the bands (only drawn with ``boot``).
    extrapolate : float
        Curves continue to this multiple of the largest x they were fitted on, dashed.
    boot : Bootstrap or int, optional
        ``result.bootstrap(...)``, or a number of replicates to draw now. No bands without it.
    group : str or array, optional
        Colour the data by this column of the fit's data (``"run"``, ``"params"``) or by one label per row.
        By default a law of N and D is drawn per model size (against C or D) or per tokens-per-parameter
        ratio (against N), and checkpoints of a one-input law are coloured by run.
    ax : matplotlib Axes, optional
        Draw here instead of a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        Against compute, a law of N and D also shows the compute-optimal frontier in black.
    """
    view = figures.fit_view(result, x=x, group=group, extrapolate=extrapolate, boot=boot, level=level)
    fig, ax = _figure(ax)
    colors, scale = _group_colors(view.groups, view.numeric_groups)
    xv, yv = view.frame[view.x].to_numpy(), view.frame[view.y].to_numpy()
    join = view.group_title == "run"
    for g, color in zip(view.groups, colors, strict=True):
        order = g.rows[np.argsort(xv[g.rows])]
        if join and len(order) > 1:
            ax.plot(xv[order], yv[order], color=color, lw=0.6, alpha=0.6, zorder=2)
        ax.scatter(xv[order], yv[order], s=14, color=color, edgecolors="white", linewidths=0.4, zorder=3)
    fitted = view.frame["fitted"].to_numpy()
    for k in view.pointwise:  # no single path through these groups: the fit at each point instead
        rows = view.groups[k].rows
        ax.scatter(xv[rows], fitted[rows], s=16, marker="_", color=colors[k], lw=1.0, zorder=4)
    for curve in view.curves:
        if curve.kind == "group":
            _draw_curve(ax, curve, colors[curve.group], lw=0.9)
        else:
            color = "black" if curve.kind == "frontier" or len(view.groups) > 1 else OKABE_ITO[0]
            _draw_curve(ax, curve, color, lw=1.4, zorder=4)
    ax.axvline(view.data_max, color=_GREY, lw=0.5, ls=":", zorder=0)
    ax.set_xscale("log")
    shown = [yv] + [c.y for c in view.curves]
    _log_y(ax, np.concatenate(shown))
    ax.set_xlabel(figures.axis_label(view.x))
    ax.set_ylabel(figures.axis_label(view.y))
    if scale is not None:
        _colorbar(fig, ax, scale, view.group_title)
    if legend:
        has_band = any(c.low is not None for c in view.curves)
        ax.legend(handles=_legend_handles(view, colors, has_band), loc="upper right")
    return fig


@_styled
def residuals_plot(
    result: FitResult,
    x: str | None = None,
    group: str | Sequence[Any] | np.ndarray | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Log residuals ``ln(observed / fitted)`` in percent against ``x``, coloured like :func:`fit_plot`.

    The grey band is ± the fit's robust residual scale (the noise level of the data around the law).
    """
    view = figures.fit_view(result, x=x, group=group, extrapolate=1.0, level=None)
    fig, ax = _figure(ax, (COLUMN_WIDTH, 2.0))
    colors, scale = _group_colors(view.groups, view.numeric_groups)
    xv = view.frame[view.x].to_numpy()
    res = 100.0 * view.frame["residual"].to_numpy()
    scale_pct = 100.0 * result.residual_scale
    if math.isfinite(scale_pct):
        ax.axhspan(-scale_pct, scale_pct, color=_GREY, alpha=0.15, lw=0, zorder=0)
    ax.axhline(0.0, color="black", lw=0.6, zorder=1)
    for g, color in zip(view.groups, colors, strict=True):
        ax.scatter(xv[g.rows], res[g.rows], s=14, color=color, edgecolors="white", linewidths=0.4, zorder=3)
    ax.set_xscale("log")
    ax.set_xlabel(figures.axis_label(view.x))
    symbol = figures.symbol(view.y)
    ax.set_ylabel(f"residual ln({symbol}/{symbol}̂) (%)")
    lim = max(np.nanmax(np.abs(res)) if res.size else 1.0, scale_pct if math.isfinite(scale_pct) else 0.0) * 1.15
    ax.set_ylim(-lim, lim)
    if scale is not None:
        _colorbar(fig, ax, scale, view.group_title)
    return fig


@_styled
def isoflop_plot(
    runs: Any,
    minima: pd.DataFrame | None = None,
    x: str = "params",
    y: str = "loss",
    ax: Axes | None = None,
) -> Figure:
    """IsoFLOP curves: loss against model size at each compute budget, with each budget's minimum.

    Parameters
    ----------
    runs : Runs, DataFrame, path or ``"dataset:NAME"``
        Runs with ``flops``, ``params`` and ``loss`` that share a few compute budgets.
    minima : DataFrame, optional
        Minima to mark (columns ``flops``, ``params``/``params_opt``, ``loss``/``loss_opt``). Without it a
        parabola in log N is fitted to each budget's points (numpy.polyfit) and its minimum is marked.
    """
    view = figures.isoflop_view(runs, x=x, y=y, minima=minima)
    fig, ax = _figure(ax)
    from matplotlib.colors import LogNorm
    from matplotlib.lines import Line2D

    cmap = _sequential_cmap()
    norm = LogNorm(view.budgets.min(), view.budgets.max()) if len(view.budgets) > 1 else None
    xv, yv = view.frame[x].to_numpy(dtype=float), view.frame[y].to_numpy(dtype=float)
    for k, budget in zip(np.unique(view.key), view.budgets, strict=True):
        color = cmap(norm(budget)) if norm is not None else OKABE_ITO[0]
        sel = view.key == k
        order = np.argsort(xv[sel])
        ax.scatter(xv[sel], yv[sel], s=10, color=color, edgecolors="white", linewidths=0.3, zorder=3)
        if float(budget) in view.parabolas:
            px, py = view.parabolas[float(budget)]
            ax.plot(px, py, color=color, lw=0.9, zorder=2)
        elif minima is not None:
            ax.plot(xv[sel][order], yv[sel][order], color=color, lw=0.6, alpha=0.7, zorder=2)
    best = view.minima.sort_values("flops")
    if len(best):
        ax.plot(best["x"], best["y"], color="black", lw=0.6, ls=(0, (2, 1.5)), zorder=4)
        ax.scatter(best["x"], best["y"], marker="*", s=36, color="black", edgecolors="white", lw=0.3, zorder=5)
    ax.set_xscale("log")
    _log_y(ax, yv)
    ax.set_xlabel(figures.axis_label(x))
    ax.set_ylabel(figures.axis_label(y))
    if norm is not None:
        _colorbar(fig, ax, (norm, cmap), "compute budget C (FLOPs)")
    what = "parabola minimum" if minima is None else "given minimum"
    star = Line2D([], [], color="black", marker="*", ms=6, ls=(0, (2, 1.5)), lw=0.6, label=what)
    ax.legend(handles=[star], loc="upper right")
    return fig


@_styled
def frontier_plot(
    result: FitResult,
    flops_range: tuple[float, float] | None = None,
    level: float | None = 0.9,
    boot: Any = None,
    ax: Axes | None = None,
) -> Figure:
    """Compute-optimal model size N* and data D* against the compute budget, with the runs' own allocations.

    Uses :func:`scalelaw.decisions.plan.compute_optimal`. The range defaults to the data's compute up to 100 times
    its largest budget; bands need ``boot`` (a Bootstrap or a number of replicates to draw now). The
    legend gives the fitted exponents ``N* ∝ C^a`` and ``D* ∝ C^b`` over the range.
    """
    table = figures.frontier_view(result, flops_range=flops_range, boot=boot, level=level)
    frame = figures.data_frame(result)
    nd = figures.nd_inputs(result.law)
    assert nd is not None
    fig, ax = _figure(ax)
    from matplotlib.lines import Line2D

    c = table["flops"].to_numpy()
    handles = []
    for column, data_col, color, marker, name in (
        ("params_opt", nd[0], OKABE_ITO[0], "o", "N"),
        ("tokens_opt", nd[1], OKABE_ITO[1], "s", "D"),
    ):
        band = (
            (table[f"{column}_low"].to_numpy(), table[f"{column}_high"].to_numpy())
            if f"{column}_low" in table
            else None
        )
        curve = figures.Curve(
            c,
            table[column].to_numpy(),
            table.attrs["data_max"],
            "frontier",
            low=band and band[0],
            high=band and band[1],
        )
        _draw_curve(ax, curve, color, lw=1.4, zorder=4)
        ax.scatter(
            frame["flops"], frame[data_col], s=10, marker=marker, facecolors="none", edgecolors=color, lw=0.6, zorder=3
        )
        slope = np.polyfit(np.log(c), np.log(table[column].to_numpy()), 1)[0]
        handles.append(Line2D([], [], color=color, lw=1.4, label=f"${name}^* \\propto C^{{{slope:.2f}}}$"))
        handles.append(Line2D([], [], color=color, marker=marker, mfc="none", ls="none", ms=3.5, label=f"runs' {name}"))
    ax.axvline(table.attrs["data_max"], color=_GREY, lw=0.5, ls=":", zorder=0)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(figures.axis_label("flops"))
    ax.set_ylabel("parameters N, tokens D")
    if table.attrs.get("level") is not None:
        from matplotlib.patches import Patch

        handles.append(Patch(color=_GREY, alpha=0.35, lw=0, label=f"{table.attrs['level']:.0%} interval"))
    ax.legend(handles=handles, loc="upper left", ncols=2, columnspacing=0.8)
    return fig


@_styled
def backtest_plot(
    backtest: Any,
    results: FitResult | Mapping[str, FitResult] | Sequence[FitResult] | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Backtest figure: predicted against observed loss, or held-out errors per law.

    Parameters
    ----------
    backtest : Split or DataFrame
        A :class:`scalelaw.trust.holdout.Split` together with ``results`` (fits on ``split.train``): the
        held-out runs' predicted against observed values (filled), the training runs' (hollow) and
        the identity line. Or the table of :func:`scalelaw.trust.backtest.backtest`: mean (bar) and largest
        (tick) held-out relative error of each law; a :func:`~scalelaw.trust.backtest.rolling_backtest` table
        gives the mean error against the extrapolation distance, one line per law.
    results : FitResult, list or dict of them
        Needed with a Split.
    """
    if isinstance(backtest, pd.DataFrame):
        return _backtest_table_plot(backtest, ax)
    if results is None:
        raise DataError("backtest_plot(split, results): pass the fits on split.train (or pass a backtest table)")
    view = figures.backtest_view(backtest, results)
    fig, ax = _figure(ax, (COLUMN_WIDTH, COLUMN_WIDTH * 0.85))
    from matplotlib.lines import Line2D

    handles = []
    for k, (label, part) in enumerate(view.groupby("law", sort=False)):
        color, marker = OKABE_ITO[k % len(OKABE_ITO)], _MARKERS[k % len(_MARKERS)]
        train, test = part[~part["held_out"]], part[part["held_out"]]
        ax.scatter(
            train["observed"],
            train["predicted"],
            s=10,
            marker=marker,
            facecolors="none",
            edgecolors=color,
            lw=0.5,
            alpha=0.6,
            zorder=2,
        )
        ax.scatter(
            test["observed"], test["predicted"], s=18, marker=marker, color=color, edgecolors="white", lw=0.4, zorder=3
        )
        err = float(np.mean(np.abs(test["rel_error"])))
        handles.append(
            Line2D([], [], color=color, marker=marker, ls="none", ms=4, label=f"{label}: held out, {err:.1%} mean err.")
        )
    handles.append(Line2D([], [], color=_GREY, marker="o", mfc="none", ls="none", ms=3.5, label="training runs"))
    lo = float(np.nanmin(view[["observed", "predicted"]].to_numpy()))
    hi = float(np.nanmax(view[["observed", "predicted"]].to_numpy()))
    pad = 0.03 * (hi - lo)
    ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="black", lw=0.6, zorder=1)
    ax.set_xlim(lo - pad, hi + pad)
    ax.set_ylim(lo - pad, hi + pad)
    ax.set_aspect("equal", adjustable="box")
    y = next(iter(figures.results_by_label(results).values())).y
    ax.set_xlabel(f"observed {figures.axis_label(y)}")
    ax.set_ylabel(f"predicted {figures.axis_label(y)}")
    ax.legend(handles=handles, loc="upper left")
    return fig


def _backtest_table_plot(table: pd.DataFrame, ax: Axes | None) -> Figure:
    needed = {"law", "mean_abs_rel_error", "max_abs_rel_error"}
    if not needed <= set(table.columns):
        raise DataError(
            f"a backtest table needs columns {', '.join(sorted(needed))} (scalelaw.trust.backtest.backtest)"
        )
    if "fraction" in table.columns and table["fraction"].nunique() > 1:
        fig, ax = _figure(ax)
        for k, (label, part) in enumerate(table.groupby("law", sort=False)):
            part = part.sort_values("extrapolation_decades")
            ax.plot(
                part["extrapolation_decades"],
                100 * part["mean_abs_rel_error"],
                marker=_MARKERS[k % 8],
                ms=3.5,
                color=OKABE_ITO[k % len(OKABE_ITO)],
                label=label,
            )
        ax.set_xlabel("extrapolation (decades beyond the largest training run)")
        ax.set_ylabel("held-out mean |rel. error| (%)")
        ax.set_ylim(bottom=0)
        ax.legend(loc="upper left")
        return fig
    fig, ax = _figure(ax, (COLUMN_WIDTH, 0.5 + 0.28 * len(table)))
    positions = np.arange(len(table))[::-1]
    mean, worst = 100 * table["mean_abs_rel_error"].to_numpy(float), 100 * table["max_abs_rel_error"].to_numpy(float)
    colors = [OKABE_ITO[k % len(OKABE_ITO)] for k in range(len(table))]
    ax.barh(positions, np.where(np.isfinite(mean), mean, 0.0), color=colors, height=0.6, label="mean")
    ax.scatter(
        np.where(np.isfinite(worst), worst, np.nan),
        positions,
        marker="|",
        s=80,
        color="black",
        lw=1.2,
        label="largest",
        zorder=3,
    )
    ax.set_yticks(positions, table["law"].astype(str).tolist())
    ax.set_xlabel("held-out |predicted − observed| / observed (%)")
    ax.set_xlim(left=0)
    ax.spines["left"].set_visible(False)
    ax.tick_params(axis="y", length=0)
    ax.legend(loc="lower right")
    return fig


@_styled
def compare_plot(
    results: Mapping[str, FitResult] | Sequence[FitResult],
    extrapolate: float = 10.0,
    ax: Axes | None = None,
) -> Figure:
    """Several laws fitted to the same data: best loss against compute, or any axis they share (top), and
    residuals (bottom).

    The top panel shows, for each law, the lowest loss it predicts at each budget (the law itself for a
    law of one input, the compute-optimal frontier for a law of N and D), continued ``extrapolate`` times
    past the data; the data are grey. The axis is :func:`scalelaw.decisions.axis.shared_axis` of the fits
    (compute, or e.g. ``hours`` for laws of hours), and labels the plot. ``ax`` may be a pair of axes (top, bottom).
    """
    fits = figures.results_by_label(results)
    axis = shared_axis(*fits.values())
    if ax is None:
        fig, axes = _figure(None, (COLUMN_WIDTH, 3.6), nrows=2, sharex=True, gridspec_kw={"height_ratios": [2.2, 1]})
    else:
        axes = ax
        fig = axes[0].figure
    top, bottom = axes
    first = figures.data_frame(next(iter(fits.values())))
    if axis not in first.columns:
        raise DataError(f"compare_plot needs the fits' data along their shared axis {axis!r}")
    c_data, y_data = first[axis].to_numpy(), first[next(iter(fits.values())).y].to_numpy()
    top.scatter(c_data, y_data, s=10, color="#b0b0b0", edgecolors="white", linewidths=0.3, zorder=2, label="runs")
    budgets = np.logspace(np.log10(c_data.min()), np.log10(c_data.max() * extrapolate), 60)
    shown = [y_data]
    bottom.axhline(0.0, color="black", lw=0.6)
    for k, (label, result) in enumerate(fits.items()):
        color, marker = OKABE_ITO[k % len(OKABE_ITO)], _MARKERS[k % len(_MARKERS)]
        frame = figures.data_frame(result)
        if axis in frame.columns:
            best = frontier(result, budgets)[0]
            _draw_curve(top, figures.Curve(budgets, best, float(c_data.max()), "frontier"), color, lw=1.2, zorder=3)
            top.plot([], [], color=color, lw=1.2, label=label)
            shown.append(best)
        else:
            top.plot([], [], color=color, lw=0, label=f"{label} (no curve: reads {', '.join(result.law.inputs)})")
        if axis in frame.columns:
            bottom.scatter(
                frame[axis],
                100 * frame["residual"],
                s=10,
                marker=marker,
                color=color,
                edgecolors="white",
                linewidths=0.3,
                zorder=3,
            )
    for a in axes:
        a.axvline(float(c_data.max()), color=_GREY, lw=0.5, ls=":", zorder=0)
    top.set_xscale("log")
    _log_y(top, np.concatenate(shown))
    top.set_ylabel(figures.axis_label(next(iter(fits.values())).y))
    top.legend(loc="upper right")
    bottom.set_xlabel(figures.axis_label(axis))
    bottom.set_ylabel("residual (%)")
    return fig


_GREEK = {"alpha": r"\alpha", "beta": r"\beta", "gamma": r"\gamma", "delta": r"\delta", "sigma": r"\sigma"}


def _param_label(name: str) -> str:
    """``$\\alpha$`` for ``alpha``, ``$\\alpha_N$`` for ``alpha_N``, else the name."""
    head, _, tail = name.partition("_")
    if head in _GREEK:
        return f"${_GREEK[head]}_{{{tail}}}$" if tail else f"${_GREEK[head]}$"
    return name


@_styled
def corner_plot(
    boot: Any,
    params: Sequence[str] | None = None,
    level: float = 0.9,
    bins: int = 30,
) -> Figure:
    """Corner plot of bootstrap replicates: each parameter's distribution and every pair's scatter.

    Diagonal: histogram with the point estimate (solid) and the ``level`` percentile interval (dashed),
    titled ``value [low, high]``, over a robust range (:func:`scalelaw.views.figures.histogram`; the title counts
    the replicates beyond it, and every panel shows the same ranges). Below it: the replicates of each pair
    (rasterized, so a PDF stays small).
    Parameters whose replicates span more than a decade are drawn on log axes.
    """
    check_level(level)
    samples, names = _boot_samples(boot, params)
    result = boot.result
    k = len(names)
    size = min(7.0, max(COLUMN_WIDTH, 1.25 * k + 0.4))
    fig, axes = _figure(None, (size, size), nrows=k, ncols=k, squeeze=False)
    fig.get_layout_engine().set(w_pad=0.02, h_pad=0.02, wspace=0.04, hspace=0.04)
    estimate = dict(result.params)
    a = (1 - level) / 2
    logs = [bool(np.all(s > 0) and s.max() / s.min() > 10) for s in samples.T]
    for i in range(k):
        for j in range(k):
            ax = axes[i, j]
            if j > i:
                ax.set_axis_off()
                continue
            xi, xj = samples[:, i], samples[:, j]
            if i == j:
                lo, hi = np.quantile(xi, [a, 1 - a])
                # A robust range: a few far-out refits are counted in the title, not drawn as a lone bar far away.
                h = figures.histogram(xi, log=logs[i], bins=bins, include=(estimate[names[i]], lo, hi))
                ax.stairs(h.counts, h.edges, fill=True, color=OKABE_ITO[0], alpha=0.35, lw=0)
                ax.stairs(h.counts, h.edges, color=OKABE_ITO[0], lw=0.7)
                ax.set_xlim(h.edges[0], h.edges[-1])
                ax.axvline(estimate[names[i]], color="black", lw=0.9)
                for v in (lo, hi):
                    ax.axvline(v, color="black", lw=0.6, ls=(0, (2, 1.5)))
                beyond = f" ({h.outside} beyond)" if h.outside else ""
                title = f"{_param_label(names[i])} = {estimate[names[i]]:.3g} [{lo:.3g}, {hi:.3g}]{beyond}"
                ax.set_title(title, fontsize=6.5)
                ax.set_yticks([])
                ax.spines["left"].set_visible(False)
                if logs[i]:
                    ax.set_xscale("log")
            else:
                ax.scatter(xj, xi, s=1.5, color=OKABE_ITO[0], alpha=0.35, lw=0, rasterized=True)
                ax.scatter([estimate[names[j]]], [estimate[names[i]]], marker="+", s=30, color="black", lw=0.9)
                if logs[j]:
                    ax.set_xscale("log")
                if logs[i]:
                    ax.set_yscale("log")
            if i == k - 1:
                ax.set_xlabel(_param_label(names[j]))
            else:
                ax.tick_params(labelbottom=False)
            if j == 0 and i > 0:
                ax.set_ylabel(_param_label(names[i]))
            elif i != j:
                ax.tick_params(labelleft=False)
            ax.tick_params(labelsize=6)
    for j in range(k):  # share x limits down each column
        lims = axes[j, j].get_xlim()
        for i in range(j + 1, k):
            axes[i, j].set_xlim(lims)
    for i in range(1, k):  # and the diagonal's (robust) range across each row
        for j in range(i):
            axes[i, j].set_ylim(axes[i, i].get_xlim())
    return fig


def _boot_samples(boot: Any, params: Sequence[str] | None) -> tuple[np.ndarray, list[str]]:
    if not hasattr(boot, "samples") or not hasattr(boot, "result"):
        raise DataError("corner_plot needs a Bootstrap: pass result.bootstrap(n=...)")
    all_names = list(boot.result.law.param_names)
    names = list(params) if params is not None else all_names
    unknown = [n for n in names if n not in all_names]
    if unknown:
        raise DataError(f"unknown parameter(s) {', '.join(unknown)}; the law has {', '.join(all_names)}")
    if boot.samples.shape[0] < 2:
        raise DataError("the bootstrap has fewer than 2 replicates to draw")
    return boot.samples[:, [all_names.index(n) for n in names]], names


@_styled
def correlation_plot(source: Any, ax: Axes | None = None) -> Figure:
    """Parameter correlation matrix: of bootstrap replicates (a Bootstrap) or the fit's local approximation
    (a FitResult). Values near ±1 mark parameters that trade off (the data cannot separate them)."""
    if isinstance(source, FitResult):
        names = list(source.law.param_names)
        corr = np.array(source.correlations, dtype=float)
        what = "local (Gauss-Newton) correlation"
    else:
        samples, names = _boot_samples(source, None)
        with np.errstate(all="ignore"):
            corr = np.corrcoef(samples, rowvar=False)
        what = f"bootstrap correlation (n={samples.shape[0]})"
    if corr.shape != (len(names), len(names)):
        raise DataError("this fit has no correlation matrix (it was saved without one)")
    k = len(names)
    fig, ax = _figure(ax, (COLUMN_WIDTH, COLUMN_WIDTH * 0.85))
    image = ax.imshow(corr, cmap="PuOr_r", vmin=-1, vmax=1)
    for i in range(k):
        for j in range(k):
            if np.isfinite(corr[i, j]):
                color = "white" if abs(corr[i, j]) > 0.6 else "black"
                ax.text(j, i, f"{corr[i, j]:+.2f}", ha="center", va="center", fontsize=6.5, color=color)
    labels = [_param_label(n) for n in names]
    ax.set_xticks(range(k), labels)
    ax.set_yticks(range(k), labels)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    bar = fig.colorbar(image, ax=ax, pad=0.03, aspect=25)
    bar.set_label(what, fontsize=7)
    bar.ax.tick_params(labelsize=6, width=0.5, length=2)
    bar.outline.set_linewidth(0.5)
    return fig


@_styled
def bootstrap_plot(boot: Any, level: float = 0.9, params: Sequence[str] | None = None, bins: int = 30) -> Figure:
    """One histogram per parameter of bootstrap replicates, with the estimate (solid) and the ``level`` interval
    (dashed), as the report draws them.

    Each histogram covers a robust range (:func:`scalelaw.views.figures.histogram`): a few far-out refits are
    counted in the axis label instead of squeezing the others into one bar, and an amplitude whose replicates
    span more than a decade is binned and drawn on a log axis.
    """
    check_level(level)
    samples, names = _boot_samples(boot, params)
    estimate = dict(boot.result.params)
    k = len(names)
    fig, axes = _figure(None, (min(7.0, 1.5 * k + 0.4), 1.7), ncols=k, squeeze=False)
    a = (1 - level) / 2
    for j, (name, ax) in enumerate(zip(names, axes[0], strict=True)):
        values = samples[:, j]
        lo, hi = np.nanquantile(values, [a, 1 - a])
        log = figures.log_bins(boot.result.law, boot.result.law.param_names.index(name), values)
        h = figures.histogram(values, log=log, bins=bins, include=(estimate[name], lo, hi))
        ax.stairs(h.counts, h.edges, fill=True, color=OKABE_ITO[0], alpha=0.55, lw=0)
        if h.log:
            ax.set_xscale("log")
        ax.axvline(estimate[name], color="black", lw=0.9)
        for v in (lo, hi):
            ax.axvline(v, color="black", lw=0.7, ls="--")
        beyond = f"\n{h.outside} beyond" if h.outside else ""
        ax.set_xlabel(f"{_param_label(name)}{beyond}")
        ax.set_title(f"{estimate[name]:.3g} [{lo:.3g}, {hi:.3g}]", fontsize=6.5)
        ax.set_yticks([])
        ax.spines["left"].set_visible(False)
    axes[0][0].set_ylabel("replicates")
    return fig
