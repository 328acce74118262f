"""Learning-rate schedules and the features LR-schedule laws read from them.

Pure functions on per-step LR arrays (``lrs[i]`` is the LR of optimizer step ``first + i``):

- generators for users and tests: :func:`linear_warmup`, :func:`constant`, :func:`cosine`, :func:`wsd`,
  :func:`step_decay`;
- :func:`forward_area` ``S1`` and :func:`annealing_area` ``S2`` (Tissue et al. 2024, laws.md §5.1);
- :func:`loss_drop` (the Multi-Power Law's ``LD``, Luo et al. 2025, laws.md §5.2), exact, and
  :func:`loss_drop_design`, the compressed form the ``multi_power`` law evaluates;
- :class:`Schedules`, the per-run LR arrays a fit needs (built from a ``run, step, lr`` table).

Conventions (those of the Multi-Power Law reference code, ``docs/ORACLES.md`` §3):
``S1(t) = cumsum(lrs)[t]`` includes step 0 and the warmup; the loss drop at logged step ``t`` is

``LD(t) = sum_{k=1..t} (lrs[k-1] - lrs[k]) * G(lrs[k]^-gamma * (S1(t) - S1(k-1)))``,
``G(x) = 1 - (1 + C x)^-beta``,

so LR increases (warmup) enter with a negative drop, exactly as in the reference code. Where
``lrs[k] == 0`` the argument of ``G`` is infinite and ``G = 1`` (laws.md §5.2).

Compression (:func:`loss_drop_design`). ``LD(t)`` sums over every step before ``t``; most schedules
change the LR at every decay step, so the naive cost is O(steps) per logged point. The sum is split
into aligned dyadic blocks of steps whose size grows with the distance to ``t`` (at most
``block_ratio`` times the distance) and with the smoothness of the LR (at most the scale
``lrs / |drop|`` over which the LR itself changes); blocks never straddle a kink of the schedule.
Within a block the smooth factor ``1 - G`` is replaced by its polynomial interpolant on ``nodes``
steps, while the drops are integrated exactly against the interpolation basis ("product
integration"): the weights are exact sums of the actual per-step drops, so noisy or spiky LR arrays
keep their total drop exactly, and runs of equal LR cost nothing. Blocks of at most ``nodes`` steps are
summed exactly.

Measured on the Multi-Power Law curves of one model size (9 schedules, 1,912 logged points, up to 72,000
steps; published 100M parameters; ``tests/test_schedule_laws.py`` checks the accuracy):

============  =====  ==============================  ================  ==========================
block_ratio   nodes  terms kept (of 52.3M exact)     max abs. loss     per parameter set, 3 fit
                                                     error (nats)      curves: value / +Jacobian
============  =====  ==============================  ================  ==========================
0.5           3      229k                            1.5e-7            1.6 ms / 2.0 ms
1.0           4      199k                            1.8e-7            1.2 ms / 1.5 ms
1.0 (default) 5      243k (1 in 215)                 7e-9              1.6 ms / 2.1 ms
1.0           6      287k                            2.6e-9            1.8 ms / 2.4 ms
2.0           8      307k                            1.3e-9            2.0 ms / 2.8 ms
============  =====  ==============================  ================  ==========================

The exact sum is 3.2 s per parameter set for the 9 curves (row by row, as the reference code does);
``block_ratio=0`` gives it, at O(steps) memory per row.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from scalelaw.errors import DataError

__all__ = [
    "LossDropDesign",
    "Schedules",
    "annealing_area",
    "constant",
    "cosine",
    "forward_area",
    "linear_warmup",
    "loss_drop",
    "loss_drop_design",
    "multi_power_loss",
    "step_decay",
    "wsd",
]


# ---------------------------------------------------------------------------------------- generators
def linear_warmup(steps: int, peak: float) -> np.ndarray:
    """``steps`` LRs rising linearly from 0 (first step) to ``peak`` (last step), like ``np.linspace(0, peak, steps)``.

    This is the warmup of the Multi-Power Law experiments (2,160 steps, 0 to 3e-4).

    >>> linear_warmup(3, 1e-3).tolist()
    [0.0, 0.0005, 0.001]
    """
    if steps < 0:
        raise DataError(f"warmup steps must be >= 0, got {steps}")
    return np.linspace(0.0, float(peak), int(steps))


def _with_warmup(total: int, warmup: int, peak: float) -> tuple[np.ndarray, np.ndarray]:
    total, warmup = int(total), int(warmup)
    if total < 1:
        raise DataError(f"a schedule needs total >= 1 steps, got {total}")
    if not 0 <= warmup <= total:
        raise DataError(f"warmup must be between 0 and total ({total}) steps, got {warmup}")
    return linear_warmup(warmup, peak), np.arange(warmup, total, dtype=np.float64)


def constant(total: int, peak: float, warmup: int = 0) -> np.ndarray:
    """Constant LR ``peak`` after an optional linear warmup of ``warmup`` steps.

    >>> constant(4, 1e-3, warmup=2).tolist()
    [0.0, 0.001, 0.001, 0.001]
    """
    head, rest = _with_warmup(total, warmup, peak)
    return np.concatenate([head, np.full(rest.size, float(peak))])


def cosine(total: int, peak: float, final: float = 0.0, warmup: int = 0) -> np.ndarray:
    """Cosine decay from ``peak`` (first step after warmup) towards ``final`` (reached at step ``total``).

    ``lr(k) = final + (peak - final) * (1 + cos(pi * (k - warmup) / (total - warmup))) / 2`` for ``k >= warmup``.
    """
    head, k = _with_warmup(total, warmup, peak)
    span = max(int(total) - int(warmup), 1)
    tail = final + 0.5 * (peak - final) * (1.0 + np.cos(np.pi * (k - warmup) / span))
    return np.concatenate([head, tail])


def wsd(
    total: int,
    peak: float,
    final: float,
    decay_start: int,
    warmup: int = 0,
    decay: str = "linear",
) -> np.ndarray:
    """Warmup-stable-decay: ``peak`` until ``decay_start``, then decay towards ``final`` (reached at ``total``).

    ``decay``: ``"linear"`` (``peak (1-f) + final f``), ``"exp"`` (geometric, ``peak^(1-f) final^f``) or
    ``"cosine"``, with ``f = (k - decay_start) / (total - decay_start)``.

    >>> wsd(6, 1.0, 0.0, decay_start=4).tolist()
    [1.0, 1.0, 1.0, 1.0, 1.0, 0.5]
    """
    head, k = _with_warmup(total, warmup, peak)
    if not warmup <= decay_start <= total:
        raise DataError(f"decay_start must lie between warmup ({warmup}) and total ({total}), got {decay_start}")
    span = max(int(total) - int(decay_start), 1)
    f = np.clip((k - decay_start) / span, 0.0, None)
    if decay == "linear":
        tail = peak * (1.0 - f) + final * f
    elif decay == "exp":
        if not (peak > 0 and final > 0):
            raise DataError("an exponential decay needs peak > 0 and final > 0")
        tail = peak ** ((total - k) / span) * final ** ((k - decay_start) / span)
    elif decay == "cosine":
        tail = final + 0.5 * (peak - final) * (1.0 + np.cos(np.pi * f))
    else:
        raise DataError(f"unknown decay {decay!r}; choose 'linear', 'exp' or 'cosine'")
    return np.concatenate([head, np.where(k < decay_start, float(peak), tail)])


def step_decay(
    total: int,
    peak: float,
    boundaries: Sequence[int],
    factor: float = 0.1,
    values: Sequence[float] | None = None,
    warmup: int = 0,
) -> np.ndarray:
    """Piecewise-constant LR: ``peak``, then a new value from each step in ``boundaries`` on.

    The new values are ``values`` if given, else ``peak * factor**j`` after the j-th boundary.

    >>> step_decay(5, 1.0, boundaries=[2, 4], factor=0.5).tolist()
    [1.0, 1.0, 0.5, 0.5, 0.25]
    """
    head, k = _with_warmup(total, warmup, peak)
    bounds = [int(b) for b in boundaries]
    if sorted(bounds) != bounds or any(not warmup <= b <= total for b in bounds):
        raise DataError(f"boundaries must be increasing steps between warmup and total, got {bounds}")
    if values is None:
        values = [peak * factor ** (j + 1) for j in range(len(bounds))]
    if len(values) != len(bounds):
        raise DataError(f"{len(bounds)} boundaries need {len(bounds)} values, got {len(values)}")
    levels = np.array([float(peak), *map(float, values)])
    tail = levels[np.searchsorted(np.array(bounds), k, side="right")]
    return np.concatenate([head, tail])


# ---------------------------------------------------------------------------------------- features
def _as_lrs(lrs: Any) -> np.ndarray:
    arr = np.asarray(lrs, dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0:
        raise DataError(f"an LR schedule is a non-empty 1-D array of per-step LRs, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise DataError("LR values must be finite and >= 0")
    return arr


def _as_index(index: Any, n: int) -> np.ndarray:
    if index is None:
        return np.arange(n)
    idx = np.asarray(index, dtype=np.float64).ravel()
    if not np.all(np.isfinite(idx)) or np.any(idx != np.round(idx)):
        raise DataError("steps must be whole numbers")
    idx = idx.astype(np.int64)
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise DataError(f"steps must lie within the schedule's steps 0 to {n - 1}, got {idx.min()} to {idx.max()}")
    return idx


def drops(lrs: Any) -> np.ndarray:
    """Per-step LR drop ``lrs[k-1] - lrs[k]`` (0 at step 0); negative where the LR rises."""
    lrs = _as_lrs(lrs)
    out = np.zeros_like(lrs)
    out[1:] = lrs[:-1] - lrs[1:]
    return out


def forward_area(lrs: Any, steps: Any = None) -> np.ndarray:
    """Forward area ``S1(t) = sum_{i<=t} lrs[i]`` (warmup included), at ``steps`` (default: every step).

    >>> lrs = constant(1000, 1e-3)
    >>> lrs[800:] = np.linspace(1e-3, 0.0, 200)  # laws.md §15.6: linear cool-down over the last 200 steps
    >>> round(float(forward_area(lrs, [999])[0]), 6)
    0.9
    """
    lrs = _as_lrs(lrs)
    return np.cumsum(lrs)[_as_index(steps, lrs.size)]


def annealing_area(lrs: Any, steps: Any = None, lam: float = 0.999) -> np.ndarray:
    """Annealing area ``S2(t) = sum_{i<=t} m_i`` with momentum ``m_i = lam m_{i-1} + (lrs[i-1] - lrs[i])``.

    Tissue et al. 2024 (laws.md §5.1); ``lam = 0`` gives the total LR drop so far. LR increases
    (warmup) count as negative drops, as in the recursion.
    """
    if not 0.0 <= lam < 1.0:
        raise DataError(f"lam must lie in [0, 1), got {lam}")
    momentum = _momentum(drops(lrs), float(lam))
    return np.cumsum(momentum)[_as_index(steps, len(momentum))]


def _momentum(d: np.ndarray, lam: float) -> np.ndarray:
    """``m_i = lam m_{i-1} + d_i`` (m_{-1} = 0), vectorized in blocks short enough that ``lam^-L`` stays finite."""
    if lam == 0.0:
        return d.copy()
    block = int(max(1, min(4096, 40.0 / -np.log(lam))))
    powers = lam ** np.arange(block, dtype=np.float64)
    out = np.empty_like(d)
    carry = 0.0
    for lo in range(0, d.size, block):
        seg = d[lo : lo + block]
        p = powers[: seg.size]
        # m_{lo+j} = lam^j (lam carry + sum_{i<=j} lam^-i d_{lo+i})
        out[lo : lo + seg.size] = p * (lam * carry + np.cumsum(seg / p))
        carry = out[lo + seg.size - 1]
    return out


def loss_drop(lrs: Any, steps: Any, C: float, beta: float, gamma: float) -> np.ndarray:
    """The Multi-Power Law loss drop ``LD(t)`` (without ``B``), summed exactly over every step.

    O(steps) per point: a reference for :func:`loss_drop_design`, which the ``multi_power`` law uses.
    """
    lrs = _as_lrs(lrs)
    idx = _as_index(steps, lrs.size)
    d = drops(lrs)
    cs = np.cumsum(lrs)
    out = np.empty(idx.size)
    for i, t in enumerate(idx):
        k = np.arange(1, t + 1)
        out[i] = np.sum(d[k] * _g(lrs[k], cs[t] - cs[k - 1], C, beta, gamma))
    return out


def _g(eta: np.ndarray, u: np.ndarray, C: float, beta: float, gamma: float) -> np.ndarray:
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        x = C * eta ** (-gamma) * u
        g = 1.0 - (1.0 + x) ** (-beta)
    return np.where(eta > 0, g, 1.0)


def multi_power_loss(
    lrs: Any,
    steps: Any,
    L0: float,
    A: float,
    alpha: float,
    B: float,
    C: float,
    beta: float,
    gamma: float,
) -> np.ndarray:
    """Multi-Power Law ``L0 + A S1^-alpha - B LD`` at ``steps``, evaluated exactly (Luo et al. 2025).

    The warmup is part of ``S1`` (the paper's ``S1 + S_W``). laws.md §15.6 oracle:

    >>> lrs = wsd(1000, 1e-3, 0.0, decay_start=800, decay="linear")
    >>> lrs[800:] = np.linspace(1e-3, 0.0, 200)
    >>> p = dict(L0=2.0, A=0.5, alpha=0.5, B=300.0, C=2.0, beta=0.6, gamma=0.6)
    >>> round(float(multi_power_loss(lrs, [999], **p)[0]), 5)
    2.35377
    """
    lrs = _as_lrs(lrs)
    s1 = forward_area(lrs, steps)
    return L0 + A * s1 ** (-alpha) - B * loss_drop(lrs, steps, C, beta, gamma)


# ---------------------------------------------------------------------------------------- compression
@dataclass(frozen=True)
class LossDropDesign:
    """The loss-drop sums of a set of rows as weighted terms: ``LD[row] = sum_j weight_j G(eta_j, u_j)``.

    Attributes
    ----------
    row : ndarray of int, shape (n_terms,)
        Row of every term, sorted ascending.
    eta : ndarray, shape (n_terms,)
        LR at the term's step (> 0; terms at zero LR are folded into ``constant``).
    u : ndarray, shape (n_terms,)
        ``S1(t) - S1(k - 1)``, the LR area from the term's step to the row's step.
    weight : ndarray, shape (n_terms,)
        Drop weight (exact per-step drops, or product-integration weights of a block).
    constant : ndarray, shape (n_rows,)
        Sum of the drops at steps with zero LR, where ``G = 1``.
    n_rows : int
    n_exact_terms : int
        Terms the uncompressed sum would have (for reporting the compression).
    """

    row: np.ndarray
    eta: np.ndarray
    u: np.ndarray
    weight: np.ndarray
    constant: np.ndarray
    n_rows: int
    n_exact_terms: int = 0

    def evaluate(self, C: float, beta: float, gamma: float) -> np.ndarray:
        """``LD`` for every row with scalar parameters."""
        g = _g(self.eta, self.u, C, beta, gamma)
        return self.constant + np.bincount(self.row, weights=self.weight * g, minlength=self.n_rows)

    @staticmethod
    def concat(parts: Sequence[LossDropDesign]) -> LossDropDesign:
        """Stack designs of consecutive row blocks (rows renumbered in order)."""
        offsets = np.cumsum([0, *[p.n_rows for p in parts]])
        return LossDropDesign(
            row=np.concatenate([p.row + o for p, o in zip(parts, offsets, strict=False)] or [np.zeros(0, int)]),
            eta=np.concatenate([p.eta for p in parts] or [np.zeros(0)]),
            u=np.concatenate([p.u for p in parts] or [np.zeros(0)]),
            weight=np.concatenate([p.weight for p in parts] or [np.zeros(0)]),
            constant=np.concatenate([p.constant for p in parts] or [np.zeros(0)]),
            n_rows=int(offsets[-1]),
            n_exact_terms=int(sum(p.n_exact_terms for p in parts)),
        )


def _interpolation_nodes(m: int, p: int) -> np.ndarray:
    """``p`` distinct integer positions in ``[0, m-1]`` spread like Chebyshev points."""
    x = -np.cos(np.pi * (2 * np.arange(p) + 1) / (2 * p))
    nodes = np.rint((m - 1) * (x + 1) / 2).astype(np.int64)
    for i in range(1, p):  # keep them distinct (m > p always here)
        nodes[i] = max(nodes[i], nodes[i - 1] + 1)
    for i in range(p - 2, -1, -1):
        nodes[i] = min(nodes[i], nodes[i + 1] - 1)
    return nodes


def _lagrange_basis(m: int, nodes: np.ndarray) -> np.ndarray:
    """``L[q, j]``: the j-th Lagrange basis polynomial on ``nodes`` at every position ``q`` of the block."""
    half = (m - 1) / 2.0
    q = (np.arange(m) - half) / half
    x = (nodes - half) / half
    L = np.ones((m, nodes.size))
    for j in range(nodes.size):
        for i in range(nodes.size):
            if i != j:
                L[:, j] *= (q - x[i]) / (x[j] - x[i])
    return L


def loss_drop_design(
    lrs: Any,
    steps: Any,
    block_ratio: float = 1.0,
    nodes: int = 5,
    kink_tolerance: float = 0.5,
) -> LossDropDesign:
    """Compress the loss-drop sums of the rows at ``steps`` (array indices into ``lrs``).

    Parameters
    ----------
    lrs : array_like
        Per-step LR of one run.
    steps : array_like of int
        Index of every row's step.
    block_ratio : float
        A block of steps is at most this fraction of its distance to the row's step, and of the scale
        ``lr / |drop|`` over which the LR changes. ``0`` sums every step exactly (memory O(steps) per row).
    nodes : int
        Interpolation nodes per block (polynomial degree + 1).
    kink_tolerance : float
        Blocks never contain a step where the drop changes by more than this fraction (a kink or a jump
        of the LR; plus a floor of 1e-7 of the LR for rounding noise).

    Returns
    -------
    LossDropDesign

    Examples
    --------
    >>> lrs = cosine(20000, 3e-4, 3e-5, warmup=2000)
    >>> steps = np.arange(2000, 20000, 500)
    >>> design = loss_drop_design(lrs, steps)
    >>> exact = loss_drop(lrs, steps, 2.0, 0.6, 0.6)
    >>> bool(np.max(np.abs(design.evaluate(2.0, 0.6, 0.6) - exact)) < 1e-9)
    True
    >>> design.row.size < design.n_exact_terms / 30
    True
    """
    lrs = _as_lrs(lrs)
    t = _as_index(steps, lrs.size)
    n = lrs.size
    if nodes < 1:
        raise DataError(f"nodes must be >= 1, got {nodes}")
    if block_ratio < 0:
        raise DataError(f"block_ratio must be >= 0, got {block_ratio}")
    d = drops(lrs)
    cs = np.cumsum(lrs)
    # Kinks: the drop changes abruptly between k-1 and k (phase boundaries, LR jumps).
    kink = np.zeros(n, dtype=bool)
    if n > 2:
        change = np.abs(d[2:] - d[1:-1])
        kink[2:] = change > kink_tolerance * np.maximum(np.abs(d[2:]), np.abs(d[1:-1])) + 1e-7 * lrs[2:]
    kink[1] = True
    with np.errstate(divide="ignore", invalid="ignore"):
        smooth_scale = np.where(d != 0, lrs / np.abs(d), np.inf)
    smooth_scale[0] = 0.0  # step 0 has no term; keep it out of interpolated blocks
    # best[e]: the largest level l such that the aligned block of 2^l steps ending at e may be interpolated.
    best = np.zeros(n, dtype=np.int64)
    cum_kink = np.concatenate([[0], np.cumsum(kink)])
    weights: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    level = 1
    while block_ratio > 0 and (1 << level) <= n:
        m = 1 << level
        n_blocks = n // m
        start = np.arange(n_blocks) * m
        end = start + m - 1
        no_kink = cum_kink[end + 1] - cum_kink[start + 1] == 0
        smin = smooth_scale[: n_blocks * m].reshape(n_blocks, m).min(axis=1)
        ok = no_kink & (m <= block_ratio * smin) & (best[end] == level - 1)
        if not ok.any():
            break
        best[end[ok]] = level
        if m > nodes:
            at = _interpolation_nodes(m, nodes)
            weights[level] = (at, d[: n_blocks * m].reshape(n_blocks, m) @ _lagrange_basis(m, at))
        level += 1
    # prev_nonzero[e]: the last step <= e with a nonzero drop (runs of equal LR contribute nothing).
    nonzero = np.flatnonzero(d != 0)
    pos = np.searchsorted(nonzero, np.arange(n), side="right") - 1
    prev_nonzero = np.where(pos >= 0, nonzero[np.maximum(pos, 0)], -1) if nonzero.size else np.full(n, -1)

    rows: list[np.ndarray] = []
    ks: list[np.ndarray] = []
    ws: list[np.ndarray] = []
    e = t.copy()
    row_ids = np.arange(t.size)
    while True:
        e = np.where(e >= 1, prev_nonzero[np.maximum(e, 0)], -1)
        active = e >= 1
        if not active.any():
            break
        ea, ta, ra = e[active], t[active], row_ids[active]
        by_distance = np.floor(np.log2(np.maximum(1.0, block_ratio * (ta - ea + 1)))).astype(np.int64)
        lv = np.minimum(best[ea], by_distance) if block_ratio > 0 else np.zeros_like(ea)
        for value in np.unique(lv):
            sel = lv == value
            m = 1 << int(value)
            ends, who = ea[sel], ra[sel]
            if m <= nodes:
                k = (ends[:, None] - m + 1 + np.arange(m)).ravel()
                rows.append(np.repeat(who, m))
                ks.append(k)
                ws.append(d[k])
            else:
                at, W = weights[int(value)]
                block = (ends + 1) // m - 1
                rows.append(np.repeat(who, at.size))
                ks.append((block[:, None] * m + at).ravel())
                ws.append(W[block].ravel())
        e = e.copy()
        e[active] = ea - (1 << lv)
    row = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    k = np.concatenate(ks) if ks else np.zeros(0, np.int64)
    w = np.concatenate(ws) if ws else np.zeros(0)
    keep = w != 0
    row, k, w = row[keep], k[keep], w[keep]
    order = np.argsort(row, kind="stable")
    row, k, w = row[order], k[order], w[order]
    zero = lrs[k] <= 0
    constant = np.bincount(row[zero], weights=w[zero], minlength=t.size)
    row, k, w = row[~zero], k[~zero], w[~zero]
    return LossDropDesign(
        row=row,
        eta=lrs[k],
        u=cs[t[row]] - cs[k - 1],
        weight=w,
        constant=constant,
        n_rows=int(t.size),
        n_exact_terms=int(np.sum(t)),
    )


# ---------------------------------------------------------------------------------------- per-run schedules
@dataclass(frozen=True, eq=False)
class Schedules(Mapping[str, np.ndarray]):
    """Per-step LR arrays by run: ``schedules[run][i]`` is the LR of step ``schedules.first_step[run] + i``.

    Build one from a long table with columns ``run, step, lr`` (:meth:`from_frame`), from arrays
    (:meth:`from_arrays`), or read a file with :func:`scalelaw.data.schedules.load_schedules`. Every run's
    steps must be contiguous (one row per optimizer step). A run's schedule starts at its first listed
    step: the areas sum from there.

    Examples
    --------
    >>> s = Schedules.from_arrays({"a": constant(100, 1e-3, warmup=10), "b": cosine(100, 1e-3)})
    >>> s.runs, s.steps("a")
    (('a', 'b'), (0, 99))
    """

    lrs: Mapping[str, np.ndarray]
    first_step: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        lrs = {}
        for run, arr in self.lrs.items():
            a = _as_lrs(arr).copy()
            a.setflags(write=False)
            lrs[str(run)] = a
        if not lrs:
            raise DataError("a schedule table needs at least one run")
        first = {str(k): int(v) for k, v in self.first_step.items()}
        object.__setattr__(self, "lrs", lrs)
        object.__setattr__(self, "first_step", {r: first.get(r, 0) for r in lrs})

    @classmethod
    def from_arrays(cls, lrs: Mapping[str, Any] | Any, first_step: int | Mapping[str, int] = 0) -> Schedules:
        """From ``{run: per-step LRs}`` or one array (a single run named ``""``)."""
        if not isinstance(lrs, Mapping):
            lrs = {"": lrs}
        first = first_step if isinstance(first_step, Mapping) else dict.fromkeys(lrs, int(first_step))
        return cls(dict(lrs), dict(first))

    @classmethod
    def from_frame(cls, frame: Any, source: str = "schedule table") -> Schedules:
        """From a table with columns ``run`` (optional for one run), ``step`` and ``lr``, one row per step."""
        import pandas as pd

        if not isinstance(frame, pd.DataFrame):
            frame = pd.DataFrame(frame)
        missing = [c for c in ("step", "lr") if c not in frame.columns]
        if missing:
            raise DataError(
                f"{source} has no column {', '.join(map(repr, missing))}; an LR schedule needs columns run, step, lr "
                f"(it has {', '.join(map(repr, frame.columns))}). Rename with --map 'YOUR NAME=lr'"
            )
        step = pd.to_numeric(frame["step"], errors="coerce").to_numpy(dtype=np.float64)
        lr = pd.to_numeric(frame["lr"], errors="coerce").to_numpy(dtype=np.float64)
        bad = ~np.isfinite(step) | ~np.isfinite(lr)
        if bad.any():
            raise DataError(f"{source}: {int(bad.sum())} row(s) have a missing or non-numeric step or lr")
        if np.any(step != np.round(step)) or np.any(step < 0):
            raise DataError(f"{source}: steps must be whole numbers >= 0")
        if np.any(lr < 0):
            raise DataError(f"{source}: learning rates must be >= 0")
        if "run" in frame.columns:
            codes, names = pd.factorize(frame["run"], sort=False)
            if (codes < 0).any():
                raise DataError(f"{source}: column 'run' is empty in {int((codes < 0).sum())} row(s)")
        else:
            codes, names = np.zeros(len(frame), dtype=np.int64), np.array([""])
        order = np.lexsort((step, codes))
        codes, step, lr = codes[order], step[order].astype(np.int64), lr[order]
        bounds = np.flatnonzero(np.diff(codes)) + 1
        lrs, first = {}, {}
        for c, s, v in zip(np.split(codes, bounds), np.split(step, bounds), np.split(lr, bounds), strict=True):
            name = str(names[c[0]])
            if np.any(np.diff(s) != 1):
                gaps = np.flatnonzero(np.diff(s) != 1)
                what = "repeats" if np.any(np.diff(s) == 0) else "skips"
                raise DataError(
                    f"{source}: run {name!r} {what} steps (first near step {s[gaps[0]]}); a schedule needs the LR of "
                    "every step, one row per step"
                )
            lrs[name], first[name] = v, int(s[0])
        return cls(lrs, first)

    # Mapping interface: run -> per-step LR array
    def __getitem__(self, run: str) -> np.ndarray:
        return self.lrs[run]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Schedules) and self.fingerprint() == other.fingerprint()

    def __hash__(self) -> int:
        return hash(self.fingerprint())

    def __iter__(self) -> Iterator[str]:
        return iter(self.lrs)

    def __len__(self) -> int:
        return len(self.lrs)

    def __repr__(self) -> str:
        shown = ", ".join(f"{r!r}: steps {a}-{b}" for r, (a, b) in ((r, self.steps(r)) for r in list(self)[:4]))
        more = f", ... ({len(self)} runs)" if len(self) > 4 else ""
        return f"Schedules({shown}{more})"

    @property
    def runs(self) -> tuple[str, ...]:
        return tuple(self.lrs)

    def steps(self, run: str) -> tuple[int, int]:
        """First and last step of ``run``'s schedule."""
        first = self.first_step[run]
        return first, first + self.lrs[run].size - 1

    def to_frame(self):
        """The long ``run, step, lr`` table."""
        import pandas as pd

        parts = [
            pd.DataFrame({"run": run, "step": np.arange(a.size) + self.first_step[run], "lr": a})
            for run, a in self.lrs.items()
        ]
        return pd.concat(parts, ignore_index=True)

    def fingerprint(self) -> str:
        """SHA-256 of every run's name, first step and LR bytes: identifies the schedules of a fit."""
        digest = hashlib.sha256()
        for run in sorted(self.lrs):
            digest.update(run.encode() + b"\x00" + str(self.first_step[run]).encode() + b"\x00")
            digest.update(np.ascontiguousarray(self.lrs[run]).tobytes())
        return "sha256:" + digest.hexdigest()

    def index(self, run: Any, step: Any) -> tuple[np.ndarray, np.ndarray]:
        """Each row's run name and index into its run's LR array; clear errors for unknown runs or steps.

        ``run`` may be ``None`` when there is exactly one schedule: every row then uses it.
        """
        step = np.atleast_1d(np.asarray(step, dtype=np.float64)).ravel()
        if run is None:
            if len(self) != 1:
                raise DataError(
                    f"the schedule table has {len(self)} runs; give each row's run (a 'run' column) to pick one"
                )
            run = np.full(step.size, self.runs[0])
        run = np.atleast_1d(np.asarray(run)).astype(str).ravel()
        if run.size == 1 and step.size > 1:
            run = np.full(step.size, run[0])
        if run.size != step.size:
            raise DataError(f"{run.size} run ids for {step.size} steps; give one run id per row")
        if not np.all(np.isfinite(step)) or np.any(step != np.round(step)):
            raise DataError("steps must be whole numbers to look up an LR schedule")
        unknown = sorted(set(np.unique(run)) - set(self.lrs))
        if unknown:
            if len(self) == 1 and set(np.unique(run)) == set(unknown) and len(unknown) == 1:
                only = self.runs[0]
                raise DataError(f"run {unknown[0]!r} has no schedule; the schedule table has only run {only!r}")
            shown = ", ".join(map(repr, unknown[:5])) + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
            raise DataError(
                f"no LR schedule for run(s) {shown}; the schedule table has runs "
                f"{', '.join(map(repr, self.runs[:8]))}{' ...' if len(self) > 8 else ''}. The schedule's 'run' column "
                "must match the curves' run ids (--map applies to both files)"
            )
        first = np.array([self.first_step[r] for r in run], dtype=np.int64) if run.size else np.zeros(0, np.int64)
        idx = step.astype(np.int64) - first
        for r in np.unique(run):
            sel = run == r
            lo, hi = self.steps(r)
            bad = (idx[sel] < 0) | (idx[sel] >= self.lrs[r].size)
            if bad.any():
                s = int(step[sel][bad][0])
                raise DataError(f"step {s} of run {r!r} lies outside its LR schedule (steps {lo} to {hi})")
        return run, idx
