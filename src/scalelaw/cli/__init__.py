"""The ``scalelaw`` command line: thin wrappers that parse, call the library and render with rich.

Exit codes: 0 ok, 2 bad input (one clear line on stderr), 1 other failure. ``common`` holds the typer app
and what every command shares (errors to exit codes, JSON, progress, option parsing, input loading),
``render`` the shared rich tables. One module per group of commands:

- ``fit``: ``fit``, ``predict``
- ``check``: ``backtest``, ``report``
- ``decide``: ``plan``, ``compare``, ``suggest``, ``isoflop``, ``fp-plan``
- ``topics``: ``emergence``, ``passk``, ``mixture``, ``observe``, ``chain``
- ``catalog``: ``laws``, ``datasets list``
- ``sweep``: ``sweep``

This file registers every command, in the order ``scalelaw --help`` lists them.
"""

from scalelaw.cli import catalog, check, decide, fit, sweep, topics
from scalelaw.cli.common import app, datasets_app, main

datasets_app.command("list")(catalog.datasets_list)
app.command()(fit.fit)
app.command()(fit.predict)
app.command()(decide.plan)
app.command()(decide.compare)
app.command("backtest")(check.backtest_cmd)
app.command()(decide.suggest)
app.command()(decide.isoflop)
app.command("report")(check.report_cmd)
app.command("laws")(catalog.laws_list)
app.command()(sweep.sweep)
app.command()(topics.emergence)
app.command()(topics.passk)
app.command()(topics.mixture)
app.command()(topics.observe)
app.command("chain")(topics.chain_cmd)
app.command("fp-plan")(decide.fp_plan)

__all__ = ["app", "main"]
