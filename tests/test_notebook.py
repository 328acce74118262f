"""Results read naturally in a notebook: mappings by name, predictions shaped like their inputs, interval tables
indexed by parameter with ``low``/``high`` before the long ``method`` text, and ``progress=True`` bars."""

from __future__ import annotations

import dataclasses
import functools
import json
import warnings

import numpy as np
import pandas as pd
import pytest

import scalelaw
from scalelaw._progress import reporting
from scalelaw.decisions.design import suggest
from scalelaw.fitting.result import FitResult, predict_values
from scalelaw.topics.downstream import fit_chain

TRUTH = {"E": 1.7, "A": 2e3, "alpha": 0.15}
POWER_E = scalelaw.get_law("power").fix(E=1.7)  # a second law to backtest


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@functools.cache
def _runs() -> pd.DataFrame:
    """12 runs of a power law in compute, 1% noise, under labels that are not 0..n-1."""
    rng = np.random.default_rng(3)
    flops = np.logspace(17, 21, 12)
    loss = (TRUTH["E"] + TRUTH["A"] * flops ** -TRUTH["alpha"]) * np.exp(rng.normal(0, 0.01, flops.size))
    return pd.DataFrame({"run": [f"r{i}" for i in range(12)], "flops": flops, "loss": loss})


@functools.cache
def _fit() -> FitResult:
    return scalelaw.fit("power", _runs())


@functools.cache
def _ladder() -> pd.DataFrame:
    """16 runs of a Chinchilla law over params and tokens (for suggest, which plans N and D)."""
    rng = np.random.default_rng(0)
    N = np.repeat([1e7, 2e7, 5e7, 1e8], 4)
    D = N * np.tile([10.0, 20.0, 40.0, 80.0], 4)
    truth = {"E": 1.8, "A": 480, "B": 2000, "alpha": 0.35, "beta": 0.37}
    y = scalelaw.get_law("chinchilla").predict(truth, params=N, tokens=D) * np.exp(rng.normal(0, 0.005, N.size))
    return pd.DataFrame({"run": [f"r{i}" for i in range(16)], "params": N, "tokens": D, "loss": y})


# ---------------------------------------------------------------------------------------------- mappings


def test_std_errors_are_a_mapping_by_parameter_name_like_params():
    fit = _fit()
    assert isinstance(fit.std_errors, dict) and list(fit.std_errors) == list(fit.params) == ["E", "A", "alpha"]
    assert all(v > 0 for v in fit.std_errors.values())
    assert fit.to_frame().set_index("parameter")["std_error"].to_dict() == fit.std_errors
    again = FitResult.from_json(fit.to_json())
    assert again.std_errors == fit.std_errors and again == fit
    assert json.loads(fit.to_json())["std_errors"] == fit.std_errors
    # A sequence in parameter order is still accepted where a result is built, and named on the way in.
    moved = dataclasses.replace(fit, std_errors=(1.0, 2.0, 3.0))
    assert moved.std_errors == {"E": 1.0, "A": 2.0, "alpha": 3.0}
    with pytest.raises(scalelaw.FitError, match="std_errors must name the parameters E, A, alpha"):
        dataclasses.replace(fit, std_errors={"E": 1.0})


def test_interval_tables_are_indexed_by_parameter():
    fit = _fit()
    ci = fit.bootstrap(n=30).interval()
    assert list(ci.index) == list(ci["quantity"]) == ["E", "A", "alpha"]
    assert ci["low"]["alpha"] < fit.params["alpha"] < ci.loc["alpha", "high"]
    assert ci.set_index("quantity").loc["alpha", "low"] == ci.loc["alpha", "low"]  # the old idiom still works
    prof = fit.profile("alpha")
    assert list(prof.index) == ["alpha"] and prof.loc["alpha", "low"] < fit.params["alpha"] < prof["high"]["alpha"]
    # The notebook table shows the names once (the quantity column), not again as the index.
    page = fit.bootstrap(n=30)._repr_html_()
    assert page.count("<th>alpha</th>") == 0 and page.count(">alpha<") == 1


# ---------------------------------------------------------------------------------------------- predict


def test_predict_is_a_float_for_one_point_an_array_for_arrays_a_series_for_a_frame():
    fit = _fit()
    one = fit.predict(flops=1e23)
    assert type(one) is float and one == pytest.approx(predict_values(fit, flops=[1e23])[0], rel=1e-15)
    assert type(fit.predict({"flops": 1e23})) is float  # a mapping of scalars is one point too
    assert type(fit.predict(flops=np.float64(1e23))) is float
    arr = fit.predict(flops=[1e22, 1e23])
    assert isinstance(arr, np.ndarray) and arr.shape == (2,) and arr[1] == one
    assert fit.predict(flops=[1e23]).shape == (1,)  # a list of one is an array of one
    frame = pd.DataFrame({"flops": [1e22, 1e23, 1e24]}, index=["small", "big", "bigger"])
    series = fit.predict(frame)
    assert isinstance(series, pd.Series) and series.name == "loss" and list(series.index) == list(frame.index)
    assert series["big"] == one
    # Aligned, so it joins the frame whatever the index (a filtered frame keeps its labels).
    shuffled = _runs().sample(frac=1.0, random_state=0).iloc[:5]
    joined = shuffled.assign(fitted=fit.predict(shuffled))
    np.testing.assert_array_equal(joined["fitted"].to_numpy(), predict_values(fit, shuffled))


def test_a_chain_predicts_in_the_same_shapes():
    rng = np.random.default_rng(1)
    N = np.repeat(np.logspace(7, 8.6, 4), 4)
    D = N * np.tile([10.0, 20.0, 40.0, 80.0], 4)
    truth = {"E": 1.84, "A": 166.2, "B": 287.2, "alpha": 0.273}
    loss = scalelaw.get_law("overtrain").predict(truth, params=N, tokens=D)
    loss = loss * np.exp(rng.normal(0, 0.01, N.size))
    error = scalelaw.get_law("downstream_exp").predict({"eps": 0.857, "k": 2.21, "gamma": 0.715}, loss=loss)
    chain = fit_chain({"run": [f"r{i}" for i in range(N.size)], "params": N, "tokens": D, "loss": loss, "error": error})
    one = chain.predict(params=1e9, tokens=2e10)
    assert type(one) is float and 0 < one < 1
    frame = pd.DataFrame({"params": [1e9, 2e9], "tokens": [2e10, 4e10]}, index=[7, 3])
    series = chain.predict(frame)
    assert isinstance(series, pd.Series) and list(series.index) == [7, 3] and series[7] == one
    assert isinstance(chain.predict_loss(params=1e9, tokens=2e10), float)


def test_predict_interval_is_a_table_aligned_to_its_input_with_the_method_last():
    fit = _fit()
    frame = pd.DataFrame({"flops": [1e22, 1e23]}, index=["a", "b"])
    band = fit.predict_interval(frame, n_boot=30)
    assert list(band.index) == ["a", "b"] and band.loc["b", "value"] == fit.predict(flops=1e23)
    columns = list(band.columns)
    assert columns[-1] == "method" and columns.index("low") < columns.index("high") < columns.index("method")
    row = fit.predict_interval(flops=1e23, n_boot=30).iloc[0]  # one point: its row, a small mapping
    assert row["low"] < row["value"] < row["high"] and row["value"] == fit.predict(flops=1e23)


def test_every_interval_table_shows_low_and_high_before_its_method():
    fit = _fit()
    boot = fit.bootstrap(n=30)
    tables = [boot.interval(), boot.predict(flops=[1e22]), fit.profile("alpha"), fit.predict_interval(flops=1e22)]
    for table in tables:
        columns = list(table.columns)
        assert columns.index("low") < columns.index("method") and columns.index("high") < columns.index("method")


# ---------------------------------------------------------------------------------------------- progress


def test_progress_true_draws_a_bar_and_changes_nothing(capsys):
    fit = _fit()
    plain = fit.bootstrap(n=40, seed=2)
    capsys.readouterr()
    shown = fit.bootstrap(n=40, seed=2, progress=True)
    err = capsys.readouterr().err
    assert "bootstrap (40 refits)" in err and "40/40" in err
    np.testing.assert_array_equal(shown.samples, plain.samples)


def test_progress_callables_see_the_work_advance():
    seen: list[tuple[int, int]] = []
    boot = _fit().bootstrap(n=40, seed=2, progress=lambda done, total: seen.append((done, total)))
    assert seen and seen[-1] == (40, 40) and all(t == 40 for _, t in seen) and boot.n_requested == 40
    drawn: list[int] = []
    _fit().predict_interval(flops=1e23, n_boot=30, kind="parameter", progress=lambda d, t: drawn.append(d))
    assert drawn[-1] == 30
    laws: list[tuple[int, int]] = []
    table = scalelaw.backtest(["power", POWER_E], _runs(), progress=lambda d, t: laws.append((d, t)))
    assert laws == [(1, 2), (2, 2)] and len(table) == 2
    refits: list[tuple[int, int]] = []
    chosen = suggest(
        scalelaw.fit("chinchilla", _ladder()),
        "plan:flops=1e24",
        budget=1e20,
        n_boot=30,
        n_prior=8,
        misfit=None,
        progress=lambda d, t: refits.append((d, t)),
    )
    assert refits[-1] == (30, 30) and chosen.spent <= 1e20


def test_progress_refuses_what_it_cannot_use():
    with pytest.raises(TypeError, match="progress must be True"):
        with reporting("yes", "work"):
            pass
    with reporting(False, "work") as tick, reporting(None, "work") as other:
        assert tick is None and other is None
