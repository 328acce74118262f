"""Running ``scalelaw`` from the command-line tests: as a process (``python -m scalelaw``) or in this process
through :func:`scalelaw.cli.main` (both the real entry point, not typer's test runner)."""

from __future__ import annotations

import os
import subprocess
import sys


def run_cli(*args: str) -> subprocess.CompletedProcess:
    """``python -m scalelaw ARGS`` in a child process, 200 columns wide and without colour."""
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "scalelaw", *args], capture_output=True, text=True, env=env, timeout=300
    )


def run_main(capsys, *args: str) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of ``scalelaw ARGS`` run in this process (``capsys``: pytest's fixture)."""
    from scalelaw.cli import main

    capsys.readouterr()
    argv, sys.argv = sys.argv, ["scalelaw", *args]
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        sys.argv = argv
    captured = capsys.readouterr()
    return code, captured.out, captured.err
