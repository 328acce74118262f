"""``scalelaw prune``, ``pools`` and ``repeats`` through the real entry point (``python -m scalelaw``).

References: Goyal et al. 2024's published T-MARS pool parameters (locuslab/scaling_laws_data_filtering,
results/parameter_values.jsonl) pick the top-10% pool at 32M samples and the top 10+20% at 640M (their
estimate_best_pool.py); the pruning and repeated-data runs are synthetic with known truth.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from cli_run import run_cli
from scalelaw.cli import app


@pytest.fixture
def prune_csv(tmp_path):
    rng = np.random.default_rng(0)
    n = np.geomspace(1e3, 1e9, 12)
    m = np.geomspace(3e4, 3e6, 12)
    frame = pd.concat(
        [
            pd.DataFrame(
                {"kept": n, "err": (0.02 + 5 * n**-0.3) * np.exp(rng.normal(0, 0.01, 12)), "keep_fraction": 1}
            ),
            pd.DataFrame(
                {
                    "kept": m,
                    "err": (0.02 + 0.5 * np.exp(-m / 1e6)) * np.exp(rng.normal(0, 0.01, 12)),
                    "keep_fraction": 0.3,
                }
            ),
        ]
    )
    path = tmp_path / "prune.csv"
    frame.to_csv(path, index=False)
    return path


def test_prune_json_gives_the_verdict_and_intervals_per_keep_fraction(prune_csv):
    done = run_cli("prune", str(prune_csv), "--x", "kept", "--y", "err", "--n-boot", "30", "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    groups = {g["keep_fraction"]: g for g in data["groups"]}
    assert groups["0.3"]["verdict"] == "exponential" and groups["1"]["verdict"] == "power"
    assert groups["1"]["alpha_low"] <= 0.3 <= groups["1"]["alpha_high"]
    assert groups["0.3"]["rate_low"] <= 1e-6 <= groups["0.3"]["rate_high"]
    assert data["level"] == 0.9
    assert data["fits"]["0.3"]["exponential"]["scale"] == pytest.approx(1e6, rel=0.05)  # raw counts, natural units
    # The table and the errors in process (the entry point is the same app).
    human = CliRunner().invoke(app, ["prune", str(prune_csv), "--x", "kept", "--y", "err", "--n-boot", "0"])
    assert human.exit_code == 0 and "exponential" in human.output and "backtest" in human.output
    missing = CliRunner().invoke(app, ["prune", str(prune_csv)])
    assert missing.exit_code == 2 and "examples" in missing.output and "--x" in missing.output


def test_pools_with_published_parameters_picks_the_papers_mixes(tmp_path):
    b, tau = (-0.16, -0.125, -0.1, -0.085), (6.7272727, 8.5454545, 5.2727273, 2.2727273)
    pools = pd.DataFrame({"pool": ["top10", "top20", "top30", "top40"], "size": 12.8e6, "b": b, "tau": tau})
    path = tmp_path / "pools.csv"
    pools.to_csv(path, index=False)
    done = run_cli("pools", str(path), "--budget", "32e6,640e6", "--a", "0.025", "--d", "0.1", "--json")
    assert done.returncode == 0, done.stderr
    best = json.loads(done.stdout)["best"]
    assert [r["mix"] for r in best] == ["top10", "top10+top20"]
    assert 1 - best[0]["error"] == pytest.approx(0.182471, abs=1e-5)
    human = CliRunner().invoke(app, ["pools", str(path), "--budget", "32e6", "--a", "0.025", "--d", "0.1"])
    assert human.exit_code == 0 and "top10+top20+top30" in human.output


def test_repeats_json_reports_the_effective_size_with_an_interval(tmp_path):
    rng = np.random.default_rng(0)
    n = np.geomspace(1e7, 1e10, 8)
    loss = (8.8e13 / np.append(n, 4e8)) ** 0.076
    frame = pd.DataFrame({"params": np.append(n, 8e8), "loss": loss * np.append(np.exp(rng.normal(0, 0.002, 8)), 1)})
    frame["repeated_fraction"] = [0.0] * 8 + [0.001]
    path = tmp_path / "repeats.csv"
    frame.to_csv(path, index=False)
    done = run_cli("repeats", str(path), "--n-boot", "40", "--json")
    assert done.returncode == 0, done.stderr
    (run,) = json.loads(done.stdout)["runs"]
    assert run["size_ratio"] == pytest.approx(0.5, rel=0.03)
    assert run["size_ratio_low"] <= 0.5 <= run["size_ratio_high"]
