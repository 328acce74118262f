"""Tracker import: training runs read from W&B, TensorBoard and MLflow as :class:`~scalelaw.data.runs.Runs`.

Each reader names the run after the tracker's own run (W&B ``Name``, a TensorBoard subdirectory, an MLflow
run name), maps the usual metric names onto the canonical columns (``eval/loss`` onto ``loss``,
``train/tokens_seen`` onto ``tokens``, ...) and says what it chose in the first of the returned runs'
``notes``; ``mapping=`` overrides any choice. :func:`load_tracker` reads the ``wandb:``, ``wandb-api:``,
``tensorboard:`` and ``mlflow:`` sources that :func:`scalelaw.load_runs` and every command accept.
"""

from scalelaw._lazy import attach

# The tracker libraries are optional extras, imported inside the readers that need them.
__getattr__, __dir__, __all__ = attach(
    __name__,
    {
        "mapping": ["guess_mapping", "tracker_runs"],
        "mlflow": ["read_mlflow"],
        "sources": ["TRACKER_PREFIXES", "is_tracker_source", "load_tracker"],
        "tensorboard": ["read_tensorboard"],
        "wandb": ["read_wandb_api", "read_wandb_export"],
    },
)
