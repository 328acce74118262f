"""Parquet needs pyarrow, from the optional ``parquet`` extra: one check that says how to install it.

CSV, TSV, JSON lines, JSON records and the bundled datasets need no pyarrow; Parquet inputs
(:func:`scalelaw.data.io.read_table`), Parquet run stores (:class:`scalelaw.sweep.store.RunStore`) and telling
whether an existing Parquet ``--out`` is a run store (:func:`scalelaw.data.io.check_output_path`) do.
"""

from __future__ import annotations

from scalelaw.errors import DataError

INSTALL_HINT = "install the parquet extra: pip install 'scalelaw[parquet]'"


class ParquetExtraMissing(DataError, ImportError):
    """A Parquet file was given, but pyarrow (the ``[parquet]`` extra) is not installed."""


def require_pyarrow(what: str) -> None:
    """Raise :class:`ParquetExtraMissing` naming ``what`` and the extra unless pyarrow imports.

    Parameters
    ----------
    what : str
        What needs Parquet, for the message (``"reading runs.parquet"``).

    Raises
    ------
    ParquetExtraMissing
        pyarrow is not installed.
    """
    try:
        import pyarrow  # noqa: F401
    except ImportError as exc:
        raise ParquetExtraMissing(
            f"{what} needs pyarrow, which is not installed; {INSTALL_HINT}, or save the table as CSV or JSON lines"
        ) from exc
