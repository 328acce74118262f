"""``scalelaw trend`` and ``scalelaw mc`` through the real entry point."""

from __future__ import annotations

import json

import numpy as np

from test_cli import run
from test_trend import FALLING, U_CURVE, choices, questions


def test_trend_reports_a_u_shape_and_an_inverse_trend(tmp_path):
    path = tmp_path / "scores.csv"
    u = questions(U_CURVE).rename(columns={"correct": "distractor_task"})
    u["inverse_task"] = questions(FALLING, seed=1)["correct"].to_numpy()
    u.to_csv(path, index=False)
    args = ["trend", str(path), "--metrics", "distractor_task,inverse_task", "--by", "question", "--n-boot", "300"]
    data = json.loads(run(*args, "--json").stdout)
    rows = {row["metric"]: row for row in data["metrics"]}
    assert data["by"] == "question" and data["level"] == 0.9
    assert rows["distractor_task"]["shape"] == "U-shaped" and rows["distractor_task"]["turning"] > 1e10
    assert rows["inverse_task"]["shape"] == "falling" and rows["inverse_task"]["inverse"] is True
    text = run(*args).stdout
    assert "worsens, then improves (U-shaped scaling)" in text and "worsens (inverse scaling)" in text
    bad = run("trend", str(path), "--metrics", "nope", check=False)
    assert bad.returncode == 2 and "'nope'" in bad.stderr and "Traceback" not in bad.stderr


def test_mc_prints_the_chain_and_its_intervals(tmp_path):
    path = tmp_path / "choices.csv"
    choices(n_questions=60).to_csv(path, index=False)
    data = json.loads(run("mc", str(path), "--scale", "flops", "--n-boot", "100", "--json").stdout)
    stages = {row["stage"]: row for row in data["stages"]}
    assert list(stages) == ["log_p_vocab", "p_vocab", "mass", "p_choices", "accuracy", "brier"]
    assert np.isclose(stages["log_p_vocab"]["per_question"], 1.0)
    assert stages["p_choices"]["per_question"] < stages["p_vocab"]["per_question"]
    assert data["n_models"] == 9 and data["n_questions"] == 60 and len(data["per_model"]) == 9
    assert "p_choices" in run("mc", str(path), "--scale", "flops", "--n-boot", "50").stdout
    bad = run("mc", str(path), check=False)  # the scale column is flops, not params
    assert bad.returncode == 2 and "'params'" in bad.stderr and "Traceback" not in bad.stderr
