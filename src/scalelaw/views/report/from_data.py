"""The whole report from data in one call: select the rows, fit, bootstrap, backtest, plan and write the page.

What ``scalelaw report DATA`` does, for Python: :func:`report` takes the same data options as :func:`scalelaw.fit`
(``mapping``, ``where``, ``weights``) and ``drop_early``, and returns what it computed with the page's path.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from scalelaw._validation import check_level, column_names
from scalelaw.data.checkpoints import drop_early as drop_early_rows
from scalelaw.data.io import load_runs
from scalelaw.errors import DataError, FitError
from scalelaw.fitting.fit import fit
from scalelaw.fitting.result import FitResult
from scalelaw.laws import Law, get_law
from scalelaw.trust.backtest import backtest_with_fit
from scalelaw.views.report.build import DEFAULT_N_BOOT, default_budgets, write_report


@dataclass(frozen=True)
class WrittenReport:
    """What :func:`report` wrote and computed.

    Attributes
    ----------
    path : Path
        The HTML page.
    fit : FitResult
        The fit on the selected rows.
    bootstrap : Bootstrap or None
        The replicates behind the intervals (None: ``n_boot=0``, or too few runs to resample).
    backtest : DataFrame or None
        The backtest row (None with ``holdout="none"``).
    budgets : list of float or None
        Compute budgets of the plan table.
    split, split_fit : Split and FitResult, or None
        The backtest's held-out split and the fit on its training side.
    """

    path: Path
    fit: FitResult
    bootstrap: Any
    backtest: pd.DataFrame | None
    budgets: list[float] | None
    split: Any = None
    split_fit: FitResult | None = None


def report(
    data: Any,
    path: str | os.PathLike = "report.html",
    law: str | Law = "chinchilla",
    *,
    y: str | None = None,
    x: str | Sequence[str] | None = None,
    mapping: str | Mapping[str, str] | Iterable[str] | None = None,
    where: str | Sequence[str] | None = None,
    weights: str | None = None,
    drop_early: float = 0.0,
    holdout: str = "top:0.2:flops",
    budgets: Sequence[float] | None = None,
    n_boot: int = DEFAULT_N_BOOT,
    level: float = 0.9,
    seed: int = 0,
    interval_kind: str = "total",
    command: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    stage: Callable[[str], contextlib.AbstractContextManager] | None = None,
    **write_options: Any,
) -> WrittenReport:
    """Fit ``law`` to ``data``, bootstrap, backtest, plan, and write the self-contained HTML report to ``path``.

    Parameters
    ----------
    data : path, ``"dataset:NAME"``, DataFrame, dict of arrays or Runs
        The observations.
    path : path
        Where the page goes (written atomically).
    law : str or Law
        Catalog name, a :class:`Law`, or ``"auto"`` (the report then shows the candidates and their weights).
    y, x
        As for :func:`scalelaw.fit`.
    mapping, where, weights
        As for :func:`scalelaw.fit`: column renames, pandas query strings selecting rows, and ``"per_run"``
        row weights (used by the fit and the backtest).
    drop_early : float
        Drop each run's checkpoints before this fraction of its training (:func:`scalelaw.data.checkpoints.drop_early`).
    holdout : str
        Backtest holdout (``"top:0.2:flops"``, ``"largest:K:COLUMN"``), or ``"none"`` for no backtest.
    budgets : sequence of float, optional
        Compute budgets of the plan table; default :func:`default_budgets`.
    n_boot, level, seed, interval_kind
        Bootstrap replicates (0: no intervals), interval level, seed and interval kind.
    command : str, optional
        The command line shown in the provenance section.
    progress : callable, optional
        ``progress(done, total)`` during the bootstrap.
    stage : callable, optional
        ``stage(label)`` returns a context manager around each long step (the command line shows a spinner).
    **write_options
        Further options of :func:`write_report` (e.g. ``plotlyjs``).

    Returns
    -------
    WrittenReport

    Examples
    --------
    A report on the models below 1B parameters (about 20 s: the page embeds plotly.js and the total intervals learn
    the law's error from rolling backtests; ``tests/test_cli_data_options.py`` runs it):

    >>> done = report("dataset:gadre2024_rpj", "small.html", where="params < 1e9", n_boot=0)  # doctest: +SKIP
    >>> done.fit.n_runs  # doctest: +SKIP
    32
    """
    check_level(level, "level")
    if n_boot < 0:
        raise DataError(f"n_boot must be >= 0, got {n_boot}")
    stage = stage or (lambda label: contextlib.nullcontext())
    target = y or ("loss" if isinstance(law, str) and law.strip() == "auto" else get_law(law).output)
    runs = load_runs(data, mapping, where=where, target=target)
    if drop_early:
        runs = drop_early_rows(runs, drop_early)
    fit_kwargs: dict[str, Any] = {"y": y, "x": column_names(x), "seed": seed}
    fit_kwargs.update({"weights": weights} if weights is not None else {})
    with stage("fitting"):
        result = fit(law, runs, **fit_kwargs)
    with stage(f"bootstrap ({n_boot} replicates)"):
        boot = _bootstrap(result, n_boot, seed, progress)
    table = split = split_fit = None
    if holdout.strip().lower() != "none":
        with stage(f"backtest ({holdout})"):
            # law="auto": backtest the chosen law (its choice already backtested every candidate)
            chosen = result.law if result.law_choice is not None else law
            table, split, split_fit = backtest_with_fit(chosen, runs, holdout, **fit_kwargs)
    plan = list(budgets) if budgets else default_budgets(result, runs)
    with stage("writing the report"):
        written = write_report(
            path, result, runs, table, plan, command, boot=boot, n_boot=n_boot if boot is None else 0,
            level=level, split=split, split_results=split_fit, seed=seed, interval_kind=interval_kind, **write_options,
        )  # fmt: skip
    return WrittenReport(written, result, boot, table, plan, split, split_fit)


def _bootstrap(result: FitResult, n_boot: int, seed: int, progress: Callable[[int, int], None] | None):
    """The report's bootstrap, or None: none asked (``n_boot=0``), or too few runs to resample (the report then
    says why and shows no intervals)."""
    if n_boot == 0:
        return None
    try:
        return result.bootstrap(n=n_boot, seed=seed, progress=progress)
    except FitError:
        return None
