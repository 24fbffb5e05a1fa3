"""Event types of generation: each step of a request, checkpoints that serve, training runs, labels."""

from __future__ import annotations

from audit.catalogue.schema import EventType, payload_key

# The job's id: required once the job exists, optional on a refusal (which may come before there is one).
_JOB_ID = payload_key("string", "Id of the generation job.", required=True)
_JOB = payload_key("string", "Id of the generation job.")
_KIND = payload_key("string", "What is generated: gan, vae or text.")
_RUN_ID = payload_key("integer", "Id of the training run.", required=True)
_LATENCY = payload_key("number", "Time from queued to finished, milliseconds.")
_FIGURES = payload_key("object", "The figures the gate judged.")

GENERATION_EVENTS: tuple[EventType, ...] = (
    # Generation: one record per step of a request, from the policy gate to the output.
    EventType(
        "generation.requested",
        "A generation request passed the policy gate and input moderation and was queued.",
        {
            "job_id": _JOB_ID,
            "kind": _KIND,
            "params": payload_key("object", "Sampling parameters (seed, count, length, ...)."),
        },
    ),
    EventType(
        "generation.refused",
        "A request was refused before generation: policy gate (service state, model record, suspended "
        "user, quota) or input moderation. ``decision`` is 'refused' and ``risk_codes`` the categories hit.",
        {
            "job_id": _JOB,
            "kind": _KIND,
            "reason": payload_key("string", "Why, as shown to the user.", required=True),
            "stage": payload_key("string", "policy or input_moderation."),
            "reason_code": payload_key(
                "string",
                "Why, as a code: content (the content checks refused the input; the only refusals refusal "
                "rates count), net_not_ready, model_not_approved, service_not_open, stopped or busy (the generator "
                "could not serve; busy: its job queue was full), or an account or quota reason (over_quota, "
                "not_a_tester, terms_not_accepted, user_suspended, phone_not_verified, minor mode codes). Absent on "
                "records written before it was.",
            ),
            "matched_terms": payload_key("array", "Keyword library entries hit (ids or terms)."),
            "layers": payload_key("object", "Input moderation: each layer's own decision (keyword, classifier)."),
            "scores": payload_key(
                "array", "Input moderation: the classifier's scores, thresholds and version (model)."
            ),
        },
    ),
    EventType(
        "generation.succeeded",
        "A job finished; its outputs were labelled and stored. ``output_sha256`` is the digest of the output.",
        {
            "job_id": _JOB_ID,
            "kind": _KIND,
            "output_ids": payload_key("array", "Ids of the stored outputs."),
            "latency_ms": _LATENCY,
            "label": payload_key("object", "Explicit and implicit label written (Labeling Measures)."),
        },
    ),
    EventType(
        "generation.output_blocked",
        "Output moderation blocked a generated output; nothing was delivered.",
        {
            "job_id": _JOB_ID,
            "kind": _KIND,
            "matched_terms": payload_key("array", "Keyword library entries hit."),
            "latency_ms": _LATENCY,
            "layers": payload_key("object", "Each moderation layer's own decision (keyword, classifier)."),
            "scores": payload_key("array", "The classifier's scores, thresholds and version (model)."),
        },
    ),
    EventType(
        "generation.failed",
        "A job failed; nothing was delivered.",
        {
            "job_id": _JOB_ID,
            "kind": _KIND,
            "reason": payload_key("string", "The failure, in one line.", required=True),
            "latency_ms": payload_key("number", "Time from queued to failed, milliseconds."),
        },
    ),
    EventType(
        "generation.output_downloaded",
        "An output was downloaded; ``payload.labelled`` false records an unlabelled export (Labeling Art 9).",
        {
            "output_id": payload_key("string", "Id of the output.", required=True),
            "labelled": payload_key("boolean", "Whether the delivered file carried the labels."),
            "purpose": payload_key("string", "Purpose declared for an unlabelled export."),
            "agreement_version": payload_key("string", "User agreement version accepted."),
        },
    ),
    EventType(
        "generation.checkpoint_served",
        "A checkpoint started serving its net to end users. ``subject`` is the checkpoint.",
        {
            "kind": _KIND,
            "by": payload_key(
                "string",
                "Who decided: training (a run that passed the gate and beat the one serving), "
                "admin, or bundled (the weights shipped with the software).",
                required=True,
            ),
            "gate": payload_key("string", "The quality gate's verdict: passed, failed or unmeasured.", required=True),
            "overridden": payload_key("boolean", "Whether an operator overrode the gate for it."),
            "replaced": payload_key("array", "SHA-256 of the checkpoint(s) it replaced."),
            "figures": _FIGURES,
        },
    ),
    EventType(
        "generation.quality_gate_overridden",
        "An operator let a checkpoint that did not pass the quality gate serve, with a written reason.",
        {
            "kind": _KIND,
            "reason": payload_key("string", "The operator's reason.", required=True),
            "gate": payload_key("string", "The gate's verdict that was overridden.", required=True),
            "failing": payload_key("array", "The figures that failed."),
            "figures": _FIGURES,
        },
    ),
    # Training runs: what an operator starts or stops, and runs the platform's stopping cut short.
    EventType(
        "generation.training_started",
        "An operator started a training run (in the admin or with manage.py train). ``subject`` is the run.",
        {
            "run_id": _RUN_ID,
            "kind": _KIND,
            "origin": payload_key("string", "admin or terminal (manage.py train).", required=True),
            "data": payload_key("string", "The training data asked for."),
            "seed": payload_key("integer", "Random seed."),
            "epochs": payload_key("integer", "Epochs asked for, if any."),
            "minutes": payload_key("number", "Time budget in minutes, if any."),
            "model_record": payload_key("string", "Model record the checkpoint would serve under, if named."),
            "serve_if_better": payload_key("boolean", "Whether its checkpoint may take over serving on its own."),
        },
    ),
    EventType(
        "generation.training_cancelled",
        "An operator cancelled a training run: a queued one at once, a running one at its next check (it keeps "
        "its best epoch as an unmeasured checkpoint, which never serves on its own). ``subject`` is the run.",
        {
            "run_id": _RUN_ID,
            "kind": _KIND,
            "status": payload_key("string", "The run's status when cancelled: queued or running.", required=True),
        },
    ),
    EventType(
        "generation.training_interrupted",
        "A training run ended as interrupted because the platform stopped: its worker shut down or was lost, "
        "or Ctrl-C in manage.py train. ``subject`` is the run.",
        {
            "run_id": _RUN_ID,
            "kind": _KIND,
            "how": payload_key(
                "string",
                "worker_shutdown (warm shutdown), worker_lost (found orphaned when the worker came back), "
                "ctrl_c (manage.py train) or ctrl_c_twice (stopped at once).",
                required=True,
            ),
            "checkpoint_kept": payload_key(
                "boolean", "Whether its best epoch was kept as a checkpoint.", required=True
            ),
        },
    ),
    # Labels.
    EventType(
        "label.verified",
        "The implicit label of a file was checked (by an end user, operator or outside party).",
        {
            "valid": payload_key("boolean", "Whether the signature verified.", required=True),
            "file_sha256": payload_key("string", "SHA-256 of the file checked."),
            "reason": payload_key("string", "Why the check failed, if it did."),
        },
    ),
)
