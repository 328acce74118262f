"""Spread independent work over Ray: what ``scalelaw fit --y ... --ray`` uses to fit many targets on a cluster.

:func:`ray_map_chunks` cuts a list of items (target columns, datasets) into one chunk per Ray CPU and runs
``fn(chunk)`` for each chunk as a Ray task. ``fn`` comes from the caller: this package may import Ray but
nothing that fits (the import contract in ``pyproject.toml``), so the command line hands it the fitting
function. The connection rules are the sweep backend's (:mod:`scalelaw.sweep.backends`): ``"auto"``
connects to a running cluster, ``"local"`` starts a private instance, anything else is an address, and a
Ray already initialized in this process is used as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from scalelaw.errors import DataError, ScaleLawError
from scalelaw.sweep import SweepError, require_ray

__all__ = ["connect", "ray_map_chunks", "split_chunks"]

T = TypeVar("T")
R = TypeVar("R")


def connect(ray: Any, address: str) -> bool:
    """Connect to Ray at ``address`` (``"auto"``, ``"local"`` or an address) unless it is initialized already.

    Returns
    -------
    bool
        True when this call started the connection (the caller then shuts it down).

    Raises
    ------
    DataError
        Ray cannot be reached at ``address``.
    """
    if ray.is_initialized():
        return False
    try:
        if address == "local":
            ray.init(include_dashboard=False, configure_logging=False, log_to_driver=False)
        else:
            ray.init(address=address, configure_logging=False, log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        hint = "start one with `ray start --head` or use --ray local" if address == "auto" else "check the address"
        raise DataError(f"cannot connect to Ray at {address!r}: {exc}; {hint}") from None
    return True


def split_chunks(items: Sequence[T], n_chunks: int) -> list[list[T]]:
    """``items`` in at most ``n_chunks`` contiguous chunks of near-equal size, in order, none empty.

    Examples
    --------
    >>> split_chunks(["a", "b", "c", "d", "e"], 2)
    [['a', 'b', 'c'], ['d', 'e']]
    """
    n = max(1, min(int(n_chunks), len(items)))
    size, extra = divmod(len(items), n)
    bounds = [i * size + min(i, extra) for i in range(n + 1)]
    return [list(items[bounds[i] : bounds[i + 1]]) for i in range(n) if bounds[i + 1] > bounds[i]]


def _call(fn: Callable[[list[Any]], Any], chunk: list[Any]) -> Any:
    return fn(chunk)


def ray_map_chunks(
    fn: Callable[[list[T]], R], items: Sequence[T], address: str, n_chunks: int | None = None
) -> list[R]:
    """``[fn(chunk) for chunk in chunks]`` with every call a Ray task; results in the order of the chunks.

    Parameters
    ----------
    fn : callable
        Takes a list of items; must pickle (a module-level function or a ``functools.partial`` of one).
    items : sequence
        The work, cut into contiguous chunks (:func:`split_chunks`).
    address : str
        ``"auto"``, ``"local"`` or a Ray address (see :func:`connect`).
    n_chunks : int, optional
        Number of tasks; default: the cluster's CPUs.

    Raises
    ------
    SweepExtraMissing
        Ray is not installed.
    DataError
        Ray cannot be reached.
    ScaleLawError
        A task raised one (re-raised as it is); any other failure of a task is a :class:`SweepError`.
    """
    ray = require_ray()
    started = connect(ray, address)
    try:
        if n_chunks is None:
            n_chunks = max(1, int(ray.cluster_resources().get("CPU", 1)))
        task = ray.remote(num_cpus=1)(_call)
        refs = [task.remote(fn, chunk) for chunk in split_chunks(items, n_chunks)]
        try:
            return ray.get(refs)
        except Exception as exc:
            cause = getattr(exc, "cause", None)
            if isinstance(cause, ScaleLawError):
                raise cause from None
            raise SweepError(f"a Ray task failed: {type(exc).__name__}: {exc}") from exc
    finally:
        if started:
            ray.shutdown()
