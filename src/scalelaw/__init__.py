"""scalelaw: from a ladder of small training runs to trustworthy predictions about big ones.

>>> import scalelaw
>>> result = scalelaw.fit("chinchilla", "dataset:porian2024")
>>> result.status.converged
True

Names load from their modules on first use (:mod:`scalelaw._lazy`, PEP 562): ``import scalelaw`` and
``scalelaw --help`` import neither pandas nor scipy; reading data or fitting does.
"""

from scalelaw._lazy import attach
from scalelaw._version import __version__
from scalelaw.errors import (
    BoundWarning,
    ConvergenceWarning,
    DataError,
    DataWarning,
    FitError,
    IdentifiabilityWarning,
    LawError,
    NoSignalWarning,
    OutlierWarning,
    ScaleLawError,
)

__getattr__, __dir__, _ = attach(
    __name__,
    {
        "data": ["datasets"],
        "data.io": ["load_runs", "read_table"],
        "data.runs": ["CANONICAL_COLUMNS", "Runs"],
        "fitting.result": ["FitResult", "FitStatus"],
        "fitting.fit": ["fit"],
        "laws": ["Law", "Parameter", "get_law", "list_laws"],
        "trust.backtest": ["backtest", "select_law"],
    },
)
__all__ = [
    "CANONICAL_COLUMNS",
    "BoundWarning",
    "ConvergenceWarning",
    "DataError",
    "DataWarning",
    "FitError",
    "FitResult",
    "FitStatus",
    "IdentifiabilityWarning",
    "Law",
    "LawError",
    "NoSignalWarning",
    "OutlierWarning",
    "Parameter",
    "Runs",
    "ScaleLawError",
    "__version__",
    "backtest",
    "datasets",
    "fit",
    "get_law",
    "list_laws",
    "load_runs",
    "read_table",
    "select_law",
]
