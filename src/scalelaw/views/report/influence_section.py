"""The report's "Outliers and influence" section: runs off the law, and how far each moves the extrapolation.

A run is off the law when its largest log residual, in the fit or against the refit without it, exceeds
``OFF_LAW_SCALES`` robust noise scales (:func:`scalelaw.trust.influence.off_law`). Its leverage is the change of
the report's farthest prediction (the largest plan budget's compute-optimal point, or 100 times the largest input
of a one-input law) when it is left out (:func:`scalelaw.trust.influence.influence`).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from scalelaw.errors import ScaleLawError
from scalelaw.fitting.result import FitResult
from scalelaw.trust.influence import (
    OFF_LAW_FLOOR,
    OFF_LAW_SCALES,
    default_target,
    influence,
    off_law,
    off_law_runs,
)
from scalelaw.views.report import charts
from scalelaw.views.report.markup import esc, figure, num, pct, section, table
from scalelaw.views.report.trust_section import prediction_points

#: Element id of the section's figure.
FIGURE_ID = "fig-influence"
#: Rows of the table: every off-law run, then the most influential others up to this many.
TABLE_ROWS = 10
#: Refit exactly at most this many runs × rows in all (the leave-one-run-out weights are dense: 20M is 160 MB);
#: on a long table the others' shifts are one-step estimates and their deleted residuals are left out.
MAX_REFIT_CELLS = 20_000_000


@dataclass(frozen=True)
class Outliers:
    """What the section shows: :func:`scalelaw.trust.influence.off_law`'s table (None when it could not be
    measured, and ``note`` says why), the prediction it protects and where."""

    table: pd.DataFrame | None
    label: str
    prediction: float
    note: str = ""

    @property
    def off_law(self) -> list[str]:
        """Runs off the law."""
        return [] if self.table is None else [str(r) for r in self.table.loc[self.table["off_law"], "run"]]


def measure(result: FitResult, plan_table: pd.DataFrame | None) -> Outliers:
    """The off-law runs of ``result`` and their leverage on the report's farthest prediction point."""
    try:
        points = prediction_points(result, plan_table)
        if len(points) > 1:  # the farthest of the report's predictions
            row = points.iloc[-1]
            target: dict[str, Any] = {n: float(row[n]) for n in result.law.inputs}
            label = str(row["label"])
        else:
            target, label = default_target(result), "10× the largest value of every input"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            infl = influence(result, target, exact=max(20, min(400, MAX_REFIT_CELLS // max(result.n_points, 1))))
        return Outliers(off_law(result, infl), label, infl.prediction)
    except ScaleLawError as exc:
        return Outliers(None, "", float("nan"), f"influence could not be measured: {exc}")


def status_flag(outliers: Outliers) -> tuple[str, str] | None:
    """The status list's line on off-law runs: ``(class, text)``, None when not measured."""
    if outliers.table is None:
        return None
    threshold = outliers.table.attrs["threshold"]
    if outliers.off_law:
        names = ", ".join(outliers.off_law)
        return "warn", f"{len(outliers.off_law)} run(s) off the law (residual beyond {pct(threshold)}): {names}"
    return "ok", f"no run off the law (every residual within {pct(threshold)})"


def influence_section(outliers: Outliers) -> str:
    """The section as HTML."""
    if outliers.table is None:
        body = [f'<p class="note" id="influence-unavailable">{esc(outliers.note)}</p>']
        return section("influence", "Outliers and influence", body)
    t = outliers.table
    scale, threshold = t.attrs["scale"], t.attrs["threshold"]
    rule = (
        f"A run is off the law when its largest log residual, in the fit or against the refit without it, exceeds "
        f"{pct(threshold)}: the larger of {OFF_LAW_SCALES:g}× the fit's robust noise scale ({pct(scale)}) and "
        f"{pct(OFF_LAW_FLOOR)}."
    )
    where = f"the prediction at {outliers.label} ({num(outliers.prediction)})"
    if outliers.off_law:
        moves = "; ".join(
            f"{r['run']}: {pct(r['max_abs_log_residual'])} off ({r['scales']:.0f}× the noise), moves {where} by "
            f"{r['shift']:+.2%}"
            for r in off_law_runs(t)
        )
        body = [
            f'<div class="warning" id="influence-warning">{len(outliers.off_law)} run(s) off the law. {esc(moves)}. '
            "Check them (a diverged run, a wrong column, another setup) before trusting the extrapolation; "
            "refit without them to see what they change.</div>"
        ]
    else:
        body = [f'<p class="note" id="influence-clean">No run is off the law; the largest residual is '
                f"{t['scales'].max():.1f}× the noise scale.</p>"]  # fmt: skip
    body.append(f'<p class="note">{esc(rule)}</p>')
    body.append(
        figure(
            FIGURE_ID,
            charts.influence_figure(t, outliers.label),
            f"Each run: how far it sits off the law (its residual over the robust noise scale; dotted: the threshold) "
            f"against how far leaving it out moves {where}. Red: off the law.",
        )
    )
    shown = pd.concat([t[t["off_law"]], t[~t["off_law"]].head(max(TABLE_ROWS - int(t["off_law"].sum()), 0))])
    rows = [
        [
            esc(r["run"]),
            str(int(r["n_rows"])),
            pct(r["max_abs_residual"]),
            pct(r["loo_abs_residual"]),
            f"{r['scales']:.1f}" if np.isfinite(r["scales"]) else "—",
            f"{r['shift']:+.2%}" if np.isfinite(r["shift"]) else "—",
            ", ".join(w for w, on in (("off the law", r["off_law"]), ("high leverage", r["flagged"])) if on),
        ]
        for r in shown.to_dict(orient="records")
    ]
    header = ["run", "rows", "|residual| in the fit", "|residual| without it", "× noise", "prediction moves", ""]
    body.append(table(header, rows, "influence-table", text_cols=(0, 6)))
    caption = (
        f"Off-law runs first, then the most influential of the {len(t)} runs. Residuals: the run's largest "
        f"absolute log residual (about the relative error). Prediction moves: the relative change of {where} "
        "when the run is left out and the law refitted; high leverage: a change far beyond the other runs' "
        "(often the largest runs, the most informative: look before dropping them)."
    )
    body.append(f'<p class="caption">{esc(caption)}</p>')
    return section("influence", "Outliers and influence", body)
