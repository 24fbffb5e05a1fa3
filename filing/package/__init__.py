"""The filing package of a service: a zip of the application form (with the commitment page), 附件1 to 附件7
numbered as the filing lists them, the test channel description, the dataset provenance table and a manifest
with the SHA-256 of every file, what is missing, what is synthetic, and the readiness items still open.

The zip is reproducible: built twice from the same records it has the same bytes, apart from
``generated_at`` in the manifest. Entry dates are fixed and the Office files inside are
normalised (fixed entry dates, fixed document properties).

By part: ``office`` (the reproducible zip, Word and Excel files, draft marks), ``parts`` (an attachment, its
files and what it lacks), ``documents`` (the application form, the self-assessment report, the service agreement
and privacy policy, the annotation rules, the test channel), ``sheets`` (the keyword list, the test questions,
the evidence index, the dataset provenance table) and ``build`` (the whole package and its manifest).
"""

from filing.package.build import (
    AGREEMENT_NAME,
    ANNOTATION_NAME,
    DATASETS_NAME,
    DRAFT_MARK,
    EVIDENCE_NAME,
    FORM_NAME,
    KEYWORDS_NAME,
    MANIFEST_NAME,
    QUESTIONS_NAME,
    REPORT_NAME,
    TEST_CHANNEL_NAME,
    Progress,
    package_build,
    package_open_items,
)
from filing.package.sheets import QUESTION_COLUMNS

__all__ = [
    "AGREEMENT_NAME",
    "ANNOTATION_NAME",
    "DATASETS_NAME",
    "DRAFT_MARK",
    "EVIDENCE_NAME",
    "FORM_NAME",
    "KEYWORDS_NAME",
    "MANIFEST_NAME",
    "QUESTIONS_NAME",
    "QUESTION_COLUMNS",
    "REPORT_NAME",
    "TEST_CHANNEL_NAME",
    "Progress",
    "package_build",
    "package_open_items",
]
