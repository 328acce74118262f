"""Laws written as formulas: ``ExpressionLaw.from_expression("E + A*params**-alpha")``.

The formula is parsed by sympy without evaluating user text as Python: it is first checked token by
token (names, numbers, ``+ - * / ** ^ ( ) ,`` only; no attributes, strings, keywords or unknown
functions), then handed to :func:`sympy.parsing.sympy_parser.parse_expr` with a namespace holding
nothing but sympy's number and symbol constructors and the allowed functions.

Before sympy sees it, the text is checked against fixed limits, so a hostile formula (a fit file is
as untrusted as a command line) is refused in microseconds instead of hanging sympy or exhausting
memory: at most :data:`MAX_LENGTH` characters, :data:`MAX_SYMBOLS` symbols, :data:`MAX_NODES` names,
numbers and operations, :data:`MAX_DEPTH` levels of nesting and :data:`MAX_TERMS` terms in one sum;
numbers of at most :data:`MAX_NUMBER_CHARS` characters, and no number sympy would compute exactly
(a literal, a constant part, a power of constants such as ``2**2**30``) beyond 10**:data:`MAX_LOG10`.
Python's own parser (:mod:`ast`) gives the tree these limits are measured on (docs/security.md).

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

import ast
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

#: Limits on a formula, checked before sympy parses it (see the module docstring and docs/security.md).
#: The README's law has 19 characters, 4 symbols and 8 nodes; Kaplan's joint law, one of the
#: deepest in use, nests 5 levels: every limit is an order of magnitude or more above real formulas.
MAX_LENGTH = 1_000
MAX_SYMBOLS = 32
MAX_NODES = 400
MAX_DEPTH = 20
MAX_TERMS = 64
MAX_NUMBER_CHARS = 40
#: No number sympy computes exactly (integers and fractions, which it never rounds) may pass 10**300:
#: ``2**2**30`` would otherwise be a 1-billion-bit integer and ``10**10**10`` one of 4 GB.
MAX_LOG10 = 300.0

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
    if len(expression) > 4 * MAX_LENGTH:  # before split(): do not copy a huge string to say it is too long
        raise LawError(_too_long(len(expression)))
    text = " ".join(expression.split())
    if not text:
        raise LawError(f"the expression is empty; write a formula, {_EXAMPLE}")
    if len(text) > MAX_LENGTH:
        raise LawError(_too_long(len(text)))
    return text


def _too_long(n: int) -> str:
    return (
        f"the expression is {n:,} characters long, over the limit of {MAX_LENGTH:,} (a scaling law takes a few "
        f"dozen); {_EXAMPLE}"
    )


def _shown(text: str, limit: int = 60) -> str:
    """``text`` quoted for a message, cut to ``limit`` characters (a refused formula can be long)."""
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def _tokens(text: str) -> list[tokenize.TokenInfo]:
    try:
        return list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError) as exc:
        raise LawError(f"cannot parse expression {text!r}: {exc.args[0]}; check the parentheses, {_EXAMPLE}") from None


def _symbol_names(text: str) -> tuple[str, ...]:
    """Check every token of ``text`` and return the symbol names in order of first appearance."""
    toks = [t for t in _tokens(text) if t.type not in (tokenize.NEWLINE, tokenize.NL, tokenize.ENDMARKER)]
    names: list[str] = []
    depth = 0
    for i, tok in enumerate(toks):
        nxt = toks[i + 1].string if i + 1 < len(toks) else ""
        if tok.string == "(":
            depth += 1
            if depth > MAX_DEPTH:  # checked here too: Python's own parser gives up at 200 with a cryptic error
                raise LawError(_too_deep(text))
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
                if len(names) > MAX_SYMBOLS:
                    raise LawError(
                        f"expression {_shown(text)} has more than {MAX_SYMBOLS} symbols (inputs and parameters), "
                        "the limit; a scaling law has a handful"
                    )
        elif tok.type == tokenize.NUMBER:
            if tok.string[-1] in "jJ":
                raise LawError(f"expression {text!r}: complex numbers such as {tok.string!r} are not allowed")
            if len(tok.string) > MAX_NUMBER_CHARS:
                raise LawError(
                    f"expression {_shown(text)}: the number {_shown(tok.string, 24)} has {len(tok.string):,} "
                    f"characters, over the limit of {MAX_NUMBER_CHARS}; write it in scientific notation, e.g. 1.5e30"
                )
        elif tok.type == tokenize.OP and tok.string in _OPERATORS:
            if tok.string == ")":
                depth -= 1
            continue
        else:
            raise LawError(
                f"expression {text!r}: {tok.string!r} is not allowed; use names, numbers, + - * / ** ^ "
                f"parentheses and the functions {', '.join(_FUNCTIONS)}, {_EXAMPLE}"
            )
    return tuple(names)


def _too_deep(text: str) -> str:
    return (
        f"expression {_shown(text)} nests deeper than {MAX_DEPTH} levels (parentheses, powers, signs and function "
        f"calls inside one another), the limit; {_EXAMPLE}"
    )


@dataclass(frozen=True)
class _Facts:
    """What the vetting walk knows of one node of the Python parse tree."""

    value: float | None  # the node's value when it is a constant (no symbol in it), else None
    log10: float  # bound on |log10| of the exact numbers (integers, fractions) sympy makes building this node
    terms: int  # terms of the sum this node is (1 if it is not a sum)
    depth: int  # levels of nesting below and including this node


_BINARY = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}
# Runs of + and - (or * and /) count as one level of nesting and one sum: ``a + b + c`` is not deeper than ``a + b``.
_CHAIN = {ast.Add: "sum", ast.Sub: "sum", ast.Mult: "product", ast.Div: "product"}
_FLOAT_FUNCTIONS: dict[str, Callable[[float], float]] = {
    "exp": math.exp,
    "log": math.log,
    "ln": math.log,
    "log2": math.log2,
    "log10": math.log10,
    "sqrt": math.sqrt,
    "tanh": math.tanh,
    "sigmoid": lambda x: 1 / (1 + math.exp(-x)),
    "softplus": lambda x: math.log1p(math.exp(x)),
}


def _chain(node: ast.AST) -> str | None:
    return _CHAIN.get(type(node.op)) if isinstance(node, ast.BinOp) else None


def _children(node: ast.AST, text: str) -> list[ast.AST]:
    """The operands of ``node``, after checking that it is a node a formula may contain."""
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        return [node.left, node.right]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        return [node.operand]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
        if len(node.args) != 1 or any(isinstance(a, ast.Starred) for a in node.args):
            raise LawError(f"expression {_shown(text)}: {node.func.id}() takes exactly one argument; {_EXAMPLE}")
        return list(node.args)
    if isinstance(node, ast.Name) or (
        isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool)
    ):
        return []
    if isinstance(node, ast.Tuple):
        raise LawError(f"expression {_shown(text)} is not a single formula; {_EXAMPLE}")
    raise LawError(
        f"expression {_shown(text)}: {_shown(_segment(text, node), 30)} is not allowed; use names, numbers, "
        f"+ - * / ** ^ parentheses and the functions {', '.join(_FUNCTIONS)}, {_EXAMPLE}"
    )


def _segment(text: str, node: ast.AST) -> str:
    return ast.get_source_segment(text, node) or type(node).__name__


def _fold(node: ast.AST, kids: list[_Facts], text: str) -> _Facts:
    """Facts of ``node`` from those of its operands; refuses numbers past the limits (message names the part)."""

    def refuse(problem: str) -> LawError:
        return LawError(f"expression {_shown(text)}: {_shown(_segment(text, node), 40)} {problem}; {_EXAMPLE}")

    depth = 1 + max((k.depth for k in kids), default=0)
    if isinstance(node, ast.Constant):
        value = float(node.value)
        if not math.isfinite(value) or abs(value) > 10**MAX_LOG10:
            raise refuse(f"is beyond ±1e{MAX_LOG10:.0f}, the largest number a formula may hold")
        # Only integers are exact in sympy (and fractions made of them); a float literal stays a rounded Float.
        exact = isinstance(node.value, int) and value != 0
        return _Facts(value, abs(math.log10(abs(value))) if exact else 0.0, 1, depth)
    if isinstance(node, ast.Name):
        return _Facts(math.pi, 0.5, 1, depth) if node.id in _CONSTANTS else _Facts(None, 0.0, 1, depth)
    if isinstance(node, ast.UnaryOp):
        (a,) = kids
        value = None if a.value is None else (-a.value if isinstance(node.op, ast.USub) else a.value)
        return _Facts(value, a.log10, 1, depth)
    if isinstance(node, ast.Call):
        (a,) = kids
        value = None
        if a.value is not None:
            try:
                value = _FLOAT_FUNCTIONS[node.func.id](a.value)
            except (OverflowError, ValueError, ZeroDivisionError):
                raise refuse("is infinite, undefined or complex") from None
        return _check_constant(_Facts(value, a.log10, 1, depth), refuse)
    a, b = kids
    op = type(node.op)
    if _chain(node) is not None:
        # A run of the same kind of operation is one level and one sum; constants in it are combined exactly
        # (sums of fractions multiply denominators), hence the sum of the bounds.
        depth = max(a.depth if _chain(node.left) == _chain(node) else a.depth + 1, b.depth + 1)
        terms = (a.terms if _chain(node.left) == _chain(node) == "sum" else 1) + 1 if _chain(node) == "sum" else 1
        if terms > MAX_TERMS:
            raise LawError(
                f"expression {_shown(text)} adds more than {MAX_TERMS} terms in one sum, the limit; {_EXAMPLE}"
            )
        value = None
        if a.value is not None and b.value is not None:
            if op is ast.Div and b.value == 0:
                raise refuse("divides by zero: the formula would be infinite")
            value = {ast.Add: a.value + b.value, ast.Sub: a.value - b.value, ast.Mult: a.value * b.value}.get(
                op, a.value / b.value if b.value else 0.0
            )
        return _check_constant(_Facts(value, a.log10 + b.log10, terms, depth), refuse)
    # A power: sympy raises the constants of the base to a constant exponent exactly ((2*x)**3 is 8*x**3).
    if b.value is None:
        return _Facts(None, max(a.log10, b.log10), 1, depth)
    size = abs(b.value) * a.log10 + b.log10
    if a.value is not None:
        if a.value == 0 and b.value < 0:
            raise refuse("divides by zero: the formula would be infinite")
        if a.value < 0 and not b.value.is_integer():
            raise refuse("is a complex number")
        size = max(size, abs(b.value * math.log10(abs(a.value))) if a.value else 0.0)
    if size > MAX_LOG10:
        raise refuse(
            f"would make numbers of about 10^{size:.3g}, beyond the limit of 1e{MAX_LOG10:.0f} "
            "(powers of constants are computed exactly)"
        )
    value = None if a.value is None else a.value**b.value  # a negative base has an integer exponent here
    return _check_constant(_Facts(value, size, 1, depth), refuse)


def _check_constant(facts: _Facts, refuse: Callable[[str], LawError]) -> _Facts:
    if facts.value is not None and not (math.isfinite(facts.value) and abs(facts.value) <= 10**MAX_LOG10):
        raise refuse(f"is beyond ±1e{MAX_LOG10:.0f}, the largest number a formula may hold")
    if facts.log10 > MAX_LOG10:
        raise refuse(f"would make numbers beyond the limit of 1e{MAX_LOG10:.0f}")
    return facts


def _vet(text: str) -> None:
    """Check ``text`` (already token-checked) against the limits on Python's parse tree; raise LawError if over.

    The walk is iterative, so no input can exhaust the interpreter's stack; it touches each node twice.
    """
    try:
        tree = ast.parse(text.replace("^", "**"), mode="eval")  # `^` is power, as for sympy's convert_xor
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        detail = exc.msg if isinstance(exc, SyntaxError) else type(exc).__name__
        raise LawError(f"cannot parse expression {_shown(text)} ({detail}); write a formula, {_EXAMPLE}") from None
    source = text.replace("^", "**")
    facts: dict[int, _Facts] = {}
    stack: list[tuple[ast.AST, bool]] = [(tree.body, False)]
    seen = 0
    while stack:
        node, done = stack.pop()
        kids = _children(node, source)
        if done:
            facts[id(node)] = fact = _fold(node, [facts.pop(id(k)) for k in kids], source)
            if fact.depth > MAX_DEPTH:
                raise LawError(_too_deep(text))
            continue
        seen += 1
        if seen > MAX_NODES:
            raise LawError(
                f"expression {_shown(text)} has more than {MAX_NODES} names, numbers and operations, the limit; "
                f"{_EXAMPLE}"
            )
        stack.append((node, True))
        stack.extend((k, False) for k in kids)


@functools.lru_cache(maxsize=256)
def _parse(text: str) -> _Parsed:
    names = _symbol_names(text)
    _vet(text)  # sympy only ever sees a formula within the limits
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


def named_like_parameter(name: str) -> bool:
    """Whether ``name`` is a parameter's by the naming rule alone (a floor ``E``/``L...``, an amplitude ``A`` or
    ``N_c``, an exponent ``alpha`` or ``a1``): the command line never reads such a symbol as a data column unless
    ``--x`` names it.

    >>> named_like_parameter("alpha"), named_like_parameter("B"), named_like_parameter("datastore")
    (True, True, False)
    """
    stem = _stem(name)
    return (
        name[0] in "EL"
        or (len(name) == 1 and name.isupper())
        or name.endswith("_c")
        or stem in _GREEK
        or (len(stem) == 1 and stem.islower())
    )


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


def _product_subset(grids: Sequence[Sequence[float]], limit: int) -> np.ndarray:
    """Rows of the Cartesian product of ``grids``, or ``limit`` evenly spaced ones when it has more.

    The chosen rows are decoded from their indices rather than cut from the full product, which a
    formula with many exponents (3 starts each) would make too large to hold: 3**30 rows.
    """
    sizes = [len(g) for g in grids]
    total = math.prod(sizes)
    if total <= limit:
        return np.array(list(itertools.product(*grids)), dtype=np.float64).reshape(total, len(grids))
    if total < 2**53:  # exact in floating point: the same rows as slicing the full product with linspace
        picks = [int(i) for i in np.unique(np.linspace(0, total - 1, limit).astype(np.int64))]
    else:  # Python integers: no overflow however many grids
        picks = sorted({(total - 1) * i // (limit - 1) for i in range(limit)})
    out = np.empty((len(picks), len(grids)))
    for row, index in enumerate(picks):
        for k in range(len(grids) - 1, -1, -1):  # the last grid varies fastest, as in itertools.product
            index, digit = divmod(index, sizes[k])
            out[row, k] = grids[k][digit]
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
        roles: Mapping[str, str | None] | None = None,
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
        roles : mapping of str to {"N", "D", "C", None}, optional
            What inputs stand for, where it differs from the default (``params`` is the model size N,
            ``tokens`` the training data D, ``flops`` the compute C, any other column nothing): e.g.
            ``{"N_ne": "N"}``, or ``{"datastore": None}`` to say a column is not training tokens. Columns
            named here are inputs without being listed in ``inputs``. Compute-optimal decisions read N and
            D from the roles (docs/laws.md §0).
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
        extra += [column for column in roles or () if column not in extra]  # a column with a role is an input
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
        kinds = _roles(parsed.expr, param_names, input_names)  # floor, amplitude, exponent or other
        parameters = tuple(
            _default_parameter(n, kinds[n], bounds_.get(n), transforms_.get(n), grid_.get(n)) for n in param_names
        )
        return cls(
            name=name,
            inputs=tuple(input_names),
            parameters=parameters,
            output=output,
            description=text,
            expression=text,
            roles=dict(roles or {}),
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
        starts = self.clip(_product_subset(grids, _MAX_STARTS))
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
        if not self._renames(columns):
            return self
        clash = sorted(set(columns) & set(self.param_names))
        if clash:
            raise LawError(f"column name(s) {', '.join(clash)} clash with parameters of {self.expression!r}")
        for column in columns:
            if not column.isidentifier():
                raise LawError(f"column {column!r} cannot appear in a formula: it is not a valid identifier")
        text = _rename(_normalize(self.expression), dict(zip(self.inputs, columns, strict=True)))
        return replace(self, inputs=tuple(columns), expression=text, description=text, roles=self._roles_for(columns))

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "expression",
            "name": self.name,
            "expression": self.expression,
            "inputs": list(self.inputs),
            "roles": dict(self.roles),
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
        if "roles" in data:  # definitions written before roles existed take the canonical names' roles
            law = replace(law, roles=dict(data["roles"]))
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
