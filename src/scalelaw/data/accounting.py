"""Parameters and training FLOPs of a decoder-only transformer, from its configuration.

Scaling laws are fitted on ``N`` (parameters) and ``C`` (training FLOPs), and published laws disagree
on what those words mean. This module computes every common variant from one
:class:`TransformerConfig`, so a dataset can say which kind it holds and convert between kinds.
Formulas and provenance: ``docs/laws.md`` §11 (accounting), §0 (glossary), §15.8 (oracles).

>>> gpt2 = TransformerConfig(n_layers=12, d_model=768, n_heads=12, vocab_size=50257, context_length=1024,
...                          learned_positions=True, biases=True)
>>> count_params(gpt2).total  # the released GPT-2 small checkpoint
124439808
>>> round(flops_per_token(gpt2, "6N").total / 1e6, 1)  # 6 * total params, MFLOPs per token
746.6

What is counted
---------------
Parameters (:func:`count_params`) are exact for the architectures the config can describe: pre-norm
decoder blocks with one attention and one MLP sub-block each (sequential or parallel, which does not
change the count), optional grouped-query attention, optional gated (SwiGLU/GeGLU) MLP, LayerNorm
(gain and shift) or RMSNorm (gain only), optional biases on every linear layer except the output head,
rotary/ALiBi (no parameters) or learned absolute positions, tied or untied output head.

Training FLOPs per token (:func:`flops_per_token`) come in four conventions:

``"6N"``
    ``6 * N_total`` (Chinchilla-style; laws.md §0 default ``C = 6·N·D`` with total parameters).
``"6N_ne"``
    ``6 * N_non_embedding`` (Kaplan's ``C = 6·N·B·S``, laws.md §2, §11).
``"kaplan"``
    ``6 * N_non_embedding + 6 * n_layer * n_ctx * d_attn`` (Kaplan eq. 2.2 times 3, with the context term;
    laws.md §11).
``"exact"``
    Every matrix multiply of the forward pass, times 3 for forward + backward (the backward pass does two
    matmuls per forward matmul: gradients for the activations and for the weights). Counts ``2`` FLOPs per
    multiply-accumulate for: the Q, K, V projections (``K`` and ``V`` with ``n_kv_heads``), the attention
    logits ``Q K^T`` and the weighted sum of values, the attention output projection, the MLP (two or
    three matrices), and the final vocabulary projection (logits). Not counted: the embedding lookup (not
    a matmul), softmax, norms, activations, bias additions, residual additions and rotary embeddings --
    each is ``O(1/d_model)`` or ``O(1/head_dim)`` of the matmuls counted, so they matter only for very
    narrow models.

Attention: full context or causal average
------------------------------------------
For ``"exact"`` each token's query is scored against the full ``n_ctx`` keys by default, as in Chinchilla's
appendix count (laws.md §11, [P*]) and as a dense attention kernel computes before masking. Pass
``causal_attention=True`` to count only the unmasked keys, ``(n_ctx + 1) / 2`` on average over the
positions of a sequence, which is what kernels that skip masked blocks approach. The two differ only in
the ``attention_scores`` and ``attention_values`` terms. Kaplan's context term ``2·n_layer·n_ctx·d_attn``
forward (eq. 2.2) is half of the full-context count of those two matmuls, i.e. (up to the ``+1``) the
causal average.

Kaplan vs Chinchilla counting
-----------------------------
* **Kaplan et al. 2020** (laws.md §2, §11) use **non-embedding** parameters ``N_ne ≈ 12·n_layer·d_model²``
  (:func:`kaplan_params`; token and position embeddings excluded, biases and norms neglected) and
  ``C ≈ 6·N_ne`` per token. Their eq. 2.2 has a context term ``6·n_layer·n_ctx·d_model``
  (``"kaplan"``), which they drop because it is small when ``d_model ≫ n_ctx / 12`` (1.4% for GPT-3 175B at
  n_ctx 2048, 10% for a 12-layer d=768 model at n_ctx 1024; laws.md §15.8). The output (vocabulary)
  projection is not in their ``C`` either.
* **Hoffmann et al. 2022 (Chinchilla)** (laws.md §3, §11, [P*]) count **all** parameters, embeddings included, and
  use ``C ≈ 6·N·D``, which they check against a detailed count (embeddings, QKV, attention logits, softmax
  and reduction, projections, FFN, output logits); their quoted 70B × 1.4T budget is 5.76e23 FLOPs, while
  ``6·N·D`` gives 5.88e23 (laws.md §3, §15.8).
* **Why it matters at small scale.** Embeddings are a large share of small models -- 32% of GPT-2 small,
  73% of Pythia-70M -- and a negligible share of large ones. Counting only ``N_ne`` therefore changes
  the local slope of any law in ``N`` or ``C`` fitted on small models (mechanism [P*] in laws.md):
  Pearce & Song 2024 show that counting non-embedding parameters while studying small models explains
  much of the gap between Kaplan's ``N_opt ∝ C^0.73`` and Chinchilla's ``C^0.50``, and recommend total
  parameters and total compute (laws.md §11). Porian et al. 2024 name the **last-layer** (vocabulary
  projection) FLOPs left out of Kaplan's compute as one of three factors that reconcile the two laws
  (laws.md §11); at GPT-2-small size that matmul is 27% of the exact training FLOPs at n_ctx 1024 (see
  the ``logits`` term of ``"exact"``).
* **Tied vs untied heads.** With a tied head, ``6·N_total`` counts the shared matrix once, which matches
  the ``6·V·d_model`` of the logits matmul (the input lookup costs no matmul). With an untied head,
  ``6·N_total`` also charges ``6·V·d_model`` for the input table, which no matmul uses.

Never mix kinds in one fit: a dataset should declare ``non_embedding`` or ``total`` parameters and
``6ND``, ``6ND+attn`` or reported FLOPs (laws.md §11).
"""

from __future__ import annotations

import numbers
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

import numpy as np
import pandas as pd

from scalelaw._result import Result
from scalelaw.errors import DataError

Convention = Literal["6N", "6N_ne", "kaplan", "exact"]

#: FLOP conventions understood by :func:`flops_per_token` and what each one counts.
CONVENTIONS: dict[str, str] = {
    "6N": "6 x total parameters (Chinchilla-style, embeddings included)",
    "6N_ne": "6 x non-embedding parameters (Kaplan's C = 6N)",
    "kaplan": "6 x non-embedding parameters + 6 x n_layer x n_ctx x d_attn (Kaplan eq. 2.2 with attention)",
    "exact": "3 x forward matmul FLOPs: QKV, attention logits and values, projections, MLP, output logits",
}

#: Normalization layers and their parameters per ``d_model``: LayerNorm has a gain and a shift, RMSNorm a gain.
NORMS: dict[str, int] = {"layernorm": 2, "rmsnorm": 1}

# Terms of a FlopCount that grow with the context length.
_CONTEXT_TERMS = frozenset({"attention_context", "attention_scores", "attention_values"})


def _positive_int(name: str, value: Any) -> int:
    """``value`` as an ``int`` if it is a whole number > 0, else a :class:`DataError` naming ``name``."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        raise DataError(f"{name} must be a positive integer, got {value!r} ({type(value).__name__})")
    if not (np.isfinite(value) and float(value).is_integer() and value > 0):
        raise DataError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool | np.bool_):
        raise DataError(f"{name} must be True or False, got {value!r} ({type(value).__name__})")
    return bool(value)


@dataclass(frozen=True)
class TransformerConfig:
    """Shape of a decoder-only transformer, enough to count its parameters and FLOPs.

    ``d_ff``, ``n_kv_heads`` and ``head_dim`` are resolved on construction, so after it they are always
    integers (``TransformerConfig(..., d_ff=None).d_ff == 4 * d_model``).

    Parameters
    ----------
    n_layers : int
        Number of transformer blocks.
    d_model : int
        Width of the residual stream (``hidden_size``).
    n_heads : int
        Query heads per attention layer.
    vocab_size : int
        Rows of the token embedding, as stored (padded vocabularies count their padding).
    context_length : int
        Sequence length ``n_ctx`` used in training; sets the attention FLOPs and, with
        ``learned_positions``, the size of the position table.
    d_ff : int, optional
        Hidden width of the MLP (``intermediate_size``). Default ``4 * d_model``; gated models use other
        widths (Llama-2-7B: 11008), so pass it for them.
    n_kv_heads : int, optional
        Key/value heads (grouped-query attention; 1 is multi-query). Default ``n_heads`` (multi-head).
        Must divide ``n_heads``.
    head_dim : int, optional
        Width of one head. Default ``d_model // n_heads``, which then must divide exactly.
    tied_embeddings : bool
        The output head reuses the token embedding matrix (GPT-2) instead of having its own (Llama, Pythia).
    gated_mlp : bool
        Gated MLP (SwiGLU, GeGLU): three ``d_model x d_ff`` matrices instead of two.
    learned_positions : bool
        A learned absolute position table of ``context_length x d_model`` (GPT-2). False for rotary or ALiBi.
    biases : bool
        Every linear layer in the blocks has a bias (GPT-2, Pythia). The output head never has one.
    norm : {"layernorm", "rmsnorm"}
        LayerNorm has a gain and a shift (``2 * d_model`` parameters), RMSNorm a gain (``d_model``).
    final_norm : bool
        A norm after the last block, before the output head.

    Raises
    ------
    DataError
        For a non-positive or non-integer size, a ``d_model`` that ``n_heads`` does not divide (without
        ``head_dim``), an ``n_kv_heads`` that does not divide ``n_heads``, or an unknown ``norm``.

    Examples
    --------
    Llama-2-7B (Hugging Face ``config.json``):

    >>> llama2 = TransformerConfig(n_layers=32, d_model=4096, n_heads=32, vocab_size=32000, context_length=4096,
    ...                            d_ff=11008, tied_embeddings=False, gated_mlp=True, norm="rmsnorm")
    >>> llama2.head_dim, llama2.n_kv_heads
    (128, 32)
    >>> TransformerConfig(n_layers=2, d_model=100, n_heads=3, vocab_size=10, context_length=8)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    scalelaw.errors.DataError: d_model = 100 is not divisible by n_heads = 3; pass head_dim explicitly ...
    """

    n_layers: int
    d_model: int
    n_heads: int
    vocab_size: int
    context_length: int
    d_ff: int | None = None
    n_kv_heads: int | None = None
    head_dim: int | None = None
    tied_embeddings: bool = True
    gated_mlp: bool = False
    learned_positions: bool = False
    biases: bool = False
    norm: str = "layernorm"
    final_norm: bool = True

    def __post_init__(self) -> None:
        def put(name: str, value: Any) -> None:
            object.__setattr__(self, name, value)

        for name in ("n_layers", "d_model", "n_heads", "vocab_size", "context_length"):
            put(name, _positive_int(name, getattr(self, name)))
        put("d_ff", 4 * self.d_model if self.d_ff is None else _positive_int("d_ff", self.d_ff))
        if self.head_dim is None:
            if self.d_model % self.n_heads:
                raise DataError(
                    f"d_model = {self.d_model} is not divisible by n_heads = {self.n_heads}; "
                    "pass head_dim explicitly if the heads do not split d_model evenly"
                )
            put("head_dim", self.d_model // self.n_heads)
        else:
            put("head_dim", _positive_int("head_dim", self.head_dim))
        if self.n_kv_heads is None:
            put("n_kv_heads", self.n_heads)
        else:
            put("n_kv_heads", _positive_int("n_kv_heads", self.n_kv_heads))
            if self.n_heads % self.n_kv_heads:
                raise DataError(
                    f"n_heads = {self.n_heads} is not divisible by n_kv_heads = {self.n_kv_heads}; in grouped-query "
                    "attention every key/value head serves the same number of query heads"
                )
        for name in ("tied_embeddings", "gated_mlp", "learned_positions", "biases", "final_norm"):
            put(name, _flag(name, getattr(self, name)))
        if self.norm not in NORMS:
            raise DataError(f"norm must be one of {', '.join(map(repr, NORMS))}, got {self.norm!r}")

    @property
    def d_attn(self) -> int:
        """Width of all query heads together, ``n_heads * head_dim`` (Kaplan's ``d_attn``)."""
        return self.n_heads * self.head_dim

    @property
    def d_kv(self) -> int:
        """Width of all key (or value) heads together, ``n_kv_heads * head_dim``."""
        return self.n_kv_heads * self.head_dim

    def to_dict(self) -> dict[str, Any]:
        """Plain ``dict`` of the (resolved) fields; :meth:`from_dict` inverts it."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TransformerConfig:
        """Build a config from :meth:`to_dict` output (or any dict with the field names)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise DataError(
                f"unknown TransformerConfig field(s) {', '.join(map(repr, unknown))}; known: {', '.join(sorted(known))}"
            )
        return cls(**data)


@dataclass(frozen=True)
class ParamCount(Result):
    """Parameters of a :class:`TransformerConfig`, split by role.

    ``total = non_embedding + embedding`` and ``non_embedding = attention + mlp + norms + biases``.

    Attributes
    ----------
    total : int
        Every trainable parameter, counted once (a tied head is not counted twice).
    non_embedding : int
        ``total`` minus ``embedding``: Kaplan's ``N`` and the Pythia README's "non-embedding params"
        (blocks, their biases and norms, the final norm).
    embedding : int
        Token embedding ``vocab_size x d_model``, plus the output head ``vocab_size x d_model`` when untied,
        plus the position table ``context_length x d_model`` when learned.
    attention : int
        Weight matrices of the attention sub-blocks: Q (``d_model x d_attn``), K and V (``d_model x d_kv``
        each) and the output projection (``d_attn x d_model``), over all layers. No biases.
    mlp : int
        Weight matrices of the MLPs, two (or three when gated) ``d_model x d_ff``, over all layers. No biases.
    norms : int
        Gains (and LayerNorm shifts) of the two norms per block and of the final norm.
    biases : int
        Biases of the linear layers in the blocks (Q, K, V, attention output, MLP); 0 without ``biases``.
    """

    total: int
    non_embedding: int
    embedding: int
    attention: int
    mlp: int
    norms: int
    biases: int

    def to_dict(self) -> dict[str, int]:
        """Every count by name, in field order."""
        return asdict(self)

    def to_frame(self) -> pd.DataFrame:
        """One row per count: ``part, parameters, share`` (the share of :attr:`total`; the parts overlap).

        Returns
        -------
        pandas.DataFrame
        """
        counts = self.to_dict()
        return pd.DataFrame(
            {
                "part": list(counts),
                "parameters": list(counts.values()),
                "share": [v / self.total for v in counts.values()],
            }
        )

    def summary(self) -> str:
        """The total split into non-embedding and embedding, then the non-embedding parts."""
        return (
            f"{self.total:,} parameters: {self.non_embedding:,} non-embedding + {self.embedding:,} embedding\n"
            f"attention {self.attention:,}, mlp {self.mlp:,}, norms {self.norms:,}, biases {self.biases:,}"
        )


def count_params(config: TransformerConfig) -> ParamCount:
    """Count the parameters of ``config`` exactly, split into embedding and non-embedding parts.

    Parameters
    ----------
    config : TransformerConfig

    Returns
    -------
    ParamCount

    Examples
    --------
    Mistral-7B: grouped-query attention with 8 key/value heads, SwiGLU width 14336, untied head.

    >>> mistral = TransformerConfig(n_layers=32, d_model=4096, n_heads=32, n_kv_heads=8, vocab_size=32000,
    ...                             context_length=8192, d_ff=14336, tied_embeddings=False, gated_mlp=True,
    ...                             norm="rmsnorm")
    >>> p = count_params(mistral)
    >>> p.total, p.embedding
    (7241732096, 262144000)
    >>> p.total == p.non_embedding + p.embedding == p.attention + p.mlp + p.norms + p.biases + p.embedding
    True
    """
    c = config
    d, L = c.d_model, c.n_layers
    attention = L * (d * (c.d_attn + 2 * c.d_kv) + c.d_attn * d)
    n_mlp_matrices = 3 if c.gated_mlp else 2
    mlp = L * n_mlp_matrices * d * c.d_ff
    per_norm = NORMS[c.norm] * d
    norms = (2 * L + (1 if c.final_norm else 0)) * per_norm
    biases = 0
    if c.biases:
        biases = L * ((c.d_attn + 2 * c.d_kv) + d + (n_mlp_matrices - 1) * c.d_ff + d)
    embedding = c.vocab_size * d * (1 if c.tied_embeddings else 2)
    if c.learned_positions:
        embedding += c.context_length * d
    non_embedding = attention + mlp + norms + biases
    return ParamCount(
        total=non_embedding + embedding,
        non_embedding=non_embedding,
        embedding=embedding,
        attention=attention,
        mlp=mlp,
        norms=norms,
        biases=biases,
    )


@dataclass(frozen=True)
class FlopCount(Result):
    """Training FLOPs per token (forward + backward) under one convention, with its named terms.

    Attributes
    ----------
    convention : str
        One of :data:`CONVENTIONS`.
    terms : tuple of (str, float)
        Named parts of the total, in training FLOPs per token. ``"6N"``: ``parameters``; ``"6N_ne"``:
        ``non_embedding``; ``"kaplan"``: ``non_embedding``, ``attention_context``; ``"exact"``: ``qkv``,
        ``attention_scores`` (``Q K^T``), ``attention_values`` (weights times ``V``), ``attention_output``,
        ``mlp``, ``logits``.
    """

    convention: str
    terms: tuple[tuple[str, float], ...]

    @property
    def total(self) -> float:
        """Training FLOPs per token, forward + backward."""
        return float(sum(value for _, value in self.terms))

    @property
    def forward(self) -> float:
        """Forward FLOPs per token (a third of :attr:`total`: the backward pass costs twice the forward)."""
        return self.total / 3.0

    @property
    def attention(self) -> float:
        """The part of :attr:`total` that grows with the context length (0 for ``"6N"`` and ``"6N_ne"``)."""
        return float(sum(value for name, value in self.terms if name in _CONTEXT_TERMS))

    @property
    def attention_share(self) -> float:
        """:attr:`attention` as a fraction of :attr:`total`."""
        return self.attention / self.total

    def to_dict(self) -> dict[str, float]:
        """The terms as a ``dict``, in order."""
        return dict(self.terms)

    def to_frame(self) -> pd.DataFrame:
        """One row per term: ``term, flops_per_token, share`` (of :attr:`total`).

        Returns
        -------
        pandas.DataFrame
        """
        names, values = [n for n, _ in self.terms], [v for _, v in self.terms]
        return pd.DataFrame({"term": names, "flops_per_token": values, "share": [v / self.total for v in values]})

    def summary(self) -> str:
        """The total and the attention share, then the terms."""
        return (
            f"{self.total:.4g} training FLOPs per token ({self.convention}), {self.attention_share:.1%} in attention\n"
            + ", ".join(f"{name} {value:.4g}" for name, value in self.terms)
        )


def flops_per_token(
    config: TransformerConfig, convention: Convention = "6N", *, causal_attention: bool = False
) -> FlopCount:
    """Training FLOPs per token (forward + backward) of ``config`` under ``convention``.

    Parameters
    ----------
    config : TransformerConfig
    convention : {"6N", "6N_ne", "kaplan", "exact"}
        ``"6N"``: ``6·N_total`` (Chinchilla-style). ``"6N_ne"``: ``6·N_non_embedding`` (Kaplan's ``C = 6N``).
        ``"kaplan"``: ``6·N_non_embedding + 6·n_layer·n_ctx·d_attn`` (Kaplan eq. 2.2 with the attention
        term). ``"exact"``: 3 x the forward matmul FLOPs, including attention and the output logits. See
        the module docstring for what each leaves out.
    causal_attention : bool
        Only for ``"exact"``: count the ``(n_ctx + 1) / 2`` unmasked keys a query sees on average instead
        of the full ``n_ctx`` (the default, as Chinchilla's appendix does).

    Returns
    -------
    FlopCount

    Raises
    ------
    DataError
        For an unknown convention, or ``causal_attention`` with a convention other than ``"exact"``.

    Examples
    --------
    GPT-3 175B shape at n_ctx 2048 (laws.md §15.8: Kaplan FLOPs/token 1.0582e12, attention 1.370%; that
    oracle uses ``N = 12·n_layer·d_model²``, which leaves out the 15M bias and norm parameters counted here):

    >>> gpt3 = TransformerConfig(n_layers=96, d_model=12288, n_heads=96, vocab_size=50257, context_length=2048,
    ...                          learned_positions=True, biases=True)
    >>> kaplan = flops_per_token(gpt3, "kaplan")
    >>> f"{kaplan.total:.4e}", f"{kaplan.attention_share:.3%}"
    ('1.0583e+12', '1.370%')
    >>> exact = flops_per_token(gpt3, "exact")
    >>> f"{exact.total / flops_per_token(gpt3, '6N').total:.4f}"
    '1.0274'
    """
    if convention not in CONVENTIONS:
        options = "; ".join(f"{name!r}: {meaning}" for name, meaning in CONVENTIONS.items())
        raise DataError(f"unknown FLOP convention {convention!r}; choose one of {options}")
    if _flag("causal_attention", causal_attention) and convention != "exact":
        raise DataError(
            f"causal_attention applies only to convention='exact'; the {convention!r} convention has a fixed "
            "context term"
        )
    c = config
    d, L, n_ctx = c.d_model, c.n_layers, c.context_length
    params = count_params(c)
    if convention == "6N":
        terms = [("parameters", 6 * params.total)]
    elif convention == "6N_ne":
        terms = [("non_embedding", 6 * params.non_embedding)]
    elif convention == "kaplan":
        terms = [("non_embedding", 6 * params.non_embedding), ("attention_context", 6 * L * n_ctx * c.d_attn)]
    else:
        # 2 FLOPs per multiply-accumulate, times 3 for forward + backward: 6 per MAC.
        keys = (n_ctx + 1) / 2 if causal_attention else n_ctx
        terms = [
            ("qkv", 6 * L * d * (c.d_attn + 2 * c.d_kv)),
            ("attention_scores", 6 * L * keys * c.d_attn),
            ("attention_values", 6 * L * keys * c.d_attn),
            ("attention_output", 6 * L * c.d_attn * d),
            ("mlp", 6 * L * (3 if c.gated_mlp else 2) * d * c.d_ff),
            ("logits", 6 * d * c.vocab_size),
        ]
    return FlopCount(convention=convention, terms=tuple((name, float(value)) for name, value in terms))


def training_flops(
    config: TransformerConfig,
    tokens: float | np.ndarray,
    convention: Convention = "6N",
    *,
    causal_attention: bool = False,
) -> float | np.ndarray:
    """Training FLOPs for ``tokens`` tokens: :func:`flops_per_token` times ``tokens``.

    Parameters
    ----------
    config : TransformerConfig
    tokens : float or array-like
        Training tokens ``D`` (repeats counted), >= 0.
    convention, causal_attention
        As in :func:`flops_per_token`.

    Returns
    -------
    float or numpy.ndarray
        A float for a scalar ``tokens``, else an array of its shape.

    Examples
    --------
    >>> pythia_160m = TransformerConfig(n_layers=12, d_model=768, n_heads=12, vocab_size=50304,
    ...                                 context_length=2048, tied_embeddings=False, biases=True)
    >>> f"{training_flops(pythia_160m, 299_892_736_000):.4e}"  # 143000 steps x 2,097,152 tokens
    '2.9208e+20'
    """
    per_token = flops_per_token(config, convention, causal_attention=causal_attention).total
    try:
        values = np.asarray(tokens, dtype=float)
    except (TypeError, ValueError) as exc:
        raise DataError(f"tokens must be a number or an array of numbers, got {tokens!r}") from exc
    bad = ~np.isfinite(values) | (values < 0)
    if bad.any():
        raise DataError(
            f"tokens has {int(bad.sum())} negative or non-finite value(s); training tokens must be finite and >= 0"
        )
    result = per_token * values
    return float(result) if result.ndim == 0 else result


def _sizes(**named: Any) -> tuple[list[np.ndarray], bool]:
    """Validate whole positive sizes (scalars or arrays); return them as arrays and whether all were scalars."""
    arrays, scalar = [], True
    for name, value in named.items():
        try:
            array = np.asarray(value, dtype=float)
        except (TypeError, ValueError) as exc:
            raise DataError(f"{name} must be a positive integer or an array of them, got {value!r}") from exc
        if isinstance(value, bool | np.bool_) or array.dtype == bool:
            raise DataError(f"{name} must be a positive integer, got {value!r}")
        bad = ~np.isfinite(array) | (array <= 0) | (array != np.round(array))
        if bad.any():
            shown = array[bad].ravel()[:3].tolist() if array.ndim else [array.item()]
            raise DataError(f"{name} must be positive integers; got {shown}")
        arrays.append(array)
        scalar = scalar and array.ndim == 0
    return arrays, scalar


def kaplan_params(n_layers: int | np.ndarray, d_model: int | np.ndarray) -> int | np.ndarray:
    """Kaplan's approximate non-embedding parameter count ``N ≈ 12·n_layer·d_model²`` (laws.md §11).

    Kaplan eq. 2.1 ``2·d_model·n_layer·(2·d_attn + d_ff)`` with ``d_attn = d_model`` and ``d_ff = 4·d_model``;
    excludes embeddings, biases and norms. :func:`count_params` gives the exact count.

    Parameters
    ----------
    n_layers, d_model : int or array-like
        Whole numbers > 0; arrays broadcast.

    Returns
    -------
    int or numpy.ndarray
        An exact ``int`` for scalar inputs, else a float array.

    Examples
    --------
    >>> kaplan_params(96, 12288)  # GPT-3 175B shape (laws.md §15.8: 1.7395e11)
    173946175488
    >>> kaplan_params([12, 24], [768, 1024])
    array([8.49346560e+07, 3.01989888e+08])
    """
    (L, d), scalar = _sizes(n_layers=n_layers, d_model=d_model)
    if scalar:
        return 12 * int(L) * int(d) ** 2
    return 12.0 * L * d**2


def deepseek_m(n_layers: int | np.ndarray, d_model: int | np.ndarray, seq_len: int | np.ndarray) -> int | np.ndarray:
    """DeepSeek LLM's non-embedding training FLOPs per token ``M = 72·n_layer·d_model² + 6·n_layer·d_model·l_seq``.

    Bi et al. 2024 use ``M`` instead of ``N`` as the model-scale axis (laws.md §11). It equals the
    ``"kaplan"`` convention with ``N = 12·n_layer·d_model²``: ``6·kaplan_params + 6·n_layer·seq_len·d_model``.

    Arguments and result as :func:`kaplan_params`, with ``seq_len`` the training context length.

    Examples
    --------
    >>> f"{deepseek_m(96, 12288, 2048):.4e}"  # GPT-3 shape; = Kaplan FLOPs/token of laws.md §15.8
    '1.0582e+12'
    """
    (L, d, s), scalar = _sizes(n_layers=n_layers, d_model=d_model, seq_len=seq_len)
    if scalar:
        L, d, s = int(L), int(d), int(s)
        return 72 * L * d**2 + 6 * L * d * s
    return 72.0 * L * d**2 + 6.0 * L * d * s
