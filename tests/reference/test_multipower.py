"""Multi-Power Law (Luo et al. 2025) on its own loss curves: published parameters and a refit.

Source: ``thu-yao-01-luo/MultiPowerLaw`` @ 8da9f19; constants ``src/config.py::PARAMS``; held-out averages
from the README "Evaluation Metrics" table; per-curve metrics from ``logs/{25,100,400}.log``; all quoted and
verified in ``docs/ORACLES.md`` §3. Prediction formula: ORACLES.md §3 (the repository's
``src/evaluation.py``), which is what ``multi_power`` evaluates.

Tolerance. With the published parameters we reproduce the README averages to the printed digits and the
per-curve metrics to 1e-6 absolute (the table is rounded to 6 decimals), and the full-precision values
printed in the logs to 1e-5 relative (we match them to ~2e-7: the compressed loss-drop sum changes the loss
by < 1e-8 nats, see ``tests/test_schedule_laws.py``).
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import pandas as pd
import pytest

from scalelaw import datasets, fit, get_law
from scalelaw.data.datasets import luo2025

# src/config.py::PARAMS, order [L0, A, alpha, B, C, beta, gamma] (ORACLES.md §3).
PARAMS = {
    "25M": [3.04045406, 0.52468604, 0.50786857, 363.78751622, 2.06560812, 0.58279013, 0.64142257],
    "100M": [2.6514477, 0.60115152, 0.45295811, 437.9464276, 2.13245612, 0.59785199, 0.65523644],
    "400M": [2.37474466, 0.65421216, 0.42878731, 523.42464371, 2.02462735, 0.59350493, 0.63472457],
}
NAMES = ("L0", "A", "alpha", "B", "C", "beta", "gamma")

# README "Evaluation Metrics": mean over the 6 held-out curves (R2, MAE, RMSE, PredE, WorstE).
README_HELDOUT = {
    "25M": (0.9988, 0.00376, 0.00465, 0.00110, 0.00409),
    "100M": (0.9983, 0.00435, 0.00592, 0.00142, 0.00583),
    "400M": (0.9978, 0.00484, 0.00730, 0.00168, 0.00995),
}

# ORACLES.md §3 per-curve table (a few rows of each kind), rounded to 6 decimals.
PER_CURVE = [
    ("25M", "constant_24000", 0.998674, 0.003762, 0.005399, 0.001054, 0.009007),
    ("25M", "cosine_72000", 0.996623, 0.007445, 0.008011, 0.002240, 0.007063),
    ("25M", "wsdld_20000_24000", 0.999359, 0.003136, 0.003828, 0.000915, 0.003107),
    ("100M", "wsdcon_9", 0.998641, 0.004935, 0.006342, 0.001579, 0.005466),
    ("100M", "wsdcon_3", 0.997281, 0.005669, 0.008896, 0.001806, 0.010335),
    ("100M", "wsd_20000_24000", 0.998668, 0.003748, 0.005915, 0.001226, 0.005231),
    ("400M", "cosine_24000", 0.997834, 0.007135, 0.008437, 0.002477, 0.006525),
    ("400M", "constant_72000", 0.998308, 0.004118, 0.005413, 0.001454, 0.010780),
    ("400M", "wsdcon_18", 0.999564, 0.002558, 0.003582, 0.000838, 0.005199),
]


def metrics(y: np.ndarray, pred: np.ndarray) -> tuple[float, ...]:
    """R2 (sklearn's r2_score), MAE, RMSE, PredE = mean |y - pred| / y, WorstE = max |y - pred| / y."""
    err = np.abs(y - pred)
    r2 = 1.0 - np.sum((y - pred) ** 2) / np.sum((y - y.mean()) ** 2)
    return (r2, err.mean(), np.sqrt(np.mean(err**2)), np.mean(err / y), np.max(err / y))


def curve_metrics(curves: pd.DataFrame, pred: np.ndarray) -> pd.DataFrame:
    rows = []
    for run, g in curves.assign(pred=pred).groupby("run", sort=False):
        values = metrics(g["loss"].to_numpy(), g["pred"].to_numpy())
        rows.append((run, g["split"].iloc[0], *values))
    return pd.DataFrame(rows, columns=["run", "split", "R2", "MAE", "RMSE", "PredE", "WorstE"]).set_index("run")


@pytest.fixture(scope="module")
def curves() -> pd.DataFrame:
    return datasets.load("luo2025")


@pytest.fixture(scope="module")
def schedules():
    return luo2025.schedules()


@pytest.fixture(scope="module")
def published(curves, schedules) -> dict[str, pd.DataFrame]:
    law = get_law("multi_power")
    out = {}
    for size, values in PARAMS.items():
        c = curves[curves["model_size"] == size]
        pred = law.predict(values, step=c["step"].to_numpy(), run=c["run"].to_numpy(), schedule=schedules)
        out[size] = curve_metrics(c, pred)
    return out


@pytest.mark.parametrize("size", sorted(PARAMS))
def test_published_params_reproduce_readme_heldout_averages(published, size):
    mean = published[size].query("split == 'heldout'")[["R2", "MAE", "RMSE", "PredE", "WorstE"]].mean()
    r2, mae, rmse, prede, worste = README_HELDOUT[size]
    assert mean["R2"] == pytest.approx(r2, abs=5e-5)  # printed to 4 decimals
    for ours, printed in zip(mean.iloc[1:], (mae, rmse, prede, worste), strict=True):
        assert ours == pytest.approx(printed, abs=5e-6)  # printed to 5 decimals


@pytest.mark.parametrize(("size", "schedule", "r2", "mae", "rmse", "prede", "worste"), PER_CURVE)
def test_published_params_reproduce_per_curve_metrics(published, size, schedule, r2, mae, rmse, prede, worste):
    row = published[size].loc[f"{size}/{schedule}"]
    ours = row[["R2", "MAE", "RMSE", "PredE", "WorstE"]].to_numpy(dtype=np.float64)
    np.testing.assert_allclose(ours, [r2, mae, rmse, prede, worste], rtol=0, atol=1e-6)


def test_published_params_reproduce_log_values_to_full_precision(published):
    """``logs/400.log``: constant_72000 RMSE and WorstE, and the held-out average R2, as printed."""
    row = published["400M"].loc["400M/constant_72000"]
    assert row["RMSE"] == pytest.approx(0.005413489708779302, rel=1e-5)
    assert row["WorstE"] == pytest.approx(0.010780075878373575, rel=1e-5)
    r2 = published["400M"].query("split == 'heldout'")["R2"].mean()
    assert r2 == pytest.approx(0.9977627125467547, rel=1e-8)


def test_refit_on_the_fit_curves_predicts_heldout_curves_like_the_paper(curves, schedules):
    """Refit on the paper's fit set (cosine_24000, constant_24000, wsdcon_9) of the 100M model.

    Recorded results (this machine, 2 cores): our fit reaches a summed Huber objective of 2.13e-5, 13x below
    the published parameters' 2.81e-4 on the same three curves, in a different corner of the sloppy
    (C, beta, gamma) valley (C=0.0020, beta=0.245, gamma=1.357 vs 2.13, 0.598, 0.655). Held-out mean PredE
    0.00165 vs the paper's 0.00142 (1.16x), WorstE 0.0051 vs 0.0058, R2 0.9971 vs 0.9983. (25M: PredE
    0.00137 vs 0.00110; 400M: 0.00216 vs 0.00168.)
    """
    c = curves[curves["model_size"] == "100M"]
    train = c[c["split"] == "fit"]
    assert sorted(set(train["schedule_id"])) == sorted(luo2025.FIT_SET)
    start = time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # C, beta and gamma trade off: the fit says so, we know
        result = fit("multi_power", train, schedule=schedules)
    cpu = time.process_time() - start
    assert cpu < 60, f"fit took {cpu:.1f} s of CPU"

    law = get_law("multi_power")
    X = law.bind({"step": train["step"].to_numpy(), "run": train["run"].to_numpy(), "schedule": schedules})
    from scalelaw.fitting.engine import Problem

    published_objective = Problem(law, X, np.log(train["loss"].to_numpy())).objective(
        law.to_internal(law.theta(PARAMS["100M"]))
    )[0]
    assert result.objective < published_objective  # the same Huber objective, at least as well minimized

    heldout = curve_metrics(c, result.predict(c, schedule=schedules)).query("split == 'heldout'")
    _, _, _, prede, worste = README_HELDOUT["100M"]
    assert heldout["PredE"].mean() < 1.5 * prede
    assert heldout["WorstE"].mean() < 1.5 * worste
    assert heldout["R2"].mean() > 0.995
