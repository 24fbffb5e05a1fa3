"""Writes to filing records.

Every function that changes a record takes ``actor`` (the user acting, or ``None`` for the
platform) and runs under ``acting_as(actor)``, so the change history names who acted even
outside a request. Refusals raise ``FilingError`` with a message meant for the operator.

By topic: ``providers`` (providers, services, the workflow, documents, the emergency stop), ``model_records``,
``datasets`` (records, links, exemptions and source safety checks), ``corpus`` (the technical sample of a whole
corpus), ``corpus_review`` (the manual sample of a whole corpus), ``assessments`` (the self-assessment),
``annotation`` (annotation rules, annotators, tasks and spot checks), ``complaints``, and ``four_eyes`` (the
sign-off steps need a person other than the one who last changed the record).
"""

from filing.services.annotation import (
    annotation_rule_create,
    annotation_rule_links,
    annotation_rule_links_check,
    annotation_rule_links_record,
    annotation_task_create,
    annotator_create,
    spot_check_record,
)
from filing.services.assessments import (
    MEASURED_FIELDS,
    METRIC_FIELDS,
    assessment_create,
    assessment_finalise,
    assessment_metrics_record,
    assessment_problems,
    self_assessment_sources_set,
)
from filing.services.common import FilingError, actor_name, ratio
from filing.services.complaints import (
    complaint_create,
    complaint_received_record,
    complaint_resolve,
    complaint_status_record,
    complaint_take_on,
)
from filing.services.corpus import (
    corpus_check_create,
    corpus_check_execute,
    corpus_check_runner_register,
)
from filing.services.corpus_review import (
    corpus_review_finish,
    corpus_review_start,
    corpus_review_verdicts_record,
)
from filing.services.datasets import (
    VerdictInput,
    dataset_check_exempt,
    dataset_check_exemption_withdraw,
    dataset_item_reader_register,
    dataset_item_screener_register,
    dataset_items_screen,
    dataset_links_set,
    dataset_register,
    safety_check_finish,
    safety_check_start,
    safety_check_verdicts_record,
    sample_indices,
    source_sample_size_min,
)
from filing.services.four_eyes import (
    four_eyes_check,
    four_eyes_refusal,
    record_changed_by,
    record_changed_by_save,
)
from filing.services.model_records import (
    model_record_approve,
    model_record_code_change_withdraws_approval,
    model_record_reject,
)
from filing.services.providers import (
    FILING_NUMBER_PATTERNS,
    PUBLISHABLE_DOCUMENTS,
    TRANSITIONS,
    S,
    document_publish,
    filing_number_warning,
    generation_resume,
    generation_stop,
    provider_create,
    service_change_start,
    service_create,
    service_deregister,
    service_make_public,
    service_record_filed,
    service_record_returned,
    service_self_assess,
    service_submit,
    service_testers_recorded,
)

__all__ = [
    "FILING_NUMBER_PATTERNS",
    "FilingError",
    "MEASURED_FIELDS",
    "METRIC_FIELDS",
    "PUBLISHABLE_DOCUMENTS",
    "S",
    "TRANSITIONS",
    "VerdictInput",
    "actor_name",
    "annotation_rule_create",
    "annotation_rule_links",
    "annotation_rule_links_check",
    "annotation_rule_links_record",
    "annotation_task_create",
    "annotator_create",
    "assessment_create",
    "assessment_finalise",
    "assessment_metrics_record",
    "assessment_problems",
    "self_assessment_sources_set",
    "complaint_create",
    "complaint_received_record",
    "complaint_resolve",
    "complaint_status_record",
    "complaint_take_on",
    "corpus_check_create",
    "corpus_check_execute",
    "corpus_check_runner_register",
    "corpus_review_finish",
    "corpus_review_start",
    "corpus_review_verdicts_record",
    "dataset_check_exempt",
    "dataset_check_exemption_withdraw",
    "dataset_item_reader_register",
    "dataset_item_screener_register",
    "dataset_items_screen",
    "dataset_links_set",
    "dataset_register",
    "document_publish",
    "filing_number_warning",
    "four_eyes_check",
    "four_eyes_refusal",
    "generation_resume",
    "generation_stop",
    "model_record_approve",
    "model_record_code_change_withdraws_approval",
    "model_record_reject",
    "provider_create",
    "ratio",
    "record_changed_by",
    "record_changed_by_save",
    "safety_check_finish",
    "safety_check_start",
    "safety_check_verdicts_record",
    "sample_indices",
    "service_change_start",
    "service_create",
    "service_deregister",
    "service_make_public",
    "service_record_filed",
    "service_record_returned",
    "service_self_assess",
    "service_submit",
    "service_testers_recorded",
    "source_sample_size_min",
    "spot_check_record",
]
