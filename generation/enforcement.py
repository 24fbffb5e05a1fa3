"""User enforcement: suspending users whose inputs are refused too often, and lifting suspensions.

The thresholds (refused inputs in a row, refused inputs per day) are safety configuration
(``filing.safety.selectors.safety_config``), versioned and visible to operators.
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audit import services as audit
from filing.safety.selectors import safety_config
from generation.models import Job, Suspension


def suspension_active(user: Any) -> Suspension | None:
    return Suspension.objects.filter(user=user, lifted_at__isnull=True).first()


def _input_refused(job: Job) -> bool:
    return job.status == Job.Status.REFUSED and (job.moderation or {}).get("input", {}).get("decision") == "block"


def _start_of_today() -> datetime:
    now = timezone.localtime()
    return timezone.make_aware(datetime.combine(now.date(), time.min), now.tzinfo)


def enforcement_apply(*, user: Any) -> Suspension | None:
    """After an input was refused: suspend ``user`` if a rule is met. Runs in the caller's transaction."""
    if suspension_active(user):
        return None
    config = safety_config()
    in_a_row = config.suspension_consecutive_refusals
    recent = list(Job.objects.filter(user=user).order_by("-created_at", "-pk")[:in_a_row])
    today = sum(
        1
        for job in Job.objects.filter(user=user, status=Job.Status.REFUSED, created_at__gte=_start_of_today())
        if _input_refused(job)
    )
    if len(recent) == in_a_row and all(_input_refused(job) for job in recent):
        rule, violations = Suspension.Rule.CONSECUTIVE, in_a_row
        reason = _("%(n)d requests in a row were refused for breaking the content rules.") % {"n": in_a_row}
    elif today >= config.suspension_refusals_per_day:
        rule, violations = Suspension.Rule.DAILY, today
        reason = _("%(n)d requests today were refused for breaking the content rules.") % {"n": today}
    else:
        return None
    try:
        with transaction.atomic():
            suspension = Suspension.objects.create(user=user, rule=rule, violations=violations, reason=reason)
    except IntegrityError:
        return None  # another request suspended the user at the same moment
    audit.user_event(
        event_type="user.suspended",
        actor=None,
        actor_username="system:enforcement",
        subject=user,
        payload={"reason": reason, "violations": violations},
    )
    return suspension


@transaction.atomic
def suspension_lift(*, suspension: Suspension, actor: Any, reason: str = "", request: Any = None) -> Suspension:
    if suspension.lifted_at is not None:
        return suspension
    suspension.lifted_at = timezone.now()
    suspension.lifted_by = actor.get_username() if actor is not None else ""
    suspension.lift_reason = str(reason)
    suspension.save(update_fields=["lifted_at", "lifted_by", "lift_reason"])
    audit.user_event(
        event_type="user.reinstated",
        actor=actor,
        request=request,
        subject=suspension.user,
        payload={"reason": str(reason or _("Lifted by an operator."))},
    )
    return suspension
