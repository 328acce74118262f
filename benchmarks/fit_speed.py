#!/usr/bin/env python
"""Speed and reliability: scalelaw's vectorized multi-start engine vs a per-start L-BFGS-B loop.

On the same data and the same 4,500-start grid (Epoch AI's, Besiroglu et al. 2024), this times

* the engine: ``scalelaw.fit("chinchilla", runs)`` with default settings (we report both the
  ``fit_seconds`` it measures around the optimizer and the wall time of the whole call), and
* the baseline: for each start, ``scipy.optimize.minimize(fun, z0, jac=True, method="L-BFGS-B",
  bounds=...)`` with scipy's default tolerances, keeping the best result. ``fun`` is the summed
  Huber (delta 1e-3) loss of log residuals and its exact gradient, written below as a careful
  single-start NumPy function in the engine's internal space z = (e, a, b, alpha, beta) with
  E = exp(e), A = exp(a), B = exp(b), and the engine's internal bounds. It does not call the engine.

Both sides run interleaved (engine, loop, engine, loop, ...) after one warm-up each, with threads
pinned to 1 for both (set below, before NumPy is imported). Quality is compared by recomputing
both best objectives with one shared function (``shared_objective``) and listing both parameter
sets. Reliability: on many hard datasets (outliers, few points, extrapolation splits, subsamples of
real data), how often each method reaches the best objective either of them found.

Usage::

    python benchmarks/fit_speed.py                 # full run (about 25 minutes on 2 cores)
    python benchmarks/fit_speed.py --quick         # smoke run (fewer starts, 1 repeat)
    python benchmarks/fit_speed.py --json out.json # also write every figure as JSON

See benchmarks/README.md for the measured figures and how to read them.
"""

from __future__ import annotations

import os

# Pin BLAS/OpenMP threads to 1 for both sides, before NumPy is imported. (OPENBLAS_CORETYPE, if the
# machine sets it, is left alone.)
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
for _var in THREAD_VARS:
    os.environ[_var] = "1"

import argparse  # noqa: E402
import datetime  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import scipy  # noqa: E402
from scipy.optimize import minimize  # noqa: E402

import scalelaw  # noqa: E402
from scalelaw.fitting.engine import Problem  # noqa: E402

DELTA = 1e-3
PARAMS = ("E", "A", "B", "alpha", "beta")  # the engine's parameter order; internal z = (e, a, b, alpha, beta)
EPOCH_TRUTH = {"E": 1.8172, "A": 482.01, "B": 2085.43, "alpha": 0.3478, "beta": 0.3658}
# laws.md §15.11: what a correct fit of the seed-0 synthetic data gives.
EXPECTED_SYNTHETIC = {"E": 1.8367, "A": 525.26, "B": 3187.24, "alpha": 0.3528, "beta": 0.3856}
REL_SUCCESS = 1e-6  # "reached the best known optimum": within this relative distance of it
TARGET_RATIO = 150.0  # issue #17 item 1: the engine at least this many times faster than the loop (wall time)
# Every bundled (N, D) dataset; "gadre2024:<train_dataset>" is one training-set suite of gadre2024.
REAL_TIMED = (
    "porian2024",
    "gadre2024_rpj",
    "gadre2024:rw_original",
    "gadre2024:c4_original",
    "muennighoff2023",
)


# ============================================================================ data


@dataclass
class Dataset:
    name: str
    N: np.ndarray
    D: np.ndarray
    L: np.ndarray
    kind: str = ""
    note: str = ""

    @property
    def n(self) -> int:
        return int(self.L.size)

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame({"params": self.N, "tokens": self.D, "loss": self.L})


def epoch_loss(N: np.ndarray, D: np.ndarray, p: dict[str, float] = EPOCH_TRUTH) -> np.ndarray:
    return p["E"] + p["A"] / N ** p["alpha"] + p["B"] / D ** p["beta"]


def synthetic(
    seed: int, n: int = 240, sigma: float = 0.005
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.random.Generator]:
    """laws.md §15.11: N log-uniform 7e7-1.6e10, D log-uniform 5e9-5e11, log-normal noise sigma."""
    rng = np.random.default_rng(seed)
    N = np.exp(rng.uniform(np.log(7e7), np.log(1.6e10), n))
    D = np.exp(rng.uniform(np.log(5e9), np.log(5e11), n))
    L = epoch_loss(N, D) * np.exp(rng.normal(0.0, sigma, n))
    return N, D, L, rng


def synthetic_main() -> Dataset:
    N, D, L, _ = synthetic(0)
    return Dataset("synthetic-s0", N, D, L, "synthetic", "laws.md §15.11: 240 runs, sigma 0.5%, seed 0")


def real(name: str) -> Dataset:
    """A bundled dataset; ``gadre2024:<train_dataset>`` is one training-set suite of gadre2024."""
    if ":" in name:
        base, suite = name.split(":", 1)
        frame = scalelaw.datasets.load(base)
        frame = frame[frame["train_dataset"] == suite]
        runs = scalelaw.load_runs(frame[["params", "tokens", "loss"]].reset_index(drop=True))
        note = f"dataset:{base}, train_dataset == {suite!r}"
    else:
        runs = scalelaw.load_runs(f"dataset:{name}")
        note = f"dataset:{name}"
    return Dataset(name, runs.array("params"), runs.array("tokens"), runs.array("loss"), "real", note)


def hard_synthetic(n_sets: int) -> list[Dataset]:
    """Synthetic datasets with outliers, few points and extrapolation splits (seeds 1..)."""
    kinds = ("outliers", "few", "extrap", "few+outliers", "clean")
    out = []
    for i in range(n_sets):
        seed = 1 + i
        kind = kinds[i % len(kinds)]
        if kind == "outliers":
            N, D, L, rng = synthetic(seed, 240)
            bad = rng.choice(240, 12, replace=False)
            L[bad] *= rng.uniform(1.1, 1.3, bad.size)
            note = "240 pts, 12 multiplied by U(1.1, 1.3)"
        elif kind == "few":
            N, D, L, _ = synthetic(seed, 20)
            note = "20 pts"
        elif kind == "extrap":
            N, D, L, _ = synthetic(seed, 240)
            keep = np.argsort(N * D, kind="stable")[:120]
            N, D, L = N[keep], D[keep], L[keep]
            note = "smallest 120 of 240 by compute 6ND"
        elif kind == "few+outliers":
            N, D, L, rng = synthetic(seed, 30)
            bad = rng.choice(30, 3, replace=False)
            L[bad] *= rng.uniform(1.1, 1.3, bad.size)
            note = "30 pts, 3 multiplied by U(1.1, 1.3)"
        else:
            N, D, L, _ = synthetic(seed, 240, sigma=0.02)
            note = "240 pts, sigma 2%"
        out.append(Dataset(f"syn-{kind}-s{seed}", N, D, L, kind, note))
    return out


def subsamples(base: list[Dataset], n_sets: int, frac: float = 0.7) -> list[Dataset]:
    out = []
    for i in range(n_sets):
        d = base[i % len(base)]
        rng = np.random.default_rng(100 + i)
        idx = np.sort(rng.choice(d.n, round(frac * d.n), replace=False))
        out.append(Dataset(f"{d.name}-sub{i}", d.N[idx], d.D[idx], d.L[idx], "subsample", f"{idx.size} of {d.n} rows"))
    return out


# ============================================================================ objectives


class LoopObjective:
    """Summed Huber loss of log residuals and its exact gradient for ONE start (the baseline's ``fun``).

    z = (e, a, b, alpha, beta); log prediction = logsumexp(e, a - alpha log N, b - beta log D),
    evaluated with the max-shift so it never overflows inside the bounds. Vectorized over rows.
    """

    def __init__(self, data: Dataset, delta: float = DELTA) -> None:
        self.lN = np.log(data.N)
        self.lD = np.log(data.D)
        self.lL = np.log(data.L)
        self.delta = delta
        self.n_calls = 0

    def __call__(self, z: np.ndarray) -> tuple[float, np.ndarray]:
        self.n_calls += 1
        e, a, b, alpha, beta = z
        t1 = a - alpha * self.lN
        t2 = b - beta * self.lD
        m = np.maximum(np.maximum(t1, t2), e)
        x0 = np.exp(e - m)
        x1 = np.exp(t1 - m)
        x2 = np.exp(t2 - m)
        s = x0 + x1 + x2
        r = m + np.log(s) - self.lL
        d = self.delta
        abs_r = np.abs(r)
        f = np.sum(np.where(abs_r <= d, 0.5 * r * r, d * (abs_r - 0.5 * d)))
        psi = np.clip(r, -d, d) / s  # dHuber/dr times 1/s (the shares of each term are x_k / s)
        g1 = psi * x1
        g2 = psi * x2
        grad = np.array([psi @ x0, g1.sum(), g2.sum(), -(g1 @ self.lN), -(g2 @ self.lD)])
        return float(f), grad


def shared_objective(data: Dataset, theta: dict[str, float], delta: float = DELTA) -> float:
    """One independent function used to score both methods' answers (natural parameters in).

    np.logaddexp for the log prediction, math.fsum for an exactly rounded sum over points.
    """
    lN, lD, lL = np.log(data.N), np.log(data.D), np.log(data.L)
    log_pred = np.logaddexp(
        np.logaddexp(math.log(theta["A"]) - theta["alpha"] * lN, math.log(theta["B"]) - theta["beta"] * lD),
        math.log(theta["E"]),
    )
    r = log_pred - lL
    abs_r = np.abs(r)
    per_point = np.where(abs_r <= delta, 0.5 * r * r, delta * (abs_r - 0.5 * delta))
    return math.fsum(per_point.tolist())


def z_to_theta(z: np.ndarray) -> dict[str, float]:
    return {"E": math.exp(z[0]), "A": math.exp(z[1]), "B": math.exp(z[2]), "alpha": float(z[3]), "beta": float(z[4])}


def make_problem(data: Dataset) -> Problem:
    law = scalelaw.get_law("chinchilla")
    return Problem(law=law, X={"params": data.N, "tokens": data.D}, log_y=np.log(data.L), loss="huber", delta=DELTA)


def verify_baseline(data: Dataset, grid_z: np.ndarray, n_points: int = 12) -> dict:
    """The baseline objective equals the engine's ``Problem.objective`` (1e-12 relative) and its
    gradient equals both the engine's exact gradient and central differences."""
    problem = make_problem(data)
    fun = LoopObjective(data)
    rng = np.random.default_rng(7)
    pts = [grid_z[i] for i in rng.choice(grid_z.shape[0], n_points // 2, replace=False)]
    law = problem.law
    truth = law.to_internal(law.theta(EPOCH_TRUTH))[0]
    pts += [truth + rng.normal(0, 0.05, 5) for _ in range(n_points - len(pts) - 1)] + [truth]
    Z = np.array(pts)
    f_engine = problem.objective(Z)
    _, g_engine, _ = problem.objective_grad_hess(Z)
    max_rel_f = max_rel_g = max_rel_fd = 0.0
    for k, z in enumerate(Z):
        f, g = fun(z)
        max_rel_f = max(max_rel_f, abs(f - f_engine[k]) / max(abs(f_engine[k]), 1e-300))
        max_rel_g = max(max_rel_g, float(np.max(np.abs(g - g_engine[k])) / max(np.max(np.abs(g_engine[k])), 1e-300)))
        if k >= n_points // 2:  # central differences near the truth, where the loss is smooth enough
            h = 1e-7
            fd = np.array([(fun(z + h * np.eye(5)[j])[0] - fun(z - h * np.eye(5)[j])[0]) / (2 * h) for j in range(5)])
            max_rel_fd = max(max_rel_fd, float(np.max(np.abs(fd - g)) / max(np.max(np.abs(g)), 1e-300)))
    return {
        "points": int(Z.shape[0]),
        "max_rel_objective_vs_engine": max_rel_f,
        "max_rel_gradient_vs_engine": max_rel_g,
        "max_rel_gradient_vs_central_diff": max_rel_fd,
        "ok": bool(max_rel_f <= 1e-12 and max_rel_g <= 1e-9 and max_rel_fd <= 1e-4),
    }


# ============================================================================ the two methods


def epoch_grid_natural(data: Dataset) -> np.ndarray:
    law = scalelaw.get_law("chinchilla")
    return law.clip(law.start_grid({"params": data.N, "tokens": data.D}, data.L))


def grid_subset(n_full: int, n: int | None) -> np.ndarray | None:
    """Indices of a seeded random subset of the grid (None = the whole grid)."""
    if n is None or n >= n_full:
        return None
    return np.sort(np.random.default_rng(12345).choice(n_full, n, replace=False))


def run_engine(data: Dataset, starts_natural: np.ndarray | None, **kwargs) -> dict:
    frame = data.frame()
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = scalelaw.fit("chinchilla", frame, starts=starts_natural, **kwargs)
    wall = time.perf_counter() - t0
    theta = {k: float(res.params[k]) for k in PARAMS}
    return {
        "wall_s": wall,
        "fit_seconds": float(res.fit_seconds),
        "theta": theta,
        "own_objective": float(res.objective),
        "n_starts": int(res.n_starts),
        "n_at_best": int(res.status.n_at_best),
        "converged": bool(res.status.converged),
        "at_bound": list(res.status.at_bound),
    }


def run_loop(data: Dataset, starts_z: np.ndarray, bounds: list[tuple[float | None, float | None]]) -> dict:
    fun = LoopObjective(data)
    n = starts_z.shape[0]
    fvals = np.empty(n)
    best_f, best_z, best_i = math.inf, None, -1
    n_success = 0
    t0 = time.perf_counter()
    for i in range(n):
        r = minimize(fun, starts_z[i], jac=True, method="L-BFGS-B", bounds=bounds)
        fvals[i] = r.fun
        n_success += bool(r.success)
        if r.fun < best_f:
            best_f, best_z, best_i = float(r.fun), r.x.copy(), i
    wall = time.perf_counter() - t0
    at_best = int(np.sum(fvals <= best_f + REL_SUCCESS * abs(best_f)))
    return {
        "wall_s": wall,
        "theta": z_to_theta(best_z),
        "own_objective": best_f,
        "n_starts": n,
        "n_at_best": at_best,
        "n_scipy_success": n_success,
        "best_start_index": best_i,
        "n_fun_calls": fun.n_calls,
        "fvals": fvals,
    }


def loop_bounds(problem: Problem) -> list[tuple[float | None, float | None]]:
    return [
        (float(lo) if np.isfinite(lo) else None, float(hi) if np.isfinite(hi) else None)
        for lo, hi in zip(problem.lo, problem.hi, strict=True)
    ]


# ============================================================================ timed comparison


def timed_comparison(data: Dataset, repeats: int, n_starts: int | None) -> dict:
    grid = epoch_grid_natural(data)
    sub = grid_subset(grid.shape[0], n_starts)
    starts_nat = grid if sub is None else grid[sub]
    problem = make_problem(data)
    starts_z = problem.law.to_internal(starts_nat)
    bounds = loop_bounds(problem)
    engine_starts = None if sub is None else starts_nat  # None = fit()'s default grid (the same 4,500 points)

    print(f"\n== {data.name}: {data.n} points, {starts_z.shape[0]} starts ({data.note})", flush=True)
    check = verify_baseline(data, starts_z)
    print(
        f"   baseline objective vs engine Problem.objective: max rel diff {check['max_rel_objective_vs_engine']:.1e}; "
        f"gradient vs engine {check['max_rel_gradient_vs_engine']:.1e}, vs central diff "
        f"{check['max_rel_gradient_vs_central_diff']:.1e} -> {'OK' if check['ok'] else 'MISMATCH'}",
        flush=True,
    )
    if not check["ok"]:
        raise SystemExit("baseline objective does not match the engine's: the comparison would be unfair")

    # one warm-up each, then interleaved repeats
    eng = run_engine(data, engine_starts)
    loop = run_loop(data, starts_z, bounds)
    print(f"   warm-up: engine {eng['wall_s']:.3f} s, loop {loop['wall_s']:.2f} s", flush=True)
    eng_wall, eng_fit, loop_wall = [], [], []
    for k in range(repeats):
        eng = run_engine(data, engine_starts)
        eng_wall.append(eng["wall_s"])
        eng_fit.append(eng["fit_seconds"])
        loop = run_loop(data, starts_z, bounds)
        loop_wall.append(loop["wall_s"])
        print(
            f"   repeat {k + 1}/{repeats}: engine wall {eng['wall_s']:.3f} s (fit_seconds {eng['fit_seconds']:.3f}), "
            f"loop {loop['wall_s']:.2f} s",
            flush=True,
        )

    f_eng = shared_objective(data, eng["theta"])
    f_loop = shared_objective(data, loop["theta"])
    best = min(f_eng, f_loop)
    out = {
        "dataset": data.name,
        "n_points": data.n,
        "n_starts": int(starts_z.shape[0]),
        "note": data.note,
        "baseline_check": check,
        "repeats": repeats,
        "engine_wall_s": eng_wall,
        "engine_fit_seconds": eng_fit,
        "loop_wall_s": loop_wall,
        "engine_wall_median": statistics.median(eng_wall),
        "engine_wall_min": min(eng_wall),
        "engine_fit_seconds_median": statistics.median(eng_fit),
        "engine_fit_seconds_min": min(eng_fit),
        "loop_wall_median": statistics.median(loop_wall),
        "loop_wall_min": min(loop_wall),
        "ratio_median_wall": statistics.median(loop_wall) / statistics.median(eng_wall),
        "ratio_median_fit_seconds": statistics.median(loop_wall) / statistics.median(eng_fit),
        "engine_objective": f_eng,
        "loop_objective": f_loop,
        "engine_rel_gap": (f_eng - best) / abs(best),
        "loop_rel_gap": (f_loop - best) / abs(best),
        "engine_own_objective": eng["own_objective"],
        "loop_own_objective": loop["own_objective"],
        "engine_theta": eng["theta"],
        "loop_theta": loop["theta"],
        "engine_n_at_best": eng["n_at_best"],
        "loop_n_at_best": loop["n_at_best"],
        "loop_n_scipy_success": loop["n_scipy_success"],
        "loop_fun_calls": loop["n_fun_calls"],
        "engine_converged": eng["converged"],
        "engine_at_bound": eng["at_bound"],
    }
    print_timed(out)
    return out


def fmt_theta(t: dict[str, float]) -> str:
    return f"E={t['E']:.4f} A={t['A']:.6g} B={t['B']:.6g} alpha={t['alpha']:.4f} beta={t['beta']:.4f}"


def print_timed(r: dict) -> None:
    print(
        f"   engine: wall median {r['engine_wall_median']:.3f} s, min {r['engine_wall_min']:.3f} s; "
        f"fit_seconds median {r['engine_fit_seconds_median']:.3f} s, min {r['engine_fit_seconds_min']:.3f} s"
    )
    print(
        f"   loop  : wall median {r['loop_wall_median']:.2f} s, min {r['loop_wall_min']:.2f} s "
        f"({r['loop_fun_calls']} objective+gradient calls in the last repeat)"
    )
    print(
        f"   SPEED RATIO (median loop / median engine): {r['ratio_median_wall']:.1f}x by wall time, "
        f"{r['ratio_median_fit_seconds']:.1f}x by fit_seconds"
    )
    print(
        f"   objective (shared function): engine {r['engine_objective']:.10e}, loop {r['loop_objective']:.10e} "
        f"-> engine {'<=' if r['engine_objective'] <= r['loop_objective'] else '>'} loop "
        f"(rel. gaps to the better: engine {r['engine_rel_gap']:.1e}, loop {r['loop_rel_gap']:.1e})"
    )
    print(
        f"   engine params: {fmt_theta(r['engine_theta'])}   ({r['engine_n_at_best']} of the surviving starts at best)"
    )
    print(f"   loop   params: {fmt_theta(r['loop_theta'])}   ({r['loop_n_at_best']} of {r['n_starts']} starts at best)")
    print(
        f"   target (ratio >= {TARGET_RATIO:g} and engine objective <= loop's): {'MET' if target_met(r) else 'NOT MET'}"
    )


def target_met(r: dict) -> bool:
    """Ratio of medians (wall) at least TARGET_RATIO and the engine's objective <= the loop's (to 1e-9 relative)."""
    return r["ratio_median_wall"] >= TARGET_RATIO and r["engine_objective"] <= r["loop_objective"] * (1 + 1e-9)


# ============================================================================ reliability


def reliability(
    datasets: list[Dataset], n_starts: int | None, diagnose: bool = True, loop_reference: dict | None = None
) -> dict:
    """Both methods on every dataset; with ``loop_reference`` (dataset name -> a row of an earlier run's
    reliability table on the same data and grid) the loop is not re-run and its recorded objective,
    parameters and time are used instead (the loop is deterministic: same data, same starts, same scipy)."""
    rows = []
    print(
        f"\n== Reliability: {len(datasets)} datasets, "
        f"{'full 4,500-start grid' if n_starts is None else f'{n_starts}-start subset of the grid'} for BOTH methods"
    )
    print(
        f"   success = shared objective within {REL_SUCCESS:g} relative of the best either method found; "
        "gap = (objective - best) / best"
    )
    header = (
        f"   {'dataset':26s} {'n':>4s} {'best objective':>15s} {'engine gap':>10s} {'loop gap':>10s} "
        f"{'eng':>4s} {'loop':>4s} {'eng s':>7s} {'loop s':>7s}"
    )
    print(header, flush=True)
    for data in datasets:
        grid = epoch_grid_natural(data)
        sub = grid_subset(grid.shape[0], n_starts)
        starts_nat = grid if sub is None else grid[sub]
        problem = make_problem(data)
        starts_z = problem.law.to_internal(starts_nat)
        eng = run_engine(data, None if sub is None else starts_nat)
        if loop_reference is not None:
            ref = loop_reference[data.name]
            if ref["n_points"] != data.n or ref["n_starts"] != starts_z.shape[0]:
                raise SystemExit(f"--loop-reference: {data.name} differs from the recorded run")
            loop = {"theta": ref["loop_theta"], "wall_s": ref["loop_wall_s"], "n_at_best": ref["loop_n_at_best"]}
        else:
            loop = run_loop(data, starts_z, loop_bounds(problem))
        f_eng = shared_objective(data, eng["theta"])
        f_loop = shared_objective(data, loop["theta"])
        best = min(f_eng, f_loop)
        ok_eng = f_eng <= best + REL_SUCCESS * abs(best)
        ok_loop = f_loop <= best + REL_SUCCESS * abs(best)
        row = {
            "dataset": data.name,
            "kind": data.kind,
            "note": data.note,
            "n_points": data.n,
            "n_starts": int(starts_z.shape[0]),
            "engine_objective": f_eng,
            "loop_objective": f_loop,
            "best": best,
            "engine_rel_gap": (f_eng - best) / abs(best),
            "loop_rel_gap": (f_loop - best) / abs(best),
            "engine_ok": bool(ok_eng),
            "loop_ok": bool(ok_loop),
            "engine_wall_s": eng["wall_s"],
            "engine_fit_seconds": eng["fit_seconds"],
            "loop_wall_s": loop["wall_s"],
            "engine_theta": eng["theta"],
            "loop_theta": loop["theta"],
            "engine_at_bound": eng["at_bound"],
            "engine_n_at_best": eng["n_at_best"],
            "loop_n_at_best": loop["n_at_best"],
        }
        print(
            f"   {data.name:26s} {data.n:4d} {best:15.9e} {row['engine_rel_gap']:10.1e} {row['loop_rel_gap']:10.1e} "
            f"{'ok' if ok_eng else 'MISS':>4s} "
            f"{'ok' if ok_loop else 'MISS':>4s} {eng['wall_s']:7.3f} {loop['wall_s']:7.2f}",
            flush=True,
        )
        if diagnose and not ok_eng and loop_reference is None:
            row["diagnosis"] = diagnose_miss(data, problem, starts_nat, starts_z, loop, best, sub is None)
            print(f"      diagnosis: {row['diagnosis']['summary']}", flush=True)
        rows.append(row)
    n = len(rows)
    summary = {
        "n_datasets": n,
        "engine_successes": sum(r["engine_ok"] for r in rows),
        "loop_successes": sum(r["loop_ok"] for r in rows),
        "engine_total_wall_s": sum(r["engine_wall_s"] for r in rows),
        "loop_total_wall_s": sum(r["loop_wall_s"] for r in rows),
        "grid": "full 4500" if n_starts is None else f"subset {n_starts}",
    }
    summary["total_ratio"] = summary["loop_total_wall_s"] / summary["engine_total_wall_s"]
    by_kind: dict[str, list[int]] = {}
    for r in rows:
        k = by_kind.setdefault(r["kind"], [0, 0, 0])
        k[0] += 1
        k[1] += r["engine_ok"]
        k[2] += r["loop_ok"]
    summary["by_kind"] = {k: {"n": v[0], "engine": v[1], "loop": v[2]} for k, v in by_kind.items()}
    print(
        f"   engine reached the best known optimum on {summary['engine_successes']}/{n}, "
        f"the loop on {summary['loop_successes']}/{n}; total time engine {summary['engine_total_wall_s']:.1f} s, "
        f"loop {summary['loop_total_wall_s']:.1f} s (ratio {summary['total_ratio']:.0f}x, single runs, not interleaved)"
    )
    for k, v in summary["by_kind"].items():
        print(f"      {k:14s} engine {v['engine']}/{v['n']}, loop {v['loop']}/{v['n']}")
    return {"summary": summary, "rows": rows}


def diagnose_miss(data, problem, starts_nat, starts_z, loop, best, full_grid) -> dict:
    """Why did the engine miss? Rank of the loop's winning starts in the engine's first cut, and
    whether the engine reaches the optimum with no pruning (keep = all starts)."""
    f0 = problem.objective(np.clip(starts_z, problem.lo, problem.hi))
    finite = np.isfinite(f0)
    rank_of = np.empty(starts_z.shape[0], dtype=int)
    order = np.argsort(np.where(finite, f0, np.inf), kind="stable")
    rank_of[order] = np.arange(order.size)
    winners = np.flatnonzero(loop["fvals"] <= best + REL_SUCCESS * abs(best))
    first_cut = max(32, int(finite.sum()) // 4)
    n_win_in_cut = int(np.sum(rank_of[winners] < first_cut))
    full = run_engine(data, None if full_grid else starts_nat, keep=starts_z.shape[0])
    f_full = shared_objective(data, full["theta"])
    no_prune_ok = f_full <= best + REL_SUCCESS * abs(best)
    summary = (
        f"{winners.size} loop starts reach the best; {n_win_in_cut} of them survive the engine's first cut "
        f"(top {first_cut} by starting objective); engine with no pruning (keep={starts_z.shape[0]}) gets "
        f"{f_full:.8e} ({'reaches' if no_prune_ok else 'still misses'} the best, {full['wall_s']:.2f} s)"
    )
    return {
        "loop_winning_starts": int(winners.size),
        "winning_starts_in_first_cut": n_win_in_cut,
        "first_cut_size": first_cut,
        "no_prune_objective": f_full,
        "no_prune_ok": bool(no_prune_ok),
        "no_prune_wall_s": full["wall_s"],
        "summary": summary,
    }


# ============================================================================ main


def environment() -> dict:
    repo = Path(__file__).resolve().parents[1]
    engine_src = Path(scalelaw.__file__).parent / "fitting" / "engine.py"

    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, timeout=10).stdout.strip()
        except Exception:
            return ""

    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "pandas": pd.__version__,
        "scalelaw": scalelaw.__version__,
        "git_commit": git("rev-parse", "--short", "HEAD"),
        "git_dirty": bool(git("status", "--porcelain", "--", "src")),
        "engine_py_sha256": hashlib.sha256(engine_src.read_bytes()).hexdigest()[:12],
        "cpu_count": os.cpu_count(),
        "affinity_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "machine": platform.machine(),
        "platform": platform.platform(),
        "threads": {v: os.environ.get(v) for v in THREAD_VARS},
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
        "loadavg_at_start": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: 300 starts, 1 repeat, 4 reliability sets")
    ap.add_argument("--repeats", type=int, default=None, help="timed repeats per dataset after the warm-up (default 5)")
    ap.add_argument(
        "--starts", type=int, default=None, help="seeded subset of the grid for the timed runs (default all 4,500)"
    )
    ap.add_argument(
        "--reliability-starts",
        type=int,
        default=None,
        help="subset of the grid for the reliability runs, used by BOTH methods (default all 4,500)",
    )
    ap.add_argument("--hard", type=int, default=None, help="synthetic hard datasets (default 20)")
    ap.add_argument("--subsamples", type=int, default=None, help="70%% subsamples of the real data (default 10)")
    ap.add_argument("--no-real", action="store_true", help="skip the timed runs on the real datasets")
    ap.add_argument("--json", type=Path, default=None, help="also write every figure to this JSON file")
    ap.add_argument(
        "--datasets",
        default=",".join(REAL_TIMED),
        help="comma-separated real datasets for the timed runs (gadre2024:<train_dataset> for a suite); "
        f"default: {','.join(REAL_TIMED)}",
    )
    ap.add_argument(
        "--loop-reference",
        type=Path,
        default=None,
        help="JSON of an earlier full run: the reliability part takes the loop's results from it instead of "
        "re-running the loop (same datasets, same grid)",
    )
    args = ap.parse_args(argv)
    if args.quick:
        repeats = args.repeats or 1
        starts = args.starts or 300
        rel_starts = args.reliability_starts or 300
        n_hard = 2 if args.hard is None else args.hard
        n_sub = 2 if args.subsamples is None else args.subsamples
    else:
        repeats = args.repeats or 5
        starts = args.starts
        rel_starts = args.reliability_starts
        n_hard = 20 if args.hard is None else args.hard
        n_sub = 10 if args.subsamples is None else args.subsamples

    env = environment()
    print("scalelaw fit-speed benchmark: vectorized multi-start engine vs per-start L-BFGS-B loop")
    print(
        f"date {env['date']}; Python {env['python']}, numpy {env['numpy']}, scipy {env['scipy']}, "
        f"pandas {env['pandas']}, scalelaw {env['scalelaw']} (git {env['git_commit']}"
        f"{', src has uncommitted changes' if env['git_dirty'] else ''}; engine.py sha256 {env['engine_py_sha256']})"
    )
    print(
        f"machine: {env['cpu_count']} cores ({env['affinity_cores']} usable), {env['platform']}; load average at start "
        f"{env['loadavg_at_start']}"
    )
    print(
        f"threads: {', '.join(f'{k}={v}' for k, v in env['threads'].items())} for both sides "
        f"(set before importing numpy); OPENBLAS_CORETYPE={env['OPENBLAS_CORETYPE']}"
    )
    print(
        f"settings: repeats={repeats} (+1 warm-up, interleaved engine/loop), timed starts="
        f"{starts or 4500}, reliability starts={rel_starts or 4500}, Huber delta={DELTA}"
        f"{'  [QUICK SMOKE RUN: not a benchmark result]' if args.quick else ''}"
    )

    main_data = synthetic_main()
    reals = [real("porian2024"), real("gadre2024_rpj")]  # the subsamples of the reliability part
    timed_sets = [main_data] + ([] if args.no_real else [real(name) for name in args.datasets.split(",") if name])
    timed = [timed_comparison(d, repeats, starts) for d in timed_sets]

    r0 = timed[0]
    print("\n   laws.md §15.11 check (seed-0 synthetic): expected " + fmt_theta(EXPECTED_SYNTHETIC))
    worst = max(abs(r0["engine_theta"][k] / EXPECTED_SYNTHETIC[k] - 1) for k in PARAMS)
    print(f"   engine max relative deviation from the expected values: {worst:.1e}")

    rel_sets = hard_synthetic(n_hard) + subsamples(reals, n_sub)
    loop_ref = None
    if args.loop_reference is not None:
        recorded = json.loads(args.loop_reference.read_text())
        loop_ref = {row["dataset"]: row for row in recorded["reliability"]["rows"]}
        print(f"\n   reliability: the loop's results are taken from {args.loop_reference} (not re-run)")
    rel = reliability(rel_sets, rel_starts, loop_reference=loop_ref) if rel_sets else None

    print("\n== Summary")
    print(
        f"   {'dataset':22s} {'pts':>4s} {'starts':>6s} {'engine med s':>12s} {'loop med s':>10s} {'ratio':>7s} "
        f"{'engine objective':>17s} {'loop objective':>17s} target"
    )
    for r in timed:
        target = target_met(r)
        print(
            f"   {r['dataset']:22s} {r['n_points']:4d} {r['n_starts']:6d} {r['engine_wall_median']:12.3f} "
            f"{r['loop_wall_median']:10.2f} {r['ratio_median_wall']:6.1f}x {r['engine_objective']:17.10e} "
            f"{r['loop_objective']:17.10e} {'met' if target else 'NOT MET'}"
        )
    if rel:
        s = rel["summary"]
        print(
            f"   reliability ({s['grid']} grid): engine {s['engine_successes']}/{s['n_datasets']}, "
            f"loop {s['loop_successes']}/{s['n_datasets']}"
        )

    load_end = os.getloadavg() if hasattr(os, "getloadavg") else None
    print(f"\nload average at end {load_end} (on {env['cpu_count']} cores; above the core count, other work competed)")
    if args.json:
        env["loadavg_at_end"] = load_end
        for r in rel["rows"] if rel else []:
            r.pop("fvals", None)
        payload = {
            "environment": env,
            "command": " ".join([Path(sys.executable).name, *sys.argv]),
            "quick": args.quick,
            "timed": timed,
            "reliability": rel,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(payload, indent=2, default=float))
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
