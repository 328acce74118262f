"""Assemble the self-contained HTML report of a fit."""

from __future__ import annotations

import datetime as _dt
import html
import math
import os
import platform
import re
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scalelaw._validation import check_level
from scalelaw._version import __version__
from scalelaw.data.io import load_runs, write_text_atomic
from scalelaw.decisions.plan import compute_optimal
from scalelaw.errors import DataError, ScaleLawError
from scalelaw.fitting.result import FitResult
from scalelaw.laws.schedule_laws import schedule_law
from scalelaw.trust.bootstrap import replicates_for
from scalelaw.trust.total import check_kind
from scalelaw.views import figures
from scalelaw.views.report import charts, influence_section, trust_section
from scalelaw.views.report.markup import esc as _esc
from scalelaw.views.report.markup import figure as _figure
from scalelaw.views.report.markup import num
from scalelaw.views.report.markup import pct as _pct
from scalelaw.views.report.markup import section as _section
from scalelaw.views.report.markup import table as _table
from scalelaw.views.report.template import CSS, PAGE, plotly_script

#: Replicates drawn for the intervals when the caller passes no Bootstrap.
DEFAULT_N_BOOT = 500
_RESAMPLED = {"run": "whole runs", "row": "single rows", "block": "blocks of consecutive steps within each run"}

#: Element ids of the figures, in page order (tests and readers can rely on them).
FIGURE_IDS = (
    "fig-fit",
    "fig-residuals",
    "fig-influence",
    "fig-trust",
    "fig-frontier",
    "fig-backtest",
    "fig-bootstrap",
)


def build_report(
    result: FitResult,
    runs: Any = None,
    backtest: pd.DataFrame | None = None,
    plan: Any = None,
    command: str | None = None,
    *,
    boot: Any = None,
    n_boot: int | None = None,
    level: float = 0.9,
    split: Any = None,
    split_results: FitResult | Mapping[str, FitResult] | Sequence[FitResult] | None = None,
    title: str | None = None,
    seed: int = 0,
    interval_kind: str = "total",
    plotlyjs: str = "inline",
) -> str:
    """The report of ``result`` as one HTML page (plotly.js inlined by default, so it opens offline).

    Parameters
    ----------
    result : FitResult
        The fit to report; it must carry its data.
    runs : Runs, DataFrame, path or ``"dataset:NAME"``, optional
        The full data, for the data summary (rows, columns, source notes).
    backtest : DataFrame, optional
        A :func:`scalelaw.trust.backtest.backtest` table, shown as a table.
    plan : Plan or sequence of float, optional
        A :class:`scalelaw.decisions.plan.Plan` to show as it is, or compute budgets (FLOPs) at which the
        compute-optimal N, D and loss are computed here, with intervals from the report's bootstrap.
    command : str, optional
        The command that produced the report, printed verbatim in the provenance section.
    boot : Bootstrap, optional
        Replicates for all intervals; by default those saved with the fit (``scalelaw fit --bootstrap N --out``,
        :meth:`FitResult.with_uncertainty`), else ``n_boot`` by-run replicates drawn with ``seed``.
    n_boot : int, optional
        Replicates to draw when ``boot`` is not given (default: the saved ones, else 500); 0 for a report
        without intervals.
    level : float
        Interval level.
    split, split_results : Split and fits on ``split.train``, optional
        Adds the held-out predicted-against-observed figure of the backtest.
    title : str, optional
        Page title; default ``"<law> fit to <data source>"``.
    seed : int
        Seed of the bootstrap drawn here.
    interval_kind : {"total", "parameter"}
        Kind of the prediction intervals on the fit figure and in the "Extrapolation trust" section: ``"total"``
        (the bootstrap widened by the law's own error beyond the data and, for ``law="auto"``, the law-choice
        spread; see :meth:`scalelaw.FitResult.predict_interval`) or ``"parameter"`` (the bootstrap alone). A
        fit whose error model cannot be learned (an LR-schedule law) shows parameter intervals and says so.
    plotlyjs : {"inline", "cdn"}
        ``"inline"`` embeds plotly.js (about 4.7 MB; the page references no URL and opens offline); ``"cdn"``
        loads it from plotly's CDN (a page of a few hundred kB that needs the network to draw its figures).

    Returns
    -------
    str
        The HTML text. Inline, it references no URL: plotly.js is inlined once in the head.

    Notes
    -----
    The "Outliers and influence" section refits the law without each run (:func:`scalelaw.trust.influence.influence`)
    and flags the runs off the law (:func:`scalelaw.trust.influence.off_law`); they also turn the status amber.
    """
    if not isinstance(result, FitResult):
        raise DataError(f"build_report needs a FitResult, got {type(result).__name__}")
    check_level(level)
    check_kind(interval_kind)
    script = plotly_script(plotlyjs)
    boot, boot_note = _bootstrap(result, boot, n_boot, seed)
    model, model_note = trust_section.learned(result)  # cached on the fit: learned once, reused by every interval
    kind = trust_section.shown_kind(interval_kind, model)
    fit_section, view = _fit_section(result, boot, level, kind)
    plan_table, plan_note, plan_kind = _plan(result, plan, boot, level, kind)
    outliers = influence_section.measure(result, plan_table)
    sections = [
        _summary(result, runs, boot, kind if boot is not None else None),
        _status(result, boot, boot_note, influence_section.status_flag(outliers)),
        _parameters(result, boot, level),
        fit_section,
        influence_section.influence_section(outliers),
    ]
    parts = None
    if model is not None:
        points = trust_section.prediction_points(result, plan_table)
        parts = trust_section.interval_parts(result, points, boot, level)
    sections.append(trust_section.trust_section(result, model, model_note, parts, level, kind))
    if plan is not None or _has_frontier(result):
        sections.append(_planning(result, plan_table, plan_note, plan_kind, boot, level, view))
    if backtest is not None or split is not None:
        sections.append(_backtest(result, backtest, split, split_results))
    if boot is not None:
        sections.append(
            _section(
                "bootstrap",
                "Bootstrap distributions",
                [
                    _figure(
                        "fig-bootstrap",
                        charts.bootstrap_figure(boot, level),
                        f"{boot.n} replicates{' saved with the fit' if boot.saved else ''}, resampling "
                        f"{_RESAMPLED.get(boot.by, boot.by)}; solid: estimate, dotted: {level:.0%} interval.",
                    ),
                ],
            )
        )
    sections.append(_provenance(result, runs, command, __version__, seed, plotlyjs))
    anchors = re.findall(r'<section id="([^"]+)">\n<h2>([^<]*)</h2>', "".join(sections))
    sections.insert(0, _header(result, title, anchors, ok=result.status.ok and not outliers.off_law))
    text = PAGE.format(
        version=html.escape(__version__),
        title=html.escape(title or _default_title(result)),
        css=CSS,
        plotly_js=script,
        body="\n".join(s for s in sections if s),
    )
    return text


def write_report(path: str | os.PathLike, result: FitResult, *args: Any, **kwargs: Any) -> Path:
    """Build the report (see :func:`build_report`) and write it atomically to ``path``, which is returned."""
    target = Path(path)
    write_text_atomic(target, build_report(result, *args, **kwargs))
    return target


# ------------------------------------------------------------------------------------------------ pieces
def default_budgets(result: FitResult, runs: Any) -> list[float] | None:
    """Compute budgets to plan for when none are given: the three powers of ten above the largest run.

    Only for a law of two inputs playing N and D (:attr:`~scalelaw.laws.law.Law.roles`, whatever their column
    names); the largest run's compute is its ``flops`` column, or ``6 N D`` without one. None otherwise (the
    report then has no plan table).

    Examples
    --------
    >>> import scalelaw, warnings
    >>> warnings.simplefilter("ignore")
    >>> runs = scalelaw.load_runs("dataset:gadre2024_rpj")
    >>> default_budgets(scalelaw.fit("chinchilla", runs), runs)
    [1e+22, 1e+23, 1e+24]
    """
    runs = load_runs(runs)
    nd = figures.nd_inputs(result.law)
    if len(result.law.inputs) != 2 or nd is None or not set(nd) <= set(runs.columns):
        return None
    compute = runs.array("flops") if "flops" in runs.columns else 6.0 * runs.array(nd[0]) * runs.array(nd[1])
    top = math.ceil(math.log10(float(np.max(compute))))
    return [float(f"1e{top + k}") for k in range(3)]  # exact decimals: 1e23, not 1.0000000000000001e23


def _bootstrap(result: FitResult, boot: Any, n_boot: int | None, seed: int):
    if boot is not None:
        if not hasattr(boot, "samples") or not hasattr(boot, "result"):
            raise DataError(f"boot must be a Bootstrap (result.bootstrap()), not {type(boot).__name__}")
        return boot, saved_note(boot)
    if n_boot is not None and n_boot <= 0:
        return None, "no bootstrap was drawn (n_boot=0): intervals are omitted"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            boot = replicates_for(result, n_boot, seed, DEFAULT_N_BOOT)
    except ScaleLawError as exc:
        return None, f"no bootstrap intervals: {exc}"
    return boot, saved_note(boot)


def saved_note(boot: Any) -> str:
    """The status note of a report whose intervals reuse the replicates saved with the fit ("" otherwise)."""
    if not getattr(boot, "saved", False):
        return ""
    return (
        f"intervals use the {boot.n} bootstrap replicates saved with the fit (by {boot.by}, seed {boot.seed}): no refit"
    )


def _default_title(result: FitResult) -> str:
    source = result.data_source or "data"
    return f"{result.law.name} fit to {source}"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _header(result: FitResult, title: str | None, sections: Sequence[tuple[str, str]], ok: bool) -> str:
    badge = '<span class="badge ok">fit ok</span>' if ok else '<span class="badge warn">check the warnings</span>'
    # Headings are already escaped; keep the short form before a colon ("Backtest: ...").
    nav = [f'<a href="#{anchor}">{heading.split(":")[0]}</a>' for anchor, heading in sections]
    return (
        f"<header>\n<h1>{_esc(title or _default_title(result))}{badge}</h1>\n"
        f'<div class="formula">{_esc(result.y)} = {_esc(result.law.formula())}</div>\n'
        f"<nav>{''.join(nav)}</nav>\n</header>"
    )


def _summary(result: FitResult, runs: Any, boot: Any, kind: str | None) -> str:
    cards = [
        ("points", str(result.n_points)),
        ("runs", str(result.n_runs)),
        ("objective", num(result.objective)),
        ("residual scale", _pct(result.residual_scale)),
        ("starts at the best", f"{result.status.n_at_best} / {result.n_starts}"),
        ("fit time", f"{result.fit_seconds:.2f} s"),
        ("bootstrap", f"{boot.n} replicates" if boot is not None else "none"),
        ("intervals", kind or "none"),
    ]
    items = "".join(
        f'<div class="card"><div class="k">{_esc(k)}</div><div class="v">{_esc(v)}</div></div>' for k, v in cards
    )
    return f'<div class="cards" id="summary">{items}</div>'


def _status(result: FitResult, boot: Any, boot_note: str, off_law: tuple[str, str] | None = None) -> str:
    s = result.status
    flags = [
        ("ok" if s.converged else "warn", "converged" if s.converged else "did not converge"),
        (
            "warn" if s.at_bound else "ok",
            f"at a bound: {', '.join(s.at_bound)}" if s.at_bound else "no parameter at a bound",
        ),
        (
            "warn" if s.not_identifiable else "ok",
            f"not identifiable (condition number {s.condition_number:.3g})"
            if s.not_identifiable
            else f"identifiable (condition number {s.condition_number:.3g})",
        ),
        ("ok" if s.n_at_best > 1 else "warn", f"{s.n_at_best} of {result.n_starts} starts reached the best objective"),
        ("warn" if s.no_signal else "ok", "no signal: the fitted values are all equal" if s.no_signal else "a signal"),
        (
            "warn" if s.outliers else "ok",
            f"{len(s.outliers)} gross outlier(s): {', '.join(s.outlier_rows or map(str, s.outliers))}"
            if s.outliers
            else "no gross outlier",
        ),
    ]
    flags += [off_law] if off_law is not None else []
    parts = ['<ul class="flags">' + "".join(f'<li class="{c}">{_esc(t)}</li>' for c, t in flags) + "</ul>"]
    parts += [f'<div class="warning">{_esc(m)}</div>' for m in s.messages()]
    if boot is not None and (boot.n_failed or boot.n_unconverged):
        parts.append(
            f'<div class="warning">bootstrap: {boot.n_failed} of {boot.n_requested} replicates failed and were '
            f"dropped; {boot.n_unconverged} kept replicates hit the iteration cap</div>"
        )
    if boot_note:
        parts.append(f'<p class="note">{_esc(boot_note)}</p>')
    parts += [f'<p class="note">note: {_esc(n)}</p>' for n in result.notes]
    return _section("status", "Status and warnings", parts)


def _parameters(result: FitResult, boot: Any, level: float) -> str:
    intervals = boot.interval(level) if boot is not None else None
    header = ["parameter", "estimate", "std. error"]
    header += [f"{level:.0%} interval (bootstrap)"] if intervals is not None else []
    header += ["bounds", "description"]
    rows = []
    for k, p in enumerate(result.law.parameters):
        note = " (at bound)" if p.name in result.status.at_bound else ""
        row = [f"<code>{_esc(p.name)}</code>", num(result.values[k], 5) + _esc(note), num(result.std_errors[p.name], 3)]
        if intervals is not None:
            lo, hi = intervals["low"].iloc[k], intervals["high"].iloc[k]
            row.append(f"[{num(lo)}, {num(hi)}]")
        row += [f"[{num(p.lower, 3)}, {num(p.upper, 3)}]", _esc(p.description)]
        rows.append(row)
    caption = (
        "Std. errors are local (Gauss-Newton) approximations; the intervals resample whole runs and refit, "
        "so they hold up when parameters trade off."
        if intervals is not None
        else "Std. errors are local (Gauss-Newton) approximations."
    )
    return _section(
        "parameters",
        "Parameters",
        [_table(header, rows, "params-table", text_cols=(len(header) - 1,)), f'<p class="caption">{_esc(caption)}</p>'],
    )


def _fit_section(result: FitResult, boot: Any, level: float, kind: str) -> tuple[str, figures.FitView | None]:
    """The fit and residual figures with the bands of ``kind``, and the fit's view (None when not drawn)."""
    try:
        view = trust_section.widen_view(result, figures.fit_view(result, boot=boot, level=level), level, kind)
        plain = figures.fit_view(result, level=None)
    except ScaleLawError as exc:
        if schedule_law(result.law) is None:
            raise
        note = f"The fit of an LR-schedule law is not drawn here (its curves need each run's schedule): {exc}"
        return _section("fit", "Fit and extrapolation", [f'<p class="note">{_esc(note)}</p>']), None
    parts = [
        _figure("fig-fit", charts.fit_figure(view), _fit_caption(view, kind)),
        _figure(
            "fig-residuals",
            charts.residuals_figure(plain),
            "Log residuals ln(observed / fitted) in percent; the grey band is ± the fit's robust residual "
            "scale. Structure here (trends, one group off) means the law misses something.",
        ),
    ]
    return _section("fit", "Fit and extrapolation", parts), view


def _fit_caption(view: figures.FitView, kind: str) -> str:
    parts = [f"Loss against {figures.axis_label(view.x)}; hover a point for its run and values."]
    if view.group_title:
        parts.append(f"Colours: {view.group_title}; each coloured line is the fitted law along that group.")
    if view.headline is not None and view.headline.kind == "frontier":
        parts.append("Black: the compute-optimal frontier (lowest predicted loss at each budget).")
    parts.append("Dashed: extrapolation beyond the data (dotted vertical line: the largest run).")
    if view.level is not None:
        what = "bootstrap interval" if kind == "parameter" else "total interval (bootstrap and the law's own error)"
        parts.append(f"Band: {view.level:.0%} {what} of the law's value.")
    return " ".join(parts)


def _has_frontier(result: FitResult) -> bool:
    law = result.law
    return len(law.inputs) == 2 and "flops" not in law.inputs and figures.nd_inputs(law) is not None


def _plan(
    result: FitResult, plan: Any, boot: Any, level: float, kind: str
) -> tuple[pd.DataFrame | None, str, str | None]:
    """The planning table: a given Plan's, or compute-optimal allocations at the given budgets (``kind`` intervals);
    with how it was made and the kind of its intervals (None without)."""
    if plan is None:
        return None, "", None
    if hasattr(plan, "table") and isinstance(plan.table, pd.DataFrame):
        return plan.table, getattr(plan, "method", ""), getattr(plan, "interval_kind", None)
    budgets = np.atleast_1d(np.asarray(plan, dtype=np.float64))
    if not _has_frontier(result):
        return None, f"no compute-optimal plan: law {result.law.name!r} is not a law of parameters and tokens", None
    if boot is None:
        return compute_optimal(result, budgets).table, "point estimate", None
    plan = compute_optimal(result, budgets, level=level, boot=boot, kind=kind)
    # The notes say when a budget is beyond the checks.
    return plan.table, ". ".join([plan.method, *plan.notes]), plan.interval_kind


_PLAN_LABELS = {
    "flops": "compute C (FLOPs)",
    "params_opt": "parameters N*",
    "tokens_opt": "tokens D*",
    "tokens_per_param": "tokens per parameter D*/N*",
    "loss_opt": "loss L*",
    "target_loss": "target loss",
    "inference_tokens": "inference tokens",
    "unique_tokens": "unique tokens",
}


def _planning(result, table, note, plan_kind, boot, level, view) -> str:
    parts = []
    if _has_frontier(result):
        frontier = figures.frontier_view(result, boot=boot, level=level)
        parts.append(
            _figure(
                "fig-frontier",
                charts.frontier_figure(frontier, view),
                "Compute-optimal parameters N* and tokens D* against the budget (C = 6ND), with the runs' own "
                "allocations (open markers)."
                + (f" Bands: {level:.0%} bootstrap (parameter) intervals." if boot else ""),
            )
        )
    if table is not None and len(table):
        estimated = [c for c in table.columns if not c.endswith(("_low", "_high")) and c != "interval_kind"]
        header = [_PLAN_LABELS.get(c, c) for c in estimated]
        rows = []
        for _, r in table.iterrows():
            cells = []
            for c in estimated:
                cell = num(r[c])
                if f"{c}_low" in table.columns:
                    cell += f' <span class="caption">[{num(r[f"{c}_low"])}, {num(r[f"{c}_high"])}]</span>'
                cells.append(cell)
            rows.append(cells)
        parts.append("<h3>Compute-optimal allocation</h3>")
        parts.append(_table(header, rows, "plan-table"))
        plan_kind = "total" if plan_kind == "total" else "parameter (bootstrap)"
        parts.append(
            f'<p class="caption">{_esc(note)}. Brackets: {level:.0%} {_esc(plan_kind)} interval.</p>' if boot else ""
        )
    elif note:
        parts.append(f'<p class="note">{_esc(note)}</p>')
    return _section("planning", "Planning", parts)


def _backtest(result: FitResult, table: pd.DataFrame | None, split: Any, split_results: Any) -> str:
    parts = []
    if table is not None and len(table):
        first = table.iloc[0]
        parts.append(
            f'<p class="note">Holdout <code>{_esc(first["holdout"])}</code>: fitted on {int(first["n_train_runs"])} '
            f"runs, predicting {int(first['n_test_runs'])} held-out runs "
            f"({num(first['extrapolation_decades'], 3)} decades of {_esc(first['split_column'] or 'scale')} beyond the "
            "largest training run).</p>"
        )
        header = ["law", "mean |rel. err|", "max |rel. err|", "RMSE log", "in-sample RMSE log"]
        show_cov = "coverage" in table.columns and table["coverage"].notna().any()
        header += ["coverage"] if show_cov else []
        header.append("fit status")
        rows = []
        for r in table.itertuples(index=False):
            if r.converged is None or (isinstance(r.converged, float) and math.isnan(r.converged)):
                status = f"failed: {r.error}"
            else:
                flags = [] if r.converged else ["not converged"]
                flags += ["not identifiable"] if r.not_identifiable else []
                flags += [f"at bound: {r.at_bound}"] if r.at_bound else []
                flags += [r.error] if r.error else []
                status = "; ".join(flags) or "ok"
            row = [f"<code>{_esc(r.law)}</code>", _pct(r.mean_abs_rel_error), _pct(r.max_abs_rel_error)]
            row += [num(r.rmse_log, 3), num(r.in_sample_rmse_log, 3)]
            row += [_pct(r.coverage)] if show_cov else []
            row.append(_esc(status))
            rows.append(row)
        parts.append(_table(header, rows, "backtest-table", text_cols=(len(header) - 1,)))
    if split is not None and split_results is not None:
        view = figures.backtest_view(split, split_results)
        parts.append(
            _figure(
                "fig-backtest",
                charts.backtest_figure(view, result.y, split.column),
                "Predicted against observed for the fits on the training runs: filled markers are held-out runs "
                "(the extrapolation), open markers the training runs. On the line is perfect.",
            )
        )
    return _section("backtest", "Backtest: extrapolation to held-out large runs", parts)


def _provenance(result: FitResult, runs: Any, command: str | None, version: str, seed: int, plotlyjs: str) -> str:
    import plotly

    parts = []
    if command:
        parts.append(f'<h3>Command</h3>\n<pre><code id="command">{_esc(command)}</code></pre>')
    meta = [
        ("scalelaw", version),
        ("fit made with", f"scalelaw {result.package_version}"),
        ("law", f"{result.law.name}: {result.law.formula()}"),
        ("objective", f"{result.loss} (δ = {result.delta:g}) on log residuals of {result.y}, seed {result.seed}"),
        ("data", result.data_source or "—"),
        ("data hash", result.data_hash or "—"),
        ("bootstrap seed", str(seed)),
        ("Python", platform.python_version()),
        ("numpy / pandas / plotly", f"{np.__version__} / {pd.__version__} / {plotly.__version__}"),
        ("generated", _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")),
    ]
    if runs is not None:
        try:
            loaded = load_runs(runs)
            meta.insert(
                5, ("rows in the data", f"{len(loaded)} rows, {loaded.n_runs} runs, {len(loaded.columns)} columns")
            )
        except ScaleLawError as exc:
            meta.insert(5, ("rows in the data", f"could not load: {exc}"))
    items = "".join(f'<dt>{_esc(k)}</dt><dd id="meta-{_slug(k)}">{_esc(v)}</dd>' for k, v in meta)
    parts.append(f'<dl class="meta">{items}</dl>')
    parts.append(
        "<footer>Self-contained: plotly.js is embedded, so this file opens without a network connection.</footer>"
        if plotlyjs == "inline"
        else "<footer>plotly.js is loaded from its CDN: the figures need a network connection.</footer>"
    )
    return _section("provenance", "Provenance", parts)
