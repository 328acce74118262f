"""Candidate rules for ``law="auto"`` and their leave-one-family-out scoring (used by ``law_choice.py --lofo``).

Every rule reads one split's cached training-part backtests (``law_choice.py``'s cache: per law and cut the
mean |log error|, mean square, mean signed log error, mean distance, rows; the parameter count; the learned
error model's summary) and returns weights over the candidates: one 1 for a pick, several for an average.
The held-out prediction is the weighted geometric mean of the candidates' predictions. No rule reads the
held-out losses. Each rule has at most two constants, given as a grid.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import numpy as np

NEAR = 0.3  # today's scoring cuts: at most 30% of the runs held out


# ================================================================================================= helpers


def cuts(law: dict, upto: float, key: str = "mean_abs") -> np.ndarray:
    """The per-cut values of ``key`` for the cuts holding out at most ``upto`` of the runs."""
    c = np.asarray(law["cuts"], float)
    return np.asarray(law[key], float)[c <= upto + 1e-9]


def _pick(scores: dict[str, float], order: list[str]) -> dict[str, float]:
    finite = {n: s for n, s in scores.items() if math.isfinite(s)}
    if not finite:
        return {order[0]: 1.0}
    best = min(finite, key=lambda n: (finite[n], order.index(n)))
    return {best: 1.0}


def _mean_score(laws: dict, order: list[str], upto: float) -> dict[str, float]:
    return {n: float(np.mean(v)) if len(v := cuts(laws[n], upto)) else math.inf for n in order}


def _log_like(laws: dict, order: list[str], upto: float) -> dict[str, float]:
    """Today's pseudo-likelihood: ``-K/2 log(mean square)`` over the ``K`` cuts up to ``upto``."""
    out = {}
    for n in order:
        m = cuts(laws[n], upto, "mean_sq")
        out[n] = -0.5 * m.size * math.log(max(float(m.mean()), 1e-300)) if m.size else -math.inf
    return out


def _softmax(log_w: dict[str, float]) -> dict[str, float]:
    finite = {n: v for n, v in log_w.items() if math.isfinite(v)}
    if not finite:
        return {n: 1.0 / len(log_w) for n in log_w}
    top = max(finite.values())
    raw = {n: math.exp(v - top) for n, v in finite.items()}
    total = sum(raw.values())
    return {n: v / total for n, v in raw.items()}


# ================================================================================================= rules


def lowest(laws, order, upto=NEAR):
    """Today's rule (``upto`` = 0.3): the lowest mean over the cuts up to ``upto`` of each cut's mean |log error|."""
    return _pick(_mean_score(laws, order, upto), order)


def averaged(laws, order):
    """Today's averaged prediction: pseudo-BMA weights ``m ** (-K/2)`` over the near cuts."""
    return _softmax(_log_like(laws, order, NEAR))


def tempered(laws, order, tau=1.0, upto=NEAR):
    """Pseudo-BMA with the log-likelihood multiplied by ``tau`` (0: equal weights, inf: the likeliest law)."""
    ll = _log_like(laws, order, upto)
    if math.isinf(tau):
        return _pick({n: -v for n, v in ll.items()}, order)
    return _softmax({n: tau * v for n, v in ll.items()})


def median_cut(laws, order, upto=0.5):
    """The lowest median over the cuts up to ``upto`` of each cut's mean |log error| (robust to one bad cut)."""
    return _pick({n: float(np.median(v)) if len(v := cuts(laws[n], upto)) else math.inf for n in order}, order)


def trimmed(laws, order):
    """The lowest mean over all cuts of each cut's mean |log error|, the best and the worst cut dropped."""
    scores = {}
    for n in order:
        v = np.sort(cuts(laws[n], 1.0))
        scores[n] = float(np.mean(v[1:-1] if v.size >= 3 else v)) if v.size else math.inf
    return _pick(scores, order)


def penalized(laws, order, c=1.0, upto=NEAR):
    """AIC-like: the pseudo-log-likelihood of the cuts up to ``upto`` minus ``c`` per fitted parameter."""
    ll = _log_like(laws, order, upto)
    return _pick({n: -(ll[n] - c * laws[n]["n_params"]) for n in order}, order)


def no_growth(laws, order, t=2.0):
    """Today's rule among the laws whose per-cut mean |log error| does not grow with the cut's distance by more
    than ``t`` standard errors of the slope (all cuts); all laws when every one grows."""
    keep = []
    for n in order:
        x, y = cuts(laws[n], 1.0, "mean_decades"), cuts(laws[n], 1.0)
        if x.size >= 3 and np.ptp(x) > 0:
            b, a = np.polyfit(x, y, 1)
            resid = y - (a + b * x)
            se = math.sqrt(max(resid @ resid / (x.size - 2), 1e-300) / np.sum((x - x.mean()) ** 2))
            if b / se > t:
                continue
        keep.append(n)
    keep = keep or order
    return lowest(laws, keep)


def library_drift(laws, order):
    """Today's rule among the laws with no drift detected by the library's own test (``drift_per_decade`` 0)."""
    keep = [
        n for n in order if laws[n]["model"]["drift_per_decade"] == 0.0 and laws[n]["model"]["drift_at_edge"] == 0.0
    ]
    return lowest(laws, keep or order)


def model_at_max(laws, order):
    """The lowest expected error of the learned error model at the largest distance a cut checked."""
    return _pick({n: laws[n]["model"]["expected_at_max"] for n in order}, order)


def model_at_test(laws, order):
    """The lowest expected error of the learned error model at the held-out runs' own distances (from inputs)."""
    return _pick({n: laws[n]["model"]["expected_at_test"] for n in order}, order)


def matched(laws, order, test_decades):
    """Per law, the line of per-cut mean |log error| against mean distance, read at the mean distance asked."""
    d = float(np.mean(test_decades))
    scores = {}
    for n in order:
        x, y = cuts(laws[n], 1.0, "mean_decades"), cuts(laws[n], 1.0)
        if x.size >= 2 and np.ptp(x) > 0:
            b, a = np.polyfit(x, y, 1)
            scores[n] = float(max(a + b * d, 0.0)) + 1e-12 * float(np.mean(y))
        else:
            scores[n] = float(np.mean(y)) if y.size else math.inf
    return _pick(scores, order)


def default_margin(laws, order, c=1.0, upto=NEAR):
    """The default law (the first candidate: chinchilla, power) unless another's score is lower by more than
    ``c`` standard errors of the paired per-cut difference (cuts up to ``upto``)."""
    default = order[0]
    base = cuts(laws[default], upto)
    if base.size == 0:
        return lowest(laws, order, upto)
    better = {}
    for n in order[1:]:
        other = cuts(laws[n], upto)
        if other.size != base.size or base.size < 2:
            continue
        d = base - other  # positive: the other law is better
        se = d.std(ddof=1) / math.sqrt(d.size)
        if d.mean() > c * se:
            better[n] = float(other.mean())
    return _pick(better, order) if better else {default: 1.0}


def shrink(laws, order, a=0.5):
    """Today's pick moved a share ``a`` of the way (in log prediction) to today's averaged prediction."""
    pick, avg = lowest(laws, order), averaged(laws, order)
    return {n: (1 - a) * pick.get(n, 0.0) + a * avg.get(n, 0.0) for n in order}


def median_prediction(laws, order):
    """Equal weights over the laws whose near score is not the worst (the median of three, the mean of two)."""
    scores = _mean_score(laws, order, NEAR)
    if len(order) <= 2:
        return {n: 1.0 / len(order) for n in order}
    worst = max(order, key=lambda n: scores[n])
    keep = [n for n in order if n != worst]
    return {n: 1.0 / len(keep) for n in keep}


#: name -> (function, grid of constants as keyword dicts). Baselines first.
RULES: dict[str, tuple[Callable, list[dict]]] = {
    "lowest": (lowest, [{}]),
    "averaged": (averaged, [{}]),
    "tempered": (
        tempered,
        [
            dict(tau=t, upto=u)
            for t, u in itertools.product((0.0, 0.25, 0.5, 1.0, 2.0, 4.0, math.inf), (0.1, 0.2, 0.3, 0.5))
        ],
    ),
    "lowest_cuts": (lowest, [dict(upto=u) for u in (0.1, 0.2, 0.3, 0.4, 0.5)]),
    "median_cut": (median_cut, [dict(upto=u) for u in (0.3, 0.5)]),
    "trimmed": (trimmed, [{}]),
    "penalized": (penalized, [dict(c=c, upto=u) for c, u in itertools.product((0.25, 0.5, 1.0, 2.0), (0.3, 0.5))]),
    "no_growth": (no_growth, [dict(t=t) for t in (0.0, 1.0, 2.0, 3.0)]),
    "library_drift": (library_drift, [{}]),
    "model_at_max": (model_at_max, [{}]),
    "model_at_test": (model_at_test, [{}]),
    "matched": (matched, [{}]),
    "default_margin": (
        default_margin,
        [dict(c=c, upto=u) for c, u in itertools.product((0.0, 0.5, 1.0, 2.0, 3.0), (0.3, 0.5))],
    ),
    "shrink": (shrink, [dict(a=a) for a in (0.25, 0.5, 0.75)]),
    "median_prediction": (median_prediction, [{}]),
}


def apply(rule: str, consts: dict, split: dict) -> float:
    """Held-out mean |relative error| of ``rule`` with ``consts`` on one cached split."""
    func, _ = RULES[rule]
    laws = {n: v for n, v in split["laws"].items() if "error" not in v}
    order = [n for n in split["laws"] if n in laws]
    extra = {"test_decades": split["test_decades"]} if func is matched else {}
    w = func(laws, order, **consts, **extra)
    w = {n: x for n, x in w.items() if x > 0}
    logs = sum(x * np.log(np.asarray(laws[n]["prediction"], float)) for n, x in w.items()) / sum(w.values())
    observed = np.asarray(split["observed"], float)
    return float(np.mean(np.abs(np.exp(logs) / observed - 1)))


# ================================================================================================= scoring


def family_key(split: dict) -> str:
    """The family scored as one (a set's own family: dev and fresh seeds of a generator are apart)."""
    return f"{split['set']}:{split['family']}"


def group_key(split: dict) -> str:
    """The group left out together: a generator or a real source, across sets (Gadre's 8 losses are one group:
    the same models)."""
    return split["family"].split(":")[0]


def hindsight_best(splits: list[dict]) -> dict[str, float]:
    """Per family, the mean held-out error of the single law with the lowest mean over its splits."""
    by_family: dict[str, list[dict]] = {}
    for s in splits:
        by_family.setdefault(family_key(s), []).append(s)
    best = {}
    for fam, ss in by_family.items():
        names = [n for n in ss[0]["laws"] if all("error" not in s["laws"].get(n, {"error": 1}) for s in ss)]
        best[fam] = min(float(np.mean([s["laws"][n]["mae"] for s in ss])) for n in names)
    return best


def ratio_of_sums(maes: list[float], splits: list[dict], best: dict[str, float]) -> float:
    """Sum of the rule's errors over splits over the sum of each split's family's hindsight-best mean error."""
    return float(np.sum(maes) / np.sum([best[family_key(s)] for s in splits]))


def nested_lofo(splits: list[dict]) -> dict:
    """The whole selection left out too: for each group, the rule *and* its constants with the lowest pooled
    ratio on the other groups, scored on the group left out; pooled over groups."""
    best = hindsight_best(splits)
    configs = [(rule, g) for rule, (_, grid) in RULES.items() for g in grid]
    maes = np.array([[apply(r, g, s) for s in splits] for r, g in configs])
    held: list[float] = [math.nan] * len(splits)
    chosen = {}
    for grp in sorted({group_key(s) for s in splits}):
        inside = [i for i, s in enumerate(splits) if group_key(s) != grp]
        k = int(np.argmin([ratio_of_sums(list(m[inside]), [splits[i] for i in inside], best) for m in maes]))
        chosen[grp] = configs[k]
        for i, s in enumerate(splits):
            if group_key(s) == grp:
                held[i] = maes[k, i]
    return dict(ratio=ratio_of_sums(held, splits, best), chosen=chosen)


def lofo(splits: list[dict]) -> list[dict]:
    """For every rule: the plain pooled ratio at each constant, and the leave-one-group-out ratio (constants
    chosen on the other groups by their pooled ratio, scored on the group left out; pooled over groups)."""
    best = hindsight_best(splits)
    groups = sorted({group_key(s) for s in splits})
    out = []
    for rule, (_, grid) in RULES.items():
        maes = np.array([[apply(rule, g, s) for s in splits] for g in grid])  # grid x splits
        plain = [ratio_of_sums(list(m), splits, best) for m in maes]
        held: list[float] = [math.nan] * len(splits)
        chosen = {}
        for grp in groups:
            inside = [i for i, s in enumerate(splits) if group_key(s) != grp]
            k = int(np.argmin([ratio_of_sums(list(m[inside]), [splits[i] for i in inside], best) for m in maes]))
            chosen[grp] = grid[k]
            for i, s in enumerate(splits):
                if group_key(s) == grp:
                    held[i] = maes[k, i]
        per_family = {}
        for fam in sorted(best):
            idx = [i for i, s in enumerate(splits) if family_key(s) == fam]
            per_family[fam] = float(np.mean([held[i] for i in idx]) / best[fam])
        k_all = int(np.argmin(plain))
        out.append(
            dict(
                rule=rule,
                lofo_ratio=ratio_of_sums(held, splits, best),
                lofo_mean_family_ratio=float(
                    np.average(
                        list(per_family.values()),
                        weights=[sum(family_key(s) == f for s in splits) for f in per_family],
                    )
                ),
                best_plain_ratio=plain[k_all],
                best_plain_constants=grid[k_all],
                plain=[dict(constants=g, ratio=r) for g, r in zip(grid, plain, strict=True)],
                lofo_constants=chosen,
                lofo_per_family=per_family,
            )
        )
    return out


def frozen_report(splits: list[dict], frozen: tuple[str, dict]) -> dict:
    """Today's rule, the averaged prediction and the frozen rule on ``splits``: per family and pooled ratios of
    sums to the hindsight-best single law (no constant chosen here)."""
    best = hindsight_best(splits)
    rules = {"lowest": ("lowest", {}), "averaged": ("averaged", {}), "frozen": frozen}
    maes = {k: [apply(r, c, s) for s in splits] for k, (r, c) in rules.items()}
    fams = sorted(best)
    per_family = []
    for f in fams:
        idx = [i for i, s in enumerate(splits) if family_key(s) == f]
        singles = {}
        for n in splits[idx[0]]["laws"]:
            vals = [splits[i]["laws"].get(n, {}).get("mae") for i in idx]
            if all(v is not None for v in vals):
                singles[n] = float(np.mean(vals))
        entry = dict(family=f, splits=len(idx), best_single=min(singles, key=singles.get), best_mae=best[f])
        entry.update({f"mae_{n}": v for n, v in singles.items()})
        for k in rules:
            entry[k] = float(np.mean([maes[k][i] for i in idx]))
            entry[f"{k}_ratio"] = entry[k] / best[f]
        per_family.append(entry)
    pooled = {}
    for part, keep in (("real", True), ("synthetic", False), ("all", None)):
        idx = [i for i, s in enumerate(splits) if keep is None or (not s["family"].startswith("syn_")) == keep]
        if idx:
            sub = [splits[i] for i in idx]
            pooled[part] = {k: ratio_of_sums([maes[k][i] for i in idx], sub, best) for k in rules}
    return dict(frozen=dict(rule=frozen[0], constants=frozen[1]), per_family=per_family, pooled=pooled)
