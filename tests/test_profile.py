"""Profile-likelihood intervals with adaptive ends (scalelaw.trust.profile).

Known answer: a power law with its floor fixed at 0 is a straight line in log-log, so with squared loss
and one point per run the profile statistic ``n log(RSS(theta) / RSS)`` is that of a linear regression,
whose likelihood-ratio interval has a closed form (``RSS(theta) - RSS`` is quadratic in the slope and in
the intercept).
"""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats

import scalelaw
from scalelaw import DataError, FitError, fit, get_law
from scalelaw.trust import Profile
from scalelaw.trust.profile import Profile as ProfileDirect
from scalelaw.trust.profile import profile, profile_curves

LEVELS = (0.8, 0.9, 0.95)


def _fit(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit(*args, **kwargs)


def loglinear_data(seed: int = 0, n: int = 15, sd: float = 0.01) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    flops = np.logspace(17, 21, n)
    return {"flops": flops, "loss": 2e3 * flops**-0.15 * np.exp(rng.normal(0.0, sd, n))}


@pytest.fixture(scope="module")
def loglinear():
    data = loglinear_data()
    return data, _fit(get_law("power").fix(E=0.0), data, loss="squared")


def test_profile_matches_the_closed_form_of_a_log_linear_regression(loglinear):
    """Slope: RSS(a) = RSS + (a - a_hat)^2 Sxx; intercept: RSS(b) = RSS + (b - b_hat)^2 n Sxx / sum(x^2).
    The interval is where n log(RSS(.) / RSS) <= chi2_1(q): half-width sqrt(RSS (e^(q/n) - 1) / curvature)."""
    data, result = loglinear
    x, ly = np.log(data["flops"]), np.log(data["loss"])
    n = x.size
    slope, intercept = np.polyfit(x, ly, 1)
    rss = float(np.sum((ly - intercept - slope * x) ** 2))
    sxx = float(np.sum((x - x.mean()) ** 2))
    assert result.n_runs == n  # no run column: every row is its own run
    curves = {c.parameter: c for c in profile_curves(result, ["alpha", "A"], level=0.95, levels=LEVELS)}
    for q in LEVELS:
        grow = math.expm1(stats.chi2.ppf(q, 1) / n)
        half_a = math.sqrt(rss * grow / sxx)
        half_b = math.sqrt(rss * grow * np.sum(x**2) / (n * sxx))
        low, high, open_low, open_high = curves["alpha"].interval(q)
        assert not (open_low or open_high)
        assert low == pytest.approx(-slope - half_a, abs=1e-3 * half_a)
        assert high == pytest.approx(-slope + half_a, abs=1e-3 * half_a)
        low, high, _, _ = curves["A"].interval(q)  # A = e^intercept, profiled on a log scale
        assert math.log(low) == pytest.approx(intercept - half_b, abs=1e-3 * half_b)
        assert math.log(high) == pytest.approx(intercept + half_b, abs=1e-3 * half_b)


def checkpointed_chinchilla(seed: int = 0) -> pd.DataFrame:
    """benchmarks/coverage.py's chinchilla scenario, simulation 0 (the same generator calls in the same order):
    20 runs (N in 1e7..1e9 x 5/20/60/200 tokens per parameter), 6 checkpoints each sharing a run offset."""
    law = get_law("chinchilla")
    truth = {"E": 1.8172, "A": 482.01, "B": 2085.43, "alpha": 0.3478, "beta": 0.3658}
    rng = np.random.default_rng([seed, 0, 0])
    frames = []
    for N in np.logspace(7, 9, 5):
        for tpp in (5.0, 20.0, 60.0, 200.0):
            D = N * tpp * np.array([0.25, 0.40, 0.55, 0.70, 0.85, 1.00])
            y = law.predict(truth, params=np.full(6, N), tokens=D) * np.exp(
                rng.normal(0.0, 0.008) + rng.normal(0.0, 0.002, 6)
            )
            frames.append(pd.DataFrame({"run": f"N{N:.2g}_tpp{tpp:g}", "params": N, "tokens": D, "loss": y}))
    return pd.concat(frames, ignore_index=True)


def test_an_end_beyond_the_old_fixed_grid_is_found(tmp_path):
    """The README's example (benchmarks/README.md, "Profile re-run after 019bd2e"): E = 1.843, SE 0.021; the
    fixed grid of +-8 SE reached only 1.682 with the statistic at 2.70 < 3.84, so the 95% interval was
    reported as (-inf, 1.948]. The end is found now, and a direct refit there sits on the threshold."""
    result = _fit("chinchilla", checkpointed_chinchilla())
    assert result.params["E"] == pytest.approx(1.843, abs=1e-3)
    curve = profile_curves(result, ["E"], level=0.95)[0]
    assert not (curve.open_low or curve.open_high)
    assert curve.estimate - curve.low > 8 * result.std_errors["E"]  # beyond the old grid
    assert curve.low == pytest.approx(1.648, abs=2e-3) and curve.high == pytest.approx(1.949, abs=2e-3)
    # Independent check: refit the other parameters with E held at each end.
    for end in (curve.low, curve.high):
        held = _fit(get_law("chinchilla").fix(E=end), checkpointed_chinchilla())
        stat = result.n_runs * math.log(held.objective / result.objective)
        assert stat == pytest.approx(stats.chi2.ppf(0.95, 1), rel=0.01)


def test_a_side_that_reaches_its_bound_is_reported_open(loglinear):
    data, free = loglinear
    low90 = float(profile(free, "alpha").iloc[0]["low"])
    bound = 0.5 * (low90 + free.params["alpha"])  # inside the 90% interval, below the estimate
    result = _fit(get_law("power").fix(E=0.0).with_bounds(alpha=(bound, 5.0)), data, loss="squared")
    row = profile(result, "alpha", level=0.9).iloc[0]
    assert bool(row["open_low"]) and not bool(row["open_high"])
    assert row["low"] == bound  # an open side ends at the bound
    assert row["estimate"] < row["high"] < 0.2
    curve = profile_curves(result, ["alpha"], level=0.9)[0]
    assert curve.grid[0] == pytest.approx(bound) and curve.statistic[0] < stats.chi2.ppf(0.9, 1)
    # At a level whose threshold the profile does cross before the bound, the same side closes.
    low50, _, open50, _ = profile_curves(result, ["alpha"], level=0.9, levels=(0.1,))[0].interval(0.1)
    assert not open50 and bound < low50 < row["estimate"]


def test_an_estimate_on_its_bound_is_open_on_that_side():
    data = loglinear_data()
    data["loss"] = data["loss"] + 0.01  # a small floor: the fitted E would be ~0.01
    result = _fit(get_law("power").with_bounds(E=(0.5, 10.0)), data, loss="squared")  # E pinned at 0.5
    assert result.params["E"] == 0.5
    row = profile(result, "E", level=0.9).iloc[0]
    assert bool(row["open_low"]) and row["low"] == 0.5 and not bool(row["open_high"])
    assert 0.5 < row["high"] < 1.0


def test_profile_is_reproducible(loglinear):
    _, result = loglinear
    a = profile_curves(result, ["A", "alpha"], level=0.9)
    b = profile_curves(result, ["A", "alpha"], level=0.9)
    for ca, cb in zip(a, b, strict=True):
        np.testing.assert_array_equal(ca.grid, cb.grid)
        np.testing.assert_array_equal(ca.statistic, cb.statistic)
        assert (ca.low, ca.high, ca.n_refits) == (cb.low, cb.high, cb.n_refits)


def test_curve_is_sorted_and_contains_the_estimate(loglinear):
    _, result = loglinear
    curve = profile_curves(result, ["alpha"], level=0.9, n_grid=9)[0]
    assert np.all(np.diff(curve.grid) > 0)
    assert curve.estimate in curve.grid and curve.statistic[list(curve.grid).index(curve.estimate)] == 0.0
    assert curve.levels == (0.9,) and curve.n_refits >= 8


def test_reexports_and_result_method(loglinear):
    _, result = loglinear
    assert Profile is ProfileDirect
    via_method = result.profile("alpha", level=0.9)
    assert list(via_method.columns) == [
        "quantity",
        "estimate",
        "low",
        "high",
        "level",
        "open_low",
        "open_high",
        "method",
    ]
    pd.testing.assert_frame_equal(via_method, profile(result, "alpha", level=0.9))
    assert scalelaw.trust.profile_curves is profile_curves


def test_bad_arguments_are_refused(loglinear):
    _, result = loglinear
    with pytest.raises(DataError, match="between 0 and 1"):
        profile(result, "alpha", level=95)
    with pytest.raises(DataError, match="between 0 and 1"):
        profile_curves(result, ["alpha"], levels=(1.5,))
    with pytest.raises(FitError, match="n_grid"):
        profile_curves(result, ["alpha"], n_grid=1)
    curve = profile_curves(result, ["alpha"], level=0.8)[0]
    with pytest.raises(FitError, match=r"extended only to level 0.8.*levels=\[0.95\]"):
        curve.interval(0.95)
    with pytest.raises(scalelaw.ScaleLawError):
        profile(result, "gamma")
    with pytest.raises(AttributeError):
        scalelaw.trust.no_such_name  # noqa: B018


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), sd=st.floats(0.003, 0.03))
def test_intervals_are_nested_and_their_ends_sit_on_the_threshold(seed, sd):
    """For any data: 80% inside 90% inside 95%, every end closed here, and the statistic, interpolated at
    each end, equals that level's chi-square quantile."""
    result = _fit(get_law("power").fix(E=0.0), loglinear_data(seed, sd=sd), loss="squared")
    curve = profile_curves(result, ["alpha"], level=0.95, levels=LEVELS)[0]
    ends = [curve.interval(q) for q in LEVELS]
    for (lo_in, hi_in, *_), (lo_out, hi_out, *_) in itertools.pairwise(ends):
        assert lo_out < lo_in < curve.estimate < hi_in < hi_out
    for q, (low, high, open_low, open_high) in zip(LEVELS, ends, strict=True):
        assert not (open_low or open_high)
        at = np.interp([low, high], curve.grid, curve.statistic)
        np.testing.assert_allclose(at, stats.chi2.ppf(q, 1), rtol=5e-3)
