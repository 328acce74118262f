"""Test-time compute: resampling with an imperfect verifier (Stroebl et al. 2024) and the allocation of an inference
budget between model size and samples (scalelaw.topics.verifier, scalelaw.topics.allocation).

Stroebl, Kapoor, Narayanan 2024, "Inference Scaling fLaws" (arXiv:2411.17501) give the policy; their code
(github.com/benediktstroebl/inference-scaling-limits, evalplus/scaling_curves.ipynb: ``run_optimized_simulation``
takes the first sample of a random order that passes the base tests within ``max_samples``, and ``reward_map`` scores
it 1 if it also passes the plus tests, ``pass_base`` (minus the cost) if not, 0 with no pass) is the Monte Carlo
version of the exact estimate here. Their reported optima (Llama 3.1 70B on HumanEval: k = 25 at cost 1, 9 at cost 2,
2 at cost 4) come from per-sample results that are not published, so the estimators are checked against exact
enumeration and against synthetic problems whose true rates, hence true curves and best k, are known.
"""

from __future__ import annotations

import itertools
import json
import warnings

import numpy as np
import pandas as pd
import pytest

from scalelaw import DataError, get_law
from scalelaw.laws.verifier import reward
from scalelaw.topics import allocate, coverage_curve, fit_verifier, verifier_counts, verifier_curve
from test_cli import run
from test_sampling import law_mixture


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _problems(n_problems: int = 400, n_samples: int = 100, seed: int = 0):
    """Half the problems solvable (verifier passes 40% of samples, 95% of passes correct), half hard (rare passes,
    95% of them false positives): the true rates and the per-problem counts drawn from them."""
    rng = np.random.default_rng(seed)
    solvable = rng.random(n_problems) < 0.5
    p_pass = np.where(solvable, rng.beta(2, 3, n_problems), rng.beta(0.3, 10, n_problems))
    precision = np.where(solvable, 0.95, 0.05)
    n_passed = rng.binomial(n_samples, p_pass)
    counts = {
        "n_samples": np.full(n_problems, n_samples),
        "n_passed": n_passed,
        "n_correct_passed": rng.binomial(n_passed, precision),
    }
    return p_pass, precision, counts


def _true_reward(p_pass, precision, ks, cost):
    answered = 1.0 - (1.0 - p_pass[:, None]) ** np.asarray(ks, dtype=float)[None, :]
    return (answered * precision[:, None] - cost * answered * (1.0 - precision[:, None])).mean(axis=0)


def test_curve_equals_the_policy_averaged_over_every_sample_order():
    """The unbiased estimate is exact: averaging 'submit the first of k samples that passes' over all 5! orders."""
    samples = {
        "problem": [1] * 5 + [2] * 5 + [3] * 5,
        "correct": [1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0],
        "passed": [1, 1, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0],
    }
    frame = pd.DataFrame(samples)
    cost = 2.0
    expected = []
    for k in range(1, 6):
        total = 0.0
        for _, rows in frame.groupby("problem"):
            outcomes = []
            for order in itertools.permutations(range(5)):
                first = next((i for i in order[:k] if rows["passed"].iloc[i]), None)
                outcomes.append(0.0 if first is None else (1.0 if rows["correct"].iloc[first] else -cost))
            total += np.mean(outcomes)
        expected.append(total / 3)
    curve = verifier_curve(frame, ks=[1, 2, 3, 4, 5], cost=cost, n_boot=20)
    np.testing.assert_allclose(curve["reward"], expected, rtol=1e-12)
    assert (curve["accuracy"] + curve["false_positive"] + curve["abstain"]).round(12).eq(1.0).all()


def test_recovers_the_true_best_k_and_shows_the_reward_falling():
    """Synthetic problems with known rates: the true best k (on 1..100) lies inside the bootstrap interval, the
    reward at the optimum too, and every replicate peaks and falls, as the true curve does."""
    p_pass, precision, counts = _problems()
    ks = np.arange(1, 101)
    truth = _true_reward(p_pass, precision, ks, cost=1.0)
    k_true = int(ks[np.argmax(truth)])
    assert 3 <= k_true <= 30 and truth[-1] < truth.max() - 0.05  # the case does peak and fall
    vf = fit_verifier(counts, cost=1.0, n_boot=100)
    opt = vf.optimum()
    assert opt.loc["k_opt", "low"] <= k_true <= opt.loc["k_opt", "high"]
    assert opt.loc["reward_at_opt", "low"] <= truth.max() <= opt.loc["reward_at_opt", "high"]
    assert vf.falls == 1.0 and opt.loc["drop", "low"] > 0
    k = vf.curve["samples"].to_numpy()
    np.testing.assert_allclose(vf.reward(k), _true_reward(p_pass, precision, k, 1.0), atol=0.03)
    assert vf.law.predict(vf.params, samples=k) == pytest.approx(vf.reward(k), rel=1e-12)


def test_without_a_cost_or_false_positives_more_samples_never_hurt():
    _, _, counts = _problems(seed=1)
    free = fit_verifier(counts, cost=0.0, n_boot=20)  # cost 0: the reward is the accuracy, which only rises
    assert free.k_opt == free.k_max and free.falls == 0.0
    perfect = dict(counts, n_correct_passed=counts["n_passed"])  # a verifier without false positives
    vf = fit_verifier(perfect, cost=1.0, n_boot=20)
    assert vf.false_positive is None and vf.params["F_max"] == 0.0
    assert vf.k_opt == vf.k_max and vf.falls == 0.0


def test_when_every_budget_loses_the_best_is_to_abstain():
    """Mostly false positives and a high cost: every k has a negative reward, so k = 0 (answer nothing, reward 0) is
    best, as Stroebl et al.'s code decides (``if max_reward < 0: max_reward_k = 0``)."""
    _, _, counts = _problems(seed=2)
    costly = dict(counts, n_correct_passed=counts["n_correct_passed"] // 3)
    vf = fit_verifier(costly, cost=8.0, n_boot=20)
    opt = vf.optimum()
    assert vf.curve["reward"].max() < 0
    assert opt.loc["k_opt", "estimate"] == 0 and opt.loc["reward_at_opt", "estimate"] == 0
    assert "abstain" in vf.summary().splitlines()[0]


def test_the_reward_law_matches_its_two_terms():
    theta = np.array([0.6, 1.0, 0.5, 0.3, 6.0, 0.4])
    k = np.array([1.0, 10.0, 1e4])
    g = get_law("coverage_ceiling").predict({"A": 1.0, "b": 0.5, "C_max": 0.6}, samples=k)
    h = get_law("coverage_ceiling").predict({"A": 6.0, "b": 0.4, "C_max": 0.3}, samples=k)
    np.testing.assert_allclose(reward(theta, k, cost=2.5), g - 2.5 * h, rtol=1e-13)


def test_verifier_errors_say_what_to_give():
    with pytest.raises(DataError, match="'passed'"):
        verifier_counts({"problem": [1, 1], "correct": [1, 0]})
    with pytest.raises(DataError, match="exceeds 'n_passed'"):
        verifier_counts({"n_samples": [5], "n_passed": [2], "n_correct_passed": [3]})
    with pytest.raises(DataError, match="0/1"):
        verifier_counts({"problem": [1], "correct": [1], "passed": [2]})
    with pytest.raises(DataError, match="cost"):
        fit_verifier({"n_samples": [5], "n_passed": [2], "n_correct_passed": [1]}, cost=-1.0)
    with pytest.raises(DataError, match="at least 4 budgets"):
        fit_verifier({"n_samples": [3, 3], "n_passed": [2, 1], "n_correct_passed": [1, 1]})


# ---------------------------------------------------------------------------------------------- allocation


def _two_models(n_problems: int = 300, n_samples: int = 1000, seed: int = 0) -> tuple[pd.DataFrame, dict]:
    """Two model sizes whose population coverage follows exp(-A k^-b) with known (A, b): at the same budget the
    small model's ten times more samples win at 2e13 FLOPs (coverage 0.45 against 0.37) and lose from 2e14 on."""
    rng = np.random.default_rng(seed)
    truths = {1e9: (2.0, 0.4), 1e10: (1.0, 0.6)}
    frames = []
    u = rng.random(n_problems)  # a problem's difficulty rank, shared: hard problems are hard for both models
    for N, (A, b) in truths.items():
        grid, w = law_mixture(A, b)
        p = grid[np.minimum(np.searchsorted(np.cumsum(w), u), grid.size - 1)]
        frames.append(
            pd.DataFrame(
                {
                    "params": N,
                    "problem": np.arange(n_problems),
                    "n_samples": n_samples,
                    "n_correct": rng.binomial(n_samples, p),
                }
            )
        )
    return pd.concat(frames, ignore_index=True), truths


def test_allocation_recovers_the_best_model_at_each_budget():
    """At every (budget, model) the fitted coverage matches the data's own unbiased coverage at the k bought, the
    interval lies within 0.03 of the population's true coverage, and the best model is the true best."""
    table, truths = _two_models(n_problems=400)
    budgets = [2e13, 2e14, 2e15]
    plan = allocate(table, budgets, tokens_per_sample=1000, n_boot=100)
    coverage = get_law("coverage")
    for B in budgets:
        rows = plan.table[plan.table["budget"] == B].set_index("params")
        true = {}
        for N, (A, b) in truths.items():
            k = B / (2 * N * 1000)
            true[N] = coverage.predict({"A": A, "b": b}, samples=k)[0]
            observed = coverage_curve(table[table["params"] == N].drop(columns="params"), ks=[k], n_boot=10)
            assert rows.loc[N, "coverage"] == pytest.approx(observed["coverage"][0], abs=0.02), (B, N)
            assert rows.loc[N, "low"] - 0.03 <= true[N] <= rows.loc[N, "high"] + 0.03, (B, N)
        best = plan.best().set_index("budget").loc[B]
        assert best["params"] == max(true, key=true.get)
        assert best["p_best"] >= 0.9
    assert plan.best()["params"].tolist() == [1e9, 1e10, 1e10]  # the choice switches to the large model


def test_measured_sample_costs_replace_2NT():
    """With the large model's sample priced like the small one's, the same budget buys both ten samples and the large
    model wins; the whole samples a budget buys are floor(B / cost)."""
    table, _ = _two_models(n_problems=100, n_samples=200)
    plan = allocate(table, 2.5e13, tokens_per_sample=1000, cost_per_sample={1e10: 2e12}, n_boot=20)
    rows = plan.table.set_index("params")
    assert rows["samples"].tolist() == [12.0, 12.0] and rows["cost_per_sample"].tolist() == [2e12, 2e12]
    assert plan.best()["params"].tolist() == [1e10]
    with pytest.raises(DataError, match="does not have"):
        allocate(table, 1e13, cost_per_sample={3e9: 1e12}, n_boot=10)


def test_allocation_errors():
    table, _ = _two_models(n_problems=20, n_samples=50)
    with pytest.raises(DataError, match="two or more"):
        allocate(table[table["params"] == 1e9], 1e13)
    with pytest.raises(DataError, match="model-size column"):
        allocate(table.drop(columns=["params"]), 1e13)
    with pytest.raises(DataError, match="positive FLOPs"):
        allocate(table, [-1.0])
    plan = allocate(table, 1e11, tokens_per_sample=1000, n_boot=10)  # buys no sample of either model
    assert not plan.table["best"].any() and "no budget" in plan.summary()


# ---------------------------------------------------------------------------------------------- CLI


def test_cli_verify_and_allocate(tmp_path):
    _, _, counts = _problems(n_problems=200, n_samples=50)
    path = tmp_path / "verifier.csv"
    pd.DataFrame(counts).rename(columns={"n_passed": "passes"}).to_csv(path, index=False)
    proc = run("verify", str(path), "--map", "passes=n_passed", "--n-boot", "10")
    assert "best k =" in proc.stdout and "false pos." in proc.stdout
    data = json.loads(run("verify", str(path), "--map", "passes=n_passed", "--n-boot", "30", "--json").stdout)
    assert data["law"] == "verifier_reward" and data["falls"] > 0.5
    opt = {row["quantity"]: row for row in data["optimum"]}
    assert opt["k_opt"]["low"] <= opt["k_opt"]["estimate"] <= opt["k_opt"]["high"] < 50
    bad = run("verify", str(path), check=False)
    assert bad.returncode == 2 and "n_passed" in bad.stderr and "Traceback" not in bad.stderr

    table, _ = _two_models(n_problems=100, n_samples=200)
    alloc = tmp_path / "models.csv"
    table.to_csv(alloc, index=False)
    args = ["allocate", str(alloc), "--budget", "2e13,2e15", "--sample-cost", "1e9=2e12", "--n-boot", "30", "--json"]
    data = json.loads(run(*args).stdout)
    assert [row["params"] for row in data["best"]] == [1e9, 1e10]
    assert all(row["low"] <= row["coverage"] <= row["high"] for row in data["best"])
