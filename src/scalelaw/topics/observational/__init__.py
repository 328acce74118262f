"""Observational scaling: capability factors of public models and predictions from them.

After Ruan, Maddison & Hashimoto 2024, *Observational Scaling Laws and the Predictability of Language
Model Performance* (NeurIPS 2024, arXiv:2405.10938, repo ``ryoungj/ObsScaling``). Instead of training a
ladder, use the benchmark scores of many public models:

1. **Capabilities.** PCA of the model × benchmark score matrix (standardized, missing cells imputed by
   iterating a low-rank reconstruction) gives a low-dimensional capability vector ``S_m`` per model.
2. **Compute.** Within a model family ``f`` capabilities are linear in log-compute,
   ``S_m ≈ θ_f · log10 C_m + ν_f`` (:func:`fit_family_compute`).
3. **Link.** A downstream metric follows a sigmoid of a linear function of the capabilities,
   ``Y ≈ floor + (ceiling − floor) · σ(βᵀS + α)`` (:func:`fit_link`; the paper's default
   ``sigmoid-parametric`` fixes ceiling = 1 and fits floor in [0, 0.2]).

:func:`holdout_by_flops` is the paper's default backtest (train on models ≤ 8.4e22 FLOPs, predict the
larger ones from their other benchmarks); :func:`predict_family` predicts the largest models of a family
from compute alone; :func:`equivalent_flops` expresses a capability as the compute a reference family
would need to reach it.

>>> from scalelaw import datasets
>>> caps = capabilities(datasets.load("ruan2024"), n_components=3)
>>> caps.scores.shape
(148, 3)
>>> bool(caps.explained_variance_ratio.sum() > 0.8)
True
"""

from scalelaw.topics.observational.factors import (
    DEFAULT_BENCHMARKS,
    Capabilities,
    FamilyCompute,
    Link,
    capabilities,
    equivalent_flops,
    fit_family_compute,
    fit_link,
)
from scalelaw.topics.observational.predict import (
    PAPER_CUTOFF_FLOPS,
    FamilyPrediction,
    ObservationalBacktest,
    holdout_by_flops,
    predict_family,
)

__all__ = [
    "DEFAULT_BENCHMARKS",
    "PAPER_CUTOFF_FLOPS",
    "Capabilities",
    "FamilyCompute",
    "FamilyPrediction",
    "Link",
    "ObservationalBacktest",
    "capabilities",
    "equivalent_flops",
    "fit_family_compute",
    "fit_link",
    "holdout_by_flops",
    "predict_family",
]
