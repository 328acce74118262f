"""Every result class offers one interface (like test_law_conformance.py for the laws).

``to_frame()`` is a new DataFrame, ``to_dict()`` plain JSON-ready Python (``allow_nan=False``), ``summary()``
a few lines of text, ``repr`` one short line and ``_repr_html_()`` an escaped HTML table. ``RESULTS`` maps each
result class to a cheap factory; ``NOT_RESULTS`` names every other public frozen dataclass of the package and
why it is not a result; a new frozen dataclass must be put in one of the two.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import inspect
import json
import pkgutil
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import scalelaw
from scalelaw import datasets
from scalelaw._result import Result, TableResult, jsonable
from scalelaw.data.accounting import FlopCount, ParamCount, TransformerConfig, count_params, flops_per_token
from scalelaw.decisions.critical_batch import CriticalBatch, fit_critical_batch, simulate_batch_sweep
from scalelaw.decisions.design import Suggestion, suggest
from scalelaw.decisions.hparams import HparamFit, HparamLaw, fit_hparams, step_law
from scalelaw.decisions.isoflop import ApproachComparison, Exponents, approach2, compare_approaches
from scalelaw.decisions.isoflop_bias import simulate_isoflop
from scalelaw.decisions.learning_rate import LRSensitivity, lr_sensitivity
from scalelaw.decisions.plan import Comparison, Plan, compare, compute_optimal
from scalelaw.fitting.choice import LawChoice
from scalelaw.fitting.multi import MultiFit
from scalelaw.fitting.result import FitResult, FitStatus
from scalelaw.laws.law import Law
from scalelaw.sweep import SweepExtraMissing
from scalelaw.sweep.backends import SweepResult
from scalelaw.sweep.events import RunSummary
from scalelaw.topics import observational as ob
from scalelaw.topics.allocation import Allocation, allocate
from scalelaw.topics.coverage_law import CoverageFit, CoverageStudy, coverage_study, fit_coverage
from scalelaw.topics.data_pools import PoolMix, best_pool_mix
from scalelaw.topics.downstream import Chain, ChainBootstrap, fit_chain
from scalelaw.topics.emergence import MetricComparison, PassUntilFit, compare_metrics, fit_passuntil, sample_until
from scalelaw.topics.mixture import MixtureFit, MixtureOptimum, fit_mixture, optimize_mixture
from scalelaw.topics.multiple_choice import MultipleChoice, multiple_choice
from scalelaw.topics.pruning import PruneStudy, prune
from scalelaw.topics.repeated_data import RepeatDamage, repeated_damage
from scalelaw.topics.trend import TrendShape, trend_shape
from scalelaw.topics.verifier import VerifierFit, fit_verifier
from scalelaw.trust.backtest import SelectionResult, Split, select_law, split_runs
from scalelaw.trust.bootstrap import Bootstrap
from scalelaw.trust.extrapolation_error import ExtrapolationError
from scalelaw.trust.influence import Influence, InfluenceCheck, refit_without_flagged
from scalelaw.trust.misfit import Misfit, estimate_misfit
from scalelaw.trust.noise import SeedNoise, SignalToNoise, VarianceTrend, seed_noise
from scalelaw.trust.profile import Profile, profile_curves

#: User text that must reach the HTML escaped (a run, model or target named like markup).
MARK = "<b>x</b>"
EPOCH = {"E": 1.8172, "A": 482.01, "B": 2085.43, "alpha": 0.3478, "beta": 0.3658}


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


# ---------------------------------------------------------------------------------------------- shared inputs


@functools.cache
def _runs() -> pd.DataFrame:
    """20 small runs from the Epoch law (5 sizes x 4 token ratios, 0.5% noise); the first run is named MARK."""
    rng = np.random.default_rng(0)
    N = np.repeat(np.geomspace(1e7, 1e9, 5), 4)
    D = N * np.tile([10.0, 20.0, 40.0, 80.0], 5)
    loss = scalelaw.get_law("chinchilla").predict(EPOCH, params=N, tokens=D) * np.exp(rng.normal(0, 0.005, N.size))
    run = [MARK, *(f"r{i}" for i in range(1, N.size))]
    return pd.DataFrame({"run": run, "params": N, "tokens": D, "flops": 6 * N * D, "loss": loss})


@functools.cache
def _fit() -> FitResult:
    return scalelaw.fit("chinchilla", _runs())


def _multi() -> MultiFit:
    """A power law fitted to two targets, the first named MARK (one row missing in it)."""
    flops = np.logspace(18, 22, 10)
    first = 2 + 50 * flops**-0.1
    first[3] = np.nan
    return scalelaw.fit("power", {"flops": flops, MARK: first, "b": 1 + 9 * flops**-0.05}, y=[MARK, "b"])


def _one_decade_fit() -> FitResult:
    """A power law over one decade: E and alpha trade off, so its status raises a flag."""
    flops = np.logspace(18, 19, 12)
    return scalelaw.fit("power", {"flops": flops, "loss": 1.7 + 2e3 * flops**-0.15})


@functools.cache
def _seed_noise() -> SeedNoise:
    """9 sizes x 4 seeds whose seed sd falls with size: enough for a variance trend."""
    rng = np.random.default_rng(5)
    n = np.repeat(np.logspace(7, 9, 9), 4)
    sd = 0.016 * (n / 1e8) ** -0.3
    loss = (2 + 50 * n**-0.2) * np.exp(rng.normal(0, 1, n.size) * sd)
    runs = pd.DataFrame(
        {"run": [f"r{i}" for i in range(n.size)], "params": n, "seed": np.tile(range(4), 9), "loss": loss}
    )
    return seed_noise(runs, config=["params"], model="trend")


@functools.cache
def _isoflop() -> pd.DataFrame:
    return simulate_isoflop(n_sizes=7, noise=0.01)


@functools.cache
def _hparams() -> HparamFit:
    """Four (N, D) cells of 5 x 5 lr x batch-size grids whose optima follow the Step Law, 0.2% noise."""
    rng = np.random.default_rng(0)
    axes = ((1e8, 4e8), (2e9, 1.6e10), np.geomspace(3e-4, 1e-2, 5), np.geomspace(3e4, 3e6, 5))
    n, d, lr, bs = (g.ravel() for g in np.meshgrid(*axes, indexing="ij"))
    law = step_law()
    bowl = np.log(lr / law.lr_opt.predict(params=n, tokens=d)) ** 2 + np.log(bs / law.batch_opt.predict(tokens=d)) ** 2
    loss = (3 + 0.03 * bowl) * np.exp(rng.normal(0, 0.002, n.size))
    run = [MARK, *(f"r{i}" for i in range(1, n.size))]
    return fit_hparams({"run": run, "params": n, "tokens": d, "lr": lr, "batch_size": bs, "loss": loss}, n_boot=20)


@functools.cache
def _chain() -> Chain:
    """16 runs of Gadre et al.'s two stages (loss, then top-1 error from the loss)."""
    rng = np.random.default_rng(0)
    N = np.repeat(np.logspace(7, 8.6, 4), 4)
    D = N * np.tile([10.0, 20.0, 40.0, 80.0], 4)
    loss = scalelaw.get_law("overtrain").predict(
        {"E": 1.84, "A": 166.2, "B": 287.2, "alpha": 0.273}, params=N, tokens=D
    )
    loss = loss * np.exp(rng.normal(0, 0.01, N.size))
    error = scalelaw.get_law("downstream_exp").predict({"eps": 0.857, "k": 2.21, "gamma": 0.715}, loss=loss)
    run = np.array([MARK, *(f"r{i}" for i in range(1, N.size))])
    return fit_chain({"run": run, "params": N, "tokens": D, "loss": loss, "error": error})


@functools.cache
def _mixture() -> MixtureFit:
    rng = np.random.default_rng(0)
    R = rng.dirichlet(np.ones(3), 30)
    loss = 2.0 + np.exp(R @ [-1.0, 0.5, 0.0]) * np.exp(rng.normal(0, 0.002, 30))
    return fit_mixture(
        {"run": [f"r{i}" for i in range(30)], "w_web": R[:, 0], "w_code": R[:, 1], "w_books": R[:, 2], "loss": loss}
    )


@functools.cache
def _models() -> pd.DataFrame:
    """The bundled public-model scores (Ruan et al. 2024), one large model renamed MARK."""
    frame = datasets.load("ruan2024").copy()
    frame.loc[frame["flops"].idxmax(), "model"] = MARK
    return frame


@functools.cache
def _capabilities() -> ob.Capabilities:
    return ob.capabilities(_models().dropna(subset=["flops"]))


def _sweep() -> SweepResult:
    def run(name: str, loss: float, status: str) -> RunSummary:
        return RunSummary(name, "tiny", 10_000, 2_000_000, 1.2e11, 100, 0, loss, loss + 0.1, 3.5, 3.0, status)

    runs = (run(MARK, 5.25, "trained"), run("r2", float("nan"), "resumed"), run("r3", 4.5, "skipped"))
    return SweepResult(Path("runs"), Path("runs/final.csv"), runs, 12.5, "sequential", {"name": "python-stdlib"})


def _config() -> TransformerConfig:
    return TransformerConfig(n_layers=4, d_model=256, n_heads=4, vocab_size=1000, context_length=512)


def _passuntil() -> PassUntilFit:
    scales = np.logspace(7, 10, 5)
    N, c = np.meshgrid(scales, np.full(30, 9.0 * 1e7**0.28))
    K, passes = sample_until(np.exp(-c * N**-0.28).ravel(), r=8, seed=3)
    instance = np.broadcast_to(np.arange(30)[:, None], N.shape).ravel()
    return fit_passuntil(pd.DataFrame({"params": N.ravel(), "instance": instance, "samples": K, "passes": passes}), r=8)


def _metric_comparison() -> MetricComparison:
    params = np.logspace(7, 11, 9)
    loss = (params / 2e8) ** -0.5
    table = pd.DataFrame({"params": params, "exact_match": np.exp(-loss) ** 20, "cross_entropy": loss})
    return compare_metrics(
        table, metrics=["exact_match", "cross_entropy"], kinds={"exact_match": "score", "cross_entropy": "loss"}
    )


def _trend() -> TrendShape:
    """A U-shaped score and a falling loss, the score's column named MARK."""
    params = np.logspace(8, 12, 9)
    x = np.log10(params)
    table = pd.DataFrame({"params": params, MARK: 0.5 + 0.04 * (x - 10) ** 2, "loss": 3 - 0.2 * x})
    return trend_shape(table, n_boot=50)


def _multiple_choice() -> MultipleChoice:
    """4 models x 3 questions x 3 choices, the first model named MARK."""
    rng = np.random.default_rng(0)
    m, q, c = np.meshgrid(np.arange(4), np.arange(3), np.arange(3), indexing="ij")
    logprob = np.log(rng.uniform(0.01, 0.3, m.shape)) + 0.3 * m * (c == 0)
    table = pd.DataFrame(
        {
            "model": np.array([MARK, "b", "c", "d"])[m].ravel(),
            "params": np.array([1e8, 1e9, 1e10, 1e11])[m].ravel(),
            "question": q.ravel(),
            "choice": c.ravel(),
            "logprob": np.minimum(logprob, np.log(0.3)).ravel(),
            "correct": (c == 0).ravel().astype(int),
        }
    )
    return multiple_choice(table, n_boot=20)


def _coverage() -> CoverageFit:
    rng = np.random.default_rng(0)
    p = rng.beta(0.3, 2.0, 300)
    return fit_coverage({"n_samples": np.full(300, 1000), "n_correct": rng.binomial(1000, p)}, n_boot=20)


def _coverage_study() -> CoverageStudy:
    rng = np.random.default_rng(0)
    p = rng.beta(0.3, 2.0, 300)
    table = {"n_samples": np.full(300, 1000), "n_correct": rng.binomial(1000, p)}
    return coverage_study(table, [1, 10, 100, 1000], targets=[0.5], n_boot=20)


def _prune_study() -> PruneStudy:
    n = np.geomspace(1e3, 1e7, 8)
    return prune({"examples": n, "error": 0.02 + 3 * n**-0.3}, n_boot=10)


def _repeat_damage() -> RepeatDamage:
    n = np.geomspace(1e7, 1e9, 8)
    table = {
        "params": [*n, 5e8],
        "loss": [*(2 + 50 * n**-0.2), 2 + 50 * 2e8**-0.2],
        "repeated_fraction": [0] * 8 + [0.01],
    }
    return repeated_damage(table, n_boot=10)


def _lr_sweep() -> pd.DataFrame:
    """Two sizes x 9 learning rates x 2 seeds of a loss quadratic in log lr; one run named MARK."""
    rng = np.random.default_rng(0)
    N, lr, seed = (a.ravel() for a in np.meshgrid([1e7, 1e8], np.geomspace(1e-4, 1e-1, 9), [0, 1], indexing="ij"))
    loss = 3 + 0.05 * np.log10(N) * np.log(lr / 3e-3) ** 2 / 7 + rng.normal(0, 0.01, N.size)
    run = [MARK, *(f"r{i}" for i in range(1, N.size))]
    return pd.DataFrame({"run": run, "params": N, "lr": lr, "seed": seed, "loss": loss})


def _verifier() -> VerifierFit:
    rng = np.random.default_rng(0)
    n_passed = rng.binomial(50, rng.beta(0.5, 2.0, 100))
    table = {"n_samples": np.full(100, 50), "n_passed": n_passed, "n_correct_passed": rng.binomial(n_passed, 0.6)}
    return fit_verifier(table, cost=1.0, n_boot=10, k_max=500)


def _allocation() -> Allocation:
    rng = np.random.default_rng(0)
    frames = [
        pd.DataFrame({"params": N, "problem": np.arange(60), "n_samples": 100, "n_correct": rng.binomial(100, p)})
        for N, p in ((1e9, rng.beta(0.3, 3.0, 60)), (1e10, rng.beta(0.8, 3.0, 60)))
    ]
    return allocate(pd.concat(frames), [1e11, 2e13], tokens_per_sample=1000, n_boot=10)


def _influence_check() -> tuple[InfluenceCheck, InfluenceCheck]:
    result = _fit()
    influence = result.influence()
    flagged = dataclasses.replace(
        influence, table=influence.table.assign(flagged=[True] + [False] * (len(influence.table) - 1))
    )
    refit = refit_without_flagged(flagged, "chinchilla", _runs())
    return InfluenceCheck(influence, result), InfluenceCheck(flagged, result, refit)


# ---------------------------------------------------------------------------------------------- the registry

#: Every result class, with a factory of one (or a tuple of several) cheap instances.
RESULTS: dict[type, Callable[[], Result | tuple[Result, ...]]] = {
    # fitting/
    FitResult: _fit,
    FitStatus: lambda: (_fit().status, _one_decade_fit().status),
    LawChoice: lambda: scalelaw.fit("auto", _runs()).law_choice,
    MultiFit: _multi,
    # trust/
    Bootstrap: lambda: _fit().bootstrap(n=20),
    Profile: lambda: tuple(profile_curves(_fit(), ["E", "alpha"])),
    Influence: lambda: _fit().influence(),
    InfluenceCheck: _influence_check,
    ExtrapolationError: lambda: _fit().extrapolation_error(),
    Split: lambda: split_runs(_runs(), "top:0.2:flops"),
    SelectionResult: lambda: select_law(["chinchilla", "kaplan"], _runs(), holdout="top:0.2:flops"),
    Misfit: lambda: estimate_misfit(_fit()),
    SeedNoise: _seed_noise,
    VarianceTrend: lambda: _seed_noise().trend,
    SignalToNoise: lambda: _seed_noise().signal_to_noise(warn=False),
    # decisions/
    Plan: lambda: compute_optimal(_fit(), [1e22, 1e24]),
    Comparison: lambda: compare(_fit(), scalelaw.fit("kaplan", _runs()), [1e22, 1e24]),
    Suggestion: lambda: suggest(_fit(), "plan:flops=1e24", budget=1e20, n_boot=0),
    Exponents: lambda: approach2(_isoflop(), n_boot=50),
    ApproachComparison: lambda: compare_approaches(_isoflop(), n_boot=30),
    CriticalBatch: lambda: (
        fit_critical_batch(simulate_batch_sweep(noise=0.003), n_boot=20),
        fit_critical_batch(simulate_batch_sweep(batch_sizes=2.0 ** np.arange(15, 21)), level=None),
    ),
    LRSensitivity: lambda: (
        lr_sensitivity(_lr_sweep(), initial_loss=10.8, n_boot=20),
        lr_sensitivity(_lr_sweep(), level=None),
    ),
    HparamFit: lambda: (_hparams(), step_law()),
    HparamLaw: lambda: (_hparams().lr_opt, step_law().batch_opt),
    # topics/
    Chain: _chain,
    ChainBootstrap: lambda: _chain().bootstrap(n=20),
    CoverageFit: _coverage,
    CoverageStudy: _coverage_study,
    VerifierFit: _verifier,
    Allocation: _allocation,
    MetricComparison: _metric_comparison,
    PassUntilFit: _passuntil,
    TrendShape: _trend,
    MultipleChoice: _multiple_choice,
    MixtureFit: _mixture,
    MixtureOptimum: lambda: optimize_mixture(_mixture(), n_candidates=500, n_bootstrap=10, steps=20),
    ob.Capabilities: _capabilities,
    ob.FamilyCompute: lambda: ob.fit_family_compute(
        _capabilities().scores,
        _models().dropna(subset=["flops"])["flops"],
        _models().dropna(subset=["flops"])["model_family"],
        shared_slope=True,
    ),
    ob.Link: lambda: ob.fit_link(_capabilities().scores, _models().dropna(subset=["flops"])["gsm8k"]),
    ob.ObservationalBacktest: lambda: ob.holdout_by_flops(_models(), "gsm8k", n_boot=12),
    ob.FamilyPrediction: lambda: ob.predict_family(_models(), "Llama-2", "gsm8k", n_boot=12),
    PruneStudy: _prune_study,
    PoolMix: lambda: (
        best_pool_mix([{"pool": MARK, "size": 1e6, "b": -0.15, "tau": 5.0}], [1e7], a=0.02, d=0.1),
        best_pool_mix(
            {
                "pool": ["p", "q"],
                "size": [1e6, 1e6],
                "b": [-0.2, -0.1],
                "tau": [5.0, 5.0],
                "a": [0.02] * 2,
                "d": [0.1] * 2,
            },
            [1e7],
            replicates={
                "a": np.full((5, 2), 0.02),
                "b": np.full((5, 2), -0.2),
                "tau": np.full((5, 2), 5.0),
                "d": np.full((5, 2), 0.1),
            },
        ),
    ),
    RepeatDamage: _repeat_damage,
    # sweep/ and data/
    SweepResult: _sweep,
    ParamCount: lambda: count_params(_config()),
    FlopCount: lambda: flops_per_token(_config(), "exact"),
}

#: Every other public frozen dataclass of the package, and why it is no result.
NOT_RESULTS: dict[str, str] = {
    "CellOptima": "internal: the per-cell optima and bootstrap replicates a HparamFit is built from (its .cells)",
    "GroupWeights": "an input to the engine: bootstrap replicates as counts per run",
    "DataOptions": "an input: the CLI's shared data-reading options (--map, --where, --weights, --drop-early)",
    "WrittenReport": "a receipt of files written: the page's path and the results it holds, each a Result",
    "Parameter": "a law's parameter (laws/ have their own conformance test)",
    "TransformerConfig": "an input: a model's shape",
    "HoldoutSpec": "an input: which runs a backtest holds out",
    "Target": "an input: the decision suggest() protects",
    "SweepConfig": "an input: the sweep's config file",
    "RunSpec": "an input: one run of a sweep config",
    "ModelSize": "an input: one size of a sweep config",
    "Schedule": "an input: a sweep's LR schedule",
    "Runs": "the data: its .table is the frame",
    "Dataset": "a bundled dataset's description: .frame() loads it",
    "FitData": "the observations a FitResult carries: .frame() gives them",
    "SavedBootstrap": "the stored form of a Bootstrap in a fit file (FitResult.bootstrap() rebuilds the result)",
    "SavedUncertainty": "the stored uncertainty of a fit file (a FitResult field, not a result itself)",
    "Corpus": "the sweep's training text",
    "Schedules": "an input: per-step LR schedules (a Mapping, with its own to_frame())",
    "LossDropDesign": "internal: the schedule laws' design matrix",
    "Curvature": "internal: the engine's curvature at an optimum",
    "BatchResult": "internal: the engine's batched refits",
    "PlannedRun": "a sweep event",
    "SweepStarted": "a sweep event",
    "RunStarted": "a sweep event",
    "RunProgress": "a sweep event",
    "Checkpoint": "a sweep event",
    "RunFinished": "a sweep event",
    "RunSummary": "a sweep event's payload: the rows of SweepResult.to_frame()",
    "Group": "views/: what a figure draws",
    "Curve": "views/: what a figure draws",
    "FitView": "views/: what a figure draws",
    "IsoflopView": "views/: what a figure draws",
    "Histogram": "views/: what a figure draws",
    "Outliers": "views/report/: what a report section shows",
}


def _package_classes() -> dict[str, type]:
    """Public classes defined in the package's modules (those that import without the optional extras)."""
    found: dict[str, type] = {}
    for info in pkgutil.walk_packages(scalelaw.__path__, "scalelaw."):
        if info.name.endswith("__main__"):  # importing it runs the command line
            continue
        try:
            module = importlib.import_module(info.name)
        except SweepExtraMissing:  # the sweep's torch modules without the [sweep] extra
            continue
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == module.__name__ and not name.startswith("_"):
                found[f"{module.__name__}.{name}"] = cls
    return found


def test_every_frozen_dataclass_is_a_result_or_says_why_not():
    classes = _package_classes()
    frozen = {
        path: cls
        for path, cls in classes.items()
        if dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen and not issubclass(cls, Law)
    }
    unlisted = [path for path, cls in frozen.items() if cls not in RESULTS and cls.__name__ not in NOT_RESULTS]
    assert not unlisted, f"add these to RESULTS (with a factory) or to NOT_RESULTS (with a reason): {unlisted}"
    stale = set(NOT_RESULTS) - {cls.__name__ for cls in frozen.values()}
    assert not stale, f"NOT_RESULTS names classes that are gone: {sorted(stale)}"
    results = {path for path, cls in classes.items() if issubclass(cls, Result) and cls not in (Result, TableResult)}
    assert results == {f"{cls.__module__}.{cls.__name__}" for cls in RESULTS}
    assert all(issubclass(cls, Result) for cls in RESULTS)


def _instances(cls: type) -> tuple[Result, ...]:
    made = RESULTS[cls]()
    made = made if isinstance(made, tuple) else (made,)
    assert made and all(type(obj) is cls for obj in made)
    return made


def _plain(value, where: str = "to_dict()") -> None:
    """Only dict (str keys), list, str, int, finite float, bool and None: what json.loads gives back."""
    if isinstance(value, dict):
        for key, item in value.items():
            assert type(key) is str, f"{where}: key {key!r}"
            _plain(item, f"{where}[{key!r}]")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _plain(item, f"{where}[{i}]")
    else:
        assert type(value) in (str, int, float, bool, type(None)), f"{where}: {type(value).__name__}"


@pytest.mark.parametrize("cls", list(RESULTS), ids=lambda c: c.__name__)
def test_result_interface(cls):
    for obj in _instances(cls):
        frame = obj.to_frame()
        assert isinstance(frame, pd.DataFrame) and frame.shape[1] > 0
        assert frame is not obj.to_frame()
        fields = [getattr(obj, f.name) for f in dataclasses.fields(obj)]
        assert not any(frame is value for value in fields), "to_frame() must return a copy, not the result's own table"
        columns = list(frame.columns)
        if "method" in columns:  # the long method text comes after the interval, which stays in view
            assert all(columns.index(c) < columns.index("method") for c in ("low", "high") if c in columns), columns

        data = obj.to_dict()
        assert isinstance(data, dict) and data
        _plain(data)
        assert json.loads(json.dumps(data, allow_nan=False)) == data

        summary = obj.summary()
        assert isinstance(summary, str) and type(summary) is str
        assert summary.strip() and summary.splitlines()[0].strip()

        text = repr(obj)
        assert "\n" not in text and len(text) <= 200, text
        assert "array(" not in text and "DataFrame" not in text, text

        page = obj._repr_html_()
        assert isinstance(page, str) and "<table" in page and "<script" not in page.lower()
        assert MARK not in page
        if MARK in summary or MARK in frame.to_string():
            assert "&lt;b&gt;x&lt;/b&gt;" in page


def test_the_marked_user_text_reaches_some_results():
    """The escaping check above bites: run and model names show up in these results' views."""
    shown = [_fit().influence(), split_runs(_runs(), "top:0.2:flops"), _sweep()]
    for obj in shown:
        assert MARK in obj.to_frame().to_string() and "&lt;b&gt;x&lt;/b&gt;" in obj._repr_html_()


def test_the_html_escapes_every_text_and_elides_long_tables():
    @dataclasses.dataclass(frozen=True)
    class Toy(Result):
        rows: int

        def to_frame(self):
            return pd.DataFrame(
                {"<i>col</i>": ["<script>alert(1)</script>"] * self.rows}, index=[f"<{i}>" for i in range(self.rows)]
            )

        def to_dict(self):
            return jsonable({"rows": self.rows})

        def summary(self):
            return "a <toy> & friends\nsecond line"

    page = Toy(100)._repr_html_()
    assert "<script" not in page and "<i>" not in page and "<toy>" not in page and "<0>" not in page
    assert "&lt;script&gt;" in page and "&lt;i&gt;col&lt;/i&gt;" in page and "a &lt;toy&gt; &amp; friends" in page
    assert page.count("<tr>") < 100 and "60 more rows" in page
    assert repr(Toy(3)) == "<Toy: a <toy> & friends>"


def test_repr_is_short_even_when_the_summary_is_long_or_fails():
    @dataclasses.dataclass(frozen=True)
    class Wordy(Result):
        broken: bool = False

        def to_frame(self):
            return pd.DataFrame({"a": [1]})

        def to_dict(self):
            return {}

        def summary(self):
            if self.broken:
                raise ValueError("no")
            return "word " * 100

    assert len(repr(Wordy())) == 200 and repr(Wordy()).endswith("…>")
    assert repr(Wordy(broken=True)) == "<Wordy: (no summary: ValueError)>"


def test_existing_views_stay_as_they_were():
    """table(), param_table() and the old summary dict are kept (as aliases where they duplicate to_frame)."""
    fit = _fit()
    pd.testing.assert_frame_equal(fit.table(), fit.to_frame())
    mix = _mixture()
    pd.testing.assert_frame_equal(mix.param_table(), mix.to_frame())
    best = optimize_mixture(mix, n_candidates=500, n_bootstrap=10, steps=20)
    pd.testing.assert_frame_equal(best.table(), best.to_frame())
    cmp = RESULTS[ApproachComparison]()
    assert isinstance(cmp.summary, str) and cmp.summary() == cmp.summary and "intervals" in cmp.summary
    bt = RESULTS[ob.ObservationalBacktest]()
    assert set(bt.metrics()) <= set(bt.to_dict()) and bt.to_dict()["models"]
    # The fit file is unchanged: to_json() is to_dict() written strictly, and == still tells NaN from inf.
    assert json.loads(fit.to_json()) == fit.to_dict()
    assert scalelaw.FitResult.from_dict(fit.to_dict()) == fit
