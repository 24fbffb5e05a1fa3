"""Reads of filing records: refusals, lineage, the readiness checklist of a service."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db.models import QuerySet
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from filing.models import (
    Dataset,
    Document,
    ModelRecord,
    Provider,
    SafetyCheck,
    SelfAssessment,
    Service,
)
from filing.safety.selectors import keyword_coverage, safety_config
from filing.validators import uscc_validate


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

    A dataset whose source safety check failed (illegal share above the threshold) is unusable.
    """
    dataset = Dataset.objects.get(pk=dataset.pk)
    if dataset.safety_status != Dataset.SafetyStatus.FAILED:
        return None
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


def _verbose(model: Any, name: str) -> str:
    return str(getattr(model._meta.get_field(name), "verbose_name", name))


def percent(value: Decimal | None) -> str:
    if value is None:
        return "—"
    return f"{(Decimal(value) * 100).quantize(Decimal('0.01')).normalize():f}%"


def service_datasets(service: Service) -> QuerySet[Dataset]:
    """Datasets the service's models were trained on (through the training runs of its model records)."""
    return Dataset.objects.filter(training_runs__model_record__service=service).distinct().order_by("name")


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


@dataclass
class ReadinessItem:
    key: str
    title: str
    ok: bool
    detail: str
    fix_url: str
    status: str = ""
    problems: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.status:
            self.status = "ok" if self.ok else "blocker"


def _admin_url(name: str, *args: Any, query: str = "") -> str:
    url = reverse(f"admin:filing_{name}", args=args)
    return f"{url}?{query}" if query else url


def _provider_problem(provider: Provider) -> str | None:
    """Why the provider is not complete (its code invalid or a field missing); None when it is."""
    try:
        uscc_validate(provider.uscc)
    except Exception as exc:  # noqa: BLE001 (ValidationError; the message is shown)
        return " ".join(getattr(exc, "messages", [str(exc)]))
    missing_fields = [
        _verbose(Provider, name)
        for name in ("legal_representative", "safety_lead", "registered_address", "contact_phone")
        if not getattr(provider, name)
    ]
    if missing_fields:
        return _("Missing: %(f)s.") % {"f": ", ".join(missing_fields)}
    return None


def _check_provider(service: Service) -> list[ReadinessItem]:
    provider = service.provider
    problem = _provider_problem(provider)
    return [
        ReadinessItem(
            "provider",
            _("Provider code valid and provider complete"),
            problem is None,
            problem or provider.uscc,
            _admin_url("provider_change", provider.pk),
        )
    ]


def _check_called_model(service: Service) -> list[ReadinessItem]:
    """登记: the service only calls a filed model; that model's filing covers its records and data."""
    if service.route != Service.Route.REGISTRATION:
        return []
    called = (service.called_model_name, service.called_model_filer, service.called_model_number)
    return [
        ReadinessItem(
            "called_model",
            _("The filed model called is named (name, filer, number)"),
            all(called),
            " / ".join(v for v in called if v) or _("Not named yet."),
            _admin_url("service_change", service.pk),
        )
    ]


def _check_model_records(service: Service) -> list[ReadinessItem]:
    if service.route == Service.Route.REGISTRATION:
        return []
    records = list(service.model_records.all())
    bad = [r for r in records if r.approval != ModelRecord.Approval.APPROVED or not r.code]
    if not records:
        detail = _("No model record yet.")
    elif bad:
        detail = _("Not approved: %(r)s.") % {"r": ", ".join(str(r) for r in bad)}
    else:
        detail = ngettext("%(n)d approved.", "%(n)d approved.", len(records)) % {"n": len(records)}
    return [
        ReadinessItem(
            "model_records",
            _("Every model record approved, with a model code"),
            bool(records) and not bad,
            detail,
            _admin_url("modelrecord_changelist", query=f"service__id__exact={service.pk}"),
        )
    ]


def _check_datasets(service: Service) -> list[ReadinessItem]:
    if service.route == Service.Route.REGISTRATION:
        return []
    datasets = list(service_datasets(service).prefetch_related("evidence"))
    no_evidence = [d.name for d in datasets if not d.evidence.all()]
    not_passed = [d.name for d in datasets if d.safety_status != Dataset.SafetyStatus.PASSED]
    problems = []
    if no_evidence:
        problems.append(_("no evidence: %(d)s") % {"d": ", ".join(no_evidence)})
    if not_passed:
        problems.append(_("safety check not passed: %(d)s") % {"d": ", ".join(not_passed)})
    if not datasets:
        detail = _("No dataset is linked to this service's models by a training run.")
    elif problems:
        detail = "; ".join(problems)
    else:
        detail = ngettext("%(n)d dataset complete.", "%(n)d datasets complete.", len(datasets)) % {"n": len(datasets)}
    return [
        ReadinessItem(
            "datasets",
            _("Every dataset with evidence and a passed safety check"),
            bool(datasets) and not problems,
            detail,
            _admin_url("dataset_changelist"),
        )
    ]


def _check_keywords(service: Service) -> list[ReadinessItem]:
    coverage = keyword_coverage()
    problems = []
    if not coverage.total_ok:
        problems.append(_("%(n)d keywords, %(min)d needed") % {"n": coverage.total, "min": coverage.total_minimum})
    if not coverage.risks_ok:
        problems.append(_("%(n)d risks below their minimum") % {"n": coverage.risks_failing})
    if not coverage.update_ok:
        problems.append(_("not updated within %(d)d days") % {"d": coverage.update_max_days})
    if coverage.demo_count:
        problems.append(_("%(n)d demo keywords") % {"n": coverage.demo_count})
    return [
        ReadinessItem(
            "keywords",
            _("Keyword library at its minimum size and fresh"),
            coverage.ok,
            "; ".join(problems)
            if problems
            else ngettext("%(n)d keyword.", "%(n)d keywords.", coverage.total) % {"n": coverage.total},
            _admin_url("keyword_changelist"),
        )
    ]


def _check_test_banks(service: Service) -> list[ReadinessItem]:
    return [_test_banks_item(safety_config())]


def _check_assessment(service: Service) -> list[ReadinessItem]:
    title = _("A finalised self-assessment meeting each pass rate")
    assessment = (
        service.assessments.filter(status=SelfAssessment.Status.FINALISED).order_by("-finalised_at", "-pk").first()
    )
    if assessment is None:
        return [
            ReadinessItem(
                "assessment",
                title,
                False,
                _("No finalised self-assessment."),
                _admin_url("selfassessment_changelist", query=f"service__id__exact={service.pk}"),
            )
        ]
    failures = assessment_rate_failures(assessment, safety_config())
    return [
        ReadinessItem(
            "assessment",
            title,
            not failures,
            "; ".join(failures) if failures else str(assessment),
            _admin_url("selfassessment_change", assessment.pk),
        )
    ]


def _check_documents(service: Service) -> list[ReadinessItem]:
    kinds = set(service.documents.values_list("kind", flat=True))
    missing = [str(label) for value, label in Document.Kind.choices if value not in kinds]
    return [
        ReadinessItem(
            "documents",
            _("Service agreement, privacy policy and annotation rules present"),
            not missing,
            _("Missing: %(d)s.") % {"d": ", ".join(missing)} if missing else _("All present."),
            _admin_url("document_changelist", query=f"service__id__exact={service.pk}"),
        )
    ]


def _check_complaints(service: Service) -> list[ReadinessItem]:
    return [
        ReadinessItem(
            "complaints",
            _("Complaint channel set"),
            service.complaint_channel_set,
            ", ".join(v for v in (service.complaint_email, service.complaint_phone, service.complaint_url) if v)
            or _("No e-mail, phone or page for complaints."),
            _admin_url("service_change", service.pk) + "#complaint-channel",
        )
    ]


def _check_labels(service: Service) -> list[ReadinessItem]:
    problems = []
    if not getattr(settings, "LABEL_SIGNING_KEY", None):
        problems.append(_("no label signing key"))
    if service.route == Service.Route.FILING:
        codes = list(service.model_records.values_list("code", flat=True))
        if not codes or not all(codes):
            problems.append(_("model codes missing"))
    if _provider_problem(service.provider) is not None:
        problems.append(_("provider code invalid"))
    return [
        ReadinessItem(
            "labels",
            _("Content labels configured"),
            not problems,
            "; ".join(problems) if problems else _("Provider code, model codes and signing key set."),
            _admin_url("modelrecord_changelist", query=f"service__id__exact={service.pk}"),
        )
    ]


# The readiness checks of a filing, in the order the checklist shows them; each gives zero or more items.
READINESS_CHECKS: tuple[Callable[[Service], list[ReadinessItem]], ...] = (
    _check_provider,
    _check_called_model,
    _check_model_records,
    _check_datasets,
    _check_keywords,
    _check_test_banks,
    _check_assessment,
    _check_documents,
    _check_complaints,
    _check_labels,
)


def readiness_checklist(service: Service) -> list[ReadinessItem]:
    """What the filing of ``service`` still lacks; an item that is not ``ok`` blocks submission."""
    return [item for check in READINESS_CHECKS for item in check(service)]


def assessment_rate_failures(assessment: SelfAssessment, config: Any) -> list[str]:
    """Each measured rate that misses its threshold, or is missing."""
    checks = (
        ("corpus_manual_pass_rate", config.corpus_manual_pass_rate_min, True),
        ("corpus_technical_pass_rate", config.corpus_technical_pass_rate_min, True),
        ("generated_pass_rate_manual", config.assessment_generated_pass_rate_min, True),
        ("generated_pass_rate_keyword", config.assessment_generated_pass_rate_min, True),
        ("generated_pass_rate_classifier", config.assessment_generated_pass_rate_min, True),
        ("refuse_rate", config.assessment_refuse_rate_min, True),
        ("nonrefuse_refusal_rate", config.assessment_nonrefuse_refusal_rate_max, False),
    )
    failures = []
    for name, threshold, at_least in checks:
        label = _verbose(SelfAssessment, name)
        value = getattr(assessment, name)
        if value is None:
            failures.append(_("%(m)s not measured") % {"m": label})
        elif (value < threshold) if at_least else (value > threshold):
            failures.append(
                _("%(m)s %(v)s, needs %(op)s %(t)s")
                % {"m": label, "v": percent(value), "op": "≥" if at_least else "≤", "t": percent(threshold)}
            )
    sizes = (
        ("generated_sample_size", config.assessment_generated_sample_min),
        ("refuse_sample_size", config.assessment_refuse_sample_min),
        ("nonrefuse_sample_size", config.assessment_nonrefuse_sample_min),
    )
    for name, minimum in sizes:
        value = getattr(assessment, name)
        if value is None or value < minimum:
            label = _verbose(SelfAssessment, name)
            failures.append(_("%(m)s %(v)s, needs ≥ %(t)d") % {"m": label, "v": value or 0, "t": minimum})
    return failures


BANKS = (
    ("generated", "generated_bank_min_total"),
    ("refuse", "refuse_bank_min_total"),
    ("nonrefuse", "nonrefuse_bank_min_total"),
)


def test_bank_counts() -> dict[str, tuple[int, Any]]:
    """Questions and newest change per bank; zeros when the banks do not exist yet."""
    counts: dict[str, tuple[int, Any]] = {}
    for kind, _key in BANKS:
        bank = test_bank_of_kind(kind)
        counts[kind] = (0, None) if bank is None else (bank.question_count, bank.updated_at)
    return counts


def _test_banks_item(config: Any) -> ReadinessItem:
    model = test_bank_model()
    counts = test_bank_counts()
    problems = []
    now = timezone.now()
    for bank, key in BANKS:
        minimum = getattr(config, key)
        count, newest = counts[bank]
        if count < minimum:
            problems.append(_("%(bank)s: %(n)d of %(min)d") % {"bank": bank, "n": count, "min": minimum})
        elif minimum and (newest is None or now - newest > timedelta(days=config.test_bank_update_max_days)):
            problems.append(
                _("%(bank)s: not updated within %(d)d days") % {"bank": bank, "d": config.test_bank_update_max_days}
            )
    if model is None:
        detail = _("Test banks do not exist yet.")
        if problems:
            detail += " " + "; ".join(problems)
        status = "ok" if not problems else "missing"
        url = ""
    else:
        detail = "; ".join(problems) if problems else _("All three banks at their minimum.")
        status = ""
        try:
            url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        except NoReverseMatch:
            url = ""
    return ReadinessItem(
        "test_banks",
        _("Test banks at their minimum sizes and fresh"),
        not problems,
        detail,
        url,
        status=status,
    )
