"""Data: the validated table of runs, reading files and tracker exports, bundled datasets, LR schedules,
checkpoints of a run, and parameter and FLOP accounting of a model config."""

from scalelaw.data import datasets
from scalelaw.data.accounting import TransformerConfig, count_params, flops_per_token, training_flops
from scalelaw.data.checkpoints import checkpoint_weights, drop_early
from scalelaw.data.io import load_runs, read_table
from scalelaw.data.runs import CANONICAL_COLUMNS, Runs, parse_mapping
from scalelaw.data.schedules import load_curves_and_schedules, load_schedules, predict_curves

__all__ = [
    "CANONICAL_COLUMNS",
    "Runs",
    "TransformerConfig",
    "checkpoint_weights",
    "count_params",
    "datasets",
    "drop_early",
    "flops_per_token",
    "load_curves_and_schedules",
    "load_runs",
    "load_schedules",
    "parse_mapping",
    "predict_curves",
    "read_table",
    "training_flops",
]
