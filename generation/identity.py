"""Real-name verification of end users by a one-time code sent to a mobile number (deep-synthesis provisions Art 9).

Whether the public service asks for it is its record's "real-name verification required" (on by default). An
account without a verified number can read but not generate. Codes expire (``PHONE_CODE_TTL_SECONDS``), allow
``PHONE_CODE_MAX_ATTEMPTS`` wrong tries, and are kept only as a keyed hash. The number itself is personal
information: stored encrypted, found by a keyed hash, shown masked, and left out of pseudonymised audit exports
(its audit payload keys are marked ``pi``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from datetime import timedelta
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audit import services as audit
from filing.selectors import service_public
from generation.models import PhoneCode, PhoneVerification
from generation.sms import SmsUnavailable, sms_send

# Mainland mobile numbers: 11 digits starting 13–19, optionally written with +86 / 0086 and spaces or dashes.
_MOBILE = re.compile(r"1[3-9]\d{9}")
# A number any developer may use on a demo install; demo data verifies the demo end user with it.
DEMO_PHONE = "13800000000"
CODE_DIGITS = 6


class IdentityError(Exception):
    """A step of the verification that cannot be done; the message is for the user."""


def _key(purpose: bytes) -> bytes:
    base = settings.PI_ENCRYPTION_KEY.encode() or settings.SECRET_KEY.encode()
    return hmac.new(base, purpose, "sha256").digest()


def pi_encrypt(value: str) -> str:
    return Fernet(base64.urlsafe_b64encode(_key(b"pi-encryption"))).encrypt(value.encode()).decode()


def pi_decrypt(token: str) -> str:
    """The stored value, or "" if it cannot be read (the key changed)."""
    try:
        return Fernet(base64.urlsafe_b64encode(_key(b"pi-encryption"))).decrypt(token.encode()).decode()
    except (InvalidToken, ValueError):
        return ""


def _keyed_hash(value: str) -> str:
    return hmac.new(_key(b"pi-lookup"), value.encode(), hashlib.sha256).hexdigest()


def phone_normalise(raw: str) -> str:
    """The 11-digit number in ``raw``; raises IdentityError when it is not a mainland mobile number."""
    digits = re.sub(r"[\s\-()]", "", raw or "")
    for prefix in ("+86", "0086"):
        if digits.startswith(prefix):
            digits = digits[len(prefix) :]
    if not _MOBILE.fullmatch(digits):
        raise IdentityError(_("Enter a mainland China mobile number: 11 digits starting with 1, such as 13912345678."))
    return digits


def phone_masked(phone: str) -> str:
    return f"{phone[:3]}****{phone[-4:]}" if len(phone) >= 7 else "****"


def verification_of(user: Any) -> PhoneVerification | None:
    return PhoneVerification.objects.filter(user_id=user.pk).first()


def verification_required(user: Any) -> bool:
    """Whether ``user`` must still verify a number before generating (the public service asks for it)."""
    public = service_public()
    if public is None or not public.real_name_required:
        return False
    return not PhoneVerification.objects.filter(user_id=user.pk).exists()


def verification_required_by(public: Any, *, verified: bool) -> bool:
    """Whether an account (``verified``: it has verified a number) must verify one before generating on the
    public service ``public`` (None: no public service)."""
    return public is not None and public.real_name_required and not verified


def _code_hash(user_id: int, code: str) -> str:
    return hmac.new(_key(b"phone-code"), f"{user_id}:{code}".encode(), hashlib.sha256).hexdigest()


def _number_taken(user: Any, phone: str) -> bool:
    return PhoneVerification.objects.filter(phone_hash=_keyed_hash(phone)).exclude(user_id=user.pk).exists()


def phone_code_latest(user: Any) -> PhoneCode | None:
    return PhoneCode.objects.filter(user_id=user.pk, used_at__isnull=True).order_by("-sent_at").first()


def phone_code_send(*, user: Any, phone_raw: str, request: Any = None) -> PhoneCode:
    """Send a new one-time code to the number; raises IdentityError (too soon, number taken, not sent)."""
    phone = phone_normalise(phone_raw)
    if _number_taken(user, phone):
        raise IdentityError(_("This number already verifies another account. Each number verifies one account."))
    now = timezone.now()
    latest = PhoneCode.objects.filter(user_id=user.pk).order_by("-sent_at").first()
    if latest is not None:
        wait = latest.sent_at + timedelta(seconds=settings.PHONE_CODE_RESEND_SECONDS) - now
        if wait.total_seconds() > 0:
            raise IdentityError(
                _("A code was sent a moment ago. You can ask for a new one in %(seconds)d seconds.")
                % {"seconds": int(wait.total_seconds()) + 1}
            )
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    minutes = max(1, settings.PHONE_CODE_TTL_SECONDS // 60)
    try:
        sms_send(
            phone,
            _("Your verification code is %(code)s. It is valid for %(minutes)d minutes. Do not tell anyone.")
            % {"code": code, "minutes": minutes},
        )
    except SmsUnavailable as exc:
        message = _("The text message could not be sent just now. Please try again in a few minutes.")
        raise IdentityError(message) from exc
    with transaction.atomic():
        # An earlier unused code stops working once a new one is sent.
        PhoneCode.objects.filter(user_id=user.pk, used_at__isnull=True).update(used_at=now)
        sent = PhoneCode.objects.create(
            user=user,
            phone_encrypted=pi_encrypt(phone),
            phone_masked=phone_masked(phone),
            code_hash=_code_hash(user.pk, code),
            sent_at=now,
            expires_at=now + timedelta(seconds=settings.PHONE_CODE_TTL_SECONDS),
        )
        audit.user_event(
            event_type="user.phone_code_sent",
            actor=user,
            request=request,
            subject=user,
            payload={"phone": sent.phone_masked},
        )
    return sent


def phone_code_check(*, user: Any, code: str, request: Any = None) -> PhoneVerification:
    """Check the code the user typed against the latest one sent; on success the number verifies the account."""
    code = (code or "").strip()
    with transaction.atomic():
        sent = (
            PhoneCode.objects.select_for_update()
            .filter(user_id=user.pk, used_at__isnull=True)
            .order_by("-sent_at")
            .first()
        )
        if sent is None:
            raise IdentityError(_("Ask for a code first: enter your mobile number and send a code."))
        if sent.expires_at <= timezone.now():
            raise IdentityError(_("This code has expired. Send a new code."))
        if sent.attempts >= settings.PHONE_CODE_MAX_ATTEMPTS:
            raise IdentityError(_("Too many wrong codes. Send a new code."))
        if not hmac.compare_digest(sent.code_hash, _code_hash(user.pk, code)):
            sent.attempts += 1
            sent.save(update_fields=["attempts"])
            left = settings.PHONE_CODE_MAX_ATTEMPTS - sent.attempts
            failure = (
                _("The code is not right. %(left)d tries left.") % {"left": left}
                if left > 0
                else _("Too many wrong codes. Send a new code.")
            )
        else:
            failure = ""
    if failure:
        raise IdentityError(failure)
    phone = pi_decrypt(sent.phone_encrypted)
    if _number_taken(user, phone):
        raise IdentityError(_("This number already verifies another account. Each number verifies one account."))
    with transaction.atomic():
        PhoneCode.objects.filter(pk=sent.pk).update(used_at=timezone.now())
        verification = _verification_store(user, phone)
        audit.user_event(
            event_type="user.phone_verified",
            actor=user,
            request=request,
            subject=user,
            payload={"phone": verification.phone_masked, "method": "sms_code"},
        )
    return verification


def _verification_store(user: Any, phone: str) -> PhoneVerification:
    verification, _created = PhoneVerification.objects.update_or_create(
        user=user,
        defaults={
            "phone_encrypted": pi_encrypt(phone),
            "phone_hash": _keyed_hash(phone),
            "phone_masked": phone_masked(phone),
            "verified_at": timezone.now(),
        },
    )
    return verification


def phone_demo_verified(*, user: Any) -> PhoneVerification:
    """Demo data: the demo end user counts as verified with the demo number (no message is sent)."""
    existing = verification_of(user)
    if existing is not None:
        return existing
    with transaction.atomic():
        verification = _verification_store(user, DEMO_PHONE)
        audit.user_event(
            event_type="user.phone_verified",
            actor=None,
            actor_username="system:demo_data",
            subject=user,
            payload={"phone": verification.phone_masked, "method": "demo_data"},
        )
    return verification
