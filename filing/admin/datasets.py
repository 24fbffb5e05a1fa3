"""Datasets with their provenance, and the source safety checks."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from filing import services
from filing.admin.common import FileInline, file_download, refusal_show
from filing.admin.review import CorpusSampleAdmin, SampleReviewAdmin
from filing.admin_base import FilingModelAdmin, SeedField
from filing.models import (
    CorpusCheck,
    CorpusFinding,
    CorpusReview,
    Dataset,
    DatasetEvidence,
    SafetyCheck,
)
from filing.selectors import dataset_lineage, percent
from genai_platform.admin_mixins import ReadOnlyAdminMixin


class EvidenceInline(FileInline):
    model = DatasetEvidence
    extra = 1
    fields = ("kind", "file", "note", "uploaded_at", "download")
    readonly_fields = ("uploaded_at", "download")
    download_url_name = "admin:filing_dataset_evidence_download"


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


class DatasetForm(forms.ModelForm):
    """The dataset's fields, and the exemption from the source safety check as a written reason (recorded through
    ``services.dataset_check_exempt`` with who and when; emptied, it is withdrawn)."""

    check_exemption = forms.CharField(
        label=_("why it needs no source safety check"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_(
            "Training refuses a dataset without a passed source safety check unless a reason is written here (for "
            "example: an openly licensed public data set of handwritten digits). Empty it to withdraw the exemption."
        ),
    )

    class Meta:
        model = Dataset
        # What the admin's fieldsets show and may change.
        fields = (
            "name",
            "source_type",
            "origin",
            "source",
            "services",
            "model_records",
            "licence",
            "licence_text",
            "collection_start",
            "collection_end",
            "items",
            "size_bytes",
            "language_share",
            "annotated",
            "contains_personal_information",
            "personal_information_legal_basis",
        )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            self.fields["check_exemption"].initial = self.instance.check_exempt_reason

    def clean_check_exemption(self) -> str:
        reason = (self.cleaned_data.get("check_exemption") or "").strip()
        if reason and self.instance.safety_status == Dataset.SafetyStatus.FAILED:
            raise forms.ValidationError(
                _(
                    "This dataset failed its source safety check and cannot be exempted; only a check that passes "
                    "clears it."
                )
            )
        return reason


@admin.register(Dataset)
class DatasetAdmin(FilingModelAdmin):
    form = DatasetForm
    list_display = (
        "name",
        "source_type",
        "origin",
        "items",
        "size_bytes",
        "safety_status_shown",
        "evidence_count",
        "services_shown",
    )
    list_filter = ("source_type", "origin", "safety_status", "annotated", "contains_personal_information", "services")
    search_fields = ("name", "source", "sha256", "licence")
    readonly_fields = (
        "sha256",
        "safety_status",
        "check_exempt_by",
        "check_exempt_at",
        "lineage",
        "created_at",
        "updated_at",
    )
    filter_horizontal = ("services", "model_records")
    actions = ("start_safety_check",)
    inlines = (EvidenceInline, SafetyCheckInline)
    own_pages = {"evidence_download": "evidence/<int:pk>/download/"}
    fieldsets = (
        (None, {"fields": ("name", ("source_type", "origin"), "source", "sha256")}),
        (
            _("Used by"),
            {
                "fields": ("services", "model_records"),
                "description": _(
                    "The services and model records that use it. A service's 语料来源表 lists the datasets linked "
                    "here, those of its model records, and those its training runs named."
                ),
            },
        ),
        (_("Licence"), {"fields": ("licence", "licence_text")}),
        (
            _("Collection and size"),
            {"fields": (("collection_start", "collection_end"), ("items", "size_bytes"), "language_share")},
        ),
        (_("Personal information"), {"fields": ("contains_personal_information", "personal_information_legal_basis")}),
        (_("Annotation"), {"fields": ("annotated",)}),
        (
            _("Source safety"),
            {"fields": ("safety_status", "check_exemption", ("check_exempt_by", "check_exempt_at"))},
        ),
        (_("Lineage"), {"fields": ("lineage",)}),
        (_("Record"), {"fields": ("created_at", "updated_at"), "classes": ("collapse",)}),
    )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # The fingerprint names the bytes: entered once, when the record is made, then fixed.
        fields = tuple(self.readonly_fields)
        return fields if obj is not None else tuple(f for f in fields if f != "sha256")

    def get_queryset(self, request: HttpRequest) -> Any:
        from django.db.models import Count

        return super().get_queryset(request).annotate(evidence_n=Count("evidence")).prefetch_related("services")

    def save_model(self, request: HttpRequest, obj: Dataset, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        reason = form.cleaned_data.get("check_exemption", "")
        if reason == obj.check_exempt_reason:
            return
        try:
            if reason:
                services.dataset_check_exempt(dataset=obj, reason=reason, actor=request.user)
            else:
                services.dataset_check_exemption_withdraw(dataset=obj, actor=request.user)
        except services.FilingError as exc:
            refusal_show(self, request, exc)
        obj.refresh_from_db()

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        # The links are set by the service, which records the change in the dataset's history.
        links = {name: form.cleaned_data.pop(name, None) for name in ("services", "model_records")}
        super().save_related(request, form, formsets, change)
        if links["services"] is not None and links["model_records"] is not None:
            services.dataset_links_set(
                dataset=form.instance,
                services=links["services"],
                model_records=links["model_records"],
                actor=request.user,
            )

    @admin.display(description=_("services"))
    def services_shown(self, obj: Dataset) -> str:
        return ", ".join(s.name for s in obj.services.all()) or "—"

    def evidence_download_view(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        evidence = get_object_or_404(DatasetEvidence, pk=pk)
        return file_download(self, request, evidence.file, owner=evidence.dataset)

    @admin.display(description=_("evidence files"), ordering="evidence_n")
    def evidence_count(self, obj: Dataset) -> int:
        return getattr(obj, "evidence_n", 0)

    @admin.display(description=_("source safety"), ordering="safety_status")
    def safety_status_shown(self, obj: Dataset) -> str:
        if obj.safety_status == Dataset.SafetyStatus.FAILED:
            return format_html('<strong class="status-bad">{}</strong>', obj.get_safety_status_display())
        if obj.safety_status != Dataset.SafetyStatus.PASSED and obj.check_exempt:
            return format_html(
                '<span title="{}">{}</span>', obj.check_exempt_reason, gettext("exempted from the check")
            )
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
class SafetyCheckAdmin(SampleReviewAdmin):
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
    review_related = ("dataset",)
    review_template = "admin/filing/safetycheck/review.html"

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

    def review_finish(self, sample: SafetyCheck, actor: Any) -> None:
        services.safety_check_finish(check=sample, actor=actor)

    def review_finished_message(self, sample: SafetyCheck) -> tuple[str, int]:
        level = messages.SUCCESS if sample.status == SafetyCheck.Status.PASSED else messages.ERROR
        return gettext("Check finished: %(status)s, illegal share %(ratio)s (maximum %(max)s).") % {
            "status": sample.get_status_display(),
            "ratio": percent(sample.illegal_ratio),
            "max": percent(sample.threshold),
        }, level

    def review_record(self, sample: SafetyCheck, verdicts: list[services.VerdictInput], actor: Any) -> int:
        return services.safety_check_verdicts_record(check=sample, verdicts=verdicts, actor=actor)

    def review_title(self, sample: SafetyCheck) -> str:
        return gettext("Source safety check of “%(d)s”") % {"d": sample.dataset.name}

    def review_context(self, sample: SafetyCheck) -> dict[str, Any]:
        return {
            "check": sample,
            "threshold": percent(sample.threshold),
            "editable": sample.status == SafetyCheck.Status.IN_REVIEW,
        }


class CorpusCheckForm(forms.ModelForm):
    seed = SeedField(
        help_text=_("Leave empty for a new random seed; give an earlier check's seed to draw the same sample.")
    )

    class Meta:
        model = CorpusCheck
        fields = ("service",)


class CorpusFindingInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = CorpusFinding
    extra = 0
    fields = ("dataset", "item_index", "excerpt", "keyword_pass", "classifier_pass", "flags")
    readonly_fields = fields


def rate_shown(metric: dict[str, Any] | None) -> str:
    """A rate with its count, as ``n/N = r%``; "not measured" when nothing was judged."""
    if not metric or metric.get("rate") is None:
        return gettext("not measured")
    return f"{metric['numerator']}/{metric['denominator']} = {percent(Decimal(metric['rate']))}"


@admin.register(CorpusCheck)
class CorpusCheckAdmin(CorpusSampleAdmin):
    """The whole-corpus technical sample (TC260-003 §9.2 b)): started here, run on a worker, kept as evidence."""

    form = CorpusCheckForm
    list_display = ("pk", "service", "created_at", "status", "sampled", "keyword_rate", "classifier_rate", "pass_rate")
    list_filter = ("status", "service")
    list_select_related = ("service",)
    inlines = (CorpusFindingInline,)
    readonly_fields = (
        "status",
        "results_table",
        "datasets_table",
        "warnings_list",
        "error",
        "seed",
        "sample_ratio",
        "goal",
        "config_version",
        "population",
        "sampled",
        "keyword_library_version",
        "classifier_model",
        "created_by",
        "created_at",
        "finished_at",
    )

    def get_inline_instances(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        return super().get_inline_instances(request, obj) if obj is not None else []

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A finished check is evidence of the self-assessment.
        if obj is not None and obj.status == CorpusCheck.Status.SUCCEEDED:
            return False
        return super().has_delete_permission(request, obj)

    def sample_start(self, *, service: Any, actor: Any, seed: int | None) -> CorpusCheck:
        return services.corpus_check_create(service=service, actor=actor, seed=seed)

    @admin.display(description=_("keyword pass rate"))
    def keyword_rate(self, obj: CorpusCheck) -> str:
        return rate_shown(obj.results.get("keyword_pass_rate"))

    @admin.display(description=_("classifier pass rate"))
    def classifier_rate(self, obj: CorpusCheck) -> str:
        return rate_shown(obj.results.get("classifier_pass_rate"))

    @admin.display(description=_("pass rate (both layers)"))
    def pass_rate(self, obj: CorpusCheck) -> str:
        return rate_shown(obj.results.get("pass_rate"))

    @admin.display(description=_("results"))
    def results_table(self, obj: CorpusCheck) -> str:
        if not obj.results:
            return gettext("No results yet.")
        rows = []
        for key, label in (
            ("keyword_pass_rate", gettext("keyword pass rate")),
            ("classifier_pass_rate", gettext("classifier pass rate")),
            ("pass_rate", gettext("pass rate (both layers)")),
        ):
            metric = obj.results.get(key)
            met = None if not metric else metric.get("met")
            verdict = gettext("not measured") if met is None else (gettext("met") if met else gettext("not met"))
            rows.append((label, rate_shown(metric), percent(obj.goal), verdict))
        return format_html(
            "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>{}</tbody></table>",
            gettext("metric"),
            gettext("count and rate"),
            gettext("goal (at least)"),
            gettext("result"),
            format_html_join("", "<tr><th scope='row'>{}</th><td>{}</td><td>{}</td><td>{}</td></tr>", rows),
        )

    @admin.display(description=_("data sets"))
    def datasets_table(self, obj: CorpusCheck) -> str:
        if not obj.datasets:
            return "—"
        return format_html(
            "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>{}</tbody></table>",
            gettext("dataset"),
            gettext("items"),
            gettext("items sampled"),
            gettext("items screened"),
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                ((d["name"], d["items"] or "—", d["sampled"], d["screened"]) for d in obj.datasets),
            ),
        )

    @admin.display(description=_("warnings"))
    def warnings_list(self, obj: CorpusCheck) -> str:
        if not obj.warnings:
            return "—"
        return format_html("<ul>{}</ul>", format_html_join("", "<li>{}</li>", ((w,) for w in obj.warnings)))


class CorpusReviewForm(forms.ModelForm):
    seed = SeedField(
        help_text=_("Leave empty for a new random seed; give an earlier assessment's seed to draw the same sample.")
    )

    class Meta:
        model = CorpusReview
        fields = ("service",)


@admin.register(CorpusReview)
class CorpusReviewAdmin(CorpusSampleAdmin, SampleReviewAdmin):
    """The whole-corpus manual sample (TC260-003 §9.2 a)): drawn here from all the service's training data, judged
    item by item on its review page, kept as the evidence of the self-assessment's corpus manual pass rate."""

    form = CorpusReviewForm
    list_display = ("pk", "service", "started_at", "sample_size", "status", "failed_count", "rate_shown", "goal_shown")
    list_filter = ("status", "service")
    list_select_related = ("service",)
    readonly_fields = (
        "status",
        "rate_shown",
        "goal_shown",
        "failed_count",
        "review_link",
        "datasets_table",
        "seed",
        "population",
        "sample_size",
        "sample_min",
        "config_version",
        "started_by",
        "started_at",
        "finished_by",
        "finished_at",
    )
    review_related = ("service",)
    review_items_related = ("dataset",)
    review_template = "admin/filing/corpusreview/review.html"

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A finished assessment is evidence of the self-assessment.
        if obj is not None and obj.status != CorpusReview.Status.IN_REVIEW:
            return False
        return super().has_delete_permission(request, obj)

    def sample_start(self, *, service: Any, actor: Any, seed: int | None) -> CorpusReview:
        return services.corpus_review_start(service=service, actor=actor, seed=seed)

    def response_add(self, request: HttpRequest, obj: CorpusReview, post_url_continue: Any = None) -> HttpResponse:
        return redirect("admin:filing_corpusreview_review", obj.pk)

    @admin.display(description=_("pass rate"), ordering="pass_rate")
    def rate_shown(self, obj: CorpusReview) -> str:
        return percent(obj.pass_rate)

    @admin.display(description=_("goal (at least)"))
    def goal_shown(self, obj: CorpusReview) -> str:
        return percent(obj.goal)

    @admin.display(description=_("review"))
    def review_link(self, obj: CorpusReview) -> str:
        url = reverse("admin:filing_corpusreview_review", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, gettext("Review the sample"))

    @admin.display(description=_("data sets"))
    def datasets_table(self, obj: CorpusReview) -> str:
        if not obj.datasets:
            return "—"
        return format_html(
            "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>{}</tbody></table>",
            gettext("dataset"),
            gettext("items"),
            gettext("items sampled"),
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                ((d["name"], d["items"], d["sampled"]) for d in obj.datasets),
            ),
        )

    def review_finish(self, sample: CorpusReview, actor: Any) -> None:
        services.corpus_review_finish(review=sample, actor=actor)

    def review_finished_message(self, sample: CorpusReview) -> tuple[str, int]:
        level = messages.SUCCESS if sample.status == CorpusReview.Status.MET else messages.ERROR
        return gettext("Assessment finished: %(status)s, pass rate %(rate)s (goal %(goal)s).") % {
            "status": sample.get_status_display(),
            "rate": percent(sample.pass_rate),
            "goal": percent(sample.goal),
        }, level

    def review_record(self, sample: CorpusReview, verdicts: list[services.VerdictInput], actor: Any) -> int:
        return services.corpus_review_verdicts_record(review=sample, verdicts=verdicts, actor=actor)

    def review_title(self, sample: CorpusReview) -> str:
        return gettext("Manual assessment of the corpus of “%(s)s”") % {"s": sample.service}

    def review_context(self, sample: CorpusReview) -> dict[str, Any]:
        return {
            "review": sample,
            "goal": percent(sample.goal),
            "rate": percent(sample.pass_rate) if sample.pass_rate is not None else "",
            "editable": sample.status == CorpusReview.Status.IN_REVIEW,
        }
