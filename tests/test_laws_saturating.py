"""M4 and BNSL (scalelaw.laws.saturating): oracles, exact gradients, shapes, starts, JSON and recovery."""

from __future__ import annotations

import numpy as np
import pytest

from scalelaw import get_law
from scalelaw.errors import LawError
from scalelaw.fitting.engine import Problem, multistart
from scalelaw.laws import law_from_dict


def _check_gradient(law, theta, X, one_sided=(), skip=(), rtol=2e-5, atol=1e-8):
    """Analytic Jacobian vs central differences (second-order forward differences for ``one_sided``)."""
    X = law.bind(X)
    log_pred, J = law.log_predict_jac(theta, X)
    assert J.shape == (theta.shape[0], law.n_params, log_pred.shape[1])
    for k, name in enumerate(law.param_names):
        if name in skip:
            continue
        h = 1e-6 * np.maximum(np.abs(theta[:, k]), 1.0 if name in one_sided else 1e-3)
        step = np.zeros_like(theta)
        step[:, k] = h
        f = lambda t: law.log_predict_jac(t, X, jac=False)[0]  # noqa: E731
        if name in one_sided:
            numeric = (-3 * log_pred + 4 * f(theta + step) - f(theta + 2 * step)) / (2 * h[:, None])
        else:
            numeric = (f(theta + step) - f(theta - step)) / (2 * h[:, None])
        # Rounding in log_pred limits central differences to about eps * |log_pred| / h.
        tol = atol + rtol * np.abs(numeric) + 1e-15 * np.abs(log_pred) / h[:, None]
        bad = np.abs(J[:, k, :] - numeric) > tol
        assert not bad.any(), f"{name}: analytic {J[:, k, :][bad][:3]} vs numeric {numeric[bad][:3]}"


def _inside_bounds(law, theta):
    lo = np.array([p.lower for p in law.parameters])
    hi = np.array([p.upper for p in law.parameters])
    return np.all(theta >= lo) and np.all(theta <= hi)


# ---------------------------------------------------------------------------------------------- M4

M4_ORACLE = {"L_inf": 0.1, "L0": 1.0, "beta": 10.0, "c": -0.5, "alpha": 1.0}


def test_m4_oracle_alpha_one():
    # laws.md §15.7 [S oracle]: beta=10, c=-0.5, alpha=1, L_inf=0.1, L0=1.0 at x=1e4 -> L = 0.181818
    # (= the alpha=1 closed form (L_inf + L0 f)/(1 + f), f = beta x^c = 0.1, i.e. 0.2/1.1).
    law = get_law("m4")
    assert law.predict(M4_ORACLE, flops=1e4)[0] == pytest.approx(0.181818, abs=5e-7)
    assert law.predict(M4_ORACLE, flops=1e4)[0] == pytest.approx(0.2 / 1.1, rel=1e-14)


def test_m4_alpha_one_closed_form_everywhere():
    # laws.md §1.3: with alpha = 1, L = (L_inf + L0 f) / (1 + f), f = beta x^c.
    x = np.logspace(-3, 12, 31)
    f = 10.0 * x**-0.5
    expected = (0.1 + 1.0 * f) / (1.0 + f)
    np.testing.assert_allclose(get_law("m4").predict(M4_ORACLE, flops=x), expected, rtol=1e-13)


@pytest.mark.parametrize("alpha", [0.3, 0.5, 2.0, 3.7])
def test_m4_prediction_solves_the_defining_equation(alpha):
    # (L - L_inf) / (L0 - L)^alpha = beta x^c (laws.md §1.3), checked wherever L is not within
    # rounding of an end.
    theta = {"L_inf": 0.4, "L0": 2.3, "beta": 300.0, "c": -0.6, "alpha": alpha}
    x = np.logspace(0, 10, 41)
    L = get_law("m4", x="tokens").predict(theta, tokens=x)
    assert np.all((L > 0.4) & (L < 2.3))
    interior = (L - 0.4 > 1e-6) & (2.3 - L > 1e-6)
    lhs = (L - 0.4) / (2.3 - L) ** alpha
    np.testing.assert_allclose(lhs[interior], (300.0 * x**-0.6)[interior], rtol=1e-9)
    assert np.all(np.diff(L) < 0)  # monotone in x for c < 0


def test_m4_alpha_zero_is_m2_below_l0_and_saturates_at_l0():
    # laws.md §1.3: with alpha = 0, M4 reduces to M2, L = L_inf + beta x^c (here the alpha -> 0+
    # limit, capped at L0).
    theta = {"L_inf": 0.5, "L0": 3.0, "beta": 50.0, "c": -0.5, "alpha": 0.0}
    x = np.logspace(2, 8, 13)
    L = get_law("m4").predict(theta, flops=x)
    np.testing.assert_allclose(L, np.minimum(0.5 + 50.0 * x**-0.5, 3.0), rtol=1e-13)
    # Continuous in alpha at 0.
    near = get_law("m4").predict({**theta, "alpha": 1e-9}, flops=x)
    np.testing.assert_allclose(near, L, rtol=1e-7)


def test_m4_extreme_parameters_stay_finite_and_ordered():
    law = get_law("m4")
    theta = law.theta(
        [
            [0.0, 1.0, 1e-20, -0.5, 0.5],
            [0.2, 1.0, 1e30, -0.1, 5.0],
            [0.2, 1.0, 1e3, -1.0, 1e-7],
            [0.0, 7.0, 1e5, -3.0, 2.0],
        ]
    )
    X = law.bind({"flops": np.logspace(0, 20, 21)})
    log_pred, J = law.log_predict_jac(theta, X)
    assert np.all(np.isfinite(log_pred)) and np.all(np.isfinite(J))
    L = np.exp(log_pred)
    assert np.all(L >= theta[:, [0]] * (1 - 1e-15)) and np.all(L <= theta[:, [1]] * (1 + 1e-15))


def test_m4_needs_l0_above_l_inf():
    law = get_law("m4")
    out = law.predict({"L_inf": 1.0, "L0": 0.5, "beta": 1.0, "c": -0.5, "alpha": 1.0}, flops=[1e3, 1e4])
    assert np.all(np.isnan(out))


@pytest.mark.parametrize("alpha", [0.0, 0.5, 1.0, 2.0])
def test_m4_gradient_matches_finite_differences(alpha):
    law = get_law("m4")
    rng = np.random.default_rng(int(alpha * 10))
    n = 6
    theta = np.column_stack(
        [
            rng.uniform(0.0, 1.0, n),
            rng.uniform(2.0, 4.0, n),
            np.exp(rng.uniform(0.0, 7.0, n)),
            rng.uniform(-1.2, -0.2, n),
            np.full(n, alpha),
        ]
    )
    assert _inside_bounds(law, theta)
    # alpha = 0 sits on its lower bound: differentiate one-sided there (the law is the alpha -> 0+ limit).
    _check_gradient(law, theta, {"flops": np.logspace(0, 10, 41)}, one_sided=("alpha",) if alpha == 0 else ())


def test_m4_shapes():
    law = get_law("m4")
    x = np.logspace(2, 8, 17)
    sets = np.vstack([law.theta(M4_ORACLE)] * 3)
    log_pred, J = law.log_predict_jac(sets, law.bind({"flops": x}))
    assert log_pred.shape == (3, 17)
    assert J.shape == (3, 5, 17)
    assert law.predict(M4_ORACLE, flops=x).shape == (17,)
    assert law.jacobian(M4_ORACLE, flops=x).shape == (17, 5)
    assert law.param_names == ("L_inf", "L0", "beta", "c", "alpha")


def test_m4_options_start_grid_and_fixed_l0():
    law = get_law("m4", x="tokens", L0=2.3)
    assert law.inputs == ("tokens",)
    assert law_from_dict(law.to_dict()) == law
    assert law_from_dict(get_law("m4").to_dict()) == get_law("m4")
    x = np.logspace(4, 8, 30)
    y = law.predict({"L_inf": 0.5, "L0": 2.3, "beta": 500.0, "c": -0.5, "alpha": 1.5}, tokens=x)
    grid = law.start_grid(law.bind({"tokens": x}), y)
    assert _inside_bounds(law, grid) and 16 <= grid.shape[0] <= 500
    assert np.all(grid[:, 1] == 2.3)  # the known chance loss seeds L0
    free_grid = get_law("m4").start_grid({"flops": x}, y)
    assert np.all(free_grid[:, 1] >= y.max()) and np.all(free_grid[:, 0] < y.min())
    # Starts with L0 on the largest loss are the alpha = 0 cap that fits that point (see start_grid).
    capped = free_grid[free_grid[:, 1] == y.max()]
    assert capped.shape[0] == 16 and np.all(capped[:, 4] == 0.0)
    fixed = law.fix(L0=2.3)
    assert fixed.param_names == ("L_inf", "beta", "c", "alpha")
    assert law_from_dict(fixed.to_dict()) == fixed
    with pytest.raises(LawError):
        get_law("m4", L0=-1.0)


# -------------------------------------------------------------------------------------------- BNSL


def _bnsl_direct(x, a, b, c0, *breaks):
    """The published formula, term by term (laws.md §1.4)."""
    y = b * x ** (-c0)
    for c, d, f in breaks:
        y = y * (1.0 + (x / d) ** (1.0 / f)) ** (-c * f)
    return a + y


def test_bnsl_zero_breaks_is_power_plus_constant():
    # laws.md §15.7 [S oracle]: BNSL with n = 0 equals a + b x^-c0 exactly.
    law = get_law("bnsl", breaks=0)
    x = np.logspace(0, 24, 25)
    theta = {"a": 1.7, "b": 2.0e3, "c0": 0.15}
    np.testing.assert_allclose(law.predict(theta, flops=x), 1.7 + 2.0e3 * x**-0.15, rtol=1e-14)
    power = get_law("power").predict({"E": 1.7, "A": 2.0e3, "alpha": 0.15}, flops=x)
    np.testing.assert_allclose(law.predict(theta, flops=x), power, rtol=1e-14)


def test_bnsl_one_break_local_slopes():
    # laws.md §15.7 [S oracle]: one break (c0=0.1, c1=0.4, d1=1e6, f1=0.1): the local log-log slope
    # of y - a is 0.1000 at x=1e2 and 0.5000 at x=1e10 (in magnitude; y - a falls).
    law = get_law("bnsl", breaks=1)
    theta = {"a": 0.0, "b": 1.0, "c0": 0.1, "c1": 0.4, "d1": 1e6, "f1": 0.1}
    for x, slope in ((1e2, 0.1), (1e10, 0.5)):
        h = 1e-4
        up, down = law.predict(theta, flops=x * np.exp(h))[0], law.predict(theta, flops=x * np.exp(-h))[0]
        assert -(np.log(up) - np.log(down)) / (2 * h) == pytest.approx(slope, rel=1e-6)
    # With a floor the slope of y - a is unchanged.
    with_floor = {**theta, "a": 0.3}
    y = law.predict(with_floor, flops=[1e2 * np.exp(1e-4), 1e2 * np.exp(-1e-4)]) - 0.3
    assert -(np.log(y[0]) - np.log(y[1])) / 2e-4 == pytest.approx(0.1, rel=1e-5)


@pytest.mark.parametrize("breaks", [1, 2])
def test_bnsl_matches_the_published_formula(breaks):
    params = [(0.4, 1e4, 0.3), (-0.3, 1e7, 1.5)][:breaks]
    theta = [0.25, 40.0, 0.2] + [v for p in params for v in p]
    x = np.logspace(1, 10, 19)
    law = get_law("bnsl", breaks=breaks)
    expected = _bnsl_direct(x, 0.25, 40.0, 0.2, *params)
    np.testing.assert_allclose(law.predict(theta, flops=x), expected, rtol=1e-12)


def test_bnsl_sharp_breaks_do_not_overflow():
    law = get_law("bnsl", breaks=2)
    theta = law.theta([0.0, 1.0, 0.1, 2.0, 1e3, 0.01, -1.5, 1e6, 0.01])
    X = law.bind({"flops": np.logspace(0, 30, 31)})
    log_pred, J = law.log_predict_jac(theta, X)
    assert np.all(np.isfinite(log_pred)) and np.all(np.isfinite(J))
    # Far past both breaks the slope of log y is -(0.1 + 2.0 - 1.5).
    assert (log_pred[0, -1] - log_pred[0, -2]) / np.log(10) == pytest.approx(-0.6, rel=1e-9)


@pytest.mark.parametrize("breaks", [0, 1, 2])
def test_bnsl_gradient_matches_finite_differences(breaks):
    law = get_law("bnsl", breaks=breaks)
    rng = np.random.default_rng(breaks)
    n = 6
    cols = [rng.uniform(0.0, 1.0, n), np.exp(rng.uniform(0.0, 5.0, n)), rng.uniform(-0.2, 0.6, n)]
    for _ in range(breaks):
        cols += [
            rng.uniform(-0.6, 1.0, n),
            10 ** rng.uniform(3.0, 8.0, n),
            np.exp(rng.uniform(np.log(0.05), np.log(5.0), n)),
        ]
    theta = np.column_stack(cols)
    assert _inside_bounds(law, theta)
    _check_gradient(law, theta, {"flops": np.logspace(1, 11, 41)})
    # A floor of exactly zero sits on its lower bound (and y can be tiny, so differences in a are useless):
    # d log y / d a = 1 / y there, and the other columns still match.
    theta[:, 0] = 0.0
    X = law.bind({"flops": np.logspace(1, 11, 41)})
    log_pred, J = law.log_predict_jac(theta, X)
    np.testing.assert_allclose(J[:, 0], np.exp(-log_pred), rtol=1e-14)
    _check_gradient(law, theta, X, skip=("a",))


@pytest.mark.parametrize("breaks", [0, 1, 2])
def test_bnsl_shapes_names_json_and_starts(breaks):
    law = get_law("bnsl", x="tokens", breaks=breaks)
    n_par = 3 + 3 * breaks
    assert law.n_params == n_par
    assert law.param_names[:3] == ("a", "b", "c0")
    if breaks:
        assert law.param_names[3:6] == ("c1", "d1", "f1")
    assert law_from_dict(law.to_dict()) == law
    x = np.logspace(3, 9, 50)
    theta = law.start_grid(law.bind({"tokens": x}), 1.0 + 10 * x**-0.2)
    assert theta.shape[1] == n_par and 10 <= theta.shape[0] <= 3000
    assert _inside_bounds(law, theta)
    log_pred, J = law.log_predict_jac(theta[:4], law.bind({"tokens": x}))
    assert log_pred.shape == (4, 50) and J.shape == (4, n_par, 50)
    assert np.all(np.isfinite(log_pred))


def test_bnsl_rejects_other_break_counts():
    with pytest.raises(LawError):
        get_law("bnsl", breaks=3)


# ---------------------------------------------------------------------------------------- recovery


def _recover(law, truth, X, seed=0, noise=0.005):
    rng = np.random.default_rng(seed)
    X = law.bind(X)
    y_true = law.predict(truth, **X)
    y = y_true * np.exp(rng.normal(0.0, noise, y_true.shape))
    problem = Problem(law, X, np.log(y))
    res = multistart(problem, law.to_internal(law.start_grid(X, y)), keep=32)
    theta = law.from_internal(res.z[0])
    assert res.objective[0] <= problem.objective(law.to_internal(law.theta(truth)))[0] * (1 + 1e-9)
    np.testing.assert_allclose(law.predict(theta, **X), y_true, rtol=0.015)
    return dict(zip(law.param_names, theta, strict=True))


def test_m4_recovers_a_full_learning_curve():
    truth = {"L_inf": 0.5, "L0": 2.3, "beta": 0.9**-0.5 * 10**2.75, "c": -0.5, "alpha": 1.5}
    fit = _recover(get_law("m4", x="tokens"), truth, {"tokens": np.logspace(3, 8, 60)})
    assert fit["L_inf"] == pytest.approx(0.5, rel=0.1)
    assert fit["L0"] == pytest.approx(2.3, rel=0.05)
    assert fit["c"] == pytest.approx(-0.5, rel=0.2)


def test_bnsl_recovers_one_break():
    truth = {"a": 0.5, "b": 20.0, "c0": 0.05, "c1": 0.4, "d1": 1e6, "f1": 0.3}
    fit = _recover(get_law("bnsl", breaks=1), truth, {"flops": np.logspace(3, 9, 80)})
    for name, rel in (("a", 0.1), ("c0", 0.1), ("c1", 0.05), ("d1", 0.2)):
        assert fit[name] == pytest.approx(truth[name], rel=rel), name
