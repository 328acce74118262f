"""The law's error beyond the data: rolling backtests, the scale model, and the total interval."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pandas as pd
import pytest

import scalelaw
from scalelaw.errors import DataError, LawError
from scalelaw.trust.extrapolation_error import (
    PRIOR_CUTS,
    PRIOR_SLOPE,
    axis_values,
    fit_drift,
    fit_scale,
    learn,
    rolling_errors,
    widen,
)


def _quiet_fit(law, data, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return scalelaw.fit(law, data, **kwargs)


@pytest.fixture(scope="module")
def gadre():
    return _quiet_fit("chinchilla", "dataset:gadre2024_rpj")


def _ladder(truth, seed=0, n=60, sigma=0.01):
    """A Chinchilla-style ladder of n runs whose loss follows ``truth(N, D)`` with log-normal noise."""
    rng = np.random.default_rng(seed)
    N = np.exp(rng.uniform(np.log(1e7), np.log(3e9), n))
    D = N * np.exp(rng.uniform(np.log(5), np.log(200), n))
    loss = truth(N, D) * np.exp(rng.normal(0, sigma, n))
    return pd.DataFrame({"run": [f"r{i}" for i in range(n)], "params": N, "tokens": D, "loss": loss})


def chinchilla_truth(N, D):
    # Epoch AI's replication of Hoffmann et al. 2022 (laws.md §15.11).
    return 1.8172 + 482.01 / N**0.3478 + 2085.43 / D**0.3658


def kaplan_truth(N, D):
    # Kaplan et al. 2020, eq. 1.5: no irreducible loss, so Chinchilla's form bends away from it at scale.
    return ((8.8e13 / N) ** (0.076 / 0.095) + 5.4e13 / D) ** 0.095


def test_rolling_cuts_hold_out_whole_runs_at_the_top_of_compute(gadre):
    points = rolling_errors(gadre)
    assert list(points.columns) == ["cut", "row", "run", "decades", "log_error", "explained_var", "origin"]
    assert sorted(points["cut"].unique()) == [0.1, 0.2, 0.3, 0.4, 0.5]
    _, compute = axis_values(gadre.law, gadre.data.columns)
    runs = np.asarray(gadre.data.run)
    for cut, part in points.groupby("cut"):
        held = set(part["run"])
        # every checkpoint of a held-out run is held out, and every held-out run out-computes every training run
        assert set(part["row"]) == set(np.flatnonzero(np.isin(runs, list(held))))
        assert compute[part["row"]].min() >= compute[~np.isin(runs, list(held))].max()
        assert (part["decades"] >= 0).all() and len(held) >= math.ceil(cut * 35) - 1
    assert (points["explained_var"] > 0).all()


def test_model_summary_and_json(gadre):
    model = learn(gadre)
    assert model is not None and model.n_cuts == 5 and model.df == PRIOR_CUTS + 5 and model.axis == "compute"
    data = model.to_dict()
    json.dumps(data, allow_nan=False)
    assert data["checked_decades"] == pytest.approx(model.max_decades) and model.max_decades > 3
    assert "5 rolling backtests along compute" in model.summary()
    assert model.to_frame().equals(model.points)
    assert len(repr(model)) < 120


def test_error_grows_with_distance_and_is_zero_inside_the_data(gadre):
    model = gadre.extrapolation_error()
    assert gadre.extrapolation_error() is model  # learned once per fit
    h = model.halfwidth([-1.0, 0.0, 0.5, 1.0, 2.0, 4.0], 0.9)
    assert h[0] == h[1] == 0.0 and np.all(np.diff(h[2:]) > 0)
    assert model.halfwidth(1.0, 0.95) > model.halfwidth(1.0, 0.9) > model.halfwidth(1.0, 0.8)
    # the expected error passes 1% before 2%, and both are consistent with expected_error
    r1, r2 = model.reach(0.01), model.reach(0.02)
    assert 0 <= r1 < r2 < math.inf
    assert model.expected_error(r2 + 1e-9) >= 0.02 - 1e-9


def _curve(law_name, params, seed=0):
    """Loss against compute, 1e16-1e21 FLOPs, following a catalog law with 1% log-normal noise."""
    flops = np.geomspace(1e16, 1e21, 30)
    law = scalelaw.get_law(law_name)
    loss = law.predict(params, flops=flops) * np.exp(np.random.default_rng(seed).normal(0, 0.01, flops.size))
    return {"flops": flops, "loss": loss}


def test_a_misspecified_law_learns_a_larger_error_than_the_true_one():
    # A power law fitted to a power law, and to Alabdulmohsin et al.'s M4 curve, which keeps bending.
    exact = learn(_quiet_fit("power", _curve("power", {"E": 1.8, "A": 2e3, "alpha": 0.15})))
    m4 = {"L_inf": 1.8, "L0": 6.0, "beta": 3e4, "c": -0.25, "alpha": 0.6}
    wrong = learn(_quiet_fit("power", _curve("m4", m4)))
    assert exact.n_cuts == wrong.n_cuts == 5
    assert wrong.slope_var > 100 * max(exact.slope_var, 1e-8)  # the data speak, not the prior
    assert wrong.scale(1.0) > exact.scale(1.0)
    # the exact law's posterior growth is below the prior's: the backtests pulled it down
    assert exact.variances()[1] < PRIOR_SLOPE**2


def test_fit_scale_recovers_known_variances():
    rng = np.random.default_rng(3)
    rows = []
    for cut in np.linspace(0.1, 0.5, 40):  # many cuts, so the estimate is tight
        d = rng.uniform(0, 2, 30)
        e = rng.normal(0, np.sqrt(1e-4 + 0.02**2 + 0.03**2 * d**2))
        rows.append(
            pd.DataFrame(
                {"cut": cut, "row": np.arange(30), "run": "x", "decades": d, "log_error": e, "explained_var": 1e-4}
            )
        )
    floor, slope = fit_scale(pd.concat(rows, ignore_index=True))
    assert math.sqrt(floor) == pytest.approx(0.02, rel=0.15)
    assert math.sqrt(slope) == pytest.approx(0.03, rel=0.15)


def test_without_usable_cuts_the_prior_alone_speaks():
    data = {"flops": np.geomspace(1e18, 1e21, 4), "loss": [3.0, 2.8, 2.7, 2.65]}
    model = learn(_quiet_fit("power", data))  # 4 runs: no cut leaves twice the law's 3 parameters
    assert model.n_cuts == 0 and model.df == PRIOR_CUTS and model.points.empty
    assert model.scale(2.0) == pytest.approx(PRIOR_SLOPE * 2.0)


def test_widen_adds_in_quadrature_per_side():
    low, high = widen(
        np.array([2.0]), np.array([2.0 * math.exp(-0.03)]), np.array([2.0 * math.exp(0.01)]), np.array([0.04])
    )
    assert math.log(2.0 / low[0]) == pytest.approx(0.05) and math.log(high[0] / 2.0) == pytest.approx(
        math.hypot(0.01, 0.04)
    )


def test_total_interval_contains_the_parameter_interval_and_says_how(gadre):
    band = gadre.predict_interval(params=[1e8, 7e10], tokens=[2e9, 1.4e12], n_boot=60)
    assert list(band["interval_kind"]) == ["total", "total"]
    assert (band["low"] <= band["parameter_low"]).all() and (band["high"] >= band["parameter_high"]).all()
    inside, far = band.iloc[0], band.iloc[1]
    assert inside["decades"] < 0 and inside["extrapolation_halfwidth"] == 0.0
    assert far["decades"] > 1.5 and far["extrapolation_halfwidth"] > 0 and not far["beyond_checked"]
    assert (band["law_choice_halfwidth"] == 0).all()  # one law, no choice
    param = gadre.predict_interval(params=7e10, tokens=1.4e12, n_boot=60, kind="parameter")
    assert param["interval_kind"].iloc[0] == "parameter" and "decades" not in param
    assert param["high"].iloc[0] - param["low"].iloc[0] < far["high"] - far["low"]


def test_a_bad_interval_kind_is_a_clear_error(gadre):
    with pytest.raises(DataError, match="interval kind must be one of total, parameter"):
        gadre.predict_interval(params=1e9, tokens=2e10, n_boot=20, kind="honest")


def test_fits_without_data_or_of_schedule_laws_cannot_be_backtested(gadre):
    import dataclasses

    with pytest.raises(LawError, match="carries no data"):
        learn(dataclasses.replace(gadre, data=None))


def test_the_total_interval_covers_more_often_under_misspecification():
    """A small simulation (the full study is benchmarks/calibration.py): Kaplan-shaped truth, Chinchilla fit,
    the top 20% of compute held out. The parameter interval misses the bend; the total interval should not."""
    covered = {"parameter": 0, "total": 0}
    n = 0
    for seed in range(4):
        frame = _ladder(kaplan_truth, seed=seed)
        compute = frame["params"] * frame["tokens"]
        held = compute >= compute.quantile(0.8)
        fit = _quiet_fit("chinchilla", frame[~held])
        for kind in covered:
            band = fit.predict_interval(frame[held][["params", "tokens"]], n_boot=60, kind=kind, observation=True)
            inside = (frame[held]["loss"].to_numpy() >= band["low"]) & (frame[held]["loss"].to_numpy() <= band["high"])
            covered[kind] += int(inside.sum())
        n += int(held.sum())
    assert covered["total"] >= covered["parameter"] and covered["total"] / n >= 0.85


# ------------------------------------------------------------------------------------------ drifting bias
def _cut_points(biases, origins, rows_per_cut=6, seed=0, noise=0.002):
    """Backtest points of cuts whose rows scatter around ``biases`` (one per cut) at ``origins``."""
    rng = np.random.default_rng(seed)
    parts = []
    for k, (b, o) in enumerate(zip(biases, origins, strict=True)):
        parts.append(
            pd.DataFrame(
                {
                    "cut": 0.1 * (k + 1),
                    "row": np.arange(rows_per_cut) + 10 * k,
                    "run": [f"r{k}_{i}" for i in range(rows_per_cut)],
                    "decades": np.linspace(0.05, 0.6, rows_per_cut),
                    "log_error": b + rng.normal(0, noise, rows_per_cut),
                    "explained_var": 1e-4,
                    "origin": o,
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def test_fit_drift_recovers_a_planted_trend_and_ignores_noise():
    origins = 21.0 - 0.3 * np.arange(1, 6)  # cut 0.1 nearest the edge at 21.0
    trend = -0.08 + 0.05 * (origins - 21.0)  # each cut nearer the top misses further below
    a, g = fit_drift(_cut_points(trend, origins), edge=21.0)
    assert a == pytest.approx(-0.08, abs=2e-3) and g == pytest.approx(0.05, abs=5e-3)
    rng = np.random.default_rng(1)
    assert fit_drift(_cut_points(rng.normal(0, 0.03, 5), origins, noise=0.03), edge=21.0) == (0.0, 0.0)
    assert fit_drift(_cut_points(trend[:2], origins[:2]), edge=21.0) == (0.0, 0.0)  # two cuts: no trend
    old = _cut_points(trend, origins).assign(origin=np.nan)  # a model read from a file saved before origins
    assert fit_drift(old, edge=21.0) == (0.0, 0.0)


def test_widen_moves_only_the_end_the_drift_points_to():
    value, low, high = np.array([2.0, 2.0]), np.array([1.9, 1.9]), np.array([2.1, 2.1])
    half = np.array([0.05, 0.05])
    plain_low, plain_high = widen(value, low, high, half)
    lo, hi = widen(value, low, high, half, np.array([-0.1, 0.1]))
    # negative drift: the law under-predicts, the truth lies above: the high end reaches out by exp(0.1)
    assert hi[0] == pytest.approx(plain_high[0] * math.exp(0.1)) and lo[0] == pytest.approx(plain_low[0])
    assert lo[1] == pytest.approx(plain_low[1] * math.exp(-0.1)) and hi[1] == pytest.approx(plain_high[1])


def test_porian_last_layer_flops_drift_is_learned_and_widens_the_side_it_points_to():
    # Porian et al. 2024, "Counting last layer FLOPs": Chinchilla's law fitted to the small runs under-predicts
    # the large ones more the further the cut (benchmarks/calibration.py: the held-out error reaches -13%).
    porian = scalelaw.datasets.load("porian2024_all")
    frame = porian[porian["experiment"] == "Counting last layer FLOPs"][["params", "tokens", "loss"]].dropna()
    frame = frame.reset_index(drop=True).assign(run=lambda f: [f"r{i}" for i in range(len(f))])
    fit = _quiet_fit("chinchilla", frame)
    model = fit.extrapolation_error()
    assert model.drift_at_edge < -0.05 and "under-predict" in model.summary()
    assert model.drift(0.0) == 0.0 and model.drift(1.0) < model.drift_at_edge  # grows beyond the edge
    band = fit.predict_interval(params=7e9, tokens=1.4e11, n_boot=40)
    row = band.iloc[0]
    assert row["extrapolation_drift"] < 0
    up, down = math.log(row["high"] / row["value"]), math.log(row["value"] / row["low"])
    assert up > down  # the interval reaches out above: where the runs beyond the data have landed
    assert model.reach(0.02) == 0.0  # its noise alone (sd 5%) is past 2%


def test_reach_counts_the_drift(gadre):
    import dataclasses

    model = gadre.extrapolation_error()
    drifting = dataclasses.replace(model, drift_at_edge=0.004, drift_per_decade=0.006)
    assert 0 < drifting.reach(0.02) < model.reach(0.02)
    for m in (model, drifting):
        assert m.expected_error(m.reach(0.02)) == pytest.approx(0.02, rel=1e-9)


def test_a_drift_free_model_keeps_its_old_record(gadre):
    from scalelaw.fitting.uncertainty import extrapolation_record
    from scalelaw.trust.extrapolation_error import from_record

    model = gadre.extrapolation_error()
    record = extrapolation_record(model)
    again = from_record(record)
    assert (again.drift_at_edge, again.drift_per_decade) == (model.drift_at_edge, model.drift_per_decade)
    del record["drift"], record["points"]["origin"]  # as written before the drift existed
    old = from_record(record)
    assert (old.drift_at_edge, old.drift_per_decade) == (0.0, 0.0) and old.points["origin"].isna().all()
    json.dumps(extrapolation_record(old), allow_nan=False)  # strict JSON again: missing origins are null
