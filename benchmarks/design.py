#!/usr/bin/env python
"""Proof by simulation: do runs chosen by ``scalelaw.decisions.design.suggest`` narrow the decision's interval
more than naive designs of the same compute?

Protocol
--------
**Synthetic truths.** Two Chinchilla laws with known constants: Epoch AI's refit (E=1.8172, A=482.01,
B=2085.43, alpha=0.3478, beta=0.3658) and Hoffmann et al.'s rounded constants (E=1.69, A=406.4,
B=410.7, alpha=0.34, beta=0.28; a different optimum, a = 0.45 instead of 0.51). Every replicate

1. simulates an initial ladder of 20 runs (N = 1e7, 2.2e7, 4.6e7, 1e8 x 5, 10, 20, 40, 80 tokens per
   parameter, 1.2e19 FLOPs in all) with run-level log-normal noise (sd 0.75%, one final loss per run);
2. fits ``chinchilla`` (default settings) and asks ``suggest(fit, target, budget=1e20)`` (defaults:
   sizes up to the largest affordable run x ratios 2..1024 plus IsoFLOP lines, at most 30 runs, criterion
   averaged over 32 of 200 bootstrap replicates, exchange pass, misfit term when a backtest shows one);
3. builds naive designs that spend the *same* compute as the suggestion actually spent (``S``):
   ``ladder``  5 sizes a factor of 2 apart at 20 tokens/param, scaled so the total is S (a
               practitioner extending a Chinchilla-style ladder upward);
   ``isoflop`` ``scalelaw.decisions.design.cold_start(S, 1e24, n_budgets=3, sizes_per_budget=5)``: 3 budgets a
               decade apart x 5 sizes around the optimum of Epoch's prior (this prior is the truth
               for the ``epoch`` setting, which favours this baseline; not for ``hoffmann``);
   ``random``  random runs from suggest's own candidate grid (at most 10, total within 5% of S) --
               the control that isolates the *selection rule* from the candidate grid;
   ``v1``      the previous ``suggest`` (git V1_COMMIT, loaded from history) on the same fit, at its own
               spend (before/after);
4. simulates every design's runs from the truth, refits on initial + new runs, and computes the 90%
   by-run bootstrap percentile interval of the target (``--boot`` replicates), its point estimate, and
   whether it covers the true value.

Targets: ``plan:flops=1e24`` (log N_opt at 1e24 FLOPs, 5 decades beyond the data) and
``predict:params=7e10,tokens=1.4e12`` (log loss of Chinchilla-70B).

**Subsampled real data.** The real runs are the candidate pool; the decision is checked against runs
held out of both the fit and the pool (observed, not simulated):

* ``gadre2024`` (over-training suite, one case per training set: rpj, c4_original, rw_original):
  initial = the 10.6M and 79M models (16 runs, 5-640 tokens/param); pool = 154M, 412M and the 1.4B
  runs with <= 100 tokens/param; held out = the 6.9B run (20 tokens/param) and the 1.4B run with more
  than 100 tokens/param (rpj: 640, rw_original: 320; c4_original has none -- its 1.4B x 80 run is in
  the pool). Law ``chinchilla``; targets ``predict`` at each held-out run.
* ``muennighoff2023`` (data-constrained suite): initial = N <= 2.3e8, pool = 2.5e8 <= N <= 3e9,
  held out = N > 3e9. Law ``data_constrained``; targets ``predict`` at the 8.7B runs on 178B tokens
  with 25B unique tokens (7 epochs) and with 178B unique tokens (1 epoch).
* ``porian2024`` (IsoFLOP sweep): initial = budgets <= 1e17 FLOPs, pool = 2e17..3.2e18, held out =
  6.4e18..2.56e19. Law ``chinchilla``; targets ``plan:flops=2.56e19`` (checked against the authors'
  own IsoFLOP optimum, porian2024_optimal: N* = 5.35e8) and ``predict`` at the lowest-loss held-out run
  of the 2.56e19 budget.

Designs on real data. ``suggest[pool]`` spends at most the budget; every naive design is filled up to
what ``suggest[pool]`` actually spent for that target (equal compute, actual spend reported):

  ``suggest[pool]`` ``suggest(fit, target, budget, candidates=pool)`` (the pool's run labels, inputs
                    including ``unique_tokens``, and 6ND costs).
  ``suggest[pool,40]`` the same with ``max_runs=40`` instead of the default 30 (a diagnostic: pools of
                    cheap runs want more runs, and the ranking floor is budget/max_runs).
  ``suggest[pool,no misfit]`` the same with ``misfit=None`` (the law trusted beyond the data).
  ``suggest[snap]`` what a user can do today (chinchilla only): ``suggest(fit, target, S,
                    sizes=<pool sizes>)`` and each suggested (N, D) snapped to the nearest unused pool
                    run in (log N, log D), skipped if it would exceed 1.05 S.
  ``next-size``     the pool in increasing N (then D): take every run that still fits (extend the ladder
                    one size at a time; for porian: complete IsoFLOP profiles in increasing budget).
  ``largest``       the pool in decreasing compute: take every run that still fits ("go big").
  ``random``        ``--real-random`` random fills of the pool up to the budget; the table gives the
                    median over draws, and the share of draws narrower than ``suggest[pool]``.

Every interval is also scored by the interval (Winkler) score, which adds 2/alpha times the miss to the
width, and each real case reports the narrowest interval any evaluated design reached (a hindsight ceiling).

Usage::

    python benchmarks/design.py                 # synthetic (50 reps) + real: ~1 h on 2 busy cores
    python benchmarks/design.py --quick         # smoke run (2 replicates, 60 bootstrap replicates)
    python benchmarks/design.py --reps 60 --boot 200 --workers 2 --json benchmarks/results/design.json
    python benchmarks/design.py --parts real    # only the real-data part (~22 min)
    python benchmarks/design.py --parts diagnostic --truths epoch --diag-reps 12   # variants isolating causes
    python benchmarks/design.py --parts diagnostic --diag-variants max_runs=30 "no misfit"   # chosen variants

See benchmarks/README.md ("Experiment design") for measured figures and how to read them.
"""

from __future__ import annotations

import os

from _common import THREAD_VARS, environment

# One BLAS thread per worker process (set before NumPy is imported).
for _var in THREAD_VARS:
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import multiprocessing  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import scalelaw  # noqa: E402
import scalelaw.decisions.design as design  # noqa: E402
from scalelaw import datasets  # noqa: E402
from scalelaw.decisions.design import Target, cold_start, suggest  # noqa: E402

LEVEL = 0.9
K = 6.0
TRUTHS = {
    "epoch": np.array([1.8172, 482.01, 2085.43, 0.3478, 0.3658]),
    "hoffmann": np.array([1.69, 406.4, 410.7, 0.34, 0.28]),
}
SYN_TARGETS = ("plan:flops=1e24", "predict:params=7e10,tokens=1.4e12")
INIT_N = np.geomspace(1e7, 1e8, 4)
INIT_TPP = (5.0, 10.0, 20.0, 40.0, 80.0)
NAIVE_SYN = ("ladder", "isoflop", "random", "v1")
# Diagnostic variants of suggest: name -> (linearize at "fit" or "truth", keyword arguments).
DIAG_OPTIONS: dict[str, tuple[str, dict]] = {
    "v1": ("fit", {}),  # the previous suggest, from git (V1_COMMIT)
    "single fit": ("fit", {"n_prior": 0}),
    "no exchange": ("fit", {"exchange": False}),
    "oracle": ("truth", {"n_prior": 0}),
    "max_runs=20": ("fit", {"max_runs": 20}),
    "max_runs=30": ("fit", {"max_runs": 30}),
    "no misfit": ("fit", {"misfit": None}),
    "misfit=0.01": ("fit", {"misfit": 0.01}),
}
DIAG_VARIANTS: list[str] = []  # --diag-variants: the diagnostic's suggest variants (empty: all)
# Real-data diagnostics: suggest[pool] with one option changed (they spend what they choose).
POOL_VARIANTS: dict[str, dict] = {
    "suggest[pool,40]": {"max_runs": 40},
    "suggest[pool,no misfit]": {"misfit": None},
}
V1_COMMIT = "8bbd883"  # the previous suggest (single linearization, narrow grid, no exchange)


# ============================================================================ shared helpers


def fit_quiet(law, frame: pd.DataFrame):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return scalelaw.fit(law, frame)


def interval(result, targets: list[Target], n_boot: int, seed: int) -> dict[str, dict]:
    """Point estimate and 90% by-run percentile interval (log scale) of each target from ONE bootstrap."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        boot = result.bootstrap(n=n_boot, seed=seed)
    law = result.law
    out = {}
    for t in targets:
        g = t.function()
        vals = np.asarray(g(law, boot.samples), dtype=float)
        vals = vals[np.isfinite(vals)]
        est = float(g(law, np.array([result.values]))[0])
        if vals.size < 10:
            out[t.text] = {"est": est, "lo": math.nan, "hi": math.nan, "n_boot_ok": int(vals.size)}
            continue
        lo, hi = np.quantile(vals, [(1 - LEVEL) / 2, (1 + LEVEL) / 2])
        out[t.text] = {"est": est, "lo": float(lo), "hi": float(hi), "n_boot_ok": int(vals.size)}
    return out


def score(iv: dict, truth: float) -> dict:
    """Width, coverage and error of one interval; ``interval_score`` is the Winkler score (log scale): the
    width plus 2/alpha times how far the truth lies outside, so a narrow interval that misses is not
    rewarded (a proper scoring rule, Gneiting and Raftery 2007)."""
    lo, hi, est = iv["lo"], iv["hi"], iv["est"]
    miss = max(lo - truth, 0.0) + max(truth - hi, 0.0)
    return {
        "log_width": hi - lo,
        "rel_width": math.expm1(hi - lo),
        "covered": bool(lo <= truth <= hi) if np.isfinite(lo) else None,
        "abs_err": abs(est - truth),
        "interval_score": hi - lo + 2 / (1 - LEVEL) * miss,
        "lo": lo,
        "hi": hi,
        "true_value": truth,
        "n_boot_ok": iv["n_boot_ok"],
    }


# ============================================================================ synthetic designs


def load_v1(commit: str = V1_COMMIT):
    """The previous ``scalelaw.decisions.design`` from git history, as a module (for before/after comparisons)."""
    import types

    name = f"scalelaw_design_{commit}"
    if name in sys.modules:
        return sys.modules[name]
    repo = Path(__file__).resolve().parents[1]
    src = subprocess.run(
        ["git", "show", f"{commit}:src/scalelaw/design.py"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout
    src = src.replace("from scalelaw.plan import", "from scalelaw.decisions.plan import")  # moved since V1_COMMIT
    mod = types.ModuleType(name)
    sys.modules[name] = mod
    exec(compile(src, f"{commit}:src/scalelaw/design.py", "exec"), mod.__dict__)
    return mod


def initial_frame(law, truth: np.ndarray, rng: np.random.Generator, sd: float) -> pd.DataFrame:
    N, R = np.meshgrid(INIT_N, INIT_TPP, indexing="ij")
    return simulate(law, truth, N.ravel(), (N * R).ravel(), rng, sd, prefix="init")


def simulate(law, truth, N, D, rng, sd, prefix: str) -> pd.DataFrame:
    N, D = np.asarray(N, float), np.asarray(D, float)
    y = law.predict(truth, params=N, tokens=D) * np.exp(rng.normal(0.0, sd, N.size))
    return pd.DataFrame({"run": [f"{prefix}{i}" for i in range(N.size)], "params": N, "tokens": D, "loss": y})


def ladder_design(spend: float, n_sizes: int = 5, step: float = 2.0, tpp: float = 20.0) -> pd.DataFrame:
    """``n_sizes`` sizes ``step`` apart at ``tpp`` tokens/param, total compute = spend."""
    rel = step ** -np.arange(n_sizes)[::-1]  # ..., 1/4, 1/2, 1
    n_max = math.sqrt(spend / (K * tpp * float(np.sum(rel**2))))
    N = n_max * rel
    return pd.DataFrame({"params": N, "tokens": tpp * N})


def isoflop_design(spend: float, target_flops: float = 1e24) -> pd.DataFrame:
    table, _ = cold_start(spend, target_flops, n_budgets=3, sizes_per_budget=5)
    return table[["params", "tokens"]]


def random_fill(cand: pd.DataFrame, spend: float, rng, max_runs: int = 10, tol: float = 0.05, tries: int = 300):
    """Random candidate runs (at most max_runs) with total compute within tol of spend (closest found)."""
    cost = cand["flops"].to_numpy()
    best, best_gap = None, math.inf
    for _ in range(tries):
        total, picked = 0.0, []
        for i in rng.permutation(len(cand)):
            if total + cost[i] <= spend * (1 + tol):
                picked.append(i)
                total += cost[i]
                if len(picked) >= max_runs:
                    break
        gap = abs(total / spend - 1)
        if gap < best_gap:
            best, best_gap = picked, gap
        if gap <= tol:
            break
    return cand.iloc[best][["params", "tokens"]].reset_index(drop=True)


def design_stats(frame: pd.DataFrame) -> dict:
    flops = K * frame["params"].to_numpy() * frame["tokens"].to_numpy()
    return {
        "spend": float(flops.sum()),
        "n_runs": len(frame),
        "max_params": float(frame["params"].max()),
        "max_flops_share": float(flops.max() / flops.sum()),
        "median_tpp": float(np.median(frame["tokens"] / frame["params"])),
    }


def synthetic_rep(task) -> list[dict]:
    truth_name, budget, rep, seed, n_boot, sd = task
    truth = TRUTHS[truth_name]
    law = scalelaw.get_law("chinchilla")
    base = [seed, list(TRUTHS).index(truth_name), round(math.log10(budget) * 10), rep]
    rng = np.random.default_rng(base)
    init = initial_frame(law, truth, rng, sd)
    records = []
    t0 = time.perf_counter()
    try:
        r0 = fit_quiet("chinchilla", init)
    except Exception as exc:
        return [{"part": "synthetic", "truth": truth_name, "budget": budget, "rep": rep, "error": repr(exc)}]
    cand = design.candidate_grid(r0, budget=budget)
    v1 = load_v1()
    for ti, text in enumerate(SYN_TARGETS):
        target = Target.parse(text)
        g = target.function()
        true_value = float(g(law, truth[None, :])[0])
        common = {"part": "synthetic", "truth": truth_name, "budget": budget, "rep": rep, "target": text}
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                s = suggest(r0, target, budget, seed=rep)
        except Exception as exc:
            records.append({**common, "design": "suggested", "error": repr(exc)})
            continue
        if s.runs.empty:
            records.append({**common, "design": "suggested", "error": "empty suggestion"})
            continue
        spend = s.spent
        drng = np.random.default_rng([*base, ti, 1])
        designs = {
            "suggested": s.runs[["params", "tokens"]].reset_index(drop=True),
            "ladder": ladder_design(spend),
            "isoflop": isoflop_design(spend),
            "random": random_fill(cand, spend, drng),
        }
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                designs["v1"] = v1.suggest(r0, target.text, budget, seed=rep).runs[["params", "tokens"]]
        except Exception as exc:
            records.append({**common, "design": "v1", "error": repr(exc)})
        for di, (name, frame) in enumerate(designs.items()):
            rec = {**common, "design": name, **design_stats(frame), "spend_ratio": design_stats(frame)["spend"] / spend}
            if name == "suggested":
                rec.update(
                    forecast_rel_width_before=s.width_before,
                    forecast_rel_width_after=s.width_after,
                    calibration=s.calibration,
                )
            nrng = np.random.default_rng([*base, ti, 10 + di])
            new = simulate(law, truth, frame["params"], frame["tokens"], nrng, sd, prefix=f"{name}")
            try:
                r = fit_quiet("chinchilla", pd.concat([init, new], ignore_index=True))
                iv = interval(r, [target], n_boot, seed=rep)[text]
                rec.update(score(iv, true_value))
            except Exception as exc:
                rec["error"] = repr(exc)
            records.append(rec)
    for rec in records:
        rec["seconds_rep"] = time.perf_counter() - t0
    return records


def diagnostic_rep(task) -> list[dict]:
    """Same initial data as ``synthetic_rep``; variants of suggest that isolate one cause each:
    ``suggested`` (default), ``v1`` (the previous suggest, git V1_COMMIT), ``single fit`` (criterion at
    the fit only, ``n_prior=0``), ``no exchange`` (greedy only), ``oracle`` (linearized at the TRUE
    parameters, ``n_prior=0``), ``max_runs=20``, and ``isoflop`` at the default suggestion's spend."""
    import dataclasses

    truth_name, budget, rep, seed, n_boot, sd = task
    truth = TRUTHS[truth_name]
    law = scalelaw.get_law("chinchilla")
    base = [seed, list(TRUTHS).index(truth_name), round(math.log10(budget) * 10), rep]
    rng = np.random.default_rng(base)
    init = initial_frame(law, truth, rng, sd)
    r0 = fit_quiet("chinchilla", init)
    oracle_fit = dataclasses.replace(r0, values=tuple(float(v) for v in truth))
    v1 = load_v1()
    records = []
    for ti, text in enumerate(SYN_TARGETS):
        target = Target.parse(text)
        g = target.function()
        true_value = float(g(law, truth[None, :])[0])
        common = {"part": "diagnostic", "truth": truth_name, "budget": budget, "rep": rep, "target": text}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            s = suggest(r0, target, budget, seed=rep)
            variants = {"suggested": s}
            for name, (base_fit, kwargs) in DIAG_OPTIONS.items():
                if DIAG_VARIANTS and name not in DIAG_VARIANTS:
                    continue
                if name == "v1":
                    variants[name] = v1.suggest(r0, target.text, budget, seed=rep)
                else:
                    start = oracle_fit if base_fit == "truth" else r0
                    variants[name] = suggest(start, target, budget, seed=rep, **kwargs)
        designs = {
            k: v.runs[["params", "tokens"]].reset_index(drop=True)
            for k, v in variants.items()
            if not DIAG_VARIANTS or k in DIAG_VARIANTS or k == "suggested"
        }
        designs["isoflop"] = isoflop_design(s.spent)
        for di, (name, frame) in enumerate(designs.items()):
            rec = {
                **common,
                "design": name,
                **design_stats(frame),
                "spend_ratio": design_stats(frame)["spend"] / s.spent,
            }
            if name in variants:
                rec["forecast_rel_width_after"] = variants[name].width_after
            # the same noise stream per design index as synthetic_rep for "suggested" (index 0)
            nrng = np.random.default_rng([*base, ti, 10 + di] if name == "suggested" else [*base, ti, 100 + di])
            new = simulate(law, truth, frame["params"], frame["tokens"], nrng, sd, prefix=name.replace(" ", "_"))
            try:
                r = fit_quiet("chinchilla", pd.concat([init, new], ignore_index=True))
                rec.update(score(interval(r, [target], n_boot, seed=rep)[text], true_value))
            except Exception as exc:
                rec["error"] = repr(exc)
            records.append(rec)
    return records


def summarize_diagnostic(df: pd.DataFrame) -> str:
    lines = [
        "| truth | target | design | n | median width (log) | narrowing vs isoflop (log; paired) | coverage ± SE "
        "| median abs err (log) | median spend | median runs | median largest N |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    ok = df[df["error"].isna()]
    for (truth, target), grp in ok.groupby(["truth", "target"], sort=False):
        iso = grp[grp["design"] == "isoflop"].set_index("rep")
        for name, d in grp.groupby("design", sort=False):
            d = d.set_index("rep")
            common = iso.index.intersection(d.index)
            paired = 1 - (d.loc[common, "log_width"] / iso.loc[common, "log_width"]).median()
            cov = d["covered"].dropna().astype(float)
            nar = (
                ""
                if name == "isoflop"
                else f"{1 - d['log_width'].median() / iso['log_width'].median():+.0%}; {paired:+.0%}"
            )
            lines.append(
                f"| {truth} | {target_label(target)} | {name} | {len(d)} | {d['log_width'].median():.3g} | {nar} | "
                f"{cov.mean():.2f} ± {_binom_se(cov.mean(), len(cov)):.2f} | {d['abs_err'].median():.3g} | "
                f"{d['spend'].median():.2g} | {d['n_runs'].median():.0f} | {d['max_params'].median():.2g} |"
            )
    return "\n".join(lines)


# ============================================================================ real-data designs


@dataclass
class RealCase:
    name: str
    law: str
    frame: pd.DataFrame  # run, inputs, loss, flops
    initial: np.ndarray  # bool masks
    pool: np.ndarray
    targets: list[tuple[str, float, str]]  # (target text, true log value, what the truth is)
    budgets: tuple[float, ...]
    inputs: tuple[str, ...] = ("params", "tokens")
    snap: bool = True
    note: str = ""
    extra: dict = field(default_factory=dict)


def _run_target(row: pd.Series, inputs) -> str:
    return "predict:" + ",".join(f"{c}={row[c]:.10g}" for c in inputs)


def real_cases() -> dict[str, RealCase]:
    cases = {}
    g_all = datasets.load("gadre2024")
    for ds in ("rpj", "c4_original", "rw_original"):
        g = g_all[g_all["train_dataset"] == ds].reset_index(drop=True)
        g = g[["run", "params", "tokens", "loss"]].copy()
        g["flops"] = K * g["params"] * g["tokens"]
        tpp = g["tokens"] / g["params"]
        initial = (g["params"] < 1e8).to_numpy()
        held = ((g["params"] > 5e9) | ((g["params"] > 1e9) & (tpp > 100))).to_numpy()
        pool = ~initial & ~held
        targets = []
        for _, row in g[held].sort_values("params", ascending=False).iterrows():
            targets.append(
                (_run_target(row, ("params", "tokens")), math.log(row["loss"]), f"observed loss of {row['run']}")
            )
        cases[f"gadre2024/{ds}"] = RealCase(f"gadre2024/{ds}", "chinchilla", g, initial, pool, targets, (1e20, 4e20))

    m = datasets.load("muennighoff2023")[["run", "params", "tokens", "unique_tokens", "loss"]].reset_index(drop=True)
    m["flops"] = K * m["params"] * m["tokens"]
    initial = (m["params"] <= 2.3e8).to_numpy()
    held = (m["params"] > 3e9).to_numpy()
    pool = ~initial & ~held
    targets = []
    for run in ("8b7178b25b", "8b7178b178b"):
        row = m[m["run"] == run].iloc[0]
        targets.append(
            (_run_target(row, ("params", "tokens", "unique_tokens")), math.log(row["loss"]), f"observed loss of {run}")
        )
    cases["muennighoff2023"] = RealCase(
        "muennighoff2023",
        "data_constrained",
        m,
        initial,
        pool,
        targets,
        (1e20, 1e21),
        inputs=("params", "tokens", "unique_tokens"),
        snap=False,
    )

    p = datasets.load("porian2024")[["params", "tokens", "loss", "flops"]].reset_index(drop=True)
    p.insert(0, "run", [f"p{i}" for i in range(len(p))])
    budget_label = p["flops"].copy()
    p["flops"] = K * p["params"] * p["tokens"]
    p["budget"] = budget_label
    initial = (budget_label <= 1e17).to_numpy()
    held = (budget_label >= 6.4e18).to_numpy()
    pool = ~initial & ~held
    opt = datasets.load("porian2024_optimal")
    opt = opt[(opt["experiment"] == "Optimizer tuning (no decay)") & (opt["dataset"] == "rw")]
    n_star = float(opt.loc[np.isclose(opt["flops"], 2.56e19), "params"].iloc[0])
    top = p[np.isclose(budget_label, 2.56e19)].sort_values("loss").iloc[0]
    targets = [
        ("plan:flops=2.56e19", math.log(n_star), "authors' IsoFLOP optimum N* at 2.56e19 (porian2024_optimal)"),
        (_run_target(top, ("params", "tokens")), math.log(top["loss"]), "observed loss of the best 2.56e19 run"),
    ]
    cases["porian2024"] = RealCase("porian2024", "chinchilla", p, initial, pool, targets, (1e19, 3e19))
    return cases


def _match_pool(s_runs: pd.DataFrame, pool: pd.DataFrame, inputs=None) -> list[int]:
    """Indices (into pool) of the suggested runs: the candidates are the pool, and carry its run labels."""
    where = {run: i for i, run in enumerate(pool["run"])}
    return [where[r] for r in s_runs["run"]]


def snap_to_pool(s_runs: pd.DataFrame, pool: pd.DataFrame, budget: float, slack: float = 1.05) -> list[int]:
    used, spent = [], 0.0
    lN, lD = np.log(pool["params"].to_numpy()), np.log(pool["tokens"].to_numpy())
    for _, row in s_runs.iterrows():
        d = (lN - math.log(row["params"])) ** 2 + (lD - math.log(row["tokens"])) ** 2
        d[used] = np.inf
        i = int(np.argmin(d))
        if not np.isfinite(d[i]):
            break
        if spent + pool["flops"].iloc[i] <= slack * budget:
            used.append(i)
            spent += float(pool["flops"].iloc[i])
    return used


def ordered_fill(pool: pd.DataFrame, order: np.ndarray, budget: float) -> list[int]:
    used, spent = [], 0.0
    for i in order:
        c = float(pool["flops"].iloc[i])
        if spent + c <= budget:
            used.append(int(i))
            spent += c
    return used


def real_task(task) -> list[dict]:
    case_name, budget, seed, n_boot, n_random = task
    case = real_cases()[case_name]
    frame, inputs = case.frame, case.inputs
    init = frame[case.initial].reset_index(drop=True)
    pool = frame[case.pool].reset_index(drop=True)
    cols = ["run", *inputs, "loss"]
    targets = [Target.parse(t) for t, _, _ in case.targets]
    truth = {t: v for t, v, _ in case.targets}
    law = case.law
    t0 = time.perf_counter()
    r0 = fit_quiet(law, init[cols])
    rng = np.random.default_rng([seed, 7, int(math.log10(budget) * 10), sum(map(ord, case_name))])

    # Equal compute: every naive design is filled up to what the suggestion for that target spent.
    designs: list[tuple[str, str, list[int], dict]] = []  # (design, target, pool indices, extra)
    if "budget" in pool:  # IsoFLOP sweep: complete profiles, increasing budget
        up = np.lexsort((pool["params"].to_numpy(), pool["budget"].to_numpy()))
    else:
        up = np.lexsort((pool["tokens"].to_numpy(), pool["params"].to_numpy()))
    down = np.argsort(-pool["flops"].to_numpy(), kind="stable")
    for t in targets:
        spend = budget
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                s = suggest(r0, t, budget, seed=seed, candidates=pool[["run", *inputs, "flops"]])
            idx = _match_pool(s.runs, pool, inputs) if not s.runs.empty else []
            spend = float(pool["flops"].iloc[idx].sum()) if idx else budget
            designs.append(
                (
                    "suggest[pool]",
                    t.text,
                    idx,
                    {
                        "forecast_rel_width_after": s.width_after,
                        "forecast_rel_width_before": s.width_before,
                        "calibration": s.calibration,
                    },
                )
            )
        except Exception as exc:
            designs.append(("suggest[pool]", t.text, [], {"error": repr(exc)}))
        for label, kwargs in POOL_VARIANTS.items():  # diagnostics: the same pool, one option changed
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    s = suggest(r0, t, budget, seed=seed, candidates=pool[["run", *inputs, "flops"]], **kwargs)
                idx = _match_pool(s.runs, pool, inputs) if not s.runs.empty else []
                designs.append((label, t.text, idx, {}))
            except Exception as exc:
                designs.append((label, t.text, [], {"error": repr(exc)}))
        if case.snap:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    s = suggest(r0, t, budget, sizes=np.unique(pool["params"]), seed=seed)
                designs.append(("suggest[snap]", t.text, snap_to_pool(s.runs, pool, budget), {}))
            except Exception as exc:
                designs.append(("suggest[snap]", t.text, [], {"error": repr(exc)}))
        designs.append(("next-size", t.text, ordered_fill(pool, up, spend), {}))
        designs.append(("largest", t.text, ordered_fill(pool, down, spend), {}))
        for j in range(n_random):
            designs.append((f"random#{j}", t.text, ordered_fill(pool, rng.permutation(len(pool)), spend), {}))

    records = []
    for name, tname, idx, extra in designs:
        chosen = pool.iloc[idx]
        base = {
            "part": "real",
            "case": case_name,
            "law": law,
            "budget": budget,
            "design": name,
            "spend": float(chosen["flops"].sum()),
            "n_runs": len(idx),
            "max_params": float(chosen["params"].max()) if len(idx) else math.nan,
            "runs": chosen["run"].tolist(),
            **extra,
        }
        if not idx or "error" in extra:
            records.append({**base, "target": tname, "error": extra.get("error", "no runs chosen")})
            continue
        these = [Target.parse(tname)]
        try:
            r = fit_quiet(law, pd.concat([init[cols], chosen[cols]], ignore_index=True))
            ivs = interval(r, these, n_boot, seed=seed)
            for t in these:
                records.append({**base, "target": t.text, **score(ivs[t.text], truth[t.text])})
        except Exception as exc:
            for t in these:
                records.append({**base, "target": t.text, "error": repr(exc)})
    for rec in records:
        rec["seconds_task"] = time.perf_counter() - t0
    return records


# ============================================================================ summaries


def _binom_se(p: float, n: int) -> float:
    return math.sqrt(p * (1 - p) / n) if n else math.nan


def summarize_synthetic(df: pd.DataFrame) -> pd.DataFrame:
    rows = []
    ok = df[df.get("error").isna()] if "error" in df else df
    for (truth, budget, target), grp in ok.groupby(["truth", "budget", "target"], sort=False):
        sug = grp[grp["design"] == "suggested"].set_index("rep")
        for name in ("suggested", *NAIVE_SYN):
            d = grp[grp["design"] == name].set_index("rep")
            cov = d["covered"].dropna().astype(float)
            row = {
                "truth": truth,
                "budget": budget,
                "target": target,
                "design": name,
                "n": len(d),
                "median_log_width": d["log_width"].median(),
                "median_rel_width": d["rel_width"].median(),
                "coverage": cov.mean(),
                "coverage_se": _binom_se(cov.mean(), len(cov)),
                "median_abs_err": d["abs_err"].median(),
                "median_spend": d["spend"].median(),
                "spend_ratio_range": (d["spend_ratio"].min(), d["spend_ratio"].max()),
                "median_max_params": d["max_params"].median(),
            }
            if name != "suggested":
                common = sug.index.intersection(d.index)
                ratio = sug.loc[common, "log_width"] / d.loc[common, "log_width"]
                row["narrowing_log"] = 1 - sug["log_width"].median() / d["log_width"].median()
                row["narrowing_rel"] = 1 - sug["rel_width"].median() / d["rel_width"].median()
                row["paired_narrowing_log"] = 1 - ratio.median()
                row["win_rate"] = float((ratio < 1).mean())
            else:
                row["forecast_over_realized"] = float((d["forecast_rel_width_after"] / d["rel_width"]).median())
                row["median_calibration"] = float(d["calibration"].median())
                row["median_runs"] = d["n_runs"].median()
            rows.append(row)
    return pd.DataFrame(rows)


def summarize_real(df: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for (case, budget, target), grp in df.groupby(["case", "budget", "target"], sort=False):
        ok = grp[grp["error"].isna()] if "error" in grp else grp
        sug = ok[ok["design"] == "suggest[pool]"]
        w_sug = float(sug["log_width"].iloc[0]) if len(sug) else math.nan
        has_score = "interval_score" in ok and ok["interval_score"].notna().any()
        s_sug = float(sug["interval_score"].iloc[0]) if has_score and len(sug) else math.nan
        # In hindsight: the narrowest interval any evaluated design (random draws included) reached.
        best_width = float(ok["log_width"].min()) if len(ok) else math.nan
        rnd = ok[ok["design"].str.startswith("random#")]
        for name in ("suggest[pool]", *POOL_VARIANTS, "suggest[snap]", "next-size", "largest", "random"):
            d = rnd if name == "random" else ok[ok["design"] == name]
            if d.empty:
                err = grp[grp["design"] == name]
                if not err.empty:
                    rows.append(
                        {
                            "case": case,
                            "budget": budget,
                            "target": target,
                            "design": name,
                            "error": str(err["error"].iloc[0])[:80],
                        }
                    )
                continue
            row = {
                "case": case,
                "budget": budget,
                "target": target,
                "design": name,
                "n": len(d),
                "log_width": d["log_width"].median(),
                "rel_width": d["rel_width"].median(),
                "covered": d["covered"].astype(float).mean(),
                "abs_err": d["abs_err"].median(),
                "spend": d["spend"].median(),
                "n_runs": d["n_runs"].median(),
                "max_params": d["max_params"].median(),
            }
            if has_score:
                row["interval_score"] = d["interval_score"].median()
            if name != "suggest[pool]":
                row["narrowing_log"] = 1 - w_sug / row["log_width"]
                if has_score:
                    row["score_gain"] = 1 - s_sug / row["interval_score"]
            if name == "next-size":
                row["best_narrowing_log"] = 1 - best_width / row["log_width"]
            if name == "random":
                row["share_random_narrower"] = float((d["log_width"] < w_sug).mean())
            if name == "suggest[pool]":
                row["forecast_over_realized"] = float(d["forecast_rel_width_after"].iloc[0] / d["rel_width"].iloc[0])
                row["calibration"] = float(d["calibration"].iloc[0])
            rows.append(row)
    return pd.DataFrame(rows)


def _fmt(v, spec=".3g"):
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    return format(v, spec)


def table_synthetic(s: pd.DataFrame) -> str:
    lines = [
        "| truth | target | design | n | median width (log) | median width (hi/lo−1) "
        "| narrowing by suggested (log; paired; hi/lo−1) | suggested narrower | coverage ± SE "
        "| median abs err (log) | spend (FLOPs) | median largest N |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for _, r in s.iterrows():
        if r["design"] == "suggested":
            narrow = (
                f"(forecast/realized width {_fmt(r['forecast_over_realized'], '.2f')}; "
                f"calibration {_fmt(r['median_calibration'], '.2f')})"
            )
            win = ""
        else:
            narrow = f"{r['narrowing_log']:+.0%}; {r['paired_narrowing_log']:+.0%}; {r['narrowing_rel']:+.0%}"
            win = f"{r['win_rate']:.0%}"
        lo, hi = r["spend_ratio_range"]
        lines.append(
            f"| {r['truth']} | {target_label(r['target'])} | {r['design']} | {r['n']} | "
            f"{_fmt(r['median_log_width'])} | "
            f"{_fmt(r['median_rel_width'])} | {narrow} | {win} | {r['coverage']:.2f} ± {r['coverage_se']:.2f} | "
            f"{_fmt(r['median_abs_err'])} | {r['median_spend']:.2g} ({lo:.2f}–{hi:.2f}×S) | "
            f"{r['median_max_params']:.2g} |"
        )
    return "\n".join(lines)


def target_label(text: str) -> str:
    t = Target.parse(text)
    if t.kind == "plan":
        return f"plan @{t.values['flops']:.3g}"
    abbrev = {"params": "N", "tokens": "D", "unique_tokens": "U"}
    return "predict " + ",".join(f"{abbrev.get(k, k)}={v:.2g}" for k, v in t.values.items())


def table_real(s: pd.DataFrame, cases: dict[str, RealCase]) -> str:
    lines = [
        "| case | budget | target | design | width (log) | width (hi/lo−1) | narrowing by suggest[pool] (log) "
        "| covers held-out | abs err (log) | spend | runs | largest N |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for _, r in s.iterrows():
        tgt = r["target"]
        short = target_label(tgt)
        if isinstance(r.get("error"), str):
            lines.append(f"| {r['case']} | {r['budget']:.0e} | {short} | {r['design']} | error: {r['error']} |||||||")
            continue
        nar = "" if r["design"] == "suggest[pool]" else f"{r['narrowing_log']:+.0%}"
        if r["design"] == "random":
            nar += f" ({r['share_random_narrower']:.0%} of draws narrower)"
            cov = f"{r['covered']:.0%} of draws"
        else:
            cov = "yes" if r["covered"] >= 1 else "no"
        if r["design"] == "suggest[pool]":
            nar = f"(forecast/realized {r['forecast_over_realized']:.2f}; calibration {r['calibration']:.2g})"
        name = r["design"] + (f" (median of {r['n']})" if r["design"] == "random" else "")
        lines.append(
            f"| {r['case']} | {r['budget']:.0e} | {short} | {name} | {_fmt(r['log_width'])} | {_fmt(r['rel_width'])} | "
            f"{nar} | {cov} | {_fmt(r['abs_err'])} | {r['spend']:.2g} | {r['n_runs']:.0f} | "
            f"{_fmt(r['max_params'], '.2g')} |"
        )
    return "\n".join(lines)


def table_real_compact(s: pd.DataFrame) -> str:
    """One row per (case, budget, target): suggest[pool]'s width and its narrowing against each other design."""
    names = ("suggest[snap]", *POOL_VARIANTS, "next-size", "largest", "random")
    lines = [
        "| case | budget | target | suggest[pool] width (log), spend | covers | narrowing vs "
        + " | vs ".join(names)
        + " | naive covers (next/largest/random) | interval-score gain vs next/largest/random "
        "| narrowest of all designs vs next-size |",
        "|---|---|---|---|---|" + "---|" * len(names) + "---|---|---|",
    ]
    for (case, budget, target), grp in s.groupby(["case", "budget", "target"], sort=False):
        by = {r["design"]: r for _, r in grp.iterrows()}
        sp = by.get("suggest[pool]")
        if sp is None or isinstance(sp.get("error"), str):
            continue
        cells = []
        for n in names:
            r = by.get(n)
            if r is None or isinstance(r.get("error"), str) or not np.isfinite(r.get("narrowing_log", np.nan)):
                cells.append("–")
            else:
                cells.append(f"{r['narrowing_log']:+.0%}")
        cov = "/".join(
            (
                "–"
                if by.get(n) is None or isinstance(by[n].get("error"), str)
                else (f"{by[n]['covered']:.0%}" if n == "random" else ("y" if by[n]["covered"] >= 1 else "n"))
            )
            for n in ("next-size", "largest", "random")
        )
        scores = []
        for n in ("next-size", "largest", "random"):
            r = by.get(n)
            gain = np.nan if r is None else r.get("score_gain", np.nan)
            scores.append("–" if not np.isfinite(gain) else f"{gain:+.0%}")
        nxt = by.get("next-size")
        best = np.nan if nxt is None else nxt.get("best_narrowing_log", np.nan)
        lines.append(
            f"| {case} | {budget:.0e} | {target_label(target)} | {sp['log_width']:.3g}, {sp['spend']:.2g} | "
            f"{'y' if sp['covered'] >= 1 else 'n'} | "
            + " | ".join(cells)
            + f" | {cov} | "
            + " / ".join(scores)
            + f" | {_fmt(best, '+.0%')} |"
        )
    return "\n".join(lines)


def run_tasks(fn, tasks, workers: int, label: str, t0: float) -> list[dict]:
    out: list[dict] = []
    step = max(1, len(tasks) // 10)
    if workers > 1:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            for i, recs in enumerate(pool.imap_unordered(fn, tasks, chunksize=1), 1):
                out.extend(recs)
                if i % step == 0 or i == len(tasks):
                    print(f"  {label}: {i}/{len(tasks)} ({time.perf_counter() - t0:.0f} s)", flush=True)
    else:
        for i, task in enumerate(tasks, 1):
            out.extend(fn(task))
            if i % step == 0 or i == len(tasks):
                print(f"  {label}: {i}/{len(tasks)} ({time.perf_counter() - t0:.0f} s)", flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: 2 replicates, 60 bootstrap replicates")
    ap.add_argument("--reps", type=int, default=None, help="synthetic replicates per setting (default 50)")
    ap.add_argument("--boot", type=int, default=None, help="bootstrap replicates per evaluated fit (default 200)")
    ap.add_argument("--real-random", type=int, default=None, help="random pool fills per real case (default 8)")
    ap.add_argument("--budgets", type=float, nargs="+", default=[1e20], help="synthetic budgets (default 1e20)")
    ap.add_argument("--truths", nargs="+", default=list(TRUTHS), choices=list(TRUTHS))
    ap.add_argument("--noise", type=float, default=0.0075, help="run-level log-normal sd (default 0.0075)")
    ap.add_argument(
        "--parts",
        nargs="+",
        default=["synthetic", "real"],
        choices=["synthetic", "real", "diagnostic"],
        help="'diagnostic' (not run by default): suggest variants isolating causes, --diag-reps replicates",
    )
    ap.add_argument("--diag-reps", type=int, default=None, help="diagnostic replicates per truth (default 20)")
    ap.add_argument("--diag-variants", nargs="+", default=[], help="diagnostic variants to run (default all)")
    ap.add_argument("--cases", nargs="+", default=None, help="real cases (default all)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--json", type=Path, default=None, help="write settings, records and summaries")
    args = ap.parse_args(argv)
    reps = args.reps or (2 if args.quick else 50)
    n_boot = args.boot or (60 if args.quick else 200)
    n_random = args.real_random if args.real_random is not None else (2 if args.quick else 8)
    env = environment(workers=args.workers)
    print(
        f"# design study: reps={reps}, boot={n_boot}, real random fills={n_random}, budgets={args.budgets}, "
        f"noise={args.noise}, seed={args.seed}, workers={args.workers}"
    )
    print(f"# {json.dumps(env)}", flush=True)
    t0 = time.perf_counter()
    out: dict = {"environment": env, "settings": vars(args) | {"reps": reps, "boot": n_boot, "real_random": n_random}}
    out["settings"]["json"] = str(args.json)
    if "synthetic" in args.parts:
        tasks = [
            (tr, b, i, args.seed, n_boot, args.noise) for tr in args.truths for b in args.budgets for i in range(reps)
        ]
        recs = run_tasks(synthetic_rep, tasks, args.workers, "synthetic", t0)
        df = pd.DataFrame(recs)
        if "error" not in df:
            df["error"] = None
        summary = summarize_synthetic(df)
        print("\n## Synthetic truths (90% by-run bootstrap intervals; S = compute the suggestion spent)\n")
        for b in args.budgets:
            print(f"Budget {b:.0e} FLOPs for new runs:\n")
            print(table_synthetic(summary[summary["budget"] == b]))
            print()
        errors = df[df["error"].notna()]
        print(
            f"errors: {len(errors)} of {len(df)} records"
            + (f"; first: {errors['error'].iloc[0]}" if len(errors) else "")
        )
        secs = df.groupby(["truth", "rep"])["seconds_rep"].max()
        print(f"seconds per replicate (both targets, 1 worker): median {secs.median():.1f}, max {secs.max():.1f}")
        out["synthetic"] = {
            "records": df.to_dict(orient="records"),
            "summary": summary.astype(object).to_dict(orient="records"),
        }
    if "diagnostic" in args.parts:
        DIAG_VARIANTS[:] = args.diag_variants
        n_diag = args.diag_reps or (2 if args.quick else 20)
        tasks = [
            (tr, b, i, args.seed, n_boot, args.noise) for tr in args.truths for b in args.budgets for i in range(n_diag)
        ]
        recs = run_tasks(diagnostic_rep, tasks, args.workers, "diagnostic", t0)
        df = pd.DataFrame(recs)
        if "error" not in df:
            df["error"] = None
        print("\n## Diagnostic: which part of suggest limits it (same initial data as the synthetic part)\n")
        print(summarize_diagnostic(df))
        out["diagnostic"] = {"records": df.to_dict(orient="records")}
    if "real" in args.parts:
        cases = real_cases()
        names = args.cases or list(cases)
        tasks = [(c, b, args.seed, n_boot, n_random) for c in names for b in cases[c].budgets]
        recs = run_tasks(real_task, tasks, args.workers, "real", t0)
        df = pd.DataFrame(recs)
        if "error" not in df:
            df["error"] = None
        summary = summarize_real(df)
        print("\n## Subsampled real data (90% by-run bootstrap intervals; truth = held-out observation)\n")
        for c in names:
            case = cases[c]
            print(
                f"{c}: law {case.law}; initial {int(case.initial.sum())} runs, pool {int(case.pool.sum())} runs; "
                + "; ".join(f"{t} <- {what}" for t, _, what in case.targets)
            )
        print()
        print(table_real_compact(summary))
        print()
        print("Full table:\n")
        print(table_real(summary, cases))
        print()
        print(
            "seconds per real task (1 worker): "
            + ", ".join(
                f"{c}@{b:.0e}: {s:.0f}" for (c, b), s in df.groupby(["case", "budget"])["seconds_task"].max().items()
            )
        )
        out["real"] = {
            "records": df.to_dict(orient="records"),
            "summary": summary.astype(object).to_dict(orient="records"),
        }
    wall = time.perf_counter() - t0
    print(f"\nwall time: {wall:.0f} s ({wall / 60:.1f} min)")
    out["wall_seconds"] = wall
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(out, indent=1, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o))
        )
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
