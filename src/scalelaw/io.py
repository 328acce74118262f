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
#: JSON is UTF-8; the "-sig" codec also drops a byte-order mark that some editors write first.
_JSON_ENCODING = "utf-8-sig"


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
            frame = _read_json_lines(path)
        else:
            frame = _read_json_records(path)
    except DataError:
        raise
    except UnicodeDecodeError as exc:
        raise DataError(
            f"cannot read {path} as {kind}: it is not UTF-8 text (found byte 0x{exc.object[exc.start]:02x}; latin-1 "
            "or cp1252 perhaps); save it as UTF-8, e.g. with iconv -f latin1 -t utf-8"
        ) from None
    except (ValueError, OverflowError, RecursionError, OSError, pd.errors.ParserError, ImportError) as exc:
        # OverflowError and RecursionError: numbers or nesting beyond what the JSON readers handle.
        raise DataError(f"cannot read {path} as {kind}: {exc}") from None
    if frame.shape[1] == 0 or len(frame) == 0:
        raise DataError(f"{path} has no data rows; it needs a header row and at least one observation")
    frame.index = pd.RangeIndex(1, len(frame) + 1)
    return frame


def _read_json_lines(path: Path) -> pd.DataFrame:
    """One JSON object per line, values kept as written.

    Not ``pd.read_json(lines=True)``: it turns a ``true`` among numbers into 1.0 and fails on integers
    beyond 64 bits, where validation should name the column and row instead.
    """
    rows = []
    with path.open(encoding=_JSON_ENCODING) as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"cannot read {path} as JSON lines: line {number} is not JSON ({exc.msg})") from None
            if not isinstance(row, dict):
                kind = "null" if row is None else type(row).__name__
                raise DataError(f'{path}: line {number} is a JSON {kind}, not a row object such as {{"loss": 2.1}}')
            rows.append(row)
    return pd.DataFrame.from_records(rows)


def _read_json_records(path: Path) -> pd.DataFrame:
    text = path.read_text(encoding=_JSON_ENCODING)
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        # Many tools write JSON lines with a .json extension.
        return _read_json_lines(path)
    if isinstance(data, dict):
        data = data.get("runs", data.get("data", data))
    if isinstance(data, dict):
        if data and not any(isinstance(v, list | dict) for v in data.values()):
            raise DataError(
                f"{path} holds one JSON object of single values; expected a list of row objects "
                '(e.g. [{"params": 7e10, "loss": 2.1}, ...]) or an object of equal-length columns'
            )
        return pd.DataFrame(data)
    if not isinstance(data, list):
        raise DataError(f"{path} holds a JSON {type(data).__name__}; expected a list of row objects")
    not_rows = [i for i, row in enumerate(data) if not isinstance(row, dict | list)]
    if not_rows:
        kind = "null" if data[not_rows[0]] is None else type(data[not_rows[0]]).__name__
        raise DataError(
            f"{path} is a JSON list whose element {not_rows[0] + 1} is not a row object but a JSON {kind}; expected "
            'a list of row objects such as {"params": 7e10, "loss": 2.1}'
        )
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
