"""pyarrow is the optional ``parquet`` extra: without it, CSV and JSON work and Parquet says what to install.

pyarrow is hidden the way a missing package shows: ``sys.modules["pyarrow"] = None`` makes ``import pyarrow``
raise ImportError (in this process through monkeypatch; in a subprocess before pandas is imported, where reading
and fitting must work with pandas' pyarrow-free storage).
"""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

import scalelaw
from scalelaw.data.io import check_output_path
from scalelaw.data.parquet import INSTALL_HINT, ParquetExtraMissing
from scalelaw.sweep.store import RunStore

TABLE = pd.DataFrame({"flops": [1e18, 1e19, 1e20, 1e21], "loss": [3.1, 2.6, 2.3, 2.1]})


@pytest.fixture
def no_pyarrow(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow", None)


def test_parquet_input_names_the_extra(tmp_path, no_pyarrow):
    path = tmp_path / "runs.parquet"
    path.write_bytes(b"PAR1")  # never read: the check comes first
    with pytest.raises(ParquetExtraMissing, match=r"pip install 'scalelaw\[parquet\]'") as info:
        scalelaw.load_runs(path)
    assert isinstance(info.value, scalelaw.DataError) and isinstance(info.value, ImportError)
    assert str(path) in str(info.value)


def test_csv_and_json_lines_need_no_pyarrow(tmp_path):
    """In a fresh process, since pandas picks its string storage when it is imported: python, without pyarrow."""
    TABLE.to_csv(tmp_path / "runs.csv", index=False)
    TABLE.to_json(tmp_path / "runs.jsonl", orient="records", lines=True)
    code = (
        "import sys; sys.modules['pyarrow'] = None\n"
        "import scalelaw\n"
        "for name in sys.argv[1:]:\n"
        "    result = scalelaw.fit('power', scalelaw.load_runs(name))\n"
        "    print(round(result.params['alpha'], 6), result.status.converged)\n"
        "assert 'pyarrow' not in {m.split('.')[0] for m in sys.modules if sys.modules[m] is not None}\n"
    )
    names = [str(tmp_path / "runs.csv"), str(tmp_path / "runs.jsonl")]
    proc = subprocess.run([sys.executable, "-c", code, *names], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    expected = scalelaw.fit("power", TABLE)
    line = f"{round(expected.params['alpha'], 6)} True"
    assert proc.stdout.split("\n")[:2] == [line, line]


def test_parquet_run_store_names_the_extra_before_any_training(tmp_path, no_pyarrow):
    with pytest.raises(ParquetExtraMissing, match="run store") as info:
        RunStore(tmp_path / "sweep.runs.parquet")
    assert INSTALL_HINT in str(info.value)
    assert not (tmp_path / "sweep.runs.parquet").exists()
    assert RunStore(tmp_path / "sweep.runs.jsonl").format == "jsonl"  # JSON lines, the default, still works


def test_existing_parquet_out_is_not_misjudged(tmp_path, no_pyarrow):
    """Without pyarrow, an existing Parquet --out cannot be told a run store or not: say why, not 'not a store'."""
    (tmp_path / "sweep.runs.parquet").write_bytes(b"PAR1" + b"\0" * 16)
    with pytest.raises(ParquetExtraMissing, match=r"scalelaw\[parquet\]"):
        check_output_path(tmp_path / "sweep.runs.parquet", kind="run store", force=None)


def test_parquet_round_trip_with_pyarrow(tmp_path):
    pytest.importorskip("pyarrow")
    TABLE.to_parquet(tmp_path / "runs.parquet", index=False)
    assert scalelaw.load_runs(tmp_path / "runs.parquet").table["flops"].tolist() == TABLE["flops"].tolist()


def test_cli_says_which_extra_to_install(tmp_path):
    (tmp_path / "runs.parquet").write_bytes(b"PAR1")
    code = (
        "import sys; sys.modules['pyarrow'] = None; from scalelaw.cli import main; "
        "sys.argv = ['scalelaw', 'fit', sys.argv[1], '--law', 'power']; main()"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "runs.parquet")], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 2, proc.stderr
    assert "pip install 'scalelaw[parquet]'" in proc.stderr
    assert "Traceback" not in proc.stderr
