"""Laws written as formulas: ``ExpressionLaw.from_expression("E + A*params**-alpha")``.

The formula is parsed by sympy without evaluating user text as Python: it is first checked token by
token (names, numbers, ``+ - * / ** ^ ( ) ,`` only; no attributes, strings, keywords or unknown
functions), then handed to :func:`sympy.parsing.sympy_parser.parse_expr` with a namespace holding
nothing but sympy's number and symbol constructors and the allowed functions.

Symbols named like data columns (``params``, ``tokens``, ``flops``, ``step``, ``lr``, ``batch_size``,
``unique_tokens``, ``seed``, plus any listed in ``inputs=``) are inputs; every other symbol is a
parameter, in order of first appearance in the formula. The value and its derivative with respect to
every parameter are derived symbolically and compiled once (``sympy.lambdify`` with common
subexpressions shared) into one vectorized numpy function; compiled functions live in a module cache
keyed by the formula, so the law itself stays a plain frozen, picklable, JSON-able dataclass.

Default parameter settings follow one naming rule, applied in this order (``bounds=``,
``transforms=`` and ``grid=`` override any of it):

1. **floor**: a name starting with ``E`` or ``L`` (``E``, ``E0``, ``L0``, ``L_inf``): identity
   transform, bounds ``[0, inf)``; starts at 0, 0.5 and 0.9 times the smallest observed output.
2. **amplitude**: a single capital letter (``A``, ``B``, ``C``, ...), a name ending in ``_c``
   (``N_c``), or any symbol that multiplies or divides an input-dependent factor in a product
   reached from the top of the formula through sums, products and bases of powers (``A`` in
   ``A*params**-alpha``, ``s`` in ``(1 + params/s)**-alpha``): log transform, bounds
   ``[1e-12, 1e30]``; starts are chosen from the data (below).
3. **exponent**: a lowercase Greek letter name or a single lowercase letter, optionally followed by
   digits or ``_suffix`` (``alpha``, ``beta_N``, ``a1``, ``eta``), or any symbol appearing in the
   exponent of a power: identity transform, bounds ``[0, 5]``, starts ``0.1, 0.3, 0.6``.
4. **other**: identity transform, unbounded, start 0.

Start grid: the Cartesian product of the parameters' grids (floors: fractions of the smallest
output; capped at a couple of thousand sets). Log-transformed parameters without an explicit grid
are then chosen per start from the data: those the formula is linear in (``A`` in ``A*params**-alpha``)
are solved for, each of the K linear terms taking 1/K of what the rest of the formula leaves
unexplained (least squares on the log scale), so the starts match the data's scale whatever its
units; the others (``N_c`` in ``(N_c/params)**alpha``) are tried on a one-value-per-decade grid
within their bounds, keeping the candidate with the smallest squared log residuals.
"""

from __future__ import annotations

import functools
import io
import itertools
import keyword
import math
import tokenize
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import sympy
from sympy.parsing.sympy_parser import auto_number, auto_symbol, convert_xor, parse_expr

from scalelaw.errors import LawError
from scalelaw.laws.law import Law, Parameter, _default_start

#: Column names read as inputs without being listed in ``inputs=``.
DATA_COLUMNS: tuple[str, ...] = (
    "params",
    "tokens",
    "flops",
    "step",
    "lr",
    "batch_size",
    "unique_tokens",
    "seed",
)

_EXAMPLE = "e.g. 'E + A*params**-alpha' or 'E + A/params^alpha + B/tokens^beta'"

#: Functions a formula may call, as sympy builders.
_FUNCTIONS: dict[str, Callable[..., sympy.Expr]] = {
    "exp": sympy.exp,
    "log": sympy.log,
    "ln": sympy.log,
    "log2": lambda x: sympy.log(x) / sympy.log(2),
    "log10": lambda x: sympy.log(x) / sympy.log(10),
    "sqrt": sympy.sqrt,
    "tanh": sympy.tanh,
    "sigmoid": lambda x: 1 / (1 + sympy.exp(-x)),
    "softplus": lambda x: sympy.log(1 + sympy.exp(x)),
}
_CONSTANTS: dict[str, sympy.Expr] = {"pi": sympy.pi}
# Names the parser's generated code uses; a formula may not shadow them.
_RESERVED = frozenset({"Symbol", "Integer", "Float", "Rational", "Function"})
_OPERATORS = frozenset({"+", "-", "*", "/", "**", "^", "(", ")", ","})
_GREEK = frozenset(
    "alpha beta gamma delta epsilon eps zeta eta theta iota kappa lam lamda mu nu xi omicron rho sigma "
    "tau upsilon phi chi psi omega".split()
)

_MAX_STARTS = 2048
# Candidate parameter sets tried while choosing the starts of nonlinear amplitudes.
_MAX_TRIALS = 100_000
# Entries (sets x rows) evaluated at once while choosing amplitude starts.
_SEARCH_BLOCK = 2_000_000

_ROLE_TEXT = {
    "floor": "floor (irreducible value)",
    "amplitude": "amplitude (positive scale)",
    "exponent": "exponent",
    "other": "free parameter",
}


# ---------------------------------------------------------------------------------------- parsing
@dataclass(frozen=True)
class _Parsed:
    expr: sympy.Expr
    names: tuple[str, ...]  # symbol names in order of first appearance in the text


def _normalize(expression: str) -> str:
    if not isinstance(expression, str):
        raise LawError(f"an expression must be a string, not {type(expression).__name__}; {_EXAMPLE}")
    text = " ".join(expression.split())
    if not text:
        raise LawError(f"the expression is empty; write a formula, {_EXAMPLE}")
    return text


def _tokens(text: str) -> list[tokenize.TokenInfo]:
    try:
        return list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError) as exc:
        raise LawError(f"cannot parse expression {text!r}: {exc.args[0]}; check the parentheses, {_EXAMPLE}") from None


def _symbol_names(text: str) -> tuple[str, ...]:
    """Check every token of ``text`` and return the symbol names in order of first appearance."""
    toks = [t for t in _tokens(text) if t.type not in (tokenize.NEWLINE, tokenize.NL, tokenize.ENDMARKER)]
    names: list[str] = []
    for i, tok in enumerate(toks):
        nxt = toks[i + 1].string if i + 1 < len(toks) else ""
        if tok.type == tokenize.NAME:
            name = tok.string
            if keyword.iskeyword(name) or keyword.issoftkeyword(name):
                raise LawError(
                    f"expression {text!r}: {name!r} is a Python keyword and cannot be a symbol; "
                    f"rename it (e.g. 'lam' for lambda), {_EXAMPLE}"
                )
            if name.startswith("_") or name in _RESERVED:
                raise LawError(f"expression {text!r}: the name {name!r} is not allowed; {_EXAMPLE}")
            if nxt == "(":
                if name not in _FUNCTIONS:
                    raise LawError(
                        f"expression {text!r} calls unknown function {name!r}; allowed functions are "
                        f"{', '.join(_FUNCTIONS)}, e.g. 'E + A*exp(-step/tau)'"
                    )
            elif name in _FUNCTIONS:
                raise LawError(f"expression {text!r}: {name!r} is a function; call it as {name}(...), {_EXAMPLE}")
            elif name not in _CONSTANTS and name not in names:
                names.append(name)
        elif tok.type == tokenize.NUMBER:
            if tok.string[-1] in "jJ":
                raise LawError(f"expression {text!r}: complex numbers such as {tok.string!r} are not allowed")
        elif tok.type == tokenize.OP and tok.string in _OPERATORS:
            continue
        else:
            raise LawError(
                f"expression {text!r}: {tok.string!r} is not allowed; use names, numbers, + - * / ** ^ "
                f"parentheses and the functions {', '.join(_FUNCTIONS)}, {_EXAMPLE}"
            )
    return tuple(names)


@functools.lru_cache(maxsize=256)
def _parse(text: str) -> _Parsed:
    names = _symbol_names(text)
    namespace: dict[str, Any] = {
        "__builtins__": {},
        "Symbol": sympy.Symbol,
        "Integer": sympy.Integer,
        "Float": sympy.Float,
        "Rational": sympy.Rational,
        **_FUNCTIONS,
        **_CONSTANTS,
    }
    try:
        expr = parse_expr(
            text,
            local_dict={},
            global_dict=namespace,
            transformations=(auto_symbol, auto_number, convert_xor),
        )
    except Exception as exc:  # any parser or sympy error means the text is not a valid formula
        detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        raise LawError(f"cannot parse expression {text!r} ({detail}); write a formula, {_EXAMPLE}") from None
    if not isinstance(expr, sympy.Expr):
        raise LawError(f"expression {text!r} is not a single formula; {_EXAMPLE}")
    if expr.has(sympy.zoo, sympy.nan, sympy.oo, -sympy.oo, sympy.I):
        raise LawError(f"expression {text!r} simplifies to something infinite, undefined or complex; {_EXAMPLE}")
    return _Parsed(expr, names)


# ---------------------------------------------------------------------------------------- compiling
@dataclass(frozen=True)
class _Compiled:
    value: Callable[..., Any]
    value_and_grad: Callable[..., Any]
    grad_symbols: dict[str, frozenset[str]]  # symbols each derivative depends on


@functools.lru_cache(maxsize=256)
def _compile(text: str, inputs: tuple[str, ...], params: tuple[str, ...]) -> _Compiled:
    expr = _parse(text).expr
    symbols = {s.name: s for s in expr.free_symbols}
    declared = set(inputs) | set(params)
    if set(inputs) & set(params):
        raise LawError(f"expression {text!r}: {sorted(set(inputs) & set(params))} cannot be both input and parameter")
    if declared != set(symbols):
        missing = sorted(set(symbols) - declared)
        absent = sorted(declared - set(symbols))
        parts = [f"symbols {missing} are neither inputs nor parameters"] if missing else []
        parts += [f"{absent} do not appear in it"] if absent else []
        raise LawError(f"expression {text!r} does not match its inputs and parameters: {'; '.join(parts)}")
    args = [symbols[n] for n in (*params, *inputs)]
    grads = [sympy.diff(expr, symbols[n]) for n in params]
    value = sympy.lambdify(args, expr, modules="numpy", dummify=True)
    both = sympy.lambdify(args, [expr, *grads], modules="numpy", cse=True, dummify=True)
    depends = {n: frozenset(s.name for s in g.free_symbols) for n, g in zip(params, grads, strict=True)}
    return _Compiled(value, both, depends)


# ---------------------------------------------------------------------------------------- default rule
def _stem(name: str) -> str:
    return name.split("_")[0].rstrip("0123456789")


def _coefficients(expr: sympy.Expr, inputs: set[sympy.Symbol]) -> set[str]:
    """Symbols that multiply (or divide) an input-dependent factor, through sums, products and power bases."""
    found: set[str] = set()

    def walk(node: sympy.Basic) -> None:
        if node.is_Add:
            for arg in node.args:
                walk(arg)
        elif node.is_Mul:
            factors = node.args
            for i, factor in enumerate(factors):
                base = factor.base if factor.is_Pow and factor.exp.is_Number else factor
                if base.is_Symbol and base not in inputs:
                    others = factors[:i] + factors[i + 1 :]
                    if any(o.free_symbols & inputs for o in others):
                        found.add(base.name)
                walk(factor)
        elif node.is_Pow:
            walk(node.base)

    walk(expr)
    return found


def _roles(expr: sympy.Expr, params: Sequence[str], inputs: Sequence[str]) -> dict[str, str]:
    input_syms = {s for s in expr.free_symbols if s.name in inputs}
    coefficients = _coefficients(expr, input_syms)
    in_exponent = {s.name for node in sympy.preorder_traversal(expr) if node.is_Pow for s in node.exp.free_symbols}
    roles = {}
    for name in params:
        stem = _stem(name)
        if name[0] in "EL":
            roles[name] = "floor"
        elif (len(name) == 1 and name.isupper()) or name.endswith("_c") or name in coefficients:
            roles[name] = "amplitude"
        elif stem in _GREEK or (len(stem) == 1 and stem.islower()) or name in in_exponent:
            roles[name] = "exponent"
        else:
            roles[name] = "other"
    return roles


def _default_parameter(
    name: str,
    role: str,
    bounds: tuple[float, float] | None,
    transform: str | None,
    grid: Sequence[float] | None,
) -> Parameter:
    lower, upper, trans, start = {
        "floor": (0.0, math.inf, "identity", ()),
        "amplitude": (1e-12, 1e30, "log", ()),
        "exponent": (0.0, 5.0, "identity", (0.1, 0.3, 0.6)),
        "other": (-math.inf, math.inf, "identity", ()),
    }[role]
    if transform is not None:
        trans = transform
        if transform == "log" and bounds is None and lower < 0:
            lower = 0.0
    if bounds is not None:
        try:
            lower, upper = (float(b) for b in bounds)
        except (TypeError, ValueError):
            raise LawError(f"bounds for {name!r} must be a pair (lower, upper), not {bounds!r}") from None
        start = tuple(g for g in start if lower <= g <= upper)
    if grid is not None:
        start = tuple(float(g) for g in grid)
    return Parameter(name, lower, upper, trans, start, _ROLE_TEXT[role])


def _check_keys(what: str, given: Mapping[str, Any] | None, params: Sequence[str], text: str) -> dict[str, Any]:
    given = dict(given or {})
    unknown = sorted(set(given) - set(params))
    if unknown:
        raise LawError(
            f"{what} name(s) {', '.join(unknown)} that are not parameters of {text!r}; "
            f"its parameters are {', '.join(params)}"
        )
    return given


def _rename(text: str, mapping: Mapping[str, str]) -> str:
    """Rename symbols token by token (a simultaneous rename, so swaps work)."""
    out = text
    for tok in reversed(_tokens(text)):
        if tok.type == tokenize.NAME and tok.string in mapping:
            (_, start), (_, end) = tok.start, tok.end
            out = out[:start] + mapping[tok.string] + out[end:]
    return out


# ---------------------------------------------------------------------------------------- the law
@dataclass(frozen=True, eq=False)
class ExpressionLaw(Law):
    """A law given by a formula; build it with :meth:`from_expression`.

    Examples
    --------
    >>> law = ExpressionLaw.from_expression("E + A*params**-alpha")
    >>> law.inputs, law.param_names
    (('params',), ('E', 'A', 'alpha'))
    >>> float(law.predict({"E": 1.0, "A": 10.0, "alpha": 0.5}, params=100.0)[0])
    2.0
    """

    expression: str = ""

    def __post_init__(self) -> None:
        super().__post_init__()
        _compile(_normalize(self.expression), self.inputs, self.param_names)  # validates, warms the cache

    @classmethod
    def from_expression(
        cls,
        expression: str,
        inputs: Sequence[str] | None = None,
        bounds: Mapping[str, tuple[float, float]] | None = None,
        grid: Mapping[str, Sequence[float]] | None = None,
        transforms: Mapping[str, str] | None = None,
        output: str = "loss",
        name: str = "expression",
    ) -> ExpressionLaw:
        """Build a law from a formula such as ``"E + A*params**-alpha"``.

        Parameters
        ----------
        expression : str
            Python-style formula; ``^`` also means power. Functions: exp, log (ln), log2, log10,
            sqrt, tanh, sigmoid, softplus; constant: pi.
        inputs : sequence of str, optional
            Extra symbols to read as data columns (the standard columns need not be listed).
        bounds, grid, transforms : mapping, optional
            Per-parameter overrides of the defaults (see the module docstring for the naming rule).
        output : str
            Column the law predicts.
        name : str
            Name shown in results.
        """
        text = _normalize(expression)
        parsed = _parse(text)
        free = {s.name for s in parsed.expr.free_symbols}
        ordered = [n for n in parsed.names if n in free]
        if isinstance(inputs, str):
            inputs = [inputs]
        extra = list(inputs or ())
        for column in extra:
            if column not in free:
                raise LawError(
                    f"input {column!r} does not appear in expression {text!r} (its symbols are "
                    f"{', '.join(ordered) or 'none'}); e.g. 'E + A*{column}**-alpha'"
                )
        input_names = [n for n in ordered if n in DATA_COLUMNS or n in extra]
        param_names = [n for n in ordered if n not in input_names]
        if not input_names:
            raise LawError(
                f"expression {text!r} reads no data column: use one of {', '.join(DATA_COLUMNS)} "
                f"(e.g. 'E + A*params**-alpha'), or name your column with inputs=['N']"
            )
        if not param_names:
            raise LawError(
                f"expression {text!r} has no parameters to fit: every symbol is a data column; "
                f"add parameters, {_EXAMPLE}"
            )
        bounds_ = _check_keys("bounds", bounds, param_names, text)
        grid_ = _check_keys("grid", grid, param_names, text)
        transforms_ = _check_keys("transforms", transforms, param_names, text)
        roles = _roles(parsed.expr, param_names, input_names)
        parameters = tuple(
            _default_parameter(n, roles[n], bounds_.get(n), transforms_.get(n), grid_.get(n)) for n in param_names
        )
        return cls(
            name=name,
            inputs=tuple(input_names),
            parameters=parameters,
            output=output,
            description=text,
            expression=text,
        )

    # ------------------------------------------------------------------ evaluation
    @property
    def _compiled(self) -> _Compiled:
        return _compile(_normalize(self.expression), self.inputs, self.param_names)

    def log_predict_jac(self, theta, X, jac=True):
        theta = np.asarray(theta, dtype=np.float64)
        n_sets = theta.shape[0]
        columns = [theta[:, k : k + 1] for k in range(self.n_params)]
        rows = [np.asarray(X[name], dtype=np.float64)[None, :] for name in self.inputs]
        shape = (n_sets, rows[0].shape[1])
        compiled = self._compiled
        with np.errstate(all="ignore"):
            if not jac:
                value = np.broadcast_to(np.asarray(compiled.value(*columns, *rows), dtype=np.float64), shape)
                return np.log(value), None
            value, *grads = compiled.value_and_grad(*columns, *rows)
            value = np.broadcast_to(np.asarray(value, dtype=np.float64), shape)
            inv = 1.0 / value
            J = np.empty((n_sets, self.n_params, shape[1]))
            for k, g in enumerate(grads):  # one block per parameter; rows and sets stay vectorized
                J[:, k, :] = g * inv
            return np.log(value), J

    def start_grid(self, X, y):
        y = np.asarray(y, dtype=np.float64)
        ok = np.isfinite(y) & (y > 0)
        y_min = float(np.min(y[ok])) if ok.any() else 1.0
        grids: list[tuple[float, ...]] = []
        search: list[int] = []
        for k, p in enumerate(self.parameters):
            if p.grid:
                grids.append(p.grid)
            elif p.transform == "log":
                grids.append((min(max(p.lower, 1e-12), p.upper),))  # "off" until the search sets it
                search.append(k)
            elif p.name[0] in "EL" and p.lower >= 0:
                grids.append(tuple(f * y_min for f in (0.0, 0.5, 0.9)))
            else:
                grids.append((_default_start(p),))
        starts = np.array(list(itertools.product(*grids)), dtype=np.float64)
        if starts.shape[0] > _MAX_STARTS:
            starts = starts[np.unique(np.linspace(0, starts.shape[0] - 1, _MAX_STARTS).astype(int))]
        starts = self.clip(starts)
        if search and ok.any():
            X_ok = {n: np.asarray(X[n], dtype=np.float64)[ok] for n in self.inputs}
            starts = self._search_amplitudes(starts, search, X_ok, y[ok])
        return starts

    def _search_amplitudes(
        self, starts: np.ndarray, search: list[int], X: Mapping[str, np.ndarray], y: np.ndarray
    ) -> np.ndarray:
        """Choose the searched (log-transformed) parameters of every start from the data.

        Parameters the formula is linear in (with a coefficient free of the other such parameters)
        are solved for: each of the K linear terms gets 1/K of what the rest of the formula leaves
        unexplained, by least squares on the log scale. The others are tried on a one-value-per-decade
        grid (coarser when there are several), keeping the best candidate per start.
        """
        names = self.param_names
        depends = self._compiled.grad_symbols
        linear = [k for k in search if names[k] not in depends[names[k]]]
        while True:
            linear_names = {names[k] for k in linear}
            keep = [k for k in linear if not depends[names[k]] & linear_names]
            if keep == linear:
                break
            linear = keep
        nonlinear = [k for k in search if k not in linear]
        n_starts = starts.shape[0]
        if nonlinear:
            per_start = max(1, _MAX_TRIALS // n_starts)
            per_axis = max(2, min(43, int(per_start ** (1.0 / len(nonlinear)))))
            axes = []
            for k in nonlinear:
                p = self.parameters[k]
                lo, hi = max(p.lower, 1e-12), min(p.upper, 1e30)
                axes.append(np.geomspace(lo, hi, per_axis) if hi > lo else np.array([lo]))
            cand = np.array(list(itertools.product(*axes)))
        else:
            cand = np.empty((1, 0))
        trial = np.repeat(starts, cand.shape[0], axis=0)
        trial[:, nonlinear] = np.tile(cand, (n_starts, 1))
        log_y = np.log(y)
        loss = np.empty(trial.shape[0])
        per_block = max(1, _SEARCH_BLOCK // max(1, y.size))
        for i in range(0, trial.shape[0], per_block):
            block = trial[i : i + per_block]
            if linear:
                block[:] = self._solve_linear(block, linear, X, y)
            log_pred, _ = self.log_predict_jac(block, X, jac=False)
            with np.errstate(all="ignore"):
                total = np.sum((log_pred - log_y) ** 2, axis=1)
            loss[i : i + per_block] = np.where(np.isfinite(total), total, np.inf)
        best = np.argmin(loss.reshape(n_starts, cand.shape[0]), axis=1)
        return self.clip(trial[np.arange(n_starts) * cand.shape[0] + best])

    def _solve_linear(
        self, theta: np.ndarray, linear: list[int], X: Mapping[str, np.ndarray], y: np.ndarray
    ) -> np.ndarray:
        theta = theta.copy()
        theta[:, linear] = 0.0
        columns = [theta[:, k : k + 1] for k in range(self.n_params)]
        rows = [np.asarray(X[name], dtype=np.float64)[None, :] for name in self.inputs]
        with np.errstate(all="ignore"):
            rest, *grads = self._compiled.value_and_grad(*columns, *rows)
            share = (y[None, :] - rest) / len(linear)
            for k in linear:
                ratio = np.broadcast_to(share / grads[k], (theta.shape[0], y.size))
                valid = np.isfinite(ratio) & (ratio > 0)
                count = valid.sum(axis=1)
                log_a = np.where(valid, np.log(np.where(valid, ratio, 1.0)), 0.0).sum(axis=1) / np.maximum(count, 1)
                theta[:, k] = np.where(count > 0, np.exp(log_a), 1.0)
        return self.clip(theta)

    # ------------------------------------------------------------------ variations and JSON
    def with_inputs(self, *columns: str) -> Law:
        if len(columns) != len(self.inputs):
            raise LawError(
                f"law {self.name!r} has {len(self.inputs)} input(s) ({', '.join(self.inputs)}); "
                f"got {len(columns)} column name(s): {', '.join(columns)}"
            )
        if tuple(columns) == self.inputs:
            return self
        clash = sorted(set(columns) & set(self.param_names))
        if clash:
            raise LawError(f"column name(s) {', '.join(clash)} clash with parameters of {self.expression!r}")
        for column in columns:
            if not column.isidentifier():
                raise LawError(f"column {column!r} cannot appear in a formula: it is not a valid identifier")
        text = _rename(_normalize(self.expression), dict(zip(self.inputs, columns, strict=True)))
        return replace(self, inputs=tuple(columns), expression=text, description=text)

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "expression",
            "name": self.name,
            "expression": self.expression,
            "inputs": list(self.inputs),
            "output": self.output,
            "parameters": [p.to_dict() for p in self.parameters],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ExpressionLaw:
        """Rebuild the law :meth:`to_dict` described (bounds, transforms and grids included)."""
        if "expression" not in data:
            raise LawError("an expression law's definition needs an 'expression' entry")
        law = cls.from_expression(
            data["expression"],
            inputs=data.get("inputs"),
            output=data.get("output", "loss"),
            name=data.get("name", "expression"),
        )
        if "inputs" in data:
            law = replace(law, inputs=tuple(data["inputs"]))
        if "parameters" in data:
            params = tuple(Parameter.from_dict(p) for p in data["parameters"])
            if sorted(p.name for p in params) != sorted(law.param_names):
                raise LawError(
                    f"saved parameters {[p.name for p in params]} do not match expression "
                    f"{law.expression!r}, whose parameters are {list(law.param_names)}"
                )
            law = replace(law, parameters=params)
        return law

    def formula(self) -> str:
        return self.expression

    def __repr__(self) -> str:
        inputs, params = ", ".join(self.inputs), ", ".join(self.param_names)
        return f"<ExpressionLaw {self.expression!r}: inputs=({inputs}), params=({params})>"
