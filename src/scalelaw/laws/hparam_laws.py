"""Power laws of the optimal learning rate and batch size (the Step Law and DeepSeek LLM forms).

``target* = a · Π x_i^e_i``: a pure product of powers, linear in log space (``log a + Σ e_i log x_i``). The
catalog holds the two forms :mod:`scalelaw.decisions.hparams` fits across (N, D) cells:

- ``lr_step``: ``lr = a · params^alpha · tokens^beta`` and ``batch_step``: ``batch_size = b · tokens^gamma``
  (Li et al. 2025, "Predictable Scale: Part I": a = 1.79, alpha = -0.713, beta = 0.307; b = 0.58,
  gamma = 0.571, with batch sizes in tokens);
- ``lr_deepseek``: ``lr = a · flops^alpha`` and ``batch_deepseek``: ``batch_size = b · flops^beta`` (Bi et al.
  2024, DeepSeek LLM sec. 3.1: 0.3118, -0.1250; 0.2920, 0.3271).

Fitted with :func:`scalelaw.fit` on a table of per-cell optima (one row per cell), they give the same point
estimates as :func:`scalelaw.decisions.hparams.fit_hparams` (least squares in log space), which also
propagates the per-cell bootstrap. They predict a hyperparameter, not a loss: their ``goal`` is ``"none"``, so the
plans of :mod:`scalelaw.decisions.plan`, which minimise a loss, refuse them with a message.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scalelaw.laws.law import CANONICAL_ROLES, Law, Parameter


@dataclass(frozen=True, eq=False)
class ProductPowerLaw(Law):
    """``y = a · Π x_i^e_i``: the first parameter is the coefficient ``a``, then one exponent per input."""

    goal = "none"

    def log_predict_jac(self, theta, X, jac=True):
        logs = np.stack([np.log(np.asarray(X[name], dtype=np.float64)) for name in self.inputs])  # (k, rows)
        log_pred = np.log(theta[:, :1]) + theta[:, 1:] @ logs
        if not jac:
            return log_pred, None
        J = np.empty((theta.shape[0], self.n_params, logs.shape[1]))
        J[:, 0, :] = 1.0 / theta[:, :1]
        J[:, 1:, :] = logs[None, :, :]
        return log_pred, J

    def start_grid(self, X, y):
        # Linear in log space: least squares is the answer on noise-free data; a few shifted exponents guard
        # the optimizer against a poor start when the data hold outliers.
        logs = np.column_stack([np.ones(len(y))] + [np.log(np.asarray(X[n], dtype=np.float64)) for n in self.inputs])
        coef = np.linalg.lstsq(logs, np.log(np.asarray(y, dtype=np.float64)), rcond=None)[0]
        starts = [coef]
        for shift in (-0.2, 0.2):
            moved = coef.copy()
            moved[1:] += shift
            moved[0] = np.mean(np.log(y) - logs[:, 1:] @ moved[1:])
            starts.append(moved)
        theta = np.array(starts)
        theta[:, 0] = np.exp(np.clip(theta[:, 0], -60.0, 60.0))
        return self.clip(theta)


def _law(name: str, output: str, coef: str, terms: dict[str, str], reference: str) -> ProductPowerLaw:
    body = " * ".join(f"{x}^{e}" for x, e in terms.items())
    return ProductPowerLaw(
        name=name,
        inputs=tuple(terms),
        roles={x: CANONICAL_ROLES.get(x) for x in terms},
        parameters=(
            Parameter(coef, 1e-30, 1e30, "log", description=f"coefficient of the optimal {output}"),
            *(Parameter(e, -5.0, 5.0, "identity", description=f"exponent of {x}") for x, e in terms.items()),
        ),
        output=output,
        description=f"{coef} * {body}",
        reference=reference,
    )


_STEP = "Li et al. 2025, Predictable Scale: Part I (Step Law), arXiv:2503.04715"
_DEEPSEEK = "Bi et al. 2024, DeepSeek LLM, arXiv:2401.02954, sec. 3.1"


def lr_step() -> ProductPowerLaw:
    """Optimal peak learning rate ``lr = a · params^alpha · tokens^beta`` (Step Law: 1.79, -0.713, 0.307).

    >>> round(float(lr_step().predict({"a": 1.79, "alpha": -0.713, "beta": 0.307}, params=1e9, tokens=1e11)[0]), 6)
    0.001632
    """
    return _law("lr_step", "lr", "a", {"params": "alpha", "tokens": "beta"}, _STEP)


def batch_step() -> ProductPowerLaw:
    """Optimal batch size in tokens ``batch_size = b · tokens^gamma`` (Step Law: 0.58, 0.571)."""
    return _law("batch_step", "batch_size", "b", {"tokens": "gamma"}, _STEP)


def lr_deepseek() -> ProductPowerLaw:
    """Optimal learning rate ``lr = a · flops^alpha`` (DeepSeek LLM: 0.3118, -0.1250; C in FLOPs)."""
    return _law("lr_deepseek", "lr", "a", {"flops": "alpha"}, _DEEPSEEK)


def batch_deepseek() -> ProductPowerLaw:
    """Optimal batch size in tokens ``batch_size = b · flops^beta`` (DeepSeek LLM: 0.2920, 0.3271)."""
    return _law("batch_deepseek", "batch_size", "b", {"flops": "beta"}, _DEEPSEEK)


CATALOG = {"lr_step": lr_step, "batch_step": batch_step, "lr_deepseek": lr_deepseek, "batch_deepseek": batch_deepseek}
