"""Formulas are vetted on Python's parse tree, under fixed limits, before sympy sees them (issue #14)."""

from __future__ import annotations

import time

import pytest

from scalelaw import Law
from scalelaw.errors import LawError
from scalelaw.laws import expression
from scalelaw.laws.expression import ExpressionLaw, _product_subset

HOSTILE = [
    ("E + A*params**-alpha + 2**2**30", "'2**2**30' would make numbers of about 10^3.23e+08"),
    ("E + A*params**-alpha + 2^2^30", "would make numbers of about 10^3.23e+08"),
    ("E + A*params**-alpha + 10**10**10", "'10**10**10' would make numbers of about 10^1e+10"),
    ("E + A*params**-alpha + (10**150)**3", "beyond the limit of 1e300"),
    ("E + A*(2*params)**1000", "(powers of constants are computed exactly)"),
    ("E + A*params**-alpha + 1e999999", "'1e999999' is beyond ±1e300"),
    ("E + A*params**-alpha + 1e300*1e300", "is beyond ±1e300"),
    ("E + A*params**-alpha + exp(1000)", "'exp(1000)' is infinite, undefined or complex"),
    ("E + A*params**-alpha + (-2)**0.5", "is a complex number"),
    ("E + A*params**-alpha + 1/0", "divides by zero"),
    ("E + A*params**-alpha + " + "9" * 10_000, "10,023 characters long, over the limit of 1,000"),
    ("E + A*params**-alpha + " + "9" * 41, "has 41 characters, over the limit of 40"),
    (" + ".join(f"A{i}*params" for i in range(2_000)), "over the limit of 1,000"),
    ("E + A*params**-alpha" + " + params" * 70, "adds more than 64 terms in one sum"),
    (" + ".join(f"A{i}*params**-a" for i in range(40)), "more than 32 symbols"),
    ("(" * 30 + "E + A*params**-alpha" + ")" * 30, "nests deeper than 20 levels"),
    ("E + A*" + "exp(" * 25 + "params" + ")" * 25, "nests deeper than 20 levels"),
    ("E + A*params**-alpha" + "*-1" * 250, "more than 400 names, numbers and operations"),
    ("E + log(params, 2)", "log() takes exactly one argument"),
    ("E + A*params**-alpha" + " " * 5_000, "characters long"),
]


@pytest.mark.parametrize("text,message", HOSTILE, ids=[h[1][:40] for h in HOSTILE])
def test_hostile_formulas_are_refused_fast_with_the_limit_named(text, message):
    start = time.perf_counter()
    with pytest.raises(LawError) as info:
        ExpressionLaw.from_expression(text)
    assert time.perf_counter() - start < 0.5  # refused before sympy: microseconds, not the 60-90 s of sympy
    assert message in str(info.value)
    assert len(str(info.value)) < 500  # the formula is quoted shortened, however long


ACCEPTED = [
    "E + A*flops**-alpha",  # the README's example
    "E + A/params^alpha + B/tokens^beta",
    "((N_c/params)**(alpha_N/alpha_D) + D_c/tokens)**alpha_D",
    "E + A*(1 + params/N_c)**-alpha",
    "E + A*params**-alpha + (-2)**2 + 2**10 + 1e-300 + (2.0*params)**1000",
    "E + A*(params/1e9)**2.5 + B*sqrt(tokens)**-beta",
    " + ".join(["E", *(f"A{i}*params**-a{i}" for i in range(15))]),  # 31 symbols
    "E + A*" + "log(1 + " * 8 + "params" + ")" * 8,  # 19 levels: a log and a sum each
]


@pytest.mark.parametrize("text", ACCEPTED)
def test_real_formulas_stay_within_the_limits(text):
    start = time.perf_counter()
    law = Law.from_expression(text)
    assert law.n_params >= 1
    assert time.perf_counter() - start < 5


def test_the_limits_are_far_above_real_formulas():
    assert expression.MAX_LENGTH >= 10 * len("((N_c/params)**(alpha_N/alpha_D) + D_c/tokens)**alpha_D")
    assert expression.MAX_DEPTH >= 4 * 5  # Kaplan's joint law nests 5 levels
    assert expression.MAX_LOG10 == 300.0


def test_a_formula_with_many_exponents_gets_a_bounded_start_grid():
    law = Law.from_expression(" + ".join(["E", *(f"A{i}*params**-a{i}" for i in range(15))]))
    params = [1e7, 1e8, 1e9, 1e10]
    grid = law.start_grid(law.bind({"params": params}), [3.0, 2.8, 2.7, 2.65])
    assert grid.shape == (2048, law.n_params)  # 3**15 * 3 combinations, never built


def test_product_subset_matches_slicing_the_full_product_and_scales():
    import itertools

    import numpy as np

    grids = [(1.0, 2.0, 3.0)] * 8
    full = np.array(list(itertools.product(*grids)))
    picked = full[np.unique(np.linspace(0, full.shape[0] - 1, 100).astype(int))]
    np.testing.assert_array_equal(_product_subset(grids, 100), picked)
    assert _product_subset([tuple(range(1000))] * 32, 2048).shape == (2048, 32)  # 1e96 rows in full
