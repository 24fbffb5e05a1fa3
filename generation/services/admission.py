"""What a submission needs to know of its user and of the generator asked for, read in one query.

``job_submit`` asks the daily quota, minor mode, real-name verification, a suspension, the terms in force, the
tester list, the idempotency key and the queue's depth, and needs the serving checkpoint with its model record,
service and provider. Each of these has a reader of its own for the pages (``usage``, ``minors``, ``identity``,
``enforcement``, ``terms``, ``queueing``, the service's ``serves``, ``checkpoint_serving``); on the job path they are
one SELECT of the serving checkpoint with a subquery for each fact of the user (of the user's row when no checkpoint
serves the kind). A refusal then reads again what its message needs; an accepted job reads nothing more.

The facts are what was committed when the query began. What two submissions racing could both pass is decided
again where it is written: the quota by the statement that counts the job (``usage_job_taken``), the idempotency
key by its unique constraint.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Count, Exists, Subquery

from filing.models import Document, Service
from generation.minors import MinorMode, minor_mode_of
from generation.models import AgeDeclaration, Checkpoint, DailyUsage, Job, PhoneVerification, RefusalStreak, Suspension
from generation.models.users import TermsAcceptance
from generation.terms import KINDS as TERMS_KINDS
from generation.usage import QuotaState, quota_state_of, usage_day

_PREFIX = "submitter_"


@dataclass(frozen=True)
class SubmitterFacts:
    """A user's counts and states as a submission reads them (``submission_facts``)."""

    jobs_today: int  # jobs counted against today's quota
    in_a_row: int  # inputs refused in a row
    date_of_birth: date | None
    guardian_consented: bool
    phone_verified: bool
    suspended: bool
    tester: bool  # on the public service's tester list
    terms_pending: bool  # a published version of the terms is not accepted yet
    queued: int | None  # jobs waiting on the queue; None when not counted
    key_job: int | None  # the primary key of the job made with the request's idempotency key

    def minor_mode(self) -> MinorMode | None:
        return minor_mode_of(self.date_of_birth, guardian_consented=self.guardian_consented)

    def quota(self) -> QuotaState:
        return quota_state_of(used=self.jobs_today, mode=self.minor_mode())


def _terms_document(kind: str) -> Subquery:
    """The newest published document of ``kind`` of the public service (``filing.selectors.document_published``)."""
    return Subquery(
        Document.objects.filter(service__is_public=True, kind=kind, published_at__isnull=False)
        .order_by("-published_at", "-pk")
        .values("pk")[:1]
    )


def _facts(user_id: int, *, idempotency_key: str | None, count_queue: bool) -> dict[str, Any]:
    """The subqueries of the user's facts, by name (each name with ``_PREFIX``)."""
    mine = {"user_id": user_id}
    declaration = AgeDeclaration.objects.filter(**mine)
    facts: dict[str, Any] = {
        "jobs_today": Subquery(DailyUsage.objects.filter(**mine, day=usage_day()).values("jobs")[:1]),
        "in_a_row": Subquery(RefusalStreak.objects.filter(**mine).values("in_a_row")[:1]),
        "date_of_birth": Subquery(declaration.values("date_of_birth")[:1]),
        "guardian_consented": Exists(declaration.filter(guardian_consented_at__isnull=False)),
        "phone_verified": Exists(PhoneVerification.objects.filter(**mine)),
        "suspended": Exists(Suspension.objects.filter(**mine, lifted_at__isnull=True)),
        "tester": Exists(Service.objects.filter(is_public=True, testers=user_id)),
    }
    for kind in TERMS_KINDS:
        facts[f"terms_{kind}"] = _terms_document(kind)
        facts[f"accepted_{kind}"] = Exists(TermsAcceptance.objects.filter(**mine, document_id=_terms_document(kind)))
    if count_queue:
        waiting = Job.objects.filter(status=Job.Status.QUEUED).order_by().values("status")
        facts["queued"] = Subquery(waiting.annotate(n=Count("pk")).values("n")[:1])
    if idempotency_key:
        facts["key_job"] = Subquery(Job.objects.filter(**mine, idempotency_key=idempotency_key).values("pk")[:1])
    return {_PREFIX + name: expression for name, expression in facts.items()}


def submission_facts(
    user: Any, *, kind: str, idempotency_key: str | None, count_queue: bool
) -> tuple[Checkpoint | None, SubmitterFacts]:
    """One query: the checkpoint serving ``kind`` (None if none does), with ``user``'s facts for a submission
    (``count_queue``: also count the jobs waiting). Without a serving checkpoint, a second query reads the facts."""
    facts = _facts(user.pk, idempotency_key=idempotency_key, count_queue=count_queue)
    checkpoint = (
        Checkpoint.objects.select_related("model_record__service__provider")
        .filter(kind=kind, is_active=True)
        .annotate(**facts)
        .first()
    )
    if checkpoint is not None:
        row = {name: getattr(checkpoint, name) for name in facts}
    else:
        row = get_user_model().objects.filter(pk=user.pk).annotate(**facts).values(*facts).get()
    value = {name.removeprefix(_PREFIX): found for name, found in row.items()}
    return checkpoint, SubmitterFacts(
        jobs_today=value["jobs_today"] or 0,
        in_a_row=value["in_a_row"] or 0,
        date_of_birth=value["date_of_birth"],
        guardian_consented=bool(value["guardian_consented"]),
        phone_verified=bool(value["phone_verified"]),
        suspended=bool(value["suspended"]),
        tester=bool(value["tester"]),
        terms_pending=any(value[f"terms_{kind}"] is not None and not value[f"accepted_{kind}"] for kind in TERMS_KINDS),
        queued=(value["queued"] or 0) if count_queue else None,
        key_job=value.get("key_job"),
    )
