"""Conformance cases of the transfer laws (scalelaw.laws.transfer, Isik et al. 2024)."""

from __future__ import annotations

import numpy as np

from law_case import Case

# Raw pretraining token counts over three decades, as a user would give them (no rescaling).
_TOKENS = np.geomspace(1e9, 1e12, 12)

CASES = {
    # A BLEU of about 24 to 42 over the design: u = log A + alpha log D runs from 8.5 to 12.4.
    "transfer_bleu": Case(
        truth={"A": 0.15, "alpha": 0.5, "beta": 1.5},
        design={"tokens": _TOKENS},
        noise=0.002,
        identified={"alpha": 0.3, "beta": 0.15},
    ),
    # A downstream cross-entropy falling from 1.53 to 1.07 towards a floor of 0.9.
    "transfer_ce": Case(
        truth={"E": 0.9, "A": 40.0, "alpha": 0.2},
        design={"tokens": _TOKENS},
        noise=0.002,
        identified={"E": 0.05, "alpha": 0.1},
    ),
}
