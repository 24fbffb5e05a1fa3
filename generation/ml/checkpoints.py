"""Checkpoint files: a torch archive of plain data (loaded with ``weights_only=True``), addressed by SHA-256.

Format version 2 may hold only some parts of a net (``parts``: the generator of a GAN, say, which is all that
serving needs) and may store its floating-point weights in half precision (``precision``); they load back into
a net of full precision. Version 1 files (the whole net in full precision) still load.
"""

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
from generation.ml.nets.textclf import TextClassifier, TextClassifierConfig
from generation.ml.nets.vae import ConvVae, VaeConfig

FORMAT = "genai-platform-checkpoint"
FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)
KINDS = ("gan", "vae", "lm", "classifier")
WHOLE = "*"
PRECISIONS = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


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
    # The parts of the net the file holds (WHOLE for all of it) and the precision its weights were stored in.
    parts: tuple[str, ...] = (WHOLE,)
    precision: str = "float32"

    @property
    def whole(self) -> bool:
        return WHOLE in self.parts


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
    if kind == "classifier":
        return TextClassifier(TextClassifierConfig.from_dict(config))
    raise ValueError(f"Unknown net kind {kind!r}; expected one of {', '.join(KINDS)}.")


def _in_parts(name: str, parts: tuple[str, ...]) -> bool:
    return WHOLE in parts or any(name == part or name.startswith(part + ".") for part in parts)


def checkpoint_dumps(
    *,
    kind: str,
    config: dict[str, Any],
    state: dict[str, Any],
    extra: dict[str, Any],
    parts: tuple[str, ...] | list[str] = (WHOLE,),
    precision: str = "float32",
) -> bytes:
    """Serialise a net's state; ``config`` and ``extra`` must be JSON-serialisable (they are stored as JSON).

    Tensors are moved to the CPU first, so the file loads on any device.
    Only the tensors of ``parts`` (names of the net's submodules, or WHOLE) are kept; floating-point tensors are
    stored in ``precision``. The same arguments always give the same bytes.
    """
    if kind not in KINDS:
        raise ValueError(f"Unknown net kind {kind!r}; expected one of {', '.join(KINDS)}.")
    if precision not in PRECISIONS:
        raise ValueError(f"Unknown precision {precision!r}; expected one of {', '.join(PRECISIONS)}.")
    parts = tuple(parts)
    if not parts:
        raise ValueError(f"Name at least one part of the net to keep, or {WHOLE!r} for all of it.")
    kept: dict[str, torch.Tensor] = {}
    for name, tensor in state.items():
        if _in_parts(name, parts):
            value = tensor.detach().cpu()
            if value.is_floating_point():
                value = value.to(PRECISIONS[precision])
            kept[name] = value.contiguous()
    missing = [part for part in parts if part != WHOLE and not any(_in_parts(name, (part,)) for name in kept)]
    if missing:
        raise ValueError(f"The {kind} net has no part named {', '.join(missing)}.")
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "kind": kind,
        "config_json": json.dumps(config, sort_keys=True, ensure_ascii=False),
        "extra_json": json.dumps(extra, sort_keys=True, ensure_ascii=False),
        "parts": list(parts),
        "precision": precision,
        "state": kept,
    }
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return buffer.getvalue()


def checkpoint_loads(data: bytes, *, expected_sha256: str, device: torch.device | str = "cpu") -> LoadedNet:
    """Verify the hash, then load without running any pickled code; the net comes back in eval mode on ``device``.

    Checkpoints hold CPU tensors (``checkpoint_dumps`` moves them there) and are read with ``map_location`` set to
    ``device``, so a file written on any device loads on any other.
    """
    actual = checkpoint_sha256(data)
    if actual != expected_sha256.lower():
        raise ChecksumMismatch(
            f"Checkpoint refused: its SHA-256 is {actual}, but {expected_sha256} was recorded for it. "
            "The file was changed or damaged after it was written."
        )
    try:
        payload = torch.load(io.BytesIO(data), map_location=torch.device(device), weights_only=True)
    except Exception as exc:  # torch raises several types for a damaged or foreign archive
        raise NotACheckpoint(f"Not a checkpoint file: it cannot be read as a weights archive ({exc}).") from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise NotACheckpoint("Not a checkpoint file: it is a torch archive but not one this platform wrote.")
    if payload.get("format_version") not in READABLE_VERSIONS:
        raise NotACheckpoint(
            f"Checkpoint format version {payload.get('format_version')} is not supported "
            f"(this code reads {', '.join(map(str, READABLE_VERSIONS))})."
        )
    kind = payload["kind"]
    config = json.loads(payload["config_json"])
    extra = json.loads(payload["extra_json"])
    parts = tuple(payload.get("parts") or (WHOLE,))
    net = build_net(kind, config).to(device)
    wanted = {name for name in net.state_dict() if _in_parts(name, parts)}
    state = payload["state"]
    try:
        if set(state) != wanted:
            lacking, foreign = sorted(wanted - set(state)), sorted(set(state) - wanted)
            raise RuntimeError(f"missing {lacking[:3]}, unexpected {foreign[:3]}")
        net.load_state_dict(state, strict=WHOLE in parts)  # copies into the net's own (full) precision
    except RuntimeError as exc:
        raise NotACheckpoint(f"Checkpoint weights do not fit a {kind} net of its own configuration: {exc}") from exc
    net.eval()
    return LoadedNet(
        kind=kind, config=config, net=net, extra=extra, parts=parts, precision=payload.get("precision", "float32")
    )


def checkpoint_slim(data: bytes, *, parts: tuple[str, ...] | list[str], precision: str, extra: dict[str, Any]) -> bytes:
    """A whole checkpoint rewritten with only ``parts`` in ``precision`` and ``extra`` added to its facts."""
    loaded = checkpoint_loads(data, expected_sha256=checkpoint_sha256(data))
    return checkpoint_dumps(
        kind=loaded.kind,
        config=loaded.config,
        state=loaded.net.state_dict(),
        extra={**loaded.extra, **extra},
        parts=parts,
        precision=precision,
    )
