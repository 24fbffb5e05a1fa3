"""Shapes, determinism and the attention mechanics of the three nets on tiny configs."""

from __future__ import annotations

import pytest
import torch

from generation.ml.nets.attention import UNKNOWN, CharTransformer, KVCache, LmConfig, char_vocab
from generation.ml.nets.gan import ConditionalGan, GanConfig
from generation.ml.nets.vae import ConvVae, VaeConfig, binarize


@pytest.mark.parametrize("config", [GanConfig.tiny(), GanConfig()])
def test_gan_shapes(config: GanConfig) -> None:
    torch.manual_seed(0)
    net = ConditionalGan(config)
    z = torch.randn(5, config.latent_dim)
    labels = torch.tensor([0, 1, 2, 3, 9])
    images = net.generate(z, labels)
    assert images.shape == (5, 1, config.image_size, config.image_size)
    assert float(images.detach().abs().max()) <= 1.0
    assert net.discriminator(images, labels).shape == (5,)


def test_gan_is_deterministic_for_a_seed() -> None:
    outputs = []
    for _ in range(2):
        torch.manual_seed(7)
        net = ConditionalGan(GanConfig.tiny()).eval()
        outputs.append(net.generate(torch.randn(4, 16), torch.arange(4)))
    assert torch.equal(outputs[0], outputs[1])


def test_gan_label_changes_the_image() -> None:
    torch.manual_seed(0)
    net = ConditionalGan(GanConfig.tiny()).eval()
    z = torch.randn(1, 16).repeat(2, 1)
    images = net.generate(z, torch.tensor([1, 7]))
    assert not torch.equal(images[0], images[1])


@pytest.mark.parametrize("config", [VaeConfig.tiny(), VaeConfig()])
def test_vae_shapes_and_elbo(config: VaeConfig) -> None:
    torch.manual_seed(0)
    net = ConvVae(config)
    x = binarize(torch.randint(0, 256, (6, config.image_size, config.image_size), dtype=torch.uint8))
    assert x.shape == (6, 1, config.image_size, config.image_size) and set(x.unique().tolist()) <= {0.0, 1.0}
    mu, logvar = net.encode(x)
    assert mu.shape == logvar.shape == (6, config.latent_dim)
    assert net.decode(mu).shape == x.shape
    loss, reconstruction, kl = net.negative_elbo(x, generator=torch.Generator().manual_seed(1))
    assert loss.shape == (6,) and bool((kl >= 0).all()) and torch.allclose(loss, reconstruction + kl)
    again, _, _ = net.negative_elbo(x, generator=torch.Generator().manual_seed(1))
    assert torch.equal(loss, again)


def _lm(seed: int = 0) -> CharTransformer:
    torch.manual_seed(seed)
    return CharTransformer(LmConfig.tiny(char_vocab("春风明月小楼\n"))).eval()


def test_vocab_puts_unknown_first_and_orders_by_frequency() -> None:
    vocab = char_vocab("aab\nb b", min_count=2)
    assert vocab[0] == UNKNOWN and set(vocab[1:]) == {"b", "a"} and vocab[1] == "b"
    net = _lm()
    assert net.encode("春x") == [net.index["春"], 0]


def test_lm_shapes_and_init_scale() -> None:
    net = _lm()
    ids = torch.randint(0, net.config.vocab_size, (3, 10))
    assert net(ids).shape == (3, 10, net.config.vocab_size)
    assert 0.015 < float(net.token.weight.detach().std()) < 0.025
    assert net.head.weight is net.token.weight
    assert all(isinstance(b.norm1, torch.nn.LayerNorm) for b in net.blocks)


def test_lm_is_causal() -> None:
    net = _lm()
    ids = torch.randint(0, net.config.vocab_size, (1, 12))
    changed = ids.clone()
    changed[0, 8:] = (changed[0, 8:] + 1) % net.config.vocab_size
    with torch.inference_mode():
        assert torch.allclose(net(ids)[0, :8], net(changed)[0, :8], atol=1e-6)


def test_kv_cache_gives_the_logits_of_a_full_pass() -> None:
    net = _lm()
    ids = torch.randint(0, net.config.vocab_size, (2, 20))
    with torch.inference_mode():
        full = net(ids)
        cache = KVCache(net.config, batch=2)
        pieces = [net(ids[:, :7], cache)]
        for t in range(7, 12):
            pieces.append(net(ids[:, t : t + 1], cache))
        pieces.append(net(ids[:, 12:], cache))
    assert cache.length == 20
    assert torch.allclose(torch.cat(pieces, dim=1), full, atol=1e-5)


def test_lm_refuses_more_than_its_context() -> None:
    net = _lm()
    with pytest.raises(ValueError, match="exceed the net's context"):
        net(torch.zeros(1, net.config.block_size + 1, dtype=torch.long))


def test_config_refuses_unknown_settings() -> None:
    with pytest.raises(ValueError, match="Unknown GanConfig setting"):
        GanConfig.from_dict({"latent": 3})
    with pytest.raises(ValueError, match="multiple of n_head"):
        LmConfig(n_embd=30, n_head=4)
