"""Multiple choice across scale: which step from log-probabilities to accuracy loses the trend?

Schaeffer et al. (2024, "Why has predicting downstream capabilities of frontier AI models with scale remained
elusive?") follow a multiple-choice score through a chain of transformations, each computed per model and
question from the log-probability the model gives each choice's text:

1. ``log_p_vocab``: ``log p_vocab(correct)``, the correct choice's log-probability over the whole vocabulary;
2. ``p_vocab``: ``p_vocab(correct)``;
3. ``p_choices``: ``p_vocab(correct) / sum over choices of p_vocab(choice)``, the probability among the choices;
4. ``accuracy`` (the correct choice has the highest probability) and the ``brier`` score over the choices.

Their finding is that the first stages track compute closely and every later one less so, because the later
ones depend on the probability given to the *incorrect* choices, which moves with scale in no steady way.
:func:`multiple_choice` computes every stage per model and question, the probability ``mass`` on all choices,
and how well each stage tracks log scale: the correlation of each question's score with log scale across models
(Schaeffer's per-sample correlation, averaged over questions), and the correlation of the benchmark averages,
each with a bootstrap interval over questions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from scalelaw._result import Result, jsonable
from scalelaw._validation import check_level, check_replicates
from scalelaw.errors import DataError, format_rows
from scalelaw.topics._tables import numeric, positive_scale, require_columns
from scalelaw.trust.bootstrap import quantile_interval

__all__ = ["STAGES", "MultipleChoice", "choice_scores", "multiple_choice"]

#: The chain, in order; ``mass`` (the probability on all choices) is the quantity that breaks it.
STAGES = ("log_p_vocab", "p_vocab", "mass", "p_choices", "accuracy", "brier")
#: Stages where lower is better (their correlations are reported for the negated score).
LOWER_IS_BETTER = ("brier",)
#: Log-probabilities this far above 0 are rounding in the caller's softmax; beyond it, a unit or sign error.
TOLERANCE = 1e-6


def choice_scores(
    table: pd.DataFrame,
    model: str = "model",
    scale: str = "params",
    question: str = "question",
    choice: str = "choice",
    logprob: str = "logprob",
    correct: str = "correct",
) -> pd.DataFrame:
    """Every stage of the chain for each (model, question), from per-choice log-probabilities.

    Parameters
    ----------
    table : DataFrame
        Long table, one row per (model, question, choice): the model's scale, the natural-log probability the
        model gives the choice's whole text over the vocabulary (the sum over its tokens, not a per-token mean),
        and a 0/1 flag that is 1 for the one correct choice of each question.
    model, scale, question, choice, logprob, correct : str
        Column names.

    Returns
    -------
    DataFrame
        One row per (model, question), sorted by scale then model: ``model``, the scale, ``question``,
        ``n_choices`` and the :data:`STAGES`. ``accuracy`` counts a tie for the top as ``1 / (number tied)``;
        ``brier`` is ``sum_c (p_choices(c) - 1[c correct])^2``.

    Raises
    ------
    DataError
        Missing columns or values, positive log-probabilities, a question without exactly one correct choice,
        repeated choices, a model with two scales, fewer than two choices, or choice probabilities that sum
        above 1.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> t = pd.DataFrame({"model": "m", "params": 1e9, "question": 0, "choice": ["a", "b"],
    ...                   "logprob": np.log([0.3, 0.1]), "correct": [1, 0]})
    >>> s = choice_scores(t).iloc[0]
    >>> [round(float(s[k]), 3) for k in ("mass", "p_choices", "accuracy", "brier")]
    [0.4, 0.75, 1.0, 0.125]
    """
    require_columns(table, [model, scale, question, choice, logprob, correct], "multiple_choice")
    x = positive_scale(table, scale)
    lp = numeric(table, logprob)
    bad = table.index[lp > TOLERANCE]
    if len(bad):
        raise DataError(
            f"column {logprob!r} has {len(bad)} positive log-probabilities ({format_rows(bad)}); give natural-log "
            "probabilities of each choice's text (<= 0), not probabilities or losses"
        )
    flag = numeric(table, correct)
    if not np.isin(flag, (0.0, 1.0)).all():
        raise DataError(f"column {correct!r} must hold 0/1 (or False/True) flags: 1 for the correct choice")
    keys = [model, question, choice]
    dup = table.duplicated(keys, keep=False).to_numpy()
    if dup.any():
        raise DataError(f"choices repeat for the same model and question ({format_rows(table.index[dup])})")
    frame = pd.DataFrame(
        {"model": table[model].to_numpy(), "scale": x, "question": table[question].to_numpy(), "flag": flag}
    )
    frame["lp"] = np.minimum(lp, 0.0)
    frame["p"] = np.exp(frame["lp"])
    scales = frame.groupby("model", sort=False)["scale"].nunique()
    if (scales > 1).any():
        raise DataError(f"model(s) {', '.join(map(str, scales.index[scales > 1][:5]))} have more than one {scale!r}")
    grouped = frame.groupby(["model", "question"], sort=False)
    frame["top"] = grouped["lp"].transform("max")
    frame["is_top"] = (frame["lp"] >= frame["top"] - 1e-12).astype(float)
    per = grouped.agg(
        scale=("scale", "first"),
        n_choices=("p", "size"),
        n_correct=("flag", "sum"),
        mass=("p", "sum"),
        n_top=("is_top", "sum"),
    )
    right = frame[frame["flag"] == 1.0].set_index(["model", "question"])
    _check_chain(per, right, question)
    per["log_p_vocab"] = right["lp"].reindex(per.index)
    per["p_vocab"] = np.exp(per["log_p_vocab"])
    per["p_choices"] = per["p_vocab"] / per["mass"]
    per["accuracy"] = right["is_top"].reindex(per.index) / per["n_top"]
    frame["share"] = frame["p"] / grouped["p"].transform("sum")
    frame["sq"] = (frame["share"] - frame["flag"]) ** 2
    per["brier"] = frame.groupby(["model", "question"], sort=False)["sq"].sum()
    out = per.reset_index()[["model", "scale", "question", "n_choices", *STAGES]]
    return out.sort_values(["scale", "model"], kind="stable").rename(columns={"scale": scale}).reset_index(drop=True)


def _check_chain(per: pd.DataFrame, right: pd.DataFrame, question: str) -> None:
    wrong = per.index[per["n_correct"] != 1]
    if len(wrong):
        m, q = wrong[0]
        raise DataError(
            f"{len(wrong)} (model, {question}) pair(s) do not have exactly one correct choice, e.g. model {m!r}, "
            f"{question} {q!r} has {int(per.loc[wrong[0], 'n_correct'])}"
        )
    few = per.index[per["n_choices"] < 2]
    if len(few):
        raise DataError(f"{len(few)} (model, {question}) pair(s) have fewer than 2 choices, e.g. {few[0]}")
    over = per.index[per["mass"] > 1.0 + 1e-6]
    if len(over):
        raise DataError(
            f"the choices' probabilities sum above 1 for {len(over)} (model, {question}) pair(s), e.g. {over[0]} "
            f"({per.loc[over[0], 'mass']:.3g}): give each choice's whole-text log-probability (the sum over its "
            "tokens), not a length-normalised mean"
        )


@dataclass(frozen=True)
class MultipleChoice(Result):
    """Outcome of :func:`multiple_choice`.

    Attributes
    ----------
    stages : DataFrame
        One row per stage of :data:`STAGES`, in order: ``per_question`` (mean over questions of the correlation
        of the question's score with log scale across models) with ``per_question_low``/``per_question_high``,
        ``n_questions`` (questions whose score varies across models; the others have no correlation),
        ``aggregate`` (correlation of the benchmark average with log scale, across models) with
        ``aggregate_low``/``aggregate_high``. Brier correlations are those of ``-brier``, so for every stage a
        positive correlation means "better with scale".
    per_model : DataFrame
        One row per model, sorted by scale: the mean over questions of every stage.
    scores : DataFrame
        :func:`choice_scores`' table.
    scale : str
    method : {"pearson", "spearman"}
    level : float
    n_boot : int
    notes : tuple of str
    """

    stages: pd.DataFrame
    per_model: pd.DataFrame
    scores: pd.DataFrame
    scale: str = "params"
    method: str = "pearson"
    level: float = 0.9
    n_boot: int = 1000
    notes: tuple[str, ...] = field(default=())

    def to_frame(self) -> pd.DataFrame:
        """A copy of :attr:`stages`: one row per stage with its correlations and intervals.

        Returns
        -------
        pandas.DataFrame
        """
        return self.stages.copy()

    def to_dict(self) -> dict[str, Any]:
        """Scale, method, level, replicates, notes, the stages and the per-model means (not the per-question rows)."""
        return jsonable(
            {
                "scale": self.scale,
                "method": self.method,
                "level": self.level,
                "n_boot": self.n_boot,
                "n_models": len(self.per_model),
                "n_questions": int(self.scores["question"].nunique()),
                "notes": self.notes,
                "stages": self.stages,
                "per_model": self.per_model,
            }
        )

    def summary(self) -> str:
        """Where the chain loses the trend, then one line per stage."""
        rows = self.stages.set_index("stage")
        first, last = rows.loc["log_p_vocab", "per_question"], rows.loc["accuracy", "per_question"]
        head = (
            f"multiple choice across {self.scale} ({len(self.per_model)} models, "
            f"{self.scores['question'].nunique()} questions): per-question {self.method} correlation with log "
            f"{self.scale} {first:.2f} for log p_vocab(correct), {last:.2f} for accuracy"
        )
        lines = [
            f"  {r.stage:<12} per question {r.per_question:+.3f} [{r.per_question_low:+.3f}, "
            f"{r.per_question_high:+.3f}] ({r.n_questions} q); benchmark mean {r.aggregate:+.3f} "
            f"[{r.aggregate_low:+.3f}, {r.aggregate_high:+.3f}]"
            for r in self.stages.itertuples()
        ]
        return "\n".join([head, *lines, *(f"note: {n}" for n in self.notes)])


def _ranks(a: np.ndarray) -> np.ndarray:
    """Average ranks along the last axis (ties share their mean rank), for Spearman's correlation."""
    from scipy.stats import rankdata

    return rankdata(a, axis=-1)


def _corr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation of each row of ``a`` with ``b`` (NaN for a row with no spread)."""
    da = a - a.mean(axis=-1, keepdims=True)
    db = b - b.mean()
    norm = np.sqrt((da * da).sum(axis=-1) * (db * db).sum())
    with np.errstate(divide="ignore", invalid="ignore"):
        r = (da * db).sum(axis=-1) / norm
    spread = da.std(axis=-1) > 1e-12 * np.maximum(np.abs(a).mean(axis=-1), 1e-300)
    return np.where(spread, r, np.nan)


def multiple_choice(
    table: pd.DataFrame,
    model: str = "model",
    scale: str = "params",
    question: str = "question",
    choice: str = "choice",
    logprob: str = "logprob",
    correct: str = "correct",
    method: Literal["pearson", "spearman"] = "pearson",
    level: float = 0.9,
    n_boot: int = 1000,
    seed: int = 0,
) -> MultipleChoice:
    """How well each stage from log-probabilities to accuracy tracks scale (Schaeffer et al. 2024).

    Each stage of :func:`choice_scores` is correlated with ``log(scale)`` across models in two ways: per question
    (each question's scores across the models; the mean over questions whose score varies) and for the benchmark
    average (the mean over questions per model). Both get a percentile interval from a bootstrap over questions,
    which keeps every model and redraws the test set.

    Parameters
    ----------
    table : DataFrame
        One row per (model, question, choice), as for :func:`choice_scores`; every model must answer every
        question.
    model, scale, question, choice, logprob, correct : str
        Column names.
    method : {"pearson", "spearman"}
        Correlation. Spearman's is unchanged by monotone maps, so it gives ``log_p_vocab`` and ``p_vocab`` the
        same value; Pearson's (the default) shows what the exponential does.
    level : float
    n_boot : int
        Bootstrap replicates over questions.
    seed : int

    Returns
    -------
    MultipleChoice

    Raises
    ------
    DataError
        Bad tables (see :func:`choice_scores`), a question missing for some model, fewer than 3 models with
        distinct scales, or an unknown method.
    """
    level = check_level(level)
    check_replicates(n_boot)
    if method not in ("pearson", "spearman"):
        raise DataError(f"method must be 'pearson' or 'spearman', got {method!r}")
    scores = choice_scores(table, model, scale, question, choice, logprob, correct)
    grid = scores.pivot(index="question", columns="model", values=list(STAGES))
    models = scores.drop_duplicates("model").set_index("model")[scale]
    if grid.isna().any().any():
        missing = grid["log_p_vocab"].isna()
        q = missing.any(axis=1).idxmax()
        m = missing.columns[missing.loc[q]][0]
        raise DataError(
            f"{int(missing.to_numpy().sum())} (model, {question}) pair(s) are missing, e.g. model {m!r} has no "
            f"{question} {q!r}: give every model every question (or drop the incomplete ones first)"
        )
    order = list(models.index)
    log_x = np.log(models.to_numpy(dtype=np.float64))
    if len(np.unique(log_x)) < 3:
        raise DataError(f"multiple_choice needs at least 3 models of different {scale!r}, got {len(np.unique(log_x))}")
    rng = np.random.default_rng(seed)
    n_q = len(grid)
    # Each replicate as counts per question: the means are then matrix products (memory n_boot x questions).
    counts = rng.multinomial(n_q, np.full(n_q, 1.0 / n_q), size=n_boot).astype(np.float64)
    x_used = _ranks(log_x) if method == "spearman" else log_x
    rows, notes = [], []
    for stage in STAGES:
        values = grid[stage][order].to_numpy(dtype=np.float64)  # (questions, models)
        row = _stage_row(-values if stage in LOWER_IS_BETTER else values, x_used, counts, method, level)
        rows.append({"stage": stage, **row})
        if row["n_questions"] < n_q and stage != "mass":
            notes.append(
                f"{stage}: {n_q - row['n_questions']} question(s) score the same for every model (no correlation)"
            )
    per_model = scores.groupby("model", sort=False)[[scale, *STAGES]].mean().loc[order].reset_index()
    if len(order) < 5:
        notes.append(f"only {len(order)} models: each correlation rests on very few points")
    return MultipleChoice(
        stages=pd.DataFrame(rows),
        per_model=per_model,
        scores=scores,
        scale=scale,
        method=method,
        level=level,
        n_boot=n_boot,
        notes=tuple(notes),
    )


def _stage_row(values: np.ndarray, x: np.ndarray, counts: np.ndarray, method: str, level: float) -> dict[str, Any]:
    """One stage's correlations with (ranked, for Spearman) log scale and their percentile intervals over questions."""
    spearman = method == "spearman"
    per_q = _corr(_ranks(values) if spearman else values, x)
    ok = np.isfinite(per_q)
    n_ok = int(ok.sum())
    mean_q = float(np.nanmean(per_q)) if n_ok else math.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        boot_q = (counts @ np.where(ok, per_q, 0.0)) / (counts @ ok.astype(np.float64))
    means = values.mean(axis=0)
    boot_means = counts @ values / len(values)  # (n_boot, models)
    agg = float(_corr(_ranks(means) if spearman else means, x))
    boot_agg = _corr(_ranks(boot_means) if spearman else boot_means, x)
    q_low, q_high = _interval(boot_q, level)
    a_low, a_high = _interval(boot_agg, level)
    return {
        "per_question": mean_q,
        "per_question_low": q_low,
        "per_question_high": q_high,
        "n_questions": n_ok,
        "aggregate": agg,
        "aggregate_low": a_low,
        "aggregate_high": a_high,
    }


def _interval(reps: np.ndarray, level: float) -> tuple[float, float]:
    """Percentile interval of the finite replicates (NaN with fewer than 10)."""
    reps = reps[np.isfinite(reps)]
    if len(reps) < 10:
        return math.nan, math.nan
    low, high = quantile_interval(reps[:, None], np.array([np.nan]), None, level, "percentile")
    return float(low[0]), float(high[0])
