"""Who may do what: the one writer of the audit records of access changes.

A change of an account's active, staff or superuser flag, its roles (groups) or its own permissions is one
``user.access_changed`` record; a change of a role's name or permissions one ``user.role_changed`` record.
Code that gives or takes a role calls ``user_role_add`` / ``user_role_remove``; the admin pages, whose forms
save the change themselves, read the state before and hand it to ``user_access_recorded`` /
``role_access_recorded`` after. Either way one action is one record, ``{field: [old, new]}``, in the
transaction of the change.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypedDict, Unpack

from django.contrib.auth.models import Group
from django.db import transaction

from audit import services as audit
from genai_platform.roles import ADMIN_ROLES, Role, role_cache_clear

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


class AccessRecording(TypedDict, total=False):
    """How an access change is recorded: ``deleted``, the subject is about to be deleted; ``request`` or
    ``actor``, who acted; without either the platform itself acted, named by ``system``."""

    deleted: bool
    request: Any
    actor: Any
    system: str


def _recorded(
    event_type: str,
    subject: Any,
    before: dict[str, Any] | None,
    state: Callable[[Any], dict[str, Any]],
    *,
    deleted: bool = False,
    request: Any = None,
    actor: Any = None,
    system: str = "system:platform",
) -> bool:
    """Write one ``event_type`` record of what changed in ``subject`` from ``before`` to its ``state`` now
    (``None``: ``subject`` did not exist; ``deleted``: it no longer will); nothing when nothing changed. Returns
    whether it wrote one."""
    after = None if deleted else state(subject)
    changes = _changes(before, after)
    if not changes:
        return False
    action = "created" if before is None else "deleted" if after is None else "changed"
    who: dict[str, Any] = {} if actor is not None or request is not None else {"actor_username": system}
    audit.user_event(
        event_type=event_type,
        actor=actor,
        request=request,
        subject=subject,
        payload={"action": action, "changes": changes},
        **who,
    )
    return True


def user_access_recorded(*, user: Any, before: dict[str, Any] | None, **how: Unpack[AccessRecording]) -> bool:
    """Record what changed in ``user``'s access since ``before`` (``None``: the account was just created;
    ``deleted``: it is about to be deleted). Returns whether anything had changed. Without ``request`` or
    ``actor`` the platform itself acted, named by ``system``."""
    return _recorded("user.access_changed", user, before, user_access_state, **how)


def role_access_recorded(*, group: Group, before: dict[str, Any] | None, **how: Unpack[AccessRecording]) -> bool:
    """``user_access_recorded`` for a role: its name and permissions."""
    return _recorded("user.role_changed", group, before, role_state, **how)


@transaction.atomic
def user_role_add(
    *, user: Any, role: Role, request: Any = None, actor: Any = None, system: str = "system:platform"
) -> None:
    """Give ``user`` the role (and ``is_staff`` for a role that works in the admin), with its audit record."""
    before = user_access_state(user)
    group, _ = Group.objects.get_or_create(name=role.value)
    user.groups.add(group)
    if role in ADMIN_ROLES and not user.is_staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    role_cache_clear(user)
    user_access_recorded(user=user, before=before, request=request, actor=actor, system=system)


@transaction.atomic
def user_role_remove(
    *, user: Any, role: Role, request: Any = None, actor: Any = None, system: str = "system:platform"
) -> None:
    """Take the role from ``user``, with its audit record. ``is_staff`` stays: other rights may rest on it."""
    before = user_access_state(user)
    user.groups.remove(*Group.objects.filter(name=role.value))
    role_cache_clear(user)
    user_access_recorded(user=user, before=before, request=request, actor=actor, system=system)


def superuser_created_recorded(sender: Any, user: Any, **kwargs: Any) -> None:
    """Receiver of ``genai_platform.models.superuser_created``: the new superuser's access record, named as the
    command line's (``createsuperuser`` runs with no signed-in actor)."""
    user_access_recorded(user=user, before=None, system="system:createsuperuser")


def role_permissions_synced_recorded(sender: Any, group: Any, before: dict[str, Any], **kwargs: Any) -> None:
    """Receiver of ``genai_platform.roles.role_permissions_synced``: the role's change, named as the platform's
    role synchronisation (it runs after ``migrate``, with no signed-in actor)."""
    role_access_recorded(group=group, before=before, system="system:roles_sync")
