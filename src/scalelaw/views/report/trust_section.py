"""The report's "Extrapolation trust" section, and the kind of every prediction interval the report shows.

The section reads the fit's own law-error model (:meth:`scalelaw.FitResult.extrapolation_error`, learned once
per fit and cached on it, or the one ``law="auto"`` measured while choosing): the rolling backtests' log
errors against distance, the parts of the total interval at the report's prediction points, a plain verdict
on how far the data supports extrapolating, and, for an automatic choice, the candidate laws and weights.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from typing import Any

import numpy as np
import pandas as pd

from scalelaw.errors import ScaleLawError
from scalelaw.fitting.result import FitResult
from scalelaw.trust.extrapolation import unlearned
from scalelaw.trust.extrapolation_error import ExtrapolationError, axis_values
from scalelaw.trust.total import check_kind, with_kind
from scalelaw.views import figures
from scalelaw.views.report import charts
from scalelaw.views.report.markup import esc, figure, num, section, table

#: Element id of the section's figure.
FIGURE_ID = "fig-trust"


def learned(result: FitResult) -> tuple[ExtrapolationError | None, str]:
    """The fit's law-error model (cached on the fit), or None and a sentence saying why it cannot be learned."""
    reason = unlearned(result)
    if reason is not None:
        return None, f"{reason}, so this report shows parameter intervals only (docs/schedule_uncertainty.md)."
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return result.extrapolation_error(), ""
    except ScaleLawError as exc:
        return None, f"the law's error beyond the data could not be learned from this fit: {exc}"


def shown_kind(kind: str, model: ExtrapolationError | None) -> str:
    """The interval kind the report can show: ``kind``, or ``"parameter"`` when no error model was learned."""
    check_kind(kind)
    return "parameter" if model is None else kind


def kind_phrase(kind: str, result: FitResult) -> str:
    """What an interval of ``kind`` is made of, in words."""
    if kind == "parameter":
        return "parameter intervals: the by-run bootstrap of the parameters alone"
    choice = " and the spread between the candidate laws" if result.law_choice is not None else ""
    return (
        "total intervals: the by-run bootstrap of the parameters widened by the law's own error beyond the data "
        f"(learned from rolling backtests){choice}"
    )


def widen_view(result: FitResult, view: figures.FitView, level: float, kind: str) -> figures.FitView:
    """``view`` with its bands made total intervals of the law's value when ``kind`` is ``"total"``."""
    if kind != "total" or view.level is None:
        return view
    curves = []
    for curve in view.curves:
        if curve.low is None or curve.high is None or any(n not in curve.columns for n in result.law.inputs):
            curves.append(curve)
            continue
        band = pd.DataFrame({n: curve.columns[n] for n in result.law.inputs})
        band["value"], band["low"], band["high"] = curve.y, curve.low, curve.high
        with np.errstate(all="ignore"):
            wide = with_kind(result, band, level, "total", omit_unreadable=True)  # said in the choice table
        curves.append(dataclasses.replace(curve, low=wide["low"].to_numpy(), high=wide["high"].to_numpy()))
    return dataclasses.replace(view, curves=curves)


def prediction_points(result: FitResult, plan_table: pd.DataFrame | None) -> pd.DataFrame:
    """Where the report predicts: the largest run, and the plan's compute-optimal allocations (a law of N and D)
    or 10 and 100 times the largest value (a law of one input). Columns ``label`` and the law's inputs."""
    inputs = result.law.inputs
    columns = {n: np.asarray(result.data.columns[n], dtype=np.float64) for n in inputs}
    _, along = axis_values(result.law, columns)
    top = int(np.nanargmax(along))
    run = figures.data_frame(result)["run"].iloc[top]
    rows = [{"label": f"largest run ({run})", **{n: float(columns[n][top]) for n in inputs}}]
    nd = figures.nd_inputs(result.law)
    if (
        nd is not None
        and len(inputs) == 2
        and plan_table is not None
        and {"params_opt", "tokens_opt"} <= set(plan_table)
    ):
        for r in plan_table.to_dict(orient="records"):
            label = f"plan: C = {num(r['flops'])} FLOPs" if "flops" in r else "plan"
            rows.append({"label": label, nd[0]: float(r["params_opt"]), nd[1]: float(r["tokens_opt"])})
    elif len(inputs) == 1:
        rows += [{"label": f"{k}× the largest {inputs[0]}", inputs[0]: k * rows[0][inputs[0]]} for k in (10, 100)]
    return pd.DataFrame(rows)


def interval_parts(result: FitResult, points: pd.DataFrame, boot: Any, level: float) -> pd.DataFrame:
    """The parts of the total interval at ``points`` (:func:`prediction_points`).

    Columns: ``label``, the inputs, ``value``, ``low``/``high`` (total), ``parameter_low``/``parameter_high``
    (the bootstrap with the data's noise, NaN without a bootstrap), ``decades``, ``extrapolation_halfwidth``,
    ``extrapolation_drift``, ``law_choice_halfwidth`` (log units) and ``beyond_checked``.
    """
    frame = points[list(result.law.inputs)]
    if boot is not None:
        band = boot.predict(frame, level=level, observation=True)
    else:
        band = frame.copy()
        with np.errstate(all="ignore"):
            band["value"] = result.law.predict(np.array([result.values]), **frame.to_dict("list"))[0]
        band["low"] = band["high"] = band["value"]
    out = with_kind(result, band, level, "total", omit_unreadable=True)  # said in the choice table
    if boot is None:
        out["parameter_low"] = out["parameter_high"] = np.nan
    out.insert(0, "label", points["label"].to_numpy())
    return out


def _reach(decades: float, which: str) -> str:
    if math.isinf(decades):
        text = "no distance (the expected error never gets there)"
    elif decades == 0:
        text = "the edge of the data (0 decades)"
    else:
        text = f"{decades:.2f} decades"
    return f'<b id="reach-{which}" data-decades="{decades!r}">{esc(text)}</b>'


def verdict(model: ExtrapolationError, parts: pd.DataFrame | None) -> str:
    """A plain verdict: how far the data supports extrapolating, the 1% and 2% reach, the cuts, and a warning
    when the report's predictions go beyond the distance the backtests checked."""
    r1, r2, checked = model.reach(0.01), model.reach(0.02), float(model.max_decades)
    supported = min(r2, checked)
    floor, slope = model.variances()
    if model.n_cuts == 0:
        basis = (
            "No cut of the rolling backtest could be refitted (too few runs), so the law's error is the prior alone "
            f"({model.prior_slope:g} per decade): treat every extrapolation as unchecked."
        )
    else:
        basis = (
            f"From {model.n_cuts} rolling backtests (cuts), which checked up to "
            f'<b id="checked-decades" data-decades="{checked!r}">{checked:.2f} decades</b> beyond their training data; '
            f"learned error sd {math.sqrt(floor):.4f} at the edge plus {math.sqrt(slope):.4f} per decade "
            f"({model.df:g} degrees of freedom), noise sd {model.noise_sd:.4f}.{model.drift_words()}"
        )
    parts_html = [
        f'<p id="trust-verdict"><b>This data supports extrapolating about {supported:.2f} decades of '
        f"{esc(model.axis)} beyond the largest run</b> (the smaller of the 2% reach and the checked distance). "
        f"The expected error of a new run passes 1% at {_reach(r1, '1pct')} and 2% at {_reach(r2, '2pct')} "
        f"beyond the data. {basis}</p>"
    ]
    if parts is not None and len(parts):
        beyond = parts[parts["decades"] > max(checked, 0.0)]
        if len(beyond):
            names = ", ".join(f"{r['label']} ({r['decades']:.2f} decades)" for r in beyond.to_dict(orient="records"))
            parts_html.append(
                f'<div class="warning" id="trust-beyond">{len(beyond)} of the report\'s predictions lie beyond what '
                f"the backtests checked ({checked:.2f} decades): {esc(names)}. There the error model itself "
                "extrapolates, and so do their intervals.</div>"
            )
    return "\n".join(parts_html)


def _parts_table(result: FitResult, parts: pd.DataFrame, level: float) -> str:
    inputs = list(result.law.inputs)
    header = ["prediction", *inputs, "decades beyond", "value", "parameter (−/+)", "law choice ±"]
    header += ["extrapolation ±", "drift", "total (−/+)", f"{level:.0%} total interval"]
    rows = []
    for r in parts.to_dict(orient="records"):
        value = r["value"]
        with np.errstate(all="ignore"):
            p = (math.log(value / r["parameter_low"]), math.log(r["parameter_high"] / value))
            t = (math.log(value / r["low"]), math.log(r["high"] / value))
        row = [esc(r["label"]), *(num(r[n]) for n in inputs), num(r["decades"], 3), num(value)]
        row += [f"{num(p[0], 3)} / {num(p[1], 3)}", num(r["law_choice_halfwidth"], 3)]
        row += [num(r["extrapolation_halfwidth"], 3), num(r["extrapolation_drift"], 3)]
        row.append(f"{num(t[0], 3)} / {num(t[1], 3)}")
        row.append(f"[{num(r['low'])}, {num(r['high'])}]")
        rows.append(row)
    caption = (
        f"Half-widths of the {level:.0%} interval in log units (0.01 ≈ 1%), which add in variance: the parameter "
        "part is the by-run bootstrap with the data's noise (a measured run; — without a bootstrap), the "
        "extrapolation part the learned law error at that distance (0 inside the data), the law-choice part the "
        "spread between candidate laws (0 unless the law was chosen automatically). The drift is the law's expected "
        "log error (predicted over observed) where the backtests' errors trend with scale; it moves the end it points "
        "to (0 when they show no trend)."
    )
    return table(header, rows, "trust-parts-table", text_cols=(0,)) + f'\n<p class="caption">{esc(caption)}</p>'


def _choice_table(result: FitResult) -> str:
    choice = result.law_choice
    rows = []
    for r in choice.to_frame().to_dict(orient="records"):
        chosen = " (chosen)" if r["law"] == choice.chosen else ""
        rows.append(
            [
                f"<code>{esc(r['law'])}</code>{esc(chosen)}",
                num(r["score"], 4),
                num(r["weight"], 3),
                str(int(r["n_cuts"])) if pd.notna(r["n_cuts"]) else "—",
                esc(r["error"] or ""),
            ]
        )
    header = ["candidate law", "backtest score", "weight", "cuts", "error"]
    caption = (
        "law='auto': every candidate was fitted and backtested at the same rolling cuts. Score: mean held-out "
        "|log error| over the near cuts (smallest is chosen); weights: from the same backtests, they set the "
        "law-choice part of the total interval."
    )
    unread = choice.unreadable(dict.fromkeys(result.law.inputs))
    if unread:  # the report predicts at the chosen law's inputs only
        names = "; ".join(f"{law} reads {', '.join(cols)}" for law, cols in unread.items())
        caption += (
            f" Left out of the law-choice part of this report's intervals, which set only the chosen law's inputs: "
            f"{names}."
        )
    return (
        f"<h3>Law chosen by the backtests: <code>{esc(choice.chosen)}</code></h3>\n"
        + table(header, rows, "law-choice-table", text_cols=(0, 4))
        + f'\n<p class="caption">{esc(caption)}</p>'
    )


def trust_section(
    result: FitResult,
    model: ExtrapolationError | None,
    note: str,
    parts: pd.DataFrame | None,
    level: float,
    kind: str,
) -> str:
    """The "Extrapolation trust" section as HTML.

    Parameters
    ----------
    result : FitResult
    model : ExtrapolationError or None
        The fit's law-error model; None when it cannot be learned, and ``note`` says why.
    parts : DataFrame or None
        :func:`interval_parts` at the report's prediction points.
    level : float
        The report's interval level.
    kind : str
        The interval kind the report shows.
    """
    body = [
        f'<p class="note" id="interval-kind" data-kind="{esc(kind)}">'
        f"This report shows {esc(kind_phrase(kind, result))}.</p>"
    ]
    if model is None:
        body.append(f'<p class="note" id="trust-unavailable">{esc(note)}</p>')
    else:
        predictions = parts[["label", "decades"]] if parts is not None else None
        body.append(verdict(model, parts))
        body.append(
            figure(
                FIGURE_ID,
                charts.trust_figure(model.to_frame(), model, level, predictions),
                f"Rolling backtests: each cut holds out the top share of the runs along {model.axis}, refits the law "
                "on the rest and scores the held-out rows (log error against decades beyond the cut's largest "
                f"training value). Grey: ± the learned {level:.0%} half-width of the law's error (0 inside the "
                "data); dotted: the farthest distance a cut checked; crosses: where this report predicts.",
            )
        )
        if parts is not None and len(parts):
            body.append("<h3>Parts of the total interval at the report's predictions</h3>")
            body.append(_parts_table(result, parts, level))
    if result.law_choice is not None:
        body.append(_choice_table(result))
    return section("trust", "Extrapolation trust", body)
