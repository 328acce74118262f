"""The run store: one file of checkpoints in the canonical columns, appended to, safe to resume.

Format by extension: JSON lines (``.jsonl``, ``.ndjson``; the default) or Parquet (``.parquet``, ``.pq``).
Each row is one evaluation of one run::

    run, params, tokens, flops, step, lr, batch_size, loss, seed, train_loss, size, config_hash

``loss`` is the validation cross-entropy in nats per byte token, ``train_loss`` the mean training loss
since the previous checkpoint, ``batch_size`` is in tokens, ``size`` names the model size of the config
and ``config_hash`` identifies the run's settings and corpus, so a changed config is never mixed with old
rows. :func:`scalelaw.load_runs` reads the file as it is.

Appending
    A JSON lines store is append-only: :meth:`RunStore.append` writes its new rows at the end of the file
    in one ``write`` followed by ``fsync``, so a sweep of N checkpoints costs time linear in N (the whole
    file is never rewritten per checkpoint). A crash can at worst leave a torn last line, part of the
    last batch: readers skip it and say so (:attr:`RunStore.dropped` and a :class:`StoreWarning`), and
    the next append cuts it off before writing. Any other line that is not a JSON object is not a torn
    append: the store refuses the file. Parquet cannot be appended to in place, so a Parquet store is
    still rewritten whole (atomically) on every append; prefer JSON lines for long sweeps.
Order
    Rows are appended as they arrive (a pool's runs interleave). When the writer releases the lock
    (:meth:`RunStore.locked`, however the sweep ended, Ctrl-C included) the store sorts itself once
    (:meth:`RunStore.compact`, a temporary file and a rename): config run order, then step. So a
    finished or interrupted sweep leaves the same bytes whichever backend ran it, and the bytes a store
    always had: old stores are this format and load as they are. Only a store whose writer was killed
    outright, or one read while a sweep writes it, is in arrival order; the next sweep on it sorts it.
    :meth:`RunStore.rows` and :meth:`RunStore.frame` are sorted whatever the file order.
Resuming and repeats
    A row is identified by ``(run, step)``. :meth:`RunStore.append` skips a row whose key is stored
    already, so the first record wins and the store never writes a key twice: re-running an interrupted
    sweep is safe. On reading, an exact repeat of a row (two stores concatenated, say) is kept once; a
    repeat with different values is refused with a :class:`~scalelaw.errors.DataError`, never guessed at.

Only one process writes: the sweep's driver, which holds an exclusive lock on ``STORE.lock`` while it runs
(the lock file stays afterwards), and which re-reads the store after taking the lock if it changed.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import warnings
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from scalelaw.data.io import strict_json, write_bytes_atomic, write_text_atomic
from scalelaw.data.parquet import require_pyarrow
from scalelaw.data.runs import CANONICAL_COLUMNS
from scalelaw.errors import DataError

#: Columns of a run store, in order: the canonical ones (a sweep never repeats data, so no ``unique_tokens``),
#: then the sweep's own.
COLUMNS = (
    *(c for c in CANONICAL_COLUMNS if c != "unique_tokens"),
    "train_loss",
    "size",
    "config_hash",
)
_FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet", ".pq": "parquet"}


class StoreWarning(UserWarning):
    """A run store was read with part of it left out: a torn last line, the write of a sweep cut short."""


def final_path(store: str | os.PathLike) -> Path:
    """Where the final-checkpoint table of ``store`` goes: ``X.runs.jsonl`` -> ``X.final.jsonl``.

    >>> final_path("examples/tiny.runs.jsonl").as_posix()
    'examples/tiny.final.jsonl'
    >>> final_path("out.parquet").as_posix()
    'out.final.parquet'
    """
    path = Path(store)
    stem = path.stem[: -len(".runs")] if path.stem.endswith(".runs") else path.stem
    return path.with_name(f"{stem}.final{path.suffix}")


class RunStore:
    """Checkpoint rows of a sweep, loaded from one file and appended to it.

    Parameters
    ----------
    path : path
        ``.jsonl``/``.ndjson`` or ``.parquet``/``.pq``; created on the first append.

    Attributes
    ----------
    dropped : tuple of str
        What reading the file left out: a torn last line (line number, size, its first bytes), the trace
        of a write cut short. Empty for an intact store. The next :meth:`append` removes those bytes.

    Raises
    ------
    DataError
        Unknown extension, or an existing file that is not a run store (unreadable, a line other than a
        torn last one that is not a JSON object, missing columns, a ``(run, step)`` repeated with
        different values). A Parquet store without pyarrow raises its subclass
        :class:`~scalelaw.data.parquet.ParquetExtraMissing`, which names the extra to install.

    Warns
    -----
    StoreWarning
        The last line is torn and was skipped (see :attr:`dropped`).
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.format = _FORMATS.get(self.path.suffix.lower())
        if self.format is None:
            raise DataError(
                f"cannot tell the run store format of {self.path.name!r}; end the name with "
                f"{', '.join(sorted(_FORMATS))} (JSON lines or Parquet)"
            )
        if self.path.is_dir():
            raise DataError(f"run store {self.path} is a directory; give a file name such as runs.jsonl")
        if self.format == "parquet":
            require_pyarrow(f"the Parquet run store {self.path}")
        self._order: dict[str, int] = {}
        self._load()

    # ------------------------------------------------------------------ reading
    def _load(self) -> None:
        """(Re)read the file: rows in file order, an index by run and step, and where complete records end."""
        self._rows: list[dict[str, Any]] = []  # file order
        self._lines: dict[tuple[Any, Any], bytes] = {}  # (run, step) -> its JSON line as in the file, for compact()
        self._by_run: dict[Any, dict[Any, dict[str, Any]]] = {}  # run -> step -> row, runs in first-seen order
        self._good = 0  # bytes of complete records (JSON lines): where the next append starts
        self._size = 0  # bytes on disk when read, torn tail included
        self._newline = False  # the last complete record lacks its line break
        self.dropped: tuple[str, ...] = ()
        self._stamp = _stamp(self.path)  # before reading: a change while reading shows as a stale stamp
        if self._stamp is None:
            return
        rows = self._read_parquet() if self.format == "parquet" else self._read_lines()
        for i, (row, line) in enumerate(rows, 1):
            missing = [c for c in ("run", "step", "loss") if c not in row]
            if missing:
                raise DataError(
                    f"run store {self.path} row {i} lacks {', '.join(missing)}; it is not a sweep run store: "
                    "move it away or pass another --out"
                )
            steps = self._by_run.setdefault(row["run"], {})
            kept = steps.get(row["step"])
            if kept is None:
                steps[row["step"]] = row
                self._rows.append(row)
                if line is not None:
                    self._lines[row["run"], row["step"]] = line
            elif kept != row:  # an exact repeat is kept once; a different one cannot be settled by guessing
                raise DataError(
                    f"run store {self.path} repeats run {row['run']!r} step {row['step']} with different values "
                    f"(row {i}); keep one of the two rows"
                )

    def _read_parquet(self) -> list[tuple[dict[str, Any], None]]:
        try:
            frame = pd.read_parquet(self.path)
        except (OSError, ValueError) as exc:
            raise DataError(f"cannot read run store {self.path} as Parquet: {exc}") from None
        return [(_plain(r), None) for r in frame.to_dict(orient="records")]

    def _read_lines(self) -> list[tuple[dict[str, Any], bytes]]:
        """Rows with their lines; a torn last line is left out (:attr:`dropped`) and reported."""
        data = self.path.read_bytes()
        self._size = len(data)
        lines = data.split(b"\n")
        tail = lines.pop()  # after the last line break: empty when the file ends with one
        rows = []
        for number, line in enumerate(lines, 1):
            row = self._parse(line, number)
            if row is not None:
                rows.append((row, line))
        self._good = len(data) - len(tail)
        if not tail.strip():
            self._good, self._newline = len(data), bool(tail)
            return rows
        try:
            row = json.loads(tail.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            number = len(lines) + 1
            self.dropped = (f"line {number}: {len(tail)} bytes that are not a whole record ({tail[:40]!r})",)
            warnings.warn(
                f"run store {self.path}: skipped its last line {number}, {len(tail)} bytes that are not a whole "
                "record (a write cut short by a crash); the next append to the store removes them",
                StoreWarning,
                stacklevel=3,
            )
            return rows
        rows.append((self._parse(tail, len(lines) + 1), tail))  # a whole record that only lacks its line break
        self._good, self._newline = len(data), True
        return rows

    def _parse(self, line: bytes, number: int) -> dict[str, Any] | None:
        if not line.strip():
            return None
        try:
            row = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            why = exc.msg if isinstance(exc, json.JSONDecodeError) else "not UTF-8"
            raise DataError(
                f"run store {self.path} line {number} is not JSON ({why}) and is not the last line, so not a torn "
                "append either; it is not a file this sweep wrote: move it away or pass another --out"
            ) from None
        if not isinstance(row, dict):
            raise DataError(f"run store {self.path} line {number} is not a JSON object")
        return row

    def __len__(self) -> int:
        return len(self._rows)

    def _run_order(self) -> list[Any]:
        first = {run: i for i, run in enumerate(self._by_run)}
        big = len(self._order)
        return sorted(self._by_run, key=lambda run: self._order.get(run, big + first[run]))

    def _run_rows(self, run: Any) -> list[dict[str, Any]]:
        steps = self._by_run.get(run, {})
        return [steps[step] for step in sorted(steps, key=int)]

    def _sorted(self) -> list[dict[str, Any]]:
        return [row for run in self._run_order() for row in self._run_rows(run)]

    def rows(self, run: str | None = None) -> list[dict[str, Any]]:
        """Copies of the stored rows (of one run): runs in :meth:`set_order`'s order (else as first found), by step."""
        found = self._sorted() if run is None else self._run_rows(run)
        return [dict(r) for r in found]

    def frame(self) -> pd.DataFrame:
        """The stored rows (ordered as :meth:`rows`) as a DataFrame in :data:`COLUMNS` order (extra columns after)."""
        frame = pd.DataFrame(self._sorted())
        if frame.empty:
            return pd.DataFrame(columns=list(COLUMNS))
        return frame[[c for c in COLUMNS if c in frame] + [c for c in frame if c not in COLUMNS]]

    def last_step(self, run: str) -> int:
        """Highest stored step of ``run`` (0 when it has no rows)."""
        return max((int(step) for step in self._by_run.get(run, {})), default=0)

    def config_hash(self, run: str) -> str | None:
        """``config_hash`` of the stored rows of ``run`` (None when it has none)."""
        hashes = {r.get("config_hash") for r in self._by_run.get(run, {}).values()}
        if len(hashes) > 1:
            raise DataError(
                f"run store {self.path} holds run {run!r} from {len(hashes)} different configs; delete its rows"
            )
        return next(iter(hashes), None)

    # ------------------------------------------------------------------ writing
    def set_order(self, runs: Sequence[str]) -> None:
        """Sort rows in this run order (then by step); unknown runs go last, as first found."""
        self._order = {run: i for i, run in enumerate(runs)}

    def append(self, rows: Iterable[dict[str, Any]]) -> int:
        """Add the rows whose ``(run, step)`` is new, in one durable write; return how many.

        JSON lines: the new rows go at the end of the file in one ``write`` and an ``fsync`` (a torn last
        line left by a crash is cut off first). Parquet: the file is rewritten atomically. If writing
        fails, the store (file and this object) is as it was.

        Raises
        ------
        DataError
            A value is not finite (training diverged), the file cannot be written, or it changed since it
            was read (another process writing without the lock).
        """
        new: list[dict[str, Any]] = []
        keys = set()
        for row in rows:
            key = (row["run"], row["step"])
            if key not in keys and row["step"] not in self._by_run.get(row["run"], {}):
                keys.add(key)
                new.append(dict(row))
        if not new:
            return 0
        # Serialized before anything is written: a value that is not finite refuses the whole batch.
        lines = [strict_json(_ordered(r), indent=None).encode("utf-8", errors="surrogateescape") for r in new]
        if self.format == "parquet":
            self._remember(new)
            try:
                self._write(self.path, self._sorted())
            except BaseException:
                self._forget(new)
                raise
            self._rows = self._sorted()
            self._stamp = _stamp(self.path)
            return len(new)
        self._append_bytes(b"\n" * self._newline + b"".join(line + b"\n" for line in lines))
        self._remember(new)
        self._lines.update(((r["run"], r["step"]), line) for r, line in zip(new, lines, strict=True))
        return len(new)

    def _remember(self, new: list[dict[str, Any]]) -> None:
        for row in new:
            self._by_run.setdefault(row["run"], {})[row["step"]] = row
        self._rows.extend(new)

    def _forget(self, new: list[dict[str, Any]]) -> None:
        del self._rows[len(self._rows) - len(new) :]
        for row in new:
            steps = self._by_run[row["run"]]
            del steps[row["step"]]
            if not steps:
                del self._by_run[row["run"]]

    def _append_bytes(self, data: bytes) -> None:
        """Write ``data`` where the complete records end, cutting a torn tail off first; fsync; no change on failure."""
        if self.path.exists() and not self.path.is_file():
            raise DataError(f"run store {self.path} is not a regular file; give a file name such as runs.jsonl")
        created = self._stamp is None
        if created:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o666)  # umask applies
        except OSError as exc:
            raise DataError(f"cannot open run store {self.path} to append: {exc.strerror}") from None
        try:
            info = os.fstat(fd)
            if (info.st_size, info.st_ino) != (self._size, info.st_ino if created else self._stamp[0]):
                raise DataError(
                    f"run store {self.path} changed since this process read it ({self._size} bytes then, "
                    f"{info.st_size} now): another process writes it without the lock; nothing was appended"
                )
            try:
                if self._good != self._size:
                    os.ftruncate(fd, self._good)  # the torn tail reported when the store was read
                os.lseek(fd, self._good, os.SEEK_SET)
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            except OSError as exc:
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, self._good)
                raise DataError(
                    f"cannot append to run store {self.path}: {exc.strerror}; nothing was appended"
                ) from None
            self._good = self._size = self._good + len(data)
            self._newline = False
            info = os.fstat(fd)
            self._stamp = (info.st_ino, info.st_size, info.st_mtime_ns)
        finally:
            os.close(fd)
        if created:
            _sync_directory(self.path.parent)

    def compact(self) -> bool:
        """Rewrite the file sorted (as :meth:`rows`), atomically, unless it already is; return whether it did.

        Also removes a torn last line and adds a missing final line break. :meth:`locked` calls it on release.

        Raises
        ------
        DataError
            The file changed since it was read (another process writing without the lock).
        """
        ordered = self._sorted()
        if not ordered:
            return False
        in_order = len(ordered) == len(self._rows) and all(a is b for a, b in zip(ordered, self._rows, strict=True))
        if in_order and self._good == self._size and not self._newline:
            return False
        if _stamp(self.path) != self._stamp:
            raise DataError(
                f"run store {self.path} changed since this process read it: another process writes it without "
                "the lock; not sorting it"
            )
        if self.format == "jsonl" and len(self._lines) == len(ordered):  # the lines as written: no re-serializing
            write_bytes_atomic(self.path, b"".join(self._lines[r["run"], r["step"]] + b"\n" for r in ordered))
        else:
            self._write(self.path, ordered)
        self._rows = ordered
        self._stamp = _stamp(self.path)
        self._good = self._size = self._stamp[1] if self._stamp is not None else 0
        self._newline = False
        return True

    def _write(self, path: Path, rows: list[dict[str, Any]]) -> None:
        if self.format == "jsonl":
            write_text_atomic(path, "".join(strict_json(_ordered(r), indent=None) + "\n" for r in rows))
            return
        # Parquet is built in memory and written by the same atomic writer as everything else.
        buffer = io.BytesIO()
        pd.DataFrame([_ordered(r) for r in rows]).to_parquet(buffer, index=False)
        write_bytes_atomic(path, buffer.getvalue())

    def write_final(self, runs: Sequence[tuple[str, int]], path: str | os.PathLike | None = None) -> Path | None:
        """Write the last checkpoint of every complete run (``(run, steps)`` pairs) to :func:`final_path`.

        Returns the path, or None (and nothing written) when no run is complete yet.
        """
        by_run = {}
        for run, steps in runs:
            last = self._by_run.get(run, {}).get(int(steps))
            if last is not None:
                by_run[run] = last
        if not by_run:
            return None
        target = Path(path) if path is not None else final_path(self.path)
        self._write(target, list(by_run.values()))
        return target

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold an exclusive lock on ``STORE.lock`` (another sweep writing the same store fails at once).

        On taking the lock the store is read again if the file changed since (another sweep wrote it in
        between); on release it sorts itself (:meth:`compact`), whether the block ended normally or by an
        exception (a failure to sort is then not raised over the block's own exception).

        The lock is a :func:`fcntl.flock` on a lock file that is never deleted: releasing is closing it.
        Deleting the file on release would race: a second sweep that opened the old file could lock it
        after the delete while a third creates a new file and locks that, and both would write the store.
        The empty file left behind is harmless (removing it while no sweep runs is too).

        Raises
        ------
        DataError
            Another process holds the lock, or the lock file cannot be opened (e.g. it is a directory).
        """
        import fcntl

        lock_path = self.path.with_name(self.path.name + ".lock")
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            # O_RDWR without O_TRUNC: opening must not change a file another process has locked.
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
        except OSError as exc:
            raise DataError(f"cannot open the lock file {lock_path} of run store {self.path}: {exc.strerror}") from None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise DataError(
                    f"another sweep is writing {self.path} (lock {lock_path} is held); wait for it or pass "
                    "another --out"
                ) from None
            if _stamp(self.path) != self._stamp:
                self._load()
            finished = False
            try:
                yield
                finished = True
            finally:
                try:
                    self.compact()
                except (OSError, DataError):
                    if finished:
                        raise
        finally:
            os.close(fd)  # releases the lock; the file stays for the next sweep to lock


def _ordered(row: dict[str, Any]) -> dict[str, Any]:
    out = {c: row[c] for c in COLUMNS if c in row}
    out.update((k, v) for k, v in row.items() if k not in out)
    for key, value in out.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise DataError(f"run {row.get('run')!r} step {row.get('step')}: {key} is {value}; training diverged")
    return out


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    """numpy scalars from Parquet as Python ints, floats and strings."""
    return {k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}


def _stamp(path: Path) -> tuple[int, int, int] | None:
    """Inode, size and modification time of ``path`` (None when it does not exist): whether it changed."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return None
    return (info.st_ino, info.st_size, info.st_mtime_ns)


def _sync_directory(directory: Path) -> None:
    """fsync ``directory`` so a file created in it survives a crash; a no-op where that is not possible."""
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
