"""Admin pages of the test banks: import and export, coverage against the minimums, the questions."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
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
from filing.safety.table_admin import TableAdmin, table_download


@admin.register(TestBank)
class TestBankAdmin(TableAdmin):
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
    own_pages = {"import": "<int:bank_id>/import/", "export": "<int:bank_id>/export/", "coverage": "coverage/"}
    import_file_label = _("file (.xlsx or .csv)")
    import_modes = (
        (ImportMode.REPLACE, _("replace: the bank becomes exactly the file")),
        (ImportMode.APPEND, _("append: add the file's questions, which must be new to the bank")),
    )
    coverage_template = "admin/filing/testbank/coverage.html"
    coverage_title = _("Test bank coverage")

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

    def import_view(self, request: HttpRequest, bank_id: int) -> HttpResponse:
        bank = get_object_or_404(TestBank, pk=bank_id)
        if not self.has_change_permission(request, bank):
            raise PermissionDenied
        return self.import_page(
            request,
            "admin/filing/testbank/import.html",
            _("Import questions into %(bank)s") % {"bank": bank.name},
            rows_import=lambda upload, mode: bank_questions_import(
                bank=bank, stream=upload, filename=upload.name, mode=mode
            ),
            done=lambda report: (
                _("Imported into %(bank)s: %(c)d questions added, %(d)d removed.")
                % {"bank": bank.name, "c": report.created, "d": report.deleted}
            ),
            bank=bank,
            columns=BANK_COLUMNS,
        )

    def export_view(self, request: HttpRequest, bank_id: int) -> HttpResponse:
        bank = get_object_or_404(TestBank, pk=bank_id)
        if not self.has_view_permission(request, bank):
            raise PermissionDenied
        sheet = SHEET_NAMES[BankKind(bank.kind)]
        return table_download(
            request, name=f"{sheet}-{bank.pk}-{timezone.localtime():%Y%m%d}", sheet=sheet, rows=bank_rows(bank=bank)
        )

    def coverage(self) -> dict[str, Any]:
        return {"coverages": [bank_coverage(bank) for bank in TestBank.objects.order_by("kind", "name")]}


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
