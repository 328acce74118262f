"""``scalelaw hparams`` through the real entry point (``python -m scalelaw`` and ``scalelaw.cli.main``).

The sweep is synthetic with a known truth, ``lr* = 3e-3 (N/2e8)^-0.5 (D/4e9)^0.25`` and
``bs* = 2e5 (D/4e9)^0.5`` (tests/test_hparams.py checks the published Step Law and DeepSeek constants).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from cli_run import run_cli, run_main

TRUTH = {"params": -0.5, "tokens": 0.25}


@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> str:
    """Nine (N, D) cells of 7 x 7 lr x batch-size grids, 0.3% loss noise, written as CSV."""
    axes = ((5e7, 2e8, 8e8), (1e9, 4e9, 1.6e10), np.geomspace(1e-4, 3e-2, 7), np.geomspace(1.6e4, 2e6, 7))
    n, d, lr, bs = (g.ravel() for g in np.meshgrid(*axes, indexing="ij"))
    lr_star = 3e-3 * (n / 2e8) ** -0.5 * (d / 4e9) ** 0.25
    bs_star = 2e5 * (d / 4e9) ** 0.5
    loss = 1.7 + 400 * n**-0.34 + 400 * d**-0.28 + 0.05 * np.log(lr / lr_star) ** 2 + 0.02 * np.log(bs / bs_star) ** 2
    loss *= np.exp(np.random.default_rng(2).normal(0, 0.003, n.size))
    path = tmp_path_factory.mktemp("hparams") / "sweep.csv"
    frame = pd.DataFrame({"run": np.arange(n.size), "params": n, "tokens": d, "LR": lr, "batch_size": bs})
    frame.assign(loss=loss).to_csv(path, index=False)
    return str(path)


def test_json_prints_both_laws_with_intervals_cells_and_predictions(sweep):
    done = run_cli("hparams", sweep, "--map", "LR=lr", "--json", "--n-boot", "100", "--at", "params=7e9,tokens=1.4e12")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    lr, bs = out["lr_opt"], out["batch_opt"]
    assert set(lr["exponents"]) == {"params", "tokens"} and set(bs["exponents"]) == {"tokens"}
    for name, value in TRUTH.items():
        low, high = lr["exponent_intervals"][name]
        assert low < lr["exponents"][name] < high and abs(lr["exponents"][name] - value) < 0.08
    low, high = bs["exponent_intervals"]["tokens"]
    assert low < 0.5 < high and lr["level"] == 0.9 and lr["coef_interval"][0] < lr["coef"] < lr["coef_interval"][1]
    assert len(out["cells"]) == 9 and all(cell["lr_ok"] and cell["batch_size_ok"] for cell in out["cells"])
    (at,) = out["predictions"]
    assert at["inputs"] == {"params": 7e9, "tokens": 1.4e12}
    truth = 3e-3 * (7e9 / 2e8) ** -0.5 * (1.4e12 / 4e9) ** 0.25
    assert at["lr"]["low"] < truth < at["lr"]["high"] and at["batch_size"]["low"] < at["batch_size"]["value"]


def test_the_deepseek_form_fits_in_flops_and_says_when_it_misfits(capsys, sweep):
    code, out, err = run_main(
        capsys, "hparams", sweep, "--map", "LR=lr", "--form", "deepseek", "--json", "--n-boot", "30"
    )
    assert code == 0, err
    data = json.loads(out)
    assert data["form"] == "deepseek" and set(data["lr_opt"]["exponents"]) == {"flops"}
    assert any("scatter about the power law" in note for note in data["notes"])


def test_the_table_view_shows_cells_laws_and_predictions(capsys, sweep):
    args = ("hparams", sweep, "--map", "LR=lr", "--n-boot", "30", "--at", "params=1e9,tokens=2e10")
    code, out, err = run_main(capsys, *args)
    assert code == 0, err
    assert "Per-cell optima (90% by-run bootstrap)" in out and "lr* = " in out and "batch_size* = " in out
    assert "at params=1e+09, tokens=2e+10: lr* = " in out


def test_no_interval_leaves_the_intervals_empty(capsys, sweep):
    code, out, _ = run_main(capsys, "hparams", sweep, "--map", "LR=lr", "--interval", "0", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["level"] is None and data["lr_opt"]["coef_interval"] == [None, None]


def test_published_laws_predict_without_data(capsys):
    code, out, err = run_main(capsys, "hparams", "--published", "--at", "params=1e9,tokens=1e11", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["lr_opt"]["coef"] == 1.79 and data["batch_opt"]["exponents"] == {"tokens": 0.571}
    (at,) = data["predictions"]
    assert at["lr"]["value"] == pytest.approx(1.79 * 1e9**-0.713 * 1e11**0.307) and at["lr"]["low"] is None
    code, out, _ = run_main(capsys, "hparams", "--published", "--form", "deepseek", "--at", "flops=1e23")
    assert code == 0 and "lr* = 0.3118 · flops^-0.125" in out and "at flops=1e+23: lr* = 0.0004158" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "needs a 'lr' column"),  # no --map: the sweep's column is LR
        (("--map", "LR=lr", "--form", "kaplan"), "--form must be 'step' or 'deepseek'"),
        (("--map", "LR=lr", "--at", "params=7e9"), "the step form needs params and tokens"),
        (("--map", "LR=lr", "--at", "params"), "cannot read --at"),
        (("--map", "LR=lr", "--band", "-1"), "band must be >= 0"),
        (("--published",), "give DATA (runs to fit) or --published"),
    ],
)
def test_bad_input_exits_2_with_one_clear_line(capsys, sweep, args, message):
    code, out, err = run_main(capsys, "hparams", sweep, "--interval", "0", *args)
    assert code == 2 and out == "" and message in err and "Traceback" not in err


def test_a_missing_column_is_named_through_the_installed_entry_point(sweep):
    done = run_cli("hparams", sweep, "--map", "LR=lr", "--map", "batch_size=bs", "--json")
    assert done.returncode == 2 and done.stdout == ""
    assert "needs a 'batch_size' column" in done.stderr and "--map" in done.stderr
