"""What every benchmark records about the machine and the code before it measures anything.

Import it after the script has pinned its BLAS threads: it imports NumPy and friends only when called.
"""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
REPO = Path(__file__).resolve().parents[1]


def git(*args: str) -> str:
    """Output of a git command in this repository, or "" when git is unavailable."""
    try:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10).stdout.strip()
    except Exception:
        return ""


def environment(**extra: Any) -> dict[str, Any]:
    """Date, command, library versions, commit (and whether src/ is dirty), cores, threads and load; plus ``extra``."""
    import numpy as np
    import pandas as pd
    import scipy

    import scalelaw

    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "pandas": pd.__version__,
        "scalelaw": scalelaw.__version__,
        "git_commit": git("rev-parse", "--short", "HEAD"),
        "git_dirty_src": bool(git("status", "--porcelain", "--", "src")),
        "cpu_count": os.cpu_count(),
        "threads": {v: os.environ.get(v) for v in THREAD_VARS},
        "loadavg_at_start": os.getloadavg() if hasattr(os, "getloadavg") else None,
        **extra,
    }
