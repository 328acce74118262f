"""Data pruning (Sorscher et al. 2022): does error fall exponentially in the data kept, or as a power law?

Sorscher et al. ("Beyond neural scaling laws: beating power law scaling via data pruning", NeurIPS 2022;
``docs/laws.md`` §9.3) show that with a good pruning score, error against the number of examples kept can fall
faster than any power law, close to exponentially, while an imperfect score bends back to a power law at large
sizes. :func:`prune` answers that question on your runs, per keep fraction: it fits the power law
``E + A x^-alpha`` (law ``power``) and the exponential ``E + A exp(-x / scale)`` (law ``exponential``) to error
against kept examples, scores both by a backtest on the largest points (the claim is about extrapolation) and by
an information criterion (AIC on log residuals), and gives a verdict with bootstrap intervals on the exponent
``alpha`` and on the rate ``1 / scale``.

Exponential and steep power laws are hard to tell apart over less than 1.5 decades of kept size (laws.md §9.3):
such a group gets a warning, and a verdict only when backtest and AIC agree.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from scalelaw._result import TableResult, jsonable
from scalelaw._validation import check_level
from scalelaw.data.io import read_table
from scalelaw.errors import DataError
from scalelaw.fitting.fit import fit
from scalelaw.fitting.result import FitResult
from scalelaw.laws.catalog import get_law
from scalelaw.trust.backtest import backtest
from scalelaw.trust.bootstrap import MIN_RUNS

#: Kept sizes should span at least this many decades to tell the shapes apart (laws.md §9.3).
MIN_DECADES = 1.5
#: An AIC difference below this is no evidence either way (Burnham & Anderson's rule of thumb).
AIC_MARGIN = 2.0
#: A backtest error must be this many times smaller than the other's to count as a win.
BACKTEST_MARGIN = 1.1
#: Fewest points per group: three parameters per law, and points left to hold out.
MIN_POINTS = 6
SHAPES = ("power", "exponential")


def _as_frame(data: Any) -> pd.DataFrame:
    if isinstance(data, pd.DataFrame):
        return data.copy()
    if isinstance(data, Mapping):
        try:
            return pd.DataFrame({k: np.ravel(v) if np.ndim(v) else v for k, v in data.items()})
        except ValueError as exc:
            raise DataError(f"columns given as a dict must have equal lengths: {exc}") from None
    if isinstance(data, (str, os.PathLike)):
        return read_table(data)
    raise DataError(f"expected a DataFrame, a dict of columns or a path, got {type(data).__name__}")


def _columns(frame: pd.DataFrame, x: str, y: str, keep: str | None) -> pd.DataFrame:
    needed = [x, y] + ([keep] if keep else [])
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise DataError(
            f"pruning data needs column(s) {', '.join(map(repr, missing))}; it has {', '.join(map(str, frame.columns))}"
            f". Name them with x=, y= and keep= (CLI: --x, --y, --keep)."
        )
    for col in needed:
        values = pd.to_numeric(frame[col], errors="coerce")
        bad = ~np.isfinite(values) | (values <= 0)
        if bad.any():
            rows = ", ".join(map(str, frame.index[bad][:5]))
            raise DataError(f"column {col!r} has {int(bad.sum())} missing or non-positive value(s) (rows {rows})")
        frame[col] = values.astype(np.float64)
    if keep and (frame[keep] > 1).any():
        raise DataError(f"column {keep!r} holds fractions of the data kept, in (0, 1]; found {frame[keep].max():g}")
    return frame


def _aic(result: FitResult, frame: pd.DataFrame, x: str, y: str) -> float:
    """AIC of a fit from its log residuals: ``n log(RSS / n) + 2 p``."""
    resid = np.log(frame[y].to_numpy()) - np.log(result.predict(**{x: frame[x].to_numpy()}))
    n = resid.size
    return float(n * math.log(max(float(np.sum(resid**2)) / n, 1e-300)) + 2 * result.law.n_params)


def _verdict(errors: dict[str, float], aic: dict[str, float]) -> tuple[str, str]:
    """The shape both criteria favour, or ``undecided`` with the reason."""
    lo, hi = sorted(SHAPES, key=lambda s: errors[s] if np.isfinite(errors[s]) else np.inf)
    if not np.isfinite(errors[lo]):
        return "undecided", "neither law could be backtested"
    by_backtest = lo if errors[hi] > BACKTEST_MARGIN * errors[lo] else None
    delta = aic["power"] - aic["exponential"]
    by_aic = "exponential" if delta > AIC_MARGIN else "power" if delta < -AIC_MARGIN else None
    if by_backtest and by_aic and by_backtest != by_aic:
        return "undecided", f"the backtest favours {by_backtest}, the AIC {by_aic}"
    if by_backtest is None and by_aic is None:
        return "undecided", "backtest errors within 10% of each other and AIC difference below 2"
    chosen = by_backtest or by_aic
    reason = "backtest and AIC agree" if by_backtest and by_aic else f"{'backtest' if by_backtest else 'AIC'} only"
    return chosen, reason


def pareto_frontier(frame: pd.DataFrame, x: str = "examples", y: str = "error") -> pd.DataFrame:
    """The rows no other row beats: lower error than every row with as many or fewer kept examples.

    Across keep fractions this is the best fraction at each kept size, the curve along which Sorscher et al.
    2022 find error falling faster than a power law (choosing the fraction per data set size). It is a lower
    envelope of noisy points, so it leans low where the fractions' curves cross.

    Examples
    --------
    >>> table = pd.DataFrame({"examples": [1, 2, 2, 3, 4], "error": [0.5, 0.6, 0.4, 0.45, 0.3]})
    >>> pareto_frontier(table)["error"].tolist()
    [0.5, 0.4, 0.3]
    """
    ordered = frame.sort_values([x, y], kind="stable")
    err = ordered[y].to_numpy(dtype=np.float64)
    before = np.concatenate([[np.inf], np.minimum.accumulate(err)[:-1]])
    return ordered[err < before]


@dataclass(frozen=True, eq=False)
class PruneStudy(TableResult):
    """Power law versus exponential for error against kept examples, one row per keep fraction.

    Attributes
    ----------
    table : DataFrame
        One row per group (keep fraction, ``all`` without a keep column, and ``frontier``, the best fraction at each
        kept size): ``keep_fraction, n_points, decades, verdict, reason``;
        the power law's ``alpha, alpha_low, alpha_high``; the exponential's ``scale, scale_low, scale_high``
        and ``rate, rate_low, rate_high`` (``1 / scale``, per example); ``backtest_power, backtest_exponential``
        (mean absolute relative error on the held-out largest points); ``aic_power, aic_exponential``; and
        ``warning`` (too few decades, a fit that did not converge); ``interval_method`` is ``bootstrap`` (by run),
        ``profile`` (profile likelihood, for groups of fewer than 8 runs) or ``none``.
    fits : dict
        ``{group: {"power": FitResult, "exponential": FitResult}}``, fitted on all of the group's points.
    x, y, keep : str
        The columns read (``keep`` is None when there was no keep-fraction column).
    holdout : float
        Share of the largest kept sizes held out by the backtest.
    level : float
        Level of the intervals.
    """

    table: pd.DataFrame
    fits: dict[str, dict[str, FitResult]]
    x: str
    y: str
    keep: str | None
    holdout: float
    level: float

    def verdict(self, keep_fraction: float | str | None = None) -> str:
        """The verdict of one group (the only one when ``keep_fraction`` is None)."""
        if keep_fraction is None:
            if len(self.table) != 1:
                raise DataError(f"the study has {len(self.table)} keep fractions; name one")
            return str(self.table["verdict"].iloc[0])
        rows = self.table[self.table["keep_fraction"].astype(str) == str(keep_fraction)]
        if rows.empty:
            rows = self.table[pd.to_numeric(self.table["keep_fraction"], errors="coerce") == float(keep_fraction)]
        if rows.empty:
            raise DataError(f"no keep fraction {keep_fraction!r}; the study has {list(self.table['keep_fraction'])}")
        return str(rows["verdict"].iloc[0])

    def to_dict(self) -> dict[str, Any]:
        """The columns read, the backtest and interval settings, one record per keep fraction and both laws' fitted
        parameters per keep fraction (``fits``)."""
        fitted = {group: {name: r.params for name, r in pair.items()} for group, pair in self.fits.items()}
        return jsonable(
            {
                "x": self.x,
                "y": self.y,
                "keep": self.keep,
                "holdout": self.holdout,
                "level": self.level,
                "groups": self.table,
                "fits": fitted,
            }
        )

    def summary(self) -> str:
        """The verdict per keep fraction, then the exponent and rate with their intervals."""
        verdicts = ", ".join(f"{r.keep_fraction}: {r.verdict}" for r in self.table.itertuples())
        lines = [f"Pruning scaling ({self.y} vs kept {self.x}): {verdicts}"]
        pct = f"{self.level:.0%}"
        for r in self.table.itertuples():
            lines.append(
                f"  keep {r.keep_fraction}: {r.verdict} ({r.reason}); alpha {r.alpha:.3g} [{r.alpha_low:.3g}, "
                f"{r.alpha_high:.3g}], rate {r.rate:.3g}/example [{r.rate_low:.3g}, {r.rate_high:.3g}] ({pct}); "
                f"backtest error power {r.backtest_power:.2%}, exponential {r.backtest_exponential:.2%}"
                + (f"; warning: {r.warning}" if r.warning else "")
            )
        return "\n".join(lines)


def _interval(result: FitResult, param: str, method: str, n_boot: int, level: float, seed: int) -> tuple[float, float]:
    if method == "bootstrap":
        half = (1 - level) / 2
        low, high = np.quantile(result.bootstrap(n=n_boot, seed=seed).values(param), [half, 1 - half])
        return float(low), float(high)
    if method == "profile":
        row = result.profile(param, level=level).iloc[0]
        return float(row["low"]), float(row["high"])
    return math.nan, math.nan


def _group(
    frame: pd.DataFrame, x: str, y: str, holdout: float, level: float, n_boot: int, seed: int
) -> tuple[dict[str, Any], dict[str, FitResult]]:
    laws = {"power": get_law("power", x=x), "exponential": get_law("exponential", x=x)}
    data = frame[[x, y]].reset_index(drop=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fits = {name: fit(law, data, y=y, seed=seed) for name, law in laws.items()}
        scores = backtest(list(laws.values()), data, holdout=f"top:{holdout}:{x}", y=y, seed=seed)
    errors = dict(zip(SHAPES, scores["mean_abs_rel_error"].astype(float), strict=True))
    aic = {name: _aic(result, data, x, y) for name, result in fits.items()}
    verdict, reason = _verdict(errors, aic)
    row: dict[str, Any] = {"n_points": len(data), "decades": float(np.log10(data[x].max() / data[x].min()))}
    row.update(verdict=verdict, reason=reason)
    # By-run bootstrap when there are enough runs to resample, else profile likelihood (it does not resample).
    method = "none" if not n_boot else "bootstrap" if len(data) >= MIN_RUNS else "profile"
    for name, param in (("power", "alpha"), ("exponential", "scale")):
        low, high = _interval(fits[name], param, method, n_boot, level, seed)
        row.update({param: fits[name].params[param], f"{param}_low": low, f"{param}_high": high})
    row["interval_method"] = method
    row.update(rate=1 / row["scale"], rate_low=1 / row["scale_high"], rate_high=1 / row["scale_low"])
    row.update(backtest_power=errors["power"], backtest_exponential=errors["exponential"])
    row.update(aic_power=aic["power"], aic_exponential=aic["exponential"])
    notes = []
    if row["decades"] < MIN_DECADES:
        notes.append(
            f"kept sizes span {row['decades']:.2f} decades (< {MIN_DECADES}): the shapes are hard to tell apart"
        )
    notes += [f"{name} fit: {', '.join(r.status.flags())}" for name, r in fits.items() if r.status.flags()]
    row["warning"] = "; ".join(notes)
    return row, fits


def prune(
    data: Any,
    x: str = "examples",
    y: str = "error",
    keep: str | None = "keep_fraction",
    holdout: float = 0.2,
    n_boot: int = 200,
    level: float = 0.9,
    seed: int = 0,
    frontier: bool = True,
) -> PruneStudy:
    """Power law or exponential? Error against kept examples, per keep fraction (Sorscher et al. 2022).

    Parameters
    ----------
    data : DataFrame, dict of columns or path
        One row per training run: kept examples ``x`` (raw counts work: 1e3 to 1e9), error ``y`` and, when
        present, the keep fraction ``keep`` (the share of the full dataset kept after pruning, in (0, 1]).
    x, y : str
        Columns of the kept size and the error (or loss).
    keep : str or None
        Column of the keep fraction; each fraction is studied on its own. None, or a column the data lacks
        when left at its default, studies all rows as one group.
    holdout : float
        Share of the largest distinct kept sizes held out by the backtest (``top:holdout:x``).
    n_boot : int
        By-run bootstrap refits behind the intervals on ``alpha`` and on the rate (0 for none); a group of fewer
        than 8 runs gets profile-likelihood intervals instead.
    level : float
        Interval level.
    seed : int
        Seed of the fits and the bootstrap.
    frontier : bool
        With several keep fractions, also study their Pareto frontier (group ``frontier``, see
        :func:`pareto_frontier`): the best fraction at each kept size, where Sorscher et al. find the fast regime.
        Skipped when the frontier has fewer than 6 points or only one fraction on it.

    Returns
    -------
    PruneStudy
        The verdict per keep fraction (``exponential``, ``power`` or ``undecided``), with intervals.

    Raises
    ------
    DataError
        Missing or non-positive columns, keep fractions above 1, or a group with fewer than 6 points.

    Examples
    --------
    >>> import numpy as np
    >>> n = np.geomspace(1e4, 1e7, 12)
    >>> study = prune({"examples": n, "error": 0.02 + 3.0 * n ** -0.3}, n_boot=0)
    >>> study.verdict()
    'power'
    """
    level = check_level(level)
    if not 0 < holdout < 1:
        raise DataError(f"holdout is the share of the largest points held out, in (0, 1); got {holdout!r}")
    frame = _as_frame(data)
    if keep == "keep_fraction" and keep not in frame.columns:
        keep = None
    frame = _columns(frame, x, y, keep)
    groups = [(f"{v:g}", frame[frame[keep] == v]) for v in sorted(frame[keep].unique())] if keep else [("all", frame)]
    for label, part in groups:
        if len(part) < MIN_POINTS:
            raise DataError(f"keep fraction {label} has {len(part)} point(s); each group needs at least {MIN_POINTS}")
    best = pareto_frontier(frame, x, y)
    if frontier and len(groups) > 1 and best[keep].nunique() > 1 and len(best) >= MIN_POINTS:
        groups.append(("frontier", best))
    rows, fits = [], {}
    for label, part in groups:
        row, fits[label] = _group(part, x, y, holdout, level, n_boot, seed)
        rows.append({"keep_fraction": label, **row})
    return PruneStudy(pd.DataFrame(rows), fits, x, y, keep, holdout, level)
