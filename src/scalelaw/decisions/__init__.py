"""Decisions from a fitted law: compute-optimal plans (allocation, target loss, inference-aware, data-limited,
crossover), IsoFLOP exponents and their coarse-grid bias, which runs to add next (design), the
training and post-training precision to use, the critical batch size and the learning-rate sensitivity, and the
optimal learning rate and batch size across scale (hparams).

Names load from their modules on first use (:mod:`scalelaw._lazy`), so ``scalelaw.decisions.plan`` costs
that module alone.
"""

from scalelaw._lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__,
    {
        "critical_batch": [
            "CriticalBatch",
            "fit_critical_batch",
            "steps_to_target",
            "critical_batch_size",
            "minimum_steps_and_data",
            "simulate_batch_sweep",
            "KAPLAN_B_STAR",
            "KAPLAN_ALPHA_B",
        ],
        "design": ["Suggestion", "Target", "candidate_grid", "cold_start", "suggest"],
        "hparam_cells": ["CellOptima", "cell_optima"],
        "hparams": ["HparamFit", "HparamLaw", "deepseek", "fit_hparams", "step_law"],
        "inference": ["inference_optimal"],
        "isoflop": ["ApproachComparison", "Exponents", "approach2", "approach3", "compare_approaches"],
        "learning_rate": ["LRSensitivity", "expected_gap", "lr_sensitivity"],
        "plan": [
            "Comparison",
            "Plan",
            "compare",
            "compute_for_loss",
            "compute_optimal",
            "data_limited",
            "frontier",
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
