"""Views: what a figure shows as plain data (``figures``), drawn with matplotlib for papers (``plot``, which
imports matplotlib only when it draws) or as a self-contained interactive HTML page (``report``, plotly).
Views only read results."""

from scalelaw.views import figures, plot, report
from scalelaw.views.report import build_report, write_report

__all__ = ["build_report", "figures", "plot", "report", "write_report"]
