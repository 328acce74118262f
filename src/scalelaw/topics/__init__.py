"""Beyond final loss: downstream metrics chained through the loss, emergence (real jumps or metric
artefacts), repeated sampling (pass@k and coverage), resampling with an imperfect verifier, model size or samples at a
fixed inference budget, transfer from pretraining data, data mixtures, and observational scaling from the
benchmark scores of public models.

Names load from their modules on first use (:mod:`scalelaw._lazy`).
"""

from scalelaw._lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__,
    {
        "downstream": ["Chain", "ChainBootstrap", "chain", "chain_records", "fit_chain", "fit_least_squares"],
        "emergence": ["MetricComparison", "PassUntilFit", "compare_metrics", "fit_passuntil", "pass_rates"],
        "mixture": ["MixtureFit", "MixtureOptimum", "compare_models", "fit_mixture", "optimize_mixture"],
        "sampling": ["coverage_curve", "default_ks", "pass_at_k", "per_problem", "verifier_success"],
        "coverage_law": ["CoverageFit", "CoverageStudy", "coverage_study", "fit_coverage", "samples_for_coverage"],
        "verifier": ["VerifierFit", "fit_verifier", "verifier_counts", "verifier_curve"],
        "allocation": ["Allocation", "allocate"],
        "transfer": ["alignment_score"],
    },
)
