"""The operators' admin of the filing records.

Workflow steps, approvals, checks and exports are explicit actions that call ``filing.services``;
a refused step shows its reason as an error message, never a server error.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.core.exceptions import PermissionDenied
from django.db import models as db_models
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from filing import services
from filing.exports import filing_export_request
from filing.history import acting_as
from filing.models import (
    AssessmentClause,
    Complaint,
    Dataset,
    DatasetEvidence,
    Document,
    FilingExport,
    Incident,
    ModelRecord,
    PersonalInformationRequest,
    Provider,
    SafetyCheck,
    SampleItem,
    SelfAssessment,
    Service,
    ServiceTransition,
)
from filing.safety.models import Risk
from filing.selectors import (
    dataset_lineage,
    model_record_serving,
    percent,
    readiness_checklist,
    service_audience,
    service_generators,
    service_public,
)


class ReasonActionForm(ActionForm):
    """The action bar with a text box for actions that need a reason (return, reject, resolve ...)."""

    reason = forms.CharField(label=_("reason / note"), required=False, max_length=2000)


def _refusal(admin_obj: admin.ModelAdmin, request: HttpRequest, exc: Exception) -> None:
    admin_obj.message_user(request, str(exc), messages.ERROR)


class EmergencyStopActions:
    """Admin actions that stop generation at once for the selected services or model records, and resume it."""

    @admin.action(description=_("Stop generation now (give the reason)"), permissions=["change"])
    def stop_generation(self, request: HttpRequest, queryset: Any) -> None:
        reason = request.POST.get("reason", "")
        for target in queryset:
            try:
                services.generation_stop(target=target, reason=reason, actor=request.user, request=request)
            except services.FilingError as exc:
                _refusal(self, request, exc)  # type: ignore[arg-type]
                return
            self.message_user(  # type: ignore[attr-defined]
                request,
                gettext("Generation stopped for %(t)s; end users see that it is paused.") % {"t": target},
                messages.WARNING,
            )

    @admin.action(description=_("Let it generate again"), permissions=["change"])
    def resume_generation(self, request: HttpRequest, queryset: Any) -> None:
        for target in queryset.filter(generation_stopped_at__isnull=False):
            services.generation_resume(
                target=target, actor=request.user, note=request.POST.get("reason", ""), request=request
            )
            self.message_user(  # type: ignore[attr-defined]
                request, gettext("%(t)s generates again.") % {"t": target}, messages.SUCCESS
            )

    @admin.display(description=_("generation"))
    def generation_state(self, obj: Any) -> str:
        if obj.generation_stopped_at is None:
            return gettext("running")
        return format_html('<strong style="color:#ba2121">{}</strong>', gettext("stopped"))


def _file_download(request: HttpRequest, field_file: Any) -> HttpResponseBase:
    """A stored file, served to whoever passed the admin's permission check (media is not public)."""
    from django.http import FileResponse, Http404

    if not field_file:
        raise Http404
    filename = (field_file.name or "").rsplit("/", 1)[-1]
    try:
        handle = field_file.open("rb")
    except FileNotFoundError as exc:
        raise Http404 from exc
    return FileResponse(handle, as_attachment=True, filename=filename)


def _download_link(url_name: str, pk: int) -> str:
    return format_html('<a href="{}">{}</a>', reverse(url_name, args=[pk]), gettext("download"))


def _number_warning(admin_obj: admin.ModelAdmin, request: HttpRequest, number: str) -> None:
    """Filing numbers are checked loosely: an unusual one is saved, with a warning."""
    warning = services.filing_number_warning(number)
    if warning:
        admin_obj.message_user(request, warning, messages.WARNING)


#
# Provider
#


class ServiceInline(admin.TabularInline):
    model = Service
    extra = 0
    fields = ("name", "version", "status", "filing_number")
    readonly_fields = ("status", "filing_number")
    show_change_link = True


@admin.register(Provider)
class ProviderAdmin(admin.ModelAdmin):
    list_display = ("legal_name", "uscc", "legal_representative", "safety_lead", "nature", "updated_at")
    list_filter = ("nature",)
    search_fields = ("legal_name", "uscc", "legal_representative", "safety_lead")
    readonly_fields = ("created_at", "updated_at")
    fieldsets = (
        (_("Identity"), {"fields": ("legal_name", "uscc", "nature", "parent_company", "industry_regulator")}),
        (_("Addresses"), {"fields": ("registered_address", "office_address")}),
        (
            _("People and contacts"),
            {
                "fields": (
                    "legal_representative",
                    ("safety_lead", "safety_lead_phone", "safety_lead_email"),
                    ("contact_name", "contact_phone", "contact_email"),
                )
            },
        ),
        (_("Record"), {"fields": ("created_at", "updated_at"), "classes": ("collapse",)}),
    )
    inlines = (ServiceInline,)


#
# Service
#


class ModelRecordInline(admin.TabularInline):
    """The service's model records, to open one; they are changed on their own page, which asks before a change
    would take a generator offline."""

    model = ModelRecord
    extra = 0
    fields = ("name", "version", "net_type", "code", "approval")
    readonly_fields = fields
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class DocumentInline(admin.TabularInline):
    model = Document
    extra = 0
    fields = ("kind", "version", "title", "file", "effective_on", "download")
    readonly_fields = ("download",)

    @admin.display(description=_("download"))
    def download(self, obj: Document) -> str:
        return _download_link("admin:filing_document_download", obj.pk) if obj.pk and obj.file else "—"


class TransitionInline(admin.TabularInline):
    model = ServiceTransition
    extra = 0
    fields = ("at", "from_status", "to_status", "actor", "note")
    readonly_fields = fields
    can_delete = False
    verbose_name_plural = _("status history")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class FiledForm(forms.Form):
    filing_number = forms.CharField(label=_("filing number"), max_length=100)
    filed_on = forms.DateField(label=_("filed on"), widget=forms.DateInput(attrs={"type": "date"}))


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("reason"), widget=forms.Textarea(attrs={"rows": 4}), max_length=2000)


# Per-object workflow steps: (action, button label, form class or None).
WORKFLOW_STEPS: dict[str, tuple[Any, type[forms.Form] | None]] = {
    "self_assess": (_("Mark self-assessed"), None),
    "submit": (_("Submit the filing"), None),
    "record_filed": (_("Record filing number"), FiledForm),
    "record_returned": (_("Record return"), ReasonForm),
    "change_start": (_("Start a change"), ReasonForm),
    "deregister": (_("Deregister"), ReasonForm),
}


def _step_run(action: str, service: Service, data: dict[str, Any], actor: Any) -> str | None:
    """Run one workflow step; returns a warning, if any. Raises FilingError when refused."""
    if action == "self_assess":
        services.service_self_assess(service=service, actor=actor)
    elif action == "submit":
        services.service_submit(service=service, actor=actor)
    elif action == "record_filed":
        _svc, warning = services.service_record_filed(
            service=service, filing_number=data["filing_number"], filed_on=data["filed_on"], actor=actor
        )
        return warning
    elif action == "record_returned":
        services.service_record_returned(service=service, reason=data["reason"], actor=actor)
    elif action == "change_start":
        services.service_change_start(service=service, reason=data["reason"], actor=actor)
    elif action == "deregister":
        services.service_deregister(service=service, reason=data["reason"], actor=actor)
    return None


class ServiceForm(forms.ModelForm):
    """Turning internal testing off on the public service before it is filed stops every generator for its
    testers: said first, and done only when the operator ticks that it may."""

    take_offline = forms.BooleanField(
        label=_("Yes, stop the service for its testers"),
        required=False,
        help_text=_("Only asked when the change would stop the public service for the people using it."),
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        service = self.instance
        if (
            service.pk
            and service.is_public
            and "internal_testing" in self.changed_data
            and not cleaned.get("internal_testing")
            and not service.open_to_public
            and not cleaned.get("take_offline")
        ):
            raise forms.ValidationError(
                gettext(
                    "“%(service)s” is the public service and is not filed yet: turning internal testing off stops it "
                    "for its testers. Tick the box below to do it anyway."
                )
                % {"service": service}
            )
        return cleaned


@admin.register(Service)
class ServiceAdmin(EmergencyStopActions, admin.ModelAdmin):
    list_display = (
        "name",
        "version",
        "provider",
        "route",
        "status",
        "filing_number",
        "filed_on",
        "is_public",
        "internal_testing",
        "generation_state",
        "readiness_shown",
    )
    list_filter = ("is_public", "status", "route", "main_function", "domain", "internal_testing")
    filter_horizontal = ("testers",)
    search_fields = ("name", "filing_number", "provider__legal_name")
    list_select_related = ("provider",)
    readonly_fields = (
        "status",
        "filing_number",
        "filed_on",
        "returned_reason",
        "is_public",
        "who_it_serves",
        "generation_stopped_at",
        "generation_stop_reason",
        "generation_stopped_by",
        "created_at",
        "updated_at",
    )
    action_form = ReasonActionForm
    form = ServiceForm
    actions = ("export_package", "submit_selected", "self_assess_selected", "stop_generation", "resume_generation")
    formfield_overrides = {db_models.URLField: {"assume_scheme": "https"}}
    inlines = (ModelRecordInline, DocumentInline, TransitionInline)
    fieldsets = (
        (None, {"fields": ("provider", ("name", "version"), ("is_public", "who_it_serves"))}),
        (
            _("Emergency stop"),
            {
                "fields": (("generation_stopped_at", "generation_stopped_by"), "generation_stop_reason"),
                "description": _("Stop or resume generation with the actions of the service list."),
            },
        ),
        (
            _("Internal testing"),
            {
                "fields": ("internal_testing", "take_offline", "testers"),
                "description": _(
                    "Before the service is filed it serves only the accounts on its tester list, and only while "
                    "internal testing is on. Everyone else sees that it is not open yet."
                ),
            },
        ),
        (
            _("Filing status"),
            {
                "fields": (("status", "filing_number", "filed_on"), "returned_reason", "algorithm_filing_number"),
                "description": _(
                    "The status changes only through the workflow buttons above, which record who and when."
                ),
            },
        ),
        (
            _("Service"),
            {
                "fields": (
                    ("form_web", "form_app", "form_api", "form_mini_program"),
                    "main_function",
                    ("domain", "restricted_domain"),
                    "target_users",
                    "scenarios",
                    ("minors_allowed", "real_name_required"),
                    "service_boundary",
                    ("public_url", "launch_date"),
                )
            },
        ),
        (
            _("Route"),
            {
                "fields": ("route", ("called_model_name", "called_model_filer", "called_model_number")),
                "description": _(
                    "备案 for own or fine-tuned models; 登记 when the service only calls a filed model "
                    "(then name that model, its filer and its number)."
                ),
            },
        ),
        (_("Complaint channel"), {"fields": (("complaint_email", "complaint_phone"), "complaint_url")}),
        (_("Record"), {"fields": ("created_at", "updated_at"), "classes": ("collapse",)}),
    )

    @admin.display(description=_("who it serves"))
    def who_it_serves(self, obj: Service) -> str:
        return service_audience(obj)

    @admin.display(description=_("filing readiness"))
    def readiness_shown(self, obj: Service) -> str:
        missing = [item for item in readiness_checklist(obj) if not item.ok]
        if not missing:
            return format_html('<span style="color:#3a7d44">{}</span>', gettext("complete"))
        return format_html(
            '<span style="color:#ba2121" title="{}">{}</span>',
            "; ".join(str(item.title) for item in missing),
            ngettext("%(n)d item missing", "%(n)d items missing", len(missing)) % {"n": len(missing)},
        )

    def save_model(self, request: HttpRequest, obj: Service, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if obj.called_model_number and "called_model_number" in form.changed_data:
            _number_warning(self, request, obj.called_model_number)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        service = form.instance
        before = set(service.testers.values_list("username", flat=True)) if change else set()
        super().save_related(request, form, formsets, change)
        services.service_testers_recorded(service=service, before=before, actor=request.user, request=request)

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path("<int:pk>/step/<str:action>/", wrap(self.step_view), name="filing_service_step"),
            path("<int:pk>/public/", wrap(self.public_view), name="filing_service_public"),
            *super().get_urls(),
        ]

    def public_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Make the service the public one, after showing what that changes for end users."""
        service = get_object_or_404(Service.objects.select_related("provider"), pk=pk)
        if not self.has_change_permission(request, service):
            raise PermissionDenied
        change_url = reverse("admin:filing_service_change", args=[service.pk])
        if request.method == "POST":
            try:
                services.service_make_public(service=service, actor=request.user, request=request)
            except services.FilingError as exc:
                _refusal(self, request, exc)
            else:
                self.message_user(
                    request, gettext("“%(s)s” is now the public service.") % {"s": service}, messages.SUCCESS
                )
            return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": service,
            "title": _("Make this the public service"),
            "change_url": change_url,
            "current": service_public(),
            "audience": service_audience(service),
            "records": service_generators(service),
        }
        return TemplateResponse(request, "admin/filing/service/public.html", context)

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None) -> Any:
        extra_context = dict(extra_context or {})
        service = self.get_object(request, object_id)
        if service is not None:
            checklist = readiness_checklist(service)
            extra_context["readiness"] = checklist
            extra_context["readiness_blockers"] = sum(1 for item in checklist if not item.ok)
            extra_context["workflow_steps"] = [
                (action, label)
                for action, (label, _form) in WORKFLOW_STEPS.items()
                if service.status in services.TRANSITIONS[action][0]
            ]
            extra_context["exports"] = service.exports.all()[:5]
            extra_context["public_url"] = (
                None if service.is_public else reverse("admin:filing_service_public", args=[service.pk])
            )
        return super().change_view(request, object_id, form_url, extra_context)

    def step_view(self, request: HttpRequest, pk: int, action: str) -> HttpResponse:
        if action not in WORKFLOW_STEPS:
            raise PermissionDenied
        service = get_object_or_404(Service, pk=pk)
        if not self.has_change_permission(request, service):
            raise PermissionDenied
        label, form_class = WORKFLOW_STEPS[action]
        change_url = reverse("admin:filing_service_change", args=[service.pk])
        form = form_class(request.POST or None) if form_class else None
        if request.method == "POST" and (form is None or form.is_valid()):
            try:
                warning = _step_run(action, service, form.cleaned_data if form else {}, request.user)
            except services.FilingError as exc:
                _refusal(self, request, exc)
            else:
                service.refresh_from_db()
                self.message_user(
                    request,
                    gettext("“%(s)s” is now %(status)s.") % {"s": service, "status": service.get_status_display()},
                    messages.SUCCESS,
                )
                if warning:
                    self.message_user(request, warning, messages.WARNING)
            return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": service,
            "title": label,
            "form": form,
            "change_url": change_url,
            # Deregistering the public service stops it for everyone.
            "stops_public": service.is_public and action == "deregister" and service.may_serve,
        }
        return TemplateResponse(request, "admin/filing/service/step.html", context)

    @admin.action(description=_("Export the filing package (background job)"))
    def export_package(self, request: HttpRequest, queryset: Any) -> None:
        for service in queryset:
            export = filing_export_request(service=service, actor=request.user)
            url = reverse("admin:filing_filingexport_change", args=[export.pk])
            self.message_user(
                request,
                format_html(
                    gettext('Package of “{}” queued: follow it on <a href="{}">its export page</a>.'), service, url
                ),
                messages.SUCCESS,
            )

    def _bulk_step(self, request: HttpRequest, queryset: Any, action: str) -> None:
        for service in queryset:
            try:
                _step_run(action, service, {}, request.user)
            except services.FilingError as exc:
                _refusal(self, request, exc)
            else:
                self.message_user(request, gettext("“%(s)s” done.") % {"s": service}, messages.SUCCESS)

    @admin.action(description=_("Submit the filing of the selected services"))
    def submit_selected(self, request: HttpRequest, queryset: Any) -> None:
        self._bulk_step(request, queryset, "submit")

    @admin.action(description=_("Mark the selected services self-assessed"))
    def self_assess_selected(self, request: HttpRequest, queryset: Any) -> None:
        self._bulk_step(request, queryset, "self_assess")


#
# Model records
#


class ModelRecordForm(forms.ModelForm):
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

    # Fields whose change stops a record's checkpoint from serving (another service, another kind of net).
    STOPPING_FIELDS = ("service", "net_type")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        record = self.instance
        stopping = [name for name in self.STOPPING_FIELDS if name in self.changed_data]
        if record.pk and stopping and not cleaned.get("take_offline"):
            stored = ModelRecord.objects.select_related("service").get(pk=record.pk)
            if model_record_serving(stored):
                raise forms.ValidationError(
                    gettext(
                        "This model record serves end users of “%(service)s” now. Changing its %(fields)s takes "
                        "that generator offline. Tick the box below to do it anyway."
                    )
                    % {
                        "service": stored.service,
                        "fields": ", ".join(
                            str(getattr(ModelRecord._meta.get_field(n), "verbose_name", n)) for n in stopping
                        ),
                    }
                )
        return cleaned


@admin.register(ModelRecord)
class ModelRecordAdmin(EmergencyStopActions, admin.ModelAdmin):
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
        (_("Approval"), {"fields": (("approval", "approved_by", "approved_at"), "rejection_reason")}),
        (_("Checkpoints"), {"fields": ("checkpoints_used",)}),
        (_("Record"), {"fields": ("created_at", "updated_at"), "classes": ("collapse",)}),
    )

    def save_model(self, request: HttpRequest, obj: ModelRecord, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if obj.base_model_filing_number and "base_model_filing_number" in form.changed_data:
            _number_warning(self, request, obj.base_model_filing_number)

    @admin.display(description=_("checkpoints of this model"))
    def checkpoints_used(self, obj: ModelRecord) -> str:
        checkpoints = list(obj.checkpoints.all()[:50]) if obj.pk and hasattr(obj, "checkpoints") else []
        if not checkpoints:
            return "—"
        return format_html_join(", ", "{}", ((str(cp),) for cp in checkpoints))

    @admin.action(description=_("Approve the selected model records"))
    def approve(self, request: HttpRequest, queryset: Any) -> None:
        for record in queryset:
            try:
                services.model_record_approve(record=record, actor=request.user)
            except services.FilingError as exc:
                _refusal(self, request, exc)
            else:
                self.message_user(request, gettext("Approved: %(r)s.") % {"r": record}, messages.SUCCESS)

    @admin.action(description=_("Reject the selected model records (give the reason)"))
    def reject(self, request: HttpRequest, queryset: Any) -> None:
        reason = request.POST.get("reason", "")
        for record in queryset:
            try:
                services.model_record_reject(record=record, reason=reason, actor=request.user)
            except services.FilingError as exc:
                _refusal(self, request, exc)
                return
            self.message_user(request, gettext("Rejected: %(r)s.") % {"r": record}, messages.WARNING)


#
# Datasets and their source safety checks
#


class EvidenceInline(admin.TabularInline):
    model = DatasetEvidence
    extra = 1
    fields = ("kind", "file", "note", "uploaded_at", "download")
    readonly_fields = ("uploaded_at", "download")

    @admin.display(description=_("download"))
    def download(self, obj: DatasetEvidence) -> str:
        return _download_link("admin:filing_dataset_evidence_download", obj.pk) if obj.pk and obj.file else "—"


class SafetyCheckInline(admin.TabularInline):
    model = SafetyCheck
    extra = 0
    fields = ("started_at", "sample_size", "status", "illegal_count", "ratio_shown", "review_link")
    readonly_fields = fields
    can_delete = False
    show_change_link = True

    @admin.display(description=_("illegal share"))
    def ratio_shown(self, obj: SafetyCheck) -> str:
        return percent(obj.illegal_ratio)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("review"))
    def review_link(self, obj: SafetyCheck) -> str:
        url = reverse("admin:filing_safetycheck_review", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, gettext("open"))


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    list_display = ("name", "source_type", "origin", "items", "size_bytes", "safety_status_shown", "evidence_count")
    list_filter = ("source_type", "origin", "safety_status", "contains_personal_information")
    search_fields = ("name", "source", "sha256", "licence")
    readonly_fields = ("sha256", "safety_status", "lineage", "created_at", "updated_at")
    actions = ("start_safety_check",)
    inlines = (EvidenceInline, SafetyCheckInline)
    fieldsets = (
        (None, {"fields": ("name", ("source_type", "origin"), "source", "sha256")}),
        (_("Licence"), {"fields": ("licence", "licence_text")}),
        (
            _("Collection and size"),
            {"fields": (("collection_start", "collection_end"), ("items", "size_bytes"), "language_share")},
        ),
        (_("Personal information"), {"fields": ("contains_personal_information", "personal_information_legal_basis")}),
        (_("Source safety"), {"fields": ("safety_status",)}),
        (_("Lineage"), {"fields": ("lineage",)}),
        (_("Record"), {"fields": ("created_at", "updated_at"), "classes": ("collapse",)}),
    )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # The fingerprint names the bytes: entered once, when the record is made, then fixed.
        fields = tuple(self.readonly_fields)
        return fields if obj is not None else tuple(f for f in fields if f != "sha256")

    def get_queryset(self, request: HttpRequest) -> Any:
        from django.db.models import Count

        return super().get_queryset(request).annotate(evidence_n=Count("evidence"))

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path("evidence/<int:pk>/download/", wrap(self.evidence_download), name="filing_dataset_evidence_download"),
            *super().get_urls(),
        ]

    def evidence_download(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        evidence = get_object_or_404(DatasetEvidence, pk=pk)
        if not self.has_view_permission(request, evidence.dataset):
            raise PermissionDenied
        return _file_download(request, evidence.file)

    @admin.display(description=_("evidence files"), ordering="evidence_n")
    def evidence_count(self, obj: Dataset) -> int:
        return getattr(obj, "evidence_n", 0)

    @admin.display(description=_("source safety"), ordering="safety_status")
    def safety_status_shown(self, obj: Dataset) -> str:
        if obj.safety_status == Dataset.SafetyStatus.FAILED:
            return format_html('<strong style="color:#ba2121">{}</strong>', obj.get_safety_status_display())
        return obj.get_safety_status_display()

    @admin.display(description=_("training runs and checkpoints that used it"))
    def lineage(self, obj: Dataset) -> str:
        if not obj.pk:
            return "—"
        runs, checkpoints = dataset_lineage(obj)
        if not runs:
            return gettext("Not used by any training run yet.")

        def link(item: Any) -> str:
            meta = item._meta
            try:
                url = reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[item.pk])
            except Exception:  # noqa: BLE001 (not registered in the admin)
                return format_html("{}", item)
            return format_html('<a href="{}">{}</a>', url, item)

        return format_html(
            "{}: {}<br>{}: {}",
            gettext("training runs"),
            format_html_join(", ", "{}", ((link(r),) for r in runs)),
            gettext("checkpoints"),
            format_html_join(", ", "{}", ((link(c),) for c in checkpoints)) if checkpoints else "—",
        )

    @admin.action(description=_("Start a source safety check (random sample for review)"))
    def start_safety_check(self, request: HttpRequest, queryset: Any) -> HttpResponse | None:
        started = []
        for dataset in queryset:
            try:
                started.append(services.safety_check_start(dataset=dataset, actor=request.user))
            except services.FilingError as exc:
                _refusal(self, request, exc)
        if len(started) == 1:
            return redirect("admin:filing_safetycheck_review", started[0].pk)
        for check in started:
            self.message_user(request, gettext("Sample drawn: %(c)s.") % {"c": check}, messages.SUCCESS)
        return None


@admin.register(SafetyCheck)
class SafetyCheckAdmin(admin.ModelAdmin):
    list_display = ("dataset", "started_at", "sample_size", "status", "illegal_count", "ratio_shown", "threshold_shown")
    list_filter = ("status",)
    search_fields = ("dataset__name",)
    list_select_related = ("dataset",)
    readonly_fields = (
        "dataset",
        "seed",
        "population",
        "sample_size",
        "threshold",
        "config_version",
        "status",
        "illegal_count",
        "illegal_ratio",
        "started_by",
        "started_at",
        "finished_by",
        "finished_at",
        "review_link",
    )
    review_page_size = 50

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description=_("illegal share"), ordering="illegal_ratio")
    def ratio_shown(self, obj: SafetyCheck) -> str:
        return percent(obj.illegal_ratio)

    @admin.display(description=_("maximum"))
    def threshold_shown(self, obj: SafetyCheck) -> str:
        return percent(obj.threshold)

    @admin.display(description=_("review"))
    def review_link(self, obj: SafetyCheck) -> str:
        url = reverse("admin:filing_safetycheck_review", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, gettext("Review the sample"))

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path("<int:pk>/review/", wrap(self.review_view), name="filing_safetycheck_review"),
            *super().get_urls(),
        ]

    def review_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        check = get_object_or_404(SafetyCheck.objects.select_related("dataset"), pk=pk)
        if not self.has_change_permission(request, check):
            raise PermissionDenied
        try:
            page = max(1, int(request.GET.get("page", "1")))
        except ValueError:
            page = 1
        url = reverse("admin:filing_safetycheck_review", args=[check.pk])
        if request.method == "POST":
            try:
                if "finish" in request.POST:
                    services.safety_check_finish(check=check, actor=request.user)
                    check.refresh_from_db()
                    level = messages.SUCCESS if check.status == SafetyCheck.Status.PASSED else messages.ERROR
                    self.message_user(
                        request,
                        gettext("Check finished: %(status)s, illegal share %(ratio)s (maximum %(max)s).")
                        % {
                            "status": check.get_status_display(),
                            "ratio": percent(check.illegal_ratio),
                            "max": percent(check.threshold),
                        },
                        level,
                    )
                    return HttpResponseRedirect(url)
                rest_ok = "rest_ok" in request.POST
                verdicts = [
                    services.VerdictInput(
                        item_id=int(item_id),
                        verdict=SampleItem.Verdict.OK
                        if rest_ok and request.POST.get(f"verdict-{item_id}", "pending") == "pending"
                        else request.POST.get(f"verdict-{item_id}", SampleItem.Verdict.PENDING),
                        risk_code=request.POST.get(f"risk-{item_id}") or None,
                    )
                    for item_id in request.POST.getlist("item")
                    if item_id.isdigit()
                ]
                changed = services.safety_check_verdicts_record(check=check, verdicts=verdicts, actor=request.user)
                self.message_user(request, gettext("%(n)d verdicts saved.") % {"n": changed}, messages.SUCCESS)
            except services.FilingError as exc:
                _refusal(self, request, exc)
            next_page = page + 1 if "save_next" in request.POST or "rest_ok" in request.POST else page
            return HttpResponseRedirect(f"{url}?page={next_page}")
        size = self.review_page_size
        pages = max(1, (check.sample_size + size - 1) // size)
        page = min(page, pages)
        items = list(check.items.order_by("position")[(page - 1) * size : page * size])
        counts = {
            "pending": check.items.filter(verdict=SampleItem.Verdict.PENDING).count(),
            "illegal": check.items.filter(verdict=SampleItem.Verdict.ILLEGAL).count(),
        }
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": check,
            "title": gettext("Source safety check of “%(d)s”") % {"d": check.dataset.name},
            "check": check,
            "items": items,
            "page": page,
            "pages": pages,
            "page_range": range(1, pages + 1) if pages <= 30 else None,
            "counts": counts,
            "risks": Risk.objects.order_by("position"),
            "verdicts": SampleItem.Verdict.choices,
            "threshold": percent(check.threshold),
            "editable": check.status == SafetyCheck.Status.IN_REVIEW,
        }
        return TemplateResponse(request, "admin/filing/safetycheck/review.html", context)


#
# Documents, assessments, complaints, exports
#


@admin.register(Document)
class DocumentAdmin(admin.ModelAdmin):
    list_display = ("title", "kind", "version", "service", "effective_on", "published_at", "updated_at", "download")
    list_filter = ("kind", "service", ("published_at", admin.EmptyFieldListFilter))
    search_fields = ("title", "version", "service__name")
    list_select_related = ("service",)
    readonly_fields = ("published_at", "created_at", "updated_at")
    actions = ("publish",)
    fieldsets = (
        (None, {"fields": ("service", "kind", ("title", "version"), "file", "effective_on", "notes")}),
        (
            _("On the site"),
            {
                "fields": ("body", "published_at"),
                "description": _(
                    "A service agreement or privacy policy of the public service is shown on the terms or privacy "
                    "page once published (action of the document list); end users accept it before generating."
                ),
            },
        ),
        (_("Record"), {"fields": ("created_at", "updated_at"), "classes": ("collapse",)}),
    )

    @admin.action(description=_("Publish on the site (end users accept it before generating again)"))
    def publish(self, request: HttpRequest, queryset: Any) -> None:
        for document in queryset:
            try:
                services.document_publish(document=document, actor=request.user, request=request)
            except services.FilingError as exc:
                _refusal(self, request, exc)
                continue
            self.message_user(
                request, gettext("Published: %(d)s. End users accept it before generating again.") % {"d": document}
            )

    @admin.display(description=_("file"))
    def download(self, obj: Document) -> str:
        return _download_link("admin:filing_document_download", obj.pk) if obj.file else "—"

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path("<int:pk>/download/", wrap(self.download_view), name="filing_document_download"),
            *super().get_urls(),
        ]

    def download_view(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        document = get_object_or_404(Document, pk=pk)
        if not self.has_view_permission(request, document):
            raise PermissionDenied
        return _file_download(request, document.file)


class ClauseInline(admin.TabularInline):
    model = AssessmentClause
    extra = 0
    fields = ("clause", "requirement", "verdict", "evidence", "evidence_file", "evidence_link", "reason", "owner")
    readonly_fields = ("clause", "requirement")
    formfield_overrides = {
        # Compact text boxes: the table has a row per clause.
        db_models.TextField: {"widget": forms.Textarea(attrs={"rows": 2, "cols": 30})},
        db_models.URLField: {"assume_scheme": "https"},
    }

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(SelfAssessment)
class SelfAssessmentAdmin(admin.ModelAdmin):
    list_display = ("title", "service", "status", "finalised_by", "finalised_at", "signers_complete")
    list_filter = ("status", "service")
    search_fields = ("title", "service__name")
    list_select_related = ("service",)
    readonly_fields = ("status", "finalised_by", "finalised_at", "created_at", "updated_at", "problems")
    actions = ("finalise",)
    inlines = (ClauseInline,)
    fieldsets = (
        (None, {"fields": ("service", "title", "status", "problems")}),
        (
            _("Signers"),
            {
                "fields": (
                    "legal_representative_signer",
                    "assessment_lead_signer",
                    "legality_lead_signer",
                    "signers_note",
                ),
                "description": _("All three are needed before the assessment can be finalised."),
            },
        ),
        (
            _("Measured metrics"),
            {
                "fields": (
                    ("corpus_manual_pass_rate", "corpus_technical_pass_rate"),
                    ("generated_sample_size", "generated_pass_rate_manual"),
                    ("generated_pass_rate_keyword", "generated_pass_rate_classifier"),
                    ("refuse_sample_size", "refuse_rate"),
                    ("nonrefuse_sample_size", "nonrefuse_refusal_rate"),
                ),
                "description": _("Rates between 0 and 1 (0.95 = 95%)."),
            },
        ),
        (_("Conclusion"), {"fields": ("conclusion", ("finalised_by", "finalised_at"))}),
        (_("Record"), {"fields": ("created_at", "updated_at"), "classes": ("collapse",)}),
    )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is not None and obj.status == SelfAssessment.Status.FINALISED:
            return [f.name for f in SelfAssessment._meta.fields if f.name != "id"] + ["problems"]
        return self.readonly_fields

    def get_inline_instances(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        return super().get_inline_instances(request, obj) if obj is not None else []

    def save_model(self, request: HttpRequest, obj: SelfAssessment, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        created = services.assessment_create(service=obj.service, title=obj.title, actor=request.user)
        for name in form.changed_data:
            setattr(created, name, getattr(obj, name))
        created.save()
        obj.pk = created.pk
        obj.refresh_from_db()

    @admin.display(description=_("signers complete"), boolean=True)
    def signers_complete(self, obj: SelfAssessment) -> bool:
        return bool(obj.legal_representative_signer and obj.assessment_lead_signer and obj.legality_lead_signer)

    @admin.display(description=_("what is missing"))
    def problems(self, obj: SelfAssessment) -> str:
        if not obj.pk:
            return "—"
        if obj.status == SelfAssessment.Status.FINALISED:
            return gettext("Finalised.")
        found = services.assessment_problems(obj)
        return format_html_join("", "<div>{}</div>", ((p,) for p in found)) if found else gettext("Ready to finalise.")

    @admin.action(description=_("Finalise the selected assessments"))
    def finalise(self, request: HttpRequest, queryset: Any) -> None:
        for assessment in queryset:
            try:
                services.assessment_finalise(assessment=assessment, actor=request.user)
            except services.FilingError as exc:
                _refusal(self, request, exc)
            else:
                self.message_user(request, gettext("Finalised: %(a)s.") % {"a": assessment}, messages.SUCCESS)


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
class ComplaintAdmin(admin.ModelAdmin):
    """Complaints and reports; personal-information requests have a queue of their own."""

    form = ComplaintAdminForm

    list_display = ("number", "received_at", "channel", "category", "produce_id", "status", "due_shown", "handler")
    list_filter = (OverdueFilter, "status", "channel", "category", "service")
    search_fields = ("produce_id", "complainant", "contact", "details", "resolution")
    date_hierarchy = "received_at"
    readonly_fields = ("number", "due_at", "resolved_at", "user_id", "attachment_link")
    action_form = ReasonActionForm
    actions = ("take_on", "resolve", "reject")
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
        return _download_link("admin:filing_complaint_attachment", obj.pk) if obj.pk and obj.attachment else "—"

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        urls = super().get_urls()
        if self.model is Complaint:
            urls = [path("<int:pk>/attachment/", wrap(self.attachment_view), name="filing_complaint_attachment"), *urls]
        return urls

    def attachment_view(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        complaint = get_object_or_404(Complaint, pk=pk)
        if not self.has_view_permission(request, complaint):
            raise PermissionDenied
        return _file_download(request, complaint.attachment)

    @admin.display(description=_("answer due"), ordering="due_at")
    def due_shown(self, obj: Complaint) -> str:
        text = timezone.localtime(obj.due_at).strftime("%Y-%m-%d %H:%M") if obj.due_at else "—"
        if obj.is_overdue:
            return format_html('<strong style="color:#ba2121">{} ({})</strong>', text, gettext("overdue"))
        return text

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # When it was received starts the answer deadline: set once, when an operator records a complaint.
        fields = tuple(super().get_readonly_fields(request, obj))
        return (*fields, "received_at") if obj is not None else fields

    def save_model(self, request: HttpRequest, obj: Complaint, form: Any, change: bool) -> None:
        if not change:
            super().save_model(request, obj, form, change)
            services.complaint_received_record(complaint=obj, request=request)
            return
        closing_as = obj.status if obj.status in (Complaint.Status.RESOLVED, Complaint.Status.REJECTED) else None
        if "status" in form.changed_data and closing_as is not None:
            # Closing goes through the service, as the list action does: time, handler and the audit event.
            obj.status = form.initial["status"]
            super().save_model(request, obj, form, change)
            services.complaint_resolve(
                complaint=obj,
                resolution=obj.resolution,
                actor=request.user,
                rejected=closing_as == Complaint.Status.REJECTED,
            )
            return
        super().save_model(request, obj, form, change)
        if "status" in form.changed_data:
            services.complaint_status_record(complaint=obj, actor=request.user, note=obj.resolution)

    @admin.action(description=_("Take on the selected complaints"))
    def take_on(self, request: HttpRequest, queryset: Any) -> None:
        for complaint in queryset.filter(status=Complaint.Status.RECEIVED):
            services.complaint_take_on(complaint=complaint, actor=request.user)

    def _close(self, request: HttpRequest, queryset: Any, *, rejected: bool) -> None:
        reason = request.POST.get("reason", "")
        for complaint in queryset:
            try:
                services.complaint_resolve(
                    complaint=complaint, resolution=reason, actor=request.user, rejected=rejected
                )
            except services.FilingError as exc:
                _refusal(self, request, exc)
                return

    @admin.action(description=_("Resolve the selected complaints (describe the resolution)"))
    def resolve(self, request: HttpRequest, queryset: Any) -> None:
        self._close(request, queryset, rejected=False)

    @admin.action(description=_("Reject the selected complaints with reasons"))
    def reject(self, request: HttpRequest, queryset: Any) -> None:
        self._close(request, queryset, rejected=True)


@admin.register(PersonalInformationRequest)
class PersonalInformationRequestAdmin(ComplaintAdmin):
    """Personal-information requests (access, copy, correction, deletion, account closure), with their own
    deadline in working days."""

    def get_list_display(self, request: HttpRequest) -> Any:
        return ("number", "received_at", "pi_request", "contact", "status", "due_shown", "handler")

    def get_list_filter(self, request: HttpRequest) -> Any:
        return (OverdueFilter, "status", "pi_request")


@admin.register(FilingExport)
class FilingExportAdmin(admin.ModelAdmin):
    list_display = ("service", "created_at", "status", "progress_shown", "download", "requested_by")
    list_filter = ("status",)
    readonly_fields = (
        "service",
        "status",
        "progress_shown",
        "step",
        "download",
        "sha256",
        "error",
        "requested_by",
        "created_at",
        "finished_at",
    )
    fields = readonly_fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None) -> Any:
        export = self.get_object(request, object_id)
        extra_context = dict(extra_context or {})
        extra_context["refresh"] = export is not None and export.status in (
            FilingExport.Status.QUEUED,
            FilingExport.Status.RUNNING,
        )
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description=_("progress"))
    def progress_shown(self, obj: FilingExport) -> str:
        return format_html('<progress max="100" value="{}"></progress> {}% {}', obj.progress, obj.progress, obj.step)

    @admin.display(description=_("file"))
    def download(self, obj: FilingExport) -> str:
        if not obj.file:
            return "—"
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:filing_filingexport_download", args=[obj.pk]), gettext("download")
        )

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path("<int:pk>/download/", wrap(self.download_view), name="filing_filingexport_download"),
            *super().get_urls(),
        ]

    def download_view(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        from django.http import FileResponse

        export = get_object_or_404(FilingExport, pk=pk)
        if not self.has_view_permission(request, export) or not export.file:
            raise PermissionDenied
        return FileResponse(
            export.file.open("rb"), as_attachment=True, filename=(export.file.name or "").rsplit("/", 1)[-1]
        )


# Admin pages of the safety records (risk taxonomy, thresholds, keyword library).
import filing.safety.admin  # noqa: E402, F401

#
# Incidents (应急处置)
#


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
class IncidentAdmin(admin.ModelAdmin):
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
