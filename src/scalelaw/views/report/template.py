"""Page skeleton and style sheet of the HTML report: no external fonts, images or scripts."""

from __future__ import annotations

import re

from scalelaw.errors import DataError

#: How the page gets plotly.js: embedded (opens offline, ~4.7 MB) or from plotly's CDN (a small file that needs
#: the network to draw its figures).
PLOTLYJS_MODES = ("inline", "cdn")


def plotly_script(mode: str = "inline") -> str:
    """The ``<script>`` element that gives the page plotly.js: the bundle itself (``"inline"``), or the tag plotly
    writes for its CDN, with its integrity hash, for the installed plotly version (``"cdn"``)."""
    if mode == "inline":
        from plotly.offline import get_plotlyjs

        return f"<script>{get_plotlyjs()}</script>"
    if mode == "cdn":
        import plotly.graph_objects as go

        page = go.Figure().to_html(include_plotlyjs="cdn", full_html=False)
        return re.search(r'<script[^>]*\bsrc="[^"]+"[^>]*></script>', page).group(0)
    raise DataError(f"plotlyjs must be one of {', '.join(PLOTLYJS_MODES)}, not {mode!r}")


CSS = """
:root { --ink: #1d1d1f; --muted: #6e6e73; --line: #d9d9de; --soft: #f5f5f7; --ok: #0a7a3f; --warn: #a05a00;
        --bad: #b3261e; --accent: #0072B2; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: #fff; line-height: 1.45;
       font: 15px/1.45 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1120px; margin: 0 auto; padding: 28px 24px 60px; }
header h1 { font-size: 26px; margin: 0 0 4px; letter-spacing: -0.01em; }
header .formula { font: 15px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; color: var(--muted); }
nav { margin: 14px 0 8px; font-size: 14px; }
nav a { color: var(--accent); text-decoration: none; margin-right: 14px; }
nav a:hover { text-decoration: underline; }
h2 { font-size: 19px; margin: 34px 0 10px; padding-bottom: 6px; border-bottom: 1px solid var(--line); }
h3 { font-size: 15px; margin: 18px 0 6px; }
p.note, .caption { color: var(--muted); font-size: 13.5px; margin: 4px 0 10px; }
.badge { display: inline-block; padding: 2px 10px; border-radius: 999px; font-size: 13px; font-weight: 600;
         vertical-align: middle; margin-left: 8px; }
.badge.ok { background: #e3f4ea; color: var(--ok); }
.badge.warn { background: #fff1dc; color: var(--warn); }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(135px, 1fr)); gap: 10px; margin: 16px 0; }
.card { background: var(--soft); border-radius: 10px; padding: 10px 14px; }
.card .k { color: var(--muted); font-size: 12.5px; }
.card .v { font-size: 18px; font-weight: 600; font-variant-numeric: tabular-nums; }
table { border-collapse: collapse; width: 100%; font-size: 14px; margin: 8px 0 6px; }
th, td { padding: 6px 10px; border-bottom: 1px solid var(--line); text-align: right; vertical-align: top; }
th { font-weight: 600; background: var(--soft); position: sticky; top: 0; }
th:first-child, td:first-child, td.text, th.text { text-align: left; }
td { font-variant-numeric: tabular-nums; }
tbody tr:hover { background: #fafafa; }
ul.flags { list-style: none; padding: 0; margin: 8px 0; }
ul.flags li { padding: 3px 0; }
ul.flags li::before { display: inline-block; width: 1.4em; font-weight: 700; }
ul.flags li.ok::before { content: "\\2713"; color: var(--ok); }
ul.flags li.warn::before { content: "!"; color: var(--warn); }
.warning { background: #fff8ec; border-left: 4px solid #e69f00; padding: 8px 12px; margin: 8px 0; border-radius: 4px; }
.figure { margin: 10px 0 4px; border: 1px solid var(--line); border-radius: 10px; padding: 6px; }
pre { background: var(--soft); padding: 10px 12px; border-radius: 8px; overflow-x: auto; font-size: 13px; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; font-size: 14px; }
dl.meta dt { color: var(--muted); }
dl.meta dd { margin: 0; word-break: break-all; }
footer { margin-top: 40px; color: var(--muted); font-size: 12.5px; }
"""

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="scalelaw {version}">
<title>{title}</title>
<style>{css}</style>
<script>window.PlotlyConfig = {{MathJaxConfig: 'local'}};</script>
{plotly_js}
</head>
<body>
<main>
{body}
</main>
</body>
</html>
"""
