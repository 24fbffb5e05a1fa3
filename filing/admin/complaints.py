"""Complaints and reports, and personal-information requests in a queue of their own."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from filing import services
from filing.admin.common import ReasonActionForm, download_link, each_selected, file_download
from filing.admin_base import FilingModelAdmin
from filing.history import history_collected
from filing.models import Complaint, PersonalInformationRequest


class OverdueFilter(admin.SimpleListFilter):
    title = _("answer")
    parameter_name = "overdue"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("yes", _("overdue")), ("no", _("on time"))]

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:
        open_statuses = (Complaint.Status.RECEIVED, Complaint.Status.IN_PROGRESS)
        if self.value() == "yes":
            return queryset.filter(status__in=open_statuses, due_at__lt=timezone.now())
        if self.value() == "no":
            return queryset.exclude(status__in=open_statuses, due_at__lt=timezone.now())
        return queryset


class ComplaintAdminForm(forms.ModelForm):
    """Closing a complaint in its form needs the answer, and a closed complaint stays closed."""

    class Meta:
        model = Complaint
        # What the admin's fieldsets show and may change.
        fields = (
            "service",
            "channel",
            "category",
            "pi_request",
            "complainant",
            "contact",
            "produce_id",
            "details",
            "status",
            "handler",
            "received_at",
            "resolution",
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not self.instance.pk or "status" not in self.changed_data:
            return data
        closing = data.get("status") in (Complaint.Status.RESOLVED, Complaint.Status.REJECTED)
        if not self.instance.is_open:
            self.add_error("status", _("This complaint is already closed; it cannot be reopened or changed."))
        elif closing and not (data.get("resolution") or "").strip():
            self.add_error("resolution", _("Describe how the complaint was resolved (or why it is rejected)."))
        return data


@admin.register(Complaint)
class ComplaintAdmin(FilingModelAdmin):
    """Complaints and reports; personal-information requests have a queue of their own."""

    form = ComplaintAdminForm

    list_display = ("number", "received_at", "channel", "category", "produce_id", "status", "due_shown", "handler")
    list_filter = (OverdueFilter, "status", "channel", "category", "service")
    search_fields = ("produce_id", "complainant", "contact", "details", "resolution")
    date_hierarchy = "received_at"
    readonly_fields = ("number", "due_at", "resolved_at", "user_id", "attachment_link")
    action_form = ReasonActionForm
    actions = ("take_on", "resolve", "reject")
    own_pages = {"attachment": "<int:pk>/attachment/"}
    fieldsets = (
        (
            None,
            {
                "fields": (
                    ("number", "service"),
                    ("channel", "category", "pi_request"),
                    ("complainant", "contact"),
                    "user_id",
                    "produce_id",
                    "attachment_link",
                    "details",
                )
            },
        ),
        (_("Handling"), {"fields": (("status", "handler"), ("received_at", "due_at"), "resolution", "resolved_at")}),
    )

    def get_queryset(self, request: HttpRequest) -> Any:
        queryset = super().get_queryset(request)
        personal = Complaint.Category.PERSONAL_INFORMATION
        if self.model is Complaint:
            return queryset.exclude(category=personal)
        return queryset.filter(category=personal)

    @admin.display(description=_("number"), ordering="pk")
    def number(self, obj: Complaint) -> str:
        return obj.number

    @admin.display(description=_("file identifying the content"))
    def attachment_link(self, obj: Complaint) -> str:
        return download_link("admin:filing_complaint_attachment", obj, obj.attachment)

    def attachment_view(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        complaint = get_object_or_404(Complaint, pk=pk)
        return file_download(self, request, complaint.attachment, owner=complaint)

    @admin.display(description=_("answer due"), ordering="due_at")
    def due_shown(self, obj: Complaint) -> str:
        text = timezone.localtime(obj.due_at).strftime("%Y-%m-%d %H:%M") if obj.due_at else "—"
        if obj.is_overdue:
            return format_html('<strong class="status-bad">{} ({})</strong>', text, gettext("overdue"))
        return text

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # When it was received starts the answer deadline: set once, when an operator records a complaint.
        fields = tuple(super().get_readonly_fields(request, obj))
        return (*fields, "received_at") if obj is not None else fields

    def save_model(self, request: HttpRequest, obj: Complaint, form: Any, change: bool) -> None:
        # One audit record per action: the complaint events carry the fields the form changed.
        if not change:
            with history_collected():
                super().save_model(request, obj, form, change)
            services.complaint_received_record(complaint=obj, request=request)
            return
        closing_as = obj.status if obj.status in (Complaint.Status.RESOLVED, Complaint.Status.REJECTED) else None
        closing = "status" in form.changed_data and closing_as is not None
        if closing:
            # Closing goes through the service, as the list action does: time, handler and the audit event.
            obj.status = form.initial["status"]
        with history_collected() as collected:
            super().save_model(request, obj, form, change)
        changes = collected.get(f"{obj._meta.label_lower} {obj.pk}", {})
        if closing:
            services.complaint_resolve(
                complaint=obj,
                resolution=obj.resolution,
                actor=request.user,
                rejected=closing_as == Complaint.Status.REJECTED,
                changes=changes,
            )
        elif changes:
            services.complaint_status_record(complaint=obj, actor=request.user, note=obj.resolution, changes=changes)

    @admin.action(description=_("Take on the selected complaints"))
    def take_on(self, request: HttpRequest, queryset: Any) -> None:
        for complaint in queryset.filter(status=Complaint.Status.RECEIVED):
            services.complaint_take_on(complaint=complaint, actor=request.user)

    def _close(self, request: HttpRequest, complaint: Complaint, *, rejected: bool) -> None:
        reason = request.POST.get("reason", "")
        services.complaint_resolve(complaint=complaint, resolution=reason, actor=request.user, rejected=rejected)

    @admin.action(description=_("Resolve the selected complaints (describe the resolution)"))
    @each_selected(stop_at_refusal=True)
    def resolve(self, request: HttpRequest, complaint: Complaint) -> None:
        self._close(request, complaint, rejected=False)

    @admin.action(description=_("Reject the selected complaints with reasons"))
    @each_selected(stop_at_refusal=True)
    def reject(self, request: HttpRequest, complaint: Complaint) -> None:
        self._close(request, complaint, rejected=True)


@admin.register(PersonalInformationRequest)
class PersonalInformationRequestAdmin(ComplaintAdmin):
    """Personal-information requests (access, copy, correction, deletion, account closure), with their own
    deadline in working days."""

    own_pages: dict[str, str] = {}  # their attachments are served by the complaints' page

    def get_list_display(self, request: HttpRequest) -> Any:
        return ("number", "received_at", "pi_request", "contact", "status", "due_shown", "handler")

    def get_list_filter(self, request: HttpRequest) -> Any:
        return (OverdueFilter, "status", "pi_request")
