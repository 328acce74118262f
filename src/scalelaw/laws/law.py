"""Law: a pure description of a scaling law.

A law names its inputs (data columns such as ``params`` and ``tokens``) and its parameters (with
bounds, a start grid and the transform the optimizer works in). It predicts on a log scale,
vectorized over rows *and* over parameter sets: ``theta`` has shape ``(n_sets, n_params)`` and
every prediction has shape ``(n_sets, n_rows)``. That shape is what makes fitting thousands of
starts, or a thousand bootstrap replicates, one array operation.

Laws import nothing from fitting, data loading or views: they bind to data by column name only. What
an input *stands for* is declared, not guessed from its name: :attr:`Law.roles` says which input is the
model size N, the training data D or the compute C (docs/laws.md §0), and decisions read that.
"""

from __future__ import annotations

import abc
import itertools
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Literal

import numpy as np

from scalelaw.errors import LawError

Transform = Literal["identity", "log"]

#: What an input can stand for: model size ``"N"`` (parameters), training data ``"D"`` (tokens) or training
#: compute ``"C"`` (FLOPs). Every other input (unique tokens, bit-widths, a step) has role ``None``.
ROLES = ("N", "D", "C")
#: How messages name the quantity each role stands for.
ROLE_NAMES = {"N": "parameters", "D": "tokens", "C": "compute"}
#: The role of an input a law does not declare one for: the canonical column names, nothing else.
CANONICAL_ROLES = {"params": "N", "tokens": "D", "flops": "C"}
#: Decisions a law may solve in closed form (:meth:`Law.closed_form`); the others are searched numerically.
CLOSED_FORMS = ("compute_optimal", "compute_for_loss", "tokens_for_loss", "allocation_exponent")


@dataclass(frozen=True)
class Parameter:
    """One parameter of a law.

    Attributes
    ----------
    name : str
        Name used in results and JSON (e.g. ``"alpha"``).
    lower, upper : float
        Bounds in natural units; the optimizer never leaves them.
    transform : {"identity", "log"}
        Space the optimizer works in. ``"log"`` suits positive amplitudes spanning decades.
    grid : tuple of float
        Start values in natural units; a law's start grid is their Cartesian product unless the law
        builds a data-dependent one.
    description : str
        What the parameter means.
    """

    name: str
    lower: float = -math.inf
    upper: float = math.inf
    transform: Transform = "identity"
    grid: tuple[float, ...] = ()
    description: str = ""

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise LawError(f"parameter name {self.name!r} is not a valid identifier")
        if self.transform not in ("identity", "log"):
            raise LawError(f"parameter {self.name!r}: transform must be 'identity' or 'log', not {self.transform!r}")
        if not self.lower < self.upper:
            raise LawError(f"parameter {self.name!r}: lower bound {self.lower} must be below upper {self.upper}")
        if self.transform == "log" and self.lower < 0:
            raise LawError(f"parameter {self.name!r} uses a log transform, so its lower bound must be >= 0")
        object.__setattr__(self, "grid", tuple(float(g) for g in self.grid))

    @property
    def internal_bounds(self) -> tuple[float, float]:
        """Bounds in the optimizer's space."""
        if self.transform == "log":
            lo = math.log(self.lower) if self.lower > 0 else -math.inf
            return lo, math.log(self.upper) if math.isfinite(self.upper) else math.inf
        return self.lower, self.upper

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "lower": _json_float(self.lower),
            "upper": _json_float(self.upper),
            "transform": self.transform,
            "grid": list(self.grid),
            "description": self.description,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Parameter:
        return cls(
            name=data["name"],
            lower=float(data.get("lower", -math.inf)),
            upper=float(data.get("upper", math.inf)),
            transform=data.get("transform", "identity"),
            grid=tuple(data.get("grid", ())),
            description=data.get("description", ""),
        )


def _json_float(x: float) -> float | str:
    return x if math.isfinite(x) else ("inf" if x > 0 else "-inf")


@dataclass(frozen=True, eq=False)
class Law(abc.ABC):
    """Base class of every law.

    Subclasses set ``name``, ``inputs`` and ``parameters`` and implement :meth:`log_predict_jac`
    (log prediction and its exact Jacobian in natural parameter units). Everything else (natural
    predictions, transforms, start grids, JSON) is shared.

    Attributes
    ----------
    name : str
        Catalog name, or ``"expression"``.
    inputs : tuple of str
        Data columns the law reads, in order.
    parameters : tuple of Parameter
        Free parameters, in the order of ``theta``'s last axis.
    output : str
        Default column the law predicts (``"loss"``).
    roles : mapping of str to {"N", "D", "C", None}
        What each input stands for (see :data:`ROLES`), one entry per input in input order. Give only
        those that differ from the default: an input left out plays the role of its canonical name
        (``params`` N, ``tokens`` D, ``flops`` C) and no role otherwise. No two inputs share a role.
        Renaming inputs (:meth:`with_inputs`) moves roles with the column names, never with positions: a
        column keeps the role declared for it, a canonical one takes its own, and any other has none until
        declared (:meth:`with_roles`; ``--role`` on the command line).
    """

    name: str
    inputs: tuple[str, ...]
    parameters: tuple[Parameter, ...]
    output: str = "loss"
    description: str = ""
    reference: str = ""
    options: Mapping[str, Any] = field(default_factory=dict)
    roles: Mapping[str, str | None] = field(default_factory=dict)

    #: Laws whose output can be <= 0 must fit on linear residuals; all catalog laws here are positive.
    positive_output: ClassVar[bool] = True
    #: What the output is to the decisions: a loss or error to ``"minimize"`` (every plan and comparison
    #: minimises it), a score to ``"maximize"`` (coverage, pass rate, BLEU) or ``"none"`` (a fitted
    #: hyperparameter such as the best learning rate). Plans refuse the last two rather than minimise them.
    goal: ClassVar[Literal["minimize", "maximize", "none"]] = "minimize"

    def __post_init__(self) -> None:
        names = [p.name for p in self.parameters]
        if len(set(names)) != len(names):
            raise LawError(f"law {self.name!r} has repeated parameter names: {names}")
        if len(set(self.inputs)) != len(self.inputs):
            raise LawError(f"law {self.name!r} has repeated inputs: {self.inputs}")
        object.__setattr__(self, "roles", _complete_roles(self.name, self.inputs, self.roles))

    # ---------------------------------------------------------------- to implement
    @abc.abstractmethod
    def log_predict_jac(
        self, theta: np.ndarray, X: Mapping[str, np.ndarray], jac: bool = True
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Log prediction and its Jacobian.

        Parameters
        ----------
        theta : ndarray, shape (n_sets, n_params)
            Parameter sets in natural units.
        X : mapping of str to ndarray, shape (n_rows,)
            Input columns (raw units, > 0 for scale inputs).
        jac : bool
            Whether to compute the Jacobian.

        Returns
        -------
        log_pred : ndarray, shape (n_sets, n_rows)
        jacobian : ndarray, shape (n_sets, n_params, n_rows), or None
            ``d log_pred / d theta`` in natural units. Parameters come before rows so each
            parameter's derivative is one contiguous block (the optimizer's hot path).
        """

    # ---------------------------------------------------------------- shared behaviour
    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.parameters)

    @property
    def n_params(self) -> int:
        return len(self.parameters)

    def parameter(self, name: str) -> Parameter:
        for p in self.parameters:
            if p.name == name:
                return p
        raise LawError(f"law {self.name!r} has no parameter {name!r}; it has {', '.join(self.param_names)}")

    def input_for(self, role: str) -> str | None:
        """The input playing ``role`` (``"N"``, ``"D"`` or ``"C"``), or None when no input does."""
        if role not in ROLES:
            raise LawError(f"unknown role {role!r}; the roles are {', '.join(ROLES)}")
        return next((name for name, r in self.roles.items() if r == role), None)

    def inputs_for(self, *roles: str, purpose: str = "this decision") -> tuple[str, ...]:
        """The inputs playing ``roles``, in that order; a :class:`LawError` naming what is missing otherwise.

        Decisions read N, D and C here and nowhere else, so a column is never taken for tokens because of
        its name or its position.

        >>> from scalelaw import get_law
        >>> get_law("chinchilla", n="N_total").inputs_for("N", "D")
        ('N_total', 'tokens')
        """
        found = tuple(self.input_for(role) for role in roles)
        missing = [role for role, name in zip(roles, found, strict=True) if name is None]
        if missing:
            have = ", ".join(f"{n} ({r or 'no role'})" for n, r in self.roles.items()) or "none"
            col, role = next((n for n, r in self.roles.items() if r is None), "my_column"), missing[0]
            raise LawError(
                f"{purpose} needs a law of {' and '.join(ROLE_NAMES[r] for r in roles)} (inputs with roles "
                f"{' and '.join(roles)}), but no input of law {self.name!r} plays "
                f"{' or '.join(f'{r} ({ROLE_NAMES[r]})' for r in missing)}: its inputs are {have} (a column "
                "renamed from params, tokens or flops has no role until declared). If one of its columns does "
                f"stand for {ROLE_NAMES[role]}, declare it: on the command line scalelaw fit ... --role {col}={role}; "
                f"in Python scalelaw.fit(..., roles={{'{col}': '{role}'}}), law.with_roles({col}='{role}') or "
                f"Law.from_expression(..., roles={{'{col}': '{role}'}}). A law of other quantities has no such plan: "
                "solve it for a target along one input instead (FitResult.solve, docs/axes.md)"
            )
        return found  # type: ignore[return-value]

    def closed_form(self, decision: str) -> Callable[..., Any] | None:
        """This law's exact solution of ``decision`` (one of :data:`CLOSED_FORMS`), or None.

        A law declares a closed form by returning a function of the parameter sets ``theta`` (natural
        units, shape ``(n_sets, n_params)``); decisions use it when it is there and search numerically
        otherwise. The base class has none.
        """
        if decision not in CLOSED_FORMS:
            raise LawError(f"unknown decision {decision!r}; closed forms exist for {', '.join(CLOSED_FORMS)}")
        return None

    def projected_starts(
        self, X: Mapping[str, np.ndarray], y: np.ndarray, weights: np.ndarray | None = None
    ) -> np.ndarray | None:
        """Starts by variable projection, shape ``(n_starts, n_params)`` in natural units, or None.

        A law whose amplitudes enter linearly for fixed exponents declares this capability by returning, for
        each exponent combination of its grid, the amplitudes that fit ``y`` best (non-negative least squares
        on relative residuals, row weights ``weights``). The engine screens them alongside the grid, so
        fewer grid starts need to take optimizer steps. The base class has none.
        """
        return None

    def profile_starts(
        self, X: Mapping[str, np.ndarray], Y: np.ndarray, weights: np.ndarray | None = None
    ) -> np.ndarray | None:
        """A profile of starts along the law's exponent for many targets at once, or None.

        A law with one exponent and amplitudes that enter linearly declares this capability by returning, for
        every target row of ``Y`` (shape ``(n_targets, n_rows)``, row weights ``weights`` of the same shape,
        0 where a target has no value) and every exponent of a fine grid (ascending), the amplitudes that fit
        best by non-negative least squares on relative residuals: shape ``(n_targets, n_exponents, n_params)``,
        natural units. The many-targets search (:mod:`scalelaw.fitting.multi`) starts from the local minima of
        each target's objective along that profile. The base class has none.
        """
        return None

    @property
    def closed_forms(self) -> frozenset[str]:
        """The decisions this law solves in closed form."""
        return frozenset(d for d in CLOSED_FORMS if self.closed_form(d) is not None)

    def theta(self, values: Mapping[str, float] | Sequence[float] | np.ndarray) -> np.ndarray:
        """Parameter values as an array of shape ``(n_sets, n_params)``."""
        params = values
        if isinstance(params, Mapping):
            missing = [n for n in self.param_names if n not in params]
            if missing:
                raise LawError(f"law {self.name!r} needs values for {', '.join(missing)}")
            extra = sorted(set(params) - set(self.param_names))
            if extra:
                raise LawError(
                    f"law {self.name!r} has no parameter(s) {', '.join(extra)}; it has {', '.join(self.param_names)}"
                )
            return np.array([[float(params[n]) for n in self.param_names]])
        arr = np.asarray(params, dtype=np.float64)
        if arr.ndim == 1:
            arr = arr[None, :]
        if arr.ndim != 2 or arr.shape[1] != self.n_params:
            raise LawError(
                f"law {self.name!r} takes {self.n_params} parameters ({', '.join(self.param_names)}); "
                f"got an array of shape {np.shape(params)}"
            )
        return arr

    def bind(self, inputs: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """Check and broadcast the input columns the law needs to 1-D float arrays."""
        missing = [n for n in self.inputs if n not in inputs]
        if missing:
            raise LawError(f"law {self.name!r} needs input(s) {', '.join(missing)}; got {', '.join(inputs) or 'none'}")
        arrays = [np.atleast_1d(np.asarray(inputs[n], dtype=np.float64)) for n in self.inputs]
        try:
            arrays = np.broadcast_arrays(*arrays)
        except ValueError as exc:
            raise LawError(f"inputs {', '.join(self.inputs)} have incompatible shapes: {exc}") from None
        return {n: np.ravel(a) for n, a in zip(self.inputs, arrays, strict=True)}

    def predict(self, values: Mapping[str, float] | Sequence[float] | np.ndarray, /, **inputs: Any) -> np.ndarray:
        """Predict the law's output.

        Parameters
        ----------
        values : mapping or array
            Parameter values, ``{"E": 1.69, ...}``, or an array of shape ``(n_params,)`` or ``(n_sets, n_params)``.
        **inputs : array_like
            Input columns by name, e.g. ``params=7e10, tokens=1.4e12``.

        Returns
        -------
        ndarray
            Shape ``(n_rows,)`` for one parameter set, ``(n_sets, n_rows)`` for an array of sets.

        Examples
        --------
        >>> from scalelaw import get_law
        >>> law = get_law("chinchilla")
        >>> float(law.predict({"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28},
        ...                   params=70e9, tokens=1.4e12)[0])  # doctest: +ELLIPSIS
        1.936...
        """
        theta = self.theta(values)
        log_pred, _ = self.log_predict_jac(theta, self.bind(inputs), jac=False)
        out = np.exp(log_pred)
        return out[0] if _is_single(values) else out

    def jacobian(self, values: Mapping[str, float] | Sequence[float] | np.ndarray, /, **inputs: Any) -> np.ndarray:
        """Exact derivative of the prediction w.r.t. each parameter, shape ``(..., n_rows, n_params)``."""
        theta = self.theta(values)
        log_pred, jac = self.log_predict_jac(theta, self.bind(inputs), jac=True)
        assert jac is not None
        out = np.exp(log_pred)[..., None] * np.swapaxes(jac, -1, -2)
        return out[0] if _is_single(values) else out

    def start_grid(self, X: Mapping[str, np.ndarray], y: np.ndarray) -> np.ndarray:
        """Start values, shape ``(n_starts, n_params)`` in natural units.

        The default is the Cartesian product of the parameters' grids; laws override this to use the
        data (e.g. a floor below the smallest observed loss, amplitudes solved by least squares).
        """
        grids = []
        for p in self.parameters:
            if p.grid:
                grids.append(p.grid)
            else:
                grids.append((_default_start(p),))
        return np.array(list(itertools.product(*grids)), dtype=np.float64)

    # ---------------------------------------------------------------- transforms
    def start_grids(self, X: Mapping[str, np.ndarray], Y: np.ndarray) -> np.ndarray:
        """:meth:`start_grid` of many targets with as many rows: target ``t`` has inputs ``X[name][t]`` and values
        ``Y[t]`` (every array ``(n_targets, n_rows)``). Returns ``(n_targets, n_starts, n_params)``, each target's
        grid as :meth:`start_grid` gives it alone; laws may override this to build them in one pass."""
        return np.stack([self.start_grid({k: v[t] for k, v in X.items()}, Y[t]) for t in range(Y.shape[0])])

    def to_internal(self, theta: np.ndarray) -> np.ndarray:
        z = np.array(theta, dtype=np.float64, copy=True)
        for k, p in enumerate(self.parameters):
            if p.transform == "log":
                with np.errstate(divide="ignore"):
                    z[..., k] = np.log(z[..., k])
        return z

    def from_internal(self, z: np.ndarray) -> np.ndarray:
        theta = np.array(z, dtype=np.float64, copy=True)
        for k, p in enumerate(self.parameters):
            if p.transform == "log":
                theta[..., k] = np.exp(theta[..., k])
        return theta

    @property
    def log_transformed(self) -> np.ndarray:
        """Which parameters the optimizer moves on a log scale: bool, shape ``(n_params,)``."""
        return np.array([p.transform == "log" for p in self.parameters])

    def internal_scale(self, theta: np.ndarray) -> np.ndarray:
        """``d theta / d z``, the chain rule from natural units to the optimizer's coordinates ``z``: ``theta``
        for log-transformed parameters, 1 for the others (``theta``'s shape)."""
        return np.where(self.log_transformed, theta, 1.0)

    def internal_jacobian(self, theta: np.ndarray, X: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Log prediction and its Jacobian in the optimizer's coordinates, ``d log_pred / d z``.

        The one place the chain rule into the optimizer's space is applied (the engine, the curvature of a
        fit, influence and experiment design all read it). Shapes as :meth:`log_predict_jac`:
        ``(n_sets, n_rows)`` and ``(n_sets, n_params, n_rows)``.
        """
        log_pred, J = self.log_predict_jac(theta, X, jac=True)
        assert J is not None
        return log_pred, J * self.internal_scale(theta)[:, :, None]

    def internal_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = zip(*(p.internal_bounds for p in self.parameters), strict=True)
        return np.array(lo), np.array(hi)

    def clip(self, theta: np.ndarray) -> np.ndarray:
        """Move parameter sets inside the bounds."""
        lo = np.array([p.lower for p in self.parameters])
        hi = np.array([p.upper for p in self.parameters])
        return np.clip(theta, lo, hi)

    # ---------------------------------------------------------------- variations and JSON
    def with_bounds(self, **bounds: tuple[float, float]) -> Law:
        """Copy of the law with new bounds, e.g. ``law.with_bounds(alpha=(0.05, 1.0))``."""
        params = list(self.parameters)
        for name, (lo, hi) in bounds.items():
            k = self.param_names.index(self.parameter(name).name)
            grid = tuple(g for g in params[k].grid if lo <= g <= hi)
            params[k] = replace(params[k], lower=float(lo), upper=float(hi), grid=grid)
        return replace(self, parameters=tuple(params))

    @classmethod
    def from_expression(cls, expression: str, **kwargs: Any) -> Law:
        """Build a law from a formula, e.g. ``Law.from_expression("E + A*params**-alpha")``.

        Symbols named like data columns (``params``, ``tokens``, ``flops``, ...) are inputs; every
        other symbol is a parameter. Gradients are derived symbolically. Keyword arguments
        (``inputs``, ``roles``, ``bounds``, ``grid``, ``transforms``, ``output``, ``name``) are passed to
        :meth:`scalelaw.laws.expression.ExpressionLaw.from_expression`; ``roles`` says which input is N, D
        or C when the columns are not named ``params``, ``tokens`` and ``flops``, e.g.
        ``roles={"params": "N", "datastore": None}``.
        """
        from scalelaw.laws.expression import ExpressionLaw

        return ExpressionLaw.from_expression(expression, **kwargs)

    def with_inputs(self, *columns: str) -> Law:
        """Copy of the law that reads its inputs from other columns, e.g. ``with_inputs("N_ne", "tokens")``.

        Each column takes the place of the input at its position in the formula, but its role comes from its
        name (:meth:`_roles_for`): ``with_inputs("tokens", "params")`` of Chinchilla's law still has
        ``params`` as N and ``tokens`` as D, and a column of another name (``N_ne``) has no role until one is
        declared with :meth:`with_roles` (plans needing it refuse until then).

        >>> from scalelaw import get_law
        >>> get_law("chinchilla").with_inputs("tokens", "params").roles
        {'tokens': 'D', 'params': 'N'}
        >>> get_law("chinchilla").with_inputs("N_ne", "tokens").with_roles(N_ne="N").inputs_for("N", "D")
        ('N_ne', 'tokens')
        """
        if not self._renames(columns):
            return self
        description = self.description
        for old, new in zip(self.inputs, columns, strict=True):
            description = re.sub(rf"\b{re.escape(old)}\b", new, description)
        return replace(self, inputs=tuple(columns), description=description, roles=self._roles_for(columns))

    def with_roles(self, **roles: str | None) -> Law:
        """Copy of the law with some inputs' roles changed (see :attr:`roles`), e.g.
        ``get_law("power", x="C_total").with_roles(C_total="C")``."""
        return replace(self, roles={**self.roles, **roles})

    def _renames(self, columns: Sequence[str]) -> bool:
        """Whether ``columns`` (one per input) rename any input; a LawError when their number is wrong."""
        if len(columns) != len(self.inputs):
            raise LawError(
                f"law {self.name!r} has {len(self.inputs)} input(s) ({', '.join(self.inputs)}); "
                f"got {len(columns)} column name(s): {', '.join(columns)}"
            )
        return tuple(columns) != self.inputs

    def _roles_for(self, columns: Sequence[str]) -> dict[str, str | None]:
        """The roles of renamed inputs, by column name: the role declared for that column when the law reads it
        already, else its canonical role (``params`` N, ``tokens`` D, ``flops`` C), else none.

        Never by position: a role says what a column stands for, and ``with_inputs("tokens", "params")`` puts
        tokens where N was without making them the model size (which used to swap N and D in every plan). A
        renamed column of another name cannot be known to stand for anything, so plans refuse it until its role
        is declared (:meth:`with_roles`, ``--role``).
        """
        return {new: self.roles[new] if new in self.roles else CANONICAL_ROLES.get(new) for new in columns}

    def fix(self, **values: float) -> Law:
        """Law with some parameters held at given values, e.g. ``law.fix(L0=np.log(50257))``."""
        from scalelaw.laws.fixed import FixedLaw

        return FixedLaw.wrap(self, values)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready definition; :func:`scalelaw.laws.law_from_dict` rebuilds an equal law."""
        return {
            "type": "catalog",
            "name": self.name,
            "options": dict(self.options),
            "inputs": list(self.inputs),
            "roles": dict(self.roles),
            "output": self.output,
            "parameters": [p.to_dict() for p in self.parameters],
        }

    def formula(self) -> str:
        return self.description

    def __repr__(self) -> str:
        return f"<Law {self.name}: inputs=({', '.join(self.inputs)}), params=({', '.join(self.param_names)})>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Law) and self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash(repr(self.to_dict()))


def _complete_roles(name: str, inputs: Sequence[str], declared: Mapping[str, str | None]) -> dict[str, str | None]:
    """One role per input, in input order: the declared ones, else the canonical name's (or None)."""
    unknown = [k for k in declared if k not in inputs]
    if unknown:
        raise LawError(
            f"law {name!r}: roles are given for {', '.join(map(repr, unknown))}, which are not among its inputs "
            f"({', '.join(inputs) or 'none'})"
        )
    bad = {k: v for k, v in declared.items() if v is not None and v not in ROLES}
    if bad:
        raise LawError(f"law {name!r}: roles must be one of {', '.join(ROLES)} or None, got {bad}")
    roles = {n: declared[n] if n in declared else CANONICAL_ROLES.get(n) for n in inputs}
    for role in ROLES:
        sharing = [n for n, r in roles.items() if r == role]
        if len(sharing) > 1:
            raise LawError(
                f"law {name!r}: inputs {' and '.join(sharing)} would both play {ROLE_NAMES[role]}; declare the "
                f"role of one of them (e.g. roles={{{sharing[-1]!r}: None}})"
            )
    return roles


def _default_start(p: Parameter) -> float:
    lo, hi = p.lower, p.upper
    if p.transform == "log":
        lo_ = lo if lo > 0 else 1e-3
        hi_ = hi if math.isfinite(hi) else max(lo_ * 1e3, 1.0)
        return float(math.sqrt(lo_ * hi_))
    if math.isfinite(lo) and math.isfinite(hi):
        return 0.5 * (lo + hi)
    if math.isfinite(lo):
        return lo + 1.0
    if math.isfinite(hi):
        return hi - 1.0
    return 0.0


def _is_single(params: Any) -> bool:
    return isinstance(params, Mapping) or np.ndim(params) == 1


_TINY = float(np.finfo(np.float64).tiny)


def log_sum_exp_terms(terms: Sequence[np.ndarray], weights: bool = True) -> tuple[np.ndarray, list[np.ndarray]]:
    """``log(sum(exp(t)))`` over a list of broadcastable arrays, with each term's share of the sum.

    Sums of positive power terms are evaluated this way (laws.md §12.2); the shares are exactly the
    derivatives of the result w.r.t. each log-term. The direct sum is tried first (fast, and exact
    whenever no term overflows); entries where it over- or underflows are redone with the max shift.
    """
    with np.errstate(over="ignore", divide="ignore"):
        expd = [np.exp(t) for t in terms]
        total = expd[0]
        for e in expd[1:]:
            total = total + e
        lse = np.log(total)
    # Subnormal totals have lost precision: redo them too. Two reductions tell whether any entry needs it
    # (a NaN fails the first test, an infinity the second); only then is the entry-wise mask built.
    if not (total.size == 0 or (total.min() >= _TINY and np.isfinite(lse.sum()))):
        bad = ~np.isfinite(lse) | (total < _TINY)
        stacked = np.stack(np.broadcast_arrays(*terms))
        top = np.max(stacked, axis=0)
        top = np.where(np.isfinite(top), top, 0.0)
        shifted = np.exp(stacked - top)
        s_total = shifted.sum(axis=0)
        lse = np.where(bad, top + np.log(s_total), lse)
        if not weights:
            return lse, []
        shares = shifted / s_total
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            return lse, [np.where(bad, shares[k], e / total) for k, e in enumerate(expd)]
    if not weights:
        return lse, []
    inv = 1.0 / total
    return lse, [e * inv for e in expd]


def nonnegative_least_squares(basis: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Amplitudes ``c >= 0`` minimizing ``sum_i w_i ((basis_i . c - y_i) / y_i)^2``, for a batch of designs.

    ``basis`` has shape ``(n_sets, n_rows, k)`` with a few columns ``k`` (every subset of columns is tried:
    the answer is the least-squares fit on the best subset whose coefficients are all non-negative, the exact
    NNLS solution), ``y`` shape ``(n_rows,)``. Returns shape ``(n_sets, k)``. Collinear columns get the
    minimum-norm split.
    """
    scale = 1.0 / y if weights is None else np.sqrt(weights) / y
    M = basis * scale[None, :, None]
    t = y * scale
    n_sets, _, k = M.shape
    best = np.zeros((n_sets, k))
    best_sse = np.full(n_sets, float(t @ t))
    for subset in itertools.chain.from_iterable(itertools.combinations(range(k), r) for r in range(1, k + 1)):
        cols = list(subset)
        coef = np.matmul(np.linalg.pinv(M[:, :, cols]), t)
        resid = np.matmul(M[:, :, cols], coef[:, :, None])[:, :, 0] - t
        sse = np.einsum("sr,sr->s", resid, resid)
        # Strictly better only: ties keep the smaller subset, whatever the rounding of the larger one.
        better = np.all(coef >= 0.0, axis=1) & (sse < best_sse)
        rows = np.flatnonzero(better)
        best[rows] = 0.0
        best[np.ix_(rows, cols)] = coef[rows]
        best_sse = np.where(better, sse, best_sse)
    return best
