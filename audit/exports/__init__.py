"""Exports of the audit log as CSV, JSONL or XLSX, with a signed manifest.

Rows are read in windows of sequence numbers and written as they come, so memory stays flat
whatever the size. On PostgreSQL a CSV export without content is written by the database itself
(COPY, keyed hashes for pseudonyms computed in SQL) in one snapshot. XLSX is written row by
row with inline strings, so it stays flat too. The manifest beside each file names the filters,
row count, first and last sequence number, the seals covering them, the SHA-256 of the file, and
is signed with the audit key. ``audit/standalone/verify_export.py`` checks a file against its
manifest outside the platform.

Column sets
    full: ``seq``, the record columns (``audit.integrity.RECORD_FIELDS``) and ``record_hash``,
    so each row's hash can be recomputed; with content, ``input_content`` and ``output_content``.
    pseudonymised: actor and source address replaced by keyed hashes (``services.pseudonym``),
    user agent, subject text and record hash left out, personal payload keys replaced.

By concern: ``formats`` (columns and the writers of each format), ``database`` (PostgreSQL COPY), ``lifecycle``
(creating, writing and running an export, and its manifest).
"""

from audit.exports.formats import (
    CONTENT_COLUMNS,
    CONTENT_TYPES,
    EXTENSIONS,
    FULL_COLUMNS,
    PROGRESS_EVERY,
    PSEUDONYMISED_COLUMNS,
    ExportResult,
    columns_for,
    xlsx_escape,
)
from audit.exports.lifecycle import (
    export_create,
    export_file_name,
    export_run,
    export_start,
    export_storage_names,
    export_stream,
    export_write_file,
    manifest_build,
)

__all__ = [
    "CONTENT_COLUMNS",
    "CONTENT_TYPES",
    "EXTENSIONS",
    "ExportResult",
    "FULL_COLUMNS",
    "PROGRESS_EVERY",
    "PSEUDONYMISED_COLUMNS",
    "columns_for",
    "export_create",
    "export_file_name",
    "export_run",
    "export_start",
    "export_storage_names",
    "export_stream",
    "export_write_file",
    "manifest_build",
    "xlsx_escape",
]
