"""Suggesting runs: target parsing, budget respected, the interval narrows, cold start, CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest

import scalelaw
from scalelaw import DataError
from scalelaw.design import Target, cold_start, suggest

EPOCH = {"E": 1.8172, "A": 482.01, "B": 2085.43, "alpha": 0.3478, "beta": 0.3658}


@pytest.fixture(scope="module")
def small_fit():
    """Runs only at small scale (N <= 1e8), as when starting a ladder."""
    rng = np.random.default_rng(0)
    N = np.repeat(np.geomspace(1e7, 1e8, 5), 4)
    D = N * np.tile([10.0, 20.0, 40.0, 80.0], 5)
    law = scalelaw.get_law("chinchilla")
    y = law.predict(EPOCH, params=N, tokens=D) * np.exp(rng.normal(0, 0.005, N.size))
    data = pd.DataFrame({"run": [f"r{i}" for i in range(N.size)], "params": N, "tokens": D, "loss": y})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return scalelaw.fit(law, data)


def test_target_parsing():
    t = Target.parse("plan:flops=1e24")
    assert t.kind == "plan" and t.values == {"flops": 1e24}
    t = Target.parse("predict:params=7e10,tokens=1.4e12")
    assert t.values == {"params": 7e10, "tokens": 1.4e12}
    for bad in ("flops=1e24", "plan:flops=abc", "plan:params=1e9", "guess:flops=1", "plan:flops=-1"):
        with pytest.raises(DataError):
            Target.parse(bad)


def test_suggestion_respects_budget_and_narrows_the_interval(small_fit):
    s = suggest(small_fit, "plan:flops=1e24", budget=1e20, max_flops_per_run=3e19, n_boot=100)
    assert 0 < s.spent <= 1e20
    assert np.all(s.runs["flops"] <= 3e19)
    assert s.width_after < s.width_before
    widths = s.runs["relative_width_after"].to_numpy()
    assert np.all(np.diff(widths) <= 1e-12)  # each added run narrows (or keeps) the interval
    assert all(isinstance(r, str) and r for r in s.runs["reason"])
    # Runs beyond the data's compute are said to extend the range.
    assert any("extends the compute range" in r for r in s.runs["reason"])


def test_sizes_restrict_candidates(small_fit):
    s = suggest(small_fit, "predict:params=7e10,tokens=1.4e12", budget=1e20, sizes=[3e8, 1e9], n_boot=0)
    assert set(np.round(s.runs["params"], -6)) <= {3e8, 1e9}


def test_cold_start_design():
    table, reasoning = cold_start(1e21, 1e24)
    assert table["flops"].nunique() == 5 and len(table) == 25
    assert table.groupby("flops").size().eq(5).all()
    assert (6 * table["params"] * table["tokens"]).sum() == pytest.approx(1e21, rel=1e-9)
    assert any("bracketed" in line for line in reasoning)


def test_cli_suggest_json(small_fit, tmp_path):
    path = tmp_path / "fit.json"
    small_fit.save(path)
    cmd = [sys.executable, "-m", "scalelaw", "suggest", str(path), "--budget", "1e20", "--target", "plan:flops=1e24"]
    proc = subprocess.run([*cmd, "--json"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["relative_width_after"] < data["relative_width_before"] and data["runs"]
    cold = [sys.executable, "-m", "scalelaw", "suggest", "--cold-start", "--budget", "1e21", "--json"]
    data = json.loads(subprocess.run(cold, capture_output=True, text=True, timeout=120).stdout)
    assert data["cold_start"] and len(data["runs"]) == 25
    proc = subprocess.run([sys.executable, "-m", "scalelaw", "suggest", str(path)], capture_output=True, text=True)
    assert proc.returncode == 2 and "--budget" in proc.stderr
