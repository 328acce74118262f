"""Trend shape (inverse, U-shaped and inverted-U scaling) and the multiple-choice chain (Schaeffer et al. 2024).

No table of per-model numbers from the Inverse Scaling Prize (McKenzie et al. 2023) or from Wei et al. (2022,
"Inverse scaling can become U-shaped") was at hand (their results are figures), so the shape tests are recovery
tests: per-question 0/1 scores drawn from a known accuracy curve, with the truth checked against the verdict, the
turning point against its interval, and the false-turn rate on curves that only flatten.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit, logit

from scalelaw import DataError, datasets
from scalelaw.topics.emergence import compare_metrics
from scalelaw.topics.multiple_choice import STAGES, choice_scores, multiple_choice
from scalelaw.topics.trend import lower_is_better, trend_shape

#: Eight model sizes over four decades, as in a model family's ladder.
SIZES = np.logspace(8, 12, 9)


def questions(accuracy: np.ndarray, n: int = 300, seed: int = 0) -> pd.DataFrame:
    """0/1 scores of ``n`` questions per model: the model's accuracy shifted by a per-question difficulty."""
    rng = np.random.default_rng(seed)
    difficulty = rng.normal(0.0, 1.0, n)
    p = expit(logit(accuracy)[:, None] + difficulty[None, :])
    score = (rng.random(p.shape) < p).astype(float)
    return pd.DataFrame(
        {
            "params": np.repeat(SIZES, n),
            "model": np.repeat([f"m{i}" for i in range(len(SIZES))], n),
            "question": np.tile(np.arange(n), len(SIZES)),
            "correct": score.ravel(),
        }
    )


X = np.log10(SIZES)
U_CURVE = 0.4 + 0.08 * (X - np.log10(3e10)) ** 2  # Wei et al.'s shape: worse, then better, lowest at 3e10
FALLING = 0.8 - 0.05 * (X - 8)  # an inverse-scaling task: 0.80 down to 0.60
SATURATING = 0.9 - 0.6 * np.exp(-1.2 * (X - 8))  # rises, then flattens: no turn


def test_recovers_a_u_shape_and_its_turning_point():
    """Truth: a U with its minimum at 3e10 params. Found: U-shaped, 'worsens, then improves', and the 90%
    interval of the turning point (bootstrap by question) holds 3e10."""
    row = trend_shape(questions(U_CURVE), ["correct"], by="question").row("correct")
    assert row["shape"] == "U-shaped" and row["non_monotone"] and not row["inverse"]
    assert row["direction"].startswith("worsens, then improves")
    assert row["turning_low"] < 3e10 < row["turning_high"]
    assert row["p_u"] < 0.05 and row["slope_before"] < 0 < row["slope_after"]


def test_recovers_inverse_scaling_and_the_direction():
    """Truth: accuracy falls linearly in log params, 0.05 per decade. Found: falling, inverse, slope interval holds
    the truth's slope of the mean accuracy (lower than 0.05 in size: the difficulty spread flattens it)."""
    data = questions(FALLING)
    row = trend_shape(data, ["correct"], by="question").row("correct")
    assert row["shape"] == "falling" and row["inverse"] and not row["non_monotone"]
    means = data.groupby("params")["correct"].mean()
    ols = np.polyfit(np.log10(means.index), means.to_numpy(), 1)[0]
    assert row["slope"] == pytest.approx(ols, rel=1e-9)
    assert row["slope_low"] < ols < row["slope_high"] < 0


def test_a_loss_that_rises_then_falls_reads_as_worse_then_better():
    params = np.logspace(8, 12, 9)
    loss = 3.0 - 0.1 * (np.log10(params) - 10) ** 2
    row = trend_shape(pd.DataFrame({"params": params, "val_loss": loss}), n_boot=200).row("val_loss")
    assert row["better"] == "lower" and row["shape"] == "inverted-U"
    assert row["direction"] == "worsens, then improves (U-shaped scaling)"
    assert row["turning"] == pytest.approx(1e10, rel=1e-6)


def test_curves_that_only_flatten_are_rarely_called_a_turn():
    """The quadratic alone calls every saturating curve an inverted U (its end slope is negative); the two lines
    call it rising. Over 20 draws at level 0.9 (each side tested at 5%), at most 2 false turns."""
    shapes = [
        trend_shape(questions(SATURATING, seed=s), ["correct"], by="question", n_boot=300).row("correct")["shape"]
        for s in range(20)
    ]
    assert shapes.count("inverted-U") <= 2 and shapes.count("rising") >= 18
    monotone = [
        trend_shape(questions(FALLING, seed=s), ["correct"], by="question", n_boot=300).row("correct")["shape"]
        for s in range(10)
    ]
    assert set(monotone) == {"falling"}


def test_two_turns_are_not_monotone():
    """Truth: up, down, up (a sine over four decades). The isotonic test rejects every monotone curve; a draw the
    two lines do not read as one U is 'non-monotone'. A monotone truth keeps p_monotone large."""
    wave = 0.6 + 0.12 * np.sin(2.2 * (X - 8))
    rows = [trend_shape(questions(wave, seed=s), ["correct"], by="question", n_boot=300).row("correct") for s in (0, 1)]
    assert all(r["p_monotone"] < 0.01 and r["non_monotone"] for r in rows)
    assert {r["shape"] for r in rows} <= {"non-monotone", "U-shaped"} and "non-monotone" in {r["shape"] for r in rows}
    assert trend_shape(questions(FALLING), ["correct"], by="question", n_boot=300).row("correct")["p_monotone"] > 0.2


def test_bootstrap_by_model_and_default_unit():
    data = questions(U_CURVE).groupby(["model", "params"], as_index=False)["correct"].mean()
    shape = trend_shape(data, ["correct"])
    assert shape.by == "model" and shape.row("correct")["n_groups"] == 9
    assert any("only 9 resampled units" in note for note in shape.notes)
    assert shape.to_dict()["metrics"][0]["metric"] == "correct"


def test_pythia_tasks_rise_or_stay_flat():
    """Real data (the bundled Pythia evaluations, EleutherAI, zero-shot accuracy at the final checkpoint): no task
    of the suite is inverse or U-shaped for either Pile, LAMBADA rises fastest, WSC shows no clear trend."""
    evals = datasets.load("pythia_evals")
    final = evals[(evals["step"] == 143000) & (evals["num_fewshot"] == 0) & (evals["metric"] == "acc")]
    for deduped in (False, True):
        table = final[final["deduped"] == deduped].pivot(index=["model", "params"], columns="task", values="value")
        tasks = trend_shape(table.reset_index(), n_boot=400).to_frame().set_index("metric")
        assert len(tasks) == 9 and set(tasks["shape"]) <= {"rising", "flat"}, tasks["shape"]
        assert tasks["slope"].idxmax() == "lambada_openai" and tasks.loc["wsc", "shape"] == "flat"


def test_flat_noise_is_flat():
    rng = np.random.default_rng(3)
    data = pd.DataFrame({"params": np.repeat(SIZES, 20), "score": rng.normal(0.5, 0.05, 9 * 20)})
    assert trend_shape(data, n_boot=300).row("score")["shape"] == "flat"


def test_lower_is_better_reads_names():
    assert lower_is_better("loss") and lower_is_better("top1_error") and lower_is_better("brier")
    assert not lower_is_better("accuracy") and not lower_is_better("exact_match")


@pytest.mark.parametrize(
    ("table", "kwargs", "message"),
    [
        (pd.DataFrame({"params": [1e8, 1e9, 1e10], "acc": [0.5, 0.4, 0.3]}), {}, "at least 4 distinct scales"),
        (pd.DataFrame({"params": SIZES, "acc": ["a"] * 9}), {"metrics": ["acc"]}, "non-numeric"),
        (pd.DataFrame({"params": SIZES, "acc": 0.5}), {"by": "run"}, "by='run' is not a column"),
        (pd.DataFrame({"params": SIZES}), {}, "no metric column"),
        (pd.DataFrame({"params": -SIZES, "acc": 0.5}), {}, "non-positive"),
        (pd.DataFrame({"flops": SIZES, "acc": 0.5}), {}, "needs column"),
        (pd.DataFrame({"params": SIZES, "acc": 0.5}), {"lower": ["loss"]}, "not analysed metrics"),
    ],
)
def test_bad_tables_are_named(table, kwargs, message):
    with pytest.raises(DataError, match=message):
        trend_shape(table, n_boot=50, **kwargs)


# ------------------------------------------------------------------------------ emergence sees the direction


def test_emergence_no_longer_calls_a_falling_metric_proportional():
    """Issue 19: accuracy falling 0.80 -> 0.60 was 'every metric changes in proportion to log params'."""
    params = np.logspace(8, 10, 9)
    table = pd.DataFrame({"params": params, "acc": np.linspace(0.8, 0.6, 9), "nll": np.linspace(1.0, 0.8, 9)})
    result = compare_metrics(table, metrics=["acc", "nll"], kinds={"acc": "score", "nll": "loss"})
    assert result.diagnosis == "inverse"
    assert "proportion" not in result.verdict and "acc worsens (inverse scaling)" in result.verdict
    rows = result.table.set_index("metric")
    assert rows.loc["acc", "trend"] == "falling" and rows.loc["acc", "worsens"]
    assert rows.loc["nll", "direction"] == "improves" and not rows.loc["nll", "worsens"]
    turned = compare_metrics(
        table.assign(acc=0.6 + 0.2 * (np.log10(params) - 9) ** 2),
        metrics=["acc", "nll"],
        kinds={"acc": "score", "nll": "loss"},
    )
    assert turned.diagnosis == "non-monotone" and "U-shaped" in turned.verdict
    steady = compare_metrics(table.assign(acc=np.linspace(0.6, 0.8, 9)), kinds={"acc": "score", "nll": "loss"})
    assert steady.diagnosis == "smooth" and "improves steadily" in steady.verdict
    three = compare_metrics(table.iloc[::4], metrics=["acc", "nll"], kinds={"acc": "score", "nll": "loss"})
    assert three.diagnosis == "inverse" and three.table.set_index("metric").loc["acc", "trend"] == "worsening"


def test_missing_values_leave_their_rows_out_with_a_note():
    data = pd.DataFrame({"params": np.repeat(SIZES, 2), "acc": np.repeat(FALLING, 2)})
    data.loc[[0, 5], "acc"] = np.nan
    shape = trend_shape(data, n_boot=100)
    assert shape.row("acc")["n_rows"] == 16 and shape.row("acc")["shape"] == "falling"
    assert any("acc: 2 row(s) without a value" in note for note in shape.notes)


# ------------------------------------------------------------------------------------------ multiple choice


def choices(n_models: int = 9, n_questions: int = 150, seed: int = 0) -> pd.DataFrame:
    """Known truth: log p_vocab(correct) is exactly linear in log10 compute for every question (slope 0.8),
    while each incorrect choice's log-probability wanders from model to model (sd 1.5 nats)."""
    rng = np.random.default_rng(seed)
    flops = np.logspace(20, 24, n_models)
    m, q, c = np.meshgrid(np.arange(n_models), np.arange(n_questions), np.arange(4), indexing="ij")
    base = rng.normal(-7.0, 0.5, n_questions)
    right = base[q] + 0.8 * (np.log10(flops)[m] - 22)
    wrong = np.minimum(-6.0 + 0.6 * (np.log10(flops)[m] - 22) + rng.normal(0.0, 1.5, m.shape), np.log(0.2))
    return pd.DataFrame(
        {
            "model": np.array([f"m{i}" for i in range(n_models)])[m].ravel(),
            "flops": flops[m].ravel(),
            "question": q.ravel(),
            "choice": np.array(list("abcd"))[c].ravel(),
            "logprob": np.where(c == 0, right, wrong).ravel(),
            "correct": (c == 0).ravel().astype(int),
        }
    )


def test_choice_scores_match_closed_forms():
    p = np.array([0.2, 0.1, 0.1, 0.05])
    table = pd.DataFrame(
        {"model": "m", "params": 1e9, "question": 0, "choice": list("abcd"), "logprob": np.log(p), "correct": 0}
    ).assign(correct=[0, 1, 0, 0])
    row = choice_scores(table).iloc[0]
    share = p / p.sum()
    assert row["log_p_vocab"] == pytest.approx(np.log(0.1))
    assert row["mass"] == pytest.approx(0.45) and row["p_choices"] == pytest.approx(0.1 / 0.45)
    assert row["accuracy"] == 0.0
    assert row["brier"] == pytest.approx(np.sum((share - [0, 1, 0, 0]) ** 2))
    tie = choice_scores(table.assign(logprob=np.log([0.2, 0.2, 0.1, 0.05]))).iloc[0]
    assert tie["accuracy"] == 0.5  # a tie for the top counts half


def test_the_chain_loses_the_trend_step_by_step():
    """Schaeffer et al. 2024's finding, on data with known truth: log p_vocab(correct) tracks log compute exactly
    (per-question Pearson 1), and each later stage less: p_vocab > p_choices > accuracy."""
    result = multiple_choice(choices(), scale="flops", n_boot=300)
    stages = result.stages.set_index("stage")["per_question"]
    assert list(result.stages["stage"]) == list(STAGES)
    assert stages["log_p_vocab"] == pytest.approx(1.0, abs=1e-12)
    assert stages["log_p_vocab"] > stages["p_vocab"] > stages["p_choices"] > stages["accuracy"]
    low, high = result.stages.set_index("stage").loc["accuracy", ["per_question_low", "per_question_high"]]
    assert low < stages["accuracy"] < high
    assert result.per_model["flops"].is_monotonic_increasing and len(result.per_model) == 9
    spearman = multiple_choice(choices(), scale="flops", method="spearman", n_boot=100).stages.set_index("stage")
    assert spearman.loc["p_vocab", "per_question"] == pytest.approx(spearman.loc["log_p_vocab", "per_question"])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.assign(logprob=0.5), "positive log-probabilities"),
        (lambda t: t.assign(correct=0), "exactly one correct choice"),
        (lambda t: t.assign(correct=2), "0/1"),
        (lambda t: t[~((t["model"] == "m1") & (t["question"] == 3))], "missing, e.g. model 'm1'"),
        (lambda t: pd.concat([t, t.iloc[:1]]), "choices repeat"),
        (lambda t: t.assign(logprob=np.log(0.9)), "sum above 1"),
        (lambda t: t[t["model"].isin(["m0", "m1"])], "at least 3 models"),
        (lambda t: t.drop(columns="choice"), "needs column"),
    ],
)
def test_bad_choice_tables_are_named(change, message):
    with pytest.raises(DataError, match=message):
        multiple_choice(change(choices(n_models=4, n_questions=5)), scale="flops", n_boot=20)
