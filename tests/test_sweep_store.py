"""The append-only run store: crash safety, resuming without repeats, the lock, old stores, read order.

No training here (no torch needed) and no timing: the benchmark (benchmarks/store.py) measures speed.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import stat

import pytest

import scalelaw
from scalelaw.data.io import strict_json
from scalelaw.errors import DataError
from scalelaw.sweep.store import RunStore, StoreWarning

ORDER = ["b", "a", "c"]


def _row(run: str, step: int, loss: float | None = None) -> dict:
    return {
        "run": run,
        "params": 100 * (ORDER.index(run) + 1) if run in ORDER else 50,
        "tokens": 10 * step,
        "flops": 6000.0 * step,
        "step": step,
        "lr": 0.01,
        "batch_size": 10,
        "loss": 3.0 - 0.01 * step if loss is None else loss,
        "seed": 0,
        "train_loss": 3.1,
        "size": run,
        "config_hash": "h" + run,
    }


def _arrivals(steps: int = 4) -> list[dict]:
    """Checkpoints as a pool delivers them: runs interleaved, steps increasing within a run."""
    rows = []
    for step in range(1, steps + 1):
        for run in ("c", "a", "b"):
            rows.append(_row(run, step))
    return rows


def _sorted_bytes(rows: list[dict]) -> bytes:
    """The file the store always wrote before it was append-only: config run order, then step, one line each."""
    ordered = sorted(rows, key=lambda r: (ORDER.index(r["run"]), r["step"]))
    return "".join(strict_json(r, indent=None) + "\n" for r in ordered).encode()


def _keys(rows) -> list[tuple[str, int]]:
    return [(r["run"], int(r["step"])) for r in rows]


def _write(path, rows, order=ORDER) -> RunStore:
    store = RunStore(path)
    with store.locked():
        store.set_order(order)
        for row in rows:
            store.append([row])
    return store


# ------------------------------------------------------------------------------------------ order of the table
def test_a_released_store_holds_the_bytes_the_rewriting_store_wrote(tmp_path):
    path = tmp_path / "x.runs.jsonl"
    rows = _arrivals()
    store = RunStore(path)
    with store.locked():
        store.set_order(ORDER)
        for row in rows:
            store.append([row])
        assert path.read_bytes() == b"".join(strict_json(r, indent=None).encode() + b"\n" for r in rows)  # appended
        assert _keys(store.rows()) == _keys(sorted(rows, key=lambda r: (ORDER.index(r["run"]), r["step"])))
    assert path.read_bytes() == _sorted_bytes(rows)  # sorted once, on release
    reread = RunStore(path)
    assert _keys(reread.rows()) == _keys(store.rows())
    assert _keys(scalelaw.load_runs(path).table.to_dict(orient="records")) == _keys(store.rows())
    assert not reread.compact()  # already in order: nothing rewritten


def test_an_exception_in_the_sweep_still_leaves_a_sorted_store(tmp_path):
    path = tmp_path / "x.runs.jsonl"
    rows = _arrivals(2)
    store = RunStore(path)
    with pytest.raises(KeyboardInterrupt), store.locked():
        store.set_order(ORDER)
        store.append(rows)
        raise KeyboardInterrupt
    assert path.read_bytes() == _sorted_bytes(rows)


# ------------------------------------------------------------------------------------------ crash safety
def test_a_torn_last_line_is_skipped_reported_and_cut_off_by_the_next_append(tmp_path):
    path = tmp_path / "x.runs.jsonl"
    rows = _arrivals(2)
    _write(path, rows)
    whole = path.read_bytes()
    torn = strict_json(_row("a", 3), indent=None).encode()[:25]  # a write cut short by a crash
    path.write_bytes(whole + torn)
    with pytest.warns(StoreWarning, match=r"skipped its last line 7, 25 bytes"):
        store = RunStore(path)
    assert len(store) == len(rows) and store.last_step("a") == 2
    assert store.dropped == (f"line 7: 25 bytes that are not a whole record ({torn!r})",)
    with store.locked():
        store.set_order(ORDER)
        assert store.append([_row("a", 3)]) == 1
        assert path.read_bytes() == whole + strict_json(_row("a", 3), indent=None).encode() + b"\n"
    assert path.read_bytes() == _sorted_bytes([*rows, _row("a", 3)])
    assert len(scalelaw.load_runs(path)) == len(rows) + 1


def test_a_torn_tail_of_zero_bytes_or_broken_utf8_is_dropped_too(tmp_path):
    path = tmp_path / "x.runs.jsonl"
    _write(path, _arrivals(1))
    whole = path.read_bytes()
    for tail in ('{"run": "é'.encode()[:-1], b"\0" * 4096):  # the longer last
        path.write_bytes(whole + tail)
        with pytest.warns(StoreWarning):
            store = RunStore(path)
        assert len(store) == 3 and store.dropped
    assert store.append([_row("a", 2)]) == 1  # a line shorter than the torn tail: the tail is cut, not overwritten
    assert path.read_bytes() == whole + strict_json(_row("a", 2), indent=None).encode() + b"\n"


def test_only_the_last_line_may_be_torn(tmp_path):
    path = tmp_path / "x.runs.jsonl"
    _write(path, _arrivals(1))
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(lines[0][:20] + b"\n" + b"".join(lines[1:]))
    with pytest.raises(DataError, match=r"line 1 is not JSON .* not the last line"):
        RunStore(path)


def _writer(path: str, appended, _unused) -> None:
    """Child: append checkpoints one by one under the lock, telling the parent after each, until killed."""
    store = RunStore(path)
    with store.locked():
        store.set_order(ORDER)
        for n, row in enumerate(_arrivals(1000), 1):
            store.append([row])
            appended.put(n)


def test_a_killed_writer_leaves_whole_records_and_a_resumed_sweep_repeats_none(tmp_path):
    path = tmp_path / "x.runs.jsonl"
    ctx = multiprocessing.get_context("fork")
    appended = ctx.Queue()
    child = ctx.Process(target=_writer, args=(str(path), appended, None))
    child.start()
    while appended.get(timeout=60) < 20:
        pass
    os.kill(child.pid, signal.SIGKILL)  # no clean-up: the lock's release never runs, nothing is sorted
    child.join(30)
    assert child.exitcode == -signal.SIGKILL
    store = RunStore(path)
    assert store.dropped == ()
    done = _keys(store.rows())
    expected = _arrivals(1000)
    assert len(done) >= 20 and sorted(done) == sorted(_keys(expected[: len(done)]))  # a prefix of what was sent
    # The killed store is in arrival order; the resumed sweep sends everything again, gets only what is missing.
    with store.locked():  # the killed child's lock died with it
        store.set_order(ORDER)
        added = sum(store.append([row]) for row in expected)
    assert added == len(expected) - len(done)
    assert path.read_bytes() == _sorted_bytes(expected)


# ------------------------------------------------------------------------------------------ repeats and resuming
def test_resume_rule_first_record_wins_exact_repeats_collapse_conflicts_refuse(tmp_path):
    path = tmp_path / "x.runs.jsonl"
    rows = _arrivals(2)
    _write(path, rows)
    store = RunStore(path)
    assert store.append([_row("a", 1, loss=9.0), _row("a", 3), _row("a", 3, loss=8.0)]) == 1  # first one wins
    assert store.rows("a")[-1]["loss"] == _row("a", 3)["loss"] and store.rows("a")[0]["loss"] != 9.0
    doubled = tmp_path / "doubled.runs.jsonl"
    doubled.write_bytes(path.read_bytes() * 2)  # two copies of one store concatenated
    assert _keys(RunStore(doubled).rows()) == _keys(RunStore(path).rows())
    conflict = tmp_path / "conflict.runs.jsonl"
    conflict.write_bytes(path.read_bytes() + strict_json(_row("b", 1, loss=7.0), indent=None).encode() + b"\n")
    with pytest.raises(DataError, match="repeats run 'b' step 1 with different values"):
        RunStore(conflict)


def test_a_failed_append_leaves_store_and_file_as_they_were(tmp_path):
    path = tmp_path / "x.runs.jsonl"
    store = _write(path, _arrivals(1))
    before = path.read_bytes()
    with pytest.raises(DataError, match="training diverged"):
        store.append([_row("a", 2), _row("b", 2, loss=float("nan"))])
    assert path.read_bytes() == before and len(store) == 3 and store.last_step("a") == 1
    assert store.append([_row("a", 2)]) == 1  # (a, 2) was not remembered by the failed append


# ------------------------------------------------------------------------------------------ writers and the lock
def test_a_second_writer_rereads_the_store_when_it_takes_the_lock(tmp_path):
    path = tmp_path / "x.runs.jsonl"
    first, second = RunStore(path), RunStore(path)  # both read the (missing) store before either locked it
    with first.locked():
        first.set_order(ORDER)
        first.append(_arrivals(2))
    with second.locked():
        second.set_order(ORDER)
        assert second.last_step("a") == 2  # re-read on locking
        assert second.append(_arrivals(3)) == 3
    assert path.read_bytes() == _sorted_bytes(_arrivals(3))


def test_a_writer_without_the_lock_is_detected_not_overwritten(tmp_path):
    path = tmp_path / "x.runs.jsonl"
    store = _write(path, _arrivals(1))
    with path.open("ab") as handle:  # someone else appends behind the store's back
        handle.write(strict_json(_row("c", 9), indent=None).encode() + b"\n")
    with pytest.raises(DataError, match="changed since this process read it"):
        store.append([_row("a", 2)])
    assert RunStore(path).last_step("c") == 9


def _contend(path: str, barrier, results) -> None:
    barrier.wait()
    store = RunStore(path)
    try:
        with store.locked():
            store.set_order(ORDER)
            for row in _arrivals(50):
                store.append([row])
            results.put("wrote")
    except DataError:
        results.put("refused")


def test_concurrent_writers_one_writes_the_other_is_refused_or_finds_everything_there(tmp_path):
    path = str(tmp_path / "x.runs.jsonl")
    ctx = multiprocessing.get_context("fork")
    barrier, results = ctx.Barrier(3), ctx.Queue()
    writers = [ctx.Process(target=_contend, args=(path, barrier, results)) for _ in range(3)]
    for p in writers:
        p.start()
    outcomes = [results.get(timeout=60) for _ in writers]
    for p in writers:
        p.join(30)
    assert "wrote" in outcomes  # a late writer finds every row there and appends nothing
    assert open(path, "rb").read() == _sorted_bytes(_arrivals(50))


# ------------------------------------------------------------------------------------------ old stores, files
def test_an_old_store_loads_as_it_is_and_takes_appends(tmp_path):
    path = tmp_path / "old.runs.jsonl"
    rows = _arrivals(2)
    path.write_bytes(_sorted_bytes(rows).rstrip(b"\n"))  # as the rewriting store wrote it, last break lost
    store = RunStore(path)
    assert store.dropped == () and _keys(store.rows()) == _keys(RunStore(path).rows())
    assert _keys(store.rows())[:2] == [("b", 1), ("b", 2)]  # file order of runs, no set_order needed
    with store.locked():
        store.set_order(ORDER)
        assert store.append([_row("c", 3)]) == 1
    assert path.read_bytes() == _sorted_bytes([*rows, _row("c", 3)])


def test_a_new_store_file_honors_the_umask(tmp_path):
    path = tmp_path / "x.runs.jsonl"
    old = os.umask(0o027)
    try:
        RunStore(path).append([_row("a", 1)])
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.runs.jsonl"]
