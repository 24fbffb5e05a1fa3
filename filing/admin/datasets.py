"""Datasets with their provenance, and the source safety checks."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from filing import services
from filing.admin.common import download_link, file_download, refusal_show
from filing.admin_base import FilingModelAdmin
from filing.models import Dataset, DatasetEvidence, SafetyCheck, SampleItem
from filing.safety.models import Risk
from filing.selectors import dataset_lineage, percent


class EvidenceInline(admin.TabularInline):
    model = DatasetEvidence
    extra = 1
    fields = ("kind", "file", "note", "uploaded_at", "download")
    readonly_fields = ("uploaded_at", "download")

    @admin.display(description=_("download"))
    def download(self, obj: DatasetEvidence) -> str:
        return download_link("admin:filing_dataset_evidence_download", obj.pk) if obj.pk and obj.file else "—"


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
class DatasetAdmin(FilingModelAdmin):
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
        return file_download(request, evidence.file)

    @admin.display(description=_("evidence files"), ordering="evidence_n")
    def evidence_count(self, obj: Dataset) -> int:
        return getattr(obj, "evidence_n", 0)

    @admin.display(description=_("source safety"), ordering="safety_status")
    def safety_status_shown(self, obj: Dataset) -> str:
        if obj.safety_status == Dataset.SafetyStatus.FAILED:
            return format_html('<strong class="status-bad">{}</strong>', obj.get_safety_status_display())
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
                refusal_show(self, request, exc)
        if len(started) == 1:
            return redirect("admin:filing_safetycheck_review", started[0].pk)
        for check in started:
            self.message_user(request, gettext("Sample drawn: %(c)s.") % {"c": check}, messages.SUCCESS)
        return None


@admin.register(SafetyCheck)
class SafetyCheckAdmin(FilingModelAdmin):
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
                refusal_show(self, request, exc)
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
