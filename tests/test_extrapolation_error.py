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
    assert list(points.columns) == ["cut", "row", "run", "decades", "log_error", "explained_var"]
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
