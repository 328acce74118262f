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
MAX_UPWARD_IMPORTS = 4  # the FitResult conveniences (solve joined for issue 19), each listed in ignore_imports
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


# ------------------------------------------------------------------------------------------ repeated code
#: At most this many blocks of ``DUPLICATE_LINES`` or more identical lines may stand twice in the package.
MAX_DUPLICATE_BLOCKS = 3
DUPLICATE_LINES = 6
_PUNCTUATION = frozenset("()[]{},:;")


def _code_lines(path: Path) -> list[tuple[int, str]]:
    """The lines of a module that count when looking for repeated code, as ``(line number, text)``.

    The rule: white space is folded (runs become one space, ends stripped); blank lines, comment-only lines,
    lines of lone punctuation (``)``, ``],``), every line of an import statement (``from x import (...)``
    over several lines included) and the parameter list of every ``def`` (from ``def`` to the line before
    its body) are passed over. A parameter list is API, not logic: functions that take the same options
    (``compute_optimal`` and ``compute_for_loss``, ``backtest`` and ``backtest_predictions``) list them
    alike on purpose, and one list serving both would hide the parameters behind ``**kwargs``. Docstrings
    count: a copied example is copied code.
    """
    source = path.read_text()
    skipped: set[int] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            skipped.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            skipped.update(range(node.lineno, node.body[0].lineno))
    out = []
    for number, line in enumerate(source.splitlines(), start=1):
        text = " ".join(line.split())
        if not text or text.startswith("#") or number in skipped or set(text) <= _PUNCTUATION:
            continue
        out.append((number, text))
    return out


def duplicate_blocks(
    paths: list[Path], root: Path = REPO, min_lines: int = DUPLICATE_LINES
) -> list[tuple[str, int, str, int, int]]:
    """Blocks of ``min_lines`` or more consecutive counted lines (:func:`_code_lines`) that stand identically
    in two places: ``(file, first line, other file, its first line, counted lines)``, one per maximal block.

    Every window of ``min_lines`` counted lines is hashed; two places sharing windows at the same offset in a
    row form one block. Overlapping places in one file (a line repeated over and over) do not count.
    """
    lines = {str(p.relative_to(root)): _code_lines(p) for p in paths}
    places: dict[int, list[tuple[str, int]]] = {}
    for name, rows in lines.items():
        for i in range(len(rows) - min_lines + 1):
            places.setdefault(hash(tuple(t for _, t in rows[i : i + min_lines])), []).append((name, i))
    runs: dict[tuple[str, str, int], list[int]] = {}  # (file a, file b, offset b - a) -> window starts in a
    for found in places.values():
        for k, (a, i) in enumerate(found):
            for b, j in found[k + 1 :]:
                if a == b and abs(i - j) < min_lines:
                    continue
                runs.setdefault((a, b, j - i), []).append(i)
    blocks = []
    for (a, b, offset), starts in runs.items():
        starts.sort()
        first = previous = starts[0]
        for i in [*starts[1:], None]:
            if i is not None and i == previous + 1:
                previous = i
                continue
            length = previous - first + min_lines
            blocks.append((a, lines[a][first][0], b, lines[b][first + offset][0], length))
            if i is not None:
                first = previous = i
    return sorted(blocks)


def test_the_package_repeats_itself_little():
    """Code that does the same thing lives in one place: at most MAX_DUPLICATE_BLOCKS blocks of 6+ identical
    lines (by :func:`_code_lines`' rule) stand twice in src/. A new one asks for one piece of code serving
    both places, unless the two only look alike."""
    blocks = duplicate_blocks(sorted(PACKAGE.rglob("*.py")))
    shown = "\n".join(f"{a}:{la} ~ {b}:{lb} ({n} lines)" for a, la, b, lb, n in blocks)
    assert len(blocks) <= MAX_DUPLICATE_BLOCKS, f"{len(blocks)} repeated blocks:\n{shown}"


def test_the_duplicate_check_finds_a_copied_block(tmp_path):
    body = "\n".join(f"    total = total + {k} * value  # step {k}" for k in range(7))
    first = tmp_path / "a.py"
    first.write_text(f"import os\n\n\ndef f(value):\n    total = 0\n{body}\n    return total\n")
    second = tmp_path / "b.py"
    second.write_text(f"from os import (\n    path,\n)\n\n\ndef g(value):\n    total = 1\n{body}\n    return total\n")
    # The 7 copied lines plus "return total" after them: one block of 8, found once; the imports and the
    # parameter lists ("def f(value):", "def g(value):") do not count.
    assert duplicate_blocks([first, second], root=tmp_path) == [("a.py", 6, "b.py", 8, 8)]
    third = tmp_path / "c.py"
    third.write_text("def f(\n" + "".join(f"    option_{k}: int = {k},\n" for k in range(8)) + "):\n    return 1\n")
    fourth = tmp_path / "d.py"
    fourth.write_text(third.read_text().replace("return 1", "return 2"))
    assert duplicate_blocks([third, fourth], root=tmp_path) == []
