"""The run store: one file of checkpoints in the canonical columns, appended atomically, safe to resume.

Format by extension: JSON lines (``.jsonl``, ``.ndjson``; the default) or Parquet (``.parquet``, ``.pq``).
Each row is one evaluation of one run::

    run, params, tokens, flops, step, lr, batch_size, loss, seed, train_loss, size, config_hash

``loss`` is the validation cross-entropy in nats per byte token, ``train_loss`` the mean training loss
since the previous checkpoint, ``batch_size`` is in tokens, ``size`` names the model size of the config
and ``config_hash`` identifies the run's settings and corpus, so a changed config is never mixed with old
rows. :func:`scalelaw.load_runs` reads the file as it is.

Appending rewrites the file through a temporary file and a rename (:func:`os.replace`), so a reader or
an interruption never sees half a batch. Rows already present by ``(run, step)`` are skipped, which
makes re-running an interrupted sweep safe. Rows are kept in the config's run order, then by step, so
the same sweep writes the same bytes whichever backend ran it. Only one process writes: the sweep's
driver, which holds an exclusive lock on ``STORE.lock`` while it runs (the lock file stays afterwards).
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from scalelaw.data.io import strict_json, write_bytes_atomic, write_text_atomic
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
    """Checkpoint rows of a sweep, loaded from and written back to one file.

    Parameters
    ----------
    path : path
        ``.jsonl``/``.ndjson`` or ``.parquet``/``.pq``; created on the first append.

    Raises
    ------
    DataError
        Unknown extension, or an existing file that is not a run store (unreadable, missing columns,
        repeated ``(run, step)``).
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
        self._rows: list[dict[str, Any]] = self._read() if self.path.exists() else []
        self._keys = {(r["run"], r["step"]) for r in self._rows}
        self._order: dict[str, int] = {}

    # ------------------------------------------------------------------ reading
    def _read(self) -> list[dict[str, Any]]:
        if self.format == "parquet":
            try:
                frame = pd.read_parquet(self.path)
            except (OSError, ValueError) as exc:
                raise DataError(f"cannot read run store {self.path} as Parquet: {exc}") from None
            rows = [_plain(r) for r in frame.to_dict(orient="records")]
        else:
            rows = []
            for number, line in enumerate(self.path.read_text(encoding="utf-8").splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise DataError(
                        f"run store {self.path} line {number} is not JSON ({exc.msg}); it is not a file this sweep "
                        "wrote: move it away or pass another --out"
                    ) from None
                if not isinstance(row, dict):
                    raise DataError(f"run store {self.path} line {number} is not a JSON object")
                rows.append(row)
        seen = set()
        for i, row in enumerate(rows, 1):
            missing = [c for c in ("run", "step", "loss") if c not in row]
            if missing:
                raise DataError(
                    f"run store {self.path} row {i} lacks {', '.join(missing)}; it is not a sweep run store: "
                    "move it away or pass another --out"
                )
            key = (row["run"], row["step"])
            if key in seen:
                raise DataError(f"run store {self.path} repeats run {key[0]!r} step {key[1]} (row {i})")
            seen.add(key)
        return rows

    def __len__(self) -> int:
        return len(self._rows)

    def rows(self, run: str | None = None) -> list[dict[str, Any]]:
        """Copies of the stored rows (of one run), in file order."""
        return [dict(r) for r in self._rows if run is None or r["run"] == run]

    def frame(self) -> pd.DataFrame:
        """The stored rows as a DataFrame in :data:`COLUMNS` order (extra columns after)."""
        frame = pd.DataFrame(self._rows)
        if frame.empty:
            return pd.DataFrame(columns=list(COLUMNS))
        return frame[[c for c in COLUMNS if c in frame] + [c for c in frame if c not in COLUMNS]]

    def last_step(self, run: str) -> int:
        """Highest stored step of ``run`` (0 when it has no rows)."""
        return max((int(r["step"]) for r in self._rows if r["run"] == run), default=0)

    def config_hash(self, run: str) -> str | None:
        """``config_hash`` of the stored rows of ``run`` (None when it has none)."""
        hashes = {r.get("config_hash") for r in self._rows if r["run"] == run}
        if len(hashes) > 1:
            raise DataError(
                f"run store {self.path} holds run {run!r} from {len(hashes)} different configs; delete its rows"
            )
        return next(iter(hashes), None)

    # ------------------------------------------------------------------ writing
    def set_order(self, runs: Sequence[str]) -> None:
        """Keep rows in this run order (then by step) when writing; unknown runs go last, as found."""
        self._order = {run: i for i, run in enumerate(runs)}

    def append(self, rows: Iterable[dict[str, Any]]) -> int:
        """Add the rows whose ``(run, step)`` is new and rewrite the file atomically; return how many."""
        new = []
        for row in rows:
            key = (row["run"], row["step"])
            if key not in self._keys:
                self._keys.add(key)
                new.append(dict(row))
        if not new:
            return 0
        self._rows.extend(new)
        self._sort()
        self._write(self.path, self._rows)
        return len(new)

    def _sort(self) -> None:
        first_seen: dict[str, int] = {}
        for row in self._rows:
            first_seen.setdefault(row["run"], len(first_seen))
        big = len(self._order)
        self._rows.sort(key=lambda r: (self._order.get(r["run"], big + first_seen[r["run"]]), int(r["step"])))

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
            last = [r for r in self._rows if r["run"] == run and int(r["step"]) == int(steps)]
            if last:
                by_run[run] = last[0]
        if not by_run:
            return None
        target = Path(path) if path is not None else final_path(self.path)
        self._write(target, list(by_run.values()))
        return target

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold an exclusive lock on ``STORE.lock`` (another sweep writing the same store fails at once).

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
            yield
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
