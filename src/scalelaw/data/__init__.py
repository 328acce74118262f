"""Data: the validated table of runs, reading files and tracker exports, bundled datasets, LR schedules,
checkpoints of a run, and parameter and FLOP accounting of a model config."""

from scalelaw._lazy import attach

# Names load from their modules on first use (scalelaw._lazy): pandas only when data is read.
__getattr__, __dir__, __all__ = attach(
    __name__,
    {
        "accounting": ["TransformerConfig", "count_params", "flops_per_token", "training_flops"],
        "checkpoints": ["checkpoint_weights", "drop_early"],
        "io": ["load_runs", "read_table"],
        "runs": ["CANONICAL_COLUMNS", "Runs", "parse_mapping"],
        "schedules": ["load_curves_and_schedules", "load_schedules", "predict_curves"],
    },
)
