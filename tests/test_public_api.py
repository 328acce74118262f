"""The public surface is pinned: additions are deliberate, removals are breaking changes."""

import scalelaw

PUBLIC = {
    "CANONICAL_COLUMNS",
    "BoundWarning",
    "ConvergenceWarning",
    "DataError",
    "DataWarning",
    "FitError",
    "FitResult",
    "FitStatus",
    "IdentifiabilityWarning",
    "Law",
    "LawError",
    "NoSignalWarning",
    "OutlierWarning",
    "Parameter",
    "Runs",
    "ScaleLawError",
    "__version__",
    "backtest",
    "datasets",
    "fit",
    "get_law",
    "list_laws",
    "load_runs",
    "read_table",
    "select_law",
}


def test_all_is_pinned():
    assert set(scalelaw.__all__) == PUBLIC


def test_every_name_in_all_exists():
    for name in scalelaw.__all__:
        assert hasattr(scalelaw, name), name


def test_errors_share_one_base():
    for cls in (scalelaw.DataError, scalelaw.LawError, scalelaw.FitError):
        assert issubclass(cls, scalelaw.ScaleLawError)
