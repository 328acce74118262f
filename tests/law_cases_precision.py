"""Conformance case of the precision law (merged into tests/test_law_conformance.py).

Base constants are Chinchilla's published fit (Hoffmann et al. 2022, laws.md §3.1: E=1.69, A=406.4, B=410.7,
alpha=0.34, beta=0.28). The precision sensitivities and PTQ constants are illustrative: Kumar et al.'s fitted
values could not be confirmed from any source we could read (see docs/precision.md), so none are claimed.

The ``fp_quant`` case uses Sun et al. 2025's published constants (arXiv:2501.02423v3, Appendix B, Table 2;
``scalelaw.laws.precision.SUN2025``) as the truth.
"""

from __future__ import annotations

import numpy as np

from law_case import Case
from scalelaw.laws.precision import SUN2025

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


#: (exponent, mantissa) bits of the fp_quant design: the paper's low-bit ablations plus FP8/BF16-like layouts.
FP_LAYOUTS = np.array([(1, 1), (1, 3), (1, 6), (2, 1), (2, 3), (3, 2), (4, 3), (5, 2), (0, 7), (8, 7)], dtype=float)


def fp_quant_design() -> dict[str, np.ndarray]:
    """5 sizes x 4 token counts x 10 (E, M) layouts x 3 block sizes (600 runs, a superset of Sun et al.'s ranges)."""
    N = np.logspace(7.5, 9.5, 5)
    D = np.array([1e10, 3e10, 1e11, 3e11])
    i_N, i_D, i_L, i_B = (
        a.ravel() for a in np.meshgrid(*(np.arange(k) for k in (5, 4, len(FP_LAYOUTS), 3)), indexing="ij")
    )
    blocks = np.array([32.0, 128.0, 512.0])
    return {
        "params": N[i_N],
        "tokens": D[i_D],
        "exp_bits": FP_LAYOUTS[i_L, 0],
        "man_bits": FP_LAYOUTS[i_L, 1],
        "block": blocks[i_B],
    }


CASES = {
    "precision": Case(
        truth={**CHINCHILLA, "gamma_w": 2.5},
        design=precision_design(),
        identified={"E": 0.05, "alpha": 0.1, "beta": 0.1, "gamma_w": 0.05},
    ),
    "fp_quant": Case(
        truth=dict(SUN2025),
        design=fp_quant_design(),
        identified={"alpha": 0.05, "beta": 0.05, "eps": 0.03, "gamma": 0.4, "delta": 0.08, "nu": 0.08},
    ),
}
