"""``scalelaw sweep``: train a ladder of tiny transformers (the optional ``sweep`` extra) and watch it on a rich
progress display. Registered on the app by :mod:`scalelaw.cli`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from scalelaw.cli.common import err, fail, out, print_json, run_action
from scalelaw.errors import DataError, ScaleLawError


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
