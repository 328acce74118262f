"""Interactive plotly figures of the report, drawn from the same views as :mod:`scalelaw.views.plot`.

Every data point's hover text names its run and gives its inputs, observed and fitted values.
"""

from __future__ import annotations

import html
from typing import Any

import numpy as np
import pandas as pd

from scalelaw.views import figures
from scalelaw.views.figures import OKABE_ITO, Curve, FitView, format_si, symbol

GREY = "#7f7f7f"
BAND = "rgba(127,127,127,0.25)"
FONT = "-apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"
HEIGHT = 440


def _go():
    import plotly.graph_objects as go

    return go


def _layout(x_title: str, y_title: str, *, log_x: bool = True, log_y: bool = True, height: int = HEIGHT) -> dict:
    axis = {
        "showline": True,
        "linecolor": "#444",
        "ticks": "outside",
        "mirror": False,
        "zeroline": False,
        "showgrid": True,
        "gridcolor": "#eeeeee",
        "title": {"font": {"size": 13}},
    }
    return {
        "template": "simple_white",
        "height": height,
        "margin": {"l": 70, "r": 20, "t": 30, "b": 60},
        "font": {"family": FONT, "size": 12, "color": "#222"},
        "hovermode": "closest",
        "legend": {"font": {"size": 11}, "itemsizing": "constant"},
        "xaxis": {**axis, "type": "log" if log_x else "linear", "exponentformat": "power", "title": {"text": x_title}},
        "yaxis": {**axis, "type": "log" if log_y else "linear", "title": {"text": y_title}},
    }


def _rgba(color: str, alpha: float) -> str:
    if color.startswith("rgb("):
        return color.replace("rgb(", "rgba(").replace(")", f",{alpha})")
    c = color.lstrip("#")
    r, g, b = (int(c[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def group_colors(view: FitView) -> list[str]:
    """Sequential (viridis, without its pale end) for ordered groups, Okabe-Ito for categories."""
    n = len(view.groups)
    if view.numeric_groups and n > 1:
        from plotly.colors import sample_colorscale

        return sample_colorscale("Viridis", list(0.85 * figures.group_positions(view.groups)))
    if n <= len(OKABE_ITO):
        return list(OKABE_ITO[:n])
    from plotly.colors import sample_colorscale

    return sample_colorscale("Viridis", list(np.linspace(0, 0.85, n)))


def _value(name: str, value: float) -> str:
    return format_si(value, "flops" if name == "flops" else "count")


def point_hover(view: FitView, rows: np.ndarray) -> list[str]:
    """Hover text of data rows: run id, inputs, observed and fitted value."""
    frame = view.frame
    inputs = [c for c in view.result.law.inputs if c in frame.columns]
    extra = ["flops"] if "flops" in frame.columns and "flops" not in inputs else []
    out = []
    for i in rows:
        row = frame.iloc[int(i)]
        parts = [f"<b>{html.escape(str(row['run']))}</b>"]
        parts.append(" · ".join(f"{symbol(c)} = {_value(c, float(row[c]))}" for c in [*inputs, *extra]))
        parts.append(
            f"{view.y} = {float(row[view.y]):.4f}, fitted {float(row['fitted']):.4f} "
            f"({100 * float(row['residual']):+.2f}%)"
        )
        out.append("<br>".join(parts))
    return out


def _curve_hover(curve: Curve, y_name: str, name: str) -> list[str]:
    cols = curve.columns
    out = []
    for k in range(len(curve.x)):
        inputs = " · ".join(f"{symbol(c)} = {_value(c, float(v[k]))}" for c, v in cols.items())
        out.append(f"{name}<br>{inputs}<br>{y_name} = {curve.y[k]:.4f}")
    return out


def _band_trace(go, curve: Curve, fill: str, name: str, legend: bool, group: str | None = None):
    ok = np.isfinite(curve.low) & np.isfinite(curve.high)
    x, low, high = curve.x[ok], curve.low[ok], curve.high[ok]
    return go.Scatter(
        x=np.concatenate([x, x[::-1]]),
        y=np.concatenate([high, low[::-1]]),
        fill="toself",
        fillcolor=fill,
        line={"width": 0},
        mode="lines",
        hoverinfo="skip",
        name=name,
        showlegend=legend,
        legendgroup=group,
    )


def _curve_traces(go, curve: Curve, color: str, width: float, name: str, y_name: str, legend: bool, group=None):
    """Solid trace inside the data, dashed trace beyond it (two traces: plotly has one dash per trace)."""
    inside = curve.x <= curve.data_max * (1 + 1e-9)
    hover = np.array(_curve_hover(curve, y_name, name), dtype=object)
    traces = [
        go.Scatter(
            x=curve.x[inside],
            y=curve.y[inside],
            mode="lines",
            line={"color": color, "width": width},
            name=name,
            legendgroup=group or name,
            showlegend=legend,
            hovertext=hover[inside],
            hoverinfo="text",
        )
    ]
    if (~inside).any():
        start = max(int(np.argmax(~inside)) - 1, 0)
        traces.append(
            go.Scatter(
                x=curve.x[start:],
                y=curve.y[start:],
                mode="lines",
                line={"color": color, "width": width, "dash": "dash"},
                name=f"{name} (extrapolated)",
                legendgroup=group or name,
                showlegend=False,
                hovertext=hover[start:],
                hoverinfo="text",
            )
        )
    return traces


def fit_figure(view: FitView):
    """Loss against x: data per group (hover: run and values), fitted curves, extrapolation and band."""
    go = _go()
    fig = go.Figure()
    colors = group_colors(view)
    xv, yv = view.frame[view.x].to_numpy(), view.frame[view.y].to_numpy()
    for k, (g, color) in enumerate(zip(view.groups, colors, strict=True)):
        order = g.rows[np.argsort(xv[g.rows])]
        joined = view.group_title == "run" and len(order) > 1
        fig.add_trace(
            go.Scatter(
                x=xv[order],
                y=yv[order],
                mode="markers+lines" if joined else "markers",
                marker={"color": color, "size": 8, "line": {"color": "white", "width": 0.8}},
                line={"color": color, "width": 0.8},
                name=html.escape(g.label) if view.group_title else "runs",
                legendgroup=f"g{k}",
                hovertext=point_hover(view, order),
                hoverinfo="text",
            )
        )
    fitted = view.frame["fitted"].to_numpy()
    for k in view.pointwise:  # no single path through these groups: the fit at each point instead
        rows = view.groups[k].rows
        fig.add_trace(
            go.Scatter(
                x=xv[rows],
                y=fitted[rows],
                mode="markers",
                marker={"color": colors[k], "symbol": "line-ew-open", "size": 10, "line": {"width": 2}},
                name=f"fit, {html.escape(view.groups[k].label)}" if view.group_title else "fit at each run",
                legendgroup=f"g{k}",
                showlegend=not view.group_title,
                hovertext=point_hover(view, rows),
                hoverinfo="text",
            )
        )
    for curve in view.curves:
        if curve.kind == "group":
            color = colors[curve.group]
            if curve.low is not None:
                fig.add_trace(
                    _band_trace(
                        go, curve, _rgba(color, 0.18), f"{html.escape(curve.label)} band", False, f"g{curve.group}"
                    )
                )
            for trace in _curve_traces(
                go, curve, color, 1.5, f"fit, {html.escape(curve.label)}", view.y, False, f"g{curve.group}"
            ):
                fig.add_trace(trace)
    headline = view.headline
    if headline is not None:
        color = "black" if headline.kind == "frontier" or len(view.groups) > 1 else OKABE_ITO[0]
        name = "compute-optimal (fit)" if headline.kind == "frontier" else "fit"
        if headline.low is not None:
            fig.add_trace(_band_trace(go, headline, BAND, f"{view.level:.0%} interval", True))
        for trace in _curve_traces(go, headline, color, 2.5, name, view.y, True):
            fig.add_trace(trace)
    layout = _layout(figures.axis_label(view.x), figures.axis_label(view.y))
    if view.group_title:
        layout["legend"]["title"] = {"text": view.group_title}
    layout["shapes"] = [_vline(view.data_max)]
    fig.update_layout(layout)
    return fig


def _vline(x: float) -> dict:
    return {
        "type": "line",
        "xref": "x",
        "yref": "paper",
        "x0": x,
        "x1": x,
        "y0": 0,
        "y1": 1,
        "line": {"color": GREY, "width": 1, "dash": "dot"},
    }


def residuals_figure(view: FitView):
    """Log residuals (%) against x, per group, with the fit's robust noise level as a grey band."""
    go = _go()
    fig = go.Figure()
    colors = group_colors(view)
    xv = view.frame[view.x].to_numpy()
    res = 100 * view.frame["residual"].to_numpy()
    for k, (g, color) in enumerate(zip(view.groups, colors, strict=True)):
        fig.add_trace(
            go.Scatter(
                x=xv[g.rows],
                y=res[g.rows],
                mode="markers",
                name=html.escape(g.label) if view.group_title else "runs",
                marker={"color": color, "size": 8, "line": {"color": "white", "width": 0.8}},
                legendgroup=f"g{k}",
                hovertext=point_hover(view, g.rows),
                hoverinfo="text",
            )
        )
    s = 100 * view.result.residual_scale
    layout = _layout(figures.axis_label(view.x), f"residual ln({symbol(view.y)} / fit) (%)", log_y=False, height=340)
    shapes = [
        {"type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": 0, "y1": 0, "line": {"color": "#222", "width": 1}}
    ]
    if np.isfinite(s):
        shapes.append(
            {
                "type": "rect",
                "xref": "paper",
                "x0": 0,
                "x1": 1,
                "y0": -s,
                "y1": s,
                "fillcolor": BAND,
                "line": {"width": 0},
                "layer": "below",
            }
        )
    layout["shapes"] = shapes
    if view.group_title:
        layout["legend"]["title"] = {"text": view.group_title}
    fig.update_layout(layout)
    return fig


def frontier_figure(table: pd.DataFrame, view: FitView):
    """Compute-optimal N* and D* against budget (bands at the table's level) and the runs' own N and D."""
    go = _go()
    fig = go.Figure()
    nd = figures.nd_inputs(view.result.law)
    assert nd is not None
    c = table["flops"].to_numpy()
    frame = view.frame
    rows = np.arange(len(frame))
    hover = point_hover(view, rows)
    for column, data_col, color, marker, name in (
        ("params_opt", nd[0], OKABE_ITO[0], "circle-open", "N*"),
        ("tokens_opt", nd[1], OKABE_ITO[1], "square-open", "D*"),
    ):
        low = table[f"{column}_low"].to_numpy() if f"{column}_low" in table else None
        high = table[f"{column}_high"].to_numpy() if f"{column}_high" in table else None
        cols = {"flops": c, "N*": table["params_opt"].to_numpy(), "D*": table["tokens_opt"].to_numpy()}
        curve = Curve(c, table[column].to_numpy(), table.attrs["data_max"], "frontier", None, name, low, high, cols)
        if low is not None:
            fig.add_trace(
                _band_trace(go, curve, _rgba(color, 0.2), f"{name} {table.attrs['level']:.0%} interval", True)
            )
        slope = np.polyfit(np.log(c), np.log(table[column].to_numpy()), 1)[0]
        for trace in _curve_traces(go, curve, color, 2.5, f"{name} ∝ C<sup>{slope:.2f}</sup>", name, True):
            fig.add_trace(trace)
        fig.add_trace(
            go.Scatter(
                x=frame["flops"],
                y=frame[data_col],
                mode="markers",
                name=f"runs' {name[0]}",
                marker={"color": color, "symbol": marker, "size": 7},
                hovertext=hover,
                hoverinfo="text",
            )
        )
    layout = _layout(figures.axis_label("flops"), "parameters N, tokens D")
    layout["shapes"] = [_vline(table.attrs["data_max"])]
    fig.update_layout(layout)
    return fig


def backtest_figure(view: pd.DataFrame, y_name: str, column: str | None):
    """Predicted against observed for held-out (filled) and training (open) runs, per law."""
    go = _go()
    fig = go.Figure()
    symbols = ("circle", "square", "diamond", "triangle-up", "x", "cross")
    for k, (label, part) in enumerate(view.groupby("law", sort=False)):
        color, sym = OKABE_ITO[k % len(OKABE_ITO)], symbols[k % len(symbols)]
        for held_out, sub in part.groupby("held_out"):
            # Rows as dicts, not itertuples: a column such as "train flops" is no attribute name.
            hover = [
                f"<b>{html.escape(str(r['run']))}</b><br>{html.escape(str(label))}: predicted {r['predicted']:.4f}, "
                f"observed {r['observed']:.4f} ({100 * r['rel_error']:+.2f}%)"
                + (
                    f"<br>{html.escape(symbol(column))} = {_value(column, r[column])}"
                    if column is not None and column in sub.columns
                    else ""
                )
                for r in sub.to_dict(orient="records")
            ]
            err = float(np.mean(np.abs(sub["rel_error"])))
            fig.add_trace(
                go.Scatter(
                    x=sub["observed"],
                    y=sub["predicted"],
                    mode="markers",
                    name=f"{html.escape(str(label))}, {'held out' if held_out else 'training'} (mean |err| {err:.1%})",
                    marker={
                        "color": color if held_out else "rgba(0,0,0,0)",
                        "symbol": sym,
                        "size": 9 if held_out else 7,
                        "line": {"color": color, "width": 1.2},
                    },
                    hovertext=hover,
                    hoverinfo="text",
                    legendgroup=str(label),
                )
            )
    lo = float(np.nanmin(view[["observed", "predicted"]].to_numpy()))
    hi = float(np.nanmax(view[["observed", "predicted"]].to_numpy()))
    pad = 0.03 * (hi - lo)
    fig.add_trace(
        go.Scatter(
            x=[lo - pad, hi + pad],
            y=[lo - pad, hi + pad],
            mode="lines",
            line={"color": "#222", "width": 1},
            name="predicted = observed",
            hoverinfo="skip",
        )
    )
    layout = _layout(
        f"observed {figures.axis_label(y_name)}", f"predicted {figures.axis_label(y_name)}", log_x=False, log_y=False
    )
    layout["xaxis"]["range"] = layout["yaxis"]["range"] = [lo - pad, hi + pad]
    fig.update_layout(layout)
    return fig


def bootstrap_figure(boot: Any, level: float):
    """One histogram per parameter: the bootstrap replicates, the estimate (solid) and the interval (dotted)."""
    go = _go()
    from plotly.subplots import make_subplots

    names = list(boot.result.law.param_names)
    k = len(names)
    fig = make_subplots(rows=1, cols=k, horizontal_spacing=0.04)
    a = (1 - level) / 2
    shapes = []
    for j, name in enumerate(names):
        values = boot.samples[:, j]
        estimate = boot.result.values[j]
        lo, hi = np.quantile(values, [a, 1 - a])
        # A robust range (and log bins for an amplitude spanning decades): a few far-out refits must not
        # squeeze the other replicates into one bar.
        h = figures.histogram(values, log=figures.log_bins(boot.result.law, j, values), include=(estimate, lo, hi))
        fig.add_trace(
            go.Bar(
                x=h.edges[:-1],
                y=h.counts,
                width=np.diff(h.edges),
                offset=0,  # each bar spans [edge, next edge], on a log axis too
                marker={"color": _rgba(OKABE_ITO[0], 0.55), "line": {"width": 0}},
                name=name,
                showlegend=False,
                customdata=h.edges[1:],
                hovertemplate=f"{html.escape(name)} in [%{{x:.4g}}, %{{customdata:.4g}}]: "
                "%{y} replicates<extra></extra>",
            ),
            row=1,
            col=j + 1,
        )
        if h.log:
            fig.update_xaxes(type="log", row=1, col=j + 1)
        axis = "x" if j == 0 else f"x{j + 1}"
        for x, dash in ((estimate, "solid"), (lo, "dot"), (hi, "dot")):
            shapes.append(
                {
                    "type": "line",
                    "xref": axis,
                    "yref": "paper",
                    "x0": x,
                    "x1": x,
                    "y0": 0,
                    "y1": 1,
                    "line": {"color": "#222", "width": 1.2 if dash == "solid" else 1, "dash": dash},
                }
            )
        beyond = f"<br>{h.outside} beyond the range" if h.outside else ""
        scale = " (log)" if h.log else ""
        fig.update_xaxes(title_text=f"{name}{scale}<br>{estimate:.4g} [{lo:.4g}, {hi:.4g}]{beyond}", row=1, col=j + 1)
        fig.update_yaxes(showticklabels=j == 0, row=1, col=j + 1)
    fig.update_layout(
        template="simple_white",
        height=300,
        margin={"l": 50, "r": 20, "t": 20, "b": 95},
        font={"family": FONT, "size": 11, "color": "#222"},
        shapes=shapes,
        bargap=0,
    )
    fig.update_yaxes(title_text="replicates", row=1, col=1)
    return fig


def influence_figure(table: pd.DataFrame, label: str):
    """Each run's distance off the law (residual over the robust noise scale) against how far leaving it out
    moves the prediction at ``label``; off-law runs in red, the threshold dotted.

    ``table`` is :func:`scalelaw.trust.influence.off_law`'s (``attrs`` ``scale`` and ``threshold``).
    """
    go = _go()
    fig = go.Figure()
    for off, color, name in ((False, OKABE_ITO[0], "runs"), (True, "#D55E00", "off the law")):
        part = table[table["off_law"] == off]
        if not len(part):
            continue
        hover = [
            f"<b>{html.escape(str(r['run']))}</b><br>{r['n_rows']} row(s), |residual| {r['residual']:.2%} "
            f"({r['scales']:.1f}× the noise)<br>left out: the prediction at {html.escape(label)} moves "
            f"{r['shift']:+.2%}"
            for r in part.to_dict(orient="records")
        ]
        fig.add_trace(
            go.Scatter(
                x=part["scales"],
                y=100 * part["shift"],
                mode="markers",
                name=name,
                marker={"color": color, "size": 9 if off else 7, "line": {"color": "#fff", "width": 0.6}},
                hovertext=hover,
                hoverinfo="text",
            )
        )
    layout = _layout(
        "|residual| / robust noise scale (in the fit or without the run)",
        "prediction change when left out (%)",
        log_x=False,
        log_y=False,
        height=360,
    )
    scale = table.attrs["scale"]
    if np.isfinite(scale) and scale > 0:
        layout["shapes"] = [_vline(table.attrs["threshold"] / scale)]
    fig.update_layout(layout)
    return fig


def trust_figure(points: pd.DataFrame, model: Any, level: float, predictions: pd.DataFrame | None = None):
    """Rolling-backtest log errors against decades beyond each cut's data, one colour per cut, with the learned
    ±half-width band at ``level`` (0 inside the data), the distance the backtests checked (dotted) and the
    report's prediction points (crosses on the zero line, at their distance beyond the fit's data).

    ``points`` is :meth:`~scalelaw.trust.extrapolation_error.ExtrapolationError.to_frame`; ``model`` the
    :class:`~scalelaw.trust.extrapolation_error.ExtrapolationError`; ``predictions`` has ``label`` and ``decades``.
    """
    go = _go()
    fig = go.Figure()
    cuts = sorted(points["cut"].unique()) if len(points) else []
    for k, cut in enumerate(cuts):
        part = points[points["cut"] == cut]
        hover = [
            f"<b>{html.escape(str(r['run']))}</b><br>cut: top {cut:.0%} of runs held out<br>"
            f"{r['decades']:.2f} decades beyond the cut's data<br>log error {r['log_error']:+.4f}"
            for r in part.to_dict(orient="records")
        ]
        fig.add_trace(
            go.Scatter(
                x=part["decades"],
                y=part["log_error"],
                mode="markers",
                name=f"top {cut:.0%} held out",
                marker={"color": OKABE_ITO[k % len(OKABE_ITO)], "size": 7, "line": {"color": "#fff", "width": 0.5}},
                hovertext=hover,
                hoverinfo="text",
            )
        )
    far = [0.0, float(model.max_decades)]
    far += list(points["decades"]) if len(points) else []
    far += list(predictions["decades"]) if predictions is not None and len(predictions) else []
    finite = [v for v in far if np.isfinite(v)]
    lo, hi = min(min(finite), 0.0), max(max(finite) * 1.08, 0.5)
    d = np.unique(np.concatenate([np.linspace(lo, hi, 120), [0.0]]))
    half, drift = model.halfwidth(d, level), model.drift(d)
    # log error = predicted - observed: a drift widens the side it points to (trust.extrapolation_error.widen)
    upper, lower = half + np.maximum(drift, 0.0), -half + np.minimum(drift, 0.0)
    fig.add_trace(
        go.Scatter(
            x=np.concatenate([d, d[::-1]]),
            y=np.concatenate([upper, lower[::-1]]),
            fill="toself",
            fillcolor=BAND,
            line={"width": 0},
            name=f"±{level:.0%} half-width of the law's error",
            hoverinfo="skip",
        )
    )
    if predictions is not None and len(predictions):
        fig.add_trace(
            go.Scatter(
                x=predictions["decades"],
                y=np.zeros(len(predictions)),
                mode="markers",
                name="the report's predictions",
                marker={"symbol": "x", "size": 10, "color": "#222"},
                hovertext=[
                    f"{html.escape(str(r['label']))}: {r['decades']:.2f} decades beyond the data"
                    for r in predictions.to_dict(orient="records")
                ],
                hoverinfo="text",
            )
        )
    layout = _layout(
        f"decades beyond the training data along {model.axis}",
        "log error ln(predicted / observed)",
        log_x=False,
        log_y=False,
    )
    checked = {**_vline(float(model.max_decades)), "line": {"color": "#222", "width": 1.2, "dash": "dot"}}
    layout["shapes"] = [checked]
    layout["annotations"] = [
        {
            "x": float(model.max_decades),
            "y": 1,
            "xref": "x",
            "yref": "paper",
            "text": f"checked to {model.max_decades:.2f}",
            "showarrow": False,
            "xanchor": "left",
            "yanchor": "top",
            "font": {"size": 11, "color": "#444"},
        }
    ]
    fig.update_layout(layout)
    return fig
