"""Rich rendering shared by several commands: numbers and plan records as tables."""

from __future__ import annotations

import math
from typing import Any

from rich.markup import escape
from rich.table import Table


def fmt_number(x: float) -> str:
    if x is None or not math.isfinite(x):
        return "—"
    return f"{x:.6g}"


def cell(value: Any) -> str:
    """A plan record's entry: a number, ``{"value"}`` or ``{"value", "low", "high"}``."""
    if isinstance(value, dict) and "low" in value:
        return f"{value['value']:.4g} [{value['low']:.4g}, {value['high']:.4g}]"
    return f"{value['value'] if isinstance(value, dict) else value:.4g}"


def records_view(title: str, records: list[dict[str, Any]]) -> Table:
    """Plan records (``Plan.to_records``) as a table: one row per quantity, one column per plan."""
    view = Table(title=escape(title), title_justify="left")  # titles name the law, which a fit file sets
    view.add_column("quantity")
    for i in range(len(records)):
        view.add_column(f"#{i + 1}" if len(records) > 1 else "value", justify="right")
    for key in (k for k in records[0] if k != "extrapolation"):
        view.add_row(key, *[cell(rec[key]) for rec in records])
    return view
