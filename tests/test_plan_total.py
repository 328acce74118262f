"""Plans inherit the honest interval: the law's error beyond the data and the law choice join the bootstrap."""

from __future__ import annotations

import dataclasses
import json
import math
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest

import scalelaw
from scalelaw.decisions.inference import inference_optimal
from scalelaw.decisions.plan import (
    compare,
    compute_for_loss,
    compute_optimal,
    data_limited,
    optimum,
    parameter_sets,
)
from scalelaw.errors import DataError
from scalelaw.trust.extrapolation_error import widen

N_BOOT = 200


@pytest.fixture(scope="module")
def base_fit():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return scalelaw.fit("chinchilla", "dataset:gadre2024_rpj")


@pytest.fixture(scope="module")
def auto_fit():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return scalelaw.fit("auto", "dataset:gadre2024_rpj")


def _pair(fit, fn, *args, **kwargs):
    return tuple(fn(fit, *args, level=0.9, n_boot=N_BOOT, kind=kind, **kwargs) for kind in ("parameter", "total"))


def test_total_loss_interval_beyond_the_data_contains_the_parameter_one(base_fit):
    parameter, total = _pair(base_fit, compute_optimal, [1e20, 1e24])
    assert (parameter.interval_kind, total.interval_kind) == ("parameter", "total")
    p, t = parameter.table, total.table
    # The law's error joins the loss only: N*, D* of a fit without a law choice are the bootstrap's.
    for q in ("params_opt", "tokens_opt", "tokens_per_param"):
        pd.testing.assert_series_equal(p[f"{q}_low"], t[f"{q}_low"])
        pd.testing.assert_series_equal(p[f"{q}_high"], t[f"{q}_high"])
    pd.testing.assert_series_equal(p["loss_opt"], t["loss_opt"])  # the point estimate stays
    far = 1  # 1e24 FLOPs: 2.1 decades beyond the data
    # Never narrower than the parameter interval: the skewed bootstrap's low end stays where it was here.
    assert t["loss_opt_low"][far] <= p["loss_opt_low"][far] < p["loss_opt_high"][far] < t["loss_opt_high"][far]
    width = np.log(t["loss_opt_high"] / t["loss_opt_low"]) / np.log(p["loss_opt_high"] / p["loss_opt_low"])
    assert width[far] > 1.15 and width[far] > width[0]


def test_parameter_kind_is_the_plain_bootstrap(base_fit):
    plan = compute_optimal(base_fit, 1e24, level=0.9, n_boot=N_BOOT, kind="parameter")
    theta = parameter_sets(base_fit, 0.9, N_BOOT, 0)
    loss = optimum(base_fit.law, theta, 1e24)["loss"][1:]
    row = plan.table.iloc[0]
    # Equal up to the last bit (the plan's replicates and these are computed by separate calls; one ulp apart on
    # some optima), as for the flops below.
    expected_loss = np.quantile(loss, [0.05, 0.95])
    assert [row["loss_opt_low"], row["loss_opt_high"]] == pytest.approx(expected_loss, rel=1e-14)
    target = compute_for_loss(base_fit, 2.3, level=0.9, n_boot=N_BOOT, kind="parameter").table.iloc[0]
    flops = base_fit.law.closed_form("compute_for_loss")(theta, 2.3, 6.0)[0][1:]
    flops = flops[np.isfinite(flops)]
    expected = np.quantile(flops, [0.05, 0.95])  # the same numbers up to the last bit of np.quantile's arithmetic
    assert [target["flops_low"], target["flops_high"]] == pytest.approx(expected, rel=1e-14)
    assert plan.method == "bootstrap by run (n=200), percentile"


def test_total_intervals_are_reproducible_per_seed(base_fit):
    one = compute_for_loss(base_fit, 2.2, level=0.9, n_boot=N_BOOT, seed=3)
    two = compute_for_loss(base_fit, 2.2, level=0.9, n_boot=N_BOOT, seed=3)
    other = compute_for_loss(base_fit, 2.2, level=0.9, n_boot=N_BOOT, seed=4)
    pd.testing.assert_frame_equal(one.table, two.table)
    assert one.table["flops_high"].iloc[0] != other.table["flops_high"].iloc[0]
    assert one.table["flops"].iloc[0] == other.table["flops"].iloc[0]


def test_compute_for_a_target_widens_and_solves_the_shifted_curve(base_fit):
    parameter, total = _pair(base_fit, compute_for_loss, 2.2)
    p, t = parameter.table.iloc[0], total.table.iloc[0]
    assert p["flops"] == t["flops"]
    assert t["flops_low"] <= p["flops_low"] and p["flops_high"] < t["flops_high"]
    # Each replicate's answer lies on its shifted curve: re-derive one replicate by hand.
    err_model = base_fit.extrapolation_error()
    theta = parameter_sets(base_fit, 0.9, N_BOOT, 0)
    rng = np.random.default_rng([0, 0x5CA1E, 0])
    z = rng.standard_t(err_model.df, size=theta.shape[0])
    u = rng.uniform(size=theta.shape[0])  # how much of the drifting bias each replicate's truth carries
    from scalelaw.decisions.plan import _compute_on_shifted
    from scalelaw.decisions.plan_error import plan_error

    err = plan_error(base_fit, "total", 0.9, theta.shape[0], 0)
    C, N, D = _compute_on_shifted(base_fit, theta[1:], err.sets(slice(1, None)), 2.2, 6.0, {})
    s = int(np.flatnonzero(np.isfinite(C))[0])
    decades = math.log10(
        6 * N[s] * D[s] / (6 * base_fit.data.columns["params"] * base_fit.data.columns["tokens"]).max()
    )
    loss = optimum(base_fit.law, theta[[s + 1]], float(C[s]))["loss"][0]
    shift = z[s + 1] * float(err_model.scale(decades)) - u[s + 1] * float(err_model.drift(decades))
    assert loss * math.exp(shift) == pytest.approx(2.2, rel=1e-9)


def test_a_plan_beyond_the_backtests_says_so(base_fit):
    checked = base_fit.extrapolation_error().max_decades
    plan = compute_optimal(base_fit, [1e22, 1e27], level=0.9, n_boot=50)
    notes = [n for n in plan.notes if "backtests checked" in n]
    assert len(notes) == 1 and notes[0].startswith("1e+27 FLOPs is 5.1 decades beyond the data")
    assert f"checked up to {checked:.1f}" in notes[0]
    assert "total intervals" in plan.summary() and plan.to_dict()["interval_kind"] == "total"
    assert not compute_optimal(base_fit, 1e22, level=0.9, n_boot=50).notes


def test_no_error_model_falls_back_to_the_parameter_interval(base_fit):
    boot = base_fit.bootstrap(n=50, seed=0)  # a fit saved without its data still plans with a bootstrap
    no_data = dataclasses.replace(base_fit, data=None, extrapolation=None)
    plan = compute_optimal(no_data, 1e24, level=0.9, boot=boot)
    assert plan.interval_kind == "parameter" and "parameter intervals" in plan.notes[0]
    same = compute_optimal(base_fit, 1e24, level=0.9, boot=boot, kind="parameter")
    pd.testing.assert_frame_equal(plan.table, same.table)
    assert compute_optimal(base_fit, 1e24).interval_kind is None
    with pytest.raises(DataError, match="interval kind"):
        compute_optimal(base_fit, 1e24, level=0.9, kind="bogus")


def test_law_choice_widens_the_allocation(auto_fit):
    choice = auto_fit.law_choice
    parameter, total = _pair(auto_fit, compute_optimal, 1e24)
    p, t = parameter.table.iloc[0], total.table.iloc[0]
    # The expected widening: the weighted spread of the candidates' N* around the chosen law's, times t.
    logs, weights = [], []
    for name, (law, values) in choice.candidates.items():
        if choice.weights[name] > 0:
            logs.append(math.log(optimum(law, np.array([values]), 1e24)["params"][0]))
            weights.append(choice.weights[name])
    spread = math.sqrt(np.average((np.array(logs) - math.log(p["params_opt"])) ** 2, weights=weights))
    assert spread > 0.01
    h = auto_fit.extrapolation_error().multiplier(0.9) * spread
    low, high = widen(*(np.array([p[f"params_opt{s}"]]) for s in ("", "_low", "_high")), np.array([h]))
    assert t["params_opt_low"] == pytest.approx(low[0], rel=1e-9)
    assert t["params_opt_high"] == pytest.approx(high[0], rel=1e-9)
    assert t["params_opt_low"] < p["params_opt_low"] and p["params_opt_high"] < t["params_opt_high"]
    assert total.method.endswith("with the law's error beyond the data and the choice of law")
    assert "choice of law" not in parameter.method


def test_inference_and_data_limited_plans_take_the_kind(base_fit):
    parameter, total = _pair(base_fit, inference_optimal, 1e13, flops=1e24)
    p, t = parameter.table.iloc[0], total.table.iloc[0]
    assert p["params_opt"] == t["params_opt"] and total.interval_kind == "total"
    # The law's error shifts each replicate's target loss: wider, and the parameter band stays inside.
    assert p["total_flops_high"] < t["total_flops_high"]
    assert t["total_flops_high"] / t["total_flops_low"] > p["total_flops_high"] / p["total_flops_low"]
    for q in ("params_opt", "tokens_opt", "train_flops", "total_flops"):
        assert t[f"{q}_low"] <= p[f"{q}_low"] <= p[q] <= p[f"{q}_high"] <= t[f"{q}_high"]
    law = scalelaw.get_law("data_constrained")
    truth = {"E": 1.87, "A": 521.0, "B": 1488.0, "alpha": 0.353, "beta": 0.353, "R_D_star": 15.387, "R_N_star": 5.309}
    fit = dataclasses.replace(
        base_fit,
        law=law,
        values=tuple(truth[n] for n in law.param_names),
        std_errors=dict.fromkeys(law.param_names, math.nan),  # another law: its own (unknown) standard errors
        extrapolation=base_fit.extrapolation_error(),
    )
    theta = np.vstack([np.array([fit.values])] * 20)
    with pytest.MonkeyPatch.context() as mp:  # replicates equal to the point: only the law's error remains
        mp.setattr("scalelaw.decisions.plan.replicate_sets", lambda *a, **k: (theta, False))
        plan = data_limited(fit, 1e24, 1e10, level=0.9, kind="total").table.iloc[0]
        flat = data_limited(fit, 1e24, 1e10, level=0.9, kind="parameter").table.iloc[0]
    assert flat["loss_opt_low"] == flat["loss_opt"] == flat["loss_opt_high"]
    assert plan["loss_opt_low"] < plan["loss_opt"] < plan["loss_opt_high"]
    assert plan["epochs_low"] == plan["epochs"] == plan["epochs_high"]


def test_replicates_that_never_reach_the_target_leave_the_band_open_above(base_fit):
    """A replicate whose floor lies above the target needs unbounded compute: it counts as +inf, so a band of
    the survivors alone (biased low: it once excluded the point estimate) is never reported."""
    target = base_fit.values[base_fit.law.param_names.index("E")] * 1.01  # 1% above the floor: 30% cannot
    need = compute_for_loss(base_fit, target, level=0.9, n_boot=N_BOOT, kind="parameter")
    serve = inference_optimal(base_fit, 1e13, target_loss=target, level=0.9, n_boot=N_BOOT, kind="parameter")
    for result, q in ((need, "flops"), (serve, "total_flops")):
        row = result.table.iloc[0]
        share = float(result.notes[0].split("%")[0]) / 100
        assert share > 0.05 and "unbounded" in result.notes[0]
        assert row[f"{q}_low"] <= row[q] < row[f"{q}_high"] == math.inf
        assert result.to_dict()["table"][0][f"{q}_high"] is None  # JSON: null, and the note says why
    # tokens per parameter has no value for them: with more than 5% unknown, its 90% band is unknown too.
    assert math.isnan(serve.table["tokens_per_param_low"].iloc[0])


def test_compare_reads_crossovers_off_shifted_curves():
    law = scalelaw.get_law("power")
    flops = np.logspace(18, 21, 12)
    noise = np.exp(np.random.default_rng(0).normal(0, 0.004, (2, flops.size)))
    # B starts worse but improves faster: the two cross at 1e23, two decades beyond both ladders.
    a = {"E": 1.5, "A": 1e3, "alpha": 0.15}
    b = {"E": 1.5, "A": 1e3 * 1e23 ** (0.2 - 0.15), "alpha": 0.2}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fa = scalelaw.fit(law, {"flops": flops, "loss": law.predict(a, flops=flops) * noise[0]})
        fb = scalelaw.fit(law, {"flops": flops, "loss": law.predict(b, flops=flops) * noise[1]})
    parameter, total = _pair(fa, compare, fb, [1e20, 1e24], search=(1e17, 1e28))
    assert (parameter.interval_kind, total.interval_kind) == ("parameter", "total")
    assert parameter.crossovers == total.crossovers and 1e22 < total.crossovers[0] < 1e24
    # The interval is over the pairs that cross in the searched range; with the law's errors on both curves an
    # early crossing becomes possible, and fewer pairs cross at all (the share says how many).
    (p_low, _), (t_low, t_high) = parameter.crossover_interval, total.crossover_interval
    assert t_low < p_low < total.crossovers[0] < t_high
    assert total.crossover_share < parameter.crossover_share
    p, t = parameter.table, total.table
    pd.testing.assert_series_equal(p["multiplier"], t["multiplier"])
    for q in ("loss_a", "loss_b", "multiplier"):  # a total band never lies inside its parameter band
        assert (t[f"{q}_low"] <= p[f"{q}_low"]).all() and (p[f"{q}_high"] <= t[f"{q}_high"]).all()
    for q in ("loss_a", "loss_b"):
        assert t[f"{q}_low"][0] == p[f"{q}_low"][0]  # 1e20 FLOPs is inside the data: no law error there
        assert t[f"{q}_low"][1] < p[f"{q}_low"][1] and p[f"{q}_high"][1] < t[f"{q}_high"][1]
    assert total.to_dict()["interval_kind"] == "total" and "total interval" in total.summary()


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "scalelaw", *args], capture_output=True, text=True, timeout=300)


def test_cli_plan_and_compare_name_the_interval_kind(base_fit, tmp_path):
    path = tmp_path / "fit.json"
    base_fit.save(path)
    common = ("plan", str(path), "--flops", "1e24", "--interval", "0.9", "--n-boot", "100", "--json")
    default = json.loads(_cli(*common).stdout)
    parameter = json.loads(_cli(*common, "--interval-kind", "parameter").stdout)
    assert (default["interval_kind"], parameter["interval_kind"]) == ("total", "parameter")
    assert default["loss_opt"]["high"] > parameter["loss_opt"]["high"]
    assert default["params_opt"] == parameter["params_opt"]
    far = json.loads(_cli("plan", str(path), "--flops", "1e27", "--interval", "0.9", "--n-boot", "50", "--json").stdout)
    assert any("backtests checked" in note for note in far["notes"])
    text = _cli("plan", str(path), "--flops", "1e27", "--interval", "0.9", "--n-boot", "50")
    assert text.returncode == 0 and "90% total intervals" in text.stdout and "backtests checked" in text.stdout
    bad = _cli("plan", str(path), "--flops", "1e24", "--interval-kind", "bogus")
    assert bad.returncode == 2 and "--interval-kind" in bad.stderr
    args = ("compare", str(path), str(path), "--flops", "1e24", "--interval", "0.9", "--n-boot", "50", "--json")
    assert json.loads(_cli(*args, "--interval-kind", "parameter").stdout)["interval_kind"] == "parameter"
    shown = _cli(*args[:-1])
    assert shown.returncode == 0 and "90% total intervals" in shown.stdout
    assert _cli("compare", str(path), str(path), "--interval-kind", "bogus").returncode == 2
