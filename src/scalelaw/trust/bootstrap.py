"""Uncertainty: by-run and block bootstraps, profile-likelihood intervals and prediction intervals.

Checkpoints of one training run share its seed, data order and schedule, so their errors are
correlated; resampling rows would treat them as independent and give intervals that are too narrow.
The bootstrap here resamples whole runs. Every replicate is a row of one weight matrix (its run
counts), and all replicates are refitted together as one vectorized batch warm-started from the
point estimate.

Fits of loss curves along training (the LR-schedule laws) often have too few runs for that: the
Multi-Power curves have three schedules per model size. ``by="block"`` then resamples blocks of
consecutive checkpoints within each run (a moving-block bootstrap): the residuals of a curve are
autocorrelated along the steps (the law misfits whole stretches of a curve, and neighbouring
evaluations share data), so blocks keep that dependence inside each resampled piece where single
rows would not. Refits of the LR-schedule laws rebuild their schedule features from the fit's
schedules (:func:`scalelaw.fitting.refit.fit_inputs`).
"""

from __future__ import annotations

import functools
import itertools
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from scalelaw._progress import ProgressLike, reporting
from scalelaw._result import Result, jsonable
from scalelaw._validation import check_level, check_replicates
from scalelaw.errors import ConvergenceWarning, FitError
from scalelaw.fitting.engine import GroupWeights
from scalelaw.fitting.refit import (
    curve_ids,
    fit_problem,
    log_residuals,
    predict_sets,
    prediction_inputs,
    refit_weighted,
    with_schedule,
)
from scalelaw.fitting.result import FitResult
from scalelaw.fitting.uncertainty import SavedBootstrap
from scalelaw.laws.schedule_laws import schedule_law

#: Fewest runs a by-run bootstrap accepts: with fewer, most replicates repeat the same few runs and
#: percentile intervals are meaningless.
MIN_RUNS = 8
#: Replicates drawn when nobody says how many and the fit saved none.
DEFAULT_REPLICATES = 1000
#: What a method text adds for replicates saved with the fit (reused, not refitted).
SAVED_WORDS = ", saved with the fit"

#: Jackknife work (groups x rows) beyond which a bootstrap by run (row, group) stops leaving out one group at a
#: time: each jackknife refit then leaves out one of ``max(MAX_JACKKNIFE, JACKKNIFE_WORK // rows)`` seeded random
#: folds of groups (a grouped, delete-d jackknife, whose acceleration estimate has the same limit as
#: leave-one-out), so 2,000 runs of 500 checkpoints cost 100 refits, not 2,000. Smaller fits are unchanged.
JACKKNIFE_WORK = 50_000_000
MAX_JACKKNIFE = 100

#: Replicates x rows up to which the by-run weights are one matrix (32 MB); beyond, counts per run.
DENSE_WEIGHTS = 4_000_000

#: Default block length of ``by="block"``: this fraction of each run's rows.
BLOCK_FRACTION = 0.1

Derived = Callable[[Mapping[str, np.ndarray]], np.ndarray]


@dataclass(frozen=True, eq=False)
class Bootstrap(Result):
    """Bootstrap replicates of a fit.

    Attributes
    ----------
    result : FitResult
        The point estimate.
    samples : ndarray, shape (n_ok, n_params)
        Refitted parameters (natural units) of the replicates that converged to a finite objective.
    by : {"run", "row", "block"}
        What was resampled.
    n_requested, n_failed : int
        Replicates asked for, and those dropped because their refit had no finite objective.
    n_unconverged : int
        Kept replicates whose refit hit the iteration cap (still far better than their start); reported by
        :meth:`summary`, :meth:`to_dict` and a :class:`~scalelaw.ConvergenceWarning` from :func:`bootstrap`.
    seed : int
    blocks : mapping of str to int, optional
        ``by="block"``: block length (rows) used in each run.
    saved : bool
        These are the replicates saved with the fit (:meth:`FitResult.with_uncertainty`), reused without a refit.
    jackknife_weights : ndarray, shape (n_groups, n_rows), or callable returning it, optional
        Row weights of the leave-one-run-out (leave-one-block-out for ``by="block"``) refits behind
        :attr:`jackknife`, refitted on first use (a callable builds them then: saved replicates).
    max_iter : int
        Iteration cap of those refits.
    """

    result: FitResult
    samples: np.ndarray
    by: str
    n_requested: int
    n_failed: int
    n_unconverged: int
    seed: int
    blocks: Mapping[str, int] | None = None
    jackknife_weights: np.ndarray | GroupWeights | Callable[[], Any] | None = field(default=None, repr=False)
    max_iter: int = 1000
    #: Whether these are the replicates saved with the fit (``fit --bootstrap N --out``), reused without a refit.
    saved: bool = False

    @property
    def n(self) -> int:
        return int(self.samples.shape[0])

    @functools.cached_property
    def jackknife(self) -> np.ndarray:
        """Leave-one-run-out estimates, shape (n_groups, n_params), for BCa intervals only (leave-one-block-out
        for ``by="block"``; on long tables with many runs, leave-one-fold-out over random folds of runs, see
        :data:`JACKKNIFE_WORK`).

        Computed on first use (one refit per run, or per block), so percentile intervals never pay for
        them; refits without a finite objective are dropped.
        """
        if self.jackknife_weights is None:
            return np.empty((0, self.samples.shape[1]))
        weights = self.jackknife_weights
        if callable(weights):  # saved replicates: their weights are rebuilt from the seed only now, for BCa
            weights = weights()
        jack, ok, _ = refit_weighted(self.result, weights, self.max_iter)
        return jack[ok]

    @property
    def jackknife_computed(self) -> bool:
        """Whether :attr:`jackknife` has been refitted yet (only BCa intervals and explicit use need it)."""
        return "jackknife" in self.__dict__

    def values(self, of: Derived | str | None = None) -> np.ndarray:
        """Replicate values of a parameter name or of a derived quantity ``of(params) -> array``."""
        return _evaluate(self.result, self.samples, of)

    def interval(
        self,
        level: float = 0.9,
        method: Literal["percentile", "bca"] = "percentile",
        of: Derived | str | None = None,
    ) -> pd.DataFrame:
        """Two-sided intervals for every parameter, or for a derived quantity.

        Parameters
        ----------
        level : float
            Coverage, e.g. 0.9 for a 90% interval.
        method : {"percentile", "bca"}
            Percentile, or bias-corrected and accelerated (Efron 1987; acceleration from the
            leave-one-run-out jackknife).
        of : str or callable, optional
            A parameter name, or ``f(params) -> array`` where ``params`` maps names to arrays of
            replicate values, e.g. ``lambda p: p["beta"] / (p["alpha"] + p["beta"])``.

        Returns
        -------
        DataFrame
            Columns ``quantity, estimate, low, high, level, method``, indexed by the quantity's name.
        """
        check_level(level)
        if of is None:
            names = list(self.result.law.param_names)
            reps = self.samples
            point = np.array(self.result.values)[None, :]
            jack = self.jackknife if method == "bca" else None
        else:
            names = [of if isinstance(of, str) else getattr(of, "__name__", "derived")]
            reps = self.values(of).reshape(self.n, -1)
            point = _evaluate(self.result, np.array([self.result.values]), of).reshape(1, -1)
            jack = None
            if method == "bca":
                jack = _evaluate(self.result, self.jackknife, of).reshape(len(self.jackknife), -1)
            if reps.shape[1] > 1:
                names = [f"{names[0]}[{i}]" for i in range(reps.shape[1])]
        low, high = quantile_interval(reps, point[0], jack, level, method)
        return pd.DataFrame(
            {
                "quantity": names,
                "estimate": point[0],
                "low": low,
                "high": high,
                "level": level,
                "method": f"bootstrap-{method} (by {self.by}, n={self.n}{SAVED_WORDS if self.saved else ''})",
            },
            index=names,  # ci["low"] is a Series by quantity: ci.loc["alpha", "low"]
        )

    def to_frame(self) -> pd.DataFrame:
        """Percentile intervals (90%) of every parameter: :meth:`interval` with its defaults.

        Returns
        -------
        pandas.DataFrame
            Columns ``quantity, estimate, low, high, level, method``, one row per parameter; the replicates
            themselves are :attr:`samples` (or :meth:`values`).
        """
        return self.interval()

    def to_dict(self) -> dict[str, Any]:
        """What was resampled, the replicate counts and the 90% intervals (not the replicates themselves)."""
        return jsonable(
            {
                "law": self.result.law.name,
                "by": self.by,
                "n": self.n,
                "n_requested": self.n_requested,
                "n_failed": self.n_failed,
                "n_unconverged": self.n_unconverged,
                "seed": self.seed,
                "blocks": self.blocks,
                "saved": self.saved,
                "intervals": self.to_frame(),
            }
        )

    def summary(self) -> str:
        """The replicate counts, then one line per parameter with its 90% percentile interval."""
        head = f"bootstrap of the {self.result.law.name} fit by {self.by}: {self.n} of {self.n_requested} replicates"
        if self.n_failed or self.n_unconverged:
            head += f" ({self.n_failed} failed, {self.n_unconverged} hit the iteration cap)"
        if self.saved:
            head += ", saved with the fit (no refit)"
        rows = [
            f"{r.quantity} = {r.estimate:.6g}, 90% [{r.low:.6g}, {r.high:.6g}]" for r in self.to_frame().itertuples()
        ]
        return "\n".join([head, *rows])

    def predict(
        self,
        frame: pd.DataFrame | Mapping[str, Any] | None = None,
        /,
        level: float = 0.9,
        observation: bool = False,
        method: Literal["percentile", "bca"] = "percentile",
        schedule: Any = None,
        **inputs: Any,
    ) -> pd.DataFrame:
        """Prediction intervals at new inputs.

        With ``observation=False`` the interval is for the law's value (the mean curve); with
        ``observation=True`` it is for a new measurement, adding the data's noise around the law
        (resampled log residuals of the fit). LR-schedule laws read each row's ``run`` and ``step``;
        ``schedule`` gives the LRs of runs the fit's schedules lack (as for :meth:`FitResult.predict`).
        """
        check_level(level)
        X, columns = prediction_inputs(self.result, frame, inputs, schedule)
        preds = predict_sets(self.result, self.samples, X)  # (n_ok, n_rows)
        point = predict_sets(self.result, np.array([self.result.values]), X)[0]
        if observation:
            resid = log_residuals(self.result)
            rng = np.random.default_rng(self.seed + 1)
            noise = rng.choice(resid, size=preds.shape, replace=True)
            preds = preds * np.exp(noise)
            low, high = quantile_interval(preds, point, None, level, "percentile")
        else:
            jack = predict_sets(self.result, self.jackknife, X) if method == "bca" else None
            low, high = quantile_interval(preds, point, jack, level, method)
        out = pd.DataFrame(columns)
        out["value"] = point
        out["low"] = low
        out["high"] = high
        out["level"] = level
        saved = SAVED_WORDS if self.saved else ""
        out["method"] = f"bootstrap ({'observation' if observation else 'mean'}, by {self.by}, n={self.n}{saved})"
        return out


def bootstrap(
    result: FitResult,
    n: int | None = None,
    by: Literal["run", "row", "block"] | None = None,
    seed: int | None = None,
    max_iter: int = 1000,
    progress: ProgressLike = False,
    groups: np.ndarray | None = None,
    block: float | int | None = None,
    schedule: Any = None,
) -> Bootstrap:
    """Refit ``result``'s law on ``n`` resamples of its data, all at once.

    Parameters
    ----------
    result : FitResult
        A fit that carries its data (every fit from :func:`scalelaw.fit` does).
    n : int, optional
        Replicates; default: as many as the fit saved (:meth:`FitResult.with_uncertainty`), else 1000.
    by : {"run", "row", "block"}, optional
        Resample whole runs (honest when runs have several checkpoints), single rows, or blocks of
        consecutive rows within each run (for a few long curves, see :func:`block_weights`); default: what the
        saved replicates resampled when ``n`` is left out too, else ``"run"``.
    seed : int, optional
        Seed of the resampling; the same seed gives the same replicates bit for bit. Default: that of the saved
        replicates, else 0. When ``n``, ``by`` and ``seed`` are those of the saved replicates (as with all three
        left out), those are returned (``saved=True``) and nothing is refitted.
    progress : bool or callable
        True draws a progress bar (rich, on stderr; rendered in Jupyter too); a callable ``progress(done,
        total)`` is called as replicate batches finish; False (default) is silent.
    groups : array of labels, optional
        One label per row of the fit; rows with the same label are resampled together (e.g. all seeds
        of one configuration, see :meth:`scalelaw.trust.noise.SeedNoise.bootstrap`). ``by`` then only names
        what was resampled.
    block : float or int, optional
        ``by="block"``: block length, a fraction of each run's rows (float, default 0.1) or a number of
        rows (int).
    schedule : Schedules, table, path or array, optional
        LR-schedule laws: the schedules the fit used, for a fit loaded from JSON (which keeps none).

    Raises
    ------
    FitError
        Fewer than 8 runs (or rows, or blocks) to resample, or a fit without data.
    LawError
        An LR-schedule fit without its schedules in memory and no ``schedule``.

    Examples
    --------
    >>> import scalelaw, warnings
    >>> warnings.simplefilter("ignore")
    >>> fit = scalelaw.fit("chinchilla", "dataset:gadre2024_rpj")
    >>> boot = bootstrap(fit, n=200, seed=0)
    >>> ci = boot.interval(0.9, of=lambda p: p["beta"] / (p["alpha"] + p["beta"]))
    >>> bool(ci["low"].iloc[0] < ci["estimate"].iloc[0] < ci["high"].iloc[0])
    True
    """
    kept = _kept(result)
    # The saved replicates' resampling is inherited only with their count: an explicit n draws by run by default.
    by = by if by is not None else (kept.by if kept is not None and n is None else "run")  # type: ignore[assignment]
    n = n if n is not None else (kept.n_requested if kept is not None else DEFAULT_REPLICATES)
    seed = seed if seed is not None else (kept.seed if kept is not None else 0)
    if groups is None and by not in ("run", "row", "block"):
        raise FitError(f"by must be 'run', 'row' or 'block', not {by!r}")
    if block is not None and by != "block":
        raise FitError(f"block= sets the block length of by='block'; it means nothing for by={by!r}")
    check_replicates(n)
    result = with_schedule(result, schedule)
    reused = saved_replicates(result, n, by, seed) if groups is None and block is None and max_iter == 1000 else None
    if reused is not None:
        return reused
    problem = fit_problem(result)
    assert result.data is not None
    rng = np.random.default_rng(seed)
    lengths = None
    if groups is None and by == "block":
        weights, jack_weights, lengths = block_weights(result, n, rng, block)
    else:
        groups = _groups(result, by) if groups is None else _given_groups(result, groups)
        n_groups = int(groups.max()) + 1
        if n_groups < MIN_RUNS:
            what = {"run": "runs", "row": "rows"}.get(by, f"groups ({by})")
            block_hint = "use by='block' (blocks of consecutive steps within each run, for a few long curves), "
            raise FitError(
                f"only {n_groups} {what} to resample; a bootstrap by {by} needs at least {MIN_RUNS}. Add runs, "
                f"{block_hint if by == 'run' else ''}or use profile intervals (scalelaw.trust.profile), which "
                "do not resample"
            )
        counts = rng.multinomial(n_groups, np.full(n_groups, 1.0 / n_groups), size=n)  # (n, n_groups)
        # On long tables each replicate stays its run counts, mapped to rows block by block inside the engine:
        # a (replicates x rows) matrix is never built, so memory stays flat. Small ones take the matrix at once
        # (cheaper than indexing it again at every step).
        weights = GroupWeights(counts.astype(np.float64), groups)
        if n * groups.size <= DENSE_WEIGHTS:
            weights = weights.dense()
        jack_weights = GroupWeights(*_jackknife_groups(n_groups, groups, rng))  # for BCa (refitted lazily)
    with reporting(progress, f"bootstrap ({n} refits)") as tick:
        samples, ok, conv = refit_weighted(result, weights, max_iter, tick, problem=problem)
    n_unconverged = int(np.sum(ok & ~conv))
    if n_unconverged:
        warnings.warn(
            f"{n_unconverged} of {n} bootstrap replicates stopped at the iteration cap (max_iter={max_iter}) "
            "before converging; they are kept and counted in n_unconverged (summary(), to_dict()). Raise max_iter "
            "to refit them further",
            ConvergenceWarning,
            stacklevel=2,
        )
    return Bootstrap(
        result=result,
        samples=samples[ok],
        by=by,
        n_requested=n,
        n_failed=int(np.sum(~ok)),
        n_unconverged=n_unconverged,
        seed=seed,
        blocks=lengths,
        jackknife_weights=jack_weights,
        max_iter=max_iter,
    )


def _kept(result: FitResult) -> SavedBootstrap | None:
    """The bootstrap saved with ``result``, if any (and if it belongs to this fit)."""
    saved = result.saved_uncertainty()
    return saved.bootstrap if saved is not None else None


def saved_replicates(
    result: FitResult, n: int | None = None, by: str | None = None, seed: int | None = None
) -> Bootstrap | None:
    """The replicates saved with ``result`` (``scalelaw fit --bootstrap N --out``, :meth:`FitResult.with_uncertainty`)
    when they are those :func:`bootstrap` would draw: same ``n``, ``by`` and ``seed`` (None: any); else None.

    The jackknife behind BCa intervals is kept only when it was computed before saving; otherwise its weights are
    rebuilt from the saved seed and it is refitted on first use, as for fresh replicates.

    Raises
    ------
    DataError
        The fit's stored data no longer matches its data hash (as a refit would).
    """
    boot = _kept(result)
    if boot is None:
        return None
    asked = (n, by, seed)
    if any(a is not None and a != b for a, b in zip(asked, (boot.n_requested, boot.by, boot.seed), strict=True)):
        return None
    result.check_data_hash()
    has_jackknife = boot.jackknife.shape[0] > 0
    restored = Bootstrap(
        result=result,
        samples=boot.samples,
        by=boot.by,
        n_requested=boot.n_requested,
        n_failed=boot.n_failed,
        n_unconverged=boot.n_unconverged,
        seed=boot.seed,
        blocks=boot.blocks,
        jackknife_weights=None if has_jackknife else functools.partial(_replayed_jackknife, result, boot),
        saved=True,
    )
    if has_jackknife:
        restored.__dict__["jackknife"] = boot.jackknife  # saved with the replicates: fills the lazy cache
    return restored


def _replayed_jackknife(result: FitResult, boot: SavedBootstrap) -> Any:
    """The jackknife weights :func:`bootstrap` drew with the saved replicates, rebuilt from their seed (no refit)."""
    if boot.by == "block":
        assert boot.blocks is not None
        return _block_jackknife(result, dict(boot.blocks))
    groups = _groups(result, boot.by)
    n_groups = int(groups.max()) + 1
    rng = np.random.default_rng(boot.seed)
    rng.multinomial(n_groups, np.full(n_groups, 1.0 / n_groups), size=boot.n_requested)  # the replicates' draws
    return GroupWeights(*_jackknife_groups(n_groups, groups, rng))


def replicates_for(
    result: FitResult, n: int | None, seed: int = 0, default: int = DEFAULT_REPLICATES, progress: ProgressLike = False
) -> Bootstrap:
    """The by-run bootstrap behind a decision's intervals: with ``n=None``, the replicates saved with the fit when
    they resample runs (whatever their seed: ``seed`` draws only replicates not saved; a by-row save is not what a
    decision's by-run interval says it is), else ``default`` replicates drawn with ``seed``; with ``n``, those."""
    if n is None:
        kept = saved_replicates(result, by="run")
        if kept is not None:
            return kept
        n = default
    return bootstrap(result, n=n, by="run", seed=seed, progress=progress)


def default_by(result: FitResult) -> str:
    """What a bootstrap of ``result`` should resample when nobody says: ``"run"``, or ``"block"`` for an
    LR-schedule fit with fewer than :data:`MIN_RUNS` runs (a few long curves, where by-run refuses).

    Examples
    --------
    >>> import scalelaw
    >>> default_by(scalelaw.fit("power", {"flops": [1e18, 1e19, 1e20, 1e21], "loss": [3.0, 2.8, 2.7, 2.65]}))
    'run'
    """
    if schedule_law(result.law) is None or result.data is None or result.schedule is None:
        return "run"
    return "block" if np.unique(curve_ids(result)).size < MIN_RUNS else "run"


def block_weights(
    result: FitResult, n: int, rng: np.random.Generator, block: float | int | None = None
) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """Row weights of ``n`` moving-block resamples of each run, and of the leave-one-block-out jackknife.

    Residuals along one loss curve are autocorrelated: the law misfits whole stretches of it, and
    neighbouring evaluations share data and optimizer state. Resampling single rows treats them as
    independent and gives intervals that are too narrow; resampling whole runs needs many runs. A
    moving-block bootstrap keeps the dependence within blocks of ``b`` consecutive rows: each run of
    ``m`` rows (ordered by the law's inputs, the step first for the LR-schedule laws) is rebuilt from
    ``ceil(m / b)`` blocks with uniformly drawn starts, cut to ``m`` rows. Blocks wrap around the end of
    the run (the circular variant, Politis & Romano 1992) so that every row, the last steps included,
    has expected weight 1; plain moving blocks would under-weight both ends of a curve, and the end is
    what an extrapolation leans on. A row's weight is how often it was drawn.

    Parameters
    ----------
    result : FitResult
        A fit carrying its data.
    n : int
        Replicates.
    rng : numpy Generator
        Source of the block starts (same seed, same weights bit for bit).
    block : float or int, optional
        Block length: a fraction of each run's rows (float in (0, 1], default 0.1), or rows (int >= 1);
        at least 1 and at most the run's rows.

    Returns
    -------
    weights : ndarray, shape (n, n_rows)
    jackknife : ndarray, shape (n_blocks, n_rows)
        One row per non-overlapping block of every run, that block's rows set to 0.
    lengths : dict
        Block length used in each run.

    Raises
    ------
    FitError
        A bad block length, or fewer than 8 blocks in all (shorten the blocks).

    Examples
    --------
    >>> import numpy as np, scalelaw, warnings
    >>> warnings.simplefilter("ignore")
    >>> flops = np.logspace(18, 21, 20)  # one run's checkpoints
    >>> fit = scalelaw.fit("power", {"run": ["r"] * 20, "flops": flops, "loss": 2 + 9 * flops**-0.1})
    >>> w, jack, lengths = block_weights(fit, 3, np.random.default_rng(0), block=2)
    >>> w.shape, jack.shape, lengths, w.sum(axis=1).tolist()
    ((3, 20), (10, 20), {'r': 2}, [20.0, 20.0, 20.0])
    """
    assert result.data is not None
    size, is_rows = _block_size(block)
    n_rows = len(result.data)
    weights = np.zeros((n, n_rows))
    jack, lengths = [], {}
    for name, rows in _curves(result):
        m = rows.size
        b = min(max(int(size) if is_rows else round(size * m), 1), m)
        lengths[name] = b
        k = -(-m // b)
        starts = rng.integers(0, m, size=(n, k, 1))
        pos = ((starts + np.arange(b)) % m).reshape(n, k * b)[:, :m]  # circular blocks, cut to m rows
        counts = np.bincount((pos + m * np.arange(n)[:, None]).ravel(), minlength=n * m).reshape(n, m)
        weights[:, rows] = counts
    jack = _block_jackknife(result, lengths)
    if len(jack) < MIN_RUNS:
        raise FitError(
            f"only {len(jack)} blocks to resample ({', '.join(f'{r}: length {b}' for r, b in lengths.items())}); "
            f"a block bootstrap needs at least {MIN_RUNS}: pass a shorter block= or add runs"
        )
    return weights, jack, lengths


def _block_jackknife(result: FitResult, lengths: Mapping[str, int]) -> np.ndarray:
    """Row weights of the leave-one-block-out jackknife: one row per non-overlapping block of every run."""
    assert result.data is not None
    n_rows = len(result.data)
    jack = []
    for name, rows in _curves(result):
        b = lengths[name]
        for j in range(-(-rows.size // b)):
            out = np.ones(n_rows)
            out[rows[j * b : (j + 1) * b]] = 0.0
            jack.append(out)
    return np.array(jack).reshape(len(jack), n_rows)


def _block_size(block: float | int | None) -> tuple[float, bool]:
    """The block length as a number and whether it counts rows (int) rather than a fraction of each run."""
    value = BLOCK_FRACTION if block is None else block
    is_rows = isinstance(value, (int, np.integer))
    valid = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if not valid or (is_rows and value < 1) or (not is_rows and not 0 < value <= 1):
        raise FitError(
            f"block must be a fraction of each run's rows in (0, 1] (e.g. 0.1) or a whole number of rows >= 1, "
            f"got {block!r}"
        )
    return float(value), is_rows


def _curves(result: FitResult) -> list[tuple[str, np.ndarray]]:
    """Each run's name and row indices, ordered along the run by the law's inputs (first input first)."""
    assert result.data is not None
    run = curve_ids(result)
    keys = [result.data.columns[name] for name in reversed(result.law.inputs)]
    order = np.lexsort((*keys, run))  # np.lexsort sorts by its last key first: run, then the first input
    ordered = run[order]
    bounds = np.r_[np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]]), order.size]
    return [(str(ordered[a]), order[a:b]) for a, b in itertools.pairwise(bounds)]


def _jackknife_groups(n_groups: int, groups: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Jackknife weights as counts per group and the group of each row: leave one group out, or on long tables
    with many groups, leave out one of a few seeded random folds of groups (see :data:`JACKKNIFE_WORK`)."""
    folds = max(MAX_JACKKNIFE, JACKKNIFE_WORK // max(1, groups.size))
    if n_groups * groups.size <= JACKKNIFE_WORK or n_groups <= folds:
        return 1.0 - np.eye(n_groups), groups
    fold = rng.permutation(n_groups) % folds  # the fold of every group, sizes differing by at most one
    return 1.0 - np.eye(folds), fold[groups]


def _groups(result: FitResult, by: str) -> np.ndarray:
    assert result.data is not None
    if by == "row":
        return np.arange(len(result.data))
    _, inverse = np.unique(curve_ids(result), return_inverse=True)
    return inverse


def _given_groups(result: FitResult, groups: np.ndarray) -> np.ndarray:
    assert result.data is not None
    labels = np.asarray(groups)
    if labels.shape != (len(result.data),):
        raise FitError(f"groups must give one label per row of the fit ({len(result.data)}), got shape {labels.shape}")
    _, inverse = np.unique(labels.astype(str), return_inverse=True)
    return inverse


def quantile_interval(
    reps: np.ndarray, point: np.ndarray, jack: np.ndarray | None, level: float, method: str
) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided interval of replicates ``reps`` (n_reps, k) at ``level``: ``"percentile"``, or ``"bca"`` from
    the ``point`` estimate and the jackknife estimates ``jack`` (Efron 1987)."""
    alpha = (1.0 - level) / 2.0
    if method == "percentile":
        return np.quantile(reps, alpha, axis=0), np.quantile(reps, 1.0 - alpha, axis=0)
    if method != "bca":
        raise FitError(f"unknown interval method {method!r}; use 'percentile' or 'bca'")
    if jack is None or len(jack) < 3:
        raise FitError("BCa intervals need the jackknife refits; use method='percentile'")
    from scipy.special import ndtr, ndtri  # the normal CDF and its inverse; scipy.stats would cost ~1 s to import

    n = reps.shape[0]
    frac = (np.sum(reps < point, axis=0) + 0.5 * np.sum(reps == point, axis=0)) / n
    z0 = ndtri(np.clip(frac, 1.0 / (n + 1), n / (n + 1)))
    d = jack.mean(axis=0) - jack
    denom = 6.0 * np.sum(d**2, axis=0) ** 1.5
    accel = np.divide(np.sum(d**3, axis=0), denom, out=np.zeros_like(denom), where=denom > 0)
    z_lo, z_hi = ndtri(alpha), ndtri(1.0 - alpha)
    a_lo = ndtr(z0 + (z0 + z_lo) / (1 - accel * (z0 + z_lo)))
    a_hi = ndtr(z0 + (z0 + z_hi) / (1 - accel * (z0 + z_hi)))
    low = np.array([np.quantile(reps[:, j], a_lo[j]) for j in range(reps.shape[1])])
    high = np.array([np.quantile(reps[:, j], a_hi[j]) for j in range(reps.shape[1])])
    return low, high


def unbounded_percentiles(reps: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Central ``level`` percentiles of ``reps`` (n_reps, ...) along the replicates, where ``+inf`` stands for a
    replicate that never reaches its target (unbounded samples or compute): it counts, so an end whose
    interpolation meets it is ``+inf`` (numpy's linear interpolation gives NaN between two infinities)."""
    alpha = (1.0 - level) / 2.0
    with np.errstate(invalid="ignore"):
        low, high = np.quantile(reps, alpha, axis=0), np.quantile(reps, 1.0 - alpha, axis=0)
    unbounded = np.isposinf(reps).any(axis=0)
    return np.where(np.isnan(low) & unbounded, np.inf, low), np.where(np.isnan(high) & unbounded, np.inf, high)


def _evaluate(result: FitResult, theta: np.ndarray, of: Derived | str | None) -> np.ndarray:
    if of is None:
        return theta
    names = result.law.param_names
    if isinstance(of, str):
        return theta[:, names.index(result.law.parameter(of).name)]
    params = {name: theta[:, k] for k, name in enumerate(names)}
    return np.asarray(of(params), dtype=np.float64)


def curve_band(
    boot: Bootstrap, curves: pd.DataFrame, schedule: Any = None, level: float = 0.9, observation: bool = False
) -> pd.DataFrame:
    """Predicted loss curves with ``low, high, method`` columns from a bootstrap of the LR-schedule fit.

    Parameters
    ----------
    boot : Bootstrap
        Replicates of the fit that predicted ``curves``, with the schedules of its runs
        (:func:`scalelaw.fitting.refit.with_schedule` for a fit loaded from JSON).
    curves : DataFrame
        :func:`scalelaw.data.schedules.predict_curves`'s table: ``run, step, loss`` (and ``params``).
    schedule : Schedules, table, path or array, optional
        LRs of the predicted runs, when the fit's own schedules lack them.
    level, observation
        As for :meth:`Bootstrap.predict`.

    Returns
    -------
    DataFrame
        ``curves`` with ``low``, ``high`` and ``method``; steps where the law is undefined (no LR area yet, a NaN
        loss) keep NaN bounds.
    """
    table = curves.assign(low=np.nan, high=np.nan, method="")
    defined = np.isfinite(table["loss"].to_numpy())
    if defined.any():
        rows = table.loc[defined].drop(columns=["loss", "low", "high", "method"])
        got = boot.predict(rows, level=level, observation=observation, schedule=schedule)
        table.loc[defined, "low"] = got["low"].to_numpy()
        table.loc[defined, "high"] = got["high"].to_numpy()
        table["method"] = str(got["method"].iloc[0])
    return table


# ---------------------------------------------------------------------------------------------- profile


def __getattr__(name: str) -> Any:
    """``Profile``, ``profile`` and ``profile_curves`` live in :mod:`scalelaw.trust.profile` (which imports this
    module's helpers); they are re-exported here on first use."""
    if name in ("Profile", "profile", "profile_curves"):
        import importlib

        return getattr(importlib.import_module("scalelaw.trust.profile"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
