"""Repeated sampling: unbiased pass@k, coverage curves, the coverage law and the verifier ceiling.

References: laws.md §7.3 and §15.10; Chen et al. 2021 (repo openai/human-eval,
``human_eval/evaluation.py::estimate_pass_at_k``); Brown et al. 2024, "Large Language Monkeys".
"""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import nnls

from scalelaw import DataError, IdentifiabilityWarning, get_law
from scalelaw.topics import (
    coverage_curve,
    coverage_study,
    default_ks,
    fit_coverage,
    pass_at_k,
    per_problem,
    samples_for_coverage,
    verifier_success,
)


def human_eval_estimate(n: int, c: int, k: int) -> float:
    """openai/human-eval ``estimate_pass_at_k`` inner function, transcribed: the reference we must match."""
    if n - c < k:
        return 1.0
    return 1.0 - float(np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def law_mixture(A: float, b: float, k_max: float = 1e4) -> tuple[np.ndarray, np.ndarray]:
    """Per-problem solve rates p (support, probabilities) whose population coverage follows ``exp(-A k^-b)``.

    Coverage of a mixture is ``1 - E[(1 - p)^k]``; non-negative least squares on a log grid of p matches the law
    to within 1e-3 over k = 1..k_max (measured 6e-4 for A = 1.5, b = 0.5).
    """
    ks = np.unique(np.round(np.logspace(0, np.log10(k_max), 60)))
    grid = np.logspace(-6, 0, 200)[:-1]
    miss = (1.0 - grid[None, :]) ** ks[:, None]
    target = 1.0 - np.exp(-A * ks**-b)
    w, _ = nnls(np.vstack([miss, 100.0 * np.ones(grid.size)]), np.concatenate([target, [100.0]]))
    assert np.max(np.abs(miss @ w - target)) < 1e-3
    return grid, w / w.sum()


# ---------------------------------------------------------------------------------------------- oracles


def test_pass_at_k_oracles():
    """laws.md §15.10 (values of Chen et al. 2021's estimator)."""
    assert pass_at_k(10, 3, 1) == pytest.approx(0.300000, abs=1e-12)
    assert pass_at_k(10, 3, 2) == pytest.approx(0.533333, abs=1e-6)
    assert pass_at_k(100, 1, 10) == pytest.approx(0.100000, abs=1e-12)


def test_coverage_law_oracles():
    """laws.md §15.10: exp(a k^b) with a = -2, b = -0.5, i.e. A = 2, b = 0.5 in scalelaw's signs."""
    law = get_law("coverage")
    got = law.predict({"A": 2.0, "b": 0.5}, samples=[1, 100, 1e4])
    np.testing.assert_allclose(got, [0.135335, 0.818731, 0.980199], rtol=1e-5)
    capped = get_law("coverage_ceiling").predict({"A": 2.0, "b": 0.5, "C_max": 1.0}, samples=[1, 100, 1e4])
    np.testing.assert_allclose(capped, got, rtol=1e-15)


def test_matches_human_eval_and_exact_binomials():
    rng = np.random.default_rng(3)
    n = rng.integers(1, 300, 400)
    c = rng.integers(0, n + 1)
    k = rng.integers(1, n + 1)
    ours = pass_at_k(n, c, k)
    ref = np.array([human_eval_estimate(int(a), int(b), int(d)) for a, b, d in zip(n, c, k, strict=True)])
    np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-13)
    for a, b, d in zip(n[:60], c[:60], k[:60], strict=True):
        exact = 1 - math.comb(int(a - b), int(d)) / math.comb(int(a), int(d))
        assert pass_at_k(int(a), int(b), int(d)) == pytest.approx(exact, rel=1e-12, abs=1e-14)


def test_large_n_is_stable():
    # C(10000, 5000) overflows floats; the product form does not. Check against the exact rational.
    got = pass_at_k(10_000, 3, 5_000)
    exact = 1 - math.comb(9_997, 5_000) / math.comb(10_000, 5_000)
    assert got == pytest.approx(exact, rel=1e-12)


# ---------------------------------------------------------------------------------------------- unbiasedness


def test_unbiased_exactly_over_the_binomial():
    """E[pass@k] over c ~ Binomial(n, p) is 1 - (1 - p)^k exactly (the estimator is unbiased)."""
    from scipy.stats import binom

    n = 40
    c = np.arange(n + 1)
    for p, k in [(0.03, 1), (0.03, 10), (0.2, 5), (0.7, 40)]:
        mean = float(np.sum(binom.pmf(c, n, p) * pass_at_k(n, c, k)))
        assert mean == pytest.approx(1 - (1 - p) ** k, abs=1e-12)


def test_unbiased_by_simulation():
    rng = np.random.default_rng(0)
    n, p, k = 20, 0.07, 5
    c = rng.binomial(n, p, size=200_000)
    est = pass_at_k(n, c, k)
    se = est.std() / np.sqrt(est.size)
    truth = 1 - (1 - p) ** k
    assert abs(est.mean() - truth) < 4 * se
    # The naive plug-in 1 - (1 - c/n)^k is biased low: the simulation can tell.
    plug_in = 1 - (1 - c / n) ** k
    assert truth - plug_in.mean() > 10 * se


# ---------------------------------------------------------------------------------------------- properties


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 400).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n), st.integers(1, n))))
def test_pass_at_k_properties(nck):
    n, c, k = nck
    value = pass_at_k(n, c, k)
    assert 0.0 <= value <= 1.0
    assert pass_at_k(n, c, n) == (1.0 if c > 0 else 0.0)
    if k < n:
        assert pass_at_k(n, c, k + 1) >= value
    if c < n:
        assert pass_at_k(n, c + 1, k) >= value
    if c == 0:
        assert value == 0.0


# ---------------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("n", "c", "k", "match"),
    [
        (10, 11, 1, "c .* must not exceed n"),
        (10, 3, 11, "k must not exceed n"),
        (10, 3, 0, "k must be at least 1"),
        (-1, 0, 1, "non-negative whole numbers"),
        (10, 2.5, 1, "non-negative whole numbers"),
        (10, [1, -2], 1, r"index 1"),
        (10, np.nan, 1, "non-negative whole numbers"),
    ],
)
def test_pass_at_k_errors(n, c, k, match):
    with pytest.raises(DataError, match=match):
        pass_at_k(n, c, k)


def test_table_errors():
    with pytest.raises(DataError, match="exceeds the 5 sample"):
        coverage_curve({"n_samples": [5, 10], "n_correct": [1, 2]}, ks=[1, 10])
    with pytest.raises(DataError, match="'n_correct' exceeds 'n_samples'"):
        per_problem({"n_samples": [5, 10], "n_correct": [6, 2]})
    with pytest.raises(DataError, match="cannot read the sample table"):
        coverage_curve({"x": [1], "y": [2]}, ks=[1])
    with pytest.raises(DataError, match="must be 0/1"):
        per_problem({"problem": [1, 1], "correct": [1, 2]})
    with pytest.raises(DataError, match="needs a 'score' column"):
        verifier_success({"problem": [1, 1], "correct": [1, 0]}, ks=[1])
    with pytest.raises(DataError, match="marked both correct and incorrect"):
        verifier_success({"problem": [1, 1], "correct": [1, 0], "answer": ["4", "4"]}, ks=[1], method="majority")
    with pytest.raises(DataError, match="target coverage"):
        samples_for_coverage(fit_coverage({"samples": [1, 10, 100], "coverage": [0.2, 0.5, 0.8]}, n_boot=0), 1.2)


# ---------------------------------------------------------------------------------------------- coverage curves


def test_layouts_agree_and_mapping():
    rng = np.random.default_rng(1)
    correct = rng.random((30, 16)) < rng.beta(0.5, 2.0, 30)[:, None]
    samples = pd.DataFrame({"task": np.repeat(np.arange(30), 16), "passed": correct.ravel()})
    counts = {"n_samples": np.full(30, 16), "n_correct": correct.sum(axis=1)}
    a = coverage_curve(samples, ks=[1, 4, 16], mapping="task=problem,passed=correct", n_boot=200)
    b = coverage_curve(counts, ks=[1, 4, 16], n_boot=200)
    pd.testing.assert_frame_equal(a, b)
    assert a["coverage"].iloc[0] == pytest.approx(correct.mean())
    assert a["coverage"].iloc[-1] == pytest.approx(correct.any(axis=1).mean())
    assert np.all((a["low"] <= a["coverage"]) & (a["coverage"] <= a["high"]))


def test_bootstrap_interval_covers_population_coverage():
    grid, w = law_mixture(1.5, 0.5)
    truth = np.exp(-1.5 * np.array([1.0, 10.0, 100.0]) ** -0.5)
    hits = 0
    for seed in range(20):
        rng = np.random.default_rng(seed)
        p = rng.choice(grid, size=200, p=w)
        table = {"n_samples": np.full(200, 100), "n_correct": rng.binomial(100, p)}
        curve = coverage_curve(table, ks=[1, 10, 100], n_boot=400, seed=seed)
        hits += int(np.all(np.abs(curve["coverage"] - truth) < 2.5 * curve["std_error"] + 1e-3))
    assert hits >= 16  # ~ 0.99^3 per seed in theory


# ---------------------------------------------------------------------------------------------- law fits


def test_recovers_A_b_from_per_problem_data():
    """Problems drawn from a mixture whose coverage is exp(-1.5 k^-0.5); n = 1000 samples, k over 3 decades."""
    grid, w = law_mixture(1.5, 0.5)
    rng = np.random.default_rng(0)
    p = rng.choice(grid, size=2000, p=w)
    cf = fit_coverage({"n_samples": np.full(2000, 1000), "n_correct": rng.binomial(1000, p)}, n_boot=200)
    assert cf.identifiable and cf.resampled == "problems" and cf.n_failed == 0
    assert cf.params["A"] == pytest.approx(1.5, rel=0.05)  # measured 1.469 (seed 0)
    assert cf.params["b"] == pytest.approx(0.5, rel=0.05)  # measured 0.484
    ci = cf.interval().set_index("quantity")
    assert ci.loc["A", "low"] < 1.5 < ci.loc["A", "high"]
    assert ci.loc["b", "low"] < 0.5 < ci.loc["b", "high"]
    assert cf.paper_params == {"a": -cf.params["A"], "b": -cf.params["b"]}
    # Inverting: k for 90% coverage, (A / -log 0.9)^(1/b) = 202.7 under the truth.
    need = samples_for_coverage(cf, 0.9)
    assert need["low"][0] < (1.5 / -math.log(0.9)) ** 2 < need["high"][0]


def test_recovers_A_b_from_a_noisy_curve():
    rng = np.random.default_rng(2)
    k = default_ks(10_000, points=30).astype(float)
    truth = {"A": 2.0, "b": 0.5}
    cov = get_law("coverage").predict(truth, samples=k) * np.exp(rng.normal(0, 0.005, k.size))
    cf = fit_coverage(pd.DataFrame({"samples": k, "coverage": cov}), n_boot=100)
    assert cf.resampled == "points"
    for name, value in truth.items():
        assert cf.params[name] == pytest.approx(value, rel=0.03)


def test_warns_when_k_spans_less_than_two_decades():
    k = np.arange(1, 31, dtype=float)
    cov = get_law("coverage").predict({"A": 2.0, "b": 0.5}, samples=k)
    with pytest.warns(IdentifiabilityWarning, match="decade"):
        cf = fit_coverage({"samples": k, "coverage": cov}, n_boot=0)
    assert not cf.identifiable and cf.decades == pytest.approx(math.log10(30))
    k = default_ks(100, points=12).astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("error", IdentifiabilityWarning)
        cf = fit_coverage({"samples": k, "coverage": get_law("coverage").predict({"A": 2.0, "b": 0.5}, samples=k)})
    assert cf.identifiable


def test_samples_for_coverage_inverts_the_law_and_respects_the_ceiling():
    k = default_ks(1000, points=20).astype(float)
    law = get_law("coverage_ceiling")
    truth = {"A": 2.0, "b": 0.5, "C_max": 0.8}
    cf = fit_coverage({"samples": k, "coverage": law.predict(truth, samples=k)}, law="coverage_ceiling", n_boot=50)
    out = samples_for_coverage(cf, [0.5, 0.79, 0.85])
    expected = (2.0 / np.log(0.8 / np.array([0.5, 0.79]))) ** 2
    np.testing.assert_allclose(out["samples"][:2], expected, rtol=1e-4)
    assert out["samples"][2] == np.inf and out["reachable"][2] == 0.0
    assert out["extrapolation_decades"][1] > 0 and out["extrapolation_decades"][0] == 0


# ---------------------------------------------------------------------------------------------- verifier ceiling


def test_best_of_matches_brute_force_over_subsets():
    """Exact expectation over all k-subsets, with the best score picked and ties split at random."""
    correct = np.array([1, 0, 0, 1, 0, 1])
    score = np.array([0.9, 0.9, 0.5, 0.2, 0.95, 0.2])
    table = {"problem": np.zeros(6, int), "correct": correct, "score": score}
    got = verifier_success(table, ks=[1, 2, 3, 4, 5, 6], n_boot=10)["success"].to_numpy()
    for k, value in zip(range(1, 7), got, strict=True):
        outcomes = []
        for subset in itertools.combinations(range(6), k):
            s = score[list(subset)]
            best = [i for i in subset if score[i] == s.max()]
            outcomes.append(np.mean(correct[best]))
        assert value == pytest.approx(np.mean(outcomes), abs=1e-12), k


def _verifier_problems(n_problems: int, n_samples: int, precision: float, seed: int):
    """Problems from the law mixture; on a share ``precision`` of them the verifier ranks correct samples first,
    on the rest it ranks them last. Best-of-k then tends to ``precision`` (every problem here is solvable)."""
    grid, w = law_mixture(1.5, 0.5)
    rng = np.random.default_rng(seed)
    p = rng.choice(grid, size=n_problems, p=w)
    works = rng.random(n_problems) < precision
    correct = rng.random((n_problems, n_samples)) < p[:, None]
    score = np.where(works[:, None], correct, ~correct) + 0.5 * rng.random((n_problems, n_samples))
    table = pd.DataFrame(
        {"problem": np.repeat(np.arange(n_problems), n_samples), "correct": correct.ravel(), "score": score.ravel()}
    )
    return table, float(works.mean())


def test_best_of_plateaus_below_coverage_at_the_verifier_ceiling():
    table, truth = _verifier_problems(500, 1000, precision=0.6, seed=0)
    curve = verifier_success(table, ks=[1, 10, 100, 1000], n_boot=200)
    assert curve["success"].iloc[0] == pytest.approx(curve["coverage"].iloc[0])  # k = 1: nothing to choose
    assert np.all(curve["success"].iloc[1:] < curve["coverage"].iloc[1:] - 0.2)
    # Below k ~ 5 the wrong ranking still often lands on a correct sample (all k drawn correct): fit k >= 5.
    ks = default_ks(1000)[default_ks(1000) >= 5]
    cf = fit_coverage(table, ks=ks, law="coverage_ceiling", metric="best_of", n_boot=100)
    ci = cf.interval().set_index("quantity").loc["C_max"]
    assert cf.ceiling == pytest.approx(truth, abs=0.03)  # measured 0.594 vs 0.596 (seed 0)
    assert ci["low"] < truth < ci["high"]
    assert cf.ceiling < cf.curve["value"].max() + 0.05 < coverage_curve(table, [1000])["coverage"][0]


def test_majority_vote_ceiling():
    """The vote converges to the modal answer: the ceiling is the share of problems whose modal answer is right."""
    rng = np.random.default_rng(0)
    n_problems, n_samples = 300, 300
    p = rng.beta(1.0, 2.0, n_problems)
    wrong = rng.dirichlet(np.full(3, 0.5), n_problems) * (1 - p)[:, None]
    cumulative = np.cumsum(np.column_stack([p, wrong]), axis=1)
    answer = np.minimum((rng.random((n_problems, n_samples, 1)) > cumulative[:, None, :]).sum(axis=2), 3)
    truth = float(np.mean(p > wrong.max(axis=1)))
    table = {
        "problem": np.repeat(np.arange(n_problems), n_samples),
        "answer": answer.ravel(),
        "correct": (answer == 0).ravel(),
    }
    curve = verifier_success(table, method="majority", n_boot=100, n_draws=100)
    assert curve["success"].iloc[0] == pytest.approx(curve["coverage"].iloc[0], abs=0.01)  # MC noise only
    assert curve["success"].iloc[-1] < curve["coverage"].iloc[-1] - 0.4
    cf = fit_coverage(table, law="coverage_ceiling", metric="majority", n_boot=50, n_draws=100)
    assert cf.ceiling == pytest.approx(truth, abs=0.03)  # measured 0.403 vs 0.407 (seed 0)


def test_coverage_study_chains_the_curve_the_fit_and_the_inversion():
    grid, w = law_mixture(1.5, 0.5)
    rng = np.random.default_rng(0)
    table = pd.DataFrame({"n_samples": 1000, "n_correct": rng.binomial(1000, rng.choice(grid, size=300, p=w))})
    ks = [1, 3, 10, 30, 100, 300, 1000]
    study = coverage_study(table, ks, targets=[0.9], n_boot=30, seed=1)
    pd.testing.assert_frame_equal(study.curve, coverage_curve(table, ks, n_boot=30, seed=1))
    fitted = fit_coverage(table, ks, n_boot=30, seed=1)
    assert study.fit.params == pytest.approx(fitted.params)
    pd.testing.assert_frame_equal(study.targets, samples_for_coverage(fitted, [0.9]))
    data = study.to_dict()
    assert list(data) == ["curve", "fit", "targets"] and data["fit"]["law"] == "coverage"
    assert list(data["fit"]) == ["law", "params", "paper", "decades", "identifiable", "interval"]
    # The curve's interval resamples problems at least 10 times; too few budgets for a fit.
    small = coverage_study(table, [1, 10], n_boot=2, seed=1)
    pd.testing.assert_frame_equal(small.curve, coverage_curve(table, [1, 10], n_boot=10, seed=1))
    assert small.fit is None and small.targets is None and small.to_dict()["fit"] is None
    assert coverage_study(table, ks, n_boot=30, targets=None).targets is None
