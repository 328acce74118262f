"""Emergence laws: Hu et al.'s PassUntil task scaling law.

Formula and provenance: ``docs/laws.md`` §7.2 (and §13 for the start: a straight-line fit of
``log(-log PU)`` on ``log N``). The analysis around it (metric comparison, pass-rate estimation,
instance-level fits) lives in :mod:`scalelaw.topics.emergence`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from scalelaw.errors import LawError
from scalelaw.laws.law import CANONICAL_ROLES, Law, Parameter

_REFERENCE = (
    "Hu, Liu, Han et al. 2024 (ICLR), Unlock Predictable Scaling from Emergent Abilities "
    "(arXiv: Predicting Emergent Abilities with Infinite Resolution Evaluation)"
)
#: What the law can predict: the pass rate itself, or ``-log(pass rate)`` (a plain power law in x).
TARGETS = ("pass_rate", "neg_log_pass_rate")


@dataclass(frozen=True, eq=False)
class PassUntilLaw(Law):
    """``PU(x) = exp(-c * x^(-alpha))``, so ``log(-log PU)`` is linear in ``log x`` (Hu et al. 2024).

    With ``target="neg_log_pass_rate"`` the law predicts ``-log PU = c * x^(-alpha)`` instead: fitting
    that on log residuals is exactly the paper's fit in ``log(-log PU)`` space.
    """

    goal = "maximize"

    def log_predict_jac(self, theta, X, jac=True):
        log_x = np.log(X[self.inputs[0]])[None, :]
        c, alpha = theta[:, [0]], theta[:, [1]]
        with np.errstate(over="ignore"):
            power = np.exp(-alpha * log_x)  # x^(-alpha)
        if self.options.get("target") == "neg_log_pass_rate":
            log_pred = np.log(c) - alpha * log_x
            if not jac:
                return log_pred, None
            J = np.stack(np.broadcast_arrays(1.0 / c, -log_x), axis=1)
            return log_pred, J
        log_pred = -c * power
        if not jac:
            return log_pred, None
        J = np.stack([-power, c * power * log_x], axis=1)
        return log_pred, J

    def start_grid(self, X, y):
        # laws.md §13: no grid, a least-squares line of log(-log PU) on log x; a few spreads around it
        # guard against a line thrown off by points near PU = 1.
        log_x = np.log(X[self.inputs[0]])
        y = np.asarray(y, dtype=np.float64)
        neg_log = y if self.options.get("target") == "neg_log_pass_rate" else -np.log(np.clip(y, 1e-300, None))
        ok = np.isfinite(neg_log) & (neg_log > 0)
        if ok.sum() >= 2 and np.ptp(log_x[ok]) > 0:
            slope, _ = np.polyfit(log_x[ok], np.log(neg_log[ok]), 1)
            alpha0 = float(np.clip(-slope, 0.02, 3.0))
            centre = float(np.mean(np.log(neg_log[ok]) + alpha0 * log_x[ok]))
        else:
            alpha0, centre = 0.3, float(0.3 * np.mean(log_x))
        starts = []
        for factor in (0.5, 1.0, 2.0):
            alpha = alpha0 * factor
            # Keep the line through the data's centre when alpha changes.
            log_c = centre + (alpha - alpha0) * float(np.mean(log_x))
            starts.append((np.exp(np.clip(log_c, -60.0, 130.0)), alpha))
        return self.clip(np.array(starts))


def passuntil(x: str = "params", target: str = "pass_rate") -> PassUntilLaw:
    """Hu et al.'s task scaling law ``PU(x) = exp(-c * x^(-alpha))`` with ``c, alpha > 0``.

    Parameters
    ----------
    x : str
        Scale column (``params``, ``flops``, ``tokens``, ...).
    target : {"pass_rate", "neg_log_pass_rate"}
        What the law predicts. ``"pass_rate"`` (default, output column ``pass_rate``) fits on log pass
        rates; ``"neg_log_pass_rate"`` (output ``neg_log_pass_rate`` = ``-log PU``) fits in the paper's
        ``log(-log PU)`` space, which weighs tiny pass rates as much as large ones.

    Examples
    --------
    >>> from scalelaw import get_law
    >>> law = get_law("passuntil")
    >>> round(float(law.predict({"c": 100.0, "alpha": 0.25}, params=1e8)[0]), 6)  # exp(-100 / 100)
    0.367879
    """
    if target not in TARGETS:
        raise LawError(f"passuntil: target must be one of {', '.join(TARGETS)}, not {target!r}")
    return PassUntilLaw(
        name="passuntil",
        inputs=(x,),
        roles={x: CANONICAL_ROLES.get(x)},
        parameters=(
            Parameter("c", 1e-30, 1e60, "log", description=f"-log pass rate at {x} = 1"),
            Parameter("alpha", 0.0, 5.0, "identity", description=f"exponent of {x}"),
        ),
        output=target,
        description=f"exp(-c * {x}^(-alpha))" if target == "pass_rate" else f"c * {x}^(-alpha)  (= -log PU)",
        reference=_REFERENCE,
        options={"x": x, "target": target},
    )


CATALOG: dict[str, Callable[..., Law]] = {"passuntil": passuntil}
