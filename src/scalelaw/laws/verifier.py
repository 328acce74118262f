"""Resampling against a verifier with false positives: a reward law in the number of samples that can fall.

Stroebl, Kapoor, Narayanan 2024, "Inference Scaling fLaws: The Limits of LLM Resampling with Imperfect
Verifiers" (arXiv:2411.17501): draw up to ``k`` samples, submit the first that passes the verifier (unit tests)
and abstain when none does. A correct submission earns 1, a false positive (a wrong answer that passed) costs
``cost``, abstaining 0. Resampling cannot lower the false-positive rate, so the share of problems answered
correctly levels off below 1, and once the costs of false positives are counted the expected reward can peak at
a small ``k`` and then fall.

Across problems, both the share answered correctly ``G(k)`` and the share answered by a false positive ``H(k)``
rise with ``k`` towards plateaus, like coverage (Brown et al. 2024's ``exp(-A k^-b)`` with a ceiling, law
``coverage_ceiling``). The reward law is their difference:

    R(k) = C_max * exp(-A * k^(-b)) - cost * F_max * exp(-A_f * k^(-b_f)),

which rises while correct answers come faster and falls once false positives keep coming after the correct ones
have levelled off. Its limit is ``C_max - cost * F_max``. As a catalog law it predicts on a log scale, so
parameter sets whose reward is <= 0 at some row have no prediction there (NaN); :func:`reward` gives the signed
value for any parameters.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np

from scalelaw.errors import LawError
from scalelaw.laws.law import Law, Parameter

_REFERENCE = (
    "Stroebl, Kapoor, Narayanan 2024, Inference Scaling fLaws: The Limits of LLM Resampling with Imperfect "
    "Verifiers (arXiv:2411.17501); each term is Brown et al. 2024's coverage law with a ceiling"
)
PARAMS = ("C_max", "A", "b", "F_max", "A_f", "b_f")


def _terms(theta: np.ndarray, log_k: np.ndarray) -> tuple[np.ndarray, ...]:
    """``(g, h, e_g, e_h)``: the two terms ``C_max e_g`` and ``F_max e_h`` and their exponentials, per set and row."""
    C, A, b, F, A_f, b_f = (theta[:, j, None] for j in range(6))
    p_g = np.exp(-b * log_k)
    p_h = np.exp(-b_f * log_k)
    e_g, e_h = np.exp(-A * p_g), np.exp(-A_f * p_h)
    return C * e_g, F * e_h, e_g, e_h, p_g, p_h


def reward(theta: Any, samples: Any, cost: float) -> np.ndarray:
    """Signed reward ``R(k)`` for parameter sets ``theta`` (rows ``C_max, A, b, F_max, A_f, b_f``) at ``samples``.

    Returns shape ``(n_sets, n_k)`` (``(n_k,)`` for one set given as a 1-D array).

    Examples
    --------
    >>> theta = [0.6, 1.0, 0.5, 0.3, 6.0, 0.4]
    >>> [round(float(v), 4) for v in reward(theta, [1, 100, 10_000], cost=1.0)]
    [0.22, 0.427, 0.336]
    """
    arr = np.asarray(theta, dtype=np.float64)
    single = arr.ndim == 1
    arr = np.atleast_2d(arr)
    log_k = np.log(np.atleast_1d(np.asarray(samples, dtype=np.float64)))[None, :]
    g, h, *_ = _terms(arr, log_k)
    out = g - cost * h
    return out[0] if single else out


@dataclass(frozen=True, eq=False)
class VerifierRewardLaw(Law):
    """``C_max exp(-A k^-b) - cost * F_max exp(-A_f k^-b_f)``; ``cost`` is an option, not a parameter."""

    goal = "maximize"

    @property
    def cost(self) -> float:
        return float(self.options["cost"])

    def log_predict_jac(self, theta, X, jac=True):
        log_k = np.log(X[self.inputs[0]])[None, :]
        g, h, e_g, e_h, p_g, p_h = _terms(theta, log_k)
        value = g - self.cost * h
        valid = value > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            log_pred = np.where(valid, np.log(np.where(valid, value, 1.0)), np.nan)
            if not jac:
                return log_pred, None
            inv = np.where(valid, 1.0 / value, np.nan)
        A, A_f = theta[:, 1, None], theta[:, 4, None]
        cols = [
            e_g * inv,
            -g * p_g * inv,
            g * A * p_g * log_k * inv,
            -self.cost * e_h * inv,
            self.cost * h * p_h * inv,
            -self.cost * h * A_f * p_h * log_k * inv,
        ]
        return log_pred, np.stack(np.broadcast_arrays(*cols), axis=1)

    def start_grid(self, X, y):
        # The correct-answer term around the data's top, the false-positive term a fraction of it that rises later
        # (larger A_f): the product of small grids, of which the sets with a positive reward everywhere survive.
        top = float(np.max(y))
        grid = itertools.product(
            (1.05 * top, 1.5 * top),
            (0.3, 1.0, 3.0),
            (0.3, 0.7),
            (0.2, 0.5, 0.9),
            (2.0, 6.0, 20.0),
            (0.2, 0.5),
        )
        starts = np.array([(c, a, b, f * c / max(self.cost, 1e-12), af, bf) for c, a, b, f, af, bf in grid])
        starts = self.clip(starts)
        log_pred, _ = self.log_predict_jac(starts, X, jac=False)
        ok = np.all(np.isfinite(log_pred), axis=1)
        return starts[ok] if ok.any() else starts


def verifier_reward(x: str = "samples", y: str = "reward", cost: float = 1.0) -> VerifierRewardLaw:
    """Expected reward of resampling until the verifier passes, as a function of the sample budget ``x``.

    Parameters
    ----------
    x : str
        Input column: samples drawn per problem at most (``k``).
    y : str
        Column predicted: mean reward per problem (1 correct, ``-cost`` false positive, 0 abstain).
    cost : float
        Cost of a false positive relative to the value of a correct answer (>= 0); 0 gives the accuracy.

    Examples
    --------
    >>> law = verifier_reward(cost=1.0)
    >>> values = {"C_max": 0.6, "A": 1.0, "b": 0.5, "F_max": 0.3, "A_f": 6.0, "b_f": 0.4}
    >>> [round(float(v), 4) for v in law.predict(values, samples=[1, 100, 10_000])]
    [0.22, 0.427, 0.336]
    """
    if not (np.isfinite(cost) and cost >= 0):
        raise LawError(
            f"verifier_reward: cost must be a finite number >= 0 (the price of a false positive), got {cost!r}"
        )
    return VerifierRewardLaw(
        name="verifier_reward",
        inputs=(x,),
        roles={x: None},
        parameters=(
            Parameter("C_max", 1e-6, 1.0, "identity", description="share of problems answered correctly as k grows"),
            Parameter("A", 1e-6, 1e6, "log", description="-log of the correct share at k = 1, over C_max"),
            Parameter("b", 1e-3, 5.0, "identity", description="how fast correct answers come with k"),
            Parameter("F_max", 0.0, 1.0, "identity", description="share of problems answered by a false positive"),
            Parameter("A_f", 1e-6, 1e6, "log", description="-log of the false-positive share at k = 1, over F_max"),
            Parameter("b_f", 1e-3, 5.0, "identity", description="how fast false positives come with k"),
        ),
        output=y,
        description=f"C_max * exp(-A * {x}^(-b)) - {cost:g} * F_max * exp(-A_f * {x}^(-b_f))",
        reference=_REFERENCE,
        options={"x": x, "y": y, "cost": float(cost)},
    )


CATALOG = {"verifier_reward": verifier_reward}

__all__ = ["CATALOG", "PARAMS", "VerifierRewardLaw", "reward", "verifier_reward"]
