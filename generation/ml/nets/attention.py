"""Decoder-only character transformer: causal self-attention, pre-norm blocks, tied embeddings, KV cache."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from generation.ml.nets.config import ConfigMixin

UNKNOWN = "\ufffd"  # vocabulary entry 0: every character the net was not trained on


@dataclass(frozen=True)
class LmConfig(ConfigMixin):
    # Characters of the vocabulary, in id order; id 0 is UNKNOWN. Filled from the training text.
    vocab: str = ""
    block_size: int = 128
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0
    # Training.
    min_count: int = 2
    batch_size: int = 32
    lr: float = 3e-3
    min_lr_fraction: float = 0.1
    warmup_steps: int = 100
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    # Train the forward pass in bfloat16 (autocast): faster on CPUs with bfloat16 instructions, far slower on
    # those without, and the results differ between the two. Off by default, so a run is the same work anywhere.
    autocast_bf16: bool = False
    steps_per_epoch: int = 500
    # Epochs of steps_per_epoch steps.
    epochs: int = 10
    # Characters of the held-out text scored each epoch (None: all of it).
    eval_chars: int | None = None
    # Hard cap on the characters one sampling call may generate.
    max_new_chars: int = 1000

    def __post_init__(self) -> None:
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd ({self.n_embd}) must be a multiple of n_head ({self.n_head}).")
        if self.vocab and self.vocab[0] != UNKNOWN:
            raise ValueError("The first vocabulary entry must be the unknown-character mark U+FFFD.")
        if len(set(self.vocab)) != len(self.vocab):
            raise ValueError("The vocabulary has repeated characters.")

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    @classmethod
    def tiny(cls, vocab: str = "") -> LmConfig:
        return cls(
            vocab=vocab,
            block_size=32,
            n_layer=2,
            n_head=2,
            n_embd=32,
            batch_size=16,
            lr=3e-3,
            warmup_steps=5,
            steps_per_epoch=20,
            epochs=2,
            eval_chars=2000,
            max_new_chars=300,
            autocast_bf16=False,
        )


def char_vocab(text: str, *, min_count: int = 1) -> str:
    """UNKNOWN followed by the characters seen at least ``min_count`` times, most frequent first (ties by code)."""
    counts = Counter(text)
    chars = sorted((c for c, n in counts.items() if n >= min_count and c != UNKNOWN), key=lambda c: (-counts[c], c))
    return UNKNOWN + "".join(chars)


class KVCache:
    """Keys and values of every layer for the positions seen so far, preallocated up to ``block_size``."""

    def __init__(
        self,
        config: LmConfig,
        *,
        batch: int = 1,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str = "cpu",
    ) -> None:
        head_dim = config.n_embd // config.n_head
        shape = (config.n_layer, batch, config.n_head, config.block_size, head_dim)
        self.keys = torch.zeros(shape, dtype=dtype, device=device)
        self.values = torch.zeros(shape, dtype=dtype, device=device)
        self.length = 0

    def reset(self) -> None:
        self.length = 0


class CausalSelfAttention(nn.Module):
    def __init__(self, config: LmConfig, layer: int) -> None:
        super().__init__()
        self.n_head = config.n_head
        self.layer = layer
        self.qkv = nn.Linear(config.n_embd, 3 * config.n_embd)
        self.proj = nn.Linear(config.n_embd, config.n_embd)
        self.dropout = config.dropout

    def forward(self, x: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        batch, steps, channels = x.shape
        q, k, v = self.qkv(x).split(channels, dim=2)
        q, k, v = (t.view(batch, steps, self.n_head, channels // self.n_head).transpose(1, 2) for t in (q, k, v))
        dropout = self.dropout if self.training else 0.0
        if cache is None:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=dropout)
        else:
            start, end = cache.length, cache.length + steps
            cache.keys[self.layer, :, :, start:end] = k
            cache.values[self.layer, :, :, start:end] = v
            keys, values = cache.keys[self.layer, :, :, :end], cache.values[self.layer, :, :, :end]
            if steps == 1:
                y = F.scaled_dot_product_attention(q, keys, values)
            else:
                # Query i sits at position start + i and sees keys 0 … start + i.
                mask = torch.ones(steps, end, dtype=torch.bool, device=x.device).tril(diagonal=start)
                y = F.scaled_dot_product_attention(q, keys, values, attn_mask=mask)
        return self.proj(y.transpose(1, 2).reshape(batch, steps, channels))


class Block(nn.Module):
    def __init__(self, config: LmConfig, layer: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(config.n_embd)
        self.attn = CausalSelfAttention(config, layer)
        self.norm2 = nn.LayerNorm(config.n_embd)
        self.mlp = nn.Sequential(
            nn.Linear(config.n_embd, 4 * config.n_embd),
            nn.GELU(),
            nn.Linear(4 * config.n_embd, config.n_embd),
        )
        self.drop = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        x = x + self.drop(self.attn(self.norm1(x), cache))
        return x + self.drop(self.mlp(self.norm2(x)))


class CharTransformer(nn.Module):
    kind = "lm"

    def __init__(self, config: LmConfig) -> None:
        super().__init__()
        if config.vocab_size < 2:
            raise ValueError("LmConfig.vocab must hold the unknown mark and at least one character.")
        self.config = config
        self.index = {c: i for i, c in enumerate(config.vocab)}
        self.token = nn.Embedding(config.vocab_size, config.n_embd)
        self.position = nn.Embedding(config.block_size, config.n_embd)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config, i) for i in range(config.n_layer))
        self.norm = nn.LayerNorm(config.n_embd)
        self.head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.head.weight = self.token.weight  # tied
        self.apply(self._init)
        # Residual projections scaled down with depth so the residual stream starts near unit variance.
        for name, parameter in self.named_parameters():
            if name.endswith(("attn.proj.weight", "mlp.2.weight")):
                nn.init.normal_(parameter, 0.0, 0.02 / math.sqrt(2 * config.n_layer))

    @staticmethod
    def _init(module: nn.Module) -> None:
        if isinstance(module, nn.Linear | nn.Embedding):
            nn.init.normal_(module.weight, 0.0, 0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def encode(self, text: str) -> list[int]:
        """Character ids; characters outside the vocabulary become the unknown id 0."""
        return [self.index.get(c, 0) for c in text]

    def decode(self, ids: list[int]) -> str:
        return "".join(self.config.vocab[i] for i in ids)

    def forward(self, ids: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        """Logits [B, T, V] for ids [B, T]; with a cache, ids continue the cached positions and are appended."""
        steps = ids.shape[1]
        start = cache.length if cache is not None else 0
        if start + steps > self.config.block_size:
            raise ValueError(
                f"{start + steps} positions exceed the net's context of {self.config.block_size} characters."
            )
        positions = torch.arange(start, start + steps, device=ids.device)
        x = self.drop(self.token(ids) + self.position(positions))
        for block in self.blocks:
            x = block(x, cache)
        if cache is not None:
            cache.length += steps
        return self.head(self.norm(x))
