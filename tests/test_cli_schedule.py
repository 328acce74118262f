"""CLI for the LR-schedule laws, through the real entry point (``python -m scalelaw``).

``scalelaw fit CURVES --law multi_power --schedule LR.csv`` (also ``lr_annealing``; ``--map`` renames
columns in both files) and ``scalelaw predict FIT.json --schedule LR.csv [--steps STEPS.csv] --json``.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from cli_run import run_cli
from scalelaw import FitResult, datasets, get_law
from scalelaw.laws import schedule as sched
from scalelaw.laws.schedule import Schedules


def _cli_has_schedules() -> bool:
    return "--schedule" in run_cli("fit", "--help").stdout


pytestmark = pytest.mark.skipif(not _cli_has_schedules(), reason="this CLI has no --schedule option yet")

MPL_TOY = {"L0": 2.0, "A": 0.5, "alpha": 0.5, "B": 300.0, "C": 2.0, "beta": 0.6, "gamma": 0.6}


def _synthetic_schedules() -> Schedules:
    return Schedules.from_arrays(
        {
            "cos": sched.cosine(600, 1e-3, 1e-4, warmup=50),
            "wsd": sched.wsd(600, 1e-3, 1e-5, 400, warmup=50, decay="exp"),
            "steps": sched.step_decay(600, 1e-3, [300, 450], factor=0.3, warmup=50),
        }
    )


@pytest.fixture(scope="module")
def luo_files(tmp_path_factory):
    """The 100M fit curves and their schedules, with the file's own column names (mapped by --map)."""
    folder = tmp_path_factory.mktemp("luo")
    curves = datasets.load("luo2025")
    curves = curves[(curves["model_size"] == "100M") & (curves["split"] == "fit")]
    curves[["run", "step", "loss"]].rename(columns={"run": "name", "step": "iteration", "loss": "val"}).to_csv(
        folder / "curves.csv", index=False
    )
    from scalelaw.data.datasets import luo2025

    schedules = Schedules.from_arrays({r: luo2025.schedule(r.split("/")[1]) for r in curves["run"].unique()})
    schedules.to_frame().rename(columns={"run": "name", "step": "iteration", "lr": "learning_rate"}).to_csv(
        folder / "lr.csv", index=False
    )
    rows = curves[["run", "step"]].iloc[::7].rename(columns={"run": "name", "step": "iteration"})
    rows.to_csv(folder / "steps.csv", index=False)
    mapping = ["--map", "name=run,iteration=step", "--map", "val=loss,learning_rate=lr"]
    return folder, mapping, schedules, rows.rename(columns={"name": "run", "iteration": "step"})


def test_fit_and_predict_lr_annealing_with_mapped_files(luo_files):
    folder, mapping, schedules, rows = luo_files
    out = folder / "fit.json"
    done = run_cli("fit", str(folder / "curves.csv"), "--law", "lr_annealing", "--schedule", str(folder / "lr.csv"),
                   *mapping, "--out", str(out), "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert payload["law"] == "lr_annealing"
    assert set(payload["params"]) == {"L0", "A", "alpha", "C"}
    assert payload["schedule"]["fingerprint"] == schedules.fingerprint()
    saved = FitResult.load(out)

    done = run_cli("predict", str(out), "--schedule", str(folder / "lr.csv"), "--steps", str(folder / "steps.csv"),
                   *mapping, "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    assert isinstance(got, list) and len(got) == len(rows)
    assert [(r["run"], r["step"]) for r in got] == list(zip(rows["run"], rows["step"], strict=True))
    expected = saved.predict(rows, schedule=schedules)
    np.testing.assert_allclose([r["loss"] for r in got], expected, rtol=1e-12)

    # Human output: one line per run.
    done = run_cli("predict", str(out), "--schedule", str(folder / "lr.csv"), *mapping)
    assert done.returncode == 0, done.stderr
    assert "100M/wsdcon_9" in done.stdout


def test_fit_influence_of_an_lr_schedule_law_names_its_target_run(luo_files):
    # The target of a schedule law holds a run name: the table's title failed formatting it as a number.
    folder, mapping, _, _ = luo_files
    done = run_cli("fit", str(folder / "curves.csv"), "--law", "lr_annealing", "--schedule", str(folder / "lr.csv"),
                   *mapping, "--influence")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Influence on the prediction at run=100M/cosine_24000, step=2.4e+04" in done.stdout
    assert "no run off the law (threshold: log residual 3.0%" in done.stdout


@pytest.fixture(scope="module")
def synthetic_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mpl")
    schedules = _synthetic_schedules()
    steps = np.arange(60, 600, 10)
    frames = []
    for run in schedules:
        loss = get_law("multi_power").predict(MPL_TOY, run=run, step=steps, schedule=schedules)
        noise = np.exp(np.random.default_rng(len(run)).normal(0, 0.002, steps.size))
        frames.append(pd.DataFrame({"run": run, "step": steps, "loss": loss * noise}))
    pd.concat(frames).to_csv(folder / "curves.csv", index=False)
    schedules.to_frame().to_csv(folder / "lr.csv", index=False)
    return folder, schedules


@pytest.fixture(scope="module")
def mpl_fit(synthetic_files):
    folder, _ = synthetic_files
    out = folder / "mpl.json"
    done = run_cli("fit", str(folder / "curves.csv"), "--law", "multi_power", "--schedule", str(folder / "lr.csv"),
                   "--out", str(out), "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    return out, json.loads(done.stdout)


def test_fit_multi_power_and_predict_every_step(synthetic_files, mpl_fit):
    folder, schedules = synthetic_files
    out, payload = mpl_fit
    assert payload["params"]["alpha"] == pytest.approx(0.5, abs=0.05)
    done = run_cli("predict", str(out), "--schedule", str(folder / "lr.csv"), "--json")
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    assert len(got) == 3 * 600
    assert got[0] == {"run": "cos", "step": 0, "loss": None}  # no LR area yet: undefined
    table = pd.DataFrame(got[1:600])
    expected = FitResult.load(out).predict(table, schedule=schedules)
    np.testing.assert_allclose(table["loss"], expected, rtol=1e-12)


def test_fit_across_sizes_with_a_law_option(synthetic_files, tmp_path):
    folder, schedules = synthetic_files
    base = pd.read_csv(folder / "curves.csv")
    truth = {**MPL_TOY, "L0_N": -0.1, "A_N": 0.05, "alpha_N": -0.03, "B_N": 0.1}
    law = get_law("multi_power", by_size=True)
    frames, lrs = [], []
    for size in (3e7, 3e8):
        b = base.assign(run=base["run"] + f"@{size:g}", params=size)
        b["loss"] = law.predict(truth, run=base["run"], step=b["step"], params=size, schedule=schedules)
        frames.append(b)
        lrs.append(schedules.to_frame().assign(run=lambda t, s=size: t["run"] + f"@{s:g}"))
    pd.concat(frames).to_csv(tmp_path / "curves.csv", index=False)
    pd.concat(lrs).to_csv(tmp_path / "lr.csv", index=False)
    out = tmp_path / "fit.json"
    done = run_cli("fit", str(tmp_path / "curves.csv"), "--law", "multi_power", "--law-option", "by_size=true",
                   "--schedule", str(tmp_path / "lr.csv"), "--out", str(out), "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["params"]["L0_N"] == pytest.approx(-0.1, abs=0.02)
    # A new size: one --at params=N for every run of the schedule file.
    (tmp_path / "one.csv").write_text(schedules.to_frame().query("run == 'wsd'").to_csv(index=False))
    done = run_cli("predict", str(out), "--schedule", str(tmp_path / "one.csv"), "--at", "params=1e9", "--json")
    assert done.returncode == 0, done.stderr
    got = pd.DataFrame(json.loads(done.stdout)).dropna()
    expected = law.predict(truth, run="wsd", step=got["step"], params=1e9, schedule=schedules)
    np.testing.assert_allclose(got["loss"], expected, rtol=2e-3)
    done = run_cli("predict", str(out), "--schedule", str(tmp_path / "one.csv"), "--json")
    assert done.returncode == 2 and "model size" in done.stderr


def test_bad_input_exits_2_with_a_message(synthetic_files, mpl_fit, tmp_path):
    folder, _ = synthetic_files
    out, _ = mpl_fit
    # A schedule file that lacks a run of the curves.
    pd.read_csv(folder / "lr.csv").query("run != 'wsd'").to_csv(tmp_path / "short.csv", index=False)
    done = run_cli(
        "fit", str(folder / "curves.csv"), "--law", "lr_annealing", "--schedule", str(tmp_path / "short.csv")
    )
    assert done.returncode == 2 and "no LR schedule for run" in done.stderr
    # A schedule law without a schedule.
    done = run_cli("fit", str(folder / "curves.csv"), "--law", "lr_annealing")
    assert done.returncode == 2 and "schedule" in done.stderr
    # predict needs --at or --schedule.
    done = run_cli("predict", str(out))
    assert done.returncode == 2 and "--at" in done.stderr
    # A step outside the schedule.
    pd.DataFrame({"run": ["cos"], "step": [999]}).to_csv(tmp_path / "far.csv", index=False)
    done = run_cli("predict", str(out), "--schedule", str(folder / "lr.csv"), "--steps", str(tmp_path / "far.csv"))
    assert done.returncode == 2 and "outside its LR schedule" in done.stderr


# ---------------------------------------------------------------------------------------------- --interval
def _steps_file(folder, name: str, runs: list[str], steps: list[int]):
    path = folder / name
    pd.DataFrame({"run": runs, "step": steps}).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def annealing_fit_file(synthetic_files):
    """lr_annealing fitted (in Python, saved as JSON) to its own synthetic curves on the same schedules.

    Its bootstrap is about 10x faster than multi_power's (20 block replicates: 0.14 s against 1.1 s).
    """
    from scalelaw import fit

    folder, schedules = synthetic_files
    steps = np.arange(60, 600, 10)
    truth = {"L0": 2.0, "A": 0.5, "alpha": 0.5, "C": 50.0}
    rng = np.random.default_rng(1)
    frames = [
        pd.DataFrame({"run": run, "step": steps, "loss": get_law("lr_annealing").predict(truth, run=run, step=steps,
                      schedule=schedules) * np.exp(rng.normal(0, 0.002, steps.size))})
        for run in schedules
    ]  # fmt: skip
    out = folder / "annealing.json"
    result = fit("lr_annealing", pd.concat(frames), schedule=schedules)
    assert result.status.ok, result.status.messages()
    result.save(out)
    return out


def test_predict_interval_with_schedule_matches_the_library(synthetic_files, annealing_fit_file, tmp_path):
    """``predict --schedule --steps --interval``: block bootstrap of the fitted curves (3 runs < 8), as in Python."""
    from scalelaw.fitting.refit import with_schedule
    from scalelaw.trust.bootstrap import bootstrap

    folder, schedules = synthetic_files
    out = annealing_fit_file
    steps = _steps_file(tmp_path, "steps.csv", ["cos", "wsd", "steps", "cos"], [599, 599, 599, 0])
    done = run_cli("predict", str(out), "--schedule", str(folder / "lr.csv"), "--steps", str(steps),
                   "--interval", "0.9", "--n-boot", "20", "--seed", "3", "--interval-kind", "parameter",
                   "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    got = pd.DataFrame(json.loads(done.stdout))
    assert got.columns.tolist() == ["run", "step", "loss", "low", "high", "level", "method", "interval_kind"]
    assert (got["interval_kind"] == "parameter").all()
    assert got.iloc[3][["loss", "low", "high"]].isna().all()  # step 0: no LR area yet, no prediction
    defined = got.iloc[:3]
    assert (defined["low"] < defined["loss"]).all() and (defined["loss"] < defined["high"]).all()
    assert (got["method"] == "bootstrap (mean, by block, n=20)").all() and (got["level"] == 0.9).all()
    fitted = with_schedule(FitResult.load(out), schedules)
    band = bootstrap(fitted, n=20, by="block", seed=3).predict(defined[["run", "step"]], level=0.9)
    np.testing.assert_allclose(defined[["low", "high"]], band[["low", "high"]], rtol=1e-9)

    # Human output, resampling rows, for a new measurement: the interval at each run's last step.
    done = run_cli("predict", str(out), "--schedule", str(folder / "lr.csv"), "--steps", str(steps),
                   "--interval", "0.9", "--n-boot", "20", "--bootstrap-by", "row", "--observation")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "last, 90% parameter interval" in done.stdout and "bootstrap (observation, by row, n=20)" in done.stdout
    # The total interval (the default) of an LR-schedule law is the parameter one, and says so.
    assert "this interval is the parameter interval" in done.stderr


def test_predict_interval_flags_are_checked(synthetic_files, annealing_fit_file, tmp_path):
    folder, _ = synthetic_files
    out = annealing_fit_file
    lr = str(folder / "lr.csv")
    steps = str(_steps_file(tmp_path, "steps.csv", ["wsd"], [599]))
    # With --schedule, an interval needs the steps to bound.
    done = run_cli("predict", str(out), "--schedule", lr, "--interval", "0.9")
    assert done.returncode == 2 and "--interval with --schedule needs --steps" in done.stderr
    # Three curves are too few to resample whole runs; the message names the CLI option.
    done = run_cli("predict", str(out), "--schedule", lr, "--steps", steps, "--interval", "0.9", "--n-boot", "20",
                   "--bootstrap-by", "run")  # fmt: skip
    assert done.returncode == 1 and "only 3 runs to resample" in done.stderr and "--bootstrap-by block" in done.stderr
    # The bootstrap refits the fitted curves: the schedule file must hold their schedules.
    (tmp_path / "one.csv").write_text(pd.read_csv(lr).query("run == 'wsd'").to_csv(index=False))
    done = run_cli("predict", str(out), "--schedule", str(tmp_path / "one.csv"), "--steps", steps, "--interval", "0.9")
    assert done.returncode == 2 and "must also hold the LR schedules of the fitted runs" in done.stderr
    assert "'cos'" in done.stderr


def test_bootstrap_by_needs_interval_and_a_known_value(synthetic_files, annealing_fit_file, tmp_path):
    folder, _ = synthetic_files
    out = annealing_fit_file
    lr = str(folder / "lr.csv")
    steps = str(_steps_file(tmp_path, "steps.csv", ["wsd"], [599]))
    done = run_cli("predict", str(out), "--schedule", lr, "--bootstrap-by", "row")
    assert done.returncode == 2 and "add --interval" in done.stderr
    done = run_cli("predict", str(out), "--schedule", lr, "--steps", steps, "--interval", "0.9", "--bootstrap-by", "x")
    assert done.returncode == 2 and "--bootstrap-by must be run, row or block" in done.stderr


def test_bootstrap_by_applies_to_plain_predictions(tmp_path):
    """``predict --at --interval --bootstrap-by row`` on a law without schedules (default there: by run)."""
    from scalelaw import fit

    flops = np.geomspace(1e18, 1e21, 12)
    loss = 1.7 + 30.0 * flops**-0.08 * np.exp(np.random.default_rng(0).normal(0, 0.003, flops.size))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # E, A and alpha trade off on one decade and a half: not what is tested
        fit("power", {"flops": flops, "loss": loss}).save(tmp_path / "power.json")
    done = run_cli("predict", str(tmp_path / "power.json"), "--at", "flops=1e22", "--interval", "0.9",
                   "--n-boot", "30", "--bootstrap-by", "row", "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    assert got["method"] == "bootstrap (observation, by row, n=30)" and got["low"] < got["value"] < got["high"]
    assert got["interval_kind"] == "total" and got["parameter_low"] > got["low"]  # a new measurement, widened
