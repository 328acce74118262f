"""Progress of long computations (bootstrap, backtest, suggest): ``progress=True`` draws a rich bar.

Every long function takes ``progress``: False or None (the default: silent), True (a rich progress bar on
stderr, which Jupyter renders in the notebook; an animated bar there needs ``ipywidgets``, else rich shows the
final bar when done) or a callable ``progress(done, total)`` of your own. The command line draws the same bar
(:func:`scalelaw.cli.common.with_progress`).

This module sits at the bottom of the layers (beside ``errors``): every subpackage may import it; rich is
imported only when a bar is drawn.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

#: ``progress(done, total)``: called as the work advances.
Callback = Callable[[int, int], None]
#: What the ``progress=`` argument of a long function accepts.
ProgressLike = bool | Callback | None


@contextlib.contextmanager
def reporting(
    progress: ProgressLike, label: str, console: Any = None, transient: bool = False
) -> Iterator[Callback | None]:
    """The callback that ``progress`` asks for, live for the ``with`` block.

    Parameters
    ----------
    progress : bool, callable or None
        False or None: no callback (None is yielded). A callable: itself. True: a rich progress bar labelled
        ``label``, updated by the yielded callback and closed when the block ends.
    console : rich.console.Console, optional
        Where the bar is drawn (default: a console on stderr).
    transient : bool
        Remove the bar when done (the command line does); by default the finished bar stays, as a record.

    Raises
    ------
    TypeError
        ``progress`` is none of these.

    Examples
    --------
    >>> seen = []
    >>> with reporting(lambda done, total: seen.append((done, total)), "work") as tick:
    ...     tick(1, 2); tick(2, 2)
    >>> seen
    [(1, 2), (2, 2)]
    """
    if progress is None or progress is False:
        yield None
        return
    if progress is True:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeRemainingColumn(),
            console=console if console is not None else Console(stderr=True),
            transient=transient,
        ) as bar:
            handle = bar.add_task(label, total=None)

            def update(done: int, total: int) -> None:
                bar.update(handle, completed=done, total=total)

            yield update
        return
    if callable(progress):
        yield progress
        return
    raise TypeError(
        f"progress must be True (a progress bar), False or a callable progress(done, total), "
        f"not {type(progress).__name__}"
    )
