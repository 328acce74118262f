"""Which runs to add next: the design that most shrinks the interval of the decision.

Small runs cost money; the question is which ones make the forecast for the big run trustworthy.
Around a parameter set the law is nearly linear, so adding a run with Jacobian row ``j`` (of log loss)
adds ``j j^T / sigma^2`` to the information matrix, and the variance of the target quantity ``g``
(say log N_opt at 1e24 FLOPs) is ``grad_g^T I^-1 grad_g``. A single linearization at the current fit
trusts a fit that the new runs are meant to correct, so the criterion is averaged over bootstrap
replicates of the current fit (a pseudo-Bayesian c-optimal design): the mean over replicates of
``log var(g)``. Runs are added greedily by criterion gained per FLOP, then an exchange pass swaps runs
for better (often larger) ones while the budget allows, so the budget is spent where it helps.
Widths are rescaled by how the by-run bootstrap width of the current fit compares with its linearized
width (never below the linearized width), so "before" matches the honest interval. The noise of the
linearization is the fit's own estimator scale (:func:`scalelaw.trust.misfit.noise_variance`), not its MAD.
Where a backtest shows the law missing its own large runs, a misfit term (:mod:`scalelaw.trust.misfit`) makes
runs near a ``predict`` target worth more than their parameter information alone.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from scalelaw._progress import ProgressLike
from scalelaw._result import Result, jsonable
from scalelaw._validation import check_level
from scalelaw.decisions.plan import optimum
from scalelaw.errors import DataError, FitError, LawError
from scalelaw.fitting.diagnostics import information, row_jacobians
from scalelaw.fitting.result import FitResult
from scalelaw.laws.law import Law
from scalelaw.trust.bootstrap import replicates_for
from scalelaw.trust.extrapolation import unlearned
from scalelaw.trust.extrapolation_error import ExtrapolationError, axis_values
from scalelaw.trust.misfit import Misfit, estimate_misfit, grid_centers, noise_variance
from scalelaw.trust.total import check_kind

TargetFn = Callable[[Law, np.ndarray], np.ndarray]

#: Default tokens-per-parameter ratios of the candidate grid (2 to 1024, a factor of 2 apart).
RATIOS = tuple(2.0**i for i in range(1, 11))
#: By-run replicates :func:`suggest` draws for a fit that saved none.
SUGGEST_REPLICATES = 200
#: What needs the law's N and D inputs here (named in the error when the law has none).
_PURPOSE = "suggesting runs"


@dataclass(frozen=True)
class Target:
    """The quantity a decision rests on: ``plan:flops=1e24`` (log N_opt at that budget) or
    ``predict:params=7e10,tokens=1.4e12`` (log of the law's prediction there).

    Examples
    --------
    >>> Target.parse("plan:flops=1e24").values
    {'flops': 1e+24}
    """

    kind: str
    values: dict[str, float]
    text: str

    @classmethod
    def parse(cls, text: str) -> Target:
        if ":" not in text:
            raise DataError(
                f"cannot read target {text!r}: write 'plan:flops=1e24' or 'predict:params=7e10,tokens=1.4e12'"
            )
        kind, rest = (s.strip() for s in text.split(":", 1))
        if kind not in ("plan", "predict"):
            raise DataError(f"target kind must be 'plan' or 'predict', not {kind!r}")
        values: dict[str, float] = {}
        for part in rest.split(","):
            if not part.strip():
                continue
            if "=" not in part:
                raise DataError(f"cannot read {part!r} in target {text!r}; write name=value")
            key, value = (s.strip() for s in part.split("=", 1))
            try:
                values[key] = float(value)
            except ValueError:
                raise DataError(f"target value {value!r} for {key!r} is not a number") from None
        if kind == "plan" and set(values) != {"flops"}:
            raise DataError("a plan target takes exactly one budget: 'plan:flops=1e24'")
        if not values or not all(v > 0 and math.isfinite(v) for v in values.values()):
            raise DataError(f"target {text!r} needs positive, finite values")
        return cls(kind, values, text)

    def function(self, fixed: Mapping[str, float] | None = None) -> TargetFn:
        """``g(law, theta) -> (n_sets,)`` on the log scale.

        ``fixed`` holds inputs beyond N and D (e.g. ``{"unique_tokens": 2.5e10}``: the unique tokens
        available, so a run sees ``min(U, D)`` of them), used where the target does not give them.
        """
        fixed = dict(fixed or {})
        if self.kind == "plan":
            flops = self.values["flops"]
            return lambda law, theta: np.log(optimum(law, theta, flops, fixed=fixed or None)["params"])
        point = self.point(fixed)
        return lambda law, theta: np.log(law.predict(theta, **point)[:, 0])

    def point(self, fixed: Mapping[str, float] | None = None) -> dict[str, float]:
        """The inputs of a ``predict`` target, completed by ``fixed`` (unique tokens: ``min(U, tokens)``)."""
        point = dict(self.values)
        for name, value in (fixed or {}).items():
            if name not in point:
                tokens = point.get("tokens")
                point[name] = min(value, tokens) if name == "unique_tokens" and tokens is not None else value
        return point

    @property
    def label(self) -> str:
        if self.kind == "plan":
            return f"compute-optimal N at {self.values['flops']:.3g} FLOPs"
        return "prediction at " + ", ".join(f"{k}={v:.3g}" for k, v in self.values.items())


@dataclass(frozen=True)
class Suggestion(Result):
    """Runs to add, with their cost, and the target's interval before and after.

    ``kind`` is the interval the widths are of: ``"total"`` (parameters, the law's error at the target's
    distance beyond the data, the choice of law) or ``"parameter"``; ``decades_before`` and ``decades_after``
    are that distance now and once the runs are in (NaN for a parameter interval).
    """

    runs: pd.DataFrame  # inputs, flops, reason, relative_width_after (cumulative)
    target: Target
    level: float
    estimate: float  # target quantity (natural units: N_opt or predicted loss)
    width_before: float  # relative width of the interval (high/low - 1), calibrated
    width_after: float
    calibration: float  # bootstrap width / linearized width of the current fit (>= 1)
    budget: float
    spent: float
    notes: tuple[str, ...] = field(default=())
    kind: str = "parameter"
    decades_before: float = math.nan
    decades_after: float = math.nan

    def to_frame(self) -> pd.DataFrame:
        """A copy of :attr:`runs`.

        Returns
        -------
        pandas.DataFrame
            One row per proposed run, in the order chosen: its inputs, ``flops``, ``reason`` and
            ``relative_width_after`` (the target's relative interval width once it and the runs above are in).
        """
        return self.runs.copy()

    def summary(self) -> str:
        """The runs proposed, their cost and how much they narrow the target's interval; then the notes."""
        head = (
            f"{len(self.runs)} run(s) for {self.spent:.3g} of {self.budget:.3g} FLOPs narrow the {self.level:.0%} "
            f"{self.kind} interval of the {self.target.label} ({self.estimate:.4g}) from {self.width_before:.1%} to "
            f"{self.width_after:.1%} relative width"
        )
        return "\n".join([head, *(f"note: {note}" for note in self.notes)])

    def to_dict(self) -> dict:
        """The target, the widths before and after, the cost and the runs as records."""
        out = {
            "target": self.target.text,
            "quantity": self.target.label,
            "level": self.level,
            "interval_kind": self.kind,
            "estimate": self.estimate,
            "relative_width_before": self.width_before,
            "relative_width_after": self.width_after,
            "narrower_by": 1.0 - self.width_after / self.width_before if self.width_before > 0 else 0.0,
            "calibration": self.calibration,
            "decades_beyond_data": {"before": self.decades_before, "after": self.decades_after},
            "budget": self.budget,
            "spent": self.spent,
            "runs": self.runs.to_dict(orient="records"),
            "notes": list(self.notes),
        }
        return jsonable(out)


# ----------------------------------------------------------------------------------------- linear algebra


def _target_gradients(law: Law, zs: np.ndarray, g: TargetFn, step: float = 1e-5) -> np.ndarray:
    """Central differences of ``g`` in optimizer space for every set, in one batch: (n_sets, n_params)."""
    S, P = zs.shape
    h = step * np.maximum(1.0, np.abs(zs))  # (S, P)
    sets = np.repeat(zs[:, None, :], 2 * P, axis=1)  # (S, 2P, P)
    idx = np.arange(P)
    sets[:, idx, idx] += h
    sets[:, P + idx, idx] -= h
    with np.errstate(all="ignore"):
        values = g(law, law.from_internal(sets.reshape(S * 2 * P, P))).reshape(S, 2 * P)
    return (values[:, :P] - values[:, P:]) / (2 * h)


def _var_if_added(cov: np.ndarray, grad: np.ndarray, cand: np.ndarray, s2: float) -> np.ndarray:
    """Variance of the target after adding each candidate alone (Sherman-Morrison): (n_sets, n_cand)."""
    Cj = np.einsum("spq,snq->snp", cov, cand)
    num = np.einsum("snp,sp->sn", Cj, grad) ** 2
    den = s2 + np.einsum("snp,snp->sn", Cj, cand)
    var = np.einsum("sp,spq,sq->s", grad, cov, grad)[:, None]
    return np.maximum(var - num / den, 1e-300)


def _update(cov: np.ndarray, j: np.ndarray, s2: float, sign: float = 1.0) -> np.ndarray:
    """Add (sign=+1) or remove (sign=-1) one run with rows ``j`` (n_sets, P) from every covariance."""
    c = np.einsum("spq,sq->sp", cov, j)
    den = s2 + sign * np.einsum("sp,sp->s", c, j)
    return cov - sign * np.einsum("sp,sq->spq", c, c) / den[:, None, None]


def _target_var(cov: np.ndarray, grad: np.ndarray) -> np.ndarray:
    return np.maximum(np.einsum("sp,spq,sq->s", grad, cov, grad), 1e-300)


# ----------------------------------------------------------------------------------------- candidates


def candidate_grid(
    result: FitResult,
    sizes: Sequence[float] | None = None,
    ratios: Sequence[float] = RATIOS,
    max_flops_per_run: float | None = None,
    k: float = 6.0,
    budget: float | None = None,
    per_decade: int = 4,
) -> pd.DataFrame:
    """Candidate runs: model sizes x (tokens-per-parameter ratios and IsoFLOP lines), cost ``k N D``.

    Default sizes run from the smallest existing run to the largest model that one run can still afford
    at the smallest ratio (``sqrt(cap / (k * min ratio))``, ``cap`` = the smaller of ``budget`` and
    ``max_flops_per_run``), ``per_decade`` per decade. Besides the ratios, every size is offered on the
    IsoFLOP lines ``cap, cap/sqrt(10), cap/10, ...`` (3 decades), so a design can sample the valley of
    the loss at the largest affordable compute.

    Examples
    --------
    >>> import scalelaw, numpy as np
    >>> N = np.repeat([1e7, 3e7, 1e8], 3); D = N * np.tile([10, 20, 40], 3)
    >>> law = scalelaw.get_law("chinchilla")
    >>> y = law.predict({"E": 1.8, "A": 480, "B": 2000, "alpha": 0.35, "beta": 0.37}, params=N, tokens=D)
    >>> fit = scalelaw.fit(law, {"params": N, "tokens": D, "loss": y})
    >>> grid = candidate_grid(fit, budget=1e20)
    >>> bool(grid["flops"].max() <= 1e20), bool(grid["params"].max() > 1e9)
    (True, True)
    """
    if result.data is None:
        raise FitError("this fit carries no data; suggestions need it")
    n_name, d_name = result.law.inputs_for("N", "D", purpose=_PURPOSE)
    seen_n = result.data.columns[n_name]
    seen_c = k * seen_n * result.data.columns[d_name]
    caps = [c for c in (budget, max_flops_per_run) if c is not None]
    cap = min(caps) if caps else float(seen_c.max()) * 100
    ratios = np.asarray(ratios, dtype=float)
    if sizes is None:
        top = max(math.sqrt(cap / (k * ratios.min())), float(seen_n.max()))
        low = float(seen_n.min())
        n_sizes = max(2, round(per_decade * math.log10(top / low)) + 1)
        sizes = np.geomspace(low, top, n_sizes)
    sizes = np.asarray(sizes, dtype=float)
    if sizes.size == 0 or not np.all(np.isfinite(sizes) & (sizes > 0)):
        raise DataError("sizes must be positive, finite numbers of parameters")
    N, R = np.meshgrid(sizes, ratios)
    tokens = [(N * R).ravel()]
    levels = cap * 10.0 ** (-0.5 * np.arange(7))
    Ni, Ci = np.meshgrid(sizes, levels)
    iso_d = (Ci / (k * Ni)).ravel()
    iso_r = iso_d / Ni.ravel()
    keep = (iso_r >= ratios.min() / 2) & (iso_r <= ratios.max() * 2)  # IsoFLOP points at sane ratios only
    table = pd.DataFrame(
        {
            n_name: np.concatenate([N.ravel(), Ni.ravel()[keep]]),
            d_name: np.concatenate([*tokens, iso_d[keep]]),
        }
    )
    table["flops"] = k * table[n_name] * table[d_name]
    table = table[table["flops"] <= cap * (1 + 1e-9)]
    if table.empty:
        raise DataError("no candidate run fits within the budget and --max-flops-per-run; allow larger runs")
    # A point within ~5% (0.02 decades) of an earlier one in both N and D is the same run: keep the first
    # (ratio points come before IsoFLOP points).
    logs = np.log10(table[[n_name, d_name]].to_numpy())
    near = np.max(np.abs(logs[:, None, :] - logs[None, :, :]), axis=2) < 0.02
    keep = ~np.any(np.tril(near, k=-1), axis=1)
    return table[keep].reset_index(drop=True)


def _read_candidates(
    law: Law, candidates: pd.DataFrame | Mapping[str, Any], k: float, max_flops_per_run: float | None
) -> pd.DataFrame:
    """Check a user's candidate runs: the law's N and D columns (others optional), cost from ``flops`` or k N D."""
    table = pd.DataFrame(candidates).copy()
    n_name, d_name = law.inputs_for("N", "D", purpose=_PURPOSE)
    missing = [c for c in (n_name, d_name) if c not in table]
    if missing:
        raise DataError(
            f"candidate runs need column(s) {', '.join(missing)} (one row per run you could train); "
            f"got {', '.join(map(str, table.columns)) or 'none'}"
        )
    if table.empty:
        raise DataError("the candidate table has no rows")
    if "flops" not in table:
        table["flops"] = k * table[n_name].astype(float) * table[d_name].astype(float)
    numeric = [c for c in (*law.inputs, "flops") if c in table]
    for col in numeric:
        values = pd.to_numeric(table[col], errors="coerce").to_numpy(dtype=float)
        bad = np.flatnonzero(~(np.isfinite(values) & (values > 0)))
        if bad.size:
            rows = table.index[bad[:10]].tolist()
            raise DataError(f"candidate column {col!r} must be positive and finite; bad rows: {rows}")
        table[col] = values
    if max_flops_per_run is not None:
        table = table[table["flops"] <= max_flops_per_run]
        if table.empty:
            raise DataError("no candidate run fits within --max-flops-per-run")
    return table.reset_index(drop=True)


def _fill_inputs(law: Law, table: pd.DataFrame, fixed: Mapping[str, float]) -> dict[str, np.ndarray]:
    """Every input of the law for the candidates: columns first, then ``fixed`` (unique tokens: min(U, D))."""
    _, d_name = law.inputs_for("N", "D", purpose=_PURPOSE)
    cols: dict[str, np.ndarray] = {}
    for name in law.inputs:
        if name in table:
            cols[name] = table[name].to_numpy(dtype=float)
        elif name in fixed:
            value = float(fixed[name])
            D = table[d_name].to_numpy(dtype=float)
            cols[name] = np.minimum(value, D) if name == "unique_tokens" else np.full(len(table), value)
        else:
            raise DataError(
                f"law {law.name!r} needs input {name!r} for candidate runs: add a column {name!r} to the "
                f"candidates, or give it (e.g. unique_tokens=2.5e10 for a fixed pool of unique tokens)"
            )
    return cols


def _default_fixed(result: FitResult, target: Target, given: Mapping[str, float] | None) -> tuple[dict, list[str]]:
    """Inputs beyond N and D: given ones, else the target's, else the largest value in the data."""
    law = result.law
    extra = [n for n in law.inputs if n not in law.inputs_for("N", "D", purpose=_PURPOSE)]
    fixed = dict(given or {})
    notes = []
    for name in extra:
        if name in fixed:
            continue
        if name in target.values:
            fixed[name] = float(target.values[name])
        elif result.data is not None and name in result.data.columns:
            fixed[name] = float(np.max(result.data.columns[name]))
            notes.append(f"{name} of new runs fixed at the largest in the data ({fixed[name]:.3g}); set it to change")
    return fixed, notes


# ----------------------------------------------------------------------------------------- suggest


def suggest(
    result: FitResult,
    target: str | Target,
    budget: float,
    sizes: Sequence[float] | None = None,
    max_flops_per_run: float | None = None,
    level: float = 0.9,
    n_boot: int | None = None,
    seed: int = 0,
    k: float = 6.0,
    max_runs: int = 30,
    candidates: pd.DataFrame | Mapping[str, Any] | None = None,
    unique_tokens: float | None = None,
    fixed: Mapping[str, float] | None = None,
    n_prior: int = 32,
    exchange: bool = True,
    misfit: float | Misfit | str | None = "auto",
    kind: str = "total",
    progress: ProgressLike = False,
) -> Suggestion:
    """Propose runs within ``budget`` FLOPs that most narrow the interval of ``target``.

    The criterion is the mean, over the current fit and up to ``n_prior`` of its by-run bootstrap
    replicates, of the linearized log variance of the target. Runs are added greedily by criterion
    gained per FLOP (a run cheaper than ``budget / max_runs`` is charged that much when ranking: runs
    have overheads and seed noise, and the decision needs range, not count), then exchanged one at a
    time for the candidate that lowers the criterion most within the remaining budget, so money left
    by the greedy pass buys larger runs. Each candidate is used at most once.

    Parameters
    ----------
    result : FitResult
        Current fit of a law of parameters and tokens (its data are the existing runs).
    target : str or Target
        ``"plan:flops=1e24"`` or ``"predict:params=7e10,tokens=1.4e12"``.
    budget : float
        Total FLOPs (or the unit of the candidates' ``flops`` column) available for new runs.
    sizes : sequence of float, optional
        Model sizes allowed on the default grid (see :func:`candidate_grid`).
    max_flops_per_run : float, optional
        Cap on one run's cost.
    max_runs : int
        At most this many runs are proposed; ``budget / max_runs`` is also the smallest cost a run is
        charged when ranking. In the design benchmark (benchmarks/README.md), 20-30 runs gave intervals
        up to 20 points narrower than 10 at equal compute; raise it when candidates are cheap.
    candidates : DataFrame or mapping, optional
        The runs you could train instead of the grid: the law's N and D columns, optionally its other
        inputs (``unique_tokens``), a ``flops`` column with each run's cost (default ``k N D``), and any
        labels (e.g. ``run``), which are carried to the answer.
    unique_tokens : float, optional
        For data-constrained laws: the unique tokens available to new runs (each sees ``min(U, D)``).
    fixed : mapping, optional
        Other inputs beyond N and D held fixed for new runs and for plan targets.
    n_boot, seed : int
        By-run bootstrap behind the calibration and the prior sets: ``n_boot=None`` (default) reuses the
        replicates saved with the fit (``scalelaw fit --bootstrap N --out``; a note says so), else draws 200
        with ``seed``; 0 for none.
    n_prior : int
        Bootstrap replicates the criterion is averaged over (0: linearize at the fit only).
    exchange : bool
        Improve the greedy design by single-run exchanges.
    misfit : "auto", float, Misfit or None
        Model discrepancy (see :mod:`scalelaw.trust.misfit`): the law's own error beyond the data, a smooth
        function of log N and log D that runs near a ``predict`` target inform and that confounds the
        parameters. ``"auto"`` measures its size by a backtest of the current fit (0 when the held-out
        large runs are predicted as well as noise allows); a number is its sd in log loss; ``None`` or
        0 trusts the law. It changes which runs are chosen, not the reported widths, which are those of
        the law's interval.
    kind : {"total", "parameter"}
        The interval the widths are of (:meth:`scalelaw.FitResult.predict_interval`). ``"parameter"``: the
        linearized width of the target, rescaled to the by-run bootstrap. ``"total"`` (for a ``predict``
        target): that half-width on the log scale combined in quadrature with the law's own error at the
        target's distance beyond the data (:meth:`scalelaw.FitResult.extrapolation_error`) and, for a fit of
        ``law="auto"``, the law-choice spread at the target. The distance is measured from the data's edge
        along compute, and the edge moves with the runs: after a run larger than every run so far, the
        target lies fewer decades beyond the data, so its law-error half-width shrinks too, a benefit the
        parameter width alone misses. The error model is the current fit's, learned once; the runs are
        still chosen by the parameter (and misfit) criterion. A ``plan`` target, whose error beyond the
        data is not learned (the model is of the loss, not of the compute-optimal size), and a law of LR
        schedules get the parameter interval, and the notes say so.
    progress : bool or callable
        True draws a progress bar of the ``n_boot`` bootstrap refits, the slow part (see
        :func:`scalelaw.trust.bootstrap.bootstrap`); a callable ``progress(done, total)`` is called instead.

    Returns
    -------
    Suggestion
        Its ``kind`` is the interval the widths are of.

    Examples
    --------
    >>> import scalelaw, numpy as np
    >>> rng = np.random.default_rng(0)
    >>> N = np.repeat([1e7, 2e7, 5e7, 1e8], 4); D = N * np.tile([10, 20, 40, 80], 4)
    >>> law = scalelaw.get_law("chinchilla")
    >>> truth = {"E": 1.8, "A": 480, "B": 2000, "alpha": 0.35, "beta": 0.37}
    >>> y = law.predict(truth, params=N, tokens=D) * np.exp(rng.normal(0, 0.005, N.size))
    >>> fit = scalelaw.fit(law, {"run": range(16), "params": N, "tokens": D, "loss": y})
    >>> s = suggest(fit, "plan:flops=1e24", budget=1e20, n_boot=50, n_prior=16)
    >>> bool(s.spent <= 1e20 and s.width_after < s.width_before)
    True
    """
    target = target if isinstance(target, Target) else Target.parse(target)
    if not (budget > 0 and math.isfinite(budget)):
        raise DataError(f"budget must be a positive number of FLOPs, got {budget}")
    if max_runs < 1:
        raise DataError("max_runs must be at least 1")
    check_level(level)
    check_kind(kind)
    law = result.law
    if result.data is None:
        raise FitError("this fit carries no data; suggestions need the existing runs")
    fixed_in = dict(fixed or {})
    if unique_tokens is not None:
        fixed_in["unique_tokens"] = float(unique_tokens)
    fixed_all, notes = _default_fixed(result, target, fixed_in)
    g = target.function(fixed_all)
    if candidates is None:
        table = candidate_grid(result, sizes, max_flops_per_run=max_flops_per_run, k=k, budget=budget)
    else:
        table = _read_candidates(law, candidates, k, max_flops_per_run)
    cand_cols = _fill_inputs(law, table, fixed_all)
    table = table.assign(**{n: v for n, v in cand_cols.items() if n not in table})  # shown with each run
    data_cols = {n: result.data.columns[n] for n in law.inputs}

    # Parameter sets the criterion is averaged over: the fit first, then bootstrap replicates.
    theta = np.array(result.values, dtype=float)
    z_level = float(stats.norm.ppf(0.5 + level / 2))
    boot = _bootstrap(result, n_boot, seed, progress)
    sets = _prior_sets(law, theta, boot, n_prior)
    grads, ok = _gradients_ok(law, sets, g)
    sets, grads = sets[ok], grads[ok]
    s2 = noise_variance(result)
    J = row_jacobians(law, sets, data_cols)
    candJ = row_jacobians(law, sets, cand_cols)
    info = information(J, s2)
    cov0 = np.linalg.inv(info)  # the law's own: what the refitted interval will show
    good = np.all(np.isfinite(candJ), axis=(0, 2))
    cost = table["flops"].to_numpy(dtype=float)
    misfit_model, misfit_note = _misfit_model(result, misfit)
    if misfit_note:
        notes.append(misfit_note)
    if misfit_model is None:
        chosen = _choose(cov0, grads, candJ, s2, cost, good, budget, max_runs, exchange)
        near = np.zeros(len(table))
    else:  # choose with the misfit term; report the law's widths
        augJ, aug_info, aug_grads, near = _with_misfit(
            misfit_model, law, target, data_cols, cand_cols, J, candJ, info, grads, s2
        )
        aug_cov = np.linalg.inv(aug_info)
        chosen = _choose(aug_cov, aug_grads, augJ, s2, cost, good, budget, max_runs, exchange)

    # Calibration: honest (bootstrap) width of the current fit over its linearized width, never below 1.
    var_lin = float(np.exp(np.mean(np.log(_target_var(cov0, grads)))))
    calibration, cal_note = _calibration(result, boot, g, z_level, var_lin)
    if cal_note:
        notes.append(cal_note)
    if boot is not None and boot.saved:
        notes.append(f"the {boot.n} bootstrap replicates saved with the fit were reused (no refit)")
    if result.status.not_identifiable:
        notes.append(
            "the current fit does not pin down every parameter; the forecast assumes the law is exact and "
            "the noise stays at today's residual scale, so it is likely optimistic: refit after the first runs"
        )
    beyond, kind, kind_note = _beyond_data(result, target, fixed_all, level, kind)
    if kind_note:
        notes.append(kind_note)
    edge = first_edge = float(np.max(axis_values(law, data_cols)[1]))
    cand_axis = axis_values(law, cand_cols)[1]
    rows, cov = [], cov0
    n_name, d_name = law.inputs_for("N", "D", purpose=_PURPOSE)
    seen_max = float(np.max(k * data_cols[n_name] * data_cols[d_name]))
    for i in chosen:
        reason = _reason(law, cov[0], candJ[0, i], s2, table.iloc[i], seen_max, k, target, theta, fixed_all)
        if near[i] > 0.2:
            reason += f"; near the target, so it shows how far the law is off there (correlation {near[i]:.2f})"
        cov = _update(cov, candJ[:, i], s2)
        edge = max(edge, float(cand_axis[i]))
        row = {**table.iloc[i].to_dict(), "reason": reason}
        row["relative_width_after"] = _relative_width(
            _mean_log_var(cov, grads), z_level, calibration, _halfwidth(beyond, edge)
        )
        rows.append(row)
    if beyond is not None:
        notes.append(beyond.note(first_edge, edge))
    spent = float(cost[chosen].sum()) if chosen else 0.0
    if not chosen:
        notes.append("no candidate run fits the budget; raise the budget or allow smaller runs")
    elif spent < 0.8 * budget:
        notes.append(
            f"{spent / budget:.0%} of the budget used: more runs would add little (or max_runs={max_runs} binds)"
        )
    estimate = float(np.exp(g(law, theta[None, :])[0]))
    return Suggestion(
        runs=pd.DataFrame(rows),
        target=target,
        level=level,
        estimate=estimate,
        width_before=_relative_width(var_lin, z_level, calibration, _halfwidth(beyond, first_edge)),
        width_after=_relative_width(_mean_log_var(cov, grads), z_level, calibration, _halfwidth(beyond, edge)),
        calibration=calibration,
        budget=budget,
        spent=spent,
        notes=tuple(notes),
        kind=kind,
        decades_before=math.nan if beyond is None else beyond.decades(first_edge),
        decades_after=math.nan if beyond is None else beyond.decades(edge),
    )


@dataclass(frozen=True)
class _BeyondData:
    """The total interval's part beyond the parameters at a ``predict`` target, as the data's edge moves.

    ``at`` is the target's value along the error model's axis (compute ``6ND`` for a law of N and D) and
    ``choice`` the law-choice half-width there (log units, 0 for a fit of one law).
    """

    model: ExtrapolationError
    at: float
    choice: float
    level: float

    def decades(self, edge: float) -> float:
        """How far the target lies beyond data whose largest value along the axis is ``edge``."""
        return math.log10(self.at / edge)

    def halfwidth(self, edge: float) -> float:
        """Law error and law choice at the target, added in variance (log units), plus half the law's drifting
        bias there: the drift moves one end of the interval, so the mean half-width grows by half of it."""
        d = self.decades(edge)
        drift = abs(float(self.model.drift(d)))
        return math.hypot(float(self.model.halfwidth(d, self.level)), self.choice) + 0.5 * drift

    def note(self, before: float, after: float) -> str:
        choice = f" and the choice of law ({self.choice:.3f})" if self.choice > 0 else ""
        return (
            f"total interval: the law's own error beyond the data ({self.model.n_cuts} rolling backtests){choice} "
            f"is added in quadrature; the target lies {self.decades(before):.2f} decades beyond the data now and "
            f"{self.decades(after):.2f} after these runs (law-error half-width {self.halfwidth(before):.3f} -> "
            f"{self.halfwidth(after):.3f} on the log scale)"
        )


def _beyond_data(
    result: FitResult, target: Target, fixed: Mapping[str, float], level: float, kind: str
) -> tuple[_BeyondData | None, str, str]:
    """What the total interval adds at the target (None: nothing), the kind the widths are of, and a note."""
    if kind == "parameter":
        return None, kind, ""
    reason = unlearned(result)
    if reason is not None:
        return None, "parameter", f"{reason}, so the widths are of the parameter interval"
    if target.kind == "plan":
        return (
            None,
            "parameter",
            (
                "widths are of the parameter interval: the law's error beyond the data is learned in loss, not in the "
                "compute-optimal size a plan target reads (ask a predict target for the total interval)"
            ),
        )
    point = {name: np.array([value]) for name, value in target.point(fixed).items()}
    try:
        model = result.extrapolation_error()
    except LawError as exc:
        return None, "parameter", f"widths are of the parameter interval: {exc}"
    choice = 0.0
    if result.law_choice is not None:
        choice = model.multiplier(level) * float(result.law_choice.spread(point)[0])
    return _BeyondData(model, float(axis_values(result.law, point)[1][0]), choice, level), "total", ""


def _halfwidth(beyond: _BeyondData | None, edge: float) -> float:
    return 0.0 if beyond is None else beyond.halfwidth(edge)


def _misfit_model(result: FitResult, misfit: float | Misfit | str | None) -> tuple[Misfit | None, str]:
    """The discrepancy term the criterion uses (None: trust the law), and a note saying what it is."""
    if misfit is None:
        return None, ""
    if isinstance(misfit, str):
        if misfit != "auto":
            raise DataError(f"misfit must be 'auto', a number (sd of log loss) or None, not {misfit!r}")
        misfit = estimate_misfit(result)
    elif not isinstance(misfit, Misfit):
        value = float(misfit)
        if not (value >= 0 and math.isfinite(value)):
            raise DataError(f"misfit must be a non-negative sd of log loss, got {misfit}")
        misfit = Misfit(value)
    if misfit.scale <= 0:
        return None, f"law misfit: none found ({misfit.source})" if misfit.source != "given" else ""
    return misfit, (
        f"law misfit: sd {misfit.scale:.3g} of log loss, correlated over ~{misfit.length:g} decades "
        f"({misfit.source}); runs near the target count for more"
    )


def _with_misfit(
    misfit: Misfit,
    law: Law,
    target: Target,
    data_cols: Mapping[str, np.ndarray],
    cand_cols: Mapping[str, np.ndarray],
    J: np.ndarray,
    candJ: np.ndarray,
    info: np.ndarray,
    grads: np.ndarray,
    s2: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Append the misfit's basis weights (prior N(0, 1)) to the parameters of every set.

    Returns the candidates' augmented Jacobians, the augmented information of the data (the weights
    share the data with the parameters, so a misfit near the data confounds them), the criterion's
    gradients (a ``predict`` target includes the misfit at its point; a ``plan`` target reads the
    parameters only) and each candidate's misfit correlation with the target (0 for ``plan``).
    """
    n_name, d_name = law.inputs_for("N", "D", purpose=_PURPOSE)

    def log_nd(cols: Mapping[str, np.ndarray]) -> np.ndarray:
        return np.log10(np.column_stack([cols[n_name], cols[d_name]]))

    points = [log_nd(data_cols), log_nd(cand_cols)]
    at_target = target.kind == "predict" and {n_name, d_name} <= set(target.values)
    if at_target:
        points.append(log_nd({n_name: np.array([target.values[n_name]]), d_name: np.array([target.values[d_name]])}))
    centers = grid_centers(np.vstack(points), misfit.length)
    S, P, B = J.shape[0], info.shape[1], len(centers)
    phi_data, phi_cand = misfit.features(points[0], centers), misfit.features(points[1], centers)
    aug_info = np.zeros((S, P + B, P + B))
    aug_info[:, :P, :P] = info  # with its ridge
    aug_info[:, :P, P:] = np.einsum("snp,nb->spb", J, phi_data) / s2
    aug_info[:, P:, :P] = np.transpose(aug_info[:, :P, P:], (0, 2, 1))
    aug_info[:, P:, P:] = phi_data.T @ phi_data / s2 + np.eye(B)
    augJ = np.concatenate([candJ, np.broadcast_to(phi_cand, (S, *phi_cand.shape))], axis=2)
    if not at_target:
        return augJ, aug_info, np.concatenate([grads, np.zeros((S, B))], axis=1), np.zeros(len(phi_cand))
    phi_t = misfit.features(points[2], centers)[0]
    aug_grads = np.concatenate([grads, np.broadcast_to(phi_t, (S, B))], axis=1)
    return augJ, aug_info, aug_grads, phi_cand @ phi_t / misfit.scale**2


def _mean_log_var(cov: np.ndarray, grads: np.ndarray) -> float:
    """Geometric mean of the target's variance over the parameter sets."""
    return float(np.exp(np.mean(np.log(_target_var(cov, grads)))))


def _bootstrap(result: FitResult, n_boot: int | None, seed: int, progress: ProgressLike = False):
    if n_boot is not None and n_boot <= 0:
        return None
    try:
        return replicates_for(result, n_boot, seed, SUGGEST_REPLICATES, progress)
    except FitError:
        return None


def _prior_sets(law: Law, theta: np.ndarray, boot, n_prior: int) -> np.ndarray:
    """The fit and up to ``n_prior`` bootstrap replicates, evenly picked (deterministic)."""
    if boot is None or n_prior <= 0 or len(boot.samples) == 0:
        return theta[None, :]
    samples = np.asarray(boot.samples, dtype=float)
    samples = samples[np.all(np.isfinite(samples), axis=1)]
    take = np.unique(np.linspace(0, len(samples) - 1, min(n_prior, len(samples))).round().astype(int))
    return np.vstack([theta[None, :], samples[take]])


def _gradients_ok(law: Law, sets: np.ndarray, g: TargetFn) -> tuple[np.ndarray, np.ndarray]:
    """Target gradients of every set, and which sets have a finite one (the fit's must)."""
    grads = _target_gradients(law, law.to_internal(sets), g)
    ok = np.all(np.isfinite(grads), axis=1)
    if not ok[0]:
        raise FitError("the target's derivative is not finite at the current fit; check the target and the fit")
    return grads, ok


def _choose(
    cov0: np.ndarray,
    grads: np.ndarray,
    candJ: np.ndarray,
    s2: float,
    cost: np.ndarray,
    good: np.ndarray,
    budget: float,
    max_runs: int,
    exchange: bool,
) -> list[int]:
    """Greedy by mean log-variance removed per FLOP, then single-run exchanges within the budget."""
    rank_cost = np.maximum(cost, budget / max_runs)
    chosen: list[int] = []
    cov = cov0
    for _ in range(3):  # greedy, exchange, greedy again with what the exchange freed
        added = False
        while len(chosen) < max_runs:
            spent = cost[chosen].sum()
            free = good & (cost <= budget - spent + 1e-9 * budget)
            free[chosen] = False
            if not free.any():
                break
            now = np.mean(np.log(_target_var(cov, grads)))
            after = np.mean(np.log(_var_if_added(cov, grads, candJ, s2)), axis=0)
            gain = np.where(free, (now - after) / rank_cost, -np.inf)
            best = int(np.argmax(gain))
            if not gain[best] > 1e-12 / budget:
                break
            chosen.append(best)
            cov = _update(cov, candJ[:, best], s2)
            added = True
        if not (exchange and chosen) or (not added and _ > 0):
            break
        cov, changed = _exchange(cov, grads, candJ, s2, cost, good, budget, chosen)
        if not changed:
            break
    return chosen


def _exchange(cov, grads, candJ, s2, cost, good, budget, chosen: list[int], passes: int = 3):
    """Swap each chosen run for the affordable candidate that lowers the mean log variance most."""
    changed = False
    for _ in range(passes):
        improved = False
        for pos in range(len(chosen)):
            r = chosen[pos]
            now = np.mean(np.log(_target_var(cov, grads)))
            without = _update(cov, candJ[:, r], s2, sign=-1.0)
            room = budget - (cost[chosen].sum() - cost[r])
            free = good & (cost <= room + 1e-9 * budget)
            free[chosen] = False
            free[r] = True
            value = np.mean(np.log(_var_if_added(without, grads, candJ, s2)), axis=0)
            value = np.where(free, value, np.inf)
            best = int(np.argmin(value))
            if best != r and value[best] < now - 1e-6:
                chosen[pos] = best
                cov = _update(without, candJ[:, best], s2)
                improved = changed = True
        if not improved:
            break
    return cov, changed


def _relative_width(var: float, z_level: float, calibration: float, beyond: float = 0.0) -> float:
    """Width of a log-scale interval as a ratio, high/low - 1: the calibrated parameter half-width combined in
    quadrature with ``beyond``, the half-width of the total interval's other parts (0: the parameter interval)."""
    return math.expm1(2 * math.hypot(z_level * math.sqrt(max(var, 0.0)) * calibration, beyond))


def _calibration(result: FitResult, boot, g: TargetFn, z_level: float, var_lin: float) -> tuple[float, str]:
    """Bootstrap half-width over linearized half-width of the target, floored at 1 (1 if unavailable)."""
    if boot is None or var_lin <= 0:
        return 1.0, ""
    with np.errstate(all="ignore"):
        values = g(result.law, boot.samples)
    values = values[np.isfinite(values)]
    if values.size < 10:
        return 1.0, ""
    level = 2 * stats.norm.cdf(z_level) - 1
    lo, hi = np.quantile(values, [0.5 - level / 2, 0.5 + level / 2])
    raw = float((hi - lo) / (2 * z_level * math.sqrt(var_lin)))
    if raw < 0.8:
        # The linearized variance of a poorly identified fit is huge (ridge) while the bootstrap, which
        # starts at the fit, stays bounded; shrinking the forecast by their ratio made it 10-100x too narrow.
        return 1.0, (
            f"the bootstrap interval is {raw:.2g}x the linearized one (a poorly identified fit); widths are not "
            "shrunk by it"
        )
    return max(raw, 1.0), ""


def _reason(
    law: Law,
    cov: np.ndarray,
    j: np.ndarray,
    s2: float,
    run: pd.Series,
    seen_max: float,
    k: float,
    target: Target,
    theta: np.ndarray,
    fixed: Mapping[str, float],
) -> str:
    """Say why a run helps: which parameter it pins down most, its compute range, its place in the valley."""
    c = cov @ j
    before = np.diag(cov)
    after = before - c**2 / (s2 + float(j @ c))
    shrink = 1 - np.sqrt(np.clip(after, 1e-300, None) / before)
    top = int(np.argmax(shrink[: law.n_params]))  # parameters only, not the misfit's weights
    parts = [f"narrows {law.param_names[top]} by {shrink[top]:.0%}"]
    n_name, d_name = law.inputs_for("N", "D", purpose=_PURPOSE)
    flops = float(k * run[n_name] * run[d_name])
    decades = math.log10(flops / seen_max)
    if decades > 0.05:
        parts.insert(0, f"extends the compute range by {decades:.1f} decades")
    if target.kind == "plan":
        try:
            n_opt = float(optimum(law, theta[None, :], flops, k=k, fixed=dict(fixed) or None)["params"][0])
        except Exception:  # the reason is a courtesy; never fail the suggestion for it
            n_opt = math.nan
        if math.isfinite(n_opt):
            factor = run[n_name] / n_opt
            where = "near" if abs(math.log(factor)) < math.log(2) else ("above" if factor > 1 else "below")
            parts.append(f"{where} the compute-optimal size at its compute ({factor:.2g}x)")
    return "; ".join(parts)


# ----------------------------------------------------------------------------------------- cold start


def cold_start(
    budget: float,
    target_flops: float,
    n_budgets: int = 5,
    sizes_per_budget: int = 5,
    span: float = 3.0,
    prior: dict[str, float] | None = None,
    k: float = 6.0,
) -> tuple[pd.DataFrame, list[str]]:
    """An initial IsoFLOP design for a total budget, with the reasoning.

    Budgets are spaced geometrically, 1 decade apart at most, ending at the largest budget whose
    IsoFLOP profile still fits the total (each budget costs ``sizes_per_budget`` runs). Sizes at each
    budget bracket the compute-optimal size expected under ``prior`` (default: Epoch AI's refit of
    Chinchilla, laws.md §3.1), spread over ``span`` times either side, so the minimum is bracketed
    (laws.md §14: >= 3 budgets x >= 5 sizes).

    Examples
    --------
    >>> table, why = cold_start(1e21, 1e24)
    >>> len(table), table["flops"].nunique()
    (25, 5)
    """
    if not budget > 0:
        raise DataError("budget must be > 0 FLOPs")
    if n_budgets < 3 or sizes_per_budget < 3:
        raise DataError("an IsoFLOP design needs at least 3 budgets and 3 sizes per budget (5 recommended)")
    prior = prior or {"E": 1.8172, "A": 482.01, "B": 2085.43, "alpha": 0.3478, "beta": 0.3658}
    ratio = 10.0 ** (-1.0)  # budgets one decade apart
    weights = ratio ** np.arange(n_budgets)[::-1]
    top = budget / (sizes_per_budget * weights.sum())
    budgets = top * weights
    a = prior["beta"] / (prior["alpha"] + prior["beta"])
    G = (prior["alpha"] * prior["A"] / (prior["beta"] * prior["B"])) ** (1 / (prior["alpha"] + prior["beta"]))
    rows = []
    for c in budgets:
        n_opt = G * (c / k) ** a
        for factor in np.geomspace(1 / span, span, sizes_per_budget):
            N = n_opt * factor
            rows.append({"flops": c, "params": N, "tokens": c / (k * N), "tokens_per_param": c / (k * N * N)})
    table = pd.DataFrame(rows)
    reach = math.log10(target_flops / budgets[-1])
    reasoning = [
        f"{n_budgets} IsoFLOP budgets from {budgets[0]:.2g} to {budgets[-1]:.2g} FLOPs, one decade apart: the "
        "exponents of N_opt(C) are read across budgets, so the range of compute matters more than density",
        f"{sizes_per_budget} sizes per budget from 1/{span:g}x to {span:g}x the expected optimum (prior: "
        f"a = {a:.3f}), so each parabola's minimum is bracketed",
        f"each budget costs {sizes_per_budget} runs; the largest budget takes {1 - ratio:.0%} of the total",
        f"the target ({target_flops:.2g} FLOPs) lies {reach:.1f} decades beyond the largest budget; intervals "
        "widen with that distance, so after these runs use `scalelaw suggest` to pick the next ones",
    ]
    return table, reasoning
