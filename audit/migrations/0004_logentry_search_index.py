"""PostgreSQL: a trigram index for the auditors' search over subjects and payloads.

The indexed text is ``audit_search_text(subject_repr, payload)``: the subject, a space and the payload's
JSON text as stored (its values, and its keys). It parses nothing, so no stored value, however garbled,
can make an insert fail on the index. Trigrams work on Chinese as on English when the database's
LC_CTYPE knows CJK letters (C.UTF-8 or any *.UTF-8 locale does; plain C does not, and the index then
only narrows Latin text).

Built CONCURRENTLY, outside a transaction, so a large log keeps taking records while it builds.
SQLite has no such index: the search there reads the records of the range (``LogEntryQuerySet.matching``).
"""

from django.db import migrations

_FORWARD = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    # SQL, so that the planner inlines it and parallel workers may run it.
    """
    CREATE OR REPLACE FUNCTION audit_search_text(subject text, payload text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT subject || ' ' || payload $$
    """,
    "CREATE INDEX CONCURRENTLY IF NOT EXISTS audit_logentry_search ON audit_logentry "
    "USING gin (audit_search_text(subject_repr, payload) gin_trgm_ops)",
]

_BACKWARD = [
    "DROP INDEX CONCURRENTLY IF EXISTS audit_logentry_search",
    "DROP FUNCTION IF EXISTS audit_search_text(text, text)",
]


def _run(schema_editor, statements):
    if schema_editor.connection.vendor != "postgresql":
        return
    for statement in statements:
        schema_editor.execute(statement, params=None)


def forward(apps, schema_editor):
    _run(schema_editor, _FORWARD)


def backward(apps, schema_editor):
    _run(schema_editor, _BACKWARD)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("audit", "0003_logentry_record_tag"),
    ]

    operations = [migrations.RunPython(forward, backward)]
