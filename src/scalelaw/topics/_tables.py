"""Column checks shared by the topic analyses that read one long table (emergence, trend, multiple choice)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from scalelaw.errors import DataError, format_rows


def require_columns(table: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    """Raise :class:`DataError` unless ``table`` is a non-empty DataFrame holding ``columns``."""
    if not isinstance(table, pd.DataFrame):
        raise DataError(f"{what} needs a pandas DataFrame, got {type(table).__name__}")
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise DataError(
            f"{what} needs column(s) {', '.join(map(repr, missing))}; the table has "
            f"{', '.join(map(repr, table.columns))} (rename yours or pass the column names as arguments)"
        )
    if len(table) == 0:
        raise DataError(f"{what}: the table has no rows")


def numeric(table: pd.DataFrame, column: str) -> np.ndarray:
    """``table[column]`` as floats; missing or non-numeric values are a :class:`DataError` naming the rows."""
    series = table[column]
    values = pd.to_numeric(series.astype(np.float64) if series.dtype == bool else series, errors="coerce")
    values = values.to_numpy(dtype=np.float64)
    bad = table.index[~np.isfinite(values)]
    if len(bad):
        raise DataError(f"column {column!r} has {len(bad)} missing or non-numeric value(s) ({format_rows(bad)})")
    return values


def positive_scale(table: pd.DataFrame, scale: str) -> np.ndarray:
    """The scale column as floats, all > 0 (a :class:`DataError` names the rows that are not)."""
    x = numeric(table, scale)
    bad = table.index[x <= 0]
    if len(bad):
        raise DataError(f"scale column {scale!r} has non-positive value(s) ({format_rows(bad)}); scales must be > 0")
    return x
