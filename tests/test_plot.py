"""Static figures: structure (axes, scales, labels, what is drawn, size), not pixels.

Pixel comparisons break with every matplotlib or FreeType release; what a reader needs is pinned here
instead: log axes with units, one data series per group, solid fits inside the data and dashed
extrapolations, bands when a bootstrap is given, a paper-column size and a colour-blind-safe palette.
"""

from __future__ import annotations

import re
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest

import scalelaw
from scalelaw.errors import DataError
from scalelaw.views import figures, plot

mpl = pytest.importorskip("matplotlib")
from matplotlib.collections import PathCollection, PolyCollection  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

DATASET = "dataset:gadre2024_rpj"


@pytest.fixture(scope="module")
def fit():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return scalelaw.fit("chinchilla", DATASET)


@pytest.fixture(scope="module")
def boot(fit):
    return fit.bootstrap(n=40, seed=0)


def _scatters(ax):
    return [c for c in ax.collections if isinstance(c, PathCollection)]


def _bands(ax):
    return [c for c in ax.collections if isinstance(c, PolyCollection)]


def _styles(ax):
    return [line.get_linestyle() for line in ax.get_lines() if len(line.get_xdata()) > 2]


def test_import_scalelaw_loads_no_plotting_library():
    code = (
        "import sys, scalelaw, scalelaw.views.plot, scalelaw.views.figures, scalelaw.views.report; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('matplotlib', 'plotly')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_fit_plot_against_compute(fit, boot):
    fig = plot.fit_plot(fit, boot=boot)
    assert isinstance(fig, Figure)
    assert tuple(fig.get_size_inches()) == (plot.COLUMN_WIDTH, pytest.approx(2.6))
    ax, bar = fig.axes  # the plot and the colour bar of model sizes
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert ax.get_xlabel() == "training compute C (FLOPs)"
    assert ax.get_ylabel() == "loss (nats/token)"
    assert bar.get_ylabel() == "model size N (parameters)"
    scatters = _scatters(ax)
    assert len(scatters) == 6  # one per model size
    assert sum(len(s.get_offsets()) for s in scatters) == fit.n_points
    # Five sizes with several runs get a solid curve; the frontier is solid in the data, dashed beyond.
    styles = _styles(ax)
    assert styles.count("-") == 5 + 1
    assert styles.count("--") == 1
    assert len(_bands(ax)) == 1  # the frontier's band
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "runs",
        "fit",
        "compute-optimal",
        "extrapolation",
        "90% interval",
    ]
    # The x axis reaches 10x the largest run's compute (extrapolate=10).
    assert ax.get_xlim()[1] >= 10 * fit.data.frame().eval("6 * params * tokens").max()


@pytest.mark.parametrize(
    ("x", "label", "n_groups"), [("params", "model size N (parameters)", 8), ("tokens", "training data D (tokens)", 6)]
)
def test_fit_plot_against_params_or_tokens_draws_one_curve_per_group(fit, x, label, n_groups):
    fig = plot.fit_plot(fit, x=x, extrapolate=5)
    ax = fig.axes[0]
    assert ax.get_xlabel() == label
    assert len(_scatters(ax)) == n_groups
    assert _styles(ax).count("--") == n_groups  # every group's curve continues past its data
    assert not _bands(ax)  # no bootstrap, no band


def test_fit_plot_of_a_one_input_law_with_checkpoints_colours_runs():
    rng = np.random.default_rng(1)
    rows = []
    for run, scale in enumerate((1.0, 3.0, 10.0)):
        for step in range(1, 9):
            flops = 1e17 * scale * step
            rows.append(
                {"run": f"r{run}", "flops": flops, "loss": (2.0 + 30 * flops**-0.08) * np.exp(rng.normal(0, 1e-3))}
            )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = scalelaw.fit("power", pd.DataFrame(rows))
    fig = plot.fit_plot(result, extrapolate=3)
    ax = fig.axes[0]
    assert len(fig.axes) == 1  # runs are categories: a legend, no colour bar
    assert len(_scatters(ax)) == 3
    colors = {tuple(np.round(s.get_facecolor()[0][:3], 3)) for s in _scatters(ax)}
    okabe = {tuple(np.round(mpl.colors.to_rgb(c), 3)) for c in plot.OKABE_ITO[:3]}
    assert colors == okabe
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[:3] == ["r0", "r1", "r2"]


def test_fit_plot_draws_into_given_axes(fit):
    from matplotlib.figure import Figure

    outer = Figure(figsize=(7, 3))
    left, right = outer.subplots(1, 2)
    assert plot.fit_plot(fit, ax=left, legend=False) is outer
    assert plot.residuals_plot(fit, ax=right) is outer
    assert left.get_legend() is None and left.get_xscale() == "log"


def test_fit_plot_rejects_an_axis_the_law_does_not_read(fit):
    with pytest.raises(DataError, match="not an input of law 'chinchilla'"):
        plot.fit_plot(fit, x="step")


def test_residuals_plot(fit):
    fig = plot.residuals_plot(fit)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "linear"
    assert "residual" in ax.get_ylabel() and "(%)" in ax.get_ylabel()
    points = np.concatenate([s.get_offsets()[:, 1] for s in _scatters(ax)])
    frame = figures.data_frame(fit)
    assert np.allclose(np.sort(points), np.sort(100 * frame["residual"].to_numpy()))
    low, high = ax.get_ylim()
    assert low == pytest.approx(-high)


def test_isoflop_plot_fits_a_parabola_per_budget():
    fig = plot.isoflop_plot("dataset:porian2024")
    ax, bar = fig.axes
    assert ax.get_xlabel() == "model size N (parameters)"
    assert bar.get_ylabel() == "compute budget C (FLOPs)"
    assert len(_scatters(ax)) == 12 + 1  # twelve budgets, then the minima (stars)
    view = figures.isoflop_view("dataset:porian2024")
    assert len(view.minima) == 12
    # The minima move to larger models as compute grows (Porian et al. 2024: N* ~ C^0.5).
    slope = np.polyfit(np.log(view.minima["flops"]), np.log(view.minima["x"]), 1)[0]
    assert 0.4 < slope < 0.65


def test_isoflop_plot_marks_given_minima():
    minima = scalelaw.datasets.load("porian2024_optimal")
    minima = minima[(minima["experiment"] == "Optimizer tuning (no decay)") & (minima["dataset"] == "rw")]
    fig = plot.isoflop_plot("dataset:porian2024", minima=minima)
    stars = _scatters(fig.axes[0])[-1]
    assert len(stars.get_offsets()) == len(minima)
    assert fig.axes[0].get_legend().get_texts()[0].get_text() == "given minimum"


def test_frontier_plot(fit, boot):
    fig = plot.frontier_plot(fit, boot=boot)
    ax = fig.axes[0]
    assert ax.get_xscale() == ax.get_yscale() == "log"
    assert ax.get_xlabel() == "training compute C (FLOPs)"
    assert len(_bands(ax)) == 2  # N* and D*
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0].startswith("$N^* \\propto C^{0.5")  # Chinchilla-like allocation on these runs
    with pytest.raises(DataError, match="frontier needs a law of parameters and tokens"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            plot.frontier_plot(scalelaw.fit("power", DATASET))


def test_backtest_plots():
    from scalelaw.trust.backtest import backtest, rolling_backtest, split_runs

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        split = split_runs(DATASET, "top:0.2:flops")
        fits = {name: scalelaw.fit(name, split.train) for name in ("chinchilla", "overtrain")}
        table = backtest(["chinchilla", "overtrain"], DATASET)
        rolling = rolling_backtest("chinchilla", DATASET, fractions=(0.1, 0.3))
    fig = plot.backtest_plot(split, fits)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "observed loss (nats/token)"
    assert ax.get_ylabel() == "predicted loss (nats/token)"
    assert len(_scatters(ax)) == 4  # training and held-out points of each law
    held_out = [s for s in _scatters(ax) if len(s.get_offsets()) == split.test.n_runs]
    assert len(held_out) == 2
    assert ax.get_xlim() == ax.get_ylim()
    bars = plot.backtest_plot(table).axes[0]
    assert [t.get_text() for t in bars.get_yticklabels()] == ["chinchilla", "overtrain"]
    assert len(bars.patches) == 2
    lines = plot.backtest_plot(rolling).axes[0]
    assert "decades" in lines.get_xlabel()
    with pytest.raises(DataError, match=r"pass the fits on split\.train"):
        plot.backtest_plot(split)


def test_compare_plot(fit):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        power = scalelaw.fit("power", DATASET)
    fig = plot.compare_plot({"chinchilla": fit, "power": power})
    top, bottom = fig.axes
    assert [t.get_text() for t in top.get_legend().get_texts()] == ["runs", "chinchilla", "power"]
    assert bottom.get_xlabel() == "training compute C (FLOPs)"
    assert len(_scatters(bottom)) == 2


def test_corner_and_correlation_plots(fit, boot):
    fig = plot.corner_plot(boot, params=["alpha", "beta", "E"])
    axes = np.array(fig.axes).reshape(3, 3)
    assert not axes[0, 1].axison and axes[1, 0].axison  # lower triangle only
    assert axes[0, 0].get_title().startswith("$\\alpha$ = 0.243")
    assert axes[2, 0].get_xlabel() == "$\\alpha$"
    assert len(_scatters(axes[1, 0])[0].get_offsets()) == boot.n
    corr = plot.correlation_plot(fit).axes[0]
    assert [t.get_text() for t in corr.get_xticklabels()] == ["E", "A", "B", "$\\alpha$", "$\\beta$"]
    assert corr.images[0].get_array().shape == (5, 5)
    with pytest.raises(DataError, match="unknown parameter"):
        plot.corner_plot(boot, params=["gamma"])


def test_bootstrap_histograms_keep_far_out_replicates_from_squeezing_the_rest(boot):
    import dataclasses

    samples = np.tile(boot.samples, (5, 1))  # 200 replicates, three of them with B a thousand times off
    j = list(boot.result.law.param_names).index("B")
    samples[:3, j] *= 1e3
    wild = dataclasses.replace(boot, samples=samples)
    bulk = samples[3:, j]
    hist = plot.bootstrap_plot(wild).axes[j]
    # Gadre's B has a far-out replicate of its own (tiled five times): at least the three set here lie beyond.
    assert hist.get_xscale() == "log" and int(re.search(r"(\d+) beyond", hist.get_xlabel()).group(1)) >= 3
    heights = hist.patches[0].get_path().vertices[:, 1]  # the filled stairs' outline
    assert hist.get_xlim()[1] < 10 * bulk.max() and (np.unique(heights) > 0).sum() >= 5
    corner = np.array(plot.corner_plot(wild, params=["B", "E"]).axes).reshape(2, 2)
    assert int(re.search(r"\((\d+) beyond\)", corner[0, 0].get_title()).group(1)) >= 3
    assert corner[0, 0].get_xlim()[1] < 10 * bulk.max() and corner[1, 0].get_xlim() == corner[0, 0].get_xlim()


def test_figures_save_as_png_and_pdf(fit, tmp_path):
    fig = plot.residuals_plot(fit)
    fig.savefig(tmp_path / "fit.png")
    fig.savefig(tmp_path / "fit.pdf")
    assert (tmp_path / "fit.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "fit.pdf").read_bytes()[:4] == b"%PDF"
    # Drawn at 200 dpi: a one-column figure is 700 px wide.
    from PIL import Image

    assert Image.open(tmp_path / "fit.png").size[0] == 700


def test_plotting_leaves_global_matplotlib_state_alone(fit):
    before = dict(mpl.rcParams)
    backend = mpl.get_backend()
    plot.fit_plot(fit)
    assert mpl.get_backend() == backend
    assert dict(mpl.rcParams) == before
    assert "matplotlib.pyplot" not in sys.modules or not __import__("matplotlib.pyplot").pyplot.get_fignums()


def test_format_si():
    assert figures.format_si(1.0569312e7) == "10.6M"
    assert figures.format_si(2.5e12) == "2.5T"
    assert figures.format_si(5.76e23, "flops") == "5.76e23"
