"""A tiny GPT-style decoder-only transformer in torch, shaped by :class:`scalelaw.data.accounting.TransformerConfig`.

Architecture (GPT-2 without biases): learned token and position embeddings, pre-norm blocks of causal
multi-head attention and a 4x GELU MLP, LayerNorm (gain and shift), a final LayerNorm and an output head
tied to the token embedding. :func:`model_config` (:func:`scalelaw.sweep.config.gpt_config`) describes
exactly this shape to :func:`scalelaw.data.accounting.count_params`, and :func:`build_model` checks that the
torch module has that many parameters, so the ``params`` and ``flops`` columns of a sweep are the
accounting module's numbers for the model that was really trained.

Initialization is deterministic: every weight is drawn from a :class:`torch.Generator` seeded with the
run's seed (normal, std 0.02; residual output projections 0.02 / sqrt(2 * n_layers), as in GPT-2), never
from torch's global random state.
"""

from __future__ import annotations

import math

from scalelaw.data.accounting import TransformerConfig, count_params
from scalelaw.sweep import require_torch
from scalelaw.sweep.config import gpt_config as model_config

torch = require_torch()
nn = torch.nn
F = torch.nn.functional

__all__ = ["GPT", "build_model", "model_config"]


class Attention(nn.Module):
    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.n_heads, self.head_dim = config.n_heads, config.head_dim
        self.qkv = nn.Linear(config.d_model, 3 * config.d_attn, bias=False)
        self.out = nn.Linear(config.d_attn, config.d_model, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, _ = x.shape
        q, k, v = self.qkv(x).view(batch, length, 3, self.n_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.out(y.transpose(1, 2).reshape(batch, length, self.n_heads * self.head_dim))


class Block(nn.Module):
    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(config.d_model)
        self.attn = Attention(config)
        self.norm2 = nn.LayerNorm(config.d_model)
        self.up = nn.Linear(config.d_model, config.d_ff, bias=False)
        self.down = nn.Linear(config.d_ff, config.d_model, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.down(F.gelu(self.up(self.norm2(x))))


class GPT(nn.Module):
    """Decoder-only transformer; ``forward(tokens)`` returns logits of shape ``(batch, length, vocab)``."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.config = config
        self.tokens = nn.Embedding(config.vocab_size, config.d_model)
        self.positions = nn.Embedding(config.context_length, config.d_model)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layers))
        self.norm = nn.LayerNorm(config.d_model)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        length = tokens.shape[1]
        x = self.tokens(tokens) + self.positions(torch.arange(length, device=tokens.device))
        for block in self.blocks:
            x = block(x)
        return F.linear(self.norm(x), self.tokens.weight)  # head tied to the token embedding

    def loss(self, tokens: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Mean next-token cross-entropy in nats."""
        logits = self(tokens)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


def build_model(config: TransformerConfig, seed: int) -> GPT:
    """A :class:`GPT` of shape ``config`` with weights drawn from a generator seeded with ``seed``.

    Raises
    ------
    AssertionError
        If the module's parameter count differs from :func:`scalelaw.data.accounting.count_params` (a bug).
    """
    model = GPT(config)
    generator = torch.Generator().manual_seed(int(seed))
    residual_std = 0.02 / math.sqrt(2 * config.n_layers)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith(("attn.out.weight", "down.weight")):
                nn.init.normal_(param, 0.0, residual_std, generator=generator)
            elif param.dim() >= 2:
                nn.init.normal_(param, 0.0, 0.02, generator=generator)
            elif name.endswith("weight"):
                nn.init.ones_(param)
            else:
                nn.init.zeros_(param)
    n = sum(p.numel() for p in model.parameters())
    expected = count_params(config).total
    assert n == expected, f"GPT has {n} parameters but accounting counts {expected} for {config}"
    return model
