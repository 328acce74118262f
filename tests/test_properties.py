"""Property tests (hypothesis) for invariants the numerics must keep."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from scalelaw import DataError, fit, get_law, load_runs
from scalelaw.fitting.objective import rho_psi_weight
from scalelaw.laws.law import log_sum_exp_terms

finite = st.floats(-50, 50, allow_nan=False)


@given(arrays(np.float64, 20, elements=finite), st.floats(1e-6, 1.0))
def test_huber_is_symmetric_nonnegative_and_below_squared(r, delta):
    rho, psi, _ = rho_psi_weight(r, "huber", delta)
    rho_neg, _, _ = rho_psi_weight(-r, "huber", delta)
    assert np.all(rho >= 0)
    np.testing.assert_array_equal(rho, rho_neg)
    assert np.all(rho <= 0.5 * r * r + 1e-12)
    assert np.all(np.abs(psi) <= delta)


@given(st.lists(arrays(np.float64, 7, elements=st.floats(-800, 800)), min_size=1, max_size=4))
def test_log_sum_exp_matches_logaddexp_even_at_extremes(terms):
    value, shares = log_sum_exp_terms(terms)
    expected = np.logaddexp.reduce(np.stack(terms), axis=0)
    np.testing.assert_allclose(value, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(np.sum(shares, axis=0), 1.0, rtol=1e-12)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 11), st.integers(0, 5))
def test_non_positive_value_is_reported_at_its_row(row, column_index):
    column = ["params", "tokens", "flops", "params", "tokens", "flops"][column_index]
    df = pd.DataFrame(
        {"params": np.logspace(7, 9, 12), "tokens": np.logspace(9, 11, 12), "flops": np.logspace(17, 20, 12)}
    ).assign(loss=3.0)
    df.loc[row, column] = -1.0
    with pytest.raises(DataError, match=rf"column '{column}' has 1 non-positive value\(s\) \(row {row}\)"):
        load_runs(df)


@settings(max_examples=8, deadline=None)
@given(st.integers(-6, 6), st.integers(0, 2**16))
def test_power_fit_is_equivariant_to_rescaling_x(decades, seed):
    """Measuring x in other units (x * 10^k) leaves E and alpha unchanged and scales A by 10^(k alpha)."""
    rng = np.random.default_rng(seed)
    law = get_law("power")
    x = np.logspace(17, 22, 20)
    y = law.predict({"E": 1.7, "A": 2e3, "alpha": 0.15}, flops=x) * np.exp(rng.normal(0, 0.003, 20))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = fit(law, {"flops": x, "loss": y})
        b = fit(law, {"flops": x * 10.0**decades, "loss": y})
    assert b.params["alpha"] == pytest.approx(a.params["alpha"], rel=1e-5, abs=1e-7)
    assert b.params["E"] == pytest.approx(a.params["E"], rel=1e-5, abs=1e-7)
    assert b.objective == pytest.approx(a.objective, rel=1e-6, abs=1e-12)


@settings(max_examples=5, deadline=None)
@given(st.permutations(list(range(30))))
def test_fit_does_not_depend_on_row_order(order):
    rng = np.random.default_rng(0)
    law = get_law("chinchilla")
    N = np.exp(rng.uniform(np.log(1e7), np.log(1e10), 30))
    D = N * np.exp(rng.uniform(np.log(5), np.log(300), 30))
    y = law.predict({"E": 1.8, "A": 480.0, "B": 2000.0, "alpha": 0.35, "beta": 0.37}, params=N, tokens=D)
    y = y * np.exp(rng.normal(0, 0.005, 30))
    idx = np.array(order)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = fit(law, {"params": N, "tokens": D, "loss": y})
        b = fit(law, {"params": N[idx], "tokens": D[idx], "loss": y[idx]})
    assert b.objective == pytest.approx(a.objective, rel=1e-8)
    np.testing.assert_allclose(b.predict(params=7e10, tokens=1.4e12), a.predict(params=7e10, tokens=1.4e12), rtol=1e-5)
