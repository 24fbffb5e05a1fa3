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

import functools
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db import connection
from django.db.models import BooleanField, DateField, Field, IntegerField
from django.db.models.expressions import RawSQL

from filing.models import Document, Service
from genai_platform.joined import Column, Joined, quoted, table
from genai_platform.prepared import execute_prepared
from generation.minors import MinorMode, minor_mode_of
from generation.models import AgeDeclaration, Checkpoint, DailyUsage, Job, PhoneVerification, RefusalStreak, Suspension
from generation.models.users import TermsAcceptance
from generation.terms import KINDS as TERMS_KINDS
from generation.usage import QuotaState, quota_state_of, usage_day


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


@functools.cache
def _fact_sql() -> dict[str, tuple[str, tuple[str, ...], Field[Any, Any]]]:
    """Each fact as a scalar subquery in SQL, with the names of its parameters and its type; written once per process.

    In SQL rather than in querysets: compiling a dozen subqueries through the ORM costs several times more than
    running them. Each asks what the reader of the same fact named in the module's docstring asks.
    """
    usage, streak, declaration = table(DailyUsage), table(RefusalStreak), table(AgeDeclaration)
    phone, suspension, acceptance = table(PhoneVerification), table(Suspension), table(TermsAcceptance)
    service, document, job = table(Service), table(Document), table(Job)
    testers = table(Service.testers.through)
    tester_service = Service.testers.field.m2m_column_name()
    tester_user = Service.testers.field.m2m_reverse_name()
    newest_document = (
        f"SELECT d.id FROM {document} d JOIN {service} s ON s.id = d.service_id WHERE s.is_public "  # noqa: S608
        "AND d.kind = %s AND d.published_at IS NOT NULL ORDER BY d.published_at DESC, d.id DESC LIMIT 1"
    )
    integer, boolean = IntegerField(), BooleanField()
    facts: dict[str, tuple[str, tuple[str, ...], Field[Any, Any]]] = {
        "jobs_today": (f"SELECT jobs FROM {usage} WHERE user_id = %s AND day = %s", ("user", "day"), integer),  # noqa: S608
        "in_a_row": (f"SELECT in_a_row FROM {streak} WHERE user_id = %s", ("user",), integer),  # noqa: S608
        "date_of_birth": (f"SELECT date_of_birth FROM {declaration} WHERE user_id = %s", ("user",), DateField()),  # noqa: S608
        "guardian_consented": (
            f"SELECT EXISTS (SELECT 1 FROM {declaration} WHERE user_id = %s AND guardian_consented_at IS NOT NULL)",  # noqa: S608
            ("user",),
            boolean,
        ),
        "phone_verified": (f"SELECT EXISTS (SELECT 1 FROM {phone} WHERE user_id = %s)", ("user",), boolean),  # noqa: S608
        "suspended": (
            f"SELECT EXISTS (SELECT 1 FROM {suspension} WHERE user_id = %s AND lifted_at IS NULL)",  # noqa: S608
            ("user",),
            boolean,
        ),
        "tester": (
            f"SELECT EXISTS (SELECT 1 FROM {testers} t JOIN {service} s ON s.id = t.{tester_service} "  # noqa: S608
            f"WHERE s.is_public AND t.{tester_user} = %s)",
            ("user",),
            boolean,
        ),
        "queued": (f"SELECT COUNT(*) FROM {job} WHERE status = %s", ("queued",), integer),  # noqa: S608
        "key_job": (f"SELECT id FROM {job} WHERE user_id = %s AND idempotency_key = %s", ("user", "key"), integer),  # noqa: S608
    }
    for kind in TERMS_KINDS:
        facts[f"terms_{kind}"] = (newest_document, (f"kind_{kind}",), integer)
        facts[f"accepted_{kind}"] = (
            f"SELECT EXISTS (SELECT 1 FROM {acceptance} WHERE user_id = %s AND document_id = ({newest_document}))",  # noqa: S608
            ("user", f"kind_{kind}"),
            boolean,
        )
    return facts


@dataclass(frozen=True)
class _AdmissionRead:
    """The admission read of one shape (with or without the queue's count and the idempotency key), in SQL."""

    name: str  # of the prepared statement
    sql: str
    params: tuple[str, ...]  # the name of each parameter, in order
    facts: tuple[tuple[str, Column], ...]
    checkpoint: Joined


@functools.cache
def _admission_read(*, count_queue: bool, with_key: bool) -> _AdmissionRead:
    """One SELECT that always returns one row: the user's facts, then the columns of the checkpoint serving a kind
    with its model record (none for a checkpoint not filed yet), the record's service and the service's provider
    (NULL when none serves), which a job's labels and audit records need. Written once per process and shape, and
    on PostgreSQL prepared once per connection: compiling the same read through the ORM, with three joins and a
    dozen subqueries, cost more than running it, and so does planning it."""
    select: list[str] = []
    params: list[str] = []
    facts = []
    for name, (sql, names, field) in _fact_sql().items():
        if (name == "queued" and not count_queue) or (name == "key_job" and not with_key):
            continue
        select.append(f"({sql})")
        params.extend(names)
        facts.append((name, Column.of(RawSQL(sql, (), output_field=field), field)))  # noqa: S611 (no values)
    checkpoint = Joined(Checkpoint, ["model_record__service__provider"])
    kind, active = (quoted(Checkpoint._meta.get_field(f)) for f in ("kind", "is_active"))
    # Our own SQL from the models' names; every value is a parameter.
    sql = (
        f"SELECT {', '.join(select)}, {checkpoint.columns} FROM (SELECT 1) one "  # noqa: S608
        f"LEFT JOIN {table(Checkpoint)} a0 ON a0.{kind} = %s AND a0.{active} {checkpoint.joins}"
    )
    name = f"genai_admission_{int(count_queue)}{int(with_key)}"
    return _AdmissionRead(name, sql, (*params, "kind"), tuple(facts), checkpoint)


def submission_facts(
    user: Any, *, kind: str, idempotency_key: str | None, count_queue: bool
) -> tuple[Checkpoint | None, SubmitterFacts]:
    """One query: the checkpoint serving ``kind`` (None if none does), with its model record, service and provider,
    and ``user``'s facts for a submission (``count_queue``: also count the jobs waiting)."""
    read = _admission_read(count_queue=count_queue, with_key=bool(idempotency_key))
    values: dict[str, Any] = {
        "user": user.pk,
        "day": connection.ops.adapt_datefield_value(usage_day()),
        "queued": str(Job.Status.QUEUED),
        "key": idempotency_key,
        "kind": kind,
        **{f"kind_{kind}": str(kind) for kind in TERMS_KINDS},
    }
    with connection.cursor() as cursor:
        execute_prepared(cursor, read.name, read.sql, [values[name] for name in read.params])
        row = list(cursor.fetchone())
    value = {name: column.value(raw) for (name, column), raw in zip(read.facts, row, strict=False)}
    checkpoint = read.checkpoint.instances(row[len(read.facts) :])
    assert checkpoint is None or isinstance(checkpoint, Checkpoint)
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
