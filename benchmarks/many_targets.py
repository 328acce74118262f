#!/usr/bin/env python
"""Many targets at once: one law fitted to 100 metric columns of a 30-model ladder, in one batch.

The question (issue #17, item 5): per-benchmark laws over dozens of tasks (observational scaling, OLMo-style
task ladders) fit one law to many metric columns. How long does ``scalelaw.fit(law, data, y=[...100 columns])``
take against one column alone, and how does each target's answer compare with fitting it alone?
**Target: 100 columns in <= 5x the time of one column.** The batch runs its own, cheaper search, so a target's
answer may differ from its lone fit's; the contract: where the lone fit converged, the batched objective is at most
the lone one x (1 + 1e-9), with the same status flags; where it did not converge, the difference and the flags are
reported.

Data (seeded, ``--seed 0``): ``--models`` (30) models with compute evenly spaced in log10 from 1e18 to
1e23 FLOPs, and ``--targets`` (100) metrics, each ``(E + A * flops^-alpha) * exp(noise)`` with
``E ~ U(0.3, 2)``, ``A ~ 10^U(1, 3)``, ``alpha ~ U(0.05, 0.3)`` and log-normal noise of sd 0.5%, 1% or 2%
(cycled); 1 cell in 20 of every fifth metric is missing (NaN: that row is left out of that metric only).
Law: ``power`` on ``flops`` (3 parameters, its 30-start grid, default settings).

Timing (2 shared cores, threads pinned to 1): one warm-up; then ``--repeats`` (3) rounds, each timing the
batch (all targets, the whole ``scalelaw.fit`` call) and each of ``--singles`` (10) targets alone (every tenth)
(the whole call); medians of wall and CPU time (``time.process_time``: steadier on shared cores) reported,
ratio = median batch / median single. All 100 lone fits are timed once too (their mean is the other
denominator), and serve the comparison (the contract above, counted). The slowest lone fit is printed too.

``--study N``: the reliability study instead of the timing: every target batched and alone on the ladder with
seeds 0..N-1, on harder shapes (steep, flat, 5% noise, 8 models, 30% missing; 2 x 60 targets each) and on the
bundled multi-metric data (ruan2024's benchmark errors against flops, every Pythia model's eval columns against
tokens); the contract's counts per family and for all.

Usage: ``PYTHONPATH=src python benchmarks/many_targets.py [--targets 100] [--models 30] [--repeats 3] [--study 6]``.
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


def timed(fn):
    """Wall seconds, CPU seconds of this process, and ``fn()``: on shared cores the CPU time is the steadier one."""
    t0, c0 = time.perf_counter(), time.process_time()
    value = fn()
    return time.perf_counter() - t0, time.process_time() - c0, value


def compare(frame: pd.DataFrame, targets: list[str], law: str = "power") -> list[dict]:
    """Every target of ``frame`` fitted in one batch and alone (its rows with a value): one record per target."""
    multi = scalelaw.fit(law, frame, y=targets)
    out = []
    for t in targets:
        lone = scalelaw.fit(law, frame.dropna(subset=[t]), y=t)
        got = multi[t]
        out.append(
            {
                "target": f"{getattr(frame, 'attrs', {}).get('name', '')}{t}",
                "lone_converged": lone.status.converged,
                "rel": (got.objective - lone.objective) / abs(lone.objective),
                "flags_equal": got.status.flags() == lone.status.flags(),
                "lone_flags": "; ".join(lone.status.flags()),
                "batch_flags": "; ".join(got.status.flags()),
            }
        )
    return out


def summarize(name: str, records: list[dict]) -> None:
    """The contract, for one family of targets: converged alone -> never worse than alone by more than 1e-9
    (relative), same flags; not converged alone -> the relative difference and the flags."""
    conv = [r for r in records if r["lone_converged"]]
    other = [r for r in records if not r["lone_converged"]]
    line = f"{name}: {len(records)} targets; converged alone {len(conv)}"
    if conv:
        rel = np.array([r["rel"] for r in conv])
        flags = sum(r["flags_equal"] for r in conv)
        differ = [r for r in conv if not r["flags_equal"]]
        # Flags that differ where both objectives are equal to rounding: a degenerate optimum (alpha = 0 makes
        # E + A one constant, so which of them sits on a bound is arbitrary) ...
        tied = sum(abs(r["rel"]) <= 1e-12 for r in differ)
        # ... or where the batch found a lower optimum (its own flags then describe that one).
        lower = sum(r["rel"] < -1e-9 for r in differ)
        line += (
            f": batch <= lone*(1+1e-9) in {int((rel <= 1e-9).sum())}/{len(conv)} (worst {rel.max():+.2e}, "
            f"{int((rel < -1e-9).sum())} lower by > 1e-9); flags equal {flags}/{len(conv)}, differing "
            f"{len(differ)}: {tied} at equal objectives (degenerate), {lower} where the batch is lower, "
            f"{len(differ) - tied - lower} other"
        )
    if other:
        rel = np.array([r["rel"] for r in other])
        flags = sum(r["flags_equal"] for r in other)
        line += (
            f"; not converged alone {len(other)}: relative difference {rel.min():+.2e} .. {rel.max():+.2e}, "
            f"flags equal {flags}/{len(other)}"
        )
    print(line, flush=True)
    for r in conv:
        other = not r["flags_equal"] and abs(r["rel"]) > 1e-12 and r["rel"] >= -1e-9
        if r["rel"] > 1e-9 or other:
            print(
                f"    {'worse' if r['rel'] > 1e-9 else 'flags'}: {r['target']} {r['rel']:+.2e} "
                f"(alone: {r['lone_flags'] or 'ok'}; batch: {r['batch_flags'] or 'ok'})"
            )


def shaped(kind: str, seed: int, n_targets: int = 60) -> pd.DataFrame:
    """Harder ladders: steep exponents, flat curves, 5% noise, 8 models, 30% of cells missing."""
    rng = np.random.default_rng(1000 + seed)
    n_models = 8 if kind == "few rows" else 30
    flops = np.logspace(18, 23, n_models)
    data: dict[str, object] = {"run": [f"model{i}" for i in range(n_models)], "flops": flops}
    for k in range(n_targets):
        E, A, alpha, sd = rng.uniform(0.3, 2.0), 10 ** rng.uniform(1, 3), rng.uniform(0.05, 0.3), 0.01
        if kind == "steep":
            alpha, A = rng.uniform(0.3, 1.0), 10 ** rng.uniform(5, 20)
        elif kind == "flat":
            A = 10 ** rng.uniform(-1, 1)
        elif kind == "noisy 5%":
            sd = 0.05
        values = (E + A * flops**-alpha) * np.exp(rng.normal(0, sd, n_models))
        if kind == "NaNs":
            values[rng.random(n_models) < 0.3] = np.nan
        data[f"m{k:03d}"] = values
    return pd.DataFrame(data)


def real_frames() -> list[tuple[str, pd.DataFrame, list[str]]]:
    """Bundled multi-metric data: ruan2024's 8 benchmark errors (1 - accuracy) against flops, and every Pythia
    model's 15 zero-shot and five-shot eval columns (errors; perplexity as it is) against tokens."""
    out = []
    ruan = scalelaw.datasets.load("ruan2024")
    benches = ["mmlu", "arc_c", "hellaswag", "winograd", "truthfulqa", "gsm8k", "xwinograd", "humaneval"]
    frame = ruan.dropna(subset=["flops"])[["model", "flops", *benches]].rename(columns={"model": "run"})
    frame[benches] = 1.0 - frame[benches]
    out.append(("ruan2024 (8 errors vs flops)", frame.reset_index(drop=True), benches))
    pythia = scalelaw.datasets.load("pythia_evals")
    pythia = pythia.assign(
        column=pythia["task"] + "_" + pythia["metric"],
        value=np.where(pythia["metric"] == "ppl", pythia["value"], 1.0 - pythia["value"]),
    )
    for shots in (0, 5):
        frames = []
        for model, rows in pythia[pythia["num_fewshot"] == shots].groupby("model"):
            wide = rows.pivot_table(index="tokens", columns="column", values="value").reset_index()
            frames.append((model, wide))
        for model, wide in frames:
            cols = [c for c in wide.columns if c != "tokens"]
            out.append((f"pythia {model} {shots}-shot", wide.assign(run=[f"c{i}" for i in range(len(wide))]), cols))
    return out


def study(seeds: int) -> None:
    """The reliability study: every target batched and alone, on the ladder (several seeds), harder shapes and
    the bundled multi-metric data."""
    t0 = time.perf_counter()
    records: list[dict] = []
    for seed in range(seeds):
        frame = ladder(30, 100, seed)
        records += compare(frame, [c for c in frame.columns if c.startswith("metric")])
    summarize(f"ladder, seeds 0-{seeds - 1}", records)
    everything = list(records)
    for kind in ("steep", "flat", "noisy 5%", "few rows", "NaNs"):
        recs: list[dict] = []
        for seed in range(2):
            frame = shaped(kind, seed)
            recs += compare(frame, [c for c in frame.columns if c.startswith("m0")])
        summarize(f"{kind}, 2 x 60", recs)
        everything += recs
    real: list[dict] = []
    pythia: list[dict] = []
    for name, frame, cols in real_frames():
        law = "power" if "flops" in frame.columns else scalelaw.get_law("power", x="tokens")
        recs = compare(frame, cols, law)
        if name.startswith("ruan"):
            summarize(name, recs)
            real += recs
        else:
            pythia += recs
    summarize("pythia_evals (16 models x 0- and 5-shot, 15 columns, power in tokens)", pythia)
    everything += real + pythia
    summarize("ALL", everything)
    print(f"study took {time.perf_counter() - t0:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=100)
    parser.add_argument("--models", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--singles", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--study", type=int, default=0, help="run the reliability study on this many ladder seeds")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    print(f"load average {os.getloadavg()[0]:.2f} at the start", flush=True)
    if args.study:
        study(args.study)
        print(f"load average {os.getloadavg()[0]:.2f} at the end")
        return
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
    (batch, c_batch), (single, c_single) = np.median(batch_times, axis=0), np.median(single_times, axis=0)
    mean, c_mean = t_loop / len(targets), c_loop / len(targets)
    print(f"{args.targets} targets x {args.models} models, law power (seed {args.seed}); seconds wall / CPU")
    print(f"batch of all targets:   median {batch:.3f} / {c_batch:.3f} (search {multi.fit_seconds:.3f} wall)")
    print(f"one target alone:       median {single:.3f} / {c_single:.3f} ({len(sample)} targets spread over the list)")
    print(f"all targets one by one: {t_loop:.3f} / {c_loop:.3f} (mean {mean:.3f} / {c_mean:.3f} per target)")
    print(f"batch / median one:     {batch / single:.1f}x / {c_batch / c_single:.1f}x   (target <= 5x)")
    print(f"batch / mean one:       {batch / mean:.1f}x / {c_batch / c_mean:.1f}x")
    print(f"loop / batch:           {t_loop / batch:.1f}x / {c_loop / c_batch:.1f}x")
    w_slow, c_slow, _ = each[slowest]
    print(
        f"slowest target alone:   {w_slow:.3f} / {c_slow:.3f} ({slowest}, {lone[slowest].n_points} points, flags: "
        f"{'; '.join(lone[slowest].status.flags()) or 'none'}) = {w_slow / mean:.1f}x / {c_slow / c_mean:.1f}x the mean"
    )
    records = [
        {
            "target": t,
            "lone_converged": lone[t].status.converged,
            "rel": (multi[t].objective - lone[t].objective) / abs(lone[t].objective),
            "flags_equal": multi[t].status.flags() == lone[t].status.flags(),
            "lone_flags": "; ".join(lone[t].status.flags()),
            "batch_flags": "; ".join(multi[t].status.flags()),
        }
        for t in targets
    ]
    summarize("batch vs lone fits", records)
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
