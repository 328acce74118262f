"""What the package ships: ``scalelaw laws`` (the catalog of laws) and ``scalelaw datasets list`` (the bundled
datasets). Registered on the app by :mod:`scalelaw.cli`.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from scalelaw.cli.common import out, print_json


def datasets_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """List the bundled datasets with their rows and license."""
    from scalelaw.data import datasets

    table = datasets.list()
    if as_json:
        print_json({"datasets": table.to_dict(orient="records")})
        return
    view = Table(title="Bundled datasets (use as DATA: dataset:NAME)", title_justify="left")
    for col in ("name", "rows", "license", "law", "description"):
        view.add_column(col, overflow="fold", no_wrap=col == "name")
    for row in table.itertuples(index=False):
        view.add_row(row.name, str(row.rows), row.license, row.law, row.description)
    out.print(view)


def laws_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """List the catalog laws with their inputs, parameters and formula."""
    from scalelaw.laws import get_law, list_laws

    rows = []
    for name in list_laws():
        law = get_law(name)
        rows.append(
            {"name": name, "inputs": list(law.inputs), "parameters": list(law.param_names), "formula": law.formula()}
        )
    if as_json:
        print_json({"laws": rows})
        return
    view = Table(title="Catalog laws (use with --law NAME)", title_justify="left")
    for col in ("name", "inputs", "parameters", "formula"):
        view.add_column(col, overflow="fold")
    for r in rows:
        view.add_row(r["name"], ", ".join(r["inputs"]), ", ".join(r["parameters"]), r["formula"])
    out.print(view)
