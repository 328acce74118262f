"""Many targets at once: ``scalelaw.fit(law, data, y=[...])``, ``fit --y a,b,c`` and ``--ray``."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

import scalelaw
from scalelaw.errors import DataError, LawError
from scalelaw.fitting.multi import MultiFit, metric_columns
from scalelaw.sweep.fanout import split_chunks
from test_cli import run

FLOPS = np.logspace(18, 23, 14)


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _tasks(n_tasks: int = 5, seed: int = 0) -> pd.DataFrame:
    """A 14-model ladder with ``n_tasks`` metrics from power laws of varied parameters and 1% noise; a few
    cells missing, plus columns all-metrics must skip (seed, lr, params, a true/false column)."""
    rng = np.random.default_rng(seed)
    data: dict = {"run": [f"m{i}" for i in range(FLOPS.size)], "flops": FLOPS, "params": FLOPS / 1e10}
    data.update(seed=0, lr=3e-4, chat=[i % 2 == 0 for i in range(FLOPS.size)])
    for k in range(n_tasks):
        E, A, alpha = rng.uniform(0.3, 2.0), rng.uniform(10, 500), rng.uniform(0.05, 0.2)
        data[f"task{k}"] = (E + A * FLOPS**-alpha) * np.exp(rng.normal(0, 0.01, FLOPS.size))
    frame = pd.DataFrame(data)
    for column, rows in (("task1", [2, 9]), ("task3", [0])):
        if column in frame:
            frame.loc[rows, column] = np.nan
    return frame


def test_all_metrics_is_every_numeric_column_but_inputs_and_bookkeeping():
    frame = _tasks(3)
    assert metric_columns(frame, "power") == ["task0", "task1", "task2"]
    assert "params" not in metric_columns(frame)  # a scale column never is a metric
    multi = scalelaw.fit("power", frame, y="all-metrics")
    assert multi.targets == ["task0", "task1", "task2"]


@pytest.mark.parametrize("weighted", [False, True])
def test_batched_fits_equal_fitting_each_target_alone(weighted):
    frame = _tasks(5)
    w = np.random.default_rng(1).uniform(0.5, 2.0, len(frame)) if weighted else None
    multi = scalelaw.fit("power", frame, y=[f"task{k}" for k in range(5)], weights=w)
    assert isinstance(multi, MultiFit) and len(multi) == 5
    for target in multi:
        rows = frame[target].notna().to_numpy()
        alone = scalelaw.fit("power", frame[rows], y=target, weights=None if w is None else w[rows])
        batched = multi[target]
        assert batched.objective <= alone.objective * (1 + 1e-9)  # never worse than alone
        assert batched.objective == pytest.approx(alone.objective, rel=1e-9)
        np.testing.assert_allclose(batched.values, alone.values, rtol=1e-6)
        assert batched.n_points == alone.n_points and batched.data_hash == alone.data_hash
        assert batched.status.flags() == alone.status.flags()


def test_a_missing_value_drops_that_row_for_its_target_only():
    multi = scalelaw.fit("power", _tasks(4), y=["task0", "task1", "task3"])
    assert [multi[t].n_points for t in multi] == [14, 12, 13]
    assert multi["task1"].data.frame().shape[0] == 12
    assert any("without 'task1'" in note for note in multi["task1"].notes)
    frame = multi.to_frame()
    assert frame.columns.tolist() == ["target", "n_points", "objective", "ok", "flags", "E", "A", "alpha"]
    assert frame["n_points"].tolist() == [14, 12, 13]
    assert json.loads(json.dumps(multi.to_dict(), allow_nan=False))["n_targets"] == 3
    assert multi.params_frame().loc["task1"].tolist() == list(multi["task1"].values)
    with pytest.raises(KeyError, match="fitted: task0, task1, task3"):
        multi["task2"]


def test_expression_laws_and_law_options_fit_many_targets():
    frame = _tasks(2)
    multi = scalelaw.fit(scalelaw.Law.from_expression("E + A*params**-alpha"), frame, y=["task0", "task1"])
    assert multi.law.inputs == ("params",) and multi["task0"].status.converged
    by_params = scalelaw.fit("power", frame, y=["task0", "task1"], law_options={"x": "params"})
    assert by_params["task1"].objective == pytest.approx(multi["task1"].objective, rel=1e-6)


@pytest.mark.parametrize(
    ("y", "message"),
    [
        (["task0", "nope"], "no target column 'nope'"),
        (["task0", "task0"], "'task0' named more than once"),
        (["task0", "neg"], "target 'neg' has 1 non-positive value(s)"),
        (["task0", "name"], "target 'name'"),
        (["task0", "sparse"], "target 'sparse' has 2 row(s) with a value"),
    ],
)
def test_a_bad_target_column_is_a_data_error_naming_it(y, message):
    frame = _tasks(1).assign(neg=lambda d: d["task0"].where(d.index != 5, -1.0), name="x", sparse=np.nan)
    frame.loc[[0, 1], "sparse"] = 1.0
    with pytest.raises(DataError) as info:
        scalelaw.fit("power", frame, y=y)
    assert message in str(info.value)


def test_one_target_laws_are_refused_with_many_targets():
    with pytest.raises(LawError, match="law='auto'"):
        scalelaw.fit("auto", _tasks(2), y=["task0", "task1"])


def test_combine_keeps_the_targets_in_order():
    frame = _tasks(3)
    parts = [scalelaw.fit("power", frame, y=chunk) for chunk in split_chunks(["task0", "task1", "task2"], 2)]
    whole = MultiFit.combine(parts, backend="parts")
    assert whole.targets == ["task0", "task1", "task2"] and whole.backend == "parts"
    assert split_chunks(list("abc"), 5) == [["a"], ["b"], ["c"]]


def test_cli_fits_many_targets(tmp_path):
    path = tmp_path / "tasks.csv"
    _tasks(3).to_csv(path, index=False)
    proc = run("fit", str(path), "--law", "power", "--y", "all-metrics")
    assert "task2" in proc.stdout and "fitted to 3 target(s)" in proc.stdout
    data = json.loads(run("fit", str(path), "--law", "power", "--y", "task0,task1", "--json").stdout)
    assert [row["target"] for row in data["targets"]] == ["task0", "task1"]
    assert [row["n_points"] for row in data["targets"]] == [14, 12]
    bad = run("fit", str(path), "--law", "power", "--y", "task0,nope", check=False)
    assert bad.returncode == 2 and "no target column 'nope'" in bad.stderr and "Traceback" not in bad.stderr
    bad = run("fit", str(path), "--law", "power", "--y", "task0,task1", "--influence", check=False)
    assert bad.returncode == 2 and "--influence" in bad.stderr
    bad = run("fit", str(path), "--law", "power", "--y", "task0", "--ray", "auto", check=False)
    assert bad.returncode == 2 and "--ray spreads many targets" in bad.stderr


def test_ray_fans_targets_out_through_the_cli(tmp_path):
    ray = pytest.importorskip("ray", reason="--ray needs Ray: pip install 'scalelaw[sweep]'")
    from typer.testing import CliRunner

    from scalelaw.cli import app

    path = tmp_path / "tasks.csv"
    _tasks(3).to_csv(path, index=False)
    args = ["fit", str(path), "--law", "power", "--y", "all-metrics", "--json"]
    ray.init(num_cpus=1, include_dashboard=False, configure_logging=False, log_to_driver=False)
    try:
        fanned = CliRunner().invoke(app, [*args, "--ray", "auto"])  # Ray is initialized here: used as it is
    finally:
        ray.shutdown()
    assert fanned.exit_code == 0, fanned.output
    data = json.loads(fanned.stdout)
    assert data["backend"].startswith("ray (auto)")
    local = json.loads(run(*args).stdout)
    assert data["targets"] == local["targets"]


def test_the_grouped_cuts_and_merges_are_the_engines_target_by_target():
    from scalelaw.fitting.engine import _best, _merge_duplicates
    from scalelaw.fitting.multi import _group_best, _group_merge

    rng = np.random.default_rng(3)
    grp = np.repeat(np.arange(4), [7, 1, 12, 5])
    f = rng.choice([1.0, 2.0, 2.0 + 1e-12, 3.0, np.inf], grp.size)  # ties, near-ties and failed starts
    z = np.round(rng.normal(size=(grp.size, 2)), 1)  # repeated points that must merge
    n_keep = np.array([3, 2, 4, 5])
    order, kept = _group_best(f, grp, n_keep)
    mult = rng.integers(1, 4, grp.size)
    merged_mult = mult.copy()
    keep = _group_merge(z, f, grp, merged_mult, np.ones(grp.size, dtype=bool))
    for t in range(4):
        rows = np.flatnonzero(grp == t)
        assert order[kept][grp[order[kept]] == t].tolist() == rows[_best(f[rows], n_keep[t])].tolist()
        expected_mult = mult[rows].copy()
        assert keep[rows].tolist() == _merge_duplicates(z[rows], f[rows], expected_mult).tolist()
        assert merged_mult[rows][keep[rows]].tolist() == expected_mult[keep[rows]].tolist()


def _ladder(n_targets: int, seed: int) -> pd.DataFrame:
    """benchmarks/many_targets.py's task ladder: 30 models, metrics E + A * flops^-alpha with 0.5-2% noise, many
    of them nearly flat (alone, some crawl along alpha -> 0 until max_iter); every fifth misses a few cells."""
    rng = np.random.default_rng(seed)
    flops = np.logspace(18, 23, 30)
    data: dict = {"run": [f"m{i}" for i in range(30)], "flops": flops}
    for k in range(n_targets):
        E, A, alpha = rng.uniform(0.3, 2.0), 10 ** rng.uniform(1, 3), rng.uniform(0.05, 0.3)
        values = (E + A * flops**-alpha) * np.exp(rng.normal(0, (0.005, 0.01, 0.02)[k % 3], 30))
        if k % 5 == 0:
            values[rng.random(30) < 0.05] = np.nan
        data[f"metric{k:03d}"] = values
    return pd.DataFrame(data)


def test_the_batched_search_is_never_worse_than_fitting_alone():
    """The batch's own search (screen, profile minima, bound probes, crawl stop) against each target fitted alone
    on a seeded ladder: where the lone fit converged, the batch's objective is never worse than 1e-9 (relative) and
    its flags are the same; where the lone fit ran out of iterations crawling, the batch ends no worse."""
    frame = _ladder(30, seed=1)
    targets = [c for c in frame.columns if c.startswith("metric")]
    multi = scalelaw.fit("power", frame, y=targets)
    crawled_alone = 0
    for t in targets:
        alone = scalelaw.fit("power", frame.dropna(subset=[t]), y=t)
        got = multi[t]
        assert got.objective <= alone.objective * (1 + 1e-9), t
        if alone.status.converged:
            # alpha = 0 makes E + A one constant: which of them sits on a bound is then arbitrary
            bounds = alone.status.at_bound + got.status.at_bound
            degenerate = got.objective == pytest.approx(alone.objective, rel=1e-12) and "alpha" in bounds
            assert got.status.flags() == alone.status.flags() or degenerate, t
        else:
            crawled_alone += 1
    assert crawled_alone >= 2  # the set holds targets that crawl alone


def test_a_target_that_crawls_alone_converges_lower_in_the_batch():
    """Alone, metric006 of the seeded ladder crawls along alpha -> 0 with E falling for 1,000 steps (flagged
    not converged); the batch's profile and bound probes reach a converged optimum below it (here a steep one,
    A on its bound) in far fewer steps."""
    from scalelaw.fitting import multi as multi_module

    frame = _ladder(10, seed=1)
    alone = scalelaw.fit("power", frame.dropna(subset=["metric006"]), y="metric006")
    assert not alone.status.converged
    seen = {}
    search = multi_module.multistart_targets

    def spy(*args, **kwargs):
        seen["batches"] = search(*args, **kwargs)
        return seen["batches"]

    multi_module.multistart_targets = spy
    try:
        got = scalelaw.fit("power", frame, y=["metric006", "metric001"])["metric006"]
    finally:
        multi_module.multistart_targets = search
    assert got.status.converged and got.status.at_bound
    assert got.objective < alone.objective * (1 - 1e-3)
    assert seen["batches"][0].n_iter[0] < 500


def test_without_a_profile_the_batch_is_never_worse_than_the_engine_alone():
    """multistart_targets directly on a law without a profile (chinchilla from 60 random starts, a flat target,
    one missing two rows): every target ends at most 1e-9 above engine.multistart on it alone (a screen of 3
    starts lost a basin 5x worse here; without a profile the screen keeps `keep`), its optima sorted, and a target
    with a converged start runs no start through both the main phase and a full polish."""
    from scalelaw.fitting.engine import Problem, multistart
    from scalelaw.fitting.fit import _starts
    from scalelaw.fitting.multi import multistart_targets
    from scalelaw.laws.catalog import get_law

    rng = np.random.default_rng(7)
    n = 20
    N = np.exp(rng.uniform(np.log(1e7), np.log(1e9), n))
    X = {"params": N, "tokens": N * np.exp(rng.uniform(np.log(5), np.log(100), n))}
    law = get_law("chinchilla")
    truths = [(1.8, 400, 2000, 0.34, 0.37), (2.5, 50, 900, 0.2, 0.3), (1.0, 1e4, 1e3, 0.6, 0.25)]
    curves = [law.predict(t, **X) for t in truths] + [np.full(n, 2.0)]
    Y = np.array(curves) * np.exp(rng.normal(0, 0.01, (len(curves), n)))
    at = np.ones(Y.shape, dtype=bool)
    at[1, [3, 11]] = False
    starts = [_starts(law, {k: v[at[t]] for k, v in X.items()}, Y[t, at[t]], 60, 0) for t in range(len(Y))]
    batch = Problem(law=law, X=X, log_y=np.where(at, np.log(Y), 0.0), weights=at * 1.0)
    together = multistart_targets(batch, starts, keep=32, max_iter=300)
    for t, got in enumerate(together):
        rows = at[t]
        alone = multistart(
            Problem(law=law, X={k: v[rows] for k, v in X.items()}, log_y=np.log(Y[t, rows])), starts[t], max_iter=300
        )
        assert got.objective[0] <= alone.objective[0] * (1 + 1e-9)
        assert np.all(np.diff(got.objective) >= 0) and got.start_index.max() < 60
        if got.converged.any():
            assert got.n_iter.max() < 2 * 300


def test_batched_diagnostics_are_the_single_ones():
    """outlier_masks, robust_scales and no_signal_masks over many rows with their own used rows give what the
    one-target functions give on each row alone, bit for bit."""
    from scalelaw.fitting.diagnostics import gross_outliers, no_signal_masks, outlier_masks, robust_scale, robust_scales

    rng = np.random.default_rng(5)
    R = rng.normal(0, 0.02, (40, 13))
    R[rng.random(R.shape) < 0.05] = 0.5  # outliers
    R[3] = 0.0  # a row with no spread
    used = rng.random(R.shape) < 0.8
    used[7] = False  # a row with nothing used
    n_params = rng.integers(0, 4, 40)
    flagged, threshold = outlier_masks(R, used, n_params)
    scales = robust_scales(R, used, n_params)
    flat, off = no_signal_masks(R, used)
    for i in range(40):
        rows, thr = gross_outliers(R[i], used[i], int(n_params[i]))
        assert rows.tolist() == np.flatnonzero(flagged[i]).tolist() and thr == threshold[i]
        assert robust_scale(R[i], used[i], int(n_params[i])) == pytest.approx(scales[i], rel=0, abs=0, nan_ok=True)
        assert (bool(flat[i]), np.flatnonzero(off[i]).tolist()) == (
            bool(no_signal_masks(R[i][None], used[i][None])[0][0]),
            np.flatnonzero(no_signal_masks(R[i][None], used[i][None])[1][0]).tolist(),
        )


def test_the_power_profile_recovers_amplitudes_at_the_true_exponent():
    from scalelaw.laws.basic import _POWER_PROFILE_ALPHAS
    from scalelaw.laws.catalog import get_law

    law = get_law("power")
    x = np.logspace(18, 23, 12)
    k = 30
    alpha = _POWER_PROFILE_ALPHAS[k]
    Y = np.array([1.5 + 200 * x**-alpha, 0.0 + 9 * x**-alpha])  # the second has E on its bound
    theta = law.profile_starts({"flops": x}, Y)
    assert theta.shape == (2, _POWER_PROFILE_ALPHAS.size, 3)
    np.testing.assert_allclose(theta[0, k], [1.5, 200, alpha], rtol=1e-6)
    np.testing.assert_allclose(theta[1, k], [0.0, 9, alpha], rtol=1e-6, atol=1e-9)
    assert get_law("chinchilla").profile_starts({"params": x, "tokens": x}, Y) is None


def test_the_batch_starts_and_diagnoses_every_target_as_alone():
    """Start grids (targets with as many rows in one pass) and diagnostics (curvature of targets with as many rows
    at once, outliers and no signal of all at once) equal the lone fit's functions on each target's own rows, bit
    for bit: targets with different missing rows, one flat, weighted rows (one of weight 0)."""
    from scalelaw.fitting import multi as multi_module
    from scalelaw.fitting.fit import _starts, diagnose
    from scalelaw.laws.catalog import get_law
    from scalelaw.laws.law import Law

    frame = _tasks(6, seed=3)
    frame.loc[[4, 5], "task4"] = np.nan  # as many rows as task1, other rows
    frame["task5"] = 2.0  # flat
    targets = [f"task{k}" for k in range(6)]
    weights = np.linspace(0.5, 2.0, len(frame))
    weights[6] = 0.0
    seen = {}
    diagnoses = multi_module._diagnoses

    def spy(*args):
        seen["args"] = args
        return diagnoses(*args)

    multi_module._diagnoses = spy
    try:
        scalelaw.fit("power", frame, y=targets, weights=weights)
    finally:
        multi_module._diagnoses = diagnoses
    law, X, Y, at, w, batches, problem = seen["args"]
    got = diagnoses(*seen["args"])
    grids = multi_module._grid_starts(law, X, Y, at)
    law_default = get_law("power")
    assert np.array_equal(
        Law.start_grids(law_default, {"flops": X["flops"][None]}, Y[:, :1].T),
        law.start_grids({"flops": X["flops"][None]}, Y[:, :1].T),
    )
    for t, batch in enumerate(batches):
        rows = at[:, t]
        X_t = {"flops": X["flops"][rows]}
        assert np.array_equal(grids[t], _starts(law, X_t, Y[rows, t], None, 0))
        want = diagnose(law, X_t, np.log(Y[rows, t])[None], w[rows][None], problem.lo, problem.hi, batch.z[:1])[0]
        curv, bounds, flat, outliers, threshold = got[t]
        assert (bounds, flat, outliers.tolist(), threshold) == (want[1], want[2], want[3].tolist(), want[4])
        assert curv.std_errors == pytest.approx(want[0].std_errors, rel=0, abs=0, nan_ok=True)
        assert curv.condition_number == want[0].condition_number and curv.tradeoffs == want[0].tradeoffs
        assert np.array_equal(curv.residuals, want[0].residuals) and curv.residual_scale == want[0].residual_scale
    assert got[5][2]  # the flat target has no signal


@pytest.mark.parametrize("law_name", ["power", "chinchilla"])
def test_the_lean_optimizer_gives_the_engines_numbers_bit_for_bit(law_name):
    # The batch's lean Levenberg-Marquardt must only move the engine's work around: same points, objectives,
    # flags, iterations, dampings and derivatives, with per-set targets, row weights (some 0), held coordinates,
    # starts on a bound and a start whose objective is not finite.
    from scalelaw.fitting.engine import Problem, levenberg_marquardt
    from scalelaw.fitting.lean import lean_levenberg_marquardt
    from scalelaw.laws.catalog import get_law

    rng = np.random.default_rng(3)
    law = get_law(law_name)
    n_rows, n_targets, n = 25, 6, 40
    if law_name == "power":
        X = {"flops": np.logspace(18, 23, n_rows)}
        truth = np.array([[1.0 + 0.2 * k, 50.0 * (k + 1), 0.05 + 0.04 * k] for k in range(n_targets)])
    else:
        X = {"params": np.logspace(7, 10, n_rows), "tokens": np.logspace(9, 12, n_rows)[rng.permutation(n_rows)]}
        truth = np.array([[1.7, 400.0 + 10 * k, 410.0, 0.34, 0.28] for k in range(n_targets)])
    log_y = np.stack([law.log_predict_jac(truth[k : k + 1], X, jac=False)[0][0] for k in range(n_targets)])
    log_y += rng.normal(0, 0.02, log_y.shape)
    W = np.where(rng.random((n_targets, n_rows)) < 0.1, 0.0, rng.uniform(0.5, 2.0, (n_targets, n_rows)))
    problem = Problem(law=law, X=X, log_y=log_y, weights=W)
    sets = rng.integers(0, n_targets, n)
    z0 = law.to_internal(truth[sets]) * rng.uniform(0.7, 1.3, (n, law.n_params))
    z0 = np.clip(z0, problem.lo, problem.hi)
    z0[:5, 0] = problem.lo[0]  # on the floor's bound
    z0[5] = np.nan  # a start whose objective is not finite
    frozen = np.zeros(z0.shape, dtype=bool)
    frozen[10:15, -1] = True
    lam0 = rng.uniform(1e-4, 1e-1, n)
    derivs = problem.objective_grad_hess(z0, sets)
    stopped = []
    for ftol, max_iter, held in ((1e-12, 8, frozen), (1e-12, 200, None)):
        out: list[np.ndarray] = []
        lam_e, lam_l = np.empty(n), np.empty(n)
        want = levenberg_marquardt(
            problem,
            z0,
            max_iter=max_iter,
            ftol=ftol,
            lam0=lam0,
            lam_out=lam_e,
            sets=sets,
            frozen=held,
            derivs=derivs,
            derivs_out=out,
            fused=True,
        )
        *got, (g, H) = lean_levenberg_marquardt(problem, z0, derivs, sets, max_iter, ftol, lam0, lam_l, frozen=held)
        for a, b in zip([*want, lam_e, out[1], out[2]], [*got, lam_l, g, H], strict=True):
            np.testing.assert_array_equal(a, b)
        stopped.append(int(want[2].sum()))
    # a start with no finite objective, starts that ran to max_iter and starts that stopped on the way
    assert not np.isfinite(derivs[0][5]) and stopped[0] < n and stopped[1] > 0
