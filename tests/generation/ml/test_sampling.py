"""Sampling: reproducible per seed, KV cache and no cache agree, inputs validated with clear messages."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from generation.ml.data import TextCorpus
from generation.ml.nets.attention import CharTransformer, LmConfig, char_vocab
from generation.ml.nets.gan import ConditionalGan, GanConfig
from generation.ml.nets.vae import ConvVae, VaeConfig
from generation.ml.sampling import (
    gan_sample,
    lm_sample,
    lm_sample_piece,
    lm_unknown_chars,
    vae_interpolate,
    vae_reconstruct,
    vae_sample,
)


@pytest.fixture(scope="module")
def gan() -> ConditionalGan:
    torch.manual_seed(0)
    return ConditionalGan(GanConfig()).eval()


@pytest.fixture(scope="module")
def vae() -> ConvVae:
    torch.manual_seed(0)
    return ConvVae(VaeConfig()).eval()


@pytest.fixture(scope="module")
def lm(tiny_corpus: TextCorpus) -> CharTransformer:
    torch.manual_seed(0)
    return CharTransformer(LmConfig.tiny(char_vocab(tiny_corpus.text))).eval()


def _same(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def test_gan_sample_is_reproducible(gan: ConditionalGan) -> None:
    first = gan_sample(gan, digit=7, count=4, seed=11)
    assert len(first) == 4 and first[0].shape == (28, 28) and first[0].dtype == np.uint8
    assert _same(first, gan_sample(gan, digit=7, count=4, seed=11))
    assert not _same(first, gan_sample(gan, digit=7, count=4, seed=12))
    assert not _same(first, gan_sample(gan, digit=1, count=4, seed=11))


@pytest.mark.parametrize("digit", [-1, 10, 3.0, True])
def test_gan_refuses_a_digit_out_of_range(gan: ConditionalGan, digit: object) -> None:
    with pytest.raises(ValueError, match="digit must be a whole number from 0 to 9"):
        gan_sample(gan, digit=digit, count=1, seed=0)  # type: ignore[arg-type]


def test_counts_and_seeds_are_checked(gan: ConditionalGan, vae: ConvVae) -> None:
    with pytest.raises(ValueError, match="number of images"):
        gan_sample(gan, digit=1, count=0, seed=0)
    with pytest.raises(ValueError, match="number of images"):
        vae_sample(vae, count=5000, seed=0)
    with pytest.raises(ValueError, match="seed"):
        vae_sample(vae, count=1, seed=-3)


def test_vae_sample_and_interpolation(vae: ConvVae) -> None:
    first = vae_sample(vae, count=3, seed=5)
    assert _same(first, vae_sample(vae, count=3, seed=5))
    path = vae_interpolate(vae, seed_a=5, seed_b=9, steps=6)
    assert len(path) == 6
    # The ends are the prior draws of the two seeds.
    assert np.array_equal(path[0], vae_sample(vae, count=1, seed=5)[0])
    assert np.array_equal(path[-1], vae_sample(vae, count=1, seed=9)[0])
    with pytest.raises(ValueError, match="Interpolation steps"):
        vae_interpolate(vae, seed_a=1, seed_b=2, steps=1)
    recon = vae_reconstruct(vae, images=np.stack(first))
    assert len(recon) == 3 and recon[0].shape == (28, 28)
    with pytest.raises(ValueError, match="Reconstruction expects"):
        vae_reconstruct(vae, images=np.zeros((2, 8, 8), dtype=np.uint8))


def test_lm_sample_is_reproducible_and_cache_agrees(lm: CharTransformer) -> None:
    kwargs = {"prompt": "调3：", "max_chars": 100, "temperature": 1.0, "top_k": None, "stop_at_newline": False}
    text = lm_sample(lm, seed=4, **kwargs)  # type: ignore[arg-type]
    assert text.startswith("调3：") and len(text) == 3 + 100
    assert text == lm_sample(lm, seed=4, **kwargs)  # type: ignore[arg-type]
    assert text != lm_sample(lm, seed=5, **kwargs)  # type: ignore[arg-type]
    # 100 characters pass the context of 32 several times: the window rule is the same with and without cache.
    assert text == lm_sample(lm, seed=4, use_cache=False, **kwargs)  # type: ignore[arg-type]
    assert "\ufffd" not in text


def test_lm_prompt_with_unknown_characters_and_stops(lm: CharTransformer) -> None:
    assert lm_unknown_chars(lm, "春风xyz春") == ["x", "y", "z"]
    text = lm_sample(lm, prompt="xyz", max_chars=20, temperature=0.8, top_k=5, seed=1)
    assert text.startswith("xyz") and "\n" not in text and len(text) <= 23
    only_new = lm_sample(lm, prompt="春", max_chars=20, temperature=0.8, top_k=5, seed=1, include_prompt=False)
    assert len(only_new) <= 20
    greedy = {lm_sample(lm, prompt="春", max_chars=10, temperature=1.0, top_k=1, seed=s) for s in range(3)}
    assert len(greedy) == 1


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"max_chars": 301}, "max_chars must be from 1 to 300"),
        ({"max_chars": 0}, "max_chars must be from 1 to 300"),
        ({"temperature": 0}, "temperature must be from"),
        ({"top_k": 0}, "top_k must be"),
        ({"prompt": "春" * 400}, "at most 300 are accepted"),
    ],
)
def test_lm_sample_validation(lm: CharTransformer, changes: dict[str, object], message: str) -> None:
    kwargs: dict[str, object] = {"prompt": "", "max_chars": 10, "temperature": 1.0, "top_k": None, "seed": 0}
    with pytest.raises(ValueError, match=message):
        lm_sample(lm, **(kwargs | changes))  # type: ignore[arg-type]


# ------------------------------------------------------------------------------
# Whole pieces to a tune
# ------------------------------------------------------------------------------
TUNE_FORMS = {"调0": (4, 4, 4, 4), "调3": (2, 3, 5), "浣溪沙": (7, 7, 7, 7, 7, 7)}


@pytest.mark.parametrize("tune", sorted(TUNE_FORMS))
@pytest.mark.parametrize("opening", ["", "春风", "春风明月，小楼"])
def test_a_piece_is_whole_and_in_its_tunes_form_whatever_the_opening(lm: CharTransformer, tune: str, opening: str):
    from generation.tunes import OpeningMisfit, clause_lengths, form_position

    form = TUNE_FORMS[tune]
    try:
        form_position(form, opening)
    except OpeningMisfit:
        with pytest.raises(OpeningMisfit):
            lm_sample_piece(lm, tune=tune, form=form, opening=opening, temperature=0.9, top_k=None, seed=3)
        return

    body = lm_sample_piece(lm, tune=tune, form=form, opening=opening, temperature=0.9, top_k=None, seed=3)

    assert body.startswith(opening)
    assert clause_lengths(body) == form and body[-1] in "。？！"
    assert "\n" not in body and "\ufffd" not in body
    again = lm_sample_piece(lm, tune=tune, form=form, opening=opening, temperature=0.9, top_k=None, seed=3)
    uncached = lm_sample_piece(
        lm, tune=tune, form=form, opening=opening, temperature=0.9, top_k=None, seed=3, use_cache=False
    )
    assert body == again == uncached


def test_a_piece_longer_than_the_context_keeps_its_form(lm: CharTransformer):
    from generation.tunes import clause_lengths

    form = (9,) * 12  # 120 characters: past the tiny net's context of 32
    body = lm_sample_piece(lm, tune="调1", form=form, opening="", temperature=1.0, top_k=5, seed=1)

    assert clause_lengths(body) == form


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"form": ()}, "clause lengths"),
        ({"form": (3, 0)}, "clause lengths"),
        ({"form": (100, 100, 100, 100)}, "longer than"),
        ({"temperature": 0}, "temperature"),
        ({"top_k": 0}, "top_k"),
    ],
)
def test_a_piece_refuses_bad_settings(lm: CharTransformer, changes: dict[str, object], message: str) -> None:
    settings: dict[str, object] = {"tune": "调0", "form": (4, 4), "opening": "", "temperature": 0.8, "top_k": None}
    with pytest.raises(ValueError, match=message):
        lm_sample_piece(lm, seed=0, **(settings | changes))  # type: ignore[arg-type]


def test_a_net_without_marks_cannot_write_a_piece() -> None:
    torch.manual_seed(0)
    net = CharTransformer(LmConfig.tiny(char_vocab("春风明月\n"))).eval()

    with pytest.raises(ValueError, match="no mark that ends a piece"):
        lm_sample_piece(net, tune="调0", form=(2, 2), opening="", temperature=0.8, top_k=None, seed=0)
