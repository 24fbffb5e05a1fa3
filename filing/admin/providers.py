"""Providers and services: the records, the filing workflow, the public service and its testers."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import models as db_models
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.text import format_lazy
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from filing import services
from filing.admin.common import (
    EmergencyStopActions,
    FileInline,
    ReasonActionForm,
    SignOffAdminMixin,
    TakeOfflineForm,
    each_selected,
    number_warning,
    refusal_show,
)
from filing.admin_base import FilingModelAdmin
from filing.exports import filing_export_request
from filing.models import (
    ComputeResource,
    Dataset,
    Document,
    FilingExport,
    ModelRecord,
    Provider,
    Service,
    ServiceTransition,
    SupplyChainItem,
)
from filing.package import package_open_items
from filing.readiness import readiness_checklist
from filing.selectors import (
    dataset_service_links,
    service_audience,
    service_datasets,
    service_generators,
    service_public,
)
from genai_platform.admin_mixins import ReadOnlyAdminMixin
from genai_platform.hygiene import CleanTextFormMixin


class ServiceInline(admin.TabularInline):
    model = Service
    extra = 0
    fields = ("name", "version", "status", "filing_number")
    readonly_fields = ("status", "filing_number")
    show_change_link = True


@admin.register(Provider)
class ProviderAdmin(FilingModelAdmin):
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


class DocumentInline(FileInline):
    model = Document
    extra = 0
    fields = ("kind", "version", "title", "file", "effective_on", "download")
    readonly_fields = ("download",)
    download_url_name = "admin:filing_document_download"


class ComputeInline(admin.TabularInline):
    """The 上线备案表's compute: what the service trains and serves on, and where."""

    model = ComputeResource
    extra = 0
    fields = (
        "purpose",
        "server",
        "servers",
        "accelerator",
        "accelerator_count",
        "domestic",
        "cloud_provider",
        "location",
    )


class SupplyChainInline(admin.StackedInline):
    """The supply-chain security assessment (TC260-003 §7 e): one entry per component the service depends on."""

    model = SupplyChainItem
    extra = 0
    fields = (("kind", "name"), ("supplier", "domestic"), "assessment", ("conclusion", "assessed_on"))


class TransitionInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = ServiceTransition
    extra = 0
    fields = ("at", "from_status", "to_status", "actor", "note")
    readonly_fields = fields
    verbose_name_plural = _("status history")


class FiledForm(CleanTextFormMixin, forms.Form):
    filing_number = forms.CharField(label=_("filing number"), max_length=100)
    filed_on = forms.DateField(label=_("filed on"), widget=forms.DateInput(attrs={"type": "date"}))


def number_label(service: Service) -> Any:
    """What the number the regulator gives is called: 备案号 for a filing, 上线编号 for a registration."""
    if service.route == Service.Route.REGISTRATION:
        return _("launch number (上线编号)")
    return _("filing number (备案号)")


class ReasonForm(CleanTextFormMixin, forms.Form):
    reason = forms.CharField(label=_("reason"), widget=forms.Textarea(attrs={"rows": 4}), max_length=2000)


# Per-object workflow steps: (action, button label, form class or None).
WORKFLOW_STEPS: dict[str, tuple[Any, type[forms.Form] | None]] = {
    "self_assess": (_("Mark self-assessed"), None),
    "submit": (_("Submit the filing"), None),
    "record_filed": (_("Record filing number"), FiledForm),
    "record_returned": (_("Record return"), ReasonForm),
    "change_start": (_("Start a change"), ReasonForm),
    "deregister": (_("Deregister the service's filing"), ReasonForm),
}


def _step_run(action: str, service: Service, data: dict[str, Any], actor: Any, request: Any = None) -> str | None:
    """Run one workflow step; returns a warning, if any. Raises FilingError when refused."""
    if action == "self_assess":
        services.service_self_assess(service=service, actor=actor)
    elif action == "submit":
        services.service_submit(service=service, actor=actor, request=request)
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


def _step_done(service: Service) -> str:
    return gettext("“%(s)s” done.") % {"s": service}


class ServiceForm(TakeOfflineForm):
    """Turning internal testing off on the public service before it is filed stops every generator for its
    testers: said first, and done only when the operator ticks that it may."""

    take_offline = forms.BooleanField(
        label=_("Yes, stop the service for its testers"),
        required=False,
        help_text=_("Only asked when the change would stop the public service for the people using it."),
    )

    def offline_warning(self, cleaned: dict[str, Any]) -> str | None:
        service = self.instance
        if (
            service.pk
            and service.is_public
            and "internal_testing" in self.changed_data
            and not cleaned.get("internal_testing")
            and not service.open_to_public
        ):
            return gettext(
                "“%(service)s” is the public service and is not filed yet: turning internal testing off stops it "
                "for its testers. Tick the box below to do it anyway."
            ) % {"service": service}
        return None


@admin.register(Service)
class ServiceAdmin(SignOffAdminMixin, EmergencyStopActions, FilingModelAdmin):
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
        "last_changed_by",
        "is_public",
        "who_it_serves",
        "datasets_shown",
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
    inlines = (ModelRecordInline, DocumentInline, ComputeInline, SupplyChainInline, TransitionInline)
    own_pages = {"step": "<int:pk>/step/<str:action>/", "public": "<int:pk>/public/"}
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
                "fields": (
                    ("status", "filing_number", "filed_on"),
                    "returned_reason",
                    "algorithm_filing_number",
                    "last_changed_by",
                ),
                "description": format_lazy(
                    "{} {}",
                    _("The status changes only through the workflow buttons above, which record who and when."),
                    _(
                        "A person other than the one who last changed the service (here, or the rows on this page) "
                        "submits its filing (four eyes)."
                    ),
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
                    "inference_concurrency",
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
        (
            _("Annotation rules (附件3)"),
            {
                "fields": ("annotation_not_applicable_reason",),
                "description": _(
                    "The filing package attaches the service's newest annotation rules document. Without one, "
                    "give the reason annotation does not apply: 附件3 then reads 不涉及 with it."
                ),
            },
        ),
        (
            _("Training data"),
            {
                "fields": ("datasets_shown",),
                "description": _(
                    "The datasets of its 语料来源表. Link a dataset to the service or to its model records on the "
                    "dataset's page."
                ),
            },
        ),
        (_("Record"), {"fields": ("created_at", "updated_at"), "classes": ("collapse",)}),
    )

    @admin.display(description=_("datasets"))
    def datasets_shown(self, obj: Service) -> str:
        if obj.pk is None:
            return "—"
        datasets = list(service_datasets(obj))
        if not datasets:
            return gettext("No dataset yet: link one on its page (Filing › Datasets).")
        rows = []
        for dataset in datasets:
            if dataset.safety_status == Dataset.SafetyStatus.PASSED:
                state = dataset.get_safety_status_display()
            elif dataset.safety_status != Dataset.SafetyStatus.FAILED and dataset.check_exempt:
                state = gettext("exempted from the check")
            else:
                state = dataset.get_safety_status_display()
            rows.append(
                (
                    reverse("admin:filing_dataset_change", args=[dataset.pk]),
                    dataset.name,
                    dataset.items if dataset.items is not None else "—",
                    dataset.size_bytes if dataset.size_bytes is not None else "—",
                    state,
                    "; ".join(str(way) for way in dataset_service_links(dataset, obj)),
                )
            )
        return format_html(
            "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead>"
            "<tbody>{}</tbody></table>",
            gettext("dataset"),
            gettext("items"),
            gettext("size in bytes"),
            gettext("source safety"),
            gettext("how it belongs to the service"),
            format_html_join(
                "",
                '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>',
                rows,
            ),
        )

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None or obj.route != Service.Route.REGISTRATION:
            return fieldsets
        # A registration gets a launch number (上线编号), not a filing number: named so on its page.
        renamed = []
        for name, options in fieldsets:
            fields = [
                tuple("launch_number" if f == "filing_number" else f for f in field)
                if isinstance(field, tuple)
                else field
                for field in options["fields"]
            ]
            renamed.append((name, {**options, "fields": fields}))
        return renamed

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return (*super().get_readonly_fields(request, obj), "launch_number")

    @admin.display(description=_("launch number (上线编号)"))
    def launch_number(self, obj: Service) -> str:
        return obj.filing_number or "-"

    @admin.display(description=_("who it serves"))
    def who_it_serves(self, obj: Service) -> str:
        return service_audience(obj)

    @admin.display(description=_("filing readiness"))
    def readiness_shown(self, obj: Service) -> str:
        missing = [item for item in readiness_checklist(obj) if not item.ok]
        if not missing:
            return format_html('<span class="status-good">{}</span>', gettext("complete"))
        return format_html(
            '<span class="status-bad" title="{}">{}</span>',
            "; ".join(str(item.title) for item in missing),
            ngettext("%(n)d item missing", "%(n)d items missing", len(missing)) % {"n": len(missing)},
        )

    def save_model(self, request: HttpRequest, obj: Service, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if obj.called_model_number and "called_model_number" in form.changed_data:
            number_warning(self, request, obj.called_model_number)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        service = form.instance
        before = set(service.testers.values_list("username", flat=True)) if change else set()
        super().save_related(request, form, formsets, change)
        services.service_testers_recorded(service=service, before=before, actor=request.user, request=request)

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
                refusal_show(self, request, exc)
            else:
                self.message_user(
                    request, gettext("“%(s)s” is now the public service.") % {"s": service}, messages.SUCCESS
                )
            return HttpResponseRedirect(change_url)
        return self.page_response(
            request,
            "admin/filing/service/public.html",
            _("Make this the public service"),
            original=service,
            change_url=change_url,
            current=service_public(),
            audience=service_audience(service),
            records=service_generators(service),
        )

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None) -> Any:
        extra_context = dict(extra_context or {})
        service = self.get_object(request, object_id)
        if service is not None:
            checklist = readiness_checklist(service)
            extra_context["readiness"] = checklist
            extra_context["readiness_blockers"] = sum(1 for item in checklist if not item.ok)
            refusal = self.signoff_refusal(request, service)
            extra_context["four_eyes_refusal"] = refusal
            # A step the operator may not take (four eyes) is shown disabled, its title saying why.
            extra_context["workflow_steps"] = [
                (action, label, refusal if action == "submit" else None)
                for action, (label, _form) in WORKFLOW_STEPS.items()
                if service.status in services.TRANSITIONS[action][0]
            ]
            extra_context["exports"] = service.exports.all()[:5]
            extra_context["public_url"] = (
                None if service.is_public else reverse("admin:filing_service_public", args=[service.pk])
            )
        return super().change_view(request, object_id, form_url, extra_context)

    signoff_step = "submit"

    def signoff_pending(self, obj: Service) -> bool:
        return obj.status in services.TRANSITIONS["submit"][0]

    def step_view(self, request: HttpRequest, pk: int, action: str) -> HttpResponse:
        if action not in WORKFLOW_STEPS:
            raise PermissionDenied
        service = get_object_or_404(Service, pk=pk)
        if not self.has_change_permission(request, service):
            raise PermissionDenied
        label, form_class = WORKFLOW_STEPS[action]
        change_url = reverse("admin:filing_service_change", args=[service.pk])
        form = form_class(request.POST or None) if form_class else None
        if isinstance(form, FiledForm):
            form.fields["filing_number"].label = number_label(service)
        if request.method == "POST" and (form is None or form.is_valid()):
            try:
                warning = _step_run(action, service, form.cleaned_data if form else {}, request.user, request)
            except services.FilingError as exc:
                refusal_show(self, request, exc)
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
        return self.page_response(
            request,
            "admin/filing/service/step.html",
            label,
            original=service,
            form=form,
            change_url=change_url,
            # Deregistering the public service stops it for everyone.
            stops_public=service.is_public and action == "deregister" and service.may_serve,
            refusal=self.signoff_refusal(request, service) if action == "submit" else None,
        )

    @admin.action(description=_("Export the filing package (background job)"))
    def export_package(self, request: HttpRequest, queryset: Any) -> None:
        for service in queryset:
            export = filing_export_request(service=service, actor=request.user)
            url = reverse("admin:filing_filingexport_change", args=[export.pk])
            if export.status == FilingExport.Status.FAILED:
                self.message_user(request, f"{service}: {export.error}", messages.ERROR)
                continue
            open_items = package_open_items(service)
            if not open_items:
                self.message_user(
                    request,
                    format_html(
                        gettext('Package of “{}” queued: follow it on <a href="{}">its export page</a>.'), service, url
                    ),
                    messages.SUCCESS,
                )
                continue
            # Exported all the same, as a draft: every file of it says so, and so does this warning.
            self.message_user(
                request,
                format_html(
                    "{}<ul>{}</ul>",
                    format_html(
                        gettext(
                            'Package of “{}” queued as a DRAFT (follow it on <a href="{}">its export page</a>): '
                            "{} readiness item(s) are open, and every document is marked 草稿 until they are done:"
                        ),
                        service,
                        url,
                        len(open_items),
                    ),
                    format_html_join("", "<li>{}</li>", ((line,) for line in open_items)),
                ),
                messages.WARNING,
            )

    @admin.action(description=_("Submit the filing of the selected services"))
    @each_selected(_step_done)
    def submit_selected(self, request: HttpRequest, service: Service) -> None:
        _step_run("submit", service, {}, request.user, request)

    @admin.action(description=_("Mark the selected services self-assessed"))
    @each_selected(_step_done)
    def self_assess_selected(self, request: HttpRequest, service: Service) -> None:
        _step_run("self_assess", service, {}, request.user)
