"""The catalogue of audit event types and the payload each one carries.

Every record of the log has a dotted ``event_type`` taken from ``EVENT_TYPES`` below. The columns
common to all records (actor, source address, subject, filing number, model record, checkpoint,
keyword library version, moderation decision, risk codes, ProduceID, input/output digests) are
described on ``audit.models.LogEntry``; what is specific to one event type goes in its JSON
payload, whose keys are declared here.

A payload key is declared with its JSON type, whether it is required, and whether it can hold
personal information (``pi=True``): a pseudonymised export replaces such values with a keyed
hash. Keys not declared are accepted and kept, but should be added here so that auditors know
what they mean.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# JSON types a payload value may have, by the name used in the catalogue.
_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
}


@dataclass(frozen=True)
class PayloadKey:
    type: str
    description: str
    required: bool = False
    pi: bool = False


@dataclass(frozen=True)
class EventType:
    name: str
    description: str
    payload: dict[str, PayloadKey] = field(default_factory=dict)

    @property
    def family(self) -> str:
        return self.name.split(".", 1)[0]


def _key(type_: str, description: str, *, required: bool = False, pi: bool = False) -> PayloadKey:
    return PayloadKey(type=type_, description=description, required=required, pi=pi)


_JOB = _key("string", "Id of the generation job.")
_KIND = _key("string", "What is generated: gan, vae or text.")

_CATALOGUE: tuple[EventType, ...] = (
    # Generation: one record per step of a request, from the policy gate to the output.
    EventType(
        "generation.requested",
        "A generation request passed the policy gate and input moderation and was queued.",
        {
            "job_id": _key("string", "Id of the generation job.", required=True),
            "kind": _KIND,
            "params": _key("object", "Sampling parameters (seed, count, length, ...)."),
        },
    ),
    EventType(
        "generation.refused",
        "A request was refused before generation: policy gate (service state, model record, suspended "
        "user, quota) or input moderation. ``decision`` is 'refused' and ``risk_codes`` the categories hit.",
        {
            "job_id": _JOB,
            "kind": _KIND,
            "reason": _key("string", "Why, as shown to the user.", required=True),
            "stage": _key("string", "policy or input_moderation."),
            "reason_code": _key(
                "string",
                "Why, as a code: content (the content checks refused the input; the only refusals refusal "
                "rates count), net_not_ready, model_not_approved, service_not_open or stopped (the generator "
                "could not serve), or an account or quota reason (over_quota, not_a_tester, terms_not_accepted, "
                "user_suspended, phone_not_verified, minor mode codes). Absent on records written before it was.",
            ),
            "matched_terms": _key("array", "Keyword library entries hit (ids or terms)."),
            "layers": _key("object", "Input moderation: each layer's own decision (keyword, classifier)."),
            "scores": _key("array", "Input moderation: the classifier's scores, thresholds and version (model)."),
        },
    ),
    EventType(
        "generation.succeeded",
        "A job finished; its outputs were labelled and stored. ``output_sha256`` is the digest of the output.",
        {
            "job_id": _key("string", "Id of the generation job.", required=True),
            "kind": _KIND,
            "output_ids": _key("array", "Ids of the stored outputs."),
            "latency_ms": _key("number", "Time from queued to finished, milliseconds."),
            "label": _key("object", "Explicit and implicit label written (Labeling Measures)."),
        },
    ),
    EventType(
        "generation.output_blocked",
        "Output moderation blocked a generated output; nothing was delivered.",
        {
            "job_id": _key("string", "Id of the generation job.", required=True),
            "kind": _KIND,
            "matched_terms": _key("array", "Keyword library entries hit."),
            "latency_ms": _key("number", "Time from queued to finished, milliseconds."),
            "layers": _key("object", "Each moderation layer's own decision (keyword, classifier)."),
            "scores": _key("array", "The classifier's scores, thresholds and version (model)."),
        },
    ),
    EventType(
        "generation.failed",
        "A job failed; nothing was delivered.",
        {
            "job_id": _key("string", "Id of the generation job.", required=True),
            "kind": _KIND,
            "reason": _key("string", "The failure, in one line.", required=True),
            "latency_ms": _key("number", "Time from queued to failed, milliseconds."),
        },
    ),
    EventType(
        "generation.output_downloaded",
        "An output was downloaded; ``payload.labelled`` false records an unlabelled export (Labeling Art 9).",
        {
            "output_id": _key("string", "Id of the output.", required=True),
            "labelled": _key("boolean", "Whether the delivered file carried the labels."),
            "purpose": _key("string", "Purpose declared for an unlabelled export."),
            "agreement_version": _key("string", "User agreement version accepted."),
        },
    ),
    EventType(
        "generation.checkpoint_served",
        "A checkpoint started serving its net to end users. ``subject`` is the checkpoint.",
        {
            "kind": _KIND,
            "by": _key(
                "string",
                "Who decided: training (a run that passed the gate and beat the one serving), "
                "admin, or bundled (the weights shipped with the software).",
                required=True,
            ),
            "gate": _key("string", "The quality gate's verdict: passed, failed or unmeasured.", required=True),
            "overridden": _key("boolean", "Whether an operator overrode the gate for it."),
            "replaced": _key("array", "SHA-256 of the checkpoint(s) it replaced."),
            "figures": _key("object", "The figures the gate judged."),
        },
    ),
    EventType(
        "generation.quality_gate_overridden",
        "An operator let a checkpoint that did not pass the quality gate serve, with a written reason.",
        {
            "kind": _KIND,
            "reason": _key("string", "The operator's reason.", required=True),
            "gate": _key("string", "The gate's verdict that was overridden.", required=True),
            "failing": _key("array", "The figures that failed."),
            "figures": _key("object", "The figures the gate judged."),
        },
    ),
    # Training runs: what an operator starts or stops, and runs the platform's stopping cut short.
    EventType(
        "generation.training_started",
        "An operator started a training run (in the admin or with manage.py train). ``subject`` is the run.",
        {
            "run_id": _key("integer", "Id of the training run.", required=True),
            "kind": _KIND,
            "origin": _key("string", "admin or terminal (manage.py train).", required=True),
            "data": _key("string", "The training data asked for."),
            "seed": _key("integer", "Random seed."),
            "epochs": _key("integer", "Epochs asked for, if any."),
            "minutes": _key("number", "Time budget in minutes, if any."),
            "model_record": _key("string", "Model record the checkpoint would serve under, if named."),
            "serve_if_better": _key("boolean", "Whether its checkpoint may take over serving on its own."),
        },
    ),
    EventType(
        "generation.training_cancelled",
        "An operator cancelled a training run: a queued one at once, a running one at its next check (it keeps "
        "its best epoch as an unmeasured checkpoint, which never serves on its own). ``subject`` is the run.",
        {
            "run_id": _key("integer", "Id of the training run.", required=True),
            "kind": _KIND,
            "status": _key("string", "The run's status when cancelled: queued or running.", required=True),
        },
    ),
    EventType(
        "generation.training_interrupted",
        "A training run ended as interrupted because the platform stopped: its worker shut down or was lost, "
        "or Ctrl-C in manage.py train. ``subject`` is the run.",
        {
            "run_id": _key("integer", "Id of the training run.", required=True),
            "kind": _KIND,
            "how": _key(
                "string",
                "worker_shutdown (warm shutdown), worker_lost (found orphaned when the worker came back), "
                "ctrl_c (manage.py train) or ctrl_c_twice (stopped at once).",
                required=True,
            ),
            "checkpoint_kept": _key("boolean", "Whether its best epoch was kept as a checkpoint.", required=True),
        },
    ),
    # Filing: the records operators keep for the service filing.
    EventType(
        "filing.changed",
        "A filing record (provider, service, model record, dataset, keyword library, ...) was created, "
        "changed or deleted. ``subject`` names the record.",
        {
            "action": _key("string", "created, changed or deleted.", required=True),
            "changes": _key("object", "Changed fields: {field: [old, new]}."),
        },
    ),
    EventType(
        "filing.exported",
        "The filing package was exported.",
        {
            "file_sha256": _key("string", "SHA-256 of the exported package."),
            "items": _key("integer", "Number of items in the package."),
        },
    ),
    # Accounts.
    EventType(
        "auth.login",
        "A user signed in.",
        {"method": _key("string", "password, token, ...")},
    ),
    EventType(
        "auth.login_failed",
        "A sign-in failed.",
        {
            "username": _key("string", "The name that was tried.", required=True, pi=True),
            "reason": _key("string", "bad_credentials, or locked_out (refused by the lockout, see auth.locked_out)."),
        },
    ),
    EventType("auth.logout", "A user signed out."),
    EventType(
        "auth.locked_out",
        "A sign-in (web, admin or API token) was refused or locked out after too many failures for the account "
        "or the client address; the right password does not sign in until the cool-off period has passed.",
        {
            "username": _key("string", "The name that was tried.", required=True, pi=True),
            "failure_limit": _key("integer", "Failed sign-ins that lock out."),
            "cool_off_seconds": _key("integer", "How long the lockout lasts after the last attempt."),
        },
    ),
    EventType(
        "auth.lockout_cleared",
        "An administrator cleared a record of failed sign-ins in the admin, which lifts a lockout before its "
        "cool-off period ends. One record for each record of failures cleared.",
        {
            "username": _key("string", "The name the failures were for.", required=True, pi=True),
            "ip_address": _key("string", "The client address the failures came from.", pi=True),
            "failures": _key("integer", "Failed sign-ins the record had counted."),
        },
    ),
    EventType(
        "user.signed_up",
        "Someone signed up. ``subject`` is the new account. When the e-mail address given already belongs to an "
        "account, the new account gets no address and that account's owner is told by e-mail.",
        {
            "email": _key("string", "The e-mail address given.", required=True, pi=True),
            "email_in_use": _key("boolean", "The address already belonged to an account (it was not stored)."),
        },
    ),
    EventType(
        "user.password_changed",
        "A user changed their password (signed in, knowing the old one); their API token ended with it "
        "(``user.token_revoked``). ``subject`` is the user.",
    ),
    EventType(
        "user.password_reset",
        "A password was set anew with a reset link sent by e-mail; the API token ended with it "
        "(``user.token_revoked``). ``subject`` is the user.",
    ),
    EventType(
        "user.token_created",
        "An API token was created. ``subject`` is the user.",
        {"how": _key("string", "api (exchanged for the password) or account_page (a new token).", required=True)},
    ),
    EventType(
        "user.token_revoked",
        "An API token stopped working. ``subject`` is the user.",
        {
            "reason": _key(
                "string",
                "user (revoked by its owner), replaced (a new token replaced it), password_changed (the password "
                "was changed or reset, also by an operator), deactivated (the account was deactivated), "
                "closure_requested (the user asked to close the account) or closed.",
                required=True,
            ),
        },
    ),
    EventType(
        "user.suspended",
        "A user was suspended (e.g. after repeated violations). ``subject`` is the user.",
        {
            "reason": _key("string", "Why.", required=True),
            "violations": _key("integer", "Violations counted by the rule."),
            "until": _key("string", "ISO time the suspension ends, if it does."),
        },
    ),
    EventType(
        "user.reinstated",
        "A suspension was lifted. ``subject`` is the user.",
        {"reason": _key("string", "Why.")},
    ),
    EventType(
        "user.terms_accepted",
        "A user accepted the terms of service and the privacy policy in force. ``subject`` is the user.",
        {"documents": _key("array", "[{kind, version}] accepted.", required=True)},
    ),
    EventType(
        "user.phone_code_sent",
        "A one-time code for real-name verification was sent to a mobile number. ``subject`` is the user.",
        {"phone": _key("string", "The number, masked.", required=True, pi=True)},
    ),
    EventType(
        "user.phone_verified",
        "A user verified a mobile number (real-name verification); they may now generate. ``subject`` is the user.",
        {
            "phone": _key("string", "The number, masked.", required=True, pi=True),
            "method": _key("string", "sms_code, or demo_data for the demo account."),
        },
    ),
    EventType(
        "user.minor_mode",
        "An account started in minor mode (a date of birth under the age of majority). ``subject`` is the user.",
        {
            "active": _key("boolean", "Whether minor mode applies.", required=True),
            "daily_jobs": _key("integer", "Jobs allowed a day."),
            "night_hours": _key("string", "Hours without service, local time."),
        },
    ),
    EventType(
        "user.guardian_consented",
        "A guardian consented to a minor's use of the service. ``subject`` is the minor's account.",
        {"guardian_phone": _key("string", "The guardian's number, masked.", pi=True)},
    ),
    EventType(
        "user.closure_requested",
        "A user asked to close their account; it closes after the cooling-off period. ``subject`` is the user.",
        {
            "effective_at": _key("string", "ISO time the account closes.", required=True),
            "cooling_off_days": _key("integer", "Days of the cooling-off period."),
        },
    ),
    EventType(
        "user.closure_cancelled",
        "A pending account closure was cancelled. ``subject`` is the user.",
        {"how": _key("string", "signed_in or api_token: the user signed in again during the cooling-off period.")},
    ),
    EventType(
        "user.closed",
        "An account was closed: its personal data deleted or anonymised; the audit records stay for their "
        "retention. ``subject`` is the (anonymised) user.",
        {
            "requested_at": _key("string", "ISO time the closure was asked for."),
            "jobs_deleted": _key("integer", "Generation jobs deleted."),
            "outputs_deleted": _key("integer", "Outputs deleted."),
        },
    ),
    EventType(
        "user.consent_changed",
        "A user gave or withdrew a consent in their settings (or at sign-up). ``subject`` is the user.",
        {
            "consent": _key(
                "string",
                "inputs_for_training (prompts and parameters may help improve the nets) or labelling_obligation "
                "(content without the visible label, with the duty to label it).",
                required=True,
            ),
            "given": _key("boolean", "Whether the consent is now given.", required=True),
            "previous": _key("boolean", "Whether it was given before (absent: never recorded)."),
            "version": _key("string", "Version of the document consented to, if it has one."),
        },
    ),
    EventType(
        "user.history_deleted",
        "A user deleted their generation history: jobs and output files. The audit records of the jobs stay. "
        "``subject`` is the user.",
        {
            "jobs_deleted": _key("integer", "Jobs deleted (queued ones were cancelled first).", required=True),
            "outputs_deleted": _key("integer", "Outputs deleted, with their files.", required=True),
            "kept_running": _key("integer", "Jobs a worker was running, kept."),
        },
    ),
    EventType(
        "user.access_changed",
        "Who may do what changed for one account, in the admin or through the platform's role service "
        "(sign-up gives the end-user role, the demo data its users' roles): the account was created or "
        "deleted, or its active, staff or superuser flag, its roles (groups) or its own permissions changed. "
        "``subject`` is the user; the actor is who made the change, or system:... for the platform.",
        {
            "action": _key("string", "created, changed or deleted.", required=True),
            "changes": _key(
                "object",
                "{field: [old, new]} for is_active, is_staff, is_superuser, groups (role names) and "
                "user_permissions (app_label.codename).",
                required=True,
            ),
        },
    ),
    EventType(
        "user.role_changed",
        "An administrator changed a role (a group): created, renamed or deleted it, or changed its permissions. "
        "``subject`` is the group.",
        {
            "action": _key("string", "created, changed or deleted.", required=True),
            "changes": _key(
                "object", "{field: [old, new]} for name and permissions (app_label.codename).", required=True
            ),
        },
    ),
    # Labels.
    EventType(
        "label.verified",
        "The implicit label of a file was checked (by an end user, operator or outside party).",
        {
            "valid": _key("boolean", "Whether the signature verified.", required=True),
            "file_sha256": _key("string", "SHA-256 of the file checked."),
            "reason": _key("string", "Why the check failed, if it did."),
        },
    ),
    # Complaints and reports (Interim Measures Art 15).
    EventType(
        "complaint.received",
        "A complaint or report was received. ``subject`` is the complaint; ``produce_id`` the output, if any.",
        {
            "category": _key("string", "What it is about."),
            "channel": _key("string", "web, api, email, phone, ..."),
            "due_at": _key("string", "ISO time the answer is due (absent on records written before it was)."),
        },
    ),
    EventType(
        "complaint.updated",
        "A complaint changed state, was assigned or edited (one record per action).",
        {
            "status": _key("string", "New state.", required=True),
            "note": _key("string", "Handler's note."),
            "changes": _key("object", "Fields the action changed: {field: [old, new]}.", pi=True),
        },
    ),
    EventType(
        "complaint.resolved",
        "A complaint was closed with an action.",
        {
            "action": _key("string", "Action taken (removed, warned, suspended, none, ...).", required=True),
            "reported_to_authority": _key("boolean", "Whether it was reported to the authority."),
            "changes": _key("object", "Fields the action changed: {field: [old, new]}.", pi=True),
        },
    ),
    # Emergency stops and incidents (应急处置).
    EventType(
        "incident.generation_stopped",
        "An operator stopped generation for a service or one model at once. ``subject`` is the service or model "
        "record.",
        {
            "scope": _key("string", "service or model.", required=True),
            "reason": _key("string", "Why, as the operator wrote it.", required=True),
        },
    ),
    EventType(
        "incident.generation_resumed",
        "An operator let a stopped service or model generate again. ``subject`` is the service or model record.",
        {
            "scope": _key("string", "service or model.", required=True),
            "note": _key("string", "Why it may generate again."),
        },
    ),
    EventType(
        "incident.content_removed",
        "An output was removed: no longer viewable or downloadable. ``subject`` is the output, ``produce_id`` its "
        "ProduceID.",
        {
            "reason": _key("string", "Why, as the operator wrote it.", required=True),
            "incident_id": _key("integer", "The incident it belongs to, if any."),
        },
    ),
    # The log itself.
    EventType(
        "audit.exported",
        "An auditor exported records of the log. The export's manifest is referenced here.",
        {
            "export_id": _key("string", "Id of the export.", required=True),
            "format": _key("string", "csv, jsonl or xlsx.", required=True),
            "filters": _key("object", "Filters applied."),
            "row_count": _key("integer", "Rows written."),
            "first_seq": _key("integer", "First sequence number exported."),
            "last_seq": _key("integer", "Last sequence number exported."),
            "file_sha256": _key("string", "SHA-256 of the file."),
            "pseudonymised": _key("boolean", "Actors replaced by keyed hashes."),
            "content_included": _key("boolean", "Prompt and output content included."),
            "status": _key("string", "done, aborted or failed."),
        },
    ),
    EventType(
        "audit.purged",
        "Expired, sealed blocks of records were deleted under the retention rule; their seals remain. "
        "The payload is signed with the audit key so a deletion cannot pass for a purge.",
        {
            "blocks": _key("array", "[[seal number, first seq, last seq], ...] deleted.", required=True),
            "cutoff": _key("string", "ISO time before which records had expired.", required=True),
            "signature": _key("string", "Ed25519 signature (base64) of the canonical 'blocks'.", required=True),
            "content_deleted": _key("integer", "Content items deleted."),
        },
    ),
    EventType(
        "audit.number_void",
        "Written by the sealer on PostgreSQL for a sequence number that has no record when it is sealed: "
        "its transaction rolled back, or its record was deleted before sealing (the database keeps nothing "
        "that tells the two apart). The sealed chain has no gaps, and audit_verify and the integrity banner "
        "name every such number. Its subject id is the number.",
        {"reason": _key("string", "no_record_when_sealed (rolled_back in records sealed before that wording).")},
    ),
    EventType(
        "audit.verified",
        "The whole log (or a range) was verified.",
        {
            "ok": _key("boolean", "Result.", required=True),
            "first_bad_seq": _key("integer", "First bad sequence number, if any."),
            "problem": _key("string", "What was wrong."),
            "records": _key("integer", "Records checked."),
            "seals": _key("integer", "Seals checked."),
            "missing": _key("integer", "Sealed numbers without a record (rolled back or deleted before sealing)."),
            "missing_numbers": _key("array", "The latest of those numbers."),
        },
    ),
    EventType(
        "audit.seal_refused",
        "The sealer found a record not yet sealed that fails its check (changed, swapped, missing or "
        "forged), sealed the records before it and stopped there. Written once per problem found; the "
        "integrity banner shows it while the record stays unsealed.",
        {
            "seq": _key("integer", "Sequence number of the bad record.", required=True),
            "kind": _key("string", "changed, reordered, deleted, inserted or forged.", required=True),
            "problem": _key("string", "What is wrong, in a sentence.", required=True),
        },
    ),
    EventType(
        "audit.legal_hold_set",
        "A legal hold was placed: records of the subject are not purged until it is released.",
        {"hold_id": _key("integer", "Id of the hold.", required=True), "reason": _key("string", "Why.")},
    ),
    EventType(
        "audit.legal_hold_released",
        "A legal hold was released.",
        {"hold_id": _key("integer", "Id of the hold.", required=True)},
    ),
)

EVENT_TYPES: dict[str, EventType] = {event.name: event for event in _CATALOGUE}
FAMILIES: frozenset[str] = frozenset(event.family for event in _CATALOGUE)


class PayloadError(ValueError):
    """The event type is unknown or the payload does not match its declared schema."""


def event_type_get(name: str) -> EventType:
    try:
        return EVENT_TYPES[name]
    except KeyError:
        raise PayloadError(f"unknown audit event type {name!r}; see audit.catalogue.EVENT_TYPES") from None


def payload_validate(event: EventType, payload: dict[str, Any]) -> None:
    """Raise ``PayloadError`` naming the first key that is missing or of the wrong type."""
    if not isinstance(payload, dict):
        raise PayloadError(f"{event.name}: payload must be a dict, not {type(payload).__name__}")
    for name, key in event.payload.items():
        if name not in payload or payload[name] is None:
            if key.required:
                raise PayloadError(f"{event.name}: payload key {name!r} is required ({key.description})")
            continue
        value = payload[name]
        accepted = _JSON_TYPES[key.type]
        if isinstance(value, bool) and key.type in ("integer", "number"):
            raise PayloadError(f"{event.name}: payload key {name!r} must be a {key.type}, not a boolean")
        if not isinstance(value, accepted):
            raise PayloadError(f"{event.name}: payload key {name!r} must be a {key.type}, not {type(value).__name__}")


_PI_KEYS: dict[str, frozenset[str]] = {
    event.name: frozenset(name for name, key in event.payload.items() if key.pi) for event in _CATALOGUE
}


def pi_keys_all() -> dict[str, frozenset[str]]:
    return dict(_PI_KEYS)


def pi_keys(event_type: str) -> frozenset[str]:
    """Payload keys that may hold personal information, for pseudonymised exports."""
    return _PI_KEYS.get(event_type, frozenset())
