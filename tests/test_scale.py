"""Long tables: row-chunked evaluation is exact, the subsample screen finds the full search's optimum, and a
by-run bootstrap keeps its weights as run counts (no replicates x rows matrix)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from scalelaw import fit, get_law
from scalelaw.fitting import engine, large
from scalelaw.fitting.engine import GroupWeights, Problem, multistart
from scalelaw.fitting.large import search
from scalelaw.fitting.refit import refit_weighted
from scalelaw.trust import bootstrap as bootstrap_module

TRUTH = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}


def checkpoint_table(n_runs: int, checkpoints: int, seed: int = 0) -> pd.DataFrame:
    """benchmarks/scale.py's table: runs of N log-spaced 1e7..1e10, checkpoints log-spaced along tokens."""
    rng = np.random.default_rng(seed)
    params = rng.permutation(np.logspace(7, 10, n_runs))
    d_final = np.exp(rng.uniform(np.log(5.0), np.log(200.0), n_runs)) * params
    tokens = (d_final[:, None] * np.logspace(-2, 0, checkpoints)[None, :]).ravel()
    N = np.repeat(params, checkpoints)
    law = TRUTH["E"] + TRUTH["A"] / N ** TRUTH["alpha"] + TRUTH["B"] / tokens ** TRUTH["beta"]
    noise = np.repeat(rng.normal(0.0, 0.005, n_runs), checkpoints) + rng.normal(0.0, 0.01, law.size)
    run = np.repeat([f"run{i:05d}" for i in range(n_runs)], checkpoints)
    return pd.DataFrame({"run": run, "params": N, "tokens": tokens, "loss": law * np.exp(noise)})


def _problem(table: pd.DataFrame, **kwargs) -> Problem:
    X = {"params": table["params"].to_numpy(), "tokens": table["tokens"].to_numpy()}
    return Problem(get_law("chinchilla"), X, np.log(table["loss"].to_numpy()), **kwargs)


def _fit(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit(*args, **kwargs)


def test_row_chunks_are_exact_up_to_summation_order(epoch_synthetic):
    law = get_law("chinchilla")
    z = law.to_internal(law.clip(law.start_grid({}, None)))[::37]
    weights = np.random.default_rng(1).uniform(0.0, 2.0, len(epoch_synthetic))
    whole = _problem(epoch_synthetic, weights=weights)
    tiny = _problem(epoch_synthetic, weights=weights, row_chunk=7)
    assert len(tiny._blocks(z.shape[0])[1]) == 35
    f, g, H = whole.objective_grad_hess(z)
    f7, g7, H7 = tiny.objective_grad_hess(z)
    ok = np.isfinite(f)
    assert np.array_equal(ok, np.isfinite(f7)) and ok.sum() > 50
    np.testing.assert_allclose(f7[ok], f[ok], rtol=1e-12)
    np.testing.assert_allclose(tiny.objective(z)[ok], whole.objective(z)[ok], rtol=1e-12)
    np.testing.assert_allclose(g7[ok], g[ok], rtol=1e-9, atol=1e-12 * np.abs(g[ok]).max())
    np.testing.assert_allclose(H7[ok], H[ok], rtol=1e-9, atol=1e-12 * np.abs(H[ok]).max())


def test_fit_through_tiny_chunks_matches_the_unchunked_fit(epoch_synthetic, monkeypatch):
    plain = _fit("chinchilla", epoch_synthetic)
    monkeypatch.setattr(engine, "_ROW_CHUNK", 16)
    monkeypatch.setattr(engine, "_JAC_BLOCK", 4_000)  # 250 sets per block: sets and rows both sliced
    monkeypatch.setattr(engine, "_OBJ_BLOCK", 4_000)
    chunked = _fit("chinchilla", epoch_synthetic)
    assert chunked.objective == pytest.approx(plain.objective, rel=1e-10)
    np.testing.assert_allclose(chunked.values, plain.values, rtol=1e-6)


@pytest.mark.parametrize(("experiment", "law"), [("Cosine decay", "m4"), ("Correcting warmup (OpenWebText2)", "bnsl")])
def test_chunked_sums_keep_the_winner_on_the_rounding_cases(experiment, law, monkeypatch):
    """test_engine's rounding cases: summing in slices of 3 rows must not change which optimum wins."""
    import scalelaw

    optimal = scalelaw.datasets.load("porian2024_optimal")
    env = optimal[optimal["experiment"] == experiment].dropna(subset=["flops", "loss"])
    train = env[env["flops"] < np.quantile(env["flops"], 0.8)][["flops", "loss"]]
    plain = _fit(law, train, law_options={"x": "flops"})
    monkeypatch.setattr(engine, "_ROW_CHUNK", 3)
    chunked = _fit(law, train, law_options={"x": "flops"})
    assert chunked.objective == pytest.approx(plain.objective, rel=1e-10)


def test_group_weights_equal_the_dense_matrix_bit_for_bit(epoch_synthetic):
    result = _fit("chinchilla", epoch_synthetic.assign(run=[f"r{i // 4}" for i in range(len(epoch_synthetic))]))
    groups = np.unique(result.data.run, return_inverse=True)[1]
    counts = np.random.default_rng(0).multinomial(60, np.full(60, 1 / 60), size=5).astype(float)
    dense = refit_weighted(result, counts[:, groups], max_iter=50)
    grouped = refit_weighted(result, GroupWeights(counts, groups), max_iter=50)
    for a, b in zip(dense, grouped, strict=True):
        assert np.array_equal(a, b)


def test_subsample_screen_finds_the_full_search_optimum():
    table = checkpoint_table(24, 250, seed=3)  # 6,000 rows
    problem = _problem(table)
    law = problem.law
    grid = law.to_internal(law.clip(law.start_grid({}, None)))
    starts = grid[np.random.default_rng(0).choice(grid.shape[0], 600, replace=False)]
    full = multistart(problem, starts, max_iter=300)
    screened = search(problem, starts, max_iter=300, screen_rows=1_500)
    assert screened.n_starts == full.n_starts == 600
    assert screened.objective[0] == pytest.approx(full.objective[0], rel=1e-9)


def test_a_200k_row_table_fits_through_the_chunked_path(monkeypatch):
    monkeypatch.setattr(large, "SCREEN_ROWS", 5_000)  # a smaller screen keeps the test short
    table = checkpoint_table(400, 500, seed=1)  # 200,000 rows: screened on 5,000, finished in 4 row slices
    result = _fit("chinchilla", table, starts=100, seed=0)
    problem = _problem(table)
    assert len(problem._blocks(1)[1]) == 4
    z = result.law.to_internal(np.array([result.values]))
    unchunked = _problem(table, row_chunk=10**9).objective(z)[0]
    assert result.objective == pytest.approx(unchunked, rel=1e-10)
    assert result.n_points == 200_000 and result.status.converged
    fitted = dict(zip(result.law.param_names, result.values, strict=True))
    assert fitted["alpha"] == pytest.approx(TRUTH["alpha"], rel=0.05)
    assert fitted["beta"] == pytest.approx(TRUTH["beta"], rel=0.05)


def test_variable_projection_starts_of_a_long_table_come_from_its_screen_rows(monkeypatch):
    # Their design matrices hold every row of every exponent pair: a million rows had taken 3.9 GB.
    monkeypatch.setattr(large, "SCREEN_ROWS", 2_000)
    law_class = type(get_law("chinchilla"))
    original, seen = law_class.projected_starts, []

    def spy(self, X, y, weights=None):
        seen.append(len(y))
        return original(self, X, y, weights)

    monkeypatch.setattr(law_class, "projected_starts", spy)
    table = checkpoint_table(20, 300, seed=2)  # 6,000 rows, screened on 2,000
    result = _fit("chinchilla", table)
    assert seen == [2_000]
    assert result.n_points == 6_000 and result.status.converged
    fitted = dict(zip(result.law.param_names, result.values, strict=True))
    assert fitted["alpha"] == pytest.approx(TRUTH["alpha"], rel=0.1)
    short = checkpoint_table(6, 300, seed=2)  # 1,800 rows: every row, as before
    seen.clear()
    _fit("chinchilla", short)
    assert seen == [1_800]


def test_jackknife_folds_only_on_long_tables_with_many_runs():
    rng = np.random.default_rng(0)
    small = np.repeat(np.arange(240), 5)  # 1,200 rows: leave one run out, as before
    counts, rows = bootstrap_module._jackknife_groups(240, small, rng)
    assert counts.shape == (240, 240) and rows is small
    big = np.repeat(np.arange(2_000), 500)  # 1,000,000 rows: 100 folds of 20 runs
    counts, rows = bootstrap_module._jackknife_groups(2_000, big, rng)
    assert counts.shape == (100, 100)
    sizes = np.bincount(rows[::500], minlength=100)
    assert sizes.min() == sizes.max() == 20
    # every run lies in exactly one fold, and its checkpoints stay together
    assert np.all(rows.reshape(2_000, 500) == rows[::500, None])
