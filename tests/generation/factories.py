"""Test data for generation: serving checkpoints made from tiny, untrained nets (no training needed).

An untrained net cannot pass the quality gate, so the factory overrides the gate for it, with a reason,
as an operator would: it then serves like any checkpoint.
"""

from __future__ import annotations

from filing.models import ModelRecord, Provider, Service
from filing.services import service_make_public
from generation.checkpoints import checkpoint_gate_override, checkpoint_promote, checkpoint_store
from generation.models import NET_TYPE_OF_KIND, Checkpoint, NetKind

TINY_VOCAB = "春风花月夜山水云天人，。"
# The tunes the tiny text net writes to: a short form, a longer one, and a long one (280 characters).
TINY_TUNES = [
    {"name": "测试调", "pieces": 10, "form": [3, 3], "form_share": 1.0, "marks": "，。"},
    {"name": "长短句", "pieces": 8, "form": [4, 5, 4], "form_share": 0.9, "marks": "，，。"},
    {"name": "慢词", "pieces": 2, "form": [9] * 28, "form_share": 0.5, "marks": "，。" * 14},
]
TEST_USCC = "91110108MA0DEM0000"
MODEL_CODES = {"gan": "TGAN", "vae": "TVAE", "lm": "TLMC", "classifier": "TCLF"}


TEST_FILING_NUMBER = "Beijing-CeShi-20260101"


def service_serving(
    *, internal_testing: bool = False, status: str = Service.Status.FILED, real_name_required: bool = False
) -> Service:
    """The public service test checkpoints serve under: filed, with its number, so it serves every user (without
    real-name verification unless asked: the tests of verification ask for it)."""
    provider, _ = Provider.objects.get_or_create(uscc=TEST_USCC, defaults={"legal_name": "测试科技有限公司"})
    number = TEST_FILING_NUMBER if status in (Service.Status.FILED, Service.Status.CHANGE_PENDING) else ""
    service, _ = Service.objects.update_or_create(
        provider=provider,
        name="测试服务",
        defaults={
            "internal_testing": internal_testing,
            "status": status,
            "filing_number": number,
            "real_name_required": real_name_required,
        },
    )
    return service_make_public(service=service, actor=None)


def model_record_for(kind: str, *, approval: str = ModelRecord.Approval.APPROVED) -> ModelRecord:
    record, _ = ModelRecord.objects.update_or_create(
        code=MODEL_CODES[kind],
        defaults={
            "service": Service.objects.filter(provider__uscc=TEST_USCC, name="测试服务").first() or service_serving(),
            "name": f"test {kind}",
            "net_type": NET_TYPE_OF_KIND[NetKind(kind)],
            "approval": approval,
        },
    )
    return record


def checkpoint_tiny(kind: str, *, seed: int = 0, activate: bool = True) -> Checkpoint:
    import torch

    from generation.ml.checkpoints import build_net, checkpoint_dumps, checkpoint_sha256
    from generation.ml.nets.attention import LmConfig
    from generation.ml.nets.gan import GanConfig
    from generation.ml.nets.textclf import TextClassifierConfig
    from generation.ml.nets.vae import VaeConfig

    config = {
        "classifier": lambda: TextClassifierConfig.tiny().to_dict(),
        "gan": lambda: GanConfig.tiny().to_dict(),
        "vae": lambda: VaeConfig.tiny().to_dict(),
        "lm": lambda: LmConfig.tiny().replace(vocab="\ufffd" + TINY_VOCAB).to_dict(),
    }[kind]()
    torch.manual_seed(seed)
    net = build_net(kind, config)
    data = checkpoint_dumps(kind=kind, config=config, state=net.state_dict(), extra={"test": True})
    checkpoint = checkpoint_store(
        kind=kind,
        data=data,
        sha256=checkpoint_sha256(data),
        config=config,
        metric_name="test",
        metric_value=1.0,
        model_record=model_record_for(kind),
        tunes=TINY_TUNES if kind == "lm" else None,
    )
    if activate:
        checkpoint_serve_untrained(checkpoint)
    return checkpoint


def checkpoint_serve_untrained(checkpoint: Checkpoint) -> Checkpoint:
    """Let a test checkpoint serve although it was never measured: the gate is overridden with a reason."""
    checkpoint_gate_override(checkpoint=checkpoint, actor=None, reason="tiny untrained net of the test suite")
    return checkpoint_promote(checkpoint=checkpoint, by="admin")


def training_data_exempt(data: object) -> object:
    """Register the data set a test trains on and record its exemption from the source safety check, as an
    operator would for an openly licensed public data set: training refuses a dataset without a passed check or
    an exemption. ``data`` is a loaded data set (``generation.ml.data``) or the name of a training-data choice."""
    from filing.services import dataset_check_exempt, dataset_register

    if isinstance(data, str):
        from generation.ml import data as loaders

        data = {
            "digits8": loaders.digits8,
            "mnist5k": loaders.mnist5k,
            "songci": loaders.songci,
            "cold": lambda: loaders.cold("train"),
        }[data]()
    dataset = dataset_register(**data.facts())  # type: ignore[attr-defined]
    return dataset_check_exempt(dataset=dataset, reason="An openly licensed public data set (test).", actor="test")
