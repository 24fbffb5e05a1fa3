"""Writes to the safety records. Each write that changes what is in force creates a new version."""

from __future__ import annotations

import hashlib
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from filing.safety.models import (
    AllowlistPhrase,
    Keyword,
    KeywordLibraryVersion,
    Origin,
    Risk,
    SafetyConfigVersion,
    SafetyThreshold,
)
from filing.safety.selectors import safety_config_version_current

Entry = TypeVar("Entry", Keyword, AllowlistPhrase)


def _serialise(name: str) -> None:
    """Hold a lock, until the transaction ends, that every writer of the versioned ``name`` takes first.

    Writers then read the highest version number only once they are alone, so two concurrent
    changes get consecutive numbers instead of one failing on the unique constraint. PostgreSQL
    gets a transaction-level advisory lock; SQLite transactions here begin IMMEDIATE, which
    already lets one writer in at a time.
    """
    if connection.vendor == "postgresql":
        key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])


# Thresholds an operator may not set below a floor of the platform's settings: the setting that holds each floor.
THRESHOLD_FLOOR_SETTINGS = {
    "corpus_source_sample_min": "FILING_SOURCE_SAMPLE_FLOOR",
    "corpus_manual_sample_min": "FILING_CORPUS_MANUAL_SAMPLE_FLOOR",
}


def safety_threshold_floor(key: str) -> int | None:
    """The least value ``key`` may be set to (from the settings), or ``None`` when only its unit bounds it."""
    name = THRESHOLD_FLOOR_SETTINGS.get(key)
    return None if name is None else int(getattr(settings, name))


def safety_threshold_value_clean(threshold: SafetyThreshold, value: Decimal | int | str) -> Decimal:
    """``value`` as ``threshold`` may take it, or ValidationError saying why it may not (the admin form shows the
    reason on the field before anything is saved)."""
    key = threshold.key
    try:
        new_value = Decimal(str(value))
    except InvalidOperation as exc:
        raise ValidationError(_("“%(value)s” is not a number.") % {"value": value}) from exc
    if not new_value.is_finite():
        raise ValidationError(_("“%(value)s” is not a number.") % {"value": value})
    if new_value < 0 or (threshold.unit == SafetyThreshold.Unit.RATIO and new_value > 1):
        raise ValidationError(_("A ratio lies between 0 and 1; other thresholds are not negative."))
    if threshold.unit in SafetyThreshold.WHOLE_UNITS and new_value != new_value.to_integral():
        raise ValidationError(_("Counts and days are whole numbers."))
    floor = safety_threshold_floor(key)
    if floor is not None and new_value < floor:
        raise ValidationError(
            _("“%(key)s” may not be set below %(floor)d (the platform's floor, %(setting)s).")
            % {"key": key, "floor": floor, "setting": f"GENAI_{THRESHOLD_FLOOR_SETTINGS[key]}"}
        )
    return new_value


@transaction.atomic
def safety_threshold_set(*, key: str, value: Decimal | int | str, actor: str, note: str = "") -> SafetyConfigVersion:
    """Make a new configuration version equal to the current one except ``key`` = ``value``.

    The old version stays as it was, so verdicts and reports that name it can still be explained.
    """
    _serialise("filing.safety_config_version")
    current = safety_config_version_current()
    rows = list(SafetyThreshold.objects.filter(version=current).order_by("key"))
    target = next((row for row in rows if row.key == key), None)
    if target is None:
        raise ValidationError(_("Unknown threshold “%(key)s”.") % {"key": key})
    new_value = safety_threshold_value_clean(target, value)

    version = SafetyConfigVersion.objects.create(
        number=current.number + 1,
        created_by=actor,
        note=note or _("%(key)s: %(old)s → %(new)s") % {"key": key, "old": target.display_value, "new": new_value},
    )
    copies = []
    for row in rows:
        row.pk = None
        row.version = version
        if row.key == key:
            row.value = new_value
        row.full_clean(exclude=["version"])
        copies.append(row)
    SafetyThreshold.objects.bulk_create(copies)
    return version


#
# Keyword library
#


def keyword_library_version_bump(*, actor: str, reason: str) -> KeywordLibraryVersion:
    """Record a new library version; called inside the transaction that changed the library."""
    _serialise("filing.keyword_library_version")
    latest = KeywordLibraryVersion.objects.order_by("-number").first()
    return KeywordLibraryVersion.objects.create(
        number=(latest.number + 1) if latest else 1,
        created_by=actor,
        reason=reason[:500],
        keyword_count=Keyword.objects.filter(enabled=True).count(),
        allowlist_count=AllowlistPhrase.objects.filter(enabled=True).count(),
    )


def _library_entry_save(entry: Keyword | AllowlistPhrase, *, actor: str) -> KeywordLibraryVersion:
    """Check and store a keyword or an allowlist phrase; the library gets a new version that names it."""
    created = entry.pk is None
    entry.full_clean()
    entry.save()
    if isinstance(entry, Keyword):
        reason = _("Keyword “%(k)s” added.") if created else _("Keyword “%(k)s” changed.")
        return keyword_library_version_bump(actor=actor, reason=reason % {"k": entry.keyword})
    reason = _("Allowlist phrase “%(p)s” added.") if created else _("Allowlist phrase “%(p)s” changed.")
    return keyword_library_version_bump(actor=actor, reason=reason % {"p": entry.phrase})


def _library_entries_changed(count: int, *, actor: str, reason: str, **values: Any) -> KeywordLibraryVersion | None:
    """The library version after ``count`` entries were changed or deleted at once (``reason`` is formatted with
    ``n`` and ``values``); none when no entry was."""
    if not count:
        return None
    return keyword_library_version_bump(actor=actor, reason=reason % {"n": count, **values})


def _library_entry_created(entry: Entry, *, actor: str) -> Entry:
    """``entry``, new to the library, checked and stored with the library version that names it."""
    _library_entry_save(entry, actor=actor)
    return entry


def _library_entries_deleted(entries: QuerySet[Any], *, actor: str, reason: str) -> KeywordLibraryVersion | None:
    """Delete ``entries`` at once; the library version after it (``reason`` formatted with ``n``), none when no
    entry was deleted."""
    count, _deleted = entries.delete()
    return _library_entries_changed(count, actor=actor, reason=reason)


@transaction.atomic
def keyword_save(*, keyword: Keyword, actor: str) -> KeywordLibraryVersion:
    """Create or change one keyword entry; the library gets a new version."""
    return _library_entry_save(keyword, actor=actor)


@transaction.atomic
def keyword_create(
    *,
    keyword: str,
    risk_code: str,
    actor: str,
    action: str = Keyword.Action.BLOCK,
    enabled: bool = True,
    notes: str = "",
    origin: str = Origin.MANUAL,
) -> Keyword:
    try:
        risk = Risk.objects.get(code=risk_code)
    except Risk.DoesNotExist as exc:
        raise ValidationError({"risk": _("Unknown risk code “%(code)s”.") % {"code": risk_code}}) from exc
    entry = Keyword(keyword=keyword, risk=risk, action=action, enabled=enabled, notes=notes, origin=origin)
    return _library_entry_created(entry, actor=actor)


@transaction.atomic
def keywords_delete(*, keywords: QuerySet[Keyword], actor: str) -> KeywordLibraryVersion | None:
    return _library_entries_deleted(keywords, actor=actor, reason=_("%(n)d keywords deleted."))


@transaction.atomic
def keywords_update(*, keywords: QuerySet[Keyword], actor: str, **fields: Any) -> KeywordLibraryVersion | None:
    """Set ``enabled`` and/or ``action`` on many keywords at once (admin bulk actions)."""
    allowed = {"enabled", "action"}
    if not fields or set(fields) - allowed:
        raise ValueError(f"keywords_update sets only {sorted(allowed)}, got {sorted(fields)}")
    count = keywords.update(**fields, updated_at=timezone.now())
    described = ", ".join(f"{name}={value}" for name, value in sorted(fields.items()))
    return _library_entries_changed(count, actor=actor, reason=_("%(n)d keywords changed: %(what)s."), what=described)


@transaction.atomic
def allowlist_phrase_save(*, phrase: AllowlistPhrase, actor: str) -> KeywordLibraryVersion:
    return _library_entry_save(phrase, actor=actor)


@transaction.atomic
def allowlist_phrase_create(
    *, phrase: str, actor: str, notes: str = "", origin: str = Origin.MANUAL
) -> AllowlistPhrase:
    return _library_entry_created(AllowlistPhrase(phrase=phrase, notes=notes, origin=origin), actor=actor)


@transaction.atomic
def allowlist_phrases_delete(*, phrases: QuerySet[AllowlistPhrase], actor: str) -> KeywordLibraryVersion | None:
    return _library_entries_deleted(phrases, actor=actor, reason=_("%(n)d allowlist phrases deleted."))


@transaction.atomic
def allowlist_phrases_update(
    *, phrases: QuerySet[AllowlistPhrase], enabled: bool, actor: str
) -> KeywordLibraryVersion | None:
    count = phrases.update(enabled=enabled, updated_at=timezone.now())
    reason = _("%(n)d allowlist phrases enabled.") if enabled else _("%(n)d allowlist phrases disabled.")
    return _library_entries_changed(count, actor=actor, reason=reason)
