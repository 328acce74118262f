"""Checkpoint-aware fitting: equal weight per run, dropping the start of training."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from scalelaw import DataError, fit, get_law, load_runs
from scalelaw.data.checkpoints import checkpoint_weights, drop_early

POWER = {"E": 1.5, "A": 60.0, "alpha": 0.15}


def logged_runs() -> pd.DataFrame:
    """Three runs logged 2, 5 and 10 times, at equal shares of their final tokens, plus a step column."""
    rows = []
    for run, final, n_logs in (("a", 1e9, 2), ("b", 1e10, 5), ("c", 1e11, 10)):
        for k in range(1, n_logs + 1):
            rows.append({"run": run, "params": final / 20, "tokens": final * k / n_logs, "step": 100 * k})
    frame = pd.DataFrame(rows)
    frame["loss"] = get_law("power", x="tokens").predict(POWER, tokens=frame["tokens"])
    return frame


def test_per_run_weights_give_every_run_the_same_total():
    frame = logged_runs()
    weights = checkpoint_weights(frame)
    totals = pd.Series(weights).groupby(frame["run"]).sum()
    assert totals.to_numpy() == pytest.approx([17 / 3] * 3)
    assert weights.sum() == pytest.approx(len(frame))
    assert weights[frame["run"] == "a"] == pytest.approx([17 / 6] * 2)
    assert (checkpoint_weights(frame, "per_row") == 1).all()
    # Without a run column every row is its own run: the weighting changes nothing.
    assert (checkpoint_weights(frame.drop(columns="run")) == 1).all()
    with pytest.raises(DataError, match="unknown weighting scheme 'per_step'"):
        checkpoint_weights(frame, "per_step")


def test_per_run_weights_stop_a_densely_logged_run_from_deciding_the_fit():
    # Five short runs follow the law; one run logged 60 times sits 4% above it. Unweighted, the
    # long run outvotes the rest (a Huber fit is nearly a median); weighted per run it counts once.
    short = pd.DataFrame({"run": [f"s{i}" for i in range(5)], "tokens": np.geomspace(1e8, 1e12, 5)})
    long = pd.DataFrame({"run": "long", "tokens": np.geomspace(1e8, 1e12, 60)})
    frame = pd.concat([short, long], ignore_index=True)
    frame["loss"] = get_law("power", x="tokens").predict(POWER, tokens=frame["tokens"])
    frame.loc[frame["run"] == "long", "loss"] *= 1.04
    runs = load_runs(frame)
    law = get_law("power", x="tokens")
    on_short = frame["run"] != "long"

    def miss_on_short(result) -> float:
        predicted = result.predict(frame[on_short])
        return float(np.median(np.abs(np.log(predicted / frame.loc[on_short, "loss"]))))

    unweighted = fit(law, runs)
    weighted = fit(law, runs, weights=checkpoint_weights(runs))
    assert miss_on_short(unweighted) > 0.03
    assert miss_on_short(weighted) < 0.005
    assert weighted.data.weights == pytest.approx(checkpoint_weights(runs))


def test_drop_early_removes_the_start_of_each_run():
    frame = logged_runs()
    kept = drop_early(frame, fraction=0.25)
    # Run a keeps 50% and 100%; b keeps 40%..100%; c keeps 30%..100% (25% of its tokens is 2.5 logs in).
    assert kept.table.groupby("run").size().to_dict() == {"a": 2, "b": 4, "c": 8}
    assert kept.notes[-1].startswith("dropped the first 0.25 of each run's training")
    assert "3 of 17 rows" in kept.notes[-1]
    by_step = drop_early(frame, fraction=0.5, by="step")
    assert by_step.table.groupby("run")["step"].min().to_dict() == {"a": 100, "b": 300, "c": 500}
    # Each run's last checkpoint always stays; fraction 0 keeps everything.
    assert set(drop_early(frame, 0.99).run_ids) == {"a", "b", "c"}
    assert len(drop_early(frame, 0.0)) == len(frame)
    # The result fits like any Runs, weighted per run.
    result = fit(get_law("power", x="tokens"), kept, weights=checkpoint_weights(kept))
    assert result.params["alpha"] == pytest.approx(POWER["alpha"], rel=1e-3)


@pytest.mark.parametrize("fraction", [1.0, -0.1, float("nan"), "0.1", True])
def test_drop_early_refuses_bad_fractions(fraction):
    with pytest.raises(DataError, match=r"fraction must be a number in \[0, 1\)"):
        drop_early(logged_runs(), fraction=fraction)


def test_drop_early_needs_its_progress_column():
    with pytest.raises(DataError, match="no column 'step'"):
        drop_early(logged_runs().drop(columns="step"), by="step")
