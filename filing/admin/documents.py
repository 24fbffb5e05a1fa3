"""Documents (the service agreement, the privacy policy, annotation rules and the rest) and the security
self-assessment."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db import models as db_models
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from filing import services
from filing.admin.common import SignOffAdminMixin, download_link, each_selected, file_download, refusal_show
from filing.admin_base import FilingModelAdmin
from filing.models import AssessmentClause, AssessmentRun, CorpusCheck, CorpusReview, Document, SelfAssessment


@admin.register(Document)
class DocumentAdmin(FilingModelAdmin):
    list_display = ("title", "kind", "version", "service", "effective_on", "published_at", "updated_at", "download")
    list_filter = ("kind", "service", ("published_at", admin.EmptyFieldListFilter))
    search_fields = ("title", "version", "service__name")
    list_select_related = ("service",)
    readonly_fields = ("published_at", "created_at", "updated_at")
    actions = ("publish",)
    own_pages = {"download": "<int:pk>/download/"}
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
    @each_selected(
        lambda document: gettext("Published: %(d)s. End users accept it before generating again.") % {"d": document},
        level=messages.INFO,
    )
    def publish(self, request: HttpRequest, document: Document) -> None:
        services.document_publish(document=document, actor=request.user, request=request)

    @admin.display(description=_("file"))
    def download(self, obj: Document) -> str:
        return download_link("admin:filing_document_download", obj, obj.file)

    def download_view(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        document = get_object_or_404(Document, pk=pk)
        return file_download(self, request, document.file, owner=document)


class ClauseInline(admin.StackedInline):
    """A block per clause, its fields in rows: as a table row its eight fields would not fit a laptop's width."""

    model = AssessmentClause
    extra = 0
    fields = (
        ("clause", "verdict", "owner"),
        "requirement",
        ("evidence", "reason"),
        ("evidence_file", "evidence_link"),
    )
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
class SelfAssessmentAdmin(SignOffAdminMixin, FilingModelAdmin):
    list_display = ("title", "service", "status", "finalised_by", "finalised_at", "signers_complete")
    list_filter = ("status", "service")
    search_fields = ("title", "service__name")
    list_select_related = ("service",)
    readonly_fields = (
        "status",
        "finalised_by",
        "finalised_at",
        "last_changed_by",
        "created_at",
        "updated_at",
        "problems",
        "figures_source",
        *services.MEASURED_FIELDS,
    )
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
                    ("assessment_run", "corpus_check", "corpus_review"),
                    "figures_source",
                    ("corpus_manual_pass_rate", "corpus_technical_pass_rate"),
                    ("generated_sample_size", "generated_pass_rate_manual"),
                    ("generated_pass_rate_keyword", "generated_pass_rate_classifier"),
                    ("refuse_sample_size", "refuse_rate"),
                    ("nonrefuse_sample_size", "nonrefuse_refusal_rate"),
                ),
                "description": _(
                    "The figures of clauses 9.2, 9.3 and 9.4 are copied from the assessment run, the corpus "
                    "technical check and the corpus manual assessment chosen here; they cannot be typed. Rates "
                    "between 0 and 1 (0.95 = 95%)."
                ),
            },
        ),
        (
            _("Conclusion"),
            {
                "fields": ("conclusion", ("finalised_by", "finalised_at"), "last_changed_by"),
                "description": _(
                    "A person other than the one who last changed the assessment or its clauses finalises it "
                    "(four eyes)."
                ),
            },
        ),
        (_("Record"), {"fields": ("created_at", "updated_at"), "classes": ("collapse",)}),
    )

    signoff_step = "finalise"

    def signoff_pending(self, obj: SelfAssessment) -> bool:
        return obj.status == SelfAssessment.Status.DRAFT

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is not None and obj.status == SelfAssessment.Status.FINALISED:
            return [f.name for f in SelfAssessment._meta.fields if f.name != "id"] + ["problems", "figures_source"]
        return self.readonly_fields

    def get_inline_instances(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        return super().get_inline_instances(request, obj) if obj is not None else []

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        # Only finished runs and checks are evidence.
        if db_field.name == "assessment_run":
            kwargs["queryset"] = AssessmentRun.objects.filter(status=AssessmentRun.Status.SUCCEEDED)
        elif db_field.name == "corpus_review":
            kwargs["queryset"] = CorpusReview.objects.exclude(status=CorpusReview.Status.IN_REVIEW).select_related(
                "service"
            )
        elif db_field.name == "corpus_check":
            kwargs["queryset"] = CorpusCheck.objects.filter(status=CorpusCheck.Status.SUCCEEDED).select_related(
                "service"
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: SelfAssessment, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
        else:
            created = services.assessment_create(service=obj.service, title=obj.title, actor=request.user)
            for name in form.changed_data:
                setattr(created, name, getattr(obj, name))
            created.save()
            obj.pk = created.pk
            obj.refresh_from_db()
        if obj.status == SelfAssessment.Status.DRAFT:
            try:
                notes = services.self_assessment_sources_set(
                    assessment=obj,
                    run=obj.assessment_run,
                    corpus_check=obj.corpus_check,
                    corpus_review=obj.corpus_review,
                    actor=request.user,
                )
            except services.FilingError as exc:
                refusal_show(self, request, exc)
                return
            for note in notes:
                self.message_user(request, note, messages.WARNING)

    @admin.display(description=_("where the figures come from"))
    def figures_source(self, obj: SelfAssessment) -> str:
        parts = []
        for source, url_name, missing in (
            (
                obj.assessment_run,
                "admin:filing_assessmentrun_change",
                gettext(
                    "No assessment run is linked: the generated-content and refusal figures (clauses 9.3, 9.4) are "
                    "not measured."
                ),
            ),
            (
                obj.corpus_check,
                "admin:filing_corpuscheck_change",
                gettext("No corpus technical check is linked: its pass rate (clause 9.2 b) is not measured."),
            ),
            (
                obj.corpus_review,
                "admin:filing_corpusreview_change",
                gettext("No corpus manual assessment is linked: its pass rate (clause 9.2 a) is not measured."),
            ),
        ):
            if source is None:
                parts.append(format_html("<div><strong>{}</strong></div>", missing))
            else:
                parts.append(format_html('<div><a href="{}">{}</a></div>', reverse(url_name, args=[source.pk]), source))
        return format_html_join("", "{}", ((p,) for p in parts))

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
    @each_selected(lambda assessment: gettext("Finalised: %(a)s.") % {"a": assessment})
    def finalise(self, request: HttpRequest, assessment: SelfAssessment) -> None:
        services.assessment_finalise(assessment=assessment, actor=request.user, request=request)
