"""Incidents (应急处置): what was found, the measures, the fix, the report, and what they involved."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from filing.admin_base import FilingModelAdmin
from filing.history import acting_as
from filing.models import Incident


class _LinesField(forms.CharField):
    """A list of short strings typed one a line (ids of jobs, ProduceIDs, audit sequence numbers)."""

    def __init__(self, *, whole_numbers: bool = False, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("widget", forms.Textarea(attrs={"rows": 3, "cols": 70}))
        super().__init__(**kwargs)
        self.whole_numbers = whole_numbers

    def prepare_value(self, value: Any) -> Any:
        return "\n".join(str(v) for v in value) if isinstance(value, list) else value

    def to_python(self, value: Any) -> Any:
        lines = [line.strip() for line in str(value or "").replace(",", "\n").splitlines() if line.strip()]
        if self.whole_numbers:
            try:
                return [int(line) for line in lines]
            except ValueError as exc:
                raise forms.ValidationError(gettext("Give whole numbers, one a line.")) from exc
        return lines


class IncidentForm(forms.ModelForm):
    job_ids = _LinesField(label=_("jobs involved"), help_text=_("Job ids, one a line."))
    produce_ids = _LinesField(label=_("outputs involved"), help_text=_("ProduceIDs, one a line."))
    audit_seqs = _LinesField(
        whole_numbers=True, label=_("audit records involved"), help_text=_("Sequence numbers, one a line.")
    )

    class Meta:
        model = Incident
        fields = (
            "service",
            "title",
            "description",
            "found_at",
            "status",
            "stopped_generation",
            "stopped_transmission",
            "removed_content",
            "measures_note",
            "fix",
            "fix_note",
            "reported_to",
            "reported_at",
            "job_ids",
            "produce_ids",
            "audit_seqs",
            "complaints",
        )


@admin.register(Incident)
class IncidentAdmin(FilingModelAdmin):
    """Incidents: what was found, the measures, the fix and the report, linked to what they involved."""

    form = IncidentForm
    list_display = ("__str__", "service", "found_at", "status", "fix", "reported_to", "reported_at")
    list_filter = ("status", "fix", "service")
    search_fields = ("title", "description", "produce_ids", "job_ids")
    filter_horizontal = ("complaints",)
    readonly_fields = ("created_by", "created_at", "updated_at", "outputs_link")
    fieldsets = (
        (None, {"fields": ("service", "title", "description", "found_at", "status")}),
        (
            _("Measures"),
            {
                "fields": ("stopped_generation", "stopped_transmission", "removed_content", "measures_note"),
                "description": _(
                    "Stop generation with the actions of the service or model record list; remove content with "
                    "the action of the output list (Generation → Outputs), naming this incident."
                ),
            },
        ),
        (_("Fix"), {"fields": ("fix", "fix_note")}),
        (_("Report"), {"fields": ("reported_to", "reported_at")}),
        (_("Involved"), {"fields": ("job_ids", "produce_ids", "outputs_link", "audit_seqs", "complaints")}),
        (_("Record"), {"fields": ("created_by", "created_at", "updated_at"), "classes": ("collapse",)}),
    )

    def save_model(self, request: HttpRequest, obj: Incident, form: Any, change: bool) -> None:
        if not change:
            obj.created_by = request.user.get_username()
        with acting_as(request.user, request=request):
            super().save_model(request, obj, form, change)

    @admin.display(description=_("remove them"))
    def outputs_link(self, obj: Incident) -> str:
        if not obj.pk or not obj.produce_ids:
            return "—"
        url = reverse("admin:generation_output_changelist") + f"?incident_outputs={obj.pk}"
        return format_html('<a href="{}">{}</a>', url, gettext("Open these outputs in the output list"))
