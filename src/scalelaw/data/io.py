"""Reading and writing tables and JSON: the only module that touches files for the core library."""

from __future__ import annotations

import errno
import json
import math
import os
import re
import secrets
import stat
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scalelaw.data import datasets
from scalelaw.data.parquet import require_pyarrow
from scalelaw.data.runs import Runs
from scalelaw.data.trackers.sources import is_tracker_source, load_tracker
from scalelaw.errors import DataError

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


#: Compressed files are read through these (``runs.csv.gz``, ``history.jsonl.bz2``, ...).
_COMPRESSIONS = {".gz": "gzip", ".bz2": "bz2", ".xz": "xz", ".zst": "zstd"}


def read_table(path: str | os.PathLike) -> pd.DataFrame:
    """Read CSV, TSV, Parquet, JSON lines or a JSON array of records into a DataFrame.

    ``"-"`` reads standard input (CSV, or JSON lines when it starts with ``{``). Text formats may be
    compressed (``.csv.gz``, ``.jsonl.gz``, ``.bz2``, ``.xz``, ``.zst``). Row labels are data-row numbers
    counted from 1 (header excluded), the numbers error messages use.
    """
    if os.fspath(path) == "-":
        return _numbered(_read_stdin(), "standard input")
    path = Path(path)
    if not path.exists():
        raise DataError(f"no such file: {path}")
    if path.is_dir():
        raise DataError(f"{path} is a directory; give a CSV, Parquet or JSON lines file")
    compression = _COMPRESSIONS.get(path.suffix.lower())
    suffix = Path(path.stem).suffix if compression else path.suffix
    kind = _READERS.get(suffix.lower())
    if kind is None or (compression and kind == "parquet"):
        raise DataError(
            f"cannot tell the format of {path.name!r} from its extension; use one of {', '.join(sorted(_READERS))}"
            f" (text formats may end in {', '.join(_COMPRESSIONS)} too)"
        )
    if path.stat().st_size == 0:
        raise DataError(f"{path} is empty; it needs a header row and at least one observation")
    try:
        if kind == "csv":
            frame = pd.read_csv(path, compression=compression or "infer")
        elif kind == "tsv":
            frame = pd.read_csv(path, sep="\t", compression=compression or "infer")
        elif kind == "parquet":
            require_pyarrow(f"reading {path}")
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
    return _numbered(frame, str(path))


def _numbered(frame: pd.DataFrame, label: str) -> pd.DataFrame:
    """``frame`` labelled by data-row numbers from 1, or a DataError when it holds no data."""
    if frame.shape[1] == 0 or len(frame) == 0:
        raise DataError(f"{label} has no data rows; it needs a header row and at least one observation")
    frame.index = pd.RangeIndex(1, len(frame) + 1)
    return frame


def _read_stdin() -> pd.DataFrame:
    """Standard input as a table: JSON lines when its first character is ``{``, CSV otherwise."""
    import io
    import sys

    data = sys.stdin.buffer.read() if hasattr(sys.stdin, "buffer") else sys.stdin.read().encode()
    if not data.strip():
        raise DataError("standard input is empty; pipe a CSV or JSON lines table into '-'")
    try:
        if data.lstrip().startswith(b"{"):
            return pd.read_json(io.BytesIO(data), lines=True, dtype=False)
        return pd.read_csv(io.BytesIO(data))
    except (ValueError, pd.errors.ParserError) as exc:
        raise DataError(f"cannot read standard input as CSV or JSON lines: {exc}") from None


def _read_json_lines(path: Path) -> pd.DataFrame:
    """One JSON object per line, values kept as written.

    Not ``pd.read_json(lines=True)``: it turns a ``true`` among numbers into 1.0 and fails on integers
    beyond 64 bits, where validation should name the column and row instead.
    """
    rows = []
    with _open_text(path) as handle:
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


def _open_text(path: Path):
    """``path`` opened as UTF-8 text, decompressed by its last suffix (``.gz``, ...) when it has one."""
    opener = {".gz": "gzip", ".bz2": "bz2", ".xz": "lzma"}.get(path.suffix.lower())
    if opener is None:
        return path.open(encoding=_JSON_ENCODING)
    import importlib

    return importlib.import_module(opener).open(path, "rt", encoding=_JSON_ENCODING)


def _read_json_records(path: Path) -> pd.DataFrame:
    with _open_text(path) as handle:
        text = handle.read()
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
    *,
    where: str | Iterable[str] | None = None,
    target: str | None = None,
) -> Runs:
    """Load and validate runs from a file path, ``dataset:NAME``, a tracker, a DataFrame or existing Runs.

    Parameters
    ----------
    source : path, ``"dataset:NAME"``, ``"-"`` (standard input), tracker source, DataFrame, dict of arrays or Runs
        Where the observations are. Bundled datasets are listed by ``scalelaw datasets list``. Files may be
        CSV, TSV, Parquet, JSON lines or JSON, text ones also compressed (``runs.csv.gz``). Tracker
        sources: ``wandb:EXPORT.csv``, ``wandb-api:ENTITY/PROJECT``, ``tensorboard:DIR`` and
        ``mlflow:URI[#EXPERIMENT]`` (:func:`scalelaw.data.trackers.load_tracker`; docs/trackers.md).
    mapping : str or mapping, optional
        Column renames such as ``"Model Size=params"``. For a tracker source they override the reader's
        guessed mapping, which the first of the runs' ``notes`` states.
    where : str or list of str, optional
        Pandas query strings selecting the rows to keep, e.g. ``"params > 1e8"`` (after ``mapping``).
    target : str, optional
        The column to be fitted: rows where it is empty are dropped with a note and a warning (see
        :meth:`Runs.from_frame`).

    Examples
    --------
    >>> runs = load_runs("dataset:porian2024")
    >>> sorted({"params", "tokens", "loss"} - set(runs.columns))
    []
    """
    rows: dict[str, Any] = {"where": None if where is None else list([where] if isinstance(where, str) else where)}
    rows["target"] = target
    if isinstance(source, Runs):
        if mapping or where:
            selected = Runs.from_frame(source.table, mapping, source=source.source, **rows)
            return Runs(selected.table, selected.source, tuple(dict.fromkeys((*source.notes, *selected.notes))))
        return source.with_target(target) if target is not None else source
    if isinstance(source, pd.DataFrame):
        return Runs.from_frame(source, mapping, source="DataFrame", **rows)
    if isinstance(source, Mapping):
        try:
            frame = pd.DataFrame({k: np.ravel(np.asarray(v)) for k, v in source.items()})
        except ValueError as exc:
            raise DataError(f"columns given as a dict must have equal lengths: {exc}") from None
        return Runs.from_frame(frame, mapping, source="dict of arrays", **rows)
    text = os.fspath(source)
    if is_tracker_source(text):
        # The tracker drops rows empty in the column about to be fitted (loss unless a target is named).
        return load_runs(load_tracker(text, mapping, drop_empty=target or "loss"), **rows)
    if text.startswith("dataset:"):
        frame = datasets.load(text.split(":", 1)[1])
        return Runs.from_frame(frame, mapping, source=text, **rows)
    return Runs.from_frame(read_table(text), mapping, source="standard input" if text == "-" else text, **rows)


def check_output_path(
    path: str | os.PathLike,
    *,
    inputs: Iterable[str | os.PathLike | None] = (),
    kind: str,
    force: bool | None = False,
) -> Path:
    """Check that writing a ``kind`` output to ``path`` destroys nothing: the guard of every CLI ``--out``.

    Refused whatever ``force`` says: an empty path, any of ``inputs`` (the same file however it is named:
    relative, through a symlink or a hard link), anything that exists and is not a regular file (a
    directory, device, FIFO or socket), files of the kernel's ``/proc`` and ``/sys``, and a place whose
    directory cannot be written. An existing regular file that is not an earlier output of the same kind
    (a CSV about to become a fit JSON, say) needs ``force=True``; replacing an earlier output of the same
    kind (running a command again) or an empty file needs nothing. The kind is told by content, not by
    extension: a fit JSON starts with ``"schema": "scalelaw.fit"``, a report names scalelaw as its
    generator, a run store's rows carry ``config_hash``.

    Parameters
    ----------
    path : path
        The ``--out`` value.
    inputs : iterable of path, str or None
        Files the command reads. ``None`` and ``dataset:NAME`` entries are skipped.
    kind : {"fit", "report", "run store"}
        What is about to be written.
    force : bool or None
        True: replace an existing file of another kind. None: the command has no ``--force``, so the
        message says to move the file away instead.

    Returns
    -------
    Path
        ``path`` as a Path.

    Raises
    ------
    DataError
        One line saying what is wrong and what to do (the CLI exits with code 2).

    Examples
    --------
    >>> check_output_path("fit.json", inputs=["runs.csv", "dataset:porian2024"], kind="fit").name
    'fit.json'
    >>> check_output_path("runs.csv", inputs=["./runs.csv"], kind="fit")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    scalelaw.errors.DataError: --out runs.csv is an input of this command (./runs.csv); writing there would ...
    """
    label, example, looks_like = _OUTPUT_KINDS[kind]
    if os.fspath(path) in ("", "."):  # typer reads --out "" as Path(""), which is "."
        raise DataError(f"--out names no file (it is empty or '.'); give a file name such as {example}")
    target = Path(path)
    for source in inputs:
        if source is not None and os.fspath(source).startswith("wandb:"):
            source = os.fspath(source)[len("wandb:") :]  # a W&B export is a file: protect it like one
        if source is not None and not os.fspath(source).startswith("dataset:") and _same_file(target, source):
            raise DataError(
                f"--out {target} is an input of this command ({os.fspath(source)}); writing there would destroy "
                "it: choose another --out"
            )
    resolved = Path(os.path.realpath(target))
    if resolved.parts[:2] in (("/", "proc"), ("/", "sys")):
        raise DataError(
            f"--out {target} is in /{resolved.parts[1]}, the kernel's interface, not storage; give a file name "
            f"such as {example}"
        )
    try:
        info = os.stat(target)  # follows a symlink: what matters is what the link points at
    except FileNotFoundError:
        _check_directory_writable(target, resolved)
        return target
    except OSError as exc:
        raise DataError(f"cannot use --out {target}: {exc.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise DataError(
            f"--out {target} is {_file_type(info.st_mode)}, not a regular file; give a file name such as {example}"
        )
    _check_directory_writable(target, resolved)
    if force or info.st_size == 0 or looks_like(target):
        return target
    advice = (
        "move it away or choose another --out"
        if force is None
        else "pass --force to replace it, or choose another --out"
    )
    raise DataError(f"--out {target} exists and is not {label}; replacing it would lose it: {advice}")


def _same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    try:
        return os.path.samefile(a, b)  # same inode: catches symlinks and hard links too
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)  # one does not exist (yet)


def _file_type(mode: int) -> str:
    kinds = (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISSOCK, "a socket"),
    )
    return next((name for test, name in kinds if test(mode)), "a special file")


def _check_directory_writable(target: Path, resolved: Path) -> None:
    """Refuse a --out whose nearest existing directory is not a directory or cannot be written in."""
    folder = resolved.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent  # missing folders are created by the writer
    if not folder.is_dir():
        raise DataError(f"cannot write --out {target}: {folder} is not a directory")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise DataError(f"cannot write --out {target}: no permission to create files in {folder}")


def _head(path: Path, size: int = 4096) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read(size)
    except OSError:
        return b""  # unreadable: not recognizably ours, so replacing it needs --force


def _is_fit_file(path: Path) -> bool:
    return re.search(rb'"schema"\s*:\s*"scalelaw\.fit"', _head(path)) is not None


def _is_report_file(path: Path) -> bool:
    return b'<meta name="generator" content="scalelaw' in _head(path)


def _is_run_store(path: Path) -> bool:
    head = _head(path)
    if head.startswith(b"PAR1"):
        require_pyarrow(f"telling whether {path} is a Parquet run store")  # not a guess that it is none
        try:
            import pyarrow.parquet as pq

            return "config_hash" in pq.read_schema(path).names
        except Exception:  # any unreadable Parquet is simply not a run store
            return False
    try:
        first = json.loads(head.split(b"\n", 1)[0])
    except ValueError:
        return False
    return isinstance(first, dict) and "config_hash" in first


#: ``kind`` of :func:`check_output_path`: how to name it, an example file name, and how to recognize one.
_OUTPUT_KINDS: dict[str, tuple[str, str, Callable[[Path], bool]]] = {
    "fit": ("a scalelaw fit JSON", "fit.json", _is_fit_file),
    "report": ("a scalelaw HTML report", "report.html", _is_report_file),
    "run store": ("a sweep run store", "runs.jsonl", _is_run_store),
}


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
        The directory cannot be created or written, the disk is full, or ``path`` exists and is neither a
        regular file nor a symlink (a directory, device, FIFO or socket: never replaced). The temporary
        file is removed and ``path`` is left as it was.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     write_bytes_atomic(Path(folder) / "out.bin", b"PAR1")
    ...     (Path(folder) / "out.bin").read_bytes()
    b'PAR1'
    """
    path = Path(path)
    _refuse_special(path)
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


def _refuse_special(path: Path) -> None:
    """Never rename over a device, FIFO, socket or directory (as root, os.replace would replace /dev/null)."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):  # a symlink itself is replaced, its target untouched
        why = f"{_file_type(mode)}, not a regular file: refusing to replace it"
        raise FileExistsError(errno.EEXIST, why, str(path))


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
