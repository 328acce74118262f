"""Griffe extension: doctests outside an Examples section render as code in the API reference.

Markdown reads a bare ``>>> x`` line as a triple blockquote. Griffe's numpy parser turns doctests into code
only inside an ``Examples`` section, so every other doctest block (from a ``>>>`` line to the next blank
line) is fenced as ``pycon`` here. Only the site changes: the docstrings, and the doctests pytest runs, stay
as written.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_UNDERLINE = re.compile(r"^\s*-{3,}\s*$")


def fence_doctests(text: str) -> str:
    """Fence each doctest block of ``text`` that lies outside an ``Examples`` section."""
    lines = text.splitlines()
    out: list[str] = []
    in_examples = False
    i = 0
    while i < len(lines):
        line = lines[i]
        if i + 1 < len(lines) and _UNDERLINE.match(lines[i + 1]) and line.strip():
            in_examples = line.strip() == "Examples"
        if in_examples or not line.lstrip().startswith(">>>"):
            out.append(line)
            i += 1
            continue
        indent = line[: len(line) - len(line.lstrip())]
        end = i
        while end < len(lines) and lines[end].strip():
            end += 1
        if out and out[-1].strip():
            out.append("")
        out += [f"{indent}```pycon", *lines[i:end], f"{indent}```"]
        i = end
    return "\n".join(out)


class DoctestFences(griffe.Extension):
    """Fence doctests outside Examples sections before the docstrings are parsed."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None and ">>>" in obj.docstring.value:
            obj.docstring.value = fence_doctests(obj.docstring.value)
