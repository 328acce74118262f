"""The named laws: ``get_law("chinchilla")`` and friends, and rebuilding laws from JSON."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from scalelaw.errors import LawError
from scalelaw.laws.law import Law, Parameter

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
)


def register(name: str, factory: Callable[..., Law]) -> None:
    """Add a law factory to the catalog under ``name``."""
    _REGISTRY[name] = factory


def _load_builtin() -> None:
    if _REGISTRY:
        return
    from scalelaw.laws import basic

    register("power", basic.power)
    register("chinchilla", basic.chinchilla)
    register("kaplan", basic.kaplan)
    register("overtrain", basic.overtrain)
    for module_name in _FAMILIES:
        module = importlib.import_module(f"scalelaw.laws.{module_name}")
        for name, factory in module.CATALOG.items():
            register(name, factory)


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
    _load_builtin()
    factory = _REGISTRY.get(name)
    if factory is None:
        raise LawError(f"unknown law {name!r}; the catalog has: {', '.join(list_laws())}")
    try:
        return factory(**options)
    except TypeError as exc:
        raise LawError(f"law {name!r} does not take options {sorted(options)}: {exc}") from None


def law_from_dict(data: Mapping[str, Any]) -> Law:
    """Rebuild a law from :meth:`Law.to_dict` output (exactly, including changed bounds)."""
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
            law = law.with_inputs(*data["inputs"])
        if "output" in data:
            law = replace(law, output=data["output"])
        return law
    if kind == "fixed":
        return law_from_dict(data["base"]).fix(**data["values"])
    if kind == "expression":
        from scalelaw.laws.expression import ExpressionLaw

        return ExpressionLaw.from_dict(data)
    raise LawError(f"cannot rebuild a law of type {kind!r}")
