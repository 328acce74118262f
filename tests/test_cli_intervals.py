"""Honest intervals on the command line, through the real entry point: ``fit --law auto``, ``predict
--interval-kind`` and ``backtest --interval-kind`` / ``--laws auto``. Every output names the interval's kind."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest

from scalelaw import FitResult


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "250", "NO_COLOR": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "scalelaw", *args], capture_output=True, text=True, timeout=300, env=env
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"{args} exited {proc.returncode}\nstdout:{proc.stdout}\nstderr:{proc.stderr}")
    return proc


@pytest.fixture(scope="module")
def gadre_fit(tmp_path_factory):
    path = tmp_path_factory.mktemp("intervals") / "fit.json"
    run("fit", "dataset:gadre2024_rpj", "--law", "chinchilla", "--out", str(path), "--json")
    return path


# ------------------------------------------------------------------------------------------ fit --law auto
def test_fit_auto_shows_the_choice_and_saves_it(tmp_path):
    path = tmp_path / "auto.json"
    args = ["fit", "dataset:gadre2024_rpj", "--law", "auto", "--candidates", "chinchilla,kaplan"]
    text = run(*args).stdout
    assert "Law chosen by rolling backtests inside the data" in text
    data = json.loads(run(*args, "--out", str(path), "--json").stdout)
    choice = data["law_choice"]
    assert [c["law"] for c in choice["candidates"]] == ["chinchilla", "kaplan"]
    assert choice["chosen"] == data["law"] and choice["chosen"] in ("chinchilla", "kaplan")
    assert sum(c["weight"] for c in choice["candidates"]) == pytest.approx(1.0)
    # The text table shows every candidate's score, weight and cuts, and marks the chosen one.
    for c in choice["candidates"]:
        line = next(row for row in text.splitlines() if row.startswith(f"│ {c['law']} "))
        assert f"{c['score']:.4g}" in line and f"{c['weight']:.2f}" in line and f" {c['n_cuts']} " in line
        assert ("chosen" in line) == (c["law"] == choice["chosen"])
    assert FitResult.load(path).law_choice.chosen == choice["chosen"]
    # Its total intervals say they hold the choice of law; a one-law fit's do not claim it.
    said = run("predict", str(path), "--at", FAR, "--interval", "0.9", "--n-boot", "30").stdout
    assert "and by the choice of law" in said.replace("\n", " ")


def test_candidates_without_auto_exit_2():
    proc = run("fit", "dataset:gadre2024_rpj", "--law", "chinchilla", "--candidates", "kaplan", check=False)
    assert proc.returncode == 2 and "candidates= is for law='auto'" in proc.stderr
    assert "Traceback" not in proc.stderr


# ------------------------------------------------------------------------------------------ predict
FAR = "params=7e10,tokens=1.4e12"  # 1.9 decades of compute beyond the largest run


def test_predict_total_is_wider_than_parameter_beyond_the_data(gadre_fit):
    common = ["predict", str(gadre_fit), "--at", FAR, "--interval", "0.9", "--n-boot", "100", "--json"]
    total = json.loads(run(*common).stdout)
    parameter = json.loads(run(*common, "--interval-kind", "parameter").stdout)
    assert total["interval_kind"] == "total" and parameter["interval_kind"] == "parameter"
    assert total["low"] < parameter["low"] < total["value"] < parameter["high"] < total["high"]
    # The total band is the parameter band of a new measurement, widened by the law's error at that distance.
    fit = FitResult.load(gadre_fit)
    assert total["decades"] == pytest.approx(1.87, abs=0.01)
    assert total["extrapolation_halfwidth"] == pytest.approx(fit.extrapolation_error().halfwidth(total["decades"]))
    assert total["law_choice_halfwidth"] == 0.0  # one law, no choice
    assert total["beyond_checked"] is False and total["method"].startswith("bootstrap (observation")
    assert math.log(total["parameter_high"] / total["value"]) < math.log(total["high"] / total["value"])
    # A parameter interval is for the law's value unless asked otherwise; its row carries no total columns.
    assert parameter["method"].startswith("bootstrap (mean") and "decades" not in parameter
    asked = json.loads(run(*common, "--interval-kind", "parameter", "--observation").stdout)
    assert asked["method"].startswith("bootstrap (observation") and asked["high"] > parameter["high"]
    assert asked["low"] == pytest.approx(total["parameter_low"]) and asked["high"] == pytest.approx(
        total["parameter_high"]
    )


def test_predict_text_names_the_kind_and_notes_points_beyond_the_backtests(gadre_fit):
    args = ["predict", str(gadre_fit), "--at", FAR, "--at", "params=1e12,tokens=2e13", "--interval", "0.9"]
    proc = run(*args, "--n-boot", "60")
    assert "90% total interval" in proc.stdout and "decades beyond" in proc.stdout
    assert "1 of 2 point(s) lie beyond what the backtests checked" in proc.stdout
    assert "(beyond checked)" in proc.stdout
    assert "choice of law" not in proc.stdout.replace("\n", " ")  # one law: no law choice to widen by
    plain = run(*args, "--n-boot", "60", "--interval-kind", "parameter").stdout
    assert "90% parameter interval" in plain and "beyond what the backtests checked" not in plain


def test_interval_kind_bogus_exits_2_with_a_clear_line(gadre_fit):
    for command in (
        ["predict", str(gadre_fit), "--at", FAR, "--interval", "0.9"],
        ["backtest", "dataset:gadre2024_rpj", "--interval", "0.9"],
    ):
        proc = run(*command, "--interval-kind", "bogus", check=False)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr
        assert "--interval-kind must be one of total, parameter, not 'bogus'" in proc.stderr


# ------------------------------------------------------------------------------------------ backtest
def test_backtest_rows_carry_kind_coverage_score_and_width():
    args = ["backtest", "dataset:gadre2024_rpj", "--laws", "chinchilla", "--interval", "0.9", "--n-boot", "60"]
    total = json.loads(run(*args, "--json").stdout)[0]
    parameter = json.loads(run(*args, "--interval-kind", "parameter", "--json").stdout)[0]
    assert total["interval_kind"] == "total" and parameter["interval_kind"] == "parameter"
    assert total["chosen"] == "" and total["n_test"] == 7
    # The same training fit: the same errors, and a wider (total) interval.
    assert total["mean_abs_rel_error"] == parameter["mean_abs_rel_error"]
    assert total["mean_rel_width"] > parameter["mean_rel_width"] > 0
    for row in (total, parameter):
        assert row["coverage"] * row["n_test"] == pytest.approx(round(row["coverage"] * row["n_test"]))
        assert row["interval_score"] > 0
    text = run(*args).stdout
    assert "coverage (90% total)" in text and "interval score" in text and "intervals: total" in text


def test_backtest_auto_chooses_on_the_training_part():
    args = ["backtest", "dataset:gadre2024_rpj", "--laws", "chinchilla,auto", "--candidates", "chinchilla,kaplan"]
    rows = json.loads(run(*args, "--json").stdout)
    assert [r["law"] for r in rows] == ["chinchilla", "auto"]
    auto = rows[1]
    assert auto["chosen"] in ("chinchilla", "kaplan") and auto["formula"].startswith("auto: ")
    assert auto["error"] == "" and auto["mean_abs_rel_error"] < 0.05 and auto["interval_kind"] == ""
    text = run(*args).stdout
    assert f"auto (chose {auto['chosen']})" in text
