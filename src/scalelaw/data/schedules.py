"""Reading per-step LR schedules (``run, step, lr`` tables) for the LR-schedule laws.

The laws themselves live in :mod:`scalelaw.laws.schedule_laws`; the schedule features and the
:class:`~scalelaw.laws.schedule.Schedules` container in :mod:`scalelaw.laws.schedule`. This module is
the data-layer side: files, bundled datasets and column mappings.

>>> from scalelaw.data.schedules import load_schedules
>>> schedules = load_schedules("dataset:luo2025_schedules")
>>> schedules.steps("400M/wsdcon_9")
(0, 15999)
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from scalelaw.data import datasets
from scalelaw.data.io import read_table
from scalelaw.data.runs import Runs, parse_mapping
from scalelaw.data.trackers.sources import is_tracker_source, load_tracker
from scalelaw.errors import DataError
from scalelaw.laws.schedule import Schedules
from scalelaw.laws.schedule_laws import as_schedules, schedule_law

__all__ = [
    "Schedules",
    "curve_records",
    "load_curves_and_schedules",
    "load_schedules",
    "load_steps",
    "predict_curves",
]


def _read(source: str | os.PathLike, target: str | None = "lr") -> pd.DataFrame:
    """A file, ``dataset:NAME`` or tracker source as a table; a tracker's rows without ``target`` are left out."""
    text = os.fspath(source)
    if is_tracker_source(text):
        return load_tracker(text, drop_empty=target).table
    if text.startswith("dataset:"):
        return datasets.load(text.split(":", 1)[1])
    return read_table(text)


def load_schedules(
    source: Any,
    mapping: str | Mapping[str, str] | Iterable[str] | None = None,
) -> Schedules:
    """Per-run LR schedules from a file, ``dataset:NAME``, a table, ``{run: LRs}`` or one LR array.

    Tables need columns ``run`` (optional with one run), ``step`` and ``lr`` with a row for every step.
    ``mapping`` renames columns (``"name=run,iteration=step"``); entries naming columns the table does
    not have are ignored, so one ``--map`` can serve both the loss curves and the schedule file.
    """
    if isinstance(source, Schedules):
        return source
    if isinstance(source, (str, os.PathLike)):
        label = os.fspath(source)
        frame = _read(source)
        return Schedules.from_frame(_rename(frame, mapping), source=label)
    if isinstance(source, pd.DataFrame):
        return Schedules.from_frame(_rename(source, mapping))
    return as_schedules(source)


def load_steps(
    source: str | os.PathLike, mapping: str | Mapping[str, str] | Iterable[str] | None = None
) -> pd.DataFrame:
    """The ``run, step`` rows to predict (:func:`predict_curves`'s ``steps``) from a file or ``dataset:NAME``.

    ``mapping`` renames columns as for :func:`load_schedules` (entries the file lacks are ignored).
    """
    return _rename(_read(source, None), mapping)


def _rename(frame: pd.DataFrame, mapping: Any) -> pd.DataFrame:
    rename = {old: new for old, new in parse_mapping(mapping).items() if old in frame.columns}
    return frame.rename(columns=rename) if rename else frame


def load_curves_and_schedules(
    data: Any,
    schedule: Any,
    mapping: str | Mapping[str, str] | Iterable[str] | None = None,
) -> tuple[Runs, Schedules]:
    """Loss curves as :class:`~scalelaw.data.runs.Runs` and their LR schedules, with one shared column mapping.

    Each mapping entry applies to the file(s) that have the column; an entry that names a column of
    neither file is an error (a typo, most likely).
    """
    rename = parse_mapping(mapping)
    if isinstance(schedule, (str, os.PathLike)):
        lr_table: pd.DataFrame | None = _read(schedule)
        lr_source = os.fspath(schedule)
    elif isinstance(schedule, pd.DataFrame):
        lr_table, lr_source = schedule, "schedule table"
    else:
        lr_table, lr_source = None, ""
    lr_cols = set(lr_table.columns) if lr_table is not None else set()
    tracker_notes: tuple[str, ...] = ()
    if isinstance(data, Runs):
        curves = data.table
        source = data.source
    elif isinstance(data, pd.DataFrame):
        curves, source = data, "DataFrame"
    elif is_tracker_source(data):
        # The tracker reader maps its own column names: the entries the schedule table does not use go to it.
        used = {old: new for old, new in rename.items() if old not in lr_cols}
        loaded = load_tracker(data, used)
        curves, source, tracker_notes = loaded.table, loaded.source, loaded.notes
        rename = {old: new for old, new in rename.items() if old not in used}
    elif isinstance(data, (str, os.PathLike)):
        curves, source = _read(data), os.fspath(data)
    else:
        curves, source = pd.DataFrame(dict(data)), "dict of arrays"
    curve_cols = {str(c).strip() for c in curves.columns}
    unknown = [old for old in rename if old not in curve_cols and old not in lr_cols]
    if unknown:
        raise DataError(
            f"--map names column(s) {', '.join(map(repr, unknown))} found in neither {source} (columns: "
            f"{', '.join(map(repr, sorted(curve_cols)))}) nor the schedule file"
        )
    runs = Runs.from_frame(curves, {k: v for k, v in rename.items() if k in curve_cols}, source=source)
    if tracker_notes:
        runs = Runs(table=runs.table, source=runs.source, notes=(*tracker_notes, *runs.notes))
    if lr_table is not None:
        schedules = Schedules.from_frame(_rename(lr_table, rename), source=lr_source)
    else:
        schedules = load_schedules(schedule)
    return runs, schedules


def predict_curves(
    result: Any,
    schedule: Any,
    steps: pd.DataFrame | None = None,
    params: float | Mapping[str, float] | None = None,
    chunk_rows: int = 20_000,
) -> pd.DataFrame:
    """Predicted loss curves of an LR-schedule fit: every step of every run of ``schedule``, or the ``steps`` rows.

    Parameters
    ----------
    result : FitResult
        A fit of ``lr_annealing`` or ``multi_power``.
    schedule : Schedules, table, path or array
        Per-step LRs of the runs to predict.
    steps : DataFrame, optional
        Rows to predict, with columns ``run`` and ``step`` (and ``params`` for a ``by_size`` law); default:
        every step of every run in ``schedule``.
    params : float or mapping, optional
        Model size for a ``by_size`` law when ``steps`` has no ``params`` column: one value, or one per run.
    chunk_rows : int
        Rows evaluated at a time (bounds memory on schedules with hundreds of thousands of steps).

    Returns
    -------
    DataFrame
        Columns ``run, step, loss`` (plus ``params`` for a ``by_size`` law); ``loss`` is NaN at steps where
        no LR has been applied yet (zero LR area), where the laws are undefined.
    """
    inner = schedule_law(result.law)
    if inner is None:
        raise DataError(f"law {result.law.name!r} does not read an LR schedule; --schedule is for schedule laws")
    schedules = load_schedules(schedule)
    if steps is None:
        parts = []
        for run in schedules:
            first, last = schedules.steps(run)
            parts.append(pd.DataFrame({"run": run, "step": np.arange(first, last + 1)}))
        frame = pd.concat(parts, ignore_index=True)
    else:
        missing = [c for c in ("run", "step") if c not in steps.columns]
        if missing and not (missing == ["run"] and len(schedules) == 1):
            raise DataError(f"the steps table needs columns run and step; it lacks {', '.join(missing)}")
        frame = steps.reset_index(drop=True).copy()
        if "run" not in frame.columns:
            frame.insert(0, "run", schedules.runs[0])
        frame["run"] = frame["run"].astype(str)
    size_col = inner.inputs[1] if inner.by_size else None
    if size_col is not None and size_col not in frame.columns:
        if params is None:
            raise DataError(
                f"law {result.law.name!r} was fitted across model sizes: give the size of every run "
                f"('{size_col}' column in the steps table, or --at {size_col}=N)"
            )
        if isinstance(params, Mapping):
            absent = sorted(set(frame["run"]) - set(params))
            if absent:
                raise DataError(f"no model size for run(s) {', '.join(map(repr, absent[:5]))}")
            frame[size_col] = frame["run"].map(params).astype(float)
        else:
            frame[size_col] = float(params)
    run, idx = schedules.index(frame["run"].to_numpy(), frame["step"].to_numpy())
    area = np.empty(len(frame))
    for r in np.unique(run):
        sel = run == r
        area[sel] = np.cumsum(schedules[r])[idx[sel]]
    loss = np.full(len(frame), np.nan)
    valid = np.flatnonzero(area > 0)
    for lo in range(0, valid.size, max(1, int(chunk_rows))):
        rows = valid[lo : lo + chunk_rows]
        loss[rows] = np.asarray(result.predict(frame.iloc[rows], schedule=schedules))
    out = frame[["run", "step", *([size_col] if size_col else [])]].copy()
    out["step"] = out["step"].astype(np.int64)
    out["loss"] = loss
    return out


def curve_records(curves: pd.DataFrame, level: float | None = None) -> list[dict[str, Any]]:
    """:func:`predict_curves`'s table as JSON-ready records: ``run``, ``step``, ``loss`` (None where undefined).

    With ``level`` (a table from :func:`scalelaw.trust.bootstrap.curve_band`) each record also has ``low``,
    ``high``, ``level`` and ``method``, and ``interval_kind`` when the table names it
    (:func:`scalelaw.trust.total.with_kind`).

    Examples
    --------
    >>> curve_records(pd.DataFrame({"run": ["a", "a"], "step": [0, 1], "loss": [np.nan, 3.5]}))
    [{'run': 'a', 'step': 0, 'loss': None}, {'run': 'a', 'step': 1, 'loss': 3.5}]
    """
    columns = ("loss", "low", "high") if level is not None else ("loss",)
    return [
        {
            "run": str(row["run"]),
            "step": int(row["step"]),
            **{c: float(row[c]) if np.isfinite(row[c]) else None for c in columns},
            **({"level": level, "method": str(row["method"])} if level is not None else {}),
            **({"interval_kind": str(row["interval_kind"])} if level is not None and "interval_kind" in row else {}),
        }
        for row in curves.to_dict("records")
    ]
