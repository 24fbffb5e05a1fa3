"""Readiness of a filing: the checklist of what a service's filing still lacks, one small named check per concern
(provider, called model, model records, datasets, annotation, keywords, test banks, assessment, documents, compute,
supply chain, complaints, labels). An item that is not ``ok`` blocks submission."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from filing.models import (
    AnnotationRule,
    Annotator,
    ComputeResource,
    Dataset,
    Document,
    ModelRecord,
    Provider,
    SelfAssessment,
    Service,
    SupplyChainItem,
)
from filing.safety.selectors import keyword_coverage, safety_config
from filing.selectors import (
    annotation_risks_uncovered,
    annotation_rules_of_service,
    annotation_tasks_unchecked,
    annotators_qualified,
    percent,
    service_datasets,
    test_bank_model,
    test_bank_of_kind,
    verbose_name_of,
)
from filing.validators import uscc_validate


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
        verbose_name_of(Provider, name)
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
    contract = service.documents.filter(kind=Document.Kind.CALL_CONTRACT).exists()
    named = " / ".join(v for v in called if v) or _("Not named yet.")
    return [
        ReadinessItem(
            "called_model",
            _("The filed model called is named (name, filer, number), with the contract for calling it"),
            all(called) and contract,
            named if contract else _("%(named)s; no contract for calling it yet.") % {"named": named},
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
    # An exemption with a written reason stands for a check that was not needed; a failed check is never exempted.
    not_passed = [
        d.name
        for d in datasets
        if d.safety_status != Dataset.SafetyStatus.PASSED
        and (d.safety_status == Dataset.SafetyStatus.FAILED or not d.check_exempt)
    ]
    problems = []
    if no_evidence:
        problems.append(_("no evidence: %(d)s") % {"d": ", ".join(no_evidence)})
    if not_passed:
        problems.append(_("safety check not passed: %(d)s") % {"d": ", ".join(not_passed)})
    if not datasets:
        detail = _("No dataset is linked to this service, to its model records or to their training runs.")
    elif problems:
        detail = "; ".join(problems)
    else:
        detail = ngettext("%(n)d dataset complete.", "%(n)d datasets complete.", len(datasets)) % {"n": len(datasets)}
    return [
        ReadinessItem(
            "datasets",
            _("Every dataset with evidence and a passed safety check or an exemption"),
            bool(datasets) and not problems,
            detail,
            _admin_url("dataset_changelist"),
        )
    ]


def _check_annotation(service: Service) -> list[ReadinessItem]:
    """TC260-003 §5.3, where the service's datasets are annotated: functional and safety rules (the safety rules
    covering every risk), a qualified annotator and reviewer, and a concluding spot check of every batch."""
    if service.route == Service.Route.REGISTRATION:
        return []
    annotated = list(service_datasets(service).filter(annotated=True))
    if not annotated:
        return []
    problems: list[tuple[str, str]] = []  # (problem, where to fix it)
    rules_url = _admin_url("annotationrule_changelist", query=f"service__id__exact={service.pk}")
    kinds = set(annotation_rules_of_service(service).values_list("kind", flat=True))
    for kind in AnnotationRule.Kind:
        if kind not in kinds:
            problems.append((_("no rules of %(kind)s") % {"kind": kind.label}, rules_url))
    if AnnotationRule.Kind.SAFETY in kinds:
        uncovered = annotation_risks_uncovered(service)
        if uncovered:
            codes = ", ".join(risk.code for risk in uncovered[:8]) + (" …" if len(uncovered) > 8 else "")
            problems.append(
                (
                    ngettext(
                        "%(n)d risk not covered by the safety rules (%(codes)s)",
                        "%(n)d risks not covered by the safety rules (%(codes)s)",
                        len(uncovered),
                    )
                    % {"n": len(uncovered), "codes": codes},
                    rules_url,
                )
            )
    annotators_url = _admin_url("annotator_changelist", query=f"provider__id__exact={service.provider_id}")
    for role in Annotator.Role:
        if not annotators_qualified(service, role=role).exists():
            problems.append((_("no one qualified for %(role)s (exam passed)") % {"role": role.label}, annotators_url))
    tasks_url = _admin_url("annotationtask_changelist")
    without_tasks = [d.name for d in annotated if not d.annotation_tasks.exists()]
    if without_tasks:
        problems.append((_("no annotation batch recorded: %(d)s") % {"d": ", ".join(without_tasks)}, tasks_url))
    unchecked = annotation_tasks_unchecked(service)
    if unchecked:
        problems.append(
            (
                _("batches without a concluding spot check: %(b)s") % {"b": ", ".join(str(t) for t in unchecked)},
                tasks_url,
            )
        )
    if problems:
        detail = "; ".join(problem for problem, _url in problems)
    else:
        detail = ngettext(
            "%(n)d annotated dataset, rules and spot checks complete.",
            "%(n)d annotated datasets, rules and spot checks complete.",
            len(annotated),
        ) % {"n": len(annotated)}
    return [
        ReadinessItem(
            "annotation",
            _("Annotation rules, qualified annotators and reviewers, and every batch spot-checked"),
            not problems,
            detail,
            problems[0][1] if problems else rules_url,
            problems=[problem for problem, _url in problems],
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


# The documents every filing attaches (附件2 and 附件3); a registration's contract is checked with its called model.
FILING_DOCUMENTS = (Document.Kind.SERVICE_AGREEMENT, Document.Kind.PRIVACY_POLICY, Document.Kind.ANNOTATION_RULES)


def _check_documents(service: Service) -> list[ReadinessItem]:
    kinds = set(service.documents.values_list("kind", flat=True))
    # 附件3 may read 不涉及 instead, with the operator's reason; a registration, which only calls a filed model,
    # annotates nothing of its own (its package says so).
    if service.annotation_not_applicable_reason.strip() or service.route == Service.Route.REGISTRATION:
        kinds.add(Document.Kind.ANNOTATION_RULES)
    missing = [str(kind.label) for kind in FILING_DOCUMENTS if kind not in kinds]
    return [
        ReadinessItem(
            "documents",
            _("Service agreement, privacy policy and annotation rules present"),
            not missing,
            _("Missing: %(d)s.") % {"d": ", ".join(missing)} if missing else _("All present."),
            _admin_url("document_changelist", query=f"service__id__exact={service.pk}"),
        )
    ]


def _check_compute(service: Service) -> list[ReadinessItem]:
    """The 上线备案表's compute: inference servers (and, for a filed model of one's own, training servers) with
    their location, and the inference concurrency."""
    purposes = set(service.compute.values_list("purpose", flat=True))
    wanted = [ComputeResource.Purpose.INFERENCE]
    if service.route == Service.Route.FILING:
        wanted.insert(0, ComputeResource.Purpose.TRAINING)
    missing = [str(purpose.label) for purpose in wanted if purpose not in purposes]
    if not service.inference_concurrency:
        missing.append(str(Service._meta.get_field("inference_concurrency").verbose_name))
    return [
        ReadinessItem(
            "compute",
            _("Compute described (servers, accelerators, location, concurrency)"),
            not missing,
            _("Missing: %(d)s.") % {"d": ", ".join(missing)} if missing else _("All present."),
            _admin_url("service_change", service.pk) + "#compute-group",
        )
    ]


def _check_supply_chain(service: Service) -> list[ReadinessItem]:
    """TC260-003 §7 e: the components the service depends on, each assessed; none judged not acceptable."""
    items = list(service.supply_chain.all())
    refused = [str(item) for item in items if item.conclusion == SupplyChainItem.Conclusion.NOT_ACCEPTABLE]
    if not items:
        detail = _("No component assessed yet.")
    elif refused:
        detail = _("Not acceptable: %(c)s.") % {"c": ", ".join(refused)}
    else:
        detail = ngettext("%(n)d component assessed.", "%(n)d components assessed.", len(items)) % {"n": len(items)}
    return [
        ReadinessItem(
            "supply_chain",
            _("Supply-chain security assessed"),
            bool(items) and not refused,
            detail,
            _admin_url("service_change", service.pk) + "#supply_chain-group",
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
    # The labels carry the provider's code: only its validity matters here (a missing address is the provider
    # item's business, not the labels').
    try:
        uscc_validate(service.provider.uscc)
    except Exception:  # noqa: BLE001 (ValidationError, as in _provider_problem)
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
    _check_annotation,
    _check_keywords,
    _check_test_banks,
    _check_assessment,
    _check_documents,
    _check_compute,
    _check_supply_chain,
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
        label = verbose_name_of(SelfAssessment, name)
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
            label = verbose_name_of(SelfAssessment, name)
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
