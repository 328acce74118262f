"""Backtests: fit on the small end of a sweep, predict the held-out large end, rank laws by that error.

A scaling law is used to extrapolate, so the honest test of a law is extrapolation: hold out the
largest runs, fit on the rest, and measure how far the predictions for the held-out runs are from
what was observed. In-sample fit quality rewards flexibility; a law with more freedom fits the small
runs better and can still miss the large ones. :func:`select_law` therefore ranks by the held-out error.

Holdouts (which runs are left out, always whole) are :mod:`scalelaw.trust.holdout`.
"""

from __future__ import annotations

import functools
import math
import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from scalelaw._progress import Callback, ProgressLike, reporting
from scalelaw._result import Result, records
from scalelaw._validation import check_level, column_names
from scalelaw.data.checkpoints import WEIGHT_SCHEMES, checkpoint_weights
from scalelaw.data.io import load_runs
from scalelaw.data.runs import Runs
from scalelaw.errors import BoundWarning, ConvergenceWarning, DataError, FitError, IdentifiabilityWarning
from scalelaw.fitting.fit import fit
from scalelaw.fitting.result import FitResult, predict_values
from scalelaw.laws.catalog import get_law
from scalelaw.laws.law import Law
from scalelaw.trust.backtest_scoring import INTERVAL_COLUMNS, held_out_band, rmse_log, score_intervals
from scalelaw.trust.holdout import DEFAULT_COLUMN, Holdout, HoldoutSpec, Split, parse_holdout, split_runs

__all__ = [
    "METRICS",
    "HoldoutSpec",
    "SelectionResult",
    "Split",
    "backtest",
    "backtest_predictions",
    "backtest_with_fit",
    "parse_holdout",
    "rolling_backtest",
    "select_law",
    "split_runs",
    "to_records",
]

#: Held-out errors :func:`select_law` can rank by (smaller is better).
METRICS = ("mean_abs_rel_error", "max_abs_rel_error", "rmse_log")

RunsLike = Runs | pd.DataFrame | Mapping[str, Any] | str | os.PathLike
LawsLike = str | Law | Iterable[str | Law]

# A fit's diagnostic warnings become columns of the backtest row; repeated per law they would drown the table.
_ROW_WARNINGS = (IdentifiabilityWarning, ConvergenceWarning, BoundWarning)


# ------------------------------------------------------------------------------------------ backtest
def backtest(
    laws: LawsLike,
    runs: RunsLike,
    holdout: Holdout = "top:0.2:flops",
    y: str | None = None,
    level: float | None = None,
    n_boot: int = 1000,
    kind: str = "total",
    progress: ProgressLike = False,
    **fit_kwargs: Any,
) -> pd.DataFrame:
    """Fit each law on the small end of the runs and score its predictions for the held-out large end.

    Parameters
    ----------
    laws : str, Law or sequence of them
        Catalog names (a comma-separated string works too), :class:`Law` objects or both. ``"auto"`` is
        ``scalelaw.fit("auto", ...)`` on the training part alone (its rolling backtests choose among
        ``candidates=``, default those the columns allow, without seeing the held-out runs), scored like any law.
        ``"averaged"`` is the same fit scored by its averaged prediction (the weighted geometric mean of the
        candidates' predictions, :meth:`~scalelaw.fitting.choice.LawChoice.averaged`), with its total interval
        as the band; listed with ``"auto"``, both rows share one training fit (and one bootstrap).
    runs : Runs, DataFrame, dict of arrays, path or ``"dataset:NAME"``
        The observations.
    holdout : str, HoldoutSpec, boolean mask or callable
        Which runs to hold out (see :func:`~scalelaw.trust.holdout.split_runs`); whole runs only.
    y : str, optional
        Column to fit and predict; defaults to each law's output (``"loss"``).
    level : float, optional
        Level (e.g. 0.9) of prediction intervals whose coverage of the held-out observations is
        reported, when :class:`~scalelaw.FitResult` offers ``predict_interval``; ``coverage`` is NaN otherwise.
        LR-schedule laws fitted on fewer than 8 runs use the block bootstrap (see
        :func:`scalelaw.trust.bootstrap.default_by`).
    n_boot : int
        Bootstrap refits per law behind ``level`` (fewer is faster and noisier).
    kind : {"total", "parameter"}
        Kind of the intervals (:meth:`~scalelaw.FitResult.predict_interval`): the total interval, whose law
        error is learned from the training part's own rolling backtests, or the by-run bootstrap alone.
    progress : bool or callable
        True draws a progress bar over the laws (see :func:`scalelaw.trust.bootstrap.bootstrap`).
    **fit_kwargs
        Passed to :func:`scalelaw.fit` (``loss``, ``delta``, ``starts``, ``seed``, ``x``,
        ``law_options``, ``schedule`` for the LR-schedule laws, covering the held-out runs too, ...).
        ``weights`` may be one weight per row of ``runs`` (the training rows are taken from it) or a
        scheme of :func:`scalelaw.data.checkpoints.checkpoint_weights` (``"per_run"``), computed on the
        training rows; ``mapping`` and ``where`` (as in :func:`scalelaw.fit`) select rows before the split.

    Returns
    -------
    pandas.DataFrame
        One row per law, in the order given:

        - ``law``, ``formula``, ``n_params``; ``holdout`` (the spec) and ``split_column``;
        - ``n_train``, ``n_test``, ``n_train_runs``, ``n_test_runs``: rows and runs on each side;
        - ``max_train``, ``max_test``, ``extrapolation_decades``: largest value of the split column
          in training and held out, and ``log10`` of their ratio;
        - ``mean_abs_rel_error``, ``max_abs_rel_error``: of ``|prediction - observed| / observed``
          over held-out rows (fractions, not percent); ``rmse_log``: root mean square of
          ``log(prediction / observed)`` over held-out rows;
        - ``in_sample_rmse_log``: the same on the training rows, for contrast;
        - ``interval``, ``interval_kind``, ``coverage``: interval level and kind, and the share of held-out
          observations inside their prediction interval; ``interval_score``: the mean interval (Winkler) score
          on the log scale; ``mean_rel_width``: the mean of ``(high - low) / prediction``
          (:mod:`.backtest_scoring`; NaN, and an empty kind, when not computed: ``"averaged"`` has only a total
          interval, none of kind ``"parameter"``);
        - ``chosen``: for ``"auto"`` and ``"averaged"``, the law its rolling backtests chose on the training
          part (else empty); the ``formula`` of ``"averaged"`` names the candidates' weights;
        - ``converged``, ``not_identifiable``, ``at_bound`` (comma-separated names): fit status;
        - ``error``: empty, or why the law could not be fitted or scored (its metrics are then NaN,
          or inf when it predicts non-finite values). One failing law does not stop the others.

        Metrics weigh every held-out row equally, so a held-out run with many checkpoints counts more.

    Raises
    ------
    DataError
        A bad holdout, a law needing a column the data lacks, or a training part with fewer rows
        than a law has parameters.
    LawError
        An unknown law name.

    Examples
    --------
    >>> table = backtest(["chinchilla", "kaplan"], "dataset:gadre2024_rpj", holdout="largest:2:params")
    >>> table[["law", "n_train", "n_test", "n_test_runs"]].values.tolist()
    [['chinchilla', 32, 3, 3], ['kaplan', 32, 3, 3]]
    >>> bool(table.loc[0, "mean_abs_rel_error"] < 0.05)
    True
    """
    runs, resolved, fit_kwargs = _prepare(laws, runs, y, level, fit_kwargs, kind)
    split = split_runs(runs, holdout)
    with reporting(progress, f"backtest ({len(resolved)} law(s))") as tick:
        return _evaluate(resolved, runs, split, y, (level, n_boot, kind), fit_kwargs, tick)[0]


def backtest_predictions(
    laws: LawsLike,
    runs: RunsLike,
    holdout: Holdout = "top:0.2:flops",
    y: str | None = None,
    level: float | None = None,
    n_boot: int = 1000,
    kind: str = "total",
    **fit_kwargs: Any,
) -> pd.DataFrame:
    """The held-out rows with each law's prediction (and interval): what :func:`backtest` summarizes.

    Parameters
    ----------
    laws, runs, holdout, y, level, n_boot, kind, **fit_kwargs
        As for :func:`backtest`.

    Returns
    -------
    pandas.DataFrame
        One row per (law, held-out row): ``law``, ``row`` (the data's row label), ``run`` (when the data
        has run ids), the split column, ``observed``, ``predicted``, ``rel_error`` (signed,
        ``predicted / observed - 1``) and, with ``level``, ``low``, ``high`` and ``covered``. A law
        that could not be fitted has no rows.

    Examples
    --------
    >>> rows = backtest_predictions("chinchilla", "dataset:gadre2024_rpj", holdout="largest:2:params")
    >>> rows[["law", "observed"]].shape
    (3, 2)
    >>> bool((rows["rel_error"].abs() < 0.05).all())
    True
    """
    runs, resolved, fit_kwargs = _prepare(laws, runs, y, level, fit_kwargs, kind)
    split = split_runs(runs, holdout)
    return _evaluate(resolved, runs, split, y, (level, n_boot, kind), fit_kwargs)[1]


def backtest_with_fit(
    law: str | Law, runs: RunsLike, holdout: Holdout = "top:0.2:flops", **fit_kwargs: Any
) -> tuple[pd.DataFrame, Split, FitResult]:
    """One law's :func:`backtest` with the split behind it and the law fitted on the training side.

    What a report of the backtest draws: the table's row, which runs were held out, and the training fit whose
    predictions for them the table scores. That fit's warnings are silenced: the table reports its status.

    Parameters
    ----------
    law, runs, holdout, **fit_kwargs
        As for :func:`backtest` (``fit_kwargs`` go to both the backtest and the training fit).

    Returns
    -------
    (DataFrame, Split, FitResult)

    Examples
    --------
    >>> table, split, train_fit = backtest_with_fit("chinchilla", "dataset:gadre2024_rpj", "largest:2:params")
    >>> len(table), split.test.n_runs, train_fit.n_runs == split.train.n_runs
    (1, 3, True)
    """
    runs = _prepare([law], runs, fit_kwargs.get("y"), None, fit_kwargs, "total")[0]  # rows as the backtest's
    fit_kwargs = {k: v for k, v in fit_kwargs.items() if k not in ("mapping", "where")}
    split = split_runs(runs, holdout)
    table = backtest([law], runs, holdout=holdout, **fit_kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        train_fit = fit(law, split.train, **fit_kwargs)
    return table, split, train_fit


def rolling_backtest(
    laws: LawsLike,
    runs: RunsLike,
    fractions: Sequence[float] = (0.1, 0.2, 0.3, 0.4, 0.5),
    column: str = DEFAULT_COLUMN,
    y: str | None = None,
    level: float | None = None,
    n_boot: int = 1000,
    kind: str = "total",
    **fit_kwargs: Any,
) -> pd.DataFrame:
    """Backtest at several cutoffs: hold out the top 10%, 20%, ... of ``column``.

    Shows whether a law's extrapolation error grows with the distance extrapolated and whether the
    ranking of laws is stable across cutoffs.

    Parameters
    ----------
    laws, runs, y, level, n_boot, kind, **fit_kwargs
        As for :func:`backtest`.
    fractions : sequence of float
        Holdout fractions (``top:FRACTION:COLUMN``). A fraction that holds out the same runs as an
        earlier one is skipped rather than fitted twice.
    column : str
        Column that orders the runs.

    Returns
    -------
    pandas.DataFrame
        :func:`backtest`'s rows for every cutoff, with a leading ``fraction`` column.

    Examples
    --------
    >>> table = rolling_backtest("chinchilla", "dataset:gadre2024_rpj", fractions=(0.1, 0.3))
    >>> table[["fraction", "n_test"]].values.tolist()
    [[0.1, 4.0], [0.3, 11.0]]
    """
    runs, resolved, fit_kwargs = _prepare(laws, runs, y, level, fit_kwargs, kind)
    if not len(fractions):
        raise DataError("rolling_backtest needs at least one fraction")
    tables, seen = [], set()
    for fraction in fractions:
        split = split_runs(runs, HoldoutSpec("top", float(fraction), column))
        key = frozenset(split.test.run_ids)
        if key in seen:
            continue
        seen.add(key)
        table = _evaluate(resolved, runs, split, y, (level, n_boot, kind), fit_kwargs)[0]
        table.insert(0, "fraction", float(fraction))
        tables.append(table)
    return pd.concat(tables, ignore_index=True)


def _prepare(
    laws: LawsLike, runs: RunsLike, y: str | None, level: float | None, fit_kwargs: dict[str, Any], kind: str
) -> tuple[Runs, list[tuple[str, Law | _Auto]], dict[str, Any]]:
    """Check everything that does not depend on the split, before any fit runs."""
    from scalelaw.trust.total import check_kind  # total.py reaches this module through extrapolation_error

    check_kind(kind)
    fit_kwargs = dict(fit_kwargs)
    runs = load_runs(runs, fit_kwargs.pop("mapping", None), where=fit_kwargs.pop("where", None))
    resolved = _resolve_laws(laws, fit_kwargs)
    outputs = {law.output if isinstance(law, Law) else "loss" for _, law in resolved}  # "auto" fits the loss
    runs = load_runs(runs, target=y or (outputs.pop() if len(outputs) == 1 else None))  # drops rows without one
    _check_columns(resolved, runs, y)
    if level is not None:
        check_level(level)
    return runs, resolved, fit_kwargs


@dataclass(frozen=True)
class _Auto:
    """``"auto"`` (or ``"averaged"``) in a backtest's laws: ``fit("auto", ...)`` on the training part, with these
    options; ``point`` says which prediction is scored, the chosen law's or the averaged one."""

    candidates: tuple[str, ...] | None
    x: Any
    law_options: dict[str, Any]
    point: str = "chosen"

    @property
    def label(self) -> str:
        return "averaged" if self.point == "averaged" else "auto"

    def fit(self, runs: Runs, cache: dict[Any, Any] | None = None, **kwargs: Any) -> FitResult:
        """The training fit, taken from ``cache`` when ``auto`` and ``averaged`` share it (a failure too)."""
        cache = {} if cache is None else cache
        key = ("fit", self.candidates, repr(self.x), repr(sorted(self.law_options.items())))
        if key not in cache:
            options = dict(candidates=self.candidates, x=self.x, law_options=self.law_options)
            try:
                cache[key] = fit("auto", runs, **options, **kwargs)
            except Exception as exc:  # raised below for every row that shares the fit
                cache[key] = exc
        if isinstance(cache[key], Exception):
            raise cache[key]
        return cache[key]

    def predict(self, result: FitResult, table: pd.DataFrame) -> np.ndarray:
        """The scored prediction at ``table``'s rows: the chosen law's, or the candidates' averaged one."""
        if self.point != "averaged":
            return predict_values(result, table)
        return np.asarray(result.law_choice.averaged({c: table[c].to_numpy() for c in table.columns}))


def _resolve_laws(laws: LawsLike, fit_kwargs: dict[str, Any]) -> list[tuple[str, Law | _Auto]]:
    """Laws as ``(label, Law)`` with ``x`` and ``law_options`` applied (and removed from ``fit_kwargs``);
    ``"auto"`` as ``("auto", _Auto)``, which takes ``candidates`` (also removed)."""
    options = dict(fit_kwargs.pop("law_options", None) or {})
    x = fit_kwargs.pop("x", None)
    candidates = fit_kwargs.pop("candidates", None)
    if isinstance(laws, (str, Law)):
        items: list[str | Law] = [laws]
    else:
        items = list(laws)
    names = []
    for item in items:
        if isinstance(item, str):
            names += [part.strip() for part in item.split(",") if part.strip()]
        elif isinstance(item, Law):
            names.append(item)
        else:
            raise DataError(f"a law is a catalog name or a Law, got {type(item).__name__}")
    if not names:
        raise DataError("backtest needs at least one law, e.g. laws=['chinchilla', 'kaplan']")
    if candidates is not None and "auto" not in names and "averaged" not in names:
        raise DataError(
            "candidates= is for the laws 'auto' and 'averaged': add one to the laws, e.g. laws=['chinchilla', 'auto']"
        )
    resolved: list[Law | _Auto] = []
    for item in names:
        if isinstance(item, str) and item in ("auto", "averaged"):
            inputs = None if x is None else ([x] if isinstance(x, str) else list(x))
            point = "averaged" if item == "averaged" else "chosen"
            resolved.append(_Auto(tuple(candidates) if candidates else None, inputs, options, point))
            continue
        law = get_law(item, **options) if isinstance(item, str) else item
        if x is not None:
            law = law.with_inputs(*column_names(x))
        resolved.append(law)
    labels = [law.name if isinstance(law, Law) else law.label for law in resolved]
    out = []
    for k, (label, law) in enumerate(zip(labels, resolved, strict=True)):
        if labels.count(label) > 1:
            label = f"{label}#{labels[: k + 1].count(label)}"
        out.append((label, law))
    return out


def _check_columns(resolved: list[tuple[str, Law | _Auto]], runs: Runs, y: str | None) -> None:
    problems, absent = [], []
    for label, law in resolved:
        if isinstance(law, _Auto):  # its candidates are those the columns allow, or say why not in its row
            continue
        needed = [*law.inputs, y or law.output]
        missing = [c for c in needed if c not in runs.table.columns]
        if missing:
            problems.append(f"law {label!r} needs {', '.join(map(repr, missing))}")
            absent += missing
    if problems:
        raise DataError(
            f"{runs.source} lacks columns the laws read: {'; '.join(problems)}. Its columns are "
            f"{', '.join(map(repr, runs.columns))}; rename with --map 'YOUR NAME={absent[0]}' or pass x=[...]"
        )


def _evaluate(
    resolved: list[tuple[str, Law | _Auto]],
    runs: Runs,
    split: Split,
    y: str | None,
    band: tuple[float | None, int, str],
    fit_kwargs: dict[str, Any],
    tick: Callback | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The backtest table (one row per law) and the held-out predictions (one row per law and test row);
    ``band`` is the intervals' level (None: no intervals), bootstrap replicates and kind."""
    level, n_boot, _ = band
    if level is not None and (isinstance(n_boot, bool) or not isinstance(n_boot, int | np.integer) or n_boot < 20):
        raise DataError(f"n_boot must be a whole number of bootstrap refits >= 20 for intervals, got {n_boot!r}")
    n_train = len(split.train)
    too_few = [(label, law.n_params) for label, law in resolved if isinstance(law, Law) and law.n_params > n_train]
    if too_few:
        detail = ", ".join(f"{label} has {n}" for label, n in too_few)
        raise DataError(
            f"holdout {split.description} leaves {n_train} training row(s), fewer than the parameters of the "
            f"law(s) to fit ({detail}); hold out less"
        )
    kwargs = dict(fit_kwargs)
    kwargs["weights"] = _train_weights(kwargs.get("weights"), runs, split)
    common = {
        "holdout": split.description,
        "split_column": split.column,
        "n_train": n_train,
        "n_test": len(split.test),
        "n_train_runs": split.n_train_runs,
        "n_test_runs": split.n_test_runs,
        "max_train": split.max_train,
        "max_test": split.max_test,
        "extrapolation_decades": split.extrapolation_decades,
    }
    rows, predictions, cache = [], [], {}  # cache: auto's training fit and band, shared with averaged
    for done, (label, law) in enumerate(resolved, 1):
        row: dict[str, Any] = {"law": label, "chosen": "", **common}
        if isinstance(law, Law):
            row.update(formula=law.formula(), n_params=law.n_params)
        scores, held_out = _score(law, split, y, band, kwargs, cache)
        row.update(scores)
        rows.append(row)
        if held_out is not None:
            held_out.insert(0, "law", label)
            predictions.append(held_out)
        if tick is not None:
            tick(done, len(resolved))
    table = pd.DataFrame(rows, columns=_COLUMNS)
    columns = ["law", "row", *(["run"] if "run" in split.test.table.columns else []), *_split_columns(split)]
    columns += ["observed", "predicted", "rel_error", *(["low", "high", "covered"] if level is not None else [])]
    held = pd.concat(predictions, ignore_index=True) if predictions else pd.DataFrame(columns=columns)
    return table, held[columns]


def _split_columns(split: Split) -> list[str]:
    return [split.column] if split.column and split.column in split.test.table.columns else []


_COLUMNS = [
    "law",
    "chosen",
    "formula",
    "n_params",
    "holdout",
    "split_column",
    "n_train",
    "n_test",
    "n_train_runs",
    "n_test_runs",
    "max_train",
    "max_test",
    "extrapolation_decades",
    "mean_abs_rel_error",
    "max_abs_rel_error",
    "rmse_log",
    "in_sample_rmse_log",
    "interval",
    "interval_kind",
    "coverage",
    "interval_score",
    "mean_rel_width",
    "converged",
    "not_identifiable",
    "at_bound",
    "error",
]


def _train_weights(weights: Any, runs: Runs, split: Split) -> np.ndarray | None:
    if weights is None:
        return None
    if isinstance(weights, str):
        if weights not in WEIGHT_SCHEMES:
            raise DataError(f"unknown weighting scheme {weights!r}; choose one of {', '.join(WEIGHT_SCHEMES)}")
        return checkpoint_weights(split.train, weights)
    arr = np.asarray(weights, dtype=np.float64)
    if arr.shape != (len(runs),):
        raise DataError(
            f"weights must have one entry per row of the runs ({len(runs)}), got shape {arr.shape}; the "
            "backtest takes the training rows' weights from it"
        )
    return arr[~split.held_out]


def _score(
    law: Law | _Auto,
    split: Split,
    y: str | None,
    band: tuple[float | None, int, str],
    kwargs: dict[str, Any],
    cache: dict[Any, Any] | None = None,
) -> tuple[dict[str, Any], pd.DataFrame | None]:
    level, n_boot, kind = band
    nan_row: dict[str, Any] = {m: math.nan for m in (*METRICS, "in_sample_rmse_log", *INTERVAL_COLUMNS[1:])}
    nan_row.update(interval=math.nan if level is None else level, converged=None, not_identifiable=None)
    nan_row.update(interval_kind="" if level is None else kind, at_bound="", error="")
    auto = isinstance(law, _Auto)
    if auto:
        nan_row.update(formula=law.label, n_params=math.nan)
        if law.point == "averaged" and kind != "total":
            nan_row.update(interval_kind="")  # the averaged prediction has a total interval only
    try:
        with warnings.catch_warnings():
            for category in _ROW_WARNINGS:
                warnings.simplefilter("ignore", category)
            result = (functools.partial(law.fit, cache=cache) if auto else functools.partial(fit, law))(
                split.train, y=y, **kwargs
            )
    except Exception as exc:  # one law failing must not abort the comparison: report it in its row
        return {**nan_row, "error": f"{type(exc).__name__}: {exc}"}, None
    column = result.y
    row = {
        **nan_row,
        **(_chosen(result, law.point) if auto else {}),
        "converged": result.status.converged,
        "not_identifiable": result.status.not_identifiable,
        "at_bound": ",".join(result.status.at_bound),
    }
    observed = split.test.array(column)
    with np.errstate(all="ignore"):
        predicted = law.predict(result, split.test.table) if auto else predict_values(result, split.test.table)
        fitted = law.predict(result, split.train.table) if auto else predict_values(result, split.train.table)
    row["in_sample_rmse_log"] = rmse_log(fitted, split.train.array(column))
    bad = ~(np.isfinite(predicted) & (predicted > 0))
    if bad.any():
        row.update(dict.fromkeys(METRICS, math.inf))
        row["error"] = f"non-finite or non-positive predictions at {int(bad.sum())} of {bad.size} held-out rows"
        return row, None
    rel = np.abs(predicted - observed) / np.abs(observed)
    row["mean_abs_rel_error"] = float(np.mean(rel))
    row["max_abs_rel_error"] = float(np.max(rel))
    row["rmse_log"] = rmse_log(predicted, observed)
    test = split.test.table
    held_out = pd.DataFrame({"row": test.index.to_numpy()})
    for col in ("run", *_split_columns(split)):
        if col in test.columns and col not in held_out.columns:
            held_out[col] = test[col].to_numpy()
    held_out["observed"], held_out["predicted"] = observed, predicted
    held_out["rel_error"] = predicted / observed - 1.0
    if level is not None and auto and law.point == "averaged" and kind != "total":
        held_out["low"] = held_out["high"] = math.nan  # no parameter interval of its own (predict_interval's point)
        held_out["covered"] = None
    elif level is not None:
        row.update(
            score_intervals(
                result, test, held_out, level, n_boot, kind, _band(result, test, band, cache if auto else None)
            )
        )
    return row, held_out


def _band(
    result: FitResult, test: pd.DataFrame, band: tuple[float | None, int, str], cache: dict[Any, Any] | None
) -> pd.DataFrame | None:
    """The held-out interval of ``result``, once per training fit (``auto`` and ``averaged`` share one)."""
    level, n_boot, kind = band
    if cache is None:
        return held_out_band(result, test, level, n_boot, kind)
    key = ("band", id(result))
    if key not in cache:  # a band that could not be made (None) is not made again
        cache[key] = held_out_band(result, test, level, n_boot, kind)
    return cache[key]


def _chosen(result: FitResult, point: str = "chosen") -> dict[str, Any]:
    """What the row of ``"auto"`` (or ``"averaged"``) says of the law its training-part backtests chose."""
    law = result.law
    if point == "averaged":
        return {"chosen": law.name, "formula": f"averaged: {result.law_choice.weights_words()}", "n_params": math.nan}
    return {"chosen": law.name, "formula": f"auto: {law.formula()}", "n_params": law.n_params}


# ------------------------------------------------------------------------------------------ selection
@dataclass(frozen=True, eq=False)
class SelectionResult(Result):
    """The law that extrapolated best in a backtest, the evidence, and a sentence saying why.

    Attributes
    ----------
    best : str
        Label of the winning law (its catalog name unless two laws share one).
    metric : str
        Held-out error the laws were ranked by (one of :data:`METRICS`).
    table : pandas.DataFrame
        The :func:`backtest` table sorted by ``metric`` (failed laws last), with a ``rank`` column.
    reason : str
        Why ``best`` won, with the numbers, and whether in-sample fit would have chosen differently.
    """

    best: str
    metric: str
    table: pd.DataFrame
    reason: str

    @classmethod
    def from_table(cls, table: pd.DataFrame, metric: str = "mean_abs_rel_error") -> SelectionResult:
        """Rank the laws of one :func:`backtest` table by a held-out error (what :func:`select_law` does).

        Raises
        ------
        DataError
            Unknown metric, or a table holding several cutoffs (rank one holdout at a time).
        FitError
            No law in the table could be fitted and scored.
        """
        if metric not in METRICS:
            raise DataError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")
        if table.empty or table["holdout"].nunique() != 1:
            raise DataError("rank the laws of one backtest at a time: the table must hold exactly one holdout")
        scored = table[np.isfinite(table[metric].to_numpy(dtype=np.float64))]
        if scored.empty:
            errors = "; ".join(f"{r.law}: {r.error}" for r in table.itertuples())
            raise FitError(f"no law could be fitted and scored on holdout {table['holdout'].iloc[0]}: {errors}")
        ranked = table.sort_values(metric, kind="stable", na_position="last").reset_index(drop=True)
        ranked.insert(0, "rank", np.arange(1, len(ranked) + 1))
        return cls(best=str(ranked.loc[0, "law"]), metric=metric, table=ranked, reason=_reason(ranked, metric))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (NaN and inf become ``None``)."""
        return {"best": self.best, "metric": self.metric, "reason": self.reason, "table": to_records(self.table)}

    def to_frame(self) -> pd.DataFrame:
        """A copy of :attr:`table`.

        Returns
        -------
        pandas.DataFrame
            The backtest table ranked by :attr:`metric`: ``rank, law, ...`` (see :func:`backtest`).
        """
        return self.table.copy()

    def summary(self) -> str:
        """The winner and the metric, then :attr:`reason`."""
        return f"best law: {self.best} (by {_METRIC_WORDS[self.metric]} on held-out runs)\n{self.reason}"

    def __repr__(self) -> str:
        return f"SelectionResult(best={self.best!r}, metric={self.metric!r})"


def select_law(
    laws: LawsLike,
    runs: RunsLike,
    holdout: Holdout = "top:0.2:flops",
    metric: str = "mean_abs_rel_error",
    **kwargs: Any,
) -> SelectionResult:
    """Choose the law that best predicts held-out large runs (extrapolation), not the best in-sample fit.

    Parameters
    ----------
    laws, runs, holdout
        As for :func:`backtest`.
    metric : {"mean_abs_rel_error", "max_abs_rel_error", "rmse_log"}
        Held-out error to rank by (smaller is better).
    **kwargs
        Passed to :func:`backtest` (``y``, ``level``, fit options).

    Returns
    -------
    SelectionResult

    Raises
    ------
    DataError
        Unknown metric, or any input :func:`backtest` refuses.
    FitError
        No law could be fitted and scored.

    Examples
    --------
    >>> choice = select_law(["chinchilla", "kaplan"], "dataset:gadre2024_rpj", holdout="largest:2:params")
    >>> choice.best
    'chinchilla'
    >>> choice.reason.startswith("Ranked by mean absolute relative error on the 3 held-out runs")
    True
    """
    if metric not in METRICS:  # before any fit runs
        raise DataError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")
    return SelectionResult.from_table(backtest(laws, runs, holdout=holdout, **kwargs), metric)


_METRIC_WORDS = {
    "mean_abs_rel_error": "mean absolute relative error",
    "max_abs_rel_error": "maximum absolute relative error",
    "rmse_log": "root mean square log error",
}


def _fmt_metric(value: float, metric: str) -> str:
    if not math.isfinite(value):
        return "inf" if value > 0 else "n/a"
    return f"{100 * value:.3g}%" if metric.endswith("rel_error") else f"{value:.3g}"


def _reason(ranked: pd.DataFrame, metric: str) -> str:
    first = ranked.iloc[0]
    runs_word = "run" if first["n_test_runs"] == 1 else "runs"
    where = f"{first['holdout']}"
    decades = first["extrapolation_decades"]
    if first["split_column"] and math.isfinite(decades):
        where += f", reaching {decades:.2g} decades of {first['split_column']} beyond the largest training value"
    finite = ranked[np.isfinite(ranked[metric].to_numpy(dtype=np.float64))]
    scores = ", ".join(f"{r.law} {_fmt_metric(getattr(r, metric), metric)}" for r in finite.itertuples())
    text = (
        f"Ranked by {_METRIC_WORDS[metric]} on the {first['n_test_runs']} held-out {runs_word} ({where}), "
        f"i.e. by extrapolation to the large end, not by in-sample fit: {scores}."
    )
    failed = ranked[ranked["error"].astype(bool)]
    if len(failed):
        text += " Not scored: " + "; ".join(f"{r.law} ({r.error})" for r in failed.itertuples()) + "."
    in_sample = finite["in_sample_rmse_log"].to_numpy(dtype=np.float64)
    if len(finite) > 1 and np.isfinite(in_sample).any():
        pick = finite.iloc[int(np.nanargmin(in_sample))]
        if pick["law"] != first["law"]:
            text += (
                f" In-sample fit would have picked {pick['law']} (training log RMSE "
                f"{pick['in_sample_rmse_log']:.3g} vs {first['in_sample_rmse_log']:.3g} for {first['law']}), "
                f"but it extrapolates worse ({_fmt_metric(pick[metric], metric)})."
            )
        else:
            text += f" In-sample fit agrees: {first['law']} also has the lowest training log RMSE."
    return text


def to_records(table: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of a backtest table as JSON-ready dicts: Python scalars, NaN and inf as ``None``.

    Examples
    --------
    >>> to_records(pd.DataFrame({"law": ["power"], "rmse_log": [float("nan")]}))
    [{'law': 'power', 'rmse_log': None}]
    """
    return records(table)
