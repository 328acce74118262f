"""Trust: how far a fit can be believed. By-run and block bootstraps, profile-likelihood intervals,
influence of each run, backtests on held-out large runs, extrapolation distance, the law's misfit, and
seed-to-seed noise.

Functions named like their module (``bootstrap``, ``profile``, ``influence``, ``backtest``) are reached
through it (``scalelaw.trust.bootstrap.bootstrap``) or as methods of the fit (``result.bootstrap()``), so
that ``scalelaw.trust.bootstrap`` always names the module.
"""

from scalelaw.trust.backtest import (
    HoldoutSpec,
    SelectionResult,
    Split,
    backtest_predictions,
    rolling_backtest,
    select_law,
    split_runs,
)
from scalelaw.trust.bootstrap import MIN_RUNS, Bootstrap, block_weights, default_by, quantile_interval
from scalelaw.trust.extrapolation import ExtrapolationWarning, distance, warn_if_far
from scalelaw.trust.influence import Influence, default_target
from scalelaw.trust.misfit import Misfit, estimate_misfit, noise_variance
from scalelaw.trust.noise import SeedNoise, SeedNoiseWarning, seed_noise, signal_to_noise
from scalelaw.trust.profile import Profile, profile_curves

__all__ = [
    "MIN_RUNS",
    "Bootstrap",
    "ExtrapolationWarning",
    "HoldoutSpec",
    "Influence",
    "Misfit",
    "Profile",
    "SeedNoise",
    "SeedNoiseWarning",
    "SelectionResult",
    "Split",
    "backtest_predictions",
    "block_weights",
    "default_by",
    "default_target",
    "distance",
    "estimate_misfit",
    "noise_variance",
    "profile_curves",
    "quantile_interval",
    "rolling_backtest",
    "seed_noise",
    "select_law",
    "signal_to_noise",
    "split_runs",
    "warn_if_far",
]
