"""MLflow runs: metric histories and params through ``MlflowClient`` (the ``mlflow`` extra, ``mlflow-skinny``)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from scalelaw.data.runs import Runs
from scalelaw.data.trackers.mapping import tracker_runs
from scalelaw.errors import DataError


def read_mlflow(
    tracking_uri: str | os.PathLike,
    experiment: str | None = None,
    mapping: str | Mapping[str, str] | Iterable[str] | None = None,
    *,
    drop_empty: str | None = "loss",
) -> Runs:
    """Runs from an MLflow tracking store: one row per (run, step), a column per metric, the run's params alongside.

    Every value of every metric is read (``get_metric_history``, not the latest value only), joined on the
    step; params (strings in MLflow) become numbers where they read as numbers and fill every row of their
    run, so ``params`` can come from a logged ``n_params``. The run name becomes ``run`` (with the run id
    when names repeat); several experiments add an ``experiment`` column.

    Parameters
    ----------
    tracking_uri : str or path
        A local ``mlruns`` directory (a path or ``file:`` URI), a database (``sqlite:///mlflow.db``, which
        needs the full ``mlflow`` package, not ``mlflow-skinny``) or a tracking server (``http://...``).
    experiment : str, optional
        Experiment name or id; default: every experiment that has runs.
    mapping : str or mapping, optional
        Overrides of the guessed mapping, ``{"val_ce": "loss"}`` or ``"val_ce=loss"``.
    drop_empty : str or None
        Rows with no value in this canonical column are dropped and counted; None keeps them.

    Returns
    -------
    Runs
        The first note says the mapping chosen, in ``--map`` syntax.
    """
    uri = _tracking_uri(tracking_uri)  # before the import, which takes a second or two
    try:
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise DataError("reading MLflow runs needs mlflow: pip install 'scalelaw[mlflow]'") from None
    label = os.fspath(tracking_uri) + (f"#{experiment}" if experiment else "")
    with _file_store_allowed(uri):
        client = MlflowClient(tracking_uri=uri)
        experiments = _experiments(client, experiment, label)
        runs = _runs(client, [e.experiment_id for e in experiments])
        if not runs:
            raise DataError(f"MLflow store {label} has no runs")
        frames = [_run_frame(client, run) for run in runs]
    experiments = [e for e in experiments if e.experiment_id in {run.info.experiment_id for run in runs}]
    names = [str(run.info.run_name or run.info.run_id) for run in runs]
    repeated = {name for name in names if names.count(name) > 1}
    by_id = {e.experiment_id: e.name for e in experiments}
    for frame, run, name in zip(frames, runs, names, strict=True):
        frame.insert(0, "run", f"{name}-{run.info.run_id[:8]}" if name in repeated else name)
        if len(experiments) > 1:
            frame.insert(1, "experiment", by_id[run.info.experiment_id])
    frame = pd.concat(frames, ignore_index=True)
    frame.index = pd.RangeIndex(1, len(frame) + 1)
    notes = [f"{len(runs)} run(s) from {len(experiments)} MLflow experiment(s) at {label}; params fill every row"]
    if repeated:
        notes.append(f"run names {', '.join(sorted(repeated))} repeat: the first 8 characters of their ids were added")
    return tracker_runs(
        frame, tracker="MLflow", source=f"mlflow:{label}", mapping=mapping, drop_empty=drop_empty, notes=notes
    )


def _tracking_uri(tracking_uri: str | os.PathLike) -> str:
    """A URI from a URI or a local path; a path must exist (MLflow would create an empty store there)."""
    text = os.fspath(tracking_uri)
    if "://" in text or text.startswith(("file:", "sqlite:", "databricks")):
        return text
    path = Path(text)
    if not path.is_dir():
        raise DataError(f"no MLflow store at {text}: give an mlruns directory or a tracking URI such as sqlite:///x.db")
    return path.resolve().as_uri()


@contextlib.contextmanager
def _file_store_allowed(uri: str) -> Iterator[None]:
    """Let MLflow >= 3.7 open an ``mlruns`` directory, which it refuses by default ("maintenance mode") but reads."""
    if not uri.startswith("file:") or "MLFLOW_ALLOW_FILE_STORE" in os.environ:
        yield
        return
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    try:
        yield
    finally:
        os.environ.pop("MLFLOW_ALLOW_FILE_STORE", None)


def _experiments(client: Any, experiment: str | None, label: str) -> list[Any]:
    found = list(client.search_experiments())
    if experiment is None:
        return found
    chosen = [e for e in found if experiment in (e.name, e.experiment_id)]
    if not chosen:
        names = ", ".join(repr(e.name) for e in found) or "none"
        raise DataError(f"MLflow store {label} has no experiment {experiment!r}; its experiments: {names}")
    return chosen


def _runs(client: Any, experiment_ids: list[str]) -> list[Any]:
    """Every active run of the experiments, page by page, oldest first."""
    runs: list[Any] = []
    token = None
    while True:
        page = client.search_runs(experiment_ids, order_by=["attributes.start_time ASC"], page_token=token)
        runs += list(page)
        token = page.token
        if not token:
            return runs


def _run_frame(client: Any, run: Any) -> pd.DataFrame:
    """One run's metric histories joined on the step (the last value at a repeated step), its params as columns."""
    columns = {}
    for key in run.data.metrics:
        history = sorted(client.get_metric_history(run.info.run_id, key), key=lambda m: m.timestamp)
        values = {m.step: m.value for m in history}  # a value logged again at one step replaces the earlier
        columns[key if key != "step" else "step (metric)"] = pd.Series(values, dtype=float)
    frame = pd.DataFrame(columns).rename_axis("step").reset_index() if columns else pd.DataFrame({"step": [0]})
    for key, text in run.data.params.items():
        if key not in frame.columns:
            value = pd.to_numeric(pd.Series([text]), errors="coerce").iloc[0]
            frame[key] = text if pd.isna(value) else value
    return frame
