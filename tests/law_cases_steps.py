"""Conformance case of Kaplan's L(N, S_min) law (merged into tests/test_law_conformance.py)."""

from __future__ import annotations

import numpy as np

from law_case import Case


def _design() -> dict[str, np.ndarray]:
    """Learning curves of 6 sizes (1e6 to 1e9 non-embedding parameters), S_min over 3 decades after warm-up."""
    N, S = np.meshgrid(np.logspace(6, 9, 6), np.logspace(3, 6, 12))
    return {"params": N.ravel(), "s_min": S.ravel()}


CASES = {
    # Kaplan et al. 2020, Table 3 (alpha_N = 0.077, alpha_S = 0.76, N_c = 6.5e13, S_c = 2.1e3).
    "kaplan_steps": Case(
        truth={"N_c": 6.5e13, "S_c": 2.1e3, "alpha_N": 0.077, "alpha_S": 0.76},
        design=_design(),
        identified={"alpha_N": 0.1, "alpha_S": 0.1, "S_c": 0.3},
    ),
}
