"""Which law to trust: the one that extrapolated best in the data's own rolling backtests.

In-sample fit rewards flexibility; what a scaling law is for is extrapolation. ``law="auto"`` fits every
candidate on all the runs and backtests each at the same rolling cuts (:mod:`.extrapolation_error`): the
candidate whose held-out error is smallest wins. The score is the mean over the near cuts (up to 30% of
the runs held out, the distances asked of a law most often) of each cut's mean absolute log error; on the
tuning half of the calibration study it chose better than the median over all cuts, the mean over all
cuts or the worst cut (``benchmarks/calibration.py``).

The same backtests weigh the candidates (:func:`law_weights`, a pseudo Bayesian model average over the
near cuts). The weights define the averaged prediction and the law-choice part of a total interval: the
weighted spread of the candidates' predictions around the chosen one.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from scalelaw.data.io import load_runs
from scalelaw.errors import FitError, LawError
from scalelaw.fitting.choice import CHOICE_COLUMNS, LawChoice
from scalelaw.fitting.fit import fit
from scalelaw.fitting.result import FitResult
from scalelaw.trust.extrapolation_error import DEFAULT_FRACTIONS, ExtrapolationError, learn

#: Candidates for runs with parameters and tokens (``data_constrained`` joins when there are unique tokens).
CANDIDATES_ND = ("chinchilla", "overtrain", "kaplan")
#: Candidates for one input (``flops`` or the column given with ``x=``).
CANDIDATES_1D = ("power", "bnsl")
#: The cuts that score a law: those holding out at most this share of the runs.
SCORE_CUTS = 0.3


def default_candidates(columns: Sequence[str]) -> tuple[str, ...]:
    """Catalog laws ``auto`` compares on data with these columns."""
    present = set(columns)
    if {"params", "tokens"} <= present:
        return (*CANDIDATES_ND, *(("data_constrained",) if "unique_tokens" in present else ()))
    return CANDIDATES_1D


def score(points: pd.DataFrame) -> float:
    """Mean over the cuts holding out at most :data:`SCORE_CUTS` of the runs of their mean absolute log error."""
    near = points[points["cut"] <= SCORE_CUTS + 1e-9]
    if near.empty:
        return math.inf
    return float(near.assign(a=near["log_error"].abs()).groupby("cut")["a"].mean().mean())


def law_weights(points: Mapping[str, pd.DataFrame]) -> dict[str, float]:
    """Weights of the candidates from their near cuts' held-out errors (pseudo Bayesian model averaging).

    Each law's held-out log errors are read as Gaussian with its own mean square ``m`` (per cut, then
    averaged over the ``K`` near cuts); its likelihood over ``K`` independent cuts is ``m ** (-K / 2)``, and
    the weights are those likelihoods normalized. ``K`` cuts, not their hundreds of rows, count: the rows of
    one cut share one refit. Stacking weights were tried first and dropped: on a 35-model ladder they gave
    Kaplan's law, which misses the largest runs by 13%, a weight of 0.12 for its anti-correlated errors.

    Examples
    --------
    >>> a = pd.DataFrame({"cut": [0.1, 0.2], "row": [0, 1], "log_error": [0.01, 0.01]})
    >>> b = pd.DataFrame({"cut": [0.1, 0.2], "row": [0, 1], "log_error": [0.02, 0.02]})
    >>> {k: round(v, 3) for k, v in law_weights({"a": a, "b": b}).items()}
    {'a': 0.8, 'b': 0.2}
    """
    log_like = {}
    for name, p in points.items():
        near = p[p["cut"] <= SCORE_CUTS + 1e-9]
        if near.empty:
            continue
        per_cut = near.assign(e2=near["log_error"] ** 2).groupby("cut")["e2"].mean()
        log_like[name] = -0.5 * per_cut.size * math.log(max(float(per_cut.mean()), 1e-300))
    if not log_like:
        return dict.fromkeys(points, 1.0 / len(points))
    top = max(log_like.values())
    raw = {name: math.exp(v - top) for name, v in log_like.items()}
    total = sum(raw.values())
    return {name: raw.get(name, 0.0) / total for name in points}


def choose_law(
    runs: Any,
    candidates: Sequence[str] | None = None,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    **fit_kwargs: Any,
) -> tuple[LawChoice, dict[str, FitResult], dict[str, ExtrapolationError]]:
    """Fit every candidate on all ``runs``, backtest each at the same rolling cuts, choose the best extrapolator.

    Parameters
    ----------
    runs : Runs, DataFrame, dict of arrays, path or ``"dataset:NAME"``
        The observations.
    candidates : sequence of str, optional
        Catalog law names; by default :func:`default_candidates` of the data's columns.
    fractions : sequence of float
        Rolling cuts (shares of runs held out).
    **fit_kwargs
        Passed to every :func:`scalelaw.fit` (``y``, ``loss``, ``delta``, ``weights``, ``law_options``...).

    Returns
    -------
    choice : LawChoice
    fits : dict of str to FitResult
        Every candidate that could be fitted, on all the runs.
    errors : dict of str to ExtrapolationError
        Their rolling backtests and law-error models.

    Raises
    ------
    FitError
        No candidate could be fitted and backtested.
    """
    runs = load_runs(runs)
    names = tuple(candidates) if candidates else default_candidates(runs.columns)
    if "auto" in names:
        raise LawError("'auto' cannot be its own candidate; name catalog laws")
    fits: dict[str, FitResult] = {}
    errors: dict[str, ExtrapolationError] = {}
    rows = []
    for name in names:
        row: dict[str, Any] = {"law": name, "score": math.inf, "weight": 0.0, "n_cuts": 0, "error": ""}
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = fit(name, runs, **fit_kwargs)
                model = learn(result, fractions)
        except Exception as exc:  # a candidate the data cannot support is reported in its row, not fatal
            row["error"] = f"{type(exc).__name__}: {exc}"
            rows.append(row)
            continue
        fits[name], errors[name] = result, model
        row.update(score=score(model.points), n_cuts=model.n_cuts)
        rows.append(row)
    scored = [r["law"] for r in rows if math.isfinite(r["score"])]
    if not scored:
        detail = "; ".join(f"{r['law']}: {r['error'] or 'no usable backtest cut'}" for r in rows)
        raise FitError(f"no candidate law could be fitted and backtested ({detail})")
    weights = law_weights({name: errors[name].points for name in scored})
    for r in rows:
        r["weight"] = weights.get(r["law"], 0.0)
    chosen = min(scored, key=lambda n: (next(r["score"] for r in rows if r["law"] == n), scored.index(n)))
    choice = LawChoice(
        chosen=chosen,
        table=pd.DataFrame(rows, columns=list(CHOICE_COLUMNS)),
        candidates={n: (fits[n].law, fits[n].values) for n in scored},
        fractions=tuple(float(f) for f in fractions),
    )
    return choice, fits, errors


def fit_auto(runs: Any, candidates: Sequence[str] | None = None, **fit_kwargs: Any) -> FitResult:
    """The fit of the law that extrapolates best in rolling backtests, carrying the choice (``law="auto"``).

    The returned fit is the chosen candidate's, with :attr:`~scalelaw.FitResult.law_choice` set; its
    law-error model is the one the choice measured, so total intervals need no further backtests.

    Examples
    --------
    >>> import scalelaw, warnings
    >>> warnings.simplefilter("ignore")
    >>> result = scalelaw.fit("auto", "dataset:gadre2024_rpj")
    >>> result.law_choice.chosen == result.law.name, sorted(result.law_choice.weights)
    (True, ['chinchilla', 'kaplan', 'overtrain'])
    """
    choice, fits, errors = choose_law(runs, candidates, **fit_kwargs)
    return dataclasses.replace(fits[choice.chosen], law_choice=choice, extrapolation=errors[choice.chosen])
