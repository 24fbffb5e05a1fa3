"""PostgreSQL: sequence numbers come from a sequence instead of the counter row.

The counter row ordered writers by its lock, held until commit, so on PostgreSQL every audited
transaction committed (and flushed its WAL) one after the other. A sequence lets writers commit
together; a number given to a transaction that rolls back is sealed as an ``audit.number_void``
record by the sealer, so the sealed chain stays without gaps. SQLite keeps the counter row: its
writers are serialised by the database anyway.
"""

from django.db import migrations

_FORWARD = [
    "CREATE SEQUENCE audit_logentry_seq AS bigint MINVALUE 1 NO CYCLE",
    # Carry on from the counter: setval(n, true) makes the next nextval() return n + 1.
    "SELECT setval('audit_logentry_seq', GREATEST(last_seq, 1), last_seq > 0) FROM audit_sequence",
    "DROP TABLE audit_sequence",
    "DROP FUNCTION audit_sequence_forward()",
]

_BACKWARD = [
    "CREATE TABLE audit_sequence (id smallint PRIMARY KEY CHECK (id = 1), last_seq bigint NOT NULL)",
    "INSERT INTO audit_sequence (id, last_seq) "
    "SELECT 1, CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM audit_logentry_seq",
    """
    CREATE FUNCTION audit_sequence_forward() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP <> 'UPDATE' OR NEW.id <> OLD.id OR NEW.last_seq <> OLD.last_seq + 1 THEN
            RAISE EXCEPTION 'audit sequence only moves forward by one' USING ERRCODE = 'insufficient_privilege';
        END IF;
        RETURN NEW;
    END;
    $$
    """,
    "CREATE TRIGGER audit_sequence_forward BEFORE UPDATE OR DELETE ON audit_sequence "
    "FOR EACH ROW EXECUTE FUNCTION audit_sequence_forward()",
    "CREATE TRIGGER audit_sequence_no_truncate BEFORE TRUNCATE ON audit_sequence "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change()",
    "DROP SEQUENCE audit_logentry_seq",
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
    dependencies = [
        ("audit", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(forward, backward),
    ]
