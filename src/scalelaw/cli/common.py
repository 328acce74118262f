"""What every command shares: the typer app, the consoles, errors turned into exit codes, JSON output,
progress bars, option parsing and input loading; and the console entry point.

Exit codes: 0 ok, 2 bad input (one clear line on stderr), 1 other failure.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperCommand, TyperGroup

from scalelaw.errors import DataError, LawError, ScaleLawError


class _FlagsTakeNoValue:
    """Help without a value type (typer's ``<bool>``) beside flags such as ``--json`` and ``--help``: they take none."""

    def get_params(self, ctx):
        params = super().get_params(ctx)  # type: ignore[misc]
        for param in params:
            if getattr(param, "is_flag", False) and param.metavar is None:
                param.metavar = ""
        return params


class Command(_FlagsTakeNoValue, TyperCommand):
    """Every ``scalelaw`` command (register with ``app.command(cls=Command)``)."""


class Group(_FlagsTakeNoValue, TyperGroup):
    """The ``scalelaw`` app and its sub-apps."""


app = typer.Typer(
    cls=Group,
    name="scalelaw",
    help="Fit scaling laws to training runs and predict bigger runs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
datasets_app = typer.Typer(
    cls=Group, help="Bundled real datasets from published scaling studies.", no_args_is_help=True
)
app.add_typer(datasets_app, name="datasets")


class _Console(Console):
    """A console whose tables wrap a cell that does not fit (at 80 columns, say) instead of cutting it with "…":
    a run name or a number cut short is a wrong one."""

    def print(self, *objects: Any, **kwargs: Any) -> None:
        for item in objects:
            columns = getattr(item, "columns", None) or []
            for column in columns:
                if getattr(column, "overflow", None) == "ellipsis":
                    column.overflow = "fold"
            if columns and hasattr(columns[0], "cells") and columns[0].min_width is None:
                # The first column names the row (a run, a law): keep names up to 24 characters whole.
                longest = max((len(str(c)) for c in columns[0].cells), default=0)
                columns[0].min_width = min(24, longest)
        super().print(*objects, **kwargs)


out = _Console(soft_wrap=True)
err = _Console(stderr=True, soft_wrap=True)


def fail(message: str, code: int) -> NoReturn:
    from rich.markup import escape  # messages may quote brackets, e.g. [training] or scalelaw[sweep]

    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, markup=True)
    raise typer.Exit(code)


def run_action(action: Callable[[], Any]) -> Any:
    """Run ``action``, turning scalelaw errors into one line on stderr and warnings into notes."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            value = action()
        except (DataError, LawError) as exc:
            fail(str(exc), 2)
        except ScaleLawError as exc:
            fail(str(exc), 1)
    for w in caught:
        if issubclass(w.category, UserWarning):
            err.print(f"[yellow]warning:[/] {escape(str(w.message))}", highlight=False)  # may quote user text
    return value


def print_json(data: Any, indent: int | None = 2, separators: tuple[str, str] | None = None) -> None:
    from scalelaw.data.io import strict_json  # NaN and Infinity become null: strict parsers (jq) read the output

    sys.stdout.write(strict_json(data, indent=indent, separators=separators) + "\n")


def parse_list(value: str | None) -> list[str] | None:
    if value is None:
        return None
    items = [v.strip() for v in value.split(",") if v.strip()]
    return items or None


def parse_law_options(items: list[str] | None) -> dict[str, Any]:
    """``--law-option by_size=true --law-option bits=bits_w,bits_a`` -> ``{"by_size": True, "bits": [...]}``.

    Values are read as JSON when they parse (numbers, true/false, lists), as a list when they hold commas,
    and as text otherwise.
    """
    options: dict[str, Any] = {}
    for key, text in parse_pairs(items, "--law-option").items():
        if text.lower() in ("true", "false"):
            text = text.lower()
        try:
            options[key] = json.loads(text)
        except ValueError:
            options[key] = [part.strip() for part in text.split(",")] if "," in text else text
    return options


def parse_pairs(items: list[str] | None, option: str) -> dict[str, str]:
    """Repeated ``NAME=VALUE`` options as a dict of strings."""
    pairs = {}
    for item in items or []:
        name, sep, value = (part.strip() for part in item.partition("="))
        if not sep or not name or not value:
            raise DataError(f"cannot read {option} {item!r}: write it as NAME=VALUE, e.g. {option} x=flops")
        pairs[name] = value
    return pairs


def parse_number_pairs(items: list[str] | None, option: str, expected: str) -> dict[str, float]:
    """Repeated ``NAME=NUMBER`` options, e.g. ``--cap code=0.3``, as floats; ``expected`` says what a value is."""
    pairs = parse_pairs(items, option)  # DataError is a ValueError: parse the pairs before the float conversion
    try:
        return {name: float(value) for name, value in pairs.items()}
    except ValueError:
        raise DataError(f"{option} values must be {expected}") from None


def parse_law(text: str):
    from scalelaw.laws import Law, list_laws

    if text in list_laws() or text.isidentifier():
        return text
    return Law.from_expression(text)


RoleOption = Annotated[
    list[str] | None,
    typer.Option(
        "--role",
        metavar="COLUMN=ROLE",
        help="What an input column stands for: N (parameters), D (tokens), C (compute) or none, e.g. "
        "datastore=none or N_total=N (repeatable). Plans read N, D and C from these roles (docs/axes.md).",
    ),
]


def parse_roles(items: list[str] | None) -> dict[str, str | None]:
    """``--role datastore=none --role N_total=N`` as ``{"datastore": None, "N_total": "N"}``."""
    roles: dict[str, str | None] = {}
    for name, text in parse_pairs(items, "--role").items():
        role = text.upper()
        if role not in ("N", "D", "C", "NONE"):
            raise DataError(f"--role {name}={text}: a role is N (parameters), D (tokens), C (compute) or none")
        roles[name] = None if role == "NONE" else role
    return roles


def build_law(
    text: str,
    x_text: str | None = None,
    role: list[str] | None = None,
    law_option: list[str] | None = None,
    columns: Any = (),
    y: str | None = None,
) -> tuple[Any, list[str] | None, dict[str, Any]]:
    """The ``--law`` text with ``--x``, ``--role`` and ``--law-option`` (as typed) applied: ``(law, x, options)``
    for ``fit``.

    An expression declares its inputs: the ``--x`` names that are symbols of the formula, or without ``--x`` its
    symbols named like a column of the data (``columns``, other than the fitted ``y`` and names that the naming rule
    gives to parameters, such as ``alpha`` or ``B``), besides the standard columns. ``--x`` naming no symbol of
    the formula renames its inputs by position, as for a catalog law. With ``--role`` a catalog law is built here
    (options, renaming and roles applied) and ``x`` and ``options`` come back empty; otherwise a catalog name
    passes through unchanged.
    """
    from scalelaw.laws import Law, get_law, list_laws

    x, roles, options = parse_list(x_text), parse_roles(role), parse_law_options(law_option)
    if text in list_laws() or text.isidentifier():
        if not roles:
            return text, x, options
        if text.strip() == "auto":
            raise DataError("--role sets the roles of one law's inputs; give the law instead of --law auto")
        law = get_law(text, **options)
        return (law.with_inputs(*x) if x else law).with_roles(**roles), None, {}
    symbols = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text))  # names in the formula (checked by the parser)
    named = [c for c in x or () if c in symbols]
    if x and not named and not roles:
        return Law.from_expression(text), x, {}  # --x renames the formula's inputs, as for a catalog law
    if x and len(named) < len(x):
        missing = ", ".join(c for c in x if c not in symbols)
        raise DataError(
            f"--x {','.join(x)}: {missing} not in the formula {text!r} (its names: {', '.join(sorted(symbols))}); "
            "--x lists the formula's symbols that are data columns"
        )
    from scalelaw.laws.expression import named_like_parameter

    declared = named or [c for c in columns if c in symbols and c != y and not named_like_parameter(c)]
    return Law.from_expression(text, inputs=declared, roles=roles), None, {}


def laws_with_x(
    names: list[str], x_text: str | None, columns: Any = (), y: str | None = None, role: list[str] | None = None
):
    """``--laws`` entries with ``--x`` and ``--role`` applied as :func:`build_law` does for one (an expression
    declares its inputs, a catalog law is renamed), and the ``x`` left for the fit (None); with ``auto`` among them
    every law is renamed by ``x`` in the fit, as before, and ``--role`` is refused (it names one law's inputs)."""
    from scalelaw.laws import get_law

    if "auto" in names or "averaged" in names:  # averaged: backtest's pseudo-law, auto's averaged prediction
        if role:
            which = "auto" if "auto" in names else "averaged"
            raise DataError(f"--role sets the roles of one law's inputs; give the laws instead of {which}")
        return [parse_law(name) for name in names], parse_list(x_text)
    built = []
    for name in names:
        law, rest, _ = build_law(name, x_text, role, None, columns, y)
        built.append(get_law(law).with_inputs(*rest) if rest else law)
    return built, None


def parse_at(items: list[str]) -> list[dict[str, float]]:
    points = []
    for item in items:
        point: dict[str, float] = {}
        for part in item.split(","):
            if not part.strip():
                continue
            if "=" not in part:
                raise DataError(f"cannot read --at {item!r}: write it as 'params=7e10,tokens=1.4e12'")
            key, value = (s.strip() for s in part.split("=", 1))
            try:
                point[key] = float(value)
            except ValueError:
                raise DataError(f"--at value {value!r} for {key!r} is not a number") from None
        points.append(point)
    return points


#: The data options every command that reads runs takes (fit, backtest, report, isoflop), defined once.
DATA_HELP = "CSV, TSV, Parquet or JSON lines file (also .csv.gz), dataset:NAME, or - for standard input."
MapOption = Annotated[
    list[str] | None,
    typer.Option(
        "--map",
        metavar="NAME=COLUMN",
        help="Rename a column onto a canonical name, e.g. 'Model Size=params' or Name=run (repeatable).",
    ),
]
WhereOption = Annotated[
    list[str] | None,
    typer.Option(
        "--where",
        metavar="QUERY",
        help="Keep only the rows this pandas query string selects (column names after --map; backticks around "
        "names with spaces), e.g. 'params > 1e8' or 'dataset == \"rw\"'; COLUMN=VALUE also works. Repeatable: all "
        "must hold.",
    ),
]
WeightsOption = Annotated[
    str | None,
    typer.Option(
        "--weights",
        metavar="per_run",
        help="per_run: every run weighs the same in the fit however many checkpoints it logged.",
    ),
]
DropEarlyOption = Annotated[
    float,
    typer.Option(
        "--drop-early",
        metavar="FRACTION",
        help="Drop each run's checkpoints before this fraction of its training (by tokens), e.g. 0.1.",
    ),
]

#: The output and interval options of the analysis commands, defined once (``--n-boot`` stays with each command:
#: what it resamples differs).
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object to stdout and nothing else.")]
LevelOption = Annotated[float, typer.Option(help="Interval level.")]
#: ``--interval`` of the commands whose intervals are optional: a level, or 0 for a point estimate only.
IntervalOption = Annotated[float, typer.Option(help="Bootstrap interval level, e.g. 0.9; 0 for none.")]
SeedOption = Annotated[int, typer.Option(help="Random seed.")]
#: The seed of a decision on a fit that may carry saved replicates (plan, compare, solve, fp-plan).
DrawSeedOption = Annotated[
    int,
    typer.Option(
        "--seed",
        help="Random seed of a bootstrap drawn here (saved replicates are reused as drawn) and of the law-error draws.",
    ),
]


def show(result: Any, as_json: bool, render: Callable[[Any], None], **head: Any) -> None:
    """Print ``result`` for ``--json`` as one object (the ``head`` keys, e.g. ``data=``, then ``result.to_dict()``),
    else for people with ``render(result)``."""
    if as_json:
        print_json({**head, **result.to_dict()})
    else:
        render(result)


def parse_ks(value: str | None) -> list[int] | None:
    """``--k 1,10,100`` as sample budgets (whole numbers), or None when the option is not given."""
    return [int(v) for v in parse_floats(parse_list(value), "--k")] if value else None


@dataclasses.dataclass(frozen=True)
class DataOptions:
    """The shared data options of a command: ``--map``, ``--where``, ``--weights`` and ``--drop-early``."""

    mapping: list[str] | None = None
    where: list[str] | None = None
    weights: str | None = None
    drop_early: float = 0.0

    def __post_init__(self) -> None:
        if self.weights is not None and self.weights not in ("per_run", "per_row"):
            fail(f"--weights must be per_run (or per_row, the default), not {self.weights!r}", 2)

    def load(self, data, target: str | None = None):
        """DATA (a path, ``dataset:NAME``, ``-`` or Runs) as :class:`~scalelaw.Runs` with ``--map``, ``--where`` and
        ``--drop-early`` applied and the rows without a ``target`` value dropped (each noted on stderr)."""
        from scalelaw.data.io import load_runs

        runs = load_runs(data, self.mapping, where=self.where, target=target)
        if self.drop_early:
            from scalelaw.data.checkpoints import drop_early

            runs = drop_early(runs, self.drop_early)
        return runs

    def fit_kwargs(self) -> dict[str, Any]:
        """``weights=`` for :func:`scalelaw.fit` and the backtests, when ``--weights`` was given."""
        return {"weights": self.weights} if self.weights is not None else {}

    def words(self) -> list[str]:
        """The options as command-line words (for a report's command line)."""
        words = [w for m in self.mapping or [] for w in ("--map", m)]
        words += [w for q in self.where or [] for w in ("--where", q)]
        words += ["--weights", self.weights] if self.weights else []
        return words + (["--drop-early", f"{self.drop_early:g}"] if self.drop_early else [])


def law_output(law: str) -> str | None:
    """The column the ``--law`` value fits by default: ``loss`` for ``auto`` (and backtest's ``averaged``), None
    for a law that cannot be built yet."""
    from scalelaw.laws import get_law

    try:
        return "loss" if law.strip() in ("auto", "averaged") else get_law(parse_law(law)).output
    except ScaleLawError:
        return None  # the fit itself says what is wrong with the law


def read_table_or_dataset(source: str):
    from scalelaw.data.io import read_table
    from scalelaw.data.trackers.sources import is_tracker_source, load_tracker

    if is_tracker_source(source):
        return load_tracker(source).table
    if source.startswith("dataset:"):
        from scalelaw.data import datasets

        return datasets.load(source.split(":", 1)[1])
    return read_table(source)


def render_tracker_notes(runs) -> None:
    """What a tracker reader chose (the column mapping, the rows dropped), for commands whose output has no notes."""
    from scalelaw.data.trackers.sources import is_tracker_source

    if is_tracker_source(runs.source):
        for note in runs.notes:
            out.print(f"note: {note}", style="dim", highlight=False, markup=False)


def check_point(result, point: dict[str, float]) -> None:
    missing = [n for n in result.law.inputs if n not in point]
    if missing:
        given = ",".join(f"{k}={v:g}" for k, v in point.items())
        raise DataError(f"--at {given} lacks {', '.join(missing)}; this law needs {', '.join(result.law.inputs)}")
    usable = set(result.law.inputs)
    if result.law_choice is not None:  # an auto fit's other candidates read their own inputs (unique_tokens)
        usable |= result.law_choice.inputs
    extra = sorted(set(point) - usable)
    if extra:
        raise DataError(f"--at gives {', '.join(extra)}, which law {result.law.name!r} does not use")
    bad = [k for k, v in point.items() if not (math.isfinite(v) and v > 0)]
    if bad:
        raise DataError(f"--at values must be finite and > 0; check {', '.join(bad)}")


def with_progress(task: Callable[[Callable[[int, int], None] | None], Any], label: str, quiet: bool) -> Any:
    """Run ``task(progress)`` with a rich progress bar on an interactive terminal, silently otherwise."""
    from scalelaw._progress import reporting

    with reporting(not quiet and err.is_terminal, label, console=err, transient=True) as progress:
        return task(progress)


def parse_floats(values: list[str] | None, name: str) -> list[float]:
    out = []
    for v in values or []:
        for part in v.split(","):
            if not part.strip():
                continue
            try:
                out.append(float(part))
            except ValueError:
                raise DataError(f"{name} value {part!r} is not a number (write e.g. 5.76e23)") from None
    return out


#: DATA of the commands that read runs: files, bundled datasets and trackers (scalelaw.data.trackers).
DATA_HELP = (
    "CSV, Parquet or JSON lines file, dataset:NAME, or a tracker: wandb:EXPORT.csv, wandb-api:ENTITY/PROJECT, "
    "tensorboard:LOGDIR, mlflow:STORE or mlflow:STORE#EXPERIMENT (docs/trackers.md)."
)

#: ``--interval-kind``, shared by every command that shows an interval (predict, plan, compare, suggest, report,
#: backtest): the honest total interval by default, or the by-run bootstrap alone.
IntervalKind = Annotated[
    str,
    typer.Option(
        "--interval-kind",
        help="total (default): parameters, the law's own error beyond the data learned from rolling backtests, and "
        "the choice of law; parameter: the by-run bootstrap of the parameters alone (docs/extrapolation.md).",
    ),
]


def check_interval_kind(kind: str) -> str:
    """``kind`` if it is an interval kind, else exit 2 with a line that lists them."""
    from scalelaw.trust.total import KINDS

    if kind not in KINDS:
        fail(f"--interval-kind must be one of {', '.join(KINDS)}, not {kind!r}", 2)
    return kind


def load_fit(path: Path):
    from scalelaw.fitting import FitResult

    if not path.exists():
        raise DataError(f"no such fit file: {path}")
    return FitResult.load(path)


def main() -> None:
    """Console entry point."""
    # Under an ASCII-only locale (LC_ALL=C) a "±" in a table must not end the command: write what the
    # terminal cannot show as an escape instead.
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted")
        raise SystemExit(130) from None
    except Exception as exc:  # a bug, not bad input: say so briefly, full trace on request
        if os.environ.get("SCALELAW_DEBUG"):
            raise
        detail = escape(f"{type(exc).__name__}: {exc}")  # the message may quote user text such as a column '[/]'
        err.print(f"[bold red]internal error:[/] {detail} (set SCALELAW_DEBUG=1 for details)", highlight=False)
        raise SystemExit(1) from None
