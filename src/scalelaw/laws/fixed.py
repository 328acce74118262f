"""A law with some parameters held fixed (e.g. a known random-guess loss, or constants from stage one)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from scalelaw.errors import LawError
from scalelaw.laws.law import Law


@dataclass(frozen=True, eq=False)
class FixedLaw(Law):
    """Wraps ``base`` and fixes ``values``; the remaining parameters are fitted as usual."""

    base: Law | None = None
    values: Mapping[str, float] | None = None

    @classmethod
    def wrap(cls, base: Law, values: Mapping[str, float]) -> FixedLaw:
        for name in values:
            base.parameter(name)  # raises with the list of valid names
        free = tuple(p for p in base.parameters if p.name not in values)
        if not free:
            raise LawError(f"fixing {', '.join(values)} leaves law {base.name!r} with nothing to fit")
        fixed = {k: float(v) for k, v in values.items()}
        for name, value in fixed.items():
            p = base.parameter(name)
            if not p.lower <= value <= p.upper:
                raise LawError(f"fixed value {name}={value} lies outside its bounds [{p.lower}, {p.upper}]")
        return cls(
            name=base.name,
            inputs=base.inputs,
            parameters=free,
            output=base.output,
            description=base.description,
            reference=base.reference,
            options=base.options,
            roles=base.roles,
            base=base,
            values=fixed,
        )

    def _full(self, theta: np.ndarray) -> np.ndarray:
        assert self.base is not None and self.values is not None
        full = np.empty((theta.shape[0], self.base.n_params))
        free = 0
        for k, p in enumerate(self.base.parameters):
            if p.name in self.values:
                full[:, k] = self.values[p.name]
            else:
                full[:, k] = theta[:, free]
                free += 1
        return full

    def log_predict_jac(self, theta, X, jac=True):
        assert self.base is not None and self.values is not None
        value, J = self.base.log_predict_jac(self._full(theta), X, jac=jac)
        if J is not None:
            keep = [k for k, p in enumerate(self.base.parameters) if p.name not in self.values]
            J = J[:, keep, :]
        return value, J

    def start_grid(self, X, y):
        assert self.base is not None and self.values is not None
        grid = self.base.start_grid(X, y)
        keep = [k for k, p in enumerate(self.base.parameters) if p.name not in self.values]
        return np.unique(grid[:, keep], axis=0)

    def closed_form(self, decision: str) -> Callable[..., Any] | None:
        """The base law's closed form, fed the fixed values: exact for the fixed law too."""
        assert self.base is not None
        solve = self.base.closed_form(decision)
        if solve is None:
            return None

        def fixed_solve(theta: np.ndarray, *args: Any) -> Any:
            return solve(self._full(np.atleast_2d(theta)), *args)

        return fixed_solve

    def to_dict(self) -> dict[str, Any]:
        assert self.base is not None and self.values is not None
        return {"type": "fixed", "base": self.base.to_dict(), "values": dict(self.values)}

    def formula(self) -> str:
        fixed = ", ".join(f"{k}={v:g}" for k, v in (self.values or {}).items())
        return f"{self.base.formula() if self.base else ''} with {fixed} fixed"

    def with_inputs(self, *columns: str) -> Law:
        assert self.base is not None and self.values is not None
        return FixedLaw.wrap(self.base.with_inputs(*columns), self.values)

    def with_roles(self, **roles: str | None) -> Law:
        assert self.base is not None and self.values is not None
        return FixedLaw.wrap(self.base.with_roles(**roles), self.values)
