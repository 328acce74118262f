"""Conformance case of the precision law (merged into tests/test_law_conformance.py).

Base constants are Chinchilla's published fit (Hoffmann et al. 2022, laws.md §3.1: E=1.69, A=406.4, B=410.7,
alpha=0.34, beta=0.28). The precision sensitivities and PTQ constants are illustrative: Kumar et al.'s fitted
values could not be confirmed from any source we could read (see docs/precision.md), so none are claimed.
"""

from __future__ import annotations

import numpy as np

from law_case import Case

CHINCHILLA = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}
BITS = np.array([3.0, 4.0, 6.0, 8.0, 16.0])  # laws.md §8.1 data section


def precision_design(ptq: bool = False) -> dict[str, np.ndarray]:
    """Grid over (N, D, P): 5 sizes x 4 tokens-per-parameter x 5 training bit-widths [x 5 PTQ bit-widths]."""
    N = np.logspace(7.5, 9.5, 5)
    ratio = np.array([10.0, 30.0, 100.0, 300.0])
    axes = [N, ratio, BITS] + ([BITS] if ptq else [])
    grid = [a.ravel() for a in np.meshgrid(*axes, indexing="ij")]
    design = {"params": grid[0], "tokens": grid[0] * grid[1], "bits_w": grid[2]}
    if ptq:
        design["bits_post"] = grid[3]
    return design


CASES = {
    "precision": Case(
        truth={**CHINCHILLA, "gamma_w": 2.5},
        design=precision_design(),
        identified={"E": 0.05, "alpha": 0.1, "beta": 0.1, "gamma_w": 0.05},
    ),
}
