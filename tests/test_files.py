"""Files are safe (issue #14): how outputs are written, what --out refuses, the data hash, strict JSON.

The CLI tests spawn ``sys.executable -m scalelaw`` (kept to a few calls, parametrized); the rest are
library-level checks of the shared helpers.
"""

from __future__ import annotations

import dataclasses
import json
import math
import multiprocessing
import os
import stat
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import scalelaw
from scalelaw import FitResult
from scalelaw.data.io import check_output_path, strict_json, write_bytes_atomic, write_text_atomic
from scalelaw.errors import DataError
from scalelaw.sweep.events import RunSummary
from scalelaw.sweep.store import RunStore
from scalelaw.trust.misfit import estimate_misfit


def cli(*args: str, env: dict[str, str] | None = None, umask: int | None = None) -> subprocess.CompletedProcess:
    """``scalelaw ARGS`` through the real entry point; ``env`` adds to this process's environment."""
    command = [sys.executable, "-m", "scalelaw", *args]
    if umask is not None:  # set by a shell that then becomes scalelaw: the umask a user's shell would give it
        command = ["sh", "-c", f'umask {umask:03o} && exec "$@"', "sh", *command]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env={**os.environ, **(env or {})})


def _strict(text: str):
    """Parse like a strict JSON parser: the bare words NaN, Infinity and -Infinity are errors."""

    def refuse(word: str):
        raise ValueError(f"not JSON: {word}")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture(scope="module")
def ladder(tmp_path_factory) -> Path:
    """40 runs of a Chinchilla law with 0.5% noise, as a CSV."""
    rng = np.random.default_rng(0)
    n = np.exp(rng.uniform(np.log(7e7), np.log(1.6e10), 40))
    d = np.exp(rng.uniform(np.log(5e9), np.log(5e11), 40))
    truth = {"E": 1.8, "A": 482.0, "B": 2085.0, "alpha": 0.35, "beta": 0.37}
    loss = scalelaw.get_law("chinchilla").predict(truth, params=n, tokens=d) * np.exp(rng.normal(0, 0.005, 40))
    path = tmp_path_factory.mktemp("ladder") / "runs.csv"
    frame = pd.DataFrame({"run": [f"r{i}" for i in range(40)], "params": n, "tokens": d, "loss": loss})
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def flat(tmp_path_factory) -> Path:
    """Six runs of constant loss: Chinchilla's exponents are not identifiable (NaN std errors, infinite cond.)."""
    path = tmp_path_factory.mktemp("flat") / "flat.csv"
    n = np.array([1e8, 2e8, 4e8, 8e8, 1.6e9, 3.2e9])
    frame = pd.DataFrame({"run": [f"r{i}" for i in range(6)], "params": n, "tokens": 100 * n, "loss": 3.0})
    frame.to_csv(path, index=False)
    return path


def _quiet_fit(law: str, data) -> FitResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return scalelaw.fit(law, data)


# ------------------------------------------------------------------------------------------- writers
def _with_umask(mask: int, write) -> None:
    old = os.umask(mask)
    try:
        write()
    finally:
        os.umask(old)


@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_atomic_writes_honour_the_umask(tmp_path, mask, mode):
    text, data = tmp_path / "a.txt", tmp_path / "b.bin"
    _with_umask(mask, lambda: (write_text_atomic(text, "x"), write_bytes_atomic(data, b"x")))
    assert stat.S_IMODE(text.stat().st_mode) == mode
    assert stat.S_IMODE(data.stat().st_mode) == mode


def test_atomic_text_is_utf8_and_replaces_without_leftovers(tmp_path):
    target = tmp_path / "sub" / "report.html"  # the missing folder is created
    write_text_atomic(target, "old")
    write_text_atomic(target, "Größe ≈ 7·10⁹ — ok")
    assert target.read_bytes() == "Größe ≈ 7·10⁹ — ok".encode()
    assert sorted(p.name for p in target.parent.iterdir()) == ["report.html"]  # no temporary file left


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "fit.json"
    target.write_text("old")
    with pytest.raises(TypeError):
        write_bytes_atomic(target, "not bytes")  # type: ignore[arg-type]
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["fit.json"]


def test_parquet_run_store_goes_through_the_atomic_writer(tmp_path):
    path = tmp_path / "runs.parquet"
    _with_umask(0o022, lambda: RunStore(path).append([{"run": "a", "step": 1, "loss": 3.0, "params": 10}]))
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert pd.read_parquet(path)["loss"].tolist() == [3.0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs.parquet"]


# ------------------------------------------------------------------------------------------- run-store lock
def _try_lock(path: str, barrier, release, results) -> None:
    """Child process: try to lock the store once all contenders are ready; hold a won lock until ``release``."""
    barrier.wait()
    try:
        with RunStore(path).locked():
            results.put("won")
            release.wait(30)
    except DataError:
        results.put("lost")


def test_run_store_lock_admits_exactly_one_process_and_survives_release(tmp_path):
    ctx = multiprocessing.get_context("fork")
    path = str(tmp_path / "s.jsonl")
    barrier, release, results = ctx.Barrier(2), ctx.Event(), ctx.Queue()
    contenders = [ctx.Process(target=_try_lock, args=(path, barrier, release, results)) for _ in range(2)]
    for p in contenders:
        p.start()
    outcomes = sorted(results.get(timeout=30) for _ in contenders)  # both tried while the winner holds it
    release.set()
    for p in contenders:
        p.join(30)
    assert outcomes == ["lost", "won"]
    lock = tmp_path / "s.jsonl.lock"
    inode = lock.stat().st_ino  # kept: a later sweep locks the same file, never a second one
    third = ctx.Process(target=_try_lock, args=(path, ctx.Barrier(1), release, results))
    third.start()
    third.join(30)
    assert results.get(timeout=5) == "won"
    assert lock.stat().st_ino == inode


def test_a_lock_path_that_is_a_directory_is_a_clear_error(tmp_path):
    (tmp_path / "s.jsonl.lock").mkdir()
    with pytest.raises(DataError, match="cannot open the lock file"), RunStore(tmp_path / "s.jsonl").locked():
        pass


# ------------------------------------------------------------------------------------------- strict JSON
def test_strict_json_writes_null_for_every_non_finite_number():
    data = {"a": math.nan, "b": [np.float64(np.inf), -math.inf, (1.5, np.float32(2.0))], "c": {"d": math.nan}}
    assert _strict(strict_json(data)) == {"a": None, "b": [None, None, [1.5, 2.0]], "c": {"d": None}}


def test_a_fit_with_non_finite_values_round_trips_through_strict_json(flat, tmp_path):
    result = _quiet_fit("chinchilla", flat)
    assert math.isinf(result.status.condition_number) and any(math.isnan(v) for v in result.std_errors.values())
    text = result.to_json()
    _strict(text)  # a strict parser reads it
    again = FitResult.from_json(text)
    assert again == result and again.to_json() == text
    assert again.status.condition_number == math.inf  # null reads back as what the fit computed
    assert list(again.std_errors) == list(result.std_errors)
    np.testing.assert_array_equal(list(again.std_errors.values()), list(result.std_errors.values()))  # NaN where NaN
    np.testing.assert_array_equal(np.array(again.correlations), np.array(result.correlations))
    path = tmp_path / "fit.json"
    result.save(path)
    FitResult.load(path).save(tmp_path / "again.json")
    assert (tmp_path / "again.json").read_bytes() == path.read_bytes()


@pytest.mark.parametrize(
    "args",
    [
        ("fit", "{flat}", "--json"),
        ("fit", "{flat}", "--json", "--influence"),
        ("predict", "{fit}", "--at", "params=7e10,tokens=1.4e12", "--json"),
    ],
    ids=["fit", "fit-influence", "predict"],
)
def test_json_output_is_strict(args, flat, tmp_path):
    fit_file = tmp_path / "flat.json"
    _quiet_fit("chinchilla", flat).save(fit_file)
    proc = cli(*(a.format(flat=flat, fit=fit_file) for a in args))
    assert proc.returncode == 0, proc.stderr
    assert "NaN" not in proc.stdout and "Infinity" not in proc.stdout
    _strict(proc.stdout)


# ------------------------------------------------------------------------------------------- equality
def test_two_fits_of_the_same_data_are_equal_whatever_they_took(ladder):
    first, second = _quiet_fit("chinchilla", ladder), _quiet_fit("chinchilla", ladder)
    assert first == second and hash(first) == hash(second)
    slower = dataclasses.replace(first, fit_seconds=first.fit_seconds + 100.0)
    assert slower == first and hash(slower) == hash(first)
    assert dataclasses.replace(first, values=(first.values[0] * 1.01, *first.values[1:])) != first


def test_run_summaries_compare_without_their_timings():
    summary = RunSummary("r", "s", 10, 100, 6e3, 5, 0, 3.0, 3.1, seconds=1.0, cpu_seconds=2.0, status="trained")
    assert dataclasses.replace(summary, seconds=9.0, cpu_seconds=8.0) == summary
    assert dataclasses.replace(summary, loss=2.9) != summary


# ------------------------------------------------------------------------------------------- data hash
def _tamper(source: Path, target: Path) -> None:
    """Copy a fit file with its first stored loss raised by 10%, as a hand edit would."""
    data = json.loads(source.read_text(encoding="utf-8"))
    data["data"]["columns"]["loss"][0] *= 1.1
    target.write_text(json.dumps(data, indent=2), encoding="utf-8")


@pytest.mark.parametrize(
    "data",
    [
        {"flops": [1e18, 1e19, 1e20, 1e21, 1e22], "loss": [3.1, 2.8, 2.6, 2.5, 2.45]},  # no run column
        pd.DataFrame({"flops": [1e18, 1e19, 1e20, 1e21], "loss": [3.0, 2.8, 2.7, 2.65]}, index=[7, 3, 9, 1]),
        {"run": ["a", "a", "b", "b", "c"], "flops": [1e18, 1e19, 1e20, 1e21, 1e22], "loss": [3.1, 2.8, 2.6, 2.5, 2.45]},
    ],
    ids=["no-run-column", "odd-index", "runs"],
)
def test_saved_fits_match_their_data_hash(data, tmp_path):
    path = tmp_path / "fit.json"
    _quiet_fit("power", data).save(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no mismatch warning
        loaded = FitResult.load(path)
    assert loaded.data_matches_hash
    loaded.check_data_hash()


def test_a_tampered_fit_predicts_with_a_warning_but_refuses_every_refit(ladder, tmp_path):
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    _quiet_fit("chinchilla", ladder).save(good)
    _tamper(good, bad)
    with pytest.warns(UserWarning, match=r"bad\.json: its stored data does not match its data hash"):
        fit = FitResult.load(bad)
    assert not fit.data_matches_hash
    assert fit.predict(params=7e10, tokens=1.4e12) == FitResult.load(good).predict(params=7e10, tokens=1.4e12)
    refits = {
        "bootstrap": lambda: fit.bootstrap(n=20),
        "interval": lambda: fit.predict_interval(params=7e10, tokens=1.4e12, n_boot=20),
        "profile": lambda: fit.profile("alpha"),
        "influence": lambda: fit.influence(),
        "misfit backtest": lambda: estimate_misfit(fit),
    }
    for name, refit in refits.items():
        with pytest.raises(DataError, match="refit it from the data"):
            refit()
            pytest.fail(f"{name} used data that does not match the fit")


def test_cli_refuses_intervals_of_a_tampered_fit_and_warns_on_point_predictions(ladder, tmp_path):
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    _quiet_fit("chinchilla", ladder).save(good)
    _tamper(good, bad)
    at = ("--at", "params=7e10,tokens=1.4e12")
    interval = cli("predict", str(bad), *at, "--interval", "0.9", "--n-boot", "50")
    assert interval.returncode == 2
    assert "bad.json: its stored data does not match its data hash" in interval.stderr
    point = cli("predict", str(bad), *at, "--json")
    assert point.returncode == 0 and "does not match its data hash" in point.stderr
    assert _strict(point.stdout)["value"] == pytest.approx(FitResult.load(good).predict(params=7e10, tokens=1.4e12))


# ------------------------------------------------------------------------------------------- --out
def _refused(proc: subprocess.CompletedProcess, words: str) -> None:
    """Exit 2 with one line on stderr that says what is wrong."""
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --out") and words in lines[0], proc.stderr


@pytest.mark.parametrize(
    ("out", "words"),
    [
        ("{input}", "is an input of this command"),
        ("{link}", "is an input of this command"),  # the input again, through a symlink
        ("{folder}", "is a directory"),
        ("", "names no file"),
        ("/proc/version", "the kernel's interface"),
        ("{fifo}", "is a FIFO"),
        ("{other_csv}", "pass --force to replace it"),
    ],
    ids=["input", "input-symlink", "directory", "empty", "proc", "fifo", "other-csv"],
)
def test_fit_out_refuses_what_it_must_not_replace(out, words, ladder, tmp_path):
    data = tmp_path / "runs.csv"
    data.write_bytes(ladder.read_bytes())
    (tmp_path / "link.csv").symlink_to(data)
    (tmp_path / "folder").mkdir()
    os.mkfifo(tmp_path / "fifo")
    other = tmp_path / "other.csv"
    other.write_bytes(ladder.read_bytes())
    target = out.format(
        input=data, link=tmp_path / "link.csv", folder=tmp_path / "folder", fifo=tmp_path / "fifo", other_csv=other
    )
    _refused(cli("fit", str(data), "--out", target), words)
    assert data.read_bytes() == ladder.read_bytes() and other.read_bytes() == ladder.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fifo", "folder", "link.csv", "other.csv", "runs.csv"]


def test_fit_out_replaces_a_csv_with_force_and_its_own_fit_without(ladder, tmp_path):
    target = tmp_path / "old.csv"
    target.write_text("a,b\n1,2\n")
    assert cli("fit", str(ladder), "--out", str(target), "--force").returncode == 0
    first = FitResult.load(target)
    assert cli("fit", str(ladder), "--out", str(target)).returncode == 0  # a re-run replaces its own fit
    assert FitResult.load(target) == first


@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o644), (0o077, 0o600)], ids=["022", "077"])
def test_fit_out_mode_follows_the_umask(mask, mode, ladder, tmp_path):
    target = tmp_path / "fit.json"
    assert cli("fit", str(ladder), "--out", str(target), umask=mask).returncode == 0
    assert stat.S_IMODE(target.stat().st_mode) == mode


def test_outputs_are_utf8_whatever_the_locale(ladder, tmp_path):
    data = tmp_path / "runs.csv"
    frame = pd.read_csv(ladder)
    frame["run"] = [f"lauf-ü{i}" for i in range(len(frame))]  # non-ASCII run ids reach both outputs
    frame.to_csv(data, index=False, encoding="utf-8")
    ascii_locale = {"LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"}
    report = tmp_path / "report.html"
    # --json: the human tables print symbols (±) that an ASCII stdout cannot take; this test is about the files
    proc = cli("report", str(data), "-o", str(report), "--n-boot", "0", "--holdout", "none", "--json", env=ascii_locale)
    assert proc.returncode == 0, proc.stderr
    text = report.read_bytes().decode("utf-8")  # the old writer failed here: 'ascii' codec can't encode '±'
    assert "±" in text and "lauf-\\u00fc0" in text  # symbols raw; run ids inside the figures' JSON, escaped
    fit = tmp_path / "fit.json"
    assert cli("fit", str(data), "--out", str(fit), "--json", env=ascii_locale).returncode == 0
    assert json.loads(fit.read_bytes().decode("utf-8"))["data"]["run"][0] == "lauf-ü0"
    # The human tables under the same locale: symbols the terminal cannot take are escaped, not a crash.
    proc = cli("fit", str(data), env=ascii_locale)
    assert proc.returncode == 0, proc.stderr
    assert "\\u00b1" in proc.stdout or "\\xb1" in proc.stdout


def test_report_and_sweep_refuse_their_inputs(ladder, tmp_path):
    data = tmp_path / "runs.csv"
    data.write_bytes(ladder.read_bytes())
    _refused(cli("report", str(data), "--out", str(data), "--n-boot", "0"), "is an input of this command")
    assert data.read_bytes() == ladder.read_bytes()
    pytest.importorskip("torch")
    config = tmp_path / "tiny.toml"
    config.write_bytes((Path(__file__).resolve().parents[1] / "examples" / "tiny.toml").read_bytes())
    _refused(cli("sweep", str(config), "--out", str(config)), "is an input of this command")
    assert config.read_bytes() == (Path(__file__).resolve().parents[1] / "examples" / "tiny.toml").read_bytes()


def test_check_output_path_refuses_devices_and_sockets_and_knows_its_own_files(tmp_path):
    import socket

    with pytest.raises(DataError, match="is a character device"):
        check_output_path("/dev/null", kind="fit")  # only checked, never written
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(tmp_path / "s"))
    with pytest.raises(DataError, match="is a socket"):
        check_output_path(tmp_path / "s", kind="report", force=True)  # --force never covers these
    sock.close()
    store = tmp_path / "runs.parquet"
    RunStore(store).append([{"run": "a", "step": 1, "loss": 3.0, "config_hash": "x"}])
    assert check_output_path(store, kind="run store", force=None) == store  # a store re-run appends to
    pd.DataFrame({"loss": [3.0]}).to_parquet(tmp_path / "other.parquet")
    with pytest.raises(DataError, match="move it away or choose another --out"):
        check_output_path(tmp_path / "other.parquet", kind="run store", force=None)
    (tmp_path / "empty.json").touch()
    assert check_output_path(tmp_path / "empty.json", kind="fit").name == "empty.json"  # nothing to lose
    with pytest.raises(FileExistsError, match="not a regular file"):
        write_text_atomic("/dev/null", "x")  # the writer itself never renames over a device
