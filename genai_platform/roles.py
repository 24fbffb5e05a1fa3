"""Roles are Django groups with permissions, kept in step with ``ROLE_PERMISSIONS``.

A data migration creates the groups; after every ``migrate`` the permissions of each group are
set again from the patterns below, so a model added later is covered without a new migration.
A superuser is an admin and passes every role check.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from enum import StrEnum
from functools import wraps
from typing import TYPE_CHECKING, Any

from django.apps import apps as global_apps
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.dispatch import Signal
from rest_framework.permissions import BasePermission

if TYPE_CHECKING:
    from django.apps.registry import Apps
    from django.http import HttpRequest, HttpResponseBase


class Role(StrEnum):
    OPERATOR = "operator"
    AUDITOR = "auditor"
    END_USER = "end_user"


# Patterns over "app_label.codename" (shell-style wildcards).
ROLE_PERMISSIONS: dict[Role, tuple[str, ...]] = {
    # Operators keep the filing records and run the generation side: they need the admin.
    Role.OPERATOR: (
        "filing.*",
        "generation.*",
        "genai_platform.view_workerheartbeat",
        "genai_platform.send_heartbeat",
    ),
    # Auditors read and export the log; they change nothing.
    Role.AUDITOR: (
        "audit.view_*",
        "audit.export_*",
    ),
    # End users act only on their own jobs; ownership is checked in the views, not by permissions.
    Role.END_USER: (),
}


# Roles whose work happens in the Django admin, which needs ``is_staff``.
ADMIN_ROLES = frozenset({Role.OPERATOR})


def _matches(label: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatchcase(label, pattern) for pattern in patterns)


# Sent with ``group`` and ``before`` (the role's name and permissions, as sorted "app_label.codename") when
# ``roles_sync`` changed what a role that already existed may do: a release changed ROLE_PERMISSIONS, or the
# permissions had been changed by hand. The audit record is written by a receiver above the kernel.
role_permissions_synced = Signal()


def roles_sync(*, apps: Apps | None = None, using: str = "default", record: bool = True) -> None:
    """Create the role groups and set each one's permissions to exactly what its patterns match.

    A role created here has nothing to record (the permissions are the release's); with ``record``, a change to
    an existing role's permissions sends ``role_permissions_synced`` (not from a migration's historical models)."""
    registry = apps or global_apps
    group_model = registry.get_model("auth", "Group")
    permission_model = registry.get_model("auth", "Permission")
    permissions = list(permission_model.objects.using(using).select_related("content_type"))
    for role, patterns in ROLE_PERMISSIONS.items():
        group, created = group_model.objects.using(using).get_or_create(name=role.value)
        wanted = [p for p in permissions if _matches(_label(p), patterns)]
        before = [] if created else sorted(_label(p) for p in group.permissions.select_related("content_type"))
        group.permissions.set(wanted)
        if record and not created and apps is None and before != sorted(_label(p) for p in wanted):
            role_permissions_synced.send(
                sender=group_model, group=group, before={"name": group.name, "permissions": before}
            )


def _label(permission: Any) -> str:
    return f"{permission.content_type.app_label}.{permission.codename}"


def user_has_role(user: Any, *roles: Role) -> bool:
    if not user or not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    cached = getattr(user, "_role_names", None)
    if cached is None:
        cached = set(user.groups.values_list("name", flat=True))
        user._role_names = cached
    return any(role.value in cached for role in roles)


def workspace_url(user: Any) -> str:
    """Where ``user`` works: end users generate, auditors read the audit log, operators (and superusers) keep the
    filing records in the admin. A user with none of the roles gets the generation page, which says why it is not
    for them."""
    from django.urls import reverse

    if user and user.is_authenticated and user.is_superuser:
        return reverse("admin:index")
    if user_has_role(user, Role.END_USER):
        return reverse("generate")
    if user_has_role(user, Role.AUDITOR):
        return reverse("audit:log")
    if user_has_role(user, Role.OPERATOR) or getattr(user, "is_staff", False):
        return reverse("admin:index")
    return reverse("generate")


def role_cache_clear(user: Any) -> None:
    """Forget the role names ``user_has_role`` read for ``user``, after its roles changed."""
    if hasattr(user, "_role_names"):
        del user._role_names


def role_required(*roles: Role) -> Callable[[Callable[..., HttpResponseBase]], Callable[..., HttpResponseBase]]:
    """View decorator: anonymous users go to the login page, users without the role get 403."""

    def decorator(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not user_has_role(request.user, *roles):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


class HasRole(BasePermission):
    """DRF permission: ``permission_classes = [HasRole.of(Role.AUDITOR)]``."""

    roles: tuple[Role, ...] = ()

    @classmethod
    def of(cls, *roles: Role) -> type[HasRole]:
        return type(f"HasRole_{'_'.join(r.value for r in roles)}", (cls,), {"roles": roles})

    def has_permission(self, request: Any, view: Any) -> bool:
        return user_has_role(request.user, *self.roles)
