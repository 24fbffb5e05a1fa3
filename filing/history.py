"""Change history of filing records: every create, change and delete goes to the audit log.

Design
------
Filing models inherit ``HistoryModel``. Its history is captured at the two places every write
passes through, whatever started it (admin form, admin bulk action, service, API, shell):

* single rows: ``pre_save`` reads the row as stored, ``post_save`` compares and writes one
  ``filing.changed`` record (``created`` or ``changed``, with ``{field: [old, new]}``); ``post_delete``
  writes ``deleted`` with the last values. Django sends the delete signals for each row a
  ``QuerySet.delete()`` or a cascade removes, so those are covered as well.
* set-based writes that send no signals: ``HistoryQuerySet`` (the default manager's queryset of
  every filing model) wraps ``update()`` (which ``bulk_update()`` uses) and ``bulk_create()``: it reads the
  affected rows before, writes, reads them after, and records one ``changed`` record per row
  whose values moved, all in one transaction, so a rolled-back update leaves no history.

Who acted comes from a context variable: ``FilingActorMiddleware`` sets it for each request
(admin and API alike), and code outside a request (Celery tasks, commands) uses
``acting_as(user)``. Without either, the record names the platform (``system``).

The audit log holds snapshots (text, numbers, ISO dates), never foreign keys, so history
survives the deletion of what it describes.
"""

from __future__ import annotations

import contextvars
import datetime
import decimal
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.db import models, transaction
from django.db.models.signals import post_delete, post_save, pre_save

_actor: contextvars.ContextVar[Any] = contextvars.ContextVar("filing_actor", default=None)
_collector: contextvars.ContextVar[dict[str, dict[str, list[Any]]] | None] = contextvars.ContextVar(
    "filing_history_collector", default=None
)
_request: contextvars.ContextVar[Any] = contextvars.ContextVar("filing_request", default=None)

SYSTEM_ACTOR = "system"


@contextmanager
def acting_as(user: Any = None, *, request: Any = None) -> Iterator[None]:
    """Attribute the filing changes made inside the block to ``user`` (and ``request``, if any)."""
    actor_token = _actor.set(user)
    request_token = _request.set(request)
    try:
        yield
    finally:
        _actor.reset(actor_token)
        _request.reset(request_token)


def current_actor() -> Any:
    user = _actor.get()
    if user is None:
        request = _request.get()
        user = getattr(request, "user", None)
    if user is not None and getattr(user, "is_authenticated", True) is False:
        return None
    return user


def _plain(value: Any) -> Any:
    """A JSON value standing for a field value."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if hasattr(value, "name") and hasattr(value, "storage"):  # a FieldFile
        return value.name or ""
    return str(value)


def _tracked_fields(model: type[models.Model]) -> list[models.Field]:
    skip = set(getattr(model, "history_exclude", ()))
    return [f for f in model._meta.concrete_fields if f.name not in skip]


def snapshot(instance: models.Model) -> dict[str, Any]:
    """The tracked field values of ``instance`` as plain JSON (foreign keys by id)."""
    return {f.attname: _plain(f.value_from_object(instance)) for f in _tracked_fields(type(instance))}


def _rows(model: type[models.Model], pks: list[Any]) -> dict[Any, models.Model]:
    return {obj.pk: obj for obj in model._base_manager.filter(pk__in=pks)} if pks else {}


def _snapshot_rows(model: type[models.Model], pks: list[Any]) -> dict[Any, dict[str, Any]]:
    return {pk: snapshot(obj) for pk, obj in _rows(model, pks).items()}


def _diff(before: dict[str, Any] | None, after: dict[str, Any] | None) -> dict[str, list[Any]]:
    before = before or {}
    after = after or {}
    ignored = {"updated_at"}
    keys = sorted(set(before) | set(after))
    return {k: [before.get(k), after.get(k)] for k in keys if k not in ignored and before.get(k) != after.get(k)}


@contextmanager
def history_collected() -> Iterator[dict[str, dict[str, list[Any]]]]:
    """Inside the block, the changes of filing records are collected instead of written as ``filing.changed``
    records: a service that writes its own typed audit event for the action (``complaint.resolved``, say) puts
    them in that event, so each action is one record. Yields ``{"<model label> <pk>": {field: [old, new]}}``."""
    collected: dict[str, dict[str, list[Any]]] = {}
    token = _collector.set(collected)
    try:
        yield collected
    finally:
        _collector.reset(token)


def history_write(
    *, instance: Any, action: str, changes: dict[str, list[Any]], fallback_actor: str = "", **fields: Any
) -> None:
    """Append one ``filing.changed`` record for ``instance`` (a model instance or ``(kind, id, repr)``).

    ``fallback_actor`` names who acted when no user is known (default: the platform itself);
    other keyword fields go to the audit record as they are (e.g. ``keyword_library_version``).
    """
    from audit import services as audit

    collector = _collector.get()
    if collector is not None and isinstance(instance, models.Model):
        key = f"{instance._meta.label_lower} {instance.pk}"
        collector.setdefault(key, {}).update(changes)
        return
    actor = current_actor()
    request = _request.get()
    if actor is None and (request is None or not getattr(getattr(request, "user", None), "is_authenticated", False)):
        fields["actor_username"] = fallback_actor or SYSTEM_ACTOR
    filing_number = _filing_number(instance)
    if filing_number:
        fields["filing_number"] = filing_number
    audit.filing_event(
        event_type="filing.changed",
        actor=actor,
        request=request,
        subject=instance,
        payload={"action": action, "changes": changes},
        **fields,
    )


def _filing_number(instance: Any) -> str:
    number = getattr(instance, "filing_number", "")
    if not number and getattr(instance, "service_id", None):
        try:
            number = instance.service.filing_number
        except ObjectDoesNotExist:  # deleted in the same cascade
            number = ""
    return str(number or "")


class HistoryQuerySet(models.QuerySet):
    """Set-based writes that record the history Django's signals would miss."""

    def update(self, **kwargs: Any) -> int:
        with transaction.atomic(using=self.db):
            pks = list(self.values_list("pk", flat=True))
            before = _snapshot_rows(self.model, pks)
            count = super().update(**kwargs)
            after = _rows(self.model, pks)
            for pk in pks:
                obj = after.get(pk)
                changes = _diff(before.get(pk), snapshot(obj) if obj is not None else None)
                if obj is not None and changes:
                    history_write(instance=obj, action="changed", changes=changes)
        return count

    def bulk_create(self, objs: Any, *args: Any, **kwargs: Any) -> list[Any]:
        with transaction.atomic(using=self.db):
            created = super().bulk_create(objs, *args, **kwargs)
            for obj in created:
                if obj.pk is not None:
                    history_write(instance=obj, action="created", changes=_diff(None, snapshot(obj)))
        return created

    # bulk_update() needs no wrapper: Django implements it with update() on this queryset.


class HistoryModel(models.Model):
    """Base of the filing records whose every change is written to the audit log."""

    objects = HistoryQuerySet.as_manager()

    # Field names left out of the recorded changes (e.g. bookkeeping or large text).
    history_exclude: tuple[str, ...] = ()

    class Meta:
        abstract = True


def _pre_save(sender: type[models.Model], instance: models.Model, raw: bool = False, **kwargs: Any) -> None:
    if raw or not issubclass(sender, HistoryModel):
        return
    before = None
    if instance.pk is not None and not instance._state.adding:
        stored = sender._base_manager.filter(pk=instance.pk).first()
        before = snapshot(stored) if stored is not None else None
    instance._history_before = before  # type: ignore[attr-defined]


def _post_save(
    sender: type[models.Model], instance: models.Model, created: bool, raw: bool = False, **kwargs: Any
) -> None:
    if raw or not issubclass(sender, HistoryModel):
        return
    before = None if created else getattr(instance, "_history_before", None)
    changes = _diff(before, snapshot(instance))
    if created or changes:
        history_write(instance=instance, action="created" if created else "changed", changes=changes)


def _post_delete(sender: type[models.Model], instance: models.Model, **kwargs: Any) -> None:
    if not issubclass(sender, HistoryModel):
        return
    history_write(instance=instance, action="deleted", changes=_diff(snapshot(instance), None))


def _version_created(
    sender: type[models.Model], instance: Any, created: bool, raw: bool = False, **kwargs: Any
) -> None:
    """The keyword library and the safety thresholds keep their own versions (one per change, with
    who and why); each new version is one history record, rather than one per keyword imported."""
    if raw or not created:
        return
    changes: dict[str, list[Any]] = {"number": [instance.number - 1 if instance.number > 1 else None, instance.number]}
    for name in ("reason", "note", "keyword_count", "allowlist_count"):
        if hasattr(instance, name):
            changes[name] = [None, _plain(getattr(instance, name))]
    extra = {"keyword_library_version": str(instance.number)} if hasattr(instance, "keyword_count") else {}
    history_write(
        instance=instance, action="created", changes=changes, fallback_actor=instance.created_by or "", **extra
    )


def signals_connect() -> None:
    """Called once from ``FilingConfig.ready``."""
    from django.apps import apps

    pre_save.connect(_pre_save, dispatch_uid="filing.history.pre_save")
    post_save.connect(_post_save, dispatch_uid="filing.history.post_save")
    post_delete.connect(_post_delete, dispatch_uid="filing.history.post_delete")
    for name in ("KeywordLibraryVersion", "SafetyConfigVersion"):
        post_save.connect(
            _version_created, sender=apps.get_model("filing", name), dispatch_uid=f"filing.history.version.{name}"
        )
