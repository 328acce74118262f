"""Conformance case of the emergence law (merged into tests/test_law_conformance.py)."""

import numpy as np

from law_case import Case

# Pass rates from about 1e-4 (-log PU = 9 at 1e7 params) to about 0.5 at 1e11: the span PassUntil is built for.
CASES = {
    "passuntil": Case(
        truth={"c": 9.0 * 1e7**0.28, "alpha": 0.28},
        design={"params": np.logspace(7, 11, 20)},
        identified={"c": 0.05, "alpha": 0.01},
    ),
}
