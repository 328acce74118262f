"""The conformance Case every catalog law declares (used by tests/test_law_conformance.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Case:
    truth: dict[str, float]
    design: dict[str, np.ndarray]
    options: dict = field(default_factory=dict)
    # Parameters the design pins down well enough to check against the truth (relative tolerance).
    identified: dict[str, float] = field(default_factory=dict)
    noise: float = 0.005


def noisy(law, truth: dict[str, float], design: dict[str, np.ndarray], noise: float = 0.005, seed: int = 0) -> dict:
    """The design with a ``loss`` column: the law at ``truth`` times log-normal noise of sd ``noise``."""
    y = law.predict(truth, **design)
    return {**design, "loss": y * np.exp(np.random.default_rng(seed).normal(0, noise, y.shape))}


def quiet_fit(law, data):
    """``scalelaw.fit`` with its diagnostic warnings silenced (tests check the status flags instead)."""
    import warnings

    from scalelaw import fit

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit(law, data)
