"""Emergence: metric comparison (Schaeffer et al. 2023) and PassUntil (Hu et al. 2024); laws.md §7.1, §7.2."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from scalelaw import DataError, LawError, datasets, get_law, load_runs
from scalelaw.laws import law_from_dict
from scalelaw.topics.emergence import (
    compare_metrics,
    fit_passuntil,
    metrics_from_token_logprobs,
    pass_rates,
    sample_until,
)

SCALES = np.logspace(7, 11, 9)


def token_table(loss_per_token: np.ndarray, length: int = 20, n_examples: int = 40, seed: int = 0) -> pd.DataFrame:
    """Per-token log-probabilities of the reference answer: ``-loss`` times a per-example difficulty factor."""
    rng = np.random.default_rng(seed)
    difficulty = rng.lognormal(0.0, 0.2, n_examples)  # shared by all scales: the same test set
    scale, example, position = np.meshgrid(np.arange(len(loss_per_token)), np.arange(n_examples), np.arange(length))
    logprob = -loss_per_token[scale] * difficulty[example] * rng.lognormal(0.0, 0.1, scale.shape)
    return pd.DataFrame(
        {
            "params": SCALES[scale].ravel(),
            "example": example.ravel(),
            "position": position.ravel(),
            "logprob": logprob.ravel(),
        }
    )


# ----------------------------------------------------------------------------------------- metrics


def test_metrics_match_closed_forms():
    t = pd.DataFrame(
        {
            "params": [1e8] * 4 + [1e9] * 4,
            "example": [0, 0, 1, 1] * 2,
            "logprob": [-0.5, -1.0, -0.1, -0.2, -0.05, -0.1, -0.01, -0.02],
            "correct": [0, 1, 1, 1, 1, 1, 1, 1],
        }
    )
    m = metrics_from_token_logprobs(t, correct="correct").set_index("params")
    p = np.exp(t["logprob"].to_numpy()).reshape(2, 2, 2)  # scale, example, token
    np.testing.assert_allclose(m["exact_match"], p.prod(axis=2).mean(axis=1))
    np.testing.assert_allclose(m["token_edit_distance"], (1 - p).sum(axis=2).mean(axis=1))
    np.testing.assert_allclose(m["log_likelihood"], np.log(p).sum(axis=2).mean(axis=1))
    np.testing.assert_allclose(m["brier"], ((1 - p) ** 2).mean(axis=(1, 2)))
    np.testing.assert_allclose(m["token_accuracy"], p.mean(axis=(1, 2)))
    assert m["greedy_exact_match"].tolist() == [0.5, 1.0]
    assert m["greedy_token_accuracy"].tolist() == [0.75, 1.0]
    assert m["n_examples"].tolist() == [2, 2] and m["n_tokens"].tolist() == [4, 4]


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(-8.0, 0.0), min_size=6, max_size=6),
    st.integers(1, 3),
    st.integers(1, 4),
)
def test_metric_invariants(logprobs, n_examples, seed):
    """Equal-length answers: edit distance = length * (1 - token accuracy); mean log-lik <= log exact match."""
    rng = np.random.default_rng(seed)
    lp = np.array(logprobs)[rng.permutation(6)]
    t = pd.DataFrame(
        {"params": 1e9, "example": np.repeat(np.arange(n_examples), 6), "logprob": np.tile(lp, n_examples)}
    )
    m = metrics_from_token_logprobs(t).iloc[0]
    assert m["token_edit_distance"] == pytest.approx(6 * (1 - m["token_accuracy"]), abs=1e-12)
    assert m["log_likelihood"] <= np.log(m["exact_match"]) + 1e-12
    assert 0 <= m["exact_match"] <= m["token_accuracy"] + 1e-12
    assert 0 <= m["brier"] <= 1


def test_metrics_bad_input():
    t = pd.DataFrame({"params": [1e8, 1e8], "example": [0, 0], "logprob": [-0.1, 0.3]})
    with pytest.raises(DataError, match=r"positive log-probabilities .*row 1"):
        metrics_from_token_logprobs(t)
    with pytest.raises(DataError, match=r"needs column.*'logp'"):
        metrics_from_token_logprobs(t, logprob="logp")
    with pytest.raises(DataError, match="non-numeric"):
        metrics_from_token_logprobs(t.assign(logprob=["a", "-0.1"]))
    with pytest.raises(DataError, match="non-positive"):
        metrics_from_token_logprobs(t.assign(params=[0.0, 1e8], logprob=-0.1))
    with pytest.raises(DataError, match="0/1"):
        metrics_from_token_logprobs(t.assign(logprob=-0.1, ok=[2, 1]), correct="ok")


# ------------------------------------------------------------------------------- metric comparison


def test_schaeffer_toy_is_diagnosed_as_an_artefact():
    """laws.md §7.1 (Schaeffer, Miranda, Koyejo 2023, NeurIPS, Fig. 2 toy model): L_CE = (N/c)^-alpha,
    p = exp(-L_CE); exact match p^l over l = 20 tokens looks sharp, edit distance l(1 - p) smooth."""
    loss = (SCALES / 2e8) ** -0.5
    metrics = metrics_from_token_logprobs(token_table(loss))
    result = compare_metrics(metrics)
    rows = result.table.set_index("metric")
    assert result.diagnosis == "artefact", str(result)
    assert rows.loc["exact_match", "jumps"]
    assert not rows.loc[["token_edit_distance", "log_likelihood", "brier", "token_accuracy"], "jumps"].any()
    assert "metric artefact" in result.verdict
    # Exact match stays at chance for most of the ladder: the verdict warns about it.
    assert rows.loc["exact_match", "at_chance"] >= 5
    assert "at chance" in result.verdict
    # A power law fits the log-likelihood (a power law in N up to the example noise) almost exactly.
    assert rows.loc["log_likelihood", "rms_log_residual"] < 0.01
    assert rows.loc["log_likelihood", "fit_alpha"] == pytest.approx(0.5, rel=0.02)


def test_true_discontinuity_is_diagnosed_as_real():
    """A per-token loss that drops tenfold between two scales: every metric, continuous or not, jumps there."""
    loss = np.where(SCALES < 1e9, 2.0, 0.2) * (SCALES / 1e7) ** -0.02
    result = compare_metrics(metrics_from_token_logprobs(token_table(loss, length=5)))
    rows = result.table.set_index("metric")
    assert result.diagnosis == "real", str(result)
    assert rows["jumps"].all()
    assert set(rows["jump_to"]) == {1e9}
    assert "real transition" in result.verdict


def test_smooth_improvement_and_missing_continuous_metric():
    N = SCALES
    t = pd.DataFrame({"params": N, "exact_match": 0.9 - 0.8 * (N / 1e7) ** -0.2, "log_likelihood": -(N**-0.1)})
    assert compare_metrics(t).diagnosis == "smooth"
    unclear = compare_metrics(t, metrics=["exact_match"])
    assert unclear.diagnosis == "unclear" and "No continuous metric" in unclear.verdict


def test_pythia_lambada_accuracy_vs_log_perplexity():
    """Bundled Pythia evals (EleutherAI/pythia evals/, Apache-2.0): LAMBADA (OpenAI) zero-shot at the final
    checkpoint (step 143000) of the 8 standard-Pile sizes. Measured, not assumed: log-perplexity spreads its change
    more evenly over log N than accuracy does, and neither jumps (both change most from 160m to 410m)."""
    d = datasets.load("pythia_evals")
    final = d[(d["step"] == 143000) & (d["num_fewshot"] == 0) & ~d["deduped"] & (d["task"] == "lambada_openai")]
    wide = final.pivot(index="params", columns="metric", values="value").reset_index()
    assert len(wide) == 8
    wide["log_perplexity"] = np.log(wide["ppl"])
    result = compare_metrics(wide, metrics=["acc", "log_perplexity"], kinds={"acc": "score", "log_perplexity": "loss"})
    rows = result.table.set_index("metric")
    assert result.diagnosis == "smooth"
    assert rows.loc["log_perplexity", "excess"] < rows.loc["acc", "excess"]
    assert rows.loc["acc", "jump_from"] == rows.loc["log_perplexity", "jump_from"] == 85_056_000  # pythia-160m
    # SOURCE.md values at step 143000: pythia-12b LAMBADA acc 0.7046, ppl 3.924.
    assert wide["acc"].iloc[-1] == pytest.approx(0.704638, abs=1e-6)
    assert wide["ppl"].iloc[-1] == pytest.approx(3.923642, abs=1e-6)


def test_compare_metrics_bad_input():
    t = pd.DataFrame({"params": [1e8, 1e9, 1e10], "acc": [0.1, 0.2, 0.9]})
    with pytest.raises(DataError, match="say how to read metric"):
        compare_metrics(t, metrics=["acc"])
    with pytest.raises(DataError, match="one row per scale"):
        compare_metrics(t.assign(params=[1e8, 1e8, 1e9]), metrics=["acc"], kinds={"acc": "score"})
    with pytest.raises(DataError, match="at least 3 scales"):
        compare_metrics(t.iloc[:2], metrics=["acc"], kinds={"acc": "score"})
    with pytest.raises(DataError, match="must be > 0"):
        compare_metrics(t.assign(acc=[0.1, 0.0, 1.0]), metrics=["acc"], kinds={"acc": "loss"})
    with pytest.raises(DataError, match="no metric columns"):
        compare_metrics(t)
    with pytest.raises(DataError, match="kinds must be"):
        compare_metrics(t, metrics=["acc"], kinds={"acc": "accuracy"})


# ----------------------------------------------------------------------------------------- PassUntil


def test_negative_binomial_estimator_is_unbiased_exactly():
    """(r-1)/(K-1) (Haldane 1945) and its variance estimate p(1-p)/(K-2) (Finney 1949), summed over the
    negative-binomial law of K; and the Girshick-Mosteller-Savage estimator when a budget can run out."""
    for p, r in [(0.002, 2), (0.05, 3), (0.4, 5)]:
        K = np.arange(r, int(200 * r / p))
        pmf = stats.nbinom.pmf(K - r, r, p)
        est = pass_rates(pd.DataFrame({"samples": K, "passes": r}), r=r)
        mean = np.sum(pmf * est["pass_rate"])
        assert mean == pytest.approx(p, rel=1e-9)
        assert np.sum(pmf * est["pass_rate_var"]) == pytest.approx(np.sum(pmf * (est["pass_rate"] - p) ** 2), rel=1e-6)
        # Budget of 3r/p samples: stop at the r-th pass or at the budget with c < r passes.
        budget = int(3 * r / p)
        K_in = np.arange(r, budget + 1)
        c_out = np.arange(r)
        table = pd.DataFrame(
            {"samples": np.r_[K_in, np.full(r, budget)], "passes": np.r_[np.full(K_in.size, r), c_out]}
        )
        prob = np.r_[stats.nbinom.pmf(K_in - r, r, p), stats.binom.pmf(c_out, budget, p)]
        assert prob.sum() == pytest.approx(1.0, abs=1e-12)
        assert np.sum(prob * pass_rates(table, r=r)["pass_rate"]) == pytest.approx(p, rel=1e-9)


def test_negative_binomial_estimator_is_unbiased_by_simulation():
    p, r, n = 0.01, 4, 200_000
    K, c = sample_until(np.full(n, p), r=r, seed=42)
    est = pass_rates(pd.DataFrame({"samples": K, "passes": c}), r=r)
    se = est["pass_rate"].std() / np.sqrt(n)
    assert abs(est["pass_rate"].mean() - p) < 3 * se
    assert est["pass_rate_var"].mean() == pytest.approx(est["pass_rate"].var(), rel=0.03)
    # The naive r/K is biased upwards by about 1/(r-1) relative: the reason for the (r-1)/(K-1) form.
    assert (r / K).mean() > 1.25 * p
    # With a budget, the simulated stops follow the same unbiased estimator.
    K2, c2 = sample_until(np.full(n, p), r=r, max_samples=300, seed=43)
    assert (c2 < r).mean() > 0.3 and K2.max() == 300
    est2 = pass_rates(pd.DataFrame({"samples": K2, "passes": c2}), r=r)
    assert abs(est2["pass_rate"].mean() - p) < 3 * est2["pass_rate"].std() / np.sqrt(n)


def test_pass_rates_bad_input():
    t = pd.DataFrame({"samples": [10, 5], "passes": [3, 6]})
    with pytest.raises(DataError, match=r"passes <= samples.*row 1"):
        pass_rates(t)
    with pytest.raises(DataError, match="r must be an integer >= 2"):
        pass_rates(t.iloc[:1], r=1)
    with pytest.raises(DataError, match="more than r=2 passes"):
        pass_rates(t.iloc[:1], r=2)
    with pytest.raises(DataError, match="pass rates must lie"):
        sample_until([0.0], r=2)


def _passuntil_table(c: np.ndarray, alpha: float, scales: np.ndarray, r: int, seed: int) -> pd.DataFrame:
    N, ci = np.meshgrid(scales, c)
    K, passes = sample_until(np.exp(-ci * N**-alpha).ravel(), r=r, seed=seed)
    inst = np.broadcast_to(np.arange(len(c))[:, None], N.shape).ravel()
    return pd.DataFrame({"params": N.ravel(), "instance": inst, "samples": K, "passes": passes})


def test_passuntil_recovers_parameters_from_tiny_pass_rates():
    """Pass rates from 2e-4 to 0.3 (the regime greedy accuracy reads as 0); truth c = 9e7^0.28 * 9, alpha = 0.28."""
    alpha, c = 0.28, 9.0 * 1e7**0.28
    table = _passuntil_table(np.full(100, c), alpha, np.logspace(7, 10, 6), r=10, seed=3)
    f = fit_passuntil(table, r=10)
    assert f.params["alpha"] == pytest.approx(alpha, rel=0.03)
    assert f.params["c"] == pytest.approx(c, rel=0.3)
    assert f.by_scale["pass_rate"].min() < 1e-3 and f.by_scale["used"].all()
    # Extrapolate one decade past the largest scale.
    truth = np.exp(-c * 1e11**-alpha)
    assert f.predict(1e11)[0] == pytest.approx(truth, rel=0.05)
    # Each instance is its own homogeneous copy: instance fits agree with the truth on average.
    assert f.instances["alpha"].median() == pytest.approx(alpha, rel=0.05)


def test_ipu_average_tracks_heterogeneous_instances():
    """Instances of different difficulty (Hu et al.'s IPU): the mean of per-instance laws tracks the mean pass rate."""
    rng = np.random.default_rng(7)
    alpha = 0.3
    c = 10 * 1e7**alpha * rng.lognormal(0.0, 0.4, 60)
    scales = np.logspace(7, 10, 5)
    f = fit_passuntil(_passuntil_table(c, alpha, scales, r=8, seed=8), r=8)
    assert f.instances["c"].notna().all() and (f.instances["n_scales"] == 5).all()
    for x in (3e9, 1e11):
        truth = np.exp(-c * x**-alpha).mean()
        assert f.predict_ipu(x)[0] == pytest.approx(truth, rel=0.15), x
    assert f.result.status.converged


def test_fit_passuntil_needs_two_usable_scales():
    t = pd.DataFrame({"params": [1e8, 1e9], "instance": [0, 0], "samples": [100, 100], "passes": [0, 100]})
    with pytest.raises(DataError, match="at least two scales"):
        fit_passuntil(t)
    with pytest.raises(DataError, match="one row per"):
        fit_passuntil(pd.concat([t, t]))


def test_passuntil_law_targets_and_json():
    law = get_law("passuntil", x="flops", target="neg_log_pass_rate")
    assert law.output == "neg_log_pass_rate" and law.inputs == ("flops",)
    assert law_from_dict(law.to_dict()) == law
    values = {"c": 50.0, "alpha": 0.2}
    pu = get_law("passuntil", x="flops").predict(values, flops=np.array([1e6, 1e9]))
    np.testing.assert_allclose(law.predict(values, flops=np.array([1e6, 1e9])), -np.log(pu))
    with pytest.raises(LawError, match="target must be"):
        get_law("passuntil", target="accuracy")


# ------------------------------------------------------------------------------------------ dataset


def test_pythia_dataset_view():
    """SOURCE.md: tokens = step * 2,097,152; params are non-embedding counts 12 L d^2 + 13 L d + 2 d."""
    d = datasets.load("pythia_evals")
    assert len(load_runs("dataset:pythia_evals")) == len(d) == 10_080 - 240  # the 240 step-0 rows dropped
    assert (d["tokens"] == d["step"] * 2_097_152).all()
    L, dm = d["n_layers"], d["d_model"]
    assert (d["params"] == 12 * L * dm**2 + 13 * L * dm + 2 * dm).all()
    assert {"task", "metric", "value", "step", "params_nominal"} <= set(d.columns)
