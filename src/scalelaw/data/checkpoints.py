"""Fitting on intermediate checkpoints: drop the start of training, weight runs equally.

A run logged every few hundred steps contributes dozens of rows; a final-loss-only run contributes one.
Fitted as they are, the long runs decide the law. :func:`checkpoint_weights` gives every run the same
total weight, and :func:`drop_early` removes the start of each run, where the loss still carries the
warm-up and initialization transient that scaling laws do not describe. Both work on whole runs (the
``run`` column); pass the weights to :func:`scalelaw.fit` (``weights=``) or to
:func:`scalelaw.trust.backtest.backtest` (``weights="per_run"``, computed on the training split).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from numbers import Real
from typing import Any

import numpy as np
import pandas as pd

from scalelaw.data.io import load_runs
from scalelaw.data.runs import Runs
from scalelaw.errors import DataError

#: Row-weighting schemes: ``per_run`` gives each run the same total weight, ``per_row`` every row weight 1.
WEIGHT_SCHEMES = ("per_run", "per_row")

RunsLike = Runs | pd.DataFrame | Mapping[str, Any] | str | os.PathLike


def checkpoint_weights(runs: RunsLike, scheme: str = "per_run") -> np.ndarray:
    """Row weights that stop runs with many checkpoints from dominating a fit.

    Parameters
    ----------
    runs : Runs, DataFrame, dict of arrays, path or ``"dataset:NAME"``
        The observations; rows are grouped into runs by the ``run`` column (each row is its own run
        when there is none).
    scheme : {"per_run", "per_row"}
        ``"per_run"``: a row of a run with ``k`` rows weighs ``1/k``, so every run has the same total
        weight. ``"per_row"``: every row weighs 1 (the unweighted fit).

    Returns
    -------
    ndarray, shape (n_rows,)
        Weights in row order, scaled to sum to the number of rows (mean 1), so the objective keeps the
        magnitude of an unweighted fit. Under ``"per_run"`` each run's weights sum to
        ``n_rows / n_runs``.

    Raises
    ------
    DataError
        Unknown scheme.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"run": ["a", "a", "a", "b"], "params": [1e8, 1e8, 1e8, 1e9],
    ...                       "tokens": [1e9, 2e9, 4e9, 2e10], "loss": [3.9, 3.6, 3.4, 2.9]})
    >>> checkpoint_weights(frame).tolist()
    [0.6666666666666666, 0.6666666666666666, 0.6666666666666666, 2.0]
    """
    runs = load_runs(runs)
    if scheme not in WEIGHT_SCHEMES:
        raise DataError(f"unknown weighting scheme {scheme!r}; choose one of {', '.join(WEIGHT_SCHEMES)}")
    n_rows = len(runs)
    if scheme == "per_row":
        return np.ones(n_rows)
    _, inverse, counts = np.unique(runs.run_ids, return_inverse=True, return_counts=True)
    weights = 1.0 / counts[inverse]
    return weights * (n_rows / weights.sum())


def drop_early(runs: RunsLike, fraction: float = 0.1, by: str = "tokens") -> Runs:
    """Runs without the first ``fraction`` of each run's training.

    A row is dropped when its ``by`` value is below ``fraction`` times the largest ``by`` value of its
    run (its last checkpoint): with ``fraction=0.1, by="tokens"``, a run trained on 1e10 tokens keeps
    its checkpoints at 1e9 tokens and beyond. Training is measured from zero, not from the run's first
    logged checkpoint. Each run's last checkpoint is always kept, so no run disappears and final-loss-only
    data passes through unchanged.

    Parameters
    ----------
    runs : Runs, DataFrame, dict of arrays, path or ``"dataset:NAME"``
        The observations, grouped into runs by the ``run`` column.
    fraction : float
        Share of training to drop, ``0 <= fraction < 1``.
    by : str
        Column measuring training progress, usually ``"tokens"`` or ``"step"``.

    Returns
    -------
    Runs
        The kept rows, with a note saying how many rows were dropped.

    Raises
    ------
    DataError
        Fraction outside ``[0, 1)``; ``by`` missing, non-numeric or negative.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"run": ["a"] * 4, "params": [1e8] * 4, "tokens": [1e9, 2e9, 5e9, 1e10],
    ...                       "loss": [4.0, 3.7, 3.4, 3.2]})
    >>> drop_early(frame, fraction=0.15).array("tokens").tolist()
    [2000000000.0, 5000000000.0, 10000000000.0]
    """
    runs = load_runs(runs)
    if isinstance(fraction, bool) or not isinstance(fraction, Real) or not 0 <= fraction < 1:
        raise DataError(f"drop_early: fraction must be a number in [0, 1), got {fraction!r}")
    runs.require([by], why=f"drop_early measures training progress by {by!r}")
    values = runs.array(by)
    if np.any(values < 0):
        raise DataError(f"drop_early: column {by!r} has negative values; training progress must be >= 0")
    run_last = pd.Series(values).groupby(runs.run_ids).transform("max").to_numpy()
    keep = values >= fraction * run_last
    n_dropped = int((~keep).sum())
    note = (
        f"dropped the first {fraction:g} of each run's training ({by} < {fraction:g} x the run's last {by}): "
        f"{n_dropped} of {len(runs)} rows"
    )
    return runs.subset(keep, note)
