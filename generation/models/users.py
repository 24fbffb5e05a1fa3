"""End users: their preferences, terms accepted, usage and suspensions, real name, age, and closing the
account (their reports of outputs are filing complaints)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


def _one_per_user(*, related_name: str) -> models.OneToOneField[Any, Any]:
    """The key of a record a user has at most one of: the user, whose row it is deleted with."""
    return models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name=related_name,
        verbose_name=_("user"),
    )


class UserSettings(models.Model):
    """What an end user chose about the use of their data. No row means no consent was recorded."""

    user = _one_per_user(related_name="generation_settings")
    inputs_for_training = models.BooleanField(
        _("inputs may be used for training"),
        default=False,
        help_text=_("Whether the user agreed that their prompts and parameters may help improve the nets."),
    )
    labelling_obligation_version = models.CharField(
        _("labelling obligation accepted (version)"),
        max_length=50,
        blank=True,
        help_text=_("The version of the labelling obligation the user accepted; empty if never."),
    )
    labelling_obligation_accepted_at = models.DateTimeField(
        _("labelling obligation accepted at"), null=True, blank=True
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("user settings")
        verbose_name_plural = _("user settings")

    def __str__(self) -> str:
        return str(self.user)


class TermsAcceptance(models.Model):
    """A user accepted a version of the terms of service or of the privacy policy, at a time.

    ``document_id`` names the published filing document; the built-in texts (before any is published) are
    version "built-in" with no document.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="terms_acceptances", verbose_name=_("user")
    )
    kind = models.CharField(_("document"), max_length=20)
    version = models.CharField(_("version"), max_length=50)
    document_id = models.PositiveBigIntegerField(_("filing document id"), null=True, blank=True)
    accepted_at = models.DateTimeField(_("accepted at"), auto_now_add=True)

    class Meta:
        verbose_name = _("terms acceptance")
        verbose_name_plural = _("terms acceptances")
        ordering = ("-accepted_at",)

    def __str__(self) -> str:
        return f"{self.user} {self.kind} {self.version}"


class DailyUsage(models.Model):
    """What one user did on one calendar day (``TIME_ZONE``) that limits them: jobs counted against the daily
    quota and inputs refused for breaking the content rules.

    Kept apart from the jobs, so that deleting one's history gives back neither the quota nor the refusals.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="generation_usage", verbose_name=_("user")
    )
    day = models.DateField(_("day"))
    jobs = models.PositiveIntegerField(_("jobs counted against the quota"), default=0)
    refusals = models.PositiveIntegerField(_("inputs refused"), default=0)

    class Meta:
        verbose_name = _("daily usage")
        verbose_name_plural = _("daily usage")
        ordering = ("-day",)
        constraints = [
            models.UniqueConstraint(fields=("user", "day"), name="%(app_label)s_%(class)s_unique_user_day"),
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.day}"


class RefusalStreak(models.Model):
    """How many of a user's requests in a row were refused for breaking the content rules (0 after an accepted one)."""

    user = _one_per_user(related_name="generation_refusal_streak")
    in_a_row = models.PositiveIntegerField(_("refused in a row"), default=0)

    class Meta:
        verbose_name = _("refusal streak")
        verbose_name_plural = _("refusal streaks")

    def __str__(self) -> str:
        return f"{self.user}: {self.in_a_row}"


class Suspension(models.Model):
    """A user barred from generating after repeated refused inputs (Interim Measures Art 14).

    Active while ``lifted_at`` is empty; operators lift it in the admin. Both steps are audit events.
    """

    class Rule(models.TextChoices):
        CONSECUTIVE = "consecutive", _("refused inputs in a row")
        DAILY = "daily", _("refused inputs in one day")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="generation_suspensions",
        verbose_name=_("user"),
    )
    rule = models.CharField(_("rule"), max_length=16, choices=Rule.choices)
    violations = models.PositiveIntegerField(_("violations counted"))
    reason = models.TextField(_("reason"))
    created_at = models.DateTimeField(_("suspended at"), auto_now_add=True)
    lifted_at = models.DateTimeField(_("lifted at"), null=True, blank=True)
    lifted_by = models.CharField(_("lifted by"), max_length=150, blank=True)
    lift_reason = models.TextField(_("why it was lifted"), blank=True)

    class Meta:
        verbose_name = _("suspension")
        verbose_name_plural = _("suspensions")
        ordering = ("-created_at",)
        constraints = [
            models.UniqueConstraint(
                fields=("user",),
                condition=Q(lifted_at__isnull=True),
                name="%(app_label)s_%(class)s_one_active_per_user",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.get_rule_display()})"

    @property
    def is_active(self) -> bool:
        return self.lifted_at is None


class PhoneVerification(models.Model):
    """The mobile number that verified a user's real identity (deep-synthesis provisions Art 9).

    The number is personal information: it is stored encrypted (``generation.identity``), looked up by a keyed
    hash, and shown masked.
    """

    user = _one_per_user(related_name="phone_verification")
    phone_encrypted = models.TextField(_("number (encrypted)"))
    phone_hash = models.CharField(_("number (keyed hash)"), max_length=64, unique=True)
    phone_masked = models.CharField(_("number"), max_length=20)
    verified_at = models.DateTimeField(_("verified at"))

    class Meta:
        verbose_name = _("verified phone number")
        verbose_name_plural = _("verified phone numbers")

    def __str__(self) -> str:
        return f"{self.user} {self.phone_masked}"


class PhoneCode(models.Model):
    """A one-time code sent to a number. Only a keyed hash of the code is kept; it expires and allows a few tries."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="phone_codes", verbose_name=_("user")
    )
    phone_encrypted = models.TextField(_("number (encrypted)"))
    phone_masked = models.CharField(_("number"), max_length=20)
    code_hash = models.CharField(_("code (keyed hash)"), max_length=64)
    sent_at = models.DateTimeField(_("sent at"))
    expires_at = models.DateTimeField(_("expires at"))
    attempts = models.PositiveSmallIntegerField(_("wrong tries"), default=0)
    used_at = models.DateTimeField(_("used at"), null=True, blank=True)

    class Meta:
        verbose_name = _("phone code")
        verbose_name_plural = _("phone codes")
        ordering = ("-sent_at",)
        indexes = [models.Index(fields=("user", "-sent_at"), name="generation_phonecode_user_sent")]

    def __str__(self) -> str:
        return f"{self.user} {self.phone_masked} {self.sent_at:%Y-%m-%d %H:%M}"


class AgeDeclaration(models.Model):
    """The date of birth a user gave at sign-up, and, for a minor, the guardian's consent.

    Minor mode follows from the date of birth (``generation.minors``); it lifts by itself on the 18th birthday.
    """

    user = _one_per_user(related_name="age_declaration")
    date_of_birth = models.DateField(_("date of birth"))
    guardian_name = models.CharField(_("guardian's name"), max_length=100, blank=True)
    guardian_contact_encrypted = models.TextField(_("guardian's phone (encrypted)"), blank=True)
    guardian_contact_masked = models.CharField(_("guardian's phone"), max_length=20, blank=True)
    guardian_consented_at = models.DateTimeField(_("guardian consented at"), null=True, blank=True)

    class Meta:
        verbose_name = _("age declaration")
        verbose_name_plural = _("age declarations")

    def __str__(self) -> str:
        return str(self.user)


class AccountClosure(models.Model):
    """A user's request to close their account (PIPL Art 47). Pending until ``effective_at``, when the periodic
    task deletes or anonymises their personal data; signing in before then cancels it."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="account_closures", verbose_name=_("user")
    )
    requested_at = models.DateTimeField(_("requested at"))
    effective_at = models.DateTimeField(_("closes at"))
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    completed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("account closure")
        verbose_name_plural = _("account closures")
        ordering = ("-requested_at",)
        constraints = [
            models.UniqueConstraint(
                fields=("user",),
                condition=Q(cancelled_at__isnull=True, completed_at__isnull=True),
                name="%(app_label)s_%(class)s_one_pending_per_user",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.effective_at:%Y-%m-%d}"

    @property
    def pending(self) -> bool:
        return self.cancelled_at is None and self.completed_at is None
