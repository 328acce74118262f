"""Precision law (Kumar et al. 2024, laws.md §8.1) and its decisions (scalelaw.decisions.precision).

Constants: the base terms are Chinchilla's published fit (Hoffmann et al. 2022; laws.md §3.1). Kumar et al.'s
fitted sensitivities and PTQ constants could not be confirmed from any readable source, so the gammas and PTQ
constants below are illustrative and only the formulas, the recovery and the qualitative claims are tested.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import optimize

from law_case import noisy, quiet_fit
from law_cases_precision import CHINCHILLA, precision_design
from scalelaw import fit, get_law
from scalelaw.decisions.precision import (
    critical_tokens,
    effective_params,
    linear_bit_cost,
    optimal_precision,
    ptq_degradation,
)
from scalelaw.errors import DataError, LawError
from scalelaw.laws import law_from_dict
from scalelaw.laws.precision import precision

PTQ_TRUTH = {**CHINCHILLA, "gamma_w": 2.5, "C_T": 0.2, "gamma_post": 1.5, "gamma_D": 0.5, "gamma_N": 0.5}


_data, _fit = noisy, quiet_fit


@pytest.fixture(scope="module")
def ptq_fit():
    law = precision(ptq=True)
    return _fit(law, _data(law, PTQ_TRUTH, precision_design(ptq=True)))


@pytest.fixture(scope="module")
def weights_fit():
    law = precision()
    return _fit(law, _data(law, {**CHINCHILLA, "gamma_w": 2.5}, precision_design()))


def _variants():
    three = precision_design()
    rng = np.random.default_rng(3)
    two = {**three, "bits_a": rng.choice([3.0, 4.0, 6.0, 8.0, 16.0], three["params"].size)}
    return [
        (precision(ptq=True), PTQ_TRUTH, precision_design(ptq=True)),
        (precision(bits=["bits_w", "bits_a"]), {**CHINCHILLA, "gamma_w": 2.5, "gamma_a": 1.5}, two),
        (precision(bits=["bits_w", "bits_a"], tied=True), {**CHINCHILLA, "gamma": 2.5}, two),
    ]


# ------------------------------------------------------------------ the law


def test_reference_high_precision_limit_is_chinchilla():
    """At 64 training bits N_eff = N (1 - e^-25.6) and the law is Chinchilla's: Hoffmann et al. 2022's
    published constants give L(70e9, 1.4e12) = 1.9365 (laws.md §15.2, also the Law.predict doctest)."""
    law = precision()
    loss = law.predict({**CHINCHILLA, "gamma_w": 2.5}, params=70e9, tokens=1.4e12, bits_w=64)[0]
    chinchilla = get_law("chinchilla").predict(CHINCHILLA, params=70e9, tokens=1.4e12)[0]
    assert loss == pytest.approx(chinchilla, rel=1e-10)
    assert loss == pytest.approx(1.9365, abs=5e-4)


@pytest.mark.parametrize("index", range(3))
def test_variants_have_exact_jacobians_and_round_trip(index):
    law, truth, design = _variants()[index]
    X = law.bind(design)
    theta = np.vstack([law.theta(truth), law.theta(truth) * 1.03])
    _, J = law.log_predict_jac(theta, X)
    for k, name in enumerate(law.param_names):
        h = 1e-6 * theta[:, k]
        up, down = theta.copy(), theta.copy()
        up[:, k] += h
        down[:, k] -= h
        numeric = (law.log_predict_jac(up, X, jac=False)[0] - law.log_predict_jac(down, X, jac=False)[0]) / (
            2 * h[:, None]
        )
        np.testing.assert_allclose(J[:, k], numeric, rtol=1e-5, atol=1e-7 * np.abs(numeric).max(), err_msg=name)
    assert law_from_dict(law.to_dict()) == law


@pytest.mark.parametrize("index", range(3))
def test_variants_recover_known_parameters(index):
    law, truth, design = _variants()[index]
    result = _fit(law, _data(law, truth, design))
    for name in [n for n in law.param_names if n.startswith("gamma")] + ["E", "beta"]:
        assert result.params[name] == pytest.approx(truth[name], rel=0.1), name


def test_bad_bits_are_data_errors():
    law = precision()
    design = precision_design()
    good = _data(law, {**CHINCHILLA, "gamma_w": 2.5}, design)
    for bad in (0.0, -4.0, np.nan):
        data = {**good, "bits_w": good["bits_w"].copy()}
        data["bits_w"][[2, 7]] = bad
        with pytest.raises(DataError, match=r"bits_w.*rows 2, 7"):
            fit(law, data)
        with pytest.raises(DataError, match="bits_w"):
            law.predict({**CHINCHILLA, "gamma_w": 2.5}, params=1e9, tokens=2e10, bits_w=bad)
    with pytest.raises(LawError, match="at least one"):
        precision(bits=[])
    with pytest.raises(LawError, match="distinct"):
        precision(bits=["tokens"])


@settings(max_examples=60, deadline=None)
@given(
    gamma=st.floats(0.1, 50.0),
    low=st.floats(0.5, 31.0),
    step=st.floats(0.01, 16.0),
    n=st.floats(1e6, 1e12),
)
def test_effective_params_below_n_and_increasing_in_bits(gamma, low, step, n):
    law = precision()
    theta = {**CHINCHILLA, "gamma_w": gamma}
    X = law.bind({"params": n, "tokens": 1e10, "bits_w": [low, low + step]})
    factor = np.exp(law.log_effective_factor(law.theta(theta), X))[0]
    assert np.all((factor > 0) & (factor <= 1))
    assert factor[1] >= factor[0]


# ------------------------------------------------------------------ decisions


def test_effective_params_formula_and_interval(weights_fit):
    gamma = weights_fit.params["gamma_w"]
    plan = effective_params(weights_fit, [1e8, 1e9], bits_w=[3, 8], level=0.9, n_boot=30)
    expected = np.array([1e8, 1e9]) * -np.expm1(-np.array([3.0, 8.0]) / gamma)
    np.testing.assert_allclose(plan.table["params_eff"], expected, rtol=1e-12)
    true_ratio = -np.expm1(-np.array([3.0, 8.0]) / 2.5)
    t = plan.table
    assert np.all((t["params_eff_ratio_low"] <= true_ratio) & (true_ratio <= t["params_eff_ratio_high"]))
    assert np.all(t["params_eff_ratio_low"] < t["params_eff_ratio_high"])


def test_critical_tokens_matches_numeric_minimizer(ptq_fit):
    law, p = ptq_fit.law, ptq_fit.params
    plan = critical_tokens(ptq_fit, [3e7, 1e8, 1e9], bits_post=[3, 4, 6], bits_w=[16, 8, 4])
    for (_, row), n, post, bw in zip(plan.table.iterrows(), [3e7, 1e8, 1e9], [3, 4, 6], [16, 8, 4], strict=True):

        def loss(log_d, n=n, post=post, bw=bw):
            return law.predict(p, params=n, tokens=math.exp(log_d), bits_w=bw, bits_post=post)[0]

        numeric = optimize.minimize_scalar(
            loss, bounds=(math.log(1e6), math.log(1e16)), method="bounded", options={"xatol": 1e-10}
        )
        assert row["tokens_crit"] == pytest.approx(math.exp(numeric.x), rel=1e-4)
        assert row["loss_crit"] == pytest.approx(numeric.fun, rel=1e-10)


def test_ptq_claims_more_data_hurts_a_quantized_model():
    """laws.md §8.1 [P]: PTQ degradation grows with training tokens at fixed N, so past D* more data is harmful."""
    law = precision(ptq=True)
    N, D = 1e8, np.logspace(9, 13, 9)
    with_ptq = law.predict(PTQ_TRUTH, params=N, tokens=D, bits_w=16, bits_post=4)
    without = law.predict({**PTQ_TRUTH, "C_T": 1e-30}, params=N, tokens=D, bits_w=16, bits_post=4)
    degradation = with_ptq - without
    assert np.all(np.diff(degradation) > 0)
    assert np.all(np.diff(without) < 0)  # before quantization more data always helps
    d_star = (
        PTQ_TRUTH["beta"]
        * PTQ_TRUTH["B"]
        / (PTQ_TRUTH["gamma_D"] * PTQ_TRUTH["C_T"] * math.exp(-4 / 1.5) * N ** -PTQ_TRUTH["gamma_N"])
    ) ** (1 / (0.28 + 0.5))
    after = law.predict(PTQ_TRUTH, params=N, tokens=[d_star, 4 * d_star], bits_w=16, bits_post=4)
    assert after[1] > after[0]
    # Fewer post-training bits degrade more, and larger models less (gamma_N > 0).
    lower_bits = law.predict(PTQ_TRUTH, params=N, tokens=1e11, bits_w=16, bits_post=3)[0]
    assert lower_bits > law.predict(PTQ_TRUTH, params=N, tokens=1e11, bits_w=16, bits_post=4)[0]


def test_ptq_degradation_decision(ptq_fit):
    plan = ptq_degradation(ptq_fit, params=1e8, tokens=[1e10, 1e11], bits_post=4)
    p = ptq_fit.params
    expected = p["C_T"] * np.exp(-4 / p["gamma_post"]) * np.array([1e10, 1e11]) ** p["gamma_D"] / 1e8 ** p["gamma_N"]
    np.testing.assert_allclose(plan.table["ptq_loss"], expected, rtol=1e-12)


def _tied_three_fit(gamma=4.0):
    law = precision(bits=["bits_w", "bits_a", "bits_kv"], tied=True)
    design = precision_design()
    design.update(bits_a=design["bits_w"], bits_kv=design["bits_w"])
    return _fit(law, _data(law, {**CHINCHILLA, "gamma": gamma}, design, noise=0.0))


def test_optimal_precision_closed_form_and_budget_independence():
    """With linear cost and m tied columns, P* = x gamma with m x = e^x - 1 (derived [S]); Kumar et al. [P*]
    report a compute-optimal precision roughly independent of compute, which the form makes exact."""
    result = _tied_three_fit()
    plan = optimal_precision(result, [1e19, 1e22, 1e25])
    x3 = optimize.brentq(lambda x: 3 * x - math.expm1(x), 0.5, 5.0)
    np.testing.assert_allclose(plan.table["bits_opt"], x3 * result.params["gamma"], rtol=1e-6)
    assert x3 == pytest.approx(1.9038, abs=1e-4)
    # "Training larger models in lower precision can be compute-optimal" (laws.md §8.1 [P]).
    t = plan.table
    assert np.all(t["params_opt"] > t["params_ref"]) and np.all(t["loss_opt"] < t["loss_ref"])


def test_optimal_precision_matches_brute_force_search():
    result = _tied_three_fit(gamma=3.0)
    law, p, C = result.law, result.params, 1e22
    row = optimal_precision(result, C, reference_bits=None).table.iloc[0]

    def loss(z):
        bits, log_n = z
        N = math.exp(log_n)
        D = C / (6.0 * N * float(linear_bit_cost(bits)))
        return law.predict(p, params=N, tokens=D, bits_w=bits, bits_a=bits, bits_kv=bits)[0]

    best = optimize.minimize(
        loss, [8.0, math.log(1e9)], method="Nelder-Mead", options={"xatol": 1e-9, "fatol": 1e-14, "maxiter": 4000}
    )
    assert row["bits_opt"] == pytest.approx(best.x[0], rel=1e-3)
    assert row["params_opt"] == pytest.approx(math.exp(best.x[1]), rel=1e-3)
    assert row["loss_opt"] == pytest.approx(best.fun, rel=1e-9)


def test_weights_only_optimum_sits_on_the_range_edge(weights_fit):
    plan = optimal_precision(weights_fit, 1e21, bits_range=(2.0, 16.0))
    assert plan.table["bits_opt"].iloc[0] == 2.0
    assert any("edge" in note for note in plan.notes)
    # A cost that does not fall with bits makes 16 bits optimal instead.
    flat = optimal_precision(weights_fit, 1e21, cost=lambda b: np.ones_like(b), bits_range=(2.0, 16.0))
    assert flat.table["bits_opt"].iloc[0] == 16.0


def test_decision_input_errors(weights_fit, ptq_fit):
    with pytest.raises(LawError, match="bits_w=16"):
        effective_params(weights_fit, 1e9)
    with pytest.raises(DataError, match="bits_w"):
        effective_params(weights_fit, 1e9, bits_w=0)
    with pytest.raises(LawError, match="ptq"):
        critical_tokens(weights_fit, 1e9, bits_post=4, bits_w=16)
    with pytest.raises(DataError, match="bits_post"):
        critical_tokens(ptq_fit, 1e9, bits_post=-1, bits_w=16)
    with pytest.raises(LawError, match="split"):
        optimal_precision(weights_fit, 1e21, vary=["bits_a"])
    with pytest.raises(DataError, match="cost"):
        optimal_precision(weights_fit, 1e21, cost=lambda b: -b)
    chinchilla = _fit(
        get_law("chinchilla"),
        {
            "params": [1e8, 2e8, 4e8, 8e8, 1.6e9, 3.2e9],
            "tokens": [2e9, 4e9, 3e9, 9e9, 3e10, 6e10],
            "loss": [3.1, 2.9, 2.9, 2.6, 2.4, 2.3],
        },
    )
    with pytest.raises(LawError, match="precision"):
        effective_params(chinchilla, 1e9, bits_w=8)
