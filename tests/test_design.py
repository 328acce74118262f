"""Suggesting runs: target parsing, budget respected, the interval narrows, user candidates, data-constrained
laws, the default grid's reach, the exchange pass, calibration of poorly identified fits, cold start, CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import scalelaw
from scalelaw import DataError
from scalelaw.decisions.design import Target, candidate_grid, cold_start, suggest

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


def test_candidates_choose_among_the_users_runs(small_fit):
    """With ``candidates=`` only those runs (labels kept) are proposed, each at most once, within budget."""
    pool = pd.DataFrame(
        {
            "run": ["a", "b", "c", "d", "e", "f"],
            "params": [2e8, 4e8, 8e8, 8e8, 1.6e9, 3e8],
            "tokens": [4e9, 8e9, 1.6e10, 4e9, 3.2e10, 3e10],
        }
    )
    pool["flops"] = 6 * pool["params"] * pool["tokens"] * 1.1  # the user's own costs are used as given
    s = suggest(small_fit, "plan:flops=1e24", budget=2e20, candidates=pool, n_boot=0)
    assert set(s.runs["run"]) <= set(pool["run"]) and s.runs["run"].is_unique
    assert s.spent == pytest.approx(pool.set_index("run").loc[s.runs["run"], "flops"].sum())
    assert s.spent <= 2e20 and s.width_after < s.width_before


def test_bad_candidates(small_fit):
    with pytest.raises(DataError, match="tokens"):
        suggest(small_fit, "plan:flops=1e24", 1e20, candidates=pd.DataFrame({"params": [1e8]}), n_boot=0)
    with pytest.raises(DataError, match="rows"):
        bad = pd.DataFrame({"params": [1e8, -1.0], "tokens": [1e9, 1e9]})
        suggest(small_fit, "plan:flops=1e24", 1e20, candidates=bad, n_boot=0)
    with pytest.raises(DataError, match="max-flops-per-run"):
        ok = pd.DataFrame({"params": [1e9], "tokens": [1e10]})
        suggest(small_fit, "plan:flops=1e24", 1e20, candidates=ok, max_flops_per_run=1e10, n_boot=0)
    with pytest.raises(DataError):
        suggest(small_fit, "plan:flops=1e24", -1.0)


def test_default_grid_reaches_the_largest_affordable_run(small_fit):
    """Sizes run up to the model one run can afford at 2 tokens/param; IsoFLOP lines end at that compute."""
    grid = candidate_grid(small_fit, budget=1e21, max_flops_per_run=1e20)
    assert grid["params"].max() == pytest.approx(np.sqrt(1e20 / (6 * 2)), rel=1e-6)
    assert grid["flops"].max() == pytest.approx(1e20, rel=1e-6) and grid["flops"].max() <= 1e20 * (1 + 1e-9)
    ratio = grid["tokens"] / grid["params"]
    assert ratio.min() <= 2 and ratio.max() >= 1024


def test_data_constrained_with_unique_token_pool():
    """Laws with inputs beyond N and D: a fixed pool of unique tokens, or a candidate column."""
    law = scalelaw.get_law("data_constrained")
    truth = {"E": 1.87, "A": 521.0, "B": 1488.0, "alpha": 0.353, "beta": 0.353, "R_D_star": 15.4, "R_N_star": 5.3}
    N, U, ep = np.meshgrid(np.geomspace(3e7, 3e8, 4), [1e9, 1e10], [1, 4, 16])
    cols = {"params": N.ravel(), "tokens": (U * ep).ravel(), "unique_tokens": U.ravel()}
    rng = np.random.default_rng(1)
    y = law.predict(truth, **cols) * np.exp(rng.normal(0, 0.005, N.size))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = scalelaw.fit(law, {"run": np.arange(N.size), **cols, "loss": y})
    target = "predict:params=8.7e9,tokens=1.78e11,unique_tokens=2.5e10"
    s = suggest(fit, target, budget=1e20, unique_tokens=2.5e10, n_boot=0, max_runs=4)
    assert not s.runs.empty and s.spent <= 1e20
    assert np.all(s.runs["unique_tokens"] == np.minimum(2.5e10, s.runs["tokens"]))
    pool = pd.DataFrame({"params": [5e8, 1e9, 1e9], "tokens": [1e10, 2e10, 8e10], "unique_tokens": [1e10, 2e10, 1e10]})
    s = suggest(fit, target, budget=1e21, candidates=pool, n_boot=0)
    assert set(s.runs["unique_tokens"]) <= {1e10, 2e10}
    s = suggest(fit, "plan:flops=1e22", budget=1e20, unique_tokens=2.5e10, n_boot=0, max_runs=3)
    assert s.width_after < s.width_before


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(budget=st.floats(3e18, 3e20), max_runs=st.integers(1, 6))
def test_exchange_never_worse_and_within_budget(small_fit, budget, max_runs):
    """Property: the exchange pass keeps the budget and never leaves a wider forecast than greedy alone."""
    kw = {"budget": budget, "max_runs": max_runs, "n_boot": 0}
    greedy = suggest(small_fit, "plan:flops=1e24", exchange=False, **kw)
    best = suggest(small_fit, "plan:flops=1e24", **kw)
    assert best.spent <= budget * (1 + 1e-9) and len(best.runs) <= max_runs
    assert best.width_after <= greedy.width_after * (1 + 1e-9)


def test_calibration_never_shrinks_widths(small_fit):
    """A poorly identified fit's bootstrap is narrower than its ridge-inflated linearization; the forecast
    must not be shrunk by that ratio (it made forecasts 10-100x too narrow on gadre2024)."""
    s = suggest(small_fit, "plan:flops=1e24", 1e20, n_boot=60)
    assert s.calibration >= 1.0
    assert any("pin down" in n for n in s.notes) == bool(small_fit.status.not_identifiable)


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


# ----------------------------------------------------------------------------------------- total interval
PREDICT_FAR = "predict:params=3e9,tokens=6e10"  # 2.7 decades of compute beyond the small ladder


def _one_run(params: float, tokens: float) -> pd.DataFrame:
    return pd.DataFrame({"params": [params], "tokens": [tokens]})


def test_total_forecast_is_wider_beyond_the_data_and_parameter_is_unchanged(small_fit):
    options = dict(budget=3e20, n_boot=60, n_prior=8, misfit=None)
    total = suggest(small_fit, PREDICT_FAR, **options)
    parameter = suggest(small_fit, PREDICT_FAR, kind="parameter", **options)
    assert total.kind == "total" and parameter.kind == "parameter"
    assert total.decades_before == pytest.approx(np.log10(6 * 3e9 * 6e10 / (6 * 1e8 * 8e9)))
    assert total.width_before > parameter.width_before and total.width_after > parameter.width_after
    # Same runs (the choice is the parameter criterion), and per run the total is the wider.
    pd.testing.assert_frame_equal(
        total.runs.drop(columns="relative_width_after"), parameter.runs.drop(columns="relative_width_after")
    )
    assert np.all(total.runs["relative_width_after"] > parameter.runs["relative_width_after"])
    assert total.to_dict()["interval_kind"] == "total" and parameter.to_dict()["decades_beyond_data"]["before"] is None


def test_parameter_kind_is_the_old_forecast(small_fit):
    """kind="parameter" is the linearized width rescaled to the bootstrap, as the forecast always was."""
    import math

    from scalelaw.decisions import design

    z = float(design.stats.norm.ppf(0.95))
    g = design.Target.parse(PREDICT_FAR).function()
    law = small_fit.law
    sets = np.array([small_fit.values])
    grads = design._target_gradients(law, law.to_internal(sets), g)
    cols = {n: small_fit.data.columns[n] for n in law.inputs}
    cov = np.linalg.inv(design.information(design.row_jacobians(law, sets, cols), design.noise_variance(small_fit)))
    var = float(design._target_var(cov, grads)[0])
    # With n_boot=0 the only parameter set is the fit's and the calibration is 1.
    s = suggest(small_fit, PREDICT_FAR, budget=1e20, n_boot=0, misfit=None, kind="parameter")
    assert s.calibration == 1.0 and s.kind == "parameter" and math.isnan(s.decades_after)
    assert s.width_before == pytest.approx(math.expm1(2 * z * math.sqrt(var)), rel=1e-12)
    assert not any(n.startswith("total interval") for n in s.notes)
    # With nothing beyond the parameters the width is the old formula to the last bit.
    for v, c in [(1e-6, 1.0), (4e-4, 1.3), (0.02, 2.5)]:
        assert design._relative_width(v, z, c) == math.expm1(2 * z * math.sqrt(v) * c)


def test_a_run_that_moves_the_edge_toward_the_target_shrinks_the_total_more(small_fit):
    options = dict(budget=1e21, n_boot=40, n_prior=4, misfit=None)
    inside = _one_run(5e7, 2e9)  # within the ladder's compute: the edge stays
    beyond = _one_run(6e8, 1.2e10)  # 1.6 decades of compute past the edge, toward the target

    def half(width: float) -> float:  # half-width on the log scale of a relative width high/low - 1
        return float(np.log1p(width)) / 2

    law_part, edge_benefit = {}, {}
    for name, pool in (("inside", inside), ("beyond", beyond)):
        total = suggest(small_fit, PREDICT_FAR, candidates=pool, **options)
        parameter = suggest(small_fit, PREDICT_FAR, candidates=pool, kind="parameter", **options)
        assert len(total.runs) == len(parameter.runs) == 1
        moved = total.decades_before - total.decades_after
        assert moved == pytest.approx(0.0 if name == "inside" else np.log10(6 * 6e8 * 1.2e10 / (6 * 1e8 * 8e9)))
        # The law-error part now, and after the run: (total half-width)^2 - (parameter half-width)^2.
        before = np.sqrt(half(total.width_before) ** 2 - half(parameter.width_before) ** 2)
        after = np.sqrt(half(total.width_after) ** 2 - half(parameter.width_after) ** 2)
        law_part[name] = (before, after)
        # What the parameter forecast alone would promise for the total: its narrower band, the law error unmoved.
        unmoved = np.hypot(half(parameter.width_after), before)
        edge_benefit[name] = unmoved - half(total.width_after)
    assert law_part["inside"][0] > 0.02 and law_part["inside"][1] == pytest.approx(law_part["inside"][0], rel=1e-6)
    assert law_part["beyond"][1] < 0.8 * law_part["beyond"][0]
    assert edge_benefit["inside"] == pytest.approx(0.0, abs=1e-9) and edge_benefit["beyond"] > 0.005


def test_plan_targets_and_bad_kinds(small_fit):
    s = suggest(small_fit, "plan:flops=1e23", budget=1e20, n_boot=0, misfit=None)
    assert s.kind == "parameter" and any("compute-optimal size" in n for n in s.notes)
    with pytest.raises(DataError, match="interval kind"):
        suggest(small_fit, PREDICT_FAR, budget=1e20, n_boot=0, kind="bogus")


def test_cli_suggest_interval_kind(small_fit, tmp_path):
    path = tmp_path / "fit.json"
    small_fit.save(path)
    cmd = [sys.executable, "-m", "scalelaw", "suggest", str(path), "--budget", "1e20", "--target", PREDICT_FAR]
    runs = {}
    for extra in ([], ["--interval-kind", "parameter"]):
        proc = subprocess.run([*cmd, "--misfit", "none", "--json", *extra], capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        runs[tuple(extra)] = json.loads(proc.stdout)
    total, parameter = runs[()], runs[("--interval-kind", "parameter")]
    assert total["interval_kind"] == "total" and parameter["interval_kind"] == "parameter"
    assert total["relative_width_before"] > parameter["relative_width_before"]
    assert total["decades_beyond_data"]["before"] > 2 and parameter["decades_beyond_data"]["before"] is None
    shown = subprocess.run([*cmd, "--misfit", "none"], capture_output=True, text=True, timeout=300)
    assert shown.returncode == 0 and "total interval" in shown.stdout
    bad = subprocess.run([*cmd, "--interval-kind", "bogus"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "--interval-kind" in bad.stderr and "Traceback" not in bad.stderr
