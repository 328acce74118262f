"""The ``scalelaw`` command line: thin wrappers that parse, call the library and render with rich.

Exit codes: 0 ok, 2 bad input (one clear line on stderr), 1 other failure. ``common`` holds the typer app
and what every command shares (errors to exit codes, JSON, progress, option parsing, input loading),
``render`` the shared rich tables. One module per group of commands:

- ``fit``: ``fit``, ``predict``
- ``check``: ``backtest``, ``report``
- ``decide``: ``plan``, ``compare``, ``suggest``, ``isoflop``, ``fp-plan``
- ``axes``: ``solve``
- ``topics``: ``emergence``, ``passk``, ``mixture``, ``observe``, ``chain``
- ``trend``: ``trend``, ``mc``
- ``test_time``: ``verify``, ``allocate``
- ``hparams``: ``hparams``
- ``catalog``: ``laws``, ``datasets list``
- ``batch``: ``critical-batch``, ``lr-sensitivity``
- ``sweep``: ``sweep``
- ``data_axis``: ``prune``, ``pools``, ``repeats``

This file registers every command, in the order ``scalelaw --help`` lists them.
"""

from scalelaw.cli import axes, batch, catalog, check, data_axis, decide, fit, hparams, sweep, test_time, topics, trend
from scalelaw.cli.common import Command, app, datasets_app, main

datasets_app.command("list", cls=Command)(catalog.datasets_list)
app.command(cls=Command)(fit.fit)
app.command(cls=Command)(fit.predict)
app.command(cls=Command)(decide.plan)
app.command(cls=Command)(decide.compare)
app.command(cls=Command)(axes.solve)
app.command("backtest", cls=Command)(check.backtest_cmd)
app.command(cls=Command)(decide.suggest)
app.command(cls=Command)(decide.isoflop)
app.command("report", cls=Command)(check.report_cmd)
app.command("laws", cls=Command)(catalog.laws_list)
app.command(cls=Command)(sweep.sweep)
app.command(cls=Command)(topics.emergence)
app.command(cls=Command)(topics.passk)
app.command(cls=Command)(test_time.verify)
app.command(cls=Command)(test_time.allocate)
app.command(cls=Command)(topics.mixture)
app.command(cls=Command)(topics.observe)
app.command("chain", cls=Command)(topics.chain_cmd)
app.command(cls=Command)(trend.trend)
app.command(cls=Command)(trend.mc)
app.command("fp-plan", cls=Command)(decide.fp_plan)
data_axis.register(app)
batch.register(app)
app.command(cls=Command)(hparams.hparams)

__all__ = ["app", "main"]
