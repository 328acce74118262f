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

Result (git ed7eda6, ``benchmarks/results/law_choice.json``): pooled over every family, the splits-weighted
ratio to the hindsight-best single law was, tuning / held half, ``lowest`` 1.034 / 1.218, ``one_se`` 1.088 /
1.227, ``averaged`` 1.018 / 1.120, ``far_weighted`` 1.169 / 1.267, ``one_se_all`` 1.140 / 1.299. No selection
rule beat today's on the tuning half; the averaged prediction was lowest there only by 1.6% (4 families
better, 3 worse), so the library's choice is unchanged. On the held Gadre suites every selection rule stays
at about 2.1x (kaplan's near-cut backtests beat chinchilla's by more than their noise at the 30% outer cut).

Usage::

    python benchmarks/law_choice.py                # fits cached in benchmarks/results/law_choice_splits.jsonl
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

import scalelaw  # noqa: E402
from scalelaw.data.runs import Runs  # noqa: E402
from scalelaw.trust.extrapolation_error import learn  # noqa: E402
from scalelaw.trust.holdout import HoldoutSpec, split_runs  # noqa: E402
from scalelaw.trust.law_choice import SCORE_CUTS, default_candidates, law_weights  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
RULES = ("lowest", "one_se", "averaged", "far_weighted", "one_se_all")


# ================================================================================================= fits


def run_split(dataset: dict, fraction: float) -> dict:
    """Every candidate fitted on the training part: per-cut backtest summaries and held-out predictions."""
    frame = dataset["frame"].reset_index(drop=True).assign(_axis=lambda f: calibration._axis(f, dataset))
    split = split_runs(Runs(frame, source=dataset["name"]), HoldoutSpec("top", fraction, "_axis"))
    train, test = split.train.table.drop(columns="_axis"), split.test.table
    observed = test["loss"].to_numpy()
    options = dataset.get("law_options")
    out = dict(dataset=dataset["name"], family=dataset["family"], outer=fraction, observed=observed, laws={})
    for law in default_candidates(train.columns):
        t0 = time.perf_counter()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = scalelaw.fit(law, train, **({"law_options": options} if options else {}))
                points = learn(result).points
                pred = np.asarray(result.predict(**{c: test[c].to_numpy() for c in result.law.inputs}), float)
        except Exception as exc:  # a law that cannot fit the split is left out of its rules
            out["laws"][law] = {"error": f"{type(exc).__name__}: {exc}"}
            continue
        p = points.assign(a=points["log_error"].abs(), e2=points["log_error"] ** 2)
        per_cut = p.groupby("cut").agg(mean_abs=("a", "mean"), mean_sq=("e2", "mean"), n=("a", "size"))
        out["laws"][law] = dict(
            cuts=[float(c) for c in per_cut.index],
            mean_abs=per_cut["mean_abs"].tolist(),
            mean_sq=per_cut["mean_sq"].tolist(),
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
    for (half, real), g in families.assign(real=families["family"].isin(calibration.REAL)).groupby(["half", "real"]):
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


# ================================================================================================= main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: two datasets")
    ap.add_argument("--cache", type=Path, default=RESULTS / "law_choice_splits.jsonl")
    ap.add_argument("--json", type=Path, default=RESULTS / "law_choice.json")
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")
    env = _common.environment()
    print(f"law_choice: {env['date']}, git {env['git_commit']}, {env['cpu_count']} cores, scalelaw {env['scalelaw']}")
    datasets = [d for d in calibration.real_datasets() + calibration.synthetic_datasets() if len(d["laws"]) > 1]
    if args.quick:
        datasets = [datasets[0], next(d for d in datasets if d["family"] == "syn_m4")]
    half = calibration.halves(datasets)
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
    tune = pooled[(pooled["half"] == "tune") & (pooled["set"] == "all")].iloc[0]
    chosen = min(RULES, key=lambda r: tune[r])
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
    payload = {
        "environment": env,
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
