"""TensorBoard event directories, read with TensorBoard's own ``EventAccumulator`` (the ``tensorboard`` extra)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from scalelaw.data.runs import Runs
from scalelaw.data.trackers.mapping import tracker_runs
from scalelaw.errors import DataError


def read_tensorboard(
    logdir: str | os.PathLike,
    mapping: str | Mapping[str, str] | Iterable[str] | None = None,
    *,
    drop_empty: str | None = "loss",
) -> Runs:
    """Runs from a TensorBoard log directory: one subdirectory per run, one row per (run, step), a column per tag.

    The first subdirectory level below ``logdir`` names the run; event files deeper down (Keras writes
    ``RUN/train`` and ``RUN/validation``) prefix their tags with the rest of the path
    (``validation/epoch_loss``). Event files directly in ``logdir`` are one run named after it. Scalars
    written as ``simple_value`` (PyTorch's ``SummaryWriter``) and as one-element tensors (``tf.summary``) are
    both read; a tag written twice at one step (a resumed run) keeps its last value, counted in the notes.
    Tags then map onto canonical columns as for W&B (``eval/loss`` onto ``loss``, ``model/params`` onto
    ``params``, ...), and the event step becomes ``step``.

    Parameters
    ----------
    logdir : path
        The directory given to ``tensorboard --logdir``.
    mapping : str or mapping, optional
        Overrides of the guessed mapping, ``{"val/ce": "loss"}`` or ``"val/ce=loss"``.
    drop_empty : str or None
        A canonical column: the (run, step) rows where it was not written are dropped, and counted in the
        notes; None keeps every row.

    Returns
    -------
    Runs
        Its notes say the mapping chosen (first, in ``--map`` syntax), the runs and tags read, and the rows
        dropped or filled.
    """
    root = Path(logdir)
    if not root.is_dir():
        raise DataError(f"{root} is not a directory; give the TensorBoard log directory (the one of --logdir)")
    folders = sorted({path.parent for path in root.rglob("*tfevents*") if path.is_file()})
    if not folders:
        raise DataError(f"{root} holds no TensorBoard event files (events.out.tfevents.*)")
    try:
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
        from tensorboard.util import tensor_util
    except ImportError:
        raise DataError(
            "reading TensorBoard logs needs the tensorboard package: pip install 'scalelaw[tensorboard]'"
        ) from None
    records: list[tuple[str, str, int, float, float]] = []
    for folder in folders:
        parts = folder.relative_to(root).parts
        run, prefix = (parts[0], "/".join(parts[1:])) if parts else (root.resolve().name, "")
        # size_guidance 0 keeps every event: the default samples 1000 scalars per tag.
        events = EventAccumulator(str(folder), size_guidance={"scalars": 0, "tensors": 0})
        events.Reload()
        tags = events.Tags()
        for tag in tags.get("scalars", []):
            name = f"{prefix}/{tag}" if prefix else tag
            records += [(run, name, e.step, e.wall_time, e.value) for e in events.Scalars(tag)]
        for tag in tags.get("tensors", []):
            name = f"{prefix}/{tag}" if prefix else tag
            for e in events.Tensors(tag):
                value = tensor_util.make_ndarray(e.tensor_proto)
                if value.size == 1 and np.issubdtype(value.dtype, np.number):  # not text, images or hparams
                    records.append((run, name, e.step, e.wall_time, float(value.reshape(()))))
    if not records:
        raise DataError(f"the event files under {root} hold no scalar values (only images, text or histograms?)")
    long = pd.DataFrame.from_records(records, columns=["run", "tag", "step", "wall_time", "value"])
    long["tag"] = long["tag"].where(~long["tag"].isin(["run", "step"]), long["tag"] + " (tag)")  # not the keys
    long = long.sort_values("wall_time", kind="stable")
    again = long.duplicated(["run", "tag", "step"], keep="last")
    notes = [
        f"{long['run'].nunique()} run(s) named after their folder in {root}, {long['tag'].nunique()} scalar tag(s); "
        "step is the event step"
    ]
    if again.any():
        notes.append(f"{int(again.sum())} value(s) written again at the same step (a resumed run?): the last is kept")
    wide = long.loc[~again.to_numpy()].pivot(index=["run", "step"], columns="tag", values="value")
    wide = wide.reset_index().rename_axis(columns=None)
    wide.index = pd.RangeIndex(1, len(wide) + 1)
    return tracker_runs(
        wide, tracker="TensorBoard", source=f"tensorboard:{root}", mapping=mapping, drop_empty=drop_empty, notes=notes
    )
