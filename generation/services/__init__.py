"""Generation services, by concern: what may run (``gate``), submitting jobs (``jobs``), running them on a
worker (``running``), and delivering and removing outputs (``delivery``). The names other modules use are
re-exported here."""

from generation.services.delivery import (
    Deliverable,
    UnlabelledRefused,
    consent_change_record,
    labelling_obligation_set,
    output_unlabelled_allowed,
    outputs_remove,
    produce_id_for,
    producer_code_for,
    service_offering_unlabelled,
    unlabelled_delivery_version,
)
from generation.services.gate import (
    JobUnavailable,
    account_refusal,
    checkpoint_tunes,
    job_refuse_unavailable,
    policy_refusal,
    tunes_offered,
)
from generation.services.jobs import IdempotencyKeyReused, job_cancel, job_submit, request_hash
from generation.services.running import OutputBlocked, job_run, job_sample, jobs_sweep, net_load

__all__ = [
    "Deliverable",
    "IdempotencyKeyReused",
    "JobUnavailable",
    "OutputBlocked",
    "UnlabelledRefused",
    "consent_change_record",
    "account_refusal",
    "checkpoint_tunes",
    "job_cancel",
    "job_refuse_unavailable",
    "job_run",
    "job_sample",
    "job_submit",
    "jobs_sweep",
    "labelling_obligation_set",
    "net_load",
    "output_unlabelled_allowed",
    "outputs_remove",
    "policy_refusal",
    "produce_id_for",
    "request_hash",
    "producer_code_for",
    "service_offering_unlabelled",
    "tunes_offered",
    "unlabelled_delivery_version",
]
