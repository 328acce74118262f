"""``scalelaw hparams``: the optimal learning rate and batch size across scale (:mod:`scalelaw.decisions.hparams`).
Registered on the app by :mod:`scalelaw.cli`."""

from __future__ import annotations

import math
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from scalelaw.cli.common import (
    DataOptions,
    IntervalOption,
    JsonOption,
    MapOption,
    SeedOption,
    WhereOption,
    err,
    out,
    parse_at,
    print_json,
    run_action,
)
from scalelaw.errors import DataError


def hparams(
    data: Annotated[
        str | None,
        typer.Argument(
            help="Runs, one row per run: params, tokens (or flops), lr, batch_size, loss; a file, dataset:NAME or -. "
            "Leave out with --published."
        ),
    ] = None,
    form: Annotated[
        str, typer.Option(help="step: lr* = a N^α D^β, bs* = b D^γ (Li et al. 2025); deepseek: both in C (Bi 2024).")
    ] = "step",
    published: Annotated[
        bool, typer.Option("--published", help="Use the published law of --form (no data): with --at, predict.")
    ] = False,
    at: Annotated[
        list[str] | None,
        typer.Option("--at", metavar="POINT", help="Predict lr* and bs* at params=7e9,tokens=1.4e12 (repeatable)."),
    ] = None,
    band: Annotated[
        float, typer.Option(help="Fit each cell's bowl on runs within this fraction of its best loss.")
    ] = 0.02,
    min_points: Annotated[
        int | None, typer.Option(help="Fewest runs per bowl (default 9 for lr × bs, 5 for one axis).")
    ] = None,
    mapping: MapOption = None,
    where: WhereOption = None,
    interval: IntervalOption = 0.9,
    n_boot: Annotated[int, typer.Option(help="Bootstrap replicates (runs resampled within each cell).")] = 500,
    seed: SeedOption = 0,
    as_json: JsonOption = False,
) -> None:
    """Optimal learning rate and batch size: a bowl per (N, D) cell, then power laws across cells (or the
    published Step Law / DeepSeek law with --published)."""
    from scalelaw.decisions import hparams as hp

    def action():
        if form not in ("step", "deepseek"):
            raise DataError(f"--form must be 'step' or 'deepseek', not {form!r}")
        if published == (data is not None):
            raise DataError("give DATA (runs to fit) or --published (the published law), not both or neither")
        if published:
            result = hp.step_law() if form == "step" else hp.deepseek()
        else:
            runs = DataOptions(mapping, where).load(data, "loss")
            level = interval if interval > 0 else None
            options = dict(band=band, min_points=min_points, level=level, n_boot=n_boot, seed=seed)
            result = hp.fit_hparams(runs, form=form, **options)
        return result, [result.predict(point) for point in parse_at(at or [])]

    result, predictions = run_action(action)
    if as_json:
        print_json({"data": data, **result.to_dict(), "predictions": predictions})
        return
    _render(result, predictions)


def _span(value: float, low: float, high: float) -> str:
    if not math.isfinite(low):
        return f"{value:.4g}"
    return f"{value:.4g} [{low:.4g}, {high:.4g}]"


def _render(result: Any, predictions: list[dict[str, Any]]) -> None:
    if not result.cells.empty:
        _render_cells(result)
    for law in result.laws().values():
        out.print(escape(law.summary()))
    for point in predictions:
        where = ", ".join(f"{k}={v:.3g}" for k, v in point["inputs"].items())
        parts = [f"{t}* = {_span(v['value'], v['low'], v['high'])}" for t, v in point.items() if t != "inputs"]
        out.print(f"at {where}: " + "; ".join(parts))
    for note in result.notes:
        err.print(f"[yellow]note:[/] {escape(note)}", highlight=False)


def _render_cells(result: Any) -> None:
    level = f"{result.level:.0%}" if result.level else "no"
    cells = Table(title=f"Per-cell optima ({level} by-run bootstrap)", title_justify="left")
    for name in ("params", "tokens", "runs", "lr*", "batch*", "loss", "flag"):
        cells.add_column(name, justify="left" if name == "flag" else "right")
    for row in result.cells.itertuples(index=False):
        cells.add_row(
            f"{row.params:.3g}",
            f"{row.tokens:.3g}",
            f"{row.n_used}/{row.n_runs}",
            _span(row.lr_opt, row.lr_low, row.lr_high) if row.lr_ok else "—",
            _span(row.batch_size_opt, row.batch_size_low, row.batch_size_high) if row.batch_size_ok else "—",
            f"{row.loss_opt:.4g}",
            escape(row.flag),
        )
    out.print(cells)
