#!/usr/bin/env python
"""Did the faster bootstrap refits change the bootstrap? Old vs new refits on the same resamples.

* **old** (``--baseline``, rebuilt here from the public engine; chunks of 250, ``max_iter=1000``):
  ``irls``, what ``bootstrap()`` did before the two-phase refits (batched Levenberg-Marquardt with the IRLS
  curvature from the point estimate); or ``two-phase`` (default), the two-phase refits before the checking
  phase stopped on a rejected step its model had no gain for (``model_ftol``, issue #17).
* **new**: ``scalelaw.trust.bootstrap.bootstrap(fit, n, by="run", seed)`` as it is now.

Both refit the same resamples (the bootstrap's own draws). We print the 90% and 95% percentile intervals of the
five Chinchilla parameters from each and how far each end moved, in units of the old interval's width. Then a
**multi-start check**: for a seeded sample of replicates, plus every replicate where old and new objectives
differ by more than 1e-9 relative, a full multi-start fit (the law's 4,500-point grid, the engine's defaults)
on that replicate's weights; we count how often old and new reach its objective (within 1e-6 relative).

Usage::

    python benchmarks/bootstrap_honesty.py                       # gadre2024_rpj and porian2024, n=1000
    python benchmarks/bootstrap_honesty.py --n 200 --sample 10   # quick
    python benchmarks/bootstrap_honesty.py --baseline irls       # against the single IRLS phase
    python benchmarks/bootstrap_honesty.py --datasets synthetic240 gadre2024_rpj porian2024
"""

from __future__ import annotations

import os

from _common import THREAD_VARS

for _var in THREAD_VARS:
    os.environ[_var] = "1"

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402

import scalelaw  # noqa: E402
from scalelaw.fitting.engine import Problem, levenberg_marquardt, multistart  # noqa: E402
from scalelaw.fitting.refit import REFIT_OUTER_CURVATURE, fit_problem  # noqa: E402
from scalelaw.trust.bootstrap import _groups, bootstrap  # noqa: E402

PARAMS = ("E", "A", "B", "alpha", "beta")


def old_refits(
    problem: Problem, weights: np.ndarray, z_hat: np.ndarray, baseline: str
) -> tuple[np.ndarray, np.ndarray]:
    """A previous refit, chunks of 250, max_iter 1000: one IRLS Levenberg-Marquardt phase (``irls``), or the
    lighter curvature then IRLS until the damping stalls (``two-phase``)."""
    weighted = Problem(problem.law, problem.X, problem.log_y, problem.loss, problem.delta, weights=weights)
    fast = dataclasses.replace(weighted, outer_curvature=REFIT_OUTER_CURVATURE)
    z_all = np.empty((weights.shape[0], z_hat.size))
    conv_all = np.zeros(weights.shape[0], dtype=bool)
    for start in range(0, weights.shape[0], 250):
        idx = np.arange(start, min(start + 250, weights.shape[0]))
        z = np.repeat(z_hat[None], idx.size, 0)
        if baseline == "two-phase":
            z, _, _, _ = levenberg_marquardt(fast, z, max_iter=1000, sets=idx)
        z, _, conv, _ = levenberg_marquardt(weighted, z, max_iter=1000, sets=idx)
        z_all[idx], conv_all[idx] = z, conv
    return z_all, conv_all


def load(name: str):
    """A bundled dataset, or ``synthetic240`` (laws.md §15.11, as ``bootstrap_speed.py --process`` uses)."""
    if name == "synthetic240":
        from bootstrap_speed import synthetic240_runs

        return synthetic240_runs()
    return f"dataset:{name}"


def check(name: str, n: int, seed: int, sample: int, baseline: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = scalelaw.fit("chinchilla", load(name))
        t = time.perf_counter()
        boot = bootstrap(fit, n=n, by="run", seed=seed)
        t_new = time.perf_counter() - t
    law = fit.law
    problem = fit_problem(fit)
    groups = _groups(fit, "run")
    n_groups = int(groups.max()) + 1
    counts = np.random.default_rng(seed).multinomial(n_groups, np.full(n_groups, 1.0 / n_groups), size=n)
    weights = counts[:, groups].astype(np.float64)
    z_hat = law.to_internal(np.array([fit.values]))[0]
    t = time.perf_counter()
    z_old, conv_old = old_refits(problem, weights, z_hat, baseline)
    t_old = time.perf_counter() - t
    assert boot.n_failed == 0, "the comparison below assumes no dropped replicates"
    z_new = law.to_internal(boot.samples)
    all_sets = np.arange(n)
    weighted = Problem(problem.law, problem.X, problem.log_y, problem.loss, problem.delta, weights=weights)
    f_old = weighted.objective(z_old, all_sets)
    f_new = weighted.objective(z_new, all_sets)
    rel = (f_new - f_old) / f_old
    print(f"\n## {name}: {len(fit.data)} rows, {n_groups} runs, {n} replicates (seed {seed}), old = {baseline}")
    print(f"time (one call each, not a benchmark): new bootstrap {t_new:.2f} s, old refits alone {t_old:.2f} s")
    print(f"at the iteration cap: old {int(np.sum(~conv_old))}, new {boot.n_unconverged}")
    print(
        f"objective new vs old: worse by > 1e-9 rel: {int(np.sum(rel > 1e-9))} (max {rel.max():.2e}); "
        f"better by > 1e-9: {int(np.sum(rel < -1e-9))} (min {rel.min():.2e})"
    )
    th_old, th_new = law.from_internal(z_old), boot.samples
    for level in (0.9, 0.95):
        a = (1 - level) / 2
        print(f"{level:.0%} percentile intervals (old -> new; shift of each end in old widths)")
        for k, p in enumerate(PARAMS):
            lo_o, hi_o = np.quantile(th_old[:, k], [a, 1 - a])
            lo_n, hi_n = np.quantile(th_new[:, k], [a, 1 - a])
            w = hi_o - lo_o
            print(
                f"  {p:<5} [{lo_o:.6g}, {hi_o:.6g}] -> [{lo_n:.6g}, {hi_n:.6g}]  "
                f"low {(lo_n - lo_o) / w:+.2e}, high {(hi_n - hi_o) / w:+.2e}"
            )
    rng = np.random.default_rng(seed + 1)
    chosen = np.union1d(rng.choice(n, size=min(sample, n), replace=False), np.flatnonzero(np.abs(rel) > 1e-9))
    starts = law.to_internal(law.clip(law.start_grid(problem.X, np.exp(problem.log_y))))
    hit_old = hit_new = 0
    worst_old = worst_new = 0.0
    for i in chosen:
        one = Problem(problem.law, problem.X, problem.log_y, problem.loss, problem.delta, weights=weights[i])
        f_ms = float(multistart(one, starts, max_iter=1000).objective[0])
        best = min(f_ms, f_old[i], f_new[i])
        g_old, g_new = (f_old[i] - best) / best, (f_new[i] - best) / best
        hit_old += g_old <= 1e-6
        hit_new += g_new <= 1e-6
        worst_old, worst_new = max(worst_old, g_old), max(worst_new, g_new)
        if g_old > 1e-6 or g_new > 1e-6 or f_ms < best * (1 - 1e-6):
            print(f"  replicate {i}: multistart {f_ms:.10e}, old gap {g_old:.2e}, new gap {g_new:.2e}")
    print(
        f"multi-start check on {chosen.size} replicates ({min(sample, n)} sampled + the differing ones): "
        f"old reaches the best {hit_old}/{chosen.size} (worst gap {worst_old:.2e}), "
        f"new {hit_new}/{chosen.size} (worst gap {worst_new:.2e})"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sample", type=int, default=50, help="replicates checked against a multi-start refit")
    ap.add_argument("--datasets", nargs="+", default=["gadre2024_rpj", "porian2024"])
    ap.add_argument("--baseline", choices=("two-phase", "irls"), default="two-phase", help="the old refits")
    args = ap.parse_args(argv)
    for name in args.datasets:
        check(name, args.n, args.seed, args.sample, args.baseline)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
