"""What a sweep reports while it runs: plain, picklable records passed from workers to the driver.

Workers (in-process, pool processes or Ray tasks) emit :class:`RunStarted`, :class:`RunProgress`,
:class:`Checkpoint` and :class:`RunFinished`; the driver appends checkpoints to the run store and hands
every event to the caller's ``on_event`` (the CLI draws progress bars from them). The driver itself emits
:class:`SweepStarted` first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class PlannedRun:
    """A run the sweep will train: its size and how much work is left."""

    run: str
    size: str
    params: int
    steps: int
    stored_step: int
    flops_per_step: float


@dataclass(frozen=True)
class SweepStarted:
    """Emitted once, before training: what will be trained, what is already in the store."""

    name: str
    store: str
    backend: str
    workers: int
    planned: tuple[PlannedRun, ...]
    skipped: tuple[str, ...]
    corpus: dict[str, Any]

    @property
    def total_flops(self) -> float:
        """Training FLOPs of all planned runs, from step 1 (the unit of the overall progress)."""
        return float(sum(p.steps * p.flops_per_step for p in self.planned))


@dataclass(frozen=True)
class RunStarted:
    """A worker began a run; ``start_step`` > 0 when it resumed from a saved training state."""

    run: str
    steps: int
    start_step: int


@dataclass(frozen=True)
class RunProgress:
    """Optimizer step ``step`` of ``steps`` is done (emitted a few times a second at most)."""

    run: str
    step: int
    steps: int
    train_loss: float


@dataclass(frozen=True)
class Checkpoint:
    """Rows of one evaluation, in the canonical columns, to append to the run store."""

    run: str
    rows: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class RunSummary:
    """How a run ended.

    ``seconds`` is the wall time of the run, ``cpu_seconds`` the CPU time its process spent on it (the two
    differ when other work shares the cores). ``status`` is ``"trained"`` (from scratch), ``"resumed"``
    (from a saved state, or after rows already in the store) or ``"skipped"`` (complete in the store
    before this sweep).
    """

    run: str
    size: str
    params: int
    tokens: int
    flops: float
    steps: int
    seed: int
    loss: float
    train_loss: float
    seconds: float = field(compare=False)  # wall-clock: two runs with the same outcome compare equal
    cpu_seconds: float = field(compare=False)
    status: str

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class RunFinished:
    """The run's last checkpoint was emitted; nothing more comes for it."""

    run: str
    summary: RunSummary


Event = SweepStarted | RunStarted | RunProgress | Checkpoint | RunFinished
