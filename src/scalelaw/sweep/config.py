"""Sweep configuration: a TOML file read with :mod:`tomllib` into frozen dataclasses, validated with clear errors.

Every mistake raises :class:`scalelaw.errors.DataError` naming the file, the key (``[training]
batch_size``) and the fix. Unknown keys are errors too, so a typo never silently falls back to a default.

Layout (``examples/tiny.toml`` is a complete example)::

    [sweep]
    name = "tiny"                 # label; default: the file's stem
    target = "s5"                 # size held out as the prediction target (default: the largest)

    [data]
    corpus = "python-stdlib"      # or "python-docs" (see scalelaw.sweep.corpus)
    context_length = 64           # tokens per sequence
    val_fraction = 0.05           # share of documents held out for evaluation
    # max_bytes = 2_000_000       # use only the first documents, up to this many bytes

    [model]                       # decoder-only transformer (GPT-2 style, byte vocabulary)
    family = "gpt"
    sizes = [
      { name = "s1", n_layers = 1, d_model = 16, n_heads = 2 },
      { name = "s2", n_layers = 2, d_model = 32, n_heads = 4 },
    ]

    [design]
    kind = "grid"                 # every size x every token budget
    tokens = [1e5, 2e5]
    # kind = "isoflop"            # every size x every compute budget; tokens = flops / (flops per token)
    # flops = [1e11, 1e12]

    [schedule]
    kind = "cosine"               # "cosine", "constant" or "wsd" (warmup-stable-decay)
    lr = 3e-3
    warmup = 0.05                 # fraction of steps (< 1) or a number of steps (>= 1)
    min_lr_ratio = 0.1            # final lr / peak lr for cosine and wsd
    decay_fraction = 0.2          # wsd: share of steps in the final linear decay

    [training]
    batch_size = 16               # sequences per step (the run store records batch_size in tokens)
    seeds = [0]
    eval_interval = 50            # steps between evaluations; the last step is always evaluated
    eval_tokens = 16384           # validation tokens per evaluation (fixed windows)
    weight_decay = 0.1
    grad_clip = 1.0               # 0 disables clipping
    threads = 1                   # torch threads per run (results depend on it: keep it fixed)
    params = "total"              # params column: "total" or "non_embedding" (scalelaw.data.accounting)
    flops = "6N"                  # FLOP convention of scalelaw.data.accounting: "6N", "6N_ne", "kaplan", "exact"

>>> cfg = parse_config({"model": {"sizes": [{"name": "a", "n_layers": 1, "d_model": 16, "n_heads": 2}]},
...                     "design": {"tokens": [4096, 8192]}}, source="inline")
>>> [run.run for run in cfg.runs()]
['a-D4.096k-seed0', 'a-D8.192k-seed0']
>>> parse_config({"model": {"sizes": []}}, source="inline")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
scalelaw.errors.DataError: inline: [model] sizes is missing or empty; list the model sizes, e.g. sizes = [...]
"""

from __future__ import annotations

import hashlib
import json
import math
import numbers
import os
import re
import tomllib
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, NoReturn

from scalelaw._schema import Invalid, read_limited
from scalelaw.data.accounting import CONVENTIONS, TransformerConfig, count_params, flops_per_token
from scalelaw.errors import DataError
from scalelaw.sweep.corpus import CORPORA, ByteTokenizer

SCHEDULES = ("cosine", "constant", "wsd")
DESIGNS = ("grid", "isoflop")
PARAM_KINDS = ("total", "non_embedding")
FAMILIES = ("gpt",)

_SECTIONS: dict[str, tuple[str, ...]] = {
    "sweep": ("name", "target"),
    "data": ("corpus", "context_length", "val_fraction", "max_bytes"),
    "model": ("family", "sizes"),
    "design": ("kind", "tokens", "flops"),
    "schedule": ("kind", "lr", "warmup", "min_lr_ratio", "decay_fraction"),
    "training": (
        "batch_size",
        "seeds",
        "eval_interval",
        "eval_tokens",
        "weight_decay",
        "grad_clip",
        "threads",
        "params",
        "flops",
    ),
}
_SIZE_KEYS = ("name", "n_layers", "d_model", "n_heads")

# Upper bounds, checked before anything is planned or allocated (docs/security.md). A sweep here is a
# ladder of tiny transformers trained on one CPU: the bounds sit far above any ladder that finishes in
# weeks there, and far below what would exhaust the memory just to plan (tokens = 1e30 once asked for
# 1e27 evaluation steps).
#: Tokens of one run: 1e12 is ~4 months at 1e5 tokens/s, beyond any CPU run.
MAX_TOKENS = 1e12
#: FLOPs of one run (isoflop budgets): 1e18 is ~4 months at 1e11 FLOP/s, a fast CPU core's peak.
MAX_FLOPS = 1e18
#: Optimizer steps of one run, and evaluations of one run (the list of evaluation steps is kept in memory).
MAX_STEPS = 10**8
MAX_EVALS = 100_000
#: Parameters of one model: 1e9 already needs ~16 GB for the weights and Adam's moments in float32.
MAX_MODEL_PARAMS = 10**9
#: Shapes: layers, width, heads; sequence length, sequences per step and tokens per step.
MAX_LAYERS = 256
MAX_D_MODEL = 16_384
MAX_HEADS = 1_024
MAX_CONTEXT = 8_192
MAX_BATCH = 4_096
MAX_TOKENS_PER_STEP = 2**20
#: Validation tokens per evaluation, torch threads per run, corpus bytes.
MAX_EVAL_TOKENS = 10**8
MAX_THREADS = 256
MAX_BYTES = 10**11
#: Runs of a sweep (sizes x budgets x seeds), and entries of each list.
MAX_RUNS = 1_000
MAX_LIST = 100
MAX_SEED = 2**32 - 1
#: A sweep config is a few hundred bytes; the reader refuses files above this (and nesting Python's TOML
#: parser would recurse through until it fails).
MAX_CONFIG_BYTES = 1024**2
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


# ------------------------------------------------------------------------------------------ dataclasses
@dataclass(frozen=True)
class ModelSize:
    """One model of the ladder: a name and the shape of a decoder-only transformer."""

    name: str
    n_layers: int
    d_model: int
    n_heads: int


@dataclass(frozen=True)
class Schedule:
    """Learning-rate schedule: linear warmup, then cosine, constant or warmup-stable-decay.

    ``warmup`` below 1 is a fraction of the run's steps, from 1 on a number of steps.
    """

    kind: str = "cosine"
    lr: float = 3e-3
    warmup: float = 0.05
    min_lr_ratio: float = 0.1
    decay_fraction: float = 0.2

    def warmup_steps(self, steps: int) -> int:
        n = round(self.warmup * steps) if self.warmup < 1 else int(self.warmup)
        return min(max(n, 0), steps)

    def lr_at(self, step: int, steps: int) -> float:
        """Learning rate of optimizer step ``step`` (1-based) of a run of ``steps`` steps.

        >>> s = Schedule("cosine", lr=1.0, warmup=2, min_lr_ratio=0.0)
        >>> [round(s.lr_at(i, 6), 3) for i in range(1, 7)]
        [0.5, 1.0, 0.854, 0.5, 0.146, 0.0]
        >>> w = Schedule("wsd", lr=1.0, warmup=0, min_lr_ratio=0.0, decay_fraction=0.5)
        >>> [round(w.lr_at(i, 4), 3) for i in range(1, 5)]
        [1.0, 1.0, 0.5, 0.0]
        """
        warm = self.warmup_steps(steps)
        if step <= warm:
            return self.lr * step / warm
        if self.kind == "constant":
            return self.lr
        floor = self.lr * self.min_lr_ratio
        if self.kind == "cosine":
            progress = (step - warm) / max(steps - warm, 1)
            return floor + (self.lr - floor) * 0.5 * (1 + math.cos(math.pi * progress))
        decay = max(round(self.decay_fraction * steps), 1)
        start = steps - decay  # wsd: flat until ``start``, then linear to the floor at the last step
        if step <= start:
            return self.lr
        return self.lr + (floor - self.lr) * (step - start) / decay


@dataclass(frozen=True)
class RunSpec:
    """Everything one training run needs; plain values only, so it pickles to any worker.

    ``tokens`` is what the run really trains on (``steps * batch_size * context_length``), which can
    differ a little from the budget it was planned for (``budget``).
    """

    run: str
    size: ModelSize
    seed: int
    steps: int
    batch_size: int
    context_length: int
    vocab_size: int
    budget: float
    budget_kind: str
    schedule: Schedule
    eval_steps: tuple[int, ...]
    eval_tokens: int
    weight_decay: float
    grad_clip: float
    threads: int
    corpus: str
    val_fraction: float
    max_bytes: int | None
    params: int
    flops_per_token: float
    config_hash: str = ""

    @property
    def tokens_per_step(self) -> int:
        return self.batch_size * self.context_length

    @property
    def tokens(self) -> int:
        return self.steps * self.tokens_per_step

    @property
    def flops(self) -> float:
        return self.flops_per_token * self.tokens

    def model_config(self) -> TransformerConfig:
        return _transformer(self.size, self.vocab_size, self.context_length)

    def with_hash(self, corpus_fingerprint: str) -> RunSpec:
        """This spec with ``config_hash`` set from its settings and the corpus it trains on."""
        data = asdict(self)
        data.pop("config_hash")
        data["corpus_fingerprint"] = corpus_fingerprint
        text = json.dumps(data, sort_keys=True, default=str)
        return replace(self, config_hash=hashlib.sha256(text.encode()).hexdigest()[:16])


@dataclass(frozen=True)
class SweepConfig:
    """A validated sweep: the ladder of model sizes, the design and the training settings."""

    name: str
    path: Path | None
    sizes: tuple[ModelSize, ...]
    design: str
    budgets: tuple[float, ...]
    schedule: Schedule
    corpus: str = "python-stdlib"
    context_length: int = 64
    val_fraction: float = 0.05
    max_bytes: int | None = None
    batch_size: int = 16
    seeds: tuple[int, ...] = (0,)
    eval_interval: int = 50
    eval_tokens: int = 16384
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    threads: int = 1
    params_kind: str = "total"
    flops_convention: str = "6N"
    target: str = ""
    family: str = "gpt"

    @property
    def vocab_size(self) -> int:
        return ByteTokenizer.vocab_size

    @property
    def default_store(self) -> Path:
        """Where the run store goes without ``--out``: ``NAME.runs.jsonl`` next to the config file."""
        folder = self.path.parent if self.path is not None else Path.cwd()
        stem = self.path.stem if self.path is not None else self.name
        return folder / f"{stem}.runs.jsonl"

    def size_params(self, size: ModelSize) -> int:
        counts = count_params(_transformer(size, self.vocab_size, self.context_length))
        return counts.total if self.params_kind == "total" else counts.non_embedding

    @property
    def target_size(self) -> ModelSize:
        """The size held out as the prediction target."""
        return next(s for s in self.sizes if s.name == self.target)

    def runs(self) -> list[RunSpec]:
        """Every run of the sweep, in order: sizes (as listed) x budgets (ascending) x seeds."""
        return _plan(self, _Validator(str(self.path) if self.path is not None else self.name))


# ------------------------------------------------------------------------------------------ loading
def load_config(path: str | os.PathLike) -> SweepConfig:
    """Read and validate a sweep TOML file.

    Raises
    ------
    DataError
        Missing file, invalid TOML (with line and column), unknown key, or a value out of range.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"no such sweep config: {path}")
    if path.is_dir():
        raise DataError(f"{path} is a directory; give a sweep config .toml file")
    try:
        data = tomllib.loads(read_limited(path, MAX_CONFIG_BYTES).decode("utf-8"))
    except Invalid as exc:
        raise DataError(f"{path} {exc.problem}; a sweep config is a small TOML file") from None
    except tomllib.TOMLDecodeError as exc:
        raise DataError(f"{path} is not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise DataError(f"{path} is not UTF-8 text; a sweep config is a TOML file") from None
    except RecursionError:  # tomllib recurses once per level of nested arrays and tables
        raise DataError(f"{path} nests arrays or tables too deeply; a sweep config needs two levels") from None
    except ValueError as exc:  # tomllib's int() of a number with thousands of digits
        raise DataError(f"{path} has a value TOML cannot hold ({exc}); a sweep config has small numbers") from None
    return parse_config(data, source=str(path), path=path)


def parse_config(data: dict[str, Any], source: str = "config", path: Path | None = None) -> SweepConfig:
    """Validate a parsed TOML mapping (see the module docstring for the layout)."""
    v = _Validator(source)
    if not isinstance(data, dict):
        raise DataError(f"{source}: expected a TOML table at the top level")
    unknown = sorted(set(data) - set(_SECTIONS))
    if unknown:
        v.fail(
            f"unknown section(s) {', '.join(f'[{k}]' for k in unknown)}",
            f"the sections are {', '.join(f'[{k}]' for k in _SECTIONS)}",
        )
    sections = {}
    for name, keys in _SECTIONS.items():
        table = data.get(name, {})
        if not isinstance(table, dict):
            v.fail(f"[{name}] must be a table, got {type(table).__name__}", f"write it as a [{name}] section")
        extra = sorted(set(table) - set(keys))
        if extra:
            v.fail(f"[{name}] has unknown key(s) {', '.join(map(repr, extra))}", f"known keys: {', '.join(keys)}")
        sections[name] = table

    sweep, data_, model, design, sched, train = (sections[k] for k in _SECTIONS)
    name = v.text(sweep, "sweep", "name", default=path.stem if path is not None else "sweep")

    corpus = v.choice(data_, "data", "corpus", tuple(CORPORA), default="python-stdlib")
    context_length = v.integer(data_, "data", "context_length", default=64, example="64", high=MAX_CONTEXT)
    val_fraction = v.number(data_, "data", "val_fraction", default=0.05, low=0.0, high=1.0, example="0.05")
    max_bytes = v.integer(data_, "data", "max_bytes", default=None, example="2_000_000", high=MAX_BYTES)

    family = v.choice(model, "model", "family", FAMILIES, default="gpt")
    sizes = v.sizes(model, context_length)

    kind = v.choice(design, "design", "kind", DESIGNS, default="grid")
    budget_key, other_key = ("tokens", "flops") if kind == "grid" else ("flops", "tokens")
    if other_key in design:
        v.fail(
            f"[design] {other_key} does not apply to kind = {kind!r}",
            f"a {kind} design takes {budget_key} = [...]"
            + (" (or set kind = 'isoflop' for compute budgets)" if kind == "grid" else ""),
        )
    budgets = v.budgets(design, budget_key, high=MAX_TOKENS if budget_key == "tokens" else MAX_FLOPS)

    schedule = Schedule(
        kind=v.choice(sched, "schedule", "kind", SCHEDULES, default="cosine"),
        lr=v.number(sched, "schedule", "lr", default=3e-3, low=0.0, example="3e-3"),
        warmup=v.number(sched, "schedule", "warmup", default=0.05, low=0.0, inclusive=True, example="0.05"),
        min_lr_ratio=v.number(
            sched, "schedule", "min_lr_ratio", default=0.1, low=0.0, high=1.0, inclusive=True, example="0.1"
        ),
        decay_fraction=v.number(
            sched, "schedule", "decay_fraction", default=0.2, low=0.0, high=1.0, high_inclusive=True, example="0.2"
        ),
    )
    if schedule.warmup >= 1 and not float(schedule.warmup).is_integer():
        v.fail(
            f"[schedule] warmup = {schedule.warmup!r} is neither a fraction (< 1) nor a whole number of steps",
            "write e.g. warmup = 0.05 (5% of steps) or warmup = 20 (steps)",
        )

    batch_size = v.integer(train, "training", "batch_size", default=16, example="16", high=MAX_BATCH)
    seeds = v.seeds(train)
    eval_interval = v.integer(train, "training", "eval_interval", default=50, example="50", high=MAX_STEPS)
    eval_tokens = v.integer(train, "training", "eval_tokens", default=16384, example="16384", high=MAX_EVAL_TOKENS)
    weight_decay = v.number(train, "training", "weight_decay", default=0.1, low=0.0, inclusive=True, example="0.1")
    grad_clip = v.number(train, "training", "grad_clip", default=1.0, low=0.0, inclusive=True, example="1.0")
    threads = v.integer(train, "training", "threads", default=1, example="1", high=MAX_THREADS)
    params_kind = v.choice(train, "training", "params", PARAM_KINDS, default="total")
    convention = v.choice(train, "training", "flops", tuple(CONVENTIONS), default="6N")
    if batch_size * context_length > MAX_TOKENS_PER_STEP:
        v.fail(
            f"[training] batch_size x [data] context_length = {batch_size * context_length:,} tokens per step, over "
            f"the limit of {MAX_TOKENS_PER_STEP:,}",
            "lower batch_size or context_length (a CPU ladder uses a few thousand tokens per step)",
        )
    if len(sizes) * len(budgets) * len(seeds) > MAX_RUNS:
        v.fail(
            f"{len(sizes)} sizes x {len(budgets)} budgets x {len(seeds)} seeds = "
            f"{len(sizes) * len(budgets) * len(seeds):,} runs, over the limit of {MAX_RUNS:,}",
            "split the sweep into several configs, or drop sizes, budgets or seeds",
        )
    if eval_tokens < context_length:
        v.fail(
            f"[training] eval_tokens = {eval_tokens} is shorter than one sequence ({context_length} tokens)",
            f"set eval_tokens to at least [data] context_length, e.g. {context_length * 64}",
        )

    names = [s.name for s in sizes]
    target = v.text(sweep, "sweep", "target", default="")
    if target and target not in names:
        v.fail(f"[sweep] target = {target!r} is not a model size", f"name one of {', '.join(map(repr, names))}")
    config = SweepConfig(
        name=name,
        path=path,
        sizes=tuple(sizes),
        design=kind,
        budgets=tuple(budgets),
        schedule=schedule,
        corpus=corpus,
        context_length=context_length,
        val_fraction=val_fraction,
        max_bytes=max_bytes,
        batch_size=batch_size,
        seeds=tuple(seeds),
        eval_interval=eval_interval,
        eval_tokens=eval_tokens,
        weight_decay=weight_decay,
        grad_clip=grad_clip,
        threads=threads,
        params_kind=params_kind,
        flops_convention=convention,
        target=target,
        family=family,
    )
    if not target:
        largest = max(sizes, key=config.size_params)
        config = _with(config, target=largest.name)
    _plan(config, v)  # every run must have at least one step
    return config


def _with(config: SweepConfig, **changes: Any) -> SweepConfig:
    return replace(config, **changes)


def gpt_config(n_layers: int, d_model: int, n_heads: int, vocab_size: int, context_length: int) -> TransformerConfig:
    """The :class:`~scalelaw.data.accounting.TransformerConfig` of the GPT that :mod:`scalelaw.sweep.model` builds.

    GPT-2 without biases: learned positions, LayerNorm, a 4x MLP and a head tied to the token embedding.

    >>> count_params(gpt_config(2, 32, 4, 256, 64)).total
    35136
    """
    return TransformerConfig(
        n_layers=n_layers,
        d_model=d_model,
        n_heads=n_heads,
        vocab_size=vocab_size,
        context_length=context_length,
        tied_embeddings=True,
        gated_mlp=False,
        learned_positions=True,
        biases=False,
        norm="layernorm",
        final_norm=True,
    )


def _transformer(size: ModelSize, vocab_size: int, context_length: int) -> TransformerConfig:
    return gpt_config(size.n_layers, size.d_model, size.n_heads, vocab_size, context_length)


def _budget_label(kind: str, value: float) -> str:
    """``D250k``, ``D1.5M``, ``C3e+11`` -> ``C300G``: exact, short labels of a budget for run ids."""
    text = f"{value:g}"
    for divisor, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        scaled = value / divisor
        if scaled >= 1 and round(scaled, 3) == scaled:
            text = f"{scaled:g}{suffix}"
            break
    return ("D" if kind == "tokens" else "C") + text.replace("+", "")


def _plan(config: SweepConfig, v: _Validator) -> list[RunSpec]:
    per_step = config.batch_size * config.context_length
    specs = []
    budget_kind = "tokens" if config.design == "grid" else "flops"
    for size in config.sizes:
        shape = _transformer(size, config.vocab_size, config.context_length)
        per_token = flops_per_token(shape, config.flops_convention).total  # type: ignore[arg-type]
        for budget in sorted(config.budgets):
            tokens = budget if budget_kind == "tokens" else budget / per_token
            steps = round(tokens / per_step)
            key = "[design] tokens" if budget_kind == "tokens" else "[design] flops"
            if steps < 1:
                v.fail(
                    f"{key} budget {budget:g} gives size {size.name!r} less than one step of {per_step} tokens",
                    "raise the budget, lower [training] batch_size, or drop the size",
                )
            # Before the list of evaluation steps is built: its length is steps / eval_interval.
            if tokens > MAX_TOKENS or steps > MAX_STEPS:
                v.fail(
                    f"{key} budget {budget:g} trains size {size.name!r} on {tokens:.3g} tokens in {steps:.3g} steps, "
                    f"over the limits of {MAX_TOKENS:.0e} tokens and {MAX_STEPS:.0e} steps per run",
                    "lower the budget, or raise [training] batch_size",
                )
            if steps // config.eval_interval > MAX_EVALS:
                v.fail(
                    f"size {size.name!r} at {key} budget {budget:g} would evaluate {steps // config.eval_interval:,} "
                    f"times ({steps:,} steps, one evaluation every {config.eval_interval}), over the limit of "
                    f"{MAX_EVALS:,}",
                    f"raise [training] eval_interval to at least {-(-steps // MAX_EVALS)}",
                )
            eval_steps = sorted({*range(config.eval_interval, steps + 1, config.eval_interval), steps})
            for seed in config.seeds:
                specs.append(
                    RunSpec(
                        run=f"{size.name}-{_budget_label(budget_kind, budget)}-seed{seed}",
                        size=size,
                        seed=seed,
                        steps=steps,
                        batch_size=config.batch_size,
                        context_length=config.context_length,
                        vocab_size=config.vocab_size,
                        budget=float(budget),
                        budget_kind=budget_kind,
                        schedule=config.schedule,
                        eval_steps=tuple(eval_steps),
                        eval_tokens=config.eval_tokens,
                        weight_decay=config.weight_decay,
                        grad_clip=config.grad_clip,
                        threads=config.threads,
                        corpus=config.corpus,
                        val_fraction=config.val_fraction,
                        max_bytes=config.max_bytes,
                        params=config.size_params(size),
                        flops_per_token=float(per_token),
                    )
                )
    return specs


# ------------------------------------------------------------------------------------------ validation
class _Validator:
    """Typed getters that raise DataError naming the file, the key and the fix."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, problem: str, fix: str) -> NoReturn:
        raise DataError(f"{self.source}: {problem}; {fix}")

    def text(self, table: dict, section: str, key: str, default: str) -> str:
        value = table.get(key, default)
        if not isinstance(value, str) or (key in table and not value.strip()):
            self.fail(f"[{section}] {key} must be a non-empty string, got {value!r}", f'write e.g. {key} = "tiny"')
        return value.strip()

    def choice(self, table: dict, section: str, key: str, options: tuple[str, ...], default: str) -> str:
        value = table.get(key, default)
        if value not in options:
            self.fail(
                f"[{section}] {key} = {value!r} is not supported",
                f"choose one of {', '.join(map(repr, options))}",
            )
        return value

    def integer(
        self, table: dict, section: str, key: str, default: int | None, example: str, high: float | None = None
    ) -> Any:
        if key not in table:
            return default
        value = table[key]
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not _whole_positive(value):
            self.fail(
                f"[{section}] {key} must be a whole number > 0, got {_short(value)}",
                f"write e.g. {key} = {example}",
            )
        if high is not None and value > high:
            self.fail(
                f"[{section}] {key} = {_short(value)} is over the limit of {high:,}", f"write e.g. {key} = {example}"
            )
        return int(value)

    def number(
        self,
        table: dict,
        section: str,
        key: str,
        default: float,
        example: str,
        low: float | None = None,
        high: float | None = None,
        inclusive: bool = False,
        high_inclusive: bool = False,
    ) -> float:
        if key not in table:
            return default
        value = table[key]
        ok = not isinstance(value, bool) and isinstance(value, numbers.Real) and math.isfinite(value)
        if ok and low is not None:
            ok = value >= low if inclusive else value > low
        if ok and high is not None:
            ok = value <= high if (inclusive or high_inclusive) else value < high
        if not ok:
            lo = "" if low is None else (f">= {low:g}" if inclusive else f"> {low:g}")
            hi = "" if high is None else (f"<= {high:g}" if (inclusive or high_inclusive) else f"< {high:g}")
            rng = " and ".join(p for p in (lo, hi) if p) or "finite"
            self.fail(f"[{section}] {key} must be a number {rng}, got {value!r}", f"write e.g. {key} = {example}")
        return float(value)

    def sizes(self, model: dict, context_length: int) -> list[ModelSize]:
        raw = model.get("sizes")
        example = '{ name = "s1", n_layers = 1, d_model = 16, n_heads = 2 }'
        if not isinstance(raw, list) or not raw:
            self.fail("[model] sizes is missing or empty", f"list the model sizes, e.g. sizes = [{example}]")
        if len(raw) > MAX_LIST:
            self.fail(f"[model] sizes lists {len(raw):,} models, over the limit of {MAX_LIST}", "list fewer sizes")
        sizes = []
        for i, item in enumerate(raw, 1):
            where = f"[model] sizes #{i}"
            if not isinstance(item, dict):
                self.fail(f"{where} must be an inline table, got {item!r}", f"write it as {example}")
            extra = sorted(set(item) - set(_SIZE_KEYS))
            missing = [k for k in _SIZE_KEYS if k not in item and k != "name"]
            if extra:
                self.fail(
                    f"{where} has unknown key(s) {', '.join(map(repr, extra))}", f"known: {', '.join(_SIZE_KEYS)}"
                )
            if missing:
                self.fail(f"{where} lacks {', '.join(missing)}", f"write it as {example}")
            for key, high in (("n_layers", MAX_LAYERS), ("d_model", MAX_D_MODEL), ("n_heads", MAX_HEADS)):
                value = item[key]
                if isinstance(value, bool) or not isinstance(value, numbers.Real) or not _whole_positive(value):
                    self.fail(
                        f"{where} {key} must be a whole number > 0, got {_short(value)}", f"write it as {example}"
                    )
                if value > high:
                    self.fail(
                        f"{where} {key} = {_short(value)} is over the limit of {high:,}", f"write it as {example}"
                    )
            name = item.get("name", f"L{item['n_layers']}-d{item['d_model']}")
            if not isinstance(name, str) or not _NAME.fullmatch(name):
                self.fail(
                    f"{where} name {name!r} is not usable in a run id or file name",
                    'start with a letter or digit and use only letters, digits, ".", "-" or "_"',
                )
            size = ModelSize(name, int(item["n_layers"]), int(item["d_model"]), int(item["n_heads"]))
            try:
                shape = _transformer(size, ByteTokenizer.vocab_size, context_length)
            except DataError as exc:
                self.fail(f"{where} ({size.name}): {exc}", "pick n_heads that divides d_model")
            n_params = count_params(shape).total  # arithmetic on the shape: nothing is allocated
            if n_params > MAX_MODEL_PARAMS:
                self.fail(
                    f"{where} ({size.name}) has {n_params:,} parameters, over the limit of {MAX_MODEL_PARAMS:,}",
                    "use fewer layers or a smaller d_model (this trains tiny models on a CPU)",
                )
            sizes.append(size)
        seen: set[str] = set()
        for size in sizes:
            if size.name in seen:
                self.fail(f"[model] sizes name {size.name!r} appears twice", "give every size its own name")
            seen.add(size.name)
        return sizes

    def budgets(self, design: dict, key: str, high: float) -> list[float]:
        raw = design.get(key)
        example = "[1e5, 2e5, 4e5]" if key == "tokens" else "[1e11, 1e12]"
        if not isinstance(raw, list) or not raw:
            self.fail(f"[design] {key} is missing or empty", f"list the budgets, e.g. {key} = {example}")
        if len(raw) > MAX_LIST:
            self.fail(f"[design] {key} lists {len(raw):,} budgets, over the limit of {MAX_LIST}", "list fewer budgets")
        for value in raw:
            ok = not isinstance(value, bool) and isinstance(value, numbers.Real) and math.isfinite(value) and value > 0
            if not ok:
                self.fail(
                    f"[design] {key} has {_short(value)}, which is not a number > 0", f"write e.g. {key} = {example}"
                )
            if value > high:
                self.fail(
                    f"[design] {key} has {value:.3g}, over the limit of {high:.0e} per run (a CPU ladder trains "
                    "tiny models)",
                    f"write e.g. {key} = {example}",
                )
        if len(set(raw)) != len(raw):
            self.fail(f"[design] {key} lists a budget twice", "list each budget once")
        return [float(x) for x in raw]

    def seeds(self, train: dict) -> list[int]:
        raw = train.get("seeds", [0])
        ok = (
            isinstance(raw, list)
            and 0 < len(raw) <= MAX_LIST
            and all(isinstance(s, int) and not isinstance(s, bool) and 0 <= s <= MAX_SEED for s in raw)
        )
        if not ok or len(set(raw)) != len(raw):
            self.fail(
                f"[training] seeds must be a list of at most {MAX_LIST} distinct whole numbers from 0 to {MAX_SEED}, "
                f"got {_short(raw)}",
                "write e.g. seeds = [0] or seeds = [0, 1, 2]",
            )
        return list(raw)


def _short(value: Any) -> str:
    """``repr(value)`` cut to 60 characters: a refused value can be a list of a million entries."""
    if isinstance(value, int) and abs(value) >= 10**60:  # repr() of a huge int is slow, or refused past 4,300 digits
        return f"an integer of about {int(value.bit_length() * 0.30103)} digits"
    text = repr(value)
    return text if len(text) <= 60 else text[:59] + "…"


def _whole_positive(value: numbers.Real) -> bool:
    if isinstance(value, int):  # exact, and no float() that would overflow on a huge TOML integer
        return value > 0
    return math.isfinite(value) and float(value).is_integer() and value > 0
