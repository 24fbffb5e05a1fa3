"""Test data for generation: serving checkpoints made from tiny, untrained nets (no training needed)."""

from __future__ import annotations

from generation.models import Checkpoint
from generation.services import checkpoint_activate, checkpoint_store

TINY_VOCAB = "春风花月夜山水云天人"


def checkpoint_tiny(kind: str, *, seed: int = 0, activate: bool = True) -> Checkpoint:
    import torch

    from generation.ml.checkpoints import build_net, checkpoint_dumps, checkpoint_sha256
    from generation.ml.nets.attention import LmConfig
    from generation.ml.nets.gan import GanConfig
    from generation.ml.nets.vae import VaeConfig

    config = {
        "gan": lambda: GanConfig.tiny().to_dict(),
        "vae": lambda: VaeConfig.tiny().to_dict(),
        "lm": lambda: LmConfig.tiny().replace(vocab="\ufffd" + TINY_VOCAB).to_dict(),
    }[kind]()
    torch.manual_seed(seed)
    net = build_net(kind, config)
    data = checkpoint_dumps(kind=kind, config=config, state=net.state_dict(), extra={"test": True})
    checkpoint = checkpoint_store(
        kind=kind, data=data, sha256=checkpoint_sha256(data), config=config, metric_name="test", metric_value=1.0
    )
    if activate:
        checkpoint_activate(checkpoint=checkpoint)
    return checkpoint
