"""Uncertainty saved in the fit file (``scalelaw fit --bootstrap N --out``): reused, checked, never stale."""

from __future__ import annotations

import copy
import dataclasses
import json
import warnings

import numpy as np
import pytest

import scalelaw
from scalelaw import DataError, FitResult
from scalelaw.errors import FitFileError
from test_cli import run

AT = {"params": 7e10, "tokens": 1.4e12}


@pytest.fixture(scope="module")
def kept() -> FitResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return scalelaw.fit("chinchilla", "dataset:gadre2024_rpj").with_uncertainty(n_boot=40, seed=3)


@pytest.fixture()
def tree(kept) -> dict:
    return json.loads(kept.to_json())


def _load(tmp_path, tree: dict) -> FitResult:
    path = tmp_path / "fit.json"
    path.write_text(json.dumps(tree))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return FitResult.load(path)


def test_a_saved_fit_reuses_its_replicates_and_law_error_model(kept, tmp_path, monkeypatch):
    loaded = _load(tmp_path, json.loads(kept.to_json()))
    assert loaded == kept and loaded.extrapolation is None
    import scalelaw.fitting.refit as refit
    import scalelaw.trust.extrapolation_error as ee

    def refuse(*args, **kwargs):
        raise AssertionError("a saved fit refitted")

    monkeypatch.setattr(refit, "refit_weighted", refuse)
    monkeypatch.setattr("scalelaw.trust.bootstrap.refit_weighted", refuse)
    monkeypatch.setattr(ee, "learn", refuse)
    boot = loaded.bootstrap(n=40, seed=3)
    assert np.array_equal(boot.samples, kept.saved_uncertainty().bootstrap.samples)
    assert loaded.extrapolation_error().to_dict() == kept.extrapolation_error().to_dict()
    assert len(loaded.extrapolation_error().points) == len(kept.extrapolation_error().points)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        again = loaded.predict_interval(n_boot=40, seed=3, **AT)
        first = kept.predict_interval(n_boot=40, seed=3, **AT)
    assert again[["value", "low", "high"]].equals(first[["value", "low", "high"]])


def test_other_settings_refit_and_derived_fits_drop_the_store(kept):
    assert scalelaw.trust.bootstrap.saved_replicates(kept, 40, "run", 0) is None  # another seed
    assert scalelaw.trust.bootstrap.saved_replicates(kept, 41, "run", 3) is None
    moved = dataclasses.replace(kept, values=tuple(v * 1.0001 for v in kept.values))
    assert moved.saved_uncertainty() is None and "uncertainty" not in moved.to_dict()
    assert "uncertainty" in kept.to_dict()


def test_a_store_of_another_fit_is_refused(tree, tmp_path):
    stale = copy.deepcopy(tree)
    stale["params"]["alpha"] *= 1.01  # the parameters changed after the replicates were drawn
    with pytest.raises(FitFileError, match=r"uncertainty\.fit names another fit"):
        _load(tmp_path, stale)


def test_a_store_over_edited_data_is_refused_when_used(tree, tmp_path):
    edited = copy.deepcopy(tree)
    edited["data"]["columns"]["loss"][0] *= 1.01
    loaded = _load(tmp_path, edited)  # point predictions still work, with a warning
    with pytest.raises(DataError, match="does not match its data hash"):
        loaded.bootstrap(n=40, seed=3)
    with pytest.raises(DataError, match="does not match its data hash"):
        loaded.extrapolation_error()


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda u: u["bootstrap"]["samples"][0].__setitem__(1, "x"), r"uncertainty\.bootstrap\.samples\[0\]\[1\]"),
        (lambda u: u["bootstrap"]["samples"][2].pop(), r"samples\[2\] has 4 values; the law has 5"),
        (lambda u: u["bootstrap"]["samples"][0].__setitem__(3, -5.0), r"outside the bounds of alpha"),
        (lambda u: u["bootstrap"]["samples"][0].__setitem__(0, None), r"samples\[0\]\[0\] must be a finite number"),
        (lambda u: u["bootstrap"].__setitem__("n_requested", 0), r"n_requested must be a whole number from 1"),
        (lambda u: u["bootstrap"].__setitem__("n_requested", 45), r"n_requested is 45, but 40 replicates"),
        (lambda u: u["bootstrap"].__setitem__("samples", [[1, 2, 3, 4, 5]]), r"holds 1 replicate"),
        (lambda u: u["bootstrap"].__setitem__("by", "seed"), r"bootstrap\.by must be one of"),
        (lambda u: u["bootstrap"].__setitem__("blocks", {"r": 2}), r"bootstrap\.blocks gives the block lengths"),
        (lambda u: u["bootstrap"].pop("jackknife"), r"jackknife is missing"),
        (lambda u: u["extrapolation_error"].__setitem__("law", "power"), r"extrapolation_error\.law is \"power\""),
        (lambda u: u["extrapolation_error"].__setitem__("axis", "steps"), r"axis must be compute or an input"),
        (lambda u: u["extrapolation_error"].__setitem__("floor_var", -1), r"floor_var must be a finite number >= 0"),
        (lambda u: u["extrapolation_error"]["points"]["run"].pop(), r"points\.run has \d+ values for \d+ points"),
        (lambda u: u.__setitem__("fit", 12), r"uncertainty\.fit must be a string"),
    ],
)
def test_damaged_stores_are_clean_errors_naming_the_json_path(tree, tmp_path, edit, message):
    edit(tree["uncertainty"])
    with pytest.raises(FitFileError, match=message):
        _load(tmp_path, tree)


def test_cli_fit_bootstrap_keeps_it_and_predict_reuses_it(tmp_path):
    path = tmp_path / "fit.json"
    done = run("fit", "dataset:gadre2024_rpj", "--bootstrap", "30", "--seed", "2", "--out", str(path), "--json")
    summary = json.loads(done.stdout)["uncertainty"]
    assert summary["bootstrap"]["n"] == 30 and "samples" not in summary["bootstrap"]
    saved = FitResult.load(path).saved_uncertainty()
    assert saved.bootstrap.samples.shape == (30, 5) and saved.extrapolation is not None
    got = json.loads(
        run("predict", str(path), "--at", "params=7e10,tokens=1.4e12", "--interval", "0.9", "--json").stdout
    )
    assert "n=30" in got["method"] and got["interval_kind"] == "total"
    refused = run("fit", "dataset:gadre2024_rpj", "--bootstrap", "30", check=False)
    assert refused.returncode == 2 and "add --out FILE" in refused.stderr


@pytest.mark.parametrize("df", [0.5, 1.0, 2.0, 2.5, 4.0, 7.0, 30.0, 1e4])
def test_the_t_quantile_without_scipy_agrees_with_scipy(df):
    from scipy.special import stdtrit

    from scalelaw.trust._student_t import t_quantile

    for level in (0.5, 0.8, 0.9, 0.95, 0.99, 0.999):
        p = 0.5 + level / 2
        assert t_quantile(p, df) == pytest.approx(stdtrit(df, p), rel=1e-10)
        assert t_quantile(1 - p, df) == pytest.approx(-stdtrit(df, p), rel=1e-10)
