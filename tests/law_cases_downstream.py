"""Conformance cases of the loss-to-metric links (scalelaw.laws.downstream)."""

from __future__ import annotations

import numpy as np

from law_case import Case

CASES = {
    # Gadre et al.'s fitted link (ORACLES.md §1, derived (k, gamma, eps)) over the loss range of their models.
    "downstream_exp": Case(
        truth={"eps": 0.85699, "k": 2.2065, "gamma": 0.71459},
        design={"loss": np.linspace(2.4, 6.0, 30)},
        identified={"eps": 0.02, "k": 0.15, "gamma": 0.05},
    ),
    # An error falling from chance (0.75, four-way multiple choice) to 0.2 around loss 3.5.
    "downstream_sigmoid": Case(
        truth={"best": 0.2, "chance": 0.75, "L_mid": 3.5, "w": 0.3},
        design={"loss": np.linspace(2.0, 5.5, 40)},
        identified={"best": 0.05, "chance": 0.05, "L_mid": 0.02, "w": 0.1},
    ),
}
