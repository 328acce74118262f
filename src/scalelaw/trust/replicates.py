"""Seed replicates: which rows share a configuration, and which configurations must be resampled together.

A configuration is a tuple of config-column values (numbers compared to 12 significant digits); rows of one run
that differ in config (checkpoints) and runs that share a configuration with another seed (replicates) are told
apart here, for :mod:`.noise`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from scalelaw.errors import DataError, format_rows

__all__ = ["check_replicates", "combine_codes", "config_codes", "config_key", "duplicated", "resampling_groups"]


def config_codes(table: pd.DataFrame, config: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Configuration index of every row (ordered by first appearance) and the first row of each."""
    codes = combine_codes([pd.factorize(config_key(table[c]))[0] for c in config])
    _, first = np.unique(codes, return_index=True)
    return codes, first


def combine_codes(parts: Sequence[np.ndarray]) -> np.ndarray:
    """Dense codes, in order of first appearance, of the tuples formed by integer code arrays."""
    key = np.zeros(len(parts[0]), dtype=np.int64)
    for part in parts:
        key = key * (int(part.max()) + 1) + part
        key = pd.factorize(key)[0].astype(np.int64)  # keep the key small however many columns
    return key


def config_key(series: pd.Series) -> np.ndarray:
    """Hashable key of a config column: numbers to 12 significant digits (so 1e9 == 1000000000.0000001)."""
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        values = series.to_numpy(dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            exponent = np.where(values != 0, np.floor(np.log10(np.abs(values))), 0.0)
        rounded = np.round(values / 10.0**exponent, 11) * 10.0**exponent
        return np.where(np.isnan(values), np.inf, rounded)  # NaN (an unset option) is one value
    return series.astype(object).where(series.notna(), "nan").astype(str).to_numpy()


def check_replicates(table: pd.DataFrame, codes: np.ndarray, run_ids: np.ndarray, config: Sequence[str]) -> None:
    run_codes = pd.factorize(run_ids)[0]
    dup = duplicated(combine_codes([codes, run_codes]))
    if dup.any():
        raise DataError(
            f"{format_rows(table.index[dup])} repeat the configuration ({', '.join(config)}) of an earlier row of "
            "the same run; a run has one row per configuration - add the column that tells its rows apart (e.g. "
            "'step' or 'tokens') to config"
        )
    if "seed" in table.columns:
        seeds = table["seed"]
        # Several rows of one run share its seed (checkpoints); only distinct runs with one seed are at fault.
        pair = combine_codes([codes, pd.factorize(config_key(seeds))[0]])
        first_run = pd.Series(run_codes).groupby(pair).transform("first").to_numpy()
        dup = (first_run != run_codes) & seeds.notna().to_numpy()
        if dup.any():
            raise DataError(
                f"{format_rows(table.index[dup])} share configuration ({', '.join(config)}) and seed with an "
                "earlier run, so they are not seed replicates; add the column that distinguishes them to config"
            )


def duplicated(codes: np.ndarray) -> np.ndarray:
    _, first = np.unique(codes, return_index=True)
    dup = np.ones(len(codes), dtype=bool)
    dup[first] = False
    return dup


def resampling_groups(codes: np.ndarray, run_ids: np.ndarray, n_configs: int) -> np.ndarray:
    """Resampling group of each configuration: configurations linked by a shared run are one group."""
    parent = list(range(n_configs))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first_config: dict[str, int] = {}
    for code, run in zip(codes.tolist(), run_ids.tolist(), strict=True):
        if run in first_config:
            a, b = find(first_config[run]), find(code)
            if a != b:
                parent[max(a, b)] = min(a, b)
        else:
            first_config[run] = code
    roots = [find(i) for i in range(n_configs)]
    label = {root: f"config{j}" for j, root in enumerate(dict.fromkeys(roots))}
    return np.array([label[r] for r in roots], dtype=object)
