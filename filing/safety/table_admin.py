"""What the admin pages of the keyword library and the test banks share: records kept as a table file, imported
from a file whose every row is checked first, exported as XLSX or CSV, and checked against the minimums on a
coverage page."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect
from django.utils.http import content_disposition_header
from django.utils.translation import gettext_lazy as _

from filing.admin_base import FilingModelAdmin
from filing.safety.tabular import ImportFileError, csv_write, xlsx_write_sheets

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_TYPE = "text/csv; charset=utf-8"


def attachment(data: bytes, *, filename: str, content_type: str) -> HttpResponse:
    """A file the browser saves under ``filename``."""
    response = HttpResponse(data, content_type=content_type)
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=filename)
    return response


def table_download(request: HttpRequest, *, name: str, sheet: str, rows: Iterable[list[Any]]) -> HttpResponse:
    """``rows`` in the file the request asks for: ``?format=xlsx`` (the default; one sheet named ``sheet``) or
    ``csv``, saved as ``name`` with the format's ending."""
    file_format = request.GET.get("format", "xlsx")
    if file_format == "csv":
        text = io.StringIO()
        csv_write(rows, text)
        return attachment(text.getvalue().encode("utf-8"), filename=f"{name}.csv", content_type=CSV_TYPE)
    if file_format == "xlsx":
        data = io.BytesIO()
        xlsx_write_sheets([(sheet, rows)], data)
        return attachment(data.getvalue(), filename=f"{name}.xlsx", content_type=XLSX_TYPE)
    return HttpResponseBadRequest(_("Unknown format; use csv or xlsx."))


class TableImportForm(forms.Form):
    """A table file and how its rows meet what is stored; the first of ``modes`` is the default."""

    file = forms.FileField()
    mode = forms.ChoiceField(label=_("mode"), widget=forms.RadioSelect)

    def __init__(self, *args: Any, file_label: Any, modes: Sequence[tuple[str, Any]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["file"].label = file_label
        mode = self.fields["mode"]
        mode.choices = modes  # type: ignore[attr-defined]
        mode.initial = modes[0][0]


class TableAdmin(FilingModelAdmin):
    """The admin of records kept as a table: an import page, and a coverage page against the minimums."""

    # The import form: the file field's label, and the modes (value, label) with the default first.
    import_file_label: Any = None
    import_modes: Sequence[tuple[str, Any]] = ()
    coverage_template = ""
    coverage_title: Any = None

    def coverage(self) -> dict[str, Any]:
        """What the coverage page shows."""
        raise NotImplementedError

    def coverage_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        return self.page_response(request, self.coverage_template, self.coverage_title, **self.coverage())

    def import_page(
        self,
        request: HttpRequest,
        template: str,
        title: Any,
        *,
        rows_import: Callable[[Any, str], Any],
        done: Callable[[Any], Any],
        **context: Any,
    ) -> HttpResponse:
        """The import page. A good file is imported by ``rows_import(upload, mode)``, and ``done(report)`` says
        what it wrote, on the list; a bad one shows the form again, with the file's problem or its bad rows (none
        of which were imported)."""
        report = None
        file_error = None
        form = TableImportForm(
            request.POST or None, request.FILES or None, file_label=self.import_file_label, modes=self.import_modes
        )
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                report = rows_import(upload, form.cleaned_data["mode"])
            except ImportFileError as exc:
                file_error = str(exc)
            if report is not None and report.ok:
                self.message_user(request, done(report), messages.SUCCESS)
                opts = self.model._meta
                return redirect(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        return self.page_response(request, template, title, form=form, report=report, file_error=file_error, **context)
