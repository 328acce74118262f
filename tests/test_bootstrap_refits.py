"""Bootstrap refits: the jackknife only for BCa, replicates at the iteration cap reported, fast refits honest."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest

import scalelaw
from scalelaw import ConvergenceWarning
from scalelaw.fitting.engine import Problem, levenberg_marquardt, multistart
from scalelaw.fitting.refit import REFIT_OUTER_CURVATURE, _refit_weighted, fit_problem
from scalelaw.trust import bootstrap as bootstrap_module
from scalelaw.trust.bootstrap import _groups, bootstrap


@pytest.fixture(scope="module")
def gadre_fit():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return scalelaw.fit("chinchilla", "dataset:gadre2024_rpj")


@pytest.fixture
def counted_refits(monkeypatch):
    """Count the batches of refits the bootstrap module asks for (replicates, then the jackknife)."""
    calls: list[int] = []
    real = bootstrap_module.refit_weighted

    def counting(result, weights, *args, **kwargs):
        calls.append(int(weights.shape[0]))  # an array of weights, or GroupWeights (counts per run)
        return real(result, weights, *args, **kwargs)

    monkeypatch.setattr(bootstrap_module, "refit_weighted", counting)
    return calls


def test_jackknife_is_refitted_only_for_bca(gadre_fit, counted_refits):
    boot = bootstrap(gadre_fit, n=30, seed=1)
    assert counted_refits == [30]  # the replicates only
    boot.interval(0.9)
    boot.interval(0.8, of=lambda p: p["beta"] / (p["alpha"] + p["beta"]))
    boot.predict(params=7e10, tokens=1.4e12)
    boot.to_dict(), boot.summary(), boot.to_frame()
    assert counted_refits == [30] and not boot.jackknife_computed
    bca = boot.interval(0.9, method="bca")
    n_runs = int(_groups(gadre_fit, "run").max()) + 1
    assert counted_refits == [30, n_runs] and boot.jackknife_computed
    assert len(boot.jackknife) == n_runs
    again = boot.interval(0.9, method="bca")  # refitted once, then cached
    boot.predict(params=7e10, tokens=1.4e12, method="bca")
    assert counted_refits == [30, n_runs]
    assert again.equals(bca)


def test_lazy_jackknife_equals_the_eager_one(gadre_fit):
    """Lazily or not, the jackknife is the leave-one-run-out refits from the point estimate."""
    boot = bootstrap(gadre_fit, n=10, seed=2)
    eager, ok, _ = scalelaw.fitting.refit.refit_weighted(gadre_fit, boot.jackknife_weights)
    np.testing.assert_array_equal(boot.jackknife, eager[ok])


def test_replicates_at_the_iteration_cap_are_reported(gadre_fit):
    with pytest.warns(ConvergenceWarning, match="stopped at the iteration cap"):
        boot = bootstrap(gadre_fit, n=20, seed=0, max_iter=2)
    assert 0 < boot.n_unconverged <= boot.n
    assert boot.to_dict()["n_unconverged"] == boot.n_unconverged
    assert f"{boot.n_unconverged} hit the iteration cap" in boot.summary()


def test_no_warning_when_every_replicate_converges(gadre_fit):
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        boot = bootstrap(gadre_fit, n=50, seed=0)
    assert boot.n_unconverged == 0


def test_refits_reach_the_multistart_optimum_of_each_replicate(gadre_fit):
    """Refits start at the point estimate with a light curvature; a full multi-start fit of each replicate's
    weights (the law's 4,500-point grid) finds nothing better."""
    n, seed = 12, 5
    boot = bootstrap(gadre_fit, n=n, seed=seed)
    problem = fit_problem(gadre_fit)
    groups = _groups(gadre_fit, "run")
    n_groups = int(groups.max()) + 1
    counts = np.random.default_rng(seed).multinomial(n_groups, np.full(n_groups, 1.0 / n_groups), size=n)
    weights = counts[:, groups].astype(np.float64)
    law = gadre_fit.law
    starts = law.to_internal(law.clip(law.start_grid(problem.X, np.exp(problem.log_y))))
    z_boot = law.to_internal(boot.samples)
    for i in range(n):
        one = Problem(law, problem.X, problem.log_y, problem.loss, problem.delta, weights=weights[i])
        best = float(multistart(one, starts, max_iter=1000).objective[0])
        got = float(one.objective(z_boot[i : i + 1])[0])
        assert got <= best * (1 + 1e-6), (i, got, best)


def test_two_phase_refits_end_where_irls_alone_ends(gadre_fit):
    """The fast first phase changes how the refits get there, not where they end (same resamples)."""
    n, seed = 40, 7
    boot = bootstrap(gadre_fit, n=n, seed=seed)
    problem = fit_problem(gadre_fit)
    groups = _groups(gadre_fit, "run")
    n_groups = int(groups.max()) + 1
    counts = np.random.default_rng(seed).multinomial(n_groups, np.full(n_groups, 1.0 / n_groups), size=n)
    weighted = Problem(
        problem.law, problem.X, problem.log_y, problem.loss, problem.delta, weights=counts[:, groups].astype(float)
    )
    z_hat = gadre_fit.law.to_internal(np.array([gadre_fit.values]))
    sets = np.arange(n)
    z_irls, f_irls, _, _ = levenberg_marquardt(weighted, np.repeat(z_hat, n, 0), max_iter=1000, sets=sets)
    f_boot = weighted.objective(gadre_fit.law.to_internal(boot.samples), sets)
    assert np.all(f_boot <= f_irls * (1 + 1e-9))
    np.testing.assert_allclose(boot.samples[:, 3:], gadre_fit.law.from_internal(z_irls)[:, 3:], rtol=1e-3)


def test_refits_do_not_depend_on_their_batch(gadre_fit):
    """Chunks of refits and where derivatives are evaluated move work, not numbers: bit for bit the same."""
    problem = fit_problem(gadre_fit)
    groups = _groups(gadre_fit, "run")
    n_groups = int(groups.max()) + 1
    counts = np.random.default_rng(3).multinomial(n_groups, np.full(n_groups, 1.0 / n_groups), size=24)
    weights = counts[:, groups].astype(np.float64)
    z_hat = gadre_fit.law.to_internal(np.array([gadre_fit.values]))[0]
    whole, ok, conv = _refit_weighted(problem, weights, z_hat, 1000, None)
    chunked, ok_c, conv_c = _refit_weighted(problem, weights, z_hat, 1000, None, chunk=5)
    assert np.array_equal(whole, chunked) and np.array_equal(ok, ok_c) and np.array_equal(conv, conv_c)
    weighted = Problem(problem.law, problem.X, problem.log_y, problem.loss, problem.delta, weights=weights)
    z0 = np.repeat(z_hat[None], 24, 0) + 0.01
    sets = np.arange(24)
    runs = [levenberg_marquardt(weighted, z0, max_iter=50, sets=sets, fused=fused) for fused in (True, False)]
    for a, b in zip(*runs, strict=True):
        assert np.array_equal(a, b)


def test_a_step_with_nothing_promised_is_not_tried(gadre_fit):
    """``model_ftol``: where the first phase left a refit at its optimum, the checking phase's IRLS model promises
    no gain and the refit stops there without an evaluation, instead of taking a step that gains rounding noise
    or raising the damping to 1e10 one rejected step at a time; refits that still gain take the same steps."""
    problem = fit_problem(gadre_fit)
    groups = _groups(gadre_fit, "run")
    n_groups = int(groups.max()) + 1
    counts = np.random.default_rng(11).multinomial(n_groups, np.full(n_groups, 1.0 / n_groups), size=60)
    weighted = Problem(
        problem.law, problem.X, problem.log_y, problem.loss, problem.delta, weights=counts[:, groups].astype(float)
    )
    z_hat = gadre_fit.law.to_internal(np.array([gadre_fit.values]))
    sets = np.arange(60)
    fast = dataclasses.replace(weighted, outer_curvature=REFIT_OUTER_CURVATURE)
    z1, _, _, _ = levenberg_marquardt(fast, np.repeat(z_hat, 60, 0), max_iter=1000, sets=sets)
    z_plain, f_plain, conv_plain, it_plain = levenberg_marquardt(weighted, z1, max_iter=1000, sets=sets)
    z_model, f_model, conv_model, it_model = levenberg_marquardt(
        weighted, z1, max_iter=1000, sets=sets, model_ftol=1e-12
    )
    assert conv_plain.all() and conv_model.all()
    assert np.all(it_model <= it_plain) and it_model.sum() < it_plain.sum()
    at_once = it_model == 0
    assert at_once.any()
    np.testing.assert_array_equal(z_model[at_once], z1[at_once])  # where the first phase left them
    assert np.all(f_model <= f_plain * (1 + 1e-12))  # within the promise of where the plain phase got
    same = it_model == it_plain
    np.testing.assert_array_equal(z_model[same], z_plain[same])
