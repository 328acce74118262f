"""``import scalelaw`` and ``scalelaw --help`` start instantly: no pandas, scipy, drawing or training libraries.

Each check runs in a fresh interpreter (a module imported by an earlier test would hide a regression). No
time is asserted: what is imported is the cause, and it does not depend on the machine's load.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("pandas", "pyarrow", "scipy", "matplotlib", "plotly", "torch", "ray")

_IMPORT = """
import json, sys
import scalelaw
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules} & set(json.loads(sys.argv[1])))))
"""

# The console script as installed (pyproject's [project.scripts]), called the way its wrapper calls it.
_HELP = """
import contextlib, io, json, sys
from importlib.metadata import entry_points
(script,) = [e for e in entry_points(group="console_scripts") if e.name == "scalelaw"]
heavy = json.loads(sys.argv[1])
sys.argv = ["scalelaw", "--help"]
with contextlib.redirect_stdout(io.StringIO()) as text:
    try:
        script.load()()
    except SystemExit as exc:
        assert exc.code in (0, None), exc.code
assert "predict" in text.getvalue(), text.getvalue()
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules} & set(heavy))))
"""


@pytest.mark.parametrize("code", [_IMPORT, _HELP], ids=["import scalelaw", "scalelaw --help"])
def test_start_imports_nothing_heavy(code: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", code, json.dumps(HEAVY)], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []


def test_lazy_names_still_resolve() -> None:
    import scalelaw

    for name in scalelaw.__all__:
        assert getattr(scalelaw, name) is not None
    assert scalelaw.fit.__module__ == "scalelaw.fitting.fit"
    assert "FitResult" in dir(scalelaw)


_CATALOG = """
import json, sys
from scalelaw.laws.catalog import get_law, list_laws, register
register("mine", lambda: get_law("power"))  # registered before any lookup
get_law("chinchilla")
basic_only = sorted(m for m in sys.modules if m.startswith("scalelaw.laws.") and m not in json.loads(sys.argv[1]))
get_law("data_constrained")  # a family's law still resolves, and the catalog lists every law
print(json.dumps([basic_only, "mine" in list_laws(), "data_constrained" in list_laws(), len(list_laws())]))
"""


def test_a_basic_law_loads_no_law_family() -> None:
    """``get_law("chinchilla")`` imports the basic laws only; any other name loads the families, and a law
    registered before the first lookup stays in the catalog beside them."""
    base = ["scalelaw.laws.basic", "scalelaw.laws.catalog", "scalelaw.laws.law", "scalelaw.laws.schedule"]
    proc = subprocess.run(
        [sys.executable, "-c", _CATALOG, json.dumps(base)], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    family_modules, mine_listed, family_listed, n_laws = json.loads(proc.stdout.strip().splitlines()[-1])
    assert family_modules == []
    assert mine_listed and family_listed and n_laws > 20
