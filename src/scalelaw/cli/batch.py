"""Commands on batch size and learning rate: ``critical-batch`` (Kaplan 2020 / McCandlish 2018) and
``lr-sensitivity`` (Wortsman 2023), over :mod:`scalelaw.decisions.critical_batch` and
:mod:`scalelaw.decisions.learning_rate`. Registered on the app by :mod:`scalelaw.cli` (:func:`register`).
"""

from __future__ import annotations

import math
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from scalelaw.cli.common import (
    Command,
    DataOptions,
    IntervalOption,
    JsonOption,
    MapOption,
    SeedOption,
    WhereOption,
    out,
    parse_floats,
    parse_list,
    print_json,
    run_action,
    show,
)


def _short(value: float) -> str:
    """4 significant digits, so the tables fit 80 columns; "—" for a missing value."""
    return f"{value:.4g}" if value is not None and math.isfinite(value) else "—"


BootOption = Annotated[int, typer.Option(help="By-run bootstrap replicates.")]


def critical_batch(
    data: Annotated[
        str,
        typer.Argument(help="Loss curves (run, step, batch_size, loss; tokens optional): a file or -."),
    ],
    targets: Annotated[
        str | None, typer.Option(help="Target losses, comma-separated (default: 8 past the early transient).")
    ] = None,
    tokens: Annotated[
        str | None, typer.Option(help="Column of tokens seen: B_crit in tokens (default: in batch_size units).")
    ] = None,
    by: Annotated[str, typer.Option(help="Column telling models apart: one hyperbola per model and target.")] = (
        "params"
    ),
    at: Annotated[str | None, typer.Option(help="Also give B_crit at these losses, comma-separated.")] = None,
    mapping: MapOption = None,
    where: WhereOption = None,
    interval: IntervalOption = 0.9,
    n_boot: BootOption = 1000,
    seed: SeedOption = 0,
    as_json: JsonOption = False,
) -> None:
    """Critical batch size B_crit(L) = B_*/L^(1/alpha_B) from runs at several batch sizes (Kaplan 2020 sec. 5)."""
    from scalelaw.decisions.critical_batch import fit_critical_batch

    def action():
        runs = DataOptions(mapping, where).load(data, "loss")
        goals = parse_floats(parse_list(targets), "--targets") if targets else None
        fitted = fit_critical_batch(
            runs, goals, tokens=tokens, by=by, n_boot=n_boot, level=interval if interval > 0 else None, seed=seed
        )
        losses = parse_floats(parse_list(at), "--at") if at else []
        return fitted, fitted.b_crit_interval(losses) if losses else None

    fitted, band = run_action(action)
    if as_json:
        payload = {"data": data, **fitted.to_dict()}
        payload["at"] = None if band is None else band.to_dict(orient="records")
        print_json(payload)
        return
    view = Table(title=escape(f"Per target loss ({fitted.unit})"), title_justify="left", show_edge=False)
    for col in ("target", "S_min", "E_min", "B_crit", "low", "high", "batches"):
        view.add_column(col, justify="right")
    for r in fitted.table.itertuples(index=False):
        cells = (r.target, r.s_min, r.e_min, r.b_crit, r.b_crit_low, r.b_crit_high)
        view.add_row(*(_short(v) for v in cells), str(r.n_batches))
    out.print(view)
    for r in () if band is None else band.itertuples(index=False):
        out.print(f"B_crit({r.loss:g}) = {_short(r.b_crit)} [{_short(r.low)}, {_short(r.high)}]")
    out.print(fitted.summary(), highlight=False, markup=False)


def lr_sensitivity(
    data: Annotated[str, typer.Argument(help="Runs of a learning-rate sweep (lr, loss, model size): a file or -.")],
    size: Annotated[str, typer.Option(help="Model-size column.")] = "params",
    initial_loss: Annotated[
        float | None, typer.Option(help="Loss at initialization L0 (e.g. ln of the vocabulary): caps every loss.")
    ] = None,
    lr_range: Annotated[
        str | None, typer.Option(help="LOW,HIGH learning rates to average over (default: the range all sizes share).")
    ] = None,
    method: Annotated[str, typer.Option(help="trapezoid (on log lr) or grid (mean of the sweep's points).")] = (
        "trapezoid"
    ),
    mapping: MapOption = None,
    where: WhereOption = None,
    interval: IntervalOption = 0.9,
    n_boot: BootOption = 1000,
    seed: SeedOption = 0,
    as_json: JsonOption = False,
) -> None:
    """Learning-rate sensitivity E[min(L(lr), L0) - L*] per model size and its trend (Wortsman et al. 2023)."""
    from scalelaw.decisions.learning_rate import lr_sensitivity as compute
    from scalelaw.errors import DataError

    def action():
        runs = DataOptions(mapping, where).load(data)  # runs without a loss (diverged) count as --initial-loss
        bounds = parse_floats(parse_list(lr_range), "--lr-range") if lr_range else None
        if bounds is not None and len(bounds) != 2:
            raise DataError(f"--lr-range takes two numbers LOW,HIGH, got {lr_range!r}")
        level = interval if interval > 0 else None
        return compute(
            runs, size=size, initial_loss=initial_loss, lr_range=tuple(bounds) if bounds else None,
            method=method, n_boot=n_boot, level=level, seed=seed,
        )  # fmt: skip

    show(run_action(action), as_json, _render_lr_sensitivity, data=data)


def _render_lr_sensitivity(result) -> None:
    size = result.size
    view = Table(title=escape(f"LR sensitivity per {size} ({result.method})"), title_justify="left")
    for col in (size, "sensitivity", "low", "high", "best lr", "best loss", "lrs"):
        view.add_column(col, justify="right")
    for r in result.table.to_dict(orient="records"):
        cells = (r[size], r["sensitivity"], r["low"], r["high"], r["best_lr"], r["best_loss"])
        view.add_row(*(_short(v) for v in cells), str(r["n_lrs"]))
    out.print(view)
    out.print(result.summary().splitlines()[0], *result.notes, sep="\n", highlight=False, markup=False)


def register(app: typer.Typer) -> None:
    """Add ``critical-batch`` and ``lr-sensitivity`` to ``app``."""
    app.command("critical-batch", cls=Command)(critical_batch)
    app.command("lr-sensitivity", cls=Command)(lr_sensitivity)
