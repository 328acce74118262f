"""mkdocs hook: the docstrings' Sphinx roles (``:func:`scalelaw.fit```) become links in the API reference.

mkdocstrings renders a role as plain text before a code span (``:func:<code>scalelaw.fit</code>``). Every
heading of the API reference carries its object's full path as its id, so once all pages are rendered a
role's target is looked up: as written; through the lazy package faces (``scalelaw.fit`` is
``scalelaw.fitting.fit.fit``, read from each ``attach(__name__, {...})`` call); or, for a short name such as
``FitResult.predict``, by the one documented path that ends with it. Found targets become autorefs links;
the others lose the role prefix and stay code. Only the site changes: the docstrings keep their roles.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

ROLE = re.compile(
    r":(?:class|func|mod|attr|meth|data|exc|obj):<code>(?P<tilde>~?)(?P<name>[^<&]+?)(?P<call>\(\))?"
    r"(?:\s+&lt;(?P<target>[\w.]+)&gt;)?</code>"  # Sphinx's explicit title: :meth:`title <target>`
)
ANCHOR = re.compile(r'\bid="(scalelaw(?:\.\w+)+)"')
_documented: set[str] = set()
_faces: dict[str, str] = {}


def _lazy_faces(src: Path) -> dict[str, str]:
    """``package.name`` -> ``package.module.name`` for every name a package face loads lazily."""
    faces = {}
    for init in src.glob("scalelaw/**/__init__.py"):
        package = ".".join(init.parent.relative_to(src).parts)
        for node in ast.walk(ast.parse(init.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "attach" and len(node.args) == 2:
                table = ast.literal_eval(node.args[1])
                for module, names in table.items():
                    for name in names:
                        faces[f"{package}.{name}"] = f"{package}.{module}.{name}"
    return faces


def _target(name: str) -> str | None:
    if name in _documented:
        return name
    parts = name.split(".")
    for cut in range(len(parts), 1, -1):  # the longest face prefix: scalelaw.FitResult + .predict
        prefix = ".".join(parts[:cut])
        if prefix in _faces and (full := ".".join([_faces[prefix], *parts[cut:]])) in _documented:
            return full
    short = name.removeprefix("scalelaw.")
    ends = [path for path in _documented if path.endswith("." + short)]
    return ends[0] if len(ends) == 1 else None


def _link(match: re.Match[str]) -> str:
    name = match["name"]
    shown = (name.rsplit(".", 1)[-1] if match["tilde"] else name) + (match["call"] or "")
    target = _target(match["target"] or name)
    if target is None:
        return f"<code>{shown}</code>"
    return f'<autoref identifier="{target}" optional><code>{shown}</code></autoref>'


def on_config(config: Any, **kwargs: Any) -> Any:
    _documented.clear()
    _faces.clear()
    _faces.update(_lazy_faces(Path(config.config_file_path).parent / "src"))
    return config


def on_page_content(html: str, page: Any, **kwargs: Any) -> str:
    _documented.update(ANCHOR.findall(html))
    return html


def on_env(env: Any, config: Any, files: Any, **kwargs: Any) -> Any:
    # Runs before autorefs' own on_env (priority -50), which turns the autoref tags into links.
    for file in files:
        if file.page is not None and file.page.content:
            file.page.content = ROLE.sub(_link, file.page.content)
    return env
