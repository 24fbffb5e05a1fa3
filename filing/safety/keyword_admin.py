"""Admin pages of the keyword library: the keywords (import, export, coverage), the allowlist phrases and the
library's versions."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from filing.admin_base import FilingModelAdmin
from filing.safety.keyword_io import ATTACHMENT_COLUMNS, ImportMode, keyword_rows, keywords_import
from filing.safety.models import AllowlistPhrase, Keyword, KeywordLibraryVersion
from filing.safety.selectors import keyword_coverage, keyword_library_version_current
from filing.safety.services import (
    allowlist_phrase_save,
    allowlist_phrases_delete,
    allowlist_phrases_update,
    keyword_save,
    keywords_delete,
    keywords_update,
)
from filing.safety.table_admin import TableAdmin, table_download
from genai_platform.admin_mixins import ReadOnlyAdminMixin

# The name of the library's file and of its sheet.
LIBRARY_FILE_NAME = "拦截关键词列表"


class LibraryEntryAdmin(FilingModelAdmin):
    """An entry of the keyword library: saving or deleting entries goes through the library's services, and
    each change is a new library version."""

    def entry_save(self, obj: Any, *, actor: str) -> KeywordLibraryVersion:
        raise NotImplementedError

    def entries_delete(self, queryset: Any, *, actor: str) -> None:
        raise NotImplementedError

    def version_say(self, request: HttpRequest, version: KeywordLibraryVersion | None) -> None:
        if version:
            self.message_user(request, _("Keyword library is now version %(n)d.") % {"n": version.number})

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        self.version_say(request, self.entry_save(obj, actor=request.user.get_username()))

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        self.entries_delete(self.model.objects.filter(pk=obj.pk), actor=request.user.get_username())

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        self.entries_delete(queryset, actor=request.user.get_username())


@admin.register(Keyword)
class KeywordAdmin(LibraryEntryAdmin, TableAdmin):
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
    own_pages = {"import": "import/", "export": "export/", "coverage": "coverage/"}
    import_file_label = _("file (.csv or .xlsx)")
    import_modes = (
        (ImportMode.MERGE, _("merge: add new keywords, update the ones already listed")),
        (ImportMode.REPLACE, _("replace: the library becomes exactly the file")),
    )
    coverage_template = "admin/filing/keyword/coverage.html"
    coverage_title = _("Keyword library coverage")

    def entry_save(self, obj: Keyword, *, actor: str) -> KeywordLibraryVersion:
        return keyword_save(keyword=obj, actor=actor)

    def entries_delete(self, queryset: Any, *, actor: str) -> None:
        keywords_delete(keywords=queryset, actor=actor)

    def _bulk(self, request: HttpRequest, queryset: Any, **fields: Any) -> None:
        self.version_say(request, keywords_update(keywords=queryset, actor=request.user.get_username(), **fields))

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

    def import_view(self, request: HttpRequest) -> HttpResponse:
        if not (self.has_add_permission(request) and self.has_change_permission(request)):
            raise PermissionDenied

        def rows_import(upload: Any, mode: str) -> Any:
            if mode == ImportMode.REPLACE and not self.has_delete_permission(request):
                raise PermissionDenied
            return keywords_import(stream=upload, filename=upload.name, actor=request.user.get_username(), mode=mode)

        return self.import_page(
            request,
            "admin/filing/keyword/import.html",
            _("Import keywords"),
            rows_import=rows_import,
            done=lambda report: (
                _("Imported: %(c)d added, %(u)d changed, %(s)d unchanged, %(d)d deleted. Library version %(v)s.")
                % {
                    "c": report.created,
                    "u": report.updated,
                    "s": report.unchanged,
                    "d": report.deleted,
                    "v": report.version.number if report.version else keyword_library_version_current(),
                }
            ),
            columns=ATTACHMENT_COLUMNS,
        )

    def export_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        full = request.GET.get("full") == "1"
        stamp = timezone.localtime().strftime("%Y%m%d")
        return table_download(
            request,
            name=f"{LIBRARY_FILE_NAME}-{stamp}{'-full' if full else ''}",
            sheet=LIBRARY_FILE_NAME,
            rows=keyword_rows(full=full),
        )

    def coverage(self) -> dict[str, Any]:
        return {"coverage": keyword_coverage()}


@admin.register(AllowlistPhrase)
class AllowlistPhraseAdmin(LibraryEntryAdmin):
    """Innocent phrases that contain a keyword; a change creates a new library version."""

    list_display = ("phrase", "enabled", "origin", "updated_at")
    list_filter = ("enabled", "origin")
    search_fields = ("phrase", "notes")
    readonly_fields = ("key", "origin", "created_at", "updated_at")
    fields = ("phrase", "enabled", "notes", "key", "origin", "created_at", "updated_at")
    actions = ("enable_selected", "disable_selected")

    def entry_save(self, obj: AllowlistPhrase, *, actor: str) -> KeywordLibraryVersion:
        return allowlist_phrase_save(phrase=obj, actor=actor)

    def entries_delete(self, queryset: Any, *, actor: str) -> None:
        allowlist_phrases_delete(phrases=queryset, actor=actor)

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
