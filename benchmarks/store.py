#!/usr/bin/env python
"""Run store: time to append N checkpoints one by one, as a sweep's driver does (issue #17 item 7).

A seeded table of ``--runs`` runs, their checkpoints interleaved in a random order (as a process pool
delivers them; steps increase within a run), is appended to a fresh JSON lines store one row per
``append`` while holding the store's lock, as :func:`scalelaw.sweep.backends.run_sweep` does. Reported
per size: the time of all appends, the time to release the lock (where the store sorts itself once),
the microseconds per append in the first and the last tenth of the appends (equal when an append
costs the same however long the store already is: linear in total), and the time to read the store
back with :class:`~scalelaw.sweep.store.RunStore` and with :func:`scalelaw.load_runs`.

The script uses only the public ``RunStore`` API, so it times whichever implementation is on the path::

    PYTHONPATH=src python benchmarks/store.py --sizes 10000 30000 100000
    PYTHONPATH=/tmp/old/src python benchmarks/store.py --sizes 1000 3000 10000   # a checkout before the change

``--dir`` chooses where the store is written (default: a temporary folder; its file system decides
what ``fsync`` costs); ``--json`` writes the measurements to a file.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import environment

import scalelaw
from scalelaw.sweep.store import RunStore


def checkpoints(n: int, runs: int, seed: int) -> tuple[list[str], list[dict]]:
    """``n`` seeded checkpoint rows of ``runs`` runs, interleaved at random, steps increasing per run."""
    rng = np.random.default_rng(seed)
    names = [f"r{i:03d}" for i in range(runs)]
    owner = rng.integers(0, runs, size=n)
    steps = [0] * runs
    rows = []
    for i in owner.tolist():
        steps[i] += 1
        params = 10_000 * (i + 1)
        tokens = 4096 * steps[i]
        loss = 2.0 + 5.0 / (1 + steps[i]) ** 0.3 + float(rng.normal(0, 0.01))
        rows.append(
            {
                "run": names[i],
                "params": params,
                "tokens": tokens,
                "flops": 6.0 * params * tokens,
                "step": steps[i],
                "lr": 0.003,
                "batch_size": 4096,
                "loss": loss,
                "seed": 0,
                "train_loss": loss + 0.05,
                "size": f"s{i}",
                "config_hash": f"h{i:03d}",
            }
        )
    return names, rows


def measure(n: int, runs: int, seed: int, folder: Path) -> dict:
    names, rows = checkpoints(n, runs, seed)
    path = folder / f"bench{n}.runs.jsonl"
    path.unlink(missing_ok=True)
    store = RunStore(path)
    tenth = max(1, n // 10)
    marks = []
    began = time.perf_counter()
    with store.locked():
        store.set_order(names)
        for i, row in enumerate(rows):
            if i in (0, tenth, n - tenth):
                marks.append(time.perf_counter())
            store.append([row])
        appended = time.perf_counter()
    released = time.perf_counter()
    reread = RunStore(path)
    read = time.perf_counter()
    loaded = scalelaw.load_runs(path)
    load_runs_done = time.perf_counter()
    assert len(reread) == n and len(loaded) == n
    assert [(r["run"], r["step"]) for r in reread.rows()] == sorted(
        ((r["run"], r["step"]) for r in rows), key=lambda k: (names.index(k[0]), k[1])
    )
    result = {
        "checkpoints": n,
        "runs": runs,
        "append_s": appended - began,
        "release_s": released - appended,
        "us_per_append_first_tenth": 1e6 * (marks[1] - marks[0]) / tenth,
        "us_per_append_last_tenth": 1e6 * (appended - marks[2]) / tenth,
        "read_store_s": read - released,
        "load_runs_s": load_runs_done - read,
        "file_bytes": path.stat().st_size,
    }
    path.unlink()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 30_000, 100_000])
    parser.add_argument("--runs", type=int, default=20, help="runs the checkpoints belong to")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dir", type=Path, default=None, help="where to write the store (default: a temp folder)")
    parser.add_argument("--json", type=Path, default=None, help="write the measurements here")
    args = parser.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        print(f"store module: {RunStore.__module__} from {sys.modules[RunStore.__module__].__file__}")
        print(
            f"{'checkpoints':>11} {'append s':>9} {'release s':>9} {'us/append 1st 10%':>18} "
            f"{'us/append last 10%':>18} {'read s':>7} {'load_runs s':>11}"
        )
        for n in args.sizes:
            r = measure(n, args.runs, args.seed, Path(tmp))
            results.append(r)
            print(
                f"{n:>11} {r['append_s']:>9.2f} {r['release_s']:>9.2f} {r['us_per_append_first_tenth']:>18.1f} "
                f"{r['us_per_append_last_tenth']:>18.1f} {r['read_store_s']:>7.2f} {r['load_runs_s']:>11.2f}",
                flush=True,
            )
    if args.json is not None:
        payload = {
            "environment": environment(store_module=sys.modules[RunStore.__module__].__file__),
            "results": results,
        }
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
