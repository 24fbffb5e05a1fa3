from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FilingConfig(AppConfig):
    name = "filing"
    verbose_name = _("Filing")

    def ready(self) -> None:
        from filing.history import signals_connect

        signals_connect()
