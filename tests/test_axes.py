"""Any axis (issue #19, item 6): roles never misbind, compare on any shared axis, any column names on the command
line, ``x="tokens"`` as one column, and ``FitResult.solve`` on any law along one input (docs/axes.md).

Recovery tests on synthetic data with known truth: the solutions and crossovers of the true laws are computed
exactly (closed forms, or scipy's brentq on the true curves) and must fall inside the fitted 90 % intervals.
"""

from __future__ import annotations

import functools
import json
import math
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import brentq

import scalelaw
from scalelaw import DataError, Law, LawError, decisions, get_law
from scalelaw.decisions import plan
from scalelaw.decisions.axis import axis_of, shared_axis
from scalelaw.decisions.solve import solve

SRC = Path(__file__).resolve().parents[1] / "src"


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _retrieval_truth(n, s):
    """A retrieval law: loss falls with model size and with the datastore searched (not training tokens)."""
    return 1.8 + 300 * n**-0.3 + 50 * s**-0.2


@functools.cache
def _retrieval_runs() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = np.repeat(np.geomspace(1e7, 1e9, 5), 5)
    s = np.tile(np.geomspace(1e8, 1e11, 5), 5)
    loss = _retrieval_truth(n, s) * np.exp(rng.normal(0, 0.003, n.size))
    return pd.DataFrame({"run": [f"r{i}" for i in range(n.size)], "params": n, "datastore": s, "loss": loss})


@functools.cache
def _retrieval_fit():
    law = Law.from_expression("E + A*params**-alpha + B*datastore**-beta", inputs=["datastore"])
    return scalelaw.fit(law, _retrieval_runs())


def _hours_truth(which: str):
    return {"a": (2.0, 3.0, 0.3), "b": (1.8, 6.0, 0.35)}[which]


@functools.cache
def _hours_runs(which: str) -> pd.DataFrame:
    E, A, alpha = _hours_truth(which)
    rng = np.random.default_rng(1 if which == "a" else 2)
    h = np.repeat(np.logspace(1, 3, 8), 2)
    loss = (E + A * h**-alpha) * np.exp(rng.normal(0, 0.003, h.size))
    return pd.DataFrame({"run": [f"r{i}" for i in range(h.size)], "hours": h, "loss": loss})


@functools.cache
def _hours_fit(which: str):
    return scalelaw.fit("power", _hours_runs(which), x="hours")


def _cli(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(
        [sys.executable, "-m", "scalelaw", *args], capture_output=True, text=True, timeout=300, env=env
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"scalelaw {' '.join(args)} exited {proc.returncode}\n{proc.stderr}")
    return proc


# ---------------------------------------------------------------------------------------------- 1. roles


def test_the_retrieval_law_of_issue_19_is_never_planned_as_tokens():
    """A law of ``params`` and ``datastore`` fitted; every plan of N and D refuses it, naming its inputs, their roles
    and how to declare one; compare refuses it too (it has no one axis)."""
    fit = _retrieval_fit()
    assert fit.law.roles == {"params": "N", "datastore": None}
    for decide in (
        lambda: plan.compute_optimal(fit, 1e21),
        lambda: plan.compute_for_loss(fit, 2.5),
        lambda: decisions.inference_optimal(fit, 1e12, target_loss=2.5),
    ):
        with pytest.raises(LawError) as info:
            decide()
        message = str(info.value)
        assert "params (N), datastore (no role)" in message
        assert "roles={'datastore': 'D'}" in message and "--role datastore=D" in message  # its role-less column
        assert "FitResult.solve" in message
    with pytest.raises(LawError, match="compare needs a law of one input"):
        plan.compare(fit, fit)


def test_plan_records_read_n_and_d_by_role_not_position():
    """A formula that names tokens first: its proposed run is still (params_opt, tokens_opt), not swapped."""
    rng = np.random.default_rng(3)
    N = np.repeat(np.geomspace(2e7, 5e8, 5), 4)
    D = N * np.tile([10.0, 20.0, 40.0, 80.0], 5)
    truth = {"E": 1.8172, "A": 482.01, "B": 2085.43, "alpha": 0.3478, "beta": 0.3658}
    loss = get_law("chinchilla").predict(truth, params=N, tokens=D) * np.exp(rng.normal(0, 0.003, N.size))
    runs = {"params": N, "tokens": D, "loss": loss}
    swapped = scalelaw.fit(Law.from_expression("E + B*tokens**-beta + A*params**-alpha"), runs)
    assert swapped.law.inputs == ("tokens", "params")
    answer = plan.compute_optimal(swapped, 1e22)
    record = plan.plan_records(swapped, answer)[0]
    row = answer.table.iloc[0]
    largest_n, largest_d = N.max(), D.max()
    assert record["extrapolation"]["decades_params"] == pytest.approx(math.log10(row["params_opt"] / largest_n))
    assert record["extrapolation"]["decades_tokens"] == pytest.approx(math.log10(row["tokens_opt"] / largest_d))


def test_an_input_without_a_role_needs_a_value_and_says_so():
    rng = np.random.default_rng(4)
    N = np.repeat(np.geomspace(2e7, 5e8, 4), 6)
    D = N * np.tile([10.0, 20.0, 40.0], 8)
    S = np.tile(np.repeat([1e9, 1e11], 3), 4)
    loss = (1.8 + 400 * N**-0.34 + 400 * D**-0.28 + 30 * S**-0.2) * np.exp(rng.normal(0, 0.002, N.size))
    law = Law.from_expression("E + A*params**-alpha + B*tokens**-beta + R*datastore**-gamma", inputs=["datastore"])
    fit = scalelaw.fit(law, {"params": N, "tokens": D, "datastore": S, "loss": loss})
    with pytest.raises(
        LawError, match=r"other input\(s\) datastore \(no role\) need a value: pass fixed=\{'datastore'"
    ):
        plan.compute_optimal(fit, 1e21)
    small, large = (plan.compute_optimal(fit, 1e21, fixed={"datastore": s}).table for s in (1e9, 1e12))
    assert large["loss_opt"].iloc[0] < small["loss_opt"].iloc[0]  # a larger datastore helps; it is no token count


def test_one_input_laws_take_the_role_of_the_column_they_read():
    """``fit("power", runs, x="hours")`` renames the power law of flops: hours are no compute."""
    power = get_law("power")
    assert power.with_inputs("hours").roles == {"hours": None}
    assert power.with_inputs("tokens").roles == {"tokens": "D"}
    declared = get_law("power", x="C_total").with_roles(C_total="C")
    assert declared.roles == {"C_total": "C"} and declared.with_inputs("C2").roles == {"C2": None}  # by name only
    assert get_law("chinchilla").with_inputs("N_total", "D_seen").roles == {"N_total": None, "D_seen": None}
    assert _hours_fit("a").law.roles == {"hours": None}
    assert axis_of(_hours_fit("a").law) == ("hours", False)


# ---------------------------------------------------------------------------------------------- 4. x="tokens"


def test_x_as_one_string_is_one_column():
    runs = _hours_runs("a").rename(columns={"hours": "tokens"})
    one, listed = scalelaw.fit("power", runs, x="tokens"), scalelaw.fit("power", runs, x=["tokens"])
    assert one.law.inputs == ("tokens",) and one.values == listed.values
    multi = scalelaw.fit("power", runs.assign(other=runs["loss"] * 1.1), y=["loss", "other"], x="tokens")
    assert multi.to_frame()["target"].tolist() == ["loss", "other"]
    table = scalelaw.backtest(["power"], runs, holdout="top:0.25:tokens", x="tokens")
    assert len(table) == 1
    with pytest.raises(DataError, match="x must be a column name or a list of column names"):
        scalelaw.fit("power", runs, x=3)


# ---------------------------------------------------------------------------------------------- 5. solve


def test_solve_inverts_a_one_variable_law_exactly_and_brackets_the_truth():
    fit = _hours_fit("a")
    E, A, alpha = (fit.params[k] for k in ("E", "A", "alpha"))
    answer = fit.solve([2.3, 2.2], n_boot=100)
    table = answer.to_frame()
    assert list(table["target_loss"]) == [2.3, 2.2] and answer.inputs == ("target_loss",)
    for target, row in zip((2.3, 2.2), table.itertuples(), strict=True):
        assert row.hours == pytest.approx(((target - E) / A) ** (-1 / alpha), rel=1e-9)  # the fitted law's own
        E0, A0, a0 = _hours_truth("a")
        truth = ((target - E0) / A0) ** (-1 / a0)
        assert row.hours_low < truth < row.hours_high
    assert answer.interval_kind == "total" and answer.level == 0.9
    narrow = fit.solve(2.2, n_boot=100, kind="parameter").table.iloc[0]
    total = table.iloc[1]
    assert total["hours_high"] / total["hours_low"] > narrow["hours_high"] / narrow["hours_low"]
    assert "hours=" in answer.summary() and answer.to_dict()["table"][0]["hours"] > 0


def test_solve_along_one_input_with_the_others_fixed_recovers_the_truth():
    fit = _retrieval_fit()
    target = _retrieval_truth(1e9, 1e12)
    row = fit.solve(target, for_="datastore", at={"params": 1e9}, n_boot=100).table.iloc[0]
    assert row["params"] == 1e9 and row["target_loss"] == pytest.approx(target)
    assert row["datastore_low"] < 1e12 < row["datastore_high"]
    assert fit.predict(params=1e9, datastore=row["datastore"]) == pytest.approx(target, rel=1e-9)
    along_params = fit.solve(target, for_="params", at={"datastore": 1e12}, level=None).table.iloc[0]
    assert along_params["params"] == pytest.approx(1e9, rel=0.25)


def test_solve_says_what_the_law_reaches_when_the_target_is_out_of_range():
    fit = _hours_fit("a")
    with pytest.raises(DataError) as info:
        fit.solve(1.5, level=None)
    message = str(info.value)
    assert "never reaches loss = 1.5 along hours" in message and "floor" in message
    assert f"{fit.params['E']:.4g}" in message
    for bad, match in [
        (dict(for_="datastore"), "no input 'datastore'"),
        (dict(at={"params": 1.0}), r"other inputs \(none\).*params is not among them"),
    ]:
        with pytest.raises(LawError, match=match):
            fit.solve(2.3, level=None, **bad)
    retrieval = _retrieval_fit()
    with pytest.raises(LawError, match=r"say which to solve for \(for_='params'"):
        retrieval.solve(2.6, level=None)
    with pytest.raises(LawError, match="give params"):
        retrieval.solve(2.6, for_="datastore", level=None)


def test_solve_reports_the_first_of_several_crossings():
    """A U-shaped law (inverse scaling past its minimum) crosses a target twice: the smaller x is reported."""
    x = np.logspace(0, 4, 12)
    law = Law.from_expression("E + A*samples**-alpha + B*samples**gamma", inputs=["samples"])
    truth = {"E": 0.5, "A": 2.0, "alpha": 0.5, "B": 0.01, "gamma": 0.5}
    fit = scalelaw.fit(law, {"samples": x, "loss": law.predict(truth, samples=x)})
    answer = solve(fit, 1.0, level=None)
    first = brentq(lambda s: float(law.predict(truth, samples=s)[0]) - 1.0, 1.0, 100.0)
    assert answer.table["samples"].iloc[0] == pytest.approx(first, rel=1e-3)
    assert any("crosses loss = 1 2 times" in note for note in answer.notes)


# ---------------------------------------------------------------------------------------------- 2. compare


def test_compare_works_along_hours_and_labels_the_axis():
    a, b = _hours_fit("a"), _hours_fit("b")
    assert shared_axis(a, b) == "hours"
    cmp = plan.compare(a, b, [1e3], level=0.9, n_boot=100)
    (Ea, Aa, aa), (Eb, Ab, ab) = _hours_truth("a"), _hours_truth("b")
    truth = brentq(lambda h: (Ea + Aa * h**-aa) - (Eb + Ab * h**-ab), 10.0, 1e4)
    assert cmp.crossovers[0] == pytest.approx(truth, rel=0.05)
    assert cmp.crossover_interval[0] < truth < cmp.crossover_interval[1]
    assert cmp.axis == "hours" and cmp.to_frame().columns[0] == "hours"
    assert cmp.to_dict()["axis"] == "hours"
    assert f"crosses A's at {cmp.crossovers[0]:.3g} hours" in cmp.summary()
    assert "at 1e+03 hours B is worth" in cmp.summary() and "FLOPs" not in cmp.summary()
    true_multiplier = ((Eb + Ab * 1e3**-ab - Ea) / Aa) ** (-1 / aa) / 1e3
    row = cmp.table.iloc[0]
    assert row["multiplier_low"] < true_multiplier < row["multiplier_high"]
    with pytest.raises(LawError, match="different axes: A along hours"):
        plan.compare(a, scalelaw.fit("chinchilla", "dataset:gadre2024_rpj"), [1e21])


def test_compare_plot_draws_along_the_shared_axis():
    from scalelaw.views import plot
    from scalelaw.views.figures import axis_label

    fig = plot.compare_plot({"A": _hours_fit("a"), "B": _hours_fit("b")})
    top, bottom = fig.axes
    assert bottom.get_xlabel() == axis_label("hours") and len(top.get_lines()) >= 2


# ---------------------------------------------------------------------------------------------- the CLI


def test_cli_declares_any_columns_and_plans_never_misbind(tmp_path):
    data = tmp_path / "retrieval.csv"
    _retrieval_runs().to_csv(data, index=False)
    out = tmp_path / "fit.json"
    formula = "E + A*params**-alpha + B*datastore**-beta"
    free = json.loads(_cli("fit", str(data), "--law", formula, "--out", str(out), "--json").stdout)
    assert free["law_definition"]["inputs"] == ["params", "datastore"]  # datastore: a column of the data
    assert free["law_definition"]["roles"] == {"params": "N", "datastore": None}
    declared = _cli("fit", str(data), "--law", formula, "--x", "params,datastore", "--role", "datastore=D", "--json")
    assert json.loads(declared.stdout)["law_definition"]["roles"] == {"params": "N", "datastore": "D"}
    backtest = _cli(
        "backtest", str(data), "--laws", formula, "--x", "params,datastore", "--holdout", "top:0.2:datastore", "--json"
    )
    (ranked,) = json.loads(backtest.stdout)
    assert ranked["split_column"] == "datastore" and ranked["mean_abs_rel_error"] < 0.02
    refused = _cli("plan", str(out), "--flops", "1e21", check=False)
    assert refused.returncode == 2 and "datastore (no role)" in refused.stderr and "--role" in refused.stderr
    args = ("--target", "2.6", "--for", "datastore", "--at", "params=1e9", "--n-boot", "50")
    solved = json.loads(_cli("solve", str(out), *args, "--interval-kind", "parameter", "--json").stdout)
    (row,) = solved["solutions"]
    assert row["params"] == 1e9 and row["datastore"]["low"] < row["datastore"]["value"] < row["datastore"]["high"]
    assert solved["level"] == 0.9 and solved["interval_kind"] == "parameter"
    expected = _retrieval_fit().solve(2.6, for_="datastore", at={"params": 1e9}, level=None).table["datastore"]
    assert row["datastore"]["value"] == pytest.approx(float(expected.iloc[0]), rel=1e-6)
    bad = _cli("fit", str(data), "--law", formula, "--role", "datastore=tokens", check=False)
    assert bad.returncode == 2 and "a role is N (parameters), D (tokens), C (compute) or none" in bad.stderr


def test_an_expression_reads_data_columns_but_never_a_parameter_named_like_one():
    """Without ``--x`` the formula's symbols named like a data column are inputs, except names the naming rule
    gives to parameters (a sweep's ``beta`` column does not turn the exponent ``beta`` into an input)."""
    from scalelaw.cli.common import build_law

    columns = ["run", "params", "datastore", "beta", "loss"]
    law, x, _ = build_law("E + A*params**-alpha + B*datastore**-beta", columns=columns, y="loss")
    assert law.inputs == ("params", "datastore") and x is None and "beta" in law.param_names
    law, _, _ = build_law("E + A*params**-alpha + B*datastore**-beta", "params,datastore,beta", columns=columns)
    assert law.inputs == ("params", "datastore", "beta")  # --x names it: an input after all
    renamed, x, _ = build_law("E + A*params**-alpha", "N_total")
    assert renamed.inputs == ("params",) and x == ["N_total"]  # --x naming no symbol renames, as before
    with pytest.raises(DataError, match="--x params,hours: hours not in the formula"):
        build_law("E + A*params**-alpha", "params,hours")


def test_cli_compare_and_plan_target_loss_on_hours(tmp_path):
    fits = [tmp_path / "a.json", tmp_path / "b.json"]
    _hours_fit("a").save(fits[0])
    _hours_fit("b").save(fits[1])
    cmp = json.loads(_cli("compare", *map(str, fits), "--at", "1000", "--json").stdout)
    assert cmp["axis"] == "hours" and cmp["budgets"][0]["hours"] == 1000.0
    expected = plan.compare(_hours_fit("a"), _hours_fit("b"), [1e3])
    assert cmp["crossovers"][0] == pytest.approx(expected.crossovers[0], rel=1e-9)
    text = _cli("compare", *map(str, fits), "--at", "1000").stdout
    assert "hours" in text and "FLOPs" not in text
    target = json.loads(_cli("plan", str(fits[0]), "--target-loss", "2.3", "--json").stdout)
    solved = float(_hours_fit("a").solve(2.3, level=None).table["hours"].iloc[0])
    assert target["kind"] == "solve" and target["hours"]["value"] == pytest.approx(solved, rel=1e-9)
    floor = _cli("plan", str(fits[0]), "--target-loss", "1.5", check=False)
    assert floor.returncode == 2 and "never reaches loss = 1.5 along hours" in floor.stderr


def test_backtest_and_report_take_roles_too(tmp_path, capsys):
    """``--role`` on ``backtest`` and ``report`` as on ``fit``: a datastore declared the training data is planned as
    such in the report (and the report's command keeps the flag); ``auto`` has no one law to give roles to."""
    from cli_run import run_main

    data = tmp_path / "retrieval.csv"
    _retrieval_runs().to_csv(data, index=False)
    formula = "E + A*params**-alpha + B*datastore**-beta"
    declared = (
        "--law",
        formula,
        "--x",
        "params,datastore",
        "--holdout",
        "top:0.2:datastore",
        "--n-boot",
        "20",
        "--json",
    )
    pages = []
    for roles in ((), ("--role", "datastore=D")):
        page = tmp_path / f"report{len(roles)}.html"
        code, stdout, stderr = run_main(capsys, "report", str(data), *declared, *roles, "--out", str(page))
        assert code == 0, stderr
        pages.append(json.loads(stdout))
    plain, with_role = pages
    assert not plain["budgets"]  # no input plays D: nothing planned, and nothing misbound
    assert with_role["budgets"] and "--role datastore=D" in with_role["command"]
    args = ("backtest", str(data), "--x", "params,datastore", "--role", "datastore=D", "--holdout", "top:0.2:datastore")
    code, stdout, stderr = run_main(capsys, *args, "--json", "--laws", formula)
    assert code == 0, stderr
    assert json.loads(stdout)[0]["mean_abs_rel_error"] < 0.02
    code, _, stderr = run_main(capsys, *args, "--laws", "auto")
    assert code == 2 and "--role sets the roles of one law's inputs" in stderr


# ------------------------------------------------------------------------------------------ solve on law="auto"
def _point_solution(law: Law, values, target: float, for_: str, at: dict[str, float]) -> float:
    """Where one candidate's point curve reaches ``target`` (brentq on log x: independent of solve's own search)."""
    theta = np.array([values], dtype=np.float64)

    def gap(log_x: float) -> float:
        return float(np.log(law.predict(theta, **{for_: np.exp(log_x)}, **at)).ravel()[0] - math.log(target))

    return math.exp(brentq(gap, math.log(1e6), math.log(1e18)))


@pytest.mark.parametrize(("target", "params"), [(2.4, 3e10), (2.2, 3e11)])
def test_solve_on_law_auto_widens_by_the_law_choice(target, params):
    """The total interval of a solved input holds the law-choice spread: never narrower than the chosen law's own
    total interval (nor the parameter one), and it holds every candidate of material weight's point solution."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        auto = scalelaw.fit("auto", "dataset:gadre2024_rpj")
        single = scalelaw.fit(auto.law.name, "dataset:gadre2024_rpj")
        at = {"params": params}
        total, own, parameter = (
            f.solve(target, for_="tokens", at=at, n_boot=100, kind=kind).table.iloc[0]
            for f, kind in ((auto, "total"), (single, "total"), (auto, "parameter"))
        )
    assert total["tokens"] == own["tokens"] == parameter["tokens"]  # the chosen law's point solution
    assert total["tokens_low"] <= own["tokens_low"] and own["tokens_high"] <= total["tokens_high"]
    assert total["tokens_low"] <= parameter["tokens_low"] and parameter["tokens_high"] <= total["tokens_high"]
    choice = auto.law_choice
    material = {n: c for n, c in choice.candidates.items() if choice.weights[n] >= 0.3}
    assert len(material) >= 2  # the test needs a real choice: gadre2024_rpj splits chinchilla and overtrain
    for name, (law, values) in material.items():
        x = _point_solution(law, values, target, "tokens", at)
        assert total["tokens_low"] < x < total["tokens_high"], name
    wider = (total["tokens_high"] / total["tokens_low"]) / (own["tokens_high"] / own["tokens_low"])
    assert wider > 1.001  # the spread of a distinct candidate widens it


def test_a_solved_total_interval_holds_its_parameter_interval():
    """Far beyond the data the law-error draws, added to a skewed bootstrap, pulled the total band's low end above
    the parameter band's (for seed 0 at 2.2: 1.48e10 against 1.34e10 tokens): the unshifted band now stays inside."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = scalelaw.fit("chinchilla", "dataset:gadre2024_rpj")
        for target, params in ((2.2, 3e11), (2.1, 1e12)):
            total, parameter = (
                fit.solve(target, for_="tokens", at={"params": params}, n_boot=200, kind=k).table.iloc[0]
                for k in ("total", "parameter")
            )
            assert total["tokens_low"] <= parameter["tokens_low"] < parameter["tokens_high"] <= total["tokens_high"]
