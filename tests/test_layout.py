"""The house keeps its shape: the layer contracts in pyproject.toml hold, no module-level import cycle, no
private name crossing a subpackage, no module that shadows itself, short files, few top-level modules.

The layers (top to bottom): cli > views | sweep > decisions | topics > trust > fitting > data > laws >
_validation | _schema > errors | _version. ``lint-imports`` (import-linter) checks them and prints the
chain at fault; the rest is read here from the source with ``ast`` and ``grimp``.
"""

from __future__ import annotations

import ast
import importlib
import os
import pkgutil
import subprocess
import sys
import tomllib
import types
from pathlib import Path

import grimp
import pytest

from scalelaw.sweep import SweepExtraMissing

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"
PACKAGE = SRC / "scalelaw"
MAX_LINES = 1000
MAX_TOP_LEVEL_MODULES = 6  # public modules beside the subpackages (errors.py is one)
MAX_UPWARD_IMPORTS = 3  # the FitResult conveniences, each listed in the layer contract's ignore_imports
#: A command parses, calls the library and renders: longer than this, some of it belongs in the library.
MAX_CLI_FUNCTION_LINES = 60


def _modules() -> dict[str, Path]:
    """Every module of the package by dotted name (``scalelaw.fitting.fit``); packages by their ``__init__``."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _subpackage(module: str) -> str:
    """The first-level subpackage a module belongs to (``fitting``), or ``""`` for modules beside them."""
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and (PACKAGE / parts[1]).is_dir()) else ""


def _module_level_import_lines(path: Path) -> set[int]:
    """Lines of the imports a module runs when it is imported: its top-level statements, also inside
    ``try`` and ``if`` blocks, but not under ``if TYPE_CHECKING:`` and not inside functions or classes."""
    lines: set[int] = set()

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                lines.add(node.lineno)
            elif isinstance(node, ast.If):
                if "TYPE_CHECKING" not in ast.unparse(node.test):
                    visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                for block in (node.body, node.orelse, node.finalbody, *(h.body for h in node.handlers)):
                    visit(block)

    visit(ast.parse(path.read_text()).body)
    return lines


def _graph() -> grimp.ImportGraph:
    return grimp.build_graph("scalelaw", exclude_type_checking_imports=True, cache_dir=None)


def test_the_import_contracts_hold():
    """The layers and the one-home rules of pyproject.toml, checked by import-linter on this source tree."""
    lint = Path(sys.executable).with_name("lint-imports")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([str(lint), "--no-cache"], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "broken" not in proc.stdout.lower().split("contracts:")[-1].replace("0 broken", "")


def test_the_layer_contract_allows_few_upward_imports_and_only_inside_functions():
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]
    layers = [c for c in config["contracts"] if c["type"] == "layers"]
    assert len(layers) == 1
    ignored = layers[0].get("ignore_imports", [])
    assert len(ignored) <= MAX_UPWARD_IMPORTS, ignored
    graph, modules = _graph(), _modules()
    for expression in ignored:
        importer, imported = (part.strip() for part in expression.split("->"))
        assert "*" not in expression, f"{expression}: name the modules, no wildcards"
        details = graph.get_import_details(importer=importer, imported=imported)
        assert details, f"{expression} is listed in ignore_imports but the code has no such import"
        top = _module_level_import_lines(modules[importer])
        at_top = [d["line_number"] for d in details if d["line_number"] in top]
        assert not at_top, f"{expression} must stay inside the method (module level at lines {at_top})"


def test_no_module_level_import_cycle():
    """What runs at import time has no circle (imports inside functions may reach up for a convenience)."""
    graph, modules = _graph(), _modules()
    top = {name: _module_level_import_lines(path) for name, path in modules.items()}
    edges: dict[str, set[str]] = {name: set() for name in modules}
    for importer in modules:
        for imported in graph.find_modules_directly_imported_by(importer):
            if imported in modules and any(
                d["line_number"] in top[importer]
                for d in graph.get_import_details(importer=importer, imported=imported)
            ):
                edges[importer].add(imported)
    cycles = [c for c in _strongly_connected(edges) if len(c) > 1 or next(iter(c)) in edges[next(iter(c))]]
    assert not cycles, "module-level import cycles:\n" + "\n".join(" <-> ".join(sorted(c)) for c in cycles)


def _strongly_connected(edges: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's strongly connected components, iteratively (no recursion limit on long chains)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []
    counter = 0
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                components.append(component)
    return components


def _is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def test_no_private_name_crosses_a_subpackage():
    """What another subpackage needs is public in its home. The private modules beside the subpackages
    (``_validation``, ``_schema``, ``_version``) are the package's shared bottom and serve every subpackage."""
    modules = _modules()
    faults = []
    for importer, path in modules.items():
        home = _subpackage(importer)
        tree = ast.parse(path.read_text())
        aliases: dict[str, str] = {}  # local name -> scalelaw module it is bound to
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("scalelaw"):
                source = node.module
                for alias in node.names:
                    target = f"{source}.{alias.name}"
                    if target in modules:  # a submodule: its own subpackage decides
                        aliases[alias.asname or alias.name] = target
                        source_of_name = target
                    else:
                        source_of_name = source
                    if _subpackage(source_of_name) != home and _subpackage(source_of_name):
                        hidden = [p for p in source_of_name.split(".")[2:] if _is_private(p)]
                        if _is_private(alias.name) or hidden:
                            faults.append(f"{importer}:{node.lineno} from {source} import {alias.name}")
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("scalelaw") and alias.asname:
                        aliases[alias.asname] = alias.name
            elif (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in aliases
                and _is_private(node.attr)
                and _subpackage(aliases[node.value.id]) not in ("", home)
            ):
                faults.append(f"{importer}:{node.lineno} {node.value.id}.{node.attr}")
    assert not faults, "private names used across subpackages:\n" + "\n".join(faults)


def test_every_package_attribute_named_like_a_submodule_is_that_module():
    """No function hides its module: ``scalelaw.fitting.fit`` and ``scalelaw.trust.backtest`` are modules."""
    hidden = []
    for name, path in _modules().items():
        if path.name != "__init__.py":
            continue
        package = importlib.import_module(name)
        for info in pkgutil.iter_modules(package.__path__):
            if info.name == "__main__":  # importing it runs the command line
                continue
            try:
                module = importlib.import_module(f"{name}.{info.name}")
            except SweepExtraMissing:  # the sweep's torch modules without the [sweep] extra
                continue
            attribute = getattr(package, info.name)
            if not isinstance(attribute, types.ModuleType) or attribute is not module:
                hidden.append(f"{name}.{info.name} is {attribute!r}")
    assert not hidden, "\n".join(hidden)


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_source_file_is_over_1000_lines(path):
    assert len(path.read_text().splitlines()) <= MAX_LINES


def test_few_public_modules_stand_beside_the_subpackages():
    public = sorted(p.name for p in PACKAGE.glob("*.py") if not p.name.startswith("_"))
    assert len(public) <= MAX_TOP_LEVEL_MODULES, public


def test_command_line_functions_are_short():
    """Every function in cli/ counts at most MAX_CLI_FUNCTION_LINES lines from its ``def`` to its end, leaving out
    the parameter declarations (typer's options with their help text) but counting nested functions."""
    long, paths = [], sorted((PACKAGE / "cli").glob("*.py"))
    assert len(paths) > 3, paths
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = 1 + node.end_lineno - node.body[0].lineno + 1  # the def line, then the body
                if lines > MAX_CLI_FUNCTION_LINES:
                    long.append(f"cli/{path.name}:{node.lineno} {node.name}: {lines} lines")
    assert not long, "\n".join(long)
