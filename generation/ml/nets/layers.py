"""Layer builders the nets share.

They return plain lists, spread into each net's ``nn.Sequential``, so the layers keep the indices (and the
state-dict keys of saved checkpoints) they had when each net wrote them out itself.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn


def conv_stack(channels: int, count: int, *, norm: Callable[[int], nn.Module] | None = None) -> list[nn.Module]:
    """``count`` 3x3 convolutions that keep the channels and the resolution, each followed by a ReLU.

    With ``norm``, each convolution is followed by ``norm(channels)`` before its ReLU and has no bias of its own
    (the norm's would cancel it). A count of 0 or less gives no layers.
    """
    layers: list[nn.Module] = []
    for _ in range(max(0, count)):
        layers.append(nn.Conv2d(channels, channels, 3, padding=1, bias=norm is None))
        if norm is not None:
            layers.append(norm(channels))
        layers.append(nn.ReLU(inplace=True))
    return layers


def dropout(p: float) -> list[nn.Module]:
    """A dropout layer, or none at all for ``p`` 0, so a net without dropout has no layer for it."""
    return [nn.Dropout(p)] if p else []
