"""Files are safe (issue #14): how outputs are written, what --out refuses, the data hash, strict JSON.

The CLI tests spawn ``sys.executable -m scalelaw`` (kept to a few calls, parametrized); the rest are
library-level checks of the shared helpers.
"""

from __future__ import annotations

import multiprocessing
import os
import stat

import pandas as pd
import pytest

from scalelaw.errors import DataError
from scalelaw.io import write_bytes_atomic, write_text_atomic
from scalelaw.sweep.store import RunStore


# ------------------------------------------------------------------------------------------- writers
def _with_umask(mask: int, write) -> None:
    old = os.umask(mask)
    try:
        write()
    finally:
        os.umask(old)


@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_atomic_writes_honour_the_umask(tmp_path, mask, mode):
    text, data = tmp_path / "a.txt", tmp_path / "b.bin"
    _with_umask(mask, lambda: (write_text_atomic(text, "x"), write_bytes_atomic(data, b"x")))
    assert stat.S_IMODE(text.stat().st_mode) == mode
    assert stat.S_IMODE(data.stat().st_mode) == mode


def test_atomic_text_is_utf8_and_replaces_without_leftovers(tmp_path):
    target = tmp_path / "sub" / "report.html"  # the missing folder is created
    write_text_atomic(target, "old")
    write_text_atomic(target, "Größe ≈ 7·10⁹ — ok")
    assert target.read_bytes() == "Größe ≈ 7·10⁹ — ok".encode()
    assert sorted(p.name for p in target.parent.iterdir()) == ["report.html"]  # no temporary file left


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "fit.json"
    target.write_text("old")
    with pytest.raises(TypeError):
        write_bytes_atomic(target, "not bytes")  # type: ignore[arg-type]
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["fit.json"]


def test_parquet_run_store_goes_through_the_atomic_writer(tmp_path):
    path = tmp_path / "runs.parquet"
    _with_umask(0o022, lambda: RunStore(path).append([{"run": "a", "step": 1, "loss": 3.0, "params": 10}]))
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert pd.read_parquet(path)["loss"].tolist() == [3.0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs.parquet"]


# ------------------------------------------------------------------------------------------- run-store lock
def _try_lock(path: str, barrier, release, results) -> None:
    """Child process: try to lock the store once all contenders are ready; hold a won lock until ``release``."""
    barrier.wait()
    try:
        with RunStore(path).locked():
            results.put("won")
            release.wait(30)
    except DataError:
        results.put("lost")


def test_run_store_lock_admits_exactly_one_process_and_survives_release(tmp_path):
    ctx = multiprocessing.get_context("fork")
    path = str(tmp_path / "s.jsonl")
    barrier, release, results = ctx.Barrier(2), ctx.Event(), ctx.Queue()
    contenders = [ctx.Process(target=_try_lock, args=(path, barrier, release, results)) for _ in range(2)]
    for p in contenders:
        p.start()
    outcomes = sorted(results.get(timeout=30) for _ in contenders)  # both tried while the winner holds it
    release.set()
    for p in contenders:
        p.join(30)
    assert outcomes == ["lost", "won"]
    lock = tmp_path / "s.jsonl.lock"
    inode = lock.stat().st_ino  # kept: a later sweep locks the same file, never a second one
    third = ctx.Process(target=_try_lock, args=(path, ctx.Barrier(1), release, results))
    third.start()
    third.join(30)
    assert results.get(timeout=5) == "won"
    assert lock.stat().st_ino == inode


def test_a_lock_path_that_is_a_directory_is_a_clear_error(tmp_path):
    (tmp_path / "s.jsonl.lock").mkdir()
    with pytest.raises(DataError, match="cannot open the lock file"), RunStore(tmp_path / "s.jsonl").locked():
        pass
