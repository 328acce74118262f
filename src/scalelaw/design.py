"""Which runs to add next: the design that most shrinks the interval of the decision.

Small runs cost money; the question is which ones make the forecast for the big run trustworthy.
Around the current fit the law is nearly linear in its parameters, so adding a run with Jacobian
row ``j`` (of log loss) adds ``j j^T / sigma^2`` to the information matrix, and the variance of the
target quantity ``g`` (say log N_opt at 1e24 FLOPs) is ``grad_g^T I^-1 grad_g``. Runs are chosen
greedily by variance removed per FLOP until the budget is spent (a c-optimal design). The linearized
widths are rescaled by how the by-run bootstrap width of the current fit compares with its linearized
width, so "before" matches the honest interval and "after" inherits the same calibration.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from scalelaw.errors import DataError, FitError
from scalelaw.fitting.result import FitResult
from scalelaw.laws.law import Law

TargetFn = Callable[[Law, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Target:
    """The quantity a decision rests on: ``plan:flops=1e24`` (log N_opt at that budget) or
    ``predict:params=7e10,tokens=1.4e12`` (log of the law's prediction there)."""

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

    def function(self) -> TargetFn:
        """``g(law, theta) -> (n_sets,)`` on the log scale."""
        if self.kind == "plan":
            from scalelaw.plan import optimum

            flops = self.values["flops"]
            return lambda law, theta: np.log(optimum(law, theta, flops)["params"])
        point = self.values
        return lambda law, theta: np.log(law.predict(theta, **point)[:, 0])

    @property
    def label(self) -> str:
        if self.kind == "plan":
            return f"compute-optimal N at {self.values['flops']:.3g} FLOPs"
        return "prediction at " + ", ".join(f"{k}={v:.3g}" for k, v in self.values.items())


@dataclass(frozen=True)
class Suggestion:
    """Runs to add, with their cost, and the target's interval before and after."""

    runs: pd.DataFrame  # params, tokens, flops, reason, width_after (cumulative)
    target: Target
    level: float
    estimate: float  # target quantity (natural units: N_opt or predicted loss)
    width_before: float  # relative width of the interval (high/low - 1), calibrated
    width_after: float
    calibration: float  # bootstrap width / linearized width of the current fit
    budget: float
    spent: float
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict:
        return {
            "target": self.target.text,
            "quantity": self.target.label,
            "level": self.level,
            "estimate": self.estimate,
            "relative_width_before": self.width_before,
            "relative_width_after": self.width_after,
            "narrower_by": 1.0 - self.width_after / self.width_before if self.width_before > 0 else 0.0,
            "calibration": self.calibration,
            "budget": self.budget,
            "spent": self.spent,
            "runs": self.runs.to_dict(orient="records"),
            "notes": list(self.notes),
        }


def _internal_jacobian(law: Law, theta: np.ndarray, columns: dict[str, np.ndarray]) -> np.ndarray:
    """d log prediction / d z (optimizer space), shape (n_rows, n_params)."""
    _, J = law.log_predict_jac(theta[None, :], law.bind(columns))
    assert J is not None
    is_log = np.array([p.transform == "log" for p in law.parameters])
    return (J * np.where(is_log, theta, 1.0)[None, :, None])[0].T


def _target_gradient(law: Law, z: np.ndarray, g: TargetFn, step: float = 1e-5) -> np.ndarray:
    """Central differences of ``g`` in optimizer space (one batch of 2P parameter sets)."""
    P = z.size
    sets = np.repeat(z[None, :], 2 * P, axis=0)
    h = step * np.maximum(1.0, np.abs(z))
    sets[np.arange(P), np.arange(P)] += h
    sets[P + np.arange(P), np.arange(P)] -= h
    values = g(law, law.from_internal(sets))
    return (values[:P] - values[P:]) / (2 * h)


def candidate_grid(
    result: FitResult,
    sizes: Sequence[float] | None = None,
    ratios: Sequence[float] = (5, 10, 20, 40, 80, 160, 320),
    max_flops_per_run: float | None = None,
    k: float = 6.0,
) -> pd.DataFrame:
    """Candidate runs: model sizes x tokens-per-parameter ratios, with their cost ``k N D``."""
    if result.data is None:
        raise FitError("this fit carries no data; suggestions need it")
    n_name, d_name = result.law.inputs[0], result.law.inputs[1]
    if sizes is None:
        seen = result.data.columns[n_name]
        sizes = np.geomspace(seen.min(), seen.max() * 10, 13)
    N, R = np.meshgrid(np.asarray(sizes, dtype=float), np.asarray(ratios, dtype=float))
    table = pd.DataFrame({n_name: N.ravel(), d_name: (N * R).ravel()})
    table["flops"] = k * table[n_name] * table[d_name]
    if max_flops_per_run is not None:
        table = table[table["flops"] <= max_flops_per_run]
    if table.empty:
        raise DataError("no candidate run fits within --max-flops-per-run; allow larger runs or smaller sizes")
    return table.reset_index(drop=True)


def suggest(
    result: FitResult,
    target: str | Target,
    budget: float,
    sizes: Sequence[float] | None = None,
    max_flops_per_run: float | None = None,
    level: float = 0.9,
    n_boot: int = 200,
    seed: int = 0,
    k: float = 6.0,
    max_runs: int = 10,
) -> Suggestion:
    """Propose runs within ``budget`` FLOPs that most narrow the interval of ``target``.

    Greedy by variance removed per FLOP, each candidate at most once. A run cheaper than
    ``budget / max_runs`` is charged that much when ranking: in the linear picture a tiny run is almost
    free information, but runs have overheads and seed noise, and the decision needs range, not count.

    Parameters
    ----------
    result : FitResult
        Current fit of a law of ``params`` and ``tokens`` (its data are the existing runs).
    target : str or Target
        ``"plan:flops=1e24"`` or ``"predict:params=7e10,tokens=1.4e12"``.
    budget : float
        Total FLOPs available for new runs.
    sizes : sequence of float, optional
        Model sizes allowed (default: 13 sizes from the smallest run to 10x the largest).
    max_flops_per_run : float, optional
        Cap on one run's compute.
    max_runs : int
        At most this many runs are proposed.
    """
    target = target if isinstance(target, Target) else Target.parse(target)
    if not (budget > 0 and math.isfinite(budget)):
        raise DataError(f"budget must be a positive number of FLOPs, got {budget}")
    law = result.law
    if result.data is None:
        raise FitError("this fit carries no data; suggestions need the existing runs")
    theta = np.array(result.values)
    z = law.to_internal(theta[None, :])[0]
    g = target.function()
    grad = _target_gradient(law, z, g)
    J = _internal_jacobian(law, theta, {n: result.data.columns[n] for n in law.inputs})
    sigma = max(result.residual_scale, 1e-4)
    info = J.T @ J / sigma**2
    # A weak ridge keeps directions no run informs finite (their variance stays large, not infinite).
    ridge = 1e-8 * np.trace(info) / law.n_params * np.eye(law.n_params)
    cov = np.linalg.inv(info + ridge)
    var_before = float(grad @ cov @ grad)
    candidates = candidate_grid(result, sizes, max_flops_per_run=max_flops_per_run, k=k)
    cand_J = _internal_jacobian(law, theta, {n: candidates[n].to_numpy() for n in law.inputs[:2]})
    z_level = stats.norm.ppf(0.5 + level / 2)
    estimate = float(np.exp(g(law, theta[None, :])[0]))
    calibration = _calibration(result, g, z_level, var_before, n_boot, seed)
    chosen: list[dict] = []
    spent = 0.0
    var = var_before
    seen_max_flops = float(np.max(k * result.data.columns[law.inputs[0]] * result.data.columns[law.inputs[1]]))
    cost = candidates["flops"].to_numpy()
    rank_cost = np.maximum(cost, budget / max_runs)
    used = np.zeros(len(candidates), dtype=bool)
    while len(chosen) < max_runs:
        affordable = (cost <= budget - spent) & ~used
        if not affordable.any():
            break
        # Sherman-Morrison: variance after adding row j is var - (grad^T C j)^2 / (sigma^2 + j^T C j).
        Cj = cand_J @ cov  # (n_cand, P)
        num = (Cj @ grad) ** 2
        den = sigma**2 + np.einsum("ij,ij->i", Cj, cand_J)
        gain = np.where(affordable, num / den / rank_cost, -np.inf)
        best = int(np.argmax(gain))
        used[best] = True
        if not np.isfinite(gain[best]) or gain[best] <= 0:
            break
        j = cand_J[best]
        c_j = cov @ j
        reason = _reason(law, cov, c_j, sigma, candidates.iloc[best], seen_max_flops, k)
        cov = cov - np.outer(c_j, c_j) / (sigma**2 + j @ c_j)
        var = float(grad @ cov @ grad)
        spent += float(candidates["flops"].iloc[best])
        row = {**candidates.iloc[best].to_dict(), "reason": reason}
        row["relative_width_after"] = _relative_width(var, z_level, calibration)
        chosen.append(row)
    runs = pd.DataFrame(chosen)
    notes = []
    if not chosen:
        notes.append("no candidate run fits the budget; raise --budget or allow smaller sizes")
    return Suggestion(
        runs=runs,
        target=target,
        level=level,
        estimate=estimate,
        width_before=_relative_width(var_before, z_level, calibration),
        width_after=_relative_width(var, z_level, calibration),
        calibration=calibration,
        budget=budget,
        spent=spent,
        notes=tuple(notes),
    )


def _relative_width(var: float, z_level: float, calibration: float) -> float:
    """Width of a log-scale interval as a ratio: high/low - 1."""
    return math.expm1(2 * z_level * math.sqrt(max(var, 0.0)) * calibration)


def _calibration(result: FitResult, g: TargetFn, z_level: float, var_lin: float, n_boot: int, seed: int) -> float:
    """Bootstrap half-width over linearized half-width of the target for the current fit (1 if unavailable)."""
    if n_boot <= 0 or var_lin <= 0:
        return 1.0
    try:
        boot = result.bootstrap(n=n_boot, seed=seed)
    except FitError:
        return 1.0
    values = g(result.law, boot.samples)
    values = values[np.isfinite(values)]
    if values.size < 10:
        return 1.0
    lo, hi = np.quantile(
        values, [0.5 - 0.5 * (2 * stats.norm.cdf(z_level) - 1), 0.5 + 0.5 * (2 * stats.norm.cdf(z_level) - 1)]
    )
    return float((hi - lo) / (2 * z_level * math.sqrt(var_lin)))


def _reason(law: Law, cov: np.ndarray, c_j: np.ndarray, sigma: float, run: pd.Series, seen_max: float, k: float) -> str:
    """Say why a run helps: which parameter it pins down most, and whether it extends the compute range."""
    before = np.diag(cov)
    after = before - c_j**2 / (sigma**2 + float(c_j @ np.linalg.pinv(cov) @ c_j))
    shrink = 1 - np.sqrt(np.clip(after, 1e-300, None) / before)
    top = int(np.argmax(shrink))
    parts = [f"narrows {law.param_names[top]} by {shrink[top]:.0%}"]
    decades = math.log10(run["flops"] / seen_max)
    if decades > 0.05:
        parts.insert(0, f"extends the compute range by {decades:.1f} decades")
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
