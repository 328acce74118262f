"""One home for the argument checks that many modules share (as ``sklearn.utils.validation``).

A bad argument is bad input: every check raises :class:`~scalelaw.errors.DataError` (the command line
exits with code 2) with a message that names the argument, what was passed and what is expected.
"""

from __future__ import annotations

import math
from typing import Any

from scalelaw.errors import DataError

#: Fewest bootstrap replicates accepted: with fewer, percentile intervals are meaningless.
MIN_REPLICATES = 10


def check_level(level: Any, name: str = "level") -> float:
    """``level`` as a float if it is a coverage strictly between 0 and 1, else :class:`DataError`.

    ``name`` is how the caller knows the argument (``"interval"``, ``"--level"``, ...).

    Examples
    --------
    >>> check_level(0.9)
    0.9
    >>> check_level(90, "interval")
    Traceback (most recent call last):
    ...
    scalelaw.errors.DataError: interval must be between 0 and 1 (e.g. 0.9), got 90
    """
    try:
        value = float(level)
    except (TypeError, ValueError):
        value = math.nan
    if not 0 < value < 1:
        raise DataError(f"{name} must be between 0 and 1 (e.g. 0.9), got {level}")
    return value


def check_replicates(n: Any) -> None:
    """Refuse fewer than :data:`MIN_REPLICATES` bootstrap replicates with :class:`DataError`.

    Examples
    --------
    >>> check_replicates(5)
    Traceback (most recent call last):
    ...
    scalelaw.errors.DataError: a bootstrap needs at least 10 replicates (got 5); 1000 is a good default
    """
    if n < MIN_REPLICATES:
        raise DataError(f"a bootstrap needs at least {MIN_REPLICATES} replicates (got {n}); 1000 is a good default")


def column_names(x: Any, name: str = "x") -> tuple[str, ...] | None:
    """Column names given as one name or a sequence of names, as a tuple (None stays None).

    A single string is one column: ``x="tokens"`` means ``("tokens",)``, never its six letters.

    Examples
    --------
    >>> column_names("tokens"), column_names(["params", "tokens"]), column_names(None)
    (('tokens',), ('params', 'tokens'), None)
    >>> column_names(3)
    Traceback (most recent call last):
    ...
    scalelaw.errors.DataError: x must be a column name or a list of column names (e.g. x=['params', 'tokens']), got 3
    """
    if x is None:
        return None
    if isinstance(x, str):
        return (x,)
    try:
        names = tuple(x)
    except TypeError:
        names = None
    if names is None or not all(isinstance(n, str) for n in names):
        raise DataError(
            f"{name} must be a column name or a list of column names (e.g. {name}=['params', 'tokens']), got {x!r}"
        )
    return names
