#!/usr/bin/env python
"""Coverage of scalelaw's intervals on data simulated from known laws.

For each scenario we simulate many datasets from a law with known constants, fit it with
``scalelaw.fit`` (default settings: Huber, delta 1e-3, on log residuals), and build

* by-run bootstrap intervals (``scalelaw.trust.bootstrap.bootstrap(result, by="run")``), percentile and BCa,
* by-row bootstrap intervals (``by="row"``), percentile and BCa -- to show what ignoring the
  correlation between checkpoints of one run does,
* profile-likelihood intervals (``scalelaw.trust.profile.profile``), parameters only (the API has no
  profile intervals for predictions); their ends are searched for until found (``scalelaw.trust.profile``), and
  the share of intervals left open (a bound reached first) is reported per parameter and level,

at nominal 80, 90 and 95%, for parameters and for the law's value (the mean curve, ``Bootstrap.predict``
with ``observation=False``) at inputs 10x and 100x beyond the largest in the data. We count how often
each interval contains the truth, and give the binomial standard error sqrt(p (1 - p) / n_sims).

Simulated data (log-normal noise, correlated checkpoints)
--------------------------------------------------------
Every run has checkpoints at several fractions of its final size; all checkpoints of a run share one
run-level log offset ``u_run ~ N(0, run_sd)`` (seed, data order, schedule) and each has its own small
noise ``e ~ N(0, ckpt_sd)``: ``loss = law(truth, inputs) * exp(u_run + e)``. Defaults: run_sd = 0.8%,
ckpt_sd = 0.2%. The truth of a prediction is the law's value (``u`` and ``e`` have median 1 in exp).

* ``chinchilla``: truth = Epoch AI's refit (Besiroglu et al. 2024): E=1.8172, A=482.01, B=2085.43,
  alpha=0.3478, beta=0.3658. Grid design: N in {1e7, 3.2e7, 1e8, 3.2e8, 1e9} x final tokens/param in
  {5, 20, 60, 200} = 20 runs; checkpoints at 25, 40, 55, 70, 85, 100% of the run's tokens (120 rows).
  Extrapolation: the largest run (N=1e9, D=2e11, which holds both the largest N and the largest D) with
  N and D both scaled by sqrt(10) (10x compute: N=3.16e9, D=6.32e11) and by 10 (100x compute: N=1e10,
  D=2e12); tokens/param stays 200.
* ``power``: ``E + A * flops^-alpha`` with E=1.7, A=2e3, alpha=0.15 (the constants of
  tests/test_uncertainty.py); 12 runs with final compute log-spaced over 1e17..1e21 (4 decades),
  checkpoints at 25, 35, 50, 60, 80, 100% of the run's compute (72 rows). Extrapolation: flops = 1e22 and
  1e23.
* ``data_constrained``: Muennighoff et al.'s law with one shared exponent (``tied=True``, as published),
  truth = the published constants (datablations README; ORACLES.md section 2): E=e^0.6254804,
  A=e^6.255414, B=e^7.3049974, alpha=beta=0.3526596, R_D*=15.387756, R_N*=5.309743. Runs: N in {2e7, 1e8,
  5e8} x unique tokens U in {5e8, 5e9} x epochs {1, 2, 4, 8, 16, 40} = 36 runs (N up to 20x the
  compute-optimal size for U, so R_N* is identified); checkpoints at 40, 60, 80, 100% of the run's tokens,
  with ``unique_tokens = min(U, tokens)`` at each checkpoint (unique tokens seen so far; 144 rows).
  Extrapolation: the largest run (N=5e8, U=5e9, D=2e11, 40 epochs) with N, D and U all scaled by sqrt(10)
  and by 10 (10x and 100x compute, same epochs).
* Diagnostics, to separate two causes of profile miscoverage: ``power_iid`` (24 runs, one point each,
  i.i.d. log-normal noise of sd hypot(run_sd, ckpt_sd) = 0.82% -- no correlation, so by run = by row)
  fitted with the default Huber loss, and ``power_iid_sq`` the same data fitted with ``loss="squared"``.

Usage::

    python benchmarks/coverage.py                       # full study (about 30 minutes on 2 cores)
    python benchmarks/coverage.py --quick               # smoke run (a few simulations)
    python benchmarks/coverage.py --sims 200 --boot 300 --workers 2 --seed 0 --json out.json
    python benchmarks/coverage.py --scenarios chinchilla power
    python benchmarks/coverage.py --bca-diagnostic 20       # spread of BCa's z0 and acceleration

See benchmarks/README.md ("Coverage of intervals") for measured figures and how to read them.
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
import time  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy import stats  # noqa: E402

import scalelaw  # noqa: E402
from scalelaw.trust.bootstrap import bootstrap  # noqa: E402
from scalelaw.trust.profile import profile_curves  # noqa: E402

LEVELS = (0.8, 0.9, 0.95)
TARGET_POINTS = 5.0  # the target: within +-5 percentage points of nominal

EPOCH_TRUTH = {"E": 1.8172, "A": 482.01, "B": 2085.43, "alpha": 0.3478, "beta": 0.3658}
POWER_TRUTH = {"E": 1.7, "A": 2.0e3, "alpha": 0.15}
_a, _b, _e, _alpha, _rd, _rn = 6.255414, 7.3049974, 0.6254804, 0.3526596, 15.387756, 5.309743
MUENNIGHOFF_TRUTH = {
    "E": math.exp(_e),
    "A": math.exp(_a),
    "B": math.exp(_b),
    "alpha": _alpha,
    "R_D_star": _rd,
    "R_N_star": _rn,
}


# ============================================================================ scenarios


@dataclass(frozen=True)
class Scenario:
    name: str
    law: Callable[[], scalelaw.Law]
    truth: dict[str, float]
    simulate: Callable[[np.random.Generator, float, float], pd.DataFrame]
    targets: dict[str, dict[str, float]]  # label -> inputs of the extrapolation target
    reported: tuple[str, ...]  # parameters shown in the printed table (all are in the JSON)
    profiled: tuple[str, ...]  # parameters given profile intervals
    loss: str = "huber"
    note: str = ""


def _runs_frame(law, truth, runs, rng, run_sd, ckpt_sd) -> pd.DataFrame:
    """``runs``: list of (run id, dict of input arrays for its checkpoints)."""
    frames = []
    for run_id, inputs in runs:
        n = len(next(iter(inputs.values())))
        mean = law.predict(truth, **inputs)
        y = mean * np.exp(rng.normal(0.0, run_sd) + rng.normal(0.0, ckpt_sd, n))
        frames.append(pd.DataFrame({"run": run_id, **inputs, "loss": y}))
    return pd.concat(frames, ignore_index=True)


CHIN_N = np.logspace(7, 9, 5)
CHIN_TPP = (5.0, 20.0, 60.0, 200.0)
CHIN_FRACS = np.array([0.25, 0.40, 0.55, 0.70, 0.85, 1.00])


def simulate_chinchilla(rng, run_sd, ckpt_sd):
    law = scalelaw.get_law("chinchilla")
    runs = []
    for N in CHIN_N:
        for tpp in CHIN_TPP:
            D = N * tpp * CHIN_FRACS
            runs.append((f"N{N:.2g}_tpp{tpp:g}", {"params": np.full(D.size, N), "tokens": D}))
    return _runs_frame(law, EPOCH_TRUTH, runs, rng, run_sd, ckpt_sd)


POWER_C = np.logspace(17, 21, 12)
POWER_FRACS = np.array([0.25, 0.35, 0.50, 0.60, 0.80, 1.00])


def simulate_power(rng, run_sd, ckpt_sd):
    law = scalelaw.get_law("power")
    runs = [(f"C{c:.2g}", {"flops": c * POWER_FRACS}) for c in POWER_C]
    return _runs_frame(law, POWER_TRUTH, runs, rng, run_sd, ckpt_sd)


def simulate_power_iid(rng, run_sd, ckpt_sd):
    # One point per run and i.i.d. noise with the same total sd as the checkpointed data (run_sd and
    # ckpt_sd in quadrature, 0.82% by default). No correlation, so by run and by row resample the same thing.
    law = scalelaw.get_law("power")
    sd = math.hypot(run_sd, ckpt_sd)
    flops = np.logspace(17, 21, 24)
    y = law.predict(POWER_TRUTH, flops=flops) * np.exp(rng.normal(0.0, sd, flops.size))
    return pd.DataFrame({"run": [f"r{i}" for i in range(flops.size)], "flops": flops, "loss": y})


DC_N = (2e7, 1e8, 5e8)
DC_U = (5e8, 5e9)
DC_EPOCHS = (1.0, 2.0, 4.0, 8.0, 16.0, 40.0)
DC_FRACS = np.array([0.4, 0.6, 0.8, 1.0])


def simulate_data_constrained(rng, run_sd, ckpt_sd):
    law = scalelaw.get_law("data_constrained", tied=True)
    runs = []
    for N in DC_N:
        for U in DC_U:
            for ep in DC_EPOCHS:
                D = ep * U * DC_FRACS
                runs.append(
                    (
                        f"N{N:.2g}_U{U:.2g}_ep{ep:g}",
                        {"params": np.full(D.size, N), "tokens": D, "unique_tokens": np.minimum(U, D)},
                    )
                )
    return _runs_frame(law, MUENNIGHOFF_TRUTH, runs, rng, run_sd, ckpt_sd)


_R10 = math.sqrt(10.0)
SCENARIOS: dict[str, Scenario] = {
    "chinchilla": Scenario(
        name="chinchilla",
        law=lambda: scalelaw.get_law("chinchilla"),
        truth=EPOCH_TRUTH,
        simulate=simulate_chinchilla,
        targets={
            "pred@10x": {"params": 1e9 * _R10, "tokens": 2e11 * _R10},
            "pred@100x": {"params": 1e10, "tokens": 2e12},
        },
        reported=("E", "alpha", "beta"),
        profiled=("E", "alpha", "beta"),
        note="20 runs x 6 checkpoints",
    ),
    "power": Scenario(
        name="power",
        law=lambda: scalelaw.get_law("power"),
        truth=POWER_TRUTH,
        simulate=simulate_power,
        targets={"pred@10x": {"flops": 1e22}, "pred@100x": {"flops": 1e23}},
        reported=("E", "alpha"),
        profiled=("E", "A", "alpha"),
        note="12 runs x 6 checkpoints",
    ),
    "data_constrained": Scenario(
        name="data_constrained",
        law=lambda: scalelaw.get_law("data_constrained", tied=True),
        truth=MUENNIGHOFF_TRUTH,
        simulate=simulate_data_constrained,
        targets={
            "pred@10x": {"params": 5e8 * _R10, "tokens": 2e11 * _R10, "unique_tokens": 5e9 * _R10},
            "pred@100x": {"params": 5e9, "tokens": 2e12, "unique_tokens": 5e10},
        },
        reported=("E", "alpha", "R_D_star", "R_N_star"),
        profiled=("E", "alpha", "R_D_star", "R_N_star"),
        note="36 runs x 4 checkpoints, tied exponents",
    ),
    "power_iid": Scenario(
        name="power_iid",
        law=lambda: scalelaw.get_law("power"),
        truth=POWER_TRUTH,
        simulate=simulate_power_iid,
        targets={"pred@10x": {"flops": 1e22}, "pred@100x": {"flops": 1e23}},
        reported=("E", "alpha"),
        profiled=("E", "A", "alpha"),
        note="diagnostic: 24 single-point runs, iid noise, Huber",
    ),
    "power_iid_sq": Scenario(
        name="power_iid_sq",
        law=lambda: scalelaw.get_law("power"),
        truth=POWER_TRUTH,
        simulate=simulate_power_iid,
        targets={"pred@10x": {"flops": 1e22}, "pred@100x": {"flops": 1e23}},
        reported=("E", "alpha"),
        profiled=("E", "A", "alpha"),
        loss="squared",
        note="diagnostic: same data, loss='squared'",
    ),
}
MAIN = ("chinchilla", "power", "data_constrained")
DIAGNOSTIC = ("power_iid", "power_iid_sq")


# ============================================================================ one simulation


def _hit(low: float, high: float, truth: float) -> int:
    """+1 covered, 0 truth below the interval, 2 truth above it (coded to count miss sides)."""
    if low <= truth <= high:
        return 1
    return 0 if truth < low else 2


def one_simulation(task: tuple[str, int, int, int, float, float, tuple[str, ...]]) -> dict:
    name, index, seed, n_boot, run_sd, ckpt_sd, methods = task
    sc = SCENARIOS[name]
    scen_idx = list(SCENARIOS).index(name)
    rng = np.random.default_rng([seed, scen_idx, index])
    law = sc.law()
    data = sc.simulate(rng, run_sd, ckpt_sd)
    rec: dict = {"scenario": name, "sim": index, "ok": False}
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            result = scalelaw.fit(law, data, loss=sc.loss)
        except Exception as exc:
            rec["error"] = f"fit: {type(exc).__name__}: {exc}"
            return rec
    rec["fit"] = {
        "converged": bool(result.status.converged),
        "at_bound": list(result.status.at_bound),
        "not_identifiable": bool(result.status.not_identifiable),
        "params": result.params,
    }
    truth_pred = {lab: float(law.predict(sc.truth, **inp)[0]) for lab, inp in sc.targets.items()}
    est_pred = {lab: float(np.ravel(result.predict(**inp))[0]) for lab, inp in sc.targets.items()}
    rec["pred_log_error"] = {lab: math.log(est_pred[lab] / truth_pred[lab]) for lab in sc.targets}
    quantities = list(law.param_names) + list(sc.targets)
    truth_all = {**sc.truth, **truth_pred}
    # hits[method][quantity][level] = code; width[method][quantity] = relative width of the 90% interval
    hits: dict = {}
    width: dict = {}
    boot_info: dict = {}
    for by in ("run", "row") if "bootstrap" in methods else ():
        t = time.perf_counter()
        try:
            boot = bootstrap(result, n=n_boot, by=by, seed=index)
        except Exception as exc:
            rec.setdefault("errors", []).append(f"bootstrap by {by}: {type(exc).__name__}: {exc}")
            continue
        boot_info[by] = {
            "n": boot.n,
            "n_failed": boot.n_failed,
            "n_unconverged": boot.n_unconverged,
            "n_jackknife": len(boot.jackknife),
            "seconds": time.perf_counter() - t,
        }
        for method in ("percentile", "bca"):
            key = f"boot-{by}-{method}"
            hits[key], width[key] = {}, {}
            for level in LEVELS:
                try:
                    table = boot.interval(level, method=method).set_index("quantity")
                    preds = {
                        lab: boot.predict(inp, level=level, method=method).iloc[0] for lab, inp in sc.targets.items()
                    }
                except Exception as exc:
                    rec.setdefault("errors", []).append(f"{key} {level}: {type(exc).__name__}: {exc}")
                    continue
                for q in quantities:
                    lo, hi = (
                        (table.loc[q, "low"], table.loc[q, "high"])
                        if q in table.index
                        else (
                            preds[q]["low"],
                            preds[q]["high"],
                        )
                    )
                    hits[key].setdefault(q, {})[str(level)] = _hit(float(lo), float(hi), truth_all[q])
                    if level == 0.9:
                        width[key][q] = float((hi - lo) / abs(truth_all[q]))
    # Profile: one call of profile_curves (what scalelaw.trust.profile.profile computes) with the crossings of
    # every level located, read at each level with Profile.interval; checked against the curve's own 95% ends.
    t = time.perf_counter()
    if "profile" in methods:
        hits["profile"], width["profile"] = {}, {}
    try:
        curves = (
            profile_curves(result, list(sc.profiled), level=max(LEVELS), levels=LEVELS) if "profile" in methods else []
        )
    except Exception as exc:
        rec.setdefault("errors", []).append(f"profile: {type(exc).__name__}: {exc}")
        curves = []
    rec["profile_open"] = 0
    for c in curves:
        rec.setdefault("profile_refits", {})[c.parameter] = c.n_refits
        for level in LEVELS:
            lo, hi, open_lo, open_hi = c.interval(level)
            if level == max(LEVELS):
                assert (lo, hi, open_lo, open_hi) == (c.low, c.high, c.open_low, c.open_high), "profile ends differ"
            hits["profile"].setdefault(c.parameter, {})[str(level)] = _hit(lo, hi, truth_all[c.parameter])
            is_open = open_lo or open_hi
            rec["profile_open"] += int(is_open)
            rec.setdefault("profile_open_by", {}).setdefault(c.parameter, {})[str(level)] = is_open
            rec.setdefault("profile_open_side", {}).setdefault(c.parameter, {})[str(level)] = [open_lo, open_hi]
            if level == 0.9:
                # Width of closed intervals only (an open side ends at the parameter's bound).
                width["profile"][c.parameter] = (
                    float((hi - lo) / abs(truth_all[c.parameter])) if not is_open else math.inf
                )
    boot_info["profile_seconds"] = time.perf_counter() - t
    rec.update(ok=True, hits=hits, width=width, boot=boot_info, seconds=time.perf_counter() - t0)
    return rec


# ============================================================================ BCa diagnostic


def bca_diagnostic(
    names: list[str], n_data: int, n_boot: int, seed: int, run_sd: float, ckpt_sd: float
) -> pd.DataFrame:
    """Spread of BCa's bias correction z0 and acceleration a for each parameter, over ``n_data`` datasets.

    z0 = Phi^-1(share of replicates below the estimate) and a (from the leave-one-run-out jackknife), as in
    ``scalelaw.trust.bootstrap.quantile_interval``. With 300 replicates the Monte Carlo sd of z0 alone is ~0.07;
    a much larger sd across datasets means BCa moves every interval by a dataset-specific amount.
    """
    rows = []
    for name in names:
        sc = SCENARIOS[name]
        z0s, accs = [], []
        for i in range(n_data):
            rng = np.random.default_rng([seed, list(SCENARIOS).index(name), i])
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = scalelaw.fit(sc.law(), sc.simulate(rng, run_sd, ckpt_sd), loss=sc.loss)
                boot = bootstrap(result, n=n_boot, seed=i)
            point = np.array(result.values)
            frac = np.mean(boot.samples < point, axis=0)
            z0s.append(stats.norm.ppf(np.clip(frac, 1 / (boot.n + 1), boot.n / (boot.n + 1))))
            d = boot.jackknife.mean(axis=0) - boot.jackknife
            accs.append(np.sum(d**3, axis=0) / (6 * np.sum(d**2, axis=0) ** 1.5))
        z0s, accs = np.array(z0s), np.array(accs)
        for k, p in enumerate(sc.law().param_names):
            rows.append(
                {
                    "scenario": name,
                    "parameter": p,
                    "z0_mean": z0s[:, k].mean(),
                    "z0_sd": z0s[:, k].std(),
                    "accel_mean": accs[:, k].mean(),
                    "accel_sd": accs[:, k].std(),
                }
            )
    return pd.DataFrame(rows)


# ============================================================================ summary


def summarize(records: list[dict]) -> pd.DataFrame:
    rows = []
    by_scen: dict[str, list[dict]] = {}
    for r in records:
        if r.get("ok"):
            by_scen.setdefault(r["scenario"], []).append(r)
    for name, recs in by_scen.items():
        methods = sorted({m for r in recs for m in r["hits"]}, key=_method_order)
        for method in methods:
            quantities = []
            for r in recs:
                for q in r["hits"].get(method, {}):
                    if q not in quantities:
                        quantities.append(q)
            for q in quantities:
                row = {"scenario": name, "method": method, "quantity": q}
                for level in LEVELS:
                    codes = [
                        r["hits"][method][q][str(level)] for r in recs if str(level) in r["hits"][method].get(q, {})
                    ]
                    n = len(codes)
                    p = sum(c == 1 for c in codes) / n if n else float("nan")
                    row[f"n{int(level * 100)}"] = n
                    row[f"cov{int(level * 100)}"] = p
                    row[f"se{int(level * 100)}"] = math.sqrt(p * (1 - p) / n) if n else float("nan")
                    if level == 0.9:
                        row["miss_low90"] = sum(c == 0 for c in codes) / n if n else float("nan")  # truth below
                        row["miss_high90"] = sum(c == 2 for c in codes) / n if n else float("nan")  # truth above
                widths = [r["width"][method][q] for r in recs if q in r["width"].get(method, {})]
                finite = [w for w in widths if math.isfinite(w)]
                row["median_rel_width90"] = float(np.median(finite)) if finite else float("nan")
                rows.append(row)
    return pd.DataFrame(rows)


def _method_order(m: str) -> tuple[int, str]:
    order = ["boot-run-percentile", "boot-run-bca", "boot-row-percentile", "boot-row-bca", "profile"]
    return (order.index(m) if m in order else 99, m)


def point_estimate_bias(records: list[dict]) -> pd.DataFrame:
    rows = []
    for name in dict.fromkeys(r["scenario"] for r in records if r.get("ok")):
        recs = [r for r in records if r.get("ok") and r["scenario"] == name]
        sc = SCENARIOS[name]
        for p in sc.law().param_names:
            est = np.array([r["fit"]["params"][p] for r in recs])
            tr = sc.truth[p]
            rows.append(
                {
                    "scenario": name,
                    "quantity": p,
                    "truth": tr,
                    "median_est": float(np.median(est)),
                    "median_rel_err": float(np.median(est / tr - 1)),
                    "sd_rel_err": float(np.std(est / tr - 1)),
                }
            )
        for lab in sc.targets:
            err = np.array([r["pred_log_error"][lab] for r in recs])
            rows.append(
                {
                    "scenario": name,
                    "quantity": lab,
                    "truth": float(sc.law().predict(sc.truth, **sc.targets[lab])[0]),
                    "median_est": float("nan"),
                    "median_rel_err": float(np.median(np.expm1(err))),
                    "sd_rel_err": float(np.std(np.expm1(err))),
                }
            )
    return pd.DataFrame(rows)


def format_table(summary: pd.DataFrame, shown: dict[str, tuple[str, ...]]) -> str:
    lines = []
    header = (
        f"{'scenario':<17} {'quantity':<10} {'method':<20} {'80%':>12} {'90%':>12} {'95%':>12} "
        f"{'miss lo/hi@90':>14} {'width90':>8}"
    )
    lines.append(header)
    lines.append("-" * len(header))
    for _, row in summary.iterrows():
        if row["quantity"] not in shown.get(row["scenario"], ()) and not row["quantity"].startswith("pred@"):
            continue
        cells = []
        for level in LEVELS:
            k = int(level * 100)
            cov, se = row[f"cov{k}"], row[f"se{k}"]
            flag = "*" if abs(100 * cov - k) > TARGET_POINTS else " "
            cells.append(f"{100 * cov:5.1f}±{100 * se:3.1f}{flag}")
        miss = f"{100 * row['miss_low90']:4.1f}/{100 * row['miss_high90']:4.1f}"
        lines.append(
            f"{row['scenario']:<17} {row['quantity']:<10} {row['method']:<20} {cells[0]:>12} {cells[1]:>12} "
            f"{cells[2]:>12} {miss:>14} {row['median_rel_width90']:8.3g}"
        )
    lines.append(
        "coverage in % ± binomial s.e.; * = more than 5 points from nominal; miss lo/hi = % of 90% intervals "
        "entirely above/below the truth (truth below low / above high); width90 = median (high - low) / |truth|"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: 6 simulations per scenario, 100 replicates")
    ap.add_argument("--sims", type=int, default=None, help="simulated datasets per scenario (default 200)")
    ap.add_argument("--diag-sims", type=int, default=None, help="simulations per diagnostic scenario (default 100)")
    ap.add_argument("--boot", type=int, default=None, help="bootstrap replicates per fit (default 300)")
    ap.add_argument("--seed", type=int, default=0, help="master seed (datasets and bootstraps derive from it)")
    ap.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    ap.add_argument("--scenarios", nargs="+", default=None, choices=list(SCENARIOS), help="default: all")
    ap.add_argument("--run-sd", type=float, default=0.008, help="sd of the run-level log offset (default 0.008)")
    ap.add_argument("--ckpt-sd", type=float, default=0.002, help="sd of per-checkpoint log noise (default 0.002)")
    ap.add_argument("--json", type=Path, default=None, help="write settings, per-simulation records and summary")
    ap.add_argument(
        "--records",
        type=Path,
        default=None,
        help="JSON-lines file: each finished simulation is appended as it completes, and simulations "
        "already in it (same seed, replicates and noise settings) are reused, so an interrupted study "
        "resumes where it stopped",
    )
    ap.add_argument(
        "--bca-diagnostic",
        type=int,
        default=0,
        metavar="N",
        help="instead of the study, print the spread of BCa's z0 and acceleration over N datasets per scenario",
    )
    ap.add_argument(
        "--methods",
        nargs="+",
        default=["bootstrap", "profile"],
        choices=["bootstrap", "profile"],
        help="interval methods to run (default both)",
    )
    args = ap.parse_args(argv)
    if args.bca_diagnostic:
        names = args.scenarios or [*MAIN, *DIAGNOSTIC]
        table = bca_diagnostic(names, args.bca_diagnostic, args.boot or 300, args.seed, args.run_sd, args.ckpt_sd)
        print(table.to_string(index=False, float_format=lambda v: f"{v:+.3f}"))
        return 0
    n_sims = args.sims or (6 if args.quick else 200)
    n_boot = args.boot or (100 if args.quick else 300)
    names = args.scenarios or [*MAIN, *DIAGNOSTIC]
    n_diag = args.diag_sims or (n_sims if args.quick else min(n_sims, 100))
    per_scenario = {name: n_diag if name in DIAGNOSTIC else n_sims for name in names}
    env = environment(workers=args.workers)
    print(
        f"# coverage study: {per_scenario} simulations, {n_boot} bootstrap replicates, "
        f"seed {args.seed}, {args.workers} worker(s)"
    )
    print(f"# {json.dumps(env)}", flush=True)
    methods = tuple(args.methods)
    settings_key = {
        "seed": args.seed,
        "n_boot": n_boot,
        "run_sd": args.run_sd,
        "ckpt_sd": args.ckpt_sd,
        "methods": list(methods),
    }
    records: list[dict] = []
    if args.records is not None and args.records.exists():
        for line in args.records.read_text().splitlines():
            rec = json.loads(line)
            if (
                rec.get("settings") == settings_key
                and rec["scenario"] in names
                and rec["sim"] < per_scenario[rec["scenario"]]
            ):
                records.append(rec)
        print(f"# reusing {len(records)} simulation(s) from {args.records}")
    have = {(r["scenario"], r["sim"]) for r in records}
    tasks = [
        (n, i, args.seed, n_boot, args.run_sd, args.ckpt_sd, methods)
        for n in names
        for i in range(per_scenario[n])
        if (n, i) not in have
    ]
    t0 = time.perf_counter()
    done_per: dict[str, int] = {}
    sink = None
    if args.records is not None:
        args.records.parent.mkdir(parents=True, exist_ok=True)
        sink = args.records.open("a")

    def collect(rec: dict) -> None:
        rec["settings"] = settings_key
        if sink is not None:
            sink.write(json.dumps(rec, default=float) + "\n")
            sink.flush()
        records.append(rec)
        name = rec["scenario"]
        done_per[name] = done_per.get(name, 0) + 1
        if done_per[name] % max(1, per_scenario[name] // 5) == 0:
            print(f"  {name}: {done_per[name]}/{per_scenario[name]} ({time.perf_counter() - t0:.0f} s)", flush=True)

    if args.workers > 1:
        with multiprocessing.get_context("fork").Pool(args.workers) as pool:
            for rec in pool.imap_unordered(one_simulation, tasks, chunksize=1):
                collect(rec)
    else:
        for task in tasks:
            collect(one_simulation(task))
    if sink is not None:
        sink.close()
    wall = time.perf_counter() - t0
    records.sort(key=lambda r: (names.index(r["scenario"]), r["sim"]))
    summary = summarize(records)
    bias = point_estimate_bias(records)
    shown = {n: SCENARIOS[n].reported for n in names}

    print()
    print(format_table(summary, shown))
    print()
    print("Point estimates over the simulations (median relative error, sd of relative error):")
    print(bias.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print()
    print(
        "Per scenario: simulations ok, fit failures, bootstrap replicates dropped/unconverged, "
        "open profile intervals, seconds per simulation"
    )
    health = []
    for name in names:
        recs = [r for r in records if r["scenario"] == name]
        ok = [r for r in recs if r.get("ok")]
        row = {"scenario": name, "ok": len(ok), "fit_errors": len(recs) - len(ok)}
        row["other_errors"] = sum(len(r.get("errors", [])) for r in ok)
        row["fit_not_converged"] = sum(not r["fit"]["converged"] for r in ok)
        row["fit_at_bound"] = sum(bool(r["fit"]["at_bound"]) for r in ok)
        for by in ("run", "row"):
            bi = [r["boot"][by] for r in ok if by in r["boot"]]
            row[f"{by}_failed"] = sum(b["n_failed"] for b in bi)
            row[f"{by}_unconv"] = sum(b["n_unconverged"] for b in bi)
            row[f"{by}_s"] = float(np.median([b["seconds"] for b in bi])) if bi else float("nan")
        row["profile_open"] = sum(r.get("profile_open", 0) for r in ok)
        row["profile_s"] = float(np.median([r["boot"]["profile_seconds"] for r in ok])) if ok else float("nan")
        row["s_per_sim"] = float(np.median([r["seconds"] for r in ok])) if ok else float("nan")
        health.append(row)
    print(pd.DataFrame(health).to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    open_rows = []
    for name in names:
        ok = [r for r in records if r["scenario"] == name and r.get("ok") and "profile_open_by" in r]
        for q in SCENARIOS[name].profiled:
            row = {"scenario": name, "parameter": q}
            for level in LEVELS:
                flags = [r["profile_open_by"][q][str(level)] for r in ok if q in r["profile_open_by"]]
                row[f"open{int(level * 100)}"] = float(np.mean(flags)) if flags else float("nan")
            open_rows.append(row)
    if open_rows:
        print("\nShare of profile intervals that are open (a bound reached without crossing the threshold):")
        print(pd.DataFrame(open_rows).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    errors = [e for r in records for e in ([r["error"]] if "error" in r else []) + r.get("errors", [])]
    if errors:
        print(f"\n{len(errors)} error(s); first few:")
        for e in errors[:5]:
            print("  ", e)
    print(f"\nwall time {wall:.0f} s")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "environment": env,
            "settings": {
                "n_sims": per_scenario,
                "n_boot": n_boot,
                "seed": args.seed,
                "run_sd": args.run_sd,
                "ckpt_sd": args.ckpt_sd,
                "levels": LEVELS,
                "scenarios": {
                    n: {
                        "truth": SCENARIOS[n].truth,
                        "targets": SCENARIOS[n].targets,
                        "loss": SCENARIOS[n].loss,
                        "note": SCENARIOS[n].note,
                    }
                    for n in names
                },
            },
            "summary": summary.to_dict(orient="records"),
            "point_estimates": bias.to_dict(orient="records"),
            "health": health,
            "wall_seconds": wall,
            "records": records,
        }
        args.json.write_text(json.dumps(payload, separators=(",", ":"), default=float))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
