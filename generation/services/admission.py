"""What a submission needs to know of its user, read in one query once the user's row is locked.

``job_submit`` asks the daily quota, minor mode, real-name verification, a suspension, the terms in force, the
tester list, the idempotency key and the queue's depth before it stores a job. Each of these has a reader of its
own for the pages (``usage``, ``minors``, ``identity``, ``enforcement``, ``terms``, ``queueing``, the service's
``serves``); on the job path they are one
SELECT of the user's row with a subquery each, taken after the lock so that it sees every job the user's earlier
submissions committed. A refusal then reads again what its message needs; an accepted job reads nothing more.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Count, Exists, OuterRef, Subquery

from filing.models import Document, Service
from generation.minors import MinorMode, minor_mode_of
from generation.models import AgeDeclaration, DailyUsage, Job, PhoneVerification, RefusalStreak, Suspension
from generation.models.users import TermsAcceptance
from generation.terms import KINDS as TERMS_KINDS
from generation.usage import QuotaState, quota_state_of, usage_day


@dataclass(frozen=True)
class SubmitterFacts:
    """A user's counts and states as a submission reads them (``submitter_facts``)."""

    jobs_today: int | None  # None: no usage row for today yet
    in_a_row: int  # inputs refused in a row
    date_of_birth: date | None
    guardian_consented: bool
    phone_verified: bool
    suspended: bool
    terms_pending: bool  # a published version of the terms is not accepted yet
    tester: bool  # on the public service's tester list
    queued: int | None  # jobs waiting on the queue; None when not counted
    key_job: int | None  # the primary key of the job made with the request's idempotency key

    def minor_mode(self) -> MinorMode | None:
        return minor_mode_of(self.date_of_birth, guardian_consented=self.guardian_consented)

    def quota(self) -> QuotaState:
        return quota_state_of(used=self.jobs_today or 0, mode=self.minor_mode())


def _terms_document(kind: str) -> Subquery:
    """The newest published document of ``kind`` of the public service (``filing.selectors.document_published``)."""
    return Subquery(
        Document.objects.filter(service__is_public=True, kind=kind, published_at__isnull=False)
        .order_by("-published_at", "-pk")
        .values("pk")[:1]
    )


def submitter_facts(user: Any, *, idempotency_key: str | None, count_queue: bool) -> SubmitterFacts:
    """One query: ``user``'s facts for a submission (``count_queue``: also count the jobs waiting)."""
    mine = {"user_id": OuterRef("pk")}
    usage = DailyUsage.objects.filter(**mine, day=usage_day())
    declaration = AgeDeclaration.objects.filter(**mine)
    annotations: dict[str, Any] = {
        "jobs_today": Subquery(usage.values("jobs")[:1]),
        "in_a_row": Subquery(RefusalStreak.objects.filter(**mine).values("in_a_row")[:1]),
        "date_of_birth": Subquery(declaration.values("date_of_birth")[:1]),
        "guardian_consented": Exists(declaration.filter(guardian_consented_at__isnull=False)),
        "phone_verified": Exists(PhoneVerification.objects.filter(**mine)),
        "suspended": Exists(Suspension.objects.filter(**mine, lifted_at__isnull=True)),
        "tester": Exists(Service.objects.filter(is_public=True, testers=OuterRef("pk"))),
    }
    for kind in TERMS_KINDS:
        annotations[f"terms_{kind}"] = _terms_document(kind)
        annotations[f"accepted_{kind}"] = Exists(
            TermsAcceptance.objects.filter(**mine, document_id=_terms_document(kind))
        )
    if count_queue:
        waiting = Job.objects.filter(status=Job.Status.QUEUED).order_by().values("status")
        annotations["queued"] = Subquery(waiting.annotate(n=Count("pk")).values("n")[:1])
    if idempotency_key:
        annotations["key_job"] = Subquery(Job.objects.filter(**mine, idempotency_key=idempotency_key).values("pk")[:1])
    row = get_user_model().objects.filter(pk=user.pk).annotate(**annotations).values(*annotations).get()
    return SubmitterFacts(
        jobs_today=row["jobs_today"],
        in_a_row=row["in_a_row"] or 0,
        date_of_birth=row["date_of_birth"],
        guardian_consented=bool(row["guardian_consented"]),
        phone_verified=bool(row["phone_verified"]),
        suspended=bool(row["suspended"]),
        tester=bool(row["tester"]),
        terms_pending=any(row[f"terms_{kind}"] is not None and not row[f"accepted_{kind}"] for kind in TERMS_KINDS),
        queued=(row["queued"] or 0) if count_queue else None,
        key_job=row.get("key_job"),
    )
