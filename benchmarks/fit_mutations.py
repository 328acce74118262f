"""Mutation test of the fit-file loader: 1,000 seeded mutations of real saved fits, loaded through the library.

Question: does ``FitResult.load`` on a damaged or hostile fit file always end in either a valid load or a
clean :class:`scalelaw.DataError` (exit 2 in the CLI), never an internal error, a hang or an exhausted memory?

Each mutated file (tests/fit_mutations.py says how they are made) is loaded in a forked child with a
time limit (5 s) and a memory limit (2 GiB), so a hang or a memory blow-up is measured instead of
stopping the benchmark. Outcomes:

* ``ok``: loaded (then ``predict`` at one point is tried too, and its outcome counted apart);
* ``clean``: raised DataError (or a subclass), the contract;
* ``other_scalelaw``: raised another ScaleLawError (FitError, ...): clean text but exit 1 in the CLI;
* ``crash``: raised anything else, with its site (innermost scalelaw frame, else innermost frame);
* ``hang`` / ``killed``: passed the time limit, or died (memory).

``--cli N`` also runs ``scalelaw predict`` through the real command line on N of the files (evenly
spaced) and counts exit codes and tracebacks. Results go to benchmarks/results/fit_mutations.json.

Usage::

    PYTHONPATH=src python benchmarks/fit_mutations.py [--n 1000] [--seed 0] [--cli 30] [--out PATH]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import pickle
import resource
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from fit_mutations import base_fits, mutations  # noqa: E402

TIME_LIMIT = 5.0
MEMORY_LIMIT = 2 * 1024**3
# The inputs each base fit's law reads (tests/fit_mutations.base_fits: power on params, then three of params, tokens).
_AT = ("params=1e10", "params=1e10,tokens=1e11", "params=1e10,tokens=1e11", "params=1e10,tokens=1e11")


def _site(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "scalelaw" in f.filename]
    frame = (ours or frames or [None])[-1]
    where = f"{Path(frame.filename).name}:{frame.lineno}" if frame is not None else "?"
    return f"{type(exc).__name__}@{where}"


def _classify(path: str) -> dict:
    """Load ``path`` (in the child); the outcome as a small dict."""
    import warnings

    from scalelaw import DataError, FitResult, ScaleLawError

    warnings.simplefilter("ignore")
    try:
        result = FitResult.load(path)
    except DataError as exc:
        return {"outcome": "clean", "message": str(exc)[:300]}
    except ScaleLawError as exc:
        return {"outcome": "other_scalelaw", "site": type(exc).__name__, "message": str(exc)[:300]}
    except BaseException as exc:  # classifying every failure is the point
        return {"outcome": "crash", "site": _site(exc), "message": str(exc)[:300]}
    try:
        result.predict(**{name: 1e10 for name in result.law.inputs})
        predict = "ok"
    except DataError:
        predict = "clean"
    except BaseException as exc:
        predict = f"crash:{_site(exc)}"
    return {"outcome": "ok", "predict": predict}


def _in_child(path: str) -> dict:
    """Run :func:`_classify` in a forked child under the time and memory limits."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(read)
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
        try:
            answer = _classify(path)
        except BaseException as exc:
            answer = {"outcome": "crash", "site": _site(exc)}
        with os.fdopen(write, "wb") as pipe:
            pickle.dump(answer, pipe)
        os._exit(0)
    os.close(write)
    start = time.monotonic()
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() - start > TIME_LIMIT:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            os.close(read)
            return {"outcome": "hang"}
        time.sleep(0.005)
    with os.fdopen(read, "rb") as pipe:
        data = pipe.read()
    if not data:
        return {"outcome": "killed", "site": f"status {status}"}
    answer = pickle.loads(data)
    answer["seconds"] = round(time.monotonic() - start, 3)
    return answer


def _cli(path: str, at: str) -> dict:
    cmd = [sys.executable, "-m", "scalelaw", "predict", path, "--at", at, "--json"]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, errors="replace")
    except subprocess.TimeoutExpired:
        return {"exit": "timeout"}
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    return {
        "exit": proc.returncode,
        "traceback": "Traceback" in proc.stderr,
        "internal_error": "internal error" in proc.stderr,
        "stderr_lines": len(lines),
        "stderr": proc.stderr[:300],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cli", type=int, default=30, help="mutated files also run through `scalelaw predict`")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "fit_mutations.json")
    args = parser.parse_args()

    from _common import environment

    texts = base_fits()
    outcomes = collections.Counter()
    sites = collections.Counter()
    predict = collections.Counter()
    cases = []
    cli_every = max(1, args.n // args.cli) if args.cli else 0
    cli = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as folder:
        for i, data, what in mutations(texts, n=args.n, seed=args.seed):
            path = os.path.join(folder, f"fit{i}.json")
            with open(path, "wb") as fh:
                fh.write(data)
            answer = _in_child(path)
            outcomes[answer["outcome"]] += 1
            if answer["outcome"] in ("crash", "hang", "killed", "other_scalelaw"):
                sites[f"{answer['outcome']}:{answer.get('site', '')}"] += 1
            if answer["outcome"] == "ok":
                predict[answer["predict"]] += 1
            cases.append({"index": i, "mutation": what, **answer})
            if cli_every and i % cli_every == 0 and len(cli) < args.cli:
                cli.append({"index": i, "mutation": what, **_cli(path, _AT[i % len(_AT)])})
    exits = collections.Counter(str(c["exit"]) for c in cli)
    summary = {
        "n": args.n,
        "seed": args.seed,
        "outcomes": dict(outcomes),
        "not_clean": args.n - outcomes["ok"] - outcomes["clean"],
        "distinct_sites": len(sites),
        "sites": dict(sites.most_common()),
        "predict_after_ok_load": dict(predict),
        "cli": {
            "runs": len(cli),
            "exit_codes": dict(exits),
            "tracebacks": sum(bool(c.get("traceback")) for c in cli),
            "internal_errors": sum(bool(c.get("internal_error")) for c in cli),
        },
        "seconds": round(time.monotonic() - started, 1),
    }
    print(json.dumps(summary, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    record = {"environment": environment(), "summary": summary, "cli_cases": cli, "cases": cases}
    args.out.write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()
