"""From a tracker's table to :class:`Runs`: guess the canonical columns, let the user override, drop the rows a
scaling law cannot use (counted), and say all of it in the notes.

Trackers log one row per logging step: ``eval/loss`` is empty between evaluations, and the step-0 row has
``tokens = 0``. :func:`tracker_runs` drops those rows explicitly, counts them and says why, so that a W&B
export fits with one command.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from scalelaw.data.runs import CANONICAL_COLUMNS, Runs, parse_mapping
from scalelaw.errors import DataError

#: Names a tracker column may end with (its last ``/`` segment, case and leading ``_`` ignored) for each canonical
#: column, most likely first.
STEMS: dict[str, tuple[str, ...]] = {
    "run": ("run", "name", "run_name", "display_name", "run_id", "id"),
    "step": ("step", "global_step", "iteration", "iter"),
    "params": (
        "params",
        "n_params",
        "num_params",
        "nparams",
        "num_parameters",
        "n_parameters",
        "parameters",
        "param_count",
        "model_params",
    ),
    "tokens": (
        "tokens",
        "tokens_seen",
        "num_tokens",
        "n_tokens",
        "tokens_processed",
        "consumed_tokens",
        "train_tokens",
        "total_tokens",
        "num_input_tokens_seen",
    ),
    "unique_tokens": ("unique_tokens",),
    "flops": ("flops", "total_flops", "train_flops", "total_flos"),
    "lr": ("lr", "learning_rate"),
    "loss": (
        "loss",
        "eval_loss",
        "val_loss",
        "valid_loss",
        "validation_loss",
        "test_loss",
        "epoch_loss",
        "lm_loss",
        "train_loss",
    ),
    "seed": ("seed", "random_seed"),
}
#: Words that mark a held-out metric: ``loss`` means held-out loss (CANONICAL_COLUMNS), so these rank first.
_HELD_OUT = frozenset({"eval", "val", "valid", "validation", "test", "heldout", "dev"})
_TRAIN = frozenset({"train", "training"})
#: Constants of a run that trackers often log once (a config value at step 0): filled into the run's other rows.
_PER_RUN = ("params", "unique_tokens", "batch_size", "seed")
_SCALES = ("params", "tokens", "flops")


def _stem(name: str) -> str:
    """Last segment of a metric path (``/``) or a flattened config key (``.``), lower case, without leading ``_``."""
    return re.split(r"[/.]", name)[-1].strip().lower().lstrip("_")


def _rank(canonical: str, name: str) -> tuple:
    """Sort key among the columns that could be ``canonical``: held-out before train for loss, then short names."""
    words = set(re.split(r"[/._\- ]+", name.lower()))
    held_out = 0 if words & _HELD_OUT else 2 if words & _TRAIN else 1
    order = (STEMS[canonical].index(_stem(name)), len(re.split(r"[/.]", name)), name)
    return (held_out, *order) if canonical == "loss" else order


def _candidates(canonical: str, columns: Sequence[str]) -> list[str]:
    """Columns that could be ``canonical`` by their name, best first (:func:`_rank`)."""
    stems = STEMS.get(canonical, ())
    if canonical == "run":  # whole names only: a metric path ending in /name is no run id
        found = [c for c in columns if c.strip().lower().lstrip("_") in stems]
    else:
        found = [c for c in columns if _stem(c) in stems and c not in CANONICAL_COLUMNS]
    return sorted(found, key=lambda c: _rank(canonical, c))


def _guess(columns: Sequence[str]) -> dict[str, str]:
    """``{column: canonical}`` for the canonical columns the table does not name already."""
    present = set(columns)
    chosen: dict[str, str] = {}
    for canonical in STEMS:
        if canonical in present:
            continue  # the table already names it: nothing to guess
        candidates = [c for c in _candidates(canonical, columns) if c not in chosen]
        if candidates:
            chosen[candidates[0]] = canonical
    return chosen


def guess_mapping(columns: Iterable[str]) -> dict[str, str]:
    """The canonical column each tracker column becomes, ``{column: canonical}``, for columns not already canonical.

    A column matches when its last ``/`` segment is a usual name of a canonical column (``model/params``,
    ``train/tokens_seen``, ``trainer/global_step``, ``_step``); among several, a held-out loss (``eval/``,
    ``val_``, ...) is preferred to a training loss, and the shortest, most usual name wins otherwise.

    Examples
    --------
    >>> guess_mapping(["Name", "_step", "model/params", "train/tokens_seen", "train/loss", "eval/loss"])
    {'Name': 'run', '_step': 'step', 'model/params': 'params', 'train/tokens_seen': 'tokens', 'eval/loss': 'loss'}
    """
    return _guess([str(c) for c in columns])


def resolve_mapping(
    columns: Sequence[str], mapping: str | Mapping[str, str] | Iterable[str] | None, source: str
) -> tuple[dict[str, str], dict[str, list[str]]]:
    """The guessed mapping with the user's on top: ``({column: new name}, alternatives not taken)``.

    A user entry wins over any guess from or onto the same name; ``COLUMN=COLUMN`` keeps a column's own name.
    """
    user = parse_mapping(mapping)
    missing = [old for old in user if old not in columns]
    if missing:
        shown = ", ".join(repr(c) for c in columns[:30]) + (" ..." if len(columns) > 30 else "")
        raise DataError(
            f"--map/mapping names column(s) {', '.join(map(repr, missing))} that {source} does not have; its "
            f"columns are: {shown}"
        )
    guessed = _guess(columns)
    merged = {
        old: new for old, new in guessed.items() if old not in user and new not in user.values() and new not in user
    }
    merged.update({old: new for old, new in user.items() if old != new})
    others = {}
    for canonical in merged.values():
        rest = [c for c in _candidates(canonical, columns) if c not in merged]
        if rest:
            others[canonical] = rest
    return merged, others


def tracker_runs(
    frame: pd.DataFrame,
    *,
    tracker: str,
    source: str,
    mapping: str | Mapping[str, str] | Iterable[str] | None = None,
    drop_empty: str | None = "loss",
    single_run: str | None = None,
    notes: Sequence[str] = (),
) -> Runs:
    """Validated :class:`Runs` from a tracker's table (tracker column names), with the mapping it chose in ``notes``.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per logged step of a run, in the tracker's own column names.
    tracker : str
        What the table came from, for messages (``"W&B export"``).
    source : str
        Where, for messages and :attr:`Runs.source`.
    mapping : str or mapping, optional
        ``{"column": "canonical"}`` or ``"column=canonical"`` entries; they override the guesses
        (:func:`guess_mapping`), and ``column=column`` keeps a column's name.
    drop_empty : str or None
        Drop the rows whose value in this canonical column is empty (a tracker logs ``eval/loss`` only at eval
        steps), counted in the notes. None keeps every row.
    single_run : str, optional
        Run id of every row when no run column is found (a one-run export). Without it, a table whose rows
        carry no run id is refused rather than each row silently becoming its own run.
    notes : sequence of str
        What the reader already did, kept after the mapping note.

    Returns
    -------
    Runs
        Whose first note says the mapping in ``--map`` syntax.

    Examples
    --------
    >>> table = pd.DataFrame({"Name": ["a", "a", "b"], "_step": [0, 10, 10], "eval/loss": [None, 3.1, 2.9],
    ...                       "model/params": [1e6, 1e6, 2e6], "train/tokens_seen": [0, 1e7, 1e7]})
    >>> runs = tracker_runs(table, tracker="W&B export", source="export.csv")
    >>> runs.notes[:2]  # doctest: +NORMALIZE_WHITESPACE
    ("W&B export columns mapped: Name=run, _step=step, model/params=params, train/tokens_seen=tokens,
      eval/loss=loss (override with --map 'COLUMN=canonical', or mapping=; 'COLUMN=COLUMN' keeps a name)",
     "dropped 1 of 3 row(s) with no 'loss' value (eval/loss): trackers log it only at some steps")
    """
    table = frame.copy()
    table.columns = [str(c).strip() for c in table.columns]
    chosen, others = resolve_mapping(list(table.columns), mapping, source)
    table = table.rename(columns=chosen)
    shown = ", ".join(f"{old}={new}" for old, new in chosen.items()) or "none (the columns are canonical already)"
    found = "; ".join(f"{canonical} also matches {', '.join(rest)}" for canonical, rest in others.items())
    first = (
        f"{tracker} columns mapped: {shown} (override with --map 'COLUMN=canonical', or mapping=; 'COLUMN=COLUMN' "
        f"keeps a name)" + (f"; {found}" if found else "")
    )
    origin = {new: old for old, new in chosen.items()}
    kept = [first, *notes]
    if "run" not in table.columns:
        table = _one_run(table, tracker, source, single_run)
        kept.append(f"no run column: every row is one run, {single_run!r}")
    kept += _fill_per_run(table)
    keep, dropped = _usable_rows(table, drop_empty, origin)
    kept += dropped
    table = table.loc[keep]
    try:
        runs = Runs.from_frame(table, None, source=source)
    except DataError as exc:
        raise DataError(f"{exc} (the {tracker} columns were mapped: {shown})") from None
    return Runs(table=runs.table, source=runs.source, notes=(*kept, *runs.notes))


def _one_run(table: pd.DataFrame, tracker: str, source: str, single_run: str | None) -> pd.DataFrame:
    """``table`` with a ``run`` column of ``single_run``; refused when it holds several runs or no name is known."""
    key = next((c for c in ("step", "tokens", "flops") if c in table.columns), None)
    repeated = key is not None and table[key].dropna().duplicated().any()
    if single_run is None or repeated:
        why = f"its '{key}' values repeat, so it holds several runs" if repeated else "no run id was found"
        raise DataError(
            f"{source} ({tracker}) has no run column ({why}); name the column that identifies a run with "
            "--map 'COLUMN=run' (mapping={'COLUMN': 'run'}), e.g. W&B's 'Name' or a run_id: without it each row "
            "would count as its own run and the by-run bootstrap would be too narrow"
        )
    return table.assign(run=single_run)


def _numbers(series: pd.Series) -> pd.Series:
    return pd.to_numeric(series, errors="coerce") if not pd.api.types.is_numeric_dtype(series) else series


def _fill_per_run(table: pd.DataFrame) -> list[str]:
    """Fill run constants (params, seed, ...) logged at one step into the run's other rows; in place."""
    notes = []
    for col in _PER_RUN:
        if col not in table.columns or not table[col].isna().any():
            continue
        groups = table.groupby("run", sort=False)[col]
        constant = groups.nunique(dropna=True) == 1
        fill = table["run"].map(groups.first().where(constant))
        gaps = table[col].isna() & fill.notna()
        if gaps.any():
            table.loc[gaps, col] = fill[gaps]
            notes.append(
                f"'{col}' filled into {int(gaps.sum())} row(s) from the one value logged in their run "
                f"({int(constant.sum())} run(s))"
            )
    return notes


def _usable_rows(
    table: pd.DataFrame, drop_empty: str | None, origin: Mapping[str, str]
) -> tuple[np.ndarray, list[str]]:
    """Rows to keep: not those without a target, nor those before training (a scale of 0); notes count them."""
    keep = np.ones(len(table), dtype=bool)
    notes = []
    if drop_empty is not None and drop_empty in table.columns:
        empty = table[drop_empty].isna().to_numpy()  # only empty cells: text that is no number is refused later
        if empty.all():
            raise DataError(
                f"column '{drop_empty}' ({origin.get(drop_empty, drop_empty)}) is empty in every row; map the column "
                f"that holds it with --map 'COLUMN={drop_empty}'"
            )
        if empty.any():
            keep &= ~empty
            name = f" ({origin[drop_empty]})" if drop_empty in origin else ""
            notes.append(
                f"dropped {int(empty.sum())} of {len(table)} row(s) with no '{drop_empty}' value{name}: trackers log "
                "it only at some steps"
            )
    for col in _SCALES:
        if col in table.columns:
            zero = (_numbers(table[col]) == 0).to_numpy() & keep
            if zero.any():
                keep &= ~zero
                notes.append(
                    f"dropped {int(zero.sum())} row(s) with {col} = 0 (logged before training; a scaling law needs "
                    f"{col} > 0)"
                )
    return keep, notes
