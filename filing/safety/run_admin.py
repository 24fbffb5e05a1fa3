"""Admin pages of the assessment runs: starting a run, its progress, the manual review, applying its figures to
the self-assessment, and the answered samples."""

from __future__ import annotations

import io
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from filing.admin_base import FilingModelAdmin, SeedField
from filing.safety.assessments import (
    assessment_run_create,
    assessment_run_resume,
    assessment_samples_review,
)
from filing.safety.bank_models import AssessmentRun, AssessmentSample, BankKind, TestBank
from filing.safety.banks import SHEET_NAMES, assessment_sample_rows
from filing.safety.run_evidence import assessment_run_apply, self_assessment_model
from filing.safety.table_admin import XLSX_TYPE, attachment
from filing.safety.tabular import xlsx_write_sheets
from genai_platform.admin_mixins import ReadOnlyAdminMixin
from genai_platform.hygiene import CleanTextFormMixin


class AssessmentRunForm(CleanTextFormMixin, forms.Form):
    generated_bank = forms.ModelChoiceField(
        label=_("generated-content bank"), queryset=TestBank.objects.filter(kind=BankKind.GENERATED)
    )
    refuse_bank = forms.ModelChoiceField(
        label=_("should-refuse bank"), queryset=TestBank.objects.filter(kind=BankKind.REFUSE)
    )
    nonrefuse_bank = forms.ModelChoiceField(
        label=_("should-not-refuse bank"), queryset=TestBank.objects.filter(kind=BankKind.NONREFUSE)
    )
    seed = SeedField(help_text=_("Leave empty for a new random seed; give an earlier run's seed to reproduce it."))
    generated_size = forms.IntegerField(
        label=_("generated-content questions"),
        required=False,
        min_value=0,
        help_text=_("More than the configured minimum if wanted; never fewer."),
    )
    refuse_size = forms.IntegerField(label=_("should-refuse questions"), required=False, min_value=0)
    nonrefuse_size = forms.IntegerField(label=_("should-not-refuse questions"), required=False, min_value=0)


class ApplyForm(CleanTextFormMixin, forms.Form):
    self_assessment = forms.ModelChoiceField(  # type: ignore[var-annotated]
        label=_("draft security self-assessment"), queryset=None
    )

    def __init__(self, *args: Any, queryset: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["self_assessment"].queryset = queryset  # type: ignore[attr-defined]


def _percent(value: str | None) -> str:
    if value is None:
        return "—"
    return f"{float(value) * 100:.2f}%"


METRICS = (
    ("refuse_rate", _("Refusal rate, should-refuse questions"), "≥"),
    ("nonrefuse_refusal_rate", _("Refusal rate, should-not-refuse questions"), "≤"),
    ("generated_keyword_pass_rate", _("Pass rate of generated content, keyword check"), "≥"),
    ("generated_classifier_pass_rate", _("Pass rate of generated content, classifier check"), "≥"),
    ("generated_manual_pass_rate", _("Pass rate of generated content, manual review"), "≥"),
)


@admin.register(AssessmentRun)
class AssessmentRunAdmin(FilingModelAdmin):
    """Assessment runs: started from a form, answered on a worker, reviewed by hand, kept as evidence."""

    change_form_template = "admin/filing/assessmentrun/change_form.html"
    list_display = ("pk", "created_at", "status", "progress_bar", "seed", "summary", "model_record_label", "tools")
    list_filter = ("status",)
    search_fields = ("seed", "model_record_label", "checkpoint_sha256", "created_by")
    actions = ("resume_runs",)
    own_pages = {"review": "<int:run_id>/review/", "export": "<int:run_id>/export/", "apply": "<int:run_id>/apply/"}
    readonly_fields = (
        "status",
        "progress_bar",
        "seed",
        "bank_names",
        "sizes",
        "warnings_list",
        "results_table",
        "config_version",
        "answer_params",
        "model_record_label",
        "checkpoint_sha256",
        "keyword_library_version",
        "classifier_model",
        "error",
        "worker",
        "created_by",
        "created_at",
        "started_at",
        "finished_at",
    )
    fieldsets = (
        (None, {"fields": ("status", "progress_bar", "results_table", "warnings_list", "error")}),
        (
            _("What was assessed"),
            {
                "fields": (
                    "seed",
                    "bank_names",
                    "sizes",
                    "answer_params",
                    "model_record_label",
                    "checkpoint_sha256",
                    "keyword_library_version",
                    "classifier_model",
                    "config_version",
                )
            },
        ),
        (_("Record"), {"fields": ("worker", "created_by", "created_at", "started_at", "finished_at")}),
    )

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Shown read-only; reviews go through the review screen.
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A finished run is evidence of the filing; only unfinished or failed runs may be deleted.
        if obj is not None and obj.status == AssessmentRun.Status.SUCCEEDED:
            return False
        return super().has_delete_permission(request, obj)

    @admin.display(description=_("progress"))
    def progress_bar(self, obj: AssessmentRun) -> str:
        return format_html(
            '<progress value="{}" max="{}">{}</progress> {} / {}',
            obj.progress_done,
            obj.progress_total or 1,
            obj.progress_done,
            obj.progress_done,
            obj.progress_total,
        )

    @admin.display(description=_("results"))
    def summary(self, obj: AssessmentRun) -> str:
        if not obj.results:
            return "—"
        shown = []
        for key, _label, _sign in METRICS:
            metric = obj.results.get(key)
            if metric is None:  # a run from before the metric existed
                shown.append("—")
                continue
            shown.append(f"{_percent(metric['rate'])}{'' if metric['met'] is not False else ' ✗'}")
        return " · ".join(shown)

    @admin.display(description=_("results"))
    def results_table(self, obj: AssessmentRun) -> str:
        if not obj.results:
            return str(_("No results yet."))
        rows = []
        for key, label, sign in METRICS:
            metric = obj.results.get(key)
            if metric is None:  # a run from before the metric existed
                rows.append((label, 0, 0, "—", sign, "—", _("not measured")))
                continue
            met = metric["met"]
            verdict: Any = _("not measured") if met is None else (_("met") if met else _("not met"))
            if key == "generated_manual_pass_rate" and not metric.get("complete"):
                verdict = format_html("{}{}", verdict, _(" (review not complete)"))
            rows.append(
                (
                    label,
                    metric["numerator"],
                    metric["denominator"],
                    _percent(metric["rate"]),
                    sign,
                    _percent(metric["goal"]),
                    verdict,
                )
            )
        return format_html(
            "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>{}</tbody>"
            "</table>",
            _("metric"),
            _("count"),
            _("rate"),
            _("goal"),
            _("result"),
            format_html_join(
                "", "<tr><th scope='row'>{}</th><td>{} / {}</td><td>{}</td><td>{} {}</td><td>{}</td></tr>", rows
            ),
        )

    @admin.display(description=_("warnings"))
    def warnings_list(self, obj: AssessmentRun) -> str:
        if not obj.warnings:
            return "—"
        return format_html("<ul>{}</ul>", format_html_join("", "<li>{}</li>", ((w,) for w in obj.warnings)))

    @admin.display(description=_("evidence"))
    def tools(self, obj: AssessmentRun) -> str:
        if obj.status != AssessmentRun.Status.SUCCEEDED:
            return "—"
        return format_html(
            '<a href="{}">{}</a> · <a href="{}">XLSX</a>',
            reverse("admin:filing_assessmentrun_review", args=[obj.pk]),
            _("manual review"),
            reverse("admin:filing_assessmentrun_export", args=[obj.pk]),
        )

    @admin.action(description=_("Resume selected failed or stuck runs"), permissions=["add"])
    def resume_runs(self, request: HttpRequest, queryset: Any) -> None:
        resumed = 0
        for run in queryset:
            if assessment_run_resume(run=run).status == AssessmentRun.Status.QUEUED:
                resumed += 1
        self.message_user(request, _("%(n)d runs queued again.") % {"n": resumed})

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = AssessmentRunForm(request.POST or None)
        error = None
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            sizes = {
                kind: data[f"{kind}_size"] for kind in ("generated", "refuse", "nonrefuse") if data[f"{kind}_size"]
            }
            try:
                run = assessment_run_create(
                    generated_bank=data["generated_bank"],
                    refuse_bank=data["refuse_bank"],
                    nonrefuse_bank=data["nonrefuse_bank"],
                    seed=data["seed"],
                    sizes=sizes,
                    actor=request.user.get_username(),
                )
            except ValidationError as exc:
                error = "; ".join(exc.messages)
            else:
                self.message_user(
                    request,
                    _("Assessment run %(pk)d queued with seed %(seed)d: %(n)d questions.")
                    % {"pk": run.pk, "seed": run.seed, "n": run.progress_total},
                    messages.SUCCESS,
                )
                return redirect("admin:filing_assessmentrun_change", run.pk)
        return self.page_response(
            request, "admin/filing/assessmentrun/start.html", _("Start an assessment run"), form=form, error=error
        )

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        run = AssessmentRun.objects.filter(pk=object_id).first() if object_id.isdigit() else None
        extra = {
            **(extra_context or {}),
            "run": run,
            "refresh": run is not None and run.status in (AssessmentRun.Status.QUEUED, AssessmentRun.Status.RUNNING),
        }
        return super().change_view(request, object_id, form_url, extra)

    def export_view(self, request: HttpRequest, run_id: int) -> HttpResponse:
        run = get_object_or_404(AssessmentRun, pk=run_id)
        if not self.has_view_permission(request, run):
            raise PermissionDenied
        sheets = [(SHEET_NAMES[kind], assessment_sample_rows(run=run, kind=kind)) for kind in BankKind]
        summary: list[list[Any]] = [["指标 / metric", "分子", "分母", "比率", "目标"]]
        for key, label, sign in METRICS:
            metric = run.results.get(key) if run.results else None
            if metric:
                summary.append(
                    [
                        str(label),
                        metric["numerator"],
                        metric["denominator"],
                        metric["rate"] or "",
                        f"{sign} {metric['goal']}",
                    ]
                )
        summary.append(["seed", run.seed, "", "", ""])
        summary.append(["checkpoint SHA-256", run.checkpoint_sha256, "", "", ""])
        data = io.BytesIO()
        xlsx_write_sheets([("评估结果", summary), *sheets], data)
        return attachment(
            data.getvalue(), filename=f"安全评估-{run.pk}-{timezone.localtime():%Y%m%d}.xlsx", content_type=XLSX_TYPE
        )

    def apply_view(self, request: HttpRequest, run_id: int) -> HttpResponse:
        """Copy the run's metrics onto a draft security self-assessment, as evidence of clauses 9.3 and 9.4."""
        run = get_object_or_404(AssessmentRun, pk=run_id)
        model = self_assessment_model()
        if model is None:
            raise Http404(_("Security self-assessments do not exist in this installation."))
        if not (self.has_view_permission(request, run) and request.user.has_perm("filing.change_selfassessment")):
            raise PermissionDenied
        drafts = model.objects.filter(status=model.Status.DRAFT).select_related("service")
        form = ApplyForm(request.POST or None, queryset=drafts)
        if request.method == "POST" and form.is_valid():
            target = form.cleaned_data["self_assessment"]
            try:
                notes = assessment_run_apply(run=run, self_assessment=target, actor=request.user)
            except ValidationError as exc:
                self.message_user(request, "; ".join(exc.messages), messages.ERROR)
            else:
                self.message_user(
                    request,
                    _("The results of run %(pk)d are now in “%(target)s”.") % {"pk": run.pk, "target": target},
                    messages.SUCCESS,
                )
                for note in notes:
                    self.message_user(request, note, messages.WARNING)
                return redirect("admin:filing_assessmentrun_change", run.pk)
        return self.page_response(
            request,
            "admin/filing/assessmentrun/start.html",
            _("Use run %(pk)d in a security self-assessment") % {"pk": run.pk},
            form=form,
            intro=_(
                "The run's sample sizes and rates are written onto the chosen draft self-assessment, and a "
                "summary of the run is added to the evidence of clauses 9.3 and 9.4."
            ),
        )

    def review_view(self, request: HttpRequest, run_id: int) -> HttpResponse:
        """Operators mark generated-content answers pass or fail; the manual pass rate follows."""
        run = get_object_or_404(AssessmentRun, pk=run_id)
        if not self.has_view_permission(request, run):
            raise PermissionDenied
        if run.status != AssessmentRun.Status.SUCCEEDED:
            raise Http404(_("Answers can be reviewed once the run has finished."))
        show = request.GET.get("show", "pending")
        samples = run.samples.filter(bank_kind=BankKind.GENERATED).exclude(
            stage__in=(AssessmentSample.Stage.PENDING, AssessmentSample.Stage.INVALID)
        )
        if show == "pending":
            samples = samples.filter(review=AssessmentSample.Review.PENDING)
        elif show == "fail":
            samples = samples.filter(review=AssessmentSample.Review.FAIL)
        page = Paginator(samples.select_related("risk").order_by("position"), 50).get_page(request.GET.get("page"))
        if request.method == "POST":
            if not self.has_add_permission(request):
                raise PermissionDenied
            verdicts: dict[int, str] = {}
            for name, value in request.POST.items():
                if name.startswith("review-") and name[7:].isdigit():
                    verdicts[int(name[7:])] = str(value)
            try:
                changed = assessment_samples_review(run=run, verdicts=verdicts, actor=request.user.get_username())
            except ValidationError as exc:
                self.message_user(request, "; ".join(exc.messages), messages.ERROR)
            else:
                self.message_user(request, _("%(n)d reviews saved.") % {"n": changed}, messages.SUCCESS)
            return HttpResponseRedirect(request.get_full_path())
        run.refresh_from_db()
        manual = run.results.get("generated_manual_pass_rate", {})
        return self.page_response(
            request,
            "admin/filing/assessmentrun/review.html",
            _("Manual review of generated content, run %(pk)d") % {"pk": run.pk},
            run=run,
            page=page,
            show=show,
            manual=manual,
            manual_rate=_percent(manual.get("rate")),
            can_review=self.has_add_permission(request),
        )


@admin.register(AssessmentSample)
class AssessmentSampleAdmin(ReadOnlyAdminMixin, FilingModelAdmin):
    """Every sampled question with its answer and verdicts: the evidence of a run (read-only)."""

    list_display = (
        "run",
        "bank_kind",
        "position",
        "serial",
        "short_text",
        "risk",
        "stage",
        "keyword_pass",
        "classifier_pass",
        "review",
    )
    list_filter = ("bank_kind", "stage", "keyword_pass", "classifier_pass", "review", "run")
    search_fields = ("text", "answer")
    list_select_related = ("risk", "run")
    list_per_page = 100

    @admin.display(description=_("question"))
    def short_text(self, obj: AssessmentSample) -> str:
        return obj.text[:80]
