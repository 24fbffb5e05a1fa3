"""Checkpoint bookkeeping: storing weights, the quality gate, and which checkpoint serves each net.

A checkpoint serves only if its figures pass the quality gate (``generation.quality``), or an operator
overrode the gate with a written reason. Promotion and override are audit events. A training run promotes
its checkpoint on its own only when it passes and beats the one serving (or nothing passing serves); a
failing checkpoint stays inspectable, with its failing figures, and never replaces a passing one.

Torch is never imported here: figures are measured in workers (``generation.ml.evaluation``).
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audit import services as audit
from generation.models import NET_TYPE_OF_KIND, Checkpoint, NetKind
from generation.quality import GateVerdict, gate_verdict


class ServingRefused(Exception):  # noqa: N818 (the name says what happened)
    """The checkpoint may not serve; ``message`` says why in words an operator can act on."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def checkpoint_serving(kind: str) -> Checkpoint | None:
    """The checkpoint serving ``kind``, with its model record, service and provider (what the policy gate and the
    audit records read) in the same query."""
    return (
        Checkpoint.objects.select_related("model_record__service__provider").filter(kind=kind, is_active=True).first()
    )


@transaction.atomic
def checkpoint_store(
    *,
    kind: str,
    data: bytes,
    sha256: str,
    config: dict[str, Any],
    metric_name: str = "",
    metric_value: float | None = None,
    training_run: Any = None,
    model_record: Any = None,
    figures: dict[str, Any] | None = None,
    tunes: list[dict[str, Any]] | None = None,
    origin: str = Checkpoint.Origin.TRAINED,
) -> Checkpoint:
    """Write checkpoint bytes through the storage API and record them (idempotent on the hash).

    With ``figures`` the checkpoint is judged by the quality gate at once.
    """
    if hashlib.sha256(data).hexdigest() != sha256:
        raise ValueError("checkpoint bytes do not match their SHA-256")
    existing = Checkpoint.objects.filter(sha256=sha256).first()
    if existing:
        return existing
    name = default_storage.save(f"checkpoints/{kind}-{sha256[:16]}.pt", ContentFile(data))
    checkpoint = Checkpoint.objects.create(
        kind=kind,
        sha256=sha256,
        file=name,
        size_bytes=len(data),
        config=config,
        metric_name=metric_name,
        metric_value=metric_value if metric_value is None or math.isfinite(metric_value) else None,
        training_run=training_run,
        model_record=model_record,
        tunes=tunes or [],
        origin=origin,
    )
    if figures is not None:
        checkpoint_gate_apply(checkpoint=checkpoint, figures=figures)
    return checkpoint


def checkpoint_gate_apply(*, checkpoint: Checkpoint, figures: dict[str, Any] | None = None) -> GateVerdict:
    """Judge the checkpoint's figures (``figures`` if given, else those stored) by the thresholds in force."""
    if figures is not None:
        checkpoint.figures = _json_safe(figures)
    verdict = gate_verdict(checkpoint.kind, checkpoint.figures)
    checkpoint.gate = Checkpoint.Gate.PASSED if verdict.passed else Checkpoint.Gate.FAILED
    checkpoint.gate_checks = [check.as_dict() for check in verdict.checks]
    checkpoint.gate_config_version = verdict.config_version
    checkpoint.save(update_fields=["figures", "gate", "gate_checks", "gate_config_version"])
    return verdict


def _json_safe(figures: dict[str, Any]) -> dict[str, Any]:
    """Figures as JSON can hold them: a NaN or an infinity (a diverged net) becomes None, read as not measured."""
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in figures.items()}


def gate_refusal(checkpoint: Checkpoint) -> str | None:
    """Why the quality gate keeps ``checkpoint`` from serving, in words; None when it may serve."""
    if checkpoint.may_serve:
        return None
    if checkpoint.gate == Checkpoint.Gate.UNMEASURED:
        return _("Checkpoint %(name)s has not been measured by the quality gate, so it may not serve.") % {
            "name": checkpoint.sha256[:12]
        }
    failing = "; ".join(check.sentence() for check in _checks(checkpoint) if not check.passed) or _(
        "no figures recorded"
    )
    return _("Checkpoint %(name)s failed the quality gate, so it may not serve: %(failing)s.") % {
        "name": checkpoint.sha256[:12],
        "failing": failing,
    }


def _checks(checkpoint: Checkpoint) -> list[Any]:
    from generation.quality import GateCheck

    return [GateCheck.from_dict(values) for values in checkpoint.gate_checks]


def record_refusal(checkpoint: Checkpoint, record: Any) -> str | None:
    """Why ``checkpoint`` may not serve under model record ``record``, in words; None when it may.

    A checkpoint serves end users only as a version of an approved model record of the public service, of
    its own kind of net: that record is what the filing, every label and every audit record name.
    """
    from filing.models import ModelRecord

    if record is None:
        return _("Attach the checkpoint to an approved model record of the public service first.")
    if record.net_type != NET_TYPE_OF_KIND[NetKind(checkpoint.kind)]:
        return _("Model record %(record)s is for another kind of net.") % {"record": record}
    if record.approval != ModelRecord.Approval.APPROVED:
        return _("Model record %(record)s is not approved.") % {"record": record}
    if not record.service.is_public:
        return _("Model record %(record)s belongs to “%(service)s”, which is not the public service.") % {
            "record": record,
            "service": record.service,
        }
    return None


def serving_records(kind: str) -> list[Any]:
    """The model records a checkpoint of ``kind`` may serve under: approved records of the public service."""
    from filing.models import ModelRecord

    return list(
        ModelRecord.objects.select_related("service")
        .filter(
            service__is_public=True,
            approval=ModelRecord.Approval.APPROVED,
            net_type=NET_TYPE_OF_KIND[NetKind(kind)],
        )
        .order_by("name", "version")
    )


@transaction.atomic
def checkpoint_serve(
    *, checkpoint: Checkpoint, record: Any, actor: Any, request: Any = None, override_reason: str = ""
) -> Checkpoint:
    """The explicit action that makes a checkpoint serve: attach it to ``record`` and promote it.

    With ``override_reason`` a checkpoint that failed the quality gate is overridden first (an audit event).
    Raises ServingRefused, with nothing changed, when the record or the gate does not allow it.
    """
    refusal = record_refusal(checkpoint, record)
    if refusal:
        raise ServingRefused(refusal)
    if override_reason and not checkpoint.may_serve:
        checkpoint = checkpoint_gate_override(
            checkpoint=checkpoint, actor=actor, reason=override_reason, request=request
        )
    elif gate_refusal(checkpoint):
        raise ServingRefused(gate_refusal(checkpoint) or "")
    Checkpoint.objects.filter(pk=checkpoint.pk).update(model_record=record)
    checkpoint.model_record = record
    return checkpoint_promote(checkpoint=checkpoint, actor=actor, request=request, by="admin")


@transaction.atomic
def checkpoint_promote(*, checkpoint: Checkpoint, actor: Any = None, request: Any = None, by: str) -> Checkpoint:
    """Make ``checkpoint`` the one that serves its net; ``by`` says who decided (training, admin, bundled).

    Raises ServingRefused when the checkpoint has not passed the quality gate and no override was recorded,
    or when it is not a version of an approved model record of the public service.
    """
    checkpoint = (
        Checkpoint.objects.select_for_update(of=("self",)).select_related("model_record__service").get(pk=checkpoint.pk)
    )
    refusal = gate_refusal(checkpoint) or record_refusal(checkpoint, checkpoint.model_record)
    if refusal:
        raise ServingRefused(refusal)
    if checkpoint.is_active:
        return checkpoint
    previous = list(
        Checkpoint.objects.select_for_update().filter(kind=checkpoint.kind, is_active=True).exclude(pk=checkpoint.pk)
    )
    Checkpoint.objects.filter(pk__in=[p.pk for p in previous]).update(is_active=False)
    checkpoint.is_active = True
    checkpoint.save(update_fields=["is_active"])
    record = checkpoint.model_record
    _checkpoint_event(
        "generation.checkpoint_served",
        checkpoint,
        actor=actor,
        request=request,
        model_record=str(record) if record else "",
        facts={
            "by": by,
            "overridden": bool(checkpoint.gate_override_reason),
            "replaced": [p.sha256 for p in previous],
        },
    )
    return checkpoint


@transaction.atomic
def checkpoint_gate_override(*, checkpoint: Checkpoint, actor: Any, reason: str, request: Any = None) -> Checkpoint:
    """Let a checkpoint that failed the gate serve anyway, for the written ``reason`` (an audit event)."""
    reason = (reason or "").strip()
    if len(reason) < 10:
        raise ServingRefused(_("Write why the quality gate is overridden, in at least 10 characters."))
    checkpoint = Checkpoint.objects.select_for_update().get(pk=checkpoint.pk)
    checkpoint.gate_override_reason = reason
    checkpoint.gate_override_by = actor.get_username() if actor is not None else ""
    checkpoint.gate_override_at = timezone.now()
    checkpoint.save(update_fields=["gate_override_reason", "gate_override_by", "gate_override_at"])
    _checkpoint_event(
        "generation.quality_gate_overridden",
        checkpoint,
        actor=actor,
        request=request,
        facts={"reason": reason, "failing": [c["figure"] for c in checkpoint.gate_checks if not c["passed"]]},
    )
    return checkpoint


def _checkpoint_event(
    event_type: str, checkpoint: Checkpoint, *, actor: Any, request: Any, facts: dict[str, Any], **fields: Any
) -> None:
    """The audit record of a change to which checkpoint may serve: its kind, gate verdict and figures with
    ``facts`` in the payload, ``fields`` as the record's own fields."""
    audit.generation_event(
        event_type=event_type,
        actor=actor,
        request=request,
        subject=checkpoint,
        checkpoint_sha256=checkpoint.sha256,
        payload={"kind": checkpoint.kind, "gate": checkpoint.gate, **facts, "figures": checkpoint.figures},
        **fields,
    )


def checkpoint_beats(new: Checkpoint, serving: Checkpoint | None) -> bool:
    """Whether a training run's new checkpoint should take over from ``serving`` on its own.

    Only a checkpoint that passed the gate may; it does when nothing serves, when what serves did not pass
    (an override), or when its figure is better under the same measure.
    """
    if new.gate != Checkpoint.Gate.PASSED:
        return False
    if serving is None or serving.gate != Checkpoint.Gate.PASSED:
        return True
    key, lower_is_better = _RANKING[new.kind]
    mine, theirs = new.figures.get(key), serving.figures.get(key)
    if not isinstance(mine, int | float) or not isinstance(theirs, int | float):
        return False
    if not _same_measure(serving.figures, new.figures):
        return False
    return mine < theirs if lower_is_better else mine > theirs


# The figure training runs compare checkpoints by, and whether lower is better.
_RANKING: dict[str, tuple[str, bool]] = {
    "gan": ("digit_fid_ratio", True),
    "vae": ("test_nats", True),
    "lm": ("nats_per_char", True),
    "classifier": ("macro_f1", False),
}


def _same_measure(serving: dict[str, Any], new: dict[str, Any]) -> bool:
    """Whether two checkpoints' figures were measured alike, so the better one is the better net.

    The GAN's digit-FID comes from a digit classifier: the bundled one on every machine, or one a host trained
    at first use where the data differ (floating-point results differ between CPUs). A checkpoint measured by
    another classifier is kept but not served on its own. One that does not record its classifier (older
    runs, other kinds) is taken as measured alike.
    """
    mine, theirs = serving.get("classifier_sha256"), new.get("classifier_sha256")
    return mine is None or theirs is None or mine == theirs


@transaction.atomic
def checkpoints_bundled_register(*, model_records: dict[str, Any]) -> list[Checkpoint]:
    """Register the weights bundled in the repository (``generation/weights/``) under ``model_records`` (by kind).

    Each becomes a checkpoint with its lineage (a training run of origin "bundled" with the recipe's
    configuration, seed, data-set records, code and torch versions) and its recorded figures, judged by the
    quality gate in force. One that passes serves its net unless a checkpoint that passed already serves.
    Idempotent: weights already registered are returned as they are. The files' hashes are checked on reading.
    """
    from filing.services import dataset_register
    from generation.bundled import bundled_bytes, manifest
    from generation.models import TrainingRun

    registered = []
    for kind, entry in sorted(manifest().get("nets", {}).items()):
        record = model_records.get(kind)
        existing = Checkpoint.objects.filter(sha256=entry["sha256"]).first()
        if existing is not None:
            registered.append(existing)
            continue
        data = bundled_bytes(entry)
        lineage = entry["lineage"]
        run = TrainingRun.objects.create(
            kind=kind,
            origin=TrainingRun.Origin.BUNDLED,
            status=TrainingRun.Status.SUCCEEDED,
            phase=TrainingRun.Phase.DONE,
            seed=lineage["seed"],
            data=lineage["data"],
            epochs=lineage["epochs"],
            config=lineage.get("config", {}),
            hyperparameters=lineage["hyperparameters"],
            dataset_names=[d["name"] for d in lineage["datasets"]],
            dataset_fingerprints=[d["sha256"] for d in lineage["datasets"]],
            code_version=lineage["code_version"],
            torch_version=lineage["torch_version"],
            metric_name=lineage["metric_name"],
            best_metric=lineage["best_metric"],
            best_epoch=lineage["best_epoch"],
            progress=1.0,
            model_record=record,
            worker=_("weights recipe (make weights)"),
        )
        run.datasets.set([dataset_register(**facts) for facts in lineage["datasets"]])
        checkpoint = checkpoint_store(
            kind=kind,
            data=data,
            sha256=entry["sha256"],
            config=lineage["hyperparameters"],
            metric_name=lineage["metric_name"],
            metric_value=lineage["best_metric"],
            training_run=run,
            model_record=record,
            figures=entry["figures"],
            tunes=entry.get("tunes", []),
            origin=Checkpoint.Origin.BUNDLED,
        )
        serving = checkpoint_serving(kind)
        if checkpoint.gate == Checkpoint.Gate.PASSED and (serving is None or serving.gate != Checkpoint.Gate.PASSED):
            try:
                checkpoint = checkpoint_promote(checkpoint=checkpoint, by="bundled")
            except ServingRefused:
                pass  # its record is not one of the public service: kept, for an operator to attach
        registered.append(checkpoint)
    return registered
