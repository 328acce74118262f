"""The README's set-up commands, Python examples and CLI examples really run."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
TEXT = README.read_text()
DOCS = sorted((README.parent / "docs").glob("*.md"))


def blocks(lang: str, text: str = TEXT) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```", text, flags=re.S | re.M)


def test_readme_opens_with_exactly_two_setup_commands():
    head = TEXT.split("## ", 1)[0]
    setup = re.findall(r"^```bash\n(.*?)^```", head, flags=re.S | re.M)
    assert len(setup) == 2
    assert all(len(b.strip().splitlines()) == 1 for b in setup)
    assert "scalelaw report dataset:" in setup[0]
    assert "pytest" in setup[1]


def test_ci_runs_the_readme_test_command():
    ci = (README.parent / ".ci" / "run").read_text()
    assert "n==2" in ci and 'eval "$test_command"' in ci


@pytest.mark.parametrize("index", range(len(blocks("python"))))
def test_python_examples_run(index, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = blocks("python")[index]
    exec(compile(code, f"README python block {index}", "exec"), {})


@pytest.mark.parametrize("doc", DOCS, ids=[d.name for d in DOCS])
def test_docs_run_top_to_bottom(doc, tmp_path, monkeypatch):
    """Each page in docs/ is one script: every block builds on the ones before it."""
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for index, code in enumerate(blocks("python", doc.read_text())):
        exec(compile(code, f"{doc.name} block {index}", "exec"), namespace)


def test_cli_examples_run(tmp_path):
    """Every ``$ scalelaw`` line of the README runs as written from the repository root: from a copy of
    ``examples/`` (the shipped ``runs.csv``), so nothing is written into the repository."""
    shutil.copytree(README.parent / "examples", tmp_path / "examples")
    commands = [line.split("  #")[0].strip()[2:] for b in blocks("console") for line in b.splitlines()]
    assert commands
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(README.parent / "src"), os.environ.get("PYTHONPATH", "")])}
    for command in commands:
        argv = shlex.split(command)
        assert argv[0] == "scalelaw"
        argv = [sys.executable, "-m", "scalelaw", *argv[1:]]  # this checkout's scalelaw, not an installed one
        proc = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env)
        assert proc.returncode == 0, f"{command}\n{proc.stderr}"
        assert "Traceback" not in proc.stderr, command
