"""Commands beyond final loss (scalelaw.cli.topics), run through the real entry point."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import scalelaw
from test_cli import run
from test_emergence import SCALES, token_table
from test_mixture import DOMAINS, TARGETS, _synthetic, _true_argmin
from test_sampling import law_mixture


def test_emergence_diagnoses_the_schaeffer_toy_from_token_logprobs(tmp_path):
    path = tmp_path / "tokens.csv"
    token_table((SCALES / 2e8) ** -0.5).to_csv(path, index=False)
    proc = run("emergence", str(path), "--tokens")
    assert "metric artefact" in proc.stdout and "exact_match" in proc.stdout
    data = json.loads(run("emergence", str(path), "--tokens", "--json").stdout)
    assert data["diagnosis"] == "artefact"
    assert {m["metric"] for m in data["metrics"]} >= {"exact_match", "log_likelihood"}
    bad = run("emergence", str(path), "--tokens", "--chance", "exact_match", check=False)
    assert bad.returncode == 2 and "NAME=VALUE" in bad.stderr and "Traceback" not in bad.stderr


def test_passk_fits_coverage_and_inverts_it(tmp_path):
    grid, w = law_mixture(1.5, 0.5)
    rng = np.random.default_rng(0)
    p = rng.choice(grid, size=500, p=w)
    path = tmp_path / "problems.csv"
    pd.DataFrame({"n_samples": 1000, "n_correct": rng.binomial(1000, p)}).to_csv(path, index=False)
    args = ["passk", str(path), "--k", "1,3,10,30,100,300,1000", "--target-coverage", "0.9", "--n-boot", "50"]
    proc = run(*args)
    assert "coverage 0.9:" in proc.stdout and "samples per problem" in proc.stdout
    data = json.loads(run(*args, "--json").stdout)
    assert [row["samples"] for row in data["curve"]] == [1, 3, 10, 30, 100, 300, 1000]
    assert data["fit"]["law"] == "coverage" and data["fit"]["paper"]["a"] < 0
    assert data["fit"]["params"]["b"] == pytest.approx(0.5, rel=0.15)
    bad = run("passk", str(path), "--k", "1,2000", check=False)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def test_mixture_proposes_the_known_best_mix_under_a_cap(tmp_path):
    path = tmp_path / "mixes.csv"
    _synthetic(60, 0.003, seed=0).assign(size="1M").to_csv(path, index=False)
    args = ["mixture", str(path), "--y", ",".join(TARGETS), "--cap", "code=0.2", "--where", "size=1M"]
    data = json.loads(run(*args, "--bootstrap", "20", "--json").stdout)
    cap = np.array([1.0, 0.2, 1.0])
    assert np.abs(np.array([data["best"][d] for d in DOMAINS]) - _true_argmin(cap)).sum() < 0.05
    assert data["best"]["code"] <= 0.2 + 1e-9 and "code" in data["at_cap"]
    assert "Best mix" in run(*args, "--bootstrap", "0").stdout
    bad = run(*args, "--cap", "code=lots", check=False)
    assert bad.returncode == 2 and "--cap values must be shares" in bad.stderr
    bad = run(*args, "--where", "size=7B", check=False)
    assert bad.returncode == 2 and "values include: 1M" in bad.stderr


def test_observe_backtests_the_paper_split():
    data = json.loads(run("observe", "dataset:ruan2024", "--target", "mmlu", "--n-boot", "20", "--json").stdout)
    # 77 models at or below Llama-2-7B's 8.4e22 FLOPs train, 46 larger ones are predicted (SOURCE.md split).
    assert data["n_train"] == 77 and data["n_test"] == 46 == len(data["models"])
    assert data["mae"] < data["baseline_mae"]  # measured 0.065 vs 0.173
    bad = run("observe", "dataset:ruan2024", "--target", "nope", check=False)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def test_fit_seed_noise_reports_the_seed_variance_of_repeated_runs():
    data = json.loads(
        run("fit", "dataset:muennighoff2023", "--law", "data_constrained", "--seed-noise", "--json").stdout
    )
    noise = data["seed_noise"]
    # 4 extra seeds for 16-17 configurations; the pooled sd of log loss, measured 0.0069 (about 0.7% per run).
    assert 0.005 < noise["sd"] < 0.009 and noise["n_repeated"] >= 16 and noise["dof"] >= 64
    assert noise["signal_to_noise"]["dominated"] is False
    bad = run("fit", "dataset:gadre2024_rpj", "--law", "overtrain", "--seed-noise", check=False)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


@pytest.fixture(scope="module")
def gadre_small_fit(tmp_path_factory) -> str:
    """Chinchilla fitted to the Gadre RedPajama runs below 1B parameters."""
    path = tmp_path_factory.mktemp("small")
    frame = scalelaw.datasets.load("gadre2024_rpj")
    frame[frame["params"] < 1e9].to_csv(path / "small.csv", index=False)
    run("fit", str(path / "small.csv"), "--law", "chinchilla", "--out", str(path / "fit.json"))
    return str(path / "fit.json")


def test_chain_predicts_7b_error_from_small_models(tmp_path):
    frame = scalelaw.datasets.load("gadre2024_rpj")
    frame[frame["params"] < 1e9].to_csv(tmp_path / "small.csv", index=False)
    loss, link = str(tmp_path / "loss.json"), str(tmp_path / "link.json")
    run("fit", str(tmp_path / "small.csv"), "--law", "overtrain", "--out", loss)
    run("fit", str(tmp_path / "small.csv"), "--law", "downstream_exp", "--y", "err_avg_subset_17", "--out", link)
    args = ["chain", loss, link, "--at", "params=6.89e9,tokens=1.378e11", "--interval", "0.9", "--n-boot", "100"]
    data = json.loads(run(*args, "--stages", "--json").stdout)
    observed = float(frame.loc[frame["params"] > 6e9, "err_avg_subset_17"].iloc[0])  # open_lm_7b: 0.47164
    assert data["low"] < observed < data["high"]
    # The joint interval is wider than either stage's alone.
    assert data["high"] - data["low"] > data["loss_only_high"] - data["loss_only_low"]
    assert data["high"] - data["low"] > data["metric_only_high"] - data["metric_only_low"]
    swapped = run("chain", link, loss, "--at", "params=1e9,tokens=2e10", check=False)
    assert swapped.returncode == 2 and "exactly one input" in swapped.stderr


def test_suggest_picks_among_candidate_runs(tmp_path, gadre_small_fit):
    rows = [{"run": f"cand-{n:.0e}-{r}", "params": n, "tokens": n * r} for n in (1e9, 2e9, 4e9) for r in (10, 40)]
    pd.DataFrame(rows).to_csv(tmp_path / "cand.csv", index=False)
    args = [
        "suggest",
        gadre_small_fit,
        "--budget",
        "3e21",
        "--max-runs",
        "3",
        "--candidates",
        str(tmp_path / "cand.csv"),
    ]
    data = json.loads(run(*args, "--json").stdout)
    assert data["runs"] and {r["run"] for r in data["runs"]} <= {r["run"] for r in rows}
    assert sum(r["flops"] for r in data["runs"]) <= 3e21
    bad = run("suggest", gadre_small_fit, "--budget", "3e21", "--candidates", str(tmp_path / "nope.csv"), check=False)
    assert bad.returncode == 2 and "no such file" in bad.stderr
