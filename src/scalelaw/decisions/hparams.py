"""Optimal learning rate and batch size across scale: power laws fitted to per-cell optima.

Each (N, D) cell of a sweep holds a grid of learning rates and batch sizes; :mod:`scalelaw.decisions.hparam_cells`
finds its optimum (lr*, bs*) from a quadratic bowl of the loss over ln lr × ln bs. Across cells two forms are
fitted, each by least squares in log space:

* ``form="step"`` (Li et al. 2025, "Predictable Scale: Part I", the Step Law):
  ``lr* = a · N^α · D^β`` and ``bs* = b · D^γ``;
* ``form="deepseek"`` (DeepSeek LLM, Bi et al. 2024, sec. 3.1): ``lr* = a · C^α`` and ``bs* = b · C^β``.

Intervals come from the by-run bootstrap of the cells, propagated: replicate ``b`` of every cell's optimum
is one replicate of the design, and the power laws are refitted on each (cells whose replicate failed are left
out of that refit). They reflect the run-to-run noise of the grid only: when the cell optima scatter about
the power law more than that noise implies, a note says so (the law's form, not the noise, then limits it).

The published laws are presets: :func:`step_law` and :func:`deepseek` return the same result type as a fit,
so ``step_law().predict(params=7e9, tokens=1.4e12)`` works as a fitted one does (without intervals).

>>> preset = step_law()
>>> round(preset.lr_opt.exponents["params"], 3), round(preset.batch_opt.exponents["tokens"], 3)
(-0.713, 0.571)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from scalelaw._result import Result, jsonable
from scalelaw._validation import check_level, check_replicates
from scalelaw.data.runs import Runs
from scalelaw.decisions.hparam_cells import DEFAULT_BAND, cell_optima, span
from scalelaw.errors import DataError

__all__ = ["FORMS", "HparamFit", "HparamLaw", "deepseek", "fit_hparams", "step_law"]

#: The inputs of each power law, by form and target.
FORMS: dict[str, dict[str, tuple[str, ...]]] = {
    "step": {"lr": ("params", "tokens"), "batch_size": ("tokens",)},
    "deepseek": {"lr": ("flops",), "batch_size": ("flops",)},
}
STEP_CITE = "Li et al. 2025, Step Law"
DEEPSEEK_CITE = "Bi et al. 2024, DeepSeek LLM"
STEP_SOURCE = (
    "Li et al. 2025, Predictable Scale: Part I (Step Law): lr = 1.79 N^-0.713 D^0.307, B = 0.58 D^0.571 "
    "(N non-embedding params, D and B in tokens)"
)
DEEPSEEK_SOURCE = (
    "Bi et al. 2024, DeepSeek LLM sec. 3.1: eta_opt = 0.3118 C^-0.1250, B_opt = 0.2920 C^0.3271 "
    "(C = M D in FLOPs, M non-embedding FLOPs per token; B in tokens)"
)


def _fmt(value: float) -> str:
    return "nan" if not math.isfinite(value) else f"{value:.4g}"


@dataclass(frozen=True, eq=False)
class HparamLaw(Result):
    """A power law of an optimal hyperparameter: ``target* = coef · Π input^exponent``.

    Attributes
    ----------
    target : str
        ``"lr"`` or ``"batch_size"``.
    coef : float
        The coefficient (in the units of the target and the inputs).
    exponents : dict
        Input name (``params``, ``tokens``, ``flops``) to its exponent.
    coef_interval : tuple of float
        Bootstrap interval of ``coef`` at ``level`` (NaN without one).
    exponent_intervals : dict
        Input name to the bootstrap interval of its exponent.
    level : float or None
        Interval level.
    n_cells : int
        Cells the law was fitted on.
    resid_sd : float
        Standard deviation of the cell optima about the law, in ln units (NaN with no residual freedom).
    source : str
        Where the law comes from (``"fit"`` or the published paper of a preset).
    samples : ndarray
        ``(n_boot, 1 + k)`` bootstrap replicates of ``(ln coef, exponents...)`` (empty without an interval).
    """

    target: str
    coef: float
    exponents: dict[str, float]
    coef_interval: tuple[float, float] = (math.nan, math.nan)
    exponent_intervals: dict[str, tuple[float, float]] = field(default_factory=dict)
    level: float | None = None
    n_cells: int = 0
    resid_sd: float = math.nan
    source: str = "fit"
    samples: np.ndarray = field(default_factory=lambda: np.empty((0, 0)), repr=False)

    @property
    def inputs(self) -> tuple[str, ...]:
        """The law's inputs, in order."""
        return tuple(self.exponents)

    def _logs(self, inputs: Mapping[str, Any]) -> np.ndarray:
        missing = [name for name in self.inputs if name not in inputs]
        if missing:
            raise DataError(f"the {self.target} law needs {', '.join(self.inputs)}; missing {', '.join(missing)}")
        values = [np.asarray(inputs[name], dtype=np.float64) for name in self.inputs]
        if any(np.any(~(v > 0)) for v in values):
            raise DataError(f"{', '.join(self.inputs)} must be > 0 (the law is a power law)")
        return np.stack(np.broadcast_arrays(*(np.log(v) for v in values)))

    def predict(self, **inputs: Any) -> np.ndarray:
        """The optimum at ``inputs`` (e.g. ``params=7e9, tokens=1.4e12``); arrays broadcast."""
        logs = self._logs(inputs)
        exps = np.array([self.exponents[name] for name in self.inputs])
        return self.coef * np.exp(np.tensordot(exps, logs, axes=1))

    def interval(self, level: float | None = None, **inputs: Any) -> tuple[np.ndarray, np.ndarray]:
        """Bootstrap interval of the optimum at ``inputs`` (NaN without replicates)."""
        logs = self._logs(inputs)
        level = check_level(level if level is not None else (self.level or 0.9))
        shape = logs.shape[1:]
        if self.samples.size == 0:
            return np.full(shape, math.nan), np.full(shape, math.nan)
        ok = np.all(np.isfinite(self.samples), axis=1)
        reps = self.samples[ok, :1] + np.tensordot(self.samples[ok, 1:], logs, axes=1).reshape(ok.sum(), -1)
        low, high = span(reps, np.log(self.predict(**inputs)).reshape(-1), level)
        return np.exp(low).reshape(shape), np.exp(high).reshape(shape)

    def formula(self) -> str:
        """The law as text: ``lr* = 1.79 · params^-0.713 · tokens^0.307``."""
        terms = " · ".join(f"{name}^{value:.4g}" for name, value in self.exponents.items())
        return f"{self.target}* = {self.coef:.4g} · {terms}"

    def summary(self) -> str:
        """The formula, then each term with its interval."""
        lines = [self.formula() + (f" ({self.source})" if self.source != "fit" else f" ({self.n_cells} cells)")]
        for row in self.to_frame().itertuples(index=False):
            span = f" [{_fmt(row.low)}, {_fmt(row.high)}]" if math.isfinite(row.low) else ""
            lines.append(f"  {row.term}: {_fmt(row.value)}{span}")
        return "\n".join(lines)

    def to_frame(self) -> pd.DataFrame:
        """One row per term: ``term`` (``coef`` or ``exponent[NAME]``), ``value``, ``low``, ``high``."""
        rows = [dict(term="coef", value=self.coef, low=self.coef_interval[0], high=self.coef_interval[1])]
        for name, value in self.exponents.items():
            low, high = self.exponent_intervals.get(name, (math.nan, math.nan))
            rows.append(dict(term=f"exponent[{name}]", value=value, low=low, high=high))
        frame = pd.DataFrame(rows)
        frame.insert(0, "target", self.target)
        return frame

    def to_dict(self) -> dict[str, Any]:
        """``coef`` and ``exponents`` (name -> value) with their intervals, as plain JSON-ready data."""
        return jsonable(
            {
                "target": self.target,
                "formula": self.formula(),
                "coef": self.coef,
                "exponents": dict(self.exponents),
                "coef_interval": list(self.coef_interval),
                "exponent_intervals": {
                    k: list(self.exponent_intervals.get(k, (math.nan, math.nan))) for k in self.exponents
                },
                "level": self.level,
                "n_cells": self.n_cells,
                "resid_sd": self.resid_sd,
                "source": self.source,
            }
        )


@dataclass(frozen=True, eq=False)
class HparamFit(Result):
    """Optimal learning rate and batch size across scale: the two power laws and the per-cell optima.

    Attributes
    ----------
    form : str
        ``"step"`` (``lr* = a N^α D^β``, ``bs* = b D^γ``) or ``"deepseek"`` (both in C).
    lr_opt, batch_opt : HparamLaw or None
        The fitted (or published) laws; None when the grid does not vary that hyperparameter.
    cells : DataFrame
        The per-cell optima (:func:`scalelaw.decisions.hparam_cells.cell_optima`); empty for a preset.
    level : float or None
        Interval level.
    notes : tuple of str
        Cells left out and why, and warnings about the intervals.
    source : str
        ``"fit"`` or the citation of a preset.
    """

    form: str
    lr_opt: HparamLaw | None
    batch_opt: HparamLaw | None
    cells: pd.DataFrame = field(default_factory=pd.DataFrame)
    level: float | None = None
    notes: tuple[str, ...] = ()
    source: str = "fit"

    def laws(self) -> dict[str, HparamLaw]:
        """The laws present, by target."""
        return {law.target: law for law in (self.lr_opt, self.batch_opt) if law is not None}

    def predict(self, point: Mapping[str, float] | None = None, level: float | None = None, **inputs: float):
        """lr* and bs* at one point, with intervals.

        Parameters
        ----------
        point, **inputs
            The scale, e.g. ``params=7e9, tokens=1.4e12``. The step form reads ``params`` and ``tokens``
            (``tokens = flops / 6 params`` when only flops is given); the DeepSeek form reads ``flops``
            (``6 params tokens`` when it is absent).
        level : float, optional
            Interval level (default: the fit's).

        Returns
        -------
        dict
            ``{"inputs": {...}, "lr": {"value", "low", "high"}, "batch_size": {...}}`` (targets not fitted
            are absent).
        """
        given = {**(point or {}), **inputs}
        resolved = _resolve(self.form, given)
        out: dict[str, Any] = {"inputs": resolved}
        for target, law in self.laws().items():
            low, high = law.interval(level, **resolved)
            out[target] = {"value": float(law.predict(**resolved)), "low": float(low), "high": float(high)}
        return out

    def summary(self) -> str:
        """Both laws on one line each, then the notes."""
        n = 0 if self.cells.empty else int((self.cells["lr_ok"] | self.cells["batch_size_ok"]).sum())
        what = self.source if self.source != "fit" else f"fit to {n} of {len(self.cells)} cells"
        lines = [f"Optimal lr and batch size ({self.form} form, {what})"]
        for law in self.laws().values():
            lines += ["  " + line for line in law.summary().splitlines()]
        return "\n".join(lines + [f"note: {note}" for note in self.notes])

    def to_frame(self) -> pd.DataFrame:
        """Every law's terms: ``target, term, value, low, high`` (the cells are :attr:`cells`)."""
        frames = [law.to_frame() for law in self.laws().values()]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["target", "term", "value"])

    def to_dict(self) -> dict[str, Any]:
        """``lr_opt``, ``batch_opt`` (each with ``coef``, ``exponents`` and intervals), the cells and notes."""
        return jsonable(
            {
                "form": self.form,
                "source": self.source,
                "level": self.level,
                "lr_opt": self.lr_opt.to_dict() if self.lr_opt else None,
                "batch_opt": self.batch_opt.to_dict() if self.batch_opt else None,
                "cells": self.cells,
                "notes": list(self.notes),
            }
        )


def _resolve(form: str, given: Mapping[str, float]) -> dict[str, float]:
    """The inputs a form reads, derived with C = 6 N D when they are not given."""
    need = sorted({name for names in FORMS[form].values() for name in names})
    out = {name: float(given[name]) for name in need if name in given}
    if "tokens" in need and "tokens" not in out and {"flops", "params"} <= set(given):
        out["tokens"] = float(given["flops"]) / (6.0 * float(given["params"]))
    if "flops" in need and "flops" not in out and {"params", "tokens"} <= set(given):
        out["flops"] = 6.0 * float(given["params"]) * float(given["tokens"])
    missing = [name for name in need if name not in out]
    if missing:
        raise DataError(
            f"the {form} form needs {' and '.join(need)} (e.g. params=7e9,tokens=1.4e12); missing {', '.join(missing)}"
        )
    return out


def _lstsq(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Least-squares ``(intercept, slopes...)`` of ``y`` on the columns of ``x``; NaN when not identified."""
    design = np.column_stack([np.ones(len(y)), x])
    if len(y) <= design.shape[1] - 1 or np.linalg.matrix_rank(design) < design.shape[1]:
        return np.full(design.shape[1], math.nan)
    return np.linalg.lstsq(design, y, rcond=None)[0]


def _fit_law(
    target: str, inputs: tuple[str, ...], cells: pd.DataFrame, reps: np.ndarray, level: float | None
) -> tuple[HparamLaw | None, list[str]]:
    """The power law of ``target`` over the usable cells, and notes."""
    ok = cells[f"{target}_ok"].to_numpy(dtype=bool)
    x = np.log(cells.loc[ok, list(inputs)].to_numpy(dtype=np.float64))
    y = np.log(cells.loc[ok, f"{target}_opt"].to_numpy(dtype=np.float64))
    k = len(inputs)
    if ok.sum() < k + 1:
        return None, [f"{target}: {ok.sum()} usable cell(s); the power law in {', '.join(inputs)} needs {k + 1}"]
    theta = _lstsq(x, y)
    if not np.all(np.isfinite(theta)):
        if k == 1:
            return None, [f"{target}: every usable cell has the same {inputs[0]}; a power law needs it to vary"]
        return None, [
            f"{target}: the cells do not separate {' and '.join(inputs)} (e.g. one tokens-per-parameter ratio); "
            "vary them independently"
        ]
    notes: list[str] = []
    dof = int(ok.sum()) - (k + 1)
    resid_sd = float(np.sqrt(np.sum((y - theta[0] - x @ theta[1:]) ** 2) / dof)) if dof > 0 else math.nan
    samples = np.empty((0, k + 1))
    coef_iv, exp_iv = (math.nan, math.nan), {name: (math.nan, math.nan) for name in inputs}
    if level is not None and reps.shape[1]:
        j = 0 if target == "lr" else 1
        ry = reps[ok, :, j]  # (cells, n_boot)
        samples = np.array([_refit(x, ry[:, b]) for b in range(ry.shape[1])])
        good = samples[np.all(np.isfinite(samples), axis=1)]
        if len(good):
            low, high = span(good, theta, level)
            coef_iv = (math.exp(low[0]), math.exp(high[0]))
            exp_iv = {name: (float(low[i + 1]), float(high[i + 1])) for i, name in enumerate(inputs)}
        spread = np.nanmedian(np.nanstd(ry, axis=1)) if np.isfinite(ry).any() else math.nan
        # 1e-6 in ln units: a noise-free sweep has no spread, and rounding is no misfit.
        if math.isfinite(resid_sd) and math.isfinite(spread) and resid_sd > max(2 * spread, 1e-6):
            notes.append(
                f"{target}: the cell optima scatter about the power law {resid_sd / max(spread, 1e-12):.1f}x more than "
                "their run-to-run noise implies; the intervals (run noise only) are too narrow for this misfit"
            )
    law = HparamLaw(
        target=target,
        coef=math.exp(theta[0]),
        exponents={name: float(theta[i + 1]) for i, name in enumerate(inputs)},
        coef_interval=coef_iv,
        exponent_intervals=exp_iv,
        level=level,
        n_cells=int(ok.sum()),
        resid_sd=resid_sd,
        samples=samples,
    )
    return law, notes


def _refit(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """One bootstrap refit: the cells whose replicate succeeded."""
    keep = np.isfinite(y)
    return _lstsq(x[keep], y[keep])


def fit_hparams(
    runs: Runs | pd.DataFrame | dict[str, Any] | str,
    *,
    form: Literal["step", "deepseek"] = "step",
    band: float = DEFAULT_BAND,
    min_points: int | None = None,
    level: float | None = 0.9,
    n_boot: int = 500,
    seed: int = 0,
    lr: str = "lr",
    batch: str = "batch_size",
    loss: str = "loss",
) -> HparamFit:
    """Fit the optimal learning rate and batch size across scale from grids of runs.

    Parameters
    ----------
    runs : Runs, DataFrame, dict of arrays, path or ``"dataset:NAME"``
        One row per run (its final loss): ``params``, ``tokens`` (or ``flops``), the learning rate, the batch
        size (in tokens, to compare with the published laws) and the loss. Each (params, tokens) cell holds a
        grid of learning rates and batch sizes; either may be a single value, and then only the other is fitted.
    form : {"step", "deepseek"}
        ``"step"``: ``lr* = a N^α D^β``, ``bs* = b D^γ``; ``"deepseek"``: ``lr* = a C^α``, ``bs* = b C^β`` with C
        the ``flops`` column (``6 N D`` when the data has none).
    band, min_points
        Which runs each cell's bowl is fitted on (:func:`~scalelaw.decisions.hparam_cells.cell_optima`).
    level : float or None
        Interval level of the by-run bootstrap (``None`` for none).
    n_boot, seed : int
        Bootstrap replicates (the power laws are refitted on each) and their seed.
    lr, batch, loss : str
        The columns of the learning rate, the batch size and the loss.

    Returns
    -------
    HparamFit

    Raises
    ------
    DataError
        For a missing column, a bad value, an unknown form, or when neither law can be fitted.

    Examples
    --------
    >>> import numpy as np
    >>> grid = [(n, d, lr, bs) for n in (1e8, 4e8) for d in (2e9, 8e9, 3.2e10)
    ...         for lr in np.geomspace(1e-4, 1e-2, 5) for bs in np.geomspace(6e4, 4e6, 5)]
    >>> n, d, lr, bs = (np.array(v) for v in zip(*grid))
    >>> truth = step_law()
    >>> lr_star = truth.lr_opt.predict(params=n, tokens=d)
    >>> bs_star = truth.batch_opt.predict(tokens=d)
    >>> loss = 3 + 0.05 * np.log(lr / lr_star) ** 2 + 0.02 * np.log(bs / bs_star) ** 2
    >>> found = fit_hparams({"params": n, "tokens": d, "lr": lr, "batch_size": bs, "loss": loss}, level=None)
    >>> round(found.lr_opt.exponents["params"], 3), round(found.batch_opt.exponents["tokens"], 3)
    (-0.713, 0.571)
    """
    if form not in FORMS:
        raise DataError(f"form must be one of {', '.join(FORMS)}, not {form!r}")
    if level is not None:
        level = check_level(level)
        check_replicates(n_boot)
    optima = cell_optima(
        runs, band=band, min_points=min_points, level=level, n_boot=n_boot, seed=seed, lr=lr, batch=batch, loss=loss
    )
    cells = optima.table
    notes = [
        f"cell params={row.params:.3g}, tokens={row.tokens:.3g}: {row.flag}"
        for row in cells.itertuples(index=False)
        if row.flag
    ]
    laws: dict[str, HparamLaw | None] = {}
    for target, inputs in FORMS[form].items():
        if not optima.varied[target]:
            laws[target] = None
            notes.append(f"{target}: no cell has 3 or more values of it, so its law is not fitted")
            continue
        laws[target], more = _fit_law(target, inputs, cells, optima.replicates, level)
        notes += more
    if laws["lr"] is None and laws["batch_size"] is None:
        raise DataError("neither power law could be fitted: " + "; ".join(notes[-2:]))
    return HparamFit(form, laws["lr"], laws["batch_size"], cells, level, tuple(notes))


def _preset(form: str, lr: tuple[float, dict[str, float]], batch: tuple[float, dict[str, float]], source: str):
    cite = {"step": STEP_CITE, "deepseek": DEEPSEEK_CITE}[form]  # the laws name the paper; the result states it
    return HparamFit(
        form=form,
        lr_opt=HparamLaw("lr", lr[0], lr[1], source=cite),
        batch_opt=HparamLaw("batch_size", batch[0], batch[1], source=cite),
        source=source,
    )


def step_law() -> HparamFit:
    """The published Step Law (Li et al. 2025): ``lr* = 1.79 N^-0.713 D^0.307``, ``bs* = 0.58 D^0.571``.

    N is the non-embedding parameter count, D the training tokens and the batch size is in tokens.

    >>> at = step_law().predict(params=1e9, tokens=1e11)
    >>> f"{at['lr']['value']:.3g}", f"{at['batch_size']['value']:.3g}"
    ('0.00163', '1.11e+06')
    """
    return _preset("step", (1.79, {"params": -0.713, "tokens": 0.307}), (0.58, {"tokens": 0.571}), STEP_SOURCE)


def deepseek() -> HparamFit:
    """The published DeepSeek LLM law (Bi et al. 2024): ``η* = 0.3118 C^-0.1250``, ``B* = 0.2920 C^0.3271``.

    C is the compute in FLOPs as DeepSeek counts it (``M · D``, M the non-embedding FLOPs per token); the
    batch size is in tokens.
    """
    return _preset("deepseek", (0.3118, {"flops": -0.1250}), (0.2920, {"flops": 0.3271}), DEEPSEEK_SOURCE)
