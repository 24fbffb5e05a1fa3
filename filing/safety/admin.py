"""Admin pages of the safety records: taxonomy (read-only), thresholds, keyword library."""

from __future__ import annotations

import io
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext_lazy as _

from filing.admin_base import FilingModelAdmin
from filing.safety.keyword_io import (
    ATTACHMENT_COLUMNS,
    ImportMode,
    keyword_rows,
    keywords_import,
    xlsx_write,
)
from filing.safety.models import (
    AllowlistPhrase,
    Keyword,
    KeywordLibraryVersion,
    Risk,
    RiskCategory,
    SafetyConfigVersion,
    SafetyThreshold,
)
from filing.safety.selectors import keyword_coverage, keyword_library_version_current, safety_config_version_current
from filing.safety.services import (
    allowlist_phrase_save,
    allowlist_phrases_delete,
    allowlist_phrases_update,
    keyword_save,
    keywords_delete,
    keywords_update,
    safety_threshold_set,
)
from filing.safety.tabular import ImportFileError, csv_write
from genai_platform.admin_mixins import ReadOnlyAdminMixin


class RiskInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Risk
    fields = ("code", "name_zh", "name_en")
    extra = 0


@admin.register(RiskCategory)
class RiskCategoryAdmin(ReadOnlyAdminMixin, FilingModelAdmin):
    list_display = ("code", "name_zh", "name_en")
    inlines = (RiskInline,)


@admin.register(Risk)
class RiskAdmin(ReadOnlyAdminMixin, FilingModelAdmin):
    list_display = ("code", "name_zh", "name_en", "category")
    list_filter = ("category",)
    search_fields = ("code", "name_zh", "name_en")
    list_select_related = ("category",)


#
# Safety thresholds
#


class SafetyThresholdForm(forms.ModelForm):
    note = forms.CharField(label=_("reason for the change"), max_length=500, required=False)

    class Meta:
        model = SafetyThreshold
        fields = ("value",)


@admin.register(SafetyThreshold)
class SafetyThresholdAdmin(FilingModelAdmin):
    """The thresholds in force. Saving one creates a new configuration version; old ones stay as history."""

    form = SafetyThresholdForm
    list_display = ("title", "display_value", "unit", "clause", "basis", "key", "version")
    list_filter = ("basis", "unit")
    search_fields = ("key", "title_zh", "title_en", "clause")
    readonly_fields = ("key", "title_zh", "title_en", "unit", "clause", "basis", "version")
    fieldsets = (
        (None, {"fields": ("key", "title_zh", "title_en", "unit", "clause", "basis", "version")}),
        (_("Change"), {"fields": ("value", "note")}),
    )
    list_select_related = ("version",)

    @admin.display(description=_("threshold"))
    def title(self, obj: SafetyThreshold) -> str:
        return obj.title

    @admin.display(description=_("value"))
    def display_value(self, obj: SafetyThreshold) -> str:
        return obj.display_value

    def get_queryset(self, request: HttpRequest):  # type: ignore[no-untyped-def]
        return super().get_queryset(request).filter(version=safety_config_version_current())

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: SafetyThreshold, form: Any, change: bool) -> None:
        try:
            version = safety_threshold_set(
                key=obj.key, value=obj.value, actor=request.user.get_username(), note=form.cleaned_data.get("note", "")
            )
        except ValidationError as exc:
            self.message_user(request, "; ".join(exc.messages), level=messages.ERROR)
            return
        self.message_user(
            request, _("Saved as configuration version %(number)s.") % {"number": version.number}, messages.SUCCESS
        )

    def log_change(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        # The edited row is not saved (a new version is); the admin log would point at the old row.
        return None


class SafetyThresholdHistoryInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = SafetyThreshold
    fields = ("key", "value", "unit", "clause", "basis")
    extra = 0


@admin.register(SafetyConfigVersion)
class SafetyConfigVersionAdmin(ReadOnlyAdminMixin, FilingModelAdmin):
    list_display = ("number", "created_at", "created_by", "note")
    search_fields = ("note", "created_by")
    inlines = (SafetyThresholdHistoryInline,)


#
# Keyword library
#


class KeywordImportForm(forms.Form):
    file = forms.FileField(label=_("file (.csv or .xlsx)"))
    mode = forms.ChoiceField(
        label=_("mode"),
        choices=(
            (ImportMode.MERGE, _("merge: add new keywords, update the ones already listed")),
            (ImportMode.REPLACE, _("replace: the library becomes exactly the file")),
        ),
        initial=ImportMode.MERGE,
        widget=forms.RadioSelect,
    )


@admin.register(Keyword)
class KeywordAdmin(FilingModelAdmin):
    """The keyword library. Every save, delete or bulk action creates a new library version."""

    change_list_template = "admin/filing/keyword/change_list.html"
    list_display = ("keyword", "risk", "action", "enabled", "origin", "updated_at")
    list_filter = ("enabled", "action", "origin", "risk__category", "risk")
    search_fields = ("keyword", "notes", "risk__code", "risk__name_zh")
    list_select_related = ("risk",)
    readonly_fields = ("key", "origin", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("keyword", "risk", "action", "enabled", "notes")}),
        (_("Record"), {"fields": ("key", "origin", "created_at", "updated_at")}),
    )
    actions = ("enable_selected", "disable_selected", "set_block", "set_flag")
    list_per_page = 100

    def save_model(self, request: HttpRequest, obj: Keyword, form: Any, change: bool) -> None:
        version = keyword_save(keyword=obj, actor=request.user.get_username())
        self.message_user(request, _("Keyword library is now version %(n)d.") % {"n": version.number})

    def delete_model(self, request: HttpRequest, obj: Keyword) -> None:
        keywords_delete(keywords=Keyword.objects.filter(pk=obj.pk), actor=request.user.get_username())

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        keywords_delete(keywords=queryset, actor=request.user.get_username())

    def _bulk(self, request: HttpRequest, queryset: Any, **fields: Any) -> None:
        version = keywords_update(keywords=queryset, actor=request.user.get_username(), **fields)
        if version:
            self.message_user(request, _("Keyword library is now version %(n)d.") % {"n": version.number})

    @admin.action(description=_("Enable selected keywords"), permissions=["change"])
    def enable_selected(self, request: HttpRequest, queryset: Any) -> None:
        self._bulk(request, queryset, enabled=True)

    @admin.action(description=_("Disable selected keywords"), permissions=["change"])
    def disable_selected(self, request: HttpRequest, queryset: Any) -> None:
        self._bulk(request, queryset, enabled=False)

    @admin.action(description=_("Set action: block"), permissions=["change"])
    def set_block(self, request: HttpRequest, queryset: Any) -> None:
        self._bulk(request, queryset, action=Keyword.Action.BLOCK)

    @admin.action(description=_("Set action: flag for review"), permissions=["change"])
    def set_flag(self, request: HttpRequest, queryset: Any) -> None:
        self._bulk(request, queryset, action=Keyword.Action.FLAG)

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path("import/", wrap(self.import_view), name="filing_keyword_import"),
            path("export/", wrap(self.export_view), name="filing_keyword_export"),
            path("coverage/", wrap(self.coverage_view), name="filing_keyword_coverage"),
            *super().get_urls(),
        ]

    def _context(self, request: HttpRequest, title: Any, **extra: Any) -> dict[str, Any]:
        return {**self.admin_site.each_context(request), "opts": self.model._meta, "title": title, **extra}

    def import_view(self, request: HttpRequest) -> HttpResponse:
        if not (self.has_add_permission(request) and self.has_change_permission(request)):
            raise PermissionDenied
        report = None
        file_error = None
        form = KeywordImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            mode = form.cleaned_data["mode"]
            if mode == ImportMode.REPLACE and not self.has_delete_permission(request):
                raise PermissionDenied
            try:
                report = keywords_import(
                    stream=upload, filename=upload.name, actor=request.user.get_username(), mode=mode
                )
            except ImportFileError as exc:
                file_error = str(exc)
            if report is not None and report.ok:
                self.message_user(
                    request,
                    _("Imported: %(c)d added, %(u)d changed, %(s)d unchanged, %(d)d deleted. Library version %(v)s.")
                    % {
                        "c": report.created,
                        "u": report.updated,
                        "s": report.unchanged,
                        "d": report.deleted,
                        "v": report.version.number if report.version else keyword_library_version_current(),
                    },
                    messages.SUCCESS,
                )
                return redirect("admin:filing_keyword_changelist")
        return TemplateResponse(
            request,
            "admin/filing/keyword/import.html",
            self._context(
                request,
                _("Import keywords"),
                form=form,
                report=report,
                file_error=file_error,
                columns=ATTACHMENT_COLUMNS,
            ),
        )

    def export_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        file_format = request.GET.get("format", "xlsx")
        full = request.GET.get("full") == "1"
        stamp = timezone.localtime().strftime("%Y%m%d")
        name = f"拦截关键词列表-{stamp}{'-full' if full else ''}"
        if file_format == "csv":
            text = io.StringIO()
            csv_write(keyword_rows(full=full), text)
            response = HttpResponse(text.getvalue().encode("utf-8"), content_type="text/csv; charset=utf-8")
            filename = f"{name}.csv"
        elif file_format == "xlsx":
            data = io.BytesIO()
            xlsx_write(keyword_rows(full=full), data)
            response = HttpResponse(
                data.getvalue(), content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            )
            filename = f"{name}.xlsx"
        else:
            return HttpResponseBadRequest(_("Unknown format; use csv or xlsx."))
        response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=filename)
        return response

    def coverage_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        return TemplateResponse(
            request,
            "admin/filing/keyword/coverage.html",
            self._context(request, _("Keyword library coverage"), coverage=keyword_coverage()),
        )


@admin.register(AllowlistPhrase)
class AllowlistPhraseAdmin(FilingModelAdmin):
    """Innocent phrases that contain a keyword; a change creates a new library version."""

    list_display = ("phrase", "enabled", "origin", "updated_at")
    list_filter = ("enabled", "origin")
    search_fields = ("phrase", "notes")
    readonly_fields = ("key", "origin", "created_at", "updated_at")
    fields = ("phrase", "enabled", "notes", "key", "origin", "created_at", "updated_at")
    actions = ("enable_selected", "disable_selected")

    def save_model(self, request: HttpRequest, obj: AllowlistPhrase, form: Any, change: bool) -> None:
        version = allowlist_phrase_save(phrase=obj, actor=request.user.get_username())
        self.message_user(request, _("Keyword library is now version %(n)d.") % {"n": version.number})

    def delete_model(self, request: HttpRequest, obj: AllowlistPhrase) -> None:
        allowlist_phrases_delete(phrases=AllowlistPhrase.objects.filter(pk=obj.pk), actor=request.user.get_username())

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        allowlist_phrases_delete(phrases=queryset, actor=request.user.get_username())

    @admin.action(description=_("Enable selected phrases"), permissions=["change"])
    def enable_selected(self, request: HttpRequest, queryset: Any) -> None:
        allowlist_phrases_update(phrases=queryset, enabled=True, actor=request.user.get_username())

    @admin.action(description=_("Disable selected phrases"), permissions=["change"])
    def disable_selected(self, request: HttpRequest, queryset: Any) -> None:
        allowlist_phrases_update(phrases=queryset, enabled=False, actor=request.user.get_username())


@admin.register(KeywordLibraryVersion)
class KeywordLibraryVersionAdmin(ReadOnlyAdminMixin, FilingModelAdmin):
    list_display = ("number", "created_at", "created_by", "reason", "keyword_count", "allowlist_count")
    search_fields = ("reason", "created_by")


# Admin pages of the test banks and assessment runs.
import filing.safety.bank_admin  # noqa: E402, F401
import filing.safety.run_admin  # noqa: E402, F401
