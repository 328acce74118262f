"""Conformance case of the data-mixture law (merged into tests/test_law_conformance.py)."""

from __future__ import annotations

import numpy as np

from law_case import Case


def _simplex_design(n_runs: int = 60, n_domains: int = 4, seed: int = 0) -> dict[str, np.ndarray]:
    """Random mixtures (flat Dirichlet) plus the pure-domain vertices, as proxy-run sweeps use."""
    rng = np.random.default_rng(seed)
    R = np.vstack([np.eye(n_domains), rng.dirichlet(np.ones(n_domains), n_runs - n_domains)])
    names = ("web", "code", "books", "math")[:n_domains]
    return {f"w_{d}": R[:, j] for j, d in enumerate(names)}


CASES = {
    # Magnitudes like Ye et al.'s fits on the Pile (loss ~2-4 nats, |t| of order 1).
    "mixing_law": Case(
        truth={"c": 2.1, "k": 1.2, "t_web": -0.8, "t_code": 0.6, "t_books": -0.3},
        design=_simplex_design(),
        options={"domains": ["web", "code", "books", "math"]},
        identified={"c": 0.1, "k": 0.1, "t_web": 0.15, "t_code": 0.15, "t_books": 0.25},
    ),
}
