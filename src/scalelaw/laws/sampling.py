"""Repeated-sampling laws: coverage (pass@k) against the number of samples k.

Brown et al. 2024, "Large Language Monkeys: Scaling Inference Compute with Repeated Sampling", model
coverage (the fraction of problems solved by at least one of k samples) by an exponentiated power law
``c(k) = exp(a * k^b)`` with ``a < 0, b < 0`` (laws.md §7.3). Here both parameters are stored positive:

    c(k) = exp(-A * k^(-b)),    A > 0, b > 0,    i.e. a = -A and b_paper = -b.

``log(-log c)`` is then linear in ``log k`` with slope ``-b`` and intercept ``log A``, which gives the
starts (laws.md §13). ``coverage_ceiling`` multiplies by a plateau ``0 < C_max <= 1``: the success
rate of majority voting or of a reward-model verifier levels off below coverage (Brown et al. 2024,
abstract), and ``C_max`` is that ceiling.

Formulas and oracles: ``docs/laws.md`` §7.3 and §15.10.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scalelaw.laws.law import Law, Parameter

_REFERENCE = (
    "Brown et al. 2024, Large Language Monkeys: Scaling Inference Compute with Repeated Sampling "
    "(exponentiated power law, stored as a = -A, b_paper = -b)"
)
#: Exponents tried for the start grid besides the one from the log(-log c) regression.
_B_GRID = (0.05, 0.15, 0.3, 0.6, 1.0, 2.0)
#: Ceilings tried as a multiple of the largest observed value (capped at 1).
_CEILING_GRID = (1.0005, 1.01, 1.05, 1.15, 1.4)


def _neg_log(y: np.ndarray) -> np.ndarray:
    """``-log y`` kept strictly positive, so ``log(-log y)`` exists even for noisy values at or above 1."""
    return np.maximum(-np.log(np.clip(y, 1e-300, None)), 1e-12)


def _power_starts(log_k: np.ndarray, neg_log_y: np.ndarray) -> list[tuple[float, float]]:
    """``(A, b)`` starts: the straight-line fit of ``log(-log c)`` on ``log k``, then ``A`` by LSQ for grid ``b``."""
    t = np.log(neg_log_y)
    starts = []
    if np.ptp(log_k) > 0:
        slope, intercept = np.polyfit(log_k, t, 1)
        starts.append((float(np.exp(intercept)), float(-slope)))
    for b in _B_GRID:
        starts.append((float(np.exp(np.mean(t + b * log_k))), b))
    return starts


@dataclass(frozen=True, eq=False)
class CoverageLaw(Law):
    """``c(k) = exp(-A * k^(-b))``, and with option ``ceiling`` ``c(k) = C_max * exp(-A * k^(-b))``.

    Parameters in ``theta`` order: ``A, b`` then ``C_max`` when the law has a ceiling.
    """

    goal = "maximize"

    @property
    def has_ceiling(self) -> bool:
        return self.n_params == 3

    def log_predict_jac(self, theta, X, jac=True):
        log_k = np.log(X[self.inputs[0]])[None, :]
        A, b = theta[:, [0]], theta[:, [1]]
        power = np.exp(-b * log_k)  # k^(-b)
        log_pred = -A * power
        if self.has_ceiling:
            C_max = theta[:, [2]]
            with np.errstate(divide="ignore", invalid="ignore"):
                log_pred = log_pred + np.log(C_max)
        if not jac:
            return log_pred, None
        cols = [-power, A * power * log_k]
        if self.has_ceiling:
            cols.append(1.0 / theta[:, [2]])
        J = np.stack(np.broadcast_arrays(*cols), axis=1)
        return log_pred, J

    def start_grid(self, X, y):
        log_k = np.log(X[self.inputs[0]])
        y = np.asarray(y, dtype=np.float64)
        if not self.has_ceiling:
            return self.clip(np.array(_power_starts(log_k, _neg_log(y))))
        # The ceiling sits above every observed value; for each candidate, (A, b) as without one.
        top = float(np.max(y))
        ceilings = sorted({min(1.0, top * f) for f in _CEILING_GRID} | {1.0})
        starts = [
            (A, b, c_max)
            for c_max in ceilings
            for A, b in _power_starts(log_k, _neg_log(np.minimum(y / c_max, 1.0 - 1e-9)))
        ]
        return self.clip(np.array(starts))


def _parameters(x: str, ceiling: bool) -> tuple[Parameter, ...]:
    params = (
        Parameter("A", 1e-8, 1e8, "log", description="minus the paper's a: -log c(1) (without a ceiling)"),
        Parameter("b", 1e-3, 5.0, "identity", description=f"minus the paper's b: -log c falls like {x}^(-b)"),
    )
    if ceiling:
        params += (Parameter("C_max", 1e-6, 1.0, "identity", description=f"plateau of the success rate as {x} grows"),)
    return params


def coverage(x: str = "samples", output: str = "coverage") -> CoverageLaw:
    """Coverage vs samples, ``exp(-A * x^(-b))`` (Brown et al. 2024's ``exp(a x^b)`` with ``a = -A, b = -b``).

    Parameters
    ----------
    x : str
        Input column: samples drawn per problem (``k``).
    output : str
        Column predicted: coverage (pass@k averaged over problems), in (0, 1].

    Examples
    --------
    >>> law = coverage()
    >>> [round(float(v), 6) for v in law.predict({"A": 2.0, "b": 0.5}, samples=[1, 100, 1e4])]  # laws.md §15.10
    [0.135335, 0.818731, 0.980199]
    """
    return CoverageLaw(
        name="coverage",
        inputs=(x,),
        roles={x: None},
        parameters=_parameters(x, ceiling=False),
        output=output,
        description=f"exp(-A * {x}^(-b))",
        reference=_REFERENCE,
        options={"x": x, "output": output},
    )


def coverage_ceiling(x: str = "samples", output: str = "coverage") -> CoverageLaw:
    """Success rate with a plateau, ``C_max * exp(-A * x^(-b))`` with ``0 < C_max <= 1``.

    For majority voting or a verifier that is not perfect, the success rate levels off at ``C_max``
    below coverage (Brown et al. 2024). With ``C_max = 1`` it is :func:`coverage`.

    Examples
    --------
    >>> law = coverage_ceiling()
    >>> round(float(law.predict({"A": 2.0, "b": 0.5, "C_max": 0.6}, samples=1e4)[0]), 6)
    0.588119
    """
    return CoverageLaw(
        name="coverage_ceiling",
        inputs=(x,),
        roles={x: None},
        parameters=_parameters(x, ceiling=True),
        output=output,
        description=f"C_max * exp(-A * {x}^(-b))",
        reference=_REFERENCE,
        options={"x": x, "output": output},
    )


CATALOG = {"coverage": coverage, "coverage_ceiling": coverage_ceiling}

__all__ = ["CATALOG", "CoverageLaw", "coverage", "coverage_ceiling"]
