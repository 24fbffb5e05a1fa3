"""Create the role groups. Their permissions are set again after every migrate (apps.py)."""

from django.db import migrations


def roles_create(apps, schema_editor):  # type: ignore[no-untyped-def]
    from genai_platform.roles import roles_sync

    roles_sync(apps=apps, using=schema_editor.connection.alias)


def roles_delete(apps, schema_editor):  # type: ignore[no-untyped-def]
    from genai_platform.roles import Role

    apps.get_model("auth", "Group").objects.filter(name__in=[r.value for r in Role]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("genai_platform", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(roles_create, roles_delete)]
