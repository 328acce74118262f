"""Test-time compute commands: ``verify`` (resampling with an imperfect verifier: the best k) and ``allocate``
(model size or samples at a fixed inference budget). Thin wrappers over :mod:`scalelaw.topics.verifier` and
:mod:`scalelaw.topics.allocation`; registered on the app by :mod:`scalelaw.cli`.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from scalelaw.cli.common import (
    JsonOption,
    LevelOption,
    SeedOption,
    out,
    parse_floats,
    parse_ks,
    parse_list,
    parse_number_pairs,
    run_action,
    show,
)
from scalelaw.cli.render import fmt_number

_MAP_HELP = "Rename columns: 'task_id=problem' (repeatable)."


def verify(
    data: Annotated[
        str,
        typer.Argument(
            help="Samples table: one row per sample (problem, correct, passed) or per problem "
            "(n_samples, n_passed, n_correct_passed)."
        ),
    ],
    cost: Annotated[float, typer.Option(help="Cost of a false positive; a correct answer is worth 1.")] = 1.0,
    k: Annotated[
        str | None, typer.Option("--k", help="Sample budgets fitted, comma-separated (default: 25 log-spaced).")
    ] = None,
    k_max: Annotated[
        int | None, typer.Option("--k-max", help="Largest budget searched for the best k (default: the data's).")
    ] = None,
    mapping: Annotated[list[str] | None, typer.Option("--map", help=_MAP_HELP)] = None,
    n_boot: Annotated[int, typer.Option(help="Bootstrap resamples of the problems.")] = 200,
    level: LevelOption = 0.9,
    seed: SeedOption = 0,
    as_json: JsonOption = False,
) -> None:
    """Resample until a verifier passes: accuracy, false positives and reward vs k, and the best k (Stroebl 2024)."""
    from scalelaw.topics.verifier import fit_verifier

    def action():
        return fit_verifier(data, cost, parse_ks(k), k_max, n_boot=n_boot, level=level, seed=seed, mapping=mapping)

    show(run_action(action), as_json, lambda result: _render_verify(result, cost, level))


def _render_verify(result, cost: float, level: float) -> None:
    table = Table(title=f"reward vs samples (false positive cost {cost:g}, {level:.0%} interval)")
    for col in ("k", "accuracy", "false pos.", "abstain", "reward", "low", "high", "law"):
        table.add_column(col, justify="right")
    law = result.reward(result.curve["samples"].to_numpy())
    for row, fitted in zip(result.curve.itertuples(index=False), law, strict=True):
        values = (row.accuracy, row.false_positive, row.abstain, row.reward, row.low, row.high, fitted)
        table.add_row(str(row.samples), *(f"{v:.4f}" for v in values))
    out.print(table)
    out.print(f"{result.law.formula()}", highlight=False, markup=False)
    out.print(result.summary(), highlight=False, markup=False)


def allocate(
    data: Annotated[
        str,
        typer.Argument(
            help="Samples of several models on the same problems: a model-size column (params) and per problem "
            "(n_samples, n_correct) or per sample (problem, correct)."
        ),
    ],
    budget: Annotated[
        str, typer.Option("--budget", help="Inference FLOPs per problem, comma-separated for several budgets.")
    ],
    tokens_per_sample: Annotated[
        float, typer.Option("--tokens-per-sample", help="Tokens generated per sample: a sample costs 2*N*tokens.")
    ] = 1000.0,
    size: Annotated[str, typer.Option(help="Column of model sizes (parameters).")] = "params",
    sample_cost: Annotated[
        list[str] | None,
        typer.Option("--sample-cost", help="Measured cost of one sample of a model, SIZE=COST (repeatable)."),
    ] = None,
    mapping: Annotated[list[str] | None, typer.Option("--map", help=_MAP_HELP)] = None,
    n_boot: Annotated[int, typer.Option(help="Bootstrap resamples of the problems (shared by the models).")] = 200,
    level: LevelOption = 0.9,
    seed: SeedOption = 0,
    as_json: JsonOption = False,
) -> None:
    """Model size or more samples: the (N, k) with the most coverage at a fixed inference budget per problem."""
    from scalelaw.topics.allocation import allocate as allocate_

    def action():
        budgets = parse_floats(parse_list(budget), "--budget")
        costs = parse_number_pairs(sample_cost, "--sample-cost", "costs per sample, e.g. --sample-cost 1e9=2e12")
        costs = {float(parse_floats([n], "--sample-cost")[0]): c for n, c in costs.items()}
        return allocate_(data, budgets, tokens_per_sample, size, costs, n_boot, level, seed, mapping)

    show(run_action(action), as_json, lambda result: _render_allocation(result, tokens_per_sample, level))


def _render_allocation(result, tokens_per_sample: float, level: float) -> None:
    table = Table(title=f"coverage at a fixed budget ({tokens_per_sample:g} tokens per sample, {level:.0%} interval)")
    for col in ("budget", "params", "samples", "coverage", "low", "high", "best in", ""):
        table.add_column(col, justify="right")
    for row in result.table.itertuples(index=False):
        values = (row.budget, row.params, row.samples, row.coverage, row.low, row.high)
        table.add_row(*map(fmt_number, values), f"{row.p_best:.0%}", "best" if row.best else "")
    out.print(table)
    out.print(result.summary(), highlight=False, markup=False)
