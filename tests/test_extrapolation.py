"""Extrapolation distance is reported with every prediction and plan, and warned about past a threshold."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import warnings

import numpy as np
import pytest

import scalelaw
from scalelaw.errors import DataError
from scalelaw.trust.extrapolation import (
    ExtrapolationWarning,
    distance,
    extrapolation_records,
    prediction_records,
    warn_if_far,
)
from scalelaw.trust.total import with_kind


@pytest.fixture(scope="module")
def fit_rpj():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return scalelaw.fit("chinchilla", "dataset:gadre2024_rpj")


def test_distance_in_decades(fit_rpj):
    data = fit_rpj.data.columns
    n_max, d_max = data["params"].max(), data["tokens"].max()
    c_max = (6 * data["params"] * data["tokens"]).max()
    table = distance(fit_rpj, {"params": [n_max * 10, n_max / 10], "tokens": [d_max, d_max / 100]})
    np.testing.assert_allclose(table["decades_params"], [1.0, -1.0])
    np.testing.assert_allclose(table["decades_compute"].iloc[0], np.log10(6 * n_max * 10 * d_max / c_max))
    assert list(table["outside_range"]) == [True, False]


def test_warns_past_threshold(fit_rpj):
    far = distance(fit_rpj, {"params": 1e12, "tokens": 1e13})
    with pytest.warns(ExtrapolationWarning, match="decades of compute beyond the largest run"):
        warn_if_far(far, max_decades=1.0)
    near = distance(fit_rpj, {"params": 1e8, "tokens": 1e9})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert warn_if_far(near) == []


def test_extrapolation_records_are_json_ready_and_warn_past_the_threshold(fit_rpj):
    points = {"params": [1e8, 1e12], "tokens": [1e9, 1e13]}
    with pytest.warns(ExtrapolationWarning):
        records = extrapolation_records(fit_rpj, points, max_decades=1.0)
    table = distance(fit_rpj, points)
    assert [r["decades_compute"] for r in records] == pytest.approx(table["decades_compute"].tolist())
    assert [r["outside_range"] for r in records] == [False, True]
    assert all(type(v) is (bool if k.startswith("outside") else float) for r in records for k, v in r.items())
    json.dumps(records)
    assert extrapolation_records(dataclasses.replace(fit_rpj, data=None), points) is None  # distance unknown


def test_prediction_records_carry_value_distance_and_interval(fit_rpj):
    points = [{"params": 7e9, "tokens": 1.4e11}, {"params": 1e9, "tokens": 2e10}]
    plain = prediction_records(fit_rpj, points)
    assert [r["value"] for r in plain] == pytest.approx(fit_rpj.predict(params=[7e9, 1e9], tokens=[1.4e11, 2e10]))
    assert [set(r) for r in plain] == [{"at", "value", "extrapolation"}] * 2 and plain[0]["at"] is points[0]
    boot = fit_rpj.bootstrap(n=30, seed=1)
    drawn = []
    banded = prediction_records(fit_rpj, points, lambda: drawn.append(1) or boot, level=0.8, kind="parameter")
    band = boot.predict(params=[7e9, 1e9], tokens=[1.4e11, 2e10], level=0.8)
    assert drawn == [1] and [r["low"] for r in banded] == pytest.approx(band["low"].tolist())
    assert banded[0]["level"] == 0.8 and banded[0]["method"] == band["method"].iloc[0]
    assert banded[0]["interval_kind"] == "parameter" and "decades" not in banded[0]
    assert prediction_records(fit_rpj, points, boot, level=0.8, kind="parameter") == banded
    # The total interval (the default) is that band as predict_interval widens it, with columns saying how.
    total = prediction_records(fit_rpj, points, boot, level=0.8)
    want = with_kind(fit_rpj, band, 0.8, "total")
    assert [r["low"] for r in total] == pytest.approx(want["low"].tolist())
    assert [r["parameter_high"] for r in total] == pytest.approx(band["high"].tolist())
    assert [r["decades"] for r in total] == pytest.approx(want["decades"].tolist())
    # Both points lie inside the data's compute: no law error there, so the total band is the parameter band.
    assert all(r["decades"] < 0 and r["extrapolation_halfwidth"] == 0 and not r["beyond_checked"] for r in total)
    assert [r["high"] for r in total] == pytest.approx([r["high"] for r in banded])
    with pytest.raises(DataError, match="interval kind must be one of total, parameter"):
        prediction_records(fit_rpj, points, boot, kind="bogus")


def test_cli_reports_distance_and_warns(fit_rpj, tmp_path):
    path = tmp_path / "fit.json"
    fit_rpj.save(path)
    args = [sys.executable, "-m", "scalelaw", "predict", str(path), "--at", "params=1e12,tokens=2e13", "--json"]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0
    data = json.loads(proc.stdout)
    assert data["extrapolation"]["decades_compute"] > 3
    assert "decades of compute beyond the largest run" in proc.stderr
    args = [sys.executable, "-m", "scalelaw", "plan", str(path), "--flops", "1e21", "--max-decades", "5", "--json"]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=120)
    plan = json.loads(proc.stdout)
    assert "decades_compute" in plan["extrapolation"] and proc.stderr == ""
