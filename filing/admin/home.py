"""The filing's part of the admin: its models laid out as the filing goes, and the home page's panel of what needs
doing (each service's readiness and next step, complaints near their due date, records out of date)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from filing.models import Complaint, Service, TestBank
from filing.readiness import ReadinessItem, readiness_checklist
from filing.safety.banks import bank_coverage
from filing.safety.selectors import keyword_coverage, safety_config

# The order of the filing (主体 → 服务 → 模型 → 语料与标注 → 安全措施 → 自评估 → 材料包 → 投诉), then the taxonomy and
# thresholds the safety measures are measured against.
SECTIONS: list[tuple[Any, list[str]]] = [
    (_("1. Provider and service"), ["Provider", "Service", "Document"]),
    (_("2. Models"), ["ModelRecord"]),
    (
        _("3. Corpus and annotation"),
        [
            "Dataset",
            "SafetyCheck",
            "CorpusCheck",
            "CorpusReview",
            "AnnotationRule",
            "Annotator",
            "AnnotationTask",
            "SpotCheck",
        ],
    ),
    (_("4. Safety measures: keywords"), ["Keyword", "AllowlistPhrase", "KeywordLibraryVersion"]),
    (
        _("5. Safety measures: test banks and assessments"),
        ["TestBank", "TestQuestion", "AssessmentRun", "AssessmentSample"],
    ),
    (_("6. Self-assessment"), ["SelfAssessment"]),
    (_("7. Filing package"), ["FilingExport"]),
    (_("8. Complaints and incidents"), ["Complaint", "PersonalInformationRequest", "Incident"]),
    (_("Risk taxonomy and thresholds"), ["RiskCategory", "Risk", "SafetyThreshold", "SafetyConfigVersion"]),
]


@dataclass(frozen=True)
class ServiceStanding:
    service: Service
    url: str
    checked: int
    open_items: list[ReadinessItem]

    @property
    def next_item(self) -> ReadinessItem | None:
        return self.open_items[0] if self.open_items else None


@dataclass(frozen=True)
class Stale:
    what: Any
    last_update: datetime | None
    max_days: int
    url: str


def services_standing() -> list[ServiceStanding]:
    """Every service not deregistered, with the readiness items still open, in checklist order."""
    rows = []
    for service in Service.objects.exclude(status=Service.Status.DEREGISTERED).select_related("provider"):
        checklist = readiness_checklist(service)
        rows.append(
            ServiceStanding(
                service=service,
                url=reverse("admin:filing_service_change", args=[service.pk]),
                checked=len(checklist),
                open_items=[item for item in checklist if not item.ok],
            )
        )
    return rows


def complaints_due_soon(*, now: datetime | None = None) -> list[Complaint]:
    """Open complaints whose answer is due within COMPLAINT_DUE_SOON_DAYS, or overdue; the most urgent first."""
    now = now or timezone.now()
    horizon = now + timedelta(days=settings.COMPLAINT_DUE_SOON_DAYS)
    return list(
        Complaint.objects.filter(
            status__in=(Complaint.Status.RECEIVED, Complaint.Status.IN_PROGRESS), due_at__lt=horizon
        ).order_by("due_at")[:20]
    )


def records_out_of_date() -> list[Stale]:
    """The keyword library and the test banks that are past their update interval (TC260-003 §8.1, §8.2)."""
    stale = []
    keywords = keyword_coverage()
    if keywords.total and not keywords.update_ok:
        stale.append(
            Stale(
                what=_("the keyword library"),
                last_update=keywords.last_update,
                max_days=keywords.update_max_days,
                url=reverse("admin:filing_keyword_changelist"),
            )
        )
    config = safety_config()
    for bank in TestBank.objects.order_by("kind", "name"):
        coverage = bank_coverage(bank, config=config)
        if coverage.total and not coverage.update_ok:
            stale.append(
                Stale(
                    what=bank,
                    last_update=coverage.last_update,
                    max_days=coverage.update_max_days,
                    url=reverse("admin:filing_testbank_change", args=[bank.pk]),
                )
            )
    return stale


def filing_home(request: HttpRequest) -> tuple[str, dict[str, Any]] | None:
    """The home page's filing panel, for those who may see the services."""
    if not request.user.has_perm("filing.view_service"):
        return None
    return (
        "admin/filing/home.html",
        {
            "standing": services_standing(),
            "due_soon": complaints_due_soon() if request.user.has_perm("filing.view_complaint") else [],
            "due_soon_days": settings.COMPLAINT_DUE_SOON_DAYS,
            "out_of_date": records_out_of_date(),
            "now": timezone.now(),
        },
    )
