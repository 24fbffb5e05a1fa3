"""The base of the filing's admin pages (``filing.admin`` and ``filing.safety``'s): the admin's own pages beyond
add, change and list, a History page that shows the record's audit history, and the seed field of the forms
that draw a random sample."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, QueryDict
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils.translation import gettext_lazy as _

from audit.selectors import subject_history
from genai_platform.admin_mixins import CleanTextAdminMixin
from genai_platform.roles import Role, user_has_role


class SeedField(forms.IntegerField):
    """The seed of a random sample: left empty for a new random one, or an earlier one to draw the same sample."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(label=_("seed"), required=False, min_value=0, max_value=2**31 - 1, **kwargs)


class FilingModelAdmin(CleanTextAdminMixin, admin.ModelAdmin):
    """The admin of a filing record. Its History page shows the record's audit history: every change, whether
    made in the admin, through a service or by a task, with who made it (Django's own admin log would show
    only the admin's)."""

    object_history_template = "admin/filing/audit_history.html"

    # The admin's own pages beyond add, change and list: name -> route below the model's admin URL. The page is
    # the method ``<name>_view``; its URL is named ``<app label>_<model name>_<name>``.
    own_pages: dict[str, str] = {}

    def get_urls(self) -> list[URLPattern]:
        opts = self.model._meta
        wrap = self.admin_site.admin_view
        return [
            *(
                path(route, wrap(getattr(self, f"{name}_view")), name=f"{opts.app_label}_{opts.model_name}_{name}")
                for name, route in self.own_pages.items()
            ),
            *super().get_urls(),
        ]

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        """An add form opened from a filtered list starts with the list's filters: "add" on a service's model
        records preselects that service."""
        initial: dict[str, Any] = super().get_changeform_initial_data(request)
        filters = QueryDict(request.GET.get("_changelist_filters", ""))
        fields = {
            field.name: field
            for field in self.model._meta.concrete_fields
            if field.editable and (field.is_relation or field.choices)
        }
        for lookup, value in filters.items():
            name = lookup.removesuffix("__exact").removesuffix("__id")
            if name in fields and name not in initial and value:
                initial[name] = value
        return initial

    def page_response(self, request: HttpRequest, template: str, title: Any, **context: Any) -> TemplateResponse:
        """One of the admin's own pages (they extend ``admin/filing/page.html``): the admin site's context, the
        model's options and the page's title, with ``context``."""
        return TemplateResponse(
            request,
            template,
            {**self.admin_site.each_context(request), "opts": self.model._meta, "title": title, **context},
        )

    def history_view(self, request: HttpRequest, object_id: str, extra_context: Any = None) -> HttpResponse:
        obj = self.get_object(request, object_id)
        if obj is None:
            redirect: HttpResponse = self._get_obj_does_not_exist_redirect(  # type: ignore[attr-defined]
                request, self.model._meta, object_id
            )
            return redirect
        if not self.has_view_or_change_permission(request, obj):
            raise PermissionDenied
        entries = subject_history(kind=obj._meta.label_lower, ident=str(obj.pk))
        context = {
            "title": _("History: %(object)s") % {"object": obj},
            "object": obj,
            "entries": [(entry, entry.payload_data) for entry in entries],
            "may_see_log": user_has_role(request.user, Role.AUDITOR),
            **(extra_context or {}),
        }
        return self.page_response(request, self.object_history_template, **context)
