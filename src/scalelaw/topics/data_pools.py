"""Which data pools to train on for a sample budget: Goyal et al. 2024's quality x repetition utility.

Goyal, Maini, Lipton, Raghunathan, Kolter, "Scaling Laws for Data Filtering -- Data Curation cannot be Compute
Agnostic" (CVPR 2024): web data comes in pools of different quality. A pool's *utility* ``b`` (negative; more
negative is better data) is the exponent of its error curve ``y = (a n / norm)^b + d``; each time the pool is
repeated its utility decays, halving every ``tau`` epochs (``b_k = b 2^(-k / tau)`` in epoch ``k``), and after
epoch ``k`` the error is multiplied by ``(n_k / n_(k-1))^(b_k)`` (law ``repetition_utility``). Filtering hard keeps
the best pool but repeats it; filtering less adds worse, unseen data. The best choice depends on the budget.

Pools combined are sampled uniformly: one epoch of the union sees each pool once, and the union's utility in
epoch ``k`` is the pools' size-weighted mean of ``b_i 2^(-k / (tau_i m))`` for ``m`` pools, with the half-lives
scaled by ``m`` as in the authors' released code (locuslab/scaling_laws_data_filtering, ``estimate_best_pool.py``,
``func_effective_utility_aggregation``). :func:`best_pool_mix` ranks the pools by utility and scores the mixes of
the best 1, 2, ... pools (the paper's FADU curation) at each budget; given pools fitted from runs
(:func:`fit_pools`), it carries each pool's by-run bootstrap into intervals on the predicted error and the share
of replicates that pick the same mix.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from scalelaw._result import TableResult, jsonable
from scalelaw._validation import check_level
from scalelaw.data.io import read_table
from scalelaw.errors import DataError
from scalelaw.fitting.fit import fit
from scalelaw.laws.data_axis import GOYAL_NORMALIZER, epoch_growth, repetition_utility
from scalelaw.trust.bootstrap import MIN_RUNS

PARAMS = ("a", "b", "tau", "d")


def _as_frame(data: Any) -> pd.DataFrame:
    if isinstance(data, pd.DataFrame):
        return data.copy()
    if isinstance(data, Mapping):
        return pd.DataFrame({k: np.ravel(v) if np.ndim(v) else v for k, v in data.items()})
    if isinstance(data, Sequence) and not isinstance(data, str) and data and isinstance(data[0], Mapping):
        return pd.DataFrame(list(data))
    if isinstance(data, (str, os.PathLike)):
        return read_table(data)
    raise DataError(f"expected a DataFrame, a dict of columns, a list of records or a path, got {type(data).__name__}")


def mix_error(
    b: Any, tau: Any, size: Any, samples: float, a: Any, d: Any, norm: float = GOYAL_NORMALIZER
) -> np.ndarray:
    """Predicted error after ``samples`` samples drawn uniformly from the union of pools.

    Parameters
    ----------
    b, tau : array_like, shape (n_pools,) or (n_sets, n_pools)
        Each pool's utility and half-life (epochs); one row per parameter set (bootstrap replicates).
    size : array_like, shape (n_pools,)
        Samples in each pool.
    samples : float
        Samples seen in training (the budget).
    a, d : float or array_like, shape (n_sets,)
        The shared scale of samples and the irreducible error.
    norm : float
        Divisor of the samples, as in the authors' code.

    Returns
    -------
    ndarray, shape (n_sets,)

    Examples
    --------
    >>> round(float(mix_error([-0.16], [6.73], [12.8e6], 32e6, 0.025, 0.1)[0]), 4)  # one pool, 2.5 epochs
    0.8175
    """
    b, tau = np.atleast_2d(np.asarray(b, dtype=np.float64)), np.atleast_2d(np.asarray(tau, dtype=np.float64))
    size = np.asarray(size, dtype=np.float64).ravel()
    a, d = np.asarray(a, dtype=np.float64).reshape(-1, 1), np.asarray(d, dtype=np.float64).reshape(-1, 1)
    total = float(size.sum())
    first, k, growth = epoch_growth(np.array([float(samples)]), np.array([total]))
    m = size.size
    share = size / total
    # Utility of the union in each epoch 0..K: the size-weighted mean of the pools' decayed utilities.
    epochs = np.concatenate([[0.0], k])
    b_eff = np.zeros((max(b.shape[0], tau.shape[0]), epochs.size))
    for p in range(m):  # one pool at a time: (n_sets, n_epochs) in memory, never (n_sets, n_pools, n_epochs)
        b_eff += share[p] * b[:, p, None] * np.exp2(-epochs[None, :] / (tau[:, p, None] * m))
    log_first = np.log(d + (a * first[0] / norm) ** b_eff[:, :1])
    return np.exp(log_first[:, 0] + b_eff[:, 1:] @ growth[0])


def fit_pools(
    runs: Any,
    pool: str = "pool",
    samples: str = "samples",
    pool_size: str = "pool_size",
    y: str = "error",
    d: float | None = None,
    n_boot: int = 200,
    seed: int = 0,
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Fit ``repetition_utility`` to each pool's runs, with by-run bootstrap replicates.

    Returns the pools' parameters (``pool, size, a, b, tau, d``, one row per pool) and, per parameter, an array
    of replicates of shape ``(n_boot, n_pools)`` (empty arrays when ``n_boot`` is 0). ``d`` fixes the
    irreducible error, as the authors do (they fix it at 0.1 for ImageNet error).
    """
    frame = _as_frame(runs)
    missing = [c for c in (pool, samples, pool_size, y) if c not in frame.columns]
    if missing:
        raise DataError(
            f"pool runs need column(s) {', '.join(map(repr, missing))}; they have {', '.join(map(str, frame.columns))}"
        )
    law = repetition_utility(samples, pool_size)
    law = law.fix(d=d) if d is not None else law
    rows, reps = [], {name: [] for name in PARAMS}
    for name, part in frame.groupby(pool, sort=False):
        sizes = part[pool_size].unique()
        if n_boot and len(part) < MIN_RUNS:
            raise DataError(
                f"pool {name!r} has {len(part)} run(s); bootstrap intervals need {MIN_RUNS}+ per pool: add runs, "
                "or pass n_boot=0 (CLI: --n-boot 0) for point estimates"
            )
        if len(sizes) != 1:
            raise DataError(f"pool {name!r} has {len(sizes)} different sizes in {pool_size!r}; a pool has one size")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = fit(law, part[[samples, pool_size, y]].reset_index(drop=True), y=y, seed=seed)
            boot = result.bootstrap(n=n_boot, seed=seed) if n_boot else None
        rows.append({"pool": str(name), "size": float(sizes[0]), **{p: result.params.get(p, d) for p in PARAMS}})
        for p in PARAMS:
            if boot is not None:
                reps[p].append(boot.values(p) if p in result.params else np.full(boot.n, d))
    replicates = {p: np.column_stack(v) if v else np.empty((0, len(rows))) for p, v in reps.items()}
    return pd.DataFrame(rows), replicates


@dataclass(frozen=True, eq=False)
class PoolMix(TableResult):
    """The predicted error of each mix of the best pools at each budget, and the best mix per budget.

    Attributes
    ----------
    table : DataFrame
        One row per (budget, mix): ``budget, mix`` (pool names joined by ``+``), ``n_pools, samples_per_epoch,
        epochs`` (passes over every pool of the mix), ``error`` and, with replicates, ``low, high`` and
        ``share_best`` (replicates in which this mix is the best); ``best`` marks the lowest predicted error.
    pools : DataFrame
        The pools, best utility first: ``pool, size, a, b, tau, d``.
    level : float
        Interval level.
    n_replicates : int
        Bootstrap replicates behind the intervals (0: the parameters were given, no intervals).
    """

    table: pd.DataFrame
    pools: pd.DataFrame
    level: float
    n_replicates: int

    def best(self) -> pd.DataFrame:
        """The best mix at each budget (one row per budget)."""
        return self.table[self.table["best"]].reset_index(drop=True)

    def to_dict(self) -> dict[str, Any]:
        """The pools, the best mix per budget and every mix scored."""
        return jsonable(
            {
                "pools": self.pools,
                "level": self.level,
                "n_replicates": self.n_replicates,
                "best": self.best(),
                "mixes": self.table,
            }
        )

    def summary(self) -> str:
        """The best mix per budget on the first line, then each with its error (and interval)."""
        best = self.best()
        head = ", ".join(f"{r.budget:.3g}: {r.mix}" for r in best.itertuples())
        lines = [f"Best pool mix per sample budget (Goyal et al. 2024): {head}"]
        for r in best.itertuples():
            interval = ""
            if self.n_replicates:
                interval = f" [{r.low:.4g}, {r.high:.4g}] ({self.level:.0%}), best in {r.share_best:.0%} of replicates"
            lines.append(f"  {r.budget:.4g} samples: {r.mix} ({r.epochs:.3g} epochs), error {r.error:.4g}{interval}")
        return "\n".join(lines)


def _pool_table(pools: Any, a: float | None, d: float | None) -> pd.DataFrame:
    frame = _as_frame(pools)
    if "name" in frame.columns and "pool" not in frame.columns:
        frame = frame.rename(columns={"name": "pool"})
    for col, value in (("a", a), ("d", d)):
        if value is not None:
            frame[col] = float(value)
    missing = [c for c in ("pool", "size", *PARAMS) if c not in frame.columns]
    if missing:
        raise DataError(
            f"pool parameters need column(s) {', '.join(map(repr, missing))} (a and d may be given for all pools: "
            f"a=, d=, or --a, --d); got {', '.join(map(str, frame.columns))}"
        )
    frame["pool"] = frame["pool"].astype(str)
    for col in ("size", *PARAMS):
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype(np.float64)
    bad = ~((frame["size"] > 0) & (frame["tau"] > 0) & (frame["b"] < 0) & (frame["a"] > 0) & (frame["d"] >= 0))
    if bad.any():
        raise DataError(
            f"pool(s) {', '.join(frame.loc[bad, 'pool'])} need size > 0, tau > 0, b < 0 (utility: an error "
            "exponent), a > 0 and d >= 0"
        )
    return frame


def best_pool_mix(
    pools: Any,
    budgets: float | Sequence[float],
    a: float | None = None,
    d: float | None = None,
    replicates: Mapping[str, np.ndarray] | None = None,
    norm: float = GOYAL_NORMALIZER,
    level: float = 0.9,
) -> PoolMix:
    """The best mix of the highest-utility pools for each sample budget (Goyal et al. 2024's FADU).

    Parameters
    ----------
    pools : DataFrame, list of records or path
        One row per pool: ``pool`` (name), ``size`` (samples), ``b`` (utility, < 0), ``tau`` (half-life, epochs)
        and ``a``, ``d`` (or give them as arguments, shared by all pools, as the paper does). The output of
        :func:`fit_pools` works as is.
    budgets : float or sequence of float
        Samples seen in training.
    a, d : float, optional
        Shared scale and irreducible error, overriding the table's columns.
    replicates : mapping of str to ndarray, optional
        Bootstrap replicates per parameter, shape ``(n, n_pools)`` in the table's pool order (from
        :func:`fit_pools`): they give the intervals and ``share_best``.
    norm : float
        Divisor of the samples (the authors' 1e5).
    level : float
        Interval level.

    Returns
    -------
    PoolMix

    Examples
    --------
    Goyal et al.'s published T-MARS pools (the top 10%, 10-20%, 20-30% and 30-40% of DataComp medium, 12.8M
    samples each; locuslab/scaling_laws_data_filtering, results/parameter_values.jsonl):

    >>> pools = [{"pool": f"top{10 * (i + 1)}", "size": 12.8e6, "b": b, "tau": t}
    ...          for i, (b, t) in enumerate([(-0.16, 6.727), (-0.125, 8.545), (-0.1, 5.273), (-0.085, 2.273)])]
    >>> best_pool_mix(pools, [32e6, 640e6], a=0.025, d=0.1).best()["mix"].tolist()
    ['top10', 'top10+top20']
    """
    level = check_level(level)
    table = _pool_table(pools, a, d)
    budget_list = [float(v) for v in np.atleast_1d(np.asarray(budgets, dtype=np.float64))]
    if not budget_list or any(not np.isfinite(v) or v <= 0 for v in budget_list):
        raise DataError(f"budgets must be positive sample counts, got {budgets!r}")
    order = np.argsort(table["b"].to_numpy(), kind="stable")  # best utility (most negative) first
    table = table.iloc[order].reset_index(drop=True)
    reps = {p: np.asarray(replicates[p])[:, order] for p in PARAMS} if replicates and len(replicates["b"]) else None
    rows = []
    for budget in budget_list:
        errors, draws = [], []
        for m in range(1, len(table) + 1):
            part = table.iloc[:m]
            size = part["size"].to_numpy()
            weights = size / size.sum()  # the mix shares one a and d: the pools' size-weighted means
            point = mix_error(part["b"], part["tau"], size, budget, part["a"] @ weights, part["d"] @ weights, norm)
            row = {"budget": budget, "mix": "+".join(part["pool"]), "n_pools": m, "samples_per_epoch": size.sum()}
            row.update(epochs=budget / size.sum(), error=float(point[0]))
            if reps is not None:
                r = {p: reps[p][:, :m] for p in PARAMS}
                draw = mix_error(r["b"], r["tau"], size, budget, r["a"] @ weights, r["d"] @ weights, norm)
                draws.append(draw)
                half = (1 - level) / 2
                row.update(low=float(np.quantile(draw, half)), high=float(np.quantile(draw, 1 - half)))
            errors.append(row["error"])
            rows.append(row)
        best = int(np.argmin(errors))
        for m, row in enumerate(rows[-len(errors) :]):
            row["best"] = m == best
            if draws:
                row["share_best"] = float(np.mean(np.argmin(np.vstack(draws), axis=0) == m))
    n_reps = 0 if reps is None else int(reps["b"].shape[0])
    return PoolMix(pd.DataFrame(rows), table[["pool", "size", *PARAMS]], level, n_reps)
