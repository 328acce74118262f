"""One conformance test run over every catalog law (like scikit-learn's estimator checks).

Each law must: keep the (n_sets, n_rows) / (n_sets, n_params, n_rows) shapes, have an exact gradient,
keep starts and fits inside its bounds, round-trip through JSON, and recover known parameters from
noisy synthetic data drawn from itself.
"""

from __future__ import annotations

import importlib
import warnings
from pathlib import Path

import numpy as np
import pytest

from law_case import Case
from scalelaw import FitResult, fit, get_law, list_laws
from scalelaw.laws import law_from_dict


def _repeated_data_design() -> dict[str, np.ndarray]:
    N, U, epochs = np.meshgrid(np.logspace(7.5, 9.5, 5), np.logspace(8, 11, 4), [1, 2, 4, 8, 16, 32, 64])
    return {"params": N.ravel(), "tokens": (U * epochs).ravel(), "unique_tokens": U.ravel()}


def _grid_nd(n_sizes: int = 8, n_ratios: int = 6, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    N = np.repeat(np.logspace(7, 10, n_sizes), n_ratios)
    ratio = np.tile(np.logspace(0.5, 2.7, n_ratios), n_sizes)
    return {"params": N * np.exp(rng.normal(0, 0.05, N.size)), "tokens": N * ratio}


def _schedule_design(n_steps: int = 160) -> dict[str, np.ndarray]:
    """Loss curves logged at every step of four LR schedules: the data's own lr column is the schedule."""
    from scalelaw.laws import schedule as sched

    lrs = {
        "constant": sched.constant(n_steps + 1, 1e-2),
        "cosine": sched.cosine(n_steps + 1, 1e-2, 1e-3),
        "wsd": sched.wsd(n_steps + 1, 1e-2, 5e-4, decay_start=100, decay="exp"),
        "steps": sched.step_decay(n_steps + 1, 1e-2, boundaries=[60, 120], factor=0.3),
    }
    steps = np.arange(1, n_steps + 1, dtype=np.float64)
    return {
        "step": np.tile(steps, len(lrs)),
        "run": np.repeat(list(lrs), n_steps),
        "lr": np.concatenate([a[1:] for a in lrs.values()]),
    }


CASES: dict[str, Case] = {
    "power": Case(
        truth={"E": 1.7, "A": 2.0e3, "alpha": 0.15},
        design={"flops": np.logspace(17, 22, 25)},
        identified={"E": 0.05, "alpha": 0.1},
    ),
    "chinchilla": Case(
        truth={"E": 1.8172, "A": 482.01, "B": 2085.43, "alpha": 0.3478, "beta": 0.3658},
        design=_grid_nd(),
        identified={"E": 0.05, "alpha": 0.1, "beta": 0.1},
    ),
    "kaplan": Case(
        truth={"N_c": 6.4e13, "D_c": 1.8e13, "alpha_N": 0.076, "alpha_D": 0.103},
        design=_grid_nd(),
        identified={"alpha_N": 0.1, "alpha_D": 0.1},
    ),
    "m4": Case(
        truth={"L_inf": 0.5, "L0": 2.3, "beta": 0.9**-0.5 * 10**2.75, "c": -0.5, "alpha": 1.5},
        design={"tokens": np.logspace(3, 8, 60)},
        options={"x": "tokens"},
        identified={"L_inf": 0.1, "L0": 0.05, "c": 0.2},
    ),
    "bnsl": Case(
        truth={"a": 0.5, "b": 20.0, "c0": 0.05, "c1": 0.4, "d1": 1e6, "f1": 0.3},
        design={"flops": np.logspace(3, 9, 80)},
        options={"breaks": 1},
        identified={"a": 0.1, "c0": 0.1, "c1": 0.05, "d1": 0.2},
    ),
    # Muennighoff et al. 2023 published constants (README of huggingface/datablations).
    "data_constrained": Case(
        truth={"E": 1.87, "A": 521.0, "B": 1488.0, "alpha": 0.353, "beta": 0.353, "R_D_star": 15.4, "R_N_star": 5.3},
        design=_repeated_data_design(),
        identified={"E": 0.02, "alpha": 0.05, "beta": 0.05, "R_D_star": 0.1, "R_N_star": 0.2},
    ),
    "overtrain": Case(
        truth={"E": 1.84, "A": 166.0, "B": 287.0, "alpha": 0.273},
        design=_grid_nd(),
        identified={"E": 0.05, "alpha": 0.05},
    ),
    # laws.md §15.6 illustrative constants (B scaled to the 1e-2 peak LR of the design).
    "multi_power": Case(
        truth={"L0": 2.0, "A": 0.5, "alpha": 0.5, "B": 30.0, "C": 2.0, "beta": 0.6, "gamma": 0.6},
        design=_schedule_design(),
        identified={"L0": 0.02, "A": 0.05, "alpha": 0.05, "B": 0.05},
    ),
    "lr_annealing": Case(
        truth={"L0": 2.0, "A": 0.5, "alpha": 0.5, "C": 1.0},
        design=_schedule_design(),
        identified={"L0": 0.02, "A": 0.05, "alpha": 0.05, "C": 0.05},
    ),
}
# Laws outside the core catalog keep their cases beside their own tests, in tests/law_cases_<topic>.py.
for _path in sorted(Path(__file__).parent.glob("law_cases_*.py")):
    CASES.update(importlib.import_module(_path.stem).CASES)


def test_every_catalog_law_has_a_conformance_case():
    missing = sorted(set(list_laws()) - set(CASES))
    assert not missing, f"add a conformance Case for {missing}"


@pytest.fixture(params=sorted(CASES))
def case(request):
    name = request.param
    if name not in list_laws():
        pytest.skip(f"{name} not in this catalog")
    c = CASES[name]
    return get_law(name, **c.options), c


def _synthetic(law, c: Case, seed: int = 0):
    rng = np.random.default_rng(seed)
    y_true = law.predict(c.truth, **c.design)
    y = y_true * np.exp(rng.normal(0, c.noise, y_true.shape))
    return {**c.design, law.output: y}, y_true


def test_shapes(case):
    law, c = case
    n_rows = len(next(iter(c.design.values())))
    single = law.predict(c.truth, **c.design)
    assert single.shape == (n_rows,)
    sets = np.vstack([law.theta(c.truth)] * 3)
    assert law.predict(sets, **c.design).shape == (3, n_rows)
    log_pred, J = law.log_predict_jac(sets, law.bind(c.design))
    assert log_pred.shape == (3, n_rows)
    assert J.shape == (3, law.n_params, n_rows)
    assert law.jacobian(c.truth, **c.design).shape == (n_rows, law.n_params)
    np.testing.assert_allclose(log_pred[1], np.log(single), rtol=1e-12)


def test_gradient_matches_finite_differences(case):
    law, c = case
    rng = np.random.default_rng(1)
    base = law.to_internal(law.theta(c.truth))
    # Random parameter sets around the truth, inside the bounds.
    z = base + rng.normal(0, 0.05, (4, law.n_params))
    theta = law.clip(law.from_internal(z))
    X = law.bind(c.design)
    _, J = law.log_predict_jac(theta, X)
    for k in range(law.n_params):
        h = 1e-6 * np.maximum(np.abs(theta[:, k]), 1e-3)
        up, down = theta.copy(), theta.copy()
        up[:, k] += h
        down[:, k] -= h
        numeric = (law.log_predict_jac(up, X, jac=False)[0] - law.log_predict_jac(down, X, jac=False)[0]) / (
            2 * h[:, None]
        )
        np.testing.assert_allclose(J[:, k, :], numeric, rtol=2e-5, atol=1e-8, err_msg=law.param_names[k])


def test_starts_inside_bounds(case):
    law, c = case
    data, _ = _synthetic(law, c)
    grid = law.start_grid(law.bind(c.design), data[law.output])
    lo = np.array([p.lower for p in law.parameters])
    hi = np.array([p.upper for p in law.parameters])
    assert grid.shape[1] == law.n_params and grid.shape[0] >= 1
    assert np.all(grid >= lo) and np.all(grid <= hi)
    assert all(p.lower < c.truth[p.name] < p.upper for p in law.parameters), "truth must lie inside the bounds"


def test_law_json_round_trip(case):
    law, _ = case
    again = law_from_dict(law.to_dict())
    assert again == law
    assert again.to_dict() == law.to_dict()


def test_recovers_known_parameters(case):
    law, c = case
    data, y_true = _synthetic(law, c)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = fit(law, data)
    # The optimizer must do at least as well as the truth on its own objective.
    from scalelaw.fitting.engine import Problem

    problem = Problem(law, law.bind(c.design), np.log(data[law.output]))
    truth_objective = problem.objective(law.to_internal(law.theta(c.truth)))[0]
    assert result.objective <= truth_objective * (1 + 1e-9)
    # Predictions at the data within about the noise level of the truth.
    np.testing.assert_allclose(result.predict(**c.design), y_true, rtol=4 * c.noise)
    for name, rtol in c.identified.items():
        assert result.params[name] == pytest.approx(c.truth[name], rel=rtol), name
    lo = np.array([p.lower for p in law.parameters])
    hi = np.array([p.upper for p in law.parameters])
    assert np.all(np.array(result.values) >= lo) and np.all(np.array(result.values) <= hi)


def test_fit_result_json_round_trip_is_exact(case, tmp_path):
    law, c = case
    data, _ = _synthetic(law, c)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = fit(law, data)
    again = FitResult.from_json(result.to_json())
    assert again == result
    assert again.to_json() == result.to_json()
    assert again.values == result.values  # bit-for-bit floats
    path = tmp_path / "fit.json"
    result.save(path)
    loaded = FitResult.load(path)
    np.testing.assert_array_equal(loaded.predict(**c.design), result.predict(**c.design))
    assert loaded.data_matches_hash  # the saved data gives the saved hash back
