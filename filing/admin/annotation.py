"""Annotation records (TC260-003 §5.3): rules, annotators, annotation tasks with their spot checks."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from filing import services
from filing.admin_base import FilingModelAdmin
from filing.models import AnnotationRule, AnnotationTask, Annotator, SpotCheck
from filing.selectors import annotation_risks_uncovered, percent


class AnnotationRuleForm(forms.ModelForm):
    """A rule names what it governs (a service or datasets); a safety rule names its risks, a functional none."""

    class Meta:
        model = AnnotationRule
        fields = (
            "kind",
            "name",
            "version",
            "in_force",
            "effective_on",
            "service",
            "datasets",
            "goal",
            "data_format",
            "method",
            "quality_indicators",
            "risks",
        )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        kind = cleaned.get("kind")
        if kind:
            try:
                services.annotation_rule_links_check(
                    kind=kind,
                    has_target=cleaned.get("service") is not None or bool(cleaned.get("datasets")),
                    risks=list(cleaned.get("risks") or []),
                )
            except services.FilingError as exc:
                raise forms.ValidationError(str(exc)) from exc
        return cleaned


@admin.register(AnnotationRule)
class AnnotationRuleAdmin(FilingModelAdmin):
    form = AnnotationRuleForm
    list_display = ("name", "version", "kind", "service", "risk_count", "in_force", "effective_on")
    list_filter = ("kind", "in_force", "service")
    search_fields = ("name", "goal")
    list_select_related = ("service",)
    filter_horizontal = ("datasets", "risks")
    readonly_fields = ("coverage", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": (("kind", "name", "version"), ("in_force", "effective_on"))}),
        (_("What it governs"), {"fields": ("service", "datasets")}),
        (_("The rules"), {"fields": ("goal", "data_format", "method", "quality_indicators")}),
        (_("Risks covered (safety annotation)"), {"fields": ("risks", "coverage")}),
        (_("Record"), {"fields": ("created_at", "updated_at"), "classes": ("collapse",)}),
    )

    def get_queryset(self, request: HttpRequest) -> Any:
        from django.db.models import Count

        return super().get_queryset(request).annotate(risk_n=Count("risks"))

    @admin.display(description=_("risks"), ordering="risk_n")
    def risk_count(self, obj: AnnotationRule) -> int:
        return getattr(obj, "risk_n", 0)

    @admin.display(description=_("coverage of the service's safety rules"))
    def coverage(self, obj: AnnotationRule) -> str:
        if obj.pk is None or obj.service is None:
            return "—"
        uncovered = annotation_risks_uncovered(obj.service)
        if not uncovered:
            return gettext("All risks are covered by the safety rules in force.")
        return format_html(
            '<strong class="status-bad">{}</strong>',
            ngettext(
                "Not covered: %(n)d risk (%(codes)s).",
                "Not covered: %(n)d risks (%(codes)s).",
                len(uncovered),
            )
            % {"n": len(uncovered), "codes": ", ".join(risk.code for risk in uncovered)},
        )

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        rule = form.instance
        before = services.annotation_rule_links(rule) if change else {"datasets": [], "risks": []}
        super().save_related(request, form, formsets, change)
        services.annotation_rule_links_record(rule=rule, before=before, actor=request.user)


@admin.register(Annotator)
class AnnotatorAdmin(FilingModelAdmin):
    list_display = ("name", "role", "provider", "training_on", "exam_on", "exam_score", "exam_passed", "active")
    list_filter = ("role", "exam_passed", "active", "provider")
    search_fields = ("name",)
    list_select_related = ("provider",)
    raw_id_fields = ("user",)
    readonly_fields = ("created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("provider", ("name", "user"), ("role", "active"))}),
        (_("Training"), {"fields": ("training_on", "training_content")}),
        (_("Exam"), {"fields": (("exam_on", "exam_score", "exam_passed"),)}),
        (_("Record"), {"fields": ("created_at", "updated_at"), "classes": ("collapse",)}),
    )


class SpotCheckInline(admin.TabularInline):
    """The spot checks of the batch; the pass rate is computed from the items checked and passed."""

    model = SpotCheck
    extra = 0
    fields = ("checked_on", "checker", "sample_size", "passed_items", "pass_rate_shown", "conclusion", "note")
    readonly_fields = ("pass_rate_shown",)

    @admin.display(description=_("pass rate"))
    def pass_rate_shown(self, obj: SpotCheck) -> str:
        return percent(obj.pass_rate)


@admin.register(AnnotationTask)
class AnnotationTaskAdmin(FilingModelAdmin):
    list_display = ("batch", "dataset", "rule", "annotator", "reviewer", "started_on", "finished_on", "spot_checked")
    list_filter = ("rule__kind", "dataset", "started_on")
    search_fields = ("batch", "dataset__name", "annotator__name", "reviewer__name")
    list_select_related = ("dataset", "rule", "annotator", "reviewer")
    readonly_fields = ("created_at", "updated_at")
    inlines = (SpotCheckInline,)
    fieldsets = (
        (None, {"fields": ("dataset", "rule", ("batch", "items"))}),
        (_("People"), {"fields": (("annotator", "reviewer"),)}),
        (_("Dates"), {"fields": (("started_on", "finished_on"),)}),
        (_("Record"), {"fields": ("created_at", "updated_at"), "classes": ("collapse",)}),
    )

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        # Offer each person for the role they are recorded in.
        roles = {"annotator": Annotator.Role.ANNOTATION, "reviewer": Annotator.Role.REVIEW}
        if db_field.name in roles:
            kwargs["queryset"] = Annotator.objects.filter(role=roles[db_field.name]).order_by("name")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).prefetch_related("spot_checks")

    @admin.display(description=_("spot check"))
    def spot_checked(self, obj: AnnotationTask) -> str:
        newest = max(obj.spot_checks.all(), key=lambda c: (c.checked_on, c.pk), default=None)
        if newest is None:
            return format_html('<strong class="status-bad">{}</strong>', gettext("not checked"))
        return f"{newest.get_conclusion_display()} ({percent(newest.pass_rate)})"


@admin.register(SpotCheck)
class SpotCheckAdmin(FilingModelAdmin):
    list_display = ("task", "checked_on", "checker", "sample_size", "passed_items", "pass_rate_shown", "conclusion")
    list_filter = ("conclusion", "checked_on")
    search_fields = ("task__batch", "task__dataset__name", "checker")
    list_select_related = ("task", "task__dataset")
    readonly_fields = ("pass_rate_shown", "created_at")
    fields = (
        "task",
        ("checked_on", "checker"),
        ("sample_size", "passed_items", "pass_rate_shown"),
        "conclusion",
        "note",
        "created_at",
    )

    @admin.display(description=_("pass rate"))
    def pass_rate_shown(self, obj: SpotCheck) -> str:
        return percent(obj.pass_rate)
