"""Self-contained HTML report of a fit: interactive plotly figures, tables with intervals, provenance.

The page embeds plotly.js, so it opens in any browser without a network connection, and it references
no URL (``plotlyjs="cdn"`` loads it from plotly's CDN instead: a small file that needs the network).
Build it with :func:`build_report` (returns the HTML) or :func:`write_report` (writes it atomically);
:func:`report` goes from data to the page (fit, bootstrap, backtest, plan), as
``scalelaw report DATA --law chinchilla --out report.html`` does from the shell. :func:`write_figures`
writes the same figures as static PNG, SVG or PDF files (matplotlib; ``report --figures DIR``).

>>> import scalelaw, warnings
>>> warnings.simplefilter("ignore")
>>> fit = scalelaw.fit("chinchilla", "dataset:gadre2024_rpj")
>>> page = build_report(fit, n_boot=0)
>>> page.startswith("<!DOCTYPE html>") and 'id="params-table"' in page
True
"""

from scalelaw.views.report.build import DEFAULT_N_BOOT, FIGURE_IDS, build_report, default_budgets, write_report
from scalelaw.views.report.from_data import WrittenReport, report
from scalelaw.views.report.static import FIGURE_FORMATS, write_figures
from scalelaw.views.report.template import PLOTLYJS_MODES

__all__ = [
    "DEFAULT_N_BOOT",
    "FIGURE_FORMATS",
    "FIGURE_IDS",
    "PLOTLYJS_MODES",
    "WrittenReport",
    "build_report",
    "default_budgets",
    "report",
    "write_figures",
    "write_report",
]
