"""Sampling from trained nets: reproducible for a seed, under ``torch.inference_mode``, inputs validated.

Each function runs on the device the net is on (``checkpoint_loads(..., device=...)`` puts it there). Noise and
token choices are drawn from a CPU generator, so one seed gives the same draws on every device; images from CUDA
and from the CPU agree within ``generation.ml.device.SAMPLING_TOLERANCE`` before rounding to 0-255.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from generation.ml.device import module_device, seeded_randn
from generation.ml.nets.attention import CharTransformer, KVCache
from generation.ml.nets.gan import ConditionalGan
from generation.ml.nets.vae import ConvVae
from generation.tunes import CLAUSE_MARKS, PIECE_END_MARKS, TUNE_SEPARATOR, form_position, piece_text

# Marks the net may choose between at the end of a clause inside a piece.
PIECE_MARKS = "，。、？！；"

MAX_IMAGES = 1024
MAX_INTERPOLATION_STEPS = 64


def _generator(seed: int) -> torch.Generator:
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**63:
        raise ValueError(f"The seed must be a whole number from 0 to 2**63 - 1, got {seed!r}.")
    return torch.Generator().manual_seed(seed)


def _check_count(count: int) -> None:
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= MAX_IMAGES:
        raise ValueError(f"The number of images must be from 1 to {MAX_IMAGES}, got {count!r}.")


def _to_uint8(images: torch.Tensor, *, low: float, high: float) -> list[np.ndarray]:
    scaled = ((images.squeeze(1).cpu() - low) * (255.0 / (high - low))).round().clamp(0, 255).to(torch.uint8)
    return [image.numpy().copy() for image in scaled]


def gan_sample(net: ConditionalGan, *, digit: int, count: int, seed: int) -> list[np.ndarray]:
    """``count`` images (uint8 [H, W]) of ``digit``."""
    classes = net.config.classes
    if not isinstance(digit, int) or isinstance(digit, bool) or not 0 <= digit < classes:
        raise ValueError(f"The digit must be a whole number from 0 to {classes - 1}, got {digit!r}.")
    _check_count(count)
    return _to_uint8(
        gan_sample_labels(net, torch.full((count,), digit, dtype=torch.long), seed=seed), low=-1.0, high=1.0
    )


def gan_sample_labels(net: ConditionalGan, labels: torch.Tensor, *, seed: int) -> torch.Tensor:
    """Images in [-1, 1] [N, 1, H, W] for a batch of labels (for metrics and sample grids), on the net's device."""
    generator = _generator(seed)
    device = module_device(net)
    with torch.inference_mode():
        net.eval()
        z = seeded_randn((len(labels), net.config.latent_dim), generator=generator, device=device)
        return net.generate(z, labels.to(device))


def vae_sample(net: ConvVae, *, count: int, seed: int) -> list[np.ndarray]:
    """``count`` images (uint8 [H, W], the decoder's pixel probabilities) from z drawn from the prior."""
    _check_count(count)
    generator = _generator(seed)
    with torch.inference_mode():
        net.eval()
        z = seeded_randn((count, net.config.latent_dim), generator=generator, device=module_device(net))
        return _to_uint8(torch.sigmoid(net.decode(z)), low=0.0, high=1.0)


def vae_interpolate(net: ConvVae, *, seed_a: int, seed_b: int, steps: int) -> list[np.ndarray]:
    """``steps`` images decoded along the great circle between the prior draws of two seeds (ends included)."""
    if not isinstance(steps, int) or isinstance(steps, bool) or not 2 <= steps <= MAX_INTERPOLATION_STEPS:
        raise ValueError(f"Interpolation steps must be from 2 to {MAX_INTERPOLATION_STEPS}, got {steps!r}.")
    dim = net.config.latent_dim
    with torch.inference_mode():
        net.eval()
        a = torch.randn(1, dim, generator=_generator(seed_a))
        b = torch.randn(1, dim, generator=_generator(seed_b))
        t = torch.linspace(0.0, 1.0, steps).unsqueeze(1)
        # Spherical interpolation keeps the points at the norm the prior expects; linear if a and b are parallel.
        cos = torch.nn.functional.cosine_similarity(a, b).clamp(-1.0, 1.0)
        omega = torch.arccos(cos)
        if float(omega) < 1e-4:
            z = (1 - t) * a + t * b
        else:
            z = (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / torch.sin(omega)
        return _to_uint8(torch.sigmoid(net.decode(z.to(module_device(net)))), low=0.0, high=1.0)


def vae_reconstruct(net: ConvVae, *, images: np.ndarray) -> list[np.ndarray]:
    """Binarize uint8 images [N, H, W] and return the decoder's pixel probabilities for their posterior means."""
    from generation.ml.nets.vae import binarize

    array = np.asarray(images)
    size = net.config.image_size
    if array.ndim != 3 or array.shape[1:] != (size, size) or array.dtype != np.uint8:
        raise ValueError(f"Reconstruction expects uint8 images of shape [N, {size}, {size}], got {array.shape}.")
    _check_count(len(array))
    with torch.inference_mode():
        net.eval()
        mu, _ = net.encode(binarize(torch.from_numpy(array)).to(module_device(net)))
        return _to_uint8(torch.sigmoid(net.decode(mu)), low=0.0, high=1.0)


def lm_unknown_chars(net: CharTransformer, text: str) -> list[str]:
    """Characters of ``text`` that the net does not know (they are read as the unknown mark), in order of first use."""
    return list(dict.fromkeys(c for c in text if c not in net.index))


class _Decoder:
    """Feeds a growing token sequence to the net and returns the logits of the next token.

    The text seen by the net is the current window: once it would pass the net's context length, the window
    restarts on the most recent half, with or without the KV cache, so both give the same logits.
    """

    def __init__(self, net: CharTransformer, tokens: list[int], *, use_cache: bool) -> None:
        self.net = net
        self.device = module_device(net)
        self.tokens = tokens or [0]
        self.block, self.keep = net.config.block_size, max(1, net.config.block_size // 2)
        self.start = max(0, len(self.tokens) - self.block)
        self.cache = KVCache(net.config, device=self.device) if use_cache else None
        self.cached_from: int | None = None  # window start the cache holds, None when empty

    def logits(self) -> torch.Tensor:
        """The next token's logits, on the CPU (where the choice is drawn, from a CPU generator)."""
        return self._logits().float().cpu()

    def _ids(self, tokens: list[int]) -> torch.Tensor:
        return torch.tensor([tokens], device=self.device)

    def _logits(self) -> torch.Tensor:
        tokens = self.tokens
        if len(tokens) - self.start > self.block:
            self.start = len(tokens) - self.keep
        if self.cache is None:
            return self.net(self._ids(tokens[self.start :]))[0, -1]
        if self.cached_from != self.start:
            self.cache.reset()
            self.cached_from = self.start
            return self.net(self._ids(tokens[self.start :]), self.cache)[0, -1]
        return self.net(self._ids(tokens[-1:]), self.cache)[0, -1]

    def push(self, token: int) -> None:
        self.tokens.append(token)


def _check_sampling(net: CharTransformer, temperature: float, top_k: int | None) -> int | None:
    """Refuse bad sampling settings; returns top_k bounded by the vocabulary (the unknown mark never counts)."""
    if not isinstance(temperature, int | float) or not 0.05 <= float(temperature) <= 2.0:
        raise ValueError(f"The temperature must be from 0.05 to 2.0, got {temperature!r}.")
    if top_k is not None and (not isinstance(top_k, int) or isinstance(top_k, bool) or not 1 <= top_k):
        raise ValueError(f"top_k must be a whole number of at least 1 (or empty for no limit), got {top_k!r}.")
    return None if top_k is None else min(top_k, net.config.vocab_size - 1)


def _choose(logits: torch.Tensor, *, temperature: float, k: int | None, generator: torch.Generator) -> int:
    """Sample one token from ``logits`` (already masked) at ``temperature`` among the ``k`` likeliest."""
    logits = logits / float(temperature)
    logits[0] = float("-inf")  # never produce the unknown mark
    if k is not None:
        allowed = int(torch.isfinite(logits).sum())
        threshold = torch.topk(logits, min(k, allowed)).values[-1]
        logits = logits.masked_fill(logits < threshold, float("-inf"))
    return int(torch.multinomial(torch.softmax(logits, dim=-1), 1, generator=generator))


def lm_sample(
    net: CharTransformer,
    *,
    prompt: str,
    max_chars: int,
    temperature: float,
    top_k: int | None,
    seed: int,
    use_cache: bool = True,
    stop_at_newline: bool = True,
    include_prompt: bool = True,
) -> str:
    """Continue ``prompt`` by up to ``max_chars`` characters.

    Characters the net does not know are read as its unknown mark (see ``lm_unknown_chars``) and are
    returned as typed. Generation stops early at the end of a piece (a newline) unless
    ``stop_at_newline`` is False; the newline itself is not returned.
    """
    config = net.config
    if not isinstance(max_chars, int) or isinstance(max_chars, bool) or not 1 <= max_chars <= config.max_new_chars:
        raise ValueError(f"max_chars must be from 1 to {config.max_new_chars}, got {max_chars!r}.")
    if not isinstance(prompt, str):
        raise ValueError("The prompt must be text.")
    if len(prompt) > config.max_new_chars:
        raise ValueError(f"The prompt is {len(prompt)} characters long; at most {config.max_new_chars} are accepted.")
    k = _check_sampling(net, temperature, top_k)
    generator = _generator(seed)
    newline = net.index.get("\n")
    decoder = _Decoder(net, ([newline] if newline is not None else []) + net.encode(prompt), use_cache=use_cache)
    generated: list[int] = []
    with torch.inference_mode():
        net.eval()
        for _ in range(max_chars):
            choice = _choose(decoder.logits(), temperature=temperature, k=k, generator=generator)
            if stop_at_newline and choice == newline:
                break
            decoder.push(choice)
            generated.append(choice)
    text = net.decode(generated)
    return prompt + text if include_prompt else text


def lm_sample_piece(
    net: CharTransformer,
    *,
    tune: str,
    form: tuple[int, ...] | list[int],
    opening: str,
    temperature: float,
    top_k: int | None,
    seed: int,
    use_cache: bool = True,
) -> str:
    """A whole piece to ``tune`` in ``form`` (its clause lengths), continuing ``opening``: the body, opening first.

    The net writes every character; the form only decides where it may write a character and where a mark:
    inside a clause the marks are masked, at a clause's end only the marks are left (at the last one, only a
    mark that ends a piece), and the piece ends once the form is full. Raises OpeningMisfit when ``opening``
    does not fit the form, ValueError for a form the net cannot write.
    """
    form = tuple(form)
    if not form or any(not isinstance(n, int) or n < 1 for n in form):
        raise ValueError(f"A form is a list of clause lengths of at least 1, got {form!r}.")
    if sum(form) + len(form) > net.config.max_new_chars:
        raise ValueError(f"A piece in this form is longer than the {net.config.max_new_chars} characters allowed.")
    k = _check_sampling(net, temperature, top_k)
    opening = "".join(opening.split())
    position = form_position(form, opening)
    vocab = net.config.vocab
    in_clause = torch.ones(len(vocab), dtype=torch.bool)  # tokens allowed inside a clause
    clause_end = torch.zeros(len(vocab), dtype=torch.bool)
    piece_end = torch.zeros(len(vocab), dtype=torch.bool)
    for index, char in enumerate(vocab):
        if char in CLAUSE_MARKS or char == "\n":
            in_clause[index] = False
        if char in PIECE_MARKS:
            clause_end[index] = True
        if char in PIECE_END_MARKS:
            piece_end[index] = True
    if not piece_end.any():
        raise ValueError("The net knows no mark that ends a piece, so it cannot write a piece in a form.")
    generator = _generator(seed)
    newline = net.index.get("\n")
    prompt = f"{tune}{TUNE_SEPARATOR}{opening}"
    decoder = _Decoder(net, ([newline] if newline is not None else []) + net.encode(prompt), use_cache=use_cache)
    clause, written = position.clause, position.written
    generated: list[int] = []
    with torch.inference_mode():
        net.eval()
        while clause < len(form):
            if written < form[clause]:
                allowed = in_clause
            else:
                allowed = piece_end if clause == len(form) - 1 else clause_end
            logits = decoder.logits().masked_fill(~allowed, float("-inf"))
            choice = _choose(logits, temperature=temperature, k=k, generator=generator)
            decoder.push(choice)
            generated.append(choice)
            if written < form[clause]:
                written += 1
            else:
                clause, written = clause + 1, 0
    return opening + net.decode(generated)


def sample(
    kind: str, params: Mapping[str, Any], *, seed: int, net: Any, tunes: Sequence[Any] = ()
) -> list[np.ndarray] | list[str]:
    """Run ``net`` for one request's cleaned parameters: uint8 arrays for images (``kind`` gan or vae), or one
    string for text (lm). A text request names a tune from ``tunes`` (objects with ``name`` and ``form``) and
    gets one whole piece; a request from before tunes existed continues a free prompt.

    Jobs and assessments both sample through here, so an assessment answers as the service would.
    """
    if kind == "gan":
        return gan_sample(net, digit=params["digit"], count=params["count"], seed=seed)
    if kind == "vae":
        if "interpolate_to_seed" in params:
            return vae_interpolate(net, seed_a=seed, seed_b=params["interpolate_to_seed"], steps=params["steps"])
        return vae_sample(net, count=params["count"], seed=seed)
    if kind != "lm":
        raise ValueError(f"unknown kind of net {kind!r}")
    if "tune" not in params:
        text = lm_sample(
            net,
            prompt=params["prompt"],
            max_chars=params["length"],
            temperature=params["temperature"],
            top_k=params["top_k"],
            seed=seed,
        )
        return [text]
    tune = next((t for t in tunes if t.name == params["tune"]), None)
    if tune is None:
        raise ValueError(f"the serving text model does not know the tune {params['tune']!r}")
    body = lm_sample_piece(
        net,
        tune=tune.name,
        form=tune.form,
        opening=params["opening"],
        temperature=params["temperature"],
        top_k=params["top_k"],
        seed=seed,
    )
    return [piece_text(tune.name, body)]
