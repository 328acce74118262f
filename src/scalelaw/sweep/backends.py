"""Run a sweep: plan against the run store, train the missing runs on a backend, append their checkpoints.

Backends
--------
``workers=1``
    Sequential, in this process.
``workers=N`` (N > 1, or None for one per ``threads`` cores)
    A pool of N spawned processes; each run uses ``[training] threads`` torch threads. As with any
    spawned pool, a script that calls :func:`run_sweep` with ``workers > 1`` needs the
    ``if __name__ == "__main__":`` guard (the ``scalelaw`` command has it).
``ray="auto" | "local" | ADDRESS``
    Ray tasks of ``threads`` CPUs each. ``"auto"`` connects to a running cluster (``ray start --head``),
    ``"local"`` starts a private instance in this process, anything else is passed to
    ``ray.init(address=...)`` (``"127.0.0.1:6379"``, ``"ray://host:10001"``). When Ray is already
    initialized in this process it is used as it is. Workers need scalelaw with the ``[sweep]`` extra
    installed; the training state for resuming is written under the store's folder, so resuming a run
    from its saved state needs that folder on a shared file system (without it, runs restart and the
    stored rows are still not duplicated).

Whatever the backend, workers send their events back to this process, which alone writes the run
store; given the same config (seeds, threads) every backend writes the same rows.
"""

from __future__ import annotations

import os
import queue as queue_module
import shutil
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from scalelaw._result import Result, jsonable
from scalelaw.errors import DataError
from scalelaw.sweep import SweepError, require_ray
from scalelaw.sweep.config import RunSpec, SweepConfig, load_config
from scalelaw.sweep.corpus import load_corpus
from scalelaw.sweep.events import (
    Checkpoint,
    Event,
    PlannedRun,
    RunFinished,
    RunSummary,
    SweepStarted,
)
from scalelaw.sweep.fanout import connect
from scalelaw.sweep.store import RunStore

#: Seconds the driver waits for events between checks of its workers.
POLL = 0.1


@dataclass(frozen=True)
class SweepResult(Result):
    """What a sweep did.

    Attributes
    ----------
    store : Path
        The run store (every checkpoint).
    final : Path or None
        The final checkpoint of every complete run (:func:`scalelaw.sweep.store.final_path`).
    runs : tuple of RunSummary
        One per run of the config, in config order (``status`` says trained, resumed or skipped).
    seconds : float
        Wall time of the sweep.
    backend : str
        ``"sequential"``, ``"process pool (N workers)"`` or ``"ray (ADDRESS)"``.
    corpus : dict
        :meth:`scalelaw.sweep.corpus.Corpus.describe` of the corpus.
    """

    store: Path
    final: Path | None
    runs: tuple[RunSummary, ...]
    seconds: float = field(compare=False)  # wall-clock time is not part of what the sweep did
    backend: str
    corpus: dict[str, Any] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """One row per run of the config, in config order: the fields of its :class:`RunSummary`.

        Returns
        -------
        pandas.DataFrame
            Columns ``run, size, params, tokens, flops, steps, seed, loss, train_loss, seconds, cpu_seconds, status``.
        """
        columns = list(RunSummary.__dataclass_fields__)
        return pd.DataFrame([r.to_dict() for r in self.runs], columns=columns)

    def summary(self) -> str:
        """How many runs were trained, resumed or skipped, where and how fast; then the store."""
        counts = {s: sum(r.status == s for r in self.runs) for s in ("trained", "resumed", "skipped")}
        done = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
        return (
            f"sweep of {len(self.runs)} runs ({done or 'none'}) in {self.seconds:.1f} s, {self.backend}\n"
            f"store: {self.store}" + (f"\nfinal checkpoints: {self.final}" if self.final is not None else "")
        )

    def to_dict(self) -> dict[str, Any]:
        """The store, the final checkpoints, the backend, the wall time, the corpus and every run's summary."""
        out = {
            "store": str(self.store),
            "final": None if self.final is None else str(self.final),
            "backend": self.backend,
            "seconds": self.seconds,
            "corpus": self.corpus,
            "runs": [r.to_dict() for r in self.runs],
        }
        return jsonable(out)


def run_sweep(
    config: SweepConfig | str | os.PathLike,
    out: str | os.PathLike | None = None,
    *,
    workers: int | None = 1,
    ray: str | None = None,
    on_event: Callable[[Event], None] | None = None,
    resume_state: bool = True,
) -> SweepResult:
    """Train every run of ``config`` that the run store does not hold complete, and append its checkpoints.

    Parameters
    ----------
    config : SweepConfig or path
        A config, or the path of its TOML file.
    out : path, optional
        Run store (``.jsonl`` or ``.parquet``); default ``NAME.runs.jsonl`` next to the config file.
    workers : int or None
        1: sequential in this process; N > 1: a process pool of N; None: ``cpu_count // threads``
        processes. Ignored with ``ray``.
    ray : str, optional
        ``"auto"``, ``"local"`` or a Ray address: run on Ray instead (see the module docstring).
    on_event : callable, optional
        Receives every :mod:`scalelaw.sweep.events` record (progress bars); called in this process.
    resume_state : bool
        Save each run's training state after every checkpoint so an interrupted run continues from its
        last checkpoint (else it starts over and skips the rows already stored).

    Returns
    -------
    SweepResult

    Raises
    ------
    DataError
        Bad config, a run store that holds the same run id from a different config, a store locked by
        another sweep, or ``workers < 1``.
    SweepError
        A run failed (the message names it); rows of runs that finished are kept.
    SweepExtraMissing
        torch (or, with ``ray``, Ray) is not installed.
    """
    began = time.perf_counter()
    if not isinstance(config, SweepConfig):
        config = load_config(config)
    if workers is not None and (isinstance(workers, bool) or int(workers) != workers or workers < 1):
        raise DataError(f"workers must be a whole number >= 1 (or None for one per core), got {workers!r}")
    if workers is None:
        workers = max(1, (os.cpu_count() or 1) // config.threads)
    ray_api = require_ray() if ray is not None else None
    emit = on_event or (lambda event: None)
    store = RunStore(out if out is not None else config.default_store)
    state_dir = store.path.with_name(store.path.name + ".state") if resume_state else None

    with store.locked():
        corpus = load_corpus(config.corpus, config.val_fraction, config.max_bytes)
        specs = [spec.with_hash(corpus.fingerprint) for spec in config.runs()]
        store.set_order([s.run for s in specs])
        jobs: list[tuple[RunSpec, int]] = []
        skipped: list[str] = []
        for spec in specs:
            stored_hash = store.config_hash(spec.run)
            if stored_hash is not None and stored_hash != spec.config_hash:
                raise DataError(
                    f"run store {store.path} already holds run {spec.run!r} from different settings or another "
                    f"corpus (config_hash {stored_hash} there, {spec.config_hash} now); pass another --out, or "
                    "delete the store to retrain"
                )
            last = store.last_step(spec.run)
            if last >= spec.steps:
                skipped.append(spec.run)
            else:
                jobs.append((spec, last))
        if not jobs:
            workers, backend = 1, "nothing to train"
        elif ray_api is not None:
            backend = f"ray ({ray})"
        elif workers > 1 and len(jobs) > 1:
            workers = min(workers, len(jobs))
            backend = f"process pool ({workers} workers)"
        else:
            workers = 1
            backend = "sequential"
        emit(
            SweepStarted(
                name=config.name,
                store=str(store.path),
                backend=backend,
                workers=workers,
                planned=tuple(
                    PlannedRun(s.run, s.size.name, s.params, s.steps, last, s.flops_per_token * s.tokens_per_step)
                    for s, last in jobs
                ),
                skipped=tuple(skipped),
                corpus=corpus.describe(),
            )
        )
        driver = _Driver(store, emit, specs)
        # Largest runs first: a pool finishes soonest when the long runs do not start last.
        jobs.sort(key=lambda job: -job[0].flops)
        if not jobs:
            pass  # everything is in the store already
        elif ray_api is not None:
            _run_ray(ray_api, ray, jobs, state_dir, driver)
        elif workers > 1:
            _run_pool(workers, jobs, state_dir, driver)
        else:
            for spec, last in jobs:
                _train(spec, last, state_dir, driver.handle, corpus)
        final = store.write_final([(s.run, s.steps) for s in specs])
        if state_dir is not None and state_dir.is_dir() and not any(state_dir.iterdir()):
            shutil.rmtree(state_dir, ignore_errors=True)

    summaries = []
    for spec in specs:
        if spec.run in driver.summaries:
            summaries.append(driver.summaries[spec.run])
        else:
            summaries.append(_stored_summary(store, spec))
    return SweepResult(
        store=store.path,
        final=final,
        runs=tuple(summaries),
        seconds=time.perf_counter() - began,
        backend=backend,
        corpus=corpus.describe(),
    )


class _Driver:
    """Receives worker events in the driver: appends checkpoints to the store, records summaries."""

    def __init__(self, store: RunStore, emit: Callable[[Event], None], specs: list[RunSpec]) -> None:
        self.store, self.emit = store, emit
        self.specs = {s.run: s for s in specs}
        self.summaries: dict[str, RunSummary] = {}

    def handle(self, event: Event) -> None:
        if isinstance(event, Checkpoint):
            self.store.append(event.rows)
        elif isinstance(event, RunFinished):
            self.summaries[event.run] = event.summary
            self.store.write_final([(s.run, s.steps) for s in self.specs.values()])
        self.emit(event)


def _stored_summary(store: RunStore, spec: RunSpec) -> RunSummary:
    last = store.rows(spec.run)[-1]
    return RunSummary(
        run=spec.run,
        size=spec.size.name,
        params=spec.params,
        tokens=int(last["tokens"]),
        flops=float(last["flops"]),
        steps=int(last["step"]),
        seed=spec.seed,
        loss=float(last["loss"]),
        train_loss=float(last.get("train_loss", float("nan"))),
        seconds=0.0,
        cpu_seconds=0.0,
        status="skipped",
    )


def _train(spec: RunSpec, start_after: int, state_dir: Path | None, emit: Callable[[Event], None], corpus=None):
    from scalelaw.sweep.train import train_run

    return train_run(spec, start_after=start_after, state_dir=state_dir, emit=emit, corpus=corpus)


# ------------------------------------------------------------------------------------------ process pool
_QUEUE: Any = None


def _init_worker(events: Any) -> None:
    global _QUEUE
    _QUEUE = events
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the driver handles Ctrl-C and stops the pool


def _pool_task(spec: RunSpec, start_after: int, state_dir: Path | None) -> RunSummary:
    return _train(spec, start_after, state_dir, _QUEUE.put)


def _run_pool(workers: int, jobs: list[tuple[RunSpec, int]], state_dir: Path | None, driver: _Driver) -> None:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("spawn")  # fork after torch has started threads can deadlock
    events = context.Queue()
    before = set(multiprocessing.active_children())
    executor = ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker, initargs=(events,))
    try:
        futures = {spec.run: executor.submit(_pool_task, spec, last, state_dir) for spec, last in jobs}
        waiting = set(futures)
        while waiting:
            try:
                event = events.get(timeout=POLL)
            except queue_module.Empty:
                event = None
            if event is not None:
                driver.handle(event)
                if isinstance(event, RunFinished):
                    waiting.discard(event.run)
                continue
            for run in waiting:
                future = futures[run]
                if future.done() and future.exception() is not None:
                    _raise_failed(run, future.result)  # also a worker that died (BrokenProcessPool)
        executor.shutdown(wait=True)
    except BaseException:
        executor.shutdown(wait=False, cancel_futures=True)
        for process in set(multiprocessing.active_children()) - before:  # only this pool's workers
            process.terminate()
        raise
    finally:
        events.close()
        events.cancel_join_thread()


def _raise_failed(run: str, get: Callable[[], Any]) -> None:
    try:
        get()
    except SweepError:
        raise
    except Exception as exc:
        raise SweepError(f"run {run} failed: {type(exc).__name__}: {exc}") from exc


# ------------------------------------------------------------------------------------------ ray
def _ray_task(spec: RunSpec, start_after: int, state_dir: Path | None, events: Any) -> RunSummary:
    def put(event: Event) -> None:
        events.put(event)

    return _train(spec, start_after, state_dir, put)


def _run_ray(ray: Any, address: str, jobs: list[tuple[RunSpec, int]], state_dir: Path | None, driver: _Driver) -> None:
    from ray.util.queue import Queue

    started = connect(ray, address)
    threads = jobs[0][0].threads
    events = Queue()
    task = ray.remote(num_cpus=threads)(_ray_task)
    refs: dict[str, Any] = {}
    try:
        refs = {spec.run: task.remote(spec, last, state_dir, events) for spec, last in jobs}
        waiting = set(refs)
        while waiting:
            batch = events.get_nowait_batch(events.qsize()) if events.qsize() else []
            for event in batch:
                driver.handle(event)
                if isinstance(event, RunFinished):
                    waiting.discard(event.run)
            if batch:
                continue
            ready, _ = ray.wait([refs[r] for r in waiting], num_returns=len(waiting), timeout=POLL)
            by_ref = {refs[r]: r for r in waiting}
            for ref in ready:
                _raise_failed(by_ref[ref], lambda ref=ref: ray.get(ref))
    except BaseException:
        for ref in refs.values():
            ray.cancel(ref, force=True)
        raise
    finally:
        events.shutdown()
        if started:
            ray.shutdown()
