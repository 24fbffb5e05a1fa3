from django.apps import AppConfig, apps
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class GenaiPlatformConfig(AppConfig):
    name = "genai_platform"
    verbose_name = _("Platform")

    def ready(self) -> None:
        post_migrate.connect(_roles_sync_after_migrate, dispatch_uid="genai_platform.roles_sync")


def _roles_sync_after_migrate(sender: AppConfig, using: str = "default", **kwargs: object) -> None:
    # post_migrate is sent once per app; the role permissions span all apps, so sync once, after
    # the last app, when every app's permissions exist.
    if sender.label != list(apps.get_app_configs())[-1].label:
        return
    from django.contrib.auth.management import create_permissions

    from genai_platform.roles import roles_sync

    for app_config in apps.get_app_configs():
        create_permissions(app_config, verbosity=0, using=using)
    roles_sync(using=using)
