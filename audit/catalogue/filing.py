"""Event types of the filing's records, complaints and reports, and emergency stops and incidents."""

from __future__ import annotations

from audit.catalogue.schema import CHANGE_ACTION, EventType, payload_key

_SCOPE = payload_key("string", "service or model.", required=True)
_OPERATOR_REASON = payload_key("string", "Why, as the operator wrote it.", required=True)
_CHANGES = payload_key("object", "Fields the action changed: {field: [old, new]}.", pi=True)
_LAST_CHANGED_BY = payload_key(
    "string",
    "User name of the person who last changed the record before this step (never the actor while four eyes is "
    "on); empty when no person had changed it.",
    required=True,
    pi=True,
)

FILING_EVENTS: tuple[EventType, ...] = (
    # Filing: the records operators keep for the service filing.
    EventType(
        "filing.changed",
        "A filing record (provider, service, model record, dataset, keyword library, ...) was created, "
        "changed or deleted. ``subject`` names the record.",
        {
            "action": CHANGE_ACTION,
            "changes": payload_key("object", "Changed fields: {field: [old, new]}."),
        },
    ),
    # Four eyes (GENAI_FILING_FOUR_EYES): each sign-off needs a person other than the one who last changed the record.
    EventType(
        "filing.model_record_approved",
        "A model record was approved, so its checkpoints may serve. ``subject`` is the model record; the actor "
        "approved it.",
        {
            "last_changed_by": _LAST_CHANGED_BY,
            "changes": _CHANGES,
        },
    ),
    EventType(
        "filing.assessment_finalised",
        "A security self-assessment was finalised. ``subject`` is the self-assessment; the actor finalised it.",
        {
            "last_changed_by": _LAST_CHANGED_BY,
            "changes": _CHANGES,
        },
    ),
    EventType(
        "filing.service_submitted",
        "A service's filing was submitted to the regulator. ``subject`` is the service; the actor submitted it.",
        {
            "from_status": payload_key("string", "The service's status before (self_assessed).", required=True),
            "last_changed_by": _LAST_CHANGED_BY,
            "changes": _CHANGES,
        },
    ),
    EventType(
        "filing.four_eyes_refused",
        "A sign-off was refused because the actor was the person who last changed the record (four eyes). "
        "``subject`` is the record; nothing was changed.",
        {
            "step": payload_key(
                "string",
                "approve (a model record), finalise (a self-assessment) or submit (a service's filing).",
                required=True,
            ),
            "last_changed_by": payload_key(
                "string", "User name of the person who last changed the record: the actor.", required=True, pi=True
            ),
        },
    ),
    EventType(
        "filing.exported",
        "The filing package was exported.",
        {
            "file_sha256": payload_key("string", "SHA-256 of the exported package."),
            "items": payload_key("integer", "Number of items in the package."),
        },
    ),
    # Complaints and reports (Interim Measures Art 15).
    EventType(
        "complaint.received",
        "A complaint or report was received. ``subject`` is the complaint; ``produce_id`` the output, if any.",
        {
            "category": payload_key("string", "What it is about."),
            "channel": payload_key("string", "web, api, email, phone, ..."),
            "due_at": payload_key("string", "ISO time the answer is due (absent on records written before it was)."),
        },
    ),
    EventType(
        "complaint.updated",
        "A complaint changed state, was assigned or edited (one record per action).",
        {
            "status": payload_key("string", "New state.", required=True),
            "note": payload_key("string", "Handler's note."),
            "changes": _CHANGES,
        },
    ),
    EventType(
        "complaint.resolved",
        "A complaint was closed with an action.",
        {
            "action": payload_key("string", "Action taken (removed, warned, suspended, none, ...).", required=True),
            "reported_to_authority": payload_key("boolean", "Whether it was reported to the authority."),
            "changes": _CHANGES,
        },
    ),
    # Emergency stops and incidents (应急处置).
    EventType(
        "incident.generation_stopped",
        "An operator stopped generation for a service or one model at once. ``subject`` is the service or model "
        "record.",
        {
            "scope": _SCOPE,
            "reason": _OPERATOR_REASON,
        },
    ),
    EventType(
        "incident.generation_resumed",
        "An operator let a stopped service or model generate again. ``subject`` is the service or model record.",
        {
            "scope": _SCOPE,
            "note": payload_key("string", "Why it may generate again."),
        },
    ),
    EventType(
        "incident.content_removed",
        "An output was removed: no longer viewable or downloadable. ``subject`` is the output, ``produce_id`` its "
        "ProduceID.",
        {
            "reason": _OPERATOR_REASON,
            "incident_id": payload_key("integer", "The incident it belongs to, if any."),
        },
    ),
)
