"""The LR schedules of Luo et al. 2025 (Multi-Power Law), regenerated from their definitions.

The authors' per-step LR file (``lr_schedules_per_step.csv``, 8.4 MB, 8 significant digits) is not
shipped: every schedule is a closed form (``SOURCE.md``; the reference repository's
``src/lr_schedules.py`` and ``src/data_loader.py``): linear warmup 0 -> 3e-4 over 2,160 steps
(``np.linspace`` semantics, so the peak is reached at step 2,159), peak 3e-4, final LR 3e-5.
The regenerated arrays equal that file to <= 5e-8 relative (its rounding) at all 288,000 steps, and the
loss-curve file's ``lr_logged`` column to <= 1e-9 relative (``tests/test_schedule_laws.py``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from scalelaw.laws import schedule as sched

WARMUP, PEAK, FINAL = 2160, 3e-4, 3e-5
SIZES = ("25M", "100M", "400M")
SCHEDULE_IDS = (
    "constant_24000",
    "constant_72000",
    "cosine_24000",
    "cosine_72000",
    "wsd_20000_24000",
    "wsdcon_3",
    "wsdcon_9",
    "wsdcon_18",
    "wsdld_20000_24000",
)
#: The repository's fit set (``src/config.py::TRAIN_SET``); the other six are held out.
FIT_SET = ("cosine_24000", "constant_24000", "wsdcon_9")


def schedule(schedule_id: str) -> np.ndarray:
    """Per-step LR (steps 0 .. total-1) of one of the nine schedules, e.g. ``"wsdcon_9"``.

    >>> schedule("wsdcon_9")[[0, 2159, 7999, 8000]].tolist()
    [0.0, 0.0003, 0.0003, 9e-05]
    """
    kind, _, rest = schedule_id.partition("_")
    if kind == "constant":
        return sched.constant(int(rest), PEAK, warmup=WARMUP)
    if kind == "cosine":
        return sched.cosine(int(rest), PEAK, FINAL, warmup=WARMUP)
    if kind == "wsdcon":  # two stages: 3e-4 until step 8000, then K * 1e-5 until 16000
        return sched.step_decay(16000, PEAK, boundaries=[8000], values=[int(rest) * 1e-5], warmup=WARMUP)
    if kind in ("wsd", "wsdld"):  # decay from step 20000 of 24000: exponential (wsd) or linear (wsdld)
        decay_start, total = (int(v) for v in rest.split("_"))
        decay = "exp" if kind == "wsd" else "linear"
        return sched.wsd(total, PEAK, FINAL, decay_start, warmup=WARMUP, decay=decay)
    raise KeyError(f"unknown schedule {schedule_id!r}; the dataset has {', '.join(SCHEDULE_IDS)}")


def schedules(sizes: tuple[str, ...] = SIZES) -> sched.Schedules:
    """Schedules keyed by the curves' run ids ``"<size>/<schedule_id>"`` (the same LRs for every size)."""
    arrays = {sid: schedule(sid) for sid in SCHEDULE_IDS}
    return sched.Schedules.from_arrays({f"{size}/{sid}": arrays[sid] for size in sizes for sid in SCHEDULE_IDS})


def schedules_frame() -> pd.DataFrame:
    """The long ``run, step, lr`` table of :func:`schedules` (864,000 rows; ``run`` is categorical)."""
    arrays = {sid: schedule(sid) for sid in SCHEDULE_IDS}
    runs, steps, lrs = [], [], []
    for size in SIZES:
        for sid in SCHEDULE_IDS:
            a = arrays[sid]
            runs.append(np.full(a.size, f"{size}/{sid}", dtype=object))
            steps.append(np.arange(a.size))
            lrs.append(a)
    return pd.DataFrame(
        {"run": pd.Categorical(np.concatenate(runs)), "step": np.concatenate(steps), "lr": np.concatenate(lrs)}
    )


def curves_view(frame: pd.DataFrame) -> pd.DataFrame:
    """Canonical columns for ``loss_curves.csv``: ``run = "<size>/<schedule_id>"``, ``params`` = nominal size."""
    out = frame.rename(columns={"params_nominal": "params"})
    out.insert(0, "run", out["model_size"] + "/" + out["schedule_id"])
    return out
