"""Admin pages of the test banks: import and export, coverage against the minimums, the questions."""

from __future__ import annotations

import io
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import content_disposition_header
from django.utils.translation import gettext_lazy as _

from filing.admin_base import FilingModelAdmin
from filing.safety.bank_models import BankKind, TestBank, TestQuestion
from filing.safety.banks import (
    BANK_COLUMNS,
    SHEET_NAMES,
    ImportMode,
    bank_coverage,
    bank_question_save,
    bank_questions_delete,
    bank_questions_import,
    bank_rows,
)
from filing.safety.tabular import ImportFileError, csv_write, xlsx_write_sheets

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def xlsx_attachment(data: bytes, *, filename: str, content_type: str) -> HttpResponse:
    response = HttpResponse(data, content_type=content_type)
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=filename)
    return response


class BankImportForm(forms.Form):
    file = forms.FileField(label=_("file (.xlsx or .csv)"))
    mode = forms.ChoiceField(
        label=_("mode"),
        choices=(
            (ImportMode.REPLACE, _("replace: the bank becomes exactly the file")),
            (ImportMode.APPEND, _("append: add the file's questions, which must be new to the bank")),
        ),
        initial=ImportMode.REPLACE,
        widget=forms.RadioSelect,
    )


@admin.register(TestBank)
class TestBankAdmin(FilingModelAdmin):
    """The three kinds of test bank; each bank is imported, exported and checked against the minimums."""

    change_list_template = "admin/filing/testbank/change_list.html"
    list_display = ("name", "kind", "question_count", "origin", "updated_at", "coverage_state", "tools")
    list_filter = ("kind", "origin")
    search_fields = ("name", "notes")
    readonly_fields = ("question_count", "origin", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("name", "kind", "notes")}),
        (_("Record"), {"fields": ("question_count", "origin", "created_at", "updated_at")}),
    )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # The kind of a bank with questions is fixed: runs and coverage depend on it.
        return (*self.readonly_fields, "kind") if obj is not None else self.readonly_fields

    @admin.display(description=_("coverage"))
    def coverage_state(self, obj: TestBank) -> str:
        coverage = bank_coverage(obj)
        if coverage.is_demo:
            return str(_("synthetic demo"))
        return str(_("meets the minimums")) if coverage.ok else str(_("below the minimums"))

    @admin.display(description=_("files"))
    def tools(self, obj: TestBank) -> str:
        return format_html(
            '<a href="{}">{}</a> · <a href="{}?format=xlsx">XLSX</a> · <a href="{}?format=csv">CSV</a> · '
            '<a href="{}?bank__id__exact={}">{}</a>',
            reverse("admin:filing_testbank_import", args=[obj.pk]),
            _("import"),
            reverse("admin:filing_testbank_export", args=[obj.pk]),
            reverse("admin:filing_testbank_export", args=[obj.pk]),
            reverse("admin:filing_testquestion_changelist"),
            obj.pk,
            _("questions"),
        )

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path("<int:bank_id>/import/", wrap(self.import_view), name="filing_testbank_import"),
            path("<int:bank_id>/export/", wrap(self.export_view), name="filing_testbank_export"),
            path("coverage/", wrap(self.coverage_view), name="filing_testbank_coverage"),
            *super().get_urls(),
        ]

    def _context(self, request: HttpRequest, title: Any, **extra: Any) -> dict[str, Any]:
        return {**self.admin_site.each_context(request), "opts": self.model._meta, "title": title, **extra}

    def import_view(self, request: HttpRequest, bank_id: int) -> HttpResponse:
        bank = get_object_or_404(TestBank, pk=bank_id)
        if not self.has_change_permission(request, bank):
            raise PermissionDenied
        report = None
        file_error = None
        form = BankImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                report = bank_questions_import(
                    bank=bank, stream=upload, filename=upload.name, mode=form.cleaned_data["mode"]
                )
            except ImportFileError as exc:
                file_error = str(exc)
            if report is not None and report.ok:
                self.message_user(
                    request,
                    _("Imported into %(bank)s: %(c)d questions added, %(d)d removed.")
                    % {"bank": bank.name, "c": report.created, "d": report.deleted},
                    messages.SUCCESS,
                )
                return redirect("admin:filing_testbank_changelist")
        return TemplateResponse(
            request,
            "admin/filing/testbank/import.html",
            self._context(
                request,
                _("Import questions into %(bank)s") % {"bank": bank.name},
                bank=bank,
                form=form,
                report=report,
                file_error=file_error,
                columns=BANK_COLUMNS,
            ),
        )

    def export_view(self, request: HttpRequest, bank_id: int) -> HttpResponse:
        bank = get_object_or_404(TestBank, pk=bank_id)
        if not self.has_view_permission(request, bank):
            raise PermissionDenied
        file_format = request.GET.get("format", "xlsx")
        name = f"{SHEET_NAMES[BankKind(bank.kind)]}-{bank.pk}-{timezone.localtime():%Y%m%d}"
        if file_format == "csv":
            text = io.StringIO()
            csv_write(bank_rows(bank=bank), text)
            return xlsx_attachment(
                text.getvalue().encode("utf-8"), filename=f"{name}.csv", content_type="text/csv; charset=utf-8"
            )
        if file_format == "xlsx":
            data = io.BytesIO()
            xlsx_write_sheets([(SHEET_NAMES[BankKind(bank.kind)], bank_rows(bank=bank))], data)
            return xlsx_attachment(data.getvalue(), filename=f"{name}.xlsx", content_type=XLSX_TYPE)
        return HttpResponseBadRequest(_("Unknown format; use csv or xlsx."))

    def coverage_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        coverages = [bank_coverage(bank) for bank in TestBank.objects.order_by("kind", "name")]
        return TemplateResponse(
            request,
            "admin/filing/testbank/coverage.html",
            self._context(request, _("Test bank coverage"), coverages=coverages),
        )


@admin.register(TestQuestion)
class TestQuestionAdmin(FilingModelAdmin):
    """Questions of the banks; a change moves the bank's last-update date."""

    list_display = ("serial", "text", "risk", "aspect", "bank", "updated_at")
    list_filter = ("bank", "bank__kind", "aspect", "risk__category", "risk")
    search_fields = ("text", "risk__code", "risk__name_zh")
    list_select_related = ("risk", "bank")
    readonly_fields = ("key", "created_at", "updated_at")
    fields = ("bank", "serial", "text", "risk", "aspect", "key", "created_at", "updated_at")
    list_per_page = 100

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        form.base_fields["serial"].required = False
        form.base_fields["serial"].help_text = _("Leave empty for the next free number.")
        return form

    def save_model(self, request: HttpRequest, obj: TestQuestion, form: Any, change: bool) -> None:
        bank_question_save(question=obj)

    def delete_model(self, request: HttpRequest, obj: TestQuestion) -> None:
        bank_questions_delete(questions=TestQuestion.objects.filter(pk=obj.pk))

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        bank_questions_delete(questions=queryset)
