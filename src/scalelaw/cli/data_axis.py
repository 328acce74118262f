"""Data-axis commands: ``prune`` (Sorscher 2022), ``pools`` (Goyal 2024) and ``repeats`` (Hernandez 2022).

The library's :mod:`scalelaw.topics.pruning`, :mod:`scalelaw.topics.data_pools` and
:mod:`scalelaw.topics.repeated_data`; :func:`register` adds the commands to the app.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from scalelaw.cli.common import (
    Command,
    JsonOption,
    LevelOption,
    SeedOption,
    out,
    parse_floats,
    parse_list,
    print_json,
    read_table_or_dataset,
    run_action,
)
from scalelaw.cli.render import fmt_number

BootOption = Annotated[int, typer.Option(help="By-run bootstrap refits behind the intervals (0 for none).")]


def prune(
    data: Annotated[
        str,
        typer.Argument(help="Runs: kept examples, error and keep fraction per row (a file or dataset:NAME)."),
    ],
    x: Annotated[str, typer.Option("--x", help="Kept-examples column (raw counts work).")] = "examples",
    y: Annotated[str, typer.Option("--y", help="Error (or loss) column.")] = "error",
    keep: Annotated[
        str, typer.Option(help="Keep-fraction column; each fraction is studied apart (absent: one group).")
    ] = "keep_fraction",
    holdout: Annotated[float, typer.Option(help="Share of the largest kept sizes the backtest holds out.")] = 0.2,
    n_boot: BootOption = 200,
    level: LevelOption = 0.9,
    seed: SeedOption = 0,
    as_json: JsonOption = False,
) -> None:
    """Power law or exponential? Error vs kept examples after data pruning, per keep fraction (Sorscher 2022)."""
    from scalelaw.topics.pruning import prune as study_pruning

    study = run_action(
        lambda: study_pruning(
            read_table_or_dataset(data), x, y, keep, holdout=holdout, n_boot=n_boot, level=level, seed=seed
        )
    )
    if as_json:
        print_json(study.to_dict())
        return
    table = Table(title=f"{escape(y)} vs kept {escape(x)}: power law or exponential ({level:.0%} intervals)")
    for col in (
        "keep",
        "verdict",
        "alpha",
        "alpha interval",
        "rate /example",
        "rate interval",
        "backtest power",
        "backtest exp",
    ):
        table.add_column(col, justify="right")
    for r in study.table.itertuples():
        table.add_row(
            escape(r.keep_fraction),
            r.verdict,
            fmt_number(r.alpha),
            f"[{fmt_number(r.alpha_low)}, {fmt_number(r.alpha_high)}]",
            fmt_number(r.rate),
            f"[{fmt_number(r.rate_low)}, {fmt_number(r.rate_high)}]",
            f"{r.backtest_power:.2%}",
            f"{r.backtest_exponential:.2%}",
        )
    out.print(table)
    for r in study.table.itertuples():
        out.print(f"keep {escape(r.keep_fraction)}: {r.verdict} ({escape(r.reason)})", highlight=False)
        if r.warning:
            out.print(f"[yellow]warning:[/] {escape(r.warning)}", highlight=False)


def pools(
    data: Annotated[
        str,
        typer.Argument(
            help="Pool parameters (pool, size, b, tau [, a, d]) or pool runs (pool, samples, pool_size, error)."
        ),
    ],
    budget: Annotated[str, typer.Option(help="Sample budgets, comma-separated (e.g. 32e6,640e6).")],
    a: Annotated[float | None, typer.Option(help="Shared scale a of samples (parameter tables).")] = None,
    d: Annotated[float | None, typer.Option(help="Irreducible error d, shared (fixed when fitting runs).")] = None,
    n_boot: BootOption = 200,
    level: LevelOption = 0.9,
    seed: SeedOption = 0,
    as_json: JsonOption = False,
) -> None:
    """Best mix of data pools for a sample budget: quality x repetition utility (Goyal et al. 2024)."""
    from scalelaw.topics.data_pools import best_pool_mix, fit_pools

    def action():
        table = read_table_or_dataset(data)
        budgets = parse_floats(parse_list(budget), "--budget")
        if {"b", "tau"} <= set(table.columns):
            return best_pool_mix(table, budgets, a=a, d=d, level=level)
        params, reps = fit_pools(table, d=d, n_boot=n_boot, seed=seed)
        return best_pool_mix(params, budgets, replicates=reps, level=level)

    mix = run_action(action)
    if as_json:
        print_json(mix.to_dict())
        return
    table = Table(title=f"Predicted error per pool mix ({level:.0%} intervals)")
    for col in ("budget", "mix", "epochs", "error", "low", "high", "best share"):
        table.add_column(col, justify="right")
    for r in mix.table.to_dict("records"):
        mark = "[bold]*[/] " if r["best"] else ""
        table.add_row(
            f"{r['budget']:.3g}",
            mark + escape(r["mix"]),
            f"{r['epochs']:.3g}",
            fmt_number(r["error"]),
            *(fmt_number(r.get(c, float("nan"))) for c in ("low", "high", "share_best")),
        )
    out.print(table)
    out.print(escape(mix.summary().splitlines()[0]), highlight=False)


def repeats(
    data: Annotated[str, typer.Argument(help="Runs: params, loss and repeated_fraction (0 for unique-data runs).")],
    params: Annotated[str, typer.Option(help="Model-size column.")] = "params",
    y: Annotated[str, typer.Option("--y", help="Loss column.")] = "loss",
    repeated: Annotated[str, typer.Option(help="Column of the fraction of tokens that are repeats.")] = (
        "repeated_fraction"
    ),
    n_boot: BootOption = 200,
    level: LevelOption = 0.9,
    seed: SeedOption = 0,
    as_json: JsonOption = False,
) -> None:
    """Effective model size of runs on partially repeated data, against unique-data runs (Hernandez 2022)."""
    from scalelaw.topics.repeated_data import repeated_damage

    damage = run_action(
        lambda: repeated_damage(read_table_or_dataset(data), params, y, repeated, n_boot=n_boot, level=level, seed=seed)
    )
    if as_json:
        print_json(damage.to_dict())
        return
    table = Table(title=f"Effective model size under repeated data ({level:.0%} intervals)")
    for col in ("params", "repeated", "loss", "effective params", "size ratio", "interval"):
        table.add_column(col, justify="right")
    for r in damage.table.to_dict("records"):
        table.add_row(
            fmt_number(r["params"]),
            fmt_number(r["repeated_fraction"]),
            fmt_number(r[y]),
            fmt_number(r["params_effective"]),
            fmt_number(r["size_ratio"]),
            f"[{fmt_number(r['size_ratio_low'])}, {fmt_number(r['size_ratio_high'])}]",
        )
    out.print(table)


def register(app: typer.Typer) -> None:
    """Add ``prune``, ``pools`` and ``repeats`` to ``app``."""
    for command in (prune, pools, repeats):
        app.command(cls=Command)(command)
