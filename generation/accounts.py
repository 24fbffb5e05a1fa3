"""An end user's account from sign-up to closure: signing up, API tokens, passwords, and closing the account
(PIPL Art 47), asked for with the password and carried out after a cooling-off period.

Sign-up does not tell whether an e-mail address is registered: the page and the mail are the same kind either
way (``user_sign_up``). An API token ends when its owner revokes or replaces it, when the password is changed
or reset (by the user, an operator in the admin or ``manage.py changepassword``) and when the account is
deactivated: ``user_pre_save`` sees the change on the user row, whatever made it. Each token created or ended
is an audit event.

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
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework.authtoken.models import Token

from audit import services as audit
from filing.history import current_actor
from filing.models import Complaint
from genai_platform.roles import Role
from generation.access import user_role_add
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


def _account_of_email(email: str) -> Any:
    if not email:
        return None
    return get_user_model().objects.filter(email__iexact=email).order_by("pk").first()


def _mail_send(*, template: str, context: dict[str, Any], to: str) -> None:
    subject = render_to_string(f"generation/account/{template}_subject.txt", context).strip()
    body = render_to_string(f"generation/account/{template}_email.txt", context)
    try:
        send_mail(subject, body, None, [to])
    except Exception:
        # The account is made either way; the page must not differ because a mail could not go.
        logger.exception("the sign-up mail could not be sent")


@transaction.atomic
def user_sign_up(*, user: Any, inputs_for_training: bool, date_of_birth: date, request: Any = None) -> Any:
    """Store a new end user (``user`` unsaved, password set) with their training choice, their acceptance of
    the terms in force and their date of birth (minor mode follows from it).

    The address given gets one message either way, and the page after sign-up is the same, so that sign-up
    does not tell whether an address is registered: a welcome for a new address; for an address that
    already belongs to an account, a note to its owner (someone signed up with it: sign in, or reset the
    password), and the new account gets no address (the address stays the other account's, for its resets).
    """
    email = user.email
    existing = _account_of_email(email)
    if existing is not None:
        user.email = ""
    user.save()
    user_role_add(user=user, role=Role.END_USER, actor=user, request=request)
    user_settings_update(user=user, inputs_for_training=inputs_for_training, request=request)
    terms_accept(user=user, request=request)
    age_declare(user=user, date_of_birth=date_of_birth, request=request)
    audit.user_event(
        event_type="user.signed_up",
        actor=user,
        request=request,
        subject=user,
        payload={"email": email, "email_in_use": existing is not None},
    )
    if email:
        if existing is None:
            template, context = "signup_welcome", {"username": user.get_username()}
        else:
            reset_url = request.build_absolute_uri(reverse("password-reset")) if request is not None else ""
            template = "signup_email_in_use"
            context = {"existing_username": existing.get_username(), "reset_url": reset_url}
        transaction.on_commit(lambda: _mail_send(template=template, context=context, to=email))
    return user


def _token_revoked(*, user: Any, reason: str, request: Any = None, actor: Any = None) -> None:
    extra: dict[str, Any] = {} if actor is not None or request is not None else {"actor_username": "system"}
    audit.user_event(
        event_type="user.token_revoked",
        actor=actor,
        request=request,
        subject=user,
        payload={"reason": reason},
        **extra,
    )


def tokens_revoke(*, user: Any, reason: str, request: Any = None, actor: Any = None) -> int:
    """End ``user``'s API token, if there is one, with an audit record saying why; returns how many ended."""
    with transaction.atomic():
        deleted, _rows = Token.objects.filter(user_id=user.pk).delete()
        if deleted:
            _token_revoked(user=user, reason=reason, request=request, actor=actor)
    return deleted


def token_replace(*, user: Any, request: Any = None) -> str:
    """A new API token for ``user`` (the old one stops working); returns its key."""
    with transaction.atomic():
        tokens_revoke(user=user, reason="replaced", request=request, actor=user)
        key = str(Token.objects.create(user=user).key)
        audit.user_event(
            event_type="user.token_created", actor=user, request=request, subject=user, payload={"how": "account_page"}
        )
        return key


def token_issue(*, user: Any, request: Any = None) -> str:
    """The API token of ``user``, created on first use. Signing in for a token, like signing in on the site,
    cancels a pending account closure."""
    with transaction.atomic():
        token, created = Token.objects.get_or_create(user=user)
        if created:
            audit.user_event(
                event_type="user.token_created", actor=user, request=request, subject=user, payload={"how": "api"}
            )
    closure_cancel(user=user, request=request, how="api_token")
    return str(token.key)


def token_exists(*, user: Any) -> bool:
    return Token.objects.filter(user=user).exists()


def token_revoke(*, user: Any, request: Any = None) -> None:
    """The user revokes their own API token."""
    tokens_revoke(user=user, reason="user", request=request, actor=user)


def password_changed(*, user: Any, request: Any = None, reset: bool = False) -> None:
    """Record that ``user`` changed their password, or set it with a reset link (``reset``). Their API token
    has already ended when the row was saved (``user_pre_save``)."""
    with transaction.atomic():
        audit.user_event(
            event_type="user.password_reset" if reset else "user.password_changed",
            actor=user,
            request=request,
            subject=user,
        )


def user_pre_save(sender: Any, instance: Any, raw: bool = False, **kwargs: Any) -> None:
    """Receiver of ``pre_save`` on the user model (connected by ``generation.apps``): a new password or a
    deactivation ends the account's API token, in the transaction that saves the row. Browser sessions end by
    Django's own session hash check; a token has no such check, so it is deleted here."""
    if raw or instance.pk is None or instance._state.adding:
        return
    if getattr(instance, "_password", None) is not None:
        reason = "password_changed"
    elif not instance.is_active and type(instance).objects.filter(pk=instance.pk, is_active=True).exists():
        reason = "deactivated"
    else:
        return
    tokens_revoke(user=instance, reason=reason, actor=current_actor())


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
    tokens_revoke(user=user, reason="closure_requested", request=request, actor=user)
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
        tokens_revoke(user=user, reason="closed")
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
