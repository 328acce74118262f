"""Data-mixture law: Ye et al.'s data mixing law for one validation loss.

``L(r) = c + k * exp(sum_j t_j * r_j)`` with mixture proportions ``r`` on the simplex (laws.md §9.2; the
reference code ``yegcjs/mixinglaws`` ``pipeline/utils.py::mixture_law_`` fits ``c`` and ``k`` in log space,
as here). The fitting, model comparison and mixture search built on it live in :mod:`scalelaw.topics.mixture`.

Identifiability: the proportions sum to one, so adding a constant to every ``t_j`` only rescales ``k``
(``exp(sum_j (t_j + a) r_j) = exp(a) * exp(sum_j t_j r_j)``). The last domain is therefore the reference,
with ``t`` fixed at 0 and no parameter of its own: ``k`` is the reducible loss of a run trained on the
reference domain alone, and ``t_j`` is the log-change of the reducible loss when all the weight moves
from the reference domain to domain ``j``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from scalelaw.errors import LawError
from scalelaw.laws.law import Law, Parameter, log_sum_exp_terms

#: Mixture proportions are read from columns named ``w_<domain>``.
COLUMN_PREFIX = "w_"

#: |t_j| above this would mean the reducible loss changes by more than e^30 across the simplex.
_T_BOUND = 30.0

_REFERENCE = (
    "Ye, Liu, Sun, Zhou, Zhan, Qiu 2024, Data Mixing Laws: Optimizing Data Mixtures by Predicting Language "
    "Modeling Performance (ICLR 2025); repo yegcjs/mixinglaws"
)


def proportion_column(domain: str) -> str:
    """Name of the data column holding the proportion of ``domain`` (``"code"`` -> ``"w_code"``)."""
    return f"{COLUMN_PREFIX}{domain}"


@dataclass(frozen=True, eq=False)
class MixingLaw(Law):
    """``L = c + k * exp(sum_{j < M} t_j * r_j)``; the last of the M domains is the reference (``t_M = 0``).

    Evaluated as ``log L = logsumexp(log c, log k + sum_j t_j r_j)``; ``c`` and ``k`` are optimized in
    log space, the ``t_j`` in natural units.
    """

    def log_predict_jac(self, theta, X, jac=True):
        R = np.stack([X[name] for name in self.inputs[:-1]], axis=0)  # (M-1, n_rows)
        log_c, log_k = np.log(theta[:, [0]]), np.log(theta[:, [1]])
        exponent = log_k + theta[:, 2:] @ R  # (n_sets, n_rows)
        log_pred, shares = log_sum_exp_terms([log_c, exponent], weights=jac)
        if not jac:
            return log_pred, None
        share_c, share_k = np.broadcast_arrays(*shares)
        J = np.empty((theta.shape[0], self.n_params, R.shape[1]))
        J[:, 0] = share_c / theta[:, [0]]
        J[:, 1] = share_k / theta[:, [1]]
        J[:, 2:] = share_k[:, None, :] * R[None, :, :]
        return log_pred, J

    def start_grid(self, X, y):
        # For each trial floor c below min L, log(L - c) = log k + R t is linear: solve it by least squares.
        R = np.stack([X[name] for name in self.inputs[:-1]], axis=1)  # (n_rows, M-1)
        y = np.asarray(y, dtype=np.float64)
        design = np.column_stack([np.ones(len(y)), R])
        y_min = float(np.min(y))
        starts = []
        for frac in (1e-6, 0.25, 0.5, 0.75, 0.9, 0.97):
            c = frac * y_min
            coef, *_ = np.linalg.lstsq(design, np.log(y - c), rcond=None)
            t = np.clip(coef[1:], -_T_BOUND, _T_BOUND)
            for scale in (1.0, 0.5):
                starts.append([c, float(np.exp(coef[0])) * np.exp((1 - scale) * float(np.mean(R @ t))), *(scale * t)])
            starts.append([c, float(np.mean(y)) - c, *np.zeros(R.shape[1])])
        return self.clip(np.array(starts))


def _check_domains(domains: Sequence[str]) -> tuple[str, ...]:
    if isinstance(domains, str):
        domains = [d.strip() for d in domains.split(",") if d.strip()]
    names = tuple(str(d) for d in domains)
    if len(names) < 2:
        raise LawError(f"a mixing law needs at least 2 domains, got {list(names)}")
    if len(set(names)) != len(names):
        raise LawError(f"mixing law domains repeat: {list(names)}")
    bad = [d for d in names if not d.isidentifier()]
    if bad:
        raise LawError(
            f"domain names must be identifiers (letters, digits, underscores; they name parameters t_<domain>): "
            f"{', '.join(map(repr, bad))}"
        )
    return names


def mixing_law(domains: Sequence[str] = ("web", "code", "books")) -> MixingLaw:
    """Ye et al.'s data mixing law for one loss, over mixture proportions columns ``w_<domain>``.

    Parameters
    ----------
    domains : sequence of str
        Training domains, in order; the law reads their proportions from columns ``w_<domain>``
        (rename with ``law.with_inputs(...)`` for other column names). The **last** domain is the reference:
        its ``t`` is fixed at 0 because proportions sum to one (see the module docstring).

    Examples
    --------
    >>> law = mixing_law(["web", "code", "books"])
    >>> law.inputs, law.param_names
    (('w_web', 'w_code', 'w_books'), ('c', 'k', 't_web', 't_code'))
    >>> float(law.predict({"c": 2.0, "k": 1.0, "t_web": -1.0, "t_code": 0.5}, w_web=1.0, w_code=0.0, w_books=0.0)[0])
    ... # doctest: +ELLIPSIS
    2.367...
    """
    names = _check_domains(domains)
    params = (
        Parameter("c", 1e-8, 1e4, "log", description="irreducible part of the loss"),
        Parameter("k", 1e-8, 1e4, "log", description=f"reducible loss of a run trained on {names[-1]} alone"),
        *(
            Parameter(
                f"t_{d}",
                -_T_BOUND,
                _T_BOUND,
                "identity",
                description=f"log-change of the reducible loss moving all weight from {names[-1]} to {d}",
            )
            for d in names[:-1]
        ),
    )
    terms = " + ".join(f"t_{d}*{proportion_column(d)}" for d in names[:-1])
    return MixingLaw(
        name="mixing_law",
        inputs=tuple(proportion_column(d) for d in names),
        roles=dict.fromkeys(proportion_column(d) for d in names),
        parameters=params,
        description=f"c + k*exp({terms})  (reference domain {names[-1]}: t = 0)",
        reference=_REFERENCE,
        options={"domains": list(names)},
    )


CATALOG = {"mixing_law": mixing_law}
