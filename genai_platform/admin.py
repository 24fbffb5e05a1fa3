from django.contrib import admin

from genai_platform.admin_mixins import ReadOnlyAdminMixin
from genai_platform.models import WorkerHeartbeat

# The users' and roles' admin pages are generation.admin.access: each change of who may do what is an audit
# event, and the audit log sits above this kernel.


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("queue", "hostname", "seen_at")
    readonly_fields = ("queue", "hostname", "task_id", "seen_at")
    allow_delete = True
