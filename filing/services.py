"""Writes to filing records.

Every function that changes a record takes ``actor`` (the user acting, or ``None`` for the
platform) and runs under ``acting_as(actor)``, so the change history names who acted even
outside a request. Refusals raise ``FilingError`` with a message meant for the operator.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from filing.clauses import ASSESSMENT_CLAUSES
from filing.history import acting_as, history_write
from filing.models import (
    AssessmentClause,
    Complaint,
    Dataset,
    Document,
    ModelRecord,
    Provider,
    Risk,
    SafetyCheck,
    SampleItem,
    SelfAssessment,
    Service,
    ServiceTransition,
)
from filing.safety.selectors import safety_config


class FilingError(Exception):
    """A filing action was refused; the message says why, for the operator."""


def actor_name(actor: Any) -> str:
    if actor is None:
        return "system"
    return actor.get_username() if hasattr(actor, "get_username") else str(actor)


@transaction.atomic
def provider_create(*, legal_name: str, uscc: str, **fields: Any) -> Provider:
    provider = Provider(legal_name=legal_name, uscc=uscc, **fields)
    provider.full_clean()
    provider.save()
    return provider


@transaction.atomic
def service_create(*, provider: Provider, name: str, version: str = "1.0", **fields: Any) -> Service:
    service = Service(provider=provider, name=name, version=version, **fields)
    service.full_clean()
    service.save()
    return service


def dataset_register(
    *,
    name: str,
    sha256: str,
    source: str,
    licence: str = "",
    licence_text: str = "",
    source_type: str = Dataset.SourceType.OPEN_SOURCE,
    origin: str = Dataset.Origin.OVERSEAS,
    items: int | None = None,
    size_bytes: int | None = None,
) -> Dataset:
    """The dataset record for these exact bytes, created on first use (keyed by SHA-256).

    An existing record is returned unchanged: operators may have completed its provenance in the
    admin, and training must not overwrite that.
    """
    with transaction.atomic():
        dataset, _created = Dataset.objects.get_or_create(
            sha256=sha256,
            defaults={
                "name": name[:200],
                "source": source[:500],
                "licence": licence[:200],
                "licence_text": licence_text,
                "source_type": source_type,
                "origin": origin,
                "items": items,
                "size_bytes": size_bytes,
            },
        )
    return dataset


#
# Service workflow: draft → self-assessed → submitted → filed / returned → change pending → deregistered
#

S = Service.Status

# Which statuses each action starts from.
TRANSITIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "self_assess": ((S.DRAFT, S.RETURNED, S.CHANGE_PENDING), S.SELF_ASSESSED),
    "submit": ((S.SELF_ASSESSED,), S.SUBMITTED),
    "record_filed": ((S.SUBMITTED,), S.FILED),
    "record_returned": ((S.SUBMITTED,), S.RETURNED),
    "change_start": ((S.FILED,), S.CHANGE_PENDING),
    "deregister": ((S.DRAFT, S.SELF_ASSESSED, S.SUBMITTED, S.FILED, S.RETURNED, S.CHANGE_PENDING), S.DEREGISTERED),
}

FILING_NUMBER_PATTERNS = (
    # <province pinyin>-<model name pinyin>-<YYYYMMDD>[NNNN], e.g. Beijing-YunQue-20230821.
    re.compile(r"^[A-Za-z]+-[A-Za-z0-9]+-\d{8}(\d{4})?$"),
)


def filing_number_warning(number: str) -> str | None:
    """A warning when ``number`` does not look like the filing numbers seen so far; ``None`` if it does.

    The official format is not published, so an unusual number is accepted with this warning.
    """
    number = number.strip()
    if any(p.match(number) for p in FILING_NUMBER_PATTERNS):
        return None
    return _(
        "“%(number)s” does not look like the usual filing numbers (for example Beijing-YunQue-20230821); "
        "it was kept: check it against the notice."
    ) % {"number": number}


def _transition(service: Service, action: str, *, actor: Any, note: str = "", **fields: Any) -> Service:
    sources, target = TRANSITIONS[action]
    with acting_as(actor), transaction.atomic():
        locked = Service.objects.select_for_update().get(pk=service.pk)
        if locked.status not in sources:
            raise FilingError(
                _("“%(service)s” is %(status)s; this step needs it to be %(allowed)s.")
                % {
                    "service": locked,
                    "status": locked.get_status_display(),
                    "allowed": _(" or ").join(str(S(s).label) for s in sources),
                }
            )
        previous = locked.status
        for name, value in fields.items():
            setattr(locked, name, value)
        locked.status = target
        locked.save()
        ServiceTransition.objects.create(
            service=locked, from_status=previous, to_status=target, actor=actor_name(actor), note=note
        )
    service.refresh_from_db()
    return service


def service_self_assess(*, service: Service, actor: Any) -> Service:
    """Mark the service self-assessed; needs a finalised security self-assessment."""
    if not service.assessments.filter(status=SelfAssessment.Status.FINALISED).exists():
        raise FilingError(_("Finalise a security self-assessment of this service first."))
    return _transition(service, "self_assess", actor=actor)


def service_submit(*, service: Service, actor: Any) -> Service:
    """Submit the filing; refused while the readiness checklist has blockers."""
    from filing.selectors import readiness_checklist

    blockers = [item for item in readiness_checklist(service) if not item.ok]
    if blockers:
        raise FilingError(
            _("The filing cannot be submitted while the checklist has blockers: %(items)s.")
            % {"items": "; ".join(str(item.title) for item in blockers)}
        )
    return _transition(service, "submit", actor=actor)


def service_record_filed(
    *, service: Service, filing_number: str, filed_on: date, actor: Any
) -> tuple[Service, str | None]:
    """Record the filing number issued; returns the service and a warning for an unusual number."""
    number = filing_number.strip()
    if not number:
        raise FilingError(_("Enter the filing number that was issued."))
    if filed_on is None:
        raise FilingError(_("Enter the date the filing number was issued."))
    service = _transition(
        service, "record_filed", actor=actor, note=number, filing_number=number, filed_on=filed_on, returned_reason=""
    )
    return service, filing_number_warning(number)


def service_record_returned(*, service: Service, reason: str, actor: Any) -> Service:
    if not reason.strip():
        raise FilingError(_("Give the reason the filing was returned."))
    return _transition(service, "record_returned", actor=actor, note=reason.strip(), returned_reason=reason.strip())


def service_change_start(*, service: Service, reason: str, actor: Any) -> Service:
    if not reason.strip():
        raise FilingError(_("Say what changes in the filed service."))
    return _transition(service, "change_start", actor=actor, note=reason.strip())


def service_make_public(*, service: Service, actor: Any, request: Any = None) -> Service:
    """Make ``service`` the one the site presents to the public, in place of the one that was.

    Each change is a filing history record (``filing.changed``) with the operator who made it.
    """
    if service.status == Service.Status.DEREGISTERED:
        raise FilingError(_("A deregistered service cannot be the public service."))
    with acting_as(actor, request=request), transaction.atomic():
        for previous in Service.objects.select_for_update().filter(is_public=True).exclude(pk=service.pk):
            previous.is_public = False
            previous.save()
        locked = Service.objects.select_for_update().get(pk=service.pk)
        if not locked.is_public:
            locked.is_public = True
            locked.save()
    service.refresh_from_db()
    return service


def service_testers_recorded(*, service: Service, before: set[str], actor: Any, request: Any = None) -> None:
    """Write the change of ``service``'s tester list (user names ``before`` → now) to the filing history."""
    after = set(service.testers.values_list("username", flat=True))
    if after != before:
        with acting_as(actor, request=request):
            history_write(instance=service, action="changed", changes={"testers": [sorted(before), sorted(after)]})


def service_deregister(*, service: Service, reason: str, actor: Any) -> Service:
    if not reason.strip():
        raise FilingError(_("Give the reason the service is deregistered."))
    return _transition(service, "deregister", actor=actor, note=reason.strip(), internal_testing=False)


#
# Documents published on the site
#

PUBLISHABLE_DOCUMENTS = (Document.Kind.SERVICE_AGREEMENT, Document.Kind.PRIVACY_POLICY)


def document_publish(*, document: Document, actor: Any, request: Any = None) -> Document:
    """Publish a service agreement or privacy policy of the public service on the site; end users accept it
    before they generate again."""
    if document.kind not in PUBLISHABLE_DOCUMENTS:
        raise FilingError(_("Only a service agreement or a privacy policy is published on the site."))
    if not document.body.strip():
        raise FilingError(_("Write the text end users will read before publishing the document."))
    if not document.service.is_public:
        raise FilingError(_("The document belongs to a service that is not the public service."))
    with acting_as(actor, request=request), transaction.atomic():
        document.published_at = timezone.now()
        document.save()
    return document


#
# Emergency stop (应急处置): generation stops at once for a service or one model, with a reason
#


def generation_stop(*, target: Service | ModelRecord, reason: str, actor: Any, request: Any = None) -> None:
    """Stop generation for a service or one model record now. End users see a plain notice; the stop is an
    audit event and a change of the record's history."""
    from audit import services as audit

    reason = (reason or "").strip()
    if not reason:
        raise FilingError(_("Give the reason generation is stopped."))
    with acting_as(actor, request=request), transaction.atomic():
        target.generation_stopped_at = timezone.now()
        target.generation_stop_reason = reason
        target.generation_stopped_by = actor_name(actor)
        target.save()
        audit.incident_event(
            event_type="incident.generation_stopped",
            actor=actor,
            request=request,
            subject=target,
            payload={"scope": "service" if isinstance(target, Service) else "model", "reason": reason},
        )


def generation_resume(*, target: Service | ModelRecord, actor: Any, note: str = "", request: Any = None) -> None:
    """Let a stopped service or model record generate again."""
    from audit import services as audit

    if target.generation_stopped_at is None:
        return
    with acting_as(actor, request=request), transaction.atomic():
        target.generation_stopped_at = None
        target.generation_stop_reason = ""
        target.generation_stopped_by = ""
        target.save()
        audit.incident_event(
            event_type="incident.generation_resumed",
            actor=actor,
            request=request,
            subject=target,
            payload={"scope": "service" if isinstance(target, Service) else "model", "note": note.strip()},
        )


#
# Model records
#


def model_record_approve(*, record: ModelRecord, actor: Any) -> ModelRecord:
    try:
        record.code = record.code.strip().upper()
        record.full_clean()
    except ValidationError as exc:
        raise FilingError(_("The record is incomplete: %(errors)s") % {"errors": "; ".join(exc.messages)}) from exc
    with acting_as(actor), transaction.atomic():
        record.approval = ModelRecord.Approval.APPROVED
        record.approved_by = actor_name(actor)
        record.approved_at = timezone.now()
        record.rejection_reason = ""
        record.save()
    return record


def model_record_reject(*, record: ModelRecord, reason: str, actor: Any) -> ModelRecord:
    from filing.selectors import model_record_serving

    if not reason.strip():
        raise FilingError(_("Give the reason the model record is rejected."))
    if model_record_serving(record):
        raise FilingError(
            _(
                "“%(record)s” serves end users of the public service now: rejecting it would take that generator "
                "offline. Stop it first with the emergency stop, or serve another checkpoint, then reject it."
            )
            % {"record": record}
        )
    with acting_as(actor), transaction.atomic():
        record.approval = ModelRecord.Approval.REJECTED
        record.approved_by = actor_name(actor)
        record.approved_at = timezone.now()
        record.rejection_reason = reason.strip()
        record.save()
    return record


#
# Source safety check of a dataset (TC260-003 §5.1 a))
#

# Callables that read sampled items of a dataset: reader(dataset, indices) -> {index: text} or None.
# Apps that hold the bytes (e.g. training) register one; without one reviewers see item numbers.
_ITEM_READERS: list[Any] = []


def dataset_item_reader_register(reader: Any) -> None:
    if reader not in _ITEM_READERS:
        _ITEM_READERS.append(reader)


def _excerpts(dataset: Dataset, indices: list[int]) -> dict[int, str]:
    for reader in _ITEM_READERS:
        found = reader(dataset, indices)
        if found:
            return {int(k): str(v)[:2000] for k, v in found.items()}
    return {}


def sample_indices(*, seed: int, population: int, size: int) -> list[int]:
    """``size`` distinct item numbers out of ``population``, the same for the same seed."""
    return random.Random(seed).sample(range(population), size)  # noqa: S311 (sampling, not secrecy)


def safety_check_start(
    *, dataset: Dataset, actor: Any, seed: int | None = None, sample_size: int | None = None
) -> SafetyCheck:
    """Draw the sample a reviewer will judge. The size defaults to the configured corpus sample
    (``corpus_manual_sample_min``), capped by the dataset's item count."""
    if not dataset.items:
        raise FilingError(
            _("Enter the number of items of “%(dataset)s” before checking it.") % {"dataset": dataset.name}
        )
    if dataset.safety_checks.filter(status=SafetyCheck.Status.IN_REVIEW).exists():
        raise FilingError(_("A check of “%(dataset)s” is already in review.") % {"dataset": dataset.name})
    config = safety_config()
    size = min(int(sample_size or config.corpus_manual_sample_min), int(dataset.items))
    if size < 1:
        raise FilingError(_("The sample needs at least one item."))
    if seed is None:
        seed = random.SystemRandom().randrange(2**31)
    indices = sample_indices(seed=seed, population=int(dataset.items), size=size)
    excerpts = _excerpts(dataset, indices)
    with acting_as(actor), transaction.atomic():
        check = SafetyCheck.objects.create(
            dataset=dataset,
            seed=seed,
            population=dataset.items,
            sample_size=size,
            threshold=config.corpus_source_illegal_ratio_max,
            config_version=config.version,
            started_by=actor_name(actor),
        )
        SampleItem.objects.bulk_create(
            [
                SampleItem(check_run=check, position=position, item_index=index, excerpt=excerpts.get(index, ""))
                for position, index in enumerate(indices, start=1)
            ],
            batch_size=1000,
        )
        # A failed dataset stays unusable while it is checked again; only a passed check clears it.
        Dataset.objects.filter(pk=dataset.pk).exclude(safety_status=Dataset.SafetyStatus.FAILED).update(
            safety_status=Dataset.SafetyStatus.IN_REVIEW
        )
    dataset.refresh_from_db()
    return check


@dataclass(frozen=True)
class VerdictInput:
    item_id: int
    verdict: str
    risk_code: str | None = None


def safety_check_verdicts_record(*, check: SafetyCheck, verdicts: Iterable[VerdictInput], actor: Any) -> int:
    """Store reviewers' verdicts on sampled items; returns how many changed."""
    if check.status != SafetyCheck.Status.IN_REVIEW:
        raise FilingError(_("This check is finished; its verdicts can no longer change."))
    wanted = {v.item_id: v for v in verdicts}
    codes = {v.risk_code for v in wanted.values() if v.risk_code and v.verdict == SampleItem.Verdict.ILLEGAL}
    unknown = codes - set(Risk.objects.filter(code__in=codes).values_list("code", flat=True))
    if unknown:
        raise FilingError(_("Unknown risk code “%(c)s”.") % {"c": ", ".join(sorted(unknown))})
    changes: dict[str, list[Any]] = {}
    now = timezone.now()
    reviewer = actor_name(actor)
    with acting_as(actor), transaction.atomic():
        items = list(SampleItem.objects.select_for_update().filter(check_run=check, pk__in=list(wanted)))
        for item in items:
            given = wanted[item.pk]
            if given.verdict not in SampleItem.Verdict.values:
                raise FilingError(_("Unknown verdict “%(v)s”.") % {"v": given.verdict})
            risk = (given.risk_code or None) if given.verdict == SampleItem.Verdict.ILLEGAL else None
            if (item.verdict, item.risk_id) == (given.verdict, risk):
                continue
            changes[f"item {item.position}"] = [item.verdict, given.verdict]
            item.verdict, item.risk_id = given.verdict, risk
            item.reviewer = reviewer if given.verdict != SampleItem.Verdict.PENDING else ""
            item.reviewed_at = now if given.verdict != SampleItem.Verdict.PENDING else None
        SampleItem.objects.bulk_update(items, ["verdict", "risk", "reviewer", "reviewed_at"])
        if changes:
            history_write(instance=check, action="changed", changes=changes)
    return len(changes)


def ratio(part: int, whole: int) -> Decimal:
    return (Decimal(part) / Decimal(whole)).quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP)


def safety_check_finish(*, check: SafetyCheck, actor: Any) -> SafetyCheck:
    """Compute the illegal share once every item has a verdict; above the threshold the dataset is unusable."""
    if check.status != SafetyCheck.Status.IN_REVIEW:
        raise FilingError(_("This check is already finished."))
    pending = check.items.filter(verdict=SampleItem.Verdict.PENDING).count()
    if pending:
        raise FilingError(
            _("%(n)d sampled items still have no verdict; judge every item before finishing.") % {"n": pending}
        )
    illegal = check.items.filter(verdict=SampleItem.Verdict.ILLEGAL).count()
    share = ratio(illegal, check.sample_size)
    passed = share <= check.threshold
    with acting_as(actor), transaction.atomic():
        check.illegal_count = illegal
        check.illegal_ratio = share
        check.status = SafetyCheck.Status.PASSED if passed else SafetyCheck.Status.FAILED
        check.finished_by = actor_name(actor)
        check.finished_at = timezone.now()
        check.save()
        dataset = check.dataset
        dataset.safety_status = Dataset.SafetyStatus.PASSED if passed else Dataset.SafetyStatus.FAILED
        dataset.save()
    return check


#
# Security self-assessment
#


@transaction.atomic
def assessment_create(*, service: Service, title: str, actor: Any) -> SelfAssessment:
    """A draft assessment with one row per clause of the standard, ready for verdicts."""
    with acting_as(actor):
        assessment = SelfAssessment.objects.create(service=service, title=title)
        for position, (clause, requirement) in enumerate(ASSESSMENT_CLAUSES, start=1):
            AssessmentClause.objects.create(
                assessment=assessment, clause=clause, requirement=requirement, position=position
            )
    return assessment


def assessment_problems(assessment: SelfAssessment) -> list[str]:
    """What stands between the assessment and finalisation (empty when it can be finalised)."""
    problems: list[str] = []
    signers = (
        (assessment.legal_representative_signer, _("the legal representative")),
        (assessment.assessment_lead_signer, _("the overall assessment lead")),
        (assessment.legality_lead_signer, _("the legality lead")),
    )
    missing = [str(label) for name, label in signers if not name.strip()]
    if missing:
        problems.append(_("Signers missing: %(who)s.") % {"who": ", ".join(missing)})
    names = [name.strip() for name, _label in signers if name.strip()]
    if len(set(names)) < len(names) and not assessment.signers_note.strip():
        problems.append(_("One person holds several signing roles: add a note on signers."))
    clauses = list(assessment.clauses.all())
    if not clauses:
        problems.append(_("The assessment has no clauses."))
    no_verdict = [c.clause for c in clauses if not c.verdict]
    if no_verdict:
        problems.append(_("Clauses without a verdict: %(c)s.") % {"c": ", ".join(no_verdict)})
    no_reason = [c.clause for c in clauses if c.verdict and c.verdict != c.Verdict.CONFORMS and not c.reason.strip()]
    if no_reason:
        problems.append(_("不符合 and 不适用 need a reason: %(c)s.") % {"c": ", ".join(no_reason)})
    no_evidence = [
        c.clause
        for c in clauses
        if c.verdict == c.Verdict.CONFORMS and not (c.evidence.strip() or c.evidence_file or c.evidence_link)
    ]
    if no_evidence:
        problems.append(_("符合 needs evidence: %(c)s.") % {"c": ", ".join(no_evidence)})
    return problems


def assessment_finalise(*, assessment: SelfAssessment, actor: Any) -> SelfAssessment:
    if assessment.status == SelfAssessment.Status.FINALISED:
        raise FilingError(_("This assessment is already finalised."))
    problems = assessment_problems(assessment)
    if problems:
        raise FilingError(_("The assessment cannot be finalised yet. %(p)s") % {"p": " ".join(problems)})
    with acting_as(actor), transaction.atomic():
        assessment.status = SelfAssessment.Status.FINALISED
        assessment.finalised_by = actor_name(actor)
        assessment.finalised_at = timezone.now()
        assessment.save()
    return assessment


def assessment_metrics_record(*, assessment: SelfAssessment, actor: Any = None, **metrics: Any) -> SelfAssessment:
    """Write measured metrics (field names of ``SelfAssessment``) from an assessment run."""
    allowed = {
        "corpus_manual_pass_rate",
        "corpus_technical_pass_rate",
        "generated_sample_size",
        "generated_pass_rate_manual",
        "generated_pass_rate_keyword",
        "generated_pass_rate_classifier",
        "refuse_sample_size",
        "refuse_rate",
        "nonrefuse_sample_size",
        "nonrefuse_refusal_rate",
    }
    unknown = set(metrics) - allowed
    if unknown:
        raise TypeError(f"unknown metric(s): {', '.join(sorted(unknown))}")
    if assessment.status == SelfAssessment.Status.FINALISED:
        raise FilingError(_("This assessment is finalised; start a new one to record new metrics."))
    with acting_as(actor), transaction.atomic():
        for name, value in metrics.items():
            setattr(assessment, name, value)
        assessment.save()
    return assessment


#
# Complaints and reports
#


def complaint_create(
    *,
    channel: str,
    complainant: str,
    category: str,
    details: str = "",
    produce_id: str = "",
    service: Service | None = None,
    user: Any = None,
    request: Any = None,
    received_at: datetime | None = None,
    contact: str = "",
    pi_request: str = "",
    attachment: Any = None,
) -> Complaint:
    """Record a complaint or report (an end user's "report this output", or anyone's complaint on the open
    form) with its number and answer due date; a personal-information request names what it asks for.

    Writes the history record and a ``complaint.received`` audit event in one transaction.
    """

    if channel not in Complaint.Channel.values:
        raise FilingError(_("Unknown channel “%(c)s”.") % {"c": channel})
    if category not in Complaint.Category.values:
        raise FilingError(_("Unknown category “%(c)s”.") % {"c": category})
    if category == Complaint.Category.PERSONAL_INFORMATION and pi_request not in Complaint.PiRequest.values:
        raise FilingError(_("Say what the personal-information request asks for."))
    if category != Complaint.Category.PERSONAL_INFORMATION:
        pi_request = ""
    if service is None:
        from filing.selectors import service_public

        service = service_public()
    with acting_as(user, request=request), transaction.atomic():
        complaint = Complaint(
            service=service,
            channel=channel,
            complainant=complainant[:200],
            user_id=str(user.pk) if user is not None and getattr(user, "pk", None) else "",
            produce_id=produce_id[:64],
            category=category,
            pi_request=pi_request,
            contact=contact[:200],
            details=details,
            received_at=received_at or timezone.now(),
        )
        if attachment is not None:
            complaint.attachment = attachment
        complaint.save()
        complaint_received_record(complaint=complaint, actor=user, request=request)
    return complaint


def complaint_received_record(*, complaint: Complaint, actor: Any = None, request: Any = None) -> None:
    """The ``complaint.received`` audit event of a complaint just stored (e.g. entered in the admin)."""
    from audit import services as audit

    audit.complaint_event(
        event_type="complaint.received",
        actor=actor,
        request=request,
        subject=complaint,
        produce_id=complaint.produce_id or None,
        payload={"category": complaint.category, "channel": complaint.channel},
    )


def complaint_status_record(*, complaint: Complaint, actor: Any, note: str = "") -> None:
    """The ``complaint.updated`` audit event after a change of state or handler."""
    from audit import services as audit

    audit.complaint_event(
        event_type="complaint.updated",
        actor=actor,
        subject=complaint,
        produce_id=complaint.produce_id or None,
        payload={"status": complaint.status, "note": note[:500]} if note else {"status": complaint.status},
    )


def complaint_take_on(*, complaint: Complaint, actor: Any) -> Complaint:
    """A handler takes on a received complaint."""
    if complaint.status != Complaint.Status.RECEIVED:
        raise FilingError(_("This complaint has already been taken on."))
    with acting_as(actor), transaction.atomic():
        complaint.status = Complaint.Status.IN_PROGRESS
        complaint.handler = actor_name(actor)
        complaint.save()
        complaint_status_record(complaint=complaint, actor=actor)
    return complaint


def complaint_resolve(*, complaint: Complaint, resolution: str, actor: Any, rejected: bool = False) -> Complaint:
    """Close a complaint with its resolution (or the reasons it is rejected)."""
    from audit import services as audit

    if not resolution.strip():
        raise FilingError(_("Describe how the complaint was resolved."))
    if not complaint.is_open:
        raise FilingError(_("This complaint is already closed."))
    with acting_as(actor), transaction.atomic():
        complaint.status = Complaint.Status.REJECTED if rejected else Complaint.Status.RESOLVED
        complaint.resolution = resolution.strip()
        complaint.resolved_at = timezone.now()
        complaint.handler = complaint.handler or actor_name(actor)
        complaint.save()
        audit.complaint_event(
            event_type="complaint.resolved",
            actor=actor,
            subject=complaint,
            produce_id=complaint.produce_id or None,
            payload={"action": complaint.status},
        )
    return complaint
