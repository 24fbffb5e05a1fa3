"""An end user's account from sign-up to closure: signing up, API tokens, and closing the account (PIPL Art 47),
asked for with the password and carried out after a cooling-off period.

``closure_request`` records the request and signs the user out everywhere; signing in again before
``effective_at`` cancels it (``closure_cancel``). The periodic task ``generation.account_closures`` then closes
each due account: history and files, API token, settings, verified number, age and guardian data, usage counts
and pending codes are deleted, and the user row is anonymised (kept only so that the records below still point
at something). What stays: the audit log's records of the account's requests, until the retention period
(``AUDIT_RETENTION_DAYS``) after each record ends, and the complaints and suspensions that concern it, which the
provider must keep. Every step is an audit event.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.sessions.models import Session
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework.authtoken.models import Token

from audit import services as audit
from filing.models import Complaint
from genai_platform.roles import Role, user_role_add
from generation.enduser import history_delete, user_settings_update
from generation.minors import age_declare
from generation.models import (
    AccountClosure,
    AgeDeclaration,
    DailyUsage,
    PhoneCode,
    PhoneVerification,
    RefusalStreak,
    TermsAcceptance,
    UserSettings,
)
from generation.terms import terms_accept

logger = logging.getLogger(__name__)


@transaction.atomic
def user_sign_up(*, user: Any, inputs_for_training: bool, date_of_birth: date, request: Any = None) -> Any:
    """Store a new end user (``user`` unsaved, password set) with their training choice, their acceptance of
    the terms in force and their date of birth (minor mode follows from it)."""
    user.save()
    user_role_add(user=user, role=Role.END_USER)
    user_settings_update(user=user, inputs_for_training=inputs_for_training, request=request)
    terms_accept(user=user, request=request)
    age_declare(user=user, date_of_birth=date_of_birth, request=request)
    return user


def token_replace(*, user: Any) -> str:
    """A new API token for ``user`` (the old one stops working); returns its key."""
    with transaction.atomic():
        Token.objects.filter(user=user).delete()
        return str(Token.objects.create(user=user).key)


def token_issue(*, user: Any, request: Any = None) -> str:
    """The API token of ``user``, created on first use. Signing in for a token, like signing in on the site,
    cancels a pending account closure."""
    token, _created = Token.objects.get_or_create(user=user)
    closure_cancel(user=user, request=request, how="api_token")
    return str(token.key)


def token_exists(*, user: Any) -> bool:
    return Token.objects.filter(user=user).exists()


def token_revoke(*, user: Any) -> None:
    Token.objects.filter(user=user).delete()


class ClosureError(Exception):
    """The closure cannot be asked for; the message is for the user."""


def closure_pending(user: Any) -> AccountClosure | None:
    return AccountClosure.objects.filter(user_id=user.pk, cancelled_at__isnull=True, completed_at__isnull=True).first()


@dataclass(frozen=True)
class WhatStays:
    """What closing the account keeps, and until when, for the account page."""

    audit_kept_until: datetime
    retention_days: int
    complaints: int


def closure_what_stays(user: Any, *, closing_at: datetime | None = None) -> WhatStays:
    closing_at = closing_at or timezone.now() + timedelta(days=settings.ACCOUNT_CLOSURE_COOLING_OFF_DAYS)
    retention = settings.AUDIT_RETENTION_DAYS
    return WhatStays(
        # The newest record about the account is the closure's own.
        audit_kept_until=closing_at + timedelta(days=retention),
        retention_days=retention,
        complaints=Complaint.objects.filter(user_id=str(user.pk)).count(),
    )


def _sessions_end(user: Any) -> None:
    user_key = str(user.pk)
    live = Session.objects.filter(expire_date__gt=timezone.now())
    stale = [s.pk for s in live.iterator() if s.get_decoded().get("_auth_user_id") == user_key]
    Session.objects.filter(pk__in=stale).delete()


@transaction.atomic
def closure_request(*, user: Any, password: str, request: Any = None) -> AccountClosure:
    """Ask to close ``user``'s account after the cooling-off period; the password must be right."""
    if not user.check_password(password or ""):
        raise ClosureError(_("The password is not right. Enter your current password to close your account."))
    if closure_pending(user) is not None:
        raise ClosureError(_("Closing this account has already been asked for."))
    now = timezone.now()
    closure = AccountClosure.objects.create(
        user=user,
        requested_at=now,
        effective_at=now + timedelta(days=settings.ACCOUNT_CLOSURE_COOLING_OFF_DAYS),
    )
    Token.objects.filter(user=user).delete()
    audit.user_event(
        event_type="user.closure_requested",
        actor=user,
        request=request,
        subject=user,
        payload={
            "effective_at": closure.effective_at.isoformat(),
            "cooling_off_days": settings.ACCOUNT_CLOSURE_COOLING_OFF_DAYS,
        },
    )
    transaction.on_commit(lambda: _sessions_end(user))
    return closure


@transaction.atomic
def closure_cancel(*, user: Any, request: Any = None, how: str = "signed_in") -> AccountClosure | None:
    """Cancel ``user``'s pending closure, if there is one (signing in during the cooling-off period does)."""
    closure = (
        AccountClosure.objects.select_for_update()
        .filter(user_id=user.pk, cancelled_at__isnull=True, completed_at__isnull=True)
        .first()
    )
    if closure is None:
        return None
    closure.cancelled_at = timezone.now()
    closure.save(update_fields=["cancelled_at"])
    audit.user_event(
        event_type="user.closure_cancelled", actor=user, request=request, subject=user, payload={"how": how}
    )
    return closure


def _close(closure: AccountClosure) -> None:
    user = closure.user
    counts = history_delete(user=user, audited=False)  # counted in the user.closed record below
    with transaction.atomic():
        for model in (UserSettings, PhoneVerification, PhoneCode, AgeDeclaration, DailyUsage, RefusalStreak):
            model.objects.filter(user_id=user.pk).delete()
        # Which terms the account accepted is part of its personal data; the audit log keeps each acceptance.
        TermsAcceptance.objects.filter(user_id=user.pk).delete()
        Token.objects.filter(user=user).delete()
        Complaint.objects.filter(user_id=str(user.pk)).update(complainant=f"closed-{user.pk}", contact="")
        user.username = f"closed-{user.pk}"
        user.email = ""
        user.first_name = ""
        user.last_name = ""
        user.is_active = False
        user.set_unusable_password()
        user.save()
        user.groups.clear()
        closure.completed_at = timezone.now()
        closure.save(update_fields=["completed_at"])
        audit.user_event(
            event_type="user.closed",
            actor=None,
            actor_username="system:account_closures",
            subject=user,
            payload={
                "requested_at": closure.requested_at.isoformat(),
                "jobs_deleted": counts["jobs"],
                "outputs_deleted": counts["outputs"],
            },
        )
    _sessions_end(user)


def closures_complete(*, now: datetime | None = None) -> int:
    """Close every account whose cooling-off period has ended; returns how many. Run by a periodic task."""
    due = AccountClosure.objects.filter(
        cancelled_at__isnull=True, completed_at__isnull=True, effective_at__lte=now or timezone.now()
    ).select_related("user")
    closed = 0
    for closure in due:
        try:
            _close(closure)
            closed += 1
        except Exception:
            logger.exception("account closure %s failed; it stays pending and is tried again", closure.pk)
    return closed
