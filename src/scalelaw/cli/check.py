"""``scalelaw backtest`` and ``scalelaw report``: how far a fit can be trusted, as a ranking of laws on held-out
large runs and as one HTML page. Registered on the app by :mod:`scalelaw.cli`.
"""

from __future__ import annotations

import contextlib
import math
import shlex
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from scalelaw._validation import check_level
from scalelaw.cli.common import (
    DATA_HELP,
    DataOptions,
    DropEarlyOption,
    IntervalKind,
    MapOption,
    RoleOption,
    WeightsOption,
    WhereOption,
    check_interval_kind,
    err,
    fail,
    law_output,
    laws_with_x,
    load_fit,
    out,
    parse_floats,
    parse_list,
    print_json,
    render_tracker_notes,
    run_action,
)
from scalelaw.cli.render import render_fit
from scalelaw.errors import DataError


def backtest_cmd(
    data: Annotated[str, typer.Argument(help=DATA_HELP)],
    laws: Annotated[
        str,
        typer.Option(
            "--laws",
            help="Comma-separated catalog laws (or expressions) to compare; 'auto' is the law chosen by rolling "
            "backtests inside the training part alone (see --candidates), 'averaged' the same fit scored by its "
            "averaged prediction (weighted geometric mean of the candidates; its formula names the weights).",
        ),
    ] = "chinchilla",
    candidates: Annotated[
        str | None,
        typer.Option(help="For 'auto' or 'averaged' in --laws: catalog laws it chooses from, comma-separated."),
    ] = None,
    holdout: Annotated[
        str,
        typer.Option(help="Runs to hold out: 'top:FRACTION:COLUMN' or 'largest:K:COLUMN' (whole runs)."),
    ] = "top:0.2:flops",
    metric: Annotated[
        str, typer.Option(help="Held-out error to rank by: mean_abs_rel_error, max_abs_rel_error or rmse_log.")
    ] = "mean_abs_rel_error",
    x: Annotated[str | None, typer.Option(help="Columns for the laws' inputs, comma-separated, in order.")] = None,
    role: RoleOption = None,
    y: Annotated[str | None, typer.Option(help="Column to fit and predict (default: the law's output).")] = None,
    mapping: MapOption = None,
    where: WhereOption = None,
    weights: WeightsOption = None,
    drop_early: DropEarlyOption = 0.0,
    interval: Annotated[
        float | None, typer.Option(help="Also report coverage of prediction intervals at this level (bootstrap).")
    ] = None,
    n_boot: Annotated[int, typer.Option(help="By-run bootstrap refits per law behind --interval.")] = 1000,
    interval_kind: IntervalKind = "total",
    loss: Annotated[str, typer.Option(help="Loss on log residuals: huber or squared.")] = "huber",
    delta: Annotated[float, typer.Option(help="Huber threshold on log residuals.")] = 1e-3,
    starts: Annotated[int | None, typer.Option(help="Number of random starts instead of each law's grid.")] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list of rows, one per law.")] = False,
) -> None:
    """Fit each law on the small runs, predict the held-out large runs, and rank laws by that error."""
    from scalelaw.errors import FitError
    from scalelaw.trust.backtest import METRICS, SelectionResult, to_records
    from scalelaw.trust.backtest import backtest as run_backtest

    kind = check_interval_kind(interval_kind)
    data_options = DataOptions(mapping, where, weights, drop_early)

    def action():
        names = parse_list(laws)
        if not names:
            raise DataError("--laws is empty; name at least one law, e.g. --laws chinchilla,kaplan")
        if metric not in METRICS:
            raise DataError(f"unknown --metric {metric!r}; choose one of {', '.join(METRICS)}")
        runs = data_options.load(data, y or (law_output(names[0]) if len(names) == 1 else None))
        resolved, columns = laws_with_x(names, x, runs.columns, y, role)
        table = run_backtest(
            resolved,
            runs,
            holdout=holdout,
            y=y,
            level=interval,
            n_boot=n_boot,
            kind=kind,
            x=columns,
            **({"candidates": parse_list(candidates)} if candidates is not None else {}),
            **data_options.fit_kwargs(),
            loss=loss,
            delta=delta,
            starts=starts,
            seed=seed,
        )
        try:
            selection = SelectionResult.from_table(table, metric)
        except FitError:
            selection = None  # every law failed: the table shows why
        return table, selection, runs

    table, selection, runs = run_action(action)
    if as_json:
        print_json(to_records(table))
    else:
        _render_backtest(table, selection, show_coverage=interval is not None, kind_asked=kind)
        render_tracker_notes(runs)
    if selection is None:
        fail("no law could be fitted and scored on the training runs; see the error column", 1)


def _render_backtest(table, selection, show_coverage: bool, kind_asked: str) -> None:
    first = table.iloc[0]
    view = Table(
        title=f"Backtest, holdout {first['holdout']}: fit on {first['n_train_runs']} runs "
        f"({first['n_train']} rows), predict {first['n_test_runs']} held-out runs ({first['n_test']} rows)",
        title_justify="left",
    )
    for name in ("law", "mean |rel. err|", "max |rel. err|", "RMSE log", "in-sample RMSE log"):
        view.add_column(name, justify="left" if name == "law" else "right")
    if show_coverage:
        kind = f"{first['interval']:.0%} {kind_asked}"
        for name in (f"coverage ({kind})", "interval score", "mean rel. width"):
            view.add_column(escape(name), justify="right")
    view.add_column("fit status", overflow="fold")
    for row in table.itertuples(index=False):
        law = f"{row.law} (chose {row.chosen})" if row.chosen else row.law
        cells = [escape(law), _pct(row.mean_abs_rel_error), _pct(row.max_abs_rel_error), _num(row.rmse_log)]
        cells.append(_num(row.in_sample_rmse_log))
        if show_coverage:
            cells += [_pct(row.coverage), _num(row.interval_score), _pct(row.mean_rel_width)]
        view.add_row(*cells, _fit_status(row))
    out.print(view)
    if show_coverage:
        out.print(_interval_note(kind_asked), style="dim", highlight=False)
        # A row of 'averaged' has no parameter interval (it has no bootstrap of its own).
        if kind_asked == "parameter" and (table["law"] == "averaged").any():
            out.print(
                "averaged: no parameter interval (the bootstrap is the chosen law's); "
                "--interval-kind total scores its band",
                style="dim",
                highlight=False,
            )
    if first["split_column"] and math.isfinite(first["extrapolation_decades"]):
        out.print(
            f"largest {first['split_column']}: {first['max_train']:.3g} in training, {first['max_test']:.3g} held "
            f"out ({first['extrapolation_decades']:.2f} decades of extrapolation)",
            highlight=False,
        )
    if selection is not None:
        out.print(f"[bold]best: {escape(selection.best)}[/]. {escape(selection.reason)}", highlight=False)


def _interval_note(kind: str) -> str:
    what = (
        "the by-run bootstrap of each training fit"
        if kind == "parameter"
        else "each training fit's bootstrap widened by the law's error learned from its own rolling backtests"
    )
    return (
        f"intervals: {kind}, {what} (--interval-kind); interval score: mean width plus 2/(1-level) times each "
        "miss, on the log scale (smaller is better)"
    )


def _pct(value: float) -> str:
    return f"{100 * value:.2f}%" if value is not None and math.isfinite(value) else "—"


def _num(value: float) -> str:
    return f"{value:.3g}" if value is not None and math.isfinite(value) else "—"


def _fit_status(row) -> str:
    """A backtest row's fit status as rich markup; error messages quote brackets such as '[0, 1)'."""
    if row.converged is None:
        return f"[red]{escape(row.error)}[/]"
    flags = [] if row.converged else ["not converged"]
    flags += ["not identifiable"] if row.not_identifiable else []
    flags += [f"at bound: {row.at_bound}"] if row.at_bound else []
    flags += [row.error] if row.error else []
    return escape("; ".join(flags)) or "[green]ok[/]"


def report_cmd(
    data: Annotated[str, typer.Argument(help=DATA_HELP)],
    law: Annotated[
        str | None,
        typer.Option(
            "--law",
            "-l",
            help="Catalog law name, an expression such as 'E + A*flops**-alpha', or 'auto': the law that "
            "extrapolates best in rolling backtests (the report then shows the candidates and their weights). "
            "Default: chinchilla, or the law of --fit.",
        ),
    ] = None,
    fit_file: Annotated[
        Path | None,
        typer.Option(
            "--fit",
            help="A saved fit of DATA (scalelaw fit DATA --out FIT): reported without fitting again, its saved "
            "bootstrap replicates (fit --bootstrap N) serving the intervals; refused unless its data hash matches "
            "the selected rows of DATA.",
        ),
    ] = None,
    out_path: Annotated[Path, typer.Option("--out", "-o", help="Where to write the HTML report.")] = Path(
        "report.html"
    ),
    force: Annotated[
        bool, typer.Option("--force", help="Let --out replace an existing file that is not a report (never an input).")
    ] = False,
    x: Annotated[str | None, typer.Option(help="Columns for the law's inputs, comma-separated, in order.")] = None,
    role: RoleOption = None,
    y: Annotated[str | None, typer.Option(help="Column to fit (default: the law's output, 'loss').")] = None,
    mapping: MapOption = None,
    where: WhereOption = None,
    weights: WeightsOption = None,
    drop_early: DropEarlyOption = 0.0,
    holdout: Annotated[
        str, typer.Option(help="Backtest holdout, 'top:FRACTION:COLUMN' or 'largest:K:COLUMN'; 'none' to skip.")
    ] = "top:0.2:flops",
    budgets: Annotated[
        list[str] | None,
        typer.Option(help="Compute budgets (FLOPs) to plan for; default: the 3 powers of ten above the largest run."),
    ] = None,
    n_boot: Annotated[
        int | None,
        typer.Option(
            help="Bootstrap replicates for the intervals (0: none; default: those saved with --fit, else 500)."
        ),
    ] = None,
    level: Annotated[float, typer.Option(help="Level of the intervals.")] = 0.9,
    seed: Annotated[
        int,
        typer.Option(
            help="Random seed of the fit and of a bootstrap drawn here (saved replicates are reused as drawn)."
        ),
    ] = 0,
    interval_kind: IntervalKind = "total",
    plotlyjs: Annotated[
        str,
        typer.Option(
            "--plotlyjs",
            help="inline (default): embed plotly.js, so the report opens offline (~5 MB); cdn: load it from "
            "plotly's CDN (a ~0.2 MB file that needs the network to draw its figures).",
        ),
    ] = "inline",
    figures_dir: Annotated[
        Path | None,
        typer.Option("--figures", help="Also write the figures as static files into this directory (matplotlib)."),
    ] = None,
    figure_format: Annotated[str, typer.Option(help="Format of the --figures files: png, svg or pdf.")] = "png",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object to stdout and nothing else.")] = False,
) -> None:
    """Fit, bootstrap, backtest and plan, and write it all as one self-contained HTML report."""
    from scalelaw.data.io import check_output_path
    from scalelaw.views.report import report, write_figures

    check_interval_kind(interval_kind)
    _check_report_outputs(plotlyjs, figure_format)
    selection = DataOptions(mapping, where, weights, drop_early)
    shown = (law, n_boot) if fit_file is not None else (law or "chinchilla", 500 if n_boot is None else n_boot)
    command = _report_command(data, shown[0], out_path, x, y, selection, holdout, budgets, shown[1], level, seed)
    command += f" --fit {shlex.quote(str(fit_file))}" if fit_file is not None else ""
    command += f" --interval-kind {interval_kind} --plotlyjs {plotlyjs}" + _figures_words(figures_dir, figure_format)
    command += "".join(f" --role {shlex.quote(item)}" for item in role or ())
    interactive = not as_json and err.is_terminal

    def step(label: str):
        return err.status(label) if interactive else contextlib.nullcontext()

    def action():
        check_output_path(out_path, inputs=[data], kind="report", force=force)
        check_level(level, "--level")
        if n_boot is not None and n_boot < 0:
            raise DataError(f"--n-boot must be >= 0, got {n_boot}")
        runs, the_law, columns, fitted = _report_inputs(data, law, x, y, role, selection, fit_file)
        done = report(
            runs, out_path, the_law, fitted=fitted, y=y, x=columns,
            **selection.fit_kwargs(), holdout=holdout, budgets=parse_floats(budgets, "--budgets") or None,
            n_boot=n_boot, level=level, seed=seed, interval_kind=interval_kind, command=command, stage=step,
            plotlyjs=plotlyjs,
        )  # fmt: skip
        drawn = figures_dir and write_figures(figures_dir, done.fit, figure_format, boot=done.bootstrap, level=level,
                                              split=done.split, split_results=done.split_fit)  # fmt: skip
        return done.fit, done.bootstrap, done.backtest, done.budgets, done.path, drawn or []

    result, boot, table, plan, path, drawn = run_action(action)
    if as_json:
        payload = _report_payload(path, command, result, boot, table, plan)
        print_json({**payload, "interval_kind": interval_kind, "plotlyjs": plotlyjs, "figures": list(map(str, drawn))})
        return
    render_fit(result, None)
    if boot is not None and boot.saved:
        out.print(f"intervals: the {boot.n} bootstrap replicates saved with the fit (no refit)", highlight=False)
    for file in [path, *drawn]:
        out.print(f"wrote {file} ({_size(file.stat().st_size)})", highlight=False, markup=False)
    needs = "it needs no network" if plotlyjs == "inline" else "it loads plotly.js from its CDN"
    out.print(
        f"open it in a browser ({needs}): file://{path.resolve()}",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )


def _report_inputs(data: str, law: str | None, x, y, role, selection: DataOptions, fit_file: Path | None):
    """The runs of ``report``, its law and ``x`` for the fit, and the ``--fit`` fit (None without it), whose law,
    inputs and roles are its own: ``--x`` and ``--role`` are refused with it."""
    if fit_file is None:
        runs = selection.load(data, y or law_output(law or "chinchilla"))
        (the_law,), columns = laws_with_x([law or "chinchilla"], x, runs.columns, y, role)
        return runs, the_law, columns, None
    if x is not None or role:
        raise DataError("--fit carries its law's inputs and roles: leave out --x and --role")
    fitted = load_fit(fit_file)
    return selection.load(data, y or fitted.y), law, None, fitted


def _report_command(
    data: str,
    law: str | None,
    out_path: Path,
    x: str | None,
    y: str | None,
    selection: DataOptions,
    holdout: str,
    budgets: list[str] | None,
    n_boot: int | None,
    level: float,
    seed: int,
) -> str:
    """The command as it takes effect, defaults included: running it again rebuilds the same report."""
    words = ["scalelaw", "report", data, *(["--law", law] if law is not None else []), "--out", str(out_path)]
    words += [w for name, v in (("--x", x), ("--y", y)) if v is not None for w in (name, v)]
    words += selection.words()
    words += ["--holdout", holdout] + [w for b in budgets or [] for w in ("--budgets", b)]
    words += ["--n-boot", str(n_boot)] if n_boot is not None else []
    words += ["--level", f"{level:g}", "--seed", str(seed)]
    return " ".join(shlex.quote(w) for w in words)


def _check_report_outputs(plotlyjs: str, figure_format: str) -> None:
    """Exit 2 before any work when ``--plotlyjs`` or ``--figure-format`` names no option."""
    from scalelaw.views.report import FIGURE_FORMATS, PLOTLYJS_MODES

    if plotlyjs not in PLOTLYJS_MODES:
        fail(f"--plotlyjs must be one of {', '.join(PLOTLYJS_MODES)}, not {plotlyjs!r}", 2)
    if figure_format.lower() not in FIGURE_FORMATS:
        fail(f"--figure-format must be one of {', '.join(FIGURE_FORMATS)}, not {figure_format!r}", 2)


def _size(n_bytes: int) -> str:
    return f"{n_bytes / 1e6:.1f} MB" if n_bytes >= 1e6 else f"{n_bytes / 1e3:.0f} kB"


def _figures_words(figures_dir: Path | None, figure_format: str) -> str:
    """The ``--figures`` part of the command as it takes effect (empty without it)."""
    if figures_dir is None:
        return ""
    return f" --figures {shlex.quote(str(figures_dir))} --figure-format {figure_format.lower()}"


def _report_payload(path: Path, command: str, result, boot, table, plan) -> dict[str, Any]:
    from scalelaw.trust.backtest import to_records

    return {
        "out": str(path),
        "bytes": path.stat().st_size,
        "command": command,
        "law": result.law.name,
        "params": result.params,
        "status": result.status.to_dict(),
        "n_boot": boot.n if boot is not None else 0,
        "bootstrap_saved": bool(boot is not None and boot.saved),  # the fit's saved replicates, not refitted
        "backtest": to_records(table) if table is not None else None,
        "budgets": plan,
    }
