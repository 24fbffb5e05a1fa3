from typing import Any

from django.apps import AppConfig
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _


class FilingConfig(AppConfig):
    name = "filing"
    verbose_name = _("Filing")

    @property
    def admin_sections(self) -> list[tuple[Any, list[str]]]:
        """The admin's boxes of filing models, in the order of the filing (genai_platform.admin_site)."""
        from filing.admin.home import SECTIONS

        return SECTIONS

    def admin_home(self, request: HttpRequest) -> tuple[str, dict[str, Any]] | None:
        """The admin home's panel of what the filing still needs (genai_platform.admin_site)."""
        from filing.admin.home import filing_home

        return filing_home(request)

    def ready(self) -> None:
        from filing.history import signals_connect

        signals_connect()
