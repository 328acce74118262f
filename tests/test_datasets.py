"""Bundled datasets: present with provenance, canonical columns, loadable as runs."""

import pytest

from scalelaw import DataError, datasets, load_runs


def test_every_dataset_ships_source_and_license():
    for name in datasets.list()["name"]:
        entry = datasets.info(name)
        assert entry.path.exists()
        assert (entry.path.parent / "LICENSE").exists()
        assert "Repository" in datasets.source_text(name)


@pytest.mark.parametrize(
    ("name", "rows", "columns"),
    [
        ("porian2024", 121, {"params", "tokens", "flops", "loss"}),
        ("gadre2024", 104, {"run", "params", "tokens", "flops", "loss", "train_dataset"}),
        ("gadre2024_rpj", 35, {"run", "params", "tokens", "flops", "loss"}),
        ("muennighoff2023", 296, {"run", "params", "tokens", "unique_tokens", "loss"}),
        ("regmix2024", 1088, {"run", "loss", "w_pile_cc"}),
        ("ruan2024", 148, {"model", "params", "flops", "mmlu"}),  # 25 models lack compute: empty cells load
        ("pythia_evals", 9840, {"params", "tokens", "step", "task", "value"}),
    ],
)
def test_views_have_canonical_columns(name, rows, columns):
    runs = load_runs(f"dataset:{name}")
    assert len(runs) == rows
    assert columns <= set(runs.columns)


def test_porian_tokens_are_flops_over_6n():
    # SOURCE.md: tokens = C / (6N) exactly.
    t = datasets.load("porian2024")
    assert ((t["tokens"] - t["flops"] / (6 * t["params"])).abs() / t["tokens"]).max() < 1e-9


def test_load_returns_a_fresh_copy():
    a = datasets.load("gadre2024_rpj")
    a.loc[1, "loss"] = -1
    assert datasets.load("gadre2024_rpj").loc[1, "loss"] > 0


def test_unknown_dataset():
    with pytest.raises(DataError, match="no bundled dataset 'x'"):
        datasets.load("x")
