"""Transfer laws: a downstream metric against the pretraining data size (Isik et al. 2024).

Isik, Ponomareva, Hazimeh, Paparas, Vassilvitskii, Koyejo 2024, "Scaling Laws for Downstream Task Performance
of Large Language Models" (arXiv:2402.04177), fit two laws in the pretraining data size ``D_p`` of a model that
is then fine-tuned on a task:

- the translation score (BLEU, COMET) by a log-law, ``f(D_p) = (log(A * D_p^alpha))^beta`` (their Eq. 1), law
  ``transfer_bleu``;
- the downstream cross-entropy by a power law with a floor, ``L(D_p) = E + A / D_p^alpha`` (their Eq. 3), law
  ``transfer_ce``.

The parameters are the paper's own, so published coefficients can be used as they are. What makes the fits
converge on raw token counts (``D_p`` of 1e9 to 1e12) is internal: the formulas are evaluated through ``log D_p``
(never ``D_p^alpha``), and the starts come from a linear least-squares solve on ``log D_p`` centred at the
data's geometric mean (scale-free), profiled over a grid of the one nonlinear exponent (``beta`` for the
log-law, ``alpha`` for the power law). The optimizer then starts within reach of the best fit whatever the
units of ``D_p``.

Both laws read one input (``tokens`` by default) that plays the role D (training data).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scalelaw.laws.law import Law, Parameter, log_sum_exp_terms

_REFERENCE = (
    "Isik et al. 2024, Scaling Laws for Downstream Task Performance of Large Language Models "
    "(arXiv:2402.04177), Eq. 1 (score) and Eq. 3 (cross-entropy)"
)
#: Exponents ``beta`` of the log-law profiled for the starts (BLEU-like scores need beta of about 1 to 5).
_BETA_GRID = np.geomspace(0.25, 16.0, 12)
#: Exponents ``alpha`` of the power law profiled for the starts.
_ALPHA_GRID = np.geomspace(1e-3, 3.0, 40)


def _centred_log(x: np.ndarray) -> tuple[np.ndarray, float]:
    """``log x`` minus its mean, and that mean: the scale-free input of the start solves."""
    log_x = np.log(np.asarray(x, dtype=np.float64))
    centre = float(np.mean(log_x))
    return log_x - centre, centre


# ---------------------------------------------------------------------------------------------- log-law


@dataclass(frozen=True, eq=False)
class TransferLogLaw(Law):
    """``f(D) = (log(A * D^alpha))^beta``, written ``beta * log(u)`` with ``u = log A + alpha * log D``.

    Parameter sets for which ``u <= 0`` at some row have no prediction there (NaN, an infinite objective for the
    optimizer), as the paper's law has none.
    """

    goal = "maximize"

    def log_predict_jac(self, theta, X, jac=True):
        log_x = np.log(X[self.inputs[0]])[None, :]
        A, alpha, beta = (theta[:, k, None] for k in range(3))
        with np.errstate(divide="ignore", invalid="ignore"):
            u = np.log(A) + alpha * log_x
            valid = u > 0
            log_u = np.log(np.where(valid, u, 1.0))
            log_pred = np.where(valid, beta * log_u, np.nan)
            if not jac:
                return log_pred, None
            ratio = beta / np.where(valid, u, np.nan)
            J = np.stack(np.broadcast_arrays(ratio / A, ratio * log_x, np.where(valid, log_u, np.nan)), axis=1)
        return log_pred, J

    def start_grid(self, X, y):
        # For a given beta, y^(1/beta) = log A + alpha log D is linear: solve it on centred log D, keep the
        # solutions with alpha > 0 and u > 0 at every row.
        t, centre = _centred_log(X[self.inputs[0]])
        y = np.maximum(np.asarray(y, dtype=np.float64), 1e-12)
        starts = []
        for beta in _BETA_GRID:
            z = y ** (1.0 / beta)
            if np.ptp(t) > 0:
                slope, intercept = np.polyfit(t, z, 1)
            else:
                slope, intercept = 0.0, float(np.mean(z))
            alpha = max(float(slope), 1e-3)
            # log A at D = 1 from the value at the centre; lifted so u stays positive at the smallest D.
            log_A = float(intercept) - alpha * centre
            lift = max(0.0, 1e-3 - float(np.min(log_A + alpha * (t + centre))))
            starts.append((np.exp(np.clip(log_A + lift, -690.0, 690.0)), alpha, beta))
        return self.clip(np.array(starts))


def transfer_bleu(x: str = "tokens", y: str = "bleu") -> TransferLogLaw:
    """Isik et al.'s log-law of a translation score in pretraining data, ``(log(A * x^alpha))^beta``.

    Parameters
    ----------
    x : str
        Input column: pretraining data size ``D_p`` (tokens), raw counts. Role D.
    y : str
        Column predicted: the downstream score (BLEU, COMET, ROUGE), > 0.

    Examples
    --------
    >>> law = transfer_bleu()
    >>> float(law.predict({"A": 1.0, "alpha": 0.5, "beta": 2.0}, tokens=np.exp(20.0))[0])  # (0.5 * 20)^2
    100.00000000000004
    """
    return TransferLogLaw(
        name="transfer_bleu",
        inputs=(x,),
        roles={x: "D"},
        parameters=(
            Parameter("A", 1e-300, 1e300, "log", description=f"scale of {x} inside the log"),
            Parameter("alpha", 1e-6, 50.0, "log", description=f"exponent of {x} inside the log"),
            Parameter("beta", 1e-3, 20.0, "log", description=f"power of the log: {y} grows like log({x})^beta"),
        ),
        output=y,
        description=f"(log(A * {x}^alpha))^beta",
        reference=_REFERENCE,
        options={"x": x, "y": y},
    )


# ---------------------------------------------------------------------------------------------- power law


@dataclass(frozen=True, eq=False)
class TransferPowerLaw(Law):
    """``L(D) = E + A / D^alpha``, evaluated as ``log(exp(log E) + exp(log A - alpha log D))``."""

    def log_predict_jac(self, theta, X, jac=True):
        log_x = np.log(X[self.inputs[0]])[None, :]
        E, A, alpha = (theta[:, k, None] for k in range(3))
        with np.errstate(divide="ignore"):
            log_E = np.log(E)
        log_pred, shares = log_sum_exp_terms([log_E, np.log(A) - alpha * log_x], weights=jac)
        if not jac:
            return log_pred, None
        w_A = shares[1]
        J = np.stack(np.broadcast_arrays(np.exp(-log_pred), w_A / A, -w_A * log_x), axis=1)
        return log_pred, J

    def start_grid(self, X, y):
        # For a given alpha the law is linear in (E, A'): y = E + A' * exp(-alpha t) with t the centred log D and
        # A = A' * exp(alpha * centre). Solve each by least squares; a negative E or A' is refitted at E = 0.
        t, centre = _centred_log(X[self.inputs[0]])
        y = np.asarray(y, dtype=np.float64)
        starts = []
        for alpha in _ALPHA_GRID:
            g = np.exp(-alpha * t)
            design = np.column_stack([np.ones_like(g), g])
            (E, A_c), *_ = np.linalg.lstsq(design, y, rcond=None)
            if E < 0 or A_c <= 0:
                E, A_c = 0.0, max(float(g @ y / (g @ g)), 1e-12)
            starts.append((E, A_c * np.exp(min(alpha * centre, 690.0)), alpha))
            # A second start with a floor just below the data, for laws whose floor the solve misses.
            E_low = 0.9 * float(np.min(y))
            A_low = max(float(g @ (y - E_low) / (g @ g)), 1e-12)
            starts.append((E_low, A_low * np.exp(min(alpha * centre, 690.0)), alpha))
        return self.clip(np.array(starts))


def transfer_ce(x: str = "tokens", y: str = "loss") -> TransferPowerLaw:
    """Isik et al.'s downstream cross-entropy in pretraining data, ``E + A / x^alpha``.

    The same formula as the catalog's ``power`` law, with a start grid built for a shallow fall on raw counts
    (downstream cross-entropy changes by a few percent over decades of pretraining data).

    Parameters
    ----------
    x : str
        Input column: pretraining data size ``D_p`` (tokens), raw counts. Role D.
    y : str
        Column predicted: the downstream (fine-tuned) cross-entropy.

    Examples
    --------
    >>> law = transfer_ce()
    >>> round(float(law.predict({"E": 0.5, "A": 100.0, "alpha": 0.25}, tokens=1e8)[0]), 6)  # 0.5 + 100 / 100
    1.5
    """
    return TransferPowerLaw(
        name="transfer_ce",
        inputs=(x,),
        roles={x: "D"},
        parameters=(
            Parameter("E", 0.0, 1e6, "identity", description=f"{y} with unlimited pretraining data (floor)"),
            Parameter("A", 1e-30, 1e300, "log", description="amplitude of the reducible term"),
            Parameter("alpha", 1e-6, 5.0, "identity", description=f"exponent of {x}"),
        ),
        output=y,
        description=f"E + A / {x}^alpha",
        reference=_REFERENCE,
        options={"x": x, "y": y},
    )


CATALOG = {"transfer_bleu": transfer_bleu, "transfer_ce": transfer_ce}

__all__ = ["CATALOG", "TransferLogLaw", "TransferPowerLaw", "transfer_bleu", "transfer_ce"]
