"""Tiny-transformer training ladders on CPU, for measuring scaling laws end to end.

A sweep is described by a TOML file (:mod:`scalelaw.sweep.config`): model sizes, a grid of token
budgets or an IsoFLOP design, the learning-rate schedule, batch size, seeds, evaluation interval and
corpus. :func:`run_sweep` trains every run on a corpus that ships with Python
(:mod:`scalelaw.sweep.corpus`), locally (sequentially or in a process pool) or on Ray, and appends
each run's checkpoints to a run store in the canonical columns (:mod:`scalelaw.sweep.store`), which
:func:`scalelaw.load_runs` reads and :func:`scalelaw.fit` fits.

Training needs the optional extra: ``pip install 'scalelaw[sweep]'`` (torch, and Ray for ``--ray``).
Reading and validating a config does not; :func:`require_torch` and :func:`require_ray` raise
:class:`SweepExtraMissing` with that instruction when a package is absent.

This package is the only part of scalelaw that imports torch or ray; nothing else imports it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scalelaw.errors import ScaleLawError

if TYPE_CHECKING:
    from scalelaw.sweep.backends import SweepResult
    from scalelaw.sweep.config import SweepConfig

INSTALL_HINT = "install the sweep extra: pip install 'scalelaw[sweep]'"

__all__ = [
    "INSTALL_HINT",
    "SweepError",
    "SweepExtraMissing",
    "load_config",
    "require_ray",
    "require_torch",
    "run_sweep",
]


class SweepExtraMissing(ScaleLawError, ImportError):
    """A package of the ``[sweep]`` extra (torch, ray) is not installed."""


class SweepError(ScaleLawError, RuntimeError):
    """A training run of a sweep failed."""


def require_torch() -> Any:
    """Import and return ``torch``, or raise :class:`SweepExtraMissing` saying how to install it."""
    try:
        import torch
    except ImportError as exc:
        raise SweepExtraMissing(f"training a sweep needs torch, which is not installed; {INSTALL_HINT}") from exc
    return torch


def require_ray() -> Any:
    """Import and return ``ray``, or raise :class:`SweepExtraMissing` saying how to install it."""
    try:
        import ray
    except ImportError as exc:
        raise SweepExtraMissing(f"--ray needs Ray, which is not installed; {INSTALL_HINT}") from exc
    return ray


def load_config(path: Any) -> SweepConfig:
    """Read and validate a sweep TOML file (see :mod:`scalelaw.sweep.config`); needs no torch."""
    from scalelaw.sweep.config import load_config as _load

    return _load(path)


def run_sweep(config: Any, out: Any = None, **options: Any) -> SweepResult:
    """Train every run of ``config`` and append its checkpoints to the run store (see :mod:`.backends`)."""
    require_torch()
    from scalelaw.sweep.backends import run_sweep as _run

    return _run(config, out, **options)
