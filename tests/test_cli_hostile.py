"""Hostile input through the real command line (issue #14): exit 2 and one clear line, never a traceback or a hang.

Every reproducer of the hardening audit is here, run as ``python -m scalelaw`` in a subprocess. Each
call costs about a second, so cases are grouped; cheaper library-level checks of the same limits are in
test_fit_schema.py, test_law_expression.py and test_sweep.py.
"""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest


def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "scalelaw", *args], capture_output=True, text=True, timeout=timeout, errors="replace"
    )


def assert_clean_refusal(proc: subprocess.CompletedProcess, *words: str) -> None:
    """Exit 2 and exactly one line on stderr, an ``error:`` naming what was wrong (``words``)."""
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])


@pytest.fixture(scope="module")
def runs_csv(tmp_path_factory):
    """A small power-law data set whose compute columns are named '[/]' and 'train flops'."""
    folder = tmp_path_factory.mktemp("hostile")
    flops = np.logspace(17, 21, 12)
    loss = 1.7 + 2e3 * flops**-0.15 * np.exp(np.random.default_rng(0).normal(0, 0.01, flops.size))
    path = folder / "runs.csv"
    pd.DataFrame(
        {"run": [f"r{i}" for i in range(flops.size)], "[/]": flops, "train flops": flops, "loss": loss}
    ).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def saved_fit(runs_csv):
    """A real fit of the power law on '[/]', saved by the CLI; returns its path and parsed JSON."""
    path = runs_csv.parent / "fit.json"
    proc = run("fit", str(runs_csv), "--law", "power", "--x", "[/]", "--out", str(path))
    assert proc.returncode == 0, proc.stderr
    assert "[/]" in proc.stdout  # the column's name is shown as text, not read as markup
    return path, json.loads(path.read_text())


def _write(folder, name: str, content: str | bytes):
    path = folder / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


def _broken_fits(folder, fit: dict) -> dict[str, tuple]:
    """The audit's damaged fit files: name -> (path, words the error line must contain)."""

    def edited(**changes) -> str:
        data = json.loads(json.dumps(fit))
        for key, value in changes.items():
            if value is None:
                del data[key]
            else:
                data[key] = value
        return json.dumps(data, allow_nan=True)

    nan_params = dict(fit["params"], alpha=math.nan)
    hostile = dict(fit["law_definition"], type="expression", expression="E + A*flops**-alpha + 10**10**10")
    return {
        "json list": (_write(folder, "list.json", "[1, 2, 3]"), ("list.json", "not a scalelaw fit")),
        "directory": (folder, ("is a directory",)),
        "binary": (_write(folder, "binary.json", bytes(range(256)) * 4), ("not UTF-8",)),
        "no params": (_write(folder, "noparams.json", edited(params=None)), ("params is missing",)),
        "schema_version abc": (_write(folder, "v.json", edited(schema_version="abc")), ("schema_version", '"abc"')),
        "deep nesting": (_write(folder, "deep.json", "[" * 100_000 + "]" * 100_000), ("nested too deeply",)),
        "NaN parameter": (_write(folder, "nan.json", edited(params=nan_params)), ("params.alpha", "finite", "NaN")),
        "hostile expression": (_write(folder, "expr.json", edited(law_definition=hostile)), ("10**10**10", "limit")),
    }


BROKEN = ["json list", "directory", "binary", "no params", "schema_version abc", "deep nesting", "NaN parameter"]


@pytest.mark.parametrize("case", [*BROKEN, "hostile expression"])
def test_predict_refuses_a_broken_fit_file_in_one_line(saved_fit, tmp_path, case):
    path, what = _broken_fits(tmp_path, saved_fit[1])[case]
    start = time.perf_counter()
    proc = run("predict", str(path), "--at", "[/]=1e22")
    assert time.perf_counter() - start < 20  # the expression used to hang sympy for 60-90 s
    assert_clean_refusal(proc, *what)


def test_predict_interval_on_nan_parameters_exits_2(saved_fit, tmp_path):
    # --interval used to crash in the bootstrap; without it the NaN was printed as a value with exit 0.
    path, what = _broken_fits(tmp_path, saved_fit[1])["NaN parameter"]
    assert_clean_refusal(run("predict", str(path), "--at", "[/]=1e22", "--interval", "0.9", "--n-boot", "20"), *what)


@pytest.mark.parametrize(
    "law,words",
    [
        ("E + A*flops**-alpha + 2**2**30", ("2**2**30", "limit of 1e300")),
        ("E + A*flops**-alpha + 10**10**10", ("10**10**10", "limit of 1e300")),
        ("E + A*flops**-alpha + 1e999999", ("1e999999", "1e300")),
        (" + ".join(f"A{i}*flops" for i in range(2_000)), ("characters long", "limit of 1,000")),
        ("E + A*flops**-alpha + " + "7" * 10_000, ("characters long", "limit")),
    ],
    ids=["2**2**30", "10**10**10", "1e999999", "2000 terms", "10000 digits"],
)
def test_fit_refuses_hostile_expressions_quickly(runs_csv, law, words):
    start = time.perf_counter()
    proc = run("fit", str(runs_csv), "--law", law, "--x", "train flops", timeout=30)
    assert time.perf_counter() - start < 20  # these hung sympy for 60-90 s, or crashed
    assert_clean_refusal(proc, *words)


def test_markup_in_a_column_name_is_text_everywhere(runs_csv, saved_fit):
    path, _ = saved_fit
    # A prediction table headed by the column '[/]'.
    proc = run("predict", str(path), "--at", "[/]=1e22")
    assert proc.returncode == 0, proc.stderr
    assert "[/]" in proc.stdout
    # An error quoting the user's text, markup included: shown as typed, not swallowed or crashing.
    assert_clean_refusal(run("fit", str(runs_csv), "--law", "power", "--x", "[/]", "--y", "[b]loss[/b]"), "[b]loss[/b]")


def test_warnings_and_internal_errors_print_user_text_literally(capsys, monkeypatch):
    # In-process: no command makes these on purpose. Rich markup in a message used to raise MarkupError
    # inside the handler itself, so the user saw a raw traceback instead of the message.
    import warnings

    from scalelaw.cli import common

    common.run_action(lambda: warnings.warn("column [/] has [bold]few[/bold] rows", UserWarning, stacklevel=1))
    assert "warning: column [/] has [bold]few[/bold] rows" in capsys.readouterr().err

    def broken() -> None:
        raise RuntimeError("no attribute '[/]'")

    monkeypatch.setattr(common, "app", broken)
    monkeypatch.delenv("SCALELAW_DEBUG", raising=False)
    with pytest.raises(SystemExit) as info:
        common.main()
    assert info.value.code == 1
    assert "internal error: RuntimeError: no attribute '[/]'" in capsys.readouterr().err


def test_report_with_a_column_name_that_is_not_an_identifier(runs_csv, tmp_path):
    out = tmp_path / "report.html"
    proc = run(
        "report",
        str(runs_csv),
        "--law",
        "power",
        "--x",
        "train flops",
        "--holdout",
        "top:0.25:train flops",
        "--n-boot",
        "20",
        "--out",
        str(out),
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["out"] == str(out)
    assert "train flops" in out.read_text(encoding="utf-8")


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="the sweep command needs the sweep extra")
def test_sweep_refuses_an_absurd_budget_before_allocating(tmp_path):
    config = _write(
        tmp_path,
        "huge.toml",
        '[model]\nsizes = [{ name = "a", n_layers = 1, d_model = 16, n_heads = 2 }]\n[design]\ntokens = [1e30]\n',
    )
    start = time.perf_counter()
    proc = run("sweep", str(config), "--out", str(tmp_path / "runs.jsonl"))
    assert time.perf_counter() - start < 20  # it used to exhaust 24 GB of memory
    assert_clean_refusal(proc, "[design] tokens", "1e+30", "limit of 1e+12")
    assert not (tmp_path / "runs.jsonl").exists()
