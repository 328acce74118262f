"""The report's figures as static files (PNG, SVG or PDF) drawn with matplotlib, for a paper or a slide.

They are drawn from the same views as the HTML report (:mod:`scalelaw.views.figures`), so a static figure and the
interactive one show the same curves.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

from scalelaw.data.io import write_bytes_atomic
from scalelaw.errors import DataError, ScaleLawError
from scalelaw.fitting.result import FitResult
from scalelaw.laws.schedule_laws import schedule_law
from scalelaw.views import figures, plot

#: Formats :func:`write_figures` writes.
FIGURE_FORMATS = ("png", "svg", "pdf")


def check_figure_format(fmt: str) -> str:
    """``fmt`` in lower case if it is one of :data:`FIGURE_FORMATS`, else a DataError that lists them."""
    if fmt.lower() not in FIGURE_FORMATS:
        raise DataError(f"figure format must be one of {', '.join(FIGURE_FORMATS)}, not {fmt!r}")
    return fmt.lower()


def write_figures(
    directory: str | os.PathLike,
    result: FitResult,
    fmt: str = "png",
    *,
    boot: Any = None,
    level: float = 0.9,
    split: Any = None,
    split_results: Any = None,
) -> list[Path]:
    """Write the report's figures into ``directory`` (created if missing), each atomically.

    Parameters
    ----------
    directory : path
        Where to write ``fit``, ``residuals``, and when they apply ``frontier`` (a law of N and D),
        ``backtest`` (with ``split`` and ``split_results``) and ``bootstrap`` (with ``boot``), each as
        ``NAME.FMT``; files of those names are replaced.
    result : FitResult
        The fit; it must carry its data.
    fmt : {"png", "svg", "pdf"}
        File format.
    boot : Bootstrap, optional
        Replicates for the bands and the bootstrap histograms.
    level : float
        Level of the bands and intervals.
    split, split_results : Split and fits on ``split.train``, optional
        For the held-out predicted-against-observed figure.

    Returns
    -------
    list of Path
        The files written, in the report's order.

    Examples
    --------
    >>> import scalelaw, tempfile, warnings
    >>> warnings.simplefilter("ignore")
    >>> fit = scalelaw.fit("chinchilla", "dataset:gadre2024_rpj")
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     [p.name for p in write_figures(folder, fit, "svg")]
    ['fit.svg', 'residuals.svg', 'frontier.svg']
    """
    fmt = check_figure_format(fmt)
    draw: list[tuple[str, Any]] = []
    if schedule_law(result.law) is None:  # an LR-schedule law's curves need each run's schedule
        draw.append(("fit", lambda: plot.fit_plot(result, level=level, boot=boot)))
        draw.append(("residuals", lambda: plot.residuals_plot(result)))
    law = result.law
    if len(law.inputs) == 2 and "flops" not in law.inputs and figures.nd_inputs(law) is not None:
        draw.append(("frontier", lambda: plot.frontier_plot(result, level=level, boot=boot)))
    if split is not None and split_results is not None:
        draw.append(("backtest", lambda: plot.backtest_plot(split, split_results)))
    if boot is not None:
        draw.append(("bootstrap", lambda: plot.bootstrap_plot(boot, level)))
    folder = Path(directory)
    if folder.exists() and not folder.is_dir():
        raise DataError(f"{folder} is not a directory; pass a directory for the figures")
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, make in draw:
        try:
            fig = make()
        except ScaleLawError as exc:
            raise DataError(f"the {name} figure could not be drawn: {exc}") from exc
        buffer = io.BytesIO()
        fig.savefig(buffer, format=fmt, bbox_inches="tight")
        target = folder / f"{name}.{fmt}"
        write_bytes_atomic(target, buffer.getvalue())
        written.append(target)
    return written
