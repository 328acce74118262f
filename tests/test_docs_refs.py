"""Every section reference in the repository points at a section that exists, in a file of this repository.

Docstrings, comments, tests, benchmarks and docs cite the law catalog and the dataset oracles by section:
``laws.md`` followed by the section sign and ``3.2``. The rule this test enforces (written here without the
sign itself, so that this file is not one of the places it checks):

* A reference is a file name ending in ``.md`` (a path from the repository root, e.g. ``docs/laws.md``, or a
  bare name that exactly one file of the repository has, e.g. ``laws.md``), optionally in backticks or
  quotes, then the section sign and a section number (``3``, ``3.2``, ``15.11``; a range ``3.2-3.3`` names
  both ends).
* A section sign without a file name before it continues the most recent reference before it (``laws.md``
  7.3 and then 15.10): anywhere before it in the same file in code and comments; on the same line in a
  Markdown page, where a sign alone on its line names a section of that page.
* A section number exists when the file has a Markdown heading starting with it (``### 3.2 The
  compute-optimal ...``, ``## 15. Verification oracles``), outside fenced code. A page without numbered
  headings is cited by a heading's words instead (``benchmarks/README.md``, the sign, ``Fit speed``): the
  words up to the next ``)``, ``,``, ``.``, ``;``, ``:`` or backtick must begin a heading of that file.
* The sign is used for nothing else: a paper's own sections are written "sec. 4.3".
"""

from __future__ import annotations

import os
import re
import sys
from functools import cache
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SIGN = "\u00a7"
#: Where references are looked for.
SCANNED = ("src", "tests", "docs", "benchmarks", "examples", "README.md")
_SKIP_DIRS = {".git", "__pycache__", ".venv", "node_modules", "build", "dist", ".pytest_cache", ".ruff_cache"}
_NUMBER = r"\d+(?:\.\d+)*"
_SECTION = re.compile(
    rf"{SIGN}\s*(?:(?P<first>{_NUMBER})(?:\s*[-\u2013]\s*(?P<last>{_NUMBER}))?|(?P<words>[A-Za-z][^).,;:`\n]*))?"
)
_DOCUMENT = re.compile(r"(?P<doc>[\w./-]+\.md)[`'\"*]*,?\s*$")
_HEADING = re.compile(rf"^#{{1,6}}\s+(?P<number>{_NUMBER})\.?(\s|$)")


def _files(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    out = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d not in _SKIP_DIRS and not d.startswith(".")]
        out.extend(Path(folder) / n for n in names)
    return out


@cache
def _by_name() -> dict[str, list[Path]]:
    found: dict[str, list[Path]] = {}
    for path in _files(REPO):
        found.setdefault(path.name, []).append(path)
    return found


def _resolve(name: str) -> Path | str:
    """The file a reference names, or why it names none."""
    if "/" in name:
        path = (REPO / name).resolve()
        return path if path.is_file() and REPO in path.parents else f"{name} is not a file of this repository"
    matches = _by_name().get(name, [])
    if len(matches) != 1:
        where = ", ".join(str(m.relative_to(REPO)) for m in matches) or "no file"
        return f"{name} names {where}; say which file (a path from the repository root)"
    return matches[0]


@cache
def _headings(path: Path) -> tuple[str, ...]:
    """The Markdown headings of ``path`` (without the ``#``), outside fenced code."""
    found, fenced = [], False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced and re.match(r"#{1,6}\s", line):
            found.append(line.lstrip("#").strip())
    return tuple(found)


def _sections(path: Path) -> frozenset[str]:
    return frozenset(m["number"] for h in _headings(path) if (m := _HEADING.match(f"# {h}")))


def _has_section(path: Path, section: str) -> bool:
    if re.fullmatch(_NUMBER, section):
        return section in _sections(path)
    return any(h.startswith(section) for h in _headings(path))


def references(path: Path) -> list[tuple[int, str, list[str]]]:
    """``(line, document, section numbers)`` of every section sign in ``path``; the document is a repository
    path, or an error message that starts with "!"."""
    text = path.read_text(encoding="utf-8", errors="replace")
    page = str(path.relative_to(REPO)) if path.suffix == ".md" else None
    out: list[tuple[int, str, list[str]]] = []
    current, current_line = page, 0
    for m in _SECTION.finditer(text):
        line = text.count("\n", 0, m.start()) + 1
        if page is not None and line != current_line:
            current = page  # in a page, a reference carries over to the rest of its line only
        attached = _DOCUMENT.search(text, max(0, m.start() - 200), m.start())
        if attached is not None and attached.end() == m.start():
            target = _resolve(attached["doc"])
            document = str(target.relative_to(REPO)) if isinstance(target, Path) else "!" + target
            current, current_line = document, line
        elif current is not None:
            document = current
        else:
            document = "!a section sign with no document named before it (cite a paper's section as 'sec. 4.3')"
        if m["first"] is None and m["words"] is None:
            document = "!a section sign without a section number or heading"
        numbers = [n.strip() for n in (m["first"], m["last"], m["words"]) if n]
        out.append((line, document, numbers))
    return out


def _all_references() -> list[tuple[str, int, str, list[str]]]:
    found = []
    for root in SCANNED:
        for path in _files(REPO / root):
            try:
                text = path.read_text(encoding="utf-8")
            except (UnicodeDecodeError, OSError):
                continue
            if SIGN in text:
                found += [(str(path.relative_to(REPO)), *ref) for ref in references(path)]
    return found


def test_every_section_reference_resolves():
    refs = _all_references()
    faults = []
    for where, line, document, numbers in refs:
        if document.startswith("!"):
            faults.append(f"{where}:{line}: {document[1:]}")
            continue
        missing = [n for n in numbers if not _has_section(REPO / document, n)]
        if missing:
            faults.append(f"{where}:{line}: {document} has no section {', '.join(missing)}")
    assert not faults, f"{len(faults)} of {len(refs)} section references do not resolve:\n" + "\n".join(faults)
    # The catalog is cited throughout; a scan that finds few references has stopped reading them.
    assert len(refs) > 150, len(refs)


def test_the_rule_on_examples(tmp_path, monkeypatch):
    page = tmp_path / "docs" / "laws.md"
    page.parent.mkdir()
    page.write_text(
        "# Catalog\n\n## 3. A law\n\n### 3.2 Its optimum\n\n"
        f"See {SIGN}3.2 and {SIGN} Catalog.\n\n```\n# 4 not a heading\n```\n"
    )
    code = tmp_path / "mod.py"
    code.write_text(
        f'"""Formulas: ``laws.md`` {SIGN}3 and {SIGN}3.2; docs/laws.md {SIGN}3.2-4.\n\nPaper {SIGN}5."""\n'
        f"# shared/docs/laws.md {SIGN}3\n"
    )
    monkeypatch.setattr(sys.modules[__name__], "REPO", tmp_path)
    _by_name.cache_clear()
    try:
        assert references(page) == [(7, "docs/laws.md", ["3.2"]), (7, "docs/laws.md", ["Catalog"])]
        assert _sections(page) == {"3", "3.2"}
        assert _has_section(page, "Catalog") and not _has_section(page, "Appendix")
        refs = references(code)
    finally:
        _by_name.cache_clear()
    assert [r[1:] for r in refs[:4]] == [
        ("docs/laws.md", ["3"]),
        ("docs/laws.md", ["3.2"]),
        ("docs/laws.md", ["3.2", "4"]),
        ("docs/laws.md", ["5"]),  # continues the reference before it: the test then finds no section 5
    ]
    assert refs[4][1].startswith("!shared/docs/laws.md is not a file")
