"""Bootstrap, block bootstrap, profile, influence and backtest of the LR-schedule laws (lr_annealing, multi_power).

Synthetic curves follow ``tests/test_schedule_laws.py``: the laws.md §15.6 illustrative Multi-Power constants
(MPL_TOY) on three 600-step schedules (cosine, exponential WSD, step decay). Real curves: the Multi-Power Law
100M runs bundled as ``dataset:luo2025`` (Luo et al. 2025, repo ``thu-yao-01-luo/MultiPowerLaw``).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scalelaw import ConvergenceWarning, FitError, FitResult, LawError, datasets, fit, get_law
from scalelaw.data.datasets import luo2025
from scalelaw.data.schedules import curve_records, load_steps, predict_curves
from scalelaw.laws import schedule as sched
from scalelaw.laws.schedule import Schedules
from scalelaw.trust.backtest import backtest, backtest_predictions
from scalelaw.trust.bootstrap import block_weights, bootstrap, curve_band, default_by
from scalelaw.trust.influence import influence
from scalelaw.trust.profile import profile

MPL_TOY = {"L0": 2.0, "A": 0.5, "alpha": 0.5, "B": 300.0, "C": 2.0, "beta": 0.6, "gamma": 0.6}
ANNEALING_TOY = {"L0": 2.0, "A": 0.5, "alpha": 0.5, "C": 50.0}
SCHEDULES = Schedules.from_arrays(
    {
        "cos": sched.cosine(600, 1e-3, 1e-4, warmup=50),
        "wsd": sched.wsd(600, 1e-3, 1e-5, 400, warmup=50, decay="exp"),
        "steps": sched.step_decay(600, 1e-3, [300, 450], factor=0.3, warmup=50),
    }
)
#: Logged steps of the fits; the last logged steps (550-599) are held out.
FIT_STEPS = np.arange(60, 550, 10)
TARGET = pd.DataFrame({"run": list(SCHEDULES), "step": 599})


def curves(name: str, truth: dict, seed: int, sd: float = 0.003, steps: np.ndarray = FIT_STEPS) -> pd.DataFrame:
    """Noisy synthetic loss curves of every schedule (log-normal noise of ``sd``)."""
    rng = np.random.default_rng(seed)
    law = get_law(name)
    frames = []
    for run in SCHEDULES:
        mean = law.predict(truth, run=run, step=steps, schedule=SCHEDULES)
        frames.append(pd.DataFrame({"run": run, "step": steps, "loss": mean * np.exp(rng.normal(0, sd, steps.size))}))
    return pd.concat(frames, ignore_index=True)


def quiet_fit(*args, **kwargs) -> FitResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit(*args, **kwargs)


@pytest.fixture(scope="module")
def annealing_fit() -> FitResult:
    return quiet_fit("lr_annealing", curves("lr_annealing", ANNEALING_TOY, 0), schedule=SCHEDULES)


# ---------------------------------------------------------------------------------------------- bootstrap
@pytest.mark.parametrize("seed", [3])
def test_block_bootstrap_of_multi_power_covers_a_held_out_step(seed):
    """90% percentile interval of the loss at the held-out final step (599) of every run covers the truth.

    Over 20 seeds (``/tmp`` study in the report of this change) the coverage was measured; one seed here.
    """
    data = curves("multi_power", MPL_TOY, 1000 + seed)
    result = quiet_fit("multi_power", data, schedule=SCHEDULES)
    boot = result.bootstrap(n=20, by="block", seed=seed)  # 1.1 s; 60 replicates took 3.4 s and covered too
    assert boot.by == "block" and boot.blocks == {"cos": 5, "steps": 5, "wsd": 5}  # 10% of 49 rows
    assert boot.n >= 19 and len(boot.jackknife) == 30  # ceil(49 / 5) = 10 non-overlapping blocks per run
    band = boot.predict(TARGET, level=0.9)
    assert band["run"].tolist() == list(SCHEDULES) and band["step"].tolist() == [599.0] * 3
    truth = get_law("multi_power").predict(MPL_TOY, run=TARGET["run"], step=TARGET["step"], schedule=SCHEDULES)
    assert np.all(band["low"] <= truth) and np.all(truth <= band["high"])
    assert np.all(band["low"] < band["value"]) and np.all(band["value"] < band["high"])
    np.testing.assert_allclose(band["value"], result.predict(TARGET), rtol=1e-12)
    # A new observation's interval adds the data's noise around the law: wider.
    obs = boot.predict(TARGET, level=0.9, observation=True)
    assert np.all(obs["high"] - obs["low"] > band["high"] - band["low"])


def test_block_bootstrap_is_bit_reproducible(annealing_fit):
    a = bootstrap(annealing_fit, n=40, by="block", seed=7)
    b = bootstrap(annealing_fit, n=40, by="block", seed=7)
    np.testing.assert_array_equal(a.samples, b.samples)
    np.testing.assert_array_equal(a.jackknife, b.jackknife)
    c = bootstrap(annealing_fit, n=40, by="block", seed=8)
    assert not np.array_equal(a.samples, c.samples)
    w1, j1, _ = block_weights(annealing_fit, 40, np.random.default_rng(7), block=6)
    w2, j2, _ = block_weights(annealing_fit, 40, np.random.default_rng(7), block=6)
    np.testing.assert_array_equal(w1, w2)
    np.testing.assert_array_equal(j1, j2)


def test_block_bootstrap_intervals_and_bca(annealing_fit):
    boot = bootstrap(annealing_fit, n=60, by="block", block=7, seed=1)
    assert boot.blocks == {"cos": 7, "steps": 7, "wsd": 7} and len(boot.jackknife) == 21
    for method in ("percentile", "bca"):
        table = boot.interval(0.9, method=method)
        assert list(table["quantity"]) == ["L0", "A", "alpha", "C"]
        assert np.all(table["low"] <= table["estimate"]) and np.all(table["estimate"] <= table["high"])
        assert table["method"].str.contains("by block").all()


def test_by_run_with_too_few_runs_points_to_blocks(annealing_fit):
    assert default_by(annealing_fit) == "block"
    with pytest.raises(FitError, match=r"only 3 runs to resample.*at least 8.*use by='block'"):
        annealing_fit.bootstrap(n=20)
    with pytest.raises(FitError, match=r"only 3 runs to resample.*use by='block'"):
        annealing_fit.predict_interval(TARGET, n_boot=20, by="run")


def test_predict_interval_resamples_blocks_by_default(annealing_fit, tmp_path):
    """``predict_interval`` bootstraps with ``default_by``: blocks for these three curves, as ``bootstrap`` does."""
    band = annealing_fit.predict_interval(TARGET, level=0.8, n_boot=20, seed=4, kind="parameter")
    same = bootstrap(annealing_fit, n=20, by="block", seed=4).predict(TARGET, level=0.8)
    pd.testing.assert_frame_equal(band.drop(columns="interval_kind"), same)
    # The total interval of an LR-schedule law is this parameter interval, and says so.
    with pytest.warns(UserWarning, match="reads LR schedules"):
        total = annealing_fit.predict_interval(TARGET, level=0.8, n_boot=20, seed=4, observation=False)
    pd.testing.assert_frame_equal(total, band)
    assert band["method"].str.contains("by block").all()
    rows = annealing_fit.predict_interval(TARGET, level=0.8, n_boot=20, seed=4, by="row", kind="parameter")
    assert rows["method"].str.contains("by row").all() and not np.allclose(rows["low"], band["low"])
    # A fit loaded from JSON takes its schedules as schedule=, and gives the same interval.
    annealing_fit.save(tmp_path / "fit.json")
    loaded = FitResult.load(tmp_path / "fit.json")
    again = loaded.predict_interval(TARGET, level=0.8, n_boot=20, seed=4, schedule=SCHEDULES, kind="parameter")
    np.testing.assert_allclose(again[["value", "low", "high"]], band[["value", "low", "high"]], rtol=1e-9)


def test_curve_band_bounds_each_defined_step_and_records_say_so(annealing_fit, tmp_path):
    steps = pd.DataFrame({"name": ["cos", "wsd", "cos"], "iteration": [599, 599, 0]})
    steps.to_csv(tmp_path / "steps.csv", index=False)
    rows = load_steps(tmp_path / "steps.csv", "name=run,iteration=step,absent=x")
    assert rows.columns.tolist() == ["run", "step"]
    table = predict_curves(annealing_fit, SCHEDULES, steps=rows)
    assert np.isnan(table["loss"].iloc[2])  # step 0: no LR area yet, the law is undefined
    boot = annealing_fit.bootstrap(n=20, by="block", seed=1)
    band = curve_band(boot, table, level=0.8, observation=True)
    want = boot.predict(rows.iloc[:2], level=0.8, observation=True)
    np.testing.assert_allclose(band[["low", "high"]].iloc[:2], want[["low", "high"]], rtol=1e-12)
    assert band[["low", "high"]].iloc[2].isna().all() and (band["method"] == want["method"].iloc[0]).all()
    records = curve_records(band, level=0.8)
    assert records[2] == {"run": "cos", "step": 0, "loss": None, "low": None, "high": None, "level": 0.8,
                          "method": want["method"].iloc[0]}  # fmt: skip
    assert curve_records(table)[0] == {"run": "cos", "step": 599, "loss": float(table["loss"].iloc[0])}


def test_row_bootstrap_of_a_schedule_fit_rebuilds_the_schedule_features(annealing_fit):
    """Before this change every refit of an LR-schedule law raised LawError (no schedule inputs)."""
    boot = bootstrap(annealing_fit, n=30, by="row", seed=0)
    assert boot.n == 30 and len(boot.jackknife) == len(annealing_fit.data)
    assert np.all(np.isfinite(boot.samples))


def test_bad_block_arguments_are_named(annealing_fit):
    for bad in (0, 0.0, 1.5, -2, True, "10%"):
        with pytest.raises(FitError, match="block must be a fraction"):
            bootstrap(annealing_fit, n=20, by="block", block=bad)
    with pytest.raises(FitError, match=r"only 6 blocks to resample.*shorter block="):
        bootstrap(annealing_fit, n=20, by="block", block=0.6)
    with pytest.raises(FitError, match="block= sets the block length of by='block'"):
        bootstrap(annealing_fit, n=20, by="row", block=5)
    with pytest.raises(FitError, match="by must be 'run', 'row' or 'block'"):
        bootstrap(annealing_fit, n=20, by="step")


def test_fit_loaded_from_json_needs_its_schedule(annealing_fit, tmp_path):
    annealing_fit.save(tmp_path / "fit.json")
    loaded = FitResult.load(tmp_path / "fit.json")
    with pytest.raises(LawError, match=r"has none in memory.*pass schedule="):
        bootstrap(loaded, n=20, by="block")
    with pytest.raises(LawError, match="pass schedule="):
        influence(loaded)
    again = bootstrap(loaded, n=20, by="block", seed=2, schedule=SCHEDULES.to_frame())
    np.testing.assert_array_equal(again.samples, bootstrap(annealing_fit, n=20, by="block", seed=2).samples)
    power = quiet_fit("power", {"flops": [1e18, 1e19, 1e20, 1e21], "loss": [3.0, 2.8, 2.7, 2.65]})
    with pytest.raises(LawError, match="does not read an LR schedule"):
        influence(power, schedule=SCHEDULES)


def test_one_curve_without_run_ids_is_one_run():
    """Rows without a run column are one curve of one schedule: by run refuses, blocks resample its steps."""
    steps = np.arange(60, 600, 5)
    loss = get_law("lr_annealing").predict(ANNEALING_TOY, step=steps, schedule=SCHEDULES["wsd"])
    loss = loss * np.exp(np.random.default_rng(0).normal(0, 0.002, steps.size))
    result = quiet_fit("lr_annealing", {"step": steps, "loss": loss}, schedule=SCHEDULES["wsd"])
    with pytest.raises(FitError, match=r"only 1 runs to resample.*by='block'"):
        result.bootstrap(n=20)
    boot = result.bootstrap(n=30, by="block")
    assert len(boot.blocks) == 1 and list(boot.blocks.values()) == [11]  # 10% of 108 rows
    band = boot.predict(step=[599], level=0.9)
    assert band["low"].iloc[0] < band["value"].iloc[0] < band["high"].iloc[0]


@settings(max_examples=40, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 30), min_size=1, max_size=4),
    block=st.one_of(st.integers(1, 12), st.floats(0.05, 1.0)),
    n=st.integers(1, 5),
    seed=st.integers(0, 2**32 - 1),
)
def test_block_weights_keep_each_run_whole(sizes, block, n, seed):
    """Every replicate gives each run exactly its row count in whole draws; each jackknife row drops one block."""
    runs = np.repeat([f"r{i}" for i in range(len(sizes))], sizes)
    steps = np.concatenate([np.arange(1, s + 1) for s in sizes]).astype(float)
    result = FitResult(
        law=get_law("power", x="step"),
        values=(1.0, 1.0, 0.5),
        objective=0.0,
        n_points=runs.size,
        n_runs=len(sizes),
        n_starts=1,
        status=_ok_status(),
        std_errors=(0.0,) * 3,
        correlations=((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)),
        residual_scale=0.0,
        data=_data({"step": steps[::-1], "loss": np.ones(runs.size)}, runs[::-1]),
    )
    try:
        w, jack, lengths = block_weights(result, n, np.random.default_rng(seed), block)
    except FitError as exc:
        assert "blocks to resample" in str(exc)
        return
    assert np.all(w >= 0) and np.all(w == np.round(w))
    for i, size in enumerate(sizes):
        rows = runs[::-1] == f"r{i}"
        np.testing.assert_array_equal(w[:, rows].sum(axis=1), size)
        assert 1 <= lengths[f"r{i}"] <= size
    dropped = (jack == 0).sum(axis=1)
    assert np.all((dropped >= 1) & (dropped <= max(lengths.values())))
    assert np.all(jack.sum(axis=0) == len(jack) - 1)  # every row sits in exactly one jackknife block


def _ok_status():
    from scalelaw.fitting.result import FitStatus

    return FitStatus(converged=True)


def _data(columns, run):
    from scalelaw.fitting.result import FitData

    return FitData(columns=columns, run=run)


# ---------------------------------------------------------------------------------------------- profile / influence
def test_profile_of_a_schedule_fit(annealing_fit):
    table = profile(annealing_fit, "alpha", level=0.9, n_grid=15)
    row = table.iloc[0]
    assert row["low"] < row["estimate"] < row["high"]


def test_influence_on_a_schedule_fit(annealing_fit):
    infl = annealing_fit.influence()
    # Default target: the last step of the longest schedule (all are 600 steps: the first one).
    assert infl.target == {"run": "cos", "step": 599.0}
    assert infl.prediction == pytest.approx(annealing_fit.predict(run="cos", step=599))
    assert sorted(infl.table["run"]) == ["cos", "steps", "wsd"] and infl.table["exact"].all()
    assert np.all(np.isfinite(infl.table["shift"])) and infl.table["n_rows"].tolist() == [49, 49, 49]
    assert infl.flagged == []  # three runs give no spread to flag against
    # Leaving out a run, refitted directly, moves the target prediction by the reported shift.
    top = infl.table.iloc[0]
    keep = annealing_fit.data.run != top["run"]
    data = annealing_fit.data.frame()[keep]
    refit = quiet_fit("lr_annealing", data, schedule=SCHEDULES)
    moved = refit.predict(run="cos", step=599) / infl.prediction - 1.0
    assert top["shift"] == pytest.approx(moved, rel=0.05, abs=1e-5)
    # A target on another schedule, given with its LRs.
    other = Schedules.from_arrays({"long": sched.cosine(1200, 1e-3, 1e-4, warmup=50)})
    far = annealing_fit.influence({"run": "long", "step": 1199}, schedule=other)  # keywords pass through
    assert far.target["run"] == "long" and np.isfinite(far.prediction)


# ---------------------------------------------------------------------------------------------- backtest
def test_backtest_of_a_schedule_law_with_block_intervals():
    data = curves("multi_power", MPL_TOY, 11, steps=np.arange(60, 600, 20))
    held = (data["run"] == "wsd").to_numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # "no prediction interval for law ..." would fail the test
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)  # replicates at the iteration cap are counted, not fatal
        rows = backtest_predictions("multi_power", data, holdout=held, schedule=SCHEDULES, level=0.9, n_boot=20)
    assert set(rows["run"]) == {"wsd"} and len(rows) == 27
    assert np.all(rows["rel_error"].abs() < 0.02)
    assert np.all(rows["low"] < rows["high"]) and rows["covered"].notna().all()


def test_backtest_reads_a_dense_lr_column_for_held_out_runs():
    """Curves logged at every step carry their own schedule: the held-out run's comes from its rows."""
    dense = SCHEDULES.to_frame().query("step >= 1")
    loss = get_law("lr_annealing").predict(ANNEALING_TOY, run=dense["run"], step=dense["step"], lr=dense["lr"])
    dense = dense.assign(loss=loss * np.exp(np.random.default_rng(5).normal(0, 0.002, len(dense))))
    held = (dense["run"] == "steps").to_numpy()
    table = backtest("lr_annealing", dense, holdout=held, level=0.8, n_boot=30)
    rows = backtest_predictions("lr_annealing", dense, holdout=held, level=0.8, n_boot=30)
    row = table.iloc[0]
    assert row["error"] == "" and row["n_test_runs"] == 1 and row["n_train_runs"] == 2
    assert row["mean_abs_rel_error"] < 0.01
    assert 0 < row["coverage"] <= 1 and row["coverage"] == pytest.approx(rows["covered"].mean())


# ---------------------------------------------------------------------------------------------- real curves
@pytest.fixture(scope="module")
def luo_100m():
    curves_ = datasets.load("luo2025")
    return curves_[curves_["model_size"] == "100M"], luo2025.schedules(("100M",))


def test_block_bootstrap_on_the_multi_power_curves(luo_100m):
    """lr_annealing on the three 100M fit curves of Luo et al. 2025, fitted on each run's first 80% of steps.

    90% observation intervals (block bootstrap) at each run's last logged step cover the observed loss.
    Measured with 200 replicates: 3 of 3 covered (mean-curve intervals 2 of 3). Across schedules they do not:
    for the six held-out schedules' last steps, fitted on all fit steps, 1 of 6 observation intervals covered
    (relative errors -0.44% to +0.21% against half-widths of 0.07-0.10%): the law's misfit on unseen schedules
    is not noise a resampling of the fitted curves can see.
    """
    curves_, schedules = luo_100m
    train = curves_[curves_["split"] == "fit"]
    early = train[train["step"] <= 0.8 * train.groupby("run")["step"].transform("max")]
    result = quiet_fit("lr_annealing", early, schedule=schedules)
    boot = result.bootstrap(n=60, by="block", seed=0)
    assert boot.n >= 55 and set(boot.blocks) == set(train["run"])
    table = boot.interval(0.9).set_index("quantity")
    assert table.loc["alpha", "low"] < result.params["alpha"] < table.loc["alpha", "high"]
    finals = train.sort_values("step").groupby("run").tail(1)
    band = boot.predict(finals, level=0.9, observation=True)
    observed = finals["loss"].to_numpy()
    covered = (band["low"].to_numpy() <= observed) & (observed <= band["high"].to_numpy())
    assert covered.sum() >= 2
