"""The ``wandb:``, ``wandb-api:``, ``tensorboard:`` and ``mlflow:`` sources that :func:`scalelaw.load_runs` reads."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from scalelaw.data.runs import Runs
from scalelaw.errors import DataError

#: Source prefix -> what follows it, for messages and help texts.
TRACKER_PREFIXES: dict[str, str] = {
    "wandb:": "a W&B CSV export (wandb:export.csv)",
    "wandb-api:": "a W&B project through the API (wandb-api:entity/project; the wandb extra)",
    "tensorboard:": "a TensorBoard log directory, one subdirectory per run (tensorboard:logs; the tensorboard extra)",
    "mlflow:": "an MLflow store, then #experiment if wanted (mlflow:mlruns#ladder; the mlflow extra)",
}


def is_tracker_source(source: object) -> bool:
    """True for a string that starts with one of :data:`TRACKER_PREFIXES`.

    Examples
    --------
    >>> is_tracker_source("tensorboard:logs"), is_tracker_source("runs.csv")
    (True, False)
    """
    return isinstance(source, str) and source.startswith(tuple(TRACKER_PREFIXES))


def load_tracker(
    source: str,
    mapping: str | Mapping[str, str] | Iterable[str] | None = None,
    *,
    drop_empty: str | None = "loss",
) -> Runs:
    """Read a tracker source: ``wandb:FILE``, ``wandb-api:ENTITY/PROJECT``, ``tensorboard:DIR`` or ``mlflow:URI[#EXP]``.

    Parameters
    ----------
    source : str
        One of the forms above; ``mlflow:`` takes a path or URI, then ``#`` and an experiment name or id.
    mapping : str or mapping, optional
        Overrides of the reader's guessed column mapping (the mapping chosen is the first note of the result).
    drop_empty : str or None
        Rows with no value in this canonical column are dropped and counted; None keeps them.
    """
    from scalelaw.data.trackers import mlflow, tensorboard, wandb

    prefix, _, rest = source.partition(":")
    if not rest:
        raise DataError(f"{source!r} names no {prefix} source; give {TRACKER_PREFIXES[prefix + ':']}")
    if prefix == "wandb":
        return wandb.read_wandb_export(rest, mapping, drop_empty=drop_empty)
    if prefix == "wandb-api":
        return wandb.read_wandb_api(rest, mapping, drop_empty=drop_empty)
    if prefix == "tensorboard":
        return tensorboard.read_tensorboard(rest, mapping, drop_empty=drop_empty)
    if prefix == "mlflow":
        uri, _, experiment = rest.rpartition("#") if "#" in rest else (rest, "", "")
        return mlflow.read_mlflow(uri, experiment or None, mapping, drop_empty=drop_empty)
    raise DataError(f"unknown tracker source {source!r}; use one of {', '.join(TRACKER_PREFIXES)}")
