#!/usr/bin/env python
"""Does the optimum depend on rounding? The engine under simulated CPUs.

Another CPU (or BLAS kernel, or thread count) rounds the same arithmetic differently, and on small flat problems
that once changed which optimum the engine returned (issue #14: m4 on a 9-point Porian envelope, 1.4e-3 above the
best optimum on one AMD EPYC machine, every time). Here each dataset is fitted ``--jitters`` times, its losses
multiplied by ``1 + 1e-13 z`` (z standard normal, seeded; jitter 0 is the data as given), which perturbs every
trajectory about as much as a different CPU does, while moving the best objective by ~1e-13 only.

Counted: fits whose objective is more than 1e-6 (relative) above the best any jitter of that dataset reached.

Datasets: the 15 experiments of ``porian2024_optimal`` (loss against compute), on their smallest 80% and on all
points, fitted with ``m4`` and ``bnsl``; and the 30 chinchilla reliability sets of ``fit_speed.py``.

Usage::

    python benchmarks/rounding.py                 # 8 jitters (about 15 minutes on 2 cores)
    python benchmarks/rounding.py --jitters 3 --json out.json
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402
import fit_speed  # noqa: E402

import scalelaw  # noqa: E402

REL = 1e-6


def envelope_cases() -> list[tuple[str, str, dict[str, np.ndarray], dict]]:
    optimal = scalelaw.datasets.load("porian2024_optimal")
    cases = []
    for law in ("m4", "bnsl"):
        for frac in (0.8, 1.0):
            for experiment in sorted(optimal["experiment"].unique()):
                env = optimal[optimal["experiment"] == experiment].dropna(subset=["flops", "loss"])
                if frac < 1:
                    env = env[env["flops"] < np.quantile(env["flops"], frac)]
                data = {"flops": env["flops"].to_numpy(), "loss": env["loss"].to_numpy()}
                cases.append((f"{law} {experiment} ({frac:.0%})", law, data, {"law_options": {"x": "flops"}}))
    return cases


def chinchilla_cases() -> list[tuple[str, str, dict[str, np.ndarray], dict]]:
    reals = [fit_speed.real("porian2024"), fit_speed.real("gadre2024_rpj")]
    sets = fit_speed.hard_synthetic(20) + fit_speed.subsamples(reals, 10)
    return [(f"chinchilla {d.name}", "chinchilla", {"params": d.N, "tokens": d.D, "loss": d.L}, {}) for d in sets]


def run(cases, jitters: int) -> list[dict]:
    rows = []
    for name, law, data, kwargs in cases:
        objectives = []
        t0 = time.perf_counter()
        for j in range(jitters):
            loss = data["loss"] * (
                1 + (1e-13 * np.random.default_rng(j).standard_normal(len(data["loss"])) if j else 0)
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                objectives.append(scalelaw.fit(law, {**data, "loss": loss}, **kwargs).objective)
        f = np.array(objectives)
        misses = int(np.sum(f > f.min() * (1 + REL)))
        rows.append(
            {
                "case": name,
                "law": law,
                "best": float(f.min()),
                "misses": misses,
                "worst_gap": float(f.max() / f.min() - 1),
                "seconds": time.perf_counter() - t0,
            }
        )
        print(f"   {name:58s} misses {misses}/{jitters}  worst gap {rows[-1]['worst_gap']:.1e}", flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jitters", type=int, default=8)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    env = _common.environment(jitters=args.jitters)
    print(
        f"rounding benchmark: {env['date']}, git {env['git_commit']}{' (src dirty)' if env['git_dirty_src'] else ''}, "
        f"{env['cpu_count']} cores, numpy {env['numpy']}"
    )
    rows = run(envelope_cases() + chinchilla_cases(), args.jitters)
    summary = {}
    for law in ("m4", "bnsl", "chinchilla"):
        mine = [r for r in rows if r["law"] == law]
        summary[law] = {
            "cases": len(mine),
            "fits": len(mine) * args.jitters,
            "missed_fits": sum(r["misses"] for r in mine),
            "cases_with_a_miss": sum(r["misses"] > 0 for r in mine),
        }
        print(
            f"{law:10s} {summary[law]['missed_fits']}/{summary[law]['fits']} fits missed the best optimum "
            f"({summary[law]['cases_with_a_miss']} of {len(mine)} datasets)"
        )
    if args.json:
        args.json.write_text(json.dumps({"environment": env, "summary": summary, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
