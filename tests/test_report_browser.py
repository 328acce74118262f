"""The HTML report in a real browser: headless Chromium opens the file and we inspect what it rendered.

Chromium is driven over the DevTools protocol through ``--remote-debugging-pipe`` (file descriptors 3
and 4, NUL-separated JSON): no port, no websocket library, nothing to install but Debian's ``chromium``.
The protocol, unlike ``--dump-dom`` or scraping ``--enable-logging`` output, reports console errors,
uncaught exceptions and failed loads as structured events, lists every network request, evaluates
JavaScript in the page (plotly's own trace data, simulated hover) and takes a full-page screenshot.

The screenshot is saved to ``tests/artifacts/report.png`` (or ``$SCALELAW_ARTIFACTS``) for a person to look at.
Without a ``chromium`` binary the tests skip and say so; CI installs it (see ``.ci/run``).
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = next((p for p in (shutil.which(n) for n in ("chromium", "chromium-browser")) if p), None)
ARTIFACTS = Path(os.environ.get("SCALELAW_ARTIFACTS", Path(__file__).parent / "artifacts"))
DATASET = "dataset:gadre2024_rpj"
N_BOOT = 100

ON_CI = bool(os.environ.get("CI"))

# Skip on a developer machine without Chromium; on CI a missing browser is a failure (see test_browser_on_ci).
pytestmark = pytest.mark.skipif(
    CHROMIUM is None and not ON_CI,
    reason="no chromium binary on PATH: install Debian's 'chromium' (apt-get install -y chromium) to run the "
    "browser tests of the HTML report; CI installs it in .ci/run",
)

# Flags for a closed network and a root user (see the machine notes): no sandbox, no background traffic.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--hide-scrollbars",
    "--mute-audio",
    "--remote-debugging-pipe",
]


_TRAMPOLINE = (
    "import os, sys; os.dup2(int(sys.argv[1]), 3); os.dup2(int(sys.argv[2]), 4); os.execv(sys.argv[3], sys.argv[3:])"
)


def _high_fd(fd: int) -> int:
    high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return high


class Browser:
    """Just enough of the DevTools protocol: commands on one page session, events collected as they come."""

    def __init__(self, binary: str, profile: Path, timeout: float = 60.0) -> None:
        self.timeout = timeout
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()
        # Chromium reads commands on fd 3 and writes replies on fd 4. A tiny Python trampoline puts the pipes
        # there (dash cannot redirect fds above 9); moving them above 9 first rules out overlaps.
        to_chrome_r, from_chrome_w = (_high_fd(fd) for fd in (to_chrome_r, from_chrome_w))
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                _TRAMPOLINE,
                str(to_chrome_r),
                str(from_chrome_w),
                binary,
                *FLAGS,
                f"--user-data-dir={profile}",
                "about:blank",
            ],
            pass_fds=(to_chrome_r, from_chrome_w),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._next_id = 0
        self._replies: dict[int, dict] = {}
        self._inbox: queue.Queue = queue.Queue()
        self.events: list[dict] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.session: str | None = None

    def _read(self) -> None:
        buffer = b""
        with os.fdopen(self._from_chrome, "rb", buffering=0) as stream:
            while chunk := stream.read(1 << 16):
                buffer += chunk
                *messages, buffer = buffer.split(b"\0")
                for message in messages:
                    self._inbox.put(json.loads(message))
        self._inbox.put(None)

    def _pump(self, deadline: float) -> None:
        try:
            message = self._inbox.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            return
        if message is None:
            raise RuntimeError("chromium closed the DevTools pipe (it exited)")
        if "id" in message:
            self._replies[message["id"]] = message
        else:
            self.events.append(message)

    def send(self, method: str, params: dict | None = None, session: bool = True) -> dict:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session and self.session:
            message["sessionId"] = self.session
        os.write(self._to_chrome, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while self._next_id not in self._replies:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no reply to {method} within {self.timeout} s")
            self._pump(deadline)
        reply = self._replies.pop(self._next_id)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    def wait_event(self, method: str) -> dict:
        deadline = time.monotonic() + self.timeout
        seen = 0
        while True:
            for event in self.events[seen:]:
                if event["method"] == method:
                    return event
            seen = len(self.events)
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {method} event within {self.timeout} s")
            self._pump(deadline)

    def open_page(self, width: int = 1280, height: int = 900) -> None:
        target = self.send("Target.createTarget", {"url": "about:blank"}, session=False)["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True}, session=False)[
            "sessionId"
        ]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable")
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )

    def navigate(self, url: str) -> None:
        self.events.clear()
        self.send("Page.navigate", {"url": url})
        self.wait_event("Page.loadEventFired")

    def evaluate(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in result:
            raise RuntimeError(f"page script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_until(self, expression: str, timeout: float = 30.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.1)
        raise TimeoutError(f"page never satisfied: {expression}")

    def screenshot(self, path: Path) -> None:
        size = self.send("Page.getLayoutMetrics")["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
        data = self.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": clip})
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data["data"]))

    def problems(self) -> list[str]:
        """Console errors, uncaught exceptions and error log entries (failed loads, CSP, ...), as text."""
        out = []
        for event in self.events:
            method, params = event["method"], event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                out.append(
                    "console.error: " + " ".join(str(a.get("value", a.get("description"))) for a in params["args"])
                )
            elif method == "Runtime.exceptionThrown":
                details = params["exceptionDetails"]
                out.append(f"exception: {details.get('exception', {}).get('description', details.get('text'))}")
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                out.append(f"log error: {params['entry']['text']} ({params['entry'].get('url', '')})")
        return out

    def requests(self) -> list[str]:
        return [e["params"]["request"]["url"] for e in self.events if e["method"] == "Network.requestWillBeSent"]

    def close(self) -> None:
        try:
            self.send("Browser.close", session=False)
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_chrome)


# --------------------------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """A report of Chinchilla's law on the Gadre et al. RedPajama runs, as the CLI builds it."""
    import scalelaw
    from scalelaw.trust.backtest import backtest, split_runs
    from scalelaw.views.report import write_report

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        runs = scalelaw.load_runs(DATASET)
        result = scalelaw.fit("chinchilla", runs)
        boot = result.bootstrap(n=N_BOOT, seed=0)
        split = split_runs(runs, "top:0.2:flops")
        table = backtest("chinchilla", runs, holdout="top:0.2:flops")
        train_fit = scalelaw.fit("chinchilla", split.train)
        path = tmp_path_factory.mktemp("report") / "report.html"
        command = f"scalelaw report {DATASET} --law chinchilla --out report.html --n-boot {N_BOOT}"
        write_report(
            path, result, runs, table, [1e21, 1e22, 5.76e23], command, boot=boot, split=split, split_results=train_fit
        )
    from scalelaw.decisions.plan import compute_optimal

    plan_table = compute_optimal(result, [1e21, 1e22, 5.76e23]).table
    return {"path": path, "result": result, "boot": boot, "split": split, "train_fit": train_fit,
            "plan_table": plan_table}  # fmt: skip


@pytest.fixture(scope="module")
def page(report, tmp_path_factory):
    """The report opened in headless Chromium, its checks evaluated once; the browser is closed afterwards."""
    if CHROMIUM is None:
        pytest.fail("CI must run the browser tests: .ci/run installs Debian's chromium when it is missing")
    browser = Browser(CHROMIUM, tmp_path_factory.mktemp("chromium-profile"))
    try:
        browser.open_page()
        started = time.monotonic()
        browser.navigate(report["path"].as_uri())
        browser.wait_until(
            "Array.from(document.querySelectorAll('.js-plotly-plot'))"
            ".every(gd => gd.querySelector('.main-svg') && gd._fullLayout)"
        )
        load_seconds = time.monotonic() - started
        state = browser.evaluate(_STATE_JS)
        hover = browser.evaluate(_HOVER_JS)
        shot = ARTIFACTS / "report.png"
        browser.screenshot(shot)
        report_problems, report_requests = browser.problems(), browser.requests()
        # Control: the same checks on a page that does fail, so a silent detector cannot pass the tests above.
        control = report["path"].parent / "control.html"
        control.write_text(_CONTROL_PAGE)
        browser.navigate(control.as_uri())
        time.sleep(0.5)
        control_problems, control_requests = browser.problems(), browser.requests()
        yield {
            "state": state,
            "hover": hover,
            "problems": report_problems,
            "requests": report_requests,
            "control_problems": control_problems,
            "control_requests": control_requests,
            "screenshot": shot,
            "load_seconds": load_seconds,
        }
    finally:
        browser.close()


_CONTROL_PAGE = """<!DOCTYPE html><html><head><script src="http://127.0.0.1:9/missing.js"></script></head>
<body><script>console.error("control error"); undefinedFunction();</script></body></html>"""

# Per figure: plotly's trace count, rendered trace groups in the SVG, non-empty SVGs and data points drawn.
_STATE_JS = """
(() => {
  const figures = {};
  for (const gd of document.querySelectorAll('.js-plotly-plot')) {
    const svgs = Array.from(gd.querySelectorAll('svg.main-svg'));
    const box = gd.getBoundingClientRect();
    figures[gd.id] = {
      declared: Number(gd.closest('.figure').dataset.traces),
      data: gd.data.length,
      rendered: gd.querySelectorAll('.cartesianlayer .trace').length,
      svgs: svgs.length,
      nonEmptySvgs: svgs.filter(s => s.getBoundingClientRect().width > 100 && s.childElementCount > 0).length,
      points: gd.querySelectorAll('.scatterlayer .point').length,
      bars: gd.querySelectorAll('.barlayer .point').length,
      width: box.width, height: box.height,
      xTitle: (gd.querySelector('.xtitle') || {}).textContent || '',
      yTitle: (gd.querySelector('.ytitle') || {}).textContent || '',
    };
  }
  const cells = id => Array.from(document.querySelectorAll(`#${id} tbody tr`)).map(
      tr => Array.from(tr.children).map(td => td.textContent.trim()));
  const text = id => (document.getElementById(id) || {}).textContent || '';
  // The bootstrap histograms: non-empty bars and the axis type of each parameter's subplot.
  const hist = document.getElementById('fig-bootstrap');
  const histograms = hist ? hist._fullData.map((t, k) => ({  // _fullData: the decoded arrays plotly drew
      nonEmpty: Array.from(t.y).filter(v => v > 0).length,
      axis: hist._fullLayout[k === 0 ? 'xaxis' : `xaxis${k + 1}`].type})) : [];
  return {figures, histograms, influence: cells('influence-table'), influenceText: text('influence'),
          params: cells('params-table'), plan: cells('plan-table'), backtest: cells('backtest-table'),
          trustParts: cells('trust-parts-table'), choice: cells('law-choice-table'),
          reach1: text('reach-1pct'), reach2: text('reach-2pct'), kind: text('interval-kind'),
          command: (document.getElementById('command') || {}).textContent || '',
          version: (document.querySelector('meta[name=generator]') || {}).content || '',
          title: document.title};
})()
"""

# Hover the first point of the first trace of the fit figure as a mouse would, read the label plotly draws.
_HOVER_JS = """
(() => {
  const gd = document.getElementById('fig-fit');
  Plotly.Fx.hover(gd, [{curveNumber: 0, pointNumber: 0}]);
  const label = gd.querySelector('.hoverlayer .hovertext');
  return {text: label ? label.textContent : '', run: gd.data[0].hovertext[0]};
})()
"""


# --------------------------------------------------------------------------------------------------- tests
def test_page_has_no_console_errors_and_loads_nothing_from_the_network(page, report):
    assert page["problems"] == []
    # The only request is the file itself: plotly.js is inline, no fonts, images or scripts are fetched.
    # (plotly.js 2 decodes a data: image to test for WebP support; data: URIs never touch the network.)
    assert [url for url in page["requests"] if not url.startswith("data:")] == [report["path"].as_uri()]


def test_error_detection_works_on_a_failing_page(page):
    problems = " | ".join(page["control_problems"])
    assert "console.error: control error" in problems
    assert "undefinedFunction is not defined" in problems
    assert "Failed to load resource" in problems
    assert "http://127.0.0.1:9/missing.js" in page["control_requests"]


def test_every_plot_rendered_with_its_traces(page, report):
    from scalelaw.views import figures

    found = page["state"]["figures"]
    assert set(found) == {
        "fig-fit",
        "fig-residuals",
        "fig-influence",
        "fig-trust",
        "fig-frontier",
        "fig-backtest",
        "fig-bootstrap",
    }
    for name, fig in found.items():
        assert fig["svgs"] >= 1 and fig["nonEmptySvgs"] >= 1, name
        assert fig["width"] > 400 and fig["height"] > 200, name
        assert fig["data"] == fig["declared"] == fig["rendered"], (name, fig)
    # Expected from the data, independently of the plotting code: one marker trace per model size, one
    # curve per size with two or more runs, the frontier inside the data and extrapolated, and its band.
    view = figures.fit_view(report["result"], boot=report["boot"])
    n_sizes = len(view.groups)
    n_curves = sum(len(g.rows) > 1 for g in view.groups)
    assert n_sizes == 6
    assert found["fig-fit"]["data"] == n_sizes + n_curves + 2 + 1
    assert found["fig-fit"]["points"] == report["result"].n_points
    assert found["fig-residuals"]["points"] == report["result"].n_points
    assert found["fig-bootstrap"]["data"] == len(report["result"].values)
    assert found["fig-bootstrap"]["bars"] > 0
    # Every parameter's histogram spreads its replicates over several bars (a robust range, log for amplitudes).
    histograms = page["state"]["histograms"]
    assert len(histograms) == len(report["result"].values) and all(h["nonEmpty"] >= 5 for h in histograms)
    assert {h["axis"] for h in histograms} <= {"linear", "log"}
    # One marker per run in the influence figure (runs on the law, and those off it).
    assert found["fig-influence"]["points"] == report["result"].n_runs
    # Every rolling-backtest point, and a cross per prediction (the largest run and the three budgets).
    model = report["result"].extrapolation_error()
    assert found["fig-trust"]["points"] == len(model.to_frame()) + 1 + 3
    assert found["fig-trust"]["xTitle"] == "decades beyond the training data along compute"
    assert found["fig-fit"]["xTitle"] == "training compute C (FLOPs)"
    assert found["fig-fit"]["yTitle"] == "loss (nats/token)"


def test_influence_section_as_rendered(page, report):
    from scalelaw.trust.influence import influence, off_law

    result = report["result"]
    plan = report["plan_table"]
    target = {"params": plan["params_opt"].iloc[-1], "tokens": plan["tokens_opt"].iloc[-1]}
    table = off_law(result, influence(result, target))
    rows = page["state"]["influence"]
    flagged = list(table.loc[table["off_law"], "run"])
    assert flagged and [row[0] for row in rows[: len(flagged)]] == flagged  # Gadre RPJ: row 9's run at least
    assert all(row[-1].startswith("off the law") for row in rows[: len(flagged)])
    leverage = set(table.loc[table["flagged"], "run"])
    assert {row[0] for row in rows if "high leverage" in row[-1]} == leverage & {row[0] for row in rows}
    assert rows[0][5] == f"{table['shift'].iloc[0]:+.2%}"
    assert f"{len(flagged)} run(s) off the law." in page["state"]["influenceText"]


def test_hover_shows_the_run_and_its_values(page, report):
    text = page["hover"]["text"]
    frame = report["result"].data.frame()
    first_size = frame.loc[frame["params"] == frame["params"].min()].sort_values("tokens").iloc[0]
    assert first_size["run"] in text
    assert f"{first_size['loss']:.4f}" in text
    assert "fitted" in text


def test_tables_show_the_fitted_values_and_intervals(page, report):
    from scalelaw.views.report.build import num

    state = page["state"]
    result, boot = report["result"], report["boot"]
    params = {row[0]: row for row in state["params"]}
    assert list(params) == list(result.law.param_names)
    intervals = boot.interval(0.9).set_index("quantity")
    for name, value in result.params.items():
        assert params[name][1] == num(value, 5)
        assert params[name][3] == f"[{num(intervals.loc[name, 'low'])}, {num(intervals.loc[name, 'high'])}]"
    assert [row[0] for row in state["plan"]] == ["1e21", "1e22", "5.76e23"]
    assert state["backtest"][0][0] == "chinchilla"
    assert state["command"].startswith("scalelaw report dataset:gadre2024_rpj --law chinchilla")
    assert state["version"].startswith("scalelaw ")


def test_trust_verdict_and_parts_as_rendered(page, report):
    state, model = page["state"], report["result"].extrapolation_error()
    assert state["reach1"] == f"{model.reach(0.01):.2f} decades"
    assert state["reach2"] == f"{model.reach(0.02):.2f} decades"
    assert state["kind"].startswith("This report shows total intervals")
    assert [row[0] for row in state["trustParts"]][1:] == ["plan: C = 1e21 FLOPs", "plan: C = 1e22 FLOPs",
                                                         "plan: C = 5.76e23 FLOPs"]  # fmt: skip
    assert state["choice"] == []  # one law: no candidates table


@pytest.fixture(scope="module")
def auto_page(tmp_path_factory):
    """A report of a law="auto" fit, opened in headless Chromium."""
    import scalelaw
    from scalelaw.views.report import write_report

    if CHROMIUM is None:
        pytest.fail("CI must run the browser tests: .ci/run installs Debian's chromium when it is missing")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = scalelaw.fit("auto", DATASET)
        path = write_report(tmp_path_factory.mktemp("auto") / "auto.html", result, n_boot=30)
    browser = Browser(CHROMIUM, tmp_path_factory.mktemp("chromium-profile-auto"))
    try:
        browser.open_page()
        browser.navigate(path.as_uri())
        browser.wait_until(
            "Array.from(document.querySelectorAll('.js-plotly-plot'))"
            ".every(gd => gd.querySelector('.main-svg') && gd._fullLayout)"
        )
        yield {"result": result, "state": browser.evaluate(_STATE_JS), "problems": browser.problems()}
    finally:
        browser.close()


def test_auto_report_renders_the_choice_without_errors(auto_page):
    assert auto_page["problems"] == []
    choice = auto_page["result"].law_choice.to_frame()
    rows = auto_page["state"]["choice"]
    assert [row[0].removesuffix(" (chosen)") for row in rows] == list(choice["law"])
    assert sum(row[0].endswith(" (chosen)") for row in rows) == 1
    assert auto_page["state"]["figures"]["fig-trust"]["points"] > 0


def test_screenshot_is_saved(page):
    shot = page["screenshot"]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 50_000  # a blank page would be a few kB
    print(f"\nreport screenshot: {shot} (page loaded and plotted in {page['load_seconds']:.1f} s)")
