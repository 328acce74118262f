"""Transfer from pretraining to a downstream task: how well a pretraining mixture is aligned with a task.

Isik et al. 2024 (arXiv:2402.04177, sec. 3.2, Eq. 2) score the alignment of a pretraining mixture ``D`` with a
translation task from ``L_src`` to ``L_dest`` by the shares of the two languages in the mixture:

    A(D, T) = P_src * P_dest + 0.7 * P_src + 0.8 * P_dest,

1 for a 50/50 mixture of the two languages, 0.7 for the source language alone, 0.8 for the target alone and 0
for neither. They find that with enough alignment (A = 1) the translation score follows the log-law
``transfer_bleu`` in the pretraining data size and the downstream cross-entropy the power law ``transfer_ce``
(:mod:`scalelaw.laws.transfer`); with less, the score can stop improving or fall while the cross-entropy keeps
improving. Fit both and compare (docs/transfer.md).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from scalelaw.errors import DataError


def alignment_score(p_src: Any, p_dest: Any) -> float | np.ndarray:
    """Isik et al.'s translation alignment score of a pretraining mixture (their Eq. 2).

    Parameters
    ----------
    p_src, p_dest : float or array_like
        Shares of the source and target languages in the pretraining mixture, each in [0, 1], summing to <= 1.

    Returns
    -------
    float or ndarray
        ``p_src * p_dest + 0.7 * p_src + 0.8 * p_dest``, between 0 and 1.

    Examples
    --------
    >>> alignment_score(0.5, 0.5), alignment_score(1.0, 0.0), alignment_score(0.0, 1.0), alignment_score(0.0, 0.0)
    (1.0, 0.7, 0.8, 0.0)
    """
    src = np.asarray(p_src, dtype=np.float64)
    dest = np.asarray(p_dest, dtype=np.float64)
    bad = ~np.isfinite(src) | ~np.isfinite(dest) | (src < 0) | (dest < 0) | (src + dest > 1 + 1e-12)
    if np.any(bad):
        raise DataError(
            f"language shares must lie in [0, 1] and sum to at most 1 (the rest of the mixture is other data), "
            f"got p_src={p_src!r}, p_dest={p_dest!r}"
        )
    score = src * dest + 0.7 * src + 0.8 * dest
    return float(score) if score.ndim == 0 else score


__all__ = ["alignment_score"]
