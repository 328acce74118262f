"""Commands of the loss workflow and its tools: ``fit``, ``predict``, ``backtest``, ``report``, ``laws``,
``sweep`` and ``datasets list``. Registered on the app by :mod:`scalelaw.cli`.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.markup import escape
from rich.table import Table

from scalelaw._validation import check_level
from scalelaw.cli.common import (
    attach_extrapolation,
    check_point,
    err,
    fail,
    load_fit,
    out,
    parse_at,
    parse_floats,
    parse_law,
    parse_law_options,
    parse_list,
    print_json,
    read_table_or_dataset,
    run_action,
    with_progress,
)
from scalelaw.cli.render import fmt_number
from scalelaw.errors import DataError, ScaleLawError


def datasets_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """List the bundled datasets with their rows and license."""
    from scalelaw.data import datasets

    table = datasets.list()
    if as_json:
        print_json({"datasets": table.to_dict(orient="records")})
        return
    view = Table(title="Bundled datasets (use as DATA: dataset:NAME)", title_justify="left")
    for col in ("name", "rows", "license", "law", "description"):
        view.add_column(col, overflow="fold", no_wrap=col == "name")
    for row in table.itertuples(index=False):
        view.add_row(row.name, str(row.rows), row.license, row.law, row.description)
    out.print(view)


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
        the_law = parse_law(law)
        settings: dict[str, Any] = dict(
            y=y,
            x=parse_list(x),
            loss=loss,
            delta=delta,
            starts=starts,
            seed=seed,
            schedule=schedules,
            law_options=parse_law_options(law_option),
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

    result, infl, refit, noise, snr = run_action(action)
    final = refit if refit is not None else result
    if out_path is not None:
        final.save(out_path)
    if as_json:
        payload = final.to_dict()
        if infl is not None:
            payload["influence"] = _influence_dict(infl, result, refit)
        if noise is not None:
            payload["seed_noise"] = {**noise.to_dict(), "signal_to_noise": dataclasses.asdict(snr)}
        print_json(payload)
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
        noise = seed_noise(runs, y=column, config=parse_list(config))
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


def _render_fit(result, out_path: Path | None) -> None:
    view = Table(title=escape(f"{result.law.name}: {result.law.formula()}"), title_justify="left")
    view.add_column("parameter")
    view.add_column("value", justify="right")
    view.add_column("± std. error", justify="right")
    view.add_column("note")
    for name, value, se in zip(result.law.param_names, result.values, result.std_errors, strict=True):
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
        fail(f"--bootstrap-by must be run, row or block, not {bootstrap_by!r}", 2)
    if bootstrap_by is not None and interval is None:
        fail("--bootstrap-by says what --interval resamples: add --interval, e.g. --interval 0.9", 2)
    if schedule is not None:
        if interval is not None and steps is None:
            fail(
                "--interval with --schedule needs --steps (a run, step table of the steps to bound): each step "
                "costs one prediction per bootstrap replicate, so choose them rather than every step of every run",
                2,
            )
        band = None if interval is None else _Band(interval, observation, n_boot, seed, bootstrap_by)
        _predict_curves(fit_file, schedule, steps, mapping, at, as_json, band)
        return
    if steps is not None:
        fail("--steps needs --schedule (the per-step LR of the runs to predict)", 2)
    if not at:
        fail("give --at, e.g. --at params=70e9,tokens=1.4e12 (or --schedule for an LR-schedule law)", 2)

    def action():
        if not fit_file.exists():
            raise DataError(f"no such fit file: {fit_file}")
        result = FitResult.load(fit_file)
        points = parse_at(at)
        for point in points:
            check_point(result, point)
        frame = {name: [p[name] for p in points] for name in result.law.inputs}
        values = result.predict(frame)
        rows = [{"at": p, "value": float(v)} for p, v in zip(points, values, strict=True)]
        attach_extrapolation(result, frame, rows, max_decades)
        if interval is not None:
            boot = _bootstrap(result, n_boot, bootstrap_by, seed, quiet=as_json)
            table = boot.predict(frame, level=interval, observation=observation)
            for row, low, high in zip(rows, table["low"], table["high"], strict=True):
                row.update(low=float(low), high=float(high), level=interval, method=str(table["method"].iloc[0]))
        return result, rows

    result, rows = run_action(action)
    if as_json:
        payload: dict[str, Any] = {"law": result.law.name, "y": result.y, "predictions": rows}
        if len(rows) == 1:
            payload.update(rows[0])
        print_json(payload)
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
        result = load_fit(fit_file)
        inner = schedule_law(result.law)
        if inner is None:
            raise DataError(f"law {result.law.name!r} does not read an LR schedule; use --at instead of --schedule")
        size = None
        if at:
            points = parse_at(at)
            size_col = inner.inputs[1] if inner.by_size else None
            if len(points) != 1 or size_col is None or set(points[0]) != {size_col}:
                allowed = f"--at {size_col}=N (one model size)" if size_col else "no --at"
                raise DataError(f"with --schedule, law {result.law.name!r} takes {allowed}")
            size = points[0][size_col]
        rows = None
        if steps is not None:
            from scalelaw.data.runs import parse_mapping

            rows = read_table_or_dataset(steps)
            rows = rows.rename(columns={k: v for k, v in parse_mapping(mapping).items() if k in rows.columns})
        schedules = load_schedules(schedule, mapping)
        table = predict_curves(result, schedules, steps=rows, params=size)
        if band is not None:
            table = _curve_band(result, schedules, table, band, quiet=as_json)
        return result, table

    result, table = run_action(action)
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
        print_json(records, indent=None, separators=(",", ":"))
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
        return with_progress(
            lambda progress: bootstrap(result, n=n_boot, by=by, seed=seed, progress=progress),  # type: ignore[arg-type]
            "bootstrap",
            quiet=quiet,
        )
    except FitError as exc:  # name the option, not the library argument
        raise FitError(str(exc).replace("by='block'", "--bootstrap-by block")) from None


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
        names = parse_list(laws)
        if not names:
            raise DataError("--laws is empty; name at least one law, e.g. --laws chinchilla,kaplan")
        if metric not in METRICS:
            raise DataError(f"unknown --metric {metric!r}; choose one of {', '.join(METRICS)}")
        runs = load_runs(data, mapping)
        if drop_early:
            runs = drop_early_rows(runs, drop_early)
        table = run_backtest(
            [parse_law(name) for name in names],
            runs,
            holdout=holdout,
            y=y,
            level=interval,
            n_boot=n_boot,
            x=parse_list(x),
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

    table, selection = run_action(action)
    if as_json:
        print_json(to_records(table))
    else:
        _render_backtest(table, selection, show_coverage=interval is not None)
    if selection is None:
        fail("no law could be fitted and scored on the training runs; see the error column", 1)


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
        the_law = parse_law(law)
        fit_kwargs: dict[str, Any] = {"y": y, "x": parse_list(x), "seed": seed}
        with step("fitting"):
            result = fit_law(the_law, runs, **fit_kwargs)
        boot = None
        if n_boot > 0:
            try:
                boot = with_progress(
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
        plan = parse_floats(budgets, "--budgets") or None
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

    result, boot, table, plan, path = run_action(action)
    size = path.stat().st_size
    if as_json:
        print_json(
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
        print_json({"laws": rows})
        return
    view = Table(title="Catalog laws (use with --law NAME)", title_justify="left")
    for col in ("name", "inputs", "parameters", "formula"):
        view.add_column(col, overflow="fold")
    for r in rows:
        view.add_row(r["name"], ", ".join(r["inputs"]), ", ".join(r["parameters"]), r["formula"])
    out.print(view)


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
            fail(str(exc), 2)
        except ScaleLawError as exc:
            fail(str(exc), 1)

    try:
        result = run_action(action)
    except KeyboardInterrupt:
        err.print("interrupted: finished checkpoints are in the run store; run the same command again to resume")
        raise typer.Exit(130) from None
    if as_json:
        print_json(result.to_dict())
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
