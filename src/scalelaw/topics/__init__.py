"""Beyond final loss: downstream metrics chained through the loss, emergence (real jumps or metric
artefacts), repeated sampling (pass@k and coverage), data mixtures, and observational scaling from the
benchmark scores of public models."""

from scalelaw.topics import observational
from scalelaw.topics.downstream import Chain, ChainBootstrap, chain, fit_chain, fit_least_squares
from scalelaw.topics.emergence import MetricComparison, PassUntilFit, compare_metrics, fit_passuntil, pass_rates
from scalelaw.topics.mixture import MixtureFit, MixtureOptimum, compare_models, fit_mixture, optimize_mixture
from scalelaw.topics.sampling import CoverageFit, coverage_curve, fit_coverage, pass_at_k, samples_for_coverage

__all__ = [
    "Chain",
    "ChainBootstrap",
    "CoverageFit",
    "MetricComparison",
    "MixtureFit",
    "MixtureOptimum",
    "PassUntilFit",
    "chain",
    "compare_metrics",
    "compare_models",
    "coverage_curve",
    "fit_chain",
    "fit_coverage",
    "fit_least_squares",
    "fit_mixture",
    "fit_passuntil",
    "observational",
    "optimize_mixture",
    "pass_at_k",
    "pass_rates",
    "samples_for_coverage",
]
