#!/usr/bin/env python
"""Which rule should ``law="auto"`` use to pick a law from its rolling backtests?

For every dataset of ``benchmarks/calibration.py`` where auto has more than one candidate and every outer
fraction, the top ``f`` of the runs along compute are held out (whole runs, as ``run_split`` does); every
candidate law is fitted on the training part and its rolling backtests learned there
(:func:`scalelaw.trust.extrapolation_error.learn`); its mean |relative error| on the held-out runs is
recorded. No bootstrap: only point errors are scored. Selection rules then read the training part's
backtest points only:

* ``lowest``: today's rule, the lowest score (mean over the cuts <= 30% of each cut's mean |log error|);
* ``one_se``: the default law (first candidate) unless another's score is lower by more than the standard
  error of the paired per-cut difference (near cuts);
* ``averaged``: the weighted geometric mean of the candidates' predictions with :func:`law_weights`;
* ``far_weighted``: lowest score over all 5 cuts, each cut weighted by its share held out;
* ``one_se_all``: the one-standard-error rule over all 5 cuts.

The rule is chosen on the tuning half (:func:`calibration.halves`); both halves are reported, per family
and pooled (splits-weighted ratio of the rule's mean mae to the hindsight-best single law's, per family).

Result (git ed7eda6, cache ``law_choice_splits.jsonl``; regenerated as ``law_choice_splits_dev.jsonl`` with the
same figures, ``benchmarks/results/law_choice.json``): pooled over every family, the splits-weighted
ratio to the hindsight-best single law was, tuning / held half, ``lowest`` 1.034 / 1.218, ``one_se`` 1.088 /
1.227, ``averaged`` 1.018 / 1.120, ``far_weighted`` 1.169 / 1.267, ``one_se_all`` 1.140 / 1.299. No selection
rule beat today's on the tuning half; the averaged prediction was lowest there only by 1.6% (4 families
better, 3 worse), so the library's choice is unchanged. On the held Gadre suites every selection rule stays
at about 2.1x (kaplan's near-cut backtests beat chinchilla's by more than their noise at the 30% outer cut).

After the fresh test (issue #16, "auto's rule, after the fresh test" in ``benchmarks/README.md``): ``--set
dev|fresh|fresh2`` fits the calibration datasets, the pre-registered fresh test's or the second fresh test's
(:func:`calibration.fresh2_datasets`), one cache per set (``results/law_choice_splits_SET.jsonl``; per cut the
mean |log error|, mean square, mean signed log error, mean distance, rows and origin; per law its parameter
count, error-model summary and held-out predictions). ``--lofo`` scores every rule of ``law_choice_rules.py``
(15 rules, at most 2 constants each, on a grid) on dev + fresh (363 splits) by leave-one-group-out: a group
is a generator or a real source across both sets (Gadre's 8 evaluation losses are one group, the same
models), its constants chosen on the other 7 groups, scored on it. The measure is the target's: the ratio of
sums over splits of the rule's mean |relative error| to its family's hindsight-best single law's.

**Frozen rule** (chosen by LOFO, before fresh2 was fitted; :data:`FROZEN`): ``tempered`` with ``tau = 2``,
``upto = 0.1``: the geometric mean of the candidates' predictions weighted by ``exp(tau * L)``, ``L = -K/2
log(m)`` today's pseudo-likelihood over the ``K`` cuts holding out at most ``upto`` of the runs, ``m`` their
per-cut mean square log error averaged. With ``upto = 0.1`` (the nearest cut only, ``K = 1``) and ``tau = 2``
the weights are ``1 / m``: inverse mean-square-error weights from the nearest rolling backtest. LOFO ratio
1.061 (nested LOFO, the rule chosen too, 1.061; the same constants won in 6 of 8 folds), against today's
``lowest`` 1.165 and ``averaged`` 1.108 (constant-free; plain = LOFO); plain pooled 1.035
(``results/law_choice_lofo.log``). On fresh2, scored once: frozen 1.171, ``averaged`` 1.168, ``lowest`` 1.265. The
library keeps its own weights and rule (``benchmarks/README.md``, "auto's rule, after the fresh test").

Usage::

    python benchmarks/law_choice.py --set dev      # fits cached in benchmarks/results/law_choice_splits_dev.jsonl
    python benchmarks/law_choice.py --set fresh    # the fresh test's datasets (about 4 min on 2 cores)
    python benchmarks/law_choice.py --lofo         # every rule on the dev + fresh caches
    python benchmarks/law_choice.py --set fresh2   # the frozen rule scored once on the second fresh test
    python benchmarks/law_choice.py --quick        # two datasets
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402
import calibration  # noqa: E402
import law_choice_rules  # noqa: E402

import scalelaw  # noqa: E402
from scalelaw.data.runs import Runs  # noqa: E402
from scalelaw.trust.extrapolation_error import learn  # noqa: E402
from scalelaw.trust.holdout import HoldoutSpec, split_runs  # noqa: E402
from scalelaw.trust.law_choice import SCORE_CUTS, default_candidates, law_weights  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
#: The dataset sets: dev (the calibration study's), fresh (the pre-registered fresh test's), fresh2 (scored once,
#: after the rule was frozen).
SETS = {
    "dev": lambda: calibration.real_datasets() + calibration.synthetic_datasets(),
    "fresh": lambda: calibration.fresh_datasets(),
    "fresh2": lambda: calibration.fresh2_datasets(),
}
#: The rule frozen by the leave-one-family-out study on dev + fresh (``--lofo``), and its constants; None
#: before the freeze.
FROZEN: tuple[str, dict] | None = ("tempered", {"tau": 2.0, "upto": 0.1})
RULES = ("lowest", "one_se", "averaged", "far_weighted", "one_se_all")


# ================================================================================================= fits


def run_split(dataset: dict, fraction: float) -> dict:
    """Every candidate fitted on the training part: per-cut backtest summaries and held-out predictions.

    Per cut it keeps what richer selection rules read: mean |log error|, mean square, mean signed log error,
    mean distance in decades, number of rows and the cut's origin; per law the parameter count, the learned
    error model's summary and the held-out predictions. ``test_decades`` (the held-out runs' distances beyond
    the training part, from their inputs alone) lets a rule score a law at the distance it is asked for.
    """
    frame = dataset["frame"].reset_index(drop=True).assign(_axis=lambda f: calibration._axis(f, dataset))
    split = split_runs(Runs(frame, source=dataset["name"]), HoldoutSpec("top", fraction, "_axis"))
    train, test = split.train.table.drop(columns="_axis"), split.test.table
    observed = test["loss"].to_numpy()
    decades = np.log10(test["_axis"].to_numpy() / split.train.table["_axis"].max())
    options = dataset.get("law_options")
    out = dict(dataset=dataset["name"], family=dataset["family"], outer=fraction, observed=observed, laws={})
    out["test_decades"] = decades.tolist()
    for law in default_candidates(train.columns):
        t0 = time.perf_counter()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = scalelaw.fit(law, train, **({"law_options": options} if options else {}))
                model = learn(result)
                points = model.points
                pred = np.asarray(result.predict(**{c: test[c].to_numpy() for c in result.law.inputs}), float)
        except Exception as exc:  # a law that cannot fit the split is left out of its rules
            out["laws"][law] = {"error": f"{type(exc).__name__}: {exc}"}
            continue
        p = points.assign(a=points["log_error"].abs(), e2=points["log_error"] ** 2)
        per_cut = p.groupby("cut").agg(
            mean_abs=("a", "mean"),
            mean_sq=("e2", "mean"),
            mean_signed=("log_error", "mean"),
            mean_decades=("decades", "mean"),
            origin=("origin", "first"),
            n=("a", "size"),
        )
        out["laws"][law] = dict(
            cuts=[float(c) for c in per_cut.index],
            mean_abs=per_cut["mean_abs"].tolist(),
            mean_sq=per_cut["mean_sq"].tolist(),
            mean_signed=per_cut["mean_signed"].tolist(),
            mean_decades=per_cut["mean_decades"].tolist(),
            origin=per_cut["origin"].astype(float).tolist(),
            n=per_cut["n"].astype(int).tolist(),
            n_params=int(result.law.n_params),
            n_train=len(train),
            model=dict(
                noise_sd=model.noise_sd,
                floor_var=model.floor_var,
                slope_var=model.slope_var,
                n_cuts=model.n_cuts,
                max_decades=model.max_decades,
                drift_at_edge=model.drift_at_edge,
                drift_per_decade=model.drift_per_decade,
                expected_at_max=float(model.expected_error(model.max_decades)),
                expected_at_test=float(np.mean(model.expected_error(decades))),
            ),
            prediction=pred.tolist(),
            mae=float(np.mean(np.abs(pred / observed - 1))),
            seconds=time.perf_counter() - t0,
        )
        print(
            f"   {dataset['name'][:34]:34s} {law:16s} top {fraction:.0%}: mae {out['laws'][law]['mae']:.4f}, "
            f"{len(per_cut)} cuts, {out['laws'][law]['seconds']:.1f} s",
            flush=True,
        )
    out["observed"] = observed.tolist()
    return out


# ================================================================================================= rules


def _per_cut(law: dict, near: bool) -> pd.Series:
    s = pd.Series(law["mean_abs"], index=law["cuts"], dtype=float)
    return s[s.index <= SCORE_CUTS + 1e-9] if near else s


def _lowest(laws: dict[str, dict], order: list[str]) -> str | None:
    scores = {n: _per_cut(laws[n], True).mean() for n in order if len(_per_cut(laws[n], True))}
    return min(scores, key=lambda n: (scores[n], order.index(n))) if scores else None


def _far_weighted(laws: dict[str, dict], order: list[str]) -> str | None:
    scores = {}
    for n in order:
        s = _per_cut(laws[n], False)
        if len(s):
            scores[n] = float(np.sum(s.to_numpy() * s.index.to_numpy()) / np.sum(s.index.to_numpy()))
    return min(scores, key=lambda n: (scores[n], order.index(n))) if scores else None


def _one_se(laws: dict[str, dict], order: list[str], near: bool) -> str | None:
    """The default unless another law's score is lower by more than the standard error of the difference."""
    usable = [n for n in order if len(_per_cut(laws[n], near))]
    if not usable:
        return None
    default = order[0]
    if default not in usable:
        return _lowest(laws, order) if near else usable[0]
    base = _per_cut(laws[default], near)
    better = {}
    for n in usable[1:]:
        other = _per_cut(laws[n], near)
        common = base.index.intersection(other.index)
        if len(common) == len(base) == len(other) and len(common) >= 2:  # paired per-cut difference
            d = (other[common] - base[common]).to_numpy()
            gain, se = -d.mean(), d.std(ddof=1) / math.sqrt(d.size)
        elif len(base) >= 2 and len(other) >= 2:  # difference of per-cut means
            gain = base.mean() - other.mean()
            se = math.sqrt(base.var(ddof=1) / len(base) + other.var(ddof=1) / len(other))
        else:
            continue
        if gain > se:
            better[n] = other.mean()
    return min(better, key=better.get) if better else default


def evaluate(split: dict) -> dict:
    """Held-out mae of every single law and of every rule on one split (rules read training backtests only)."""
    order = [n for n, v in split["laws"].items()]
    laws = {n: v for n, v in split["laws"].items() if "error" not in v}
    order = [n for n in order if n in laws]
    observed = np.asarray(split["observed"], float)
    row = dict(dataset=split["dataset"], family=split["family"], outer=split["outer"])
    for n in laws:
        row[f"mae_{n}"] = laws[n]["mae"]
    picks = {
        "lowest": _lowest(laws, order),
        "one_se": _one_se(laws, order, near=True),
        "far_weighted": _far_weighted(laws, order),
        "one_se_all": _one_se(laws, order, near=False),
    }
    for rule, pick in picks.items():
        row[f"rule_{rule}"] = laws[pick]["mae"] if pick else math.nan
        row[f"pick_{rule}"] = pick
    frames = {
        n: pd.DataFrame({"cut": v["cuts"], "row": range(len(v["cuts"])), "log_error": np.sqrt(v["mean_sq"])})
        for n, v in laws.items()
    }
    # law_weights reads the per-cut mean square: one row per cut with |e| = rms reproduces it exactly
    weights = law_weights(frames)
    w = {n: x for n, x in weights.items() if x > 0}
    logs = sum(w[n] * np.log(np.asarray(laws[n]["prediction"])) for n in w) / sum(w.values())
    row["rule_averaged"] = float(np.mean(np.abs(np.exp(logs) / observed - 1)))
    row["weights"] = weights
    return row


def family_table(per_split: pd.DataFrame) -> pd.DataFrame:
    """Per half and family: each rule's mean mae over splits, the hindsight-best single law's and the ratios."""
    rows = []
    for (half, family), g in per_split.groupby(["half", "family"]):
        singles = {c[4:]: g[c].mean() for c in g.columns if c.startswith("mae_") and g[c].notna().all()}
        best = min(singles, key=singles.get)
        entry = dict(half=half, family=family, splits=len(g), best_single=best, best_mae=singles[best])
        for rule in RULES:
            entry[rule] = g[f"rule_{rule}"].mean()
            entry[f"{rule}_ratio"] = entry[rule] / singles[best]
        rows.append(entry)
    return pd.DataFrame(rows)


def pooled_table(families: pd.DataFrame) -> pd.DataFrame:
    """Splits-weighted mean over families of each rule's ratio to the family's hindsight-best single law."""
    rows = []
    for (half, real), g in families.assign(real=families["family"].map(calibration.is_real)).groupby(["half", "real"]):
        rows.append(
            dict(
                half=half,
                set="real" if real else "synthetic",
                **{r: float(np.average(g[f"{r}_ratio"], weights=g["splits"])) for r in RULES},
            )
        )
    for half, g in families.groupby("half"):
        rows.append(
            dict(half=half, set="all", **{r: float(np.average(g[f"{r}_ratio"], weights=g["splits"])) for r in RULES})
        )
    return pd.DataFrame(rows)


# ================================================================================================= lofo


def load_cache(which: str) -> list[dict]:
    """The cached splits of one set (``--set``), each tagged with its set."""
    path = RESULTS / f"law_choice_splits_{which}.jsonl"
    return [{**json.loads(line), "set": which} for line in path.read_text().splitlines()]


def run_lofo(path: Path) -> int:
    """Every rule of :mod:`law_choice_rules` on dev + fresh: plain pooled and leave-one-group-out ratios."""
    splits = load_cache("dev") + load_cache("fresh")
    table = law_choice_rules.lofo(splits)
    print(f"== {len(splits)} splits, groups {sorted({law_choice_rules.group_key(s) for s in splits})}")
    print("   ratio of sums of mean |relative error| to the hindsight-best single law per family (set:family)")
    print(f"   {'rule':18s} {'LOFO':>7s} {'LOFO fam':>8s} {'plain best':>10s}  constants (plain best)")
    for r in sorted(table, key=lambda r: r["lofo_ratio"]):
        print(
            f"   {r['rule']:18s} {r['lofo_ratio']:7.3f} {r['lofo_mean_family_ratio']:8.3f} "
            f"{r['best_plain_ratio']:10.3f}  {r['best_plain_constants']}"
        )
    print("\n== plain pooled ratio at every constant")
    for r in table:
        for p in r["plain"]:
            print(f"   {r['rule']:18s} {json.dumps(p['constants']):32s} {p['ratio']:.3f}")
    print("\n== LOFO ratio per family (constants chosen without the family's group)")
    fams = list(table[0]["lofo_per_family"])
    print(f"   {'family':34s} " + " ".join(f"{r['rule'][:9]:>9s}" for r in table))
    for f in fams:
        print(f"   {f[:34]:34s} " + " ".join(f"{r['lofo_per_family'][f]:9.3f}" for r in table))
    print("\n== LOFO constants per left-out group")
    for r in table:
        if len(law_choice_rules.RULES[r["rule"]][1]) > 1:
            print(f"   {r['rule']:18s} {r['lofo_constants']}")
    for which in ("dev", "fresh"):
        part = [s for s in splits if s["set"] == which]
        pooled = law_choice_rules.frozen_report(part, FROZEN)["pooled"]
        print(
            f"   {which}: ratio of sums, lowest / averaged / frozen {FROZEN}: "
            + ", ".join(f"{k} {v['lowest']:.3f} / {v['averaged']:.3f} / {v['frozen']:.3f}" for k, v in pooled.items())
        )
    nested = law_choice_rules.nested_lofo(splits)
    print(f"\n== nested LOFO (rule and constants both chosen without the group): {nested['ratio']:.3f}")
    for grp, (rule, consts) in nested["chosen"].items():
        print(f"   {grp:16s} {rule} {consts}")
    env = _common.environment()
    payload = {"environment": env, "splits": len(splits), "rules": table, "nested": nested}
    path.write_text(json.dumps(payload, indent=1, default=str))
    return 0


# ================================================================================================= main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: two datasets")
    ap.add_argument("--set", dest="which", choices=tuple(SETS), default="dev", help="which datasets (default dev)")
    ap.add_argument("--cache", type=Path, default=None, help="default results/law_choice_splits_SET.jsonl")
    ap.add_argument("--json", type=Path, default=None, help="default results/law_choice_SET.json")
    ap.add_argument("--lofo", action="store_true", help="score every candidate rule on the dev + fresh caches")
    args = ap.parse_args(argv)
    if args.lofo:
        warnings.simplefilter("ignore")
        return run_lofo(args.json or RESULTS / "law_choice_lofo.json")
    args.cache = args.cache or RESULTS / f"law_choice_splits_{args.which}.jsonl"
    args.json = args.json or RESULTS / f"law_choice_{args.which}.json"
    warnings.simplefilter("ignore")
    env = _common.environment()
    print(f"law_choice: {env['date']}, git {env['git_commit']}, {env['cpu_count']} cores, scalelaw {env['scalelaw']}")
    datasets = [d for d in SETS[args.which]() if len(d["laws"]) > 1]
    if args.quick:
        datasets = [datasets[0], next(d for d in datasets if d["family"].endswith("syn_m4"))]
    half = calibration.halves(datasets) if args.which == "dev" else {d["name"]: args.which for d in datasets}
    done = {}
    if args.cache.exists():
        for line in args.cache.read_text().splitlines():
            s = json.loads(line)
            done[(s["dataset"], s["outer"])] = s
    for d in datasets:
        for fraction in d.get("outer", calibration.OUTER):
            if (d["name"], fraction) in done:
                continue
            s = run_split(d, fraction)
            done[(d["name"], fraction)] = s
            with args.cache.open("a") as fh:
                fh.write(json.dumps(s) + "\n")
    wanted = {(d["name"], f) for d in datasets for f in d.get("outer", calibration.OUTER)}
    per_split = pd.DataFrame([evaluate(s) for k, s in done.items() if k in wanted])
    per_split["half"] = per_split["dataset"].map(half)
    families = family_table(per_split)
    pooled = pooled_table(families)
    pd.set_option("display.width", 250)
    print("\n== mean held-out mae per family (rules read the training part's backtests only)")
    cols = ["half", "family", "splits", "best_single", "best_mae", *RULES]
    print(families[cols].round(4).to_string(index=False))
    print("\n== ratio to the hindsight-best single law per family")
    print(families[["half", "family", "splits", *(f"{r}_ratio" for r in RULES)]].round(3).to_string(index=False))
    print("\n== pooled: splits-weighted mean ratio to the hindsight-best single law")
    print(pooled.round(3).to_string(index=False))
    tune = pooled[(pooled["half"] == "tune") & (pooled["set"] == "all")]
    chosen = min(RULES, key=lambda r: tune.iloc[0][r]) if len(tune) else None
    if chosen:
        print(f"\n   best rule on the tuning half (pooled): {chosen}")
    wins = {}
    for half_name, g in families.groupby("half"):
        wins[half_name] = {
            r: f"{int((g[f'{r}_ratio'] < g['lowest_ratio'] - 1e-9).sum())} better, "
            f"{int((g[f'{r}_ratio'] > g['lowest_ratio'] + 1e-9).sum())} worse of {len(g)}"
            for r in RULES
            if r != "lowest"
        }
        print(f"   families where a rule beats / loses to 'lowest' ({half_name}): {wins[half_name]}")
    picks = per_split.groupby(["half", "family"])[[f"pick_{r}" for r in RULES if r != "averaged"]].agg(
        lambda s: ",".join(f"{k}:{v}" for k, v in s.value_counts().items())
    )
    print("\n== picks per family")
    print(picks.to_string())
    frozen = None
    if FROZEN is not None:
        tagged = [{**s, "set": args.which} for k, s in done.items() if k in wanted]
        frozen = law_choice_rules.frozen_report(tagged, FROZEN)
        print(f"\n== today's rule, averaged and the frozen rule {FROZEN} against the hindsight-best single law")
        print(pd.DataFrame(frozen["per_family"]).round(4).to_string(index=False))
        print(
            "   pooled ratio of sums:", {k: {r: round(v, 3) for r, v in x.items()} for k, x in frozen["pooled"].items()}
        )
    payload = {
        "environment": env,
        "frozen_rule": frozen,
        "rules": list(RULES),
        "chosen_on_tuning_half": chosen,
        "families_vs_lowest": wins,
        "pooled": pooled.to_dict("records"),
        "families": families.to_dict("records"),
        "splits": per_split.to_dict("records"),
    }
    args.json.write_text(json.dumps(payload, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
