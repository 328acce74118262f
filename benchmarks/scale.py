#!/usr/bin/env python
"""Scale: time and peak memory of a chinchilla fit (and a by-run bootstrap) on large checkpoint tables.

Data (synthetic, seeded): ``n_runs`` training runs with 500 checkpoints each (1,000,000 rows = 2,000 runs).
Model sizes N are log-spaced over 1e7..1e10 (in run order, so every prefix of the table is not the same
ladder: runs are shuffled by the seed), each run trained to ``D_final = r * N`` tokens with ``r`` log-uniform
in 5..200 tokens per parameter; its checkpoints are log-spaced along tokens from ``D_final / 100`` to
``D_final``. Truth: the Chinchilla law with Hoffmann et al.'s constants (E = 1.69, A = 406.4, B = 410.7,
alpha = 0.34, beta = 0.28); noise is log-normal: a per-run offset (sd 0.5%) plus per-checkpoint noise
(sd 1%), as checkpoints of one run share its seed.

Every measurement runs in a fresh subprocess (``--child``) so its peak RSS (``resource.getrusage``,
``ru_maxrss``) is its own; the parent runs them one at a time. Threads are pinned to 1.

Usage::

    python benchmarks/scale.py                                  # fit at 10k, 30k, 100k, 300k, 1M rows
    python benchmarks/scale.py --rows 100000 1000000 --bootstrap 200
    python benchmarks/scale.py --rows 1000000 --refits 10           # replicate refits only, no jackknife
    python benchmarks/scale.py --json benchmarks/results/scale.json
"""

from __future__ import annotations

import os

from _common import THREAD_VARS, environment

for _var in THREAD_VARS:
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

CHECKPOINTS = 500
TRUTH = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}


def make_table(n_rows: int, seed: int = 0, checkpoints: int = CHECKPOINTS):
    """The synthetic checkpoint table: ``run, params, tokens, loss`` with ``n_rows`` rows (a multiple of 500)."""
    import numpy as np
    import pandas as pd

    n_runs = max(1, n_rows // checkpoints)
    rng = np.random.default_rng(seed)
    params = rng.permutation(np.logspace(7, 10, n_runs))
    ratio = np.exp(rng.uniform(np.log(5.0), np.log(200.0), n_runs))
    d_final = ratio * params
    frac = np.logspace(-2, 0, checkpoints)
    tokens = (d_final[:, None] * frac[None, :]).ravel()
    N = np.repeat(params, checkpoints)
    t = TRUTH
    law = t["E"] + t["A"] / N ** t["alpha"] + t["B"] / tokens ** t["beta"]
    offset = np.repeat(rng.normal(0.0, 0.005, n_runs), checkpoints)
    loss = law * np.exp(offset + rng.normal(0.0, 0.01, law.size))
    run = np.repeat(np.array([f"run{i:05d}" for i in range(n_runs)], dtype=object), checkpoints)
    return pd.DataFrame({"run": run, "params": N, "tokens": tokens, "loss": loss})


def child(args: argparse.Namespace) -> None:
    """One measurement in this process: build the table, fit (and bootstrap), print a JSON line."""
    import numpy as np

    import scalelaw
    from scalelaw.trust.bootstrap import bootstrap

    table = make_table(args.rows[0], seed=args.seed)
    rss_table = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    result = scalelaw.fit("chinchilla", table)
    fit_s = time.perf_counter() - t0
    out = {
        "rows": len(table),
        "runs": int(table["run"].nunique()),
        "fit_seconds": round(fit_s, 3),
        "fit_engine_seconds": round(result.fit_seconds, 3),
        "objective": result.objective,
        "params": dict(zip(result.law.param_names, result.values, strict=True)),
        "rss_after_table_mb": round(rss_table, 1),
        "peak_rss_fit_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    if args.bootstrap:
        t0 = time.perf_counter()
        boot = bootstrap(result, n=args.bootstrap, by="run", seed=0)
        out["bootstrap_replicates"] = args.bootstrap
        out["bootstrap_seconds"] = round(time.perf_counter() - t0, 3)
        out["bootstrap_ok"] = boot.n
        out["bootstrap_sd"] = dict(zip(result.law.param_names, np.std(boot.samples, axis=0).tolist(), strict=True))
        out["peak_rss_total_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    if args.refits:
        # The replicate refits alone (no jackknife): by-run counts as GroupWeights, as bootstrap() builds them.
        from scalelaw.fitting.engine import GroupWeights
        from scalelaw.fitting.refit import refit_weighted

        groups = np.unique(result.data.run, return_inverse=True)[1]
        n_groups = int(groups.max()) + 1
        counts = np.random.default_rng(0).multinomial(n_groups, np.full(n_groups, 1.0 / n_groups), size=args.refits)
        t0 = time.perf_counter()
        _, ok, conv = refit_weighted(result, GroupWeights(counts.astype(np.float64), groups))
        seconds = time.perf_counter() - t0
        out["refits"] = args.refits
        out["refit_seconds"] = round(seconds, 3)
        out["refit_seconds_each"] = round(seconds / args.refits, 3)
        out["refits_ok_converged"] = [int(ok.sum()), int(conv.sum())]
        out["peak_rss_total_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    out["loadavg_after"] = os.getloadavg()
    print(json.dumps(out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 30_000, 100_000, 300_000, 1_000_000])
    parser.add_argument("--bootstrap", type=int, default=0, help="by-run bootstrap replicates after each fit")
    parser.add_argument("--refits", type=int, default=0, help="time this many by-run replicate refits (no jackknife)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="write every figure here")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    env = environment(checkpoints_per_run=CHECKPOINTS, truth=TRUTH)
    print(json.dumps(env))
    records = []
    for rows in args.rows:
        cmd = [sys.executable, __file__, "--child", "--rows", str(rows), "--seed", str(args.seed)]
        cmd += ["--bootstrap", str(args.bootstrap), "--refits", str(args.refits)]
        load = os.getloadavg()
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            print(done.stderr, file=sys.stderr)
            raise SystemExit(f"child for {rows} rows failed")
        record = json.loads(done.stdout.strip().splitlines()[-1])
        record["loadavg_before"] = load
        records.append(record)
        line = f"{rows:>9,} rows: fit {record['fit_seconds']:7.2f} s, peak RSS {record['peak_rss_fit_mb']:7.1f} MB"
        if args.bootstrap:
            line += f"; bootstrap({args.bootstrap}) {record['bootstrap_seconds']:7.2f} s"
            line += f", peak RSS {record['peak_rss_total_mb']:7.1f} MB"
        if args.refits:
            line += f"; {args.refits} replicate refits {record['refit_seconds']:7.2f} s"
            line += f", peak RSS {record['peak_rss_total_mb']:7.1f} MB"
        print(line + f"  (load {load[0]:.2f})", flush=True)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"environment": env, "records": records}, fh, indent=1)


if __name__ == "__main__":
    main()
