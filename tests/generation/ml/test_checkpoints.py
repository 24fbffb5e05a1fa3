"""Checkpoint bytes: round trip, hash verification, and refusal of files that are not checkpoints."""

from __future__ import annotations

import io
import json
import pickle

import pytest
import torch

from generation.ml.checkpoints import (
    ChecksumMismatch,
    NotACheckpoint,
    checkpoint_dumps,
    checkpoint_loads,
    checkpoint_sha256,
)
from generation.ml.nets.attention import CharTransformer, LmConfig, char_vocab
from generation.ml.nets.gan import ConditionalGan, GanConfig
from generation.ml.nets.vae import ConvVae, VaeConfig


def _gan_blob() -> tuple[ConditionalGan, bytes]:
    torch.manual_seed(0)
    net = ConditionalGan(GanConfig.tiny()).eval()
    blob = checkpoint_dumps(
        kind="gan", config=net.config.to_dict(), state=net.state_dict(), extra={"epoch": 3, "note": "测试"}
    )
    return net, blob


def test_round_trip_gives_the_same_net() -> None:
    net, blob = _gan_blob()
    loaded = checkpoint_loads(blob, expected_sha256=checkpoint_sha256(blob))
    assert loaded.kind == "gan" and loaded.extra == {"epoch": 3, "note": "测试"}
    assert loaded.config == net.config.to_dict()
    assert not loaded.net.training
    z, labels = torch.randn(3, 16), torch.tensor([1, 2, 3])
    with torch.inference_mode():
        assert torch.equal(loaded.net.generate(z, labels), net.generate(z, labels))  # type: ignore[operator]


@pytest.mark.parametrize("kind", ["vae", "lm"])
def test_round_trip_other_kinds(kind: str) -> None:
    torch.manual_seed(0)
    if kind == "vae":
        net: torch.nn.Module = ConvVae(VaeConfig.tiny())
        config = VaeConfig.tiny().to_dict()
    else:
        lm_config = LmConfig.tiny(char_vocab("一二三\n"))
        net, config = CharTransformer(lm_config), lm_config.to_dict()
    blob = checkpoint_dumps(kind=kind, config=config, state=net.state_dict(), extra={})
    loaded = checkpoint_loads(blob, expected_sha256=checkpoint_sha256(blob))
    for name, tensor in net.state_dict().items():
        assert torch.equal(loaded.net.state_dict()[name], tensor)
    if kind == "lm":
        assert loaded.net.config.vocab == lm_config.vocab  # type: ignore[union-attr]


def test_same_state_gives_the_same_bytes() -> None:
    assert _gan_blob()[1] == _gan_blob()[1]


def test_corrupted_file_is_refused() -> None:
    _, blob = _gan_blob()
    recorded = checkpoint_sha256(blob)
    damaged = bytearray(blob)
    damaged[len(damaged) // 2] ^= 0x01
    with pytest.raises(ChecksumMismatch, match="was recorded for it"):
        checkpoint_loads(bytes(damaged), expected_sha256=recorded)
    assert issubclass(ChecksumMismatch, ValueError)


def test_truncated_file_with_its_own_hash_is_not_a_checkpoint() -> None:
    _, blob = _gan_blob()
    cut = blob[: len(blob) // 3]
    with pytest.raises(NotACheckpoint, match="Not a checkpoint file"):
        checkpoint_loads(cut, expected_sha256=checkpoint_sha256(cut))


def test_other_files_are_not_checkpoints() -> None:
    for blob in (b"hello, not a checkpoint", b""):
        with pytest.raises(NotACheckpoint):
            checkpoint_loads(blob, expected_sha256=checkpoint_sha256(blob))
    buffer = io.BytesIO()
    torch.save({"weights": torch.zeros(2)}, buffer)
    foreign = buffer.getvalue()
    with pytest.raises(NotACheckpoint, match="not one this platform wrote"):
        checkpoint_loads(foreign, expected_sha256=checkpoint_sha256(foreign))


class _Exploit:
    ran = False

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (_mark_ran, ())


def _mark_ran() -> None:
    _Exploit.ran = True


def test_pickled_code_is_not_run() -> None:
    buffer = io.BytesIO()
    torch.save({"format": "genai-platform-checkpoint", "payload": _Exploit()}, buffer, pickle_protocol=2)
    blob = buffer.getvalue()
    with pytest.raises(NotACheckpoint):
        checkpoint_loads(blob, expected_sha256=checkpoint_sha256(blob))
    assert _Exploit.ran is False
    # The payload is live: unpickling it the unsafe way does run it.
    assert pickle.loads(pickle.dumps(_Exploit())) is None and _Exploit.ran is True  # noqa: S301


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="Unknown net kind"):
        checkpoint_dumps(kind="rnn", config={}, state={}, extra={})


def test_a_slim_half_precision_checkpoint_keeps_only_what_serving_needs() -> None:
    from generation.ml.checkpoints import checkpoint_slim

    net, blob = _gan_blob()
    slim = checkpoint_slim(blob, parts=["generator"], precision="float16", extra={"figures": {"fid": 1.0}})

    loaded = checkpoint_loads(slim, expected_sha256=checkpoint_sha256(slim))
    assert loaded.parts == ("generator",) and loaded.precision == "float16" and not loaded.whole
    assert loaded.extra == {"epoch": 3, "note": "测试", "figures": {"fid": 1.0}}
    assert len(slim) < len(blob) / 2
    z, labels = torch.randn(3, 16), torch.tensor([1, 2, 3])
    with torch.inference_mode():
        full, half = net.generate(z, labels), loaded.net.generate(z, labels)  # type: ignore[operator]
    assert half.dtype == torch.float32
    assert torch.allclose(full, half, atol=2e-2) and not torch.equal(full, half)


def test_a_part_the_net_does_not_have_is_refused() -> None:
    net, _ = _gan_blob()
    with pytest.raises(ValueError, match="no part named decoder"):
        checkpoint_dumps(kind="gan", config=net.config.to_dict(), state=net.state_dict(), extra={}, parts=["decoder"])


def test_a_checkpoint_missing_weights_of_its_parts_is_not_a_checkpoint() -> None:
    net, _ = _gan_blob()
    state = {k: v for k, v in net.state_dict().items() if not k.startswith("generator.project")}
    blob = checkpoint_dumps(kind="gan", config=net.config.to_dict(), state=state, extra={}, parts=["generator"])

    with pytest.raises(NotACheckpoint, match="do not fit"):
        checkpoint_loads(blob, expected_sha256=checkpoint_sha256(blob))


def test_a_version_1_file_still_loads() -> None:
    net, _ = _gan_blob()
    payload = {
        "format": "genai-platform-checkpoint",
        "format_version": 1,
        "kind": "gan",
        "config_json": json.dumps(net.config.to_dict()),
        "extra_json": "{}",
        "state": net.state_dict(),
    }
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    blob = buffer.getvalue()

    loaded = checkpoint_loads(blob, expected_sha256=checkpoint_sha256(blob))
    assert loaded.whole and loaded.precision == "float32"
