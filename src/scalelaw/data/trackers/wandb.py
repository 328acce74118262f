"""Weights & Biases: history exports (CSV as downloaded from the UI) and the public API (the ``wandb`` extra)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from scalelaw.data.io import read_table
from scalelaw.data.runs import Runs
from scalelaw.data.trackers.mapping import tracker_runs
from scalelaw.errors import DataError

#: A panel export ("Export CSV" on a chart): a step column, then ``RUN - METRIC`` and its ``__MIN``/``__MAX`` bands.
_PANEL = re.compile(r"^(?P<run>.+?) - (?P<metric>.+)$")
_BANDS = ("__MIN", "__MAX")


def read_wandb_export(
    path: str | os.PathLike,
    mapping: str | Mapping[str, str] | Iterable[str] | None = None,
    *,
    drop_empty: str | None = "loss",
) -> Runs:
    """Runs from a W&B CSV export: a history table (a ``Name`` column, ``_step``, metrics) or a chart's panel export.

    A history export has one row per logged step of each run: the run column (``Name``, ``run``, ``run_id``,
    ...) becomes ``run``, and metric paths map onto canonical columns (``_step`` onto ``step``,
    ``model/params`` onto ``params``, ``train/tokens_seen`` onto ``tokens``, ``eval/loss`` onto ``loss``; see
    :func:`~scalelaw.data.trackers.guess_mapping`). A panel export (``Step``, then ``RUN - METRIC`` columns
    with their ``__MIN``/``__MAX`` bands) is turned into the same long table first, the bands left out.

    Parameters
    ----------
    path : path
        The CSV (or any table :func:`~scalelaw.data.io.read_table` reads).
    mapping : str or mapping, optional
        Overrides of the guessed mapping, ``{"eval/ppl_loss": "loss"}`` or ``"eval/ppl_loss=loss"``.
    drop_empty : str or None
        Rows with no value in this canonical column are dropped and counted (``eval/loss`` is empty between
        evaluations); None keeps them.

    Returns
    -------
    Runs
        The first note says the mapping chosen, in ``--map`` syntax; the next ones what was dropped.

    Raises
    ------
    DataError
        No run column in an export whose steps repeat (rows of several runs): map it with ``"COLUMN=run"``.
    """
    path = Path(path)
    frame = read_table(path)
    notes: list[str] = []
    panel = _melt_panel(frame)
    if panel is not None:
        frame, bands = panel
        notes.append(
            f"panel export: {frame['run'].nunique()} run(s) from 'RUN - METRIC' columns ({bands} bands left out)"
        )
    return tracker_runs(
        frame,
        tracker="W&B export",
        source=f"wandb:{path}",
        mapping=mapping,
        drop_empty=drop_empty,
        single_run=path.stem,
        notes=notes,
    )


def _melt_panel(frame: pd.DataFrame) -> tuple[pd.DataFrame, int] | None:
    """A chart export as a long table (run, step, one column per metric) and its band count; None if it is not one."""
    columns = [str(c) for c in frame.columns]
    step = next((c for c in columns if c.lower().lstrip("_") == "step"), None)
    if step is None or not any(" - " in c for c in columns):
        return None
    parts: dict[str, dict[str, pd.Series]] = {}
    bands = 0
    for column in columns:
        if column == step:
            continue
        match = _PANEL.match(column)
        if match is None:
            return None  # a history export whose metric happens to contain " - "
        if column.endswith(_BANDS):
            bands += 1
            continue
        parts.setdefault(match["run"], {})[match["metric"]] = frame[column]
    pieces = [pd.DataFrame({"run": run, step: frame[step], **metrics}) for run, metrics in parts.items()]
    long = pd.concat(pieces, ignore_index=True)
    metrics = [c for c in long.columns if c not in ("run", step)]
    long = long.loc[long[metrics].notna().any(axis=1)]  # a run's rows past its last step are empty
    long.index = pd.RangeIndex(1, len(long) + 1)
    return long, bands


def read_wandb_api(
    path: str,
    mapping: str | Mapping[str, str] | Iterable[str] | None = None,
    *,
    api: Any = None,
    filters: Mapping[str, Any] | None = None,
    keys: Iterable[str] | None = None,
    drop_empty: str | None = "loss",
) -> Runs:
    """Runs of a W&B project through the public API: every run's full history, with its config as columns.

    Needs the ``wandb`` extra (``pip install 'scalelaw[wandb]'``) and a login (``wandb login`` or
    ``WANDB_API_KEY``). Each run's history comes from ``run.scan_history()`` (every row, unlike the
    sampled ``run.history()``); its config, flattened with ``.`` (``model.n_params``), fills every row,
    so ``params`` can come from the config. The run's name becomes ``run`` (with its id when names repeat).

    Parameters
    ----------
    path : str
        ``"entity/project"``, as for ``wandb.Api().runs``.
    mapping : str or mapping, optional
        Overrides of the guessed mapping (see :func:`read_wandb_export`).
    api : object, optional
        A ``wandb.Api()`` (default: a new one); anything with ``runs(path, filters=...)`` whose runs have
        ``name``, ``id``, ``config`` and ``scan_history(keys=...)``.
    filters : mapping, optional
        MongoDB-style run filters, e.g. ``{"config.sweep": "ladder"}``.
    keys : iterable of str, optional
        History keys to fetch (default: all). Fewer keys download faster, but W&B then returns only the rows
        that have every one of them (its scan_history semantics).
    drop_empty : str or None
        As for :func:`read_wandb_export`.
    """
    if api is None:
        try:
            import wandb
        except ImportError:
            raise DataError(
                "reading runs from the W&B API needs the wandb package: pip install 'scalelaw[wandb]' (or export the "
                "history as CSV and read it with wandb:FILE.csv)"
            ) from None
        api = wandb.Api()
    runs = list(api.runs(path, filters=dict(filters)) if filters else api.runs(path))
    if not runs:
        raise DataError(f"W&B project {path!r} has no runs{' matching the filters' if filters else ''}")
    names = [str(run.name) for run in runs]
    repeated = {name for name in names if names.count(name) > 1}
    frames = []
    clashes: set[str] = set()
    for run, name in zip(runs, names, strict=True):
        rows = list(run.scan_history(keys=list(keys)) if keys is not None else run.scan_history())
        history = pd.DataFrame.from_records(rows)
        config = _flatten(dict(run.config))
        clashes |= set(config) & set(history.columns)
        constants = {key: value for key, value in config.items() if key not in history.columns}
        history = history.assign(**constants) if len(history) else history
        history.insert(0, "run", f"{name}-{run.id}" if name in repeated else name)
        frames.append(history)
    frame = pd.concat(frames, ignore_index=True)
    if frame.shape[1] <= 1:
        raise DataError(f"the runs of W&B project {path!r} logged no history{' for those keys' if keys else ''}")
    frame.index = pd.RangeIndex(1, len(frame) + 1)
    notes = [f"{len(runs)} run(s) from W&B project {path!r}; the config fills every row of its run"]
    if repeated:
        notes.append(f"run names {', '.join(sorted(repeated))} repeat: their ids were added to tell them apart")
    if clashes:
        notes.append(f"config keys {', '.join(sorted(clashes))} are also history keys: the history's values are kept")
    return tracker_runs(frame, tracker="W&B API", source=f"wandb-api:{path}", mapping=mapping, drop_empty=drop_empty)


def _flatten(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested config as ``{"model.n_params": ...}``, without ``{"value": v, "desc": ...}`` wrappers or ``_wandb``."""
    flat: dict[str, Any] = {}
    for key, value in config.items():
        if str(key).startswith("_"):
            continue  # W&B's own bookkeeping (_wandb)
        if isinstance(value, Mapping) and set(value) <= {"value", "desc"} and "value" in value:
            value = value["value"]
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{name}."))
        elif isinstance(value, str | int | float | bool) or value is None:
            flat[name] = value
    return flat
