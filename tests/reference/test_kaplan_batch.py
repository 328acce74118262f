"""Kaplan et al. 2020's critical batch size and L(N, S_min) at their published constants.

Kaplan et al. 2020, "Scaling Laws for Neural Language Models" (arXiv:2001.08361), checked against the paper's
text: eqs. 1.4 and 5.3 give ``B_crit(L) = B_* / L^(1/alpha_B)`` with ``B_* ≈ 2e8`` tokens and
``alpha_B ≈ 0.21`` (Appendix A, Table 5 prints ``B_* = 2.1e8``); eqs. 5.4-5.5 the conversion to ``S_min`` and
``E_min``; eq. 1.6 (= 5.6) with Table 3 (``alpha_N = 0.077, alpha_S = 0.76, N_c = 6.5e13, S_c = 2.1e3``) the
learning-curve law; sec. 6.1 the consequences ``B_crit ∝ L^-4.8`` and ``B_crit ∝ C_min^0.24``. Oracle values:
laws.md §15.4.
"""

from __future__ import annotations

import numpy as np
import pytest

from scalelaw import get_law
from scalelaw.decisions.critical_batch import KAPLAN_ALPHA_B, critical_batch_size, minimum_steps_and_data
from scalelaw.laws.steps import KAPLAN_TABLE3


def test_kaplan_critical_batch_oracle():
    """Kaplan eq. 5.3 with B_* = 2e8 tokens, alpha_B = 0.21 (laws.md §15.4), to 5 significant digits."""
    got = critical_batch_size([4.0, 3.0, 2.5, 2.0])
    np.testing.assert_allclose(got, [2.7169e5, 1.0691e6, 2.5473e6, 7.3715e6], rtol=5e-5)
    # Table 5's less rounded B_* = 2.1e8 makes every value 5% larger.
    np.testing.assert_allclose(critical_batch_size(3.0, B_star=2.1e8) / got[1], 1.05, rtol=1e-12)


def test_kaplan_minimum_steps_and_data_oracle():
    """Kaplan eqs. 5.4-5.5 at L = 3, B = 2^19 tokens, S = 1e5 steps (laws.md §15.4), to 5 digits; at B = B_crit
    a run takes twice the least steps and twice the least data (Kaplan sec. 5.1)."""
    s_min, e_min = minimum_steps_and_data(1e5, 2**19, critical_batch_size(3.0))
    assert float(s_min) == pytest.approx(3.2904e4, rel=5e-5)
    assert float(e_min) == pytest.approx(3.5178e10, rel=5e-5)
    s_min, e_min = minimum_steps_and_data(1e4, 1e6, 1e6)
    assert (float(s_min), float(e_min)) == (5e3, 5e9)


def test_kaplan_exponents_of_section_6():
    """Kaplan sec. 6.1: ``B ∝ L^-4.8`` (1/alpha_B) and, with ``L ∝ C_min^-0.050`` (eq. 1.3),
    ``B_crit ∝ C_min^0.24``: both reproduced to the 2 digits printed."""
    assert round(1 / KAPLAN_ALPHA_B, 1) == 4.8
    assert round(0.050 / KAPLAN_ALPHA_B, 2) == 0.24


def test_kaplan_steps_law_table3_oracle():
    """Kaplan eq. 1.6 with Table 3's fit: L(N = 1e9, S_min = 1e5) = 2.4005 (laws.md §15.4), 5 digits; the step
    input has no role, so planning can never read it as tokens."""
    law = get_law("kaplan_steps")
    assert float(law.predict(KAPLAN_TABLE3, params=1e9, s_min=1e5)[0]) == pytest.approx(2.4005, abs=5e-5)
    assert law.roles == {"params": "N", "s_min": None}
    assert get_law("kaplan_steps", s="step").roles == {"params": "N", "step": None}
