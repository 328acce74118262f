"""Commands that decide from a fit: ``plan``, ``compare``, ``suggest``, ``isoflop`` and ``fp-plan``. Registered on
the app by :mod:`scalelaw.cli`.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from scalelaw._validation import check_level
from scalelaw.cli.common import (
    DataOptions,
    DrawSeedOption,
    DropEarlyOption,
    IntervalKind,
    MapOption,
    WhereOption,
    check_interval_kind,
    load_fit,
    out,
    parse_floats,
    parse_law,
    parse_number_pairs,
    print_json,
    run_action,
    with_progress,
)
from scalelaw.cli.render import cell, records_view
from scalelaw.errors import DataError


def plan(
    fit_file: Annotated[
        Path,
        typer.Argument(help="Fit JSON of a law of params and tokens, or of one input for --target-loss (fit --out)."),
    ],
    flops: Annotated[
        list[str] | None, typer.Option(help="Training budget(s) in FLOPs (repeatable or comma-separated).")
    ] = None,
    target_loss: Annotated[
        float | None,
        typer.Option(help="Compute, N and D needed to reach this loss (a law of one input: where along it)."),
    ] = None,
    inference_tokens: Annotated[
        float | None, typer.Option(help="Tokens the model will serve: cheapest model for the target (or --flops) loss.")
    ] = None,
    unique_tokens: Annotated[
        float | None, typer.Option(help="Unique tokens available (data_constrained law): best N and epochs.")
    ] = None,
    precision: Annotated[
        bool,
        typer.Option(
            "--precision",
            help="Precision law: compute-optimal training bit-width P*, N* and D* at --flops (compute grows "
            "as bits/16).",
        ),
    ] = False,
    bits_post: Annotated[
        float | None,
        typer.Option(
            "--bits-post",
            help="Precision law with PTQ: tokens past which more pre-training raises the loss after "
            "post-training quantization to this many bits (needs --params).",
        ),
    ] = None,
    params: Annotated[
        list[str] | None, typer.Option(help="Model size(s) for --bits-post (repeatable or comma-separated).")
    ] = None,
    bits: Annotated[
        list[str] | None,
        typer.Option(
            "--bits",
            help="Precision law: training bit-width of a precision column, NAME=BITS, e.g. bits_w=16 "
            "(repeatable). --bits-post needs one per column; with --precision it fixes that column.",
        ),
    ] = None,
    bits_range: Annotated[
        str | None, typer.Option("--bits-range", help="With --precision: bit-widths searched, LOW:HIGH (default 1:32).")
    ] = None,
    interval: Annotated[
        float | None, typer.Option(help="Add by-run bootstrap intervals at this level, e.g. 0.9.")
    ] = None,
    interval_kind: IntervalKind = "total",
    n_boot: Annotated[
        int | None,
        typer.Option(help="Bootstrap replicates for --interval (default: those saved in the fit file, else 1000)."),
    ] = None,
    seed: DrawSeedOption = 0,
    flops_per_token: Annotated[float, typer.Option("--k", help="Training FLOPs per parameter per token.")] = 6.0,
    max_decades: Annotated[
        float, typer.Option(help="Warn when a plan lies more than this many decades of compute beyond the data.")
    ] = 1.5,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object to stdout and nothing else.")] = False,
) -> None:
    """Plan the next run: compute-optimal N and D, compute for a loss, inference-aware, data-limited or precision."""
    from scalelaw.decisions.plan import plan_records

    check_interval_kind(interval_kind)

    def action():
        if interval is not None:
            check_level(interval, "--interval")
        result = load_fit(fit_file)
        budgets = parse_floats(flops, "--flops")
        settings: dict[str, Any] = dict(level=interval, n_boot=n_boot, seed=seed)
        asked = _precision_request(precision, bits_post, params, bits, bits_range)
        if asked is None:
            _refuse_precision_fit(result)  # its decisions need bit-widths: point to the flags that take them
            kind, run = _allocation(result, budgets, target_loss, inference_tokens, unique_tokens, flops_per_token)
            settings["kind"] = interval_kind
        else:
            others = {"--target-loss": target_loss, "--inference-tokens": inference_tokens}
            clash = [name for name, v in {**others, "--unique-tokens": unique_tokens}.items() if v is not None]
            if clash:
                raise DataError(f"{asked} cannot be combined with {', '.join(clash)}")
            settings["k"] = flops_per_token
            kind, run = _precision_plan(result, asked, budgets, bits_post, params, bits, bits_range)
        answer = with_progress(lambda progress: run(**settings), "bootstrap", quiet=as_json or interval is None)
        return result, kind, _parameter_only(answer, interval_kind), plan_records(result, answer, max_decades)

    result, kind, answer, records = run_action(action)
    if as_json:
        payload: dict[str, Any] = {"law": result.law.name, "kind": kind, "method": answer.method, "plans": records}
        if answer.level is not None:
            payload["level"] = answer.level
            payload["interval_kind"] = answer.interval_kind
        if len(records) == 1:
            payload.update(records[0])
        payload["notes"] = list(answer.notes)
        print_json(payload)
        return
    _render_plan(result, kind, answer, records)


def _parameter_only(answer, asked: str):
    """A plan whose intervals are made without ``kind`` (the precision plans): the parameter interval, said."""
    if answer.level is None or answer.interval_kind is not None:
        return answer
    notes = answer.notes
    if asked == "total":
        notes += ("precision plans have no model of the law's error beyond the data: these are parameter intervals",)
    return dataclasses.replace(answer, interval_kind="parameter", notes=notes)


def _allocation(
    result,
    budgets: list[float],
    target_loss: float | None,
    inference_tokens: float | None,
    unique_tokens: float | None,
    k: float,
) -> tuple[str, Callable[..., Any]]:
    """Kind and call (taking the interval settings) of a plan of N and D that the options ask for."""
    from scalelaw.decisions import plan as planning
    from scalelaw.decisions.inference import inference_optimal

    if inference_tokens is not None:
        if target_loss is None and len(budgets) != 1:
            raise DataError("--inference-tokens needs --target-loss or exactly one --flops")
        flops = None if target_loss is not None else budgets[0]
        return "inference", lambda **settings: inference_optimal(
            result, inference_tokens, target_loss=target_loss, flops=flops, k_train=k, **settings
        )
    if target_loss is not None:
        if len(result.law.inputs) == 1 and result.law.input_for("N") is None:  # no (N, D) form: invert the law
            from scalelaw.decisions.solve import solve

            return "solve", lambda **settings: solve(result, target_loss, **settings)
        return "target", lambda **settings: planning.compute_for_loss(result, target_loss, k=k, **settings)
    if unique_tokens is not None:
        if len(budgets) != 1:
            raise DataError("--unique-tokens needs exactly one --flops budget")
        return "data_limited", lambda **settings: planning.data_limited(
            result, budgets[0], unique_tokens, k=k, **settings
        )
    if not budgets:
        raise DataError("give --flops BUDGET (or --target-loss, --inference-tokens, --unique-tokens)")
    return "compute_optimal", lambda **settings: planning.compute_optimal(result, budgets, k=k, **settings)


_PLAN_TITLES = {
    "compute_optimal": "Compute-optimal allocation",
    "target": "Compute needed for the target loss",
    "solve": "Where the law reaches the target loss",
    "inference": "Inference-aware allocation",
    "data_limited": "Data-limited allocation",
    "precision": "Compute-optimal training precision",
    "critical_tokens": "Critical tokens after post-training quantization",
}

_PRECISION_LEGEND = {
    "precision": "bits_opt: training bit-width that minimizes the loss at the budget, with compute "
    "k·N·D·bits/16; *_ref: the compute-optimal allocation at 16 bits for comparison.",
    "critical_tokens": "tokens_crit: past this many training tokens, more pre-training raises the loss of the "
    "post-quantized model; loss_crit is that loss at tokens_crit.",
}


def _render_plan(result, kind: str, answer, records: list[dict[str, Any]]) -> None:
    intervals = f"; {answer.level:.0%} {answer.interval_kind} intervals" if answer.level is not None else ""
    out.print(records_view(f"{_PLAN_TITLES[kind]} ({result.law.name}; {answer.method}{intervals})", records))
    for note in answer.notes:
        out.print(f"note: {note}", style="dim", highlight=False, markup=False)
    if kind in _PRECISION_LEGEND:
        out.print(_PRECISION_LEGEND[kind], style="dim", highlight=False)
    for i, rec in enumerate(records):
        if "extrapolation" in rec and "decades_compute" in rec["extrapolation"]:
            label = f"#{i + 1}: " if len(records) > 1 else ""
            decades = rec["extrapolation"]["decades_compute"]
            out.print(f"{label}{decades:+.2f} decades of compute beyond the largest run", style="dim", highlight=False)


def _precision_request(
    precision: bool,
    bits_post: float | None,
    params: list[str] | None,
    bits: list[str] | None,
    bits_range: str | None,
) -> str | None:
    """Which precision decision the options ask for (``--precision``, ``--bits-post`` or none); bad mixes fail."""
    if precision and bits_post is not None:
        raise DataError("--precision and --bits-post are two decisions; give one of them")
    asked = "--precision" if precision else "--bits-post" if bits_post is not None else None
    if params and asked != "--bits-post":
        raise DataError("--params goes with --bits-post B (the model sizes whose critical tokens to find)")
    if bits_range is not None and asked != "--precision":
        raise DataError("--bits-range goes with --precision (the training bit-widths searched)")
    if bits and asked is None:
        raise DataError("--bits goes with --precision or --bits-post (a precision-law fit)")
    return asked


def _refuse_precision_fit(result) -> None:
    from scalelaw.laws.precision import PrecisionLaw

    if isinstance(result.law, PrecisionLaw):
        raise DataError(
            "this is a fit of the precision law: plan it with --precision --flops C (optimal training bit-width) "
            "or --bits-post B --params N (critical tokens after post-training quantization)"
        )


def _precision_plan(
    result,
    asked: str,
    budgets: list[float],
    bits_post: float | None,
    params: list[str] | None,
    bits: list[str] | None,
    bits_range: str | None,
) -> tuple[str, Callable[..., Any]]:
    """Kind and call (taking k and the interval settings) of a ``--precision``/``--bits-post`` plan."""
    from scalelaw.decisions import precision as precision_plans
    from scalelaw.laws.precision import PrecisionLaw

    law = result.law
    if not isinstance(law, PrecisionLaw):
        raise DataError(
            f"{asked} needs a fit of the 'precision' law, but the fit file holds {law.name!r}; fit one with "
            "scalelaw fit DATA --law precision --out fit.json"
        )
    given = _parse_bits(bits, law)
    if asked == "--precision":
        if not budgets:
            raise DataError("--precision needs --flops C, the training budget(s) in 16-bit FLOPs")
        vary = [c for c in law.bits if c not in given]
        if not vary:
            raise DataError(f"--bits fixes every precision column ({', '.join(law.bits)}); leave one to optimize")
        search = _bits_range(bits_range)
        return "precision", lambda **settings: precision_plans.optimal_precision(
            result, budgets, bits_range=search, vary=vary, fixed=given, **settings
        )
    sizes = _critical_sizes(law, budgets, params, bits_post, given)

    def run(k: float, **settings: Any):  # k plays no part in the critical tokens
        import numpy as np

        return precision_plans.critical_tokens(result, np.array(sizes), bits_post, **settings, **given)

    return "critical_tokens", run


def _parse_bits(bits: list[str] | None, law) -> dict[str, float]:
    """``--bits bits_w=8 --bits bits_a=8`` (or ``bits_w=8,bits_a=8``) as checked training bit-widths."""
    items = [part for item in bits or [] for part in item.split(",") if part.strip()]
    given = parse_number_pairs(items, "--bits", "bit-widths, e.g. bits_w=16")
    unknown = sorted(set(given) - set(law.bits))
    if unknown:
        raise DataError(f"--bits names {', '.join(unknown)}; this fit's precision columns are {', '.join(law.bits)}")
    bad = [f"{name}={value:g}" for name, value in given.items() if not (math.isfinite(value) and value > 0)]
    if bad:
        raise DataError(f"--bits {', '.join(bad)}: bit-widths must be finite and > 0 (16 for bfloat16, 32 for float32)")
    return given


def _critical_sizes(
    law, budgets: list[float], params: list[str] | None, bits_post: float | None, given: dict[str, float]
) -> list[float]:
    """``--bits-post``: the model sizes whose critical tokens to find, once its other options check out."""
    if budgets:
        raise DataError("--bits-post finds the critical tokens of given model sizes: use --params N, not --flops")
    sizes = parse_floats(params, "--params")
    if not sizes:
        raise DataError("--bits-post needs --params N, the model size(s) to quantize (e.g. --params 1e9)")
    if not (bits_post is not None and math.isfinite(bits_post) and bits_post > 0):
        raise DataError(f"--bits-post must be a bit-width > 0, e.g. 4, got {bits_post}")
    if not law.ptq:
        raise DataError(
            "--bits-post needs the post-training-quantization term: refit with --law precision --law-option "
            "ptq=true on runs with a bits_post column"
        )
    missing = [c for c in law.bits if c not in given]
    if missing:
        example = " ".join(f"--bits {c}=16" for c in missing)
        raise DataError(f"--bits-post needs the training bit-width of {', '.join(missing)}, e.g. {example}")
    return sizes


def _bits_range(text: str | None) -> tuple[float, float]:
    if text is None:
        return (1.0, 32.0)
    try:
        low, high = (float(v) for v in text.split(":"))
    except ValueError:
        raise DataError(f"--bits-range must look like 4:16 (LOW:HIGH bits), not {text!r}") from None
    if not (0 < low < high and math.isfinite(high)):
        raise DataError(f"--bits-range needs 0 < LOW < HIGH, e.g. 4:16; got {text!r}")
    return low, high


def compare(
    fit_a: Annotated[Path, typer.Argument(help="Fit JSON of method A (the baseline).")],
    fit_b: Annotated[Path, typer.Argument(help="Fit JSON of method B (the challenger).")],
    flops: Annotated[
        list[str] | None,
        typer.Option(
            "--flops",
            "--at",
            help="Budgets for the effective-compute multiplier, or points of the fits' shared axis (e.g. hours).",
        ),
    ] = None,
    search: Annotated[
        str | None,
        typer.Option(help="Range searched for crossovers, 'LOW:HIGH' (default 1e15:1e30 FLOPs, else the data's)."),
    ] = None,
    interval: Annotated[float | None, typer.Option(help="Add bootstrap intervals at this level, e.g. 0.9.")] = None,
    interval_kind: IntervalKind = "total",
    n_boot: Annotated[
        int | None,
        typer.Option(help="Bootstrap replicates per fit for --interval (default: those saved in its file, else 500)."),
    ] = None,
    seed: DrawSeedOption = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object to stdout and nothing else.")] = False,
) -> None:
    """Where method B overtakes method A, and B's effective-compute multiplier over A."""
    from scalelaw.decisions import plan as planning

    check_interval_kind(interval_kind)

    def action():
        a, b = load_fit(fit_a), load_fit(fit_b)
        try:
            span = None if search is None else tuple(float(v) for v in search.split(":"))
        except ValueError:
            raise DataError(f"--search must look like 1e15:1e30, not {search!r}") from None
        budgets = parse_floats(flops, "--flops") or None
        return with_progress(
            lambda progress: planning.compare(
                a, b, budgets, span, level=interval, n_boot=n_boot, seed=seed, kind=interval_kind
            ),
            "bootstrap",
            quiet=as_json or interval is None,
        )

    cmp = run_action(action)
    records = planning.Plan(cmp.table, cmp.level, "", inputs=(cmp.axis,)).to_records()
    if as_json:
        payload = {
            "axis": cmp.axis,
            "crossovers": list(cmp.crossovers),
            "crossover_interval": list(cmp.crossover_interval) if cmp.crossover_interval else None,
            "crossover_share": cmp.crossover_share,
            **({"level": cmp.level, "interval_kind": cmp.interval_kind} if cmp.level is not None else {}),
            "budgets": records,
            "notes": list(cmp.notes),
        }
        print_json(payload)
        return
    _render_compare(cmp, records)


def _render_compare(cmp, records: list[dict[str, Any]]) -> None:
    words = "FLOPs" if cmp.axis == "flops" else cmp.axis
    if cmp.crossovers:
        text = ", ".join(f"{c:.3g}" for c in cmp.crossovers)
        extra = ""
        if cmp.crossover_interval:
            low, high = cmp.crossover_interval
            extra = (
                f" (first crossover {cmp.level:.0%} {cmp.interval_kind} interval {low:.3g} to {high:.3g}; "
                f"{cmp.crossover_share:.0%} of bootstrap pairs cross)"
            )
        out.print(escape(f"B and A cross at {text} {words}{extra}"), highlight=False)
    for note in cmp.notes:
        out.print(note, highlight=False, markup=False)
    kind = f"; {cmp.level:.0%} {cmp.interval_kind} intervals" if cmp.level is not None else ""
    what = "compute" if cmp.axis == "flops" else escape(cmp.axis)
    view = Table(title=f"Effective {what} of B over A (x > 1: B is better{kind})", title_justify="left")
    for col in (escape(words), "best loss A", "best loss B", "multiplier"):
        view.add_column(col, justify="right")
    for rec in records:
        cells = [f"{rec[cmp.axis]:.3g}"]
        cells += [cell(rec[key]) for key in ("loss_a", "loss_b", "multiplier")]
        view.add_row(*cells)
    out.print(view)


def suggest(
    fit_file: Annotated[
        Path | None, typer.Argument(help="Fit JSON of the current runs (omit with --cold-start).")
    ] = None,
    budget: Annotated[float, typer.Option(help="Total FLOPs available for the new runs.")] = 0.0,
    target: Annotated[
        str, typer.Option(help="Decision to protect: 'plan:flops=1e24' or 'predict:params=7e10,tokens=1.4e12'.")
    ] = "plan:flops=1e24",
    sizes: Annotated[str | None, typer.Option(help="Allowed model sizes, comma-separated (e.g. 1e8,3e8,1e9).")] = None,
    max_flops_per_run: Annotated[float | None, typer.Option(help="Largest compute one run may use.")] = None,
    max_runs: Annotated[int, typer.Option(help="Propose at most this many runs.")] = 30,
    level: Annotated[float, typer.Option(help="Interval level.")] = 0.9,
    misfit: Annotated[
        str,
        typer.Option(
            help="The law's own error beyond the data, which favours runs near a predict target: 'auto' (measured "
            "by a backtest of the fit), a sd of log loss (e.g. 0.02), or 'none' (trust the law)."
        ),
    ] = "auto",
    cold_start: Annotated[bool, typer.Option("--cold-start", help="No runs yet: an initial IsoFLOP design.")] = False,
    candidates: Annotated[
        str | None,
        typer.Option(
            help="Runs you could train (CSV/TSV/Parquet/JSON): params, tokens[, unique_tokens][, flops = each run's "
            "cost][, run]; suggest picks among them instead of its own grid."
        ),
    ] = None,
    unique_tokens: Annotated[
        float | None,
        typer.Option(help="Data-constrained laws: unique tokens available to new runs (each sees min(U, D))."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object to stdout and nothing else.")] = False,
    interval_kind: IntervalKind = "total",
) -> None:
    """Propose the runs that most narrow the interval of a decision, within a compute budget."""
    from scalelaw.decisions import design

    check_interval_kind(interval_kind)

    def action():
        if not budget > 0:
            raise DataError("give --budget, the total FLOPs for new runs (e.g. --budget 1e21)")
        parsed = design.Target.parse(target)
        if cold_start:
            if parsed.kind != "plan":
                raise DataError("--cold-start plans for a budget: use --target plan:flops=...")
            table, reasoning = design.cold_start(budget, parsed.values["flops"])
            return None, table, reasoning
        if fit_file is None:
            raise DataError("give the fit JSON of your current runs, or --cold-start when you have none")
        result = load_fit(fit_file)
        allowed = parse_floats([sizes], "--sizes") if sizes else None
        from scalelaw.data.io import read_table

        pool = read_table(candidates) if candidates else None
        options = dict(sizes=allowed, max_flops_per_run=max_flops_per_run, level=level, max_runs=max_runs)
        options.update(candidates=pool, unique_tokens=unique_tokens, misfit=_misfit_option(misfit), kind=interval_kind)
        return result, design.suggest(result, parsed, budget, **options), None

    result, answer, reasoning = run_action(action)
    if result is None:
        if as_json:
            print_json({"cold_start": True, "runs": answer.to_dict(orient="records"), "reasoning": reasoning})
            return
        _render_cold_start(answer, reasoning)
        return
    if as_json:
        print_json(answer.to_dict())
        return
    _render_suggestion(result, answer)


def _render_cold_start(table, reasoning: list[str]) -> None:
    view = Table(title=f"Initial IsoFLOP design ({len(table)} runs)", title_justify="left")
    for col in ("FLOPs", "params", "tokens", "tokens/param"):
        view.add_column(col, justify="right")
    for r in table.itertuples(index=False):
        view.add_row(f"{r.flops:.3g}", f"{r.params:.3g}", f"{r.tokens:.3g}", f"{r.tokens_per_param:.1f}")
    out.print(view)
    for line in reasoning:
        out.print(f"- {line}", highlight=False, markup=False)


def _render_suggestion(result, answer) -> None:
    title = f"Runs to add for the {answer.target.label} ({answer.level:.0%} {answer.kind} interval)"
    view = Table(title=escape(title), title_justify="left")
    n_name, d_name = result.law.inputs_for("N", "D")  # by role: a formula may name tokens first
    extra = [c for c in result.law.inputs if c not in (n_name, d_name) and c in answer.runs.columns]
    label = ["run"] if "run" in answer.runs.columns else []
    for col in ("#", *label, n_name, d_name, *extra, "FLOPs", "why", "interval width after"):
        view.add_column(escape(col), justify="left" if col in ("why", "run") else "right")  # columns are the user's
    for i, r in enumerate(answer.runs.to_dict(orient="records"), 1):
        view.add_row(
            str(i),
            *[escape(str(r["run"])) for _ in label],
            f"{r[n_name]:.3g}",
            f"{r[d_name]:.3g}",
            *[f"{r[c]:.3g}" for c in extra],
            f"{r['flops']:.3g}",
            escape(str(r["reason"])),
            f"×{1 + r['relative_width_after']:.3g}",
        )
    out.print(view)
    out.print(
        f"estimate {answer.estimate:.4g}; interval high/low ×{1 + answer.width_before:.3g} now, "
        f"×{1 + answer.width_after:.3g} after these runs ({answer.spent:.3g} of {answer.budget:.3g} FLOPs). "
        f"Widths are of the {answer.kind} interval: linearized, rescaled to the by-run bootstrap (factor "
        f"{answer.calibration:.2f})"
        + (
            ", with the law's own error beyond the data (and the choice of law for law=auto)."
            if answer.kind == "total"
            else "."
        ),
        highlight=False,
    )
    for note in answer.notes:
        out.print(f"note: {note}", highlight=False, markup=False)


def _misfit_option(text: str) -> str | float | None:
    """``--misfit``: 'auto', 'none' or a number."""
    if text.strip().lower() in ("auto", "none"):
        return None if text.strip().lower() == "none" else "auto"
    try:
        return float(text)
    except ValueError:
        raise DataError(f"--misfit takes 'auto', 'none' or a sd of log loss (e.g. 0.02), not {text!r}") from None


def isoflop(
    data: Annotated[
        str, typer.Argument(help="IsoFLOP runs, one row per run (flops, params, loss): a file, dataset:NAME or -.")
    ],
    mapping: MapOption = None,
    where: WhereOption = None,
    drop_early: DropEarlyOption = 0.0,
    window: Annotated[
        float, typer.Option(help="Fit the sizes within this many decades of each budget's best run; 0 fits all.")
    ] = 0.75,
    min_points: Annotated[int, typer.Option(help="Fewest runs a budget needs (and sizes per parabola).")] = 5,
    weighted: Annotated[bool, typer.Option(help="Weight budgets by 1/var(ln N_opt) in the power-law fit.")] = False,
    by: Annotated[str, typer.Option(help="Bootstrap over 'budgets' or 'points' (each budget's runs).")] = "budgets",
    approach3: Annotated[
        bool, typer.Option("--approach3", help="Also fit the law to all runs (Approach 3) and compare.")
    ] = False,
    law: Annotated[str, typer.Option("--law", "-l", help="Law fitted for --approach3.")] = "chinchilla",
    interval: Annotated[float, typer.Option(help="Bootstrap interval level, e.g. 0.9; 0 for none.")] = 0.9,
    n_boot: Annotated[int, typer.Option(help="Bootstrap replicates.")] = 1000,
    seed: Annotated[int, typer.Option(help="Random seed of the bootstrap.")] = 0,
    flops_per_token: Annotated[float, typer.Option("--k", help="Training FLOPs per parameter per token.")] = 6.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object to stdout and nothing else.")] = False,
) -> None:
    """Compute-optimal exponents from IsoFLOP runs: per-budget parabolas (Approach 2), optionally vs a fit (3)."""
    from scalelaw.decisions import isoflop as iso

    def action():
        if by not in ("budgets", "points"):
            raise DataError(f"--by must be 'budgets' or 'points', not {by!r}")
        runs = DataOptions(mapping, where, None, drop_early).load(data, "loss")
        if window < 0:
            raise DataError(f"--window must be >= 0 decades (0 fits every size), got {window}")
        options = dict(min_points=min_points, window=window if window > 0 else None, weighted=weighted, by=by)
        options.update(level=interval if interval > 0 else None, n_boot=n_boot, seed=seed, k=flops_per_token)
        if approach3:
            return iso.compare_approaches(runs, law=parse_law(law), **options)
        return iso.approach2(runs, **options)

    answer = run_action(action)
    two = answer.approach2 if approach3 else answer
    if as_json:
        payload: dict[str, Any] = {"data": data, "approach2": two.to_dict()}
        if approach3:
            payload.update(
                approach3=answer.approach3.to_dict(),
                law=answer.fit.law.name,
                difference=answer.difference,
                overlap=answer.overlap,
                summary=answer.summary,
            )
        print_json(payload)
        return
    _render_isoflop(two, answer if approach3 else None)


def _render_isoflop(two, comparison) -> None:
    view = Table(title=f"IsoFLOP minima ({two.method})", title_justify="left")
    level = f"{two.level:.0%}" if two.level is not None else "90%"
    for name in ("FLOPs", "runs", "N_opt", f"N_opt {level} (delta)", "D_opt", "D/N", "loss", "note"):
        view.add_column(name, justify="left" if name == "note" else "right")
    for row in two.table.itertuples(index=False):
        span = "—"
        if row.ok and math.isfinite(row.log_params_opt_std):
            span = f"{row.params_opt_low:.3g}–{row.params_opt_high:.3g}"
        view.add_row(
            _short(row.flops),
            f"{row.n_used}/{row.n_points}",
            _short(row.params_opt),
            span,
            _short(row.tokens_opt),
            _short(row.tokens_opt / row.params_opt),
            _short(row.loss_opt, 4),
            _isoflop_flag(row),
        )
    out.print(view)
    out.print(two.summary(), highlight=False, markup=False)
    out.print(
        f"N_opt = {two.n_coef:.4g} · C^{two.a:.4f}, D_opt = {two.d_coef:.4g} · C^{two.b:.4f}; R² = {two.r2:.4f}",
        highlight=False,
    )
    if comparison is not None:
        out.print(comparison.approach3.summary(), highlight=False, markup=False)
        out.print(comparison.summary, highlight=False, markup=False)
    for note in (*two.notes, *(comparison.approach3.notes if comparison is not None else ())):
        out.print(f"note: {note}", style="dim", highlight=False, markup=False)


def _isoflop_flag(row) -> str:
    """Short status of one budget for the table (the full reason is printed as a note)."""
    if row.ok:
        return "ok"
    if row.n_used == 0:
        return "too few runs"
    if not math.isfinite(row.p2):
        return "too few sizes"
    return "not convex" if not row.convex else "not bracketed"


def _short(x: float, digits: int = 3) -> str:
    return f"{x:.{digits}g}" if math.isfinite(x) else "—"


def fp_plan(
    fit_file: Annotated[
        Path | None,
        typer.Argument(help="Fit JSON of the fp_quant law (scalelaw fit --law fp_quant --out); omit with --published."),
    ] = None,
    params: Annotated[
        list[str] | None, typer.Option(help="Model size(s): their critical data size (repeatable or comma-separated).")
    ] = None,
    fmt: Annotated[
        str | None, typer.Option("--format", help="Training format EkMj: exponent and mantissa bits, e.g. E4M3.")
    ] = None,
    block: Annotated[float | None, typer.Option(help="Elements sharing one scaling factor, e.g. 128.")] = None,
    layout: Annotated[
        list[str] | None, typer.Option(help="Total bit width(s) P: the best exponent/mantissa split (e.g. 4,8,16).")
    ] = None,
    published: Annotated[
        bool, typer.Option("--published", help="Use Sun et al. 2025's fitted constants instead of a fit (no interval).")
    ] = False,
    interval: Annotated[float | None, typer.Option(help="Add by-run bootstrap intervals at this level.")] = None,
    n_boot: Annotated[
        int | None,
        typer.Option(help="Bootstrap replicates for --interval (default: those saved in the fit file, else 1000)."),
    ] = None,
    seed: Annotated[
        int,
        typer.Option(help="Random seed of a bootstrap drawn here (saved replicates are reused as drawn)."),
    ] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object to stdout and nothing else.")] = False,
) -> None:
    """Floating-point training (Sun et al. 2025): critical data size of a format, or the best E/M split."""
    from scalelaw.decisions import precision as precision_plans

    def action():
        if interval is not None:
            check_level(interval, "--interval")
        if (layout is None) == (params is None):
            raise DataError("give --params N --format EkMj [--block B] (critical data size) or --layout P (best split)")
        if published == (fit_file is not None):
            raise DataError("give a fit JSON of the fp_quant law, or --published for the paper's constants (not both)")
        if published and interval is not None:
            raise DataError("--published constants have no interval; fit your own runs for one")
        from scalelaw.laws.precision import SUN2025

        source = dict(SUN2025) if published else load_fit(fit_file)
        settings = {"level": interval, "n_boot": n_boot, "seed": seed}
        quiet = as_json or interval is None
        if layout is not None:
            widths = parse_floats(layout, "--layout")
            return "layout", with_progress(
                lambda p: precision_plans.optimal_float_layout(source, widths, **settings), "bootstrap", quiet=quiet
            )
        e_bits, m_bits = _float_format(fmt)
        sizes = parse_floats(params, "--params")
        return "critical_data_size", with_progress(
            lambda p: precision_plans.critical_data_size(
                source, sizes, exp_bits=e_bits, man_bits=m_bits, block=block, **settings
            ),
            "bootstrap",
            quiet=quiet,
        )

    kind, answer = run_action(action)
    records = answer.to_records()
    if as_json:
        print_json({"law": "fp_quant", "kind": kind, "method": answer.method, "plans": records})
        return
    title = {"layout": "Best exponent/mantissa split", "critical_data_size": "Critical data size"}[kind]
    out.print(records_view(f"{title} (fp_quant; {answer.method})", records))


def _float_format(fmt: str | None) -> tuple[float | None, float | None]:
    """``--format E4M3``: exponent and mantissa bits (None, None without the option)."""
    match = re.fullmatch(r"[Ee](\d+)[Mm](\d+)", fmt or "")
    if fmt is not None and match is None:
        raise DataError(f"--format {fmt!r}: write exponent and mantissa bits as EkMj, e.g. E4M3")
    if match is None:
        return None, None
    e_bits, m_bits = (float(g) for g in match.groups())
    return e_bits, m_bits
