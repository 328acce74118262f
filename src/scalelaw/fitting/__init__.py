"""Fitting: the objective, the batched multi-start engine, diagnostics (one information matrix), ``fit``,
the frozen result and its JSON schema, and the toolkit for batched refits (:mod:`scalelaw.fitting.refit`).

``fit`` itself is ``scalelaw.fit`` (from :mod:`scalelaw.fitting.fit`); the package does not re-export it, so
that ``scalelaw.fitting.fit`` names the module.
"""

from scalelaw._lazy import attach

__getattr__, __dir__, __all__ = attach(__name__, {"result": ["FitData", "FitResult", "FitStatus"]})
