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
from scalelaw.data.runs import Runs, data_fingerprint
from scalelaw.errors import DataError, FitError
from scalelaw.fitting.fit import fit
from scalelaw.fitting.result import FitResult
from scalelaw.laws import Law, get_law
from scalelaw.trust.backtest import backtest_with_fit
from scalelaw.trust.bootstrap import replicates_for
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
    law: str | Law | None = None,
    *,
    fitted: FitResult | None = None,
    y: str | None = None,
    x: str | Sequence[str] | None = None,
    mapping: str | Mapping[str, str] | Iterable[str] | None = None,
    where: str | Sequence[str] | None = None,
    weights: str | None = None,
    drop_early: float = 0.0,
    holdout: str = "top:0.2:flops",
    budgets: Sequence[float] | None = None,
    n_boot: int | None = None,
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
    law : str or Law, optional
        Catalog name, a :class:`Law`, or ``"auto"`` (the report then shows the candidates and their weights);
        default ``"chinchilla"``, or the law of ``fitted``.
    fitted : FitResult, optional
        A fit of this very data (``scalelaw fit DATA --out FIT``, loaded): reported as it is, without fitting
        again, and its saved bootstrap replicates (:meth:`FitResult.with_uncertainty`) serve the intervals.
        Refused (:class:`~scalelaw.errors.DataError`) when its data hash does not match the selected rows of
        ``data``, or when ``law``, ``y`` or ``x`` name something else than it.
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
        Bootstrap replicates (default: those saved with the fit, else 500; 0: no intervals), interval level,
        seed and interval kind.
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
    if n_boot is not None and n_boot < 0:
        raise DataError(f"n_boot must be >= 0, got {n_boot}")
    stage = stage or (lambda label: contextlib.nullcontext())
    if fitted is not None:
        law, y, x = _fitted_options(fitted, law, y, x)
    law = "chinchilla" if law is None else law
    target = y or ("loss" if isinstance(law, str) and law.strip() == "auto" else get_law(law).output)
    runs = load_runs(data, mapping, where=where, target=target)
    if drop_early:
        runs = drop_early_rows(runs, drop_early)
    fit_kwargs: dict[str, Any] = {"y": y, "x": column_names(x), "seed": seed}
    fit_kwargs.update({"weights": weights} if weights is not None else {})
    if fitted is not None:
        check_same_data(fitted, runs)
        if weights is None and fitted.data is not None and fitted.data.weights is not None:
            raise DataError(
                "the given fit was fitted with row weights: pass the same weights (--weights per_run) so that the "
                "report's backtest refits it as it was fitted"
            )
        fit_kwargs.update(loss=fitted.loss, delta=fitted.delta)  # the backtest refits with the fit's own objective
        result = fitted
    else:
        with stage("fitting"):
            result = fit(law, runs, **fit_kwargs)
    with stage("bootstrap" if n_boot is None else f"bootstrap ({n_boot} replicates)"):
        boot = _bootstrap(result, n_boot, seed, progress)
    table = split = split_fit = None
    if holdout.strip().lower() != "none":
        with stage(f"backtest ({holdout})"):
            # law="auto": backtest the chosen law (its choice already backtested every candidate)
            chosen = result.law if result.law_choice is not None or fitted is not None else law
            table, split, split_fit = backtest_with_fit(chosen, runs, holdout, **fit_kwargs)
    plan = list(budgets) if budgets else default_budgets(result, runs)
    with stage("writing the report"):
        written = write_report(
            path, result, runs, table, plan, command, boot=boot, n_boot=n_boot if boot is None else 0,
            level=level, split=split, split_results=split_fit, seed=seed, interval_kind=interval_kind, **write_options,
        )  # fmt: skip
    return WrittenReport(written, result, boot, table, plan, split, split_fit)


def _bootstrap(result: FitResult, n_boot: int | None, seed: int, progress: Callable[[int, int], None] | None):
    """The report's bootstrap, or None: none asked (``n_boot=0``), or too few runs to resample (the report then
    says why and shows no intervals). ``n_boot=None``: the replicates saved with the fit, else 500 drawn."""
    if n_boot == 0:
        return None
    try:
        return replicates_for(result, n_boot, seed, DEFAULT_N_BOOT, progress or False)
    except FitError:
        return None


def _fitted_options(
    fitted: FitResult, law: str | Law | None, y: str | None, x: str | Sequence[str] | None
) -> tuple[Law, str, list[str]]:
    """The law, ``y`` and ``x`` of a report on a given fit; options that name something else are refused."""
    name = law.name if isinstance(law, Law) else law
    if name is not None and name.strip() not in (fitted.law.name, *(("auto",) if fitted.law_choice else ())):
        raise DataError(f"law {name!r} is not the law of the given fit ({fitted.law.name!r}); leave law out")
    if y is not None and y != fitted.y:
        raise DataError(f"y={y!r} is not the fitted column of the given fit ({fitted.y!r}); leave y out")
    columns = column_names(x)
    if columns is not None and tuple(columns) != tuple(fitted.law.inputs):
        raise DataError(f"x={columns} are not the inputs of the given fit {list(fitted.law.inputs)}; leave x out")
    return fitted.law, fitted.y, list(fitted.law.inputs)


def check_same_data(fitted: FitResult, runs: Runs) -> None:
    """Raise :class:`~scalelaw.errors.DataError` unless ``runs`` hold the rows ``fitted`` was fitted to (its data
    hash over the law's inputs and ``y``): a report, or replicates, of one fit must not describe other data."""
    names = [*fitted.law.inputs, fitted.y]
    missing = [name for name in names if name not in runs.columns]
    if missing:
        raise DataError(f"the data has no column {', '.join(map(repr, missing))}, which the given fit was fitted to")
    columns = [(name, runs.array(name)) for name in names]
    hashes = {runs.fingerprint(names), data_fingerprint(columns)}  # with run ids or without, as data_matches_hash
    if fitted.data_hash and fitted.data_hash not in hashes:
        where = fitted.loaded_from or "the given fit"
        raise DataError(
            f"{where} was fitted to other data than these {len(runs)} rows (its data hash differs): pass the data "
            "and the same --where/--map/--drop-early it was fitted with, or refit it (scalelaw fit DATA --out FILE)"
        )
