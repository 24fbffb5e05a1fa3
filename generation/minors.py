"""Minor mode: users under ``MINOR_AGE`` by the date of birth they gave at sign-up (minors' online protection rules;
Interim Measures Art 10).

Whether minors may sign up at all follows the public service's record ("minors may use it"). A minor's account
generates only after a guardian's consent is recorded, at most ``MINOR_DAILY_JOBS`` jobs a day, never during the
night hours (``MINOR_NIGHT_START`` to ``MINOR_NIGHT_END``, local time), and with stricter content checks (what the
keyword library only flags is refused, ``MINOR_BLOCK_FLAGGED``). Minor mode lifts by itself on the birthday that
reaches ``MINOR_AGE``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from datetime import time as clock
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audit import services as audit
from generation.identity import IdentityError, phone_masked, phone_normalise, pi_encrypt
from generation.models import AgeDeclaration


def age_on(date_of_birth: date, day: date) -> int:
    before_birthday = (day.month, day.day) < (date_of_birth.month, date_of_birth.day)
    return day.year - date_of_birth.year - (1 if before_birthday else 0)


def _adult_from(date_of_birth: date) -> date:
    try:
        return date_of_birth.replace(year=date_of_birth.year + settings.MINOR_AGE)
    except ValueError:  # born on 29 February
        return date(date_of_birth.year + settings.MINOR_AGE, 3, 1)


def _hhmm(value: str) -> clock:
    hours, minutes = value.split(":")
    return clock(int(hours), int(minutes))


@dataclass(frozen=True)
class MinorMode:
    """The limits that apply to a minor's account now."""

    daily_jobs: int
    night_start: clock
    night_end: clock
    guardian_consented: bool
    adult_on: date

    @property
    def night_hours(self) -> str:
        return f"{self.night_start:%H:%M}–{self.night_end:%H:%M}"

    def is_night(self, moment: datetime) -> bool:
        now = timezone.localtime(moment).time()
        if self.night_start <= self.night_end:
            return self.night_start <= now < self.night_end
        return now >= self.night_start or now < self.night_end


def minor_mode(user: Any, *, today: date | None = None) -> MinorMode | None:
    """The minor mode of ``user``, or None for an adult (or an account from before dates of birth were asked)."""
    declaration = AgeDeclaration.objects.filter(user_id=user.pk).first()
    if declaration is None:
        return None
    return minor_mode_of(
        declaration.date_of_birth, guardian_consented=declaration.guardian_consented_at is not None, today=today
    )


def minor_mode_of(
    date_of_birth: date | None, *, guardian_consented: bool, today: date | None = None
) -> MinorMode | None:
    """The minor mode of an account declared born on ``date_of_birth`` (None: not declared), or None for an adult."""
    if date_of_birth is None:
        return None
    day = today or timezone.localdate()
    if age_on(date_of_birth, day) >= settings.MINOR_AGE:
        return None
    return MinorMode(
        daily_jobs=settings.MINOR_DAILY_JOBS,
        night_start=_hhmm(settings.MINOR_NIGHT_START),
        night_end=_hhmm(settings.MINOR_NIGHT_END),
        guardian_consented=guardian_consented,
        adult_on=_adult_from(date_of_birth),
    )


def is_minor(date_of_birth: date, *, today: date | None = None) -> bool:
    return age_on(date_of_birth, today or timezone.localdate()) < settings.MINOR_AGE


def minor_refusal(user: Any, *, now: datetime | None = None) -> tuple[str, str] | None:
    """Why minor mode keeps ``user`` from generating now, as (message, code); None if it does not."""
    return minor_mode_refusal(minor_mode(user), now=now)


def minor_mode_refusal(mode: MinorMode | None, *, now: datetime | None = None) -> tuple[str, str] | None:
    """Why minor mode ``mode`` keeps its account from generating now, as (message, code); None if it does not."""
    if mode is None:
        return None
    if not mode.guardian_consented:
        return (
            _("Minor mode: a parent or guardian must give their consent on the account page before you can generate."),
            "guardian_consent_required",
        )
    if mode.is_night(now or timezone.now()):
        return (
            _("Minor mode: the service is not available between %(start)s and %(end)s. Please come back after %(end)s.")
            % {"start": f"{mode.night_start:%H:%M}", "end": f"{mode.night_end:%H:%M}"},
            "minor_night",
        )
    return None


@transaction.atomic
def age_declare(*, user: Any, date_of_birth: date, request: Any = None) -> AgeDeclaration:
    """Record the date of birth given at sign-up; a minor's account starts in minor mode (an audit event)."""
    declaration, _created = AgeDeclaration.objects.update_or_create(
        user=user, defaults={"date_of_birth": date_of_birth}
    )
    if is_minor(date_of_birth):
        audit.user_event(
            event_type="user.minor_mode",
            actor=user,
            request=request,
            subject=user,
            payload={"active": True, "daily_jobs": settings.MINOR_DAILY_JOBS, "night_hours": _night_hours()},
        )
    return declaration


def _night_hours() -> str:
    return f"{settings.MINOR_NIGHT_START}–{settings.MINOR_NIGHT_END}"


@transaction.atomic
def guardian_consent_record(
    *, user: Any, guardian_name: str, guardian_phone: str, request: Any = None
) -> AgeDeclaration:
    """Record a guardian's consent to a minor's use of the service (an audit event). Raises IdentityError for a bad
    phone number, ValueError when the account is not in minor mode."""
    declaration = AgeDeclaration.objects.select_for_update().filter(user_id=user.pk).first()
    if declaration is None or minor_mode(user) is None:
        raise ValueError("not a minor's account")
    phone = phone_normalise(guardian_phone)
    name = guardian_name.strip()
    if not name:
        raise IdentityError(_("Enter the guardian's name."))
    declaration.guardian_name = name[:100]
    declaration.guardian_contact_encrypted = pi_encrypt(phone)
    declaration.guardian_contact_masked = phone_masked(phone)
    declaration.guardian_consented_at = timezone.now()
    declaration.save()
    audit.user_event(
        event_type="user.guardian_consented",
        actor=user,
        request=request,
        subject=user,
        payload={"guardian_phone": declaration.guardian_contact_masked},
    )
    return declaration
