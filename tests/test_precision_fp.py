"""Floating-point quantization-training law ``fp_quant`` (Sun et al. 2025, laws.md §8.2) and its decisions.

Provenance of the reference numbers: Sun, Li, Xie et al., "Scaling Laws for Floating-Point Quantization
Training", ICML 2025, arXiv:2501.02423v3 (read as a stored text copy of the v3 PDF):
* form: Eq. (1) = Eq. (18) = Eq. (26); constants: Appendix B, Table 2 (n=69.2343, alpha=0.2368, d=68973.0621,
  beta=0.5162, eps=1.9061, gamma=11334.5197, delta=3.1926, nu=2.9543), shipped as ``SUN2025``;
* critical data size, Eq. (21) and sec. 4.3: "a 1 billion-parameter model trained utilizing BF16 exhibits a Dcrit
  value of 1730T ... FP8-E4M3 ... 27T, and with FP4-E2M1 ... 0.4T" (block size 128, as in their Figures 7, 14);
* optimal layout, Eq. (19) and Figure 5: fp1..fp16 = E0M0, E1M0, E1M1, E2M1, E2M2, E3M2, E3M3, E4M3, E4M4,
  E5M4, E5M5, E6M5, E6M6, E7M6, E7M7, E8M7.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import optimize

from law_case import noisy, quiet_fit
from law_cases_precision import fp_quant_design
from scalelaw.decisions.precision import critical_data_size, optimal_float_layout
from scalelaw.errors import DataError, LawError
from scalelaw.laws import law_from_dict
from scalelaw.laws.precision import SUN2025, fp_quant, precision

PAPER_LAYOUTS = "E0M0 E1M0 E1M1 E2M1 E2M2 E3M2 E3M3 E4M3 E4M4 E5M4 E5M5 E6M5 E6M6 E7M6 E7M7 E8M7".split()


_data, _fit = noisy, quiet_fit


@pytest.fixture(scope="module")
def fp_fit():
    law = fp_quant()
    return _fit(law, _data(law, SUN2025, fp_quant_design()))


def _small_design():
    """120 runs (one seed each): 3 sizes x 2 token counts x 10 layouts x 2 blocks, for fast bootstraps."""
    full = fp_quant_design()
    keep = np.isin(full["params"], np.logspace(7.5, 9.5, 5)[[0, 2, 4]]) & np.isin(full["tokens"], [1e10, 1e11])
    keep &= full["block"] != 128.0
    return {k: v[keep] for k, v in full.items()}


# ------------------------------------------------------------------------------------------ paper references
def test_critical_data_size_reproduces_paper_section_4_3():
    plan = critical_data_size(SUN2025, 1e9, exp_bits=[8, 4, 2], man_bits=[7, 3, 1], block=128)
    tokens = plan.table["tokens_crit"].to_numpy()
    # The paper prints 1730T, 27T and 0.4T: ours round to the same digits (1729.55T, 27.33T, 0.393T).
    assert [round(tokens[0] / 1e13) * 10, round(tokens[1] / 1e12), round(tokens[2] / 1e12, 1)] == [1730, 27, 0.4]


def test_optimal_layout_reproduces_paper_figure_5():
    table = optimal_float_layout(SUN2025, range(1, 17)).table
    got = [f"E{e:.0f}M{m:.0f}" for e, m in zip(table["exp_bits_int"], table["man_bits_int"], strict=True)]
    assert got == PAPER_LAYOUTS
    share = SUN2025["delta"] / (SUN2025["delta"] + SUN2025["nu"])
    np.testing.assert_allclose(table["man_bits_opt"], (1 - share) * table["bits"] - 0.5, rtol=1e-12)
    np.testing.assert_allclose(table["exponent_share"], share)


def test_continuous_layout_matches_numeric_minimum_of_the_law():
    law = fp_quant()
    P = 8.0
    opt = optimal_float_layout(SUN2025, [8]).table.iloc[0]

    def loss(m):
        return law.predict(SUN2025, params=1e8, tokens=1e11, exp_bits=P - 1 - m, man_bits=m, block=128)[0]

    m_num = optimize.minimize_scalar(loss, bounds=(0.0, P - 1), method="bounded", options={"xatol": 1e-9}).x
    assert opt["man_bits_opt"] == pytest.approx(m_num, abs=1e-4)


# ------------------------------------------------------------------------------------------ closed form vs numeric
@pytest.mark.parametrize(("N", "E", "M", "B"), [(1e9, 4, 3, 128), (1e8, 2, 1, 32), (7e10, 1, 1, 1024), (1e9, 0, 7, 2)])
def test_critical_data_size_matches_numeric_minimizer(N, E, M, B):
    law = fp_quant()
    plan = critical_data_size(SUN2025, N, exp_bits=E, man_bits=M, block=B).table.iloc[0]

    def loss(log_D):
        return law.predict(SUN2025, params=N, tokens=np.exp(log_D), exp_bits=E, man_bits=M, block=B)[0]

    guess = math.log(plan["tokens_crit"])
    res = optimize.minimize_scalar(loss, bounds=(guess - 5, guess + 5), method="bounded", options={"xatol": 1e-10})
    assert plan["tokens_crit"] == pytest.approx(math.exp(res.x), rel=1e-4)
    assert plan["loss_crit"] == pytest.approx(res.fun, rel=1e-10)
    assert plan["tokens_per_param_crit"] == pytest.approx(plan["tokens_crit"] / N)


def test_block_of_one_has_no_critical_size():
    row = critical_data_size(SUN2025, 1e9, exp_bits=4, man_bits=3, block=1).table.iloc[0]
    assert math.isinf(row["tokens_crit"])
    assert row["loss_crit"] == pytest.approx(SUN2025["n"] * 1e9 ** -SUN2025["alpha"] + SUN2025["eps"])


# ------------------------------------------------------------------------------------------ recovery and intervals
def test_recovers_paper_constants_from_synthetic_runs(fp_fit):
    got = fp_fit.params
    for name, rtol in {"alpha": 0.03, "beta": 0.03, "eps": 0.02, "delta": 0.05, "nu": 0.05}.items():
        assert got[name] == pytest.approx(SUN2025[name], rel=rtol), name
    truth = critical_data_size(SUN2025, 1e9, exp_bits=[4, 2], man_bits=[3, 1], block=128).table["tokens_crit"]
    fitted = critical_data_size(fp_fit, 1e9, exp_bits=[4, 2], man_bits=[3, 1], block=128).table["tokens_crit"]
    np.testing.assert_allclose(fitted, truth, rtol=0.25)
    layouts = optimal_float_layout(fp_fit, [4, 8, 16]).table
    assert list(layouts["exp_bits_int"]) == [2, 4, 8] and list(layouts["man_bits_int"]) == [1, 3, 7]


def test_bootstrap_intervals_cover_the_truth():
    law = fp_quant()
    result = _fit(law, _data(law, SUN2025, _small_design(), seed=1))
    boot = result.bootstrap(n=60, seed=0)
    plan = critical_data_size(result, 1e9, exp_bits=4, man_bits=3, block=128, level=0.9, boot=boot)
    row = plan.table.iloc[0]
    truth = critical_data_size(SUN2025, 1e9, exp_bits=4, man_bits=3, block=128).table["tokens_crit"][0]
    assert row["tokens_crit_low"] < truth < row["tokens_crit_high"]
    assert row["tokens_crit_low"] <= row["tokens_crit"] <= row["tokens_crit_high"]
    layout = optimal_float_layout(result, [8], level=0.9, boot=boot).table.iloc[0]
    share = SUN2025["delta"] / (SUN2025["delta"] + SUN2025["nu"])
    assert layout["exponent_share_low"] < share < layout["exponent_share_high"]
    assert "bootstrap by run (n=60)" in plan.method


def test_fixed_format_law_and_fixed_parameters():
    design = {k: v for k, v in fp_quant_design().items()}
    one = design["block"] == 128.0
    data = _data(fp_quant(), SUN2025, {k: v[one] for k, v in design.items()})
    fixed_block = fp_quant(block=128)
    assert fixed_block.inputs == ("params", "tokens", "exp_bits", "man_bits")
    res = _fit(fixed_block, {k: v for k, v in data.items() if k != "block"})
    assert res.params["delta"] == pytest.approx(SUN2025["delta"], rel=0.1)
    row = critical_data_size(res, 1e9, exp_bits=4, man_bits=3).table.iloc[0]  # block taken from the law
    assert row["block"] == 128.0
    with pytest.raises(LawError, match="fixed at 128"):
        critical_data_size(res, 1e9, exp_bits=4, man_bits=3, block=32)
    # delta, nu held at the paper's values: the decision unwraps the fixed law.
    held = _fit(fp_quant().fix(delta=SUN2025["delta"], nu=SUN2025["nu"]), data)
    assert critical_data_size(held, 1e9, exp_bits=4, man_bits=3, block=128).table["tokens_crit"][0] > 0
    assert optimal_float_layout(held, [8]).table["exponent_share"][0] == pytest.approx(
        SUN2025["delta"] / (SUN2025["delta"] + SUN2025["nu"])
    )


def test_fixed_layout_drops_shape_parameters_and_round_trips():
    law = fp_quant(exp_bits=4, man_bits=3, block=128)
    assert law.inputs == ("params", "tokens") and "delta" not in law.param_names and "nu" not in law.param_names
    assert law_from_dict(law.to_dict()) == law
    # gamma absorbs (E+.5)^delta (M+.5)^nu: same predictions as the full law.
    gamma = SUN2025["gamma"] * 4.5 ** SUN2025["delta"] * 3.5 ** SUN2025["nu"]
    reduced = {k: v for k, v in SUN2025.items() if k not in ("delta", "nu")} | {"gamma": gamma}
    full = fp_quant().predict(SUN2025, params=1e9, tokens=[1e11, 1e13], exp_bits=4, man_bits=3, block=128)
    np.testing.assert_allclose(law.predict(reduced, params=1e9, tokens=[1e11, 1e13]), full, rtol=1e-12)
    with pytest.raises(LawError, match="exp_bits=4, man_bits=3 fixed"):
        optimal_float_layout(reduced, [8], law=law)


def test_renamed_columns():
    law = fp_quant(block=32).with_inputs("N", "D", "E", "M").with_roles(N="N", D="D")  # renamed: roles declared
    assert law.column("exp_bits") == "E" and law.column("man_bits") == "M" and law.column("block") is None
    same = fp_quant().predict(SUN2025, params=1e9, tokens=1e11, exp_bits=4, man_bits=3, block=32)
    np.testing.assert_allclose(law.predict(SUN2025, N=1e9, D=1e11, E=4, M=3), same, rtol=1e-14)
    assert law_from_dict(law.to_dict()) == law
    direct = critical_data_size(SUN2025, 1e9, exp_bits=4, man_bits=3, block=32).table["tokens_crit"]
    renamed = critical_data_size(SUN2025, 1e9, exp_bits=4, man_bits=3, law=law).table["tokens_crit"]
    np.testing.assert_allclose(renamed, direct, rtol=1e-12)


# ------------------------------------------------------------------------------------------ bad inputs
def test_bad_inputs_are_named():
    law = fp_quant()
    with pytest.raises(DataError, match=r"'exp_bits'.*rows 1"):
        law.predict(SUN2025, params=1e9, tokens=1e11, exp_bits=[4, -1], man_bits=3, block=128)
    with pytest.raises(DataError, match=r"'block'.*>= 1"):
        law.predict(SUN2025, params=1e9, tokens=1e11, exp_bits=4, man_bits=3, block=0.5)
    with pytest.raises(DataError, match="'man_bits'"):
        critical_data_size(SUN2025, 1e9, exp_bits=4, man_bits=float("nan"), block=128)
    with pytest.raises(DataError, match="'tokens'"):
        law.predict(SUN2025, params=1e9, tokens=0.0, exp_bits=4, man_bits=3, block=128)
    with pytest.raises(DataError, match="params"):
        critical_data_size(SUN2025, -1.0, exp_bits=4, man_bits=3, block=128)
    with pytest.raises(DataError, match="whole total bit widths"):
        optimal_float_layout(SUN2025, [8, 4.5])
    with pytest.raises(LawError, match="needs man_bits="):
        critical_data_size(SUN2025, 1e9, exp_bits=4, block=128)
    with pytest.raises(LawError, match="intervals need a FitResult"):
        critical_data_size(SUN2025, 1e9, exp_bits=4, man_bits=3, block=128, level=0.9)
    with pytest.raises(LawError, match="block=1"):
        fp_quant(block=1)
    with pytest.raises(LawError, match="column name or a number"):
        fp_quant(exp_bits=True)
    with pytest.raises(LawError, match="distinct"):
        fp_quant(man_bits="exp_bits")
    kumar = precision()
    truth = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28, "gamma_w": 2.5}
    design = {
        "params": np.repeat([1e8, 1e9], 4),
        "tokens": np.tile([1e10, 3e10], 4),
        "bits_w": np.tile([4, 4, 8, 8], 2),
    }
    with pytest.raises(LawError, match="'fp_quant'"):
        critical_data_size(_fit(kumar, _data(kumar, truth, design)), 1e9, exp_bits=4, man_bits=3, block=128)


# ------------------------------------------------------------------------------------------ properties
@settings(max_examples=60, deadline=None)
@given(
    N=st.floats(1e7, 1e12),
    E=st.integers(0, 8),
    M=st.integers(0, 10),
    log2_B=st.floats(1.0, 20.0),
)
def test_critical_size_grows_with_precision_and_size_and_shrinks_with_block(N, E, M, log2_B):
    def crit(**kw):
        args = {"params": N, "exp_bits": E, "man_bits": M, "block": 2.0**log2_B} | kw
        return critical_data_size(SUN2025, **args).table["tokens_crit"][0]

    base = crit()
    assert crit(man_bits=M + 1) > base
    assert crit(exp_bits=E + 1) > base
    assert crit(params=2 * N) > base
    assert crit(block=2.0 ** (log2_B + 1)) < base
    # D_crit is the minimum of the loss in D.
    law = fp_quant()
    at = law.predict(
        SUN2025, params=N, tokens=base * np.array([0.5, 1.0, 2.0]), exp_bits=E, man_bits=M, block=2.0**log2_B
    )
    assert at[1] <= at[0] and at[1] <= at[2]
