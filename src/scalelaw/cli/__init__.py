"""The ``scalelaw`` command line: thin wrappers that parse, call the library and render with rich.

Exit codes: 0 ok, 2 bad input (one clear line on stderr), 1 other failure. ``common`` holds the typer app
and what every command shares (errors to exit codes, JSON, progress, option parsing, input loading),
``render`` the shared rich tables; the commands live in ``commands`` (the loss workflow and its tools),
``decide`` (decisions from a fit) and ``metrics`` (beyond final loss). This file registers every command,
in the order ``scalelaw --help`` lists them.
"""

from scalelaw.cli import commands, decide, metrics
from scalelaw.cli.common import app, datasets_app, main

datasets_app.command("list")(commands.datasets_list)
app.command()(commands.fit)
app.command()(commands.predict)
app.command()(decide.plan)
app.command()(decide.compare)
app.command("backtest")(commands.backtest_cmd)
app.command()(decide.suggest)
app.command()(decide.isoflop)
app.command("report")(commands.report_cmd)
app.command("laws")(commands.laws_list)
app.command()(commands.sweep)
app.command()(metrics.emergence)
app.command()(metrics.passk)
app.command()(metrics.mixture)
app.command()(metrics.observe)
app.command("chain")(metrics.chain_cmd)
app.command("fp-plan")(metrics.fp_plan)

__all__ = ["app", "main"]
