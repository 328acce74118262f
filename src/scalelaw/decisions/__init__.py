"""Decisions from a fitted law: compute-optimal plans (allocation, target loss, inference-aware, data-limited,
crossover), IsoFLOP exponents and their coarse-grid bias, which runs to add next (design), and the
training and post-training precision to use.

Names load from their modules on first use (:mod:`scalelaw._lazy`), so ``scalelaw.decisions.plan`` costs
that module alone.
"""

from scalelaw._lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__,
    {
        "design": ["Suggestion", "Target", "candidate_grid", "cold_start", "suggest"],
        "isoflop": ["ApproachComparison", "Exponents", "approach2", "approach3", "compare_approaches"],
        "plan": [
            "Comparison",
            "Plan",
            "compare",
            "compute_for_loss",
            "compute_optimal",
            "data_limited",
            "frontier",
            "inference_optimal",
            "optimum",
            "plan_records",
        ],
        "precision": [
            "critical_data_size",
            "critical_tokens",
            "effective_params",
            "optimal_float_layout",
            "optimal_precision",
            "ptq_degradation",
        ],
    },
)
