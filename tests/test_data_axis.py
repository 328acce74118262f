"""Data-axis laws and analyses: pruning (Sorscher 2022), pool mixes (Goyal 2024), repeated data (Hernandez 2022).

Recovery tests draw synthetic runs from known laws; the references are Goyal et al.'s published pool parameters
run through their released formula, and Hernandez et al.'s headline statement checked on Kaplan's published L(N).
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pytest

from law_case import quiet_fit
from scalelaw import get_law
from scalelaw.errors import DataError
from scalelaw.topics.data_pools import best_pool_mix, fit_pools, mix_error
from scalelaw.topics.pruning import pareto_frontier, prune
from scalelaw.topics.repeated_data import effective_params, repeated_damage

# Goyal et al. 2024, T-MARS pools of DataComp medium (top 0-10%, 10-20%, 20-30%, 30-40%): utility b and half-life
# tau from locuslab/scaling_laws_data_filtering, results/parameter_values.jsonl, id "tmars_imagenet1k_utility"
# (a = 0.025 shared, d = 0.1; 12.8M samples per pool, estimate_best_pool.py's default).
GOYAL_B = (-0.16, -0.125, -0.1, -0.085)
GOYAL_TAU = (6.7272727272727275, 8.545454545454547, 5.2727272727272725, 2.2727272727272725)
GOYAL_POOLS = [
    {"pool": f"top{10 * (i + 1)}", "size": 12.8e6, "b": b, "tau": t}
    for i, (b, t) in enumerate(zip(GOYAL_B, GOYAL_TAU, strict=True))
]
# Kaplan et al. 2020 L(N) = (N_c / N)^alpha_N, alpha_N = 0.076, N_c = 8.8e13 (docs/laws.md §15.4).
KAPLAN_N = {"N_c": 8.8e13, "alpha_N": 0.076}


def kaplan_loss(n):
    return (KAPLAN_N["N_c"] / np.asarray(n, dtype=np.float64)) ** KAPLAN_N["alpha_N"]


@functools.cache
def _pruning_runs() -> pd.DataFrame:
    """Keep fraction 1: a power law over raw counts 1e3..1e9; keep fraction 0.3: exponential over 2 decades."""
    rng = np.random.default_rng(0)
    n = np.geomspace(1e3, 1e9, 14)
    full = pd.DataFrame({"examples": n, "error": (0.02 + 5 * n**-0.3) * np.exp(rng.normal(0, 0.01, 14))})
    m = np.geomspace(3e4, 3e6, 14)
    kept = pd.DataFrame({"examples": m, "error": (0.02 + 0.5 * np.exp(-m / 1e6)) * np.exp(rng.normal(0, 0.01, 14))})
    return pd.concat([full.assign(keep_fraction=1.0), kept.assign(keep_fraction=0.3)], ignore_index=True)


# ---------------------------------------------------------------------------------------------- pruning


def test_exponential_law_converges_on_raw_counts():
    """The issue's failure: E + A exp(-k x) on raw counts ran to A ~ 6e29. The catalog law keeps A an error."""
    x = np.geomspace(1e6, 1e8, 20)
    y = (0.03 + 0.4 * np.exp(-x / 3e7)) * np.exp(np.random.default_rng(1).normal(0, 0.003, x.size))
    result = quiet_fit("exponential", {"examples": x, "loss": y})
    assert result.status.converged and not result.status.at_bound
    assert result.params["scale"] == pytest.approx(3e7, rel=0.05)
    assert result.params["A"] == pytest.approx(0.4, rel=0.05)
    # On power-law data over six decades the exponential fit stays finite and interpretable too.
    runs = _pruning_runs()
    full = runs[runs["keep_fraction"] == 1.0]
    wrong = quiet_fit("exponential", {"examples": full["examples"], "loss": full["error"]})
    assert wrong.params["A"] < 10 and 1e3 < wrong.params["scale"] < 1e9


def test_prune_tells_exponential_from_power_per_keep_fraction():
    study = prune(_pruning_runs(), n_boot=60)
    assert study.verdict(0.3) == "exponential" and study.verdict(1.0) == "power"
    rows = study.to_frame().set_index("keep_fraction")
    power, fast = rows.loc["1"], rows.loc["0.3"]
    assert power["alpha_low"] <= 0.3 <= power["alpha_high"]
    assert fast["rate_low"] <= 1e-6 <= fast["rate_high"]
    # The backtest on the largest points is what separates them: the wrong shape misses by far more.
    assert fast["backtest_power"] > 10 * fast["backtest_exponential"]
    assert power["backtest_exponential"] > 10 * power["backtest_power"]
    assert "exponential" in study.summary().splitlines()[0]
    # The Pareto frontier across the two fractions is studied too: the best error at each kept size.
    front = pareto_frontier(_pruning_runs(), "examples", "error")
    assert rows.loc["frontier", "n_points"] == len(front) and front["keep_fraction"].nunique() == 2
    for _, point in front.iterrows():
        fewer = _pruning_runs()[_pruning_runs()["examples"] <= point["examples"]]
        assert point["error"] == fewer["error"].min()


def test_prune_narrow_span_is_flagged_and_bad_input_is_refused():
    n = np.geomspace(1e5, 2e5, 10)
    study = prune({"examples": n, "error": 0.1 + n**-0.5}, n_boot=0)
    assert "decades" in study.table["warning"].iloc[0]
    few = np.geomspace(1e3, 1e7, 6)  # too few runs to resample: profile-likelihood intervals instead
    small = prune({"examples": few, "error": 0.02 + 3 * few**-0.3 * (1 + 0.01 * np.sin(few))}, n_boot=20).table
    assert small["interval_method"].iloc[0] == "profile"
    assert small["alpha_low"].iloc[0] < small["alpha"].iloc[0] < small["alpha_high"].iloc[0]
    with pytest.raises(DataError, match="needs column"):
        prune({"examples": n, "loss": n}, n_boot=0)
    with pytest.raises(DataError, match=r"fractions of the data kept"):
        prune({"examples": n, "error": n, "keep_fraction": np.full(10, 2.0)}, n_boot=0)
    with pytest.raises(DataError, match="at least 6"):
        prune({"examples": n[:4], "error": n[:4]}, n_boot=0)


# ---------------------------------------------------------------------------------------------- Goyal pools


def test_goyal_published_pools_reproduce_the_released_formula():
    """Goyal et al. 2024 (CVPR), Fig. 1/5's FADU curves: ImageNet zero-shot accuracy of the top-k T-MARS pools.

    Published parameters (results/parameter_values.jsonl, "tmars_imagenet1k_utility") through the authors'
    estimate_best_pool.py (effective-utility aggregation, 12.8M samples per pool) give these accuracies (1 - error)
    for the top 10, 20, 30 and 40% pools at 32M, 64M, 128M and 640M samples; we match all 16 to 6 digits, and the
    paper's message: the top 10% is best at small budgets, adding lower-quality pools wins at large ones.
    """
    released = [
        [0.182471, 0.158361, 0.134221, 0.116774],
        [0.246210, 0.233014, 0.203980, 0.179889],
        [0.287290, 0.296000, 0.267660, 0.241281],
        [0.311758, 0.385524, 0.375648, 0.351359],
    ]
    mix = best_pool_mix(GOYAL_POOLS, [32e6, 64e6, 128e6, 640e6], a=0.025, d=0.1)
    accuracy = 1 - mix.to_frame()["error"].to_numpy().reshape(4, 4)
    np.testing.assert_allclose(accuracy, released, atol=5e-7)
    assert mix.best()["mix"].tolist() == ["top10", "top10", "top10+top20", "top10+top20"]
    # One pool alone is the catalog law repetition_utility at the same parameters.
    law = get_law("repetition_utility")
    one = law.predict({"a": 0.025, "b": -0.16, "tau": GOYAL_TAU[0], "d": 0.1}, samples=[64e6], pool_size=[12.8e6])
    assert one[0] == pytest.approx(mix_error([-0.16], [GOYAL_TAU[0]], [12.8e6], 64e6, 0.025, 0.1)[0], rel=1e-12)


def test_fit_pools_recovers_utility_and_half_life_with_intervals():
    law = get_law("repetition_utility")
    rng = np.random.default_rng(0)
    frames = []
    for name, b, tau in zip(("top10", "top20", "top30"), GOYAL_B[:3], GOYAL_TAU[:3], strict=True):
        n = 4e6 * np.geomspace(0.25, 40, 12)
        y = law.predict({"a": 0.025, "b": b, "tau": tau, "d": 0.1}, samples=n, pool_size=np.full(12, 4e6))
        frames.append(
            pd.DataFrame({"pool": name, "samples": n, "pool_size": 4e6, "error": y * np.exp(rng.normal(0, 0.003, 12))})
        )
    params, reps = fit_pools(pd.concat(frames), d=0.1, n_boot=60)
    np.testing.assert_allclose(params["b"], GOYAL_B[:3], rtol=0.05)
    np.testing.assert_allclose(params["tau"], GOYAL_TAU[:3], rtol=0.15)
    mix = best_pool_mix(params, [2e7, 4e8], replicates=reps)
    table = mix.to_frame()
    assert (table["low"] <= table["error"]).all() and (table["error"] <= table["high"]).all()
    assert np.allclose(table.groupby("budget")["share_best"].sum(), 1.0)
    truth = best_pool_mix([{**p, "size": 4e6} for p in GOYAL_POOLS[:3]], [2e7, 4e8], a=0.025, d=0.1)
    assert mix.best()["mix"].tolist() == truth.best()["mix"].tolist()


def test_pool_tables_are_checked():
    with pytest.raises(DataError, match="need column"):
        best_pool_mix([{"pool": "x", "size": 1e6, "b": -0.1}], [1e7], a=0.02, d=0.1)
    with pytest.raises(DataError, match="b < 0"):
        best_pool_mix([{"pool": "x", "size": 1e6, "b": 0.1, "tau": 3}], [1e7], a=0.02, d=0.1)
    with pytest.raises(DataError, match="budgets"):
        best_pool_mix(GOYAL_POOLS, [-1.0], a=0.02, d=0.1)


# ---------------------------------------------------------------------------------------------- Hernandez


def test_repeated_damage_reads_the_headline_as_a_2x_smaller_model():
    """Hernandez et al. 2022 (arXiv:2205.10487, abstract): "performance of an 800M parameter model can be degraded
    to that of a 2x smaller model (400M params) by repeating 0.1% of the data 100 times".

    On Kaplan's published L(N) as the unique-data baseline, an 800M run whose loss is L(400M) must come out as a
    400M-equivalent model: size ratio 0.5, inside its bootstrap interval.
    """
    rng = np.random.default_rng(0)
    n = np.geomspace(1e7, 1e10, 8)
    base = pd.DataFrame(
        {"params": n, "loss": kaplan_loss(n) * np.exp(rng.normal(0, 0.002, 8)), "repeated_fraction": 0.0}
    )
    hurt = pd.DataFrame({"params": [8e8, 8e8], "loss": kaplan_loss([4e8, 8e8]), "repeated_fraction": [0.001, 0.0001]})
    damage = repeated_damage(pd.concat([base, hurt.assign(repeats=[100, 10])]), n_boot=60)
    table = damage.to_frame()
    assert table["size_ratio"].iloc[0] == pytest.approx(0.5, rel=0.03)
    assert table["size_ratio_low"].iloc[0] <= 0.5 <= table["size_ratio_high"].iloc[0]
    assert table["size_ratio"].iloc[1] == pytest.approx(1.0, rel=0.03)
    assert list(table["repeats"]) == [100, 10]
    assert "0.5" in damage.summary().splitlines()[0]


def test_effective_params_inverts_the_power_law_and_refuses_bad_runs():
    assert effective_params(1.0, 2.0, 1e3, 0.3) == np.inf  # below the floor: no model size reaches it
    with pytest.raises(DataError, match="model sizes"):
        repeated_damage({"params": [1e8, 2e8, 1e8], "loss": [3, 2.9, 3.1], "repeated_fraction": [0, 0, 0.01]})
    with pytest.raises(DataError, match="no repeated-data runs"):
        repeated_damage({"params": np.geomspace(1e7, 1e9, 5), "loss": np.linspace(3, 2, 5), "repeated_fraction": 0.0})
