from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from genai_platform.admin_mixins import CleanTextAdminMixin, ReadOnlyAdminMixin
from genai_platform.models import User, WorkerHeartbeat


@admin.register(User)
class PlatformUserAdmin(CleanTextAdminMixin, UserAdmin):
    list_display = ("username", "email", "is_active", "is_staff", "last_login", "date_joined")
    list_filter = ("is_active", "is_staff", "is_superuser", "groups")


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("queue", "hostname", "seen_at")
    readonly_fields = ("queue", "hostname", "task_id", "seen_at")
    allow_delete = True
