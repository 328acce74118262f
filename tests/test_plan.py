"""Planning: allocation oracles, target compute, inference-aware, data-limited, crossover, CLI."""

from __future__ import annotations

import dataclasses
import json
import math
import subprocess
import sys
import warnings

import numpy as np
import pytest

import scalelaw
from scalelaw import FitError, LawError, get_law
from scalelaw.decisions.inference import inference_optimal
from scalelaw.decisions.plan import (
    compare,
    compute_for_loss,
    compute_optimal,
    data_limited,
    optimum,
    plan_records,
)

# laws.md §3.1 (Hoffmann 2022 rounded and TeX-unrounded; Besiroglu 2024 refit).
ROUNDED = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}
TEX = {
    "E": math.exp(0.5267228),
    "A": math.exp(6.0073404),
    "B": math.exp(6.0179186),
    "alpha": 0.33917084,
    "beta": 0.2849083,
}
EPOCH = {"E": 1.8172, "A": 482.01, "B": 2085.43, "alpha": 0.3478, "beta": 0.3658}


@pytest.fixture(scope="module")
def base_fit():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return scalelaw.fit("chinchilla", "dataset:gadre2024_rpj")


def with_values(fit, values, law=None):
    law = law or fit.law
    se = fit.std_errors if law is fit.law else dict.fromkeys(law.param_names, math.nan)  # another law: none
    return dataclasses.replace(fit, law=law, values=tuple(values[n] for n in law.param_names), std_errors=se)


@pytest.mark.parametrize(
    ("constants", "n_opt", "d_opt", "ratio", "loss"),
    [
        (ROUNDED, 3.2190e10, 2.9823e12, 92.65, 1.9307),
        (TEX, 4.0361e10, 2.3785e12, 58.93, 1.9184),
        (EPOCH, 7.2249e10, 1.3287e12, 18.39, 1.9744),
    ],
)
def test_compute_optimal_oracles_at_chinchilla_budget(base_fit, constants, n_opt, d_opt, ratio, loss):
    """laws.md §15.1: Chinchilla compute-optimal allocation at C = 5.76e23 with C = 6ND."""
    row = compute_optimal(with_values(base_fit, constants), 5.76e23).table.iloc[0]
    assert row["params_opt"] == pytest.approx(n_opt, rel=1e-4)
    assert row["tokens_opt"] == pytest.approx(d_opt, rel=1e-4)
    assert row["tokens_per_param"] == pytest.approx(ratio, rel=1e-3)
    assert row["loss_opt"] == pytest.approx(loss, abs=1e-4)


def test_allocation_versus_budget_oracles(base_fit):
    """laws.md §15.3: rounded vs Epoch constants from 1e21 to 1e25 FLOPs."""
    budgets = [1e21, 1e22, 1e23, 1e24, 1e25]
    rounded = compute_optimal(with_values(base_fit, ROUNDED), budgets).table
    epoch = compute_optimal(with_values(base_fit, EPOCH), budgets).table
    np.testing.assert_allclose(rounded["params_opt"], [1.824e9, 5.160e9, 1.460e10, 4.130e10, 1.168e11], rtol=1e-3)
    np.testing.assert_allclose(rounded["tokens_per_param"], [50.08, 62.58, 78.21, 97.73, 122.12], rtol=1e-3)
    np.testing.assert_allclose(epoch["params_opt"], [2.778e9, 9.045e9, 2.945e10, 9.586e10, 3.121e11], rtol=1e-3)
    np.testing.assert_allclose(epoch["tokens_per_param"], [21.59, 20.37, 19.22, 18.14, 17.11], rtol=1e-3)


def test_datablations_c4_allocation(base_fit):
    """ORACLES.md §2 (datablations notebook cell 8): tied C4 fit, N_opt and D_opt at 5.76e23."""
    a, b, e, alpha = 6.255414, 7.3049974, 0.6254804, 0.3526596
    c4 = {"E": math.exp(e), "A": math.exp(a), "B": math.exp(b), "alpha": alpha, "beta": alpha}
    row = compute_optimal(with_values(base_fit, c4), 5.76e23).table.iloc[0]
    assert row["params_opt"] == pytest.approx(69962173313.52132, rel=1e-6)
    assert row["tokens_opt"] == pytest.approx(1372170066384.2363, rel=1e-6)


def test_numeric_optimum_matches_closed_form(base_fit):
    law = scalelaw.Law.from_expression("E + A/params**alpha + B/tokens**beta")
    chin = get_law("chinchilla")
    sets = (EPOCH, ROUNDED)
    closed = optimum(chin, np.array([[c[n] for n in chin.param_names] for c in sets]), 1e23)
    numeric = optimum(law, np.array([[c[n] for n in law.param_names] for c in sets]), 1e23)
    np.testing.assert_allclose(numeric["params"], closed["params"], rtol=1e-6)
    np.testing.assert_allclose(numeric["loss"], closed["loss"], rtol=1e-10)


def test_compute_for_loss_inverts_the_frontier(base_fit):
    fit = with_values(base_fit, EPOCH)
    target = compute_optimal(fit, 3e22).table["loss_opt"].iloc[0]
    row = compute_for_loss(fit, target).table.iloc[0]
    assert row["flops"] == pytest.approx(3e22, rel=1e-8)
    # The numeric path (an expression law) agrees.
    law = scalelaw.Law.from_expression("E + A/params**alpha + B/tokens**beta")
    numeric = compute_for_loss(with_values(base_fit, EPOCH, law), target).table.iloc[0]
    assert numeric["flops"] == pytest.approx(3e22, rel=1e-5)
    with pytest.raises(FitError, match="never reaches loss"):
        compute_for_loss(fit, 1.5)


@pytest.mark.parametrize(
    ("d_inf", "n", "d_tr", "total"),
    [
        (0.0, 3.2190e10, 2.9823e12, 5.7600e23),
        (1e12, 2.7849e10, 3.4706e12, 6.3563e23),
        (1e13, 1.7416e10, 6.3653e12, 1.0135e24),
        (1e14, 9.5872e9, 2.0820e13, 3.1151e24),
    ],
)
def test_inference_aware_oracles(base_fit, d_inf, n, d_tr, total):
    """laws.md §15.9 (Sardana & Frankle 2023 with Chinchilla's rounded constants)."""
    row = inference_optimal(with_values(base_fit, ROUNDED), d_inf, flops=5.76e23).table.iloc[0]
    assert row["params_opt"] == pytest.approx(n, rel=2e-4)
    assert row["tokens_opt"] == pytest.approx(d_tr, rel=2e-4)
    assert row["total_flops"] == pytest.approx(total, rel=2e-4)


def test_intervals_bracket_point_estimates(base_fit):
    table = compute_optimal(base_fit, [1e21, 1e23], level=0.9, n_boot=200).table
    for q in ("params_opt", "tokens_opt", "loss_opt"):
        assert np.all(table[f"{q}_low"] <= table[q]) and np.all(table[q] <= table[f"{q}_high"])


def test_data_limited_needs_the_data_constrained_law(base_fit):
    with pytest.raises(LawError, match="unique_tokens"):
        data_limited(base_fit, 1e21, 1e10)
    law = get_law("data_constrained")
    truth = {"E": 1.87, "A": 521.0, "B": 1488.0, "alpha": 0.353, "beta": 0.353, "R_D_star": 15.387, "R_N_star": 5.309}
    fit = with_values(base_fit, truth, law)
    scarce = data_limited(fit, 1e22, 1e9).table.iloc[0]
    plenty = data_limited(fit, 1e22, 1e13).table.iloc[0]
    assert scarce["epochs"] > 4 and plenty["epochs"] < 1
    assert scarce["loss_opt"] > scarce["loss_if_fresh"]
    assert plenty["loss_opt"] == pytest.approx(plenty["loss_if_fresh"], rel=1e-9)
    assert scarce["half_value_epochs"] == pytest.approx(1 + 15.387 * math.log(2))


def test_compare_identical_fits_has_multiplier_one_and_no_crossover(base_fit):
    result = compare(base_fit, base_fit, [1e21, 1e23])
    np.testing.assert_allclose(result.table["multiplier"], 1.0, rtol=1e-3)


def test_compare_finds_a_planted_crossover(base_fit):
    law = get_law("power")
    flops = np.logspace(18, 22, 10)
    # B starts worse but improves faster: the two cross at 1e20 exactly.
    a = {"E": 1.5, "A": 1e3, "alpha": 0.15}
    b = {"E": 1.5, "A": 1e3 * 1e20 ** (0.2 - 0.15), "alpha": 0.2}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fa = scalelaw.fit(law, {"flops": flops, "loss": law.predict(a, flops=flops)})
        fb = scalelaw.fit(law, {"flops": flops, "loss": law.predict(b, flops=flops)})
    result = compare(fa, fb, [1e22], search=(1e16, 1e26))
    assert len(result.crossovers) == 1
    assert result.crossovers[0] == pytest.approx(1e20, rel=0.01)
    assert result.table["multiplier"].iloc[0] > 1  # B is better beyond the crossover


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "scalelaw", *args], capture_output=True, text=True, timeout=300)


def test_cli_plan_json_keys(base_fit, tmp_path):
    path = tmp_path / "fit.json"
    with_values(base_fit, EPOCH).save(path)
    proc = _cli("plan", str(path), "--flops", "5.76e23", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["params_opt"]["value"] == pytest.approx(7.2249e10, rel=1e-4)
    assert data["tokens_opt"]["value"] == pytest.approx(1.3287e12, rel=1e-4)
    assert data["loss_opt"]["value"] == pytest.approx(1.9744, abs=1e-4)
    proc = _cli("plan", str(path), "--flops", "1e22", "--interval", "0.9", "--n-boot", "100", "--json")
    data = json.loads(proc.stdout)
    assert {"value", "low", "high"} <= set(data["params_opt"])
    proc = _cli("plan", str(path), "--json")
    assert proc.returncode == 2 and "--flops" in proc.stderr


def test_cli_compare(base_fit, tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    with_values(base_fit, ROUNDED).save(a)
    with_values(base_fit, EPOCH).save(b)
    proc = _cli("compare", str(a), str(b), "--flops", "1e22", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert "crossovers" in data and data["budgets"][0]["multiplier"]["value"] > 0


def test_plan_records_measure_the_proposed_run_against_the_data(base_fit):
    plan = compute_optimal(base_fit, [1e20, 1e24])
    with pytest.warns(scalelaw.trust.ExtrapolationWarning):
        records = plan_records(base_fit, plan, max_decades=1.0)
    assert [{k: v for k, v in r.items() if k != "extrapolation"} for r in records] == plan.to_records()
    distance = scalelaw.trust.extrapolation.distance(
        base_fit, {"params": plan.table["params_opt"], "tokens": plan.table["tokens_opt"]}
    )
    assert [r["extrapolation"]["decades_compute"] for r in records] == pytest.approx(distance["decades_compute"])
    assert records[0]["extrapolation"]["decades_compute"] < 0 < records[1]["extrapolation"]["decades_compute"]
    target = compute_for_loss(base_fit, 2.5)
    assert "extrapolation" in plan_records(base_fit, target)[0]
    no_data = plan_records(dataclasses.replace(base_fit, data=None), plan)
    assert no_data == plan.to_records()


def test_a_crossing_exactly_on_a_grid_point_is_found():
    """Two fits of noise-free data can differ by exactly 0.0 at a grid budget: no strict sign change there."""
    from scalelaw.decisions.plan import _crossings

    grid = np.array([1e18, 1e19, 1e20, 1e21])
    assert _crossings(grid, np.array([[1.0, 0.0, -1.0, -2.0], [1.0, 0.0, 0.0, -1.0], [1.0, 0.5, 0.0, 1.0]])) == [
        [1e19],
        [],  # equal over a stretch: no single crossing point
        [],  # a touch without crossing
    ]
