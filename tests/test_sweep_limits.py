"""Sweep configs are bounded before anything is planned or allocated (issue #14); nothing is trained here."""

from __future__ import annotations

import time

import pytest

from scalelaw.errors import DataError
from scalelaw.sweep import config as sweep_config
from scalelaw.sweep.config import load_config, parse_config

SIZE = {"name": "a", "n_layers": 1, "d_model": 16, "n_heads": 2}


def tiny(**sections) -> dict:
    data = {"model": {"sizes": [dict(SIZE)]}, "design": {"tokens": [4096, 8192]}}
    for name, table in sections.items():
        data[name] = {**data.get(name, {}), **table}
    return data


CASES = [
    (tiny(design={"tokens": [1e30]}), "[design] tokens has 1e+30, over the limit of 1e+12 per run"),
    (tiny(design={"kind": "isoflop", "flops": [1e30], "tokens": None}), "[design] flops has 1e+30, over the limit"),
    (tiny(design={"kind": "isoflop", "flops": [1e17], "tokens": None}), "over the limits of 1e+12 tokens"),
    (tiny(design={"tokens": [1e11]}, training={"eval_interval": 1}), "raise [training] eval_interval to at least"),
    (tiny(model={"sizes": [dict(SIZE, n_layers=1e30)]}), "n_layers = 1e+30 is over the limit of 256"),
    (tiny(model={"sizes": [dict(SIZE, n_layers=10**400)]}), "n_layers = an integer of about 400 digits"),
    (tiny(model={"sizes": [dict(SIZE, d_model=10**6)]}), "d_model = 1000000 is over the limit of 16,384"),
    (tiny(model={"sizes": [dict(SIZE, n_heads=4096)]}), "n_heads = 4096 is over the limit of 1,024"),
    (tiny(model={"sizes": [dict(SIZE, n_layers=200, d_model=8192)]}), "parameters, over the limit of 1,000,000,000"),
    (tiny(model={"sizes": [dict(SIZE, name=f"s{i}") for i in range(101)]}), "lists 101 models, over the limit"),
    (tiny(training={"threads": 10**6}), "[training] threads = 1000000 is over the limit of 256"),
    (tiny(training={"batch_size": 10**5}), "[training] batch_size = 100000 is over the limit of 4,096"),
    (tiny(data={"context_length": 10**5}), "[data] context_length = 100000 is over the limit of 8,192"),
    (tiny(training={"batch_size": 4096}, data={"context_length": 4096}), "tokens per step, over the limit"),
    (tiny(training={"eval_tokens": 10**12}), "eval_tokens = 1000000000000 is over the limit of 100,000,000"),
    (tiny(data={"max_bytes": 10**15}), "max_bytes = 1000000000000000 is over the limit"),
    (tiny(training={"seeds": [2**40]}), "seeds must be a list of at most 100 distinct whole numbers from 0 to"),
    (tiny(training={"seeds": list(range(200))}), "seeds must be a list of at most 100"),
    (
        tiny(design={"tokens": [4096 * (i + 1) for i in range(50)]}, training={"seeds": list(range(30))}),
        "= 1,500 runs, over the limit of 1,000",
    ),
]


@pytest.mark.parametrize("data,message", CASES, ids=[c[1][:40] for c in CASES])
def test_out_of_bounds_configs_are_refused_before_planning(data, message):
    if data["design"].get("tokens") is None:
        data["design"].pop("tokens", None)
    start = time.perf_counter()
    with pytest.raises(DataError) as info:
        parse_config(data, source="inline")
    assert time.perf_counter() - start < 1
    assert message in str(info.value)
    assert len(str(info.value)) < 400


def test_a_tiny_config_is_still_fine():
    config = parse_config(tiny(), source="inline")
    assert [r.steps for r in config.runs()] == [4, 8]


def test_the_bounds_leave_room_for_real_cpu_ladders():
    # examples/tiny.toml trains 5 sizes up to 334k parameters on up to 8e5 tokens.
    assert sweep_config.MAX_TOKENS >= 1e6 * 8e5 / 1e3 and sweep_config.MAX_MODEL_PARAMS >= 1000 * 334_240


@pytest.mark.parametrize(
    "text,message",
    [
        ("a = " + "[" * 100_000 + "]" * 100_000, "nests arrays or tables too deeply"),
        ("[training]\nthreads = " + "9" * 5_000, "has a value TOML cannot hold"),
        (
            '[design]\ntokens = [1e30]\n[model]\nsizes = [{ name = "a", n_layers = 1, d_model = 16, n_heads = 2 }]',
            "1e+30",
        ),
    ],
    ids=["deep", "huge int", "1e30"],
)
def test_load_config_refuses_hostile_files(tmp_path, text, message):
    path = tmp_path / "sweep.toml"
    path.write_text(text)
    with pytest.raises(DataError, match=message.replace("+", r"\+")):
        load_config(path)


def test_load_config_reads_a_bounded_amount(tmp_path, monkeypatch):
    monkeypatch.setattr(sweep_config, "MAX_CONFIG_BYTES", 64)
    path = tmp_path / "sweep.toml"
    path.write_text("# " + "x" * 100 + "\n")
    with pytest.raises(DataError, match="larger than"):
        load_config(path)
