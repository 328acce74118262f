"""Learning-rate sensitivity (Wortsman et al. 2023, "Small-scale proxies for large-scale Transformer training
instabilities", sec. 2.2): ``E_eta[min(L(eta), L0) - L*]`` with ``eta`` log-uniform on a range.

The paper gives no number to reproduce from a table, so the reference is exact: for a loss quadratic in log
learning rate, ``L = L* + c (u - u*)^2`` with ``u = ln eta``, capped at the initial loss ``L0``, the expectation
over ``u`` uniform on ``[a, b]`` is an integral in closed form (:func:`_exact`).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from scalelaw.decisions.learning_rate import expected_gap, lr_sensitivity
from scalelaw.errors import DataError

BEST_LR = 3e-3
RANGE = (1e-4, 1e-1)


def _exact(c: float, cap: float = math.inf, lr_range=RANGE, best_lr: float = BEST_LR) -> float:
    """``(1/(b-a)) ∫_a^b min(c t^2, cap) du`` with ``t = u - ln(best_lr)``: ``c t^3/3`` inside ``|t| <= d``,
    ``d = sqrt(cap/c)``, and ``cap`` per unit of ``t`` beyond."""
    d = math.sqrt(cap / c) if math.isfinite(cap) else math.inf

    def F(t: float) -> float:
        if abs(t) <= d:
            return c * t**3 / 3
        return math.copysign(c * d**3 / 3 + cap * (abs(t) - d), t)

    ta, tb = (math.log(x / best_lr) for x in lr_range)
    return (F(tb) - F(ta)) / (tb - ta)


def _sweep(curvatures: dict[float, float], n_lrs: int = 61, seeds: int = 1, noise: float = 0.0, seed: int = 0):
    """Final losses ``3 + c ln(eta/BEST_LR)^2`` on a log grid through BEST_LR, per model size."""
    rng = np.random.default_rng(seed)
    lrs = np.geomspace(*RANGE, n_lrs)
    lrs[np.argmin(np.abs(np.log(lrs / BEST_LR)))] = BEST_LR  # the grid holds the optimum, so L* is exact
    rows = []
    for params, c in curvatures.items():
        for lr in lrs:
            for s in range(seeds):
                loss = 3.0 + c * math.log(lr / BEST_LR) ** 2 + rng.normal(0.0, noise)
                rows.append({"run": f"{params:g}/{lr:.4g}/{s}", "params": params, "lr": lr, "seed": s, "loss": loss})
    return pd.DataFrame(rows)


def test_expected_gap_is_the_exact_integral_for_a_quadratic_loss():
    u = np.linspace(*np.log(RANGE), 2001)
    lr = np.exp(u)
    loss = 3.0 + 0.05 * np.log(lr / BEST_LR) ** 2
    loss[np.argmin(loss)] = 3.0
    assert expected_gap(lr, loss) == pytest.approx(_exact(0.05), rel=1e-5)
    # Capped at the initial loss: a diverging learning rate costs L0 - L* and no more.
    assert expected_gap(lr, loss, initial_loss=3.4) == pytest.approx(_exact(0.05, cap=0.4), rel=1e-5)
    assert _exact(0.05, cap=0.4) < _exact(0.05)
    # A sub-range, and NaN (diverged) losses counted as L0.
    inner = (1e-3, 1e-2)
    assert expected_gap(lr, loss, lr_range=inner) == pytest.approx(_exact(0.05, lr_range=inner), rel=1e-4)
    diverged = np.where(lr > 7e-2, np.nan, loss)  # beyond 5.1e-2 the loss is above L0 anyway
    assert expected_gap(lr, diverged, initial_loss=3.4) == pytest.approx(_exact(0.05, cap=0.4), rel=1e-5)


def test_grid_method_is_the_mean_of_the_sweep():
    lr, loss = np.array([1e-3, 1e-2, 1e-1]), np.array([3.5, 3.0, 4.0])
    assert expected_gap(lr, loss, method="grid") == pytest.approx(0.5)
    assert expected_gap(lr, loss) == pytest.approx((0.5 / 2 + 1.0 / 2) / 2)
    with pytest.raises(DataError, match="trapezoid"):
        expected_gap(lr, loss, method="simpson")


def test_per_size_sensitivity_interval_and_trend_recover_the_exact_answer():
    """Three sizes whose curvature grows by 0.03 per decade, 4 seeds per learning rate: each sensitivity is the
    exact integral (within the upward bias of taking L* as the least noisy loss), the trend is
    0.03 x E[t^2] per decade, and over 10 sweeps the 90% intervals hold the exact values most of the time."""
    curv = {1e7: 0.05, 1e8: 0.08, 1e9: 0.11}
    exact = np.array([_exact(c) for c in curv.values()])
    trend = 0.03 * _exact(1.0)
    held, slope_held = 0, 0
    for seed in range(10):
        result = lr_sensitivity(_sweep(curv, 41, seeds=4, noise=0.005, seed=seed), initial_loss=10.8, n_boot=200)
        table = result.table
        np.testing.assert_allclose(table["sensitivity"], exact, rtol=0.03)
        assert result.slope == pytest.approx(trend, rel=0.06)
        held += int(((table["low"] < exact) & (exact < table["high"])).sum())
        slope_held += int(result.slope_low < trend < result.slope_high)
    # Resampling 4 seeds understates their spread (by (n-1)/n in variance): about 80% rather than 90%.
    assert held >= 0.7 * 30 and slope_held >= 0.7 * 10
    assert (np.abs(np.log(table["best_lr"] / BEST_LR)) < 0.2).all()  # within a grid step
    assert "within each learning rate" in result.method
    assert result.summary().startswith("LR sensitivity over 3 model sizes")


def test_sizes_share_one_range_and_a_sweep_without_seeds_says_what_its_interval_means():
    data = _sweep({1e7: 0.05, 1e8: 0.08})
    data = data[~((data["params"] == 1e8) & (data["lr"] < 3e-4))]  # the larger model's sweep starts later
    result = lr_sensitivity(data, initial_loss=10.8, n_boot=50)
    assert (result.table["lr_min"] > 2.9e-4).all()
    inner = (float(result.table["lr_min"][0]), RANGE[1])
    np.testing.assert_allclose(
        result.table["sensitivity"], [_exact(0.05, lr_range=inner), _exact(0.08, lr_range=inner)], rtol=2e-3
    )
    assert any("reflects the grid" in n for n in result.notes)
    # Runs without a loss (diverged) count as the initial loss, which must then be given.
    single = _sweep({1e7: 0.05})
    capped = lr_sensitivity(single, initial_loss=3.4, level=None).table["sensitivity"][0]
    single.loc[single["lr"] > 7e-2, "loss"] = np.nan
    diverged = lr_sensitivity(single, initial_loss=3.4, level=None)
    assert diverged.table["sensitivity"][0] == pytest.approx(capped, rel=1e-12)
    assert any("diverged" in n for n in diverged.notes)
    with pytest.raises(DataError, match="pass initial_loss"):
        lr_sensitivity(single, level=None)
    with pytest.raises(DataError, match="increasing positive"):
        lr_sensitivity(data, lr_range=(1e-2, 1e-3))


def test_cli_lr_sensitivity_json(tmp_path):
    path = tmp_path / "sweep.csv"
    _sweep({1e7: 0.05, 1e8: 0.08}, n_lrs=13, seeds=3, noise=0.01).to_csv(path, index=False)
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    args = [sys.executable, "-m", "scalelaw", "lr-sensitivity", str(path), "--initial-loss", "10.8"]
    proc = subprocess.run([*args, "--n-boot", "100", "--json"], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["level"] == 0.9 and data["size"] == "params" and len(data["sizes"]) == 2
    row = data["sizes"][0]
    assert row["low"] < row["sensitivity"] < row["high"]
    assert data["slope_per_decade"]["low"] < data["slope_per_decade"]["value"] < data["slope_per_decade"]["high"]
    # The table and the error path, in this process (typer's runner) to save a start-up.
    from typer.testing import CliRunner

    from scalelaw.cli import app

    text = CliRunner().invoke(app, [*args[3:], "--n-boot", "20"], env={"COLUMNS": "200"})
    assert text.exit_code == 0 and "LR sensitivity over 2 model sizes" in text.stdout, text.stdout
    bad = CliRunner().invoke(app, [*args[3:], "--lr-range", "1e-3"])
    assert bad.exit_code == 2 and "--lr-range takes two numbers" in bad.stderr
