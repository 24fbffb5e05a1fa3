"""Jobs and outputs, and removing outputs found unlawful (incidents)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _

from filing.models import Incident
from genai_platform import admin_mixins
from genai_platform.hygiene import CleanTextFormMixin
from generation.admin.common import ReadOnlyAdminMixin, action_confirmation
from generation.models import (
    Job,
    Output,
)
from generation.services import outputs_remove


class OutputInline(admin_mixins.ReadOnlyAdminMixin, admin.TabularInline):
    model = Output
    extra = 0
    fields = ("index", "produce_id", "media", "file", "sha256")
    readonly_fields = fields


@admin.register(Job)
class JobAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("public_id", "user", "kind", "status", "attempts", "created_at", "finished_at")
    list_filter = ("kind", "status")
    search_fields = ("public_id", "user__username", "outputs__produce_id")
    list_select_related = ("user",)
    date_hierarchy = "created_at"
    inlines = (OutputInline,)


class RemoveForm(CleanTextFormMixin, forms.Form):
    reason = forms.CharField(
        label=_("Why the content is removed"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        help_text=_("The owners see this on their job page; it is recorded in the audit log."),
    )
    incident = forms.ModelChoiceField(
        label=_("Incident"), queryset=Incident.objects.order_by("-found_at"), required=False
    )


class IncidentOutputsFilter(admin.SimpleListFilter):
    """``?incident_outputs=<id>``: the outputs an incident lists by ProduceID (the incident page links here)."""

    title = _("outputs of an incident")
    parameter_name = "incident_outputs"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(str(i.pk), str(i)) for i in Incident.objects.exclude(produce_ids=[]).order_by("-found_at")[:20]]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Output]) -> QuerySet[Output]:
        value = self.value()
        if not value:
            return queryset
        incident = Incident.objects.filter(pk=value).first()
        return queryset.filter(produce_id__in=incident.produce_ids if incident else [])


@admin.register(Output)
class OutputAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("produce_id", "job", "index", "media", "created_at", "removed_at")
    list_filter = ("media", IncidentOutputsFilter, ("removed_at", admin.EmptyFieldListFilter))
    search_fields = ("produce_id", "job__public_id")
    list_select_related = ("job",)
    actions = ("remove",)

    @admin.action(
        description=_("Remove the selected outputs (they can no longer be viewed or downloaded)…"),
        permissions=["remove"],
    )
    def remove(self, request: HttpRequest, queryset: QuerySet[Output]) -> TemplateResponse | None:
        form = RemoveForm(request.POST if "reason" in request.POST else None)
        if form.is_valid():
            count = outputs_remove(
                outputs=list(queryset),
                reason=form.cleaned_data["reason"],
                actor=request.user,
                incident=form.cleaned_data["incident"],
                request=request,
            )
            self.message_user(request, _("%(n)d output(s) removed.") % {"n": count}, messages.WARNING)
            return None
        return action_confirmation(
            self,
            request,
            "admin/generation/output/remove.html",
            title=_("Remove outputs"),
            outputs=list(queryset[:200]),
            form=form,
        )

    def has_remove_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("generation.change_output")
