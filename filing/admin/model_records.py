"""Model records: the nets the service declares, their approval, what serves, the emergency stop of one model."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest
from django.utils.html import format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from filing import services
from filing.admin.common import (
    EmergencyStopActions,
    ReasonActionForm,
    SignOffAdminMixin,
    TakeOfflineForm,
    each_selected,
    number_warning,
)
from filing.admin_base import FilingModelAdmin
from filing.models import ModelRecord
from filing.selectors import model_record_serving


class ModelRecordForm(TakeOfflineForm):
    """A model record whose checkpoint serves the public: a change that would stop that is said first, and made
    only when the operator ticks that it may take the generator offline."""

    take_offline = forms.BooleanField(
        label=_("Yes, take this generator offline for end users"),
        required=False,
        help_text=_("Only asked when the change would stop the generator this record serves."),
    )

    class Meta:
        model = ModelRecord
        fields = (
            "service",
            "name",
            "version",
            "net_type",
            "code",
            "parameter_count",
            "training_framework",
            "development",
            "base_model",
            "base_model_filing_number",
            "base_model_licence",
        )

    # Fields whose change stops a record's checkpoint from serving (another service, another kind of net, another
    # model code: an approved record whose code changes waits for approval again).
    STOPPING_FIELDS = ("service", "net_type", "code")

    def offline_warning(self, cleaned: dict[str, Any]) -> str | None:
        record = self.instance
        stopping = [name for name in self.STOPPING_FIELDS if name in self.changed_data]
        if not (record.pk and stopping):
            return None
        stored = ModelRecord.objects.select_related("service").get(pk=record.pk)
        if not model_record_serving(stored):
            return None
        return gettext(
            "This model record serves end users of “%(service)s” now. Changing its %(fields)s takes "
            "that generator offline. Tick the box below to do it anyway."
        ) % {
            "service": stored.service,
            "fields": ", ".join(str(getattr(ModelRecord._meta.get_field(n), "verbose_name", n)) for n in stopping),
        }


@admin.register(ModelRecord)
class ModelRecordAdmin(SignOffAdminMixin, EmergencyStopActions, FilingModelAdmin):
    list_display = (
        "name",
        "version",
        "service",
        "net_type",
        "code",
        "approval",
        "generation_state",
        "approved_by",
        "approved_at",
    )
    list_filter = ("approval", "net_type", "service")
    search_fields = ("name", "code", "base_model", "service__name")
    list_select_related = ("service",)
    readonly_fields = (
        "approval",
        "approved_by",
        "approved_at",
        "rejection_reason",
        "last_changed_by",
        "checkpoints_used",
        "created_at",
        "updated_at",
    )
    action_form = ReasonActionForm
    actions = ("approve", "reject", "stop_generation", "resume_generation")
    form = ModelRecordForm
    fieldsets = (
        (None, {"fields": ("service", ("name", "version"), "net_type", "code", "take_offline")}),
        (
            _("Model"),
            {
                "fields": (
                    "parameter_count",
                    "training_framework",
                    "development",
                    ("base_model", "base_model_filing_number", "base_model_licence"),
                )
            },
        ),
        (
            _("Approval"),
            {
                "fields": (("approval", "approved_by", "approved_at"), "rejection_reason", "last_changed_by"),
                "description": _("A person other than the one who last changed the record approves it (four eyes)."),
            },
        ),
        (_("Checkpoints"), {"fields": ("checkpoints_used",)}),
        (_("Record"), {"fields": ("created_at", "updated_at"), "classes": ("collapse",)}),
    )

    signoff_step = "approve"

    def signoff_pending(self, obj: ModelRecord) -> bool:
        return obj.approval != ModelRecord.Approval.APPROVED

    def save_model(self, request: HttpRequest, obj: ModelRecord, form: Any, change: bool) -> None:
        withdrawn = (
            change
            and "code" in form.changed_data
            and services.model_record_code_change_withdraws_approval(record=obj, old_code=form.initial.get("code", ""))
        )
        super().save_model(request, obj, form, change)
        if withdrawn:
            self.message_user(
                request,
                gettext(
                    "The model code changed, and it is written into every output's label: “%(record)s” waits for "
                    "approval again, by another operator."
                )
                % {"record": obj},
                messages.WARNING,
            )
        if obj.base_model_filing_number and "base_model_filing_number" in form.changed_data:
            number_warning(self, request, obj.base_model_filing_number)

    @admin.display(description=_("checkpoints of this model"))
    def checkpoints_used(self, obj: ModelRecord) -> str:
        checkpoints = list(obj.checkpoints.all()[:50]) if obj.pk and hasattr(obj, "checkpoints") else []
        if not checkpoints:
            return "—"
        return format_html_join(", ", "{}", ((str(cp),) for cp in checkpoints))

    @admin.action(description=_("Approve the selected model records"))
    @each_selected(lambda record: gettext("Approved: %(r)s.") % {"r": record})
    def approve(self, request: HttpRequest, record: ModelRecord) -> None:
        services.model_record_approve(record=record, actor=request.user, request=request)

    @admin.action(description=_("Reject the selected model records (give the reason)"))
    @each_selected(
        lambda record: gettext("Rejected: %(r)s.") % {"r": record}, level=messages.WARNING, stop_at_refusal=True
    )
    def reject(self, request: HttpRequest, record: ModelRecord) -> None:
        services.model_record_reject(record=record, reason=request.POST.get("reason", ""), actor=request.user)
