"""Training loop of one sweep run: AdamW, a warmup + cosine / constant / WSD schedule, evaluation at intervals.

Determinism: the model is initialized from the run's seed (:func:`scalelaw.sweep.model.build_model`),
the batch of step ``s`` is drawn from ``numpy.random.default_rng([seed, s])`` (so it depends on nothing
that came before) and evaluation uses fixed, evenly spaced validation windows. With the same
``threads``, a run gives bit-identical losses in any process, which is what makes the local, process-pool
and Ray backends agree and lets an interrupted run resume exactly.

Resuming: with a ``state_dir`` the run saves its model and optimizer state after every checkpoint
(``STATE_DIR/RUN.pt``, written atomically) and deletes it when the run ends. :func:`train_run` resumes from
that state when its step is not beyond ``start_after`` (the last step the run store holds), else it starts
over and skips the evaluations already stored; either way it emits rows only for steps after
``start_after``.
"""

from __future__ import annotations

import io
import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from scalelaw.data.io import write_bytes_atomic
from scalelaw.sweep import SweepError, require_torch
from scalelaw.sweep.config import RunSpec
from scalelaw.sweep.corpus import Corpus, load_corpus
from scalelaw.sweep.events import Checkpoint, Event, RunFinished, RunProgress, RunStarted, RunSummary
from scalelaw.sweep.model import GPT, build_model

torch = require_torch()

#: Seconds between two :class:`RunProgress` events of one run.
PROGRESS_INTERVAL = 0.25
#: Validation windows per forward pass during evaluation.
EVAL_BATCH = 64
#: AdamW betas and epsilon (fixed: part of what makes runs comparable).
BETAS = (0.9, 0.95)
EPS = 1e-8


def batch(data: np.ndarray, seed: int, step: int, batch_size: int, context_length: int) -> tuple[Any, Any]:
    """Inputs and next-token targets of optimizer step ``step``: random windows of ``data``, from ``(seed, step)``."""
    rng = np.random.default_rng([seed, step])
    starts = rng.integers(0, data.size - context_length - 1, size=batch_size)
    index = starts[:, None] + np.arange(context_length + 1)
    windows = torch.from_numpy(data[index].astype(np.int64))
    return windows[:, :-1], windows[:, 1:]


def eval_windows(data: np.ndarray, n_tokens: int, context_length: int) -> tuple[Any, Any]:
    """``n_tokens // context_length`` windows spread evenly over ``data`` (the same at every evaluation)."""
    count = max(1, min(n_tokens // context_length, (data.size - 1) // context_length))
    starts = np.linspace(0, data.size - context_length - 1, count).astype(np.int64)
    windows = torch.from_numpy(data[starts[:, None] + np.arange(context_length + 1)].astype(np.int64))
    return windows[:, :-1], windows[:, 1:]


def evaluate(model: GPT, inputs: Any, targets: Any) -> float:
    """Mean validation cross-entropy in nats per token."""
    model.eval()
    total = 0.0
    with torch.no_grad():
        for i in range(0, inputs.shape[0], EVAL_BATCH):
            logits = model(inputs[i : i + EVAL_BATCH])
            total += torch.nn.functional.cross_entropy(
                logits.reshape(-1, logits.shape[-1]), targets[i : i + EVAL_BATCH].reshape(-1), reduction="sum"
            ).item()
    model.train()
    return total / targets.numel()


def _optimizer(model: GPT, spec: RunSpec) -> Any:
    decay = [p for p in model.parameters() if p.dim() >= 2]
    other = [p for p in model.parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": spec.weight_decay}, {"params": other, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=spec.schedule.lr, betas=BETAS, eps=EPS, foreach=False)


def state_path(state_dir: str | os.PathLike, run: str) -> Path:
    return Path(state_dir) / f"{run}.pt"


def _load_state(path: Path | None, spec: RunSpec, start_after: int) -> dict[str, Any] | None:
    if path is None or not path.exists():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # a corrupt or foreign file: start over rather than fail
        return None
    if state.get("config_hash") != spec.config_hash or not 0 < int(state.get("step", 0)) <= start_after:
        return None
    return state


def _save_state(path: Path, spec: RunSpec, step: int, model: GPT, optimizer: Any) -> None:
    state = {"config_hash": spec.config_hash, "step": step, "model": model.state_dict()}
    state["optimizer"] = optimizer.state_dict()
    buffer = io.BytesIO()  # the models are tiny: serialize in memory, then one atomic write
    torch.save(state, buffer)
    write_bytes_atomic(path, buffer.getvalue())


def train_run(
    spec: RunSpec,
    *,
    start_after: int = 0,
    state_dir: str | os.PathLike | None = None,
    emit: Callable[[Event], None] | None = None,
    corpus: Corpus | None = None,
) -> RunSummary:
    """Train one run, emitting its events; return its summary.

    Parameters
    ----------
    spec : RunSpec
        The run (``scalelaw.sweep.config.SweepConfig.runs``), with its ``config_hash``.
    start_after : int
        Last step already in the run store: rows up to it are not emitted again.
    state_dir : path, optional
        Folder for the resumable training state; None: no state is saved or loaded.
    emit : callable, optional
        Receives :class:`RunStarted`, :class:`RunProgress`, :class:`Checkpoint` and :class:`RunFinished`.
    corpus : Corpus, optional
        The corpus of ``spec`` when already loaded.

    Raises
    ------
    SweepError
        When the loss stops being finite (training diverged).
    """
    emit = emit or (lambda event: None)
    began, began_cpu = time.perf_counter(), time.process_time()
    torch.set_num_threads(spec.threads)
    corpus = corpus or load_corpus(spec.corpus, spec.val_fraction, spec.max_bytes)
    model = build_model(spec.model_config(), spec.seed)
    optimizer = _optimizer(model, spec)
    path = state_path(state_dir, spec.run) if state_dir is not None else None
    state = _load_state(path, spec, start_after)
    step0 = 0
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        step0 = int(state["step"])
    emit(RunStarted(spec.run, spec.steps, step0))
    val_inputs, val_targets = eval_windows(corpus.val, spec.eval_tokens, spec.context_length)
    evals = set(spec.eval_steps)
    loss_sum, loss_count, last_row = 0.0, 0, None
    last_report = time.perf_counter()
    model.train()
    for step in range(step0 + 1, spec.steps + 1):
        lr = spec.schedule.lr_at(step, spec.steps)
        for group in optimizer.param_groups:
            group["lr"] = lr
        inputs, targets = batch(corpus.train, spec.seed, step, spec.batch_size, spec.context_length)
        loss = model.loss(inputs, targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if spec.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), spec.grad_clip)
        optimizer.step()
        value = loss.item()
        if not math.isfinite(value):
            raise SweepError(
                f"run {spec.run} diverged at step {step} (training loss {value}); lower [schedule] lr "
                f"(now {spec.schedule.lr:g}) or raise the warmup"
            )
        loss_sum += value
        loss_count += 1
        if step in evals:
            train_loss = loss_sum / loss_count
            loss_sum, loss_count = 0.0, 0
            if step > start_after:
                val = evaluate(model, val_inputs, val_targets)
                if not math.isfinite(val):
                    raise SweepError(f"run {spec.run}: validation loss is {val} at step {step}; lower [schedule] lr")
                last_row = {
                    "run": spec.run,
                    "params": spec.params,
                    "tokens": step * spec.tokens_per_step,
                    "flops": spec.flops_per_token * step * spec.tokens_per_step,
                    "step": step,
                    "lr": lr,
                    "batch_size": spec.tokens_per_step,
                    "loss": val,
                    "seed": spec.seed,
                    "train_loss": train_loss,
                    "size": spec.size.name,
                    "config_hash": spec.config_hash,
                }
                emit(Checkpoint(spec.run, (last_row,)))
                if path is not None and step < spec.steps:
                    _save_state(path, spec, step, model, optimizer)
        now = time.perf_counter()
        if now - last_report >= PROGRESS_INTERVAL or step == spec.steps:
            emit(RunProgress(spec.run, step, spec.steps, value))
            last_report = now
    if path is not None:
        path.unlink(missing_ok=True)
    if last_row is None:  # nothing after start_after: the run was already complete
        raise SweepError(f"run {spec.run} had nothing left to train after step {start_after}")
    summary = RunSummary(
        run=spec.run,
        size=spec.size.name,
        params=spec.params,
        tokens=spec.tokens,
        flops=spec.flops,
        steps=spec.steps,
        seed=spec.seed,
        loss=float(last_row["loss"]),
        train_loss=float(last_row["train_loss"]),
        seconds=time.perf_counter() - began,
        cpu_seconds=time.process_time() - began_cpu,
        status="resumed" if (start_after > 0 or step0 > 0) else "trained",
    )
    emit(RunFinished(spec.run, summary))
    return summary
