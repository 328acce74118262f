"""Saved replicates serve every consumer (issue 17, item 3): ``predict``, ``plan``, ``compare``, ``suggest`` and the
report reuse the bootstrap of ``scalelaw fit --bootstrap N --out`` (or :meth:`FitResult.with_uncertainty`) without
a refit, say so, and refuse a stale store.

"No refit" is checked without timing: the bootstrap's refit (``scalelaw.trust.bootstrap.refit_weighted``, which
draws replicates and the BCa jackknife) is replaced by a function that raises.
"""

from __future__ import annotations

import copy
import json
import warnings

import numpy as np
import pytest

import scalelaw
from cli_run import run_main
from scalelaw import DataError, FitResult
from scalelaw.decisions import plan
from scalelaw.decisions.design import suggest
from scalelaw.trust.bootstrap import Bootstrap

DATA = "dataset:gadre2024_rpj"
N_SAVED = 40


def _refuse(*args, **kwargs):
    raise AssertionError("the bootstrap refitted although the fit carries saved replicates")


@pytest.fixture(scope="module")
def fitted() -> FitResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return scalelaw.fit("chinchilla", DATA)


@pytest.fixture(scope="module")
def saved_file(fitted, tmp_path_factory):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kept = fitted.with_uncertainty(n_boot=N_SAVED, seed=3)
    path = tmp_path_factory.mktemp("saved") / "fit.json"
    kept.save(path)
    return path


@pytest.fixture()
def loaded(saved_file) -> FitResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return FitResult.load(saved_file)


@pytest.fixture()
def no_refit(monkeypatch):
    monkeypatch.setattr("scalelaw.trust.bootstrap.refit_weighted", _refuse)


def _explicit(result: FitResult) -> Bootstrap:
    """A Bootstrap built by hand from the replicates in the file: what every reuse must equal exactly."""
    boot = result.saved_uncertainty().bootstrap
    return Bootstrap(result, boot.samples, boot.by, boot.n_requested, boot.n_failed, boot.n_unconverged, boot.seed)


def test_saving_does_not_refit_the_jackknife_unless_bca_asked_for_it(fitted, monkeypatch):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        boot = fitted.bootstrap(n=20, seed=1)
    monkeypatch.setattr("scalelaw.trust.bootstrap.refit_weighted", _refuse)
    kept = fitted.with_uncertainty(boot=boot, extrapolation=False)
    assert not boot.jackknife_computed and kept.uncertainty.bootstrap.jackknife.shape == (0, 5)
    # Read back, the BCa jackknife is rebuilt from the seed: the same weights as the fresh bootstrap's.
    monkeypatch.undo()
    again = FitResult.from_json(kept.to_json()).bootstrap()
    assert again.saved and again.n == 20 and not again.jackknife_computed
    np.testing.assert_array_equal(again.jackknife, boot.jackknife)
    bca = again.interval(0.9, method="bca")
    assert bca.equals(boot.interval(0.9, method="bca").assign(method=bca["method"]))
    assert (
        FitResult.from_json(
            fitted.with_uncertainty(boot=boot, extrapolation=False).to_json()
        ).uncertainty.bootstrap.jackknife.shape[0]
        > 0
    )


def test_python_plans_and_predict_reuse_the_saved_replicates_exactly(loaded, no_refit):
    explicit = _explicit(loaded)
    for decide in (
        lambda **k: plan.compute_optimal(loaded, [1e22, 1e24], level=0.9, **k),
        lambda **k: plan.compute_for_loss(loaded, 2.4, level=0.9, **k),
        lambda **k: loaded.solve(2.3, for_="tokens", at={"params": 1e10}, **k),
    ):
        reused = decide()
        assert f"n={N_SAVED}, saved with the fit" in reused.method
        assert reused.table.equals(decide(boot=explicit).table)  # the saved replicates' answer, bit for bit
    band = loaded.predict_interval(params=7e10, tokens=1.4e12, kind="parameter", observation=False)
    assert f"n={N_SAVED}, saved with the fit" in band["method"].iloc[0]
    assert band[["low", "high"]].equals(explicit.predict(params=7e10, tokens=1.4e12)[["low", "high"]])
    assert loaded.predict_interval(params=7e10, tokens=1.4e12)["method"].str.contains("saved with the fit").all()


def test_compare_and_suggest_reuse_them_and_say_so(loaded, no_refit):
    cmp = plan.compare(loaded, loaded, 1e22, level=0.9)
    assert f"A: the {N_SAVED} bootstrap replicates saved with the fit were reused (no refit)" in cmp.notes
    assert any(note.startswith("B: the") for note in cmp.notes)
    answer = suggest(loaded, "predict:params=7e10,tokens=1.4e12", 1e21, misfit=None, n_prior=8, max_runs=3)
    assert f"the {N_SAVED} bootstrap replicates saved with the fit were reused (no refit)" in answer.notes


def test_an_explicit_n_boot_still_draws_fresh_replicates(loaded):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fresh = plan.compute_optimal(loaded, 1e22, level=0.9, n_boot=20, kind="parameter")
    assert "n=20)" in fresh.method and "saved" not in fresh.method


def test_a_stale_store_is_refused_by_every_consumer(saved_file, tmp_path, capsys):
    tree = json.loads(saved_file.read_text())
    edited = copy.deepcopy(tree)
    edited["data"]["columns"]["loss"][0] *= 1.01  # the data changed after the replicates were drawn
    path = tmp_path / "edited.json"
    path.write_text(json.dumps(edited))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stale = FitResult.load(path)
    for decide in (
        lambda: plan.compute_optimal(stale, 1e22, level=0.9),
        lambda: plan.compare(stale, stale, 1e22, level=0.9),
        lambda: stale.predict_interval(params=7e10, tokens=1.4e12),
    ):
        with pytest.raises(DataError, match="does not match its data hash"):
            decide()
    code, _, err = run_main(capsys, "plan", str(path), "--flops", "1e22", "--interval", "0.9")
    assert code == 2 and "does not match its data hash" in err
    other = copy.deepcopy(tree)
    other["params"]["alpha"] *= 1.01  # the parameters changed: the store names another fit
    path.write_text(json.dumps(other))
    code, _, err = run_main(capsys, "plan", str(path), "--flops", "1e22", "--interval", "0.9")
    assert code != 0 and "stale" in err


def test_the_cli_reuses_them_in_plan_compare_suggest_and_report(saved_file, loaded, tmp_path, capsys, no_refit):
    fit = str(saved_file)
    code, out, _ = run_main(capsys, "plan", fit, "--flops", "1e22", "--interval", "0.9", "--json")
    got = json.loads(out)
    assert code == 0 and f"n={N_SAVED}, saved with the fit" in got["method"]
    expected = plan.compute_optimal(loaded, 1e22, level=0.9, boot=_explicit(loaded)).to_records()[0]
    assert got["params_opt"] == expected["params_opt"] and got["loss_opt"] == expected["loss_opt"]
    code, out, _ = run_main(capsys, "solve", fit, "--target", "2.3", "--for", "tokens", "--at", "params=1e10", "--json")
    assert code == 0 and f"n={N_SAVED}, saved with the fit" in json.loads(out)["method"]
    code, out, _ = run_main(capsys, "compare", fit, fit, "--flops", "1e22", "--interval", "0.9", "--json")
    assert code == 0 and any("saved with the fit were reused" in n for n in json.loads(out)["notes"])
    args = ("--budget", "1e21", "--misfit", "none", "--max-runs", "3", "--json")
    code, out, _ = run_main(capsys, "suggest", fit, "--target", "predict:params=7e10,tokens=1.4e12", *args)
    assert code == 0 and any("saved with the fit were reused" in n for n in json.loads(out)["notes"])
    page = tmp_path / "r.html"
    report = ("report", DATA, "--fit", fit, "--out", str(page), "--holdout", "none", "--plotlyjs", "cdn")
    code, out, _ = run_main(capsys, *report, "--budgets", "1e22", "--json")
    got = json.loads(out)
    assert code == 0 and got["bootstrap_saved"] and got["n_boot"] == N_SAVED and "--fit" in got["command"]
    assert f"intervals use the {N_SAVED} bootstrap replicates saved with the fit" in page.read_text()
    code, out, _ = run_main(capsys, *report)
    assert code == 0 and f"the {N_SAVED} bootstrap replicates saved with the fit (no refit)" in out


def test_report_refuses_a_fit_of_other_data_or_another_law(saved_file, tmp_path, capsys):
    common = ("--fit", str(saved_file), "--out", str(tmp_path / "r.html"), "--n-boot", "0", "--holdout", "none")
    code, _, err = run_main(capsys, "report", DATA, *common, "--where", "params < 1e9")
    assert code == 2 and "fitted to other data" in err and "data hash" in err
    code, _, err = run_main(capsys, "report", DATA, *common, "--law", "kaplan")
    assert code == 2 and "not the law of the given fit" in err
    code, _, err = run_main(capsys, "report", DATA, *common, "--x", "tokens,params")
    assert code == 2 and "leave out --x and --role" in err


def test_a_fit_compared_with_itself_is_paired_at_random(loaded, no_refit):
    """Two fits saved with one seed over as many runs resample the same run positions pair by pair; ``compare``
    pairs B's replicates in a seeded random order, so a fit against itself is not a band of zero width."""
    cmp = plan.compare(loaded, loaded, 1e22, level=0.9, kind="parameter")
    row = cmp.table.iloc[0]
    assert row["loss_a"] == row["loss_b"]
    assert row["loss_a_low"] < row["loss_a"] < row["loss_a_high"]
    delta = cmp.table.filter(like="multiplier").iloc[0]
    assert delta["multiplier_low"] < 1.0 < delta["multiplier_high"]


def test_by_row_replicates_are_not_a_decisions_by_run_interval(fitted, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rows = fitted.with_uncertainty(n_boot=N_SAVED, by="row", seed=3, extrapolation=False)
        path = tmp_path / "rows.json"
        rows.save(path)
        loaded_rows = FitResult.load(path)
        answer = plan.compute_optimal(loaded_rows, 1e22, level=0.9, kind="parameter")
        # An explicit count draws by run, not by the saved replicates' rows; left out, the saved ones are reused.
        assert loaded_rows.bootstrap().by == "row" and loaded_rows.bootstrap().saved
        assert loaded_rows.bootstrap(n=12).by == "run"
    assert "saved" not in answer.method and "bootstrap by run (n=1000)" in answer.method


def test_a_report_of_a_saved_fit_backtests_it_with_its_own_objective(tmp_path):
    from scalelaw.views.report import report

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        squared = scalelaw.fit("chinchilla", DATA, loss="squared")
        done = report(DATA, tmp_path / "r.html", fitted=squared, n_boot=0)
        assert done.split_fit.loss == "squared"
        weighted = scalelaw.fit("chinchilla", DATA, weights="per_run")
        assert weighted.data.weights is not None
        with pytest.raises(DataError, match="row weights"):
            report(DATA, tmp_path / "w.html", fitted=weighted, n_boot=0)
        same = report(DATA, tmp_path / "w.html", fitted=weighted, n_boot=0, weights="per_run")
        assert same.split_fit.data.weights is not None
