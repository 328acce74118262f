"""The record of an automatic law choice that a fit carries: candidates, scores, weights, and their parameters.

:func:`scalelaw.fit` with ``law="auto"`` fits every candidate law, backtests each at the same rolling cuts
(:mod:`scalelaw.trust.law_choice`) and returns the fit of the best extrapolator with a :class:`LawChoice`
attached. The record keeps every weighted candidate's law and parameters, so the averaged prediction and
the spread between laws (the law-choice part of a total interval) can be computed again from a saved fit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from scalelaw._result import Result, jsonable
from scalelaw.errors import DataError
from scalelaw.laws.law import Law

#: Columns of :attr:`LawChoice.table`.
CHOICE_COLUMNS = ("law", "score", "weight", "n_cuts", "error")


@dataclass(frozen=True)
class LawChoice(Result):
    """Candidate laws scored by their rolling backtests, the one chosen, and their weights.

    Attributes
    ----------
    chosen : str
        The candidate with the smallest backtest score.
    table : DataFrame
        One row per candidate: ``law``, ``score`` (mean held-out absolute log error of the near cuts),
        ``weight`` (from the backtests, :func:`scalelaw.trust.law_choice.law_weights`), ``n_cuts`` and
        ``error`` (why a candidate could not be fitted or backtested; empty otherwise).
    candidates : mapping of str to (Law, tuple of float)
        Every scored candidate's law and fitted parameters.
    fractions : tuple of float
        The rolling cuts (shares of runs held out).
    """

    chosen: str
    table: pd.DataFrame = field(compare=False)
    candidates: Mapping[str, tuple[Law, tuple[float, ...]]] = field(compare=False)
    fractions: tuple[float, ...] = ()

    @property
    def weights(self) -> dict[str, float]:
        """Stacking weight of every candidate (0 for those that could not be scored)."""
        return {str(r.law): float(r.weight) for r in self.table.itertuples()}

    @property
    def positive_weights(self) -> dict[str, float]:
        """The weights of the candidates that count in the average and the spread (a positive weight)."""
        return {name: w for name, w in self.weights.items() if w > 0}

    def weights_words(self) -> str:
        """The positive weights in words, ``"chinchilla 0.047, overtrain 0.83, kaplan 0.12"``."""
        return ", ".join(f"{name} {w:.2g}" for name, w in self.positive_weights.items())

    @property
    def inputs(self) -> frozenset[str]:
        """Every input some candidate reads (``unique_tokens`` with ``data_constrained`` among them)."""
        return frozenset(name for law, _ in self.candidates.values() for name in law.inputs)

    def _counted(self) -> dict[str, tuple[Law, tuple[float, ...]]]:
        """The chosen law and every candidate with a positive weight."""
        return {n: c for n, c in self.candidates.items() if n == self.chosen or self.weights.get(n, 0.0) > 0}

    def unreadable(self, columns: Mapping[str, Any]) -> dict[str, list[str]]:
        """The weighted candidates whose inputs ``columns`` lack, with those inputs (``unique_tokens`` for
        ``data_constrained`` beside a chosen ``chinchilla``)."""
        missing = {name: [k for k in law.inputs if k not in columns] for name, (law, _) in self._counted().items()}
        return {name: cols for name, cols in missing.items() if cols}

    def log_predictions(self, columns: Mapping[str, Any], omit_unreadable: bool = False) -> dict[str, np.ndarray]:
        """Log prediction at ``columns`` of the chosen law and of every candidate with a positive weight.

        A candidate whose inputs ``columns`` lack is a :class:`~scalelaw.errors.DataError` that names them
        (leaving it out would narrow an interval without a word), or left out with ``omit_unreadable``, for
        callers that say so themselves (:meth:`unreadable`)."""
        unreadable = self.unreadable(columns)
        if unreadable and not omit_unreadable:
            name, missing = next(iter(unreadable.items()))
            raise DataError(
                f"candidate law {name!r} of this auto fit (weight {self.weights.get(name, 0.0):.2g}) reads "
                f"{', '.join(missing)}, which the points lack: give {' and '.join(missing)} too, since the averaged "
                "prediction and the law-choice part of a total interval weigh every candidate"
            )
        out = {}
        for name, (law, values) in self._counted().items():
            if name not in unreadable:
                with np.errstate(all="ignore"):
                    out[name] = np.log(law.predict(np.array([values]), **{k: columns[k] for k in law.inputs})[0])
        return out

    def averaged(self, columns: Mapping[str, Any]) -> np.ndarray:
        """The averaged prediction: the weighted geometric mean of the candidates' predictions."""
        logs = self.log_predictions(columns)
        w = {k: v for k, v in self.weights.items() if k in logs and v > 0}
        return np.exp(sum(w[k] * logs[k] for k in w) / sum(w.values()))

    def spread(self, columns: Mapping[str, Any], center: Any = None, omit_unreadable: bool = False) -> np.ndarray:
        """Weighted rms distance (log units) of the candidates' predictions from ``center``.

        ``center`` defaults to the chosen law's prediction; pass :meth:`averaged` to measure the spread
        around the averaged prediction. ``omit_unreadable`` as in :meth:`log_predictions`.
        """
        logs = self.log_predictions(columns, omit_unreadable)
        c = logs[self.chosen] if center is None else np.log(np.asarray(center, dtype=np.float64))
        w = {k: v for k, v in self.weights.items() if k in logs and v > 0}
        if not w:
            return np.zeros_like(c)
        return np.sqrt(sum(w[k] * (logs[k] - c) ** 2 for k in w) / sum(w.values()))

    def to_frame(self) -> pd.DataFrame:
        """The candidates' table."""
        return self.table.copy()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the choice, the table and every candidate's law definition and parameters."""
        rows = [
            {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in row.items()}
            for row in self.table[list(CHOICE_COLUMNS)].to_dict("records")
        ]
        out = {
            "chosen": self.chosen,
            "fractions": list(self.fractions),
            "candidates": rows,
            "fits": {
                name: {"law_definition": law.to_dict(), "params": dict(zip(law.param_names, values, strict=True))}
                for name, (law, values) in self.candidates.items()
            },
        }
        return jsonable(out)  # an infinite bound of a law's definition is None, as in the fit JSON

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LawChoice:
        """Rebuild from :meth:`to_dict` (checked by the fit schema before it gets here)."""
        from scalelaw.laws.catalog import law_from_dict

        candidates = {}
        for name, entry in data["fits"].items():
            law = law_from_dict(entry["law_definition"])
            candidates[name] = (law, tuple(float(entry["params"][p]) for p in law.param_names))
        table = pd.DataFrame(
            [{**row, "score": math.inf if row["score"] is None else row["score"]} for row in data["candidates"]],
            columns=list(CHOICE_COLUMNS),
        )
        return cls(data["chosen"], table, candidates, tuple(data.get("fractions", ())))

    def summary(self) -> str:
        """Which law was chosen, and every candidate's score and weight."""
        parts = "; ".join(
            f"{r.law} {r.score:.4f}, weight {r.weight:.2f}" if math.isfinite(r.score) else f"{r.law}: {r.error}"
            for r in self.table.itertuples()
        )
        return f"law chosen by rolling backtests: {self.chosen} (held-out mean |log error| of near cuts: {parts})"

    def __repr__(self) -> str:
        return f"LawChoice(chosen={self.chosen!r}, candidates={list(self.table['law'])})"
