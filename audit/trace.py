"""One object's trail through the log: every record about a generation job, an output, a complaint or a filing
record, in the order written (requested, moderated, succeeded or refused, downloaded, reported, ...).

A job is found by the ``job_id`` its records carry; its outputs by their ProduceIDs, which the records of
downloads, complaints and removals carry too; a complaint by its subject. Each lookup is an indexed one
(ProduceID, subject) or, for the job id, the search index.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Q

from audit.models import LogEntry, Seal
from audit.verification import record_proof

JOB = "job"
OUTPUT = "output"
JOB_SUBJECT = "generation.job"
COMPLAINT_SUBJECT = "filing.complaint"


def _job_of(entry: LogEntry) -> str:
    if not entry.event_type.startswith("generation."):
        return ""
    try:
        job = entry.payload_data.get("job_id")
    except ValueError:
        return ""
    return job if isinstance(job, str) else ""


def trace_of(entry: LogEntry) -> tuple[str, str] | None:
    """The trail a log record belongs to, as ``(kind, id)`` for the trace URL; None for records about nothing."""
    job = _job_of(entry)
    if job:
        return (JOB, job)
    if entry.produce_id:
        return (OUTPUT, entry.produce_id)
    if entry.subject_kind and entry.subject_id:
        return (entry.subject_kind, entry.subject_id)
    return None


def _with_outputs(found: dict[int, LogEntry]) -> dict[int, LogEntry]:
    """Adds the records about the outputs among ``found`` and about complaints on them."""
    produce_ids = {e.produce_id for e in found.values() if e.produce_id}
    for entry in LogEntry.objects.filter(produce_id__in=produce_ids):
        found.setdefault(entry.seq, entry)
    complaints = {e.subject_id for e in found.values() if e.subject_kind == COMPLAINT_SUBJECT}
    if complaints:
        for entry in LogEntry.objects.filter(subject_kind=COMPLAINT_SUBJECT, subject_id__in=complaints):
            found.setdefault(entry.seq, entry)
    return found


def job_records(job_id: str) -> list[LogEntry]:
    """The records of the job whose public id is ``job_id``, of its outputs and of complaints on them, in order."""
    found = {e.seq: e for e in LogEntry.objects.of_event_type("generation.*").matching(job_id) if _job_of(e) == job_id}
    subjects = {e.subject_id for e in found.values() if e.subject_kind == JOB_SUBJECT}
    if subjects:
        for entry in LogEntry.objects.filter(subject_kind=JOB_SUBJECT, subject_id__in=subjects):
            found.setdefault(entry.seq, entry)
    return sorted(_with_outputs(found).values(), key=lambda e: e.seq)


def output_job(produce_id: str) -> str:
    """The public id of the job that made the output ``produce_id`` ("" when no record names one)."""
    for entry in LogEntry.objects.filter(produce_id=produce_id, event_type__startswith="generation.").order_by("seq"):
        job = _job_of(entry)
        if job:
            return job
    return ""


def subject_records(kind: str, ident: str) -> list[LogEntry]:
    """The records about one subject (``filing.complaint`` 7) or output (``output`` and its ProduceID), in order."""
    where = Q(produce_id=ident) if kind == OUTPUT else Q(subject_kind=kind, subject_id=ident)
    found = {e.seq: e for e in LogEntry.objects.filter(where)}
    return sorted(_with_outputs(found).values(), key=lambda e: e.seq)


@dataclass(frozen=True)
class Step:
    """A record of a trail with its seal: ``seal`` None while unsealed; ``proof_valid`` whether its Merkle path
    leads from the record's recomputed hash to the seal's root."""

    entry: LogEntry
    seal: Seal | None
    proof_valid: bool | None


def steps(entries: list[LogEntry]) -> list[Step]:
    result = []
    for entry in entries:
        proof: dict[str, Any] | None = record_proof(entry)
        result.append(
            Step(entry=entry, seal=proof["seal"] if proof else None, proof_valid=proof["valid"] if proof else None)
        )
    return result
