"""``scalelaw fit`` and ``scalelaw predict``: fit a law to runs, and predict with a saved fit (at points, or
along LR schedules). Registered on the app by :mod:`scalelaw.cli`.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import warnings
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from scalelaw.cli.common import (
    DATA_HELP,
    DataOptions,
    DropEarlyOption,
    IntervalKind,
    MapOption,
    RoleOption,
    WeightsOption,
    WhereOption,
    build_law,
    check_interval_kind,
    check_point,
    fail,
    law_output,
    load_fit,
    out,
    parse_at,
    parse_list,
    print_json,
    run_action,
    with_progress,
)
from scalelaw.cli.render import render_fit, render_multi
from scalelaw.errors import DataError

RAY_HELP = (
    "With several --y targets: spread them over Ray, one task per CPU: auto (a running cluster), local (a private "
    "instance) or an ADDRESS. Needs the sweep extra."
)
#: Options of ``fit`` that work on one target, in the order ``_fit_many`` receives them.
ONE_TARGET = ("--out", "--influence", "--drop-flagged", "--schedule", "--seed-noise", "--candidates", "--bootstrap")


def fit(
    data: Annotated[str, typer.Argument(help=DATA_HELP)],
    law: Annotated[
        str,
        typer.Option(
            "--law",
            "-l",
            help="Catalog law name, an expression such as 'E + A*flops**-alpha', or 'auto': the candidate that "
            "extrapolates best in rolling backtests inside the data (docs/extrapolation.md).",
        ),
    ] = "chinchilla",
    candidates: Annotated[
        str | None,
        typer.Option(
            help="With --law auto: catalog laws to choose from, comma-separated (default: those the columns allow)."
        ),
    ] = None,
    x: Annotated[
        str | None,
        typer.Option(
            help="Columns for the law's inputs, comma-separated: a catalog law's in order; an expression's inputs by "
            "name (e.g. --x params,datastore; by default its symbols named like a data column)."
        ),
    ] = None,
    role: RoleOption = None,
    y: Annotated[
        str | None,
        typer.Option(
            help="Column to fit (default: the law's output, 'loss'). Several, comma-separated, or 'all-metrics' "
            "(every numeric column except the law's inputs, run, step, seed, lr and the scale columns params, "
            "tokens, flops, unique_tokens, batch_size) fit the law to each in one batch: one row per target."
        ),
    ] = None,
    mapping: MapOption = None,
    where: WhereOption = None,
    weights: WeightsOption = None,
    drop_early: DropEarlyOption = 0.0,
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
    n_saved: Annotated[
        int | None,
        typer.Option(
            "--bootstrap",
            help="With --out: draw this many bootstrap replicates (1000 is a good default) and learn the law's "
            "error beyond the data, and keep both in the fit file, so that predict and plan --interval on it refit "
            "nothing.",
        ),
    ] = None,
    bootstrap_by: Annotated[
        str | None,
        typer.Option(
            "--bootstrap-by",
            help="With --bootstrap: what it resamples, run, row or block (default: run, or block for an "
            "LR-schedule fit with fewer than 8 runs).",
        ),
    ] = None,
    ray: Annotated[str | None, typer.Option("--ray", help=RAY_HELP)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object to stdout and nothing else.")] = False,
) -> None:
    """Fit a law to DATA and print the parameter table (or JSON)."""
    from scalelaw.data.io import check_output_path
    from scalelaw.fitting.fit import fit as fit_law
    from scalelaw.trust.influence import InfluenceCheck, refit_without_flagged

    selection = DataOptions(mapping, where, weights, drop_early)
    if y is not None and ("," in y or y.strip() == "all-metrics"):
        single = (out_path, show_influence, drop_flagged, schedule, seed_noise_on, candidates, n_saved)
        settings = (x, role, selection, loss, delta, starts, seed, law_option)
        return _fit_many(data, law, y, ray, as_json, single, *settings)
    if ray is not None:
        fail("--ray spreads many targets: give several --y columns (a,b,c) or --y all-metrics", 2)
    _check_saved_options(n_saved, bootstrap_by, out_path)

    def action():
        if out_path is not None:  # before the fit: refuse a bad --out without making the user wait for it
            check_output_path(out_path, inputs=[data, schedule], kind="fit", force=force)
        runs, schedules = _load_runs(data, schedule, selection, y or law_output(law))
        the_law, columns, options = build_law(law, x, role, law_option, runs.columns, y)
        settings: dict[str, Any] = dict(
            y=y,
            x=columns,
            loss=loss,
            delta=delta,
            starts=starts,
            seed=seed,
            schedule=schedules,
            law_options=options,
            **({"candidates": parse_list(candidates)} if candidates is not None else {}),
            **selection.fit_kwargs(),
        )
        noise, snr = _seed_noise(runs, the_law, settings, config) if seed_noise_on else (None, None)
        result = fit_law(the_law, runs, **settings)
        check = None
        if show_influence or drop_flagged:
            infl = result.influence()
            refit = refit_without_flagged(infl, the_law, runs, **settings) if drop_flagged else None
            check = InfluenceCheck(infl, result, refit)
        return result, check, noise, snr

    result, check, noise, snr = run_action(action)
    final = check.final if check is not None else result
    if n_saved is not None:
        final = run_action(lambda: _keep_uncertainty(final, n_saved, bootstrap_by, seed, quiet=as_json))
    if out_path is not None:
        final.save(out_path)
    if as_json:
        print_json(_fit_payload(final, check, noise, snr))
        return
    render_fit(final, out_path)
    if n_saved is not None:
        _render_kept(final)
    if final.law_choice is not None:
        _render_law_choice(final.law_choice)
    if check is not None:
        _render_influence(check)
    if noise is not None:
        _render_seed_noise(noise, snr)


def _fit_many(data, law, y, ray, as_json, single, x, role, selection, loss, delta, starts, seed, law_option) -> None:
    """``fit --y a,b,c`` / ``--y all-metrics``: one law, many targets, one batch (or one per Ray task).

    ``single`` holds the values of the :data:`ONE_TARGET` options, refused here when given.
    """
    from scalelaw.fitting.multi import MultiFit, fit_targets, resolve_targets
    from scalelaw.laws.catalog import get_law

    refused = [flag for flag, value in zip(ONE_TARGET, single, strict=True) if value not in (None, False)]
    if refused:
        fail(f"{', '.join(refused)} work(s) on one target; with several --y columns use the Python API per target", 2)
    if law.strip() == "auto":
        fail("--law auto chooses a law for one target; give the law to fit to many targets", 2)

    def action():
        runs = selection.load(data)  # each target's fit leaves out the rows it lacks
        the_law, columns, options = build_law(law, x, role, law_option, runs.columns)
        the_law = get_law(the_law, **options)
        fitted = the_law.with_inputs(*columns) if columns else the_law
        targets = resolve_targets(runs, y, fitted)  # a bad column fails here, before any fitting
        kwargs: dict[str, Any] = dict(x=columns, loss=loss, delta=delta, starts=starts, seed=seed)
        if selection.weights is not None:
            from scalelaw.data.checkpoints import checkpoint_weights

            kwargs["weights"] = checkpoint_weights(runs, selection.weights)
        if ray is None:
            return fit_targets(the_law, runs, targets, **kwargs)
        from scalelaw.sweep.fanout import ray_map_chunks

        parts = ray_map_chunks(functools.partial(fit_targets, the_law, runs, **kwargs), targets, ray)
        return MultiFit.combine(parts, backend=f"ray ({ray}): {len(parts)} task(s)")

    result = run_action(action)
    if as_json:
        print_json(result.to_dict())
        return
    render_multi(result)


def _fit_payload(final, check, noise, snr) -> dict[str, Any]:
    """``fit --json``: a summary of the fit (the data itself goes only to ``--out``), with what the influence check and
    the seed noise found."""
    payload = final.to_dict()
    data = payload.pop("data", None) or {}
    payload["data"] = {
        "hash": data.get("hash"),
        "source": data.get("source"),
        "notes": data.get("notes", []),
        "columns": list(data.get("columns", {})),
        "weighted": data.get("weights") is not None,
    }
    if "uncertainty" in payload:  # the replicates are in the file; stdout gets what they are
        payload["uncertainty"] = _uncertainty_summary(payload["uncertainty"])
    if check is not None:
        payload["influence"] = check.to_dict()
    if noise is not None:
        payload["seed_noise"] = {**noise.to_dict(), "signal_to_noise": dataclasses.asdict(snr)}
    return payload


def _check_saved_options(n_saved: int | None, by: str | None, out_path: Path | None) -> None:
    """``fit --bootstrap N [--bootstrap-by BY]`` needs ``--out`` (where the replicates are kept)."""
    if n_saved is not None and out_path is None:
        fail("--bootstrap keeps the replicates in the fit file: add --out FILE", 2)
    if by is not None and n_saved is None:
        fail("--bootstrap-by says what --bootstrap resamples: add --bootstrap N, e.g. --bootstrap 1000", 2)
    if by is not None and by not in ("run", "row", "block"):
        fail(f"--bootstrap-by must be run, row or block, not {by!r}", 2)


def _render_kept(result) -> None:
    """``fit --bootstrap N``: one line on what the fit file now keeps."""
    kept = _uncertainty_summary(result.to_dict()["uncertainty"])
    boot = kept["bootstrap"]
    out.print(
        f"kept {boot['n']} bootstrap replicates (by {boot['by']}, seed {boot['seed']})"
        + (" and the law's error model beyond the data" if "extrapolation_error" in kept else "")
        + " in the fit file: predict and plan --interval reuse them",
        style="dim",
        highlight=False,
        markup=False,
    )


def _uncertainty_summary(saved: dict[str, Any]) -> dict[str, Any]:
    """The ``uncertainty`` entry of a fit without its replicates and backtest points (for ``fit --json``)."""
    out: dict[str, Any] = {"fit": saved["fit"]}
    if "bootstrap" in saved:
        boot = {k: v for k, v in saved["bootstrap"].items() if k not in ("samples", "jackknife")}
        out["bootstrap"] = {**boot, "n": len(saved["bootstrap"]["samples"])}
    if "extrapolation_error" in saved:
        out["extrapolation_error"] = {k: v for k, v in saved["extrapolation_error"].items() if k != "points"}
    return out


def _keep_uncertainty(result, n: int, by: str | None, seed: int, quiet: bool):
    """``fit --bootstrap N``: ``result`` keeping ``n`` bootstrap replicates and the law-error model."""
    from scalelaw.trust.bootstrap import bootstrap, default_by

    boot = with_progress(
        lambda progress: bootstrap(result, n=n, by=by or default_by(result), seed=seed, progress=progress),  # type: ignore[arg-type]
        "bootstrap",
        quiet=quiet,
    )
    return result.with_uncertainty(boot)


def _load_runs(data: str, schedule: str | None, selection: DataOptions, target: str | None):
    """DATA as runs, with the ``--schedule`` file's LR schedules (``--map`` applies to both) or None."""
    if schedule is None:
        return selection.load(data, target), None
    from scalelaw.data.schedules import load_curves_and_schedules

    runs, schedules = load_curves_and_schedules(data, schedule, selection.mapping)
    return dataclasses.replace(selection, mapping=None).load(runs, target), schedules


def _seed_noise(runs, the_law, settings: dict[str, Any], config: str | None):
    """Seed-noise estimate of the fitted column and its signal-to-noise split (the notes printed with them say
    what their warnings would); ``settings`` gets the inverse-variance row weights."""
    from scalelaw.trust.noise import seed_noise_for_law

    if "weights" in settings:
        raise DataError("--seed-noise weights rows by the seed variance; it cannot be combined with --weights")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        noise = seed_noise_for_law(
            the_law, runs, y=settings["y"], config=parse_list(config), law_options=settings["law_options"]
        )
        snr = noise.signal_to_noise(warn=False)
    settings["weights"] = noise.weights(settings["loss"])
    return noise, snr


def _render_law_choice(choice) -> None:
    """``fit --law auto``: the chosen law and every candidate's rolling-backtest score, weight and cuts."""
    view = Table(title="Law chosen by rolling backtests inside the data", title_justify="left")
    for col in ("law", "score (mean |log error|)", "weight", "cuts", "note"):
        view.add_column(col, justify="left" if col in ("law", "note") else "right")
    for r in choice.table.itertuples(index=False):
        scored = math.isfinite(r.score)
        note = "chosen" if r.law == choice.chosen else ("" if scored else str(r.error))
        view.add_row(
            escape(str(r.law)),
            f"{r.score:.4g}" if scored else "—",
            f"{r.weight:.2f}",
            str(r.n_cuts),
            escape(note),
        )
    out.print(view)
    out.print(
        f"chosen: {choice.chosen} (smallest held-out error where up to 30% of the runs are held out); weights "
        "give the law-choice part of total intervals",
        highlight=False,
        markup=False,
    )


def _render_seed_noise(noise, snr) -> None:
    out.print(noise.summary(), highlight=False, markup=False)
    for note in noise.notes:
        out.print(f"note: {note}", style="dim", highlight=False, markup=False)
    out.print(snr.message, style="yellow" if snr.dominated else None, highlight=False, markup=False)
    out.print("rows weighted by inverse seed variance; seed-aware intervals: docs/noise.md", style="dim")


def _render_influence(check) -> None:
    infl = check.influence
    title = f"Influence on the prediction at {infl.target_text} ({infl.prediction:.5g})"
    view = Table(title=escape(title), title_justify="left")
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
    if check.refit is not None:
        out.print(
            f"refitted without {len(infl.flagged)} flagged run(s): prediction {infl.prediction:.5g} -> "
            f"{check.prediction_after:.5g} ({check.relative_change:+.3%}). Runs at the largest scales are often "
            "influential because they are the most informative: check them before dropping.",
            highlight=False,
        )
    elif not infl.flagged:
        out.print("no run's leverage stands out.", highlight=False)
    # Off the law is not the same as influential: a run 15% off can barely move the prediction, and still be a
    # diverged run or a wrong column worth a look.
    lines = check.off_law_lines()
    out.print("\n".join(lines), style="yellow" if check.off_law else None, highlight=False, markup=False)


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
    interval_kind: IntervalKind = "total",
    observation: Annotated[
        bool | None,
        typer.Option(
            help="Interval for a new measurement (adds the data's noise), not for the law's value. Default: a new "
            "measurement for a total interval, the law's value for a parameter one."
        ),
    ] = None,
    n_boot: Annotated[
        int | None,
        typer.Option(help="Bootstrap replicates for --interval (default: those saved in the fit file, else 1000)."),
    ] = None,
    bootstrap_by: Annotated[
        str | None,
        typer.Option(
            "--bootstrap-by",
            help="What --interval resamples: run (whole runs), row (single rows) or block (blocks of consecutive "
            "steps within each run). Default: run, or block for an LR-schedule fit with fewer than 8 runs.",
        ),
    ] = None,
    seed: Annotated[
        int | None, typer.Option(help="Random seed of the bootstrap (default: that of the saved replicates, else 0).")
    ] = None,
    max_decades: Annotated[
        float, typer.Option(help="Warn when a point lies more than this many decades of compute beyond the data.")
    ] = 1.5,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object to stdout and nothing else.")] = False,
) -> None:
    """Predict the fitted quantity at new inputs, optionally with an interval."""
    if bootstrap_by is not None and bootstrap_by not in ("run", "row", "block"):
        fail(f"--bootstrap-by must be run, row or block, not {bootstrap_by!r}", 2)
    if bootstrap_by is not None and interval is None:
        fail("--bootstrap-by says what --interval resamples: add --interval, e.g. --interval 0.9", 2)
    kind = check_interval_kind(interval_kind)
    if observation is None:
        observation = kind == "total"
    band = None if interval is None else _Band(interval, observation, n_boot, seed, bootstrap_by, kind)
    if schedule is not None:
        if interval is not None and steps is None:
            fail(
                "--interval with --schedule needs --steps (a run, step table of the steps to bound): each step "
                "costs one prediction per bootstrap replicate, so choose them rather than every step of every run",
                2,
            )
        _predict_curves(fit_file, schedule, steps, mapping, at, as_json, band)
        return
    if steps is not None:
        fail("--steps needs --schedule (the per-step LR of the runs to predict)", 2)
    if not at:
        fail("give --at, e.g. --at params=70e9,tokens=1.4e12 (or --schedule for an LR-schedule law)", 2)
    result, rows = run_action(lambda: _predict_points(fit_file, at, max_decades, band, as_json))
    if as_json:
        head = _predict_head(result, rows)  # one point: its record; several: a list, each field once
        print_json({**head, **rows[0]} if len(rows) == 1 else {**head, "predictions": rows})
        return
    _render_points(result, rows, interval)


@dataclasses.dataclass(frozen=True)
class _Band:
    """``predict --interval``: level and bootstrap settings of the interval."""

    level: float
    observation: bool
    n_boot: int | None
    seed: int | None
    by: str | None
    kind: str = "total"


def _predict_points(fit_file: Path, at: list[str], max_decades: float, band: _Band | None, quiet: bool):
    """The fit and one record per ``--at`` point (value, extrapolation, interval)."""
    from scalelaw.trust.extrapolation import prediction_records

    result = load_fit(fit_file)
    points = parse_at(at)
    for point in points:
        check_point(result, point)
    if band is None:
        return result, prediction_records(result, points, max_decades=max_decades)
    draw = lambda: _bootstrap(result, band, quiet)  # noqa: E731  (drawn after the point predictions)
    return result, prediction_records(result, points, draw, band.level, band.observation, max_decades, band.kind)


def _predict_head(result, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """What ``predict --json`` says once: the law and quantity, and for ``--law auto`` the averaging weights
    (or, when the points lack an input of a weighted candidate, why there is no averaged prediction)."""
    head: dict[str, Any] = {"law": result.law.name, "y": result.y}
    if result.law_choice is not None:
        head["averaged_weights"] = result.law_choice.positive_weights
        if rows and "averaged" not in rows[0]:
            head["averaged_missing"] = _averaged_missing(result, rows)
    return head


def _averaged_missing(result, rows: list[dict[str, Any]]) -> str:
    """Why ``predict`` shows no averaged prediction: the candidates whose inputs ``--at`` did not give."""
    shared = set.intersection(*(set(row["at"]) for row in rows))  # what prediction_records could use
    unread = result.law_choice.unreadable(dict.fromkeys(shared))
    names = "; ".join(f"{law} reads {', '.join(cols)}" for law, cols in unread.items())
    return f"no averaged prediction: {names}, which not every --at gives"


def _render_points(result, rows: list[dict[str, Any]], interval: float | None) -> None:
    view = Table(title=escape(f"{result.law.name} prediction of {result.y}"), title_justify="left")
    for name in result.law.inputs:
        view.add_column(escape(name), justify="right")
    averaged = "averaged" in rows[0]
    view.add_column(escape(f"{result.y} ({result.law.name})" if averaged else result.y), justify="right")
    if averaged:
        view.add_column("averaged", justify="right")
    kind = rows[0].get("interval_kind") if interval is not None else None
    if interval is not None:
        view.add_column(escape(f"{interval:.0%} {kind} interval"), justify="right")
    if kind == "total":
        view.add_column("decades beyond", justify="right")
    for row in rows:
        cells = [*[f"{row['at'][n]:.4g}" for n in result.law.inputs], f"{row['value']:.6g}"]
        if averaged:
            cells.append(f"{row['averaged']:.6g}")
        if interval is not None:
            cells.append(f"[{row['low']:.6g}, {row['high']:.6g}]")
        if kind == "total":
            cells.append(f"{row['decades']:.2f}" + (" (beyond checked)" if row["beyond_checked"] else ""))
        view.add_row(*cells)
    out.print(view)
    if averaged:
        out.print(_averaged_words(result.law_choice), style="dim", highlight=False, markup=False)
    elif result.law_choice is not None:
        out.print(f"note: {_averaged_missing(result, rows)}", style="yellow", highlight=False, markup=False)
    if interval is not None:
        out.print(f"interval: {_interval_words(rows, result)}", style="dim", highlight=False, markup=False)
    for line in _total_notes(result, rows) if kind == "total" else []:
        out.print(f"note: {line}", style="yellow", highlight=False, markup=False)


def _averaged_words(choice) -> str:
    """The legend of ``predict``'s averaged column (a fit of ``--law auto``)."""
    return (
        f"{choice.chosen}: the chosen law's prediction; averaged: the weighted geometric mean of the candidates' "
        f"predictions, weights from their rolling backtests ({choice.weights_words()})"
    )


def _interval_words(rows: list[dict[str, Any]], result) -> str:
    """What the interval of ``predict`` holds, in words (its kind, the bootstrap behind it, the law choice)."""
    if rows[0]["interval_kind"] == "parameter":
        return f"parameter interval, {rows[0]['method']}"
    choice = " and by the choice of law (--law auto's candidates)" if result.law_choice is not None else ""
    return (
        f"total interval: {rows[0]['method']}, widened by the law's own error beyond the data (rolling backtests)"
        f"{choice}; --interval-kind parameter for the bootstrap alone"
    )


def _total_notes(result, rows: list[dict[str, Any]]) -> list[str]:
    """Notes for points further beyond the data than the fit's own backtests reached (``beyond_checked``), and
    for a law whose backtest errors drift with scale."""
    model = result.extrapolation_error()
    notes = [model.drift_words().strip()] if any(r.get("extrapolation_drift", 0.0) != 0 for r in rows) else []
    far = [r for r in rows if r["beyond_checked"]]
    if not far:
        return notes
    worst = max(r["decades"] for r in far)
    return [
        f"{len(far)} of {len(rows)} point(s) lie beyond what the backtests checked (up to {worst:.2f} decades "
        f"beyond the largest run; the backtests reached {model.max_decades:.2f}): there the law's error is "
        "extrapolated from its growth inside the data, not measured",
        *notes,
    ]


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
    from scalelaw.data.schedules import curve_records, load_schedules, load_steps, predict_curves

    def action():
        result = load_fit(fit_file)
        size = _curve_size(result, at)
        rows = None if steps is None else load_steps(steps, mapping)
        schedules = load_schedules(schedule, mapping)
        table = predict_curves(result, schedules, steps=rows, params=size)
        if band is not None:
            table = _curve_band(result, schedules, table, band, quiet=as_json)
        return result, table

    result, table = run_action(action)
    records = curve_records(table, None if band is None else band.level)
    if as_json:
        print_json(records, indent=None, separators=(",", ":"))
        return
    _render_curves(result, table, len(records), band)


def _curve_size(result, at: list[str] | None) -> float | None:
    """``--at params=N`` with ``--schedule``: the one model size of a law fitted across sizes, else None."""
    from scalelaw.laws.schedule_laws import schedule_law

    inner = schedule_law(result.law)
    if inner is None:
        raise DataError(f"law {result.law.name!r} does not read an LR schedule; use --at instead of --schedule")
    if not at:
        return None
    points = parse_at(at)
    size_col = inner.inputs[1] if inner.by_size else None
    if len(points) != 1 or size_col is None or set(points[0]) != {size_col}:
        allowed = f"--at {size_col}=N (one model size)" if size_col else "no --at"
        raise DataError(f"with --schedule, law {result.law.name!r} takes {allowed}")
    return points[0][size_col]


def _render_curves(result, table, n_steps: int, band: _Band | None) -> None:
    view = Table(title=escape(f"{result.law.name} predicted loss curves ({n_steps} steps)"), title_justify="left")
    for col in ("run", "steps", "first", "last", "min"):
        view.add_column(col, justify="left" if col == "run" else "right")
    if band is not None:
        kind = table["interval_kind"].iloc[0] if len(table) else "parameter"
        view.add_column(escape(f"last, {band.level:.0%} {kind} interval"), justify="right")
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
        out.print(
            f"interval: {table['interval_kind'].iloc[0]} interval, {table['method'].iloc[0]}",
            style="dim",
            highlight=False,
        )
    out.print("every step: --json", style="dim", highlight=False)


def _curve_band(result, schedules, table, band: _Band, quiet: bool):
    """``table`` with the bootstrap interval of each step (:func:`scalelaw.trust.bootstrap.curve_band`).

    The bootstrap refits the law on resamples of the fitted curves, so it needs their schedules: the
    ``--schedule`` file must hold the fitted runs too (a fit loaded from JSON keeps only a fingerprint).
    """
    from scalelaw.fitting.refit import with_schedule
    from scalelaw.trust.bootstrap import curve_band
    from scalelaw.trust.total import with_kind

    fitted = (result.schedule_info or {}).get("runs", {})
    missing = sorted(set(fitted) - set(schedules))
    if missing:
        raise DataError(
            "--interval refits the law on resamples of the fitted curves, so the --schedule file must also hold "
            f"the LR schedules of the fitted runs; it lacks {', '.join(map(repr, missing[:5]))}"
        )
    boot = _bootstrap(with_schedule(result, schedules), band, quiet)
    table = curve_band(boot, table, schedules, level=band.level, observation=band.observation)
    return with_kind(result, table, band.level, band.kind)  # a total one falls back to parameter, with a warning


def _bootstrap(result, band: _Band, quiet: bool):
    """``predict --interval``: the bootstrap of ``result`` resampling ``band.by`` (default: ``default_by``)."""
    from scalelaw.errors import FitError
    from scalelaw.trust.bootstrap import bootstrap, default_by

    saved = result.saved_uncertainty()
    kept = saved.bootstrap if saved is not None else None  # saved replicates answer unless the options differ
    by = band.by or (kept.by if kept is not None else default_by(result))
    n = band.n_boot if band.n_boot is not None else (kept.n_requested if kept is not None else 1000)
    seed = band.seed if band.seed is not None else (kept.seed if kept is not None else 0)
    try:
        return with_progress(
            lambda progress: bootstrap(result, n=n, by=by, seed=seed, progress=progress),  # type: ignore[arg-type]
            "bootstrap",
            quiet=quiet,
        )
    except FitError as exc:  # name the option, not the library argument
        raise FitError(str(exc).replace("by='block'", "--bootstrap-by block")) from None
