"""law="auto": candidates scored by rolling backtests, weights, the averaged prediction, JSON."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pandas as pd
import pytest

import scalelaw
from scalelaw import FitResult
from scalelaw.errors import FitFileError, LawError
from scalelaw.trust.law_choice import choose_law, default_candidates, law_weights, score


@pytest.fixture(scope="module")
def auto():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return scalelaw.fit("auto", "dataset:gadre2024_rpj")


def test_auto_returns_the_chosen_candidates_fit_with_the_choice(auto):
    choice = auto.law_choice
    assert list(choice.table["law"]) == ["chinchilla", "overtrain", "kaplan"]
    assert auto.law.name == choice.chosen
    scores = dict(zip(choice.table["law"], choice.table["score"], strict=True))
    assert scores[choice.chosen] == min(scores.values())
    assert sum(choice.weights.values()) == pytest.approx(1.0)
    # Kaplan's law misses the largest runs here (13% at the 6.9B model); its backtests say so
    assert choice.weights["kaplan"] < 0.01 and scores["kaplan"] > 3 * scores["chinchilla"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = scalelaw.fit(choice.chosen, "dataset:gadre2024_rpj")
    assert auto.values == plain.values
    # the chosen law's error model came with the choice: no second round of backtests
    assert auto.extrapolation is not None and auto.extrapolation_error().law == choice.chosen


def test_the_choice_survives_json_and_predicts_the_same(auto, tmp_path):
    path = tmp_path / "auto.json"
    auto.save(path)
    again = FitResult.load(path)
    assert again == auto and again.law_choice.chosen == auto.law_choice.chosen
    assert again.law_choice.weights == pytest.approx(auto.law_choice.weights)
    at = {"params": np.array([7e9, 7e10]), "tokens": np.array([1.4e11, 1.4e12])}
    np.testing.assert_allclose(again.law_choice.averaged(at), auto.law_choice.averaged(at), rtol=1e-12)
    np.testing.assert_allclose(again.law_choice.spread(at), auto.law_choice.spread(at), rtol=1e-12)
    data = json.loads(path.read_text())
    assert data["law_choice"]["chosen"] == auto.law.name and set(data["law_choice"]["fits"]) == {
        "chinchilla",
        "overtrain",
        "kaplan",
    }


def test_a_damaged_choice_is_refused_with_its_path(auto, tmp_path):
    data = json.loads(auto.to_json())
    data["law_choice"]["chosen"] = "bnsl"
    with pytest.raises(FitFileError, match=r'law_choice\.chosen names "bnsl"'):
        FitResult.from_dict(data)
    data = json.loads(auto.to_json())
    del data["law_choice"]["fits"]["kaplan"]["params"]["alpha_N"]
    with pytest.raises(FitFileError, match=r"law_choice\.fits\.kaplan\.params"):
        FitResult.from_dict(data)


def test_total_interval_of_an_auto_fit_includes_the_spread_between_laws(auto):
    band = auto.predict_interval(params=7e10, tokens=1.4e12, n_boot=60)
    row = band.iloc[0]
    spread = auto.law_choice.spread({"params": 7e10, "tokens": 1.4e12})[0]
    assert row["law_choice_halfwidth"] == pytest.approx(auto.extrapolation_error().multiplier(0.9) * spread)
    assert row["law_choice_halfwidth"] > 0
    averaged = auto.law_choice.averaged({"params": 7e10, "tokens": 1.4e12})[0]
    assert abs(math.log(averaged / row["value"])) < 0.02  # the weighted laws agree within 2% at 70B x 1.4T


def test_candidates_follow_the_data_and_can_be_named():
    assert default_candidates(["params", "tokens", "loss"]) == ("chinchilla", "overtrain", "kaplan")
    assert default_candidates(["params", "tokens", "unique_tokens"])[-1] == "data_constrained"
    assert default_candidates(["flops", "loss"]) == ("power", "bnsl")
    flops = np.geomspace(1e16, 1e21, 30)
    loss = scalelaw.get_law("power").predict({"E": 1.8, "A": 2e3, "alpha": 0.15}, flops=flops)
    loss = loss * np.exp(np.random.default_rng(0).normal(0, 0.01, flops.size))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = scalelaw.fit("auto", {"flops": flops, "loss": loss})
        named = scalelaw.fit("auto", {"flops": flops, "loss": loss}, candidates=["power"])
    assert set(result.law_choice.table["law"]) == {"power", "bnsl"}
    assert named.law.name == "power" and list(named.law_choice.table["law"]) == ["power"]


def test_a_candidate_the_data_cannot_support_is_reported_not_fatal():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        choice, fits, _ = choose_law("dataset:gadre2024_rpj", ["chinchilla", "data_constrained"])
    row = choice.table.set_index("law").loc["data_constrained"]
    assert "unique_tokens" in row["error"] and math.isinf(row["score"]) and row["weight"] == 0
    assert choice.chosen == "chinchilla" and set(fits) == {"chinchilla"}


def test_candidates_are_for_auto_only():
    with pytest.raises(LawError, match="candidates= is for law='auto'"):
        scalelaw.fit("chinchilla", "dataset:gadre2024_rpj", candidates=["kaplan"])
    with pytest.raises(LawError, match="cannot be its own candidate"):
        scalelaw.fit("auto", "dataset:gadre2024_rpj", candidates=["auto"])


def test_score_and_weights_read_the_near_cuts_only():
    rows = pd.DataFrame({"cut": [0.1, 0.2, 0.5], "row": [0, 1, 2], "log_error": [0.01, -0.03, 9.0]})
    assert score(rows) == pytest.approx(0.02)  # the 50% cut is not scored
    far_only = rows[rows["cut"] > 0.3]
    assert math.isinf(score(far_only))
    assert law_weights({"a": far_only, "b": far_only}) == {"a": 0.5, "b": 0.5}
