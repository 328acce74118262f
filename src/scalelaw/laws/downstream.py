"""Links from loss to a downstream metric: Gadre's exponential link and a sigmoid between two levels.

A link law has one input, the loss (column ``"loss"`` by default), and predicts a downstream metric
(``"error"`` by default). Chained with a loss law (:mod:`scalelaw.topics.downstream`) it turns (N, D) into a
metric. Formulas and provenance: ``docs/laws.md`` §6 (Gadre et al. 2024) and §7.4 (Ruan et al.
2024, sigmoid link).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from scalelaw.errors import LawError
from scalelaw.laws.law import Law, Parameter, log_sum_exp_terms


def _softplus(t: np.ndarray) -> np.ndarray:
    """``log(1 + exp(t))`` without overflow."""
    return np.maximum(t, 0.0) + np.log1p(np.exp(-np.abs(t)))


# ---------------------------------------------------------------------------------------------- exponential


@dataclass(frozen=True, eq=False)
class DownstreamExpLaw(Law):
    """``Err(L) = eps - k * exp(-gamma * L)`` (Gadre et al. 2024, ``scaling/shared.py::fit_ds``).

    ``eps`` is the error as the loss grows (the ceiling, near chance), ``k, gamma > 0``. Written as
    ``eps * (1 - exp(u))`` with ``u = log k - gamma L - log eps`` so that the log prediction
    ``log eps + log(-expm1(u))`` keeps full precision near the ceiling. Parameter sets whose error would
    be <= 0 at some loss (``u >= 0``, i.e. L below ``log(k / eps) / gamma``) have no prediction there
    (NaN, which the optimizer treats as an infinite objective).
    """

    def log_predict_jac(self, theta, X, jac=True):
        loss = X[self.inputs[0]][None, :]
        eps, k, gamma = (theta[:, j, None] for j in range(3))
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            u = np.log(k) - gamma * loss - np.log(eps)
            valid = u < 0
            log_one_minus = np.log(-np.expm1(np.where(valid, u, -1.0)))
            log_pred = np.where(valid, np.log(eps) + log_one_minus, np.nan)
            if not jac:
                return log_pred, None
            # r = k exp(-gamma L) / pred = exp(u) / (1 - exp(u)): the share of the subtracted term.
            r = np.exp(np.where(valid, u, -1.0) - log_one_minus)
            J = np.stack(np.broadcast_arrays(np.exp(-log_pred), -r / k, r * loss), axis=1)
            J = np.where(valid[:, None, :], J, np.nan)
        return log_pred, J

    def start_grid(self, X, y):
        # laws.md §6 init: gamma in {0.5, 1, 2, 4} (plus 0.25), eps at or above the largest error; log k by
        # least squares of log(eps - y) + gamma L given (eps, gamma), capped so every row stays positive.
        loss = np.asarray(X[self.inputs[0]], dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        y_max = float(np.max(y))
        span = max(y_max - float(np.min(y)), 1e-3 * y_max)
        starts = []
        for gamma, lift in itertools.product((0.25, 0.5, 1.0, 2.0, 4.0), (0.02, 0.1, 0.5, 2.0)):
            eps = y_max + lift * span
            log_k = float(np.mean(np.log(eps - y) + gamma * loss))
            log_k = min(log_k, np.log(0.99 * eps) + gamma * float(np.min(loss)))
            starts.append((eps, float(np.exp(log_k)), gamma))
        return self.clip(np.array(starts))


def downstream_exp(x: str = "loss", y: str = "error") -> DownstreamExpLaw:
    """Gadre et al.'s loss-to-error link ``eps - k exp(-gamma L)`` reading column ``x``, predicting ``y``.

    Fit it on models whose error is clearly below chance (laws.md §6); ``eps`` is then the extrapolated
    ceiling. For an accuracy, fit the error ``1 - accuracy``.

    Examples
    --------
    >>> law = downstream_exp(y="err_avg_subset_17")
    >>> round(float(law.predict({"eps": 0.85699, "k": 2.2065, "gamma": 0.71459}, loss=2.5)[0]), 4)
    0.4873
    """
    return DownstreamExpLaw(
        name="downstream_exp",
        inputs=(x,),
        roles={x: None},
        parameters=(
            Parameter("eps", 1e-6, 1e3, "log", description=f"{y} as {x} grows (the ceiling)"),
            Parameter("k", 1e-12, 1e12, "log", description="amplitude of the exponential term"),
            Parameter("gamma", 1e-6, 50.0, "identity", description=f"rate of the exponential in {x}"),
        ),
        output=y,
        description=f"eps - k * exp(-gamma * {x})",
        reference="Gadre et al. 2024, Language models scale reliably with over-training and on downstream tasks",
        options={"x": x, "y": y},
    )


# ---------------------------------------------------------------------------------------------- sigmoid


@dataclass(frozen=True, eq=False)
class DownstreamSigmoidLaw(Law):
    """``y = best * sigmoid(-t) + chance * sigmoid(t)`` with ``t = (L - L_mid) / w``, ``w > 0``.

    ``chance`` is the metric's level at high loss (an untrained model), ``best`` its level at low loss;
    the metric moves from one to the other around ``L_mid`` over a loss width ``w``. This is the sigmoid
    between a floor and a ceiling of laws.md §7.4, written so that the direction needs no sign: error
    (``best < chance``) and accuracy (``best > chance``) are the same law. Both levels are >= 0, so the
    prediction is positive. Either level can be held fixed (options ``chance=`` / ``best=``), e.g. at the
    chance error 0.75 of four-way multiple choice.
    """

    def _levels(self, theta):
        """``(log best, log chance)`` per set, shape (n_sets, 1) each, from the free or fixed values."""
        names = self.param_names
        out = []
        for name in ("best", "chance"):
            fixed = self.options.get(name)
            value = theta[:, names.index(name), None] if fixed is None else np.full((theta.shape[0], 1), fixed)
            with np.errstate(divide="ignore"):
                out.append(np.log(value))
        return out

    def log_predict_jac(self, theta, X, jac=True):
        loss = X[self.inputs[0]][None, :]
        names = self.param_names
        L_mid = theta[:, names.index("L_mid"), None]
        w = theta[:, names.index("w"), None]
        log_best, log_chance = self._levels(theta)
        t = (loss - L_mid) / w
        sp_pos, sp_neg = _softplus(t), _softplus(-t)  # -log sigmoid(-t), -log sigmoid(t)
        log_pred, shares = log_sum_exp_terms([log_best - sp_pos, log_chance - sp_neg], weights=jac)
        if not jac:
            return log_pred, None
        share_best, share_chance = np.broadcast_arrays(*shares)
        # d log y / d t = (chance - best) sigmoid(t) sigmoid(-t) / y = share_chance sigmoid(-t) - share_best sigmoid(t).
        dt = share_chance * np.exp(-sp_pos) - share_best * np.exp(-sp_neg)
        columns = {
            "best": np.exp(-sp_pos - log_pred),
            "chance": np.exp(-sp_neg - log_pred),
            "L_mid": -dt / w,
            "w": -dt * t / w,
        }
        J = np.stack(np.broadcast_arrays(*(columns[n] for n in names)), axis=1)
        return log_pred, J

    def start_grid(self, X, y):
        # Direction from the data (metric rising or falling with loss); levels just outside the observed
        # range, L_mid at loss quantiles, w at fractions of the loss range.
        loss = np.asarray(X[self.inputs[0]], dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        y_min, y_max = float(np.min(y)), float(np.max(y))
        span = max(y_max - y_min, 1e-3 * max(y_max, 1e-12))
        rising = np.corrcoef(loss, y)[0, 1] >= 0 if np.ptp(loss) > 0 and np.ptp(y) > 0 else True
        low_end = tuple(max(y_min - f * span, 0.0) for f in (0.05, 0.5))
        high_end = tuple(y_max + f * span for f in (0.05, 0.5))
        best_grid, chance_grid = (low_end, high_end) if rising else (high_end, low_end)
        loss_span = max(float(np.ptp(loss)), 1e-3 * max(abs(float(np.mean(loss))), 1.0))
        grids = {
            "best": best_grid,
            "chance": chance_grid,
            "L_mid": tuple(np.quantile(loss, (0.1, 0.5, 0.9))),
            "w": tuple(f * loss_span for f in (0.05, 0.2, 0.6)),
        }
        starts = np.array(list(itertools.product(*(grids[n] for n in self.param_names))), dtype=np.float64)
        return self.clip(starts)


def downstream_sigmoid(
    x: str = "loss", y: str = "error", chance: float | None = None, best: float | None = None
) -> DownstreamSigmoidLaw:
    """Sigmoid link from loss column ``x`` to metric ``y`` between the levels ``best`` and ``chance``.

    Parameters
    ----------
    x, y : str
        Input (loss) column and the metric it predicts.
    chance : float, optional
        Hold the high-loss level fixed (the metric of a model at chance, e.g. 0.75 error on four-way
        multiple choice, or 0.25 accuracy); otherwise it is fitted.
    best : float, optional
        Hold the low-loss level fixed (e.g. 0 error for a task a perfect model solves); otherwise fitted.

    Examples
    --------
    >>> law = downstream_sigmoid(chance=0.75)
    >>> law.param_names
    ('best', 'L_mid', 'w')
    >>> round(float(law.predict({"best": 0.05, "L_mid": 3.0, "w": 0.4}, loss=3.0)[0]), 3)
    0.4
    """
    for name, value in (("chance", chance), ("best", best)):
        if value is not None and not (np.isfinite(value) and value >= 0):
            raise LawError(f"downstream_sigmoid: {name} must be a finite level >= 0, got {value!r}")
    if chance is not None and best is not None and chance == best:
        raise LawError("downstream_sigmoid: chance and best are equal, so the link would be a constant")
    params = []
    if best is None:
        params.append(Parameter("best", 0.0, 1e6, "identity", description=f"{y} at low {x} (the saturated end)"))
    if chance is None:
        params.append(Parameter("chance", 0.0, 1e6, "identity", description=f"{y} at high {x} (chance level)"))
    params += [
        Parameter("L_mid", -1e3, 1e3, "identity", description=f"{x} halfway between the two levels"),
        Parameter("w", 1e-6, 1e3, "log", description=f"width of the transition, in units of {x}"),
    ]
    b = "best" if best is None else f"{best:g}"
    c = "chance" if chance is None else f"{chance:g}"
    return DownstreamSigmoidLaw(
        name="downstream_sigmoid",
        inputs=(x,),
        roles={x: None},
        parameters=tuple(params),
        output=y,
        description=f"{b} * sigmoid(-({x} - L_mid)/w) + {c} * sigmoid(({x} - L_mid)/w)",
        reference="Ruan, Maddison, Hashimoto 2024, Observational Scaling Laws and the Predictability of "
        "Language Model Performance (sigmoid link scaled between floor and ceiling)",
        options={
            "x": x,
            "y": y,
            "chance": None if chance is None else float(chance),
            "best": None if best is None else float(best),
        },
    )


CATALOG = {"downstream_exp": downstream_exp, "downstream_sigmoid": downstream_sigmoid}
