"""Self-contained HTML report of a fit: interactive plotly figures, tables with intervals, provenance.

The page embeds plotly.js, so it opens in any browser without a network connection, and it references
no URL. Build it with :func:`build_report` (returns the HTML) or :func:`write_report` (writes it
atomically); :func:`report` goes from data to the page (fit, bootstrap, backtest, plan), as
``scalelaw report DATA --law chinchilla --out report.html`` does from the shell.

>>> import scalelaw, warnings
>>> warnings.simplefilter("ignore")
>>> fit = scalelaw.fit("chinchilla", "dataset:gadre2024_rpj")
>>> page = build_report(fit, n_boot=0)
>>> page.startswith("<!DOCTYPE html>") and 'id="params-table"' in page
True
"""

from scalelaw.views.report.build import DEFAULT_N_BOOT, FIGURE_IDS, build_report, default_budgets, write_report
from scalelaw.views.report.from_data import WrittenReport, report

__all__ = ["DEFAULT_N_BOOT", "FIGURE_IDS", "WrittenReport", "build_report", "default_budgets", "report", "write_report"]
