"""One interface for every result: ``to_frame()``, ``to_dict()``, ``summary()``, a short repr and a notebook view.

Every frozen result class of scalelaw (``FitResult``, ``Bootstrap``, ``Plan``, ``SeedNoise``, ...) derives from
:class:`Result` and writes three methods (a result whose main table is its ``table`` attribute derives from
:class:`TableResult`, which writes ``to_frame``); the base class builds the other two from them:

- ``to_frame()``: the result's main table as a DataFrame (what goes in a notebook, a CSV or a plot);
- ``to_dict()``: JSON-ready plain Python: ``json.dumps(result.to_dict(), allow_nan=False)`` works (non-finite
  floats are ``None``);
- ``summary()``: a few lines for people: what the result is, its key numbers, any warnings;
- ``repr(result)``: one short line, the summary's first (never an array dump);
- ``_repr_html_()``: what Jupyter shows: the summary and the frame as an HTML table, every text escaped.

This module sits at the bottom of the layers (beside ``errors``): every subpackage may import it.
"""

from __future__ import annotations

import html
import math
import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

#: Longest ``repr`` of a result, in characters.
REPR_LIMIT = 200
#: Rows of ``to_frame()`` that ``_repr_html_`` shows; a note says how many more there are.
HTML_ROWS = 40


class Result:
    """Base of every scalelaw result: subclasses write ``to_frame``, ``to_dict`` and ``summary``.

    It provides ``__repr__`` (the first line of :meth:`summary`, cut to :data:`REPR_LIMIT` characters) and
    ``_repr_html_`` (the summary and :meth:`to_frame` as escaped HTML). A class that writes its own
    ``__repr__`` keeps it; every other subclass gets this one, also when it is a ``@dataclass`` (whose
    field-by-field repr would dump arrays and tables).
    """

    __slots__ = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # Pin the inherited __repr__ in the class itself: @dataclass (applied after this runs) only writes a
        # __repr__ when the class has none of its own, so the short one stays.
        if "__repr__" not in cls.__dict__:
            cls.__repr__ = cls.__repr__  # type: ignore[method-assign]

    def to_frame(self) -> pd.DataFrame:
        """The result's main table.

        Returns
        -------
        pandas.DataFrame
            A new frame (changing it does not change the result); each class's docstring says its rows.
        """
        raise NotImplementedError(f"{type(self).__name__} does not implement to_frame()")

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON-ready data.

        Returns
        -------
        dict
            Plain Python values only (str, int, float, bool, None, lists and dicts of them); NaN and
            infinities are ``None``, so ``json.dumps(result.to_dict(), allow_nan=False)`` works.
        """
        raise NotImplementedError(f"{type(self).__name__} does not implement to_dict()")

    def summary(self) -> str:
        """A few lines for people: what the result is, its key numbers and any warnings.

        Returns
        -------
        str
            The first line stands alone (it is the ``repr``); later lines add detail.
        """
        raise NotImplementedError(f"{type(self).__name__} does not implement summary()")

    def __repr__(self) -> str:
        name = type(self).__name__
        try:
            lines = self.summary().strip().splitlines()
            head = lines[0] if lines else ""
        except Exception as exc:  # a repr that raises hides the object it should describe
            head = f"(no summary: {type(exc).__name__})"
        return f"<{name}: {clip(head, REPR_LIMIT - len(name) - 4)}>"

    def _repr_html_(self) -> str:
        """Jupyter's view: the class name, the summary and :meth:`to_frame` as an HTML table (text escaped)."""
        frame = self.to_frame()
        shown = frame.head(HTML_ROWS)
        # The index is shown when it carries labels that no column repeats (interval tables are indexed by their
        # ``quantity`` column, which already shows them).
        labelled = not isinstance(frame.index, pd.RangeIndex)
        repeated = any(frame[c].equals(pd.Series(frame.index, index=frame.index)) for c in frame.columns)
        table = shown.to_html(
            index=labelled and not repeated,
            escape=True,
            border=0,
            na_rep="",
            float_format=lambda v: f"{v:.6g}",
        )
        more = len(frame) - len(shown)
        note = f"<p>{more} more rows: <code>to_frame()</code> has them all.</p>" if more > 0 else ""
        return (
            '<div class="scalelaw-result">'
            f"<p><strong>{html.escape(type(self).__name__)}</strong></p>"
            f'<pre style="white-space: pre-wrap">{html.escape(self.summary())}</pre>'
            f"{table}{note}</div>"
        )


class TableResult(Result):
    """A :class:`Result` whose main table is its ``table`` attribute: :meth:`to_frame` is a copy of it.

    Subclasses write ``to_dict`` and ``summary``; their docstring says what the rows of ``table`` are.
    """

    __slots__ = ()
    table: pd.DataFrame

    def to_frame(self) -> pd.DataFrame:
        """A copy of :attr:`table` (changing it does not change the result).

        Returns
        -------
        pandas.DataFrame
        """
        return self.table.copy()


class Text(str):
    """A str that also answers ``summary()`` with itself.

    For a result whose ``summary`` was a text field before every result had the ``summary()`` method
    (``ApproachComparison``): ``result.summary`` stays the sentence it was, and ``result.summary()`` works too.
    """

    __slots__ = ()

    def __call__(self) -> str:
        return str(self)


def clip(text: str, limit: int) -> str:
    """``text`` on one line (runs of whitespace as one space), cut to ``limit`` characters with an ellipsis."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON-ready Python, recursively; non-finite floats become ``None``.

    numpy scalars and arrays become Python numbers and lists, DataFrames lists of row dicts (:func:`records`),
    mappings dicts with string keys, tuples and sets lists, paths strings and results their ``to_dict()``.

    Raises
    ------
    TypeError
        For any other object (a result's ``to_dict`` must say how to write it).

    Examples
    --------
    >>> jsonable({"se": np.float64("nan"), "n": np.int64(3), "runs": ("a", "b"), 1: np.array([0.5, np.inf])})
    {'se': None, 'n': 3, 'runs': ['a', 'b'], '1': [0.5, None]}
    """
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return str(value)  # a str subclass becomes a plain str
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        number = float(value)
        return number if math.isfinite(number) else None
    if value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, Result):
        return value.to_dict()
    if isinstance(value, pd.DataFrame):
        return records(value)
    if isinstance(value, pd.Series | np.ndarray):
        return [jsonable(item) for item in value.tolist()]
    if isinstance(value, Mapping):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(item) for item in value]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"{type(value).__name__} is not JSON-ready")


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of ``frame`` as JSON-ready dicts (its index left out: reset it first when it holds data)."""
    return [{str(key): jsonable(item) for key, item in row.items()} for row in frame.to_dict(orient="records")]
