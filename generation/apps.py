from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GenerationConfig(AppConfig):
    name = "generation"
    verbose_name = _("Generation")

    def ready(self) -> None:
        # Registers the start-up check that a CJK font for the visible image label exists.
        from generation.labels import checks  # noqa: F401
