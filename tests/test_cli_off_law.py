"""``fit --influence`` names the runs off the law (text and ``--json``), through the real entry point."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

import scalelaw
from cli_run import run_main
from scalelaw.trust.influence import OFF_LAW_FLOOR, OFF_LAW_SCALES, InfluenceCheck


def _write_ladder(path, off: str | None) -> pd.DataFrame:
    """A seeded Chinchilla ladder, 25 runs (5 sizes x 5 tokens per parameter), 0.5% noise; run ``off`` 15% up."""
    rng = np.random.default_rng(0)
    n, ratio = np.meshgrid(np.logspace(7, 9, 5), [5, 10, 20, 40, 80], indexing="ij")
    n, d = n.ravel(), (n * ratio).ravel()
    loss = (1.7 + 400 * n**-0.34 + 400 * d**-0.28) * np.exp(rng.normal(0, 0.005, n.size))
    frame = pd.DataFrame({"run": [f"r{i:02d}" for i in range(n.size)], "params": n, "tokens": d, "loss": loss})
    frame.loc[frame["run"] == off, "loss"] *= 1.15
    frame.to_csv(path, index=False)
    return frame


def _fit(frame: pd.DataFrame):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return scalelaw.fit("chinchilla", frame)


def _influence(capsys, path) -> tuple[str, dict]:
    code, text, err = run_main(capsys, "fit", str(path), "--law", "chinchilla", "--influence")
    assert code == 0, err
    code, out, err = run_main(capsys, "fit", str(path), "--law", "chinchilla", "--influence", "--json")
    assert code == 0, err
    return text, json.loads(out)["influence"]


def test_a_run_15_percent_off_is_named_with_its_residual_and_leverage(capsys, tmp_path):
    frame = _write_ladder(tmp_path / "off.csv", off="r12")
    text, data = _influence(capsys, tmp_path / "off.csv")
    assert [r["run"] for r in data["off_law"]] == ["r12"]
    (r12,) = data["off_law"]
    assert set(r12) == {"run", "max_abs_log_residual", "scales", "shift"}
    # Checked against fits made here: the residual is the larger of r12's in the fit and against the fit
    # without it, the shift the change of the influence target's prediction without it.
    full, without = _fit(frame), _fit(frame[frame["run"] != "r12"])
    row = frame[frame["run"] == "r12"]
    at = {k: float(row[k].iloc[0]) for k in ("params", "tokens")}
    residuals = [abs(np.log(row["loss"].iloc[0] / float(f.predict(**at)))) for f in (full, without)]
    assert 0.11 < r12["max_abs_log_residual"] == pytest.approx(max(residuals), rel=1e-3)
    target = data["target"]
    assert r12["shift"] == pytest.approx(without.predict(**target) / full.predict(**target) - 1, abs=2e-4)
    assert r12["scales"] > 2 * OFF_LAW_SCALES and data["off_law_threshold"] >= OFF_LAW_FLOOR
    line = (
        f"  r12: {r12['max_abs_log_residual']:.1%} off ({r12['scales']:.0f}x the noise scale), "
        f"moves the prediction by {r12['shift']:+.2%} when left out"
    )
    assert f"1 run(s) off the law (log residual beyond {data['off_law_threshold']:.1%}):\n{line}" in text
    assert "no run off the law" not in text
    # The Python side: the same runs, in its summary and to_dict.
    check = InfluenceCheck(full.influence(), full)
    assert check.to_dict()["off_law"] == data["off_law"] and [r["run"] for r in check.off_law] == ["r12"]
    assert line in check.summary()


def test_a_clean_ladder_lists_no_run_off_the_law(capsys, tmp_path):
    _write_ladder(tmp_path / "clean.csv", off=None)
    text, data = _influence(capsys, tmp_path / "clean.csv")
    assert data["off_law"] == [] and data["off_law_threshold"] == pytest.approx(OFF_LAW_FLOOR)
    lines = [line for line in text.splitlines() if "off the law" in line]
    assert len(lines) == 1 and lines[0].startswith("no run off the law (threshold: log residual 3.0%, the larger of 6x")
