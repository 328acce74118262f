"""CLI for the LR-schedule laws, through the real entry point (``python -m scalelaw``).

``scalelaw fit CURVES --law multi_power --schedule LR.csv`` (also ``lr_annealing``; ``--map`` renames
columns in both files) and ``scalelaw predict FIT.json --schedule LR.csv [--steps STEPS.csv] --json``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from scalelaw import FitResult, datasets, get_law
from scalelaw.laws import schedule as sched
from scalelaw.laws.schedule import Schedules


def run_cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "scalelaw", *args], capture_output=True, text=True, env=env, timeout=300
    )


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
    from scalelaw.datasets import luo2025

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
