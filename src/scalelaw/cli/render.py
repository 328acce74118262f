"""Rich rendering shared by several commands: numbers, plan records and fits as tables."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.table import Table

from scalelaw.cli.common import out


def fmt_number(x: float) -> str:
    if x is None or not math.isfinite(x):
        return "—"
    return f"{x:.6g}"


def cell(value: Any) -> str:
    """A plan record's entry: a number, ``{"value"}`` or ``{"value", "low", "high"}``."""
    if isinstance(value, dict) and "low" in value:
        return f"{value['value']:.4g} [{value['low']:.4g}, {value['high']:.4g}]"
    return f"{value['value'] if isinstance(value, dict) else value:.4g}"


def records_view(title: str, records: list[dict[str, Any]]) -> Table:
    """Plan records (``Plan.to_records``) as a table: one row per quantity, one column per plan."""
    view = Table(title=escape(title), title_justify="left")  # titles name the law, which a fit file sets
    view.add_column("quantity")
    for i in range(len(records)):
        view.add_column(f"#{i + 1}" if len(records) > 1 else "value", justify="right")
    for key in (k for k in records[0] if k != "extrapolation"):
        view.add_row(key, *[cell(rec[key]) for rec in records])
    return view


def render_multi(result) -> None:
    """``fit --y a,b,c``: one row per target (rows used, parameters, flags), then the summary's first line."""
    frame = result.to_frame()
    names = list(result.law.param_names)
    view = Table(title=escape(f"{result.law.name}: {result.law.formula()}"), title_justify="left")
    for col in ("target", "rows", *names, "status"):
        view.add_column(escape(col), justify="left" if col in ("target", "status") else "right")
    for row in frame.to_dict(orient="records"):
        view.add_row(
            escape(str(row["target"])),
            str(row["n_points"]),
            *(f"{row[n]:.4g}" for n in names),
            "ok" if row["ok"] else escape(str(row["flags"])),
        )
    out.print(view)
    out.print(result.summary().splitlines()[0], highlight=False, markup=False)


def render_fit(result, out_path: Path | None) -> None:
    """A fit's parameter table, objective, notes and status line (``fit`` and ``report`` print it)."""
    view = Table(title=escape(f"{result.law.name}: {result.law.formula()}"), title_justify="left")
    view.add_column("parameter")
    view.add_column("value", justify="right")
    view.add_column("± std. error", justify="right")
    view.add_column("note")
    for name, value, se in zip(result.law.param_names, result.values, result.std_errors.values(), strict=True):
        note = "at bound" if name in result.status.at_bound else ""
        view.add_row(name, fmt_number(value), fmt_number(se), note)
    out.print(view)
    out.print(
        f"objective {result.objective:.6g} ({result.loss}, δ={result.delta:g}) on {result.n_points} points "
        f"from {result.n_runs} runs; {result.n_starts} starts, {result.status.n_at_best} reached the best; "
        f"fit {result.fit_seconds:.2f} s",
        highlight=False,
    )
    out.print(f"log-residual scale (robust sd): {result.residual_scale:.4g}", highlight=False)
    out.print("std. errors are local (Gauss-Newton) approximations.", style="dim")
    for note in result.notes:
        out.print(f"note: {note}", style="dim", highlight=False, markup=False)
    if result.status.ok:
        out.print("[green]status: converged, no parameter at a bound, identifiable[/]")
    else:  # the warnings on stderr say why; this line keeps the verdict next to the table
        out.print(f"status: {'; '.join(result.status.flags())}", style="yellow", markup=False, highlight=False)
    if out_path is not None:
        out.print(f"saved fit to {out_path}", highlight=False, markup=False)
