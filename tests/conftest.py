"""Shared fixtures. Tests never touch the network; ../shared/data is optional (tests skip without it)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

# Published constants used in several tests (provenance in laws.md §3.1 and §15).
EPOCH = {"E": 1.8172, "A": 482.01, "B": 2085.43, "alpha": 0.3478, "beta": 0.3658}


@pytest.fixture
def epoch_synthetic() -> pd.DataFrame:
    """laws.md §15.11: 240 runs from the Epoch law, N in 7e7-1.6e10, D in 5e9-5e11, 0.5% log noise, seed 0."""
    rng = np.random.default_rng(0)
    N = np.exp(rng.uniform(np.log(7e7), np.log(1.6e10), 240))
    D = np.exp(rng.uniform(np.log(5e9), np.log(5e11), 240))
    from scalelaw import get_law

    loss = get_law("chinchilla").predict(EPOCH, params=N, tokens=D) * np.exp(rng.normal(0, 0.005, 240))
    return pd.DataFrame({"run": [f"r{i}" for i in range(240)], "params": N, "tokens": D, "loss": loss})


@pytest.fixture
def quiet():
    """Silence scalelaw's diagnostic warnings inside a test that is not about them."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield
