"""``trend`` (the shape of a metric against scale: rising, falling, U-shaped) and ``mc`` (the multiple-choice chain
from log-probabilities to accuracy); the library's :mod:`scalelaw.topics.trend` and
:mod:`scalelaw.topics.multiple_choice`.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from scalelaw.cli.common import (
    JsonOption,
    LevelOption,
    SeedOption,
    WhereOption,
    out,
    parse_list,
    read_table_or_dataset,
    run_action,
    show,
)

BootOption = Annotated[int, typer.Option(help="Bootstrap replicates.")]


def trend(
    data: Annotated[str, typer.Argument(help="One row per model, or per (model, question); or dataset:NAME.")],
    metrics: Annotated[
        str | None, typer.Option(help="Metric columns, comma-separated (default: every numeric non-scale column).")
    ] = None,
    scale: Annotated[str, typer.Option(help="Scale column; the trend is read against its log10.")] = "params",
    by: Annotated[
        str | None, typer.Option(help="Column resampled as a unit (default: run, else model, else each row).")
    ] = None,
    lower: Annotated[
        str | None, typer.Option(help="Metrics where lower is better (default: names like loss, error, brier).")
    ] = None,
    where: WhereOption = None,
    level: LevelOption = 0.9,
    n_boot: BootOption = 1000,
    seed: SeedOption = 0,
    as_json: JsonOption = False,
) -> None:
    """Does a metric improve, worsen (inverse scaling) or turn (U-shaped) with scale? Tests and turning point."""
    from scalelaw.data.rows import where_mask
    from scalelaw.topics.trend import trend_shape

    def action():
        table = read_table_or_dataset(data)
        table = table.loc[where_mask(table, where, data)]
        return trend_shape(
            table, parse_list(metrics), scale, by, parse_list(lower), level=level, n_boot=n_boot, seed=seed
        )

    show(run_action(action), as_json, _render_trend, data=data)


def _render_trend(result) -> None:
    from scalelaw.topics.trend import describe

    scale = result.scale
    view = Table(
        title=escape(f"Trend against log10 {scale} ({result.level:.0%} intervals, bootstrap by {result.by or 'row'})"),
        title_justify="left",
    )
    for col in ("metric", "shape", "slope per decade", "turns at", "p turn", "inverse"):
        view.add_column(col, justify="left" if col in ("metric", "shape") else "right")
    for r in result.table.itertuples():
        turn = f"{r.turning:.3g} [{r.turning_low:.3g}, {r.turning_high:.3g}]" if r.turning == r.turning else "—"
        slope = f"{r.slope:+.3g} [{r.slope_low:+.3g}, {r.slope_high:+.3g}]"
        view.add_row(escape(str(r.metric)), r.shape, slope, turn, f"{r.p_u:.3g}", "yes" if r.inverse else "no")
    out.print(view)
    for r in result.table.itertuples():
        out.print(describe(r, result.scale, result.level), highlight=False, markup=False)
    for note in result.notes:
        out.print(f"note: {note}", highlight=False, markup=False)


def mc(
    data: Annotated[
        str, typer.Argument(help="One row per (model, question, choice) with scale, logprob and a 0/1 correct flag.")
    ],
    scale: Annotated[str, typer.Option(help="Scale column (params, flops, ...).")] = "params",
    model: Annotated[str, typer.Option(help="Model column.")] = "model",
    question: Annotated[str, typer.Option(help="Question column.")] = "question",
    choice: Annotated[str, typer.Option(help="Choice column.")] = "choice",
    logprob: Annotated[str, typer.Option(help="Column of each choice's whole-text log-probability.")] = "logprob",
    correct: Annotated[str, typer.Option(help="Column of 0/1 flags, 1 for the correct choice.")] = "correct",
    method: Annotated[str, typer.Option(help="pearson or spearman.")] = "pearson",
    level: LevelOption = 0.9,
    n_boot: BootOption = 1000,
    seed: SeedOption = 0,
    as_json: JsonOption = False,
) -> None:
    """Multiple choice across scale: how well log p, p, p among choices, accuracy and Brier track scale."""
    from scalelaw.topics.multiple_choice import multiple_choice

    def action():
        table = read_table_or_dataset(data)
        return multiple_choice(
            table, model, scale, question, choice, logprob, correct, method, level=level, n_boot=n_boot, seed=seed
        )

    show(run_action(action), as_json, _render_mc, data=data)


def _render_mc(result) -> None:
    view = Table(
        title=escape(
            f"{result.method.capitalize()} correlation with log {result.scale} "
            f"({result.level:.0%} intervals, bootstrap by question)"
        ),
        title_justify="left",
    )
    for col in ("stage", "per question", "questions", "benchmark mean"):
        view.add_column(col, justify="left" if col == "stage" else "right")
    for r in result.stages.itertuples():
        view.add_row(
            r.stage,
            f"{r.per_question:+.3f} [{r.per_question_low:+.3f}, {r.per_question_high:+.3f}]",
            str(r.n_questions),
            f"{r.aggregate:+.3f} [{r.aggregate_low:+.3f}, {r.aggregate_high:+.3f}]",
        )
    out.print(view)
    for note in result.notes:
        out.print(f"note: {note}", highlight=False, markup=False)
