"""Loss against model size and optimization steps: Kaplan et al. 2020's ``L(N, S_min)``.

    L(N, S_min) = (N_c / N)^alpha_N + (S_c / S_min)^alpha_S

(Kaplan et al. 2020, "Scaling Laws for Neural Language Models", eq. 1.6 = eq. 5.6; fitted on the steps after
warm-up). ``S_min`` is the number of steps the run would have needed at a batch far above the critical batch,
``S / (1 + B_crit(L) / B)`` (eq. 5.4): :meth:`scalelaw.decisions.critical_batch.CriticalBatch.minimum` adds it
to a table of runs. Published fit (Table 3): ``alpha_N = 0.077, alpha_S = 0.76, N_c = 6.5e13, S_c = 2.1e3``.
The step input plays no role among N, D and C (its role is None), so planning never takes it for tokens.

Formulas and oracles: ``docs/laws.md`` §2.2 and §15.4.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from scalelaw.laws.law import Law, Parameter, log_sum_exp_terms

_REFERENCE = "Kaplan et al. 2020, Scaling Laws for Neural Language Models, eq. 1.6 (= 5.6), Table 3"

#: Kaplan et al. 2020, Table 3 (fits to L(N, S)): N in non-embedding parameters, S_min in steps, loss in nats.
KAPLAN_TABLE3 = {"N_c": 6.5e13, "S_c": 2.1e3, "alpha_N": 0.077, "alpha_S": 0.76}

# Start grid: the scales over many decades, the exponents around Kaplan's values (laws.md §2.2).
_LOG_N_C = (25.0, 30.0, 35.0)
_LOG_S_C = (3.0, 7.0, 11.0)
_ALPHA_N = (0.05, 0.08, 0.15)
_ALPHA_S = (0.3, 0.7, 1.2)


@dataclass(frozen=True, eq=False)
class StepsLaw(Law):
    """``L = (N_c/N)^alpha_N + (S_c/S)^alpha_S``; ``theta`` order ``N_c, S_c, alpha_N, alpha_S``."""

    def log_predict_jac(self, theta, X, jac=True):
        log_N = np.log(X[self.inputs[0]])[None, :]
        log_S = np.log(X[self.inputs[1]])[None, :]
        N_c, S_c, a_N, a_S = (theta[:, k, None] for k in range(4))
        u = np.log(N_c) - log_N
        v = np.log(S_c) - log_S
        log_pred, shares = log_sum_exp_terms([a_N * u, a_S * v], weights=jac)
        if not jac:
            return log_pred, None
        w_N, w_S = np.broadcast_arrays(*shares)
        J = np.stack([w_N * a_N / N_c, w_S * a_S / S_c, w_N * u, w_S * v], axis=1)
        return log_pred, J

    def start_grid(self, X, y):
        grid = itertools.product(_LOG_N_C, _LOG_S_C, _ALPHA_N, _ALPHA_S)
        z = np.array(list(grid))
        return self.clip(np.column_stack([np.exp(z[:, 0]), np.exp(z[:, 1]), z[:, 2], z[:, 3]]))


def kaplan_steps(n: str = "params", s: str = "s_min") -> StepsLaw:
    """Kaplan's learning-curve law ``(N_c/N)^alpha_N + (S_c/S_min)^alpha_S`` (eq. 1.6).

    Parameters
    ----------
    n : str
        Model size column (role N; non-embedding parameters in the paper).
    s : str
        Step column (no role): minimum steps ``S_min``, or raw steps when every run's batch is far above the
        critical batch.

    Examples
    --------
    >>> law = kaplan_steps()
    >>> round(float(law.predict(KAPLAN_TABLE3, params=1e9, s_min=1e5)[0]), 4)  # laws.md §15.4
    2.4005
    """
    return StepsLaw(
        name="kaplan_steps",
        inputs=(n, s),
        roles={n: "N", s: None},
        parameters=(
            Parameter("N_c", 1.0, 1e40, "log", description=f"scale of {n}"),
            Parameter("S_c", 1e-3, 1e20, "log", description=f"scale of {s}"),
            Parameter("alpha_N", 1e-4, 2.0, "identity", description=f"exponent of {n}"),
            Parameter("alpha_S", 1e-4, 5.0, "identity", description=f"exponent of {s}"),
        ),
        description=f"(N_c/{n})^alpha_N + (S_c/{s})^alpha_S",
        reference=_REFERENCE,
        options={"n": n, "s": s},
    )


CATALOG = {"kaplan_steps": kaplan_steps}

__all__ = ["CATALOG", "KAPLAN_TABLE3", "StepsLaw", "kaplan_steps"]
