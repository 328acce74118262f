#!/usr/bin/env python
"""Many targets at once: one law fitted to 100 metric columns of a 30-model ladder, in one batch.

The question (issue #17, item 5): per-benchmark laws over dozens of tasks (observational scaling, OLMo-style
task ladders) fit one law to many metric columns. How long does ``scalelaw.fit(law, data, y=[...100 columns])``
take against one column alone, and does every target end where fitting it alone ends?
**Target: 100 columns in <= 5x the time of one column; each target's objective equal to its lone fit's to
1e-9 relative.**

Data (seeded, ``--seed 0``): ``--models`` (30) models with compute evenly spaced in log10 from 1e18 to
1e23 FLOPs, and ``--targets`` (100) metrics, each ``(E + A * flops^-alpha) * exp(noise)`` with
``E ~ U(0.3, 2)``, ``A ~ 10^U(1, 3)``, ``alpha ~ U(0.05, 0.3)`` and log-normal noise of sd 0.5%, 1% or 2%
(cycled); 1 cell in 20 of every fifth metric is missing (NaN: that row is left out of that metric only).
Law: ``power`` on ``flops`` (3 parameters, its 30-start grid, default settings).

Timing (2 shared cores, threads pinned to 1): one warm-up; then ``--repeats`` (3) rounds, each timing the
batch (all targets, the whole ``scalelaw.fit`` call) and each of ``--singles`` (10) targets alone (every tenth)
(the whole call); medians of wall and CPU time (``time.process_time``: steadier on shared cores) reported,
ratio = median batch / median single. All 100 lone fits are timed once too (their mean is the other
denominator), and serve the equivalence check. The slowest lone fit is printed too: the batch follows every
target's own search step by step, so no batch of these targets can take fewer steps than that one.

Usage: ``PYTHONPATH=src python benchmarks/many_targets.py [--targets 100] [--models 30] [--repeats 3]``.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import warnings

import numpy as np
import pandas as pd

import scalelaw


def ladder(n_models: int, n_targets: int, seed: int) -> pd.DataFrame:
    """The seeded synthetic task ladder described in the module docstring."""
    rng = np.random.default_rng(seed)
    flops = np.logspace(18, 23, n_models)
    data: dict[str, object] = {"run": [f"model{i}" for i in range(n_models)], "flops": flops}
    for k in range(n_targets):
        E, A, alpha = rng.uniform(0.3, 2.0), 10 ** rng.uniform(1, 3), rng.uniform(0.05, 0.3)
        sd = (0.005, 0.01, 0.02)[k % 3]
        values = (E + A * flops**-alpha) * np.exp(rng.normal(0, sd, n_models))
        if k % 5 == 0:
            values[rng.random(n_models) < 0.05] = np.nan
        data[f"metric{k:03d}"] = values
    return pd.DataFrame(data)


def _param_rel(a, b) -> float:
    a, b = np.asarray(a), np.asarray(b)
    scale = np.maximum(np.maximum(np.abs(a), np.abs(b)), 1e-300)
    return float(np.max(np.abs(a - b) / scale))


def timed(fn):
    """Wall seconds, CPU seconds of this process, and ``fn()``: on shared cores the CPU time is the steadier one."""
    t0, c0 = time.perf_counter(), time.process_time()
    value = fn()
    return time.perf_counter() - t0, time.process_time() - c0, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=100)
    parser.add_argument("--models", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--singles", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    frame = ladder(args.models, args.targets, args.seed)
    targets = [c for c in frame.columns if c.startswith("metric")]

    def alone(target: str):
        return scalelaw.fit("power", frame.dropna(subset=[target]), y=target)

    alone(targets[0])  # warm-up
    scalelaw.fit("power", frame, y=targets[:2])
    sample = targets[:: max(1, len(targets) // args.singles)][: args.singles]  # spread over the metrics
    batch_times, single_times = [], []
    multi = None
    for _ in range(args.repeats):
        *seconds, multi = timed(lambda: scalelaw.fit("power", frame, y=targets))
        batch_times.append(seconds)
        single_times += [timed(lambda t=t: alone(t))[:2] for t in sample]
    assert multi is not None
    each = {t: timed(lambda t=t: alone(t)) for t in targets}
    lone = {t: v for t, (_, _, v) in each.items()}
    t_loop, c_loop = (sum(e[k] for e in each.values()) for k in (0, 1))
    slowest = max(targets, key=lambda t: each[t][1])
    rel = np.array([abs(multi[t].objective - lone[t].objective) / abs(lone[t].objective) for t in targets])
    param_rel = np.array([_param_rel(multi[t].values, lone[t].values) for t in targets])
    (batch, c_batch), (single, c_single) = np.median(batch_times, axis=0), np.median(single_times, axis=0)
    mean, c_mean = t_loop / len(targets), c_loop / len(targets)
    print(f"{args.targets} targets x {args.models} models, law power (seed {args.seed}); seconds wall / CPU")
    print(f"batch of all targets:   median {batch:.3f} / {c_batch:.3f} (search {multi.fit_seconds:.3f} wall)")
    print(f"one target alone:       median {single:.3f} / {c_single:.3f} ({len(sample)} targets spread over the list)")
    print(f"all targets one by one: {t_loop:.3f} / {c_loop:.3f} (mean {mean:.3f} / {c_mean:.3f} per target)")
    print(f"batch / median one:     {batch / single:.1f}x / {c_batch / c_single:.1f}x   (target <= 5x)")
    print(f"batch / mean one:       {batch / mean:.1f}x / {c_batch / c_mean:.1f}x")
    print(f"loop / batch:           {t_loop / batch:.1f}x / {c_loop / c_batch:.1f}x")
    # The batch follows every target's own search, so it takes at least as many steps as its slowest target.
    w_slow, c_slow, _ = each[slowest]
    print(
        f"slowest target alone:   {w_slow:.3f} / {c_slow:.3f} ({slowest}, {lone[slowest].n_points} points, flags: "
        f"{'; '.join(lone[slowest].status.flags()) or 'none'}) = {w_slow / mean:.1f}x / {c_slow / c_mean:.1f}x the mean"
    )
    print(
        f"objective vs lone fit: max relative difference {rel.max():.2e}; {int((rel <= 1e-9).sum())}/{rel.size} <= 1e-9"
    )
    print(f"parameters vs lone fit: max relative difference {param_rel.max():.2e}")
    print(
        f"targets flagged: {sum(not multi[t].status.ok for t in targets)} (same in lone fits: "
        f"{sum(multi[t].status.flags() == lone[t].status.flags() for t in targets)}/{len(targets)} agree)"
    )


if __name__ == "__main__":
    main()
