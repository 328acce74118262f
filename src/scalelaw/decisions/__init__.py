"""Decisions from a fitted law: compute-optimal plans (allocation, target loss, inference-aware, data-limited,
crossover), IsoFLOP exponents and their coarse-grid bias, which runs to add next (design), and the
training and post-training precision to use."""

from scalelaw.decisions.design import Suggestion, Target, candidate_grid, cold_start, suggest
from scalelaw.decisions.isoflop import ApproachComparison, Exponents, approach2, approach3, compare_approaches
from scalelaw.decisions.plan import (
    Comparison,
    Plan,
    compare,
    compute_for_loss,
    compute_optimal,
    data_limited,
    frontier,
    inference_optimal,
    optimum,
)
from scalelaw.decisions.precision import (
    critical_data_size,
    critical_tokens,
    effective_params,
    optimal_float_layout,
    optimal_precision,
    ptq_degradation,
)

__all__ = [
    "ApproachComparison",
    "Comparison",
    "Exponents",
    "Plan",
    "Suggestion",
    "Target",
    "approach2",
    "approach3",
    "candidate_grid",
    "cold_start",
    "compare",
    "compare_approaches",
    "compute_for_loss",
    "compute_optimal",
    "critical_data_size",
    "critical_tokens",
    "data_limited",
    "effective_params",
    "frontier",
    "inference_optimal",
    "optimal_float_layout",
    "optimal_precision",
    "optimum",
    "ptq_degradation",
    "suggest",
]
