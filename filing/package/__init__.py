"""The filing package of a service: a zip of the application form, the self-assessment report,
the keyword list, the test questions, the dataset provenance table, the stored documents and a
manifest with the SHA-256 of every file.

The zip is reproducible: built twice from the same records it has the same bytes, apart from
``generated_at`` in the manifest. Entry dates are fixed and the Office files inside are
normalised (fixed entry dates, fixed document properties).

By part: ``office`` (the reproducible zip, Word and Excel files), ``documents`` (the application form and the
self-assessment report), ``sheets`` (the keyword list, the test questions, the dataset provenance table) and
``build`` (the whole package and its manifest).
"""

from filing.package.build import (
    DATASETS_NAME,
    FORM_NAME,
    KEYWORDS_NAME,
    QUESTIONS_NAME,
    REPORT_NAME,
    Progress,
    package_build,
)
from filing.package.sheets import QUESTION_COLUMNS

__all__ = [
    "DATASETS_NAME",
    "FORM_NAME",
    "KEYWORDS_NAME",
    "QUESTIONS_NAME",
    "QUESTION_COLUMNS",
    "REPORT_NAME",
    "Progress",
    "package_build",
]
