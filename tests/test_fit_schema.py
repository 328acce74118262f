"""Fit files are checked against their schema before use: every damaged file is a DataError naming the fault.

The mutation test replays tests/fit_mutations.py's 1,000 seeded mutations of three real saved fits
through the library (benchmarks/fit_mutations.py runs the same ones in forked children with time and
memory limits, and a sample through the CLI; docs/security.md has the counts).
"""

from __future__ import annotations

import collections
import json
import math
import time
import warnings

import pytest

import scalelaw
from fit_mutations import base_fits, mutations
from scalelaw import DataError, FitResult, LawError
from scalelaw._schema import MAX_JSON_DEPTH, Invalid, parse_json
from scalelaw.errors import FitFileError
from scalelaw.laws import law_from_dict


@pytest.fixture(scope="module")
def fits() -> list[str]:
    return base_fits()


@pytest.fixture(scope="module")
def power_fit(fits) -> dict:
    return json.loads(fits[0])


def _load(tmp_path, data, name: str = "fit.json") -> FitResult:
    path = tmp_path / name
    path.write_text(json.dumps(data, allow_nan=True) if not isinstance(data, str) else data)
    return FitResult.load(path)


def test_every_mutated_fit_loads_or_is_a_clean_data_error(fits, tmp_path):
    outcomes: collections.Counter = collections.Counter()
    other = []
    path = tmp_path / "fit.json"
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i, data, what in mutations(fits, n=1000, seed=0):
            path.write_bytes(data)
            t = time.perf_counter()
            try:
                result = FitResult.load(path)
                result.predict(**{name: 1e10 for name in result.law.inputs})
                _saved_interval(result)
                outcomes["loaded"] += 1
            except DataError as exc:
                outcomes["refused"] += 1
                assert str(exc).startswith(str(path)), str(exc)  # names the file
                assert len(str(exc)) < 600, str(exc)[:600]  # one readable line, however big the fault
            except Exception as exc:  # anything else is the bug this test looks for
                other.append(f"#{i} {what}: {type(exc).__name__}: {str(exc)[:200]}")
            assert time.perf_counter() - t < 2, f"#{i} {what} took {time.perf_counter() - t:.1f} s"
    assert not other, f"{len(other)} of 1000 mutated fits escaped as other errors:\n" + "\n".join(other[:20])
    assert outcomes["loaded"] + outcomes["refused"] == 1000
    assert outcomes["refused"] > 500  # most mutations do break the file: the checker is not a no-op
    assert time.perf_counter() - start < 120


def _saved_interval(result: FitResult) -> None:
    """A total interval from the replicates and the law-error model a fit file keeps (none refitted)."""
    saved = result.saved_uncertainty()
    if saved is None or saved.bootstrap is None:
        return
    boot = saved.bootstrap
    point = {name: 1e10 for name in result.law.inputs}
    result.predict_interval(n_boot=boot.n_requested, by=boot.by, seed=boot.seed, **point)


def test_real_fits_round_trip_through_the_checker(fits):
    for text in fits:
        result = FitResult.from_json(text)
        assert FitResult.from_json(result.to_json()) == result
        assert result.to_json() == text


@pytest.mark.parametrize(
    "edit,message",
    [
        (lambda d: d["params"].update(alpha="x"), 'fit.json: params.alpha must be a finite number, got "x"'),
        (lambda d: d["params"].update(alpha=math.nan), "fit.json: params.alpha must be a finite number, got NaN"),
        (lambda d: d["params"].update(alpha=-3.0), "params.alpha = -3.0 lies outside its bounds [0, 5]"),
        (lambda d: d.pop("params"), "fit.json: params is missing"),
        (lambda d: d.update(schema_version="abc"), 'schema_version must be one of 1, got "abc"'),
        (lambda d: d.update(schema_version=7), "schema_version is 7, newer than this scalelaw understands (1)"),
        (lambda d: d.update(schema="other"), 'fit.json is not a scalelaw fit (it lacks "schema": "scalelaw.fit")'),
        (lambda d: d["law_definition"]["parameters"][1].update(lower="x"), "law_definition.parameters[1].lower"),
        (lambda d: d["law_definition"].update(name="nope"), "law_definition.name is not a law of this scalelaw"),
        (lambda d: d["correlations"].pop(), "correlations must be a 3 x 3 matrix"),
        (lambda d: d["data"]["columns"]["loss"].pop(), "data.columns.loss has 34 values for 35 rows"),
        (lambda d: d["data"].update(notes=["A" * 20_000]), "data.notes[0] is 20,000 characters long"),
        (lambda d: d.update(n_points=True), "n_points must be a whole number from 0 to 1e+12, got true"),
        (
            lambda d: d.update(n_starts=10**400),
            "n_starts must be a whole number from 0 to 1e+12, got an integer of 401 digits",
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_faults_are_named_by_their_json_path(power_fit, tmp_path, edit, message):
    data = json.loads(json.dumps(power_fit))
    edit(data)
    with pytest.raises(FitFileError) as info:
        _load(tmp_path, data)
    assert message in str(info.value)
    assert str(info.value).endswith("write the fit again with scalelaw fit --out")


def test_unknown_keys_are_ignored_and_optional_ones_default(power_fit, tmp_path):
    data = json.loads(json.dumps(power_fit))
    data["comment"] = {"written by": "hand"}
    for key in ("residual_scale", "fit_seconds", "package_version"):
        del data[key]
    result = _load(tmp_path, data)
    assert result.params == power_fit["params"]
    assert math.isnan(result.residual_scale) and result.fit_seconds == 0.0


def test_reading_is_bounded(tmp_path, monkeypatch):
    with pytest.raises(FitFileError, match="nested too deeply"):
        _load(tmp_path, "[" * 100_000 + "]" * 100_000)
    shallow_enough = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    assert parse_json(shallow_enough) is not None
    with pytest.raises(Invalid, match="nested too deeply"):
        parse_json("[" + shallow_enough + "]")
    with pytest.raises(FitFileError, match=r"not valid JSON: .* at line 1 column"):
        _load(tmp_path, '{"schema": ')
    (tmp_path / "binary.json").write_bytes(b'{"a": "\xff\xfe"}')
    with pytest.raises(FitFileError, match="not UTF-8"):
        FitResult.load(tmp_path / "binary.json")
    monkeypatch.setattr("scalelaw._schema.MAX_FILE_BYTES", 100)
    with pytest.raises(FitFileError, match="larger than"):
        _load(tmp_path, {"schema": "scalelaw.fit", "padding": "x" * 200})


def test_a_fit_of_a_column_that_is_no_identifier_loads(tmp_path):
    data = {"train flops": [1e18, 1e19, 1e20, 1e21], "loss": [3.0, 2.8, 2.7, 2.65]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = scalelaw.fit("power", data, x=["train flops"])
    result.save(tmp_path / "fit.json")
    assert FitResult.load(tmp_path / "fit.json") == result


def test_non_finite_parameters_cannot_predict(fits):
    result = FitResult.from_json(fits[0])
    broken = FitResult(**{**result.__dict__, "values": (math.nan, *result.values[1:])})
    with pytest.raises(DataError, match="a fit with non-finite parameters cannot predict: E is not finite"):
        broken.predict(params=1e10)


@pytest.mark.parametrize(
    "definition,message",
    [
        ([1, 2], "must be an object describing a law, got a list"),
        ({"name": "power"}, "type is missing"),
        ({"type": "catalog", "name": "power", "options": {"x": [[1]]}}, "options.x must be null, true or false"),
        ({"type": "catalog", "name": "bnsl", "options": {"breaks": 10**9}}, "breaks must be 0, 1 or 2"),
        ({"type": "expression", "expression": "E + A*params**-alpha + 2**2**30"}, "2**2**30"),
        ({"type": "fixed", "values": {"E": 1.0}}, "base is missing"),
    ],
)
def test_law_definitions_are_checked_before_they_are_rebuilt(definition, message):
    with pytest.raises(LawError) as info:
        law_from_dict(definition)
    assert message in str(info.value)


def test_fixed_laws_nest_a_bounded_number_of_times():
    definition = scalelaw.get_law("power").to_dict()
    for _ in range(40):
        definition = {"type": "fixed", "base": definition, "values": {}}
    with pytest.raises(LawError, match="nests more than 16 fixed laws"):
        law_from_dict(definition)
