"""Conformance case of the verifier reward law (scalelaw.laws.verifier, Stroebl et al. 2024)."""

from __future__ import annotations

import numpy as np

from law_case import Case

CASES = {
    # Correct answers level off at 0.6 by k ~ 100 while false positives (plateau 0.3) keep coming: the reward
    # rises from 0.22 at k = 1 to about 0.43 near k = 60 and falls to 0.34 at k = 1e4.
    "verifier_reward": Case(
        truth={"C_max": 0.6, "A": 1.0, "b": 0.5, "F_max": 0.3, "A_f": 6.0, "b_f": 0.4},
        design={"samples": np.unique(np.round(np.geomspace(1, 1e4, 40)))},
        options={"cost": 1.0},
        noise=0.002,
        identified={},
    ),
}
