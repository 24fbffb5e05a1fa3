"""User enforcement: suspending users whose inputs are refused too often, and lifting suspensions.

The thresholds (refused inputs in a row, refused inputs per day) are safety configuration
(``filing.safety.selectors.safety_config``), versioned and visible to operators.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from audit import services as audit
from filing.safety.selectors import safety_config
from generation.models import Suspension
from generation.usage import usage_input_refused


def suspension_active(user: Any) -> Suspension | None:
    return Suspension.objects.filter(user=user, lifted_at__isnull=True).first()


@dataclass(frozen=True)
class EnforcementOutcome:
    """What an input refusal did: the suspension it caused, or how many more refusals would cause one."""

    suspension: Suspension | None
    refusals_left: int | None

    def sentence(self) -> str:
        """What the user is told after the refusal, in plain words."""
        if self.suspension is not None:
            return _(
                "This refusal suspended your account: %(reason)s You can no longer generate content until an "
                "operator lifts the suspension; to appeal, use the complaints page."
            ) % {"reason": self.suspension.reason}
        if self.refusals_left is None:
            return ""
        return ngettext(
            "If %(n)d more of your requests is refused, your account will be suspended.",
            "If %(n)d more of your requests are refused, your account will be suspended.",
            self.refusals_left,
        ) % {"n": self.refusals_left}


def enforcement_apply(*, user: Any) -> EnforcementOutcome:
    """After an input was refused: count it, and suspend ``user`` if a rule is met. Runs in the caller's
    transaction. The counts survive the user deleting their history (``generation.usage``)."""
    in_a_row, today = usage_input_refused(user=user)
    if suspension_active(user):
        return EnforcementOutcome(suspension=None, refusals_left=None)
    config = safety_config()
    if in_a_row >= config.suspension_consecutive_refusals:
        rule, violations = Suspension.Rule.CONSECUTIVE, in_a_row
        reason = _("%(n)d requests in a row were refused for breaking the content rules.") % {"n": in_a_row}
    elif today >= config.suspension_refusals_per_day:
        rule, violations = Suspension.Rule.DAILY, today
        reason = _("%(n)d requests today were refused for breaking the content rules.") % {"n": today}
    else:
        left = min(config.suspension_consecutive_refusals - in_a_row, config.suspension_refusals_per_day - today)
        return EnforcementOutcome(suspension=None, refusals_left=left)
    try:
        with transaction.atomic():
            suspension = Suspension.objects.create(user=user, rule=rule, violations=violations, reason=reason)
    except IntegrityError:
        return EnforcementOutcome(suspension=None, refusals_left=None)  # suspended at the same moment
    audit.user_event(
        event_type="user.suspended",
        actor=None,
        actor_username="system:enforcement",
        subject=user,
        payload={"reason": reason, "violations": violations},
    )
    return EnforcementOutcome(suspension=suspension, refusals_left=0)


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
