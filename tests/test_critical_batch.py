"""The critical batch size (Kaplan et al. 2020 sec. 5.1; McCandlish et al. 2018): steps to a target loss,
recovery of known ``B_*`` and ``alpha_B`` from loss curves drawn from McCandlish's model
(``S = S_min(L) (1 + B_crit(L)/B)``), interval coverage and the command line. Kaplan's published numbers are
checked in tests/reference/test_kaplan_batch.py.
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

from law_case import quiet_fit
from scalelaw import get_law
from scalelaw.decisions.critical_batch import (
    KAPLAN_ALPHA_B,
    KAPLAN_B_STAR,
    critical_batch_size,
    fit_critical_batch,
    simulate_batch_sweep,
    steps_to_target,
)
from scalelaw.errors import DataError

# ------------------------------------------------------------------------------------------ steps to a target


def test_steps_to_target_interpolates_on_log_loss():
    steps = np.arange(0.0, 1001.0, 10.0)
    curve = pd.DataFrame({"run": "a", "step": steps, "batch_size": 64.0, "loss": 5.0 * np.exp(-steps / 100.0)})
    got = steps_to_target(curve, [4.0, 1.0, 1e-5, 6.0])
    # log loss is linear in the step here, so the interpolation is exact.
    np.testing.assert_allclose(got["steps"][:2], 100 * np.log(5.0 / np.array([4.0, 1.0])), rtol=1e-12)
    np.testing.assert_allclose(got["examples"][:2], 64 * got["steps"][:2], rtol=1e-12)
    assert got["steps"][2:].isna().all()  # never reached; already below at the first checkpoint


def test_a_noisy_curve_crosses_at_its_running_minimum():
    curve = pd.DataFrame({"run": "a", "step": [1.0, 2, 3, 4], "batch_size": 8.0, "loss": [4.0, 2.0, 3.0, 1.0]})
    assert steps_to_target(curve, [2.5])["steps"][0] == pytest.approx(1 + np.log(4 / 2.5) / np.log(2))


# ------------------------------------------------------------------------------------------ recovery


def test_recovers_known_critical_batch_from_mccandlish_curves():
    """Noise-free curves: B_* and alpha_B come back to within the interpolation error (< 1%)."""
    truth = {"B_star": 3e8, "alpha_B": 0.25}
    fitted = fit_critical_batch(simulate_batch_sweep(**truth), n_boot=50)
    assert fitted.B_star == pytest.approx(truth["B_star"], rel=0.01)
    assert fitted.alpha_B == pytest.approx(truth["alpha_B"], rel=0.002)
    assert fitted.table["used"].all() and (fitted.table["n_batches"] >= 8).all()
    np.testing.assert_allclose(fitted.table["b_crit"], critical_batch_size(fitted.table["target"], **truth), rtol=0.02)


def test_noisy_curves_cover_the_truth_and_convert_runs_to_minimum_steps():
    sweep = simulate_batch_sweep(noise=0.003, seed=3)
    fitted = fit_critical_batch(sweep, tokens="tokens", n_boot=300, seed=1)
    assert fitted.unit == "tokens"
    assert fitted.B_star_low < KAPLAN_B_STAR < fitted.B_star_high
    assert fitted.alpha_B_low < KAPLAN_ALPHA_B < fitted.alpha_B_high
    assert fitted.B_star == pytest.approx(KAPLAN_B_STAR, rel=0.2)
    # Every run's S_min at a loss is the model's S_min(L) = S_c / (L - floor)^(1/alpha_S).
    late = sweep[(sweep["loss"] < 3.6) & (sweep["loss"] > 3.2)]
    converted = fitted.minimum(late)
    expected = 2.1e3 / (converted["loss"] - 2.8) ** (1 / 0.76)
    np.testing.assert_allclose(converted["s_min"], expected, rtol=0.15)
    assert (converted["s_min_low"] <= converted["s_min"]).all() and (
        converted["s_min"] <= converted["s_min_high"]
    ).all()
    assert (converted["e_min_low"] <= converted["e_min"]).all() and (
        converted["e_min"] <= converted["e_min_high"]
    ).all()
    band = fitted.b_crit_interval([3.0, 2.5])
    assert (band["low"] < band["b_crit"]).all() and (band["b_crit"] < band["high"]).all()


def test_intervals_hold_the_truth_about_as_often_as_they_say():
    """20 noisy sweeps of 10 runs: the 90% by-run intervals of B_* and alpha_B hold the truth in most of them
    (85-90% in a 40-sweep simulation at 0.1-1% noise; docs/batch_size.md)."""
    held = np.zeros(2)
    for seed in range(20):
        fitted = fit_critical_batch(
            simulate_batch_sweep(noise=0.003, seed=seed), tokens="tokens", n_boot=200, seed=seed
        )
        held += [
            fitted.B_star_low < KAPLAN_B_STAR < fitted.B_star_high,
            fitted.alpha_B_low < KAPLAN_ALPHA_B < fitted.alpha_B_high,
        ]
    assert (held >= 15).all(), held


def test_kaplan_constants_come_back_through_the_whole_pipeline():
    """Curves of 4 model sizes x 5 batch sizes drawn from Kaplan's B_crit(L) (eq. 5.3) and L(N, S_min) (Table 3)
    with 0.2% noise: fit B_crit with one hyperbola per model and target, convert every checkpoint to S_min, fit
    ``kaplan_steps``, and Kaplan's constants come back."""
    table3 = {"N_c": 6.5e13, "S_c": 2.1e3, "alpha_N": 0.077, "alpha_S": 0.76}
    frames = []
    for N in np.logspace(6, 9, 4):
        floor = (table3["N_c"] / N) ** table3["alpha_N"]
        sweep = simulate_batch_sweep(
            2.0 ** np.arange(14, 24, 2), loss_floor=floor, n_checkpoints=60, noise=0.002, seed=int(np.log10(N))
        )
        frames.append(sweep.assign(run=f"N{N:.0e}-" + sweep["run"], params=N))
    curves = pd.concat(frames, ignore_index=True)
    fitted = fit_critical_batch(curves, tokens="tokens", n_boot=200)
    assert set(fitted.table["params"]) == set(np.logspace(6, 9, 4))  # a hyperbola per model and target
    assert fitted.alpha_B_low < KAPLAN_ALPHA_B < fitted.alpha_B_high and fitted.alpha_B == pytest.approx(0.21, rel=0.02)
    assert fitted.B_star_low < KAPLAN_B_STAR < fitted.B_star_high and fitted.B_star == pytest.approx(2e8, rel=0.1)
    late = fitted.minimum(curves[(curves["loss"] < 0.8 * np.log(50257)) & (curves["step"] >= 1000)])
    law = quiet_fit(get_law("kaplan_steps"), late[["run", "step", "params", "s_min", "loss"]])
    assert law.params["alpha_S"] == pytest.approx(0.76, rel=0.02)
    assert law.params["S_c"] == pytest.approx(2.1e3, rel=0.05)
    assert law.params["alpha_N"] == pytest.approx(0.077, rel=0.02)


def test_batch_in_sequences_with_a_tokens_column_gives_b_crit_in_tokens():
    sweep = simulate_batch_sweep()
    in_sequences = sweep.assign(batch_size=sweep["batch_size"] / 1024)
    fitted = fit_critical_batch(in_sequences, tokens="tokens", level=None)
    assert fitted.B_star == pytest.approx(KAPLAN_B_STAR, rel=0.01)
    assert fitted.level is None and math.isnan(fitted.B_star_low)
    assert fit_critical_batch(in_sequences, level=None).B_star == pytest.approx(KAPLAN_B_STAR / 1024, rel=0.01)


def test_clear_errors():
    sweep = simulate_batch_sweep(batch_sizes=[2.0**15, 2.0**20])
    with pytest.raises(DataError, match="at >= 3 batch sizes"):
        fit_critical_batch(sweep)
    mixed = simulate_batch_sweep()
    second = mixed["run"] == "B32768"
    mixed.loc[second, "run"], mixed.loc[second, "step"] = "B16384", mixed.loc[second, "step"] + 0.5
    with pytest.raises(DataError, match="B16384 change 'batch_size' along the curve"):
        fit_critical_batch(mixed)
    with pytest.raises(DataError, match="target losses"):
        fit_critical_batch(simulate_batch_sweep(), targets=[3.0])


def test_few_runs_give_a_point_estimate_with_a_note():
    fitted = fit_critical_batch(simulate_batch_sweep(batch_sizes=2.0 ** np.arange(15, 21)), n_boot=50)
    assert fitted.level is None and any("no bootstrap interval" in n for n in fitted.notes)
    assert fitted.alpha_B == pytest.approx(KAPLAN_ALPHA_B, rel=0.01)


# ------------------------------------------------------------------------------------------ command line


def _cli(*args: str, cwd=None) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "scalelaw", *args], capture_output=True, text=True, env=env, timeout=300, cwd=cwd
    )


def test_cli_critical_batch_json(tmp_path):
    path = tmp_path / "sweep.csv"
    simulate_batch_sweep(noise=0.003, seed=2).to_csv(path, index=False)
    proc = _cli("critical-batch", str(path), "--tokens", "tokens", "--at", "3", "--n-boot", "100", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["level"] == 0.9 and data["unit"] == "tokens"
    B, alpha = data["B_star"], data["alpha_B"]
    assert B["low"] < B["value"] < B["high"] and alpha["low"] < alpha["value"] < alpha["high"]
    assert alpha["value"] == pytest.approx(0.21, rel=0.05)
    assert len(data["targets"]) == 8 and {"b_crit", "b_crit_low", "b_crit_high"} <= set(data["targets"][0])
    assert data["at"][0]["loss"] == 3.0 and data["at"][0]["low"] < data["at"][0]["high"]
    # The tables and the error path, in this process (typer's runner) to save a start-up.
    from typer.testing import CliRunner

    from scalelaw.cli import app

    text = CliRunner().invoke(app, ["critical-batch", str(path), "--n-boot", "20"], env={"COLUMNS": "200"})
    assert text.exit_code == 0 and "B_crit(L) = B_* / L^(1/alpha_B)" in text.stdout and "Per target loss" in text.stdout
    bad = CliRunner().invoke(app, ["critical-batch", str(path), "--targets", "3"])
    assert bad.exit_code == 2 and "target losses" in bad.stderr
