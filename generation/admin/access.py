"""Who may do what: the users' and the roles' (groups') admin pages, each change of access an audit event.

Clearing a record of failed sign-ins in the admin (which lifts a lockout early) is one too: ``auth.lockout_cleared``.

Every save or delete in these pages that changes an account's active, staff or superuser flag, its roles or its
own permissions writes one ``user.access_changed`` record, and every change of a role's name or permissions one
``user.role_changed`` record, in the admin's transaction, through ``generation.access`` (the one writer of these
records). The state is read before the form saves and after its many-to-many fields are saved (``save_related``),
so one admin action is one record with ``{field: [old, new]}``.
"""

from __future__ import annotations

from typing import Any

from axes.admin import AccessAttemptAdmin
from axes.models import AccessAttempt
from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest

from audit import services as audit
from genai_platform.admin_mixins import CleanTextAdminMixin
from genai_platform.models import User
from generation.access import role_access_recorded, role_state, user_access_recorded, user_access_state


class _AccessAuditMixin:
    """Reads the access state before a save and hands it to the access service after the related fields are saved."""

    def access_state(self, obj: Any) -> dict[str, Any]:
        raise NotImplementedError

    def access_recorded(self, request: HttpRequest, obj: Any, before: dict[str, Any] | None, deleted: bool) -> None:
        raise NotImplementedError

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        stored = type(obj)._default_manager.filter(pk=obj.pk).first() if change else None
        obj._access_before = self.access_state(stored) if stored is not None else None
        super().save_model(request, obj, form, change)  # type: ignore[misc]

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)  # type: ignore[misc]
        obj = form.instance
        self.access_recorded(request, obj, getattr(obj, "_access_before", None), False)

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        self.access_recorded(request, obj, self.access_state(obj), True)
        super().delete_model(request, obj)  # type: ignore[misc]

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for obj in queryset:
            self.access_recorded(request, obj, self.access_state(obj), True)
        super().delete_queryset(request, queryset)  # type: ignore[misc]


@admin.register(User)
class PlatformUserAdmin(CleanTextAdminMixin, _AccessAuditMixin, UserAdmin):
    list_display = ("username", "email", "is_active", "is_staff", "last_login", "date_joined")
    list_filter = ("is_active", "is_staff", "is_superuser", "groups")

    def access_state(self, obj: Any) -> dict[str, Any]:
        return user_access_state(obj)

    def access_recorded(self, request: HttpRequest, obj: Any, before: dict[str, Any] | None, deleted: bool) -> None:
        user_access_recorded(user=obj, before=before, deleted=deleted, request=request)


admin.site.unregister(Group)


@admin.register(Group)
class RoleAdmin(_AccessAuditMixin, GroupAdmin):
    def access_state(self, obj: Any) -> dict[str, Any]:
        return role_state(obj)

    def access_recorded(self, request: HttpRequest, obj: Any, before: dict[str, Any] | None, deleted: bool) -> None:
        role_access_recorded(group=obj, before=before, deleted=deleted, request=request)


def _lockout_cleared(request: HttpRequest, attempt: AccessAttempt) -> None:
    audit.auth_event(
        event_type="auth.lockout_cleared",
        request=request,
        subject=("axes.accessattempt", str(attempt.pk), attempt.username or ""),
        payload={
            "username": attempt.username or "",
            "ip_address": attempt.ip_address or "",
            "failures": int(attempt.failures_since_start),
        },
    )


admin.site.unregister(AccessAttempt)


@admin.register(AccessAttempt)
class LockoutAdmin(AccessAttemptAdmin):
    """django-axes' page of failed sign-ins; deleting a record (unlocking) is recorded in the audit log."""

    def delete_model(self, request: HttpRequest, obj: AccessAttempt) -> None:
        with transaction.atomic():
            _lockout_cleared(request, obj)
            super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[AccessAttempt]) -> None:
        with transaction.atomic():
            for attempt in queryset:
                _lockout_cleared(request, attempt)
            super().delete_queryset(request, queryset)
