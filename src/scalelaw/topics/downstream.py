"""Two-stage predictions: (N, D) -> loss -> downstream metric, with intervals that carry both stages.

A loss law (``overtrain``, ``chinchilla``, ...) predicts the loss of a new model; a link law
(``downstream_exp``, ``downstream_sigmoid``, see :mod:`scalelaw.laws.downstream`) maps that loss to a
metric such as the average task error. :class:`Chain` composes two fits. Its bootstrap refits *both*
stages on resampled runs (a run that both fits use gets the same count in both), composes each
replicate's loss prediction with the same replicate's link, and reads percentile intervals off the
composed predictions, so the interval reflects the uncertainty of the loss law and of the link together.

:func:`fit_least_squares` fits on linear residuals (the objective of scipy's ``curve_fit``), which is the
protocol of Gadre et al. 2024; :func:`scalelaw.fit` itself fits log residuals with a Huber loss.
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from scalelaw._result import Result, jsonable
from scalelaw._validation import check_level, check_replicates, column_names
from scalelaw.data.io import load_runs
from scalelaw.data.runs import Runs
from scalelaw.errors import ConvergenceWarning, DataError, FitError, LawError
from scalelaw.fitting.fit import fit
from scalelaw.fitting.refit import log_residuals, prediction_inputs, refit_weighted
from scalelaw.fitting.result import FitResult, predict_values, prediction_like
from scalelaw.laws.catalog import get_law
from scalelaw.laws.law import Law
from scalelaw.trust.bootstrap import MIN_RUNS, quantile_interval

Vary = Literal["both", "loss", "metric"]


# ---------------------------------------------------------------------------------------------- linear residuals


def fit_least_squares(
    law: str | Law,
    runs: Runs | pd.DataFrame | Mapping[str, Any] | str,
    y: str | None = None,
    x: str | Sequence[str] | None = None,
    weights: np.ndarray | None = None,
    law_options: Mapping[str, Any] | None = None,
    tol: float = 1e-12,
    max_rounds: int = 100,
    **fit_kwargs: Any,
) -> FitResult:
    """Least squares on linear residuals, ``sum_i w_i (f(x_i) - y_i)^2``, as scipy's ``curve_fit`` does.

    The engine fits log residuals; a weighted squared loss on log residuals has the same stationary
    points as linear least squares when row ``i`` is weighted by ``f_i (f_i - y_i) / log(f_i / y_i)``
    (``f_i`` times the logarithmic mean of ``f_i`` and ``y_i``, always > 0). Those weights depend on the
    fit, so they are iterated: the first fit (all starts) uses ``y_i^2``, each later round restarts from
    the previous optimum, until the parameters move less than ``tol`` (relative).

    Parameters
    ----------
    law, runs, y, x, law_options
        As in :func:`scalelaw.fit`.
    weights : ndarray, optional
        Row weights of the least-squares objective (``curve_fit``'s ``1/sigma^2``).
    tol : float
        Relative change of every parameter that ends the iteration.
    max_rounds : int
        Reweighting rounds at most; a :class:`~scalelaw.ConvergenceWarning` if they run out.
    **fit_kwargs
        Passed to :func:`scalelaw.fit` (``starts``, ``max_iter``, ``schedule``, ...); ``loss`` is
        always ``"squared"``.

    Returns
    -------
    FitResult
        ``loss="squared"`` with the final weights as the data's row weights (a bootstrap refits with them
        held fixed, a close approximation of resampling the linear objective); ``objective`` is the
        weighted log objective, not ``curve_fit``'s sum of squares.

    Examples
    --------
    >>> import numpy as np
    >>> loss = np.linspace(2.5, 4.0, 8)
    >>> err = 0.85 - 2.2 * np.exp(-0.7 * loss)
    >>> res = fit_least_squares("downstream_exp", {"loss": loss, "error": err})
    >>> round(res.params["gamma"], 4)
    0.7
    """
    if "loss" in fit_kwargs:
        raise FitError("fit_least_squares always uses the squared loss; drop loss=")
    t0 = time.perf_counter()
    law = get_law(law, **dict(law_options or {}))
    x = column_names(x)
    if x is not None:
        law = law.with_inputs(*x)
    runs = load_runs(runs)
    y = y or law.output
    runs.require([y], positive=[y], why=f"fit_least_squares fits {y}")
    y_values = runs.array(y)
    base = np.ones_like(y_values) if weights is None else np.asarray(weights, dtype=np.float64)
    if base.shape != y_values.shape or not np.all(np.isfinite(base)) or np.any(base < 0):
        raise DataError(f"weights must be {y_values.size} finite non-negative numbers, one per row")
    result = fit(law, runs, y=y, loss="squared", weights=base * y_values**2, **fit_kwargs)
    n_starts = result.n_starts
    fit_kwargs = {k: v for k, v in fit_kwargs.items() if k != "starts"}
    for _ in range(max_rounds):
        pred = predict_values(result, result.data.columns if result.data is not None else runs.table)
        w = base * pred * _log_mean(pred, y_values)
        again = fit(law, runs, y=y, loss="squared", weights=w, starts=np.array([result.values]), **fit_kwargs)
        moved = np.max(np.abs(np.subtract(again.values, result.values)) / np.maximum(np.abs(result.values), 1e-300))
        result = again
        if moved <= tol:
            break
    else:
        warnings.warn(
            f"fit_least_squares: parameters still moved by {moved:.2g} (relative) after {max_rounds} rounds",
            ConvergenceWarning,
            stacklevel=2,
        )
    return dataclasses.replace(result, n_starts=n_starts, fit_seconds=time.perf_counter() - t0)


def _log_mean(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Logarithmic mean ``(a - b) / log(a / b)`` (``a`` where ``a == b``) of positive arrays."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.log(a / b)
        out = (a - b) / ratio
    return np.where(np.abs(ratio) > 1e-12, out, 0.5 * (a + b))


# ---------------------------------------------------------------------------------------------- chain


@dataclass(frozen=True, eq=False)
class Chain(Result):
    """A loss fit followed by a link fit: ``metric = link(loss_law(inputs))``.

    Attributes
    ----------
    loss_fit : FitResult
        Predicts the loss from scale inputs (``params``, ``tokens``, ...).
    metric_fit : FitResult
        A one-input law of the loss (its input column is named like ``loss_fit``'s fitted column).

    Examples
    --------
    >>> import numpy as np, scalelaw
    >>> N = np.repeat(np.logspace(7, 9, 4), 3)
    >>> D = N * np.tile([10.0, 20.0, 80.0], 4)
    >>> L = 1.8 + 160 * N**-0.27 + 290 * D**-0.27
    >>> runs = {"params": N, "tokens": D, "loss": L, "error": 0.86 - 2.2 * np.exp(-0.71 * L)}
    >>> c = chain(scalelaw.fit("overtrain", runs), scalelaw.fit("downstream_exp", runs))
    >>> L_true = 1.8 + 160 * 7e9**-0.27 + 290 * 1.4e11**-0.27
    >>> truth = 0.86 - 2.2 * np.exp(-0.71 * L_true)
    >>> bool(abs(c.predict(params=7e9, tokens=1.4e11) / truth - 1) < 1e-3)
    True
    """

    loss_fit: FitResult
    metric_fit: FitResult

    def __post_init__(self) -> None:
        link = self.metric_fit.law
        if len(link.inputs) != 1:
            raise LawError(
                f"the link law {link.name!r} reads {len(link.inputs)} inputs ({', '.join(link.inputs)}); a chain "
                "needs a link with exactly one input, the loss"
            )
        if link.inputs[0] != self.loss_fit.y:
            raise LawError(
                f"the loss fit predicts {self.loss_fit.y!r} but the link reads {link.inputs[0]!r}; fit the link with "
                f"x=[{self.loss_fit.y!r}] (or the loss law with y={link.inputs[0]!r}) so the two stages agree"
            )

    @property
    def loss(self) -> str:
        """The intermediate column (the loss)."""
        return self.loss_fit.y

    @property
    def metric(self) -> str:
        """The column the chain predicts."""
        return self.metric_fit.y

    def predict_loss(
        self, frame: pd.DataFrame | Mapping[str, Any] | None = None, /, **inputs: Any
    ) -> float | np.ndarray | pd.Series:
        """First stage only: the loss at the inputs (a float, array or Series as for :meth:`predict`)."""
        return self.loss_fit.predict(frame, **inputs)

    def predict(
        self, frame: pd.DataFrame | Mapping[str, Any] | None = None, /, **inputs: Any
    ) -> float | np.ndarray | pd.Series:
        """The metric at new scale inputs, e.g. ``chain.predict(params=7e9, tokens=1.4e11)``.

        Returns
        -------
        float, ndarray or pandas.Series
            As :meth:`scalelaw.FitResult.predict`: a float for one point given as scalars, a Series with the
            index of a DataFrame, else an array.

        Raises
        ------
        FitError
            Where the predicted loss lies outside the link's domain (e.g. below the loss at which
            ``downstream_exp`` reaches zero error).
        """
        loss = predict_values(self.loss_fit, frame, **inputs)
        metric = predict_values(self.metric_fit, **{self.metric_fit.law.inputs[0]: loss})
        _check_domain(metric, loss, self.metric_fit.law.name)
        return prediction_like(metric, frame, inputs, self.metric, self.loss_fit.law.inputs)

    def bootstrap(
        self,
        n: int = 1000,
        seed: int = 0,
        max_iter: int = 1000,
        progress: Callable[[int, int], None] | None = None,
    ) -> ChainBootstrap:
        """Refit both stages on ``n`` joint by-run resamples; see :func:`chain_bootstrap`."""
        return chain_bootstrap(self, n=n, seed=seed, max_iter=max_iter, progress=progress)

    def predict_interval(
        self,
        frame: pd.DataFrame | Mapping[str, Any] | None = None,
        /,
        level: float = 0.9,
        observation: bool = False,
        n_boot: int = 1000,
        seed: int = 0,
        **inputs: Any,
    ) -> pd.DataFrame:
        """Metric prediction with a joint bootstrap interval (both stages); see :meth:`ChainBootstrap.predict`."""
        return self.bootstrap(n=n_boot, seed=seed).predict(frame, level=level, observation=observation, **inputs)

    def to_frame(self) -> pd.DataFrame:
        """The parameters of both stages: each fit's :meth:`~scalelaw.FitResult.to_frame` under ``stage`` and ``law``.

        Returns
        -------
        pandas.DataFrame
            Columns ``stage`` (``"loss"`` or ``"metric"``), ``law``, ``parameter``, ``value``, ``std_error``,
            ``lower_bound``, ``upper_bound``, ``at_bound``.
        """
        parts = []
        for stage, result in (("loss", self.loss_fit), ("metric", self.metric_fit)):
            table = result.to_frame()
            table.insert(0, "law", result.law.name)
            table.insert(0, "stage", stage)
            parts.append(table)
        return pd.concat(parts, ignore_index=True)

    def to_dict(self) -> dict[str, Any]:
        """The intermediate and final columns and both fits' :meth:`~scalelaw.FitResult.to_dict`."""
        return jsonable(
            {"loss": self.loss, "metric": self.metric, "loss_fit": self.loss_fit, "metric_fit": self.metric_fit}
        )

    def summary(self) -> str:
        """What the chain predicts through what, then each stage's first summary line and its parameters."""
        inputs = ", ".join(self.loss_fit.law.inputs)
        lines = [
            f"chain: {self.metric} from {inputs} through {self.loss} ({self.loss_fit.law.name}, then "
            f"{self.metric_fit.law.name})"
        ]
        for result in (self.loss_fit, self.metric_fit):
            lines += result.summary().splitlines()[:3:2]  # the fit's headline and its parameters
        return "\n".join(lines)


def chain(loss_fit: FitResult, metric_fit: FitResult) -> Chain:
    """Compose a loss fit and a link fit into a :class:`Chain` (checks that the stages connect)."""
    return Chain(loss_fit, metric_fit)


def fit_chain(
    runs: Runs | pd.DataFrame | Mapping[str, Any] | str,
    loss_law: str | Law = "overtrain",
    link_law: str | Law = "downstream_exp",
    metric: str = "error",
    loss_column: str = "loss",
    link_runs: Runs | pd.DataFrame | Mapping[str, Any] | str | None = None,
    least_squares: bool = False,
    **fit_kwargs: Any,
) -> Chain:
    """Fit a loss law and a link on runs and chain them.

    Parameters
    ----------
    runs
        Runs for the loss law (and for the link unless ``link_runs`` is given).
    loss_law, link_law : str or Law
        The two stages (catalog names or laws).
    metric, loss_column : str
        The metric column the link predicts and the loss column between the stages.
    link_runs : optional
        Other runs for the link: fit it on models whose metric is clearly off the chance level
        (laws.md §6), which may be more expensive ones than the loss law needs.
    least_squares : bool
        Fit both stages on linear residuals (:func:`fit_least_squares`, Gadre et al.'s protocol) instead
        of the default Huber loss on log residuals.
    **fit_kwargs
        Passed to both fits, e.g. ``loss="squared"`` for the objective.

    Examples
    --------
    >>> import warnings
    >>> warnings.simplefilter("ignore")
    >>> c = fit_chain("dataset:gadre2024_rpj", metric="err_avg_subset_17")
    >>> c.metric_fit.law.formula()
    'eps - k * exp(-gamma * loss)'
    """
    fitter = fit_least_squares if least_squares else fit
    loss_fit = fitter(loss_law, runs, y=loss_column, **fit_kwargs)
    link = get_law(link_law)
    metric_fit = fitter(link, runs if link_runs is None else link_runs, y=metric, x=[loss_column], **fit_kwargs)
    return Chain(loss_fit, metric_fit)


def _check_domain(metric: np.ndarray, loss: np.ndarray, name: str) -> None:
    bad = ~np.isfinite(metric)
    if bad.any():
        raise FitError(
            f"the link {name!r} has no prediction at loss {', '.join(f'{v:.4g}' for v in loss[bad][:5])}: the "
            "predicted loss is outside the range where the link is positive (for downstream_exp, below the loss "
            "where the error would reach 0). The link cannot be extrapolated that far"
        )


# ---------------------------------------------------------------------------------------------- joint bootstrap


@dataclass(frozen=True, eq=False)
class ChainBootstrap(Result):
    """Joint bootstrap replicates of the two stages of a :class:`Chain`.

    Attributes
    ----------
    chain : Chain
    loss_samples, metric_samples : ndarray, shape (n_ok, n_params of each law)
        Refitted parameters of replicate ``i`` of each stage, from the same resample of runs.
    n_requested, n_failed : int
        Replicates asked for, and those dropped because either refit had no finite objective.
    n_shared_runs : int
        Runs used by both fits (resampled with one count per replicate).
    seed : int
    """

    chain: Chain
    loss_samples: np.ndarray
    metric_samples: np.ndarray
    n_requested: int
    n_failed: int
    n_shared_runs: int
    seed: int

    @property
    def n(self) -> int:
        return int(self.loss_samples.shape[0])

    def to_frame(self) -> pd.DataFrame:
        """90% percentile intervals of every parameter of both stages.

        Returns
        -------
        pandas.DataFrame
            Columns ``stage, quantity, estimate, low, high, level``; the replicates themselves are
            :attr:`loss_samples` and :attr:`metric_samples`.
        """
        parts = []
        for stage, result, samples in (
            ("loss", self.chain.loss_fit, self.loss_samples),
            ("metric", self.chain.metric_fit, self.metric_samples),
        ):
            point = np.array(result.values, dtype=np.float64)
            if samples.shape[0]:
                low, high = np.quantile(samples, 0.05, axis=0), np.quantile(samples, 0.95, axis=0)
            else:
                low = high = np.full(point.shape, np.nan)
            parts.append(
                pd.DataFrame(
                    {"stage": stage, "quantity": result.law.param_names, "estimate": point, "low": low, "high": high}
                )
            )
        return pd.concat(parts, ignore_index=True).assign(level=0.9)

    def to_dict(self) -> dict[str, Any]:
        """The replicate counts and the 90% intervals (not the replicates themselves)."""
        return jsonable(
            {
                "n": self.n,
                "n_requested": self.n_requested,
                "n_failed": self.n_failed,
                "n_shared_runs": self.n_shared_runs,
                "seed": self.seed,
                "intervals": self.to_frame(),
            }
        )

    def summary(self) -> str:
        """The replicate counts, then one line per parameter with its 90% interval."""
        head = (
            f"joint bootstrap of the chain {self.chain.loss_fit.law.name} -> {self.chain.metric_fit.law.name}: "
            f"{self.n} of {self.n_requested} replicates over {self.n_shared_runs} shared runs"
        )
        rows = [
            f"{r.stage} {r.quantity} = {r.estimate:.6g}, 90% [{r.low:.6g}, {r.high:.6g}]"
            for r in self.to_frame().itertuples()
        ]
        return "\n".join([head, *rows])

    def replicates(
        self,
        frame: pd.DataFrame | Mapping[str, Any] | None = None,
        /,
        vary: Vary = "both",
        observation: bool = False,
        **inputs: Any,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Replicate losses and metrics at the inputs, each of shape ``(n, n_rows)``.

        ``vary`` picks the stages whose uncertainty enters: ``"both"``; ``"loss"`` (link held at its point
        estimate); ``"metric"`` (loss held at its point prediction). With ``observation=True`` the varied
        stages also add their data's noise (resampled log residuals): a new run's loss scatters around the
        loss law, and its metric around the link at that loss.
        """
        if vary not in ("both", "loss", "metric"):
            raise FitError(f"vary must be 'both', 'loss' or 'metric', not {vary!r}")
        c = self.chain
        columns = prediction_inputs(c.loss_fit, frame, inputs)[1]
        rng = np.random.default_rng(self.seed + 1)
        if vary in ("both", "loss"):
            loss = c.loss_fit.law.predict(self.loss_samples, **columns)
            if observation:
                loss = loss * np.exp(rng.choice(log_residuals(c.loss_fit), size=loss.shape))
        else:
            loss = np.broadcast_to(predict_values(c.loss_fit, columns), (self.n, len(next(iter(columns.values())))))
        link = c.metric_fit.law
        if vary in ("both", "metric"):
            metric = _paired_predict(link, self.metric_samples, loss)
            if observation:
                metric = metric * np.exp(rng.choice(log_residuals(c.metric_fit), size=metric.shape))
        else:
            metric = link.predict(c.metric_fit.params, **{link.inputs[0]: loss.ravel()}).reshape(loss.shape)
        return np.asarray(loss), metric

    def predict(
        self,
        frame: pd.DataFrame | Mapping[str, Any] | None = None,
        /,
        level: float = 0.9,
        observation: bool = False,
        vary: Vary = "both",
        **inputs: Any,
    ) -> pd.DataFrame:
        """Percentile intervals of the metric (and of the loss) at new inputs.

        Parameters
        ----------
        frame, **inputs
            The loss law's inputs, e.g. ``params=7e9, tokens=1.4e11``.
        level : float
            Coverage of the two-sided interval.
        observation : bool
            Interval for a new run's measured metric rather than for the law's value.
        vary : {"both", "loss", "metric"}
            Which stages' uncertainty to include (``"loss"`` / ``"metric"`` show each stage alone).

        Returns
        -------
        DataFrame
            The inputs, then ``loss, loss_low, loss_high, value, low, high, level, method``.
        """
        check_level(level)
        c = self.chain
        columns = prediction_inputs(c.loss_fit, frame, inputs)[1]
        point_loss = predict_values(c.loss_fit, columns)
        point = np.asarray(c.predict(columns))
        loss, metric = self.replicates(columns, vary=vary, observation=observation)
        n_bad = int(np.sum(~np.isfinite(metric)))
        if n_bad:
            warnings.warn(
                f"{n_bad} of {metric.size} replicate predictions fell outside the link's domain (their loss is "
                "below where the link stays positive) and were dropped; the interval ignores them",
                stacklevel=2,
            )
        low_l, high_l = quantile_interval(loss, point_loss, None, level, "percentile")
        alpha = (1.0 - level) / 2.0
        low = np.nanquantile(metric, alpha, axis=0)
        high = np.nanquantile(metric, 1.0 - alpha, axis=0)
        out = pd.DataFrame(columns)
        out[c.loss] = point_loss
        out[f"{c.loss}_low"] = low_l
        out[f"{c.loss}_high"] = high_l
        out["value"] = point
        out["low"] = low
        out["high"] = high
        out["level"] = level
        kind = "observation" if observation else "mean"
        out["method"] = f"chain bootstrap ({kind}, stages: {vary}, by run, n={self.n})"
        return out


def _paired_predict(link: Law, samples: np.ndarray, loss: np.ndarray) -> np.ndarray:
    """``link(samples[i], loss[i])`` for every replicate ``i``: shape ``(n, n_rows)``.

    Laws evaluate every set on every row; pairing replicate ``i`` with its own losses only needs the
    diagonal, so replicates are evaluated one by one (cheap next to the refits).
    """
    name = link.inputs[0]
    out = np.empty(loss.shape)
    with np.errstate(all="ignore"):
        for i in range(loss.shape[0]):
            log_pred, _ = link.log_predict_jac(samples[i : i + 1], {name: loss[i]}, jac=False)
            out[i] = np.exp(log_pred[0])
    return out


def chain_bootstrap(
    c: Chain,
    n: int = 1000,
    seed: int = 0,
    max_iter: int = 1000,
    progress: Callable[[int, int], None] | None = None,
) -> ChainBootstrap:
    """Refit both stages of a chain on ``n`` joint resamples of whole runs.

    Runs are resampled within three strata: runs both fits use, runs only the loss fit uses, runs only
    the link uses; each stratum keeps its size. A shared run therefore carries the same count in both
    refits of a replicate (the two stages see the same resampled experiment), and when both fits use the
    same runs this is exactly the by-run bootstrap of each stage.

    Raises
    ------
    FitError
        A fit without data, or a stage with fewer than 8 runs to resample.
    """
    check_replicates(n)
    fits = (c.loss_fit, c.metric_fit)
    run_ids = [np.asarray(f.data.run, dtype=str) for f in fits]  # type: ignore[union-attr]
    for ids, stage in zip(run_ids, ("loss", "link"), strict=True):
        n_runs = len(np.unique(ids))
        if n_runs < MIN_RUNS:
            raise FitError(
                f"the {stage} fit has only {n_runs} runs; a by-run bootstrap needs at least {MIN_RUNS}. Fit that "
                "stage on more runs to get a chain interval"
            )
    shared = np.intersect1d(run_ids[0], run_ids[1])
    strata = [shared, np.setdiff1d(run_ids[0], shared), np.setdiff1d(run_ids[1], shared)]
    rng = np.random.default_rng(seed)
    counts: dict[str, np.ndarray] = {}
    for ids in strata:
        if ids.size:
            draws = rng.multinomial(ids.size, np.full(ids.size, 1.0 / ids.size), size=n)
            counts.update({r: draws[:, j] for j, r in enumerate(ids)})
    samples, ok = [], np.ones(n, dtype=bool)
    for f, ids in zip(fits, run_ids, strict=True):
        weights = np.column_stack([counts[r] for r in ids]).astype(np.float64)
        theta, finite, _ = refit_weighted(f, weights, max_iter, progress)
        samples.append(theta)
        ok &= finite
    return ChainBootstrap(
        chain=c,
        loss_samples=samples[0][ok],
        metric_samples=samples[1][ok],
        n_requested=n,
        n_failed=int(np.sum(~ok)),
        n_shared_runs=int(shared.size),
        seed=seed,
    )


def chain_records(
    two_stage: Chain,
    points: Sequence[Mapping[str, float]],
    boot: ChainBootstrap | Callable[[], ChainBootstrap] | None = None,
    level: float = 0.9,
    observation: bool = False,
    stages: bool = False,
) -> list[dict[str, Any]]:
    """Two-stage predictions at ``points`` as JSON-ready records (what ``scalelaw chain --json`` prints).

    Each record has ``at`` (the point), the predicted loss (under the loss fit's output name) and ``value`` (the
    metric); with ``boot`` (a :class:`ChainBootstrap`, or a function that draws one, called after the point
    predictions so that a caller can show its progress) also the joint interval ``low, high, level, method``
    and, with ``stages``, each stage's interval alone (``loss_only_low/high``, ``metric_only_low/high``).

    Examples
    --------
    >>> import scalelaw, warnings
    >>> warnings.simplefilter("ignore")
    >>> runs = scalelaw.load_runs("dataset:gadre2024_rpj")
    >>> two = chain(scalelaw.fit("overtrain", runs), scalelaw.fit("downstream_exp", runs, y="err_avg_subset_17"))
    >>> rec = chain_records(two, [{"params": 7e9, "tokens": 1.4e11}])[0]
    >>> sorted(rec), 0 < rec["value"] < 1
    (['at', 'loss', 'value'], True)
    """
    frame = {name: [p[name] for p in points] for name in two_stage.loss_fit.law.inputs}
    rows: list[dict[str, Any]] = [
        {"at": p, two_stage.loss: float(loss), "value": float(v)}
        for p, loss, v in zip(points, two_stage.predict_loss(frame), two_stage.predict(frame), strict=True)
    ]
    if boot is None:
        return rows
    boot = boot() if callable(boot) else boot
    for vary in ("both", "loss", "metric") if stages else ("both",):
        table = boot.predict(frame, level=level, observation=observation, vary=vary)
        key = "" if vary == "both" else f"{vary}_only_"
        for row, low, high in zip(rows, table["low"], table["high"], strict=True):
            row.update({f"{key}low": float(low), f"{key}high": float(high)})
            if vary == "both":
                row.update(level=level, method=str(table["method"].iloc[0]))
    return rows
