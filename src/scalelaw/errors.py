"""Exceptions and warnings raised by scalelaw.

Every error is a :class:`ScaleLawError`, so callers can catch one type. Messages say what was
wrong, where (column, rows) and how to fix it.
"""

from __future__ import annotations


class ScaleLawError(Exception):
    """Base class of every error scalelaw raises on purpose."""


class DataError(ScaleLawError, ValueError):
    """The input data cannot be used as given (missing column, NaN, non-positive scale, ...)."""


class FitFileError(DataError):
    """A saved fit (JSON) cannot be read: not a fit, damaged, or not following the fit schema."""


class LawError(ScaleLawError, ValueError):
    """A law is ill-defined: unknown name, bad expression, inconsistent parameters."""


class FitError(ScaleLawError, RuntimeError):
    """A fit could not be carried out (for example no start gave a finite objective)."""


class IdentifiabilityWarning(UserWarning):
    """Some parameters are not determined by the data: they trade off against each other."""


class ConvergenceWarning(UserWarning):
    """The optimizer stopped before meeting its tolerances."""


class BoundWarning(UserWarning):
    """The best fit sits on a parameter bound: the bound, not the data, decided that value."""


class DataWarning(UserWarning):
    """The fitted data limit what the fit can say, whatever the optimizer does (see the subclasses)."""


class NoSignalWarning(DataWarning):
    """The fitted column is constant: only the law's constant level is determined, other parameters are arbitrary."""


class OutlierWarning(DataWarning):
    """Some rows sit far off the fitted law (beyond many robust noise scales): likely unit or logging errors."""


def format_rows(rows, limit: int = 8) -> str:
    """Render row labels as ``rows 4, 17, 18`` (truncated with a count beyond ``limit``)."""
    rows = list(rows)
    shown = ", ".join(str(r) for r in rows[:limit])
    more = f" and {len(rows) - limit} more" if len(rows) > limit else ""
    word = "row" if len(rows) == 1 else "rows"
    return f"{word} {shown}{more}"
