"""Conformance cases of the repeated-sampling laws (merged into tests/test_law_conformance.py)."""

from __future__ import annotations

import numpy as np

from law_case import Case

CASES = {
    # laws.md §15.10 oracle constants (a = -2, b = -0.5 in Brown et al.'s sign convention), k over 4 decades.
    "coverage": Case(
        truth={"A": 2.0, "b": 0.5},
        design={"samples": np.unique(np.round(np.logspace(0, 4, 30)))},
        identified={"A": 0.03, "b": 0.03},
    ),
    # A verifier plateau at 0.7 reached within the design (k up to 1e5).
    "coverage_ceiling": Case(
        truth={"A": 2.0, "b": 0.45, "C_max": 0.7},
        design={"samples": np.unique(np.round(np.logspace(0, 5, 40)))},
        identified={"A": 0.05, "b": 0.05, "C_max": 0.03},
    ),
}
