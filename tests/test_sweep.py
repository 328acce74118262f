"""scalelaw.sweep: config validation, corpus, run store, and micro sweeps on every backend.

Config, corpus and store tests need no torch. Training tests skip without torch (the ``[sweep]`` extra)
and the Ray test also without Ray; CI installs the extra, so they run there. The micro sweep trains two
models of a few thousand parameters for 48 steps each: seconds, not minutes.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import scalelaw
from scalelaw.data.accounting import count_params, flops_per_token
from scalelaw.errors import DataError, ScaleLawError
from scalelaw.sweep import SweepExtraMissing, load_config, require_ray, require_torch
from scalelaw.sweep.config import Schedule, gpt_config, parse_config
from scalelaw.sweep.corpus import ByteTokenizer, is_validation, load_corpus
from scalelaw.sweep.store import COLUMNS, RunStore, final_path

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "examples" / "tiny.toml"

MICRO = """
[sweep]
name = "micro"

[data]
corpus = "python-stdlib"
context_length = 32
val_fraction = 0.1
max_bytes = 400_000

[model]
sizes = [
  { name = "a", n_layers = 1, d_model = 16, n_heads = 2 },
  { name = "b", n_layers = 1, d_model = 24, n_heads = 2 },
]

[design]
tokens = [12288]

[schedule]
kind = "cosine"
lr = 3e-3
warmup = 4

[training]
batch_size = 8
eval_interval = 12
eval_tokens = 1024
"""

SIZE = '{ name = "a", n_layers = 1, d_model = 16, n_heads = 2 }'


def _micro_path(folder: Path, text: str = MICRO) -> Path:
    path = folder / "micro.toml"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def torch_available():
    return pytest.importorskip("torch", reason="training needs the sweep extra: pip install 'scalelaw[sweep]'")


@pytest.fixture(scope="module")
def sequential(tmp_path_factory, torch_available):
    """The micro sweep trained once, sequentially: (config path, result)."""
    from scalelaw.sweep import run_sweep

    folder = tmp_path_factory.mktemp("sequential")
    config = _micro_path(folder)
    return config, run_sweep(config, workers=1)


# ------------------------------------------------------------------------------------------ config
def _config(text: str):
    return parse_config(__import__("tomllib").loads(text), source="t.toml")


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        ("[modell]\n", ["unknown section", "[modell]", "the sections are"]),
        (f"[model]\nsizes = [{SIZE}]\n[design]\ntokens = [1e5]\n[training]\nbatch = 4\n", ["'batch'", "batch_size"]),
        (f"[model]\nsizes = [{SIZE}]\n[design]\ntokens = [1e5]\n[training]\nbatch_size = 0\n", ["batch_size", "> 0"]),
        ("[model]\nsizes = []\n", ["[model] sizes", "e.g. sizes ="]),
        (
            '[model]\nsizes = [{ name = "a", n_layers = 1, d_model = 30, n_heads = 4 }]\n[design]\ntokens = [1e5]\n',
            ["sizes #1", "n_heads", "divides d_model"],
        ),
        (
            '[model]\nsizes = [{ name = "a", n_layers = 1, d_model = 16 }]\n[design]\ntokens = [1e5]\n',
            ["sizes #1 lacks n_heads"],
        ),
        (f"[model]\nsizes = [{SIZE}, {SIZE}]\n[design]\ntokens = [1e5]\n", ["'a' appears twice"]),
        (
            '[model]\nsizes = [{ name = "a b", n_layers = 1, d_model = 16, n_heads = 2 }]\n[design]\ntokens = [1e5]\n',
            ["name 'a b'", "letters, digits"],
        ),
        (f"[model]\nsizes = [{SIZE}]\n[design]\ntokens = [-5]\n", ["[design] tokens", "number > 0"]),
        (f"[model]\nsizes = [{SIZE}]\n", ["[design] tokens is missing", "tokens = ["]),
        (
            f'[model]\nsizes = [{SIZE}]\n[design]\nkind = "isoflop"\ntokens = [1e5]\n',
            ["[design] tokens does not apply", "flops = [...]"],
        ),
        (f'[model]\nsizes = [{SIZE}]\n[design]\nkind = "chinchilla"\n', ["[design] kind", "'grid', 'isoflop'"]),
        (
            f'[model]\nsizes = [{SIZE}]\n[design]\ntokens = [1e5]\n[schedule]\nkind = "linear"\n',
            ["[schedule] kind", "'cosine'"],
        ),
        (f"[model]\nsizes = [{SIZE}]\n[design]\ntokens = [1e5]\n[schedule]\nlr = 0\n", ["[schedule] lr", "> 0"]),
        (
            f"[model]\nsizes = [{SIZE}]\n[design]\ntokens = [1e5]\n[schedule]\nwarmup = 2.5\n",
            ["warmup = 2.5", "warmup = 20"],
        ),
        (f"[model]\nsizes = [{SIZE}]\n[design]\ntokens = [1e5]\n[data]\nval_fraction = 1.5\n", ["val_fraction", "< 1"]),
        (f'[model]\nsizes = [{SIZE}]\n[design]\ntokens = [1e5]\n[data]\ncorpus = "wiki"\n', ["'python-stdlib'"]),
        (f'[sweep]\ntarget = "zz"\n[model]\nsizes = [{SIZE}]\n[design]\ntokens = [1e5]\n', ["target = 'zz'", "'a'"]),
        (f"[model]\nsizes = [{SIZE}]\n[design]\ntokens = [1e5]\n[training]\nseeds = [0, 0]\n", ["seeds", "distinct"]),
        (f"[model]\nsizes = [{SIZE}]\n[design]\ntokens = [10]\n", ["less than one step", "raise the budget"]),
        (
            f"[model]\nsizes = [{SIZE}]\n[design]\ntokens = [1e5]\n[training]\neval_tokens = 8\n",
            ["eval_tokens = 8", "context_length"],
        ),
        (f'[model]\nsizes = [{SIZE}]\n[design]\ntokens = [1e5]\n[training]\nflops = "7N"\n', ["'6N'", "'exact'"]),
    ],
)
def test_config_errors_name_the_key_and_the_fix(text, needles):
    with pytest.raises(DataError) as info:
        _config(text)
    message = str(info.value)
    assert message.startswith("t.toml: ")
    for needle in needles:
        assert needle in message


def test_config_file_errors(tmp_path):
    with pytest.raises(DataError, match="no such sweep config"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[model]\nsizes = 1 2\n")
    with pytest.raises(DataError, match=r"bad.toml is not valid TOML: .*line 2"):
        load_config(bad)


def test_tiny_example_is_a_ladder_with_the_largest_held_out():
    config = load_config(TINY)
    runs = config.runs()
    assert len(runs) == len(config.sizes) * len(config.budgets) * len(config.seeds) == 20
    assert config.target == "s5" and config.target_size == max(config.sizes, key=config.size_params)
    params = [config.size_params(s) for s in config.sizes]
    assert params == sorted(params) and params[0] < 10_000 < 300_000 < params[-1] < 400_000
    assert config.default_store == TINY.parent / "tiny.runs.jsonl"
    for spec in runs:
        shape = gpt_config(spec.size.n_layers, spec.size.d_model, spec.size.n_heads, 256, config.context_length)
        assert spec.params == count_params(shape).total
        assert spec.flops_per_token == flops_per_token(shape, "6N").total
        assert spec.eval_steps[-1] == spec.steps and abs(spec.tokens / spec.budget - 1) < 0.01
    assert len({r.run for r in runs}) == len(runs)


def test_isoflop_design_spends_each_budget_on_every_size():
    config = _config(
        '[model]\nsizes = [{ name = "a", n_layers = 1, d_model = 16, n_heads = 2 },'
        ' { name = "b", n_layers = 2, d_model = 32, n_heads = 4 }]\n'
        '[design]\nkind = "isoflop"\nflops = [1e11, 1e12]\n'
    )
    runs = config.runs()
    assert [r.run for r in runs] == ["a-C100G-seed0", "a-C1T-seed0", "b-C100G-seed0", "b-C1T-seed0"]
    for spec in runs:
        assert spec.budget_kind == "flops"
        assert spec.flops == pytest.approx(spec.budget, rel=0.01)  # rounded to whole steps


def test_schedules():
    cosine = Schedule("cosine", lr=1.0, warmup=0.1, min_lr_ratio=0.1)
    lrs = [cosine.lr_at(s, 100) for s in range(1, 101)]
    assert lrs[9] == 1.0 and lrs[0] == pytest.approx(0.1)  # 10 warmup steps
    assert lrs[-1] == pytest.approx(0.1) and all(a >= b for a, b in itertools.pairwise(lrs[9:]))
    assert {Schedule("constant", lr=2.0, warmup=0).lr_at(s, 50) for s in range(1, 51)} == {2.0}
    wsd = Schedule("wsd", lr=1.0, warmup=0, min_lr_ratio=0.0, decay_fraction=0.2)
    lrs = [wsd.lr_at(s, 100) for s in range(1, 101)]
    assert set(lrs[:80]) == {1.0} and lrs[89] == pytest.approx(0.5) and lrs[-1] == 0.0


# ------------------------------------------------------------------------------------------ corpus
def test_corpus_is_deterministic_and_split_by_document():
    first = load_corpus("python-stdlib", 0.1, 400_000)
    from scalelaw.sweep import corpus as corpus_module

    corpus_module._load.cache_clear()
    again = load_corpus("python-stdlib", 0.1, 400_000)
    assert again is not first
    assert again.fingerprint == first.fingerprint and again.documents == first.documents
    np.testing.assert_array_equal(again.train, first.train)
    np.testing.assert_array_equal(again.val, first.val)
    assert first.val_documents and set(first.val_documents) < set(first.documents)
    assert all(is_validation(d, 0.1) == (d in first.val_documents) for d in first.documents)
    assert 0.03 < first.val.size / (first.train.size + first.val.size) < 0.3
    assert list(first.documents) == sorted(first.documents)
    assert first.train.size + first.val.size <= 400_000 + 2 * len(first.documents)
    assert not first.train.flags.writeable


def test_corpus_size_and_tokenizer():
    full = load_corpus("python-stdlib")
    assert len(full.documents) > 400 and full.train.size > 5_000_000  # documented: ~600 files, ~10 MB
    assert not any("/test/" in f"/{d}" or d.startswith("encodings/") for d in full.documents)
    docs = load_corpus("python-docs")
    assert docs.train.size > 100_000
    tok = ByteTokenizer()
    text = "def f(x):\n    return x ** 2  # ünïcode"
    assert tok.decode(tok.encode(text)) == text and tok.encode(text).max() < tok.vocab_size
    with pytest.raises(DataError, match="unknown corpus"):
        load_corpus("wikipedia")
    with pytest.raises(DataError, match="val_fraction"):
        load_corpus("python-stdlib", 1.0)


# ------------------------------------------------------------------------------------------ store
def _row(run: str, step: int, loss: float = 3.0) -> dict:
    return {
        "run": run,
        "params": 1000,
        "tokens": 100 * step,
        "flops": 6e5 * step,
        "step": step,
        "lr": 1e-3,
        "batch_size": 100,
        "loss": loss,
        "seed": 0,
        "train_loss": loss,
        "size": "a",
        "config_hash": "h",
    }


def _file_rows(path):
    """The rows of a store file in file order, read without RunStore."""
    return scalelaw.load_runs(path).table.to_dict(orient="records")


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_store_appends_atomically_without_duplicates(tmp_path, suffix):
    path = tmp_path / f"x.runs{suffix}"
    store = RunStore(path)
    with store.locked():  # as the sweep's driver: rows go to the file as they arrive, sorted when it lets go
        store.set_order(["b", "a"])
        assert store.append([_row("a", 1), _row("a", 2)]) == 2
        assert store.append([_row("a", 2, loss=9.0), _row("b", 1)]) == 1  # (a, 2) already there: kept as it was
        assert [(r["run"], r["step"]) for r in store.rows()] == [("b", 1), ("a", 1), ("a", 2)]  # sorted on read
    reread = RunStore(path)
    assert [(r["run"], r["step"]) for r in reread.rows()] == [("b", 1), ("a", 1), ("a", 2)]
    assert [(r["run"], r["step"]) for r in _file_rows(path)] == [("b", 1), ("a", 1), ("a", 2)]  # the file too
    assert reread.rows("a")[-1]["loss"] == 3.0 and reread.last_step("a") == 2 and reread.last_step("zz") == 0
    assert list(reread.frame().columns) == list(COLUMNS)
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name, path.name + ".lock"]  # no temporary files
    assert reread.write_final([("a", 2), ("b", 5)]) == final_path(path)
    assert [r["run"] for r in RunStore(final_path(path)).rows()] == ["a"]  # b is not complete
    runs = scalelaw.load_runs(path)
    assert len(runs) == 3 and runs.n_runs == 2


def test_store_rejects_foreign_files_and_a_second_writer(tmp_path):
    with pytest.raises(DataError, match="end the name with"):
        RunStore(tmp_path / "runs.csv")
    foreign = tmp_path / "f.jsonl"
    foreign.write_text('{"model": "x"}\n')
    with pytest.raises(DataError, match="not a sweep run store"):
        RunStore(foreign)
    store = RunStore(tmp_path / "s.jsonl")
    with store.locked(), pytest.raises(DataError, match="another sweep is writing"):
        with RunStore(tmp_path / "s.jsonl").locked():
            pass


def test_missing_extra_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    monkeypatch.setitem(sys.modules, "ray", None)
    for require in (require_torch, require_ray):
        with pytest.raises(SweepExtraMissing, match=r"pip install 'scalelaw\[sweep\]'") as info:
            require()
        assert isinstance(info.value, ScaleLawError) and isinstance(info.value, ImportError)
    from scalelaw.sweep import run_sweep

    with pytest.raises(SweepExtraMissing, match="needs torch"):
        run_sweep(TINY)


# ------------------------------------------------------------------------------------------ training
def test_model_matches_accounting(torch_available):
    from scalelaw.sweep.model import build_model

    for shape in [(1, 16, 2), (2, 24, 2), (3, 48, 4)]:
        config = gpt_config(*shape, 256, 32)
        model = build_model(config, seed=1)
        assert sum(p.numel() for p in model.parameters()) == count_params(config).total
        twin = build_model(config, seed=1)
        assert all(torch_available.equal(a, b) for a, b in zip(model.parameters(), twin.parameters(), strict=True))


def test_micro_sweep_writes_canonical_rows_that_fit(sequential, quiet):
    config_path, result = sequential
    config = load_config(config_path)
    assert result.store == config_path.parent / "micro.runs.jsonl" and result.backend == "sequential"
    assert [r.status for r in result.runs] == ["trained", "trained"]
    runs = scalelaw.load_runs(result.store)
    table = runs.table
    assert list(table.columns) == list(COLUMNS)
    assert len(table) == 8 and runs.n_runs == 2  # 48 steps, evaluated every 12
    for spec in config.runs():
        rows = table[table["run"] == spec.run]
        assert rows["step"].tolist() == [12, 24, 36, 48]
        assert (rows["params"] == count_params(spec.model_config()).total).all()
        assert np.allclose(rows["flops"], 6 * rows["params"] * rows["tokens"])
        assert (rows["tokens"] == rows["step"] * 8 * 32).all() and (rows["batch_size"] == 256).all()
        assert rows["loss"].is_monotonic_decreasing and rows["loss"].iloc[-1] < np.log(256)
    final = scalelaw.load_runs(result.final)
    assert len(final) == 2 and final.table["step"].tolist() == [48, 48]
    fit = scalelaw.fit("power", runs, x=["flops"])
    assert np.isfinite(fit.objective) and fit.params["alpha"] > 0


def test_resume_after_interruption_duplicates_nothing(sequential, tmp_path):
    from scalelaw.sweep import run_sweep
    from scalelaw.sweep.events import Checkpoint, RunStarted

    _, reference = sequential
    config = _micro_path(tmp_path)
    checkpoints = []

    def interrupt(event):
        if isinstance(event, Checkpoint):
            checkpoints.append(event)
            if len(checkpoints) == 6:  # first run done, second run stopped after 2 of its 4 checkpoints
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_sweep(config, workers=1, on_event=interrupt)
    store = config.parent / "micro.runs.jsonl"
    assert len(RunStore(store)) == 6
    assert list((config.parent / "micro.runs.jsonl.state").glob("*.pt"))  # the interrupted run's state

    starts = []
    result = run_sweep(config, workers=1, on_event=lambda e: starts.append(e) if isinstance(e, RunStarted) else None)
    # Largest runs go first: b finished; a (first in config order) stopped while step 24 was being stored,
    # before its state at 24 was saved, so it continues from its state at step 12 and skips row 24.
    assert [r.status for r in result.runs] == ["resumed", "skipped"]
    assert [(e.run, e.start_step) for e in starts] == [(result.runs[0].run, 12)]  # from its state at step 12
    assert store.read_bytes() == reference.store.read_bytes()  # same rows, same losses, nothing twice
    assert result.final.read_bytes() == reference.final.read_bytes()
    assert not (config.parent / "micro.runs.jsonl.state").exists()

    again = run_sweep(config, workers=1)  # complete: nothing to train
    assert [r.status for r in again.runs] == ["skipped", "skipped"]
    assert store.read_bytes() == reference.store.read_bytes()


def test_changed_config_is_not_mixed_into_a_store(sequential, tmp_path):
    from scalelaw.sweep import run_sweep

    _, reference = sequential
    changed = _micro_path(tmp_path, MICRO.replace("lr = 3e-3", "lr = 1e-3"))
    with pytest.raises(DataError, match="different settings"):
        run_sweep(changed, reference.store)


def test_process_pool_matches_sequential(sequential, tmp_path):
    from scalelaw.sweep import run_sweep

    _, reference = sequential
    result = run_sweep(_micro_path(tmp_path), workers=2)
    assert result.backend == "process pool (2 workers)"
    assert result.store.read_bytes() == reference.store.read_bytes()
    assert [r.loss for r in result.runs] == [r.loss for r in reference.runs]


def test_ray_backend_matches_sequential(sequential, tmp_path):
    ray = pytest.importorskip("ray", reason="the Ray backend needs Ray: pip install 'scalelaw[sweep]'")
    from scalelaw.sweep import run_sweep

    _, reference = sequential
    ray.init(num_cpus=2, include_dashboard=False, configure_logging=False, log_to_driver=False)
    try:
        result = run_sweep(_micro_path(tmp_path), ray="auto")  # Ray is initialized here: used as it is
    finally:
        ray.shutdown()
    assert result.backend == "ray (auto)"
    assert result.store.read_bytes() == reference.store.read_bytes()
    assert json.loads(result.store.read_text().splitlines()[0])["run"] == "a-D12.288k-seed0"


# ------------------------------------------------------------------------------------------ command line
def _sweep_command_registered() -> bool:
    from scalelaw.cli import app

    return any((c.name or getattr(c.callback, "__name__", "")) == "sweep" for c in app.registered_commands)


needs_cli = pytest.mark.skipif(not _sweep_command_registered(), reason="`scalelaw sweep` is not in cli.py yet")


def _cli(*args: str, env: dict | None = None):
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "scalelaw", *args], capture_output=True, text=True, timeout=300, env=full_env
    )


@needs_cli
def test_cli_sweep_json_resumes_from_the_store(sequential, tmp_path):
    _, reference = sequential
    config = _micro_path(tmp_path)
    (tmp_path / "micro.runs.jsonl").write_bytes(reference.store.read_bytes())  # complete: nothing to train
    proc = _cli("sweep", str(config), "--workers", "1", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["final"] == str(tmp_path / "micro.final.jsonl") and data["backend"] == "nothing to train"
    assert [r["status"] for r in data["runs"]] == ["skipped", "skipped"]
    assert [r["loss"] for r in data["runs"]] == [r.loss for r in reference.runs]
    fit = _cli("fit", data["store"], "--law", "power", "--x", "flops", "--json")
    assert fit.returncode == 0, fit.stderr


@needs_cli
def test_cli_sweep_bad_input_exits_2(tmp_path):
    bad = _micro_path(tmp_path, MICRO.replace("batch_size = 8", "batch_size = -8"))
    proc = _cli("sweep", str(bad), "--json")
    assert proc.returncode == 2 and proc.stdout == ""
    assert "[training] batch_size" in proc.stderr
    fake = tmp_path / "site" / "torch"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('no torch here')\n")
    path = os.pathsep.join(p for p in (str(fake.parent), os.environ.get("PYTHONPATH")) if p)
    proc = _cli("sweep", str(_micro_path(tmp_path)), env={"PYTHONPATH": path})
    assert proc.returncode == 2 and "pip install 'scalelaw[sweep]'" in proc.stderr
