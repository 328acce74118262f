"""Commands beyond final loss: ``emergence``, ``passk``, ``mixture``, ``observe`` and ``chain`` (the library's
:mod:`scalelaw.topics`). Registered on the app by :mod:`scalelaw.cli`; they share its error handling and
rendering.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from scalelaw.cli.common import (
    JsonOption,
    LevelOption,
    SeedOption,
    WhereOption,
    check_point,
    fail,
    load_fit,
    out,
    parse_at,
    parse_ks,
    parse_list,
    parse_number_pairs,
    parse_pairs,
    print_json,
    read_table_or_dataset,
    run_action,
    show,
    with_progress,
)
from scalelaw.cli.render import fmt_number


def emergence(
    data: Annotated[
        str,
        typer.Argument(help="Metrics per scale (a row per scale), per-token log-probs with --tokens, or dataset:NAME."),
    ],
    scale: Annotated[str, typer.Option(help="Scale column.")] = "params",
    metrics: Annotated[
        str | None, typer.Option(help="Metric columns, comma-separated (default: the known metric columns present).")
    ] = None,
    kind: Annotated[
        list[str] | None, typer.Option("--kind", help="How to read a metric: NAME=score|loss|loglik (repeatable).")
    ] = None,
    continuous: Annotated[
        str | None, typer.Option(help="Continuous metrics, comma-separated (default: losses, log-likelihoods, known).")
    ] = None,
    chance: Annotated[list[str] | None, typer.Option(help="Chance level of a metric, NAME=VALUE (repeatable).")] = None,
    tokens: Annotated[
        bool, typer.Option("--tokens", help="DATA holds per-token log-probs (scale, example, logprob); derive metrics.")
    ] = False,
    threshold: Annotated[float, typer.Option(help="Excess share of change in one step that counts as a jump.")] = 0.3,
    as_json: JsonOption = False,
) -> None:
    """Is a jump with scale real, or an artefact of the metric? Compares discontinuous and continuous metrics."""
    from scalelaw.topics import emergence as em

    def action():
        table = read_table_or_dataset(data)
        if tokens:
            table = em.metrics_from_token_logprobs(table, scale=scale)
        chances = parse_number_pairs(chance, "--chance", "numbers, e.g. --chance acc=0.25")
        return em.compare_metrics(
            table,
            metrics=parse_list(metrics),
            scale=scale,
            kinds=parse_pairs(kind, "--kind"),
            continuous=parse_list(continuous),
            chance=chances,
            threshold=threshold,
        )

    result = run_action(action)
    if as_json:
        print_json(
            {
                "data": data,
                "diagnosis": result.diagnosis,
                "verdict": result.verdict,
                "metrics": result.table.to_dict(orient="records"),
            }
        )
        return
    _render_emergence(result)


def _render_emergence(result) -> None:
    view = Table(
        title=f"Jumps across {result.scale} (a metric jumps at excess >= {result.threshold})", title_justify="left"
    )
    for col in ("metric", "kind", "continuous", "jump share", "excess", "largest step", "at chance", "rms log resid"):
        view.add_column(col, justify="left" if col in ("metric", "kind", "largest step") else "right")
    view.add_column("trend", no_wrap=True)  # falling, U-shaped, ...: a word cut in two reads as another
    for row in result.table.itertuples(index=False):
        at_chance = row.at_chance
        view.add_row(
            escape(str(row.metric)),  # metric names are the user's columns
            escape(str(row.kind)),
            "yes" if row.continuous else "no",
            f"{row.jump_share:.2f}",
            f"{row.excess:.2f}" + (" *" if row.jumps else ""),
            f"{row.jump_from:.3g} -> {row.jump_to:.3g}",
            "—" if at_chance is None or at_chance != at_chance else str(int(at_chance)),
            f"{row.rms_log_residual:.3f}",
            escape(str(row.trend)),
        )
    out.print(view)
    out.print(result.verdict, highlight=False, markup=False)


def passk(
    data: Annotated[
        str,
        typer.Argument(
            help="Samples table: one row per problem (n_samples, n_correct) or per sample "
            "(problem, correct [, score, answer])."
        ),
    ],
    k: Annotated[
        str | None, typer.Option("--k", help="Sample budgets, comma-separated (default: 25 log-spaced).")
    ] = None,
    target_coverage: Annotated[
        list[float] | None,
        typer.Option("--target-coverage", help="Report samples needed for this coverage (repeatable)."),
    ] = None,
    method: Annotated[
        str, typer.Option(help="coverage (perfect verifier), best_of (needs score) or majority (needs answer).")
    ] = "coverage",
    ceiling: Annotated[
        bool, typer.Option("--ceiling", help="Fit the law with a plateau C_max (coverage_ceiling).")
    ] = False,
    mapping: Annotated[
        list[str] | None, typer.Option("--map", help="Rename columns: 'task_id=problem' (repeatable).")
    ] = None,
    n_boot: Annotated[int, typer.Option(help="Bootstrap resamples of the problems.")] = 200,
    level: LevelOption = 0.9,
    seed: SeedOption = 0,
    as_json: JsonOption = False,
) -> None:
    """Unbiased pass@k / coverage vs samples, the exp(-A k^-b) law fit, and samples needed for a target."""
    from scalelaw.topics.coverage_law import coverage_study

    def action():
        law = "coverage_ceiling" if ceiling else "coverage"
        return coverage_study(
            data, parse_ks(k), method, law, target_coverage, n_boot=n_boot, level=level, seed=seed, mapping=mapping
        )

    value = "coverage" if method == "coverage" else "success"
    show(run_action(action), as_json, lambda study: _render_passk(study, value, level))


def _render_passk(study, value: str, level: float) -> None:
    curve, fitted = study.curve, study.fit
    table = Table(title=f"{value} vs samples ({int(curve['n_problems'][0])} problems, {level:.0%} interval)")
    for col in ("k", value, "low", "high", *(("coverage",) if value == "success" else ())):
        table.add_column(col, justify="right")
    for row in curve.itertuples(index=False):
        extra = (fmt_number(row.coverage),) if value == "success" else ()
        table.add_row(
            str(row.samples), fmt_number(getattr(row, value)), fmt_number(row.low), fmt_number(row.high), *extra
        )
    out.print(table)
    if fitted is not None:
        params = ", ".join(f"{n} = {fmt_number(v)}" for n, v in fitted.params.items())
        out.print(
            f"{fitted.result.law.formula()}: {params}  (paper: a = {fmt_number(fitted.paper_params['a'])}, "
            f"b = {fmt_number(fitted.paper_params['b'])}; k spans {fitted.decades:.2g} decades)",
            highlight=False,
            markup=False,
        )
    for row in () if study.targets is None else study.targets.itertuples(index=False):
        beyond = row.extrapolation_decades
        out.print(
            f"coverage {row.target:g}: {fmt_number(row.samples)} samples per problem "
            f"[{fmt_number(row.low)}, {fmt_number(row.high)}]"
            + (f", {beyond:.2g} decades beyond the data" if beyond > 0 else ""),
            highlight=False,
            markup=False,
        )


def mixture(
    data: Annotated[
        str, typer.Argument(help="Proxy runs, one row per run, proportions in w_<domain> columns; or dataset:NAME.")
    ],
    domains: Annotated[
        str | None,
        typer.Option(help="Domains, comma-separated (default: every w_* column); the last is the reference."),
    ] = None,
    y: Annotated[str, typer.Option(help="Loss column(s), comma-separated; several are averaged (Ye et al.).")] = "loss",
    model: Annotated[str, typer.Option(help="mixing_law, linear or log_linear.")] = "mixing_law",
    ridge: Annotated[float, typer.Option(help="Ridge penalty of the linear models.")] = 0.0,
    cap: Annotated[
        list[str] | None, typer.Option("--cap", help="Largest share of a domain, NAME=SHARE (repeatable).")
    ] = None,
    where: WhereOption = None,
    compare: Annotated[
        bool, typer.Option("--compare", help="Also rank the models by 5-fold held-out Spearman.")
    ] = False,
    bootstrap: Annotated[int, typer.Option(help="By-run bootstrap refits (0: none).")] = 200,
    seed: Annotated[int, typer.Option(help="Seed of the search and the bootstrap.")] = 0,
    as_json: JsonOption = False,
) -> None:
    """Fit loss against mixture proportions and propose the best mix under per-domain caps."""
    from scalelaw.data.rows import where_mask
    from scalelaw.topics import mixture as mx

    def action():
        table = read_table_or_dataset(data)
        table = table.loc[where_mask(table, where, data)]
        targets = parse_list(y) or ["loss"]
        caps = parse_number_pairs(cap, "--cap", "shares in [0, 1], e.g. --cap code=0.3")
        names = parse_list(domains)
        ranking = mx.compare_models(table, names, targets, ridge=ridge, seed=seed) if compare else None
        fitted = mx.fit_mixture(table, names, targets, model=model, ridge=ridge)
        return fitted, mx.optimize_mixture(fitted, caps=caps, n_bootstrap=bootstrap, seed=seed), ranking

    fitted, best, ranking = run_action(action)
    if as_json:
        print_json(
            {
                "model": fitted.model,
                "domains": list(fitted.domains),
                "params": fitted.param_table().to_dict(orient="records"),
                "best": best.mixture,
                "predicted": best.predicted,
                "table": best.table().to_dict(orient="records"),
                "at_cap": list(best.at_cap),
                "beyond_data": list(best.beyond_data),
                "comparison": None if ranking is None else ranking.to_dict(orient="records"),
            }
        )
        return
    _render_mixture(fitted, best, ranking)


def _render_mixture(fitted, best, ranking) -> None:
    if ranking is not None:
        view = Table(title="Held-out rank correlation (5-fold by run)", title_justify="left")
        for col in ("model", "spearman", "rmse"):
            view.add_column(col)
        for r in ranking.itertuples():
            view.add_row(escape(str(r.model)), fmt_number(r.spearman), fmt_number(r.rmse))
        out.print(view)
    view = Table(
        title=escape(f"Best mix ({fitted.model}; {best.level:.0%} bootstrap intervals by run)"), title_justify="left"
    )
    for col in ("quantity", "estimate", "low", "high", "cap"):
        view.add_column(col, justify="left" if col == "quantity" else "right")
    for r in best.table().itertuples():
        view.add_row(
            escape(str(r.quantity)), fmt_number(r.estimate), fmt_number(r.low), fmt_number(r.high), fmt_number(r.cap)
        )
    out.print(view)
    if best.beyond_data:
        out.print(
            f"note: the best mix puts more on {', '.join(best.beyond_data)} than any proxy run did; "
            "treat it as an extrapolation and test it before trusting it",
            style="yellow",
            highlight=False,
            markup=False,
        )


def observe(
    data: Annotated[
        str, typer.Argument(help="Model table, one row per model (file or dataset:NAME, e.g. dataset:ruan2024).")
    ],
    target: Annotated[str, typer.Option("--target", "-t", help="Benchmark column to predict (left out of the PCA).")],
    cutoff_flops: Annotated[
        float, typer.Option(help="Train on models at or below this compute; predict the rest.")
    ] = 8.4e22,
    benchmarks: Annotated[
        str | None, typer.Option(help="Comma-separated score columns for the capability PCA (default: the paper's 8).")
    ] = None,
    components: Annotated[int, typer.Option(help="Number of capability factors.")] = 3,
    n_boot: Annotated[int, typer.Option(help="Bootstrap replicates for the prediction intervals.")] = 200,
    level: LevelOption = 0.9,
    seed: SeedOption = 0,
    as_json: JsonOption = False,
) -> None:
    """Observational scaling backtest (Ruan et al. 2024): capability PCA + sigmoid link vs log-FLOPs only."""
    from scalelaw.topics import observational as ob

    def action():
        return ob.holdout_by_flops(
            read_table_or_dataset(data),
            target,
            cutoff=cutoff_flops,
            benchmarks=parse_list(benchmarks) or ob.DEFAULT_BENCHMARKS,
            n_components=components,
            n_boot=n_boot,
            level=level,
            seed=seed,
        )

    backtest = run_action(action)
    summary = backtest.metrics()
    if as_json:
        print_json({**summary, "models": backtest.table.to_dict(orient="records")})
        return
    out.print(
        f"{target}: trained on {summary['n_train']} models <= {cutoff_flops:.3g} FLOPs, predicted {summary['n_test']}; "
        f"the first {components} capability factors hold {summary['variance_share']:.1%} of the variance",
        highlight=False,
        markup=False,
    )
    table = Table("model", "FLOPs", "observed", "predicted", f"{level:.0%} interval", "log-FLOPs only")
    for row in backtest.table.sort_values("flops").itertuples():
        table.add_row(
            escape(str(row.model)),
            f"{row.flops:.3g}",
            f"{row.observed:.3f}",
            f"{row.predicted:.3f}",
            f"[{row.low:.3f}, {row.high:.3f}]",
            f"{row.baseline_predicted:.3f}",
        )
    out.print(table)
    out.print(
        f"MAE {summary['mae']:.4f} (log-FLOPs only {summary['baseline_mae']:.4f}); interval coverage "
        f"{summary['coverage']:.0%} (log-FLOPs only {summary['baseline_coverage']:.0%})",
        highlight=False,
        markup=False,
    )


def chain_cmd(
    loss_file: Annotated[Path, typer.Argument(help="Loss-law fit JSON (scalelaw fit --out), e.g. overtrain.")],
    link_file: Annotated[
        Path,
        typer.Argument(help="Link fit JSON: a law of the loss alone, e.g. downstream_exp or downstream_sigmoid."),
    ],
    at: Annotated[
        list[str] | None, typer.Option(help="Inputs of the loss law, e.g. 'params=7e9,tokens=1.4e11' (repeatable).")
    ] = None,
    interval: Annotated[
        float | None,
        typer.Option(help="Add an interval at this level, e.g. 0.9 (joint by-run bootstrap of both fits)"),
    ] = None,
    observation: Annotated[
        bool, typer.Option(help="Interval for a new run's measured metric (adds both stages' noise).")
    ] = False,
    stages: Annotated[
        bool, typer.Option("--stages", help="With --interval: also show each stage's interval alone.")
    ] = False,
    n_boot: Annotated[int, typer.Option(help="Bootstrap replicates for --interval.")] = 1000,
    seed: SeedOption = 0,
    as_json: JsonOption = False,
) -> None:
    """Predict a downstream metric in two stages: inputs -> loss (first fit) -> metric (second fit)."""
    from scalelaw.topics.downstream import chain, chain_records

    if not at:
        fail("give --at, e.g. --at params=7e9,tokens=1.4e11", 2)

    def action():
        two_stage = chain(load_fit(loss_file), load_fit(link_file))
        points = parse_at(at)
        for point in points:
            check_point(two_stage.loss_fit, point)
        draw = None
        if interval is not None:  # drawn after the point predictions
            draw = lambda: with_progress(  # noqa: E731
                lambda progress: two_stage.bootstrap(n=n_boot, seed=seed, progress=progress), "bootstrap", quiet=as_json
            )
        level = interval if interval is not None else 0.9
        return two_stage, chain_records(two_stage, points, draw, level, observation, stages)

    two_stage, rows = run_action(action)
    if as_json:
        loss_law, link_law = two_stage.loss_fit.law, two_stage.metric_fit.law
        payload: dict[str, Any] = {"loss_law": loss_law.name, "link": link_law.name, "y": two_stage.metric}
        payload["predictions"] = rows
        if len(rows) == 1:
            payload.update(rows[0])
        print_json(payload)
        return
    _render_chain(two_stage, rows, interval, stages)


def _render_chain(two_stage, rows: list[dict[str, Any]], interval: float | None, stages: bool) -> None:
    loss_law, link_law, metric = two_stage.loss_fit.law, two_stage.metric_fit.law, two_stage.metric
    view = Table(title=escape(f"{loss_law.name} -> {link_law.name} prediction of {metric}"), title_justify="left")
    for name in (*loss_law.inputs, two_stage.loss, metric):
        view.add_column(escape(name), justify="right")
    if interval is not None:
        view.add_column(f"{interval:.0%} interval", justify="right")
        if stages:
            view.add_column("loss stage alone", justify="right")
            view.add_column("link stage alone", justify="right")
    for row in rows:
        cells = [*[f"{row['at'][n]:.4g}" for n in loss_law.inputs], f"{row[two_stage.loss]:.4g}", f"{row['value']:.6g}"]
        if interval is not None:
            cells.append(f"[{row['low']:.6g}, {row['high']:.6g}]")
            if stages:
                cells.append(f"[{row['loss_only_low']:.6g}, {row['loss_only_high']:.6g}]")
                cells.append(f"[{row['metric_only_low']:.6g}, {row['metric_only_high']:.6g}]")
        view.add_row(*cells)
    out.print(view)
    if interval is not None:
        out.print(f"interval: {rows[0]['method']}", style="dim", highlight=False, markup=False)
