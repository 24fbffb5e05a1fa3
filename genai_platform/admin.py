from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from genai_platform.models import User, WorkerHeartbeat


@admin.register(User)
class PlatformUserAdmin(UserAdmin):
    list_display = ("username", "email", "is_active", "is_staff", "last_login", "date_joined")
    list_filter = ("is_active", "is_staff", "is_superuser", "groups")


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(admin.ModelAdmin):
    list_display = ("queue", "hostname", "seen_at")
    readonly_fields = ("queue", "hostname", "task_id", "seen_at")

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False
