"""Model discrepancy for experiment design: the honest noise scale of a Huber fit, the backtest that
measures how far the law is off beyond its data, and how suggest uses it (runs near a predict target)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

import scalelaw
from scalelaw import DataError
from scalelaw.decisions.design import suggest
from scalelaw.trust.misfit import Misfit, estimate_misfit, grid_centers, noise_variance

EPOCH = {"E": 1.8172, "A": 482.01, "B": 2085.43, "alpha": 0.3478, "beta": 0.3658}
PREDICT = "predict:params=3e9,tokens=6e10"


def _ladder(seed: int, sd: float, bend: float = 0.0) -> pd.DataFrame:
    """A 5 x 5 ladder (N = 1e7..1e9) from Epoch's law; ``bend`` adds a misfit growing with log compute."""
    rng = np.random.default_rng(seed)
    N = np.repeat(np.geomspace(1e7, 1e9, 5), 5)
    D = N * np.tile([5.0, 10.0, 20.0, 40.0, 80.0], 5)
    law = scalelaw.get_law("chinchilla")
    log_c = np.log10(6 * N * D)
    y = law.predict(EPOCH, params=N, tokens=D).ravel()
    y = y * np.exp(bend * np.maximum(log_c - 18.0, 0.0) ** 2 + rng.normal(0, sd, N.size))
    return pd.DataFrame({"run": [f"r{i}" for i in range(N.size)], "params": N, "tokens": D, "loss": y})


def _fit(frame: pd.DataFrame, loss: str = "huber"):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return scalelaw.fit("chinchilla", frame, loss=loss)


@pytest.fixture(scope="module")
def exact_fit():
    return _fit(_ladder(0, 0.005))


@pytest.fixture(scope="module")
def bent_fit():
    return _fit(_ladder(0, 0.005, bend=0.01))


def test_noise_variance_matches_the_estimators_efficiency():
    # Squared loss: the usual sum r^2 / (n - p). Huber with delta << sigma: least absolute deviations,
    # whose variance is pi/2 times the Gaussian noise variance.
    x = np.geomspace(1e17, 1e21, 400)
    y = scalelaw.get_law("power").predict({"E": 1.7, "A": 2e3, "alpha": 0.15}, flops=x).ravel()
    rng = np.random.default_rng(3)
    data = {"flops": x, "loss": y * np.exp(rng.normal(0, 0.01, x.size))}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sq = scalelaw.fit("power", data, loss="squared")
        hub = scalelaw.fit("power", data)
    assert math.sqrt(noise_variance(sq)) == pytest.approx(0.01, rel=0.1)
    assert math.sqrt(noise_variance(hub)) == pytest.approx(0.01 * math.sqrt(math.pi / 2), rel=0.15)
    # The fit's MAD scale understates what a Huber fit's linearized variance needs.
    assert math.sqrt(noise_variance(hub)) > hub.residual_scale


def test_features_have_the_prior_scale_and_decay_with_distance():
    m = Misfit(0.02, length=0.5)
    pts = np.array([[8.0, 9.0], [8.5, 9.0], [10.0, 11.0]])
    centers = grid_centers(pts, m.length)
    phi = m.features(pts, centers)
    assert np.allclose(np.sum(phi**2, axis=1), 0.02**2)
    corr = phi @ phi.T / 0.02**2
    assert 0.6 < corr[0, 1] < 1.0  # half a decade apart: strongly correlated
    assert corr[0, 2] < 0.05  # 2.8 decades apart: nearly independent


def test_backtest_finds_no_misfit_when_the_law_is_exact(exact_fit):
    m = estimate_misfit(exact_fit)
    assert m.scale == 0.0
    assert "rolling backtests" in m.source


def test_backtest_measures_a_bend_the_law_cannot_follow(bent_fit):
    m = estimate_misfit(bent_fit)
    assert m.scale > 0.01, m.source


def test_too_few_runs_is_said_not_guessed():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = scalelaw.fit(
            "power", {"run": range(5), "flops": np.geomspace(1e17, 1e19, 5), "loss": [3, 2.8, 2.6, 2.5, 2.45]}
        )
    m = estimate_misfit(fit)
    assert m.scale == 0.0 and "too few" in m.source


def test_misfit_moves_runs_toward_a_predict_target(exact_fit):
    plain = suggest(exact_fit, PREDICT, budget=3e20, n_boot=60, n_prior=8, misfit=None)
    robust = suggest(exact_fit, PREDICT, budget=3e20, n_boot=60, n_prior=8, misfit=0.05)

    def distance(runs: pd.DataFrame) -> float:  # decades from the target in (log N, log D), weighted by cost
        d = np.hypot(np.log10(runs["params"] / 3e9), np.log10(runs["tokens"] / 6e10))
        return float(np.average(d, weights=runs["flops"]))

    assert distance(robust.runs) < distance(plain.runs)
    assert any("near the target" in r for r in robust.runs["reason"])
    assert any("law misfit: sd 0.05" in n for n in robust.notes)
    # Reported widths are the law's own interval, the same before any run is added.
    assert robust.width_before == pytest.approx(plain.width_before)
    assert robust.spent <= 3e20


def test_auto_misfit_is_said_in_the_notes(exact_fit):
    s = suggest(exact_fit, "plan:flops=1e23", budget=1e20, n_boot=40, n_prior=4)
    assert any(n.startswith("law misfit: none found") for n in s.notes)


@pytest.mark.parametrize("bad", ["bogus", -0.1, float("nan")])
def test_bad_misfit_values(exact_fit, bad):
    with pytest.raises(DataError, match="misfit"):
        suggest(exact_fit, PREDICT, budget=1e20, n_boot=0, misfit=bad)


def test_cli_misfit_option(exact_fit, tmp_path):
    import json
    import subprocess
    import sys

    path = tmp_path / "fit.json"
    exact_fit.save(path)
    cmd = [sys.executable, "-m", "scalelaw", "suggest", str(path), "--budget", "3e20", "--target", PREDICT]
    proc = subprocess.run([*cmd, "--misfit", "0.05", "--json"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert any("law misfit: sd 0.05" in n for n in data["notes"]) and len(data["runs"]) <= 30
    bad = subprocess.run([*cmd, "--misfit", "lots"], capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "--misfit" in bad.stderr and "Traceback" not in bad.stderr


def test_backtest_refit_keeps_the_fits_row_weights():
    frame = _ladder(0, 0.005)
    w = np.where(frame["params"] > 2e8, 2.0, 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        weighted = scalelaw.fit("chinchilla", frame, weights=w)
    m = estimate_misfit(weighted)
    assert m.scale == 0.0 and "rolling backtests" in m.source


def test_backtest_reads_the_fits_cached_rolling_backtests(bent_fit):
    model = bent_fit.extrapolation_error()
    m = estimate_misfit(bent_fit)
    assert bent_fit.extrapolation_error() is model  # learned once, no refit of its own
    per_cut = model.points.assign(e2=model.points["log_error"] ** 2).groupby("cut")[["e2", "explained_var"]].mean()
    assert m.scale**2 == pytest.approx(float(np.median(per_cut["e2"] - per_cut["explained_var"])))
    assert f"{model.n_cuts} rolling backtests" in m.source


def test_backtest_finds_a_power_law_that_steepens():
    """One input: the exponent rises from 0.05 to 0.3 midway, which no power law with E >= 0 follows."""
    C = np.geomspace(1e17, 1e21, 20)
    x = np.log10(C) - 19.0
    y = 1.7 + 10 ** -(0.05 * np.minimum(x, 0) + 0.3 * np.maximum(x, 0))
    noise = np.exp(np.random.default_rng(4).normal(0, 0.01, C.size))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bent = scalelaw.fit("power", {"run": range(C.size), "flops": C, "loss": y * noise})
        straight = scalelaw.fit("power", {"run": range(C.size), "flops": C, "loss": (1.7 + (C / 1e19) ** -0.3) * noise})
    assert estimate_misfit(bent).scale > 0.05
    assert estimate_misfit(straight).scale == 0.0
