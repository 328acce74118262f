"""Model size or more samples: the best (N, k) for a fixed inference budget per problem.

With a budget of ``B`` FLOPs per problem, a model of ``N`` parameters can draw ``k = floor(B / cost(N))`` samples,
with ``cost(N) = 2 N T`` FLOPs for ``T`` generated tokens per sample (a forward pass costs about 2 FLOPs per parameter
and token). Brown et al. 2024 found that many samples from a smaller model can beat few from a larger one. Here
each model's coverage curve is fitted by the coverage law ``exp(-A k^-b)`` (:func:`.coverage_law.fit_coverage`,
bootstrapping problems), evaluated at the ``k`` each budget buys, and the model with the most coverage is chosen.
Intervals come from the same problem resamples for every model (the models answer the same problems), so the
share of replicates in which each model is best says how sure the choice is.

Input: a samples table with a column of model sizes (``params``) and, per model, one row per problem
(``n_samples``, ``n_correct``, ``problem``) or one row per sample (``problem``, ``correct``).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from scalelaw._result import TableResult, jsonable
from scalelaw._validation import check_level
from scalelaw.errors import DataError
from scalelaw.topics.coverage_law import CoverageFit, fit_coverage
from scalelaw.topics.sampling import _frame, _numeric, per_problem

#: FLOPs per parameter and generated token of a forward pass.
FLOPS_PER_PARAM_TOKEN = 2.0


@dataclass(frozen=True, eq=False)
class Allocation(TableResult):
    """Coverage of every model at the samples each budget buys, and the best model per budget.

    Attributes
    ----------
    table : DataFrame
        One row per (budget, model): ``budget, params, cost_per_sample, samples, coverage, low, high, p_best,
        extrapolation_decades, best`` (``samples``: the whole samples a budget buys, ``floor(budget / cost)``).
    fits : dict of float to CoverageFit
        Each model's coverage fit, by model size.
    level : float
    """

    table: pd.DataFrame
    fits: dict[float, CoverageFit]
    level: float = 0.9

    def best(self) -> pd.DataFrame:
        """The best model per budget: ``budget, params, samples, coverage, low, high, p_best``."""
        rows = self.table[self.table["best"]]
        return rows[["budget", "params", "samples", "coverage", "low", "high", "p_best"]].reset_index(drop=True)

    def to_dict(self) -> dict[str, Any]:
        """The best model per budget, every pair, and each model's coverage law parameters."""
        laws = {
            f"{n:g}": {"params": f.params, "max_samples": float(f.curve["samples"].max())} for n, f in self.fits.items()
        }
        return jsonable({"level": self.level, "best": self.best(), "table": self.table, "models": laws})

    def summary(self) -> str:
        """One line per budget: the best model, its samples and coverage with interval, and how sure the choice is."""
        lines = []
        for row in self.best().itertuples(index=False):
            lines.append(
                f"budget {row.budget:.3g} FLOPs: N = {row.params:.3g} with {row.samples:.3g} samples, coverage "
                f"{row.coverage:.3g} {self.level:.0%} [{row.low:.3g}, {row.high:.3g}], best in {row.p_best:.0%} of "
                "replicates"
            )
        if (self.table["extrapolation_decades"] > 0).any():
            lines.append("note: some budgets buy more samples than were drawn: those coverages are extrapolated")
        return "\n".join(lines) or "no budget buys a single sample of any model"


def allocate(
    table: Any,
    budget: float | Sequence[float],
    tokens_per_sample: float = 1000.0,
    size: str = "params",
    cost_per_sample: Mapping[float, float] | None = None,
    n_boot: int = 200,
    level: float = 0.9,
    seed: int = 0,
    mapping: Any = None,
) -> Allocation:
    """Choose the model size and number of samples that maximise coverage at a fixed inference budget.

    Parameters
    ----------
    table : DataFrame, dict of columns or path
        Samples of several models (column ``size``) on the same problems; see the module docstring.
    budget : float or sequence of float
        Inference FLOPs per problem.
    tokens_per_sample : float
        Tokens generated per sample ``T``: one sample costs ``2 N T`` FLOPs.
    size : str
        Column of model sizes (parameters).
    cost_per_sample : mapping of float to float, optional
        Measured cost of one sample per model size, in the budget's units (e.g. FLOPs or dollars), replacing
        ``2 N T`` for the sizes it names.
    n_boot : int
        Resamples of the problems, the same for every model (>= 10).
    level, seed : float, int
        Interval level and random seed.
    mapping : str or mapping, optional
        Column renames, e.g. ``"model_size=params"``.

    Returns
    -------
    Allocation

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> rows = []
    >>> for N, a in ((1e9, 0.4), (1e10, 1.2)):  # the large model solves more per sample
    ...     p = rng.beta(a, 3.0, 200)
    ...     rows.append(pd.DataFrame({"params": N, "problem": np.arange(200), "n_samples": 1000,
    ...                               "n_correct": rng.binomial(1000, p)}))
    >>> plan = allocate(pd.concat(rows), budget=[2e13, 2e14], tokens_per_sample=1000, n_boot=20)
    >>> plan.best()["params"].tolist()
    [1000000000.0, 10000000000.0]
    """
    check_level(level)
    if n_boot < 10:
        raise DataError(f"n_boot must be at least 10 (got {n_boot}): the choice's interval needs resamples")
    if not (np.isfinite(tokens_per_sample) and tokens_per_sample > 0):
        raise DataError(f"tokens_per_sample must be a positive number, got {tokens_per_sample!r}")
    budgets = np.atleast_1d(np.asarray(budget, dtype=np.float64))
    if budgets.size == 0 or np.any(~np.isfinite(budgets) | (budgets <= 0)):
        raise DataError(f"budgets must be positive FLOPs per problem, got {budgets.tolist()}")
    fits = _fit_models(table, size, n_boot, level, seed, mapping)
    rows = []
    for B in budgets:
        rows.append(_rows_for_budget(fits, float(B), _costs(fits, tokens_per_sample, cost_per_sample), level))
    return Allocation(pd.concat(rows, ignore_index=True), fits, level)


def _fit_models(table: Any, size: str, n_boot: int, level: float, seed: int, mapping: Any) -> dict[float, CoverageFit]:
    frame = _frame(table, mapping)
    if size not in frame.columns:
        raise DataError(f"the table has no model-size column {size!r}; name it with size=... or mapping='COL={size}'")
    sizes = _numeric(frame, size)
    if np.any(sizes <= 0):
        raise DataError(f"model sizes in {size!r} must be positive parameter counts")
    groups = np.unique(sizes)
    if groups.size < 2:
        raise DataError(f"allocation compares models: the table has one model size ({groups[0]:g}); give two or more")
    problem_sets = []
    fits = {}
    for N in groups:
        counts = per_problem(frame[sizes == N].drop(columns=[size])).sort_values("problem", key=lambda s: s.astype(str))
        problem_sets.append(tuple(counts["problem"].astype(str)))
        # Same seed and same problems in the same order: every model's replicate j resamples the same problems.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fits[float(N)] = fit_coverage(counts.reset_index(drop=True), n_boot=n_boot, level=level, seed=seed)
    if len(set(problem_sets)) > 1:
        warnings.warn(
            "the models were not sampled on the same problems: their replicates are resampled independently, and "
            "the comparison mixes problem difficulty with model quality",
            UserWarning,
            stacklevel=3,
        )
    return fits


def _costs(fits: dict[float, CoverageFit], tokens: float, given: Mapping[float, float] | None) -> np.ndarray:
    """Cost of one sample per model (in :data:`fits` order): ``given`` where it names the size, else ``2 N T``."""
    given = {} if given is None else {float(n): float(c) for n, c in given.items()}
    unknown = sorted(set(given) - set(fits))
    if unknown:
        raise DataError(f"cost_per_sample names model sizes the table does not have: {unknown}; it has {sorted(fits)}")
    bad = {n: c for n, c in given.items() if not (np.isfinite(c) and c > 0)}
    if bad:
        raise DataError(f"costs per sample must be positive numbers, got {bad}")
    return np.array([given.get(N, FLOPS_PER_PARAM_TOKEN * N * tokens) for N in fits])


def _rows_for_budget(fits: dict[float, CoverageFit], budget: float, cost: np.ndarray, level: float) -> pd.DataFrame:
    names = list(fits)
    # Whole samples only: a budget buys floor(B / cost) of them (the tolerance keeps 2e13 / 2e12 at 10, not 9).
    k = np.floor(budget / cost * (1 + 1e-12))
    feasible = k >= 1.0
    coverage = np.array([float(f.predict(max(kk, 1.0))[0]) for f, kk in zip(fits.values(), k, strict=True)])
    coverage = np.where(feasible, coverage, np.nan)
    n_rep = min(f.replicates.shape[0] for f in fits.values())
    reps = np.full((n_rep, len(names)), np.nan)
    for j, (f, kk) in enumerate(zip(fits.values(), k, strict=True)):
        if feasible[j] and n_rep:
            law = f.result.law
            reps[:, j] = law.predict(f.replicates[:n_rep], **{law.inputs[0]: [kk]})[:, 0]
    alpha = (1.0 - level) / 2.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an infeasible model's column is all NaN
        low, high = np.nanquantile(reps, alpha, axis=0), np.nanquantile(reps, 1.0 - alpha, axis=0)
    winners = np.nanargmax(np.where(np.isnan(reps), -np.inf, reps), axis=1) if n_rep else np.zeros(0, int)
    p_best = np.array([np.mean(winners == j) if n_rep else np.nan for j in range(len(names))])
    p_best = np.where(feasible, p_best, 0.0)
    k_data = np.array([float(f.curve["samples"].max()) for f in fits.values()])
    with np.errstate(divide="ignore", invalid="ignore"):
        beyond = np.where(feasible, np.maximum(np.log10(k / k_data), 0.0), np.nan)
    best = np.zeros(len(names), bool)
    if feasible.any():
        best[int(np.nanargmax(np.where(feasible, coverage, -np.inf)))] = True
    return pd.DataFrame(
        {
            "budget": budget,
            "params": names,
            "cost_per_sample": cost,
            "samples": k,
            "coverage": coverage,
            "low": np.where(feasible, low, np.nan),
            "high": np.where(feasible, high, np.nan),
            "p_best": p_best,
            "extrapolation_decades": beyond,
            "best": best,
        }
    )


__all__ = ["FLOPS_PER_PARAM_TOKEN", "Allocation", "allocate"]
