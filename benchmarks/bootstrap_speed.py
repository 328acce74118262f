#!/usr/bin/env python
"""Speed of scalelaw's by-run bootstrap vs a plain per-replicate least-squares bootstrap loop.

Side by side in one process, interleaved, on the same data and the same 1,000 resamples:

* **scalelaw**: ``scalelaw.trust.bootstrap.bootstrap(result, n=1000, by="run", seed=0)``, timed as the whole
  call -- the 1,000 replicate refits (vectorized Levenberg-Marquardt batches warm-started from the point
  estimate, in two phases since issue #17). The leave-one-run-out jackknife is refitted only on the first
  BCa request (since issue #17), so it is no longer in this time.
* **scipy loop** (the hand-written baseline, what peer packages do): for each of the same 1,000 run
  resamples, ``scipy.optimize.least_squares`` on the log residuals of the resampled rows (runs drawn
  k times appear k times), warm-started from the point estimate, same objective as scalelaw's fit
  (Huber with delta 1e-3 on log residuals: ``loss="huber", f_scale=1e-3``, which is exactly
  scalelaw's Huber; or plain squared loss with ``--loss squared``), exact Jacobian, the same internal
  parametrization (log E, log A, log B, alpha, beta) and bounds, tolerances ftol=1e-12 (scalelaw's
  relative-decrease tolerance), gtol=1e-10, xtol=1e-12. It does not call scalelaw's engine.
* **peer package** (optional): ``simple_scaling_laws.fit(frame, n_draws=1000)`` (PyPI
  ``simple-scaling-laws``; needs Python >= 3.12), run in a persistent worker subprocess of a separate
  3.12 virtual environment (``--peer-python``), timed inside the worker. It is a different procedure
  (a wild cluster bootstrap over configurations of the separable power law on the loss scale, with
  its own point fit and diagnostics), so only its time is comparable, not its intervals. Every
  checkpoint is a configuration of its own for it (it has no notion of checkpoints of one run). We
  also time ``n_draws=10`` to show its fixed cost.

We also time ``bootstrap(result, n=10)``: scalelaw's fixed cost (before issue #17 mostly the jackknife refits).

Order per repeat: scalelaw, scipy loop, scalelaw n=10, peer, peer n_draws=10 (if any); one warm-up each, then
``--repeats`` timed repeats (default 5); median and min reported. Threads are pinned to 1 for every side (set
below, before NumPy is imported, and inherited by the peer worker). Quality: both sides' replicate solutions
are scored by one shared function (the weighted summed Huber / squared loss of log residuals, written here),
and we report how often each reaches the better of the two objectives (within 1e-6 relative), plus both sides'
90% percentile intervals.

Data: ``synthetic`` -- Chinchilla law with Epoch AI's constants, 50 runs (10 sizes N in 1e7..2e9 x 5
tokens/param in {5, 10, 20, 50, 100}) x 5 checkpoints (20..100% of the run's tokens) = 250 points,
run-level log offset sd 0.8% + checkpoint noise sd 0.2%; ``porian2024`` -- ``scalelaw.load_runs(
"dataset:porian2024")``, 121 points, one per run (so by run = by row there).

``--process`` (issue #17's target) instead times **whole processes**, interleaved A B A B: one Python process
that imports scalelaw, reads the data file, fits ``chinchilla`` and runs ``bootstrap(fit, n=1000, by="run")``
(percentile intervals printed, so no jackknife), against one peer process that imports simple-scaling-laws,
reads the same file and runs ``fit(frame, n_draws=1000)`` (its point fit and bootstrap). Both read one CSV
written here; threads pinned to 1 for both. Default data: ``synthetic240``, laws.md §15.11 (240 runs, one row
each: N log-uniform 7e7-1.6e10, D log-uniform 5e9-5e11, Epoch AI's constants, log-normal noise 0.5%, seed 0).
Both sides read byte-code compiled in the warm-up pair (``--cold-bytecode``: as the environment says), and the
children's CPU time (user + system) is reported beside the wall time.

Usage::

    python benchmarks/bootstrap_speed.py --process          # issue #17: whole processes vs the peer
    python benchmarks/bootstrap_speed.py --process --cold-bytecode   # ... compiling sources if not cached
    python benchmarks/bootstrap_speed.py                    # full run
    python benchmarks/bootstrap_speed.py --quick            # smoke run (100 replicates, 1 repeat)
    python benchmarks/bootstrap_speed.py --no-peer --json out.json
"""

from __future__ import annotations

import os

from _common import THREAD_VARS, environment

for _var in THREAD_VARS:
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import textwrap  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy.optimize import least_squares  # noqa: E402

import scalelaw  # noqa: E402
from scalelaw.fitting.engine import Problem, levenberg_marquardt  # noqa: E402
from scalelaw.trust.bootstrap import bootstrap  # noqa: E402

DELTA = 1e-3
PARAMS = ("E", "A", "B", "alpha", "beta")
EPOCH_TRUTH = {"E": 1.8172, "A": 482.01, "B": 2085.43, "alpha": 0.3478, "beta": 0.3658}
REL_SUCCESS = 1e-6
PEER_PYTHONS = ("/tmp/ssl312/bin/python", "/work/ssl-venv/bin/python")
DEFAULT_PEER_PYTHON = next((p for p in PEER_PYTHONS if Path(p).exists()), PEER_PYTHONS[0])


# ============================================================================ data


def synthetic_runs(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    law = scalelaw.get_law("chinchilla")
    frames = []
    for N in np.logspace(7, np.log10(2e9), 10):
        for tpp in (5.0, 10.0, 20.0, 50.0, 100.0):
            D = N * tpp * np.array([0.2, 0.4, 0.6, 0.8, 1.0])
            y = law.predict(EPOCH_TRUTH, params=N, tokens=D) * np.exp(rng.normal(0, 0.008) + rng.normal(0, 0.002, 5))
            frames.append(pd.DataFrame({"run": f"N{N:.3g}_tpp{tpp:g}", "params": N, "tokens": D, "loss": y}))
    return pd.concat(frames, ignore_index=True)


def synthetic240_runs(seed: int = 0) -> pd.DataFrame:
    """laws.md §15.11 (as ``fit_speed.py``): 240 runs, one row each, Epoch AI's constants, noise sd 0.5%."""
    rng = np.random.default_rng(seed)
    n = 240
    N = np.exp(rng.uniform(np.log(7e7), np.log(1.6e10), n))
    D = np.exp(rng.uniform(np.log(5e9), np.log(5e11), n))
    t = EPOCH_TRUTH
    L = (t["E"] + t["A"] * N ** -t["alpha"] + t["B"] * D ** -t["beta"]) * np.exp(rng.normal(0.0, 0.005, n))
    return pd.DataFrame({"run": [f"r{i}" for i in range(n)], "params": N, "tokens": D, "loss": L})


def real_runs() -> pd.DataFrame:
    runs = scalelaw.load_runs("dataset:porian2024")
    return pd.DataFrame(
        {
            "run": runs.run_ids,
            "params": runs.array("params"),
            "tokens": runs.array("tokens"),
            "loss": runs.array("loss"),
        }
    )


# ============================================================================ shared objective


def log_pred(theta: np.ndarray, N: np.ndarray, D: np.ndarray) -> np.ndarray:
    E, A, B, alpha, beta = theta
    return np.log(E + A * N**-alpha + B * D**-beta)


def shared_objective(theta: np.ndarray, N, D, L, w, loss: str) -> float:
    """Weighted summed loss of log residuals (one function scores both sides' solutions)."""
    r = log_pred(theta, N, D) - np.log(L)
    if loss == "squared":
        per = 0.5 * r * r
    else:
        a = np.abs(r)
        per = np.where(a <= DELTA, 0.5 * r * r, DELTA * (a - 0.5 * DELTA))
    return float(np.sum(w * per))


# ============================================================================ baseline: a scipy loop


def scipy_loop_bootstrap(
    z_hat: np.ndarray, N, D, L, groups: np.ndarray, counts: np.ndarray, lo, hi, loss: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One ``least_squares`` refit per resample, warm-started at ``z_hat``: natural parameters, status, nfev."""
    logN, logD, logL = np.log(N), np.log(D), np.log(L)
    out = np.empty((counts.shape[0], 5))
    status = np.empty(counts.shape[0], dtype=int)
    nfev = np.empty(counts.shape[0], dtype=int)
    for i, c in enumerate(counts):
        idx = np.repeat(np.arange(N.size), c[groups])
        lN, lD, lL = logN[idx], logD[idx], logL[idx]

        def resid(z, lN=lN, lD=lD, lL=lL):
            return np.log(np.exp(z[0]) + np.exp(z[1] - z[3] * lN) + np.exp(z[2] - z[4] * lD)) - lL

        def jac(z, lN=lN, lD=lD):
            tE = np.exp(z[0])
            tA = np.exp(z[1] - z[3] * lN)
            tB = np.exp(z[2] - z[4] * lD)
            p = tE + tA + tB
            return np.column_stack([tE / p, tA / p, tB / p, -lN * tA / p, -lD * tB / p])

        sol = least_squares(
            resid,
            z_hat,
            jac=jac,
            bounds=(lo, hi),
            loss="huber" if loss == "huber" else "linear",
            f_scale=DELTA if loss == "huber" else 1.0,
            ftol=1e-12,
            xtol=1e-12,
            gtol=1e-10,
        )
        z = sol.x
        out[i] = (math.exp(z[0]), math.exp(z[1]), math.exp(z[2]), z[3], z[4])
        status[i] = sol.status
        nfev[i] = sol.nfev
    return out, status, nfev


def engine_iterations(result, frame: pd.DataFrame, counts: np.ndarray, groups: np.ndarray) -> dict:
    """Untimed diagnostic: Levenberg-Marquardt iterations per replicate in scalelaw's engine.

    Rebuilds the weighted problem the bootstrap solves (same resamples, chunks of 250, warm start,
    max_iter 1000) through the public engine API, because ``Bootstrap`` does not expose iteration counts.
    This is the single IRLS phase the bootstrap ran before issue #17 (kept for comparison with old logs).
    """
    law = result.law
    X = {c: np.asarray(frame[c], dtype=np.float64) for c in law.inputs}
    log_y = np.log(np.asarray(frame["loss"], dtype=np.float64))
    weights = counts[:, groups].astype(np.float64)
    problem = Problem(law, X, log_y, result.loss, result.delta, weights=weights)
    z_hat = law.to_internal(np.array([result.values]))[0]
    its, conv = [], []
    for start in range(0, weights.shape[0], 250):
        idx = np.arange(start, min(start + 250, weights.shape[0]))
        _, _, c, it = levenberg_marquardt(problem, np.repeat(z_hat[None], idx.size, 0), max_iter=1000, sets=idx)
        its.append(it)
        conv.append(c)
    it, c = np.concatenate(its), np.concatenate(conv)
    return {
        "p50": float(np.median(it)),
        "p90": float(np.quantile(it, 0.9)),
        "p99": float(np.quantile(it, 0.99)),
        "max": int(it.max()),
        "at_cap_1000": int(np.sum(~c)),
        "per_chunk_max": [int(x.max()) for x in its],
    }


# ============================================================================ peer worker

PEER_WORKER = textwrap.dedent(
    """
    import json, sys, time, warnings
    warnings.simplefilter("ignore")
    import polars as pl
    import simple_scaling_laws as ssl
    frames = {}
    print(json.dumps({"ready": True, "version": ssl.__version__, "python": sys.version.split()[0]}), flush=True)
    for line in sys.stdin:
        msg = json.loads(line)
        if msg["cmd"] == "data":
            frames[msg["name"]] = pl.DataFrame({
                "training_run_id": [f"c{i}" for i in range(len(msg["N"]))],
                "model_size__n_params": msg["N"], "dataset_size__n_tokens": msg["D"],
                "test_loss__cross_entropy": msg["L"]})
            print(json.dumps({"ok": True}), flush=True)
        elif msg["cmd"] == "fit":
            t = time.perf_counter()
            model = ssl.fit(frames[msg["name"]], n_draws=msg["n_draws"], seed=0)
            dt = time.perf_counter() - t
            print(json.dumps({"seconds": dt, "params": model.params("test_loss__cross_entropy")}), flush=True)
        elif msg["cmd"] == "quit":
            break
    """
)


class Peer:
    def __init__(self, python: str):
        self.proc = subprocess.Popen(
            [python, "-c", PEER_WORKER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1
        )
        self.info = self._read()

    def _read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("peer worker exited")
        return json.loads(line)

    def send(self, **msg) -> dict:
        self.proc.stdin.write(json.dumps(msg) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> None:
        try:
            self.send(cmd="quit")
        except Exception:
            pass
        self.proc.wait(timeout=30)


def peer_available(python: str) -> tuple[bool, str]:
    if not Path(python).exists():
        return False, f"{python} not found"
    res = subprocess.run(
        [python, "-c", "import sys, simple_scaling_laws as s; print(s.__version__, sys.version.split()[0])"],
        capture_output=True,
        text=True,
    )
    if res.returncode != 0:
        return False, res.stderr.strip().splitlines()[-1] if res.stderr else "import failed"
    return True, res.stdout.strip()


# ============================================================================ whole processes

OURS_PROCESS = textwrap.dedent(
    """
    import sys, warnings
    warnings.simplefilter("ignore")
    import pandas as pd
    import scalelaw
    from scalelaw.trust.bootstrap import bootstrap
    fit = scalelaw.fit("chinchilla", pd.read_csv(sys.argv[1]))
    boot = bootstrap(fit, n=int(sys.argv[2]), by="run", seed=0)
    print(boot.n, boot.n_unconverged, boot.interval(0.9)[["low", "high"]].to_numpy().ravel().tolist())
    """
)

PEER_PROCESS = textwrap.dedent(
    """
    import sys, warnings
    warnings.simplefilter("ignore")
    import polars as pl
    import simple_scaling_laws as ssl
    f = pl.read_csv(sys.argv[1])
    f = pl.DataFrame({"training_run_id": f["run"], "model_size__n_params": f["params"],
                      "dataset_size__n_tokens": f["tokens"], "test_loss__cross_entropy": f["loss"]})
    model = ssl.fit(f, n_draws=int(sys.argv[2]), seed=0)
    print(model.params("test_loss__cross_entropy"))
    """
)


def run_processes(name: str, frame: pd.DataFrame, args) -> dict:
    """Whole processes, interleaved: scalelaw (import, fit, bootstrap) then the peer, ``repeats`` times."""
    import tempfile

    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1] / "src"))
    with tempfile.TemporaryDirectory() as tmp:
        if not args.cold_bytecode:
            # Both sides read byte-code the warm-up compiled, as an installed package does (pip compiles it);
            # PYTHONDONTWRITEBYTECODE would have scalelaw's sources compiled in every timed process while the
            # peer's site-packages keep their .pyc files.
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
        path = Path(tmp) / f"{name}.csv"
        frame.to_csv(path, index=False)
        sides = {"scalelaw": [sys.executable, "-c", OURS_PROCESS], "peer": [args.peer_python, "-c", PEER_PROCESS]}
        times: dict[str, list[float]] = {s: [] for s in sides}
        cpu: dict[str, list[float]] = {s: [] for s in sides}  # user + system seconds of the child
        out: dict[str, str] = {}
        for rep in range(args.repeats + 1):  # rep 0 is the warm-up (file caches)
            for side, cmd in sides.items():
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                t = time.perf_counter()
                res = subprocess.run([*cmd, str(path), str(args.n)], capture_output=True, text=True, env=env)
                dt = time.perf_counter() - t
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                if res.returncode != 0:
                    raise RuntimeError(f"{side} process failed: {res.stderr[-2000:]}")
                out[side] = res.stdout.strip()
                if rep:
                    times[side].append(dt)
                    cpu[side].append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
            if rep:
                print(
                    f"  {name} repeat {rep}: scalelaw {times['scalelaw'][-1]:.2f} s (CPU {cpu['scalelaw'][-1]:.2f}), "
                    f"peer {times['peer'][-1]:.2f} s (CPU {cpu['peer'][-1]:.2f}), load {os.getloadavg()[0]:.1f}",
                    flush=True,
                )
    paired = [a / b for a, b in zip(times["scalelaw"], times["peer"], strict=True)]
    return {
        "dataset": name,
        "n_points": len(frame),
        "times": {s: {"median": statistics.median(t), "min": min(t), "all": t} for s, t in times.items()},
        "cpu": {s: {"median": statistics.median(t), "min": min(t), "all": t} for s, t in cpu.items()},
        "scalelaw/peer (median)": statistics.median(times["scalelaw"]) / statistics.median(times["peer"]),
        "scalelaw/peer (min)": min(times["scalelaw"]) / min(times["peer"]),
        "scalelaw/peer (median of paired)": statistics.median(paired),
        "scalelaw/peer CPU (median)": statistics.median(cpu["scalelaw"]) / statistics.median(cpu["peer"]),
        "paired": paired,
        "last_output": out,
    }


# ============================================================================ benchmark


def run_dataset(name: str, frame: pd.DataFrame, args, peer: Peer | None) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = scalelaw.fit("chinchilla", frame, loss=args.loss)
    law = result.law
    N, D, L = (np.asarray(frame[c], dtype=np.float64) for c in ("params", "tokens", "loss"))
    _, groups = np.unique(np.asarray(frame["run"]), return_inverse=True)
    n_groups = int(groups.max()) + 1
    # The same resamples scalelaw draws (uncertainty.bootstrap: multinomial run counts from default_rng(seed)).
    rng = np.random.default_rng(args.seed)
    counts = rng.multinomial(n_groups, np.full(n_groups, 1.0 / n_groups), size=args.n)
    z_hat = law.to_internal(np.array([result.values]))[0]
    lo, hi = law.internal_bounds()
    if peer is not None:
        peer.send(cmd="data", name=name, N=N.tolist(), D=D.tolist(), L=L.tolist())

    times: dict[str, list[float]] = {"scalelaw": [], "scipy_loop": [], "scalelaw_10": []}
    if peer is not None:
        times["peer"] = []
        times["peer_10_draws"] = []
    boot = None
    samples_loop = status = nfev = None
    for rep in range(args.repeats + 1):  # rep 0 is the warm-up
        t = time.perf_counter()
        boot = bootstrap(result, n=args.n, by="run", seed=args.seed)
        t_sl = time.perf_counter() - t
        t = time.perf_counter()
        samples_loop, status, nfev = scipy_loop_bootstrap(z_hat, N, D, L, groups, counts, lo, hi, args.loss)
        t_loop = time.perf_counter() - t
        t = time.perf_counter()
        bootstrap(result, n=10, by="run", seed=args.seed)  # fixed cost: point-estimate setup + the jackknife
        t_sl10 = time.perf_counter() - t
        if peer is not None:
            t_peer = peer.send(cmd="fit", name=name, n_draws=args.n)["seconds"]
            t_peer10 = peer.send(cmd="fit", name=name, n_draws=10)["seconds"]
        if rep == 0:
            continue
        times["scalelaw"].append(t_sl)
        times["scipy_loop"].append(t_loop)
        times["scalelaw_10"].append(t_sl10)
        if peer is not None:
            times["peer"].append(t_peer)
            times["peer_10_draws"].append(t_peer10)
        msg = f"  {name} repeat {rep}: scalelaw {t_sl:.2f} s (10 replicates: {t_sl10:.2f} s), scipy loop {t_loop:.2f} s"
        if peer is not None:
            msg += f", peer {t_peer:.2f} s (10 draws: {t_peer10:.2f} s)"
        print(msg, flush=True)

    assert boot is not None and samples_loop is not None and status is not None
    # Quality on the same resamples: scalelaw keeps only finite replicates; it drops none here if n_failed == 0.
    quality: dict = {
        "scalelaw_failed": boot.n_failed,
        "scalelaw_unconverged": boot.n_unconverged,
        "scipy_status_le_0": int(np.sum(status <= 0)),
        "scipy_status_counts": {str(k): int(v) for k, v in zip(*np.unique(status, return_counts=True), strict=True)},
        "scipy_nfev_p50_p90_max": [float(np.median(nfev)), float(np.quantile(nfev, 0.9)), int(nfev.max())],
    }
    quality["engine_iterations"] = engine_iterations(result, frame, counts, groups)
    if boot.n_failed == 0:
        f_sl = np.array(
            [shared_objective(boot.samples[i], N, D, L, counts[i][groups], args.loss) for i in range(args.n)]
        )
        f_lp = np.array(
            [shared_objective(samples_loop[i], N, D, L, counts[i][groups], args.loss) for i in range(args.n)]
        )
        best = np.minimum(f_sl, f_lp)
        gap_sl = (f_sl - best) / best
        gap_lp = (f_lp - best) / best
        quality.update(
            scalelaw_reaches_best=float(np.mean(gap_sl <= REL_SUCCESS)),
            scipy_reaches_best=float(np.mean(gap_lp <= REL_SUCCESS)),
            scalelaw_max_gap=float(gap_sl.max()),
            scipy_max_gap=float(gap_lp.max()),
            scalelaw_median_gap=float(np.median(gap_sl)),
            scipy_median_gap=float(np.median(gap_lp)),
        )
    intervals = {}
    for k, p in enumerate(PARAMS):
        intervals[p] = {
            "estimate": result.values[k],
            "scalelaw": [float(np.quantile(boot.samples[:, k], q)) for q in (0.05, 0.95)],
            "scipy_loop": [float(np.quantile(samples_loop[:, k], q)) for q in (0.05, 0.95)],
        }
    summary = {}
    for side, ts in times.items():
        summary[side] = {"median": statistics.median(ts), "min": min(ts), "all": ts}
    ratios = {
        "scipy_loop/scalelaw (median)": summary["scipy_loop"]["median"] / summary["scalelaw"]["median"],
        "scipy_loop/scalelaw (min)": summary["scipy_loop"]["min"] / summary["scalelaw"]["min"],
        "scipy_loop/scalelaw (median of paired)": statistics.median(
            b / a for a, b in zip(times["scalelaw"], times["scipy_loop"], strict=True)
        ),
    }
    if peer is not None:
        ratios["peer/scalelaw (median)"] = summary["peer"]["median"] / summary["scalelaw"]["median"]
        ratios["peer/scalelaw (min)"] = summary["peer"]["min"] / summary["scalelaw"]["min"]
        ratios["peer/scalelaw (median of paired)"] = statistics.median(
            b / a for a, b in zip(times["scalelaw"], times["peer"], strict=True)
        )
    return {
        "dataset": name,
        "n_points": int(N.size),
        "n_runs": n_groups,
        "n_jackknife": len(boot.jackknife),
        "fit": result.params,
        "times": summary,
        "ratios": ratios,
        "quality": quality,
        "intervals90": intervals,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: 100 replicates, 1 repeat")
    ap.add_argument("--n", type=int, default=None, help="bootstrap replicates (default 1000)")
    ap.add_argument("--repeats", type=int, default=None, help="timed repeats after the warm-up (default 5)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--loss", choices=("huber", "squared"), default="huber", help="objective of both sides")
    ap.add_argument("--datasets", nargs="+", default=None, choices=["synthetic", "synthetic240", "porian2024"])
    ap.add_argument("--process", action="store_true", help="time whole processes (import, fit, bootstrap) vs the peer")
    ap.add_argument(
        "--cold-bytecode",
        action="store_true",
        help="--process: keep the environment's byte-code setting (PYTHONDONTWRITEBYTECODE compiles scalelaw's "
        "sources in every process) instead of a byte-code cache both sides fill in the warm-up",
    )
    ap.add_argument(
        "--peer-python",
        default=DEFAULT_PEER_PYTHON,
        help="a Python >= 3.12 with simple-scaling-laws installed (default %(default)s)",
    )
    ap.add_argument("--no-peer", action="store_true", help="skip the peer package")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    args.n = args.n or (100 if args.quick else 1000)
    args.repeats = args.repeats or (1 if args.quick else 5)
    frames = {"synthetic": synthetic_runs, "synthetic240": synthetic240_runs, "porian2024": real_runs}
    if args.process:
        return main_process(args, frames)
    args.datasets = args.datasets or ["synthetic", "porian2024"]

    peer = None
    peer_info: dict = {"used": False}
    if not args.no_peer:
        ok, why = peer_available(args.peer_python)
        if ok:
            peer = Peer(args.peer_python)
            peer_info = {"used": True, "python": args.peer_python, **peer.info}
        else:
            peer_info = {"used": False, "reason": why}
            print(f"# peer package skipped: {why}")
    env = environment(OPENBLAS_CORETYPE=os.environ.get("OPENBLAS_CORETYPE"), peer=peer_info)
    print(f"# bootstrap speed: {args.n} replicates, {args.repeats} repeats after a warm-up, loss={args.loss}")
    print(f"# {json.dumps(env)}", flush=True)
    results = []
    try:
        for name in args.datasets:
            results.append(run_dataset(name, frames[name](), args, peer))
    finally:
        if peer is not None:
            peer.close()

    print()
    sides = ["scalelaw", "scipy_loop", "scalelaw_10"] + (["peer", "peer_10_draws"] if peer is not None else [])
    header = f"{'dataset':<11} {'points':>6} {'runs':>5} " + " ".join(f"{s + ' med/min s':>24}" for s in sides)
    print(header)
    for r in results:
        cells = " ".join(f"{r['times'][s]['median']:>11.2f} / {r['times'][s]['min']:<10.2f}" for s in sides)
        print(f"{r['dataset']:<11} {r['n_points']:>6} {r['n_runs']:>5} {cells}")
    print()
    for r in results:
        print(f"{r['dataset']}: " + ", ".join(f"{k} = {v:.1f}x" for k, v in r["ratios"].items()))
        print(f"  quality: {r['quality']}")
        for p, iv in r["intervals90"].items():
            print(
                f"  90% {p:<5} scalelaw [{iv['scalelaw'][0]:.4g}, {iv['scalelaw'][1]:.4g}]  "
                f"scipy loop [{iv['scipy_loop'][0]:.4g}, {iv['scipy_loop'][1]:.4g}]"
            )
    _write_json(args, env, results)
    return 0


def _write_json(args, env: dict, results: list) -> None:
    """``--json``: the environment, the settings and every result, in one file."""
    if not args.json:
        return
    args.json.parent.mkdir(parents=True, exist_ok=True)
    payload = {"environment": env, "settings": vars(args) | {"json": str(args.json)}, "results": results}
    args.json.write_text(json.dumps(payload, indent=1, default=float))
    print(f"wrote {args.json}")


def main_process(args, frames) -> int:
    """``--process``: whole processes against the peer; every figure printed, and written to ``--json``."""
    ok, why = peer_available(args.peer_python)
    if not ok:
        print(f"# --process needs the peer package: {why}")
        return 1
    env = environment(
        OPENBLAS_CORETYPE=os.environ.get("OPENBLAS_CORETYPE"),
        peer={"python": args.peer_python, "version": why},
        bytecode="as the environment sets it" if args.cold_bytecode else "cached (filled by the warm-up pair)",
        PYTHONDONTWRITEBYTECODE=os.environ.get("PYTHONDONTWRITEBYTECODE"),
    )
    print(f"# bootstrap speed, whole processes: {args.n} replicates / draws, {args.repeats} repeats after a warm-up")
    print(f"# {json.dumps(env)}", flush=True)
    results = [run_processes(name, frames[name](), args) for name in (args.datasets or ["synthetic240"])]
    for r in results:
        t = r["times"]
        print(
            f"{r['dataset']}: scalelaw {t['scalelaw']['median']:.2f} / {t['scalelaw']['min']:.2f} s (median / min), "
            f"peer {t['peer']['median']:.2f} / {t['peer']['min']:.2f} s; scalelaw/peer = "
            f"{r['scalelaw/peer (median)']:.3f} (medians), {r['scalelaw/peer (min)']:.3f} (mins), "
            f"{r['scalelaw/peer (median of paired)']:.3f} (median of paired); paired "
            + ", ".join(f"{x:.3f}" for x in r["paired"])
        )
        c = r["cpu"]
        print(
            f"  CPU (user + system): scalelaw {c['scalelaw']['median']:.2f} s, peer {c['peer']['median']:.2f} s "
            f"(medians); scalelaw/peer = {r['scalelaw/peer CPU (median)']:.3f}"
        )
        print(f"  last outputs: {r['last_output']}")
    _write_json(args, env, results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
