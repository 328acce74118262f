"""Data mixtures: fit loss as a function of mixture proportions, and search the simplex for the best mix.

The workflow of RegMix (Liu et al. 2024) and of Ye et al.'s data mixing laws (2024), laws.md §9: train
small proxy models on many mixtures, regress their validation loss on the proportions, and pick the
mixture the regression predicts best, subject to the data one actually has.

* :func:`fit_mixture` fits one of three models to each target loss column, by run:
  ``mixing_law`` ``L = c + k exp(t.r)`` (Ye et al., the catalog law :func:`scalelaw.laws.mixture.mixing_law`,
  fitted with :func:`scalelaw.fit`), ``linear`` ``L = b + beta.r`` (RegMix's linear regression) and
  ``log_linear`` ``log L = b + beta.r`` (the mixing law with ``c = 0``). Several targets (e.g. validation
  domains) are combined as a weighted sum, as Ye et al. do; with one target every model is monotone in
  one linear function of ``r``, so its optimum is a corner of the feasible set.
* :func:`optimize_mixture` searches the simplex under per-domain caps (:func:`token_caps`: at most
  ``max_epochs`` passes over each domain's unique tokens) and bootstraps whole runs to give intervals
  for the predicted loss and for the best mix itself.
* :func:`compare_models` ranks the models by Spearman rank correlation on held-out runs (RegMix's
  criterion: what matters is ordering mixtures correctly).

Data layout: one row per run, proportions in columns ``w_<domain>`` (or ``<domain>``), each row summing to 1.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from scalelaw._result import Result, clip, jsonable
from scalelaw._validation import check_level
from scalelaw.data.io import load_runs
from scalelaw.data.runs import Runs
from scalelaw.errors import DataError, FitError, format_rows
from scalelaw.fitting.fit import fit as fit_law
from scalelaw.fitting.refit import refit_weighted
from scalelaw.fitting.result import FitResult
from scalelaw.laws.mixture import COLUMN_PREFIX, mixing_law, proportion_column

__all__ = [
    "MODELS",
    "MixtureFit",
    "MixtureOptimum",
    "compare_models",
    "fit_mixture",
    "optimize_mixture",
    "token_caps",
]

Model = Literal["mixing_law", "linear", "log_linear"]
MODELS: tuple[str, ...] = ("mixing_law", "linear", "log_linear")

#: Rows whose proportions sum to 1 within this are accepted (and renormalized); published tables round
#: proportions to 3 decimals, which leaves sums off by up to ~0.005 with 17 domains.
SUM_TOLERANCE = 0.01


# ---------------------------------------------------------------------------------------------- data


def _domain_columns(runs: Runs, domains: Sequence[str] | str | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Domain names and the columns holding their proportions (``w_<domain>``, else ``<domain>``)."""
    if domains is None:
        cols = [c for c in runs.columns if c.startswith(COLUMN_PREFIX)]
        if len(cols) < 2:
            raise DataError(
                f"no mixture columns found: name the proportion columns 'w_<domain>' (found {len(cols)}), "
                f"or pass domains=[...]; columns are: {', '.join(map(repr, runs.columns))}"
            )
        return tuple(c[len(COLUMN_PREFIX) :] for c in cols), tuple(cols)
    if isinstance(domains, str):
        domains = [d.strip() for d in domains.split(",") if d.strip()]
    names = tuple(str(d) for d in domains)
    if len(names) < 2:
        raise DataError(f"a mixture needs at least 2 domains, got {list(names)}")
    if len(set(names)) != len(names):
        raise DataError(f"domains repeat: {list(names)}")
    cols = []
    for d in names:
        for candidate in (proportion_column(d), d):
            if candidate in runs.columns:
                cols.append(candidate)
                break
        else:
            raise DataError(
                f"no proportion column for domain {d!r}: expected {proportion_column(d)!r} (or {d!r}); "
                f"columns are: {', '.join(map(repr, runs.columns))}"
            )
    return names, tuple(cols)


def _proportions(runs: Runs, domains: tuple[str, ...], columns: tuple[str, ...], tol: float) -> np.ndarray:
    """Checked proportion matrix (n_rows, n_domains), renormalized to sum exactly to 1."""
    runs.require(list(columns), why="mixture proportions")
    R = np.column_stack([runs.array(c) for c in columns])
    labels = runs.table.index
    for j, col in enumerate(columns):
        bad = labels[R[:, j] < 0]
        if len(bad):
            raise DataError(
                f"column {col!r} has {len(bad)} negative proportion(s) ({format_rows(bad)}); "
                "mixture proportions must be >= 0"
            )
    sums = R.sum(axis=1)
    off = np.abs(sums - 1.0) > tol
    if off.any():
        shown = ", ".join(f"{s:.4g}" for s in sums[off][:8])
        raise DataError(
            f"mixture proportions ({', '.join(columns)}) must sum to 1 within {tol}; {format_rows(labels[off])} "
            f"sum to {shown}. Give every domain a column (a missing domain makes sums < 1) or divide each "
            "row by its sum"
        )
    R = R / sums[:, None]
    unused = [d for j, d in enumerate(domains) if not np.any(R[:, j] > 0)]
    if unused:
        raise DataError(
            f"domain(s) {', '.join(map(repr, unused))} have proportion 0 in every run, so the data says nothing "
            "about them; drop them from domains"
        )
    return R


def _as_matrix(weights: Any, domains: tuple[str, ...], columns: tuple[str, ...]) -> np.ndarray:
    """Mixtures given as an array (n, M), a mapping domain -> share(s) or a DataFrame, as (n, M)."""
    if isinstance(weights, pd.DataFrame) or isinstance(weights, Mapping):
        out = []
        for d, col in zip(domains, columns, strict=True):
            key = next((k for k in (d, col, proportion_column(d)) if k in weights), None)
            if key is None:
                raise DataError(f"mixture has no share for domain {d!r} (give {d!r} or {col!r})")
            out.append(np.atleast_1d(np.asarray(weights[key], dtype=np.float64)))
        return np.column_stack(np.broadcast_arrays(*out))
    arr = np.asarray(weights, dtype=np.float64)
    arr = arr[None, :] if arr.ndim == 1 else arr
    if arr.ndim != 2 or arr.shape[1] != len(domains):
        raise DataError(f"mixtures must have {len(domains)} shares per row ({', '.join(domains)}); got {arr.shape}")
    return arr


# ---------------------------------------------------------------------------------------------- models
#
# Every model is held as a parameter array P of shape (n_sets, n_targets, n_params), where n_sets runs over
# the point estimate and bootstrap replicates. Per target:
#   mixing_law: (c, k, t_1..t_{M-1})  L = c + k exp(r . [t, 0])
#   linear:     (b, beta_1..beta_M)   L = b + r . beta
#   log_linear: (b, beta_1..beta_M)   L = exp(b + r . beta)


def _target_values(model: str, P: np.ndarray, R: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-target predictions (n_sets, n_targets, n_pts) and d/dr (n_sets, n_targets, n_pts, M).

    ``R`` is (n_pts, M) shared by all sets, or (n_sets, n_pts, M).
    """
    R = R[None] if R.ndim == 2 else R
    if model == "mixing_law":
        slope = np.concatenate([P[..., 2:], np.zeros((*P.shape[:2], 1))], axis=-1)
        term = P[..., [1]] * np.exp(np.einsum("spm,stm->stp", R, slope))
        return P[..., [0]] + term, term[..., None] * slope[:, :, None, :]
    slope = P[..., 1:]
    linear = P[..., [0]] + np.einsum("spm,stm->stp", R, slope)
    if model == "linear":
        return linear, np.broadcast_to(slope[:, :, None, :], (*linear.shape, slope.shape[-1]))
    value = np.exp(linear)
    return value, value[..., None] * slope[:, :, None, :]


def _total(model: str, P: np.ndarray, R: np.ndarray, v: np.ndarray, grad: bool = False):
    """Weighted sum over targets: values (n_sets, n_pts) and, with ``grad``, d/dr (n_sets, n_pts, M)."""
    values, d = _target_values(model, P, R)
    total = np.einsum("t,stp->sp", v, values)
    return (total, np.einsum("t,stpm->spm", v, d)) if grad else total


def _least_squares(R: np.ndarray, y: np.ndarray, weights: np.ndarray, ridge: float) -> np.ndarray:
    """Weighted (ridge) regression ``y ~ b + R beta`` with the intercept unpenalized; returns (b, beta).

    Proportions sum to 1, so the columns of R are collinear with the intercept: the centred design has
    rank M-1. ``lstsq``'s minimum-norm solution (``ridge = 0``) or the ridge penalty picks one of the
    equivalent parameter vectors; predictions on the simplex are the same for all of them.
    """
    w = weights / weights.sum()
    r_mean, y_mean = w @ R, w @ y
    sw = np.sqrt(weights)[:, None]
    A = (R - r_mean) * sw
    b = (y - y_mean) * sw[:, 0]
    if ridge > 0:
        M = R.shape[1]
        A = np.vstack([A, math.sqrt(ridge) * np.eye(M)])
        b = np.concatenate([b, np.zeros(M)])
    beta, *_ = np.linalg.lstsq(A, b, rcond=None)
    return np.concatenate([[y_mean - r_mean @ beta], beta])


# ---------------------------------------------------------------------------------------------- fit


@dataclass(frozen=True, eq=False)
class MixtureFit(Result):
    """Loss as a function of mixture proportions, fitted on proxy runs.

    Attributes
    ----------
    model : {"mixing_law", "linear", "log_linear"}
    domains : tuple of str
        Training domains, in the order of the proportion columns.
    columns : tuple of str
        Data columns holding the proportions.
    targets : tuple of str
        Loss columns fitted (one model per target).
    target_weights : ndarray
        Weights of the targets in the combined loss ``sum_i v_i L_i``.
    params : ndarray, shape (n_targets, n_params)
        Fitted parameters per target (see :meth:`param_table` for names).
    results : tuple of FitResult
        The :func:`scalelaw.fit` results of the ``mixing_law`` targets (empty for the regressions).
    ridge : float
    proportions : ndarray, shape (n_runs, n_domains)
        The (renormalized) mixtures of the fitted runs.
    y : ndarray, shape (n_runs, n_targets)
    run : ndarray of str
        Run id of each row (resampled together by the bootstrap).
    """

    model: str
    domains: tuple[str, ...]
    columns: tuple[str, ...]
    targets: tuple[str, ...]
    target_weights: np.ndarray
    params: np.ndarray
    results: tuple[FitResult, ...]
    ridge: float
    proportions: np.ndarray
    y: np.ndarray
    run: np.ndarray
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def param_names(self) -> tuple[str, ...]:
        if self.model == "mixing_law":
            return ("c", "k", *(f"t_{d}" for d in self.domains[:-1]))
        return ("intercept", *(f"beta_{d}" for d in self.domains))

    def param_table(self) -> pd.DataFrame:
        """Fitted parameters, one row per target: the same as :meth:`to_frame`."""
        return self.to_frame()

    def to_frame(self) -> pd.DataFrame:
        """Fitted parameters, one row per target.

        Returns
        -------
        pandas.DataFrame
            Columns ``target``, ``weight`` (in the combined loss), then :attr:`param_names`.
        """
        out = pd.DataFrame(self.params, columns=list(self.param_names))
        out.insert(0, "target", list(self.targets))
        out.insert(1, "weight", self.target_weights)
        return out

    def predict(self, mixtures: Any) -> np.ndarray:
        """Predicted combined loss ``sum_i v_i L_i`` for mixtures (array (n, M), mapping or DataFrame).

        Examples
        --------
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> R = rng.dirichlet(np.ones(3), 30)
        >>> loss = 2.0 + np.exp(R @ [-1.0, 0.5, 0.0])
        >>> fit = fit_mixture({"w_web": R[:, 0], "w_code": R[:, 1], "w_books": R[:, 2], "loss": loss})
        >>> float(fit.predict({"web": 1.0, "code": 0.0, "books": 0.0})[0])  # doctest: +ELLIPSIS
        2.367...
        """
        R = _as_matrix(mixtures, self.domains, self.columns)
        return _total(self.model, self.params[None], R, self.target_weights)[0]

    def predict_targets(self, mixtures: Any) -> pd.DataFrame:
        """Predicted loss of every target (one column each) for the given mixtures."""
        R = _as_matrix(mixtures, self.domains, self.columns)
        values, _ = _target_values(self.model, self.params[None], R)
        return pd.DataFrame(values[0].T, columns=list(self.targets))

    def spearman(self, runs: Runs | pd.DataFrame | Mapping[str, Any] | str) -> float:
        """Spearman rank correlation between predicted and observed combined loss on (held-out) runs."""
        runs = load_runs(runs)
        _, columns = _domain_columns(runs, self.domains)
        R = _proportions(runs, self.domains, columns, self.settings.get("tol", SUM_TOLERANCE))
        runs.require(list(self.targets), why="observed losses")
        observed = np.column_stack([runs.array(t) for t in self.targets]) @ self.target_weights
        return _spearman(self.predict(R), observed)

    def _refit_params(self, row_weights: np.ndarray, max_iter: int = 300) -> tuple[np.ndarray, np.ndarray]:
        """Parameters refitted under each row of ``row_weights`` (n_sets, n_rows); also a finite mask."""
        n_sets = row_weights.shape[0]
        P = np.empty((n_sets, len(self.targets), self.params.shape[1]))
        ok = np.ones(n_sets, dtype=bool)
        for i in range(len(self.targets)):
            if self.model == "mixing_law":
                # The fit of target i keeps the proportions and losses it was fitted on: refit it from there.
                P[:, i], finite, _ = refit_weighted(self.results[i], row_weights, max_iter=max_iter)
                ok &= finite
            else:
                y = self.y[:, i] if self.model == "linear" else np.log(self.y[:, i])
                for s in range(n_sets):
                    P[s, i] = _least_squares(self.proportions, y, row_weights[s], self.ridge)
        return P, ok

    def __repr__(self) -> str:
        return (
            f"<MixtureFit {self.model}: {len(self.domains)} domains ({clip(', '.join(self.domains), 80)}), "
            f"targets {clip(', '.join(self.targets), 40)}, {len(np.unique(self.run))} runs>"
        )

    def to_dict(self) -> dict[str, Any]:
        """The model, domains, proportion columns, targets with their weights, and the parameters as records."""
        return jsonable(
            {
                "model": self.model,
                "domains": self.domains,
                "columns": self.columns,
                "targets": self.targets,
                "target_weights": self.target_weights,
                "ridge": self.ridge,
                "n_runs": len(np.unique(self.run)),
                "params": self.to_frame(),
            }
        )

    def summary(self) -> str:
        """What was fitted to what, then one line of parameters per target."""
        lines = [
            f"{self.model} fit of {', '.join(self.targets)} on {len(np.unique(self.run))} runs mixing "
            f"{len(self.domains)} domains ({', '.join(self.domains)})"
        ]
        for target, row in zip(self.targets, self.params, strict=True):
            values = ", ".join(f"{n} = {v:.4g}" for n, v in zip(self.param_names, row, strict=True))
            lines.append(f"{target}: {values}")
        return "\n".join(lines)


def fit_mixture(
    runs: Runs | pd.DataFrame | Mapping[str, Any] | str,
    domains: Sequence[str] | str | None = None,
    y: str | Sequence[str] = "loss",
    model: Model = "mixing_law",
    ridge: float = 0.0,
    target_weights: Sequence[float] | Mapping[str, float] | None = None,
    tol: float = SUM_TOLERANCE,
) -> MixtureFit:
    """Fit loss against mixture proportions.

    Parameters
    ----------
    runs : Runs, DataFrame, dict of arrays, path or ``"dataset:NAME"``
        One row per proxy run: proportion columns ``w_<domain>`` (or ``<domain>``) and the loss column(s).
        A ``run`` column, if present, names the runs the bootstrap resamples.
    domains : sequence of str or comma-separated str, optional
        Training domains; default every ``w_*`` column. For ``mixing_law`` the last one is the reference
        domain (its ``t`` is fixed at 0, see :mod:`scalelaw.laws.mixture`).
    y : str or sequence of str
        Loss column(s). Several targets (e.g. per-domain validation losses) are fitted separately and
        combined as ``sum_i v_i L_i``.
    model : {"mixing_law", "linear", "log_linear"}
        ``mixing_law``: ``c + k exp(t.r)``, robust (Huber) fit on log residuals by :func:`scalelaw.fit`;
        ``linear``: least squares ``b + beta.r`` (RegMix's linear regression); ``log_linear``: least squares
        of ``log L`` on ``r`` (the mixing law with ``c = 0``).
    ridge : float
        Ridge penalty ``ridge * |beta|^2`` on the regression slopes (``linear``, ``log_linear``); useful when
        runs are few compared with domains. Not used by ``mixing_law``.
    target_weights : sequence or mapping, optional
        Weights ``v_i`` of the targets; default equal weights summing to 1.
    tol : float
        Rows whose proportions sum to 1 within ``tol`` are accepted and renormalized.

    Returns
    -------
    MixtureFit

    Raises
    ------
    DataError
        Missing columns, negative proportions, rows not summing to 1 (naming the rows), unused domains,
        non-positive losses, too few runs.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> R = rng.dirichlet(np.ones(3), 40)
    >>> data = {"w_web": R[:, 0], "w_code": R[:, 1], "w_books": R[:, 2], "loss": 2.0 + np.exp(R @ [-1.0, 0.5, 0])}
    >>> fit = fit_mixture(data, domains=["web", "code", "books"])
    >>> {k: round(float(v), 3) for k, v in zip(fit.param_names, fit.params[0])}
    {'c': 2.0, 'k': 1.0, 't_web': -1.0, 't_code': 0.5}
    """
    if model not in MODELS:
        raise FitError(f"unknown mixture model {model!r}; choose one of {', '.join(MODELS)}")
    if not (ridge >= 0 and math.isfinite(ridge)):
        raise FitError(f"ridge must be a finite number >= 0, got {ridge}")
    if ridge > 0 and model == "mixing_law":
        raise FitError(
            "ridge applies to the 'linear' and 'log_linear' regressions; the mixing law is fitted unpenalized"
        )
    runs = load_runs(runs)
    names, columns = _domain_columns(runs, domains)
    targets = (y,) if isinstance(y, str) else tuple(y)
    if not targets:
        raise DataError("give at least one loss column in y")
    R = _proportions(runs, names, columns, tol)
    runs.require(list(targets), positive=list(targets), why="losses of the mixture runs")
    Y = np.column_stack([runs.array(t) for t in targets])
    v = _target_weights(target_weights, targets)
    n_params = len(names) + 1
    if len(Y) < n_params + 1:
        raise DataError(
            f"{len(Y)} run(s) for {len(names)} domains: a mixture fit needs more runs than its {n_params} "
            f"parameters (laws.md §14 recommends O(domains^2) = {len(names) ** 2} or more)"
        )
    results: list[FitResult] = []
    params = np.empty((len(targets), n_params))
    for i, target in enumerate(targets):
        if model == "mixing_law":
            law = mixing_law(list(names)).with_inputs(*columns)
            frame = {c: R[:, j] for j, c in enumerate(columns)}
            frame[target] = Y[:, i]
            if "run" in runs.columns:
                frame["run"] = runs.run_ids
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = fit_law(law, pd.DataFrame(frame), y=target)
            results.append(result)
            params[i] = result.values
        else:
            y_fit = Y[:, i] if model == "linear" else np.log(Y[:, i])
            params[i] = _least_squares(R, y_fit, np.ones(len(y_fit)), ridge)
    return MixtureFit(
        model=model,
        domains=names,
        columns=columns,
        targets=targets,
        target_weights=v,
        params=params,
        results=tuple(results),
        ridge=float(ridge),
        proportions=R,
        y=Y,
        run=runs.run_ids,
        settings={"tol": tol},
    )


def _target_weights(weights: Sequence[float] | Mapping[str, float] | None, targets: tuple[str, ...]) -> np.ndarray:
    if weights is None:
        return np.full(len(targets), 1.0 / len(targets))
    if isinstance(weights, Mapping):
        missing = [t for t in targets if t not in weights]
        if missing:
            raise DataError(f"target_weights has no weight for {', '.join(missing)}")
        weights = [weights[t] for t in targets]
    v = np.asarray(weights, dtype=np.float64)
    if v.shape != (len(targets),) or not np.all(np.isfinite(v)) or np.any(v < 0) or v.sum() <= 0:
        raise DataError(f"target_weights must be {len(targets)} non-negative numbers, not all 0; got {weights}")
    return v


# ---------------------------------------------------------------------------------------------- compare


def _spearman(predicted: np.ndarray, observed: np.ndarray) -> float:
    if len(observed) < 3:
        raise DataError(f"a rank correlation needs at least 3 held-out runs, got {len(observed)}")
    return float(stats.spearmanr(predicted, observed).statistic)


def compare_models(
    runs: Runs | pd.DataFrame | Mapping[str, Any] | str,
    domains: Sequence[str] | str | None = None,
    y: str | Sequence[str] = "loss",
    models: Sequence[str] = MODELS,
    heldout: np.ndarray | pd.Series | Runs | pd.DataFrame | str | None = None,
    folds: int = 5,
    seed: int = 0,
    ridge: float = 0.0,
    target_weights: Sequence[float] | Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Rank mixture models by Spearman correlation between predicted and observed loss on held-out runs.

    Parameters
    ----------
    runs : table
        Runs to fit on (all of them with ``heldout=None``: then ``folds``-fold cross-validation by run).
    heldout : boolean mask, table or None
        A mask over ``runs`` marking the held-out rows, or a separate table of held-out runs.
    folds, seed : int
        Cross-validation folds (whole runs per fold) and the seed of the split.
    ridge : float
        Passed to the regressions.

    Returns
    -------
    DataFrame
        ``model, spearman, rmse, n_fit, n_heldout``, best Spearman first. ``spearman`` is computed on
        all held-out predictions pooled (cross-validation) or on the held-out table.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(2)
    >>> R = rng.dirichlet(np.ones(3), 60)
    >>> loss = (2.0 + np.exp(R @ [-1.0, 0.5, 0])) * np.exp(rng.normal(0, 0.003, 60))
    >>> table = compare_models({"w_a": R[:, 0], "w_b": R[:, 1], "w_c": R[:, 2], "loss": loss})
    >>> table["model"].iloc[0], bool(table["spearman"].iloc[0] > 0.95)
    ('mixing_law', True)
    """
    runs = load_runs(runs)
    bad = [m for m in models if m not in MODELS]
    if bad:
        raise FitError(f"unknown mixture model(s) {bad}; choose from {', '.join(MODELS)}")
    targets = (y,) if isinstance(y, str) else tuple(y)
    splits: list[tuple[Runs, Runs]] = []
    if heldout is None:
        if folds < 2:
            raise FitError(f"folds must be >= 2, got {folds}")
        ids = np.unique(runs.run_ids)
        if len(ids) < 2 * folds:
            raise DataError(f"{len(ids)} runs are too few for {folds}-fold cross-validation")
        fold_of = dict(zip(np.random.default_rng(seed).permutation(ids), np.arange(len(ids)) % folds, strict=True))
        fold = np.array([fold_of[r] for r in runs.run_ids])
        splits = [(runs.subset(fold != f), runs.subset(fold == f)) for f in range(folds)]
    elif isinstance(heldout, (np.ndarray, pd.Series)) and np.asarray(heldout).dtype == bool:
        mask = np.asarray(heldout, dtype=bool)
        if mask.shape != (len(runs),):
            raise DataError(f"heldout mask has {mask.size} entries for {len(runs)} rows")
        splits = [(runs.subset(~mask), runs.subset(mask))]
    else:
        splits = [(runs, load_runs(heldout))]  # type: ignore[arg-type]
    rows = []
    for model in models:
        predicted, observed = [], []
        for train, test in splits:
            fitted = fit_mixture(
                train, domains, targets, model, ridge if model != "mixing_law" else 0.0, target_weights
            )
            _, columns = _domain_columns(test, fitted.domains)
            R = _proportions(test, fitted.domains, columns, fitted.settings["tol"])
            test.require(list(targets), positive=list(targets), why="held-out losses")
            predicted.append(fitted.predict(R))
            observed.append(np.column_stack([test.array(t) for t in targets]) @ fitted.target_weights)
        p, o = np.concatenate(predicted), np.concatenate(observed)
        rows.append(
            {
                "model": model,
                "spearman": _spearman(p, o),
                "rmse": float(np.sqrt(np.mean((p - o) ** 2))),
                "n_fit": len(splits[0][0]),
                "n_heldout": len(o),
            }
        )
    return pd.DataFrame(rows).sort_values("spearman", ascending=False, kind="stable").reset_index(drop=True)


# ---------------------------------------------------------------------------------------------- search


def token_caps(unique_tokens: Mapping[str, float], total_tokens: float, max_epochs: float = 4.0) -> dict[str, float]:
    """Largest share of each domain that repeats its unique tokens at most ``max_epochs`` times.

    ``cap_j = min(1, max_epochs * U_j / D)``. Four epochs is where Muennighoff et al. (2023) find repeated
    data still about as good as new (laws.md §4, §9.1).

    Examples
    --------
    >>> token_caps({"web": 1e12, "code": 5e10}, total_tokens=1e12)
    {'web': 1.0, 'code': 0.2}
    """
    if not (total_tokens > 0 and math.isfinite(total_tokens)):
        raise DataError(f"total_tokens must be a positive number, got {total_tokens}")
    if not max_epochs > 0:
        raise DataError(f"max_epochs must be > 0, got {max_epochs}")
    out = {}
    for d, u in unique_tokens.items():
        if not (u >= 0 and math.isfinite(u)):
            raise DataError(f"unique tokens of {d!r} must be a non-negative number, got {u}")
        out[d] = float(min(1.0, max_epochs * u / total_tokens))
    return out


def _cap_vector(caps: Mapping[str, float] | None, domains: tuple[str, ...]) -> np.ndarray:
    cap = np.ones(len(domains))
    if caps:
        unknown = sorted(set(caps) - set(domains))
        if unknown:
            raise DataError(
                f"caps name unknown domain(s) {', '.join(map(repr, unknown))}; domains: {', '.join(domains)}"
            )
        for d, c in caps.items():
            if not (0 <= c and math.isfinite(c)):
                raise DataError(f"cap of {d!r} must be a share in [0, 1], got {c}")
            cap[domains.index(d)] = min(float(c), 1.0)
    if cap.sum() < 1.0 - 1e-12:
        raise DataError(
            f"the caps sum to {cap.sum():.4g} < 1: no mixture satisfies them; raise a cap or add data "
            f"({', '.join(f'{d}={c:.3g}' for d, c in zip(domains, cap, strict=True))})"
        )
    return cap


def _project(X: np.ndarray, cap: np.ndarray, iters: int = 80) -> np.ndarray:
    """Euclidean projection of each row of X onto ``{0 <= r <= cap, sum r = 1}`` (bisection on the shift)."""
    lo = (X - cap).min(axis=-1, keepdims=True) - 1.0
    hi = X.max(axis=-1, keepdims=True)
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        over = np.clip(X - mid, 0.0, cap).sum(axis=-1, keepdims=True) > 1.0
        lo = np.where(over, mid, lo)
        hi = np.where(over, hi, mid)
    return np.clip(X - 0.5 * (lo + hi), 0.0, cap)


def _refine(model: str, P: np.ndarray, v: np.ndarray, R0: np.ndarray, cap: np.ndarray, steps: int) -> np.ndarray:
    """Projected gradient descent with backtracking from R0 (n_sets, n_starts, M), one step size per start.

    Every model is a convex function of r, so descent on the convex feasible set reaches the optimum.
    """
    R = _project(R0, cap)
    f, g = _total(model, P, R, v, grad=True)
    eta = 0.1 / np.maximum(np.abs(g).max(axis=-1, keepdims=True), 1e-12)
    for _ in range(steps):
        trial = _project(R - eta * g, cap)
        f_new, g_new = _total(model, P, trial, v, grad=True)
        better = f_new < f
        R = np.where(better[..., None], trial, R)
        g = np.where(better[..., None], g_new, g)
        f = np.where(better, f_new, f)
        eta = np.where(better[..., None], eta * 1.5, eta * 0.3)
        if np.all(eta < 1e-12):
            break
    return R


def _candidates(M: int, cap: np.ndarray, n: int, observed: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Starting mixtures: Dirichlet draws at several concentrations (sparse to balanced), draws around the
    observed mixtures' mean (RegMix samples around the natural distribution), the vertices, the observed
    mixtures, all projected onto the capped simplex."""
    prior = np.maximum(observed.mean(axis=0), 1e-3)
    k = max(n // 4, 1)
    draws = [
        rng.dirichlet(np.full(M, 0.2), k),
        rng.dirichlet(np.ones(M), k),
        rng.dirichlet(np.full(M, 5.0), k),
        rng.dirichlet(prior * M, max(n - 3 * k, 1)),
        np.eye(M),
        observed,
    ]
    return _project(np.vstack(draws), cap)


@dataclass(frozen=True, eq=False)
class MixtureOptimum(Result):
    """The best mixture found, with bootstrap uncertainty.

    Attributes
    ----------
    domains : tuple of str
    weights : ndarray, shape (M,)
        Best mixture under the point-estimate fit (sums to 1, within the caps).
    predicted : float
        Its predicted combined loss.
    caps : ndarray, shape (M,)
    level : float
        Interval level.
    loss_samples : ndarray, shape (n_boot,)
        Predicted loss of ``weights`` under each bootstrap refit.
    best_loss_samples : ndarray, shape (n_boot,)
        Each refit's own minimum (its predicted loss at its own argmin).
    argmin_samples : ndarray, shape (n_boot, M)
        Each refit's best mixture: the distribution of the argmin.
    nearest_run_distance : float
        Half the L1 distance from ``weights`` to the closest fitted mixture (0 = an observed run, 1 = disjoint
        support): how far the answer extrapolates beyond the data.
    observed_max : ndarray, shape (M,)
        Largest share of each domain in any fitted run (see :attr:`beyond_data`).
    """

    domains: tuple[str, ...]
    weights: np.ndarray
    predicted: float
    caps: np.ndarray
    level: float
    loss_samples: np.ndarray
    best_loss_samples: np.ndarray
    argmin_samples: np.ndarray
    nearest_run_distance: float
    observed_max: np.ndarray
    model: str = ""

    @property
    def mixture(self) -> dict[str, float]:
        """The best mixture as ``{domain: share}``."""
        return {d: float(w) for d, w in zip(self.domains, self.weights, strict=True)}

    @property
    def at_cap(self) -> tuple[str, ...]:
        """Domains whose cap binds (their share is at the cap, and the cap is below 1)."""
        return tuple(
            d for d, w, c in zip(self.domains, self.weights, self.caps, strict=True) if c < 1.0 and w >= c - 1e-6
        )

    @property
    def beyond_data(self) -> tuple[str, ...]:
        """Domains whose chosen share exceeds the largest share any proxy run had: the fit extrapolates there."""
        return tuple(d for d, w, m in zip(self.domains, self.weights, self.observed_max, strict=True) if w > m + 1e-9)

    def _bounds(self, samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        a = (1.0 - self.level) / 2.0
        if samples.shape[0] == 0:
            nan = np.full(samples.shape[1:], np.nan)
            return nan, nan
        return np.quantile(samples, a, axis=0), np.quantile(samples, 1.0 - a, axis=0)

    def table(self) -> pd.DataFrame:
        """Shares of the best mix with bootstrap intervals, and the predicted loss: the same as :meth:`to_frame`."""
        return self.to_frame()

    def to_frame(self) -> pd.DataFrame:
        """Shares of the best mix with bootstrap intervals of each refit's argmin, and the predicted loss.

        Returns
        -------
        pandas.DataFrame
            Columns ``quantity, estimate, low, high, cap``: one row per domain (``share_<domain>``), then
            ``loss`` (predicted loss of the chosen mix across refits) and ``best_loss`` (each refit's minimum).
        """
        lo, hi = self._bounds(self.argmin_samples)
        l_lo, l_hi = self._bounds(self.loss_samples[:, None])
        b_lo, b_hi = self._bounds(self.best_loss_samples[:, None])
        rows = [
            {"quantity": f"share_{d}", "estimate": w, "low": a, "high": b, "cap": c}
            for d, w, a, b, c in zip(self.domains, self.weights, lo, hi, self.caps, strict=True)
        ]
        rows.append({"quantity": "loss", "estimate": self.predicted, "low": l_lo[0], "high": l_hi[0], "cap": np.nan})
        rows.append(
            {"quantity": "best_loss", "estimate": self.predicted, "low": b_lo[0], "high": b_hi[0], "cap": np.nan}
        )
        return pd.DataFrame(rows)

    def loss_interval(self) -> tuple[float, float]:
        """Bootstrap interval of the predicted loss of the chosen mixture."""
        lo, hi = self._bounds(self.loss_samples[:, None])
        return float(lo[0]), float(hi[0])

    def __repr__(self) -> str:
        lo, hi = self.loss_interval()
        mix = ", ".join(f"{d}={w:.3f}" for d, w in zip(self.domains, self.weights, strict=True))
        return f"<MixtureOptimum {clip(mix, 120)}; loss {self.predicted:.4g} [{lo:.4g}, {hi:.4g}] at {self.level:.0%}>"

    def to_dict(self) -> dict[str, Any]:
        """The best mixture, its predicted loss and interval, the caps, the flags and the table as records."""
        return jsonable(
            {
                "mixture": self.mixture,
                "predicted": self.predicted,
                "loss_interval": self.loss_interval(),
                "level": self.level,
                "caps": dict(zip(self.domains, self.caps, strict=True)),
                "at_cap": self.at_cap,
                "beyond_data": self.beyond_data,
                "nearest_run_distance": self.nearest_run_distance,
                "model": self.model,
                "n_bootstrap": len(self.loss_samples),
                "table": self.to_frame(),
            }
        )

    def summary(self) -> str:
        """The best mixture and its predicted loss, then how far it is from the data and any binding cap."""
        lo, hi = self.loss_interval()
        mix = ", ".join(f"{d} {w:.3f}" for d, w in sorted(self.mixture.items(), key=lambda kv: -kv[1]) if w >= 5e-4)
        lines = [
            f"best mixture: {mix}; predicted loss {self.predicted:.4g} ({self.level:.0%} [{lo:.4g}, {hi:.4g}])",
            f"distance to the nearest fitted run: {self.nearest_run_distance:.3g} (0: an observed mix, 1: disjoint)",
        ]
        if self.at_cap:
            lines.append(f"at its cap: {', '.join(self.at_cap)}")
        if self.beyond_data:
            lines.append(f"warning: more than any fitted run gave {', '.join(self.beyond_data)}: the fit extrapolates")
        return "\n".join(lines)


def optimize_mixture(
    fit: MixtureFit,
    caps: Mapping[str, float] | None = None,
    n_candidates: int = 20_000,
    seed: int = 0,
    n_bootstrap: int = 200,
    level: float = 0.9,
    steps: int = 200,
) -> MixtureOptimum:
    """Search the (capped) simplex for the mixture with the lowest predicted loss, with bootstrap intervals.

    Candidates are Dirichlet draws (sparse, flat, balanced and around the observed mixtures), the pure
    domains and the observed mixtures, projected onto ``{r >= 0, sum r = 1, r_j <= cap_j}``; the best few
    are refined by projected gradient descent. Every model here is convex in ``r``, so the refinement
    reaches the optimum. The bootstrap resamples whole runs, refits (warm-started) and re-optimizes, which
    gives the distribution of the predicted loss at the chosen mix and of the best mix itself.

    Parameters
    ----------
    fit : MixtureFit
    caps : mapping of domain -> max share, optional
        E.g. ``token_caps(unique_tokens, total_tokens)``; domains not named are uncapped.
    n_candidates : int
        Random starting mixtures.
    seed : int
        Seed of the candidates and of the bootstrap.
    n_bootstrap : int
        By-run bootstrap refits (0 for none; at least 10 otherwise).
    level : float
        Interval level.
    steps : int
        Projected-gradient iterations.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(3)
    >>> R = rng.dirichlet(np.ones(3), 40)
    >>> data = {"w_web": R[:, 0], "w_code": R[:, 1], "w_books": R[:, 2], "loss": 2.0 + np.exp(R @ [-1.0, 0.5, 0])}
    >>> best = optimize_mixture(fit_mixture(data), caps={"web": 0.6}, n_bootstrap=0)
    >>> {d: round(w, 3) for d, w in best.mixture.items()}
    {'web': 0.6, 'code': 0.0, 'books': 0.4}
    """
    check_level(level)
    if n_candidates < 1:
        raise FitError(f"n_candidates must be >= 1, got {n_candidates}")
    if n_bootstrap != 0 and n_bootstrap < 10:
        raise FitError(f"n_bootstrap must be 0 or at least 10, got {n_bootstrap}")
    cap = _cap_vector(caps, fit.domains)
    rng = np.random.default_rng(seed)
    M = len(fit.domains)
    cand = _candidates(M, cap, n_candidates, fit.proportions, rng)
    best, value = _search(fit.model, fit.params[None], fit.target_weights, cand, cap, steps, n_refine=16)
    weights, predicted = best[0], float(value[0])

    loss_s = best_s = np.empty(0)
    argmin_s = np.empty((0, M))
    if n_bootstrap:
        P, ok = fit._refit_params(_bootstrap_weights(fit.run, n_bootstrap, rng))
        P = P[ok]
        loss_s = _total(fit.model, P, weights[None], fit.target_weights)[:, 0]
        argmin_s, best_s = _search(fit.model, P, fit.target_weights, cand, cap, steps, n_refine=4)
    distance = 0.5 * float(np.min(np.abs(fit.proportions - weights).sum(axis=1)))
    return MixtureOptimum(
        domains=fit.domains,
        weights=weights,
        predicted=predicted,
        caps=cap,
        level=level,
        loss_samples=loss_s,
        best_loss_samples=best_s,
        argmin_samples=argmin_s,
        nearest_run_distance=distance,
        observed_max=fit.proportions.max(axis=0),
        model=fit.model,
    )


def _search(
    model: str, P: np.ndarray, v: np.ndarray, cand: np.ndarray, cap: np.ndarray, steps: int, n_refine: int
) -> tuple[np.ndarray, np.ndarray]:
    """Best mixture per parameter set: rank the candidates, refine the top ``n_refine``."""
    n_sets = P.shape[0]
    top = np.empty((n_sets, min(n_refine, len(cand)), cand.shape[1]))
    chunk = max(1, 2_000_000 // max(len(cand), 1))
    for s in range(0, n_sets, chunk):
        f = _total(model, P[s : s + chunk], cand, v)
        order = np.argsort(f, axis=1)[:, : top.shape[1]]
        top[s : s + chunk] = cand[order]
    R = _refine(model, P, v, top, cap, steps)
    # Bisection leaves ~1e-17 on domains that should be exactly 0; clear them, keeping sums and caps.
    R = np.where(R < 1e-12, 0.0, R)
    R = np.minimum(R / R.sum(axis=-1, keepdims=True), cap)
    f = _total(model, P, R, v)
    i = np.argmin(f, axis=1)
    return R[np.arange(n_sets), i], f[np.arange(n_sets), i]


def _bootstrap_weights(run: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Row weights (n, n_rows) of ``n`` by-run resamples (each run's multinomial count on its rows)."""
    _, groups = np.unique(run, return_inverse=True)
    n_groups = int(groups.max()) + 1
    if n_groups < 8:
        raise FitError(f"only {n_groups} runs to resample; a by-run bootstrap needs at least 8 (or n_bootstrap=0)")
    counts = rng.multinomial(n_groups, np.full(n_groups, 1.0 / n_groups), size=n)
    return counts[:, groups].astype(np.float64)
