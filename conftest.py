"""Repository-level pytest settings.

``--doctest-modules`` imports every module under ``src/scalelaw``; the sweep's torch modules cannot be
imported without the optional ``[sweep]`` extra, so they are left out of collection when torch is absent
(their tests in ``tests/test_sweep.py`` skip then too).
"""

from __future__ import annotations

import importlib.util

collect_ignore = []
if importlib.util.find_spec("torch") is None:
    collect_ignore += ["src/scalelaw/sweep/model.py", "src/scalelaw/sweep/train.py"]
