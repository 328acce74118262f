"""Laws written as formulas: parsing, defaults, exact symbolic gradients, JSON, starts and recovery."""

from __future__ import annotations

import json
import math
import pickle
import warnings

import numpy as np
import pytest

from scalelaw.errors import LawError
from scalelaw.fitting.engine import Problem, multistart
from scalelaw.laws import Law, get_law, law_from_dict
from scalelaw.laws.expression import ExpressionLaw

EPOCH = {"E": 1.8172, "A": 482.01, "B": 2085.43, "alpha": 0.3478, "beta": 0.3658}
CHINCHILLA = "E + A/params**alpha + B/tokens**beta"


def _design_nd(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    N = np.repeat(np.logspace(7, 10, 8), 6)
    return {
        "params": N * np.exp(rng.normal(0, 0.05, N.size)),
        "tokens": N * np.tile(np.logspace(0.5, 2.7, 6), 8),
    }


def _columns(law: Law, names) -> list[int]:
    return [law.param_names.index(n) for n in names]


# ------------------------------------------------------------------------------ agreement with the catalog
def test_power_expression_matches_catalog_power():
    law = ExpressionLaw.from_expression("E + A*params**-alpha")
    power = get_law("power", x="params")
    assert law.inputs == ("params",)
    assert law.param_names == power.param_names == ("E", "A", "alpha")
    N = np.logspace(6, 12, 40)
    values = {"E": 1.7, "A": 2.0e3, "alpha": 0.15}
    np.testing.assert_allclose(law.predict(values, params=N), power.predict(values, params=N), rtol=1e-13)
    np.testing.assert_allclose(law.jacobian(values, params=N), power.jacobian(values, params=N), rtol=1e-10)
    sets = np.array([[1.7, 2.0e3, 0.15], [0.5, 10.0, 0.5], [0.0, 3.0, 0.05]])
    np.testing.assert_allclose(law.predict(sets, params=N), power.predict(sets, params=N), rtol=1e-13)


def test_chinchilla_expression_matches_catalog_chinchilla():
    law = ExpressionLaw.from_expression(CHINCHILLA)
    chinchilla = get_law("chinchilla")
    assert law.inputs == chinchilla.inputs
    assert law.param_names == ("E", "A", "alpha", "B", "beta")  # order of first appearance
    X = _design_nd()
    pred = law.predict(EPOCH, **X)
    np.testing.assert_allclose(pred, chinchilla.predict(EPOCH, **X), rtol=1e-10)
    J = law.jacobian(EPOCH, **X)
    assert J.shape == (X["params"].size, 5)
    np.testing.assert_allclose(J[:, _columns(law, chinchilla.param_names)], chinchilla.jacobian(EPOCH, **X), rtol=1e-10)
    # Many parameter sets at once, in the catalog's order of parameters.
    rng = np.random.default_rng(3)
    cat_sets = chinchilla.theta(EPOCH) * np.exp(rng.normal(0, 0.1, (6, 5)))
    expr_sets = np.empty_like(cat_sets)
    expr_sets[:, _columns(law, chinchilla.param_names)] = cat_sets
    bound = law.bind(X)
    log_a, J_a = law.log_predict_jac(expr_sets, bound)
    log_b, J_b = chinchilla.log_predict_jac(cat_sets, bound)
    assert log_a.shape == (6, X["params"].size) and J_a.shape == (6, 5, X["params"].size)
    np.testing.assert_allclose(log_a, log_b, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(J_a[:, _columns(law, chinchilla.param_names)], J_b, rtol=1e-10, atol=1e-14)


def test_caret_is_power_and_law_from_expression_delegates():
    a = ExpressionLaw.from_expression("E + A/params^alpha + B/tokens^beta")
    b = Law.from_expression(CHINCHILLA)
    X = _design_nd()
    assert isinstance(b, ExpressionLaw)
    np.testing.assert_allclose(a.predict(EPOCH, **X), b.predict(EPOCH, **X), rtol=1e-14)
    assert b.formula() == CHINCHILLA
    assert "ExpressionLaw" in repr(b) and CHINCHILLA in repr(b)


# ------------------------------------------------------------------------------ gradients and shapes
GRADIENT_CASES = [
    ("E + A*params**-alpha", {"E": 1.7, "A": 2e3, "alpha": 0.15}),
    (CHINCHILLA, EPOCH),
    (
        "((N_c/params)**(alpha_N/alpha_D) + D_c/tokens)**alpha_D",
        {"N_c": 6.4e13, "D_c": 1.8e13, "alpha_N": 0.076, "alpha_D": 0.103},
    ),
    (
        "E + A*exp(-tokens/tau) + B*sigmoid(k*(log(params) - m))",
        {"E": 1.0, "A": 2.0, "tau": 3e9, "B": 0.5, "k": 0.8, "m": 20.0},
    ),
    (
        "L0 + A*sqrt(params)**-a * tanh(tokens/D_c) + softplus(c*log10(tokens))",
        {"L0": 0.3, "A": 50.0, "a": 0.4, "D_c": 1e10, "c": 0.1},
    ),
]


@pytest.mark.parametrize("expression,truth", GRADIENT_CASES, ids=[c[0] for c in GRADIENT_CASES])
def test_gradient_matches_finite_differences(expression, truth):
    law = ExpressionLaw.from_expression(expression)
    X = law.bind(_design_nd())
    rng = np.random.default_rng(1)
    theta = law.theta(truth) * np.exp(rng.normal(0, 0.05, (4, law.n_params)))
    _, J = law.log_predict_jac(theta, X)
    assert J.shape == (4, law.n_params, X["params"].size)
    for k in range(law.n_params):
        h = 1e-6 * np.maximum(np.abs(theta[:, k]), 1e-3)
        up, down = theta.copy(), theta.copy()
        up[:, k] += h
        down[:, k] -= h
        numeric = (law.log_predict_jac(up, X, jac=False)[0] - law.log_predict_jac(down, X, jac=False)[0]) / (
            2 * h[:, None]
        )
        np.testing.assert_allclose(J[:, k, :], numeric, rtol=2e-5, atol=1e-8, err_msg=law.param_names[k])


def test_constant_derivatives_and_values_broadcast():
    # d/dE = 1 and d/dA are free of some arguments; shapes must still be (n_sets, ...rows).
    law = ExpressionLaw.from_expression("E + A*step")
    theta = np.array([[1.0, 2.0], [0.5, 0.1], [2.0, 3.0]])
    log_pred, J = law.log_predict_jac(theta, law.bind({"step": [1.0, 2.0, 3.0, 4.0]}))
    assert log_pred.shape == (3, 4) and J.shape == (3, 2, 4)
    np.testing.assert_allclose(np.exp(log_pred), theta[:, [0]] + theta[:, [1]] * np.arange(1, 5))
    np.testing.assert_allclose(J[:, 0, :], 1.0 / np.exp(log_pred))


def test_non_positive_values_give_non_finite_logs_without_warnings():
    law = ExpressionLaw.from_expression("E - A*params**-alpha", bounds={"E": (-10.0, 10.0)})
    theta = np.array([[2.0, 1.0, 0.5], [0.0, 0.0, 0.1], [-1.0, 1.0, 0.5]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        log_pred, _ = law.log_predict_jac(theta, law.bind({"params": [1e2, 1e4, 1e6]}))
        law.log_predict_jac(theta, law.bind({"params": [1e2, 1e4, 1e6]}), jac=False)
    assert not np.isfinite(log_pred[1:]).any()
    assert np.isfinite(log_pred[0]).all()


# ------------------------------------------------------------------------------ JSON and variations
def test_json_round_trip_is_exact():
    law = ExpressionLaw.from_expression(CHINCHILLA, bounds={"alpha": (0.0, 2.0)}, grid={"beta": [0.2, 0.4]})
    d = law.to_dict()
    assert d["type"] == "expression" and d["expression"] == CHINCHILLA
    assert d["inputs"] == ["params", "tokens"] and d["output"] == "loss" and d["name"] == "expression"
    assert [p["name"] for p in d["parameters"]] == ["E", "A", "alpha", "B", "beta"]
    again = law_from_dict(json.loads(json.dumps(d)))
    assert isinstance(again, ExpressionLaw)
    assert again == law and again.to_dict() == d
    assert ExpressionLaw.from_dict(d) == law
    X = _design_nd()
    np.testing.assert_array_equal(again.predict(EPOCH, **X), law.predict(EPOCH, **X))
    np.testing.assert_array_equal(again.jacobian(EPOCH, **X), law.jacobian(EPOCH, **X))
    # Variations made through the Law API survive the round trip too.
    for variant in (law.with_bounds(E=(1.0, 3.0)), law.fix(E=1.8), law.with_inputs("N", "D")):
        assert law_from_dict(json.loads(json.dumps(variant.to_dict()))) == variant
    assert law != ExpressionLaw.from_expression(CHINCHILLA)  # the bounds differ
    assert pickle.loads(pickle.dumps(law)) == law


def test_with_inputs_renames_symbols_in_the_formula():
    law = ExpressionLaw.from_expression(CHINCHILLA)
    renamed = law.with_inputs("N_ne", "D")
    assert renamed.inputs == ("N_ne", "D")
    assert renamed.expression == "E + A/N_ne**alpha + B/D**beta"
    X = _design_nd()
    # Renamed symbols may reorder sympy's sums, so equal up to rounding.
    np.testing.assert_allclose(
        renamed.predict(EPOCH, N_ne=X["params"], D=X["tokens"]), law.predict(EPOCH, **X), rtol=1e-14
    )
    swapped = law.with_inputs("tokens", "params")
    assert swapped.expression == "E + A/tokens**alpha + B/params**beta"
    with pytest.raises(LawError, match="clash"):
        law.with_inputs("alpha", "tokens")


def test_custom_input_columns():
    law = ExpressionLaw.from_expression("E + A*N**-alpha", inputs=["N"])
    assert law.inputs == ("N",) and law.param_names == ("E", "A", "alpha")
    assert law_from_dict(law.to_dict()) == law
    with pytest.raises(LawError, match="'D' does not appear"):
        ExpressionLaw.from_expression("E + A*N**-alpha", inputs=["N", "D"])


# ------------------------------------------------------------------------------ defaults and overrides
def test_default_naming_rule():
    law = ExpressionLaw.from_expression("L_inf + a*params**-b + C*exp(-step/tau) + x0*step")
    p = {q.name: q for q in law.parameters}
    assert law.inputs == ("params", "step")
    # floor
    assert (p["L_inf"].transform, p["L_inf"].lower, p["L_inf"].upper) == ("identity", 0.0, math.inf)
    # amplitudes: a single capital, and symbols multiplying an input-dependent factor (even 'a' and 'x0')
    for name in ("a", "C", "x0"):
        assert (p[name].transform, p[name].lower, p[name].upper) == ("log", 1e-12, 1e30), name
    # exponents: Greek-like names and single lowercase letters
    for name in ("b", "tau"):
        assert (p[name].transform, p[name].lower, p[name].upper, p[name].grid) == (
            "identity",
            0.0,
            5.0,
            (0.1, 0.3, 0.6),
        )
    kaplan = ExpressionLaw.from_expression("((N_c/params)**(alpha_N/alpha_D) + D_c/tokens)**alpha_D")
    assert [q.transform for q in kaplan.parameters] == ["log", "identity", "identity", "log"]
    saturating = ExpressionLaw.from_expression("E + A*(1 + params/s)**-alpha")
    assert saturating.parameter("s").transform == "log"  # divides an input inside a power's base
    other = ExpressionLaw.from_expression("E + A*exp(-params/width)")
    assert (other.parameter("width").lower, other.parameter("width").upper) == (-math.inf, math.inf)


def test_user_overrides():
    law = ExpressionLaw.from_expression(
        "E + A*params**-alpha",
        bounds={"alpha": (0.05, 1.0), "E": (0.5, 3.0)},
        transforms={"E": "log"},
        grid={"alpha": [0.2, 0.4]},
        output="val_loss",
        name="my_power",
    )
    assert law.output == "val_loss" and law.name == "my_power"
    E, alpha = law.parameter("E"), law.parameter("alpha")
    assert (E.transform, E.lower, E.upper) == ("log", 0.5, 3.0)
    assert (alpha.lower, alpha.upper, alpha.grid) == (0.05, 1.0, (0.2, 0.4))
    assert ExpressionLaw.from_expression("E + A*params**-alpha", bounds={"alpha": (0.2, 1.0)}).parameter(
        "alpha"
    ).grid == (0.3, 0.6)
    with pytest.raises(LawError, match="its parameters are E, A, alpha"):
        ExpressionLaw.from_expression("E + A*params**-alpha", bounds={"beta": (0.0, 1.0)})
    with pytest.raises(LawError, match="not parameters"):
        ExpressionLaw.from_expression("E + A*params**-alpha", transforms={"gamma": "log"})


# ------------------------------------------------------------------------------ errors
BAD = [
    ("E + A*", "cannot parse", "e.g. 'E + A*params**-alpha'"),
    ("E + A*(params**-alpha", "parentheses", "e.g."),
    ("E + foo(params)", "unknown function 'foo'", "exp, log"),
    ("params * tokens + 1", "no parameters", "e.g. 'E + A*params**-alpha'"),
    ("E + A*x**-alpha", "reads no data column", "inputs="),
    ("__import__('os').system('echo hi')", "'__import__' is not allowed", "e.g."),
    ("E + A*params.real", "'.' is not allowed", "e.g."),
    ("E + lambda*params", "keyword", "lam"),
    ("E + A*params**-alpha; 1", "';' is not allowed", "e.g."),
    ("E + A*params**-alpha, B", "not a single formula", "e.g."),
    ("E + A*params/0", "infinite", "e.g."),
    ("E + exp*params", "is a function", "exp(...)"),
    ("", "empty", "e.g."),
    ("E + A*params**-alpha == 1", "'==' is not allowed", "e.g."),
]


@pytest.mark.parametrize("expression,what,how", BAD, ids=[b[0] or "empty" for b in BAD])
def test_bad_expressions_say_what_is_wrong(expression, what, how):
    with pytest.raises(LawError) as info:
        ExpressionLaw.from_expression(expression)
    assert what in str(info.value)
    assert how in str(info.value)


def test_saved_definition_must_match_its_expression():
    d = ExpressionLaw.from_expression("E + A*params**-alpha").to_dict()
    d["parameters"] = d["parameters"][:2]
    with pytest.raises(LawError, match="do not match"):
        law_from_dict(d)


# ------------------------------------------------------------------------------ starts and recovery
def test_start_grid_is_bounded_and_follows_the_data_scale():
    law = ExpressionLaw.from_expression(CHINCHILLA)
    design = _design_nd()
    X = law.bind(design)
    y = get_law("chinchilla").predict(EPOCH, **design)
    grid = law.start_grid(X, y)
    lo = np.array([p.lower for p in law.parameters])
    hi = np.array([p.upper for p in law.parameters])
    assert 1 <= grid.shape[0] <= 4096 and grid.shape[1] == law.n_params
    assert np.all(grid >= lo) and np.all(grid <= hi)
    assert np.unique(grid, axis=0).shape[0] == grid.shape[0]
    # Amplitudes are solved from the data: some start is already close, none is far off.
    log_pred, _ = law.log_predict_jac(grid, X, jac=False)
    miss = np.mean(np.abs(log_pred - np.log(y)), axis=1)
    assert miss.min() < 0.1 and miss.max() < 1.0
    # The same data in other units: floors and amplitudes scale with it, exponents do not move.
    scaled = law.start_grid(X, 1e4 * y)
    linear = _columns(law, ("E", "A", "B"))
    np.testing.assert_allclose(scaled[:, linear], 1e4 * grid[:, linear], rtol=1e-9)
    np.testing.assert_array_equal(
        scaled[:, _columns(law, ("alpha", "beta"))], grid[:, _columns(law, ("alpha", "beta"))]
    )


def test_start_grid_searches_nonlinear_scales():
    law = ExpressionLaw.from_expression("((N_c/params)**(alpha_N/alpha_D) + D_c/tokens)**alpha_D")
    truth = {"N_c": 6.4e13, "D_c": 1.8e13, "alpha_N": 0.076, "alpha_D": 0.103}
    design = _design_nd()
    X = law.bind(design)
    y = law.predict(truth, **design)
    grid = law.start_grid(X, y)
    log_pred, _ = law.log_predict_jac(grid, X, jac=False)
    assert np.min(np.mean(np.abs(log_pred - np.log(y)), axis=1)) < 0.15


RECOVERY = [
    ("E + A*params**-alpha", {"E": 1.7, "A": 400.0, "alpha": 0.3}, {"E": 0.02, "alpha": 0.05}),
    (
        "E + A*(1 + params/N_c)**-alpha",
        {"E": 2.0, "A": 3.0, "N_c": 1e8, "alpha": 0.5},
        {"E": 0.02, "A": 0.1, "N_c": 0.3, "alpha": 0.1},
    ),
]


@pytest.mark.parametrize("expression,truth,tolerance", RECOVERY, ids=[r[0] for r in RECOVERY])
def test_recovers_known_parameters(expression, truth, tolerance):
    law = ExpressionLaw.from_expression(expression)
    rng = np.random.default_rng(0)
    N = np.logspace(6, 11, 30)
    y = law.predict(truth, params=N) * np.exp(rng.normal(0, 0.005, N.size))
    X = law.bind({"params": N})
    pb = Problem(law, X, np.log(y))
    res = multistart(pb, law.to_internal(law.start_grid(X, y)), keep=32)
    theta_hat = law.from_internal(res.z[0])
    assert res.objective[0] <= pb.objective(law.to_internal(law.theta(truth)))[0] * (1 + 1e-9)
    for name, rtol in tolerance.items():
        assert theta_hat[law.param_names.index(name)] == pytest.approx(truth[name], rel=rtol), name
