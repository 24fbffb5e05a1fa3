"""Checkpoint files: a torch archive of plain data (loaded with ``weights_only=True``), addressed by SHA-256."""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from generation.ml.nets.attention import CharTransformer, LmConfig
from generation.ml.nets.gan import ConditionalGan, GanConfig
from generation.ml.nets.vae import ConvVae, VaeConfig

FORMAT = "genai-platform-checkpoint"
FORMAT_VERSION = 1
KINDS = ("gan", "vae", "lm")


class ChecksumMismatch(ValueError):  # noqa: N818 (the name says what went wrong)
    """The checkpoint bytes do not have the SHA-256 recorded for them."""


class NotACheckpoint(ValueError):  # noqa: N818
    """The bytes are not a checkpoint of this platform (or are damaged beyond the hash check)."""


@dataclass
class LoadedNet:
    kind: str
    config: dict[str, Any]
    net: nn.Module
    extra: dict[str, Any]


def checkpoint_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def build_net(kind: str, config: dict[str, Any]) -> nn.Module:
    """A freshly initialised net of ``kind`` from its configuration dict."""
    if kind == "gan":
        return ConditionalGan(GanConfig.from_dict(config))
    if kind == "vae":
        return ConvVae(VaeConfig.from_dict(config))
    if kind == "lm":
        return CharTransformer(LmConfig.from_dict(config))
    raise ValueError(f"Unknown net kind {kind!r}; expected one of {', '.join(KINDS)}.")


def checkpoint_dumps(*, kind: str, config: dict[str, Any], state: dict[str, Any], extra: dict[str, Any]) -> bytes:
    """Serialise a net's state; ``config`` and ``extra`` must be JSON-serialisable (they are stored as JSON)."""
    if kind not in KINDS:
        raise ValueError(f"Unknown net kind {kind!r}; expected one of {', '.join(KINDS)}.")
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "kind": kind,
        "config_json": json.dumps(config, sort_keys=True, ensure_ascii=False),
        "extra_json": json.dumps(extra, sort_keys=True, ensure_ascii=False),
        "state": {name: tensor.detach().cpu().contiguous() for name, tensor in state.items()},
    }
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return buffer.getvalue()


def checkpoint_loads(data: bytes, *, expected_sha256: str) -> LoadedNet:
    """Verify the hash, then load without running any pickled code; the net comes back in eval mode."""
    actual = checkpoint_sha256(data)
    if actual != expected_sha256.lower():
        raise ChecksumMismatch(
            f"Checkpoint refused: its SHA-256 is {actual}, but {expected_sha256} was recorded for it. "
            "The file was changed or damaged after it was written."
        )
    try:
        payload = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for a damaged or foreign archive
        raise NotACheckpoint(f"Not a checkpoint file: it cannot be read as a weights archive ({exc}).") from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise NotACheckpoint("Not a checkpoint file: it is a torch archive but not one this platform wrote.")
    if payload.get("format_version") != FORMAT_VERSION:
        raise NotACheckpoint(
            f"Checkpoint format version {payload.get('format_version')} is not supported (expected {FORMAT_VERSION})."
        )
    kind = payload["kind"]
    config = json.loads(payload["config_json"])
    extra = json.loads(payload["extra_json"])
    net = build_net(kind, config)
    try:
        net.load_state_dict(payload["state"])
    except RuntimeError as exc:
        raise NotACheckpoint(f"Checkpoint weights do not fit a {kind} net of its own configuration: {exc}") from exc
    net.eval()
    return LoadedNet(kind=kind, config=config, net=net, extra=extra)
