from django.db import migrations


def load(apps, schema_editor):
    from filing.safety.seed import risk_taxonomy_load, safety_thresholds_load

    using = schema_editor.connection.alias
    risk_taxonomy_load(apps=apps, using=using)
    safety_thresholds_load(apps=apps, using=using)


class Migration(migrations.Migration):
    dependencies = [
        ("filing", "0002_risk_taxonomy_safety_config"),
    ]

    operations = [
        migrations.RunPython(load, migrations.RunPython.noop),
    ]
