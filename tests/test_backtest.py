"""Backtests: the right law extrapolates best, selection is by held-out error, whole runs stay together."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from scalelaw import DataError, FitError, FitResult, Law, LawError, Parameter, get_law, load_runs
from scalelaw.trust.backtest import (
    METRICS,
    HoldoutSpec,
    SelectionResult,
    backtest,
    backtest_predictions,
    backtest_with_fit,
    parse_holdout,
    rolling_backtest,
    select_law,
    split_runs,
    to_records,
)

# Hoffmann et al. 2022, Training Compute-Optimal Large Language Models, Approach 3 (eq. 10).
HOFFMANN = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}
# A power law in compute with a floor, of the size seen in loss-vs-compute sweeps.
POWER = {"E": 1.7, "A": 30.0, "alpha": 0.07}

COLUMNS = {
    "law",
    "n_train",
    "n_test",
    "n_train_runs",
    "n_test_runs",
    "mean_abs_rel_error",
    "max_abs_rel_error",
    "rmse_log",
    "in_sample_rmse_log",
    "coverage",
    "converged",
    "not_identifiable",
    "at_bound",
    "extrapolation_decades",
    "error",
}


def chinchilla_sweep(seed: int = 0, noise: float = 0.003) -> pd.DataFrame:
    """8 model sizes (2e7-2e10) x token multipliers 2, 8, 32, 128: 32 final losses with log-normal noise."""
    rng = np.random.default_rng(seed)
    params = np.repeat(np.geomspace(2e7, 2e10, 8), 4)
    tokens = params * np.tile([2, 8, 32, 128], 8)
    loss = get_law("chinchilla").predict(HOFFMANN, params=params, tokens=tokens)
    loss = loss * np.exp(rng.normal(0, noise, params.size))
    return pd.DataFrame(
        {"run": [f"r{i}" for i in range(params.size)], "params": params, "tokens": tokens, "loss": loss}
    )


def compute_sweep(seed: int = 6, noise: float = 0.01) -> pd.DataFrame:
    """24 runs from 1e16 to 1e22 FLOPs on a power law with a floor, 1% log-normal noise."""
    rng = np.random.default_rng(seed)
    flops = np.geomspace(1e16, 1e22, 24)
    loss = get_law("power", x="flops").predict(POWER, flops=flops) * np.exp(rng.normal(0, noise, flops.size))
    return pd.DataFrame({"run": [f"c{i}" for i in range(flops.size)], "flops": flops, "loss": loss})


def checkpointed_sweep() -> pd.DataFrame:
    """6 sizes x 2 budgets, each run logged at 20%, 40%, ..., 100% of its tokens (60 rows, 12 runs)."""
    rows = []
    for i, params in enumerate(np.geomspace(3e7, 3e9, 6)):
        for multiplier in (10, 40):
            final = params * multiplier
            for share in (0.2, 0.4, 0.6, 0.8, 1.0):
                rows.append({"run": f"n{i}x{multiplier}", "params": params, "tokens": share * final})
    frame = pd.DataFrame(rows)
    frame["loss"] = get_law("chinchilla").predict(HOFFMANN, params=frame["params"], tokens=frame["tokens"])
    return frame


@dataclass(frozen=True, eq=False)
class NaNLaw(Law):
    """A law whose predictions are never finite: every fit of it fails."""

    def log_predict_jac(self, theta, X, jac=True):
        shape = (theta.shape[0], X[self.inputs[0]].size)
        J = np.full((shape[0], self.n_params, shape[1]), np.nan) if jac else None
        return np.full(shape, np.nan), J


BROKEN = NaNLaw(name="broken", inputs=("flops",), parameters=(Parameter("a", 0.0, 1.0, grid=(0.5,)),))


# ------------------------------------------------------------------------------ extrapolation and selection
def test_the_true_form_extrapolates_best():
    table = backtest(["chinchilla", "kaplan", get_law("power", x="flops")], chinchilla_sweep(), "top:0.2:flops")
    assert COLUMNS <= set(table.columns)
    assert table["law"].tolist() == ["chinchilla", "kaplan", "power"]
    # 32 distinct budgets: the top ceil(0.2 * 32) = 7 are held out, on every law's row.
    assert set(table["n_test_runs"]) == {7} and set(table["n_train"]) == {25}
    assert (table["extrapolation_decades"] > 0.5).all()
    errors = dict(zip(table["law"], table["mean_abs_rel_error"], strict=True))
    assert errors["chinchilla"] < 0.01
    # Kaplan has no floor and a flops-only power law cannot see the N/D split: both miss by more.
    assert errors["kaplan"] > 3 * errors["chinchilla"] and errors["power"] > 1.5 * errors["chinchilla"]
    assert (table["max_abs_rel_error"] >= table["mean_abs_rel_error"]).all()
    assert table["error"].tolist() == ["", "", ""]
    assert table["coverage"].isna().all()  # no interval asked for


def test_select_law_ranks_by_extrapolation_not_in_sample_fit():
    # A 1-break BNSL contains the power law and fits the small runs better, but bends to the noise at the
    # top of the training range and misses the held-out runs (true of each of seeds 0-9 here).
    choice = select_law(["power", "bnsl"], compute_sweep(), holdout="top:0.33:flops")
    assert isinstance(choice, SelectionResult)
    by_law = choice.table.set_index("law")
    assert by_law.loc["bnsl", "in_sample_rmse_log"] < by_law.loc["power", "in_sample_rmse_log"]
    assert by_law.loc["bnsl", "mean_abs_rel_error"] > 2 * by_law.loc["power", "mean_abs_rel_error"]
    assert choice.best == "power"
    assert choice.table["law"].tolist() == ["power", "bnsl"] and choice.table["rank"].tolist() == [1, 2]
    assert "not by in-sample fit" in choice.reason
    assert "In-sample fit would have picked bnsl" in choice.reason
    assert f"{100 * by_law.loc['power', 'mean_abs_rel_error']:.3g}%" in choice.reason
    assert json.loads(json.dumps(choice.to_dict()))["best"] == "power"


def test_select_law_says_when_in_sample_fit_agrees_and_other_metrics():
    choice = select_law(["chinchilla", "kaplan"], chinchilla_sweep(), holdout="top:0.2:flops", metric="rmse_log")
    assert choice.best == "chinchilla" and choice.metric == "rmse_log"
    assert "In-sample fit agrees" in choice.reason
    assert "root mean square log error" in choice.reason
    with pytest.raises(DataError, match="unknown metric 'r2'"):
        select_law("chinchilla", chinchilla_sweep(), metric="r2")
    assert set(METRICS) == {"mean_abs_rel_error", "max_abs_rel_error", "rmse_log"}


# ------------------------------------------------------------------------------ whole runs
def test_holdout_keeps_every_checkpoint_of_a_run_together():
    runs = load_runs(checkpointed_sweep())
    split = split_runs(runs, "top:0.25:tokens")
    train, test = set(split.train.run_ids), set(split.test.run_ids)
    assert not train & test and train | test == set(runs.run_ids)
    # 12 distinct final token counts: the runs ending at the top ceil(0.25 * 12) = 3 are held out, all 5 rows each.
    final = runs.table.groupby("run")["tokens"].max()
    assert test == set(final.nlargest(3).index)
    assert len(split.test) == 15 and split.test.table.groupby("run").size().eq(5).all()
    # Whole runs, not rows: held-out runs keep their early checkpoints, below the training maximum.
    assert split.test.array("tokens").min() < split.train.array("tokens").max()
    assert split.extrapolation_decades == pytest.approx(np.log10(final.max() / final.drop(list(test)).max()))

    by_size = split_runs(runs, "largest:1:params")
    assert set(by_size.test.run_ids) == {"n5x10", "n5x40"} and len(by_size.test) == 10


def test_backtest_on_checkpoints_with_per_run_weights():
    frame = checkpointed_sweep()
    table = backtest("chinchilla", frame, "largest:1:params", weights="per_run")
    row = table.iloc[0]
    assert (row["n_train"], row["n_test"], row["n_train_runs"], row["n_test_runs"]) == (50, 10, 10, 2)
    assert row["mean_abs_rel_error"] < 1e-3  # noise-free data from the law itself
    # Row weights for the whole table: the training rows are taken from them.
    same = backtest("chinchilla", frame, "largest:1:params", weights=np.ones(len(frame)))
    assert same.loc[0, "mean_abs_rel_error"] < 1e-3
    with pytest.raises(DataError, match="one entry per row"):
        backtest("chinchilla", frame, "largest:1:params", weights=np.ones(3))
    with pytest.raises(DataError, match="unknown weighting scheme"):
        backtest("chinchilla", frame, "largest:1:params", weights="per_token")


def test_masks_and_callables_must_not_split_a_run():
    runs = load_runs(checkpointed_sweep())
    big = runs.table["params"].to_numpy() > 1e9
    by_mask = split_runs(runs, big)
    assert by_mask.description == "mask" and by_mask.n_test_runs == 4
    by_callable = split_runs(runs, lambda table: table["params"] > 1e9)
    assert by_callable.description == "callable <lambda>"
    assert set(by_callable.test.run_ids) == set(by_mask.test.run_ids)
    with pytest.raises(DataError, match="splits run"):
        split_runs(runs, runs.table["tokens"].to_numpy() > 1e11)
    with pytest.raises(DataError, match="booleans, one per row"):
        split_runs(runs, big.astype(int))
    with pytest.raises(DataError, match="booleans, one per row"):
        split_runs(runs, big[:5])


# ------------------------------------------------------------------------------ specs and their errors
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("top:0.2:flops", HoldoutSpec("top", 0.2, "flops")),
        ("top:0.2", HoldoutSpec("top", 0.2, "flops")),
        (" TOP : 0.5 : tokens ", HoldoutSpec("top", 0.5, "tokens")),
        ("largest:2:params", HoldoutSpec("largest", 2.0, "params")),
    ],
)
def test_parse_holdout(text, expected):
    assert parse_holdout(text) == expected
    assert parse_holdout(str(expected)) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("top", "cannot read holdout"),
        ("top::flops", "cannot read holdout"),
        ("top:0.2:flops:x", "cannot read holdout"),
        ("middle:0.2:flops", "unknown holdout kind 'middle'"),
        ("top:abc:flops", "'abc' is not a number"),
        ("top:0:flops", "fraction between 0 and 1"),
        ("top:1.5:flops", "fraction between 0 and 1"),
        ("top:nan:flops", "fraction between 0 and 1"),
        ("largest:0:params", "whole number"),
        ("largest:1.5:params", "whole number"),
    ],
)
def test_bad_holdout_specs_are_explained(text, message):
    with pytest.raises(DataError, match=message) as info:
        parse_holdout(text)
    assert "top:" in str(info.value) or "largest" in str(info.value)


def test_top_fraction_counts_distinct_values():
    assert [HoldoutSpec("top", f).n_held_out(6) for f in (0.01, 0.1, 0.2, 0.5, 0.51)] == [1, 1, 2, 3, 4]
    assert HoldoutSpec("top", 0.2).n_held_out(35) == 7
    assert HoldoutSpec("largest", 2).n_held_out(6) == 2


def test_splits_that_leave_too_little_are_refused():
    frame = chinchilla_sweep()
    with pytest.raises(DataError, match="no column 'steps'"):
        split_runs(frame, "top:0.2:steps")
    with pytest.raises(DataError, match="all 8 distinct per-run value"):
        split_runs(frame, "largest:8:params")
    with pytest.raises(DataError, match="selects no rows"):
        split_runs(frame, np.zeros(len(frame), dtype=bool))
    with pytest.raises(DataError, match="selects every row"):
        split_runs(frame, np.ones(len(frame), dtype=bool))
    # 8 sizes x 4 runs: holding out 7 sizes leaves 4 rows for a 5-parameter law.
    with pytest.raises(DataError, match=r"leaves 4 training row\(s\), fewer than.*chinchilla has 5"):
        backtest(["chinchilla", "kaplan"], frame, "largest:7:params")


def test_laws_needing_absent_columns_fail_up_front():
    with pytest.raises(DataError, match=r"lacks columns.*'chinchilla' needs 'params', 'tokens'"):
        backtest(["power", "chinchilla"], compute_sweep(), "top:0.2:flops")
    with pytest.raises(DataError, match="'kaplan' needs 'val_loss'"):
        backtest("kaplan", chinchilla_sweep(), y="val_loss")
    with pytest.raises(LawError, match="unknown law 'chinchila'"):
        backtest("chinchila", chinchilla_sweep())
    with pytest.raises(DataError, match="level must be between 0 and 1"):
        backtest("power", compute_sweep(), level=90)


# ------------------------------------------------------------------------------ failures, options, intervals
def test_a_law_that_fails_gets_an_error_row():
    choice = select_law([BROKEN, "power"], compute_sweep(), holdout="top:0.25:flops")
    table = choice.table.set_index("law")
    assert table.loc["broken", "error"].startswith("FitError: no start gave a finite objective")
    assert math.isnan(table.loc["broken", "mean_abs_rel_error"])
    assert table.loc["power", "error"] == "" and choice.best == "power"
    assert "Not scored: broken (FitError" in choice.reason
    records = to_records(choice.table)
    assert json.loads(json.dumps(records, allow_nan=False))[1]["mean_abs_rel_error"] is None
    with pytest.raises(FitError, match="no law could be fitted"):
        select_law(BROKEN, compute_sweep(), holdout="top:0.25:flops")


def test_law_objects_options_and_repeated_names():
    frame = chinchilla_sweep()
    table = backtest(
        [get_law("power", x="flops"), "power"], frame, "top:0.2:flops", law_options={"x": "params"}, starts=20
    )
    assert table["law"].tolist() == ["power#1", "power#2"]
    assert table["formula"].tolist() == ["E + A * flops^(-alpha)", "E + A * params^(-alpha)"]
    renamed = frame.rename(columns={"params": "N", "tokens": "D"})
    by_x = backtest("chinchilla", renamed, "largest:1:N", x=["N", "D"])
    assert by_x.loc[0, "split_column"] == "N" and by_x.loc[0, "mean_abs_rel_error"] < 0.02


def test_coverage_and_held_out_predictions_agree():
    frame = compute_sweep()
    table = backtest("power", frame, "top:0.25:flops", level=0.9, n_boot=40, starts=20)
    rows = backtest_predictions("power", frame, "top:0.25:flops", level=0.9, n_boot=40, starts=20)
    assert table.loc[0, "interval"] == 0.9 and len(rows) == table.loc[0, "n_test"]
    assert set(rows.columns) >= {"law", "row", "flops", "observed", "predicted", "rel_error", "low", "high"}
    assert table.loc[0, "coverage"] == pytest.approx(rows["covered"].mean())
    assert table.loc[0, "mean_abs_rel_error"] == pytest.approx(rows["rel_error"].abs().mean())
    assert np.all(rows["low"] <= rows["predicted"]) and np.all(rows["predicted"] <= rows["high"])
    assert rows["flops"].min() > frame.loc[~frame.index.isin(rows["row"]), "flops"].max()


def test_interval_failure_keeps_errors_and_warns(monkeypatch):
    def broken(self, *args, **kwargs):
        raise RuntimeError("no bootstrap here")

    monkeypatch.setattr(FitResult, "predict_interval", broken)
    with pytest.warns(UserWarning, match="no prediction interval for law 'power': no bootstrap here"):
        table = backtest("power", compute_sweep(), "top:0.25:flops", level=0.9, starts=20)
    assert math.isnan(table.loc[0, "coverage"]) and table.loc[0, "mean_abs_rel_error"] > 0
    with pytest.raises(DataError, match="n_boot must be"):
        backtest("power", compute_sweep(), level=0.9, n_boot=5)


def test_rolling_backtest_skips_cutoffs_that_repeat_a_split():
    table = rolling_backtest("power", compute_sweep(), fractions=(0.1, 0.12, 0.3), starts=20)
    # 24 distinct budgets: 0.1 and 0.12 both hold out ceil(2.4) = ceil(2.88) = 3 runs.
    assert table["fraction"].tolist() == [0.1, 0.3]
    assert table["n_test"].tolist() == [3, 8]
    assert table["extrapolation_decades"].is_monotonic_increasing
    # Selection ranks one cutoff at a time.
    with pytest.raises(DataError, match="exactly one holdout"):
        SelectionResult.from_table(table)
    assert SelectionResult.from_table(table[table["fraction"] == 0.3]).best == "power"


# ------------------------------------------------------------------------------ real data
def test_gadre_rpj_largest_two_sizes_are_predicted_within_five_percent():
    # Gadre et al. 2024, RedPajama models: fit on 11M-411M params, predict the 1.4B and 6.9B models.
    table = backtest(["chinchilla", "overtrain"], "dataset:gadre2024_rpj", holdout="largest:2:params")
    assert table[["n_train", "n_test", "n_test_runs"]].values.tolist() == [[32, 3, 3], [32, 3, 3]]
    assert table["extrapolation_decades"].iloc[0] == pytest.approx(np.log10(6.889411e9 / 4.116163e8), rel=1e-6)
    assert (table["error"] == "").all() and table["converged"].all()
    assert (table["mean_abs_rel_error"] < 0.05).all() and (table["max_abs_rel_error"] < 0.05).all()
    assert (table["rmse_log"] < 0.05).all()
    records = to_records(table)
    assert json.loads(json.dumps(records, allow_nan=False))[0]["law"] == "chinchilla"


def test_backtest_with_fit_returns_the_split_and_the_training_fit():
    runs = load_runs("dataset:gadre2024_rpj")
    table, split, train_fit = backtest_with_fit("chinchilla", runs, "largest:2:params", seed=1)
    expected = backtest(["chinchilla"], runs, holdout="largest:2:params", seed=1)
    pd.testing.assert_frame_equal(table, expected)
    assert split.description == "largest:2:params" and split.test.n_runs == table.loc[0, "n_test_runs"]
    assert train_fit.n_runs == split.train.n_runs and train_fit.seed == 1
    with pytest.raises(DataError, match="holdout"):
        backtest_with_fit("chinchilla", runs, "largest:0:params")


# ------------------------------------------------------------------------------------------ interval kinds, auto
def test_total_and_parameter_intervals_are_scored_by_hand():
    """Coverage, interval score and width of each kind equal what the held-out rows give by hand; the total
    interval (law error learned from the training part's own rolling backtests) is the wider one."""
    from scalelaw.trust.backtest_scoring import winkler_log

    frame, args = compute_sweep(), dict(holdout="top:0.25:flops", level=0.9, n_boot=40, starts=20)
    got = {}
    for kind in ("total", "parameter"):
        table = backtest("power", frame, kind=kind, **args)
        rows = backtest_predictions("power", frame, kind=kind, **args)
        row = table.loc[0]
        assert row["interval_kind"] == kind and row["chosen"] == ""
        observed, low, high = (rows[c].to_numpy() for c in ("observed", "low", "high"))
        assert row["coverage"] == np.mean((observed >= low) & (observed <= high))
        score = (
            np.log(high / low)
            + 20 * np.maximum(np.log(low / observed), 0)
            + 20 * np.maximum(np.log(observed / high), 0)
        )
        assert row["interval_score"] == pytest.approx(score.mean(), rel=1e-12)
        assert row["interval_score"] == pytest.approx(winkler_log(observed, low, high, 0.9).mean(), rel=1e-12)
        assert row["mean_rel_width"] == pytest.approx(np.mean((high - low) / rows["predicted"]), rel=1e-12)
        got[kind] = rows
    assert np.all(got["total"]["low"] < got["parameter"]["low"]) and np.all(
        got["total"]["high"] > got["parameter"]["high"]
    )
    # The total interval is the training fit's own predict_interval.
    split = split_runs(frame, "top:0.25:flops")
    train = scalelaw_fit("power", split.train, starts=20)
    band = train.predict_interval(split.test.table, level=0.9, n_boot=40, observation=True)
    np.testing.assert_allclose(got["total"]["high"], band["high"], rtol=1e-12)


def test_auto_is_fitted_on_the_training_part_and_names_its_choice():
    frame = chinchilla_sweep()
    table = backtest(["chinchilla", "auto"], frame, "largest:2:params", candidates=["chinchilla", "kaplan"])
    assert table["law"].tolist() == ["chinchilla", "auto"]
    auto = table.loc[1]
    assert auto["chosen"] in ("chinchilla", "kaplan") and auto["error"] == ""
    # The choice is that of fit("auto") on the training runs alone: the held-out runs cannot sway it.
    split = split_runs(frame, "largest:2:params")
    alone = scalelaw_fit("auto", split.train, candidates=["chinchilla", "kaplan"])
    assert auto["chosen"] == alone.law_choice.chosen
    assert auto["formula"] == f"auto: {alone.law.formula()}" and auto["n_params"] == alone.law.n_params
    assert auto["mean_abs_rel_error"] == pytest.approx(
        np.mean(np.abs(alone.predict(split.test.table) / split.test.array("loss") - 1)), rel=1e-9
    )
    assert to_records(table)[1]["chosen"] == auto["chosen"]


def test_interval_kind_and_candidates_are_checked():
    with pytest.raises(DataError, match="interval kind must be one of total, parameter, got 'bogus'"):
        backtest("power", compute_sweep(), level=0.9, kind="bogus")
    with pytest.raises(DataError, match="candidates= is for the laws 'auto' and 'averaged'"):
        backtest("power", compute_sweep(), candidates=["power"])


def scalelaw_fit(law, runs, **kwargs):
    import warnings

    from scalelaw import fit

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit(law, runs, **kwargs)
