"""Read-only admin for the log: nobody, not even a superuser, adds, changes or deletes here."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from audit.models import Content, Export, LegalHold, LogEntry, Seal
from genai_platform.admin_mixins import ReadOnlyAdminMixin


class ReadOnlyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    pass


@admin.register(LogEntry)
class LogEntryAdmin(ReadOnlyAdmin):
    list_display = ("seq", "created_at", "event_type", "actor_username", "subject_repr", "decision", "produce_id")
    list_filter = ("event_type", "decision")
    search_fields = ("=seq", "actor_username", "=actor_id", "=produce_id", "subject_repr", "filing_number")
    date_hierarchy = "created_at"
    show_full_result_count = False


@admin.register(Seal)
class SealAdmin(ReadOnlyAdmin):
    list_display = ("number", "first_seq", "last_seq", "record_count", "sealed_at", "key_id")
    exclude = ("leaf_digests",)


@admin.register(Content)
class ContentAdmin(ReadOnlyAdmin):
    list_display = ("digest", "media_type", "size", "created_at")
    exclude = ("body",)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("audit.read_content")


@admin.register(Export)
class ExportAdmin(ReadOnlyAdmin):
    list_display = ("id", "created_at", "created_by", "format", "status", "rows_done")
    list_filter = ("status", "format")


@admin.register(LegalHold)
class LegalHoldAdmin(ReadOnlyAdmin):
    """Holds are placed and released with ``manage.py audit_hold`` so that each is an audit event."""

    list_display = ("id", "actor_id", "subject_kind", "subject_id", "reason", "created_by", "created_at", "released_at")
