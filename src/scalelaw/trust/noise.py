"""Noise across seeds: how much a metric moves when only the random seed changes, and what that does to a fit.

Two runs that differ only in their seed (initialization, data order, dropout) still end at different losses.
When a ladder repeats some configurations with several seeds, :func:`seed_noise` measures that seed-to-seed
variance of the log metric and returns a :class:`SeedNoise` that puts it to work:

- **weights** for :func:`scalelaw.fit` (inverse variance of each point; fitted on per-configuration means, a
  configuration run with more seeds counts more), see :meth:`SeedNoise.weights` and :meth:`SeedNoise.aggregate`;
- **intervals** that see the seed noise: a bootstrap that resamples whole configurations (all seeds of one
  configuration together, :meth:`SeedNoise.bootstrap`), and prediction intervals for a *single new run*
  that add the seed variance on top of the parameter uncertainty (:meth:`SeedNoise.predict_interval`);
- a **signal-to-noise** diagnostic (:meth:`SeedNoise.signal_to_noise`): which share of a metric's variance
  across the ladder is scale and which is seeds, with a warning when seeds dominate.

Everything is on the log scale, like the fits (residuals are log residuals): a seed standard deviation of
0.01 means runs scatter by about 1% around their configuration's (geometric) mean.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import special, stats

from scalelaw._result import Result, jsonable
from scalelaw._validation import check_level
from scalelaw.data.io import load_runs
from scalelaw.data.runs import Runs
from scalelaw.errors import DataError, FitError
from scalelaw.fitting.refit import prediction_inputs
from scalelaw.fitting.result import FitResult, predict_values
from scalelaw.laws.catalog import get_law
from scalelaw.laws.law import Law
from scalelaw.trust.bootstrap import bootstrap
from scalelaw.trust.replicates import check_replicates, config_codes, config_key, resampling_groups

__all__ = [
    "SeedNoise",
    "SeedNoiseWarning",
    "SignalToNoise",
    "VarianceTrend",
    "seed_noise",
    "seed_noise_for_law",
    "signal_to_noise",
    "variance_interval",
]

#: Columns that describe a configuration when ``config`` is not given (those present in the data).
DEFAULT_CONFIG = ("params", "tokens", "unique_tokens", "batch_size", "lr", "step")

#: Below this many degrees of freedom the estimate of the seed variance is itself very uncertain.
FEW_DOF = 5


class SeedNoiseWarning(UserWarning):
    """Seed noise is poorly measured, or it dominates the metric's change with scale."""


@dataclass(frozen=True)
class VarianceTrend(Result):
    """Log-linear trend of the seed variance with scale: ``log var = intercept + slope * (log scale - reference)``.

    Fitted by weighted least squares on the per-configuration sample variances, each corrected for the bias
    of the log of a chi-square and weighted by the inverse of its sampling variance (trigamma); the slope's
    standard error is inflated when the configurations scatter more than sampling alone explains.

    Attributes
    ----------
    scale : str
        Column the trend is on (e.g. ``flops``).
    slope, slope_low, slope_high : float
        Slope of log variance per unit log scale, with its two-sided interval at ``level``
        (``slope = -0.5`` means the seed standard deviation falls as ``scale**-0.25``).
    p_value : float
        Two-sided test of ``slope == 0``.
    intercept, intercept_se : float
        Log variance at ``exp(reference)``, and its standard error.
    reference : float
        Mean log scale of the configurations used.
    covariance : tuple of tuple of float
        Covariance of ``(intercept, slope)``.
    n_configs : int
        Repeated configurations used.
    level : float
    """

    scale: str
    slope: float
    slope_low: float
    slope_high: float
    p_value: float
    intercept: float
    intercept_se: float
    reference: float
    covariance: tuple[tuple[float, float], tuple[float, float]]
    n_configs: int
    level: float

    def log_variance(self, scale: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Log seed variance at ``scale`` and its standard error."""
        dx = np.log(np.asarray(scale, dtype=np.float64)) - self.reference
        cov = np.array(self.covariance)
        se = np.sqrt(cov[0, 0] + 2 * dx * cov[0, 1] + dx**2 * cov[1, 1])
        return self.intercept + self.slope * dx, se

    def to_frame(self) -> pd.DataFrame:
        """Rows ``intercept``, ``slope``: ``quantity, estimate, std_error, low, high`` (an interval for the slope)."""
        se = np.sqrt(np.diag(np.array(self.covariance, dtype=np.float64)))
        return pd.DataFrame(
            {
                "quantity": ["intercept", "slope"],
                "estimate": [self.intercept, self.slope],
                "std_error": se,
                "low": [math.nan, self.slope_low],
                "high": [math.nan, self.slope_high],
            }
        )

    def to_dict(self) -> dict[str, Any]:
        """Every field."""
        return jsonable(dataclasses.asdict(self))

    def summary(self) -> str:
        """The slope of log variance with log scale, its interval and p-value."""
        return (
            f"seed variance ~ {self.scale}^{self.slope:.3g} ({self.level:.0%} interval {self.slope_low:.3g} to "
            f"{self.slope_high:.3g}, p={self.p_value:.2g}) over {self.n_configs} configurations"
        )


@dataclass(frozen=True)
class SignalToNoise(Result):
    """How much of a metric's variation across a ladder is scale, and how much is seeds.

    Attributes
    ----------
    y : str
        The metric.
    scale_variance : float
        Variance of the log metric across configurations that is *not* explained by seed noise
        (variance of the configuration means minus their expected seed part, floored at 0).
    seed_variance : float
        Seed variance of the log metric (of a single run).
    scale_share, seed_share : float
        ``scale_variance`` and ``seed_variance`` as shares of their sum: for one run per configuration,
        the fraction of the metric's variance across the ladder that comes from scale vs from seeds.
    f_statistic, p_value : float
        One-way ANOVA of configurations against the pooled seed variance (``p_value`` large: the
        configurations are not distinguishable from seed noise).
    n_configs : int
    dominated : bool
        ``seed_share >= max_seed_share``: the benchmark mostly measures internal variability.
    max_seed_share : float
    """

    y: str
    scale_variance: float
    seed_variance: float
    scale_share: float
    seed_share: float
    f_statistic: float
    p_value: float
    n_configs: int
    dominated: bool
    max_seed_share: float

    @property
    def message(self) -> str:
        text = (
            f"{self.y}: {100 * self.scale_share:.0f}% of the variance across {self.n_configs} configurations is scale, "
            f"{100 * self.seed_share:.0f}% is seeds (ANOVA F={self.f_statistic:.3g}, p={self.p_value:.2g})"
        )
        if self.dominated:
            text += (
                f"; seeds account for at least {100 * self.max_seed_share:.0f}%: this metric is dominated by internal "
                "variability, so a law fitted to it is weakly determined; average more seeds per configuration, "
                "widen the ladder, or use a less noisy metric"
            )
        return text

    def to_frame(self) -> pd.DataFrame:
        """Rows ``scale`` and ``seed``: ``source, variance, share``."""
        return pd.DataFrame(
            {
                "source": ["scale", "seed"],
                "variance": [self.scale_variance, self.seed_variance],
                "share": [self.scale_share, self.seed_share],
            }
        )

    def to_dict(self) -> dict[str, Any]:
        """Every field."""
        return jsonable(dataclasses.asdict(self))

    def summary(self) -> str:
        """:attr:`message`."""
        return self.message


@dataclass(frozen=True, eq=False)
class SeedNoise(Result):
    """Seed-to-seed variance of a log metric, from configurations run with several seeds.

    Build it with :func:`seed_noise`. Rows of the runs are matched to configurations once, here; the methods
    reuse that matching.

    Attributes
    ----------
    y : str
        Metric column.
    config : tuple of str
        Columns that identify a configuration.
    scale : str or None
        Column the variance trend is on.
    model : {"pooled", "trend"}
        How :meth:`variance_at` reads the variance: one pooled value, or the trend with scale.
    configs : DataFrame
        One row per configuration: its config values, ``n_seeds``, ``mean_log`` (mean log metric),
        ``var_log`` (sample variance of the log metric over seeds; NaN with one seed), ``group`` (the
        resampling unit) and ``scale`` (when ``scale`` is set).
    row_config : ndarray of int
        Configuration (row of ``configs``) of every row of the runs.
    row_group : ndarray of str
        Resampling group of every row: configurations joined by the runs that pass through them (a run
        with checkpoints at several configurations keeps them in one group).
    run_ids : ndarray of str
        Run id of every row, to match a fit's rows.
    variance : float
        Pooled seed variance of the log metric (of one run).
    dof : int
        Degrees of freedom of ``variance``: sum over configurations of ``n_seeds - 1``.
    low, high : float
        Chi-square interval on ``variance`` at ``level``.
    level : float
    trend : VarianceTrend or None
        Trend of the variance with ``scale``, when enough configurations repeat at different scales.
    homogeneity_p : float
        Bartlett's test that all repeated configurations share one seed variance (NaN with fewer than two);
        small: the variance differs between configurations, the pooled value averages them and its chi-square
        interval is too narrow for any single one.
    notes : tuple of str
        What the estimate assumed or could not do.
    """

    y: str
    config: tuple[str, ...]
    scale: str | None
    model: str
    configs: pd.DataFrame
    row_config: np.ndarray
    row_group: np.ndarray
    run_ids: np.ndarray
    variance: float
    dof: int
    low: float
    high: float
    level: float
    trend: VarianceTrend | None = None
    homogeneity_p: float = math.nan
    notes: tuple[str, ...] = field(default=())

    # ---------------------------------------------------------------- the estimate
    @property
    def sd(self) -> float:
        """Pooled seed standard deviation of the log metric (about the relative spread of one run)."""
        return math.sqrt(self.variance)

    @property
    def sd_interval(self) -> tuple[float, float]:
        """Interval on :attr:`sd` at :attr:`level`."""
        return math.sqrt(self.low), math.sqrt(self.high)

    @property
    def n_configs(self) -> int:
        return len(self.configs)

    @property
    def n_repeated(self) -> int:
        """Configurations run with at least two seeds."""
        return int(np.sum(self.configs["n_seeds"].to_numpy() >= 2))

    def summary(self) -> str:
        """One paragraph for people: the seed sd with its interval, where it came from, and the trend."""
        lo, hi = self.sd_interval
        text = (
            f"seed sd of log {self.y} = {self.sd:.3g} (about {100 * self.sd:.2g}% per run; {100 * self.level:.0f}% CI "
            f"{lo:.3g}-{hi:.3g}) from {self.n_repeated} of {self.n_configs} configurations run with 2+ seeds "
            f"({self.dof} degrees of freedom)"
        )
        if self.trend is not None:
            t = self.trend
            text += (
                f"; trend with {t.scale}: variance ~ {t.scale}^{t.slope:.2g} ({100 * t.level:.0f}% CI "
                f"{t.slope_low:.2g} to {t.slope_high:.2g}, p={t.p_value:.2g})"
            )
            if self.model == "pooled" and t.p_value < 0.05:
                text += " - the variance changes with scale; consider model='trend'"
        return text

    def variance_at(self, frame: pd.DataFrame | Mapping[str, Any] | None = None, /, **inputs: Any) -> np.ndarray:
        """Seed variance of the log metric of one run at new inputs (pooled, or the trend with scale).

        Examples
        --------
        >>> import numpy as np
        >>> n = np.repeat([1e8, 1e9], 3)
        >>> runs = {"run": list("abcdef"), "params": n, "loss": [3.0, 3.1, 2.9, 2.5, 2.52, 2.48]}
        >>> est = seed_noise(runs, config=["params"])
        >>> est.variance_at(params=[1e10]).round(6).tolist()
        [0.000588]
        """
        columns = dict(frame.items()) if frame is not None else {}
        columns.update(inputs)
        n_rows = _n_rows(columns)
        if self.model == "pooled" or self.trend is None:
            return np.full(n_rows, self.variance)
        log_var, _ = self.trend.log_variance(self._scale_values(columns))
        return np.exp(log_var)

    def _scale_values(self, columns: Mapping[str, Any]) -> np.ndarray:
        assert self.scale is not None
        if self.scale in columns:
            values = np.atleast_1d(np.asarray(columns[self.scale], dtype=np.float64))
        elif self.scale == "flops" and {"params", "tokens"} <= set(columns):
            values = 6.0 * np.asarray(columns["params"], dtype=np.float64) * np.asarray(columns["tokens"], float)
        else:
            raise DataError(
                f"the seed variance follows a trend with '{self.scale}', so predictions need a '{self.scale}' value "
                f"(got {', '.join(map(repr, columns)) or 'no inputs'})"
            )
        if not np.all(np.isfinite(values) & (values > 0)):
            raise DataError(f"'{self.scale}' must be positive and finite to read the seed-variance trend")
        return np.atleast_1d(values)

    def _config_variance(self) -> np.ndarray:
        """Model seed variance at every configuration."""
        if self.model == "pooled" or self.trend is None:
            return np.full(self.n_configs, self.variance)
        log_var, _ = self.trend.log_variance(self.configs["scale"].to_numpy(dtype=np.float64))
        return np.exp(log_var)

    # ---------------------------------------------------------------- weights
    def weights(self, loss: Literal["squared", "huber"] = "squared") -> np.ndarray:
        """Weight per row of the runs for :func:`scalelaw.fit` (normalized to mean 1).

        Each row is one seed, weighted by the inverse of its seed variance (``loss="squared"``) or of its
        seed standard deviation (``loss="huber"``: the default Huber loss with a small ``delta`` is nearly
        an absolute-value loss, for which the matched weight is 1/scale). With a pooled variance all rows
        weigh the same, so a configuration's total weight grows with its number of seeds; with a trend,
        noisier scales count less.

        Examples
        --------
        >>> import numpy as np
        >>> n = np.repeat([1e8, 1e9], 3)
        >>> runs = {"run": list("abcdef"), "params": n, "loss": [3.0, 3.1, 2.9, 2.5, 2.52, 2.48]}
        >>> seed_noise(runs, config=["params"]).weights().tolist()
        [1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
        """
        var = self._config_variance()[self.row_config]
        return _normalized(1.0 / var if loss == "squared" else 1.0 / np.sqrt(var), loss)

    def aggregate(self, loss: Literal["squared", "huber"] = "squared", misfit: float = 0.0) -> Runs:
        """One row per configuration: the geometric mean of its seeds, weighted by its precision.

        The mean of ``n`` seeds has variance ``var / n`` (plus ``misfit``, the configuration-level scatter
        around the law, see :meth:`misfit_variance`); the ``weight`` column is its inverse (``squared``) or
        inverse square root (``huber``), normalized to mean 1, so configurations with more seeds count more.
        The ``run`` column holds the resampling group, so a bootstrap by run of a fit to this table
        resamples whole configurations. Columns constant within every configuration are kept.

        Returns
        -------
        Runs
            Columns: the config columns, ``y`` (geometric mean), ``n_seeds``, ``seed_sd`` (sample sd of the
            log metric over seeds, NaN with one seed), ``weight``, ``run``, and the constant columns.
        """
        if not (misfit >= 0 and math.isfinite(misfit)):
            raise DataError(f"misfit must be a finite variance >= 0, got {misfit}")
        n = self.configs["n_seeds"].to_numpy(dtype=np.float64)
        var = self._config_variance() / n + misfit
        table = self.configs[list(self.config)].copy()
        table[self.y] = np.exp(self.configs["mean_log"].to_numpy())
        table["n_seeds"] = self.configs["n_seeds"].to_numpy()
        table["seed_sd"] = np.sqrt(self.configs["var_log"].to_numpy())
        table["weight"] = _normalized(1.0 / var if loss == "squared" else 1.0 / np.sqrt(var), loss)
        table["run"] = self.configs["group"].to_numpy()
        assert self._runs is not None
        exclude = {*self.config, self.y, "run", "seed", "n_seeds", "seed_sd", "weight"}
        first = np.unique(self.row_config, return_index=True)[1]
        for name, values in _constant_columns(self._runs.table, self.row_config, first, exclude).items():
            table[name] = values
        table = table.reset_index(drop=True)
        table.index = pd.RangeIndex(1, len(table) + 1)
        return Runs.from_frame(table, source=f"seed means of {self._runs.source}")

    # ---------------------------------------------------------------- intervals
    def bootstrap(self, result: FitResult, n: int = 1000, seed: int = 0, **kwargs: Any):
        """By-configuration bootstrap of ``result``: every replicate resamples whole configurations.

        All seeds of a configuration (and every checkpoint of their runs) enter or leave a replicate together,
        so the replicate fits see how much configurations really scatter, however many seeds each has. The fit
        must be on these runs (all rows, same order) or on :meth:`aggregate`.

        Returns
        -------
        Bootstrap
            See :class:`scalelaw.trust.bootstrap.Bootstrap` (``by="config"``).
        """
        rows = self._match(result)
        groups = self.row_group if rows == "rows" else np.asarray(result.data.run)  # type: ignore[union-attr]
        return bootstrap(result, n=n, by="config", seed=seed, groups=groups, **kwargs)  # type: ignore[arg-type]

    def misfit_variance(self, result: FitResult) -> float:
        """Scatter of configuration means around the fitted law beyond what seed noise explains.

        With configuration means ``m_k`` of ``n_k`` seeds and residuals ``r_k = m_k - log f(x_k)``,
        ``E[r_k**2] ~ misfit + var_k / n_k``; the estimate is ``sum r_k**2 / (K - p) - mean(var_k / n_k)``,
        floored at 0 (``K`` configurations, ``p`` parameters). Zero when the law explains the means to within
        seed noise.
        """
        rows = self._match(result)
        assert result.data is not None
        resid = np.log(result.data.columns[result.y]) - np.log(predict_values(result, result.data.columns))
        if rows == "rows":
            k = self.row_config
            mean_resid = np.bincount(k, weights=resid, minlength=self.n_configs) / np.bincount(
                k, minlength=self.n_configs
            )
        else:
            mean_resid = resid
        free = self.n_configs - result.law.n_params
        if free < 1:
            return 0.0
        n = self.configs["n_seeds"].to_numpy(dtype=np.float64)
        return float(max(0.0, np.sum(mean_resid**2) / free - np.mean(self._config_variance() / n)))

    def predict_interval(
        self,
        boot: Any,
        frame: pd.DataFrame | Mapping[str, Any] | None = None,
        /,
        level: float = 0.9,
        seeds: int = 1,
        misfit: bool = True,
        draws: int = 20,
        **inputs: Any,
    ) -> pd.DataFrame:
        """Interval for what a new run (or the mean of ``seeds`` new runs) will measure at new inputs.

        Each bootstrap replicate's prediction (parameter uncertainty) is multiplied by ``draws`` draws of
        ``exp(noise)``, ``noise ~ Normal(0, var/seeds + misfit)``; the seed variance itself is drawn from its
        sampling distribution (scaled inverse chi-square for the pooled value, log-normal for the trend), so
        an estimate from few seeds widens the interval. ``misfit=True`` adds :meth:`misfit_variance`, the
        configuration-level scatter around the law that a new configuration also shows.

        Parameters
        ----------
        boot : Bootstrap
            Replicates of the fit, best from :meth:`bootstrap`.
        frame, **inputs
            New inputs, as for :meth:`scalelaw.trust.bootstrap.Bootstrap.predict`.
        level : float
            Coverage.
        seeds : int
            Number of new seeds averaged (geometric mean) at each point.

        Returns
        -------
        DataFrame
            The inputs, ``value`` (the law), ``low``, ``high``, ``level``, ``seed_sd`` (seed sd used),
            ``misfit_sd`` and ``method``.
        """
        check_level(level)
        if int(seeds) != seeds or seeds < 1:
            raise DataError(f"seeds must be a positive integer, got {seeds}")
        if int(draws) != draws or draws < 1:
            raise DataError(f"draws must be a positive integer, got {draws}")
        result = boot.result
        columns = prediction_inputs(result, frame, inputs)[1]
        raw = dict(frame.items()) if frame is not None else {}
        raw.update(inputs)
        raw.update(columns)
        preds = result.law.predict(boot.samples, **columns)  # (n_boot, n_rows)
        point = result.law.predict(result.params, **columns)
        n_boot, n_rows = preds.shape
        rng = np.random.default_rng(boot.seed + 2)
        var = self._variance_draws(raw, n_rows, n_boot * draws, rng)  # (n_boot * draws, n_rows)
        tau2 = self.misfit_variance(result) if misfit else 0.0
        noise = rng.standard_normal(var.shape) * np.sqrt(var / seeds + tau2)
        sims = np.repeat(preds, draws, axis=0) * np.exp(noise)
        alpha = (1.0 - level) / 2.0
        out = pd.DataFrame(columns)
        out["value"] = point
        out["low"] = np.quantile(sims, alpha, axis=0)
        out["high"] = np.quantile(sims, 1.0 - alpha, axis=0)
        out["level"] = level
        out["seed_sd"] = np.sqrt(self.variance_at(raw)[:n_rows])
        out["misfit_sd"] = math.sqrt(tau2)
        what = "new run" if seeds == 1 else f"mean of {seeds} new runs"
        out["method"] = f"bootstrap + seed noise ({what}, by {boot.by}, n={boot.n}x{draws})"
        return out

    def _variance_draws(self, columns: Mapping[str, Any], n_rows: int, size: int, rng) -> np.ndarray:
        if self.model == "pooled" or self.trend is None:
            chi = rng.chisquare(self.dof, size=(size, 1))
            return np.repeat(self.variance * self.dof / chi, n_rows, axis=1)
        log_var, se = self.trend.log_variance(self._scale_values(columns))
        return np.exp(log_var[None, :] + se[None, :] * rng.standard_normal((size, 1)))

    # ---------------------------------------------------------------- diagnostics
    def signal_to_noise(self, max_seed_share: float = 0.5, warn: bool = True) -> SignalToNoise:
        """Share of the metric's variance across the ladder explained by scale vs by seeds.

        ``scale_variance`` is the variance of the configuration means (log) minus their expected seed part;
        ``seed_share = seed_variance / (seed_variance + scale_variance)`` is, for one run per configuration,
        the fraction of the spread that is internal variability. When it reaches ``max_seed_share`` a
        :class:`SeedNoiseWarning` says so (``warn=False`` to only return it).

        Examples
        --------
        >>> import numpy as np
        >>> n = np.repeat([1e8, 1e9, 1e10], 2)
        >>> runs = {"run": list("abcdef"), "params": n, "loss": [3.0, 3.02, 2.5, 2.52, 2.2, 2.18]}
        >>> snr = seed_noise(runs, config=["params"]).signal_to_noise()
        >>> snr.dominated, round(snr.scale_share, 3)
        (False, 0.999)
        """
        if not 0 < max_seed_share < 1:
            raise DataError(f"max_seed_share must be between 0 and 1, got {max_seed_share}")
        k = self.n_configs
        if k < 2:
            raise DataError("signal-to-noise needs at least two configurations (scales) to compare")
        means = self.configs["mean_log"].to_numpy()
        n = self.configs["n_seeds"].to_numpy(dtype=np.float64)
        var_k = self._config_variance()
        seed_var = float(np.mean(var_k))
        scale_var = float(max(0.0, np.var(means, ddof=1) - np.mean(var_k / n)))
        share = seed_var / (seed_var + scale_var)
        grand = np.sum(n * means) / np.sum(n)
        f_stat = float(np.sum(n * (means - grand) ** 2) / (k - 1) / self.variance)
        p_value = float(stats.f.sf(f_stat, k - 1, self.dof))
        out = SignalToNoise(
            y=self.y,
            scale_variance=scale_var,
            seed_variance=seed_var,
            scale_share=1.0 - share,
            seed_share=share,
            f_statistic=f_stat,
            p_value=p_value,
            n_configs=k,
            dominated=bool(share >= max_seed_share),
            max_seed_share=max_seed_share,
        )
        if out.dominated and warn:
            warnings.warn(out.message, SeedNoiseWarning, stacklevel=2)
        return out

    def to_frame(self) -> pd.DataFrame:
        """A copy of :attr:`configs`: one row per configuration, with ``n_seeds``, ``mean_log``, ``var_log``."""
        return self.configs.copy()

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary (no row data)."""
        out = {
            "y": self.y,
            "config": list(self.config),
            "model": self.model,
            "sd": self.sd,
            "variance": self.variance,
            "variance_interval": [self.low, self.high],
            "level": self.level,
            "dof": self.dof,
            "n_configs": self.n_configs,
            "n_repeated": self.n_repeated,
            "homogeneity_p": self.homogeneity_p,
            "trend": None
            if self.trend is None
            else {
                "scale": self.trend.scale,
                "slope": self.trend.slope,
                "slope_interval": [self.trend.slope_low, self.trend.slope_high],
                "p_value": self.trend.p_value,
            },
            "notes": list(self.notes),
        }
        return jsonable(out)

    # ---------------------------------------------------------------- matching a fit
    _runs: Runs | None = field(default=None, repr=False)

    def _match(self, result: FitResult) -> str:
        """``"rows"`` when ``result`` was fitted on these runs, ``"configs"`` when on :meth:`aggregate`."""
        if result.data is None:
            raise FitError("this fit carries no data (saved without it); refit it with scalelaw.fit")
        run = np.asarray(result.data.run)
        if len(run) == len(self.run_ids) and np.array_equal(run, self.run_ids):
            return "rows"
        if len(run) == self.n_configs and np.array_equal(run, self.configs["group"].to_numpy(dtype=str)):
            return "configs"
        raise FitError(
            f"the fit's {len(run)} rows do not match this seed-noise estimate ({len(self.run_ids)} rows in "
            f"{self.n_configs} configurations); fit on the same runs (all rows, same order) or on .aggregate()"
        )


def seed_noise(
    runs: Runs | pd.DataFrame | Mapping[str, Any] | str,
    y: str = "loss",
    config: Sequence[str] | None = None,
    scale: str | None = None,
    model: Literal["pooled", "trend"] = "pooled",
    level: float = 0.9,
) -> SeedNoise:
    """Estimate the seed-to-seed variance of ``log y`` from configurations run with several seeds.

    Rows with equal values in every ``config`` column are one configuration; its distinct runs are its seeds
    (a ``seed`` column, when present, must not repeat inside a configuration). The pooled variance is
    ``sum_k (n_k - 1) s_k^2 / sum_k (n_k - 1)`` over configurations with ``n_k >= 2`` seeds, with an exact
    chi-square interval under normal seed noise. When at least three repeated configurations sit at two or
    more values of ``scale``, the trend of the variance with scale is fitted too (:class:`VarianceTrend`).

    Parameters
    ----------
    runs : Runs, DataFrame, dict of arrays, path or ``"dataset:NAME"``
        The observations (final values, or checkpoints when ``config`` includes ``step`` or ``tokens``).
    y : str
        Metric column (positive; loss, error rate, accuracy...).
    config : sequence of str, optional
        Columns that identify a configuration; defaults to those of ``params, tokens, unique_tokens,
        batch_size, lr, step`` present. Include every column that distinguishes runs other than their seed.
    scale : str, optional
        Positive column for the variance trend; defaults to ``flops`` when present, else the first numeric
        config column.
    model : {"pooled", "trend"}
        Variance used by weights and intervals: the pooled value, or the trend with ``scale``.
    level : float
        Level of the chi-square interval on the variance (and of the trend's slope interval).

    Returns
    -------
    SeedNoise

    Raises
    ------
    DataError
        Missing or non-positive columns; no configuration run with two seeds; two rows of one configuration
        from the same run or with the same seed (a config column is missing); all seeds identical.

    Examples
    --------
    >>> import scalelaw
    >>> est = seed_noise("dataset:muennighoff2023", config=["params", "tokens", "unique_tokens", "shape_variant"])
    >>> est.n_repeated, est.dof
    (16, 64)
    >>> 0.002 < est.sd < 0.01
    True
    """
    check_level(level)
    if model not in ("pooled", "trend"):
        raise DataError(f"model must be 'pooled' or 'trend', not {model!r}")
    runs = load_runs(runs)
    table = runs.table
    if config is None:
        config = [c for c in DEFAULT_CONFIG if c in table.columns]
        if not config:
            raise DataError(
                f"{runs.source} has none of the default configuration columns ({', '.join(DEFAULT_CONFIG)}); "
                "pass config=[...] naming the columns that identify a configuration"
            )
    config = tuple(config)
    if y in config:
        raise DataError(f"the metric {y!r} cannot also be a configuration column")
    absent = [c for c in (*config, y) if c not in table.columns]
    if absent:
        raise DataError(
            f"{runs.source} has no column {', '.join(map(repr, absent))}; available: "
            f"{', '.join(map(repr, table.columns))}"
        )
    runs.require([y], positive=[y], why="seed noise is measured on the log of the metric")
    log_y = np.log(runs.array(y))
    codes, first = config_codes(table, config)
    run_ids = runs.run_ids
    notes: list[str] = []
    check_replicates(table, codes, run_ids, config)
    if "seed" not in table.columns:
        notes.append("no 'seed' column: distinct runs of one configuration are taken as its seeds")
    n_configs = int(codes.max()) + 1
    n_k = np.bincount(codes, minlength=n_configs)
    mean_k = np.bincount(codes, weights=log_y, minlength=n_configs) / n_k
    ss_k = np.bincount(codes, weights=(log_y - mean_k[codes]) ** 2, minlength=n_configs)
    var_k = np.where(n_k >= 2, ss_k / np.maximum(n_k - 1, 1), np.nan)
    dof = int(np.sum(n_k - 1))
    if dof == 0:
        raise DataError(
            f"no configuration in {runs.source} was run with more than one seed (config columns: "
            f"{', '.join(config)}; {n_configs} configurations, one run each), so seed noise cannot be measured. "
            "Repeat a few configurations with new seeds, or check that config= does not include a per-run column"
        )
    variance = float(np.sum(ss_k) / dof)
    if not variance > 0:
        raise DataError(
            f"every repeated configuration gives identical {y!r} across its seeds: there is no seed noise to "
            "measure (deterministic training, or copied rows)"
        )
    if dof < FEW_DOF:
        warnings.warn(
            f"seed variance of {y!r} rests on only {dof} degree(s) of freedom; its interval is wide "
            f"(repeat more configurations)",
            SeedNoiseWarning,
            stacklevel=2,
        )
    low, high = (float(v) for v in variance_interval(variance, dof, level))

    configs = table.iloc[first][list(config)].reset_index(drop=True)
    configs["n_seeds"] = n_k
    configs["mean_log"] = mean_k
    configs["var_log"] = var_k
    configs["group"] = resampling_groups(codes, run_ids, n_configs)
    scale = _pick_scale(table, config, scale)
    trend = None
    if scale is not None:
        runs.require([scale], positive=[scale], why="the seed-variance trend is read on a log scale")
        scale_k = np.bincount(codes, weights=runs.array(scale), minlength=n_configs) / n_k
        configs["scale"] = scale_k
        trend, note = _fit_trend(scale, scale_k, var_k, n_k, level)
        if note:
            notes.append(note)
    homogeneity_p = _bartlett(var_k, n_k)
    if homogeneity_p < 0.05:
        notes.append(
            f"seed variance differs between configurations (Bartlett p={homogeneity_p:.2g}): the pooled value "
            "averages them and its interval is too narrow for any one configuration; see .configs['var_log']"
        )
    if model == "trend" and trend is None:
        raise DataError(f"model='trend' needs a variance trend with scale, but {notes[-1] if notes else 'none fits'}")
    row_group = configs["group"].to_numpy(dtype=str)[codes]
    return SeedNoise(
        y=y,
        config=config,
        scale=scale,
        model=model,
        configs=configs,
        row_config=codes,
        row_group=row_group,
        run_ids=run_ids,
        variance=variance,
        dof=dof,
        low=low,
        high=high,
        level=level,
        trend=trend,
        homogeneity_p=homogeneity_p,
        notes=tuple(notes),
        _runs=runs,
    )


def variance_interval(variance: Any, dof: Any, level: float = 0.9) -> tuple[np.ndarray, np.ndarray]:
    """Exact two-sided interval on a normal variance from its estimate with ``dof`` degrees of freedom.

    ``dof * variance / sigma^2`` is chi-square(dof), so the interval is
    ``(dof * variance / chi2.ppf(1 - a/2, dof), dof * variance / chi2.ppf(a/2, dof))``. Vectorized.

    Examples
    --------
    >>> low, high = variance_interval(1.0, 10, 0.9)
    >>> round(float(low), 3), round(float(high), 3)
    (0.546, 2.538)
    """
    check_level(level)
    variance, dof = np.asarray(variance, dtype=np.float64), np.asarray(dof, dtype=np.float64)
    alpha = (1.0 - level) / 2.0
    return variance * dof / stats.chi2.ppf(1.0 - alpha, dof), variance * dof / stats.chi2.ppf(alpha, dof)


def signal_to_noise(
    runs: Runs | pd.DataFrame | Mapping[str, Any] | str,
    y: str = "loss",
    config: Sequence[str] | None = None,
    max_seed_share: float = 0.5,
) -> SignalToNoise:
    """Scale vs seed shares of a metric's variance; shorthand for ``seed_noise(...).signal_to_noise()``.

    Examples
    --------
    >>> import warnings
    >>> runs = {"run": list("abcdef"), "params": [1e8, 1e8, 1e9, 1e9, 1e10, 1e10],
    ...         "acc": [0.50, 0.56, 0.53, 0.49, 0.55, 0.51]}
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     snr = signal_to_noise(runs, y="acc", config=["params"])
    >>> snr.dominated, any(issubclass(w.category, SeedNoiseWarning) for w in caught)
    (True, True)
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SeedNoiseWarning)
        est = seed_noise(runs, y=y, config=config)
    return est.signal_to_noise(max_seed_share=max_seed_share)


def seed_noise_for_law(
    law: str | Law,
    runs: Runs | pd.DataFrame | Mapping[str, Any] | str,
    y: str | None = None,
    config: Sequence[str] | None = None,
    law_options: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> SeedNoise:
    """:func:`seed_noise` of the column a fit of ``law`` reads: ``y``, or the law's output (``"loss"``).

    The estimate behind seed-aware weights, ``scalelaw.fit(law, runs, weights=noise.weights(loss))``, which is
    what ``scalelaw fit --seed-noise`` does. ``law_options`` builds a catalog law as :func:`scalelaw.fit` does;
    ``kwargs`` go to :func:`seed_noise`.

    Examples
    --------
    >>> noise = seed_noise_for_law("data_constrained", "dataset:muennighoff2023", config=["params", "tokens",
    ...                            "unique_tokens", "shape_variant"])
    >>> noise.y, noise.weights("huber").shape
    ('loss', (296,))
    """
    column = y or get_law(law, **dict(law_options or {})).output
    return seed_noise(runs, y=column, config=config, **kwargs)


# -------------------------------------------------------------------------------------------- helpers


def _pick_scale(table: pd.DataFrame, config: Sequence[str], scale: str | None) -> str | None:
    if scale is not None:
        if scale not in table.columns:
            raise DataError(f"scale column {scale!r} is not in the data; available: {', '.join(table.columns)}")
        return scale
    if "flops" in table.columns:
        return "flops"
    for c in config:
        if pd.api.types.is_numeric_dtype(table[c]) and bool((table[c] > 0).all()):
            return c
    return None


def _fit_trend(
    scale: str, scale_k: np.ndarray, var_k: np.ndarray, n_k: np.ndarray, level: float
) -> tuple[VarianceTrend | None, str]:
    """Weighted least squares of bias-corrected log sample variances on log scale."""
    use = (n_k >= 2) & (var_k > 0)
    if len(np.unique(scale_k[use])) < 3:
        return None, (
            f"no trend of seed variance with {scale}: it needs repeated configurations at 3+ values of {scale} "
            f"(have {len(np.unique(scale_k[use]))})"
        )
    nu = (n_k[use] - 1).astype(np.float64)
    # log(s^2) = log(var) + log(chi2_nu / nu): mean psi(nu/2) - log(nu/2), variance trigamma(nu/2).
    z = np.log(var_k[use]) - (special.digamma(nu / 2) - np.log(nu / 2))
    w = 1.0 / special.polygamma(1, nu / 2)
    x = np.log(scale_k[use])
    reference = float(np.average(x, weights=w))
    design = np.column_stack([np.ones_like(x), x - reference])
    info = design.T @ (design * w[:, None])
    cov = np.linalg.inv(info)
    coef = cov @ (design.T @ (w * z))
    free = int(use.sum()) - 2
    if free > 0:
        # Configurations may scatter more than sampling explains (other causes of heteroscedasticity).
        chi2 = float(np.sum(w * (z - design @ coef) ** 2))
        cov = cov * max(1.0, chi2 / free)
    se = np.sqrt(np.diag(cov))
    q = float(stats.norm.ppf(0.5 + level / 2))
    p_value = float(2 * stats.norm.sf(abs(coef[1]) / se[1]))
    trend = VarianceTrend(
        scale=scale,
        slope=float(coef[1]),
        slope_low=float(coef[1] - q * se[1]),
        slope_high=float(coef[1] + q * se[1]),
        p_value=p_value,
        intercept=float(coef[0]),
        intercept_se=float(se[0]),
        reference=reference,
        covariance=((float(cov[0, 0]), float(cov[0, 1])), (float(cov[1, 0]), float(cov[1, 1]))),
        n_configs=int(use.sum()),
        level=level,
    )
    return trend, ""


def _bartlett(var_k: np.ndarray, n_k: np.ndarray) -> float:
    """P-value of Bartlett's test of equal variances over configurations with 2+ seeds and non-zero variance."""
    use = (n_k >= 2) & (var_k > 0)
    k = int(use.sum())
    if k < 2:
        return math.nan
    nu = (n_k[use] - 1).astype(np.float64)
    pooled = np.sum(nu * var_k[use]) / np.sum(nu)
    stat = (np.sum(nu) * np.log(pooled) - np.sum(nu * np.log(var_k[use]))) / (
        1 + (np.sum(1 / nu) - 1 / np.sum(nu)) / (3 * (k - 1))
    )
    return float(stats.chi2.sf(stat, k - 1))


def _constant_columns(
    table: pd.DataFrame, codes: np.ndarray, first: np.ndarray, exclude: set[str]
) -> dict[str, np.ndarray]:
    """Columns whose value is the same in every row of each configuration, one value per configuration."""
    out: dict[str, np.ndarray] = {}
    for name in table.columns:
        if name in exclude:
            continue
        key = pd.Series(config_key(table[name]))
        if (key.groupby(codes).nunique() == 1).all():
            out[name] = table[name].to_numpy()[first]
    return out


def _normalized(w: np.ndarray, loss: str) -> np.ndarray:
    if loss not in ("squared", "huber"):
        raise DataError(f"loss must be 'squared' or 'huber', not {loss!r}")
    return w / np.mean(w)


def _n_rows(columns: Mapping[str, Any]) -> int:
    sizes = {np.atleast_1d(np.asarray(v)).shape[0] for v in columns.values()}
    if len(sizes) > 1:
        raise DataError(f"input columns have different lengths: {sorted(sizes)}")
    return sizes.pop() if sizes else 1
