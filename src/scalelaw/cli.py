"""The ``scalelaw`` command line: thin wrappers that parse, call the library and render with rich.

Exit codes: 0 ok, 2 bad input (one clear line on stderr), 1 other failure.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, NoReturn

import numpy as np
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from scalelaw._validation import check_level
from scalelaw.errors import DataError, LawError, ScaleLawError

app = typer.Typer(
    name="scalelaw",
    help="Fit scaling laws to training runs and predict bigger runs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
datasets_app = typer.Typer(help="Bundled real datasets from published scaling studies.", no_args_is_help=True)
app.add_typer(datasets_app, name="datasets")

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def _fail(message: str, code: int) -> NoReturn:
    from rich.markup import escape  # messages may quote brackets, e.g. [training] or scalelaw[sweep]

    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, markup=True)
    raise typer.Exit(code)


def _run(action: Callable[[], Any]) -> Any:
    """Run ``action``, turning scalelaw errors into one line on stderr and warnings into notes."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            value = action()
        except (DataError, LawError) as exc:
            _fail(str(exc), 2)
        except ScaleLawError as exc:
            _fail(str(exc), 1)
    for w in caught:
        if issubclass(w.category, UserWarning):
            err.print(f"[yellow]warning:[/] {escape(str(w.message))}", highlight=False)  # may quote user text
    return value


def _print_json(data: Any, indent: int | None = 2, separators: tuple[str, str] | None = None) -> None:
    from scalelaw.data.io import strict_json  # NaN and Infinity become null: strict parsers (jq) read the output

    sys.stdout.write(strict_json(data, indent=indent, separators=separators) + "\n")


def _fmt(x: float) -> str:
    if x is None or not math.isfinite(x):
        return "—"
    return f"{x:.6g}"


@datasets_app.command("list")
def datasets_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """List the bundled datasets with their rows and license."""
    from scalelaw.data import datasets

    table = datasets.list()
    if as_json:
        _print_json({"datasets": table.to_dict(orient="records")})
        return
    view = Table(title="Bundled datasets (use as DATA: dataset:NAME)", title_justify="left")
    for col in ("name", "rows", "license", "law", "description"):
        view.add_column(col, overflow="fold", no_wrap=col == "name")
    for row in table.itertuples(index=False):
        view.add_row(row.name, str(row.rows), row.license, row.law, row.description)
    out.print(view)


def _split_list(value: str | None) -> list[str] | None:
    if value is None:
        return None
    items = [v.strip() for v in value.split(",") if v.strip()]
    return items or None


@app.command()
def fit(
    data: Annotated[str, typer.Argument(help="CSV, Parquet or JSON lines file, or dataset:NAME.")],
    law: Annotated[
        str, typer.Option("--law", "-l", help="Catalog law name, or an expression such as 'E + A*flops**-alpha'.")
    ] = "chinchilla",
    x: Annotated[str | None, typer.Option(help="Columns for the law's inputs, comma-separated, in order.")] = None,
    y: Annotated[str | None, typer.Option(help="Column to fit (default: the law's output, 'loss').")] = None,
    mapping: Annotated[
        list[str] | None, typer.Option("--map", help="Rename columns: 'Model Size=params' (repeatable).")
    ] = None,
    loss: Annotated[str, typer.Option(help="Loss on log residuals: huber or squared.")] = "huber",
    delta: Annotated[float, typer.Option(help="Huber threshold on log residuals.")] = 1e-3,
    starts: Annotated[int | None, typer.Option(help="Number of random starts instead of the law's grid.")] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    out_path: Annotated[Path | None, typer.Option("--out", "-o", help="Write the fit as JSON to this file.")] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Let --out replace an existing file that is not a fit (never an input).")
    ] = False,
    show_influence: Annotated[
        bool, typer.Option("--influence", help="List the runs that move the extrapolated prediction most.")
    ] = False,
    drop_flagged: Annotated[
        bool, typer.Option("--drop-flagged", help="Refit without the flagged influential runs and report the change.")
    ] = False,
    schedule: Annotated[
        str | None,
        typer.Option(
            "--schedule",
            help="Per-step LR schedule (columns run, step, lr; a file or dataset:NAME) for lr_annealing and "
            "multi_power; its run ids match DATA's (--map applies to both files).",
        ),
    ] = None,
    law_option: Annotated[
        list[str] | None,
        typer.Option("--law-option", help="Option of a catalog law, KEY=VALUE, e.g. by_size=true (repeatable)."),
    ] = None,
    seed_noise_on: Annotated[
        bool,
        typer.Option(
            "--seed-noise",
            help="Estimate the seed-to-seed variance from configurations run with several seeds, print it, and "
            "weight rows by its inverse (see docs/noise.md).",
        ),
    ] = False,
    config: Annotated[
        str | None,
        typer.Option(
            help="With --seed-noise: columns that identify a configuration (all but the seed), comma-separated; "
            "default: those of params,tokens,unique_tokens,batch_size,lr,step present."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object to stdout and nothing else.")] = False,
) -> None:
    """Fit a law to DATA and print the parameter table (or JSON)."""
    from scalelaw.data.io import check_output_path, load_runs
    from scalelaw.fitting.fit import fit as fit_law

    def action():
        if out_path is not None:  # before the fit: refuse a bad --out without making the user wait for it
            check_output_path(out_path, inputs=[data, schedule], kind="fit", force=force)
        schedules = None
        if schedule is not None:
            from scalelaw.data.schedules import load_curves_and_schedules

            runs, schedules = load_curves_and_schedules(data, schedule, mapping)
        else:
            runs = load_runs(data, mapping)
        the_law = _law_from_option(law)
        settings: dict[str, Any] = dict(
            y=y,
            x=_split_list(x),
            loss=loss,
            delta=delta,
            starts=starts,
            seed=seed,
            schedule=schedules,
            law_options=_parse_law_options(law_option),
        )
        noise = snr = None
        if seed_noise_on:
            noise, snr = _seed_noise(runs, the_law, settings, config)
            settings["weights"] = noise.weights(loss)
        result = fit_law(the_law, runs, **settings)
        infl = refit = None
        if show_influence or drop_flagged:
            infl = result.influence()
        if drop_flagged and infl is not None and infl.flagged:
            keep = ~np.isin(runs.run_ids, infl.flagged)
            note = f"dropped {len(infl.flagged)} influential run(s): {', '.join(infl.flagged)}"
            if noise is not None:
                settings["weights"] = settings["weights"][keep]
            refit = fit_law(the_law, runs.subset(keep, note), **settings)
        return result, infl, refit, noise, snr

    result, infl, refit, noise, snr = _run(action)
    final = refit if refit is not None else result
    if out_path is not None:
        final.save(out_path)
    if as_json:
        payload = final.to_dict()
        if infl is not None:
            payload["influence"] = _influence_dict(infl, result, refit)
        if noise is not None:
            payload["seed_noise"] = {**noise.to_dict(), "signal_to_noise": dataclasses.asdict(snr)}
        _print_json(payload)
        return
    _render_fit(final, out_path)
    if infl is not None:
        _render_influence(infl, result, refit)
    if noise is not None:
        out.print(noise.summary(), highlight=False, markup=False)
        for note in noise.notes:
            out.print(f"note: {note}", style="dim", highlight=False, markup=False)
        out.print(snr.message, style="yellow" if snr.dominated else None, highlight=False, markup=False)
        out.print("rows weighted by inverse seed variance; seed-aware intervals: docs/noise.md", style="dim")


def _seed_noise(runs, the_law, settings: dict[str, Any], config: str | None):
    """Seed-noise estimate of the fitted column and its signal-to-noise split (their warnings become notes)."""
    from scalelaw.laws.catalog import get_law
    from scalelaw.trust.noise import seed_noise

    column = settings["y"] or get_law(the_law, **settings["law_options"]).output
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        noise = seed_noise(runs, y=column, config=_split_list(config))
        snr = noise.signal_to_noise(warn=False)
    return noise, snr


def _influence_dict(infl, result, refit) -> dict[str, Any]:
    top = infl.table.head(10)
    data: dict[str, Any] = {
        "target": infl.target,
        "prediction": infl.prediction,
        "runs": [
            {
                "run": r.run,
                "shift": float(r.shift),
                "max_abs_residual": float(r.max_abs_residual),
                "flagged": bool(r.flagged),
            }
            for r in top.itertuples(index=False)
        ],
        "flagged": infl.flagged,
    }
    if refit is not None:
        new = float(refit.predict(**infl.target)[0])
        data["dropped"] = infl.flagged
        data["prediction_after_drop"] = new
        data["relative_change"] = new / infl.prediction - 1.0
        data["params_before"] = result.params
    return data


def _render_influence(infl, result, refit) -> None:
    at = ", ".join(f"{k}={v:.3g}" for k, v in infl.target.items())
    view = Table(title=escape(f"Influence on the prediction at {at} ({infl.prediction:.5g})"), title_justify="left")
    for col in ("run", "rows", "shift if left out", "max |log residual|", "flagged"):
        view.add_column(col, justify="right" if col != "run" else "left")
    for r in infl.table.head(8).itertuples(index=False):
        view.add_row(
            escape(str(r.run)),
            str(r.n_rows),
            f"{r.shift:+.3%}",
            f"{r.max_abs_residual:.3g}",
            "yes" if r.flagged else "",
        )
    out.print(view)
    if refit is not None:
        new = float(refit.predict(**infl.target)[0])
        out.print(
            f"refitted without {len(infl.flagged)} flagged run(s): prediction {infl.prediction:.5g} -> {new:.5g} "
            f"({new / infl.prediction - 1:+.3%}). Runs at the largest scales are often influential because they are "
            "the most informative: check them before dropping.",
            highlight=False,
        )
    elif not infl.flagged:
        out.print("no run stands out.", highlight=False)


def _parse_law_options(items: list[str] | None) -> dict[str, Any]:
    """``--law-option by_size=true --law-option bits=bits_w,bits_a`` -> ``{"by_size": True, "bits": [...]}``.

    Values are read as JSON when they parse (numbers, true/false, lists), as a list when they hold commas,
    and as text otherwise.
    """
    options: dict[str, Any] = {}
    for key, text in _pairs(items, "--law-option").items():
        if text.lower() in ("true", "false"):
            text = text.lower()
        try:
            options[key] = json.loads(text)
        except ValueError:
            options[key] = [part.strip() for part in text.split(",")] if "," in text else text
    return options


def _pairs(items: list[str] | None, option: str) -> dict[str, str]:
    """Repeated ``NAME=VALUE`` options as a dict of strings."""
    pairs = {}
    for item in items or []:
        name, sep, value = (part.strip() for part in item.partition("="))
        if not sep or not name or not value:
            raise DataError(f"cannot read {option} {item!r}: write it as NAME=VALUE, e.g. {option} x=flops")
        pairs[name] = value
    return pairs


def _number_pairs(items: list[str] | None, option: str, expected: str) -> dict[str, float]:
    """Repeated ``NAME=NUMBER`` options, e.g. ``--cap code=0.3``, as floats; ``expected`` says what a value is."""
    pairs = _pairs(items, option)  # DataError is a ValueError: parse the pairs before the float conversion
    try:
        return {name: float(value) for name, value in pairs.items()}
    except ValueError:
        raise DataError(f"{option} values must be {expected}") from None


def _law_from_option(text: str):
    from scalelaw.laws import Law, list_laws

    if text in list_laws() or text.isidentifier():
        return text
    return Law.from_expression(text)


def _render_fit(result, out_path: Path | None) -> None:
    view = Table(title=escape(f"{result.law.name}: {result.law.formula()}"), title_justify="left")
    view.add_column("parameter")
    view.add_column("value", justify="right")
    view.add_column("± std. error", justify="right")
    view.add_column("note")
    for name, value, se in zip(result.law.param_names, result.values, result.std_errors, strict=True):
        note = "at bound" if name in result.status.at_bound else ""
        view.add_row(name, _fmt(value), _fmt(se), note)
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


def _parse_at(items: list[str]) -> list[dict[str, float]]:
    points = []
    for item in items:
        point: dict[str, float] = {}
        for part in item.split(","):
            if not part.strip():
                continue
            if "=" not in part:
                raise DataError(f"cannot read --at {item!r}: write it as 'params=7e10,tokens=1.4e12'")
            key, value = (s.strip() for s in part.split("=", 1))
            try:
                point[key] = float(value)
            except ValueError:
                raise DataError(f"--at value {value!r} for {key!r} is not a number") from None
        points.append(point)
    return points


@app.command()
def predict(
    fit_file: Annotated[Path, typer.Argument(help="Fit JSON written by `scalelaw fit --out`.")],
    at: Annotated[list[str] | None, typer.Option(help="Inputs, e.g. 'params=70e9,tokens=1.4e12' (repeatable).")] = None,
    schedule: Annotated[
        str | None,
        typer.Option(
            "--schedule",
            help="LR-schedule laws: per-step LR file (run, step, lr) or dataset:NAME; predicts the loss at every "
            "step of every run in it (with --at params=N for a law fitted across sizes).",
        ),
    ] = None,
    steps: Annotated[
        str | None,
        typer.Option("--steps", help="With --schedule: predict only at these (run, step) rows (file or dataset:NAME)."),
    ] = None,
    mapping: Annotated[
        list[str] | None,
        typer.Option("--map", help="Rename columns of the --schedule and --steps files: 'name=run' (repeatable)."),
    ] = None,
    interval: Annotated[
        float | None,
        typer.Option(help="Add a prediction interval at this level, e.g. 0.9 (bootstrap, see --bootstrap-by)."),
    ] = None,
    observation: Annotated[
        bool, typer.Option(help="Interval for a new measurement (adds the data's noise), not for the law's value.")
    ] = False,
    n_boot: Annotated[int, typer.Option(help="Bootstrap replicates for --interval.")] = 1000,
    bootstrap_by: Annotated[
        str | None,
        typer.Option(
            "--bootstrap-by",
            help="What --interval resamples: run (whole runs), row (single rows) or block (blocks of consecutive "
            "steps within each run). Default: run, or block for an LR-schedule fit with fewer than 8 runs.",
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed of the bootstrap.")] = 0,
    max_decades: Annotated[
        float, typer.Option(help="Warn when a point lies more than this many decades of compute beyond the data.")
    ] = 1.5,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object to stdout and nothing else.")] = False,
) -> None:
    """Predict the fitted quantity at new inputs, optionally with an interval."""
    from scalelaw.fitting import FitResult

    if bootstrap_by is not None and bootstrap_by not in ("run", "row", "block"):
        _fail(f"--bootstrap-by must be run, row or block, not {bootstrap_by!r}", 2)
    if bootstrap_by is not None and interval is None:
        _fail("--bootstrap-by says what --interval resamples: add --interval, e.g. --interval 0.9", 2)
    if schedule is not None:
        if interval is not None and steps is None:
            _fail(
                "--interval with --schedule needs --steps (a run, step table of the steps to bound): each step "
                "costs one prediction per bootstrap replicate, so choose them rather than every step of every run",
                2,
            )
        band = None if interval is None else _Band(interval, observation, n_boot, seed, bootstrap_by)
        _predict_curves(fit_file, schedule, steps, mapping, at, as_json, band)
        return
    if steps is not None:
        _fail("--steps needs --schedule (the per-step LR of the runs to predict)", 2)
    if not at:
        _fail("give --at, e.g. --at params=70e9,tokens=1.4e12 (or --schedule for an LR-schedule law)", 2)

    def action():
        if not fit_file.exists():
            raise DataError(f"no such fit file: {fit_file}")
        result = FitResult.load(fit_file)
        points = _parse_at(at)
        for point in points:
            _check_point(result, point)
        frame = {name: [p[name] for p in points] for name in result.law.inputs}
        values = result.predict(frame)
        rows = [{"at": p, "value": float(v)} for p, v in zip(points, values, strict=True)]
        _attach_extrapolation(result, frame, rows, max_decades)
        if interval is not None:
            boot = _bootstrap(result, n_boot, bootstrap_by, seed, quiet=as_json)
            table = boot.predict(frame, level=interval, observation=observation)
            for row, low, high in zip(rows, table["low"], table["high"], strict=True):
                row.update(low=float(low), high=float(high), level=interval, method=str(table["method"].iloc[0]))
        return result, rows

    result, rows = _run(action)
    if as_json:
        payload: dict[str, Any] = {"law": result.law.name, "y": result.y, "predictions": rows}
        if len(rows) == 1:
            payload.update(rows[0])
        _print_json(payload)
        return
    view = Table(title=escape(f"{result.law.name} prediction of {result.y}"), title_justify="left")
    for name in result.law.inputs:
        view.add_column(escape(name), justify="right")
    view.add_column(escape(result.y), justify="right")
    if interval is not None:
        view.add_column(f"{interval:.0%} interval", justify="right")
    for row in rows:
        cells = [*[f"{row['at'][n]:.4g}" for n in result.law.inputs], f"{row['value']:.6g}"]
        if interval is not None:
            cells.append(f"[{row['low']:.6g}, {row['high']:.6g}]")
        view.add_row(*cells)
    out.print(view)
    if interval is not None:
        out.print(f"interval: {rows[0]['method']}", style="dim", highlight=False)


@dataclasses.dataclass(frozen=True)
class _Band:
    """``predict --schedule --interval``: level and bootstrap settings of the interval."""

    level: float
    observation: bool
    n_boot: int
    seed: int
    by: str | None


def _predict_curves(
    fit_file: Path,
    schedule: str,
    steps: str | None,
    mapping: list[str] | None,
    at: list[str] | None,
    as_json: bool,
    band: _Band | None = None,
) -> None:
    """``predict --schedule``: the loss at every step of the schedule file, or at the ``--steps`` rows."""
    from scalelaw.data.schedules import load_schedules, predict_curves
    from scalelaw.laws.schedule_laws import schedule_law

    def action():
        result = _load_fit(fit_file)
        inner = schedule_law(result.law)
        if inner is None:
            raise DataError(f"law {result.law.name!r} does not read an LR schedule; use --at instead of --schedule")
        size = None
        if at:
            points = _parse_at(at)
            size_col = inner.inputs[1] if inner.by_size else None
            if len(points) != 1 or size_col is None or set(points[0]) != {size_col}:
                allowed = f"--at {size_col}=N (one model size)" if size_col else "no --at"
                raise DataError(f"with --schedule, law {result.law.name!r} takes {allowed}")
            size = points[0][size_col]
        rows = None
        if steps is not None:
            from scalelaw.data.runs import parse_mapping

            rows = _read_table_or_dataset(steps)
            rows = rows.rename(columns={k: v for k, v in parse_mapping(mapping).items() if k in rows.columns})
        schedules = load_schedules(schedule, mapping)
        table = predict_curves(result, schedules, steps=rows, params=size)
        if band is not None:
            table = _curve_band(result, schedules, table, band, quiet=as_json)
        return result, table

    result, table = _run(action)
    columns = ("loss", "low", "high") if band is not None else ("loss",)
    records = [
        {
            "run": str(row["run"]),
            "step": int(row["step"]),
            **{c: float(row[c]) if math.isfinite(row[c]) else None for c in columns},
            **({"level": band.level, "method": str(row["method"])} if band is not None else {}),
        }
        for row in table.to_dict("records")
    ]
    if as_json:
        _print_json(records, indent=None, separators=(",", ":"))
        return
    view = Table(title=escape(f"{result.law.name} predicted loss curves ({len(records)} steps)"), title_justify="left")
    for col in ("run", "steps", "first", "last", "min"):
        view.add_column(col, justify="left" if col == "run" else "right")
    if band is not None:
        view.add_column(f"last, {band.level:.0%} interval", justify="right")
    for run, g in table.groupby("run", sort=False):
        valid = g.dropna(subset=["loss"])
        if valid.empty:
            view.add_row(
                escape(str(run)), f"{g['step'].min()}-{g['step'].max()}", "—", "—", "—", *(["—"] if band else [])
            )
            continue
        cells = [
            escape(str(run)),
            f"{g['step'].min()}-{g['step'].max()}",
            f"{valid['loss'].iloc[0]:.5g} (step {valid['step'].iloc[0]})",
            f"{valid['loss'].iloc[-1]:.5g} (step {valid['step'].iloc[-1]})",
            f"{valid['loss'].min():.5g}",
        ]
        if band is not None:
            cells.append(f"[{valid['low'].iloc[-1]:.5g}, {valid['high'].iloc[-1]:.5g}]")
        view.add_row(*cells)
    out.print(view)
    if band is not None and len(table):
        out.print(f"interval: {table['method'].iloc[0]}", style="dim", highlight=False)
    out.print("every step: --json", style="dim", highlight=False)


def _curve_band(result, schedules, table, band: _Band, quiet: bool):
    """``table`` (from ``predict_curves``) with ``low, high, method`` columns from a bootstrap of ``result``.

    The bootstrap refits the law on resamples of the fitted curves, so it needs their schedules: the
    ``--schedule`` file must hold the fitted runs too (a fit loaded from JSON keeps only a fingerprint).
    """
    from scalelaw.fitting.refit import with_schedule

    fitted = (result.schedule_info or {}).get("runs", {})
    missing = sorted(set(fitted) - set(schedules))
    if missing:
        raise DataError(
            "--interval refits the law on resamples of the fitted curves, so the --schedule file must also hold "
            f"the LR schedules of the fitted runs; it lacks {', '.join(map(repr, missing[:5]))}"
        )
    boot = _bootstrap(with_schedule(result, schedules), band.n_boot, band.by, band.seed, quiet)
    table = table.assign(low=np.nan, high=np.nan, method="")
    defined = np.isfinite(table["loss"].to_numpy())  # no LR area yet: the law is undefined there
    if defined.any():
        rows = table.loc[defined].drop(columns=["loss", "low", "high", "method"])
        got = boot.predict(rows, level=band.level, observation=band.observation, schedule=schedules)
        table.loc[defined, "low"] = got["low"].to_numpy()
        table.loc[defined, "high"] = got["high"].to_numpy()
        table["method"] = str(got["method"].iloc[0])
    return table


def _bootstrap(result, n_boot: int, by: str | None, seed: int, quiet: bool):
    """``predict --interval``: the bootstrap of ``result`` resampling ``by`` (default: ``default_by``)."""
    from scalelaw.errors import FitError
    from scalelaw.trust.bootstrap import bootstrap, default_by

    by = by or default_by(result)
    try:
        return _with_progress(
            lambda progress: bootstrap(result, n=n_boot, by=by, seed=seed, progress=progress),  # type: ignore[arg-type]
            "bootstrap",
            quiet=quiet,
        )
    except FitError as exc:  # name the option, not the library argument
        raise FitError(str(exc).replace("by='block'", "--bootstrap-by block")) from None


def _where_masks(table, conditions: list[str] | None, source: str):
    """``--where COLUMN=VALUE`` filters, one row mask at a time: yields (column, value, mask)."""
    for condition in conditions or []:
        column, sep, value = (part.strip() for part in condition.partition("="))
        if not sep or not column:
            raise DataError(f"--where {condition!r} must look like COLUMN=VALUE, e.g. 'dataset=rw'")
        if column not in table.columns:
            raise DataError(f"--where names column {column!r}, which {source} does not have")
        keep = (table[column].astype(str) == value).to_numpy()
        if not keep.any():
            seen = ", ".join(sorted(map(str, table[column].unique()))[:10])
            raise DataError(f"no rows have {column} = {value!r}; values include: {seen}")
        table = table.loc[keep]
        yield column, value, keep


def _read_table_or_dataset(source: str):
    from scalelaw.data.io import read_table

    if source.startswith("dataset:"):
        from scalelaw.data import datasets

        return datasets.load(source.split(":", 1)[1])
    return read_table(source)


def _attach_extrapolation(result, frame: dict[str, Any], rows: list[dict[str, Any]], max_decades: float) -> None:
    """Add how far each point lies beyond the data, and warn past ``max_decades``."""
    from scalelaw.trust.extrapolation import distance, warn_if_far

    if result.data is None:
        return
    table = distance(result, frame)
    warn_if_far(table, max_decades)
    for row, rec in zip(rows, table.to_dict(orient="records"), strict=True):
        row["extrapolation"] = {k: (bool(v) if k.startswith("outside") else float(v)) for k, v in rec.items()}


def _check_point(result, point: dict[str, float]) -> None:
    missing = [n for n in result.law.inputs if n not in point]
    if missing:
        given = ",".join(f"{k}={v:g}" for k, v in point.items())
        raise DataError(f"--at {given} lacks {', '.join(missing)}; this law needs {', '.join(result.law.inputs)}")
    extra = sorted(set(point) - set(result.law.inputs))
    if extra:
        raise DataError(f"--at gives {', '.join(extra)}, which law {result.law.name!r} does not use")
    bad = [k for k, v in point.items() if not (math.isfinite(v) and v > 0)]
    if bad:
        raise DataError(f"--at values must be finite and > 0; check {', '.join(bad)}")


def _with_progress(task: Callable[[Callable[[int, int], None] | None], Any], label: str, quiet: bool) -> Any:
    """Run ``task(progress)`` with a rich progress bar on an interactive terminal, silently otherwise."""
    if quiet or not err.is_terminal:
        return task(None)
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    ) as bar:
        handle = bar.add_task(label, total=None)

        def progress(done: int, total: int) -> None:
            bar.update(handle, completed=done, total=total)

        return task(progress)


def _floats(values: list[str] | None, name: str) -> list[float]:
    out = []
    for v in values or []:
        for part in v.split(","):
            if not part.strip():
                continue
            try:
                out.append(float(part))
            except ValueError:
                raise DataError(f"{name} value {part!r} is not a number (write e.g. 5.76e23)") from None
    return out


def _load_fit(path: Path):
    from scalelaw.fitting import FitResult

    if not path.exists():
        raise DataError(f"no such fit file: {path}")
    return FitResult.load(path)


@app.command()
def plan(
    fit_file: Annotated[Path, typer.Argument(help="Fit JSON of a law of params and tokens (scalelaw fit --out).")],
    flops: Annotated[
        list[str] | None, typer.Option(help="Training budget(s) in FLOPs (repeatable or comma-separated).")
    ] = None,
    target_loss: Annotated[float | None, typer.Option(help="Compute, N and D needed to reach this loss.")] = None,
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
    n_boot: Annotated[int, typer.Option(help="Bootstrap replicates for --interval.")] = 1000,
    seed: Annotated[int, typer.Option(help="Random seed of the bootstrap.")] = 0,
    flops_per_token: Annotated[float, typer.Option("--k", help="Training FLOPs per parameter per token.")] = 6.0,
    max_decades: Annotated[
        float, typer.Option(help="Warn when a plan lies more than this many decades of compute beyond the data.")
    ] = 1.5,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object to stdout and nothing else.")] = False,
) -> None:
    """Plan the next run: compute-optimal N and D, compute for a loss, inference-aware, data-limited or precision."""
    from scalelaw.decisions import plan as planning

    def action():
        if interval is not None:
            check_level(interval, "--interval")
        result = _load_fit(fit_file)
        budgets = _floats(flops, "--flops")
        asked = _precision_request(precision, bits_post, params, bits, bits_range)
        if asked is None:
            _refuse_precision_fit(result)  # its decisions need bit-widths: point to the flags that take them
        if asked is not None:
            others = {"--target-loss": target_loss, "--inference-tokens": inference_tokens}
            clash = [name for name, v in {**others, "--unique-tokens": unique_tokens}.items() if v is not None]
            if clash:
                raise DataError(f"{asked} cannot be combined with {', '.join(clash)}")
            settings = dict(k=flops_per_token, interval=interval, n_boot=n_boot, seed=seed)
            kind, run = _precision_plan(result, asked, budgets, bits_post, params, bits, bits_range, settings)
        elif inference_tokens is not None:
            if target_loss is None and len(budgets) != 1:
                raise DataError("--inference-tokens needs --target-loss or exactly one --flops")
            kind = "inference"
            run = lambda progress: planning.inference_optimal(  # noqa: E731
                result,
                inference_tokens,
                target_loss=target_loss,
                flops=None if target_loss is not None else budgets[0],
                k_train=flops_per_token,
                interval=interval,
                n_boot=n_boot,
                seed=seed,
            )
        elif target_loss is not None:
            kind = "target"
            run = lambda progress: planning.compute_for_loss(  # noqa: E731
                result, target_loss, k=flops_per_token, interval=interval, n_boot=n_boot, seed=seed
            )
        elif unique_tokens is not None:
            if len(budgets) != 1:
                raise DataError("--unique-tokens needs exactly one --flops budget")
            kind = "data_limited"
            run = lambda progress: planning.data_limited(  # noqa: E731
                result, budgets[0], unique_tokens, k=flops_per_token, interval=interval, n_boot=n_boot, seed=seed
            )
        else:
            if not budgets:
                raise DataError("give --flops BUDGET (or --target-loss, --inference-tokens, --unique-tokens)")
            kind = "compute_optimal"
            run = lambda progress: planning.compute_optimal(  # noqa: E731
                result, budgets, k=flops_per_token, interval=interval, n_boot=n_boot, seed=seed
            )
        answer = _with_progress(run, "bootstrap", quiet=as_json or interval is None)
        records = answer.to_records()
        columns = set(answer.table.columns)
        sizes = next((pair for pair in _SIZE_COLUMNS if set(pair) <= columns), None)
        if sizes is not None:
            names = result.law.inputs[:2]
            frame = {names[0]: answer.table[sizes[0]].to_numpy(), names[1]: answer.table[sizes[1]].to_numpy()}
            _attach_extrapolation(result, frame, records, max_decades)
        return result, kind, answer, records

    result, kind, answer, records = _run(action)
    if as_json:
        payload: dict[str, Any] = {"law": result.law.name, "kind": kind, "method": answer.method, "plans": records}
        if answer.level is not None:
            payload["level"] = answer.level
        if len(records) == 1:
            payload.update(records[0])
        payload["notes"] = list(answer.notes)
        _print_json(payload)
        return
    title = {
        "compute_optimal": "Compute-optimal allocation",
        "target": "Compute needed for the target loss",
        "inference": "Inference-aware allocation",
        "data_limited": "Data-limited allocation",
        "precision": "Compute-optimal training precision",
        "critical_tokens": "Critical tokens after post-training quantization",
    }[kind]
    out.print(_records_view(f"{title} ({result.law.name}; {answer.method})", records))
    for note in answer.notes:
        out.print(f"note: {note}", style="dim", highlight=False, markup=False)
    if kind in _PRECISION_LEGEND:
        out.print(_PRECISION_LEGEND[kind], style="dim", highlight=False)
    for i, rec in enumerate(records):
        if "extrapolation" in rec and "decades_compute" in rec["extrapolation"]:
            label = f"#{i + 1}: " if len(records) > 1 else ""
            decades = rec["extrapolation"]["decades_compute"]
            out.print(f"{label}{decades:+.2f} decades of compute beyond the largest run", style="dim", highlight=False)


def _cell(value: Any) -> str:
    """A plan record's entry: a number, ``{"value"}`` or ``{"value", "low", "high"}``."""
    if isinstance(value, dict) and "low" in value:
        return f"{value['value']:.4g} [{value['low']:.4g}, {value['high']:.4g}]"
    return f"{value['value'] if isinstance(value, dict) else value:.4g}"


def _records_view(title: str, records: list[dict[str, Any]]) -> Table:
    """Plan records (``Plan.to_records``) as a table: one row per quantity, one column per plan."""
    view = Table(title=escape(title), title_justify="left")  # titles name the law, which a fit file sets
    view.add_column("quantity")
    for i in range(len(records)):
        view.add_column(f"#{i + 1}" if len(records) > 1 else "value", justify="right")
    for key in (k for k in records[0] if k != "extrapolation"):
        view.add_row(key, *[_cell(rec[key]) for rec in records])
    return view


#: (size, tokens) columns of a plan's table, by kind of plan: where to measure the extrapolation.
_SIZE_COLUMNS = (("params_opt", "tokens_opt"), ("params", "tokens_crit"))

_PRECISION_LEGEND = {
    "precision": "bits_opt: training bit-width that minimizes the loss at the budget, with compute "
    "k·N·D·bits/16; *_ref: the compute-optimal allocation at 16 bits for comparison.",
    "critical_tokens": "tokens_crit: past this many training tokens, more pre-training raises the loss of the "
    "post-quantized model; loss_crit is that loss at tokens_crit.",
}


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
    settings: dict[str, Any],
) -> tuple[str, Callable[[Any], Any]]:
    """Kind and call of a ``--precision``/``--bits-post`` plan; ``settings`` holds k and the interval options."""
    from scalelaw.decisions import precision as decisions
    from scalelaw.laws.precision import PrecisionLaw

    law = result.law
    if not isinstance(law, PrecisionLaw):
        raise DataError(
            f"{asked} needs a fit of the 'precision' law, but the fit file holds {law.name!r}; fit one with "
            "scalelaw fit DATA --law precision --out fit.json"
        )
    items = [part for item in bits or [] for part in item.split(",") if part.strip()]  # bits_w=8,bits_a=8 too
    given = _number_pairs(items, "--bits", "bit-widths, e.g. bits_w=16")
    unknown = sorted(set(given) - set(law.bits))
    if unknown:
        raise DataError(f"--bits names {', '.join(unknown)}; this fit's precision columns are {', '.join(law.bits)}")
    bad = [f"{name}={value:g}" for name, value in given.items() if not (math.isfinite(value) and value > 0)]
    if bad:
        raise DataError(f"--bits {', '.join(bad)}: bit-widths must be finite and > 0 (16 for bfloat16, 32 for float32)")
    if asked == "--precision":
        if not budgets:
            raise DataError("--precision needs --flops C, the training budget(s) in 16-bit FLOPs")
        vary = [c for c in law.bits if c not in given]
        if not vary:
            raise DataError(f"--bits fixes every precision column ({', '.join(law.bits)}); leave one to optimize")
        search = _bits_range(bits_range)

        def run(progress):
            return decisions.optimal_precision(result, budgets, bits_range=search, vary=vary, fixed=given, **settings)

        return "precision", run
    if budgets:
        raise DataError("--bits-post finds the critical tokens of given model sizes: use --params N, not --flops")
    sizes = _floats(params, "--params")
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

    interval_settings = {key: settings[key] for key in ("interval", "n_boot", "seed")}  # k plays no part

    def run(progress):
        return decisions.critical_tokens(result, np.array(sizes), bits_post, **interval_settings, **given)

    return "critical_tokens", run


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


@app.command()
def compare(
    fit_a: Annotated[Path, typer.Argument(help="Fit JSON of method A (the baseline).")],
    fit_b: Annotated[Path, typer.Argument(help="Fit JSON of method B (the challenger).")],
    flops: Annotated[list[str] | None, typer.Option(help="Budgets for the effective-compute multiplier.")] = None,
    search: Annotated[str, typer.Option(help="Budget range searched for crossovers, 'LOW:HIGH'.")] = "1e15:1e30",
    interval: Annotated[float | None, typer.Option(help="Add bootstrap intervals at this level, e.g. 0.9.")] = None,
    n_boot: Annotated[int, typer.Option(help="Bootstrap replicates per fit for --interval.")] = 500,
    seed: Annotated[int, typer.Option(help="Random seed of the bootstraps.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object to stdout and nothing else.")] = False,
) -> None:
    """Where method B overtakes method A, and B's effective-compute multiplier over A."""
    from scalelaw.decisions import plan as planning

    def action():
        a, b = _load_fit(fit_a), _load_fit(fit_b)
        try:
            lo, hi = (float(v) for v in search.split(":"))
        except ValueError:
            raise DataError(f"--search must look like 1e15:1e30, not {search!r}") from None
        budgets = _floats(flops, "--flops") or [float(np.sqrt(lo * hi))]
        return _with_progress(
            lambda progress: planning.compare(a, b, budgets, (lo, hi), interval=interval, n_boot=n_boot, seed=seed),
            "bootstrap",
            quiet=as_json or interval is None,
        )

    cmp = _run(action)
    records = planning.Plan(cmp.table, cmp.level, "", inputs=("flops",)).to_records()
    if as_json:
        payload = {
            "crossovers": list(cmp.crossovers),
            "crossover_interval": list(cmp.crossover_interval) if cmp.crossover_interval else None,
            "crossover_share": cmp.crossover_share,
            "budgets": records,
            "notes": list(cmp.notes),
        }
        _print_json(payload)
        return
    if cmp.crossovers:
        text = ", ".join(f"{c:.3g}" for c in cmp.crossovers)
        extra = ""
        if cmp.crossover_interval:
            low, high = cmp.crossover_interval
            extra = (
                f" (first crossover {cmp.level:.0%} interval {low:.3g} to {high:.3g}; "
                f"{cmp.crossover_share:.0%} of bootstrap pairs cross)"
            )
        out.print(f"B and A cross at {text} FLOPs{extra}", highlight=False)
    for note in cmp.notes:
        out.print(note, highlight=False, markup=False)
    view = Table(title="Effective compute of B over A (x > 1: B is better)", title_justify="left")
    for col in ("FLOPs", "best loss A", "best loss B", "multiplier"):
        view.add_column(col, justify="right")
    for rec in records:
        cells = [f"{rec['flops']:.3g}"]
        cells += [_cell(rec[key]) for key in ("loss_a", "loss_b", "multiplier")]
        view.add_row(*cells)
    out.print(view)


@app.command("backtest")
def backtest_cmd(
    data: Annotated[str, typer.Argument(help="CSV, Parquet or JSON lines file, or dataset:NAME.")],
    laws: Annotated[
        str, typer.Option("--laws", help="Comma-separated catalog laws (or expressions) to compare.")
    ] = "chinchilla",
    holdout: Annotated[
        str,
        typer.Option(help="Runs to hold out: 'top:FRACTION:COLUMN' or 'largest:K:COLUMN' (whole runs)."),
    ] = "top:0.2:flops",
    metric: Annotated[
        str, typer.Option(help="Held-out error to rank by: mean_abs_rel_error, max_abs_rel_error or rmse_log.")
    ] = "mean_abs_rel_error",
    x: Annotated[str | None, typer.Option(help="Columns for the laws' inputs, comma-separated, in order.")] = None,
    y: Annotated[str | None, typer.Option(help="Column to fit and predict (default: the law's output).")] = None,
    mapping: Annotated[
        list[str] | None, typer.Option("--map", help="Rename columns: 'Model Size=params' (repeatable).")
    ] = None,
    interval: Annotated[
        float | None, typer.Option(help="Also report coverage of prediction intervals at this level (bootstrap).")
    ] = None,
    n_boot: Annotated[int, typer.Option(help="By-run bootstrap refits per law behind --interval.")] = 1000,
    weights: Annotated[
        str | None, typer.Option(help="'per_run': every run weighs the same however many checkpoints it has.")
    ] = None,
    drop_early: Annotated[
        float, typer.Option("--drop-early", help="Drop each run's first FRACTION of training (by tokens).")
    ] = 0.0,
    loss: Annotated[str, typer.Option(help="Loss on log residuals: huber or squared.")] = "huber",
    delta: Annotated[float, typer.Option(help="Huber threshold on log residuals.")] = 1e-3,
    starts: Annotated[int | None, typer.Option(help="Number of random starts instead of each law's grid.")] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list of rows, one per law.")] = False,
) -> None:
    """Fit each law on the small runs, predict the held-out large runs, and rank laws by that error."""
    from scalelaw.data.checkpoints import drop_early as drop_early_rows
    from scalelaw.data.io import load_runs
    from scalelaw.errors import FitError
    from scalelaw.trust.backtest import METRICS, SelectionResult, to_records
    from scalelaw.trust.backtest import backtest as run_backtest

    def action():
        names = _split_list(laws)
        if not names:
            raise DataError("--laws is empty; name at least one law, e.g. --laws chinchilla,kaplan")
        if metric not in METRICS:
            raise DataError(f"unknown --metric {metric!r}; choose one of {', '.join(METRICS)}")
        runs = load_runs(data, mapping)
        if drop_early:
            runs = drop_early_rows(runs, drop_early)
        table = run_backtest(
            [_law_from_option(name) for name in names],
            runs,
            holdout=holdout,
            y=y,
            interval=interval,
            n_boot=n_boot,
            x=_split_list(x),
            weights=weights,
            loss=loss,
            delta=delta,
            starts=starts,
            seed=seed,
        )
        try:
            selection = SelectionResult.from_table(table, metric)
        except FitError:
            selection = None  # every law failed: the table shows why
        return table, selection

    table, selection = _run(action)
    if as_json:
        _print_json(to_records(table))
    else:
        _render_backtest(table, selection, show_coverage=interval is not None)
    if selection is None:
        _fail("no law could be fitted and scored on the training runs; see the error column", 1)


def _render_backtest(table, selection, show_coverage: bool) -> None:
    from rich.markup import escape  # error messages quote brackets such as '[0, 1)'

    first = table.iloc[0]
    view = Table(
        title=f"Backtest, holdout {first['holdout']}: fit on {first['n_train_runs']} runs "
        f"({first['n_train']} rows), predict {first['n_test_runs']} held-out runs ({first['n_test']} rows)",
        title_justify="left",
    )
    for name in ("law", "mean |rel. err|", "max |rel. err|", "RMSE log", "in-sample RMSE log"):
        view.add_column(name, justify="left" if name == "law" else "right")
    if show_coverage:
        view.add_column("coverage", justify="right")
    view.add_column("fit status", overflow="fold")

    def pct(value: float) -> str:
        return f"{100 * value:.2f}%" if value is not None and math.isfinite(value) else "—"

    def num(value: float) -> str:
        return f"{value:.3g}" if value is not None and math.isfinite(value) else "—"

    for row in table.itertuples(index=False):
        if row.converged is None:
            status = f"[red]{escape(row.error)}[/]"
        else:
            flags = [] if row.converged else ["not converged"]
            flags += ["not identifiable"] if row.not_identifiable else []
            flags += [f"at bound: {row.at_bound}"] if row.at_bound else []
            flags += [row.error] if row.error else []
            status = escape("; ".join(flags)) or "[green]ok[/]"
        cells = [row.law, pct(row.mean_abs_rel_error), pct(row.max_abs_rel_error), num(row.rmse_log)]
        cells.append(num(row.in_sample_rmse_log))
        if show_coverage:
            cells.append(pct(row.coverage))
        view.add_row(*cells, status)
    out.print(view)
    if first["split_column"] and math.isfinite(first["extrapolation_decades"]):
        out.print(
            f"largest {first['split_column']}: {first['max_train']:.3g} in training, {first['max_test']:.3g} held "
            f"out ({first['extrapolation_decades']:.2f} decades of extrapolation)",
            highlight=False,
        )
    if selection is not None:
        out.print(f"[bold]best: {escape(selection.best)}[/]. {escape(selection.reason)}", highlight=False)


@app.command()
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
) -> None:
    """Propose the runs that most narrow the interval of a decision, within a compute budget."""
    from scalelaw.decisions import design

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
        result = _load_fit(fit_file)
        allowed = _floats([sizes], "--sizes") if sizes else None
        from scalelaw.data.io import read_table

        pool = read_table(candidates) if candidates else None
        return (
            result,
            design.suggest(
                result,
                parsed,
                budget,
                sizes=allowed,
                max_flops_per_run=max_flops_per_run,
                level=level,
                max_runs=max_runs,
                candidates=pool,
                unique_tokens=unique_tokens,
                misfit=_misfit_option(misfit),
            ),
            None,
        )

    result, answer, reasoning = _run(action)
    if result is None:
        if as_json:
            _print_json({"cold_start": True, "runs": answer.to_dict(orient="records"), "reasoning": reasoning})
            return
        view = Table(title=f"Initial IsoFLOP design ({len(answer)} runs)", title_justify="left")
        for col in ("FLOPs", "params", "tokens", "tokens/param"):
            view.add_column(col, justify="right")
        for r in answer.itertuples(index=False):
            view.add_row(f"{r.flops:.3g}", f"{r.params:.3g}", f"{r.tokens:.3g}", f"{r.tokens_per_param:.1f}")
        out.print(view)
        for line in reasoning:
            out.print(f"- {line}", highlight=False, markup=False)
        return
    if as_json:
        _print_json(answer.to_dict())
        return
    view = Table(
        title=escape(f"Runs to add for the {answer.target.label} ({answer.level:.0%} interval)"), title_justify="left"
    )

    n_name, d_name = result.law.inputs[:2]
    extra = [c for c in result.law.inputs[2:] if c in answer.runs.columns]
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
        f"Widths are linearized and rescaled to the by-run bootstrap (factor {answer.calibration:.2f}).",
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


@app.command()
def isoflop(
    data: Annotated[str, typer.Argument(help="IsoFLOP runs, one row per run (flops, params, loss), or dataset:NAME.")],
    mapping: Annotated[
        list[str] | None, typer.Option("--map", help="Rename columns: 'Model Size=params' (repeatable).")
    ] = None,
    where: Annotated[
        list[str] | None,
        typer.Option(help="Keep rows where COLUMN=VALUE (repeatable), e.g. 'experiment=Cosine decay'."),
    ] = None,
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
    from scalelaw.data.io import load_runs
    from scalelaw.decisions import isoflop as iso

    def action():
        if by not in ("budgets", "points"):
            raise DataError(f"--by must be 'budgets' or 'points', not {by!r}")
        runs = load_runs(data, mapping)
        for column, value, keep in _where_masks(runs.table, where, runs.source):
            runs = runs.subset(keep, f"kept rows with {column} = {value!r}")
        if window < 0:
            raise DataError(f"--window must be >= 0 decades (0 fits every size), got {window}")
        level = interval if interval > 0 else None
        options = dict(min_points=min_points, window=window if window > 0 else None, weighted=weighted, by=by)
        if approach3:
            return iso.compare_approaches(
                runs, law=_law_from_option(law), interval=level, n_boot=n_boot, seed=seed, k=flops_per_token, **options
            )
        return iso.approach2(runs, interval=level, n_boot=n_boot, seed=seed, k=flops_per_token, **options)

    answer = _run(action)
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
        _print_json(payload)
        return
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
    if approach3:
        out.print(answer.approach3.summary(), highlight=False, markup=False)
        out.print(answer.summary, highlight=False, markup=False)
    for note in (*two.notes, *(answer.approach3.notes if approach3 else ())):
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


@app.command("report")
def report_cmd(
    data: Annotated[str, typer.Argument(help="CSV, Parquet or JSON lines file, or dataset:NAME.")],
    law: Annotated[
        str, typer.Option("--law", "-l", help="Catalog law name, or an expression such as 'E + A*flops**-alpha'.")
    ] = "chinchilla",
    out_path: Annotated[Path, typer.Option("--out", "-o", help="Where to write the HTML report.")] = Path(
        "report.html"
    ),
    force: Annotated[
        bool, typer.Option("--force", help="Let --out replace an existing file that is not a report (never an input).")
    ] = False,
    x: Annotated[str | None, typer.Option(help="Columns for the law's inputs, comma-separated, in order.")] = None,
    y: Annotated[str | None, typer.Option(help="Column to fit (default: the law's output, 'loss').")] = None,
    mapping: Annotated[
        list[str] | None, typer.Option("--map", help="Rename columns: 'Model Size=params' (repeatable).")
    ] = None,
    holdout: Annotated[
        str, typer.Option(help="Backtest holdout, 'top:FRACTION:COLUMN' or 'largest:K:COLUMN'; 'none' to skip.")
    ] = "top:0.2:flops",
    budgets: Annotated[
        list[str] | None,
        typer.Option(help="Compute budgets (FLOPs) to plan for; default: the 3 powers of ten above the largest run."),
    ] = None,
    n_boot: Annotated[int, typer.Option(help="Bootstrap replicates for the intervals (0: none).")] = 500,
    level: Annotated[float, typer.Option(help="Level of the intervals.")] = 0.9,
    seed: Annotated[int, typer.Option(help="Random seed of the fit and the bootstrap.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object to stdout and nothing else.")] = False,
) -> None:
    """Fit, bootstrap, backtest and plan, and write it all as one self-contained HTML report."""
    import contextlib
    import shlex

    from scalelaw.data.io import check_output_path, load_runs
    from scalelaw.errors import FitError
    from scalelaw.fitting.fit import fit as fit_law
    from scalelaw.trust.backtest import backtest as run_backtest
    from scalelaw.trust.backtest import split_runs, to_records
    from scalelaw.views.report import write_report

    # The command as it takes effect, defaults included: running it again rebuilds the same report.
    words = ["scalelaw", "report", data, "--law", law, "--out", str(out_path)]
    words += [w for name, v in (("--x", x), ("--y", y)) if v is not None for w in (name, v)]
    words += [w for m in mapping or [] for w in ("--map", m)]
    words += ["--holdout", holdout] + [w for b in budgets or [] for w in ("--budgets", b)]
    words += ["--n-boot", str(n_boot), "--level", f"{level:g}", "--seed", str(seed)]
    command = " ".join(shlex.quote(w) for w in words)
    interactive = not as_json and err.is_terminal

    def step(label: str):
        return err.status(label) if interactive else contextlib.nullcontext()

    def action():
        check_output_path(out_path, inputs=[data], kind="report", force=force)
        check_level(level, "--level")
        if n_boot < 0:
            raise DataError(f"--n-boot must be >= 0, got {n_boot}")
        runs = load_runs(data, mapping)
        the_law = _law_from_option(law)
        fit_kwargs: dict[str, Any] = {"y": y, "x": _split_list(x), "seed": seed}
        with step("fitting"):
            result = fit_law(the_law, runs, **fit_kwargs)
        boot = None
        if n_boot > 0:
            try:
                boot = _with_progress(
                    lambda progress: result.bootstrap(n=n_boot, seed=seed, progress=progress),
                    "bootstrap",
                    quiet=as_json,
                )
            except FitError:
                pass  # too few runs to resample: the report says why and shows no intervals
        table = split = split_fit = None
        if holdout.strip().lower() != "none":
            with step(f"backtest ({holdout})"):
                split = split_runs(runs, holdout)
                table = run_backtest([the_law], runs, holdout=holdout, **fit_kwargs)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # the backtest table reports the training fit's status
                    split_fit = fit_law(the_law, split.train, **fit_kwargs)
        plan = _floats(budgets, "--budgets") or None
        laws_nd = len(result.law.inputs) == 2 and "flops" not in result.law.inputs
        if plan is None and laws_nd and "flops" in runs.columns:
            top = math.ceil(math.log10(float(runs.array("flops").max())))
            plan = [float(f"1e{top + k}") for k in range(3)]  # exact decimals: 1e23, not 1.0000000000000001e23
        with step("writing the report"):
            path = write_report(
                out_path,
                result,
                runs,
                table,
                plan,
                command,
                boot=boot,
                n_boot=n_boot if boot is None else 0,
                level=level,
                split=split,
                split_results=split_fit,
                seed=seed,
            )
        return result, boot, table, plan, path

    result, boot, table, plan, path = _run(action)
    size = path.stat().st_size
    if as_json:
        _print_json(
            {
                "out": str(path),
                "bytes": size,
                "command": command,
                "law": result.law.name,
                "params": result.params,
                "status": result.status.to_dict(),
                "n_boot": boot.n if boot is not None else 0,
                "backtest": to_records(table) if table is not None else None,
                "budgets": plan,
            }
        )
        return
    _render_fit(result, None)
    out.print(f"wrote {path} ({size / 1e6:.1f} MB)", highlight=False, markup=False)
    out.print(
        f"open it in a browser (it needs no network): file://{path.resolve()}",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )


@app.command("laws")
def laws_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """List the catalog laws with their inputs, parameters and formula."""
    from scalelaw.laws import get_law, list_laws

    rows = []
    for name in list_laws():
        law = get_law(name)
        rows.append(
            {"name": name, "inputs": list(law.inputs), "parameters": list(law.param_names), "formula": law.formula()}
        )
    if as_json:
        _print_json({"laws": rows})
        return
    view = Table(title="Catalog laws (use with --law NAME)", title_justify="left")
    for col in ("name", "inputs", "parameters", "formula"):
        view.add_column(col, overflow="fold")
    for r in rows:
        view.add_row(r["name"], ", ".join(r["inputs"]), ", ".join(r["parameters"]), r["formula"])
    out.print(view)


@app.command()
def sweep(
    config: Annotated[Path, typer.Argument(help="Sweep config TOML (see examples/tiny.toml).")],
    out_path: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Run store, .jsonl or .parquet (default: NAME.runs.jsonl next to CONFIG)."),
    ] = None,
    ray: Annotated[
        str | None,
        typer.Option(help="Train on Ray: 'auto' (a running cluster), 'local' (start one here) or an address."),
    ] = None,
    workers: Annotated[
        int | None, typer.Option("--workers", "-w", help="Local processes (1: sequential; default: one per core).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object to stdout and nothing else.")] = False,
) -> None:
    """Train a ladder of tiny transformers on CPU; append every checkpoint to a run store (resumable)."""
    from scalelaw import sweep as sweeping

    def action():
        try:
            sweeping.require_torch()
            if ray is not None:
                sweeping.require_ray()
            cfg = sweeping.load_config(config)
            _check_sweep_out(out_path if out_path is not None else cfg.default_store, config)
            if as_json or not err.is_terminal:
                return sweeping.run_sweep(cfg, out_path, workers=workers, ray=ray)
            with _SweepProgress() as progress:
                return sweeping.run_sweep(cfg, out_path, workers=workers, ray=ray, on_event=progress.handle)
        except (DataError, sweeping.SweepExtraMissing) as exc:
            _fail(str(exc), 2)
        except ScaleLawError as exc:
            _fail(str(exc), 1)

    try:
        result = _run(action)
    except KeyboardInterrupt:
        err.print("interrupted: finished checkpoints are in the run store; run the same command again to resume")
        raise typer.Exit(130) from None
    if as_json:
        _print_json(result.to_dict())
        return
    _render_sweep(result)


def _check_sweep_out(store: Path, config: Path) -> None:
    """``sweep --out``: the run store and its final table (written next to it) must be safe to write."""
    from scalelaw.data.io import check_output_path
    from scalelaw.sweep.store import final_path

    for target in (store, final_path(store)):  # no --force: a sweep appends to a store, it never replaces one
        check_output_path(target, inputs=[config], kind="run store", force=None)


class _SweepProgress:
    """Rich progress for a sweep on stderr: one bar for the whole sweep (ETA by FLOPs) and one per running run."""

    def __init__(self) -> None:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        self.bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=err,
            transient=True,
        )
        self.overall = None
        self.tasks: dict[str, Any] = {}
        self.flops_per_step: dict[str, float] = {}
        self.done_steps: dict[str, int] = {}
        self.finished = 0
        self.total = 0

    def __enter__(self) -> _SweepProgress:
        self.bar.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.bar.__exit__(*exc)

    def _update_overall(self) -> None:
        done = sum(self.done_steps[r] * self.flops_per_step[r] for r in self.done_steps)
        detail = f"{self.finished}/{self.total} runs"
        self.bar.update(self.overall, completed=done, detail=detail)

    def handle(self, event: Any) -> None:
        from scalelaw.sweep.events import RunFinished, RunProgress, RunStarted, SweepStarted

        if isinstance(event, SweepStarted):
            self.total = len(event.planned)
            self.flops_per_step = {p.run: p.flops_per_step for p in event.planned}
            corpus = event.corpus
            self.bar.console.print(
                f"sweep {event.name}: {self.total} run(s) to train, {len(event.skipped)} already complete in "
                f"{event.store}; {event.backend}; corpus {corpus['name']} ({corpus['train_tokens']:,} train / "
                f"{corpus['val_tokens']:,} validation tokens)",
                highlight=False,
                markup=False,
            )
            self.overall = self.bar.add_task(f"sweep {event.name}", total=max(event.total_flops, 1.0), detail="")
            self._update_overall()
        elif isinstance(event, RunStarted):
            self.done_steps[event.run] = event.start_step
            self.tasks[event.run] = self.bar.add_task(
                f"  {event.run}", total=event.steps, completed=event.start_step, detail=f"step {event.start_step}"
            )
            self._update_overall()
        elif isinstance(event, RunProgress):
            self.done_steps[event.run] = event.step
            if event.run in self.tasks:
                detail = f"step {event.step}/{event.steps} train loss {event.train_loss:.3f}"
                self.bar.update(self.tasks[event.run], completed=event.step, detail=detail)
            self._update_overall()
        elif isinstance(event, RunFinished):
            s = event.summary
            self.finished += 1
            self.done_steps[event.run] = s.steps
            if event.run in self.tasks:
                self.bar.remove_task(self.tasks.pop(event.run))
            self.bar.console.print(
                f"[green]done[/] {s.run}: validation loss {s.loss:.4f} ({s.seconds:.1f} s, {s.status})",
                highlight=False,
            )
            self._update_overall()


def _render_sweep(result) -> None:
    view = Table(title=f"Sweep: {len(result.runs)} runs, {result.backend}", title_justify="left")
    for col in ("run", "params", "tokens", "steps", "val loss", "train loss", "time", "status"):
        view.add_column(col, justify="left" if col in ("run", "status") else "right", no_wrap=col == "run")
    for r in result.runs:
        view.add_row(
            r.run,
            f"{r.params:,}",
            f"{r.tokens:,}",
            str(r.steps),
            f"{r.loss:.4f}",
            f"{r.train_loss:.4f}" if r.status != "skipped" else "—",
            f"{r.seconds:.1f} s" if r.status != "skipped" else "—",
            r.status,
        )
    out.print(view)
    out.print(
        f"run store: {result.store} (every checkpoint); {result.seconds:.1f} s in all", highlight=False, markup=False
    )
    if result.final is not None:
        out.print(f"final checkpoints: {result.final}", highlight=False, markup=False)
        out.print(f"next: scalelaw fit {result.final} --law chinchilla", style="dim", highlight=False, markup=False)


# Commands beyond final loss live in their own module; importing it registers them on ``app``.
import scalelaw.cli_metrics  # noqa: E402, F401


def main() -> None:
    """Console entry point."""
    # Under an ASCII-only locale (LC_ALL=C) a "±" in a table must not end the command: write what the
    # terminal cannot show as an escape instead.
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted")
        raise SystemExit(130) from None
    except Exception as exc:  # a bug, not bad input: say so briefly, full trace on request
        if os.environ.get("SCALELAW_DEBUG"):
            raise
        detail = escape(f"{type(exc).__name__}: {exc}")  # the message may quote user text such as a column '[/]'
        err.print(f"[bold red]internal error:[/] {detail} (set SCALELAW_DEBUG=1 for details)", highlight=False)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
