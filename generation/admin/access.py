"""Who may do what: the users' and the roles' (groups') admin pages, each change of access an audit event.

Clearing a record of failed sign-ins in the admin (which lifts a lockout early) is one too: ``auth.lockout_cleared``.

Every save or delete in these pages that changes an account's active, staff or superuser flag, its roles or its
own permissions writes one ``user.access_changed`` record, and every change of a role's name or permissions one
``user.role_changed`` record, in the admin's transaction. The state is read before the form saves and after its
many-to-many fields are saved (``save_related``), so one admin action is one record with ``{field: [old, new]}``.
"""

from __future__ import annotations

from typing import Any

from axes.admin import AccessAttemptAdmin
from axes.models import AccessAttempt
from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models import Model, QuerySet
from django.http import HttpRequest

from audit import services as audit
from genai_platform.admin_mixins import CleanTextAdminMixin
from genai_platform.models import User

_USER_FLAGS = ("is_active", "is_staff", "is_superuser")


def _permission_names(permissions: Any) -> list[str]:
    return sorted(f"{p.content_type.app_label}.{p.codename}" for p in permissions.select_related("content_type"))


def user_access_state(user: Any) -> dict[str, Any]:
    """What decides what ``user`` may do, as plain JSON: the flags, the role names and the own permissions."""
    return {
        **{flag: getattr(user, flag) for flag in _USER_FLAGS},
        "groups": sorted(user.groups.values_list("name", flat=True)),
        "user_permissions": _permission_names(user.user_permissions.all()),
    }


def role_state(group: Group) -> dict[str, Any]:
    return {"name": group.name, "permissions": _permission_names(group.permissions.all())}


def _changes(before: dict[str, Any] | None, after: dict[str, Any] | None) -> dict[str, list[Any]]:
    before, after = before or {}, after or {}
    keys = sorted(set(before) | set(after))
    return {key: [before.get(key), after.get(key)] for key in keys if before.get(key) != after.get(key)}


class _AccessAuditMixin:
    """Reads the access state before a save and after the related fields are saved, and records the difference."""

    event_type: str

    def access_state(self, obj: Any) -> dict[str, Any]:
        raise NotImplementedError

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        stored = type(obj)._default_manager.filter(pk=obj.pk).first() if change else None
        obj._access_before = self.access_state(stored) if stored is not None else None
        super().save_model(request, obj, form, change)  # type: ignore[misc]

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)  # type: ignore[misc]
        obj = form.instance
        before = getattr(obj, "_access_before", None)
        changes = _changes(before, self.access_state(obj))
        if changes:
            self._record(request, obj, "changed" if before is not None else "created", changes)

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        self._record(request, obj, "deleted", _changes(self.access_state(obj), None))
        super().delete_model(request, obj)  # type: ignore[misc]

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for obj in queryset:
            self._record(request, obj, "deleted", _changes(self.access_state(obj), None))
        super().delete_queryset(request, queryset)  # type: ignore[misc]

    def _record(self, request: HttpRequest, obj: Model, action: str, changes: dict[str, list[Any]]) -> None:
        audit.user_event(
            event_type=self.event_type,
            request=request,
            subject=obj,
            payload={"action": action, "changes": changes},
        )


@admin.register(User)
class PlatformUserAdmin(CleanTextAdminMixin, _AccessAuditMixin, UserAdmin):
    list_display = ("username", "email", "is_active", "is_staff", "last_login", "date_joined")
    list_filter = ("is_active", "is_staff", "is_superuser", "groups")
    event_type = "user.access_changed"

    def access_state(self, obj: Any) -> dict[str, Any]:
        return user_access_state(obj)


admin.site.unregister(Group)


@admin.register(Group)
class RoleAdmin(_AccessAuditMixin, GroupAdmin):
    event_type = "user.role_changed"

    def access_state(self, obj: Any) -> dict[str, Any]:
        return role_state(obj)


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
