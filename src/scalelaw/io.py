"""Reading and writing tables and JSON: the only module that touches files for the core library."""

from __future__ import annotations

import json
import math
import os
import secrets
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
    text = path.read_text(encoding="utf-8")  # JSON is UTF-8 (RFC 8259), whatever the locale
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


def strict_json(data: Any, *, indent: int | None = 2, separators: tuple[str, str] | None = None) -> str:
    """JSON text that strict parsers accept: every NaN, Infinity and -Infinity becomes ``null``.

    Python's :func:`json.dumps` writes the bare words ``NaN`` and ``Infinity`` by default, which are not
    JSON (RFC 8259) and make ``jq``, JavaScript and most other parsers fail on the whole document. Every
    ``--json`` output and every JSON file scalelaw writes goes through here. Readers of scalelaw's own
    files turn ``null`` back into the value it stood for (e.g. a NaN standard error).

    Parameters
    ----------
    data : JSON-ready value
        Dicts, lists, tuples, strings, numbers (numpy floats included), booleans and None.
    indent, separators
        As for :func:`json.dumps`.

    Examples
    --------
    >>> strict_json({"se": float("nan"), "cond": float("inf"), "n": [1, 2.5]}, indent=None)
    '{"se": null, "cond": null, "n": [1, 2.5]}'
    """
    # allow_nan=False: a non-finite number that slipped past _finite_or_null fails loudly, never prints NaN.
    return json.dumps(_finite_or_null(data), indent=indent, separators=separators, allow_nan=False)


def _finite_or_null(value: Any) -> Any:
    """``value`` with non-finite floats replaced by None, recursively through dicts, lists and tuples."""
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite_or_null(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite_or_null(item) for item in value]
    return value


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never a part.

    The bytes go to a temporary file in the same directory (so the rename cannot cross filesystems),
    which is flushed to disk and renamed over ``path`` with :func:`os.replace`; then the directory is
    synced so the rename itself survives a crash. The file is created with mode ``0o666`` less the
    process umask, as ``open`` would, not the ``0o600`` of :func:`tempfile.mkstemp`. Missing parent
    directories are created.

    Parameters
    ----------
    path : path
        Where the file goes. A symlink at ``path`` is replaced by the file, its target left alone.
    data : bytes
        The whole content.

    Raises
    ------
    OSError
        The directory cannot be created or written, the disk is full, or ``path`` is a directory. The
        temporary file is removed and ``path`` is left as it was.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     write_bytes_atomic(Path(folder) / "out.bin", b"PAR1")
    ...     (Path(folder) / "out.bin").read_bytes()
    b'PAR1'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _create_temporary(path)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _sync_directory(path.parent)


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` as UTF-8, atomically (see :func:`write_bytes_atomic`).

    UTF-8 whatever the locale: the files are read back on other machines. Lone surrogates, which is how
    Python decodes bytes of a command-line argument that are not valid in the locale (a file name, say),
    are written back as those bytes rather than failing the write.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     write_text_atomic(Path(folder) / "note.txt", "ε ≈ 0")
    ...     (Path(folder) / "note.txt").read_bytes() == "ε ≈ 0".encode("utf-8")
    True
    """
    write_bytes_atomic(path, text.encode("utf-8", errors="surrogateescape"))


def _create_temporary(path: Path) -> tuple[int, Path]:
    """Open a new, unique file next to ``path`` for writing; mode 0o666 less the umask (the kernel applies it).

    Not :func:`tempfile.mkstemp`, whose files are 0o600 whatever the umask; reading the umask to chmod
    afterwards would mean setting it, which races with other threads.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    stem = path.name[:200]  # room for the suffix within the 255-byte name limit
    for _ in range(100):
        tmp = path.with_name(f".{stem}.{secrets.token_hex(6)}.tmp")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue  # a name taken by another writer: draw another
    raise FileExistsError(f"could not create a temporary file next to {path}")


def _sync_directory(directory: Path) -> None:
    """fsync ``directory`` so a rename in it is durable; a no-op where directories cannot be opened or synced."""
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)
    try:
        fd = os.open(directory, flags)
    except OSError:
        return  # e.g. Windows, where a directory cannot be opened: the file's own fsync is what there is
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems refuse fsync on a directory; the data itself is already on disk
    finally:
        os.close(fd)
