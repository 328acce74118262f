"""Package faces that load on first use (as Scientific Python's SPEC 1, lazy loading of submodules).

A face (``trust/__init__.py``, say) lists what each of its modules exports; a name is imported from its
module the first time it is used. Importing one module of a subpackage then costs that module alone, as
it did when the modules stood flat: several of them import ``scipy.stats``, which takes a few tenths of a
second, and a command that only backtests or plans should not pay for the bootstrap and the profile.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any


def attach(
    package: str, exports: Mapping[str, Sequence[str]]
) -> tuple[Callable[[str], Any], Callable[[], list[str]], list[str]]:
    """``__getattr__``, ``__dir__`` and ``__all__`` for ``package``, whose modules export ``exports``
    (module name -> public names). Submodules are reachable by their own names too.

    Examples
    --------
    >>> import scalelaw.trust as trust
    >>> trust.Bootstrap.__module__, trust.backtest.__name__
    ('scalelaw.trust.bootstrap', 'scalelaw.trust.backtest')
    """
    home = {name: module for module, names in exports.items() for name in names}
    names = sorted(home)

    def __getattr__(name: str) -> Any:
        if name in home:
            value = getattr(importlib.import_module(f"{package}.{home[name]}"), name)
            setattr(sys.modules[package], name, value)  # found by plain lookup from now on
            return value
        if not name.startswith("_") and importlib.util.find_spec(f"{package}.{name}") is not None:
            return importlib.import_module(f"{package}.{name}")  # the import binds it on the package
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted({*names, *exports, *vars(sys.modules[package])})

    return __getattr__, __dir__, names
