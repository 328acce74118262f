"""scalelaw: from a ladder of small training runs to trustworthy predictions about big ones.

>>> import scalelaw
>>> result = scalelaw.fit("chinchilla", "dataset:porian2024")
>>> result.status.converged
True
"""

from scalelaw._version import __version__
from scalelaw.data import datasets
from scalelaw.data.io import load_runs, read_table
from scalelaw.data.runs import CANONICAL_COLUMNS, Runs
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
from scalelaw.fitting import FitResult, FitStatus
from scalelaw.fitting.fit import fit
from scalelaw.laws import Law, Parameter, get_law, list_laws
from scalelaw.trust.backtest import backtest, select_law

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
