"""Muennighoff et al.'s data-constrained law (scalelaw.laws.data_constrained)."""

from __future__ import annotations

import numpy as np
import pytest

from scalelaw import get_law
from scalelaw.fitting.engine import Problem, multistart
from scalelaw.laws import law_from_dict
from scalelaw.laws.data_constrained import compute_optimal_params, effective_data, effective_params

# Published constants: huggingface/datablations README.md, section "Parametric Fit" (also notebook
# utils/parametric_fit.ipynb cells 7 and 29); natural-log parametrization A = e^a, B = e^b, E = e^e.
# Quoted in docs/ORACLES.md §2.
a, b, e, alpha, beta, rd_star, rn_star = (
    6.255414,
    7.3049974,
    0.6254804,
    0.3526596,
    0.3526596,
    15.387756,
    5.309743,
)
PUBLISHED = {
    "E": np.exp(e),
    "A": np.exp(a),
    "B": np.exp(b),
    "alpha": alpha,
    "beta": beta,
    "R_D_star": rd_star,
    "R_N_star": rn_star,
}
PUBLISHED_TIED = {k: v for k, v in PUBLISHED.items() if k != "beta"}


def _check_gradient(law, theta, X, rtol=2e-5, atol=1e-8):
    X = law.bind(X)
    _, J = law.log_predict_jac(theta, X)
    for k, name in enumerate(law.param_names):
        h = 1e-6 * np.maximum(np.abs(theta[:, k]), 1e-3)
        up, down = theta.copy(), theta.copy()
        up[:, k] += h
        down[:, k] -= h
        numeric = (law.log_predict_jac(up, X, jac=False)[0] - law.log_predict_jac(down, X, jac=False)[0]) / (
            2 * h[:, None]
        )
        np.testing.assert_allclose(J[:, k, :], numeric, rtol=rtol, atol=atol, err_msg=name)


# ------------------------------------------------------------------------------------ oracles


@pytest.mark.parametrize("tied", [False, True])
def test_readme_worked_predictions(tied):
    # datablations README.md, "Models in Figure 1 (right)" (ORACLES.md §2, verified there):
    # scaling_law(N=6.34e9, D=242e9, U=25e9) = 2.2256440889984477 ("This one is better")
    # scaling_law(N=8.67e9, D=178e9, U=25e9) = 2.2269634075087867
    law = get_law("data_constrained", tied=tied)
    values = PUBLISHED_TIED if tied else PUBLISHED
    out = law.predict(values, params=[6.34e9, 8.67e9], tokens=[242e9, 178e9], unique_tokens=25e9)
    np.testing.assert_allclose(out, [2.2256440889984477, 2.2269634075087867], rtol=1e-9)


def test_effective_data_values():
    # laws.md §15.5 (R_D* = 15.387, inputs from Muennighoff et al. 2023): U_D = 1e11,
    # epochs 2, 4, 8, 16, 40 -> D' = 1.9682e11, 3.7257e11, 6.6241e11, 1.0582e12, 1.5167e12;
    # D'/U_D -> 1 + R_D* = 16.387.
    U = 1e11
    epochs = np.array([2, 4, 8, 16, 40])
    expected = [1.9682e11, 3.7257e11, 6.6241e11, 1.0582e12, 1.5167e12]
    np.testing.assert_allclose(effective_data(epochs * U, U, 15.387), expected, rtol=1e-4)
    assert float(effective_data(1e6 * U, U, 15.387)) / U == pytest.approx(16.387, rel=1e-12)
    # laws.md §15.5: repeated tokens worth 0.909 of fresh at 4 epochs and 0.639 at 16.
    assert (float(effective_data(4 * U, U, 15.387)) - U) / (3 * U) == pytest.approx(0.909, abs=5e-4)
    assert (float(effective_data(16 * U, U, 15.387)) - U) / (15 * U) == pytest.approx(0.639, abs=5e-4)
    # One epoch or less: no repeats, D' = U_D.
    assert float(effective_data(U, U, 15.387)) == U
    assert float(effective_data(0.5 * U, U, 15.387)) == U


def test_effective_params_value():
    # laws.md §15.5 (R_N* = 5.309): U_N = 1e9, N = 4e9 -> N' = 3.2918e9; N <= U_N gives N' = N.
    assert float(effective_params(4e9, 1e9, 5.309)) == pytest.approx(3.2918e9, rel=1e-4)
    assert float(effective_params(5e8, 1e9, 5.309)) == 5e8


def test_compute_optimal_params_matches_notebook_allocation():
    # datablations utils/parametric_fit.ipynb cell 8 output (ORACLES.md §2): with the C4 constants at
    # C = 5.76e23, N_opt = 69962173313.52132 and D_opt = 1372170066384.2363; D_to_N maps D_opt to N_opt.
    n_opt = compute_optimal_params(1372170066384.2363, np.exp(a), np.exp(b), alpha, beta)
    assert float(n_opt) == pytest.approx(69962173313.52132, rel=1e-9)


def test_paper_rounded_constants_example():
    # laws.md §15.5: Muennighoff constants (E=1.87, A=521, B=1488, alpha=beta=0.353, R_D*=15.387, R_N*=5.309),
    # N=8.7e9, U_D=1.78e11, 4 epochs -> L = 2.1314.
    law = get_law("data_constrained", tied=True)
    values = {"E": 1.87, "A": 521.0, "B": 1488.0, "alpha": 0.353, "R_D_star": 15.387, "R_N_star": 5.309}
    out = law.predict(values, params=8.7e9, tokens=4 * 1.78e11, unique_tokens=1.78e11)[0]
    assert out == pytest.approx(2.1314, rel=1e-4)


def test_reduces_to_chinchilla_without_repeats_or_excess_params():
    # One epoch and N below N_opt(U_D): D' = D and N' = N, so the law is Chinchilla's.
    N = np.array([1e8, 3e8, 1e9])
    U = D = np.array([1e11, 3e11, 1e12])
    assert np.all(N < compute_optimal_params(U, np.exp(a), np.exp(b), alpha, beta))
    out = get_law("data_constrained").predict(PUBLISHED, params=N, tokens=D, unique_tokens=U)
    chin = {k: PUBLISHED[k] for k in ("E", "A", "B", "alpha", "beta")}
    np.testing.assert_allclose(out, get_law("chinchilla").predict(chin, params=N, tokens=D), rtol=1e-14)


# ------------------------------------------------------------------------------------ gradients


def _design(rng, n=60):
    U = 10 ** rng.uniform(8.0, 11.0, n)
    epochs = rng.choice([0.5, 1.0, 2.0, 4.0, 16.0, 60.0], n)
    N = 10 ** rng.uniform(6.5, 10.0, n)
    return {"params": N, "tokens": U * epochs, "unique_tokens": U}


def _random_theta(law, rng, n=6):
    cols = [rng.uniform(1.0, 2.5, n), np.exp(rng.uniform(4.0, 8.0, n)), np.exp(rng.uniform(4.0, 8.0, n))]
    cols.append(rng.uniform(0.2, 0.5, n))
    if not law.options["tied"]:
        cols.append(rng.uniform(0.2, 0.5, n))
    cols += [np.exp(rng.uniform(0.0, 4.0, n)), np.exp(rng.uniform(-1.0, 3.5, n))]
    theta = np.column_stack(cols)
    lo = np.array([p.lower for p in law.parameters])
    hi = np.array([p.upper for p in law.parameters])
    assert np.all(theta > lo) and np.all(theta < hi)
    return theta


@pytest.mark.parametrize("tied", [False, True])
def test_gradient_matches_finite_differences_on_both_sides_of_the_kink(tied):
    law = get_law("data_constrained", tied=tied)
    rng = np.random.default_rng(7 + tied)
    theta = _random_theta(law, rng)
    X = _design(rng)
    # Add rows on both sides of the kink U_N = min(N, N_opt(U_D)) for every parameter set.
    full = np.column_stack([theta[:, :4], theta[:, 3], theta[:, 4:]]) if tied else theta
    U = 10 ** rng.uniform(8.0, 11.0, (theta.shape[0], 10))
    side = np.exp(np.where(np.arange(10) % 2 == 0, 1.0, -1.0) * rng.uniform(0.05, 2.0, (theta.shape[0], 10)))
    N = compute_optimal_params(U, *(full[:, [k]] for k in (1, 2, 3, 4))) * side
    epochs = rng.choice([1.0, 3.0, 20.0], U.shape)
    X = {
        "params": np.concatenate([X["params"], N.ravel()]),
        "tokens": np.concatenate([X["tokens"], (U * epochs).ravel()]),
        "unique_tokens": np.concatenate([X["unique_tokens"], U.ravel()]),
    }
    n_opt = compute_optimal_params(X["unique_tokens"][None, :], *(full[:, [k]] for k in (1, 2, 3, 4)))
    above = X["params"][None, :] > n_opt
    assert np.all(above.sum(axis=1) >= 5) and np.all((~above).sum(axis=1) >= 5)
    _check_gradient(law, theta, X)


def test_continuously_differentiable_across_the_kink():
    law = get_law("data_constrained")
    theta = law.theta(PUBLISHED)
    U = 25e9
    n_opt = float(compute_optimal_params(U, np.exp(a), np.exp(b), alpha, beta))
    N = n_opt * np.array([1 - 1e-9, 1 + 1e-9])
    log_pred, J = law.log_predict_jac(theta, law.bind({"params": N, "tokens": 4 * U, "unique_tokens": U}))
    assert log_pred[0, 0] == pytest.approx(log_pred[0, 1], abs=1e-8)
    np.testing.assert_allclose(J[0, :, 0], J[0, :, 1], rtol=1e-6, atol=1e-10)


def test_tied_equals_untied_with_equal_exponents():
    rng = np.random.default_rng(3)
    X = _design(rng)
    tied = get_law("data_constrained", tied=True)
    untied = get_law("data_constrained")
    t = _random_theta(tied, rng)
    full = np.column_stack([t[:, :4], t[:, 3], t[:, 4:]])
    lp_t, J_t = tied.log_predict_jac(t, tied.bind(X))
    lp_u, J_u = untied.log_predict_jac(full, untied.bind(X))
    np.testing.assert_allclose(lp_t, lp_u, rtol=1e-14)
    np.testing.assert_allclose(J_t[:, 3], J_u[:, 3] + J_u[:, 4], rtol=1e-12, atol=1e-15)


# ------------------------------------------------------------------------------------ shapes, JSON, starts


@pytest.mark.parametrize("tied", [False, True])
def test_shapes_names_json_and_starts(tied):
    law = get_law("data_constrained", tied=tied)
    names = ("E", "A", "B", "alpha", *(() if tied else ("beta",)), "R_D_star", "R_N_star")
    assert law.param_names == names
    assert law.inputs == ("params", "tokens", "unique_tokens")
    assert law_from_dict(law.to_dict()) == law
    rng = np.random.default_rng(0)
    X = law.bind(_design(rng, 40))
    values = PUBLISHED_TIED if tied else PUBLISHED
    sets = np.vstack([law.theta(values)] * 3)
    log_pred, J = law.log_predict_jac(sets, X)
    assert log_pred.shape == (3, 40) and J.shape == (3, law.n_params, 40)
    assert law.predict(values, **X).shape == (40,)
    assert law.jacobian(values, **X).shape == (40, law.n_params)
    y = law.predict(values, **X)
    grid = law.start_grid(X, y)
    lo = np.array([p.lower for p in law.parameters])
    hi = np.array([p.upper for p in law.parameters])
    assert grid.shape[1] == law.n_params and 20 <= grid.shape[0] <= 3000
    assert np.all(grid >= lo) and np.all(grid <= hi)
    assert set(grid[:, -2]) == {2.0, 5.0, 10.0, 20.0, 50.0}  # laws.md §13
    assert set(grid[:, -1]) == {1.0, 3.0, 10.0, 30.0}


# ------------------------------------------------------------------------------------ recovery


def test_recovers_decay_constants_from_repeated_runs():
    law = get_law("data_constrained", tied=True)
    N, U, ep = np.meshgrid(np.logspace(7.5, 9.5, 5), np.logspace(8, 11, 4), [1, 2, 4, 8, 16, 32, 64])
    X = law.bind({"params": N.ravel(), "tokens": (U * ep).ravel(), "unique_tokens": U.ravel()})
    truth = {"E": 1.87, "A": 521.0, "B": 1488.0, "alpha": 0.353, "R_D_star": 15.4, "R_N_star": 5.3}
    rng = np.random.default_rng(0)
    y_true = law.predict(truth, **X)
    y = y_true * np.exp(rng.normal(0, 0.005, y_true.shape))
    problem = Problem(law, X, np.log(y))
    res = multistart(problem, law.to_internal(law.start_grid(X, y)), keep=32)
    assert res.objective[0] <= problem.objective(law.to_internal(law.theta(truth)))[0] * (1 + 1e-9)
    fit = dict(zip(law.param_names, law.from_internal(res.z[0]), strict=True))
    np.testing.assert_allclose(law.predict(fit, **X), y_true, rtol=0.01)
    for name, rel in (("E", 0.02), ("alpha", 0.03), ("R_D_star", 0.1), ("R_N_star", 0.2)):
        assert fit[name] == pytest.approx(truth[name], rel=rel), name
