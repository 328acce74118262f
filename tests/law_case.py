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
