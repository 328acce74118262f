"""Reading and writing tables and JSON: the only module that touches files for the core library."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scalelaw.errors import DataError
from scalelaw.runs import Runs

_READERS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
}


def read_table(path: str | os.PathLike) -> pd.DataFrame:
    """Read CSV, TSV, Parquet, JSON lines or a JSON array of records into a DataFrame.

    Row labels are data-row numbers counted from 1 (header excluded), the numbers error messages use.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"no such file: {path}")
    if path.is_dir():
        raise DataError(f"{path} is a directory; give a CSV, Parquet or JSON lines file")
    kind = _READERS.get(path.suffix.lower())
    if kind is None:
        raise DataError(
            f"cannot tell the format of {path.name!r} from its extension; use one of {', '.join(sorted(_READERS))}"
        )
    if path.stat().st_size == 0:
        raise DataError(f"{path} is empty; it needs a header row and at least one observation")
    try:
        if kind == "csv":
            frame = pd.read_csv(path)
        elif kind == "tsv":
            frame = pd.read_csv(path, sep="\t")
        elif kind == "parquet":
            frame = pd.read_parquet(path)
        elif kind == "jsonl":
            frame = pd.read_json(path, lines=True)
        else:
            frame = _read_json_records(path)
    except DataError:
        raise
    except (ValueError, OSError, pd.errors.ParserError, ImportError) as exc:
        raise DataError(f"cannot read {path} as {kind}: {exc}") from None
    if frame.shape[1] == 0 or len(frame) == 0:
        raise DataError(f"{path} has no data rows; it needs a header row and at least one observation")
    frame.index = pd.RangeIndex(1, len(frame) + 1)
    return frame


def _read_json_records(path: Path) -> pd.DataFrame:
    text = path.read_text()
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        # Many tools write JSON lines with a .json extension.
        return pd.read_json(path, lines=True)
    if isinstance(data, dict):
        data = data.get("runs", data.get("data", data))
    if isinstance(data, dict):
        return pd.DataFrame(data)
    if not isinstance(data, list):
        raise DataError(f"{path} holds a JSON {type(data).__name__}; expected a list of row objects")
    return pd.DataFrame.from_records(data)


def load_runs(
    source: str | os.PathLike | pd.DataFrame | Mapping[str, Any] | Runs,
    mapping: str | Mapping[str, str] | Iterable[str] | None = None,
) -> Runs:
    """Load and validate runs from a file path, ``dataset:NAME``, a DataFrame or existing Runs.

    Parameters
    ----------
    source : path, ``"dataset:NAME"``, DataFrame, dict of arrays or Runs
        Where the observations are. Bundled datasets are listed by ``scalelaw datasets list``.
    mapping : str or mapping, optional
        Column renames such as ``"Model Size=params"``.

    Examples
    --------
    >>> runs = load_runs("dataset:porian2024")
    >>> sorted({"params", "tokens", "loss"} - set(runs.columns))
    []
    """
    if isinstance(source, Runs):
        if mapping:
            return Runs.from_frame(source.table, mapping, source=source.source)
        return source
    if isinstance(source, pd.DataFrame):
        return Runs.from_frame(source, mapping, source="DataFrame")
    if isinstance(source, Mapping):
        try:
            frame = pd.DataFrame({k: np.ravel(np.asarray(v)) for k, v in source.items()})
        except ValueError as exc:
            raise DataError(f"columns given as a dict must have equal lengths: {exc}") from None
        return Runs.from_frame(frame, mapping, source="dict of arrays")
    text = os.fspath(source)
    if text.startswith("dataset:"):
        from scalelaw import datasets

        frame = datasets.load(text.split(":", 1)[1])
        return Runs.from_frame(frame, mapping, source=text)
    return Runs.from_frame(read_table(text), mapping, source=text)


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` so readers never see a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
