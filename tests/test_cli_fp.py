"""``scalelaw fp-plan`` through the real entry point: Sun et al. 2025's published critical data sizes and float
layouts, a fit of the ``fp_quant`` law with bootstrap intervals, and bad input (exit 2, one line, no traceback)."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings

import numpy as np
import pytest

import scalelaw
from law_cases_precision import fp_quant_design
from scalelaw.decisions.precision import critical_data_size
from scalelaw.laws.precision import SUN2025, fp_quant


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "scalelaw", *args], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def fp_fit_file(tmp_path_factory):
    """120 runs from the paper's constants with 0.5% noise (the design of tests/test_precision_fp.py)."""
    full = fp_quant_design()
    keep = np.isin(full["params"], np.logspace(7.5, 9.5, 5)[[0, 2, 4]]) & np.isin(full["tokens"], [1e10, 1e11])
    keep &= full["block"] != 128.0
    design = {k: v[keep] for k, v in full.items()}
    law = fp_quant()
    y = law.predict(SUN2025, **design)
    data = {"run": np.arange(y.size), **design, "loss": y * np.exp(np.random.default_rng(0).normal(0, 0.005, y.shape))}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = scalelaw.fit(law, data)
    path = tmp_path_factory.mktemp("fp") / "fp.json"
    result.save(path)
    return path, result


def test_published_critical_data_size_matches_the_paper():
    # Sun et al. 2025 (arXiv 2501.02423v3), sec. 4.3: a 1B model at block 128 has a critical data size of 27T tokens
    # in FP8-E4M3 and 0.4T in FP4-E2M1.
    done = run_cli("fp-plan", "--published", "--params", "1e9", "--format", "E4M3", "--block", "128", "--json")
    assert done.returncode == 0, done.stderr
    plan = json.loads(done.stdout)["plans"][0]
    assert plan["tokens_crit"]["value"] / 1e12 == pytest.approx(27.33, abs=0.01)
    done = run_cli("fp-plan", "--published", "--params", "1e9", "--format", "e2m1", "--block", "128")
    assert done.returncode == 0 and "3.928e+11" in done.stdout  # 0.393T; the paper rounds to 0.4T


def test_published_layouts_match_figure_5():
    done = run_cli("fp-plan", "--published", "--layout", "4,8,16", "--json")
    plans = json.loads(done.stdout)["plans"]
    layouts = [(p["exp_bits_int"]["value"], p["man_bits_int"]["value"]) for p in plans]
    assert layouts == [(2, 1), (4, 3), (8, 7)]  # E2M1, E4M3, E8M7


def test_fit_with_interval_equals_the_library(fp_fit_file):
    path, result = fp_fit_file
    args = ("--params", "1e9", "--format", "E4M3", "--block", "64", "--interval", "0.9", "--n-boot", "30")
    done = run_cli("fp-plan", str(path), *args, "--json")
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)["plans"][0]["tokens_crit"]
    want = critical_data_size(result, 1e9, exp_bits=4, man_bits=3, block=64, level=0.9, n_boot=30, seed=0)
    row = want.table.iloc[0]
    assert got["value"] == pytest.approx(row["tokens_crit"], rel=1e-9)
    assert got["low"] == pytest.approx(row["tokens_crit_low"], rel=1e-9)
    assert got["low"] < got["value"] < got["high"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--published", "--params", "1e9", "--format", "E4x3"), "EkMj"),
        (("--published",), "--layout"),
        (("--published", "--layout", "8", "--interval", "0.9"), "no interval"),
        (("--layout", "8"), "--published"),
        (("--published", "--layout", "8", "--interval", "2"), "between 0 and 1"),
    ],
)
def test_bad_input_exits_2(args, message):
    done = run_cli("fp-plan", *args)
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr
