"""auto's averaged prediction where the chosen one is: ``predict_interval(point="averaged")``, ``scalelaw predict``'s
``averaged`` column and key, and the backtest pseudo-law ``averaged``; and the claim behind its interval: the total
interval of an auto fit, centred on the chosen law, holds the averaged prediction."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pandas as pd
import pytest

import scalelaw
from cli_run import run_cli, run_main
from scalelaw import DataError, load_runs
from scalelaw.trust import backtest as backtest_module
from scalelaw.trust.backtest import backtest, split_runs

FAR = {"params": 7e10, "tokens": 1.4e12}  # 1.9 decades of compute beyond gadre2024_rpj's largest run


def quiet_fit(law: str, data, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return scalelaw.fit(law, data, **kwargs)


@pytest.fixture(scope="module")
def auto():
    return quiet_fit("auto", "dataset:gadre2024_rpj")


# ------------------------------------------------------------------------------------------ Python
def test_point_averaged_centres_the_total_interval_on_the_averaged_prediction(auto):
    at = {"params": [7e9, 7e10], "tokens": [1.4e11, 1.4e12]}
    chosen = auto.predict_interval(**at, n_boot=30, seed=1)
    averaged = auto.predict_interval(**at, n_boot=30, seed=1, point="averaged")
    expected = auto.law_choice.averaged({k: np.array(v) for k, v in at.items()})
    np.testing.assert_allclose(averaged["value"], expected, rtol=1e-12)
    np.testing.assert_allclose(averaged["chosen_value"], chosen["value"], rtol=1e-12)
    np.testing.assert_allclose(averaged["chosen_value"], auto.predict(pd.DataFrame(at)), rtol=1e-12)
    # the band is the same total interval: only its point moves
    for column in ("low", "high", "law_choice_halfwidth", "extrapolation_halfwidth"):
        np.testing.assert_array_equal(averaged[column], chosen[column])
    assert (averaged["point"] == "averaged").all() and (averaged["interval_kind"] == "total").all()
    assert "point" not in chosen.columns and "chosen_value" not in chosen.columns
    assert not np.allclose(averaged["value"], chosen["value"], rtol=1e-6, atol=0)  # 3 laws weighted, not 1
    assert list(averaged.columns)[-1] == "method"


def test_point_averaged_is_refused_where_it_has_no_meaning(auto):
    with pytest.raises(DataError, match=r"only a total interval.*kind='total'"):
        auto.predict_interval(**FAR, kind="parameter", point="averaged")
    with pytest.raises(DataError, match="point must be one of chosen, averaged, got 'mean'"):
        auto.predict_interval(**FAR, point="mean")
    one = quiet_fit("chinchilla", "dataset:gadre2024_rpj")
    with pytest.raises(DataError, match=r"law='auto'.*law 'chinchilla' has no candidates"):
        one.predict_interval(**FAR, point="averaged")


def _points(inputs: tuple[str, ...], rng: np.random.Generator, n: int = 150) -> pd.DataFrame:
    """Random points from far below to far beyond the bundled ladders (1e7..1e12 parameters, 1..1000 tokens per
    parameter; 1e17..1e25 FLOPs for one input)."""
    if "params" not in inputs:
        return pd.DataFrame({inputs[0]: 10 ** rng.uniform(17, 25, n)})
    params = 10 ** rng.uniform(7, 12, n)
    frame = {"params": params, "tokens": params * 10 ** rng.uniform(0, 3, n)}
    if "unique_tokens" in inputs:
        frame["unique_tokens"] = frame["tokens"] / 10 ** rng.uniform(0, 1.5, n)
    return pd.DataFrame(frame)


@pytest.mark.parametrize(
    "data",
    ["gadre2024_rpj", "porian2024", "muennighoff2023", "gadre2024_rpj:flops"],
    ids=["gadre-ND", "porian-ND", "muennighoff-with-unique-tokens", "gadre-1D"],
)
def test_the_total_interval_holds_the_averaged_prediction(data, auto):
    """The claim (Jensen): the law-choice half-width is multiplier x the weighted rms spread of the candidates
    around the chosen law, at least |log averaged - log chosen| once the multiplier is >= 1 (level >= 0.69)."""
    name, _, x = data.partition(":")
    if data == "gadre2024_rpj":
        result = auto
    else:
        runs = load_runs(f"dataset:{name}").table
        result = quiet_fit("auto", runs[[x, "loss"]] if x else f"dataset:{name}")
    assert sum(w > 0.01 for w in result.law_choice.weights.values()) >= 2  # a real average, not one law
    frame = _points(result.law.inputs, np.random.default_rng(7))
    gap = np.abs(np.log(result.law_choice.averaged(frame) / result.predict(frame)))
    assert np.all(result.law_choice.spread(frame) >= gap - 1e-12)  # the inequality itself, at every point
    for level in (0.7, 0.8, 0.9, 0.95, 0.99):
        band = result.predict_interval(frame, level=level, n_boot=20, point="averaged")
        assert result.extrapolation_error().multiplier(level) >= 1
        inside = (band["low"] <= band["value"]) & (band["value"] <= band["high"])
        assert inside.all(), band.loc[~inside, ["value", "chosen_value", "low", "high"]]
        assert np.all(band["law_choice_halfwidth"] >= gap - 1e-12)


# ------------------------------------------------------------------------------------------ scalelaw predict
def test_predict_shows_the_averaged_prediction_of_a_saved_auto_fit(auto, tmp_path, capsys):
    path = tmp_path / "auto.json"
    auto.save(path)
    args = ["predict", str(path), "--at", "params=7e10,tokens=1.4e12", "--at", "params=7e9,tokens=1.4e11"]
    proc = run_cli(*args, "--interval", "0.9", "--n-boot", "30")  # a child process, 200 columns wide
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    expected = auto.law_choice.averaged({"params": np.array([7e10, 7e9]), "tokens": np.array([1.4e12, 1.4e11])})
    assert "averaged" in text and f"loss ({auto.law.name})" in text
    for value in expected:
        assert f"{value:.6g}" in text
    legend = " ".join(text.split())
    assert "weighted geometric mean of the candidates' predictions, weights from their rolling backtests" in legend
    weights = auto.law_choice.weights
    assert all(f"{name} {w:.2g}" in legend for name, w in weights.items() if w > 0)

    code, out, _ = run_main(capsys, *args, "--interval", "0.9", "--n-boot", "30", "--json")
    data = json.loads(out)
    assert code == 0 and data["averaged_weights"] == pytest.approx({k: w for k, w in weights.items() if w > 0})
    rows = data["predictions"]
    assert [r["averaged"] for r in rows] == pytest.approx(list(expected), rel=1e-12)
    assert [r["value"] for r in rows] == pytest.approx(list(auto.predict(params=[7e10, 7e9], tokens=[1.4e12, 1.4e11])))
    assert all(r["low"] <= r["averaged"] <= r["high"] for r in rows)
    code, out, _ = run_main(capsys, "predict", str(path), "--at", "params=7e10,tokens=1.4e12", "--json")
    assert code == 0 and json.loads(out)["averaged"] == pytest.approx(expected[0], rel=1e-12)  # without --interval


def test_predict_of_a_one_law_fit_has_no_averaged(tmp_path, capsys):
    path = tmp_path / "chinchilla.json"
    quiet_fit("chinchilla", "dataset:gadre2024_rpj").save(path)
    code, out, _ = run_main(capsys, "predict", str(path), "--at", "params=7e10,tokens=1.4e12", "--json")
    assert code == 0 and "averaged" not in out
    code, text, _ = run_main(capsys, "predict", str(path), "--at", "params=7e10,tokens=1.4e12")
    assert code == 0 and "averaged" not in text and "(chinchilla)" not in text


# ------------------------------------------------------------------------------------------ backtest
def test_backtest_averaged_scores_the_averaged_prediction_of_one_shared_training_fit(monkeypatch):
    holdout, candidates = "top:0.2:flops", ["chinchilla", "overtrain", "kaplan"]
    fitted = []
    real_fit = backtest_module.fit

    def counting_fit(law, *args, **kwargs):
        fitted.append(law)
        return real_fit(law, *args, **kwargs)

    monkeypatch.setattr(backtest_module, "fit", counting_fit)
    laws = ["auto", "averaged"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = backtest(laws, "dataset:gadre2024_rpj", holdout, level=0.9, n_boot=40, candidates=candidates)
        held = backtest_module.backtest_predictions(
            ["averaged"], "dataset:gadre2024_rpj", holdout, level=0.9, n_boot=40, candidates=candidates
        )
    assert fitted.count("auto") == 2  # once for the table (auto and averaged share it), once for the rows
    auto_row, averaged = table.loc[0], table.loc[1]
    # by hand: fit auto on the training part alone, average its candidates on the held-out rows
    split = split_runs(load_runs("dataset:gadre2024_rpj"), holdout)
    alone = quiet_fit("auto", split.train, candidates=candidates)
    test = split.test.table
    expected = alone.law_choice.averaged({c: test[c].to_numpy() for c in ("params", "tokens")})
    rel = np.abs(expected / split.test.array("loss") - 1)
    assert averaged["mean_abs_rel_error"] == pytest.approx(rel.mean(), rel=1e-9)
    assert averaged["max_abs_rel_error"] == pytest.approx(rel.max(), rel=1e-9)
    assert averaged["rmse_log"] == pytest.approx(math.sqrt(np.mean(np.log(expected / test["loss"]) ** 2)), rel=1e-9)
    np.testing.assert_allclose(held["predicted"], expected, rtol=1e-12)
    assert averaged["mean_abs_rel_error"] != auto_row["mean_abs_rel_error"]
    # its row names the chosen law and the weights; its band is auto's total interval (the same bootstrap)
    assert averaged["chosen"] == auto_row["chosen"] == alone.law.name
    weights = alone.law_choice.weights
    assert averaged["formula"] == "averaged: " + ", ".join(f"{k} {w:.2g}" for k, w in weights.items() if w > 0)
    assert averaged["interval_kind"] == "total" and averaged["coverage"] == auto_row["coverage"]
    assert averaged["interval_score"] == auto_row["interval_score"]
    assert (held["low"] <= held["predicted"]).all() and (held["predicted"] <= held["high"]).all()


def test_backtest_averaged_has_no_parameter_interval_and_runs_from_the_cli(capsys):
    args = ["backtest", "dataset:gadre2024_rpj", "--laws", "chinchilla,averaged", "--candidates", "chinchilla,kaplan"]
    code, out, _ = run_main(
        capsys, *args, "--interval", "0.9", "--n-boot", "20", "--interval-kind", "parameter", "--json"
    )
    chinchilla, averaged = json.loads(out)
    assert code == 0 and averaged["law"] == "averaged" and averaged["error"] == ""
    assert chinchilla["interval_kind"] == "parameter" and chinchilla["coverage"] is not None
    assert averaged["interval_kind"] == "" and averaged["coverage"] is None  # a total interval only
    assert averaged["chosen"] in ("chinchilla", "kaplan") and averaged["formula"].startswith("averaged: ")
    proc = run_cli(*args)  # 200 columns wide
    assert proc.returncode == 0 and f"averaged (chose {averaged['chosen']})" in proc.stdout
    listed_first = [
        "backtest",
        "dataset:gadre2024_rpj",
        "--laws",
        "averaged,chinchilla",
        "--candidates",
        "chinchilla,kaplan",
    ]
    proc = run_cli(*listed_first, "--interval", "0.9", "--n-boot", "20", "--interval-kind", "parameter")
    text = " ".join(proc.stdout.split())
    assert proc.returncode == 0 and "coverage (90% parameter)" in text and "intervals: parameter" in text
    assert "averaged: no parameter interval" in text


# ------------------------------------------------------------------------------------------ other candidates' inputs
@pytest.fixture(scope="module")
def unrepeated():
    """Single-epoch runs that name their unique tokens: data_constrained joins the candidates with a weight, so
    the chosen law (not data_constrained here) lacks an input that the law-choice spread needs."""
    rng = np.random.default_rng(0)
    N = np.exp(rng.uniform(np.log(1e7), np.log(1e9), 40))
    D = N * np.exp(rng.uniform(np.log(5), np.log(100), 40))
    loss = (1.8 + 482 / N**0.35 + 2085 / D**0.37) * np.exp(rng.normal(0, 0.01, 40))
    frame = pd.DataFrame({"run": [f"r{i}" for i in range(40)], "params": N, "tokens": D, "unique_tokens": 5 * D})
    result = quiet_fit("auto", frame.assign(loss=loss))
    assert result.law.name != "data_constrained" and result.law_choice.weights["data_constrained"] > 0.01
    return result


def test_candidates_inputs_reach_the_spread_and_their_absence_is_named(unrepeated, tmp_path, capsys):
    at = {"params": [7e10], "tokens": [1.4e12]}
    with pytest.raises(DataError, match=r"'data_constrained'.*reads unique_tokens.*give unique_tokens"):
        unrepeated.predict_interval(**at, n_boot=20)
    band = unrepeated.predict_interval(**at, unique_tokens=[1e13], n_boot=20, point="averaged")
    columns = {k: np.array(v) for k, v in {**at, "unique_tokens": [1e13]}.items()}
    assert band["value"].iloc[0] == pytest.approx(unrepeated.law_choice.averaged(columns)[0], rel=1e-12)
    assert band["law_choice_halfwidth"].iloc[0] > 0
    path = tmp_path / "auto.json"
    unrepeated.save(path)
    code, out, _ = run_main(
        capsys, "predict", str(path), "--at", "params=7e10,tokens=1.4e12,unique_tokens=1e13", "--json"
    )
    assert code == 0 and json.loads(out)["averaged"] == pytest.approx(band["value"].iloc[0], rel=1e-12)
    code, _, err = run_main(capsys, "predict", str(path), "--at", "params=7e10,tokens=1.4e12,bogus=1")
    assert code != 0 and "bogus" in err


def test_without_a_candidates_input_the_point_and_parameter_interval_stay_and_say_why(unrepeated, tmp_path, capsys):
    path = tmp_path / "auto.json"
    unrepeated.save(path)
    at = ["predict", str(path), "--at", "params=7e10,tokens=1.4e12"]
    proc = run_cli(*at, "--interval", "0.9", "--interval-kind", "parameter", "--n-boot", "20")
    assert proc.returncode == 0, proc.stderr
    assert "no averaged prediction: data_constrained reads unique_tokens" in " ".join(proc.stdout.split())
    code, out, _ = run_main(capsys, *at, "--at", "params=7e9,tokens=1e11,unique_tokens=1e12", "--json")
    assert code == 0 and "data_constrained reads unique_tokens, which not every --at gives" in out
    code, out, _ = run_main(capsys, *at, "--json")
    record = json.loads(out)
    assert code == 0 and "averaged" not in record and "unique_tokens" in record["averaged_missing"]
    assert record["value"] == pytest.approx(unrepeated.predict(params=7e10, tokens=1.4e12), rel=1e-12)
    with pytest.raises(DataError, match=r"unique_tokens has 2 values in shape \(2,\) for 3 points"):
        unrepeated.predict_interval(params=[7e9, 7e10, 1e9], tokens=[1e11, 1e12, 2e10], unique_tokens=[1, 2], n_boot=20)
    with pytest.raises(DataError, match=r"in shape \(1, 3\)"):
        unrepeated.predict_interval(
            params=[7e9, 7e10, 1e9], tokens=[1e11, 1e12, 2e10], unique_tokens=[[1, 2, 3]], n_boot=20
        )


def test_the_report_leaves_an_unread_candidate_out_of_its_intervals_and_says_so(unrepeated):
    from scalelaw.views.report import trust_section

    points = pd.DataFrame({"label": ["far"], "params": [7e10], "tokens": [1.4e12]})
    parts = trust_section.interval_parts(unrepeated, points, None, 0.9)
    readable = {k: v for k, v in unrepeated.law_choice.weights.items() if k != "data_constrained"}
    assert parts["law_choice_halfwidth"].iloc[0] > 0 and sum(readable.values()) < 1
    html = trust_section._choice_table(unrepeated)
    assert "Left out of the law-choice part" in html and "data_constrained reads unique_tokens" in html
