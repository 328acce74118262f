"""Checkpoint data just works: tracker-shaped exports fit with one command, every data command shares --map,
--where, --weights and --drop-early, and the command line's help and tables stay clean at 80 columns."""

from __future__ import annotations

import gzip
import json
import re
import warnings
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import scalelaw
from scalelaw.cli import app
from scalelaw.errors import DataError, DataWarning

#: Column names of a W&B history export (``_step``, the run's display ``Name``, slash-separated metric names).
WANDB = {"Name": "run", "model/params": "params", "train/tokens_seen": "tokens", "eval/loss": "loss"}
MAPS = [w for old, new in WANDB.items() for w in ("--map", f"{old}={new}")]


def wandb_history(n_runs: int = 6, steps: int = 40, eval_every: int = 5, seed: int = 0) -> pd.DataFrame:
    """A W&B-shaped history: one row per logged step from step 0 (zero tokens), the loss only at eval steps."""
    rng = np.random.default_rng(seed)
    frames = []
    for k, params in enumerate(np.logspace(7, 8.5, n_runs)):
        step = np.arange(steps + 1)
        tokens = step * 2.0e6 * (1 + k / 4)
        with np.errstate(divide="ignore"):
            loss = 1.8 + 400 * params**-0.3 + 600 * tokens**-0.28
        loss = loss * np.exp(rng.normal(0, 0.003, len(step)))
        loss[step % eval_every != 0] = np.nan  # logged between evaluations: no loss
        loss[0] = np.nan
        frames.append(
            pd.DataFrame(
                {
                    "Name": f"run-{k}",
                    "_step": step,
                    "model/params": params,
                    "train/tokens_seen": tokens,
                    "eval/loss": loss,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def run(*args: str, stdin: str | None = None) -> SimpleNamespace:
    """The command in this process (typer's runner: no interpreter start-up), as returncode, stdout and stderr."""
    result = CliRunner().invoke(app, list(args), input=stdin, env={"COLUMNS": "120"})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return SimpleNamespace(returncode=result.exit_code, stdout=result.stdout, stderr=result.stderr)


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    path = tmp_path_factory.mktemp("wandb") / "history.csv"
    wandb_history().to_csv(path, index=False)
    return path


def test_a_wandb_export_fits_with_only_its_map_flags(export):
    proc = run("fit", str(export), "--law", "chinchilla", *MAPS, "--json")
    assert proc.returncode == 0, proc.stderr
    frame = wandb_history()
    n_loss = int(frame["eval/loss"].notna().sum())
    dropped = len(frame) - n_loss
    assert f"dropped {dropped} of {len(frame)} row(s) with no 'loss' value" in proc.stderr
    payload = json.loads(proc.stdout)
    assert payload["n_points"] == n_loss and payload["n_runs"] == 6
    # The summary, not the data: column names and the hash, no values.
    assert payload["data"]["hash"].startswith("sha256:") and "loss" in payload["data"]["columns"]
    assert len(proc.stdout) < 8_000


def test_without_a_run_column_the_likely_one_is_named(export):
    proc = run("fit", str(export), "--law", "chinchilla", *MAPS[2:], "--json")
    assert proc.returncode == 0, proc.stderr
    assert "every row became its own run" in proc.stderr and "--map Name=run" in proc.stderr
    frame = wandb_history().rename(columns=WANDB).drop(columns="run")
    frame = frame.rename(columns={"_step": "step"})
    with pytest.warns(DataWarning, match="rows share params with growing tokens"):
        scalelaw.load_runs(frame)


def test_a_non_positive_scale_with_a_target_still_fails_clearly(export, tmp_path):
    frame = wandb_history()
    frame.loc[5, "train/tokens_seen"] = 0.0  # step 5 has a loss: a real logging error, not a step-0 row
    path = tmp_path / "bad.csv"
    frame.to_csv(path, index=False)
    proc = run("fit", str(path), *MAPS)
    assert proc.returncode == 2
    assert "column 'tokens' has 1 non-positive value(s) (row 6)" in proc.stderr
    assert "data rows of" in proc.stderr and "1-based, header excluded" in proc.stderr
    with pytest.raises(DataError, match=r"\(row 5\).*index labels of the DataFrame"):
        scalelaw.load_runs(frame, WANDB)


def test_where_weights_and_drop_early_reach_the_fit(export):
    base = [str(export), "--law", "chinchilla", *MAPS, "--json"]
    small = json.loads(run("fit", *base, "--where", "params < 5e7").stdout)
    assert small["n_runs"] == 3  # 1e7, 2e7 and 4e7 of logspace(7, 8.5, 6)
    assert any("kept" in note and "params < 5e7" in note for note in small["data"]["notes"])
    weighted = json.loads(run("fit", *base, "--weights", "per_run", "--drop-early", "0.3").stdout)
    assert weighted["data"]["weighted"] is True
    assert weighted["n_points"] < json.loads(run("fit", *base).stdout)["n_points"]
    bad = run("fit", *base, "--where", "params >> 2")
    assert bad.returncode == 2 and "cannot apply --where 'params >> 2'" in bad.stderr
    assert "pandas query" in bad.stderr
    bad = run("fit", *base, "--weights", "per_step")
    assert bad.returncode == 2 and "--weights must be per_run" in bad.stderr


def test_compressed_files_and_standard_input_are_read(export, tmp_path):
    packed = tmp_path / "history.csv.gz"
    packed.write_bytes(gzip.compress(export.read_bytes()))
    from_gzip = json.loads(run("fit", str(packed), *MAPS, "--json").stdout)
    from_stdin = json.loads(run("fit", "-", *MAPS, "--json", stdin=export.read_text()).stdout)
    assert from_gzip["params"] == pytest.approx(from_stdin["params"], rel=1e-12)
    assert from_stdin["data"]["source"] == "standard input"


def test_python_fit_and_backtest_take_mapping_where_and_weights():
    frame = wandb_history()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = scalelaw.fit("chinchilla", frame, mapping=WANDB)
        chosen = scalelaw.fit("chinchilla", frame, mapping=WANDB, where="params < 5e7", weights="per_run")
        table = scalelaw.backtest(
            "chinchilla", frame, holdout="largest:1:params", mapping=WANDB, where="tokens > 1e7", weights="per_run"
        )
    assert plain.n_points == int(frame["eval/loss"].notna().sum()) and plain.n_runs == 6
    assert chosen.n_runs == 3 and chosen.data.weights is not None
    assert table.loc[0, "n_train_runs"] == 5 and table.loc[0, "n_test_runs"] == 1
    assert not table.loc[0, "error"]


def test_every_data_command_takes_the_shared_options():
    runner = CliRunner()
    for command in ("fit", "backtest", "report", "isoflop"):
        text = runner.invoke(app, [command, "--help"], env={"COLUMNS": "200"}).output
        for option in ("--map", "--where", "--drop-early"):
            assert option in text, (command, option)
        assert "pandas query" in text
        assert ("--weights" in text) == (command != "isoflop"), command  # isoflop: one row per run already


def _commands() -> list[list[str]]:
    found = [[]]
    for info in app.registered_commands:
        found.append([info.name or info.callback.__name__.replace("_", "-")])
    return [*found, ["datasets"], ["datasets", "list"]]


def test_help_shows_no_value_type_beside_flags():
    runner = CliRunner()
    for words in _commands():
        text = runner.invoke(app, [*words, "--help"], env={"COLUMNS": "120"}).output
        assert "Usage" in text, words
        assert not re.search(r"<bool>|<bool\b|BOOLEAN", text), (words, text)


def test_tables_do_not_cut_names_at_80_columns(tmp_path):
    runner = CliRunner()
    env = {"COLUMNS": "80"}
    fit = tmp_path / "fit.json"
    cases = [
        ["fit", "dataset:gadre2024_rpj", "--influence", "--out", str(fit)],
        ["fit", "dataset:gadre2024_rpj", "--y", "loss,loss_paloma_c4_en,loss_paloma_falcon_refinedweb"],
        ["backtest", "dataset:gadre2024_rpj", "--laws", "chinchilla,overtrain", "--holdout", "largest:2:params"],
        ["laws"],
        ["datasets", "list"],
        ["predict", str(fit), "--at", "params=7e10,tokens=1.4e12"],
    ]
    for args in cases:
        result = runner.invoke(app, args, env=env)
        assert result.exit_code == 0, (args, result.output)
        assert "…" not in result.output, (args, result.output)
    # Run names longer than a narrow column are kept whole (up to 24 characters) or wrapped, never cut.
    assert "rpj-d=1024_l=24_h=8-8.0" in runner.invoke(app, cases[0][:3], env=env).output


def test_predict_json_gives_each_field_once(tmp_path):
    fit = tmp_path / "fit.json"
    scalelaw.fit("power", {"flops": np.logspace(18, 21, 8), "loss": 1.7 + 2e3 * np.logspace(18, 21, 8) ** -0.15}).save(
        fit
    )
    one = json.loads(run("predict", str(fit), "--at", "flops=1e22", "--json").stdout)
    assert "predictions" not in one and one["value"] > 1.7 and one["at"] == {"flops": 1e22}
    two = json.loads(run("predict", str(fit), "--at", "flops=1e22", "--at", "flops=1e23", "--json").stdout)
    assert set(two) == {"law", "y", "predictions"} and len(two["predictions"]) == 2


def test_python_report_takes_the_data_options(tmp_path):
    from scalelaw.views.report import report

    frame = wandb_history()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        done = report(
            frame, tmp_path / "r.html", mapping=WANDB, where="params < 5e7", weights="per_run", drop_early=0.2,
            n_boot=0, holdout="none",
        )  # fmt: skip
    assert done.path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert done.fit.n_runs == 3 and done.fit.data.weights is not None and done.backtest is None
    kept = frame[frame["eval/loss"].notna() & (frame["model/params"] < 5e7)]
    assert done.fit.n_points < len(kept)  # drop_early took the start of each run
