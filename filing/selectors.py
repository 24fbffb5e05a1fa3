"""Reads of filing records: refusals, lineage, the readiness checklist of a service."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.apps import apps
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from filing.models import (
    AnnotationRule,
    AnnotationTask,
    Annotator,
    Dataset,
    Document,
    ModelRecord,
    Risk,
    SafetyCheck,
    Service,
    SpotCheck,
)


def service_public() -> Service | None:
    """The one service the site presents to the public (None before an operator chose one)."""
    return Service.objects.select_related("provider").filter(is_public=True).first()


def service_audience(service: Service) -> str:
    """Who may use ``service`` now, in words."""
    if service.open_to_public:
        return _("everyone: it is filed under %(number)s") % {"number": service.filing_number}
    if service.in_internal_testing:
        count = service.testers.count()
        return ngettext(
            "only its %(n)d tester: it is in internal testing",
            "only its %(n)d testers: it is in internal testing",
            count,
        ) % {"n": count}
    return _("no one: it is neither filed nor in internal testing")


def document_published(kind: str) -> Document | None:
    """The newest published document of ``kind`` of the public service (its terms or privacy policy), if any."""
    return (
        Document.objects.filter(service__is_public=True, kind=kind, published_at__isnull=False)
        .order_by("-published_at", "-pk")
        .first()
    )


def model_record_serving(record: ModelRecord) -> bool:
    """Whether end users of the public service get content from a checkpoint of ``record`` now."""
    if record.pk is None or not record.service.is_public:
        return False
    return bool(record.checkpoints.filter(is_active=True).exists())  # type: ignore[attr-defined]


def service_generators(service: Service) -> list[tuple[ModelRecord, list[Any]]]:
    """Each model record of ``service`` with the checkpoints serving under it (what end users would get)."""
    return [
        (record, list(record.checkpoints.filter(is_active=True)))  # type: ignore[attr-defined]
        for record in service.model_records.order_by("net_type", "name")
    ]


def dataset_training_refusal(dataset: Dataset) -> str | None:
    """Why training on ``dataset`` is refused, or ``None`` when it may be trained on.

    A dataset may be trained on once its source safety check passed (TC260-003 §5.1 a)), or, without a check,
    when an exemption with a written reason is recorded on it. A dataset whose check failed (illegal share above
    the threshold) is unusable, exempted or not.
    """
    dataset = Dataset.objects.get(pk=dataset.pk)
    if dataset.safety_status == Dataset.SafetyStatus.PASSED:
        return None
    if dataset.safety_status != Dataset.SafetyStatus.FAILED:
        if dataset.check_exempt:
            return None
        state = (
            _("its check is still in review")
            if dataset.safety_status == Dataset.SafetyStatus.IN_REVIEW
            else _("it was never checked")
        )
        return _(
            "Dataset “%(name)s” has no passed source safety check (%(state)s), so it may not be used for training. "
            "In the admin (Filing › Datasets), start a source safety check of it and finish the review, or, if it "
            "needs no check (for example an openly licensed public data set), record an exemption with the reason; "
            "then start the training run again."
        ) % {"name": dataset.name, "state": state}
    check = dataset.safety_checks.filter(status=SafetyCheck.Status.FAILED).order_by("-finished_at", "-pk").first()
    if check is None:
        return _("Dataset “%(name)s” is marked unusable by its source safety check.") % {"name": dataset.name}
    return _(
        "Dataset “%(name)s” failed its source safety check: %(illegal)d of %(size)d sampled items "
        "(%(ratio)s) are illegal or harmful, above the %(threshold)s allowed. It may not be used for training."
    ) % {
        "name": dataset.name,
        "illegal": check.illegal_count,
        "size": check.sample_size,
        "ratio": percent(check.illegal_ratio),
        "threshold": percent(check.threshold),
    }


def verbose_name_of(model: Any, name: str) -> str:
    return str(getattr(model._meta.get_field(name), "verbose_name", name))


def percent(value: Decimal | None) -> str:
    if value is None:
        return "—"
    return f"{(Decimal(value) * 100).quantize(Decimal('0.01')).normalize():f}%"


def service_datasets(service: Service) -> QuerySet[Dataset]:
    """Every dataset of the service: linked to it, linked to one of its model records, or named by a training run
    of one of its model records."""
    return (
        Dataset.objects.filter(
            Q(services=service) | Q(model_records__service=service) | Q(training_runs__model_record__service=service)
        )
        .distinct()
        .order_by("name", "pk")
    )


def dataset_service_links(dataset: Dataset, service: Service) -> list[str]:
    """How ``dataset`` belongs to ``service``, in words: linked to the service, to which of its model records, and
    through which training runs."""
    ways = []
    if dataset.services.filter(pk=service.pk).exists():
        ways.append(_("linked to the service"))
    records = [str(r) for r in dataset.model_records.filter(service=service).order_by("name", "pk")]
    if records:
        ways.append(_("model records: %(names)s") % {"names": ", ".join(records)})
    runs = (
        list(
            dataset.training_runs.filter(model_record__service=service).order_by("pk").values_list("pk", flat=True)  # type: ignore[attr-defined]
        )
        if hasattr(dataset, "training_runs")
        else []
    )
    if runs:
        ways.append(_("training runs: %(ids)s") % {"ids": ", ".join(f"#{pk}" for pk in runs)})
    return ways


def dataset_lineage(dataset: Dataset) -> tuple[list[Any], list[Any]]:
    """Training runs that used ``dataset`` and the checkpoints they produced (via reverse relations)."""
    runs = list(dataset.training_runs.all().order_by("-created_at")) if hasattr(dataset, "training_runs") else []
    checkpoints = [cp for run in runs for cp in run.checkpoints.all().order_by("-created_at")]
    return runs, checkpoints


def test_bank_model() -> Any:
    """The test bank model, once the test banks exist; ``None`` before."""
    try:
        return apps.get_model("filing", "TestBank")
    except LookupError:
        return None


def test_bank_of_kind(kind: str) -> Any:
    """The largest bank of ``kind`` (the one a filing presents), or ``None``."""
    model = test_bank_model()
    if model is None:
        return None
    return model.objects.filter(kind=kind).order_by("-question_count", "pk").first()


def annotation_rules_of_service(service: Service, *, kind: str | None = None) -> QuerySet[AnnotationRule]:
    """The annotation rules in force for ``service``: its own, and those named for any of its datasets."""
    datasets = service_datasets(service).values("pk")
    rules = AnnotationRule.objects.filter(in_force=True).filter(Q(service=service) | Q(datasets__in=datasets))
    if kind is not None:
        rules = rules.filter(kind=kind)
    return AnnotationRule.objects.filter(pk__in=rules.values("pk")).order_by("kind", "name", "version")


def annotation_risks_uncovered(service: Service) -> list[Risk]:
    """The risks of TC260-003 Appendix A that no safety annotation rule in force for ``service`` covers, in the
    taxonomy's order (all 31 while it has none)."""
    rules = annotation_rules_of_service(service, kind=AnnotationRule.Kind.SAFETY)
    return list(Risk.objects.exclude(annotation_rules__in=rules).order_by("position"))


def annotators_qualified(service: Service, *, role: str) -> QuerySet[Annotator]:
    """The annotators of the service's provider in ``role`` who passed the exam and are still qualified."""
    return Annotator.objects.filter(provider=service.provider_id, role=role, active=True, exam_passed=True)


def annotation_tasks_unchecked(service: Service) -> list[AnnotationTask]:
    """The annotation tasks of the service's annotated datasets whose batch has no concluding spot check: none yet,
    or the newest one sent items back for re-annotation."""
    tasks = (
        AnnotationTask.objects.filter(dataset__in=service_datasets(service).filter(annotated=True).values("pk"))
        .select_related("dataset")
        .prefetch_related("spot_checks")
        .order_by("dataset__name", "batch")
    )
    unchecked = []
    for task in tasks:
        newest = max(task.spot_checks.all(), key=lambda c: (c.checked_on, c.pk), default=None)
        if newest is None or newest.conclusion == SpotCheck.Conclusion.REWORK:
            unchecked.append(task)
    return unchecked
