"""Views: what a figure shows as plain data (``figures``), drawn with matplotlib for papers (``plot``, which
imports matplotlib only when it draws) or as a self-contained interactive HTML page (``report``, plotly).
Views only read results.

Names load from their modules on first use (:mod:`scalelaw._lazy`).
"""

from scalelaw._lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__,
    {
        "report": ["build_report", "write_report"],
    },
)
