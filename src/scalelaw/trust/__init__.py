"""Trust: how far a fit can be believed. By-run and block bootstraps, profile-likelihood intervals,
influence of each run, backtests on held-out large runs, extrapolation distance, the law's misfit, and
seed-to-seed noise.

Functions named like their module (``bootstrap``, ``profile``, ``influence``, ``backtest``) are reached
through it (``scalelaw.trust.bootstrap.bootstrap``) or as methods of the fit (``result.bootstrap()``), so
that ``scalelaw.trust.bootstrap`` always names the module.

Names load from their modules on first use (:mod:`scalelaw._lazy`): importing ``scalelaw.trust.backtest``
costs that module alone, not the bootstrap's and the profile's scipy.stats.
"""

from scalelaw._lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__,
    {
        "backtest": ["SelectionResult", "backtest_predictions", "backtest_with_fit", "rolling_backtest", "select_law"],
        "holdout": ["HoldoutSpec", "Split", "parse_holdout", "split_runs"],
        "bootstrap": ["MIN_RUNS", "Bootstrap", "block_weights", "curve_band", "default_by", "quantile_interval"],
        "extrapolation": [
            "ExtrapolationWarning",
            "distance",
            "extrapolation_records",
            "prediction_records",
            "warn_if_far",
        ],
        "extrapolation_error": ["ExtrapolationError", "learn"],
        "law_choice": ["choose_law", "fit_auto"],
        "total": ["KINDS"],
        "influence": ["Influence", "InfluenceCheck", "default_target", "refit_without_flagged"],
        "misfit": ["Misfit", "estimate_misfit", "noise_variance"],
        "noise": ["SeedNoise", "SeedNoiseWarning", "seed_noise", "seed_noise_for_law", "signal_to_noise"],
        "profile": ["Profile", "profile_curves"],
    },
)
