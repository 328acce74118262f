"""The documentation site builds with ``mkdocs build --strict``: no warning, every page, the API reference.

mkdocs-material and mkdocstrings come with the dev extra; without them the build is skipped, never faked.
One build (about 10 s) serves every check of this file.
"""

from __future__ import annotations

import importlib.util
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import scalelaw

ROOT = Path(__file__).resolve().parents[1]
_NEEDED = ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers")


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    missing = [m for m in _NEEDED if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"the docs site needs the dev extra (mkdocs-material, mkdocstrings[python]); missing {missing}")
    out = tmp_path_factory.mktemp("site")
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("WARNING")]
    assert not warnings, warnings
    return out


def _html(site: Path) -> dict[str, str]:
    return {p.relative_to(site).as_posix(): p.read_text(encoding="utf-8") for p in site.rglob("*.html")}


def test_site_builds_strict_with_every_page_in_its_menu(site):
    """Each page is built and listed in the menu; one the nav of mkdocs.yml leaves out joins the user guide."""
    home = (site / "index.html").read_text(encoding="utf-8")
    links = set(re.findall(r'<a href="([^"]+)" class="md-nav__link', home))
    for page in (ROOT / "docs").rglob("*.md"):
        rel = page.relative_to(ROOT / "docs").with_suffix("")
        url = (rel.parent if rel.name == "index" else rel).as_posix()
        assert (site / url / "index.html").is_file(), page
        assert url == "." or f"{url}/" in links, f"{page.name} is not in the site's menu"
    assert (site / "search" / "search_index.json").is_file()


def test_api_reference_documents_the_package_face(site):
    """Every class and function ``scalelaw`` exports has its own entry, under the module that defines it."""
    html = "\n".join(_html(site).values())
    ids = set(re.findall(r'\bid="(scalelaw(?:\.\w+)+)"', html))
    for name in scalelaw.__all__:
        obj = getattr(scalelaw, name)
        if inspect.ismodule(obj):
            assert obj.__name__ in ids, name
        elif inspect.isclass(obj) or inspect.isfunction(obj):
            assert f"{obj.__module__}.{obj.__qualname__}" in ids, name
    for package in ("data", "laws", "fitting", "trust", "decisions", "topics", "views", "sweep"):
        assert any(i.startswith(f"scalelaw.{package}.") for i in ids), package


def test_api_reference_covers_every_public_module(site):
    """Each module outside the CLI has its entry: a new module shows up here, or this says where to add it."""
    ids = set(re.findall(r'\bid="(scalelaw(?:\.\w+)*)"', "\n".join(_html(site).values())))
    src = ROOT / "src"
    for path in sorted((src / "scalelaw").rglob("*.py")):
        parts = path.relative_to(src).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if any(p.startswith("_") for p in parts) or parts[1:2] == ("cli",):
            continue
        assert ".".join(parts) in ids, f"{'.'.join(parts)}: list it in docs/api/{'.'.join(parts[:2])}.md"


def test_docstrings_render_as_markdown(site):
    """Sphinx roles become links or code, and doctests code blocks, not ':func:' text or nested blockquotes."""
    pages = {k: v for k, v in _html(site).items() if k.startswith("api/")}
    text = "\n".join(pages.values())
    assert not re.search(r":(?:class|func|mod|attr|meth|data|exc|obj):<code>", text)
    assert "<blockquote>" not in text
    link = re.search(
        r'<a class="autorefs autorefs-internal"[^>]*href="([^"]*#scalelaw\.fitting\.result\.FitResult)"', text
    )
    assert link, "no docstring role links to FitResult"
    # A doctest outside an Examples section (the package docstring's) is highlighted Python console code.
    assert '<span class="gp">&gt;&gt;&gt; </span>' in pages["api/scalelaw/index.html"]
