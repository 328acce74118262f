"""A small checker for JSON read from files scalelaw did not necessarily write (docs/security.md).

A schema is data: nested :class:`Obj`, :class:`List`, :class:`Map` and leaf checks (:class:`Num`,
:class:`Text`, :class:`Name`, :class:`Bool`, :class:`OneOf`, :class:`Bound`). Calling a schema on a
value checks it and returns it (numbers as float or int); the first fault raises :class:`Invalid`
with its JSON path (``params.alpha``, ``law_definition.parameters[2].lower``) and what was wrong, for
the caller to turn into a :class:`~scalelaw.errors.DataError` naming the file.

:func:`parse_json` and :func:`read_limited` bound what reading costs: file size, nesting depth.
No new dependency: ``jsonschema`` would add a package for a few dozen lines of checks, and its
messages would not say how to fix the file.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Mapping
from typing import Any

#: Deepest nesting of arrays and objects accepted in a JSON file. A fit nests 5 or 6 levels (one more per
#: law held fixed inside another); Python's own parser would fail with RecursionError near 1,000.
MAX_JSON_DEPTH = 32
#: Largest fit file read, in bytes: a fit keeps its data, about 30 bytes a value, so this holds fits to
#: millions of rows, while a runaway file (or /dev/zero) is refused before it fills the memory.
MAX_FILE_BYTES = 256 * 1024**2
#: Longest free text (descriptions, notes, sources) and name (parameters, columns, laws), in characters.
MAX_TEXT = 10_000
MAX_NAME = 200


class Invalid(Exception):
    """A value does not follow its schema: ``where`` (a JSON path) ``problem`` (what was wrong)."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where} {problem}" if where else problem)
        self.where = where
        self.problem = problem


def shown(value: Any, limit: int = 40) -> str:
    """A short JSON-like rendering of ``value`` for messages: ``"x"``, ``NaN``, ``a list of 3 items``."""
    if isinstance(value, str):
        return json.dumps(value if len(value) <= limit else value[: limit - 1] + "…")
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, int) and abs(value) > 10**limit:
        return f"an integer of {len(str(abs(value)))} digits" if abs(value) < 10**4000 else "a huge integer"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return f"a list of {len(value)} item{'s' if len(value) != 1 else ''}"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def path(where: str, key: str | int) -> str:
    """``where`` extended by a key (``a.b``, ``a["train flops"]``) or an index (``a[3]``)."""
    if isinstance(key, int):
        return f"{where}[{key}]"
    if key.isidentifier():
        return f"{where}.{key}" if where else key
    return f"{where}[{json.dumps(key if len(key) <= 40 else key[:39] + '…')}]"


class Schema:
    """Base of every check: ``schema(value, where)`` returns the checked value or raises :class:`Invalid`."""

    optional: bool = False

    def __call__(self, value: Any, where: str) -> Any:
        raise NotImplementedError


class Num(Schema):
    """A JSON number (never a boolean): ``finite`` refuses NaN and infinities, ``integer`` wants a whole number."""

    def __init__(
        self,
        finite: bool = True,
        integer: bool = False,
        low: float | None = None,
        high: float | None = None,
        optional: bool = False,
    ) -> None:
        self.finite, self.integer, self.low, self.high, self.optional = finite, integer, low, high, optional

    def __call__(self, value: Any, where: str) -> Any:
        what = "a whole number" if self.integer else ("a finite number" if self.finite else "a number")
        if self.low is not None and self.high is not None:
            what += f" from {self.low:g} to {self.high:g}"
        elif self.low is not None:
            what += f" >= {self.low:g}"
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if ok and self.integer:
            ok = isinstance(value, int)
        if ok and isinstance(value, int) and abs(value) > 1e308:  # a float() of it would overflow
            ok = False
        if ok and self.finite:
            ok = math.isfinite(value)
        if ok and not math.isnan(value):
            ok = (self.low is None or value >= self.low) and (self.high is None or value <= self.high)
        if not ok:
            raise Invalid(where, f"must be {what}, got {shown(value)}")
        return value if self.integer else float(value)


class Bound(Schema):
    """A parameter bound: a number, or ``"inf"`` / ``"-inf"`` (how scalelaw writes infinite bounds); never NaN."""

    def __init__(self, optional: bool = False) -> None:
        self.optional = optional

    def __call__(self, value: Any, where: str) -> float:
        if isinstance(value, str) and value.strip().lower() in ("inf", "+inf", "-inf", "infinity", "-infinity"):
            return float(value.strip().lower().replace("infinity", "inf"))
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if ok and isinstance(value, int) and abs(value) > 1e308:  # isnan(value) would overflow
            ok = False
        if ok and math.isnan(value):
            ok = False
        if not ok:
            raise Invalid(where, f'must be a number, "inf" or "-inf", got {shown(value)}')
        return float(value)


class Bool(Schema):
    def __init__(self, optional: bool = False) -> None:
        self.optional = optional

    def __call__(self, value: Any, where: str) -> bool:
        if not isinstance(value, bool):
            raise Invalid(where, f"must be true or false, got {shown(value)}")
        return value


class Text(Schema):
    """A string of at most ``limit`` characters (``empty=False`` refuses ``""``)."""

    def __init__(self, limit: int = MAX_TEXT, empty: bool = True, optional: bool = False) -> None:
        self.limit, self.empty, self.optional = limit, empty, optional

    def __call__(self, value: Any, where: str) -> str:
        if not isinstance(value, str):
            raise Invalid(where, f"must be a string, got {shown(value)}")
        if len(value) > self.limit:
            raise Invalid(where, f"is {len(value):,} characters long, over the limit of {self.limit:,}")
        if not self.empty and not value:
            raise Invalid(where, "must not be empty")
        return value


class Name(Text):
    """A Python identifier (parameter and input names appear in formulas), at most :data:`MAX_NAME` characters."""

    def __init__(self, optional: bool = False) -> None:
        super().__init__(MAX_NAME, empty=False, optional=optional)

    def __call__(self, value: Any, where: str) -> str:
        super().__call__(value, where)
        if not value.isidentifier():
            raise Invalid(where, f"must be a name (letters, digits and _, not first a digit), got {shown(value)}")
        return value


class OneOf(Schema):
    def __init__(self, *choices: Any, optional: bool = False) -> None:
        self.choices, self.optional = choices, optional

    def __call__(self, value: Any, where: str) -> Any:
        if isinstance(value, bool) or not any(value == c and type(value) is type(c) for c in self.choices):
            raise Invalid(where, f"must be one of {', '.join(map(shown, self.choices))}, got {shown(value)}")
        return value


class Any_(Schema):
    """Anything (still within the file's size and depth limits): for entries that are only passed along."""

    def __init__(self, optional: bool = False) -> None:
        self.optional = optional

    def __call__(self, value: Any, where: str) -> Any:
        return value


class Either(Schema):
    """The first of ``options`` that accepts the value; the message lists what each wanted."""

    def __init__(self, *options: Schema, optional: bool = False) -> None:
        self.options, self.optional = options, optional

    def __call__(self, value: Any, where: str) -> Any:
        problems = []
        for option in self.options:
            try:
                return option(value, where)
            except Invalid as exc:
                problems.append(exc.problem.split(", got ")[0].removeprefix("must be "))
        listed = ", ".join(problems[:-1]) + f" or {problems[-1]}" if len(problems) > 1 else problems[0]
        raise Invalid(where, f"must be {listed}, got {shown(value)}")


class Null(Schema):
    def __call__(self, value: Any, where: str) -> None:
        if value is not None:
            raise Invalid(where, f"must be null, got {shown(value)}")
        return None


class List(Schema):
    """A list of ``item``, with ``low <= len <= high`` entries (``length`` fixes it)."""

    def __init__(
        self,
        item: Schema,
        high: int | None = None,
        low: int = 0,
        length: int | None = None,
        optional: bool = False,
    ) -> None:
        self.item, self.high, self.low, self.optional = item, high, low, optional
        if length is not None:
            self.low = self.high = length

    def __call__(self, value: Any, where: str) -> list:
        if not isinstance(value, list | tuple):  # tuples: definitions built in memory, not read from JSON
            raise Invalid(where, f"must be a list, got {shown(value)}")
        if self.low == self.high and len(value) != self.low:
            raise Invalid(where, f"must have {self.low} entries, got {len(value)}")
        if len(value) < self.low:
            raise Invalid(where, f"must have at least {self.low} entries, got {len(value)}")
        if self.high is not None and len(value) > self.high:
            raise Invalid(where, f"must have at most {self.high:,} entries, got {len(value):,}")
        return [self.item(v, path(where, i)) for i, v in enumerate(value)]


class Map(Schema):
    """An object used as a mapping: every key checked by ``key``, every value by ``value``, at most ``high`` entries."""

    def __init__(self, value: Schema, key: Schema | None = None, high: int | None = None, optional: bool = False):
        self.value, self.key, self.high, self.optional = value, key or Text(MAX_NAME), high, optional

    def __call__(self, value: Any, where: str) -> dict:
        if not isinstance(value, Mapping):
            raise Invalid(where, f"must be an object, got {shown(value)}")
        if self.high is not None and len(value) > self.high:
            raise Invalid(where, f"must have at most {self.high:,} entries, got {len(value):,}")
        out = {}
        for k, v in value.items():
            self.key(k, path(where, "<key>") if not isinstance(k, str) else f"{path(where, k)} (a key)")
            out[k] = self.value(v, path(where, k))
        return out


class Obj(Schema):
    """An object with known keys: required ones must be there, optional ones are checked when present.

    Unknown keys are ignored (a reader does not depend on them), but they still count towards the
    file's size and depth limits.
    """

    def __init__(self, fields: Mapping[str, Schema], optional: bool = False) -> None:
        self.fields, self.optional = dict(fields), optional

    def __call__(self, value: Any, where: str) -> dict:
        if not isinstance(value, Mapping):
            raise Invalid(where, f"must be an object, got {shown(value)}")
        out = {}
        for key, schema in self.fields.items():
            if key not in value:
                if not schema.optional:
                    raise Invalid(path(where, key), "is missing")
                continue
            out[key] = schema(value[key], path(where, key))
        return out


class Check(Schema):
    """``schema`` followed by a custom test ``test(value) -> problem or None`` (for rules across entries)."""

    def __init__(self, schema: Schema, test: Callable[[Any], str | None]) -> None:
        self.schema, self.test, self.optional = schema, test, schema.optional

    def __call__(self, value: Any, where: str) -> Any:
        value = self.schema(value, where)
        problem = self.test(value)
        if problem:
            raise Invalid(where, problem)
        return value


# ---------------------------------------------------------------------------------------------- reading
def read_limited(file: str | os.PathLike, limit: int | None = None) -> bytes:
    """The bytes of ``file``, refusing more than ``limit`` (default :data:`MAX_FILE_BYTES`); one bounded read.

    Raises
    ------
    Invalid
        ``where`` empty, ``problem`` saying what is wrong (not a file, unreadable, too large).
    """
    limit = MAX_FILE_BYTES if limit is None else limit
    if os.path.isdir(file):
        raise Invalid("", "is a directory, not a file")
    try:
        with open(file, "rb") as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        raise Invalid("", f"cannot be read: {exc.strerror or type(exc).__name__}") from None
    if len(data) > limit:
        raise Invalid("", f"is larger than {limit / 1024**2:.0f} MB, the limit for this kind of file")
    return data


def parse_json(data: bytes | str, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Parse JSON text (UTF-8 bytes or str) and refuse nesting deeper than ``max_depth``.

    NaN and Infinity are accepted (scalelaw writes them for undefined standard errors); whoever uses
    the value checks where they are allowed.

    Raises
    ------
    Invalid
        Not UTF-8, not JSON (with line and column), or nested too deeply.
    """
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise Invalid("", f"is not UTF-8 text (a binary file?): byte {exc.start} cannot be decoded") from None
    try:
        value = json.loads(data)
    except json.JSONDecodeError as exc:
        raise Invalid("", f"is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:  # Python's parser recurses once per level
        raise Invalid("", f"is nested too deeply (more than {max_depth} levels of arrays and objects)") from None
    except ValueError as exc:  # e.g. an integer with more digits than Python converts
        raise Invalid("", f"is not valid JSON: {exc}") from None
    if depth_exceeds(value, max_depth):
        raise Invalid("", f"is nested too deeply (more than {max_depth} levels of arrays and objects)")
    return value


def depth_exceeds(value: Any, max_depth: int) -> bool:
    """Whether lists and dicts nest deeper than ``max_depth`` in ``value`` (iterative: no recursion limit)."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, list | dict):
            if depth > max_depth:
                return True
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, depth + 1) for child in children if isinstance(child, list | dict))
    return False
