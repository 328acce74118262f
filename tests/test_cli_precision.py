"""``scalelaw plan --precision`` and ``--bits-post`` through the real entry point (``python -m scalelaw``).

The precision law (Kumar et al. 2024, arXiv:2411.04330; laws.md §8.1) has no published fitted constants we
could read (see docs/precision.md), so the references here are closed forms: with linear bit cost and ``m``
tied precision columns the compute-optimal training precision is ``P* = x_m gamma`` with ``m x = e^x - 1``
(x_3 = 1.903, x_2 = 1.256), and the critical tokens are ``D* = (beta B / (gamma_D K))^(1/(beta + gamma_D))``
with ``K = C_T exp(-P_post/gamma_post) N^-gamma_N``. The data are synthetic, generated from Chinchilla's
published constants (E=1.69, A=406.4, B=410.7, alpha=0.34, beta=0.28) plus illustrative precision constants.
"""

from __future__ import annotations

import json
import math
import subprocess

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import brentq

from cli_run import run_cli, run_main
from scalelaw import FitResult
from scalelaw.decisions.precision import critical_tokens, optimal_precision
from scalelaw.laws.precision import precision

CHINCHILLA = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}
PTQ_TRUTH = {**CHINCHILLA, "gamma_w": 2.5, "C_T": 0.2, "gamma_post": 1.5, "gamma_D": 0.5, "gamma_N": 0.5}


def ok(*args: str) -> subprocess.CompletedProcess:
    done = run_cli(*args)
    assert done.returncode == 0, f"{args} exited {done.returncode}\nstdout:{done.stdout}\nstderr:{done.stderr}"
    return done


def _grid() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n, ratio, bits = (a.ravel() for a in np.meshgrid(np.logspace(7.5, 9.5, 5), [10, 30, 100, 300], [3, 4, 6, 8, 16]))
    return n, n * ratio, bits


@pytest.fixture(scope="module")
def tied_fit(tmp_path_factory) -> tuple[str, FitResult]:
    """Fit (through the CLI) of a tied three-column precision law, gamma = 4 (P* = 7.6 bits in truth)."""
    folder = tmp_path_factory.mktemp("precision")
    n, d, p = _grid()
    law = precision(bits=["bits_w", "bits_a", "bits_kv"], tied=True)
    loss = law.predict({**CHINCHILLA, "gamma": 4.0}, params=n, tokens=d, bits_w=p, bits_a=p, bits_kv=p)
    noise = np.exp(np.random.default_rng(0).normal(0, 0.005, n.size))
    runs = pd.DataFrame({"run": np.arange(n.size), "params": n, "tokens": d, "bits_w": p, "bits_a": p, "bits_kv": p})
    runs.assign(loss=loss * noise).to_csv(folder / "runs.csv", index=False)
    path = folder / "fit.json"
    ok("fit", str(folder / "runs.csv"), "--law", "precision", "--law-option", "bits=bits_w,bits_a,bits_kv",
       "--law-option", "tied=true", "--out", str(path))  # fmt: skip
    return str(path), FitResult.load(path)


@pytest.fixture(scope="module")
def ptq_fit(tmp_path_factory) -> tuple[str, FitResult]:
    """Fit (through the CLI) of the weights-only precision law with the post-training-quantization term."""
    folder = tmp_path_factory.mktemp("ptq")
    n, d, p = _grid()
    post = np.repeat([3.0, 4.0, 6.0, 8.0, 16.0], n.size)
    n, d, p = np.tile(n, 5), np.tile(d, 5), np.tile(p, 5)
    loss = precision(ptq=True).predict(PTQ_TRUTH, params=n, tokens=d, bits_w=p, bits_post=post)
    noise = np.exp(np.random.default_rng(1).normal(0, 0.005, n.size))
    # One run per row: the same model quantized to several widths is a separate evaluation with its own key.
    runs = pd.DataFrame({"run": np.arange(n.size), "params": n, "tokens": d, "bits_w": p, "bits_post": post})
    runs.assign(loss=loss * noise).to_csv(folder / "runs.csv", index=False)
    path = folder / "fit.json"
    ok("fit", str(folder / "runs.csv"), "--law", "precision", "--law-option", "ptq=true", "--out", str(path))
    return str(path), FitResult.load(path)


def _x(m: int) -> float:
    """Root x > 0 of m x = e^x - 1: P* / gamma for m tied columns under linear bit cost."""
    return brentq(lambda x: math.expm1(x) - m * x, 0.1, 10.0, xtol=1e-14)


def _critical_tokens(p: dict[str, float], params: float, bits_post: float) -> float:
    log_k = math.log(p["C_T"]) - bits_post / p["gamma_post"] - p["gamma_N"] * math.log(params)
    return math.exp((math.log(p["beta"] * p["B"] / p["gamma_D"]) - log_k) / (p["beta"] + p["gamma_D"]))


def test_precision_plan_matches_the_closed_form_and_the_library(tied_fit):
    path, fit = tied_fit
    out = json.loads(ok("plan", path, "--precision", "--flops", "1e21,1e23", "--json").stdout)
    assert out["kind"] == "precision" and out["law"] == "precision" and len(out["plans"]) == 2
    bits = [rec["bits_opt"]["value"] for rec in out["plans"]]
    # P* = x_3 gamma whatever the budget (the grid search plus parabola is good to ~1e-6 relative).
    assert bits == pytest.approx([_x(3) * fit.params["gamma"]] * 2, rel=1e-5)
    assert fit.params["gamma"] == pytest.approx(4.0, rel=0.02)  # the fit recovers the truth
    library = optimal_precision(fit, [1e21, 1e23]).table
    for rec, (_, row) in zip(out["plans"], library.iterrows(), strict=True):
        assert rec["flops"] == row["flops"]
        for key in ("bits_opt", "params_opt", "tokens_opt", "loss_opt", "params_ref", "loss_ref"):
            assert rec[key]["value"] == pytest.approx(row[key], rel=1e-12), key
        # Lower precision buys a larger model and a lower loss than 16-bit training at the same compute.
        assert rec["params_opt"]["value"] > rec["params_ref"]["value"]
        assert rec["loss_opt"]["value"] < rec["loss_ref"]["value"]
        assert "extrapolation" in rec
    assert out["notes"] == []


def test_precision_plan_with_a_fixed_column_and_bootstrap_interval(tied_fit):
    path, fit = tied_fit
    args = ("--precision", "--flops", "1e22", "--bits", "bits_kv=16", "--interval", "0.9", "--n-boot", "20")
    out = json.loads(ok("plan", path, *args, "--seed", "3", "--json").stdout)
    assert out["level"] == 0.9 and out["method"].startswith("bootstrap by run (n=20)")
    library = optimal_precision(
        fit, 1e22, vary=["bits_w", "bits_a"], fixed={"bits_kv": 16}, level=0.9, n_boot=20, seed=3
    ).table.iloc[0]
    for key in ("bits_opt", "params_opt", "tokens_opt"):
        rec = out[key]
        assert rec["low"] <= rec["value"] <= rec["high"], key
        assert (rec["value"], rec["low"], rec["high"]) == pytest.approx(
            (library[key], library[f"{key}_low"], library[f"{key}_high"]), rel=1e-12
        )
    # Two varied columns (the KV factor at 16 bits is ~1): P* ~ x_2 gamma.
    assert out["bits_opt"]["value"] == pytest.approx(_x(2) * fit.params["gamma"], rel=0.01)


def test_precision_plan_prints_a_table(tied_fit):
    done = ok("plan", tied_fit[0], "--precision", "--flops", "1e21", "--bits-range", "4:16")
    for word in ("Compute-optimal training precision", "bits_opt", "params_opt", "tokens_opt", "params_ref"):
        assert word in done.stdout, word
    assert done.stderr == ""


def test_critical_tokens_match_the_closed_form(ptq_fit):
    path, fit = ptq_fit
    args = ("--bits-post", "4", "--params", "1e8,1e9", "--bits", "bits_w=16", "--json")
    out = json.loads(ok("plan", path, *args).stdout)
    assert out["kind"] == "critical_tokens" and len(out["plans"]) == 2
    for rec in out["plans"]:
        n = rec["params"]
        assert (rec["bits_post"], rec["bits_w"]) == (4.0, 16.0)
        d_star = rec["tokens_crit"]["value"]
        assert d_star == pytest.approx(_critical_tokens(fit.params, n, 4.0), rel=1e-10)
        assert rec["tokens_per_param_crit"]["value"] == pytest.approx(d_star / n, rel=1e-12)
        # Within 10% of the critical tokens of the true constants (measured: 1.4% off at 1e8, 0.14% at 1e9).
        assert d_star == pytest.approx(_critical_tokens(PTQ_TRUTH, n, 4.0), rel=0.1)
        # It is the minimum of the post-quantization loss over tokens: 1% either side is worse.
        d = d_star * np.array([0.99, 1.0, 1.01])
        loss = fit.predict(params=np.full(3, n), tokens=d, bits_w=np.full(3, 16.0), bits_post=np.full(3, 4.0))
        assert loss[1] < loss[0] and loss[1] < loss[2]
        assert rec["loss_crit"]["value"] == pytest.approx(loss[1], rel=1e-10)


def test_critical_tokens_with_interval_and_table(ptq_fit):
    path, fit = ptq_fit
    args = ("--bits-post", "3", "--params", "3e8", "--bits", "bits_w=8", "--interval", "0.8", "--n-boot", "10")
    out = json.loads(ok("plan", path, *args, "--json").stdout)
    assert out["level"] == 0.8 and out["method"].startswith("bootstrap by run (n=10)")
    for key in ("tokens_crit", "loss_crit"):
        assert out[key]["low"] <= out[key]["value"] <= out[key]["high"], key
    assert out["tokens_crit"]["value"] == pytest.approx(critical_tokens(fit, 3e8, 3, bits_w=8).table["tokens_crit"][0])
    done = ok("plan", path, "--bits-post", "4", "--params", "1e9", "--bits", "bits_w=16")
    assert "Critical tokens after post-training quantization" in done.stdout and "tokens_crit" in done.stdout


@pytest.fixture(scope="module")
def chinchilla_fit(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("chin") / "fit.json"
    ok("fit", "dataset:gadre2024_rpj", "--law", "chinchilla", "--out", str(path))
    return str(path)


@pytest.mark.parametrize(
    ("which", "args", "message"),
    [
        ("chinchilla", ["--precision", "--flops", "1e21"], "needs a fit of the 'precision' law"),
        ("chinchilla", ["--bits-post", "4", "--params", "1e9"], "needs a fit of the 'precision' law"),
        ("ptq", ["--bits-post", "4"], "--bits-post needs --params N"),
        ("ptq", ["--bits-post", "4", "--params", "1e9"], "--bits bits_w=16"),
        ("tied", ["--bits-post", "4", "--params", "1e9", "--bits", "bits_w=16"], "ptq=true"),
        ("tied", ["--precision"], "--precision needs --flops"),
        ("tied", ["--flops", "1e21"], "plan it with --precision"),
        ("tied", ["--target-loss", "2.3"], "plan it with --precision"),
        ("tied", ["--precision", "--bits-post", "4", "--flops", "1e21"], "give one of them"),
        ("tied", ["--precision", "--flops", "1e21", "--target-loss", "2"], "cannot be combined with --target-loss"),
        ("tied", ["--precision", "--flops", "1e21", "--bits", "bits_x=3"], "precision columns are bits_w"),
        ("tied", ["--precision", "--flops", "1e21", "--bits", "bits_w=0"], "must be finite and > 0"),
        ("tied", ["--precision", "--flops", "1e21", "--bits-range", "16:4"], "0 < LOW < HIGH"),
        ("tied", ["--precision", "--flops", "1e21", "--interval", "2"], "--interval must be between 0 and 1"),
        ("ptq", ["--params", "1e9", "--flops", "1e21"], "--params goes with --bits-post"),
    ],
)
def test_bad_combinations_exit_2_with_one_line(which, args, message, tied_fit, ptq_fit, chinchilla_fit, capsys):
    """In-process through ``scalelaw.cli.main`` (the console entry point) to keep 14 cases fast."""
    path = {"tied": tied_fit[0], "ptq": ptq_fit[0], "chinchilla": chinchilla_fit}[which]
    code, stdout, stderr = run_main(capsys, "plan", path, *args)
    assert code == 2, stderr
    assert message in " ".join(stderr.split()) and "Traceback" not in stderr
    assert stdout == ""


def test_bad_combination_through_the_real_entry_point(chinchilla_fit):
    done = run_cli("plan", chinchilla_fit, "--precision", "--flops", "1e21")
    assert done.returncode == 2 and done.stdout == ""
    assert (
        done.stderr.startswith("error: --precision needs a fit of the 'precision' law")
        and "Traceback" not in done.stderr
    )
