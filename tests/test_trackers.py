"""Tracker import: W&B exports and API, TensorBoard event directories, MLflow stores, read as Runs.

TensorBoard and MLflow files are written by the real libraries (skipped when they are not installed); the W&B
API is exercised with an object of the API's shape, since the tests have no network.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scalelaw import fit, load_runs
from scalelaw.data.trackers import guess_mapping, read_wandb_api, read_wandb_export
from scalelaw.errors import DataError

SIZES = (2e6, 5e6, 1.2e7, 3e7, 8e7)
TRUE = {"E": 1.7, "A": 400.0, "alpha": 0.34, "B": 410.0, "beta": 0.28}
BATCH_TOKENS = 65536
#: A short synthetic ladder does not pin A against alpha: these tests check the reading, not the law's identifiability.
quiet_fit = pytest.mark.filterwarnings("ignore::scalelaw.errors.IdentifiabilityWarning")


def law_loss(params, tokens):
    return TRUE["E"] + TRUE["A"] / params ** TRUE["alpha"] + TRUE["B"] / tokens ** TRUE["beta"]


def wandb_history(seed: int = 0, eval_every: int = 250, steps: int = 2000) -> pd.DataFrame:
    """A W&B history export as the issue describes it: Name, _step, model/params, train/tokens_seen, a train loss
    at every step, eval/loss only at eval steps, and a step-0 row per run with tokens 0 and no loss."""
    rng = np.random.default_rng(seed)
    rows = []
    for i, n in enumerate(SIZES):
        for step in range(0, steps + 1, 50):
            tokens = step * BATCH_TOKENS
            row = {"Name": f"ladder-{i}", "_step": step, "_runtime": step * 0.1, "model/params": n}
            row |= {"train/tokens_seen": tokens, "train/lr": 3e-4, "train/loss": np.nan, "eval/loss": np.nan}
            if step:
                row["train/loss"] = law_loss(n, tokens) * (1 + 0.01 * rng.standard_normal())
                if step % eval_every == 0:
                    row["eval/loss"] = law_loss(n, tokens) * (1 + 0.002 * rng.standard_normal())
            rows.append(row)
    return pd.DataFrame(rows)


@pytest.fixture
def export(tmp_path):
    path = tmp_path / "export.csv"
    wandb_history().to_csv(path, index=False)
    return path


DOC = Path(__file__).resolve().parents[1] / "docs" / "trackers.md"
#: The package under test, found from any working directory (a relative PYTHONPATH=src would not be).
ENV = {
    **os.environ,
    "PYTHONPATH": os.pathsep.join(map(os.path.abspath, os.environ.get("PYTHONPATH", "").split(os.pathsep))),
}


def cli(*args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "scalelaw", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env=ENV)


def test_guess_mapping_prefers_held_out_loss_and_names_the_run():
    columns = ["Name", "_step", "trainer/global_step", "model/params", "train/tokens_seen", "train/loss", "val_loss"]
    assert guess_mapping(columns) == {
        "Name": "run",
        "_step": "step",
        "model/params": "params",
        "train/tokens_seen": "tokens",
        "val_loss": "loss",
    }
    # A column already canonical is the table's own choice: nothing is guessed onto it.
    assert "train/loss" not in guess_mapping(["loss", "train/loss"])
    # Metrics that only share words with a canonical name are left alone (a loss scale is no loss).
    assert guess_mapping(["optimizer/loss_scale", "eval/name", "tokens_per_second"]) == {}


def test_wandb_export_reads_checkpoints_by_run_and_counts_what_it_drops(export):
    history = pd.read_csv(export)
    runs = load_runs(f"wandb:{export}")
    evaluated = history["eval/loss"].notna()
    assert len(runs) == int(evaluated.sum())
    assert sorted(runs.table["run"].unique()) == sorted(history["Name"].unique())
    assert runs.n_runs == len(SIZES)
    np.testing.assert_array_equal(runs.array("loss"), history.loc[evaluated, "eval/loss"].to_numpy())
    np.testing.assert_array_equal(runs.array("tokens"), history.loc[evaluated, "train/tokens_seen"].to_numpy())
    # Row labels stay the file's data rows, so a later error points into the export.
    np.testing.assert_array_equal(runs.table.index, np.flatnonzero(evaluated.to_numpy()) + 1)
    mapping_note, dropped = runs.notes[:2]
    assert "Name=run" in mapping_note and "eval/loss=loss" in mapping_note and "_step=step" in mapping_note
    assert "loss also matches train/loss" in mapping_note
    assert f"dropped {int((~evaluated).sum())} of {len(history)} row(s) with no 'loss' value (eval/loss)" in dropped


def test_wandb_export_fits_with_one_command_and_only_map_flags(export):
    maps = ["Name=run", "_step=step", "model/params=params", "train/tokens_seen=tokens", "eval/loss=loss"]
    proc = cli("fit", f"wandb:{export}", *[a for m in maps for a in ("--map", m)], "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["n_runs"] == len(SIZES)
    assert result["params"]["alpha"] == pytest.approx(TRUE["alpha"], abs=0.03)


def test_mapping_overrides_the_guess_and_can_keep_a_name(export):
    runs = load_runs(f"wandb:{export}", {"train/loss": "loss"})
    history = pd.read_csv(export)
    assert len(runs) == int(history["train/loss"].notna().sum())
    assert "train/loss=loss" in runs.notes[0] and "loss also matches eval/loss" in runs.notes[0]
    assert "eval/loss" in runs.columns
    kept = load_runs(f"wandb:{export}", "train/lr=train/lr")
    assert "lr" not in kept.columns and "train/lr" in kept.columns
    with pytest.raises(DataError, match=r"'Model Size' that wandb:.* does not have"):
        load_runs(f"wandb:{export}", "Model Size=params")


@quiet_fit
def test_python_fit_matches_the_law(export):
    result = fit("chinchilla", read_wandb_export(export), seed=0)
    assert result.n_runs == len(SIZES)
    assert result.params["alpha"] == pytest.approx(TRUE["alpha"], abs=0.03)


def test_export_without_a_run_column_is_refused_not_split_into_rows(tmp_path):
    path = tmp_path / "no_name.csv"
    wandb_history().drop(columns="Name").to_csv(path, index=False)
    with pytest.raises(DataError, match=r"no run column \(its 'step' values repeat.*--map 'COLUMN=run'"):
        load_runs(f"wandb:{path}")
    # One run's export has no name column and no repeated step: the file names the run.
    one = tmp_path / "ladder-3.csv"
    wandb_history().query("Name == 'ladder-3'").drop(columns="Name").to_csv(one, index=False)
    runs = load_runs(f"wandb:{one}")
    assert set(runs.table["run"]) == {"ladder-3"} and "no run column: every row is one run" in " ".join(runs.notes)


def test_step_zero_rows_with_a_loss_are_dropped_and_counted(tmp_path):
    history = wandb_history(eval_every=50)
    history.loc[history["_step"] == 0, "eval/loss"] = 11.0  # an evaluation before training: tokens are 0
    path = tmp_path / "export.csv"
    history.to_csv(path, index=False)
    runs = load_runs(f"wandb:{path}")
    assert runs.array("tokens").min() > 0
    assert f"dropped {len(SIZES)} row(s) with tokens = 0" in " ".join(runs.notes)
    everything = read_wandb_export(path, drop_empty=None, mapping="train/tokens_seen=train/tokens_seen")
    assert len(everything) == len(history)


def test_wandb_panel_export_becomes_a_long_table(tmp_path):
    steps = np.arange(100, 1001, 100)
    panel = {"Step": steps}
    for i, n in enumerate(SIZES[:3]):
        loss = np.array([law_loss(n, s * BATCH_TOKENS) for s in steps])
        panel |= {
            f"ladder-{i} - eval/loss": loss,
            f"ladder-{i} - eval/loss__MIN": loss,
            f"ladder-{i} - eval/loss__MAX": loss,
        }
    path = tmp_path / "panel.csv"
    frame = pd.DataFrame(panel)
    frame.loc[7:, "ladder-2 - eval/loss"] = np.nan  # a shorter run: its last rows are empty
    frame.to_csv(path, index=False)
    runs = load_runs(f"wandb:{path}")
    assert runs.table.groupby("run").size().to_dict() == {"ladder-0": 10, "ladder-1": 10, "ladder-2": 7}
    assert "Step=step" in runs.notes[0] and "6 bands left out" in runs.notes[1]
    np.testing.assert_array_equal(runs.table.loc[runs.table["run"] == "ladder-1", "step"], steps)


class FakeRun:
    """A ``wandb.apis.public.Run`` as far as the reader uses one: name, id, config, scan_history."""

    def __init__(self, name, run_id, config, history):
        self.name, self.id, self.config, self._history = name, run_id, config, history

    def scan_history(self, keys=None):
        for row in self._history:
            yield row if keys is None else {k: v for k, v in row.items() if k in keys}


class FakeApi:
    def __init__(self, runs):
        self._runs, self.calls = runs, []

    def runs(self, path, filters=None):
        self.calls.append((path, filters))
        return iter(self._runs)


def fake_project() -> FakeApi:
    runs = []
    for i, n in enumerate(SIZES[:4]):
        history = [{"_step": 0, "train/loss": 10.0}] + [
            {"_step": s, "tokens_seen": s * BATCH_TOKENS, "eval/loss": law_loss(n, s * BATCH_TOKENS)}
            for s in range(100, 1001, 100)
        ]
        # Old runs wrap config values as {"value": ..., "desc": ...}; _wandb is W&B's own bookkeeping.
        config = {"model": {"n_params": {"value": n, "desc": None}}, "seed": 0, "_wandb": {"cli_version": "x"}}
        runs.append(FakeRun("dup" if i < 2 else f"run{i}", f"id{i}", config, history))
    return FakeApi(runs)


def test_wandb_api_reader_on_an_object_of_the_api_shape():
    api = fake_project()
    runs = read_wandb_api("me/ladder", api=api, filters={"state": "finished"})
    assert api.calls == [("me/ladder", {"state": "finished"})]
    assert sorted(runs.table["run"].unique()) == ["dup-id0", "dup-id1", "run2", "run3"]
    assert "model.n_params=params" in runs.notes[0] and "tokens_seen=tokens" in runs.notes[0]
    assert "_wandb.cli_version" not in runs.columns
    assert runs.table.groupby("run")["params"].nunique().eq(1).all() and len(runs) == 40
    assert "dropped 4 of 44 row(s) with no 'loss' value" in " ".join(runs.notes)
    keyed = read_wandb_api("me/ladder", api=fake_project(), keys=["_step", "eval/loss", "tokens_seen"])
    assert "train/loss" not in keyed.columns and len(keyed) == 40


def test_unknown_or_empty_tracker_sources_are_clear(tmp_path):
    with pytest.raises(DataError, match="names no tensorboard source"):
        load_runs("tensorboard:")
    with pytest.raises(DataError, match="no such file"):
        load_runs(f"wandb:{tmp_path / 'missing.csv'}")
    with pytest.raises(DataError, match="has no runs"):
        read_wandb_api("me/empty", api=FakeApi([]))


# --- TensorBoard: event files written by tensorboard's own writer ---------------------------------------------


def write_tensorboard(logdir, sizes=SIZES[:4]) -> None:
    pytest.importorskip("tensorboard")
    from tensorboard.compat.proto import types_pb2
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.compat.proto.summary_pb2 import Summary, SummaryMetadata
    from tensorboard.compat.proto.tensor_pb2 import TensorProto
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    def scalar(tag, value):  # as PyTorch's SummaryWriter writes it
        return Summary.Value(tag=tag, simple_value=value)

    def tensor(tag, value):  # as tf.summary.scalar writes it in TF2
        meta = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name="scalars"))
        return Summary.Value(tag=tag, metadata=meta, tensor=TensorProto(dtype=types_pb2.DT_FLOAT, float_val=[value]))

    for i, n in enumerate(sizes):
        train, held_out = EventFileWriter(str(logdir / f"run{i}")), EventFileWriter(str(logdir / f"run{i}" / "val"))
        train.add_event(Event(step=0, wall_time=time.time(), summary=Summary(value=[scalar("model/params", n)])))
        for step in range(100, 1001, 100):
            tokens = step * BATCH_TOKENS
            values = [scalar("train/tokens_seen", tokens), scalar("train/loss", law_loss(n, tokens) + 0.05)]
            train.add_event(Event(step=step, wall_time=time.time(), summary=Summary(value=values)))
            if step % 200 == 0:
                loss = tensor("loss", law_loss(n, tokens))
                held_out.add_event(Event(step=step, wall_time=time.time(), summary=Summary(value=[loss])))
        # A resumed run writes step 1000 again: the later value counts.
        again = [scalar("train/loss", law_loss(n, 1000 * BATCH_TOKENS))]
        train.add_event(Event(step=1000, wall_time=time.time() + 1, summary=Summary(value=again)))
        train.close()
        held_out.close()


@quiet_fit
def test_tensorboard_directory_one_subdirectory_per_run(tmp_path):
    write_tensorboard(tmp_path / "logs")
    runs = load_runs(f"tensorboard:{tmp_path / 'logs'}")
    assert sorted(runs.table["run"].unique()) == ["run0", "run1", "run2", "run3"]
    assert "val/loss=loss" in runs.notes[0] and "model/params=params" in runs.notes[0]
    assert len(runs) == 4 * 5  # the held-out loss every 200 steps
    np.testing.assert_allclose(runs.array("loss"), law_loss(runs.array("params"), runs.array("tokens")), rtol=1e-6)
    notes = " ".join(runs.notes)
    assert "'params' filled into" in notes and "4 value(s) written again at the same step" in notes
    last = runs.table.loc[runs.table["step"] == 1000, ["params", "train/loss"]]
    np.testing.assert_allclose(
        last["train/loss"], [law_loss(p, 1000 * BATCH_TOKENS) for p in last["params"]], rtol=1e-6
    )
    result = fit("chinchilla", runs, seed=0)
    assert result.n_runs == 4


def test_tensorboard_directory_missing_or_without_events(tmp_path):
    with pytest.raises(DataError, match="is not a directory"):
        load_runs(f"tensorboard:{tmp_path / 'logs'}")
    (tmp_path / "logs" / "run0").mkdir(parents=True)
    with pytest.raises(DataError, match="holds no TensorBoard event files"):
        load_runs(f"tensorboard:{tmp_path / 'logs'}")


# --- MLflow: a file store written by MlflowClient --------------------------------------------------------------


def write_mlflow(store, monkeypatch, experiments=("ladder",)) -> None:
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow >= 3.7 refuses new file stores without it
    client = MlflowClient(tracking_uri=store.resolve().as_uri())
    for name in experiments:
        experiment = client.create_experiment(name)
        for i, n in enumerate(SIZES[:3]):
            run = client.create_run(experiment, run_name="same" if i < 2 else f"n{i}")
            client.log_param(run.info.run_id, "n_params", n)
            client.log_param(run.info.run_id, "optimizer", "adamw")
            for step in range(200, 1001, 200):
                tokens = step * BATCH_TOKENS
                client.log_metric(run.info.run_id, "val_loss", law_loss(n, tokens), step=step)
                client.log_metric(run.info.run_id, "tokens_seen", tokens, step=step)
            client.log_metric(run.info.run_id, "train_loss", 5.0, step=50)
            client.set_terminated(run.info.run_id)
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE")


def test_mlflow_store_runs_metrics_and_params(tmp_path, monkeypatch):
    store = tmp_path / "mlruns"
    write_mlflow(store, monkeypatch, experiments=("ladder", "other"))
    runs = load_runs(f"mlflow:{store}#ladder")
    assert runs.n_runs == 3 and len(runs) == 15 and "experiment" not in runs.columns
    assert {r for r in runs.table["run"] if r.startswith("same-")} and "n2" in set(runs.table["run"])
    assert "n_params=params" in runs.notes[0] and "val_loss=loss" in runs.notes[0]
    assert (runs.table["optimizer"] == "adamw").all()
    assert "dropped 3 of 18 row(s) with no 'loss' value (val_loss)" in " ".join(runs.notes)
    np.testing.assert_allclose(runs.array("loss"), law_loss(runs.array("params"), runs.array("tokens")), rtol=1e-12)
    both = load_runs(f"mlflow:{store}")
    assert both.n_runs == 6 and set(both.table["experiment"]) == {"ladder", "other"}
    with pytest.raises(DataError, match=r"no experiment 'nope'; its experiments: .*'ladder'"):
        load_runs(f"mlflow:{store}#nope")
    assert "MLFLOW_ALLOW_FILE_STORE" not in os.environ  # the reader leaves the environment as it was


def test_mlflow_store_missing(tmp_path):
    with pytest.raises(DataError, match="no MLflow store at"):
        load_runs(f"mlflow:{tmp_path / 'none'}")


def test_docs_console_lines_run(tmp_path, monkeypatch):
    """docs/trackers.md's commands run on the files its Python blocks write (test_readme runs the blocks alone)."""
    from typer.testing import CliRunner

    from scalelaw.cli import app

    monkeypatch.chdir(tmp_path)
    text = DOC.read_text()
    namespace: dict = {}
    for index, code in enumerate(re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)):
        exec(compile(code, f"trackers.md block {index}", "exec"), namespace)
    lines = [
        line[2:]
        for block in re.findall(r"^```console\n(.*?)^```", text, flags=re.S | re.M)
        for line in block.splitlines()
    ]
    assert len(lines) == 4
    needs = {"tensorboard:": "tensorboard", "mlflow:": "mlflow"}
    for line in lines:
        argv = shlex.split(line)
        extra = next((lib for prefix, lib in needs.items() if argv[2].startswith(prefix)), None)
        if extra is not None and importlib.util.find_spec(extra) is None:
            continue  # the Python block skipped writing these files too
        done = CliRunner().invoke(app, argv[1:])  # in this process: the imports are paid once
        assert done.exit_code == 0, f"{line}\n{done.output}"
        assert "columns mapped:" in done.stdout and "runs;" in done.stdout


def test_out_never_replaces_the_wandb_export_it_reads(export):
    from scalelaw.data.io import check_output_path

    with pytest.raises(DataError, match="is an input of this command"):
        check_output_path(export, inputs=[f"wandb:{export}"], kind="fit", force=True)


def test_lr_schedule_from_the_same_tensorboard_logs(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.summary import Writer

    from scalelaw.data.schedules import load_curves_and_schedules

    for i, peak in enumerate((1e-3, 3e-3)):
        writer = Writer(str(tmp_path / "logs" / f"lr{i}"))
        for step in range(1, 201):
            writer.add_scalar("train/lr", peak * min(1.0, (201 - step) / 100), step=step)  # constant, then decay
            if step % 20 == 0:
                writer.add_scalar("eval/loss", 3.0 - 0.002 * step * (1 + i), step=step)
        writer.close()
    logs = f"tensorboard:{tmp_path / 'logs'}"
    runs, schedules = load_curves_and_schedules(logs, logs)
    assert len(runs) == 2 * 10 and "eval/loss=loss" in runs.notes[0]
    assert sorted(schedules.lrs) == ["lr0", "lr1"] and len(schedules["lr1"]) == 200
    np.testing.assert_allclose(schedules["lr1"][:100], 3e-3)
    np.testing.assert_allclose(schedules["lr1"][-1], 3e-5, rtol=1e-5)


def test_backtest_prints_the_mapping_it_read_with(export):
    from typer.testing import CliRunner

    from scalelaw.cli import app

    done = CliRunner().invoke(app, ["backtest", f"wandb:{export}", "--laws", "chinchilla"])
    assert done.exit_code == 0, done.output
    assert "note: W&B export columns mapped: Name=run" in done.stdout
    assert "held-out run" in done.stdout


def test_a_named_target_keeps_the_rows_that_hold_it(export):
    # Fitting the train loss, logged at every step, keeps the steps between evaluations: only rows empty in the
    # target are dropped (the step-0 rows), not those whose eval/loss is empty.
    history = pd.read_csv(export)
    runs = load_runs(f"wandb:{export}", target="train/loss")
    assert len(runs) == int(history["train/loss"].notna().sum()) > int(history["eval/loss"].notna().sum())
    assert runs.n_runs == len(SIZES)
