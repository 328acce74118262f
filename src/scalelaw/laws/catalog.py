"""The named laws: ``get_law("chinchilla")`` and friends, and rebuilding laws from JSON."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from scalelaw._schema import (
    MAX_NAME,
    Bool,
    Bound,
    Either,
    Invalid,
    List,
    Map,
    Name,
    Null,
    Num,
    Obj,
    OneOf,
    Text,
    path,
    shown,
)
from scalelaw.errors import LawError
from scalelaw.laws.law import ROLES, Law, Parameter

_REGISTRY: dict[str, Callable[..., Law]] = {}

# Modules of scalelaw.laws that each export CATALOG = {name: factory}.
_FAMILIES = (
    "saturating",
    "data_constrained",
    "schedule_laws",
    "downstream",
    "emergence",
    "sampling",
    "precision",
    "mixture",
    "data_axis",
    "steps",
    "transfer",
    "verifier",
    "hparam_laws",
)


def register(name: str, factory: Callable[..., Law]) -> None:
    """Add a law factory to the catalog under ``name``."""
    _REGISTRY[name] = factory


_LOADED: set[str] = set()  # "basic" and/or "families": which built-in laws are in the registry


def _load_builtin(families: bool = True) -> None:
    """Register the built-in laws: the four basic ones, then (``families``) every family module's.

    A name registered already (by :func:`register`) keeps its factory. ``get_law`` of a basic law loads only
    ``basic``: importing the thirteen family modules is a tenth of a short fit's process when nothing is cached.
    """
    if "basic" not in _LOADED:
        from scalelaw.laws import basic

        for name in ("power", "chinchilla", "kaplan", "overtrain"):
            _REGISTRY.setdefault(name, getattr(basic, name))
        _LOADED.add("basic")
    if families and "families" not in _LOADED:
        for module_name in _FAMILIES:
            module = importlib.import_module(f"scalelaw.laws.{module_name}")
            for name, factory in module.CATALOG.items():
                _REGISTRY.setdefault(name, factory)
        _LOADED.add("families")


def list_laws() -> list[str]:
    """Names of every catalog law."""
    _load_builtin()
    return sorted(_REGISTRY)


def get_law(name: str | Law, **options: Any) -> Law:
    """Build a catalog law by name.

    Parameters
    ----------
    name : str
        Catalog name (see :func:`list_laws`), or a :class:`Law`, returned unchanged.
    **options
        Law options, e.g. ``x="tokens"`` for ``power`` or ``breaks=2`` for ``bnsl``.

    Examples
    --------
    >>> get_law("power", x="tokens").inputs
    ('tokens',)
    """
    if isinstance(name, Law):
        return name
    _load_builtin(families=False)
    factory = _REGISTRY.get(name)
    if factory is None:
        _load_builtin()
        factory = _REGISTRY.get(name)
    if factory is None:
        raise LawError(f"unknown law {name!r}; the catalog has: {', '.join(list_laws())}")
    try:
        return factory(**options)
    except TypeError as exc:
        raise LawError(f"law {name!r} does not take options {sorted(options)}: {exc}") from None


#: Most parameters, inputs and grid values a saved law definition may list (catalog laws have at most a few
#: dozen parameters; a formula at most 32 symbols): a hostile file cannot make a law allocate more.
MAX_PARAMETERS = 256
MAX_INPUTS = 64
MAX_GRID = 1_000
#: Laws held fixed inside one another (``law.fix(E=1).fix(A=2)`` nests 2).
MAX_FIXED_NESTING = 16

_PARAMETER = Obj(
    {
        "name": Name(),
        "lower": Bound(optional=True),
        "upper": Bound(optional=True),
        "transform": OneOf("identity", "log", optional=True),
        "grid": List(Num(), high=MAX_GRID, optional=True),
        "description": Text(optional=True),
    }
)
_SCALAR = Either(Null(), Bool(), Num(), Text(MAX_NAME))
_COMMON = {
    # Column names, any text (a formula's parser checks that its own are names).
    "inputs": List(Text(MAX_NAME, empty=False), high=MAX_INPUTS, optional=True),
    # What each input stands for (Law.roles); files written before roles existed have none and get the defaults.
    "roles": Map(Either(Null(), OneOf(*ROLES)), key=Text(MAX_NAME, empty=False), high=MAX_INPUTS, optional=True),
    "output": Text(MAX_NAME, empty=False, optional=True),
    "parameters": List(_PARAMETER, high=MAX_PARAMETERS, optional=True),
}
#: The schema of each kind of law definition (``Law.to_dict``); a fixed law's ``base`` is checked recursively.
LAW_SCHEMAS = {
    "catalog": Obj(
        {
            **_COMMON,
            "name": Text(MAX_NAME, empty=False),
            "options": Map(Either(_SCALAR, List(_SCALAR, high=MAX_INPUTS)), key=Name(), high=64, optional=True),
        }
    ),
    # The expression parser applies its own limits (length, depth, numbers) to ``expression``.
    "expression": Obj({**_COMMON, "name": Text(MAX_NAME, optional=True), "expression": Text()}),
    "fixed": Obj({"values": Map(Num(), key=Name(), high=MAX_PARAMETERS)}),
}


def check_law_definition(data: Any, where: str = "") -> None:
    """Check the structure of a saved law definition (what :meth:`Law.to_dict` writes) before rebuilding it.

    Types, required keys, list lengths and finite values are checked here; what only the law itself
    knows (parameter names matching the formula, bounds in order) is checked when it is rebuilt.

    Raises
    ------
    scalelaw._schema.Invalid
        With the JSON path below ``where`` of the first fault.
    """
    for _ in range(MAX_FIXED_NESTING + 1):  # a fixed law wraps its base: walk down without recursion
        if not isinstance(data, Mapping):
            raise Invalid(where, f"must be an object describing a law, got {shown(data)}")
        if "type" not in data:
            raise Invalid(path(where, "type"), "is missing (catalog, expression or fixed)")
        kind = OneOf(*LAW_SCHEMAS)(data["type"], path(where, "type"))
        LAW_SCHEMAS[kind](data, where)
        if kind == "catalog" and data["name"] not in list_laws():
            raise Invalid(path(where, "name"), f"is not a law of this scalelaw's catalog, got {shown(data['name'])}")
        if kind != "fixed":
            return
        if "base" not in data:
            raise Invalid(path(where, "base"), "is missing; a fixed law keeps the law it holds parameters of")
        data, where = data["base"], path(where, "base")
    raise Invalid(where, f"nests more than {MAX_FIXED_NESTING} fixed laws inside one another, the limit")


def law_from_dict(data: Mapping[str, Any]) -> Law:
    """Rebuild a law from :meth:`Law.to_dict` output (exactly, including changed bounds).

    The definition may come from a file anyone could have written: it is checked against
    :data:`LAW_SCHEMAS` first, and any failure to rebuild it is a :class:`LawError`.
    """
    try:
        check_law_definition(data)
    except Invalid as exc:
        raise LawError(f"invalid law definition: {exc}") from None
    try:
        return _rebuild(data)
    except LawError:
        raise
    except (TypeError, ValueError, KeyError, IndexError, AttributeError, OverflowError) as exc:
        # A catalog factory given options it cannot use: say so instead of surfacing its internals.
        name = data.get("name", data.get("type"))
        raise LawError(f"cannot rebuild law {name!r} from its definition: {exc}") from None


def _legacy_roles(law: Law, renamed: Law) -> dict[str, str | None]:
    """Roles of a renamed catalog law saved before roles were (its file has none): by name as now, and an input
    left without one takes the role of its position, as then, unless a column of that role's name holds it. Fit
    files from then plan as they did, except that ``params`` and ``tokens`` are never swapped."""
    taken = {r for r in renamed.roles.values() if r is not None}
    return {
        new: renamed.roles[new] if renamed.roles[new] is not None or old_role in taken else old_role
        for new, old_role in zip(renamed.inputs, law.roles.values(), strict=True)
    }


def _rebuild(data: Mapping[str, Any]) -> Law:
    kind = data.get("type")
    if kind == "catalog":
        law = get_law(data["name"], **data.get("options", {}))
        if "parameters" in data:
            params = tuple(Parameter.from_dict(p) for p in data["parameters"])
            if tuple(p.name for p in params) != law.param_names:
                raise LawError(
                    f"saved law {data['name']!r} has parameters {[p.name for p in params]}, "
                    f"this version defines {list(law.param_names)}"
                )
            law = replace(law, parameters=params)
        if "inputs" in data:
            renamed = law.with_inputs(*data["inputs"])
            law = renamed if "roles" in data else replace(renamed, roles=_legacy_roles(law, renamed))
        if "roles" in data:  # absent from definitions older than roles: the catalog's own declaration stands
            law = replace(law, roles=dict(data["roles"]))
        if "output" in data:
            law = replace(law, output=data["output"])
        return law
    if kind == "fixed":
        return _rebuild(data["base"]).fix(**data["values"])
    if kind == "expression":
        from scalelaw.laws.expression import ExpressionLaw

        return ExpressionLaw.from_dict(data)
    raise LawError(f"cannot rebuild a law of type {kind!r}")
