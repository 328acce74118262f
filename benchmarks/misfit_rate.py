#!/usr/bin/env python
"""How often does the misfit backtest (``scalelaw.trust.misfit.estimate_misfit``) find a misfit, when there
is none and when there is one?

Protocol
--------
**Exact law.** ``--exact`` (60; 12 with ``--quick``) seeded Chinchilla ladders (Epoch AI's refit as the
truth): 5 sizes a factor of 3.16 apart from 10^U(6.5, 7.5) parameters x 5 tokens-per-parameter ratios
(5, 10, 20, 40, 80), 25 runs with one final loss each and run-level log-normal noise of sd 0.5%, 1% or 2%
(cycled by seed), fitted with ``chinchilla`` (default Huber loss). Any misfit found is a false trigger.

**Misspecified.** ``--bad`` (5; 2 with ``--quick``) seeds of each of three truths the fitted law cannot
follow, same noise cycle:

- ``bend``: the Chinchilla ladder above with ``log L += 0.01 (log10 C - 18)^2`` above 1e18 FLOPs (up to
  7% at the largest run), fitted by ``chinchilla``;
- ``power-bend``: one input, 20 runs from 1e17 to 1e21 FLOPs, ``L = 1.7 + 2e3 C^-a`` whose exponent falls
  from 0.15 to 0.05 at 1e19 FLOPs (continuous), fitted by ``power`` (a larger ``E`` absorbs much of it);
- ``power-steepen``: the same runs, ``L = 1.7 + (C / 1e19)^-a`` whose exponent rises from 0.05 to 0.3 at
  1e19 FLOPs, which no power law with ``E >= 0`` follows, fitted by ``power``;
- ``kaplan``: Kaplan et al.'s law (N_c = 8.8e13, D_c = 5.4e13, alpha_N = 0.076, alpha_D = 0.095, no
  irreducible loss) on the Chinchilla ladder's (N, D), fitted by ``chinchilla``.

A trigger is ``scale > 0``. The table prints the trigger rate and the median scale for each case.

Measured (2 shared cores; full run, seeds 0..59 and 0..4 per misspecified case), ladders that read a misfit:

=============  =========================================  =============================================
case           before: one backtest, top 25% held out,    after: rolling backtests of the fit, median
               rms > 2x explained (commit cf621f8), 76 s  cut's mean square > 3x explained, 171 s
=============  =========================================  =============================================
exact          3 / 60                                     3 / 60
bend           1 / 5                                      2 / 5
power-bend     0 / 5                                      1 / 5
power-steepen  0 / 5                                      5 / 5
kaplan         0 / 5                                      0 / 5
=============  =========================================  =============================================

Both miss the misfits at 2% noise except ``power-steepen``; the Kaplan-shaped truth is followed by Chinchilla
within noise over these 2.9 decades. The threshold 3 was chosen on seeds 100..159 (1 of 60 exact ladders).

Usage: ``PYTHONPATH=src python benchmarks/misfit_rate.py [--quick] [--exact 60] [--bad 5]``.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import warnings

import numpy as np
import pandas as pd

import scalelaw
from scalelaw.trust.misfit import estimate_misfit

EPOCH = {"E": 1.8172, "A": 482.01, "B": 2085.43, "alpha": 0.3478, "beta": 0.3658}
KAPLAN = {"N_c": 8.8e13, "D_c": 5.4e13, "alpha_N": 0.076, "alpha_D": 0.095}
NOISE = (0.005, 0.01, 0.02)
RATIOS = (5.0, 10.0, 20.0, 40.0, 80.0)


def _nd(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    low = 10 ** rng.uniform(6.5, 7.5)
    N = np.repeat(low * np.sqrt(10.0) ** np.arange(5), len(RATIOS))
    return N, N * np.tile(RATIOS, 5)


def ladder(case: str, seed: int) -> tuple[str, pd.DataFrame]:
    """The law to fit and the runs of one seeded ladder of ``case``."""
    rng = np.random.default_rng(seed)
    sd = NOISE[seed % len(NOISE)]
    if case in ("power-bend", "power-steepen"):
        C = np.geomspace(1e17, 1e21, 20)
        x = np.log10(C) - 19.0
        if case == "power-bend":
            y = 1.7 + 2e3 * 10 ** -(0.15 * np.minimum(x, 0) + 0.05 * np.maximum(x, 0) + 0.15 * 19.0)
        else:
            y = 1.7 + 10 ** -(0.05 * np.minimum(x, 0) + 0.3 * np.maximum(x, 0))
        y = y * np.exp(rng.normal(0, sd, C.size))
        return "power", pd.DataFrame({"run": np.arange(C.size), "flops": C, "loss": y})
    N, D = _nd(rng)
    if case == "kaplan":
        y = scalelaw.get_law("kaplan").predict(KAPLAN, params=N, tokens=D).ravel()
    else:
        y = scalelaw.get_law("chinchilla").predict(EPOCH, params=N, tokens=D).ravel()
    if case == "bend":
        y = y * np.exp(0.01 * np.maximum(np.log10(6 * N * D) - 18.0, 0.0) ** 2)
    y = y * np.exp(rng.normal(0, sd, N.size))
    return "chinchilla", pd.DataFrame({"run": np.arange(N.size), "params": N, "tokens": D, "loss": y})


def measure(case: str, seeds: range) -> dict:
    scales, noises = [], []
    for seed in seeds:
        law, frame = ladder(case, seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = scalelaw.fit(law, frame)
            scales.append(estimate_misfit(fit).scale)
        noises.append(NOISE[seed % len(NOISE)])
    s, n = np.asarray(scales), np.asarray(noises)
    row = {"case": case, "ladders": len(s), "triggered": int(np.sum(s > 0)), "rate": float(np.mean(s > 0))}
    row |= {f"rate@{sd:g}": float(np.mean(s[n == sd] > 0)) if np.any(n == sd) else np.nan for sd in NOISE}
    row["median scale if triggered"] = float(np.median(s[s > 0])) if np.any(s > 0) else 0.0
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="12 exact ladders and 2 of each misspecified case")
    parser.add_argument("--exact", type=int, default=None, help="exact-law ladders (default 60, quick 12)")
    parser.add_argument("--bad", type=int, default=None, help="ladders of each misspecified case (default 5, quick 2)")
    args = parser.parse_args()
    n_exact = args.exact if args.exact is not None else (12 if args.quick else 60)
    n_bad = args.bad if args.bad is not None else (2 if args.quick else 5)
    start = time.perf_counter()
    rows = [measure("exact", range(n_exact))]
    rows += [measure(case, range(n_bad)) for case in ("bend", "power-bend", "power-steepen", "kaplan")]
    table = pd.DataFrame(rows).set_index("case")
    print(table.to_string(float_format=lambda x: f"{x:.3g}"))
    print(f"({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
