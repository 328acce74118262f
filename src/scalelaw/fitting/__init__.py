"""Fitting: objective, vectorized engine, diagnostics and the frozen result."""

from scalelaw.fitting.fit import fit
from scalelaw.fitting.result import FitData, FitResult, FitStatus

__all__ = ["FitData", "FitResult", "FitStatus", "fit"]
