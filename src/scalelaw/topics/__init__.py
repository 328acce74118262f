"""Beyond final loss: downstream metrics chained through the loss, emergence (real jumps or metric
artefacts), trend shape (inverse and U-shaped scaling), multiple-choice probability mass, repeated sampling
(pass@k and coverage), resampling with an imperfect verifier, model size or samples at a fixed inference budget,
transfer from pretraining data, data mixtures, observational scaling from the benchmark scores of public models,
and the data axis: pruning (power law or exponential), pool mixes under repetition and partially repeated data.

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
        "pruning": ["PruneStudy", "pareto_frontier", "prune"],
        "data_pools": ["PoolMix", "best_pool_mix", "fit_pools", "mix_error"],
        "repeated_data": ["RepeatDamage", "effective_params", "repeated_damage"],
        "coverage_law": ["CoverageFit", "CoverageStudy", "coverage_study", "fit_coverage", "samples_for_coverage"],
        "trend": ["TrendShape", "trend_shape"],
        "multiple_choice": ["MultipleChoice", "choice_scores", "multiple_choice"],
        "verifier": ["VerifierFit", "fit_verifier", "verifier_counts", "verifier_curve"],
        "allocation": ["Allocation", "allocate"],
        "transfer": ["alignment_score"],
    },
)
