"""Bootstrap by run, profile likelihood, prediction intervals, influence."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from scalelaw import DataError, FitError, fit, get_law
from scalelaw.trust.bootstrap import bootstrap
from scalelaw.trust.profile import profile

POWER_TRUTH = {"E": 1.7, "A": 2.0e3, "alpha": 0.15}


def checkpointed_power_data(seed: int, n_runs: int = 12, per_run: int = 6, run_sd: float = 0.01, noise: float = 0.002):
    """Runs at different compute scales, each with checkpoints that share a run-level offset (correlated)."""
    rng = np.random.default_rng(seed)
    law = get_law("power")
    scale = np.logspace(17, 21, n_runs)
    rows = []
    for i, c in enumerate(scale):
        offset = rng.normal(0, run_sd)
        flops = c * np.linspace(0.5, 1.0, per_run)
        y = law.predict(POWER_TRUTH, flops=flops) * np.exp(offset + rng.normal(0, noise, per_run))
        rows.append(pd.DataFrame({"run": f"r{i}", "flops": flops, "loss": y}))
    return pd.concat(rows, ignore_index=True)


@pytest.fixture(scope="module")
def power_fit():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit("power", checkpointed_power_data(0))


def test_bootstrap_is_reproducible_and_sized(power_fit):
    a = bootstrap(power_fit, n=100, seed=4)
    b = bootstrap(power_fit, n=100, seed=4)
    np.testing.assert_array_equal(a.samples, b.samples)
    assert a.n + a.n_failed == 100
    assert a.samples.shape[1] == 3
    assert len(a.jackknife) == 12  # one leave-one-run-out refit per run


def test_by_run_intervals_are_wider_than_by_row_on_correlated_checkpoints(power_fit):
    by_run = bootstrap(power_fit, n=300, by="run").interval(0.9, of="alpha")
    by_row = bootstrap(power_fit, n=300, by="row").interval(0.9, of="alpha")
    width = lambda t: float(t["high"].iloc[0] - t["low"].iloc[0])  # noqa: E731
    assert width(by_run) > 1.5 * width(by_row)


def test_intervals_bracket_the_estimate(power_fit):
    boot = bootstrap(power_fit, n=300)
    for method in ("percentile", "bca"):
        table = boot.interval(0.9, method=method)
        assert list(table["quantity"]) == ["E", "A", "alpha"]
        assert np.all(table["low"] <= table["estimate"]) and np.all(table["estimate"] <= table["high"])
    derived = boot.interval(0.8, of=lambda p: p["E"] + p["A"] * 1e22 ** -p["alpha"])
    assert derived["low"].iloc[0] < derived["estimate"].iloc[0] < derived["high"].iloc[0]


def test_prediction_intervals(power_fit):
    boot = bootstrap(power_fit, n=300)
    mean = boot.predict(flops=[1e20, 1e23], level=0.9)
    obs = boot.predict(flops=[1e20, 1e23], level=0.9, observation=True)
    assert list(mean.columns[:4]) == ["flops", "value", "low", "high"]
    assert np.all(mean["low"] < mean["value"]) and np.all(mean["value"] < mean["high"])
    # Wider further out, and wider again for a new measurement.
    rel = (mean["high"] - mean["low"]) / mean["value"]
    assert rel.iloc[1] > rel.iloc[0]
    # Inside the data the noise of a new measurement dominates the uncertainty of the law.
    assert (obs["high"] - obs["low"]).iloc[0] > (mean["high"] - mean["low"]).iloc[0]
    via_result = power_fit.predict_interval(flops=1e23, level=0.9, n_boot=300, kind="parameter")
    assert via_result["low"].iloc[0] == pytest.approx(mean["low"].iloc[1])
    assert via_result["interval_kind"].iloc[0] == "parameter"


def test_bootstrap_refuses_too_few_runs():
    data = checkpointed_power_data(1, n_runs=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = fit("power", data)
    with pytest.raises(FitError, match=r"only 5 runs to resample.*at least 8.*profile"):
        bootstrap(result, n=100)
    assert bootstrap(result, n=100, by="row").n > 0  # 30 rows is enough by row


def test_bootstrap_refuses_bad_arguments(power_fit):
    with pytest.raises(DataError, match="at least 10 replicates"):
        bootstrap(power_fit, n=3)
    with pytest.raises(DataError, match="between 0 and 1"):
        bootstrap(power_fit, n=50).interval(90)


def test_profile_intervals_bracket_estimates_and_agree_with_bootstrap_roughly(power_fit):
    table = profile(power_fit, level=0.9)
    assert list(table["quantity"]) == ["E", "A", "alpha"]
    assert np.all(table["low"] < table["estimate"]) and np.all(table["estimate"] < table["high"])
    boot = bootstrap(power_fit, n=400, by="run").interval(0.9, of="alpha")
    prof = table.set_index("quantity").loc["alpha"]
    # Both count runs, not checkpoints, as the independent evidence; widths agree within a factor of three.
    ratio = (prof["high"] - prof["low"]) / float(boot["high"].iloc[0] - boot["low"].iloc[0])
    assert 1 / 3 < ratio < 3


def test_by_run_bootstrap_covers_the_truth_about_as_often_as_it_says():
    """A small calibration guard (benchmarks/coverage.py has the full study): 30 simulated datasets,
    80% by-run intervals for alpha; coverage must stay within binomial noise of 80% (>= 0.6)."""
    hits = 0
    n_sim = 30
    for seed in range(n_sim):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = fit("power", checkpointed_power_data(100 + seed))
        ci = bootstrap(result, n=200, seed=seed).interval(0.8, of="alpha")
        hits += int(ci["low"].iloc[0] <= POWER_TRUTH["alpha"] <= ci["high"].iloc[0])
    assert hits / n_sim >= 0.6


def test_influence_flags_a_high_leverage_run():
    rng = np.random.default_rng(3)
    law = get_law("power")
    flops = np.logspace(17, 21, 15)
    y = law.predict(POWER_TRUTH, flops=flops) * np.exp(rng.normal(0, 0.002, 15))
    y[0] *= 1.08  # the smallest run is off: it tilts the exponent
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = fit(law, {"run": [f"r{i}" for i in range(15)], "flops": flops, "loss": y}, loss="squared")
    infl = result.influence()
    assert infl.table["run"].iloc[0] == "r0"
    assert "r0" in infl.flagged
    assert infl.target == {"flops": pytest.approx(1e22)}


def test_refit_without_flagged_drops_the_flagged_runs_and_says_so():
    from scalelaw.trust.influence import InfluenceCheck, refit_without_flagged

    rng = np.random.default_rng(3)
    flops = np.logspace(17, 21, 15)
    y = get_law("power").predict(POWER_TRUTH, flops=flops) * np.exp(rng.normal(0, 0.002, 15))
    y[0] *= 1.08
    runs = {"run": [f"r{i}" for i in range(15)], "flops": flops, "loss": y}
    weights = np.linspace(1.0, 2.0, 15)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = fit("power", runs, loss="squared", weights=weights)
        infl = result.influence()
        refit = refit_without_flagged(infl, "power", runs, loss="squared", weights=weights)
        keep = ~np.isin(runs["run"], infl.flagged)
        direct = fit("power", {k: np.asarray(v)[keep] for k, v in runs.items()}, loss="squared", weights=weights[keep])
    assert "r0" in infl.flagged and refit.n_runs == 15 - len(infl.flagged)
    assert refit.params == pytest.approx(direct.params, rel=1e-9)  # the weights were cut to the rows kept
    assert refit.notes[-1] == f"dropped {len(infl.flagged)} influential run(s): {', '.join(infl.flagged)}"
    check = InfluenceCheck(infl, result, refit)
    after = refit.predict(**infl.target)
    assert check.final is refit and check.prediction_after == after
    assert check.relative_change == pytest.approx(after / infl.prediction - 1)
    data = check.to_dict()
    assert list(data) == ["target", "prediction", "runs", "flagged", "off_law", "off_law_threshold", "dropped",
                          "prediction_after_drop", "relative_change", "params_before"]  # fmt: skip
    assert len(data["runs"]) == 10 and data["params_before"] == result.params and data["dropped"] == infl.flagged
    alone = InfluenceCheck(infl, result)
    assert alone.final is result and alone.prediction_after is None and alone.relative_change is None
    assert list(alone.to_dict(top=3)) == ["target", "prediction", "runs", "flagged", "off_law", "off_law_threshold"]
    assert len(alone.to_dict(top=3)["runs"]) == 3


def test_refit_without_flagged_is_none_when_nothing_stands_out(power_fit):
    from scalelaw.trust.influence import refit_without_flagged

    infl = power_fit.influence()
    assert infl.flagged == [] and refit_without_flagged(infl, "power", power_fit.data.columns) is None
