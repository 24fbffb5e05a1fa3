from typing import Any

from django.apps import AppConfig, apps
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _

# The migration that creates the role groups.
ROLES_MIGRATION = "0002_roles"


class GenaiPlatformConfig(AppConfig):
    name = "genai_platform"
    verbose_name = _("Platform")

    def ready(self) -> None:
        post_migrate.connect(_roles_sync_after_migrate, dispatch_uid="genai_platform.roles_sync")


def _roles_sync_after_migrate(sender: AppConfig, using: str = "default", plan: Any = None, **kwargs: object) -> None:
    # post_migrate is sent once per app with models, after every migration has run. The role
    # permissions span all apps, so sync once, on this app's signal, creating every app's
    # permissions first (Django would create the later apps' only on their own signals).
    if sender.name != GenaiPlatformConfig.name:
        return
    from django.contrib.auth.management import create_permissions

    from genai_platform.roles import roles_sync

    for app_config in apps.get_app_configs():
        create_permissions(app_config, verbosity=0, using=using)
    # A migrate that made the roles (a new installation) gives them the release's permissions: no change to
    # record, though the migration that made them saw only the permissions of the apps migrated before it.
    installing = any(
        migration.app_label == GenaiPlatformConfig.name and migration.name == ROLES_MIGRATION
        for migration, backwards in plan or ()
        if not backwards
    )
    roles_sync(using=using, record=not installing)
