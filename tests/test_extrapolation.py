"""Extrapolation distance is reported with every prediction and plan, and warned about past a threshold."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings

import numpy as np
import pytest

import scalelaw
from scalelaw.trust.extrapolation import ExtrapolationWarning, distance, warn_if_far


@pytest.fixture(scope="module")
def fit_rpj():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return scalelaw.fit("chinchilla", "dataset:gadre2024_rpj")


def test_distance_in_decades(fit_rpj):
    data = fit_rpj.data.columns
    n_max, d_max = data["params"].max(), data["tokens"].max()
    c_max = (6 * data["params"] * data["tokens"]).max()
    table = distance(fit_rpj, {"params": [n_max * 10, n_max / 10], "tokens": [d_max, d_max / 100]})
    np.testing.assert_allclose(table["decades_params"], [1.0, -1.0])
    np.testing.assert_allclose(table["decades_compute"].iloc[0], np.log10(6 * n_max * 10 * d_max / c_max))
    assert list(table["outside_range"]) == [True, False]


def test_warns_past_threshold(fit_rpj):
    far = distance(fit_rpj, {"params": 1e12, "tokens": 1e13})
    with pytest.warns(ExtrapolationWarning, match="decades of compute beyond the largest run"):
        warn_if_far(far, max_decades=1.0)
    near = distance(fit_rpj, {"params": 1e8, "tokens": 1e9})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert warn_if_far(near) == []


def test_cli_reports_distance_and_warns(fit_rpj, tmp_path):
    path = tmp_path / "fit.json"
    fit_rpj.save(path)
    args = [sys.executable, "-m", "scalelaw", "predict", str(path), "--at", "params=1e12,tokens=2e13", "--json"]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0
    data = json.loads(proc.stdout)
    assert data["extrapolation"]["decades_compute"] > 3
    assert "decades of compute beyond the largest run" in proc.stderr
    args = [sys.executable, "-m", "scalelaw", "plan", str(path), "--flops", "1e21", "--max-decades", "5", "--json"]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=120)
    plan = json.loads(proc.stdout)
    assert "decades_compute" in plan["extrapolation"] and proc.stderr == ""
