"""Seeded mutations of saved fit files (used by tests/test_fit_schema.py and benchmarks/fit_mutations.py).

A mutation takes the JSON text of a real saved fit and breaks it the way a hand edit, a bad merge, a
truncated download or a hostile sender would: keys deleted, renamed or added, values of the wrong type,
NaN and infinities, wrong list lengths, huge strings and numbers, deep nesting, truncation, flipped
bytes and hostile law expressions. Every mutation is drawn from ``random.Random(seed)``, so a failing
case is reproduced from its index alone.

Only the public API is used (``scalelaw.fit``, ``get_law``, ``FitResult.to_json``), so the same
mutations can be replayed on an older commit to measure how the loader behaved before.
"""

from __future__ import annotations

import json
import math
import random
import warnings
from collections.abc import Iterator
from typing import Any

# A marker replaced in the text after json.dumps (which cannot write deep nesting itself).
_DEEP = "__scalelaw_deep_nesting__"

_ODD_VALUES: tuple[Any, ...] = (
    None,
    True,
    False,
    0,
    -1,
    1.5,
    10**30,
    -(10**30),
    1e308,
    "x",
    "",
    "inf",
    "nan",
    "[/]",
    [],
    {},
    [1, 2, 3],
    {"a": 1},
    [[]],
    [None],
)
_NON_FINITE = (math.nan, math.inf, -math.inf)
_HOSTILE_EXPRESSIONS = (
    "E + A*params**-alpha + 2**2**30",
    "E + A*params**-alpha + 10**10**10",
    "E + A*params**-alpha + 1e999999",
    "E + A*params**-alpha + " + "9" * 10_000,
    " + ".join(f"A{i}*params" for i in range(2_000)),
    "E + A*params**-alpha" + " + 0" * 3_000,
    "(" * 300 + "params" + ")" * 300,
    "__import__('os').system('true')",
    "E + A*params**-alpha + [/]",
    "",
)


def base_fits() -> list[str]:
    """JSON texts of four real fits: a catalog law, a formula law, a law with a fixed parameter, and a catalog
    law that keeps its uncertainty (20 bootstrap replicates and the law-error model, ``fit --bootstrap``)."""
    import scalelaw

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = scalelaw.datasets.load("gadre2024_rpj")
        catalog = scalelaw.fit("power", data, x=["params"], seed=0)
        formula = scalelaw.fit(scalelaw.Law.from_expression("E + A*params**-alpha + B*tokens**-beta"), data)
        fixed = scalelaw.fit(scalelaw.get_law("chinchilla").fix(E=1.5), data)
        kept = scalelaw.fit("chinchilla", data).with_uncertainty(n_boot=20)
    return [r.to_json() for r in (catalog, formula, fixed, kept)]


def _paths(node: Any, prefix: tuple = ()) -> Iterator[tuple]:
    """Every path (tuple of keys and indices) into ``node``, the root excluded."""
    if isinstance(node, dict):
        items = node.items()
    elif isinstance(node, list):
        items = enumerate(node)
    else:
        return
    for key, value in items:
        path = (*prefix, key)
        yield path
        yield from _paths(value, path)


def _get(node: Any, path: tuple) -> Any:
    for key in path:
        node = node[key]
    return node


def _set(node: Any, path: tuple, value: Any) -> None:
    _get(node, path[:-1])[path[-1]] = value


def _dumps(tree: Any) -> str:
    return json.dumps(tree, indent=1, allow_nan=True)


def mutate(text: str, rng: random.Random) -> tuple[bytes, str]:
    """One random mutation of the fit JSON ``text``: returns (the mutated file's bytes, short description)."""
    data, what = _mutate(text, rng)
    return (data if isinstance(data, bytes) else data.encode()), what


def _mutate(text: str, rng: random.Random) -> tuple[str | bytes, str]:
    tree = json.loads(text)
    paths = list(_paths(tree))
    path = rng.choice(paths)
    parent = _get(tree, path[:-1])
    where = ".".join(map(str, path))
    kind = rng.choice(
        (
            "delete",
            "retype",
            "retype",
            "non_finite",
            "truncate",
            "huge_string",
            "deep",
            "length",
            "length",
            "flip_bytes",
            "huge_number",
            "schema_version",
            "add_key",
            "rename_key",
            "expression",
            "binary",
        )
    )
    if kind == "delete":
        del parent[path[-1]]
    elif kind == "retype":
        _set(tree, path, rng.choice(_ODD_VALUES))
    elif kind == "non_finite":
        numbers = [p for p in paths if isinstance(_get(tree, p), int | float) and not isinstance(_get(tree, p), bool)]
        path = rng.choice(numbers)
        where = ".".join(map(str, path))
        _set(tree, path, rng.choice(_NON_FINITE))
    elif kind == "truncate":
        return text[: rng.randrange(len(text))], f"truncate at a random offset ({len(text)} chars)"
    elif kind == "huge_string":
        _set(tree, path, "A" * rng.choice((10_000, 1_000_000)))
    elif kind == "deep":
        _set(tree, path, _DEEP)
        depth = rng.choice((100, 5_000, 100_000))
        return _dumps(tree).replace(f'"{_DEEP}"', "[" * depth + "]" * depth), f"{where}: nested {depth} deep"
    elif kind == "length":
        lists = [p for p in paths if isinstance(_get(tree, p), list)]
        path = rng.choice(lists)
        where = ".".join(map(str, path))
        items = _get(tree, path)
        if items and rng.random() < 0.5:
            items.pop(rng.randrange(len(items)))
        else:
            items.append(rng.choice((items[0] if items else 1.0, 1.0, "r0", None)))
    elif kind == "flip_bytes":
        chars = list(text)
        for _ in range(rng.randint(1, 5)):
            chars[rng.randrange(len(chars))] = chr(rng.randrange(32, 127))
        return "".join(chars), "flip 1-5 characters"
    elif kind == "huge_number":
        numbers = [p for p in paths if isinstance(_get(tree, p), int | float) and not isinstance(_get(tree, p), bool)]
        path = rng.choice(numbers)
        where = ".".join(map(str, path))
        _set(tree, path, rng.choice((10**400, -(10**30), 1e308, 2**63, -1)))
    elif kind == "schema_version":
        where = "schema_version"
        tree["schema_version"] = rng.choice(("abc", 2, 0, -1, 1.5, None, [1], 10**30))
    elif kind == "add_key":
        container = _get(tree, path) if isinstance(_get(tree, path), dict) else tree
        container[rng.choice(("extra", "__proto__", "[/]"))] = rng.choice(_ODD_VALUES)
    elif kind == "rename_key":
        dicts = [p for p in paths if isinstance(_get(tree, p), dict) and _get(tree, p)]
        path = rng.choice(dicts)
        where = ".".join(map(str, path))
        node = _get(tree, path)
        key = rng.choice(list(node))
        node[key + "_"] = node.pop(key)
    elif kind == "expression":
        law = tree["law_definition"]
        while law.get("type") == "fixed":
            law = law["base"]
        law["type"] = "expression"
        law["expression"] = rng.choice(_HOSTILE_EXPRESSIONS)
        where = "law_definition.expression"
    elif kind == "binary":
        raw = text.encode()
        at = rng.randrange(len(raw))
        return raw[:at] + bytes([0xFF, 0xFE, 0x00]) + raw[at:], "binary bytes inserted"
    return _dumps(tree), f"{where}: {kind}"


def mutations(texts: list[str], n: int = 1000, seed: int = 0) -> Iterator[tuple[int, bytes, str]]:
    """``n`` seeded mutations spread over ``texts``: yields (index, mutated file bytes, description)."""
    rng = random.Random(seed)
    for i in range(n):
        text, what = mutate(texts[i % len(texts)], rng)
        yield i, text, what
