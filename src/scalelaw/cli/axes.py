"""``scalelaw solve``: where along one input a fitted law reaches a target, on any axis (docs/axes.md).

Registered on the app by :mod:`scalelaw.cli`; the work is :func:`scalelaw.decisions.solve.solve`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from scalelaw._validation import check_level
from scalelaw.cli.common import (
    DrawSeedOption,
    IntervalKind,
    check_interval_kind,
    load_fit,
    out,
    parse_at,
    parse_floats,
    print_json,
    run_action,
    with_progress,
)
from scalelaw.cli.render import records_view
from scalelaw.errors import DataError


def solve(
    fit_file: Annotated[Path, typer.Argument(help="Fit JSON of any law (scalelaw fit --out).")],
    target: Annotated[
        list[str], typer.Option(help="Value(s) of the fitted column to reach, e.g. a loss (repeatable or a,b).")
    ],
    for_: Annotated[
        str | None, typer.Option("--for", help="Input to solve for (default: the law's only input).")
    ] = None,
    at: Annotated[
        str | None, typer.Option(help="Values of the law's other inputs, held fixed: 'params=1e9,datastore=1e11'.")
    ] = None,
    search: Annotated[
        str | None, typer.Option(help="Range of the input searched, 'LOW:HIGH' (default: the data's, widened).")
    ] = None,
    interval: Annotated[
        float | None, typer.Option(help="Interval level (by-run bootstrap of the solution); 0 for none.")
    ] = 0.9,
    interval_kind: IntervalKind = "total",
    n_boot: Annotated[
        int | None,
        typer.Option(help="Bootstrap replicates for the interval (default: those saved in the fit file, else 1000)."),
    ] = None,
    seed: DrawSeedOption = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object to stdout and nothing else.")] = False,
) -> None:
    """Solve a fitted law for a target: the value of one input (compute, hours, samples, ...) that reaches it."""
    from scalelaw.decisions.solve import solve as solve_law

    check_interval_kind(interval_kind)
    level = interval or None

    def action():
        if level is not None:
            check_level(level, "--interval")
        result = load_fit(fit_file)
        targets = parse_floats(target, "--target")
        fixed = parse_at([at])[0] if at else {}
        span = _span(search)
        plan = with_progress(
            lambda progress: solve_law(
                result, targets, for_, fixed, level=level, n_boot=n_boot, seed=seed, kind=interval_kind, search=span
            ),
            "bootstrap",
            quiet=as_json or level is None,
        )
        return result, plan

    result, plan = run_action(action)
    records = plan.to_records()
    if as_json:
        payload: dict[str, Any] = {"law": result.law.name, "y": result.y, "method": plan.method}
        if plan.level is not None:
            payload.update(level=plan.level, interval_kind=plan.interval_kind)
        print_json({**payload, "solutions": records, "notes": list(plan.notes)})
        return
    intervals = f"; {plan.level:.0%} {plan.interval_kind} intervals" if plan.level is not None else ""
    out.print(records_view(f"Where {result.law.name} reaches the target ({plan.method}{intervals})", records))
    for note in plan.notes:
        out.print(f"note: {note}", style="dim", highlight=False, markup=False)


def _span(text: str | None) -> tuple[float, float] | None:
    """``--search LOW:HIGH`` as a pair of floats (checked by the solver)."""
    if text is None:
        return None
    try:
        low, high = (float(v) for v in text.split(":"))
    except ValueError:
        raise DataError(f"--search must look like 1e18:1e26 (LOW:HIGH), not {text!r}") from None
    return low, high
