"""HTML pieces of the report: escaped text, number cells, sections, figures and tables."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any


def esc(value: Any) -> str:
    """``value`` as text, HTML-escaped (everything from the data or the user goes through here)."""
    return html.escape(str(value))


def num(value: Any, digits: int = 4) -> str:
    """A number for a table cell: ``digits`` significant digits, ``—`` for missing or non-finite."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return "—"
    if not math.isfinite(v):
        return "—" if math.isnan(v) else ("∞" if v > 0 else "−∞")
    text = f"{v:.{digits}g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        text = f"{mantissa}e{int(exponent)}"
    return text


def pct(value: Any) -> str:
    """A fraction as a percentage with two decimals, ``—`` for missing or non-finite."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return "—"
    return f"{100 * v:.2f}%" if math.isfinite(v) else "—"


def section(anchor: str, heading: str, parts: Sequence[str]) -> str:
    """A page section with an anchor and a heading; empty parts are left out."""
    return f'<section id="{anchor}">\n<h2>{esc(heading)}</h2>\n' + "\n".join(p for p in parts if p) + "\n</section>"


def figure(div_id: str, fig: Any, caption: str) -> str:
    """A plotly figure as a div (no script tag of plotly.js: the page inlines it once) with its caption."""
    body = fig.to_html(
        full_html=False, include_plotlyjs=False, div_id=div_id, config={"displaylogo": False, "responsive": True}
    )
    return (
        f'<div class="figure" data-figure="{div_id}" data-traces="{len(fig.data)}">{body}</div>\n'
        f'<p class="caption">{esc(caption)}</p>'
    )


def table(header: Sequence[str], rows: Sequence[Sequence[str]], table_id: str, text_cols: Sequence[int] = ()) -> str:
    """A table; ``rows`` hold ready HTML (escape text first), ``text_cols`` are left-aligned."""

    def cell(tag: str, k: int, content: str) -> str:
        cls = ' class="text"' if k in text_cols else ""
        return f"<{tag}{cls}>{content}</{tag}>"

    head = "".join(cell("th", k, esc(h)) for k, h in enumerate(header))
    body = "\n".join("<tr>" + "".join(cell("td", k, c) for k, c in enumerate(row)) + "</tr>" for row in rows)
    return f'<table id="{table_id}">\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>'
