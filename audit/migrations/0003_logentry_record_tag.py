"""Every record carries a keyed tag (HMAC of its number and record hash) from the moment it is written.

Records already sealed are left without a tag: their seal covers them, and the tag is only checked
on records not yet sealed. The records not yet sealed when this migration runs (at most the last
sealing interval's worth) are tagged here, with the triggers held off for the one statement each.
Leaving them untagged and accepting "no tag" for old records would let anyone blank a tag to pass a
changed record off as old; tagging them trusts them exactly as far as the sealer trusted them before.
A record whose columns no longer match its hash still fails that check after being tagged.

Stop the web and worker processes while it runs: a record written by the old code after it gets
no tag, and the sealer refuses it.
"""

import base64
import hashlib
import hmac

from django.conf import settings
from django.db import migrations, models

# Restated from ``audit.integrity.record_tag`` (v1), so that this migration keeps its meaning.
_TAG_PREFIX = b"genai-platform audit record tag v1\n"

_ADD = "ALTER TABLE audit_logentry ADD COLUMN record_tag varchar(64) NOT NULL DEFAULT ''"

_UNSEALED = "SELECT seq, record_hash FROM audit_logentry WHERE seq > (SELECT coalesce(max(last_seq), 0) FROM audit_seal)"


def _tag(key: bytes, seq: int, record_hash: str) -> str:
    return hmac.new(key, _TAG_PREFIX + b"%d\n%s" % (seq, record_hash.encode()), hashlib.sha256).hexdigest()


def _tag_unsealed(cursor, vendor: str) -> None:
    cursor.execute(_UNSEALED)
    rows = cursor.fetchall()
    if not rows:
        return
    key = base64.b64decode(settings.AUDIT_TAG_KEY)
    if vendor == "postgresql":
        cursor.execute("ALTER TABLE audit_logentry DISABLE TRIGGER audit_logentry_append_only")
        saved = []
    else:
        cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name = 'audit_logentry_no_update'")
        saved = cursor.fetchall()
        for name, _sql in saved:
            cursor.execute(f'DROP TRIGGER "{name}"')
    for seq, record_hash in rows:
        cursor.execute(
            "UPDATE audit_logentry SET record_tag = %s WHERE seq = %s", [_tag(key, seq, record_hash or ""), seq]
        )
    if vendor == "postgresql":
        cursor.execute("ALTER TABLE audit_logentry ENABLE TRIGGER audit_logentry_append_only")
    for _name, sql in saved:
        cursor.execute(sql)


def forward(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(_ADD)
        _tag_unsealed(cursor, schema_editor.connection.vendor)


def backward(apps, schema_editor):
    schema_editor.execute("ALTER TABLE audit_logentry DROP COLUMN record_tag", params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0002_postgresql_sequence"),
    ]

    operations = [
        # The model is unmanaged: the field is added to Django's state here and to the table below.
        migrations.AddField(
            model_name="logentry",
            name="record_tag",
            field=models.CharField(blank=True, max_length=64, verbose_name="record tag"),
        ),
        migrations.RunPython(forward, backward),
    ]
