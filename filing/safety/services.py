"""Writes to the safety records. Each write that changes what is in force creates a new version."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from filing.safety.models import SafetyConfigVersion, SafetyThreshold
from filing.safety.selectors import safety_config_version_current


@transaction.atomic
def safety_threshold_set(*, key: str, value: Decimal | int | str, actor: str, note: str = "") -> SafetyConfigVersion:
    """Make a new configuration version equal to the current one except ``key`` = ``value``.

    The old version stays as it was, so verdicts and reports that name it can still be explained.
    """
    current = safety_config_version_current()
    rows = list(SafetyThreshold.objects.filter(version=current).order_by("key"))
    target = next((row for row in rows if row.key == key), None)
    if target is None:
        raise ValidationError(_("Unknown threshold “%(key)s”.") % {"key": key})
    try:
        new_value = Decimal(str(value))
    except InvalidOperation as exc:
        raise ValidationError(_("“%(value)s” is not a number.") % {"value": value}) from exc
    if new_value < 0 or (target.unit == SafetyThreshold.Unit.RATIO and new_value > 1):
        raise ValidationError(_("A ratio lies between 0 and 1; counts and days are not negative."))
    if target.unit != SafetyThreshold.Unit.RATIO and new_value != new_value.to_integral():
        raise ValidationError(_("Counts and days are whole numbers."))

    # Lock the current version row so two concurrent edits cannot both create the same number.
    SafetyConfigVersion.objects.select_for_update().filter(pk=current.pk).first()
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
