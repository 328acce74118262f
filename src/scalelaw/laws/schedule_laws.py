"""LR-schedule laws: Tissue et al.'s annealing-area law and Luo et al.'s Multi-Power Law.

Both predict the loss at every logged step of a run from the run's whole per-step LR schedule
(laws.md §5). The schedule reaches the law through :meth:`ScheduleLaw.bind`: given each row's
``run`` and ``step`` and a :class:`~scalelaw.laws.schedule.Schedules` (or, for data logged at every
step, the data's own ``lr`` column), it attaches precomputed arrays to the inputs under keys that
start with ``"schedule:"``. The fitting engine passes inputs through untouched, so these arrays are
computed once per fit, not once per evaluation.

- ``lr_annealing``: ``L = L0 + A S1^-alpha - C S2`` with ``S1`` the forward area and ``S2`` the
  annealing area with momentum ``lam`` (per-row features).
- ``multi_power``: ``L = L0 + A S1^-alpha - B LD(C, beta, gamma)``; ``LD`` depends on the parameters,
  so its sum over earlier steps is kept as compressed terms (:func:`~scalelaw.laws.schedule.loss_drop_design`).

``by_size=True`` adds the model size (input ``params``) so one fit covers several sizes: each parameter
named in ``size_params`` becomes ``p(N) = p * (N / params_ref)^p_N`` with a fitted exponent ``p_N``; the
others are shared. The defaults scale the parameters that move with size in the published per-size
Multi-Power fits (L0, A, alpha, B; C, beta, gamma stay within a few percent from 25M to 400M) and the
amplitudes of the annealing law (L0, A, C, alpha). A power law in N is the simplest form that
interpolates between sizes and extrapolates smoothly; with two or three sizes nothing richer is
identifiable. Measured on the Multi-Power curves (mean relative error on the held-out curves of
25M / 100M / 400M): one ``multi_power`` fit of the three sizes' fit curves 0.0016 / 0.0014 / 0.0030
(per-size fits: 0.0014 / 0.0016 / 0.0022; without scaling alpha: 0.0040 / 0.0042 / 0.0056); fitted on
25M and 100M only, the 400M curves (4x beyond) come out at 0.0095 (``lr_annealing``: 0.0127).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import numpy as np

from scalelaw.errors import DataError, LawError
from scalelaw.laws.law import Law, Parameter
from scalelaw.laws.schedule import Schedules, annealing_area, loss_drop_design

#: Inputs whose name starts with this are precomputed schedule arrays, not data columns.
SCHEDULE_KEY = "schedule:"

# Elements per temporary array in the Multi-Power loss-drop evaluation (chunks of parameter sets).
_CHUNK_ELEMENTS = 1 << 17
# Starts the Multi-Power law hands to the optimizer (the best of its 24-point grid).
_MPL_STARTS = 4


def as_schedules(schedule: Any, run: Any = None, step: Any = None, lr: Any = None, law: str = "") -> Schedules:
    """Turn what the caller gave into :class:`Schedules`.

    ``schedule`` may be a :class:`Schedules`, a ``run, step, lr`` table (DataFrame or dict of columns),
    a ``{run: per-step LRs}`` mapping, or one per-step LR array. Without one, the rows' own ``lr`` values
    are used, which requires a row at every step of every run.
    """
    if isinstance(schedule, Schedules):
        return schedule
    if schedule is None:
        if lr is None:
            raise LawError(
                f"law {law!r} reads the LR schedule of every run: pass schedule=... (a run, step, lr table, a "
                "Schedules, or one per-step LR array), or data with an 'lr' column at every step"
            )
        table: dict[str, Any] = {"step": np.ravel(step), "lr": np.ravel(lr)}
        if run is not None:
            table["run"] = np.ravel(np.asarray(run)).astype(str)
        try:
            return Schedules.from_frame(table, source="the data's 'lr' column")
        except DataError as exc:
            raise DataError(
                f"{exc}. Without schedule=..., the data's 'lr' column must list every step; pass the per-step "
                "schedule as a separate run, step, lr table"
            ) from None
    import pandas as pd

    if isinstance(schedule, pd.DataFrame):
        return Schedules.from_frame(schedule)
    if isinstance(schedule, Mapping):
        if "step" in schedule and "lr" in schedule:
            return Schedules.from_frame(dict(schedule))
        return Schedules.from_arrays(schedule)
    return Schedules.from_arrays(schedule)


def schedule_law(law: Law) -> ScheduleLaw | None:
    """The :class:`ScheduleLaw` a law is or wraps (a law with fixed parameters), else ``None``."""
    while law is not None:
        if isinstance(law, ScheduleLaw):
            return law
        law = getattr(law, "base", None)
    return None


@dataclass(frozen=True, eq=False)
class ScheduleLaw(Law):
    """A law of the loss along training that reads each run's LR schedule.

    Inputs are the step column (and ``params`` with ``by_size``); :meth:`bind` also takes ``run``
    (each row's run id), ``schedule`` and ``lr`` and adds the law's precomputed schedule arrays.
    """

    #: The law's own parameters, before the size exponents.
    base_names: ClassVar[tuple[str, ...]] = ()

    @property
    def by_size(self) -> bool:
        return bool(self.options.get("by_size", False))

    @property
    def size_params(self) -> tuple[str, ...]:
        return tuple(self.options.get("size_params", ())) if self.by_size else ()

    @property
    def params_ref(self) -> float:
        return float(self.options.get("params_ref", 1e8))

    # ------------------------------------------------------------------ binding
    def schedule_features(self, schedules: Schedules, run: Any, step: np.ndarray) -> dict[str, np.ndarray]:
        """Arrays derived from the schedule that :meth:`log_predict_jac` reads (keys start with ``schedule:``)."""
        raise NotImplementedError

    def bind(self, inputs: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """Data columns plus the schedule arrays. ``inputs`` may hold ``run``, ``schedule`` and ``lr``."""
        inputs = dict(inputs)
        schedule = inputs.pop("schedule", None)
        run = inputs.pop("run", None)
        lr = inputs.pop("lr", None)
        ready = {k: v for k, v in inputs.items() if k.startswith(SCHEDULE_KEY)}
        X = super().bind(inputs)
        if ready:
            X.update(ready)
            return X
        step = X[self.inputs[0]]
        if run is not None:
            run = np.atleast_1d(np.asarray(run)).astype(str).ravel()
            if run.size == 1 and step.size > 1:
                run = np.full(step.size, run[0])
        X.update(self.schedule_features(as_schedules(schedule, run, step, lr, law=self.name), run, step))
        return X

    def _areas(self, schedules: Schedules, run: Any, step: np.ndarray):
        """Each row's run and step index, and the forward area S1 (checked > 0)."""
        run, idx = schedules.index(run, step)
        s1 = np.empty(step.size)
        for r in np.unique(run):
            sel = run == r
            s1[sel] = np.cumsum(schedules[r])[idx[sel]]
        if np.any(s1 <= 0):
            k = int(np.flatnonzero(s1 <= 0)[0])
            raise DataError(
                f"run {run[k]!r} has no LR area yet at step {int(step[k])} (S1 = 0): the law predicts an infinite "
                "loss there; drop rows before the first step with a positive LR"
            )
        return run, idx, s1

    def _require(self, X: Mapping[str, np.ndarray], *keys: str) -> list[np.ndarray]:
        try:
            return [X[SCHEDULE_KEY + k] for k in keys]
        except KeyError:
            raise LawError(
                f"law {self.name!r} needs each run's LR schedule, but its inputs carry none: pass schedule=... to "
                "fit/predict (or bind the inputs with law.bind)"
            ) from None

    # ------------------------------------------------------------------ model size
    def _effective(self, theta: np.ndarray, X: Mapping[str, np.ndarray]):
        """Base parameters per row, ``(n_sets, 1)`` or ``(n_sets, n_rows)`` with ``by_size``, and the size factors."""
        values = {n: theta[:, [k]] for k, n in enumerate(self.base_names)}
        factors: dict[str, np.ndarray] = {}
        log_r = None
        if self.by_size:
            log_r = np.log(X[self.inputs[1]] / self.params_ref)[None, :]
            for j, n in enumerate(self.size_params):
                factors[n] = np.exp(theta[:, [len(self.base_names) + j]] * log_r)
                values[n] = values[n] * factors[n]
        return values, factors, log_r

    def _chain(self, d: Mapping[str, np.ndarray], values, factors, log_r, n_rows: int) -> np.ndarray:
        """``d log L / d theta`` from ``d log L / d (effective parameter)``; shape (n_sets, n_params, n_rows)."""
        cols = [d[n] * factors[n] if n in factors else d[n] for n in self.base_names]
        cols += [d[n] * values[n] * log_r for n in self.size_params]
        n_sets = max(c.shape[0] for c in cols)
        return np.stack([np.broadcast_to(c, (n_sets, n_rows)) for c in cols], axis=1)

    def _with_drop(self, p, factors, log_r, log_s1: np.ndarray, drop: np.ndarray, drop_jac):
        """Log prediction and Jacobian of ``L = L0 + A S1^-alpha - drop``: the power law in the LR area both
        families share, with the law's own loss ``drop`` and its derivatives ``drop_jac`` (parameter name ->
        d drop / d parameter; None for no Jacobian). ``p`` holds the effective (size-scaled) parameters."""
        term = np.exp(-p["alpha"] * log_s1)
        L = p["L0"] + p["A"] * term - drop
        log_pred = np.log(np.where(L > 0, L, np.nan))
        if drop_jac is None:
            return log_pred, None
        inv = 1.0 / L
        d = {"L0": inv, "A": term * inv, "alpha": -p["A"] * term * log_s1 * inv}
        d.update({name: -g * inv for name, g in drop_jac.items()})
        return log_pred, self._chain(d, p, factors, log_r, log_s1.shape[1])

    def _size_groups(self, X: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        if not self.by_size:
            return [np.arange(X[self.inputs[0]].size)]
        sizes = X[self.inputs[1]]
        return [np.flatnonzero(sizes == s) for s in np.unique(sizes)]

    def _pool_starts(self, X, per_group: list[dict[str, float]], shared: dict[str, float]) -> list[float]:
        """One start from per-size linear solves: size-scaled parameters log-linear in log(N / params_ref)."""
        groups = self._size_groups(X)
        log_r = None
        if self.by_size and len(groups) > 1:
            log_r = np.log(np.array([X[self.inputs[1]][g[0]] for g in groups]) / self.params_ref)
        base: dict[str, float] = {}
        exps: dict[str, float] = {}
        for n in self.base_names:
            if n in shared:
                base[n], exps[n] = float(shared[n]), 0.0
                continue
            logs = np.log(np.maximum([g[n] for g in per_group], 1e-12))
            if n in self.size_params and log_r is not None:
                slope, icpt = np.polyfit(log_r, logs, 1)
            else:
                slope, icpt = 0.0, float(np.mean(logs))
            base[n], exps[n] = float(np.exp(icpt)), float(slope)
        return [base[n] for n in self.base_names] + [exps[n] for n in self.size_params]

    def formula(self) -> str:
        if not self.by_size:
            return self.description
        scaled = ", ".join(f"{n} = {n}*({self.inputs[1]}/{self.params_ref:g})^{n}_N" for n in self.size_params)
        return f"{self.description}; {scaled}"


def _size_parameters(names: Sequence[str]) -> tuple[Parameter, ...]:
    return tuple(
        Parameter(f"{n}_N", -3.0, 3.0, "identity", description=f"exponent of model size in {n}") for n in names
    )


def _nnls(columns: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Non-negative least squares for a handful of columns: the best feasible fit over column subsets."""
    scale = np.maximum(np.abs(columns).max(axis=0), 1e-300)
    A = columns / scale
    k = A.shape[1]
    best, best_rss = np.zeros(k), float(np.sum(y**2))
    for subset in itertools.chain.from_iterable(itertools.combinations(range(k), r) for r in range(1, k + 1)):
        cols = list(subset)
        coef, *_ = np.linalg.lstsq(A[:, cols], y, rcond=None)
        if np.all(coef >= 0):
            rss = float(np.sum((y - A[:, cols] @ coef) ** 2))
            if rss < best_rss:
                best, best_rss = np.zeros(k), rss
                best[cols] = coef
    return best / scale


# ============================================================================== Tissue et al. 2024
@dataclass(frozen=True, eq=False)
class LRAnnealingLaw(ScheduleLaw):
    """``L = L0 + A S1^-alpha - C S2`` (Tissue et al. 2024, laws.md §5.1)."""

    base_names: ClassVar[tuple[str, ...]] = ("L0", "A", "alpha", "C")

    @property
    def lam(self) -> float:
        return float(self.options.get("lam", 0.999))

    def schedule_features(self, schedules, run, step):
        run, idx, s1 = self._areas(schedules, run, step)
        s2 = np.empty(step.size)
        for r in np.unique(run):
            sel = run == r
            s2[sel] = annealing_area(schedules[r], idx[sel], lam=self.lam)
        return {SCHEDULE_KEY + "S1": s1, SCHEDULE_KEY + "S2": s2}

    def log_predict_jac(self, theta, X, jac=True):
        s1, s2 = self._require(X, "S1", "S2")
        log_s1 = np.log(s1)[None, :]
        s2 = s2[None, :]
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            p, factors, log_r = self._effective(theta, X)
            return self._with_drop(p, factors, log_r, log_s1, p["C"] * s2, {"C": s2} if jac else None)

    def start_grid(self, X, y):
        # laws.md §13: alpha on a grid, L0 either solved with A and C by non-negative least squares or
        # set to {0.5, 0.8} x min(loss) with A, C solved.
        s1, s2 = (X[SCHEDULE_KEY + k] for k in ("S1", "S2"))
        groups = self._size_groups(X)
        starts = []
        for alpha in (0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0):
            for frac in (None, 0.5, 0.8):
                per_group = []
                for g in groups:
                    cols = np.column_stack([np.ones(g.size), s1[g] ** -alpha, -s2[g]])
                    if frac is None:
                        L0, A, C = _nnls(cols, y[g])
                    else:
                        L0 = frac * float(np.min(y[g]))
                        A, C = _nnls(cols[:, 1:], y[g] - L0)
                    per_group.append({"L0": L0, "A": A, "alpha": alpha, "C": C})
                starts.append(self._pool_starts(X, per_group, {"alpha": alpha}))
        return self.clip(np.array(starts))


def lr_annealing(
    lam: float = 0.999,
    by_size: bool = False,
    size_params: Sequence[str] = ("L0", "A", "alpha", "C"),
    params_ref: float = 1e8,
    step: str = "step",
    size: str = "params",
) -> LRAnnealingLaw:
    """Tissue et al.'s LR-annealing law ``L0 + A S1^-alpha - C S2``; needs each run's LR schedule.

    ``S1`` is the forward area (LR sum, warmup included) and ``S2`` the annealing area with momentum
    ``lam`` (fixed, not fitted). ``by_size=True`` adds model size: see the module docstring.
    """
    if not 0.0 <= lam < 1.0:
        raise LawError(f"lam must lie in [0, 1), got {lam}")
    return _schedule_law(
        LRAnnealingLaw,
        "lr_annealing",
        (Parameter("C", 1e-10, 1e6, "log", description="loss drop per unit of annealing area S2"),),
        step=step,
        size=size,
        by_size=by_size,
        size_params=size_params,
        description="L0 + A * S1^(-alpha) - C * S2 (S1 = LR area, S2 = annealing area with momentum lam)",
        reference="Tissue, Wang, Wang 2024, Scaling Law with Learning Rate Annealing",
        options={"lam": float(lam), "params_ref": params_ref},
    )


_Schedule = TypeVar("_Schedule", bound="ScheduleLaw")


def _schedule_law(
    cls: type[_Schedule],
    name: str,
    drop: tuple[Parameter, ...],
    *,
    step: str,
    size: str,
    by_size: bool,
    size_params: Sequence[str],
    description: str,
    reference: str,
    options: dict[str, Any],
) -> _Schedule:
    """An LR-schedule law ``L0 + A S1^-alpha - drop``: the power law in the LR area both families share, the
    law's own loss-drop parameters ``drop``, and with ``by_size`` the model size as a second input (role N)
    that scales the ``size_params``."""
    size_params = _check_size_params(size_params, cls.base_names, by_size)
    params = (
        Parameter("L0", 1e-6, 1e3, "log", description="loss floor"),
        Parameter("A", 1e-8, 1e6, "log", description="amplitude of the power law in the LR area S1"),
        Parameter("alpha", 1e-3, 3.0, "identity", description="exponent of the LR area S1"),
        *drop,
    )
    return cls(
        name=name,
        inputs=(step, size) if by_size else (step,),
        roles={step: None, size: "N"} if by_size else {step: None},
        parameters=params + (_size_parameters(size_params) if by_size else ()),
        description=description,
        reference=reference,
        options={"by_size": bool(by_size), "size_params": size_params, **options},
    )


def _check_size_params(size_params: Sequence[str], names: Sequence[str], by_size: bool) -> tuple[str, ...]:
    if isinstance(size_params, str):
        size_params = tuple(s.strip() for s in size_params.split(",") if s.strip())
    out = tuple(dict.fromkeys(str(s) for s in size_params))
    bad = [s for s in out if s not in names]
    if bad:
        raise LawError(f"size_params {bad} are not parameters of this law; choose from {', '.join(names)}")
    if by_size and not out:
        raise LawError("by_size=True needs at least one parameter in size_params")
    return out


# ============================================================================== Luo et al. 2025
@dataclass(frozen=True, eq=False)
class MultiPowerLaw(ScheduleLaw):
    """``L = L0 + A S1^-alpha - B LD`` with ``LD`` the Multi-Power loss drop (Luo et al. 2025, laws.md §5.2)."""

    base_names: ClassVar[tuple[str, ...]] = ("L0", "A", "alpha", "B", "C", "beta", "gamma")

    def schedule_features(self, schedules, run, step):
        run, idx, s1 = self._areas(schedules, run, step)
        ratio = float(self.options.get("block_ratio", 1.0))
        n_nodes = int(self.options.get("nodes", 5))
        rows, logs, us, ws = [], [], [], []
        constant = np.zeros(step.size)
        n_exact = 0
        for r in np.unique(run):
            where = np.flatnonzero(run == r)
            design = loss_drop_design(schedules[r], idx[where], block_ratio=ratio, nodes=n_nodes)
            rows.append(where[design.row])
            logs.append(np.log(design.eta))
            us.append(design.u)
            ws.append(design.weight)
            constant[where] = design.constant
            n_exact += design.n_exact_terms
        row = np.concatenate(rows)
        order = np.argsort(row, kind="stable")
        row = row[order]
        log_eta = np.concatenate(logs)[order]
        nodes, node = np.unique(log_eta, return_inverse=True)
        seg_start = np.flatnonzero(np.r_[True, row[1:] != row[:-1]]) if row.size else np.zeros(0, np.int64)
        return {
            SCHEDULE_KEY + "S1": s1,
            SCHEDULE_KEY + "ld_constant": constant,
            SCHEDULE_KEY + "row": row,
            SCHEDULE_KEY + "log_eta": log_eta,
            SCHEDULE_KEY + "u": np.concatenate(us)[order],
            SCHEDULE_KEY + "weight": np.concatenate(ws)[order],
            SCHEDULE_KEY + "node": node.astype(np.int64),
            SCHEDULE_KEY + "log_eta_nodes": nodes,
            SCHEDULE_KEY + "seg_start": seg_start,
            SCHEDULE_KEY + "seg_row": row[seg_start] if row.size else np.zeros(0, np.int64),
            SCHEDULE_KEY + "n_exact_terms": np.array([n_exact]),
        }

    def loss_drop(self, C, beta, gamma, X, jac: bool = False):
        """``LD`` per row and, with ``jac``, its derivatives in C, beta, gamma; each ``(n_sets, n_rows)``.

        ``C, beta, gamma`` have shape ``(n_sets, 1)`` or ``(n_sets, n_rows)`` (size-dependent).
        """
        constant, row, log_eta, u, weight, node, nodes, seg_start, seg_row = self._require(
            X, "ld_constant", "row", "log_eta", "u", "weight", "node", "log_eta_nodes", "seg_start", "seg_row"
        )
        n_rows, n_terms = constant.size, row.size
        n_sets = max(a.shape[0] for a in (C, beta, gamma))
        C, beta, gamma = (np.broadcast_to(a, (n_sets, a.shape[1])) for a in (C, beta, gamma))
        n_out = 4 if jac else 1
        out = np.zeros((n_out, n_sets, n_rows))
        out[0] += constant
        if n_terms == 0:
            return tuple(out)
        # Small chunks of parameter sets keep the temporaries in cache; all arithmetic is in place.
        chunk = max(1, _CHUNK_ELEMENTS // n_terms)
        terms = np.empty((n_out, min(chunk, n_sets), n_terms))
        for lo in range(0, n_sets, chunk):
            sl = slice(lo, min(lo + chunk, n_sets))
            k = sl.stop - sl.start
            c, b, g = (a[sl] if a.shape[1] == 1 else a[sl][:, row] for a in (C, beta, gamma))
            if g.shape[1] == 1:
                x = np.exp(-g * nodes)[:, node]  # eta^-gamma once per distinct LR
            else:
                x = np.exp(-g * log_eta)
            x *= u  # x = eta^-gamma (S1(t) - S1(k-1))
            z = c * x
            z += 1.0
            lz = np.log(z)
            h = np.multiply(-b, lz)
            np.exp(h, out=h)  # (1 + C x)^-beta
            t = terms[:, :k]
            np.multiply(weight, h, out=t[0])
            if jac:
                np.multiply(t[0], lz, out=t[2])  # weight * dG/dbeta
                h *= b
                h /= z
                h *= x
                np.multiply(weight, h, out=t[1])  # weight * dG/dC
                np.multiply(t[1], c, out=t[3])
                t[3] *= log_eta
                np.negative(t[3], out=t[3])  # weight * dG/dgamma
            np.subtract(weight, t[0], out=t[0])  # weight * G
            out[:, sl, seg_row] += np.add.reduceat(t, seg_start, axis=-1)
        return tuple(out)

    def log_predict_jac(self, theta, X, jac=True):
        (s1,) = self._require(X, "S1")
        log_s1 = np.log(s1)[None, :]
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            p, factors, log_r = self._effective(theta, X)
            ld = self.loss_drop(p["C"], p["beta"], p["gamma"], X, jac=jac)
            drop_jac = (
                {"B": ld[0], "C": p["B"] * ld[1], "beta": p["B"] * ld[2], "gamma": p["B"] * ld[3]} if jac else None
            )
            return self._with_drop(p, factors, log_r, log_s1, p["B"] * ld[0], drop_jac)

    def start_grid(self, X, y):
        # laws.md §13: alpha, beta, gamma and log C on a grid; L0, A, B by non-negative least squares
        # (the law is linear in them), per model size with by_size and then log-linear in size.
        s1 = X[SCHEDULE_KEY + "S1"]
        shapes = np.array(list(itertools.product((0.3, 0.6), (0.3, 0.6), (1.0, np.exp(2.0), np.exp(4.0)))))
        beta, gamma, C = (shapes[:, [k]] for k in range(3))
        (ld,) = self.loss_drop(C, beta, gamma, X, jac=False)
        groups = self._size_groups(X)
        starts = []
        for alpha in (0.3, 0.5):
            for j, (b, g, c) in enumerate(shapes):
                per_group = []
                for rows in groups:
                    cols = np.column_stack([np.ones(rows.size), s1[rows] ** -alpha, -ld[j, rows]])
                    L0, A, B = _nnls(cols, y[rows])
                    per_group.append({"L0": L0, "A": A, "B": B})
                shared = {"alpha": alpha, "C": c, "beta": b, "gamma": g}
                starts.append(self._pool_starts(X, per_group, shared))
        starts = self.clip(np.array(starts))
        # Every start runs to convergence and each evaluation sums over the schedule, so keep the few
        # best by absolute log residual (on the Multi-Power curves all 24 reach the same optimum).
        with np.errstate(all="ignore"):
            log_pred, _ = self.log_predict_jac(starts, X, jac=False)
            score = np.abs(log_pred - np.log(y)).sum(axis=1)
        score = np.where(np.isfinite(score), score, np.inf)
        return starts[np.argsort(score, kind="stable")[:_MPL_STARTS]]


def multi_power(
    by_size: bool = False,
    size_params: Sequence[str] = ("L0", "A", "alpha", "B"),
    params_ref: float = 1e8,
    block_ratio: float = 1.0,
    nodes: int = 5,
    step: str = "step",
    size: str = "params",
) -> MultiPowerLaw:
    """Luo et al.'s Multi-Power Law ``L0 + A S1^-alpha - B LD``; needs each run's LR schedule.

    ``S1`` is the LR sum up to the step (warmup included: the paper's ``S1 + S_W``) and
    ``LD = sum_k (lr[k-1] - lr[k]) (1 - (1 + C lr[k]^-gamma (S1(t) - S1(k-1)))^-beta)``, evaluated exactly
    as the reference code does (``docs/ORACLES.md`` §3) up to the compression set by
    ``block_ratio`` and ``nodes`` (``block_ratio=0`` sums every step exactly); see
    :func:`scalelaw.laws.schedule.loss_drop_design`. ``by_size=True`` adds model size.
    """
    if nodes < 1 or block_ratio < 0:
        raise LawError(f"nodes must be >= 1 and block_ratio >= 0, got nodes={nodes}, block_ratio={block_ratio}")
    return _schedule_law(
        MultiPowerLaw,
        "multi_power",
        (
            Parameter("B", 1e-6, 1e9, "log", description="amplitude of the loss drop"),
            Parameter("C", 1e-8, 1e8, "log", description="rate of the loss-drop saturation"),
            Parameter("beta", 1e-3, 5.0, "identity", description="power of the loss-drop saturation"),
            Parameter("gamma", 1e-3, 3.0, "identity", description="LR exponent inside the loss drop"),
        ),
        step=step,
        size=size,
        by_size=by_size,
        size_params=size_params,
        description="L0 + A * S1^(-alpha) - B * sum_k (lr[k-1] - lr[k]) * "
        "(1 - (1 + C * lr[k]^(-gamma) * (S1 - S1[k-1]))^(-beta))",
        reference="Luo et al. 2025, A Multi-Power Law for Loss Curve Prediction Across Learning Rate Schedules",
        options={"params_ref": float(params_ref), "block_ratio": float(block_ratio), "nodes": int(nodes)},
    )


CATALOG = {"lr_annealing": lr_annealing, "multi_power": multi_power}
