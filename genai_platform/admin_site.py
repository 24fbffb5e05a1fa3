"""The admin site: apps may lay out their part of the index as the work goes, and add panels to its home page.

The kernel knows no app. An app's ``AppConfig`` may define:

- ``admin_sections``: ``[(title, [model class name, ...]), ...]``. The app's models are listed in these
  sections, in this order, each section a box of its own titled "app · title"; models named in no section
  follow in a last box under the app's own name.
- ``admin_home(request)``: ``(template name, context)`` of a panel shown above the home page's list of apps, or
  ``None`` when the user has nothing to see there.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.contrib import admin
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _


def _sectioned(app: dict[str, Any], sections: list[tuple[Any, list[str]]]) -> list[dict[str, Any]]:
    models = {model["object_name"]: model for model in app["models"]}
    boxes = []
    for title, names in sections:
        listed = [models.pop(name) for name in names if name in models]
        if listed:
            boxes.append({**app, "name": f"{app['name']} · {title}", "models": listed})
    if models:
        boxes.append({**app, "models": list(models.values())})
    return boxes


class PlatformAdminSite(admin.AdminSite):
    index_template = "admin/platform_index.html"

    def get_app_list(self, request: HttpRequest, app_label: str | None = None) -> list[dict[str, Any]]:
        laid_out: list[dict[str, Any]] = []
        for app in super().get_app_list(request, app_label):
            sections = getattr(apps.get_app_config(app["app_label"]), "admin_sections", None)
            laid_out.extend(_sectioned(app, list(sections)) if sections else [app])
        return laid_out

    def app_index(self, request: HttpRequest, app_label: str, extra_context: dict[str, Any] | None = None) -> Any:
        # Titled by the app, not by its first section's box.
        name = apps.get_app_config(app_label).verbose_name
        title = _("%(app)s administration") % {"app": name}
        return super().app_index(request, app_label, {"title": title, **(extra_context or {})})

    def index(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> TemplateResponse:
        panels = []
        for config in apps.get_app_configs():
            home = getattr(config, "admin_home", None)
            panel = home(request) if callable(home) else None
            if panel is not None:
                panels.append({"template": panel[0], **panel[1]})
        return super().index(request, {**(extra_context or {}), "home_panels": panels})
