"""Conformance cases of the data-axis laws (merged into tests/test_law_conformance.py)."""

from __future__ import annotations

import numpy as np

from law_case import Case


def _goyal_design() -> dict[str, np.ndarray]:
    """Three pool sizes, each trained from a fraction of an epoch up to 40 epochs (as Goyal et al.'s runs)."""
    pool = np.repeat([2e6, 8e6, 3.2e7], 12)
    epochs = np.tile(np.geomspace(0.25, 40, 12), 3)
    return {"samples": pool * epochs, "pool_size": pool}


CASES = {
    # Raw kept-example counts over 4 decades (Sorscher et al. 2022's fast regime: error in [0, 1]).
    "exponential": Case(
        truth={"E": 0.04, "A": 0.6, "scale": 3e5},
        design={"examples": np.geomspace(1e4, 1.5e6, 30)},
        identified={"E": 0.05, "A": 0.05, "scale": 0.05},
    ),
    # Goyal et al. 2024's published values for the top-10% T-MARS pool (locuslab/scaling_laws_data_filtering,
    # results/parameter_values.jsonl, "tmars_imagenet1k_utility"; d fixed there at 0.1).
    "repetition_utility": Case(
        truth={"a": 0.025, "b": -0.16, "tau": 6.73, "d": 0.1},
        design=_goyal_design(),
        identified={"b": 0.1, "tau": 0.2},
    ),
}
