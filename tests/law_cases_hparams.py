"""Conformance cases of the optimal-hyperparameter power laws (scalelaw.laws.hparam_laws).

Truths are the published constants: Li et al. 2025 (Step Law, arXiv:2503.04715) and Bi et al. 2024 (DeepSeek
LLM, arXiv:2401.02954, sec. 3.1).
"""

from __future__ import annotations

import numpy as np

from law_case import Case

_N, _D = (a.ravel() for a in np.meshgrid(np.logspace(7.5, 9.5, 5), np.logspace(9, 11.5, 6)))

CASES = {
    "lr_step": Case(
        truth={"a": 1.79, "alpha": -0.713, "beta": 0.307},
        design={"params": _N, "tokens": _D},
        identified={"alpha": 0.02, "beta": 0.03},
    ),
    "batch_step": Case(
        truth={"b": 0.58, "gamma": 0.571},
        design={"tokens": np.logspace(9, 12, 12)},
        identified={"gamma": 0.01},
    ),
    "lr_deepseek": Case(
        truth={"a": 0.3118, "alpha": -0.125},
        design={"flops": np.logspace(17, 21, 12)},
        identified={"alpha": 0.05},
    ),
    "batch_deepseek": Case(
        truth={"b": 0.292, "beta": 0.3271},
        design={"flops": np.logspace(17, 21, 12)},
        identified={"beta": 0.02},
    ),
}
