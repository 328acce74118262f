"""Parameter and FLOP accounting (scalelaw.data.accounting): laws.md §15.8 oracles, published model sizes,
the structure of each FLOP convention, validation, and properties (hypothesis)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scalelaw.data.accounting import (
    CONVENTIONS,
    FlopCount,
    ParamCount,
    TransformerConfig,
    count_params,
    deepseek_m,
    flops_per_token,
    kaplan_params,
    training_flops,
)
from scalelaw.errors import DataError

PYTHIA_EVALS = Path(__file__).resolve().parents[2] / "shared" / "data" / "pythia_evals" / "evals_by_checkpoint.csv"


def gpt2(n_layers: int, d_model: int, n_heads: int) -> TransformerConfig:
    """GPT-2 family (Hugging Face ``gpt2*`` config.json: vocab_size 50257, n_positions 1024, n_inner null = 4 d).

    Learned absolute positions, biases on every Conv1D, LayerNorm (gain + shift) before each sub-block and
    after the last block (ln_f), output head tied to wte.
    """
    return TransformerConfig(
        n_layers=n_layers,
        d_model=d_model,
        n_heads=n_heads,
        vocab_size=50257,
        context_length=1024,
        learned_positions=True,
        biases=True,
    )


def pythia(n_layers: int, d_model: int, n_heads: int, vocab_size: int = 50304) -> TransformerConfig:
    """Pythia / GPT-NeoX (Hugging Face ``EleutherAI/pythia-*`` config.json).

    Rotary positions (no position table), biases on query_key_value, dense, dense_h_to_4h, dense_4h_to_h,
    LayerNorm with bias (input_layernorm, post_attention_layernorm, final_layer_norm), untied embed_in /
    embed_out (tie_word_embeddings false), intermediate_size = 4 d, max_position_embeddings 2048. Parallel
    attention + MLP does not change the count. The vocabulary is padded: 50304 up to 2.8B, 50432 for 6.9B,
    50688 for 12B (config.json vocab_size; also implied exactly by the model card's total - non-embedding
    = 2 x vocab x d_model).
    """
    return TransformerConfig(
        n_layers=n_layers,
        d_model=d_model,
        n_heads=n_heads,
        vocab_size=vocab_size,
        context_length=2048,
        tied_embeddings=False,
        biases=True,
    )


def llama_like(
    n_layers: int,
    d_model: int,
    n_heads: int,
    d_ff: int,
    vocab_size: int,
    n_kv_heads: int | None = None,
    head_dim: int | None = None,
    tied: bool = False,
    context_length: int = 4096,
) -> TransformerConfig:
    """Llama-style decoder: rotary, RMSNorm (gain only), SwiGLU/GeGLU MLP (gate, up, down), no biases."""
    return TransformerConfig(
        n_layers=n_layers,
        d_model=d_model,
        n_heads=n_heads,
        n_kv_heads=n_kv_heads,
        head_dim=head_dim,
        vocab_size=vocab_size,
        context_length=context_length,
        d_ff=d_ff,
        tied_embeddings=tied,
        gated_mlp=True,
        norm="rmsnorm",
    )


GPT2_SMALL = gpt2(12, 768, 12)
GPT3_175B = TransformerConfig(
    n_layers=96, d_model=12288, n_heads=96, vocab_size=50257, context_length=2048, learned_positions=True, biases=True
)


# ------------------------------------------------------------------------------ laws.md §15.8 oracles


def test_gpt3_shape_oracles():
    # laws.md §15.8 [S oracle on a published shape]: GPT-3 175B, 96 layers, d_model 12288, n_ctx 2048.
    n = kaplan_params(96, 12288)
    assert n == 12 * 96 * 12288**2 == 173_946_175_488
    assert n == pytest.approx(1.7395e11, rel=1e-3)
    assert 6 * n == pytest.approx(1.0437e12, rel=1e-3)
    # Kaplan training FLOPs/token with the attention term = DeepSeek's M on the same shape.
    m = deepseek_m(96, 12288, 2048)
    assert m == pytest.approx(1.0582e12, rel=1e-3)
    assert (6 * 96 * 2048 * 12288) / m == pytest.approx(0.01370, abs=5e-6)


def test_gpt3_kaplan_convention_from_config():
    # The same oracle through a full config: N_ne there also holds 13·L·d + 2·d bias and norm parameters
    # (15.4M of 1.74e11), which moves the result by 1e-4 relative -- inside laws.md's rtol 1e-3.
    count = flops_per_token(GPT3_175B, "kaplan")
    assert count.total == pytest.approx(1.0582e12, rel=1e-3)
    assert count.attention == 6 * 96 * 2048 * 12288
    assert count.attention_share == pytest.approx(0.01370, rel=1e-3)
    assert count_params(GPT3_175B).non_embedding == pytest.approx(1.7395e11, rel=1e-3)


def test_gpt2_small_shape_oracles():
    # laws.md §15.8: GPT-2-small shape (12 layers, d 768): 12·n_layer·d² = 8.4935e7; embeddings
    # (50257 + 1024) x 768 = 3.9384e7; attention share of Kaplan FLOPs at n_ctx 1024 = 10.000%.
    assert kaplan_params(12, 768) == 84_934_656 == pytest.approx(8.4935e7, rel=1e-4)
    assert count_params(GPT2_SMALL).embedding == (50257 + 1024) * 768 == 39_383_808
    assert count_params(GPT2_SMALL).embedding == pytest.approx(3.9384e7, rel=1e-4)
    assert (6 * 12 * 1024 * 768) / deepseek_m(12, 768, 1024) == pytest.approx(0.10000, abs=5e-6)
    # From the config, N_ne = 85,056,000 includes biases and norms: the share drops to 9.987%.
    assert flops_per_token(GPT2_SMALL, "kaplan").attention_share == pytest.approx(0.10, rel=2e-3)


# ------------------------------------------------------------------------------ published model sizes

# (name, config, total, non_embedding or None). Totals are the released checkpoints' parameter counts
# (sum of numel over model.parameters(), buffers excluded) as printed by Hugging Face / model cards.
PUBLISHED = [
    # GPT-2 (Radford et al. 2019; HF gpt2, gpt2-medium, gpt2-large, gpt2-xl: n_layer / n_embd / n_head
    # 12/768/12, 24/1024/16, 36/1280/20, 48/1600/25). Released-checkpoint counts.
    ("gpt2", gpt2(12, 768, 12), 124_439_808, 85_056_000),
    ("gpt2-medium", gpt2(24, 1024, 16), 354_823_168, None),
    ("gpt2-large", gpt2(36, 1280, 20), 774_030_080, None),
    ("gpt2-xl", gpt2(48, 1600, 25), 1_557_611_200, None),
    # Pythia model card (HF EleutherAI/pythia-*, "Naming convention and parameter count" table for totals and
    # non-embedding counts; "Engineering details" table for layers / model dim / heads).
    ("pythia-70m", pythia(6, 512, 8), 70_426_624, 18_915_328),
    ("pythia-160m", pythia(12, 768, 12), 162_322_944, 85_056_000),
    ("pythia-410m", pythia(24, 1024, 16), 405_334_016, 302_311_424),
    ("pythia-1b", pythia(16, 2048, 8), 1_011_781_632, 805_736_448),
    ("pythia-1.4b", pythia(24, 2048, 16), 1_414_647_808, 1_208_602_624),
    ("pythia-2.8b", pythia(32, 2560, 32), 2_775_208_960, 2_517_652_480),
    ("pythia-6.9b", pythia(32, 4096, 32, vocab_size=50432), 6_857_302_016, 6_444_163_072),
    ("pythia-12b", pythia(36, 5120, 40, vocab_size=50688), 11_846_072_320, 11_327_027_200),
    # Llama-2-7B (HF meta-llama/Llama-2-7b-hf config.json: hidden 4096, 32 layers, 32 heads, intermediate
    # 11008, vocab 32000, tie_word_embeddings false, RMSNorm, no biases).
    ("llama-2-7b", llama_like(32, 4096, 32, d_ff=11008, vocab_size=32000), 6_738_415_616, None),
    # Mistral-7B-v0.1 (config.json: hidden 4096, 32 layers, 32 heads, 8 kv heads, intermediate 14336,
    # vocab 32000, untied).
    ("mistral-7b", llama_like(32, 4096, 32, d_ff=14336, vocab_size=32000, n_kv_heads=8), 7_241_732_096, None),
    # Llama-3-8B / 3.1-8B (config.json: hidden 4096, 32 layers, 32 heads, 8 kv heads, intermediate 14336,
    # vocab 128256, untied); 8,030,261,248 is also Meta's published count.
    ("llama-3-8b", llama_like(32, 4096, 32, d_ff=14336, vocab_size=128256, n_kv_heads=8), 8_030_261_248, None),
    # TinyLlama-1.1B (config.json: hidden 2048, 22 layers, 32 heads, 4 kv heads, intermediate 5632, vocab 32000,
    # untied).
    ("tinyllama-1.1b", llama_like(22, 2048, 32, d_ff=5632, vocab_size=32000, n_kv_heads=4), 1_100_048_384, None),
    # SmolLM2-135M (config.json: hidden 576, 30 layers, 9 heads, 3 kv heads, intermediate 1536, vocab 49152,
    # tie_word_embeddings true).
    ("smollm2-135m", llama_like(30, 576, 9, d_ff=1536, vocab_size=49152, n_kv_heads=3, tied=True), 134_515_008, None),
    # Gemma-2B (google/gemma-2b config.json: hidden 2048, 18 layers, 8 heads, 1 kv head (MQA), head_dim 256,
    # intermediate 16384 GeGLU, vocab 256000, tied; RMSNorm gain stored as d_model values).
    (
        "gemma-2b",
        llama_like(18, 2048, 8, d_ff=16384, vocab_size=256000, n_kv_heads=1, head_dim=256, tied=True),
        2_506_172_416,
        None,
    ),
]


@pytest.mark.parametrize(("name", "config", "total", "non_embedding"), PUBLISHED, ids=[row[0] for row in PUBLISHED])
def test_published_parameter_counts(name, config, total, non_embedding):
    p = count_params(config)
    assert p.total == total, f"{name}: counted {p.total:,}, published {total:,}"
    if non_embedding is not None:
        assert p.non_embedding == non_embedding


def test_pythia_non_embedding_matches_source_formula():
    # shared/data/pythia_evals/SOURCE.md: non-embedding = 12·L·d² + 13·L·d + 2·d for a GPT-NeoX block with
    # biases (QKV 3d + dense d + MLP 4d + d = 9d) and two LayerNorms (4d), plus the final LayerNorm (2d).
    for _, config, _, _ in (row for row in PUBLISHED if row[0].startswith("pythia")):
        L, d = config.n_layers, config.d_model
        p = count_params(config)
        assert p.non_embedding == 12 * L * d**2 + 13 * L * d + 2 * d
        assert p.biases == 9 * L * d
        assert p.norms == 4 * L * d + 2 * d


@pytest.mark.skipif(not PYTHIA_EVALS.exists(), reason="shared/data/pythia_evals not available")
def test_pythia_non_embedding_matches_bundled_dataset():
    table = pd.read_csv(PYTHIA_EVALS)[["n_layers", "d_model", "non_embedding_params"]].drop_duplicates()
    assert len(table) == 8
    for row in table.itertuples(index=False):  # the head count does not change the count; 8 divides every width
        config = pythia(int(row.n_layers), int(row.d_model), 8)
        assert count_params(config).non_embedding == row.non_embedding_params


def test_pythia_160m_breakdown():
    # Pythia-160M checkpoint: embed_in and embed_out are 50304 x 768 = 38,633,472 each (untied).
    p = count_params(pythia(12, 768, 12))
    assert p.embedding == 2 * 38_633_472
    assert p.attention == 12 * 4 * 768**2
    assert p.mlp == 12 * 8 * 768**2


def test_gpt2_small_breakdown_is_the_checkpoint_layout():
    # wte 50257x768 + wpe 1024x768; per block c_attn 768x2304 (+2304), attn.c_proj 768x768 (+768),
    # c_fc 768x3072 (+3072), mlp.c_proj 3072x768 (+768), ln_1 and ln_2 (2 x 2 x 768); ln_f 2 x 768.
    p = count_params(GPT2_SMALL)
    assert p == ParamCount(
        total=124_439_808,
        non_embedding=85_056_000,
        embedding=50257 * 768 + 1024 * 768,
        attention=12 * (768 * 2304 + 768 * 768),
        mlp=12 * 2 * 768 * 3072,
        norms=(2 * 12 + 1) * 2 * 768,
        biases=12 * (2304 + 768 + 3072 + 768),
    )


def test_embedding_share_shrinks_with_scale():
    # The module docstring's numbers: embeddings are 32% of GPT-2 small, 73% of Pythia-70M, <5% of Pythia-12B.
    share = {name: count_params(cfg).embedding / count_params(cfg).total for name, cfg, _, _ in PUBLISHED}
    assert share["gpt2"] == pytest.approx(0.3165, abs=1e-4)
    assert share["pythia-70m"] == pytest.approx(0.7314, abs=1e-4)
    assert share["pythia-12b"] < 0.05


# ------------------------------------------------------------------------------ FLOP conventions


def test_6n_conventions_are_six_times_the_counts():
    p = count_params(GPT2_SMALL)
    assert flops_per_token(GPT2_SMALL).total == 6 * p.total  # default convention is "6N"
    assert flops_per_token(GPT2_SMALL, "6N").convention == "6N"
    assert flops_per_token(GPT2_SMALL, "6N_ne").total == 6 * p.non_embedding
    assert flops_per_token(GPT2_SMALL, "6N").attention == 0.0
    assert flops_per_token(GPT2_SMALL, "kaplan").total == 6 * p.non_embedding + 6 * 12 * 1024 * 768


def test_exact_terms_by_hand_for_gpt2_small():
    # Forward MACs per token per layer: QKV 3·d², logits n_ctx·d, values n_ctx·d, output d², MLP 8·d²;
    # final logits d·V. Training FLOPs = 2 FLOPs/MAC x 3 (forward + backward).
    L, d, n, V = 12, 768, 1024, 50257
    exact = flops_per_token(GPT2_SMALL, "exact")
    assert exact.to_dict() == {
        "qkv": 6 * L * 3 * d * d,
        "attention_scores": 6 * L * n * d,
        "attention_values": 6 * L * n * d,
        "attention_output": 6 * L * d * d,
        "mlp": 6 * L * 8 * d * d,
        "logits": 6 * d * V,
    }
    assert exact.total == 854_438_400
    assert exact.forward == exact.total / 3
    assert exact.attention == 12 * L * n * d
    # The logits matmul Kaplan's count leaves out (Porian et al. 2024): 27% of the exact count here.
    assert exact.to_dict()["logits"] / exact.total == pytest.approx(0.2710, abs=1e-4)


@pytest.mark.parametrize("name", ["gpt2", "pythia-410m", "mistral-7b", "gemma-2b"])
def test_exact_is_six_times_matrix_params_plus_logits_plus_attention(name):
    config = next(row[1] for row in PUBLISHED if row[0] == name)
    p = count_params(config)
    full = flops_per_token(config, "exact")
    causal = flops_per_token(config, "exact", causal_attention=True)
    dense = 6 * (p.attention + p.mlp) + 6 * config.vocab_size * config.d_model
    assert full.total == dense + 12 * config.n_layers * config.context_length * config.d_attn
    assert causal.total == dense + 6 * config.n_layers * (config.context_length + 1) * config.d_attn
    # Kaplan's context term is half the full-context count of QK^T and AV together.
    assert flops_per_token(config, "kaplan").attention * 2 == full.attention


def test_exact_tied_model_is_close_to_6n():
    # Tied head, no learned positions: 6·N_total counts the logits matmul through the shared matrix, so
    # exact - attention differs from 6N only by the (unmultiplied) norm gains.
    config = next(row[1] for row in PUBLISHED if row[0] == "smollm2-135m")
    exact = flops_per_token(config, "exact")
    assert exact.total - exact.attention == 6 * (count_params(config).total - count_params(config).norms)


def test_gqa_shrinks_qkv_but_not_attention_scores():
    mha = llama_like(32, 4096, 32, d_ff=14336, vocab_size=32000)
    gqa = dataclasses.replace(mha, n_kv_heads=8)
    mqa = dataclasses.replace(mha, n_kv_heads=1)
    assert count_params(mha).attention - count_params(gqa).attention == 32 * 2 * 4096 * (4096 - 8 * 128)
    assert count_params(mha).attention - count_params(mqa).attention == 32 * 2 * 4096 * (4096 - 128)
    f_mha, f_gqa = flops_per_token(mha, "exact").to_dict(), flops_per_token(gqa, "exact").to_dict()
    assert f_gqa["qkv"] < f_mha["qkv"]
    assert f_gqa["attention_scores"] == f_mha["attention_scores"]
    assert f_gqa["attention_values"] == f_mha["attention_values"]


def test_untied_head_and_learned_positions_add_embeddings():
    tied = gpt2(12, 768, 12)
    untied = dataclasses.replace(tied, tied_embeddings=False)
    rotary = dataclasses.replace(tied, learned_positions=False)
    assert count_params(untied).embedding - count_params(tied).embedding == 50257 * 768
    assert count_params(tied).embedding - count_params(rotary).embedding == 1024 * 768
    assert count_params(untied).non_embedding == count_params(tied).non_embedding


def test_training_flops_scalar_and_array():
    per_token = flops_per_token(GPT2_SMALL, "kaplan").total
    assert training_flops(GPT2_SMALL, 1e9, "kaplan") == per_token * 1e9
    assert isinstance(training_flops(GPT2_SMALL, 1e9), float)
    tokens = np.array([[1e9, 2e9], [0.0, 5e10]])
    out = training_flops(GPT2_SMALL, tokens, "exact", causal_attention=True)
    assert out.shape == (2, 2)
    np.testing.assert_array_equal(out, flops_per_token(GPT2_SMALL, "exact", causal_attention=True).total * tokens)


def test_training_flops_is_6nd_with_total_params():
    # C = 6·N·D (laws.md §0) with Pythia-12B's exact N_total and its 299,892,736,000 training tokens (model card).
    config = next(row[1] for row in PUBLISHED if row[0] == "pythia-12b")
    assert training_flops(config, 299_892_736_000) == pytest.approx(6 * 11_846_072_320 * 299_892_736_000, rel=1e-15)


@pytest.mark.parametrize("tokens", [-1.0, np.nan, np.inf, [1e9, -5.0], "many"])
def test_training_flops_rejects_bad_tokens(tokens):
    with pytest.raises(DataError, match="tokens"):
        training_flops(GPT2_SMALL, tokens)


def test_unknown_convention_lists_the_options():
    with pytest.raises(DataError, match=r"unknown FLOP convention 'chinchilla'.*'6N'.*'exact'"):
        flops_per_token(GPT2_SMALL, "chinchilla")
    with pytest.raises(DataError, match="causal_attention applies only to convention='exact'"):
        flops_per_token(GPT2_SMALL, "kaplan", causal_attention=True)
    assert set(CONVENTIONS) == {"6N", "6N_ne", "kaplan", "exact"}


def test_deepseek_m_is_kaplan_with_12_l_d2():
    # laws.md §11: M = 72·n_layer·d² + 6·n_layer·d·l_seq = 6·(12·n_layer·d²) + 6·n_layer·l_seq·d.
    for L, d, s in [(12, 768, 1024), (30, 4096, 4096), (95, 8192, 4096)]:
        assert deepseek_m(L, d, s) == 6 * kaplan_params(L, d) + 6 * L * s * d
        assert isinstance(deepseek_m(L, d, s), int)
    layers, width = np.array([12, 24, 96]), np.array([768, 1024, 12288])
    np.testing.assert_allclose(deepseek_m(layers, width, 2048), 72.0 * layers * width**2 + 6.0 * layers * width * 2048)
    np.testing.assert_allclose(kaplan_params(layers, width), 12.0 * layers * width**2)
    assert kaplan_params(12.0, 768.0) == 84_934_656  # whole floats (e.g. from a CSV column) are accepted


@pytest.mark.parametrize(("args", "bad"), [((0, 768), "n_layers"), ((12, 768.5), "d_model"), ((True, 768), "n_layers")])
def test_kaplan_params_rejects_non_sizes(args, bad):
    with pytest.raises(DataError, match=bad):
        kaplan_params(*args)
    with pytest.raises(DataError, match="seq_len"):
        deepseek_m(12, 768, [1024, -1])


# ------------------------------------------------------------------------------ config: defaults, validation, values


def test_defaults_are_resolved_on_construction():
    c = TransformerConfig(n_layers=2, d_model=64, n_heads=4, vocab_size=100, context_length=32)
    assert (c.d_ff, c.n_kv_heads, c.head_dim, c.d_attn, c.d_kv) == (256, 4, 16, 64, 64)
    assert c == TransformerConfig(2, 64, 4, 100, 32, d_ff=256, n_kv_heads=4, head_dim=16)
    assert TransformerConfig(np.int64(2), 64.0, 4, 100, 32).n_layers == 2  # whole numbers of any numeric type


def test_explicit_head_dim_need_not_split_d_model():
    # Gemma-7B style: d_model 3072, 16 heads of width 256 -> d_attn 4096 != d_model.
    c = TransformerConfig(n_layers=1, d_model=3072, n_heads=16, head_dim=256, vocab_size=10, context_length=8)
    assert c.d_attn == 4096
    assert count_params(c).attention == 3072 * 3 * 4096 + 4096 * 3072


def test_config_round_trip_and_frozen():
    c = next(row[1] for row in PUBLISHED if row[0] == "gemma-2b")
    assert TransformerConfig.from_dict(c.to_dict()) == c
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.n_layers = 3
    with pytest.raises(DataError, match=r"unknown TransformerConfig field.*'hidden_size'"):
        TransformerConfig.from_dict({**c.to_dict(), "hidden_size": 2048})
    assert count_params(c).to_dict()["total"] == 2_506_172_416
    assert isinstance(flops_per_token(c), FlopCount)


BASE = {"n_layers": 12, "d_model": 768, "n_heads": 12, "vocab_size": 50257, "context_length": 1024}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"n_layers": 0}, r"n_layers must be a positive integer, got 0"),
        ({"d_model": -768}, r"d_model must be a positive integer"),
        ({"vocab_size": 50257.5}, r"vocab_size must be a positive integer"),
        ({"context_length": float("nan")}, r"context_length must be a positive integer"),
        ({"n_heads": True}, r"n_heads must be a positive integer, got True \(bool\)"),
        ({"n_layers": "12"}, r"n_layers must be a positive integer, got '12' \(str\)"),
        ({"d_ff": 0}, r"d_ff must be a positive integer"),
        ({"n_heads": 10}, r"d_model = 768 is not divisible by n_heads = 10; pass head_dim"),
        ({"n_kv_heads": 5}, r"n_heads = 12 is not divisible by n_kv_heads = 5"),
        ({"n_kv_heads": 24}, r"n_heads = 12 is not divisible by n_kv_heads = 24"),
        ({"head_dim": 0}, r"head_dim must be a positive integer"),
        ({"norm": "batchnorm"}, r"norm must be one of 'layernorm', 'rmsnorm', got 'batchnorm'"),
        ({"tied_embeddings": "yes"}, r"tied_embeddings must be True or False"),
    ],
)
def test_config_validation_messages(change, message):
    with pytest.raises(DataError, match=message):
        TransformerConfig(**{**BASE, **change})


# ------------------------------------------------------------------------------ properties


def _divisors(n: int) -> list[int]:
    return [k for k in range(1, n + 1) if n % k == 0]


@st.composite
def configs(draw, explicit_head_dim: bool | None = None, min_context: int = 1) -> TransformerConfig:
    n_heads = draw(st.integers(1, 16))
    head_dim = draw(st.integers(1, 64))
    explicit = draw(st.booleans()) if explicit_head_dim is None else explicit_head_dim
    d_model = draw(st.integers(1, 1024)) if explicit else n_heads * head_dim
    return TransformerConfig(
        n_layers=draw(st.integers(1, 64)),
        d_model=d_model,
        n_heads=n_heads,
        head_dim=head_dim if explicit else None,
        n_kv_heads=draw(st.sampled_from(_divisors(n_heads))),
        vocab_size=draw(st.integers(1, 300_000)),
        context_length=draw(st.integers(min_context, 32_768)),
        d_ff=draw(st.integers(1, 8 * d_model)),
        tied_embeddings=draw(st.booleans()),
        gated_mlp=draw(st.booleans()),
        learned_positions=draw(st.booleans()),
        biases=draw(st.booleans()),
        norm=draw(st.sampled_from(["layernorm", "rmsnorm"])),
        final_norm=draw(st.booleans()),
    )


@given(configs())
def test_parts_add_up(config):
    p = count_params(config)
    assert p.total == p.non_embedding + p.embedding
    assert p.non_embedding == p.attention + p.mlp + p.norms + p.biases
    assert min(p.attention, p.mlp, p.embedding) > 0 and min(p.norms, p.biases) >= 0
    for convention in CONVENTIONS:
        f = flops_per_token(config, convention)
        assert f.total == pytest.approx(sum(f.to_dict().values()), rel=1e-12)
        assert 0.0 <= f.attention_share < 1.0


@given(configs())
def test_gqa_with_all_kv_heads_is_mha(config):
    mha = dataclasses.replace(config, n_kv_heads=None)
    full_kv = dataclasses.replace(config, n_kv_heads=config.n_heads)
    assert count_params(mha) == count_params(full_kv)
    for convention in CONVENTIONS:
        assert flops_per_token(mha, convention) == flops_per_token(full_kv, convention)


@given(configs(explicit_head_dim=False, min_context=16))
def test_exact_at_least_6n_ne_for_long_context(config):
    # Exact leaves out norm gains and bias additions (6 FLOPs each per token in 6N_ne) but adds the logits and
    # 12·L·n_ctx·d_attn of attention, which cover them once n_ctx >= 16 when d_attn = d_model and d_ff <= 8 d.
    assert flops_per_token(config, "exact").total >= flops_per_token(config, "6N_ne").total
    assert flops_per_token(config, "exact", causal_attention=True).total <= flops_per_token(config, "exact").total


_GROWTH = {
    "n_layers": lambda c: {"n_layers": c.n_layers + 1},
    "d_model": lambda c: {"d_model": c.d_model + 1, "head_dim": c.head_dim, "d_ff": c.d_ff},
    "head_dim": lambda c: {"head_dim": c.head_dim + 1},
    "d_ff": lambda c: {"d_ff": c.d_ff + 1},
    "vocab_size": lambda c: {"vocab_size": c.vocab_size + 1},
    "n_heads": lambda c: {"n_heads": 2 * c.n_heads, "head_dim": c.head_dim, "n_kv_heads": c.n_kv_heads},
}


@given(configs(explicit_head_dim=True), st.sampled_from(sorted(_GROWTH)))
def test_monotonic_in_each_size(config, size):
    bigger = dataclasses.replace(config, **_GROWTH[size](config))
    assert count_params(bigger).total > count_params(config).total
    for convention in CONVENTIONS:
        before, after = flops_per_token(config, convention).total, flops_per_token(bigger, convention).total
        if size == "vocab_size" and convention in ("6N_ne", "kaplan"):
            assert after == before  # non-embedding conventions do not see the vocabulary
        else:
            assert after > before


@given(configs())
def test_monotonic_in_context_and_kv_heads(config):
    longer = dataclasses.replace(config, context_length=config.context_length + 1)
    assert count_params(longer).total == count_params(config).total + (
        config.d_model if config.learned_positions else 0
    )
    for convention in ("kaplan", "exact"):
        assert flops_per_token(longer, convention).total > flops_per_token(config, convention).total
    more_kv = [k for k in _divisors(config.n_heads) if k > config.n_kv_heads]
    if more_kv:
        wider = dataclasses.replace(config, n_kv_heads=more_kv[0])
        assert count_params(wider).attention > count_params(config).attention
        assert flops_per_token(wider, "exact").total > flops_per_token(config, "exact").total
