"""Bundled real datasets from published scaling studies.

Each one is a view of a file that ships with its upstream ``SOURCE.md`` and ``LICENSE`` (see
``scalelaw/data/datasets/data/<folder>/``), renamed to scalelaw's canonical columns.

>>> from scalelaw import datasets
>>> "porian2024" in set(datasets.list()["name"])
True
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import pandas as pd

from scalelaw.errors import DataError

__all__ = ["Dataset", "info", "list", "load", "source_text"]

_list = list  # this module defines list(); keep the builtin reachable


@dataclass(frozen=True)
class Dataset:
    """A named, canonical view of a bundled file."""

    name: str
    folder: str
    file: str
    description: str
    license: str
    citation: str
    rename: dict[str, str] = field(default_factory=dict)
    keep: Callable[[pd.DataFrame], pd.Series] | None = None
    suggested_law: str = ""
    #: Reshapes the renamed table (e.g. builds a composite run id).
    transform: Callable[[pd.DataFrame], pd.DataFrame] | None = None
    #: Builds the table in code instead of reading ``file`` (which then only locates SOURCE.md).
    build: Callable[[], pd.DataFrame] | None = None

    @property
    def path(self) -> Path:
        return Path(str(resources.files("scalelaw.data.datasets") / "data" / self.folder / self.file))

    def frame(self) -> pd.DataFrame:
        raw = self.build() if self.build is not None else pd.read_csv(self.path)
        if self.keep is not None:
            raw = raw.loc[self.keep(raw)]
        out = raw.rename(columns=self.rename).reset_index(drop=True)
        if self.transform is not None:
            out = self.transform(out)
        out.index = pd.RangeIndex(1, len(out) + 1)
        return out


_PORIAN = "Porian et al. 2024, Resolving Discrepancies in Compute-Optimal Scaling of Language Models"
_GADRE = "Gadre et al. 2024, Language models scale reliably with over-training and on downstream tasks"
_MUENNIGHOFF = "Muennighoff et al. 2023, Scaling Data-Constrained Language Models"
_LUO = "Luo et al. 2025, A Multi-Power Law for Loss Curve Prediction Across Learning Rate Schedules (ICLR 2025)"


def _luo_curves(frame: pd.DataFrame) -> pd.DataFrame:
    from scalelaw.data.datasets import luo2025

    return luo2025.curves_view(frame)


def _luo_schedules() -> pd.DataFrame:
    from scalelaw.data.datasets import luo2025

    return luo2025.schedules_frame()


_REGISTRY: dict[str, Dataset] = {
    d.name: d
    for d in (
        Dataset(
            name="porian2024",
            folder="porian_compute_optimal",
            file="isoflop_points.csv",
            description="IsoFLOP sweep on RefinedWeb with tuned optimizer, short warmup, constant LR "
            "(the corrected, Chinchilla-like setup): 12 budgets 1.25e16-2.56e19 FLOPs, 5M-900M params",
            license="MIT",
            citation=_PORIAN,
            keep=lambda d: (d["experiment"] == "Optimizer tuning (no decay)") & (d["dataset"] == "rw"),
            suggested_law="chinchilla",
        ),
        Dataset(
            name="porian2024_all",
            folder="porian_compute_optimal",
            file="isoflop_points.csv",
            description="All 15 IsoFLOP configurations (Kaplan-style to corrected; column 'experiment'); "
            "filter to one configuration before fitting",
            license="MIT",
            citation=_PORIAN,
        ),
        Dataset(
            name="porian2024_optimal",
            folder="porian_compute_optimal",
            file="optimal_pairs.csv",
            description="Per-budget compute-optimal (N*, D*, L*) estimated by the authors, 15 configurations",
            license="MIT",
            citation=_PORIAN,
            rename={"params_opt": "params", "tokens_opt": "tokens", "loss_opt": "loss"},
        ),
        Dataset(
            name="gadre2024",
            folder="gadre_overtraining",
            file="models.csv",
            description="104 models, 11M-6.9B params, token multipliers 5-640, 3 training sets "
            "(column 'train_dataset'); loss = C4 eval loss, err_avg_subset_17 = 17-task error",
            license="MIT",
            citation=_GADRE,
            rename={"run_name": "run", "flops_6nd": "flops", "loss_c4_val": "loss"},
        ),
        Dataset(
            name="gadre2024_rpj",
            folder="gadre_overtraining",
            file="models.csv",
            description="The RedPajama-trained subset of gadre2024 (35 models), the paper's main testbed",
            license="MIT",
            citation=_GADRE,
            rename={"run_name": "run", "flops_6nd": "flops", "loss_c4_val": "loss"},
            keep=lambda d: d["train_dataset"] == "rpj",
            suggested_law="chinchilla",
        ),
        Dataset(
            name="muennighoff2023",
            folder="datablations",
            file="final_losses.csv",
            description="296 runs with repeated data (1 to ~9000 epochs), 7M-8.7B params; the rows the "
            "paper's notebook fits (dedup ablation and unfinished runs dropped)",
            license="Apache-2.0",
            citation=_MUENNIGHOFF,
            rename={"run_name": "run", "val_loss_c4": "loss"},
            keep=lambda d: d["used_in_notebook_fit"].astype(bool),
            suggested_law="data_constrained",
        ),
        Dataset(
            name="luo2025",
            folder="multipower_lr_schedules",
            file="loss_curves.csv",
            description="Loss curves of 25M/100M/400M models under 9 LR schedules (cosine, constant, WSD, two-stage), "
            "every 128 steps; run = '<size>/<schedule>', column 'split' = the paper's fit/heldout curves. "
            "Fit with --schedule dataset:luo2025_schedules",
            license="MIT",
            citation=_LUO,
            transform=_luo_curves,
            suggested_law="multi_power",
        ),
        Dataset(
            name="luo2025_schedules",
            folder="multipower_lr_schedules",
            file="loss_curves.csv",
            description="Per-step LR (run, step, lr) of every luo2025 run, regenerated from the schedules' "
            "definitions (equal to the authors' per-step file to its 8 digits)",
            license="MIT",
            citation=_LUO,
            build=_luo_schedules,
        ),
        Dataset(
            name="regmix2024",
            folder="regmix_mixtures",
            file="mixtures.csv",
            description="1088 proxy runs on random mixtures of 17 Pile domains (w_<domain> columns): 512 train + "
            "256 test mixtures at 1M params, the 256 test mixtures at 60M, 64 at 1B (columns model, split); "
            "losses on 13 Pile validation domains (loss_<domain>), loss = loss_pile_cc. See scalelaw.topics.mixture",
            license="MIT",
            citation="Liu et al. 2024, RegMix: Data Mixture as Regression for Language Model Pre-training",
            transform=lambda d: d.assign(loss=d["loss_pile_cc"]),
            suggested_law="mixing_law",
        ),
        Dataset(
            name="pythia_evals",
            folder="pythia_evals",
            file="evals_by_checkpoint.csv",
            description="Pythia suite (8 sizes, standard and deduped Pile) evaluated at 27 zero-shot and 15 five-shot "
            "checkpoints: 8 tasks + MMLU average, long format (model, step, num_fewshot, task, metric, value, "
            "stderr); params = non-embedding params (nominal size in params_nominal); the untrained step-0 rows "
            "are dropped (tokens must be > 0). See scalelaw.topics.emergence",
            license="Apache-2.0",
            citation="Biderman et al. 2023, Pythia: A Suite for Analyzing Large Language Models Across Training "
            "and Scaling",
            rename={"non_embedding_params": "params"},
            keep=lambda d: d["step"] > 0,
        ),
        Dataset(
            name="ruan2024",
            folder="obsscaling",
            file="base_llm_benchmark_eval.csv",
            description="148 public base LLMs (47 families): params, tokens, flops (= 6ND; missing for 25 "
            "models) and 8 benchmark accuracies (mmlu ... humaneval); one row per model, see "
            "scalelaw.topics.observational",
            license="Apache-2.0",
            citation="Ruan et al. 2024, Observational Scaling Laws and the Predictability of LM Performance",
        ),
        Dataset(
            name="ruan2024_emergent",
            folder="obsscaling",
            file="base_llm_emergent_capability_eval.csv",
            description="84 base LLMs on 'emergent' BIG-bench tasks (2-shot arithmetic, word unscrambling, "
            "IPA, ParsiNLU), joined with their ruan2024 metadata and benchmark scores",
            license="Apache-2.0",
            citation="Ruan et al. 2024, Observational Scaling Laws and the Predictability of LM Performance",
            transform=lambda d: d.merge(load("ruan2024"), on="model", how="left"),
        ),
    )
}


def list() -> pd.DataFrame:
    """Bundled datasets: name, rows, license, description and citation."""
    rows = [
        {
            "name": d.name,
            "rows": len(d.frame()),
            "license": d.license,
            "law": d.suggested_law,
            "description": d.description,
            "citation": d.citation,
        }
        for d in _REGISTRY.values()
    ]
    return pd.DataFrame(rows)


def info(name: str) -> Dataset:
    """The :class:`Dataset` entry for ``name``."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise DataError(
            f"no bundled dataset {name!r}; available: {', '.join(_REGISTRY)} (see `scalelaw datasets list`)"
        ) from None


def load(name: str) -> pd.DataFrame:
    """Load a bundled dataset as a DataFrame with canonical column names (a fresh copy)."""
    return info(name).frame()


def source_text(name: str) -> str:
    """The upstream ``SOURCE.md`` (provenance, transformations, caveats) of a dataset."""
    entry = info(name)
    return (entry.path.parent / "SOURCE.md").read_text()
