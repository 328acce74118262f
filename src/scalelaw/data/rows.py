"""Choosing the rows of a table before validation: ``where`` filters, rows without a target, and a warning when
checkpoints look like runs of their own.

Tracker exports (a W&B history, say) log the loss only at evaluation steps and start at step 0 with zero
tokens. Those rows hold no observation, so :meth:`scalelaw.Runs.from_frame` drops them here, counted in a
note and a :class:`~scalelaw.errors.DataWarning`, before it refuses what remains.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from scalelaw.errors import DataError, DataWarning

#: Column names that usually hold a run id in tracker exports and hand-written tables.
RUN_LIKE_COLUMNS = ("Name", "name", "run_id", "run_name", "runId", "id", "Run", "run name")
#: ``COLUMN=VALUE`` (one ``=``, no comparison operator): the older ``--where`` form, kept as an equality test.
_EQUALS = re.compile(r"^\s*([^=<>!]+?)\s*=\s*([^=].*?)\s*$")


def where_mask(table: pd.DataFrame, where: str | Sequence[str] | None, source: str = "the data") -> np.ndarray:
    """Rows of ``table`` that every ``where`` expression keeps, as a boolean array.

    Parameters
    ----------
    table : pandas.DataFrame
        The table, with the column names the expressions use.
    where : str or sequence of str, optional
        Pandas query strings (:meth:`pandas.DataFrame.query`), e.g. ``"params > 1e8 and tokens >= 1e9"``;
        names with spaces go in backticks (```model size` == "1B"``). ``COLUMN=VALUE`` is read as an
        equality on the column's text, e.g. ``dataset=rw``. Several expressions must all hold.
    source : str
        Label of the table in messages.

    Raises
    ------
    DataError
        An expression that cannot be evaluated (quoted in the message) or that keeps no row.

    Examples
    --------
    >>> frame = pd.DataFrame({"params": [1e7, 1e8, 1e9], "set": ["a", "b", "b"]})
    >>> where_mask(frame, ["params > 5e7", "set=b"]).tolist()
    [False, True, True]
    """
    keep = np.ones(len(table), dtype=bool)
    for expression in [where] if isinstance(where, str) else list(where or []):
        keep &= _one_mask(table, expression, source)
        if not keep.any():
            raise DataError(f"no rows of {source} are left after --where {expression!r}; check the expression")
    return keep


def _one_mask(table: pd.DataFrame, expression: str, source: str) -> np.ndarray:
    equals = _EQUALS.match(expression)
    if equals and equals.group(1) in table.columns:
        column, value = equals.groups()
        keep = (table[column].astype(str) == value.strip("'\"")).to_numpy()
        if not keep.any():
            seen = ", ".join(sorted(map(str, table[column].unique()))[:10])
            raise DataError(f"no rows have {column} = {value!r}; values include: {seen}")
        return keep
    try:
        mask = table.eval(expression, engine="python")
    except Exception as exc:  # pandas raises many kinds (SyntaxError, UndefinedVariableError, TypeError, ...)
        names = ", ".join(repr(str(c)) for c in list(table.columns)[:20])
        raise DataError(
            f"cannot apply --where {expression!r} to {source}: {type(exc).__name__}: {exc}. Write a pandas query "
            f"such as 'params > 1e8' (names with spaces in backticks); the columns are: {names}"
        ) from None
    values = np.asarray(mask)
    if values.shape != (len(table),) or values.dtype != bool:
        raise DataError(
            f"--where {expression!r} is not a condition on each row (it gives {values.dtype} values); "
            "write a comparison such as 'params > 1e8'"
        )
    return values


def drop_unobserved(
    table: pd.DataFrame, target: str | None, scale_columns: Sequence[str]
) -> tuple[pd.DataFrame, str | None]:
    """``table`` without rows that observe nothing, and a note saying how many went (None when none did).

    With ``target`` given, every row whose ``target`` is empty goes. Without it, the target is taken to be
    ``loss`` and only its empty rows that also have a non-positive scale (a W&B step-0 row) go: the others
    may serve a fit of another column. Numbers must already be floats (NaN for empty cells).
    """
    column = target or "loss"
    if column not in table.columns:
        return table, None
    empty = table[column].isna().to_numpy().copy()
    if target is None:
        scales = [c for c in scale_columns if c in table.columns]
        empty &= (table[scales] <= 0).any(axis=1).to_numpy() if scales else np.zeros(len(table), dtype=bool)
    n = int(np.count_nonzero(empty))
    if not n:
        return table, None
    if n == len(table):
        raise DataError(f"no row has a value in column {column!r}; nothing to fit (is it the right column?)")
    kind = (
        " (e.g. steps logged between evaluations)"
        if target is not None
        else " and a non-positive scale (params, tokens, ...), such as a tracker's step-0 rows"
    )
    note = f"dropped {n} of {len(table)} row(s) with no {column!r} value{kind}"
    warnings.warn(note, DataWarning, stacklevel=4)
    return table.loc[~empty], note


def warn_if_runs_unmarked(table: pd.DataFrame, source: str) -> None:
    """Warn when the table has no ``run`` column but one is likely: then every row would be its own run and a
    by-run bootstrap would resample single checkpoints (intervals too narrow)."""
    if "run" in table.columns or len(table) < 3:
        return
    named = next((c for c in RUN_LIKE_COLUMNS if c in table.columns), None)
    if named is None and not _looks_like_checkpoints(table):
        return
    hint = f"--map {named}=run" if named else "--map COLUMN=run with the column that names the run"
    python = f"mapping={{{named!r}: 'run'}}" if named else "mapping={COLUMN: 'run'}"
    why = f"column {named!r} looks like a run id" if named else "rows share params with growing tokens (checkpoints)"
    warnings.warn(
        f"every row became its own run ({len(table)} rows of {source}, no 'run' column), but {why}: pass {hint} "
        f"({python} in Python), or the by-run bootstrap resamples single rows and its intervals come out too narrow",
        DataWarning,
        stacklevel=4,
    )


def _looks_like_checkpoints(table: pd.DataFrame) -> bool:
    """Several rows per ``params`` value with tokens growing in file order, and a step column: checkpoints."""
    if not {"params", "tokens"} <= set(table.columns):
        return False
    if not any(c in table.columns for c in ("step", "_step", "global_step", "iteration")):
        return False
    groups = table.groupby("params", sort=False)["tokens"]
    return bool((groups.size() >= 3).any() and groups.apply(lambda t: t.is_monotonic_increasing).all())
