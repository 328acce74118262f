"""Law.roles (which input is N, D or C) and the closed forms a law declares (docs/laws.md §0, §3.2).

Decisions read N and D from the roles, never from a column's name or position: issue #19 reported a law of
``params`` and ``datastore`` that ``plan.compute_optimal`` silently treated as a law of parameters and tokens.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

import scalelaw
from scalelaw import FitResult, Law, LawError, get_law, list_laws
from scalelaw.decisions import isoflop, plan
from scalelaw.laws import law_from_dict
from scalelaw.laws.law import CLOSED_FORMS

EPOCH = {"E": 1.8172, "A": 482.01, "B": 2085.43, "alpha": 0.3478, "beta": 0.3658}


def _runs(n_col: str = "params", d_col: str = "tokens") -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    N = np.repeat([2e7, 5e7, 1e8, 2e8, 5e8], 4)
    D = N * np.tile([10.0, 20.0, 40.0, 80.0], 5)
    y = get_law("chinchilla").predict(EPOCH, params=N, tokens=D) * np.exp(rng.normal(0, 0.003, N.size))
    return {n_col: N, d_col: D, "loss": y}


def _fit(law, data):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return scalelaw.fit(law, data)


# ------------------------------------------------------------------------------------------ issue #19
def test_a_law_without_tokens_is_refused_by_compute_optimal_allocation():
    """Issue #19: ``datastore`` is not training data; the planner used to take the second input for D."""
    data = _runs(d_col="datastore")
    law = Law.from_expression("E + A*params**-alpha + B*datastore**-beta", inputs=["datastore"])
    assert law.roles == {"params": "N", "datastore": None}
    fit = _fit(law, data)
    with pytest.raises(LawError) as info:
        plan.compute_optimal(fit, 1e21)
    message = str(info.value)
    assert "compute-optimal allocation needs a law of parameters and tokens" in message
    assert "datastore (no role)" in message and "params (N)" in message
    assert "roles=" in message  # says how to declare one when the column does stand for tokens
    for decide in (lambda: plan.compute_for_loss(fit, 2.5), lambda: isoflop.approach3(fit, [1e20])):
        with pytest.raises(LawError, match="no input of law 'expression' plays D"):
            decide()


def test_declared_roles_make_any_column_names_plannable():
    data = _runs("N_total", "D_seen")
    law = Law.from_expression("E + A/N_total**alpha + B/D_seen**beta", roles={"N_total": "N", "D_seen": "D"})
    assert law.inputs_for("N", "D") == ("N_total", "D_seen")
    reference = plan.compute_optimal(_fit("chinchilla", _runs()), [1e20, 1e22]).table
    renamed = plan.compute_optimal(_fit(law, data), [1e20, 1e22]).table
    np.testing.assert_allclose(renamed["params_opt"], reference["params_opt"], rtol=2e-3)
    np.testing.assert_allclose(renamed["loss_opt"], reference["loss_opt"], rtol=1e-4)


# ------------------------------------------------------------------------------------------ roles by name
@pytest.fixture(scope="module")
def gadre():
    return scalelaw.load_runs("dataset:gadre2024_rpj").table


def test_swapped_inputs_plan_the_same_run(gadre):
    """``x=["tokens", "params"]`` used to keep roles by position: tokens became N, and every plan swapped N and D."""
    normal = _fit("chinchilla", gadre)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        swapped = scalelaw.fit("chinchilla", gadre, x=["tokens", "params"])
    assert swapped.law.roles == {"tokens": "D", "params": "N"}
    assert swapped.params["alpha"] == pytest.approx(normal.params["beta"], rel=1e-6)  # the formula's slots swap
    for decide in (lambda f: plan.compute_optimal(f, [1e22, 1e24]), lambda f: plan.compute_for_loss(f, 2.4)):
        a, b = decide(normal).table, decide(swapped).table
        for q in ("params_opt", "tokens_opt", "flops"):
            np.testing.assert_allclose(b[q], a[q], rtol=1e-5)


def test_renamed_columns_without_roles_are_refused_until_declared(gadre, tmp_path, capsys):
    from cli_run import run_main

    data = tmp_path / "renamed.csv"
    gadre.rename(columns={"params": "N_total", "tokens": "D_seen"}).to_csv(data, index=False)
    fits = {name: tmp_path / f"{name}.json" for name in ("bare", "declared", "canonical")}
    renamed = ("--x", "N_total,D_seen")
    assert run_main(capsys, "fit", str(data), *renamed, "--out", str(fits["bare"]), "--json")[0] == 0
    code, _, err = run_main(capsys, "plan", str(fits["bare"]), "--flops", "1e22")
    assert code == 2 and "N_total (no role), D_seen (no role)" in err and "--role N_total=N" in err
    roles = ("--role", "N_total=N", "--role", "D_seen=D")
    assert run_main(capsys, "fit", str(data), *renamed, *roles, "--out", str(fits["declared"]), "--json")[0] == 0
    assert run_main(capsys, "fit", "dataset:gadre2024_rpj", "--out", str(fits["canonical"]), "--json")[0] == 0
    plans = {}
    for name in ("declared", "canonical"):
        code, out, _ = run_main(capsys, "plan", str(fits[name]), "--flops", "1e22", "--json")
        plans[name] = json.loads(out)
    assert plans["declared"]["params_opt"]["value"] == pytest.approx(plans["canonical"]["params_opt"]["value"])
    assert plans["declared"]["tokens_opt"]["value"] == pytest.approx(plans["canonical"]["tokens_opt"]["value"])


# ------------------------------------------------------------------------------------------ declaring roles
@pytest.mark.parametrize("name", list_laws())
def test_every_catalog_law_declares_a_role_for_each_input(name):
    law = get_law(name)
    assert tuple(law.roles) == law.inputs
    assert set(law.roles.values()) <= {"N", "D", "C", None}


def test_catalog_roles():
    for name in ("chinchilla", "kaplan", "overtrain", "data_constrained", "precision", "fp_quant"):
        law = get_law(name)
        assert law.inputs_for("N", "D") == ("params", "tokens"), name
        assert [r for n, r in law.roles.items() if n not in ("params", "tokens")] == [None] * (len(law.inputs) - 2)
    assert get_law("power").roles == {"flops": "C"}
    assert get_law("power", x="tokens").roles == {"tokens": "D"}
    assert get_law("power", x="loss_scale").roles == {"loss_scale": None}
    assert get_law("chinchilla", n="N_ne", d="D").roles == {"N_ne": "N", "D": "D"}
    assert get_law("multi_power", by_size=True).roles == {"step": None, "params": "N"}
    assert get_law("coverage").roles == {"samples": None}


def test_roles_follow_inputs_through_renames_fix_and_bounds():
    law = get_law("chinchilla")
    renamed = law.with_inputs("N_total", "D_seen")
    assert renamed.roles == {"N_total": None, "D_seen": None}  # a renamed column's role cannot be known
    assert law.with_inputs("tokens", "params").roles == {"tokens": "D", "params": "N"}  # by name, never position
    assert law.fix(E=1.7).roles == law.roles
    assert renamed.fix(E=1.7).roles == renamed.roles
    assert law.fix(E=1.7).with_inputs("a", "b").roles == {"a": None, "b": None}
    declared = renamed.with_roles(N_total="N", D_seen="D")
    assert declared.with_inputs("D_seen", "N_total").roles == {"D_seen": "D", "N_total": "N"}  # roles stay with names
    assert law.with_bounds(alpha=(0.1, 1.0)).roles == law.roles
    expr = Law.from_expression("E + A*params**-alpha + B*tokens**-beta")
    assert expr.with_inputs("N", "D").roles == {"N": None, "D": None}
    # scalelaw.fit(..., x=...) renames through with_inputs, and roles= declares what the new columns stand for.
    data = _runs("N_total", "D_seen")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = scalelaw.fit("chinchilla", data, x=["N_total", "D_seen"], roles={"N_total": "N", "D_seen": "D"})
    assert fitted.law.inputs_for("N", "D") == ("N_total", "D_seen")
    with pytest.raises(LawError, match="one law fitted to one target"):
        scalelaw.fit("auto", data, roles={"N_total": "N"})


def test_expression_roles_default_to_the_canonical_columns():
    law = Law.from_expression("E + A*flops**-alpha")
    assert law.roles == {"flops": "C"}
    law = Law.from_expression("E + A*N**-alpha + B*D**-beta", inputs=["N", "D"])
    assert law.roles == {"N": None, "D": None}  # names alone never make a role
    assert law.with_roles(N="N", D="D").inputs_for("N", "D") == ("N", "D")


@pytest.mark.parametrize(
    ("roles", "message"),
    [
        ({"missing": "N"}, "does not appear in expression"),
        ({"params": "X"}, "roles must be one of N, D, C or None"),
        ({"datastore": "N"}, "would both play parameters"),
    ],
)
def test_bad_roles_are_refused(roles, message):
    with pytest.raises(LawError, match=message):
        Law.from_expression("E + A*params**-alpha + B*datastore**-beta", inputs=["datastore"], roles=roles)


def test_unknown_role_or_decision_names_are_refused():
    law = get_law("chinchilla")
    with pytest.raises(LawError, match="not among its inputs"):
        law.with_roles(flops="C")
    with pytest.raises(LawError, match="unknown role"):
        law.input_for("T")
    with pytest.raises(LawError, match="unknown decision"):
        law.closed_form("everything")


# ------------------------------------------------------------------------------------------ saving roles
def test_roles_are_saved_and_old_definitions_load_with_the_defaults():
    custom = Law.from_expression("E + A*params**-alpha + B*store**-beta", inputs=["store"], roles={"store": "D"})
    catalog = get_law("chinchilla").with_inputs("N_total", "D_seen").with_roles(D_seen=None)
    for law in (custom, catalog, catalog.fix(E=1.7), get_law("power", x="C_total").with_roles(C_total="C")):
        saved = json.loads(json.dumps(law.to_dict()))
        assert law_from_dict(saved) == law
        assert law_from_dict(saved).roles == law.roles
    # Definitions written before roles existed have no "roles": they get the catalog's or the defaults (a renamed
    # input without a role of its own keeps its position's, as it did then; params and tokens never swap).
    old = get_law("chinchilla").with_inputs("N_total", "D_seen").to_dict()
    del old["roles"]
    assert law_from_dict(old).roles == {"N_total": "N", "D_seen": "D"}
    old = get_law("chinchilla").with_inputs("tokens", "params").to_dict()
    del old["roles"]
    assert law_from_dict(old).roles == {"tokens": "D", "params": "N"}
    old = Law.from_expression("E + A*params**-alpha + B*store**-beta", inputs=["store"]).to_dict()
    del old["roles"]
    assert law_from_dict(old).roles == {"params": "N", "store": None}
    with pytest.raises(LawError, match="roles"):
        law_from_dict({**get_law("power").to_dict(), "roles": {"flops": "Q"}})


def test_an_old_fit_file_without_roles_loads_and_plans():
    fit = _fit("chinchilla", _runs())
    data = json.loads(fit.to_json())
    assert data["law_definition"]["roles"] == {"params": "N", "tokens": "D"}
    del data["law_definition"]["roles"]
    again = FitResult.from_dict(data)
    assert again.law.roles == {"params": "N", "tokens": "D"}
    a = plan.compute_optimal(again, 1e21).table
    b = plan.compute_optimal(fit, 1e21).table
    np.testing.assert_allclose(a["params_opt"], b["params_opt"], rtol=1e-12)


# ------------------------------------------------------------------------------------------ closed forms
def test_closed_forms_are_declared_by_the_law():
    law = get_law("chinchilla")
    assert law.closed_forms == frozenset(CLOSED_FORMS)
    assert law.with_inputs("N_total", "D_seen").closed_forms == frozenset()  # no roles until declared
    assert law.with_inputs("N_total", "D_seen").with_roles(N_total="N", D_seen="D").closed_forms == frozenset(
        CLOSED_FORMS
    )
    assert law.with_roles(params=None).closed_forms == frozenset()  # no longer N then D
    assert law.with_inputs("tokens", "params").closed_forms == frozenset()  # D then N: solved numerically
    assert get_law("kaplan").closed_forms == frozenset()
    assert Law.from_expression("E + A/params**alpha + B/tokens**beta").closed_forms == frozenset()


def test_a_fixed_chinchilla_keeps_exact_closed_forms():
    """The fixed law's closed form feeds the fixed value to the full one: the numeric search agrees."""
    law = get_law("chinchilla").fix(E=EPOCH["E"])
    theta = law.theta({k: v for k, v in EPOCH.items() if k != "E"})
    log_n, loss = law.closed_form("compute_optimal")(theta, 5.76e23, 6.0)
    assert float(np.exp(log_n[0])) == pytest.approx(7.2249e10, rel=1e-4)  # laws.md §15.1, Epoch row
    assert float(loss[0]) == pytest.approx(1.9744, rel=1e-4)
    numeric = plan._numeric_optimum(law, theta, 5.76e23, 6.0, {})
    assert float(np.exp(numeric[0][0])) == pytest.approx(float(np.exp(log_n[0])), rel=1e-6)
    a = law.closed_form("allocation_exponent")(theta)
    assert float(a[0]) == pytest.approx(0.5126, abs=1e-4)


def test_plans_match_between_closed_form_and_search():
    """The same law with and without its closed forms (an equal formula) plans the same within the search's
    accuracy: the capability changes the method, not the answer."""
    fit = _fit("chinchilla", _runs())
    expr = Law.from_expression("E + A/params**alpha + B/tokens**beta")
    same = FitResult.from_dict({**json.loads(fit.to_json()), "law_definition": expr.to_dict()})
    exact = plan.compute_optimal(fit, [1e20, 1e23]).table
    searched = plan.compute_optimal(same, [1e20, 1e23]).table
    np.testing.assert_allclose(searched["params_opt"], exact["params_opt"], rtol=1e-5)
    np.testing.assert_allclose(searched["loss_opt"], exact["loss_opt"], rtol=1e-9)
    target = float(exact["loss_opt"].iloc[0])
    np.testing.assert_allclose(
        plan.compute_for_loss(same, target).table["flops"], plan.compute_for_loss(fit, target).table["flops"], rtol=1e-5
    )


def test_plans_refuse_laws_whose_output_they_cannot_minimise():
    """A fitted learning rate (goal "none") or a coverage (goal "maximize") has N, D or a shared axis, but a plan
    that minimised it would answer the wrong question silently: each plan names the law and what to use instead."""
    from scalelaw.decisions.inference import inference_optimal
    from scalelaw.decisions.plan import compare, compute_for_loss, compute_optimal, data_limited

    N = np.repeat(np.logspace(7, 9, 4), 3)
    D = N * np.tile([10.0, 20.0, 40.0], 4)
    lr = 1.79 * N**-0.713 * D**0.307 * np.exp(np.random.default_rng(0).normal(0, 0.02, N.size))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hp = scalelaw.fit("lr_step", {"params": N, "tokens": D, "lr": lr})
        k = np.unique(np.round(np.logspace(0, 3, 20)))
        truth = scalelaw.get_law("coverage").predict({"A": 2.0, "b": 0.5}, samples=k)
        cov = scalelaw.fit("coverage", {"samples": k, "coverage": truth})
    assert (hp.law.goal, cov.law.goal, scalelaw.get_law("chinchilla").goal) == ("none", "maximize", "minimize")
    calls = [
        lambda: compute_optimal(hp, 1e21),
        lambda: compute_for_loss(hp, 1e-3),
        lambda: inference_optimal(hp, 1e12, target_loss=1e-3),
        lambda: data_limited(hp, 1e21, 1e10),
    ]
    for call in calls:
        with pytest.raises(LawError, match="'lr_step' predicts 'lr', a fitted setting, not an objective"):
            call()
    with pytest.raises(LawError, match=r"'coverage' predicts 'coverage', a score to maximise.*FitResult.solve"):
        compare(cov, cov, [10.0])
    assert cov.solve(0.9).table.iloc[0]["samples"] == pytest.approx((2 / -np.log(0.9)) ** 2, rel=1e-6)
